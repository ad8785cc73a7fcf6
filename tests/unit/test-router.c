/*
 * Unit tests for routing (router.c) and links (link.c): several routers in
 * one process on one event base, joined by socketpairs.  The default tree:
 *
 *	1 (root) --- 2 --- 3
 *	   \
 *	    4
 *
 * A router's index in the tables below is its context id.  Ids and
 * ancestors are set directly (agents normally learn them from BOOT, which
 * has its own test).  Every wait is bounded, so no test can hang.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "router.h"
#include "loop.h"

#define MAXR		8
#define MAXMSG		256
#define MAXLOG		512
#define WAIT_MS		3000

#define H_SVC		100	/* a service handle used by the tests */

/* --- harness --------------------------------------------------------- */

struct linkrec {
	struct link	*l;
	int		 closed;
	char		*why;
};

struct msg {
	uint8_t		 kind;
	uint32_t	 src;
	uint32_t	 dst;
	uint32_t	 handle;
	uint32_t	 reply_to;
	uint32_t	 len;
	uint8_t		*data;
	uint32_t	 reason;	/* DEAD only */
	char		*text;		/* DEAD only */
};

struct inbox {
	int		 n;
	struct msg	 m[MAXMSG];
};

struct net {
	struct event_base *base;
	struct rt	*rt[MAXR];
	uint32_t	 anc[MAXR][MAXR];
	size_t		 nanc[MAXR];
	struct linkrec	 up[MAXR];	/* in rt[i], towards its parent */
	struct linkrec	 down[MAXR];	/* in rt[i]'s parent, towards i */
	struct linkrec	 raw[4];	/* links whose far end is a bare fd */
	int		 rawfd[4];
	int		 parent_lost[MAXR];
	char		*parent_lost_why[MAXR];
	uint32_t	 route_lost[MAXR][MAXR];
	int		 nroute_lost[MAXR];
};

static struct net N;

/*
 * Set during teardown: closing links then sends DEAD LOST to handles whose
 * inboxes lived on a finished test's stack, so handlers ignore everything.
 */
static int tearing_down;

static char	*logs[MAXLOG];
static int	 nlogs;

static void
log_capture(int level, const char *ctx, const char *text, void *arg)
{
	(void)ctx;
	(void)arg;
	if (nlogs < MAXLOG)
		logs[nlogs++] = xprintf("%d %s", level, text);
}

static void
logs_clear(void)
{
	for (int i = 0; i < nlogs; i++)
		free(logs[i]);
	nlogs = 0;
}

static int
log_has(const char *needle)
{
	for (int i = 0; i < nlogs; i++) {
		if (strstr(logs[i], needle) != NULL)
			return 1;
	}
	return 0;
}

static void
logs_dump(void)
{
	for (int i = 0; i < nlogs; i++)
		print_message("  log: %s\n", logs[i]);
}

#define run_for(ms)		loop_run_for(N.base, (ms))
#define RUN_UNTIL(cond, ms)	LOOP_RUN_UNTIL(N.base, cond, ms)

static void
link_closed_cb(struct link *l, const char *why, void *arg)
{
	struct linkrec *r = arg;

	(void)l;
	r->closed = 1;
	free(r->why);
	r->why = xstrdup(why);
	r->l = NULL;
}

static void
track(struct linkrec *r, struct link *l)
{
	struct link_cbs cbs = { .closed = link_closed_cb, .arg = r };

	r->l = l;
	r->closed = 0;
	link_set_cbs(l, &cbs);
}

static void
hook_parent_lost(struct rt *rt, const char *why, void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;

	(void)rt;
	N.parent_lost[id]++;
	free(N.parent_lost_why[id]);
	N.parent_lost_why[id] = xstrdup(why);
}

static void
hook_route_lost(struct rt *rt, uint32_t ctx, const char *why, void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;

	(void)rt;
	(void)why;
	if (N.nroute_lost[id] < MAXR)
		N.route_lost[id][N.nroute_lost[id]++] = ctx;
}

static int
route_was_lost(uint32_t at, uint32_t ctx)
{
	for (int i = 0; i < N.nroute_lost[at]; i++) {
		if (N.route_lost[at][i] == ctx)
			return 1;
	}
	return 0;
}

static struct rt *
router(uint32_t id)
{
	struct rt_hooks hooks = { .parent_lost = hook_parent_lost,
	    .route_lost = hook_route_lost, .arg = (void *)(uintptr_t)id };
	char name[16];

	snprintf(name, sizeof name, "r%u", id);
	N.rt[id] = rt_new(N.base, id, name);
	rt_set_hooks(N.rt[id], &hooks);
	return N.rt[id];
}

static void	inbox_fn(struct rt *, const struct rt_msg *, void *);
static void	inbox_clear(struct inbox *);
static void	assert_tree_alive(void);

/*
 * What the root's CONNECT does on its way down: every router from the
 * root to `parent` learns that `child` may be claimed through it.  No
 * CONNECT service runs here, so the call comes back as a dead letter.
 */
static void
announce(uint32_t parent, uint32_t child)
{
	struct inbox ib = { 0 };
	uint8_t id[4];
	uint32_t h;

	if (parent == 1)
		return;
	be32_put(id, child);
	h = rt_handle_add(N.rt[1], 0, RT_ALLOW_ANY, 0, inbox_fn, &ib);
	rt_send(N.rt[1], SPN_K_CALL, parent, SPN_H_CONNECT, h, id, sizeof id);
	assert_true(LOOP_RUN_UNTIL(N.base, ib.n == 1, WAIT_MS));
	rt_handle_del(N.rt[1], h);
	inbox_clear(&ib);
}

/* Join child under parent as an agent would be after BOOT. */
static void
join(uint32_t parent, uint32_t child)
{
	int sv[2];
	char name[32];

	announce(parent, child);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memcpy(N.anc[child], N.anc[parent], N.nanc[parent] * sizeof(uint32_t));
	N.anc[child][N.nanc[parent]] = parent;
	N.nanc[child] = N.nanc[parent] + 1;
	rt_set_ancestors(N.rt[child], N.anc[child], N.nanc[child]);

	snprintf(name, sizeof name, "%u->%u", parent, child);
	track(&N.down[child], link_new(N.rt[parent], sv[0], sv[0], LINK_CHILD,
	    child, name));
	snprintf(name, sizeof name, "%u->%u", child, parent);
	track(&N.up[child], link_new(N.rt[child], sv[1], sv[1], LINK_PARENT,
	    parent, name));
	assert_ptr_equal(rt_parent(N.rt[child]), N.up[child].l);
	rt_route_add(N.rt[parent], child, N.down[child].l);
}

/* A child link in rt[at] whose other end the test drives by hand. */
static struct link *
raw_link(int slot, uint32_t at, uint32_t peer)
{
	int sv[2];
	char name[32];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	snprintf(name, sizeof name, "raw%d", slot);
	track(&N.raw[slot], link_new(N.rt[at], sv[0], sv[0], LINK_CHILD, peer,
	    name));
	N.rawfd[slot] = sv[1];
	if (peer != 0)
		rt_route_add(N.rt[at], peer, N.raw[slot].l);
	return N.raw[slot].l;
}

static void
write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		assert_true(w > 0);
		b += w;
		n -= (size_t)w;
	}
}

static void
raw_frame(int fd, uint8_t kind, uint32_t dst, uint32_t src, uint32_t handle,
    uint32_t reply_to, const void *data, uint32_t len)
{
	struct spn_hdr h = { .kind = kind, .dst = dst, .src = src,
	    .handle = handle, .reply_to = reply_to, .len = len };
	uint8_t hb[SPN_HDR_LEN];

	wire_put_hdr(hb, &h);
	write_all(fd, hb, sizeof hb);
	if (len != 0)
		write_all(fd, data, len);
}

/* Is fd at EOF (peer closed)?  Drains whatever is pending first. */
static int
fd_at_eof(int fd)
{
	char b[4096];
	ssize_t n;

	fd_nonblock(fd, 1);
	while ((n = read(fd, b, sizeof b)) > 0)
		;
	return n == 0;
}

