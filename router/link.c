/*
 * A link is one stream to a neighbouring context: a pair of fds carrying
 * frames.  Child links may first carry text (shell banners, stage 0's
 * "SPN0 <arch>" line) before the agent's first frame.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "router.h"

#define LINK_READ_MAX		(256 * 1024)
#define LINK_LINE_MAX		4096
/* Log records a far end may send: a burst, then so many a second. */
#define LINK_LOG_BURST		2000
#define LINK_LOG_RATE		200

struct link {
	struct rt		*rt;
	int			 fd_in;
	int			 fd_out;
	enum link_role		 role;
	uint32_t		 peer;
	char			*name;
	struct event		*rev;
	struct event		*wev;
	struct event		*kev;
	struct evbuffer		*in;
	struct evbuffer		*out;
	struct link_cbs		 cbs;
	int			 preamble;
	int			 dead;
	int			 wfailed;	/* output dropped */
	int			 violated;	/* closed for breaking rules */
	uint32_t		 nctx;		/* contexts behind it, claimed
						 * or expected (router.c) */
	uint32_t		 dropped;	/* answers not queued */
	uint32_t		 npeers;	/* contexts its side talked
						 * with across us (router.c) */
	uint32_t		 log_tokens;
	uint32_t		 log_muted;	/* records dropped lately */
	uint64_t		 log_refill;
	int			 keepalive;
	uint64_t		 last_rx;
	uint64_t		 last_tx;
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
};

static void	link_read_cb(evutil_socket_t, short, void *);
static void	link_write_cb(evutil_socket_t, short, void *);

struct link *
link_new(struct rt *rt, int fd_in, int fd_out, enum link_role role,
    uint32_t peer, const char *name)
{
	struct link *l = xcalloc(1, sizeof *l);
	struct event_base *base = rt_base(rt);

	l->rt = rt;
	l->fd_in = fd_in;
	l->fd_out = fd_out;
	l->role = role;
	l->peer = peer;
	l->name = xstrdup(name);
	l->in = evbuffer_new();
	l->out = evbuffer_new();
	l->last_rx = l->last_tx = l->log_refill = now_usec();
	l->log_tokens = LINK_LOG_BURST;
	fd_nonblock(fd_in, 1);
	fd_nonblock(fd_out, 1);
	l->rev = event_new(base, fd_in, EV_READ | EV_PERSIST, link_read_cb, l);
	l->wev = event_new(base, fd_out, EV_WRITE, link_write_cb, l);
	event_add(l->rev, NULL);
	rt_link_added(rt, l);
	return l;
}

void
link_set_cbs(struct link *l, const struct link_cbs *cbs)
{
	l->cbs = *cbs;
}

void
link_expect_preamble(struct link *l)
{
	l->preamble = 1;
}

uint32_t
link_peer(struct link *l)
{
	return l->peer;
}

void
link_set_peer(struct link *l, uint32_t peer)
{
	l->peer = peer;
}

enum link_role
link_role(struct link *l)
{
	return l->role;
}

const char *
link_name(struct link *l)
{
	return l->name;
}

size_t
link_queued(struct link *l)
{
	return evbuffer_get_length(l->out);
}

uint32_t
link_nctx(struct link *l)
{
	return l->nctx;
}

void
link_nctx_add(struct link *l, int delta)
{
	l->nctx += delta;
}

uint32_t
link_npeers(struct link *l)
{
	return l->npeers;
}

void
link_npeers_add(struct link *l, int delta)
{
	l->npeers += delta;
}

/* Count an answer we did not queue; the total, for the router's bound. */
uint32_t
link_dropped(struct link *l)
{
	return ++l->dropped;
}

/*
 * A log record from this link may be printed: a far end must not fill
 * the daemon's log (or the user's terminal) as fast as it can write.
 * Past the burst, records are dropped until a second's worth has
 * refilled, and each such pause is said once.
 */
int
link_log_allow(struct link *l)
{
	uint64_t now = now_usec(), add;

	add = (now - l->log_refill) * LINK_LOG_RATE / 1000000;
	if (add > 0) {
		add += l->log_tokens;
		l->log_tokens = add > LINK_LOG_BURST ? LINK_LOG_BURST : add;
		l->log_refill = now;
	}
	if (l->log_muted != 0 && l->log_tokens >= LINK_LOG_RATE) {
		log_warn("%s: %u log records dropped", l->name, l->log_muted);
		l->log_muted = 0;
	}
	if (l->log_muted != 0 || l->log_tokens == 0) {
		if (l->log_muted++ == 0)
			log_warn("%s: too many log records; dropping them",
			    l->name);
		return 0;
	}
	l->log_tokens--;
	return 1;
}

