/*
 * An SSH channel pumped to and from fds with bounded memory.
 *
 * Client -> in: libssh's data callback writes straight into `in` and
 * returns what it took; what it could not take stays in libssh, which
 * then stops growing the client's window.  When `in` is writable again
 * that rest is read all at once into a staging buffer (R7: reading it
 * piecemeal would regrow the window each time and let an upload grow
 * without bound), written out, and only then is libssh asked again.
 *
 * out, err -> client: read only when the client's window is open (R5:
 * a read of 0 bytes would look like EOF), at most CHAN_CHUNK at a time;
 * what libssh did not take (0 bytes during a key re-exchange, R6) waits
 * in a pending chunk and the fd is not read meanwhile.  A window that
 * reopens gives no callback in 0.10 (R4): the connection's after-pass
 * calls gw_chan_after, which retries and resumes.
 *
 * Callbacks from libssh only record state; closing, exit messages and
 * frees happen in gw_chan_after, from the loop (R8).
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "gateway.h"

#define CHAN_CHUNK	65536
#define CHAN_PASSES	16	/* chunks per wakeup, then others' turn */
#define CHAN_SAY_MAX	4096
#define CHAN_STAGE_MAX	(4 * 1024 * 1024) /* more than libssh can hold
					 * (window 1.28 MB + 640 kB) */

struct chan_out {
	struct gw_chan	*ch;
	int		 fd;		/* -1: none, or reached EOF */
	int		 stderr_;
	struct event	*ev;
	uint8_t		*buf;		/* the pending chunk, or NULL */
	size_t		 len;
	size_t		 off;
	int		 paused;	/* on the client's window */
};

struct gw_chan {
	TAILQ_ENTRY(gw_chan) entry;
	struct gw_conn	*conn;
	ssh_channel	 ssh;
	struct ssh_channel_callbacks_struct cb;
	gw_chan_fn	*gone;
	void		*arg;

	int		 started;
	int		 shared;	/* in == out: one socket, */
	int		 sock;		/* half-closed each way, closed last */
	int		 in;		/* -1: none, closed, or broken */
	struct event	*in_ev;
	uint8_t		*stage;
	size_t		 stage_len;
	size_t		 stage_off;
	int		 held;		/* libssh holds data we did not take */
	int		 client_eof;

	struct chan_out	 out[2];	/* stdout, stderr */
	char		 say[CHAN_SAY_MAX];
	size_t		 saylen;

	int		 exit_set;
	int		 exit_status;
	char		*exit_sig;
	int		 closing;	/* gw_chan_close */
	int		 eof_sent;
	int		 close_sent;
	int		 closed_remote;
};

static size_t chan_staged;	/* all channels' staging buffers */
static uint8_t chan_rbuf[CHAN_CHUNK]; /* out and err are read here */

static void	chan_in_flush(struct gw_chan *);
static void	chan_in_broken(struct gw_chan *);
static void	chan_pump(struct gw_chan *, struct chan_out *);

static int
chan_data(ssh_session s, ssh_channel c, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct gw_chan *ch = arg;
	ssize_t n;

	(void)s, (void)c;
	/* Extended data from a client means nothing to a command. */
	if (is_stderr)
		return len;
	if (ch->closing || ch->close_sent || (ch->started && ch->in == -1))
		return len;
	/* libssh keeps what a client sends past its window: len is all
	 * it holds, and a client that ignores the window is gone. */
	if (len > CHAN_STAGE_MAX) {
		gw_conn_kill(ch->conn, "a channel overran its window");
		return len;
	}
	if (!ch->started || ch->stage_len > 0) {
		ch->held = len > 0;
		return 0;
	}
	n = write(ch->in, data, len);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		chan_in_broken(ch);
		return len;
	}
	if (n < 0)
		n = 0;
	ch->held = (uint32_t)n < len;
	if (ch->held)
		event_add(ch->in_ev, NULL);
	return n;
}

static void
chan_eof(ssh_session s, ssh_channel c, void *arg)
{
	struct gw_chan *ch = arg;

	(void)s, (void)c;
	ch->client_eof = 1;
	gw_conn_kick(ch->conn);
}

static int
chan_wontblock(ssh_session s, ssh_channel c, uint32_t bytes, void *arg)
{
	struct gw_chan *ch = arg;

	(void)s, (void)c, (void)bytes;
	gw_conn_drained(ch->conn);
	return 0;
}

static void
chan_closed(ssh_session s, ssh_channel c, void *arg)
{
	struct gw_chan *ch = arg;

	(void)s, (void)c;
	ch->closed_remote = 1;
	gw_conn_kick(ch->conn);
}

