/*
 * The router: one per process.  Frames from links are checked against the
 * reverse path, then either forwarded (moved between buffers, not copied)
 * or delivered to a local handle after the handle's policy agrees.
 * Anything undeliverable is answered with a dead letter.
 *
 * Every far end is untrusted.  A child link may only speak for contexts
 * that we asked it to create, may only address its ancestors, and may
 * not call us; a link that breaks these rules is closed as a protocol
 * violation, which fails its route and no other (docs/architecture.md,
 * "Trust").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

/* Contexts (claimed or expected) behind one link. */
#define RT_LINK_MAX_CTX		4096
/* Answers (dead letters, keepalive acks) a far end provokes are not
 * queued while this much waits for it; past so many such drops, it is
 * plainly not reading and is cut off. */
#define RT_ANSWER_QUEUED_MAX	(4 * 1024 * 1024)
#define RT_ANSWER_DROPS_MAX	4096
/* Contexts the side of one link may talk with across this router, as
 * far as telling it of their death goes (rt_heard). */
#define RT_LINK_MAX_PEERS	8192

struct handle {
	uint32_t	 id;
	int		 allow;
	uint32_t	 peer;
	rt_fn		*fn;
	void		*arg;
};

/* The child links on whose side some context talked with one context,
 * in either direction, across this router: told when that one is gone. */
struct peers {
	struct link	**l;
	size_t		 n;
	size_t		 cap;
};

struct rt {
	struct event_base	*base;
	uint32_t		 id;
	char			*name;
	int			 sideways;	/* forward calls between
						 * subtrees (libspindle) */
	struct map		*peers;		/* ctx -> struct peers */
	uint32_t		*anc;
	size_t			 nanc;
	uint32_t		 max_frame;
	uint32_t		 window;
	struct link		*parent;
	struct map		*routes;
	struct map		*expect;	/* ctx -> link a CONNECT went to */
	struct map		*handles;
	uint32_t		 next_handle;
	struct evbuffer		*local;
	struct evbuffer		*batch;	/* local frames being delivered */
	struct event		*local_ev;
	struct rt_hooks		 hooks;
};

static void	rt_local_cb(evutil_socket_t, short, void *);
static void	rt_control(struct rt *, const struct rt_msg *);

struct rt *
rt_new(struct event_base *base, uint32_t id, const char *name)
{
	struct rt *rt = xcalloc(1, sizeof *rt);

	rt->base = base;
	rt->id = id;
	rt->name = xstrdup(name);
	rt->max_frame = SPN_MAX_FRAME_DEFAULT;
	rt->window = SPN_WINDOW_DEFAULT;
	rt->routes = map_new();
	rt->expect = map_new();
	rt->handles = map_new();
	rt->peers = map_new();
	rt->next_handle = SPN_H_DYNAMIC;
	rt->local = evbuffer_new();
	rt->batch = evbuffer_new();
	rt->local_ev = event_new(base, -1, 0, rt_local_cb, rt);
	return rt;
}

static void
rt_free_handle(uint32_t k, void *v, void *arg)
{
	(void)k;
	(void)arg;
	free(v);
}

static void
rt_free_peers(uint32_t k, void *v, void *arg)
{
	struct peers *p = v;

	(void)k;
	(void)arg;
	free(p->l);
	free(p);
}

void
rt_free(struct rt *rt)
{
	map_each(rt->handles, rt_free_handle, NULL);
	map_free(rt->handles);
	map_each(rt->peers, rt_free_peers, NULL);
	map_free(rt->peers);
	map_free(rt->routes);
	map_free(rt->expect);
	evbuffer_free(rt->local);
	evbuffer_free(rt->batch);
	event_free(rt->local_ev);
	free(rt->anc);
	free(rt->name);
	free(rt);
}

void
rt_set_hooks(struct rt *rt, const struct rt_hooks *hooks)
{
	rt->hooks = *hooks;
}

struct event_base *
rt_base(struct rt *rt)
{
	return rt->base;
}

uint32_t
rt_id(struct rt *rt)
{
	return rt->id;
}

void
rt_set_id(struct rt *rt, uint32_t id)
{
	rt->id = id;
}

const char *
rt_name(struct rt *rt)
{
	return rt->name;
}

void
rt_set_name(struct rt *rt, const char *name)
{
	free(rt->name);
	rt->name = xstrdup(name);
}

void
rt_set_ancestors(struct rt *rt, const uint32_t *anc, size_t n)
{
	free(rt->anc);
	rt->anc = xcalloc(n, sizeof *anc);
	memcpy(rt->anc, anc, n * sizeof *anc);
	rt->nanc = n;
}

