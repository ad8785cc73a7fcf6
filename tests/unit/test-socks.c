/*
 * The SOCKS parser (lib/socks.c): every version and address type, each
 * sample fed whole, cut at every point and one byte at a time, with the
 * client's first data after it; malformed and over-long requests; the
 * answer for each errno a connect can fail with.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/lib.h"

#define DATA		"GET / HTTP/1.0\r\n"

struct sample {
	const char	*name;
	uint8_t		 in[700];	/* the request (or up to its fault) */
	size_t		 len;
	int		 rc;		/* SOCKS_READY or SOCKS_ERROR */
	const char	*host;		/* READY: what it must say */
	uint16_t	 port;
	uint8_t		 out[SOCKS_OUT_MAX];	/* every answer, in order */
	size_t		 outlen;
	const char	*why;		/* ERROR: part of the message */
};

static struct sample	samples[64];
static size_t		nsamples;

/* Bytes from a list of ints (-1 ends it), each 0..255. */
static void	answer(struct sample *, ...);

static size_t
bytes(uint8_t *p, va_list ap)
{
	size_t	n = 0;
	int	c;

	while ((c = va_arg(ap, int)) != -1)
		p[n++] = (uint8_t)c;
	return n;
}

static struct sample *
addv(const char *name, int rc, const char *host, uint16_t port,
    const char *why, va_list ap)
{
	struct sample	*s = &samples[nsamples++];

	assert_true(nsamples <= sizeof samples / sizeof samples[0]);
	memset(s, 0, sizeof *s);
	s->name = name;
	s->rc = rc;
	s->host = host;
	s->port = port;
	s->why = why;
	s->len = bytes(s->in, ap);
	return s;
}

static struct sample *
add(const char *name, int rc, const char *host, uint16_t port,
    const char *why, ...)
{
	struct sample	*s;
	va_list		 ap;

	va_start(ap, why);
	s = addv(name, rc, host, port, why, ap);
	va_end(ap);
	return s;
}

/* A SOCKS5 request refused with code, after the greeting's answer. */
static struct sample *
bad5(const char *name, const char *why, int code, ...)
{
	struct sample	*s;
	va_list		 ap;

	va_start(ap, code);
	s = addv(name, SOCKS_ERROR, NULL, 0, why, ap);
	va_end(ap);
	answer(s, 5, 0, 5, code, 0, 1, 0, 0, 0, 0, 0, 0, -1);
	return s;
}

/* A SOCKS4 request refused (0x5b). */
static struct sample *
bad4(const char *name, const char *why, ...)
{
	struct sample	*s;
	va_list		 ap;

	va_start(ap, why);
	s = addv(name, SOCKS_ERROR, NULL, 0, why, ap);
	va_end(ap);
	answer(s, 0, 0x5b, 0, 0, 0, 0, 0, 0, -1);
	return s;
}

static void
append(struct sample *s, const void *p, size_t n)
{
	assert_true(s->len + n <= sizeof s->in);
	memcpy(s->in + s->len, p, n);
	s->len += n;
}

static void
answer(struct sample *s, ...)
{
	va_list	ap;

	va_start(ap, s);
	s->outlen = bytes(s->out, ap);
	va_end(ap);
}

static void
fill(struct sample *s, int c, size_t n)
{
	assert_true(s->len + n <= sizeof s->in);
	memset(s->in + s->len, c, n);
	s->len += n;
}

