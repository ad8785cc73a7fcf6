/*
 * The forwards of an ssh command line (and of `spindle forward`), as
 * OpenSSH 9.2 does them, over a route held by the daemon:
 *
 * -L and -D listen here, in this process, so that the forward lives as
 * long as we do (as with ssh).  Without a command (-N, `spindle
 * forward`) each listener goes to the daemon once, in an ACCEPT held
 * open (fwd_handoff): the daemon accepts on it, and tells
 * us only what we must print (ssh's "channel N: open failed" line; with
 * -v every connection).  With a command, or should the daemon refuse it
 * or go away, we accept here: each accepted socket goes to the daemon in a
 * FORWARD request of its own, on a control connection of its own, and we
 * close our copy: no byte of it crosses us.
 *
 * -R is a LISTEN request held open (ctl_listen): the far end listens as
 * long as its control connection lasts.  -W is a FORWARD of our stdin
 * and stdout.
 *
 * Bind addresses follow channels.c's channel_fwd_bind_addr for a client:
 * none given is loopback (both families) unless -g/GatewayPorts, "" and
 * "*" are every address, "localhost" is loopback, anything else is that
 * address.  Messages are ssh's, word for word, "\r\n" ended as its log
 * writes them; ssh's `error` and `logit` levels print unless -q, its
 * `verbose` and `debug` ones with -v.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakessh.h"

#define FWD_BACKLOG	128	/* ssh's SSH_LISTEN_BACKLOG */
#define FWD_LSN_MAX	64	/* sockets bound, every spec together */
#define FWD_CONN_MAX	1024	/* forwards at once; past it we stop
				 * accepting and the backlog waits */
#define FWD_CTL_DRAIN	4096

struct fwd_lsn {
	int			 fd;
	const struct fwd_spec	*fs;
	int			 ctl;		/* its ACCEPT, or -1: we
						 * accept on it here */
	struct ctl_buf		 b;
};

struct fwd_conn {
	int			 ctl;		/* -1: a free slot */
	struct ctl_buf		 b;
};

struct fwd_rem {
	int			 ctl;
	const struct fwd_spec	*fs;
};

struct fwd {
	const struct ctl_spec	*spec;
	const struct fwd_opts	*opts;
	struct fwd_lsn		 lsn[FWD_LSN_MAX];
	size_t			 nlsn;
	struct fwd_conn		*conns;		/* FWD_CONN_MAX slots */
	size_t			 nconns;
	struct fwd_rem		*rem;
	size_t			 nrem;
	size_t			 rem_lost;
	const struct fwd_spec	*stdio;
	int			 stdio_ctl;
	struct ctl_buf		 stdio_b;
	int			 chan_base;	/* ssh's channel numbers:
						 * the listeners' first */
	int			 draining;	/* the command is done:
						 * end with the last conn */
};

static void	fwd_say(const struct fwd *, int, const char *, ...)
		    SPN_PRINTF(3, 4);

static int fwd_sigpipe[2] = { -1, -1 };

/* ssh's log line: level 0 (error, logit) unless -q, 1 (verbose) and 2
 * (debug) with -v. */
static void
fwd_say(const struct fwd *f, int level, const char *fmt, ...)
{
	va_list ap;

	if (f->opts->quiet || (level > 0 && f->opts->verbose < 1))
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\r\n", stderr);
}

static void
fwd_sig(int sig)
{
	int e = errno;
	unsigned char c = sig;

	if (write(fwd_sigpipe[1], &c, 1) < 0)
		errno = e;
	errno = e;
}

