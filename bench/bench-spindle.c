/*
 * spindle side of the side-by-side benchmark (bench/mitogen_local.py is
 * the Mitogen side).  It drives the library directly, as the CLI does:
 * one master context (id 1) on a libevent loop, local contexts started by
 * boot_connect() (first hop) or the CONNECT service (deeper hops).
 *
 *   contexts50_s      50 contexts directly under the master, all started
 *                     at once (boot_connect x50, then the loop), until each
 *                     has answered a PING
 *   contexts50_seq_s  the same, one after another (what Mitogen's
 *                     router.local() loop does)
 *   chain10_s         a 10-deep chain, each hop started by the one before
 *                     and pinged once it is up
 *   ping1_us          median SPN_H_PING round trip, hop 1 (2000 calls)
 *   ping10_us         median SPN_H_PING round trip, hop 10 (500 calls)
 *   exec_true_us      median EXEC of `true` at hop 1, no stdio streams
 *                     (like Mitogen's subprocess.call), 200 runs
 *   exec_true_io_us   the same with stdout and stderr carried back as
 *                     streams (what `spindle run` does)
 *   tput3_MBps        `head -c N /dev/zero` run at hop 3, stdout streamed
 *                     to the master, written to /dev/null (MB = 10^6 B)
 *   rss_kib           median VmRSS of the 50 flat agents after bring-up
 *   rss_hop_kib       largest VmHWM of hops 1-3 after the throughput run
 *   base_ping1_us, base_ping10_us  (only with --only base) the same pings
 *                     through 1 or 10 plain processes relaying over pipes
 *
 * Usage: bench-spindle [--quick] [--mb MIB] [--only LIST] [--window N]
 *                      [--stream-window KIB]
 *   --mb MIB            MiB for the throughput test (default 1024)
 *   --only LIST         comma-separated: base,flat,seq,chain,ping,exec,tput
 *   --window N          at most N flat contexts booting at once (0: all)
 *   --stream-window KIB stream credit window (default SPN_WINDOW_DEFAULT)
 * stdout: one "key value unit" line per metric; details go to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../agent/agent.h"

#define NFLAT		50
#define DEPTH		10
#define FLAT_ID0	2
#define CHAIN_ID0	1000

static struct event_base	*base;
static struct rt		*rt;
static char			 method_local[] = "local";
static char			*no_args[1];

/* ------------------------------------------------------------------ */

static void
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
emit(const char *key, double v, int prec, const char *unit)
{
	printf("%s %.*f %s\n", key, prec, v, unit);
	fflush(stdout);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Run the loop until *flag is set; a stuck benchmark is an error. */
static void
loop_until(const int *flag, const char *what, int secs)
{
	uint64_t end = now_usec() + (uint64_t)secs * 1000000;
	struct timeval tv = { 0, 100000 };
	struct event *tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);

	event_add(tick, &tv);
	while (!*flag) {
		event_base_loop(base, EVLOOP_ONCE);
		if (now_usec() > end)
			fatal("%s: no result within %d s", what, secs);
	}
	event_free(tick);
}

static long
proc_status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *fp;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, fp) != NULL) {
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(fp);
	return v;
}

static int
u64cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
longcmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static double
median_u64(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, u64cmp);
	return n % 2 ? (double)v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* ------------------------------------------------------------------ */
/* Contexts */

struct ctx {
	uint32_t	 id;
	uint32_t	 parent;	/* 0: directly under the master */
	char		*name;
	pid_t		 pid;
	int		 up;		/* started and answered a ping */
	uint64_t	 t0;
	uint64_t	 t_up;
	void		(*next)(struct ctx *);	/* after the ping */
	int		*pending;
};

static void
req_init(struct boot_req *r, struct ctx *c)
{
	memset(r, 0, sizeof *r);
	r->id = c->id;
	r->name = c->name;
	r->method = method_local;
	r->args = no_args;
	r->keepalive = SPN_KEEPALIVE_DEFAULT;
	r->timeout = 30;
	r->level = log_get_level();
}

static int
ctx_pinged(struct rt *r, const struct rt_msg *m, void *arg)
{
	struct ctx *c = arg;
	char *text;

	(void)r;
	if (m->h.kind == SPN_K_DEAD) {
		text = call_dead_text(m);
		fatal("%s: ping: %s", c->name, text);
	}
	c->up = 1;
	c->t_up = now_usec();
	if (c->pending != NULL)
		(*c->pending)--;
	if (c->next != NULL)
		c->next(c);
	return 0;
}

