/*
 * A hostile far end for the trust tests (hostile.sh): installed as the
 * `ssh` of a route, it takes stage 0 and the image like a real remote,
 * answers BOOT with HELLO like a real agent, then breaks the protocol in
 * the way its host name says:
 *
 *	claim-future	ROUTE_ADD for the next 59 context ids
 *	claim-past	ROUTE_ADD for every id below its own (other routes)
 *	claim-flood	ROUTE_ADD for a million ids, as fast as it can
 *	forge-src	a CALL that claims to come from the context before it
 *	call-up		a CALL to its parent's PING service
 *	call-sideways	a CALL to the EXEC service of the context before it
 *	oversized	a frame header announcing 100 MiB
 *	unknown-kind	a frame of kind 99
 *	no-read		keepalives and stray DATA that need answers, never
 *			reading a byte of them
 *	log-flood	a million LOG records (with terminal escapes), then
 *			it exits
 *	silent		nothing at all (but it reads, so keepalives pass)
 *	answer-escapes	answers as a context whose words are terminal
 *			escapes (C0 and C1): every EXEC fails with status
 *			-1 (the client's "context lost"), every libspindle
 *			CALL with an error reply
 *	log-forge	a LOG record under another route's name, then it
 *			exits
 *	answer-sideways	a libspindle CALL is answered, half a second
 *			later, on the next reply handles, which belong to
 *			calls to other contexts, never on its own
 *	gone-sibling	GONE to its parent for every id below its own:
 *			its siblings (and cousins) died, it says
 *	listen-port	a LISTEN is BOUND on port 70000, which no TCP has
 *
 * It speaks the wire with the router room's own codec; it is test code,
 * never linked into spindle.
 */
#include <sys/utsname.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router.h"

static uint32_t	 me, parent;

static void
die(const char *what)
{
	fprintf(stderr, "hostile-ssh: %s\n", what);
	exit(255);
}

static void
read_full(void *p, size_t n)
{
	uint8_t *b = p;
	ssize_t r;

	while (n > 0) {
		if ((r = read(0, b, n)) <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			die("stdin ended early");
		}
		b += r;
		n -= r;
	}
}

static int
write_full(const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(1, b, n)) <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return -1;
		}
		b += w;
		n -= w;
	}
	return 0;
}

static int
frame(uint8_t kind, uint32_t dst, uint32_t src, uint32_t handle,
    uint32_t reply_to, const struct pk *pk)
{
	uint8_t hb[SPN_HDR_LEN];
	struct spn_hdr h = { .kind = kind, .dst = dst, .src = src,
	    .handle = handle, .reply_to = reply_to,
	    .len = pk != NULL ? pk->len : 0 };

	wire_put_hdr(hb, &h);
	if (write_full(hb, sizeof hb) != 0)
		return -1;
	return pk != NULL && pk->len != 0 ? write_full(pk->buf, pk->len) : 0;
}

/* Stage 0 is one line ending "set -- LEN Z 'argv0';..."; the image
 * (LEN bytes) follows, then BOOT. */
static void
boot(void)
{
	char line[16384], *p;
	size_t n = 0;
	unsigned long len;
	uint8_t hb[SPN_HDR_LEN], *payload;
	struct spn_hdr h;
	struct utsname u;
	struct pk pk;
	char why[128];

	do {
		if (n == sizeof line - 1)
			die("stage 0 too long");
		read_full(line + n, 1);
	} while (line[n++] != '\n');
	line[n] = '\0';
	if ((p = strstr(line, "set -- ")) == NULL)
		die("no length in stage 0");
	len = strtoul(p + 7, NULL, 10);
	uname(&u);
	printf("SPN0 %s\n", u.machine);
	fflush(stdout);
	while (len > 0) {
		n = len < sizeof line ? len : sizeof line;
		read_full(line, n);
		len -= n;
	}
	read_full(hb, sizeof hb);
	if (wire_get_hdr(hb, &h, SPN_MAX_FRAME_HARD, why, sizeof why) != 0 ||
	    h.kind != SPN_K_BOOT)
		die("no BOOT");
	payload = xmalloc(h.len + 1);
	read_full(payload, h.len);
	free(payload);
	me = h.dst;
	parent = h.src;
	pk_init(&pk);
	pk_u32(&pk, getpid());
	pk_str(&pk, u.machine);
	frame(SPN_K_HELLO, parent, me, h.reply_to, 0, &pk);
	pk_free(&pk);
}

/* A control frame to the parent's router for each id: ROUTE_ADD (its
 * own, it says), GONE (dead, it says: a parent's word, which a child may
 * not give). */
static void
control(uint8_t kind, uint32_t from, uint32_t to, const char *why)
{
	struct pk pk;

	for (uint32_t id = from; id <= to; id++) {
		pk_init(&pk);
		pk_u32(&pk, id);
		if (why != NULL)
			pk_str(&pk, why);
		if (frame(kind, parent, me, SPN_H_ROUTER, 0, &pk) != 0)
			exit(0);	/* cut off: as it should be */
		pk_free(&pk);
	}
}