int
rt_is_ancestor(struct rt *rt, uint32_t id)
{
	for (size_t i = 0; i < rt->nanc; i++) {
		if (rt->anc[i] == id)
			return 1;
	}
	return 0;
}

/* How many hops below the master this context is (the master is 0). */
uint32_t
rt_depth(struct rt *rt)
{
	return rt->nanc;
}

uint32_t
rt_max_frame(struct rt *rt)
{
	return rt->max_frame;
}

void
rt_set_max_frame(struct rt *rt, uint32_t n)
{
	rt->max_frame = n > SPN_MAX_FRAME_HARD ? SPN_MAX_FRAME_HARD : n;
}

uint32_t
rt_window(struct rt *rt)
{
	return rt->window;
}

void
rt_set_window(struct rt *rt, uint32_t n)
{
	rt->window = n;
}

struct link *
rt_parent(struct rt *rt)
{
	return rt->parent;
}

/*
 * Let calls and their answers, channels and streams pass between two of
 * our subtrees (a child calling a sibling's SPN_ALLOW_ANY export).  Only
 * libspindle's trees do: in the daemon, subtrees are other routes.
 */
void
rt_set_sideways(struct rt *rt, int on)
{
	rt->sideways = on;
}

/* Register a handle; id 0 allocates a fresh one, never reused. */
uint32_t
rt_handle_add(struct rt *rt, uint32_t id, int allow, uint32_t peer,
    rt_fn *fn, void *arg)
{
	struct handle *hd = xcalloc(1, sizeof *hd);

	if (id == 0)
		id = rt->next_handle++;
	hd->id = id;
	hd->allow = allow;
	hd->peer = peer;
	hd->fn = fn;
	hd->arg = arg;
	free(map_del(rt->handles, id));
	map_put(rt->handles, id, hd);
	return id;
}

/* The argument a handle was registered with, or NULL. */
void *
rt_handle_arg(struct rt *rt, uint32_t id)
{
	struct handle *hd = map_get(rt->handles, id);

	return hd != NULL ? hd->arg : NULL;
}

void
rt_handle_del(struct rt *rt, uint32_t id)
{
	free(map_del(rt->handles, id));
}

struct link *
rt_route_lookup(struct rt *rt, uint32_t ctx)
{
	struct link *l = map_get(rt->routes, ctx);

	return l != NULL ? l : rt->parent;
}

/*
 * A CONNECT passing down through `out` names the context it creates: that
 * link, and no other, may claim it, once.  Returns -1 when the link has
 * as many contexts behind it as one link may have.
 */
static int
rt_expect(struct rt *rt, struct link *out, const struct spn_hdr *h,
    const uint8_t *payload)
{
	uint32_t ctx;

	if (h->kind != SPN_K_CALL || h->handle != SPN_H_CONNECT ||
	    h->len < 4 || link_role(out) != LINK_CHILD)
		return 0;
	ctx = be32_get(payload);
	if (ctx <= SPN_CTX_MASTER || ctx == rt->id ||
	    rt_is_ancestor(rt, ctx) || map_get(rt->routes, ctx) != NULL ||
	    map_get(rt->expect, ctx) != NULL)
		return 0;	/* never claimable; the agent will refuse it */
	if (link_nctx(out) >= RT_LINK_MAX_CTX)
		return -1;
	map_put(rt->expect, ctx, out);
	link_nctx_add(out, 1);
	return 0;
}

static void
rt_queue_local(struct rt *rt, const struct spn_hdr *h, const void *data)
{
	uint8_t hb[SPN_HDR_LEN];

	wire_put_hdr(hb, h);
	evbuffer_add(rt->local, hb, sizeof hb);
	if (h->len != 0)
		evbuffer_add(rt->local, data, h->len);
	event_active(rt->local_ev, EV_TIMEOUT, 0);
}

static void
rt_dead_to(struct rt *rt, uint32_t dst, uint32_t handle, uint32_t from,
    uint32_t reason, const char *text)
{
	struct pk pk;
	struct spn_hdr h = { .kind = SPN_K_DEAD, .dst = dst, .src = from,
	    .handle = handle };
	struct link *l;

	pk_init(&pk);
	pk_u32(&pk, reason);
	pk_str(&pk, text);
	h.len = pk.len;
	if (dst == rt->id)
		rt_queue_local(rt, &h, pk.buf);
	else if ((l = rt_route_lookup(rt, dst)) != NULL)
		link_write(l, &h, pk.buf);
	pk_free(&pk);
}

