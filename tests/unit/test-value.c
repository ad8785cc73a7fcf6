/*
 * Unit tests for value.c and callmsg.c: every type letter round trips,
 * nested values, the limits, and hostile payloads (LIBRARY.md finding 6)
 * rejected before anything is allocated.  The test is linked with
 * --wrap=malloc,realloc,calloc so it sees every allocation the decoder
 * makes.
 */
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api.h"

void	*__real_malloc(size_t);
void	*__real_realloc(void *, size_t);
void	*__real_calloc(size_t, size_t);

static int	 counting;
static size_t	 nalloc;
static size_t	 maxalloc;

static void
counted(size_t n)
{
	if (!counting)
		return;
	nalloc++;
	if (n > maxalloc)
		maxalloc = n;
}

void *
__wrap_malloc(size_t n)
{
	counted(n);
	return __real_malloc(n);
}

void *
__wrap_realloc(void *p, size_t n)
{
	counted(n);
	return __real_realloc(p, n);
}

void *
__wrap_calloc(size_t k, size_t n)
{
	counted(k * n);
	return __real_calloc(k, n);
}

/* Decode with the allocations counted. */
static int
decode(const void *b, size_t len, struct spn_msg **m, char *why,
    size_t whylen)
{
	int	 rc;

	nalloc = maxalloc = 0;
	counting = 1;
	rc = value_decode(b, len, m, why, whylen);
	counting = 0;
	return rc;
}

static struct spn_msg *
decode_ok(const struct spn_vbuf *vb)
{
	const uint8_t	*d;
	size_t		 len;
	struct spn_msg	*m;
	char		 why[256] = "";

	d = vbuf_data(vb, &len);
	if (decode(d, len, &m, why, sizeof why) != 0)
		fail_msg("decode: %s", why);
	/* One allocation, bounded by the payload. */
	assert_int_equal(nalloc, 1);
	assert_true(maxalloc <= 64 + 18 * len);
	return m;
}

