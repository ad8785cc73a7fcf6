/*
 * The core of libspindle, one case a run (lib-core.sh):
 *
 *   core call ROUTE          a call and its result; pid differs from ours
 *   core async ROUTE         two calls in flight, answers in any order
 *   core timeout ROUTE       ETIMEDOUT, then the context answers again
 *   core cancel ROUTE        ECANCELLED at once; the function saw it
 *   core shutdown ROUTE      spn_shutdown wakes a waiter with ESHUTDOWN
 *   core soak ROUTE N        N calls: master RSS growth (KiB) on stdout
 *   core rtt ROUTE N         median call round trip (usec) on stdout
 *   core leave ROUTE         returns from main with a call in flight and
 *                            no spn_shutdown; prints the context's pid
 *   core hold ROUTE          prints the context's pid, then sleeps (the
 *                            test kills us)
 *   core exec ROUTE          spn_exec's status and output; a command
 *                            not found: 127, and why on its stderr
 *   core ctxdown ROUTE       spn_ctx_shutdown: the call in flight says
 *                            ELOST, later ones fail at once
 *   core drop ROUTE          a receiver closed and the context let go
 *                            before the answer: the route closes; a new
 *                            one answers
 *   core parentdown ROUTE    spn_shutdown while the context's call to us
 *                            runs here neither hangs nor crashes
 *   core parent ROUTE        the context calls us back: an SPN_ALLOW_ANY
 *                            export answers, another is refused
 *   core notstatic ROUTE     (a dynamic build) calls say ENOTSTATIC, exec
 *                            works
 *   core sideways ROUTE HOSTILE  while a call to ROUTE runs, the context
 *                            of HOSTILE (hostile-ssh's answer-sideways)
 *                            answers it: refused, the call's own answer
 *                            comes, the hostile context is lost
 *   core flood ROUTE HOSTILE while ROUTE's context is stopped (its link
 *                            does not drain), HOSTILE (hostile-ssh's
 *                            flood-sideways) sends it 384 MiB: the master
 *                            holds a bound of it, not all of it
 *   core callflood ROUTE HOSTILE  while ROUTE's workers are busy,
 *                            HOSTILE (hostile-ssh's callflood-sideways)
 *                            sends it 48 MiB of calls: ours still queue
 *                            there and are answered
 *   core pwdump ROUTE        a program that passed a password is not
 *                            dumpable (no core file holds it)
 *   core pwfifo ROUTE FIFO   a second spn_connect whose password file is
 *                            a FIFO nobody writes yet blocks only its own
 *                            thread: calls on the first context answer
 *
 * Exit 0 when the case holds, 1 with the reason on stderr.  CORE_IMAGE
 * in the environment: the static build of this file, for a dynamic
 * build (a sanitizer's) to send to its contexts (spn_opts.image).
 */
#include <sys/prctl.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

#include "testlib.h"

static int
add(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	(void)call;
	return spn_vbuf_put(res, "is", spn_arg_int(args, 0) +
	    spn_arg_int(args, 1), spn_arg_str(args, 2));
}
SPN_EXPORT(add, "i,i,s->i,s");

/* Sleeps up to N ms, in steps, unless cancelled: 1 if it was. */
static int
nap(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	int64_t ms = spn_arg_int(args, 0);
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (int64_t t = 0; t < ms; t += 10) {
		if (spn_cancelled(call))
			return spn_vbuf_put(res, "b", 1);
		nanosleep(&ts, NULL);
	}
	return spn_vbuf_put(res, "b", 0);
}
SPN_EXPORT(nap, "i->b");

/* Called by a child: any context may. */
static int
parent_pid(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	(void)args;
	return spn_vbuf_put(res, "is", (int64_t)getpid(),
	    spn_call_caller(call));
}
SPN_EXPORT_FLAGS(parent_pid, "->i,s", SPN_ALLOW_ANY);

/* Called by a child: sleeps 1 s. */
static int
parent_nap(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	(void)call;
	(void)args;
	(void)res;
	sleep(1);
	return SPN_OK;
}
SPN_EXPORT_FLAGS(parent_nap, "->", SPN_ALLOW_ANY);

