/*
 * Unit tests for forwarding specs (lib/fwdspec.c): OpenSSH 9.2's
 * parse_forward as ssh -L, -R, -D and -W use it, its error lines, and
 * the text messages print.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../lib/lib.h"

static char err[256];

/* Parses s as kind and checks every field; NULL: not given. */
static void
check(int kind, const char *s, const char *bind, int bind_port,
    const char *host, int port, const char *text)
{
	struct fwd_spec fs;
	char *t;

	if (fwd_spec_parse(kind, s, &fs, err, sizeof err) != 0)
		fail_msg("%c %s: %s", kind, s, err);
	assert_int_equal(fs.kind, kind);
	if (bind == NULL)
		assert_null(fs.bind);
	else
		assert_string_equal(fs.bind, bind);
	assert_int_equal(fs.bind_port, bind_port);
	if (host == NULL)
		assert_null(fs.host);
	else
		assert_string_equal(fs.host, host);
	assert_int_equal(fs.port, port);
	t = fwd_spec_text(&fs);
	assert_string_equal(t, text);
	free(t);
	fwd_spec_free(&fs);
}

static void
bad(int kind, const char *s, const char *want)
{
	struct fwd_spec fs;

	memset(err, 'x', sizeof err);
	if (fwd_spec_parse(kind, s, &fs, err, sizeof err) == 0)
		fail_msg("%c %s parsed", kind, s);
	assert_string_equal(err, want);
}

static void
test_local(void **state)
{
	(void)state;
	check(FWD_LOCAL, "8080:web:80", NULL, 8080, "web", 80, "8080:web:80");
	check(FWD_LOCAL, "127.0.0.2:8080:web:80", "127.0.0.2", 8080, "web",
	    80, "127.0.0.2:8080:web:80");
	check(FWD_LOCAL, "*:8080:web:80", "*", 8080, "web", 80,
	    "*:8080:web:80");
	check(FWD_LOCAL, ":8080:web:80", "", 8080, "web", 80, ":8080:web:80");
	check(FWD_LOCAL, "localhost:8080:web:80", "localhost", 8080, "web",
	    80, "localhost:8080:web:80");
	check(FWD_LOCAL, "[::1]:8080:[fd00::5]:5432", "::1", 8080, "fd00::5",
	    5432, "[::1]:8080:[fd00::5]:5432");
	check(FWD_LOCAL, "  8080:web:80", NULL, 8080, "web", 80,
	    "8080:web:80");
	/* UNIX sockets: a '/' makes a field a path. */
	check(FWD_LOCAL, "/tmp/l.sock:web:80", "/tmp/l.sock", -1, "web", 80,
	    "/tmp/l.sock:web:80");
	check(FWD_LOCAL, "8080:/run/pg.sock", NULL, 8080, "/run/pg.sock", -1,
	    "8080:/run/pg.sock");
	check(FWD_LOCAL, "/tmp/l.sock:/run/pg.sock", "/tmp/l.sock", -1,
	    "/run/pg.sock", -1, "/tmp/l.sock:/run/pg.sock");
	check(FWD_LOCAL, "0.0.0.0:8080:/run/pg.sock", "0.0.0.0", 8080,
	    "/run/pg.sock", -1, "0.0.0.0:8080:/run/pg.sock");
	check(FWD_LOCAL, "[/tmp/a:b]:web:80", "/tmp/a:b", -1, "web", 80,
	    "/tmp/a:b:web:80");
	check(FWD_LOCAL, "8080:we\\:b:80", NULL, 8080, "we:b", 80,
	    "8080:[we:b]:80");
	check(FWD_LOCAL, "65535:web:1", NULL, 65535, "web", 1,
	    "65535:web:1");
	/* ssh takes an empty last field as none. */
	check(FWD_LOCAL, "8080:web:80:", NULL, 8080, "web", 80,
	    "8080:web:80");
	setenv("FWDSPEC_TEST_PORT", "7070", 1);
	check(FWD_LOCAL, "${FWDSPEC_TEST_PORT}:web:80", NULL, 7070, "web", 80,
	    "7070:web:80");
}

static void
test_local_bad(void **state)
{
	static const char *const specs[] = {
		"8080", "8080:web", "0:web:80", "8080:web:0", "65536:web:80",
		"a:b:c:d:e", "8080:web:80::", "x:8080:web:port-nope",
		"[::1:8080:web:80", "[::1]x:8080:web:80", "-1:web:80",
		"${FWDSPEC_TEST_UNSET}:web:80", "", "8080:web:80\\",
	};
	char want[256];
	size_t i;

	(void)state;
	unsetenv("FWDSPEC_TEST_UNSET");
	for (i = 0; i < sizeof specs / sizeof *specs; i++) {
		snprintf(want, sizeof want,
		    "Bad local forwarding specification '%s'", specs[i]);
		bad(FWD_LOCAL, specs[i], want);
	}
}

