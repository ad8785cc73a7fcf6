/*
 * A chain: the contexts of one route, brought up one hop at a time, each
 * new hop started by the one before it.  The master holds any number of
 * chains (the daemon one per route); each gets fresh context ids.
 *
 * A password goes to the hop it is for, and to no other: a hop that does
 * not prompt (an ssh hop not marked ,password, local) gets none.  A
 * prompting hop takes its own source (password-file=, the routes file's
 * `hop N`), else the one the command line gave for it (--ask-pass) or for
 * the route, else the route's source in the routes file.  Sources (a
 * command's or a file's) are read here, on every path: the route's as it
 * starts connecting, a hop's just before that hop; each is dropped once
 * what it was for is up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

struct chain {
	struct master		*m;
	const struct route	*route;	/* only while connecting */
	size_t			 nhops;
	struct master_opts	 opts;	/* strings borrowed, but agent */
	char			*held;	/* the request's, for the route */
	char			**held_hop; /* ... for each hop ("": none) */
	struct pwcmd		*pwc;	/* password command running */
	int			 pwc_hop; /* ... the hop's own, or the route's */
	char			*src_route; /* what it printed, or the file's */
	char			*src_hop;   /* hop src_hop_for - 1's own */
	size_t			 src_hop_for;
	const char		*cur_pw; /* the hop connecting gets this */
	int			 cur_from; /* CHAIN_PW_* */
	int			 fail_from; /* that of the hop that failed */
	size_t			 next;
	uint32_t		 via;	/* hop 1's parent, if not the master */
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
	/* ... or replace the passwords it holds. */
	if (opts->password != NULL && *opts->password != '\0')
		c->held = xstrdup(opts->password);
	for (size_t i = 0; opts->hop_passwords != NULL &&
	    opts->hop_passwords[i] != NULL; i++) {
		if (c->held_hop == NULL)
			c->held_hop = xcalloc(r->nhops + 1, sizeof *c->held_hop);
		if (i < r->nhops)
			c->held_hop[i] = xstrdup(opts->hop_passwords[i]);
	}
	c->opts.password = NULL;
	c->opts.hop_passwords = NULL;
	c->ids = xcalloc(r->nhops, sizeof *c->ids);
	c->labels = xcalloc(r->nhops + 1, sizeof *c->labels);
	for (size_t i = 0; i < r->nhops; i++) {
		c->ids[i] = master_new_id(m);
		if (c->ids[i] != SPN_CTX_NONE)
			master_name(m, c->ids[i], r->hops[i].name);
		c->labels[i] = xprintf("hop %zu (%s)", i + 1, r->hops[i].name);
	}
	return c;
}

/*
 * Hop 1 is started by the existing context via (spn_connect_from), whose
 * route has via_hops hops: the labels count from there.  Before
 * chain_connect.
 */
