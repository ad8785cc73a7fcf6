/*
 * output: logs and output of contexts (issue 10 points 3 and 4), one
 * case a run:
 *
 *	output CASE
 *
 *	b8	100,000 printf lines from an export while the handler is
 *		slow (1 ms every 100 lines): every line arrives in order,
 *		tagged; the writer was held back (most lines were handled
 *		before the call returned); the agent's VmHWM <= 8 MiB
 *	system	system("hostname; uptime") in an export: both lines tagged
 *		stdout; a line on stderr tagged stderr; a 10,000-byte line
 *		comes as pieces of 4096, 4096 and 1808 bytes, in order
 *	levels	master at SPN_LOG_INFO: a context's info, warning and
 *		error records arrive with their levels, its debug ones are
 *		not even sent (200,000 of them return while the handler is
 *		blocked, where 200,000 warnings block); the blocked flood
 *		leaves the agent under 8 MiB and the master's RSS bounded,
 *		and every record arrives, in order, once the handler goes
 *		on; the master's own records go to the same handler (a
 *		flood of them blocks the same way); an
 *		SPN_INLINE export's record is dropped, and counted, rather
 *		than block the context's loop; spn_set_log_level(WARN): the
 *		master drops an older context's info records, a newer
 *		context does not send them
 *	discard	SPN_STDIO_DISCARD: fds 1 and 2 are /dev/null, no line
 *		arrives, spn_log records still do
 *	handler	a handler set (its lines not on stderr), then reset to the
 *		default (its lines on stderr: the script checks)
 *	two	two contexts print long lines at once through the default
 *		handler (the script checks that no line is mixed)
 *	exit	a handler calls exit(): the library shuts down from its
 *		own log thread, and the process ends cleanly
 *
 * Prints "ok CASE: ..." or "FAIL CASE: ...", exits 0 or 1.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

#define B8_LINES	100000
#define FLOOD		200000
#define KIB_MAX		8192

/* Exports. */

/* N lines "TAG I" on stdout (printf, line buffered). */
static int
say(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	const char *tag = spn_arg_str(a, 0);
	int64_t n = spn_arg_int(a, 1);

	(void)call, (void)r;
	for (int64_t i = 0; i < n; i++)
		printf("%s %lld\n", tag, (long long)i);
	fflush(stdout);
	return SPN_OK;
}
SPN_EXPORT(say, "si->");

/* N lines of LEN times the byte C. */
static int
wide(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	const char *c = spn_arg_str(a, 0);
	int64_t n = spn_arg_int(a, 1), len = spn_arg_int(a, 2);
	char *line;

	(void)r;
	if ((line = malloc(len + 1)) == NULL)
		return spn_fail(call, errno, "malloc");
	memset(line, c[0], len);
	line[len] = '\n';
	for (int64_t i = 0; i < n; i++)
		fwrite(line, 1, len + 1, stdout);
	fflush(stdout);
	free(line);
	return SPN_OK;
}
SPN_EXPORT(wide, "sii->");

static int
shell(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	int rc;

	(void)r;
	fflush(stdout);
	if ((rc = system(spn_arg_str(a, 0))) != 0)
		return spn_fail(call, 0, "system: status %d", rc);
	return SPN_OK;
}
SPN_EXPORT(shell, "s->");

/* Text with no newline, left in stdio's buffer. */
static int
partial(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	(void)call;
	(void)r;
	printf("%s", spn_arg_str(a, 0));
	return SPN_OK;
}
SPN_EXPORT(partial, "s->");

/* N records "TAG I" at LEVEL. */
static int
logs(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	int64_t level = spn_arg_int(a, 0), n = spn_arg_int(a, 2);
	const char *tag = spn_arg_str(a, 1);

	(void)call, (void)r;
	for (int64_t i = 0; i < n; i++)
		spn_log((int)level, "%s %lld", tag, (long long)i);
	return SPN_OK;
}
SPN_EXPORT(logs, "isi->");

/* On the loop thread, which reads the record pipe: never blocks. */
static int
inline_log(struct spn_call *call, const struct spn_value *a,
    struct spn_vbuf *r)
{
	(void)call, (void)a, (void)r;
	spn_log(SPN_LOG_WARN, "inline");
	return SPN_OK;
}
SPN_EXPORT_FLAGS(inline_log, "->", SPN_INLINE);

