/*
 * spindle ping, info and bootstrap-size.  ping and info go through the
 * daemon as run does (on the route it holds, a name of its own
 * included), else connect the route themselves.
 */
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
	a.m = sig_master_new(&rc.mo);
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

	if ((fd = client_for_route(route, 1, cli_verbose)) < 0)
		return fd == -1 ? -1 : 255;
	ctl_spec_init(&s, route, mo);
	pk_init(&pk);
	ctl_spec_pack(&pk, &s);
	if (!req->info) {
		pk_u32(&pk, req->count);
		pk_u32(&pk, req->size);
	}
	dlog_mark(&mk, cli_verbose);
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
	int rc = password_ask_route(route, mo);

	if (rc != 0)
		return rc;
	rc = -1;
	if (use_daemon && !mo->timings)
		rc = probe_daemon(route, mo, req);
	if (rc < 0)
		rc = probe_alone(route, mo, req);
	password_opts_free(mo);
	return rc;
}

static const struct cmd_opt ping_opts[] = {
	{ 'c', NULL, "COUNT", "this many round trips [10]" },
	{ 's', NULL, "SIZE", "of SIZE bytes of payload each [0]" },
	CMD_OPT_NO_DAEMON,
	CMD_OPT_TIMINGS,
	CMD_OPTS_ROUTE,
	{ 0, NULL, NULL, NULL }
};

static int	cmd_ping_exec(struct cmd_args *);

const struct cmd_entry cmd_ping_entry = {
	.name = "ping",
	.usage = "[-c COUNT] [-s SIZE] [--no-daemon] [--timings] "
	    CMD_USAGE_ROUTE "ROUTE",
	.summary = "measure round trips to the end of a route",
	.opts = ping_opts,
	.words = "ROUTE",
	.lower = 1,
	.upper = 1,
	.exec = cmd_ping_exec
};

static int
cmd_ping_exec(struct cmd_args *a)
{
	struct master_opts mo = MASTER_OPTS_UNSET;
	struct probe_req req = { .count = 10 };
	const char *arg;
	char *end;
	long v;
	int ch, use_daemon = 1;

	for (size_t i = 0; i < a->nopts; i++) {
		arg = a->opts[i].arg;
		if ((ch = a->opts[i].ch) == OPT_NO_DAEMON)
			use_daemon = 0;
		else if (ch == 'c' || ch == 's') {
			v = strtol(arg, &end, 10);
			if (*end != '\0' || v < (ch == 'c') ||
			    v > (ch == 'c' ? PROBE_COUNT_MAX : PROBE_SIZE_MAX))
				usage_error("bad -%c value '%s'", ch, arg);
			if (ch == 'c')
				req.count = v;
			else
				req.size = v;
		} else
			cli_parse_master_opt(ch, arg, &mo);
	}
	return probe_run(a->pos[0], &mo, &req, use_daemon);
}

static const struct cmd_opt info_opts[] = {
	CMD_OPT_NO_DAEMON,
	CMD_OPT_TIMINGS,
	CMD_OPTS_ROUTE,
	{ 0, NULL, NULL, NULL }
};

static int	cmd_info_exec(struct cmd_args *);

const struct cmd_entry cmd_info_entry = {
	.name = "info",
	.usage = "[--no-daemon] [--timings] " CMD_USAGE_ROUTE "ROUTE",
	.summary = "show pid, user, host and kernel of every hop",
	.opts = info_opts,
	.words = "ROUTE",
	.lower = 1,
	.upper = 1,
	.exec = cmd_info_exec
};

static int
cmd_info_exec(struct cmd_args *a)
{
	struct master_opts mo = MASTER_OPTS_UNSET;
	struct probe_req req = { .info = 1 };
	int use_daemon = 1;

	for (size_t i = 0; i < a->nopts; i++) {
		if (a->opts[i].ch == OPT_NO_DAEMON)
			use_daemon = 0;
		else
			cli_parse_master_opt(a->opts[i].ch, a->opts[i].arg,
			    &mo);
	}
	return probe_run(a->pos[0], &mo, &req, use_daemon);
}

static int	cmd_bootstrap_size_exec(struct cmd_args *);

const struct cmd_entry cmd_bootstrap_size_entry = {
	.name = "bootstrap-size",
	.usage = "",
	.summary = "print the bytes sent to start an agent",
	.exec = cmd_bootstrap_size_exec
};

static int
cmd_bootstrap_size_exec(struct cmd_args *a)
{
	const uint8_t *img;
	size_t gz, raw;
	char *line;

	(void)a;
	if (boot_image(0, &img, &raw) != 0 || boot_image(1, &img, &gz) != 0) {
		log_error("cannot read the embedded agent image");
		exit(255);
	}
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
