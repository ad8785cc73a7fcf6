/*
 * Byte streams over the bus.  A source reads an fd and sends DATA frames,
 * never more than its credit; the sink writes them to its fd and returns
 * credit as bytes leave.  So no hop ever holds more than one window per
 * stream, whatever the speeds of the two ends.
 *
 * A sink may hand its bytes to a callback instead of an fd: the consumer
 * (another thread, through the loop) returns credit with sink_credit() as
 * it is done with them, so a slow consumer holds back the source itself.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router.h"

struct src {
	struct rt	*rt;
	int		 fd;
	int		 own;
	uint32_t	 peer;
	uint32_t	 peer_handle;
	uint32_t	 handle;
	uint64_t	 credit;
	struct event	*ev;
	int		 pollable;
	int		 waiting;	/* read event armed */
	int		 nonblock;
	int		 finished;
	int		 err;		/* errno of a failed read */
	uint64_t	 bytes;
	struct evbuffer	*buf;
	size_t		 chunk;
	struct sock	*sock;		/* shares its fd; closes it */
	src_done_fn	*done;
	void		*arg;
};

struct sink {
	struct rt	*rt;
	int		 fd;
	int		 own;
	int		 oflags;	/* fd flags to restore */
	uint32_t	 peer;
	uint32_t	 handle;
	uint32_t	 credit_handle;
	struct evbuffer	*buf;
	struct event	*ev;
	int		 pollable;
	int		 eof;
	int		 finished;
	int		 err;		/* errno of a failed write */
	uint64_t	 owed;
	uint64_t	 bytes;
	sink_data_fn	*data;		/* a callback sink's consumer */
	uint64_t	 held;		/* ... bytes it has not credited */
	uint32_t	 window;
	struct sock	*sock;		/* shares its fd; closes it */
	sink_done_fn	*done;
	void		*arg;
};

struct sock {
	struct rt	*rt;
	int		 fd_in;
	int		 fd_out;
	uint32_t	 peer;
	struct src	*src;
	struct sink	*sink;
	int		 src_over;
	int		 sink_over;
	int		 closed;
	char		*why;		/* what cut it, or NULL */
	struct event	*ev_done;
	sock_done_fn	*done;
	void		*arg;
};

static void
src_finish(struct src *s, const char *why)
{
	if (s->finished)
		return;
	s->finished = 1;
	event_del(s->ev);
	if (s->own && s->fd >= 0 && s->sock == NULL) {
		close(s->fd);
		s->fd = -1;
	}
	if (s->done != NULL)
		s->done(s, why, s->arg);
}

/* Arm the fd (or, for always-ready fds, schedule a read pass). */
static void
src_arm(struct src *s)
{
	if (s->finished || s->credit == 0)
		return;
	if (!s->pollable)
		event_active(s->ev, EV_READ, 0);
	else if (!s->waiting) {
		event_add(s->ev, NULL);
		s->waiting = 1;
	}
}

/* Read into buffer space that then moves to the link without a copy. */
static ssize_t
src_read(struct src *s, int fd, size_t want)
{
	struct evbuffer_iovec vec;
	ssize_t n;

	if (evbuffer_reserve_space(s->buf, want, &vec, 1) != 1)
		return -1;
	n = read(fd, vec.iov_base, want);
	vec.iov_len = n > 0 ? (size_t)n : 0;
	evbuffer_commit_space(s->buf, &vec, 1);
	return n;
}

