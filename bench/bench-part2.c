/*
 * libspindle part 2's side of bench/part2.sh (Mitogen's is
 * bench/mitogen_part2.py).  Built with spindle-cc: its own image is what
 * each context runs.
 *
 * usage: bench-part2 [--quick] [ROW...]	(no ROW: all of them)
 *   gather	100 local contexts (20 --quick); a round is one call on
 *		each, every answer waited for in turn; 100 rounds (20)
 *		after 20 untimed.
 *		gather_per_s, and the context switches per call: "waits"
 *		(a thread slept: the hand-offs) and "forced" (preempted:
 *		the machine's load), in the master and in the contexts.
 *   gather_select	the same, the answers taken as they come from a
 *		SPN_SELECT_ONESHOT select: gather_select_per_s.
 *   gather_inline	the same as gather with an SPN_INLINE export.
 *   chan	a context sends 100,000 16-byte values (20,000), then 8,000
 *		of 64 KiB (1,000), through a channel (spn_channel_open, 'S',
 *		spn_send): chan_small_msgs_per_s, chan_64k_mb_per_s.
 *   log	a context's spn_log records (100,000; 20,000) reaching a
 *		handler here: log_lines_per_s.
 *   stdio	the same of lines a context printf()s: stdio_lines_per_s.
 *   fanout	20 contexts behind a bastion context (spn_connect_from), a
 *		1 MiB argument (1 MiB - 4 KiB, under the frame limit) to
 *		each: as one call of the bastion's relay,
 *		which calls them (tree), or 20 calls from here (flat); the
 *		bytes this process wrote, all of them on its one link.
 * stdout: one "key value unit" line per figure, as bench-lib prints.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

#define BENCH_NAME	"bench-part2"
#include "bench-common.h"

static int	quick;

/*
 * Parts of issue 10 that other branches build: weak, so that this file
 * builds before they are merged and a row whose function is missing
 * says so instead of failing the link.
 */
#pragma weak spn_channel_open
#pragma weak spn_recv_sender
#pragma weak spn_send
#pragma weak spn_sender_close
#pragma weak spn_arg_sender
#pragma weak spn_connect_from
#pragma weak spn_call_many
#pragma weak spn_value_ctx
#pragma weak spn_select_new
#pragma weak spn_select_add
#pragma weak spn_select_get
#pragma weak spn_select_free
#pragma weak spn_log
#pragma weak spn_set_log_handler
#pragma weak spn_set_log_level

#define MISSING(f)	missing((void (*)(void))(f), #f)

static int
missing(void (*f)(void), const char *name)
{
	if (f != NULL)
		return 0;
	printf("# %s is not in this build: row left out\n", name);
	return 1;
}

static int
log_lines(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	int64_t n = spn_arg_int(args, 0);

	(void)call;
	for (int64_t i = 0; i < n; i++)
		spn_log(SPN_LOG_INFO, "line %lld of the log benchmark",
		    (long long)i);
	return spn_vbuf_put(res, "i", n);
}
SPN_EXPORT(log_lines, "i->i");

static int
print_lines(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	int64_t n = spn_arg_int(args, 0);

	(void)call;
	for (int64_t i = 0; i < n; i++)
		printf("line %lld of the output benchmark\n", (long long)i);
	fflush(stdout);
	return spn_vbuf_put(res, "i", n);
}
SPN_EXPORT(print_lines, "i->i");

/* A channel's far end: n values of size bytes, then the end. */
static int
pump(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	struct spn_sender *s = spn_arg_sender(args, 0);
	int64_t n = spn_arg_int(args, 1), size = spn_arg_int(args, 2);
	char *buf = calloc(1, size);
	int rv = SPN_OK;

	for (int64_t i = 0; i < n && rv == SPN_OK; i++)
		rv = spn_send(s, 60000, "y", buf, (size_t)size);
	free(buf);
	spn_sender_close(s);
	if (rv != SPN_OK)
		return spn_fail(call, 0, "spn_send: %s", spn_strerror(rv));
	return spn_vbuf_put(res, "i", n);
}
SPN_EXPORT(pump, "S,i,i->i");