/* The vbuf's bytes, decoded and encoded again (v), are the same. */
static void
reencode_same(const struct spn_vbuf *vb, const struct spn_value *v)
{
	struct spn_vbuf	*again = vbuf_new();
	const uint8_t	*a, *b;
	size_t		 alen, blen;

	assert_int_equal(spn_vbuf_put(again, "v", v), SPN_OK);
	a = vbuf_data(vb, &alen);
	b = vbuf_data(again, &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	vbuf_free(again);
}

static void
test_letters(void **state)
{
	struct spn_vbuf		*vb = vbuf_new();
	struct spn_msg		*m;
	const struct spn_value	*v, *a;
	char			 bin[300];
	const char		*s;
	const void		*p;
	int64_t			 i;
	uint64_t		 u;
	double			 d;
	size_t			 len, n;
	int			 b;

	(void)state;
	for (size_t k = 0; k < sizeof bin; k++)
		bin[k] = (char)k;
	assert_int_equal(spn_vbuf_put(vb, "b, i, u, d, s, y, n", 1,
	    (int64_t)-5, (uint64_t)UINT64_MAX, 2.5, "h\xc3\xa9llo", bin,
	    sizeof bin), SPN_OK);
	assert_int_equal(spn_vbuf_put(vb, "biiiuddss", 0, INT64_MIN,
	    INT64_MAX, (int64_t)0, (uint64_t)7, -DBL_MAX, 0.0, "", "a\nb"),
	    SPN_OK);
	assert_int_equal(vbuf_values(vb, &n, NULL), 0);
	assert_int_equal(n, 16);

	/* Wrap as an array, as a call does, to use the shorthands. */
	{
		struct spn_vbuf	*arr = vbuf_new();

		assert_int_equal(spn_vbuf_array(arr, n), SPN_OK);
		assert_int_equal(vbuf_cat(arr, vb), SPN_OK);
		assert_int_equal(vbuf_values(arr, &n, NULL), 0);
		assert_int_equal(n, 1);
		vbuf_free(vb);
		vb = arr;
	}
	m = decode_ok(vb);
	a = spn_msg_value(m);
	assert_int_equal(spn_value_type(a), SPN_T_ARRAY);
	assert_int_equal(spn_value_len(a), 16);

	assert_int_equal(spn_arg_bool(a, 0), 1);
	assert_int_equal(spn_arg_int(a, 1), -5);
	v = spn_value_at(a, 2);
	assert_int_equal(spn_value_type(v), SPN_T_UINT);
	assert_int_equal(spn_value_uint(v, &u), SPN_OK);
	assert_true(u == UINT64_MAX);
	assert_int_equal(spn_value_int(v, &i), SPN_EINVAL);
	assert_true(spn_arg_double(a, 3) == 2.5);
	s = spn_value_str(spn_value_at(a, 4), &len);
	assert_string_equal(s, "h\xc3\xa9llo");
	assert_int_equal(len, 6);
	p = spn_arg_bytes(a, 5, &len);
	assert_int_equal(len, sizeof bin);
	assert_memory_equal(p, bin, sizeof bin);
	assert_int_equal(spn_value_type(spn_value_at(a, 6)), SPN_T_NIL);
	assert_int_equal(spn_value_bool(spn_value_at(a, 7), &b), SPN_OK);
	assert_int_equal(b, 0);
	assert_true(spn_arg_int(a, 8) == INT64_MIN);
	assert_true(spn_arg_int(a, 9) == INT64_MAX);
	assert_int_equal(spn_arg_int(a, 10), 0);
	/* u as small numbers is an int on the wire; uint accessors take it. */
	assert_int_equal(spn_value_type(spn_value_at(a, 11)), SPN_T_INT);
	assert_int_equal(spn_arg_uint(a, 11), 7);
	assert_int_equal(spn_value_double(spn_value_at(a, 12), &d), SPN_OK);
	assert_true(d == -DBL_MAX);
	assert_true(spn_arg_double(a, 13) == 0.0);
	assert_string_equal(spn_arg_str(a, 14), "");
	assert_string_equal(spn_arg_str(a, 15), "a\nb");

	/* Wrong types and absent elements: 0 or NULL. */
	assert_null(spn_arg_str(a, 1));
	assert_null(spn_arg_str(a, 16));
	assert_int_equal(spn_arg_int(a, 4), 0);
	assert_int_equal(spn_arg_uint(a, 1), 0);
	assert_null(spn_value_at(a, 99));
	assert_int_equal(spn_value_type(NULL), -1);
	assert_int_equal(spn_value_len(spn_value_at(a, 4)), 0);

	reencode_same(vb, a);
	spn_msg_free(m);
	vbuf_free(vb);
}

/* Every integer width and float32 that other encoders produce. */
static void
test_foreign_numbers(void **state)
{
	static const uint8_t	 in[] = {
		0xdc, 0x00, 0x10,
		0xcc, 0xff, 0xcd, 0xff, 0xff, 0xce, 0xff, 0xff, 0xff, 0xff,
		0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0,
		0xd0, 0x80, 0xd1, 0x80, 0x00, 0xd2, 0x80, 0, 0, 0,
		0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
		0xca, 0x3f, 0xc0, 0x00, 0x00,	/* 1.5f */
		0xe0, 0x7f,
		0xd9, 0x01, 'x', 0xda, 0x00, 0x00, 0xc4, 0x00,
		0x80, 0x90,
	};
	struct spn_msg		*m;
	const struct spn_value	*a;
	char			 why[256];

	(void)state;
	assert_int_equal(decode(in, sizeof in, &m, why, sizeof why), 0);
	a = spn_msg_value(m);
	assert_int_equal(spn_value_len(a), 16);
	assert_int_equal(spn_arg_int(a, 0), 255);
	assert_int_equal(spn_arg_int(a, 1), 65535);
	assert_int_equal(spn_arg_int(a, 2), 4294967295LL);
	assert_true(spn_arg_uint(a, 3) == 1ULL << 63);
	assert_int_equal(spn_arg_int(a, 4), -128);
	assert_int_equal(spn_arg_int(a, 5), -32768);
	assert_true(spn_arg_int(a, 6) == INT32_MIN);
	assert_int_equal(spn_arg_int(a, 7), -2);
	assert_true(spn_arg_double(a, 8) == 1.5);
	assert_int_equal(spn_arg_int(a, 9), -32);
	assert_int_equal(spn_arg_int(a, 10), 127);
	assert_string_equal(spn_arg_str(a, 11), "x");
	assert_string_equal(spn_arg_str(a, 12), "");
	assert_non_null(spn_arg_bytes(a, 13, NULL));
	spn_msg_free(m);
}

static void
test_nested(void **state)
{
	struct spn_vbuf		*vb = vbuf_new(), *copy = vbuf_new();
	struct spn_msg		*m, *m2;
	const struct spn_value	*root, *x, *map;
	size_t			 n;
	int			 depth;
	char			 why[256];

	(void)state;
	/* [ "a", [1, 2], {"k": "v", "n": nil, "y": bytes}, [], {} ] */
	assert_int_equal(spn_vbuf_put(vb, "[s[ii]{sssnsy}[]{}]", "a",
	    (int64_t)1, (int64_t)2, "k", "v", "n", "y", "xyz", (size_t)3),
	    SPN_OK);
	/* A list built at run time: 100 strings. */
	assert_int_equal(spn_vbuf_array(vb, 100), SPN_OK);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(vbuf_values(vb, &n, NULL), -1);
		assert_int_equal(spn_vbuf_put(vb, "s", "item"), SPN_OK);
	}
	assert_int_equal(vbuf_values(vb, &n, &depth), 0);
	assert_int_equal(n, 2);
	assert_int_equal(depth, 2);

	assert_int_equal(spn_vbuf_array(copy, 2), SPN_OK);
	assert_int_equal(vbuf_cat(copy, vb), SPN_OK);
	m = decode_ok(copy);
	root = spn_msg_value(m);
	x = spn_value_at(root, 0);
	assert_int_equal(spn_value_len(x), 5);
	assert_string_equal(spn_arg_str(x, 0), "a");
	assert_int_equal(spn_arg_int(spn_value_at(x, 1), 1), 2);
	map = spn_value_at(x, 2);
	assert_int_equal(spn_value_type(map), SPN_T_MAP);
	assert_int_equal(spn_value_len(map), 3);
	assert_string_equal(spn_value_str(spn_value_key(map, 0), NULL), "k");
	assert_string_equal(spn_value_str(spn_value_at(map, 0), NULL), "v");
	assert_string_equal(spn_value_str(spn_value_get(map, "k"), NULL),
	    "v");
	assert_int_equal(spn_value_type(spn_value_get(map, "n")), SPN_T_NIL);
	assert_non_null(spn_value_bytes(spn_value_get(map, "y"), &n));
	assert_int_equal(n, 3);
	assert_null(spn_value_get(map, "absent"));
	assert_null(spn_value_get(x, "k"));
	assert_null(spn_value_key(x, 0));
	assert_int_equal(spn_value_len(spn_value_at(x, 3)), 0);
	assert_int_equal(spn_value_type(spn_value_at(x, 4)), SPN_T_MAP);
	assert_int_equal(spn_value_len(spn_value_at(root, 1)), 100);
	assert_string_equal(spn_arg_str(spn_value_at(root, 1), 99), "item");

	/* Signatures with groups match what they wrote. */
	assert_int_equal(value_sig_match(root, "[s[ii]{sssnsy}[]{}],[v]",
	    why, sizeof why), -1);
	assert_int_equal(value_sig_match(root, "[s[ii]{sssnsy}[]{}] v", why,
	    sizeof why), 0);
	assert_int_equal(value_sig_match(root, "[s[iu]{svsvsv}[]{}]v->s", why,
	    sizeof why), 0);
	assert_int_equal(value_sig_match(root, "[s[ii]{sssnss}[]{}]v", why,
	    sizeof why), -1);
	assert_non_null(strstr(why, "expected s, got bytes"));

	/* v copies a nested value exactly. */
	assert_int_equal(spn_vbuf_put(vb, "v", x), SPN_OK);
	assert_int_equal(vbuf_values(vb, &n, NULL), 0);
	assert_int_equal(n, 3);
	{
		const uint8_t	*d;
		size_t		 len;

		vbuf_reset(copy);
		assert_int_equal(spn_vbuf_put(copy, "v", x), SPN_OK);
		d = vbuf_data(copy, &len);
		assert_int_equal(decode(d, len, &m2, why, sizeof why), 0);
		reencode_same(copy, spn_msg_value(m2));
		spn_msg_free(m2);
	}
	spn_msg_free(m);
	vbuf_free(copy);
	vbuf_free(vb);
}

