/*
 * Contexts: spn_connect() brings a route up as a chain of its own (the
 * loop thread runs it; the caller waits), and the context it returns is
 * the route's last hop.  Dropping the last reference closes the chain's
 * first hop, and with it every context of the route.
 */
#include <sys/resource.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

/* One spn_connect(): its route and chain, owned by the loop thread. */
struct conn {
	struct api_node	 node;		/* api_spn.conns */
	struct route	 route;
	struct master_opts mo;
	struct chain	*chain;
	pthread_cond_t	 cond;
	pthread_cond_t	*group;		/* spn_connect_many's: told too */
	int		 done;		/* the chain said up or failed */
	char		*err;		/* why it failed */
	uint32_t	 via;		/* spn_connect_from's: hop 1's parent */
	size_t		 via_hops;	/* ... and the hops of its route */
	int		 closing;	/* spn_ctx_shutdown: no new calls */
	int		 grace_ms;	/* ... and how long ours may run */
	unsigned	 calls;		/* loop: our calls in flight there */
	struct event	*grace;		/* loop: the end of the grace */
	int		 stdio;		/* SPN_STDIO_* */
};

/* A connect error's code, from the chain's words (bootstrap/connect.c). */
static int
ctx_connect_code(const char *text)
{
	if (error_is_auth(text))
		return SPN_EAUTH;
	if (strstr(text, "remote is ") != NULL && strstr(text, " only") != NULL)
		return SPN_EARCH;
	if (strstr(text, "(connect timeout)") != NULL)
		return SPN_ETIMEDOUT;
	return SPN_ECONNECT;
}

/* "hop 2 (bastion+web): sudo: incorrect password": the hop goes to the
 * error's context, the rest to its message.  Where the chain names the
 * spindle command's password options, a program has spn_connect_opts. */
static void
ctx_connect_error(struct spn_error *err, const char *text)
{
	const char *end, *hint;
	char buf[sizeof err->message + sizeof err->context];
	int code = ctx_connect_code(text);

	if ((hint = strstr(text, CONNECT_PW_HINT)) != NULL) {
		snprintf(buf, sizeof buf, "%.*sspn_connect_opts' password or "
		    "password_file%s", (int)(hint - text), text,
		    hint + strlen(CONNECT_PW_HINT));
		text = buf;
	}

	if (strncmp(text, "hop ", 4) == 0 &&
	    (end = strstr(text, "): ")) != NULL &&
	    (size_t)(end + 1 - text) < sizeof err->context) {
		error_set(err, code, NULL, "%s", end + 3);
		memcpy(err->context, text, end + 1 - text);
		err->context[end + 1 - text] = '\0';
	} else
		error_set(err, code, NULL, "%s", text);
}

/* On the loop, freeing the chain closes it (and its hop 1). */
static void
conn_free(struct conn *c)
{
	if (c->grace != NULL)
		event_free(c->grace);
	chain_free(c->chain);
	route_free(&c->route);
	password_free(c->mo.password);
	free(c->err);
	pthread_cond_destroy(&c->cond);
	free(c);
}

static void
conn_free_now(void *arg)
{
	struct conn *c = arg;

	pthread_mutex_lock(&api_lock);
	api_list_del(&c->node);
	pthread_mutex_unlock(&api_lock);
	conn_free(c);
}

/* On the loop: what the route's contexts printed last comes in first
 * (output_sync, at most 2 s), then the route closes. */
static void
conn_free_job(void *arg)
{
	struct conn *c = arg;
	uint32_t *ids;
	size_t n;

	if (c->chain == NULL) {
		conn_free_now(c);
		return;
	}
	n = chain_hops(c->chain);
	ids = xcalloc(n, sizeof *ids);
	for (size_t i = 0; i < n; i++)
		ids[i] = chain_ctx(c->chain, i);
	output_sync(&api_spn, ids, n, conn_free_now, c);
	free(ids);
}

