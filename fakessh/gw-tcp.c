/*
 * The gateway's optional TCP listener (routes file gateway-listen), for
 * clients that cannot run a ProxyCommand: paramiko, libssh2, IDEs.
 *
 * Loopback only (the routes file refuses any other address), and
 * loopback is not enough: any local user can connect to it.  So before
 * libssh sees a byte we ask the kernel who owns the other end of the
 * connection (NETLINK_SOCK_DIAG, inet_diag's idiag_uid, by the 4-tuple:
 * what identd does; SO_PEERCRED says nothing on TCP) and close it unless
 * it is us.  Then publickey only, with keys from spindle's own
 * authorized_keys, never ~/.ssh/authorized_keys, whose lines may carry
 * from= or command= restrictions meant for sshd that we would bypass.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "gateway.h"

#define GW_TCP_ACCEPTS	16		/* per wakeup, then the loop */
#define GW_KEYS_BYTES	(256 * 1024)	/* authorized_keys, at most */
#define GW_KEYS_MAX	1024
#define GW_KEYS_WATCH	2		/* seconds between looks, while
					 * the listener waits for a key */

struct gw_lsn {
	int		 fd;
	char		*name;		/* "[127.0.0.1]:2222" */
	struct event	*ev;
};

static struct gw_lsn	 gw_lsn[GATEWAY_LISTEN_MAX];
static size_t		 gw_nlsn;
/* To listen on, once there are keys. */
static char		*gw_want[GATEWAY_LISTEN_MAX];
static struct event	*gw_watch;	/* looks for keys while we wait */
static struct event	*gw_pause;	/* out of fds: accept later */

/* The allowlist, and which file it was read from. */
static ssh_key		*gw_keys;
static size_t		 gw_nkeys;
static struct stat	 gw_keys_st;
static int		 gw_keys_read;	/* gw_keys_st is valid */

static void
gw_keys_free(void)
{
	for (size_t i = 0; i < gw_nkeys; i++)
		ssh_key_free(gw_keys[i]);
	free(gw_keys);
	gw_keys = NULL;
	gw_nkeys = 0;
}

/*
 * One line: "TYPE BASE64 [COMMENT]".  Options (from=, command=, ...)
 * would be restrictions we cannot honour, so such a line is refused,
 * not half-taken: the key it names does not get in.  Certificates too
 * (we check no CA).  -1 and why.
 */
static int
gw_keys_line(char *line, ssh_key *out, const char **why)
{
	char *type, *b64;
	enum ssh_keytypes_e t;

	type = line + strspn(line, " \t");
	b64 = type + strcspn(type, " \t");
	if (*b64 != '\0')
		*b64++ = '\0';
	b64 += strspn(b64, " \t");
	b64[strcspn(b64, " \t")] = '\0';
	t = ssh_key_type_from_name(type);
	if (t == SSH_KEYTYPE_UNKNOWN) {
		*why = "options or an unknown key type: line refused";
		return -1;
	}
	if (strstr(type, "-cert-") != NULL) {
		*why = "certificates are not taken: line refused";
		return -1;
	}
	if (*b64 == '\0' || ssh_pki_import_pubkey_base64(b64, t, out) !=
	    SSH_OK) {
		*why = "not a public key: line refused";
		return -1;
	}
	if (ssh_key_type(*out) != t) {
		ssh_key_free(*out);
		*why = "the key is not of the type the line names: refused";
		return -1;
	}
	return 0;
}

static void
gw_keys_parse(FILE *f, const char *path)
{
	char *line = NULL, *p;
	size_t cap = 0;
	const char *why;
	ssh_key k;
	int lineno = 0;

	while (getline(&line, &cap, f) != -1) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		p = line + strspn(line, " \t");
		if (*p == '\0' || *p == '#')
			continue;
		if (gw_nkeys == GW_KEYS_MAX) {
			log_warn("%s:%d: more than %d keys: the rest "
			    "ignored", path, lineno, GW_KEYS_MAX);
			break;
		}
		if (gw_keys_line(p, &k, &why) != 0) {
			log_warn("%s:%d: %s", path, lineno, why);
			continue;
		}
		gw_keys = xrealloc(gw_keys, (gw_nkeys + 1) * sizeof *gw_keys);
		gw_keys[gw_nkeys++] = k;
	}
	free(line);
}

