/*
 * reap: B13 of LIBRARY.md §9.  The library reaps only its own children:
 * system() returns the status of the shell it ran, in the master while
 * another thread connects and ends contexts (the library's children
 * there), and in a remote function while the master runs EXECs in the
 * same context (the agent's children there).
 *
 *	reap master ROUTE N	N system("exit 3") in the master
 *	reap remote ROUTE N	N system("exit 3") in a function at ROUTE
 *
 * Prints "master|remote: K/N returned 3, M ...meanwhile" and exits 0
 * when K == N and something ran meanwhile.
 */
#include <sys/wait.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spindle.h>

/* n system("exit 3"): how many returned 3, and the first other status
 * (-1: system() failed; -2: none). */
static int64_t
exit3(int64_t n, int64_t *bad)
{
	int64_t i, ok = 0;
	int st;

	*bad = -2;
	for (i = 0; i < n; i++) {
		st = system("exit 3");
		if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 3)
			ok++;
		else if (*bad == -2)
			*bad = st;
	}
	return ok;
}

static int
sys_loop(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	int64_t ok, bad;

	(void)call;
	ok = exit3(spn_arg_int(a, 0), &bad);
	return spn_vbuf_put(r, "ii", ok, bad);
}
SPN_EXPORT(sys_loop, "i->ii");

static volatile int stop;
static struct spn *spn;
static const char *route;
static struct spn_ctx *ctx;
static long busy, busy_bad;

/* The library's own children in the master: contexts started and ended. */
static void *
connects(void *arg)
{
	struct spn_ctx *c;
	struct spn_error err;

	(void)arg;
	while (!stop) {
		if (spn_connect(spn, "local", NULL, &c, &err) != SPN_OK) {
			spn_error_print(&err);
			busy_bad++;
			continue;
		}
		spn_ctx_shutdown(c, 0);
		spn_ctx_unref(c);
		busy++;
	}
	return NULL;
}

/* The agent's children there: commands run by EXEC. */
static void *
execs(void *arg)
{
	const char *const argv[] = { "sh", "-c", "exit 5", NULL };
	struct spn_error err;
	int st;

	(void)arg;
	while (!stop) {
		if (spn_exec(ctx, argv, -1, -1, -1, &st, &err) != SPN_OK) {
			spn_error_print(&err);
			busy_bad++;
		} else if (st != 5) {
			fprintf(stderr, "reap: exec returned %d, not 5\n", st);
			busy_bad++;
		} else
			busy++;
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct spn_error err;
	struct spn_msg *m;
	pthread_t t;
	int64_t n, ok, bad;
	int remote;

	if (spn_init(&argc, &argv, NULL, &spn) != SPN_OK)
		return 1;
	if (argc != 4 || (strcmp(argv[1], "master") != 0 &&
	    strcmp(argv[1], "remote") != 0)) {
		fprintf(stderr, "usage: reap master|remote ROUTE N\n");
		return 2;
	}
	remote = strcmp(argv[1], "remote") == 0;
	route = argv[2];
	n = atoll(argv[3]);
	if (spn_connect(spn, route, NULL, &ctx, &err) != SPN_OK) {
		spn_error_print(&err);
		return 1;
	}
	pthread_create(&t, NULL, remote ? execs : connects, NULL);
	if (remote) {
		if (spn_call(ctx, "sys_loop", 600000, &m, &err, "i", n) !=
		    SPN_OK) {
			spn_error_print(&err);
			return 1;
		}
		ok = spn_arg_int(spn_msg_value(m), 0);
		bad = spn_arg_int(spn_msg_value(m), 1);
		spn_msg_free(m);
	} else
		ok = exit3(n, &bad);
	stop = 1;
	pthread_join(t, NULL);
	printf("%s: %lld/%lld returned 3 (first other: %lld), %ld %s meanwhile"
	    " (%ld failed)\n", argv[1], (long long)ok, (long long)n,
	    (long long)bad, busy, remote ? "execs" : "connects", busy_bad);
	spn_shutdown(spn);
	return ok == n && busy > 0 && busy_bad == 0 ? 0 : 1;
}
