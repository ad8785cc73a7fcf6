/*
 * The ssh shim: `ssh` in the directory `spindle fakessh-bin` prints.  It
 * reads an OpenSSH command line, and runs the command through the daemon
 * on the route the host names, so every ssh of rsync, scp, sftp, git or a
 * script rides one connection held by the daemon.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "fakessh.h"

/*
 * -o options that shape one session, not the connection: they stay out
 * of the direct-ssh route, so rsync, scp and a script's own ssh share it.
 */
static const char *shim_session_opts[] = {
	"RemoteCommand", "RequestTTY", "PermitLocalCommand", "LocalCommand",
	"ClearAllForwardings", "ForwardAgent", "ForwardX11",
	"ForwardX11Trusted", "SendEnv", "SetEnv", "LogLevel", "BatchMode",
	"EscapeChar", "StdinNull", "SessionType", "Tunnel",
	"ExitOnForwardFailure", "LocalForward", "RemoteForward",
	"DynamicForward", "GatewayPorts", "User", "Port", "IdentityFile",
	"ControlMaster", "ControlPath", "ControlPersist", NULL
};

static int
shim_session_opt(const char *opt)
{
	size_t n = strcspn(opt, "=");

	for (const char **k = shim_session_opts; *k != NULL; k++) {
		if (strlen(*k) == n && strncasecmp(opt, *k, n) == 0)
			return 1;
	}
	return 0;
}

/* The real ssh's options for a direct route to any host. */
static char **
shim_ssh_args(const struct sshargs *sa)
{
	char **v = xcalloc(1, sizeof *v);
	size_t n = 0;

	if (sa->port != NULL)
		strv_push(&v, &n, xprintf("-p%s", sa->port));
	for (char **i = sa->identities; *i != NULL; i++)
		strv_push(&v, &n, xprintf("-i%s", *i));
	if (sa->config != NULL)
		strv_push(&v, &n, xprintf("-F%s", sa->config));
	for (char **o = sa->opts; *o != NULL; o++) {
		if (!shim_session_opt(*o))
			strv_push(&v, &n, xprintf("-o%s", *o));
	}
	return v;
}

/*
 * A route name, an inline route (hops joined by '+', hop options after
 * ',', sudo=USER and the like, or just `local`), or (anything else) ssh
 * to the host.
 */
static void
shim_spec(const struct sshargs *sa, struct ctl_spec *s)
{
	const char *forced = getenv("SPINDLE_FAKESSH_ROUTE");

	if (forced != NULL && *forced != '\0') {
		/* Either way its route is forced, as given. */
		ctl_spec_dest(s, forced, forced, NULL);
		s->direct = CTL_SPEC_ROUTE;
		return;
	}
	ctl_spec_dest(s, sa->dest, sa->host, sa->user);
	if (s->direct == CTL_SPEC_SSH)
		s->sshargs = shim_ssh_args(sa);
}

extern char **environ;

static int
shim_env_add(const struct sshargs *sa, struct exec_req *r, size_t *n,
    const char *var)
{
	size_t len = strlen(var);

	if (*n >= SESSION_ENV_MAX || len > SESSION_ENV_LEN || *var == '=') {
		if (sa->verbose)
			fprintf(stderr, "spindle fakessh: not sending %.*s "
			    "(at most %d variables of %d bytes)\n",
			    (int)strcspn(var, "="), var, SESSION_ENV_MAX,
			    SESSION_ENV_LEN);
		return -1;
	}
	if (sa->verbose)
		fprintf(stderr, "spindle fakessh: sending %.*s\n",
		    (int)strcspn(var, "="), var);
	strv_push(&r->env, n, xstrdup(var));
	return 0;
}

/*
 * SendEnv's variables of our environment that the far side takes, then
 * every SetEnv one (asked for by name and value, as run -e is): later
 * ones win there, as they do in sshd.
 */