static void
conn_up(struct chain *chain, const char *err, void *arg)
{
	struct conn *c = arg;

	/* Every hop runs this program: each one's output to the handler. */
	for (size_t i = 0; err == NULL && i < chain_hops(chain); i++)
		output_ctx_up(&api_spn, chain_ctx(chain, i),
		    c->route.hops[i].name, c->stdio);
	pthread_mutex_lock(&api_lock);
	c->done = 1;
	if (err != NULL)
		c->err = xstrdup(err);
	pthread_cond_broadcast(&c->cond);
	if (c->group != NULL)
		pthread_cond_broadcast(c->group);
	pthread_mutex_unlock(&api_lock);
}

static void
conn_start_job(void *arg)
{
	struct conn *c = arg;

	c->chain = chain_new(api_spn.master, &c->route, &c->mo);
	if (c->via != SPN_CTX_NONE)
		chain_via(c->chain, c->via, c->via_hops);
	chain_connect(c->chain, conn_up, c);
}

struct spn_ctx *
ctx_new(struct spn *spn, uint32_t id, const char *name, struct conn *conn)
{
	struct spn_ctx *ctx = xcalloc(1, sizeof *ctx);

	ctx->spn = spn;
	ctx->refs = 1;
	ctx->id = id;
	ctx->name = xstrdup(name);
	ctx->conn = conn;
	pthread_mutex_lock(&api_lock);
	api_list_add(&spn->ctxs, &ctx->node);
	pthread_mutex_unlock(&api_lock);
	return ctx;
}

static int
ctx_opts(struct conn *c, const struct spn_connect_opts *o,
    struct spn_error *err)
{
	char why[512];

	c->mo.keepalive = -1;
	c->mo.timeout = MASTER_TIMEOUT_DEFAULT;
	c->mo.password_secs = -1;
	if (o == NULL)
		return SPN_OK;
	if (o->timeout < 0 || o->keepalive < -1) {
		error_set(err, SPN_EINVAL, NULL, "negative timeout or "
		    "keepalive");
		return SPN_EINVAL;
	}
	if (o->stdio != SPN_STDIO_FORWARD && o->stdio != SPN_STDIO_DISCARD) {
		error_set(err, SPN_EINVAL, NULL, "stdio is not one of "
		    "SPN_STDIO_FORWARD, SPN_STDIO_DISCARD");
		return SPN_EINVAL;
	}
	c->stdio = o->stdio;
	if (o->timeout > 0)
		c->mo.timeout = o->timeout;
	if (o->keepalive > 0)
		c->mo.keepalive = o->keepalive;
	else if (o->keepalive == -1)
		c->mo.keepalive = 0;	/* off */
	/*
	 * Our own copy, wiped with the conn: spn_connect() may return (a
	 * shutdown) before the loop has read it.  A password file is read
	 * here, on the caller's thread: the loop serves every context, and
	 * a file that blocks (a FIFO, a hung mount) would stop them all.
	 */
	if (o->password != NULL && *o->password != '\0') {
		/* spindle's rule, as for one read from a file: a process
		 * that holds a password leaves no core file. */
		secret_nodump();
		c->mo.password = xstrdup(o->password);
	} else if (o->password_file != NULL && (c->mo.password =
	    password_from_file(o->password_file, why, sizeof why)) == NULL) {
		error_set(err, SPN_ECONNECT, NULL, "%s", why);
		return SPN_ECONNECT;
	}
	return SPN_OK;
}

/* The rest of a route from via: its hops are named after via's. */
static int
conn_route(struct conn *c, const char *text, const struct spn_ctx *via,
    struct spn_error *err)
{
	char why[512], *name;

	if (route_parse(text, NULL, &c->route, why, sizeof why) != 0) {
		error_set(err, SPN_EINVAL, via != NULL ? via->name : NULL, "%s",
		    why);
		return SPN_EINVAL;
	}
	if (via == NULL)
		return SPN_OK;
	c->via = via->id;
	c->via_hops = 1;
	for (const char *p = via->name; *p != '\0'; p++)
		c->via_hops += *p == '+';
	for (size_t i = 0; i < c->route.nhops; i++) {
		name = xprintf("%s+%s", via->name, c->route.hops[i].name);
		free(c->route.hops[i].name);
		c->route.hops[i].name = name;
	}
	return SPN_OK;
}

