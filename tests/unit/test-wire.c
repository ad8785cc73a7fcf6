/*
 * Unit tests for the frame header codec (wire.c) and payload packing
 * (pack.c).  Decoders are fed inputs placed at the very end of a page whose
 * next page is PROT_NONE, so any read past the input faults here even
 * without a sanitizer.
 */
#include <sys/mman.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "router.h"

/* --- guarded buffers ------------------------------------------------- */

struct guard {
	uint8_t	*map;
	size_t	 maplen;
	uint8_t	*data;	/* n bytes ending exactly at the guard page */
};

static void
guard_new(struct guard *g, const void *p, size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t datapages = (n + pg - 1) / pg;

	if (datapages == 0)
		datapages = 1;
	g->maplen = (datapages + 1) * pg;
	g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->map != MAP_FAILED);
	assert_int_equal(mprotect(g->map + datapages * pg, pg, PROT_NONE), 0);
	g->data = g->map + datapages * pg - n;
	if (n != 0)
		memcpy(g->data, p, n);
}

static void
guard_free(struct guard *g)
{
	munmap(g->map, g->maplen);
}

/* --- header ---------------------------------------------------------- */

static void
test_hdr_layout(void **state)
{
	struct spn_hdr h = { .kind = SPN_K_CALL, .dst = 0x01020304,
	    .src = 0x05060708, .handle = 0x090a0b0c, .reply_to = 0x0d0e0f10,
	    .len = 0x00000011 };
	static const uint8_t want[SPN_HDR_LEN] = {
		0x53, 0x4e, SPN_VERSION, SPN_K_CALL,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
		0x00, 0x00, 0x00, 0x11,
	};
	uint8_t b[SPN_HDR_LEN];

	(void)state;
	wire_put_hdr(b, &h);
	assert_memory_equal(b, want, sizeof want);
}

static void
test_hdr_roundtrip(void **state)
{
	uint32_t vals[] = { 1, 2, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000,
	    0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff };
	size_t nv = sizeof vals / sizeof vals[0];
	struct spn_hdr h, g;
	uint8_t b[SPN_HDR_LEN];
	char why[128];
	struct guard gd;

	(void)state;
	srandom(12345);
	for (int kind = 1; kind <= SPN_K_MAX; kind++) {
		for (size_t i = 0; i < 200; i++) {
			h.kind = kind;
			h.dst = vals[(i + 0) % nv] ^ (random() & 0xff00);
			h.src = vals[(i + 3) % nv];
			h.handle = vals[(i + 5) % nv] ^ (uint32_t)random();
			h.reply_to = i % 7 == 0 ? 0 : (uint32_t)random();
			h.len = (uint32_t)random() % (SPN_MAX_FRAME_HARD + 1);
			if (h.dst == 0)
				h.dst = 1;
			wire_put_hdr(b, &h);
			guard_new(&gd, b, sizeof b);
			memset(&g, 0xa5, sizeof g);
			why[0] = '\0';
			assert_int_equal(wire_get_hdr(gd.data, &g,
			    SPN_MAX_FRAME_HARD, why, sizeof why), 0);
			guard_free(&gd);
			assert_int_equal(g.kind, h.kind);
			assert_int_equal(g.dst, h.dst);
			assert_int_equal(g.src, h.src);
			assert_int_equal(g.handle, h.handle);
			assert_int_equal(g.reply_to, h.reply_to);
			assert_int_equal(g.len, h.len);
		}
	}
}

/* Decode b and require failure with a reason containing `want`. */
static void
expect_reject(const uint8_t *b, uint32_t max, const char *want)
{
	struct spn_hdr h;
	char why[128];

	memset(why, 0, sizeof why);
	assert_int_equal(wire_get_hdr(b, &h, max, why, sizeof why), -1);
	if (strstr(why, want) == NULL)
		fail_msg("reason \"%s\" does not mention \"%s\"", why, want);
}

