/*
 * spindle ping, info and bootstrap-size.  ping and info go through the
 * daemon as run does (on the route it holds, a name of its own
 * included), else connect the route themselves.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ping and info without the daemon: connect, ask, tear down. */
struct alone {
	struct master		*m;
	const struct probe_req	*req;
	int			 code;
};

static void
alone_done(const char *text, const char *err, void *arg)
{
	struct alone *a = arg;

	if (text != NULL)
		fputs(text, stdout);
	if (err != NULL)
		fprintf(stderr, "spindle: %s\n", err);
	a->code = err != NULL ? 255 : 0;
	event_base_loopexit(master_base(a->m), NULL);
}

static void
alone_up(struct master *m, const char *err, void *arg)
{
	if (err != NULL)
		alone_done(NULL, err, arg);
	else
		probe_start(master_rt(m), master_chain(m),
		    ((struct alone *)arg)->req, alone_done, arg);
}

static int
probe_alone(const char *route, const struct master_opts *mo,
    const struct probe_req *req)
{
	struct alone a = { .req = req, .code = 255 };
	struct route_conf rc;
	char why[512];
	int rv;

	if ((rv = resolve_local(route, mo, &rc, why, sizeof why)) != 0) {
		fprintf(stderr, "spindle: %s\n", why);
		return rv;
	}
	a.m = master_new(&rc.mo);
	master_connect(a.m, &rc.route, alone_up, &a);
	event_base_dispatch(master_base(a.m));
	master_teardown(a.m);
	resolve_free(&rc);
	return a.code;
}

/* Through the daemon, as run goes: on the route it holds.  -1: alone. */
static int
probe_daemon(const char *route, const struct master_opts *mo,
    const struct probe_req *req)
{
	struct dlog_mark mk;
	struct ctl_spec s;
	struct pk pk;
	char *text;
	int fd, rc;

	if ((fd = client_for_route(route, 1)) < 0)
		return fd == -1 ? -1 : 255;
	ctl_spec_init(&s, route, mo);
	pk_init(&pk);
	ctl_spec_pack(&pk, &s);
	if (!req->info) {
		pk_u32(&pk, req->count);
		pk_u32(&pk, req->size);
	}
	dlog_mark(&mk);
	rc = client_call(fd, req->info ? SPN_CTL_INFO : SPN_CTL_PING, &pk,
	    &text);
	dlog_replay(&mk, route, NULL);
	pk_free(&pk);
	close(fd);
	if (rc == 0 && text != NULL)
		fputs(text, stdout);
	else if (rc != 0)
		fprintf(stderr, "spindle: %s\n", text != NULL ? text :
		    "failed");
	free(text);
	return rc;
}

static int
probe_run(const char *route, struct master_opts *mo,
    const struct probe_req *req, int use_daemon)
{
	int rc = -1;

	if (use_daemon && !mo->timings)
		rc = probe_daemon(route, mo, req);
	if (rc < 0)
		rc = probe_alone(route, mo, req);
	password_free(mo->password);
	return rc;
}

static const struct option probe_longopts[] = {
	MASTER_LONGOPTS,
	{ "no-daemon", no_argument, NULL, 'D' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static const char ping_usage[] =
    "usage: spindle ping [-c COUNT] [-s SIZE] [--no-daemon] [--timings]\n"
    "                    [--timeout SECS] [--ask-pass | --password-file FILE "
    "|\n"
    "                    --password-fd N] ROUTE\n";
static const char info_usage[] =
    "usage: spindle info [--no-daemon] [--timings] [--timeout SECS]\n"
    "                    [--ask-pass | --password-file FILE | "
    "--password-fd N] ROUTE\n";

int
cmd_ping(int argc, char **argv)
{
	struct master_opts mo = MASTER_OPTS_UNSET;
	struct probe_req req = { .count = 10 };
	char *end;
	long v;
	int ch, use_daemon = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+c:s:h", probe_longopts,
	    NULL)) != -1) {
		if (ch == 'h') {
			fputs(ping_usage, stdout);
			return 0;
		}
		if (ch == 'D')
			use_daemon = 0;
		else if (ch == 'c' || ch == 's') {
			v = strtol(optarg, &end, 10);
			if (*end != '\0' || v < (ch == 'c') ||
			    v > (ch == 'c' ? PROBE_COUNT_MAX : PROBE_SIZE_MAX))
				usage_error("bad -%c value '%s'", ch, optarg);
			if (ch == 'c')
				req.count = v;
			else
				req.size = v;
		} else if (cli_parse_master_opt(ch, optarg, &mo) != 0)
			usage_error("%s", ping_usage);
	}
	if (argc - optind != 1)
		usage_error("%s", ping_usage);
	return probe_run(argv[optind], &mo, &req, use_daemon);
}

int
cmd_info(int argc, char **argv)
{
	struct master_opts mo = MASTER_OPTS_UNSET;
	struct probe_req req = { .info = 1 };
	int ch, use_daemon = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+h", probe_longopts,
	    NULL)) != -1) {
		if (ch == 'h') {
			fputs(info_usage, stdout);
			return 0;
		}
		if (ch == 'D')
			use_daemon = 0;
		else if (cli_parse_master_opt(ch, optarg, &mo) != 0)
			usage_error("%s", info_usage);
	}
	if (argc - optind != 1)
		usage_error("%s", info_usage);
	return probe_run(argv[optind], &mo, &req, use_daemon);
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