/* As ssh: SIGHUP, SIGINT, SIGQUIT and SIGTERM end us, unless ignored. */
static void
fwd_catch(void)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM };
	struct sigaction sa, old;

	signal(SIGPIPE, SIG_IGN);
	if (fwd_sigpipe[0] < 0 &&
	    pipe2(fwd_sigpipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fwd_sig;
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
}

/* channel_fwd_bind_addr for a client: the address, *wildcard. */
static const char *
fwd_bind_addr(const struct fwd *f, const char *bind, int *wildcard)
{
	*wildcard = 0;
	if (bind == NULL) {
		*wildcard = f->opts->gateway_ports;
		return NULL;
	}
	if (*bind == '\0' || strcmp(bind, "*") == 0) {
		*wildcard = 1;
		return NULL;
	}
	if (strcmp(bind, "localhost") == 0)
		return NULL;	/* both loopbacks */
	return bind;
}

static int
fwd_add_lsn(struct fwd *f, int fd, const struct fwd_spec *fs)
{
	if (f->nlsn == FWD_LSN_MAX) {
		close(fd);
		return -1;
	}
	fd_nonblock(fd, 1);
	memset(&f->lsn[f->nlsn], 0, sizeof f->lsn[f->nlsn]);
	f->lsn[f->nlsn].fd = fd;
	f->lsn[f->nlsn].ctl = -1;
	f->lsn[f->nlsn++].fs = fs;
	return 0;
}

/* channel_setup_fwd_listener_tcpip: 1 if any address listens. */
static int
fwd_listen_tcp(struct fwd *f, const struct fwd_spec *fs)
{
	struct addrinfo hints, *ai, *top;
	char ntop[NI_MAXHOST], strport[NI_MAXSERV];
	const char *addr;
	int wildcard, fd, on = 1, ok = 0, rc;

	addr = fwd_bind_addr(f, fs->bind, &wildcard);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = wildcard ? AI_PASSIVE : 0;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(strport, sizeof strport, "%d", fs->bind_port);
	if ((rc = getaddrinfo(addr, strport, &hints, &top)) != 0) {
		fwd_say(f, 0, "channel_setup_fwd_listener_tcpip: "
		    "getaddrinfo(%.64s): %s", addr != NULL ? addr : "",
		    gai_strerror(rc));
		return 0;
	}
	for (ai = top; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, ntop,
		    sizeof ntop, strport, sizeof strport,
		    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
			continue;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			fwd_say(f, 1, "socket [%s]:%s: %.100s", ntop, strport,
			    strerror(errno));
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
			    sizeof on);
		fwd_say(f, 2, "Local forwarding listening on %s port %s.",
		    ntop, strport);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			/* Only the last address's failure is an error. */
			fwd_say(f, ai->ai_next == NULL ? 0 : 1,
			    "bind [%s]:%s: %.100s", ntop, strport,
			    ssh_strerror(errno));
			close(fd);
			continue;
		}
		if (listen(fd, FWD_BACKLOG) != 0) {
			fwd_say(f, 0, "listen [%s]:%s: %.100s", ntop, strport,
			    strerror(errno));
			close(fd);
			continue;
		}
		if (fwd_add_lsn(f, fd, fs) == 0)
			ok = 1;
	}
	freeaddrinfo(top);
	if (!ok)
		fwd_say(f, 0, "channel_setup_fwd_listener_tcpip: cannot listen "
		    "to port: %d", fs->bind_port);
	return ok;
}

/* misc.c's unix_listener, with ssh's StreamLocalBindMask 0177. */
static int
fwd_listen_unix(struct fwd *f, const struct fwd_spec *fs)
{
	struct sockaddr_un sun;
	mode_t omask;
	int fd, rc;

	if (ctl_sockaddr(fs->bind, &sun) != 0) {
		fwd_say(f, 0, "unix_listener: path \"%s\" too long for Unix "
		    "domain socket", fs->bind);
		return 0;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fwd_say(f, 0, "unix_listener: socket: %.100s",
		    strerror(errno));
		return 0;
	}
	omask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(omask);
	if (rc != 0) {
		fwd_say(f, 0, "unix_listener: cannot bind to path %s: %s",
		    fs->bind, strerror(errno));
		close(fd);
		return 0;
	}
	if (listen(fd, FWD_BACKLOG) != 0) {
		fwd_say(f, 0, "unix_listener: cannot listen on path %s: %s",
		    fs->bind, strerror(errno));
		close(fd);
		unlink(fs->bind);
		return 0;
	}
	fwd_say(f, 2, "Local forwarding listening on path %s.", fs->bind);
	return fwd_add_lsn(f, fd, fs) == 0;
}

