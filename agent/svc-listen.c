/*
 * LISTEN: a listening socket here for a caller (ssh -R), each connection
 * it accepts offered to the caller, who takes it (its streams then run
 * as TCP's do) or refuses it.  docs/protocol.md ("LISTEN") has the
 * messages.
 *
 * Request: u32 flags (SPN_TCP_F_UNIX: bind is a path), str bind, u32
 * port.  Replies: BOUND u32 port, u32 control handle; or FAILED.  Then
 * per connection ACCEPTED u32 conn, str peer, u32 our sink for it; the
 * caller answers with a CALL to the control handle, u32 conn, u32 its
 * sink (0: refused).  CANCEL there, or losing the caller, closes the
 * listener and the connections not taken yet.
 *
 * Everything a caller can make us hold is bounded: listeners per
 * caller, connections offered and not answered per listener (past
 * that we stop accepting until one is answered: the kernel's backlog
 * holds the rest), connections in all.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

#define LSN_PER_CALLER	64	/* listeners one caller may hold */
#define LSN_PENDING_MAX	16	/* offered, not answered, per listener */
#define LSN_CONNS_MAX	256	/* connections in all, taken or not */
#define LSN_BACKLOG	128

struct lsn {
	struct rt	*rt;
	uint32_t	 caller;
	uint32_t	 reply_to;
	uint32_t	 ctl;		/* our control handle, the map's key */
	int		 fd;
	struct event	*ev;
	int		 armed;
	char		*path;		/* a UNIX socket we made: unlinked */
	char		*where;		/* "[127.0.0.1]:8080", for messages */
	uint32_t	 next_conn;
	struct map	*pending;	/* conn -> lconn, not answered yet */
};

/* One accepted connection: its socket as a pair of streams (TCP's). */
struct lconn {
	struct lsn	*l;		/* while pending */
	uint32_t	 id;
	struct sock	*k;
};

static struct map	*lsns;
static size_t		 lconns;

static void	lsn_arm(struct lsn *);

static void
lconn_free(struct lconn *c)
{
	if (c->l != NULL) {
		map_del(c->l->pending, c->id);
		lsn_arm(c->l);
	}
	sock_free(c->k);
	free(c);
	lconns--;
}

/* Both ways done, or cut: the socket is closed already. */
static void
lconn_done(struct sock *k, const char *why, void *arg)
{
	(void)k;
	if (why != NULL)
		log_debug("forwarded connection: %s", why);
	lconn_free(arg);
}

/* The caller takes the connection (sink != 0) or refuses it. */
static void
lconn_answer(struct lconn *c, uint32_t sink)
{
	struct lsn *l = c->l;

	if (sink == 0) {
		lconn_free(c);
		return;
	}
	map_del(l->pending, c->id);
	c->l = NULL;
	lsn_arm(l);
	sock_start(c->k, sink);
}

static void
lconn_new(struct lsn *l, int fd, const char *peer)
{
	struct lconn *c = xcalloc(1, sizeof *c);
	struct pk pk;

	c->l = l;
	c->id = ++l->next_conn;
	/* Its sink now, for ACCEPTED; its source once the caller's sink
	 * is known. */
	c->k = sock_new(l->rt, fd, fd, l->caller, lconn_done, c);
	map_put(l->pending, c->id, c);
	lconns++;
	pk_init(&pk);
	pk_u32(&pk, SPN_LISTEN_ACCEPTED);
	pk_u32(&pk, c->id);
	pk_str(&pk, peer);
	pk_u32(&pk, sock_sink_handle(c->k));
	rt_send_pk(l->rt, SPN_K_REPLY, l->caller, l->reply_to, 0, &pk);
	pk_free(&pk);
}

/* "1.2.3.4:5678", "[::1]:5678", or a UNIX socket's peer: "". */
static void
lsn_peer_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in *in = (const void *)ss;
	const struct sockaddr_in6 *in6 = (const void *)ss;
	char a[INET6_ADDRSTRLEN];

	*buf = '\0';
	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &in->sin_addr, a, sizeof a);
		snprintf(buf, len, "%s:%u", a, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof a);
		snprintf(buf, len, "[%s]:%u", a, ntohs(in6->sin6_port));
	}
}

static void
lsn_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lsn *l = arg;
	struct sockaddr_storage ss;
	socklen_t sl;
	char peer[INET6_ADDRSTRLEN + 16];
	int s;

	(void)what;
	while (map_count(l->pending) < LSN_PENDING_MAX) {
		sl = sizeof ss;
		memset(&ss, 0, sizeof ss);
		s = accept4(fd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s < 0) {
			/* EMFILE and the like: the backlog keeps them. */
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept on %s: %s", l->where,
				    strerror(errno));
			break;
		}
		if (lconns >= LSN_CONNS_MAX) {
			log_warn("connection on %s refused: %d connections "
			    "already", l->where, LSN_CONNS_MAX);
			close(s);
			continue;
		}
		lsn_peer_text(&ss, peer, sizeof peer);
		lconn_new(l, s, peer);
	}
	lsn_arm(l);
}

