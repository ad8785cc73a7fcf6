/*
 * Unit tests for the gateway's host key checks (fakessh/hostkey.c), as
 * the daemon and the gateway both run them: none yet, a good key, and
 * each way a key or its directory is refused, with the fix said.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../fakessh/fakessh.h"

static char	 base[] = "/tmp/spn-test-hostkey.XXXXXX";
static char	*key;
static char	*dir;
static char	 why[512];

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(base) == NULL)
		return -1;
	setenv("XDG_CONFIG_HOME", base, 1);
	key = hostkey_path();
	dir = xprintf("%s/spindle/gateway", base);
	return 0;
}

static int
teardown(void **state)
{
	char *cmd = xprintf("rm -rf %s", base);
	int rc;

	(void)state;
	rc = system(cmd);
	free(cmd);
	free(key);
	free(dir);
	return rc == 0 ? 0 : -1;
}

static void
put_key(mode_t mode)
{
	FILE *f;

	unlink(key);
	assert_non_null(f = fopen(key, "w"));
	fputs("not a real key\n", f);
	fclose(f);
	assert_int_equal(chmod(key, mode), 0);
}

static void
test_path(void **state)
{
	char *want = xprintf("%s/spindle/" HOSTKEY_NAME, base);

	(void)state;
	assert_string_equal(key, want);
	free(want);
}

static void
test_absent_then_good(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(hostkey_open(key, NULL, why, sizeof why), 1);
	assert_int_equal(hostkey_mkdir(key, why, sizeof why), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(hostkey_open(key, NULL, why, sizeof why), 1);
	put_key(0600);
	assert_int_equal(hostkey_open(key, &fd, why, sizeof why), 0);
	assert_true(fd >= 0);
	close(fd);
	put_key(0400);
	assert_int_equal(hostkey_open(key, NULL, why, sizeof why), 0);
}

static void
test_others_may_read(void **state)
{
	char *fix = xprintf("chmod 600 %s", key);
	int fd = 12345;

	(void)state;
	assert_int_equal(hostkey_mkdir(key, why, sizeof why), 0);
	put_key(0644);
	assert_int_equal(hostkey_open(key, &fd, why, sizeof why), -1);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(why, "is accessible by others (mode 0644)"));
	assert_non_null(strstr(why, fix));
	put_key(0604);
	assert_int_equal(hostkey_open(key, NULL, why, sizeof why), -1);
	put_key(0620);
	assert_int_equal(hostkey_open(key, NULL, why, sizeof why), -1);
	put_key(0600);
	free(fix);
}

static void
test_not_a_file(void **state)
{
	char *real = xprintf("%s.real", key);

	(void)state;
	assert_int_equal(hostkey_mkdir(key, why, sizeof why), 0);
	put_key(0600);
	assert_int_equal(rename(key, real), 0);
	assert_int_equal(symlink(real, key), 0);
	assert_int_equal(hostkey_open(key, NULL, why, sizeof why), -1);
	assert_non_null(strstr(why, "symbolic link"));
	unlink(key);
	assert_int_equal(mkfifo(key, 0600), 0);
	assert_int_equal(hostkey_open(key, NULL, why, sizeof why), -1);
	assert_non_null(strstr(why, "not a regular file"));
	unlink(key);
	assert_int_equal(rename(real, key), 0);
	assert_int_equal(hostkey_open(key, NULL, why, sizeof why), 0);
	free(real);
}

static void
test_directory(void **state)
{
	char *fix = xprintf("chmod 700 %s", dir);

	(void)state;
	assert_int_equal(hostkey_mkdir(key, why, sizeof why), 0);
	put_key(0600);
	assert_int_equal(chmod(dir, 0770), 0);
	assert_int_equal(hostkey_open(key, NULL, why, sizeof why), -2);
	assert_non_null(strstr(why, fix));
	assert_int_equal(chmod(dir, 0702), 0);
	assert_int_equal(hostkey_open(key, NULL, why, sizeof why), -2);
	/* Others may read and enter it: the key's own mode guards it. */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(hostkey_open(key, NULL, why, sizeof why), 0);
	assert_int_equal(chmod(dir, 0700), 0);
	free(fix);
}

/* Another user's key or directory: only root can make one here. */
static void
test_not_ours(void **state)
{
	(void)state;
	if (getuid() != 0)
		skip();
	assert_int_equal(hostkey_mkdir(key, why, sizeof why), 0);
	put_key(0600);
	assert_int_equal(chown(key, 65534, 65534), 0);
	assert_int_equal(hostkey_open(key, NULL, why, sizeof why), -1);
	assert_non_null(strstr(why, "belongs to uid 65534"));
	assert_int_equal(chown(key, 0, 0), 0);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	assert_int_equal(hostkey_open(key, NULL, why, sizeof why), -2);
	assert_non_null(strstr(why, "belongs to uid 65534"));
	assert_int_equal(chown(dir, 0, 0), 0);
	assert_int_equal(hostkey_open(key, NULL, why, sizeof why), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_absent_then_good),
		cmocka_unit_test(test_others_may_read),
		cmocka_unit_test(test_not_a_file),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_not_ours),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
