/* Frame header codec.  The header is fixed, big-endian, validated strictly. */
#include <stdio.h>
#include <string.h>

#include "router.h"

void
be32_put(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

uint32_t
be32_get(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

void
wire_put_hdr(uint8_t *p, const struct spn_hdr *h)
{
	p[0] = SPN_MAGIC >> 8;
	p[1] = SPN_MAGIC & 0xff;
	p[2] = SPN_VERSION;
	p[3] = h->kind;
	be32_put(p + 4, h->dst);
	be32_put(p + 8, h->src);
	be32_put(p + 12, h->handle);
	be32_put(p + 16, h->reply_to);
	be32_put(p + 20, h->len);
}

/*
 * Decode and validate.  On failure write the reason to why and return -1:
 * the caller drops the whole stream, since framing can no longer be trusted.
 */
int
wire_get_hdr(const uint8_t *p, struct spn_hdr *h, uint32_t max_frame,
    char *why, size_t whylen)
{
	uint16_t magic = (p[0] << 8) | p[1];

	if (magic != SPN_MAGIC) {
		snprintf(why, whylen, "bad magic 0x%04x", magic);
		return -1;
	}
	if (p[2] != SPN_VERSION) {
		snprintf(why, whylen, "unsupported version %u", p[2]);
		return -1;
	}
	h->kind = p[3];
	h->dst = be32_get(p + 4);
	h->src = be32_get(p + 8);
	h->handle = be32_get(p + 12);
	h->reply_to = be32_get(p + 16);
	h->len = be32_get(p + 20);
	if (h->kind == 0 || h->kind > SPN_K_MAX) {
		snprintf(why, whylen, "unknown frame kind %u", h->kind);
		return -1;
	}
	if (h->len > max_frame) {
		snprintf(why, whylen, "frame of %u bytes exceeds limit %u",
		    h->len, max_frame);
		return -1;
	}
	if (h->src == SPN_CTX_NONE || h->dst == SPN_CTX_NONE) {
		snprintf(why, whylen, "zero context id (src %u dst %u)",
		    h->src, h->dst);
		return -1;
	}
	return 0;
}

const char *
wire_kind_name(uint8_t kind)
{
	static const char *names[] = {
		[SPN_K_CALL] = "CALL", [SPN_K_REPLY] = "REPLY",
		[SPN_K_DEAD] = "DEAD", [SPN_K_DATA] = "DATA",
		[SPN_K_EOF] = "EOF", [SPN_K_CREDIT] = "CREDIT",
		[SPN_K_CANCEL] = "CANCEL", [SPN_K_ROUTE_ADD] = "ROUTE_ADD",
		[SPN_K_ROUTE_DEL] = "ROUTE_DEL", [SPN_K_LOG] = "LOG",
		[SPN_K_BOOT] = "BOOT", [SPN_K_HELLO] = "HELLO",
		[SPN_K_KEEPALIVE] = "KEEPALIVE",
		[SPN_K_KEEPALIVE_ACK] = "KEEPALIVE_ACK",
		[SPN_K_WINCH] = "WINCH",
		[SPN_K_GONE] = "GONE",
	};

	if (kind > SPN_K_MAX || names[kind] == NULL)
		return "?";
	return names[kind];
}

/* A CONNECT call carries the new hop's password: every router keeps its
 * bytes out of buffers that are freed without being wiped. */
int
wire_secret(const struct spn_hdr *h)
{
	return h->kind == SPN_K_CALL && h->handle == SPN_H_CONNECT;
}

const char *
wire_dead_name(uint32_t reason)
{
	switch (reason) {
	case SPN_D_NO_ROUTE:
		return "no route";
	case SPN_D_TOO_LARGE:
		return "message too large";
	case SPN_D_REFUSED:
		return "refused";
	case SPN_D_NO_HANDLE:
		return "unknown handle";
	case SPN_D_LOST:
		return "context lost";
	case SPN_D_FAILED:
		return "failed";
	}
	return "unknown reason";
}
