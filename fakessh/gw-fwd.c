/*
 * The gateway's tunnels.  direct-tcpip (ssh -L, -D, -W, ProxyJump)
 * becomes a FORWARD at the daemon with one end of a socketpair, the
 * channel pumped to the other end.  tcpip-forward (ssh -R) becomes a
 * LISTEN with SPN_FWD_F_PASS: each far connection comes back as a
 * socket in ACCEPTED, and goes to the client in a forwarded-tcpip
 * channel.
 *
 * libssh 0.10 frees the message as soon as its callback returns, so
 * each request is answered there, before the far end has said a word:
 * a direct-tcpip is accepted at once and closed if the far connect
 * fails (the daemon logs why), as a ProxyJump user then sees from
 * OpenSSH's sshd too; a tcpip-forward with a fixed port is answered
 * success while the far end binds (a failure later is logged, and
 * that listener is gone); port 0 is refused, since the port bound is
 * not known in time to say it.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "gateway.h"

#define GW_FWD_LISTEN_MAX	16	/* tcpip-forwards per connection */
#define GW_FWD_PENDING_MAX	64	/* per connection: channels opening */
#define GW_FWD_OPEN_SECS	10	/* for the client to confirm one */
#define GW_FWD_OPEN_POLL_US	2000	/* 0.10 has no open-confirmed
					 * callback: ask again this often */

/* One direct-tcpip channel and its FORWARD. */
struct gw_dfwd {
	struct gw_chan		*ch;
	struct gw_ctl		*g;
	char			*what;		/* "db:5432" */
	int			 done;		/* DONE came */
};

/* A far connection on its way to the client: the channel opening.
 * Its listener may go meanwhile (cancel-tcpip-forward); it goes with
 * its connection. */
struct gw_ropen {
	struct gw_conn		*c;
	ssh_channel		 ch;
	int			 fd;
	char			*addr;		/* as the client asked */
	char			*what;		/* "localhost:8080", for the log */
	uint32_t		 port;
	char			*host;		/* the far peer */
	int			 hport;
	struct timeval		 deadline;
	TAILQ_ENTRY(gw_ropen)	 entry;
};

/* One tcpip-forward and its LISTEN. */
struct gw_lis {
	struct gw_conn		*c;
	struct gw_ctl		*g;
	char			*addr;		/* as asked: forwarded-tcpip
						 * channels must name it */
	char			*what;		/* "localhost:8080", for the log */
	uint32_t		 port;
	int			 dying;		/* freed from the loop */
	LIST_ENTRY(gw_lis)	 entry;
};

static LIST_HEAD(, gw_lis) gw_lis_all = LIST_HEAD_INITIALIZER(gw_lis_all);
static TAILQ_HEAD(, gw_ropen) gw_ropens = TAILQ_HEAD_INITIALIZER(gw_ropens);
static struct event	*gw_ropen_ev;

/* The spec of c's route, packed into pk; -1 and why. */
static int
gw_fwd_spec(struct gw_conn *c, struct pk *pk, char *why, size_t whylen)
{
	struct ctl_spec s;

	memset(&s, 0, sizeof s);
	if (gw_conn_spec(c, &s, why, whylen) != 0)
		return -1;
	ctl_spec_pack(pk, &s);
	ctl_spec_free(&s);
	return 0;
}

static void
gw_dfwd_gone(struct gw_chan *ch, void *arg)
{
	struct gw_dfwd *f = arg;

	(void)ch;
	/* Our hang-up ends the forward at the daemon, if still on. */
	if (f->g != NULL)
		gw_ctl_free(f->g);
	free(f->what);
	free(f);
}

