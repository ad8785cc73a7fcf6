/*
 * The per-user daemon: holds routes open and runs commands on them for
 * clients that connect to its socket (the CLI and the ssh shim).  A
 * client hands over its stdin, stdout and stderr, so command output goes
 * from the route straight to the client's own files.
 */
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "cli.h"

/*
 * What a client may cost (docs/protocol.md, "Limits"): a runaway script
 * of our own user must not pin the daemon's memory or fds.
 */
#define DCONN_MAXFDS	8
#define DCONN_MAX	1024	/* clients at once; and 1/8 of the fd limit */
#define DCONN_IDLE_SECS	10	/* to send HELLO and a whole request */
#define DCONN_DRAIN_SECS 2
#define DCONN_SMALL	4096	/* a message before HELLO or during a job */
#define DCONN_HELD_MAX	(32 * 1024 * 1024)	/* requests, all clients */
#define DCONN_TRIM_MIN	(128 * 1024)	/* freeing this much trims the heap */
#define DCONN_FDQ_MAX	64	/* fds queued to go out with answers */

struct djob;

struct dconn {
	int			 fd;
	struct event		*rev;
	struct event		*wev;
	struct event		*timer;		/* idle deadline, then drain's */
	struct ctl_buf		 in;		/* an unfinished message */
	struct evbuffer		*out;
	/* fds to send, each on the first bytes of its message, which
	 * starts fdq_at[i] bytes into out */
	int			 fdq[DCONN_FDQ_MAX];
	size_t			 fdq_at[DCONN_FDQ_MAX];
	int			 nfdq;
	int			 fds[DCONN_MAXFDS];	/* received, unclaimed */
	int			 nfds;
	pid_t			 pid;		/* the client's, for the log */
	int			 hello;
	int			 closing;	/* once the output is out */
	int			 draining;	/* output out, awaiting EOF */
	struct djob		*job;
	void			(*held)(void *);	/* by dconn_hold */
	void			*held_arg;
	TAILQ_ENTRY(dconn)	 entry;
};

struct djob {
	struct dconn		*c;
	uint32_t		 id;
	uint32_t		 type;	/* SPN_CTL_RUN, _UP, _CHECK, _INFO, _PING */
	struct droute		*dr;
	struct dr_wait		*wait;
	struct xcl		*x;
	struct probe_req	 probe_req;	/* INFO, PING */
	struct probe		*probe;
	struct dfwd		*fwd;		/* FORWARD (dforward.c) */
	struct exec_req		 req;
	int			 fds[3];
	uint32_t		 ping;		/* CHECK's call */
	uint64_t		 t0;
	int			 code;
	int			 sig;		/* that killed the command */
	int			 say;		/* we tell a failure on fds[2] */
	int			 said;
	int			 relayed;	/* a signal its client passed on */
	pid_t			 pid;		/* the client's */
	char			*err;
	size_t			 held;		/* request bytes, in d_held */
};

static struct master	*d_master;
static TAILQ_HEAD(, dconn) d_conns = TAILQ_HEAD_INITIALIZER(d_conns);
static char		*d_sock;
static ino_t		 d_sock_ino;
static struct event	*d_listen_ev;
static uint64_t		 d_started;
static size_t		 d_nconns;
static size_t		 d_maxconns = DCONN_MAX;
/* Bytes of unfinished requests and of RUNs waiting for their route. */
static size_t		 d_held;
/* Whole messages are read here; only an unfinished one is kept. */
static uint8_t		 d_scratch[65536];

static void	dconn_free(struct dconn *);
static void	dconn_reply(struct dconn *, uint32_t, uint32_t, const char *,
		    int);
static void	djob_end(struct djob *, int, const char *);

/*
 * Say why and hang up at once, for a client we cannot afford to keep
 * even for a drain.  On a UNIX socket the ERROR stays readable after
 * the close, whatever the client still sends.
 */
static void
dconn_drop(struct dconn *c, const char *text)
{
	log_info("client %ld dropped: %s", (long)c->pid, text);
	if (!c->closing)
		dconn_reply(c, SPN_CTL_ERROR, 0, text, 255);
	evbuffer_write(c->out, c->fd);
	dconn_free(c);
}

/* No command runs for it: the client has only so long to make one run
 * (or, its answer out, to hang up). */
static void
dconn_idle(struct dconn *c, int secs)
{
	struct timeval tv = { secs, 0 };

	evtimer_add(c->timer, &tv);
}

static void
dconn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dconn *c = arg;
	char *text;

	(void)fd;
	(void)what;
	if (c->job != NULL || c->held != NULL)
		return;
	if (c->draining) {
		dconn_free(c);
		return;
	}
	text = xprintf("no %s within %d s", c->hello ? "whole request" :
	    "HELLO", DCONN_IDLE_SECS);
	dconn_drop(c, text);
	free(text);
}

/*
 * Our last word is out: read (and drop) what the client still sends until
 * it hangs up, or a close with unread input would reset the connection
 * and lose that last word on its way.  A client that keeps talking is
 * cut off all the same, after a while.
 */
static void
dconn_drain(struct dconn *c)
{
	shutdown(c->fd, SHUT_WR);
	c->draining = 1;
	dconn_idle(c, DCONN_DRAIN_SECS);
	event_del(c->rev);
	event_add(c->rev, NULL);
}

/* n bytes of out went: the queued fds' messages came nearer. */
static void
dconn_adv(struct dconn *c, size_t n)
{
	for (int i = 0; i < c->nfdq; i++)
		c->fdq_at[i] -= n;
}

/*
 * Send what the client may read now: the bytes before the next queued
 * fd plainly, then that fd on the first bytes of its message (no more
 * than the header, so that the next fd keeps its own), as ctl_send does.
 */