static void
inbox_fn(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct inbox *ib = arg;
	struct msg *x;
	struct upk u;

	(void)rt;
	if (tearing_down)
		return;
	if (ib->n >= MAXMSG)
		fail_msg("inbox overflow");
	x = &ib->m[ib->n++];
	x->kind = m->h.kind;
	x->src = m->h.src;
	x->dst = m->h.dst;
	x->handle = m->h.handle;
	x->reply_to = m->h.reply_to;
	x->len = m->h.len;
	x->data = xmalloc(m->h.len);
	if (m->h.len != 0)
		memcpy(x->data, m->data, m->h.len);
	x->text = NULL;
	if (m->h.kind == SPN_K_DEAD) {
		upk_init(&u, m->data, m->h.len);
		x->reason = upk_u32(&u);
		x->text = upk_str(&u);
	}
}

static void
inbox_clear(struct inbox *ib)
{
	for (int i = 0; i < ib->n; i++) {
		free(ib->m[i].data);
		free(ib->m[i].text);
	}
	ib->n = 0;
}

/* Answer with the same payload. */
static void
echo_fn(struct rt *rt, const struct rt_msg *m, void *arg)
{
	int *calls = arg;

	if (tearing_down)
		return;
	if (calls != NULL)
		(*calls)++;
	rt_send(rt, SPN_K_REPLY, m->h.src, m->h.reply_to, 0, m->data,
	    m->h.len);
}

static int
setup(void **state)
{
	(void)state;
	memset(&N, 0, sizeof N);
	tearing_down = 0;
	for (int i = 0; i < 4; i++)
		N.rawfd[i] = -1;
	N.base = event_base_new();
	logs_clear();
	log_set_sink(log_capture, NULL);
	log_set_level(SPN_LOG_INFO);
	return N.base == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	tearing_down = 1;
	for (int i = 0; i < MAXR; i++) {
		if (N.up[i].l != NULL)
			link_close(N.up[i].l, "teardown");
		if (N.down[i].l != NULL)
			link_close(N.down[i].l, "teardown");
	}
	for (int i = 0; i < 4; i++) {
		if (N.raw[i].l != NULL)
			link_close(N.raw[i].l, "teardown");
		if (N.rawfd[i] >= 0)
			close(N.rawfd[i]);
	}
	/* Let deferred link frees run. */
	run_for(1);
	for (int i = 0; i < MAXR; i++) {
		if (N.rt[i] != NULL)
			rt_free(N.rt[i]);
		free(N.up[i].why);
		free(N.down[i].why);
		free(N.parent_lost_why[i]);
	}
	for (int i = 0; i < 4; i++)
		free(N.raw[i].why);
	event_base_free(N.base);
	log_set_sink(NULL, NULL);
	logs_clear();
	return 0;
}

/* The standard tree, with routes settled. */
static void
tree(void)
{
	for (uint32_t i = 1; i <= 4; i++)
		router(i);
	join(1, 2);
	join(1, 4);
	join(2, 3);
	assert_true(RUN_UNTIL(rt_route_lookup(N.rt[1], 3) == N.down[2].l,
	    WAIT_MS));
}

/* --- tests ----------------------------------------------------------- */

/* Root calls a service two hops down; the reply comes back the same way. */
static void
test_forward(void **state)
{
	struct inbox ib = { 0 };
	uint32_t reply, max = SPN_MAX_FRAME_DEFAULT;
	uint8_t *big = xmalloc(max);
	uint64_t mid_in, mid_out;
	int calls = 0;

	(void)state;
	tree();
	for (uint32_t i = 0; i < max; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 9));
	rt_handle_add(N.rt[3], H_SVC, RT_ALLOW_ANCESTORS, 0, echo_fn, &calls);
	reply = rt_handle_add(N.rt[1], 0, RT_ALLOW_PEER, 3, inbox_fn, &ib);
	assert_true(reply >= SPN_H_DYNAMIC);

	mid_in = link_bytes_in(N.up[2].l);
	mid_out = link_bytes_out(N.down[3].l);
	rt_send(N.rt[1], SPN_K_CALL, 3, H_SVC, reply, "ping", 4);
	/* A frame of exactly the limit passes both hops. */
	rt_send(N.rt[1], SPN_K_CALL, 3, H_SVC, reply, big, max);
	assert_true(RUN_UNTIL(ib.n == 2, WAIT_MS));
	assert_int_equal(calls, 2);
	assert_int_equal(ib.m[0].kind, SPN_K_REPLY);
	assert_int_equal(ib.m[0].src, 3);
	assert_int_equal(ib.m[0].dst, 1);
	assert_int_equal(ib.m[0].handle, reply);
	assert_int_equal(ib.m[0].len, 4);
	assert_memory_equal(ib.m[0].data, "ping", 4);
	assert_int_equal(ib.m[1].len, max);
	assert_memory_equal(ib.m[1].data, big, max);
	/* It really went through router 2. */
	assert_true(link_bytes_in(N.up[2].l) - mid_in >= 2 * SPN_HDR_LEN +
	    max + 4);
	assert_true(link_bytes_out(N.down[3].l) - mid_out >= 2 * SPN_HDR_LEN +
	    max + 4);
	assert_int_equal(link_queued(N.down[3].l), 0);

	/* Leaf to root, root's handle open to descendants. */
	inbox_clear(&ib);
	rt_handle_add(N.rt[1], H_SVC, RT_ALLOW_DESCENDANTS, 0, echo_fn,
	    &calls);
	reply = rt_handle_add(N.rt[3], 0, RT_ALLOW_PEER, 1, inbox_fn, &ib);
	rt_send(N.rt[3], SPN_K_CALL, 1, H_SVC, reply, "up", 2);
	assert_true(RUN_UNTIL(ib.n == 1, WAIT_MS));
	assert_int_equal(ib.m[0].kind, SPN_K_REPLY);
	assert_int_equal(ib.m[0].src, 1);
	assert_memory_equal(ib.m[0].data, "up", 2);

	/* Siblings are separate trust domains: 4 may not reach 3, even
	 * where 3's handle would take anyone; the root cuts 4 off. */
	inbox_clear(&ib);
	calls = 0;
	rt_handle_add(N.rt[3], H_SVC, RT_ALLOW_ANY, 0, echo_fn, &calls);
	reply = rt_handle_add(N.rt[4], 0, RT_ALLOW_PEER, 3, inbox_fn, &ib);
	rt_send(N.rt[4], SPN_K_CALL, 3, H_SVC, reply, "across", 6);
	assert_true(RUN_UNTIL(N.down[4].closed, WAIT_MS));
	assert_string_equal(N.down[4].why, "protocol violation: sent a CALL "
	    "to context 3, which is not its ancestor");
	assert_int_equal(calls, 0);
	assert_false(N.down[2].closed);
	inbox_clear(&ib);
	free(big);
}

static void
test_route_propagation(void **state)
{
	(void)state;
	tree();
	/* Each router knows what lies below it; the rest is "up". */
	assert_ptr_equal(rt_route_lookup(N.rt[1], 2), N.down[2].l);
	assert_ptr_equal(rt_route_lookup(N.rt[1], 3), N.down[2].l);
	assert_ptr_equal(rt_route_lookup(N.rt[1], 4), N.down[4].l);
	assert_null(rt_route_lookup(N.rt[1], 99));
	assert_ptr_equal(rt_route_lookup(N.rt[2], 3), N.down[3].l);
	assert_ptr_equal(rt_route_lookup(N.rt[2], 4), N.up[2].l);
	assert_ptr_equal(rt_route_lookup(N.rt[2], 1), N.up[2].l);
	assert_ptr_equal(rt_route_lookup(N.rt[3], 4), N.up[3].l);
	assert_ptr_equal(rt_route_lookup(N.rt[4], 3), N.up[4].l);

	/* A great-grandchild becomes reachable from the root. */
	router(5);
	join(3, 5);
	assert_true(RUN_UNTIL(rt_route_lookup(N.rt[1], 5) == N.down[2].l,
	    WAIT_MS));
	assert_ptr_equal(rt_route_lookup(N.rt[2], 5), N.down[3].l);
	assert_ptr_equal(rt_route_lookup(N.rt[3], 5), N.down[5].l);
	assert_int_equal(rt_depth(N.rt[5]), 3);
}

