/*
 * Session channels of the gateway: what sshd's session.c does, as a RUN
 * at the daemon.  pty-req, env and window-change are recorded; the first
 * of exec, shell or subsystem makes the RUN (one control connection per
 * channel, the route the connection's), with pipes for stdin, stdout and
 * stderr (stdout alone with a pty, as the shim) whose other ends the
 * channel pumps.  EXIT becomes exit-status or exit-signal.  The channel
 * gone, the control connection is hung up: the daemon kills the command.
 *
 * libssh calls us from inside its own processing (R8): the callbacks only
 * record and answer; the RUN and every write to the channel happen from
 * the loop (an event made active).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "gateway.h"
#include "fakessh.h"

struct gw_exec {
	struct gw_conn	*conn;
	struct gw_chan	*chan;
	struct ssh_channel_callbacks_struct cb;
	struct gw_ctl	*ctl;
	struct event	*start;		/* the RUN, from the loop */
	struct exec_req	 req;
	size_t		 nenv;
	int		 asked;		/* exec, shell or subsystem came */
	int		 over;		/* exit told, or the channel closed */
};

/* RFC 4254 6.10's names (without "SIG"), as sshd's sig2name. */
static const struct {
	const char	*name;
	int		 sig;
} gw_exec_sigs[] = {
	{ "ABRT", SIGABRT }, { "ALRM", SIGALRM }, { "FPE", SIGFPE },
	{ "HUP", SIGHUP }, { "ILL", SIGILL }, { "INT", SIGINT },
	{ "KILL", SIGKILL }, { "PIPE", SIGPIPE }, { "QUIT", SIGQUIT },
	{ "SEGV", SIGSEGV }, { "TERM", SIGTERM }, { "USR1", SIGUSR1 },
	{ "USR2", SIGUSR2 }
};
#define GW_EXEC_NSIGS	(sizeof gw_exec_sigs / sizeof *gw_exec_sigs)

static const char *
gw_exec_signame(int sig)
{
	for (size_t i = 0; i < GW_EXEC_NSIGS; i++) {
		if (gw_exec_sigs[i].sig == sig)
			return gw_exec_sigs[i].name;
	}
	/* sshd's name for one the RFC has none for. */
	return "SIG@openssh.com";
}

static int
gw_exec_signum(const char *name)
{
	for (size_t i = 0; i < GW_EXEC_NSIGS; i++) {
		if (strcmp(gw_exec_sigs[i].name, name) == 0)
			return gw_exec_sigs[i].sig;
	}
	return 0;
}

/* The end: tell the client (a line on its stderr first, if any). */
static void
gw_exec_end(struct gw_exec *e, int status, const char *sig, const char *err)
{
	char *line;

	if (e->over)
		return;
	e->over = 1;
	gw_ctl_free(e->ctl);
	e->ctl = NULL;
	if (err != NULL && *err != '\0') {
		/* A pty's client has its terminal raw. */
		line = xprintf("spindle: %s%s", err,
		    (e->req.flags & SPN_EXEC_PTY) ? "\r\n" : "\n");
		gw_chan_say(e->chan, line);
		free(line);
	}
	gw_chan_exit(e->chan, status, sig);
}

/* The daemon's answers to the RUN. */
static void
gw_exec_msg(struct gw_ctl *g, const struct ctl_msg *m, int *fds, int nfds,
    void *arg)
{
	struct gw_exec *e = arg;
	struct upk u;
	uint32_t status, sig, said;
	char *err;

	(void)g;
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (m == NULL) {
		gw_exec_end(e, 255, NULL, "lost the daemon (killed or "
		    "crashed? see its daemon.log)");
		return;
	}
	upk_init(&u, m->body, m->len);
	switch (m->type) {
	case SPN_CTL_STARTED:
		return;
	case SPN_CTL_EXIT:
		status = upk_u32(&u);
		err = upk_str(&u);
		sig = upk_u32(&u);
		said = upk_u32(&u);
		if (u.err)
			gw_exec_end(e, 255, NULL, "bad exit message from the "
			    "daemon");
		else if (err != NULL && *err != '\0')
			gw_exec_end(e, 255, NULL, said ? NULL : err);
		else if (sig != 0)
			gw_exec_end(e, status, gw_exec_signame(sig), NULL);
		else
			gw_exec_end(e, status, NULL, NULL);
		free(err);
		return;
	case SPN_CTL_ERROR:
		err = upk_str(&u);
		gw_exec_end(e, 255, NULL, err != NULL ? err : "refused by the "
		    "daemon");
		free(err);
		return;
	default:
		log_warn("gateway: unexpected message %u from the daemon",
		    m->type);
		gw_exec_end(e, 255, NULL, "unexpected reply from the daemon");
		return;
	}
}