static int
ask_parent_nap(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	struct spn_error err;

	(void)args;
	(void)res;
	return spn_call(spn_parent(spn_call_spn(call)), "parent_nap", 10000,
	    NULL, &err, "");
}
SPN_EXPORT(ask_parent_nap, "->");

/* In the context: call the parent twice, once allowed and once not
 * (getpid_fn is for ancestors only); their pid and the second code. */
static int
ask_parent(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	struct spn_ctx *parent = spn_parent(spn_call_spn(call));
	struct spn_error err;
	struct spn_msg *m;
	int64_t pid;
	int rc;

	(void)args;
	if (parent == NULL)
		return spn_fail(call, 0, "no parent");
	if ((rc = spn_call(parent, "parent_pid", 10000, &m, &err, "")) !=
	    SPN_OK)
		return spn_fail(call, 0, "parent_pid: %s: %s",
		    spn_strerror(rc), err.message);
	pid = spn_arg_int(spn_msg_value(m), 0);
	spn_msg_free(m);
	rc = spn_call(parent, "getpid_fn", 10000, &m, &err, "");
	return spn_vbuf_put(res, "ii", pid, (int64_t)rc);
}
SPN_EXPORT(ask_parent, "->i,i");

static long
rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	}
	if (f != NULL)
		fclose(f);
	return kib;
}

static int	case_exec(struct spn_ctx *);

static int
case_parent(struct spn_ctx *ctx)
{
	struct spn_error err;
	struct spn_msg *m;
	int64_t pid, rc2;
	int rc;

	if ((rc = spn_call(ctx, "ask_parent", 20000, &m, &err, "")) != SPN_OK)
		return fail("ask_parent", rc, &err);
	pid = spn_arg_int(spn_msg_value(m), 0);
	rc2 = spn_arg_int(spn_msg_value(m), 1);
	spn_msg_free(m);
	if (pid != getpid() || rc2 != SPN_EREFUSED) {
		fprintf(stderr, "%s: parent's pid %lld (ours %ld), getpid_fn "
		    "from the child gave %lld\n", prog, (long long)pid,
		    (long)getpid(), (long long)rc2);
		return 1;
	}
	printf("parent %lld\n", (long long)pid);
	return 0;
}

static int
case_call(struct spn_ctx *ctx)
{
	struct spn_error err;
	struct spn_msg *m;
	int64_t pid;
	const char *s;
	int rc;

	if ((rc = call_pid(ctx, &pid, &err)) != SPN_OK)
		return fail("getpid_fn", rc, &err);
	if (pid <= 0 || pid == getpid()) {
		fprintf(stderr, "%s: remote pid %lld\n", prog, (long long)pid);
		return 1;
	}
	if ((rc = spn_call(ctx, "add", 10000, &m, &err, "iis", (int64_t)40,
	    (int64_t)2, "forty-two")) != SPN_OK)
		return fail("add", rc, &err);
	s = spn_arg_str(spn_msg_value(m), 1);
	if (spn_arg_int(spn_msg_value(m), 0) != 42 || s == NULL ||
	    strcmp(s, "forty-two") != 0) {
		fprintf(stderr, "%s: add gave %lld %s\n", prog,
		    (long long)spn_arg_int(spn_msg_value(m), 0), s);
		return 1;
	}
	spn_msg_free(m);
	printf("pid %lld\n", (long long)pid);
	return 0;
}

static int
case_async(struct spn_ctx *ctx)
{
	struct spn_recv *slow, *fast;
	struct spn_error err;
	struct spn_msg *m;
	int rc;

	if ((rc = spn_call_async(ctx, "nap", &slow, &err, "i",
	    (int64_t)1000)) != SPN_OK)
		return fail("async nap", rc, &err);
	if ((rc = spn_call_async(ctx, "add", &fast, &err, "iis", (int64_t)1,
	    (int64_t)2, "x")) != SPN_OK)
		return fail("async add", rc, &err);
	/* The quick one answers while the slow one still runs. */
	if ((rc = spn_recv_get(fast, 900, &m, &err)) != SPN_OK)
		return fail("get add", rc, &err);
	if (spn_arg_int(spn_msg_value(m), 0) != 3)
		return fail("add's result", SPN_EPROTO, NULL);
	spn_msg_free(m);
	if ((rc = spn_recv_get(slow, 0, &m, &err)) != SPN_ETIMEDOUT)
		return fail("poll nap (want ETIMEDOUT)", rc, &err);
	if ((rc = spn_recv_get(slow, 10000, &m, &err)) != SPN_OK)
		return fail("get nap", rc, &err);
	spn_msg_free(m);
	spn_recv_close(slow);
	spn_recv_close(fast);
	return 0;
}

