/*
 * Calls: an export of this program, by name and signature, run in a
 * context.  The caller's thread checks the name and the arguments against
 * its own export table (the context runs the same image), encodes them
 * and queues the CALL; the loop thread adds a reply handle only the
 * context may answer and sends it.  The reply handler copies the answer
 * into the receiver and wakes its waiters; the caller decodes it on its
 * own thread.  Nothing of a call outlives its receiver: the handle goes
 * with the answer, the cancel or the close, and a late answer finds no
 * handle and is dropped.
 *
 * A receiver's references: the caller's (until spn_recv_close), the
 * loop's (until its handle is gone or it was never sent), one per job
 * queued for it and one per thread waiting in spn_recv_get.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

enum recv_state {
	RECV_PENDING,		/* no answer yet */
	RECV_DONE,		/* the answer is in data */
	RECV_TAKEN,		/* ... and was handed out */
	RECV_CANCELLED,
};

struct spn_recv {
	struct api_node	 node;		/* api_spn.recvs */
	struct spn_ctx	*ctx;
	pthread_cond_t	 cond;
	int		 state;		/* enum recv_state */
	int		 closed;
	unsigned	 refs;
	struct spn_vbuf	*payload;	/* the CALL, until sent */
	uint32_t	 handle;	/* loop thread only */
	uint8_t		 kind;		/* REPLY or DEAD */
	uint8_t		*data;
	size_t		 len;
};

#define CALL_NOTSTATIC	"this program is not a static image: build it with " \
	"spindle-cc (it can run commands in contexts, not call its functions)"

static void
recv_destroy(struct spn_recv *r)
{
	vbuf_free(r->payload);
	free(r->data);
	pthread_cond_destroy(&r->cond);
	free(r);
}

/* Under api_lock: drop a reference; 1 when the caller must destroy it
 * (after unlocking, with its context's reference). */
static int
recv_release(struct spn_recv *r)
{
	if (--r->refs != 0)
		return 0;
	api_list_del(&r->node);
	return 1;
}

static void
recv_release_unlock(struct spn_recv *r)
{
	struct spn_ctx *ctx = r->ctx;
	int last = recv_release(r);

	pthread_mutex_unlock(&api_lock);
	if (last) {
		recv_destroy(r);
		spn_ctx_unref(ctx);
	}
}

/* On the loop: the answer, or the DEAD letter saying why none comes. */
static void
call_reply(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct spn_recv *r = arg;
	uint8_t *copy = NULL;

	rt_handle_del(rt, r->handle);
	r->handle = 0;
	ctx_call_end(r->ctx);
	if (m->h.len > 0) {
		copy = xmalloc(m->h.len);
		memcpy(copy, m->data, m->h.len);
	}
	pthread_mutex_lock(&api_lock);
	if (r->state == RECV_PENDING && !r->closed) {
		r->state = RECV_DONE;
		r->kind = m->h.kind;
		r->data = copy;
		r->len = m->h.len;
		copy = NULL;
		pthread_cond_broadcast(&r->cond);
	}
	recv_release_unlock(r);		/* the loop's */
	free(copy);
}

static void
call_send_job(void *arg)
{
	struct spn_recv *r = arg;
	struct rt *rt = api_spn.rt;
	const uint8_t *data;
	size_t len;

	pthread_mutex_lock(&api_lock);
	if (r->state != RECV_PENDING || r->closed) {
		/* Given up before it left: it never will. */
		recv_release_unlock(r);
		return;
	}
	pthread_mutex_unlock(&api_lock);
	r->handle = rt_handle_add(rt, 0, RT_ALLOW_PEER, r->ctx->id,
	    call_reply, r);
	data = vbuf_data(r->payload, &len);
	rt_send(rt, SPN_K_CALL, r->ctx->id, SPN_H_CALL, r->handle, data, len);
	ctx_call_begin(r->ctx);
	vbuf_free(r->payload);
	r->payload = NULL;
}

/* On the loop: stop waiting for the answer and tell the context, whose
 * function sees spn_cancelled(). */
