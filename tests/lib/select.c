/*
 * Selects (issue 10 point 1), one case a run (lib-select.sh):
 *
 *   select all         on 10 local contexts, in turn: gather (100 async
 *                      calls through a ONESHOT select: each answer once,
 *                      then ECLOSED with *r NULL), order (arrival order,
 *                      not the order of adding; nested too), nested
 *                      (EBUSY, loops refused, a nested ONESHOT), timeout
 *                      (ETIMEDOUT, then a cancel comes through the
 *                      select), closed (a receiver closed in a select),
 *                      free (spn_select_free while a thread waits: it
 *                      gets ECLOSED), poll (the fd in our own poll loop:
 *                      level, drained by spn_select_get), deadlk (an
 *                      SPN_INLINE export's spn_select_get: EDEADLK), lost
 *                      (a killed context: ELOST for its receivers only)
 *                      and, in the glibc build (select-glibc, which
 *                      links the system's libevent), libevent (the fd
 *                      in a libevent loop of our own)
 *   select shutdown    spn_shutdown wakes a thread waiting in
 *                      spn_select_get with ESHUTDOWN
 *
 * SELECT_IMAGE in the environment: the static build of this file, for
 * the glibc build to send to its contexts (spn_opts.image).
 * Prints one line a case with what it measured; exit 0 when every case
 * holds, 1 with the reason on stderr.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* gettid */
#endif
#include <sys/syscall.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

#ifdef SELECT_LIBEVENT
#include <event2/event.h>
#endif

#define NCTX	10
#define NCALLS	100

static struct spn_ctx	*ctxs[NCTX];

static int
nap(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	int64_t ms = spn_arg_int(args, 1);

	for (int64_t i = 0; i < ms && !spn_cancelled(call); i++)
		usleep(1000);
	return spn_vbuf_put(res, "i", spn_arg_int(args, 0));
}
SPN_EXPORT(nap, "i,i->i");

static int
pid_fn(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	(void)call;
	(void)args;
	return spn_vbuf_put(res, "i", (int64_t)getpid());
}
SPN_EXPORT(pid_fn, "->i");

/* On the context's loop thread: a select may not be waited on there. */
static int
inline_select(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	struct spn_select *s;
	struct spn_recv *r;
	struct spn_error err;
	int rc;

	(void)call;
	(void)args;
	if ((rc = spn_select_new(0, &s)) != SPN_OK)
		return spn_vbuf_put(res, "i", (int64_t)-rc);
	rc = spn_select_get(s, 0, &r, NULL, &err);
	spn_select_free(s);
	return spn_vbuf_put(res, "i", (int64_t)rc);
}
SPN_EXPORT_FLAGS(inline_select, "->i", SPN_INLINE);

static int
fail(const char *what, int rc, const struct spn_error *err)
{
	fprintf(stderr, "select: %s: %s\n", what, spn_strerror(rc));
	if (err != NULL && err->code != SPN_OK)
		spn_error_print(err);
	exit(1);
}