static void
shim_env(const struct sshargs *sa, struct exec_req *r)
{
	size_t n = 0, len;
	char *name;

	r->env = xcalloc(1, sizeof *r->env);
	for (char **e = environ; *e != NULL && sa->sendenv[0] != NULL; e++) {
		len = strcspn(*e, "=");
		if ((*e)[len] != '=' || len == 0)
			continue;
		name = xstrndup(*e, len);
		for (char **p = sa->sendenv; *p != NULL; p++) {
			if (fnmatch(*p, name, 0) != 0)
				continue;
			if (session_env_accepted(*e))
				shim_env_add(sa, r, &n, *e);
			else if (sa->verbose)
				fprintf(stderr, "spindle fakessh: not sending "
				    "%s (SendEnv carries LANG, LC_* and "
				    "COLORTERM only)\n", name);
			break;
		}
		free(name);
	}
	for (char **v = sa->setenv; *v != NULL; v++)
		shim_env_add(sa, r, &n, *v);
}

/* What to run and how, as sshd would run it. */
static int
shim_req(const struct sshargs *sa, struct exec_req *r)
{
	char *cmd = sshargs_command(sa);

	memset(r, 0, sizeof *r);
	r->argv = xcalloc(2, sizeof *r->argv);
	if (sa->subsystem) {
		if (cmd == NULL || strcmp(cmd, "sftp") != 0) {
			fprintf(stderr, "spindle: subsystem '%s' is not "
			    "supported (only sftp)\n", cmd ? cmd : "");
			free(cmd);
			strv_free(r->argv);
			return -1;
		}
		free(cmd);
		r->argv[0] = xstrdup(session_sftp);
		r->flags = SPN_EXEC_SHELL | SPN_EXEC_LOGIN;
	} else if (cmd != NULL) {
		r->argv[0] = cmd;
		r->flags = SPN_EXEC_USERSHELL;
	} else {
		r->argv[0] = xstrdup("-");
		r->flags = SPN_EXEC_LOGIN;
	}
	r->fd_in = sa->no_stdin ? -1 : STDIN_FILENO;
	r->fd_out = STDOUT_FILENO;
	r->fd_err = STDERR_FILENO;
	shim_env(sa, r);
	return 0;
}

/* ssh's rule: a pty with -tt, or with -t (or no command) on a tty. */
static void
shim_pty(const struct sshargs *sa, struct exec_req *r)
{
	int asked = sa->tty == 1 || (sa->tty == 0 &&
	    !(r->flags & SPN_EXEC_USERSHELL) && !sa->subsystem);
	int tty = isatty(STDIN_FILENO) && !sa->no_stdin;

	if (asked && !tty && !sa->quiet)
		fprintf(stderr, "Pseudo-terminal will not be allocated "
		    "because stdin is not a terminal.\r\n");
	if (sa->tty != 2 && !(asked && tty))
		return;
	r->flags |= SPN_EXEC_PTY;
	r->fd_err = -1;
	tty_setup(r);
}

static void
shim_verbose(const struct sshargs *sa, const struct ctl_spec *s)
{
	for (char **i = sa->ignored; *i != NULL; i++)
		fprintf(stderr, "spindle fakessh: ignoring %s\n", *i);
	fprintf(stderr, "spindle fakessh: %s %s%s%s\n",
	    s->direct == CTL_SPEC_SSH ? "host (or route name)" : "route",
	    s->user != NULL ? s->user : "", s->user != NULL ? "@" : "",
	    s->route);
}

/* The forwards of the command line, -W's last; NULL if none. */
static struct fwd_spec *
shim_fwd_list(const struct sshargs *sa, size_t *n)
{
	struct fwd_spec *v;

	*n = sa->nfwds + (sa->stdio != NULL);
	if (*n == 0)
		return NULL;
	v = xcalloc(*n, sizeof *v);
	if (sa->nfwds > 0)
		memcpy(v, sa->fwds, sa->nfwds * sizeof *v);
	if (sa->stdio != NULL)
		v[sa->nfwds] = *sa->stdio;
	return v;
}

/*
 * Without a command (-N, -W): the forwards alone, held until a signal
 * or the end of -W.  With one (pidp set): started and held by a child
 * while the command runs.
 */
static int
shim_forwards(const struct sshargs *sa, const struct ctl_spec *s,
    pid_t *pidp)
{
	struct fwd_opts o = {
		.gateway_ports = sa->gateway_ports,
		.exit_on_fail = sa->exit_on_fwd_fail,
		.background = sa->background,
		.hold = sa->stdio == NULL,
		.quiet = sa->quiet,
		.verbose = sa->verbose,
	};
	struct fwd_spec *v;
	size_t n;
	int code = 0;

	v = shim_fwd_list(sa, &n);
	if (pidp == NULL)
		code = fwd_main(s, v, n, &o);
	else if (n > 0)
		*pidp = fwd_start(s, v, n, &o, &code);
	free(v);	/* the specs themselves are sa's */
	return code;
}