/*
 * A child cannot claim, steal or delete routes it was not asked to
 * create: the first attempt closes its link, and nothing else changes.
 */
static void
hijack(uint32_t child, uint8_t kind, uint32_t ctx, const char *text,
    const char *why)
{
	struct pk pk;
	char *want = xprintf("protocol violation: %s", why);

	router(child);
	join(1, child);
	pk_init(&pk);
	pk_u32(&pk, ctx);
	if (text != NULL)
		pk_str(&pk, text);
	link_write(N.up[child].l, &(struct spn_hdr){ .kind = kind, .dst = 1,
	    .src = child, .len = text == NULL && ctx == 0 ? 2 : pk.len },
	    pk.buf);
	pk_free(&pk);
	assert_true(RUN_UNTIL(N.down[child].closed, WAIT_MS));
	if (strcmp(N.down[child].why, want) != 0)
		fail_msg("closed with \"%s\", wanted \"%s\"",
		    N.down[child].why, want);
	assert_true(route_was_lost(1, child));
	assert_ptr_equal(rt_route_lookup(N.rt[1], 3), N.down[2].l);
	assert_false(route_was_lost(1, 3));
	assert_tree_alive();
	free(want);
}

static void
test_route_hijack(void **state)
{
	(void)state;
	tree();
	/* 4 claims that 3, a live context elsewhere, lies behind it. */
	hijack(4, SPN_K_ROUTE_ADD, 3, NULL, "claimed context 3, which it was "
	    "not asked to create");
	/* ... a context nobody has made yet. */
	hijack(5, SPN_K_ROUTE_ADD, 9, NULL, "claimed context 9, which it was "
	    "not asked to create");
	/* ... that 3 is gone. */
	hijack(6, SPN_K_ROUTE_DEL, 3, "lies", "dropped context 3, which does "
	    "not lie behind it");
	/* A truncated ROUTE_ADD. */
	hijack(7, SPN_K_ROUTE_ADD, 0, NULL, "malformed ROUTE_ADD");
}

/* A context announced by a CONNECT is claimed once, through that link. */
static void
test_route_claim_once(void **state)
{
	struct pk pk;

	(void)state;
	tree();
	router(5);
	join(3, 5);
	assert_true(RUN_UNTIL(rt_route_lookup(N.rt[1], 5) == N.down[2].l,
	    WAIT_MS));
	/* 2 says 5 is behind it again: it was asked once, and claimed it. */
	pk_init(&pk);
	pk_u32(&pk, 5);
	link_write(N.up[2].l, &(struct spn_hdr){ .kind = SPN_K_ROUTE_ADD,
	    .dst = 1, .src = 2, .len = pk.len }, pk.buf);
	pk_free(&pk);
	assert_true(RUN_UNTIL(N.down[2].closed, WAIT_MS));
	assert_string_equal(N.down[2].why, "protocol violation: claimed "
	    "context 5, which it was not asked to create");
	assert_false(N.down[4].closed);
}

/* A frame whose source does not lie behind the child link it came on
 * closes that link; from the parent link it is dropped and logged.  The
 * handle never sees it. */
static void
test_reverse_path(void **state)
{
	struct inbox root_ib = { 0 }, mid_ib = { 0 };

	(void)state;
	tree();
	rt_handle_add(N.rt[1], H_SVC, RT_ALLOW_ANY, 0, inbox_fn, &root_ib);
	rt_handle_add(N.rt[2], H_SVC, RT_ALLOW_ANY, 0, inbox_fn, &mid_ib);

	/* 4 pretends to be 3. */
	link_write(N.up[4].l, &(struct spn_hdr){ .kind = SPN_K_CALL,
	    .dst = 1, .src = 3, .handle = H_SVC, .len = 5 }, "spoof");
	/* From above: the root pretends to be 2's child 3. */
	link_write(N.down[2].l, &(struct spn_hdr){ .kind = SPN_K_CALL,
	    .dst = 2, .src = 3, .handle = H_SVC, .len = 5 }, "spoof");
	/* 3 pretends to be the root, towards 2. */
	link_write(N.up[3].l, &(struct spn_hdr){ .kind = SPN_K_CALL,
	    .dst = 2, .src = 1, .handle = H_SVC, .len = 5 }, "spoof");
	rt_send(N.rt[1], SPN_K_CALL, 2, H_SVC, 0, "honest", 6);
	assert_true(RUN_UNTIL(mid_ib.n >= 1 && N.down[4].closed &&
	    N.down[3].closed, WAIT_MS));
	run_for(20);

	assert_int_equal(root_ib.n, 0);
	assert_int_equal(mid_ib.n, 1);
	assert_int_equal(mid_ib.m[0].src, 1);
	assert_memory_equal(mid_ib.m[0].data, "honest", 6);
	assert_string_equal(N.down[4].why, "protocol violation: sent a CALL "
	    "as context 3, which does not lie behind it");
	assert_string_equal(N.down[3].why, "protocol violation: sent a CALL "
	    "as context 1, which does not lie behind it");
	if (!log_has("dropped CALL from 3 on link 2->1")) {
		logs_dump();
		fail_msg("missing reverse-path warning");
	}
	/* The parent link is not closed for what arrives on it. */
	assert_false(N.up[2].closed);
	assert_false(N.down[2].closed);
	inbox_clear(&root_ib);
	inbox_clear(&mid_ib);
}

static void
expect_dead(struct inbox *ib, uint32_t reason, const char *text)
{
	assert_int_equal(ib->n, 1);
	assert_int_equal(ib->m[0].kind, SPN_K_DEAD);
	if (ib->m[0].reason != reason)
		fail_msg("dead letter reason %u (%s), wanted %u (%s)",
		    ib->m[0].reason, wire_dead_name(ib->m[0].reason), reason,
		    wire_dead_name(reason));
	assert_non_null(ib->m[0].text);
	if (text != NULL && strstr(ib->m[0].text, text) == NULL)
		fail_msg("dead letter text \"%s\" lacks \"%s\"", ib->m[0].text,
		    text);
}

/* The root has no parent: an unknown context is answered at once. */
static void
test_dead_no_route(void **state)
{
	struct inbox ib = { 0 };
	uint32_t reply;

	(void)state;
	tree();
	reply = rt_handle_add(N.rt[1], 0, RT_ALLOW_PEER, 99, inbox_fn, &ib);
	rt_send(N.rt[1], SPN_K_CALL, 99, H_SVC, reply, "x", 1);
	assert_true(RUN_UNTIL(ib.n == 1, WAIT_MS));
	expect_dead(&ib, SPN_D_NO_ROUTE, NULL);
	assert_int_equal(ib.m[0].handle, reply);
	inbox_clear(&ib);
}

/*
 * A message that fails at an intermediate router is answered by that
 * router.  The caller's reply handle is registered the way agent/call.c
 * does it (RT_ALLOW_PEER, peer = the context called), so the dead letter
 * must be accepted by it, or the caller waits forever.
 */
static void
test_dead_no_route_via_hop(void **state)
{
	struct inbox ib = { 0 }, ib2 = { 0 };
	uint32_t reply;

	(void)state;
	tree();
	/* Leaf 3 calls a context nobody knows: it fails at the root. */
	reply = rt_handle_add(N.rt[3], 0, RT_ALLOW_PEER, 99, inbox_fn, &ib);
	rt_send(N.rt[3], SPN_K_CALL, 99, H_SVC, reply, "x", 1);
	/* The root holds a stale route to 7 via 2, which has none: it fails
	 * at 2. */
	rt_route_add(N.rt[1], 7, N.down[2].l);
	reply = rt_handle_add(N.rt[1], 0, RT_ALLOW_PEER, 7, inbox_fn, &ib2);
	rt_send(N.rt[1], SPN_K_CALL, 7, H_SVC, reply, "x", 1);
	if (!RUN_UNTIL(ib.n == 1 && ib2.n == 1, WAIT_MS)) {
		logs_dump();
		fail_msg("no dead letter reached the caller (leaf: %d, root: "
		    "%d): dead letters from a forwarding hop are refused by "
		    "RT_ALLOW_PEER reply handles", ib.n, ib2.n);
	}
	expect_dead(&ib, SPN_D_NO_ROUTE, NULL);
	expect_dead(&ib2, SPN_D_NO_ROUTE, NULL);
	inbox_clear(&ib);
	inbox_clear(&ib2);
}