/* A pipe, our end non-blocking (the channel's), theirs the daemon's. */
static int
gw_exec_pipe(int ours_reads, int *ours, int *theirs)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	*ours = p[!ours_reads];
	*theirs = p[ours_reads];
	fd_nonblock(*ours, 1);
	fd_grow_pipe(*ours);
	return 0;
}

static void
gw_exec_close(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
}

/* The RUN: -1 and why, else the channel pumps its fds. */
static int
gw_exec_run(struct gw_exec *e, char *why, size_t whylen)
{
	struct ctl_spec s;
	struct pk pk;
	int ours[3] = { -1, -1, -1 }, theirs[3] = { -1, -1, -1 }, n;
	uint32_t mask;

	if (gw_conn_spec(e->conn, &s, why, whylen) != 0)
		return -1;
	n = (e->req.flags & SPN_EXEC_PTY) ? 2 : 3;
	for (int i = 0; i < n; i++) {
		if (gw_exec_pipe(i != 0, &ours[i], &theirs[i]) != 0) {
			snprintf(why, whylen, "pipe: %s", strerror(errno));
			gw_exec_close(ours, 3);
			gw_exec_close(theirs, 3);
			ctl_spec_free(&s);
			return -1;
		}
	}
	/* With stderr, the daemon tells a failed route there itself,
	 * before the pipes close: what a program reading them expects. */
	mask = n == 3 ? 7 | SPN_CTL_SAY : 3;
	pk_init(&pk);
	ctl_run_pack(&pk, &s, &e->req, mask);
	e->ctl = gw_ctl_open(SPN_CTL_RUN, &pk, theirs, n, gw_exec_msg, e, why,
	    whylen);
	pk_free(&pk);
	ctl_spec_free(&s);
	gw_exec_close(theirs, 3);
	if (e->ctl == NULL) {
		gw_exec_close(ours, 3);
		return -1;
	}
	gw_chan_start(e->chan, ours[0], ours[1], ours[2]);
	return 0;
}

static void
gw_exec_start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_exec *e = arg;
	char why[512];

	(void)fd;
	(void)what;
	if (e->over)
		return;
	if (gw_exec_run(e, why, sizeof why) != 0)
		gw_exec_end(e, 255, NULL, why);
	gw_conn_kick(e->conn);
}

/* exec, shell and subsystem: what to run, once a channel. */
static int
gw_exec_ask(struct gw_exec *e, const char *cmd, uint32_t flags)
{
	if (e->asked || e->over)
		return -1;
	e->asked = 1;
	e->req.argv = xcalloc(2, sizeof *e->req.argv);
	e->req.argv[0] = xstrdup(cmd);
	e->req.flags |= flags;
	event_active(e->start, EV_TIMEOUT, 0);
	return 0;
}

static int
gw_exec_exec_cb(ssh_session s, ssh_channel ch, const char *cmd, void *arg)
{
	(void)s;
	(void)ch;
	return gw_exec_ask(arg, cmd, SPN_EXEC_USERSHELL);
}

static int
gw_exec_shell_cb(ssh_session s, ssh_channel ch, void *arg)
{
	(void)s;
	(void)ch;
	/* As the shim for ssh with no command: the login shell. */
	return gw_exec_ask(arg, "-", SPN_EXEC_LOGIN);
}

static int
gw_exec_subsystem_cb(ssh_session s, ssh_channel ch, const char *name,
    void *arg)
{
	char *what;

	(void)s;
	(void)ch;
	/* Never an SFTP server of our own: the far side's. */
	if (strcmp(name, "sftp") != 0) {
		/* (The client's words: cleaned for the log.) */
		what = str_clean(xstrndup(name, 64));
		log_info("gateway: subsystem '%s' refused (only sftp)", what);
		free(what);
		return -1;
	}
	return gw_exec_ask(arg, session_sftp, SPN_EXEC_SHELL |
	    SPN_EXEC_LOGIN);
}

