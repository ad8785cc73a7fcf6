/*
 * libspindle part 2's side of bench/part2.sh (Mitogen's is
 * bench/mitogen_part2.py).  Built with spindle-cc: its own image is what
 * each context runs.
 *
 * usage: bench-part2 [--quick] [ROW...]	(no ROW: all of them)
 *   gather	100 local contexts (20 --quick); a round is one call on
 *		each, every answer waited for in turn; 100 rounds (20).
 *		gather_per_s, and the context switches per call: "waits"
 *		(a thread slept: the hand-offs) and "forced" (preempted:
 *		the machine's load), in the master and in the contexts.
 *   gather_inline	the same with an SPN_INLINE export.
 *   log	a context's spn_log records (100,000; 20,000) reaching a
 *		handler here: log_lines_per_s.
 *   stdio	the same of lines a context printf()s: stdio_lines_per_s.
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

static int	quick;

static int
nothing(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	(void)call;
	(void)args;
	return spn_vbuf_put(res, "i", (int64_t)getpid());
}
SPN_EXPORT(nothing, "->i");

/* The same on the context's loop thread: no worker hand-off. */
static int
nothing_inline(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	return nothing(call, args, res);
}
SPN_EXPORT_FLAGS(nothing_inline, "->i", SPN_INLINE);

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

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
die(const char *what, const struct spn_error *err)
{
	fprintf(stderr, "bench-part2: %s: ", what);
	spn_error_print(err);
	exit(1);
}

static struct spn_ctx *
connect_or_die(struct spn *spn, const char *route)
{
	struct spn_ctx *ctx;
	struct spn_error err;

	if (spn_connect(spn, route, NULL, &ctx, &err) != SPN_OK)
		die(route, &err);
	return ctx;
}

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
 * turn; key names the figures. */
static void
gather_run(struct spn *spn, const char *fn, const char *key)
{
	struct spn_recv *r[100];
	struct spn_msg *m;
	struct spn_error err;
	int rounds = quick ? 20 : 100;
	double n;
	int64_t cs0, cs1, fcs0, fcs1;
	double t0;

	fleet_up(spn);
	fcs0 = fleet_switches(0);
	fcs1 = fleet_switches(1);
	cs0 = cswitches(0);
	cs1 = cswitches(1);
	t0 = now_us();
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

static const struct {
	const char	*name;
	void		(*fn)(struct spn *);
} rows[] = {
	{ "gather", gather },
	{ "gather_inline", gather_inline },
	{ "log", log_rate },
	{ "stdio", stdio_rate },
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
