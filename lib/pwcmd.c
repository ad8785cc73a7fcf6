/*
 * A password command (routes file: password-command) run from the event
 * loop, by spindle alone and by the daemon alike: the daemon keeps
 * serving while it runs, and one that hangs (waiting on a pinentry
 * nobody sees, or keeping its output open) is killed once its time is
 * up, however much or little it prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"

#define PWCMD_MAX	1024

struct pwcmd {
	pid_t		 pid;
	int		 fd;
	struct event	*ev;
	struct event	*timer;
	char		 out[PWCMD_MAX];	/* not an evbuffer: wiped */
	size_t		 len;
	int		 eof;
	int		 exited;
	int		 status;
	int		 cancelled;
	int		 secs;
	int		 timedout;
	char		*cmd;
	pwcmd_done_fn	*done;
	void		*arg;
};

static void
pwcmd_free(struct pwcmd *p)
{
	/* What it printed is a password: gone from memory, not just freed. */
	explicit_bzero(p->out, sizeof p->out);
	if (p->ev != NULL)
		event_free(p->ev);
	if (p->timer != NULL)
		event_free(p->timer);
	if (p->fd >= 0)
		close(p->fd);
	free(p->cmd);
	free(p);
}

/* Both its output and its exit are in: the first line, or why not. */
static void
pwcmd_finish(struct pwcmd *p)
{
	char *line = NULL, *err = NULL, *text, *nl;
	size_t len;

	if (!p->exited || (!p->eof && !p->cancelled))
		return;
	if (!p->cancelled) {
		/* The first line, without CR LF, else all it printed. */
		if (p->len > 0) {
			nl = memchr(p->out, '\n', p->len);
			len = nl != NULL ? (size_t)(nl - p->out) : p->len;
			/* Up to a NUL: password_free wipes no further. */
			len = strnlen(p->out, len);
			if (len > 0 && p->out[len - 1] == '\r')
				len--;
			line = memcpy(xmalloc(len + 1), p->out, len);
			line[len] = '\0';
		}
		if (p->timedout)
			err = xprintf("password command '%s' gave no password "
			    "within %d s (password-timeout)", p->cmd, p->secs);
		else if (p->status != 0) {
			text = proc_status_text(p->status);
			err = xprintf("password command '%s' %s", p->cmd,
			    text);
			free(text);
		} else if (line == NULL)
			err = xprintf("password command '%s' printed "
			    "nothing", p->cmd);
		if (err != NULL && line != NULL) {
			explicit_bzero(line, strlen(line));
			free(line);
			line = NULL;
		}
		p->done(line, err, p->arg);
		free(err);
	}
	pwcmd_free(p);
}

static void
pwcmd_exit(pid_t pid, int status, void *arg)
{
	struct pwcmd *p = arg;

	(void)pid;
	p->exited = 1;
	p->status = status;
	pwcmd_finish(p);
}

/* Its time is up: killed, with whatever of its group holds its output
 * open; its exit finishes it (at once if it has exited). */
static void
pwcmd_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pwcmd *p = arg;

	(void)fd;
	(void)what;
	p->timedout = 1;
	kill(-p->pid, SIGKILL);	/* it leads its own group */
	p->eof = 1;
	event_del(p->ev);
	pwcmd_finish(p);	/* if it had exited already */
}

static void
pwcmd_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pwcmd *p = arg;
	char buf[256];
	ssize_t n;

	(void)what;
	/* Straight into our buffer; what does not fit is drained. */
	if (p->len < sizeof p->out)
		n = read(fd, p->out + p->len, sizeof p->out - p->len);
	else {
		n = read(fd, buf, sizeof buf);
		explicit_bzero(buf, sizeof buf);
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && p->len < sizeof p->out) {
		p->len += n;
		return;
	}
	if (n > 0)
		return;		/* more than a password: keep draining */
	p->eof = 1;
	event_del(p->ev);
	pwcmd_finish(p);
}

/* Run cmd with /bin/sh; done gets its first line (ours to free) or err. */
struct pwcmd *
pwcmd_start(struct event_base *base, const char *cmd, int secs,
    pwcmd_done_fn *done, void *arg)
{
	struct timeval tv = { secs, 0 };
	struct pwcmd *p;
	int fds[2], null;

	secret_nodump();	/* spindle alone too: we are to hold one */
	if (pipe2(fds, O_CLOEXEC) != 0)
		return NULL;
	p = xcalloc(1, sizeof *p);
	p->cmd = xstrdup(cmd);
	p->secs = secs;
	p->done = done;
	p->arg = arg;
	if ((p->pid = fork()) == 0) {
		null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(fds[1], 1);
		setsid();
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	p->fd = fds[0];
	if (p->pid < 0) {
		pwcmd_free(p);
		return NULL;
	}
	fd_nonblock(p->fd, 1);
	proc_watch(p->pid, pwcmd_exit, p);
	p->ev = event_new(base, p->fd, EV_READ | EV_PERSIST, pwcmd_read_cb, p);
	event_add(p->ev, NULL);
	p->timer = evtimer_new(base, pwcmd_timeout_cb, p);
	evtimer_add(p->timer, &tv);
	return p;
}

/* done is never called; the command is killed, and freed when reaped. */
void
pwcmd_cancel(struct pwcmd *p)
{
	if (p == NULL)
		return;
	p->cancelled = 1;
	kill(-p->pid, SIGKILL);	/* it leads its own group */
	event_del(p->ev);
	evtimer_del(p->timer);
}
