/*
 * FILE: put and get whole files over the credit-window streams of
 * stream.c.  Request: u32 op, str path, u32 mode (PUT), u32 sink handle
 * (GET).  A relative path is taken from the home directory of the user
 * the agent runs as, as sftp and EXEC do.
 *
 * PUT: the file is written to a temporary file in the destination's
 * directory (unnamed, O_TMPFILE, where the filesystem has it), the sink
 * handle and a control handle go back in READY; the caller streams, then
 * sends the number of bytes it sent to the control handle, and only if
 * they all arrived is the file given its mode, synced and renamed over
 * the destination: a reader sees the old file or the new one, whole.
 * The temporary file goes on any failure, on CANCEL (or the caller's
 * DEAD) and when the parent goes; an unnamed one even when we are killed.
 *
 * GET: INFO (size, mode, control handle), then the stream, then DONE.
 * Only regular files: a FIFO or a device has no end to speak of and would
 * block the loop on open (spn_exec with cat streams those).  Symlinks are
 * followed: the agent reads what its user could read anyway, with no
 * privilege to lend, and a link (/etc/localtime) is a file's usual name.
 *
 * Both end with DONE or FAILED (u32 errno, str "open /srv/x"), the errno
 * ours, for the caller to name the side that failed.  Syncing and
 * renaming wait for the disk, so they run on a thread of their own, the
 * loop free meanwhile.
 *
 * The ftmp functions are the master's too (lib/file.c, for GET).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

#define FILE_OPS_MAX	16	/* transfers at once in one context */
#define FTMP_TRIES	100

/* ftmp: a file that appears at its name whole, or not at all. */

static unsigned	ftmp_seq;

/* A name for the temporary file, next to base; dot-hidden. */
static char *
ftmp_name(const char *base)
{
	return xprintf(".%.200s.spn%ld.%u", base, (long)getpid(),
	    __atomic_fetch_add(&ftmp_seq, 1, __ATOMIC_RELAXED));
}

/*
 * Give the temporary file a name in the directory, new ones while they
 * are taken: create it there (proc NULL), or link the unnamed one there
 * by its name in /proc.
 */
