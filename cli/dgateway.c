/*
 * GATEWAY: the daemon's side of spindle-gateway, the SSH server in front
 * of the routes (fakessh/gateway.h).  The gateway is a child of ours,
 * started on the first GATEWAY (or with the daemon when the routes file
 * has gateway-listen), with a socketpair as its link; each client socket
 * (`spindle gateway connect`, ssh's ProxyCommand) goes to it over that
 * link in the same GATEWAY message the client sent us.  What it writes
 * on stderr goes into our log, line by line.  It ends on the link's EOF
 * (dgw_shutdown, or a new host key); when it dies it is started again
 * by the next request, and at once (with a back-off) when it has a TCP
 * listener to keep.
 *
 * The host key is checked here too (fakessh/hostkey.c) before a client
 * is handed over: a key others can read is refused with a reason the
 * client prints, rather than a gateway that dies behind a closed socket.
 * A key replaced on disk (`spindle gateway rekey`) gets a new gateway.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "cli.h"

#define DGW_NAME_MAX	255	/* a host name, as ssh was given it */
#define DGW_QUEUE_MAX	64	/* clients waiting for room on the link */
#define DGW_BACKOFF_MIN	1	/* seconds before restarting a listener's */
#define DGW_BACKOFF_MAX	60
#define DGW_STABLE	30	/* up this long: the back-off starts over */
#define DGW_LINE_MAX	4096	/* of its stderr: longer lines are cut */

struct dgw_item {
	char			*name;
	int			 fd;
	TAILQ_ENTRY(dgw_item)	 entry;
};

/* One gateway process; a replaced one lives on until its exit. */
struct dgw_proc {
	pid_t			 pid;
	int			 link;		/* -1 once closed */
	struct event		*wev;
	int			 err;		/* its stderr, or -1 */
	struct event		*eev;
	char			 line[DGW_LINE_MAX];
	size_t			 linelen;
	uint64_t		 started;
	int			 retired;	/* by us: its exit is no news */
};

static struct master	*dgw_master;
static struct dgw_proc	*dgw_cur;
static TAILQ_HEAD(, dgw_item) dgw_queue = TAILQ_HEAD_INITIALIZER(dgw_queue);
static size_t		 dgw_nqueue;
/* The message being written on the link: its bytes, how many went. */
static struct pk	 dgw_out;
static size_t		 dgw_out_off;
static int		 dgw_out_fd = -1;
static char		*dgw_why;	/* why none runs, for status */
static struct event	*dgw_timer;	/* a listener's gateway: restart */
static int		 dgw_backoff = DGW_BACKOFF_MIN;
static int		 dgw_stopping;
/* The host key the gateway runs with: 0 unknown (none yet). */
static dev_t		 dgw_key_dev;
static ino_t		 dgw_key_ino;

static void	dgw_start_cb(evutil_socket_t, short, void *);
static void	dgw_proc_unlink(struct dgw_proc *, int);

#if defined(HAVE_GATEWAY) || defined(SPN_STATIC_CLI)
/*
 * Only root or we may have put st there, and change it: the gateway we
 * run holds our host key and our clients.
 */
static int
gateway_st_ours(const struct stat *st)
{
	return (st->st_uid == 0 || st->st_uid == getuid()) &&
	    (st->st_mode & 022) == 0;
}

/*
 * The spindle-gateway next to our binary, if no one else could have put
 * it there: a spindle copied into /tmp (the static one, onto a jump
 * host) must not run what another user left beside it.
 */
static char *
gateway_beside(char *dir)
{
	struct stat st;
	char *path = xprintf("%s/spindle-gateway", dir);

	if (stat(dir, &st) == 0 && gateway_st_ours(&st) &&
	    stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    gateway_st_ours(&st) && access(path, X_OK) == 0)
		return path;
	free(path);
	return NULL;
}
#endif

/*
 * The binary: next to ours in a build tree (where `make` puts it), else
 * where `make install` put it; NULL when this build has none.  The
 * static spindle is copied alone: it takes a gateway only where one is.
 */
char *
gateway_path(void)
{
#if defined(HAVE_GATEWAY) || defined(SPN_STATIC_CLI)
	char *exe = client_self_exe(), *slash, *path = NULL;

	if (exe != NULL && (slash = strrchr(exe, '/')) != NULL) {
		*slash = '\0';
		path = gateway_beside(exe);
	}
	free(exe);
	if (path != NULL)
		return path;
#ifdef SPN_STATIC_CLI
	if (access(SPN_LIBEXECDIR "/spindle-gateway", X_OK) != 0)
		return NULL;
#endif
	return xstrdup(SPN_LIBEXECDIR "/spindle-gateway");
#else
	return NULL;
#endif
}

