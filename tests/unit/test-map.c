/*
 * Unit tests for the uint32 -> pointer hash map (map.c): linear probing
 * with backward-shift deletion.  Keys are chosen by their home slot (the
 * map's hash is Fibonacci hashing on the low bits), so the tests build
 * long collision chains and chains that wrap past the end of the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router.h"

#define INITIAL_CAP	16

/* Same hash as map.c: keys k and k + j * 2^20 share a home slot in every
 * table of up to 2^20 slots. */
static size_t
home(uint32_t k, size_t cap)
{
	return (k * 2654435761u) & (cap - 1);
}

/* The n-th key (n < 4096) whose home slot in a 16-slot table is `slot`. */
static uint32_t
key_at(size_t slot, uint32_t n)
{
	uint32_t base;

	for (base = 1; home(base, INITIAL_CAP) != slot; base++)
		;
	return base + (n << 20);
}

static void *
val(uint32_t k)
{
	return (void *)(uintptr_t)((uintptr_t)k * 2 + 1);
}

static void
test_basic(void **state)
{
	struct map *m = map_new();
	int x;

	(void)state;
	assert_int_equal(map_count(m), 0);
	assert_null(map_get(m, 0));
	assert_null(map_get(m, 42));
	assert_null(map_del(m, 42));
	assert_int_equal(map_put(m, 42, &x), 1);
	assert_ptr_equal(map_get(m, 42), &x);
	assert_int_equal(map_count(m), 1);
	/* Replacing keeps the count. */
	assert_int_equal(map_put(m, 42, val(1)), 0);
	assert_ptr_equal(map_get(m, 42), val(1));
	assert_int_equal(map_count(m), 1);
	/* Key 0 and key 0xffffffff are ordinary keys. */
	assert_int_equal(map_put(m, 0, val(2)), 1);
	assert_int_equal(map_put(m, 0xffffffff, val(3)), 1);
	assert_ptr_equal(map_get(m, 0), val(2));
	assert_ptr_equal(map_get(m, 0xffffffff), val(3));
	assert_ptr_equal(map_del(m, 42), val(1));
	assert_null(map_get(m, 42));
	assert_null(map_del(m, 42));
	assert_int_equal(map_count(m), 2);
	map_free(m);
	map_free(NULL);
}

/* All keys share one home slot: one long chain, deleted from the front,
 * the back and the middle. */
static void
test_collisions(void **state)
{
	struct map *m = map_new();
	uint32_t keys[200];
	size_t n = sizeof keys / sizeof keys[0];

	(void)state;
	for (size_t i = 0; i < n; i++) {
		keys[i] = key_at(3, i);
		assert_int_equal(map_put(m, keys[i], val(keys[i])), 1);
	}
	assert_int_equal(map_count(m), n);
	for (size_t i = 0; i < n; i++)
		assert_ptr_equal(map_get(m, keys[i]), val(keys[i]));
	/* Delete every third key, starting with the head of the chain. */
	for (size_t i = 0; i < n; i += 3)
		assert_ptr_equal(map_del(m, keys[i]), val(keys[i]));
	for (size_t i = 0; i < n; i++) {
		if (i % 3 == 0)
			assert_null(map_get(m, keys[i]));
		else
			assert_ptr_equal(map_get(m, keys[i]), val(keys[i]));
	}
	/* Then the rest, from the tail. */
	for (size_t i = n; i-- > 0;) {
		if (i % 3 != 0)
			assert_ptr_equal(map_del(m, keys[i]), val(keys[i]));
	}
	assert_int_equal(map_count(m), 0);
	for (size_t i = 0; i < n; i++)
		assert_null(map_get(m, keys[i]));
	map_free(m);
}

/*
 * In the 16-slot table: A and B live at home 15, so B wraps to slot 0;
 * C (home 0) is pushed to slot 1, D (home 1) to slot 2.  Deleting A must
 * shift B back across the wrap to slot 15, C to 0 and D to 1.
 */
static void
test_wraparound(void **state)
{
	uint32_t a = key_at(15, 0), b = key_at(15, 1), c = key_at(0, 0),
	    d = key_at(1, 0), e = key_at(14, 0);
	uint32_t order[][5] = {
		{ a, b, c, d, e }, { e, a, b, c, d }, { a, c, b, d, e },
		{ e, b, a, d, c }, { c, d, a, b, e },
	};

	(void)state;
	for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
		/* Delete each key in turn from a fresh map of all five. */
		for (size_t victim = 0; victim < 5; victim++) {
			struct map *m = map_new();

			for (size_t i = 0; i < 5; i++)
				map_put(m, order[o][i], val(order[o][i]));
			assert_ptr_equal(map_del(m, order[o][victim]),
			    val(order[o][victim]));
			for (size_t i = 0; i < 5; i++) {
				if (i == victim)
					assert_null(map_get(m, order[o][i]));
				else
					assert_ptr_equal(map_get(m,
					    order[o][i]), val(order[o][i]));
			}
			/* Re-inserting the victim finds it again. */
			assert_int_equal(map_put(m, order[o][victim],
			    val(order[o][victim])), 1);
			for (size_t i = 0; i < 5; i++)
				assert_ptr_equal(map_get(m, order[o][i]),
				    val(order[o][i]));
			assert_int_equal(map_count(m), 5);
			map_free(m);
		}
	}
}

/*
 * Random operations against a reference model, on keys whose home slots
 * cluster around the end of the table, with at most 11 live entries so
 * the table stays at 16 slots and chains wrap constantly.
 */
