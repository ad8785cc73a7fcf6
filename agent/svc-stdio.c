/*
 * STDIO (handle SPN_H_STDIO), in a libspindle program's copy: its
 * stdout, its stderr and its spn_log records, as three credit-window
 * streams to sinks the master names.  Until the master asks, what is
 * written waits in the pipes (and a writer blocks once they are full);
 * from then on the master's pace is the writers' pace, and nothing here
 * holds more than a window of it.
 *
 * Requests (u32 op first):
 *   START: u32 window, u32 stdout sink, u32 stderr sink, u32 log sink; a
 *	sink of 0 discards that stream (fds 1 and 2 become /dev/null).
 *	Once per context: a second one is refused.
 *   SYNC: an empty REPLY once every byte the pipes held when it came has
 *	been sent (so it reaches the master before the reply): the
 *	master's shutdown waits for it, and loses no line.
 */
#include <sys/ioctl.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

#define STDIO_WINDOW_MIN	4096
#define STDIO_SYNCS		4	/* waiting at once */
#define STDIO_SYNC_POLL_MS	10
#define STDIO_PIPE		65536

struct stdio_sync {
	uint32_t	 to;
	uint32_t	 handle;
	uint64_t	 want[3];	/* src_bytes() to reach */
};

struct stdio_fwd {
	int		 fd;		/* the pipe's read end */
	int		 target;	/* the fd it serves (1, 2), or -1 */
	const char	*name;
	struct src	*src;
};

static struct stdio_fwd	 stdio_fwds[3];
static int		 stdio_asked;
static struct stdio_sync stdio_syncs[STDIO_SYNCS];
static size_t		 stdio_nsyncs;
static struct event	*stdio_sync_ev;

/* Writers of a stream nobody reads must neither block nor fail. */
static void
stdio_null(int target)
{
	int null;

	if (target < 0)
		return;
	if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		return;
	dup2(null, target);
	close(null);
}

/* The pipe's read end is closed with the source: a log writer gets
 * EPIPE (SIGPIPE is ignored here) and its record is dropped. */
static void
stdio_src_done(struct src *src, const char *why, void *arg)
{
	struct stdio_fwd *f = arg;

	(void)src;
	stdio_null(f->target);
	f->fd = -1;
	if (why != NULL)
		log_debug("%s stream ended: %s", f->name, why);
}

/* Answer each SYNC whose bytes have all gone; poll for the others. */
static void
stdio_sync_check(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, STDIO_SYNC_POLL_MS * 1000 };
	struct rt *rt = arg;
	struct stdio_sync *y;
	struct stdio_fwd *f;
	size_t i = 0, k;

	(void)fd;
	(void)what;
	while (i < stdio_nsyncs) {
		y = &stdio_syncs[i];
		for (k = 0; k < 3; k++) {
			f = &stdio_fwds[k];
			if (f->src != NULL && f->fd >= 0 &&
			    src_bytes(f->src) < y->want[k])
				break;
		}
		if (k < 3) {
			i++;
			continue;
		}
		rt_send(rt, SPN_K_REPLY, y->to, y->handle, 0, NULL, 0);
		*y = stdio_syncs[--stdio_nsyncs];
	}
	if (stdio_nsyncs > 0)
		evtimer_add(stdio_sync_ev, &tv);
}

static void
stdio_sync(struct rt *rt, const struct rt_msg *m)
{
	struct stdio_sync *y;
	struct stdio_fwd *f;
	int avail;

	if (stdio_nsyncs == STDIO_SYNCS) {
		rt_dead(rt, m, SPN_D_REFUSED, "too many STDIO syncs");
		return;
	}
	y = &stdio_syncs[stdio_nsyncs++];
	y->to = m->h.src;
	y->handle = m->h.reply_to;
	for (size_t k = 0; k < 3; k++) {
		f = &stdio_fwds[k];
		y->want[k] = 0;
		if (f->src == NULL || f->fd < 0)
			continue;
		if (ioctl(f->fd, FIONREAD, &avail) != 0 || avail < 0)
			avail = 0;
		y->want[k] = src_bytes(f->src) + avail;
	}
	if (stdio_sync_ev == NULL)
		stdio_sync_ev = evtimer_new(rt_base(rt), stdio_sync_check, rt);
	stdio_sync_check(-1, 0, rt);
}

static void
svc_stdio(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct stdio_fwd *f;
	struct upk u;
	uint32_t op, window, sink[3];

	(void)arg;
	if (m->h.kind != SPN_K_CALL)
		return;
	upk_init(&u, m->data, m->h.len);
	op = upk_u32(&u);
	if (!u.err && op == SPN_STDIO_OP_SYNC) {
		stdio_sync(rt, m);
		return;
	}
	window = upk_u32(&u);
	for (size_t i = 0; i < 3; i++)
		sink[i] = upk_u32(&u);
	if (u.err || op != SPN_STDIO_OP_START) {
		rt_dead(rt, m, SPN_D_FAILED, "malformed STDIO request");
		return;
	}
	if (stdio_asked) {
		rt_dead(rt, m, SPN_D_REFUSED, "stdio is already forwarded");
		return;
	}
	stdio_asked = 1;
	if (window > rt_window(rt))
		window = rt_window(rt);
	if (window < STDIO_WINDOW_MIN)
		window = STDIO_WINDOW_MIN;
	for (size_t i = 0; i < 3; i++) {
		f = &stdio_fwds[i];
		if (f->fd < 0)
			continue;
		if (sink[i] == 0) {
			stdio_null(f->target);
			close(f->fd);
			f->fd = -1;
			continue;
		}
		f->src = src_new(rt, f->fd, 1, m->h.src, sink[i],
		    stdio_src_done, f);
		src_set_credit(f->src, window);
		/* src_new grew it for throughput; a writer that outruns the
		 * master is better held back early (and pipe pages are
		 * counted per user). */
		fcntl(f->fd, F_SETPIPE_SZ, STDIO_PIPE);
	}
}

/* The read ends of the pipes on fds 1 and 2 and of spn_log's. */
void
svc_stdio_init(struct rt *rt, int out, int err, int logs)
{
	stdio_fwds[0] = (struct stdio_fwd){ out, STDOUT_FILENO, "stdout",
	    NULL };
	stdio_fwds[1] = (struct stdio_fwd){ err, STDERR_FILENO, "stderr",
	    NULL };
	stdio_fwds[2] = (struct stdio_fwd){ logs, -1, "log", NULL };
	rt_handle_add(rt, SPN_H_STDIO, RT_ALLOW_ANCESTORS, 0, svc_stdio,
	    NULL);
}