static void
good_hdr(uint8_t *b)
{
	struct spn_hdr h = { .kind = SPN_K_DATA, .dst = 2, .src = 1,
	    .handle = 1024, .reply_to = 1025, .len = 100 };

	wire_put_hdr(b, &h);
}

static void
test_hdr_reject(void **state)
{
	uint8_t b[SPN_HDR_LEN];
	struct spn_hdr h;
	char why[128];

	(void)state;
	good_hdr(b);
	assert_int_equal(wire_get_hdr(b, &h, 1000, why, sizeof why), 0);

	/* Magic: both bytes matter. */
	good_hdr(b);
	b[0] = 'X';
	expect_reject(b, 1000, "bad magic 0x584e");
	good_hdr(b);
	b[1] ^= 1;
	expect_reject(b, 1000, "bad magic");
	good_hdr(b);
	b[0] = b[1] = 0;
	expect_reject(b, 1000, "bad magic 0x0000");

	/* Version. */
	good_hdr(b);
	b[2] = SPN_VERSION + 1;
	expect_reject(b, 1000, "unsupported version 2");
	good_hdr(b);
	b[2] = 0;
	expect_reject(b, 1000, "unsupported version 0");

	/* Kind: 0 and anything past SPN_K_MAX. */
	good_hdr(b);
	b[3] = 0;
	expect_reject(b, 1000, "unknown frame kind 0");
	for (int k = SPN_K_MAX + 1; k <= 255; k++) {
		good_hdr(b);
		b[3] = k;
		expect_reject(b, 1000, "unknown frame kind");
	}
	good_hdr(b);
	b[3] = SPN_K_MAX;
	assert_int_equal(wire_get_hdr(b, &h, 1000, why, sizeof why), 0);

	/* Length: max is allowed, max + 1 is not, nor is 0xffffffff. */
	h = (struct spn_hdr){ .kind = SPN_K_CALL, .dst = 2, .src = 1,
	    .len = 1000 };
	wire_put_hdr(b, &h);
	assert_int_equal(wire_get_hdr(b, &h, 1000, why, sizeof why), 0);
	assert_int_equal(h.len, 1000);
	h.len = 1001;
	wire_put_hdr(b, &h);
	expect_reject(b, 1000, "frame of 1001 bytes exceeds limit 1000");
	h.len = 0xffffffff;
	wire_put_hdr(b, &h);
	expect_reject(b, SPN_MAX_FRAME_HARD, "exceeds limit");
	h.len = 0;
	wire_put_hdr(b, &h);
	assert_int_equal(wire_get_hdr(b, &h, 0, why, sizeof why), 0);

	/* Context ids: neither end may be 0. */
	h = (struct spn_hdr){ .kind = SPN_K_CALL, .dst = 0, .src = 1 };
	wire_put_hdr(b, &h);
	expect_reject(b, 1000, "zero context id (src 1 dst 0)");
	h = (struct spn_hdr){ .kind = SPN_K_CALL, .dst = 5, .src = 0 };
	wire_put_hdr(b, &h);
	expect_reject(b, 1000, "zero context id (src 0 dst 5)");

	/* A tiny reason buffer is truncated, never overrun. */
	good_hdr(b);
	b[0] = 0;
	memset(why, 'Z', sizeof why);
	assert_int_equal(wire_get_hdr(b, &h, 1000, why, 4), -1);
	assert_int_equal(why[3], '\0');
	assert_int_equal(why[4], 'Z');
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(wire_kind_name(SPN_K_CALL), "CALL");
	assert_string_equal(wire_kind_name(SPN_K_ROUTE_DEL), "ROUTE_DEL");
	assert_string_equal(wire_kind_name(SPN_K_KEEPALIVE_ACK),
	    "KEEPALIVE_ACK");
	assert_string_equal(wire_kind_name(0), "?");
	assert_string_equal(wire_kind_name(SPN_K_MAX + 1), "?");
	assert_string_equal(wire_kind_name(255), "?");
	for (int k = 1; k <= SPN_K_MAX; k++)
		assert_string_not_equal(wire_kind_name(k), "?");
	assert_string_equal(wire_dead_name(SPN_D_NO_ROUTE), "no route");
	assert_string_equal(wire_dead_name(SPN_D_LOST), "context lost");
	assert_string_equal(wire_dead_name(0), "unknown reason");
	assert_string_equal(wire_dead_name(999), "unknown reason");
}

