/*
 * Unit tests for byte streams with credit windows (stream.c).  Three
 * routers on one event base, joined by socketpairs: 1 (root) - 2 - 3.  A
 * source in 3 reads a pipe fed by a producer thread; a sink in 1 writes a
 * pipe drained by a deliberately slow consumer thread.  A timer on the loop
 * samples how many bytes are between the two ends, which the credit window
 * must bound whatever the speed difference.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "router.h"
#include "loop.h"

#define WINDOW		(64 * 1024)
#define WAIT_MS		60000

/* --- harness --------------------------------------------------------- */

static struct event_base *base;
static struct rt	*R[4];
static struct link	*L[8];
static int		 nlinks;

/* A sock at each end (socket mode), and the test's ends of their fds. */
struct sk {
	struct sock	*k;
	int		 done;
	char		*why;
	int		 fd;		/* the test's end */
};
static struct sk	 K1, K3;

#define run_for(ms)		loop_run_for(base, (ms))
#define RUN_UNTIL(cond, ms)	LOOP_RUN_UNTIL(base, cond, ms)

static void
link_gone(struct link *l, const char *why, void *arg)
{
	(void)why;
	for (int i = 0; i < nlinks; i++) {
		if (L[i] == l)
			L[i] = NULL;
	}
	(void)arg;
}

static struct link *
mklink(struct rt *rt, int fd, enum link_role role, uint32_t peer,
    const char *name)
{
	struct link_cbs cbs = { .closed = link_gone };
	struct link *l = link_new(rt, fd, fd, role, peer, name);

	link_set_cbs(l, &cbs);
	L[nlinks++] = l;
	return l;
}

static void
join(uint32_t parent, uint32_t child, const uint32_t *anc, size_t nanc)
{
	int sv[2];
	struct link *down;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	rt_set_ancestors(R[child], anc, nanc);
	down = mklink(R[parent], sv[0], LINK_CHILD, child, "down");
	mklink(R[child], sv[1], LINK_PARENT, parent, "up");
	rt_route_add(R[parent], child, down);
}

static int
setup(void **state)
{
	static const uint32_t a2[] = { 1 }, a3[] = { 1, 2 };
	uint8_t id3[4];

	(void)state;
	base = event_base_new();
	nlinks = 0;
	K1.fd = K3.fd = -1;
	for (uint32_t i = 1; i <= 3; i++) {
		R[i] = rt_new(base, i, i == 1 ? "root" : i == 2 ? "mid" :
		    "leaf");
		rt_set_window(R[i], WINDOW);
	}
	join(1, 2, a2, 1);
	/* As a CONNECT through 2 would: only then may 2 claim 3. */
	be32_put(id3, 3);
	rt_send(R[1], SPN_K_CALL, 2, SPN_H_CONNECT, 0, id3, sizeof id3);
	join(2, 3, a3, 2);
	if (!RUN_UNTIL(rt_route_lookup(R[1], 3) != NULL, 3000))
		return -1;
	return 0;
}

static uint8_t
pattern(uint64_t i)
{
	return (uint8_t)(i ^ (i >> 8) ^ (i >> 17) ^ 0x5a);
}

/* --- producer and consumer threads ----------------------------------- */

struct producer {
	int		 fd;
	uint64_t	 total;
	uint64_t	 written;
	int		 err;		/* errno that stopped it, or 0 */
	atomic_int	 done;
};

static void *
producer_main(void *arg)
{
	struct producer *p = arg;
	uint8_t buf[32768];
	ssize_t n;

	while (p->written < p->total) {
		size_t want = p->total - p->written < sizeof buf ?
		    p->total - p->written : sizeof buf;

		for (size_t i = 0; i < want; i++)
			buf[i] = pattern(p->written + i);
		n = write(p->fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			p->err = errno;
			break;
		}
		p->written += (uint64_t)n;
	}
	close(p->fd);
	atomic_store(&p->done, 1);
	return NULL;
}

struct consumer {
	int		 fd;
	size_t		 chunk;		/* bytes per read */
	long		 pause_ns;	/* sleep after each read */
	uint64_t	 stop_after;	/* close early after this many; 0 never */
	atomic_ullong	 got;
	int		 corrupt;
	int		 eof;
	atomic_int	 done;
};