static int
dconn_flush(struct dconn *c)
{
	struct iovec iov;
	size_t k;
	ssize_t n;

	while (c->nfdq > 0) {
		if (c->fdq_at[0] > 0) {
			n = evbuffer_write_atmost(c->out, c->fd, c->fdq_at[0]);
			if (n <= 0)
				return n < 0 ? -1 : 0;
			dconn_adv(c, n);
			continue;
		}
		k = evbuffer_get_length(c->out);
		if (k > SPN_CTL_HDR)
			k = SPN_CTL_HDR;
		iov.iov_base = evbuffer_pullup(c->out, k);
		iov.iov_len = k;
		if ((n = ctl_sendmsg(c->fd, &iov, 1, &c->fdq[0], 1)) <= 0)
			return -1;
		close(c->fdq[0]);
		c->nfdq--;
		memmove(c->fdq, c->fdq + 1, c->nfdq * sizeof *c->fdq);
		memmove(c->fdq_at, c->fdq_at + 1, c->nfdq * sizeof *c->fdq_at);
		evbuffer_drain(c->out, n);
		dconn_adv(c, n);
	}
	return evbuffer_write(c->out, c->fd);
}

static void
dconn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dconn *c = arg;

	(void)what;
	(void)fd;
	if (dconn_flush(c) < 0 && errno != EAGAIN &&
	    errno != EINTR) {
		dconn_free(c);
		return;
	}
	if (evbuffer_get_length(c->out) > 0)
		event_add(c->wev, NULL);
	else if (c->closing)
		dconn_drain(c);
}

void
dconn_send(struct dconn *c, uint32_t type, uint32_t id, struct pk *body)
{
	uint8_t hdr[SPN_CTL_HDR];
	size_t blen = body != NULL ? body->len : 0;

	if (c == NULL)
		return;
	be32_put(hdr, 8 + blen);
	be32_put(hdr + 4, type);
	be32_put(hdr + 8, id);
	evbuffer_add(c->out, hdr, sizeof hdr);
	if (blen > 0)
		evbuffer_add(c->out, body->buf, blen);
	event_add(c->wev, NULL);
}

/*
 * A message with one fd (ACCEPTED): the fd is the client's now, ours
 * closed once sent.  -1 (fd closed) when too many wait to go out: the
 * client reads too slowly.
 */
int
dconn_send_fd(struct dconn *c, uint32_t type, uint32_t id, struct pk *body,
    int fd)
{
	if (c == NULL || c->nfdq >= DCONN_FDQ_MAX) {
		close(fd);
		return -1;
	}
	c->fdq[c->nfdq] = fd;
	c->fdq_at[c->nfdq++] = evbuffer_get_length(c->out);
	dconn_send(c, type, id, body);
	return 0;
}

static void
dconn_reply(struct dconn *c, uint32_t type, uint32_t id, const char *text,
    int code)
{
	struct pk pk;

	pk_init(&pk);
	pk_str(&pk, text);
	if (type == SPN_CTL_ERROR)
		pk_u32(&pk, code);
	dconn_send(c, type, id, &pk);
	pk_free(&pk);
}

/* Refuse and hang up once the refusal is out. */
static void
dconn_refuse(struct dconn *c, uint32_t id, const char *text)
{
	log_info("client %ld refused: %s", (long)c->pid, text);
	dconn_reply(c, SPN_CTL_ERROR, id, text, 255);
	c->closing = 1;
}

static void
dconn_in_free(struct dconn *c)
{
	int big = c->in.cap >= DCONN_TRIM_MIN;

	if (c->in.data != NULL)
		explicit_bzero(c->in.data, c->in.cap);
	free(c->in.data);
	/* glibc keeps large freed blocks in its heap once its mmap
	 * threshold has risen: give the pages back, or a burst of big
	 * unfinished requests pins them for good.  (musl, the static
	 * build: big blocks are mappings of their own, unmapped on free.) */
#ifdef __GLIBC__
	if (big)
		malloc_trim(0);
#else
	(void)big;
#endif
	d_held -= c->in.cap;
	memset(&c->in, 0, sizeof c->in);
}

static void
dconn_free(struct dconn *c)
{
	/* Its client is gone (a second Ctrl-C, mostly), and has said so
	 * itself if anything was to be said: nothing goes on its stderr. */
	if (c->held != NULL)
		c->held(c->held_arg);
	if (c->job != NULL) {
		c->job->c = NULL;
		c->job->say = 0;
		djob_end(c->job, -1, c->job->relayed ? "interrupted (its "
		    "client went away after a signal)" : "its client went away");
	}
	TAILQ_REMOVE(&d_conns, c, entry);
	d_nconns--;
	for (int i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	for (int i = 0; i < c->nfdq; i++)
		close(c->fdq[i]);
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->timer);
	evbuffer_free(c->out);
	dconn_in_free(c);
	close(c->fd);
	free(c);
}

/*
 * A terminal or a pipe gets a file description of our own (reopened
 * through /proc), so that making it non-blocking here leaves alone the
 * client's shell and whoever else shares the client's: one stopped
 * reader must not block the daemon, and a writer sharing the pipe must
 * not start seeing EAGAIN.  O_NONBLOCK on the open, too: opening a pipe
 * for writing would otherwise wait for a reader that may be gone.
 */
static int
djob_own_fd(int fd)
{
	struct stat st;
	char path[64];
	int nfd, fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fstat(fd, &st) != 0 ||
	    (!S_ISFIFO(st.st_mode) && !isatty(fd)))
		return fd;
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	nfd = open(path, (fl & O_ACCMODE) | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (nfd < 0)
		return fd;
	close(fd);
	return nfd;
}

/* The command line is with the agent, or not needed any more. */
static void
djob_drop_req(struct djob *j)
{
	strv_free(j->req.argv);
	strv_free(j->req.env);
	free((char *)j->req.cwd);
	free((char *)j->req.term);
	j->req.argv = j->req.env = NULL;
	j->req.cwd = j->req.term = NULL;
	d_held -= j->held;
	j->held = 0;
}

