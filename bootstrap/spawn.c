/*
 * Start a connection method's process with three pipes.  The child gets
 * its own session so terminal signals reach the master alone, which
 * relays them as it sees fit.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bootstrap.h"

#define PIPE_SIZE	(1024 * 1024)

static void
spawn_child(char *const *argv, int in[2], int out[2], int err[2], int rep)
{
	int e;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	setsid();
	if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
		_exit(127);
	execvp(argv[0], argv);
	e = errno;
	if (write(rep, &e, sizeof e) < 0)
		_exit(127);
	_exit(127);
}

int
spawn_start(char *const *argv, struct spawn *sp, char *why, size_t whylen)
{
	int in[2], out[2], err[2], rep[2], e;
	sigset_t all, old;
	ssize_t n;

	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
	    pipe2(err, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	/* Bigger pipes mean fewer wakeups per megabyte; failure is fine. */
	fcntl(in[1], F_SETPIPE_SZ, PIPE_SIZE);
	fcntl(out[1], F_SETPIPE_SZ, PIPE_SIZE);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	sp->pid = fork();
	if (sp->pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		spawn_child(argv, in, out, err, rep[1]);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	close(rep[1]);
	if (sp->pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		close(in[1]);
		close(out[0]);
		close(err[0]);
		close(rep[0]);
		return -1;
	}
	n = read(rep[0], &e, sizeof e);
	close(rep[0]);
	if (n == sizeof e) {
		snprintf(why, whylen, "cannot run %s: %s", argv[0],
		    strerror(e));
		close(in[1]);
		close(out[0]);
		close(err[0]);
		return -1;
	}
	sp->in = in[1];
	sp->out = out[0];
	sp->err = err[0];
	return 0;
}
