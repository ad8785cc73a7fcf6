/*
 * Receivers: the messages one context sends to a handle of ours, queued
 * until a thread of the program takes them.  A call's receiver (call.c)
 * gets at most one, its answer; a channel's (channel.c) many, bounded by
 * the credit the channel grants, and here by a hard bound of its own in
 * case a peer sends past its credit.  What a message means is the kind's
 * (struct recv_ops): recv.c queues bytes, wakes waiters and hands each
 * message out once, in order.
 *
 * The loop thread pushes (recv_push); the taker decodes on its own thread
 * without api_lock.  A receiver's references: the program's (until
 * spn_recv_close), whatever its kind holds (the loop's, while a handle
 * may deliver), one per job queued for it and one per thread waiting in
 * spn_recv_get.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

struct recv_msg {
	struct recv_msg	*next;
	uint64_t	 seq;		/* arrival, across receivers */
	size_t		 len;
	uint8_t		 kind;		/* SPN_K_*, or RECV_K_CANCELLED */
	uint8_t		 data[];
};

/* What spn_recv_cancel queues: not a wire kind. */
#define RECV_K_CANCELLED 0

struct spn_recv {
	struct api_node	 node;		/* api_spn.recvs */
	const struct recv_ops *ops;
	struct spn_ctx	*ctx;
	pthread_cond_t	 cond;
	unsigned	 refs;
	int		 closed;	/* spn_recv_close: nothing is given */
	int		 ended;		/* the last message is queued */
	int		 spent;		/* ... and was handed out */
	int		 end_rv;	/* what a get gives then (0: ops') */
	struct recv_msg	*head;
	struct recv_msg	**tail;
	size_t		 n;		/* messages queued */
	size_t		 bytes;		/* ... their payload bytes */
	size_t		 max_n;
	size_t		 max_bytes;
	struct sel_member sel;		/* its place in a select */
	void		*kind_state;	/* recv_state(): after the struct */
};

/* Under api_lock: the order of arrival that selects give messages in. */
static uint64_t	 recv_seq;

#define RECV_ALIGN	16

struct spn_recv *
recv_new(struct spn_ctx *ctx, const struct recv_ops *ops, size_t state,
    size_t max_n, size_t max_bytes)
{
	struct spn_recv *r;
	size_t head = (sizeof *r + RECV_ALIGN - 1) & ~(size_t)(RECV_ALIGN - 1);

	r = xcalloc(1, head + state);
	if (state != 0)
		r->kind_state = (uint8_t *)r + head;
	api_cond_init(&r->cond);
	r->ops = ops;
	r->ctx = spn_ctx_ref(ctx);
	r->refs = 1;
	r->tail = &r->head;
	r->max_n = max_n;
	r->max_bytes = max_bytes;
	r->sel.recv = r;
	pthread_mutex_lock(&api_lock);
	api_list_add(&api_spn.recvs, &r->node);
	pthread_mutex_unlock(&api_lock);
	return r;
}

void *
recv_state(struct spn_recv *r)
{
	return r->kind_state;
}

/* Which kind it is (a channel's spn_recv_sender asks). */
const struct recv_ops *
recv_kind(const struct spn_recv *r)
{
	return r->ops;
}

struct spn_ctx *
spn_recv_ctx(const struct spn_recv *r)
{
	return r != NULL ? r->ctx : NULL;
}

static void
recv_msgs_free(struct recv_msg *m)
{
	struct recv_msg *next;

	for (; m != NULL; m = next) {
		next = m->next;
		mem_put(m);
	}
}

static void
recv_destroy(struct spn_recv *r)
{
	if (r->ops->destroy != NULL)
		r->ops->destroy(r);
	recv_msgs_free(r->head);
	pthread_cond_destroy(&r->cond);
	free(r);
}

void
recv_ref(struct spn_recv *r)
{
	pthread_mutex_lock(&api_lock);
	r->refs++;
	pthread_mutex_unlock(&api_lock);
}

void
recv_ref_locked(struct spn_recv *r)
{
	r->refs++;
}

/* Under api_lock, which it releases. */
static void
recv_release_unlock(struct spn_recv *r)
{
	struct spn_ctx *ctx = r->ctx;
	int last = --r->refs == 0;

	if (last)
		api_list_del(&r->node);
	pthread_mutex_unlock(&api_lock);
	if (last) {
		recv_destroy(r);
		spn_ctx_unref(ctx);
	}
}