static void
djob_free(struct djob *j)
{
	for (int i = 0; i < 3; i++) {
		if (j->fds[i] >= 0)
			close(j->fds[i]);
	}
	djob_drop_req(j);
	dfwd_free(j->fwd, j->err);
	free(j->err);
	free(j);
}

/* One line on a (perhaps non-blocking) fd, waiting a little if full. */
static int
djob_say(int fd, const char *err)
{
	char *line = xprintf("spindle: %s\n", err);
	size_t len = strlen(line), off = 0;
	struct pollfd pfd = { fd, POLLOUT, 0 };
	ssize_t n;

	while (off < len) {
		n = write(fd, line + off, len - off);
		if (n > 0)
			off += n;
		else if (n < 0 && errno == EAGAIN && poll(&pfd, 1, 1000) == 1)
			continue;
		else if (n < 0 && errno == EINTR)
			continue;
		else
			break;
	}
	free(line);
	return off == len;
}

/* CONNECTED, or DONE with how many bytes went each way and why. */
static void
djob_fwd_send(struct djob *j, uint32_t type)
{
	uint64_t in = dfwd_bytes_in(j->fwd), out = dfwd_bytes_out(j->fwd);
	const char *why = dfwd_why(j->fwd);
	struct pk pk;

	pk_init(&pk);
	if (type == SPN_CTL_CONNECTED) {
		pk_str(&pk, dfwd_peer(j->fwd));
		pk_str(&pk, dfwd_target(j->fwd));
	} else {
		pk_u32(&pk, in >> 32);
		pk_u32(&pk, in);
		pk_u32(&pk, out >> 32);
		pk_u32(&pk, out);
		pk_str(&pk, why != NULL ? why : "");
	}
	dconn_send(j->c, type, j->id, &pk);
	pk_free(&pk);
}

static void
djob_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct djob *j = arg;
	struct pk pk;

	(void)fd;
	(void)what;
	exec_free(j->x);
	j->x = NULL;
	/*
	 * A failed route is told on the client's stderr before its pipes
	 * close: rsync and the like quit on a broken pipe, and must not
	 * quit before the message is out.
	 */
	if (j->say && j->code < 0 && j->err != NULL)
		j->said = djob_say(j->fds[2], j->err);
	/* Our copies go before the status: the client's readers see EOF. */
	for (int i = 0; i < 3; i++) {
		if (j->fds[i] >= 0)
			close(j->fds[i]);
		j->fds[i] = -1;
	}
	if (j->c != NULL && j->type == SPN_CTL_RUN) {
		pk_init(&pk);
		pk_u32(&pk, j->code < 0 ? 255 : j->code);
		pk_str(&pk, j->err);
		pk_u32(&pk, j->sig);
		pk_u32(&pk, j->said);
		dconn_send(j->c, SPN_CTL_EXIT, j->id, &pk);
		pk_free(&pk);
	} else if (j->c != NULL && j->fwd != NULL && dfwd_connected(j->fwd))
		djob_fwd_send(j, SPN_CTL_DONE);
	else if (j->c != NULL)
		dconn_reply(j->c, j->code == 0 ? SPN_CTL_OK : SPN_CTL_ERROR,
		    j->id, j->err, j->code < 0 ? 255 : j->code);
	if (j->c != NULL) {
		j->c->job = NULL;
		j->c->closing = 1;
		dconn_idle(j->c, DCONN_IDLE_SECS);
	}
	djob_free(j);
}

/*
 * The job is over (or its client gone): everything is undone from the
 * loop, never from inside the exec or router callback that told us.
 */
static const char *
djob_what(const struct djob *j)
{
	switch (j->type) {
	case SPN_CTL_RUN:
		return "run";
	case SPN_CTL_UP:
		return "up";
	case SPN_CTL_CHECK:
		return "check";
	case SPN_CTL_INFO:
		return "info";
	case SPN_CTL_FORWARD:
		return "forward";
	}
	return "ping";
}

/* A line about the job in the log, on its route's. */
static void
djob_log(struct djob *j, const char *what)
{
	char *old = dlog_route(dr_key(j->dr));

	log_debug("%s for client %ld: %s", djob_what(j), (long)j->pid, what);
	dlog_route_end(old);
}

static void
djob_end(struct djob *j, int code, const char *err)
{
	struct timeval tv = { 0, 0 };
	char *text;

	if (j->dr == NULL)
		return;		/* ending already */
	if (code >= 0 && j->type == SPN_CTL_RUN)
		text = xprintf("exit %d", code);
	else
		text = xstrdup(code >= 0 ? "done" : err != NULL ? err :
		    "failed");
	djob_log(j, text);
	free(text);
	dr_unwait(j->wait);
	j->wait = NULL;
	if (j->ping != 0)
		call_cancel(master_rt(d_master), j->ping);
	probe_cancel(j->probe);
	j->probe = NULL;
	dr_hold(j->dr, -1);
	j->dr = NULL;
	j->code = code;
	j->err = err != NULL ? xstrdup(err) : NULL;
	event_base_once(master_base(d_master), -1, EV_TIMEOUT, djob_finish_cb,
	    j, &tv);
}

static void
djob_exec_done(struct xcl *x, int code, const char *err, void *arg)
{
	struct djob *j = arg;

	j->sig = exec_killed_by(x);
	djob_end(j, code, err);
}

static int
djob_ping_reply(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct djob *j = arg;
	uint64_t usec = now_usec() - j->t0;
	char *text;

	(void)rt;
	j->ping = 0;
	if (m->h.kind == SPN_K_DEAD) {
		text = call_dead_text(m);
		djob_end(j, -1, text);
		free(text);
		return 0;
	}
	dr_set_rtt(j->dr, usec);
	text = xprintf("%llu", (unsigned long long)usec);
	djob_end(j, 0, text);
	free(text);
	return 0;
}

static void
djob_probe_done(const char *text, const char *err, void *arg)
{
	struct djob *j = arg;

	j->probe = NULL;
	djob_end(j, err != NULL ? -1 : 0, err != NULL ? err : text);
}

