/*
 * Child processes: one SIGCHLD event per process reaps every child and
 * hands the status to whoever watches that pid.
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

struct watch {
	proc_exit_fn	*fn;
	void		*arg;
};

static struct map	*proc_watches;
static struct event	*proc_sigev;

static void
proc_sigchld_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	proc_reap();
}

void
proc_init(struct event_base *base)
{
	if (proc_watches == NULL)
		proc_watches = map_new();
	if (proc_sigev == NULL) {
		proc_sigev = evsignal_new(base, SIGCHLD, proc_sigchld_cb, NULL);
		event_add(proc_sigev, NULL);
	}
}

void
proc_watch(pid_t pid, proc_exit_fn *fn, void *arg)
{
	struct watch *w = xcalloc(1, sizeof *w);

	w->fn = fn;
	w->arg = arg;
	free(map_del(proc_watches, pid));
	map_put(proc_watches, pid, w);
}

void
proc_reap(void)
{
	struct watch *w;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (proc_watches == NULL ||
		    (w = map_del(proc_watches, pid)) == NULL)
			continue;
		w->fn(pid, status, w->arg);
		free(w);
	}
}

/* "exited with status 3" / "killed by signal 9 (Killed)" */
char *
proc_status_text(int status)
{
	if (WIFEXITED(status))
		return xprintf("exited with status %d", WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return xprintf("killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	return xprintf("ended with wait status 0x%x", status);
}

/* What a signal that stops us did, in a shell's words: "interrupted". */
char *
proc_stop_text(int sig)
{
	switch (sig) {
	case SIGINT:
		return xstrdup("interrupted");
	case SIGTERM:
		return xstrdup("terminated");
	case SIGHUP:
		return xstrdup("hung up");
	}
	return xprintf("stopped by signal %d (%s)", sig, strsignal(sig));
}

static void
proc_kill(uint32_t pid, void *v, void *arg)
{
	(void)v;
	(void)arg;
	/* Children lead their own groups; take what they started too. */
	kill(-(pid_t)pid, SIGKILL);
	kill((pid_t)pid, SIGKILL);
}

/*
 * Wait up to ms milliseconds for every child to exit, then kill what is
 * left.  Used on the way out, so a finished tree leaves no process behind.
 */
void
proc_wait_all(int ms)
{
	struct timespec ts = { 0, 1000000 };
	uint64_t end = now_usec() + (uint64_t)ms * 1000;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, NULL, WNOHANG);
		if (pid < 0 && errno == ECHILD)
			return;
		if (pid > 0)
			continue;
		if (now_usec() > end)
			break;
		nanosleep(&ts, NULL);
	}
	if (proc_watches != NULL)
		map_each(proc_watches, proc_kill, NULL);
	nanosleep(&ts, NULL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}