/* What the daemon says about a direct-tcpip's FORWARD. */
static void
gw_dfwd_ctl(struct gw_ctl *g, const struct ctl_msg *m, int *fds, int nfds,
    void *arg)
{
	struct gw_dfwd *f = arg;
	struct upk u;
	char *text;

	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (m == NULL) {
		gw_ctl_free(g);
		f->g = NULL;
		/* The daemon went before saying DONE: nothing carries the
		 * channel any more. */
		if (!f->done)
			gw_chan_close(f->ch);
		return;
	}
	upk_init(&u, m->body, m->len);
	switch (m->type) {
	case SPN_CTL_CONNECTED:
		text = upk_str(&u);
		log_debug("direct-tcpip to %s: connected (%s)", f->what,
		    text != NULL ? text : "?");
		free(text);
		break;
	case SPN_CTL_ERROR:
		/* No way in 0.10 to tell the client why once accepted (nor
		 * any but "administratively prohibited" before): closing
		 * is what OpenSSH's users see for a failed connect. */
		text = upk_str(&u);
		log_info("direct-tcpip to %s: %s", f->what,
		    text != NULL ? text : "failed");
		free(text);
		f->done = 1;
		gw_chan_close(f->ch);
		break;
	case SPN_CTL_DONE:
		f->done = 1;
		break;
	}
}

/*
 * direct-tcpip: a FORWARD first (so that a daemon we cannot reach
 * refuses the channel), then the channel accepted, inside the callback.
 */
static int
gw_fwd_direct(struct gw_conn *c, ssh_message m)
{
	const char *host = ssh_message_channel_request_open_destination(m);
	int port = ssh_message_channel_request_open_destination_port(m);
	struct gw_dfwd *f;
	ssh_channel sch;
	char why[512];
	struct pk pk;
	int sv[2];

	if (host == NULL || *host == '\0' || strlen(host) > 255 ||
	    port <= 0 || port > 65535) {
		log_info("direct-tcpip refused: bad destination");
		return 1;
	}
	if (!gw_conn_chan_ok(c))
		return 1;
	f = xcalloc(1, sizeof *f);
	f->what = str_clean(xprintf("%s:%d", host, port));
	pk_init(&pk);
	if (gw_fwd_spec(c, &pk, why, sizeof why) != 0) {
		log_info("direct-tcpip to %s refused: %s", f->what, why);
		goto fail;
	}
	pk_u32(&pk, SPN_FWD_DIRECT);
	pk_u32(&pk, 0);
	pk_str(&pk, host);
	pk_u32(&pk, port);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) != 0) {
		log_warn("direct-tcpip to %s refused: socketpair: %s", f->what,
		    strerror(errno));
		goto fail;
	}
	f->g = gw_ctl_open(SPN_CTL_FORWARD, &pk, &sv[1], 1, gw_dfwd_ctl, f,
	    why, sizeof why);
	pk_free(&pk);
	close(sv[1]);
	if (f->g == NULL) {
		log_warn("direct-tcpip to %s refused: %s", f->what, why);
		close(sv[0]);
		goto fail;
	}
	if ((sch = ssh_message_channel_request_open_reply_accept(m)) == NULL) {
		log_warn("direct-tcpip to %s: cannot accept: %s", f->what,
		    ssh_get_error(gw_conn_session(c)));
		gw_ctl_free(f->g);
		close(sv[0]);
		goto fail;
	}
	log_debug("direct-tcpip to %s", f->what);
	f->ch = gw_chan_new(c, sch, gw_dfwd_gone, f);
	gw_chan_start(f->ch, sv[0], sv[0], -1);
	gw_conn_kick(c);
	return 0;
fail:
	pk_free(&pk);
	free(f->what);
	free(f);
	return 1;
}

/* Any other channel type gets libssh's refusal: direct-streamlocal
 * among them, whose path 0.10 has no getter for. */
int
gw_fwd_open(struct gw_conn *c, ssh_message m)
{
	if (ssh_message_type(m) != SSH_REQUEST_CHANNEL_OPEN ||
	    ssh_message_subtype(m) != SSH_CHANNEL_DIRECT_TCPIP)
		return 1;
	return gw_fwd_direct(c, m);
}

