/*
 * Control protocol plumbing shared by the daemon and its clients: the
 * runtime directory, message framing with fds attached, and the route
 * spec every request that names a route carries.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"

/* $SPINDLE_RUNTIME_DIR, $XDG_RUNTIME_DIR/spindle or /tmp/spindle-UID. */
char *
ctl_dir_path(void)
{
	const char *env = getenv("SPINDLE_RUNTIME_DIR");

	if (env != NULL && *env != '\0')
		return xstrdup(env);
	if ((env = getenv("XDG_RUNTIME_DIR")) != NULL && *env == '/')
		return xprintf("%s/spindle", env);
	return xprintf("/tmp/spindle-%u", (unsigned)getuid());
}

/* What is wrong with a runtime directory, and how to get going again. */
static void
ctl_dir_unusable(const char *dir, const struct stat *st, char *why,
    size_t whylen)
{
	static const char elsewhere[] = "set SPINDLE_RUNTIME_DIR to a "
	    "directory of your own";
	char *owner;

	if (S_ISLNK(st->st_mode) || !S_ISDIR(st->st_mode)) {
		snprintf(why, whylen, "runtime directory %s is not a "
		    "directory but a %s: remove it, or %s", dir,
		    S_ISLNK(st->st_mode) ? "symbolic link" : "file", elsewhere);
	} else if (st->st_uid != getuid()) {
		owner = passwd_name(st->st_uid);
		snprintf(why, whylen, "runtime directory %s belongs to uid "
		    "%u (%s), not to you: %s (mode 0700), or have it removed",
		    dir, (unsigned)st->st_uid, owner != NULL ? owner : "?",
		    elsewhere);
		free(owner);
	} else {
		snprintf(why, whylen, "runtime directory %s has mode %04o, "
		    "open to others: chmod 700 it, or %s", dir,
		    (unsigned)(st->st_mode & 07777), elsewhere);
	}
}

/*
 * The runtime directory in *dirp, created if asked and need be: 0, or
 * CTL_DIR_ABSENT (not asked to create it, and there is none: so no
 * daemon either), or CTL_DIR_UNUSABLE with why saying what to do: one
 * another user could touch is refused, and every command says so.
 */
int
ctl_dir(int create, char **dirp, char *why, size_t whylen)
{
	char *dir = ctl_dir_path();
	struct stat st;

	*dirp = NULL;
	if (!create && lstat(dir, &st) != 0 && errno == ENOENT) {
		snprintf(why, whylen, "no daemon is running");
		free(dir);
		return CTL_DIR_ABSENT;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(why, whylen, "cannot create runtime directory %s: "
		    "%s: set SPINDLE_RUNTIME_DIR to a directory of your own",
		    dir, strerror(errno));
		free(dir);
		return CTL_DIR_UNUSABLE;
	}
	if (lstat(dir, &st) != 0) {
		snprintf(why, whylen, "runtime directory %s: %s", dir,
		    strerror(errno));
		free(dir);
		return CTL_DIR_UNUSABLE;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 077) != 0) {
		ctl_dir_unusable(dir, &st, why, whylen);
		free(dir);
		return CTL_DIR_UNUSABLE;
	}
	*dirp = dir;
	return 0;
}

int
ctl_sockaddr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun->sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun->sun_path, path);
	return 0;
}

/* One message; fds (if any) ride on its first byte. */
int
ctl_send(int fd, uint32_t type, uint32_t id, const struct pk *body,
    const int *fds, int nfds)
{
	uint8_t hdr[SPN_CTL_HDR];
	size_t blen = body != NULL ? body->len : 0;
	struct iovec iov[2] = { { hdr, sizeof hdr },
	    { body != NULL ? body->buf : NULL, blen } };
	ssize_t n;

	be32_put(hdr, 8 + blen);
	be32_put(hdr + 4, type);
	be32_put(hdr + 8, id);
	if ((n = ctl_sendmsg(fd, iov, blen ? 2 : 1, fds, nfds)) < 0)
		return -1;
	/* A stream socket may take part of it: the rest goes plainly. */
	return ctl_write_rest(fd, iov, (size_t)n);
}

/* One sendmsg (at most 3 fds, on its first byte): the bytes taken, or
 * -1 (EAGAIN on a non-blocking socket: nothing went, fds neither). */
ssize_t
ctl_sendmsg(int fd, struct iovec *iov, int niov, const int *fds, int nfds)
{
	union {
		struct cmsghdr	 c;
		char		 buf[CMSG_SPACE(3 * sizeof(int))];
	} cm;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = niov };
	ssize_t n;

	if (nfds > 0) {
		memset(&cm, 0, sizeof cm);
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm.c.cmsg_level = SOL_SOCKET;
		cm.c.cmsg_type = SCM_RIGHTS;
		cm.c.cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(&cm.c), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n;
}

