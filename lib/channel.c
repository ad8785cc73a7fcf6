/*
 * Channels: a receiver here, senders anywhere its peer context runs.
 * Each spn_send is one MessagePack value (an array, one element per
 * letter) in one DATA frame to the receiver's handle, which takes frames
 * from the peer only; reply_to is the sender's credit handle, where the
 * receiver returns CREDIT as the program takes messages, and where it
 * says DEAD(REFUSED) once closed.  A sender never has more than the
 * window in flight, so no hop and no queue holds more than a window per
 * sender, whatever the speeds of the two ends (docs/protocol.md,
 * "Channels").
 *
 * A sender's references: the program's (until spn_sender_close), the
 * loop's (while its credit handle is registered), one per job queued for
 * it and one per thread waiting in spn_send.  Its credit and state are
 * under api_lock; its credit handle is the loop's.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

/* What a message costs in credit besides its bytes: so that tiny
 * messages cannot queue in numbers the window does not bound. */
#define CHAN_MSG_COST		64

struct spn_sender {
	struct sender_ref where;	/* first: what 'S' encodes */
	struct api_node	 node;		/* chan_senders */
	int		 own;		/* a receiver's own: for passing */
	unsigned	 refs;
	pthread_cond_t	 cond;
	int64_t		 credit;
	int		 closed;	/* spn_sender_close */
	int		 dead;		/* the status sends now get, or 0 */
	uint32_t	 credit_handle;	/* loop thread only */
	int		 eof;		/* loop: EOF sent, nothing after */
	struct spn_vbuf	*spare;		/* under api_lock: to encode into */
};

/* Every sender the program holds, for spn_shutdown. */
static struct api_node	 chan_senders = { &chan_senders, &chan_senders };

struct chan_send_job {
	struct spn_sender *s;
	struct evbuffer	*payload;	/* NULL: EOF */
};

static struct spn_sender *
sender_new(uint32_t ctx, uint32_t handle, uint32_t window, int own)
{
	struct spn_sender *s = xcalloc(1, sizeof *s);

	s->where.ctx = ctx;
	s->where.handle = handle;
	s->where.window = window;
	s->credit = window;
	s->own = own;
	s->refs = 1;
	api_cond_init(&s->cond);
	pthread_mutex_lock(&api_lock);
	api_list_add(&chan_senders, &s->node);
	pthread_mutex_unlock(&api_lock);
	return s;
}

static void
sender_free(struct spn_sender *s)
{
	vbuf_free(s->spare);
	pthread_cond_destroy(&s->cond);
	free(s);
}

/* Under api_lock, which it releases. */
static void
sender_release_unlock(struct spn_sender *s)
{
	int last = --s->refs == 0;

	if (last)
		api_list_del(&s->node);
	pthread_mutex_unlock(&api_lock);
	if (last)
		sender_free(s);
}

/* A DEAD letter's reason, as what a sender's calls return from now on. */
static int
sender_dead_code(uint32_t reason)
{
	switch (reason) {
	case SPN_D_REFUSED:	/* the receiver was closed */
	case SPN_D_NO_HANDLE:	/* ... and its handle is gone */
		return SPN_ECLOSED;
	case SPN_D_TOO_LARGE:
		return SPN_ETOOLARGE;
	}
	return SPN_ELOST;	/* LOST, NO_ROUTE: its context is gone */
}

/* On the loop: the receiver's CREDIT, or the DEAD that ends the stream. */
static void
sender_msg(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct spn_sender *s = arg;
	struct upk u;
	uint32_t n;

	(void)rt;
	upk_init(&u, m->data, m->h.len);
	n = upk_u32(&u);
	if (u.err || (m->h.kind != SPN_K_CREDIT && m->h.kind != SPN_K_DEAD))
		return;
	pthread_mutex_lock(&api_lock);
	if (m->h.kind == SPN_K_CREDIT) {
		s->credit += n;
		if (s->credit > s->where.window)
			s->credit = s->where.window;	/* a confused peer */
	} else if (s->dead == 0)
		s->dead = sender_dead_code(n);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&api_lock);
}

