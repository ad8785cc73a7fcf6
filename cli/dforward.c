/*
 * The daemon's forwards: a TCP connection made at a route's last context
 * (tcp-client.c), joined to fds the daemon holds.  Two kinds of owner
 * start one: a FORWARD request (daemon.c's djob, with the client's fds)
 * and a listener of the routes file's `forward L|D` lines, bound by the
 * daemon while the route is held (each accepted socket a forward of its
 * own, as a FORWARD request would make it).  A `forward R` line is a
 * listener at the route's far end (dremote.c's, as for a LISTEN), asked
 * for again each time the route comes up on a new chain.
 *
 * A SOCKS forward reads the request on its socket first, with MSG_PEEK,
 * so that whatever the client sends behind it stays in the socket for
 * the connection; the client gets its answer only once the far end has
 * connected (or failed: the real reason, not ssh's early success).
 *
 * Every forward ends in one line of the daemon's log: route, target,
 * and how it went (the far side's words when it failed).
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define DFWD_SOCKS_SECS	10	/* for a whole SOCKS request */
#define DFWD_SOCKS_READ	512	/* peeked at once: a request is shorter */
#define DLIS_FDS	2	/* a listener's sockets (IPv4 and IPv6) */
#define DFWD_HOST_MAX	1024	/* a name, an address or a path */

struct dlis;

struct dfwd {
	struct rt		*rt;
	char			*key;		/* the route's, for the log */
	char			*what;		/* "client 123", "L 5432" */
	uint32_t		 mode;		/* SPN_FWD_* */
	uint32_t		 flags;
	char			*host;		/* the target asked */
	uint32_t		 port;
	char			*target;	/* host:port, once known */
	int			 ready;		/* ... it is */
	int			 fd_in;		/* ours until tcp_start */
	int			 fd_out;
	int			 sock;		/* SOCKS: its socket, to answer */
	int			 sock_dup;	/* ... a dup of ours (see
						 * dfwd_connect) */
	uint32_t		 ctx;		/* 0 until the route is up */
	struct socks		*socks;		/* SOCKS: until it is read */
	struct event		*rev;
	struct event		*timer;
	struct tcl		*tcl;
	char			*peer;		/* CONNECTED's */
	char			*why;		/* how it ended */
	int			 ended;		/* end called */
	int			 logged;
	uint64_t		 t0;
	const struct dfwd_cb	*cb;
	void			*arg;
	/* A listener's: its route, held while the forward lasts. */
	struct droute		*dr;
	struct dr_wait		*wait;
	TAILQ_ENTRY(dfwd)	 entry;
};

struct dlis {
	struct droute		*dr;
	char			*key;
	char			*text;		/* "L 127.0.0.1:5432 db:5432" */
	struct fwd_spec		 spec;
	int			 fds[DLIS_FDS];
	int			 nfds;
	struct event		*evs[DLIS_FDS];
	char			*unlink;	/* a UNIX socket we made */
	char			*error;		/* why it is not listening */
	struct drem		*drem;		/* R: the far listener */
	uint32_t		 rctx;		/* ... of this context */
	int			 seen;		/* in the file at the last open */
	TAILQ_ENTRY(dlis)	 entry;
};

static TAILQ_HEAD(, dfwd) dfwd_held = TAILQ_HEAD_INITIALIZER(dfwd_held);
static TAILQ_HEAD(, dlis) dlis_all = TAILQ_HEAD_INITIALIZER(dlis_all);
static size_t		 dfwd_nheld;
static struct master	*dfwd_master;

static void	dfwd_connect(struct dfwd *);
static void	dfwd_socks_read_cb(evutil_socket_t, short, void *);
static void	dfwd_socks_timer_cb(evutil_socket_t, short, void *);

void
dfwd_init(struct master *m)
{
	dfwd_master = m;
}

