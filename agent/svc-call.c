/*
 * The CALL service (handle SPN_H_CALL): libspindle's exports, as far as
 * transport goes.  The loop queues each CALL's payload; worker threads,
 * started as calls come, hand it to the ops' run and the answer goes
 * back through the broker, so a function that hangs stops neither
 * routing nor keepalives nor the next call.  Answers wait in a done
 * list that one broker job drains: the loop wakes once for all the
 * answers that came meanwhile, not once each.  What a payload means is
 * lib/'s business: this room knows no MessagePack.  The stock agent has
 * no ops and answers every CALL with a dead letter.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define CALL_PENDING_MAX	1024		/* per calling context */
#define CALL_BYTES_MAX		(32 * 1024 * 1024)	/* queued payloads */
#define CALL_WORKERS		4
#define CALL_STACK		(2 * 1024 * 1024)

struct job {
	struct job		*prev;
	struct job		*next;
	struct agent_call	 ac;
	uint8_t			*data;
	uint32_t		 src;
	uint32_t		 reply_to;
	struct agent_reply	 reply;
};
struct jobs {
	struct job		*head;
	struct job		*tail;
};

static struct {
	struct rt		*rt;
	struct broker		*broker;
	const struct agent_ops	*ops;
	pthread_mutex_t		 lock;
	pthread_cond_t		 work;
	struct jobs		 queue;		/* waiting for a worker */
	struct jobs		 running;
	struct jobs		 done;		/* answered, for the loop */
	int			 draining;	/* a drain job is queued */
	size_t			 queued_bytes;
	int			 threads;
	int			 idle;
	int			 max;
	struct map		*pending;	/* ctx -> calls unanswered */
	int			 stop;		/* svc_call_stop(): no more */
	int			 submitting;	/* workers in broker_submit */
	pthread_cond_t		 quiet;		/* ... fell to 0 */
} sc = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.quiet = PTHREAD_COND_INITIALIZER,
};

