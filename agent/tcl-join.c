/*
 * STOPGAP until the tcp branch's tcp-client.c lands (then tcp_join moves
 * there, on its struct tcl, and this file goes): a connection the far
 * side made already, joined to local fds as a pair of streams.
 */
#include <stdlib.h>

#include "agent.h"

struct tcl {
	struct sock	*k;
	tcp_done_fn	*done;
	void		*arg;
};

static void
tcl_sock_done(struct sock *k, const char *why, void *arg)
{
	struct tcl *t = arg;

	(void)k;
	if (t->done != NULL)
		t->done(t, why, t->arg);
}

struct tcl *
tcp_join(struct rt *rt, uint32_t ctx, int fd_in, int fd_out,
    uint32_t far_sink, tcp_done_fn *done, void *arg, uint32_t *sink)
{
	struct tcl *t = xcalloc(1, sizeof *t);

	t->done = done;
	t->arg = arg;
	t->k = sock_new(rt, fd_in, fd_out, ctx, tcl_sock_done, t);
	sock_start(t->k, far_sink);
	*sink = sock_sink_handle(t->k);
	return t;
}

void
tcp_free(struct tcl *t)
{
	if (t == NULL)
		return;
	sock_free(t->k);
	free(t);
}

uint64_t
tcp_bytes_in(struct tcl *t)
{
	return sock_bytes_out(t->k);
}

uint64_t
tcp_bytes_out(struct tcl *t)
{
	return sock_bytes_in(t->k);
}