static void
test_dead_no_handle(void **state)
{
	struct inbox ib = { 0 };
	uint32_t reply;

	(void)state;
	tree();
	reply = rt_handle_add(N.rt[1], 0, RT_ALLOW_PEER, 3, inbox_fn, &ib);
	rt_send(N.rt[1], SPN_K_CALL, 3, 777, reply, "x", 1);
	assert_true(RUN_UNTIL(ib.n == 1, WAIT_MS));
	expect_dead(&ib, SPN_D_NO_HANDLE, "no handle 777 in context 3");
	assert_int_equal(ib.m[0].src, 3);
	inbox_clear(&ib);

	/* Deleted handles are unknown too. */
	rt_handle_add(N.rt[3], H_SVC, RT_ALLOW_ANCESTORS, 0, echo_fn, NULL);
	rt_handle_del(N.rt[3], H_SVC);
	rt_send(N.rt[1], SPN_K_CALL, 3, H_SVC, reply, "x", 1);
	assert_true(RUN_UNTIL(ib.n == 1, WAIT_MS));
	expect_dead(&ib, SPN_D_NO_HANDLE, NULL);
	inbox_clear(&ib);
}

/* Handle policies: what each kind of handle lets in. */
static void
test_policy(void **state)
{
	struct inbox ib = { 0 }, rib = { 0 };
	uint32_t reply_2, reply_1, r;
	int calls = 0;

	(void)state;
	tree();
	reply_2 = rt_handle_add(N.rt[3], 0, RT_ALLOW_PEER, 2, inbox_fn, &ib);
	reply_1 = rt_handle_add(N.rt[3], 0, RT_ALLOW_PEER, 1, inbox_fn, &ib);

	/* The ancestors may call down. */
	rt_handle_add(N.rt[3], H_SVC, RT_ALLOW_ANCESTORS, 0, echo_fn, &calls);
	r = rt_handle_add(N.rt[1], 0, RT_ALLOW_PEER, 3, inbox_fn, &rib);
	rt_send(N.rt[1], SPN_K_CALL, 3, H_SVC, r, "x", 1);
	assert_true(RUN_UNTIL(rib.n == 1, WAIT_MS));
	assert_int_equal(rib.m[0].kind, SPN_K_REPLY);
	assert_int_equal(calls, 1);
	inbox_clear(&rib);

	/* Descendants-allowed handles accept children and grandchildren. */
	calls = 0;
	rt_handle_add(N.rt[2], H_SVC, RT_ALLOW_DESCENDANTS, 0, echo_fn,
	    &calls);
	rt_handle_add(N.rt[1], H_SVC, RT_ALLOW_DESCENDANTS, 0, echo_fn,
	    &calls);
	rt_send(N.rt[3], SPN_K_CALL, 2, H_SVC, reply_2, "x", 1);
	rt_send(N.rt[3], SPN_K_CALL, 1, H_SVC, reply_1, "y", 1);
	assert_true(RUN_UNTIL(ib.n == 2, WAIT_MS));
	assert_int_equal(calls, 2);
	assert_int_equal(ib.m[0].kind, SPN_K_REPLY);
	assert_int_equal(ib.m[1].kind, SPN_K_REPLY);
	inbox_clear(&ib);

	/* A peer-only handle takes its peer. */
	rt_handle_add(N.rt[2], H_SVC, RT_ALLOW_PEER, 3, echo_fn, &calls);
	rt_send(N.rt[3], SPN_K_CALL, 2, H_SVC, reply_2, "x", 1);
	assert_true(RUN_UNTIL(ib.n == 1, WAIT_MS));
	assert_int_equal(ib.m[0].kind, SPN_K_REPLY);
	inbox_clear(&ib);
}

/* A child that calls what it may not is cut off; so is one calling a
 * handle that does not exist (children never call their parents). */
static void
test_policy_refused(void **state)
{
	struct inbox ib = { 0 };
	int calls = 0;

	(void)state;
	tree();
	router(5);
	join(1, 5);
	/* Parent's ancestors-only handle. */
	rt_handle_add(N.rt[2], H_SVC, RT_ALLOW_ANCESTORS, 0, echo_fn, &calls);
	rt_send(N.rt[3], SPN_K_CALL, 2, H_SVC, 0, "x", 1);
	/* A grandparent's peer-only handle, with someone else as peer. */
	rt_handle_add(N.rt[1], H_SVC, RT_ALLOW_PEER, 2, echo_fn, &calls);
	rt_send(N.rt[4], SPN_K_CALL, 1, H_SVC, 0, "x", 1);
	/* No such handle. */
	rt_send(N.rt[5], SPN_K_CALL, 1, H_SVC + 1, 0, "x", 1);
	assert_true(RUN_UNTIL(N.down[3].closed && N.down[4].closed &&
	    N.down[5].closed, WAIT_MS));
	assert_int_equal(calls, 0);
	assert_string_equal(N.down[3].why, "protocol violation: context 3 "
	    "sent a CALL to handle 100 of context 2, which it may not call");
	assert_string_equal(N.down[4].why, "protocol violation: context 4 "
	    "sent a CALL to handle 100 of context 1, which it may not call");
	assert_string_equal(N.down[5].why, "protocol violation: context 5 "
	    "sent a CALL to handle 101 of context 1, which it may not call");
	/* 3's loss reaches the root as a lost route; 2 stays. */
	assert_true(RUN_UNTIL(route_was_lost(1, 3), WAIT_MS));
	assert_false(N.down[2].closed);
	inbox_clear(&ib);
}

static void
test_dead_too_large(void **state)
{
	struct inbox ib = { 0 }, svc = { 0 };
	uint32_t reply, max;
	uint64_t out;
	uint8_t *big;

	(void)state;
	tree();
	rt_set_max_frame(N.rt[3], 64 * 1024);
	max = rt_max_frame(N.rt[3]);
	assert_int_equal(max, 64 * 1024);
	big = xcalloc(1, max + 1);
	rt_handle_add(N.rt[1], H_SVC, RT_ALLOW_ANY, 0, inbox_fn, &svc);
	reply = rt_handle_add(N.rt[3], 0, RT_ALLOW_PEER, 1, inbox_fn, &ib);
	out = link_bytes_out(N.up[3].l);
	rt_send(N.rt[3], SPN_K_CALL, 1, H_SVC, reply, big, max + 1);
	assert_true(RUN_UNTIL(ib.n == 1, WAIT_MS));
	expect_dead(&ib, SPN_D_TOO_LARGE, "frame limit");
	inbox_clear(&ib);
	/* Nothing went out; without a reply handle it is logged. */
	rt_send(N.rt[3], SPN_K_CALL, 1, H_SVC, 0, big, max + 1);
	assert_true(log_has("dropped"));
	run_for(20);
	assert_int_equal(link_bytes_out(N.up[3].l), out);
	assert_int_equal(svc.n, 0);
	/* The limit itself is fine. */
	rt_send(N.rt[3], SPN_K_CALL, 1, H_SVC, 0, big, max);
	assert_true(RUN_UNTIL(svc.n == 1, WAIT_MS));
	assert_int_equal(svc.m[0].len, max);
	/* The hard limit caps the setting. */
	rt_set_max_frame(N.rt[3], 0xffffffff);
	assert_int_equal(rt_max_frame(N.rt[3]), SPN_MAX_FRAME_HARD);
	inbox_clear(&svc);
	free(big);
}