static int
ftmp_place(struct ftmp *t, const char *proc)
{
	for (int i = 0; i < FTMP_TRIES; i++) {
		t->tmp = ftmp_name(t->base);
		if (proc != NULL ? linkat(AT_FDCWD, proc, t->dirfd, t->tmp,
		    AT_SYMLINK_FOLLOW) == 0 : (t->fd = openat(t->dirfd, t->tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600)) >= 0)
			return 0;
		free(t->tmp);
		t->tmp = NULL;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

void
ftmp_init(struct ftmp *t, int fd)
{
	memset(t, 0, sizeof *t);
	t->dirfd = -1;
	t->fd = fd;
}

/* Nothing left of it; -1 with errno kept. */
static int
ftmp_fail(struct ftmp *t)
{
	int e = errno;

	ftmp_abort(t);
	errno = e;
	return -1;
}

/*
 * Open a temporary file for path in its directory; -1 with errno (that
 * of the directory, or EISDIR when path names a directory).
 */
int
ftmp_open(struct ftmp *t, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	struct stat st;

	ftmp_init(t, -1);
	if (slash == NULL) {
		dir = xstrdup(".");
		t->base = xstrdup(path);
	} else {
		dir = slash == path ? xstrdup("/") :
		    xstrndup(path, slash - path);
		t->base = xstrdup(slash + 1);
	}
	t->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (t->dirfd < 0)
		goto fail;
	if (*t->base == '\0' || strcmp(t->base, ".") == 0 ||
	    strcmp(t->base, "..") == 0 || (fstatat(t->dirfd, t->base, &st,
	    AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))) {
		errno = EISDIR;
		goto fail;
	}
	/* Unnamed, it goes with the last fd even if we are killed; naming
	 * it later takes /proc (linkat of /proc/self/fd/N). */
	if (access("/proc/self/fd", X_OK) == 0) {
		t->fd = openat(t->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC,
		    0600);
		if (t->fd >= 0)
			return 0;
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			goto fail;
	}
	if (ftmp_place(t, NULL) == 0)
		return 0;
fail:
	return ftmp_fail(t);
}

/*
 * Give the file its mode, sync it, rename it over the destination; 0, or
 * -1 with errno and *what the call that failed.  Closes it either way;
 * on failure nothing is left of it.
 */
int
ftmp_commit(struct ftmp *t, mode_t mode, const char **what)
{
	char proc[64];

	*what = "chmod";
	if (fchmod(t->fd, mode & 07777) != 0)
		goto fail;
	*what = "fsync";
	if (fsync(t->fd) != 0)
		goto fail;
	*what = "link";
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", t->fd);
	if (t->tmp == NULL && ftmp_place(t, proc) != 0)
		goto fail;
	*what = "rename";
	if (renameat(t->dirfd, t->tmp, t->dirfd, t->base) != 0)
		goto fail;
	free(t->tmp);
	t->tmp = NULL;
	/* The rename itself, on disk; a filesystem may not sync
	 * directories, which is no failure of ours. */
	fsync(t->dirfd);
	ftmp_abort(t);
	return 0;
fail:
	return ftmp_fail(t);
}

/* Remove the temporary file (if it has a name), close everything. */
void
ftmp_abort(struct ftmp *t)
{
	if (t->tmp != NULL && t->dirfd >= 0)
		unlinkat(t->dirfd, t->tmp, 0);
	if (t->fd >= 0)
		close(t->fd);
	if (t->dirfd >= 0)
		close(t->dirfd);
	free(t->tmp);
	free(t->base);
	ftmp_init(t, -1);
}

/* The FILE service. */

struct fop {
	struct rt	*rt;
	uint32_t	 caller;
	uint32_t	 reply_to;
	uint32_t	 ctl;		/* our control handle, the map's key */
	char		*path;		/* as asked: for messages */
	mode_t		 mode;
	struct ftmp	 t;		/* PUT */
	struct sink	*sink;		/* PUT */
	struct src	*src;		/* GET */
	int		 sink_ended;
	int		 have_commit;	/* the caller's count came */
	uint64_t	 want;
	int		 committing;	/* the thread has t */
	int		 ended;
	int		 cerr;		/* the thread's result */
	const char	*cwhat;
	struct event	*ev;		/* the end, outside stream callbacks */
};

static struct map	*fops;

static void
file_reply_failed(struct rt *rt, uint32_t to, uint32_t reply_to, int e,
    const char *fmt, ...) SPN_PRINTF(5, 6);

static void
file_reply_failed(struct rt *rt, uint32_t to, uint32_t reply_to, int e,
    const char *fmt, ...)
{
	struct pk pk;
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	pk_init(&pk);
	pk_u32(&pk, SPN_FILE_FAILED);
	pk_u32(&pk, e);
	pk_str(&pk, text);
	rt_send_pk(rt, SPN_K_REPLY, to, reply_to, 0, &pk);
	pk_free(&pk);
}

static void
file_reply_u64(struct fop *f, uint32_t tag, uint64_t n, uint32_t a,
    uint32_t b)
{
	struct pk pk;

	pk_init(&pk);
	pk_u32(&pk, tag);
	pk_u32(&pk, n >> 32);
	pk_u32(&pk, n);
	if (tag == SPN_FILE_INFO) {
		pk_u32(&pk, a);
		pk_u32(&pk, b);
	}
	rt_send_pk(f->rt, SPN_K_REPLY, f->caller, f->reply_to, 0, &pk);
	pk_free(&pk);
}

static void
fop_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fop *f = arg;

	(void)fd;
	(void)what;
	sink_free(f->sink);
	src_free(f->src);
	ftmp_abort(&f->t);
	event_free(f->ev);
	free(f->path);
	free(f);
}

/* The last word has been said: free it all once out of the callbacks of
 * its streams. */
static void
fop_end(struct fop *f)
{
	if (f->ended)
		return;
	f->ended = 1;
	map_del(fops, f->ctl);
	rt_handle_del(f->rt, f->ctl);
	event_active(f->ev, EV_TIMEOUT, 0);
}

static void
fop_fail(struct fop *f, int e, const char *what)
{
	if (f->ended)
		return;
	if (e != 0)
		file_reply_failed(f->rt, f->caller, f->reply_to, e, "%s %s",
		    what, f->path);
	else
		file_reply_failed(f->rt, f->caller, f->reply_to, 0, "%s", what);
	fop_end(f);
}

static void
fop_committed(void *arg)
{
	struct fop *f = arg;

	f->committing = 0;
	if (f->cerr != 0)
		fop_fail(f, f->cerr, f->cwhat);
	else {
		file_reply_u64(f, SPN_FILE_DONE, f->want, 0, 0);
		fop_end(f);
	}
}

static void *
fop_commit_thread(void *arg)
{
	struct fop *f = arg;

	f->cerr = ftmp_commit(&f->t, f->mode, &f->cwhat) != 0 ? errno : 0;
	if (broker_submit(agent_broker(), fop_committed, f) != 0)
		_exit(0);	/* the loop is gone: so is the process */
	return NULL;
}

/* Every byte the caller sent is written: make the file real. */
static void
fop_try_commit(struct fop *f)
{
	pthread_attr_t attr;
	pthread_t th;
	char text[128];
	int e;

	if (!f->sink_ended || !f->have_commit || f->committing || f->ended)
		return;
	if (sink_bytes(f->sink) != f->want) {
		snprintf(text, sizeof text, "put %s: %llu of %llu bytes came",
		    f->path, (unsigned long long)sink_bytes(f->sink),
		    (unsigned long long)f->want);
		fop_fail(f, 0, text);
		return;
	}
	f->committing = 1;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&th, &attr, fop_commit_thread, f);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		f->cerr = ftmp_commit(&f->t, f->mode, &f->cwhat) != 0 ?
		    errno : 0;
		fop_committed(f);
	}
}

