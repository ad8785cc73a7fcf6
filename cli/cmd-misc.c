/* spindle ping, info and bootstrap-size. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct probe {
	struct master	*m;
	size_t		 nhops;
	size_t		 hop;
	long		 count;
	long		 done;
	size_t		 size;
	uint64_t	*rtts;
	uint64_t	 t0;
	int		 code;
	int		 quiet;
};

static void
probe_stop(struct probe *p, int code, const char *err)
{
	if (err != NULL)
		fprintf(stderr, "spindle: %s\n", err);
	p->code = code;
	/* Not loopbreak: this may come before the loop runs. */
	event_base_loopexit(master_base(p->m), NULL);
}

static int
probe_dead(struct probe *p, const struct rt_msg *msg)
{
	char *text;

	if (msg->h.kind != SPN_K_DEAD)
		return 0;
	text = call_dead_text(msg);
	probe_stop(p, 255, text);
	free(text);
	return 1;
}

static int
u64cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void	ping_send(struct probe *);

static int
ping_reply(struct rt *rt, const struct rt_msg *msg, void *arg)
{
	struct probe *p = arg;

	(void)rt;
	if (probe_dead(p, msg))
		return 0;
	p->rtts[p->done++] = now_usec() - p->t0;
	if (p->done < p->count) {
		ping_send(p);
		return 0;
	}
	qsort(p->rtts, p->count, sizeof *p->rtts, u64cmp);
	printf("%s: %ld pings of %zu bytes: min %.1f us, median %.1f us, "
	    "max %.1f us\n", master_label(p->m, p->nhops - 1), p->count,
	    p->size, p->rtts[0] / 1.0, p->rtts[p->count / 2] / 1.0,
	    p->rtts[p->count - 1] / 1.0);
	probe_stop(p, 0, NULL);
	return 0;
}

static void
ping_send(struct probe *p)
{
	struct pk pk;

	pk_init(&pk);
	if (p->size > 0) {
		pk.buf = xcalloc(1, p->size);
		pk.len = pk.cap = p->size;
	}
	p->t0 = now_usec();
	call_start(master_rt(p->m), master_ctx(p->m, p->nhops - 1),
	    SPN_H_PING, &pk, ping_reply, p);
	pk_free(&pk);
}

static void
ping_up(struct master *m, const char *err, void *arg)
{
	struct probe *p = arg;

	(void)m;
	if (err != NULL)
		probe_stop(p, 255, err);
	else
		ping_send(p);
}

static int
probe_run(struct probe *p, const char *text, struct master_opts *mo,
    master_up_fn *up)
{
	struct route_conf rc;
	char why[512];
	int rv;

	rv = resolve_local(text, mo, &rc, why, sizeof why);
	password_free(mo->password);
	if (rv != 0) {
		fprintf(stderr, "spindle: %s\n", why);
		return rv;
	}
	p->nhops = rc.route.nhops;
	p->m = master_new(&rc.mo);
	master_connect(p->m, &rc.route, up, p);
	event_base_dispatch(master_base(p->m));
	master_teardown(p->m);
	resolve_free(&rc);
	return p->code;
}