/*
 * Whether to queue an answer to what a link sent.  A far end that writes
 * requests and never reads the answers would have us buffer them for
 * ever: past a bound they are dropped, and the link soon closed.
 */
static int
rt_may_answer(struct link *l)
{
	if (l == NULL || link_role(l) != LINK_CHILD ||
	    link_queued(l) <= RT_ANSWER_QUEUED_MAX)
		return 1;
	if (link_dropped(l) > RT_ANSWER_DROPS_MAX)
		link_violation(l, "does not read what it is sent (%zu bytes "
		    "queued)", link_queued(l));
	return 0;
}

/* Answer an undeliverable message; never answer a dead letter. */
void
rt_dead(struct rt *rt, const struct rt_msg *m, uint32_t reason,
    const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (m->h.kind == SPN_K_DEAD || m->h.reply_to == 0 ||
	    !rt_may_answer(m->from)) {
		log_debug("dropped %s from %u to %u:%u: %s",
		    wire_kind_name(m->h.kind), m->h.src, m->h.dst, m->h.handle,
		    text);
		return;
	}
	/* Speak for the destination: the sender's reply handle expects it,
	 * and the reverse path from here to the sender leads to it. */
	rt_dead_to(rt, m->h.src, m->h.reply_to, m->h.dst, reason, text);
}

void
rt_send(struct rt *rt, uint8_t kind, uint32_t dst, uint32_t handle,
    uint32_t reply_to, const void *data, size_t len)
{
	struct spn_hdr h = { .kind = kind, .dst = dst, .src = rt->id,
	    .handle = handle, .reply_to = reply_to, .len = len };
	struct link *l;
	char text[128];

	if (len > rt->max_frame) {
		snprintf(text, sizeof text, "%zu bytes exceed the %u-byte "
		    "frame limit", len, rt->max_frame);
		if (reply_to != 0)
			rt_dead_to(rt, rt->id, reply_to, rt->id,
			    SPN_D_TOO_LARGE, text);
		else
			log_error("message to %u:%u dropped: %s", dst, handle,
			    text);
		return;
	}
	if (dst == rt->id) {
		rt_queue_local(rt, &h, data);
		return;
	}
	if (dst == SPN_CTX_NONE || (l = rt_route_lookup(rt, dst)) == NULL) {
		if (reply_to != 0 && kind != SPN_K_DEAD)
			rt_dead_to(rt, rt->id, reply_to,
			    dst != SPN_CTX_NONE ? dst : rt->id, SPN_D_NO_ROUTE,
			    "no route to that context");
		return;
	}
	if (rt_expect(rt, l, &h, data) != 0) {
		if (reply_to != 0)
			rt_dead_to(rt, rt->id, reply_to, dst, SPN_D_REFUSED,
			    "too many contexts behind one link");
		return;
	}
	link_write(l, &h, data);
}

/* Like rt_send, with the payload moved out of an evbuffer. */
void
rt_send_evbuf(struct rt *rt, uint8_t kind, uint32_t dst, uint32_t handle,
    uint32_t reply_to, struct evbuffer *payload)
{
	struct spn_hdr h = { .kind = kind, .dst = dst, .src = rt->id,
	    .handle = handle, .reply_to = reply_to };
	struct link *l;
	size_t len = evbuffer_get_length(payload);

	h.len = len;
	l = dst == rt->id || dst == SPN_CTX_NONE ? NULL :
	    rt_route_lookup(rt, dst);
	if (l == NULL || len > rt->max_frame || handle == SPN_H_CONNECT) {
		rt_send(rt, kind, dst, handle, reply_to,
		    evbuffer_pullup(payload, len), len);
		evbuffer_drain(payload, len);
		return;
	}
	link_write_hdr_evbuf(l, &h, payload);
}

void
rt_send_pk(struct rt *rt, uint8_t kind, uint32_t dst, uint32_t handle,
    uint32_t reply_to, struct pk *pk)
{
	rt_send(rt, kind, dst, handle, reply_to, pk->buf, pk->len);
}

static int
rt_allowed(struct rt *rt, const struct handle *hd, const struct rt_msg *m)
{
	uint32_t src = m->h.src;
	struct link *via;

	if (src == rt->id || (hd->allow & RT_ALLOW_ANY))
		return 1;
	if ((hd->allow & RT_ALLOW_PEER) && src == hd->peer)
		return 1;
	if ((hd->allow & RT_ALLOW_ANCESTORS) && rt_is_ancestor(rt, src))
		return 1;
	via = map_get(rt->routes, src);
	if ((hd->allow & RT_ALLOW_DESCENDANTS) && via != NULL)
		return 1;
	return 0;
}