static void
test_put_errors(void **state)
{
	struct spn_vbuf	*vb = vbuf_new();
	const uint8_t	*d;
	size_t		 len, n;
	int		 i;

	(void)state;
	assert_int_equal(spn_vbuf_put(vb, "s", "keep"), SPN_OK);
	d = vbuf_data(vb, &len);
	assert_int_equal(len, 5);
	/* All or nothing: the good letters before the bad one go too. */
	assert_int_equal(spn_vbuf_put(vb, "siq", "x", (int64_t)1),
	    SPN_EINVAL);
	assert_int_equal(spn_vbuf_put(vb, "i[s", (int64_t)1, "x"),
	    SPN_EINVAL);
	assert_int_equal(spn_vbuf_put(vb, "i]", (int64_t)1), SPN_EINVAL);
	assert_int_equal(spn_vbuf_put(vb, "{s}", "x"), SPN_EINVAL);
	assert_int_equal(spn_vbuf_put(vb, "is", (int64_t)1, NULL),
	    SPN_EINVAL);
	assert_int_equal(spn_vbuf_put(vb, "v", NULL), SPN_EINVAL);
	assert_int_equal(spn_vbuf_put(vb, "s->s", "x", "y"), SPN_EINVAL);
	d = vbuf_data(vb, &len);
	assert_int_equal(len, 5);
	assert_int_equal(vbuf_values(vb, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(d, "\xa4keep", 5);

	/* Inside an open array a failed put does not count either. */
	assert_int_equal(spn_vbuf_array(vb, 2), SPN_OK);
	assert_int_equal(spn_vbuf_put(vb, "s", "one"), SPN_OK);
	assert_int_equal(spn_vbuf_put(vb, "sx", "two"), SPN_EINVAL);
	assert_int_equal(vbuf_values(vb, &n, NULL), -1);
	assert_int_equal(spn_vbuf_put(vb, "s", "two"), SPN_OK);
	assert_int_equal(vbuf_values(vb, &n, NULL), 0);
	assert_int_equal(n, 2);

	assert_int_equal(spn_vbuf_put(vb, "z"), SPN_EINVAL);

	/* Nesting stops at VALUE_DEPTH_MAX open containers. */
	vbuf_reset(vb);
	for (i = 0; i < VALUE_DEPTH_MAX; i++)
		assert_int_equal(spn_vbuf_array(vb, 1), SPN_OK);
	assert_int_equal(spn_vbuf_array(vb, 1), SPN_EINVAL);
	assert_int_equal(spn_vbuf_put(vb, "[n]"), SPN_EINVAL);
	assert_int_equal(spn_vbuf_put(vb, "n"), SPN_OK);
	assert_int_equal(vbuf_values(vb, &n, NULL), 0);
	assert_int_equal(n, 1);
	vbuf_free(vb);
}

/* A vbuf grows to the hard frame limit and no further. */
static void
test_put_too_large(void **state)
{
	struct spn_vbuf	*vb = vbuf_new();
	size_t		 chunk = 1024 * 1024, len, n;
	char		*big = calloc(1, chunk);
	int		 i, rc = SPN_OK;

	(void)state;
	for (i = 0; i < 20 && rc == SPN_OK; i++)
		rc = spn_vbuf_put(vb, "y", big, chunk);
	assert_int_equal(rc, SPN_ETOOLARGE);
	vbuf_data(vb, &len);
	assert_true(len <= SPN_MAX_FRAME_HARD);
	assert_int_equal(vbuf_values(vb, &n, NULL), 0);
	assert_int_equal(n, (size_t)i - 1);
	free(big);
	vbuf_free(vb);
}

struct hostile {
	const char	*name;
	const char	*bytes;
	size_t		 len;
	const char	*why;
};

#define H(name, b, why)	{ name, b, sizeof b - 1, why }

static void
test_hostile(void **state)
{
	static const struct hostile	 h[] = {
		H("array32 0xffffffff, no body", "\xdd\xff\xff\xff\xff",
		    "array of 4294967295 elements in 0 bytes"),
		H("array32 0x80000001", "\xdd\x80\x00\x00\x01",
		    "array of 2147483649"),
		H("truncated map16 header", "\xde\x00", "truncated header"),
		H("map16, no header", "\xde", "truncated header"),
		H("map32 2^31 pairs", "\xdf\x80\x00\x00\x00",
		    "map of 2147483648 pairs"),
		H("dd 02 00 00 00", "\xdd\x02\x00\x00\x00",
		    "array of 33554432 elements in 0 bytes"),
		H("map16 of 2 pairs, 3 bytes", "\xde\x00\x02\xc0\xc0\xc0",
		    "map of 2 pairs in 3 bytes"),
		H("str32 4 GiB", "\xdb\xff\xff\xff\xff", "string of"),
		H("bin32 4 GiB", "\xc6\xff\xff\xff\xff\x00", "bytes of"),
		H("str8 past the end", "\xd9\x05" "abc", "string of 5"),
		H("fixstr past the end", "\xa3" "a", "string of 3"),
		H("ext32 4 GiB", "\xc9\xff\xff\xff\xff\x01", "extension of"),
		H("fixext reserved type", "\xd4\x01\x00",
		    "extension type 1 is not supported"),
		H("fixext unknown type", "\xd6\x7f\x00\x00\x00\x00",
		    "unknown extension type 127"),
		H("ext8 truncated type", "\xc7\x00", "truncated extension"),
		H("0xc1", "\xc1", "byte 0xc1"),
		H("trailing bytes", "\xc0\xc0", "1 trailing bytes"),
		H("truncated uint64", "\xcf\x00\x00", "truncated number"),
		H("truncated float", "\xcb\x00", "truncated number"),
		H("array in array, short", "\x91\x92\xc0",
		    "array of 2 elements in 1 bytes"),
		H("empty", "", "payload of 0 bytes"),
	};
	struct spn_msg	*m;
	char		 why[256];

	(void)state;
	for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
		why[0] = '\0';
		m = (struct spn_msg *)1;
		if (decode(h[i].bytes, h[i].len, &m, why, sizeof why) != -1)
			fail_msg("%s: accepted", h[i].name);
		assert_null(m);
		if (strstr(why, h[i].why) == NULL)
			fail_msg("%s: \"%s\", not \"%s\"", h[i].name, why,
			    h[i].why);
		/* Rejected by the pre-scan: nothing allocated at all. */
		if (nalloc != 0)
			fail_msg("%s: %zu allocations, largest %zu",
			    h[i].name, nalloc, maxalloc);
	}
}

static void
test_depth(void **state)
{
	uint8_t		 b[100001];
	struct spn_msg	*m;
	char		 why[256];
	size_t		 i;

	(void)state;
	/* VALUE_DEPTH_MAX nested arrays decode; one more does not. */
	for (i = 0; i < VALUE_DEPTH_MAX; i++)
		b[i] = 0x91;
	b[i] = 0xc0;
	assert_int_equal(decode(b, i + 1, &m, why, sizeof why), 0);
	spn_msg_free(m);
	b[i] = 0x91;
	b[i + 1] = 0xc0;
	assert_int_equal(decode(b, i + 2, &m, why, sizeof why), -1);
	assert_non_null(strstr(why, "nested deeper than 32"));
	assert_int_equal(nalloc, 0);

	/* 100,000 levels: stops at 33, no deep recursion. */
	memset(b, 0x91, sizeof b - 1);
	b[sizeof b - 1] = 0xc0;
	assert_int_equal(decode(b, sizeof b, &m, why, sizeof why), -1);
	assert_non_null(strstr(why, "at byte 33: nested deeper"));
	assert_int_equal(nalloc, 0);
	/* The same with maps (keys nest too). */
	memset(b, 0x81, sizeof b - 1);
	assert_int_equal(decode(b, sizeof b, &m, why, sizeof why), -1);
	assert_int_equal(nalloc, 0);
}

/* Many small values: nodes bounded by bytes; one allocation. */
static void
test_wide(void **state)
{
	size_t		 len = 3 + 65535;
	uint8_t		*b = malloc(len);
	struct spn_msg	*m;
	char		 why[256];

	(void)state;
	b[0] = 0xdc;
	b[1] = 0xff;
	b[2] = 0xff;
	memset(b + 3, 0xc0, 65535);
	assert_int_equal(decode(b, len, &m, why, sizeof why), 0);
	assert_int_equal(nalloc, 1);
	assert_true(maxalloc <= 64 + 18 * len);
	assert_int_equal(spn_value_len(spn_msg_value(m)), 65535);
	spn_msg_free(m);
	/* One element short. */
	assert_int_equal(decode(b, len - 1, &m, why, sizeof why), -1);
	assert_int_equal(nalloc, 0);
	free(b);
}

static void
test_sig_match(void **state)
{
	struct spn_vbuf	*vb = vbuf_new();
	struct spn_msg	*m;
	char		 why[256];
	const struct spn_value *a;

	(void)state;
	assert_int_equal(spn_vbuf_put(vb, "[siu]", "x", (int64_t)-1,
	    (uint64_t)UINT64_MAX), SPN_OK);
	m = decode_ok(vb);
	a = spn_msg_value(m);
	assert_int_equal(value_sig_match(a, "siu", why, sizeof why), 0);
	assert_int_equal(value_sig_match(a, "s, i, u", why, sizeof why), 0);
	assert_int_equal(value_sig_match(a, "s,i,u->i", why, sizeof why), 0);
	assert_int_equal(value_sig_match(a, "vvv", why, sizeof why), 0);
	assert_int_equal(value_sig_match(a, "siv", why, sizeof why), 0);
	assert_int_equal(value_sig_match(a, "sii", why, sizeof why), -1);
	assert_string_equal(why, "value 3: expected i, got uint");
	assert_int_equal(value_sig_match(a, "suu", why, sizeof why), -1);
	assert_string_equal(why, "value 2: expected u, got int");
	assert_int_equal(value_sig_match(a, "si", why, sizeof why), -1);
	assert_string_equal(why, "3 values, signature takes 2");
	assert_int_equal(value_sig_match(a, "siuu", why, sizeof why), -1);
	assert_string_equal(why, "3 values, the signature takes more");
	assert_int_equal(value_sig_match(a, "siq", why, sizeof why), -1);
	assert_int_equal(value_sig_match(a, "[siu", why, sizeof why), -1);
	assert_int_equal(value_sig_match(spn_value_at(a, 0), "s", why,
	    sizeof why), -1);
	assert_int_equal(value_sig_match(NULL, "", why, sizeof why), -1);
	spn_msg_free(m);

	vbuf_reset(vb);
	assert_int_equal(spn_vbuf_array(vb, 0), SPN_OK);
	m = decode_ok(vb);
	assert_int_equal(value_sig_match(spn_msg_value(m), "", why,
	    sizeof why), 0);
	assert_int_equal(value_sig_match(spn_msg_value(m), "->s", why,
	    sizeof why), 0);
	assert_int_equal(value_sig_match(spn_msg_value(m), "s", why,
	    sizeof why), -1);
	spn_msg_free(m);
	vbuf_free(vb);
}

/* A context (C): id and name round trip, as an element of 'aC' too. */
static void
test_ctx(void **state)
{
	struct spn_ctx		 web = { .id = 7, .name = "admin@bastion+web" };
	struct spn_ctx		 db = { .id = 0xfffffffe, .name = "db" };
	struct spn_ctx		*both[] = { &web, &db };
	struct spn_vbuf		*vb = vbuf_new();
	struct spn_msg		*m;
	const struct spn_value	*a, *arr;
	const char		*name;
	char			 why[256], big[1100];
	uint32_t		 id;
	size_t			 len;

	(void)state;
	assert_int_equal(spn_vbuf_array(vb, 3), SPN_OK);
	assert_int_equal(spn_vbuf_put(vb, "C s aC", &web, "x", (size_t)2,
	    both), SPN_OK);
	m = decode_ok(vb);
	a = spn_msg_value(m);
	assert_int_equal(spn_value_type(spn_value_at(a, 0)), SPN_T_CTX);
	assert_int_equal(value_ctx(spn_value_at(a, 0), &id, &name), 0);
	assert_int_equal(id, 7);
	assert_string_equal(name, "admin@bastion+web");
	assert_int_equal(value_ctx(spn_value_at(a, 1), &id, &name), -1);
	arr = spn_value_at(a, 2);
	assert_int_equal(spn_value_len(arr), 2);
	assert_int_equal(value_ctx(spn_value_at(arr, 1), &id, &name), 0);
	assert_true(id == 0xfffffffe);
	assert_string_equal(name, "db");
	/* The other accessors see no string in it. */
	assert_null(spn_arg_str(a, 0));
	assert_int_equal(value_sig_match(a, "C s aC", why, sizeof why), 0);
	assert_int_equal(value_sig_match(a, "C v v", why, sizeof why), 0);
	assert_int_equal(value_sig_match(a, "s s aC", why, sizeof why), -1);
	assert_string_equal(why, "value 1: expected s, got context");
	assert_int_equal(value_sig_match(a, "C C aC", why, sizeof why), -1);
	assert_string_equal(why, "value 2: expected C, got string");
	assert_int_equal(value_sig_match(a, "C s as", why, sizeof why), -1);
	assert_string_equal(why, "value 3: as element 1: expected s, got "
	    "context");
	reencode_same(vb, a);
	spn_msg_free(m);

	/* No context, a name too long: refused, nothing written. */
	vbuf_reset(vb);
	assert_int_equal(spn_vbuf_put(vb, "C", NULL), SPN_EINVAL);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	web.name = big;
	assert_int_equal(spn_vbuf_put(vb, "C", &web), SPN_EINVAL);
	both[1] = NULL;
	web.name = "web";
	assert_int_equal(spn_vbuf_put(vb, "aC", (size_t)2, both), SPN_EINVAL);
	(void)vbuf_data(vb, &len);
	assert_int_equal(len, 0);
	vbuf_free(vb);
}

/* Payloads the decoder must refuse, with why, allocating nothing. */
struct refused {
	const char	*name;
	const char	*bytes;
	size_t		 len;
	const char	*why;
};

static void
expect_refused(const struct refused *h, size_t n)
{
	struct spn_msg	*m;
	char		 why[256];

	for (size_t i = 0; i < n; i++) {
		why[0] = '\0';
		if (decode(h[i].bytes, h[i].len, &m, why, sizeof why) != -1)
			fail_msg("%s: accepted", h[i].name);
		if (strstr(why, h[i].why) == NULL)
			fail_msg("%s: \"%s\", not \"%s\"", h[i].name, why,
			    h[i].why);
		assert_int_equal(nalloc, 0);
	}
}

/* Hostile contexts: bounded, no NUL, never id 0. */
static void
test_ctx_hostile(void **state)
{
	static const struct refused h[] = {
		{ "no name", "\xd6\x02\x00\x00\x00\x07", 6,
		    "context of 4 bytes" },
		{ "id 0", "\xc7\x05\x02\x00\x00\x00\x00" "a", 8, "context 0" },
		{ "NUL in name", "\xc7\x06\x02\x00\x00\x00\x07" "a\0", 9,
		    "context name with a NUL" },
		{ "short body", "\xc7\x09\x02\x00\x00\x00\x07" "a", 8,
		    "extension of 9 bytes, 5 left" },
		{ "fixext 1", "\xd4\x02\x07", 3, "context of 1 bytes" },
	};
	uint8_t		*b;
	struct spn_msg	*m;
	char		 why[256];
	size_t		 n = 4 + 1025;

	(void)state;
	expect_refused(h, sizeof h / sizeof h[0]);
	/* A name of 1025 bytes: over the bound; 1024 fits. */
	b = malloc(4 + n);
	b[0] = 0xc8;
	b[1] = n >> 8;
	b[2] = n & 0xff;
	b[3] = 0x02;
	memset(b + 4, 0, 4);
	b[7] = 9;
	memset(b + 8, 'x', n - 4);
	assert_int_equal(decode(b, 4 + n, &m, why, sizeof why), -1);
	assert_non_null(strstr(why, "context of 1029 bytes"));
	assert_int_equal(nalloc, 0);
	n--;
	b[2] = n & 0xff;
	assert_int_equal(decode(b, 4 + n, &m, why, sizeof why), 0);
	assert_int_equal(spn_value_type(spn_msg_value(m)), SPN_T_CTX);
	spn_msg_free(m);
	free(b);
}

/* Senders: 'S' from a struct spn_sender (its first member says where),
 * ext 3 of exactly 12 bytes, a dynamic handle and a bounded window. */
static void
test_sender(void **state)
{
	static const struct refused h[] = {
		{ "fixext 8", "\xd7\x03\0\0\0\x07\0\0\x04\x00", 10,
		    "sender of 8 bytes" },
		{ "13 bytes", "\xc7\x0d\x03\0\0\0\x07\0\0\x04\0\0\0\x10\0"
		    "\0", 16, "sender of 13 bytes" },
		{ "context 0", "\xc7\x0c\x03\0\0\0\0\0\0\x04\0\0\0\x10\0",
		    15, "sender to 0:1024" },
		{ "a well-known handle", "\xc7\x0c\x03\0\0\0\x07\0\0\0\x03"
		    "\0\0\x10\0", 15, "sender to 7:3" },
		{ "window 0", "\xc7\x0c\x03\0\0\0\x07\0\0\x04\0\0\0\0\0",
		    15, "with a window of 0" },
		{ "window over 64 MiB", "\xc7\x0c\x03\0\0\0\x07\0\0\x04\0"
		    "\x04\0\0\x01", 15, "with a window of 67108865" },
		{ "short body", "\xc7\x0c\x03\0\0\0\x07", 7,
		    "extension of 12 bytes, 4 left" },
	};
	struct sender_ref	 tx = { 7, 1030, 65536 };
	struct spn_vbuf		*vb = vbuf_new();
	struct spn_msg		*m;
	const struct spn_value	*a;
	uint32_t		 ctx, handle, window;
	char			 why[256];

	(void)state;
	assert_int_equal(spn_vbuf_array(vb, 2), SPN_OK);
	assert_int_equal(spn_vbuf_put(vb, "S i", (struct spn_sender *)&tx,
	    (int64_t)1), SPN_OK);
	m = decode_ok(vb);
	a = spn_msg_value(m);
	assert_int_equal(spn_value_type(spn_value_at(a, 0)), SPN_T_SENDER);
	assert_int_equal(value_sender(spn_value_at(a, 0), &ctx, &handle,
	    &window), SPN_OK);
	assert_int_equal(ctx, 7);
	assert_int_equal(handle, 1030);
	assert_int_equal(window, 65536);
	assert_int_equal(value_sender(spn_value_at(a, 1), &ctx, &handle,
	    &window), SPN_EINVAL);
	assert_null(spn_arg_bytes(a, 0, NULL));
	assert_int_equal(value_sig_match(a, "S i", why, sizeof why), 0);
	assert_int_equal(value_sig_match(a, "v i", why, sizeof why), 0);
	assert_int_equal(value_sig_match(a, "C i", why, sizeof why), -1);
	assert_string_equal(why, "value 1: expected C, got sender");
	assert_int_equal(value_sig_match(a, "S S", why, sizeof why), -1);
	assert_string_equal(why, "value 2: expected S, got int");
	reencode_same(vb, a);
	spn_msg_free(m);
	vbuf_reset(vb);
	assert_int_equal(spn_vbuf_put(vb, "S", NULL), SPN_EINVAL);
	vbuf_free(vb);
	expect_refused(h, sizeof h / sizeof h[0]);
}

/* aX: size_t n and a pointer to n items, for each X. */
static void
test_arrays(void **state)
{
	static const int	 bs[] = { 1, 0, 1 };
	static const int64_t	 is[] = { -1, INT64_MIN, 5 };
	static const uint64_t	 us[] = { UINT64_MAX, 0 };
	static const double	 ds[] = { 0.5 };
	static const char	*ss[] = { "a", "", "c" };
	struct spn_vbuf		*vb = vbuf_new();
	struct spn_msg		*m;
	const struct spn_value	*a, *x;
	char			 why[256];
	size_t			 len;
	uint64_t		 u;

	(void)state;
	assert_int_equal(spn_vbuf_array(vb, 6), SPN_OK);
	assert_int_equal(spn_vbuf_put(vb, "ab,ai,au,ad,as,ai", (size_t)3, bs,
	    (size_t)3, is, (size_t)2, us, (size_t)1, ds, (size_t)3, ss,
	    (size_t)0, NULL), SPN_OK);
	m = decode_ok(vb);
	a = spn_msg_value(m);
	assert_int_equal(spn_value_len(spn_value_at(a, 0)), 3);
	assert_int_equal(spn_arg_bool(spn_value_at(a, 0), 0), 1);
	assert_int_equal(spn_arg_bool(spn_value_at(a, 0), 1), 0);
	assert_true(spn_arg_int(spn_value_at(a, 1), 1) == INT64_MIN);
	x = spn_value_at(spn_value_at(a, 2), 0);
	assert_int_equal(spn_value_uint(x, &u), SPN_OK);
	assert_true(u == UINT64_MAX);
	assert_true(spn_arg_double(spn_value_at(a, 3), 0) == 0.5);
	assert_string_equal(spn_arg_str(spn_value_at(a, 4), 2), "c");
	assert_int_equal(spn_value_len(spn_value_at(a, 5)), 0);
	assert_int_equal(value_sig_match(a, "ab ai au ad as ai", why,
	    sizeof why), 0);
	assert_int_equal(value_sig_match(a, "[bbb] v au ad [sss] []", why,
	    sizeof why), 0);
	/* 2^64-1 is no i; an empty array is any aX. */
	assert_int_equal(value_sig_match(a, "ab ai ai ad as as", why,
	    sizeof why), -1);
	assert_string_equal(why, "value 3: ai element 1: expected i, got uint");
	assert_int_equal(value_sig_match(a, "ab ai au ad as aq", why,
	    sizeof why), -1);
	assert_string_equal(why, "value 6: 'a' takes one of biudsC, not 'q'");
	assert_int_equal(value_sig_match(a, "ab ai au ad ai ai", why,
	    sizeof why), -1);
	assert_int_equal(value_sig_match(a, "ab ai au ad as a", why,
	    sizeof why), -1);
	reencode_same(vb, a);
	spn_msg_free(m);

	/* Inside a group; bad letters and NULLs refused, nothing kept. */
	vbuf_reset(vb);
	assert_int_equal(spn_vbuf_put(vb, "[s ai]", "k", (size_t)2, is),
	    SPN_OK);
	(void)vbuf_data(vb, &len);
	assert_int_equal(spn_vbuf_put(vb, "ay", (size_t)1, is), SPN_EINVAL);
	assert_int_equal(spn_vbuf_put(vb, "a", (size_t)1, is), SPN_EINVAL);
	assert_int_equal(spn_vbuf_put(vb, "ai", (size_t)1, NULL), SPN_EINVAL);
	ss[1] = NULL;
	assert_int_equal(spn_vbuf_put(vb, "as", (size_t)3, ss), SPN_EINVAL);
	ss[1] = "";
	{
		size_t len2, n;

		(void)vbuf_data(vb, &len2);
		assert_int_equal(len2, len);
		assert_int_equal(vbuf_values(vb, &n, NULL), 0);
		assert_int_equal(n, 1);
	}
	vbuf_free(vb);
}

/* An export's signature against a call's: "aX" and groups are one
 * element each, which v fits. */
static void
test_export_sig(void **state)
{
	static const struct {
		const char	*want;
		const char	*have;
		int		 ok;
	} t[] = {
		{ "s,i->u", "si", 1 },
		{ "s,i->u", "s", 0 },
		{ "ai,C->", "ai C", 1 },
		{ "ai,C->", "au C", 0 },
		{ "ai,C->", "a C", 0 },
		{ "v,C->", "ai C", 1 },
		{ "ai->", "v", 1 },
		{ "v->", "[si]", 1 },
		{ "[vi]->", "[si]", 1 },
		{ "[si]->", "[s]", 0 },
		{ "[si]s->", "[si]", 0 },
		{ "{ss}->", "v", 1 },
		{ "{ss}->", "[ss]", 0 },
		{ "->", "", 1 },
		{ "->", "s", 0 },
		{ "aC->aC", "aC", 1 },
	};
	struct spn_export	 e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		e.sig = t[i].want;
		if ((export_sig_check(&e, t[i].have) == SPN_OK) != t[i].ok)
			fail_msg("\"%s\" against \"%s\": not %s", t[i].want,
			    t[i].have, t[i].ok ? "ok" : "refused");
	}
}