/* Accept while fewer than the bound are waiting for the caller. */
static void
lsn_arm(struct lsn *l)
{
	int want = map_count(l->pending) < LSN_PENDING_MAX;

	if (want && !l->armed)
		event_add(l->ev, NULL);
	else if (!want && l->armed)
		event_del(l->ev);
	l->armed = want;
}

static void
lsn_drop_conn(uint32_t id, void *v, void *arg)
{
	struct lconn *c = v;

	(void)id;
	(void)arg;
	c->l = NULL;
	lconn_free(c);
}

static void
lsn_free(struct lsn *l)
{
	map_del(lsns, l->ctl);
	rt_handle_del(l->rt, l->ctl);
	event_free(l->ev);
	close(l->fd);
	if (l->path != NULL)
		unlink(l->path);
	map_each(l->pending, lsn_drop_conn, NULL);
	map_free(l->pending);
	free(l->path);
	free(l->where);
	free(l);
}

/* The caller's answer to an ACCEPTED, its CANCEL, or its loss. */
static void
lsn_ctl(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct lsn *l = arg;
	struct lconn *c;
	struct upk u;
	uint32_t id, sink;

	(void)rt;
	if (m->h.kind == SPN_K_CANCEL || m->h.kind == SPN_K_DEAD) {
		log_debug("listener on %s closed", l->where);
		lsn_free(l);
		return;
	}
	if (m->h.kind != SPN_K_CALL)
		return;
	upk_init(&u, m->data, m->h.len);
	id = upk_u32(&u);
	sink = upk_u32(&u);
	/* An answer to a connection gone meanwhile, or twice: nothing. */
	if (!u.err && (c = map_get(l->pending, id)) != NULL)
		lconn_answer(c, sink);
}

static void
lsn_reply_failed(struct rt *rt, const struct rt_msg *m, int e,
    const char *what, const char *where)
{
	struct pk pk;
	char *text = xprintf("%s %s: %s", what, where, ssh_strerror(e));

	pk_init(&pk);
	pk_u32(&pk, SPN_LISTEN_FAILED);
	pk_u32(&pk, e);
	pk_str(&pk, text);
	rt_send_pk(rt, SPN_K_REPLY, m->h.src, m->h.reply_to, 0, &pk);
	pk_free(&pk);
	free(text);
}

/*
 * The address to bind, as sshd takes a -R's (GatewayPorts
 * clientspecified): "" and "localhost" are the loopback (127.0.0.1),
 * "*" every address (IPv6 and IPv4 where there is IPv6), anything else
 * a numeric address.  No names: resolving could block the loop, and a
 * listen address worth naming is a number anyway.
 */
static int
lsn_addr(const char *addr, uint32_t port, struct sockaddr_storage *ss,
    socklen_t *sl)
{
	struct sockaddr_in *in = (void *)ss;
	struct sockaddr_in6 *in6 = (void *)ss;
	char a[INET6_ADDRSTRLEN];
	size_t n = strlen(addr);

	memset(ss, 0, sizeof *ss);
	if (*addr == '\0' || strcmp(addr, "localhost") == 0)
		addr = "127.0.0.1";
	if (strcmp(addr, "*") == 0) {
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_any;
		in6->sin6_port = htons(port);
		*sl = sizeof *in6;
		return 0;
	}
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*sl = sizeof *in;
		return 0;
	}
	/* [::1] as well as ::1 */
	if (n > 2 && n < sizeof a + 2 && addr[0] == '[' && addr[n - 1] == ']') {
		memcpy(a, addr + 1, n - 2);
		a[n - 2] = '\0';
		addr = a;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*sl = sizeof *in6;
		return 0;
	}
	return -1;
}

/* A TCP listener; -1 with errno and what failed. */
static int
lsn_open_tcp(const char *addr, uint32_t port, char **where,
    const char **what)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, on = 1, off = 0;

	*what = "bind";
	*where = xprintf("[%s]:%u", *addr == '\0' ? "127.0.0.1" : addr, port);
	if (port > 65535 || lsn_addr(addr, port, &ss, &sl) != 0) {
		errno = port > 65535 ? EINVAL : EADDRNOTAVAIL;
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0 && strcmp(addr, "*") == 0 && errno == EAFNOSUPPORT) {
		/* No IPv6 here: every IPv4 address, then. */
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = INADDR_ANY;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		sl = sizeof (struct sockaddr_in);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		*what = "socket";
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	if (strcmp(addr, "*") == 0 && ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0)
		goto fail;
	*what = "listen";
	if (listen(fd, LSN_BACKLOG) != 0)
		goto fail;
	return fd;
fail:
	on = errno;
	close(fd);
	errno = on;
	return -1;
}

/* A UNIX socket listener at path (left alone if something is there, as
 * sshd does without StreamLocalBindUnlink). */
