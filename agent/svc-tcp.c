/*
 * TCP: connect host:port (or a UNIX socket) here, at this context, and
 * carry the socket as a pair of credit-window streams (stream.c's sock:
 * half-close both ways).  Request: u32 flags, str host, u32 port, u32
 * timeout_ms, u32 the caller's sink.  Replies, each with our control
 * handle as reply_to: CONNECTED (u32 our sink, str peer), or FAILED (u32
 * errno, str "connect to db:5432: Connection refused"); after CONNECTED,
 * CLOSED (str why, "" when both ways ended with EOF; u32 x4 the bytes
 * read from the socket and written to it) once the socket is closed.
 * CANCEL or DEAD on the control handle (the caller gone, or our reply
 * undeliverable because the caller dropped the call) closes it at once.
 *
 * Names never block the loop: numeric addresses are parsed here; a name
 * goes to a small pool of resolver threads (musl's getaddrinfo: /etc/hosts
 * and DNS, no NSS), and what it cannot find to `getent ahosts NAME`, a
 * child process that has NSS (mDNS, systemd-resolved, LDAP).  A glibc
 * build never calls getaddrinfo on a name: static glibc crashes in NSS
 * (DESIGN.md), so names go straight to getent there.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

#define TCP_PER_CALLER	256	/* connections one caller may hold here */
#define TCP_TOTAL	512	/* ... all callers together */
#define TCP_ADDRS_MAX	16	/* addresses tried for one name */
#define TCP_HOST_MAX	1024
#define TCP_TIMEOUT_MAX	(10 * 60 * 1000)
#define TCP_THREADS	4	/* resolver threads */
#define TCP_GETENT_MAX	8	/* getent children at once */
#define TCP_GETENT_OUT	(64 * 1024)

struct tcp_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
};

struct lookup;
struct gent;

struct tconn {
	struct rt	*rt;
	uint32_t	 caller;
	uint32_t	 reply_to;
	uint32_t	 ctl;
	uint32_t	 caller_sink;
	uint32_t	 flags;
	char		*host;
	uint32_t	 port;
	struct event	*timer;
	struct lookup	*lk;		/* a name being resolved */
	struct gent	*ge;		/* ... by getent */
	struct tcp_addr	 addrs[TCP_ADDRS_MAX];
	int		 naddrs;
	int		 next;		/* the address to try next */
	int		 fd;		/* connecting */
	int		 last_err;
	struct event	*wev;
	struct sock	*sock;		/* connected */
	int		 waiting;	/* TCP_W_*: for getent slots */
	struct tconn	*wnext;
};

static struct map	*tcp_conns;	/* ctl handle -> tconn */
static struct map	*tcp_callers;	/* ctx -> count (as a pointer) */
static size_t		 tcp_total;

/* --- bookkeeping ----------------------------------------------------- */

static size_t
tcp_caller_count(uint32_t ctx)
{
	return (size_t)(uintptr_t)map_get(tcp_callers, ctx);
}

static void
tcp_caller_add(uint32_t ctx, int d)
{
	size_t n = tcp_caller_count(ctx) + d;

	if (n == 0)
		map_del(tcp_callers, ctx);
	else
		map_put(tcp_callers, ctx, (void *)(uintptr_t)n);
	tcp_total += d;
}

static void	lookup_abandon(struct lookup *);
static void	gent_abandon(struct tconn *);

static void
tconn_free(struct tconn *t)
{
	map_del(tcp_conns, t->ctl);
	rt_handle_del(t->rt, t->ctl);
	tcp_caller_add(t->caller, -1);
	if (t->lk != NULL)
		lookup_abandon(t->lk);
	gent_abandon(t);
	if (t->wev != NULL)
		event_free(t->wev);
	if (t->fd >= 0)
		close(t->fd);
	sock_free(t->sock);
	event_free(t->timer);
	free(t->host);
	free(t);
}

/* "db:5432", "[::1]:22", "/run/x.sock": how the caller named it. */
static char *
tconn_target(const struct tconn *t)
{
	if (t->flags & SPN_TCP_F_UNIX)
		return xstrdup(t->host);
	if (strchr(t->host, ':') != NULL)
		return xprintf("[%s]:%u", t->host, t->port);
	return xprintf("%s:%u", t->host, t->port);
}