static int
fds(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	char t[2][256], path[64];
	ssize_t n;

	(void)a;
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", i + 1);
		if ((n = readlink(path, t[i], sizeof t[i] - 1)) < 0)
			return spn_fail(call, errno, "%s", path);
		t[i][n] = '\0';
	}
	return spn_vbuf_put(r, "ss", t[0], t[1]);
}
SPN_EXPORT(fds, "->ss");

static long
status_kib(const char *field)
{
	char line[256];
	long kib = -1;
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, field, strlen(field)) == 0)
			kib = strtol(line + strlen(field), NULL, 10);
	}
	fclose(f);
	return kib;
}

static int
hwm(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	(void)call, (void)a;
	return spn_vbuf_put(r, "i", (int64_t)status_kib("VmHWM:"));
}
SPN_EXPORT(hwm, "->i");

/* The master's side. */

static const char *cname;
static struct spn *spn;

static void
fail(const char *what, const struct spn_error *err)
{
	char b[1024];

	if (err != NULL)
		spn_error_format(err, b, sizeof b);
	printf("FAIL %s: %s%s%s\n", cname, what, err != NULL ? ": " : "",
	    err != NULL ? b : "");
	fflush(stdout);
	_exit(1);
}

static uint64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The handler: counts records by stream, checks their tags and the order
 * of numbered lines ("TAG I", I from 0), keeps a few others.  It may be
 * made slow (1 ms every `slow` records) or held (until released).
 */
static pthread_mutex_t h_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t h_cond = PTHREAD_COND_INITIALIZER;
static struct {
	uint32_t	 ctx_id;	/* expected tag */
	const char	*ctx_name;
	const char	*tag;		/* numbered lines "TAG I" */
	long		 next;		/* ... the next I */
	long		 out, err, logs, master, other;
	long		 bad;		/* wrong tag or order */
	int		 level_seen[5];
	int		 slow;
	int		 held;
	char		 first_bad[256];
	char		 keep[8][4200];
	size_t		 nkeep;
} H;

static void
h_bad(const struct spn_log_rec *r, const char *why)
{
	if (H.bad++ == 0)
		snprintf(H.first_bad, sizeof H.first_bad, "%s: [%s %u] %s: "
		    "%.100s", why, r->context, r->ctx_id,
		    r->stream != NULL ? r->stream : "log", r->text);
}

static void
handler(const struct spn_log_rec *r, void *arg)
{
	size_t tl;
	long i;
	int nap;

	(void)arg;
	pthread_mutex_lock(&h_lock);
	while (H.held)
		pthread_cond_wait(&h_cond, &h_lock);
	if (r->ctx_id == 1) {
		H.master++;
		if (strcmp(r->context, "master") != 0 || r->stream != NULL)
			h_bad(r, "a master record's tags");
	} else if (r->ctx_id != H.ctx_id ||
	    strcmp(r->context, H.ctx_name) != 0)
		h_bad(r, "tagged with another context");
	if (r->stream == NULL) {
		H.logs++;
		if (r->level >= 1 && r->level <= 4)
			H.level_seen[r->level]++;
	} else if (strcmp(r->stream, "stdout") == 0)
		H.out++;
	else if (strcmp(r->stream, "stderr") == 0)
		H.err++;
	else
		h_bad(r, "an unknown stream");
	if (strlen(r->text) != r->len)
		h_bad(r, "len is not the text's");
	tl = H.tag != NULL ? strlen(H.tag) : 0;
	if (tl != 0 && strncmp(r->text, H.tag, tl) == 0 &&
	    r->text[tl] == ' ') {
		i = strtol(r->text + tl + 1, NULL, 10);
		if (i != H.next)
			h_bad(r, "out of order");
		H.next = i + 1;
	} else {
		H.other++;
		if (H.nkeep < 8)
			snprintf(H.keep[H.nkeep++], sizeof H.keep[0], "%s%s%s",
			    r->stream != NULL ? r->stream : "log", ": ",
			    r->text);
	}
	nap = H.slow != 0 && (H.out + H.logs) % H.slow == 0;
	pthread_mutex_unlock(&h_lock);
	if (nap)
		usleep(1000);
}

