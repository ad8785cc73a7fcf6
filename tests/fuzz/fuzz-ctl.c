/*
 * libFuzzer target for the control protocol (lib/ctl.c, lib/spn-ctl.h):
 * what the daemon reads from any client of the user's, and what
 * spindle-gateway reads from the daemon on its link.
 *
 *  1. Framing: the input is a byte stream as it arrives on the socket;
 *     ctl_parse takes message after message, and on every shorter
 *     prefix of a message says "not yet" (0), never a message, so that
 *     no cut of the stream into reads changes what is taken.
 *  2. Each message's body is decoded by its type's layout with the real
 *     unpackers (upk_*, ctl_spec_unpack) and the checks the daemon
 *     makes before it acts: RUN, FORWARD, LISTEN (SPN_FWD_F_PASS, the
 *     gateway's tcpip-forward), ACCEPT, GATEWAY (client -> daemon, and
 *     daemon -> gateway: the same body), ACCEPTED (daemon -> gateway),
 *     SIGNAL, WINCH, UP, DOWN, HELLO and the replies a client reads.
 *  3. Whatever decodes is packed again with the real packers
 *     (ctl_spec_pack, ctl_run_pack, pk_*) and must give back the very
 *     bytes it was decoded from: one encoding per value, so nothing a
 *     client sends means two things.
 *
 * The daemon's decoders themselves (dconn_run in cli/daemon.c,
 * dfwd_unpack, dremote_listen, dacc_unpack, dgateway.c's GATEWAY) sit in
 * handlers that resolve routes and start jobs, so they cannot run here:
 * their layouts and checks are restated below; keep them in step.
 * Run with -malloc_limit_mb=2 (tools/fuzz does): a message is at most
 * SPN_CTL_MAX (1 MiB), so a decoder that trusted a declared count would
 * allocate far more than that.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/lib.h"

/* The daemon's bounds (cli/dforward.c DFWD_HOST_MAX, cli/daccept.c). */
#define FZ_HOST_MAX	1024
#define FZ_NAME_MAX	4096	/* a GATEWAY name: a host name or route */

static struct pk	 re;

/* The bytes packed again must be the ones decoded. */
static void
fz_same(const uint8_t *body, size_t used)
{
	if (re.len != used || (used != 0 && memcmp(re.buf, body, used) != 0))
		abort();
}

/* A string field: NUL-terminated where its length says. */
static void
fz_str_ok(const char *s, size_t bodylen)
{
	if (s != NULL && strlen(s) > bodylen)
		abort();
}

static int
fz_spec(struct upk *u, struct ctl_spec *s)
{
	if (ctl_spec_unpack(u, s) != 0)
		return -1;
	fz_str_ok(s->route, SPN_CTL_MAX);
	if (s->route == NULL || *s->route == '\0')
		abort();
	return 0;
}

/* ctl_spec_pack sends the client's own $SSH_AUTH_SOCK: be that client. */
static void
fz_spec_pack(const struct ctl_spec *s)
{
	setenv("SSH_AUTH_SOCK", s->agent != NULL ? s->agent : "", 1);
	ctl_spec_pack(&re, s);
}

/* RUN: spec, u32 flags, strv argv, strv env, str cwd, u32 rows, u32
 * cols, u32 fd mask, [str term]  (cli/daemon.c dconn_run). */
static void
fz_run(const uint8_t *b, size_t n)
{
	struct exec_req r = { 0 };
	struct ctl_spec s;
	struct upk u;
	uint32_t mask;
	int bad;

	upk_init(&u, b, n);
	if (fz_spec(&u, &s) != 0)
		return;
	r.flags = upk_u32(&u);
	r.argv = upk_strv(&u);
	r.env = upk_strv(&u);
	r.cwd = upk_str(&u);
	r.rows = upk_u32(&u);
	r.cols = upk_u32(&u);
	mask = upk_u32(&u);
	r.term = u.left > 0 ? upk_str(&u) : NULL;
	bad = u.err || r.argv == NULL || r.argv[0] == NULL ||
	    (r.term != NULL && strlen(r.term) > SPN_EXEC_TERM_MAX) ||
	    mask > (7 | SPN_CTL_SAY);
	if (!bad) {
		pk_init(&re);
		setenv("SSH_AUTH_SOCK", s.agent != NULL ? s.agent : "", 1);
		ctl_run_pack(&re, &s, &r, mask);
		/* Without a term it was an older client's: no str at all. */
		if (r.term == NULL)
			re.len -= 4;
		fz_same(b, n - u.left);
		pk_free(&re);
	}
	ctl_spec_free(&s);
	strv_free(r.argv);
	strv_free(r.env);
	free((char *)r.cwd);
	free((char *)r.term);
}

