/*
 * Connection methods: each turns its arguments into the argv of a process
 * whose stdin/stdout lead to a /bin/sh that reads stage 0.
 */
#include <string.h>

#include "bootstrap.h"

static char **
method_local_argv(char *const *args, char *why, size_t whylen)
{
	char **argv = xcalloc(4, sizeof *argv);

	(void)why;
	(void)whylen;
	(void)args;
	argv[0] = xstrdup("/bin/sh");
	argv[1] = xstrdup("-c");
	argv[2] = xstrdup(boot_remote_cmd());
	return argv;
}

static const struct boot_method methods[] = {
	{ "local", 0, method_local_argv },
};

const struct boot_method *
boot_method_find(const char *name)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	}
	return NULL;
}
