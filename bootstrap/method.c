/*
 * Connection methods: each turns its arguments into the argv of a process
 * whose stdin/stdout lead to a /bin/sh that reads stage 0.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"

static char **
method_local_argv(char *const *args, int pw, char *why, size_t whylen)
{
	char **argv = xcalloc(4, sizeof *argv);

	(void)why;
	(void)whylen;
	(void)args;
	(void)pw;
	/* No login shell in between: /bin/sh reads stage 0 itself. */
	argv[0] = xstrdup("/bin/sh");
	argv[1] = xstrdup("-c");
	argv[2] = xstrdup(boot_stage0_reader());
	return argv;
}

static size_t
strv_len(char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

/*
 * ssh: args are HOST, USER ("" for ssh's default), then extra ssh
 * arguments.  The system ssh client keeps ~/.ssh/config, agents,
 * known_hosts and ProxyJump working.  It runs on a pty of ours: with a
 * password (only a hop marked for password login gets one) we answer its
 * prompt there; without one, BatchMode keeps it from prompting at all
 * and password login is off, so that no sshd on the way ever sees a
 * password attempt, whatever the configs say (ssh keeps the first value
 * of an option: ours come first).
 */
static char **
method_ssh_argv(char *const *args, int pw, char *why, size_t whylen)
{
	size_t n = strv_len(args), i = 0;
	char **argv;

	if (n < 2 || *args[0] == '\0' || *args[0] == '-') {
		snprintf(why, whylen, "ssh hop needs a host name");
		return NULL;
	}
	argv = xcalloc(n + 12, sizeof *argv);
	argv[i++] = xstrdup("ssh");
	argv[i++] = xstrdup("-T");
	if (pw) {
		/* ssh prompts on its terminal, our pty; one try only. */
		argv[i++] = xstrdup("-oBatchMode=no");
		argv[i++] = xstrdup("-oNumberOfPasswordPrompts=1");
	} else {
		argv[i++] = xstrdup("-oBatchMode=yes");
		argv[i++] = xstrdup("-oPasswordAuthentication=no");
		argv[i++] = xstrdup("-oKbdInteractiveAuthentication=no");
	}
	if (*args[1] != '\0') {
		argv[i++] = xstrdup("-l");
		argv[i++] = xstrdup(args[1]);
	}
	for (size_t k = 2; k < n; k++)
		argv[i++] = xstrdup(args[k]);
	argv[i++] = xstrdup("--");
	argv[i++] = xstrdup(args[0]);
	argv[i++] = xstrdup(boot_remote_cmd());
	return argv;
}

/* Only sudo writes on the pty, so an exact prompt cannot be faked by a
 * banner or a shell's "Permission denied". */
#define SUDO_PROMPT	"[spindle:sudo-password]"

/* sudo: args are the target USER, then sudo flags.  It runs on a pty (prompt, requiretty)
 * while stage 0 and the frames stay on pipes.  Without a password, -n
 * makes sudo refuse in its own words rather than prompt. */
static char **
method_sudo_argv(char *const *args, int pw, char *why, size_t whylen)
{
	size_t n = strv_len(args), i = 0;
	char **argv = xcalloc(n + 11, sizeof *argv);

	(void)why;
	(void)whylen;
	argv[i++] = xstrdup("sudo");
	argv[i++] = xstrdup(pw ? "-p" : "-n");
	if (pw)
		argv[i++] = xstrdup(SUDO_PROMPT);
	argv[i++] = xstrdup("-u");
	argv[i++] = xstrdup(n > 0 ? args[0] : "root");
	/* Then sudo's own flags from the route: -H -g GROUP -E -i. */
	for (size_t k = 1; k < n; k++)
		argv[i++] = xstrdup(args[k]);
	argv[i++] = xstrdup("--");
	argv[i++] = xstrdup("/bin/sh");
	argv[i++] = xstrdup("-c");
	argv[i++] = xstrdup(boot_stage0_reader());
	return argv;
}

/* su=USER: su cannot be told its prompt; its pty carries nothing else. */
static char **
method_su_argv(char *const *args, int pw, char *why, size_t whylen)
{
	char **argv = xcalloc(8, sizeof *argv);
	size_t i = 0;

	(void)pw;
	if (args == NULL || args[0] == NULL) {
		snprintf(why, whylen, "su hop needs a user");
		free(argv);
		return NULL;
	}
	argv[i++] = xstrdup("su");
	argv[i++] = xstrdup("-s");
	argv[i++] = xstrdup("/bin/sh");
	argv[i++] = xstrdup("-c");
	argv[i++] = xstrdup(boot_remote_cmd_fd34());
	argv[i++] = xstrdup("--");
	argv[i++] = xstrdup(args[0]);
	return argv;
}

/* doas=USER: -n without a password, so doas refuses in its own words. */
static char **
method_doas_argv(char *const *args, int pw, char *why, size_t whylen)
{
	char **argv = xcalloc(9, sizeof *argv);
	size_t i = 0;

	if (args == NULL || args[0] == NULL) {
		snprintf(why, whylen, "doas hop needs a user");
		free(argv);
		return NULL;
	}
	argv[i++] = xstrdup("doas");
	if (!pw)
		argv[i++] = xstrdup("-n");
	argv[i++] = xstrdup("-u");
	argv[i++] = xstrdup(args[0]);
	argv[i++] = xstrdup("--");
	argv[i++] = xstrdup("/bin/sh");
	argv[i++] = xstrdup("-c");
	argv[i++] = xstrdup(boot_stage0_reader());
	return argv;
}

/*
 * Lines a tool prints that never say why it failed: warnings before the
 * reason (sudo in a container or a netns, su's missing home), and with
 * ssh, whose verdict is its last line, what follows it ("Host key
 * verification failed." after "Host key for H has changed ...").
 */
static const char *const sudo_chatter[] = {
	"sudo: unable to resolve host *",
	"sudo: setrlimit(*",
	"sudo: unable to send audit message*",
	"sudo: error initializing audit plugin *",
	"sudo: unable to restore terminal settings*",
	NULL
};
static const char *const su_chatter[] = {
	"su: warning: *",
	NULL
};
static const char *const ssh_chatter[] = {
	"Warning: Permanently added *",
	"Host key verification failed.",
	"Connection closed by *",
	"Connection to * closed*",
	"Disconnected from *",
	NULL
};

static const struct boot_method methods[] = {
	{ "local", 0, NULL, NULL, SPAWN_PIPES, BOOT_STATUS_AGENT,
	    method_local_argv, BOOT_VERDICT_ALL, NULL },
	{ "ssh", 1, "assword:", "ssh", SPAWN_TTY, BOOT_STATUS_SSH,
	    method_ssh_argv, BOOT_VERDICT_LAST, ssh_chatter },
	{ "sudo", 0, SUDO_PROMPT, "sudo", SPAWN_TTY, BOOT_STATUS_RELAY,
	    method_sudo_argv, BOOT_VERDICT_FIRST, sudo_chatter },
	{ "su", 0, "assword:", "su", SPAWN_TTY_STDIO, BOOT_STATUS_RELAY,
	    method_su_argv, BOOT_VERDICT_FIRST, su_chatter },
	{ "doas", 0, "assword:", "doas", SPAWN_TTY, BOOT_STATUS_RELAY,
	    method_doas_argv, BOOT_VERDICT_FIRST, NULL },
};

int
boot_method_chatter(const struct boot_method *m, const char *line)
{
	for (size_t i = 0; m->chatter != NULL && m->chatter[i] != NULL; i++) {
		if (fnmatch(m->chatter[i], line, 0) == 0)
			return 1;
	}
	return 0;
}

const struct boot_method *
boot_method_find(const char *name)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	}
	return NULL;
}