struct gw_chan *
gw_chan_new(struct gw_conn *c, ssh_channel ssh, gw_chan_fn *gone, void *arg)
{
	struct gw_chan *ch;

	ch = xcalloc(1, sizeof *ch);
	ch->conn = c;
	ch->ssh = ssh;
	ch->gone = gone;
	ch->arg = arg;
	ch->in = ch->sock = -1;
	for (int i = 0; i < 2; i++) {
		ch->out[i].ch = ch;
		ch->out[i].fd = -1;
		ch->out[i].stderr_ = i;
	}
	ch->cb.userdata = ch;
	ch->cb.channel_data_function = chan_data;
	ch->cb.channel_eof_function = chan_eof;
	ch->cb.channel_close_function = chan_closed;
	ch->cb.channel_write_wontblock_function = chan_wontblock;
	ssh_callbacks_init(&ch->cb);
	ssh_add_channel_callbacks(ssh, &ch->cb);
	TAILQ_INSERT_TAIL(gw_conn_chans(c), ch, entry);
	return ch;
}

static void
chan_in_ready(evutil_socket_t fd, short what, void *arg)
{
	struct gw_chan *ch = arg;

	(void)fd, (void)what;
	chan_in_flush(ch);
	gw_conn_kick(ch->conn);
}

static void
chan_out_ready(evutil_socket_t fd, short what, void *arg)
{
	struct chan_out *o = arg;

	(void)fd, (void)what;
	chan_pump(o->ch, o);
	gw_conn_kick(o->ch->conn);
}

void
gw_chan_start(struct gw_chan *ch, int in, int out, int err)
{
	struct event_base *base = gw_base();
	int fds[2] = { out, err };

	ch->started = 1;
	ch->shared = in != -1 && in == out;
	ch->sock = ch->shared ? in : -1;
	ch->in = in;
	if (in != -1) {
		fd_nonblock(in, 1);
		ch->in_ev = event_new(base, in, EV_WRITE|EV_PERSIST,
		    chan_in_ready, ch);
		if (ch->held)
			event_add(ch->in_ev, NULL);
	}
	for (int i = 0; i < 2; i++) {
		struct chan_out *o = &ch->out[i];

		if ((o->fd = fds[i]) == -1)
			continue;
		fd_nonblock(o->fd, 1);
		o->ev = event_new(base, o->fd, EV_READ|EV_PERSIST,
		    chan_out_ready, o);
		event_add(o->ev, NULL);
	}
	gw_conn_kick(ch->conn);
}

/* The client's data is all written: its EOF becomes ours to `in`. */
static void
chan_in_done(struct gw_chan *ch)
{
	event_del(ch->in_ev);
	if (ch->shared)
		shutdown(ch->in, SHUT_WR);
	else
		close(ch->in);
	ch->in = -1;
}

static void
chan_stage_free(struct gw_chan *ch)
{
	chan_staged -= ch->stage_len;
	free(ch->stage);
	ch->stage = NULL;
	ch->stage_len = ch->stage_off = 0;
}

/* The command closed its stdin: the rest of the client's data is
 * dropped (chan_data takes it without writing). */
static void
chan_in_broken(struct gw_chan *ch)
{
	log_debug("channel input: %s", strerror(errno));
	event_del(ch->in_ev);
	if (!ch->shared)
		close(ch->in);
	ch->in = -1;
	chan_stage_free(ch);
}

/* No `in` (none, or broken): what libssh still holds is dropped, so
 * that the window reopens and a client still sending is not stuck. */
static void
chan_in_discard(struct gw_chan *ch)
{
	static uint8_t sink[CHAN_CHUNK];
	int n;

	while (ch->held) {
		/* Buffered there, so this processes no packet. */
		if ((n = ssh_channel_poll(ch->ssh, 0)) <= 0)
			break;
		if (n > CHAN_CHUNK)
			n = CHAN_CHUNK;
		if (ssh_channel_read_nonblocking(ch->ssh, sink, n, 0) <= 0)
			break;
	}
	ch->held = 0;
}