/* Parse and hand to the loop: SPN_OK with *cp, which conn_finish ends. */
static int
conn_start(struct spn *spn, const char *text, const struct spn_ctx *via,
    const struct spn_connect_opts *o, pthread_cond_t *group,
    struct conn **cp, struct spn_error *err)
{
	struct conn *c;
	int rv;

	c = xcalloc(1, sizeof *c);
	api_cond_init(&c->cond);
	c->group = group;
	if ((rv = ctx_opts(c, o, err)) != SPN_OK ||
	    (rv = conn_route(c, text, via, err)) != SPN_OK) {
		conn_free(c);
		return rv;
	}
	pthread_mutex_lock(&api_lock);
	api_list_add(&spn->conns, &c->node);
	pthread_mutex_unlock(&api_lock);
	if (api_submit(conn_start_job, c) != 0) {
		pthread_mutex_lock(&api_lock);
		api_list_del(&c->node);
		pthread_mutex_unlock(&api_lock);
		conn_free(c);
		error_set(err, SPN_ESHUTDOWN, NULL, "spn_shutdown() was called");
		return SPN_ESHUTDOWN;
	}
	*cp = c;
	return SPN_OK;
}

/* The chain said up or failed (c->done, read under api_lock): the
 * context, or the error and the chain freed. */
static int
conn_finish(struct spn *spn, struct conn *c, struct spn_ctx **out,
    struct spn_error *err)
{
	int rv;

	/* Done: the loop no longer reads c->mo (the chain wiped its
	 * copies); ours goes too. */
	password_free(c->mo.password);
	c->mo.password = NULL;
	c->group = NULL;
	if (c->err != NULL) {
		ctx_connect_error(err, c->err);
		rv = err != NULL ? err->code : ctx_connect_code(c->err);
		/* Shut down meanwhile: freed with the other chains. */
		(void)api_submit(conn_free_job, c);
		return rv;
	}
	*out = ctx_new(spn, chain_last(c->chain),
	    c->route.hops[c->route.nhops - 1].name, c);
	return SPN_OK;
}

static int
ctx_connect(struct spn *spn, const char *text, const struct spn_ctx *via,
    const struct spn_connect_opts *o, struct spn_ctx **out,
    struct spn_error *err)
{
	struct conn *c;
	int rv;

	if ((rv = conn_start(spn, text, via, o, NULL, &c, err)) != SPN_OK)
		return rv;
	pthread_mutex_lock(&api_lock);
	while (!c->done && spn->state == API_UP)
		api_wait(&c->cond, 0);
	if (!c->done) {
		/* Shutdown frees it with the other chains. */
		pthread_mutex_unlock(&api_lock);
		error_set(err, SPN_ESHUTDOWN, NULL, "spn_shutdown() was called");
		return SPN_ESHUTDOWN;
	}
	pthread_mutex_unlock(&api_lock);
	return conn_finish(spn, c, out, err);
}

/* spn_connect and spn_connect_from (via set; fn: which). */
static int
ctx_connect_api(struct spn *spn, struct spn_ctx *via, const char *fn,
    const char *route, const struct spn_connect_opts *o,
    struct spn_ctx **out, struct spn_error *err)
{
	int rv;

	if (out != NULL)
		*out = NULL;
	if ((rv = api_enter(err)) != SPN_OK)
		return rv;
	if (spn == NULL)
		spn = &api_spn;
	if (api_on_loop())
		error_set(err, rv = SPN_EDEADLK, NULL, "%s()" API_LOOP_TEXT,
		    fn);
	else if (route == NULL || *route == '\0' || out == NULL)
		error_set(err, rv = SPN_EINVAL, NULL, "no route");
	else if (spn->agent)
		error_set(err, rv = SPN_EINVAL, NULL, "%s() in a context: not "
		    "yet (only the master connects)", fn);
	else
		rv = ctx_connect(spn, route, via, o, out, err);
	api_leave();
	return rv;
}

int
spn_connect(struct spn *spn, const char *route,
    const struct spn_connect_opts *o, struct spn_ctx **out,
    struct spn_error *err)
{
	return ctx_connect_api(spn, NULL, "spn_connect", route, o, out, err);
}

