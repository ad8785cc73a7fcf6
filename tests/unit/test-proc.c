/*
 * Unit tests for child reaping (proc.c) in a program with children of
 * its own: while a libevent loop on one thread starts and watches
 * children, another thread's system("exit 3") must still get 3 (a
 * waitpid(-1) on the loop would take its child's status); watched
 * children are reported with their status, the others left alone; and
 * proc_wait_all waits for and kills only what was watched.  Run twice:
 * with pidfds, then in a child process where a seccomp filter makes
 * pidfd_open fail with ENOSYS, as on kernels before 5.3 (the polling
 * fallback).
 */
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/thread.h>

#include "router.h"
#include "loop.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open	434
#endif

#define NSYSTEM		300
#define WATCH_STATUS	7

static struct event_base *base;

static atomic_int	 stop;		/* the loop thread's children: enough */
static atomic_int	 started;	/* children the loop watched */
static atomic_int	 reported;	/* ... and heard of */
static atomic_int	 reported_bad;	/* ... with a wrong status or pid */

static void
msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static pid_t
child_exit(int code, int ms)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (ms > 0)
			msleep(ms);
		_exit(code);
	}
	assert_true(pid > 0);
	return pid;
}

static void
counted_exit(pid_t pid, int status, void *arg)
{
	if ((pid_t)(intptr_t)arg != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != WATCH_STATUS)
		atomic_fetch_add(&reported_bad, 1);
	atomic_fetch_add(&reported, 1);
}

/* The loop's own work: a child every few milliseconds, watched. */
static void
spawn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event *ev = arg;
	struct timeval tv = { 0, 10000 };
	pid_t pid;

	(void)fd;
	(void)what;
	if (atomic_load(&stop)) {
		if (atomic_load(&reported) == atomic_load(&started))
			event_base_loopbreak(base);
		else
			evtimer_add(ev, &tv);
		return;
	}
	if ((pid = fork()) == 0)
		_exit(WATCH_STATUS);
	if (pid > 0) {
		atomic_fetch_add(&started, 1);
		proc_watch(pid, counted_exit, (void *)(intptr_t)pid);
	}
	evtimer_add(ev, &tv);
}

static void *
loop_main(void *arg)
{
	struct event *ev;

	(void)arg;
	ev = evtimer_new(base, spawn_cb, event_self_cbarg());
	spawn_cb(-1, 0, ev);
	event_base_dispatch(base);
	event_free(ev);
	return NULL;
}

static int
setup(void **state)
{
	(void)state;
	base = event_base_new();
	proc_init(base);
	atomic_store(&stop, 0);
	atomic_store(&started, 0);
	atomic_store(&reported, 0);
	atomic_store(&reported_bad, 0);
	return base == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	event_base_free(base);
	return 0;
}

/* The case: system() on one thread, the loop reaping on another. */
static void
test_system(void **state)
{
	pthread_t t;
	int st, good = 0;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, loop_main, NULL), 0);
	for (int i = 0; i < NSYSTEM; i++) {
		st = system("exit 3");
		if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 3)
			good++;
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	print_message("system(\"exit 3\"): %d of %d returned 3; the loop "
	    "watched %d children of its own\n", good, NSYSTEM,
	    atomic_load(&started));
	assert_int_equal(good, NSYSTEM);
	assert_true(atomic_load(&started) > 0);
	assert_int_equal(atomic_load(&reported), atomic_load(&started));
	assert_int_equal(atomic_load(&reported_bad), 0);
}

struct seen {
	pid_t	pid;
	int	status;
	int	calls;
};

static void
seen_exit(pid_t pid, int status, void *arg)
{
	struct seen *s = arg;

	s->calls++;
	s->pid = pid;
	s->status = status;
}

/* Each watched child's own status; an unwatched one is left to us. */
static void
test_status(void **state)
{
	struct seen s[4];
	pid_t pid[4], other;
	siginfo_t si;
	int st;

	(void)state;
	memset(s, 0, sizeof s);
	pid[0] = child_exit(0, 0);
	pid[1] = child_exit(3, 50);
	if ((pid[2] = fork()) == 0) {
		raise(SIGTERM);
		_exit(1);
	}
	/* Exited (a zombie) before it is watched. */
	pid[3] = child_exit(5, 0);
	assert_int_equal(waitid(P_PID, pid[3], &si, WEXITED | WNOWAIT), 0);
	other = child_exit(9, 0);
	for (int i = 0; i < 4; i++)
		proc_watch(pid[i], seen_exit, &s[i]);
	assert_true(LOOP_RUN_UNTIL(base, s[0].calls && s[1].calls &&
	    s[2].calls && s[3].calls, 10000));
	/* Once each, no later call. */
	loop_run_for(base, 100);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(s[i].calls, 1);
		assert_int_equal(s[i].pid, pid[i]);
	}
	assert_true(WIFEXITED(s[0].status) && WEXITSTATUS(s[0].status) == 0);
	assert_true(WIFEXITED(s[1].status) && WEXITSTATUS(s[1].status) == 3);
	assert_true(WIFSIGNALED(s[2].status) &&
	    WTERMSIG(s[2].status) == SIGTERM);
	assert_true(WIFEXITED(s[3].status) && WEXITSTATUS(s[3].status) == 5);
	assert_int_equal(waitpid(other, &st, 0), other);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 9);
}

