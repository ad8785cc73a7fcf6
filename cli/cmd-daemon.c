/*
 * The daemon's commands: daemon start|stop|status|log, up, down, ls, check;
 * and the shim's: fakessh-bin, exec.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Connect (starting the daemon if asked) or say why not. */
static int
cmd_connect(int start)
{
	char why[512];
	int fd;

	if ((fd = client_connect(start, 1, cli_verbose, why, sizeof why)) < 0)
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

#define OPT_READY_FD	512

static const struct cmd_opt daemon_opts[] = {
	{ 'f', NULL, NULL, "(log) follow the log as it grows" },
	{ OPT_READY_FD, "ready-fd", "FD", NULL },	/* serve's, ours */
	{ 0, NULL, NULL, NULL }
};

static int	cmd_daemon_exec(struct cmd_args *);

const struct cmd_entry cmd_daemon_entry = {
	.name = "daemon",
	.usage = "start | stop | status | log [-f]",
	.summary = "start, stop or show the per-user daemon, or its log",
	.opts = daemon_opts,
	.words = "start|stop|status|log",
	.lower = 1,
	.upper = 1,
	.exec = cmd_daemon_exec
};

static int
cmd_daemon_exec(struct cmd_args *a)
{
	const char *sub = a->pos[0];
	int fd, ready = -1, follow = 0;

	for (size_t i = 0; i < a->nopts; i++) {
		if (a->opts[i].ch == 'f')
			follow = 1;
		else	/* what a client starts: daemon serve --ready-fd N */
			ready = atoi(a->opts[i].arg);
	}
	if (ready != -1 && strcmp(sub, "serve") != 0)
		usage_error("--ready-fd is for serve");
	if (follow && strcmp(sub, "log") != 0)
		usage_error("-f is for log");
	if (strcmp(sub, "serve") == 0)
		return daemon_serve(ready);
	if (strcmp(sub, "log") == 0)
		return dlog_print(follow);
	if (strcmp(sub, "start") == 0) {
		if ((fd = cmd_connect(1)) < 0)
			return 255;
		close(fd);
		return cmd_simple(0, SPN_CTL_STATUS, NULL, 0);
	}
	if (strcmp(sub, "status") == 0)
		return cmd_simple(0, SPN_CTL_STATUS, NULL, 0);
	if (strcmp(sub, "stop") == 0)
		return daemon_stop_wait();
	cmd_usage_error("unknown daemon command '%s'", sub);
}

/* Stop it and wait until it has let go of its socket and routes. */
int
daemon_stop_wait(void)
{
	char why[512], *text;
	int fd, rc;

	if ((fd = client_connect(0, 0, cli_verbose, why, sizeof why)) ==
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

#define OPT_PERSIST	512

static const struct cmd_opt up_opts[] = {
	CMD_OPTS_ROUTE,
	{ OPT_PERSIST, "persist", "SECS|no",
	    "close the route after SECS idle [no: at down]" },
	{ 0, NULL, NULL, NULL }
};

static int	cmd_up_exec(struct cmd_args *);

const struct cmd_entry cmd_up_entry = {
	.name = "up",
	.usage = CMD_USAGE_ROUTE_TIMES "[--persist SECS|no] "
	    CMD_USAGE_ROUTE_PASS "NAME [ROUTE]",
	.summary = "connect a named route now (via the daemon)",
	.opts = up_opts,
	.words = "NAME [ROUTE]",
	.lower = 1,
	.upper = 2,
	.exec = cmd_up_exec
};

static int
cmd_up_exec(struct cmd_args *a)
{
	struct master_opts mo = MASTER_OPTS_UNSET;
	struct dlog_mark mk;
	struct ctl_spec s;
	struct pk pk;
	/* NAME alone: the routes file's route of that name. */
	const char *arg, *route = a->npos > 1 ? a->pos[1] : a->pos[0];
	int rc, persist = PERSIST_NEVER;

	for (size_t i = 0; i < a->nopts; i++) {
		arg = a->opts[i].arg;
		if (a->opts[i].ch != OPT_PERSIST)
			cli_parse_master_opt(a->opts[i].ch, arg, &mo);
		else if (routes_persist(arg, &persist) != 0)
			usage_error("bad persist '%s' (want seconds or 'no')",
			    arg);
	}
	if ((rc = password_ask_route(route, &mo)) != 0)
		return rc;
	ctl_spec_init(&s, route, &mo);
	pk_init(&pk);
	pk_str(&pk, a->pos[0]);
	ctl_spec_pack(&pk, &s);
	pk_u32(&pk, (uint32_t)persist);
	dlog_mark(&mk, cli_verbose);
	rc = cmd_simple(1, SPN_CTL_UP, &pk, 0);
	dlog_replay(&mk, a->pos[0], NULL);
	pk_free(&pk);
	password_opts_free(&mo);
	return rc;
}

static int	cmd_down_exec(struct cmd_args *);

const struct cmd_entry cmd_down_entry = {
	.name = "down",
	.usage = "NAME",
	.summary = "close a route the daemon holds",
	.words = "NAME",
	.lower = 1,
	.upper = 1,
	.exec = cmd_down_exec
};

static int
cmd_down_exec(struct cmd_args *a)
{
	struct pk pk;
	int rc;

	pk_init(&pk);
	pk_str(&pk, a->pos[0]);
	rc = cmd_simple(0, SPN_CTL_DOWN, &pk, 0);
	pk_free(&pk);
	return rc;
}

#define OPT_JSON	512
#define OPT_NAMES	513

static const struct cmd_opt ls_opts[] = {
	{ OPT_JSON, "json", NULL, "as a JSON array" },
	{ OPT_NAMES, "names", NULL,
	    "only the names, one a line (the routes file's and\n"
	    "the daemon's, starting none): for completion" },
	{ 0, NULL, NULL, NULL }
};

static int	cmd_ls_exec(struct cmd_args *);

const struct cmd_entry cmd_ls_entry = {
	.name = "ls",
	.usage = "[--json | --names]",
	.summary = "list the daemon's routes",
	.opts = ls_opts,
	.exec = cmd_ls_exec
};

/* Completion waits on us: a daemon that does not answer soon is none. */
#define LS_NAMES_WAIT_MS	500

/*
 * Printed one a line: a name with a control byte in it cannot be, nor one
 * str_clean would change (C1 controls: CSI is 0x9b, or c2 9b in UTF-8).
 */
static void
ls_name_print(const char *name, const struct routes_file *rf)
{
	char *clean;
	int ok;

	if (name[strcspn(name, "\t")] != '\0')
		return;
	clean = str_clean(xstrdup(name));
	ok = strcmp(clean, name) == 0;
	free(clean);
	if (ok && *name != '\0' && (rf == NULL ||
	    routes_file_find(rf, name) == NULL))
		printf("%s\n", name);
}

/*
 * The JSON string at p (past its quote), if its only escapes are \", \\
 * and \/: any other (\u, \n, \t ...) is a control byte, not printable
 * one a line (and not to be printed as the letter after the backslash).
 * Sized to the string, not to the rest of the reply: a reply holds many.
 */
static void
ls_name_json(const char *p, const struct routes_file *rf)
{
	const char *end;
	char *name;
	size_t n = 0;

	for (end = p; *end != '\0' && *end != '"'; end++) {
		if (*end == '\\' && (*++end == '\0' ||
		    strchr("\"\\/", *end) == NULL))
			return;
	}
	if (*end != '"')
		return;
	name = xmalloc(end - p + 1);
	for (; p < end; p++)
		name[n++] = *p == '\\' ? *++p : *p;
	name[n] = '\0';
	ls_name_print(name, rf);
	free(name);
}

/*
 * The daemon's LS --json reply: the "name" of each object of the
 * top-level array (dr_json_one writes it first).
 */
static void
ls_names_json(const char *p, const struct routes_file *rf)
{
	static const char key[] = "{\"name\":\"";
	int depth = 0, instr = 0;

	for (; *p != '\0'; p++) {
		if (instr) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				instr = 0;
			continue;
		}
		switch (*p) {
		case '"':
			instr = 1;
			break;
		case '[':
			depth++;
			break;
		case ']':
		case '}':
			depth--;
			break;
		case '{':
			if (depth++ == 1 && strncmp(p, key, sizeof key - 1) == 0)
				ls_name_json(p + sizeof key - 1, rf);
			break;
		}
	}
}

/*
 * A daemon already running, by a connect that never waits (a full
 * backlog is no daemon), its routes as LS --json, or NULL.
 */
static char *
ls_names_daemon(void)
{
	struct timeval tv = { 0, LS_NAMES_WAIT_MS * 1000 };
	struct ctl_buf b = { 0 };
	struct ctl_msg m;
	struct upk u;
	struct pk pk;
	char why[256], *dir, *text = NULL;
	int fd, ok;

	if (ctl_dir(0, &dir, why, sizeof why) != 0)
		return NULL;
	fd = client_try(dir, 1);
	free(dir);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (client_hello(fd, LS_NAMES_WAIT_MS, NULL, why, sizeof why) != 0)
		goto out;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	pk_init(&pk);
	pk_u32(&pk, 1);		/* --json: the names unambiguous */
	ok = ctl_send(fd, SPN_CTL_LS, 1, &pk, NULL, 0) == 0;
	pk_free(&pk);
	if (ok && ctl_recv(fd, &b, &m, NULL, NULL) == 1 &&
	    m.type == SPN_CTL_OK) {
		upk_init(&u, m.body, m.len);
		text = upk_str(&u);
	}
	ctl_buf_free(&b);
out:
	if (fd >= 0)
		close(fd);
	return text;
}

/*
 * ls --names: the routes file's names, then those only the daemon has
 * (inline routes, up's).  Never starts a daemon, never waits long.
 */
static int
cmd_ls_names(void)
{
	struct routes_file rf;
	char why[512], *path = routes_file_path(), *text;
	int rc = 0;

	if (routes_file_load(path, &rf, why, sizeof why) != 0) {
		fprintf(stderr, "spindle: %s\n", why);
		rc = 255;
	}
	free(path);
	for (size_t i = 0; i < rf.n; i++)
		ls_name_print(rf.v[i].name, NULL);
	if ((text = ls_names_daemon()) != NULL)
		ls_names_json(text, &rf);
	free(text);
	routes_file_free(&rf);
	return rc;
}

static int
cmd_ls_exec(struct cmd_args *a)
{
	struct pk pk;
	int rc, json = 0, names = 0;

	for (size_t i = 0; i < a->nopts; i++) {
		if (a->opts[i].ch == OPT_JSON)
			json = 1;
		else
			names = 1;
	}
	if (json && names)
		usage_error("--json or --names, not both");
	if (names)
		return cmd_ls_names();
	pk_init(&pk);
	pk_u32(&pk, json);
	/* No daemon: the routes file's routes, all down. */
	rc = cmd_simple(1, SPN_CTL_LS, &pk, 1);
	pk_free(&pk);
	return rc;
}

static int	cmd_check_exec(struct cmd_args *);

/* As up's: a route that wants a password says to give it here. */
static const struct cmd_opt check_opts[] = {
	CMD_OPTS_ROUTE,
	{ 0, NULL, NULL, NULL }
};

const struct cmd_entry cmd_check_entry = {
	.name = "check",
	.usage = CMD_USAGE_ROUTE "NAME|ROUTE",
	.summary = "connect if need be, and time a round trip",
	.opts = check_opts,
	.words = "NAME|ROUTE",
	.lower = 1,
	.upper = 1,
	.exec = cmd_check_exec
};

static int
cmd_check_exec(struct cmd_args *a)
{
	struct master_opts mo = MASTER_OPTS_UNSET;
	const char *name = a->pos[0];
	struct dlog_mark mk;
	struct ctl_spec s;
	struct pk pk;
	char *text;
	int fd, rc;

	for (size_t i = 0; i < a->nopts; i++)
		cli_parse_master_opt(a->opts[i].ch, a->opts[i].arg, &mo);
	if ((rc = password_ask_route(name, &mo)) != 0)
		return rc;
	ctl_spec_init(&s, name, &mo);
	if ((fd = cmd_connect(1)) < 0) {
		password_opts_free(&mo);
		return 255;
	}
	pk_init(&pk);
	ctl_spec_pack(&pk, &s);
	dlog_mark(&mk, cli_verbose);
	rc = client_call(fd, SPN_CTL_CHECK, &pk, &text);
	dlog_replay(&mk, name, NULL);
	pk_free(&pk);
	password_opts_free(&mo);
	close(fd);
	if (rc == 0)
		printf("%s: up, round trip %.3f ms\n", name,
		    strtoull(text, NULL, 10) / 1000.0);
	else
		fprintf(stderr, "spindle: %s: %s\n", name,
		    text != NULL ? text : "failed");
	free(text);
	return rc;
}

/* make install's: the installed shim directory, made by the binary that
 * holds the wrappers' text. */
#define OPT_MAKE	512
#define OPT_TARGET	513
static const struct cmd_opt fakessh_bin_opts[] = {
	{ OPT_MAKE, "make", "DIR", NULL },
	{ OPT_TARGET, "target", "PATH", NULL },
	{ 0, NULL, NULL, NULL }
};

static int	cmd_fakessh_bin_exec(struct cmd_args *);

const struct cmd_entry cmd_fakessh_bin_entry = {
	.name = "fakessh-bin",
	.usage = "",
	.summary = "print a directory whose ssh rides spindle routes",
	.opts = fakessh_bin_opts,
	.exec = cmd_fakessh_bin_exec
};

static int
cmd_fakessh_bin_exec(struct cmd_args *a)
{
	char why[512], *dir;
	const char *make = NULL, *target = NULL;

	for (size_t i = 0; i < a->nopts; i++) {
		if (a->opts[i].ch == OPT_MAKE)
			make = a->opts[i].arg;
		else if (a->opts[i].ch == OPT_TARGET)
			target = a->opts[i].arg;
	}
	if ((make == NULL) != (target == NULL))
		cmd_usage_error("--make and --target go together");
	if (make != NULL) {
		if (fakessh_make(make, target, why, sizeof why) == 0)
			return 0;
		fprintf(stderr, "spindle: %s\n", why);
		return 255;
	}
	if ((dir = fakessh_dir(why, sizeof why)) == NULL) {
		fprintf(stderr, "spindle: %s\n", why);
		return 255;
	}
	printf("%s\n", dir);
	free(dir);
	return 0;
}

static const struct cmd_opt exec_opts[] = {
	{ 'r', NULL, "ROUTE", "every ssh the command runs goes to ROUTE" },
	{ 0, NULL, NULL, NULL }
};

static int	cmd_exec_exec(struct cmd_args *);

const struct cmd_entry cmd_exec_entry = {
	.name = "exec",
	.usage = "[-r ROUTE] [--] COMMAND [ARG...]",
	.summary = "run a local command with that ssh first in PATH",
	.opts = exec_opts,
	.flags = CMD_COMMAND,
	.exec = cmd_exec_exec
};

static int
cmd_exec_exec(struct cmd_args *a)
{
	char why[512], *dir, *path;
	const char *old = getenv("PATH");
	int e;

	for (size_t i = 0; i < a->nopts; i++)	/* -r */
		setenv("SPINDLE_FAKESSH_ROUTE", a->opts[i].arg, 1);
	if ((dir = fakessh_dir(why, sizeof why)) == NULL) {
		fprintf(stderr, "spindle: %s\n", why);
		return 255;
	}
	path = xprintf("%s%s%s", dir, old != NULL ? ":" : "",
	    old != NULL ? old : "");
	setenv("PATH", path, 1);
	execvp(a->argv[0], a->argv);
	e = errno;
	fprintf(stderr, "spindle: %s: %s\n", a->argv[0], strerror(e));
	free(path);
	free(dir);
	return e == ENOENT ? 127 : 126;
}
