/*
 * One SSH connection of the gateway: libssh 0.10 in server mode driven
 * from the libevent loop (GATEWAY.md §3.3, rules R1-R10).
 *
 * libssh gets a dup() of the socket (R9: it may close its fd on EOF
 * inside a poll, and libevent must not be left with a number that the
 * next accept reuses); libevent watches ours.  Key exchange runs
 * non-blocking; then the session joins its own ssh_event, and every
 * readable wakeup polls it with timeout 0 while the kernel has more
 * (R3: libssh reads 4 kB a poll).  libssh writes only after its own
 * poll saw POLLOUT (R1), so whenever it wants that, EV_WRITE is armed
 * and its wakeup polls again.  After each of those passes comes the
 * after-pass: channels paused on a window that reopened without a
 * callback resume (R4), exits and closes go out, and what died is
 * freed -- never inside a libssh callback (R8).
 */
#include <sys/ioctl.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "config.h"
#include "gateway.h"

#define CONN_PASSES	64	/* polls per readable wakeup (R3) */
#define CONN_USER_MAX	1024

struct gw_conn {
	TAILQ_ENTRY(gw_conn) entry;
	int		 fd;		/* ours; libssh has a dup */
	ssh_session	 s;
	ssh_event	 sev;
	struct event	*rev;
	struct event	*wev;
	struct event	*after;
	struct event	*tick;
	struct ssh_server_callbacks_struct scb;
	struct gw_chan_list chans;

	char		*name;		/* what ssh was given; NULL on TCP */
	int		 trusted;
	int		 kex_done;
	int		 authed;
	int		 auth_fails;
	char		*user;
	time_t		 born;
	time_t		 last_input;
	char		*dead;		/* why, once killed */
	size_t		 unsent;	/* given to libssh since it ran dry */
};
TAILQ_HEAD(gw_conns, gw_conn);
static struct gw_conns	conns = TAILQ_HEAD_INITIALIZER(conns);
static size_t		nconns;
static size_t		nunauth;

static time_t
conn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* For the log: the name ssh was given, else the user (the route). */
static const char *
conn_who(struct gw_conn *c)
{
	if (c->name != NULL && strcmp(c->name, "spindle") != 0)
		return c->name;
	if (c->user != NULL)
		return c->user;
	return c->trusted ? "spindle" : "tcp";
}

static void
conn_free(struct gw_conn *c)
{
	struct gw_chan *ch, *next;

	log_info("%s: closed: %s", conn_who(c), c->dead);
	for (ch = TAILQ_FIRST(&c->chans); ch != NULL; ch = next) {
		next = gw_chan_next(ch);
		gw_chan_end(ch);
	}
	gw_fwd_conn_gone(c);
	if (c->sev != NULL) {
		ssh_event_remove_session(c->sev, c->s);
		ssh_event_free(c->sev);
	}
	if (ssh_is_connected(c->s))
		ssh_silent_disconnect(c->s);
	ssh_free(c->s);
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->after);
	event_free(c->tick);
	close(c->fd);
	TAILQ_REMOVE(&conns, c, entry);
	nconns--;
	if (!c->authed && !c->trusted)
		nunauth--;
	free(c->name);
	free(c->user);
	free(c->dead);
	free(c);
}

/* R1 (arm EV_WRITE when libssh wants POLLOUT), R4 and R6 (channels),
 * the frees R8 puts off; from the loop only. */
static void
conn_after(struct gw_conn *c)
{
	struct gw_chan *ch, *next;

	if (c->dead == NULL && c->sev != NULL) {
		for (ch = TAILQ_FIRST(&c->chans); ch != NULL; ch = next) {
			next = gw_chan_next(ch);
			gw_chan_after(ch);
		}
	}
	if (c->dead == NULL &&
	    (ssh_get_status(c->s) & (SSH_CLOSED|SSH_CLOSED_ERROR)))
		gw_conn_kill(c, ssh_get_error(c->s)[0] != '\0' ?
		    ssh_get_error(c->s) : "the client left");
	if (c->dead != NULL) {
		conn_free(c);
		return;
	}
	if (ssh_get_poll_flags(c->s) & SSH_WRITE_PENDING)
		event_add(c->wev, NULL);
}

