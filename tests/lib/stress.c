/*
 * 8 threads calling, timing out, cancelling, waiting two at a time,
 * closing and gathering through selects (nested, through their fd, freed
 * under a waiter) against 10 contexts (local and local+local), for SECS
 * seconds: run by
 * tests/integration/lib-stress.sh, built with glibc (under
 * ThreadSanitizer by tools/tsan, under ASan by tools/sanitize) and sending
 * IMAGE, the static build of this same file, to its contexts.  Every
 * outcome must be one the API allows for what the thread did; the
 * sanitizers judge the rest.  Then spn_shutdown() while they still call:
 * each thread stops at its first SPN_ESHUTDOWN.  Prints the counts of
 * each outcome; fails unless answers, timeouts and cancels all happened.
 *
 * usage: stress IMAGE SECS     (IMAGE: tests/lib/stress, spindle-cc's)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* gettid */
#endif
#include <sys/syscall.h>

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

#define NCTX		10
#define NTHREADS	8

static struct spn_ctx	*ctxs[NCTX];
/* ok, timeout, cancel, closed, through a select */
static long		 counts[NTHREADS][5];

static int
napping(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	int64_t ms = spn_arg_int(args, 0);

	/* Cooperative: a cancel ends the nap early. */
	for (int64_t i = 0; i < ms && !spn_cancelled(call); i++)
		usleep(1000);
	return spn_vbuf_put(res, "i", ms);
}
SPN_EXPORT(napping, "i->i");

static void
fail_at(const char *what, int rc, const struct spn_error *err)
{
	fprintf(stderr, "stress: %s: unexpected %s\n", what,
	    spn_strerror(rc));
	if (err != NULL)
		spn_error_print(err);
	exit(1);
}

/* A second waiter on the same receiver: one of the two gets the answer,
 * the other SPN_EINVAL (taken). */
static void *
waiter(void *arg)
{
	struct spn_recv *r = arg;
	struct spn_msg *m = NULL;
	struct spn_error err;
	int rc;

	rc = spn_recv_get(r, 10000, &m, &err);
	spn_msg_free(m);
	return (void *)(intptr_t)rc;
}

static int
two_waiters(int t, struct spn_recv *r)
{
	pthread_t th;
	void *other;
	int rc;

	if (pthread_create(&th, NULL, waiter, r) != 0)
		fail_at("pthread_create", SPN_ESYS, NULL);
	rc = (int)(intptr_t)waiter(r);
	pthread_join(th, &other);
	if (rc == SPN_ESHUTDOWN || (intptr_t)other == SPN_ESHUTDOWN)
		return SPN_ESHUTDOWN;
	if (!(rc == SPN_OK && (intptr_t)other == SPN_EINVAL) &&
	    !(rc == SPN_EINVAL && (intptr_t)other == SPN_OK))
		fail_at("two waiters", rc, NULL);
	counts[t][0]++;
	return SPN_OK;
}

#define SEL_MAX		4

struct sel_round {
	int		 t;
	struct spn_select *s;
	struct spn_select *inner;	/* nested in s, or NULL */
	struct spn_recv	*rs[SEL_MAX];
	int64_t		 naps[SEL_MAX];
	int		 gone[SEL_MAX];		/* closed, taken or cancelled */
	int		 n;
	int		 cancelled;		/* rs[0] */
};

static int
sel_index(struct sel_round *sr, struct spn_recv *r)
{
	for (int i = 0; i < sr->n; i++)
		if (sr->rs[i] == r)
			return i;
	fail_at("select: a receiver not ours", SPN_EINVAL, NULL);
	return -1;
}

/* One spn_select_get and what it may give; 1 once nothing is left. */
static int
sel_take(struct sel_round *sr, int ms, int *rc)
{
	struct spn_recv *r;
	struct spn_msg *m = NULL;
	struct spn_error err;
	int i;

	*rc = spn_select_get(sr->s, ms, &r, &m, &err);
	switch (*rc) {
	case SPN_OK:
		i = sel_index(sr, r);
		if (sr->gone[i] ||
		    spn_arg_int(spn_msg_value(m), 0) != sr->naps[i])
			fail_at("select: a wrong or repeated answer", *rc,
			    NULL);
		sr->gone[i] = 1;
		counts[sr->t][4]++;
		break;
	case SPN_ECANCELLED:
		if (sel_index(sr, r) != 0 || !sr->cancelled || sr->gone[0])
			fail_at("select: a cancel not ours", *rc, &err);
		sr->gone[0] = 1;
		counts[sr->t][2]++;
		break;
	case SPN_ETIMEDOUT:
		counts[sr->t][1]++;
		break;
	case SPN_ECLOSED:
		for (i = 0; i < sr->n; i++)
			if (!sr->gone[i])
				fail_at("select: ECLOSED with a receiver left",
				    *rc, &err);
		if (r != NULL)
			fail_at("select: ECLOSED with a receiver", *rc, &err);
		spn_msg_free(m);
		return 1;
	case SPN_ESHUTDOWN:
		break;
	default:
		fail_at("select_get", *rc, &err);
	}
	spn_msg_free(m);
	return 0;
}