static void
ctx_started(struct ctx *c)
{
	call_start(rt, c->id, SPN_H_PING, NULL, ctx_pinged, c);
}

static void
ctx_boot_done(struct child *ch, const char *err, void *arg)
{
	struct ctx *c = arg;

	if (err != NULL)
		fatal("%s: %s", c->name, err);
	c->pid = child_pid(ch);
	ctx_started(c);
}

static int
ctx_connect_reply(struct rt *r, const struct rt_msg *m, void *arg)
{
	struct ctx *c = arg;
	struct upk u;
	char *text;

	(void)r;
	if (m->h.kind == SPN_K_DEAD) {
		text = call_dead_text(m);
		fatal("%s: %s", c->name, text);
	}
	upk_init(&u, m->data, m->h.len);
	c->pid = upk_u32(&u);
	ctx_started(c);
	return 0;
}

/* Start c (under c->parent, or the master); c->next runs once it is up. */
static void
ctx_start(struct ctx *c)
{
	struct boot_req req;
	struct pk pk;
	char why[512];

	c->t0 = now_usec();
	req_init(&req, c);
	if (c->parent == 0) {
		if (boot_connect(rt, &req, ctx_boot_done, c, why,
		    sizeof why) == NULL)
			fatal("%s: %s", c->name, why);
		return;
	}
	pk_init(&pk);
	boot_req_pack(&pk, &req);
	call_start(rt, c->parent, SPN_H_CONNECT, &pk, ctx_connect_reply, c);
	pk_free(&pk);
}

/* Close the links to the given first-hop contexts and wait until their
 * agents are reaped (each agent waits for its own children first). */
static void
ctx_stop(struct ctx *cs, size_t n)
{
	struct link *l;
	uint64_t end = now_usec() + 10000000;
	struct timeval tv = { 0, 5000 };
	struct event *tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	size_t alive;

	for (size_t i = 0; i < n; i++) {
		if (cs[i].parent == 0 &&
		    (l = rt_route_lookup(rt, cs[i].id)) != NULL)
			link_close(l, "benchmark done");
	}
	event_add(tick, &tv);
	do {
		event_base_loop(base, EVLOOP_ONCE);
		alive = 0;
		for (size_t i = 0; i < n; i++) {
			if (cs[i].pid > 0 && (kill(cs[i].pid, 0) == 0 ||
			    errno != ESRCH))
				alive++;
		}
	} while (alive > 0 && now_usec() < end);
	if (alive > 0)
		say("  warning: %zu agents still alive after 10 s", alive);
	event_free(tick);
	/* Let the deferred child frees run. */
	event_base_loop(base, EVLOOP_NONBLOCK);
}

static struct ctx *
ctxs_new(size_t n, uint32_t id0, int chain)
{
	struct ctx *cs = xcalloc(n, sizeof *cs);
	size_t len = 0;
	char *name = xcalloc(1, 6 * n + 1);

	for (size_t i = 0; i < n; i++) {
		cs[i].id = id0 + i;
		if (chain) {
			len += sprintf(name + len, "%slocal", i ? "+" : "");
			cs[i].name = xstrdup(name);
			cs[i].parent = i ? cs[i - 1].id : 0;
		} else
			cs[i].name = xstrdup("local");
	}
	free(name);
	return cs;
}

static void
ctxs_free(struct ctx *cs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(cs[i].name);
	free(cs);
}

/* ------------------------------------------------------------------ */
/* Bring-up */

static struct ctx	*seq_set;
static size_t		 seq_n, seq_next;
static int		 seq_done;

static void
seq_step(struct ctx *c)
{
	(void)c;
	if (seq_next == seq_n) {
		seq_done = 1;
		return;
	}
	ctx_start(&seq_set[seq_next++]);
}

/* One after another; for a chain each hop needs the one before anyway. */
static double
bring_up_seq(struct ctx *cs, size_t n)
{
	uint64_t t0 = now_usec();

	seq_set = cs;
	seq_n = n;
	seq_next = 0;
	seq_done = 0;
	for (size_t i = 0; i < n; i++)
		cs[i].next = seq_step;
	seq_step(NULL);
	loop_until(&seq_done, "sequential bring-up", 120);
	return (now_usec() - t0) / 1e6;
}

