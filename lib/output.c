/*
 * Logs and output: what contexts print and what spn_log records, to the
 * master's log handler (docs/architecture.md, "Logs and output").
 *
 * In a context, fds 1 and 2 are pipes and spn_log writes whole records
 * into a third; once the master asks (STDIO, agent/svc-stdio.c) each is
 * a credit-window stream to a callback sink here.  The loop thread only
 * moves a DATA payload into its stream's buffer; the log thread splits
 * lines and calls the handler, one record at a time, then hands the
 * bytes it used back to the loop as credit.  So a handler that blocks
 * holds the contexts' writers back, end to end, and neither stalls the
 * loop nor grows anything: a stream holds at most OUT_WINDOW bytes here.
 *
 * The master's own spn_log records wait in a queue of OUT_MASTER_MAX
 * bytes, the caller blocking while it is full; the loop thread and the
 * log thread itself (a handler that logs) never block: over the bound
 * their records are counted and dropped, and the count said later.
 *
 * Locking: out_lock guards the streams' buffers and counts, the queue,
 * the handler and the context list; it is never held across a handler
 * call, a sink call or a write.  Sinks, the list's additions and frees
 * are the loop thread's.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"

#define OUT_WINDOW	(64 * 1024)	/* per stream: in flight and held */
#define OUT_CREDIT_MIN	(OUT_WINDOW / 4)
#define OUT_LINE_MAX	4096		/* longer lines are split */
#define OUT_TEXT_MAX	4000		/* spn_log's formatted text */
#define OUT_MASTER_MAX	(64 * 1024)	/* the master's records queued,
					 * with their headers */

enum { OUT_STDOUT, OUT_STDERR, OUT_LOG, OUT_NSTREAMS };
static const char *const out_names[] = { "stdout", "stderr", NULL };

struct out_ctx;
struct out_stream {
	struct out_ctx	*ctx;
	int		 kind;
	struct sink	*sink;		/* loop thread; NULL: discarded */
	struct evbuffer	*buf;		/* bytes not yet handed out */
	size_t		 done;		/* handed out, not yet credited */
	int		 ended;		/* no more bytes will come */
	int		 queued;	/* in the ready list */
	struct out_stream *next;
};

struct out_ctx {
	struct api_node	 node;		/* out_ctxs */
	uint32_t	 id;
	char		*name;
	unsigned	 busy;		/* records of it in the handler */
	struct out_stream s[OUT_NSTREAMS];
};

/* One of the master's own records. */
struct out_rec {
	struct out_rec	*next;
	int		 level;
	size_t		 len;
	char		 text[];
};

static pthread_mutex_t	 out_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 out_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t	 out_room = PTHREAD_COND_INITIALIZER;
static int		 out_running;
static int		 out_stop;
static pthread_t	 out_thread;
static struct event	*out_ev;	/* the loop's: credit and frees */
static struct api_node	 out_ctxs = { &out_ctxs, &out_ctxs };
static struct out_stream *out_head, *out_tail;
static struct out_rec	*rec_head, *rec_tail;
static size_t		 rec_bytes;
static unsigned long	 rec_dropped;
static int		 out_turn;	/* the queue and the streams by turns */
static spn_log_fn	*out_fn;
static void		*out_fn_arg;
static uint64_t		 out_calls_begun;
static uint64_t		 out_calls_done;

/* spn_log in a context: one writer at a time on the record pipe. */
static pthread_mutex_t	 out_wlock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long	 out_wdropped;

static int
out_level(int level)
{
	if (level < SPN_LOG_ERROR)
		return SPN_LOG_ERROR;
	if (level > SPN_LOG_DEBUG)
		return SPN_LOG_DEBUG;
	return level;
}

/* The default handler: "[web] stdout: text", "[web] info: text", in one
 * write so that lines never interleave. */
