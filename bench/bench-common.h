/*
 * What bench-lib.c and bench-part2.c share (each is a spindle-cc
 * program of its own, from one file): the export both call, and their
 * helpers.  BENCH_NAME names the program in messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

#include "bench-time.h"

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

static void
die(const char *what, const struct spn_error *err)
{
	fprintf(stderr, "%s: %s: ", BENCH_NAME, what);
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
