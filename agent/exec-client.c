/*
 * The caller's side of EXEC: local fds become sinks and a source, and the
 * result arrives once the remote process is reaped and its output is
 * written out here.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

struct xcl {
	struct rt	*rt;
	uint32_t	 ctx;
	uint32_t	 ctl;
	uint32_t	 call;		/* reply handle while the call lasts */
	int		 fd_in;
	struct src	*in;
	struct sink	*out;
	struct sink	*err;
	int		 open_sinks;
	int		 code;		/* -2 while running */
	int		 sig;		/* that killed the process */
	int		 pending_sig;	/* asked for before STARTED */
	int		 pending_winch;	/* a size came before STARTED */
	uint32_t	 rows, cols;	/* that size */
	int		 abandoned;	/* freed before STARTED */
	char		*error;
	exec_done_fn	*done;
	void		*arg;
};

static void
xcl_maybe_done(struct xcl *x)
{
	exec_done_fn *done = x->done;

	if (x->code == -2 || x->open_sinks != 0 || done == NULL)
		return;
	x->done = NULL;
	done(x, x->code, x->error, x->arg);
}

static void
xcl_fail(struct xcl *x, int code, const char *why)
{
	if (x->code != -2)
		return;
	x->code = code;
	free(x->error);
	x->error = xstrdup(why);
	/* The process never ran, or its context is gone: no more output. */
	sink_free(x->out);
	sink_free(x->err);
	x->out = x->err = NULL;
	x->open_sinks = 0;
	xcl_maybe_done(x);
}

static void
xcl_sink_done(struct sink *s, const char *why, void *arg)
{
	struct xcl *x = arg;

	(void)s;
	if (why != NULL)
		log_debug("output stream ended: %s", why);
	x->open_sinks--;
	xcl_maybe_done(x);
}

static void
xcl_stdin_done(struct src *s, const char *why, void *arg)
{
	(void)s;
	(void)arg;
	if (why != NULL)
		log_debug("stdin stream ended: %s", why);
}

static void
xcl_started(struct xcl *x, struct upk *u)
{
	uint32_t in_handle;

	upk_u32(u);
	in_handle = upk_u32(u);
	x->ctl = upk_u32(u);
	if (in_handle != 0 && x->fd_in >= 0)
		x->in = src_new(x->rt, x->fd_in, 0, x->ctx, in_handle,
		    xcl_stdin_done, x);
}

/*
 * Freed before the process was known to run: it may run all the same, so
 * we stay (with no fds) to kill it once STARTED names its control handle,
 * and go with the last reply.
 */
static int
xcl_abandoned_reply(struct xcl *x, const struct rt_msg *m)
{
	struct upk u;
	uint8_t b[4] = { 0, 0, 0, SIGKILL };

	upk_init(&u, m->data, m->h.len);
	if (m->h.kind != SPN_K_DEAD && upk_u32(&u) == SPN_EXEC_STARTED) {
		upk_u32(&u);
		upk_u32(&u);
		if ((x->ctl = upk_u32(&u)) != 0)
			rt_send(x->rt, SPN_K_CANCEL, x->ctx, x->ctl, 0, b, 4);
		return 1;
	}
	free(x);
	return 0;
}

static int
xcl_reply(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct xcl *x = arg;
	struct upk u;
	uint32_t tag, a, b;
	char *text;

	(void)rt;
	if (x->abandoned)
		return xcl_abandoned_reply(x, m);
	if (m->h.kind == SPN_K_DEAD) {
		text = call_dead_text(m);
		x->call = 0;
		xcl_fail(x, -1, text);
		free(text);
		return 0;
	}
	upk_init(&u, m->data, m->h.len);
	tag = upk_u32(&u);
	if (tag == SPN_EXEC_STARTED) {
		xcl_started(x, &u);
		if (x->pending_sig != 0)
			exec_signal(x, x->pending_sig);
		if (x->pending_winch)
			exec_winch(x, x->rows, x->cols);
		return 1;
	}
	a = upk_u32(&u);
	x->call = 0;	/* FAILED and EXITED are the last replies */
	if (tag == SPN_EXEC_FAILED) {
		/* The far end's words: they may reach a terminal. */
		text = upk_str(&u);
		xcl_fail(x, a, text != NULL ? str_clean(text) :
		    "cannot run command");
		free(text);
		return 0;
	}
	b = upk_u32(&u);
	x->code = b != 0 ? 128 + (int)b : (int)a;
	x->sig = b;
	xcl_maybe_done(x);
	return 0;
}