static void
call_stop_job(void *arg)
{
	struct spn_recv *r = arg;
	uint8_t b[4];

	if (r->handle != 0) {
		be32_put(b, r->handle);
		rt_send(api_spn.rt, SPN_K_CANCEL, r->ctx->id, SPN_H_CALL, 0, b,
		    sizeof b);
		rt_handle_del(api_spn.rt, r->handle);
		r->handle = 0;
		ctx_call_end(r->ctx);
		pthread_mutex_lock(&api_lock);
		if (recv_release(r))	/* the loop's; the job's is left */
			abort();
		pthread_mutex_unlock(&api_lock);
	}
	pthread_mutex_lock(&api_lock);
	recv_release_unlock(r);		/* the job's */
}

/* Under api_lock, with a reference for the job. */
static void
call_stop(struct spn_recv *r)
{
	r->refs++;
	pthread_mutex_unlock(&api_lock);
	if (api_submit(call_stop_job, r) != 0) {
		/* Shut down: call_free_all() frees it. */
		pthread_mutex_lock(&api_lock);
		r->refs--;
		pthread_mutex_unlock(&api_lock);
	}
}

/* Check and encode on the caller's thread; SPN_OK with the CALL in
 * *out. */
static int
call_encode(struct spn_ctx *ctx, const char *fn, int timeout_ms,
    const char *sig, va_list *ap, struct spn_vbuf **out,
    struct spn_error *err)
{
	const struct spn_export *e;
	struct spn_vbuf *args, *payload;
	char why[256];
	size_t len;
	int rv;

	if (ctx == NULL || fn == NULL) {
		error_set(err, SPN_EINVAL, NULL, "no context or no function");
		return SPN_EINVAL;
	}
	if (sig == NULL)
		sig = "";
	if (!api_spn.is_static) {
		error_set(err, SPN_ENOTSTATIC, ctx->name, "%s", CALL_NOTSTATIC);
		return SPN_ENOTSTATIC;
	}
	pthread_mutex_lock(&api_lock);
	rv = ctx_closing(ctx);
	pthread_mutex_unlock(&api_lock);
	if (rv) {
		error_set(err, SPN_ELOST, ctx->name, "spn_ctx_shutdown() was "
		    "called");
		return SPN_ELOST;
	}
	if ((e = export_find(fn)) == NULL) {
		error_set(err, SPN_ENOFUNC, ctx->name, "no function %s in "
		    "this program (SPN_EXPORT it)", fn);
		return SPN_ENOFUNC;
	}
	if ((rv = export_sig_check(e, sig)) != SPN_OK) {
		error_set(err, rv, ctx->name, "%s takes \"%s\", not \"%s\"",
		    fn, e->sig, sig);
		return rv;
	}
	args = vbuf_new();
	/* SPN_EINVAL (a NULL string), SPN_ETOOLARGE, as man 3 says. */
	if ((rv = vbuf_putv(args, sig, ap, why, sizeof why)) != SPN_OK) {
		vbuf_free(args);
		error_set(err, rv, ctx->name, "%s: %s", fn, why);
		return rv;
	}
	payload = vbuf_new();
	rv = callmsg_pack(payload, fn, sig, args, 0,
	    timeout_ms > 0 ? (uint32_t)timeout_ms : 0);
	vbuf_free(args);
	vbuf_data(payload, &len);
	if (rv != 0 || len > api_spn.max_frame) {
		vbuf_free(payload);
		error_set(err, SPN_ETOOLARGE, ctx->name, "a call of %s over "
		    "the frame limit (%u bytes)", fn, api_spn.max_frame);
		return SPN_ETOOLARGE;
	}
	*out = payload;
	return SPN_OK;
}

static int
recv_start(struct spn_ctx *ctx, const char *fn, int timeout_ms,
    const char *sig, va_list *ap, struct spn_recv **out,
    struct spn_error *err)
{
	struct spn_recv *r;
	struct spn_vbuf *payload;
	int rv;