void
recv_unref(struct spn_recv *r)
{
	pthread_mutex_lock(&api_lock);
	recv_release_unlock(r);
}

int
recv_open(struct spn_recv *r)
{
	int open;

	pthread_mutex_lock(&api_lock);
	open = !r->closed && !r->ended;
	pthread_mutex_unlock(&api_lock);
	return open;
}

/* Under api_lock. */
static void
recv_queue(struct spn_recv *r, struct recv_msg *m, int last)
{
	m->seq = ++recv_seq;
	*r->tail = m;
	r->tail = &m->next;
	r->n++;
	r->bytes += m->len;
	if (last)
		r->ended = 1;
	pthread_cond_broadcast(&r->cond);
	if (r->head == m)
		sel_changed(&r->sel);
}

struct sel_member *
recv_member(struct spn_recv *r)
{
	return &r->sel;
}

int
recv_ready(const struct spn_recv *r)
{
	return r->head != NULL && !r->closed;
}

uint64_t
recv_head_seq(const struct spn_recv *r)
{
	return r->head->seq;
}

int
recv_spent(const struct spn_recv *r)
{
	return r->spent;
}

int
recv_push(struct spn_recv *r, uint8_t kind, const void *data, size_t len,
    int last)
{
	struct recv_msg *m;

	/* Cached when big: a channel queues and frees many. */
	if ((m = mem_get(sizeof *m + len)) == NULL)
		return -1;
	m->next = NULL;
	m->kind = kind;
	m->len = len;
	if (len != 0)
		memcpy(m->data, data, len);
	pthread_mutex_lock(&api_lock);
	if (r->closed || r->ended || r->n >= r->max_n ||
	    len > r->max_bytes - r->bytes) {
		pthread_mutex_unlock(&api_lock);
		mem_put(m);
		return -1;
	}
	recv_queue(r, m, last);
	pthread_mutex_unlock(&api_lock);
	return 0;
}

/* The message, decoded on the taker's thread: a DEAD letter here, the
 * kind's own by its hook. */
static int
recv_decode(struct spn_recv *r, struct recv_msg *m, struct spn_msg **msg,
    struct spn_error *err)
{
	struct spn_error e0;
	struct upk u;
	uint32_t reason;
	char *text;
	int rv;

	if (err == NULL)
		err = &e0;
	if (m->kind == RECV_K_CANCELLED) {
		error_set(err, SPN_ECANCELLED, r->ctx->name, "%s",
		    spn_strerror(SPN_ECANCELLED));
		return SPN_ECANCELLED;
	}
	if (m->kind == SPN_K_DEAD) {
		upk_init(&u, m->data, m->len);
		reason = upk_u32(&u);
		text = upk_str(&u);
		rv = error_from_dead(err, reason, text != NULL ?
		    str_clean(text) : NULL, r->ctx->name);
		free(text);
		return rv;
	}
	rv = r->ops->decode(r, m->kind, m->data, m->len, msg, err);
	if (rv != SPN_OK && *err->context == '\0')
		snprintf(err->context, sizeof err->context, "%s",
		    r->ctx->name);
	return rv;
}

/* Under api_lock: the first message, taken off the queue. */
static struct recv_msg *
recv_take(struct spn_recv *r)
{
	struct recv_msg *m = r->head;

	if ((r->head = m->next) == NULL)
		r->tail = &r->head;
	m->next = NULL;
	r->n--;
	r->bytes -= m->len;
	if (r->head == NULL && r->ended)
		r->spent = 1;
	sel_changed(&r->sel);
	return m;
}

/* Under api_lock, with a reference: what a get gives now that nothing
 * waits in the queue (rv says why the wait ended). */
static int
recv_status(struct spn_recv *r, int timeout_ms, struct spn_error *err)
{
	int rv;

	if (r->closed)
		rv = SPN_ECLOSED;
	else if (r->spent)
		rv = r->end_rv != 0 ? r->end_rv : r->ops->spent_rv;
	else if (api_spn.state != API_UP)
		rv = SPN_ESHUTDOWN;
	else
		rv = SPN_ETIMEDOUT;
	if (rv == SPN_ETIMEDOUT)
		error_set(err, rv, r->ctx->name, "no %s within %d ms",
		    r->ops->noun, timeout_ms);
	else if (r->spent && r->end_rv == 0)
		error_set(err, rv, r->ctx->name, "%s", r->ops->spent_text);
	else
		error_set(err, rv, r->ctx->name, "%s", spn_strerror(rv));
	return rv;
}