static void
fop_sink_done(struct sink *s, const char *why, void *arg)
{
	struct fop *f = arg;
	char text[512];

	f->sink_ended = 1;
	if (why == NULL) {
		fop_try_commit(f);
		return;
	}
	if (sink_errno(s) != 0)
		fop_fail(f, sink_errno(s), "write");
	else {
		snprintf(text, sizeof text, "put %s: %s", f->path, why);
		fop_fail(f, 0, text);
	}
}

static void
fop_src_done(struct src *s, const char *why, void *arg)
{
	struct fop *f = arg;
	char text[512];

	if (why == NULL) {
		file_reply_u64(f, SPN_FILE_DONE, src_bytes(s), 0, 0);
		fop_end(f);
	} else if (src_errno(s) != 0)
		fop_fail(f, src_errno(s), "read");
	else {
		snprintf(text, sizeof text, "get %s: %s", f->path, why);
		fop_fail(f, 0, text);
	}
}

/* The caller's count (PUT), CANCEL, or its DEAD: it went away. */
static void
fop_ctl(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct fop *f = arg;
	struct upk u;
	uint64_t hi;

	(void)rt;
	if (f->ended || f->committing)
		return;
	if (m->h.kind == SPN_K_CALL && f->sink != NULL && !f->have_commit) {
		upk_init(&u, m->data, m->h.len);
		hi = upk_u32(&u);
		f->want = hi << 32 | upk_u32(&u);
		if (u.err) {
			fop_fail(f, 0, "malformed FILE count");
			return;
		}
		f->have_commit = 1;
		fop_try_commit(f);
	} else if (m->h.kind == SPN_K_CANCEL || m->h.kind == SPN_K_DEAD)
		fop_fail(f, 0, "cancelled");
}

static struct fop *
fop_new(struct rt *rt, const struct rt_msg *m, const char *path)
{
	struct fop *f = xcalloc(1, sizeof *f);

	f->rt = rt;
	f->caller = m->h.src;
	f->reply_to = m->h.reply_to;
	f->path = xstrdup(path);
	ftmp_init(&f->t, -1);
	f->ev = event_new(rt_base(rt), -1, 0, fop_free_cb, f);
	f->ctl = rt_handle_add(rt, 0, RT_ALLOW_PEER, f->caller, fop_ctl, f);
	map_put(fops, f->ctl, f);
	return f;
}