static void
conn_after_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	conn_after(arg);
}

static void
conn_kex(struct gw_conn *c)
{
	int rc;

	rc = ssh_handle_key_exchange(c->s);
	if (rc == SSH_AGAIN)
		return;
	if (rc != SSH_OK) {
		gw_conn_kill(c, ssh_get_error(c->s));
		return;
	}
	c->kex_done = 1;
	c->sev = ssh_event_new();
	if (c->sev == NULL || ssh_event_add_session(c->sev, c->s) != SSH_OK)
		gw_conn_kill(c, "ssh_event_add_session failed");
}

static void
conn_read(evutil_socket_t fd, short what, void *arg)
{
	struct gw_conn *c = arg;
	int n;

	(void)what;
	c->last_input = conn_now();
	for (int i = 0; i < CONN_PASSES && c->dead == NULL; i++) {
		if (!c->kex_done)
			conn_kex(c);
		else if (ssh_event_dopoll(c->sev, 0) == SSH_ERROR) {
			gw_conn_kill(c, ssh_get_error(c->s));
			break;
		}
		if (ioctl(fd, FIONREAD, &n) != 0 || n <= 0)
			break;
	}
	conn_after(c);
}

/* R1: libssh wanted POLLOUT; only its own poll lets it write again. */
static void
conn_write(evutil_socket_t fd, short what, void *arg)
{
	struct gw_conn *c = arg;

	(void)fd, (void)what;
	if (!c->kex_done)
		conn_kex(c);
	else if (ssh_event_dopoll(c->sev, 0) == SSH_ERROR)
		gw_conn_kill(c, ssh_get_error(c->s));
	conn_after(c);
}

/* A live client answers a keepalive well before a short gateway-idle
 * would close it: a third of it, at most GW_KEEPALIVE. */
static time_t
conn_keepalive_secs(void)
{
	int secs = gw_limits.idle / 3;

	return secs < 1 ? 1 : secs > GW_KEEPALIVE ? GW_KEEPALIVE : secs;
}

/* Once a second: login grace, keepalive, idle. */
static void
conn_tick(evutil_socket_t fd, short what, void *arg)
{
	struct gw_conn *c = arg;
	time_t now = conn_now(), idle = now - c->last_input;

	(void)fd, (void)what;
	if (!c->authed) {
		if (now - c->born >= gw_limits.login_grace)
			gw_conn_kill(c, "not authenticated in time");
	} else if (idle >= gw_limits.idle)
		gw_conn_kill(c, "idle");
	else if (idle >= conn_keepalive_secs() && c->sev != NULL) {
		/*
		 * Wants a reply, which is input.  While the last one's
		 * reply is unread this sends nothing, and the call after
		 * a reply only reads it: at worst every other second.
		 */
		ssh_send_keepalive(c->s);
	}
	conn_after(c);
}

static void
conn_authed(struct gw_conn *c, const char *user, const char *how)
{
	c->authed = 1;
	if (!c->trusted)
		nunauth--;
	free(c->user);
	c->user = xstrndup(user != NULL ? user : "", CONN_USER_MAX);
	log_info("%s: authenticated (%s)", conn_who(c), how);
}

static void
conn_auth_failed(struct gw_conn *c)
{
	if (++c->auth_fails >= GW_AUTH_TRIES)
		gw_conn_kill(c, "too many authentication failures");
}

static int
conn_auth_none(ssh_session s, const char *user, void *arg)
{
	struct gw_conn *c = arg;

	(void)s;
	if (c->authed || c->dead != NULL)
		return SSH_AUTH_DENIED;
	if (c->trusted) {
		conn_authed(c, user, "the daemon's socket");
		return SSH_AUTH_SUCCESS;
	}
	/* A client's first "none" only asks for the methods (as sshd). */
	return SSH_AUTH_DENIED;
}