struct xcl *
exec_start(struct rt *rt, const struct exec_req *r, exec_done_fn *done,
    void *arg)
{
	struct xcl *x = xcalloc(1, sizeof *x);
	struct pk pk;
	uint32_t flags = r->flags;

	x->rt = rt;
	x->ctx = r->ctx;
	x->code = -2;
	x->fd_in = r->fd_in;
	x->done = done;
	x->arg = arg;
	if (r->fd_in < 0)
		flags |= SPN_EXEC_NOSTDIN;
	if (r->fd_out >= 0) {
		x->out = sink_new(rt, r->fd_out, 0, r->ctx, xcl_sink_done, x);
		x->open_sinks++;
	}
	if (r->fd_err >= 0) {
		x->err = sink_new(rt, r->fd_err, 0, r->ctx, xcl_sink_done, x);
		x->open_sinks++;
	}
	pk_init(&pk);
	pk_u32(&pk, flags);
	pk_strv(&pk, r->argv);
	pk_strv(&pk, r->env);
	pk_str(&pk, r->cwd);
	pk_u32(&pk, x->out != NULL ? sink_handle(x->out) : 0);
	pk_u32(&pk, x->err != NULL ? sink_handle(x->err) : 0);
	if (flags & SPN_EXEC_PTY) {
		pk_u32(&pk, r->rows);
		pk_u32(&pk, r->cols);
		pk_str(&pk, r->term);
	}
	x->call = call_start(rt, r->ctx, SPN_H_EXEC, &pk, xcl_reply, x);
	pk_free(&pk);
	return x;
}

void
exec_signal(struct xcl *x, int sig)
{
	uint8_t b[4] = { 0, 0, 0, sig };

	/* Not started yet: it gets the signal as soon as it is. */
	if (x->ctl == 0 && x->code == -2 && x->call != 0)
		x->pending_sig = sig;
	if (x->ctl != 0 && x->code == -2)
		rt_send(x->rt, SPN_K_CANCEL, x->ctx, x->ctl, 0, b, 4);
}

/* The local terminal changed size: tell the remote pty. */
void
exec_winch(struct xcl *x, uint32_t rows, uint32_t cols)
{
	uint8_t b[8] = { rows >> 24, rows >> 16, rows >> 8, rows,
	    cols >> 24, cols >> 16, cols >> 8, cols };

	/* Not started yet (a gateway client resizes right after its
	 * exec): the pty gets the last size as soon as it is. */
	if (x->ctl == 0 && x->code == -2 && x->call != 0) {
		x->pending_winch = 1;
		x->rows = rows;
		x->cols = cols;
	}
	if (x->ctl != 0 && x->code == -2)
		rt_send(x->rt, SPN_K_WINCH, x->ctx, x->ctl, 0, b, sizeof b);
}

/* The signal that killed the command, or 0. */
int
exec_killed_by(struct xcl *x)
{
	return x->sig;
}

uint64_t
exec_bytes(struct xcl *x)
{
	return (x->in ? src_bytes(x->in) : 0) +
	    (x->out ? sink_bytes(x->out) : 0) +
	    (x->err ? sink_bytes(x->err) : 0);
}

/* Safe at any time: a call still running is cancelled, its process
 * signalled, and whatever it sends later is dropped. */
void
exec_free(struct xcl *x)
{
	int stay;

	if (x == NULL)
		return;
	stay = x->call != 0 && x->ctl == 0;
	if (x->call != 0 && !stay) {
		exec_signal(x, SIGKILL);
		call_cancel(x->rt, x->call);
	}
	src_free(x->in);
	sink_free(x->out);
	sink_free(x->err);
	free(x->error);
	if (stay) {
		x->in = NULL;
		x->out = x->err = NULL;
		x->error = NULL;
		x->done = NULL;
		x->abandoned = 1;
		return;
	}
	free(x);
}
