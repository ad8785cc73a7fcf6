/*
 * uptime-fleet: load and uptime of many hosts at once, busiest first.
 *
 *	spindle-cc -o uptime-fleet uptime-fleet.c
 *	./uptime-fleet [-w window] [-P password-file] web1 admin@bastion+db
 *
 * spn_connect_many brings the routes up, at most window at a time;
 * spn_call_many runs uptime() in each copy of this program and gathers
 * the answers.  A host that fails (to connect, or in the call) is listed
 * after the table with its error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <spindle.h>

/* In each context: /proc/loadavg's first figure, /proc/uptime's. */
static int
uptime(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	double load, up;
	FILE *f;

	(void)args;
	if ((f = fopen("/proc/loadavg", "r")) == NULL ||
	    fscanf(f, "%lf", &load) != 1)
		return spn_fail(call, 0, "cannot read /proc/loadavg");
	fclose(f);
	if ((f = fopen("/proc/uptime", "r")) == NULL ||
	    fscanf(f, "%lf", &up) != 1)
		return spn_fail(call, 0, "cannot read /proc/uptime");
	fclose(f);
	return spn_vbuf_put(res, "dd", load, up);
}
SPN_EXPORT(uptime, "->d,d");

struct row {
	const char	*route;
	double		 load;
	double		 up;
};

static int
by_load(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return (x->load < y->load) - (x->load > y->load);
}

static int
run(struct spn *spn, int argc, char **argv)
{
	struct spn_ctx **ctxs, **up;
	struct spn_error *errs;
	struct spn_result *out;
	struct row *rows;
	struct spn_connect_opts o = { 0 };
	unsigned window = 0;
	char why[1024];
	size_t n, nup = 0, nrows = 0, i;
	int c, failed;

	while ((c = getopt(argc, argv, "w:P:")) != -1) {
		if (c == 'w')
			window = (unsigned)atoi(optarg);
		else if (c == 'P')
			o.password_file = optarg;
		else {
			fprintf(stderr, "usage: uptime-fleet [-w window] "
			    "[-P password-file] ROUTE...\n");
			return 2;
		}
	}
	n = (size_t)(argc - optind);
	ctxs = calloc(n + 1, sizeof *ctxs);
	up = calloc(n + 1, sizeof *up);
	errs = calloc(n + 1, sizeof *errs);
	out = calloc(n + 1, sizeof *out);
	rows = calloc(n + 1, sizeof *rows);
	failed = spn_connect_many(spn, (const char *const *)argv + optind, n,
	    window, &o, ctxs, errs);
	if (failed < 0) {
		fprintf(stderr, "uptime-fleet: %s\n", spn_strerror(-failed));
		return 1;
	}
	/* Call only those up; out[k] answers for up[k]. */
	for (i = 0; i < n; i++)
		if (ctxs[i] != NULL)
			up[nup++] = ctxs[i];
	failed += spn_call_many(up, nup, "uptime", 30000, 0, out, "");
	for (i = 0; i < nup; i++) {
		if (out[i].code != SPN_OK)
			continue;
		rows[nrows].route = spn_ctx_name(up[i]);
		rows[nrows].load = spn_arg_double(spn_msg_value(out[i].msg), 0);
		rows[nrows++].up = spn_arg_double(spn_msg_value(out[i].msg), 1);
	}
	qsort(rows, nrows, sizeof *rows, by_load);
	printf("%-32s %6s %10s\n", "HOST", "LOAD", "UP (days)");
	for (i = 0; i < nrows; i++)
		printf("%-32s %6.2f %10.2f\n", rows[i].route, rows[i].load,
		    rows[i].up / 86400);
	for (i = 0; i < n; i++) {
		spn_error_format(&errs[i], why, sizeof why);
		if (ctxs[i] == NULL)
			printf("FAILED %s: %s\n", argv[optind + i], why);
	}
	for (i = 0; i < nup; i++) {
		spn_error_format(&out[i].err, why, sizeof why);
		if (out[i].code != SPN_OK)
			printf("FAILED %s: %s\n", spn_ctx_name(up[i]), why);
		spn_msg_free(out[i].msg);
		spn_ctx_unref(up[i]);
	}
	return failed > 0;
}
SPN_MAIN(run);
