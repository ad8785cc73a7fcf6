/*
 * What the library's test programs share: a failure line, a clock, and
 * the export getpid_fn with its caller call_pid.  Each program sets prog
 * before it fails; what a program does not use is not an error.
 */
#ifndef SPN_TESTLIB_H
#define SPN_TESTLIB_H

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

#define TESTLIB_UNUSED	__attribute__((unused))

static const char	*prog TESTLIB_UNUSED;

/* "PROG: WHAT: STRERROR (RC): ERROR"; returns 1, an exit status. */
static TESTLIB_UNUSED int
fail(const char *what, int rc, const struct spn_error *err)
{
	char buf[1024] = "";

	if (err != NULL)
		spn_error_format(err, buf, sizeof buf);
	fprintf(stderr, "%s: %s: %s (%d): %s\n", prog, what, spn_strerror(rc),
	    rc, buf);
	return 1;
}

/* "error STEP ECALL errno N: TEXT", TEXT as spn_error_format says it:
 * the line the step-by-step programs (file, tcp) print; returns 1. */
static TESTLIB_UNUSED int
step_error(const char *step, int rc, const struct spn_error *err)
{
	static const char *const codes[] = {
		"OK", "ECALL", "ETIMEDOUT", "ECANCELLED", "ELOST", "ENOROUTE",
		"EREFUSED", "ENOFUNC", "ESIG", "ETOOLARGE", "EPROTO",
		"ECONNECT", "EAUTH", "EARCH", "ENOTSTATIC", "ESHUTDOWN",
		"ECLOSED", "ECRASH", "EDEADLK", "EBUSY", "EINVAL", "ENOMEM",
		"ESYS",
	};
	char buf[1024];

	spn_error_format(err, buf, sizeof buf);
	fprintf(stderr, "error %s %s errno %d: %s\n", step,
	    rc >= 0 && (size_t)rc < sizeof codes / sizeof *codes ? codes[rc] :
	    "?", err->sys_errno, buf);
	return 1;
}

static TESTLIB_UNUSED uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static TESTLIB_UNUSED uint64_t
now_ms(void)
{
	return now_us() / 1000;
}

static int
getpid_fn(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	(void)call;
	(void)args;
	return spn_vbuf_put(res, "i", (int64_t)getpid());
}
SPN_EXPORT(getpid_fn, "->i");

/* The context's pid, through getpid_fn. */
static TESTLIB_UNUSED int
call_pid(struct spn_ctx *ctx, int64_t *pid, struct spn_error *err)
{
	struct spn_msg *m;
	int rc;

	if ((rc = spn_call(ctx, "getpid_fn", 20000, &m, err, "")) != SPN_OK)
		return rc;
	*pid = spn_arg_int(spn_msg_value(m), 0);
	spn_msg_free(m);
	return SPN_OK;
}

#endif
