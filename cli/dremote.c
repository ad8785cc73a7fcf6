/*
 * The daemon's LISTEN (ssh -R): a listener at the route's far end
 * (agent/svc-listen.c), held as long as the client's control connection;
 * each connection it accepts is joined to a connection the daemon makes
 * here, to the target the client named, as ssh does for a remote
 * forward.  The far end only ever offers connections: where we connect
 * is the client's word alone.
 *
 * The target is a numeric address, a name of /etc/hosts (read when the
 * request comes) or a UNIX socket path: no DNS, which would block the
 * daemon's loop for every route.  Connects are non-blocking.  With
 * SPN_FWD_F_PASS (the gateway's tcpip-forward) there is no target: each
 * connection goes to the client itself, as a socket in ACCEPTED.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

#define DREM_CONNS_MAX		256	/* per listener, connecting or not */
#define DREM_ADDRS_MAX		4	/* a name's addresses, tried in turn */
#define DREM_CONNECT_SECS	10
#define DREM_UNSENT_MAX		(64 * 1024)	/* PASS: notices not yet read */

struct dremc;

struct drem {
	struct dconn		*c;		/* NULL once it went */
	uint32_t		 id;
	struct droute		*dr;
	struct dr_wait		*wait;
	struct rlis		*rl;
	uint32_t		 flags;		/* SPN_FWD_F_* */
	char			*bind;
	uint32_t		 port;
	char			*host;		/* the target, here */
	uint32_t		 hport;
	char			*what;		/* "0:localhost:8080", for the log */
	struct sockaddr_storage	 addrs[DREM_ADDRS_MAX];
	socklen_t		 addrlens[DREM_ADDRS_MAX];
	int			 naddrs;
	int			 bound;		/* the port, once bound */
	int			 ended;
	/* The routes file's forward R (dremote_route): the route's, not
	 * a client's; its owner hears the end. */
	int			 of_route;
	void			(*gone)(const char *, void *);
	void			*gone_arg;
	TAILQ_HEAD(, dremc)	 conns;
	size_t			 nconns;
};

/* One connection the far end accepted: our connect, then its tcl. */
struct dremc {
	struct drem		*d;
	uint32_t		 conn;
	int			 fd;		/* while connecting */
	int			 next;		/* the address to try next */
	struct event		*ev;
	struct tcl		*t;
	struct event		*free_ev;	/* its end, from the loop */
	TAILQ_ENTRY(dremc)	 entry;
};

static struct master	*drem_master;

void
dremote_init(struct master *m)
{
	drem_master = m;
}

static void drem_log(struct drem *, int, const char *, ...)
    SPN_PRINTF(3, 4);

/* A line in the daemon log, on the route's. */
static void
drem_log(struct drem *d, int level, const char *fmt, ...)
{
	char *old = dlog_route(dr_key(d->dr)), *text;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	log_msg(level, "remote forward %s: %s", d->what, text ? text : fmt);
	free(text);
	dlog_route_end(old);
}

static void
dremc_free(struct dremc *dc)
{
	struct drem *d = dc->d;

	TAILQ_REMOVE(&d->conns, dc, entry);
	d->nconns--;
	if (dc->ev != NULL)
		event_free(dc->ev);
	if (dc->free_ev != NULL)
		event_free(dc->free_ev);
	if (dc->fd >= 0)
		close(dc->fd);
	tcp_free(dc->t);
	free(dc);
}

static void
dremc_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dremc_free(arg);
}

static void
dremc_done(struct tcl *t, const char *why, void *arg)
{
	struct dremc *dc = arg;

	(void)t;
	if (why != NULL)
		log_debug("remote forward connection %u: %s", dc->conn, why);
	/* Freed from the loop, not from inside the tcl's callback; by an
	 * event of its own, which goes with it if its listener frees it
	 * first (the route lost: the listener's end may come first). */
	if (dc->free_ev == NULL) {
		dc->free_ev = evtimer_new(master_base(drem_master),
		    dremc_free_cb, dc);
		event_active(dc->free_ev, EV_TIMEOUT, 1);
	}
}