/*
 * -f with a command: ssh goes to the background once its forwards are
 * set up, and runs the command there (`ssh -f -L ... host sleep 10`).
 * The parent waits for the child's word on *ready: the status to leave
 * with (255 if the child dies first).
 */
static int
shim_detach(int *ready)
{
	unsigned char c;
	pid_t pid;
	int p[2];

	if (pipe(p) != 0)
		return -1;
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			c = 255;
		_exit(c);
	}
	close(p[0]);
	setsid();
	*ready = p[1];
	return 0;
}

static void
shim_detached(int *ready, int code)
{
	unsigned char c = code;

	if (*ready < 0)
		return;
	(void)write(*ready, &c, 1);
	close(*ready);
	*ready = -1;
}

/* A command (or the login shell), and the forwards while it runs. */
static int
shim_command(struct sshargs *sa, const struct ctl_spec *s, int errfd)
{
	struct exec_req r;
	struct client_mode mode = { .ssh_status = 1 };
	char err[4096];
	pid_t fwd = 0;
	int fd, code, ready = -1;

	/* -v shows what the daemon logged about the route meanwhile. */
	mode.verbose = sa->verbose;
	if (shim_req(sa, &r) != 0)
		return 255;
	if (r.fd_err >= 0)
		r.fd_err = errfd;
	mode.quiet = sa->logfile != NULL;	/* -E or -q */
	if (sa->background && shim_detach(&ready) != 0) {
		fprintf(stderr, "fork: %s\n", strerror(errno));
		return 255;
	}
	if ((code = shim_forwards(sa, s, &fwd)) != 0) {
		shim_detached(&ready, code);
		strv_free(r.argv);
		strv_free(r.env);
		return code;
	}
	shim_detached(&ready, 0);
	shim_pty(sa, &r);
	if ((fd = client_connect(1, 0, mode.verbose, err, sizeof err)) < 0) {
		tty_restore();
		fprintf(stderr, "spindle: %s\n", err);
		code = 255;
	} else {
		code = client_run(fd, s, &r, &mode);
		close(fd);
	}
	fwd_stop(fwd);
	strv_free(r.argv);
	strv_free(r.env);
	return code;
}

int
shim_main(int argc, char **argv)
{
	struct sshargs sa;
	struct ctl_spec s;
	char err[4096];
	int code, errfd;

	if (sshargs_parse(argc, argv, &sa, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 255;
	}
	if (sa.version) {
		fprintf(stderr, "OpenSSH_9 compatible (spindle %s fakessh)\n",
		    PACKAGE_VERSION);
		sshargs_free(&sa);
		return 0;
	}
	/* -E takes our own messages, -q drops them (ssh's QUIET level
	 * hides even fatal ones); the command's stderr stays ours. */
	if (sa.logfile == NULL && sa.quiet)
		sa.logfile = xstrdup("/dev/null");
	errfd = sa.logfile != NULL ? dup(STDERR_FILENO) : STDERR_FILENO;
	if (sa.logfile != NULL && freopen(sa.logfile, "a", stderr) == NULL) {
		dprintf(errfd, "Couldn't open logfile %s: %s\n", sa.logfile,
		    strerror(errno));
		sshargs_free(&sa);
		return 255;
	}
	/* No tunnel devices: better a clear no than a session without
	 * the interface its caller waits on. */
	if (sa.forward != NULL && (strcmp(sa.forward, "-w") == 0 ||
	    strcmp(sa.forward, "-o Tunnel") == 0)) {
		fprintf(stderr, "spindle: %s is not supported\n", sa.forward);
		sshargs_free(&sa);
		return 255;
	}
	shim_spec(&sa, &s);
	if (sa.verbose)
		shim_verbose(&sa, &s);
	if (sa.no_command)
		code = shim_forwards(&sa, &s, NULL);
	else
		code = shim_command(&sa, &s, errfd);
	ctl_spec_free(&s);
	sshargs_free(&sa);
	return code;
}
