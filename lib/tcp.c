/*
 * spn_tcp_connect: a TCP connection made by a context, handed to the
 * caller as one end of a socketpair.  The loop thread joins the other end
 * to the connection with tcp_start (agent/tcp-client.c), and owns it from
 * then on: the caller only waits for the connect's outcome.
 *
 * The request is shared by the two threads: the loop lets go of it when
 * the connection ends, the caller once it has read the outcome (or gave
 * up); whoever is last frees it.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"

/* The far side answers by the timeout; past it and this, a context that
 * says nothing (a link stuck, not closed) no longer holds the caller. */
#define TX_GRACE_MS	5000

struct tx {
	pthread_cond_t	 cond;
	struct tcp_req	 req;
	char		*host;
	struct tcl	*tcl;		/* the loop's */
	/* Under api_lock. */
	int		 opened;
	int		 err;
	char		*text;
	int		 refs;		/* the caller's and the loop's */
	struct tx	*next;		/* the loop's live ones */
	struct tx	**prevp;
};

static struct tx	*tx_live;	/* the loop's */

static void
tx_unref(struct tx *x)
{
	int last;

	pthread_mutex_lock(&api_lock);
	last = --x->refs == 0;
	pthread_mutex_unlock(&api_lock);
	if (!last)
		return;
	pthread_cond_destroy(&x->cond);
	free(x->host);
	free(x->text);
	free(x);
}

static void
tx_open(struct tcl *t, int err, const char *text, void *arg)
{
	struct tx *x = arg;

	(void)t;
	pthread_mutex_lock(&api_lock);
	x->opened = 1;
	x->err = err;
	x->text = xstrdup(text);
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&api_lock);
}

static void
tx_done(struct tcl *t, const char *why, void *arg)
{
	struct tx *x = arg;

	if (why != NULL)
		log_debug("tcp %s:%u: %s", x->host, x->req.port, why);
	tcp_free(t);
	x->tcl = NULL;
	if ((*x->prevp = x->next) != NULL)
		x->next->prevp = x->prevp;
	tx_unref(x);
}

static void
tx_start_job(void *arg)
{
	struct tx *x = arg;

	if ((x->next = tx_live) != NULL)
		x->next->prevp = &x->next;
	x->prevp = &tx_live;
	tx_live = x;
	x->tcl = tcp_start(api_spn.rt, &x->req, tx_open, tx_done, x);
}

/* spn_shutdown, the loop stopped: every connection ends now (the
 * caller's socket reads its end), and no callback follows. */
void
tcp_free_all(void)
{
	struct tx *x;

	while ((x = tx_live) != NULL) {
		tx_live = x->next;
		if (tx_live != NULL)
			tx_live->prevp = &tx_live;
		tcp_free(x->tcl);
		x->tcl = NULL;
		tx_unref(x);
	}
}

/* The caller gave up waiting: the loop cuts it, if it is still there. */
static void
tx_drop_job(void *arg)
{
	struct tx *x = arg;

	if (x->tcl != NULL && !x->opened)
		tx_done(x->tcl, "abandoned", x);
	tx_unref(x);
}

/* The outcome as an spn_error: the far side's words for its failures. */
static int
tx_error(struct tx *x, struct spn_ctx *ctx, struct spn_error *err)
{
	const char *e = strerror(x->err);
	size_t tl = strlen(x->text), el = strlen(e);
	int code;

	switch (x->err) {
	case ECONNABORTED:
		code = SPN_ELOST;
		break;
	case ENOSYS:
		code = SPN_ENOFUNC;
		break;
	case EPERM:
		code = SPN_EREFUSED;
		break;
	case EPROTO:
		code = SPN_EPROTO;
		break;
	default:
		code = SPN_ECALL;
		break;
	}
	/* spn_error_format adds the errno's text: not twice. */
	if (code == SPN_ECALL && tl > el + 2 && strcmp(x->text + tl - el,
	    e) == 0 && strncmp(x->text + tl - el - 2, ": ", 2) == 0)
		x->text[tl - el - 2] = '\0';
	error_set(err, code, ctx->name, "%s", x->text);
	if (err != NULL && code == SPN_ECALL)
		err->sys_errno = x->err;
	return code;
}