static void
src_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct src *s = arg;
	size_t want;
	ssize_t n;
	int avail;

	(void)what;
	fd = s->fd;	/* always-ready fds have no fd in their event */
	for (int i = 0; i < 8 && s->credit > 0 && !s->finished; i++) {
		want = s->credit < s->chunk ? s->credit : s->chunk;
		/* A blocking fd is read again only for what is already there. */
		if (i > 0 && !s->nonblock) {
			if (ioctl(fd, FIONREAD, &avail) != 0 || avail <= 0)
				break;
			if ((size_t)avail < want)
				want = avail;
		}
		n = src_read(s, fd, want);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			s->err = n < 0 ? errno : 0;
			/* A socket's reset is no FIN: its sock sends DEAD. */
			if (n == 0 || s->sock == NULL)
				rt_send(s->rt, SPN_K_EOF, s->peer,
				    s->peer_handle, s->handle, NULL, 0);
			src_finish(s, n < 0 ? strerror(s->err) : NULL);
			return;
		}
		rt_send_evbuf(s->rt, SPN_K_DATA, s->peer, s->peer_handle,
		    s->handle, s->buf);
		s->credit -= n;
		s->bytes += n;
		if (s->pollable && s->nonblock && (size_t)n < want)
			break;
	}
	if (s->credit == 0 && s->waiting) {
		event_del(s->ev);
		s->waiting = 0;
	} else if (!s->pollable)
		src_arm(s);
}

static void
src_msg(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct src *s = arg;
	struct upk u;
	char *text;

	(void)rt;
	upk_init(&u, m->data, m->h.len);
	if (m->h.kind == SPN_K_CREDIT) {
		s->credit += upk_u32(&u);
		src_arm(s);
	} else if (m->h.kind == SPN_K_DEAD) {
		upk_u32(&u);
		text = upk_str(&u);
		src_finish(s, text != NULL ? text : "stream refused");
		free(text);
	}
}

struct src *
src_new(struct rt *rt, int fd, int own, uint32_t peer, uint32_t peer_handle,
    src_done_fn *done, void *arg)
{
	struct src *s = xcalloc(1, sizeof *s);

	s->rt = rt;
	s->fd = fd;
	s->own = own;
	s->peer = peer;
	s->peer_handle = peer_handle;
	s->credit = rt_window(rt);
	s->chunk = SPN_CHUNK_DEFAULT;
	if (s->chunk > rt_max_frame(rt))
		s->chunk = rt_max_frame(rt);
	s->buf = evbuffer_new();
	s->done = done;
	s->arg = arg;
	s->pollable = fd_pollable(fd);
	/* Our own pipes may be non-blocking; a shared stdin must stay as is. */
	if (own && s->pollable && fd_nonblock(fd, 1) == 0)
		s->nonblock = 1;
	fd_grow_pipe(fd);
	s->handle = rt_handle_add(rt, 0, RT_ALLOW_PEER, peer, src_msg, s);
	s->ev = event_new(rt_base(rt), s->pollable ? fd : -1,
	    EV_READ | (s->pollable ? EV_PERSIST : 0), src_read_cb, s);
	src_arm(s);
	return s;
}

/* Before the first read: the sink's window, where it is not ours. */
void
src_set_credit(struct src *s, uint32_t credit)
{
	s->credit = credit;
}

uint64_t
src_bytes(struct src *s)
{
	return s->bytes;
}

/* The errno of the read that ended the stream, or 0. */
int
src_errno(struct src *s)
{
	return s->err;
}

void
src_free(struct src *s)
{
	if (s == NULL)
		return;
	s->done = NULL;
	src_finish(s, NULL);
	rt_handle_del(s->rt, s->handle);
	if (s->ev != NULL)
		event_free(s->ev);
	evbuffer_free(s->buf);
	free(s);
}

static void
sink_finish(struct sink *s, const char *why)
{
	if (s->finished)
		return;
	s->finished = 1;
	if (s->ev != NULL)
		event_del(s->ev);
	if (s->own && s->fd >= 0 && s->sock == NULL) {
		close(s->fd);
		s->fd = -1;
	}
	if (s->done != NULL)
		s->done(s, why, s->arg);
}

static void
sink_refuse(struct sink *s, const char *why)
{
	struct pk pk;

	if (s->credit_handle != 0) {
		pk_init(&pk);
		pk_u32(&pk, SPN_D_REFUSED);
		pk_str(&pk, why);
		rt_send_pk(s->rt, SPN_K_DEAD, s->peer, s->credit_handle, 0,
		    &pk);
		pk_free(&pk);
	}
	evbuffer_drain(s->buf, evbuffer_get_length(s->buf));
	sink_finish(s, why);
}