	if ((rv = call_encode(ctx, fn, timeout_ms, sig, ap, &payload,
	    err)) != SPN_OK)
		return rv;
	r = xcalloc(1, sizeof *r);
	api_cond_init(&r->cond);
	r->ctx = spn_ctx_ref(ctx);
	r->payload = payload;
	r->refs = 2;		/* the caller's and the loop's */
	pthread_mutex_lock(&api_lock);
	api_list_add(&api_spn.recvs, &r->node);
	pthread_mutex_unlock(&api_lock);
	if (api_submit(call_send_job, r) != 0) {
		pthread_mutex_lock(&api_lock);
		api_list_del(&r->node);
		pthread_mutex_unlock(&api_lock);
		recv_destroy(r);
		error_set(err, SPN_ESHUTDOWN, ctx->name, "spn_shutdown() was "
		    "called");
		return SPN_ESHUTDOWN;
	}
	*out = r;
	return SPN_OK;
}

/* The answer, decoded on the caller's thread. */
static int
call_decode(struct spn_recv *r, uint8_t kind, const uint8_t *data,
    size_t len, struct spn_msg **msg, struct spn_error *err)
{
	struct spn_error e0;
	struct spn_msg *drop = NULL;
	struct upk u;
	uint32_t reason;
	char *text;
	int rv;

	if (err == NULL)
		err = &e0;
	if (kind == SPN_K_DEAD) {
		upk_init(&u, data, len);
		reason = upk_u32(&u);
		text = upk_str(&u);
		rv = error_from_dead(err, reason, text != NULL ?
		    str_clean(text) : NULL, r->ctx->name);
		free(text);
		return rv;
	}
	if (kind != SPN_K_REPLY) {
		error_set(err, SPN_EPROTO, r->ctx->name, "a %s for an answer",
		    wire_kind_name(kind));
		return SPN_EPROTO;
	}
	memset(err, 0, sizeof *err);
	/* msg may be NULL, as for spn_call: the results go. */
	rv = reply_unpack(data, len, msg != NULL ? msg : &drop, err);
	if (msg == NULL)
		spn_msg_free(drop);
	if (rv != SPN_OK && *err->context == '\0')
		snprintf(err->context, sizeof err->context, "%s",
		    r->ctx->name);
	return rv;
}

int
spn_recv_get(struct spn_recv *r, int timeout_ms, struct spn_msg **msg,
    struct spn_error *err)
{
	uint64_t deadline;
	uint8_t *data = NULL, kind = 0;
	size_t len = 0;
	int rv;

	if (msg != NULL)
		*msg = NULL;
	if ((rv = api_enter(err)) != SPN_OK)
		return rv;
	if (api_on_loop() || r == NULL) {
		rv = r == NULL ? SPN_EINVAL : SPN_EDEADLK;
		error_set(err, rv, NULL, "%s", r == NULL ? "no receiver" :
		    "spn_recv_get()" API_LOOP_TEXT);
		api_leave();
		return rv;
	}
	deadline = api_deadline(timeout_ms);
	pthread_mutex_lock(&api_lock);
	r->refs++;
	while (r->state == RECV_PENDING && !r->closed &&
	    api_spn.state == API_UP) {
		if (timeout_ms == 0 ||
		    api_wait(&r->cond, deadline) == ETIMEDOUT)
			break;
	}
	if (r->closed)
		rv = SPN_ECLOSED;
	else if (r->state == RECV_CANCELLED)
		rv = SPN_ECANCELLED;
	else if (r->state == RECV_DONE) {
		r->state = RECV_TAKEN;
		kind = r->kind;
		data = r->data;
		len = r->len;
		r->data = NULL;
		rv = SPN_OK;
	} else if (r->state == RECV_TAKEN)
		rv = SPN_EINVAL;
	else if (api_spn.state != API_UP)
		rv = SPN_ESHUTDOWN;
	else
		rv = SPN_ETIMEDOUT;
	if (rv == SPN_OK) {
		pthread_mutex_unlock(&api_lock);
		rv = call_decode(r, kind, data, len, msg, err);
		free(data);
		pthread_mutex_lock(&api_lock);
	} else if (rv == SPN_ETIMEDOUT)
		error_set(err, rv, r->ctx->name, "no answer within %d ms",
		    timeout_ms);
	else if (rv == SPN_EINVAL)
		error_set(err, rv, r->ctx->name, "the answer was taken");
	else
		error_set(err, rv, r->ctx->name, "%s", spn_strerror(rv));
	recv_release_unlock(r);
	api_leave();
	return rv;
}

