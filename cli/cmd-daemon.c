/*
 * The daemon's commands: daemon start|stop|status|log, up, down, ls, check;
 * and the shim's: fakessh-bin, exec.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* --help or -h as the only argument: the usage, on stdout. */
static int
cmd_help(int argc, char **argv, const char *usage)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		fputs(usage, stdout);
		return 1;
	}
	return 0;
}

/* Connect (starting the daemon if asked) or say why not. */
static int
cmd_connect(int start)
{
	char why[512];
	int fd;

	if ((fd = client_connect(start, 1, why, sizeof why)) < 0)
		fprintf(stderr, "spindle: %s\n", why);
	return fd;
}

/* One request, its text printed; the exit status is the daemon's. */
static int
cmd_simple(int start, uint32_t type, struct pk *body, int print)
{
	char *text;
	int fd, rc;

	if ((fd = cmd_connect(start)) < 0)
		return start || fd == CTL_DIR_UNUSABLE ? 255 : 1;
	rc = client_call(fd, type, body, &text);
	close(fd);
	if (text != NULL && *text != '\0')
		fprintf(rc == 0 ? stdout : stderr, "%s%s%s",
		    rc == 0 ? "" : "spindle: ", text,
		    print && text[strlen(text) - 1] == '\n' ? "" : "\n");
	free(text);
	return rc;
}

static const char daemon_usage[] =
    "usage: spindle daemon start | stop | status | log [-f]\n";

int
cmd_daemon(int argc, char **argv)
{
	int fd;

	if (argc == 4 && strcmp(argv[1], "serve") == 0 &&
	    strcmp(argv[2], "--ready-fd") == 0)
		return daemon_serve(atoi(argv[3]));
	if (argc == 2 && strcmp(argv[1], "serve") == 0)
		return daemon_serve(-1);
	if (argc >= 2 && argc <= 3 && strcmp(argv[1], "log") == 0) {
		if (argc == 3 && strcmp(argv[2], "-f") != 0)
			usage_error("%s", daemon_usage);
		return dlog_print(argc == 3);
	}
	if (argc != 2)
		usage_error("%s", daemon_usage);
	if (strcmp(argv[1], "start") == 0) {
		if ((fd = cmd_connect(1)) < 0)
			return 255;
		close(fd);
		return cmd_simple(0, SPN_CTL_STATUS, NULL, 0);
	}
	if (strcmp(argv[1], "status") == 0)
		return cmd_simple(0, SPN_CTL_STATUS, NULL, 0);
	if (strcmp(argv[1], "stop") == 0)
		return daemon_stop_wait();
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(daemon_usage, stdout);
		return 0;
	}
	usage_error("%s", daemon_usage);
}

/* Stop it and wait until it has let go of its socket and routes. */
int
daemon_stop_wait(void)
{
	char why[512], *text;
	int fd, rc;

	if ((fd = client_connect(0, 0, why, sizeof why)) ==
	    CTL_DIR_UNUSABLE) {
		fprintf(stderr, "spindle: %s\n", why);
		return 255;
	}
	if (fd < 0) {
		printf("no daemon running\n");
		return 0;
	}
	rc = client_call(fd, SPN_CTL_STOP, NULL, &text);
	free(text);
	if (rc == 0) {
		/* The daemon closes the socket as it exits. */
		char c;

		while (read(fd, &c, 1) > 0)
			;
	}
	close(fd);
	return rc;
}

static const char up_usage[] =
    "usage: spindle up [--timeout SECS] [--keepalive SECS] [--persist SECS|no]"
    "\n                  [--ask-pass | --password-file FILE | --password-fd N]"
    "\n                  NAME ROUTE\n";

#define OPT_PERSIST	512

static const struct option up_longopts[] = {
	MASTER_LONGOPTS,
	{ "persist", required_argument, NULL, OPT_PERSIST },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

int
cmd_up(int argc, char **argv)
{
	struct master_opts mo = MASTER_OPTS_UNSET;
	struct dlog_mark mk;
	struct ctl_spec s;
	struct pk pk;
	int ch, rc, persist = PERSIST_NEVER;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+h", up_longopts, NULL)) != -1) {
		if (ch == 'h') {
			fputs(up_usage, stdout);
			return 0;
		}
		if (ch == OPT_PERSIST && routes_persist(optarg, &persist) != 0)
			usage_error("bad persist '%s' (want seconds or 'no')",
			    optarg);
		else if (ch != OPT_PERSIST &&
		    cli_parse_master_opt(ch, optarg, &mo) != 0)
			usage_error("%s", up_usage);
	}
	if (argc - optind != 2)
		usage_error("%s", up_usage);
	ctl_spec_init(&s, argv[optind + 1], &mo);
	pk_init(&pk);
	pk_str(&pk, argv[optind]);
	ctl_spec_pack(&pk, &s);
	pk_u32(&pk, (uint32_t)persist);
	dlog_mark(&mk);
	rc = cmd_simple(1, SPN_CTL_UP, &pk, 0);
	dlog_replay(&mk, argv[optind], NULL);
	pk_free(&pk);
	password_free(mo.password);
	return rc;
}

