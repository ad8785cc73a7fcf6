/*
 * errors: the error-propagation cases of libspindle (LIBRARY.md §9, B5),
 * one a run:
 *
 *	errors CASE ROUTE [ARG]
 *
 * Each case checks its code, its text and a time bound (generous: the
 * test machine is a loaded 2-core VM), prints "ok CASE: ..." or
 * "FAIL CASE: ..." with the error as spn_error_format() says it, and
 * exits 0 or 1.  tests/integration/lib-errors.sh runs them, sets up the
 * worlds some need (a uname that says aarch64, a sudo that wants a
 * password) and checks that nothing is left running.
 *
 * Cases that must not make a round trip (unknown function, bad
 * signature, too large) are run with the agent stopped (SIGSTOP): one
 * that went out would wait for an answer that cannot come.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

static const char *cname;

/* Exports (keep FAIL_LINE right above fail_enoent's spn_fail). */
enum { FAIL_LINE = __LINE__ + 4 };
static int
fail_enoent(struct spn_call *c, const struct spn_value *a, struct spn_vbuf *r)
{
	return (void)r, spn_fail(c, ENOENT, "no %s", spn_arg_str(a, 0));
}
SPN_EXPORT(fail_enoent, "s->");

static int
nap(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	(void)call, (void)r;
	sleep((unsigned)spn_arg_int(a, 0));
	return SPN_OK;
}
SPN_EXPORT(nap, "i->");

/* On the loop thread: a blocking call from here would wait for the loop
 * it holds.  Says what spn_call() returned. */
static int
inline_calls(struct spn_call *call, const struct spn_value *a,
    struct spn_vbuf *r)
{
	struct spn_ctx *parent = spn_parent(spn_call_spn(call));
	struct spn_error err = { 0 };
	int rc;

	(void)a;
	rc = spn_call(parent, "fail_enoent", 1000, NULL, &err, "s", "x");
	return spn_vbuf_put(r, "is", (int64_t)rc, err.message);
}
SPN_EXPORT_FLAGS(inline_calls, "->is", SPN_INLINE);

/* One result where the signature promises two; a map short of pairs. */
static int
short_results(struct spn_call *call, const struct spn_value *a,
    struct spn_vbuf *r)
{
	(void)call, (void)a;
	return spn_vbuf_put(r, "s", "only one");
}
SPN_EXPORT(short_results, "->ss");

static int
short_map(struct spn_call *call, const struct spn_value *a,
    struct spn_vbuf *r)
{
	(void)call, (void)a;
	spn_vbuf_map(r, 3);
	return spn_vbuf_put(r, "si", "one", (int64_t)1);
}
SPN_EXPORT(short_map, "->v");

/* Loops until cancelled (at most 30 s), then writes "cancelled" to a file. */
static int
coop(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	FILE *f;
	int i;

	(void)r;
	for (i = 0; i < 3000 && !spn_cancelled(call); i++)
		usleep(10000);
	if ((f = fopen(spn_arg_str(a, 0), "w")) == NULL)
		return spn_fail(call, errno, "fopen %s", spn_arg_str(a, 0));
	fprintf(f, "%s\n", spn_cancelled(call) ? "cancelled" : "not cancelled");
	fclose(f);
	return SPN_OK;
}
SPN_EXPORT(coop, "s->");

static int
null_deref(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	volatile int *p = NULL;

	(void)call, (void)a, (void)r;
	*p = 1;
	return SPN_OK;
}
SPN_EXPORT(null_deref, "->");

static int
die(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	(void)call, (void)a, (void)r;
	exit(3);
}
SPN_EXPORT(die, "->");

/* Leaves a mark: it ran. */
static int
big(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	FILE *f = fopen(spn_arg_str(a, 0), "w");

	(void)call;
	if (f != NULL)
		fclose(f);
	return spn_vbuf_put(r, "u", (uint64_t)0);
}
SPN_EXPORT(big, "s,y->u");

static int
echo(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	(void)call;
	return spn_vbuf_put(r, "s", spn_arg_str(a, 0));
}
SPN_EXPORT(echo, "s->s");

static int
pids(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	(void)call, (void)a;
	return spn_vbuf_put(r, "ii", (int64_t)getpid(), (int64_t)getppid());
}
SPN_EXPORT(pids, "->ii");

/* The master's side. */
static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
die_fail(const char *fmt, const char *arg)
{
	printf("FAIL %s: ", cname);
	printf(fmt, arg);
	printf("\n");
	exit(1);
}