/* What the target is called in messages, as ssh says it. */
static void
drem_target_fail(struct drem *d, int e)
{
	if (d->flags & SPN_FWD_F_TARGET_UNIX)
		drem_log(d, SPN_LOG_WARN, "connect_to %s: failed. (%s)",
		    d->host, strerror(e));
	else
		drem_log(d, SPN_LOG_WARN, "connect_to %s port %u: failed. "
		    "(%s)", d->host, d->hport, strerror(e));
}

static void	dremc_try(struct dremc *);

static void
dremc_connected(evutil_socket_t fd, short what, void *arg)
{
	struct dremc *dc = arg;
	struct drem *d = dc->d;
	socklen_t len = sizeof(int);
	int e = ETIMEDOUT;

	event_free(dc->ev);
	dc->ev = NULL;
	if ((what & EV_WRITE) && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e,
	    &len) != 0)
		e = errno;
	if (e != 0) {
		close(dc->fd);
		dc->fd = -1;
		if (dc->next < d->naddrs) {
			dremc_try(dc);
			return;
		}
		drem_target_fail(d, e);
		rlisten_refuse(d->rl, dc->conn);
		dremc_free(dc);
		return;
	}
	/* The tcl has the fd from here on. */
	dc->fd = -1;
	if ((dc->t = rlisten_attach(d->rl, dc->conn, fd, fd, dremc_done,
	    dc)) == NULL)
		dremc_free(dc);
}

/* Connect to the next address; the answer comes to dremc_connected. */
static void
dremc_try(struct dremc *dc)
{
	struct drem *d = dc->d;
	struct timeval tv = { DREM_CONNECT_SECS, 0 };
	int i = dc->next++, rc;

	dc->fd = socket(d->addrs[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (dc->fd < 0)
		rc = -1;
	else
		rc = connect(dc->fd, (struct sockaddr *)&d->addrs[i],
		    d->addrlens[i]);
	if (rc != 0 && errno != EINPROGRESS) {
		/* Said as a failed connect, whatever failed. */
		dc->ev = event_new(master_base(drem_master), dc->fd, 0,
		    dremc_connected, dc);
		event_active(dc->ev, EV_WRITE, 0);
		return;
	}
	dc->ev = event_new(master_base(drem_master), dc->fd, EV_WRITE,
	    dremc_connected, dc);
	event_add(dc->ev, &tv);
}

/*
 * SPN_FWD_F_PASS: the client is the target.  The far connection is
 * joined to one end of a socketpair, the other end goes to the client
 * in ACCEPTED; the client's hang-up on it ends the far connection.  A
 * client that does not read its notices gets no more connections.
 */
static void
dremc_pass(struct dremc *dc, const char *peer)
{
	struct drem *d = dc->d;
	struct pk pk;
	int sv[2];

	if (dconn_unsent(d->c) > DREM_UNSENT_MAX) {
		drem_log(d, SPN_LOG_WARN, "connection from %s refused: its "
		    "client reads no more", peer);
		goto refuse;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) != 0) {
		drem_log(d, SPN_LOG_WARN, "connection from %s refused: "
		    "socketpair: %s", peer, strerror(errno));
		goto refuse;
	}
	pk_init(&pk);
	pk_u32(&pk, dc->conn);
	pk_str(&pk, peer);
	if (dconn_send_fd(d->c, SPN_CTL_ACCEPTED, d->id, &pk, sv[1]) != 0) {
		pk_free(&pk);
		close(sv[0]);
		drem_log(d, SPN_LOG_WARN, "connection from %s refused: its "
		    "client reads no more", peer);
		goto refuse;
	}
	pk_free(&pk);
	if ((dc->t = rlisten_attach(d->rl, dc->conn, sv[0], sv[0], dremc_done,
	    dc)) == NULL)
		dremc_free(dc);
	return;
refuse:
	rlisten_refuse(d->rl, dc->conn);
	dremc_free(dc);
}

/* The far end accepted a connection: connect here, then join them. */
static void
drem_conn(struct rlis *rl, uint32_t conn, const char *peer, void *arg)
{
	struct drem *d = arg;
	struct dremc *dc;

	if (d->nconns >= DREM_CONNS_MAX) {
		drem_log(d, SPN_LOG_WARN, "connection from %s refused: %d "
		    "open already", peer, DREM_CONNS_MAX);
		rlisten_refuse(rl, conn);
		return;
	}
	log_debug("remote forward connection %u from %s", conn, peer);
	dc = xcalloc(1, sizeof *dc);
	dc->d = d;
	dc->conn = conn;
	dc->fd = -1;
	TAILQ_INSERT_TAIL(&d->conns, dc, entry);
	d->nconns++;
	if (d->flags & SPN_FWD_F_PASS)
		dremc_pass(dc, peer);
	else
		dremc_try(dc);
}

static void
drem_free(struct drem *d)
{
	struct dremc *dc;

	while ((dc = TAILQ_FIRST(&d->conns)) != NULL)
		dremc_free(dc);
	rlisten_free(d->rl);
	dr_unwait(d->wait);
	if (d->dr != NULL && !d->of_route)
		dr_hold(d->dr, -1);
	free(d->bind);
	free(d->host);
	free(d->what);
	free(d);
}

static void
drem_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drem_free(arg);
}