/* The request's body after the spec: 0, or -1 if it is malformed. */
int
dfwd_unpack(struct upk *u, struct dfwd_req *r, int nfds)
{
	memset(r, 0, sizeof *r);
	r->mode = upk_u32(u);
	r->flags = upk_u32(u);
	r->host = upk_str(u);
	r->port = upk_u32(u);
	if (u->err || r->host == NULL || r->port > 65535 ||
	    (r->flags & ~SPN_FWD_F_UNIX) != 0 ||
	    strlen(r->host) > DFWD_HOST_MAX ||
	    (r->mode != SPN_FWD_DIRECT && r->mode != SPN_FWD_SOCKS &&
	    r->mode != SPN_FWD_STDIO) ||
	    nfds < (r->mode == SPN_FWD_STDIO ? 2 : 1) ||
	    (r->mode != SPN_FWD_SOCKS && *r->host == '\0')) {
		free(r->host);
		r->host = NULL;
		return -1;
	}
	return 0;
}

/* How many fds a request of that mode brings: the mask djob_take_fds
 * wants. */
uint32_t
dfwd_fd_mask(const struct dfwd_req *r)
{
	return r->mode == SPN_FWD_STDIO ? 3 : 1;
}

static char *
dfwd_target_text(const char *host, uint32_t port, uint32_t flags)
{
	if (flags & SPN_FWD_F_UNIX)
		return xstrdup(host);
	if (strchr(host, ':') != NULL)
		return xprintf("[%s]:%u", host, port);
	return xprintf("%s:%u", host, port);
}

static const char *
dfwd_mode_name(uint32_t mode)
{
	return mode == SPN_FWD_SOCKS ? "socks" : mode == SPN_FWD_STDIO ?
	    "stdio" : "direct";
}

/*
 * A forward, for route key, of fds in and out (the same socket but for
 * STDIO), which are ours from now on.  It waits for dfwd_go (the route
 * up); a SOCKS one reads its request meanwhile.
 */
struct dfwd *
dfwd_new(struct rt *rt, const char *key, const char *what,
    const struct dfwd_req *r, int fd_in, int fd_out,
    const struct dfwd_cb *cb, void *arg)
{
	struct dfwd *f = xcalloc(1, sizeof *f);
	struct timeval tv = { DFWD_SOCKS_SECS, 0 };

	f->rt = rt;
	f->key = xstrdup(key);
	f->what = xstrdup(what);
	f->mode = r->mode;
	f->flags = r->flags;
	f->host = xstrdup(r->host);
	f->port = r->port;
	f->fd_in = fd_in;
	f->fd_out = fd_out;
	f->cb = cb;
	f->arg = arg;
	f->t0 = now_usec();
	if (f->mode != SPN_FWD_SOCKS) {
		f->ready = 1;
		f->target = dfwd_target_text(f->host, f->port, f->flags);
		return f;
	}
	f->target = xstrdup("?");	/* until the client has said */
	f->sock = fd_out;
	f->socks = xcalloc(1, sizeof *f->socks);
	socks_init(f->socks);
	f->rev = event_new(master_base(dfwd_master), fd_in,
	    EV_READ | EV_PERSIST, dfwd_socks_read_cb, f);
	f->timer = evtimer_new(master_base(dfwd_master), dfwd_socks_timer_cb,
	    f);
	event_add(f->rev, NULL);
	evtimer_add(f->timer, &tv);
	return f;
}

/* One line for the log, once. */
static void
dfwd_log(struct dfwd *f)
{
	char *old;
	double secs = (now_usec() - f->t0) / 1e6;

	if (f->logged)
		return;
	f->logged = 1;
	old = dlog_route(f->key);
	if (f->peer == NULL)
		log_info("forward to %s (%s, %s): %s", f->target,
		    dfwd_mode_name(f->mode), f->what,
		    f->why != NULL ? f->why : "failed");
	else
		log_info("forward to %s (%s, %s): connected to %s, %s after "
		    "%.1f s, %llu bytes in, %llu out", f->target,
		    dfwd_mode_name(f->mode), f->what, f->peer,
		    f->why != NULL && *f->why != '\0' ? f->why : "closed",
		    secs, (unsigned long long)dfwd_bytes_in(f),
		    (unsigned long long)dfwd_bytes_out(f));
	dlog_route_end(old);
}

/* It is over (why: NULL when both ways closed cleanly): the owner
 * hears it once, and frees us (not from here). */
