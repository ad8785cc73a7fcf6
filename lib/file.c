/*
 * Files to and from contexts: the caller's side of FILE (agent/svc-file.c
 * has the far side and the protocol).  The caller's thread opens the
 * local file (for a get, a temporary file next to the local path) and
 * waits; the loop thread streams it through a src or a sink and says
 * when it is over; the caller's thread then syncs and renames (the disk
 * never holds up the loop), and words the error.
 *
 * A transfer's fd is always its own (the _fd forms dup the caller's), so
 * that a caller woken by spn_shutdown() may return while the loop still
 * holds it: the loop frees what was abandoned.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"

struct fx {
	pthread_cond_t	 cond;
	uint32_t	 op;		/* SPN_FILE_PUT or SPN_FILE_GET */
	uint32_t	 ctx;
	char		*remote;
	uint32_t	 mode;		/* PUT's */
	struct ftmp	 t;		/* the local file: t.fd is streamed */
	/* The loop's. */
	struct event	*ev;		/* the end, outside stream callbacks */
	uint32_t	 call;		/* reply handle while the call lasts */
	uint32_t	 ctl;		/* the far side's control handle */
	struct src	*src;
	struct sink	*sink;
	int		 sink_ended;
	int		 got_done;
	uint64_t	 done_bytes;
	int		 ended;
	/* The result: read by the caller once finished. */
	int		 code;		/* FX_DEAD: a dead letter's */
	uint32_t	 dead;		/* ... reason */
	int		 sys_errno;
	const char	*what;		/* SPN_ESYS: the local call that failed */
	char		*text;		/* else the far side's words */
	uint32_t	 rmode;		/* GET: the source's mode */
	/* Under api_lock. */
	int		 finished;
	int		 abandoned;
};

#define FX_DEAD		(-1)

static void
fx_free(struct fx *x)
{
	ftmp_abort(&x->t);
	free(x->remote);
	free(x->text);
	pthread_cond_destroy(&x->cond);
	free(x);
}

static const char *
fx_verb(const struct fx *x)
{
	return x->op == SPN_FILE_PUT ? "put" : "get";
}

/* On the loop: the outcome is known; the rest happens in fx_end_cb. */
static void
fx_end(struct fx *x, int code, int e, const char *what, const char *text)
{
	if (x->ended)
		return;
	x->ended = 1;
	x->code = code;
	x->sys_errno = e;
	x->what = what;
	if (text != NULL)
		x->text = str_clean(xstrdup(text));
	event_active(x->ev, EV_TIMEOUT, 0);
}

static void
fx_end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fx *x = arg;
	struct rt *rt = api_spn.rt;
	uint8_t b[4] = { 0, 0, 0, 0 };

	(void)fd;
	(void)what;
	/* Ended here (a local error) while the far side still works. */
	if (x->call != 0) {
		call_cancel(rt, x->call);
		x->call = 0;
		if (x->ctl != 0)
			rt_send(rt, SPN_K_CANCEL, x->ctx, x->ctl, 0, b, 4);
	}
	src_free(x->src);
	sink_free(x->sink);
	x->src = NULL;
	x->sink = NULL;
	event_free(x->ev);
	x->ev = NULL;
	pthread_mutex_lock(&api_lock);
	if (x->abandoned) {
		pthread_mutex_unlock(&api_lock);
		fx_free(x);
		return;
	}
	x->finished = 1;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&api_lock);
}

/* Both ends agree on the count: done.  A get waits for its sink to have
 * written it all. */
static void
fx_check(struct fx *x)
{
	uint64_t have;
	char text[128];

	if (!x->got_done || (x->sink != NULL && !x->sink_ended))
		return;
	have = x->sink != NULL ? sink_bytes(x->sink) : src_bytes(x->src);
	if (have == x->done_bytes) {
		fx_end(x, SPN_OK, 0, NULL, NULL);
		return;
	}
	snprintf(text, sizeof text, "%llu bytes here, %llu there",
	    (unsigned long long)have, (unsigned long long)x->done_bytes);
	fx_end(x, SPN_EPROTO, 0, NULL, text);
}