static int
fail_if(int bad, const char *what)
{
	if (bad) {
		fprintf(stderr, "select: %s\n", what);
		exit(1);
	}
	return 0;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct spn_recv *
start(int c, int64_t tag, int64_t ms)
{
	struct spn_recv *r;
	struct spn_error err;
	int rc;

	if ((rc = spn_call_async(ctxs[c], "nap", &r, &err, "ii", tag,
	    ms)) != SPN_OK)
		fail("call_async", rc, &err);
	return r;
}

static struct spn_select *
sel_new(unsigned flags)
{
	struct spn_select *s;
	int rc;

	if ((rc = spn_select_new(flags, &s)) != SPN_OK)
		fail("select_new", rc, NULL);
	return s;
}

static void
sel_add(struct spn_select *s, struct spn_recv *r)
{
	int rc;

	if ((rc = spn_select_add(s, r)) != SPN_OK)
		fail("select_add", rc, NULL);
}

/* The next message: SPN_OK and its tag, from receiver *r. */
static int64_t
sel_tag(struct spn_select *s, int ms, struct spn_recv **r)
{
	struct spn_msg *m;
	struct spn_error err;
	int64_t tag;
	int rc;

	if ((rc = spn_select_get(s, ms, r, &m, &err)) != SPN_OK)
		fail("select_get", rc, &err);
	fail_if(*r == NULL, "select_get: SPN_OK with no receiver");
	tag = spn_arg_int(spn_msg_value(m), 0);
	spn_msg_free(m);
	return tag;
}

static void
expect(struct spn_select *s, int ms, int want, const char *what)
{
	struct spn_recv *r = (struct spn_recv *)1;
	struct spn_msg *m = (struct spn_msg *)1;
	struct spn_error err;
	int rc;

	rc = spn_select_get(s, ms, &r, &m, &err);
	if (rc != want) {
		fprintf(stderr, "select: %s: %s, not %s\n", what,
		    spn_strerror(rc), spn_strerror(want));
		exit(1);
	}
	fail_if(m != NULL, "select_get: a message with an error");
	if (want == SPN_ECLOSED || want == SPN_ETIMEDOUT)
		fail_if(r != NULL, "select_get: a receiver with nothing");
}

/* 100 calls on 10 contexts, each answer exactly once, then ECLOSED. */
static void
case_gather(void)
{
	struct spn_select *s = sel_new(SPN_SELECT_ONESHOT);
	struct spn_recv *rs[NCALLS], *r;
	int seen[NCALLS] = { 0 };
	uint64_t t0 = now_ms();
	int64_t tag;

	for (int i = 0; i < NCALLS; i++) {
		rs[i] = start(i % NCTX, i, (i * 7) % 20);
		sel_add(s, rs[i]);
	}
	for (int i = 0; i < NCALLS; i++) {
		tag = sel_tag(s, 30000, &r);
		fail_if(tag < 0 || tag >= NCALLS, "gather: a tag out of range");
		fail_if(seen[tag]++, "gather: an answer twice");
		fail_if(r != rs[tag], "gather: the answer of another receiver");
		/* It left the select: it is ours to close, and may be. */
		fail_if(spn_select_remove(s, r) != SPN_EINVAL,
		    "gather: a taken receiver still in the ONESHOT select");
		spn_recv_close(r);
	}
	expect(s, 1000, SPN_ECLOSED, "gather: after the last answer");
	spn_select_free(s);
	printf("gather: %d answers once each in %llu ms, then ECLOSED\n",
	    NCALLS, (unsigned long long)(now_ms() - t0));
}

/* Wait until r's answer came, without taking it: the fd of a select
 * of its own says so. */
static void
answered(struct spn_recv *r)
{
	struct spn_select *s = sel_new(0);
	struct pollfd p;

	sel_add(s, r);
	p.fd = spn_select_fd(s);
	p.events = POLLIN;
	fail_if(poll(&p, 1, 30000) != 1, "no answer within 30 s");
	fail_if(spn_select_remove(s, r) != SPN_OK, "select_remove");
	spn_select_free(s);
}

/* Arrival order across receivers, not the order of adding: b is
 * answered before a, c after both; nested, the same. */
static void
case_order(void)
{
	struct spn_select *s = sel_new(0), *inner = sel_new(0);
	struct spn_recv *a, *b, *c, *r;
	int64_t t1, t2, t3;

	b = start(1, 2, 0);
	answered(b);
	a = start(2, 1, 0);
	answered(a);
	c = start(3, 3, 0);
	answered(c);
	/* Added in the order c, a, b; inner holds a. */
	sel_add(s, c);
	sel_add(inner, a);
	if (spn_select_add_select(s, inner) != SPN_OK)
		fail("add_select", SPN_EINVAL, NULL);
	sel_add(s, b);
	t1 = sel_tag(s, 5000, &r);
	fail_if(r != b, "order: the first answer from another receiver");
	t2 = sel_tag(s, 5000, &r);
	fail_if(r != a, "order: the nested receiver's answer not second");
	t3 = sel_tag(s, 5000, &r);
	fail_if(t1 != 2 || t2 != 1 || t3 != 3, "order: not arrival order");
	/* Not ONESHOT: they stay, with nothing more to give. */
	expect(s, 0, SPN_ETIMEDOUT, "order: after the answers");
	fail_if(spn_select_remove(s, a) != SPN_EINVAL,
	    "order: removed a receiver of the nested select");
	fail_if(spn_select_remove(inner, a) != SPN_OK, "order: remove");
	spn_select_free(s);
	spn_select_free(inner);
	spn_recv_close(a);
	spn_recv_close(b);
	spn_recv_close(c);
	printf("order: answers in arrival order (b a c), nested too\n");
}

/* Membership rules, and a nested ONESHOT select. */
static void
case_nested(void)
{
	struct spn_select *outer = sel_new(SPN_SELECT_ONESHOT);
	struct spn_select *in1 = sel_new(SPN_SELECT_ONESHOT);
	struct spn_select *in2 = sel_new(SPN_SELECT_ONESHOT);
	struct spn_select *other = sel_new(0);
	struct spn_recv *rs[6], *r;
	int seen[6] = { 0 };

	for (int i = 0; i < 6; i++)
		rs[i] = start(i, i, i * 10);
	for (int i = 0; i < 3; i++)
		sel_add(in1, rs[i]);
	sel_add(in2, rs[3]);
	sel_add(in2, rs[4]);
	sel_add(outer, rs[5]);
	fail_if(spn_select_add_select(outer, in1) != SPN_OK, "add in1");
	fail_if(spn_select_add_select(in1, in2) != SPN_OK, "add in2");
	/* Taken: a receiver (a select) is in one select at most. */
	fail_if(spn_select_add(other, rs[0]) != SPN_EBUSY,
	    "nested: a receiver added to a second select");
	fail_if(spn_select_add(in1, rs[0]) != SPN_EBUSY,
	    "nested: a receiver added twice");
	fail_if(spn_select_add_select(other, in2) != SPN_EBUSY,
	    "nested: a select added to a second select");
	/* No loops: outer is above in2. */
	fail_if(spn_select_add_select(in2, outer) != SPN_EINVAL,
	    "nested: a select added below itself");
	fail_if(spn_select_add_select(outer, outer) != SPN_EINVAL,
	    "nested: a select added to itself");
	for (int i = 0; i < 6; i++) {
		int64_t tag = sel_tag(outer, 30000, &r);

		fail_if(tag < 0 || tag > 5 || seen[tag]++ || r != rs[tag],
		    "nested: a wrong or repeated answer");
	}
	/* The nested selects are empty, so is the outer one. */
	expect(outer, 1000, SPN_ECLOSED, "nested: after six answers");
	expect(in2, 0, SPN_ECLOSED, "nested: the innermost");
	spn_select_free(in2);
	spn_select_free(in1);
	spn_select_free(outer);
	spn_select_free(other);
	for (int i = 0; i < 6; i++)
		spn_recv_close(rs[i]);
	printf("nested: 6 answers through 3 levels, EBUSY, loops refused\n");
}

static void
case_timeout(void)
{
	struct spn_select *s = sel_new(SPN_SELECT_ONESHOT);
	struct spn_recv *r = start(4, 7, 20000), *got;
	uint64_t t0;
	struct spn_error err;
	int rc;

	sel_add(s, r);
	t0 = now_ms();
	expect(s, 300, SPN_ETIMEDOUT, "timeout");
	t0 = now_ms() - t0;
	fail_if(t0 < 250, "timeout: returned early");
	/* The cancel comes through the select, once. */
	fail_if(spn_recv_cancel(r) != SPN_OK, "timeout: cancel");
	rc = spn_select_get(s, 5000, &got, NULL, &err);
	fail_if(rc != SPN_ECANCELLED || got != r,
	    "timeout: the cancel did not come through the select");
	expect(s, 0, SPN_ECLOSED, "timeout: after the cancel");
	spn_recv_close(r);
	spn_select_free(s);
	printf("timeout: ETIMEDOUT after %llu ms (asked 300), then "
	    "ECANCELLED\n", (unsigned long long)t0);
}

/* A receiver closed while in a select leaves it. */
static void
case_closed(void)
{
	struct spn_select *s = sel_new(0);
	struct spn_recv *a = start(5, 1, 20000), *b = start(6, 2, 0), *r;

	answered(b);
	sel_add(s, a);
	sel_add(s, b);
	spn_recv_close(b);
	expect(s, 100, SPN_ETIMEDOUT, "closed: b's answer went with it");
	spn_recv_close(a);
	expect(s, 1000, SPN_ECLOSED, "closed: no receiver left");
	a = start(5, 3, 0);
	sel_add(s, a);
	fail_if(sel_tag(s, 5000, &r) != 3 || r != a, "closed: reuse");
	spn_recv_close(a);
	spn_select_free(s);
	printf("closed: a closed receiver leaves the select\n");
}

struct waiter {
	struct spn_select *s;
	int		 rc;
	struct spn_recv	*r;
	int		 tid;		/* set before it calls */
};

static void *
waiter_run(void *arg)
{
	struct waiter *w = arg;
	struct spn_error err;

	__atomic_store_n(&w->tid, (int)gettid(), __ATOMIC_RELEASE);
	w->rc = spn_select_get(w->s, -1, &w->r, NULL, &err);
	return NULL;
}

static int
in_futex(int tid)
{
	char path[64];
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(f, "%ld", &nr) != 1)
		nr = -1;
	fclose(f);
	return nr == SYS_futex;
}