/* The end: the client hears why (err NULL: it went itself). */
static void
drem_end(struct drem *d, const char *err)
{
	struct timeval tv = { 0, 0 };
	struct pk pk;

	if (d->ended)
		return;
	d->ended = 1;
	if (d->gone != NULL)
		d->gone(err, d->gone_arg);
	d->gone = NULL;
	if (d->c != NULL && err != NULL) {
		pk_init(&pk);
		pk_str(&pk, err);
		pk_u32(&pk, 255);
		dconn_send(d->c, SPN_CTL_ERROR, d->id, &pk);
		pk_free(&pk);
	}
	if (d->c != NULL)
		dconn_hold(d->c, NULL, NULL);
	d->c = NULL;
	/* From the loop: we may be inside the listener's callback. */
	event_base_once(master_base(drem_master), -1, EV_TIMEOUT,
	    drem_free_cb, d, &tv);
}

/* The control connection closed: the listener goes with it. */
static void
drem_gone(void *arg)
{
	struct drem *d = arg;

	d->c = NULL;
	drem_log(d, SPN_LOG_DEBUG, "closed (its client went away)");
	drem_end(d, NULL);
}

static void
drem_up(struct rlis *rl, int port, const char *why, void *arg)
{
	struct drem *d = arg;
	struct pk pk;

	(void)rl;
	if (port < 0) {
		drem_log(d, d->bound ? SPN_LOG_WARN : SPN_LOG_INFO, "%s", why);
		drem_end(d, why);
		return;
	}
	d->bound = port;
	drem_log(d, SPN_LOG_INFO, "listening on port %d", port);
	pk_init(&pk);
	pk_u32(&pk, port);
	dconn_send(d->c, SPN_CTL_LISTENING, d->id, &pk);
	pk_free(&pk);
}

static void
drem_ready(struct droute *dr, const char *err, void *arg)
{
	struct drem *d = arg;
	uint32_t flags = (d->flags & SPN_FWD_F_UNIX) ? SPN_TCP_F_UNIX : 0;

	d->wait = NULL;
	if (err != NULL) {
		drem_end(d, err);
		return;
	}
	d->rl = rlisten_start(master_rt(drem_master), dr_ctx(dr), flags,
	    d->bind, d->port, drem_up, drem_conn, d);
}