/* Dead letters are never answered, so two routers cannot ping-pong. */
static void
test_dead_not_answered(void **state)
{
	struct inbox ib = { 0 };
	uint32_t reply;

	(void)state;
	tree();
	reply = rt_handle_add(N.rt[1], 0, RT_ALLOW_ANY, 0, inbox_fn, &ib);
	rt_send(N.rt[1], SPN_K_DEAD, 3, 777, reply, "", 0);
	rt_send(N.rt[1], SPN_K_DEAD, 99, 777, reply, "", 0);
	/* A message without reply_to is dropped silently too. */
	rt_send(N.rt[1], SPN_K_CALL, 3, 777, 0, "", 0);
	rt_handle_add(N.rt[3], H_SVC, RT_ALLOW_ANCESTORS, 0, echo_fn, NULL);
	rt_send(N.rt[1], SPN_K_CALL, 3, H_SVC, reply, "sync", 4);
	assert_true(RUN_UNTIL(ib.n >= 1, WAIT_MS));
	run_for(20);
	assert_int_equal(ib.n, 1);
	assert_int_equal(ib.m[0].kind, SPN_K_REPLY);
	inbox_clear(&ib);
}

/*
 * Leaf 3 dies: 2 sees its link close, forgets 3, tells 1 with ROUTE_DEL,
 * and every handle waiting on 3 (RT_ALLOW_PEER, peer 3) gets DEAD LOST.
 */
static void
test_link_lost(void **state)
{
	struct inbox root_wait = { 0 }, root_other = { 0 }, mid_wait = { 0 };
	struct inbox ib = { 0 };
	uint32_t reply;

	(void)state;
	tree();
	rt_handle_add(N.rt[1], 0, RT_ALLOW_PEER, 3, inbox_fn, &root_wait);
	rt_handle_add(N.rt[1], 0, RT_ALLOW_PEER, 2, inbox_fn, &root_other);
	rt_handle_add(N.rt[2], 0, RT_ALLOW_PEER, 3, inbox_fn, &mid_wait);

	/* The leaf's end goes away (as if its process died). */
	link_close(N.up[3].l, "simulated crash");
	assert_int_equal(N.parent_lost[3], 1);
	assert_string_equal(N.parent_lost_why[3], "simulated crash");
	assert_null(rt_parent(N.rt[3]));

	assert_true(RUN_UNTIL(N.down[3].closed && root_wait.n == 1 &&
	    mid_wait.n == 1, WAIT_MS));
	assert_string_equal(N.down[3].why, "connection closed");
	expect_dead(&root_wait, SPN_D_LOST, "connection closed");
	assert_int_equal(root_wait.m[0].src, 3);
	expect_dead(&mid_wait, SPN_D_LOST, NULL);
	assert_null(rt_route_lookup(N.rt[1], 3));
	assert_ptr_equal(rt_route_lookup(N.rt[2], 3), N.up[2].l);
	assert_true(route_was_lost(2, 3));
	assert_true(route_was_lost(1, 3));
	run_for(20);
	assert_int_equal(root_other.n, 0);

	/* 2 is still reachable; 3 is not. */
	rt_handle_add(N.rt[2], H_SVC, RT_ALLOW_ANCESTORS, 0, echo_fn, NULL);
	reply = rt_handle_add(N.rt[1], 0, RT_ALLOW_ANY, 0, inbox_fn, &ib);
	rt_send(N.rt[1], SPN_K_CALL, 2, H_SVC, reply, "x", 1);
	rt_send(N.rt[1], SPN_K_CALL, 3, H_SVC, reply, "x", 1);
	assert_true(RUN_UNTIL(ib.n == 2, WAIT_MS));
	for (int i = 0; i < 2; i++) {
		if (ib.m[i].src == 2)
			assert_int_equal(ib.m[i].kind, SPN_K_REPLY);
		else {
			assert_int_equal(ib.m[i].src, 3);
			assert_int_equal(ib.m[i].kind, SPN_K_DEAD);
			assert_int_equal(ib.m[i].reason, SPN_D_NO_ROUTE);
		}
	}
	inbox_clear(&ib);

	/* Closing the root's link to 2 loses 2 (and nothing else). */
	link_close(N.down[2].l, "going away");
	assert_true(RUN_UNTIL(root_other.n == 1, WAIT_MS));
	expect_dead(&root_other, SPN_D_LOST, "going away");
	assert_null(rt_route_lookup(N.rt[1], 2));
	assert_ptr_equal(rt_route_lookup(N.rt[1], 4), N.down[4].l);
	assert_true(RUN_UNTIL(N.up[2].closed, WAIT_MS));
	assert_int_equal(N.parent_lost[2], 1);
	inbox_clear(&root_wait);
	inbox_clear(&root_other);
	inbox_clear(&mid_wait);
}

/* Losing a middle router loses everything behind it. */
static void
test_subtree_lost(void **state)
{
	struct inbox w2 = { 0 }, w3 = { 0 };

	(void)state;
	tree();
	rt_handle_add(N.rt[1], 0, RT_ALLOW_PEER, 2, inbox_fn, &w2);
	rt_handle_add(N.rt[1], 0, RT_ALLOW_PEER, 3, inbox_fn, &w3);
	link_close(N.up[2].l, "mid crash");
	assert_true(RUN_UNTIL(w2.n == 1 && w3.n == 1, WAIT_MS));
	expect_dead(&w2, SPN_D_LOST, NULL);
	expect_dead(&w3, SPN_D_LOST, NULL);
	assert_null(rt_route_lookup(N.rt[1], 2));
	assert_null(rt_route_lookup(N.rt[1], 3));
	inbox_clear(&w2);
	inbox_clear(&w3);
}

/* Root <-> 3 keeps working: a ping round trip. */
static void
assert_tree_alive(void)
{
	struct inbox ib = { 0 };
	uint32_t reply;

	rt_handle_add(N.rt[3], H_SVC, RT_ALLOW_ANCESTORS, 0, echo_fn, NULL);
	reply = rt_handle_add(N.rt[1], 0, RT_ALLOW_PEER, 3, inbox_fn, &ib);
	rt_send(N.rt[1], SPN_K_CALL, 3, H_SVC, reply, "alive", 5);
	assert_true(RUN_UNTIL(ib.n == 1, WAIT_MS));
	assert_int_equal(ib.m[0].kind, SPN_K_REPLY);
	assert_memory_equal(ib.m[0].data, "alive", 5);
	rt_handle_del(N.rt[1], reply);
	inbox_clear(&ib);
}

struct bad_case {
	const char	*name;
	uint8_t		 bytes[64];
	size_t		 len;
	const char	*why;
};

/*
 * Bytes that are not a valid frame close that link, with the reason, and
 * no other.  The far end sees EOF.
 */
static void
test_bad_frames(void **state)
{
	struct bad_case cases[4];
	struct spn_hdr h;
	struct inbox svc = { 0 };

	(void)state;
	tree();
	memset(cases, 0, sizeof cases);
	cases[0].name = "garbage";
	memcpy(cases[0].bytes, "garbage garbage garbage garbage!", 32);
	cases[0].len = 32;
	cases[0].why = "protocol violation: "
	    "invalid frame: bad magic 0x6761";

	cases[1].name = "oversized";
	h = (struct spn_hdr){ .kind = SPN_K_CALL, .dst = 1, .src = 9,
	    .handle = H_SVC, .len = SPN_MAX_FRAME_DEFAULT + 1 };
	wire_put_hdr(cases[1].bytes, &h);
	cases[1].len = SPN_HDR_LEN;
	cases[1].why = "protocol violation: "
	    "invalid frame: frame of 1048577 bytes exceeds limit "
	    "1048576";

	cases[2].name = "kind 0";
	h = (struct spn_hdr){ .kind = 0, .dst = 1, .src = 9 };
	wire_put_hdr(cases[2].bytes, &h);
	cases[2].len = SPN_HDR_LEN;
	cases[2].why = "protocol violation: "
	    "invalid frame: unknown frame kind 0";

	/* A good frame, then a header with a zero source. */
	cases[3].name = "good then zero src";
	h = (struct spn_hdr){ .kind = SPN_K_CALL, .dst = 1, .src = 9,
	    .handle = H_SVC, .len = 2 };
	wire_put_hdr(cases[3].bytes, &h);
	memcpy(cases[3].bytes + SPN_HDR_LEN, "ok", 2);
	h = (struct spn_hdr){ .kind = SPN_K_CALL, .dst = 1, .src = 0 };
	wire_put_hdr(cases[3].bytes + SPN_HDR_LEN + 2, &h);
	cases[3].len = 2 * SPN_HDR_LEN + 2;
	cases[3].why = "protocol violation: "
	    "invalid frame: zero context id (src 0 dst 1)";

	rt_handle_add(N.rt[1], H_SVC, RT_ALLOW_DESCENDANTS, 0, inbox_fn,
	    &svc);
	for (int i = 0; i < 4; i++) {
		raw_link(i, 1, 9);
		write_all(N.rawfd[i], cases[i].bytes, cases[i].len);
		if (!RUN_UNTIL(N.raw[i].closed, WAIT_MS))
			fail_msg("%s: link not closed", cases[i].name);
		if (strcmp(N.raw[i].why, cases[i].why) != 0)
			fail_msg("%s: closed with \"%s\", wanted \"%s\"",
			    cases[i].name, N.raw[i].why, cases[i].why);
		assert_true(fd_at_eof(N.rawfd[i]));
		assert_null(rt_route_lookup(N.rt[1], 9));
		/* The other links of the same router are untouched. */
		assert_false(N.down[2].closed);
		assert_false(N.down[4].closed);
		assert_tree_alive();
	}
	/* The good frame ahead of the bad header was delivered. */
	assert_int_equal(svc.n, 1);
	assert_memory_equal(svc.m[0].data, "ok", 2);
	inbox_clear(&svc);
}

