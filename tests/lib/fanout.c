/*
 * Fan-out (lib-fanout.sh), one case a run:
 *
 *   fanout many N            N local contexts at once (spn_connect_many),
 *                            every one answers spn_call_many with its own
 *                            pid; the soft fd limit before and after, the
 *                            fds a context costs, the times, on stdout
 *   fanout errors            a bad route and a failing hop among good
 *                            ones, then one context killed: each error is
 *                            its own, the others answer; calls past
 *                            their timeout say ETIMEDOUT, the contexts
 *                            answer after
 *   fanout tree N SIZE       N contexts behind one bastion context
 *                            (spn_connect_from), then one call of SIZE
 *                            bytes to the bastion that calls all N there
 *                            (spn_call_many in the copy), against N calls
 *                            from here: the bytes the master wrote for
 *                            each (its link to the bastion) on stdout
 *
 * Exit 0 when the case holds, 1 with the reason on stderr.
 */
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

#include "testlib.h"

/* Sleeps N ms unless cancelled. */
static int
nap(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	(void)res;
	for (int64_t i = 0; i < spn_arg_int(args, 0) / 10; i++) {
		if (spn_cancelled(call))
			break;
		usleep(10000);
	}
	return SPN_OK;
}
SPN_EXPORT(nap, "i->");

static uint64_t
sum(const unsigned char *p, size_t len)
{
	uint64_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = s * 31 + p[i];
	return s;
}

static int
digest(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	const void *p;
	size_t len;

	(void)call;
	p = spn_arg_bytes(args, 0, &len);
	return spn_vbuf_put(res, "u", sum(p, len));
}
SPN_EXPORT(digest, "y->u");

/* On the bastion: digest on every context given, the bytes sent on from
 * here.  Returns how many answered and the digest they agree on. */
static int
fan(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	const struct spn_value *list = spn_value_at(args, 0);
	size_t n = spn_value_len(list), len, ok = 0;
	struct spn_ctx **ctxs = calloc(n, sizeof *ctxs);
	struct spn_result *out = calloc(n, sizeof *out);
	const void *p = spn_arg_bytes(args, 1, &len);
	uint64_t d = 0, got;
	int rv;

	for (size_t i = 0; i < n; i++)
		ctxs[i] = spn_value_ctx(spn_value_at(list, i));
	rv = spn_call_many(ctxs, n, "digest", 30000, 0, out, "y", p, len);
	for (size_t i = 0; i < n; i++) {
		got = spn_arg_uint(spn_msg_value(out[i].msg), 0);
		if (out[i].code == SPN_OK && (ok == 0 || got == d)) {
			d = got;
			ok++;
		}
		spn_msg_free(out[i].msg);
		spn_ctx_unref(ctxs[i]);
	}
	free(out);
	free(ctxs);
	if (rv < 0)
		return spn_fail(call, 0, "spn_call_many: %s",
		    spn_strerror(-rv));
	return spn_vbuf_put(res, "uu", (uint64_t)ok, d);
}
SPN_EXPORT(fan, "aC,y->u,u");

static int
bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fanout: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	return 1;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = -1;	/* the directory's own */

	while (d != NULL && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return n;
}

/* What this process has written so far (all its threads). */
static unsigned long long
wchar(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	unsigned long long w = 0;
	char line[128];

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "wchar: %llu", &w) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return w;
}

static int
many(struct spn *spn, size_t n)
{
	const char **routes = calloc(n, sizeof *routes);
	struct spn_ctx **ctxs = calloc(n, sizeof *ctxs);
	struct spn_error *errs = calloc(n, sizeof *errs);
	struct spn_result *out = calloc(n, sizeof *out);
	struct rlimit before, after;
	long fds0, fds1;
	double t0, t1, t2;
	int64_t pid;
	int rv, rc = 0;

	for (size_t i = 0; i < n; i++)
		routes[i] = "local";
	getrlimit(RLIMIT_NOFILE, &before);
	fds0 = open_fds();
	t0 = now();
	rv = spn_connect_many(spn, routes, n, 0, NULL, ctxs, errs);
	t1 = now();
	if (rv != 0) {
		for (size_t i = 0; i < n; i++)
			if (ctxs[i] == NULL)
				spn_error_print(&errs[i]);
		return bad("spn_connect_many: %d of %zu failed", rv, n);
	}
	fds1 = open_fds();
	getrlimit(RLIMIT_NOFILE, &after);
	rv = spn_call_many(ctxs, n, "getpid_fn", 30000, 0, out, "");
	t2 = now();
	for (size_t i = 0; i < n; i++) {
		pid = spn_arg_int(spn_msg_value(out[i].msg), 0);
		if (out[i].code != SPN_OK) {
			spn_error_print(&out[i].err);
			rc = 1;
		} else if (pid <= 0 || pid == getpid())
			rc = bad("context %zu: pid %lld", i, (long long)pid);
		for (size_t j = 0; j < i && rc == 0; j++)
			if (spn_arg_int(spn_msg_value(out[j].msg), 0) == pid)
				rc = bad("contexts %zu and %zu: pid %lld", j, i,
				    (long long)pid);
	}
	printf("soft fd limit %llu before, %llu after (hard %llu)\n",
	    (unsigned long long)before.rlim_cur,
	    (unsigned long long)after.rlim_cur,
	    (unsigned long long)after.rlim_max);
	printf("fds per context %.2f (%ld for %zu)\n",
	    (double)(fds1 - fds0) / n, fds1 - fds0, n);
	printf("%zu contexts up in %.2f s, %zu calls answered in %.0f ms\n",
	    n, t1 - t0, n, (t2 - t1) * 1000);
	if (rv != 0)
		rc = bad("spn_call_many: %d failed", rv);
	for (size_t i = 0; i < n; i++) {
		spn_msg_free(out[i].msg);
		spn_ctx_unref(ctxs[i]);
	}
	return rc;
}