static void *
consumer_main(void *arg)
{
	struct consumer *c = arg;
	uint8_t *buf = xmalloc(c->chunk);
	struct timespec ts = { 0, c->pause_ns };
	uint64_t got = 0;
	ssize_t n;

	for (;;) {
		n = read(c->fd, buf, c->chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			c->eof = n == 0;
			break;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != pattern(got + (uint64_t)i) &&
			    !c->corrupt) {
				c->corrupt = 1;
				print_error("corrupt byte at offset %llu\n",
				    (unsigned long long)(got + i));
			}
		}
		got += (uint64_t)n;
		atomic_store(&c->got, got);
		if (c->stop_after != 0 && got >= c->stop_after)
			break;
		if (c->pause_ns != 0)
			nanosleep(&ts, NULL);
	}
	close(c->fd);
	free(buf);
	atomic_store(&c->done, 1);
	return NULL;
}

/*
 * Threads and the transfer live in globals, so that teardown can stop
 * them even when a test fails half-way (and its stack is gone).
 */
static struct producer	 P;
static struct consumer	 C;
static pthread_t	 P_thread, C_thread;
static int		 P_on, C_on;

static void
threads_start(int in_fd, uint64_t total, int out_fd, size_t chunk,
    long pause_ns, uint64_t stop_after)
{
	memset(&P, 0, sizeof P);
	memset(&C, 0, sizeof C);
	P.fd = in_fd;
	P.total = total;
	C.fd = out_fd;
	C.chunk = chunk;
	C.pause_ns = pause_ns;
	C.stop_after = stop_after;
	assert_int_equal(pthread_create(&P_thread, NULL, producer_main, &P),
	    0);
	P_on = 1;
	assert_int_equal(pthread_create(&C_thread, NULL, consumer_main, &C),
	    0);
	C_on = 1;
}

static void
threads_join(void)
{
	if (P_on)
		pthread_join(P_thread, NULL);
	if (C_on)
		pthread_join(C_thread, NULL);
	P_on = C_on = 0;
}

/* --- stream bookkeeping ---------------------------------------------- */

struct xfer {
	struct src	*src;
	struct sink	*sink;
	int		 src_done;
	char		*src_why;
	int		 sink_done;
	char		*sink_why;
	uint64_t	 max_inflight;
	size_t		 max_queued;
	uint64_t	 samples;
	struct event	*sampler;
};

static void
src_done(struct src *s, const char *why, void *arg)
{
	struct xfer *x = arg;

	(void)s;
	x->src_done++;
	x->src_why = why != NULL ? xstrdup(why) : NULL;
}

static void
sink_done(struct sink *s, const char *why, void *arg)
{
	struct xfer *x = arg;

	(void)s;
	x->sink_done++;
	x->sink_why = why != NULL ? xstrdup(why) : NULL;
}

/* Bytes read by the source but not yet written by the sink: everything in
 * link buffers, sockets and the sink's own buffer. */
static void
sample(evutil_socket_t fd, short what, void *arg)
{
	struct xfer *x = arg;
	uint64_t in = src_bytes(x->src), out = sink_bytes(x->sink);

	(void)fd;
	(void)what;
	if (in - out > x->max_inflight)
		x->max_inflight = in - out;
	for (int i = 0; i < nlinks; i++) {
		if (L[i] != NULL && link_queued(L[i]) > x->max_queued)
			x->max_queued = link_queued(L[i]);
	}
	x->samples++;
}

/* A stream from a source in router `from` to a sink in router `to`. */
static void
xfer_start_at(struct xfer *x, uint32_t from, int src_fd, uint32_t to,
    int sink_fd)
{
	struct timeval tv = { 0, 500 };

	memset(x, 0, sizeof *x);
	x->sink = sink_new(R[to], sink_fd, 1, from, sink_done, x);
	x->src = src_new(R[from], src_fd, 1, to, sink_handle(x->sink),
	    src_done, x);
	x->sampler = event_new(base, -1, EV_PERSIST, sample, x);
	event_add(x->sampler, &tv);
}

/* The usual direction: from the leaf up to the root (remote stdout). */
static void
xfer_start(struct xfer *x, int src_fd, int sink_fd)
{
	xfer_start_at(x, 3, src_fd, 1, sink_fd);
}