static void
gw_ropen_free(struct gw_ropen *r)
{
	TAILQ_REMOVE(&gw_ropens, r, entry);
	if (r->ch != NULL)
		ssh_channel_free(r->ch);
	if (r->fd >= 0)
		close(r->fd);
	free(r->addr);
	free(r->what);
	free(r->host);
	free(r);
}

static int
gw_ropen_count(struct gw_conn *c)
{
	struct gw_ropen *r;
	int n = 0;

	TAILQ_FOREACH(r, &gw_ropens, entry) {
		if (r->c == c)
			n++;
	}
	return n;
}

static void
gw_lis_free(struct gw_lis *l)
{
	LIST_REMOVE(l, entry);
	if (l->g != NULL)
		gw_ctl_free(l->g);
	free(l->addr);
	free(l->what);
	free(l);
}

static void
gw_lis_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gw_lis_free(arg);
}

/* Gone, from the loop: we may be inside its gw_ctl's callback, or
 * libssh's. */
static void
gw_lis_end(struct gw_lis *l)
{
	struct timeval tv = { 0, 0 };

	if (l->dying)
		return;
	l->dying = 1;
	event_base_once(gw_base(), -1, EV_TIMEOUT, gw_lis_free_cb, l, &tv);
}

static void
gw_rchan_gone(struct gw_chan *ch, void *arg)
{
	(void)ch;
	(void)arg;
}

/*
 * Ask the client again whether it took the channel: SSH_OK, the
 * channel goes to the pump; SSH_ERROR, it refused (or the session
 * broke): the far connection is closed.  0 while it has not said.
 */
static int
gw_ropen_try(struct gw_ropen *r)
{
	struct gw_chan *ch;
	int rc;

	rc = ssh_channel_open_reverse_forward(r->ch, r->addr, r->port,
	    r->host, r->hport);
	gw_conn_kick(r->c);
	if (rc == SSH_AGAIN)
		return 0;
	if (rc != SSH_OK) {
		log_info("remote forward %s: connection from %s:%d not taken "
		    "by the client", r->what, r->host, r->hport);
		gw_ropen_free(r);
		return 1;
	}
	ch = gw_chan_new(r->c, r->ch, gw_rchan_gone, NULL);
	r->ch = NULL;
	gw_chan_start(ch, r->fd, r->fd, -1);
	r->fd = -1;
	gw_ropen_free(r);
	return 1;
}

static void
gw_ropen_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_ropen *r, *next;
	struct timeval now, tv = { 0, GW_FWD_OPEN_POLL_US };

	(void)fd;
	(void)what;
	(void)arg;
	gettimeofday(&now, NULL);
	for (r = TAILQ_FIRST(&gw_ropens); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (gw_ropen_try(r))
			continue;
		if (timercmp(&now, &r->deadline, >)) {
			log_info("remote forward %s: the client did not "
			    "answer for %s:%d within %d s", r->what, r->host,
			    r->hport, GW_FWD_OPEN_SECS);
			gw_ropen_free(r);
		}
	}
	if (!TAILQ_EMPTY(&gw_ropens))
		evtimer_add(gw_ropen_ev, &tv);
}

/* "10.0.0.5:40312", "[::1]:40312": host and port apart. */
static void
gw_peer_split(const char *peer, char **host, int *port)
{
	const char *colon = strrchr(peer, ':');
	size_t n = colon != NULL ? (size_t)(colon - peer) : strlen(peer);

	*port = colon != NULL ? atoi(colon + 1) : 0;
	if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
		peer++;
		n -= 2;
	}
	*host = xstrndup(peer, n);
}

