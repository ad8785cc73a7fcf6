/*
 * The gateway as the daemon's client, on the gateway's loop: one control
 * connection per request (a session channel's RUN, a direct-tcpip's
 * FORWARD, a tcpip-forward's LISTEN), as any other client makes them.
 *
 * Sending is plain blocking I/O on a local socket (a request is small,
 * and the daemon reads every client from its own loop); a send timeout
 * bounds how long a daemon that stopped reading can hold us.  Reading is
 * event-driven and takes exactly one message at a time, header then body:
 * a read never reaches into the next message, so the fds a message
 * carries (they ride on its first byte) arrive with it and no other.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "gateway.h"

#define GW_CTL_FDS		4	/* at most per message; more: closed */
#define GW_CTL_SEND_SECS	5	/* a daemon not reading for that long
					 * is stuck: the request fails */

struct gw_ctl {
	int		 fd;
	struct event	*rev;
	gw_ctl_fn	*fn;
	void		*arg;
	int		 hello;		/* the daemon's HELLO came */
	int		 busy;		/* in fn: free only after it */
	int		 dead;		/* freed meanwhile */
	int		 over;		/* fn was told NULL */
	uint8_t		 hdr[SPN_CTL_HDR];
	uint8_t		*body;		/* SPN_CTL_MAX at most */
	size_t		 want;		/* the body's length, once known */
	size_t		 got;		/* of hdr, then of body */
	int		 fds[GW_CTL_FDS];
	int		 nfds;
};

static void	gw_ctl_read_cb(evutil_socket_t, short, void *);