static const struct option probe_longopts[] = {
	MASTER_LONGOPTS,
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static const char ping_usage[] =
    "usage: spindle ping [-c COUNT] [-s SIZE] [--timings] [--timeout SECS]\n"
    "                    [--ask-pass | --password-file FILE | "
    "--password-fd N] ROUTE\n";
static const char info_usage[] =
    "usage: spindle info [--timings] [--timeout SECS]\n"
    "                    [--ask-pass | --password-file FILE | "
    "--password-fd N] ROUTE\n";

int
cmd_ping(int argc, char **argv)
{
	struct master_opts mo = MASTER_OPTS_UNSET;
	struct probe p = { .count = 10 };
	char *end;
	long v;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+c:s:h", probe_longopts,
	    NULL)) != -1) {
		if (ch == 'h') {
			fputs(ping_usage, stdout);
			return 0;
		}
		if (ch == 'c' || ch == 's') {
			v = strtol(optarg, &end, 10);
			if (*end != '\0' || v < (ch == 'c') ||
			    v > (ch == 'c' ? 10000000 : 512 * 1024))
				usage_error("bad -%c value '%s'", ch, optarg);
			if (ch == 'c')
				p.count = v;
			else
				p.size = v;
		} else if (cli_parse_master_opt(ch, optarg, &mo) != 0)
			usage_error("%s", ping_usage);
	}
	if (argc - optind != 1)
		usage_error("%s", ping_usage);
	p.rtts = xcalloc(p.count, sizeof *p.rtts);
	rc = probe_run(&p, argv[optind], &mo, ping_up);
	free(p.rtts);
	return rc;
}

static void	info_send(struct probe *);

static int
info_reply(struct rt *rt, const struct rt_msg *msg, void *arg)
{
	struct probe *p = arg;
	struct upk u;
	uint32_t pid, uid, ppid;
	char *user, *host, *arch, *kernel, *name;

	(void)rt;
	if (probe_dead(p, msg))
		return 0;
	upk_init(&u, msg->data, msg->h.len);
	pid = upk_u32(&u);
	uid = upk_u32(&u);
	user = upk_str(&u);
	host = upk_str(&u);
	arch = upk_str(&u);
	kernel = upk_str(&u);
	name = upk_str(&u);
	ppid = upk_u32(&u);
	if (!u.err)
		printf("%s: pid %u ppid %u uid %u user %s host %s arch %s "
		    "kernel %s\n", master_label(p->m, p->hop), pid, ppid, uid,
		    user, host, arch, kernel);
	free(user);
	free(host);
	free(arch);
	free(kernel);
	free(name);
	if (++p->hop < p->nhops)
		info_send(p);
	else
		probe_stop(p, 0, NULL);
	return 0;
}

static void
info_send(struct probe *p)
{
	call_start(master_rt(p->m), master_ctx(p->m, p->hop), SPN_H_INFO,
	    NULL, info_reply, p);
}

static void
info_up(struct master *m, const char *err, void *arg)
{
	struct probe *p = arg;

	(void)m;
	if (err != NULL)
		probe_stop(p, 255, err);
	else
		info_send(p);
}

int
cmd_info(int argc, char **argv)
{
	struct master_opts mo = MASTER_OPTS_UNSET;
	struct probe p = { .count = 0 };
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+h", probe_longopts,
	    NULL)) != -1) {
		if (ch == 'h') {
			fputs(info_usage, stdout);
			return 0;
		}
		if (cli_parse_master_opt(ch, optarg, &mo) != 0)
			usage_error("%s", info_usage);
	}
	if (argc - optind != 1)
		usage_error("%s", info_usage);
	return probe_run(&p, argv[optind], &mo, info_up);
}

int
cmd_bootstrap_size(int argc, char **argv)
{
	const uint8_t *img;
	size_t gz, raw;
	char *line;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		puts("usage: spindle bootstrap-size");
		return 0;
	}
	if (argc != 1)
		usage_error("usage: spindle bootstrap-size");
	if (boot_image(0, &img, &raw) != 0 || boot_image(1, &img, &gz) != 0)
		fatal("cannot read the embedded agent image");
	line = boot_stage0(gz, 1, "spindle:user@host:12345");
	printf("remote command  %6zu bytes  %s\n", strlen(boot_remote_cmd()),
	    boot_remote_cmd());
	printf("stage 0         %6zu bytes\n", strlen(line));
	printf("agent image     %6zu bytes gzip'd (%zu bytes, %s, static)\n",
	    gz, raw, boot_arch());
	printf("total           %6zu bytes sent before the first frame\n",
	    strlen(line) + gz);
	free(line);
	return 0;
}