static void
dfwd_end(struct dfwd *f, const char *why)
{
	if (f->ended)
		return;
	f->ended = 1;
	if (f->why == NULL && why != NULL)
		f->why = xstrdup(why);
	if (f->rev != NULL)
		event_del(f->rev);
	if (f->timer != NULL)
		evtimer_del(f->timer);
	dfwd_log(f);
	f->cb->done(f, f->arg);
}

static void	dfwd_socks_answer(struct dfwd *, int);

static void
dfwd_fail(struct dfwd *f, const char *why)
{
	/* A whole SOCKS request not answered yet (the route failed): a
	 * general failure, not just a close. */
	if (f->ready && f->socks != NULL && f->tcl == NULL && !f->sock_dup)
		dfwd_socks_answer(f, ECONNABORTED);
	dfwd_end(f, why);
}

/* A SOCKS answer: a few bytes to a socket whose buffer is empty. */
static int
dfwd_socks_send(struct dfwd *f, const uint8_t *buf, size_t len)
{
	return send(f->sock, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	    (ssize_t)len ? 0 : -1;
}

static void
dfwd_socks_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dfwd *f = arg;
	uint8_t in[DFWD_SOCKS_READ], out[SOCKS_OUT_MAX];
	size_t used = 0, outlen = 0;
	char why[256] = "";
	ssize_t n;
	int rc;

	(void)what;
	n = recv(fd, in, sizeof in, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		dfwd_fail(f, n == 0 ? "the SOCKS client closed before its "
		    "request" : strerror(errno));
		return;
	}
	rc = socks_feed(f->socks, in, n, &used, out, &outlen, why,
	    sizeof why);
	/* What it took goes; what follows a whole request is the
	 * connection's, and stays in the socket for it. */
	if (used > 0 && recv(fd, in, used, MSG_DONTWAIT) != (ssize_t)used) {
		dfwd_fail(f, "cannot read the SOCKS request");
		return;
	}
	if (outlen > 0 && dfwd_socks_send(f, out, outlen) != 0) {
		dfwd_fail(f, "cannot answer the SOCKS client");
		return;
	}
	if (rc == SOCKS_ERROR) {
		dfwd_fail(f, *why != '\0' ? why : "bad SOCKS request");
		return;
	}
	if (rc != SOCKS_READY)
		return;
	event_del(f->rev);
	evtimer_del(f->timer);
	free(f->host);
	free(f->target);
	f->host = xstrdup(f->socks->host);
	f->port = f->socks->port;
	f->target = dfwd_target_text(f->host, f->port, 0);
	f->ready = 1;
	if (f->ctx != 0)
		dfwd_connect(f);
}

static void
dfwd_socks_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dfwd *f = arg;
	char *why = xprintf("no whole SOCKS request within %d s",
	    DFWD_SOCKS_SECS);

	(void)fd;
	(void)what;
	dfwd_fail(f, why);
	free(why);
}

/* The SOCKS client learns how the connect went, in its own codes. */
static void
dfwd_socks_answer(struct dfwd *f, int err)
{
	uint8_t out[SOCKS_OUT_MAX];
	size_t len = socks_reply(f->socks, err, out);

	if (len > 0 && dfwd_socks_send(f, out, len) != 0)
		log_debug("forward to %s: cannot answer the SOCKS client",
		    f->target);
}

static void
dfwd_open_cb(struct tcl *t, int err, const char *text, void *arg)
{
	struct dfwd *f = arg;

	(void)t;
	if (f->socks != NULL && f->sock_dup) {
		dfwd_socks_answer(f, err);
		close(f->sock);
		f->sock_dup = 0;
	}
	if (err != 0) {
		free(f->why);
		f->why = xstrdup(text != NULL ? text : strerror(err));
		return;		/* done follows */
	}
	f->peer = xstrdup(text != NULL ? text : "?");
	if (f->cb->connected != NULL)
		f->cb->connected(f, f->arg);
}

static void
dfwd_done_cb(struct tcl *t, const char *why, void *arg)
{
	struct dfwd *f = arg;

	(void)t;
	dfwd_end(f, why);
}