int
link_violated(struct link *l)
{
	return l->violated;
}

uint64_t
link_bytes_in(struct link *l)
{
	return l->bytes_in;
}

uint64_t
link_bytes_out(struct link *l)
{
	return l->bytes_out;
}

/* Write on the next loop pass, so frames queued in one callback coalesce. */
static void
link_kick(struct link *l)
{
	if (!l->dead && !l->wfailed)
		event_active(l->wev, EV_WRITE, 0);
}

void
link_write(struct link *l, const struct spn_hdr *h, const void *payload)
{
	uint8_t hb[SPN_HDR_LEN];

	if (l->dead || l->wfailed)
		return;
	wire_put_hdr(hb, h);
	evbuffer_add(l->out, hb, sizeof hb);
	/* A password's copy is wiped once written (or dropped with the
	 * link), not left in a block libevent frees. */
	if (h->len != 0 && wire_secret(h))
		evbuf_add_secret(l->out, payload, h->len);
	else if (h->len != 0)
		evbuffer_add(l->out, payload, h->len);
	link_kick(l);
}

/* A header, then all of payload's bytes moved over without a copy. */
void
link_write_hdr_evbuf(struct link *l, const struct spn_hdr *h,
    struct evbuffer *payload)
{
	uint8_t hb[SPN_HDR_LEN];

	if (l->dead || l->wfailed) {
		evbuffer_drain(payload, h->len);
		return;
	}
	wire_put_hdr(hb, h);
	evbuffer_add(l->out, hb, sizeof hb);
	evbuffer_remove_buffer(payload, l->out, h->len);
	link_kick(l);
}

/* Bytes that are not a frame: stage 0 and the image, ahead of BOOT. */
void
link_write_raw(struct link *l, const void *p, size_t n)
{
	if (l->dead || l->wfailed)
		return;
	evbuffer_add(l->out, p, n);
	link_kick(l);
}

/* Move n bytes (a whole frame) from another buffer without copying. */
void
link_write_evbuf(struct link *l, struct evbuffer *from, size_t n)
{
	if (l->dead || l->wfailed) {
		evbuffer_drain(from, n);
		return;
	}
	evbuffer_remove_buffer(from, l->out, n);
	link_kick(l);
}

static void
link_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	int n;

	(void)what;
	if (l->dead)
		return;
	n = evbuffer_write(l->out, fd);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		/* A child that exits at once (ssh refused) breaks the pipe
		 * first: let its owner find out why, as for EOF. */
		if (l->cbs.eof != NULL) {
			evbuffer_drain(l->out, evbuffer_get_length(l->out));
			l->wfailed = 1;
			l->cbs.eof(l, l->cbs.arg);
		} else
			link_close(l, "write failed: %s", strerror(errno));
		return;
	}
	if (n > 0) {
		l->bytes_out += n;
		l->last_tx = now_usec();
	}
	if (evbuffer_get_length(l->out) != 0)
		event_add(l->wev, NULL);
}

/* Text before the first frame: log it, and stop at stage 0's status line. */
static int
link_read_preamble(struct link *l)
{
	char *line;
	size_t n;
	int rc;

	while (l->preamble) {
		line = evbuf_readline(l->in, &n);
		if (line == NULL) {
			if (evbuffer_get_length(l->in) > LINK_LINE_MAX) {
				link_close(l, "garbage before the agent started");
				return -1;
			}
			return 0;
		}
		if (strncmp(line, "SPN0 ", 5) == 0) {
			l->preamble = 0;
			rc = 0;
			if (l->cbs.preamble != NULL)
				rc = l->cbs.preamble(l, line + 5, l->cbs.arg);
			free(line);
			if (rc != 0) {
				link_close(l, "refused by its owner");
				return -1;
			}
		} else {
			if (l->cbs.text != NULL)
				l->cbs.text(l, line, l->cbs.arg);
			free(line);
		}
		if (l->dead)
			return -1;
	}
	return 0;
}