int
spn_recv_cancel(struct spn_recv *r)
{
	int rv;

	if (r == NULL)
		return SPN_EINVAL;
	if ((rv = api_enter(NULL)) != SPN_OK)
		return rv;
	pthread_mutex_lock(&api_lock);
	if (r->state != RECV_PENDING || r->closed) {
		pthread_mutex_unlock(&api_lock);
		api_leave();
		return SPN_OK;		/* answered already */
	}
	r->state = RECV_CANCELLED;
	pthread_cond_broadcast(&r->cond);
	call_stop(r);
	api_leave();
	return SPN_OK;
}

void
spn_recv_close(struct spn_recv *r)
{
	if (r == NULL || api_enter(NULL) != SPN_OK)
		return;
	pthread_mutex_lock(&api_lock);
	if (r->closed) {
		pthread_mutex_unlock(&api_lock);
		api_leave();
		return;
	}
	r->closed = 1;
	pthread_cond_broadcast(&r->cond);
	if (r->state == RECV_PENDING) {
		call_stop(r);
		pthread_mutex_lock(&api_lock);
	}
	recv_release_unlock(r);		/* the caller's */
	api_leave();
}

static int
call_vasync(struct spn_ctx *ctx, const char *fn, int timeout_ms,
    struct spn_recv **out, struct spn_error *err, const char *sig,
    va_list *ap)
{
	int rv;

	if ((rv = api_enter(err)) != SPN_OK)
		return rv;
	rv = recv_start(ctx, fn, timeout_ms, sig, ap, out, err);
	api_leave();
	return rv;
}

int
spn_call_async(struct spn_ctx *ctx, const char *fn, struct spn_recv **out,
    struct spn_error *err, const char *sig, ...)
{
	va_list ap;
	int rv;

	if (out == NULL) {
		error_set(err, SPN_EINVAL, NULL, "no receiver");
		return SPN_EINVAL;
	}
	*out = NULL;
	va_start(ap, sig);
	rv = call_vasync(ctx, fn, 0, out, err, sig, &ap);
	va_end(ap);
	return rv;
}

/* A blocking call is a receiver waited on once; on a timeout the call
 * is cancelled, as nobody can wait for it again. */
int
spn_call(struct spn_ctx *ctx, const char *fn, int timeout_ms,
    struct spn_msg **msg, struct spn_error *err, const char *sig, ...)
{
	struct spn_recv *r;
	struct spn_msg *m = NULL;
	va_list ap;
	int rv;

	if (msg != NULL)
		*msg = NULL;
	if (api_on_loop()) {
		error_set(err, SPN_EDEADLK, NULL, "spn_call()" API_LOOP_TEXT);
		return SPN_EDEADLK;
	}
	va_start(ap, sig);
	rv = call_vasync(ctx, fn, timeout_ms, &r, err, sig, &ap);
	va_end(ap);
	if (rv != SPN_OK)
		return rv;
	rv = spn_recv_get(r, timeout_ms, &m, err);
	if (rv == SPN_ETIMEDOUT)
		spn_recv_cancel(r);
	spn_recv_close(r);
	if (msg != NULL)
		*msg = m;
	else if (m != NULL)
		spn_msg_free(m);
	return rv;
}

/* The loop has stopped: what is left goes, whoever held it. */
void
call_free_all(struct spn *spn)
{
	struct api_node *n;

	while ((n = spn->recvs.next) != &spn->recvs) {
		api_list_del(n);
		recv_destroy((struct spn_recv *)n);
	}
}

/*
 * The CALL service of the master: a child calls its parent's exports
 * (those with SPN_ALLOW_ANY) as the parent calls its own, on worker
 * threads (agent/svc-call.c, lib/export.c).
 */
static struct agent_ops call_master_ops = { .run = export_run,
    .run_inline = export_run_inline };

void
api_call_service(struct spn *spn, int workers)
{
	call_master_ops.workers = workers;
	svc_call_init(spn->rt, spn->broker, &call_master_ops);
}
