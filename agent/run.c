/*
 * The agent: what runs in every context below the master, exec'd from
 * memory by stage 0.  The stock agent and a libspindle program in agent
 * mode share it; the program adds ops that run its exports.
 *
 * The link to the parent comes on fds 0 and 1, and is moved off them
 * before anything else can write there: fd 0 becomes /dev/null, fds 1
 * and 2 pipes this loop reads, so a printf in a remote function (or in a
 * command it starts) never corrupts a frame.  The stock agent sends each
 * line as a log record; a libspindle program's copy waits for its master
 * to ask for them as streams (svc-stdio.c), with spn_log's records.
 * The agent dies with its parent link, taking everything it started
 * along.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/thread.h>

#include "agent.h"

#define STDIO_LINE_MAX		4096		/* longer lines are cut */
#define STDIO_READ		16384
#define STDIO_QUEUED_MAX	(1024 * 1024)	/* parent link backlog */
#define STDIO_RETRY_MS		20

struct agent_out {
	int		 fd;
	int		 level;
	const char	*tag;
	struct evbuffer	*buf;
	int		 skipping;	/* the rest of a cut line */
	struct event	*ev;
	struct event	*retry;
};

static struct rt	*agent_rt;
static struct broker	*agent_brk;
static int		 agent_err = STDERR_FILENO;
static struct agent_out	 agent_outs[2];
static int		 agent_streams;	/* stdio as STDIO streams */
static int		 agent_log_wr = -1;
static int		 agent_log_rd = -1;

int
agent_stderr(void)
{
	return agent_err;
}

struct rt *
agent_router(void)
{
	return agent_rt;
}

struct broker *
agent_broker(void)
{
	return agent_brk;
}

int
agent_log_fd(void)
{
	return agent_log_wr;
}

/* Python and others leave signals ignored or blocked across exec. */
static void
agent_reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Stage 0 leaves the memfd and shell fds open; we need only 0, 1, 2. */
static void
agent_close_fds(void)
{
	DIR *d;
	struct dirent *de;
	int fd;

	if (syscall(SYS_close_range, 3, ~0U, 0) == 0)
		return;
	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		fd = atoi(de->d_name);
		if (fd > 2 && fd != dirfd(d))
			close(fd);
	}
	closedir(d);
}

/*
 * The file fallback runs us as `FILE -u FILE NAME`: unlink at once, then
 * re-exec from /proc/self/exe so ps shows NAME.
 */
static void
agent_from_file(int argc, char **argv)
{
	char *args[2];

	if (argc != 4 || strcmp(argv[1], "-u") != 0)
		return;
	unlink(argv[2]);
	args[0] = argv[3];
	args[1] = NULL;
	execv("/proc/self/exe", args);
}

/* fd, moved up and close-on-exec; -1 if it was not open. */
static int
agent_move_fd(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* A pipe whose write end is fd, read by the loop (once booted). */
static void
agent_pipe_to(int fd, struct agent_out *o, int level, const char *tag)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) != 0)
		fatal("pipe: %s", strerror(errno));
	if (dup2(p[1], fd) < 0)
		fatal("dup2: %s", strerror(errno));
	close(p[1]);
	o->fd = p[0];
	o->level = level;
	o->tag = tag;
	fd_nonblock(o->fd, 1);
}

/*
 * Link off fds 0 and 1 (returned in *in, *out), the original stderr kept
 * for lines of last resort, fd 0 /dev/null, fds 1 and 2 pipes.
 */