static void
djob_fwd_connected(struct dfwd *f, void *arg)
{
	djob_fwd_send(arg, SPN_CTL_CONNECTED);
	(void)f;
}

static void
djob_fwd_done(struct dfwd *f, void *arg)
{
	djob_end(arg, dfwd_connected(f) ? 0 : -1, dfwd_why(f));
}

static const struct dfwd_cb djob_fwd_cb = { djob_fwd_connected,
    djob_fwd_done };

static void
djob_ready(struct droute *dr, const char *err, void *arg)
{
	struct djob *j = arg;
	char *text;

	j->wait = NULL;
	if (err != NULL) {
		djob_end(j, -1, err);
		return;
	}
	j->req.ctx = dr_ctx(dr);
	if (j->type == SPN_CTL_UP) {
		/* Up, but a forward of the routes file does not listen: the
		 * route stays (as ssh's without ExitOnForwardFailure). */
		text = dr_forwards(dr);
		djob_end(j, text != NULL ? 1 : 0, text != NULL ? text : "");
		free(text);
		return;
	}
	if (j->type == SPN_CTL_FORWARD) {
		dfwd_go(j->fwd, j->req.ctx);
		return;
	}
	if (j->type == SPN_CTL_CHECK) {
		j->t0 = now_usec();
		j->ping = call_start(master_rt(d_master), j->req.ctx,
		    SPN_H_PING, NULL, djob_ping_reply, j);
		return;
	}
	if (j->type == SPN_CTL_INFO || j->type == SPN_CTL_PING) {
		j->probe = probe_start(master_rt(d_master), dr_chain(dr),
		    &j->probe_req, djob_probe_done, j);
		return;
	}
	j->x = exec_start(master_rt(d_master), &j->req, djob_exec_done, j);
	djob_drop_req(j);
	dconn_send(j->c, SPN_CTL_STARTED, j->id, NULL);
}

static struct djob *
djob_new(struct dconn *c, const struct ctl_msg *m, struct droute *dr)
{
	struct djob *j = xcalloc(1, sizeof *j);

	j->c = c;
	j->pid = c->pid;
	j->id = m->id;
	j->type = m->type;
	j->dr = dr;
	j->fds[0] = j->fds[1] = j->fds[2] = -1;
	j->req.fd_in = j->req.fd_out = j->req.fd_err = -1;
	/* A RUN's command line is held until the route takes it. */
	if (m->type == SPN_CTL_RUN) {
		j->held = m->len;
		d_held += j->held;
	}
	c->job = j;
	dr_hold(dr, 1);
	return j;
}

static void
djob_start(struct djob *j)
{
	djob_log(j, "asked");
	j->wait = dr_use(j->dr, djob_ready, j);
}

/* Claim the fds the mask says came with the request, in order (there
 * are enough: checked before). */
static void
djob_take_fds(struct djob *j, struct dconn *c, uint32_t mask)
{
	int *slot[3] = { &j->req.fd_in, &j->req.fd_out, &j->req.fd_err };
	int k = 0;

	j->req.fd_in = j->req.fd_out = j->req.fd_err = -1;
	for (int i = 0; i < 3; i++) {
		if (mask & (1u << i))
			j->fds[i] = *slot[i] = djob_own_fd(c->fds[k++]);
	}
	memmove(c->fds, c->fds + k, (c->nfds - k) * sizeof *c->fds);
	c->nfds -= k;
}

static struct droute *
dconn_resolve(struct dconn *c, const struct ctl_msg *m,
    const struct ctl_spec *s)
{
	struct droute *dr;
	char why[512];

	if ((dr = dr_resolve(s, why, sizeof why)) == NULL)
		dconn_reply(c, SPN_CTL_ERROR, m->id, why, dr_refused_code());
	return dr;
}

static void
dconn_run(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	struct exec_req req = { 0 };
	struct ctl_spec s;
	struct droute *dr;
	struct djob *j;
	uint32_t mask;

	if (ctl_spec_unpack(u, &s) != 0) {
		dconn_refuse(c, m->id, "malformed route");
		return;
	}
	req.flags = upk_u32(u);
	req.argv = upk_strv(u);
	req.env = upk_strv(u);
	req.cwd = upk_str(u);
	req.rows = upk_u32(u);
	req.cols = upk_u32(u);
	mask = upk_u32(u);
	/* Appended later: a client of an older build sends none. */
	req.term = u->left > 0 ? upk_str(u) : NULL;
	if (u->err || req.argv == NULL || req.argv[0] == NULL ||
	    (req.term != NULL && strlen(req.term) > SPN_EXEC_TERM_MAX) ||
	    mask > (7 | SPN_CTL_SAY) ||
	    __builtin_popcount(mask & 7) > c->nfds) {
		dconn_refuse(c, m->id, "malformed run request");
		dr = NULL;
	} else if ((dr = dconn_resolve(c, m, &s)) != NULL) {
		j = djob_new(c, m, dr);
		j->req = req;
		djob_take_fds(j, c, mask);
		j->say = (mask & SPN_CTL_SAY) && j->fds[2] >= 0;
		djob_start(j);
	}
	ctl_spec_free(&s);
	if (dr == NULL) {
		strv_free(req.argv);
		strv_free(req.env);
		free((char *)req.cwd);
		free((char *)req.term);
	}
}

/* Like RUN, with the socket (or -W's stdin and stdout) passed. */
static void
dconn_forward(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	struct dfwd_req r;
	struct ctl_spec s;
	struct droute *dr;
	struct djob *j;
	char what[32];

	if (ctl_spec_unpack(u, &s) != 0) {
		dconn_refuse(c, m->id, "malformed route");
		return;
	}
	if (dfwd_unpack(u, &r, c->nfds) != 0)
		dconn_refuse(c, m->id, "malformed forward request");
	else if ((dr = dconn_resolve(c, m, &s)) != NULL) {
		j = djob_new(c, m, dr);
		djob_take_fds(j, c, dfwd_fd_mask(&r));
		snprintf(what, sizeof what, "client %ld", (long)c->pid);
		j->fwd = dfwd_new(master_rt(d_master), dr_key(dr), what, &r,
		    j->fds[0], j->fds[r.mode == SPN_FWD_STDIO], &djob_fwd_cb,
		    j);
		j->fds[0] = j->fds[1] = -1;
		djob_start(j);
	}
	free(r.host);
	ctl_spec_free(&s);
}

