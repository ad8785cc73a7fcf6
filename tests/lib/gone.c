/*
 * A context's death told to every context that talked with it (GONE),
 * and spn_ctx_shutdown's grace, one case a run (lib-gone.sh):
 *
 *   gone sibling ROUTE_A ROUTE_B [HOSTILE]
 *	A calls B's SPN_ALLOW_ANY export, which sleeps; B's agent is
 *	killed with SIGKILL: A's call ends with SPN_ELOST naming B within
 *	2 s ("elost MS: CONTEXT: MESSAGE" on stdout).  With HOSTILE (a
 *	route to hostile-ssh's gone-sibling: a GONE for every id below
 *	its own), B is not killed: the forged deaths change nothing, A's
 *	call answers ("answered MS").
 *   gone caller ROUTE_A ROUTE_B
 *	the same call, but A's agent is killed: B's function sees
 *	spn_cancelled() within 2 s ("cancelled MS" on stdout), as B heard
 *	that its caller is gone.
 *   gone grace ROUTE
 *	spn_ctx_shutdown(ctx, 5000) with a 600 ms call in flight: the
 *	call answers, a new one fails at once, the context goes; with
 *	300 ms of grace a 20 s call ends with SPN_ELOST ("grace ...").
 *
 * Exit 0 when the case holds, 1 with the reason on stderr.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

#include "testlib.h"



static int	naps_cancelled;

/* Sleeps N ms unless cancelled; any context may call it (a sibling
 * does). */
static int
nap_any(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	int64_t ms = spn_arg_int(args, 0);
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (int64_t t = 0; t < ms; t += 10) {
		if (spn_cancelled(call)) {
			__atomic_add_fetch(&naps_cancelled, 1,
			    __ATOMIC_RELAXED);
			break;
		}
		nanosleep(&ts, NULL);
	}
	(void)res;
	return SPN_OK;
}
SPN_EXPORT_FLAGS(nap_any, "i->", SPN_ALLOW_ANY);

static int
cancelled_naps(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	(void)call;
	(void)args;
	return spn_vbuf_put(res, "i", (int64_t)__atomic_load_n(
	    &naps_cancelled, __ATOMIC_RELAXED));
}
SPN_EXPORT(cancelled_naps, "->i");

/* In A: call B's nap_any and wait for ever; how it ended: the code, the
 * error's context and message, and how long after the call began. */
static int
call_sibling(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	struct spn_ctx *b = spn_arg_ctx(args, 0);
	struct spn_error err;
	uint64_t t0 = now_ms();
	int rc;

	(void)call;
	if (b == NULL)
		return spn_fail(call, 0, "no context in the arguments");
	memset(&err, 0, sizeof err);
	rc = spn_call(b, "nap_any", -1, NULL, &err, "i",
	    spn_arg_int(args, 1));
	spn_ctx_unref(b);
	return spn_vbuf_put(res, "issi", (int64_t)rc, err.context,
	    err.message, (int64_t)(now_ms() - t0));
}
SPN_EXPORT(call_sibling, "C,i->i,s,s,i");

static int
connect_to(const char *route, struct spn_ctx **ctx)
{
	struct spn_error err;
	int rc;

	if ((rc = spn_connect(NULL, route, NULL, ctx, &err)) != SPN_OK)
		return fail(route, rc, &err);
	return 0;
}

/* A's answer: what its call to B gave. */
static int
sibling_result(struct spn_recv *r, int64_t *code, uint64_t *ms,
    char *text, size_t len)
{
	struct spn_error err;
	struct spn_msg *m;
	const struct spn_value *v;
	int rc;

	if ((rc = spn_recv_get(r, 30000, &m, &err)) != SPN_OK)
		return fail("call_sibling", rc, &err);
	v = spn_msg_value(m);
	*code = spn_arg_int(v, 0);
	*ms = (uint64_t)spn_arg_int(v, 3);
	snprintf(text, len, "%s: %s", spn_arg_str(v, 1), spn_arg_str(v, 2));
	spn_msg_free(m);
	return 0;
}

