/*
 * A FORWARD request, the client's side: one control connection a
 * forward, the socket (or -W's stdin and stdout) handed to the daemon
 * with it, so that no byte of the connection crosses the client.  The
 * replies come on that connection: CONNECTED or ERROR, then DONE; the
 * caller polls it (non-blocking) or reads it blocking.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"

/* FORWARD's and ACCEPT's body, as far as they share it. */
static void
ctl_fwd_pack(struct pk *pk, const struct ctl_spec *s, uint32_t mode,
    uint32_t flags, const char *host, uint32_t port)
{
	pk_init(pk);
	ctl_spec_pack(pk, s);
	pk_u32(pk, mode);
	pk_u32(pk, flags);
	pk_str(pk, host != NULL ? host : "");
	pk_u32(pk, port);
}

/*
 * Connects to the daemon (starting it), sends HELLO and the request
 * with its fds, and returns the control connection; -1 and why.  The
 * caller closes its copies of the fds.
 */
int
ctl_forward_send(const struct ctl_spec *s, uint32_t mode, uint32_t flags,
    const char *host, uint32_t port, const int *fds, int nfds, char *why,
    size_t whylen)
{
	struct pk pk, hello;
	int fd, rc;

	if ((fd = client_connect(1, 0, 0, why, whylen)) < 0)
		return -1;
	pk_init(&hello);
	pk_u32(&hello, SPN_CTL_VERSION);
	ctl_fwd_pack(&pk, s, mode, flags, host, port);
	/* HELLO's answer comes with the others: no round trip of its own. */
	rc = ctl_send(fd, SPN_CTL_HELLO, 0, &hello, NULL, 0);
	if (rc == 0)
		rc = ctl_send(fd, SPN_CTL_FORWARD, 1, &pk, fds, nfds);
	if (rc != 0)
		snprintf(why, whylen, "cannot send to the daemon: %s",
		    strerror(errno));
	pk_free(&pk);
	pk_free(&hello);
	if (rc != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int	ctl_fwd_next(int, struct ctl_buf *, struct fwd_status *,
		    uint32_t *);

static void
ctl_forward_take(const struct ctl_msg *m, struct fwd_status *st)
{
	struct upk u;
	uint32_t hi, lo;

	upk_init(&u, m->body, m->len);
	switch (m->type) {
	case SPN_CTL_CONNECTED:
		st->state = FWD_ST_CONNECTED;
		st->text = upk_str(&u);
		st->target = upk_str(&u);
		break;
	case SPN_CTL_ERROR:
		st->state = FWD_ST_ERROR;
		st->text = upk_str(&u);
		st->status = upk_u32(&u);
		break;
	case SPN_CTL_DONE:
		st->state = FWD_ST_DONE;
		hi = upk_u32(&u);
		lo = upk_u32(&u);
		st->in = (uint64_t)hi << 32 | lo;
		hi = upk_u32(&u);
		lo = upk_u32(&u);
		st->out = (uint64_t)hi << 32 | lo;
		st->text = upk_str(&u);
		if (st->text != NULL && *st->text == '\0') {
			free(st->text);
			st->text = NULL;
		}
		break;
	default:
		st->state = FWD_ST_LOST;
		st->text = xprintf("unexpected reply %u from the daemon",
		    m->type);
		break;
	}
	if (u.err && st->state != FWD_ST_LOST) {
		fwd_status_free(st);
		st->state = FWD_ST_LOST;
		st->text = xstrdup("malformed reply from the daemon");
	}
}

/*
 * The next reply on a FORWARD's control connection, HELLO skipped:
 * FWD_ST_MORE when nothing whole is there yet (a non-blocking fd), else
 * what came, FWD_ST_LOST (with why) when the daemon went away.
 */
int
ctl_forward_read(int fd, struct ctl_buf *b, struct fwd_status *st)
{
	return ctl_fwd_next(fd, b, st, NULL);
}

/*
 * An ACCEPT's: OK, or ERROR before it; then a notice about a connection
 * (*chan its channel): the FORWARD reply it would have had.
 */
static void
ctl_accept_take(const struct ctl_msg *m, struct fwd_status *st,
    uint32_t *chan)
{
	struct ctl_msg sub = *m;
	struct upk u;

	/* Before OK (*chan UINT32_MAX): OK, or the ERROR that refuses. */
	if (*chan == UINT32_MAX && m->type == SPN_CTL_OK) {
		st->state = FWD_ST_OK;
		return;
	}
	if (*chan == UINT32_MAX) {
		ctl_forward_take(m, st);
		return;
	}
	upk_init(&u, m->body, m->len);
	*chan = upk_u32(&u);
	if (u.err) {
		st->state = FWD_ST_LOST;
		st->text = xstrdup("malformed notice from the daemon");
		return;
	}
	sub.body = m->body + 4;
	sub.len = m->len - 4;
	ctl_forward_take(&sub, st);
}

/* The next notice on an ACCEPT's control connection, as
 * ctl_forward_read's. */
int
ctl_accept_read(int fd, struct ctl_buf *b, struct fwd_status *st,
    uint32_t *chan)
{
	*chan = 0;
	return ctl_fwd_next(fd, b, st, chan);
}

static int
ctl_fwd_next(int fd, struct ctl_buf *b, struct fwd_status *st,
    uint32_t *chan)
{
	struct ctl_msg m;
	int rc;

	memset(st, 0, sizeof *st);
	for (;;) {
		if (b->used > 0)
			ctl_buf_consume(b);
		if ((rc = ctl_parse(b->data, b->len, &m)) < 0) {
			errno = EPROTO;
			break;
		}
		if (rc > 0) {
			b->used = SPN_CTL_HDR + m.len;
			if (m.type == SPN_CTL_HELLO)
				continue;
			if (chan != NULL)
				ctl_accept_take(&m, st, chan);
			else
				ctl_forward_take(&m, st);
			return st->state;
		}
		if ((rc = ctl_fill(fd, b, NULL, NULL, 0)) > 0)
			continue;
		if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return FWD_ST_MORE;
		break;
	}
	st->state = FWD_ST_LOST;
	st->text = xprintf("lost the daemon (%s)", rc == 0 ?
	    "connection closed" : strerror(errno));
	return FWD_ST_LOST;
}

void
fwd_status_free(struct fwd_status *st)
{
	free(st->text);
	free(st->target);
	memset(st, 0, sizeof *st);
}

/*
 * ACCEPT: the listening socket lfd goes to the daemon (the caller keeps
 * its copy: the listener is its own), which answers once it accepts on
 * it.  b keeps what came behind the OK, for ctl_accept_read.
 */
int
ctl_accept_send(const struct ctl_spec *s, uint32_t mode, uint32_t flags,
    const char *host, uint32_t port, uint32_t chan, int lfd,
    struct ctl_buf *b, char *why, size_t whylen)
{
	struct fwd_status st;
	uint32_t ch;
	struct pk pk;
	int fd, rc;

	if ((fd = client_connect(1, 1, 0, why, whylen)) < 0)
		return -1;
	ctl_fwd_pack(&pk, s, mode, flags, host, port);
	pk_u32(&pk, chan);
	rc = ctl_send(fd, SPN_CTL_ACCEPT, 0, &pk, &lfd, 1);
	pk_free(&pk);
	if (rc != 0) {
		snprintf(why, whylen, "cannot send to the daemon: %s",
		    strerror(errno));
		close(fd);
		return -1;
	}
	ch = UINT32_MAX;
	rc = ctl_fwd_next(fd, b, &st, &ch);
	if (rc != FWD_ST_OK) {
		snprintf(why, whylen, "%s", st.text != NULL ? st.text :
		    "unexpected reply from the daemon");
		close(fd);
		fd = -1;
	}
	fwd_status_free(&st);
	return fd;
}