static void
h_reset(struct spn_ctx *ctx, const char *tag)
{
	pthread_mutex_lock(&h_lock);
	memset(&H, 0, sizeof H);
	H.ctx_id = spn_ctx_id(ctx);
	H.ctx_name = spn_ctx_name(ctx);
	H.tag = tag;
	pthread_mutex_unlock(&h_lock);
}

static void
h_hold(int held)
{
	pthread_mutex_lock(&h_lock);
	H.held = held;
	pthread_cond_broadcast(&h_cond);
	pthread_mutex_unlock(&h_lock);
}

/* Wait up to secs for *n to reach want; its last value. */
static long
h_wait(long *n, long want, int secs)
{
	uint64_t end = ms_now() + secs * 1000ULL;
	long v;

	for (;;) {
		pthread_mutex_lock(&h_lock);
		v = *n;
		pthread_mutex_unlock(&h_lock);
		if (v >= want || ms_now() > end)
			return v;
		usleep(10000);
	}
}

static void
h_check(void)
{
	if (H.bad != 0)
		fail(H.first_bad, NULL);
}

static int64_t
ctx_hwm(struct spn_ctx *ctx)
{
	struct spn_error err;
	struct spn_msg *m;
	int64_t kib;

	if (spn_call(ctx, "hwm", 20000, &m, &err, "") != SPN_OK)
		fail("hwm", &err);
	kib = spn_arg_int(spn_msg_value(m), 0);
	spn_msg_free(m);
	return kib;
}

static struct spn_ctx *
connect_(const char *route, int stdio)
{
	struct spn_connect_opts o = { .stdio = stdio };
	struct spn_error err;
	struct spn_ctx *ctx;

	if (spn_connect(spn, route, &o, &ctx, &err) != SPN_OK)
		fail("connect", &err);
	return ctx;
}

static void
case_b8(void)
{
	struct spn_ctx *ctx = connect_("local", SPN_STDIO_FORWARD);
	struct spn_error err;
	uint64_t t0, t1;
	long at_return, got;
	int64_t kib;

	h_reset(ctx, "b8");
	H.slow = 100;
	spn_set_log_handler(spn, handler, NULL);
	t0 = ms_now();
	if (spn_call(ctx, "say", 120000, NULL, &err, "si", "b8",
	    (int64_t)B8_LINES) != SPN_OK)
		fail("say", &err);
	t1 = ms_now();
	pthread_mutex_lock(&h_lock);
	at_return = H.out;
	pthread_mutex_unlock(&h_lock);
	got = h_wait(&H.out, B8_LINES, 50);
	printf("  %d lines printed in %llu ms, %ld of them handled by then, "
	    "all %ld in %llu ms\n", B8_LINES, (unsigned long long)(t1 - t0),
	    at_return, got, (unsigned long long)(ms_now() - t0));
	h_check();
	if (got != B8_LINES || H.next != B8_LINES)
		fail("lines lost", NULL);
	/* Held back by credit: what was not handled when the function
	 * returned fits in the pipe and one window (~15,000 of these). */
	if (at_return < B8_LINES / 2)
		fail("the writer ran ahead of the handler: not held back",
		    NULL);
	kib = ctx_hwm(ctx);
	printf("  agent VmHWM %lld KiB\n", (long long)kib);
	if (kib > KIB_MAX)
		fail("the agent's VmHWM is over 8 MiB", NULL);
	printf("ok b8: %d lines in order, tagged [%s], agent VmHWM %lld KiB\n",
	    B8_LINES, spn_ctx_name(ctx), (long long)kib);
	spn_ctx_unref(ctx);
}

/* A last line printed without its newline comes when the context ends
 * (the name is copied: the handler reads it after the context went). */
static void
case_partial(struct spn_ctx *ctx)
{
	static char name[256];
	struct spn_error err;

	h_reset(ctx, NULL);
	snprintf(name, sizeof name, "%s", spn_ctx_name(ctx));
	pthread_mutex_lock(&h_lock);
	H.ctx_name = name;
	pthread_mutex_unlock(&h_lock);
	if (spn_call(ctx, "partial", 30000, NULL, &err, "s",
	    "no-newline-tail") != SPN_OK)
		fail("partial", &err);
	spn_ctx_unref(ctx);
	if (h_wait(&H.out, 1, 20) < 1 ||
	    strcmp(H.keep[0], "stdout: no-newline-tail") != 0)
		fail("a last line printed without its newline was lost", NULL);
	h_check();
	printf("ok partial: a last line without its newline came at the "
	    "context's end\n");
}