static void
dconn_up(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	struct ctl_spec s;
	struct droute *dr;
	char *name = upk_str(u), why[512];
	int persist;

	if (name == NULL || *name == '\0' || ctl_spec_unpack(u, &s) != 0) {
		free(name);
		dconn_refuse(c, m->id, "malformed up request");
		return;
	}
	/* Seconds idle before it closes; without them, never. */
	persist = (int32_t)upk_u32(u);
	if (u->err || persist < PERSIST_NEVER || persist > PERSIST_MAX)
		persist = PERSIST_NEVER;
	dr = dr_define(name, &s, persist, why, sizeof why);
	ctl_spec_free(&s);
	free(name);
	if (dr == NULL) {
		dconn_reply(c, SPN_CTL_ERROR, m->id, why, dr_refused_code());
		return;
	}
	djob_start(djob_new(c, m, dr));
}

static void
dconn_check(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	struct ctl_spec s;
	struct droute *dr;

	if (ctl_spec_unpack(u, &s) != 0) {
		dconn_refuse(c, m->id, "malformed route");
		return;
	}
	if ((dr = dconn_resolve(c, m, &s)) != NULL)
		djob_start(djob_new(c, m, dr));
	ctl_spec_free(&s);
}

/* info and ping of spindle alone, on a route of ours. */
static void
dconn_probe(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	struct probe_req req = { .info = m->type == SPN_CTL_INFO };
	struct ctl_spec s;
	struct droute *dr;
	struct djob *j;

	if (ctl_spec_unpack(u, &s) != 0) {
		dconn_refuse(c, m->id, "malformed route");
		return;
	}
	if (!req.info) {
		req.count = upk_u32(u);
		req.size = upk_u32(u);
	}
	if (u->err || (!req.info && (req.count < 1 ||
	    req.count > PROBE_COUNT_MAX || req.size > PROBE_SIZE_MAX)))
		dconn_refuse(c, m->id, "malformed ping request");
	else if ((dr = dconn_resolve(c, m, &s)) != NULL) {
		j = djob_new(c, m, dr);
		j->probe_req = req;
		djob_start(j);
	}
	ctl_spec_free(&s);
}

static void
dconn_down(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	char *name = upk_str(u), why[256];

	if (name == NULL || dr_down(name, why, sizeof why) != 0)
		dconn_reply(c, SPN_CTL_ERROR, m->id, name ? why : "malformed",
		    1);
	else
		dconn_reply(c, SPN_CTL_OK, m->id, "", 0);
	free(name);
}

static void
dconn_ls(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	char why[512], *text = dr_list(upk_u32(u) != 0, why, sizeof why);

	/* Not an empty table, as if there were no routes. */
	if (text == NULL)
		dconn_reply(c, SPN_CTL_ERROR, m->id, why, 255);
	else
		dconn_reply(c, SPN_CTL_OK, m->id, text, 0);
	free(text);
}

static void
dconn_status(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	char *exe = client_self_exe(), *text;

	/* Which binary: after an upgrade, exe ends in " (deleted)". */
	text = xprintf("running, pid %ld, up %llu s, %zu routes "
	    "(%zu up), %zu clients (at most %zu), spindle %s (%s), log %s",
	    (long)getpid(),
	    (unsigned long long)(now_usec() - d_started) / 1000000,
	    dr_count(0), dr_count(1), dconn_count(), d_maxconns,
	    PACKAGE_VERSION, exe != NULL ? exe : "?", dlog_path());
	free(exe);
	(void)u;
	dconn_reply(c, SPN_CTL_OK, m->id, text, 0);
	free(text);
}

static void
dconn_signal(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	uint32_t sig = upk_u32(u);
	struct djob *j = c->job;

	(void)m;
	if (j == NULL || sig == 0 || sig >= NSIG)
		return;
	j->relayed = sig;
	if (j->x != NULL)
		exec_signal(j->x, sig);
	else if (j->wait != NULL)
		djob_end(j, 128 + sig, NULL);	/* still connecting: give up */
}

static void
dconn_winch(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	uint32_t rows = upk_u32(u), cols = upk_u32(u);

	(void)m;
	if (c->job != NULL && c->job->x != NULL && !u->err)
		exec_winch(c->job->x, rows, cols);
}

static void
dconn_stop(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	(void)u;
	dconn_reply(c, SPN_CTL_OK, m->id, "stopping", 0);
	daemon_stop();
}

static const struct {
	uint32_t	 type;
	int		 needs_idle;	/* refused while a job runs */
	void		(*fn)(struct dconn *, const struct ctl_msg *,
			    struct upk *);
} dconn_table[] = {
	{ SPN_CTL_RUN, 1, dconn_run },
	{ SPN_CTL_FORWARD, 1, dconn_forward },
	{ SPN_CTL_UP, 1, dconn_up },
	{ SPN_CTL_CHECK, 1, dconn_check },
	{ SPN_CTL_INFO, 1, dconn_probe },
	{ SPN_CTL_PING, 1, dconn_probe },
	{ SPN_CTL_DOWN, 1, dconn_down },
	{ SPN_CTL_LS, 1, dconn_ls },
	{ SPN_CTL_STATUS, 1, dconn_status },
	{ SPN_CTL_STOP, 1, dconn_stop },
	{ SPN_CTL_SIGNAL, 0, dconn_signal },
	{ SPN_CTL_WINCH, 0, dconn_winch },
	{ SPN_CTL_LISTEN, 1, dremote_listen },
	{ SPN_CTL_ACCEPT, 1, daccept_request },
	{ SPN_CTL_GATEWAY, 1, dgw_request },
};