/* On the loop: one DATA (or the EOF) to the receiver. */
static void
sender_send_job(void *arg)
{
	struct chan_send_job *j = arg;
	struct spn_sender *s = j->s;
	struct rt *rt = api_spn.rt;

	if (j->payload != NULL && !s->eof) {
		if (s->credit_handle == 0) {
			s->credit_handle = rt_handle_add(rt, 0, RT_ALLOW_PEER,
			    s->where.ctx, sender_msg, s);
			pthread_mutex_lock(&api_lock);
			s->refs++;	/* the loop's */
			pthread_mutex_unlock(&api_lock);
		}
		rt_send_evbuf(rt, SPN_K_DATA, s->where.ctx, s->where.handle,
		    s->credit_handle, j->payload);
	} else if (j->payload == NULL && !s->eof) {
		/* The end: nothing more goes, and nothing more is heard. */
		rt_send(rt, SPN_K_EOF, s->where.ctx, s->where.handle,
		    s->credit_handle, NULL, 0);
		s->eof = 1;
		if (s->credit_handle != 0) {
			rt_handle_del(rt, s->credit_handle);
			pthread_mutex_lock(&api_lock);
			s->refs--;	/* the loop's; the job's is left */
			pthread_mutex_unlock(&api_lock);
		}
	}
	if (j->payload != NULL)
		evbuffer_free(j->payload);
	free(j);
	pthread_mutex_lock(&api_lock);
	sender_release_unlock(s);	/* the job's */
}

/* Queue a job for the sender (a reference for it); -1 once shut down. */
static int
sender_submit(struct spn_sender *s, struct evbuffer *payload)
{
	struct chan_send_job *j = xmalloc(sizeof *j);

	j->s = s;
	j->payload = payload;
	pthread_mutex_lock(&api_lock);
	s->refs++;
	pthread_mutex_unlock(&api_lock);
	if (api_submit(sender_send_job, j) == 0)
		return 0;
	pthread_mutex_lock(&api_lock);
	s->refs--;
	pthread_mutex_unlock(&api_lock);
	free(j);
	return -1;
}

/* How many values a signature's letters make: a group, or 'a' and its
 * letter, is one. */
static size_t
sender_nvalues(const char *sig)
{
	size_t n = 0;
	int depth = 0;

	for (; *sig != '\0'; sig++) {
		if (*sig == ',' || *sig == ' ')
			continue;
		if (*sig == 'a' && sig[1] != '\0') {
			n += depth == 0;
			sig++;
		} else if (*sig == '[' || *sig == '{') {
			if (depth++ == 0)
				n++;
		} else if (*sig == ']' || *sig == '}')
			depth--;
		else if (depth == 0)
			n++;
	}
	return n;
}

/*
 * The message, [values...], one per letter, into vb (the sender's spare
 * buffer: a big message allocates and frees nothing the next time, and
 * blocks above musl's mmap threshold would be mapped and unmapped each
 * time, with a TLB shootdown across the threads).
 */
static int
sender_encode(struct spn_vbuf *vb, const char *sig, va_list *ap)
{
	char why[128];
	size_t n, len;
	int rv;

	if ((rv = spn_vbuf_array(vb, sender_nvalues(sig))) != SPN_OK ||
	    (rv = vbuf_putv(vb, sig, ap, why, sizeof why)) != SPN_OK)
		return rv;
	if (vbuf_values(vb, &n, NULL) != 0 || n != 1)
		return SPN_EINVAL;	/* unbalanced brackets */
	vbuf_data(vb, &len);
	return len > api_spn.max_frame ? SPN_ETOOLARGE : SPN_OK;
}

/*
 * Under api_lock, with a reference: wait until the message fits the
 * credit (one larger than the window goes alone, when nothing is in
 * flight), then take it.
 */
static int
sender_take_credit(struct spn_sender *s, int64_t cost, int timeout_ms)
{
	uint64_t deadline = api_deadline(timeout_ms);

	while (!s->closed && s->dead == 0 && api_spn.state == API_UP &&
	    s->credit < cost && s->credit < s->where.window) {
		if (timeout_ms == 0 ||
		    api_wait(&s->cond, deadline) == ETIMEDOUT)
			break;
	}
	if (s->closed)
		return SPN_ECLOSED;
	if (s->dead != 0)
		return s->dead;
	if (api_spn.state != API_UP)
		return SPN_ESHUTDOWN;
	if (s->credit < cost && s->credit < s->where.window)
		return SPN_ETIMEDOUT;
	s->credit -= cost;
	return SPN_OK;
}

