/*
 * libspindle part 2's side of bench/part2.sh (Mitogen's is
 * bench/mitogen_part2.py).  Built with spindle-cc: its own image is what
 * each context runs.
 *
 * usage: bench-part2 [--quick] [ROW...]	(no ROW: all of them)
 *   gather	100 local contexts (20 --quick); a round is one call on
 *		each, every answer waited for in turn; 100 rounds (20).
 *		gather_per_s, and the context switches per call: "waits"
 *		(a thread slept: the hand-offs) and "forced" (preempted:
 *		the machine's load), in the master and in the contexts.
 * stdout: one "key value unit" line per figure, as bench-lib prints.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

static int	quick;

static int
nothing(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	(void)call;
	(void)args;
	return spn_vbuf_put(res, "i", (int64_t)getpid());
}
SPN_EXPORT(nothing, "->i");

/* Context switches of every thread of this process so far: voluntary
 * (a thread waits: the hand-offs of a call) or, with invol, those the
 * scheduler forced (the machine's load). */
static int64_t
cswitches(int invol)
{
	char path[300], line[128];
	int64_t n = 0;
	struct dirent *de;
	DIR *d;
	FILE *f;

	if ((d = opendir("/proc/self/task")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof path, "/proc/self/task/%s/status",
		    de->d_name);
		if (*de->d_name == '.' || (f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof line, f) != NULL)
			if (strncmp(line, invol ? "nonvoluntary_ctxt" :
			    "voluntary_ctxt", invol ? 17 : 14) == 0)
				n += atoll(strchr(line, ':') + 1);
		fclose(f);
	}
	closedir(d);
	return n;
}

static int
switches(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	(void)call;
	(void)args;
	return spn_vbuf_put(res, "ii", cswitches(0), cswitches(1));
}
SPN_EXPORT(switches, "->ii");

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
die(const char *what, const struct spn_error *err)
{
	fprintf(stderr, "bench-part2: %s: ", what);
	spn_error_print(err);
	exit(1);
}

static struct spn_ctx *
connect_or_die(struct spn *spn, const char *route)
{
	struct spn_ctx *ctx;
	struct spn_error err;

	if (spn_connect(spn, route, NULL, &ctx, &err) != SPN_OK)
		die(route, &err);
	return ctx;
}

static void
call_or_die(struct spn_ctx *ctx, const char *fn)
{
	struct spn_error err;

	if (spn_call(ctx, fn, 30000, NULL, &err, "") != SPN_OK)
		die(fn, &err);
}

/* The contexts of the gather rows, connected once. */
static struct spn_ctx	*fleet[100];
static int		 nfleet;

static void
fleet_up(struct spn *spn)
{
	if (nfleet != 0)
		return;
	nfleet = quick ? 20 : 100;
	for (int i = 0; i < nfleet; i++) {
		fleet[i] = connect_or_die(spn, "local");
		call_or_die(fleet[i], "nothing");
	}
}

/* The fleet's context switches so far, voluntary or not. */
static int64_t
fleet_switches(int invol)
{
	struct spn_msg *m;
	struct spn_error err;
	int64_t n = 0;

	for (int i = 0; i < nfleet; i++) {
		if (spn_call(fleet[i], "switches", 30000, &m, &err, "") !=
		    SPN_OK)
			die("switches", &err);
		n += spn_arg_int(spn_msg_value(m), invol);
		spn_msg_free(m);
	}
	return n;
}

/* Rounds of one call per context, each answer waited for in turn. */
static void
gather(struct spn *spn)
{
	struct spn_recv *r[100];
	struct spn_msg *m;
	struct spn_error err;
	int rounds = quick ? 20 : 100;
	double n;
	int64_t cs0, cs1, fcs0, fcs1;
	double t0;

	fleet_up(spn);
	fcs0 = fleet_switches(0);
	fcs1 = fleet_switches(1);
	cs0 = cswitches(0);
	cs1 = cswitches(1);
	t0 = now_us();
	for (int round = 0; round < rounds; round++) {
		for (int i = 0; i < nfleet; i++)
			if (spn_call_async(fleet[i], "nothing", &r[i], &err,
			    "") != SPN_OK)
				die("spn_call_async", &err);
		for (int i = 0; i < nfleet; i++) {
			if (spn_recv_get(r[i], 30000, &m, &err) != SPN_OK)
				die("spn_recv_get", &err);
			spn_msg_free(m);
			spn_recv_close(r[i]);
		}
	}
	t0 = now_us() - t0;
	cs0 = cswitches(0) - cs0;
	cs1 = cswitches(1) - cs1;
	printf("gather_per_s %.0f calls/s\n",
	    (double)nfleet * rounds / (t0 / 1e6));
	/* Per call; the fleet's counts take in two calls of their own per
	 * context, a 1/ROUNDS of a switch. */
	n = nfleet * rounds;
	printf("gather_cs_master %.2f waits/call\n", (double)cs0 / n);
	printf("gather_cs_master_forced %.2f switches/call\n",
	    (double)cs1 / n);
	fcs0 = fleet_switches(0) - fcs0;
	printf("gather_cs_context %.2f waits/call\n", (double)fcs0 / n);
	printf("gather_cs_context_forced %.2f switches/call\n",
	    (double)(fleet_switches(1) - fcs1) / n);
}

static const struct {
	const char	*name;
	void		(*fn)(struct spn *);
} rows[] = {
	{ "gather", gather },
};

int
main(int argc, char **argv)
{
	struct spn *spn;
	size_t j;
	int all = 1;

	if (spn_init(&argc, &argv, NULL, &spn) != SPN_OK)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = 1;
			continue;
		}
		all = 0;
		for (j = 0; j < sizeof rows / sizeof rows[0]; j++)
			if (strcmp(argv[i], rows[j].name) == 0)
				break;
		if (j == sizeof rows / sizeof rows[0]) {
			fprintf(stderr, "bench-part2: no row %s\n", argv[i]);
			return 2;
		}
		rows[j].fn(spn);
		fflush(stdout);
	}
	for (j = 0; all && j < sizeof rows / sizeof rows[0]; j++) {
		rows[j].fn(spn);
		fflush(stdout);
	}
	spn_shutdown(spn);
	return 0;
}
