/*
 * The client's side of LISTEN (ssh -R): ask the daemon for a listener at
 * the route's far end and wait until it listens.  The daemon joins each
 * connection to the target itself: the client only holds the control
 * connection, whose end (ERROR, then EOF) says the listener is gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"

/* The request's body: ssh's bind address rules, then the target. */
static void
ctl_listen_pack(struct pk *pk, const struct ctl_spec *s,
    const struct fwd_spec *f)
{
	uint32_t flags = 0;
	const char *bind = "";

	/* No address: the loopback.  "" and "*": every address. */
	if (f->bind != NULL)
		bind = *f->bind == '\0' ? "*" : f->bind;
	if (f->bind_port < 0)
		flags |= SPN_FWD_F_UNIX;
	if (f->host != NULL && f->port < 0)
		flags |= SPN_FWD_F_TARGET_UNIX;
	ctl_spec_pack(pk, s);
	pk_u32(pk, f->host != NULL ? SPN_FWD_DIRECT : SPN_FWD_SOCKS);
	pk_u32(pk, flags);
	pk_str(pk, bind);
	pk_u32(pk, f->bind_port < 0 ? 0 : f->bind_port);
	pk_str(pk, f->host != NULL ? f->host : "");
	pk_u32(pk, f->port < 0 ? 0 : f->port);
}

/*
 * Returns the control connection (hold it: the listener lasts as long)
 * with the port bound in *port (0 for a UNIX socket), or -1 and why.
 */
int
ctl_listen(const struct ctl_spec *s, const struct fwd_spec *f, int *port,
    char *why, size_t whylen)
{
	struct ctl_buf b = { 0 };
	struct ctl_msg m;
	struct upk u;
	struct pk pk;
	char *text;
	int fd, n;

	if ((fd = client_connect(1, 1, 0, why, whylen)) < 0)
		return -1;
	pk_init(&pk);
	ctl_listen_pack(&pk, s, f);
	n = ctl_send(fd, SPN_CTL_LISTEN, 1, &pk, NULL, 0);
	pk_free(&pk);
	if (n != 0) {
		snprintf(why, whylen, "cannot ask the daemon: %s",
		    strerror(errno));
		goto fail;
	}
	if ((n = ctl_recv(fd, &b, &m, NULL, NULL)) != 1) {
		snprintf(why, whylen, "lost the daemon (%s)", n == 0 ?
		    "connection closed" : strerror(errno));
		goto fail;
	}
	upk_init(&u, m.body, m.len);
	if (m.type == SPN_CTL_LISTENING) {
		*port = upk_u32(&u);
		if (!u.err) {
			ctl_buf_free(&b);
			return fd;
		}
		snprintf(why, whylen, "malformed answer from the daemon");
	} else if (m.type == SPN_CTL_ERROR) {
		text = upk_str(&u);
		snprintf(why, whylen, "%s", text != NULL ? text : "refused");
		free(text);
	} else
		snprintf(why, whylen, "the daemon answered %u to listen",
		    m.type);
fail:
	ctl_buf_free(&b);
	close(fd);
	return -1;
}