static void
sink_grant(struct sink *s, int force)
{
	uint8_t b[4];

	if (s->owed == 0 || s->credit_handle == 0 || s->eof)
		return;
	if (!force && s->owed < rt_window(s->rt) / 4)
		return;
	b[0] = s->owed >> 24;
	b[1] = s->owed >> 16;
	b[2] = s->owed >> 8;
	b[3] = s->owed;
	rt_send(s->rt, SPN_K_CREDIT, s->peer, s->credit_handle, 0, b, 4);
	s->owed = 0;
}

static void
sink_flush(struct sink *s)
{
	int n;

	while (evbuffer_get_length(s->buf) != 0 && !s->finished) {
		n = evbuffer_write(s->buf, s->fd);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			event_add(s->ev, NULL);
			break;
		}
		if (n <= 0) {
			s->err = n < 0 ? errno : EIO;
			sink_refuse(s, n < 0 ? strerror(s->err) :
			    "write failed");
			return;
		}
		s->owed += n;
		s->bytes += n;
	}
	/*
	 * An empty buffer returns even a byte of credit at once: a source
	 * given less than our window (src_set_credit) might wait for it.
	 * A socket's source never is (both ends start with the route's
	 * window), and there a CREDIT per small write would cross every hop
	 * once more for each message of a request/response protocol.
	 */
	sink_grant(s, s->sock == NULL && evbuffer_get_length(s->buf) == 0);
	if (s->eof && evbuffer_get_length(s->buf) == 0)
		sink_finish(s, NULL);
}

static void
sink_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sink_flush(arg);
}

/* A callback sink's DATA: to the consumer, which must take all of it;
 * never more than the window it has not credited back. */
static void
sink_take(struct sink *s, const struct rt_msg *m)
{
	s->credit_handle = m->h.reply_to;
	if (s->held + m->h.len > s->window) {
		log_warn("stream from %u overran its window", m->h.src);
		sink_refuse(s, "window overrun");
		return;
	}
	s->held += m->h.len;
	s->bytes += m->h.len;
	if (m->buf != NULL)
		evbuffer_remove_buffer(m->buf, s->buf, m->h.len);
	else
		evbuffer_add(s->buf, m->data, m->h.len);
	s->data(s, s->buf, s->arg);
}

static void
sink_msg(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct sink *s = arg;
	struct upk u;
	char *text;

	if (s->finished)
		return;
	if (s->data != NULL && m->h.kind == SPN_K_DATA) {
		sink_take(s, m);
		return;
	}
	switch (m->h.kind) {
	case SPN_K_DATA:
		s->credit_handle = m->h.reply_to;
		if (m->buf != NULL)
			evbuffer_remove_buffer(m->buf, s->buf, m->h.len);
		else
			evbuffer_add(s->buf, m->data, m->h.len);
		if (evbuffer_get_length(s->buf) > (size_t)rt_window(rt) +
		    rt_max_frame(rt)) {
			log_warn("stream from %u overran its window", m->h.src);
			sink_refuse(s, "window overrun");
			return;
		}
		sink_flush(s);
		break;
	case SPN_K_EOF:
		s->eof = 1;
		sink_flush(s);
		break;
	case SPN_K_DEAD:
		upk_init(&u, m->data, m->h.len);
		upk_u32(&u);
		text = upk_str(&u);
		sink_finish(s, text != NULL ? text : "stream lost");
		free(text);
		break;
	}
}

/* What every sink has: the handle only peer may send to. */
static struct sink *
sink_alloc(struct rt *rt, uint32_t peer, sink_done_fn *done, void *arg)
{
	struct sink *s = xcalloc(1, sizeof *s);

	s->rt = rt;
	s->fd = -1;
	s->oflags = -1;
	s->peer = peer;
	s->done = done;
	s->arg = arg;
	s->buf = evbuffer_new();
	s->handle = rt_handle_add(rt, 0, RT_ALLOW_PEER | RT_EVBUF, peer,
	    sink_msg, s);
	return s;
}

