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
 * A call's receiver (recv.c) holds the caller's reference, the loop's
 * (until its handle is gone or it was never sent) and one per job queued
 * for it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

/* What a call's receiver keeps besides the queue. */
struct call {
	struct spn_vbuf	*payload;	/* the CALL, until sent */
	uint32_t	 handle;	/* loop thread only */
};

#define CALL_NOTSTATIC	"this program is not a static image: build it with " \
	"spindle-cc (it can run commands in contexts, not call its functions)"

/* On the loop: the answer, or the DEAD letter saying why none comes. */
static void
call_reply(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct spn_recv *r = arg;
	struct call *c = recv_state(r);

	rt_handle_del(rt, c->handle);
	c->handle = 0;
	ctx_call_end(spn_recv_ctx(r));
	recv_push(r, m->h.kind, m->data, m->h.len, 1);
	recv_unref(r);		/* the loop's */
}

static void
call_send_job(void *arg)
{
	struct spn_recv *r = arg;
	struct call *c = recv_state(r);
	struct rt *rt = api_spn.rt;
	struct spn_ctx *ctx = spn_recv_ctx(r);
	const uint8_t *data;
	size_t len;

	if (!recv_open(r)) {
		/* Given up before it left: it never will. */
		recv_unref(r);
		return;
	}
	c->handle = rt_handle_add(rt, 0, RT_ALLOW_PEER, ctx->id, call_reply,
	    r);
	data = vbuf_data(c->payload, &len);
	rt_send(rt, SPN_K_CALL, ctx->id, SPN_H_CALL, c->handle, data, len);
	ctx_call_begin(ctx);
	vbuf_free(c->payload);
	c->payload = NULL;
}

/* On the loop: stop waiting for the answer and tell the context, whose
 * function sees spn_cancelled(). */
static void
call_stop_job(void *arg)
{
	struct spn_recv *r = arg;
	struct call *c = recv_state(r);
	uint8_t b[4];

	if (c->handle != 0) {
		be32_put(b, c->handle);
		rt_send(api_spn.rt, SPN_K_CANCEL, spn_recv_ctx(r)->id,
		    SPN_H_CALL, 0, b, sizeof b);
		rt_handle_del(api_spn.rt, c->handle);
		c->handle = 0;
		ctx_call_end(spn_recv_ctx(r));
		recv_unref(r);	/* the loop's; the job's is left */
	}
	recv_unref(r);		/* the job's */
}

/* recv_ops.cancel, and closed before the answer came. */
static void
call_stop(struct spn_recv *r)
{
	recv_ref(r);
	/* Shut down: recv_free_all() frees it. */
	if (api_submit(call_stop_job, r) != 0)
		recv_unref(r);
}

static void
call_closed(struct spn_recv *r, int ended)
{
	if (!ended)
		call_stop(r);
}

static void
call_destroy(struct spn_recv *r)
{
	struct call *c = recv_state(r);

	vbuf_free(c->payload);
}

static int	call_decode(struct spn_recv *, uint8_t, const uint8_t *,
		    size_t, struct spn_msg **, struct spn_error *);

static const struct recv_ops call_ops = {
	.noun = "answer",
	.spent_rv = SPN_EINVAL,
	.spent_text = "the answer was taken",
	.decode = call_decode,
	.closed = call_closed,
	.cancel = call_stop,
	.destroy = call_destroy,
};

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

/* Send an encoded CALL: the receiver's now. */
static int
call_send(struct spn_ctx *ctx, struct spn_vbuf *payload,
    struct spn_recv **out, struct spn_error *err)
{
	struct spn_recv *r;

	r = recv_new(ctx, &call_ops, sizeof (struct call), 1, SIZE_MAX);
	((struct call *)recv_state(r))->payload = payload;
	recv_ref(r);		/* the loop's */
	if (api_submit(call_send_job, r) != 0) {
		recv_unref(r);
		recv_unref(r);
		error_set(err, SPN_ESHUTDOWN, ctx->name, "spn_shutdown() was "
		    "called");
		return SPN_ESHUTDOWN;
	}
	*out = r;
	return SPN_OK;
}