struct sel_waiter {
	struct spn_select *s;
	int		 tid;		/* set before it calls */
	int		 done;		/* ... after */
};

static void *
sel_waiter(void *arg)
{
	struct sel_waiter *w = arg;
	struct spn_recv *r;
	struct spn_msg *m = NULL;
	struct spn_error err;
	int rc;

	__atomic_store_n(&w->tid, (int)gettid(), __ATOMIC_RELEASE);
	rc = spn_select_get(w->s, 10000, &r, &m, &err);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	spn_msg_free(m);
	/* Got one before the free, or freed under us. */
	if (rc != SPN_OK && rc != SPN_ECLOSED && rc != SPN_ESHUTDOWN)
		fail_at("select: waiter while freed", rc, &err);
	return NULL;
}

/* Is the thread asleep on a condition variable?  glibc's timed wait is
 * FUTEX_WAIT_BITSET, a mutex's FUTEX_WAIT. */
static int
in_cond_wait(int tid)
{
	char path[64];
	unsigned long op;
	long nr;
	FILE *f;
	int n;

	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fscanf(f, "%ld %*x %lx", &nr, &op);
	fclose(f);
	return n == 2 && nr == SYS_futex && (op & 0x7f) == 9;
}

/* A select may be freed while a thread waits in it, not while one is
 * about to call: wait until the waiter sleeps, or is done.  2 s at
 * most: then free anyway, and let the sanitizers judge. */
static void
sel_waiter_waits(struct sel_waiter *w)
{
	int tid;

	for (int i = 0; i < 2000 && !__atomic_load_n(&w->done,
	    __ATOMIC_ACQUIRE); i++) {
		if ((tid = __atomic_load_n(&w->tid, __ATOMIC_ACQUIRE)) != 0 &&
		    in_cond_wait(tid))
			return;
		usleep(1000);
	}
}

/* A few calls gathered through a ONESHOT select, sometimes nested,
 * sometimes through its fd; one of them cancelled, or closed in it, or
 * the select freed while another thread waits in it. */
static int
sel_round(int t, unsigned *seed)
{
	struct sel_round sr = { .t = t };
	struct spn_error err;
	struct pollfd p = { -1, POLLIN, 0 };
	struct sel_waiter w = { 0 };
	pthread_t th;
	int rc, what = rand_r(seed) % 4, use_fd = rand_r(seed) % 2, done = 0;
	int polls = 0;

	if ((rc = spn_select_new(SPN_SELECT_ONESHOT, &sr.s)) != SPN_OK)
		return rc;
	if (rand_r(seed) % 2 &&
	    ((rc = spn_select_new(SPN_SELECT_ONESHOT, &sr.inner)) != SPN_OK ||
	    (rc = spn_select_add_select(sr.s, sr.inner)) != SPN_OK))
		goto out;
	for (sr.n = 0; sr.n < 1 + rand_r(seed) % SEL_MAX; sr.n++) {
		sr.naps[sr.n] = rand_r(seed) % 3 == 0 ? 30 : 0;
		if ((rc = spn_call_async(ctxs[rand_r(seed) % NCTX], "napping",
		    &sr.rs[sr.n], &err, "i", sr.naps[sr.n])) != SPN_OK)
			goto out;
		rc = spn_select_add(sr.n % 2 && sr.inner != NULL ? sr.inner :
		    sr.s, sr.rs[sr.n]);
		if (rc != SPN_OK) {
			sr.n++;
			goto out;
		}
	}
	if (what == 0 && (rc = spn_recv_cancel(sr.rs[0])) == SPN_OK)
		sr.cancelled = 1;
	if (what == 1) {	/* closed in the select: gone from it */
		spn_recv_close(sr.rs[0]);
		sr.gone[0] = 2;
		counts[t][3]++;
	}
	if (what == 2) {	/* freed while another thread waits */
		w.s = sr.s;
		if (pthread_create(&th, NULL, sel_waiter, &w) != 0)
			fail_at("pthread_create", SPN_ESYS, NULL);
		sel_waiter_waits(&w);
		spn_select_free(sr.s);
		sr.s = NULL;
		pthread_join(th, NULL);
		rc = SPN_OK;
		goto out;
	}
	if (use_fd)
		p.fd = spn_select_fd(sr.s);
	while (!done) {
		int readable = 0;

		/* In steps: spn_shutdown does not wake a poll. */
		if (p.fd != -1 && (readable = poll(&p, 1, 100)) == 0 &&
		    ++polls > 100)
			fail_at("select: fd not readable in 10 s", SPN_ESYS,
			    NULL);
		done = sel_take(&sr, p.fd != -1 ? 0 : rand_r(seed) % 2 ? 5 :
		    10000, &rc);
		if (rc == SPN_ESHUTDOWN)
			goto out;
		/* Level: readable while a message waits (nobody else takes
		 * from this select). */
		if (readable == 1 && rc == SPN_ETIMEDOUT)
			fail_at("select: fd readable, nothing to get", rc,
			    NULL);
	}
	rc = SPN_OK;
out:
	spn_select_free(sr.s);
	spn_select_free(sr.inner);
	for (int i = 0; i < sr.n; i++)
		if (sr.gone[i] != 2)
			spn_recv_close(sr.rs[i]);
	return rc == SPN_ESHUTDOWN ? rc : SPN_OK;
}

