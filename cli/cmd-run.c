/* spindle run: bring a route up, run one command at its end, tear down. */
#include <sys/ioctl.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct run {
	struct master	*m;
	struct xcl	*x;
	struct exec_req	 req;
	int		 code;
	uint64_t	 t_exec;
	struct event	*winch;
};

static void
run_winch_cb(evutil_socket_t sig, short what, void *arg)
{
	struct run *r = arg;
	struct winsize ws;

	(void)sig;
	(void)what;
	if (r->x != NULL && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		exec_winch(r->x, ws.ws_row, ws.ws_col);
}

static void
run_done(struct xcl *x, int code, const char *err, void *arg)
{
	struct run *r = arg;

	(void)x;
	tty_restore();
	if (code == -1) {
		fprintf(stderr, "spindle: %s\n", err);
		code = 255;
	} else if (err != NULL)
		fprintf(stderr, "spindle: %s\n", err);
	r->code = code;
	master_timing(r->m, "command", now_usec() - r->t_exec);
	event_base_loopbreak(master_base(r->m));
}

static void
run_signal(int sig, void *arg)
{
	struct run *r = arg;

	exec_signal(r->x, sig);
}

static void
run_up(struct master *m, const char *err, void *arg)
{
	struct run *r = arg;

	if (err != NULL) {
		tty_restore();
		fprintf(stderr, "spindle: %s\n", err);
		r->code = 255;
		/* Not loopbreak: this may come before the loop runs. */
		event_base_loopexit(master_base(m), NULL);
		return;
	}
	r->t_exec = now_usec();
	r->x = exec_start(master_rt(m), &r->req, run_done, r);
	sig_on_signal(run_signal, r);
}

/*
 * Through the daemon, if one runs or the route is a name of the routes
 * file (then one is started).  -1: run it ourselves.
 */
static int
run_daemon(const char *name, struct master_opts *mo, struct exec_req *req)
{
	struct client_mode mode = { .verbose = cli_verbose };
	struct ctl_spec s;
	int fd, code;

	if ((fd = client_for_route(name, 0, cli_verbose)) < 0)
		return fd == -1 ? -1 : 255;
	ctl_spec_init(&s, name, mo);
	if (req->flags & SPN_EXEC_PTY)
		tty_setup(req);
	code = client_run(fd, &s, req, &mode);
	close(fd);
	return code;
}

#define OPT_CLEAR_ENV	512

static const struct cmd_opt run_opts[] = {
	{ 'c', "shell", NULL, "COMMAND is one string for /bin/sh -c" },
	{ 's', "user-shell", NULL,
	    "COMMAND is one string for the login shell of\n"
	    "the last hop's user, as sshd runs it" },
	{ 'n', NULL, NULL, "the command's standard input is /dev/null" },
	{ 't', NULL, NULL, "give the command a pty (as ssh -t)" },
	{ 'C', "cwd", "DIR", "run the command in DIR, not in the home of\n"
	    "the last hop's user (where a relative DIR starts)" },
	{ 'e', "env", "NAME=VALUE",
	    "set a variable for the command (repeatable)" },
	{ OPT_CLEAR_ENV, "clear-env", NULL,
	    "start the command from an empty environment" },
	CMD_OPT_NO_DAEMON,
	CMD_OPT_TIMINGS,
	CMD_OPTS_ROUTE,
	{ 0, NULL, NULL, NULL }
};

static int	cmd_run_exec(struct cmd_args *);

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.usage = "[-cnst] [-C DIR] [-e NAME=VALUE]... [--clear-env] "
	    "[--no-daemon] [--timings] " CMD_USAGE_ROUTE
	    "ROUTE [--] COMMAND [ARG...]",
	.summary = "run a command at the end of a route",
	.opts = run_opts,
	.words = "ROUTE",
	.lower = 1,
	.upper = 1,
	.flags = CMD_COMMAND,
	.exec = cmd_run_exec
};

static int
cmd_run_exec(struct cmd_args *a)
{
	struct master_opts mo = MASTER_OPTS_UNSET;
	struct run r = { .code = 255 };
	struct route_conf rc;
	char why[512], **env = xcalloc(1, sizeof *env);
	const char *spec = a->pos[0], *arg;
	size_t nenv = 0;
	int ch, noin = 0, use_daemon = 1;

	for (size_t i = 0; i < a->nopts; i++) {
		arg = a->opts[i].arg;
		switch (ch = a->opts[i].ch) {
		case 's':
			r.req.flags |= SPN_EXEC_USERSHELL;
			break;
		case 't':
			r.req.flags |= SPN_EXEC_PTY;
			break;
		case 'c':
			r.req.flags |= SPN_EXEC_SHELL;
			break;
		case 'n':
			noin = 1;
			break;
		case 'C':
			r.req.cwd = arg;
			break;
		case 'e':
			if (strchr(arg, '=') == NULL)
				usage_error("-e wants NAME=VALUE, not '%s'", arg);
			strv_push(&env, &nenv, xstrdup(arg));
			break;
		case OPT_CLEAR_ENV:
			r.req.flags |= SPN_EXEC_CLEARENV;
			break;
		case OPT_NO_DAEMON:
			use_daemon = 0;
			break;
		default:
			cli_parse_master_opt(ch, arg, &mo);
		}
	}
	if ((r.req.flags & (SPN_EXEC_SHELL | SPN_EXEC_USERSHELL)) &&
	    a->argc != 1)
		usage_error("-c and -s take the command as one argument");
	/* As sshd: the home directory of the last hop's user. */
	r.req.flags |= SPN_EXEC_HOME;
	if ((ch = password_ask_route(spec, &mo)) != 0) {
		strv_free(env);
		return ch;
	}
	r.req.argv = a->argv;
	r.req.env = env;
	r.req.fd_in = noin ? -1 : STDIN_FILENO;
	r.req.fd_out = STDOUT_FILENO;
	r.req.fd_err = STDERR_FILENO;
	if (r.req.flags & SPN_EXEC_PTY) {
		/* The pty merges stderr into stdout, as ssh -t does. */
		r.req.fd_err = -1;
	}
	if (use_daemon && !mo.timings &&
	    (r.code = run_daemon(spec, &mo, &r.req)) >= 0) {
		strv_free(env);
		password_opts_free(&mo);
		return r.code;
	}
	ch = resolve_local(spec, &mo, &rc, why, sizeof why);
	password_opts_free(&mo);
	if (ch != 0) {
		fprintf(stderr, "spindle: %s\n", why);
		strv_free(env);
		return ch;
	}
	if (r.req.flags & SPN_EXEC_PTY)
		tty_setup(&r.req);
	r.m = sig_master_new(&rc.mo);
	if (r.req.flags & SPN_EXEC_PTY) {
		r.winch = evsignal_new(master_base(r.m), SIGWINCH,
		    run_winch_cb, &r);
		event_add(r.winch, NULL);
	}
	r.req.ctx = 0;
	master_connect(r.m, &rc.route, run_up, &r);
	r.req.ctx = master_ctx(r.m, rc.route.nhops - 1);
	event_base_dispatch(master_base(r.m));
	exec_free(r.x);
	if (r.winch != NULL)
		event_free(r.winch);
	tty_restore();
	master_teardown(r.m);
	resolve_free(&rc);
	strv_free(env);
	return r.code;
}