static void
good_samples(void)
{
	struct sample	*s;
	static char	 long255[256];

	memset(long255, 'a', 255);
	add("socks4", SOCKS_READY, "10.0.0.1", 80, NULL,
	    4, 1, 0, 80, 10, 0, 0, 1, 'a', 'l', 'i', 'c', 'e', 0, -1);
	add("socks4 no user", SOCKS_READY, "127.0.0.1", 8080, NULL,
	    4, 1, 0x1f, 0x90, 127, 0, 0, 1, 0, -1);
	add("socks4 0.0.0.0", SOCKS_READY, "0.0.0.0", 1, NULL,
	    4, 1, 0, 1, 0, 0, 0, 0, 0, -1);
	s = add("socks4 user 591", SOCKS_READY, "1.2.3.4", 65535, NULL,
	    4, 1, 0xff, 0xff, 1, 2, 3, 4, -1);
	fill(s, 'u', 591);
	append(s, "", 1);
	s = add("socks4a", SOCKS_READY, "localhost", 80, NULL,
	    4, 1, 0, 80, 0, 0, 0, 1, 0, -1);
	append(s, "localhost", 10);
	s = add("socks4a user", SOCKS_READY, "db.internal", 5432, NULL,
	    4, 1, 0x15, 0x38, 0, 0, 0, 0xff, 'b', 'o', 'b', 0, -1);
	append(s, "db.internal", 12);
	s = add("socks4a host 255", SOCKS_READY, long255, 22, NULL,
	    4, 1, 0, 22, 0, 0, 0, 9, 'x', 0, -1);
	append(s, long255, 256);
	s = add("socks5 ipv4", SOCKS_READY, "192.168.1.2", 443, NULL,
	    5, 1, 0, 5, 1, 0, 1, 192, 168, 1, 2, 1, 0xbb, -1);
	answer(s, 5, 0, -1);
	s = add("socks5 domain", SOCKS_READY, "localhost", 8080, NULL,
	    5, 2, 2, 0, 5, 1, 0, 3, 9, -1);
	append(s, "localhost", 9);
	append(s, "\x1f\x90", 2);
	answer(s, 5, 0, -1);
	s = add("socks5 domain 255", SOCKS_READY, long255, 1, NULL,
	    5, 3, 1, 2, 0, 5, 1, 0, 3, 255, -1);
	append(s, long255, 255);
	append(s, "\0\1", 2);
	answer(s, 5, 0, -1);
	s = add("socks5 domain 1", SOCKS_READY, "h", 2, NULL,
	    5, 1, 0, 5, 1, 0, 3, 1, 'h', 0, 2, -1);
	answer(s, 5, 0, -1);
	s = add("socks5 ipv6 loopback", SOCKS_READY, "::1", 22, NULL,
	    5, 1, 0, 5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 1, 0, 22, -1);
	answer(s, 5, 0, -1);
	s = add("socks5 ipv6", SOCKS_READY, "2001:db8::a:1", 80, NULL,
	    5, 1, 0, 5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0x0a, 0, 1, 0, 80, -1);
	answer(s, 5, 0, -1);
	s = add("socks5 255 methods", SOCKS_READY, "10.1.1.1", 3, NULL,
	    5, 255, -1);
	fill(s, 2, 254);
	append(s, "\0\5\1\0\1\12\1\1\1\0\3", 11);
	answer(s, 5, 0, -1);
}

