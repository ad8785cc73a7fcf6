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
	pk_init(&pk);
	ctl_spec_pack(&pk, s);
	pk_u32(&pk, mode);
	pk_u32(&pk, flags);
	pk_str(&pk, host != NULL ? host : "");
	pk_u32(&pk, port);
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