/* ssh_init_forwarding's local half: 0, or 255 to exit with. */
static int
fwd_setup_local(struct fwd *f, const struct fwd_spec *fwds, size_t n)
{
	size_t i, asked = 0, ok = 0;

	for (i = 0; i < n; i++) {
		if (fwds[i].kind != FWD_LOCAL && fwds[i].kind != FWD_DYNAMIC)
			continue;
		asked++;
		if (fwds[i].bind_port == -1)
			ok += fwd_listen_unix(f, &fwds[i]);
		else
			ok += fwd_listen_tcp(f, &fwds[i]);
	}
	if (asked > 0 && ok != asked && f->opts->exit_on_fail) {
		fwd_say(f, 0, "Could not request local forwarding.");
		return 255;
	}
	if (asked > 0 && ok == 0)
		fwd_say(f, 0, "Could not request local forwarding.");
	return 0;
}

/* ssh_init_forwarding's remote half, and ssh_confirm_remote_forward. */
static int
fwd_setup_remote(struct fwd *f, const struct fwd_spec *fwds, size_t n)
{
	char why[1024];
	int ctl, port;

	for (size_t i = 0; i < n; i++) {
		const struct fwd_spec *fs = &fwds[i];

		if (fs->kind != FWD_REMOTE)
			continue;
		if ((ctl = ctl_listen(f->spec, fs, &port, why,
		    sizeof why)) < 0) {
			fwd_say(f, 1, "spindle: %s", why);
			if (fs->bind_port == -1) {
				fwd_say(f, 0, "%s: remote port forwarding "
				    "failed for listen path %s",
				    f->opts->exit_on_fail ? "Error" :
				    "Warning", fs->bind);
			} else {
				fwd_say(f, 0, "%s: remote port forwarding "
				    "failed for listen port %d",
				    f->opts->exit_on_fail ? "Error" :
				    "Warning", fs->bind_port);
			}
			if (f->opts->exit_on_fail)
				return 255;
			continue;
		}
		/* ssh names a dynamic one's target "socks", port 0. */
		if (fs->bind_port == 0)
			fwd_say(f, 0, "Allocated port %d for remote forward "
			    "to %s:%d", port, fs->host != NULL ? fs->host :
			    "socks", fs->host != NULL ? fs->port : 0);
		f->rem = xrealloc(f->rem, (f->nrem + 1) * sizeof *f->rem);
		f->rem[f->nrem].ctl = ctl;
		f->rem[f->nrem++].fs = fs;
	}
	return 0;
}

/* The route up before anything listens, as ssh connects first. */
static int
fwd_route_up(struct fwd *f)
{
	char why[1024], *text = NULL;
	struct pk pk;
	int fd, rc;

	if ((fd = client_connect(1, 1, f->opts->verbose, why,
	    sizeof why)) < 0) {
		fwd_say(f, 0, "spindle: %s", why);
		return 255;
	}
	pk_init(&pk);
	ctl_spec_pack(&pk, f->spec);
	rc = client_call(fd, SPN_CTL_CHECK, &pk, &text);
	pk_free(&pk);
	close(fd);
	if (rc != 0)
		fwd_say(f, 0, "spindle: %s", text != NULL ? text : "failed");
	free(text);
	return rc != 0 ? 255 : 0;
}

static void
fwd_init(struct fwd *f, const struct ctl_spec *spec,
    const struct fwd_opts *opts)
{
	memset(f, 0, sizeof *f);
	f->spec = spec;
	f->opts = opts;
	f->stdio_ctl = -1;
	f->conns = xcalloc(FWD_CONN_MAX, sizeof *f->conns);
	for (size_t i = 0; i < FWD_CONN_MAX; i++)
		f->conns[i].ctl = -1;
}

static void
fwd_close(struct fwd *f)
{
	size_t i;

	for (i = 0; i < f->nlsn; i++) {
		close(f->lsn[i].fd);
		if (f->lsn[i].ctl >= 0)
			close(f->lsn[i].ctl);
		ctl_buf_free(&f->lsn[i].b);
	}
	for (i = 0; i < FWD_CONN_MAX; i++) {
		if (f->conns[i].ctl >= 0)
			close(f->conns[i].ctl);
		ctl_buf_free(&f->conns[i].b);
	}
	for (i = 0; i < f->nrem; i++) {
		if (f->rem[i].ctl >= 0)
			close(f->rem[i].ctl);
	}
	if (f->stdio_ctl >= 0)
		close(f->stdio_ctl);
	ctl_buf_free(&f->stdio_b);
	free(f->conns);
	free(f->rem);
	memset(f, 0, sizeof *f);
}