/* (musl has no sys/queue.h) */
static void
jobs_append(struct jobs *q, struct job *j)
{
	j->next = NULL;
	j->prev = q->tail;
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static void
jobs_remove(struct jobs *q, struct job *j)
{
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		q->head = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	else
		q->tail = j->prev;
}

int
agent_call_cancelled(const struct agent_call *ac)
{
	return __atomic_load_n(&ac->cancelled, __ATOMIC_RELAXED);
}

static size_t
call_pending(uint32_t ctx)
{
	return (size_t)(uintptr_t)map_get(sc.pending, ctx);
}

static void
call_pending_add(uint32_t ctx, int n)
{
	size_t v = call_pending(ctx) + n;

	if (v == 0)
		map_del(sc.pending, ctx);
	else
		map_put(sc.pending, ctx, (void *)(uintptr_t)v);
}

static void
call_dead(uint32_t src, uint32_t reply_to, uint32_t reason, const char *text)
{
	struct rt_msg m = { .h = { .kind = SPN_K_CALL, .src = src,
	    .dst = rt_id(sc.rt), .handle = SPN_H_CALL,
	    .reply_to = reply_to } };

	rt_dead(sc.rt, &m, reason, "%s", text);
}

static void
job_free(struct job *j)
{
	free(j->data);
	free(j->reply.data);
	free(j->reply.text);
	free(j);
}

/* On the loop: a call's answer, or why there is none. */
static void
call_reply(uint32_t src, uint32_t reply_to, const struct agent_reply *r)
{
	char text[128];

	if (r->dead != 0)
		call_dead(src, reply_to, r->dead, r->text != NULL ? r->text :
		    "");
	else if (r->len > rt_max_frame(sc.rt)) {
		snprintf(text, sizeof text, "its answer of %zu bytes exceeds "
		    "the %u-byte frame limit", r->len, rt_max_frame(sc.rt));
		call_dead(src, reply_to, SPN_D_TOO_LARGE, text);
	} else
		rt_send(sc.rt, SPN_K_REPLY, src, reply_to, 0, r->data, r->len);
}

/* On the loop: the answers the workers finished, all of them. */
static void
call_drain(void *arg)
{
	struct job *j, *next;

	(void)arg;
	pthread_mutex_lock(&sc.lock);
	j = sc.done.head;
	sc.done.head = sc.done.tail = NULL;
	sc.draining = 0;
	pthread_mutex_unlock(&sc.lock);
	for (; j != NULL; j = next) {
		next = j->next;
		call_pending_add(j->src, -1);
		call_reply(j->src, j->reply_to, &j->reply);
		job_free(j);
	}
}

/* What the ops see of a CALL whose payload is at data. */
static void
call_describe(struct agent_call *ac, const struct rt_msg *m,
    const uint8_t *data)
{
	memset(ac, 0, sizeof *ac);
	ac->data = data;
	ac->len = m->h.len;
	ac->caller = m->h.src;
	ac->ancestor = rt_is_ancestor(sc.rt, m->h.src);
	ac->arrived = now_usec();
}

/* An SPN_INLINE export answers on the loop, as the CALL arrives. */
static int
call_inline(const struct rt_msg *m)
{
	struct agent_call ac;
	struct agent_reply r = { 0 };

	if (sc.ops->run_inline == NULL)
		return 0;
	call_describe(&ac, m, m->data);
	if (!sc.ops->run_inline(&ac, &r))
		return 0;
	call_reply(m->h.src, m->h.reply_to, &r);
	free(r.data);
	free(r.text);
	return 1;
}

/*
 * The answer to the loop, unless the service stopped (libspindle's
 * master shut down while a function ran): then nobody waits for it and
 * the broker is gone.  Only the first answer of a batch queues a drain
 * job (and wakes the loop).  -1: the worker ends.
 */
static int
call_answer(struct job *j)
{
	struct broker *b;
	int rv;

	pthread_mutex_lock(&sc.lock);
	jobs_remove(&sc.running, j);
	if ((b = sc.stop ? NULL : sc.broker) == NULL) {
		sc.threads--;
		pthread_mutex_unlock(&sc.lock);
		job_free(j);
		return -1;
	}
	jobs_append(&sc.done, j);
	if (sc.draining) {
		pthread_mutex_unlock(&sc.lock);
		return 0;
	}
	sc.draining = 1;
	sc.submitting++;
	pthread_mutex_unlock(&sc.lock);
	rv = broker_submit(b, call_drain, NULL);
	pthread_mutex_lock(&sc.lock);
	if (--sc.submitting == 0)
		pthread_cond_broadcast(&sc.quiet);
	pthread_mutex_unlock(&sc.lock);
	return rv;
}

static void *
call_worker(void *arg)
{
	struct job *j;

	(void)arg;
	if (sc.ops->worker_start != NULL)
		sc.ops->worker_start();
	for (;;) {
		pthread_mutex_lock(&sc.lock);
		sc.idle++;
		while ((j = sc.queue.head) == NULL && !sc.stop)
			pthread_cond_wait(&sc.work, &sc.lock);
		sc.idle--;
		if (sc.stop) {
			sc.threads--;
			pthread_mutex_unlock(&sc.lock);
			return NULL;
		}
		jobs_remove(&sc.queue, j);
		sc.queued_bytes -= j->ac.len;
		jobs_append(&sc.running, j);
		pthread_mutex_unlock(&sc.lock);

		sc.ops->run(&j->ac, &j->reply);
		if (call_answer(j) != 0)
			return NULL;
	}
}

/* One more worker, if a call waits and none is free; the loop's own
 * signals stay on the loop thread. */
static void
call_spawn(void)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;

	if (sc.idle > 0 || sc.threads >= sc.max)
		return;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, CALL_STACK);
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGABRT);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&t, &attr, call_worker, NULL) == 0)
		sc.threads++;
	else
		log_warn("cannot start a worker thread");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
}

static void
call_queue(const struct rt_msg *m)
{
	struct job *j;

	if (call_inline(m))
		return;
	if (call_pending(m->h.src) >= CALL_PENDING_MAX ||
	    sc.queued_bytes + m->h.len > CALL_BYTES_MAX) {
		rt_dead(sc.rt, m, SPN_D_REFUSED, "busy");
		return;
	}
	j = xcalloc(1, sizeof *j);
	j->data = xmalloc(m->h.len > 0 ? m->h.len : 1);
	memcpy(j->data, m->data, m->h.len);
	j->src = m->h.src;
	j->reply_to = m->h.reply_to;
	call_describe(&j->ac, m, j->data);
	call_pending_add(j->src, 1);
	pthread_mutex_lock(&sc.lock);
	jobs_append(&sc.queue, j);
	sc.queued_bytes += j->ac.len;
	call_spawn();
	pthread_mutex_unlock(&sc.lock);
	/* After the unlock: the worker woken does not wait for the lock
	 * we would still hold. */
	pthread_cond_signal(&sc.work);
}

