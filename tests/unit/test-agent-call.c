/*
 * The stock agent's CALL service (agent/svc-call.c through agent/run.c):
 * real agents, started as `local` contexts from this process.  A CALL to
 * handle SPN_H_CALL gets DEAD(NO_HANDLE, "context NAME runs the stock
 * spindle agent") at hop 1 and hop 2 (which libspindle's callers map to
 * SPN_ENOFUNC); a CANCEL there, malformed or for no call, leaves the
 * context working; and the link, now off the agent's fds 0 and 1, still
 * carries pings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#include <cmocka.h>

#include "../agent/agent.h"
#include "loop.h"

static struct event_base *base;
static struct rt	*rt;
static char		 method_local[] = "local";
static char		*no_args[1];

#define RUN_UNTIL(cond, ms)	LOOP_RUN_UNTIL(base, cond, ms)

struct answer {
	int		 done;
	uint8_t		 kind;
	uint32_t	 reason;
	char		*text;
};

static int
answer_cb(struct rt *r, const struct rt_msg *m, void *arg)
{
	struct answer *a = arg;
	struct upk u;

	(void)r;
	a->kind = m->h.kind;
	if (m->h.kind == SPN_K_DEAD) {
		upk_init(&u, m->data, m->h.len);
		a->reason = upk_u32(&u);
		a->text = upk_str(&u);
	}
	a->done = 1;
	return 0;
}

static void
boot_done(struct child *ch, const char *err, void *arg)
{
	int *up = arg;

	(void)ch;
	if (err != NULL)
		fail_msg("hop 1: %s", err);
	*up = 1;
}

static int
connect_done(struct rt *r, const struct rt_msg *m, void *arg)
{
	return answer_cb(r, m, arg);
}

static void
req_init(struct boot_req *req, uint32_t id, char *name)
{
	memset(req, 0, sizeof *req);
	req->id = id;
	req->name = name;
	req->method = method_local;
	req->args = no_args;
	req->keepalive = SPN_KEEPALIVE_DEFAULT;
	req->timeout = 30;
	req->level = SPN_LOG_WARN;
}

static int
setup(void **state)
{
	static char name1[] = "local", name2[] = "local+local";
	struct boot_req req;
	struct answer a = { 0 };
	struct pk pk;
	char why[256];
	int up = 0;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	proc_init(base);
	rt = rt_new(base, SPN_CTX_MASTER, "master");
	rt_handle_add(rt, SPN_H_LOG, RT_ALLOW_DESCENDANTS, 0, rt_log_print,
	    NULL);
	req_init(&req, 2, name1);
	if (boot_connect(rt, &req, boot_done, &up, why, sizeof why) == NULL)
		fail_msg("hop 1: %s", why);
	if (!RUN_UNTIL(up, 30000))
		fail_msg("hop 1 not up in 30 s");
	req_init(&req, 3, name2);
	pk_init(&pk);
	boot_req_pack(&pk, &req);
	call_start(rt, 2, SPN_H_CONNECT, &pk, connect_done, &a);
	pk_free(&pk);
	if (!RUN_UNTIL(a.done, 30000) || a.kind != SPN_K_REPLY)
		fail_msg("hop 2 not up: %s", a.text != NULL ? a.text : "-");
	free(a.text);
	return 0;
}

static int
teardown(void **state)
{
	struct link *l;

	(void)state;
	if ((l = rt_route_lookup(rt, 2)) != NULL)
		link_close(l, "test done");
	loop_run_for(base, 200);
	return 0;
}

static void
call_stock(uint32_t ctx, const char *name)
{
	struct answer a = { 0 };
	char want[128];

	call_start(rt, ctx, SPN_H_CALL, NULL, answer_cb, &a);
	assert_true(RUN_UNTIL(a.done, 10000));
	assert_int_equal(a.kind, SPN_K_DEAD);
	assert_int_equal(a.reason, SPN_D_NO_HANDLE);
	snprintf(want, sizeof want, "context %s runs the stock spindle agent",
	    name);
	assert_non_null(a.text);
	assert_string_equal(a.text, want);
	free(a.text);
}

static void
ping(uint32_t ctx)
{
	struct answer a = { 0 };
	struct pk pk;

	pk_init(&pk);
	pk_str(&pk, "hello");
	call_start(rt, ctx, SPN_H_PING, &pk, answer_cb, &a);
	pk_free(&pk);
	assert_true(RUN_UNTIL(a.done, 10000));
	assert_int_equal(a.kind, SPN_K_REPLY);
}

static void
test_stock_hop1(void **state)
{
	(void)state;
	call_stock(2, "local");
	ping(2);
}

static void
test_stock_hop2(void **state)
{
	(void)state;
	call_stock(3, "local+local");
	ping(3);
}

/* A CANCEL for a call the context never had, and one too short to
 * name any: ignored, the context carries on. */
static void
test_cancel_unknown(void **state)
{
	uint8_t b[4];

	(void)state;
	be32_put(b, 12345);
	rt_send(rt, SPN_K_CANCEL, 2, SPN_H_CALL, 0, b, sizeof b);
	rt_send(rt, SPN_K_CANCEL, 3, SPN_H_CALL, 0, b, 2);
	ping(2);
	ping(3);
	call_stock(3, "local+local");
}

/* Many at once: every one answered, none lost, none twice. */
static void
test_many(void **state)
{
	enum { N = 200 };
	struct answer *a = calloc(N, sizeof *a);
	int done;

	(void)state;
	for (int i = 0; i < N; i++)
		call_start(rt, 2 + i % 2, SPN_H_CALL, NULL, answer_cb, &a[i]);
	assert_true(RUN_UNTIL(({ done = 0; for (int i = 0; i < N; i++)
	    done += a[i].done; done == N; }), 20000));
	for (int i = 0; i < N; i++) {
		assert_int_equal(a[i].reason, SPN_D_NO_HANDLE);
		free(a[i].text);
	}
	free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stock_hop1),
		cmocka_unit_test(test_stock_hop2),
		cmocka_unit_test(test_cancel_unknown),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