/*
 * Listeners bound, -R answered: 0, or ssh's status to leave with (the
 * ExitOnForwardFailure cases).  The stdio forward is not started here.
 */
static int
fwd_setup(struct fwd *f, const struct fwd_spec *fwds, size_t n)
{
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (fwds[i].kind == FWD_STDIO)
			f->stdio = &fwds[i];
	}
	if ((rc = fwd_setup_local(f, fwds, n)) != 0)
		return rc;
	if ((rc = fwd_setup_remote(f, fwds, n)) != 0)
		return rc;
	/* ssh opens -W's channel first, then the listeners'. */
	f->chan_base = (f->stdio != NULL) + (int)f->nlsn;
	return 0;
}

/* The far side's words, as sshd sends them in an open failure. */
static const char *
fwd_reason(const char *text)
{
	const char *p;

	if (text == NULL)
		return "";
	if (strncmp(text, "connect to ", 11) == 0 &&
	    (p = strrchr(text, ':')) != NULL && p[1] == ' ')
		return p + 2;
	return text;
}

static void
fwd_open_failed(const struct fwd *f, int chan, const struct fwd_status *st)
{
	if (st->text != NULL && fwd_reason(st->text) != st->text)
		fwd_say(f, 1, "spindle: %s", st->text);
	fwd_say(f, 0, "channel %d: open failed: connect failed: %s", chan,
	    fwd_reason(st->text));
}