static struct job *
call_find(struct jobs *q, uint32_t src, uint32_t reply_to)
{
	struct job *j;

	for (j = q->head; j != NULL; j = j->next) {
		if (j->src == src && j->reply_to == reply_to)
			return j;
	}
	return NULL;
}

/* CANCEL, u32 the call's reply_to: its caller gave up.  A queued call
 * never starts; a running one sees the flag (spn_cancelled). */
static void
call_cancel_msg(const struct rt_msg *m)
{
	struct upk u;
	uint32_t reply_to;
	struct job *j;
	int queued = 0;

	upk_init(&u, m->data, m->h.len);
	reply_to = upk_u32(&u);
	if (u.err)
		return;
	pthread_mutex_lock(&sc.lock);
	if ((j = call_find(&sc.queue, m->h.src, reply_to)) != NULL) {
		jobs_remove(&sc.queue, j);
		sc.queued_bytes -= j->ac.len;
		queued = 1;
	} else if ((j = call_find(&sc.running, m->h.src, reply_to)) != NULL)
		__atomic_store_n(&j->ac.cancelled, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&sc.lock);
	if (queued) {
		call_pending_add(j->src, -1);
		job_free(j);
	}
}

/* The caller is gone (its route, or a GONE): nobody wants the answers.
 * Its queued calls never start; its running ones see spn_cancelled(). */
void
svc_call_gone(uint32_t ctx)
{
	struct jobs drop = { NULL, NULL };
	struct job *j, *next;

	pthread_mutex_lock(&sc.lock);
	for (j = sc.queue.head; j != NULL; j = next) {
		next = j->next;
		if (j->src != ctx)
			continue;
		jobs_remove(&sc.queue, j);
		sc.queued_bytes -= j->ac.len;
		jobs_append(&drop, j);
	}
	for (j = sc.running.head; j != NULL; j = j->next) {
		if (j->src == ctx)
			__atomic_store_n(&j->ac.cancelled, 1,
			    __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&sc.lock);
	while ((j = drop.head) != NULL) {
		jobs_remove(&drop, j);
		call_pending_add(ctx, -1);
		job_free(j);
	}
}

static void
svc_call(struct rt *rt, const struct rt_msg *m, void *arg)
{
	(void)arg;
	if (m->h.kind == SPN_K_CANCEL) {
		call_cancel_msg(m);
		return;
	}
	if (m->h.kind != SPN_K_CALL)
		return;
	if (sc.ops == NULL) {
		rt_dead(rt, m, SPN_D_NO_HANDLE, "context %s runs the stock "
		    "spindle agent", rt_name(rt));
		return;
	}
	call_queue(m);
}

/* Any context may call: which export allows whom is the ops' to say. */
void
svc_call_init(struct rt *rt, struct broker *b, const struct agent_ops *ops)
{
	sc.rt = rt;
	sc.broker = b;
	sc.ops = ops != NULL && ops->run != NULL ? ops : NULL;
	sc.max = ops != NULL && ops->workers > 0 ? ops->workers : CALL_WORKERS;
	sc.pending = map_new();
	rt_handle_add(rt, SPN_H_CALL, RT_ALLOW_ANY, 0, svc_call, NULL);
}

/*
 * No more calls (libspindle's spn_shutdown, its loop stopped): idle
 * workers end, a running function's answer is dropped when it returns,
 * and once this returns no worker touches the broker, which may go.
 */
void
svc_call_stop(void)
{
	struct job *j;

	pthread_mutex_lock(&sc.lock);
	sc.stop = 1;
	pthread_cond_broadcast(&sc.work);
	while (sc.submitting > 0)
		pthread_cond_wait(&sc.quiet, &sc.lock);
	while ((j = sc.queue.head) != NULL) {
		jobs_remove(&sc.queue, j);
		job_free(j);
	}
	/* Answers the loop will not drain: it stopped. */
	while ((j = sc.done.head) != NULL) {
		jobs_remove(&sc.done, j);
		job_free(j);
	}
	pthread_mutex_unlock(&sc.lock);
}