/* 0: all written; -1: `in` is full (or gone). */
static int
chan_stage_write(struct gw_chan *ch)
{
	ssize_t n;

	while (ch->stage_off < ch->stage_len) {
		n = write(ch->in, ch->stage + ch->stage_off,
		    ch->stage_len - ch->stage_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return -1;
		if (n < 0) {
			chan_in_broken(ch);
			return -1;
		}
		ch->stage_off += n;
	}
	chan_stage_free(ch);
	return 0;
}

/*
 * `in` can take more: the staged bytes, then what libssh holds, read
 * all at once (R7) so that the window grows once for all of it.
 */
static void
chan_in_flush(struct gw_chan *ch)
{
	int n;

	while (ch->in != -1) {
		if (ch->stage_len > 0 && chan_stage_write(ch) != 0) {
			if (ch->in != -1)
				event_add(ch->in_ev, NULL);
			return;
		}
		if (ch->in == -1 || !ch->held)
			break;
		/* Buffered there, so this processes no packet. */
		n = ssh_channel_poll(ch->ssh, 0);
		ch->held = 0;
		if (n <= 0)
			break;
		if (n > CHAN_STAGE_MAX) {
			gw_conn_kill(ch->conn, "a channel overran its window");
			return;
		}
		ch->stage = xmalloc(n);
		n = ssh_channel_read_nonblocking(ch->ssh, ch->stage, n, 0);
		if (n <= 0) {
			free(ch->stage);
			ch->stage = NULL;
			break;
		}
		ch->stage_len = n;
		chan_staged += n;
	}
	if (ch->in != -1) {
		event_del(ch->in_ev);
		if (ch->client_eof && !ch->held && ch->stage_len == 0)
			chan_in_done(ch);
	}
}

static void
chan_out_eof(struct chan_out *o)
{
	struct gw_chan *ch = o->ch;

	event_free(o->ev);
	o->ev = NULL;
	/* A shared socket is closed with the channel, in chan_stop. */
	if (!ch->shared || o->stderr_)
		close(o->fd);
	else
		shutdown(o->fd, SHUT_RD);
	o->fd = -1;
	o->paused = 0;
}

static void
chan_pending_free(struct chan_out *o)
{
	free(o->buf);
	o->buf = NULL;
	o->len = o->off = 0;
}

/*
 * Data to libssh; what it did not take (R6) becomes the pending chunk,
 * allocated only then, so that an idle channel holds no buffer.  0:
 * all of it went.
 */
static int
chan_send(struct chan_out *o, const uint8_t *data, size_t len)
{
	struct gw_chan *ch = o->ch;
	int n;

	if (o->stderr_)
		n = ssh_channel_write_stderr(ch->ssh, data, len);
	else
		n = ssh_channel_write(ch->ssh, data, len);
	if (n < 0) {
		/* Closed under us (libssh says why): nothing to send to. */
		chan_pending_free(o);
		if (o->fd != -1)
			chan_out_eof(o);
		if (!ch->closed_remote && !ch->close_sent)
			ch->closing = 1;
		return -1;
	}
	gw_conn_sent(ch->conn, n);
	if ((size_t)n == len) {
		chan_pending_free(o);
		return 0;
	}
	if (o->len == 0) {
		o->buf = xmalloc(len - n);
		memcpy(o->buf, data + n, len - n);
		o->len = len - n;
	} else
		o->off += n;
	return -1;
}

/* out or err -> the client, while its window is open. */
static void
chan_pump(struct gw_chan *ch, struct chan_out *o)
{
	uint32_t win;
	ssize_t n;

	for (int i = 0; i < CHAN_PASSES; i++) {
		if (ch->closing || ch->close_sent || ch->closed_remote)
			return;
		if (o->len > 0 &&
		    chan_send(o, o->buf + o->off, o->len - o->off) != 0)
			goto paused;
		if (o->fd == -1)
			return;
		if ((win = ssh_channel_window_size(ch->ssh)) == 0 ||
		    gw_conn_full(ch->conn))
			goto paused;
		n = read(o->fd, chan_rbuf, win < CHAN_CHUNK ? win : CHAN_CHUNK);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			o->paused = 0;
			event_add(o->ev, NULL);
			return;
		}
		if (n <= 0) {
			chan_out_eof(o);
			return;
		}
		if (chan_send(o, chan_rbuf, n) != 0)
			goto paused;
	}
	/* Others' turn: readable still, so the loop comes back. */
	o->paused = 0;
	event_add(o->ev, NULL);
	return;
paused:
	/* Window shut or a short write: the after-pass resumes it (R4). */
	if (o->fd != -1) {
		o->paused = 1;
		event_del(o->ev);
	}
}

static void
chan_say_send(struct gw_chan *ch)
{
	int n;

	n = ssh_channel_write_stderr(ch->ssh, ch->say, ch->saylen);
	if (n < 0)
		n = ch->saylen;
	memmove(ch->say, ch->say + n, ch->saylen - n);
	ch->saylen -= n;
}

/* Everything of out and err went to libssh: EOF, then exit, close. */
static void
chan_finish_output(struct gw_chan *ch)
{
	for (int i = 0; i < 2; i++) {
		if (ch->out[i].fd != -1 || ch->out[i].len > 0)
			return;
	}
	if (ch->saylen > 0)
		return;
	if (!ch->started && !ch->exit_set)
		return;
	if (!ch->eof_sent) {
		ch->eof_sent = 1;
		ssh_channel_send_eof(ch->ssh);
	}
	if (ch->exit_set) {
		if (ch->exit_sig != NULL)
			ssh_channel_request_send_exit_signal(ch->ssh,
			    ch->exit_sig, 0, "", "");
		else if (ch->exit_status >= 0)
			ssh_channel_request_send_exit_status(ch->ssh,
			    ch->exit_status);
	} else if (!ch->shared || ch->in != -1 || ch->held ||
	    ch->stage_len > 0)
		return;
	ch->closing = 1;
}