static int
case_timeout(struct spn_ctx *ctx)
{
	struct spn_error err;
	struct spn_recv *r;
	struct spn_msg *m;
	uint64_t t0 = now_us(), dt;
	int64_t pid;
	int rc;

	rc = spn_call(ctx, "nap", 200, &m, &err, "i", (int64_t)10000);
	dt = now_us() - t0;
	if (rc != SPN_ETIMEDOUT)
		return fail("nap 10 s with 200 ms (want ETIMEDOUT)", rc, &err);
	if (dt < 190000 || dt > 5000000) {
		fprintf(stderr, "%s: timed out after %llu us\n", prog,
		    (unsigned long long)dt);
		return 1;
	}
	/* Still there, and answering. */
	if ((rc = call_pid(ctx, &pid, &err)) != SPN_OK)
		return fail("getpid_fn after the timeout", rc, &err);
	/* A receiver that timed out may be waited on again. */
	if ((rc = spn_call_async(ctx, "nap", &r, &err, "i",
	    (int64_t)500)) != SPN_OK)
		return fail("async nap", rc, &err);
	if ((rc = spn_recv_get(r, 50, &m, &err)) != SPN_ETIMEDOUT)
		return fail("first wait (want ETIMEDOUT)", rc, &err);
	if ((rc = spn_recv_get(r, 10000, &m, &err)) != SPN_OK)
		return fail("second wait", rc, &err);
	spn_msg_free(m);
	spn_recv_close(r);
	printf("timeout after %llu ms\n", (unsigned long long)dt / 1000);
	return 0;
}

struct waiter {
	struct spn_recv	*r;
	int		 rc;
	uint64_t	 t;
};

static void *
waiter_run(void *arg)
{
	struct waiter *w = arg;
	struct spn_error err;
	struct spn_msg *m;

	w->rc = spn_recv_get(w->r, 30000, &m, &err);
	w->t = now_us();
	return NULL;
}

/* A nap of ms in flight, and a thread waiting for it a while already. */
static int
nap_waiting(struct spn_ctx *ctx, int64_t ms, struct waiter *w, pthread_t *t)
{
	struct spn_error err;
	int rc;

	w->rc = -1;
	if ((rc = spn_call_async(ctx, "nap", &w->r, &err, "i", ms)) != SPN_OK)
		return fail("async nap", rc, &err);
	pthread_create(t, NULL, waiter_run, w);
	usleep(300000);
	return 0;
}

static int
case_cancel(struct spn_ctx *ctx)
{
	struct spn_error err;
	struct waiter w;
	struct spn_msg *m;
	pthread_t t;
	uint64_t t0;
	int rc;

	if (nap_waiting(ctx, 20000, &w, &t) != 0)
		return 1;
	t0 = now_us();
	spn_recv_cancel(w.r);
	pthread_join(t, NULL);
	if (w.rc != SPN_ECANCELLED)
		return fail("waiter (want ECANCELLED)", w.rc, NULL);
	if (w.t - t0 > 1000000)
		return fail("cancel took over 1 s", w.rc, NULL);
	if ((rc = spn_recv_get(w.r, 0, &m, &err)) != SPN_ECANCELLED)
		return fail("get after cancel", rc, &err);
	spn_recv_close(w.r);
	/* The function saw it and returned: the one worker this takes is
	 * free again, and the context answers. */
	if ((rc = spn_call(ctx, "nap", 10000, &m, &err, "i",
	    (int64_t)1)) != SPN_OK)
		return fail("nap after cancel", rc, &err);
	spn_msg_free(m);
	printf("cancelled in %llu us\n", (unsigned long long)(w.t - t0));
	return 0;
}