static int
rt_from_child(const struct rt_msg *m)
{
	return m->from != NULL && link_role(m->from) == LINK_CHILD;
}

static void
rt_deliver(struct rt *rt, const struct rt_msg *m)
{
	struct handle *hd;
	struct rt_msg copy;

	if (m->h.handle == SPN_H_ROUTER) {
		rt_control(rt, m);
		return;
	}
	hd = map_get(rt->handles, m->h.handle);
	if (rt_from_child(m) && (hd != NULL ? !rt_allowed(rt, hd, m) :
	    m->h.kind == SPN_K_CALL)) {
		link_violation(m->from, "context %u sent a %s to handle %u of "
		    "context %u, which it may not call", m->h.src,
		    wire_kind_name(m->h.kind), m->h.handle, rt->id);
		return;
	}
	if (hd == NULL) {
		rt_dead(rt, m, SPN_D_NO_HANDLE, "no handle %u in context %u",
		    m->h.handle, rt->id);
		return;
	}
	if (!rt_allowed(rt, hd, m)) {
		log_warn("refused %s from context %u to handle %u",
		    wire_kind_name(m->h.kind), m->h.src, m->h.handle);
		rt_dead(rt, m, SPN_D_REFUSED, "context %u may not call handle "
		    "%u in context %u", m->h.src, m->h.handle, rt->id);
		return;
	}
	if (m->buf != NULL && !(hd->allow & RT_EVBUF)) {
		copy = *m;
		copy.data = evbuffer_pullup(m->buf, m->h.len);
		copy.buf = NULL;
		m = &copy;
	}
	hd->fn(rt, m, hd->arg);
}

static void
rt_local_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rt *rt = arg;
	uint8_t hb[SPN_HDR_LEN];
	struct rt_msg m = { .from = NULL, .buf = NULL };
	char why[128];

	(void)fd;
	(void)what;
	/*
	 * Deliver only what is queued now, from a buffer of its own: handlers
	 * that queue local frames append to rt->local, which may move data
	 * in place and would leave m.data pointing at other bytes.
	 */
	evbuffer_add_buffer(rt->batch, rt->local);
	while (evbuffer_get_length(rt->batch) >= SPN_HDR_LEN) {
		evbuffer_remove(rt->batch, hb, sizeof hb);
		if (wire_get_hdr(hb, &m.h, SPN_MAX_FRAME_HARD, why,
		    sizeof why) != 0)
			fatal("local queue corrupt: %s", why);
		m.data = evbuffer_pullup(rt->batch, m.h.len);
		rt_deliver(rt, &m);
		evbuffer_drain(rt->batch, m.h.len);
	}
	if (evbuffer_get_length(rt->local) != 0)
		event_active(rt->local_ev, EV_TIMEOUT, 0);
}

/*
 * A frame between ctx and someone on l's side crosses this router: l
 * hears of ctx's death (rt_gone_down).  A set of links a context, not a
 * record a frame; only child links (the parent hears through ROUTE_DEL),
 * never for ourselves or our ancestors (whose loss is the parent link's).
 * A link's side may name any id going up, so its entries are capped.
 */
static void
rt_heard(struct rt *rt, uint32_t ctx, struct link *l)
{
	struct peers *p;

	if (link_role(l) != LINK_CHILD || ctx == rt->id ||
	    rt_is_ancestor(rt, ctx))
		return;
	if ((p = map_get(rt->peers, ctx)) != NULL) {
		for (size_t i = 0; i < p->n; i++) {
			if (p->l[i] == l)
				return;
		}
	}
	if (link_npeers(l) >= RT_LINK_MAX_PEERS) {
		log_debug("%s: talks with over %u contexts: context %u is "
		    "not remembered", link_name(l), RT_LINK_MAX_PEERS, ctx);
		return;
	}
	if (p == NULL) {
		p = xcalloc(1, sizeof *p);
		map_put(rt->peers, ctx, p);
	}
	if (p->n == p->cap) {
		p->cap = p->cap == 0 ? 2 : p->cap * 2;
		p->l = xrealloc(p->l, p->cap * sizeof *p->l);
	}
	p->l[p->n++] = l;
	link_npeers_add(l, 1);
}

static void
rt_forget_cb(uint32_t ctx, void *v, void *arg)
{
	struct rt *rt = ((void **)arg)[0];
	struct link *l = ((void **)arg)[1];
	struct peers *p = v;

	for (size_t i = 0; i < p->n; i++) {
		if (p->l[i] == l) {
			p->l[i] = p->l[--p->n];
			break;
		}
	}
	if (p->n == 0)
		rt_free_peers(ctx, map_del(rt->peers, ctx), NULL);
}