int
spn_send(struct spn_sender *s, int timeout_ms, const char *sig, ...)
{
	struct spn_vbuf *vb;
	struct evbuffer *payload = NULL;
	const uint8_t *data;
	va_list ap;
	size_t len;
	int rv;

	if (s == NULL || s->own)
		return SPN_EINVAL;
	if ((rv = api_enter(NULL)) != SPN_OK)
		return rv;
	if (api_on_loop()) {
		api_leave();
		return SPN_EDEADLK;
	}
	pthread_mutex_lock(&api_lock);
	s->refs++;
	vb = s->spare;
	s->spare = NULL;
	pthread_mutex_unlock(&api_lock);
	if (vb == NULL)
		vb = vbuf_new();
	else
		vbuf_reset(vb);
	va_start(ap, sig);
	rv = sender_encode(vb, sig != NULL ? sig : "", &ap);
	va_end(ap);
	data = vbuf_data(vb, &len);
	pthread_mutex_lock(&api_lock);
	if (rv == SPN_OK)
		rv = sender_take_credit(s, (int64_t)len + CHAN_MSG_COST,
		    timeout_ms);
	pthread_mutex_unlock(&api_lock);
	if (rv == SPN_OK) {
		/* Into libevent's buffers, which move to the link uncopied. */
		payload = evbuffer_new();
		evbuffer_add(payload, data, len);
		if (sender_submit(s, payload) != 0) {
			evbuffer_free(payload);
			rv = SPN_ESHUTDOWN;
		}
	}
	pthread_mutex_lock(&api_lock);
	if (s->spare == NULL) {
		s->spare = vb;
		vb = NULL;
	}
	sender_release_unlock(s);
	vbuf_free(vb);
	api_leave();
	return rv;
}

int
spn_sender_close(struct spn_sender *s)
{
	int rv;

	if (s == NULL || s->own)
		return SPN_EINVAL;
	rv = api_enter(NULL);
	pthread_mutex_lock(&api_lock);
	s->closed = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&api_lock);
	if (rv == SPN_OK && sender_submit(s, NULL) != 0)
		rv = SPN_ESHUTDOWN;
	pthread_mutex_lock(&api_lock);
	sender_release_unlock(s);	/* the program's */
	if (rv == SPN_OK)
		api_leave();
	return rv;
}

struct spn_sender *
spn_value_sender(const struct spn_value *v)
{
	uint32_t ctx, handle, window;

	if (value_sender(v, &ctx, &handle, &window) != SPN_OK ||
	    api_enter(NULL) != SPN_OK)
		return NULL;
	api_leave();
	return sender_new(ctx, handle, window, 0);
}

struct spn_sender *
spn_arg_sender(const struct spn_value *args, size_t i)
{
	return spn_value_sender(spn_value_at(args, i));
}

/* The loop has stopped: its references go; the program's stay until
 * spn_sender_close. */
void
chan_free_all(struct spn *spn)
{
	struct api_node *n, *next;
	struct spn_sender *s;

	(void)spn;
	pthread_mutex_lock(&api_lock);
	for (n = chan_senders.next; n != &chan_senders; n = next) {
		next = n->next;
		s = (struct spn_sender *)((char *)n -
		    offsetof(struct spn_sender, node));
		if (s->credit_handle != 0 && !s->eof) {
			s->eof = 1;
			s->refs--;
		}
		if (s->refs == 0) {
			api_list_del(n);
			sender_free(s);
		}
	}
	pthread_mutex_unlock(&api_lock);
}

/*
 * The receiver's side.  Its handle takes DATA, EOF and DEAD from the peer
 * only; each DATA is queued (recv.c) with its sender noted, so that the
 * credit goes back to whoever sent it when the program takes it.  A
 * sender is known by its credit handle; a receiver hears from at most
 * CHAN_SENDERS_MAX of them (each a copy of the sender value, each with a
 * window of its own).
 */
#define CHAN_SENDERS_MAX	16
/* What recv.c queues that is not a wire kind: a sender overran. */
#define CHAN_K_OVERRUN		255