/* Why gateway_path() is NULL. */
const char *
gateway_none(void)
{
#ifdef SPN_STATIC_CLI
	return "this static spindle has no gateway (spindle-gateway is "
	    "neither next to it nor in " SPN_LIBEXECDIR ")";
#else
	return "spindle was built without the gateway (libssh)";
#endif
}

static void
dgw_set_why(const char *why)
{
	free(dgw_why);
	dgw_why = xstrdup(why);
}

/* The routes file asks for a TCP listener: the gateway runs always. */
static int
dgw_listens(void)
{
	struct routes_file rf;
	char why[512], *path = routes_file_path();
	int yes;

	if (routes_file_load(path, &rf, why, sizeof why) != 0) {
		free(path);
		return 0;
	}
	free(path);
	yes = rf.gateway.listen[0] != NULL;
	routes_file_free(&rf);
	return yes;
}

/*
 * The host key as it is now: -1 and why when it is refused.  A key
 * other than the one the running gateway read ends that gateway (its
 * connections with it): the next one reads the new key.
 */
static int
dgw_key_check(char *why, size_t whylen)
{
	char *path = hostkey_path();
	struct stat st;
	int rc;

	if (path == NULL) {
		snprintf(why, whylen, "gateway: no HOME or XDG_CONFIG_HOME "
		    "for the host key");
		return -1;
	}
	if ((rc = hostkey_open(path, NULL, why, whylen)) < 0) {
		free(path);
		return -1;
	}
	if (rc == 0 && stat(path, &st) == 0) {
		if (dgw_cur != NULL && dgw_key_ino != 0 &&
		    (st.st_dev != dgw_key_dev || st.st_ino != dgw_key_ino)) {
			log_info("gateway: new host key %s: a new gateway for "
			    "new connections", path);
			dgw_proc_unlink(dgw_cur, 1);
		}
		dgw_key_dev = st.st_dev;
		dgw_key_ino = st.st_ino;
	} else
		dgw_key_dev = dgw_key_ino = 0;
	free(path);
	return 0;
}

static void
dgw_item_free(struct dgw_item *it)
{
	if (it->fd >= 0)
		close(it->fd);
	free(it->name);
	free(it);
}

/* The message being written, and its socket, go. */
static void
dgw_queue_drop_out(void)
{
	pk_free(&dgw_out);
	pk_init(&dgw_out);
	if (dgw_out_fd >= 0)
		close(dgw_out_fd);
	dgw_out_fd = -1;
	dgw_out_off = 0;
}

static void
dgw_queue_clear(void)
{
	struct dgw_item *it;

	while ((it = TAILQ_FIRST(&dgw_queue)) != NULL) {
		TAILQ_REMOVE(&dgw_queue, it, entry);
		dgw_nqueue--;
		dgw_item_free(it);
	}
	dgw_queue_drop_out();
}

/* The link is closed: the gateway ends when it reads EOF.  retire: we
 * want it gone (a new key, the daemon stops), else it broke. */
static void
dgw_proc_unlink(struct dgw_proc *p, int retire)
{
	if (p->link >= 0) {
		event_free(p->wev);
		p->wev = NULL;
		close(p->link);
		p->link = -1;
	}
	p->retired |= retire;
	if (p == dgw_cur)
		dgw_cur = NULL;
	/* The message half-written went to the gateway that is gone. */
	if (dgw_out_off > 0)
		dgw_queue_drop_out();
}

/* The next message of the queue into dgw_out; 0: none. */
static int
dgw_next(void)
{
	struct dgw_item *it;
	uint8_t hdr[SPN_CTL_HDR];
	struct pk body;

	if (dgw_out.len > 0)
		return 1;
	if ((it = TAILQ_FIRST(&dgw_queue)) == NULL)
		return 0;
	TAILQ_REMOVE(&dgw_queue, it, entry);
	dgw_nqueue--;
	pk_init(&body);
	pk_str(&body, it->name);
	be32_put(hdr, 8 + body.len);
	be32_put(hdr + 4, SPN_CTL_GATEWAY);
	be32_put(hdr + 8, 0);
	pk_bytes(&dgw_out, hdr, sizeof hdr);
	pk_bytes(&dgw_out, body.buf, body.len);
	pk_free(&body);
	dgw_out_off = 0;
	dgw_out_fd = it->fd;
	it->fd = -1;
	dgw_item_free(it);
	return 1;
}