static void
tconn_reply(struct tconn *t, struct pk *pk)
{
	rt_send_pk(t->rt, SPN_K_REPLY, t->caller, t->reply_to, t->ctl, pk);
}

/* The end before a socket was up: FAILED, and the tconn goes. */
static void
tconn_fail(struct tconn *t, int err, const char *why)
{
	struct pk pk;
	char *target = tconn_target(t), *text;

	text = xprintf("connect to %s: %s", target, why != NULL ? why :
	    strerror(err));
	log_debug("%s", text);
	pk_init(&pk);
	pk_u32(&pk, SPN_TCP_FAILED);
	pk_u32(&pk, err);
	pk_str(&pk, text);
	tconn_reply(t, &pk);
	pk_free(&pk);
	free(text);
	free(target);
	tconn_free(t);
}

static char *
addr_text(const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in *in4 = (const void *)sa;
	const struct sockaddr_in6 *in6 = (const void *)sa;

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
		return xprintf("%s:%u", host, ntohs(in4->sin_port));
	}
	if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		return xprintf("[%s]:%u", host, ntohs(in6->sin6_port));
	}
	return xstrdup("?");
}

/* --- the socket's life ------------------------------------------------ */

static void
tconn_closed(struct sock *k, const char *why, void *arg)
{
	struct tconn *t = arg;
	uint64_t in = sock_bytes_in(k), out = sock_bytes_out(k);
	struct pk pk;

	pk_init(&pk);
	pk_u32(&pk, SPN_TCP_CLOSED);
	pk_str(&pk, why != NULL ? why : "");
	pk_u32(&pk, in >> 32);
	pk_u32(&pk, in);
	pk_u32(&pk, out >> 32);
	pk_u32(&pk, out);
	tconn_reply(t, &pk);
	pk_free(&pk);
	tconn_free(t);
}

static void
tconn_up(struct tconn *t)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct pk pk;
	char *peer;
	int fd = t->fd;

	t->fd = -1;
	if (t->wev != NULL)
		event_free(t->wev);
	t->wev = NULL;
	event_del(t->timer);
	if (t->flags & SPN_TCP_F_UNIX)
		peer = xstrdup(t->host);
	else if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		peer = addr_text((struct sockaddr *)&ss);
	else
		peer = xstrdup("?");
	t->sock = sock_new(t->rt, fd, fd, t->caller, tconn_closed, t);
	pk_init(&pk);
	pk_u32(&pk, SPN_TCP_CONNECTED);
	pk_u32(&pk, sock_sink_handle(t->sock));
	pk_str(&pk, peer);
	tconn_reply(t, &pk);
	pk_free(&pk);
	free(peer);
	/* After the reply: no byte may reach the caller before it. */
	sock_start(t->sock, t->caller_sink);
}

static void	tconn_try(struct tconn *);

static void
tconn_wcb(evutil_socket_t fd, short what, void *arg)
{
	struct tconn *t = arg;
	socklen_t len = sizeof t->last_err;
	int err = 0;

	(void)what;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err == 0) {
		tconn_up(t);
		return;
	}
	t->last_err = err;
	close(t->fd);
	t->fd = -1;
	event_free(t->wev);
	t->wev = NULL;
	tconn_try(t);
}

/* The next address, non-blocking; the last one's error ends it. */
static void
tconn_try(struct tconn *t)
{
	const struct tcp_addr *a;

	while (t->next < t->naddrs) {
		a = &t->addrs[t->next++];
		t->fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (t->fd < 0) {
			t->last_err = errno;
			continue;
		}
		if (connect(t->fd, (const struct sockaddr *)&a->ss,
		    a->len) == 0) {
			tconn_up(t);
			return;
		}
		if (errno == EINPROGRESS) {
			t->wev = event_new(rt_base(t->rt), t->fd, EV_WRITE,
			    tconn_wcb, t);
			event_add(t->wev, NULL);
			return;
		}
		t->last_err = errno;
		close(t->fd);
		t->fd = -1;
	}
	tconn_fail(t, t->last_err != 0 ? t->last_err : EHOSTUNREACH, NULL);
}