struct chan_src {
	uint32_t	 credit_handle;
	int64_t		 queued;	/* cost not yet taken */
	int64_t		 owed;		/* taken, not yet granted */
};

struct chan_fifo {
	uint32_t	 cost;
	uint32_t	 src;
};

struct chan {
	struct spn_recv	*r;
	uint32_t	 peer;
	uint32_t	 window;
	uint32_t	 max_frame;
	struct spn_sender *own;		/* spn_recv_sender's */
	pthread_cond_t	 cond;		/* the loop registered the handle */
	int		 up;
	int		 gone;		/* ended or closed: no more credit */
	uint32_t	 handle;	/* loop thread only; 0 once gone */
	/* Under api_lock: the senders heard from, and whose each queued
	 * message is, in order. */
	struct chan_src	 src[CHAN_SENDERS_MAX];
	uint32_t	 nsrc;
	struct chan_fifo *fifo;
	size_t		 fcap;
	size_t		 fhead;
	size_t		 fn;
};

struct chan_credit_job {
	uint32_t	 ctx;
	uint32_t	 handle;
	uint32_t	 n;
};

static void
chan_refuse(uint32_t ctx, uint32_t credit_handle, const char *why)
{
	struct pk pk;

	pk_init(&pk);
	pk_u32(&pk, SPN_D_REFUSED);
	pk_str(&pk, why);
	rt_send_pk(api_spn.rt, SPN_K_DEAD, ctx, credit_handle, 0, &pk);
	pk_free(&pk);
}

/* On the loop: the channel ends; every sender heard from is told (one
 * blocked for credit returns SPN_ECLOSED), and the handle goes with the
 * loop's reference. */
static void
chan_gone(struct chan *c, const char *why)
{
	uint32_t handles[CHAN_SENDERS_MAX], n;

	if (c->handle == 0)
		return;
	rt_handle_del(api_spn.rt, c->handle);
	c->handle = 0;
	pthread_mutex_lock(&api_lock);
	c->gone = 1;
	n = c->nsrc;
	for (uint32_t i = 0; i < n; i++)
		handles[i] = c->src[i].credit_handle;
	pthread_mutex_unlock(&api_lock);
	for (uint32_t i = 0; i < n; i++)
		chan_refuse(c->peer, handles[i], why);
	recv_unref(c->r);		/* the loop's */
}

/* Under api_lock: the sender of that credit handle, or -1 when a new one
 * is one too many. */
static int
chan_src_find(struct chan *c, uint32_t credit_handle)
{
	uint32_t i;

	for (i = 0; i < c->nsrc; i++) {
		if (c->src[i].credit_handle == credit_handle)
			return i;
	}
	if (c->nsrc == CHAN_SENDERS_MAX)
		return -1;
	memset(&c->src[i], 0, sizeof c->src[i]);
	c->src[i].credit_handle = credit_handle;
	c->nsrc++;
	return i;
}

/* Under api_lock. */
static void
chan_fifo_push(struct chan *c, uint32_t src, uint32_t cost)
{
	struct chan_fifo *f;
	size_t cap, i;

	if (c->fn == c->fcap) {
		cap = c->fcap != 0 ? 2 * c->fcap : 64;
		f = xcalloc(cap, sizeof *f);
		for (i = 0; i < c->fn; i++)
			f[i] = c->fifo[(c->fhead + i) % c->fcap];
		free(c->fifo);
		c->fifo = f;
		c->fcap = cap;
		c->fhead = 0;
	}
	c->fifo[(c->fhead + c->fn++) % c->fcap] = (struct chan_fifo){ cost,
	    src };
}