static void
xfer_free(struct xfer *x)
{
	if (x->sampler != NULL)
		event_free(x->sampler);
	src_free(x->src);
	sink_free(x->sink);
	free(x->src_why);
	free(x->sink_why);
	memset(x, 0, sizeof *x);
}

static struct xfer X;

static void
sk_free(struct sk *k)
{
	sock_free(k->k);
	free(k->why);
	if (k->fd >= 0)
		close(k->fd);
	memset(k, 0, sizeof *k);
	k->fd = -1;
}

static int
teardown(void **state)
{
	(void)state;
	/* Closing the source's and sink's fds stops the threads. */
	xfer_free(&X);
	sk_free(&K1);
	sk_free(&K3);
	threads_join();
	for (int i = 0; i < nlinks; i++) {
		if (L[i] != NULL)
			link_close(L[i], "teardown");
	}
	run_for(1);
	for (uint32_t i = 1; i <= 3; i++)
		rt_free(R[i]);
	event_base_free(base);
	return 0;
}

/* --- tests ----------------------------------------------------------- */

/* 64 MiB into a slow reader: nothing in between ever exceeds the window. */
static void
test_window_bounded(void **state)
{
	uint64_t total = 64ull << 20, t0 = now_usec();
	int in[2], out[2];

	(void)state;
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	xfer_start(&X, in[0], out[1]);
	threads_start(in[1], total, out[0], 16384, 100000, 0);

	if (!RUN_UNTIL(X.src_done && X.sink_done && atomic_load(&C.done),
	    WAIT_MS))
		fail_msg("transfer did not finish: %llu of %llu bytes",
		    (unsigned long long)atomic_load(&C.got),
		    (unsigned long long)total);
	threads_join();
	print_message("    64 MiB in %.2f s, %llu samples, max in flight "
	    "%llu, max link queue %zu (window %d)\n",
	    (now_usec() - t0) / 1e6, (unsigned long long)X.samples,
	    (unsigned long long)X.max_inflight, X.max_queued, WINDOW);

	assert_int_equal(P.err, 0);
	assert_int_equal(atomic_load(&C.got), total);
	assert_true(C.eof);
	assert_false(C.corrupt);
	assert_null(X.src_why);
	assert_null(X.sink_why);
	assert_int_equal(src_bytes(X.src), total);
	assert_int_equal(sink_bytes(X.sink), total);
	assert_true(X.samples > 20);
	if (X.max_inflight > WINDOW)
		fail_msg("%llu bytes in flight, window is %d",
		    (unsigned long long)X.max_inflight, WINDOW);
	/* Each link holds at most the window plus frame headers. */
	if (X.max_queued > WINDOW + 64 * SPN_HDR_LEN)
		fail_msg("a link queued %zu bytes, window is %d",
		    X.max_queued, WINDOW);
	/* The window was actually in use (the reader was the bottleneck). */
	assert_true(X.max_inflight > WINDOW / 4);
	xfer_free(&X);
}

struct dead_rec {
	int		 n;
	uint32_t	 reason;
	char		*text;
};

static void
dead_handler(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct dead_rec *b = arg;
	struct upk u;

	(void)rt;
	if (m->h.kind != SPN_K_DEAD)
		return;
	upk_init(&u, m->data, m->h.len);
	b->n++;
	b->reason = upk_u32(&u);
	free(b->text);
	b->text = upk_str(&u);
}

/* A source that never waits for credit is cut off by the sink. */
static void
test_window_overrun(void **state)
{
	static struct dead_rec ib;
	static uint8_t chunk[WINDOW];
	int out[2], pipesz, n;
	uint32_t h;

	(void)state;
	memset(&ib, 0, sizeof ib);
	assert_int_equal(pipe(out), 0);
	/* Nobody reads the pipe, so the sink cannot flush. */
	X.sink = sink_new(R[1], out[1], 1, 3, sink_done, &X);
	pipesz = fcntl(out[1], F_GETPIPE_SZ);
	assert_true(pipesz > 0);
	h = rt_handle_add(R[3], 0, RT_ALLOW_PEER, 1, dead_handler, &ib);
	/* The pipe, the window and one frame are the most it may absorb. */
	n = (pipesz + WINDOW + (int)rt_max_frame(R[1])) / WINDOW + 4;
	for (int i = 0; i < n; i++)
		rt_send(R[3], SPN_K_DATA, 1, sink_handle(X.sink), h, chunk,
		    WINDOW);
	if (!RUN_UNTIL(X.sink_done && ib.n == 1, 5000))
		fail_msg("not refused: sink done %d, dead letters %d, sink "
		    "wrote %llu, pipe holds %d", X.sink_done, ib.n,
		    (unsigned long long)sink_bytes(X.sink), pipesz);
	assert_string_equal(X.sink_why, "window overrun");
	assert_int_equal(ib.reason, SPN_D_REFUSED);
	assert_string_equal(ib.text, "window overrun");
	rt_handle_del(R[3], h);
	close(out[0]);
	free(ib.text);
	xfer_free(&X);
}