static void
link_read_frames(struct link *l)
{
	uint8_t hb[SPN_HDR_LEN];
	struct spn_hdr h;
	char why[128];

	while (!l->dead && evbuffer_get_length(l->in) >= SPN_HDR_LEN) {
		evbuffer_copyout(l->in, hb, sizeof hb);
		if (wire_get_hdr(hb, &h, rt_max_frame(l->rt), why,
		    sizeof why) != 0) {
			link_violation(l, "invalid frame: %s", why);
			return;
		}
		if (evbuffer_get_length(l->in) < SPN_HDR_LEN + (size_t)h.len)
			return;
		rt_link_input(l->rt, l, l->in, &h);
	}
}

/* Read straight into reserved buffer space: no FIONREAD round trip. */
static int
link_readv(struct link *l, int fd)
{
	struct evbuffer_iovec vec[2];
	int nvec, n;

	nvec = evbuffer_reserve_space(l->in, LINK_READ_MAX, vec, 2);
	if (nvec < 0)
		return -1;
	n = readv(fd, (struct iovec *)vec, nvec);
	if (n <= 0) {
		evbuffer_commit_space(l->in, vec, 0);
		return n;
	}
	if ((size_t)n <= vec[0].iov_len) {
		vec[0].iov_len = n;
		nvec = 1;
	} else
		vec[1].iov_len = n - vec[0].iov_len;
	evbuffer_commit_space(l->in, vec, nvec);
	return n;
}

static void
link_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	int n;

	(void)what;
	n = link_readv(l, fd);
	if (n == 0) {
		event_del(l->rev);
		if (l->cbs.eof != NULL)
			l->cbs.eof(l, l->cbs.arg);
		else
			link_close(l, "connection closed");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			link_close(l, "read failed: %s", strerror(errno));
		return;
	}
	l->bytes_in += n;
	l->last_rx = now_usec();
	if (link_read_preamble(l) != 0)
		return;
	if (!l->preamble)
		link_read_frames(l);
}

static void
link_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	uint64_t now = now_usec(), limit = (uint64_t)l->keepalive * 1000000;
	struct spn_hdr h = { .kind = SPN_K_KEEPALIVE };

	(void)fd;
	(void)what;
	if (now - l->last_rx > limit) {
		link_close(l, "no answer for %d seconds (keepalive)",
		    l->keepalive);
		return;
	}
	if (now - l->last_tx >= limit / 3 && l->peer != 0 &&
	    rt_id(l->rt) != 0) {
		h.dst = l->peer;
		h.src = rt_id(l->rt);
		link_write(l, &h, NULL);
	}
}

/* Probe the peer when idle; declare it dead after `secs` of silence. */
void
link_set_keepalive(struct link *l, int secs)
{
	struct timeval tv;

	l->keepalive = secs;
	if (l->kev != NULL) {
		event_free(l->kev);
		l->kev = NULL;
	}
	if (secs <= 0 || l->dead)
		return;
	tv.tv_sec = secs / 3 > 0 ? secs / 3 : 1;
	tv.tv_usec = 0;
	l->kev = event_new(rt_base(l->rt), -1, EV_PERSIST, link_keepalive_cb,
	    l);
	event_add(l->kev, &tv);
}

static void
link_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;

	(void)fd;
	(void)what;
	event_free(l->rev);
	event_free(l->wev);
	if (l->kev != NULL)
		event_free(l->kev);
	evbuffer_free(l->in);
	evbuffer_free(l->out);
	free(l->name);
	free(l);
}

/*
 * The far end broke the protocol: what it sent can no longer be trusted,
 * so nothing more is read from it.  The reason names what it did.
 */
void
link_violation(struct link *l, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	if (l->dead)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	l->violated = 1;
	log_warn("%s: protocol violation: %s", l->name, why);
	link_close(l, "protocol violation: %s", why);
}

/*
 * Close the link and tell the router and the owner.  Freeing waits for the
 * next loop pass so no caller up the stack is left holding a freed link.
 */
void
link_close(struct link *l, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	struct timeval tv = { 0, 0 };

	if (l->dead)
		return;
	l->dead = 1;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	event_del(l->rev);
	event_del(l->wev);
	if (l->kev != NULL)
		event_del(l->kev);
	/* Best effort: flush what is queued (a final dead letter, say). */
	if (evbuffer_get_length(l->out) != 0)
		evbuffer_write(l->out, l->fd_out);
	close(l->fd_in);
	if (l->fd_out != l->fd_in)
		close(l->fd_out);
	rt_link_closed(l->rt, l, why);
	if (l->cbs.closed != NULL)
		l->cbs.closed(l, why, l->cbs.arg);
	event_base_once(rt_base(l->rt), -1, EV_TIMEOUT, link_free_cb, l, &tv);
}