static void
test_callmsg(void **state)
{
	struct spn_vbuf	*vb = vbuf_new(), *args = vbuf_new();
	struct spn_msg	*m;
	struct callmsg	 c;
	const uint8_t	*d;
	size_t		 len;
	char		 why[256];

	(void)state;
	assert_int_equal(spn_vbuf_put(args, "si", "/srv", (int64_t)42),
	    SPN_OK);
	assert_int_equal(callmsg_pack(vb, "disk_free", "si", args, 3,
	    5000), SPN_OK);
	d = vbuf_data(vb, &len);
	assert_int_equal(callmsg_unpack(d, len, &m, &c, why, sizeof why), 0);
	assert_string_equal(c.fn, "disk_free");
	assert_string_equal(c.sig, "si");
	assert_int_equal(c.flags, 3);
	assert_int_equal(c.deadline_ms, 5000);
	assert_ptr_equal(spn_msg_value(m), c.args);
	assert_string_equal(spn_arg_str(c.args, 0), "/srv");
	assert_int_equal(spn_arg_int(c.args, 1), 42);
	assert_int_equal(value_sig_match(c.args, c.sig, why, sizeof why), 0);
	spn_msg_free(m);

	/* No arguments; UINT32_MAX fields. */
	vbuf_reset(vb);
	assert_int_equal(callmsg_pack(vb, "f", "", NULL, UINT32_MAX,
	    UINT32_MAX), SPN_OK);
	d = vbuf_data(vb, &len);
	assert_int_equal(callmsg_unpack(d, len, &m, &c, why, sizeof why), 0);
	assert_int_equal(spn_value_len(c.args), 0);
	assert_true(c.flags == UINT32_MAX && c.deadline_ms == UINT32_MAX);
	spn_msg_free(m);

	/* An open array in the arguments is refused. */
	vbuf_reset(vb);
	assert_int_equal(spn_vbuf_array(args, 2), SPN_OK);
	assert_int_equal(callmsg_pack(vb, "f", "", args, 0, 0), SPN_EINVAL);
	vbuf_free(args);
	vbuf_free(vb);
}