static int
gw_exec_pty_cb(ssh_session s, ssh_channel ch, const char *term, int cols,
    int rows, int px, int py, void *arg)
{
	struct gw_exec *e = arg;

	(void)s;
	(void)ch;
	(void)px;
	(void)py;
	if (e->asked || (e->req.flags & SPN_EXEC_PTY) || cols < 0 ||
	    rows < 0 || strlen(term) > SPN_EXEC_TERM_MAX)
		return -1;
	e->req.flags |= SPN_EXEC_PTY;
	e->req.rows = rows;
	e->req.cols = cols;
	/* (An empty TERM: the far side's default.) */
	e->req.term = *term != '\0' ? xstrdup(term) : NULL;
	return 0;
}

static int
gw_exec_winch_cb(ssh_session s, ssh_channel ch, int cols, int rows,
    int px, int py, void *arg)
{
	struct gw_exec *e = arg;
	struct pk pk;

	(void)s;
	(void)ch;
	(void)px;
	(void)py;
	if (cols < 0 || rows < 0 || !(e->req.flags & SPN_EXEC_PTY))
		return -1;
	if (e->ctl == NULL) {
		/* Not running yet: the RUN takes the latest. */
		e->req.rows = rows;
		e->req.cols = cols;
		return 0;
	}
	pk_init(&pk);
	pk_u32(&pk, rows);
	pk_u32(&pk, cols);
	gw_ctl_send(e->ctl, SPN_CTL_WINCH, &pk);
	pk_free(&pk);
	return 0;
}

static int
gw_exec_env_cb(ssh_session s, ssh_channel ch, const char *name,
    const char *value, void *arg)
{
	struct gw_exec *e = arg;
	size_t len = strlen(name);

	(void)s;
	(void)ch;
	if (e->asked || len == 0 || strchr(name, '=') != NULL ||
	    !session_env_accepted(name) || e->nenv >= SESSION_ENV_MAX ||
	    len + 1 + strlen(value) > SESSION_ENV_LEN) {
		log_debug("gateway: env %.64s refused", name);
		return -1;
	}
	strv_push(&e->req.env, &e->nenv, xprintf("%s=%s", name, value));
	return 0;
}

static void
gw_exec_signal_cb(ssh_session s, ssh_channel ch, const char *name, void *arg)
{
	struct gw_exec *e = arg;
	struct pk pk;
	int sig = gw_exec_signum(name);

	(void)s;
	(void)ch;
	if (sig == 0 || e->ctl == NULL)
		return;
	pk_init(&pk);
	pk_u32(&pk, sig);
	gw_ctl_send(e->ctl, SPN_CTL_SIGNAL, &pk);
	pk_free(&pk);
}

/* The channel is closed (by either side) or its connection gone. */
static void
gw_exec_gone(struct gw_chan *chan, void *arg)
{
	struct gw_exec *e = arg;

	/* libssh calls the channel's callbacks no more: the channel goes
	 * (with a last look at e's, so they are removed first). */
	ssh_remove_channel_callbacks(gw_chan_ssh(chan), &e->cb);
	e->over = 1;
	gw_ctl_free(e->ctl);
	event_free(e->start);
	strv_free(e->req.argv);
	strv_free(e->req.env);
	free((char *)e->req.term);
	free(e);
}

ssh_channel
gw_exec_open(struct gw_conn *c)
{
	struct gw_exec *e;
	ssh_channel ch;

	if ((ch = ssh_channel_new(gw_conn_session(c))) == NULL)
		return NULL;
	e = xcalloc(1, sizeof *e);
	e->conn = c;
	e->req.env = xcalloc(1, sizeof *e->req.env);
	e->req.fd_in = e->req.fd_out = e->req.fd_err = -1;
	if ((e->start = event_new(gw_base(), -1, 0, gw_exec_start_cb,
	    e)) == NULL)
		fatal("gw_exec_open: event_new");
	e->chan = gw_chan_new(c, ch, gw_exec_gone, e);
	e->cb.userdata = e;
	e->cb.channel_pty_request_function = gw_exec_pty_cb;
	e->cb.channel_pty_window_change_function = gw_exec_winch_cb;
	e->cb.channel_env_request_function = gw_exec_env_cb;
	e->cb.channel_exec_request_function = gw_exec_exec_cb;
	e->cb.channel_shell_request_function = gw_exec_shell_cb;
	e->cb.channel_subsystem_request_function = gw_exec_subsystem_cb;
	e->cb.channel_signal_function = gw_exec_signal_cb;
	ssh_callbacks_init(&e->cb);
	ssh_add_channel_callbacks(ch, &e->cb);
	return ch;
}