static void
test_model(void **state)
{
	enum { NKEYS = 40, ROUNDS = 200000 };
	static const size_t homes[] = { 12, 13, 14, 15, 0, 1, 2 };
	uint32_t keys[NKEYS];
	void *model[NKEYS];
	size_t live = 0;
	struct map *m;

	(void)state;
	for (size_t i = 0; i < NKEYS; i++)
		keys[i] = key_at(homes[i % 7], i / 7);
	memset(model, 0, sizeof model);
	srandom(4242);
	for (int pass = 0; pass < 2; pass++) {
		/* Pass 0 keeps the table small; pass 1 lets it grow. */
		size_t maxlive = pass == 0 ? 11 : NKEYS;

		m = map_new();
		memset(model, 0, sizeof model);
		live = 0;
		for (int r = 0; r < ROUNDS; r++) {
			size_t i = (size_t)random() % NKEYS;
			void *v;

			if (model[i] == NULL && live < maxlive) {
				v = (void *)(uintptr_t)(r * 2 + 1);
				assert_int_equal(map_put(m, keys[i], v), 1);
				model[i] = v;
				live++;
			} else if (model[i] != NULL && random() % 4 == 0) {
				v = (void *)(uintptr_t)(r * 2 + 1);
				assert_int_equal(map_put(m, keys[i], v), 0);
				model[i] = v;
			} else {
				assert_ptr_equal(map_del(m, keys[i]),
				    model[i]);
				if (model[i] != NULL)
					live--;
				model[i] = NULL;
			}
			assert_int_equal(map_count(m), live);
			for (size_t k = 0; k < NKEYS; k++)
				assert_ptr_equal(map_get(m, keys[k]),
				    model[k]);
		}
		map_free(m);
	}
}

static void
test_growth(void **state)
{
	enum { N = 200000 };
	struct map *m = map_new();

	(void)state;
	for (uint32_t i = 0; i < N; i++) {
		/* Sequential keys and keys sharing their low bits. */
		uint32_t k = i % 2 ? i : (i << 12) + 8;

		assert_int_equal(map_put(m, k, val(k)), 1);
		if (i % 10007 == 0) {
			for (uint32_t j = 0; j <= i; j++) {
				uint32_t kk = j % 2 ? j : (j << 12) + 8;

				assert_ptr_equal(map_get(m, kk), val(kk));
			}
		}
	}
	assert_int_equal(map_count(m), N);
	for (uint32_t i = 0; i < N; i += 2)
		assert_non_null(map_del(m, (i << 12) + 8));
	assert_int_equal(map_count(m), N / 2);
	for (uint32_t i = 0; i < N; i++) {
		if (i % 2)
			assert_ptr_equal(map_get(m, i), val(i));
		else
			assert_null(map_get(m, (i << 12) + 8));
	}
	map_free(m);
}

struct each_ctx {
	struct map	*m;
	uint8_t		*seen;
	size_t		*when;	/* visit number, from 1 */
	size_t		 calls;
	int		 mode;
	uint32_t	 nkeys;
};

static void
each_cb(uint32_t k, void *v, void *arg)
{
	struct each_ctx *c = arg;

	assert_ptr_equal(v, val(k));
	assert_true(k < c->nkeys);
	c->seen[k]++;
	c->when[k] = ++c->calls;
	switch (c->mode) {
	case 1:		/* delete the entry given */
		assert_ptr_equal(map_del(c->m, k), v);
		break;
	case 2:		/* delete the entry given and its successor key */
		map_del(c->m, k);
		map_del(c->m, k + 1);
		break;
	}
}

static void
test_each(void **state)
{
	enum { N = 5000 };
	struct each_ctx c = { .nkeys = N };

	(void)state;
	c.seen = xcalloc(N, 1);
	c.when = xcalloc(N, sizeof *c.when);
	for (int mode = 0; mode <= 2; mode++) {
		c.m = map_new();
		c.mode = mode;
		c.calls = 0;
		memset(c.seen, 0, N);
		memset(c.when, 0, N * sizeof *c.when);
		for (uint32_t k = 0; k < N; k++)
			map_put(c.m, k, val(k));
		map_each(c.m, each_cb, &c);
		switch (mode) {
		case 0:
			assert_int_equal(c.calls, N);
			assert_int_equal(map_count(c.m), N);
			for (uint32_t k = 0; k < N; k++)
				assert_int_equal(c.seen[k], 1);
			break;
		case 1:
			/* Every entry visited once although each was
			 * deleted during the walk (shifting others). */
			assert_int_equal(c.calls, N);
			assert_int_equal(map_count(c.m), 0);
			for (uint32_t k = 0; k < N; k++)
				assert_int_equal(c.seen[k], 1);
			break;
		case 2:
			/* Entries deleted before their turn are skipped. */
			assert_int_equal(map_count(c.m), 0);
			for (uint32_t k = 0; k < N; k++) {
				assert_true(c.seen[k] <= 1);
				if (k > 0 && c.seen[k - 1] && c.seen[k] &&
				    c.when[k - 1] < c.when[k])
					fail_msg("key %u visited after its "
					    "deletion", k);
			}
			break;
		}
		map_free(c.m);
	}
	/* An empty map calls nothing. */
	c.m = map_new();
	c.calls = 0;
	map_each(c.m, each_cb, &c);
	assert_int_equal(c.calls, 0);
	map_free(c.m);
	free(c.seen);
	free(c.when);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_collisions),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_each),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