static void
out_default(const struct spn_log_rec *r, void *arg)
{
	char line[OUT_LINE_MAX + 256];
	int n;

	(void)arg;
	n = snprintf(line, sizeof line - 1, "[%s] %s: %s", r->context,
	    r->stream != NULL ? r->stream : log_level_name(r->level),
	    r->text);
	if (n < 0)
		return;
	if (n > (int)sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

static int
out_on_log_thread(void)
{
	return out_running && pthread_equal(pthread_self(), out_thread);
}

/* Under out_lock: a record is ready (a whole line, OUT_LINE_MAX bytes,
 * or what is left once the stream ended). */
static int
out_has_line(struct out_stream *s)
{
	size_t len = evbuffer_get_length(s->buf);

	if (len == 0)
		return 0;
	if (len >= OUT_LINE_MAX || s->ended)
		return 1;
	return evbuffer_search(s->buf, "\n", 1, NULL).pos >= 0;
}

static void
out_queue(struct out_stream *s)
{
	if (s->queued || !out_has_line(s))
		return;
	s->queued = 1;
	s->next = NULL;
	if (out_tail != NULL)
		out_tail->next = s;
	else
		out_head = s;
	out_tail = s;
	pthread_cond_signal(&out_work);
}

/* Under out_lock: the next record of s into line (cleaned, no newline);
 * returns the bytes it took.  A line over OUT_LINE_MAX goes as pieces. */
static size_t
out_take(struct out_stream *s, char *line, size_t *len)
{
	struct evbuffer_ptr p = evbuffer_search(s->buf, "\n", 1, NULL);
	size_t n, took;

	if (p.pos >= 0 && (size_t)p.pos <= OUT_LINE_MAX) {
		n = p.pos;
		took = n + 1;
	} else {
		n = evbuffer_get_length(s->buf);
		if (n > OUT_LINE_MAX)
			n = OUT_LINE_MAX;
		took = n;
	}
	evbuffer_remove(s->buf, line, n);
	if (took > n)
		evbuffer_drain(s->buf, 1);
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	/* A NUL would end the text that str_clean cleans short of len,
	 * leaving what follows it (escapes) raw for a handler that writes
	 * len bytes. */
	for (char *z = line; (z = memchr(z, '\0', n - (z - line))) != NULL;)
		*z++ = '?';
	str_clean(line);
	*len = n;
	return took;
}

static int
out_ctx_finished(struct out_ctx *c)
{
	struct out_stream *s;

	if (c->busy != 0)
		return 0;
	for (size_t k = 0; k < OUT_NSTREAMS; k++) {
		s = &c->s[k];
		if (!s->ended || s->queued || evbuffer_get_length(s->buf) != 0)
			return 0;
	}
	return 1;
}

/* Loop thread (or the last thread, at shutdown). */
static void
out_ctx_free(struct out_ctx *c)
{
	for (size_t k = 0; k < OUT_NSTREAMS; k++) {
		sink_free(c->s[k].sink);
		evbuffer_free(c->s[k].buf);
	}
	free(c->name);
	free(c);
}

/*
 * Under out_lock, the next record: from the master's queue or the
 * streams, by turns.  Fills rec (its text in line) and returns 1, with
 * *rp the queue's record to free or *sp the stream it came from and
 * *took the bytes, credited once the handler is done with them.
 */
static int
out_next(struct spn_log_rec *rec, char *line, struct out_rec **rp,
    struct out_stream **sp, size_t *took)
{
	struct out_stream *s;
	struct out_rec *r;
	const char *t;
	size_t len;

	*rp = NULL;
	*sp = NULL;
	if (rec_head != NULL && (out_head == NULL || (out_turn ^= 1))) {
		r = *rp = rec_head;
		if ((rec_head = r->next) == NULL)
			rec_tail = NULL;
		rec_bytes -= sizeof *r + r->len;
		pthread_cond_broadcast(&out_room);
		*rec = (struct spn_log_rec){ SPN_CTX_MASTER, "master",
		    r->level, NULL, r->text, r->len };
		return 1;
	}
	if ((s = *sp = out_head) == NULL)
		return 0;
	if ((out_head = s->next) == NULL)
		out_tail = NULL;
	s->queued = 0;
	*took = out_take(s, line, &len);
	out_queue(s);
	s->ctx->busy++;
	*rec = (struct spn_log_rec){ s->ctx->id, s->ctx->name,
	    SPN_LOG_INFO, out_names[s->kind], line, len };
	if (s->kind == OUT_LOG) {
		/* "<level digit><text>": the context's claim, in bounds. */
		t = line;
		rec->level = SPN_LOG_WARN;
		if (*t >= '0' + SPN_LOG_ERROR && *t <= '0' + SPN_LOG_DEBUG)
			rec->level = *t++ - '0';
		rec->text = t;
		rec->len = len - (t - line);
		/* Filtered here too: a context booted at another level. */
		if (rec->level > log_get_level())
			rec->text = NULL;
	}
	return 1;
}

/* The library's log thread: every record, one at a time. */
static void *
out_main(void *arg)
{
	char line[OUT_LINE_MAX + 1];
	struct spn_log_rec rec;
	struct out_stream *s;
	struct out_rec *r;
	spn_log_fn *fn;
	void *fn_arg;
	size_t took;
	int kick;

	(void)arg;
	pthread_mutex_lock(&out_lock);
	for (;;) {
		if (!out_next(&rec, line, &r, &s, &took)) {
			if (out_stop)
				break;
			pthread_cond_wait(&out_work, &out_lock);
			continue;
		}
		fn = out_fn != NULL ? out_fn : out_default;
		fn_arg = out_fn_arg;
		out_calls_begun++;
		pthread_mutex_unlock(&out_lock);
		if (rec.text != NULL)
			fn(&rec, fn_arg);
		free(r);
		pthread_mutex_lock(&out_lock);
		out_calls_done++;
		pthread_cond_broadcast(&out_room);
		kick = 0;
		if (s != NULL) {
			s->ctx->busy--;
			s->done += took;
			kick = s->done >= OUT_CREDIT_MIN ||
			    evbuffer_get_length(s->buf) == 0 ||
			    out_ctx_finished(s->ctx);
		}
		if (kick && out_ev != NULL)
			event_active(out_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&out_lock);
	return NULL;
}

/* On the loop, woken by the log thread: credit back, ended contexts
 * freed.  Only the loop adds or frees a context, so the walk survives
 * the unlocked sink calls. */
static void
out_loop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_node *n, *next;
	struct out_ctx *c;
	struct out_stream *s;
	size_t done;

	(void)fd;
	(void)what;
	(void)arg;
	pthread_mutex_lock(&out_lock);
	for (n = out_ctxs.next; n != &out_ctxs; n = next) {
		next = n->next;
		c = (struct out_ctx *)n;
		for (size_t k = 0; k < OUT_NSTREAMS; k++) {
			s = &c->s[k];
			if (s->sink == NULL || s->done == 0)
				continue;
			done = s->done;
			s->done = 0;
			pthread_mutex_unlock(&out_lock);
			sink_credit(s->sink, done);
			pthread_mutex_lock(&out_lock);
		}
		if (out_ctx_finished(c)) {
			api_list_del(&c->node);
			pthread_mutex_unlock(&out_lock);
			out_ctx_free(c);
			pthread_mutex_lock(&out_lock);
		}
	}
	pthread_mutex_unlock(&out_lock);
}

static void
out_data(struct sink *sink, struct evbuffer *b, void *arg)
{
	struct out_stream *s = arg;

	(void)sink;
	pthread_mutex_lock(&out_lock);
	evbuffer_add_buffer(s->buf, b);
	out_queue(s);
	pthread_mutex_unlock(&out_lock);
}

/* EOF, or the context is gone: what is left of a line still goes. */
static void
out_done(struct sink *sink, const char *why, void *arg)
{
	struct out_stream *s = arg;

	(void)sink;
	(void)why;
	pthread_mutex_lock(&out_lock);
	s->ended = 1;
	out_queue(s);
	if (out_ctx_finished(s->ctx) && out_ev != NULL)
		event_active(out_ev, EV_READ, 0);
	pthread_mutex_unlock(&out_lock);
}

/*
 * On the loop, as a context of this program comes up: sinks for its
 * stdout, stderr (unless discarded) and spn_log records, and the STDIO
 * request naming them.  A stock agent (a program that is not a static
 * image) is not asked: it sends its lines as log records.
 */
void
output_ctx_up(struct spn *spn, uint32_t id, const char *name, int stdio)
{
	struct out_ctx *c;
	struct out_stream *s;
	struct pk pk;

	if (!out_running || !spn->is_static)
		return;
	c = xcalloc(1, sizeof *c);
	c->id = id;
	c->name = xstrdup(name);
	pk_init(&pk);
	pk_u32(&pk, SPN_STDIO_OP_START);
	pk_u32(&pk, OUT_WINDOW);
	for (size_t k = 0; k < OUT_NSTREAMS; k++) {
		s = &c->s[k];
		s->ctx = c;
		s->kind = k;
		s->buf = evbuffer_new();
		if (k == OUT_LOG || stdio != SPN_STDIO_DISCARD)
			s->sink = sink_new_cb(spn->rt, id, OUT_WINDOW,
			    out_data, out_done, s);
		else
			s->ended = 1;
		pk_u32(&pk, s->sink != NULL ? sink_handle(s->sink) : 0);
	}
	pthread_mutex_lock(&out_lock);
	api_list_add(&out_ctxs, &c->node);
	pthread_mutex_unlock(&out_lock);
	rt_send_pk(spn->rt, SPN_K_CALL, id, SPN_H_STDIO, 0, &pk);
	pk_free(&pk);
}

/*
 * On the loop, before contexts go (spn_shutdown, the last reference to
 * a route dropped): each one sends what its pipes hold (a SYNC each), so
 * that the last lines a function printed are not lost; done(arg) once
 * all answered, or after OUT_SYNC_MS (a handler that blocks holds the
 * lines back).  A sync still waiting when the loop stops is dropped.
 */
#define OUT_SYNC_MS	2000
struct out_sync {
	struct api_node	 node;		/* out_syncs */
	struct spn	*spn;
	void		(*done)(void *);
	void		*arg;
	struct event	*ev;
	size_t		 n;		/* handles still waiting */
	uint32_t	 handles[];
};
static struct api_node	 out_syncs = { &out_syncs, &out_syncs };

static void
out_sync_free(struct out_sync *y)
{
	for (size_t i = 0; i < y->n; i++) {
		if (y->handles[i] != 0)
			rt_handle_del(y->spn->rt, y->handles[i]);
	}
	api_list_del(&y->node);
	event_free(y->ev);
	free(y);
}

static void
out_sync_finish(evutil_socket_t fd, short what, void *arg)
{
	struct out_sync *y = arg;
	void (*done)(void *) = y->done;
	void *done_arg = y->arg;

	(void)fd;
	(void)what;
	out_sync_free(y);
	done(done_arg);
}

static void
out_sync_reply(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct out_sync *y = arg;
	size_t left = 0;

	rt_handle_del(rt, m->h.handle);
	for (size_t i = 0; i < y->n; i++) {
		if (y->handles[i] == m->h.handle)
			y->handles[i] = 0;
		if (y->handles[i] != 0)
			left++;
	}
	if (left == 0)
		out_sync_finish(-1, 0, y);
}

static int
out_sync_wants(uint32_t id, const uint32_t *ids, size_t nids)
{
	if (ids == NULL)
		return 1;
	for (size_t i = 0; i < nids; i++) {
		if (ids[i] == id)
			return 1;
	}
	return 0;
}

/* ids: the contexts (NULL: all of them). */
void
output_sync(struct spn *spn, const uint32_t *ids, size_t nids,
    void (*done)(void *), void *arg)
{
	struct timeval tv = { OUT_SYNC_MS / 1000, 0 };
	struct api_node *n;
	struct out_sync *y;
	struct out_ctx *c;
	size_t count = 0;
	uint8_t b[4];

	pthread_mutex_lock(&out_lock);
	for (n = out_ctxs.next; n != &out_ctxs; n = n->next)
		count++;
	y = xcalloc(1, sizeof *y + count * sizeof *y->handles);
	y->spn = spn;
	y->done = done;
	y->arg = arg;
	y->ev = evtimer_new(spn->base, out_sync_finish, y);
	api_list_add(&out_syncs, &y->node);
	be32_put(b, SPN_STDIO_OP_SYNC);
	for (n = out_ctxs.next; n != &out_ctxs; n = n->next) {
		c = (struct out_ctx *)n;
		/* Its log stream ended: the context is gone.  One whose
		 * route is closing already is asked again: shutdown closes
		 * every route at once, and waits for none of the others'
		 * syncs (which run meanwhile: their 2 s do not add up). */
		if (c->s[OUT_LOG].ended || !out_sync_wants(c->id, ids, nids))
			continue;
		y->handles[y->n] = rt_handle_add(spn->rt, 0, RT_ALLOW_PEER,
		    c->id, out_sync_reply, y);
		rt_send(spn->rt, SPN_K_CALL, c->id, SPN_H_STDIO,
		    y->handles[y->n++], b, sizeof b);
	}
	pthread_mutex_unlock(&out_lock);
	if (y->n == 0)
		out_sync_finish(-1, 0, y);
	else
		evtimer_add(y->ev, &tv);
}

/* spn_init: the log thread, with every signal blocked (as the loop). */
int
output_start(struct spn *spn)
{
	sigset_t all, old;
	int e;

	out_ev = event_new(spn->base, -1, 0, out_loop_cb, NULL);
	pthread_mutex_lock(&out_lock);
	out_stop = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&out_thread, NULL, out_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	out_running = e == 0;
	pthread_mutex_unlock(&out_lock);
	if (e != 0) {
		event_free(out_ev);
		out_ev = NULL;
	}
	return e;
}

/*
 * spn_shutdown, the loop stopped: the log thread hands out what it holds
 * and ends; then the sinks go (the router is still there).  From the
 * log thread itself (a handler's exit() or spn_shutdown) there is
 * nothing to wait for, and what it uses is left to the process's end.
 */
void
output_stop(struct spn *spn)
{
	struct api_node *n;
	struct out_rec *r;

	(void)spn;
	pthread_mutex_lock(&out_lock);
	if (out_on_log_thread()) {
		/* The loop and its base go: the thread ends once it has
		 * handed out what is left, without waking the loop. */
		out_stop = 1;
		out_ev = NULL;
		pthread_mutex_unlock(&out_lock);
		return;
	}
	if (!out_running) {
		pthread_mutex_unlock(&out_lock);
		return;
	}
	out_stop = 1;
	pthread_cond_broadcast(&out_work);
	pthread_mutex_unlock(&out_lock);
	pthread_join(out_thread, NULL);
	pthread_mutex_lock(&out_lock);
	out_running = 0;
	pthread_cond_broadcast(&out_room);
	pthread_mutex_unlock(&out_lock);
	while ((n = out_syncs.next) != &out_syncs)
		out_sync_free((struct out_sync *)n);
	while ((n = out_ctxs.next) != &out_ctxs) {
		api_list_del(n);
		out_ctx_free((struct out_ctx *)n);
	}
	while ((r = rec_head) != NULL) {
		rec_head = r->next;
		free(r);
	}
	rec_tail = NULL;
	rec_bytes = 0;
	out_head = out_tail = NULL;
	event_free(out_ev);
	out_ev = NULL;
}

/* Under out_lock: one of the master's records to the queue. */
static void
out_rec_add(int level, const char *text, size_t len)
{
	struct out_rec *r = xmalloc(sizeof *r + len + 1);

	r->next = NULL;
	r->level = level;
	r->len = len;
	memcpy(r->text, text, len);
	r->text[len] = '\0';
	str_clean(r->text);
	if (rec_tail != NULL)
		rec_tail->next = r;
	else
		rec_head = r;
	rec_tail = r;
	rec_bytes += sizeof *r + len;
	pthread_cond_signal(&out_work);
}

/* Each line of text, in order: a record. */
static void
out_each_line(const char *text, void (*fn)(int, const char *, size_t),
    int level)
{
	const char *p = text;
	size_t len;

	for (;;) {
		len = strcspn(p, "\n");
		fn(level, p, len);
		p += len;
		if (*p == '\0' || p[1] == '\0')
			return;
		p++;
	}
}

/* No log thread (before spn_init, after spn_shutdown): the default line
 * from the caller. */
static void
out_print(int level, const char *text, size_t len)
{
	char line[OUT_TEXT_MAX + 1];
	struct spn_log_rec rec = { SPN_CTX_MASTER, "master", level, NULL,
	    line, len };

	memcpy(line, text, len);
	line[len] = '\0';
	str_clean(line);
	out_default(&rec, NULL);
}

static void
out_rec_line(int level, const char *text, size_t len)
{
	out_rec_add(level, text, len);
}

static void
out_log_master(int level, const char *text)
{
	char note[128];
	size_t need = strlen(text) + sizeof(struct out_rec);
	int nowait = api_on_loop() || out_on_log_thread();

	pthread_mutex_lock(&out_lock);
	while (out_running && !out_stop && rec_bytes + need > OUT_MASTER_MAX) {
		if (nowait) {
			rec_dropped++;
			pthread_mutex_unlock(&out_lock);
			return;
		}
		pthread_cond_wait(&out_room, &out_lock);
	}
	if (!out_running || out_stop) {
		pthread_mutex_unlock(&out_lock);
		out_each_line(text, out_print, level);
		return;
	}
	if (rec_dropped != 0) {
		snprintf(note, sizeof note, "spn_log: %lu record%s dropped: "
		    "logged on the library's own threads while the queue was "
		    "full", rec_dropped, rec_dropped == 1 ? "" : "s");
		rec_dropped = 0;
		out_rec_add(SPN_LOG_WARN, note, strlen(note));
	}
	out_each_line(text, out_rec_line, level);
	pthread_mutex_unlock(&out_lock);
}

/*
 * In a context: "<level digit><text>\n" a line, all of them in one write
 * of at most PIPE_BUF bytes, so that records of several threads never
 * mix.  A writer blocks while the pipe is full, except on the loop
 * thread (an SPN_INLINE export), which reads that pipe: its record is
 * dropped if it would wait, and the count said with the next one.
 */
static size_t
out_log_pack(char *rec, size_t size, int level, const char *text)
{
	const char *p = text;
	size_t n = 0, len;

	for (;;) {
		len = strcspn(p, "\n");
		if (n + 2 >= size)
			break;
		if (len > size - n - 2)
			len = size - n - 2;
		rec[n++] = '0' + level;
		memcpy(rec + n, p, len);
		n += len;
		rec[n++] = '\n';
		p += len;
		if (*p != '\n' || p[1] == '\0')
			break;
		p++;
	}
	return n;
}

static int
out_log_write(int fd, const char *rec, size_t n)
{
	ssize_t w;

	while ((w = write(fd, rec, n)) < 0 && errno == EINTR)
		;
	return w == (ssize_t)n ? 0 : -1;
}

static void
out_log_agent(int fd, int level, const char *text)
{
	char rec[PIPE_BUF], note[128];
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	size_t n = out_log_pack(rec, sizeof rec, level, text), m;
	unsigned long lost;

	if (export_on_loop()) {
		/* With the lock held, a free slot in the pipe takes a
		 * record of PIPE_BUF bytes whole. */
		if (pthread_mutex_trylock(&out_wlock) != 0) {
			__atomic_add_fetch(&out_wdropped, 1, __ATOMIC_RELAXED);
			return;
		}
		if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT) ||
		    out_log_write(fd, rec, n) != 0)
			__atomic_add_fetch(&out_wdropped, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&out_wlock);
		return;
	}
	pthread_mutex_lock(&out_wlock);
	if ((lost = __atomic_exchange_n(&out_wdropped, 0,
	    __ATOMIC_RELAXED)) != 0) {
		snprintf(note, sizeof note, "spn_log: %lu record%s dropped: "
		    "logged on the loop thread while the pipe was full", lost,
		    lost == 1 ? "" : "s");
		if ((m = out_log_pack(rec + n, sizeof rec - n, SPN_LOG_WARN,
		    note)) == 0)
			__atomic_add_fetch(&out_wdropped, lost,
			    __ATOMIC_RELAXED);	/* no room: with the next */
		n += m;
	}
	(void)out_log_write(fd, rec, n);
	pthread_mutex_unlock(&out_wlock);
}