/* On the loop: one DATA.  1 when it was queued. */
static int
chan_data(struct chan *c, const struct rt_msg *m)
{
	uint32_t cost = m->h.len + CHAN_MSG_COST;
	struct chan_src *s;
	int i, over;

	pthread_mutex_lock(&api_lock);
	if ((i = chan_src_find(c, m->h.reply_to)) < 0) {
		pthread_mutex_unlock(&api_lock);
		chan_refuse(c->peer, m->h.reply_to, "too many senders");
		return 0;
	}
	s = &c->src[i];
	over = s->queued + cost > (int64_t)c->window + c->max_frame +
	    CHAN_MSG_COST;
	if (!over) {
		s->queued += cost;
		chan_fifo_push(c, i, cost);
	}
	pthread_mutex_unlock(&api_lock);
	if (over) {
		log_warn("a channel's sender in context %u overran its window",
		    m->h.src);
		recv_push(c->r, CHAN_K_OVERRUN, NULL, 0, 1);
		chan_gone(c, "window overrun");
		return 0;
	}
	if (recv_push(c->r, SPN_K_DATA, m->data, m->h.len, 0) == 0)
		return 1;
	/* Closed or ended meanwhile: it was never queued. */
	pthread_mutex_lock(&api_lock);
	c->fn--;
	s->queued -= cost;
	pthread_mutex_unlock(&api_lock);
	return 0;
}

static void
chan_msg(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct spn_recv *r = arg;
	struct chan *c = recv_state(r);

	(void)rt;
	if (c->handle == 0)
		return;
	switch (m->h.kind) {
	case SPN_K_DATA:
		if (m->h.reply_to != 0)
			chan_data(c, m);
		break;
	case SPN_K_EOF:
		recv_push(r, SPN_K_EOF, NULL, 0, 1);
		chan_gone(c, "the channel was closed by a sender");
		break;
	case SPN_K_DEAD:
		/* Its context is lost (rt_route_del, or GONE). */
		recv_push(r, SPN_K_DEAD, m->data, m->h.len, 1);
		chan_gone(c, "the receiver's peer is gone");
		break;
	}
}

static int
chan_decode(struct spn_recv *r, uint8_t kind, const uint8_t *data,
    size_t len, struct spn_msg **msg, struct spn_error *err)
{
	struct chan *c = recv_state(r);
	char why[256];

	switch (kind) {
	case SPN_K_DATA:
		if (msg == NULL)
			return SPN_OK;
		if (value_decode(data, len, msg, why, sizeof why) != 0) {
			error_set(err, SPN_EPROTO, NULL, "malformed message: "
			    "%s", why);
			return SPN_EPROTO;
		}
		if (spn_value_type(spn_msg_value(*msg)) != SPN_T_ARRAY) {
			spn_msg_free(*msg);
			*msg = NULL;
			error_set(err, SPN_EPROTO, NULL, "malformed message: "
			    "not an array");
			return SPN_EPROTO;
		}
		return SPN_OK;
	case SPN_K_EOF:
		error_set(err, SPN_ECLOSED, NULL, "the sender closed the "
		    "channel");
		return SPN_ECLOSED;
	}
	error_set(err, SPN_EPROTO, NULL, "context %u sent past its window",
	    c->peer);
	return SPN_EPROTO;
}

static void
chan_credit_job(void *arg)
{
	struct chan_credit_job *j = arg;
	uint8_t b[4];

	be32_put(b, j->n);
	rt_send(api_spn.rt, SPN_K_CREDIT, j->ctx, j->handle, 0, b, sizeof b);
	free(j);
}

/* The taker's thread: a message went to the program; its credit goes
 * back to its sender by a quarter window, or when the queue is empty. */
static void
chan_taken(struct spn_recv *r, uint8_t kind, size_t len)
{
	struct chan *c = recv_state(r);
	struct chan_credit_job *j = NULL;
	struct chan_fifo f;
	struct chan_src *s;

	(void)len;
	if (kind != SPN_K_DATA)
		return;
	pthread_mutex_lock(&api_lock);
	if (c->fn == 0) {
		pthread_mutex_unlock(&api_lock);
		return;
	}
	f = c->fifo[c->fhead];
	c->fhead = (c->fhead + 1) % c->fcap;
	c->fn--;
	s = &c->src[f.src];
	s->queued -= f.cost;
	s->owed += f.cost;
	if (!c->gone && (s->owed >= c->window / 4 || c->fn == 0)) {
		j = xmalloc(sizeof *j);
		j->ctx = c->peer;
		j->handle = s->credit_handle;
		j->n = s->owed > UINT32_MAX ? UINT32_MAX : (uint32_t)s->owed;
		s->owed -= j->n;
	}
	pthread_mutex_unlock(&api_lock);
	if (j != NULL && api_submit(chan_credit_job, j) != 0)
		free(j);
}