static void
bad_samples(void)
{
	struct sample	*s;

	add("version 6", SOCKS_ERROR, NULL, 0, "first byte 0x06", 6, -1);
	add("http", SOCKS_ERROR, NULL, 0, "not a SOCKS4 or SOCKS5",
	    'C', -1);
	add("version 0", SOCKS_ERROR, NULL, 0, "first byte 0x00", 0, -1);
	s = add("socks5 no noauth", SOCKS_ERROR, NULL, 0, "no method",
	    5, 2, 1, 2, -1);
	answer(s, 5, 0xff, -1);
	s = add("socks5 no methods", SOCKS_ERROR, NULL, 0, "no method",
	    5, 0, -1);
	answer(s, 5, 0xff, -1);
	bad5("socks5 bind", "command 2", 7, 5, 1, 0, 5, 2, 0, 1, -1);
	bad5("socks5 udp", "command 3", 7, 5, 1, 0, 5, 3, 0, 1, -1);
	bad5("socks5 atyp 2", "address type 2", 8, 5, 1, 0, 5, 1, 0, 2, -1);
	bad5("socks5 empty domain", "empty host", 1,
	    5, 1, 0, 5, 1, 0, 3, 0, -1);
	bad5("socks5 NUL in domain", "NUL in host", 1,
	    5, 1, 0, 5, 1, 0, 3, 4, 'a', 'b', 0, -1);
	bad5("socks5 request version", "bad request", 1,
	    5, 1, 0, 4, 1, 0, 1, -1);
	bad5("socks5 reserved", "bad request", 1, 5, 1, 0, 5, 1, 1, 1, -1);
	bad5("socks5 port 0", "port 0", 1,
	    5, 1, 0, 5, 1, 0, 3, 1, 'h', 0, 0, -1);
	bad4("socks4 bind", "command 2", 4, 2, 0, 80, 10, 0, 0, 1, -1);
	bad4("socks4 port 0", "port 0", 4, 1, 0, 0, 10, 0, 0, 1, -1);
	s = bad4("socks4 user 592", "user id longer",
	    4, 1, 0, 80, 10, 0, 0, 1, -1);
	fill(s, 'u', 592);
	s = bad4("socks4a host 256", "longer than 255",
	    4, 1, 0, 80, 0, 0, 0, 1, 0, -1);
	fill(s, 'h', 256);
	s = bad4("socks4a request 600", "request longer than 600",
	    4, 1, 0, 80, 0, 0, 0, 1, -1);
	fill(s, 'u', 400);
	append(s, "", 1);
	fill(s, 'h', 191);
	bad4("socks4a empty host", "empty host",
	    4, 1, 0, 80, 0, 0, 0, 1, 'u', 0, 0, -1);
}

/*
 * Feed the sample and DATA after it in pieces that end at cuts[] (the
 * last one the whole length); check what comes out against the sample.
 */
static void
run(const struct sample *x, const size_t *cuts, size_t ncuts)
{
	struct socks	 s;
	uint8_t		 in[sizeof x->in + sizeof DATA], out[SOCKS_OUT_MAX];
	uint8_t		 all[4 * SOCKS_OUT_MAX];
	size_t		 len = x->len + strlen(DATA), at = 0, used, outlen;
	size_t		 alllen = 0, i;
	char		 why[256] = "";
	int		 rc = SOCKS_MORE;

	memcpy(in, x->in, x->len);
	memcpy(in + x->len, DATA, strlen(DATA));
	socks_init(&s);
	for (i = 0; i < ncuts && rc == SOCKS_MORE; i++) {
		assert_true(cuts[i] >= at && cuts[i] <= len);
		memset(out, 0xee, sizeof out);
		outlen = 99;
		rc = socks_feed(&s, in + at, cuts[i] - at, &used, out, &outlen,
		    why, sizeof why);
		assert_true(used <= cuts[i] - at);
		assert_true(outlen <= SOCKS_OUT_MAX);
		if (rc == SOCKS_MORE)
			assert_int_equal(used, cuts[i] - at);
		memcpy(all + alllen, out, outlen);
		alllen += outlen;
		at += used;
	}
	if (rc != x->rc)
		fail_msg("%s: rc %d, want %d (%s)", x->name, rc, x->rc, why);
	/* Just the request: the data after it is the connection's. */
	assert_int_equal(at, x->len);
	assert_int_equal(alllen, x->outlen);
	assert_memory_equal(all, x->out, alllen);
	if (rc == SOCKS_READY) {
		assert_string_equal(s.host, x->host);
		assert_int_equal(s.port, x->port);
		assert_int_equal(s.version, x->in[0]);
	} else if (strstr(why, x->why) == NULL)
		fail_msg("%s: why '%s', want '%s'", x->name, why, x->why);

	/* Done: a feed after it takes nothing and says the same. */
	rc = socks_feed(&s, in, len, &used, out, &outlen, why, sizeof why);
	assert_int_equal(rc, x->rc);
	assert_int_equal(used, 0);
	assert_int_equal(outlen, 0);
}

static void
test_whole(void **state)
{
	size_t	i, cut;

	(void)state;
	for (i = 0; i < nsamples; i++) {
		cut = samples[i].len + strlen(DATA);
		run(&samples[i], &cut, 1);
	}
}