/*
 * A callback sink (sink_new_cb): its consumer, a timer taking 4 KiB a
 * millisecond, credits what it took.  The bytes it holds, and those
 * between the source and it, never pass the sink's window, which the
 * source got as its first credit; and every byte comes, in order.
 */
#define CB_WINDOW	(16 * 1024)
static struct {
	struct evbuffer	*held;
	uint64_t	 got;
	size_t		 max_held;
	uint64_t	 max_ahead;	/* read by the source, not credited */
	int		 corrupt;
	struct event	*tick;
} CB;

static void
cb_data(struct sink *s, struct evbuffer *b, void *arg)
{
	size_t len;

	(void)s;
	(void)arg;
	evbuffer_add_buffer(CB.held, b);
	if ((len = evbuffer_get_length(CB.held)) > CB.max_held)
		CB.max_held = len;
}

static void
cb_tick(evutil_socket_t fd, short what, void *arg)
{
	uint8_t buf[4096];
	int n;

	(void)fd;
	(void)what;
	(void)arg;
	if (X.src != NULL && src_bytes(X.src) - CB.got > CB.max_ahead)
		CB.max_ahead = src_bytes(X.src) - CB.got;
	if ((n = evbuffer_remove(CB.held, buf, sizeof buf)) <= 0)
		return;
	for (int i = 0; i < n; i++) {
		if (buf[i] != pattern(CB.got + i))
			CB.corrupt = 1;
	}
	CB.got += n;
	sink_credit(X.sink, n);
}

static void
test_callback_sink(void **state)
{
	struct timeval tv = { 0, 1000 };
	uint64_t total = 1 << 20;
	int in[2];

	(void)state;
	memset(&CB, 0, sizeof CB);
	CB.held = evbuffer_new();
	assert_int_equal(pipe(in), 0);
	X.sink = sink_new_cb(R[1], 3, CB_WINDOW, cb_data, sink_done, &X);
	X.src = src_new(R[3], in[0], 1, 1, sink_handle(X.sink), src_done,
	    &X);
	src_set_credit(X.src, CB_WINDOW);
	CB.tick = event_new(base, -1, EV_PERSIST, cb_tick, NULL);
	event_add(CB.tick, &tv);
	memset(&P, 0, sizeof P);
	P.fd = in[1];
	P.total = total;
	assert_int_equal(pthread_create(&P_thread, NULL, producer_main, &P),
	    0);
	P_on = 1;
	if (!RUN_UNTIL(X.src_done && X.sink_done && CB.got == total, WAIT_MS))
		fail_msg("got %llu of %llu bytes",
		    (unsigned long long)CB.got, (unsigned long long)total);
	threads_join();
	print_message("    1 MiB through a callback sink: held at most %zu, "
	    "at most %llu ahead of the consumer (window %d)\n", CB.max_held,
	    (unsigned long long)CB.max_ahead, CB_WINDOW);
	assert_false(CB.corrupt);
	assert_null(X.sink_why);
	assert_true(CB.max_held <= CB_WINDOW);
	assert_true(CB.max_ahead <= CB_WINDOW);
	/* The consumer was the bottleneck: the window was in use. */
	assert_true(CB.max_held > CB_WINDOW / 2);
	event_free(CB.tick);
	evbuffer_free(CB.held);
	xfer_free(&X);
}