static int	par_pending, par_done;
static struct ctx *par_set;
static size_t	par_n, par_next;

static void
par_step(struct ctx *c)
{
	(void)c;
	if (par_next < par_n)
		ctx_start(&par_set[par_next++]);
	if (par_pending == 0)
		par_done = 1;
}

/* At most `window` contexts booting at once (0: all of them). */
static double
bring_up_par(struct ctx *cs, size_t n, size_t window)
{
	uint64_t t0 = now_usec();

	par_set = cs;
	par_n = n;
	par_next = 0;
	par_pending = n;
	par_done = 0;
	if (window == 0 || window > n)
		window = n;
	for (size_t i = 0; i < n; i++) {
		cs[i].pending = &par_pending;
		cs[i].next = par_step;
	}
	while (par_next < window)
		ctx_start(&cs[par_next++]);
	loop_until(&par_done, "concurrent bring-up", 120);
	return (now_usec() - t0) / 1e6;
}

static long
rss_median(struct ctx *cs, size_t n, long *min, long *max)
{
	long *v = xcalloc(n, sizeof *v), med;

	for (size_t i = 0; i < n; i++)
		v[i] = proc_status_kib(cs[i].pid, "VmRSS");
	qsort(v, n, sizeof *v, longcmp);
	*min = v[0];
	*max = v[n - 1];
	med = v[n / 2];
	free(v);
	return med;
}

/* ------------------------------------------------------------------ */
/* Ping */

struct pinger {
	uint32_t	 ctx;
	long		 n, done, warm;
	uint64_t	*rtt;
	uint64_t	 t0;
	int		 finished;
};

static void	ping_send(struct pinger *);

static int
ping_reply(struct rt *r, const struct rt_msg *m, void *arg)
{
	struct pinger *p = arg;
	uint64_t t = now_usec() - p->t0;
	char *text;

	(void)r;
	if (m->h.kind == SPN_K_DEAD) {
		text = call_dead_text(m);
		fatal("ping: %s", text);
	}
	if (p->warm > 0)
		p->warm--;
	else
		p->rtt[p->done++] = t;
	if (p->done < p->n)
		ping_send(p);
	else
		p->finished = 1;
	return 0;
}

static void
ping_send(struct pinger *p)
{
	p->t0 = now_usec();
	call_start(rt, p->ctx, SPN_H_PING, NULL, ping_reply, p);
}

static double
ping_median(uint32_t ctx, long n, long warm, double *min, double *p90)
{
	struct pinger p = { .ctx = ctx, .n = n, .warm = warm };
	double med;

	p.rtt = xcalloc(n, sizeof *p.rtt);
	ping_send(&p);
	loop_until(&p.finished, "ping", 120);
	med = median_u64(p.rtt, n);
	*min = p.rtt[0];
	*p90 = p.rtt[n * 9 / 10];
	free(p.rtt);
	return med;
}

/* ------------------------------------------------------------------ */
/* Exec */

struct runner {
	int		 done;
	int		 code;
	uint64_t	 t1;
};

static void
run_done(struct xcl *x, int code, const char *err, void *arg)
{
	struct runner *r = arg;

	(void)x;
	r->t1 = now_usec();
	r->code = code;
	r->done = 1;
	if (code != 0)
		fatal("exec: status %d%s%s", code, err ? ": " : "",
		    err ? err : "");
}

/* Run argv at ctx; returns microseconds, *bytes the stdout+stderr moved. */
static uint64_t
run_once(uint32_t ctx, char **argv, int fd_out, int fd_err,
    uint64_t *bytes)
{
	struct exec_req req = {
		.ctx = ctx, .argv = argv, .fd_in = -1,
		.fd_out = fd_out, .fd_err = fd_err,
	};
	static char *env[1];
	struct runner r = { 0 };
	struct xcl *x;
	uint64_t t0;

	req.env = env;
	t0 = now_usec();
	x = exec_start(rt, &req, run_done, &r);
	loop_until(&r.done, argv[0], 600);
	if (bytes != NULL)
		*bytes = exec_bytes(x);
	exec_free(x);
	return r.t1 - t0;
}