/* A child someone else reaps is still reported, as LOST. */
static void
test_lost(void **state)
{
	struct seen s = { 0, 0, 0 };
	pid_t pid;
	int st;

	(void)state;
	pid = child_exit(4, 100);
	proc_watch(pid, seen_exit, &s);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(LOOP_RUN_UNTIL(base, s.calls, 10000));
	assert_int_equal(s.status, PROC_STATUS_LOST);
}

/* Blocks forever, as a sleeping child of ours. */
static pid_t
child_pause(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	assert_true(pid > 0);
	return pid;
}

/* Reap pid, once it has come back to us: an orphan, reparented. */
static pid_t
reap_orphan(pid_t pid, int *st)
{
	uint64_t end = now_usec() + 10000000;
	pid_t r;

	while ((r = waitpid(pid, st, WNOHANG)) <= 0 && now_usec() < end)
		msleep(5);
	return r;
}

static void
test_wait_all(void **state)
{
	struct seen s1 = { 0, 0, 0 }, s2 = { 0, 0, 0 };
	siginfo_t si;
	int p[2], st;
	pid_t w1, w2, g, other;
	uint64_t t0, took;

	(void)state;
	/* The orphans of what we kill come back to us, to be reaped. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	other = child_pause();

	/* Waits for the watched child, not for the other. */
	w1 = child_exit(0, 200);
	proc_watch(w1, seen_exit, &s1);
	t0 = now_usec();
	proc_wait_all(20000);
	took = (now_usec() - t0) / 1000;
	print_message("proc_wait_all: %llu ms for a child of 200 ms\n",
	    (unsigned long long)took);
	assert_true(took < 10000);
	assert_int_equal(waitpid(w1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	assert_int_equal(waitpid(other, NULL, WNOHANG), 0);
	/* Reaped there, not reported: that was the end. */
	loop_run_for(base, 50);
	assert_int_equal(s1.calls, 0);

	/* Kills the watched child that stays, and its group; not the other. */
	assert_int_equal(pipe(p), 0);
	if ((w2 = fork()) == 0) {
		setpgid(0, 0);
		if ((g = fork()) == 0) {
			for (;;)
				pause();
		}
		if (write(p[1], &g, sizeof g) != sizeof g)
			_exit(1);
		for (;;)
			pause();
	}
	assert_true(w2 > 0);
	close(p[1]);
	assert_int_equal(read(p[0], &g, sizeof g), sizeof g);
	close(p[0]);
	proc_watch(w2, seen_exit, &s2);
	proc_wait_all(300);
	/* Dead; reaped there, or too late for it and reported by the loop. */
	memset(&si, 0, sizeof si);
	if (waitid(P_PID, w2, &si, WEXITED | WNOWAIT) == 0) {
		assert_true(LOOP_RUN_UNTIL(base, s2.calls, 10000));
		assert_true(WIFSIGNALED(s2.status) &&
		    WTERMSIG(s2.status) == SIGKILL);
	} else {
		assert_int_equal(errno, ECHILD);
		assert_int_equal(s2.calls, 0);
	}
	assert_int_equal(reap_orphan(g, &st), g);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_int_equal(waitpid(other, NULL, WNOHANG), 0);
	assert_int_equal(kill(other, SIGKILL), 0);
	assert_int_equal(waitpid(other, &st, 0), other);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_system, setup, teardown),
	cmocka_unit_test_setup_teardown(test_status, setup, teardown),
	cmocka_unit_test_setup_teardown(test_lost, setup, teardown),
	cmocka_unit_test_setup_teardown(test_wait_all, setup, teardown),
};

/* pidfd_open fails with ENOSYS from here on, in this process only. */
static int
no_pidfd(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof f / sizeof f[0], f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
		return -1;
	errno = 0;
	if (syscall(SYS_pidfd_open, getpid(), 0) != -1 || errno != ENOSYS)
		return -1;
	return 0;
}

int
main(void)
{
	pid_t pid;
	int rc, fd, st;

	evthread_use_pthreads();
	if ((fd = syscall(SYS_pidfd_open, getpid(), 0)) >= 0)
		close(fd);
	else
		print_message("this kernel has no pidfd_open: both runs "
		    "poll\n");
	rc = cmocka_run_group_tests_name("proc, pidfd", tests, NULL, NULL);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (no_pidfd() != 0) {
			print_message("no seccomp filter here: the polling "
			    "fallback is not tested\n");
			_exit(0);
		}
		_exit(cmocka_run_group_tests_name("proc, polling", tests,
		    NULL, NULL));
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 1;
	return rc != 0 ? rc : WEXITSTATUS(st);
}