void
spn_log(int level, const char *fmt, ...)
{
	char text[OUT_TEXT_MAX];
	va_list ap;
	size_t len;
	int fd;

	level = out_level(level);
	if (level > log_get_level() || fmt == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	/* "text\n" is one line, as printf users write it. */
	len = strlen(text);
	if (len > 0 && text[len - 1] == '\n')
		text[len - 1] = '\0';
	if ((fd = agent_log_fd()) >= 0)
		out_log_agent(fd, level, text);
	else
		out_log_master(level, text);
}

/*
 * Takes effect for the next record; when it returns (but on the log
 * thread or the loop thread) the old handler is no longer running.
 */
void
spn_set_log_handler(struct spn *spn, spn_log_fn *fn, void *arg)
{
	uint64_t begun;

	(void)spn;
	pthread_mutex_lock(&out_lock);
	out_fn = fn;
	out_fn_arg = arg;
	begun = out_calls_begun;
	/* Not from the loop either: the handler may be waiting for it. */
	if (!out_on_log_thread() && !api_on_loop()) {
		while (out_running && out_calls_done < begun)
			pthread_cond_wait(&out_room, &out_lock);
	}
	pthread_mutex_unlock(&out_lock);
}

/* The master's records at once; contexts at their next connect (their
 * BOOT carries it). */
void
spn_set_log_level(struct spn *spn, int level)
{
	(void)spn;
	log_set_level(level <= 0 ? SPN_LOG_WARN : out_level(level));
}