static void
tconn_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tconn_fail(arg, ETIMEDOUT, NULL);
}

/* Addresses known: connect to each in turn. */
static void
tconn_resolved(struct tconn *t, const struct tcp_addr *a, int n)
{
	in_port_t port = htons(t->port);

	t->naddrs = n < TCP_ADDRS_MAX ? n : TCP_ADDRS_MAX;
	for (int i = 0; i < t->naddrs; i++) {
		t->addrs[i] = a[i];
		if (a[i].ss.ss_family == AF_INET)
			((struct sockaddr_in *)&t->addrs[i].ss)->sin_port =
			    port;
		else
			((struct sockaddr_in6 *)&t->addrs[i].ss)->sin6_port =
			    port;
	}
	tconn_try(t);
}

/* --- names: getent ahosts, a child with NSS ---------------------------- */

struct gent {
	struct tconn	*t;		/* NULL once abandoned */
	pid_t		 pid;
	int		 fd;
	struct event	*ev;
	struct evbuffer	*out;
	int		 reaped;
};

static int		 tcp_ngetent;
static struct tconn	*tcp_gwait, **tcp_gwait_tail = &tcp_gwait;

static void	gent_start(struct tconn *);

static void
gent_maybe_free(struct gent *g)
{
	if (g->t != NULL || !g->reaped || g->fd >= 0)
		return;
	evbuffer_free(g->out);
	free(g);
	tcp_ngetent--;
	/* A slot is free: the first waiting lookup takes it. */
	if (tcp_gwait != NULL) {
		struct tconn *t = tcp_gwait;

		if ((tcp_gwait = t->wnext) == NULL)
			tcp_gwait_tail = &tcp_gwait;
		t->waiting = 0;
		gent_start(t);
	}
}

static void
gent_close(struct gent *g)
{
	if (g->fd < 0)
		return;
	event_free(g->ev);
	close(g->fd);
	g->fd = -1;
}

static void
gent_reaped(pid_t pid, int status, void *arg)
{
	struct gent *g = arg;

	(void)pid;
	(void)status;
	g->reaped = 1;
	gent_maybe_free(g);
}

/* "10.0.0.5       STREAM db": each address once, in getent's order.
 * Not evbuffer_readln: its lines come from libevent's allocator (mem.c's
 * blocks, with a header), which free() must never see. */
static int
gent_parse(struct evbuffer *out, struct tcp_addr *a)
{
	size_t len = evbuffer_get_length(out);
	char *text = xmalloc(len + 1), *line, *next, *sp;
	int n = 0, dup;
	struct tcp_addr x;

	evbuffer_remove(out, text, len);
	text[len] = '\0';
	for (line = text; line != NULL && n < TCP_ADDRS_MAX; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		memset(&x, 0, sizeof x);
		if ((sp = strpbrk(line, " \t")) != NULL)
			*sp = '\0';
		if (inet_pton(AF_INET, line,
		    &((struct sockaddr_in *)&x.ss)->sin_addr) == 1) {
			x.ss.ss_family = AF_INET;
			x.len = sizeof(struct sockaddr_in);
		} else if (inet_pton(AF_INET6, line,
		    &((struct sockaddr_in6 *)&x.ss)->sin6_addr) == 1) {
			x.ss.ss_family = AF_INET6;
			x.len = sizeof(struct sockaddr_in6);
		}
		if (x.len == 0)
			continue;
		dup = 0;
		for (int i = 0; i < n && !dup; i++)
			dup = memcmp(&a[i], &x, sizeof x) == 0;
		if (!dup)
			a[n++] = x;
	}
	free(text);
	return n;
}