int
ctl_write_rest(int fd, struct iovec *iov, size_t done)
{
	ssize_t n;

	for (int i = 0; i < 2; i++) {
		while (iov[i].iov_len > 0) {
			if (done >= iov[i].iov_len) {
				done -= iov[i].iov_len;
				iov[i].iov_len = 0;
				break;
			}
			iov[i].iov_base = (char *)iov[i].iov_base + done;
			iov[i].iov_len -= done;
			done = 0;
			n = send(fd, iov[i].iov_base, iov[i].iov_len,
			    MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -1;
			done = n;
		}
	}
	return 0;
}

/* Parse one message from buf, if whole: 1 yes, 0 not yet, -1 bad. */
int
ctl_parse(const uint8_t *buf, size_t len, struct ctl_msg *m)
{
	uint32_t n;

	if (len < 4)
		return 0;
	n = be32_get(buf);
	if (n < 8 || n > SPN_CTL_MAX)
		return -1;
	if (len < 4 + (size_t)n)
		return 0;
	m->type = be32_get(buf + 4);
	m->id = be32_get(buf + 8);
	m->body = buf + SPN_CTL_HDR;
	m->len = n - 8;
	return 1;
}

/*
 * Blocking read of one message, for clients; fds that come with it are
 * appended to fds (at most *nfds on entry, the count on return).
 * Returns 1, 0 at EOF, -1 on error.  m->body is valid until the next call.
 */
int
ctl_recv(int fd, struct ctl_buf *b, struct ctl_msg *m, int *fds, int *nfds)
{
	int rc, max = nfds != NULL ? *nfds : 0;

	if (nfds != NULL)
		*nfds = 0;
	if (b->used > 0)
		ctl_buf_consume(b);
	for (;;) {
		if ((rc = ctl_parse(b->data, b->len, m)) != 0) {
			if (rc < 0)
				errno = EPROTO;
			else
				b->used = 4 + 8 + m->len;
			return rc;
		}
		if ((rc = ctl_fill(fd, b, fds, nfds, max)) <= 0)
			return rc;
	}
}

/* Read what is there into b; fds received are kept or closed. */
int
ctl_fill(int fd, struct ctl_buf *b, int *fds, int *nfds, int max)
{
	ssize_t n;

	/* Wiped as it grows: a request may carry a password. */
	if (b->cap - b->len < 65536) {
		b->data = xrealloc_wiped(b->data, b->len, b->len + 65536);
		b->cap = b->len + 65536;
	}
	if ((n = ctl_read(fd, b->data + b->len, b->cap - b->len, fds, nfds,
	    max, 0)) <= 0)
		return n;
	b->len += n;
	return 1;
}

/* Read at most len bytes into buf; fds received are kept or closed.
 * flags: recvmsg's (MSG_DONTWAIT on a blocking socket). */
ssize_t
ctl_read(int fd, void *buf, size_t len, int *fds, int *nfds, int max,
    int flags)
{
	union {
		struct cmsghdr	 c;
		char		 buf[CMSG_SPACE(8 * sizeof(int))];
	} cm;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cm.buf, .msg_controllen = sizeof cm.buf };
	ssize_t n;

	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		ctl_take_fds(&mh, fds, nfds, max);
	return n;
}

void
ctl_take_fds(struct msghdr *mh, int *fds, int *nfds, int max)
{
	struct cmsghdr *c;
	int *p, k;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		p = (int *)CMSG_DATA(c);
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (int i = 0; i < k; i++) {
			if (nfds != NULL && *nfds < max)
				fds[(*nfds)++] = p[i];
			else
				close(p[i]);
		}
	}
}

/* A whole message is buffered: read it without waiting for the socket. */
int
ctl_pending(const struct ctl_buf *b)
{
	struct ctl_msg m;

	/* Nothing yet: data may be NULL, and NULL + 0 is undefined. */
	if (b->used == b->len)
		return 0;
	return ctl_parse(b->data + b->used, b->len - b->used, &m) != 0;
}

/* Drop the messages parsed so far, wiped (a password may be among them). */
void
ctl_buf_consume(struct ctl_buf *b)
{
	size_t rest = b->len - b->used;

	memmove(b->data, b->data + b->used, rest);
	if (b->len > rest)
		explicit_bzero(b->data + rest, b->len - rest);
	b->len = rest;
	b->used = 0;
}

void
ctl_buf_free(struct ctl_buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->len);
	free(b->data);
	memset(b, 0, sizeof *b);
}

