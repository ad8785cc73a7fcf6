/*
 * libspindle's side of the call benchmarks (bench/lib.sh runs it next to
 * bench-spindle's ping and Mitogen's call(os.getpid)).  Built with
 * spindle-cc: its own image is what each context runs.
 *
 * usage: bench-lib [--quick]		(local contexts)
 *	  bench-lib --rtt ROUTE N	(call round trip over ROUTE only)
 * stdout: one "key value unit" line per figure, as bench-spindle prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

#define BENCH_NAME	"bench-lib"
#include "bench-common.h"

static const char	*fn = "nothing";

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
call_once(struct spn_ctx *ctx)
{
	struct spn_msg *m;
	struct spn_error err;

	if (spn_call(ctx, fn, 10000, &m, &err, "") != SPN_OK)
		die("call", &err);
	spn_msg_free(m);
}

/* Median round trip of n sequential calls, after a warm-up. */
static double
call_rtt(struct spn_ctx *ctx, int n)
{
	double *t = calloc(n, sizeof *t), t0, med;

	for (int i = 0; i < 200; i++)
		call_once(ctx);
	for (int i = 0; i < n; i++) {
		t0 = now_us();
		call_once(ctx);
		t[i] = now_us() - t0;
	}
	qsort(t, n, sizeof *t, cmp_double);
	med = t[n / 2];
	free(t);
	return med;
}

/* Calls in flight on every context at once, gathered in order: the
 * aggregate calls per second of a fan-out. */
static double
calls_per_sec(struct spn_ctx **ctx, int nctx, int inflight, int rounds)
{
	struct spn_recv **r = calloc((size_t)nctx * inflight, sizeof *r);
	struct spn_msg *m;
	struct spn_error err;
	double t0 = now_us();
	int i, n = nctx * inflight;

	for (int round = 0; round < rounds; round++) {
		for (i = 0; i < n; i++)
			if (spn_call_async(ctx[i % nctx], fn, &r[i],
			    &err, "") != SPN_OK)
				die("call_async", &err);
		for (i = 0; i < n; i++) {
			if (spn_recv_get(r[i], 10000, &m, &err) != SPN_OK)
				die("recv_get", &err);
			spn_msg_free(m);
			spn_recv_close(r[i]);
		}
	}
	free(r);
	return (double)n * rounds / ((now_us() - t0) / 1e6);
}

static long
rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = atol(line + 6);
	if (f != NULL)
		fclose(f);
	return kib;
}

int
main(int argc, char **argv)
{
	struct spn *spn;
	struct spn_ctx *hop1, *hop10, *many[100];
	char route10[128] = "local";
	int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	int n = quick ? 2000 : 20000, nctx = quick ? 20 : 100;
	long rss0;

	if (spn_init(&argc, &argv, NULL, &spn) != SPN_OK)
		return 1;
	if (argc == 4 && strcmp(argv[1], "--rtt") == 0) {
		hop1 = connect_or_die(spn, argv[2]);
		printf("call_us %.1f us\n", call_rtt(hop1, atoi(argv[3])));
		spn_shutdown(spn);
		return 0;
	}
	hop1 = connect_or_die(spn, "local");
	for (int i = 1; i < 10; i++)
		strcat(route10, "+local");
	hop10 = connect_or_die(spn, route10);
	printf("call1_us %.1f us\n", call_rtt(hop1, n));
	printf("call10_us %.1f us\n", call_rtt(hop10, n / 2));
	fn = "nothing_inline";
	printf("call1_inline_us %.1f us\n", call_rtt(hop1, n));
	printf("call10_inline_us %.1f us\n", call_rtt(hop10, n / 2));
	fn = "nothing";

	rss0 = rss_kib();
	for (int i = 0; i < (quick ? 10000 : 100000); i++)
		call_once(hop1);
	printf("rss_growth_100k_kib %ld KiB\n", rss_kib() - rss0);

	for (int i = 0; i < nctx; i++)
		many[i] = connect_or_die(spn, "local");
	printf("calls_per_s %.0f calls/s\n",
	    calls_per_sec(many, nctx, 64, quick ? 3 : 10));
	printf("gather_per_s %.0f calls/s\n",
	    calls_per_sec(many, nctx, 1, quick ? 20 : 100));
	fn = "nothing_inline";
	printf("calls_inline_per_s %.0f calls/s\n",
	    calls_per_sec(many, nctx, 64, quick ? 3 : 10));
	spn_shutdown(spn);
	return 0;
}
