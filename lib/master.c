/*
 * The master context: context 1, the root of the tree.  It runs on its
 * caller's event loop (the command's, the daemon's, libspindle's loop
 * thread), owns the router and hands out context ids to chains.  What a
 * process does with its signals is its program's business (cli/sig.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

struct master {
	struct event_base	*base;
	struct rt		*rt;
	struct master_opts	 opts;
	uint32_t		 next_id;
	struct chain		*chain;	/* master_connect's */
	master_up_fn		*up;
	void			*arg;
	void			(*lostfn)(uint32_t, const char *, void *);
	void			*lostarg;
	struct map		*names;	/* ctx -> its route's name */
};

static void
master_route_lost(struct rt *rt, uint32_t ctx, const char *why, void *arg)
{
	struct master *m = arg;

	(void)rt;
	if (m->lostfn != NULL)
		m->lostfn(ctx, why, m->lostarg);
}

static const char *
master_ctx_name(struct rt *rt, uint32_t ctx, void *arg)
{
	struct master *m = arg;

	(void)rt;
	return map_get(m->names, ctx);
}

/* What the master calls a context it started (NULL: forget it), as its
 * log records are printed. */
void
master_name(struct master *m, uint32_t ctx, const char *name)
{
	free(map_del(m->names, ctx));
	if (name != NULL)
		map_put(m->names, ctx, xstrdup(name));
}

static void
master_name_free(uint32_t ctx, void *v, void *arg)
{
	(void)ctx;
	(void)arg;
	free(v);
}

/*
 * On base, which stays the caller's (libspindle's loop thread, made with
 * threads on; the command's own): no signal is caught, nothing
 * process-wide changes.
 */
struct master *
master_new(struct event_base *base, const struct master_opts *opts)
{
	struct master *m = xcalloc(1, sizeof *m);
	struct rt_hooks hooks = { .route_lost = master_route_lost,
	    .ctx_name = master_ctx_name, .arg = m };

	m->opts = *opts;
	m->next_id = SPN_CTX_MASTER + 1;
	m->names = map_new();
	m->base = base;
	proc_init(m->base);
	m->rt = rt_new(m->base, SPN_CTX_MASTER, "master");
	rt_set_hooks(m->rt, &hooks);
	rt_handle_add(m->rt, SPN_H_LOG, RT_ALLOW_DESCENDANTS, 0, rt_log_print,
	    NULL);
	svc_basic_init(m->rt);
	return m;
}

/* The base stays its owner's. */
void
master_free(struct master *m)
{
	if (m == NULL)
		return;
	rt_free(m->rt);
	map_each(m->names, master_name_free, NULL);
	map_free(m->names);
	free(m);
}

struct rt *
master_rt(struct master *m)
{
	return m->rt;
}

struct event_base *
master_base(struct master *m)
{
	return m->base;
}

/* Ids are never reused: a late frame for a dead context finds nobody.
 * SPN_CTX_NONE once they are all used. */
uint32_t
master_new_id(struct master *m)
{
	if (m->next_id == UINT32_MAX)
		return SPN_CTX_NONE;
	return m->next_id++;
}

uint32_t
master_ctx(struct master *m, size_t hop)
{
	return chain_ctx(m->chain, hop);
}

struct chain *
master_chain(struct master *m)
{
	return m->chain;
}

void
master_on_lost(struct master *m, void (*fn)(uint32_t, const char *, void *),
    void *arg)
{
	m->lostfn = fn;
	m->lostarg = arg;
}

void
master_timing(struct master *m, const char *what, uint64_t usec)
{
	if (m->opts.timings)
		fprintf(stderr, "spindle: %-40s %8.2f ms\n", what,
		    usec / 1000.0);
}

static void
master_chain_up(struct chain *c, const char *err, void *arg)
{
	struct master *m = arg;

	(void)c;
	if (m->up != NULL)
		m->up(m, err, m->arg);
}

/* The one route of a one-shot command; `up` is called once. */
void
master_connect(struct master *m, const struct route *r, master_up_fn *up,
    void *arg)
{
	m->up = up;
	m->arg = arg;
	m->chain = chain_new(m, r, &m->opts);
	chain_connect(m->chain, master_chain_up, m);
}

/*
 * Close the first hop and wait for it: each agent waits for its own
 * children before exiting, so when it is gone the whole tree is.  Nobody
 * is told of a route torn down, even one still coming up: a hop still
 * booting is not failing.
 */
void
master_teardown(struct master *m)
{
	m->up = NULL;
	if (m->chain != NULL)
		chain_close(m->chain);
	proc_wait_all(3000);
}