static int
gw_keys_same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * (Re)reads the allowlist when the file is not the one we read last
 * (written, replaced, removed): looked at before every TCP login, so a
 * key added or removed counts from the next one.
 */
static void
gw_keys_load(void)
{
	char *path = config_path("authorized_keys");
	struct stat st;
	FILE *f = NULL;
	int fd = -1, err = 0;

	if (path != NULL)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1 || fstat(fd, &st) != 0) {
		err = errno;
		if (fd != -1)
			close(fd);
		if (gw_keys_read || gw_nkeys > 0)
			log_warn("%s: %s: every TCP login refused",
			    path != NULL ? path : "authorized_keys",
			    path != NULL ? strerror(err) : "no HOME");
		gw_keys_free();
		gw_keys_read = 0;
		free(path);
		return;
	}
	if (gw_keys_read && gw_keys_same(&st, &gw_keys_st)) {
		close(fd);
		free(path);
		return;
	}
	gw_keys_free();
	gw_keys_st = st;
	gw_keys_read = 1;
	if (!S_ISREG(st.st_mode) || st.st_size > GW_KEYS_BYTES)
		log_warn("%s: not a file of at most %d bytes: every TCP "
		    "login refused", path, GW_KEYS_BYTES);
	else if (st.st_uid != getuid() || (st.st_mode & 022) != 0)
		/* As sshd's StrictModes: whoever may write it may log in. */
		log_warn("%s: not ours, or others may write it: every TCP "
		    "login refused (chmod 600 it)", path);
	else if ((f = fdopen(fd, "r")) != NULL) {
		fd = -1;
		gw_keys_parse(f, path);
		fclose(f);
	}
	if (fd != -1)
		close(fd);
	log_info("%s: %zu key%s", path, gw_nkeys, gw_nkeys == 1 ? "" : "s");
	free(path);
}

int
gw_tcp_key_ok(ssh_key k)
{
	gw_keys_load();
	for (size_t i = 0; i < gw_nkeys; i++) {
		if (ssh_key_cmp(k, gw_keys[i], SSH_KEY_CMP_PUBLIC) == 0)
			return 1;
	}
	return 0;
}

static void
gw_tcp_addr(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	const void *a;
	int port;

	if (ss->ss_family == AF_INET6) {
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	} else {
		a = &((const struct sockaddr_in *)ss)->sin_addr;
		port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
	}
	inet_ntop(ss->ss_family, a, host, sizeof host);
	snprintf(out, len, "[%s]:%d", host, port);
}

/* inet_diag's id of the peer's socket: its source is our peer. */
static void
gw_tcp_diag_id(struct inet_diag_sockid *id,
    const struct sockaddr_storage *peer, const struct sockaddr_storage *me)
{
	const struct sockaddr_in *p4 = (const void *)peer,
	    *m4 = (const void *)me;
	const struct sockaddr_in6 *p6 = (const void *)peer,
	    *m6 = (const void *)me;

	memset(id, 0, sizeof *id);
	if (peer->ss_family == AF_INET6) {
		id->idiag_sport = p6->sin6_port;
		id->idiag_dport = m6->sin6_port;
		memcpy(id->idiag_src, &p6->sin6_addr, 16);
		memcpy(id->idiag_dst, &m6->sin6_addr, 16);
	} else {
		id->idiag_sport = p4->sin_port;
		id->idiag_dport = m4->sin_port;
		memcpy(id->idiag_src, &p4->sin_addr, 4);
		memcpy(id->idiag_dst, &m4->sin_addr, 4);
	}
	id->idiag_cookie[0] = id->idiag_cookie[1] = INET_DIAG_NOCOOKIE;
}

/*
 * Who owns the other end of fd: one SOCK_DIAG_BY_FAMILY request for
 * exactly that socket.  The kernel answers inside sendto, so the reply
 * is there to read at once; anything else fails closed.  -1 and why.
 */
