/*
 * EXEC: run a process with its stdio carried as streams on the bus.  The
 * process leads its own session, so cancelling signals the whole group.
 * Request: u32 flags, strv argv, strv env, str cwd, u32 stdout handle,
 * u32 stderr handle (0 = /dev/null), and for a pty u32 rows, u32 cols,
 * str TERM.  Replies: STARTED, then EXITED once the process is reaped and
 * both output streams have ended (or FAILED when it never ran).
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

struct proc {
	struct rt	*rt;
	uint32_t	 caller;
	uint32_t	 reply_to;
	uint32_t	 ctl;
	pid_t		 pid;
	struct sink	*in;
	struct src	*out;
	struct src	*err;
	int		 streams;	/* output streams still open */
	int		 tty;		/* pty master, or -1 */
	int		 exited;
	int		 status;
};

struct exec_args {
	uint32_t	 flags;
	char		**argv;
	char		**env;
	char		*cwd;
	uint32_t	 out_handle;
	uint32_t	 err_handle;
	uint32_t	 rows;
	uint32_t	 cols;
	char		*term;
};

/* What failed before the command ran: the child tells the agent. */
enum exec_stage {
	EXEC_STAGE_RUN,		/* exec itself: 126 or 127 */
	EXEC_STAGE_CWD,		/* the directory asked for */
	EXEC_STAGE_SETUP,	/* fds, pty, fork: ours */
};

struct exec_fail {
	int		 stage;
	int		 err;
};

static struct map	*procs;

static void
proc_reply(struct proc *p, uint32_t tag, uint32_t a, uint32_t b)
{
	struct pk pk;

	pk_init(&pk);
	pk_u32(&pk, tag);
	pk_u32(&pk, a);
	pk_u32(&pk, b);
	if (tag == SPN_EXEC_STARTED)
		pk_u32(&pk, p->ctl);
	rt_send_pk(p->rt, SPN_K_REPLY, p->caller, p->reply_to, 0, &pk);
	pk_free(&pk);
}