static void
test_dynamic(void **state)
{
	(void)state;
	check(FWD_DYNAMIC, "1080", NULL, 1080, NULL, 0, "1080");
	check(FWD_DYNAMIC, "localhost:1080", "localhost", 1080, NULL, 0,
	    "localhost:1080");
	check(FWD_DYNAMIC, "[::1]:1080", "::1", 1080, NULL, 0, "[::1]:1080");
	check(FWD_DYNAMIC, "*:1080", "*", 1080, NULL, 0, "*:1080");
	check(FWD_DYNAMIC, "/tmp/socks.sock", "/tmp/socks.sock", -1, NULL, 0,
	    "/tmp/socks.sock");
	bad(FWD_DYNAMIC, "0", "Bad dynamic forwarding specification '0'");
	bad(FWD_DYNAMIC, "1080:x:80",
	    "Bad dynamic forwarding specification '1080:x:80'");
	bad(FWD_DYNAMIC, "h:", "Bad dynamic forwarding specification 'h:'");
	bad(FWD_DYNAMIC, "", "Bad dynamic forwarding specification ''");
}

static void
test_remote(void **state)
{
	(void)state;
	check(FWD_REMOTE, "5000:localhost:22", NULL, 5000, "localhost", 22,
	    "5000:localhost:22");
	check(FWD_REMOTE, "0:localhost:22", NULL, 0, "localhost", 22,
	    "0:localhost:22");
	check(FWD_REMOTE, "*:5000:10.0.0.1:22", "*", 5000, "10.0.0.1", 22,
	    "*:5000:10.0.0.1:22");
	check(FWD_REMOTE, "/tmp/r.sock:/tmp/l.sock", "/tmp/r.sock", -1,
	    "/tmp/l.sock", -1, "/tmp/r.sock:/tmp/l.sock");
	/* Without a target: a remote dynamic (SOCKS) forward. */
	check(FWD_REMOTE, "1080", NULL, 1080, NULL, 0, "1080");
	check(FWD_REMOTE, "0", NULL, 0, NULL, 0, "0");
	check(FWD_REMOTE, "10.0.0.1:1080", "10.0.0.1", 1080, NULL, 0,
	    "10.0.0.1:1080");
	bad(FWD_REMOTE, "5000:x",
	    "Bad remote forwarding specification '5000:x'");
	bad(FWD_REMOTE, "5000:x:0",
	    "Bad remote forwarding specification '5000:x:0'");
	bad(FWD_REMOTE, "nope:5000:x:22:1",
	    "Bad remote forwarding specification 'nope:5000:x:22:1'");
}

static void
test_stdio(void **state)
{
	(void)state;
	check(FWD_STDIO, "inner:22", NULL, 0, "inner", 22, "inner:22");
	check(FWD_STDIO, "[fd00::1]:22", NULL, 0, "fd00::1", 22,
	    "[fd00::1]:22");
	bad(FWD_STDIO, "inner", "Bad stdio forwarding specification 'inner'");
	bad(FWD_STDIO, "inner:0",
	    "Bad stdio forwarding specification 'inner:0'");
	bad(FWD_STDIO, "inner:22:x",
	    "Bad stdio forwarding specification 'inner:22:x'");
	bad(FWD_STDIO, "/tmp/x", "Bad stdio forwarding specification "
	    "'/tmp/x'");
}

static int
parses(const char *s)
{
	struct fwd_spec fs;
	char e[64];

	if (fwd_spec_parse(FWD_LOCAL, s, &fs, e, sizeof e) != 0)
		return 0;
	fwd_spec_free(&fs);
	return 1;
}

static void
test_limits(void **state)
{
	char spec[2200];

	(void)state;
	/* A host of NI_MAXHOST bytes is refused, one less is taken. */
	snprintf(spec, sizeof spec, "1:%0*d:2", 1024, 0);
	assert_true(parses(spec));
	snprintf(spec, sizeof spec, "1:%0*d:2", 1025, 0);
	assert_false(parses(spec));
	/* A path must fit sun_path with its NUL. */
	memset(spec, 'p', 107);
	spec[0] = '/';
	strcpy(spec + 107, ":web:80");
	assert_true(parses(spec));
	memset(spec, 'p', 108);
	spec[0] = '/';
	strcpy(spec + 108, ":web:80");
	assert_false(parses(spec));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_local_bad),
		cmocka_unit_test(test_dynamic),
		cmocka_unit_test(test_remote),
		cmocka_unit_test(test_stdio),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
