/*
 * The daemon's ACCEPT (the shim's -L and -D): a listening socket the
 * client bound and handed over, on which the daemon accepts for as long
 * as the client's control connection lasts; each connection is a forward
 * of its own (dforward.c), as a routes-file `forward L|D` makes them.
 * The client pays nothing per connection: no control connection, no
 * HELLO, no fd passing (a FORWARD each cost the daemon twice the system
 * calls of its own listener's connection).
 *
 * The listener stays the client's: it closes with the control connection
 * (the client holds its own copy too), and so do the connections it
 * accepted, as ssh's die with it.  The client hears only what it must
 * print: a connection whose open failed (ERROR with its channel number),
 * and, asked with SPN_FWD_F_TELL, every CONNECTED and DONE (ssh -v).
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define DACC_CONNS_MAX	1024	/* per listener: the shim's own bound */
#define DACC_HOST_MAX	1024

struct dacc;

struct daccf {
	struct dacc		*a;
	size_t			 slot;
	struct dfwd		*f;
	struct dr_wait		*wait;
	struct event		*ev;		/* frees it, once done */
};

struct dacc {
	struct dconn		*c;
	uint32_t		 id;
	struct droute		*dr;
	char			*what;		/* "client 123 L", the log's */
	struct dfwd_req		 r;
	int			 tell;
	uint32_t		 chan;		/* the first channel number */
	int			 fd;
	struct event		*ev;
	struct event		*pause;		/* out of fds: a rest */
	int			 stopped;	/* ev not added */
	struct daccf		**conns;	/* DACC_CONNS_MAX slots */
	size_t			 nconns;
	TAILQ_ENTRY(dacc)	 entry;
};

static TAILQ_HEAD(, dacc) dacc_all = TAILQ_HEAD_INITIALIZER(dacc_all);
static size_t		 dacc_total;	/* connections, every listener's */
static struct master	*dacc_master;

void
daccept_init(struct master *m)
{
	dacc_master = m;
}

/* A notice about connection cf, unless the client reads none. */
static void
daccf_send(struct daccf *cf, uint32_t type, struct pk *body)
{
	struct dacc *a = cf->a;
	struct pk pk;

	if (dconn_unsent(a->c) > SPN_CTL_MAX / 2)
		return;
	pk_init(&pk);
	pk_u32(&pk, a->chan + cf->slot);
	pk_bytes(&pk, body->buf, body->len);
	dconn_send(a->c, type, a->id, &pk);
	pk_free(&pk);
}

static void
daccf_connected(struct dfwd *f, void *arg)
{
	struct daccf *cf = arg;
	struct pk pk;

	if (!cf->a->tell)
		return;
	pk_init(&pk);
	pk_str(&pk, dfwd_peer(f));
	pk_str(&pk, dfwd_target(f));
	daccf_send(cf, SPN_CTL_CONNECTED, &pk);
	pk_free(&pk);
}

static void
dacc_resume(struct dacc *a)
{
	a->stopped = 0;
	event_add(a->ev, NULL);
}

static void
dacc_stop(struct dacc *a)
{
	a->stopped = 1;
	event_del(a->ev);
}

static void
dacc_pause_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dacc_resume(arg);
}

static void
daccf_free(struct daccf *cf)
{
	struct dacc *a = cf->a, *o;

	a->conns[cf->slot] = NULL;
	a->nconns--;
	dacc_total--;
	/* Room again: every listener that was full accepts again (unless
	 * resting). */
	TAILQ_FOREACH(o, &dacc_all, entry) {
		if (o->stopped && !evtimer_pending(o->pause, NULL))
			dacc_resume(o);
	}
	dr_unwait(cf->wait);
	event_free(cf->ev);
	dfwd_free(cf->f, "its client went away");
	free(cf);
}

static void
daccf_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	daccf_free(arg);
}

static void
daccf_done(struct dfwd *f, void *arg)
{
	struct daccf *cf = arg;
	struct timeval tv = { 0, 0 };
	uint64_t in = dfwd_bytes_in(f), out = dfwd_bytes_out(f);
	const char *why = dfwd_why(f);
	struct pk pk;

	pk_init(&pk);
	if (!dfwd_connected(f)) {
		pk_str(&pk, why != NULL ? why : "failed");
		pk_u32(&pk, 255);
		daccf_send(cf, SPN_CTL_ERROR, &pk);
	} else if (cf->a->tell) {
		pk_u32(&pk, in >> 32);
		pk_u32(&pk, in);
		pk_u32(&pk, out >> 32);
		pk_u32(&pk, out);
		pk_str(&pk, why != NULL ? why : "");
		daccf_send(cf, SPN_CTL_DONE, &pk);
	}
	pk_free(&pk);
	/* From the loop: we are inside the forward's callback. */
	evtimer_add(cf->ev, &tv);
}

static const struct dfwd_cb daccf_cb = { daccf_connected, daccf_done };

static void
daccf_ready(struct droute *dr, const char *err, void *arg)
{
	struct daccf *cf = arg;

	cf->wait = NULL;
	if (err != NULL)
		dfwd_abort(cf->f, err);
	else
		dfwd_go(cf->f, dr_ctx(dr));
}