static int
errors(struct spn *spn)
{
	static const char *routes[] = { "local", "local+", "local",
	    "local+su=nosuchuser_fanout", "local" };
	struct spn_ctx *ctxs[5], *two[2];
	struct spn_error errs[5];
	struct spn_result out[5];
	struct spn_msg *m;
	double t0;
	int rv, code;

	rv = spn_connect_many(spn, routes, 5, 2, NULL, ctxs, errs);
	if (rv != 2)
		return bad("spn_connect_many: %d failed, not 2", rv);
	if (ctxs[1] != NULL || errs[1].code != SPN_EINVAL ||
	    strstr(errs[1].message, "empty hop") == NULL)
		return bad("local+: %s: %s", spn_strerror(errs[1].code),
		    errs[1].message);
	if (ctxs[3] != NULL || strcmp(errs[3].context,
	    "hop 2 (local+su=nosuchuser_fanout)") != 0)
		return bad("su=nosuchuser_fanout: %s: %s: %s",
		    spn_strerror(errs[3].code), errs[3].context,
		    errs[3].message);
	for (int i = 0; i < 5; i++)
		if (i != 1 && i != 3 && (ctxs[i] == NULL || errs[i].code != 0))
			return bad("route %d: %s", i, errs[i].message);
	spn_error_print(&errs[1]);
	spn_error_print(&errs[3]);

	/* Context 2 killed: its call fails, the others answer. */
	if (spn_call(ctxs[2], "getpid_fn", 10000, &m, &errs[0], "") != SPN_OK)
		return bad("getpid_fn: %s", errs[0].message);
	kill((pid_t)spn_arg_int(spn_msg_value(m), 0), SIGKILL);
	spn_msg_free(m);
	rv = spn_call_many(ctxs, 5, "getpid_fn", 10000, 1, out, "");
	if (rv != 3)
		return bad("spn_call_many: %d failed, not 3", rv);
	for (int i = 0; i < 5; i++) {
		code = out[i].code;
		if (i == 1 || i == 3) {
			if (code != SPN_EINVAL)
				return bad("call %d: %s", i,
				    spn_strerror(code));
		} else if (i == 2) {
			if (code != SPN_ELOST && code != SPN_ENOROUTE)
				return bad("call to the killed context: %s",
				    spn_strerror(code));
			if (strstr(out[i].err.context, "local") == NULL &&
			    strstr(out[i].err.message, "local") == NULL)
				return bad("its error names no route: %s: %s",
				    out[i].err.context, out[i].err.message);
			spn_error_print(&out[i].err);
		} else if (code != SPN_OK)
			return bad("call %d: %s", i, out[i].err.message);
		spn_msg_free(out[i].msg);
	}

	/* Two naps of 5 s, 300 ms allowed: both time out, in about that,
	 * and the contexts answer after. */
	two[0] = ctxs[0];
	two[1] = ctxs[4];
	t0 = now();
	rv = spn_call_many(two, 2, "nap", 300, 0, out, "i", (int64_t)5000);
	if (rv != 2 || out[0].code != SPN_ETIMEDOUT ||
	    out[1].code != SPN_ETIMEDOUT || now() - t0 > 4)
		return bad("naps: %d failed, %s, %s, in %.1f s", rv,
		    spn_strerror(out[0].code), spn_strerror(out[1].code),
		    now() - t0);
	printf("2 calls timed out in %.0f ms\n", (now() - t0) * 1000);
	spn_error_print(&out[1].err);
	rv = spn_call_many(two, 2, "getpid_fn", 10000, 0, out, "");
	if (rv != 0)
		return bad("after the naps: %d failed", rv);
	for (int i = 0; i < 2; i++)
		spn_msg_free(out[i].msg);
	for (int i = 0; i < 5; i++)
		spn_ctx_unref(ctxs[i]);
	return 0;
}

