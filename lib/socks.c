/*
 * The request a dynamic forward (-D) takes: SOCKS4, SOCKS4a and SOCKS5
 * (RFC 1928), CONNECT only, SOCKS5 with "no authentication" only; IPv4,
 * IPv6 and domain names, which are passed on as text and resolved at the
 * far end.  Bytes are fed as they come, in any split: each byte is
 * appended to the message in hand (the struct's buffer, never an
 * allocation) and the state machine steps on it, so a request split in
 * single bytes parses as a whole one does.
 *
 * On every return *outlen bytes of out (at most SOCKS_OUT_MAX) are to be
 * written to the client first: SOCKS5's method answer, or the refusal
 * that goes with SOCKS_ERROR.  A SOCKS5 client that sends its greeting
 * and request in one write gets SOCKS_READY with the method answer
 * still in out.  Once READY, in[*used] on is the client's first data,
 * to be kept for the connection; the answer to the request itself waits
 * for the connect (socks_reply), so that a refused port is a refusal and
 * not a success followed by a close, as OpenSSH's -D gives.
 *
 * Where this differs from OpenSSH 9.2 (channels.c channel_decode_socks4,
 * channel_decode_socks5):
 *  - refusals get an answer (SOCKS5 0xFF for no acceptable method, 0x07
 *    for BIND and UDP ASSOCIATE, 0x08 for an unknown address type, 0x01
 *    otherwise; SOCKS4 0x5b) where OpenSSH closes without one;
 *  - success is answered after the connect, with the real error if it
 *    fails, where OpenSSH answers success before the channel opens;
 *  - a SOCKS5 domain must be 1..255 bytes without NUL (OpenSSH takes an
 *    empty one and cuts at a NUL), a SOCKS4a host at most 255 (OpenSSH:
 *    NI_MAXHOST), the SOCKS4 user id at most what the buffer leaves
 *    (OpenSSH: about 1000 bytes, kept cut to 255);
 *  - port 0 is refused (OpenSSH passes it on to fail at the connect);
 *  - a bad SOCKS4 command or port is refused once the header is in, not
 *    after the user id.
 * What clients send is the same: the version decides from the first
 * byte, 4a is address 0.0.0.x with x != 0, the greeting may come with
 * the request, and data after the request is the connection's.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib.h"

enum {
	SOCKS_S_VERSION,	/* nothing yet */
	SOCKS_S_V4,		/* SOCKS4 header, user id, 4a host */
	SOCKS_S_V5_METHODS,	/* SOCKS5 greeting */
	SOCKS_S_V5_REQUEST,	/* SOCKS5 request */
	SOCKS_S_READY,
	SOCKS_S_ERROR
};

#define SOCKS4_HEAD		8	/* vn cd dstport(2) dstip(4) */
#define SOCKS4_CONNECT		1
#define SOCKS4_GRANTED		0x5a
#define SOCKS4_REJECTED		0x5b

#define SOCKS5_NOAUTH		0x00
#define SOCKS5_NO_METHOD	0xff
#define SOCKS5_CONNECT		0x01
#define SOCKS5_IPV4		0x01
#define SOCKS5_DOMAIN		0x03
#define SOCKS5_IPV6		0x04
#define SOCKS5_SUCCEEDED	0x00
#define SOCKS5_FAILURE		0x01
#define SOCKS5_NET_UNREACH	0x03
#define SOCKS5_HOST_UNREACH	0x04
#define SOCKS5_REFUSED		0x05
#define SOCKS5_BAD_COMMAND	0x07
#define SOCKS5_BAD_ATYP		0x08

/* Where one feed's answer goes: the caller's out, SOCKS_OUT_MAX long. */
struct socks_out {
	uint8_t		*p;
	size_t		*len;
	char		*err;
	size_t		 errlen;
};

static void
socks_put(struct socks_out *o, const uint8_t *p, size_t n)
{
	/* A feed answers at most a greeting and a refusal (12 bytes). */
	if (*o->len + n <= SOCKS_OUT_MAX) {
		memcpy(o->p + *o->len, p, n);
		*o->len += n;
	}
}

static size_t
socks_reply_bytes(int version, int code, uint8_t *out)
{
	if (version == 4) {
		/* vn 0, cd, then a port and address the client ignores. */
		memset(out, 0, 8);
		out[1] = code;
		return 8;
	}
	/* ver, rep, rsv, atyp IPv4, bound address 0.0.0.0:0 as ssh's. */
	memset(out, 0, 10);
	out[0] = 5;
	out[1] = code;
	out[3] = SOCKS5_IPV4;
	return 10;
}

/* Refuse: the version's answer (code -1: none), why, and the state. */
static int	socks_refuse(struct socks *, struct socks_out *, int,
		    const char *, ...) __attribute__((format(printf, 4, 5)));

