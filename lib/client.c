/*
 * The client side of the control socket: find the daemon (starting one if
 * asked, one at a time however many clients race), send a request, and
 * for RUN, hand over our stdio and relay signals until the command ends.
 */
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "lib.h"

#define CLIENT_START_WAIT_MS	10000
#define CLIENT_HELLO_WAIT_MS	30000	/* a daemon that is alive answers */
#define CLIENT_USR1_WAIT_MS	250	/* for a dying daemon's last close */

/*
 * A connection to the daemon in dir, or -1.  With nowait, a daemon whose
 * backlog is full counts as none (the connect does not wait for room);
 * the fd returned blocks either way.
 */
int
client_try(const char *dir, int nowait)
{
	struct sockaddr_un sun;
	char *path = xprintf("%s/sock", dir);
	int fd;

	if (ctl_sockaddr(path, &sun) != 0 ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    (nowait ? SOCK_NONBLOCK : 0), 0)) < 0) {
		free(path);
		return -1;
	}
	free(path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		close(fd);
		return -1;
	}
	if (nowait)
		fcntl(fd, F_SETFL, 0);
	return fd;
}

/* Our own binary, by name, for the daemon and the shim directory. */
char *
client_self_exe(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

/* Fork the daemon (grandchild, so nobody has to reap it) and wait for
 * its ready byte. */
static int
client_spawn(int verbose, char *why, size_t whylen)
{
	char *exe = client_self_exe(), fdarg[16], c;
	struct pollfd pfd;
	int p[2], status;
	pid_t pid;

	if (exe == NULL || pipe(p) != 0) {
		snprintf(why, whylen, "cannot start the daemon: %s",
		    strerror(errno));
		free(exe);
		return -1;
	}
	if ((pid = fork()) == 0) {
		close(p[0]);
		if (fork() == 0) {
			snprintf(fdarg, sizeof fdarg, "%d", p[1]);
			/* Warnings (routes lost) go to its log. */
			if (verbose)
				execl(exe, "spindle", verbose > 1 ? "-vv" :
				    "-v", "daemon", "serve", "--ready-fd", fdarg,
				    (char *)NULL);
			execl(exe, "spindle", "daemon", "serve",
			    "--ready-fd", fdarg, (char *)NULL);
			_exit(127);
		}
		_exit(0);
	}
	close(p[1]);
	free(exe);
	if (pid > 0)
		waitpid(pid, &status, 0);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	if (pid < 0 || poll(&pfd, 1, CLIENT_START_WAIT_MS) != 1 ||
	    read(p[0], &c, 1) != 1) {
		snprintf(why, whylen, "the daemon did not start (see its log "
		    "in %s)", ctl_dir_path());
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return 0;
}

static int
client_send_hello(int fd)
{
	struct pk pk;
	int rc;

	pk_init(&pk);
	pk_u32(&pk, SPN_CTL_VERSION);
	rc = ctl_send(fd, SPN_CTL_HELLO, 0, &pk, NULL, 0);
	pk_free(&pk);
	return rc;
}

/*
 * A request we could not send: the daemon may have said why before it
 * hung up (an ERROR stays readable after its close).  The text or NULL.
 */
static char *
client_refusal(int fd)
{
	struct ctl_buf b = { 0 };
	struct ctl_msg m;
	struct upk u;
	struct pollfd pfd = { fd, POLLIN, 0 };
	char *text = NULL;

	while (text == NULL && (ctl_pending(&b) || poll(&pfd, 1, 1000) == 1) &&
	    ctl_recv(fd, &b, &m, NULL, NULL) == 1) {
		if (m.type != SPN_CTL_ERROR)
			continue;
		upk_init(&u, m.body, m.len);
		text = upk_str(&u);
	}
	ctl_buf_free(&b);
	return text;
}

/* What a daemon's HELLO says of it: 0, or -1 for a short one. */
static int
client_daemon_parse(const struct ctl_msg *m, struct client_daemon *d)
{
	struct stat self;
	struct upk u;
	char id[64];

	upk_init(&u, m->body, m->len);
	(void)upk_u32(&u);
	d->pid = upk_u32(&u);
	d->version = upk_str(&u);
	d->exe = upk_str(&u);	/* its binary, as it sees it ... */
	d->id = upk_str(&u);	/* ... and that binary's DEV:INO */
	d->self = -1;
	if (u.err || d->pid <= 0) {
		client_daemon_free(d);
		return -1;
	}
	if (stat("/proc/self/exe", &self) == 0) {
		snprintf(id, sizeof id, "%llx:%llx",
		    (unsigned long long)self.st_dev,
		    (unsigned long long)self.st_ino);
		/* The daemon is not dumpable: only root may read its exe. */
		if (strcmp(d->id, "0:0") != 0 && *d->exe != '\0')
			d->self = strcmp(d->id, id) == 0;
	}
	return 0;
}

void
client_daemon_free(struct client_daemon *d)
{
	free(d->version);
	free(d->exe);
	free(d->id);
	d->version = d->exe = d->id = NULL;
}

/* Its binary is gone: an upgrade replaced or removed it. */
int
client_daemon_replaced(const struct client_daemon *d)
{
	size_t len = strlen(d->exe);

	return len > 10 && strcmp(d->exe + len - 10, " (deleted)") == 0;
}

/*
 * The daemon's HELLO: is it this binary?  Another build serves us as
 * long as it speaks our protocol, but a daemon left running by the
 * spindle an upgrade replaced, or by another version, is worth telling
 * (it runs its own agent, with its own bugs); another copy of the same
 * version is only worth -v.
 */
static void
client_daemon_check(const struct ctl_msg *m)
{
	static int said;	/* once, however many connections we make */
	struct client_daemon d;
	char *exe;

	if (said++ || client_daemon_parse(m, &d) != 0)
		return;
	/* (A daemon that said HELLO speaks our version: it sends all.) */
	if (d.self != 0) {
		client_daemon_free(&d);
		return;
	}
	exe = client_self_exe();
	if (client_daemon_replaced(&d))
		log_warn("the daemon (pid %ld) runs %s, since replaced or "
		    "removed; 'spindle daemon stop' makes the next command "
		    "start this one (%s)", (long)d.pid, d.exe,
		    exe ? exe : "?");
	else if (strcmp(d.version, PACKAGE_VERSION) != 0)
		log_warn("the daemon (pid %ld) is spindle %s (%s), this is "
		    "%s (%s); 'spindle daemon stop' makes the next command "
		    "start this one", (long)d.pid, d.version, d.exe,
		    PACKAGE_VERSION, exe ? exe : "?");
	else
		log_info("the daemon (pid %ld) runs %s, not this binary (%s)",
		    (long)d.pid, d.exe, exe ? exe : "?");
	free(exe);
	client_daemon_free(&d);
}

/*
 * HELLO both ways, waiting ms for the answer: 0, and with d, what it
 * says of the daemon; -1 and why.
 */
int
client_hello(int fd, int ms, struct client_daemon *d, char *why,
    size_t whylen)
{
	struct ctl_buf b = { 0 };
	struct ctl_msg m;
	struct upk u;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 }, none = { 0, 0 };
	char *text;
	int rc = -1;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	/* Sent or not, the answer says more: a refusal may be waiting. */
	(void)client_send_hello(fd);
	if (ctl_recv(fd, &b, &m, NULL, NULL) != 1)
		snprintf(why, whylen, "the daemon %s (see daemon.log in its "
		    "directory)", errno == EAGAIN ? "does not answer" :
		    "hung up");
	else if (m.type == SPN_CTL_ERROR) {
		upk_init(&u, m.body, m.len);
		text = upk_str(&u);
		snprintf(why, whylen, "daemon: %s", text ? text : "refused");
		free(text);
	} else if (m.type != SPN_CTL_HELLO)
		snprintf(why, whylen, "the daemon answered %u to hello",
		    m.type);
	else if (d != NULL && client_daemon_parse(&m, d) != 0)
		snprintf(why, whylen, "the daemon's hello is short");
	else
		rc = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
	ctl_buf_free(&b);
	return rc;
}

/*
 * A connection to the daemon, or -1 with why set, or CTL_DIR_UNUSABLE
 * when no daemon can be had here (why says how to fix it).  With start,
 * a daemon is started if none answers; a lock makes racing clients start
 * one.  Without hello, the caller sends HELLO with its request
 * (client_run does: one round trip less for every command).
 */
int
client_connect(int start, int hello, int verbose, char *why, size_t whylen)
{
	char *dir, *lock;
	int fd, lfd = -1, rc;

	if ((rc = ctl_dir(start, &dir, why, whylen)) != 0)
		return rc == CTL_DIR_UNUSABLE ? rc : -1;
	if ((fd = client_try(dir, 0)) < 0 && start) {
		lock = xprintf("%s/lock", dir);
		lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		free(lock);
		if (lfd >= 0)
			flock(lfd, LOCK_EX);
		if ((fd = client_try(dir, 0)) < 0 &&
		    client_spawn(verbose, why, whylen) == 0 &&
		    (fd = client_try(dir, 0)) < 0)
			snprintf(why, whylen, "cannot connect to the daemon: "
			    "%s", strerror(errno));
		if (lfd >= 0)
			close(lfd);
	} else if (fd < 0)
		snprintf(why, whylen, "no daemon is running");
	free(dir);
	if (fd >= 0 && hello && client_hello(fd, CLIENT_HELLO_WAIT_MS, NULL,
	    why, whylen) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Why the daemon is gone, from ctl_recv's 0 (EOF) or -1 (errno). */
static char *
client_lost_text(int rc)
{
	char *dir = ctl_dir_path(), *text;

	text = xprintf("lost the daemon (%s: killed or crashed? see "
	    "%s/daemon.log)", rc == 0 ? "connection closed" : strerror(errno),
	    dir);
	free(dir);
	return text;
}

/*
 * The daemon for a command on route: the one that runs, or one started
 * if route names a route of the routes file.  -1: none, the command
 * runs alone; -2: none could be started (said why).
 * With hello, as client_connect.
 */
int
client_for_route(const char *route, int hello, int verbose)
{
	char why[512];
	int start = routes_known(route), fd;

	if ((fd = client_connect(start, hello, verbose, why, sizeof why)) >= 0)
		return fd;
	if (!start) {
		/* An inline route needs no daemon, but the user should
		 * know why the routes it holds are out of reach. */
		if (fd == CTL_DIR_UNUSABLE)
			log_warn("%s (running without the daemon)", why);
		return -1;
	}
	fprintf(stderr, "spindle: %s\n", why);
	return -2;
}

/*
 * One request, one reply: returns the reply's status (0 for OK, the
 * daemon's code for ERROR) and its text in *text.
 */
int
client_call(int fd, uint32_t type, struct pk *body, char **text)
{
	struct ctl_buf b = { 0 };
	struct ctl_msg m;
	struct upk u;
	int rc = 255, n;

	*text = NULL;
	if (ctl_send(fd, type, 1, body, NULL, 0) != 0 &&
	    (*text = client_refusal(fd)) != NULL)
		return 255;
	if ((n = ctl_recv(fd, &b, &m, NULL, NULL)) != 1) {
		*text = client_lost_text(n);
		ctl_buf_free(&b);
		return 255;
	}
	upk_init(&u, m.body, m.len);
	*text = upk_str(&u);
	if (m.type == SPN_CTL_OK)
		rc = 0;
	else if (m.type == SPN_CTL_ERROR)
		rc = upk_u32(&u);
	ctl_buf_free(&b);
	return rc;
}

static int client_sigpipe[2] = { -1, -1 };

static void
client_sig(int sig)
{
	int e = errno;
	unsigned char c = sig;

	if (write(client_sigpipe[1], &c, 1) < 0)
		errno = e;
	errno = e;
}

static void
client_catch(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT,
	    SIGWINCH, SIGUSR1 };
	struct sigaction sa;

	if (pipe2(client_sigpipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = client_sig;
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaction(sigs[i], &sa, NULL);
}

static void
client_relay(int fd, int sig, int tty)
{
	struct winsize ws;
	struct pk pk;

	pk_init(&pk);
	if (sig == SIGWINCH) {
		if (ioctl(tty, TIOCGWINSZ, &ws) == 0) {
			pk_u32(&pk, ws.ws_row);
			pk_u32(&pk, ws.ws_col);
			ctl_send(fd, SPN_CTL_WINCH, 0, &pk, NULL, 0);
		}
	} else {
		pk_u32(&pk, sig);
		ctl_send(fd, SPN_CTL_SIGNAL, 0, &pk, NULL, 0);
	}
	pk_free(&pk);
}

/* Our copies of what we handed over go: readers see EOF when the daemon
 * closes its own. */
static void
client_drop_stdio(const int *fds, int nfds)
{
	int null = open("/dev/null", O_RDWR);

	for (int i = 0; i < nfds; i++) {
		if (fds[i] <= 1 && !isatty(fds[i]) && null >= 0)
			dup2(null, fds[i]);
	}
	if (null > 2)
		close(null);
}

/* The daemon went away under the command (killed, crashed): ssh's 255
 * for a connection that dropped. */
static int
client_lost(int rc)
{
	char *text = client_lost_text(rc);

	tty_restore();
	fprintf(stderr, "spindle: %s\n", text);
	free(text);
	return 255;
}

/*
 * rsync stops its ssh with SIGUSR1 when a transfer fails, as it does at
 * once when the daemon dies (its pipes were the daemon's): say why before
 * dying of it as ssh does, or the user sees only rsync's "Broken pipe".
 */
static int
client_usr1(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	/* A killed daemon's fds close one by one: rsync can see its pipe
	 * break, and signal us, before our socket to it hangs up. */
	if (poll(&pfd, 1, CLIENT_USR1_WAIT_MS) == 1 &&
	    (pfd.revents & POLLHUP))
		return client_lost(0);
	tty_restore();
	signal(SIGUSR1, SIG_DFL);
	raise(SIGUSR1);
	return 128 + SIGUSR1;
}

/*
 * A signal stopped us (a second Ctrl-C, or one before the command ran):
 * say so once, as a shell's 128+N; the shim, as ssh, quietly with 255.
 */
static int
client_stopped(int sig, const struct client_mode *mode)
{
	char *text;

	tty_restore();
	if (mode->ssh_status)
		return 255;
	/* Our stderr may be a pipe to a reader the same Ctrl-C ended. */
	signal(SIGPIPE, SIG_IGN);
	text = proc_stop_text(sig);
	fprintf(stderr, "spindle: %s\n", text);
	free(text);
	return 128 + sig;
}

static int
client_exit_msg(const struct ctl_msg *m, const struct client_mode *mode,
    int *code)
{
	struct upk u;
	char *err;

	upk_init(&u, m->body, m->len);
	if (m->type == SPN_CTL_STARTED || m->type == SPN_CTL_HELLO)
		return 0;
	tty_restore();
	if (m->type != SPN_CTL_EXIT && m->type != SPN_CTL_ERROR) {
		fprintf(stderr, "spindle: unexpected reply %u from the "
		    "daemon\n", m->type);
		*code = 255;
		return 1;
	}
	if (m->type == SPN_CTL_EXIT) {
		*code = upk_u32(&u);
		err = upk_str(&u);
		/* As OpenSSH: no exit status from a killed command. */
		if (upk_u32(&u) != 0 && mode->ssh_status)
			*code = 255;
		if (upk_u32(&u) == 1 && err != NULL)
			*err = '\0';	/* the daemon has said it */
	} else {
		err = upk_str(&u);
		*code = upk_u32(&u);
		/* ssh's callers take 255 for "no command ran". */
		if (mode->ssh_status)
			*code = 255;
	}
	if (err != NULL && *err != '\0')
		fprintf(stderr, "spindle: %s\n", err);
	free(err);
	return 1;
}

/*
 * Run a command through the daemon; our stdio goes to it with the
 * request.  Returns the exit status to leave with.
 */
static int
client_run_req(int fd, const struct ctl_spec *s, const struct exec_req *r,
    const struct client_mode *mode)
{
	int fds[3], nfds = 0, code = 255, rc, nsig = 0, hello = 0, e;
	int started = 0, lastsig = 0;
	uint32_t mask = 0;
	struct ctl_buf b = { 0 };
	struct ctl_msg m;
	struct pollfd pfd[2];
	struct pk pk;
	unsigned char sig;
	char *text;

	if (r->fd_in >= 0)
		mask |= 1, fds[nfds++] = r->fd_in;
	if (r->fd_out >= 0)
		mask |= 2, fds[nfds++] = r->fd_out;
	if (r->fd_err >= 0)
		mask |= 4, fds[nfds++] = r->fd_err;
	if (r->fd_err == STDERR_FILENO && !mode->quiet)
		mask |= SPN_CTL_SAY;
	client_catch();
	pk_init(&pk);
	ctl_run_pack(&pk, s, r, mask);
	rc = client_send_hello(fd);
	if (rc == 0)
		rc = ctl_send(fd, SPN_CTL_RUN, 1, &pk, fds, nfds);
	pk_free(&pk);
	if (rc != 0) {
		e = errno;
		if ((text = client_refusal(fd)) != NULL)
			fprintf(stderr, "spindle: %s\n", text);
		else
			fprintf(stderr, "spindle: cannot send to the daemon: "
			    "%s\n", strerror(e));
		free(text);
		return 255;
	}
	client_drop_stdio(fds, nfds);
	pfd[0].fd = fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = client_sigpipe[0];
	pfd[1].events = POLLIN;
	for (;;) {
		if (ctl_pending(&b))
			pfd[0].revents = POLLIN, pfd[1].revents = 0;
		else if ((rc = poll(pfd, client_sigpipe[0] >= 0 ? 2 : 1,
		    hello ? -1 : CLIENT_HELLO_WAIT_MS)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		} else if (rc == 0) {
			fprintf(stderr, "spindle: the daemon does not answer "
			    "(see daemon.log in %s)\n", ctl_dir_path());
			break;
		}
		while (pfd[1].revents && read(client_sigpipe[0], &sig, 1) == 1) {
			if (sig == SIGUSR1) {
				ctl_buf_free(&b);
				return client_usr1(fd);
			}
			/* As spindle alone: the second one stops us (the
			 * daemon then kills the command). */
			if (sig != SIGWINCH && nsig++ > 0) {
				ctl_buf_free(&b);
				return client_stopped(sig, mode);
			}
			if (sig != SIGWINCH)
				lastsig = sig;
			client_relay(fd, sig, r->fd_in >= 0 ? r->fd_in : 0);
		}
		if (!pfd[0].revents)
			continue;
		if ((rc = ctl_recv(fd, &b, &m, NULL, NULL)) != 1) {
			code = client_lost(rc);
			break;
		}
		if (m.type == SPN_CTL_HELLO && !hello)
			client_daemon_check(&m);
		hello |= m.type == SPN_CTL_HELLO;
		started |= m.type == SPN_CTL_STARTED;
		if (client_exit_msg(&m, mode, &code)) {
			/* The daemon gave up connecting on our signal. */
			if (!started && lastsig != 0 && code == 128 + lastsig)
				code = client_stopped(lastsig, mode);
			break;
		}
	}
	ctl_buf_free(&b);
	return code;
}

/* As client_run_req; with -v, then what the daemon logged about the
 * route meanwhile (it connected it: what its hops said is there). */
int
client_run(int fd, const struct ctl_spec *s, const struct exec_req *r,
    const struct client_mode *mode)
{
	struct dlog_mark mk;
	char *direct;
	int code;

	dlog_mark(&mk, mode->verbose);
	code = client_run_req(fd, s, r, mode);
	direct = s->direct == CTL_SPEC_SSH ? resolve_direct_name(s) : NULL;
	dlog_replay(&mk, s->route, direct);
	free(direct);
	return code;
}