static void
call(uint32_t dst, uint32_t src, uint32_t handle)
{
	struct pk pk;

	pk_init(&pk);
	pk_str(&pk, "hostile");
	frame(SPN_K_CALL, dst, src, handle, SPN_H_DYNAMIC + 7, &pk);
	pk_free(&pk);
}

/* Frames that each need an answer, while it never reads one. */
static void
no_read(void)
{
	struct pk pk;

	pk_init(&pk);
	pk_str(&pk, "data for nobody");
	for (;;) {
		if (frame(SPN_K_KEEPALIVE, parent, me, SPN_H_ROUTER, 0,
		    NULL) != 0 ||
		    frame(SPN_K_DATA, parent, me, SPN_H_DYNAMIC + 99999,
		    SPN_H_DYNAMIC + 3, &pk) != 0)
			exit(0);
	}
}

/* DATA to a sibling (me - 1) as fast as the link takes it, 384 MiB:
 * a master that forwards it all to a link that does not drain holds it
 * all. */
static void
flood_sideways(void)
{
	static uint8_t chunk[256 * 1024];
	struct pk pk;

	pk_init(&pk);
	pk_bytes(&pk, chunk, sizeof chunk);
	for (int i = 0; i < 1536; i++) {
		if (frame(SPN_K_DATA, me - 1, me, SPN_H_DYNAMIC, 0, &pk) != 0)
			exit(0);
	}
	pk_free(&pk);
}

/* CALLs to a sibling's exports (me - 1): 31 MiB in big ones, then the
 * rest of its call queue to the last few bytes in smaller ones. */
static void
callflood_sideways(void)
{
	static uint8_t chunk[512 * 1024];
	static const struct { size_t len; int n; } rounds[] = {
		{ 512 * 1024, 63 }, { 1024, 520 }, { 16, 100 } };
	struct pk pk;
	uint32_t h = SPN_H_DYNAMIC;

	for (size_t r = 0; r < sizeof rounds / sizeof rounds[0]; r++) {
		pk_init(&pk);
		pk_bytes(&pk, chunk, rounds[r].len);
		for (int i = 0; i < rounds[r].n; i++) {
			if (frame(SPN_K_CALL, me - 1, me, SPN_H_CALL, h++,
			    &pk) != 0)
				exit(0);
		}
		pk_free(&pk);
	}
}

static void
log_flood(void)
{
	struct pk pk;

	for (int i = 0; i < 1000000; i++) {
		pk_init(&pk);
		pk_u32(&pk, SPN_LOG_WARN);
		pk_str(&pk, "hostile");
		pk_str(&pk, "flood \033[2J\033[H record");
		if (frame(SPN_K_LOG, SPN_CTX_MASTER, me, SPN_H_LOG, 0,
		    &pk) != 0)
			exit(0);
		pk_free(&pk);
	}
	exit(0);	/* the link ends: so does the route */
}

/* A MessagePack fixstr. */
static void
mp_str(struct pk *pk, const char *s)
{
	uint8_t b = 0xa0 | (uint8_t)strlen(s);

	pk_bytes(pk, &b, 1);
	pk_bytes(pk, s, strlen(s));
}

#define ESCAPES	"\033]0;pwned\007\033[2J\302\2332J"

/* Answers [0, [99999]] for calls to other contexts. */
static void
answer_sideways(uint32_t src, uint32_t reply_to)
{
	static const uint8_t forged[] = { 0x92, 0x00, 0x91, 0xce, 0x00, 0x01,
	    0x86, 0x9f };
	struct pk pk;

	usleep(500000);
	for (uint32_t h = reply_to + 1; h <= reply_to + 4; h++) {
		pk_init(&pk);
		pk_bytes(&pk, forged, sizeof forged);
		frame(SPN_K_REPLY, src, me, h, 0, &pk);
		pk_free(&pk);
	}
}