/* The fd goes with the message's first byte. */
static ssize_t
dgw_send(int link)
{
	struct iovec iov = { dgw_out.buf + dgw_out_off,
	    dgw_out.len - dgw_out_off };
	union {
		struct cmsghdr	 c;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (dgw_out_off == 0) {
		memset(&cm, 0, sizeof cm);
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int));
		cm.c.cmsg_level = SOL_SOCKET;
		cm.c.cmsg_type = SCM_RIGHTS;
		cm.c.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cm.c), &dgw_out_fd, sizeof(int));
	}
	return sendmsg(link, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Write what the link takes; the rest waits for EV_WRITE. */
static void
dgw_flush(void)
{
	struct dgw_proc *p = dgw_cur;
	ssize_t n;

	if (p == NULL || p->link < 0)
		return;
	while (dgw_next()) {
		n = dgw_send(p->link);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			event_add(p->wev, NULL);
			return;
		}
		/* Our user has too many fds in flight (the gateway reads
		 * none): this client goes, not the gateway. */
		if (n < 0 && errno == ETOOMANYREFS && dgw_out_off == 0) {
			log_warn("gateway (pid %ld): a client dropped: %s",
			    (long)p->pid, strerror(errno));
			dgw_queue_drop_out();
			continue;
		}
		if (n < 0) {
			log_warn("gateway (pid %ld): its link: %s",
			    (long)p->pid, strerror(errno));
			dgw_proc_unlink(p, 0);
			return;
		}
		if (dgw_out_off == 0 && dgw_out_fd >= 0) {
			close(dgw_out_fd);	/* the gateway has it now */
			dgw_out_fd = -1;
		}
		dgw_out_off += n;
		if (dgw_out_off == dgw_out.len) {
			pk_free(&dgw_out);
			pk_init(&dgw_out);
			dgw_out_off = 0;
		}
	}
}

static void
dgw_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	dgw_flush();
}

static void
dgw_restart_later(void)
{
	struct timeval tv = { dgw_backoff, 0 };

	if (dgw_timer == NULL)
		dgw_timer = evtimer_new(master_base(dgw_master), dgw_start_cb,
		    NULL);
	log_info("gateway: starting again in %d s (it has a TCP listener)",
	    dgw_backoff);
	evtimer_add(dgw_timer, &tv);
	dgw_backoff = dgw_backoff * 2 > DGW_BACKOFF_MAX ? DGW_BACKOFF_MAX :
	    dgw_backoff * 2;
}

/*
 * A line the gateway wrote on its stderr, into our log: so that it has
 * the log's time stamp and goes where the log goes after it rotated (a
 * stderr of its own would stay on the file it was given).  Its records
 * say "gateway: LEVEL: text"; anything else (a crash, the libc) is a
 * warning.
 */
static void
dgw_err_line(const char *line)
{
	static const int levels[] = { SPN_LOG_ERROR, SPN_LOG_WARN,
	    SPN_LOG_INFO, SPN_LOG_DEBUG };
	const char *p, *name;
	size_t n;

	if (*line == '\0')
		return;
	if (strncmp(line, "gateway: ", 9) != 0) {
		log_warn("gateway: %s", line);
		return;
	}
	p = line + 9;
	for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
		name = log_level_name(levels[i]);
		n = strlen(name);
		if (strncmp(p, name, n) == 0 && strncmp(p + n, ": ", 2) == 0) {
			log_msg(levels[i], "gateway: %s", p + n + 2);
			return;
		}
	}
	log_info("%s", line);
}

/* Read what is there; whole lines go to the log.  0: EOF. */
static int
dgw_err_read(struct dgw_proc *p)
{
	char *nl;
	size_t len;
	ssize_t n;

	n = read(p->err, p->line + p->linelen, sizeof p->line - 1 -
	    p->linelen);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 1 : 0;
	p->linelen += n;
	p->line[p->linelen] = '\0';
	while ((nl = memchr(p->line, '\n', p->linelen)) != NULL) {
		*nl = '\0';
		dgw_err_line(p->line);
		len = nl + 1 - p->line;
		memmove(p->line, nl + 1, p->linelen - len);
		p->linelen -= len;
	}
	/* Full without a line's end, or the end of it all: as it is. */
	if (p->linelen == sizeof p->line - 1 || (n == 0 && p->linelen > 0)) {
		p->line[p->linelen] = '\0';
		dgw_err_line(p->line);
		p->linelen = 0;
	}
	return n > 0;
}