/* A closing link hears of nothing more. */
static void
rt_forget_link(struct rt *rt, struct link *l)
{
	void *arg[2] = { rt, l };

	if (link_npeers(l) != 0)
		map_each(rt->peers, rt_forget_cb, arg);
	link_npeers_add(l, -(int)link_npeers(l));
}

/* ctx is gone: GONE down every link whose side talked with it, except
 * skip (the one it was behind), and forget it. */
static void
rt_gone_down(struct rt *rt, uint32_t ctx, const char *why, struct link *skip)
{
	struct peers *p = map_del(rt->peers, ctx);
	struct spn_hdr h = { .kind = SPN_K_GONE, .src = rt->id };
	struct pk pk;

	if (p == NULL)
		return;
	pk_init(&pk);
	pk_u32(&pk, ctx);
	pk_str(&pk, why);
	h.len = pk.len;
	for (size_t i = 0; i < p->n; i++) {
		link_npeers_add(p->l[i], -1);
		if (p->l[i] == skip)
			continue;
		h.dst = link_peer(p->l[i]);
		link_write(p->l[i], &h, pk.buf);
	}
	pk_free(&pk);
	rt_free_peers(ctx, p, NULL);
}

/*
 * Between two of our subtrees (rt_set_sideways) pass calls to exports
 * and what answers them or streams: the destination's handle decides
 * (SPN_H_CALL checks each export's SPN_ALLOW_ANY, a dynamic handle takes
 * its peer only).  Services, control and logs never go sideways.
 */
static int
rt_sideways_ok(struct rt *rt, const struct spn_hdr *h)
{
	if (!rt->sideways)
		return 0;
	if (h->handle == SPN_H_CALL)
		return h->kind == SPN_K_CALL || h->kind == SPN_K_CANCEL;
	if (h->handle < SPN_H_DYNAMIC)
		return 0;
	switch (h->kind) {
	case SPN_K_CALL:
	case SPN_K_REPLY:
	case SPN_K_DEAD:
	case SPN_K_DATA:
	case SPN_K_EOF:
	case SPN_K_CREDIT:
	case SPN_K_CANCEL:
		return 1;
	}
	return 0;
}

/* A source must lie behind the link it arrived on. */
static int
rt_reverse_ok(struct rt *rt, struct link *l, const struct spn_hdr *h)
{
	if (h->kind == SPN_K_BOOT)
		return link_role(l) == LINK_PARENT && rt->id == 0;
	if (h->src == rt->id || rt->id == 0)
		return 0;
	return rt_route_lookup(rt, h->src) == l;
}

/* DATA stays in the link's buffer; whatever the handler leaves is dropped. */
static void
rt_deliver_data(struct rt *rt, struct rt_msg *m, struct evbuffer *in)
{
	size_t before, taken;

	evbuffer_drain(in, SPN_HDR_LEN);
	before = evbuffer_get_length(in);
	m->buf = in;
	rt_deliver(rt, m);
	taken = before - evbuffer_get_length(in);
	if (taken < m->h.len)
		evbuffer_drain(in, m->h.len - taken);
}