int
cmd_down(int argc, char **argv)
{
	struct pk pk;
	int rc;

	static const char usage[] = "usage: spindle down NAME\n";

	if (cmd_help(argc, argv, usage))
		return 0;
	if (argc != 2 || *argv[1] == '-')
		usage_error("%s", usage);
	pk_init(&pk);
	pk_str(&pk, argv[1]);
	rc = cmd_simple(0, SPN_CTL_DOWN, &pk, 0);
	pk_free(&pk);
	return rc;
}

int
cmd_ls(int argc, char **argv)
{
	struct pk pk;
	int json = argc == 2 && strcmp(argv[1], "--json") == 0, rc;

	static const char usage[] = "usage: spindle ls [--json]\n";

	if (cmd_help(argc, argv, usage))
		return 0;
	if (argc > 2 || (argc == 2 && !json))
		usage_error("%s", usage);
	pk_init(&pk);
	pk_u32(&pk, json);
	/* No daemon: the routes file's routes, all down. */
	rc = cmd_simple(1, SPN_CTL_LS, &pk, 1);
	pk_free(&pk);
	return rc;
}

int
cmd_check(int argc, char **argv)
{
	struct dlog_mark mk;
	struct ctl_spec s;
	struct pk pk;
	char *text;
	int fd, rc;

	static const char usage[] = "usage: spindle check NAME|ROUTE\n";

	if (cmd_help(argc, argv, usage))
		return 0;
	if (argc != 2 || *argv[1] == '-')
		usage_error("%s", usage);
	ctl_spec_init(&s, argv[1], NULL);
	if ((fd = cmd_connect(1)) < 0)
		return 255;
	pk_init(&pk);
	ctl_spec_pack(&pk, &s);
	dlog_mark(&mk);
	rc = client_call(fd, SPN_CTL_CHECK, &pk, &text);
	dlog_replay(&mk, argv[1], NULL);
	pk_free(&pk);
	close(fd);
	if (rc == 0)
		printf("%s: up, round trip %.3f ms\n", argv[1],
		    strtoull(text, NULL, 10) / 1000.0);
	else
		fprintf(stderr, "spindle: %s: %s\n", argv[1],
		    text != NULL ? text : "failed");
	free(text);
	return rc;
}

int
cmd_fakessh_bin(int argc, char **argv)
{
	char why[512], *dir;

	static const char usage[] = "usage: spindle fakessh-bin\n"
	    "as in: d=$(spindle fakessh-bin) && PATH=$d:$PATH\n";

	if (cmd_help(argc, argv, usage))
		return 0;
	if (argc != 1)
		usage_error("%s", usage);
	if ((dir = fakessh_dir(why, sizeof why)) == NULL) {
		fprintf(stderr, "spindle: %s\n", why);
		return 255;
	}
	printf("%s\n", dir);
	free(dir);
	return 0;
}

static const char exec_usage[] =
    "usage: spindle exec [-r ROUTE] [--] COMMAND [ARG...]\n";

int
cmd_exec(int argc, char **argv)
{
	char why[512], *dir, *path;
	const char *old = getenv("PATH");
	int ch;

	if (cmd_help(argc, argv, exec_usage))
		return 0;
	optind = 1;
	while ((ch = getopt(argc, argv, "+r:h")) != -1) {
		if (ch == 'r')
			setenv("SPINDLE_FAKESSH_ROUTE", optarg, 1);
		else if (ch == 'h') {
			fputs(exec_usage, stdout);
			return 0;
		} else
			usage_error("%s", exec_usage);
	}
	if (optind >= argc)
		usage_error("%s", exec_usage);
	if ((dir = fakessh_dir(why, sizeof why)) == NULL) {
		fprintf(stderr, "spindle: %s\n", why);
		return 255;
	}
	path = xprintf("%s%s%s", dir, old != NULL ? ":" : "",
	    old != NULL ? old : "");
	setenv("PATH", path, 1);
	execvp(argv[optind], argv + optind);
	fprintf(stderr, "spindle: %s: %s\n", argv[optind], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