/*
 * rc and err are code; it took at most max ms; the formatted error holds
 * each text (NULL-terminated list).  Prints the result; exits on failure.
 */
static void
expect(int rc, const struct spn_error *err, int code, long ms, long max,
    const char *const *texts)
{
	char buf[1024];

	spn_error_format(err, buf, sizeof buf);
	if (rc != code || err->code != code) {
		printf("FAIL %s: expected %s, got %s (err.code %s): %s\n", cname,
		    spn_strerror(code), spn_strerror(rc),
		    spn_strerror(err->code), buf);
		exit(1);
	}
	if (ms > max) {
		printf("FAIL %s: %s after %ld ms (bound %ld ms): %s\n", cname,
		    spn_strerror(code), ms, max, buf);
		exit(1);
	}
	for (; texts != NULL && *texts != NULL; texts++) {
		if (strstr(buf, *texts) == NULL) {
			printf("FAIL %s: '%s' not in: %s\n", cname, *texts, buf);
			exit(1);
		}
	}
	printf("ok %s: %s in %ld ms: %s\n", cname, spn_strerror(code), ms, buf);
}

#define TEXTS(...)	((const char *const []){ __VA_ARGS__, NULL })

static struct spn_ctx *
connect_or_die(struct spn *spn, const char *route)
{
	struct spn_ctx *ctx;
	struct spn_error err;

	if (spn_connect(spn, route, NULL, &ctx, &err) != SPN_OK) {
		spn_error_print(&err);
		die_fail("spn_connect %s failed", route);
	}
	return ctx;
}

/* The context's pid and its parent's. */
static void
ctx_pids(struct spn_ctx *ctx, pid_t *pid, pid_t *ppid)
{
	struct spn_msg *m;
	struct spn_error err;

	if (spn_call(ctx, "pids", 10000, &m, &err, "") != SPN_OK) {
		spn_error_print(&err);
		die_fail("%s", "pids() failed");
	}
	*pid = (pid_t)spn_arg_int(spn_msg_value(m), 0);
	if (ppid != NULL)
		*ppid = (pid_t)spn_arg_int(spn_msg_value(m), 1);
	spn_msg_free(m);
}

/* The context answers a call. */
static void
still_answers(struct spn_ctx *ctx)
{
	struct spn_msg *m;
	struct spn_error err;
	const char *s;

	if (spn_call(ctx, "echo", 10000, &m, &err, "s", "again") != SPN_OK) {
		spn_error_print(&err);
		die_fail("%s", "the context does not answer a second call");
	}
	s = spn_arg_str(spn_msg_value(m), 0);
	if (s == NULL || strcmp(s, "again") != 0)
		die_fail("echo answered '%s'", s != NULL ? s : "(null)");
	spn_msg_free(m);
}

struct waiter {
	struct spn_recv	*r;
	int		 rc;
	long		 done;
	struct spn_error err;
};

static void *
waiter_run(void *arg)
{
	struct waiter *w = arg;
	struct spn_msg *m = NULL;

	w->rc = spn_recv_get(w->r, 20000, &m, &w->err);
	w->done = now_ms();
	if (w->rc == SPN_OK)
		spn_msg_free(m);
	return NULL;
}

/* Start a call to fn with an argument and a thread that waits for it. */
static void
waiter_start(struct waiter *w, pthread_t *t, struct spn_ctx *ctx,
    const char *fn, const char *sig, const void *arg)
{
	struct spn_error err;
	int rc;

	memset(w, 0, sizeof *w);
	if (*sig == 'i')
		rc = spn_call_async(ctx, fn, &w->r, &err, sig,
		    (int64_t)(intptr_t)arg);
	else
		rc = spn_call_async(ctx, fn, &w->r, &err, sig, arg);
	if (rc != SPN_OK) {
		spn_error_print(&err);
		die_fail("spn_call_async %s failed", fn);
	}
	if (pthread_create(t, NULL, waiter_run, w) != 0)
		die_fail("%s", "pthread_create failed");
	usleep(300000);		/* the call is running there */
}

