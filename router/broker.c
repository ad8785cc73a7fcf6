/*
 * Cross-thread submission into a router loop.  Other threads never touch
 * router state: they queue a function, and the loop thread runs it.  The
 * queue is bounded; submitters block while it is full.  The host must call
 * evthread_use_pthreads() before creating the event base.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

struct job {
	broker_fn	*fn;
	void		*arg;
};

struct broker {
	pthread_mutex_t	 lock;
	pthread_cond_t	 space;
	struct job	*ring;
	size_t		 cap;
	size_t		 head;
	size_t		 count;
	int		 closed;
	int		 woken;		/* a wake-up is pending */
	struct event	*wake;
	struct event	*later;		/* wake-up on the next loop pass */
};

static void
broker_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;
	struct timeval now = { 0, 0 };
	struct job job;
	size_t n;

	(void)fd;
	(void)what;
	/*
	 * Run the jobs queued now, no more: busy submitters must not hold
	 * the loop.  What arrives meanwhile waits for the next pass, after
	 * the loop's other events (links, timers) had their turn.
	 */
	pthread_mutex_lock(&b->lock);
	n = b->count;
	pthread_mutex_unlock(&b->lock);
	while (n-- > 0) {
		pthread_mutex_lock(&b->lock);
		job = b->ring[b->head];
		b->head = (b->head + 1) % b->cap;
		b->count--;
		pthread_cond_signal(&b->space);
		pthread_mutex_unlock(&b->lock);
		job.fn(job.arg);
	}
	pthread_mutex_lock(&b->lock);
	if (b->count != 0)
		event_add(b->later, &now);
	else
		b->woken = 0;
	pthread_mutex_unlock(&b->lock);
}

struct broker *
broker_new(struct event_base *base, size_t cap)
{
	struct broker *b = xcalloc(1, sizeof *b);

	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->space, NULL);
	b->cap = cap == 0 ? 1 : cap;
	b->ring = xcalloc(b->cap, sizeof *b->ring);
	b->wake = event_new(base, -1, EV_PERSIST, broker_wake_cb, b);
	b->later = event_new(base, -1, 0, broker_wake_cb, b);
	return b;
}

/* Called from any thread except the loop's own.  -1 once closed. */
int
broker_submit(struct broker *b, broker_fn *fn, void *arg)
{
	int wake;

	pthread_mutex_lock(&b->lock);
	while (b->count == b->cap && !b->closed)
		pthread_cond_wait(&b->space, &b->lock);
	if (b->closed) {
		pthread_mutex_unlock(&b->lock);
		return -1;
	}
	b->ring[(b->head + b->count) % b->cap] = (struct job){ fn, arg };
	b->count++;
	wake = !b->woken;
	b->woken = 1;
	pthread_mutex_unlock(&b->lock);
	if (wake)
		event_active(b->wake, EV_TIMEOUT, 0);
	return 0;
}

void
broker_free(struct broker *b)
{
	pthread_mutex_lock(&b->lock);
	b->closed = 1;
	pthread_cond_broadcast(&b->space);
	pthread_mutex_unlock(&b->lock);
	event_free(b->wake);
	event_free(b->later);
	free(b->ring);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->space);
	free(b);
}

struct broker_log {
	int		 level;
	uint32_t	 about;
	char		 text[];
};

static void
broker_log_job(void *arg)
{
	struct broker_log *l = arg;

	log_deliver(l->level, l->about, l->text);
	free(l);
}

/*
 * Another thread's record, to the sink on the loop thread (which sends
 * frames).  The logging thread waits while the queue is full, as it would
 * on a full pipe.
 */
int
broker_log_post(int level, uint32_t about, const char *text, void *arg)
{
	struct broker *b = arg;
	size_t n = strlen(text) + 1;
	struct broker_log *l = xmalloc(sizeof *l + n);

	l->level = level;
	l->about = about;
	memcpy(l->text, text, n);
	if (broker_submit(b, broker_log_job, l) != 0) {
		free(l);
		return -1;
	}
	return 0;
}