static void
fwd_accept(struct fwd *f, const struct fwd_lsn *l)
{
	const struct fwd_spec *fs = l->fs;
	struct fwd_conn *c = NULL;
	char why[1024];
	size_t i;
	int s, ctl;

	if ((s = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return;
	for (i = 0; i < FWD_CONN_MAX && c == NULL; i++) {
		if (f->conns[i].ctl < 0)
			c = &f->conns[i];
	}
	if (c == NULL) {
		close(s);
		return;
	}
	if (fs->kind == FWD_DYNAMIC) {
		fwd_say(f, 2, "Connection to port %d forwarding to socks port "
		    "0 requested.", fs->bind_port);
		ctl = ctl_forward_send(f->spec, SPN_FWD_SOCKS, 0, "", 0, &s, 1,
		    why, sizeof why);
	} else {
		fwd_say(f, 2, "Connection to port %d forwarding to %.100s port "
		    "%d requested.", fs->bind_port, fs->host, fs->port);
		ctl = ctl_forward_send(f->spec, SPN_FWD_DIRECT,
		    fs->port == -1 ? SPN_FWD_F_UNIX : 0, fs->host,
		    fs->port == -1 ? 0 : fs->port, &s, 1, why, sizeof why);
	}
	close(s);
	if (ctl < 0) {
		fwd_say(f, 0, "spindle: %s", why);
		return;
	}
	fd_nonblock(ctl, 1);
	c->ctl = ctl;
	f->nconns++;
}

static void
fwd_conn_end(struct fwd *f, struct fwd_conn *c)
{
	close(c->ctl);
	c->ctl = -1;
	ctl_buf_free(&c->b);
	f->nconns--;
}

static void
fwd_conn_read(struct fwd *f, struct fwd_conn *c)
{
	struct fwd_status st;
	int chan = f->chan_base + (int)(c - f->conns);

	for (;;) {
		switch (ctl_forward_read(c->ctl, &c->b, &st)) {
		case FWD_ST_MORE:
			return;
		case FWD_ST_CONNECTED:
			fwd_say(f, 2, "channel %d: connected to %s (%s)", chan,
			    st.target != NULL ? st.target : "",
			    st.text != NULL ? st.text : "");
			break;
		case FWD_ST_ERROR:
			fwd_open_failed(f, chan, &st);
			fwd_status_free(&st);
			fwd_conn_end(f, c);
			return;
		case FWD_ST_DONE:
			fwd_say(f, 2, "channel %d: done, %llu bytes in, %llu "
			    "out%s%s", chan, (unsigned long long)st.in,
			    (unsigned long long)st.out, st.text ? ": " : "",
			    st.text ? st.text : "");
			fwd_status_free(&st);
			fwd_conn_end(f, c);
			return;
		default:
			fwd_say(f, 1, "channel %d: %s", chan, st.text);
			fwd_status_free(&st);
			fwd_conn_end(f, c);
			return;
		}
		fwd_status_free(&st);
	}
}

/* A -R's control connection said something (nothing is expected) or
 * hung up: the far listener is gone. */
static void
fwd_rem_read(struct fwd *f, struct fwd_rem *r)
{
	char buf[FWD_CTL_DRAIN], *t;
	ssize_t n;

	n = ctl_read(r->ctl, buf, sizeof buf, NULL, NULL, 0, 0);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	t = fwd_spec_text(r->fs);
	fwd_say(f, 0, "spindle: remote forward %s ended (%s)", t,
	    n == 0 ? "the route or the daemon went away" : strerror(errno));
	free(t);
	close(r->ctl);
	r->ctl = -1;
	f->rem_lost++;
}

/* -W: our stdin and stdout go to the daemon; 0, or -1 said why. */
static int
fwd_stdio_start(struct fwd *f)
{
	const struct fwd_spec *fs = f->stdio;
	int fds[2] = { STDIN_FILENO, STDOUT_FILENO }, null;
	char why[1024];

	f->stdio_ctl = ctl_forward_send(f->spec, SPN_FWD_STDIO,
	    fs->port == -1 ? SPN_FWD_F_UNIX : 0, fs->host,
	    fs->port == -1 ? 0 : fs->port, fds, 2, why, sizeof why);
	if (f->stdio_ctl < 0) {
		fwd_say(f, 0, "spindle: %s", why);
		return -1;
	}
	/* Our copies go, so that the far side's EOF is the reader's. */
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	fd_nonblock(f->stdio_ctl, 1);
	return 0;
}

/* 1: -W is over with *code; 0: it goes on. */
static int
fwd_stdio_read(struct fwd *f, int *code)
{
	struct fwd_status st;

	for (;;) {
		switch (ctl_forward_read(f->stdio_ctl, &f->stdio_b, &st)) {
		case FWD_ST_MORE:
			return 0;
		case FWD_ST_CONNECTED:
			fwd_say(f, 2, "stdio forwarding: connected to %s",
			    st.text != NULL ? st.text : "");
			fwd_status_free(&st);
			continue;
		case FWD_ST_ERROR:
			fwd_open_failed(f, 0, &st);
			fwd_say(f, 0, "stdio forwarding failed");
			*code = 255;
			break;
		case FWD_ST_DONE:
			fwd_say(f, 2, "stdio forwarding: done");
			*code = 0;
			break;
		default:
			fwd_say(f, 0, "spindle: %s", st.text);
			*code = 255;
			break;
		}
		fwd_status_free(&st);
		return 1;
	}
}

/*
 * Each listener goes to the daemon, which accepts on it while we hold
 * its ACCEPT: a connection then costs us nothing, and the daemon no
 * control connection of its own.  We keep our copy, and accept here
 * again (a FORWARD each) if the daemon refuses or goes away.
 */
static void
fwd_handoff(struct fwd *f)
{
	struct fwd_lsn *l;
	uint32_t flags;
	char why[1024];

	for (size_t i = 0; i < f->nlsn; i++) {
		l = &f->lsn[i];
		flags = f->opts->verbose >= 1 && !f->opts->quiet ?
		    SPN_FWD_F_TELL : 0;
		if (l->fs->kind == FWD_DYNAMIC)
			l->ctl = ctl_accept_send(f->spec, SPN_FWD_SOCKS, flags,
			    "", 0, f->chan_base, l->fd, &l->b, why,
			    sizeof why);
		else
			l->ctl = ctl_accept_send(f->spec, SPN_FWD_DIRECT,
			    flags | (l->fs->port == -1 ? SPN_FWD_F_UNIX : 0),
			    l->fs->host, l->fs->port == -1 ? 0 : l->fs->port,
			    f->chan_base, l->fd, &l->b, why, sizeof why);
		if (l->ctl < 0) {
			fwd_say(f, 1, "spindle: the daemon does not take the "
			    "listener (%s): accepting here", why);
			ctl_buf_free(&l->b);
		} else
			fd_nonblock(l->ctl, 1);
	}
}

/* ssh's lines for a connection the daemon accepted. */
static void
fwd_lsn_say(struct fwd *f, const struct fwd_lsn *l, int chan,
    const struct fwd_status *st)
{
	const struct fwd_spec *fs = l->fs;

	if (st->state != FWD_ST_DONE && fs->kind == FWD_DYNAMIC)
		fwd_say(f, 2, "Connection to port %d forwarding to socks port "
		    "0 requested.", fs->bind_port);
	else if (st->state != FWD_ST_DONE)
		fwd_say(f, 2, "Connection to port %d forwarding to %.100s port "
		    "%d requested.", fs->bind_port, fs->host, fs->port);
	if (st->state == FWD_ST_CONNECTED)
		fwd_say(f, 2, "channel %d: connected to %s (%s)", chan,
		    st->target != NULL ? st->target : "",
		    st->text != NULL ? st->text : "");
	else if (st->state == FWD_ST_ERROR)
		fwd_open_failed(f, chan, st);
	else
		fwd_say(f, 2, "channel %d: done, %llu bytes in, %llu out%s%s",
		    chan, (unsigned long long)st->in,
		    (unsigned long long)st->out, st->text ? ": " : "",
		    st->text ? st->text : "");
}

/* The notices of a listener's ACCEPT; the daemon gone, we accept. */
static void
fwd_lsn_read(struct fwd *f, struct fwd_lsn *l)
{
	struct fwd_status st;
	uint32_t chan;
	int rc;

	for (;;) {
		rc = ctl_accept_read(l->ctl, &l->b, &st, &chan);
		if (rc == FWD_ST_MORE)
			return;
		if (rc == FWD_ST_CONNECTED || rc == FWD_ST_ERROR ||
		    rc == FWD_ST_DONE)
			fwd_lsn_say(f, l, (int)chan, &st);
		else {
			fwd_say(f, 1, "spindle: %s: accepting here",
			    st.text != NULL ? st.text : "lost the daemon");
			fwd_status_free(&st);
			close(l->ctl);
			l->ctl = -1;
			ctl_buf_free(&l->b);
			return;
		}
		fwd_status_free(&st);
	}
}

/* A signal ended us: ssh's status (SIGTERM without a session is a
 * deliberate end: 0). */
static int
fwd_signalled(const struct fwd *f, int sig)
{
	if (sig == SIGTERM && f->opts->hold)
		return 0;
	fwd_say(f, 1, "Killed by signal %d.", sig);
	return 255;
}

/* Until a signal, the end of -W, or the loss of every -R that was
 * all we held. */
static int
fwd_loop(struct fwd *f)
{
	struct pollfd *pfd;
	size_t n, i, max = 2 + FWD_LSN_MAX + FWD_CONN_MAX + f->nrem;
	unsigned char sig;
	int code = 255;

	pfd = xcalloc(max, sizeof *pfd);
	for (;;) {
		if (f->nrem > 0 && f->rem_lost == f->nrem && f->nlsn == 0 &&
		    f->stdio == NULL)
			break;
		if (f->draining && f->nconns == 0)
			break;
		n = 0;
		pfd[n].fd = fwd_sigpipe[0];
		pfd[n++].events = POLLIN;
		pfd[n].fd = f->stdio_ctl;
		pfd[n++].events = POLLIN;
		for (i = 0; i < f->nlsn; i++) {
			pfd[n].fd = f->lsn[i].ctl >= 0 ? f->lsn[i].ctl :
			    f->nconns < FWD_CONN_MAX ? f->lsn[i].fd : -1;
			pfd[n++].events = POLLIN;
		}
		for (i = 0; i < f->nrem; i++) {
			pfd[n].fd = f->rem[i].ctl;
			pfd[n++].events = POLLIN;
		}
		for (i = 0; i < FWD_CONN_MAX; i++) {
			pfd[n].fd = f->conns[i].ctl;
			pfd[n++].events = POLLIN;
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			fwd_say(f, 0, "spindle: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents && read(fwd_sigpipe[0], &sig, 1) == 1) {
			code = fwd_signalled(f, sig);
			break;
		}
		if (pfd[1].revents && fwd_stdio_read(f, &code))
			break;
		n = 2;
		for (i = 0; i < f->nlsn; i++, n++) {
			if (pfd[n].revents && f->lsn[i].ctl >= 0)
				fwd_lsn_read(f, &f->lsn[i]);
			else if (pfd[n].revents)
				fwd_accept(f, &f->lsn[i]);
		}
		for (i = 0; i < f->nrem; i++, n++) {
			if (pfd[n].revents)
				fwd_rem_read(f, &f->rem[i]);
		}
		for (i = 0; i < FWD_CONN_MAX; i++, n++) {
			if (pfd[n].revents && f->conns[i].ctl >= 0)
				fwd_conn_read(f, &f->conns[i]);
		}
	}
	free(pfd);
	return code;
}

/* -f: ssh's fork_postauth, once everything listens. */
static int
fwd_background(const struct fwd *f)
{
	pid_t pid;
	int null;

	fflush(NULL);
	if ((pid = fork()) < 0) {
		fwd_say(f, 0, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);
	setsid();
	if ((null = open("/dev/null", O_RDWR)) >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (f->opts->verbose < 1)
			dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	return 0;
}

/*
 * The forwards of an ssh command line without a command (-N, -W) or of
 * `spindle forward`: up, held, ended.  Returns ssh's exit status.
 */
int
fwd_main(const struct ctl_spec *spec, const struct fwd_spec *fwds, size_t n,
    const struct fwd_opts *opts)
{
	struct fwd f;
	int code, stdio = 0;

	for (size_t i = 0; i < n; i++)
		stdio |= fwds[i].kind == FWD_STDIO;
	fwd_init(&f, spec, opts);
	fwd_catch();
	/* -W alone connects at once: its FORWARD brings the route up. */
	if ((!stdio || n > 1) && (code = fwd_route_up(&f)) != 0)
		goto out;
	if ((code = fwd_setup(&f, fwds, n)) != 0)
		goto out;
	fwd_handoff(&f);
	/* -W's fds go first: -f puts /dev/null over ours. */
	if (f.stdio != NULL && fwd_stdio_start(&f) != 0) {
		code = 255;
		goto out;
	}
	if (opts->background && fwd_background(&f) != 0) {
		code = 255;
		goto out;
	}
	code = fwd_loop(&f);
out:
	fwd_close(&f);
	return code;
}

/*
 * The forwards of an ssh command line with a command: bound here (their
 * failures said, ExitOnForwardFailure's before the command runs), then
 * held by a child of ours while the caller runs the command.  The
 * child's pid, or -1 with ssh's status in *code.
 */
pid_t
fwd_start(const struct ctl_spec *spec, const struct fwd_spec *fwds,
    size_t n, const struct fwd_opts *opts, int *code)
{
	struct fwd_opts held = *opts;
	struct fwd f;
	pid_t pid, parent = getpid();

	fwd_init(&f, spec, opts);
	if ((*code = fwd_setup(&f, fwds, n)) != 0) {
		fwd_close(&f);
		return -1;
	}
	/* ssh's session channel comes after the listeners.  No ACCEPT
	 * here: once the command is done we are held while a connection
	 * is open, which only our own FORWARDs tell us. */
	f.chan_base++;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		/* Our parent's end is ours: its command is done. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(0);
		/* Its SIGTERM from us is the normal end: no message. */
		held.hold = 1;
		f.opts = &held;
		fwd_catch();
		f.stdio = NULL;
		fwd_loop(&f);
		/* As ssh after its session: held while a forwarded
		 * connection is open (`ssh -f -L ... host sleep 10` then a
		 * client), until it closes or another signal comes. */
		f.draining = 1;
		fwd_loop(&f);
		_exit(0);
	}
	if (pid < 0) {
		fwd_say(&f, 0, "fork: %s", strerror(errno));
		*code = 255;
	}
	fwd_close(&f);
	return pid;
}

/* The command is done: its forwards end with it, once the connections
 * open through them have closed (ssh waits for its channels too). */
void
fwd_stop(pid_t pid)
{
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}