/* The fan-out's leaf: the argument's length. */
static int
take(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	size_t len = 0;

	(void)call;
	spn_arg_bytes(args, 0, &len);
	return spn_vbuf_put(res, "i", (int64_t)len);
}
SPN_EXPORT(take, "y->i");

/* On the bastion: take on every context given, with the one argument
 * that crossed the master's link once. */
static int
relay(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	const struct spn_value *list = spn_value_at(args, 0);
	size_t n = spn_value_len(list), len, i;
	const void *data = spn_arg_bytes(args, 1, &len);
	struct spn_ctx **ctx = calloc(n + 1, sizeof *ctx);
	struct spn_result *out = calloc(n + 1, sizeof *out);
	int failed;

	for (i = 0; i < n; i++)
		ctx[i] = spn_value_ctx(spn_value_at(list, i));
	failed = spn_call_many(ctx, n, "take", 60000, 0, out, "y", data, len);
	for (i = 0; i < n; i++) {
		spn_msg_free(out[i].msg);
		spn_ctx_unref(ctx[i]);
	}
	free(out);
	free(ctx);
	if (failed != 0)
		return spn_fail(call, 0, "%d of %zu calls failed", failed, n);
	return spn_vbuf_put(res, "i", (int64_t)n);
}
SPN_EXPORT(relay, "aC,y->i");

/* Context switches of every thread of this process so far: voluntary
 * (a thread waits: the hand-offs of a call) or, with invol, those the
 * scheduler forced (the machine's load). */
static int64_t
cswitches(int invol)
{
	char path[300], line[128];
	int64_t n = 0;
	struct dirent *de;
	DIR *d;
	FILE *f;

	if ((d = opendir("/proc/self/task")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof path, "/proc/self/task/%s/status",
		    de->d_name);
		if (*de->d_name == '.' || (f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof line, f) != NULL)
			if (strncmp(line, invol ? "nonvoluntary_ctxt" :
			    "voluntary_ctxt", invol ? 17 : 14) == 0)
				n += atoll(strchr(line, ':') + 1);
		fclose(f);
	}
	closedir(d);
	return n;
}

static int
switches(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	(void)call;
	(void)args;
	return spn_vbuf_put(res, "ii", cswitches(0), cswitches(1));
}
SPN_EXPORT(switches, "->ii");

static void
call_or_die(struct spn_ctx *ctx, const char *fn)
{
	struct spn_error err;

	if (spn_call(ctx, fn, 30000, NULL, &err, "") != SPN_OK)
		die(fn, &err);
}

/* The contexts of the gather rows, connected once. */
static struct spn_ctx	*fleet[100];
static int		 nfleet;

static void
fleet_up(struct spn *spn)
{
	if (nfleet != 0)
		return;
	nfleet = quick ? 20 : 100;
	for (int i = 0; i < nfleet; i++) {
		fleet[i] = connect_or_die(spn, "local");
		call_or_die(fleet[i], "nothing");
	}
}

/* The fleet's context switches so far, voluntary or not. */
static int64_t
fleet_switches(int invol)
{
	struct spn_msg *m;
	struct spn_error err;
	int64_t n = 0;

	for (int i = 0; i < nfleet; i++) {
		if (spn_call(fleet[i], "switches", 30000, &m, &err, "") !=
		    SPN_OK)
			die("switches", &err);
		n += spn_arg_int(spn_msg_value(m), invol);
		spn_msg_free(m);
	}
	return n;
}

/* Rounds of one call of fn per context, each answer waited for in
 * turn. */
