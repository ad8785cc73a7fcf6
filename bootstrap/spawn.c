/*
 * Start a connection method's process with three pipes.  The child gets
 * its own session so terminal signals reach the master alone, which
 * relays them as it sees fit.
 */
#include <sys/ioctl.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "bootstrap.h"

#define PIPE_SIZE	(1024 * 1024)

static void
spawn_child(char *const *argv, int in[2], int out[2], int err[2], int rep,
    int slave, int mode)
{
	int e;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	setsid();
	/* The pty becomes our terminal (sudo's prompt, requiretty); the
	 * data stays on the pipes. */
	if (slave >= 0 && ioctl(slave, TIOCSCTTY, 0) != 0)
		_exit(127);
	if (mode == SPAWN_TTY_STDIO) {
		/* su talks to its user on stdin/stderr: give it the pty
		 * there and the data pipes on 3 and 4. */
		if (dup2(in[0], 3) < 0 || dup2(out[1], 4) < 0 ||
		    dup2(slave, 0) < 0 || dup2(slave, 1) < 0 ||
		    dup2(slave, 2) < 0)
			_exit(127);
	} else if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 ||
	    dup2(err[1], 2) < 0)
		_exit(127);
	execvp(argv[0], argv);
	e = errno;
	if (write(rep, &e, sizeof e) < 0)
		_exit(127);
	_exit(127);
}

/*
 * A pty whose slave we keep open, so reading the master never sees EIO
 * before the child has opened it.  It never echoes: PAM (su's) prints its
 * prompt before it turns echo off, and a password we type in between
 * would come back as the tool's first line, into errors and logs.
 */
static int
spawn_pty(struct spawn *sp, char *why, size_t whylen)
{
	struct termios t;
	char *name;

	sp->tty = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sp->tty < 0 || grantpt(sp->tty) != 0 || unlockpt(sp->tty) != 0 ||
	    (name = ptsname(sp->tty)) == NULL ||
	    (sp->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "cannot allocate a pty: %s",
		    strerror(errno));
		if (sp->tty >= 0)
			close(sp->tty);
		return -1;
	}
	if (tcgetattr(sp->slave, &t) == 0) {
		t.c_lflag &= ~(ECHO | ECHONL);
		if (tcsetattr(sp->slave, TCSANOW, &t) == 0)
			return 0;
	}
	snprintf(why, whylen, "cannot set up a pty: %s", strerror(errno));
	close(sp->slave);
	close(sp->tty);
	return -1;
}

int
spawn_start(char *const *argv, struct spawn *sp, int mode, char *why,
    size_t whylen)
{
	int in[2], out[2], err[2], rep[2], e;
	sigset_t all, old;
	ssize_t n;

	sp->tty = sp->slave = -1;
	if (mode != SPAWN_PIPES && spawn_pty(sp, why, whylen) != 0)
		return -1;
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
		/* Not the forking thread's mask: libspindle's loop thread
		 * blocks every signal, which ssh or sudo must not inherit. */
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		spawn_child(argv, in, out, err, rep[1], sp->slave, mode);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	close(rep[1]);
	e = errno;
	n = sp->pid < 0 ? 0 : read(rep[0], &e, sizeof e);
	close(rep[0]);
	if (sp->pid < 0 || n == sizeof e) {
		snprintf(why, whylen, "cannot run %s: %s", argv[0],
		    strerror(e));
		close(in[1]);
		close(out[0]);
		close(err[0]);
		if (sp->tty >= 0) {
			close(sp->tty);
			close(sp->slave);
		}
		return -1;
	}
	sp->in = in[1];
	sp->out = out[0];
	sp->err = err[0];
	return 0;
}