static int
case_sibling(const char *ra, const char *rb, const char *hostile)
{
	struct spn_ctx *a, *b, *h = NULL;
	struct spn_error err;
	struct spn_recv *r;
	int64_t pid, code = 0;
	uint64_t ms = 0, t0;
	char text[1024];
	int rc;

	if (connect_to(ra, &a) != 0 || connect_to(rb, &b) != 0)
		return 1;
	if ((rc = call_pid(b, &pid, &err)) != SPN_OK)
		return fail("B's pid", rc, &err);
	if ((rc = spn_call_async(a, "call_sibling", &r, &err, "Ci", b,
	    (int64_t)(hostile != NULL ? 5000 : 60000))) != SPN_OK)
		return fail("call_sibling", rc, &err);
	/* Let A's call reach B's worker. */
	usleep(500000);
	t0 = now_ms();
	if (hostile != NULL) {
		/* It says every context below it died, then is cut off;
		 * its connect may fail or not, as the race goes.  Held
		 * until A answers: dropped at once, its link could close
		 * before the master read the GONE behind the HELLO. */
		if (spn_connect(NULL, hostile, NULL, &h, &err) != SPN_OK)
			h = NULL;
		if (now_ms() - t0 > 4000) {
			fprintf(stderr, "%s: %s took %llu ms, longer than A's "
			    "call (test broken?)\n", prog, hostile,
			    (unsigned long long)(now_ms() - t0));
			return 1;
		}
	} else if (kill((pid_t)pid, SIGKILL) != 0)
		return fail("kill B", SPN_ESYS, NULL);
	if (sibling_result(r, &code, &ms, text, sizeof text) != 0)
		return 1;
	spn_recv_close(r);
	if (h != NULL)
		spn_ctx_unref(h);
	if (hostile != NULL) {
		if (code != SPN_OK) {
			fprintf(stderr, "%s: a forged GONE failed A's call: "
			    "%s (%lld): %s\n", prog, spn_strerror((int)code),
			    (long long)code, text);
			return 1;
		}
		if ((rc = call_pid(b, &pid, &err)) != SPN_OK)
			return fail("B after the forged GONE", rc, &err);
		printf("answered %llu\n", (unsigned long long)ms);
		return 0;
	}
	if (code != SPN_ELOST) {
		fprintf(stderr, "%s: A's call to B gave %s (%lld), not ELOST: "
		    "%s\n", prog, spn_strerror((int)code), (long long)code,
		    text);
		return 1;
	}
	printf("elost %llu: %s\n", (unsigned long long)(now_ms() - t0), text);
	/* A lives on. */
	if ((rc = call_pid(a, &pid, &err)) != SPN_OK)
		return fail("A after B died", rc, &err);
	spn_ctx_unref(a);
	spn_ctx_unref(b);
	return 0;
}

/* A dies while its call to B runs: B's function is cancelled. */
static int
case_caller(const char *ra, const char *rb)
{
	struct spn_ctx *a, *b;
	struct spn_error err;
	struct spn_recv *r;
	struct spn_msg *m;
	int64_t pid, n = 0;
	uint64_t t0;
	int rc;

	if (connect_to(ra, &a) != 0 || connect_to(rb, &b) != 0)
		return 1;
	if ((rc = call_pid(a, &pid, &err)) != SPN_OK)
		return fail("A's pid", rc, &err);
	if ((rc = spn_call_async(a, "call_sibling", &r, &err, "Ci", b,
	    (int64_t)60000)) != SPN_OK)
		return fail("call_sibling", rc, &err);
	usleep(500000);
	t0 = now_ms();
	if (kill((pid_t)pid, SIGKILL) != 0)
		return fail("kill A", SPN_ESYS, NULL);
	while (n == 0 && now_ms() - t0 < 10000) {
		usleep(20000);
		if ((rc = spn_call(b, "cancelled_naps", 10000, &m, &err,
		    "")) != SPN_OK)
			return fail("cancelled_naps", rc, &err);
		n = spn_arg_int(spn_msg_value(m), 0);
		spn_msg_free(m);
	}
	if (n != 1) {
		fprintf(stderr, "%s: B's function was not cancelled within "
		    "10 s of its caller's death\n", prog);
		return 1;
	}
	printf("cancelled %llu\n", (unsigned long long)(now_ms() - t0));
	if ((rc = spn_recv_get(r, 10000, NULL, &err)) != SPN_ELOST)
		return fail("the call to A (want ELOST)", rc, &err);
	spn_recv_close(r);
	spn_ctx_unref(a);
	spn_ctx_unref(b);
	return 0;
}