static int
conn_auth_pubkey(ssh_session s, const char *user, struct ssh_key_struct *key,
    char state, void *arg)
{
	struct gw_conn *c = arg;

	(void)s;
	if (c->authed || c->dead != NULL || c->trusted)
		return SSH_AUTH_DENIED;
	if (state != SSH_PUBLICKEY_STATE_NONE &&
	    state != SSH_PUBLICKEY_STATE_VALID) {
		conn_auth_failed(c);
		return SSH_AUTH_DENIED;
	}
	if (!gw_tcp_key_ok(key)) {
		conn_auth_failed(c);
		return SSH_AUTH_DENIED;
	}
	/* The probe only asks whether the key would do. */
	if (state == SSH_PUBLICKEY_STATE_VALID)
		conn_authed(c, user, "publickey");
	return SSH_AUTH_SUCCESS;
}

static ssh_channel
conn_open_session(ssh_session s, void *arg)
{
	struct gw_conn *c = arg;

	(void)s;
	if (!c->authed || c->dead != NULL || !gw_conn_chan_ok(c))
		return NULL;
	return gw_exec_open(c);
}

/* What the server callbacks leave: direct-tcpip, global requests. */
static int
conn_message(ssh_session s, ssh_message m, void *arg)
{
	struct gw_conn *c = arg;
	int type = ssh_message_type(m);

	(void)s;
	if (!c->authed || c->dead != NULL)
		return 1;
	if (type == SSH_REQUEST_CHANNEL_OPEN &&
	    ssh_message_subtype(m) == SSH_CHANNEL_DIRECT_TCPIP) {
		if (!gw_conn_chan_ok(c))
			return 1;
		return gw_fwd_open(c, m);
	}
	if (type == SSH_REQUEST_GLOBAL)
		return gw_fwd_global(c, m);
	return 1;
}

static void
conn_refuse(int fd, const char *why)
{
	log_warn("connection refused: %s", why);
	close(fd);
}