/*
 * A client's spec for route: its environment's ssh arguments, and the
 * options its command line set (mo may be NULL; -1: not set, for the
 * route's own or the default).  Every field is borrowed: not for
 * ctl_spec_free.
 */
void
ctl_spec_init(struct ctl_spec *s, const char *route,
    const struct master_opts *mo)
{
	memset(s, 0, sizeof *s);
	s->route = (char *)route;
	s->sshenv = getenv("SPINDLE_SSH_ARGS");
	s->keepalive = s->timeout = -1;
	if (mo == NULL)
		return;
	s->password = mo->password;
	s->hop_passwords = mo->hop_passwords;
	s->keepalive = mo->keepalive;
	s->timeout = mo->timeout;
}

/*
 * ssh's destination as the shim takes it, and the gateway its route: a
 * route name, an inline route (hops joined by '+', hop options after
 * ',', sudo=USER and the like, or just `local`), or (anything else) ssh
 * to host as user.  s is ctl_spec_init'ed here and owns its strings
 * (ctl_spec_free); the caller adds ssh's options when it is CTL_SPEC_SSH.
 */
void
ctl_spec_dest(struct ctl_spec *s, const char *dest, const char *host,
    const char *user)
{
	ctl_spec_init(s, NULL, NULL);
	if (s->sshenv != NULL)
		s->sshenv = xstrdup(s->sshenv);
	if (strpbrk(dest, "+,=") != NULL || strcmp(dest, "local") == 0) {
		s->route = xstrdup(dest);
		s->direct = CTL_SPEC_DEST;
	} else {
		s->route = xstrdup(host);
		s->user = user != NULL ? xstrdup(user) : NULL;
		s->direct = CTL_SPEC_SSH;
	}
}

void
ctl_spec_pack(struct pk *pk, const struct ctl_spec *s)
{
	pk_str(pk, s->route);
	pk_u32(pk, s->direct);
	pk_str(pk, s->user);
	pk_strv(pk, s->sshargs);
	pk_str(pk, s->sshenv);
	pk_str(pk, s->password);
	pk_u32(pk, (uint32_t)s->keepalive);
	pk_u32(pk, (uint32_t)s->timeout);
	/* The client's ssh agent, for the ssh hops the daemon starts. */
	pk_str(pk, getenv("SSH_AUTH_SOCK"));
	pk_strv(pk, s->hop_passwords);
}

/* One password a hop, each wiped if the rest does not arrive. */
static char **
ctl_hop_passwords(struct upk *u)
{
	uint32_t n = upk_u32(u);
	char **v;

	if (u->err || n > SPN_CTL_HOPS_MAX) {
		u->err = 1;
		return NULL;
	}
	v = xcalloc((size_t)n + 1, sizeof *v);
	for (uint32_t i = 0; i < n; i++) {
		if ((v[i] = upk_str(u)) == NULL ||
		    strlen(v[i]) > SECRET_MAX) {
			u->err = 1;
			password_strv_free(v);
			return NULL;
		}
	}
	return v;
}

/* RUN's body; the fds the mask names go with it (client_run). */
void
ctl_run_pack(struct pk *pk, const struct ctl_spec *s,
    const struct exec_req *r, uint32_t mask)
{
	ctl_spec_pack(pk, s);
	pk_u32(pk, r->flags);
	pk_strv(pk, r->argv);
	pk_strv(pk, r->env);
	pk_str(pk, r->cwd);
	pk_u32(pk, r->rows);
	pk_u32(pk, r->cols);
	pk_u32(pk, mask);
	pk_str(pk, r->term);
}

int
ctl_spec_unpack(struct upk *u, struct ctl_spec *s)
{
	memset(s, 0, sizeof *s);
	s->route = upk_str(u);
	s->direct = upk_u32(u);
	s->user = upk_str(u);
	s->sshargs = upk_strv(u);
	s->sshenv = upk_str(u);
	s->password = upk_str(u);
	s->keepalive = (int32_t)upk_u32(u);
	s->timeout = (int32_t)upk_u32(u);
	s->agent = upk_str(u);
	s->hop_passwords = ctl_hop_passwords(u);
	if (u->err || s->route == NULL || *s->route == '\0' ||
	    (s->password != NULL && strlen(s->password) > SECRET_MAX)) {
		ctl_spec_free(s);
		return -1;
	}
	return 0;
}

void
ctl_spec_free(struct ctl_spec *s)
{
	free(s->route);
	free(s->user);
	strv_free(s->sshargs);
	free(s->sshenv);
	free(s->agent);
	password_free(s->password);
	password_strv_free(s->hop_passwords);
	memset(s, 0, sizeof *s);
}