/* Answer what it is asked, in escapes (EXEC and CALL), or sideways. */
static void
answer(int sideways)
{
	static const uint8_t err_head[] = { 0x92, 0x01, 0x85 };
	uint8_t hb[SPN_HDR_LEN], *payload;
	struct spn_hdr h;
	struct pk pk;
	char why[128];

	for (;;) {
		read_full(hb, sizeof hb);
		if (wire_get_hdr(hb, &h, SPN_MAX_FRAME_HARD, why,
		    sizeof why) != 0)
			die(why);
		payload = xmalloc(h.len + 1);
		read_full(payload, h.len);
		free(payload);
		if (h.kind != SPN_K_CALL || h.reply_to == 0)
			continue;
		if (sideways) {
			if (h.handle == SPN_H_CALL)
				answer_sideways(h.src, h.reply_to);
			continue;
		}
		pk_init(&pk);
		if (h.handle == SPN_H_EXEC) {
			pk_u32(&pk, SPN_EXEC_FAILED);
			pk_u32(&pk, UINT32_MAX);
			pk_str(&pk, "exec " ESCAPES);
		} else if (h.handle == SPN_H_CALL) {
			pk_bytes(&pk, err_head, sizeof err_head);
			mp_str(&pk, "code");
			pk_bytes(&pk, "\x01", 1);
			mp_str(&pk, "errno");
			pk_bytes(&pk, "\x00", 1);
			mp_str(&pk, "context");
			mp_str(&pk, "ctx" ESCAPES);
			mp_str(&pk, "where");
			mp_str(&pk, "where" ESCAPES);
			mp_str(&pk, "message");
			mp_str(&pk, "call" ESCAPES);
		} else if (h.handle == SPN_H_LISTEN) {
			pk_u32(&pk, SPN_LISTEN_BOUND);
			pk_u32(&pk, 70000);
			pk_u32(&pk, SPN_H_DYNAMIC);
		} else {
			pk_free(&pk);
			continue;
		}
		frame(SPN_K_REPLY, h.src, me, h.reply_to, 0, &pk);
		pk_free(&pk);
	}
}

static void
log_forge(void)
{
	struct pk pk;

	pk_init(&pk);
	pk_u32(&pk, SPN_LOG_WARN);
	pk_str(&pk, "other-route");
	pk_str(&pk, "forged record");
	frame(SPN_K_LOG, SPN_CTX_MASTER, me, SPN_H_LOG, 0, &pk);
	pk_free(&pk);
	exit(0);
}

static void
bad_header(uint8_t kind, uint32_t len)
{
	uint8_t hb[SPN_HDR_LEN];
	struct spn_hdr h = { .kind = kind, .dst = parent, .src = me,
	    .handle = SPN_H_LOG, .len = len };

	wire_put_hdr(hb, &h);
	write_full(hb, sizeof hb);
}

static void
attack(const char *mode)
{
	if (strcmp(mode, "claim-future") == 0)
		control(SPN_K_ROUTE_ADD, me + 1, me + 59, NULL);
	else if (strcmp(mode, "claim-past") == 0)
		control(SPN_K_ROUTE_ADD, SPN_CTX_MASTER + 1, me - 1, NULL);
	else if (strcmp(mode, "claim-flood") == 0)
		control(SPN_K_ROUTE_ADD, me + 1, me + 1000000, NULL);
	else if (strcmp(mode, "forge-src") == 0)
		call(parent, me - 1, SPN_H_LOG);
	else if (strcmp(mode, "call-up") == 0)
		call(parent, me, SPN_H_PING);
	else if (strcmp(mode, "call-sideways") == 0)
		call(me - 1, me, SPN_H_EXEC);
	else if (strcmp(mode, "export-sideways") == 0)
		call(me - 1, me, SPN_H_CALL);
	else if (strcmp(mode, "callflood-sideways") == 0)
		callflood_sideways();
	else if (strcmp(mode, "flood-sideways") == 0)
		flood_sideways();
	else if (strcmp(mode, "data-sideways") == 0)
		frame(SPN_K_DATA, me - 1, me, SPN_H_DYNAMIC, 0, NULL);
	else if (strcmp(mode, "oversized") == 0)
		bad_header(SPN_K_CALL, 100 * 1024 * 1024);
	else if (strcmp(mode, "unknown-kind") == 0)
		bad_header(99, 0);
	else if (strcmp(mode, "no-read") == 0)
		no_read();
	else if (strcmp(mode, "log-flood") == 0)
		log_flood();
	else if (strcmp(mode, "log-forge") == 0)
		log_forge();
	else if (strcmp(mode, "answer-escapes") == 0)
		answer(0);
	else if (strcmp(mode, "listen-port") == 0)
		answer(0);
	else if (strcmp(mode, "answer-sideways") == 0)
		answer(1);
	else if (strcmp(mode, "gone-sibling") == 0)
		control(SPN_K_GONE, SPN_CTX_MASTER + 1, me - 1,
		    "agent killed by signal 9 (Killed)");
	else if (strcmp(mode, "silent") != 0)
		die("unknown mode");
}

int
main(int argc, char **argv)
{
	const char *mode = NULL;
	char buf[65536];

	signal(SIGPIPE, SIG_IGN);
	/* ssh ... -- HOST COMMAND: the host names the attack. */
	for (int i = 1; i < argc - 1; i++) {
		if (strcmp(argv[i], "--") == 0) {
			mode = argv[i + 1];
			break;
		}
	}
	if (mode == NULL)
		die("usage: hostile-ssh [ssh options] -- MODE COMMAND");
	boot();
	attack(mode);
	/* Keep reading until we are cut off, answering nothing. */
	while (read(0, buf, sizeof buf) > 0)
		;
	return 0;
}