/* Two pieces, cut at every point of the request and the data. */
static void
test_splits(void **state)
{
	size_t	i, k, cuts[2];

	(void)state;
	for (i = 0; i < nsamples; i++) {
		cuts[1] = samples[i].len + strlen(DATA);
		for (k = 0; k <= cuts[1]; k++) {
			cuts[0] = k;
			run(&samples[i], cuts, 2);
		}
	}
}

/* One byte at a time, and three pieces around every pair of points. */
static void
test_bytes(void **state)
{
	size_t	 i, k, n, cuts[sizeof samples[0].in + sizeof DATA];

	(void)state;
	for (i = 0; i < nsamples; i++) {
		n = samples[i].len + strlen(DATA);
		for (k = 0; k < n; k++)
			cuts[k] = k + 1;
		run(&samples[i], cuts, n);
	}
}

static void
test_three(void **state)
{
	size_t	i, j, k, n, cuts[3];

	(void)state;
	for (i = 0; i < nsamples; i++) {
		if ((n = samples[i].len) > 40)
			continue;
		cuts[2] = n + strlen(DATA);
		for (j = 0; j <= n; j++) {
			for (k = j; k <= n; k++) {
				cuts[0] = j;
				cuts[1] = k;
				run(&samples[i], cuts, 3);
			}
		}
	}
}

/* Cut short anywhere: more wanted, every byte taken, nothing ready. */
static void
test_truncated(void **state)
{
	struct socks	 s;
	uint8_t		 out[SOCKS_OUT_MAX];
	size_t		 i, k, used, outlen;
	char		 why[256];
	int		 rc;

	(void)state;
	for (i = 0; i < nsamples; i++) {
		if (samples[i].rc != SOCKS_READY)
			continue;
		for (k = 0; k < samples[i].len; k++) {
			socks_init(&s);
			rc = socks_feed(&s, samples[i].in, k, &used, out,
			    &outlen, why, sizeof why);
			assert_int_equal(rc, SOCKS_MORE);
			assert_int_equal(used, k);
			assert_string_equal(s.host, "");
		}
	}
}

static void
reply(int version, int err, const uint8_t *want, size_t wantlen)
{
	struct socks	 s;
	uint8_t		 out[SOCKS_OUT_MAX];
	const uint8_t	 v4[] = { 4, 1, 0, 80, 10, 0, 0, 1, 0 };
	const uint8_t	 v5[] = { 5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, 0, 80 };
	size_t		 used, outlen;
	char		 why[256];

	socks_init(&s);
	if (version == 4)
		assert_int_equal(socks_feed(&s, v4, sizeof v4, &used, out,
		    &outlen, why, sizeof why), SOCKS_READY);
	else
		assert_int_equal(socks_feed(&s, v5, sizeof v5, &used, out,
		    &outlen, why, sizeof why), SOCKS_READY);
	memset(out, 0xee, sizeof out);
	assert_int_equal(socks_reply(&s, err, out), wantlen);
	assert_memory_equal(out, want, wantlen);
}

static void
test_reply(void **state)
{
	static const struct {
		int	err;
		uint8_t	code5;
		uint8_t	code4;
	} map[] = {
		{ 0, 0x00, 0x5a },
		{ ECONNREFUSED, 0x05, 0x5b },
		{ EHOSTUNREACH, 0x04, 0x5b },
		{ ENETUNREACH, 0x03, 0x5b },
		{ ETIMEDOUT, 0x01, 0x5b },
		{ ENOENT, 0x01, 0x5b },
		{ EACCES, 0x01, 0x5b },
	};
	struct socks	 s;
	uint8_t		 want[10], out[SOCKS_OUT_MAX];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof map / sizeof map[0]; i++) {
		memset(want, 0, sizeof want);
		want[1] = map[i].code4;
		reply(4, map[i].err, want, 8);
		memset(want, 0, sizeof want);
		want[0] = 5;
		want[1] = map[i].code5;
		want[3] = 1;
		reply(5, map[i].err, want, 10);
	}
	/* No version yet: nothing to answer with. */
	socks_init(&s);
	assert_int_equal(socks_reply(&s, 0, out), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_splits),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_three),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_reply),
	};

	good_samples();
	bad_samples();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