/* ACCEPTED: a far connection, fd joined to it; to the client. */
static void
gw_lis_accepted(struct gw_lis *l, struct upk *u, int fd)
{
	struct timeval tv = { 0, GW_FWD_OPEN_POLL_US };
	struct gw_ropen *r;
	char *peer;

	(void)upk_u32(u);
	peer = upk_str(u);
	if (u->err || peer == NULL || fd < 0) {
		log_warn("remote forward %s: malformed ACCEPTED", l->what);
		goto drop;
	}
	str_clean(peer);
	if (gw_ropen_count(l->c) >= GW_FWD_PENDING_MAX ||
	    !gw_conn_chan_ok(l->c)) {
		log_info("remote forward %s: connection from %s dropped: "
		    "too many channels", l->what, peer);
		goto drop;
	}
	r = xcalloc(1, sizeof *r);
	r->c = l->c;
	r->fd = fd;
	r->addr = xstrdup(l->addr);
	r->what = xstrdup(l->what);
	r->port = l->port;
	gw_peer_split(peer, &r->host, &r->hport);
	free(peer);
	gettimeofday(&r->deadline, NULL);
	r->deadline.tv_sec += GW_FWD_OPEN_SECS;
	TAILQ_INSERT_TAIL(&gw_ropens, r, entry);
	if ((r->ch = ssh_channel_new(gw_conn_session(l->c))) == NULL) {
		log_warn("remote forward %s: no channel", l->what);
		gw_ropen_free(r);
		return;
	}
	log_debug("remote forward %s: connection from %s:%d", l->what,
	    r->host, r->hport);
	if (gw_ropen_try(r))
		return;
	if (gw_ropen_ev == NULL)
		gw_ropen_ev = evtimer_new(gw_base(), gw_ropen_cb, NULL);
	if (!evtimer_pending(gw_ropen_ev, NULL))
		evtimer_add(gw_ropen_ev, &tv);
	return;
drop:
	free(peer);
	if (fd >= 0)
		close(fd);
}

/* What the daemon says about a tcpip-forward's LISTEN. */
static void
gw_lis_ctl(struct gw_ctl *g, const struct ctl_msg *m, int *fds, int nfds,
    void *arg)
{
	struct gw_lis *l = arg;
	struct upk u;
	char *text;

	for (int i = 1; i < nfds; i++)
		close(fds[i]);
	if (m == NULL) {
		if (nfds > 0)
			close(fds[0]);
		if (!l->dying)
			log_info("remote forward %s: closed by the daemon",
			    l->what);
		gw_ctl_free(g);
		l->g = NULL;
		gw_lis_end(l);
		return;
	}
	upk_init(&u, m->body, m->len);
	if (m->type == SPN_CTL_ACCEPTED && !l->dying) {
		gw_lis_accepted(l, &u, nfds > 0 ? fds[0] : -1);
		return;
	}
	if (nfds > 0)
		close(fds[0]);
	switch (m->type) {
	case SPN_CTL_LISTENING:
		log_info("remote forward %s: listening at the far end", l->what);
		break;
	case SPN_CTL_ERROR:
		/* The client was told yes already (0.10 wants the answer
		 * inside the callback): the log is all that can say it. */
		text = upk_str(&u);
		log_warn("remote forward %s failed: %s", l->what,
		    text != NULL ? text : "refused");
		free(text);
		gw_lis_end(l);
		break;
	}
}

static struct gw_lis *
gw_lis_find(struct gw_conn *c, const char *addr, uint32_t port)
{
	struct gw_lis *l;

	LIST_FOREACH(l, &gw_lis_all, entry) {
		if (l->c == c && !l->dying && l->port == port &&
		    strcmp(l->addr, addr) == 0)
			return l;
	}
	return NULL;
}

static int
gw_lis_count(struct gw_conn *c)
{
	struct gw_lis *l;
	int n = 0;

	LIST_FOREACH(l, &gw_lis_all, entry) {
		if (l->c == c && !l->dying)
			n++;
	}
	return n;
}