static void
dacc_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct dacc *a = arg;
	struct timeval pause = { 0, 100000 };
	struct daccf *cf;
	size_t slot;
	int fd;

	(void)what;
	/* Full: the backlog waits, as the shim's own loop made it; a
	 * connection that ends makes room (daccf_free). */
	if (a->nconns >= DACC_CONNS_MAX || dacc_total >= dconn_max()) {
		dacc_stop(a);
		return;
	}
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
		/* Out of fds: give the forwards a moment to give some
		 * back (as daemon.c). */
		if (errno == EMFILE || errno == ENFILE) {
			dacc_stop(a);
			evtimer_add(a->pause, &pause);
		}
		return;
	}
	/* The lowest free channel, as ssh numbers them. */
	for (slot = 0; a->conns[slot] != NULL; slot++)
		;
	cf = xcalloc(1, sizeof *cf);
	cf->a = a;
	cf->slot = slot;
	cf->ev = evtimer_new(master_base(dacc_master), daccf_free_cb, cf);
	a->conns[slot] = cf;
	a->nconns++;
	dacc_total++;
	cf->f = dfwd_new(master_rt(dacc_master), dr_key(a->dr), a->what,
	    &a->r, fd, fd, &daccf_cb, cf);
	cf->wait = dr_use(a->dr, daccf_ready, cf);
}

static void
dacc_free(struct dacc *a)
{
	size_t i;

	for (i = 0; i < DACC_CONNS_MAX && a->nconns > 0; i++) {
		if (a->conns[i] != NULL)
			daccf_free(a->conns[i]);
	}
	if (a->ev != NULL)
		event_free(a->ev);
	if (a->pause != NULL)
		event_free(a->pause);
	if (a->fd >= 0)
		close(a->fd);
	if (a->dr != NULL) {
		dr_hold(a->dr, -1);
		TAILQ_REMOVE(&dacc_all, a, entry);
	}
	free(a->conns);
	free(a->what);
	free(a->r.host);
	free(a);
}

/* The control connection closed: the listener and its connections go
 * with it. */
static void
dacc_gone(void *arg)
{
	struct dacc *a = arg;
	char *old = dlog_route(dr_key(a->dr));

	log_debug("%s: closed (its client went away)", a->what);
	dlog_route_end(old);
	a->c = NULL;
	dacc_free(a);
}

/* A listening stream socket, or why not. */
static const char *
dacc_check_fd(int fd)
{
	int type = 0, on = 0;
	socklen_t len = sizeof type;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
	    type != SOCK_STREAM)
		return "not a stream socket";
	len = sizeof on;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 || !on)
		return "not a listening socket";
	return NULL;
}

static const char *
dacc_unpack(struct dacc *a, struct upk *u)
{
	a->r.mode = upk_u32(u);
	a->r.flags = upk_u32(u);
	a->r.host = upk_str(u);
	a->r.port = upk_u32(u);
	a->chan = upk_u32(u);
	if (u->err || a->r.host == NULL || a->r.port > 65535 ||
	    (a->r.flags & ~(SPN_FWD_F_UNIX | SPN_FWD_F_TELL)) != 0 ||
	    strlen(a->r.host) > DACC_HOST_MAX || a->chan > 1u << 30 ||
	    (a->r.mode != SPN_FWD_DIRECT && a->r.mode != SPN_FWD_SOCKS) ||
	    (a->r.mode == SPN_FWD_DIRECT && *a->r.host == '\0'))
		return "malformed accept request";
	a->tell = (a->r.flags & SPN_FWD_F_TELL) != 0;
	a->r.flags &= ~SPN_FWD_F_TELL;
	return NULL;
}

/*
 * ACCEPT: route spec, u32 mode, u32 flags, str host, u32 port, u32 the
 * first channel number; the listening socket with it.  OK once the
 * daemon accepts on it, or ERROR.
 */
void
daccept_request(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	struct dacc *a = xcalloc(1, sizeof *a);
	struct ctl_spec s;
	const char *err = NULL;
	char why[512];
	struct pk pk;
	int code = 255;

	a->fd = dconn_take_fd(c);
	if (ctl_spec_unpack(u, &s) != 0) {
		err = "malformed route";
		goto refuse;
	}
	if ((err = dacc_unpack(a, u)) == NULL && a->fd < 0)
		err = "no socket with the accept request";
	if (err == NULL)
		err = dacc_check_fd(a->fd);
	if (err == NULL && (a->dr = dr_resolve(&s, why, sizeof why)) == NULL) {
		err = why;
		code = dr_refused_code();
	}
	ctl_spec_free(&s);
	if (err != NULL)
		goto refuse;
	a->c = c;
	a->id = m->id;
	a->what = xprintf("client %ld %s", (long)dconn_pid(c),
	    a->r.mode == SPN_FWD_SOCKS ? "D" : "L");
	a->conns = xcalloc(DACC_CONNS_MAX, sizeof *a->conns);
	TAILQ_INSERT_TAIL(&dacc_all, a, entry);
	dr_hold(a->dr, 1);
	fd_nonblock(a->fd, 1);
	a->ev = event_new(master_base(dacc_master), a->fd,
	    EV_READ | EV_PERSIST, dacc_accept_cb, a);
	a->pause = evtimer_new(master_base(dacc_master), dacc_pause_cb, a);
	event_add(a->ev, NULL);
	dconn_hold(c, dacc_gone, a);
	dconn_reply_ok(c, m->id);
	return;
refuse:
	pk_init(&pk);
	pk_str(&pk, err);
	pk_u32(&pk, code);
	dconn_send(c, SPN_CTL_ERROR, m->id, &pk);
	pk_free(&pk);
	dconn_hold(c, NULL, NULL);
	dacc_free(a);
}

/* The daemon stops: every listener and its connections go, before the
 * routes they hold. */
void
daccept_shutdown(void)
{
	struct dacc *a;

	while ((a = TAILQ_FIRST(&dacc_all)) != NULL) {
		dconn_hold(a->c, NULL, NULL);
		dacc_free(a);
	}
}