/* A source that sends past the window it was given is cut off. */
static void
test_callback_sink_overrun(void **state)
{
	static struct dead_rec ib;
	static uint8_t chunk[CB_WINDOW];
	uint32_t h;

	(void)state;
	memset(&ib, 0, sizeof ib);
	memset(&CB, 0, sizeof CB);
	CB.held = evbuffer_new();
	X.sink = sink_new_cb(R[1], 3, CB_WINDOW, cb_data, sink_done, &X);
	h = rt_handle_add(R[3], 0, RT_ALLOW_PEER, 1, dead_handler, &ib);
	for (int i = 0; i < 2; i++)
		rt_send(R[3], SPN_K_DATA, 1, sink_handle(X.sink), h, chunk,
		    sizeof chunk);
	if (!RUN_UNTIL(X.sink_done && ib.n == 1, 5000))
		fail_msg("not refused: sink done %d, dead letters %d",
		    X.sink_done, ib.n);
	assert_string_equal(X.sink_why, "window overrun");
	assert_int_equal(ib.reason, SPN_D_REFUSED);
	assert_int_equal(evbuffer_get_length(CB.held), CB_WINDOW);
	rt_handle_del(R[3], h);
	free(ib.text);
	evbuffer_free(CB.held);
	xfer_free(&X);
}

static void
small_transfer(uint64_t total)
{
	int in[2], out[2];

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	xfer_start(&X, in[0], out[1]);
	threads_start(in[1], total, out[0], 4096, 0, 0);
	assert_true(RUN_UNTIL(X.src_done && X.sink_done &&
	    atomic_load(&C.done), 5000));
	threads_join();
	assert_int_equal(X.src_done, 1);
	assert_int_equal(X.sink_done, 1);
	assert_null(X.src_why);
	assert_null(X.sink_why);
	assert_true(C.eof);
	assert_false(C.corrupt);
	assert_int_equal(atomic_load(&C.got), total);
	xfer_free(&X);
}

/* EOF crosses the routers and closes the far pipe, for any length. */
static void
test_eof(void **state)
{
	(void)state;
	small_transfer(0);
	small_transfer(1);
	small_transfer(5);
	small_transfer(WINDOW);
	small_transfer(WINDOW + 1);
	small_transfer(3 * WINDOW - 7);
}

/* The reader goes away: the sink's write fails and the source stops,
 * with the reason. */
static void
test_sink_write_fails(void **state)
{
	uint64_t total = 32ull << 20;
	int in[2], out[2];

	(void)state;
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	xfer_start(&X, in[0], out[1]);
	threads_start(in[1], total, out[0], 16384, 0, 1 << 20);
	if (!RUN_UNTIL(X.src_done && X.sink_done, 10000))
		fail_msg("source did not stop (src done %d, sink done %d)",
		    X.src_done, X.sink_done);
	/* The producer sees its reader (the source) gone. */
	assert_true(RUN_UNTIL(atomic_load(&P.done), 5000));
	threads_join();
	assert_non_null(X.sink_why);
	assert_non_null(X.src_why);
	assert_string_equal(X.sink_why, strerror(EPIPE));
	assert_string_equal(X.src_why, strerror(EPIPE));
	assert_int_equal(P.err, EPIPE);
	assert_true(P.written < total);
	/* The source stopped within a window of what the sink wrote. */
	assert_true(src_bytes(X.src) <= sink_bytes(X.sink) + WINDOW);
	xfer_free(&X);
}

/* Regular files cannot be polled: both ends use the always-ready path. */
static void
test_regular_files(void **state)
{
	char inpath[] = "/tmp/spn-stream-in-XXXXXX";
	char outpath[] = "/tmp/spn-stream-out-XXXXXX";
	int ifd = mkstemp(inpath), ofd = mkstemp(outpath);
	size_t total = 3 * 1024 * 1024 + 123;
	static uint8_t buf[3 * 1024 * 1024 + 123], back[sizeof buf];
	struct stat st;

	(void)state;
	assert_true(ifd >= 0 && ofd >= 0);
	unlink(inpath);
	unlink(outpath);
	for (size_t i = 0; i < total; i++)
		buf[i] = pattern(i);
	assert_int_equal(write(ifd, buf, total), (ssize_t)total);
	assert_int_equal(lseek(ifd, 0, SEEK_SET), 0);
	xfer_start(&X, ifd, dup(ofd));
	assert_true(RUN_UNTIL(X.src_done && X.sink_done, 10000));
	if (X.src_why != NULL || X.sink_why != NULL) {
		close(ofd);
		fail_msg("source: %s; sink: %s", X.src_why, X.sink_why);
	}
	assert_true(X.max_inflight <= WINDOW);
	assert_int_equal(fstat(ofd, &st), 0);
	assert_int_equal(st.st_size, total);
	assert_int_equal(pread(ofd, back, total, 0), (ssize_t)total);
	close(ofd);
	assert_memory_equal(back, buf, total);
	xfer_free(&X);
}

