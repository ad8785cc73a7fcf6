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
 *     unpackers (upk_*, ctl_spec_unpack): RUN, FORWARD, LISTEN (with
 *     SPN_FWD_F_PASS the gateway's tcpip-forward), ACCEPT, GATEWAY
 *     (client -> daemon, and daemon -> gateway: the same body),
 *     ACCEPTED (daemon -> gateway), SIGNAL, WINCH, UP, DOWN, HELLO and
 *     the replies a client reads; strings come back NUL-terminated
 *     within the body.
 *  3. Whatever decodes is packed again with the real packers
 *     (ctl_spec_pack, ctl_run_pack: RUN's body written once, pk_*) and
 *     must give back the very bytes it was decoded from: one encoding
 *     per value, so nothing a client sends means two things, and
 *     ctl_run_pack writes what the daemon reads.
 *
 * The daemon's decoders themselves (dconn_run in cli/daemon.c,
 * dfwd_unpack, dremote_listen, dacc_unpack, dgw_request) sit in
 * handlers that resolve routes and start jobs, so they cannot run here:
 * their layouts are restated below (fz_types); keep them in step.
 * Run with -malloc_limit_mb=2 (tools/fuzz does): a message is at most
 * SPN_CTL_MAX (1 MiB), so a decoder that trusted a declared count would
 * allocate far more than that.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/lib.h"

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
fz_be_client(const struct ctl_spec *s)
{
	setenv("SSH_AUTH_SOCK", s->agent != NULL ? s->agent : "", 1);
}

static void
fz_spec_pack(const struct ctl_spec *s)
{
	fz_be_client(s);
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
	if (!u.err) {
		pk_init(&re);
		fz_be_client(&s);
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

/* A body as a sequence of u32 (u) and str (s) fields, "S" a route
 * spec: decoded, then packed again. */
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

/*
 * Each type's decoder: RUN's own (ctl_run_pack is its packer), else a
 * layout for fz_fields.  GATEWAY: str
 * the name ssh was given ("web.spindle", "spindle"), the same body from
 * a client to the daemon and from the daemon to the gateway; ACCEPTED:
 * u32 connection number, str the far peer (daemon -> gateway).
 */
static const struct {
	uint32_t	 type;
	void		(*fn)(const uint8_t *, size_t);
	const char	*layout;
} fz_types[] = {
	{ SPN_CTL_RUN, fz_run, NULL },
	/* spec, mode, flags, host, port (cli/dforward.c dfwd_unpack) */
	{ SPN_CTL_FORWARD, NULL, "Suusu" },
	/* spec, mode, flags (SPN_FWD_F_PASS: the gateway's -R), bind,
	 * port, target host, target port (cli/dremote.c) */
	{ SPN_CTL_LISTEN, NULL, "Suususu" },
	/* spec, mode, flags, host, port, first channel (cli/daccept.c) */
	{ SPN_CTL_ACCEPT, NULL, "Suusuu" },
	{ SPN_CTL_GATEWAY, NULL, "s" },
	{ SPN_CTL_ACCEPTED, NULL, "us" },
	{ SPN_CTL_HELLO, NULL, "uusss" },
	{ SPN_CTL_ERROR, NULL, "su" },
	{ SPN_CTL_OK, NULL, "s" },
	{ SPN_CTL_DOWN, NULL, "s" },
	{ SPN_CTL_EXIT, NULL, "usuu" },
	{ SPN_CTL_SIGNAL, NULL, "u" },
	{ SPN_CTL_LS, NULL, "u" },
	{ SPN_CTL_LISTENING, NULL, "u" },
	{ SPN_CTL_WINCH, NULL, "uu" },
	{ SPN_CTL_UP, NULL, "sS" },
	{ SPN_CTL_CHECK, NULL, "S" },
	{ SPN_CTL_INFO, NULL, "S" },
	{ SPN_CTL_PING, NULL, "Suu" },
	{ SPN_CTL_CONNECTED, NULL, "ss" },
	{ SPN_CTL_DONE, NULL, "uuuus" },
};

static void
fz_msg(const struct ctl_msg *m)
{
	for (size_t i = 0; i < sizeof fz_types / sizeof fz_types[0]; i++) {
		if (fz_types[i].type != m->type)
			continue;
		if (fz_types[i].fn != NULL)
			fz_types[i].fn(m->body, m->len);
		else
			fz_fields(m->body, m->len, fz_types[i].layout);
		return;
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