/* FORWARD: spec, u32 mode, u32 flags, str host, u32 port
 * (cli/dforward.c dfwd_unpack, with 1 or 2 fds). */
static void
fz_forward(const uint8_t *b, size_t n)
{
	struct ctl_spec s;
	struct upk u;
	uint32_t mode, flags, port;
	char *host;

	upk_init(&u, b, n);
	if (fz_spec(&u, &s) != 0)
		return;
	mode = upk_u32(&u);
	flags = upk_u32(&u);
	host = upk_str(&u);
	port = upk_u32(&u);
	if (!u.err && host != NULL && port <= 65535 &&
	    (flags & ~SPN_FWD_F_UNIX) == 0 && strlen(host) <= FZ_HOST_MAX &&
	    (mode == SPN_FWD_DIRECT || mode == SPN_FWD_SOCKS ||
	    mode == SPN_FWD_STDIO) &&
	    (mode == SPN_FWD_SOCKS || *host != '\0')) {
		pk_init(&re);
		fz_spec_pack(&s);
		pk_u32(&re, mode);
		pk_u32(&re, flags);
		pk_str(&re, host);
		pk_u32(&re, port);
		fz_same(b, n - u.left);
		pk_free(&re);
	}
	free(host);
	ctl_spec_free(&s);
}

/* LISTEN: spec, u32 mode, u32 flags, str bind, u32 port, str target
 * host, u32 target port (cli/dremote.c dremote_listen).  With
 * SPN_FWD_F_PASS (the gateway's tcpip-forward) there is no target here:
 * each far connection comes back as ACCEPTED. */
static void
fz_listen(const uint8_t *b, size_t n)
{
	struct ctl_spec s;
	struct upk u;
	uint32_t mode, flags, port, hport;
	char *bind, *host;

	upk_init(&u, b, n);
	if (fz_spec(&u, &s) != 0)
		return;
	mode = upk_u32(&u);
	flags = upk_u32(&u);
	bind = upk_str(&u);
	port = upk_u32(&u);
	host = upk_str(&u);
	hport = upk_u32(&u);
	if (!u.err && bind != NULL && host != NULL && port <= 65535 &&
	    (flags & ~(SPN_FWD_F_UNIX | SPN_FWD_F_TARGET_UNIX |
	    SPN_FWD_F_PASS)) == 0 &&
	    !((flags & SPN_FWD_F_PASS) && (flags & SPN_FWD_F_TARGET_UNIX)) &&
	    mode == SPN_FWD_DIRECT) {
		fz_str_ok(bind, n);
		fz_str_ok(host, n);
		pk_init(&re);
		fz_spec_pack(&s);
		pk_u32(&re, mode);
		pk_u32(&re, flags);
		pk_str(&re, bind);
		pk_u32(&re, port);
		pk_str(&re, host);
		pk_u32(&re, hport);
		fz_same(b, n - u.left);
		pk_free(&re);
	}
	free(bind);
	free(host);
	ctl_spec_free(&s);
}

/* ACCEPT: spec, u32 mode, u32 flags, str host, u32 port, u32 the first
 * channel number (cli/daccept.c dacc_unpack). */
static void
fz_accept(const uint8_t *b, size_t n)
{
	struct ctl_spec s;
	struct upk u;
	uint32_t mode, flags, port, chan;
	char *host;

	upk_init(&u, b, n);
	if (fz_spec(&u, &s) != 0)
		return;
	mode = upk_u32(&u);
	flags = upk_u32(&u);
	host = upk_str(&u);
	port = upk_u32(&u);
	chan = upk_u32(&u);
	if (!u.err && host != NULL && port <= 65535 &&
	    (flags & ~(SPN_FWD_F_UNIX | SPN_FWD_F_TELL)) == 0 &&
	    strlen(host) <= FZ_HOST_MAX && chan <= 1u << 30 &&
	    (mode == SPN_FWD_DIRECT || mode == SPN_FWD_SOCKS) &&
	    (mode != SPN_FWD_DIRECT || *host != '\0')) {
		pk_init(&re);
		fz_spec_pack(&s);
		pk_u32(&re, mode);
		pk_u32(&re, flags);
		pk_str(&re, host);
		pk_u32(&re, port);
		pk_u32(&re, chan);
		fz_same(b, n - u.left);
		pk_free(&re);
	}
	free(host);
	ctl_spec_free(&s);
}

/* GATEWAY: str the name ssh was given ("web.spindle", "spindle"); the
 * same body from a client to the daemon and from the daemon to the
 * gateway. */
