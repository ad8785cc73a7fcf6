/*
 * agentmode: what a copy of a libspindle program sees in agent mode
 * (issue 9 point 3), one case a run:
 *
 *	agentmode CASE ROUTE
 *
 *	stdio	the function's fd 0 is /dev/null, fds 1 and 2 pipes, the
 *		link elsewhere; what it prints to stdout and stderr reaches
 *		the master as lines to its log handler (the script checks them)
 *	flood	100,000 printf lines, then more calls: the link is intact,
 *		the agent's peak memory under 8 MiB
 *	hung	a function that sleeps stops neither a second call nor the
 *		context's pings (workers); cancelled, it returns
 *	crash	a NULL dereference: SPN_ELOST with the signal and function
 *
 * Run with no arguments it says "master": spn_init() returned (the
 * script runs it as "spindle:x" with SPN_G set, but with no link on
 * fd 0).  Prints "ok CASE: ..." or "FAIL CASE: ...", exits 0 or 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

static int
fd_target(int fd, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if ((n = readlink(path, buf, len - 1)) < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* fd 0, 1 and 2 as /proc names them. */
static int
stdio_state(struct spn_call *call, const struct spn_value *a,
    struct spn_vbuf *r)
{
	char t[3][256];

	(void)a;
	for (int i = 0; i < 3; i++) {
		if (fd_target(i, t[i], sizeof t[i]) != 0)
			return spn_fail(call, errno, "fd %d", i);
	}
	return spn_vbuf_put(r, "sss", t[0], t[1], t[2]);
}
SPN_EXPORT(stdio_state, "->sss");

/* N lines "TAG I" on stdout (printf, line buffered) and one on stderr. */
static int
say(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	const char *tag = spn_arg_str(a, 0);
	int64_t n = spn_arg_int(a, 1);

	(void)call, (void)r;
	for (int64_t i = 0; i < n; i++)
		printf("%s %lld\n", tag, (long long)i);
	fprintf(stderr, "%s on stderr\n", tag);
	return SPN_OK;
}
SPN_EXPORT(say, "si->");

/* Sleeps up to MS milliseconds, less if cancelled; says which. */
static int
nap(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	int64_t ms = spn_arg_int(a, 0);

	for (int64_t i = 0; i < ms / 10 && !spn_cancelled(call); i++)
		usleep(10000);
	return spn_vbuf_put(r, "b", spn_cancelled(call));
}
SPN_EXPORT(nap, "i->b");

/* The agent's peak resident memory, KiB. */
static int
hwm(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	char line[256];
	long kib = -1;
	FILE *f;

	(void)a;
	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return spn_fail(call, errno, "/proc/self/status");
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "VmHWM:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	}
	fclose(f);
	return spn_vbuf_put(r, "i", (int64_t)kib);
}
SPN_EXPORT(hwm, "->i");

static int
boom(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	volatile int *p = NULL;

	(void)call, (void)a, (void)r;
	*p = 1;
	return SPN_OK;
}
SPN_EXPORT(boom, "->");

static const char *cname;

static void
fail(const char *fmt, const struct spn_error *err)
{
	char b[1024];

	if (err != NULL)
		spn_error_format(err, b, sizeof b);
	printf("FAIL %s: %s%s%s\n", cname, fmt, err != NULL ? ": " : "",
	    err != NULL ? b : "");
	exit(1);
}

static void
ok(const char *what)
{
	printf("ok %s: %s\n", cname, what);
}

static uint64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
check_stdio(struct spn_ctx *ctx)
{
	struct spn_error err;
	struct spn_msg *m;
	const struct spn_value *v;

	if (spn_call(ctx, "stdio_state", 10000, &m, &err, "") != SPN_OK)
		fail("stdio_state", &err);
	v = spn_msg_value(m);
	printf("  fds: 0 %s, 1 %s, 2 %s\n", spn_arg_str(v, 0),
	    spn_arg_str(v, 1), spn_arg_str(v, 2));
	if (strcmp(spn_arg_str(v, 0), "/dev/null") != 0)
		fail("fd 0 is not /dev/null", NULL);
	if (strncmp(spn_arg_str(v, 1), "pipe:", 5) != 0 ||
	    strncmp(spn_arg_str(v, 2), "pipe:", 5) != 0)
		fail("fds 1 and 2 are not pipes", NULL);
	if (strcmp(spn_arg_str(v, 1), spn_arg_str(v, 2)) == 0)
		fail("fds 1 and 2 are the same pipe", NULL);
	spn_msg_free(m);
}