static void
test_callmsg_bad(void **state)
{
	static const struct hostile	 h[] = {
		H("not an array", "\xc0", "not an array of 5"),
		H("four elements", "\x94\xa1" "f\xa0\x90\x00",
		    "not an array of 5"),
		H("fn not a string", "\x95\x01\xa0\x90\x00\x00",
		    "function or signature"),
		H("NUL in fn", "\x95\xa3" "f\0g\xa0\x90\x00\x00",
		    "function or signature"),
		H("args not an array", "\x95\xa1" "f\xa0\x80\x00\x00",
		    "arguments are not an array"),
		H("flags negative", "\x95\xa1" "f\xa0\x90\xff\x00",
		    "not a u32"),
		H("deadline 2^32", "\x95\xa1" "f\xa0\x90\x00"
		    "\xcf\x00\x00\x00\x01\x00\x00\x00\x00", "not a u32"),
		H("garbage", "\x95\xa1", "array of 5 elements in 1 bytes"),
	};
	static const char	 extra[] = "\x96\xa1" "f\xa1s\x91\xa1x\x01\x02"
	    "\xa5later";
	struct spn_msg		*m;
	struct callmsg		 c;
	char			 why[256];

	(void)state;
	for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
		m = (struct spn_msg *)1;
		if (callmsg_unpack(h[i].bytes, h[i].len, &m, &c, why,
		    sizeof why) != -1)
			fail_msg("%s: accepted", h[i].name);
		assert_null(m);
		assert_null(c.fn);
		if (strstr(why, h[i].why) == NULL)
			fail_msg("%s: \"%s\"", h[i].name, why);
	}
	/* A later version's extra element is ignored. */
	assert_int_equal(callmsg_unpack(extra, sizeof extra - 1, &m, &c, why,
	    sizeof why), 0);
	assert_string_equal(c.fn, "f");
	assert_string_equal(spn_arg_str(c.args, 0), "x");
	assert_int_equal(c.flags, 1);
	assert_int_equal(c.deadline_ms, 2);
	spn_msg_free(m);
}