static double
exec_median(uint32_t ctx, int n, int warm, int io, double *min)
{
	static char *argv[] = { "true", NULL };
	uint64_t *v = xcalloc(n, sizeof *v);
	int null = io ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
	double med;

	for (int i = 0; i < warm; i++)
		run_once(ctx, argv, null, null, NULL);
	for (int i = 0; i < n; i++)
		v[i] = run_once(ctx, argv, null, null, NULL);
	med = median_u64(v, n);
	*min = v[0];
	free(v);
	if (null >= 0)
		close(null);
	return med;
}

/* ------------------------------------------------------------------ */
/* Throughput */

struct rss_watch {
	struct ctx	*cs;
	size_t		 n;
	long		 peak[DEPTH];
};

static void
rss_tick(evutil_socket_t fd, short what, void *arg)
{
	struct rss_watch *w = arg;
	long v;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < w->n; i++) {
		v = proc_status_kib(w->cs[i].pid, "VmRSS");
		if (v > w->peak[i])
			w->peak[i] = v;
	}
}

static double
throughput(struct ctx *chain, size_t hop, uint64_t total,
    struct rss_watch *w)
{
	char count[32];
	char *argv[] = { "head", "-c", count, "/dev/zero", NULL };
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct timeval tv = { 0, 20000 };
	struct event *ev = NULL;
	uint64_t us, bytes;

	if (null < 0)
		fatal("/dev/null: %s", strerror(errno));
	snprintf(count, sizeof count, "%llu", (unsigned long long)total);
	if (w != NULL) {
		ev = event_new(base, -1, EV_PERSIST, rss_tick, w);
		event_add(ev, &tv);
	}
	us = run_once(chain[hop - 1].id, argv, null, -1, &bytes);
	if (ev != NULL)
		event_free(ev);
	close(null);
	if (bytes != total)
		fatal("throughput: %llu bytes arrived, %llu expected",
		    (unsigned long long)bytes, (unsigned long long)total);
	say("  tput%zu: %llu bytes in %.3f s -> %.1f MB/s", hop,
	    (unsigned long long)bytes, us / 1e6, bytes / (double)us);
	return bytes / (double)us;	/* bytes per us == MB/s */
}

/* ------------------------------------------------------------------ */
/* Baseline: the same message path with nothing but pipes and poll(). */

/* Forward frames between the parent side and the child side; the last
 * relay (down_in < 0) echoes.  Blocking IO on header-sized frames. */
static void
relay(int up_in, int up_out, int down_in, int down_out)
{
	struct pollfd pfd[2] = {
		{ up_in, POLLIN, 0 }, { down_in, POLLIN, 0 }
	};
	char buf[SPN_HDR_LEN];
	ssize_t n;

	for (;;) {
		if (poll(pfd, down_in < 0 ? 1 : 2, -1) < 0)
			_exit(1);
		if (pfd[0].revents) {
			if ((n = read(up_in, buf, sizeof buf)) <= 0)
				_exit(0);
			if (write(down_in < 0 ? up_out : down_out, buf, n) != n)
				_exit(1);
		}
		if (down_in >= 0 && pfd[1].revents) {
			if ((n = read(down_in, buf, sizeof buf)) <= 0)
				_exit(0);
			if (write(up_out, buf, n) != n)
				_exit(1);
		}
	}
}

static double
baseline_ping(int hops, long n, long warm, double *min)
{
	int d[DEPTH][2], u[DEPTH][2];
	pid_t pids[DEPTH];
	uint64_t *v = xcalloc(n, sizeof *v), t0;
	char buf[SPN_HDR_LEN] = { 0 };
	double med;

	for (int i = 0; i < hops; i++) {
		if (pipe2(d[i], O_CLOEXEC) != 0 || pipe2(u[i], O_CLOEXEC) != 0)
			fatal("pipe: %s", strerror(errno));
	}
	for (int k = 1; k <= hops; k++) {
		if ((pids[k - 1] = fork()) < 0)
			fatal("fork: %s", strerror(errno));
		if (pids[k - 1] != 0)
			continue;
		/* Keep only our four ends, or nobody ever sees EOF. */
		for (int i = 0; i < hops; i++) {
			if (i != k - 1) {
				close(d[i][0]);
				close(u[i][1]);
			}
			if (i != k) {
				close(d[i][1]);
				close(u[i][0]);
			}
		}
		relay(d[k - 1][0], u[k - 1][1], k < hops ? u[k][0] : -1,
		    k < hops ? d[k][1] : -1);
	}
	for (int i = 0; i < hops; i++) {
		close(d[i][0]);
		close(u[i][1]);
		if (i > 0) {
			close(d[i][1]);
			close(u[i][0]);
		}
	}
	for (long i = -warm; i < n; i++) {
		t0 = now_usec();
		if (write(d[0][1], buf, sizeof buf) != sizeof buf ||
		    read(u[0][0], buf, sizeof buf) != sizeof buf)
			fatal("baseline relay failed");
		if (i >= 0)
			v[i] = now_usec() - t0;
	}
	close(d[0][1]);
	close(u[0][0]);
	for (int i = 0; i < hops; i++)
		waitpid(pids[i], NULL, 0);
	med = median_u64(v, n);
	*min = v[0];
	free(v);
	return med;
}