static int
tx_check(struct spn_ctx *ctx, const char *host, int port, int timeout_ms,
    struct spn_error *err)
{
	if (ctx == NULL || host == NULL || *host == '\0')
		error_set(err, SPN_EINVAL, NULL, "spn_tcp_connect(): no "
		    "context or no host");
	else if (strlen(host) > 1024)
		error_set(err, SPN_EINVAL, ctx->name, "spn_tcp_connect(): a "
		    "host of %zu bytes", strlen(host));
	else if (*host == '/' ? port != 0 : port <= 0 || port > 65535)
		error_set(err, SPN_EINVAL, ctx->name, "spn_tcp_connect(): "
		    "port %d%s", port, *host == '/' ? " with a UNIX socket "
		    "(must be 0)" : "");
	else if (timeout_ms < 0)
		error_set(err, SPN_EINVAL, ctx->name, "spn_tcp_connect(): "
		    "timeout %d ms", timeout_ms);
	else
		return SPN_OK;
	return SPN_EINVAL;
}

/* Wait for the outcome; the caller's end of the pair, or -1. */
static int
tx_wait(struct tx *x, struct spn_ctx *ctx, int fd, struct spn_error *err)
{
	uint64_t deadline = api_deadline((x->req.timeout_ms != 0 ?
	    (int)x->req.timeout_ms : SPN_TCP_TIMEOUT_DEFAULT) + TX_GRACE_MS);
	int timedout = 0, code;

	pthread_mutex_lock(&api_lock);
	while (!x->opened && api_spn.state == API_UP && !timedout)
		timedout = api_wait(&x->cond, deadline) == ETIMEDOUT;
	if (x->opened && x->err == 0) {
		pthread_mutex_unlock(&api_lock);
		tx_unref(x);
		return fd;
	}
	close(fd);
	if (x->opened) {
		pthread_mutex_unlock(&api_lock);
		tx_error(x, ctx, err);
		tx_unref(x);
		return -1;
	}
	pthread_mutex_unlock(&api_lock);
	code = timedout ? SPN_ETIMEDOUT : SPN_ESHUTDOWN;
	error_set(err, code, ctx->name, "%s", timedout ? "no answer from "
	    "the context" : "spn_shutdown() was called");
	/* The loop's reference stays until it has let go. */
	if (api_submit(tx_drop_job, x) != 0)
		tx_unref(x);
	return -1;
}

int
spn_tcp_connect(struct spn_ctx *ctx, const char *host, int port,
    int timeout_ms, struct spn_error *err)
{
	struct tx *x;
	int sv[2], rv;

	if ((rv = api_enter_wait(1, "spn_tcp_connect()", err)) != SPN_OK)
		return -1;
	if (tx_check(ctx, host, port, timeout_ms, err) != SPN_OK) {
		api_leave();
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		error_set(err, SPN_ESYS, NULL, "socketpair");
		if (err != NULL)
			err->sys_errno = errno;
		api_leave();
		return -1;
	}
	x = xcalloc(1, sizeof *x);
	api_cond_init(&x->cond);
	x->refs = 2;
	x->host = xstrdup(host);
	x->req.ctx = ctx->id;
	x->req.flags = *host == '/' ? SPN_TCP_F_UNIX : 0;
	x->req.host = x->host;
	x->req.port = port;
	x->req.timeout_ms = timeout_ms;
	x->req.fd_in = x->req.fd_out = sv[1];
	if (api_submit(tx_start_job, x) != 0) {
		close(sv[0]);
		close(sv[1]);
		x->refs = 1;
		tx_unref(x);
		error_set(err, SPN_ESHUTDOWN, NULL, "spn_shutdown() was called");
		api_leave();
		return -1;
	}
	rv = tx_wait(x, ctx, sv[0], err);
	api_leave();
	return rv;
}