/* A header split across many writes, and a payload trickling in, parse. */
static void
test_split_frames(void **state)
{
	struct inbox svc = { 0 };
	uint8_t buf[3 * (SPN_HDR_LEN + 100)];
	struct spn_hdr h = { .kind = SPN_K_CALL, .dst = 1, .src = 9,
	    .handle = H_SVC, .len = 100 };

	(void)state;
	tree();
	rt_handle_add(N.rt[1], H_SVC, RT_ALLOW_DESCENDANTS, 0, inbox_fn,
	    &svc);
	raw_link(0, 1, 9);
	for (int i = 0; i < 3; i++) {
		uint8_t *p = buf + i * (SPN_HDR_LEN + 100);

		wire_put_hdr(p, &h);
		memset(p + SPN_HDR_LEN, 'a' + i, 100);
	}
	for (size_t off = 0; off < sizeof buf; off += 7) {
		size_t n = sizeof buf - off < 7 ? sizeof buf - off : 7;

		write_all(N.rawfd[0], buf + off, n);
		run_for(1);
	}
	if (!RUN_UNTIL(svc.n == 3, WAIT_MS)) {
		logs_dump();
		fail_msg("svc.n %d", svc.n);
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(svc.m[i].len, 100);
		assert_int_equal(svc.m[i].data[99], 'a' + i);
	}
	assert_false(N.raw[0].closed);
	inbox_clear(&svc);
}

struct pre_rec {
	char	*text[8];
	int	 ntext;
	char	*arch;
	int	 refuse;
};

static void
pre_text(struct link *l, const char *line, void *arg)
{
	struct pre_rec *p = arg;

	(void)l;
	if (p->ntext < 8)
		p->text[p->ntext++] = xstrdup(line);
}

static int
pre_preamble(struct link *l, const char *arch, void *arg)
{
	struct pre_rec *p = arg;

	(void)l;
	p->arch = xstrdup(arch);
	return p->refuse ? -1 : 0;
}

static void
pre_closed(struct link *l, const char *why, void *arg)
{
	(void)arg;
	link_closed_cb(l, why, &N.raw[0]);
}

static void
pre_free(struct pre_rec *p)
{
	for (int i = 0; i < p->ntext; i++)
		free(p->text[i]);
	free(p->arch);
	memset(p, 0, sizeof *p);
}

static void
pre_link(struct pre_rec *p)
{
	struct link_cbs cbs = { .text = pre_text, .preamble = pre_preamble,
	    .closed = pre_closed, .arg = p };

	raw_link(0, 1, 9);
	link_set_cbs(N.raw[0].l, &cbs);
	link_expect_preamble(N.raw[0].l);
}

/* Child links first carry text (banners, stage 0) up to "SPN0 <arch>". */
static void
test_preamble(void **state)
{
	struct pre_rec p = { 0 };
	struct inbox svc = { 0 };
	char *junk;
	static const char text[] = "Welcome to host\nlast login: never\n"
	    "SPN0 x86_64\n";

	(void)state;
	tree();
	rt_handle_add(N.rt[1], H_SVC, RT_ALLOW_DESCENDANTS, 0, inbox_fn,
	    &svc);
	pre_link(&p);
	write_all(N.rawfd[0], text, sizeof text - 1);
	raw_frame(N.rawfd[0], SPN_K_CALL, 1, 9, H_SVC, 0, "frame", 5);
	assert_true(RUN_UNTIL(svc.n == 1, WAIT_MS));
	assert_int_equal(p.ntext, 2);
	assert_string_equal(p.text[0], "Welcome to host");
	assert_string_equal(p.text[1], "last login: never");
	assert_non_null(p.arch);
	assert_string_equal(p.arch, "x86_64");
	assert_memory_equal(svc.m[0].data, "frame", 5);
	assert_false(N.raw[0].closed);
	link_close(N.raw[0].l, "done");
	close(N.rawfd[0]);
	N.rawfd[0] = -1;
	pre_free(&p);
	inbox_clear(&svc);

	/* An endless line without a newline is refused. */
	pre_link(&p);
	junk = xmalloc(8192);
	memset(junk, 'j', 8192);
	write_all(N.rawfd[0], junk, 8192);
	free(junk);
	assert_true(RUN_UNTIL(N.raw[0].closed, WAIT_MS));
	assert_string_equal(N.raw[0].why, "garbage before the agent started");
	assert_tree_alive();
	close(N.rawfd[0]);
	N.rawfd[0] = -1;
	pre_free(&p);
}

/*
 * router.h: the preamble callback may "return -1 to refuse the link".  A
 * refused link must not go on to parse what follows as frames.
 */
static void
test_preamble_refused(void **state)
{
	struct pre_rec p = { .refuse = 1 };
	struct inbox svc = { 0 };
	static const char text[] = "SPN0 vax\n";

	(void)state;
	tree();
	rt_handle_add(N.rt[1], H_SVC, RT_ALLOW_DESCENDANTS, 0, inbox_fn,
	    &svc);
	pre_link(&p);
	p.refuse = 1;
	write_all(N.rawfd[0], text, sizeof text - 1);
	assert_true(RUN_UNTIL(p.arch != NULL, WAIT_MS));
	run_for(20);
	{
		/* The link may already be closed: a failed write is fine. */
		uint8_t b[SPN_HDR_LEN + 5];

		wire_put_hdr(b, &(struct spn_hdr){ .kind = SPN_K_CALL,
		    .dst = 1, .src = 9, .handle = H_SVC, .len = 5 });
		memcpy(b + SPN_HDR_LEN, "after", 5);
		if (write(N.rawfd[0], b, sizeof b) < 0)
			assert_true(errno == EPIPE || errno == ECONNRESET);
	}
	run_for(50);
	if (svc.n != 0 || !N.raw[0].closed)
		fail_msg("refused link: still open: %s, frames delivered "
		    "after refusal: %d", N.raw[0].closed ? "no" : "yes",
		    svc.n);
	pre_free(&p);
	inbox_clear(&svc);
}

struct boot_rec {
	int	 calls;
	char	*extra;
};

static void
boot_hook(struct rt *rt, const struct rt_msg *m, struct upk *u, void *arg)
{
	struct boot_rec *b = arg;

	(void)rt;
	(void)m;
	b->calls++;
	free(b->extra);
	b->extra = upk_str(u);
}

static struct link *
boot_child(struct boot_rec *b, int *fds)
{
	struct rt_hooks hooks = { .boot = boot_hook, .arg = b };
	int sv[2];

	router(7);
	rt_set_id(N.rt[7], 0);
	rt_set_hooks(N.rt[7], &hooks);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	track(&N.down[7], link_new(N.rt[1], sv[0], sv[0], LINK_CHILD, 7,
	    "1->7"));
	track(&N.up[7], link_new(N.rt[7], sv[1], sv[1], LINK_PARENT, 0,
	    "7->1"));
	rt_route_add(N.rt[1], 7, N.down[7].l);
	if (fds != NULL)
		memcpy(fds, sv, sizeof sv);
	return N.down[7].l;
}