/* ------------------------------------------------------------------ */

static int
wanted(const char *only, const char *what)
{
	const char *p;
	size_t n = strlen(what);

	if (only == NULL)
		return 1;
	for (p = only; (p = strstr(p, what)) != NULL; p += n) {
		if ((p == only || p[-1] == ',') && (p[n] == ',' ||
		    p[n] == '\0'))
			return 1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench-spindle [--quick] [--mb MIB] "
	    "[--window N] [--stream-window KIB]\n"
	    "                     [--only base,flat,seq,chain,ping,exec,tput]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "mb", required_argument, NULL, 'm' },
		{ "window", required_argument, NULL, 'w' },
		{ "only", required_argument, NULL, 'o' },
		{ "stream-window", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	const char *only = NULL;
	int quick = 0, ch, io_n;
	long mb = -1, window = 0, swin = 0;
	long ping1_n, ping10_n, true_n, warm, rmin, rmax, rss;
	double t, t_seq = -1, t_chain, p1, p10, ptrue, ptrue_io, mbps, mn, p90;
	struct ctx *flat, *chain;
	struct rss_watch w = { 0 };
	uint64_t t_all = now_usec();

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			quick = 1;
			break;
		case 'm':
			if ((mb = atol(optarg)) < 1)
				usage();
			break;
		case 'w':
			window = atol(optarg);
			break;
		case 'o':
			only = optarg;
			break;
		case 's':
			if ((swin = atol(optarg)) < 1)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	ping1_n = quick ? 200 : 2000;
	ping10_n = quick ? 50 : 500;
	true_n = quick ? 20 : 200;
	warm = quick ? 20 : 100;
	io_n = true_n;
	if (mb < 0)
		mb = quick ? 64 : 1024;

	signal(SIGPIPE, SIG_IGN);
	log_set_level(SPN_LOG_WARN);
	if ((base = event_base_new()) == NULL)
		fatal("cannot create an event loop");
	proc_init(base);
	rt = rt_new(base, SPN_CTX_MASTER, "master");
	rt_handle_add(rt, SPN_H_LOG, RT_ALLOW_DESCENDANTS, 0, rt_log_print, NULL);
	svc_basic_init(rt);
	if (swin > 0)	/* agents inherit it with BOOT */
		rt_set_window(rt, swin * 1024);

	/* Floors for the ping figures: pipes and poll() alone. */
	if (only != NULL && wanted(only, "base")) {
		p1 = baseline_ping(1, ping1_n, warm, &mn);
		say("  pipe relay, 1 process: median %.1f us, min %.1f", p1, mn);
		p10 = baseline_ping(DEPTH, ping10_n, warm, &mn);
		say("  pipe relay, %d processes: median %.1f us, min %.1f",
		    DEPTH, p10, mn);
		emit("base_ping1_us", p1, 1, "us");
		emit("base_ping10_us", p10, 1, "us");
	}

	/* (a) 50 flat contexts, all at once, then their RSS. */
	if (wanted(only, "flat")) {
		say("bring-up: %d flat contexts, %s", NFLAT, window ?
		    "windowed" : "all started at once");
		flat = ctxs_new(NFLAT, FLAT_ID0, 0);
		t = bring_up_par(flat, NFLAT, window);
		rss = rss_median(flat, NFLAT, &rmin, &rmax);
		say("  %d contexts in %.3f s; RSS min/median/max %ld/%ld/%ld "
		    "KiB", NFLAT, t, rmin, rss, rmax);
		ctx_stop(flat, NFLAT);
		ctxs_free(flat, NFLAT);
		emit("contexts50_s", t, 3, "s");
		emit("rss_kib", rss, 0, "KiB");
	}
	if (wanted(only, "seq")) {
		say("bring-up: %d flat contexts, one after another", NFLAT);
		flat = ctxs_new(NFLAT, FLAT_ID0 + NFLAT, 0);
		t_seq = bring_up_seq(flat, NFLAT);
		say("  %d contexts in %.3f s (%.2f ms each)", NFLAT, t_seq,
		    1000 * t_seq / NFLAT);
		ctx_stop(flat, NFLAT);
		ctxs_free(flat, NFLAT);
		emit("contexts50_seq_s", t_seq, 3, "s");
	}

	if (!wanted(only, "chain") && !wanted(only, "ping") &&
	    !wanted(only, "exec") && !wanted(only, "tput"))
		goto out;

	/* (a) the 10-deep chain. */
	say("bring-up: %d-deep chain", DEPTH);
	chain = ctxs_new(DEPTH, CHAIN_ID0, 1);
	t_chain = bring_up_seq(chain, DEPTH);
	fprintf(stderr, "  chain in %.3f s; per hop ms:", t_chain);
	for (int i = 0; i < DEPTH; i++)
		fprintf(stderr, " %.1f", (chain[i].t_up - chain[i].t0) / 1e3);
	fprintf(stderr, "\n  chain RSS (hop1..hop%d) KiB:", DEPTH);
	for (int i = 0; i < DEPTH; i++)
		fprintf(stderr, " %ld", proc_status_kib(chain[i].pid,
		    "VmRSS"));
	fputc('\n', stderr);
	if (wanted(only, "chain"))
		emit("chain10_s", t_chain, 3, "s");

	/* (b) latency. */
	if (wanted(only, "ping")) {
		p1 = ping_median(chain[0].id, ping1_n, warm, &mn, &p90);
		say("  ping1: median %.1f us, min %.1f, p90 %.1f over %ld "
		    "calls", p1, mn, p90, ping1_n);
		p10 = ping_median(chain[DEPTH - 1].id, ping10_n, warm, &mn,
		    &p90);
		say("  ping10: median %.1f us, min %.1f, p90 %.1f over %ld "
		    "calls", p10, mn, p90, ping10_n);
		emit("ping1_us", p1, 1, "us");
		emit("ping10_us", p10, 1, "us");
	}
	if (wanted(only, "exec")) {
		ptrue = exec_median(chain[0].id, true_n, 5, 0, &mn);
		say("  exec true: median %.1f us, min %.1f over %ld runs",
		    ptrue, mn, true_n);
		ptrue_io = exec_median(chain[0].id, io_n, 5, 1, &mn);
		say("  exec true (stdout+stderr streams): median %.1f us, "
		    "min %.1f over %d runs", ptrue_io, mn, io_n);
		emit("exec_true_us", ptrue, 1, "us");
		emit("exec_true_io_us", ptrue_io, 1, "us");
	}

	/* (c) throughput from hop 3, with the agents' memory watched. */
	if (wanted(only, "tput")) {
		throughput(chain, 3, 4 << 20, NULL);	/* warm-up */
		w.cs = chain;
		w.n = 3;
		mbps = throughput(chain, 3, (uint64_t)mb << 20, &w);
		emit("tput3_MBps", mbps, 1, "MB/s");
		long hwm = 0, v;
		fprintf(stderr, "  hops 1-3 during tput: peak VmRSS (sampled "
		    "every 20 ms) / VmHWM KiB:");
		for (int i = 0; i < 3; i++) {
			v = proc_status_kib(chain[i].pid, "VmHWM");
			fprintf(stderr, " %ld/%ld", w.peak[i], v);
			if (v > hwm)
				hwm = v;
		}
		fputc('\n', stderr);
		emit("rss_hop_kib", hwm, 0, "KiB");
	}
	ctx_stop(chain, DEPTH);
	ctxs_free(chain, DEPTH);
out:
	say("  master VmHWM %ld KiB", proc_status_kib(getpid(), "VmHWM"));
	say("total run time %.1f s", (now_usec() - t_all) / 1e6);
	rt_free(rt);
	event_base_free(base);
	return 0;
}