static int
gone_within(int64_t pid, int ms)
{
	for (int t = 0; kill((pid_t)pid, 0) == 0; t += 10) {
		if (t >= ms)
			return 0;
		usleep(10000);
	}
	return 1;
}

static int
case_grace(const char *route)
{
	struct spn_ctx *ctx;
	struct spn_error err;
	struct spn_recv *r;
	int64_t pid;
	uint64_t t0, t1;
	int rc;

	/* Time enough: the call answers, then the route closes. */
	if (connect_to(route, &ctx) != 0)
		return 1;
	if ((rc = call_pid(ctx, &pid, &err)) != SPN_OK)
		return fail("pid", rc, &err);
	if ((rc = spn_call_async(ctx, "nap_any", &r, &err, "i",
	    (int64_t)600)) != SPN_OK)
		return fail("nap", rc, &err);
	usleep(100000);
	t0 = now_ms();
	if ((rc = spn_ctx_shutdown(ctx, 5000)) != SPN_OK)
		return fail("spn_ctx_shutdown", rc, NULL);
	if ((rc = spn_call(ctx, "getpid_fn", 5000, NULL, &err, "")) !=
	    SPN_ELOST)
		return fail("a call after spn_ctx_shutdown (want ELOST)", rc,
		    &err);
	if ((rc = spn_recv_get(r, 10000, NULL, &err)) != SPN_OK)
		return fail("the call in its grace", rc, &err);
	t1 = now_ms();
	spn_recv_close(r);
	if (!gone_within(pid, 5000)) {
		fprintf(stderr, "%s: the context lives on after its grace\n",
		    prog);
		return 1;
	}
	printf("grace answered %llu gone %llu\n",
	    (unsigned long long)(t1 - t0),
	    (unsigned long long)(now_ms() - t0));
	spn_ctx_unref(ctx);

	/* Too little: the call ends with ELOST when the grace does. */
	if (connect_to(route, &ctx) != 0)
		return 1;
	if ((rc = spn_call_async(ctx, "nap_any", &r, &err, "i",
	    (int64_t)20000)) != SPN_OK)
		return fail("long nap", rc, &err);
	usleep(100000);
	t0 = now_ms();
	if ((rc = spn_ctx_shutdown(ctx, 300)) != SPN_OK)
		return fail("spn_ctx_shutdown", rc, NULL);
	if ((rc = spn_recv_get(r, 10000, NULL, &err)) != SPN_ELOST)
		return fail("the call past its grace (want ELOST)", rc, &err);
	t1 = now_ms();
	if (t1 - t0 < 250) {
		fprintf(stderr, "%s: ELOST after %llu ms, before the grace "
		    "was over\n", prog, (unsigned long long)(t1 - t0));
		return 1;
	}
	printf("grace elost %llu\n", (unsigned long long)(t1 - t0));
	spn_recv_close(r);
	spn_ctx_unref(ctx);
	return 0;
}

int
main(int argc, char **argv)
{
	struct spn *spn;
	int rc;

	prog = "gone";
	if ((rc = spn_init(&argc, &argv, NULL, &spn)) != SPN_OK)
		return fail("spn_init", rc, NULL);
	if (argc >= 4 && strcmp(argv[1], "sibling") == 0)
		rc = case_sibling(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
	else if (argc == 4 && strcmp(argv[1], "caller") == 0)
		rc = case_caller(argv[2], argv[3]);
	else if (argc == 3 && strcmp(argv[1], "grace") == 0)
		rc = case_grace(argv[2]);
	else {
		fprintf(stderr, "usage: %s sibling ROUTE_A ROUTE_B [HOSTILE] "
		    "| caller ROUTE_A ROUTE_B | grace ROUTE\n", prog);
		rc = 2;
	}
	spn_shutdown(spn);
	return rc;
}
