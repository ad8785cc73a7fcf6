/*
 * 8 threads calling, timing out, cancelling, waiting two at a time
 * and closing against 10
 * contexts (local and local+local), for SECS seconds: run by
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
static long		 counts[NTHREADS][4];	/* ok, timeout, cancel, closed */

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
	int rc, what = rand_r(seed) % 6;

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
	long tot[4] = { 0 };
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
		for (int k = 0; k < 4; k++)
			tot[k] += counts[t][k];
	}
	printf("ok %ld timeout %ld cancel %ld closed %ld\n", tot[0], tot[1],
	    tot[2], tot[3]);
	return tot[0] > 0 && tot[1] > 0 && tot[2] > 0 ? 0 : 1;
}