static int
case_shutdown(struct spn *spn, struct spn_ctx *ctx)
{
	struct spn_error err;
	struct waiter w;
	struct spn_msg *m;
	pthread_t t;
	uint64_t t0, dt;
	int rc;

	if (nap_waiting(ctx, 60000, &w, &t) != 0)
		return 1;
	t0 = now_us();
	spn_shutdown(spn);
	dt = now_us() - t0;
	pthread_join(t, NULL);
	if (w.rc != SPN_ESHUTDOWN)
		return fail("waiter (want ESHUTDOWN)", w.rc, NULL);
	if (dt > 6000000)
		return fail("spn_shutdown took over 6 s", SPN_OK, NULL);
	/* Later calls: at once. */
	t0 = now_us();
	rc = spn_call(ctx, "getpid_fn", 10000, &m, &err, "");
	if (rc != SPN_ESHUTDOWN || now_us() - t0 > 100000)
		return fail("call after shutdown (want ESHUTDOWN)", rc, &err);
	if ((rc = spn_connect(spn, "local", NULL, &ctx, &err)) !=
	    SPN_ESHUTDOWN)
		return fail("connect after shutdown", rc, &err);
	printf("shutdown in %llu ms\n", (unsigned long long)dt / 1000);
	return 0;
}

static int
case_soak(struct spn_ctx *ctx, long n)
{
	struct spn_error err;
	int64_t pid;
	long base = 0;
	int rc;

	for (long i = 0; i < n; i++) {
		/* Warm up first: allocator caches, the first worker. */
		if (i == n / 10)
			base = rss_kib();
		if ((rc = call_pid(ctx, &pid, &err)) != SPN_OK)
			return fail("getpid_fn", rc, &err);
	}
	printf("%ld\n", rss_kib() - base);
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
case_rtt(struct spn_ctx *ctx, long n)
{
	struct spn_error err;
	uint64_t *t = calloc(n, sizeof *t), t0;
	int64_t pid;
	int rc;

	for (long i = 0; i < n + 100; i++) {
		t0 = now_us();
		if ((rc = call_pid(ctx, &pid, &err)) != SPN_OK)
			return fail("getpid_fn", rc, &err);
		if (i >= 100)
			t[i - 100] = now_us() - t0;
	}
	qsort(t, n, sizeof *t, cmp_u64);
	printf("%llu\n", (unsigned long long)t[n / 2]);
	free(t);
	return 0;
}


static int
case_ctxdown(struct spn_ctx *ctx)
{
	struct spn_error err;
	struct spn_recv *r;
	struct spn_msg *m;
	uint64_t t0;
	int64_t pid;
	int rc;

	if ((rc = spn_call_async(ctx, "nap", &r, &err, "i",
	    (int64_t)60000)) != SPN_OK)
		return fail("async nap", rc, &err);
	if ((rc = call_pid(ctx, &pid, &err)) != SPN_OK)
		return fail("getpid_fn", rc, &err);
	t0 = now_us();
	if ((rc = spn_ctx_shutdown(ctx, 0)) != SPN_OK)
		return fail("spn_ctx_shutdown", rc, NULL);
	if ((rc = spn_recv_get(r, 10000, &m, &err)) != SPN_ELOST)
		return fail("nap in flight (want ELOST)", rc, &err);
	if (now_us() - t0 > 5000000)
		return fail("ELOST took over 5 s", rc, &err);
	spn_recv_close(r);
	rc = call_pid(ctx, &pid, &err);
	if (rc != SPN_ENOROUTE && rc != SPN_ELOST)
		return fail("call after spn_ctx_shutdown", rc, &err);
	printf("down: %s\n", err.message);
	return 0;
}

static int
case_drop(struct spn *spn, struct spn_ctx *ctx, const char *route)
{
	struct spn_error err;
	struct spn_recv *r;
	int64_t pid, pid2;
	int rc;

	if ((rc = call_pid(ctx, &pid, &err)) != SPN_OK)
		return fail("getpid_fn", rc, &err);
	if ((rc = spn_call_async(ctx, "nap", &r, &err, "i",
	    (int64_t)200)) != SPN_OK)
		return fail("async nap", rc, &err);
	spn_recv_close(r);
	spn_ctx_unref(ctx);
	for (int i = 0; kill(pid, 0) == 0; i++) {
		if (i == 100) {
			fprintf(stderr, "%s: context %lld outlived its last "
			    "reference by 5 s\n", prog, (long long)pid);
			return 1;
		}
		usleep(50000);
	}
	if ((rc = spn_connect(spn, route, NULL, &ctx, &err)) != SPN_OK)
		return fail(route, rc, &err);
	if ((rc = call_pid(ctx, &pid2, &err)) != SPN_OK)
		return fail("getpid_fn in the new context", rc, &err);
	spn_ctx_unref(ctx);
	printf("%lld\n", (long long)pid);
	return pid2 != pid ? 0 : 1;
}

/* The context's pid on stdout, at once (the test waits for it). */
static int
show_pid(struct spn_ctx *ctx)
{
	struct spn_error err;
	int64_t pid;
	int rc;

	if ((rc = call_pid(ctx, &pid, &err)) != SPN_OK)
		return fail("getpid_fn", rc, &err);
	printf("%lld\n", (long long)pid);
	fflush(stdout);
	return 0;
}

static int
case_parentdown(struct spn *spn, struct spn_ctx *ctx)
{
	struct spn_error err;
	struct spn_recv *r;
	int rc;

	if ((rc = spn_call_async(ctx, "ask_parent_nap", &r, &err, "")) !=
	    SPN_OK)
		return fail("ask_parent_nap", rc, &err);
	usleep(400000);
	spn_shutdown(spn);
	/* parent_nap returns meanwhile, to a service that stopped. */
	sleep(2);
	printf("survived\n");
	return 0;
}

static int
case_hold(struct spn_ctx *ctx)
{
	if (show_pid(ctx) != 0)
		return 1;
	sleep(60);
	return 1;
}

static int
case_leave(struct spn_ctx *ctx)
{
	struct spn_error err;
	struct spn_recv *r;
	int rc;

	if (show_pid(ctx) != 0)
		return 1;
	/* A call in flight, and out of main without spn_shutdown. */
	if ((rc = spn_call_async(ctx, "nap", &r, &err, "i",
	    (int64_t)60000)) != SPN_OK)
		return fail("async nap", rc, &err);
	return 0;
}

static int
case_notstatic(struct spn_ctx *ctx)
{
	struct spn_error err;
	int64_t pid;
	int rc;

	if ((rc = call_pid(ctx, &pid, &err)) != SPN_ENOTSTATIC)
		return fail("call (want ENOTSTATIC)", rc, &err);
	spn_error_print(&err);
	return case_exec(ctx);
}

static int
case_exec(struct spn_ctx *ctx)
{
	const char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 7",
	    NULL };
	struct spn_error err;
	int rc, status = -1;

	const char *nf[] = { "spindle-no-such-command", NULL };
	int nfstatus = -1;

	if ((rc = spn_exec(ctx, argv, -1, 1, 2, &status, &err)) != SPN_OK)
		return fail("exec", rc, &err);
	printf("status %d\n", status);
	/* Not found: 127, and the reason on the stderr we gave. */
	if ((rc = spn_exec(ctx, nf, -1, 1, 2, &nfstatus, &err)) != SPN_OK)
		return fail("exec (not found)", rc, &err);
	printf("status %d\n", nfstatus);
	return status == 7 && nfstatus == 127 ? 0 : 1;
}