/* tcpip-forward: a LISTEN with PASS; 0 if the client was told yes. */
static int
gw_fwd_listen(struct gw_conn *c, const char *addr, int port)
{
	struct gw_lis *l;
	const char *bind, *no = NULL;
	char why[512], *what;
	struct pk pk;

	if (port < 0 || port > 65535 || strlen(addr) > 255) {
		log_info("remote forward refused: bad address or port");
		return -1;
	}
	what = str_clean(xprintf("%s:%d", addr, port));
	if (port == 0)
		no = "the port bound at the far end is not known in time to "
		    "tell it (give a port)";
	else if (gw_lis_find(c, addr, port) != NULL)
		no = "asked already";
	else if (gw_lis_count(c) >= GW_FWD_LISTEN_MAX)
		no = "too many on this connection";
	pk_init(&pk);
	if (no == NULL && gw_fwd_spec(c, &pk, why, sizeof why) != 0)
		no = why;
	if (no != NULL) {
		log_info("remote forward %s refused: %s", what, no);
		pk_free(&pk);
		free(what);
		return -1;
	}
	/* Loopback unless an address was named, as sshd's GatewayPorts
	 * no; OpenSSH asks "localhost" when none was given. */
	bind = (*addr == '\0' || strcmp(addr, "localhost") == 0) ? "" : addr;
	pk_u32(&pk, SPN_FWD_DIRECT);
	pk_u32(&pk, SPN_FWD_F_PASS);
	pk_str(&pk, bind);
	pk_u32(&pk, port);
	pk_str(&pk, "");
	pk_u32(&pk, 0);
	l = xcalloc(1, sizeof *l);
	l->c = c;
	l->addr = xstrdup(addr);
	l->what = what;
	l->port = port;
	LIST_INSERT_HEAD(&gw_lis_all, l, entry);
	l->g = gw_ctl_open(SPN_CTL_LISTEN, &pk, NULL, 0, gw_lis_ctl, l, why,
	    sizeof why);
	pk_free(&pk);
	if (l->g == NULL) {
		log_warn("remote forward %s refused: %s", l->what, why);
		gw_lis_free(l);
		return -1;
	}
	log_debug("remote forward %s asked", l->what);
	return 0;
}

int
gw_fwd_global(struct gw_conn *c, ssh_message m)
{
	const char *addr;
	struct gw_lis *l;
	int port;

	if (ssh_message_type(m) != SSH_REQUEST_GLOBAL)
		return 1;
	addr = ssh_message_global_request_address(m);
	port = ssh_message_global_request_port(m);
	if (addr == NULL)
		addr = "";
	switch (ssh_message_subtype(m)) {
	case SSH_GLOBAL_REQUEST_KEEPALIVE:
		break;
	case SSH_GLOBAL_REQUEST_TCPIP_FORWARD:
		if (gw_fwd_listen(c, addr, port) != 0)
			return 1;
		break;
	case SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD:
		if ((l = gw_lis_find(c, addr, port)) == NULL)
			return 1;
		log_debug("remote forward %s cancelled", l->what);
		gw_lis_end(l);
		break;
	default:
		return 1;
	}
	ssh_message_global_request_reply_success(m, port);
	gw_conn_kick(c);
	return 0;
}

/* c ends: its listeners with it, and the channels still opening (the
 * session they belong to goes next). */
void
gw_fwd_conn_gone(struct gw_conn *c)
{
	struct gw_ropen *r, *rnext;
	struct gw_lis *l, *next;

	for (r = TAILQ_FIRST(&gw_ropens); r != NULL; r = rnext) {
		rnext = TAILQ_NEXT(r, entry);
		if (r->c == c)
			gw_ropen_free(r);
	}
	for (l = LIST_FIRST(&gw_lis_all); l != NULL; l = next) {
		next = LIST_NEXT(l, entry);
		if (l->c != c)
			continue;
		if (l->dying) {
			/* Its free is on its way; hang up now. */
			l->c = NULL;
			if (l->g != NULL)
				gw_ctl_free(l->g);
			l->g = NULL;
		} else
			gw_lis_free(l);
	}
}
