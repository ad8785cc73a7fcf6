/*
 * Unit tests for secret.c: kept passwords share locked, undumpable pages
 * and leave nothing behind when dropped; bytes moved out of an evbuffer as
 * a secret are wiped where they were.
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

/* The VmFlags of the mapping holding p, from /proc/self/smaps. */
static char *
vmflags(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512], *flags = NULL;
	unsigned long lo, hi;
	int in = 0;

	assert_non_null(f);
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (in && strncmp(line, "VmFlags:", 8) == 0)
			flags = strdup(line + 8);
	}
	fclose(f);
	return flags;
}

static int
mapped(const void *p)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char v;

	return mincore((void *)((uintptr_t)p & ~(uintptr_t)(pg - 1)), 1,
	    &v) == 0;
}

static void
test_keep(void **state)
{
	char *a, *b, *c, *flags;

	(void)state;
	a = secret_keep("first");
	b = secret_keep("a second, longer password of more than one unit");
	assert_string_equal(a, "first");
	assert_string_equal(b, "a second, longer password of more than one unit");
	/* One page for both, out of core dumps (and locked, if allowed). */
	assert_true(labs((char *)b - a) < 4096);
	flags = vmflags(a);
	assert_non_null(flags);
	assert_non_null(strstr(flags, " dd"));
	if (geteuid() == 0)
		assert_non_null(strstr(flags, " lo"));
	free(flags);
	/* Dropped: wiped, and its place taken again. */
	secret_drop(a);
	assert_int_equal(a[0], 0);
	c = secret_keep("third");
	assert_ptr_equal(c, a);
	secret_drop(b);
	secret_drop(c);
	/* Nothing kept: the page is gone. */
	assert_false(mapped(a));
	secret_drop(NULL);
}

static void
test_keep_limits(void **state)
{
	char big[SECRET_MAX + 2], *v[4];

	(void)state;
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_null(secret_keep(big));
	big[SECRET_MAX] = '\0';
	/* Three of the longest fit a page; the fourth takes another. */
	for (int i = 0; i < 4; i++) {
		v[i] = secret_keep(big);
		assert_non_null(v[i]);
		assert_int_equal(strlen(v[i]), SECRET_MAX);
	}
	assert_true(labs(v[2] - v[0]) < 4096);
	assert_true(labs(v[3] - v[0]) >= 4096);
	for (int i = 0; i < 4; i++)
		secret_drop(v[i]);
	assert_false(mapped(v[0]));
	assert_false(mapped(v[3]));
}

static void
test_move(void **state)
{
	char one[] = "header-and-the-", two[] = "password-then-more";
	char out[64];
	struct evbuffer *from = evbuffer_new(), *to = evbuffer_new();
	size_t n = strlen(one) + strlen("password");

	(void)state;
	/* Two blocks of ours, so we can see what is left in them. */
	evbuffer_add_reference(from, one, strlen(one), NULL, NULL);
	evbuffer_add_reference(from, two, strlen(two), NULL, NULL);
	evbuf_move_secret(from, to, n);
	assert_int_equal(evbuffer_get_length(to), n);
	evbuffer_remove(to, out, n);
	assert_memory_equal(out, "header-and-the-password", n);
	for (size_t i = 0; i < strlen(one); i++)
		assert_int_equal(one[i], 0);
	for (size_t i = 0; i < strlen("password"); i++)
		assert_int_equal(two[i], 0);
	/* What follows is untouched and still there. */
	assert_string_equal(two + strlen("password"), "-then-more");
	assert_int_equal(evbuffer_get_length(from), strlen("-then-more"));
	evbuffer_free(from);
	evbuffer_free(to);
}

static void
test_realloc_wiped(void **state)
{
	char *p = xrealloc_wiped(NULL, 0, 8);

	(void)state;
	memcpy(p, "secret!", 8);
	p = xrealloc_wiped(p, 8, 4096);
	assert_string_equal(p, "secret!");
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keep),
		cmocka_unit_test(test_keep_limits),
		cmocka_unit_test(test_move),
		cmocka_unit_test(test_realloc_wiped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