static int
gw_ctl_connect(char *why, size_t whylen)
{
	struct sockaddr_un sun;
	struct timeval tv = { GW_CTL_SEND_SECS, 0 };
	char *dir = ctl_dir_path(), *path = xprintf("%s/sock", dir);
	int fd = -1;

	free(dir);
	/* The timeout bounds the connect too: a daemon whose backlog is
	 * full would otherwise hold it. */
	if (ctl_sockaddr(path, &sun) != 0 ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		snprintf(why, whylen, "cannot reach the daemon at %s: %s",
		    path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(path);
		return -1;
	}
	free(path);
	return fd;
}

struct gw_ctl *
gw_ctl_open(uint32_t type, struct pk *body, const int *fds, int nfds,
    gw_ctl_fn *fn, void *arg, char *why, size_t whylen)
{
	struct gw_ctl *g;
	struct pk pk;
	int fd, rc;

	if ((fd = gw_ctl_connect(why, whylen)) < 0)
		return NULL;
	pk_init(&pk);
	pk_u32(&pk, SPN_CTL_VERSION);
	rc = ctl_send(fd, SPN_CTL_HELLO, 0, &pk, NULL, 0);
	pk_free(&pk);
	if (rc == 0)
		rc = ctl_send(fd, type, 1, body, fds, nfds);
	if (rc != 0) {
		snprintf(why, whylen, "cannot send to the daemon: %s",
		    strerror(errno));
		close(fd);
		return NULL;
	}
	g = xcalloc(1, sizeof *g);
	g->fd = fd;
	g->fn = fn;
	g->arg = arg;
	g->rev = event_new(gw_base(), fd, EV_READ | EV_PERSIST,
	    gw_ctl_read_cb, g);
	if (g->rev == NULL || event_add(g->rev, NULL) != 0)
		fatal("gw_ctl_open: event_add");
	return g;
}

int
gw_ctl_send(struct gw_ctl *g, uint32_t type, struct pk *body)
{
	if (g == NULL || g->dead || g->over)
		return -1;
	return ctl_send(g->fd, type, 1, body, NULL, 0);
}

static void
gw_ctl_drop_fds(struct gw_ctl *g)
{
	for (int i = 0; i < g->nfds; i++)
		close(g->fds[i]);
	g->nfds = 0;
}

static void
gw_ctl_destroy(struct gw_ctl *g)
{
	event_free(g->rev);
	close(g->fd);
	gw_ctl_drop_fds(g);
	if (g->body != NULL)
		explicit_bzero(g->body, g->want);
	free(g->body);
	free(g);
}

/* Hang up: the daemon ends what the request started (kills the command,
 * closes the forward). */
void
gw_ctl_free(struct gw_ctl *g)
{
	if (g == NULL || g->dead)
		return;
	g->dead = 1;
	if (!g->busy)
		gw_ctl_destroy(g);
}

/* One call of the owner's callback; 1 if g was freed in it. */
static int
gw_ctl_call(struct gw_ctl *g, const struct ctl_msg *m)
{
	int fds[GW_CTL_FDS], nfds = 0;

	if (m != NULL) {
		nfds = g->nfds;
		memcpy(fds, g->fds, nfds * sizeof *fds);
		g->nfds = 0;
	} else {
		g->over = 1;
		event_del(g->rev);
		gw_ctl_drop_fds(g);
	}
	g->busy++;
	g->fn(g, m, fds, nfds, g->arg);
	g->busy--;
	if (g->dead && g->busy == 0) {
		gw_ctl_destroy(g);
		return 1;
	}
	return 0;
}

/* Read into what the message still needs: 1 more to come, 0 EOF,
 * -1 error (errno), 2 nothing now. */
static int
gw_ctl_read_some(struct gw_ctl *g)
{
	ssize_t n;

	/* The socket blocks (the request went out with a send timeout). */
	if (g->want == 0 && g->body == NULL)
		n = ctl_read(g->fd, g->hdr + g->got, sizeof g->hdr - g->got,
		    g->fds, &g->nfds, GW_CTL_FDS, MSG_DONTWAIT);
	else
		n = ctl_read(g->fd, g->body + g->got, g->want - g->got,
		    g->fds, &g->nfds, GW_CTL_FDS, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 2;
	if (n <= 0)
		return n;
	g->got += n;
	return 1;
}

/* A whole message in hdr and body: the callback's.  1 if g was freed. */
static int
gw_ctl_deliver(struct gw_ctl *g)
{
	struct ctl_msg m;
	int gone;

	m.type = be32_get(g->hdr + 4);
	m.id = be32_get(g->hdr + 8);
	m.body = g->body;
	m.len = g->want;
	if (m.type == SPN_CTL_HELLO && !g->hello) {
		/* Ours was answered: what follows is the request's. */
		g->hello = 1;
		gw_ctl_drop_fds(g);
		gone = 0;
	} else
		gone = gw_ctl_call(g, &m);
	if (!gone) {
		if (g->body != NULL)
			explicit_bzero(g->body, g->want);
		free(g->body);
		g->body = NULL;
		g->want = g->got = 0;
	}
	return gone;
}

static void
gw_ctl_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_ctl *g = arg;
	uint32_t len;
	int rc;

	(void)fd;
	(void)what;
	/* A bounded number of messages a wakeup: other sessions wait. */
	for (int i = 0; i < 64; i++) {
		if ((rc = gw_ctl_read_some(g)) == 2)
			return;
		if (rc <= 0) {
			if (rc < 0)
				log_debug("gateway: daemon connection: %s",
				    strerror(errno));
			gw_ctl_call(g, NULL);
			return;
		}
		if (g->body == NULL && g->want == 0) {
			if (g->got < sizeof g->hdr)
				continue;
			len = be32_get(g->hdr);
			if (len < 8 || len > SPN_CTL_MAX) {
				log_warn("gateway: bad message from the "
				    "daemon (length %u)", len);
				gw_ctl_call(g, NULL);
				return;
			}
			g->got = 0;
			g->want = len - 8;
			/* One byte at least: body NULL means "header". */
			g->body = xmalloc(g->want + 1);
		}
		if (g->got < g->want)
			continue;
		if (gw_ctl_deliver(g) || g->over)
			return;
	}
}