static int
case_sideways(struct spn_ctx *good, const char *hostile)
{
	struct spn_ctx *bad;
	struct spn_recv *rb, *rg;
	struct spn_error err, berr;
	struct spn_msg *m;
	int rc, brc;

	if ((rc = spn_connect(NULL, hostile, NULL, &bad, &err)) != SPN_OK)
		return fail(hostile, rc, &err);
	if ((rc = spn_call_async(bad, "getpid_fn", &rb, &err, "")) != SPN_OK ||
	    (rc = spn_call_async(good, "nap", &rg, &err, "i",
	    (int64_t)2000)) != SPN_OK)
		return fail("call_async", rc, &err);
	if ((rc = spn_recv_get(rg, 20000, &m, &err)) != SPN_OK)
		return fail("nap on the good context", rc, &err);
	/* Its own answer: [false], not the forged [99999]. */
	if (spn_value_len(spn_msg_value(m)) != 1 ||
	    spn_value_type(spn_value_at(spn_msg_value(m), 0)) != SPN_T_BOOL) {
		fprintf(stderr, "%s: the good call took a forged answer\n",
		    prog);
		return 1;
	}
	spn_msg_free(m);
	brc = spn_recv_get(rb, 20000, NULL, &berr);
	if (brc != SPN_ELOST || strstr(berr.message, "protocol violation") ==
	    NULL)
		return fail("the hostile context (want ELOST, a violation)",
		    brc, &berr);
	spn_recv_close(rg);
	spn_recv_close(rb);
	spn_ctx_unref(bad);
	printf("refused\n");
	return 0;
}