/* Until the waiter sleeps in spn_select_get: a select may be freed under
 * a waiter, not under a thread on its way in.  In futex twice, 50 ms
 * apart: the lock is never held that long. */
static void
waiter_waits(struct waiter *w)
{
	int tid;

	for (int i = 0; i < 1000; i++) {
		usleep(10000);
		if ((tid = __atomic_load_n(&w->tid, __ATOMIC_ACQUIRE)) == 0 ||
		    !in_futex(tid))
			continue;
		usleep(50000);
		if (in_futex(tid))
			return;
	}
	fail_if(1, "the waiter never waited");
}

/* spn_select_free while another thread waits in it. */
static void
case_free(void)
{
	struct waiter w = { .s = sel_new(0), .rc = -1 };
	struct spn_recv *r = start(7, 1, 20000);
	pthread_t t;

	sel_add(w.s, r);
	pthread_create(&t, NULL, waiter_run, &w);
	waiter_waits(&w);
	spn_select_free(w.s);
	pthread_join(t, NULL);
	fail_if(w.rc != SPN_ECLOSED || w.r != NULL,
	    "free: the waiter did not get ECLOSED");
	/* The receiver is in no select now. */
	w.s = sel_new(0);
	sel_add(w.s, r);
	spn_select_free(w.s);
	spn_recv_close(r);
	printf("free: the waiter got ECLOSED\n");
}