static void
dgw_err_close(struct dgw_proc *p)
{
	if (p->err < 0)
		return;
	event_free(p->eev);
	p->eev = NULL;
	close(p->err);
	p->err = -1;
}

static void
dgw_err_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dgw_proc *p = arg;

	(void)fd;
	(void)what;
	if (dgw_err_read(p) == 0)
		dgw_err_close(p);
}

static void
dgw_exited(pid_t pid, int status, void *arg)
{
	struct dgw_proc *p = arg;
	char *text = proc_status_text(status), *why;

	why = xprintf("gateway (pid %ld) %s", (long)pid, text);
	if (!p->retired) {
		log_warn("%s", why);
		dgw_set_why(why);
	} else
		log_info("%s", why);
	free(why);
	free(text);
	/* Its last words first (it has exited: they are all there). */
	while (p->err >= 0 && dgw_err_read(p) > 0)
		;
	dgw_err_close(p);
	dgw_proc_unlink(p, 0);
	/* What it had not read died with it; what waits has nobody to
	 * read it until another starts. */
	if (dgw_cur == NULL)
		dgw_queue_clear();
	if (!p->retired && (now_usec() - p->started) / 1000000 >= DGW_STABLE)
		dgw_backoff = DGW_BACKOFF_MIN;
	if (!p->retired && dgw_cur == NULL && !dgw_stopping && dgw_listens())
		dgw_restart_later();
	free(p);
}

/* In the child: nothing of ours but the link and its stderr, then the
 * gateway. */
static void
dgw_exec(const char *path, int link, int err)
{
	char fdarg[16];
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	setsid();
	if (dup2(err, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0 ||
	    fcntl(link, F_SETFD, 0) != 0)
		_exit(127);
	snprintf(fdarg, sizeof fdarg, "%d", link);
	execl(path, "spindle-gateway", "serve", fdarg, (char *)NULL);
	_exit(127);
}

static int
dgw_spawn(char *why, size_t whylen)
{
	char *path = gateway_path();
	struct dgw_proc *p;
	int sp[2], ep[2];
	pid_t pid;

	if (path == NULL) {
		snprintf(why, whylen, "%s", gateway_none());
		return -1;
	}
	if (access(path, X_OK) != 0) {
		snprintf(why, whylen, "gateway: %s: %s", path,
		    strerror(errno));
		free(path);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
		snprintf(why, whylen, "gateway: socketpair: %s",
		    strerror(errno));
		free(path);
		return -1;
	}
	if (pipe2(ep, O_CLOEXEC) != 0) {
		snprintf(why, whylen, "gateway: pipe: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		free(path);
		return -1;
	}
	if ((pid = fork()) == 0)
		dgw_exec(path, sp[1], ep[1]);
	close(sp[1]);
	close(ep[1]);
	free(path);
	if (pid < 0) {
		snprintf(why, whylen, "gateway: fork: %s", strerror(errno));
		close(sp[0]);
		close(ep[0]);
		return -1;
	}
	p = xcalloc(1, sizeof *p);
	p->pid = pid;
	p->link = sp[0];
	p->started = now_usec();
	fcntl(p->link, F_SETFL, fcntl(p->link, F_GETFL) | O_NONBLOCK);
	p->wev = event_new(master_base(dgw_master), p->link, EV_WRITE,
	    dgw_write_cb, NULL);
	p->err = ep[0];
	fcntl(p->err, F_SETFL, fcntl(p->err, F_GETFL) | O_NONBLOCK);
	p->eev = event_new(master_base(dgw_master), p->err,
	    EV_READ | EV_PERSIST, dgw_err_cb, p);
	event_add(p->eev, NULL);
	proc_watch(pid, dgw_exited, p);
	dgw_cur = p;
	free(dgw_why);
	dgw_why = NULL;
	log_info("gateway started, pid %ld", (long)pid);
	return 0;
}

/* A gateway running with a key we accept, or -1 and why. */
static int
dgw_ensure(char *why, size_t whylen)
{
	if (dgw_key_check(why, whylen) != 0)
		return -1;
	if (dgw_cur != NULL)
		return 0;
	if (dgw_timer != NULL)
		evtimer_del(dgw_timer);
	return dgw_spawn(why, whylen);
}

static void
dgw_start_cb(evutil_socket_t fd, short what, void *arg)
{
	char why[512];

	(void)fd;
	(void)what;
	(void)arg;
	if (dgw_cur != NULL || dgw_stopping || !dgw_listens())
		return;
	if (dgw_ensure(why, sizeof why) != 0) {
		log_warn("%s", why);
		dgw_set_why(why);
		dgw_restart_later();	/* the key may be mended */
	}
}

void
dgw_init(struct master *m)
{
	struct timeval tv = { 0, 0 };
	char *path = gateway_path();
	int built = path != NULL;

	free(path);
	dgw_master = m;
	pk_init(&dgw_out);
	dgw_stopping = 0;
	if (!built || !dgw_listens())
		return;
	/* From the loop, once the daemon listens: the gateway connects. */
	dgw_timer = evtimer_new(master_base(m), dgw_start_cb, NULL);
	evtimer_add(dgw_timer, &tv);
}

/* A name ssh was given: bounded, printable, no spaces. */
static int
dgw_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > DGW_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)name[i] <= ' ' ||
		    (unsigned char)name[i] >= 0x7f)
			return 0;
	}
	return 1;
}