static int
gw_tcp_peer_uid(int fd, const struct sockaddr_storage *peer, uid_t *uid,
    char *why, size_t whylen)
{
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	req;
	} q;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct sockaddr_storage me;
	socklen_t melen = sizeof me;
	union {
		struct nlmsghdr		nlh;
		char			buf[1024];
	} r;
	struct inet_diag_msg *m;
	struct nlmsgerr *e;
	ssize_t n;
	int nl;

	if (getsockname(fd, (struct sockaddr *)&me, &melen) != 0) {
		snprintf(why, whylen, "getsockname: %s", strerror(errno));
		return -1;
	}
	memset(&q, 0, sizeof q);
	q.nlh.nlmsg_len = sizeof q;
	q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q.nlh.nlmsg_flags = NLM_F_REQUEST;
	q.req.sdiag_family = peer->ss_family;
	q.req.sdiag_protocol = IPPROTO_TCP;
	q.req.idiag_states = ~0U;
	gw_tcp_diag_id(&q.req.id, peer, &me);
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl == -1) {
		snprintf(why, whylen, "NETLINK_SOCK_DIAG: %s", strerror(errno));
		return -1;
	}
	if (sendto(nl, &q, sizeof q, 0, (struct sockaddr *)&kernel,
	    sizeof kernel) != sizeof q)
		n = -1;
	else
		n = recv(nl, &r, sizeof r, MSG_DONTWAIT);
	close(nl);
	if (n < 0) {
		snprintf(why, whylen, "sock_diag: %s", strerror(errno));
		return -1;
	}
	if (!NLMSG_OK(&r.nlh, (size_t)n)) {
		snprintf(why, whylen, "sock_diag: short reply");
		return -1;
	}
	if (r.nlh.nlmsg_type == NLMSG_ERROR) {
		e = NLMSG_DATA(&r.nlh);
		snprintf(why, whylen, "sock_diag: %s", r.nlh.nlmsg_len >=
		    NLMSG_LENGTH(sizeof *e) ? strerror(-e->error) : "error");
		return -1;
	}
	m = NLMSG_DATA(&r.nlh);
	if (r.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    r.nlh.nlmsg_len < NLMSG_LENGTH(sizeof *m) ||
	    m->id.idiag_sport != q.req.id.idiag_sport ||
	    m->id.idiag_dport != q.req.id.idiag_dport) {
		snprintf(why, whylen, "sock_diag: not the socket asked for");
		return -1;
	}
	*uid = m->idiag_uid;
	return 0;
}

/* A connection, before libssh reads or writes a byte: ours, or closed. */
static void
gw_tcp_take(struct gw_lsn *l, int fd)
{
	struct sockaddr_storage peer;
	socklen_t peerlen = sizeof peer;
	char name[INET6_ADDRSTRLEN + 16], why[128];
	uid_t uid;

	if (getpeername(fd, (struct sockaddr *)&peer, &peerlen) != 0) {
		close(fd);
		return;
	}
	gw_tcp_addr(&peer, name, sizeof name);
	if (gw_tcp_peer_uid(fd, &peer, &uid, why, sizeof why) != 0) {
		log_warn("%s: connection from %s closed: its owner is "
		    "unknown (%s)", l->name, name, why);
		close(fd);
		return;
	}
	if (uid != getuid()) {
		log_warn("%s: connection from %s closed: uid %u, not "
		    "ours", l->name, name, (unsigned)uid);
		close(fd);
		return;
	}
	log_debug("%s: connection from %s", l->name, name);
	gw_conn_new(fd, NULL, 0);
}

static void
gw_tcp_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	for (size_t i = 0; i < gw_nlsn; i++)
		event_add(gw_lsn[i].ev, NULL);
}

static void
gw_tcp_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct gw_lsn *l = arg;
	struct timeval tv = { 1, 0 };
	int fd;

	(void)what;
	for (int i = 0; i < GW_TCP_ACCEPTS; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			gw_tcp_take(l, fd);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Else the loop would spin on a pending connection. */
			log_warn("%s: accept: %s: pausing 1s", l->name,
			    strerror(errno));
			for (size_t k = 0; k < gw_nlsn; k++)
				event_del(gw_lsn[k].ev);
			if (gw_pause == NULL)
				gw_pause = evtimer_new(gw_base(),
				    gw_tcp_resume, NULL);
			evtimer_add(gw_pause, &tv);
		}
		return;
	}
}

