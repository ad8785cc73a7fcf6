/*
 * Unit tests for the process-wide state the library shares between
 * threads: libevent's allocator cache (mem.c) and logging (log.c).
 * Threads fill and free big buffers at once and each finds its own bytes
 * (a free list without a lock hands one block to two threads); threads
 * log while another changes the level, and the output hook is never
 * entered twice at once; records logged off the loop thread reach the
 * sink through the broker, on the loop thread only; kept secrets taken
 * and given back by threads at once each stay their own.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/thread.h>

#include "router.h"
#include "loop.h"

#define NTHREADS	4
#define MEM_ROUNDS	5000
#define LOG_RECORDS	2000

static atomic_int	 mem_bad;
static pthread_barrier_t go;		/* all threads start at once */

/* Big blocks (the cached size classes) with this thread's bytes in. */
static void *
mem_worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	struct evbuffer_iovec v;
	struct evbuffer *b;
	unsigned char got[4096];
	size_t size;

	pthread_barrier_wait(&go);
	for (int i = 0; i < MEM_ROUNDS; i++) {
		size = (size_t)32768 << ((i + t) % 4);
		b = evbuffer_new();
		if (evbuffer_reserve_space(b, size, &v, 1) != 1) {
			atomic_fetch_add(&mem_bad, 1);
			evbuffer_free(b);
			continue;
		}
		memset(v.iov_base, 'a' + t, sizeof got);
		v.iov_len = sizeof got;
		evbuffer_commit_space(b, &v, 1);
		/* Another thread busy with the same block would show here. */
		sched_yield();
		evbuffer_remove(b, got, sizeof got);
		for (size_t k = 0; k < sizeof got; k++) {
			if (got[k] != 'a' + t) {
				atomic_fetch_add(&mem_bad, 1);
				break;
			}
		}
		evbuffer_free(b);
	}
	return NULL;
}

static void
test_mem(void **state)
{
	pthread_t th[NTHREADS];

	(void)state;
	pthread_barrier_init(&go, NULL, NTHREADS);
	for (int t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, mem_worker,
		    (void *)(intptr_t)t), 0);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&go);
	assert_int_equal(atomic_load(&mem_bad), 0);
}

static atomic_int	 secret_bad;

static void *
secret_worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	char want[64], *kept[8];

	pthread_barrier_wait(&go);
	for (int i = 0; i < MEM_ROUNDS; i++) {
		for (int j = 0; j < 8; j++) {
			snprintf(want, sizeof want, "thread %d round %d #%d", t,
			    i, j);
			kept[j] = secret_keep(want);
		}
		sched_yield();
		for (int j = 0; j < 8; j++) {
			snprintf(want, sizeof want, "thread %d round %d #%d", t,
			    i, j);
			if (strcmp(kept[j], want) != 0)
				atomic_fetch_add(&secret_bad, 1);
			secret_drop(kept[j]);
		}
	}
	return NULL;
}

static void
test_secret(void **state)
{
	pthread_t th[NTHREADS];

	(void)state;
	pthread_barrier_init(&go, NULL, NTHREADS);
	for (int t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, secret_worker,
		    (void *)(intptr_t)t), 0);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&go);
	assert_int_equal(atomic_load(&secret_bad), 0);
}

static atomic_int	 out_inside;	/* output hook calls in progress */
static atomic_int	 out_overlap;
static atomic_int	 out_records;
static atomic_int	 log_done;

static void
count_output(int level, uint32_t about, const char *ctx, const char *text,
    void *arg)
{
	(void)level;
	(void)about;
	(void)ctx;
	(void)text;
	(void)arg;
	if (atomic_fetch_add(&out_inside, 1) != 0)
		atomic_fetch_add(&out_overlap, 1);
	sched_yield();
	atomic_fetch_add(&out_records, 1);
	atomic_fetch_sub(&out_inside, 1);
}

static void *
log_worker(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&go);
	for (int i = 0; i < LOG_RECORDS; i++)
		log_warn("record %d", i);
	return NULL;
}

/* The level changes under the loggers' feet; warnings always pass. */
static void *
level_worker(void *arg)
{
	(void)arg;
	while (!atomic_load(&log_done)) {
		log_set_level(SPN_LOG_DEBUG);
		log_set_level(SPN_LOG_WARN);
	}
	return NULL;
}

static void
test_log_output(void **state)
{
	pthread_t th[NTHREADS], lv;

	(void)state;
	log_set_output(count_output, NULL);
	log_set_level(SPN_LOG_WARN);
	atomic_store(&log_done, 0);
	pthread_barrier_init(&go, NULL, NTHREADS);
	assert_int_equal(pthread_create(&lv, NULL, level_worker, NULL), 0);
	for (int t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, log_worker,
		    NULL), 0);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&go);
	atomic_store(&log_done, 1);
	pthread_join(lv, NULL);
	log_set_output(NULL, NULL);
	assert_int_equal(atomic_load(&out_overlap), 0);
	assert_int_equal(atomic_load(&out_records), NTHREADS * LOG_RECORDS);
}

static pthread_t	 loop_thread;
static atomic_int	 sink_records;
static atomic_int	 sink_off_loop;

static void
count_sink(int level, const char *ctx, const char *text, void *arg)
{
	(void)level;
	(void)ctx;
	(void)text;
	(void)arg;
	if (!pthread_equal(pthread_self(), loop_thread))
		atomic_fetch_add(&sink_off_loop, 1);
	atomic_fetch_add(&sink_records, 1);
}

static void
test_log_sink(void **state)
{
	struct event_base *base;
	struct broker *b;
	pthread_t th[NTHREADS];
	int total = NTHREADS * LOG_RECORDS + 1;

	(void)state;
	base = event_base_new();
	b = broker_new(base, 64);
	loop_thread = pthread_self();
	log_set_level(SPN_LOG_WARN);
	log_set_sink(count_sink, NULL);
	log_set_post(broker_log_post, b);
	pthread_barrier_init(&go, NULL, NTHREADS);
	for (int t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, log_worker,
		    NULL), 0);
	log_warn("from the loop thread");
	assert_true(LOOP_RUN_UNTIL(base, atomic_load(&sink_records) == total,
	    30000));
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&go);
	log_set_post(NULL, NULL);
	log_set_sink(NULL, NULL);
	broker_free(b);
	event_base_free(base);
	assert_int_equal(atomic_load(&sink_off_loop), 0);
	assert_int_equal(atomic_load(&sink_records), total);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_log_output),
		cmocka_unit_test(test_log_sink),
	};

	mem_init();
	evthread_use_pthreads();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