/*
 * A context a message names: a new struct spn_ctx of ours, which closes
 * nothing when dropped (the chain is its creator's).  Its id and name are
 * the sender's word: calls to it go where the id leads, as far as the
 * routers' policy lets them, and the name only labels errors.
 */
struct spn_ctx *
spn_value_ctx(const struct spn_value *v)
{
	struct spn_ctx *ctx;
	const char *name;
	char *clean;
	uint32_t id;

	if (value_ctx(v, &id, &name) != 0 || api_enter(NULL) != SPN_OK)
		return NULL;
	clean = str_clean(xstrdup(name));
	ctx = ctx_new(&api_spn, id, clean, NULL);
	free(clean);
	api_leave();
	return ctx;
}

struct spn_ctx *
spn_arg_ctx(const struct spn_value *a, size_t i)
{
	return spn_value_ctx(spn_value_at(a, i));
}

int
spn_connect_from(struct spn_ctx *via, const char *route,
    const struct spn_connect_opts *o, struct spn_ctx **out,
    struct spn_error *err)
{
	if (via == NULL) {
		if (out != NULL)
			*out = NULL;
		error_set(err, SPN_EINVAL, NULL, "no context to connect from");
		return SPN_EINVAL;
	}
	return ctx_connect_api(via->spn, via, "spn_connect_from", route, o,
	    out, err);
}

/*
 * What a context costs in the master's fds (measured: architecture.md,
 * "Fan-out"): the pipes to its stdin, from its stdout and from its
 * stderr, and its pidfd; one more while it boots (the pipe that says
 * whether its exec failed).
 */
#define CTX_FDS		4
#define CTX_FDS_SPARE	64	/* for the program's own files */

/* How many fds the process has open (counted in /proc/self/fd), or -1. */
static long
ctx_open_fds(void)
{
	DIR *d;
	struct dirent *e;
	long n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the directory's own */
}

/*
 * Room for n more contexts: the soft RLIMIT_NOFILE raised toward the
 * hard one (never past it, never lowered).  Contexts past the hard limit
 * fail on their own (EMFILE, in their error).
 */
