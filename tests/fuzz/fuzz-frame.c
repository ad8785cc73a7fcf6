/*
 * libFuzzer target for everything that parses bytes from a peer:
 *
 *  1. wire_get_hdr at every offset of the input;
 *  2. the payload decoders (upk_u32/upk_str/upk_strv) at the first offsets,
 *     alone and mixed in an order the input chooses;
 *  3. the input written into a real link (a socketpair, one end owned by a
 *     router on an event base, the other closed after the write), so the
 *     link's preamble and frame parser, the reverse-path check, routing,
 *     dead letters, control frames (ROUTE_*, BOOT, KEEPALIVE) and stream
 *     handles (a sink, a source, and a socket's pair: TCP's) all see the
 *     bytes.
 *
 * The first input byte picks the router's role for step 3:
 *   0  the master (id 1), input from a child link (peer 9)
 *   1  the same, but the child link expects a text preamble first
 *   2  a new agent (id 0) reading its parent link: BOOT parsing
 *   3  a booted agent (id 5, ancestors 1 and 3) reading its parent link
 *
 * Build with --enable-fuzzing (clang); run tests/fuzz/fuzz-frame CORPUS.
 */
#include <sys/socket.h>

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router.h"

#define H_ECHO		100
#define PEER_CHILD	9

static struct event_base *base;
static int		 devnull = -1;

static void
quiet(int level, const char *ctx, const char *text, void *arg)
{
	(void)level;
	(void)ctx;
	(void)text;
	(void)arg;
}

static void
echo(struct rt *rt, const struct rt_msg *m, void *arg)
{
	(void)arg;
	if (m->data != NULL)
		rt_send(rt, SPN_K_REPLY, m->h.src, m->h.reply_to, 0, m->data,
		    m->h.len);
}

static void
boot_hook(struct rt *rt, const struct rt_msg *m, struct upk *u, void *arg)
{
	(void)rt;
	(void)m;
	(void)arg;
	/* What an agent reads after the router's fields. */
	upk_u32(u);
	free(upk_str(u));
	strv_free(upk_strv(u));
}

static void
fuzz_header(const uint8_t *d, size_t n)
{
	struct spn_hdr h;
	char why[128];

	for (size_t off = 0; off + SPN_HDR_LEN <= n; off++) {
		if (wire_get_hdr(d + off, &h, SPN_MAX_FRAME_DEFAULT, why,
		    sizeof why) == 0) {
			/* Whatever decodes must encode back the same. */
			uint8_t b[SPN_HDR_LEN];

			wire_put_hdr(b, &h);
			if (memcmp(b, d + off, SPN_HDR_LEN) != 0)
				abort();
			if (h.kind == 0 || h.kind > SPN_K_MAX ||
			    h.len > SPN_MAX_FRAME_DEFAULT || h.src == 0 ||
			    h.dst == 0)
				abort();
		} else if (why[0] == '\0')
			abort();
	}
}

static void
fuzz_unpack(const uint8_t *d, size_t n)
{
	struct upk u;
	size_t maxoff = n < 16 ? n : 16;

	for (size_t off = 0; off <= maxoff; off++) {
		for (int mode = 0; mode < 4; mode++) {
			size_t step = 0;

			upk_init(&u, d + off, n - off);
			while (!u.err) {
				size_t before = u.left;
				int op = mode < 3 ? mode :
				    n == 0 ? 0 : d[step++ % n] % 3;
				char *s, **v;

				switch (op) {
				case 0:
					upk_u32(&u);
					break;
				case 1:
					s = upk_str(&u);
					if ((s == NULL) != (u.err != 0))
						abort();
					if (s != NULL && strlen(s) + 4 !=
					    before - u.left)
						abort();
					free(s);
					break;
				case 2:
					v = upk_strv(&u);
					if ((v == NULL) != (u.err != 0))
						abort();
					strv_free(v);
					break;
				}
				if (u.left > before)
					abort();
				/* Every successful read consumes bytes. */
				if (!u.err && u.left == before)
					abort();
			}
		}
	}
}