/* Both known, the target and the context: connect. */
static void
dfwd_connect(struct dfwd *f)
{
	struct tcp_req req = { 0 };

	req.ctx = f->ctx;
	req.flags = (f->flags & SPN_FWD_F_UNIX) ? SPN_TCP_F_UNIX : 0;
	req.host = f->host;
	req.port = f->port;
	req.fd_in = f->fd_in;
	req.fd_out = f->fd_out;
	/* The SOCKS client is answered from open: by then a tcl that
	 * failed has closed its fds already. */
	if (f->socks != NULL &&
	    (f->sock = fcntl(f->fd_out, F_DUPFD_CLOEXEC, 0)) >= 0)
		f->sock_dup = 1;
	/* The fds are the tcl's now, whatever happens. */
	f->fd_in = f->fd_out = -1;
	f->tcl = tcp_start(f->rt, &req, dfwd_open_cb, dfwd_done_cb, f);
	if (f->tcl == NULL)
		dfwd_fail(f, "cannot start the connection");
}

/* The route is up: its last context connects (once the SOCKS request is
 * in). */
void
dfwd_go(struct dfwd *f, uint32_t ctx)
{
	f->ctx = ctx;
	if (!f->ended && f->ready)
		dfwd_connect(f);
}

/* The route failed, or the owner gives up: err says why. */
void
dfwd_abort(struct dfwd *f, const char *err)
{
	dfwd_fail(f, err);
}

int
dfwd_connected(const struct dfwd *f)
{
	return f->peer != NULL;
}

const char *
dfwd_peer(const struct dfwd *f)
{
	return f->peer;
}

const char *
dfwd_target(const struct dfwd *f)
{
	return f->target;
}

/* How it ended: NULL when both ways closed cleanly. */
const char *
dfwd_why(const struct dfwd *f)
{
	return f->why;
}

uint64_t
dfwd_bytes_in(struct dfwd *f)
{
	return f->tcl != NULL ? tcp_bytes_in(f->tcl) : 0;
}

uint64_t
dfwd_bytes_out(struct dfwd *f)
{
	return f->tcl != NULL ? tcp_bytes_out(f->tcl) : 0;
}

/* why: what ended it, if it had not ended yet (its client went away). */
void
dfwd_free(struct dfwd *f, const char *why)
{
	if (f == NULL)
		return;
	if (!f->logged) {
		free(f->why);
		f->why = xstrdup(why != NULL ? why : "closed");
		dfwd_log(f);
	}
	if (f->tcl != NULL)
		tcp_free(f->tcl);
	if (f->sock_dup)
		close(f->sock);
	if (f->fd_in >= 0)
		close(f->fd_in);
	if (f->fd_out >= 0 && f->fd_out != f->fd_in)
		close(f->fd_out);
	if (f->rev != NULL)
		event_free(f->rev);
	if (f->timer != NULL)
		event_free(f->timer);
	free(f->socks);
	free(f->key);
	free(f->what);
	free(f->host);
	free(f->target);
	free(f->peer);
	free(f->why);
	free(f);
}

/*
 * The forwards of the routes file's listeners: each holds its route
 * while it lasts (the route does not close idle under it, and comes up
 * again for it after a loss), and is freed from the loop once over.
 */
static void
dheld_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dfwd *f = arg;

	(void)fd;
	(void)what;
	TAILQ_REMOVE(&dfwd_held, f, entry);
	dfwd_nheld--;
	dr_unwait(f->wait);
	if (f->dr != NULL)
		dr_hold(f->dr, -1);
	dfwd_free(f, NULL);
}

static void
dheld_done(struct dfwd *f, void *arg)
{
	struct timeval tv = { 0, 0 };

	(void)arg;
	event_base_once(master_base(dfwd_master), -1, EV_TIMEOUT,
	    dheld_free_cb, f, &tv);
}

static const struct dfwd_cb dheld_cb = { NULL, dheld_done };

static void
dheld_ready(struct droute *dr, const char *err, void *arg)
{
	struct dfwd *f = arg;

	f->wait = NULL;
	if (err != NULL)
		dfwd_abort(f, err);
	else
		dfwd_go(f, dr_ctx(dr));
}

/* The daemon stops: every forward of a listener ends now, before the
 * routes they hold go. */