static void
gent_read(evutil_socket_t fd, short what, void *arg)
{
	struct gent *g = arg;
	struct tconn *t = g->t;
	struct tcp_addr a[TCP_ADDRS_MAX];
	int n;

	(void)what;
	n = evbuffer_read(g->out, fd, 4096);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && evbuffer_get_length(g->out) < TCP_GETENT_OUT)
		return;
	gent_close(g);
	n = gent_parse(g->out, a);
	t->ge = NULL;
	g->t = NULL;
	gent_maybe_free(g);
	if (n == 0)
		tconn_fail(t, EHOSTUNREACH, "Name or service not known");
	else
		tconn_resolved(t, a, n);
}

static void
gent_child(int out, const char *name)
{
	static const char *const paths[] = { "/usr/bin/getent",
	    "/bin/getent", "/usr/local/bin/getent", "/sbin/getent" };
	/* "--": a name is the caller's (a SOCKS client's), never an
	 * option ("-i" alone would list every host). */
	char *argv[] = { "getent", "ahosts", "--", (char *)name, NULL };
	int null = open("/dev/null", O_RDWR);

	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(null, 2) < 0)
		_exit(127);
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		execv(paths[i], argv);
	_exit(127);
}

static void
gent_start(struct tconn *t)
{
	struct gent *g;
	int p[2];
	pid_t pid;

	if (tcp_ngetent >= TCP_GETENT_MAX) {
		/* Wait for a slot (the connection timer still runs). */
		t->waiting = 1;
		t->wnext = NULL;
		*tcp_gwait_tail = t;
		tcp_gwait_tail = &t->wnext;
		return;
	}
	if (pipe2(p, O_CLOEXEC) != 0 || (pid = fork()) < 0) {
		tconn_fail(t, errno, "cannot look up the name");
		return;
	}
	if (pid == 0)
		gent_child(p[1], t->host);
	close(p[1]);
	fd_nonblock(p[0], 1);
	g = xcalloc(1, sizeof *g);
	g->t = t;
	g->pid = pid;
	g->fd = p[0];
	g->out = evbuffer_new();
	g->ev = event_new(rt_base(t->rt), p[0], EV_READ | EV_PERSIST,
	    gent_read, g);
	event_add(g->ev, NULL);
	tcp_ngetent++;
	t->ge = g;
	proc_watch(pid, gent_reaped, g);
}

/* The tconn goes: its getent is killed (and reaped later), or it leaves
 * the queue for a slot. */
static void
gent_abandon(struct tconn *t)
{
	struct tconn **pp;
	struct gent *g = t->ge;

	if (t->waiting) {
		for (pp = &tcp_gwait; *pp != t; pp = &(*pp)->wnext)
			;
		if ((*pp = t->wnext) == NULL)
			tcp_gwait_tail = pp;
		t->waiting = 0;
	}
	if (g == NULL)
		return;
	t->ge = NULL;
	g->t = NULL;
	kill(g->pid, SIGKILL);
	gent_close(g);
	gent_maybe_free(g);
}

/* --- names: resolver threads ------------------------------------------ */

#ifndef __GLIBC__

/*
 * A lookup belongs to the loop, which frees it when its event fires; a
 * thread fills in the result first.  Abandoned meanwhile (the tconn went),
 * it is done all the same and dropped.  The queue holds at most TCP_TOTAL
 * lookups, as each belongs to a connection.
 */
struct lookup {
	struct tconn	*t;		/* NULL once abandoned (loop's) */
	char		*name;
	struct event	*ev;
	int		 gai;		/* getaddrinfo's result */
	int		 n;
	struct tcp_addr	 a[TCP_ADDRS_MAX];
	struct lookup	*next;
};

static pthread_mutex_t	 lk_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 lk_cond = PTHREAD_COND_INITIALIZER;
static struct lookup	*lk_head, **lk_tail = &lk_head;
static int		 lk_threads, lk_idle;

static void
lookup_run(struct lookup *l)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;

	l->gai = getaddrinfo(l->name, NULL, &hints, &res);
	if (l->gai != 0)
		return;
	for (ai = res; ai != NULL && l->n < TCP_ADDRS_MAX; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof l->a[0].ss)
			continue;
		memcpy(&l->a[l->n].ss, ai->ai_addr, ai->ai_addrlen);
		l->a[l->n++].len = ai->ai_addrlen;
	}
	freeaddrinfo(res);
}

