/*
 * A chain: the contexts of one route, brought up one hop at a time, each
 * new hop started by the one before it.  The master holds any number of
 * chains (the daemon one per route); each gets fresh context ids.  A
 * password the route takes from the routes file (a command's or a
 * file's) is fetched here, on every path, and dropped once the hops have
 * used it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct chain {
	struct master		*m;
	const struct route	*route;	/* only while connecting */
	size_t			 nhops;
	struct master_opts	 opts;	/* strings borrowed, but agent */
	struct pwcmd		*pwc;	/* password command running */
	char			*pw;	/* what it printed, or the file's */
	size_t			 next;
	uint32_t		*ids;
	char			**labels;
	uint32_t		 call;	/* CONNECT in flight */
	int			 booting; /* first hop in flight */
	int			 freed;	/* freed while booting */
	int			 closed;
	uint64_t		 t_hop;
	chain_up_fn		*up;
	void			*arg;
};

static void	chain_next_hop(struct chain *);

struct chain *
chain_new(struct master *m, const struct route *r,
    const struct master_opts *opts)
{
	struct chain *c = xcalloc(1, sizeof *c);

	c->m = m;
	c->route = r;
	c->nhops = r->nhops;
	c->opts = *opts;
	/* The daemon's next client may bring another while we connect. */
	if (opts->agent != NULL)
		c->opts.agent = xstrdup(opts->agent);
	c->ids = xcalloc(r->nhops, sizeof *c->ids);
	c->labels = xcalloc(r->nhops + 1, sizeof *c->labels);
	for (size_t i = 0; i < r->nhops; i++) {
		c->ids[i] = master_new_id(m);
		c->labels[i] = xprintf("hop %zu (%s)", i + 1, r->hops[i].name);
	}
	return c;
}

uint32_t
chain_ctx(struct chain *c, size_t hop)
{
	return c->ids[hop];
}

uint32_t
chain_last(struct chain *c)
{
	return c->ids[c->nhops - 1];
}

size_t
chain_hops(struct chain *c)
{
	return c->nhops;
}

const char *
chain_label(struct chain *c, size_t hop)
{
	return c->labels[hop];
}

/* Which hop a context id is, or -1. */
int
chain_find(struct chain *c, uint32_t ctx)
{
	for (size_t i = 0; i < c->nhops; i++) {
		if (c->ids[i] == ctx)
			return (int)i;
	}
	return -1;
}

/* The hops have it, each a copy of its own. */
static void
chain_pw_drop(struct chain *c)
{
	if (c->pw == NULL)
		return;
	if (c->opts.password == c->pw)
		c->opts.password = NULL;
	password_free(c->pw);
	c->pw = NULL;
}

static void
chain_failed(struct chain *c, const char *err)
{
	chain_up_fn *up = c->up;

	chain_pw_drop(c);
	c->up = NULL;
	if (up != NULL)
		up(c, err, c->arg);
}

static void
chain_hop_up(struct chain *c)
{
	char *what = xprintf("%s up", c->labels[c->next]);

	master_timing(c->m, what, now_usec() - c->t_hop);
	free(what);
	c->next++;
	chain_next_hop(c);
}

static void
chain_first_done(struct child *child, const char *err, void *arg)
{
	struct chain *c = arg;
	char *text;

	(void)child;
	c->booting = 0;
	if (c->freed) {
		c->closed = 0;	/* the link may be up only now */
		chain_free(c);
		return;
	}
	if (err != NULL) {
		text = xprintf("%s: %s", c->labels[0], err);
		chain_failed(c, text);
		free(text);
		return;
	}
	chain_hop_up(c);
}

static int
chain_connect_reply(struct rt *rt, const struct rt_msg *msg, void *arg)
{
	struct chain *c = arg;
	struct upk u;
	char *text, *err;

	(void)rt;
	c->call = 0;
	if (msg->h.kind == SPN_K_DEAD) {
		/* A failed hop is named by us; a lost one names itself. */
		upk_init(&u, msg->data, msg->h.len);
		text = call_dead_text(msg);
		if (upk_u32(&u) == SPN_D_FAILED)
			err = xprintf("%s: %s", c->labels[c->next], text);
		else
			err = xstrdup(text);
		chain_failed(c, err);
		free(err);
		free(text);
		return 0;
	}
	chain_hop_up(c);
	return 0;
}

static void
chain_req(struct chain *c, struct boot_req *req)
{
	const struct hop *h = &c->route->hops[c->next];

	memset(req, 0, sizeof *req);
	req->id = c->ids[c->next];
	req->name = h->name;
	req->method = h->method;
	req->args = h->args;
	req->keepalive = c->opts.keepalive;
	req->timeout = c->opts.timeout;
	req->level = log_get_level();
	req->password = c->opts.password;
}