struct sink *
sink_new(struct rt *rt, int fd, int own, uint32_t peer, sink_done_fn *done,
    void *arg)
{
	struct sink *s = sink_alloc(rt, peer, done, arg);

	s->fd = fd;
	s->own = own;
	s->pollable = fd_pollable(fd);
	s->oflags = fcntl(fd, F_GETFL);
	/* Never make a terminal non-blocking: the shell shares it. */
	if (s->pollable && !isatty(fd))
		fd_nonblock(fd, 1);
	fd_grow_pipe(fd);
	s->ev = event_new(rt_base(rt), s->pollable ? fd : -1, EV_WRITE,
	    sink_write_cb, s);
	return s;
}

/*
 * A sink whose bytes go to data(sink, buf, arg), which takes them all;
 * at most window bytes are out before the consumer returns credit with
 * sink_credit().  EOF and a lost source end it: done(sink, why, arg).
 * The source's first credit must be window (src_set_credit).
 */
struct sink *
sink_new_cb(struct rt *rt, uint32_t peer, uint32_t window, sink_data_fn *data,
    sink_done_fn *done, void *arg)
{
	struct sink *s = sink_alloc(rt, peer, done, arg);

	s->window = window;
	s->data = data;
	return s;
}

/* The consumer is done with n bytes: the source may send them again. */
void
sink_credit(struct sink *s, size_t n)
{
	if (n > s->held)
		n = s->held;
	s->held -= n;
	s->owed += n;
	if (!s->finished)
		sink_grant(s, 1);
}

uint32_t
sink_handle(struct sink *s)
{
	return s->handle;
}

uint64_t
sink_bytes(struct sink *s)
{
	return s->bytes;
}

/* The errno of the write that ended the stream, or 0 (it ended for a
 * reason of the far side's, or well). */
int
sink_errno(struct sink *s)
{
	return s->err;
}

void
sink_free(struct sink *s)
{
	if (s == NULL)
		return;
	s->done = NULL;
	sink_finish(s, NULL);
	if (!s->own && s->oflags >= 0)
		fcntl(s->fd, F_SETFL, s->oflags);
	rt_handle_del(s->rt, s->handle);
	if (s->ev != NULL)
		event_free(s->ev);
	evbuffer_free(s->buf);
	free(s);
}

/*
 * A socket carried as a pair of streams: a sink writing it and a source
 * reading it.  TCP's half-close holds on both ways: the far source's EOF
 * becomes shutdown(SHUT_WR), not close, and EOF read here becomes an EOF
 * frame while the sink goes on.  The fd is closed only once both are
 * done.  A reset, a failed write or a lost peer ends both, and the far
 * streams are told with DEAD (so the far socket is reset too, not
 * half-closed).  fd_in and fd_out may be two fds (stdin and stdout for
 * ssh -W): each is then closed as its own stream ends.
 */
static int
fd_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void
sock_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sock *k = arg;
	sock_done_fn *done = k->done;

	(void)fd;
	(void)what;
	k->done = NULL;
	if (done != NULL)
		done(k, k->why, k->arg);
}