static void
chan_close_job(void *arg)
{
	struct spn_recv *r = arg;

	chan_gone(recv_state(r), "the receiver was closed");
	recv_unref(r);			/* the job's */
}

/* spn_recv_close's (or spn_recv_cancel's) thread. */
static void
chan_closed(struct spn_recv *r, int ended)
{
	(void)ended;
	recv_ref(r);
	if (api_submit(chan_close_job, r) != 0)
		recv_unref(r);		/* shut down: the loop is gone */
}

static void
chan_destroy(struct spn_recv *r)
{
	struct chan *c = recv_state(r);

	free(c->fifo);
	pthread_cond_destroy(&c->cond);
	if (c->own != NULL) {
		pthread_mutex_lock(&api_lock);
		sender_release_unlock(c->own);
	}
}

static const struct recv_ops chan_ops = {
	.noun = "message",
	.spent_text = "the channel has ended",
	.decode = chan_decode,
	.taken = chan_taken,
	.closed = chan_closed,
	.destroy = chan_destroy,
};

/* On the loop: the handle, with the loop's reference (the job's). */
static void
chan_open_job(void *arg)
{
	struct spn_recv *r = arg;
	struct chan *c = recv_state(r);
	uint32_t h;

	h = rt_handle_add(api_spn.rt, 0, RT_ALLOW_PEER, c->peer, chan_msg, r);
	pthread_mutex_lock(&api_lock);
	c->handle = h;
	c->up = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&api_lock);
}

static int
chan_open(struct spn_ctx *peer, size_t window, struct spn_recv **out,
    struct spn_error *err)
{
	struct spn_recv *r;
	struct chan *c;
	size_t bound;
	int up;

	bound = CHAN_SENDERS_MAX * ((size_t)window + api_spn.max_frame +
	    CHAN_MSG_COST);
	r = recv_new(peer, &chan_ops, sizeof *c, bound / CHAN_MSG_COST + 4,
	    bound);
	c = recv_state(r);
	c->r = r;
	c->peer = peer->id;
	c->window = window;
	c->max_frame = api_spn.max_frame;
	api_cond_init(&c->cond);
	recv_ref(r);			/* the loop's, once it has the handle */
	if (api_submit(chan_open_job, r) != 0) {
		recv_unref(r);
		recv_unref(r);
		error_set(err, SPN_ESHUTDOWN, NULL, "spn_shutdown() was "
		    "called");
		return SPN_ESHUTDOWN;
	}
	pthread_mutex_lock(&api_lock);
	while (!c->up && api_spn.state == API_UP)
		api_wait(&c->cond, 0);
	up = c->up;
	pthread_mutex_unlock(&api_lock);
	if (!up) {
		/* The loop frees it with the rest (recv_free_all). */
		error_set(err, SPN_ESHUTDOWN, NULL, "spn_shutdown() was "
		    "called");
		return SPN_ESHUTDOWN;
	}
	c->own = sender_new(rt_id(api_spn.rt), c->handle, window, 1);
	*out = r;
	return SPN_OK;
}

int
spn_channel_open(struct spn *spn, struct spn_ctx *peer, size_t window,
    struct spn_recv **out, struct spn_error *err)
{
	int rv;

	(void)spn;
	if (out == NULL || peer == NULL || window > CHAN_WINDOW_MAX) {
		error_set(err, SPN_EINVAL, NULL, "%s", out == NULL ?
		    "no receiver" : peer == NULL ? "no peer context" :
		    "a window over " "64 MiB");
		return SPN_EINVAL;
	}
	*out = NULL;
	if ((rv = api_enter(err)) != SPN_OK)
		return rv;
	if (api_on_loop()) {
		error_set(err, SPN_EDEADLK, NULL, "spn_channel_open()"
		    API_LOOP_TEXT);
		api_leave();
		return SPN_EDEADLK;
	}
	rv = chan_open(peer, window != 0 ? window : CHAN_WINDOW_DEFAULT, out,
	    err);
	api_leave();
	return rv;
}

/* NULL for a receiver that is not a channel's. */
struct spn_sender *
spn_recv_sender(struct spn_recv *r)
{
	struct chan *c;

	if (r == NULL || recv_kind(r) != &chan_ops)
		return NULL;
	c = recv_state(r);
	return c->own;
}
