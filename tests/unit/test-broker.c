/*
 * Unit tests for the broker (broker.c): other threads queue functions that
 * the loop thread runs.  Checks that every job runs exactly once and only
 * on the loop thread, that the bounded queue blocks submitters while it is
 * full, that one submitter's jobs keep their order, and that a busy queue
 * does not starve the loop's other events.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <event2/thread.h>

#include "router.h"
#include "loop.h"

#define NTHREADS	4

static struct event_base *base;
static struct broker	*B;
static pthread_t	 loop_thread;

static atomic_int	 submitted;	/* submits that returned 0 */
static atomic_int	 failed;	/* submits that returned -1 */
static atomic_int	 ran;
static atomic_int	 off_loop;	/* jobs run on another thread */
static atomic_int	 over_cap;	/* times the queue held > cap */
static atomic_int	*runs;		/* per job */
static size_t		 cap;
static int		 per_thread;
static int		 spin_us;	/* busy time per job */
static int		 order_bad;

#define run_for(ms)		loop_run_for(base, (ms))
#define RUN_UNTIL(cond, ms)	LOOP_RUN_UNTIL(base, cond, ms)

static void
job(void *arg)
{
	int id = (int)(intptr_t)arg;
	int r;
	uint64_t t;

	if (!pthread_equal(pthread_self(), loop_thread))
		atomic_fetch_add(&off_loop, 1);
	atomic_fetch_add(&runs[id], 1);
	r = atomic_fetch_add(&ran, 1) + 1;
	/* Jobs counted as submitted but not yet run sit in the queue. */
	if (atomic_load(&submitted) - r > (int)cap)
		atomic_fetch_add(&over_cap, 1);
	if (spin_us > 0) {
		t = now_usec() + (uint64_t)spin_us;
		while (now_usec() < t)
			;
	}
}

/* Each thread submits per_thread jobs with ids thread*per_thread + i. */
static void *
submitter(void *arg)
{
	int t = (int)(intptr_t)arg;

	for (int i = 0; i < per_thread; i++) {
		if (broker_submit(B, job, (void *)(intptr_t)(t * per_thread +
		    i)) == 0)
			atomic_fetch_add(&submitted, 1);
		else
			atomic_fetch_add(&failed, 1);
	}
	return NULL;
}

static void
start(size_t qcap, int jobs_per_thread, int spin)
{
	cap = qcap;
	per_thread = jobs_per_thread;
	spin_us = spin;
	atomic_store(&submitted, 0);
	atomic_store(&failed, 0);
	atomic_store(&ran, 0);
	atomic_store(&off_loop, 0);
	atomic_store(&over_cap, 0);
	runs = xcalloc((size_t)NTHREADS * per_thread, sizeof *runs);
	base = event_base_new();
	assert_non_null(base);
	loop_thread = pthread_self();
	B = broker_new(base, cap);
}

static void
finish(void)
{
	broker_free(B);
	event_base_free(base);
	free(runs);
}

static void
test_all_jobs_once(void **state)
{
	pthread_t th[NTHREADS];
	int total = NTHREADS * 5000;

	(void)state;
	start(8, 5000, 0);
	for (int t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, submitter,
		    (void *)(intptr_t)t), 0);
	if (!RUN_UNTIL(atomic_load(&ran) == total, 30000))
		fail_msg("only %d of %d jobs ran", atomic_load(&ran), total);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	run_for(10);
	assert_int_equal(atomic_load(&submitted), total);
	assert_int_equal(atomic_load(&failed), 0);
	assert_int_equal(atomic_load(&ran), total);
	assert_int_equal(atomic_load(&off_loop), 0);
	assert_int_equal(atomic_load(&over_cap), 0);
	for (int i = 0; i < total; i++) {
		if (atomic_load(&runs[i]) != 1)
			fail_msg("job %d ran %d times", i,
			    atomic_load(&runs[i]));
	}
	finish();
}

/* With the loop not running, exactly cap jobs get in; the rest wait. */
static void
test_full_queue_blocks(void **state)
{
	pthread_t th[NTHREADS];
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	int total = NTHREADS * 10;

	(void)state;
	start(4, 10, 0);
	for (int t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, submitter,
		    (void *)(intptr_t)t), 0);
	nanosleep(&ts, NULL);
	assert_int_equal(atomic_load(&submitted), 4);
	assert_int_equal(atomic_load(&ran), 0);
	/* Now let the loop drain it. */
	assert_true(RUN_UNTIL(atomic_load(&ran) == total, 10000));
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	assert_int_equal(atomic_load(&submitted), total);
	assert_int_equal(atomic_load(&off_loop), 0);
	assert_int_equal(atomic_load(&over_cap), 0);
	for (int i = 0; i < total; i++)
		assert_int_equal(atomic_load(&runs[i]), 1);
	finish();
}

static int next_expected;

static void
ordered_job(void *arg)
{
	int id = (int)(intptr_t)arg;

	if (id != next_expected)
		order_bad++;
	next_expected = id + 1;
	atomic_fetch_add(&ran, 1);
}

static void *
ordered_submitter(void *arg)
{
	(void)arg;
	for (int i = 0; i < per_thread; i++)
		broker_submit(B, ordered_job, (void *)(intptr_t)i);
	return NULL;
}

/* One submitter's jobs run in the order it submitted them. */
static void
test_fifo(void **state)
{
	pthread_t th;

	(void)state;
	start(3, 20000, 0);
	next_expected = 0;
	order_bad = 0;
	assert_int_equal(pthread_create(&th, NULL, ordered_submitter, NULL),
	    0);
	assert_true(RUN_UNTIL(atomic_load(&ran) == 20000, 30000));
	pthread_join(th, NULL);
	assert_int_equal(order_bad, 0);
	finish();
}

static int	 ticks;

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ticks++;
}

/*
 * While submitters keep the queue busy, the loop's other events (links,
 * timers) still run: the broker must not hold the loop for as long as
 * jobs keep coming.
 */
static void
test_no_starvation(void **state)
{
	pthread_t th[NTHREADS];
	struct event *ev;
	struct timeval tv = { 0, 5000 };
	int total = NTHREADS * 2000;
	uint64_t t0;
	double secs;

	(void)state;
	start(16, 2000, 50);
	ticks = 0;
	ev = event_new(base, -1, EV_PERSIST, tick, NULL);
	event_add(ev, &tv);
	for (int t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, submitter,
		    (void *)(intptr_t)t), 0);
	t0 = now_usec();
	assert_true(RUN_UNTIL(atomic_load(&ran) == total, 30000));
	secs = (now_usec() - t0) / 1e6;
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	print_message("    %d jobs in %.2f s; a 5 ms timer fired %d times\n",
	    total, secs, ticks);
	/* At least a quarter of the ticks it would have had. */
	if (ticks < (int)(secs / 0.005 / 4))
		fail_msg("timer starved: %d ticks in %.2f s", ticks, secs);
	event_free(ev);
	finish();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_jobs_once),
		cmocka_unit_test(test_full_queue_blocks),
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_no_starvation),
	};

	if (evthread_use_pthreads() != 0) {
		fprintf(stderr, "evthread_use_pthreads failed\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