static void
gather_rounds(const char *fn, int rounds)
{
	struct spn_recv *r[100];
	struct spn_msg *m;
	struct spn_error err;

	for (int round = 0; round < rounds; round++) {
		for (int i = 0; i < nfleet; i++)
			if (spn_call_async(fleet[i], fn, &r[i], &err,
			    "") != SPN_OK)
				die("spn_call_async", &err);
		for (int i = 0; i < nfleet; i++) {
			if (spn_recv_get(r[i], 30000, &m, &err) != SPN_OK)
				die("spn_recv_get", &err);
			spn_msg_free(m);
			spn_recv_close(r[i]);
		}
	}
}

/* gather_rounds timed, after a warm-up; key names the figures. */
static void
gather_run(struct spn *spn, const char *fn, const char *key)
{
	int rounds = quick ? 20 : 100;
	double n;
	int64_t cs0, cs1, fcs0, fcs1;
	double t0;

	fleet_up(spn);
	gather_rounds(fn, 20);		/* warm-up, untimed */
	fcs0 = fleet_switches(0);
	fcs1 = fleet_switches(1);
	cs0 = cswitches(0);
	cs1 = cswitches(1);
	t0 = now_us();
	gather_rounds(fn, rounds);
	t0 = now_us() - t0;
	cs0 = cswitches(0) - cs0;
	cs1 = cswitches(1) - cs1;
	printf("%s_per_s %.0f calls/s\n", key,
	    (double)nfleet * rounds / (t0 / 1e6));
	/* Per call; the fleet's counts take in two calls of their own per
	 * context, a 1/ROUNDS of a switch. */
	n = nfleet * rounds;
	printf("%s_cs_master %.2f waits/call\n", key, (double)cs0 / n);
	printf("%s_cs_master_forced %.2f switches/call\n", key,
	    (double)cs1 / n);
	fcs0 = fleet_switches(0) - fcs0;
	printf("%s_cs_context %.2f waits/call\n", key, (double)fcs0 / n);
	printf("%s_cs_context_forced %.2f switches/call\n", key,
	    (double)(fleet_switches(1) - fcs1) / n);
}

/* The same, every answer taken from a select as it comes. */
static void
gather_select(struct spn *spn)
{
	struct spn_recv *r;
	struct spn_select *sel;
	struct spn_msg *m;
	struct spn_error err;
	int rounds = quick ? 20 : 100;
	double t0;

	if (MISSING(spn_select_new))
		return;
	fleet_up(spn);
	gather_rounds("nothing", 20);	/* warm-up, untimed */
	if (spn_select_new(SPN_SELECT_ONESHOT, &sel) != SPN_OK)
		exit(1);
	t0 = now_us();
	for (int round = 0; round < rounds; round++) {
		for (int i = 0; i < nfleet; i++) {
			if (spn_call_async(fleet[i], "nothing", &r, &err,
			    "") != SPN_OK)
				die("spn_call_async", &err);
			if (spn_select_add(sel, r) != SPN_OK)
				exit(1);
		}
		for (int i = 0; i < nfleet; i++) {
			if (spn_select_get(sel, 30000, &r, &m, &err) != SPN_OK)
				die("spn_select_get", &err);
			spn_msg_free(m);
			spn_recv_close(r);
		}
	}
	printf("gather_select_per_s %.0f calls/s\n",
	    (double)nfleet * rounds / ((now_us() - t0) / 1e6));
	spn_select_free(sel);
}

static void
gather(struct spn *spn)
{
	gather_run(spn, "nothing", "gather");
}

/* SPN_INLINE: what the agent's worker hand-off costs a round. */
static void
gather_inline(struct spn *spn)
{
	gather_run(spn, "nothing_inline", "gather_inline");
}

/* The log handler of the line rows: counts one context's lines of one
 * stream (NULL: spn_log records) until n of them came. */
static struct {
	pthread_mutex_t	 lock;
	pthread_cond_t	 done;
	uint32_t	 ctx;
	const char	*stream;
	int64_t		 seen;
	int64_t		 n;
} lines = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL,
    0, 0 };