static void
sock_close(struct sock *k)
{
	struct linger lg = { 1, 0 };

	if (k->closed)
		return;
	k->closed = 1;
	/* Cut: the far end must see a reset, as it would without us. */
	if (k->why != NULL && k->fd_out >= 0 && fd_is_socket(k->fd_out))
		setsockopt(k->fd_out, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	if (k->fd_in >= 0 && k->fd_in != k->fd_out)
		close(k->fd_in);
	if (k->fd_out >= 0)
		close(k->fd_out);
	k->fd_in = k->fd_out = -1;
}

/* Both ways done: the fds go now, the owner hears of it from the loop
 * (never from inside a stream's own callback). */
static void
sock_check(struct sock *k)
{
	if (!k->src_over || !k->sink_over || k->closed)
		return;
	sock_close(k);
	event_active(k->ev_done, EV_TIMEOUT, 1);
}

static void
sock_dead(struct sock *k, uint32_t dst, uint32_t handle, const char *why)
{
	struct pk pk;

	if (handle == 0)
		return;
	pk_init(&pk);
	pk_u32(&pk, SPN_D_FAILED);
	pk_str(&pk, why);
	rt_send_pk(k->rt, SPN_K_DEAD, dst, handle, 0, &pk);
	pk_free(&pk);
}

/* One way failed: the other goes too, and both far streams are told. */
static void
sock_fail(struct sock *k, const char *why)
{
	if (k->why != NULL || k->closed)
		return;
	k->why = xstrdup(why);
	/* Even to a far stream that ended first: a second DEAD is
	 * ignored, a missing one would leave the far socket half-open. */
	if (k->src != NULL)
		sock_dead(k, k->peer, k->src->peer_handle, why);
	sock_dead(k, k->peer, k->sink->credit_handle, why);
	/* Not started: the fds wait for sock_start or sock_free (the owner
	 * may still answer on them, as a SOCKS server does). */
	if (k->src != NULL && !k->src_over)
		src_finish(k->src, why);
	if (!k->sink_over)
		sink_finish(k->sink, why);
	sock_check(k);
}

static void
sock_src_done(struct src *s, const char *why, void *arg)
{
	struct sock *k = arg;

	(void)s;
	k->src_over = 1;
	if (why != NULL) {
		sock_fail(k, why);
		return;
	}
	if (k->fd_in != k->fd_out) {
		close(k->fd_in);
		k->fd_in = -1;
	}
	sock_check(k);
}

static void
sock_sink_done(struct sink *s, const char *why, void *arg)
{
	struct sock *k = arg;

	(void)s;
	k->sink_over = 1;
	if (why != NULL) {
		sock_fail(k, why);
		return;
	}
	if (fd_is_socket(k->fd_out))
		shutdown(k->fd_out, SHUT_WR);
	if (k->fd_out != k->fd_in) {
		close(k->fd_out);
		k->fd_out = -1;
	}
	sock_check(k);
}

/*
 * fd_in and fd_out are the sock's from now on.  Its sink (from peer) is
 * made at once, so that its handle can be sent; its source starts with
 * sock_start, once the far sink is known.  Until then the fds stay open,
 * whatever happens to the sink.  done(sock, why, arg) comes once, from
 * the loop, after the fds are closed: why is NULL when both ways ended
 * with EOF.
 */
struct sock *
sock_new(struct rt *rt, int fd_in, int fd_out, uint32_t peer,
    sock_done_fn *done, void *arg)
{
	struct sock *k = xcalloc(1, sizeof *k);

	k->rt = rt;
	k->fd_in = fd_in;
	k->fd_out = fd_out;
	k->peer = peer;
	k->done = done;
	k->arg = arg;
	k->ev_done = event_new(rt_base(rt), -1, 0, sock_done_cb, k);
	k->sink = sink_new(rt, fd_out, 1, peer, sock_sink_done, k);
	k->sink->sock = k;
	return k;
}

/* The far sink is peer_handle: reading starts. */
void
sock_start(struct sock *k, uint32_t peer_handle)
{
	if (k->src != NULL || k->src_over)
		return;
	if (k->why != NULL) {
		/* Cut before it started: it ends now. */
		k->src_over = 1;
		sock_check(k);
		return;
	}
	k->src = src_new(k->rt, k->fd_in, 1, k->peer, peer_handle,
	    sock_src_done, k);
	k->src->sock = k;
}

uint32_t
sock_sink_handle(struct sock *k)
{
	return sink_handle(k->sink);
}

/* Bytes read from fd_in (sent), and written to fd_out. */
uint64_t
sock_bytes_in(struct sock *k)
{
	return k->src != NULL ? src_bytes(k->src) : 0;
}

uint64_t
sock_bytes_out(struct sock *k)
{
	return sink_bytes(k->sink);
}

/* Cut it now (a cancel, the owner going): the far streams hear why. */
void
sock_abort(struct sock *k, const char *why)
{
	sock_fail(k, why);
}

/* Safe at any time, from any callback: no done follows. */
void
sock_free(struct sock *k)
{
	if (k == NULL)
		return;
	k->done = NULL;
	src_free(k->src);
	sink_free(k->sink);
	sock_close(k);
	event_free(k->ev_done);
	free(k->why);
	free(k);
}