static void
link_closed(struct link *l, const char *why, void *arg)
{
	(void)l;
	(void)why;
	*(int *)arg = 1;
}

static void
fuzz_link(const uint8_t *d, size_t n)
{
	static const uint32_t anc[] = { 1, 3 };
	struct rt_hooks hooks = { .boot = boot_hook };
	int mode = n > 0 ? d[0] % 4 : 0, sv[2], pv[2];
	struct rt *rt;
	struct link *l;
	struct sink *sink = NULL;
	struct src *src = NULL;
	struct sock *sock = NULL;
	int kv[2] = { -1, -1 };
	ssize_t w;
	int closed = 0;
	struct link_cbs cbs = { .closed = link_closed, .arg = &closed };

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	/* Make room for the whole input so one write delivers it. */
	{
		int sz = 1 << 20;

		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
		setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	}
	switch (mode) {
	case 0:
	case 1:
		rt = rt_new(base, SPN_CTX_MASTER, "master");
		l = link_new(rt, sv[0], sv[0], LINK_CHILD, PEER_CHILD,
		    "child");
		rt_route_add(rt, PEER_CHILD, l);
		if (mode == 1)
			link_expect_preamble(l);
		break;
	case 2:
		rt = rt_new(base, 0, "agent");
		rt_set_hooks(rt, &hooks);
		l = link_new(rt, sv[0], sv[0], LINK_PARENT, 0, "parent");
		break;
	default:
		rt = rt_new(base, 5, "agent");
		rt_set_ancestors(rt, anc, 2);
		l = link_new(rt, sv[0], sv[0], LINK_PARENT, 3, "parent");
		break;
	}
	link_set_cbs(l, &cbs);
	/* Handles the bytes may reach: 1024 is the sink, 1025 the source,
	 * 1026 and 1027 a socket's sink and source (half-close, resets). */
	rt_handle_add(rt, H_ECHO, RT_ALLOW_ANY, 0, echo, NULL);
	rt_handle_add(rt, SPN_H_PING, RT_ALLOW_ANCESTORS | RT_ALLOW_DESCENDANTS,
	    0, echo, NULL);
	sink = sink_new(rt, dup(devnull), 1, mode < 2 ? PEER_CHILD : 3, NULL,
	    NULL);
	if (pipe(pv) == 0) {
		/* Something to send once the peer grants credit. */
		w = write(pv[1], "0123456789abcdef", 16);
		src = src_new(rt, pv[0], 1, mode < 2 ? PEER_CHILD : 3, 7, NULL,
		    NULL);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, kv) == 0) {
		w = write(kv[1], "fedcba9876543210", 16);
		sock = sock_new(rt, kv[0], kv[0], mode < 2 ? PEER_CHILD : 3,
		    NULL, NULL);
		sock_start(sock, 8);
	}

	if (n > 1) {
		w = write(sv[1], d + 1, n - 1);
		(void)w;
	}
	shutdown(sv[1], SHUT_WR);
	/* EOF closes the link, if the bytes did not close it before. */
	for (int i = 0; i < 10000 && !closed; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	if (!closed)
		abort();
	close(sv[1]);
	if (src != NULL)
		close(pv[1]);
	src_free(src);
	sink_free(sink);
	sock_free(sock);
	if (kv[1] >= 0)
		close(kv[1]);
	/* The link closed itself at EOF; let its deferred free run. */
	for (int i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	rt_free(rt);
	event_base_loop(base, EVLOOP_NONBLOCK);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (base == NULL) {
		signal(SIGPIPE, SIG_IGN);
		log_set_sink(quiet, NULL);
		log_set_level(SPN_LOG_DEBUG);
		base = event_base_new();
		devnull = open("/dev/null", O_WRONLY);
	}
	fuzz_header(data, size);
	fuzz_unpack(data, size);
	fuzz_link(data, size);
	return 0;
}