static void
dconn_hello(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	uint32_t version = upk_u32(u);
	struct pk pk;
	struct stat st;
	char *text, *exe, *id;

	if (m->type != SPN_CTL_HELLO || u->err) {
		dconn_refuse(c, m->id, "expected HELLO first");
		return;
	}
	if (version != SPN_CTL_VERSION) {
		text = xprintf("client speaks control protocol %u, this "
		    "daemon %u (stop it with 'spindle daemon stop')", version,
		    SPN_CTL_VERSION);
		dconn_refuse(c, m->id, text);
		free(text);
		return;
	}
	c->hello = 1;
	pk_init(&pk);
	pk_u32(&pk, SPN_CTL_VERSION);
	pk_u32(&pk, getpid());
	/* Which build we are: a client of another says so. */
	pk_str(&pk, PACKAGE_VERSION);
	/*
	 * And which binary, as we see it: we are not dumpable, so a client
	 * that is not root cannot read our /proc/PID/exe.
	 */
	exe = client_self_exe();
	if (stat("/proc/self/exe", &st) != 0)
		memset(&st, 0, sizeof st);
	pk_str(&pk, exe != NULL ? exe : "");
	id = xprintf("%llx:%llx", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	pk_str(&pk, id);
	free(id);
	free(exe);
	dconn_send(c, SPN_CTL_HELLO, m->id, &pk);
	pk_free(&pk);
}

/*
 * A RUN, UP or CHECK holds a client slot until it is done: with every
 * slot held, a newcomer may only ask what is answered at once.
 */
static int
dconn_full(uint32_t type)
{
	struct dconn *c;
	size_t n = 0;

	if (type != SPN_CTL_RUN && type != SPN_CTL_UP &&
	    type != SPN_CTL_CHECK && type != SPN_CTL_FORWARD &&
	    type != SPN_CTL_LISTEN && type != SPN_CTL_ACCEPT)
		return 0;
	TAILQ_FOREACH(c, &d_conns, entry)
		n += c->job != NULL || c->held != NULL;
	return n >= d_maxconns;
}

static void
dconn_dispatch(struct dconn *c, const struct ctl_msg *m)
{
	struct upk u;
	char *text;

	upk_init(&u, m->body, m->len);
	/* STOP needs no HELLO: a client of any version stops any daemon. */
	if (!c->hello && m->type == SPN_CTL_STOP) {
		dconn_stop(c, m, &u);
		return;
	}
	if (!c->hello) {
		dconn_hello(c, m, &u);
		return;
	}
	/* A client that sends and never reads gets no more answers. */
	if (evbuffer_get_length(c->out) > SPN_CTL_MAX) {
		dconn_refuse(c, m->id, "too many answers unread");
		return;
	}
	for (size_t i = 0; i < sizeof dconn_table / sizeof *dconn_table; i++) {
		if (dconn_table[i].type != m->type)
			continue;
		if (dconn_table[i].needs_idle && (c->job != NULL ||
		    c->held != NULL))
			dconn_refuse(c, m->id, "one request at a time");
		else if (dconn_full(m->type)) {
			text = xprintf("too many clients: %zu commands "
			    "running, as many as this daemon takes at once; "
			    "try again later", d_maxconns);
			dconn_refuse(c, m->id, text);
			free(text);
		} else
			dconn_table[i].fn(c, m, &u);
		return;
	}
	text = xprintf("unknown request type %u", m->type);
	dconn_refuse(c, m->id, text);
	free(text);
}

/*
 * The length a message announces, against what the client may send now:
 * before HELLO and while its command runs, only small ones.
 */
static int
dconn_len_ok(struct dconn *c, const uint8_t *p)
{
	uint32_t n = be32_get(p), max = SPN_CTL_MAX;
	char *text;

	if (!c->hello || c->job != NULL || c->held != NULL)
		max = DCONN_SMALL;
	if (n >= 8 && n <= max)
		return 1;
	if (!c->hello)
		text = xprintf("expected HELLO first, not a message of %u "
		    "bytes", n);
	else if (n < 8)
		text = xstrdup("malformed message");
	else
		text = xprintf("message of %u bytes, over the limit of %u%s",
		    n, max, c->job != NULL ? " while a command runs" : "");
	dconn_refuse(c, 0, text);
	free(text);
	return 0;
}

/*
 * A request served elsewhere (dremote.c's LISTEN) holds the connection
 * as a job does, and hears gone(arg) when it closes; NULL once it is
 * done (its last word sent): the client then has 10 s to hang up.
 */
void
dconn_hold(struct dconn *c, void (*gone)(void *), void *arg)
{
	c->held = gone;
	c->held_arg = arg;
	if (gone != NULL)
		evtimer_del(c->timer);
	else {
		c->closing = 1;
		dconn_idle(c, DCONN_IDLE_SECS);
	}
}

/* For a request served elsewhere (daccept.c): the first fd that came
 * with it, ours now, or -1. */
int
dconn_take_fd(struct dconn *c)
{
	int fd;

	if (c->nfds == 0)
		return -1;
	fd = c->fds[0];
	memmove(c->fds, c->fds + 1, (c->nfds - 1) * sizeof *c->fds);
	c->nfds--;
	return fd;
}

pid_t
dconn_pid(const struct dconn *c)
{
	return c->pid;
}

/* Bytes of answers not yet out: a client that reads none gets no more
 * notices. */
size_t
dconn_unsent(const struct dconn *c)
{
	return c != NULL ? evbuffer_get_length(c->out) : SIZE_MAX;
}

void
dconn_reply_ok(struct dconn *c, uint32_t id)
{
	dconn_reply(c, SPN_CTL_OK, id, "", 0);
}

/* Dispatch the whole messages in buf; returns the bytes they took. */
static size_t
dconn_parse(struct dconn *c, const uint8_t *buf, size_t len)
{
	struct ctl_msg m;
	size_t off = 0;

	while (!c->closing && len - off >= 4 && dconn_len_ok(c, buf + off) &&
	    ctl_parse(buf + off, len - off, &m) > 0) {
		off += SPN_CTL_HDR + m.len;
		dconn_dispatch(c, &m);
		if (c->job != NULL)
			evtimer_del(c->timer);
	}
	return off;
}

/*
 * Room for more bytes of requests: idle clients with an unfinished one
 * make it, the one waiting longest first.  0: not enough of them.
 */
static int
dconn_afford(struct dconn *c, size_t more)
{
	struct dconn *o, *next;

	for (o = TAILQ_FIRST(&d_conns); o != NULL &&
	    d_held + more > DCONN_HELD_MAX; o = next) {
		next = TAILQ_NEXT(o, entry);
		if (o != c && o->job == NULL && o->in.cap > 0)
			dconn_drop(o, "unfinished requests of all clients "
			    "over 32 MiB: the one waiting longest goes");
	}
	return d_held + more <= DCONN_HELD_MAX;
}

/*
 * Keep the start of a message (r bytes at p) until the rest comes: once
 * its length is known, in a buffer that fits the whole of it and no
 * more.  0: the client was dropped.
 */
static int
dconn_keep(struct dconn *c, const uint8_t *p, size_t r)
{
	size_t need = r < 4 ? 4 : 4 + (size_t)be32_get(p);
	void *buf = NULL;

	if (r == 0) {
		dconn_in_free(c);
		return 1;
	}
	if (c->in.cap == need)
		return 1;	/* p is its start already */
	if (dconn_afford(c, need - c->in.cap))
		buf = malloc(need);
	if (buf == NULL) {
		dconn_drop(c, "unfinished requests of all clients over "
		    "32 MiB: try again later");
		return 0;
	}
	memcpy(buf, p, r);
	dconn_in_free(c);
	c->in.data = buf;
	c->in.cap = need;
	c->in.len = r;
	d_held += need;
	return 1;
}

static void
dconn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dconn *c = arg;
	uint8_t *buf = d_scratch;
	size_t len = 0, room = sizeof d_scratch, off;
	ssize_t n;
	int got = 0;

	(void)what;
	if (c->draining) {
		n = recv(fd, d_scratch, sizeof d_scratch, 0);
		if (n > 0)
			explicit_bzero(d_scratch, n);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			dconn_free(c);
		return;
	}
	/* The rest of an unfinished message goes where its start is. */
	if (c->in.data != NULL) {
		buf = c->in.data;
		len = c->in.len;
		room = c->in.cap - len;
	}
	n = ctl_read(fd, buf + len, room, c->fds + c->nfds, &got,
	    DCONN_MAXFDS - c->nfds, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n == 0 && len > 0 && !c->closing)
			dconn_refuse(c, 0, "truncated message");
		dconn_in_free(c);
		if (c->closing)
			event_del(c->rev);	/* the reply goes first */
		else
			dconn_free(c);
		return;
	}
	c->nfds += got;
	len += n;
	if (buf == c->in.data)
		c->in.len = len;
	off = dconn_parse(c, buf, len);
	if (c->closing)
		dconn_in_free(c);
	else
		dconn_keep(c, buf + off, len - off);
	/* Requests may carry a password: none stays in the read buffer. */
	if (buf == d_scratch)
		explicit_bzero(d_scratch, len);
	else if (c->in.data == buf)
		explicit_bzero(buf, off);
}