static void
rt_input(struct rt *rt, struct link *l, struct evbuffer *in,
    const struct spn_hdr *h)
{
	size_t n = SPN_HDR_LEN + (size_t)h->len;
	struct link *out;
	struct rt_msg m = { .h = *h, .from = l };
	int sideways;

	if (!rt_reverse_ok(rt, l, h)) {
		/* A dead letter may speak for a context that has just gone. */
		if (link_role(l) == LINK_CHILD && h->kind == SPN_K_BOOT) {
			link_violation(l, "sent a BOOT, which only a parent "
			    "sends");
			return;
		}
		if (link_role(l) == LINK_CHILD && h->kind != SPN_K_DEAD) {
			link_violation(l, "sent a %s as context %u, which does "
			    "not lie behind it", wire_kind_name(h->kind),
			    h->src);
			return;
		}
		log_warn("dropped %s from %u on link %s: source does not lie "
		    "behind that link", wire_kind_name(h->kind), h->src,
		    link_name(l));
		evbuffer_drain(in, n);
		return;
	}
	if (h->dst == rt->id && h->kind == SPN_K_DATA) {
		rt_deliver_data(rt, &m, in);
		return;
	}
	if (h->dst == rt->id || h->kind == SPN_K_BOOT) {
		m.data = evbuffer_pullup(in, n) + SPN_HDR_LEN;
		rt_deliver(rt, &m);
		evbuffer_drain(in, n);
		return;
	}
	/* Control frames are between neighbours: a context never speaks
	 * to a router further off (which would take it for ours). */
	if (link_role(l) == LINK_CHILD && h->handle == SPN_H_ROUTER) {
		link_violation(l, "sent a %s to the router of context %u, "
		    "which is not its neighbour", wire_kind_name(h->kind),
		    h->dst);
		return;
	}
	out = rt_route_lookup(rt, h->dst);
	sideways = link_role(l) == LINK_CHILD && out != NULL &&
	    out != rt->parent;
	if (sideways && !rt_sideways_ok(rt, h)) {
		link_violation(l, "sent a %s to context %u, which is not its "
		    "ancestor", wire_kind_name(h->kind), h->dst);
		return;
	}
	/* Calls across provoke answers queued for l: none while it leaves
	 * unread what it was sent (rt_may_answer bounds the refusals). */
	if (sideways && h->kind == SPN_K_CALL &&
	    link_queued(l) > RT_ANSWER_QUEUED_MAX) {
		m.data = NULL;
		rt_dead(rt, &m, SPN_D_REFUSED, "%s leaves %zu bytes unread",
		    link_name(l), link_queued(l));
		evbuffer_drain(in, n);
		return;
	}
	if (out != NULL && l == rt->parent && rt_expect(rt, out, h,
	    h->kind == SPN_K_CALL && h->handle == SPN_H_CONNECT ?
	    evbuffer_pullup(in, n) + SPN_HDR_LEN : NULL) != 0) {
		m.data = NULL;
		rt_dead(rt, &m, SPN_D_REFUSED, "too many contexts behind %s",
		    link_name(out));
		evbuffer_drain(in, n);
		return;
	}
	if (out == NULL || out == l) {
		m.data = NULL;
		rt_dead(rt, &m, SPN_D_NO_ROUTE, "no route from %s to "
		    "context %u", rt->name, h->dst);
		evbuffer_drain(in, n);
		return;
	}
	/* A dead letter waits for nothing, and may speak for a context
	 * already gone, which nobody would ever say GONE for again. */
	if (h->kind != SPN_K_DEAD) {
		rt_heard(rt, h->src, out);
		rt_heard(rt, h->dst, l);
	}
	link_write_evbuf(out, in, n);
}

void
rt_link_input(struct rt *rt, struct link *l, struct evbuffer *in,
    const struct spn_hdr *h)
{
	struct evbuffer *secret;

	if (!wire_secret(h)) {
		rt_input(rt, l, in, h);
		return;
	}
	/* A password rides in it: its bytes leave the link's buffer wiped,
	 * and the block they move to is wiped when delivered or written. */
	secret = evbuffer_new();
	evbuf_move_secret(in, secret, SPN_HDR_LEN + (size_t)h->len);
	rt_input(rt, l, secret, h);
	evbuffer_free(secret);
}

void
rt_link_added(struct rt *rt, struct link *l)
{
	if (link_role(l) == LINK_PARENT)
		rt->parent = l;
}

static void
rt_send_up(struct rt *rt, uint8_t kind, struct pk *pk)
{
	struct spn_hdr h = { .kind = kind, .src = rt->id, .len = pk->len };

	if (rt->parent == NULL || rt->id == 0)
		return;
	h.dst = link_peer(rt->parent);
	link_write(rt->parent, &h, pk->buf);
}

void
rt_route_add(struct rt *rt, uint32_t ctx, struct link *l)
{
	struct pk pk;
	struct link *old = map_get(rt->routes, ctx);

	if (old != NULL)
		link_nctx_add(old, -1);
	map_put(rt->routes, ctx, l);
	link_nctx_add(l, 1);
	pk_init(&pk);
	pk_u32(&pk, ctx);
	rt_send_up(rt, SPN_K_ROUTE_ADD, &pk);
	pk_free(&pk);
}

struct lost_ctx {
	uint32_t	 ctx;
	const char	*why;
	struct rt	*rt;
};

static void
rt_fail_peer(uint32_t id, void *v, void *arg)
{
	struct handle *hd = v;
	struct lost_ctx *lc = arg;

	if ((hd->allow & RT_ALLOW_PEER) && hd->peer == lc->ctx)
		rt_dead_to(lc->rt, lc->rt->id, id, lc->ctx, SPN_D_LOST,
		    lc->why);
}

/* Forget a route, tell the parent and the other links whose side
 * talked with it, fail every handle waiting on it. */