/* The cases, each with the context it needs. */
static void
case_fail(struct spn *spn, const char *route, const char *arg)
{
	struct spn_ctx *ctx = connect_or_die(spn, route);
	struct spn_msg *m;
	struct spn_error err;
	char where[256];
	const char *base;
	long t0 = now_ms();
	int rc;

	(void)arg;
	rc = spn_call(ctx, "fail_enoent", 10000, &m, &err, "s", "/srv/x");
	expect(rc, &err, SPN_ECALL, now_ms() - t0, 5000,
	    TEXTS("no /srv/x", "No such file or directory"));
	if (err.sys_errno != ENOENT)
		die_fail("sys_errno is %s, not ENOENT", strerror(err.sys_errno));
	if (*err.context == '\0' ||
	    strstr(err.context, spn_ctx_name(ctx)) == NULL)
		die_fail("context is '%s'", err.context);
	if (strcmp(err.message, "no /srv/x") != 0)
		die_fail("message is '%s'", err.message);
	/* file:line function, the file as compiled or its last part */
	base = strrchr(__FILE__, '/') != NULL ? strrchr(__FILE__, '/') + 1 :
	    __FILE__;
	snprintf(where, sizeof where, "%s:%d fail_enoent", __FILE__, FAIL_LINE);
	if (strcmp(err.where, where) != 0) {
		snprintf(where, sizeof where, "%s:%d fail_enoent", base,
		    FAIL_LINE);
		if (strcmp(err.where, where) != 0)
			die_fail("where is '%s'", err.where);
	}
}

/* An unknown function, arguments that do not fit, a NULL string: refused
 * in the caller, so it returns though the agent is stopped. */
static void
case_local(struct spn *spn, const char *route, int code)
{
	struct spn_ctx *ctx = connect_or_die(spn, route);
	struct spn_msg *m;
	struct spn_error err;
	pid_t pid;
	long t0;
	int rc;

	ctx_pids(ctx, &pid, NULL);
	kill(pid, SIGSTOP);
	t0 = now_ms();
	if (code == SPN_ENOFUNC)
		rc = spn_call(ctx, "no_such_fn", 5000, &m, &err, "");
	else if (code == SPN_EINVAL)
		rc = spn_call(ctx, "fail_enoent", 5000, &m, &err, "s",
		    (const char *)NULL);
	else
		rc = spn_call(ctx, "fail_enoent", 5000, &m, &err, "si", "x",
		    (int64_t)1);
	kill(pid, SIGCONT);
	expect(rc, &err, code, now_ms() - t0, 1000, code == SPN_ENOFUNC ?
	    TEXTS("no_such_fn") : code == SPN_EINVAL ?
	    TEXTS("fail_enoent", "NULL for s") : TEXTS("fail_enoent"));
	still_answers(ctx);
}

/* A blocking call from an SPN_INLINE export: SPN_EDEADLK at once, and
 * the context goes on. */
static void
case_deadlk(struct spn *spn, const char *route)
{
	struct spn_ctx *ctx = connect_or_die(spn, route);
	struct spn_msg *m;
	struct spn_error err = { 0 };
	long t0 = now_ms();
	int rc;

	if ((rc = spn_call(ctx, "inline_calls", 10000, &m, &err, "")) !=
	    SPN_OK) {
		spn_error_print(&err);
		die_fail("inline_calls: %s", spn_strerror(rc));
	}
	err.code = (int)spn_arg_int(spn_msg_value(m), 0);
	snprintf(err.message, sizeof err.message, "%s",
	    spn_arg_str(spn_msg_value(m), 1));
	spn_msg_free(m);
	expect(err.code, &err, SPN_EDEADLK, now_ms() - t0, 2000,
	    TEXTS("loop thread"));
	still_answers(ctx);
}

/* kill -9 of the context (hop 1), or of hop 1 below hop 3, mid-call. */
static void
case_kill(struct spn *spn, const char *route, int hops)
{
	struct spn_ctx *ctx = connect_or_die(spn, route);
	struct waiter w;
	pthread_t t;
	pid_t pid, ppid;
	FILE *f;
	long t0;

	ctx_pids(ctx, &pid, &ppid);
	if (hops == 3) {
		/* hop 3's parent is hop 2, whose parent is hop 1 */
		char path[64];
		int dummy;

		snprintf(path, sizeof path, "/proc/%d/stat", (int)ppid);
		if ((f = fopen(path, "r")) == NULL ||
		    fscanf(f, "%d %*s %*c %d", &dummy, &pid) != 2)
			die_fail("cannot read %s", path);
		fclose(f);
		if (getppid() == pid || pid <= 1)
			die_fail("%s", "hop 1 not found");
	}
	waiter_start(&w, &t, ctx, "nap", "i", (void *)10);
	t0 = now_ms();
	kill(pid, SIGKILL);
	pthread_join(t, NULL);
	if (hops == 1)
		expect(w.rc, &w.err, SPN_ELOST, w.done - t0, 2000,
		    TEXTS("hop 1 (", "killed by signal 9"));
	else
		expect(w.rc, &w.err, SPN_ELOST, w.done - t0, 3000,
		    TEXTS("hop 1 ("));
	spn_recv_close(w.r);
}