static int
socks_refuse(struct socks *s, struct socks_out *o, int code,
    const char *fmt, ...)
{
	uint8_t	 ans[SOCKS_OUT_MAX];
	va_list	 ap;

	if (code >= 0)
		socks_put(o, ans, socks_reply_bytes(s->version, code, ans));
	if (o->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(o->err, o->errlen, fmt, ap);
		va_end(ap);
	}
	s->state = SOCKS_S_ERROR;
	return SOCKS_ERROR;
}

static int
socks_ready(struct socks *s, const char *host, size_t len, uint16_t port)
{
	memcpy(s->host, host, len);
	s->host[len] = '\0';
	s->port = port;
	s->state = SOCKS_S_READY;
	return SOCKS_READY;
}

static uint16_t
socks_port(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * SOCKS4: vn cd port ip userid NUL, and for 4a (ip 0.0.0.x, x != 0) the
 * host name and NUL after it.  The newest byte is buf[len - 1].
 */
static int
socks4_step(struct socks *s, struct socks_out *o)
{
	const uint8_t	*b = s->buf;
	char		 ntop[INET_ADDRSTRLEN];
	size_t		 user, hstart, hlen;

	if (s->len < SOCKS4_HEAD)
		return SOCKS_MORE;
	if (s->len == SOCKS4_HEAD) {
		if (b[1] != SOCKS4_CONNECT)
			return socks_refuse(s, o, SOCKS4_REJECTED,
			    "SOCKS4: command %u not supported (CONNECT only)",
			    b[1]);
		if (socks_port(b + 2) == 0)
			return socks_refuse(s, o, SOCKS4_REJECTED,
			    "SOCKS4: port 0");
		return SOCKS_MORE;
	}
	user = strnlen((const char *)b + SOCKS4_HEAD, s->len - SOCKS4_HEAD);
	if (SOCKS4_HEAD + user == s->len) {
		/* Still in the user id: it must leave room for its NUL. */
		if (s->len == sizeof s->buf)
			return socks_refuse(s, o, SOCKS4_REJECTED,
			    "SOCKS4: user id longer than %zu bytes",
			    sizeof s->buf - SOCKS4_HEAD - 1);
		return SOCKS_MORE;
	}
	if (b[4] != 0 || b[5] != 0 || b[6] != 0 || b[7] == 0) {
		if (inet_ntop(AF_INET, b + 4, ntop, sizeof ntop) == NULL)
			return socks_refuse(s, o, SOCKS4_REJECTED,
			    "SOCKS4: bad address");
		return socks_ready(s, ntop, strlen(ntop), socks_port(b + 2));
	}
	/* SOCKS4a: address 0.0.0.x, the host name after the user id. */
	hstart = SOCKS4_HEAD + user + 1;
	hlen = strnlen((const char *)b + hstart, s->len - hstart);
	if (hstart + hlen == s->len) {
		if (hlen > SOCKS_HOST_MAX)
			return socks_refuse(s, o, SOCKS4_REJECTED,
			    "SOCKS4a: host name longer than %d bytes",
			    SOCKS_HOST_MAX);
		if (s->len == sizeof s->buf)
			return socks_refuse(s, o, SOCKS4_REJECTED,
			    "SOCKS4a: request longer than %zu bytes",
			    sizeof s->buf);
		return SOCKS_MORE;
	}
	if (hlen == 0)
		return socks_refuse(s, o, SOCKS4_REJECTED,
		    "SOCKS4a: empty host name");
	return socks_ready(s, (const char *)b + hstart, hlen,
	    socks_port(b + 2));
}

/* SOCKS5 greeting: ver nmethods methods[nmethods]. */
static int
socks5_methods(struct socks *s, struct socks_out *o)
{
	static const uint8_t	 noauth[] = { 5, SOCKS5_NOAUTH };
	static const uint8_t	 none[] = { 5, SOCKS5_NO_METHOD };

	if (s->len < 2 || s->len < 2 + (size_t)s->buf[1])
		return SOCKS_MORE;
	if (memchr(s->buf + 2, SOCKS5_NOAUTH, s->buf[1]) == NULL) {
		socks_put(o, none, sizeof none);
		return socks_refuse(s, o, -1, "SOCKS5: the client offers no "
		    "method without authentication");
	}
	socks_put(o, noauth, sizeof noauth);
	s->len = 0;
	s->state = SOCKS_S_V5_REQUEST;
	return SOCKS_MORE;
}

/* SOCKS5 request: ver cmd rsv atyp addr port(2). */
static int
socks5_request(struct socks *s, struct socks_out *o)
{
	const uint8_t	*b = s->buf;
	char		 ntop[INET6_ADDRSTRLEN];
	size_t		 need;
	int		 af;

	if (s->len < 4)
		return SOCKS_MORE;
	if (s->len == 4) {
		if (b[0] != 5 || b[2] != 0)
			return socks_refuse(s, o, SOCKS5_FAILURE, "SOCKS5: "
			    "bad request header %02x %02x", b[0], b[2]);
		if (b[1] != SOCKS5_CONNECT)
			return socks_refuse(s, o, SOCKS5_BAD_COMMAND,
			    "SOCKS5: command %u not supported (CONNECT only)",
			    b[1]);
	}
	switch (b[3]) {
	case SOCKS5_IPV4:
		need = 4 + 4 + 2;
		af = AF_INET;
		break;
	case SOCKS5_IPV6:
		need = 4 + 16 + 2;
		af = AF_INET6;
		break;
	case SOCKS5_DOMAIN:
		if (s->len == 4)
			return SOCKS_MORE;
		if (b[4] == 0)
			return socks_refuse(s, o, SOCKS5_FAILURE,
			    "SOCKS5: empty host name");
		/* A NUL would cut the name short of what was asked. */
		if (s->len > 5 && s->len <= 5 + (size_t)b[4] &&
		    b[s->len - 1] == '\0')
			return socks_refuse(s, o, SOCKS5_FAILURE,
			    "SOCKS5: NUL in host name");
		need = 4 + 1 + b[4] + 2;
		af = AF_UNSPEC;
		break;
	default:
		return socks_refuse(s, o, SOCKS5_BAD_ATYP,
		    "SOCKS5: address type %u not supported", b[3]);
	}
	if (s->len < need)
		return SOCKS_MORE;
	if (socks_port(b + need - 2) == 0)
		return socks_refuse(s, o, SOCKS5_FAILURE, "SOCKS5: port 0");
	if (af == AF_UNSPEC)
		return socks_ready(s, (const char *)b + 5, b[4],
		    socks_port(b + need - 2));
	if (inet_ntop(af, b + 4, ntop, sizeof ntop) == NULL)
		return socks_refuse(s, o, SOCKS5_FAILURE, "SOCKS5: bad address");
	return socks_ready(s, ntop, strlen(ntop), socks_port(b + need - 2));
}

static int
socks_step(struct socks *s, struct socks_out *o)
{
	switch (s->state) {
	case SOCKS_S_VERSION:
		if (s->buf[0] == 4 || s->buf[0] == 5) {
			s->version = s->buf[0];
			s->state = s->version == 4 ? SOCKS_S_V4 :
			    SOCKS_S_V5_METHODS;
			return SOCKS_MORE;
		}
		return socks_refuse(s, o, -1, "not a SOCKS4 or SOCKS5 request "
		    "(first byte 0x%02x)", s->buf[0]);
	case SOCKS_S_V4:
		return socks4_step(s, o);
	case SOCKS_S_V5_METHODS:
		return socks5_methods(s, o);
	default:
		return socks5_request(s, o);
	}
}

void
socks_init(struct socks *s)
{
	memset(s, 0, sizeof *s);
	s->state = SOCKS_S_VERSION;
}

/*
 * Feed len bytes of what the client sent; *used says how many were
 * taken (all of them unless READY or ERROR).  out must hold
 * SOCKS_OUT_MAX bytes; err takes why on SOCKS_ERROR.  Once READY or
 * ERROR, a feed takes nothing and says so again.
 */
int
socks_feed(struct socks *s, const uint8_t *in, size_t len, size_t *used,
    uint8_t *out, size_t *outlen, char *err, size_t errlen)
{
	struct socks_out o = { out, outlen, err, errlen };
	size_t		 i;
	int		 rc = SOCKS_MORE;

	*used = 0;
	*outlen = 0;
	if (s->state == SOCKS_S_READY)
		return SOCKS_READY;
	if (s->state == SOCKS_S_ERROR) {
		if (errlen > 0)
			snprintf(err, errlen, "SOCKS request already refused");
		return SOCKS_ERROR;
	}
	for (i = 0; i < len && rc == SOCKS_MORE; i++) {
		/* Each state refuses before its message overfills buf. */
		s->buf[s->len++] = in[i];
		rc = socks_step(s, &o);
	}
	*used = i;
	return rc;
}

size_t
socks_reply(const struct socks *s, int err, uint8_t *out)
{
	int	code;

	if (s->version == 4)
		code = err == 0 ? SOCKS4_GRANTED : SOCKS4_REJECTED;
	else if (s->version != 5)
		return 0;
	else if (err == 0)
		code = SOCKS5_SUCCEEDED;
	else if (err == ECONNREFUSED)
		code = SOCKS5_REFUSED;
	else if (err == EHOSTUNREACH)
		code = SOCKS5_HOST_UNREACH;
	else if (err == ENETUNREACH)
		code = SOCKS5_NET_UNREACH;
	else
		code = SOCKS5_FAILURE;
	return socks_reply_bytes(s->version, code, out);
}
