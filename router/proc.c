/*
 * Child processes, reaped one pid at a time.  The program that links us
 * may have children of its own (system(), popen(), posix_spawn() and
 * waitpid()): a waitpid(-1) here would take their statuses, and a SIGCHLD
 * handler is the program's to install, not ours.  Each watched pid gets a
 * pidfd (Linux 5.3), readable once the process has exited; where the
 * kernel has none, a timer polls the watched pids, and only those.
 *
 * Loop thread only: proc_init, proc_watch and proc_wait_all touch the
 * watch table without a lock.
 */
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router.h"

/* musl 1.2.3 has no wrapper, and older headers no number. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open	434
#endif

/* Polling backs off from the first to the last while nothing exits. */
#define PROC_POLL_MIN_MS	1
#define PROC_POLL_MAX_MS	50
/* How long proc_wait_all waits for what it killed to be reaped. */
#define PROC_KILL_WAIT_MS	500

struct watch {
	pid_t		 pid;
	proc_exit_fn	*fn;
	void		*arg;
	int		 fd;		/* pidfd, or -1: polled */
	struct event	*ev;
	int		 reaped;	/* by proc_wait_all */
};

static struct event_base	*proc_base;
static struct map		*proc_watches;
static struct event		*proc_poll_ev;
static int			 proc_poll_ms;
static int			 proc_npolled;
static int			 proc_no_pidfd;	/* the kernel said ENOSYS */

static void	proc_poll_arm(int);

void
proc_init(struct event_base *base)
{
	if (proc_watches == NULL)
		proc_watches = map_new();
	if (proc_poll_ev != NULL && proc_base != base) {
		event_free(proc_poll_ev);
		proc_poll_ev = NULL;
	}
	proc_base = base;
}

static int
proc_pidfd(pid_t pid)
{
	int fd;

	if (proc_no_pidfd)
		return -1;
	/* Close-on-exec always: the children we start never see it. */
	fd = syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0 && errno == ENOSYS)
		proc_no_pidfd = 1;
	return fd;
}

static void
proc_watch_free(struct watch *w)
{
	if (w == NULL)
		return;
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->fd >= 0)
		close(w->fd);
	else
		proc_npolled--;
	free(w);
}

/*
 * Has it exited?  Then report it and let the watch go.  A status already
 * taken by another waiter (the program reaps with waitpid(-1), or ignores
 * SIGCHLD) is reported as PROC_STATUS_LOST rather than never.
 */
static int
proc_try(struct watch *w)
{
	proc_exit_fn *fn = w->fn;
	void *arg = w->arg;
	pid_t pid = w->pid, r;
	int status;

	while ((r = waitpid(pid, &status, WNOHANG)) < 0 && errno == EINTR)
		;
	if (r == 0)
		return 0;
	if (r < 0)
		status = PROC_STATUS_LOST;
	/* Before the call: fn may watch a new child with the same pid. */
	map_del(proc_watches, pid);
	proc_watch_free(w);
	fn(pid, status, arg);
	return 1;
}

static void
proc_pidfd_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	proc_try(arg);
}

static void
proc_collect(uint32_t pid, void *v, void *arg)
{
	struct watch *w = v;
	pid_t **pp = arg;

	if (w->fd < 0)
		*(*pp)++ = pid;
}

/* The fallback: try each polled pid, then again a little later. */
static void
proc_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	pid_t *pids, *p, *end;
	struct watch *w;
	int reaped = 0;

	(void)fd;
	(void)what;
	(void)arg;
	/* Watchers may watch and reap others: work on a copy. */
	pids = p = xcalloc(proc_npolled + 1, sizeof *pids);
	map_each(proc_watches, proc_collect, &p);
	end = p;
	for (p = pids; p < end; p++) {
		if ((w = map_get(proc_watches, *p)) != NULL && w->fd < 0)
			reaped += proc_try(w);
	}
	free(pids);
	if (reaped)
		proc_poll_ms = PROC_POLL_MIN_MS;
	else if (proc_poll_ms < PROC_POLL_MAX_MS)
		proc_poll_ms *= 2;
	if (proc_npolled > 0)
		proc_poll_arm(proc_poll_ms);
}