/*
 * The link's loss as the middle router saw it: EOF ("connection
 * closed"), or, when the closed end still had bytes unread (a slow run,
 * ASan), a reset ("read failed: Connection reset by peer").
 */
static int
link_gone_why(const char *why)
{
	return strstr(why, "connection closed") != NULL ||
	    strstr(why, "read failed") != NULL;
}

/* The source's side goes away mid-stream: the sink is told why. */
static void
test_source_side_lost(void **state)
{
	int in[2], out[2];

	(void)state;
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	xfer_start(&X, in[0], out[1]);
	threads_start(in[1], 16ull << 20, out[0], 4096, 1000000, 0);
	assert_true(RUN_UNTIL(atomic_load(&C.got) > 256 * 1024, 10000));
	/* The leaf's link to the middle router breaks. */
	link_close(L[3], "cable cut");
	assert_true(RUN_UNTIL(X.sink_done, 5000));
	assert_non_null(X.sink_why);
	if (!link_gone_why(X.sink_why))
		fail_msg("the sink ended for another reason: %s", X.sink_why);
	/* (The leaf has lost its parent: an agent exits at that point.) */
	xfer_free(&X);
	assert_true(RUN_UNTIL(atomic_load(&C.done) && atomic_load(&P.done),
	    5000));
	threads_join();
}

/* The sink's side goes away mid-stream: the source stops, saying why. */
static void
test_sink_side_lost(void **state)
{
	int in[2], out[2];

	(void)state;
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	xfer_start_at(&X, 1, in[0], 3, out[1]);
	threads_start(in[1], 16ull << 20, out[0], 4096, 1000000, 0);
	assert_true(RUN_UNTIL(atomic_load(&C.got) > 256 * 1024, 10000));
	link_close(L[3], "cable cut");
	assert_true(RUN_UNTIL(X.src_done, 5000));
	assert_non_null(X.src_why);
	if (!link_gone_why(X.src_why))
		fail_msg("the source ended for another reason: %s", X.src_why);
	/* The producer notices that nobody reads any more. */
	assert_true(RUN_UNTIL(atomic_load(&P.done), 5000));
	assert_int_equal(P.err, EPIPE);
	xfer_free(&X);
	assert_true(RUN_UNTIL(atomic_load(&C.done), 5000));
	threads_join();
}

/* --- socket mode ------------------------------------------------------ */

static void
sk_done(struct sock *k, const char *why, void *arg)
{
	struct sk *s = arg;

	(void)k;
	s->done++;
	s->why = why != NULL ? xstrdup(why) : NULL;
}

/* A sock in router r on fd (mine: the test's end), to peer. */
static void
sk_open(struct sk *s, uint32_t r, int fd, int mine, uint32_t peer)
{
	memset(s, 0, sizeof *s);
	s->fd = mine;
	s->k = sock_new(R[r], fd, fd, peer, sk_done, s);
}