size_t
dconn_count(void)
{
	return d_nconns;
}

size_t
dconn_max(void)
{
	return d_maxconns;
}

static int
daemon_peer_ok(struct dconn *c)
{
	struct ucred cr;
	socklen_t len = sizeof cr;

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return 0;
	c->pid = cr.pid;
	return cr.uid == getuid();
}

static int
dconn_idle_now(const struct dconn *c, const struct dconn *new)
{
	return c != new && c->job == NULL && c->held == NULL;
}

/* The process holding most of the idle connections (Boyer-Moore's
 * majority vote: the right one whenever one holds more than half). */
static pid_t
dconn_crowd(const struct dconn *new)
{
	struct dconn *c;
	pid_t pid = 0;
	size_t n = 0;

	TAILQ_FOREACH(c, &d_conns, entry) {
		if (!dconn_idle_now(c, new))
			continue;
		if (n == 0)
			pid = c->pid;
		n += pid == c->pid ? 1 : -1;
	}
	return pid;
}

/*
 * Over the cap: the clients idle longest make room for the newcomer,
 * first those of a process holding most of them: one process opening
 * connections by the hundred (a runaway script) must not push out
 * another's single one, accepted but not yet written to (a loaded
 * machine can leave a client that long between connect and send).  A
 * client that is served is never idle.  If every other one runs a
 * command, the newcomer stays, one over the cap, for what is answered
 * at once (STOP above all): see dconn_full.
 */
static void
dconn_make_room(struct dconn *new)
{
	struct dconn *c, *next;
	pid_t crowd = dconn_crowd(new);
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (c = TAILQ_FIRST(&d_conns); c != NULL &&
		    d_nconns > d_maxconns; c = next) {
			next = TAILQ_NEXT(c, entry);
			if (dconn_idle_now(c, new) &&
			    (pass == 1 || c->pid == crowd))
				dconn_drop(c, "too many clients: the one "
				    "idle longest goes");
		}
	}
}

