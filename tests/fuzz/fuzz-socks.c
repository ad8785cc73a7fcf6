/*
 * libFuzzer target for the SOCKS parser (lib/socks.c), what a dynamic
 * forward reads from any local client before the connect.
 *
 * The first input byte seeds how the rest is cut: the rest is fed once
 * whole, once in pieces of random sizes (empty ones too) and, when it
 * is short, one byte at a time, each piece in a buffer of its own size
 * so that a read past it is ASan's.  Every way must end alike: the same
 * result, bytes taken, answer bytes, host and port.  And always:
 *  - a feed takes no more than it is given, all of it unless READY or
 *    ERROR, and answers at most SOCKS_OUT_MAX bytes (out is exactly that
 *    long, err a size the seed picks);
 *  - READY has a version, a host of 1..SOCKS_HOST_MAX bytes and a port,
 *    and socks_reply answers it in the version's size;
 *  - ERROR says why; after READY or ERROR a feed takes nothing.
 * Run with -malloc_limit_mb=1 (tools/fuzz does): the parser allocates
 * nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/lib.h"

struct run {
	struct socks	 s;
	int		 rc;
	size_t		 taken;		/* bytes of the stream taken */
	uint8_t		 out[4 * SOCKS_OUT_MAX];
	size_t		 outlen;
};

static uint32_t
next(uint32_t *x)
{
	/* xorshift32: the seed alone decides the cuts. */
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* ASan's redzones around it catch a write past SOCKS_OUT_MAX. */
static uint8_t	 outbuf[SOCKS_OUT_MAX];

/* One feed of n bytes in a buffer of exactly n. */
static void
feed(struct run *r, const uint8_t *p, size_t n, size_t errlen)
{
	uint8_t		 one, *in = n > 1 ? malloc(n) : &one, *out = outbuf;
	char		*err = errlen ? malloc(errlen) : NULL;
	size_t		 used = (size_t)-1, outlen = (size_t)-1;
	int		 was = r->rc;

	if (in == NULL || (errlen && err == NULL))
		abort();
	memcpy(in, p, n);
	if (err != NULL)
		memset(err, 0, errlen);
	r->rc = socks_feed(&r->s, in, n, &used, out, &outlen, err, errlen);
	if (used > n || outlen > SOCKS_OUT_MAX)
		abort();
	if (r->rc != SOCKS_MORE && r->rc != SOCKS_READY &&
	    r->rc != SOCKS_ERROR)
		abort();
	if (r->rc == SOCKS_MORE && used != n)
		abort();
	if (was != SOCKS_MORE && (r->rc != was || used != 0 || outlen != 0))
		abort();
	if (r->rc == SOCKS_ERROR && errlen > 1 &&
	    (err[0] == '\0' || memchr(err, '\0', errlen) == NULL))
		abort();
	if (r->outlen + outlen > sizeof r->out)
		abort();
	memcpy(r->out + r->outlen, out, outlen);
	r->outlen += outlen;
	r->taken += used;
	if (in != &one)
		free(in);
	free(err);
}

static void
check_ready(const struct run *r)
{
	static const int errs[] = { 0, ECONNREFUSED, EHOSTUNREACH,
	    ENETUNREACH, ETIMEDOUT };
	uint8_t		 out[SOCKS_OUT_MAX];
	size_t		 hlen, i, n;

	if (r->rc != SOCKS_READY)
		return;
	hlen = strnlen(r->s.host, sizeof r->s.host);
	if (hlen == 0 || hlen > SOCKS_HOST_MAX || r->s.port == 0)
		abort();
	if (r->s.version != 4 && r->s.version != 5)
		abort();
	for (i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		n = socks_reply(&r->s, errs[i], out);
		if (n != (r->s.version == 4 ? 8u : 10u))
			abort();
		if ((errs[i] == 0) != (out[1] == 0x5a || out[1] == 0x00))
			abort();
	}
}

static void
same(const struct run *a, const struct run *b)
{
	if (a->rc != b->rc || a->taken != b->taken ||
	    a->outlen != b->outlen || memcmp(a->out, b->out, a->outlen) != 0)
		abort();
	if (a->rc == SOCKS_READY && (a->s.port != b->s.port ||
	    a->s.version != b->s.version ||
	    strcmp(a->s.host, b->s.host) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run	 whole, cut, bytes;
	uint32_t	 x;
	size_t		 at, n, errlen;

	if (size < 1)
		return 0;
	x = 0x9e3779b9u ^ ((uint32_t)data[0] << 8 | data[0]);
	errlen = data[0] % 65;
	data++;
	size--;

	memset(&whole, 0, sizeof whole);
	socks_init(&whole.s);
	feed(&whole, data, size, errlen);
	check_ready(&whole);

	memset(&cut, 0, sizeof cut);
	socks_init(&cut.s);
	for (at = 0; cut.rc == SOCKS_MORE && at <= size; at += n) {
		/* Mostly short pieces, now and then a long or empty one. */
		n = next(&x) % 8 == 0 ? next(&x) % 300 : next(&x) % 9;
		if (n > size - at)
			n = size - at;
		feed(&cut, data + at, n, 64);
		if (at == size)
			break;
	}
	/* A done parser takes nothing more. */
	if (cut.rc != SOCKS_MORE)
		feed(&cut, data, size, 64);
	check_ready(&cut);
	same(&whole, &cut);

	if (size <= 1024) {
		memset(&bytes, 0, sizeof bytes);
		socks_init(&bytes.s);
		for (at = 0; at < size && bytes.rc == SOCKS_MORE; at++)
			feed(&bytes, data + at, 1, 0);
		same(&whole, &bytes);
	}
	return 0;
}