void
chain_via(struct chain *c, uint32_t via, size_t via_hops)
{
	c->via = via;
	for (size_t i = 0; i < c->nhops; i++) {
		free(c->labels[i]);
		c->labels[i] = xprintf("hop %zu (%s)", via_hops + i + 1,
		    c->route->hops[i].name);
	}
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

/* The hop it was for has it, a copy of its own. */
static void
chain_src_hop_drop(struct chain *c)
{
	password_free(c->src_hop);
	c->src_hop = NULL;
	c->src_hop_for = 0;
}

/* The route is up, or failed: no password stays. */
static void
chain_pw_drop(struct chain *c)
{
	chain_src_hop_drop(c);
	password_free(c->src_route);
	c->src_route = NULL;
	password_free(c->held);
	c->held = NULL;
	password_strv_free(c->held_hop);
	c->held_hop = NULL;
	c->cur_pw = NULL;
}

/* Where the password of the hop that failed came from (CHAIN_PW_*), and
 * which hop that was: what failed is to be forgotten. */
int
chain_failed_pw(struct chain *c, size_t *hop)
{
	*hop = c->next;
	return c->fail_from;
}

static void
chain_failed(struct chain *c, const char *err)
{
	chain_up_fn *up = c->up;

	c->fail_from = c->cur_from;
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
	chain_src_hop_drop(c);
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
		else {
			err = xstrdup(text);
			c->cur_from = CHAIN_PW_NONE;	/* not its fault */
		}
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
	req->password = (char *)c->cur_pw;
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

static void	chain_pw_done(char *, const char *, void *);

static void
chain_pw_store(struct chain *c, int hop, char *pw)
{
	if (hop) {
		c->src_hop = pw;
		c->src_hop_for = c->next + 1;
	} else {
		c->src_route = pw;
	}
}

/* A hop's own source failed it; the route's, the route. */
static void
chain_pw_failed(struct chain *c, int hop, const char *why)
{
	char *text = hop ? xprintf("%s: %s", c->labels[c->next], why) :
	    xstrdup(why);

	chain_failed(c, text);
	free(text);
}

/* Read a source: 0 done, 1 its command runs (chain_pw_done resumes), -1
 * failed (and said so). */
static int
chain_fetch(struct chain *c, int hop, const char *cmd, const char *file)
{
	char why[512], *pw;
	int secs = c->opts.password_secs > 0 ? c->opts.password_secs :
	    PASSWORD_COMMAND_SECS;

	if (cmd != NULL) {
		c->pwc_hop = hop;
		c->pwc = pwcmd_start(master_base(c->m), cmd, secs,
		    chain_pw_done, c);
		if (c->pwc != NULL)
			return 1;
		snprintf(why, sizeof why, "cannot run password command: %s",
		    strerror(errno));
	} else if ((pw = password_from_file(file, why, sizeof why)) != NULL) {
		chain_pw_store(c, hop, pw);
		return 0;
	}
	chain_pw_failed(c, hop, why);
	return -1;
}

/* The password of the hop to connect next, in cur_pw (NULL: none): 0,
 * or 1 while a command runs for it, or -1 when its source failed. */
static int
chain_hop_pw(struct chain *c)
{
	const struct hop *h = &c->route->hops[c->next];
	int rv;

	c->cur_pw = NULL;
	c->cur_from = CHAIN_PW_NONE;
	if (!h->prompts)
		return 0;
	if (h->password_command != NULL || h->password_file != NULL) {
		if (c->src_hop_for != c->next + 1 && (rv = chain_fetch(c, 1,
		    h->password_command, h->password_file)) != 0)
			return rv;
		c->cur_pw = c->src_hop;
		c->cur_from = CHAIN_PW_SOURCE;
	} else if (c->held_hop != NULL && c->held_hop[c->next] != NULL &&
	    *c->held_hop[c->next] != '\0') {
		c->cur_pw = c->held_hop[c->next];
		c->cur_from = CHAIN_PW_HOP;
	} else if (c->held != NULL) {
		c->cur_pw = c->held;
		c->cur_from = CHAIN_PW_ROUTE;
	} else if (c->src_route != NULL) {
		c->cur_pw = c->src_route;
		c->cur_from = CHAIN_PW_SOURCE;
	}
	return 0;
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
	if (chain_hop_pw(c) != 0)
		return;
	c->t_hop = now_usec();
	chain_req(c, &req);
	if (c->next == 0 && c->via == SPN_CTX_NONE) {
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
	c->call = call_start(rt, c->next == 0 ? c->via : c->ids[c->next - 1],
	    SPN_H_CONNECT, &pk, chain_connect_reply, c);
	pk_free(&pk);
}

/* A password command is done (it runs without stopping the loop,
 * within its time limit): on with the hop it was for. */
static void
chain_pw_done(char *pw, const char *err, void *arg)
{
	struct chain *c = arg;

	c->pwc = NULL;
	if (err != NULL) {
		chain_pw_failed(c, c->pwc_hop, err);
		return;
	}
	chain_pw_store(c, c->pwc_hop, pw);
	chain_next_hop(c);
}

/*
 * Bring the route up; `up` is called once, with NULL or the error.  The
 * route's own source is read first, unless the request gave a password
 * for the route.
 */
void
chain_connect(struct chain *c, chain_up_fn *up, void *arg)
{
	c->up = up;
	c->arg = arg;
	c->next = 0;
	/* Ids come in order: when the last is none, the master had no more. */
	if (c->nhops > 0 && c->ids[c->nhops - 1] == SPN_CTX_NONE) {
		chain_failed(c, "out of context ids");
		return;
	}
	if (c->held == NULL && (c->opts.password_command != NULL ||
	    c->opts.password_file != NULL) && chain_fetch(c, 0,
	    c->opts.password_command, c->opts.password_file) != 0)
		return;
	chain_next_hop(c);
}

static int
chain_end_reply(struct rt *rt, const struct rt_msg *msg, void *arg)
{
	(void)rt;
	(void)msg;
	(void)arg;
	return 0;
}

/*
 * A chain started by another context ends by asking its hop 1 to end
 * (which ends what it started in turn): the link to it is via's.  Only
 * libspindle's copies know how (lib/export.c); a stock agent stays until
 * via ends.
 */
static void
chain_end_via(struct chain *c)
{
	struct spn_vbuf *vb = vbuf_new();
	const uint8_t *data;
	struct pk pk;
	size_t len;

	if (callmsg_pack(vb, EXPORT_END, "", NULL, 0, 0) == SPN_OK) {
		data = vbuf_data(vb, &len);
		pk_init(&pk);
		pk_bytes(&pk, data, len);
		(void)call_start(master_rt(c->m), c->ids[0], SPN_H_CALL, &pk,
		    chain_end_reply, NULL);
		pk_free(&pk);
	}
	vbuf_free(vb);
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
	if ((l = rt_route_lookup(master_rt(c->m), c->ids[0])) == NULL)
		return;
	if (c->via != SPN_CTX_NONE)
		chain_end_via(c);
	else
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
	for (size_t i = 0; i < c->nhops; i++) {
		if (c->ids[i] != SPN_CTX_NONE)
			master_name(c->m, c->ids[i], NULL);
		free(c->labels[i]);
	}
	free(c->labels);
	free(c->ids);
	free(c);
}