static void
case_timeout(struct spn *spn, const char *route)
{
	struct spn_ctx *ctx = connect_or_die(spn, route);
	struct spn_msg *m;
	struct spn_error err;
	long t0 = now_ms(), ms;
	int rc;

	rc = spn_call(ctx, "nap", 200, &m, &err, "i", (int64_t)10);
	ms = now_ms() - t0;
	expect(rc, &err, SPN_ETIMEDOUT, ms, 2000, NULL);
	if (ms < 150) {
		printf("FAIL %s: timed out after %ld ms, not 200\n", cname, ms);
		exit(1);
	}
	still_answers(ctx);	/* while nap() still runs there */
}

static void
case_cancel(struct spn *spn, const char *route, const char *file)
{
	struct spn_ctx *ctx = connect_or_die(spn, route);
	struct waiter w;
	pthread_t t;
	char line[64] = "";
	FILE *f;
	long t0;

	if (file == NULL)
		die_fail("%s", "no file given");
	waiter_start(&w, &t, ctx, "coop", "s", file);
	t0 = now_ms();
	spn_recv_cancel(w.r);
	pthread_join(t, NULL);
	expect(w.rc, &w.err, SPN_ECANCELLED, w.done - t0, 1000, NULL);
	/* the remote function saw it and returned */
	while ((f = fopen(file, "r")) == NULL && now_ms() - t0 < 5000)
		usleep(20000);
	if (f == NULL)
		die_fail("%s", "coop() did not return within 5 s of the cancel");
	if (fgets(line, sizeof line, f) == NULL ||
	    strcmp(line, "cancelled\n") != 0)
		die_fail("coop() wrote '%s'", line);
	fclose(f);
	printf("ok %s: coop() returned %ld ms after the cancel\n", cname,
	    now_ms() - t0);
	spn_recv_close(w.r);
	still_answers(ctx);
}

static void
case_lost(struct spn *spn, const char *route, const char *fn,
    const char *const *texts)
{
	struct spn_ctx *ctx = connect_or_die(spn, route);
	struct spn_msg *m;
	struct spn_error err;
	long t0 = now_ms();
	int rc;

	rc = spn_call(ctx, fn, 20000, &m, &err, "");
	expect(rc, &err, SPN_ELOST, now_ms() - t0, 10000, texts);
}

/* An export's results that do not fit its signature: SPN_ESIG from the
 * context, which answers again. */
static void
case_results(struct spn *spn, const char *route)
{
	struct spn_ctx *ctx = connect_or_die(spn, route);
	struct spn_msg *m;
	struct spn_error err;
	long t0 = now_ms();
	int rc;

	rc = spn_call(ctx, "short_results", 20000, &m, &err, "");
	expect(rc, &err, SPN_ESIG, now_ms() - t0, 10000,
	    TEXTS("short_results returned 1 value", "\"->ss\" says 2"));
	t0 = now_ms();
	rc = spn_call(ctx, "short_map", 20000, &m, &err, "");
	expect(rc, &err, SPN_ESIG, now_ms() - t0, 10000,
	    TEXTS("short_map returned with an array or map still short"));
	still_answers(ctx);
}

static void
case_toolarge(struct spn *spn, const char *route, const char *mark)
{
	struct spn_ctx *ctx = connect_or_die(spn, route);
	struct spn_msg *m;
	struct spn_error err;
	size_t len = 2 << 20;
	char *b = calloc(1, len);
	struct stat st;
	pid_t pid;
	long t0;
	int rc;

	if (b == NULL || mark == NULL)
		die_fail("%s", "no memory or no file given");
	ctx_pids(ctx, &pid, NULL);
	kill(pid, SIGSTOP);
	t0 = now_ms();
	rc = spn_call(ctx, "big", 5000, &m, &err, "sy", mark, b, len);
	kill(pid, SIGCONT);
	expect(rc, &err, SPN_ETOOLARGE, now_ms() - t0, 1000, NULL);
	free(b);
	still_answers(ctx);
	if (stat(mark, &st) == 0)
		die_fail("%s", "big() ran: the call was sent");
}