static void
case_system(void)
{
	struct spn_ctx *ctx = connect_("local", SPN_STDIO_FORWARD);
	struct spn_error err;
	char host[256];
	int hostline = 0, uptime = 0, errline = 0;

	h_reset(ctx, NULL);
	spn_set_log_handler(spn, handler, NULL);
	if (spn_call(ctx, "shell", 30000, NULL, &err, "s",
	    "hostname; uptime; echo on-stderr >&2") != SPN_OK)
		fail("shell", &err);
	if (h_wait(&H.out, 2, 20) < 2 || h_wait(&H.err, 1, 20) < 1)
		fail("no output of system()", NULL);
	gethostname(host, sizeof host);
	usleep(200000);
	for (size_t i = 0; i < H.nkeep; i++) {
		printf("  %s\n", H.keep[i]);
		if (strncmp(H.keep[i], "stdout: ", 8) == 0 &&
		    strcmp(H.keep[i] + 8, host) == 0)
			hostline = 1;
		if (strncmp(H.keep[i], "stdout: ", 8) == 0 &&
		    strstr(H.keep[i], "load average") != NULL)
			uptime = 1;
		if (strcmp(H.keep[i], "stderr: on-stderr") == 0)
			errline = 1;
	}
	if (!hostline || !uptime)
		fail("hostname or uptime not tagged stdout", NULL);
	if (!errline)
		fail("the stderr line not tagged stderr", NULL);
	h_check();

	/* One line of 10,000 bytes: three records, 4096, 4096, 1808. */
	h_reset(ctx, NULL);
	if (spn_call(ctx, "wide", 30000, NULL, &err, "sii", "w", (int64_t)1,
	    (int64_t)10000) != SPN_OK)
		fail("wide", &err);
	if (h_wait(&H.out, 3, 20) < 3)
		fail("a long line did not arrive as three records", NULL);
	usleep(200000);
	h_check();
	if (H.out != 3 || strlen(H.keep[0]) != 8 + 4096 ||
	    strlen(H.keep[1]) != 8 + 4096 || strlen(H.keep[2]) != 8 + 1808)
		fail("a long line's pieces", NULL);

	/* A NUL in a line: the record's len is still its text's, and no
	 * byte past the NUL (here an escape) goes uncleaned to a handler
	 * that writes len bytes. */
	h_reset(ctx, NULL);
	if (spn_call(ctx, "shell", 30000, NULL, &err, "s",
	    "printf 'nul\\000\\033]0;owned\\007\\n'") != SPN_OK)
		fail("shell", &err);
	if (h_wait(&H.out, 1, 20) < 1)
		fail("no line with a NUL", NULL);
	usleep(200000);
	h_check();
	if (H.nkeep < 1 || strchr(H.keep[0], '\033') != NULL ||
	    strncmp(H.keep[0], "stdout: nul?", 12) != 0)
		fail("a line with a NUL", NULL);
	printf("ok system: hostname and uptime tagged stdout, stderr tagged "
	    "stderr, a 10000-byte line in pieces of 4096, a NUL cleaned\n");
	case_partial(ctx);
}

static long mflood_done;

static void *
master_flood(void *arg)
{
	(void)arg;
	for (long i = 0; i < FLOOD; i++) {
		spn_log(SPN_LOG_WARN, "mflood %ld", i);
		pthread_mutex_lock(&h_lock);
		mflood_done = i + 1;
		pthread_mutex_unlock(&h_lock);
	}
	return NULL;
}