static int
call_begin(struct spn_ctx *ctx, const char *fn, int timeout_ms,
    const char *sig, va_list *ap, struct spn_recv **out,
    struct spn_error *err)
{
	struct spn_vbuf *payload;
	int rv;

	if ((rv = call_encode(ctx, fn, timeout_ms, sig, ap, &payload,
	    err)) != SPN_OK)
		return rv;
	return call_send(ctx, payload, out, err);
}

/* recv_ops.decode: the answer, on the caller's thread. */
static int
call_decode(struct spn_recv *r, uint8_t kind, const uint8_t *data,
    size_t len, struct spn_msg **msg, struct spn_error *err)
{
	struct spn_msg *drop = NULL;
	int rv;

	if (kind != SPN_K_REPLY) {
		error_set(err, SPN_EPROTO, spn_recv_ctx(r)->name,
		    "a %s for an answer", wire_kind_name(kind));
		return SPN_EPROTO;
	}
	memset(err, 0, sizeof *err);
	/* msg may be NULL, as for spn_call: the results go. */
	rv = reply_unpack(data, len, msg != NULL ? msg : &drop, err);
	if (msg == NULL)
		spn_msg_free(drop);
	return rv;
}

static int
call_vasync(struct spn_ctx *ctx, const char *fn, int timeout_ms,
    struct spn_recv **out, struct spn_error *err, const char *sig,
    va_list *ap)
{
	int rv;

	if ((rv = api_enter(err)) != SPN_OK)
		return rv;
	rv = call_begin(ctx, fn, timeout_ms, sig, ap, out, err);
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

/*
 * Fan-out: one CALL encoded once, a copy sent to each context with at
 * most window in flight; their receivers wait in a one-shot select, so
 * this thread takes whichever answer comes first and sends the next.
 */
struct many_call {
	struct spn_recv	*r;
	size_t		 i;
	uint64_t	 deadline;	/* usec; 0: none */
};

/* How long the select may wait: until the first deadline (-1: none). */
static int
call_many_wait(const struct many_call *fly, size_t nfly)
{
	uint64_t first = 0, now = now_usec();

	for (size_t k = 0; k < nfly; k++) {
		if (fly[k].deadline != 0 && (first == 0 ||
		    fly[k].deadline < first))
			first = fly[k].deadline;
	}
	if (first == 0)
		return -1;
	return first <= now ? 0 : (int)((first - now + 999) / 1000);
}

/* Slot k is done with: its receiver closed (a call still running is
 * cancelled there), the last slot moved in. */
static void
call_many_drop(struct many_call *fly, size_t *nfly, size_t k)
{
	spn_recv_close(fly[k].r);
	fly[k] = fly[--*nfly];
}

/* Those past their time: SPN_ETIMEDOUT.  How many. */
static size_t
call_many_expire(struct many_call *fly, size_t *nfly, int timeout_ms,
    struct spn_result *out)
{
	struct spn_result *o;
	size_t k = 0, n = 0;

	while (k < *nfly) {
		if (fly[k].deadline == 0 || now_usec() < fly[k].deadline) {
			k++;
			continue;
		}
		o = &out[fly[k].i];
		error_set(&o->err, o->code = SPN_ETIMEDOUT,
		    spn_recv_ctx(fly[k].r)->name, "no answer within %d ms",
		    timeout_ms);
		call_many_drop(fly, nfly, k);
		n++;
	}
	return n;
}

/* Send the call to ctxs[i] and put it in the select: 1 if it failed. */
static int
call_many_start(struct spn_select *sel, struct spn_ctx *ctx,
    const struct spn_vbuf *payload, int timeout_ms, struct many_call *slot,
    struct spn_result *o)
{
	struct spn_vbuf *copy;

	if (ctx == NULL) {
		error_set(&o->err, o->code = SPN_EINVAL, NULL, "no context");
		return 1;
	}
	copy = vbuf_new();
	if (vbuf_cat(copy, payload) != SPN_OK) {
		vbuf_free(copy);
		error_set(&o->err, o->code = SPN_ENOMEM, ctx->name, "no memory "
		    "for the call");
		return 1;
	}
	if ((o->code = call_send(ctx, copy, &slot->r, &o->err)) != SPN_OK)
		return 1;
	if ((o->code = spn_select_add(sel, slot->r)) != SPN_OK) {
		spn_recv_close(slot->r);
		error_set(&o->err, o->code, ctx->name, "%s",
		    spn_strerror(o->code));
		return 1;
	}
	slot->deadline = api_deadline(timeout_ms);
	return 0;
}

static size_t
call_many(struct spn_ctx *const *ctxs, size_t n, int timeout_ms,
    unsigned window, const struct spn_vbuf *payload,
    struct spn_result *out)
{
	struct spn_select *sel;
	struct many_call *fly;
	struct spn_recv *r;
	struct spn_msg *m;
	struct spn_error e;
	size_t next = 0, nfly = 0, failed = 0, k;
	int rv;

	if ((rv = spn_select_new(SPN_SELECT_ONESHOT, &sel)) != SPN_OK) {
		for (k = 0; k < n; k++)
			error_set(&out[k].err, out[k].code = rv, NULL, "%s",
			    spn_strerror(rv));
		return n;
	}
	fly = xcalloc(window, sizeof *fly);
	while (next < n || nfly > 0) {
		for (; next < n && nfly < window; next++) {
			fly[nfly].i = next;
			if (call_many_start(sel, ctxs[next], payload,
			    timeout_ms, &fly[nfly], &out[next]) != 0)
				failed++;
			else
				nfly++;
		}
		if (nfly == 0)
			continue;
		rv = spn_select_get(sel, call_many_wait(fly, nfly), &r, &m, &e);
		if (r != NULL) {
			for (k = 0; fly[k].r != r; k++)
				;
			out[fly[k].i].code = rv;
			out[fly[k].i].msg = m;
			out[fly[k].i].err = e;
			failed += rv != SPN_OK;
			call_many_drop(fly, &nfly, k);
		} else if (rv == SPN_ETIMEDOUT)
			failed += call_many_expire(fly, &nfly, timeout_ms, out);
		else {
			/* Shut down: what is left says so. */
			while (nfly > 0) {
				out[fly[0].i].code = rv;
				out[fly[0].i].err = e;
				failed++;
				call_many_drop(fly, &nfly, 0);
			}
			for (; next < n; next++) {
				out[next].code = rv;
				out[next].err = e;
				failed++;
			}
		}
	}
	free(fly);
	spn_select_free(sel);
	return failed;
}

/* The CALL, encoded once, its errors named after the first context. */
static int
call_many_encode(struct spn_ctx *const *ctxs, size_t n, const char *fn,
    int timeout_ms, const char *sig, va_list *ap, struct spn_vbuf **payload,
    struct spn_error *err)
{
	*payload = NULL;
	for (size_t i = 0; i < n; i++) {
		if (ctxs[i] != NULL)
			return call_encode(ctxs[i], fn, timeout_ms, sig, ap,
			    payload, err);
	}
	return SPN_OK;
}

int
spn_call_many(struct spn_ctx *const *ctxs, size_t n, const char *fn,
    int timeout_ms, unsigned window, struct spn_result *out,
    const char *sig, ...)
{
	struct spn_vbuf *payload;
	struct spn_error e;
	va_list ap;
	int rv;

	if (out == NULL || (ctxs == NULL && n > 0) || fn == NULL)
		return -SPN_EINVAL;
	memset(out, 0, n * sizeof *out);
	if ((rv = api_enter(NULL)) != SPN_OK)
		return -rv;
	if (api_on_loop()) {
		api_leave();
		return -SPN_EDEADLK;
	}
	va_start(ap, sig);
	rv = call_many_encode(ctxs, n, fn, timeout_ms, sig, &ap, &payload,
	    &e);
	va_end(ap);
	if (rv != SPN_OK) {
		/* The function or its arguments: the same for every one. */
		for (size_t i = 0; i < n; i++) {
			out[i].code = rv;
			out[i].err = e;
		}
		api_leave();
		return -rv;
	}
	rv = (int)call_many(ctxs, n, timeout_ms, window != 0 ? window : 64,
	    payload, out);
	vbuf_free(payload);
	api_leave();
	return rv;
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