/* Add addr if it is one; 1 if it was. */
static int
drem_add_addr(struct drem *d, const char *addr, uint32_t port)
{
	struct sockaddr_in *in = (void *)&d->addrs[d->naddrs];
	struct sockaddr_in6 *in6 = (void *)&d->addrs[d->naddrs];

	if (d->naddrs >= DREM_ADDRS_MAX)
		return 0;
	memset(&d->addrs[d->naddrs], 0, sizeof d->addrs[0]);
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		d->addrlens[d->naddrs++] = sizeof *in;
		return 1;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		d->addrlens[d->naddrs++] = sizeof *in6;
		return 1;
	}
	return 0;
}

/* name's addresses in /etc/hosts, in its order. */
static void
drem_hosts(struct drem *d, const char *name)
{
	FILE *f = fopen("/etc/hosts", "re");
	char line[1024], *addr, *w, *save;

	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "#\n")] = '\0';
		if ((addr = strtok_r(line, " \t", &save)) == NULL)
			continue;
		while ((w = strtok_r(NULL, " \t", &save)) != NULL) {
			if (strcasecmp(w, name) == 0) {
				drem_add_addr(d, addr, d->hport);
				break;
			}
		}
	}
	fclose(f);
}

/* Where the target is, before anything is asked of the route. */
static int
drem_target(struct drem *d, char *why, size_t whylen)
{
	struct sockaddr_un *sun = (void *)&d->addrs[0];
	char *h = d->host;
	size_t n = strlen(h);

	if (d->flags & SPN_FWD_F_TARGET_UNIX) {
		if (n == 0 || n >= sizeof sun->sun_path) {
			snprintf(why, whylen, "bad socket path for remote "
			    "forward target");
			return -1;
		}
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, h, n + 1);
		d->addrlens[0] = sizeof *sun;
		d->naddrs = 1;
		return 0;
	}
	if (n > 2 && h[0] == '[' && h[n - 1] == ']') {
		memmove(h, h + 1, n - 2);
		h[n - 2] = '\0';
	}
	if (d->hport == 0 || d->hport > 65535)
		snprintf(why, whylen, "bad port %u for remote forward target",
		    d->hport);
	else if (!drem_add_addr(d, h, d->hport)) {
		drem_hosts(d, h);
		if (d->naddrs == 0 && strcasecmp(h, "localhost") == 0)
			drem_add_addr(d, "127.0.0.1", d->hport);
		if (d->naddrs == 0)
			snprintf(why, whylen, "remote forward target %s: not "
			    "an address, nor a name in /etc/hosts (the daemon "
			    "resolves no other names)", h);
	}
	return d->naddrs > 0 ? 0 : -1;
}

/*
 * LISTEN: route spec, u32 mode, u32 flags, str bind, u32 port, str
 * target host, u32 target port.
 */