static void
case_levels(void)
{
	struct spn_ctx *ctx = connect_("local", SPN_STDIO_FORWARD);
	struct spn_error err;
	struct spn_recv *r;
	struct spn_msg *m;
	pthread_t t;
	uint64_t t0;
	long rss0, rss1, got, logged;
	int64_t kib;
	int rc;

	h_reset(ctx, NULL);
	spn_set_log_handler(spn, handler, NULL);
	if (spn_call(ctx, "logs", 10000, NULL, &err, "isi",
	    (int64_t)SPN_LOG_DEBUG, "debug", (int64_t)3) != SPN_OK ||
	    spn_call(ctx, "logs", 10000, NULL, &err, "isi",
	    (int64_t)SPN_LOG_INFO, "info", (int64_t)1) != SPN_OK ||
	    spn_call(ctx, "logs", 10000, NULL, &err, "isi",
	    (int64_t)SPN_LOG_WARN, "warn", (int64_t)1) != SPN_OK ||
	    spn_call(ctx, "logs", 10000, NULL, &err, "isi",
	    (int64_t)SPN_LOG_ERROR, "error", (int64_t)1) != SPN_OK)
		fail("logs", &err);
	spn_log(SPN_LOG_DEBUG, "master debug");
	spn_log(SPN_LOG_INFO, "master info");
	if (spn_call(ctx, "inline_log", 10000, NULL, &err, "") != SPN_OK)
		fail("inline_log", &err);
	if (h_wait(&H.logs, 5, 20) < 5)
		fail("records missing", NULL);
	usleep(300000);
	h_check();
	for (size_t i = 0; i < H.nkeep; i++)
		printf("  %s\n", H.keep[i]);
	if (H.logs != 5 || H.level_seen[SPN_LOG_DEBUG] != 0 ||
	    H.level_seen[SPN_LOG_INFO] != 2 ||
	    H.level_seen[SPN_LOG_WARN] != 2 ||
	    H.level_seen[SPN_LOG_ERROR] != 1 || H.master != 1)
		fail("levels: not the records of info and above", NULL);

	/* Debug records are not even sent: with the handler held, far
	 * more of them than the pipe and window hold still return. */
	h_reset(ctx, "flood");
	h_hold(1);
	t0 = ms_now();
	if (spn_call(ctx, "logs", 30000, NULL, &err, "isi",
	    (int64_t)SPN_LOG_DEBUG, "flood", (int64_t)FLOOD) != SPN_OK)
		fail("debug records were sent: the call blocked", &err);
	printf("  %d debug records: returned in %llu ms, handler held\n",
	    FLOOD, (unsigned long long)(ms_now() - t0));

	/* Warnings are: the logging thread blocks, memory stays put. */
	rss0 = status_kib("VmRSS:");
	if (spn_call_async(ctx, "logs", &r, &err, "isi",
	    (int64_t)SPN_LOG_WARN, "flood", (int64_t)FLOOD) != SPN_OK)
		fail("logs", &err);
	if ((rc = spn_recv_get(r, 3000, &m, &err)) != SPN_ETIMEDOUT)
		fail("a flood with the handler held did not block",
		    rc == SPN_OK ? NULL : &err);
	kib = ctx_hwm(ctx);
	rss1 = status_kib("VmRSS:");
	printf("  %d warnings, handler held: blocked; agent VmHWM %lld KiB, "
	    "master VmRSS %ld -> %ld KiB\n", FLOOD, (long long)kib, rss0,
	    rss1);
	if (kib > KIB_MAX)
		fail("the agent's VmHWM is over 8 MiB", NULL);
	if (rss1 - rss0 > 16384)
		fail("the master's RSS grew over 16 MiB", NULL);
	/* The pipe is full: a record logged on the context's loop thread
	 * (which reads it) is dropped, not waited for, and counted. */
	if (spn_call(ctx, "inline_log", 10000, NULL, &err, "") != SPN_OK)
		fail("inline_log with the pipe full", &err);
	h_hold(0);
	if (spn_recv_get(r, 60000, &m, &err) != SPN_OK)
		fail("the flood did not end once the handler went on", &err);
	spn_msg_free(m);
	spn_recv_close(r);
	got = h_wait(&H.logs, FLOOD + 1, 50);
	h_check();
	for (size_t i = 0; i < H.nkeep; i++)
		printf("  %s\n", H.keep[i]);
	if (got != FLOOD + 1 || H.next != FLOOD ||
	    H.level_seen[SPN_LOG_DEBUG])
		fail("flood records lost or debug ones sent", NULL);
	if (H.nkeep != 1 || strstr(H.keep[0], "spn_log: 1 record dropped") ==
	    NULL)
		fail("the dropped record was not counted", NULL);

	/* The master's own flood blocks its thread the same way. */
	h_reset(ctx, "mflood");
	h_hold(1);
	if (pthread_create(&t, NULL, master_flood, NULL) != 0)
		fail("pthread_create", NULL);
	usleep(1000000);
	pthread_mutex_lock(&h_lock);
	logged = mflood_done;
	pthread_mutex_unlock(&h_lock);
	rss1 = status_kib("VmRSS:");
	printf("  %d records in the master, handler held: %ld logged after "
	    "1 s, master VmRSS %ld KiB\n", FLOOD, logged, rss1);
	if (logged >= FLOOD)
		fail("the master's flood did not block", NULL);
	h_hold(0);
	pthread_join(t, NULL);
	got = h_wait(&H.master, FLOOD, 50);
	h_check();
	if (got != FLOOD || H.next != FLOOD)
		fail("the master's records lost", NULL);

	/* Down to warnings: the master drops the info records of a context
	 * connected before, and one connected after does not send them. */
	spn_set_log_level(spn, SPN_LOG_WARN);
	h_reset(ctx, NULL);
	spn_log(SPN_LOG_INFO, "master info, now filtered");
	if (spn_call(ctx, "logs", 10000, NULL, &err, "isi",
	    (int64_t)SPN_LOG_INFO, "old-info", (int64_t)1) != SPN_OK ||
	    spn_call(ctx, "logs", 10000, NULL, &err, "isi",
	    (int64_t)SPN_LOG_WARN, "old-warn", (int64_t)1) != SPN_OK)
		fail("logs", &err);
	if (h_wait(&H.logs, 1, 20) < 1)
		fail("the warning did not arrive", NULL);
	usleep(300000);
	h_check();
	if (H.logs != 1 || H.level_seen[SPN_LOG_WARN] != 1 || H.master != 0)
		fail("spn_set_log_level: info records still delivered", NULL);
	spn_ctx_unref(ctx);
	ctx = connect_("local", SPN_STDIO_FORWARD);
	h_reset(ctx, NULL);
	h_hold(1);
	if (spn_call(ctx, "logs", 30000, NULL, &err, "isi",
	    (int64_t)SPN_LOG_INFO, "new-info", (int64_t)FLOOD) != SPN_OK)
		fail("a new context sent info records: the call blocked", &err);
	h_hold(0);
	printf("ok levels: debug filtered in the context, info, warning, "
	    "error and the master's records arrive; a held flood blocks in "
	    "bounded memory, then all %d arrive in order; spn_set_log_level "
	    "filters old contexts in the master, new ones at the source\n",
	    FLOOD);
	spn_ctx_unref(ctx);
}