static void
case_stdio(struct spn_ctx *ctx)
{
	struct spn_error err;

	check_stdio(ctx);
	if (spn_call(ctx, "say", 10000, NULL, &err, "si", "hello",
	    (int64_t)3) != SPN_OK)
		fail("say", &err);
	/* The lines come as a stream, ahead of nothing in particular:
	 * give them a moment before the shutdown. */
	usleep(500000);
	ok("fd 0 /dev/null, fds 1 and 2 pipes, lines printed");
}

static void
case_flood(struct spn_ctx *ctx)
{
	struct spn_error err;
	struct spn_msg *m;
	uint64_t t0 = ms_now();
	int64_t kib;

	if (spn_call(ctx, "say", 120000, NULL, &err, "si", "flood",
	    (int64_t)100000) != SPN_OK)
		fail("say 100000", &err);
	for (int i = 0; i < 20; i++)
		check_stdio(ctx);
	if (spn_call(ctx, "hwm", 10000, &m, &err, "") != SPN_OK)
		fail("hwm", &err);
	kib = spn_arg_int(spn_msg_value(m), 0);
	spn_msg_free(m);
	/* LIBRARY.md B8: the lines wait in the pipe, not in the agent. */
	if (kib > 8192)
		fail("the agent's VmHWM is over 8 MiB", NULL);
	printf("ok %s: 100000 lines in %llu ms, the link intact, agent "
	    "VmHWM %lld KiB\n", cname, (unsigned long long)(ms_now() - t0),
	    (long long)kib);
}

static void
case_hung(struct spn_ctx *ctx)
{
	struct spn_error err;
	struct spn_recv *r;
	struct spn_msg *m;
	uint64_t t0;
	int rc;

	if (spn_call_async(ctx, "nap", &r, &err, "i", (int64_t)30000) !=
	    SPN_OK)
		fail("nap", &err);
	usleep(200000);
	t0 = ms_now();
	for (int i = 0; i < 3; i++)
		check_stdio(ctx);
	if (ms_now() - t0 > 5000)
		fail("calls beside a hung one took over 5 s", NULL);
	if (spn_call(ctx, "nap", 10000, &m, &err, "i", (int64_t)100) !=
	    SPN_OK)
		fail("a second nap beside the first", &err);
	spn_msg_free(m);
	if ((rc = spn_recv_get(r, 0, &m, &err)) != SPN_ETIMEDOUT)
		fail("the hung call answered", rc == SPN_OK ? NULL : &err);
	spn_recv_cancel(r);
	spn_recv_close(r);
	/* Its worker is free again: four more naps at once still answer
	 * (the default is 4 workers). */
	t0 = ms_now();
	for (int i = 0; i < 4; i++) {
		if (spn_call(ctx, "nap", 10000, &m, &err, "i",
		    (int64_t)50) != SPN_OK)
			fail("nap after the cancel", &err);
		spn_msg_free(m);
	}
	printf("ok %s: other calls ran beside a hung one; cancelled, its "
	    "worker came back in %llu ms\n", cname,
	    (unsigned long long)(ms_now() - t0));
}

/* At the route's last hop: the hop above names the signal and the
 * function, from the line the crash wrote on its stderr. */
static void
case_crash(struct spn_ctx *ctx)
{
	struct spn_error err;
	char b[1024];
	int rc;

	rc = spn_call(ctx, "boom", 30000, NULL, &err, "");
	spn_error_format(&err, b, sizeof b);
	printf("  %s\n", b);
	if (rc != SPN_ELOST)
		fail("boom did not lose the context", rc == SPN_OK ? NULL :
		    &err);
	if (strstr(err.message, "killed by signal 11 (Segmentation fault): "
	    "spindle: crash in boom: SIGSEGV (Segmentation fault) at 0x0") ==
	    NULL)
		fail("no crash line", &err);
	ok("SPN_ELOST names the signal and the function");
}

int
main(int argc, char **argv)
{
	struct spn *spn;
	struct spn_ctx *ctx;
	struct spn_error err;

	if (spn_init(&argc, &argv, NULL, &spn) != SPN_OK)
		return 2;
	if (argc == 1) {
		printf("master\n");
		spn_shutdown(spn);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: agentmode stdio|flood|hung|crash ROUTE\n");
		return 2;
	}
	cname = argv[1];
	if (spn_connect(spn, argv[2], NULL, &ctx, &err) != SPN_OK)
		fail("connect", &err);
	if (strcmp(cname, "stdio") == 0)
		case_stdio(ctx);
	else if (strcmp(cname, "flood") == 0)
		case_flood(ctx);
	else if (strcmp(cname, "hung") == 0)
		case_hung(ctx);
	else if (strcmp(cname, "crash") == 0)
		case_crash(ctx);
	else
		fail("unknown case", NULL);
	spn_ctx_unref(ctx);
	spn_shutdown(spn);
	return 0;
}