static int
tree(struct spn *spn, size_t n, size_t size)
{
	struct spn_ctx *bastion, *none, **ctxs = calloc(n, sizeof *ctxs);
	struct spn_result *out = calloc(n, sizeof *out);
	unsigned char *buf = malloc(size);
	unsigned long long w0, w1, w2, w3, w4;
	struct spn_error err;
	struct spn_msg *m;
	uint64_t want;
	int64_t pid;
	int rv;

	for (size_t i = 0; i < size; i++)
		buf[i] = (unsigned char)(i * 7 + i / 251);
	want = sum(buf, size);
	w0 = wchar();
	if (spn_connect(spn, "local", NULL, &bastion, &err) != SPN_OK)
		return bad("local: %s", err.message);
	w1 = wchar();
	for (size_t i = 0; i < n; i++) {
		if (spn_connect_from(bastion, "local", NULL, &ctxs[i],
		    &err) != SPN_OK)
			return bad("from local: %s: %s", err.context,
			    err.message);
	}
	w2 = wchar();
	if (strcmp(spn_ctx_name(ctxs[0]), "local+local") != 0)
		return bad("named %s", spn_ctx_name(ctxs[0]));
	printf("bastion up: %llu bytes; %zu contexts behind it: %llu bytes "
	    "more (%.3f of the bastion's)\n", w1 - w0, n, w2 - w1,
	    (double)(w2 - w1) / (w1 - w0));
	if (w2 - w0 > (w1 - w0) * 11 / 10)
		return bad("the image crossed the bastion's link again");

	/* One call with the bytes, the bastion calls them all. */
	rv = spn_call(bastion, "fan", 60000, &m, &err, "aC,y", n, ctxs, buf,
	    size);
	w3 = wchar();
	if (rv != SPN_OK)
		return bad("fan: %s: %s", err.context, err.message);
	if (spn_arg_uint(spn_msg_value(m), 0) != n ||
	    spn_arg_uint(spn_msg_value(m), 1) != want)
		return bad("fan: %llu answered, digest %llx, not %llx",
		    (unsigned long long)spn_arg_uint(spn_msg_value(m), 0),
		    (unsigned long long)spn_arg_uint(spn_msg_value(m), 1),
		    (unsigned long long)want);
	spn_msg_free(m);

	/* The same from here: each call crosses the link. */
	rv = spn_call_many(ctxs, n, "digest", 60000, 0, out, "y", buf, size);
	w4 = wchar();
	for (size_t i = 0; i < n; i++) {
		if (out[i].code != SPN_OK)
			spn_error_print(&out[i].err);
		else if (spn_arg_uint(spn_msg_value(out[i].msg), 0) != want)
			return bad("context %zu: another digest", i);
		spn_msg_free(out[i].msg);
	}
	if (rv != 0)
		return bad("spn_call_many: %d failed", rv);
	printf("argument %zu bytes: through the bastion %llu bytes on its "
	    "link, %zu calls from here %llu bytes\n", size, w3 - w2, n,
	    w4 - w3);
	if (w3 - w2 > size * 12 / 10)
		return bad("fan-out through the bastion: %llu bytes", w3 - w2);
	if (w4 - w3 < (unsigned long long)size * n)
		return bad("%zu calls from here: only %llu bytes", n, w4 - w3);

	/* Errors name the hop; dropping one ends it, not the bastion. */
	if (spn_connect_from(bastion, "su=nosuchuser_fanout", NULL, &none,
	    &err) == SPN_OK || strcmp(err.context,
	    "hop 2 (local+su=nosuchuser_fanout)") != 0)
		return bad("from local, su=nosuchuser_fanout: %s: %s",
		    err.context, err.message);
	spn_error_print(&err);
	if (spn_call(ctxs[0], "getpid_fn", 10000, &m, &err, "") != SPN_OK)
		return bad("getpid_fn: %s", err.message);
	pid = spn_arg_int(spn_msg_value(m), 0);
	spn_msg_free(m);
	spn_ctx_unref(ctxs[0]);
	for (int i = 0; i < 100 && kill((pid_t)pid, 0) == 0; i++)
		usleep(50000);
	if (kill((pid_t)pid, 0) == 0)
		return bad("context %lld still runs after its unref",
		    (long long)pid);
	if (spn_call(ctxs[1], "getpid_fn", 10000, NULL, &err, "") != SPN_OK ||
	    spn_call(bastion, "getpid_fn", 10000, NULL, &err, "") != SPN_OK)
		return bad("after the unref: %s: %s", err.context, err.message);
	for (size_t i = 1; i < n; i++)
		spn_ctx_unref(ctxs[i]);
	spn_ctx_unref(bastion);
	free(buf);
	return 0;
}

static int
run(struct spn *spn, int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "many") == 0)
		return many(spn, strtoul(argv[2], NULL, 10));
	if (argc == 2 && strcmp(argv[1], "errors") == 0)
		return errors(spn);
	if (argc == 4 && strcmp(argv[1], "tree") == 0)
		return tree(spn, strtoul(argv[2], NULL, 10),
		    strtoul(argv[3], NULL, 10));
	fprintf(stderr, "usage: fanout many N | errors | tree N SIZE\n");
	return 2;
}
SPN_MAIN(run);