static void
case_discard(void)
{
	struct spn_ctx *ctx = connect_("local", SPN_STDIO_DISCARD);
	struct spn_error err;
	struct spn_msg *m;

	h_reset(ctx, NULL);
	spn_set_log_handler(spn, handler, NULL);
	if (spn_call(ctx, "fds", 10000, &m, &err, "") != SPN_OK)
		fail("fds", &err);
	printf("  fds: 1 %s, 2 %s\n", spn_arg_str(spn_msg_value(m), 0),
	    spn_arg_str(spn_msg_value(m), 1));
	if (strcmp(spn_arg_str(spn_msg_value(m), 0), "/dev/null") != 0 ||
	    strcmp(spn_arg_str(spn_msg_value(m), 1), "/dev/null") != 0)
		fail("fds 1 and 2 are not /dev/null", NULL);
	spn_msg_free(m);
	if (spn_call(ctx, "shell", 30000, NULL, &err, "s",
	    "echo out; echo err >&2") != SPN_OK ||
	    spn_call(ctx, "say", 30000, NULL, &err, "si", "x",
	    (int64_t)1000) != SPN_OK ||
	    spn_call(ctx, "logs", 10000, NULL, &err, "isi",
	    (int64_t)SPN_LOG_WARN, "still", (int64_t)1) != SPN_OK)
		fail("calls", &err);
	if (h_wait(&H.logs, 1, 20) < 1)
		fail("spn_log's record did not arrive", NULL);
	usleep(500000);
	h_check();
	if (H.out != 0 || H.err != 0)
		fail("output arrived", NULL);
	printf("ok discard: fds 1 and 2 /dev/null, no output, spn_log "
	    "records still arrive\n");
	spn_ctx_unref(ctx);
}