void
dremote_listen(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	struct ctl_spec s;
	struct drem *d;
	uint32_t mode;
	char why[512];
	struct pk pk;
	int code = 255;

	if (ctl_spec_unpack(u, &s) != 0) {
		snprintf(why, sizeof why, "malformed route");
		goto refuse;
	}
	d = xcalloc(1, sizeof *d);
	TAILQ_INIT(&d->conns);
	d->id = m->id;
	mode = upk_u32(u);
	d->flags = upk_u32(u);
	d->bind = upk_str(u);
	d->port = upk_u32(u);
	d->host = upk_str(u);
	d->hport = upk_u32(u);
	if (!u->err && d->bind != NULL && d->host != NULL) {
		str_clean(d->bind);
		str_clean(d->host);
		d->what = (d->flags & SPN_FWD_F_PASS) ? xprintf("%s%s%u "
		    "(passed to pid %ld)", d->bind, *d->bind ? ":" : "",
		    d->port, (long)dconn_pid(c)) :
		    (d->flags & SPN_FWD_F_TARGET_UNIX) ?
		    xprintf("%s%s%u:%s", d->bind, *d->bind ? ":" : "", d->port,
		    d->host) : xprintf("%s%s%u:%s:%u", d->bind,
		    *d->bind ? ":" : "", d->port, d->host, d->hport);
	}
	if (u->err || d->bind == NULL || d->host == NULL || d->port > 65535 ||
	    (d->flags & ~(SPN_FWD_F_UNIX | SPN_FWD_F_TARGET_UNIX |
	    SPN_FWD_F_PASS)) != 0 ||
	    ((d->flags & SPN_FWD_F_PASS) && (d->flags &
	    SPN_FWD_F_TARGET_UNIX)) ||
	    (mode != SPN_FWD_DIRECT && mode != SPN_FWD_SOCKS))
		snprintf(why, sizeof why, "malformed listen request");
	else if (mode == SPN_FWD_SOCKS)
		snprintf(why, sizeof why, "remote dynamic forwarding is not "
		    "supported");
	else if (!(d->flags & SPN_FWD_F_PASS) &&
	    drem_target(d, why, sizeof why) != 0)
		;
	else if ((d->dr = dr_resolve(&s, why, sizeof why)) == NULL)
		code = dr_refused_code();
	else {
		ctl_spec_free(&s);
		d->c = c;
		dr_hold(d->dr, 1);
		dconn_hold(c, drem_gone, d);
		drem_log(d, SPN_LOG_DEBUG, "asked");
		d->wait = dr_use(d->dr, drem_ready, d);
		return;
	}
	ctl_spec_free(&s);
	drem_free(d);
refuse:
	pk_init(&pk);
	pk_str(&pk, why);
	pk_u32(&pk, code);
	dconn_send(c, SPN_CTL_ERROR, m->id, &pk);
	pk_free(&pk);
	dconn_hold(c, NULL, NULL);
}

/*
 * The routes file's forward R, on its route now up (dforward.c): the
 * same listener as a LISTEN's, held by the route rather than a client
 * (it holds no use of it: the route closes idle all the same); gone(why,
 * arg) when it ends (the route lost, the far end refused).  NULL and why
 * when the target is no good, or it failed at once.
 */
struct drem *
dremote_route(struct droute *dr, const struct fwd_spec *fs,
    void (*gone)(const char *, void *), void *arg, char *why, size_t whylen)
{
	struct drem *d = xcalloc(1, sizeof *d);

	TAILQ_INIT(&d->conns);
	d->dr = dr;
	d->of_route = 1;
	d->flags = (fs->bind_port < 0 ? SPN_FWD_F_UNIX : 0) |
	    (fs->port < 0 ? SPN_FWD_F_TARGET_UNIX : 0);
	d->bind = xstrdup(fs->bind != NULL ? fs->bind : "");
	d->port = fs->bind_port < 0 ? 0 : fs->bind_port;
	d->host = xstrdup(fs->host != NULL ? fs->host : "");
	d->hport = fs->port < 0 ? 0 : fs->port;
	d->what = fwd_spec_text(fs);
	if (fs->host == NULL) {
		snprintf(why, whylen, "remote dynamic forwarding is not "
		    "supported");
		drem_free(d);
		return NULL;
	}
	if (drem_target(d, why, whylen) != 0) {
		drem_free(d);
		return NULL;
	}
	drem_ready(dr, NULL, d);
	if (d->ended) {		/* freed from the loop */
		snprintf(why, whylen, "remote forward %s failed", d->what);
		return NULL;
	}
	d->gone = gone;
	d->gone_arg = arg;
	return d;
}

/* It goes now, with its route perhaps (never from inside its own
 * callbacks: its owner calls it), without a word to its owner. */
void
dremote_stop(struct drem *d)
{
	d->gone = NULL;
	d->ended = 1;
	drem_free(d);
}

/* The port the far end bound, or 0 while it has not said. */
int
dremote_bound(const struct drem *d)
{
	return d->bound;
}