static int
case_flood(struct spn_ctx *good, const char *hostile)
{
	struct spn_ctx *bad;
	struct spn_error err;
	int64_t pid;
	long rss0, rss, last;
	int rc, still = 0;

	if ((rc = call_pid(good, &pid, &err)) != SPN_OK)
		return fail("getpid_fn", rc, &err);
	rss0 = rss_kib();
	kill((pid_t)pid, SIGSTOP);
	if ((rc = spn_connect(NULL, hostile, NULL, &bad, &err)) != SPN_OK) {
		kill((pid_t)pid, SIGCONT);
		return fail(hostile, rc, &err);
	}
	/* Until it stops growing for 2 s (the flood is over), 30 s at most. */
	last = rss = rss_kib();
	for (int i = 0; i < 300 && still < 20; i++) {
		usleep(100000);
		rss = rss_kib();
		still = rss == last ? still + 1 : 0;
		last = rss;
	}
	kill((pid_t)pid, SIGCONT);
	spn_ctx_unref(bad);
	printf("  master RSS %ld KiB before the flood, %ld KiB after\n", rss0,
	    rss);
	if (rss - rss0 > 256 * 1024) {
		fprintf(stderr, "%s: the master held %ld KiB of a sibling's "
		    "flood\n", prog, rss - rss0);
		return 1;
	}
	printf("bounded\n");
	return 0;
}

static int
case_callflood(struct spn_ctx *good, const char *hostile)
{
	struct spn_recv *naps[8], *rp;
	struct spn_ctx *bad;
	struct spn_error err;
	int rc;

	/* Its workers busy for 6 s, and some of our calls queued. */
	for (int i = 0; i < 8; i++) {
		if ((rc = spn_call_async(good, "nap", &naps[i], &err, "i",
		    (int64_t)6000)) != SPN_OK)
			return fail("nap", rc, &err);
	}
	if ((rc = spn_connect(NULL, hostile, NULL, &bad, &err)) != SPN_OK)
		return fail(hostile, rc, &err);
	sleep(3);
	if ((rc = spn_call_async(good, "getpid_fn", &rp, &err, "")) !=
	    SPN_OK || (rc = spn_recv_get(rp, 30000, NULL, &err)) != SPN_OK)
		return fail("our call after a sibling's flood", rc, &err);
	spn_recv_close(rp);
	for (int i = 0; i < 8; i++) {
		if ((rc = spn_recv_get(naps[i], 30000, NULL, &err)) != SPN_OK)
			return fail("nap", rc, &err);
		spn_recv_close(naps[i]);
	}
	spn_ctx_unref(bad);
	printf("answered\n");
	return 0;
}

static int
case_pwdump(const char *route)
{
	struct spn_connect_opts o = { .password = "not-used" };
	struct spn_error err;
	struct spn_ctx *ctx;
	int rc;

	if (prctl(PR_GET_DUMPABLE) != 1) {
		fprintf(stderr, "%s: not dumpable before (test broken?)\n",
		    prog);
		return 1;
	}
	if ((rc = spn_connect(NULL, route, &o, &ctx, &err)) != SPN_OK)
		return fail("connect with a password", rc, &err);
	spn_ctx_unref(ctx);
	if (prctl(PR_GET_DUMPABLE) != 0) {
		fprintf(stderr, "%s: dumpable after a password\n", prog);
		return 1;
	}
	printf("not dumpable\n");
	return 0;
}

struct pwfifo {
	const char	*route;
	const char	*fifo;
	int		 rc;
	struct spn_error err;
};

static void *
pwfifo_connect(void *arg)
{
	struct pwfifo *p = arg;
	struct spn_connect_opts o = { .password_file = p->fifo };
	struct spn_ctx *ctx;

	if ((p->rc = spn_connect(NULL, p->route, &o, &ctx, &p->err)) ==
	    SPN_OK)
		spn_ctx_unref(ctx);
	return NULL;
}