static int
gw_tcp_bind(const char *text, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct gw_lsn *l = &gw_lsn[gw_nlsn];
	int fd, one = 1;

	if (gateway_listen_parse(text, &ss, &sslen, NULL, why, whylen) != 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		snprintf(why, whylen, "gateway-listen %s: socket: %s", text,
		    strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 ||
	    listen(fd, 128) != 0) {
		snprintf(why, whylen, "gateway-listen %s: %s", text,
		    strerror(errno));
		close(fd);
		return -1;
	}
	l->fd = fd;
	l->name = xstrdup(text);
	l->ev = event_new(gw_base(), fd, EV_READ | EV_PERSIST, gw_tcp_accept,
	    l);
	event_add(l->ev, NULL);
	gw_nlsn++;
	return 0;
}

static void
gw_tcp_close(void)
{
	while (gw_nlsn > 0) {
		gw_nlsn--;
		event_free(gw_lsn[gw_nlsn].ev);
		close(gw_lsn[gw_nlsn].fd);
		free(gw_lsn[gw_nlsn].name);
	}
}

static int
gw_tcp_start(char *why, size_t whylen)
{
	char *path;

	gw_keys_load();
	if (gw_nkeys == 0) {
		path = config_path("authorized_keys");
		snprintf(why, whylen, "gateway-listen: no key in %s: the TCP "
		    "listener waits for one (spindle gateway authorize "
		    "FILE.pub)", path != NULL ? path : "authorized_keys");
		free(path);
		return -1;
	}
	for (size_t k = 0; k < GATEWAY_LISTEN_MAX && gw_want[k] != NULL; k++) {
		if (gw_tcp_bind(gw_want[k], why, whylen) != 0) {
			gw_tcp_close();
			return -1;
		}
	}
	/* Once all are bound: a test (or a user) waiting for it may go. */
	for (size_t k = 0; k < gw_nlsn; k++)
		log_info("listening on %s", gw_lsn[k].name);
	return 0;
}

/* Waiting for a key: start once there is one. */
static void
gw_tcp_watch(evutil_socket_t fd, short what, void *arg)
{
	char why[512];

	(void)fd, (void)what, (void)arg;
	gw_keys_load();
	if (gw_nkeys == 0)
		return;
	event_del(gw_watch);
	if (gw_tcp_start(why, sizeof why) != 0)
		log_error("%s", why);
}

int
gw_tcp_listen(const struct gateway_opts *o, char *why, size_t whylen)
{
	struct timeval tv = { GW_KEYS_WATCH, 0 };

	gw_tcp_stop();
	for (size_t k = 0; k < GATEWAY_LISTEN_MAX; k++)
		gw_want[k] = o->listen[k] ? xstrdup(o->listen[k]) : NULL;
	if (gw_want[0] == NULL || gw_tcp_start(why, whylen) == 0)
		return 0;
	if (gw_nkeys > 0)
		return -1;
	/*
	 * No key yet is no failure of the gateway, whose other entry (the
	 * daemon's socket) needs none: the listener starts with the first
	 * key `spindle gateway authorize` writes.
	 */
	log_warn("%s", why);
	gw_watch = event_new(gw_base(), -1, EV_PERSIST, gw_tcp_watch, NULL);
	event_add(gw_watch, &tv);
	return 0;
}

void
gw_tcp_stop(void)
{
	gw_tcp_close();
	if (gw_watch != NULL)
		event_free(gw_watch);
	if (gw_pause != NULL)
		event_free(gw_pause);
	gw_watch = gw_pause = NULL;
	for (size_t k = 0; k < GATEWAY_LISTEN_MAX; k++) {
		free(gw_want[k]);
		gw_want[k] = NULL;
	}
	gw_keys_free();
	gw_keys_read = 0;
}