static void
rt_route_del(struct rt *rt, uint32_t ctx, const char *why)
{
	struct lost_ctx lc = { ctx, why, rt };
	struct pk pk;
	struct link *l;

	if ((l = map_del(rt->routes, ctx)) != NULL)
		link_nctx_add(l, -1);
	pk_init(&pk);
	pk_u32(&pk, ctx);
	pk_str(&pk, why);
	rt_send_up(rt, SPN_K_ROUTE_DEL, &pk);
	pk_free(&pk);
	rt_gone_down(rt, ctx, why, l);
	map_each(rt->handles, rt_fail_peer, &lc);
	if (rt->hooks.route_lost != NULL)
		rt->hooks.route_lost(rt, ctx, why, rt->hooks.arg);
}

struct closed_link {
	struct rt	*rt;
	struct link	*l;
	const char	*why;
};

static void
rt_drop_route(uint32_t ctx, void *v, void *arg)
{
	struct closed_link *cl = arg;

	if (v == cl->l)
		rt_route_del(cl->rt, ctx, cl->why);
}

static void
rt_drop_expect(uint32_t ctx, void *v, void *arg)
{
	struct closed_link *cl = arg;

	if (v == cl->l) {
		map_del(cl->rt->expect, ctx);
		link_nctx_add(cl->l, -1);
	}
}

void
rt_link_closed(struct rt *rt, struct link *l, const char *why)
{
	char *text = xprintf("%s: %s", link_name(l), why);
	struct closed_link cl = { rt, l, text };

	if (l == rt->parent) {
		free(text);
		rt->parent = NULL;
		if (rt->hooks.parent_lost != NULL)
			rt->hooks.parent_lost(rt, why, rt->hooks.arg);
		return;
	}
	rt_forget_link(rt, l);
	map_each(rt->routes, rt_drop_route, &cl);
	map_each(rt->expect, rt_drop_expect, &cl);
	free(text);
}

/* ROUTE_ADD claims a context we asked this link to create; ROUTE_DEL
 * gives up one that lies behind it.  Anything else is a violation. */
static void
rt_control_route(struct rt *rt, const struct rt_msg *m)
{
	struct upk u;
	uint32_t ctx;
	char *why = NULL;
	struct link *l = m->from;

	upk_init(&u, m->data, m->h.len);
	ctx = upk_u32(&u);
	if (m->h.kind == SPN_K_ROUTE_DEL)
		why = upk_str(&u);
	if (link_role(l) != LINK_CHILD)
		log_warn("ignored %s from the parent link",
		    wire_kind_name(m->h.kind));
	else if (u.err)
		link_violation(l, "malformed %s", wire_kind_name(m->h.kind));
	else if (m->h.kind == SPN_K_ROUTE_ADD) {
		if (map_get(rt->expect, ctx) != l) {
			link_violation(l, "claimed context %u, which it was not "
			    "asked to create", ctx);
		} else {
			map_del(rt->expect, ctx);
			link_nctx_add(l, -1);
			rt_route_add(rt, ctx, l);
		}
	} else if (map_get(rt->routes, ctx) != l || ctx == link_peer(l)) {
		link_violation(l, "dropped context %u, which does not lie "
		    "behind it", ctx);
	} else {
		str_clean(why);
		rt_route_del(rt, ctx, why);
	}
	free(why);
}

/*
 * GONE: a context some context below us talked with has gone.  Only
 * the parent says so (it saw the route go, or heard it from its own
 * parent): a child may only report deaths below it, with ROUTE_DEL, so
 * no context can make others believe a live one died.  Its waiters fail
 * as for a route of ours, and the news goes on down.
 */
static void
rt_control_gone(struct rt *rt, const struct rt_msg *m)
{
	struct upk u;
	struct lost_ctx lc;
	uint32_t ctx;
	char *why;

	if (link_role(m->from) != LINK_PARENT) {
		link_violation(m->from, "sent a GONE, which only a parent "
		    "sends");
		return;
	}
	upk_init(&u, m->data, m->h.len);
	ctx = upk_u32(&u);
	why = upk_str(&u);
	if (u.err || ctx == SPN_CTX_NONE || ctx == rt->id ||
	    rt_is_ancestor(rt, ctx) || map_get(rt->routes, ctx) != NULL) {
		/* Ours or our ancestors' we know better. */
		log_warn("ignored %s GONE for context %u from the parent",
		    u.err ? "a malformed" : "a", ctx);
		free(why);
		return;
	}
	str_clean(why);
	lc.ctx = ctx;
	lc.why = why;
	lc.rt = rt;
	map_each(rt->handles, rt_fail_peer, &lc);
	rt_gone_down(rt, ctx, why, NULL);
	if (rt->hooks.route_lost != NULL)
		rt->hooks.route_lost(rt, ctx, why, rt->hooks.arg);
	free(why);
}