/* The fd in our own poll loop: readable while a message waits (level:
 * still readable with one taken of two), not after the last. */
static void
case_poll(void)
{
	struct spn_select *s = sel_new(SPN_SELECT_ONESHOT);
	struct spn_recv *rs[20], *r;
	struct pollfd p;
	int got = 0, wakes = 0, n;
	int64_t tag;

	p.fd = spn_select_fd(s);
	p.events = POLLIN;
	fail_if(p.fd < 0, "poll: no fd");
	fail_if(spn_select_fd(s) != p.fd, "poll: a second fd");
	fail_if(poll(&p, 1, 0) != 0, "poll: readable with nothing");
	for (int i = 0; i < 20; i++) {
		rs[i] = start(i % NCTX, i, i);
		sel_add(s, rs[i]);
	}
	while (got < 20) {
		if ((n = poll(&p, 1, 30000)) != 1)
			fail_if(1, "poll: no answer within 30 s");
		wakes++;
		/* One at a time: level-triggered, poll says so again. */
		tag = sel_tag(s, 0, &r);
		fail_if(r != rs[tag], "poll: another receiver");
		spn_recv_close(r);
		got++;
	}
	fail_if(poll(&p, 1, 200) != 0, "poll: readable once drained");
	expect(s, 0, SPN_ECLOSED, "poll: after 20");
	/* Made after two messages came, the fd is readable; with one of
	 * them taken, still; with both, no more. */
	spn_select_free(s);
	s = sel_new(0);
	rs[0] = start(0, 9, 0);
	answered(rs[0]);
	rs[1] = start(1, 10, 0);
	answered(rs[1]);
	sel_add(s, rs[0]);
	sel_add(s, rs[1]);
	p.fd = spn_select_fd(s);
	fail_if(poll(&p, 1, 0) != 1, "poll: a late fd not readable");
	fail_if(sel_tag(s, 0, &r) != 9, "poll: the first late answer");
	fail_if(poll(&p, 1, 0) != 1, "poll: not readable with one left");
	fail_if(sel_tag(s, 0, &r) != 10, "poll: the second late answer");
	fail_if(poll(&p, 1, 0) != 0, "poll: a late fd not drained");
	spn_recv_close(rs[0]);
	spn_recv_close(rs[1]);
	spn_select_free(s);
	printf("poll: 20 answers in %d wakes of our poll loop\n", wakes);
}