static void
proc_maybe_done(struct proc *p)
{
	int st = p->status, code;

	if (!p->exited || p->streams != 0)
		return;
	code = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
	/* A status some other waiter took is unknown: not a success. */
	if (st == PROC_STATUS_LOST)
		code = 255;
	proc_reply(p, SPN_EXEC_EXITED, code, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	map_del(procs, p->pid);
	rt_handle_del(p->rt, p->ctl);
	sink_free(p->in);
	src_free(p->out);
	src_free(p->err);
	free(p);
}

static void
proc_exited(pid_t pid, int status, void *arg)
{
	struct proc *p = arg;

	(void)pid;
	p->exited = 1;
	p->status = status;
	proc_maybe_done(p);
}

static void
proc_stream_done(struct src *s, const char *why, void *arg)
{
	struct proc *p = arg;

	(void)why;
	if (s == p->out)
		p->tty = -1;	/* the source closed it */
	p->streams--;
	proc_maybe_done(p);
}

static void
proc_stdin_done(struct sink *s, const char *why, void *arg)
{
	(void)s;
	(void)why;
	(void)arg;
}

/* CANCEL signals the group; losing the caller kills it outright. */
static void
proc_ctl(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct proc *p = arg;
	struct winsize ws = { 0 };
	struct upk u;
	uint32_t sig;

	/* Even once the process has exited, what it left in its group (a
	 * background job holding stdout) must still get the signal. */
	(void)rt;
	if (m->h.kind == SPN_K_CANCEL) {
		upk_init(&u, m->data, m->h.len);
		sig = upk_u32(&u);
		if (!u.err && sig > 0 && sig < NSIG)
			kill(-p->pid, sig);
	} else if (m->h.kind == SPN_K_WINCH && p->tty >= 0) {
		upk_init(&u, m->data, m->h.len);
		ws.ws_row = upk_u32(&u);
		ws.ws_col = upk_u32(&u);
		if (!u.err)
			ioctl(p->tty, TIOCSWINSZ, &ws);
	} else if (m->h.kind == SPN_K_DEAD)
		kill(-p->pid, SIGKILL);
}

/*
 * What sshd does before the user's shell: HOME, USER, LOGNAME and SHELL
 * of the user we are.
 */
static void
exec_as_sshd(void)
{
	char *home = passwd_home(getuid()), *user = passwd_name(getuid());
	char *sh = passwd_shell(getuid());

	setenv("HOME", home, 1);
	setenv("SHELL", sh, 1);
	if (user != NULL) {
		setenv("USER", user, 1);
		setenv("LOGNAME", user, 1);
	}
}

/*
 * Where the command starts.  Sessions as sshd runs them (and `spindle
 * run`) start in the home directory of the user the agent runs as, a
 * relative cwd is taken from there; a home that cannot be entered leaves
 * them in / with sshd's message (rsync's and scp's relative paths count
 * on all this).  -1: the cwd asked for cannot be entered.
 */
static int
exec_cwd(struct exec_args *a)
{
	int asked = a->cwd != NULL && *a->cwd != '\0';
	char *home;

	if (!(a->flags & (SPN_EXEC_HOME | SPN_EXEC_USERSHELL |
	    SPN_EXEC_LOGIN)) || (asked && *a->cwd == '/'))
		return asked ? chdir(a->cwd) : 0;
	home = passwd_home(geteuid());
	if (chdir(home) != 0) {
		if (!asked)
			dprintf(STDERR_FILENO, "Could not chdir to home "
			    "directory %s: %s\n", home, strerror(errno));
		if (chdir("/") != 0)
			return asked ? -1 : 0;
	}
	return asked ? chdir(a->cwd) : 0;
}

/* The environment: TERM of the pty first, so that an explicit one wins. */
static void
exec_env(struct exec_args *a)
{
	if (a->flags & SPN_EXEC_CLEARENV)
		clearenv();
	if ((a->flags & SPN_EXEC_PTY) && a->term != NULL && *a->term != '\0')
		setenv("TERM", a->term, 1);
	for (size_t i = 0; a->env != NULL && a->env[i] != NULL; i++)
		putenv(a->env[i]);
	if (a->flags & (SPN_EXEC_USERSHELL | SPN_EXEC_LOGIN))
		exec_as_sshd();
}

static void
exec_child(struct exec_args *a, int fds[3], int rep)
{
	struct exec_fail f = { EXEC_STAGE_SETUP, 0 };
	char *sh, *login;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	setsid();
	/* If the agent dies without cleaning up, so do we. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (int i = 0; i < 3; i++) {
		if (dup2(fds[i], i) < 0)
			goto fail;
	}
	if ((a->flags & SPN_EXEC_PTY) && ioctl(0, TIOCSCTTY, 0) != 0)
		goto fail;
	exec_env(a);
	f.stage = EXEC_STAGE_CWD;
	if (exec_cwd(a) != 0)
		goto fail;
	f.stage = EXEC_STAGE_RUN;
	if (a->flags & SPN_EXEC_USERSHELL) {
		sh = passwd_shell(getuid());
		execl(sh, sh, "-c", a->argv[0], (char *)NULL);
	} else if (a->flags & SPN_EXEC_SHELL)
		execl("/bin/sh", "sh", "-c", a->argv[0], (char *)NULL);
	else if (a->flags & SPN_EXEC_LOGIN) {
		sh = passwd_shell(getuid());
		login = xprintf("-%s", strrchr(sh, '/') != NULL ?
		    strrchr(sh, '/') + 1 : sh);
		execl(sh, login, (char *)NULL);
	} else
		execvp(a->argv[0], a->argv);
fail:
	f.err = errno;
	if (write(rep, &f, sizeof f) < 0)
		_exit(127);
	_exit(127);
}

/* A pty for the process (like ssh -t): it reads, writes and errs on the
 * slave; we write its input to the master and read all its output there. */
static int
exec_pty(struct exec_args *a, int child[3], int mine[3])
{
	struct winsize ws = { .ws_row = a->rows, .ws_col = a->cols };
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	char *name;

	if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 ||
	    (name = ptsname(m)) == NULL ||
	    (child[0] = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		if (m >= 0)
			close(m);
		return -1;
	}
	if (ws.ws_row != 0 && ws.ws_col != 0)
		ioctl(m, TIOCSWINSZ, &ws);
	child[1] = fcntl(child[0], F_DUPFD_CLOEXEC, 3);
	child[2] = fcntl(child[0], F_DUPFD_CLOEXEC, 3);
	mine[0] = fcntl(m, F_DUPFD_CLOEXEC, 3);
	mine[1] = m;
	mine[2] = -1;
	return child[1] < 0 || child[2] < 0 || mine[0] < 0 ? -1 : 0;
}

static int
exec_pipes(struct exec_args *a, int child[3], int mine[3])
{
	int p[2];

	if (a->flags & SPN_EXEC_PTY)
		return exec_pty(a, child, mine);

	for (int i = 0; i < 3; i++) {
		mine[i] = -1;
		if ((i == 0 && (a->flags & SPN_EXEC_NOSTDIN)) ||
		    (i == 1 && a->out_handle == 0) ||
		    (i == 2 && a->err_handle == 0)) {
			child[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (child[i] < 0)
				return -1;
			continue;
		}
		if (pipe2(p, O_CLOEXEC) != 0)
			return -1;
		fcntl(p[1], F_SETPIPE_SZ, 1024 * 1024);
		child[i] = i == 0 ? p[0] : p[1];
		mine[i] = i == 0 ? p[1] : p[0];
	}
	return 0;
}

/* Fork and exec; returns the pid, or -1 with what failed and why. */
static pid_t
exec_spawn(struct exec_args *a, int mine[3], struct exec_fail *f)
{
	int child[3] = { -1, -1, -1 }, rep[2];
	pid_t pid = -1;

	f->stage = EXEC_STAGE_SETUP;
	f->err = 0;
	mine[0] = mine[1] = mine[2] = -1;
	if (exec_pipes(a, child, mine) != 0 || pipe2(rep, O_CLOEXEC) != 0) {
		f->err = errno;
		goto out;
	}
	pid = fork();
	if (pid == 0)
		exec_child(a, child, rep[1]);
	close(rep[1]);
	if (pid < 0)
		f->err = errno;
	else if (read(rep[0], f, sizeof *f) == sizeof *f) {
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(rep[0]);
out:
	for (int i = 0; i < 3; i++) {
		if (child[i] >= 0)
			close(child[i]);
		if (pid < 0 && mine[i] >= 0)
			close(mine[i]);
	}
	return pid;
}

static int
exec_parse(const struct rt_msg *m, struct exec_args *a)
{
	struct upk u;

	upk_init(&u, m->data, m->h.len);
	a->flags = upk_u32(&u);
	a->argv = upk_strv(&u);
	a->env = upk_strv(&u);
	a->cwd = upk_str(&u);
	a->out_handle = upk_u32(&u);
	a->err_handle = upk_u32(&u);
	if (a->flags & SPN_EXEC_PTY) {
		a->rows = upk_u32(&u);
		a->cols = upk_u32(&u);
		a->term = upk_str(&u);
	}
	if (u.err || a->argv == NULL || a->argv[0] == NULL ||
	    (a->term != NULL && strlen(a->term) > SPN_EXEC_TERM_MAX))
		return -1;
	return 0;
}

static void
exec_args_free(struct exec_args *a)
{
	strv_free(a->argv);
	strv_free(a->env);
	free(a->cwd);
	free(a->term);
}

/* The status as a shell or env(1) gives it, and this side's errno text. */
static void
exec_failed(struct rt *rt, const struct rt_msg *m, struct exec_args *a,
    const struct exec_fail *f)
{
	struct pk pk;
	uint32_t code = SPN_EXEC_CANNOT;
	char *text;

	if (f->stage == EXEC_STAGE_CWD)
		text = xprintf("cannot change to %s: %s", a->cwd,
		    strerror(f->err));
	else if (f->stage == EXEC_STAGE_SETUP)
		text = xprintf("cannot start %s: %s", a->argv[0],
		    strerror(f->err));
	else {
		text = xprintf("%s: %s", a->argv[0], strerror(f->err));
		code = f->err == ENOENT ? 127 : 126;
	}
	pk_init(&pk);
	pk_u32(&pk, SPN_EXEC_FAILED);
	pk_u32(&pk, code);
	pk_str(&pk, text);
	rt_send_pk(rt, SPN_K_REPLY, m->h.src, m->h.reply_to, 0, &pk);
	pk_free(&pk);
	free(text);
}

static void
exec_msg(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct exec_args a;
	struct exec_fail f;
	struct proc *p;
	int mine[3];
	pid_t pid;

	(void)arg;
	memset(&a, 0, sizeof a);
	if (m->h.kind != SPN_K_CALL || exec_parse(m, &a) != 0) {
		rt_dead(rt, m, SPN_D_FAILED, "malformed EXEC request");
		exec_args_free(&a);
		return;
	}
	if ((pid = exec_spawn(&a, mine, &f)) < 0) {
		exec_failed(rt, m, &a, &f);
		exec_args_free(&a);
		return;
	}
	p = xcalloc(1, sizeof *p);
	p->rt = rt;
	p->caller = m->h.src;
	p->reply_to = m->h.reply_to;
	p->pid = pid;
	p->tty = (a.flags & SPN_EXEC_PTY) ? mine[1] : -1;
	p->ctl = rt_handle_add(rt, 0, RT_ALLOW_PEER, p->caller, proc_ctl, p);
	if (mine[0] >= 0)
		p->in = sink_new(rt, mine[0], 1, p->caller, proc_stdin_done, p);
	if (mine[1] >= 0) {
		p->out = src_new(rt, mine[1], 1, p->caller, a.out_handle,
		    proc_stream_done, p);
		p->streams++;
	}
	if (mine[2] >= 0) {
		p->err = src_new(rt, mine[2], 1, p->caller, a.err_handle,
		    proc_stream_done, p);
		p->streams++;
	}
	map_put(procs, pid, p);
	proc_watch(pid, proc_exited, p);
	proc_reply(p, SPN_EXEC_STARTED, pid, p->in ? sink_handle(p->in) : 0);
	exec_args_free(&a);
}

static void
exec_kill(uint32_t pid, void *v, void *arg)
{
	(void)v;
	(void)arg;
	kill(-(pid_t)pid, SIGKILL);
}

/* The agent is going away: nothing it started may outlive it. */
void
svc_exec_killall(void)
{
	if (procs != NULL)
		map_each(procs, exec_kill, NULL);
}

void
svc_exec_init(struct rt *rt)
{
	procs = map_new();
	rt_handle_add(rt, SPN_H_EXEC, RT_ALLOW_ANCESTORS, 0, exec_msg, NULL);
}