/* PUT: the local file is read to its end. */
static void
fx_src_done(struct src *s, const char *why, void *arg)
{
	struct fx *x = arg;
	uint8_t b[8];
	uint64_t n = src_bytes(s);

	if (why == NULL) {
		/* The far side renames only once it has them all. */
		be32_put(b, n >> 32);
		be32_put(b + 4, n);
		rt_send(api_spn.rt, SPN_K_CALL, x->ctx, x->ctl, 0, b, sizeof b);
	} else if (src_errno(s) != 0)
		fx_end(x, SPN_ESYS, src_errno(s), "read", NULL);
	/* Else the far side stopped it: its reply says why. */
}

/* GET: the stream has ended. */
static void
fx_sink_done(struct sink *s, const char *why, void *arg)
{
	struct fx *x = arg;

	if (why == NULL) {
		x->sink_ended = 1;
		fx_check(x);
	} else if (sink_errno(s) != 0)
		fx_end(x, SPN_ESYS, sink_errno(s), "write", NULL);
	else if (x->call == 0) {
		/* Lost while we still wrote what came before DONE: no
		 * reply is left to say so. */
		x->dead = SPN_D_LOST;
		fx_end(x, FX_DEAD, 0, NULL, why);
	}
	/* Else the far side's reply says why. */
}

static int
fx_reply(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct fx *x = arg;
	struct upk u;
	uint32_t tag, a, b, reason;
	char *text;

	if (m->h.kind == SPN_K_DEAD) {
		upk_init(&u, m->data, m->h.len);
		reason = upk_u32(&u);
		text = call_dead_text(m);
		x->call = 0;
		x->ctl = 0;
		x->dead = u.err ? 0 : reason;	/* 0: EPROTO */
		fx_end(x, FX_DEAD, 0, NULL, text);
		free(text);
		return 0;
	}
	upk_init(&u, m->data, m->h.len);
	tag = upk_u32(&u);
	a = upk_u32(&u);
	b = upk_u32(&u);
	if (!u.err && tag == SPN_FILE_READY && x->op == SPN_FILE_PUT &&
	    x->src == NULL && x->ctl == 0) {
		x->ctl = b;
		x->src = src_new(rt, x->t.fd, 0, x->ctx, a, fx_src_done, x);
		return 1;
	}
	if (!u.err && tag == SPN_FILE_INFO && x->op == SPN_FILE_GET &&
	    x->ctl == 0) {
		x->rmode = upk_u32(&u);
		x->ctl = upk_u32(&u);
		if (!u.err && x->ctl != 0)
			return 1;
	}
	x->call = 0;
	x->ctl = 0;	/* the last reply: nothing to cancel there */
	if (!u.err && tag == SPN_FILE_DONE && (x->src != NULL ||
	    x->sink != NULL)) {
		x->got_done = 1;
		x->done_bytes = (uint64_t)a << 32 | b;
		fx_check(x);
		return 0;
	}
	upk_init(&u, m->data, m->h.len);
	tag = upk_u32(&u);
	a = upk_u32(&u);
	text = upk_str(&u);
	if (!u.err && tag == SPN_FILE_FAILED && text != NULL)
		fx_end(x, SPN_ECALL, a, NULL, text);
	else
		fx_end(x, SPN_EPROTO, 0, NULL, "malformed FILE reply");
	free(text);
	return 0;
}

static void
fx_start_job(void *arg)
{
	struct fx *x = arg;
	struct rt *rt = api_spn.rt;
	struct pk pk;

	x->ev = event_new(api_spn.base, -1, 0, fx_end_cb, x);
	if (x->op == SPN_FILE_GET)
		x->sink = sink_new(rt, x->t.fd, 0, x->ctx, fx_sink_done, x);
	pk_init(&pk);
	pk_u32(&pk, x->op);
	pk_str(&pk, x->remote);
	pk_u32(&pk, x->mode);
	pk_u32(&pk, x->sink != NULL ? sink_handle(x->sink) : 0);
	x->call = call_start(rt, x->ctx, SPN_H_FILE, &pk, fx_reply, x);
	pk_free(&pk);
}

/* The error of a transfer that ended, whole: the side that failed, the
 * path and the errno. */
static int
fx_error(struct fx *x, const char *ctx, const char *local,
    struct spn_error *err)
{
	int code = x->code;