#ifdef SELECT_LIBEVENT
struct levent {
	struct spn_select *s;
	struct spn_recv	**rs;
	int		 got;
	int		 calls;
	struct event_base *base;
};

/* One message a callback: the fd stays readable, libevent calls again. */
static void
levent_read(evutil_socket_t fd, short what, void *arg)
{
	struct levent *l = arg;
	struct spn_recv *r;
	int64_t tag;

	(void)fd;
	(void)what;
	l->calls++;
	tag = sel_tag(l->s, 0, &r);
	fail_if(tag < 0 || tag >= 20 || r != l->rs[tag],
	    "libevent: another receiver");
	spn_recv_close(r);
	if (++l->got == 20)
		event_base_loopbreak(l->base);
}

static void
case_libevent(void)
{
	struct spn_recv *rs[20];
	struct levent l = { .s = sel_new(SPN_SELECT_ONESHOT), .rs = rs };
	struct timeval tv = { 30, 0 };
	struct event *ev;

	fail_if((l.base = event_base_new()) == NULL, "libevent: base");
	ev = event_new(l.base, spn_select_fd(l.s), EV_READ | EV_PERSIST,
	    levent_read, &l);
	event_add(ev, &tv);
	for (int i = 0; i < 20; i++) {
		rs[i] = start(i % NCTX, i, i);
		sel_add(l.s, rs[i]);
	}
	event_base_dispatch(l.base);
	fail_if(l.got != 20, "libevent: answers missing after 30 s");
	event_free(ev);
	event_base_free(l.base);
	expect(l.s, 0, SPN_ECLOSED, "libevent: after 20");
	spn_select_free(l.s);
	printf("libevent: 20 answers in %d callbacks of our own loop\n",
	    l.calls);
}
#endif

static void
case_deadlk(void)
{
	struct spn_msg *m;
	struct spn_error err;
	int rc;

	if ((rc = spn_call(ctxs[0], "inline_select", 10000, &m, &err, "")) !=
	    SPN_OK)
		fail("inline_select", rc, &err);
	rc = (int)spn_arg_int(spn_msg_value(m), 0);
	spn_msg_free(m);
	fail_if(rc != SPN_EDEADLK, "deadlk: not EDEADLK on the loop");
	printf("deadlk: spn_select_get in an SPN_INLINE export: EDEADLK\n");
}