/* --- packing --------------------------------------------------------- */

static void
test_pack_layout(void **state)
{
	char *v[] = { "ab", "", "c", NULL };
	static const uint8_t want[] = {
		0xde, 0xad, 0xbe, 0xef,			/* u32 */
		0, 0, 0, 3, 'x', 'y', 'z',		/* str */
		0, 0, 0, 0,				/* NULL str */
		0, 0, 0, 3,				/* strv count */
		0, 0, 0, 2, 'a', 'b',
		0, 0, 0, 0,
		0, 0, 0, 1, 'c',
		0, 0, 0, 0,				/* NULL strv */
	};
	struct pk pk;

	(void)state;
	pk_init(&pk);
	assert_int_equal(pk.len, 0);
	pk_u32(&pk, 0xdeadbeef);
	pk_str(&pk, "xyz");
	pk_str(&pk, NULL);
	pk_strv(&pk, v);
	pk_strv(&pk, NULL);
	assert_int_equal(pk.len, sizeof want);
	assert_memory_equal(pk.buf, want, sizeof want);
	pk_free(&pk);
	assert_null(pk.buf);
	assert_int_equal(pk.len, 0);
}

static void
test_pack_roundtrip(void **state)
{
	uint32_t nums[] = { 0, 1, 0x7f, 0x80, 0xffff, 0x10000, 0x80000000,
	    0xffffffff };
	char *big = xmalloc(100001), **sv, **got;
	struct pk pk;
	struct upk u;
	struct guard g;
	char *s;

	(void)state;
	memset(big, 'q', 100000);
	big[100000] = '\0';
	sv = xcalloc(1001, sizeof *sv);
	for (int i = 0; i < 1000; i++)
		sv[i] = xprintf("arg-%d-%.*s", i, i % 50, big);

	pk_init(&pk);
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
		pk_u32(&pk, nums[i]);
	pk_str(&pk, "");
	pk_str(&pk, "hello, world");
	pk_str(&pk, "\xff\x01 binary but no NUL \x80");
	pk_str(&pk, big);
	pk_strv(&pk, sv);
	pk_strv(&pk, (char *[]){ NULL });
	pk_u32(&pk, 42);

	guard_new(&g, pk.buf, pk.len);
	upk_init(&u, g.data, pk.len);
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
		assert_int_equal(upk_u32(&u), nums[i]);
	s = upk_str(&u);
	assert_string_equal(s, "");
	free(s);
	s = upk_str(&u);
	assert_string_equal(s, "hello, world");
	free(s);
	s = upk_str(&u);
	assert_string_equal(s, "\xff\x01 binary but no NUL \x80");
	free(s);
	s = upk_str(&u);
	assert_non_null(s);
	assert_int_equal(strlen(s), 100000);
	assert_string_equal(s, big);
	free(s);
	got = upk_strv(&u);
	assert_non_null(got);
	for (int i = 0; i < 1000; i++)
		assert_string_equal(got[i], sv[i]);
	assert_null(got[1000]);
	strv_free(got);
	got = upk_strv(&u);
	assert_non_null(got);
	assert_null(got[0]);
	strv_free(got);
	assert_int_equal(upk_u32(&u), 42);
	assert_int_equal(u.err, 0);
	assert_int_equal(u.left, 0);
	/* Reading past the end fails and stays failed. */
	assert_int_equal(upk_u32(&u), 0);
	assert_int_equal(u.err, 1);
	guard_free(&g);

	pk_free(&pk);
	strv_free(sv);
	free(big);
}