static void
dgw_reply(struct dconn *c, uint32_t id, int ok, const char *text, int code)
{
	struct pk pk;

	pk_init(&pk);
	pk_str(&pk, text);
	if (!ok)
		pk_u32(&pk, code);
	dconn_send(c, ok ? SPN_CTL_OK : SPN_CTL_ERROR, id, &pk);
	pk_free(&pk);
	dconn_hold(c, NULL, NULL);
}

/* GATEWAY without a socket: is one running (and why not)?  Starts
 * none; a gateway with a replaced key is retired, as for a client. */
static void
dgw_status(struct dconn *c, uint32_t id)
{
	char why[512], *text, *path = gateway_path();
	int built = path != NULL;

	free(path);
	if (!built) {
		dgw_reply(c, id, 0, gateway_none(), 1);
		return;
	}
	if (dgw_key_check(why, sizeof why) != 0) {
		dgw_reply(c, id, 0, why, 1);
		return;
	}
	if (dgw_cur != NULL) {
		text = xprintf("running, pid %ld", (long)dgw_cur->pid);
		dgw_reply(c, id, 1, text, 0);
		free(text);
		return;
	}
	text = xprintf("not running%s%s", dgw_why != NULL ? ": " : "",
	    dgw_why != NULL ? dgw_why : " (started by the first client)");
	dgw_reply(c, id, 0, text, 1);
	free(text);
}

void
dgw_request(struct dconn *c, const struct ctl_msg *m, struct upk *u)
{
	char why[512], *name = upk_str(u);
	struct dgw_item *it;
	struct stat st;
	int fd = dconn_take_fd(c);

	if (u->err || name == NULL || u->left != 0) {
		dgw_reply(c, m->id, 0, "malformed GATEWAY request", 255);
		goto out;
	}
	if (fd < 0) {
		dgw_status(c, m->id);
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		dgw_reply(c, m->id, 0, "gateway: what came is not a socket",
		    255);
		goto out;
	}
	if (!dgw_name_ok(name)) {
		dgw_reply(c, m->id, 0, "gateway: the name must be 1 to 255 "
		    "printable characters, no spaces", 255);
		goto out;
	}
	if (dgw_nqueue >= DGW_QUEUE_MAX) {
		dgw_reply(c, m->id, 0, "gateway: too many connections waiting "
		    "for it; try again later", 255);
		goto out;
	}
	if (dgw_ensure(why, sizeof why) != 0) {
		log_warn("%s", why);
		dgw_set_why(why);
		dgw_reply(c, m->id, 0, why, 255);
		goto out;
	}
	log_debug("gateway: a connection for %s from client %ld", name,
	    (long)dconn_pid(c));
	it = xcalloc(1, sizeof *it);
	it->name = name;
	it->fd = fd;
	name = NULL;
	fd = -1;
	TAILQ_INSERT_TAIL(&dgw_queue, it, entry);
	dgw_nqueue++;
	dgw_flush();
	dgw_reply(c, m->id, 1, "", 0);
out:
	if (fd >= 0)
		close(fd);
	free(name);
}

/* The daemon stops: the gateway ends on its link's EOF. */
void
dgw_shutdown(void)
{
	dgw_stopping = 1;
	if (dgw_timer != NULL)
		evtimer_del(dgw_timer);
	if (dgw_cur != NULL)
		dgw_proc_unlink(dgw_cur, 1);
	dgw_queue_clear();
}