static void
case_handler(void)
{
	struct spn_ctx *ctx = connect_("local", SPN_STDIO_FORWARD);
	struct spn_error err;

	h_reset(ctx, "custom");
	spn_set_log_handler(spn, handler, NULL);
	if (spn_call(ctx, "say", 10000, NULL, &err, "si", "custom",
	    (int64_t)5) != SPN_OK)
		fail("say", &err);
	spn_log(SPN_LOG_WARN, "master-custom");
	if (h_wait(&H.out, 5, 20) < 5 || h_wait(&H.master, 1, 20) < 1)
		fail("lines missing", NULL);
	h_check();
	/* The default again: these go to stderr, as "[local] stdout: ..." */
	spn_set_log_handler(spn, NULL, NULL);
	if (spn_call(ctx, "say", 10000, NULL, &err, "si", "default",
	    (int64_t)5) != SPN_OK ||
	    spn_call(ctx, "logs", 10000, NULL, &err, "isi",
	    (int64_t)SPN_LOG_WARN, "default-log", (int64_t)1) != SPN_OK)
		fail("say", &err);
	spn_log(SPN_LOG_WARN, "default master");
	printf("ok handler: the set handler took its lines\n");
	spn_ctx_unref(ctx);
}

static void
case_two(void)
{
	struct spn_ctx *a = connect_("local", SPN_STDIO_FORWARD);
	struct spn_ctx *b = connect_("local+local", SPN_STDIO_FORWARD);
	struct spn_error err;
	struct spn_recv *ra, *rb;
	struct spn_msg *m;

	if (spn_call_async(a, "wide", &ra, &err, "sii", "a", (int64_t)2000,
	    (int64_t)3000) != SPN_OK ||
	    spn_call_async(b, "wide", &rb, &err, "sii", "b", (int64_t)2000,
	    (int64_t)3000) != SPN_OK)
		fail("wide", &err);
	if (spn_recv_get(ra, 60000, &m, &err) != SPN_OK)
		fail("wide", &err);
	spn_msg_free(m);
	if (spn_recv_get(rb, 60000, &m, &err) != SPN_OK)
		fail("wide", &err);
	spn_msg_free(m);
	spn_recv_close(ra);
	spn_recv_close(rb);
	printf("ok two: 2000 lines of 3000 bytes from each of two contexts\n");
	spn_ctx_unref(a);
	spn_ctx_unref(b);
}

/* A handler that ends the program (atexit: spn_shutdown, from the log
 * thread). */
static void
exit_handler(const struct spn_log_rec *r, void *arg)
{
	(void)arg;
	if (strcmp(r->text, "bye") != 0)
		return;
	printf("ok exit: exit() from the handler\n");
	exit(0);
}

static void
case_exit(void)
{
	struct spn_ctx *ctx = connect_("local", SPN_STDIO_FORWARD);
	struct spn_error err;
	int rc;

	spn_set_log_handler(spn, exit_handler, NULL);
	if (spn_call(ctx, "say", 10000, NULL, &err, "si", "x",
	    (int64_t)10) != SPN_OK)
		fail("say", &err);
	/* The exit may come before the answer: it shuts the library
	 * down under this call. */
	rc = spn_call(ctx, "shell", 10000, NULL, &err, "s", "echo bye");
	if (rc != SPN_OK && rc != SPN_ESHUTDOWN)
		fail("shell", &err);
	sleep(20);
	fail("the handler did not exit", NULL);
}

int
main(int argc, char **argv)
{
	struct spn_opts opts = { .log_level = SPN_LOG_WARN };

	if (argc == 2 && strcmp(argv[1], "levels") == 0)
		opts.log_level = SPN_LOG_INFO;
	/* A sanitizer build sends the static one (as tests/lib/stress). */
	opts.image = getenv("OUTPUT_IMAGE");
	if (spn_init(&argc, &argv, &opts, &spn) != SPN_OK)
		return 2;
	if (argc != 2) {
		fprintf(stderr, "usage: output b8|system|levels|discard|"
		    "handler|two|exit\n");
		return 2;
	}
	cname = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cname, "b8") == 0)
		case_b8();
	else if (strcmp(cname, "system") == 0)
		case_system();
	else if (strcmp(cname, "levels") == 0)
		case_levels();
	else if (strcmp(cname, "discard") == 0)
		case_discard();
	else if (strcmp(cname, "handler") == 0)
		case_handler();
	else if (strcmp(cname, "two") == 0)
		case_two();
	else if (strcmp(cname, "exit") == 0)
		case_exit();
	else
		fail("unknown case", NULL);
	spn_shutdown(spn);
	return 0;
}