/*
 * Every strict prefix of a valid encoding must fail to decode the whole
 * sequence, never read past the prefix, and leave err set.
 */
static void
test_upk_truncated(void **state)
{
	char *v[] = { "one", "two", "three", "", NULL };
	struct pk pk;
	struct upk u;
	struct guard g;
	char *s;
	char **sv;

	(void)state;
	pk_init(&pk);
	pk_u32(&pk, 7);
	pk_str(&pk, "a string");
	pk_strv(&pk, v);
	for (size_t n = 0; n < pk.len; n++) {
		guard_new(&g, pk.buf, n);
		upk_init(&u, g.data, n);
		upk_u32(&u);
		s = upk_str(&u);
		sv = upk_strv(&u);
		assert_int_equal(u.err, 1);
		assert_null(sv);
		if (n < 4 + 4 + 8)
			assert_null(s);
		free(s);
		guard_free(&g);
	}
	/* The full buffer decodes. */
	guard_new(&g, pk.buf, pk.len);
	upk_init(&u, g.data, pk.len);
	assert_int_equal(upk_u32(&u), 7);
	s = upk_str(&u);
	sv = upk_strv(&u);
	assert_int_equal(u.err, 0);
	assert_string_equal(s, "a string");
	assert_string_equal(sv[2], "three");
	assert_string_equal(sv[3], "");
	assert_null(sv[4]);
	free(s);
	strv_free(sv);
	guard_free(&g);
	pk_free(&pk);

	/* An empty input. */
	guard_new(&g, NULL, 0);
	upk_init(&u, g.data, 0);
	assert_null(upk_str(&u));
	assert_int_equal(u.err, 1);
	upk_init(&u, g.data, 0);
	assert_null(upk_strv(&u));
	assert_int_equal(u.err, 1);
	guard_free(&g);
}

static void
test_upk_embedded_nul(void **state)
{
	static const uint8_t b1[] = { 0, 0, 0, 4, 'a', 'b', 0, 'c' };
	static const uint8_t b2[] = { 0, 0, 0, 1, 0 };
	static const uint8_t b3[] = { 0, 0, 0, 3, 'x', 'y', 0 };
	static const uint8_t b4[] = { 0, 0, 0, 2, 0, 0, 0, 2, 'o', 'k',
	    0, 0, 0, 2, 'n', 0 };
	const struct { const uint8_t *p; size_t n; int strv; } cases[] = {
		{ b1, sizeof b1, 0 }, { b2, sizeof b2, 0 },
		{ b3, sizeof b3, 0 }, { b4, sizeof b4, 1 },
	};
	struct upk u;
	struct guard g;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		guard_new(&g, cases[i].p, cases[i].n);
		upk_init(&u, g.data, cases[i].n);
		if (cases[i].strv)
			assert_null(upk_strv(&u));
		else
			assert_null(upk_str(&u));
		assert_int_equal(u.err, 1);
		/* Later reads fail too. */
		assert_int_equal(upk_u32(&u), 0);
		assert_int_equal(u.err, 1);
		guard_free(&g);
	}
}