/* Root (1) and leaf (3) each with a socketpair; the socks joined. */
static void
sk_pair(void)
{
	int a[2], b[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	sk_open(&K1, 1, a[0], a[1], 3);
	sk_open(&K3, 3, b[0], b[1], 1);
	sock_start(K1.k, sock_sink_handle(K3.k));
	sock_start(K3.k, sock_sink_handle(K1.k));
}

struct rd {
	char		 buf[256];
	size_t		 len;
	int		 eof;
	int		 err;
};

/* Whatever fd has now, without blocking; evaluates to eof or error. */
static int
rd_pump(int fd, struct rd *r)
{
	ssize_t n;

	while (!r->eof && !r->err && r->len < sizeof r->buf - 1) {
		n = recv(fd, r->buf + r->len, sizeof r->buf - 1 - r->len,
		    MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			r->err = errno;
		else if (n == 0)
			r->eof = 1;
		else
			r->len += n;
	}
	r->buf[r->len] = '\0';
	return r->eof || r->err;
}

/* EOF each way on its own: the other way goes on; the fds go at the end. */
static void
test_sock_half_close(void **state)
{
	struct rd r1 = { 0 }, r3 = { 0 };

	(void)state;
	sk_pair();
	assert_int_equal(write(K1.fd, "ping", 4), 4);
	assert_int_equal(shutdown(K1.fd, SHUT_WR), 0);
	if (!RUN_UNTIL(rd_pump(K3.fd, &r3), 5000))
		fail_msg("no EOF at the far end (got '%s')", r3.buf);
	assert_string_equal(r3.buf, "ping");
	assert_int_equal(r3.err, 0);
	/* The other way still works after the FIN. */
	run_for(20);
	assert_int_equal(K1.done + K3.done, 0);
	assert_int_equal(write(K3.fd, "pong", 4), 4);
	if (!RUN_UNTIL(rd_pump(K1.fd, &r1) || strlen(r1.buf) == 4, 5000))
		fail_msg("no answer after the FIN (got '%s')", r1.buf);
	assert_string_equal(r1.buf, "pong");
	assert_false(r1.eof);
	assert_int_equal(K1.done + K3.done, 0);
	assert_int_equal(shutdown(K3.fd, SHUT_WR), 0);
	assert_true(RUN_UNTIL(rd_pump(K1.fd, &r1), 5000));
	assert_true(r1.eof);
	assert_true(RUN_UNTIL(K1.done && K3.done, 5000));
	assert_null(K1.why);
	assert_null(K3.why);
	assert_int_equal(sock_bytes_in(K1.k), 4);
	assert_int_equal(sock_bytes_out(K1.k), 4);
	assert_int_equal(sock_bytes_in(K3.k), 4);
	assert_int_equal(sock_bytes_out(K3.k), 4);
	/* Both ways done: our fds are closed, writing gets EPIPE. */
	assert_int_equal(send(K3.fd, "x", 1, MSG_NOSIGNAL), -1);
	assert_int_equal(errno, EPIPE);
	run_for(5);
	assert_int_equal(K1.done, 1);
	assert_int_equal(K3.done, 1);
	sk_free(&K1);
	sk_free(&K3);
}

/* 16 MiB one way through two socks; nothing back, both end clean. */
static void
test_sock_bulk(void **state)
{
	uint64_t total = 16ull << 20;

	(void)state;
	sk_pair();
	/* The threads close the test's ends. */
	threads_start(K1.fd, total, K3.fd, 65536, 0, 0);
	K1.fd = K3.fd = -1;
	if (!RUN_UNTIL(K1.done && K3.done && atomic_load(&C.done), WAIT_MS))
		fail_msg("got %llu of %llu bytes",
		    (unsigned long long)atomic_load(&C.got),
		    (unsigned long long)total);
	threads_join();
	assert_int_equal(P.err, 0);
	assert_int_equal(atomic_load(&C.got), total);
	assert_false(C.corrupt);
	assert_true(C.eof);
	assert_null(K1.why);
	assert_null(K3.why);
	assert_int_equal(sock_bytes_in(K1.k), total);
	assert_int_equal(sock_bytes_out(K3.k), total);
	sk_free(&K1);
	sk_free(&K3);
}

/*
 * Questions and answers of a byte each (a request/response protocol):
 * each message crosses the hops once, with no CREDIT frame after every
 * small write (which would cross them all once more, waking each hop).
 */
static void
test_sock_small_messages(void **state)
{
	struct rd r1, r3;
	uint64_t up0;
	int n = 50;

	(void)state;
	sk_pair();
	run_for(20);
	up0 = link_bytes_out(L[3]);
	for (int i = 0; i < n; i++) {
		memset(&r1, 0, sizeof r1);
		memset(&r3, 0, sizeof r3);
		assert_int_equal(write(K1.fd, "q", 1), 1);
		assert_true(RUN_UNTIL((rd_pump(K3.fd, &r3), r3.len > 0),
		    5000));
		assert_int_equal(write(K3.fd, "a", 1), 1);
		assert_true(RUN_UNTIL((rd_pump(K1.fd, &r1), r1.len > 0),
		    5000));
		assert_string_equal(r3.buf, "q");
		assert_string_equal(r1.buf, "a");
	}
	/* The leaf sent its n answers, and (almost) nothing else. */
	if (link_bytes_out(L[3]) - up0 >= (uint64_t)n * (SPN_HDR_LEN + 1) +
	    4 * (SPN_HDR_LEN + 4))
		fail_msg("%llu bytes up for %d one-byte answers",
		    (unsigned long long)(link_bytes_out(L[3]) - up0), n);
	assert_int_equal(K1.done + K3.done, 0);
	sk_free(&K1);
	sk_free(&K3);
}

/* A TCP reset at one end ends both ways at both ends, with the reason. */
static void
test_sock_reset(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof sin;
	struct linger lg = { 1, 0 };
	struct rd r1 = { 0 }, r3 = { 0 };
	int a[2], ls, c, s;

	(void)state;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sin, &sl), 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof sin), 0);
	s = accept(ls, NULL, NULL);
	assert_true(s >= 0);
	close(ls);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	sk_open(&K1, 1, a[0], a[1], 3);
	sk_open(&K3, 3, s, c, 1);
	sock_start(K1.k, sock_sink_handle(K3.k));
	sock_start(K3.k, sock_sink_handle(K1.k));
	assert_int_equal(write(K1.fd, "hi", 2), 2);
	assert_true(RUN_UNTIL(rd_pump(c, &r3) || r3.len == 2, 5000));
	assert_string_equal(r3.buf, "hi");
	assert_int_equal(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg),
	    0);
	close(c);
	K3.fd = -1;
	if (!RUN_UNTIL(K1.done && K3.done, 5000))
		fail_msg("a reset did not end both (done %d %d)", K1.done,
		    K3.done);
	assert_non_null(K3.why);
	assert_string_equal(K3.why, strerror(ECONNRESET));
	assert_non_null(K1.why);
	assert_string_equal(K1.why, strerror(ECONNRESET));
	/* The root's socket is closed, not half-open. */
	assert_true(RUN_UNTIL(rd_pump(K1.fd, &r1), 5000));
	assert_int_equal(r1.len, 0);
	sk_free(&K1);
	sk_free(&K3);
}