static void
ctx_fd_room(size_t n, unsigned window)
{
	struct rlimit rl;
	long open;
	rlim_t want;

	if ((open = ctx_open_fds()) < 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	want = (rlim_t)open + (rlim_t)n * CTX_FDS + window + CTX_FDS_SPARE;
	if (rl.rlim_cur == RLIM_INFINITY || want <= rl.rlim_cur)
		return;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
		want = rl.rlim_max;
	if (want <= rl.rlim_cur)
		return;
	log_debug("raising the soft fd limit from %llu to %llu for %zu "
	    "contexts", (unsigned long long)rl.rlim_cur,
	    (unsigned long long)want, n);
	rl.rlim_cur = want;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

/* One route of many, on its way. */
struct many_conn {
	struct conn	*c;
	size_t		 i;
};

/* Under api_lock: is any of them done? */
static int
ctx_many_any(const struct many_conn *fly, size_t nfly)
{
	for (size_t k = 0; k < nfly; k++) {
		if (fly[k].c->done)
			return 1;
	}
	return 0;
}

/* Those done: their context or error, and their slot free. */
static size_t
ctx_many_reap(struct spn *spn, struct many_conn *fly, size_t *nfly,
    struct spn_ctx **ctxs, struct spn_error *errs)
{
	struct spn_error e0;
	size_t k = 0, failed = 0;
	int done;

	while (k < *nfly) {
		pthread_mutex_lock(&api_lock);
		done = fly[k].c->done;
		pthread_mutex_unlock(&api_lock);
		if (!done) {
			k++;
			continue;
		}
		if (conn_finish(spn, fly[k].c, &ctxs[fly[k].i], errs != NULL ?
		    &errs[fly[k].i] : &e0) != SPN_OK)
			failed++;
		fly[k] = fly[--*nfly];
	}
	return failed;
}

static int
ctx_connect_many(struct spn *spn, const char *const *routes, size_t n,
    unsigned window, const struct spn_connect_opts *o,
    struct spn_ctx **ctxs, struct spn_error *errs)
{
	struct spn_error e0;
	pthread_cond_t group;
	struct many_conn *fly;
	size_t next = 0, nfly = 0, failed = 0;
	int rv = SPN_OK;

	if (window == 0)
		window = 8;
	if (window > n)
		window = (unsigned)n;
	ctx_fd_room(n, window);
	api_cond_init(&group);
	fly = xcalloc(window > 0 ? window : 1, sizeof *fly);
	while (next < n || nfly > 0) {
		while (next < n && nfly < window && rv == SPN_OK) {
			rv = conn_start(spn, routes[next], NULL, o, &group,
			    &fly[nfly].c, errs != NULL ? &errs[next] : &e0);
			if (rv == SPN_OK)
				fly[nfly++].i = next;
			else if (rv != SPN_ESHUTDOWN) {
				failed++;
				rv = SPN_OK;
			}
			next++;
		}
		if (rv != SPN_OK || nfly == 0)
			break;
		pthread_mutex_lock(&api_lock);
		while (!ctx_many_any(fly, nfly) && spn->state == API_UP)
			api_wait(&group, 0);
		if (spn->state != API_UP)
			rv = SPN_ESHUTDOWN;
		pthread_mutex_unlock(&api_lock);
		if (rv != SPN_OK)
			break;
		failed += ctx_many_reap(spn, fly, &nfly, ctxs, errs);
	}
	/* Shut down: shutdown frees those in flight; they tell nobody now. */
	pthread_mutex_lock(&api_lock);
	for (size_t k = 0; k < nfly; k++)
		fly[k].c->group = NULL;
	pthread_mutex_unlock(&api_lock);
	free(fly);
	pthread_cond_destroy(&group);
	if (rv != SPN_OK) {
		/* Shutdown frees the contexts made too. */
		for (size_t i = 0; i < n; i++) {
			ctxs[i] = NULL;
			error_set(errs != NULL ? &errs[i] : &e0, rv, NULL,
			    "spn_shutdown() was called");
		}
		return -rv;
	}
	return (int)failed;
}

int
spn_connect_many(struct spn *spn, const char *const *routes, size_t n,
    unsigned window, const struct spn_connect_opts *o,
    struct spn_ctx **ctxs, struct spn_error *errs)
{
	int rv;

	if (ctxs != NULL) {
		for (size_t i = 0; i < n; i++)
			ctxs[i] = NULL;
	}
	if (errs != NULL)
		memset(errs, 0, n * sizeof *errs);
	if ((rv = api_enter(NULL)) != SPN_OK)
		return -rv;
	if (spn == NULL)
		spn = &api_spn;
	if (api_on_loop())
		rv = -SPN_EDEADLK;
	else if (routes == NULL || ctxs == NULL || spn->agent)
		rv = -SPN_EINVAL;
	else {
		for (size_t i = 0; i < n; i++) {
			if (routes[i] == NULL)
				rv = -SPN_EINVAL;
		}
		if (rv == 0)
			rv = ctx_connect_many(spn, routes, n, window, o, ctxs,
			    errs);
	}
	api_leave();
	return rv;
}

struct spn_ctx *
spn_parent(struct spn *spn)
{
	struct spn_ctx *parent;

	if (spn == NULL)
		spn = &api_spn;
	if (api_enter(NULL) != SPN_OK)
		return NULL;
	parent = spn->parent;
	api_leave();
	return parent;
}

const char *
spn_ctx_name(const struct spn_ctx *ctx)
{
	return ctx != NULL ? ctx->name : NULL;
}

uint32_t
spn_ctx_id(const struct spn_ctx *ctx)
{
	return ctx != NULL ? ctx->id : SPN_CTX_NONE;
}

struct spn_ctx *
spn_ctx_ref(struct spn_ctx *ctx)
{
	if (ctx == NULL || api_enter(NULL) != SPN_OK)
		return ctx;
	pthread_mutex_lock(&api_lock);
	ctx->refs++;
	pthread_mutex_unlock(&api_lock);
	api_leave();
	return ctx;
}

/* The last reference gone: its chain closes on the loop. */
void
spn_ctx_unref(struct spn_ctx *ctx)
{
	struct conn *conn;

	if (ctx == NULL || ctx == api_spn.parent || api_enter(NULL) != SPN_OK)
		return;
	pthread_mutex_lock(&api_lock);
	if (--ctx->refs != 0) {
		pthread_mutex_unlock(&api_lock);
		api_leave();
		return;
	}
	api_list_del(&ctx->node);
	pthread_mutex_unlock(&api_lock);
	conn = ctx->conn;
	free(ctx->name);
	free(ctx);
	/* The loop drops a receiver's reference when its answer comes
	 * after the program let go of both: it frees the chain itself. */
	if (conn != NULL && api_on_loop())
		conn_free_job(conn);
	else if (conn != NULL)
		(void)api_submit(conn_free_job, conn);
	api_leave();
}

/* On the loop: the route closes, the grace (if any) is over. */
static void
conn_close(struct conn *c)
{
	if (c->grace != NULL) {
		event_free(c->grace);
		c->grace = NULL;
	}
	chain_close(c->chain);
}

static void
conn_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_close(arg);
}

/*
 * On the loop: with calls of ours still running there, they get up to
 * grace_ms to answer (no new one starts: ctx_closing); the route closes
 * when the last has answered, or when the time is up.
 */
static void
ctx_shutdown_job(void *arg)
{
	struct conn *c = arg;
	struct timeval tv;

	if (c->calls == 0 || c->grace_ms <= 0 || c->grace != NULL) {
		if (c->grace == NULL)
			conn_close(c);
		return;
	}
	tv.tv_sec = c->grace_ms / 1000;
	tv.tv_usec = (c->grace_ms % 1000) * 1000;
	c->grace = evtimer_new(api_spn.base, conn_grace_cb, c);
	evtimer_add(c->grace, &tv);
}

int
spn_ctx_shutdown(struct spn_ctx *ctx, int grace_ms)
{
	int rv;

	if (ctx == NULL)
		return SPN_EINVAL;
	if ((rv = api_enter(NULL)) != SPN_OK)
		return rv;
	if (ctx->conn == NULL)
		rv = SPN_EINVAL;	/* the parent is not ours to end */
	else {
		pthread_mutex_lock(&api_lock);
		if (!ctx->conn->closing)
			ctx->conn->grace_ms = grace_ms;
		ctx->conn->closing = 1;
		pthread_mutex_unlock(&api_lock);
		if (api_submit(ctx_shutdown_job, ctx->conn) != 0)
			rv = SPN_ESHUTDOWN;
	}
	api_leave();
	return rv;
}

/* Under api_lock: spn_ctx_shutdown() was called, no call may start. */
int
ctx_closing(const struct spn_ctx *ctx)
{
	return ctx->conn != NULL && ctx->conn->closing;
}

/* On the loop: a call of ours to ctx was sent, or has ended (answered,
 * failed, cancelled or closed).  The last one in a grace closes it. */
void
ctx_call_begin(struct spn_ctx *ctx)
{
	if (ctx->conn != NULL)
		ctx->conn->calls++;
}

void
ctx_call_end(struct spn_ctx *ctx)
{
	struct conn *c = ctx->conn;

	if (c != NULL && c->calls > 0 && --c->calls == 0 && c->grace != NULL)
		conn_close(c);
}

/* On the loop, at shutdown: every chain closes. */
void
ctx_close_all(struct spn *spn)
{
	struct api_node *n;

	pthread_mutex_lock(&api_lock);
	for (n = spn->conns.next; n != &spn->conns; n = n->next) {
		struct conn *c = (struct conn *)n;

		if (c->chain != NULL)
			chain_close(c->chain);
	}
	pthread_mutex_unlock(&api_lock);
}

/* The loop has stopped: nothing else touches these. */
void
ctx_free_all(struct spn *spn)
{
	struct api_node *n;

	while ((n = spn->conns.next) != &spn->conns) {
		api_list_del(n);
		conn_free((struct conn *)n);
	}
	while ((n = spn->ctxs.next) != &spn->ctxs) {
		struct spn_ctx *ctx = (struct spn_ctx *)n;

		api_list_del(n);
		free(ctx->name);
		free(ctx);
	}
	spn->parent = NULL;
}

/* spn_exec(): the EXEC service, as `spindle run` uses it. */
struct exec_wait {
	pthread_cond_t	 cond;
	struct exec_req	 req;
	struct xcl	*x;
	int		 done;
	int		 code;
	char		*err;
	int		 abandoned;
};

static void
exec_wait_free(struct exec_wait *w)
{
	strv_free(w->req.argv);
	free(w->err);
	pthread_cond_destroy(&w->cond);
	free(w);
}

static void
ctx_exec_done(struct xcl *x, int code, const char *err, void *arg)
{
	struct exec_wait *w = arg;
	char *text = err != NULL ? xstrdup(err) : NULL;	/* x's */

	exec_free(x);
	pthread_mutex_lock(&api_lock);
	w->x = NULL;
	if (w->abandoned) {
		pthread_mutex_unlock(&api_lock);
		free(text);
		exec_wait_free(w);
		return;
	}
	w->done = 1;
	w->code = code;
	w->err = text;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&api_lock);
}