static void
daemon_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	static int d_paused;
	struct timeval pause = { 0, 100000 };
	struct dconn *c;
	int fd;

	(void)what;
	(void)arg;
	if (d_paused) {
		event_del(d_listen_ev);
		event_add(d_listen_ev, NULL);
		d_paused = 0;
	}
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
		/* Out of fds: the listener would fire at once again; give
		 * the running commands a moment to give some back. */
		if (errno == EMFILE || errno == ENFILE) {
			log_warn("out of file descriptors: %s",
			    strerror(errno));
			event_del(d_listen_ev);
			event_add(d_listen_ev, &pause);
			d_paused = 1;
		}
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->out = evbuffer_new();
	c->rev = event_new(master_base(d_master), fd, EV_READ | EV_PERSIST,
	    dconn_read_cb, c);
	c->wev = event_new(master_base(d_master), fd, EV_WRITE,
	    dconn_write_cb, c);
	c->timer = evtimer_new(master_base(d_master), dconn_timer_cb, c);
	TAILQ_INSERT_TAIL(&d_conns, c, entry);
	d_nconns++;
	dconn_idle(c, DCONN_IDLE_SECS);
	if (!daemon_peer_ok(c)) {
		dconn_refuse(c, 0, "this spindle daemon serves its own user "
		    "only");
		return;
	}
	if (d_nconns > d_maxconns)
		dconn_make_room(c);
	event_add(c->rev, NULL);
}

/* Bind a temporary name, then rename: the socket appears whole or not. */
static int
daemon_listen(const char *dir, char *why, size_t whylen)
{
	struct sockaddr_un sun;
	struct stat st;
	char *tmp = xprintf("%s/sock.%ld", dir, (long)getpid());
	int fd;
	mode_t mask;

	d_sock = xprintf("%s/sock", dir);
	unlink(tmp);
	if (ctl_sockaddr(tmp, &sun) != 0 || ctl_sockaddr(d_sock, &sun) != 0 ||
	    ctl_sockaddr(tmp, &sun) != 0) {
		snprintf(why, whylen, "socket path %s is too long", d_sock);
		free(tmp);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	mask = umask(077);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
	    chmod(tmp, 0600) != 0 || listen(fd, 128) != 0 ||
	    rename(tmp, d_sock) != 0 ||
	    stat(d_sock, &st) != 0) {
		snprintf(why, whylen, "cannot listen on %s: %s", d_sock,
		    strerror(errno));
		umask(mask);
		unlink(tmp);
		free(tmp);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	umask(mask);
	free(tmp);
	d_sock_ino = st.st_ino;
	return fd;
}

static void
daemon_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval grace = { 0, 200000 };
	struct dconn *c, *next;
	struct stat st;

	(void)fd;
	(void)what;
	(void)arg;
	log_info("daemon stopping");
	/* Only our own socket: a newer daemon may have taken the name. */
	if (stat(d_sock, &st) == 0 && st.st_ino == d_sock_ino)
		unlink(d_sock);
	event_del(d_listen_ev);
	for (c = TAILQ_FIRST(&d_conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->job != NULL)
			djob_end(c->job, -1, "the spindle daemon stopped");
	}
	/* Time for the jobs' last words to reach their clients. */
	event_base_loopexit(master_base(d_master), &grace);
}

void
daemon_stop(void)
{
	struct timeval tv = { 0, 0 };

	event_base_once(master_base(d_master), -1, EV_TIMEOUT,
	    daemon_stop_cb, NULL, &tv);
}

static void
daemon_signal(int sig, void *arg)
{
	(void)arg;
	log_info("signal %d", sig);
	daemon_stop();
}

/* Nothing of the client that started us: no fds, no terminal. */
static void
daemon_detach(const char *dir, int keep)
{
	int fd;

	if ((fd = open("/dev/null", O_RDONLY)) >= 0 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	dlog_open(dir);
	/* The system call: musl (the static build) has no wrapper. */
	if (keep > 3)
		syscall(SYS_close_range, 3, keep - 1, 0);
	syscall(SYS_close_range, keep + 1, ~0U, 0);
	setsid();
	if (chdir("/") != 0)
		return;
}

/*
 * spindle daemon serve: the daemon itself.  ready_fd (or -1) gets one
 * byte once the socket accepts connections.
 */
int
daemon_serve(int ready_fd)
{
	struct master_opts mo = MASTER_OPTS_UNSET;
	struct rlimit rl;
	char why[512], *dir;
	int lfd;

	if (ctl_dir(1, &dir, why, sizeof why) != 0) {
		fprintf(stderr, "spindle: %s\n", why);
		return 255;
	}
	daemon_detach(dir, ready_fd >= 0 ? ready_fd : 2);
	/* Its log is read after the fact: routes coming and going, and
	 * what their hops said, at least. */
	if (log_get_level() < SPN_LOG_INFO)
		log_set_level(SPN_LOG_INFO);
	/* Clients hand us passwords. */
	secret_nodump();
	/* A daemon runs for weeks: big request bodies (long command lines)
	 * get pages of their own that go back when freed, rather than the
	 * heap that glibc's rising mmap threshold would leave them in. */
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, DCONN_TRIM_MIN);
#endif
	if ((lfd = daemon_listen(dir, why, sizeof why)) < 0) {
		log_error("%s", why);
		free(dir);
		return 255;
	}
	free(dir);
	d_started = now_usec();
	/* Up to three fds per command: as many as we may have.  A client
	 * costs up to four; routes need theirs. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 8 < DCONN_MAX)
		d_maxconns = rl.rlim_cur / 8 > 8 ? rl.rlim_cur / 8 : 8;
	d_master = sig_master_new(&mo);
	sig_on_signal(daemon_signal, NULL);
	dr_init(d_master);
	dremote_init(d_master);
	dfwd_init(d_master);
	daccept_init(d_master);
	dgw_init(d_master);
	d_listen_ev = event_new(master_base(d_master), lfd,
	    EV_READ | EV_PERSIST, daemon_accept_cb, NULL);
	event_add(d_listen_ev, NULL);
	log_info("daemon %ld listening on %s", (long)getpid(), d_sock);
	if (ready_fd >= 0) {
		if (write(ready_fd, "", 1) < 0)
			log_warn("cannot tell the client we are ready");
		close(ready_fd);
	}
	event_base_dispatch(master_base(d_master));
	dgw_shutdown();
	daccept_shutdown();
	dfwd_shutdown();
	dr_shutdown();
	master_teardown(d_master);
	close(lfd);
	return 0;
}