static void
test_upk_absurd(void **state)
{
	static const uint8_t huge_str[] = { 0xff, 0xff, 0xff, 0xff, 'a' };
	static const uint8_t long_str[] = { 0, 0, 0, 9, 'a', 'b', 'c' };
	static const uint8_t huge_cnt[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0,
	    0 };
	static const uint8_t many_cnt[] = { 0, 0, 3, 0xe8, 0, 0, 0, 0 };
	static const uint8_t two_cnt[] = { 0, 0, 0, 2, 0, 0, 0, 0 };
	struct upk u;
	struct guard g;
	uint8_t *b;
	size_t n;

	(void)state;
	guard_new(&g, huge_str, sizeof huge_str);
	upk_init(&u, g.data, sizeof huge_str);
	assert_null(upk_str(&u));
	assert_int_equal(u.err, 1);
	guard_free(&g);

	guard_new(&g, long_str, sizeof long_str);
	upk_init(&u, g.data, sizeof long_str);
	assert_null(upk_str(&u));
	assert_int_equal(u.err, 1);
	guard_free(&g);

	guard_new(&g, huge_cnt, sizeof huge_cnt);
	upk_init(&u, g.data, sizeof huge_cnt);
	assert_null(upk_strv(&u));
	assert_int_equal(u.err, 1);
	guard_free(&g);

	/* 1000 strings announced, one present. */
	guard_new(&g, many_cnt, sizeof many_cnt);
	upk_init(&u, g.data, sizeof many_cnt);
	assert_null(upk_strv(&u));
	assert_int_equal(u.err, 1);
	guard_free(&g);

	/* Two announced, one present: fails on the second string. */
	guard_new(&g, two_cnt, sizeof two_cnt);
	upk_init(&u, g.data, sizeof two_cnt);
	assert_null(upk_strv(&u));
	assert_int_equal(u.err, 1);
	guard_free(&g);

	/* 65537 empty strings: every one would fit, but the count is capped. */
	n = 4 + 65537 * 4;
	b = xcalloc(1, n);
	b[0] = 0;
	b[1] = 1;
	b[2] = 0;
	b[3] = 1;
	guard_new(&g, b, n);
	upk_init(&u, g.data, n);
	assert_null(upk_strv(&u));
	assert_int_equal(u.err, 1);
	guard_free(&g);
	/* 65536 is the cap itself and decodes. */
	b[1] = 1;
	b[3] = 0;
	guard_new(&g, b, n - 4);
	upk_init(&u, g.data, n - 4);
	{
		char **v = upk_strv(&u);

		assert_non_null(v);
		assert_int_equal(u.err, 0);
		assert_int_equal(u.left, 0);
		assert_string_equal(v[65535], "");
		assert_null(v[65536]);
		strv_free(v);
	}
	guard_free(&g);
	free(b);
}

/* Arbitrary bytes at every offset: decoders never fault, never overread. */
static void
test_upk_random(void **state)
{
	uint8_t buf[256];
	struct upk u;
	struct guard g;
	char *s;
	char **v;

	(void)state;
	srandom(777);
	for (int iter = 0; iter < 3000; iter++) {
		size_t n = (size_t)random() % sizeof buf;

		for (size_t i = 0; i < n; i++) {
			/* Mostly small numbers, so lengths sometimes fit. */
			buf[i] = random() % 4 == 0 ? (uint8_t)random() :
			    (uint8_t)(random() % 6);
		}
		guard_new(&g, buf, n);
		for (size_t off = 0; off <= n; off++) {
			upk_init(&u, g.data + off, n - off);
			while (!u.err) {
				switch (random() % 3) {
				case 0:
					upk_u32(&u);
					break;
				case 1:
					free(upk_str(&u));
					break;
				case 2:
					strv_free(upk_strv(&u));
					break;
				}
			}
			upk_init(&u, g.data + off, n - off);
			s = upk_str(&u);
			assert_true((s == NULL) == (u.err != 0));
			free(s);
			upk_init(&u, g.data + off, n - off);
			v = upk_strv(&u);
			assert_true((v == NULL) == (u.err != 0));
			strv_free(v);
		}
		guard_free(&g);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_layout),
		cmocka_unit_test(test_hdr_roundtrip),
		cmocka_unit_test(test_hdr_reject),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_pack_layout),
		cmocka_unit_test(test_pack_roundtrip),
		cmocka_unit_test(test_upk_truncated),
		cmocka_unit_test(test_upk_embedded_nul),
		cmocka_unit_test(test_upk_absurd),
		cmocka_unit_test(test_upk_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
