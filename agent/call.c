/*
 * The caller's side of a service: a private reply handle that only the
 * called context may answer, freed when the callback says it is done.
 */
#include <stdlib.h>

#include "agent.h"

struct call {
	uint32_t	 handle;
	call_fn		*fn;
	void		*arg;
};

static void
call_msg(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct call *c = arg;
	uint32_t handle = c->handle;

	if (c->fn(rt, m, c->arg) == 0) {
		rt_handle_del(rt, handle);
		free(c);
	}
}

/* The callback returns non-zero while it expects more replies. */
uint32_t
call_start(struct rt *rt, uint32_t ctx, uint32_t handle, struct pk *pk,
    call_fn *fn, void *arg)
{
	struct call *c = xcalloc(1, sizeof *c);

	c->fn = fn;
	c->arg = arg;
	c->handle = rt_handle_add(rt, 0, RT_ALLOW_PEER, ctx, call_msg, c);
	rt_send(rt, SPN_K_CALL, ctx, handle, c->handle,
	    pk != NULL ? pk->buf : NULL, pk != NULL ? pk->len : 0);
	return c->handle;
}

/* Stop waiting: later replies find no handle and are dropped. */
void
call_cancel(struct rt *rt, uint32_t handle)
{
	struct call *c = rt_handle_arg(rt, handle);

	if (c == NULL || c->handle != handle)
		return;
	rt_handle_del(rt, handle);
	free(c);
}

/* "context lost: hop 2 (local+local): agent killed by signal 9 (Killed)" */
char *
call_dead_text(const struct rt_msg *m)
{
	struct upk u;
	uint32_t reason;
	char *text, *out;

	upk_init(&u, m->data, m->h.len);
	reason = upk_u32(&u);
	text = upk_str(&u);
	if (reason == SPN_D_FAILED || reason == SPN_D_LOST)
		out = xstrdup(text != NULL ? text : wire_dead_name(reason));
	else
		out = xprintf("%s: %s", wire_dead_name(reason),
		    text != NULL ? text : "");
	free(text);
	return str_clean(out);
}