static void
lines_count(const struct spn_log_rec *rec, void *arg)
{
	(void)arg;
	if (rec->ctx_id != lines.ctx || (rec->stream == NULL) !=
	    (lines.stream == NULL) || (rec->stream != NULL &&
	    strcmp(rec->stream, lines.stream) != 0))
		return;
	pthread_mutex_lock(&lines.lock);
	if (++lines.seen == lines.n)
		pthread_cond_signal(&lines.done);
	pthread_mutex_unlock(&lines.lock);
}

/* From the call until the handler had the last of n lines. */
static void
lines_run(struct spn *spn, const char *fn, const char *stream,
    const char *key)
{
	struct spn_ctx *ctx;
	struct spn_error err;
	int64_t n = quick ? 20000 : 100000;
	double t0;

	if (MISSING(spn_set_log_handler))
		return;
	/* A context takes the level it is started with. */
	spn_set_log_level(spn, SPN_LOG_INFO);
	ctx = connect_or_die(spn, "local");
	call_or_die(ctx, "nothing");
	lines.ctx = spn_ctx_id(ctx);
	lines.stream = stream;
	lines.seen = 0;
	lines.n = n;
	spn_set_log_handler(spn, lines_count, NULL);
	t0 = now_us();
	if (spn_call(ctx, fn, 120000, NULL, &err, "i", n) != SPN_OK)
		die(fn, &err);
	pthread_mutex_lock(&lines.lock);
	while (lines.seen < n)
		pthread_cond_wait(&lines.done, &lines.lock);
	pthread_mutex_unlock(&lines.lock);
	printf("%s %.0f lines/s\n", key, n / ((now_us() - t0) / 1e6));
	spn_set_log_handler(spn, NULL, NULL);
	spn_set_log_level(spn, 0);
	spn_ctx_unref(ctx);
}

static void
log_rate(struct spn *spn)
{
	lines_run(spn, "log_lines", NULL, "log_lines_per_s");
}

static void
stdio_rate(struct spn *spn)
{
	lines_run(spn, "print_lines", "stdout", "stdio_lines_per_s");
}

/* n values of size bytes through a channel from a context; seconds. */
static double
chan_run(struct spn *spn, struct spn_ctx *ctx, int64_t n, int64_t size)
{
	struct spn_recv *r, *call;
	struct spn_msg *m;
	struct spn_error err;
	int64_t got = 0;
	size_t len;
	double t0 = now_us();
	int rv;

	if (spn_channel_open(spn, ctx, 0, &r, &err) != SPN_OK)
		die("spn_channel_open", &err);
	if (spn_call_async(ctx, "pump", &call, &err, "Sii",
	    spn_recv_sender(r), n, size) != SPN_OK)
		die("pump", &err);
	while ((rv = spn_recv_get(r, 60000, &m, &err)) == SPN_OK) {
		spn_arg_bytes(spn_msg_value(m), 0, &len);
		got += len;
		spn_msg_free(m);
	}
	if (rv != SPN_ECLOSED)
		die("channel", &err);
	if (spn_recv_get(call, 60000, NULL, &err) != SPN_OK)
		die("pump", &err);
	t0 = (now_us() - t0) / 1e6;
	spn_recv_close(call);
	spn_recv_close(r);
	if (got != n * size) {
		fprintf(stderr, "bench-part2: %lld bytes of %lld came\n",
		    (long long)got, (long long)(n * size));
		exit(1);
	}
	return t0;
}