	if (code == SPN_OK)
		return SPN_OK;
	if (code == SPN_ESYS) {
		error_set(err, code, NULL, "%s %s", x->what, local);
		if (err != NULL)
			err->sys_errno = x->sys_errno;
		return code;
	}
	if (code == SPN_ECALL || code == SPN_EPROTO) {
		error_set(err, code, ctx, "%s%s%s", code == SPN_EPROTO ?
		    fx_verb(x) : "", code == SPN_EPROTO ? ": " : "", x->text);
		if (err != NULL)
			err->sys_errno = x->sys_errno;
		return code;
	}
	if (x->dead == SPN_D_NO_HANDLE) {
		error_set(err, SPN_ENOFUNC, ctx, "context %s has no FILE "
		    "service (%s)", ctx, x->text);
		return SPN_ENOFUNC;
	}
	code = error_from_dead(err, x->dead, x->text, ctx);
	if (err != NULL) {
		char msg[sizeof err->message + PATH_MAX + 8];

		/* Cut to fit, as error_set does. */
		snprintf(msg, sizeof msg, "%s %s: %s", fx_verb(x), x->remote,
		    err->message);
		memcpy(err->message, msg, sizeof err->message - 1);
	}
	return code;
}

/*
 * Run one transfer and wait for its end.  x is the caller's again on
 * return, but after SPN_ESHUTDOWN: then it is the loop's to free.
 */
static int
fx_run(struct spn_ctx *ctx, struct fx *x, struct spn_error *err)
{
	x->ctx = ctx->id;
	api_cond_init(&x->cond);
	if (api_submit(fx_start_job, x) != 0) {
		error_set(err, SPN_ESHUTDOWN, NULL, "spn_shutdown() was called");
		fx_free(x);
		return SPN_ESHUTDOWN;
	}
	pthread_mutex_lock(&api_lock);
	while (!x->finished && api_spn.state == API_UP)
		api_wait(&x->cond, 0);
	if (!x->finished) {
		/* A named temporary file goes now; the loop frees the rest
		 * when the transfer ends (shutdown ends it). */
		if (x->t.tmp != NULL) {
			unlinkat(x->t.dirfd, x->t.tmp, 0);
			free(x->t.tmp);
			x->t.tmp = NULL;
		}
		x->abandoned = 1;
		pthread_mutex_unlock(&api_lock);
		error_set(err, SPN_ESHUTDOWN, ctx->name, "spn_shutdown() was "
		    "called");
		return SPN_ESHUTDOWN;
	}
	pthread_mutex_unlock(&api_lock);
	return SPN_OK;
}

/* The checks every form makes; SPN_OK, or the error, with the caller
 * gone from api_enter when it is not SPN_OK. */
static int
file_enter(const char *fn, struct spn_ctx *ctx, const char *remote,
    int mode, struct spn_error *err)
{
	int rv;

	if ((rv = api_enter(err)) != SPN_OK)
		return rv;
	if (api_on_loop())
		error_set(err, rv = SPN_EDEADLK, NULL, "%s()" API_LOOP_TEXT, fn);
	else if (ctx == NULL || remote == NULL || *remote == '\0')
		error_set(err, rv = SPN_EINVAL, NULL, "%s(): no context or no "
		    "path", fn);
	else if (strlen(remote) >= PATH_MAX)
		error_set(err, rv = SPN_EINVAL, ctx->name, "%s(): a path of %zu "
		    "bytes (PATH_MAX is %d)", fn, strlen(remote), PATH_MAX);
	else if (mode < -1 || mode > 07777)
		error_set(err, rv = SPN_EINVAL, ctx->name, "%s(): mode %#o",
		    fn, (unsigned)mode);
	if (rv != SPN_OK)
		api_leave();
	return rv;
}

static struct fx *
fx_new(uint32_t op, const char *remote, int fd)
{
	struct fx *x = xcalloc(1, sizeof *x);

	x->op = op;
	x->remote = xstrdup(remote);
	ftmp_init(&x->t, fd);
	return x;
}