static void
file_put(struct rt *rt, const struct rt_msg *m, const char *path,
    const char *full, uint32_t mode)
{
	struct ftmp t;
	struct fop *f;
	struct pk pk;

	if (ftmp_open(&t, full) != 0) {
		file_reply_failed(rt, m->h.src, m->h.reply_to, errno,
		    "open %s", path);
		return;
	}
	f = fop_new(rt, m, path);
	f->t = t;
	f->mode = mode & 07777;
	f->sink = sink_new(rt, f->t.fd, 0, f->caller, fop_sink_done, f);
	pk_init(&pk);
	pk_u32(&pk, SPN_FILE_READY);
	pk_u32(&pk, sink_handle(f->sink));
	pk_u32(&pk, f->ctl);
	rt_send_pk(rt, SPN_K_REPLY, f->caller, f->reply_to, 0, &pk);
	pk_free(&pk);
}

static void
file_get(struct rt *rt, const struct rt_msg *m, const char *path,
    const char *full, uint32_t sink)
{
	struct stat st;
	struct fop *f;
	int fd, e;

	/* O_NONBLOCK: a FIFO's open would wait for a writer. */
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0) {
		e = errno;
		if (fd >= 0)
			close(fd);
		file_reply_failed(rt, m->h.src, m->h.reply_to, e, "open %s",
		    path);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		if (S_ISDIR(st.st_mode))
			file_reply_failed(rt, m->h.src, m->h.reply_to, EISDIR,
			    "get %s", path);
		else
			file_reply_failed(rt, m->h.src, m->h.reply_to, 0,
			    "get %s: not a regular file", path);
		return;
	}
	fcntl(fd, F_SETFL, O_RDONLY);
	f = fop_new(rt, m, path);
	file_reply_u64(f, SPN_FILE_INFO, st.st_size, st.st_mode & 07777,
	    f->ctl);
	f->src = src_new(rt, fd, 1, f->caller, sink, fop_src_done, f);
}

static void
file_msg(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct upk u;
	uint32_t op, mode, handle;
	char *path, *full, *home, *name;

	(void)arg;
	if (m->h.kind != SPN_K_CALL)
		return;
	upk_init(&u, m->data, m->h.len);
	op = upk_u32(&u);
	path = upk_str(&u);
	mode = upk_u32(&u);
	handle = upk_u32(&u);
	if (u.err || path == NULL || (op != SPN_FILE_PUT &&
	    op != SPN_FILE_GET) || (op == SPN_FILE_GET && handle == 0)) {
		rt_dead(rt, m, SPN_D_FAILED, "malformed FILE request");
		free(path);
		return;
	}
	/* The path as messages say it, which reach a terminal. */
	name = str_clean(xstrdup(path));
	if (*path == '\0' || strlen(path) >= PATH_MAX)
		file_reply_failed(rt, m->h.src, m->h.reply_to, *path == '\0' ?
		    ENOENT : ENAMETOOLONG, "open %.64s", name);
	else if (map_count(fops) >= FILE_OPS_MAX)
		file_reply_failed(rt, m->h.src, m->h.reply_to, EBUSY,
		    "%s %s: %d transfers already", op == SPN_FILE_PUT ? "put" :
		    "get", name, FILE_OPS_MAX);
	else {
		if (*path != '/') {
			home = passwd_home(geteuid());
			full = xprintf("%s/%s", home, path);
			free(home);
		} else
			full = xstrdup(path);
		if (op == SPN_FILE_PUT)
			file_put(rt, m, name, full, mode);
		else
			file_get(rt, m, name, full, handle);
		free(full);
	}
	free(name);
	free(path);
}

static void
file_abort_one(uint32_t id, void *v, void *arg)
{
	struct fop *f = v;

	(void)id;
	(void)arg;
	if (!f->committing && f->t.tmp != NULL) {
		unlinkat(f->t.dirfd, f->t.tmp, 0);
		free(f->t.tmp);
		f->t.tmp = NULL;
	}
}

/* The agent is going away: no temporary file of ours may stay. */
void
svc_file_abort_all(void)
{
	if (fops != NULL)
		map_each(fops, file_abort_one, NULL);
}

void
svc_file_init(struct rt *rt)
{
	fops = map_new();
	rt_handle_add(rt, SPN_H_FILE, RT_ALLOW_ANCESTORS, 0, file_msg, NULL);
}
