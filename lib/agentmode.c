/*
 * Agent mode: a libspindle program started by spindle in a remote
 * context becomes that context's agent in spn_init() and never returns
 * to main().  It owns its process, so unlike the rest of the library it
 * installs signal handlers: a crash in an export writes one line naming
 * the function and the signal to the stderr its parent reads, which the
 * parent adds to the context's LOST text, and dies of the signal.
 */
#include <sys/auxv.h>
#include <sys/stat.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"

#define AGENT_MODE_PREFIX	"spindle:"
#define CRASH_STACK		65536

static const int crash_sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };

static struct agent_ops	 agent_mode_ops;

/*
 * Only a copy stage 0 started: named spindle:... (argv[0], or the name
 * the file fallback re-execs under), SPN_G in the environment (stage 0
 * exports it, the agent removes it), and its parent link on fd 0.  Never
 * a set-user-ID or set-group-ID program (or one with file capabilities):
 * whoever runs it chooses all three, and an agent does what its link
 * asks (exports, commands) with the program's privileges.  Stage 0 runs
 * images from memory, so a real copy is never one.
 */
static int
agent_mode_detect(int argc, char **argv)
{
	const char *name;
	struct stat st;

	if (getauxval(AT_SECURE) != 0)
		return 0;
	if (argc == 1)
		name = argv[0];
	else if (argc == 4 && strcmp(argv[1], "-u") == 0)
		name = argv[3];
	else
		return 0;
	if (name == NULL || strncmp(name, AGENT_MODE_PREFIX,
	    strlen(AGENT_MODE_PREFIX)) != 0)
		return 0;
	if (getenv("SPN_G") == NULL)
		return 0;
	if (fstat(0, &st) != 0 || !(S_ISFIFO(st.st_mode) ||
	    S_ISSOCK(st.st_mode)))
		return 0;
	return 1;
}

static void
crash_put(char *buf, size_t *n, size_t len, const char *s)
{
	while (*s != '\0' && *n < len - 1)
		buf[(*n)++] = *s++;
}

static void
crash_put_hex(char *buf, size_t *n, size_t len, uintptr_t v)
{
	char hex[2 + 2 * sizeof v + 1], *p = hex + sizeof hex - 1;

	*p = '\0';
	do {
		*--p = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v != 0);
	*--p = 'x';
	*--p = '0';
	crash_put(buf, n, len, p);
}

static const char *
crash_name(int sig)
{
	switch (sig) {
	case SIGSEGV:
		return "SIGSEGV (Segmentation fault)";
	case SIGBUS:
		return "SIGBUS (Bus error)";
	case SIGILL:
		return "SIGILL (Illegal instruction)";
	case SIGFPE:
		return "SIGFPE (Floating point exception)";
	}
	return "SIGABRT (Aborted)";
}

/* Async-signal-safe: one write, then die of the signal (the handler was
 * reset on entry). */
static void
crash_handler(int sig, siginfo_t *si, void *uc)
{
	const char *fn = export_running();
	char line[256];
	size_t n = 0;
	ssize_t r;

	(void)uc;
	crash_put(line, &n, sizeof line, "spindle: crash");
	if (fn != NULL) {
		crash_put(line, &n, sizeof line, " in ");
		crash_put(line, &n, sizeof line, fn);
	}
	crash_put(line, &n, sizeof line, ": ");
	crash_put(line, &n, sizeof line, crash_name(sig));
	if (sig == SIGSEGV || sig == SIGBUS) {
		crash_put(line, &n, sizeof line, " at ");
		crash_put_hex(line, &n, sizeof line, (uintptr_t)si->si_addr);
	}
	line[n++] = '\n';
	r = write(agent_stderr(), line, n);
	(void)r;
	raise(sig);
}

/* Per thread: a function that overflows its stack still gets its line. */
static void
crash_altstack(void)
{
	stack_t ss = { .ss_size = CRASH_STACK };

	if ((ss.ss_sp = malloc(CRASH_STACK)) == NULL)
		return;
	if (sigaltstack(&ss, NULL) != 0)
		free(ss.ss_sp);
}

static void
crash_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = crash_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof crash_sigs / sizeof *crash_sigs; i++)
		sigaction(crash_sigs[i], &sa, NULL);
	crash_altstack();
}

int
agent_mode_main(int *argc, char ***argv, const struct spn_opts *opts)
{
	if (!agent_mode_detect(*argc, *argv))
		return 0;
	agent_mode_ops.start = crash_init;
	agent_mode_ops.worker_start = crash_altstack;
	agent_mode_ops.run = export_run;
	agent_mode_ops.run_inline = export_run_inline;
	agent_mode_ops.workers = opts != NULL ? opts->workers : 0;
	agent_mode_ops.stdio = 1;
	agent_run(*argc, *argv, &agent_mode_ops);
}