/* What crossed the first link to bring the whole route up: each hop
 * sends its own image onward, so about one image, however long the route. */
static void
chain_link_bytes(struct chain *c)
{
	struct link *l = rt_route_lookup(master_rt(c->m), c->ids[0]);

	if (c->opts.timings && l != NULL)
		fprintf(stderr, "spindle: first link carried %llu bytes out, "
		    "%llu in, to bring up %zu hops\n",
		    (unsigned long long)link_bytes_out(l),
		    (unsigned long long)link_bytes_in(l), c->route->nhops);
}

/* Hop 1 is spawned right here, with our environment, but for the ssh
 * agent we were given. */
static struct child *
chain_boot(struct chain *c, struct boot_req *req, char *why, size_t whylen)
{
	struct child *child;
	char *saved = NULL;
	const char *old;

	if (c->opts.agent == NULL)
		return boot_connect(master_rt(c->m), req, chain_first_done, c,
		    why, whylen);
	if ((old = getenv("SSH_AUTH_SOCK")) != NULL)
		old = saved = xstrdup(old);
	setenv("SSH_AUTH_SOCK", c->opts.agent, 1);
	child = boot_connect(master_rt(c->m), req, chain_first_done, c, why,
	    whylen);
	if (old != NULL)
		setenv("SSH_AUTH_SOCK", old, 1);
	else
		unsetenv("SSH_AUTH_SOCK");
	free(saved);
	return child;
}

static void
chain_next_hop(struct chain *c)
{
	struct rt *rt = master_rt(c->m);
	struct boot_req req;
	struct pk pk;
	char why[512], *text;

	if (c->next == c->route->nhops) {
		chain_pw_drop(c);
		chain_link_bytes(c);
		if (c->up != NULL)
			c->up(c, NULL, c->arg);
		return;
	}
	c->t_hop = now_usec();
	chain_req(c, &req);
	if (c->next == 0) {
		c->booting = 1;
		if (chain_boot(c, &req, why, sizeof why) == NULL) {
			c->booting = 0;
			text = xprintf("%s: %s", c->labels[0], why);
			chain_failed(c, text);
			free(text);
		}
		return;
	}
	pk_init(&pk);
	boot_req_pack(&pk, &req);
	c->call = call_start(rt, c->ids[c->next - 1], SPN_H_CONNECT, &pk,
	    chain_connect_reply, c);
	pk_free(&pk);
}

static void
chain_pw_done(char *pw, const char *err, void *arg)
{
	struct chain *c = arg;

	c->pwc = NULL;
	if (err != NULL) {
		chain_failed(c, err);
		return;
	}
	c->pw = c->opts.password = pw;
	chain_next_hop(c);
}

/*
 * Bring the route up; `up` is called once, with NULL or the error.  A
 * password given with the route wins; else its password command runs
 * first (without stopping the loop, within its time limit), else its
 * password file is read.
 */
void
chain_connect(struct chain *c, chain_up_fn *up, void *arg)
{
	char why[512];
	int secs = c->opts.password_secs > 0 ? c->opts.password_secs :
	    PASSWORD_COMMAND_SECS;

	c->up = up;
	c->arg = arg;
	c->next = 0;
	if (c->opts.password == NULL && c->opts.password_command != NULL) {
		c->pwc = pwcmd_start(master_base(c->m),
		    c->opts.password_command, secs, chain_pw_done, c);
		if (c->pwc == NULL) {
			snprintf(why, sizeof why, "cannot run password "
			    "command: %s", strerror(errno));
			chain_failed(c, why);
		}
		return;
	}
	if (c->opts.password == NULL && c->opts.password_file != NULL &&
	    (c->pw = c->opts.password = password_from_file(
	    c->opts.password_file, why, sizeof why)) == NULL) {
		chain_failed(c, why);
		return;
	}
	chain_next_hop(c);
}

/* Close the first hop: each agent closes its children as it goes. */
void
chain_close(struct chain *c)
{
	struct link *l;

	if (c->closed)
		return;
	c->closed = 1;
	pwcmd_cancel(c->pwc);
	c->pwc = NULL;
	if ((l = rt_route_lookup(master_rt(c->m), c->ids[0])) != NULL)
		link_close(l, "finished");
}

/* Safe at any time: a chain still booting its first hop is freed when
 * that ends, and calls no one. */
void
chain_free(struct chain *c)
{
	if (c == NULL)
		return;
	c->up = NULL;
	if (c->call != 0) {
		call_cancel(master_rt(c->m), c->call);
		c->call = 0;
	}
	chain_close(c);
	if (c->booting) {
		c->freed = 1;
		return;
	}
	chain_pw_drop(c);
	free(c->opts.agent);
	for (size_t i = 0; i < c->nhops; i++)
		free(c->labels[i]);
	free(c->labels);
	free(c->ids);
	free(c);
}