/* A context killed with calls in flight: ELOST for its receivers, the
 * others answer. */
static void
case_lost(void)
{
	struct spn_select *s = sel_new(SPN_SELECT_ONESHOT);
	struct spn_recv *rs[9], *r;
	struct spn_msg *m;
	struct spn_error err;
	int64_t pid;
	int rc, lost = 0, ok = 0;
	uint64_t t0;

	if ((rc = spn_call(ctxs[9], "pid_fn", 10000, &m, &err, "")) != SPN_OK)
		fail("pid", rc, &err);
	pid = spn_arg_int(spn_msg_value(m), 0);
	spn_msg_free(m);
	for (int i = 0; i < 9; i++) {
		/* 0..2 on the context to kill; the others answer late. */
		rs[i] = start(i < 3 ? 9 : i, i, i < 3 ? 20000 : 500);
		sel_add(s, rs[i]);
	}
	usleep(100000);
	t0 = now_ms();
	kill((pid_t)pid, SIGKILL);
	for (int i = 0; i < 9; i++) {
		rc = spn_select_get(s, 30000, &r, &m, &err);
		int idx = -1;

		for (int j = 0; j < 9; j++)
			if (rs[j] == r)
				idx = j;
		fail_if(idx < 0, "lost: no receiver");
		if (idx < 3) {
			fail_if(rc != SPN_ELOST,
			    "lost: the killed context's call not ELOST");
			if (lost++ == 0)
				printf("lost: ELOST %llu ms after the kill: "
				    "%s\n", (unsigned long long)(now_ms() - t0),
				    err.message);
		} else {
			fail_if(rc != SPN_OK, "lost: another context's call "
			    "failed");
			ok++;
		}
		spn_msg_free(m);
		spn_recv_close(r);
	}
	expect(s, 0, SPN_ECLOSED, "lost: after 9");
	spn_select_free(s);
	printf("lost: %d ELOST (the killed context's), %d answered\n", lost,
	    ok);
}

static void
case_shutdown(struct spn *spn)
{
	struct waiter w = { .s = sel_new(0), .rc = -1 };
	struct spn_recv *r = start(0, 1, 20000);
	pthread_t t;

	sel_add(w.s, r);
	pthread_create(&t, NULL, waiter_run, &w);
	waiter_waits(&w);
	spn_shutdown(spn);
	pthread_join(t, NULL);
	fail_if(w.rc != SPN_ESHUTDOWN, "shutdown: the waiter did not get "
	    "ESHUTDOWN");
	fail_if(spn_select_add(w.s, r) != SPN_ESHUTDOWN,
	    "shutdown: select_add after it");
	spn_select_free(w.s);	/* a no-op now */
	printf("shutdown: the waiter got ESHUTDOWN\n");
}

int
main(int argc, char **argv)
{
	struct spn_opts o = { .image = getenv("SELECT_IMAGE") };
	struct spn *spn;
	struct spn_error err;
	int rc, n;

	if ((rc = spn_init(&argc, &argv, &o, &spn)) != SPN_OK)
		return fail("spn_init", rc, NULL);
	if (argc != 2) {
		fprintf(stderr, "usage: select all|shutdown\n");
		return 2;
	}
	n = strcmp(argv[1], "all") == 0 ? NCTX : 1;
	for (int i = 0; i < n; i++)
		if ((rc = spn_connect(spn, "local", NULL, &ctxs[i], &err)) !=
		    SPN_OK)
			fail("connect", rc, &err);
	if (strcmp(argv[1], "shutdown") == 0) {
		case_shutdown(spn);
		return 0;
	}
	case_gather();
	case_order();
	case_nested();
	case_timeout();
	case_closed();
	case_free();
	case_poll();
#ifdef SELECT_LIBEVENT
	case_libevent();
#endif
	case_deadlk();
	case_lost();
	for (int i = 0; i < n; i++)
		spn_ctx_unref(ctxs[i]);
	spn_shutdown(spn);
	return 0;
}