/* BOOT: u32 id, u32 ancestors..., str name, u32 max_frame, u32 window,
 * u32 keepalive, then fields for the boot hook. */
static void
rt_control_boot(struct rt *rt, const struct rt_msg *m)
{
	struct upk u;
	uint32_t id, n, anc[256];
	char *name;

	upk_init(&u, m->data, m->h.len);
	id = upk_u32(&u);
	n = upk_u32(&u);
	for (uint32_t i = 0; i < n && i < 256; i++)
		anc[i] = upk_u32(&u);
	name = upk_str(&u);
	rt_set_max_frame(rt, upk_u32(&u));
	rt->window = upk_u32(&u);
	link_set_keepalive(m->from, upk_u32(&u));
	if (u.err || n == 0 || n > 256 || id != m->h.dst ||
	    anc[n - 1] != m->h.src || rt->max_frame < 4096) {
		free(name);
		link_close(m->from, "malformed BOOT");
		return;
	}
	rt->id = id;
	rt_set_ancestors(rt, anc, n);
	rt_set_name(rt, name);
	link_set_peer(m->from, m->h.src);
	free(name);
	if (rt->hooks.boot != NULL)
		rt->hooks.boot(rt, m, &u, rt->hooks.arg);
}

void
rt_boot_pack(struct rt *rt, struct pk *pk, uint32_t id, const char *name,
    int keepalive)
{
	pk_u32(pk, id);
	pk_u32(pk, rt->nanc + 1);
	for (size_t i = 0; i < rt->nanc; i++)
		pk_u32(pk, rt->anc[i]);
	pk_u32(pk, rt->id);
	pk_str(pk, name);
	pk_u32(pk, rt->max_frame);
	pk_u32(pk, rt->window);
	pk_u32(pk, keepalive);
}

static void
rt_control(struct rt *rt, const struct rt_msg *m)
{
	struct spn_hdr h = { .kind = SPN_K_KEEPALIVE_ACK, .src = rt->id };

	if (m->from == NULL)
		return;
	switch (m->h.kind) {
	case SPN_K_BOOT:
		rt_control_boot(rt, m);
		break;
	case SPN_K_ROUTE_ADD:
	case SPN_K_ROUTE_DEL:
		rt_control_route(rt, m);
		break;
	case SPN_K_KEEPALIVE:
		h.dst = m->h.src;
		if (rt_may_answer(m->from))
			link_write(m->from, &h, NULL);
		break;
	case SPN_K_KEEPALIVE_ACK:
		break;
	case SPN_K_GONE:
		rt_control_gone(rt, m);
		break;
	default:
		if (link_role(m->from) == LINK_CHILD)
			link_violation(m->from, "sent a %s to the router",
			    wire_kind_name(m->h.kind));
		else
			log_warn("unexpected %s for the router from %u",
			    wire_kind_name(m->h.kind), m->h.src);
	}
}

/* Agents send log records to the master, which prints them. */
void
rt_log_forward(struct rt *rt, int level, const char *text)
{
	struct pk pk;

	pk_init(&pk);
	pk_u32(&pk, level);
	pk_str(&pk, rt->name);
	pk_str(&pk, text);
	rt_send(rt, SPN_K_LOG, SPN_CTX_MASTER, SPN_H_LOG, 0, pk.buf, pk.len);
	pk_free(&pk);
}

static void
rt_close_link(uint32_t ctx, void *v, void *arg)
{
	(void)ctx;
	link_close(v, "%s", (const char *)arg);
}

/* Close every child link: their agents see EOF and shut down. */
void
rt_close_children(struct rt *rt, const char *why)
{
	map_each(rt->routes, rt_close_link, (void *)why);
}

/* The master's LOG handle: print a forwarded record with its context. */
void
rt_log_print(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct upk u;
	uint32_t level;
	char *ctx, *text;
	const char *name = NULL;

	(void)arg;
	if (m->from != NULL && !link_log_allow(m->from))
		return;
	upk_init(&u, m->data, m->h.len);
	level = upk_u32(&u);
	ctx = upk_str(&u);
	text = upk_str(&u);
	/* Named as the master knows its source: the record's own name is
	 * a far end's claim, and could be another route's. */
	if (rt->hooks.ctx_name != NULL)
		name = rt->hooks.ctx_name(rt, m->h.src, rt->hooks.arg);
	/* Its source tells the master's output which route it is of. */
	if (!u.err)
		log_emit_about(level, m->h.src, name != NULL ? name : ctx,
		    text);
	free(ctx);
	free(text);
}
