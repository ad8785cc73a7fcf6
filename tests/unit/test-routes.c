/* The routes file: global and per-route options, errors with lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../cli/cli.h"

static char path[] = "/tmp/spn-test-routes.XXXXXX";

static int
load(const char *text, struct routes_file *rf, char *why, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return routes_file_load(path, rf, why, len);
}

static void
test_options(void **state)
{
	struct routes_file rf;
	const struct routes_entry *e;
	char why[256];

	(void)state;
	setenv("HOME", "/home/u", 1);
	assert_int_equal(load("# c\nkeepalive 7\nssh-config ~/cfg\n"
	    "persist 60\n\n"
	    "route web a@h+sudo=w   # trailing\n\tpassword-file ~/pw\n"
	    "  timeout 9\n  persist no\n"
	    "route two local\n  password-command pass show x\n",
	    &rf, why, sizeof why), 0);
	assert_int_equal(rf.n, 2);
	assert_int_equal(rf.global.persist, 60);
	e = routes_file_find(&rf, "web");
	assert_non_null(e);
	assert_string_equal(e->route, "a@h+sudo=w");
	assert_int_equal(e->opts.keepalive, 7);
	assert_int_equal(e->opts.timeout, 9);
	assert_int_equal(e->opts.persist, PERSIST_NEVER);
	assert_string_equal(e->opts.ssh_config, "/home/u/cfg");
	assert_string_equal(e->opts.password_file, "/home/u/pw");
	e = routes_file_find(&rf, "two");
	assert_int_equal(e->opts.timeout, -1);
	assert_int_equal(e->opts.persist, 60);
	assert_null(e->opts.password_file);
	assert_string_equal(e->opts.password_command, "pass show x");
	assert_null(routes_file_find(&rf, "nope"));
	routes_file_free(&rf);
}

static void
test_errors(void **state)
{
	static const struct {
		const char	*text;
		const char	*why;
	} cases[] = {
		{ "  keepalive 3\n", ":1: indented option before any route" },
		{ "route a local\nkeepalive 3\n", ":2: global option" },
		{ "route a local\nroute a local\n", ":2: route 'a' defined" },
		{ "keepalive x\n", ":1: bad number of seconds 'x'" },
		{ "persist yes\n", ":1: bad persist 'yes' (want seconds or 'no')" },
		{ "persist -1\n", ":1: bad persist '-1'" },
		{ "frob 1\n", ":1: unknown option 'frob'" },
		{ "route a\n", ":1: want 'route NAME ROUTE'" },
		{ "route a b++c\n", ":1: empty hop" },
		{ "timeout\n", ":1: 'timeout' wants a value" },
	};
	struct routes_file rf;
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		assert_int_equal(load(cases[i].text, &rf, why, sizeof why), -1);
		if (strstr(why, cases[i].why) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, why,
			    cases[i].why);
	}
}

static void
test_missing(void **state)
{
	struct routes_file rf;
	char why[256];

	(void)state;
	assert_int_equal(routes_file_load("/nonexistent/routes", &rf, why,
	    sizeof why), 0);
	assert_int_equal(rf.n, 0);
	assert_int_equal(rf.global.persist, PERSIST_UNSET);
	routes_file_free(&rf);
}

static void
test_sshenv(void **state)
{
	struct route_opts o = { .keepalive = -1, .timeout = -1,
	    .ssh_config = "/c", .ssh_args = "-oA=b -v" };
	char *s;

	(void)state;
	s = routes_sshenv(&o, "-F x");
	assert_string_equal(s, "-F /c -oA=b -v -F x");
	free(s);
	s = routes_sshenv(NULL, NULL);
	assert_string_equal(s, "");
	free(s);
}

static int
has_arg(const struct hop *h, const char *arg)
{
	for (char **a = h->args; *a != NULL; a++) {
		if (strcmp(*a, arg) == 0)
			return 1;
	}
	return 0;
}

/* Arguments naming local files go to the ssh hops this machine starts:
 * those up to the first ssh hop, not those started beyond it. */
static void
test_local_ssh(void **state)
{
	struct route r;
	char why[256];

	(void)state;
	assert_int_equal(route_parse_ssh("a+u@b,config=/b+sudo=w", "-F x",
	    &r, why, sizeof why), 0);
	assert_int_equal(r.nhops, 3);
	assert_true(has_arg(&r.hops[0], "x"));
	assert_string_equal(r.hops[1].args[2], "-F/b");
	assert_null(r.hops[1].args[3]);
	route_free(&r);
	/* local, sudo and su hops stay on this machine. */
	assert_int_equal(route_parse_ssh("local+sudo=x+su=y+a+b", "-F x",
	    &r, why, sizeof why), 0);
	assert_true(has_arg(&r.hops[3], "x"));
	assert_false(has_arg(&r.hops[4], "x"));
	route_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_sshenv),
		cmocka_unit_test(test_local_ssh),
	};
	int fd = mkstemp(path), rc;

	if (fd < 0)
		return 1;
	close(fd);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	return rc;
}
