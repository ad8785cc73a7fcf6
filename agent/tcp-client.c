/*
 * The caller's side of TCP (svc-tcp.c has the far side and the protocol):
 * local fds joined to a connection the context makes.  The fds become a
 * sock (stream.c) whose sink exists before the CALL, so that its handle
 * goes with it; its source starts once CONNECTED names the far sink.
 *
 * The context's loss reaches us twice over, as DEAD on the call's handle
 * and on each stream's (the router fails every handle whose peer it
 * was): the sock ends with the reason at once, and done follows.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

struct tcl {
	struct rt	*rt;
	uint32_t	 ctx;
	uint32_t	 call;		/* reply handle while the call lasts */
	uint32_t	 ctl;		/* the far side's control handle */
	struct sock	*sock;
	int		 opened;	/* open called */
	int		 ended;		/* done called */
	int		 busy;		/* inside a callback of the owner's */
	int		 freed;		/* ... which freed it */
	tcp_open_fn	*open;
	tcp_done_fn	*done;
	void		*arg;
};

static void
tcl_destroy(struct tcl *t)
{
	if (t->call != 0)
		call_cancel(t->rt, t->call);
	sock_free(t->sock);
	free(t);
}

/* Callbacks may free the tcl: it goes once they return.  1 if it did. */
static int
tcl_open(struct tcl *t, int err, const char *text)
{
	if (t->opened)
		return 0;
	t->opened = 1;
	if (t->open == NULL)
		return 0;
	t->busy = 1;
	t->open(t, err, text, t->arg);
	t->busy = 0;
	if (t->freed) {
		tcl_destroy(t);
		return 1;
	}
	return 0;
}

static void
tcl_end(struct tcl *t, const char *why)
{
	if (t->ended)
		return;
	t->ended = 1;
	if (t->done == NULL)
		return;
	t->busy = 1;
	t->done(t, why, t->arg);
	t->busy = 0;
	if (t->freed)
		tcl_destroy(t);
}

static void
tcl_sock_done(struct sock *k, const char *why, void *arg)
{
	struct tcl *t = arg;

	(void)k;
	if (!t->opened && tcl_open(t, ECONNABORTED, why != NULL ? why :
	    "connection ended"))
		return;
	tcl_end(t, why);
}

/* The call failed (FAILED, or a dead letter): open says why, then done. */
static void
tcl_failed(struct tcl *t, int err, const char *text)
{
	t->call = 0;
	if (t->opened) {
		/* Connected: the streams end now, whatever the far side
		 * still had in flight. */
		sock_abort(t->sock, text);
		return;
	}
	/* The fds are still open in open: a SOCKS server answers there. */
	if (tcl_open(t, err, text))
		return;
	sock_free(t->sock);
	t->sock = NULL;
	tcl_end(t, text);
}

static int
tcl_dead(struct tcl *t, const struct rt_msg *m)
{
	struct upk u;
	uint32_t reason;
	char *text = call_dead_text(m), *msg;

	upk_init(&u, m->data, m->h.len);
	reason = upk_u32(&u);
	if (reason == SPN_D_NO_HANDLE) {
		msg = xprintf("context has no TCP service (%s)", text);
		tcl_failed(t, ENOSYS, msg);
		free(msg);
	} else
		tcl_failed(t, reason == SPN_D_LOST ||
		    reason == SPN_D_NO_ROUTE ? ECONNABORTED :
		    reason == SPN_D_REFUSED ? EPERM : EPROTO, text);
	free(text);
	return 0;
}

static int
tcl_reply(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct tcl *t = arg;
	struct upk u;
	uint32_t tag, a;
	char *text;

	(void)rt;
	if (m->h.kind == SPN_K_DEAD)
		return tcl_dead(t, m);
	upk_init(&u, m->data, m->h.len);
	tag = upk_u32(&u);
	a = upk_u32(&u);
	text = upk_str(&u);
	if (!u.err && text != NULL)
		str_clean(text);	/* the far end's words */
	if (!u.err && tag == SPN_TCP_CONNECTED && !t->opened &&
	    a >= SPN_H_DYNAMIC && text != NULL) {
		t->ctl = m->h.reply_to;
		if (tcl_open(t, 0, text)) {
			free(text);
			return 1;	/* the call's handle went with it */
		}
		sock_start(t->sock, a);
		free(text);
		return 1;
	}
	if (!u.err && tag == SPN_TCP_CLOSED && t->opened) {
		/* Both ways ended there: our streams say how, here. */
		t->call = 0;
		free(text);
		return 0;
	}
	if (!u.err && tag == SPN_TCP_FAILED && !t->opened && text != NULL)
		tcl_failed(t, a != 0 ? (int)a : EIO, text);
	else
		tcl_failed(t, EPROTO, "malformed TCP reply");
	free(text);
	return 0;
}

struct tcl *
tcp_start(struct rt *rt, const struct tcp_req *r, tcp_open_fn *open,
    tcp_done_fn *done, void *arg)
{
	struct tcl *t = xcalloc(1, sizeof *t);
	struct pk pk;

	t->rt = rt;
	t->ctx = r->ctx;
	t->open = open;
	t->done = done;
	t->arg = arg;
	t->sock = sock_new(rt, r->fd_in, r->fd_out, r->ctx, tcl_sock_done, t);
	pk_init(&pk);
	pk_u32(&pk, r->flags);
	pk_str(&pk, r->host);
	pk_u32(&pk, r->port);
	pk_u32(&pk, r->timeout_ms);
	pk_u32(&pk, sock_sink_handle(t->sock));
	t->call = call_start(rt, r->ctx, SPN_H_TCP, &pk, tcl_reply, t);
	pk_free(&pk);
	return t;
}

/*
 * A connection the far side made already (LISTEN's, listen-client.c):
 * no call, the far sink known, open from the start; *sink is ours, for
 * the far side.  The context's loss reaches it through the streams.
 */
struct tcl *
tcp_join(struct rt *rt, uint32_t ctx, int fd_in, int fd_out,
    uint32_t far_sink, tcp_done_fn *done, void *arg, uint32_t *sink)
{
	struct tcl *t = xcalloc(1, sizeof *t);

	t->rt = rt;
	t->ctx = ctx;
	t->done = done;
	t->arg = arg;
	t->opened = 1;
	t->sock = sock_new(rt, fd_in, fd_out, ctx, tcl_sock_done, t);
	sock_start(t->sock, far_sink);
	*sink = sock_sink_handle(t->sock);
	return t;
}

uint64_t
tcp_bytes_in(struct tcl *t)
{
	return t->sock != NULL ? sock_bytes_out(t->sock) : 0;
}

uint64_t
tcp_bytes_out(struct tcl *t)
{
	return t->sock != NULL ? sock_bytes_in(t->sock) : 0;
}

/*
 * Safe at any time, from the callbacks too.  A live connection is cut:
 * the far socket is reset (the far streams and its control handle are
 * told).  One still connecting is dropped: CONNECTED, when it comes,
 * finds no handle, and its dead letter closes the far socket.
 */
void
tcp_free(struct tcl *t)
{
	uint8_t b[4] = { 0, 0, 0, SIGTERM };

	if (t == NULL)
		return;
	if (t->opened && !t->ended && t->sock != NULL) {
		sock_abort(t->sock, "closed by the caller");
		if (t->ctl != 0)
			rt_send(t->rt, SPN_K_CANCEL, t->ctx, t->ctl, 0, b, 4);
	}
	t->open = NULL;
	t->done = NULL;
	if (t->busy) {
		t->freed = 1;
		return;
	}
	tcl_destroy(t);
}