static void
chan(struct spn *spn)
{
	struct spn_ctx *ctx;
	int64_t n;
	double dt;

	if (MISSING(spn_channel_open) || MISSING(spn_send))
		return;
	ctx = connect_or_die(spn, "local");
	call_or_die(ctx, "nothing");
	n = quick ? 20000 : 100000;
	dt = chan_run(spn, ctx, n, 16);
	printf("chan_small_msgs_per_s %.0f msgs/s\n", n / dt);
	n = quick ? 1000 : 8000;
	dt = chan_run(spn, ctx, n, 65536);
	printf("chan_64k_mb_per_s %.1f MB/s\n", n * 65536 / dt / 1e6);
	printf("chan_64k_msgs_per_s %.0f msgs/s\n", n / dt);
	spn_ctx_unref(ctx);
}

/* What this process wrote so far: with every context behind the
 * bastion, all of it goes on the master -> bastion link. */
static int64_t
wchar(void)
{
	char line[128];
	int64_t n = -1;
	FILE *f = fopen("/proc/self/io", "r");

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "wchar:", 6) == 0)
			n = atoll(line + 6);
	if (f != NULL)
		fclose(f);
	return n;
}

/* 20 contexts behind a bastion, a 1 MiB argument to each: as one call
 * to the bastion that calls them (tree), or 20 calls (flat). */
static void
fanout(struct spn *spn)
{
	struct spn_ctx *bastion, *leaf[20];
	struct spn_result out[20];
	struct spn_error err;
	/* "1 MiB", less room for the rest of the CALL under the 1 MiB
	 * frame limit, as lib-fanout.sh measures it. */
	size_t len = (1 << 20) - 4096;
	char *arg;
	int64_t w0;

	if (MISSING(spn_connect_from) || MISSING(spn_call_many) ||
	    MISSING(spn_value_ctx))
		return;
	bastion = connect_or_die(spn, "local");
	for (int i = 0; i < 20; i++) {
		if (spn_connect_from(bastion, "local", NULL, &leaf[i],
		    &err) != SPN_OK)
			die("spn_connect_from", &err);
		if (spn_call(leaf[i], "take", 30000, NULL, &err, "y", "",
		    (size_t)0) != SPN_OK)
			die("take", &err);
	}
	arg = calloc(1, len);
	w0 = wchar();
	if (spn_call(bastion, "relay", 60000, NULL, &err, "aCy", (size_t)20,
	    leaf, arg, len) != SPN_OK)
		die("relay", &err);
	printf("fanout_tree_link_kib %lld KiB\n",
	    (long long)(wchar() - w0) / 1024);
	w0 = wchar();
	if (spn_call_many(leaf, 20, "take", 60000, 0, out, "y", arg,
	    len) != 0)
		die("spn_call_many", &out[0].err);
	printf("fanout_flat_link_kib %lld KiB\n",
	    (long long)(wchar() - w0) / 1024);
	for (int i = 0; i < 20; i++) {
		spn_msg_free(out[i].msg);
		spn_ctx_unref(leaf[i]);
	}
	spn_ctx_unref(bastion);
	free(arg);
}

static const struct {
	const char	*name;
	void		(*fn)(struct spn *);
} rows[] = {
	{ "gather", gather },
	{ "gather_select", gather_select },
	{ "gather_inline", gather_inline },
	{ "chan", chan },
	{ "log", log_rate },
	{ "stdio", stdio_rate },
	{ "fanout", fanout },
};

int
main(int argc, char **argv)
{
	struct spn *spn;
	size_t j;
	int all = 1;

	if (spn_init(&argc, &argv, NULL, &spn) != SPN_OK)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = 1;
			continue;
		}
		all = 0;
		for (j = 0; j < sizeof rows / sizeof rows[0]; j++)
			if (strcmp(argv[i], rows[j].name) == 0)
				break;
		if (j == sizeof rows / sizeof rows[0]) {
			fprintf(stderr, "bench-part2: no row %s\n", argv[i]);
			return 2;
		}
		rows[j].fn(spn);
		fflush(stdout);
	}
	for (j = 0; all && j < sizeof rows / sizeof rows[0]; j++) {
		rows[j].fn(spn);
		fflush(stdout);
	}
	spn_shutdown(spn);
	return 0;
}