static void
agent_stdio_move(int *in, int *out)
{
	int null;

	if ((*in = agent_move_fd(0)) < 0 || (*out = agent_move_fd(1)) < 0)
		_exit(255);
	if ((agent_err = agent_move_fd(2)) < 0)
		agent_err = open("/dev/null", O_WRONLY | O_CLOEXEC);
	log_set_fd(agent_err);
	if ((null = open("/dev/null", O_RDONLY)) < 0)
		fatal("/dev/null: %s", strerror(errno));
	if (null != 0) {
		dup2(null, 0);
		close(null);
	}
	agent_pipe_to(1, &agent_outs[0], SPN_LOG_WARN, "stdout");
	agent_pipe_to(2, &agent_outs[1], SPN_LOG_WARN, "stderr");
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* spn_log's records: written whole (one write, at most PIPE_BUF) by any
 * thread, read by the STDIO service. */
static void
agent_log_pipe(void)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) != 0)
		fatal("pipe: %s", strerror(errno));
	agent_log_rd = p[0];
	agent_log_wr = p[1];
	fd_nonblock(agent_log_rd, 1);
}

static void
agent_out_line(struct agent_out *o, const char *line, int cut)
{
	char *text;

	text = xprintf("%s: %s%s", o->tag, line, cut ? "..." : "");
	rt_log_forward(agent_rt, o->level, str_clean(text));
	free(text);
}

/* Each line a record; a line with no end in sight is cut, and what
 * follows of it until its end dropped. */
static void
agent_out_lines(struct agent_out *o)
{
	char part[STDIO_LINE_MAX + 1];
	char *line;
	size_t n;

	for (;;) {
		if ((line = evbuf_readline(o->buf, &n)) != NULL) {
			if (!o->skipping)
				agent_out_line(o, line, 0);
			o->skipping = 0;
			free(line);
			continue;
		}
		if (evbuffer_get_length(o->buf) <= STDIO_LINE_MAX)
			return;
		n = evbuffer_remove(o->buf, part, STDIO_LINE_MAX);
		part[n] = '\0';
		if (!o->skipping)
			agent_out_line(o, part, 1);
		o->skipping = 1;
	}
}

/*
 * What a context writes to stdout and stderr goes to the master as log
 * records.  LOG has no credit: while the parent link is backed up, the
 * pipe is left to fill, and a writer blocks rather than our memory grow.
 */
static void
agent_out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent_out *o = arg;
	struct link *parent = rt_parent(agent_rt);
	struct timeval tv = { 0, STDIO_RETRY_MS * 1000 };
	int r, reads = 0;

	(void)what;
	if (parent == NULL)
		return;
	while (link_queued(parent) <= STDIO_QUEUED_MAX) {
		if ((r = evbuffer_read(o->buf, fd, STDIO_READ)) <= 0)
			return;
		agent_out_lines(o);
		if (++reads == 8)
			return;
	}
	event_del(o->ev);
	evtimer_add(o->retry, &tv);
}

static void
agent_out_retry(evutil_socket_t fd, short what, void *arg)
{
	struct agent_out *o = arg;

	event_add(o->ev, NULL);
	agent_out_cb(fd, what, o);
}

static void
agent_out_start(struct event_base *base)
{
	struct agent_out *o;

	for (size_t i = 0; i < 2; i++) {
		o = &agent_outs[i];
		if (o->ev != NULL)
			continue;
		o->buf = evbuffer_new();
		o->ev = event_new(base, o->fd, EV_READ | EV_PERSIST,
		    agent_out_cb, o);
		o->retry = evtimer_new(base, agent_out_retry, o);
		event_add(o->ev, NULL);
	}
}

static void
agent_log_sink(int level, const char *ctx, const char *text, void *arg)
{
	struct rt *rt = arg;

	if (rt_id(rt) == 0 || rt_parent(rt) == NULL)
		log_emit(level, ctx != NULL ? ctx : rt_name(rt), text);
	else
		rt_log_forward(rt, level, text);
}

static void
agent_boot(struct rt *rt, const struct rt_msg *m, struct upk *u, void *arg)
{
	struct pk pk;
	uint32_t level;

	(void)arg;
	level = upk_u32(u);
	if (!u->err)
		log_set_level(level);
	/* Workers' records reach the loop through the broker: router
	 * state is the loop's alone. */
	log_set_sink(agent_log_sink, rt);
	log_set_post(broker_log_post, agent_brk);
	pk_init(&pk);
	pk_u32(&pk, getpid());
	pk_str(&pk, boot_arch());
	rt_send_pk(rt, SPN_K_HELLO, m->h.src, m->h.reply_to, 0, &pk);
	pk_free(&pk);
	if (!agent_streams)
		agent_out_start(rt_base(rt));
	log_debug("up, pid %ld", (long)getpid());
}

