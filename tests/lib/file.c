/*
 * file: files to and from a context, one connection, steps in order:
 *
 *	file [-P PWFILE] ROUTE STEP [-- STEP]...
 *
 *	put LOCAL REMOTE MODE	spn_put_file (MODE octal, or -1)
 *	get REMOTE LOCAL MODE	spn_get_file
 *	putfd REMOTE MODE	spn_put_fd from stdin
 *	getfd REMOTE		spn_get_fd to stdout
 *	deadlk			spn_put_file from an SPN_INLINE export there
 *	shutdown REMOTE		spn_put_fd of a pipe that never ends, on a
 *				thread; spn_shutdown 500 ms later
 *	hwm			this process's VmHWM
 *	pause FILE		"paused", then wait until FILE exists
 *
 * Each step prints one line on stderr (stdout may be getfd's):
 * "ok STEP ... in N ms", or "error STEP CODE errno N: TEXT", TEXT as
 * spn_error_format() says it; the exit status is 1 if a step failed.
 * tests/integration/lib-file.sh and lib-file-ssh.sh run it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

/* On the loop thread of the context: a transfer would wait for it. */
static int
inline_put(struct spn_call *call, const struct spn_value *a,
    struct spn_vbuf *r)
{
	struct spn_ctx *parent = spn_parent(spn_call_spn(call));
	struct spn_error err = { 0 };
	int rc;

	(void)a;
	rc = spn_put_file(parent, "/etc/hostname", "/tmp/x", -1, &err);
	return spn_vbuf_put(r, "is", (int64_t)rc, err.message);
}
SPN_EXPORT_FLAGS(inline_put, "->is", SPN_INLINE);

static long
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static int
report(const char *step, int rc, const struct spn_error *err,
    const struct timespec *t0)
{
	if (rc == SPN_OK) {
		fprintf(stderr, "ok %s in %ld ms\n", step, ms_since(t0));
		return 0;
	}
	return step_error(step, rc, err);
}

static long
hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmHWM: %ld", &kb) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kb;
}

struct forever {
	struct spn_ctx	*ctx;
	const char	*remote;
	int		 fd;
	int		 rc;
	struct spn_error err;
};

static void *
forever_put(void *arg)
{
	struct forever *f = arg;

	f->rc = spn_put_fd(f->ctx, f->fd, f->remote, 0644, &f->err);
	return NULL;
}

/* A put that cannot end but by shutdown: a pipe we keep open. */
static int
step_shutdown(struct spn *spn, struct spn_ctx *ctx, const char *remote,
    const struct timespec *t0)
{
	static char buf[65536];
	struct forever f = { ctx, remote, -1, -1, { 0 } };
	pthread_t th;
	int p[2];

	if (pipe(p) != 0 || write(p[1], buf, sizeof buf) != sizeof buf)
		return 1;
	f.fd = p[0];
	pthread_create(&th, NULL, forever_put, &f);
	usleep(500000);
	spn_shutdown(spn);
	pthread_join(th, NULL);
	if (f.rc == SPN_ESHUTDOWN)
		fprintf(stderr, "ok shutdown in %ld ms\n", ms_since(t0));
	else
		report("shutdown", f.rc == SPN_OK ? SPN_EPROTO : f.rc, &f.err,
		    t0);
	return f.rc != SPN_ESHUTDOWN;
}

static int
step(struct spn *spn, struct spn_ctx *ctx, char **a, int n)
{
	struct spn_error err = { 0 };
	struct spn_msg *m;
	struct timespec t0;
	int rc = SPN_EINVAL;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (strcmp(a[0], "put") == 0 && n == 4)
		rc = spn_put_file(ctx, a[1], a[2], (int)strtol(a[3], NULL, 8),
		    &err);
	else if (strcmp(a[0], "get") == 0 && n == 4)
		rc = spn_get_file(ctx, a[1], a[2], (int)strtol(a[3], NULL, 8),
		    &err);
	else if (strcmp(a[0], "putfd") == 0 && n == 3)
		rc = spn_put_fd(ctx, 0, a[1], (int)strtol(a[2], NULL, 8), &err);
	else if (strcmp(a[0], "getfd") == 0 && n == 2)
		rc = spn_get_fd(ctx, a[1], 1, &err);
	else if (strcmp(a[0], "deadlk") == 0 && n == 1) {
		if ((rc = spn_call(ctx, "inline_put", 10000, &m, &err, "")) ==
		    SPN_OK) {
			rc = (int)spn_arg_int(spn_msg_value(m), 0);
			snprintf(err.message, sizeof err.message, "%s",
			    spn_arg_str(spn_msg_value(m), 1));
			spn_msg_free(m);
		}
	} else if (strcmp(a[0], "shutdown") == 0 && n == 2)
		return step_shutdown(spn, ctx, a[1], &t0);
	else if (strcmp(a[0], "hwm") == 0 && n == 1) {
		fprintf(stderr, "ok hwm %ld kB\n", hwm_kb());
		return 0;
	} else if (strcmp(a[0], "pause") == 0 && n == 2) {
		fprintf(stderr, "paused\n");
		for (int i = 0; i < 1200 && access(a[1], F_OK) != 0; i++)
			usleep(50000);
		return 0;
	} else {
		fprintf(stderr, "bad step %s\n", a[0]);
		return 1;
	}
	return report(a[0], rc, &err, &t0);
}

int
main(int argc, char **argv)
{
	struct spn *spn;
	struct spn_ctx *ctx;
	struct spn_connect_opts o = { 0 };
	struct spn_error err;
	int c, i, j, failed = 0;

	if (spn_init(&argc, &argv, NULL, &spn) != SPN_OK)
		return 1;
	while ((c = getopt(argc, argv, "P:")) != -1) {
		if (c != 'P')
			return 2;
		o.password_file = optarg;
	}
	if (argc - optind < 2)
		return 2;
	if (spn_connect(spn, argv[optind], &o, &ctx, &err) != SPN_OK) {
		spn_error_print(&err);
		return 1;
	}
	for (i = optind + 1; i < argc; i = j + 1) {
		for (j = i; j < argc && strcmp(argv[j], "--") != 0; j++)
			;
		if (strcmp(argv[i], "shutdown") == 0)
			return step(spn, ctx, argv + i, j - i);
		failed |= step(spn, ctx, argv + i, j - i);
	}
	spn_ctx_unref(ctx);
	spn_shutdown(spn);
	return failed;
}