/* A message handed out: decode it (api_lock released meanwhile), tell
 * the kind, remember how the receiver ended.  Under api_lock. */
static int
recv_give(struct spn_recv *r, struct recv_msg *m, struct spn_msg **msg,
    struct spn_error *err)
{
	int rv, spent = r->spent;

	pthread_mutex_unlock(&api_lock);
	rv = recv_decode(r, m, msg, err);
	if (r->ops->taken != NULL && m->kind != RECV_K_CANCELLED)
		r->ops->taken(r, m->kind, m->len);
	mem_put(m);
	pthread_mutex_lock(&api_lock);
	if (spent && r->end_rv == 0 && r->ops->spent_rv == 0)
		r->end_rv = rv;
	return rv;
}

int
recv_give_head(struct spn_recv *r, struct spn_msg **msg,
    struct spn_error *err)
{
	return recv_give(r, recv_take(r), msg, err);
}

int
spn_recv_get(struct spn_recv *r, int timeout_ms, struct spn_msg **msg,
    struct spn_error *err)
{
	uint64_t deadline;
	int rv;

	if (msg != NULL)
		*msg = NULL;
	if ((rv = api_enter_wait(r != NULL, "spn_recv_get()", err)) !=
	    SPN_OK)
		return rv;
	deadline = api_deadline(timeout_ms);
	pthread_mutex_lock(&api_lock);
	r->refs++;
	while (r->head == NULL && !r->spent && !r->closed &&
	    api_spn.state == API_UP) {
		if (timeout_ms == 0 ||
		    api_wait(&r->cond, deadline) == ETIMEDOUT)
			break;
	}
	if (r->head != NULL && !r->closed)
		rv = recv_give(r, recv_take(r), msg, err);
	else
		rv = recv_status(r, timeout_ms, err);
	recv_release_unlock(r);
	api_leave();
	return rv;
}

int
spn_recv_cancel(struct spn_recv *r)
{
	struct recv_msg *m;
	int rv;

	if (r == NULL)
		return SPN_EINVAL;
	if ((rv = api_enter(NULL)) != SPN_OK)
		return rv;
	if ((m = mem_get(sizeof *m)) == NULL)
		fatal("out of memory");
	memset(m, 0, sizeof *m);
	m->kind = RECV_K_CANCELLED;
	pthread_mutex_lock(&api_lock);
	if (r->ended || r->closed) {
		pthread_mutex_unlock(&api_lock);
		mem_put(m);
		api_leave();
		return SPN_OK;		/* answered already */
	}
	/* Past any bound: it replaces what will not come. */
	recv_queue(r, m, 1);
	r->end_rv = SPN_ECANCELLED;
	r->refs++;
	pthread_mutex_unlock(&api_lock);
	if (r->ops->cancel != NULL)
		r->ops->cancel(r);
	else if (r->ops->closed != NULL)
		r->ops->closed(r, 0);
	recv_unref(r);
	api_leave();
	return SPN_OK;
}

void
spn_recv_close(struct spn_recv *r)
{
	struct recv_msg *q;
	int ended;

	if (r == NULL || api_enter(NULL) != SPN_OK)
		return;
	pthread_mutex_lock(&api_lock);
	if (r->closed) {
		pthread_mutex_unlock(&api_lock);
		api_leave();
		return;
	}
	r->closed = 1;
	ended = r->ended;
	sel_leave(&r->sel);
	/* What waits goes now, not with the last reference (a channel's
	 * loop side may hold one a while). */
	q = r->head;
	r->head = NULL;
	r->tail = &r->head;
	r->n = r->bytes = 0;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&api_lock);
	recv_msgs_free(q);
	if (r->ops->closed != NULL)
		r->ops->closed(r, ended);
	recv_unref(r);		/* the program's */
	api_leave();
}

/* The loop has stopped: what is left goes, whoever held it. */
void
recv_free_all(struct spn *spn)
{
	struct api_node *n;

	while ((n = spn->recvs.next) != &spn->recvs) {
		api_list_del(n);
		recv_destroy((struct spn_recv *)n);
	}
}