static void *
lookup_main(void *arg)
{
	struct lookup *l;

	(void)arg;
	pthread_mutex_lock(&lk_lock);
	for (;;) {
		while (lk_head == NULL) {
			lk_idle++;
			pthread_cond_wait(&lk_cond, &lk_lock);
			lk_idle--;
		}
		l = lk_head;
		if ((lk_head = l->next) == NULL)
			lk_tail = &lk_head;
		pthread_mutex_unlock(&lk_lock);
		lookup_run(l);
		/* Thread-safe: the loop's base is made with threads on. */
		event_active(l->ev, EV_TIMEOUT, 1);
		pthread_mutex_lock(&lk_lock);
	}
	return NULL;
}

static void
lookup_done(evutil_socket_t fd, short what, void *arg)
{
	struct lookup *l = arg;
	struct tconn *t = l->t;

	(void)fd;
	(void)what;
	if (t != NULL) {
		t->lk = NULL;
		if (l->n > 0)
			tconn_resolved(t, l->a, l->n);
		else if (l->gai == EAI_NONAME
#ifdef EAI_NODATA
		    || l->gai == EAI_NODATA
#endif
		    )
			gent_start(t);	/* perhaps NSS knows it */
		else if (l->gai == 0)
			tconn_fail(t, EHOSTUNREACH, "No address for the name");
		else if (l->gai == EAI_AGAIN)
			tconn_fail(t, EHOSTUNREACH,
			    "Temporary failure in name resolution");
		else
			tconn_fail(t, EHOSTUNREACH, gai_strerror(l->gai));
	}
	event_free(l->ev);
	free(l->name);
	free(l);
}

static void
lookup_abandon(struct lookup *l)
{
	l->t->lk = NULL;
	l->t = NULL;
}

/* A name: to a resolver thread. */
static void
lookup_start(struct tconn *t)
{
	struct lookup *l;
	pthread_attr_t attr;
	pthread_t th;
	int start, e;

	l = xcalloc(1, sizeof *l);
	l->t = t;
	l->name = xstrdup(t->host);
	l->ev = event_new(rt_base(t->rt), -1, 0, lookup_done, l);
	pthread_mutex_lock(&lk_lock);
	*lk_tail = l;
	lk_tail = &l->next;
	start = lk_idle == 0 && lk_threads < TCP_THREADS;
	if (start)
		lk_threads++;
	pthread_cond_signal(&lk_cond);
	pthread_mutex_unlock(&lk_lock);
	t->lk = l;
	if (!start)
		return;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if ((e = pthread_create(&th, &attr, lookup_main, NULL)) != 0) {
		pthread_mutex_lock(&lk_lock);
		lk_threads--;
		pthread_mutex_unlock(&lk_lock);
		/* With no thread at all, lookups wait for their timeout. */
		log_warn("cannot start a resolver thread: %s", strerror(e));
	}
	pthread_attr_destroy(&attr);
}
#else
/* glibc: its getaddrinfo would load NSS modules, which crash a static
 * binary; getent has NSS, in a process of its own. */
static void
lookup_start(struct tconn *t)
{
	gent_start(t);
}

static void
lookup_abandon(struct lookup *l)
{
	(void)l;
}
#endif

/* A numeric address (IPv6 with or without brackets): no lookup. */
static int
tcp_numeric(const char *host, struct tcp_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t len = strlen(host);

	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, host,
	    &((struct sockaddr_in *)&a->ss)->sin_addr) == 1) {
		a->ss.ss_family = AF_INET;
		a->len = sizeof(struct sockaddr_in);
		return 1;
	}
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']' &&
	    len - 2 < sizeof buf) {
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		host = buf;
	}
	if (inet_pton(AF_INET6, host,
	    &((struct sockaddr_in6 *)&a->ss)->sin6_addr) == 1) {
		a->ss.ss_family = AF_INET6;
		a->len = sizeof(struct sockaddr_in6);
		return 1;
	}
	return 0;
}

