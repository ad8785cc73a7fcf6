/*
 * STOPGAP until the tcp branch's tcp-client.c lands (then tcp_join moves
 * there, on its struct tcl, and this file goes): a connection the far
 * side made already, joined to local fds as a pair of streams.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <stdlib.h>
#include <unistd.h>

#include "agent.h"

struct tcl {
	struct rt	*rt;
	struct src	*src;
	struct sink	*sink;
	int		 fd;		/* ours, for the FIN, when one socket */
	int		 src_over;
	int		 sink_over;
	char		*why;
	struct event	*ev;
	tcp_done_fn	*done;
	void		*arg;
};

static void
tcl_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcl *t = arg;
	tcp_done_fn *done = t->done;

	(void)fd;
	(void)what;
	t->done = NULL;
	if (done != NULL)
		done(t, t->why, t->arg);
}

static void
tcl_check(struct tcl *t)
{
	if (t->src_over && t->sink_over)
		event_active(t->ev, EV_TIMEOUT, 0);
}

static void
tcl_src_done(struct src *s, const char *why, void *arg)
{
	struct tcl *t = arg;

	(void)s;
	t->src_over = 1;
	if (why != NULL && t->why == NULL)
		t->why = xstrdup(why);
	tcl_check(t);
}

static void
tcl_sink_done(struct sink *s, const char *why, void *arg)
{
	struct stat st;
	struct tcl *t = arg;

	(void)s;
	t->sink_over = 1;
	if (why != NULL && t->why == NULL)
		t->why = xstrdup(why);
	if (t->fd >= 0 && fstat(t->fd, &st) == 0 && S_ISSOCK(st.st_mode))
		shutdown(t->fd, why == NULL ? SHUT_WR : SHUT_RDWR);
	tcl_check(t);
}

struct tcl *
tcp_join(struct rt *rt, uint32_t ctx, int fd_in, int fd_out,
    uint32_t far_sink, tcp_done_fn *done, void *arg, uint32_t *sink)
{
	struct tcl *t = xcalloc(1, sizeof *t);

	t->rt = rt;
	t->done = done;
	t->arg = arg;
	t->ev = event_new(rt_base(rt), -1, 0, tcl_done_cb, t);
	t->fd = -1;
	/* One socket: each stream closes a copy of its own. */
	if (fd_in == fd_out) {
		t->fd = fd_in;
		fd_in = dup(t->fd);
		fd_out = dup(t->fd);
	}
	t->sink = sink_new(rt, fd_out, 1, ctx, tcl_sink_done, t);
	t->src = src_new(rt, fd_in, 1, ctx, far_sink, tcl_src_done, t);
	*sink = sink_handle(t->sink);
	return t;
}

void
tcp_free(struct tcl *t)
{
	if (t == NULL)
		return;
	t->done = NULL;
	src_free(t->src);
	sink_free(t->sink);
	event_free(t->ev);
	if (t->fd >= 0)
		close(t->fd);
	free(t->why);
	free(t);
}

uint64_t
tcp_bytes_in(struct tcl *t)
{
	return sink_bytes(t->sink);
}

uint64_t
tcp_bytes_out(struct tcl *t)
{
	return src_bytes(t->src);
}