static void
proc_poll_arm(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (proc_poll_ev == NULL)
		proc_poll_ev = evtimer_new(proc_base, proc_poll_cb, NULL);
	proc_poll_ms = ms;
	evtimer_add(proc_poll_ev, &tv);
}

/*
 * Call fn(pid, status, arg) once pid (our child) has exited, on the loop.
 * A child that has exited already is reported on the next loop pass.
 */
void
proc_watch(pid_t pid, proc_exit_fn *fn, void *arg)
{
	struct watch *w = xcalloc(1, sizeof *w);

	w->pid = pid;
	w->fn = fn;
	w->arg = arg;
	proc_watch_free(map_del(proc_watches, pid));
	map_put(proc_watches, pid, w);
	if ((w->fd = proc_pidfd(pid)) >= 0) {
		w->ev = event_new(proc_base, w->fd, EV_READ | EV_PERSIST,
		    proc_pidfd_cb, w);
		event_add(w->ev, NULL);
		return;
	}
	/* No pidfd (ENOSYS, or out of fds): poll, soon at first. */
	proc_npolled++;
	proc_poll_arm(PROC_POLL_MIN_MS);
}

/* "exited with status 3" / "killed by signal 9 (Killed)" */
char *
proc_status_text(int status)
{
	if (status == PROC_STATUS_LOST)
		return xstrdup("ended, its status taken by another waiter");
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
proc_reap_one(uint32_t pid, void *v, void *arg)
{
	struct watch *w = v;
	int *left = arg;
	pid_t r;

	if (w->reaped)
		return;
	r = waitpid((pid_t)pid, NULL, WNOHANG);
	if (r == 0 || (r < 0 && errno == EINTR))
		(*left)++;
	else
		w->reaped = 1;
}

static void
proc_kill(uint32_t pid, void *v, void *arg)
{
	struct watch *w = v;

	(void)arg;
	/*
	 * Children lead their own groups; take what they started too.  A
	 * group outlives its reaped leader, and its id is not reused while
	 * it does; the pid itself may be, once reaped.
	 */
	kill(-(pid_t)pid, SIGKILL);
	if (!w->reaped)
		kill((pid_t)pid, SIGKILL);
}

static void
proc_drop_reaped(uint32_t pid, void *v, void *arg)
{
	struct watch *w = v;
	pid_t **pp = arg;

	if (w->reaped)
		*(*pp)++ = pid;
}

/* Reap what of the watched children has exited, until none is left or
 * the time is up; how many are left. */
static int
proc_reap_until(uint64_t end)
{
	struct timespec ts = { 0, 1000000 };
	int left;

	for (;;) {
		left = 0;
		map_each(proc_watches, proc_reap_one, &left);
		if (left == 0 || now_usec() > end)
			return left;
		nanosleep(&ts, NULL);
	}
}

/* How many children are watched (not yet exited and reported). */
int
proc_watching(void)
{
	return proc_watches == NULL ? 0 : (int)map_count(proc_watches);
}

/*
 * Wait up to ms milliseconds for every watched child to exit, then kill
 * what is left, and the groups they lead, and reap it (SIGKILL is quick:
 * a long-lived program keeps no zombie).  Used on the way out, so a
 * finished tree leaves no process behind.  Children we did not start
 * (the program's own) are neither waited for nor reaped.  Watchers of
 * the children reaped here are not called: this is the end.
 */
void
proc_wait_all(int ms)
{
	pid_t *pids, *p, *last;

	if (proc_watches == NULL)
		return;
	proc_reap_until(now_usec() + (uint64_t)ms * 1000);
	map_each(proc_watches, proc_kill, NULL);
	proc_reap_until(now_usec() + PROC_KILL_WAIT_MS * 1000);
	pids = p = xcalloc(map_count(proc_watches) + 1, sizeof *pids);
	map_each(proc_watches, proc_drop_reaped, &p);
	last = p;
	for (p = pids; p < last; p++)
		proc_watch_free(map_del(proc_watches, *p));
	free(pids);
}