/* Cut by its owner: the far sock ends at once with the reason. */
static void
test_sock_abort(void **state)
{
	struct rd r3 = { 0 };

	(void)state;
	sk_pair();
	assert_int_equal(write(K3.fd, "x", 1), 1);
	assert_true(RUN_UNTIL(sock_bytes_out(K1.k) == 1, 5000));
	sock_abort(K1.k, "cancelled");
	if (!RUN_UNTIL(K1.done && K3.done, 5000))
		fail_msg("abort did not end both (done %d %d)", K1.done,
		    K3.done);
	assert_string_equal(K1.why, "cancelled");
	assert_string_equal(K3.why, "cancelled");
	assert_true(RUN_UNTIL(rd_pump(K3.fd, &r3), 5000));
	sk_free(&K1);
	sk_free(&K3);
}

/* Cut before its source started: the fds stay open (the owner may still
 * answer on them) until sock_start, which ends it with the reason. */
static void
test_sock_cut_before_start(void **state)
{
	struct rd r1 = { 0 };
	int a[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	sk_open(&K1, 1, a[0], a[1], 3);
	sock_abort(K1.k, "lost");
	run_for(20);
	assert_int_equal(K1.done, 0);
	assert_false(rd_pump(K1.fd, &r1));
	assert_int_equal(write(a[0], "x", 1), 1);
	sock_start(K1.k, SPN_H_DYNAMIC);
	assert_true(RUN_UNTIL(K1.done, 5000));
	assert_string_equal(K1.why, "lost");
	assert_true(RUN_UNTIL(rd_pump(K1.fd, &r1), 5000));
	assert_string_equal(r1.buf, "x");
	sk_free(&K1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_window_bounded),
		T(test_window_overrun),
		T(test_eof),
		T(test_sink_write_fails),
		T(test_regular_files),
		T(test_source_side_lost),
		T(test_sink_side_lost),
		T(test_callback_sink),
		T(test_callback_sink_overrun),
		T(test_sock_half_close),
		T(test_sock_bulk),
		T(test_sock_small_messages),
		T(test_sock_reset),
		T(test_sock_abort),
		T(test_sock_cut_before_start),
#undef T
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