static void
ctx_exec_job(void *arg)
{
	struct exec_wait *w = arg;
	struct xcl *x;

	x = exec_start(api_spn.rt, &w->req, ctx_exec_done, w);
	pthread_mutex_lock(&api_lock);
	if (!w->done)
		w->x = x;
	pthread_mutex_unlock(&api_lock);
}

int
spn_exec(struct spn_ctx *ctx, const char *const *argv, int fd_in,
    int fd_out, int fd_err, int *status, struct spn_error *err)
{
	struct exec_wait *w;
	size_t n = 0;
	int rv;


	if ((rv = api_enter(err)) != SPN_OK)
		return rv;
	if (api_on_loop()) {
		error_set(err, SPN_EDEADLK, NULL, "spn_exec()" API_LOOP_TEXT);
		api_leave();
		return SPN_EDEADLK;
	}
	if (ctx == NULL || argv == NULL || argv[0] == NULL) {
		error_set(err, SPN_EINVAL, NULL, "no context or no command");
		api_leave();
		return SPN_EINVAL;
	}
	w = xcalloc(1, sizeof *w);
	api_cond_init(&w->cond);
	for (size_t i = 0; argv[i] != NULL; i++)
		strv_push(&w->req.argv, &n, xstrdup(argv[i]));
	w->req.ctx = ctx->id;
	w->req.flags = SPN_EXEC_HOME;
	w->req.fd_in = fd_in;
	w->req.fd_out = fd_out;
	w->req.fd_err = fd_err;
	if (api_submit(ctx_exec_job, w) != 0) {
		exec_wait_free(w);
		error_set(err, SPN_ESHUTDOWN, NULL, "spn_shutdown() was called");
		api_leave();
		return SPN_ESHUTDOWN;
	}
	pthread_mutex_lock(&api_lock);
	while (!w->done && api_spn.state == API_UP)
		api_wait(&w->cond, 0);
	if (!w->done) {
		/* The loop frees it when the exec ends (shutdown ends it). */
		w->abandoned = 1;
		pthread_mutex_unlock(&api_lock);
		error_set(err, SPN_ESHUTDOWN, ctx->name, "spn_shutdown() was "
		    "called");
		api_leave();
		return SPN_ESHUTDOWN;
	}
	pthread_mutex_unlock(&api_lock);
	if (w->code == -1) {
		error_set(err, rv = SPN_ELOST, ctx->name, "%s",
		    w->err != NULL ? w->err : "context lost");
	} else {
		/* A command that could not run (127, 126) has only the
		 * agent's words to say why: they go where a shell's would,
		 * the command's stderr. */
		if (w->err != NULL && fd_err >= 0)
			dprintf(fd_err, "%s: context %s: %s\n",
			    program_invocation_short_name, ctx->name, w->err);
		if (status != NULL)
			*status = w->code;
	}
	exec_wait_free(w);
	api_leave();
	return rv;
}