void
dfwd_shutdown(void)
{
	struct dfwd *f;

	dlis_close(NULL);
	while ((f = TAILQ_FIRST(&dfwd_held)) != NULL) {
		f->ended = 1;
		dheld_free_cb(-1, 0, f);
	}
}

static void
dlis_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct dlis *l = arg;
	struct timeval pause = { 0, 100000 };
	struct dfwd_req r = { 0 };
	struct dfwd *f;
	int fd, i;

	for (i = 0; i < l->nfds && l->fds[i] != lfd; i++)
		;
	if (what & EV_TIMEOUT) {	/* the pause below is over */
		event_del(l->evs[i]);
		event_add(l->evs[i], NULL);
	}
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
		/* Out of fds: the listener would fire at once again; give
		 * the forwards a moment to give some back (as daemon.c). */
		if (errno == EMFILE || errno == ENFILE) {
			event_del(l->evs[i]);
			event_add(l->evs[i], &pause);
		}
		return;
	}
	/* As many as the daemon takes clients: each costs an fd here, and
	 * two streams on the route. */
	if (dfwd_nheld >= dconn_max()) {
		log_warn("forward %s: %zu connections already, refused one",
		    l->text, dfwd_nheld);
		close(fd);
		return;
	}
	r.mode = l->spec.kind == FWD_DYNAMIC ? SPN_FWD_SOCKS : SPN_FWD_DIRECT;
	r.flags = l->spec.port < 0 ? SPN_FWD_F_UNIX : 0;
	r.host = l->spec.host != NULL ? l->spec.host : "";
	r.port = l->spec.port < 0 ? 0 : l->spec.port;
	f = dfwd_new(master_rt(dfwd_master), l->key, l->text, &r, fd, fd,
	    &dheld_cb, NULL);
	f->dr = l->dr;
	TAILQ_INSERT_TAIL(&dfwd_held, f, entry);
	dfwd_nheld++;
	dr_hold(f->dr, 1);
	f->wait = dr_use(f->dr, dheld_ready, f);
}