static void
test_reply(void **state)
{
	struct spn_vbuf		*vb = vbuf_new(), *res = vbuf_new();
	struct spn_msg		*m;
	struct spn_error	 e, back;
	const uint8_t		*d;
	size_t			 len;

	(void)state;
	assert_int_equal(spn_vbuf_put(res, "u", (uint64_t)123456789), SPN_OK);
	assert_int_equal(reply_pack_ok(vb, res), SPN_OK);
	d = vbuf_data(vb, &len);
	assert_int_equal(reply_unpack(d, len, &m, &back), SPN_OK);
	assert_int_equal(spn_value_len(spn_msg_value(m)), 1);
	assert_int_equal(spn_arg_uint(spn_msg_value(m), 0), 123456789);
	spn_msg_free(m);

	/* An export with no results. */
	vbuf_reset(vb);
	assert_int_equal(reply_pack_ok(vb, NULL), SPN_OK);
	d = vbuf_data(vb, &len);
	assert_int_equal(reply_unpack(d, len, &m, &back), SPN_OK);
	assert_int_equal(spn_value_len(spn_msg_value(m)), 0);
	spn_msg_free(m);

	memset(&e, 0, sizeof e);
	e.code = SPN_ECALL;
	e.sys_errno = 2;
	snprintf(e.context, sizeof e.context, "web");
	snprintf(e.where, sizeof e.where, "df.c:12 disk_free");
	snprintf(e.message, sizeof e.message, "statvfs /srv");
	vbuf_reset(vb);
	assert_int_equal(reply_pack_err(vb, &e), SPN_OK);
	d = vbuf_data(vb, &len);
	m = (struct spn_msg *)1;
	assert_int_equal(reply_unpack(d, len, &m, &back), SPN_ECALL);
	assert_null(m);
	assert_int_equal(back.code, SPN_ECALL);
	assert_int_equal(back.sys_errno, 2);
	assert_string_equal(back.context, "web");
	assert_string_equal(back.where, "df.c:12 disk_free");
	assert_string_equal(back.message, "statvfs /srv");

	/* Fields filled to the last byte (no NUL) go as far as they fit. */
	memset(e.message, 'm', sizeof e.message);
	memset(e.context, 'c', sizeof e.context);
	vbuf_reset(vb);
	assert_int_equal(reply_pack_err(vb, &e), SPN_OK);
	d = vbuf_data(vb, &len);
	assert_int_equal(reply_unpack(d, len, &m, &back), SPN_ECALL);
	assert_int_equal(strlen(back.message), sizeof back.message - 1);
	assert_int_equal(strlen(back.context), sizeof back.context - 1);
	vbuf_free(res);
	vbuf_free(vb);
}