static void
chan_stop(struct gw_chan *ch)
{
	if (ch->in_ev != NULL)
		event_free(ch->in_ev);
	ch->in_ev = NULL;
	if (ch->in != -1 && !ch->shared)
		close(ch->in);
	ch->in = -1;
	for (int i = 0; i < 2; i++) {
		struct chan_out *o = &ch->out[i];

		if (o->ev != NULL)
			event_free(o->ev);
		o->ev = NULL;
		if (o->fd != -1 && o->fd != ch->sock)
			close(o->fd);
		o->fd = -1;
		free(o->buf);
		o->buf = NULL;
		o->len = o->off = 0;
		o->paused = 0;
	}
	if (ch->sock != -1)
		close(ch->sock);
	ch->sock = -1;
	chan_stage_free(ch);
	ch->held = 0;
	ch->saylen = 0;
}

static void
chan_free(struct gw_chan *ch, int ssh_too)
{
	chan_stop(ch);
	TAILQ_REMOVE(gw_conn_chans(ch->conn), ch, entry);
	if (ch->gone != NULL)
		ch->gone(ch, ch->arg);
	ssh_remove_channel_callbacks(ch->ssh, &ch->cb);
	if (ssh_too)
		ssh_channel_free(ch->ssh);
	free(ch->exit_sig);
	free(ch);
}

/*
 * From the connection's after-pass (the loop, never inside libssh):
 * resume what waits on the window (R4) or a short write (R6), finish,
 * close, free.  1: ch is gone.
 */
int
gw_chan_after(struct gw_chan *ch)
{
	if (ch->closed_remote || ch->closing) {
		if (!ch->close_sent) {
			chan_stop(ch);
			ch->close_sent = 1;
			ssh_channel_close(ch->ssh);
		}
		/* Closed both ways: libssh calls nothing of it any more. */
		if (ch->closed_remote) {
			chan_free(ch, 1);
			return 1;
		}
		return 0;
	}
	if (ch->saylen > 0)
		chan_say_send(ch);
	if (!ch->started) {
		if (ch->exit_set)
			chan_finish_output(ch);
		goto close;
	}
	if (ch->in == -1 && ch->held)
		chan_in_discard(ch);
	else if (ch->in != -1 && ch->held && ch->stage_len == 0)
		chan_in_flush(ch);
	else if (ch->in != -1 && ch->client_eof && !ch->held &&
	    ch->stage_len == 0)
		chan_in_done(ch);
	for (int i = 0; i < 2; i++) {
		struct chan_out *o = &ch->out[i];

		if (o->len > 0 || o->paused)
			chan_pump(ch, o);
	}
	if (!ch->closing)
		chan_finish_output(ch);
close:
	if (ch->closing && !ch->close_sent) {
		chan_stop(ch);
		ch->close_sent = 1;
		ssh_channel_close(ch->ssh);
	}
	return 0;
}

/* The connection ends: libssh frees the ssh_channel with the session. */
void
gw_chan_end(struct gw_chan *ch)
{
	chan_free(ch, 0);
}

void
gw_chan_exit(struct gw_chan *ch, int status, const char *sig)
{
	if (ch->exit_set)
		return;
	ch->exit_set = 1;
	ch->exit_status = status;
	ch->exit_sig = sig != NULL ? xstrdup(sig) : NULL;
	gw_conn_kick(ch->conn);
}

void
gw_chan_say(struct gw_chan *ch, const char *text)
{
	size_t n = strlen(text);

	if (n > sizeof ch->say - ch->saylen)
		n = sizeof ch->say - ch->saylen;
	memcpy(ch->say + ch->saylen, text, n);
	ch->saylen += n;
	gw_conn_kick(ch->conn);
}

void
gw_chan_close(struct gw_chan *ch)
{
	ch->closing = 1;
	gw_conn_kick(ch->conn);
}

ssh_channel
gw_chan_ssh(struct gw_chan *ch)
{
	return ch->ssh;
}

struct gw_conn *
gw_chan_conn(struct gw_chan *ch)
{
	return ch->conn;
}

struct gw_chan *
gw_chan_next(struct gw_chan *ch)
{
	return TAILQ_NEXT(ch, entry);
}

size_t
gw_chan_staged(void)
{
	return chan_staged;
}