static char *
dlis_addr_text(const struct sockaddr *sa)
{
	char host[NI_MAXHOST];

	if (getnameinfo(sa, sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), host,
	    sizeof host, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(host, sizeof host, "?");
	return xstrdup(host);
}

static void
dlis_add_fd(struct dlis *l, int fd)
{
	l->fds[l->nfds] = fd;
	l->evs[l->nfds] = event_new(master_base(dfwd_master), fd,
	    EV_READ | EV_PERSIST, dlis_accept_cb, l);
	event_add(l->evs[l->nfds], NULL);
	l->nfds++;
}

/* A UNIX socket path, as ssh -L /path:host:port binds it. */
static void
dlis_bind_unix(struct dlis *l)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t omask;
	int fd, rc;

	if (strlen(l->spec.bind) >= sizeof sun.sun_path) {
		l->error = xprintf("unix_listener: path \"%s\" too long for "
		    "Unix domain socket", l->spec.bind);
		return;
	}
	strcpy(sun.sun_path, l->spec.bind);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* The user's alone, as ssh's unix_listener makes it: whoever may
	 * connect uses the forward as the user. */
	omask = umask(0177);
	rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(omask);
	if (rc != 0 || listen(fd, 128) != 0) {
		l->error = xprintf("unix_listener: cannot bind to path %s: %s",
		    l->spec.bind, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	l->unlink = xstrdup(l->spec.bind);
	dlis_add_fd(l, fd);
}

/*
 * Bind as ssh does (channel_setup_fwd_listener_tcpip): no address is the
 * loopback ones, "" or "*" every address, else the one given; each
 * address in turn, a failure told (in ssh's words) only for the last.
 */
static void
dlis_bind(struct dlis *l)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	const char *addr = l->spec.bind;
	char port[16], *last = NULL, *ntop;
	int fd, one = 1, rc;

	if (l->spec.bind_port < 0) {
		dlis_bind_unix(l);
		return;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (addr != NULL && (*addr == '\0' || strcmp(addr, "*") == 0)) {
		hints.ai_flags = AI_PASSIVE;
		addr = NULL;
	} else if (addr != NULL && strcmp(addr, "localhost") == 0)
		addr = NULL;
	snprintf(port, sizeof port, "%d", l->spec.bind_port);
	if ((rc = getaddrinfo(addr, port, &hints, &res)) != 0) {
		l->error = xprintf("getaddrinfo: %s", gai_strerror(rc));
		return;
	}
	for (ai = res; ai != NULL && l->nfds < DLIS_FDS; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
		    listen(fd, 128) != 0) {
			ntop = dlis_addr_text(ai->ai_addr);
			free(last);
			last = xprintf("bind [%s]:%s: %s", ntop, port,
			    ssh_strerror(errno));
			free(ntop);
			close(fd);
			continue;
		}
		free(last);
		last = NULL;
		dlis_add_fd(l, fd);
	}
	freeaddrinfo(res);
	if (l->nfds == 0)
		l->error = xprintf("%s%schannel_setup_fwd_listener_tcpip: "
		    "cannot listen to port: %s", last != NULL ? last : "",
		    last != NULL ? "; " : "", port);
	else if (last != NULL)
		l->error = last, last = NULL;
	free(last);
}

/* R: the far listener went (the route lost, the far end refused). */
static void
dlis_r_gone(const char *why, void *arg)
{
	struct dlis *l = arg;

	l->drem = NULL;
	free(l->error);
	l->error = xstrdup(why != NULL ? why : "closed");
}

static void
dlis_r_open(struct dlis *l, struct droute *dr)
{
	char why[512];

	if (l->drem != NULL && l->rctx == dr_ctx(dr))
		return;
	if (l->drem != NULL)
		dremote_stop(l->drem);
	free(l->error);
	l->error = NULL;
	l->rctx = dr_ctx(dr);
	if ((l->drem = dremote_route(dr, &l->spec, dlis_r_gone, l, why,
	    sizeof why)) == NULL)
		l->error = xstrdup(why);
}

static void
dlis_free(struct dlis *l)
{
	TAILQ_REMOVE(&dlis_all, l, entry);
	if (l->drem != NULL)
		dremote_stop(l->drem);
	for (int i = 0; i < l->nfds; i++) {
		event_free(l->evs[i]);
		close(l->fds[i]);
	}
	if (l->unlink != NULL)
		unlink(l->unlink);
	free(l->unlink);
	free(l->key);
	free(l->text);
	free(l->error);
	fwd_spec_free(&l->spec);
	free(l);
}

static struct dlis *
dlis_find(struct droute *dr, const char *text)
{
	struct dlis *l;

	TAILQ_FOREACH(l, &dlis_all, entry) {
		if (l->dr == dr && strcmp(l->text, text) == 0)
			return l;
	}
	return NULL;
}

static char *
dlis_text(const struct fwd_spec *s)
{
	char *spec = fwd_spec_text(s), *t;

	t = xprintf("%c %s", s->kind, spec);
	free(spec);
	return t;
}

static void
dlis_spec_copy(struct fwd_spec *to, const struct fwd_spec *s)
{
	*to = *s;
	to->bind = s->bind != NULL ? xstrdup(s->bind) : NULL;
	to->host = s->host != NULL ? xstrdup(s->host) : NULL;
}

/*
 * The route is up (or asked up): listen for each of its forwards of the
 * routes file that does not listen yet.  A listener that listens stays as
 * it is; one that failed is tried again; one no longer in the file goes.
 * Returns what failed, one line each, or NULL.
 */
char *
dlis_open(struct droute *dr, const struct fwd_spec *specs, size_t n)
{
	struct evbuffer *b = evbuffer_new();
	struct dlis *l, *next;
	char *text, *out, *old = dlog_route(dr_key(dr));

	TAILQ_FOREACH(l, &dlis_all, entry) {
		if (l->dr == dr)
			l->seen = 0;
	}
	for (size_t i = 0; i < n; i++) {
		text = dlis_text(&specs[i]);
		if ((l = dlis_find(dr, text)) == NULL) {
			l = xcalloc(1, sizeof *l);
			l->dr = dr;
			l->key = xstrdup(dr_key(dr));
			l->text = text;
			dlis_spec_copy(&l->spec, &specs[i]);
			TAILQ_INSERT_TAIL(&dlis_all, l, entry);
		} else
			free(text);
		l->seen = 1;
		if (l->spec.kind == FWD_REMOTE) {
			/* Its failures come later, in the log and ls. */
			dlis_r_open(l, dr);
			if (l->error != NULL)
				log_warn("forward %s: %s", l->text, l->error);
			continue;
		}
		if (l->nfds > 0)
			continue;
		free(l->error);
		l->error = NULL;
		dlis_bind(l);
		if (l->nfds > 0)
			log_info("forward %s: listening", l->text);
		if (l->error != NULL) {
			log_warn("forward %s: %s", l->text, l->error);
			evbuffer_add_printf(b, "%sforward %s: %s",
			    evbuffer_get_length(b) > 0 ? "\n" : "", l->text,
			    l->error);
		}
	}
	for (l = TAILQ_FIRST(&dlis_all); l != NULL; l = next) {
		next = TAILQ_NEXT(l, entry);
		if (l->dr == dr && !l->seen) {
			log_info("forward %s: no longer in the routes file, "
			    "closed", l->text);
			dlis_free(l);
		}
	}
	dlog_route_end(old);
	out = evbuffer_get_length(b) > 0 ? evbuf_take(b) : NULL;
	evbuffer_free(b);
	return out;
}

/* The route goes (down, idle, dropped): its listeners close; the
 * connections they accepted live on.  NULL: every route's. */
void
dlis_close(struct droute *dr)
{
	struct dlis *l, *next;
	char *old;

	for (l = TAILQ_FIRST(&dlis_all); l != NULL; l = next) {
		next = TAILQ_NEXT(l, entry);
		if (dr != NULL && l->dr != dr)
			continue;
		old = dlog_route(l->key);
		if (l->nfds > 0 || l->drem != NULL)
			log_info("forward %s: closed", l->text);
		dlog_route_end(old);
		dlis_free(l);
	}
}

/* R: listening on the port the far end bound, asking, or why not. */
static void
dlis_list_r(struct dlis *l, struct evbuffer *b, int json, int n)
{
	int port = l->drem != NULL ? dremote_bound(l->drem) : 0;
	char *state;

	if (port > 0)
		state = xprintf("listening on port %d there", port);
	else
		state = xstrdup(l->drem != NULL ? "asking" : l->error != NULL ?
		    l->error : "not listening");
	if (json) {
		evbuffer_add_printf(b, "%s{\"forward\":", n ? "," : "");
		dr_json_str(b, l->text);
		evbuffer_add_printf(b, ",\"listening\":%s,\"port\":%d,"
		    "\"error\":", port > 0 ? "true" : "false", port);
		if (l->drem == NULL && l->error != NULL)
			dr_json_str(b, l->error);
		else
			evbuffer_add_printf(b, "null");
		evbuffer_add_printf(b, "}");
	} else
		evbuffer_add_printf(b, "  forward %s: %s\n", l->text, state);
	free(state);
}

/* For ls: the route's forwards, "L 5432:db:5432" and how each is. */
void
dlis_list(struct droute *dr, struct evbuffer *b, int json)
{
	struct dlis *l;
	int n = 0;

	TAILQ_FOREACH(l, &dlis_all, entry) {
		if (l->dr != dr)
			continue;
		if (l->spec.kind == FWD_REMOTE) {
			dlis_list_r(l, b, json, n++);
			continue;
		}
		if (json) {
			evbuffer_add_printf(b, "%s{\"forward\":", n ? "," :
			    "");
			dr_json_str(b, l->text);
			evbuffer_add_printf(b, ",\"listening\":%s,"
			    "\"error\":", l->nfds > 0 ? "true" : "false");
			if (l->error != NULL)
				dr_json_str(b, l->error);
			else
				evbuffer_add_printf(b, "null");
			evbuffer_add_printf(b, "}");
		} else
			evbuffer_add_printf(b, "  forward %s: %s\n", l->text,
			    l->nfds > 0 ? "listening" : l->error != NULL ?
			    l->error : "not listening");
		n++;
	}
}
