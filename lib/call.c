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
call_begin(struct spn_ctx *ctx, const char *fn, int timeout_ms,
    const char *sig, va_list *ap, struct spn_recv **out,
    struct spn_error *err)
{
	struct spn_recv *r;
	struct spn_vbuf *payload;
	int rv;

	if ((rv = call_encode(ctx, fn, timeout_ms, sig, ap, &payload,
	    err)) != SPN_OK)
		return rv;
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

/* recv_ops.decode: the answer, on the caller's thread. */
static int
call_decode(struct spn_recv *r, uint8_t kind, const uint8_t *data,
    size_t len, struct spn_msg **msg, struct spn_error *err)
{
	if (kind != SPN_K_REPLY) {
		error_set(err, SPN_EPROTO, spn_recv_ctx(r)->name,
		    "a %s for an answer", wire_kind_name(kind));
		return SPN_EPROTO;
	}
	memset(err, 0, sizeof *err);
	return reply_unpack(data, len, msg, err);
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