static int
case_pwfifo(struct spn_ctx *ctx, const char *route, const char *fifo)
{
	struct pwfifo p = { .route = route, .fifo = fifo };
	struct spn_error err;
	pthread_t t;
	int64_t pid;
	FILE *f;
	int rc;

	if (pthread_create(&t, NULL, pwfifo_connect, &p) != 0)
		return fail("pthread_create", SPN_ESYS, NULL);
	usleep(500000);		/* it waits for the FIFO's writer */
	rc = call_pid(ctx, &pid, &err);
	if ((f = fopen(fifo, "w")) != NULL) {
		fputs("not-used\n", f);
		fclose(f);
	}
	pthread_join(t, NULL);
	if (rc != SPN_OK)
		return fail("a call while the other connect waits", rc, &err);
	if (p.rc != SPN_OK)
		return fail("connect with the FIFO", p.rc, &p.err);
	printf("pid %lld\n", (long long)pid);
	return 0;
}

int
main(int argc, char **argv)
{
	struct spn_opts o = { .image = getenv("CORE_IMAGE") };
	struct spn *spn;
	struct spn_ctx *ctx;
	struct spn_error err;
	const char *what;
	long n;
	int rc;

	if ((rc = spn_init(&argc, &argv, &o, &spn)) != SPN_OK)
		return fail("spn_init", rc, NULL);
	prog = argv[0];
	if (argc < 3) {
		fprintf(stderr, "usage: %s CASE ROUTE [N]\n", prog);
		return 2;
	}
	if ((rc = spn_init(&argc, &argv, NULL, &spn)) != SPN_EBUSY)
		return fail("second spn_init (want EBUSY)", rc, NULL);
	what = argv[1];
	n = argc > 3 ? atol(argv[3]) : 1000;
	if ((rc = spn_connect(spn, argv[2], NULL, &ctx, &err)) != SPN_OK)
		return fail(argv[2], rc, &err);
	if (strcmp(what, "call") == 0)
		rc = case_call(ctx);
	else if (strcmp(what, "async") == 0)
		rc = case_async(ctx);
	else if (strcmp(what, "timeout") == 0)
		rc = case_timeout(ctx);
	else if (strcmp(what, "cancel") == 0)
		rc = case_cancel(ctx);
	else if (strcmp(what, "shutdown") == 0)
		return case_shutdown(spn, ctx);
	else if (strcmp(what, "soak") == 0)
		rc = case_soak(ctx, n);
	else if (strcmp(what, "rtt") == 0)
		rc = case_rtt(ctx, n);
	else if (strcmp(what, "leave") == 0)
		return case_leave(ctx);
	else if (strcmp(what, "hold") == 0)
		return case_hold(ctx);
	else if (strcmp(what, "exec") == 0)
		rc = case_exec(ctx);
	else if (strcmp(what, "ctxdown") == 0)
		rc = case_ctxdown(ctx);
	else if (strcmp(what, "drop") == 0) {
		rc = case_drop(spn, ctx, argv[2]);
		spn_shutdown(spn);
		return rc;
	} else if (strcmp(what, "parentdown") == 0)
		return case_parentdown(spn, ctx);
	else if (strcmp(what, "parent") == 0)
		rc = case_parent(ctx);
	else if (strcmp(what, "notstatic") == 0)
		rc = case_notstatic(ctx);
	else if (strcmp(what, "sideways") == 0 && argc > 3)
		rc = case_sideways(ctx, argv[3]);
	else if (strcmp(what, "callflood") == 0 && argc > 3)
		rc = case_callflood(ctx, argv[3]);
	else if (strcmp(what, "flood") == 0 && argc > 3)
		rc = case_flood(ctx, argv[3]);
	else if (strcmp(what, "pwdump") == 0)
		rc = case_pwdump(argv[2]);
	else if (strcmp(what, "pwfifo") == 0 && argc > 3)
		rc = case_pwfifo(ctx, argv[2], argv[3]);
	else {
		fprintf(stderr, "%s: unknown case %s\n", prog, what);
		return 2;
	}
	spn_ctx_unref(ctx);
	spn_shutdown(spn);
	return rc;
}