static void
fz_gateway(const uint8_t *b, size_t n)
{
	struct upk u;
	char *name;

	upk_init(&u, b, n);
	if ((name = upk_str(&u)) == NULL)
		return;
	fz_str_ok(name, n);
	if (strlen(name) <= FZ_NAME_MAX) {
		pk_init(&re);
		pk_str(&re, name);
		fz_same(b, n - u.left);
		pk_free(&re);
	}
	free(name);
}

/* ACCEPTED: u32 connection number, str the far peer. */
static void
fz_accepted(const uint8_t *b, size_t n)
{
	struct upk u;
	uint32_t conn;
	char *peer;

	upk_init(&u, b, n);
	conn = upk_u32(&u);
	if ((peer = upk_str(&u)) == NULL)
		return;
	fz_str_ok(peer, n);
	pk_init(&re);
	pk_u32(&re, conn);
	pk_str(&re, peer);
	fz_same(b, n - u.left);
	pk_free(&re);
	free(peer);
}

/* The small ones: a sequence of u32 (u) and str (s) fields; "S" a
 * route spec. */
static void
fz_fields(const uint8_t *b, size_t n, const char *layout)
{
	struct ctl_spec s;
	struct upk u;
	char *str[8];
	uint32_t v[8];
	int ns = 0, nv = 0, spec = 0;
	const char *f;

	upk_init(&u, b, n);
	for (f = layout; *f != '\0' && !u.err; f++) {
		switch (*f) {
		case 'u':
			v[nv++] = upk_u32(&u);
			break;
		case 's':
			if ((str[ns] = upk_str(&u)) != NULL)
				fz_str_ok(str[ns++], n);
			break;
		case 'S':
			spec = fz_spec(&u, &s) == 0;
			if (!spec)
				u.err = 1;
			break;
		}
	}
	if (!u.err) {
		pk_init(&re);
		ns = nv = 0;
		for (f = layout; *f != '\0'; f++) {
			if (*f == 'u')
				pk_u32(&re, v[nv++]);
			else if (*f == 's')
				pk_str(&re, str[ns++]);
			else
				fz_spec_pack(&s);
		}
		fz_same(b, n - u.left);
		pk_free(&re);
	}
	while (ns > 0)
		free(str[--ns]);
	if (spec)
		ctl_spec_free(&s);
}

static void
fz_msg(const struct ctl_msg *m)
{
	switch (m->type) {
	case SPN_CTL_RUN:
		fz_run(m->body, m->len);
		break;
	case SPN_CTL_FORWARD:
		fz_forward(m->body, m->len);
		break;
	case SPN_CTL_LISTEN:
		fz_listen(m->body, m->len);
		break;
	case SPN_CTL_ACCEPT:
		fz_accept(m->body, m->len);
		break;
	case SPN_CTL_GATEWAY:
		fz_gateway(m->body, m->len);
		break;
	case SPN_CTL_ACCEPTED:
		fz_accepted(m->body, m->len);
		break;
	case SPN_CTL_HELLO:
		fz_fields(m->body, m->len, "uusss");
		break;
	case SPN_CTL_ERROR:
		fz_fields(m->body, m->len, "su");
		break;
	case SPN_CTL_OK:
	case SPN_CTL_DOWN:
		fz_fields(m->body, m->len, "s");
		break;
	case SPN_CTL_EXIT:
		fz_fields(m->body, m->len, "usuu");
		break;
	case SPN_CTL_SIGNAL:
	case SPN_CTL_LS:
	case SPN_CTL_LISTENING:
		fz_fields(m->body, m->len, "u");
		break;
	case SPN_CTL_WINCH:
		fz_fields(m->body, m->len, "uu");
		break;
	case SPN_CTL_UP:
		fz_fields(m->body, m->len, "sS");
		break;
	case SPN_CTL_CHECK:
	case SPN_CTL_INFO:
		fz_fields(m->body, m->len, "S");
		break;
	case SPN_CTL_PING:
		fz_fields(m->body, m->len, "Suu");
		break;
	case SPN_CTL_CONNECTED:
		fz_fields(m->body, m->len, "ss");
		break;
	case SPN_CTL_DONE:
		fz_fields(m->body, m->len, "uuuus");
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_msg m, p;
	size_t off = 0, k, whole;
	int rc;

	while (off < size) {
		rc = ctl_parse(data + off, size - off, &m);
		if (rc <= 0)
			break;
		whole = 4 + 8 + m.len;
		if (whole > size - off || m.len > SPN_CTL_MAX - 8 ||
		    m.body != data + off + SPN_CTL_HDR)
			abort();
		/* Every shorter read of it: not yet, never a message. */
		for (k = 0; k < whole; k += 1 + k / 2)
			if (ctl_parse(data + off, k, &p) != 0)
				abort();
		fz_msg(&m);
		off += whole;
	}
	return 0;
}