static int
lsn_open_unix(const char *path, char **where, const char **what)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, e;

	*where = str_clean(xstrdup(path));
	*what = "bind";
	if (*path == '\0' || strlen(path) >= sizeof sun.sun_path) {
		errno = *path == '\0' ? ENOENT : ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*what = "socket";
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
		goto fail;
	/* The user's alone (0600, as sshd's unix_listener), whatever our
	 * umask: whoever may connect uses the forward as the user.  No
	 * connect succeeds before listen, so the mode is set in time; no
	 * umask, which is the whole process's. */
	*what = "listen";
	if (chmod(path, 0600) != 0 || listen(fd, LSN_BACKLOG) != 0) {
		unlink(path);
		goto fail;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

struct lsn_count {
	uint32_t	 caller;
	size_t		 n;
};

static void
lsn_count_one(uint32_t k, void *v, void *arg)
{
	struct lsn_count *lc = arg;

	(void)k;
	lc->n += ((struct lsn *)v)->caller == lc->caller;
}

/* A walk, not a table: there are few listeners. */
static size_t
lsn_count_caller(uint32_t caller)
{
	struct lsn_count lc = { caller, 0 };

	map_each(lsns, lsn_count_one, &lc);
	return lc.n;
}

static void
lsn_start(struct rt *rt, const struct rt_msg *m, uint32_t flags,
    const char *addr, uint32_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	const char *what;
	struct lsn *l;
	struct pk pk;
	char *where;
	int fd;

	if (flags & SPN_TCP_F_UNIX)
		fd = lsn_open_unix(addr, &where, &what);
	else
		fd = lsn_open_tcp(addr, port, &where, &what);
	if (fd < 0) {
		lsn_reply_failed(rt, m, errno, what, where);
		free(where);
		return;
	}
	/* Port 0: the one the kernel chose, in messages too. */
	if (!(flags & SPN_TCP_F_UNIX) && port == 0 && getsockname(fd,
	    (struct sockaddr *)&ss, &sl) == 0) {
		port = ntohs(ss.ss_family == AF_INET ?
		    ((struct sockaddr_in *)&ss)->sin_port :
		    ((struct sockaddr_in6 *)&ss)->sin6_port);
		free(where);
		where = xprintf("[%s]:%u", *addr == '\0' ? "127.0.0.1" : addr,
		    port);
	}
	l = xcalloc(1, sizeof *l);
	l->rt = rt;
	l->caller = m->h.src;
	l->reply_to = m->h.reply_to;
	l->fd = fd;
	l->where = where;
	if (flags & SPN_TCP_F_UNIX)
		l->path = xstrdup(addr);
	l->pending = map_new();
	l->ev = event_new(rt_base(rt), fd, EV_READ | EV_PERSIST,
	    lsn_accept_cb, l);
	l->ctl = rt_handle_add(rt, 0, RT_ALLOW_PEER, l->caller, lsn_ctl, l);
	map_put(lsns, l->ctl, l);
	log_debug("listening on %s for context %u", l->where, l->caller);
	pk_init(&pk);
	pk_u32(&pk, SPN_LISTEN_BOUND);
	pk_u32(&pk, (flags & SPN_TCP_F_UNIX) ? 0 : port);
	pk_u32(&pk, l->ctl);
	rt_send_pk(rt, SPN_K_REPLY, l->caller, l->reply_to, 0, &pk);
	pk_free(&pk);
	lsn_arm(l);
}

static void
listen_msg(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct upk u;
	uint32_t flags, port;
	char *addr, *text;

	(void)arg;
	if (m->h.kind != SPN_K_CALL)
		return;
	upk_init(&u, m->data, m->h.len);
	flags = upk_u32(&u);
	addr = upk_str(&u);
	port = upk_u32(&u);
	if (u.err || addr == NULL || (flags & ~SPN_TCP_F_UNIX) != 0 ||
	    strlen(addr) > 4096) {
		rt_dead(rt, m, SPN_D_FAILED, "malformed LISTEN request");
		free(addr);
		return;
	}
	if (lsn_count_caller(m->h.src) >= LSN_PER_CALLER) {
		text = xprintf("%d listeners already", LSN_PER_CALLER);
		lsn_reply_failed(rt, m, EBUSY, "listen", text);
		free(text);
	} else
		lsn_start(rt, m, flags, addr, port);
	free(addr);
}

static void
lsn_stop_one(uint32_t k, void *v, void *arg)
{
	(void)k;
	(void)arg;
	lsn_free(v);
}

/* Every listener closed (the connections taken live on). */
void
svc_listen_stop(void)
{
	if (lsns != NULL)
		map_each(lsns, lsn_stop_one, NULL);
}

void
svc_listen_init(struct rt *rt)
{
	lsns = map_new();
	rt_handle_add(rt, SPN_H_LISTEN, RT_ALLOW_ANCESTORS, 0, listen_msg,
	    NULL);
}