/* One call and what the thread does with it; SPN_ESHUTDOWN once the
 * library is shut down (any function may say so from then on). */
static int
one(int t, unsigned *seed)
{
	struct spn_ctx *ctx = ctxs[rand_r(seed) % NCTX];
	struct spn_recv *r;
	struct spn_msg *m = NULL;
	struct spn_error err;
	int64_t nap = rand_r(seed) % 3 == 0 ? 50 : 0;
	int rc, what = rand_r(seed) % 7;

	if (what == 6)
		return sel_round(t, seed);

	if (what == 5) {	/* blocking, with a timeout */
		rc = spn_call(ctx, "napping", 25, &m, &err, "i", nap);
		if (rc == SPN_OK && spn_arg_int(spn_msg_value(m), 0) != nap)
			fail_at("blocking result", rc, NULL);
		if (rc != SPN_OK && rc != SPN_ETIMEDOUT &&
		    rc != SPN_ESHUTDOWN)
			fail_at("blocking call", rc, &err);
		if (rc != SPN_ESHUTDOWN)
			counts[t][rc == SPN_ETIMEDOUT]++;
		spn_msg_free(m);
		return rc == SPN_ESHUTDOWN ? rc : SPN_OK;
	}
	if ((rc = spn_call_async(ctx, "napping", &r, &err, "i", nap)) ==
	    SPN_ESHUTDOWN)
		return rc;
	if (rc != SPN_OK)
		fail_at("call_async", rc, &err);
	switch (what) {
	case 0:		/* wait */
		rc = spn_recv_get(r, 10000, &m, &err);
		if (rc == SPN_ESHUTDOWN)
			break;
		if (rc != SPN_OK)
			fail_at("get", rc, &err);
		if (spn_arg_int(spn_msg_value(m), 0) != nap)
			fail_at("result", rc, NULL);
		counts[t][0]++;
		break;
	case 1:		/* time out, then wait again */
		rc = spn_recv_get(r, nap > 0 ? 5 : 0, &m, &err);
		if (rc == SPN_ETIMEDOUT) {
			counts[t][1]++;
			rc = spn_recv_get(r, 10000, &m, &err);
		}
		if (rc != SPN_OK && rc != SPN_ESHUTDOWN)
			fail_at("get after timeout", rc, &err);
		break;
	case 2:		/* cancel: answered already, or cancelled */
		if ((rc = spn_recv_cancel(r)) == SPN_OK)
			rc = spn_recv_get(r, 10000, &m, &err);
		if (rc != SPN_ECANCELLED && rc != SPN_OK &&
		    rc != SPN_ESHUTDOWN)
			fail_at("get after cancel", rc, &err);
		if (rc == SPN_ECANCELLED)
			counts[t][2]++;
		break;
	case 3:
		rc = two_waiters(t, r);
		break;
	default:	/* close unanswered */
		counts[t][3]++;
		rc = SPN_OK;
		break;
	}
	spn_msg_free(m);
	spn_recv_close(r);
	return rc == SPN_ESHUTDOWN ? rc : SPN_OK;
}

static void *
worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	unsigned seed = (unsigned)t * 7919 + 1;

	while (one(t, &seed) != SPN_ESHUTDOWN)
		;
	return NULL;
}

int
main(int argc, char **argv)
{
	struct spn_opts o = { 0 };
	struct spn *spn;
	struct spn_error err;
	pthread_t th[NTHREADS];
	long tot[5] = { 0 };
	int rc;

	if (argc == 3)
		o.image = argv[1];
	if ((rc = spn_init(&argc, &argv, &o, &spn)) != SPN_OK)
		return fprintf(stderr, "stress: init: %s\n",
		    spn_strerror(rc)), 1;
	if (argc != 3)
		return fprintf(stderr, "usage: stress IMAGE SECS\n"), 2;
	for (int i = 0; i < NCTX; i++)
		if ((rc = spn_connect(spn, i % 2 ? "local+local" : "local",
		    NULL, &ctxs[i], &err)) != SPN_OK)
			fail_at("connect", rc, &err);
	for (int t = 0; t < NTHREADS; t++)
		if (pthread_create(&th[t], NULL, worker,
		    (void *)(intptr_t)t) != 0)
			fail_at("pthread_create", SPN_ESYS, NULL);
	sleep((unsigned)atoi(argv[2]));
	/* The contexts go with the library: no reference to drop after. */
	spn_shutdown(spn);
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		for (int k = 0; k < 5; k++)
			tot[k] += counts[t][k];
	}
	printf("ok %ld timeout %ld cancel %ld closed %ld select %ld\n",
	    tot[0], tot[1], tot[2], tot[3], tot[4]);
	return tot[0] > 0 && tot[1] > 0 && tot[2] > 0 && tot[4] > 0 ? 0 : 1;
}