/* spn_shutdown wakes a waiter; a call after it returns at once. */
static void
case_shutdown(struct spn *spn, const char *route)
{
	struct spn_ctx *ctx = connect_or_die(spn, route);
	struct spn_msg *m;
	struct spn_error err;
	struct waiter w;
	pthread_t t;
	long t0;
	int rc;

	spn_ctx_ref(ctx);
	waiter_start(&w, &t, ctx, "nap", "i", (void *)10);
	t0 = now_ms();
	spn_shutdown(spn);
	if (now_ms() - t0 > 5000)
		die_fail("%s", "spn_shutdown took over 5 s");
	pthread_join(t, NULL);
	expect(w.rc, &w.err, SPN_ESHUTDOWN, w.done - t0, 5000, NULL);
	t0 = now_ms();
	rc = spn_call(ctx, "echo", 10000, &m, &err, "s", "late");
	expect(rc, &err, SPN_ESHUTDOWN, now_ms() - t0, 100, NULL);
}

static void
case_connect(struct spn *spn, const char *route, const char *pwfile,
    int code, const char *const *texts)
{
	struct spn_connect_opts o = { 0 };
	struct spn_ctx *ctx;
	struct spn_error err;
	long t0 = now_ms();
	int rc;

	o.password_file = pwfile;
	rc = spn_connect(spn, route, &o, &ctx, &err);
	expect(rc, &err, code, now_ms() - t0, 20000, texts);
}

int
main(int argc, char **argv)
{
	struct spn *spn;
	const char *route, *arg;
	char arch[300];

	if (spn_init(&argc, &argv, NULL, &spn) != SPN_OK) {
		printf("FAIL: spn_init failed\n");
		return 1;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: errors CASE ROUTE [ARG]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	cname = argv[1];
	route = argv[2];
	arg = argc > 3 ? argv[3] : NULL;
	if (strcmp(cname, "fail") == 0)
		case_fail(spn, route, arg);
	else if (strcmp(cname, "nofunc") == 0)
		case_local(spn, route, SPN_ENOFUNC);
	else if (strcmp(cname, "sig") == 0)
		case_local(spn, route, SPN_ESIG);
	else if (strcmp(cname, "nullstr") == 0)
		case_local(spn, route, SPN_EINVAL);
	else if (strcmp(cname, "results") == 0)
		case_results(spn, route);
	else if (strcmp(cname, "deadlk") == 0)
		case_deadlk(spn, route);
	else if (strcmp(cname, "kill") == 0)
		case_kill(spn, route, 1);
	else if (strcmp(cname, "killhop") == 0)
		case_kill(spn, route, 3);
	else if (strcmp(cname, "timeout") == 0)
		case_timeout(spn, route);
	else if (strcmp(cname, "cancel") == 0)
		case_cancel(spn, route, arg);
	else if (strcmp(cname, "crash") == 0)
		case_lost(spn, route, "null_deref",
		    TEXTS("Segmentation fault", "crash in null_deref"));
	else if (strcmp(cname, "exit") == 0)
		case_lost(spn, route, "die", TEXTS("exited with status 3"));
	else if (strcmp(cname, "toolarge") == 0)
		case_toolarge(spn, route, arg);
	else if (strcmp(cname, "shutdown") == 0) {
		case_shutdown(spn, route);
		return 0;
	} else if (strcmp(cname, "arch") == 0) {
		/* arg: what the remote's uname -m says */
		snprintf(arch, sizeof arch, "remote is %s",
		    arg != NULL ? arg : "aarch64");
		case_connect(spn, route, NULL, SPN_EARCH, TEXTS(arch));
	} else if (strcmp(cname, "auth") == 0)
		case_connect(spn, route, arg, SPN_EAUTH,
		    TEXTS("hop 2 (", "incorrect password"));
	else if (strcmp(cname, "nopass") == 0)
		case_connect(spn, route, NULL, SPN_ECONNECT,
		    TEXTS("hop 3 (", "none was given (use spn_connect_opts' "
		    "password or password_file)"));
	else {
		fprintf(stderr, "errors: no case %s\n", cname);
		return 2;
	}
	spn_shutdown(spn);
	return 0;
}