/* Commands first; children see EOF and shut down in turn: wait so that
 * when we are gone, everything below us is gone too. */
static void
agent_shutdown(struct rt *rt)
{
	svc_exec_killall();
	svc_file_abort_all();
	svc_tcp_stop();
	svc_listen_stop();
	rt_close_children(rt, "parent gone");
	proc_wait_all(2000);
}

static void
agent_parent_lost(struct rt *rt, const char *why, void *arg)
{
	(void)arg;
	(void)why;
	agent_shutdown(rt);
	_exit(0);
}

/*
 * sudo, su and doas pass on to us the hangup of their terminal, which
 * comes as the hop above goes away, often before our parent link's EOF
 * does: end in order then, commands first, rather than by the default
 * action that leaves behind what a command's shell forked (only the
 * command itself has a parent-death signal).
 */
static void
agent_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	agent_shutdown(agent_rt);
	/* Then die of it: the parent's message names the signal. */
	signal(sig, SIG_DFL);
	raise(sig);
	_exit(128 + sig);
}

/* A context below us, or one we talked with (GONE), is gone: the calls
 * it made here are cancelled. */
static void
agent_route_lost(struct rt *rt, uint32_t ctx, const char *why, void *arg)
{
	(void)rt;
	(void)why;
	(void)arg;
	svc_call_gone(ctx);
}

static const struct rt_hooks agent_hooks = {
	.boot = agent_boot,
	.parent_lost = agent_parent_lost,
	.route_lost = agent_route_lost,
};

void
agent_run(int argc, char **argv, const struct agent_ops *ops)
{
	struct event_base *base;
	struct event *sigev[2];
	int in, out;

	agent_from_file(argc, argv);
	mem_init();
	unsetenv("SPN_Y");
	unsetenv("SPN_F");
	unsetenv("SPN_G");
	agent_reset_signals();
	agent_close_fds();
	agent_stdio_move(&in, &out);
	if (ops != NULL && ops->stdio) {
		agent_streams = 1;
		agent_log_pipe();
	}
	prctl(PR_SET_NAME, "spindle");
	if (ops != NULL && ops->start != NULL)
		ops->start();
	if (evthread_use_pthreads() != 0)
		fatal("cannot set up threads for the event loop");
	if ((base = event_base_new()) == NULL)
		fatal("cannot create an event loop");
	proc_init(base);
	agent_rt = rt_new(base, 0, "agent");
	agent_brk = broker_new(base, 256);
	rt_set_hooks(agent_rt, &agent_hooks);
	/* A program's tree (ops): its contexts may call each other's
	 * SPN_ALLOW_ANY exports.  The stock agent's subtrees are routes. */
	rt_set_sideways(agent_rt, ops != NULL);
	svc_basic_init(agent_rt);
	svc_exec_init(agent_rt);
	svc_file_init(agent_rt);
	svc_tcp_init(agent_rt);
	svc_listen_init(agent_rt);
	svc_call_init(agent_rt, agent_brk, ops);
	if (agent_streams)
		svc_stdio_init(agent_rt, agent_outs[0].fd, agent_outs[1].fd,
		    agent_log_rd);
	connect_service_init(agent_rt);
	link_new(agent_rt, in, out, LINK_PARENT, 0, "parent");
	sigev[0] = evsignal_new(base, SIGHUP, agent_signal, NULL);
	sigev[1] = evsignal_new(base, SIGTERM, agent_signal, NULL);
	event_add(sigev[0], NULL);
	event_add(sigev[1], NULL);
	event_base_dispatch(base);
	svc_exec_killall();
	_exit(0);
}
