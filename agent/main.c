/*
 * The agent: a static binary exec'd from memory by stage 0.  It reads
 * frames from its parent on fd 0, writes to it on fd 1, offers the
 * built-in services, and dies with its parent link, taking everything it
 * started along.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

static struct rt	*agent_rt;

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
	log_set_sink(agent_log_sink, rt);
	pk_init(&pk);
	pk_u32(&pk, getpid());
	pk_str(&pk, boot_arch());
	rt_send_pk(rt, SPN_K_HELLO, m->h.src, m->h.reply_to, 0, &pk);
	pk_free(&pk);
	log_debug("up, pid %ld", (long)getpid());
}

/* Commands first; children see EOF and shut down in turn: wait so that
 * when we are gone, everything below us is gone too. */
static void
agent_shutdown(struct rt *rt)
{
	svc_exec_killall();
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

static const struct rt_hooks agent_hooks = {
	.boot = agent_boot,
	.parent_lost = agent_parent_lost,
};

int
main(int argc, char **argv)
{
	struct event_base *base;
	struct event *sigev[2];

	agent_from_file(argc, argv);
	mem_init();
	unsetenv("SPN_Y");
	unsetenv("SPN_F");
	unsetenv("SPN_G");
	agent_reset_signals();
	agent_close_fds();
	prctl(PR_SET_NAME, "spindle");
	if ((base = event_base_new()) == NULL)
		fatal("cannot create an event loop");
	proc_init(base);
	agent_rt = rt_new(base, 0, "agent");
	rt_set_hooks(agent_rt, &agent_hooks);
	svc_basic_init(agent_rt);
	svc_exec_init(agent_rt);
	connect_service_init(agent_rt);
	link_new(agent_rt, 0, 1, LINK_PARENT, 0, "parent");
	sigev[0] = evsignal_new(base, SIGHUP, agent_signal, NULL);
	sigev[1] = evsignal_new(base, SIGTERM, agent_signal, NULL);
	event_add(sigev[0], NULL);
	event_add(sigev[1], NULL);
	event_base_dispatch(base);
	svc_exec_killall();
	return 0;
}