/* Error replies as a hostile far end might write them. */
static void
test_reply_hostile(void **state)
{
	struct spn_vbuf		*vb = vbuf_new();
	struct spn_msg		*m;
	struct spn_error	 e;
	const uint8_t		*d;
	char			 longmsg[1000];
	size_t			 len;

	(void)state;
	/* Too long, cut inside a 2-byte character; control characters. */
	memset(longmsg, 'a', sizeof longmsg);
	memcpy(longmsg + 510, "\xc3\xa9", 2);
	longmsg[sizeof longmsg - 1] = '\0';
	assert_int_equal(spn_vbuf_put(vb, "[i{sisisssssssv}]", (int64_t)1,
	    "code", (int64_t)999, "errno", (int64_t)-4, "context",
	    "we\x1b[2Jb", "where", "x", "message", longmsg, "extra",
	    (const struct spn_value *)NULL), SPN_EINVAL);
	assert_int_equal(spn_vbuf_put(vb, "[i{sisisssssssn}]", (int64_t)1,
	    "code", (int64_t)999, "errno", (int64_t)-4, "context",
	    "we\x1b[2Jb", "where", "x", "message", longmsg, "extra"), SPN_OK);
	d = vbuf_data(vb, &len);
	assert_int_equal(reply_unpack(d, len, &m, &e), SPN_EPROTO);
	assert_null(m);
	assert_int_equal(e.code, SPN_EPROTO);
	assert_int_equal(e.sys_errno, 0);
	assert_string_equal(e.context, "we?[2Jb");
	assert_int_equal(strlen(e.message), 510);

	/* C1 controls: CSI as UTF-8 (U+009B), which a UTF-8 terminal
	 * obeys, and as a lone byte, which a Latin-1 one does; UTF-8 text
	 * around them stays. */
	vbuf_reset(vb);
	assert_int_equal(spn_vbuf_put(vb, "[i{sisissssss}]", (int64_t)1,
	    "code", (int64_t)SPN_ECALL, "errno", (int64_t)0, "context",
	    "w\xc2\x9b" "2Jb", "where", "\x9b" "2J\xc3\xa9", "message",
	    "\xe2\x82\xac \xc2\x85x\xc2\xa0"), SPN_OK);
	d = vbuf_data(vb, &len);
	assert_int_equal(reply_unpack(d, len, &m, &e), SPN_ECALL);
	assert_string_equal(e.context, "w??2Jb");
	assert_string_equal(e.where, "?2J\xc3\xa9");
	assert_string_equal(e.message, "\xe2\x82\xac ??x\xc2\xa0");

	/* Not a reply at all, or a reply of an unknown kind. */
	{
		static const struct hostile	 h[] = {
			H("nil", "\xc0", "not [0, results]"),
			H("kind 2", "\x92\x02\x90", "not [0, results]"),
			H("results not an array", "\x92\x00\xc0",
			    "results are not an array"),
			H("error not a map", "\x92\x01\x90",
			    "an error is not a map"),
			H("error without code", "\x92\x01\x81\xa1x\x01",
			    "an error is not a map"),
			H("hostile", "\x92\x00\xdd\x02\x00\x00\x00",
			    "array of 33554432"),
		};

		for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
			assert_int_equal(reply_unpack(h[i].bytes, h[i].len, &m,
			    &e), SPN_EPROTO);
			assert_null(m);
			if (strstr(e.message, h[i].why) == NULL)
				fail_msg("%s: \"%s\"", h[i].name, e.message);
		}
	}
	vbuf_free(vb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_letters),
		cmocka_unit_test(test_foreign_numbers),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_put_errors),
		cmocka_unit_test(test_put_too_large),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_wide),
		cmocka_unit_test(test_sig_match),
		cmocka_unit_test(test_ctx),
		cmocka_unit_test(test_ctx_hostile),
		cmocka_unit_test(test_sender),
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_export_sig),
		cmocka_unit_test(test_callmsg),
		cmocka_unit_test(test_callmsg_bad),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_reply_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
