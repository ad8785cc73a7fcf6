/*
 * The caller's side of LISTEN (ssh -R): a listener at a context, each
 * connection it accepts offered to our owner, who attaches fds to it
 * (tcp-client.c then carries it, as any TCP connection) or refuses it.
 *
 * The far side is not trusted: it may send ACCEPTED as often as it
 * likes, so at most RLIS_OFFERED_MAX connections wait for our owner's
 * answer, the rest are refused at once.
 */
#include <stdlib.h>
#include <unistd.h>

#include "agent.h"

#define RLIS_OFFERED_MAX	64

struct rlis {
	struct rt	*rt;
	uint32_t	 ctx;
	uint32_t	 call;		/* our reply handle while it lasts */
	uint32_t	 ctl;		/* the far listener's control handle */
	int		 bound;
	int		 in_cb;		/* inside one of the owner's callbacks */
	int		 freed;		/* ... which freed us */
	struct map	*offered;	/* conn -> the far sink */
	rlisten_up_fn	*up;
	rlisten_conn_fn	*conn;
	void		*arg;
};

/* Answer the far side about a connection: our sink, or 0 to refuse. */
static void
rlis_answer(struct rlis *rl, uint32_t conn, uint32_t sink)
{
	uint8_t b[8];

	if (rl->ctl == 0 || rl->call == 0)
		return;
	be32_put(b, conn);
	be32_put(b + 4, sink);
	rt_send(rl->rt, SPN_K_CALL, rl->ctx, rl->ctl, 0, b, sizeof b);
}

static void
rlis_destroy(struct rlis *rl)
{
	map_free(rl->offered);
	free(rl);
}

static void
rlis_accepted(struct rlis *rl, struct upk *u)
{
	uint32_t conn, sink;
	char *peer;

	conn = upk_u32(u);
	peer = upk_str(u);
	sink = upk_u32(u);
	if (u->err || peer == NULL || sink == 0) {
		log_warn("malformed LISTEN connection from context %u",
		    rl->ctx);
		free(peer);
		return;
	}
	if (map_count(rl->offered) >= RLIS_OFFERED_MAX ||
	    map_get(rl->offered, conn) != NULL) {
		log_warn("connection %u on context %u's listener refused: %d "
		    "waiting already", conn, rl->ctx, RLIS_OFFERED_MAX);
		rlis_answer(rl, conn, 0);
		free(peer);
		return;
	}
	/* The far sink itself: a map holds no NULL, and 0 was refused. */
	map_put(rl->offered, conn, (void *)(uintptr_t)sink);
	rl->conn(rl, conn, str_clean(peer), rl->arg);
	free(peer);
}

/* The listener is gone or never was: the owner hears why, once. */
static void
rlis_lost(struct rlis *rl, const char *why)
{
	rl->call = 0;
	rl->up(rl, -1, why, rl->arg);
}

static int
rlis_reply(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct rlis *rl = arg;
	struct upk u;
	uint32_t tag, a;
	char *text;
	int more = 1;

	(void)rt;
	rl->in_cb = 1;
	upk_init(&u, m->data, m->h.len);
	tag = m->h.kind == SPN_K_DEAD ? 0 : upk_u32(&u);
	if (m->h.kind == SPN_K_DEAD) {
		text = call_dead_text(m);
		rlis_lost(rl, text);
		free(text);
		more = 0;
	} else if (tag == SPN_LISTEN_BOUND && !rl->bound) {
		a = upk_u32(&u);
		rl->ctl = upk_u32(&u);
		rl->bound = 1;
		/* A port no TCP has would reach our owner as a negative
		 * int (a loss without a reason) or be told as bound. */
		if (u.err || rl->ctl == 0 || a > 65535) {
			rlis_lost(rl, "malformed LISTEN reply");
			more = 0;
		} else
			rl->up(rl, a, NULL, rl->arg);
	} else if (tag == SPN_LISTEN_FAILED && !rl->bound) {
		upk_u32(&u);
		text = upk_str(&u);
		rlis_lost(rl, text != NULL ? str_clean(text) :
		    "malformed LISTEN reply");
		free(text);
		more = 0;
	} else if (tag == SPN_LISTEN_ACCEPTED && rl->bound)
		rlis_accepted(rl, &u);
	else
		log_warn("unexpected LISTEN reply %u from context %u", tag,
		    rl->ctx);
	rl->in_cb = 0;
	if (rl->freed) {
		/* Freed from a callback: call.c drops the handle now. */
		rlis_destroy(rl);
		return 0;
	}
	return more;
}

/*
 * A listener at ctx on bind:port (flags SPN_TCP_F_UNIX: bind is a path;
 * "": the loopback; port 0: any).
 */
struct rlis *
rlisten_start(struct rt *rt, uint32_t ctx, uint32_t flags, const char *bind,
    uint32_t port, rlisten_up_fn *up, rlisten_conn_fn *conn, void *arg)
{
	struct rlis *rl = xcalloc(1, sizeof *rl);
	struct pk pk;

	rl->rt = rt;
	rl->ctx = ctx;
	rl->up = up;
	rl->conn = conn;
	rl->arg = arg;
	rl->offered = map_new();
	pk_init(&pk);
	pk_u32(&pk, flags);
	pk_str(&pk, bind != NULL ? bind : "");
	pk_u32(&pk, port);
	rl->call = call_start(rt, ctx, SPN_H_LISTEN, &pk, rlis_reply, rl);
	pk_free(&pk);
	return rl;
}

/* Take the connection: fd_in's bytes go to it, its bytes to fd_out.
 * NULL (the fds closed) when no such connection waits. */
struct tcl *
rlisten_attach(struct rlis *rl, uint32_t conn, int fd_in, int fd_out,
    tcp_done_fn *done, void *arg)
{
	struct tcl *t;
	uintptr_t far;
	uint32_t sink;

	far = (uintptr_t)map_del(rl->offered, conn);
	if (far == 0 || rl->call == 0) {
		close(fd_in);
		if (fd_out != fd_in)
			close(fd_out);
		return NULL;
	}
	t = tcp_join(rl->rt, rl->ctx, fd_in, fd_out, far, done, arg, &sink);
	rlis_answer(rl, conn, sink);
	return t;
}

void
rlisten_refuse(struct rlis *rl, uint32_t conn)
{
	if (map_del(rl->offered, conn) != NULL)
		rlis_answer(rl, conn, 0);
}

/* The far listener closes (its connections not taken yet with it). */
void
rlisten_free(struct rlis *rl)
{
	uint8_t b[4] = { 0 };

	if (rl == NULL || rl->freed)
		return;
	if (rl->call != 0 && rl->ctl != 0)
		rt_send(rl->rt, SPN_K_CANCEL, rl->ctx, rl->ctl, 0, b, 4);
	if (rl->in_cb) {
		rl->freed = 1;
		return;
	}
	if (rl->call != 0)
		call_cancel(rl->rt, rl->call);
	rlis_destroy(rl);
}