/* A new agent learns who it is from BOOT. */
static void
test_boot(void **state)
{
	struct boot_rec b = { 0 };
	struct inbox ib = { 0 };
	struct pk pk;
	struct link *l;
	uint32_t reply;

	(void)state;
	tree();
	rt_set_window(N.rt[1], 300000);
	rt_set_max_frame(N.rt[1], 200000);
	l = boot_child(&b, NULL);
	pk_init(&pk);
	rt_boot_pack(N.rt[1], &pk, 7, "seven", 0);
	pk_str(&pk, "for the hook");
	link_write(l, &(struct spn_hdr){ .kind = SPN_K_BOOT, .dst = 7,
	    .src = 1, .len = pk.len }, pk.buf);
	pk_free(&pk);
	assert_true(RUN_UNTIL(b.calls == 1, WAIT_MS));
	assert_int_equal(rt_id(N.rt[7]), 7);
	assert_string_equal(rt_name(N.rt[7]), "seven");
	assert_int_equal(rt_depth(N.rt[7]), 1);
	assert_true(rt_is_ancestor(N.rt[7], 1));
	assert_false(rt_is_ancestor(N.rt[7], 7));
	assert_int_equal(rt_max_frame(N.rt[7]), 200000);
	assert_int_equal(rt_window(N.rt[7]), 300000);
	assert_int_equal(link_peer(N.up[7].l), 1);
	assert_non_null(b.extra);
	assert_string_equal(b.extra, "for the hook");

	/* Now it can talk. */
	rt_handle_add(N.rt[7], H_SVC, RT_ALLOW_ANCESTORS, 0, echo_fn, NULL);
	reply = rt_handle_add(N.rt[1], 0, RT_ALLOW_PEER, 7, inbox_fn, &ib);
	rt_send(N.rt[1], SPN_K_CALL, 7, H_SVC, reply, "hi", 2);
	assert_true(RUN_UNTIL(ib.n == 1, WAIT_MS));
	assert_int_equal(ib.m[0].kind, SPN_K_REPLY);
	inbox_clear(&ib);

	/* A second BOOT is not accepted: identity is set once. */
	pk_init(&pk);
	rt_boot_pack(N.rt[1], &pk, 7, "imposter", 0);
	link_write(l, &(struct spn_hdr){ .kind = SPN_K_BOOT, .dst = 7,
	    .src = 1, .len = pk.len }, pk.buf);
	pk_free(&pk);
	run_for(30);
	assert_int_equal(b.calls, 1);
	assert_string_equal(rt_name(N.rt[7]), "seven");
	assert_true(log_has("dropped BOOT"));
	free(b.extra);
}

static void
test_boot_malformed(void **state)
{
	struct boot_rec b = { 0 };
	struct pk pk;
	struct link *l;

	(void)state;
	tree();
	l = boot_child(&b, NULL);
	/* The id in the payload does not match the frame's destination. */
	pk_init(&pk);
	rt_boot_pack(N.rt[1], &pk, 8, "eight", 0);
	link_write(l, &(struct spn_hdr){ .kind = SPN_K_BOOT, .dst = 7,
	    .src = 1, .len = pk.len }, pk.buf);
	pk_free(&pk);
	assert_true(RUN_UNTIL(N.up[7].closed, WAIT_MS));
	assert_string_equal(N.up[7].why, "malformed BOOT");
	assert_int_equal(b.calls, 0);
	assert_int_equal(rt_id(N.rt[7]), 0);
	assert_true(RUN_UNTIL(N.down[7].closed, WAIT_MS));

	/* A BOOT arriving on a child link is never accepted. */
	raw_link(0, 1, 9);
	pk_init(&pk);
	pk_u32(&pk, 1);
	pk_u32(&pk, 1);
	pk_u32(&pk, 9);
	pk_str(&pk, "evil");
	pk_u32(&pk, 4096);
	pk_u32(&pk, 4096);
	pk_u32(&pk, 0);
	raw_frame(N.rawfd[0], SPN_K_BOOT, 1, 9, 0, 0, pk.buf, pk.len);
	pk_free(&pk);
	assert_true(RUN_UNTIL(N.raw[0].closed, WAIT_MS));
	assert_string_equal(N.raw[0].why, "protocol violation: sent a BOOT, "
	    "which only a parent sends");
	assert_int_equal(rt_id(N.rt[1]), 1);
	assert_string_equal(rt_name(N.rt[1]), "r1");
	assert_tree_alive();
	free(b.extra);
}

/* A silent peer is dropped by keepalive; a live one is kept. */
static void
test_keepalive(void **state)
{
	(void)state;
	tree();
	raw_link(0, 1, 9);
	link_set_keepalive(N.raw[0].l, 1);
	link_set_keepalive(N.up[2].l, 2);
	link_set_keepalive(N.down[2].l, 2);
	assert_true(RUN_UNTIL(N.raw[0].closed, 4000));
	assert_string_equal(N.raw[0].why,
	    "no answer for 1 seconds (keepalive)");
	/* Two more idle seconds on the live link. */
	run_for(2500);
	assert_false(N.up[2].closed);
	assert_false(N.down[2].closed);
	assert_true(link_bytes_in(N.up[2].l) > 0);
	assert_tree_alive();
}

/*
 * A handle that answers a local message with a local message (a context
 * pinging itself) must see its payload intact, and the echo must carry it.
 */
static int local_changed, local_bad, local_got;

static void
local_echo_fn(struct rt *rt, const struct rt_msg *m, void *arg)
{
	uint8_t copy[4096];

	(void)arg;
	if (m->h.len != 0)
		memcpy(copy, m->data, m->h.len);
	rt_send(rt, SPN_K_REPLY, m->h.src, m->h.reply_to, 0, m->data,
	    m->h.len);
	if (m->h.len != 0 && memcmp(copy, m->data, m->h.len) != 0)
		local_changed++;
}

static void
local_reply_fn(struct rt *rt, const struct rt_msg *m, void *arg)
{
	(void)rt;
	(void)arg;
	local_got++;
	for (uint32_t i = 0; i < m->h.len; i++) {
		if (m->data[i] != (uint8_t)(m->h.len + i)) {
			local_bad++;
			break;
		}
	}
}

static void
test_local_echo(void **state)
{
	uint8_t buf[4096];
	uint32_t echo, reply;
	int sent = 0;

	(void)state;
	router(1);
	echo = rt_handle_add(N.rt[1], 0, RT_ALLOW_ANY, 0, local_echo_fn, NULL);
	reply = rt_handle_add(N.rt[1], 0, RT_ALLOW_ANY, 0, local_reply_fn,
	    NULL);
	local_changed = local_bad = local_got = 0;
	srandom(1);
	for (int round = 0; round < 5000; round++) {
		int batch = random() % 5 + 1;

		for (int b = 0; b < batch; b++) {
			size_t n = (size_t)random() % 500;

			for (size_t i = 0; i < n; i++)
				buf[i] = (uint8_t)(n + i);
			rt_send(N.rt[1], SPN_K_CALL, 1, echo, reply, buf, n);
			sent++;
		}
		for (int k = 0; k < 4; k++)
			event_base_loop(N.base, EVLOOP_NONBLOCK);
	}
	assert_true(RUN_UNTIL(local_got == sent, WAIT_MS));
	if (local_changed != 0 || local_bad != 0)
		fail_msg("%d of %d local messages changed under their handler "
		    "when it sent a local reply; %d echoes corrupt",
		    local_changed, sent, local_bad);
}

/*
 * rt_send to context 0 (an unset id, say) must fail cleanly, not kill the
 * process: run it in a child and look at how the child ends.
 */