/* An fd of our own for a transfer; -1 with err set. */
static int
file_dup(int fd, struct spn_error *err)
{
	int own;

	if ((own = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		error_set(err, SPN_ESYS, NULL, "fd %d", fd);
		if (err != NULL)
			err->sys_errno = errno;
	}
	return own;
}

static int
file_put(struct spn_ctx *ctx, int fd, const char *local, const char *remote,
    int mode, struct spn_error *err)
{
	struct fx *x = fx_new(SPN_FILE_PUT, remote, fd);
	int rv;

	x->mode = mode < 0 ? 0644 : mode;
	if ((rv = fx_run(ctx, x, err)) != SPN_OK)
		return rv;
	rv = fx_error(x, ctx->name, local, err);
	fx_free(x);
	return rv;
}

int
spn_put_file(struct spn_ctx *ctx, const char *local, const char *remote,
    int mode, struct spn_error *err)
{
	struct stat st;
	int fd, rv;

	if ((rv = file_enter("spn_put_file", ctx, remote, mode, err)) != SPN_OK)
		return rv;
	if (local == NULL)
		error_set(err, rv = SPN_EINVAL, NULL, "spn_put_file(): no "
		    "local path");
	else if ((fd = open(local, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 ||
	    fstat(fd, &st) != 0) {
		error_set(err, rv = SPN_ESYS, NULL, "open %s", local);
		if (err != NULL)
			err->sys_errno = errno;
		if (fd >= 0)
			close(fd);
	} else if (!S_ISREG(st.st_mode)) {
		error_set(err, rv = S_ISDIR(st.st_mode) ? SPN_ESYS : SPN_EINVAL,
		    NULL, "put %s%s", local, S_ISDIR(st.st_mode) ? "" :
		    ": not a regular file (spn_put_fd streams any fd)");
		if (err != NULL && S_ISDIR(st.st_mode))
			err->sys_errno = EISDIR;
		close(fd);
	} else
		rv = file_put(ctx, fd, local, remote, mode, err);
	api_leave();
	return rv;
}

int
spn_put_fd(struct spn_ctx *ctx, int fd, const char *remote, int mode,
    struct spn_error *err)
{
	char local[32];
	int own, rv;

	if ((rv = file_enter("spn_put_fd", ctx, remote, mode, err)) != SPN_OK)
		return rv;
	snprintf(local, sizeof local, "fd %d", fd);
	if ((own = file_dup(fd, err)) < 0)
		rv = SPN_ESYS;
	else
		rv = file_put(ctx, own, local, remote, mode, err);
	api_leave();
	return rv;
}

/* Run a get into x->t.fd; SPN_OK with x the caller's still. */
static int
file_get(struct spn_ctx *ctx, struct fx *x, const char *local,
    struct spn_error *err)
{
	int rv;

	if ((rv = fx_run(ctx, x, err)) != SPN_OK)
		return rv;
	if ((rv = fx_error(x, ctx->name, local, err)) != SPN_OK)
		fx_free(x);
	return rv;
}

int
spn_get_file(struct spn_ctx *ctx, const char *remote, const char *local,
    int mode, struct spn_error *err)
{
	const char *what;
	struct fx *x;
	struct ftmp t;
	int rv;

	if ((rv = file_enter("spn_get_file", ctx, remote, mode, err)) != SPN_OK)
		return rv;
	if (local == NULL || *local == '\0') {
		error_set(err, rv = SPN_EINVAL, NULL, "spn_get_file(): no "
		    "local path");
		goto out;
	}
	if (ftmp_open(&t, local) != 0) {
		error_set(err, rv = SPN_ESYS, NULL, "open %s", local);
		if (err != NULL)
			err->sys_errno = errno;
		goto out;
	}
	x = fx_new(SPN_FILE_GET, remote, -1);
	x->t = t;
	if ((rv = file_get(ctx, x, local, err)) != SPN_OK)
		goto out;
	if (ftmp_commit(&x->t, mode < 0 ? x->rmode : (uint32_t)mode,
	    &what) != 0) {
		error_set(err, rv = SPN_ESYS, NULL, "%s %s", what, local);
		if (err != NULL)
			err->sys_errno = errno;
	}
	fx_free(x);
out:
	api_leave();
	return rv;
}

int
spn_get_fd(struct spn_ctx *ctx, const char *remote, int fd,
    struct spn_error *err)
{
	char local[32];
	struct fx *x;
	int own, rv;

	if ((rv = file_enter("spn_get_fd", ctx, remote, -1, err)) != SPN_OK)
		return rv;
	snprintf(local, sizeof local, "fd %d", fd);
	if ((own = file_dup(fd, err)) < 0)
		rv = SPN_ESYS;
	else {
		x = fx_new(SPN_FILE_GET, remote, own);
		if ((rv = file_get(ctx, x, local, err)) == SPN_OK)
			fx_free(x);
	}
	api_leave();
	return rv;
}