struct gw_conn *
gw_conn_new(int fd, const char *name, int trusted)
{
	struct event_base *base = gw_base();
	struct timeval sec = { 1, 0 };
	struct gw_conn *c;
	int sfd;

	if (nconns >= (size_t)gw_limits.max_connections) {
		conn_refuse(fd, "too many connections");
		return NULL;
	}
	/*
	 * MaxStartups guards against strangers; the daemon's sockets come
	 * from our own uid, whose parallel ssh (make -j, a benchmark) would
	 * otherwise be refused in bursts.
	 */
	if (!trusted && nunauth >= (size_t)gw_limits.max_startups) {
		conn_refuse(fd, "too many not yet authenticated");
		return NULL;
	}
	if (fd_nonblock(fd, 1) != 0 ||
	    (sfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		conn_refuse(fd, strerror(errno));
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->trusted = trusted;
	c->name = name != NULL ? xstrdup(name) : NULL;
	c->born = c->last_input = conn_now();
	TAILQ_INIT(&c->chans);
	if ((c->s = ssh_new()) == NULL ||
	    ssh_bind_accept_fd(gw_bind(), c->s, sfd) != SSH_OK) {
		log_warn("accept: %s", ssh_get_error(gw_bind()));
		if (c->s == NULL || ssh_get_fd(c->s) != sfd)
			close(sfd);
		if (c->s != NULL)
			ssh_free(c->s);
		free(c->name);
		free(c);
		close(fd);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&conns, c, entry);
	nconns++;
	if (!trusted)
		nunauth++;

	ssh_set_blocking(c->s, 0);
	c->scb.userdata = c;
	c->scb.auth_none_function = conn_auth_none;
	c->scb.auth_pubkey_function = conn_auth_pubkey;
	c->scb.channel_open_request_session_function = conn_open_session;
	ssh_callbacks_init(&c->scb);
	ssh_set_server_callbacks(c->s, &c->scb);
	ssh_set_message_callback(c->s, conn_message, c);
	/* Never password, keyboard-interactive or GSSAPI. */
	ssh_set_auth_methods(c->s, trusted ? SSH_AUTH_METHOD_NONE :
	    SSH_AUTH_METHOD_PUBLICKEY);

	c->rev = event_new(base, fd, EV_READ|EV_PERSIST, conn_read, c);
	c->wev = event_new(base, fd, EV_WRITE, conn_write, c);
	c->after = event_new(base, -1, 0, conn_after_cb, c);
	c->tick = event_new(base, -1, EV_PERSIST, conn_tick, c);
	event_add(c->rev, NULL);
	event_add(c->tick, &sec);
	/* Sends our banner. */
	conn_kex(c);
	gw_conn_kick(c);
	return c;
}

void
gw_conn_kill(struct gw_conn *c, const char *why)
{
	if (c->dead != NULL)
		return;
	c->dead = xstrdup(why != NULL && *why != '\0' ? why : "closed");
	event_del(c->rev);
	gw_conn_kick(c);
}

int
gw_conn_spec(struct gw_conn *c, struct ctl_spec *s, char *why,
    size_t whylen)
{
	const char *suffix = ".spindle", *at;
	size_t n = c->name != NULL ? strlen(c->name) : 0;
	char *dest, *host, *user = NULL;

	if (n > strlen(suffix) &&
	    strcasecmp(c->name + n - strlen(suffix), suffix) == 0)
		dest = xstrndup(c->name, n - strlen(suffix));
	else if (c->user != NULL && *c->user != '\0')
		dest = xstrdup(c->user);
	else {
		snprintf(why, whylen, "no route: connect to NAME.spindle, "
		    "or give the route as the user name");
		return -1;
	}
	/* The last '@' splits, as ssh splits its destination. */
	if ((at = strrchr(dest, '@')) != NULL && at != dest) {
		user = xstrndup(dest, at - dest);
		host = xstrdup(at + 1);
	} else
		host = xstrdup(dest);
	if (*host == '\0' || *host == '-') {
		snprintf(why, whylen, "not a route: %s", dest);
		free(dest);
		free(host);
		free(user);
		return -1;
	}
	ctl_spec_dest(s, dest, host, user);
	free(dest);
	free(host);
	free(user);
	return 0;
}

ssh_session
gw_conn_session(struct gw_conn *c)
{
	return c->s;
}

void
gw_conn_kick(struct gw_conn *c)
{
	event_active(c->after, EV_TIMEOUT, 0);
}

int
gw_conn_chan_ok(struct gw_conn *c)
{
	struct gw_chan *ch;
	int n = 0;

	for (ch = TAILQ_FIRST(&c->chans); ch != NULL; ch = gw_chan_next(ch))
		n++;
	if (n >= gw_limits.max_channels) {
		log_warn("%s: channel refused: %d open already",
		    conn_who(c), n);
		return 0;
	}
	if (gw_chan_staged() >= GW_STAGING_MAX) {
		log_warn("%s: channel refused: %zu bytes staged",
		    conn_who(c), gw_chan_staged());
		return 0;
	}
	return 1;
}

void
gw_conn_sent(struct gw_conn *c, size_t n)
{
	c->unsent += n;
}

int
gw_conn_full(struct gw_conn *c)
{
	return c->unsent >= GW_UNSENT_MAX;
}

/* libssh's output buffer ran dry (a channel's write_wontblock). */
void
gw_conn_drained(struct gw_conn *c)
{
	if (c->unsent >= GW_UNSENT_MAX)
		gw_conn_kick(c);
	c->unsent = 0;
}

struct gw_chan_list *
gw_conn_chans(struct gw_conn *c)
{
	return &c->chans;
}

size_t
gw_conn_count(void)
{
	return nconns;
}

void
gw_conn_shutdown(void)
{
	struct gw_conn *c;

	while ((c = TAILQ_FIRST(&conns)) != NULL) {
		gw_conn_kill(c, "the gateway stops");
		conn_free(c);
	}
}