static void
test_send_ctx_zero(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct event_base *base = event_base_new();
		struct rt *rt = rt_new(base, 1, "root");
		uint32_t reply = rt_handle_add(rt, 0, RT_ALLOW_ANY, 0,
		    echo_fn, NULL);
		struct timeval tv = { 0, 50000 };

		rt_send(rt, SPN_K_CALL, 0, H_SVC, reply, "x", 1);
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("rt_send to context 0 with a reply handle killed the "
		    "process (status 0x%x): the local dead letter has src 0 "
		    "and rt_local_cb calls fatal(\"local queue corrupt\")",
		    status);
}

/*
 * A context's death reaches every context that talked with it, across
 * subtrees (GONE).  The tree, every router forwarding sideways:
 *
 *	1 --- 2 --- 3
 *	 \     \
 *	  4     6
 *	   \
 *	    5
 *
 * 5 (another subtree, deep), 6 (the same subtree) and 4 call 3's
 * CALL service (exports), which never answers; 3 dies.  Each waiting handle gets DEAD
 * LOST with the reason; each router remembered a set of links, and
 * forgets it.
 */
static void
test_gone(void **state)
{
	struct inbox svc = { 0 }, w4 = { 0 }, w5 = { 0 }, w6 = { 0 };
	struct inbox other = { 0 }, late = { 0 };
	uint32_t h4, h5, h6;

	(void)state;
	tree();
	router(5);
	router(6);
	join(4, 5);
	join(2, 6);
	assert_true(RUN_UNTIL(rt_route_lookup(N.rt[1], 5) == N.down[4].l &&
	    rt_route_lookup(N.rt[1], 6) == N.down[2].l, WAIT_MS));
	for (int i = 1; i <= 6; i++)
		rt_set_sideways(N.rt[i], 1);
	rt_handle_add(N.rt[3], SPN_H_CALL, RT_ALLOW_ANY, 0, inbox_fn, &svc);
	h4 = rt_handle_add(N.rt[4], 0, RT_ALLOW_PEER, 3, inbox_fn, &w4);
	h5 = rt_handle_add(N.rt[5], 0, RT_ALLOW_PEER, 3, inbox_fn, &w5);
	h6 = rt_handle_add(N.rt[6], 0, RT_ALLOW_PEER, 3, inbox_fn, &w6);
	/* 5 also waits on 6, which lives on. */
	rt_handle_add(N.rt[5], 0, RT_ALLOW_PEER, 6, inbox_fn, &other);
	rt_send(N.rt[4], SPN_K_CALL, 3, SPN_H_CALL, h4, "4", 1);
	rt_send(N.rt[5], SPN_K_CALL, 3, SPN_H_CALL, h5, "5", 1);
	rt_send(N.rt[6], SPN_K_CALL, 3, SPN_H_CALL, h6, "6", 1);
	if (!RUN_UNTIL(svc.n == 3, WAIT_MS)) {
		logs_dump();
		fail_msg("svc.n %d", svc.n);
	}
	/* A link is in one set a context: the root heard 4's side (4 and
	 * 5) talk with 3, and 2's side hear from 4 and 5; 2 heard 3's side
	 * hear from 4, 5 and 6. */
	assert_int_equal(link_npeers(N.down[4].l), 1);
	assert_int_equal(link_npeers(N.down[2].l), 2);
	assert_int_equal(link_npeers(N.down[5].l), 1);
	assert_int_equal(link_npeers(N.down[6].l), 1);
	assert_int_equal(link_npeers(N.down[3].l), 3);

	link_close(N.up[3].l, "killed");
	assert_true(RUN_UNTIL(w4.n == 1 && w5.n == 1 && w6.n == 1, WAIT_MS));
	expect_dead(&w4, SPN_D_LOST, "connection closed");
	expect_dead(&w5, SPN_D_LOST, "2->3: connection closed");
	expect_dead(&w6, SPN_D_LOST, "connection closed");
	assert_int_equal(w5.m[0].src, 3);
	run_for(20);
	assert_int_equal(other.n, 0);
	assert_int_equal(link_npeers(N.down[4].l), 0);
	assert_int_equal(link_npeers(N.down[5].l), 0);
	assert_int_equal(link_npeers(N.down[6].l), 0);
	assert_int_equal(link_npeers(N.down[2].l), 2);	/* 4 and 5 live */

	/* A call sideways that is refused (the handle takes its peer only)
	 * is answered, and nobody is cut off. */
	rt_handle_add(N.rt[6], SPN_H_CALL, RT_ALLOW_PEER, 2, inbox_fn, &svc);
	h5 = rt_handle_add(N.rt[5], 0, RT_ALLOW_PEER, 6, inbox_fn, &late);
	rt_send(N.rt[5], SPN_K_CALL, 6, SPN_H_CALL, h5, "x", 1);
	assert_true(RUN_UNTIL(late.n == 1, WAIT_MS));
	expect_dead(&late, SPN_D_REFUSED, NULL);
	assert_false(N.down[4].closed || N.down[2].closed);

	assert_int_equal(link_npeers(N.down[4].l), 1);	/* 6 */

	/* Closing a link forgets what its side talked with, and tells
	 * the others that its contexts are gone. */
	link_close(N.down[4].l, "gone");
	assert_int_equal(link_npeers(N.down[2].l), 0);
	assert_null(rt_route_lookup(N.rt[1], 5));
	inbox_clear(&svc);
	inbox_clear(&w4);
	inbox_clear(&w5);
	inbox_clear(&w6);
	inbox_clear(&late);
}

/*
 * Only a parent says GONE: a child that does is cut off, and the context
 * it named is not failed.  Control frames are for neighbours: one passed
 * on towards the root closes the link it came on, so a context cannot
 * make the root believe (and tell others) that its sibling died.
 */
static void
test_gone_forged(void **state)
{
	struct inbox w = { 0 };
	struct pk pk;

	(void)state;
	tree();
	router(5);
	join(2, 5);
	assert_true(RUN_UNTIL(rt_route_lookup(N.rt[1], 5) == N.down[2].l,
	    WAIT_MS));
	for (int i = 1; i <= 5; i++)
		rt_set_sideways(N.rt[i], 1);
	rt_handle_add(N.rt[1], 0, RT_ALLOW_PEER, 3, inbox_fn, &w);
	rt_handle_add(N.rt[2], 0, RT_ALLOW_PEER, 3, inbox_fn, &w);

	pk_init(&pk);
	pk_u32(&pk, 3);
	pk_str(&pk, "lies");
	/* 4 to the root: GONE for 3. */
	link_write(N.up[4].l, &(struct spn_hdr){ .kind = SPN_K_GONE, .dst = 1,
	    .src = 4, .len = pk.len }, pk.buf);
	/* 5 (below 2) to the root's router: ROUTE_DEL for its sibling 3. */
	link_write(N.up[5].l, &(struct spn_hdr){ .kind = SPN_K_ROUTE_DEL,
	    .dst = 1, .src = 5, .len = pk.len }, pk.buf);
	pk_free(&pk);
	assert_true(RUN_UNTIL(N.down[4].closed && N.down[5].closed, WAIT_MS));
	assert_string_equal(N.down[4].why, "protocol violation: sent a GONE, "
	    "which only a parent sends");
	assert_string_equal(N.down[5].why, "protocol violation: sent a "
	    "ROUTE_DEL to the router of context 1, which is not its "
	    "neighbour");
	run_for(20);
	assert_int_equal(w.n, 0);
	assert_false(route_was_lost(1, 3));
	assert_tree_alive();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_forward),
		T(test_route_propagation),
		T(test_route_hijack),
		T(test_route_claim_once),
		T(test_reverse_path),
		T(test_dead_no_route),
		T(test_dead_no_route_via_hop),
		T(test_dead_no_handle),
		T(test_policy),
		T(test_policy_refused),
		T(test_dead_too_large),
		T(test_dead_not_answered),
		T(test_link_lost),
		T(test_subtree_lost),
		T(test_bad_frames),
		T(test_split_frames),
		T(test_preamble),
		T(test_preamble_refused),
		T(test_boot),
		T(test_boot_malformed),
		T(test_keepalive),
		T(test_local_echo),
		T(test_send_ctx_zero),
		T(test_gone),
		T(test_gone_forged),
#undef T
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