static void
tconn_unix(struct tconn *t)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&t->addrs[0].ss;

	memset(&t->addrs[0], 0, sizeof t->addrs[0]);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, t->host, strlen(t->host) + 1);
	t->addrs[0].len = sizeof *sun;
	t->naddrs = 1;
	tconn_try(t);
}

/* --- the service ------------------------------------------------------- */

static void
tconn_ctl(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct tconn *t = arg;
	char *why;

	(void)rt;
	if (m->h.kind != SPN_K_CANCEL && m->h.kind != SPN_K_DEAD)
		return;
	/* The caller gave up, or is gone: nobody wants a reply. */
	if (t->sock != NULL) {
		why = m->h.kind == SPN_K_CANCEL ? xstrdup("cancelled") :
		    call_dead_text(m);
		sock_abort(t->sock, why);
		free(why);
		return;
	}
	tconn_free(t);
}

static void
tcp_msg(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct timeval tv;
	struct tcp_addr a;
	struct tconn *t;
	struct upk u;
	uint32_t timeout;
	size_t max;

	(void)arg;
	if (m->h.kind != SPN_K_CALL)
		return;
	t = xcalloc(1, sizeof *t);
	t->fd = -1;
	upk_init(&u, m->data, m->h.len);
	t->flags = upk_u32(&u);
	t->host = upk_str(&u);
	t->port = upk_u32(&u);
	timeout = upk_u32(&u);
	t->caller_sink = upk_u32(&u);
	max = (t->flags & SPN_TCP_F_UNIX) ?
	    sizeof(((struct sockaddr_un *)0)->sun_path) - 1 : TCP_HOST_MAX;
	if (u.err || t->host == NULL || *t->host == '\0' ||
	    strlen(t->host) > max || t->caller_sink < SPN_H_DYNAMIC ||
	    (t->flags & ~SPN_TCP_F_UNIX) || ((t->flags & SPN_TCP_F_UNIX) ?
	    t->port != 0 : (t->port == 0 || t->port > 65535))) {
		rt_dead(rt, m, SPN_D_FAILED, "malformed TCP request");
		free(t->host);
		free(t);
		return;
	}
	t->rt = rt;
	t->caller = m->h.src;
	t->reply_to = m->h.reply_to;
	t->ctl = rt_handle_add(rt, 0, RT_ALLOW_PEER, t->caller, tconn_ctl, t);
	t->timer = evtimer_new(rt_base(rt), tconn_timeout, t);
	map_put(tcp_conns, t->ctl, t);
	tcp_caller_add(t->caller, 1);
	if (tcp_caller_count(t->caller) > TCP_PER_CALLER ||
	    tcp_total > TCP_TOTAL) {
		tconn_fail(t, EMFILE, tcp_total > TCP_TOTAL ?
		    "too many connections in this context" :
		    "too many connections from one caller");
		return;
	}
	if (timeout == 0)
		timeout = SPN_TCP_TIMEOUT_DEFAULT;
	if (timeout > TCP_TIMEOUT_MAX)
		timeout = TCP_TIMEOUT_MAX;
	tv.tv_sec = timeout / 1000;
	tv.tv_usec = (timeout % 1000) * 1000;
	evtimer_add(t->timer, &tv);
	if (t->flags & SPN_TCP_F_UNIX)
		tconn_unix(t);
	else if (tcp_numeric(t->host, &a))
		tconn_resolved(t, &a, 1);
	else
		lookup_start(t);
}

static void
tcp_abort(uint32_t ctl, void *v, void *arg)
{
	struct tconn *t = v;

	(void)ctl;
	(void)arg;
	/* No reply: the agent is going, and its links with it. */
	tconn_free(t);
}

/* The agent is going: every socket closes now. */
void
svc_tcp_stop(void)
{
	if (tcp_conns != NULL)
		map_each(tcp_conns, tcp_abort, NULL);
}

void
svc_tcp_init(struct rt *rt)
{
	tcp_conns = map_new();
	tcp_callers = map_new();
	rt_handle_add(rt, SPN_H_TCP, RT_ALLOW_ANCESTORS, 0, tcp_msg, NULL);
}
