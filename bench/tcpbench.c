/*
 * The TCP ends of bench/forward.sh: a server for the far side of a
 * tunnel and the clients that time bulk transfer, 1-byte round trips and
 * new connections through it (directly or through a SOCKS5 proxy).  C,
 * not python, so that a p99 measures the tunnel and not the client.
 *
 *	tcpbench serve ADDR PORT
 *	tcpbench bulk HOST PORT MIB
 *	tcpbench rtt HOST PORT COUNT
 *	tcpbench conns HOST PORT COUNT [THOST TPORT]
 *
 * The server runs one poll loop; the first byte of a connection says what
 * it wants: 'S' + 8 bytes (big endian) N: discard N bytes, then answer
 * 'K' (so the end of a bulk run does not depend on half-close); 'E':
 * echo every byte; 'Q': answer RESP_LEN bytes and close.  Clients print
 * "key value" lines: bulk "mb_per_s", "secs"; rtt and conns "p50_us",
 * "p99_us", "mean_us", "max_us" (conns: connect, the SOCKS5 exchange when
 * THOST is given, request and answer, as curl's time_starttransfer).
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench-time.h"

#define MAX_CONNS	256
#define BUF_LEN		(256 * 1024)
#define RESP_LEN	64
#define WARMUP		100

struct conn {
	int		 fd;
	int		 mode;		/* 0 until the first byte */
	uint8_t		 hdr[8];
	size_t		 hdr_len;
	uint64_t	 left;		/* 'S': bytes still to discard */
	uint8_t		 out[4096];	/* 'E': echo not yet written */
	size_t		 out_len;
};

static uint8_t	 buf[BUF_LEN];

static void
die(const char *what)
{
	fprintf(stderr, "tcpbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
die_msg(const char *what)
{
	fprintf(stderr, "tcpbench: %s\n", what);
	exit(1);
}

static void
set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int
tcp_connect(const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, e;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "tcpbench: %s: %s\n", host, gai_strerror(e));
		exit(1);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		die("connect");
	set_nodelay(fd);
	return fd;
}

static void
write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, b, len)) == -1) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		b += n;
		len -= n;
	}
}

static void
read_all(int fd, void *p, size_t len)
{
	uint8_t *b = p;
	ssize_t n;

	while (len > 0) {
		if ((n = read(fd, b, len)) == -1) {
			if (errno == EINTR)
				continue;
			die("read");
		}
		if (n == 0)
			die_msg("read: the connection closed early");
		b += n;
		len -= n;
	}
}

/* The server. */

static int
serve_listen(const char *addr, const char *port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(atoi(port));
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		die_msg("serve: ADDR must be numeric IPv4");
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1)
		die("bind");
	if (listen(fd, 512) == -1)
		die("listen");
	return fd;
}

static void
conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
}

/* Bytes that arrived on c: 0 to keep it, -1 to close it. */
static int
conn_input(struct conn *c, uint8_t *p, size_t n)
{
	size_t k;

	if (c->mode == 0) {
		c->mode = *p++;
		n--;
		if (c->mode == 'Q') {
			memset(buf, 'r', RESP_LEN);
			write_all(c->fd, buf, RESP_LEN);
			return -1;
		}
		if (c->mode != 'S' && c->mode != 'E')
			return -1;
	}
	if (c->mode == 'E') {
		if (n > sizeof c->out - c->out_len)
			return -1;
		memcpy(c->out + c->out_len, p, n);
		c->out_len += n;
		return 0;
	}
	if (c->hdr_len < 8) {
		k = 8 - c->hdr_len < n ? 8 - c->hdr_len : n;
		memcpy(c->hdr + c->hdr_len, p, k);
		c->hdr_len += k;
		n -= k;
		if (c->hdr_len < 8)
			return 0;
		for (k = 0; k < 8; k++)
			c->left = c->left << 8 | c->hdr[k];
	}
	if (n > c->left)
		return -1;
	c->left -= n;
	if (c->left == 0)
		write_all(c->fd, "K", 1);
	return 0;
}

static void
conn_flush(struct conn *c)
{
	ssize_t n;

	if ((n = write(c->fd, c->out, c->out_len)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close(c);
		return;
	}
	memmove(c->out, c->out + n, c->out_len - n);
	c->out_len -= n;
}

static int
serve(const char *addr, const char *port)
{
	static struct conn conns[MAX_CONNS];
	struct pollfd pfd[MAX_CONNS + 1];
	int lfd, fd, i, j, idx[MAX_CONNS + 1];
	ssize_t n;

	signal(SIGPIPE, SIG_IGN);
	lfd = serve_listen(addr, port);
	for (i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	printf("listening %s:%s\n", addr, port);
	fflush(stdout);
	for (;;) {
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		for (i = 0, j = 1; i < MAX_CONNS; i++) {
			if (conns[i].fd == -1)
				continue;
			pfd[j].fd = conns[i].fd;
			pfd[j].events = conns[i].out_len > 0 ? POLLOUT : POLLIN;
			idx[j++] = i;
		}
		if (poll(pfd, j, -1) == -1) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (i = 1; i < j; i++) {
			struct conn *c = &conns[idx[i]];

			if (pfd[i].revents == 0)
				continue;
			if (c->out_len > 0) {
				conn_flush(c);
				continue;
			}
			n = read(c->fd, buf, sizeof buf);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0 || conn_input(c, buf, n) == -1) {
				conn_close(c);
				continue;
			}
			if (c->out_len > 0)
				conn_flush(c);
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			continue;
		for (i = 0; i < MAX_CONNS && conns[i].fd != -1; i++)
			;
		if (i == MAX_CONNS) {
			close(fd);
			continue;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		set_nodelay(fd);
		memset(&conns[i], 0, sizeof conns[i]);
		conns[i].fd = fd;
	}
	return 0;
}

/* The clients. */

static int
bulk(const char *host, const char *port, const char *mib)
{
	uint64_t total = strtoull(mib, NULL, 10) << 20, left;
	uint8_t hdr[9], k;
	double t0, t1;
	int fd, i;

	fd = tcp_connect(host, port);
	memset(buf, 'x', sizeof buf);
	hdr[0] = 'S';
	for (i = 0; i < 8; i++)
		hdr[1 + i] = total >> (56 - 8 * i);
	t0 = now_us();
	write_all(fd, hdr, sizeof hdr);
	for (left = total; left > 0; left -= i) {
		i = left < sizeof buf ? left : sizeof buf;
		write_all(fd, buf, i);
	}
	read_all(fd, &k, 1);
	t1 = now_us();
	if (k != 'K')
		die_msg("bulk: the sink did not confirm");
	close(fd);
	printf("mb_per_s %.0f\nsecs %.3f\n", total / (t1 - t0),
	    (t1 - t0) / 1e6);
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
print_stats(double *v, int n)
{
	double sum = 0;
	int i;

	qsort(v, n, sizeof *v, cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	printf("p50_us %.1f\np99_us %.1f\nmean_us %.1f\nmax_us %.1f\n",
	    v[n / 2], v[(n * 99) / 100], sum / n, v[n - 1]);
}

static int
rtt(const char *host, const char *port, int count)
{
	double *v, t0;
	uint8_t b;
	int fd, i;

	if (count < 1 || (v = calloc(count, sizeof *v)) == NULL)
		die_msg("rtt: bad COUNT");
	fd = tcp_connect(host, port);
	write_all(fd, "E", 1);
	for (i = -WARMUP; i < count; i++) {
		t0 = now_us();
		write_all(fd, "p", 1);
		read_all(fd, &b, 1);
		if (i >= 0)
			v[i] = now_us() - t0;
		if (b != 'p')
			die_msg("rtt: wrong echo");
	}
	close(fd);
	print_stats(v, count);
	return 0;
}

/* The SOCKS5 exchange as curl --socks5-hostname makes it: greeting,
 * then CONNECT with a name, each answer awaited. */
static void
socks5(int fd, const char *host, int port)
{
	uint8_t req[8 + 255], ans[4 + 255 + 2];
	size_t hl = strlen(host), skip;

	if (hl > 255)
		die_msg("socks5: host name too long");
	write_all(fd, "\5\1\0", 3);
	read_all(fd, ans, 2);
	if (ans[0] != 5 || ans[1] != 0)
		die_msg("socks5: no-auth refused");
	req[0] = 5, req[1] = 1, req[2] = 0, req[3] = 3, req[4] = hl;
	memcpy(req + 5, host, hl);
	req[5 + hl] = port >> 8, req[6 + hl] = port & 0xff;
	write_all(fd, req, 7 + hl);
	read_all(fd, ans, 5);
	if (ans[1] != 0) {
		fprintf(stderr, "tcpbench: socks5: CONNECT failed (%u)\n",
		    ans[1]);
		exit(1);
	}
	switch (ans[3]) {
	case 1:
		skip = 4 - 1 + 2;
		break;
	case 4:
		skip = 16 - 1 + 2;
		break;
	case 3:
		skip = ans[4] + 2;
		break;
	default:
		die_msg("socks5: bad address type");
	}
	read_all(fd, ans, skip);
}

static int
conns(const char *host, const char *port, int count, const char *thost,
    const char *tport)
{
	uint8_t resp[RESP_LEN];
	double *v, t0;
	int fd, i;

	if (count < 1 || (v = calloc(count, sizeof *v)) == NULL)
		die_msg("conns: bad COUNT");
	for (i = -WARMUP / 10; i < count; i++) {
		t0 = now_us();
		fd = tcp_connect(host, port);
		if (thost != NULL)
			socks5(fd, thost, atoi(tport));
		write_all(fd, "Q", 1);
		read_all(fd, resp, sizeof resp);
		if (i >= 0)
			v[i] = now_us() - t0;
		close(fd);
	}
	print_stats(v, count);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: tcpbench serve ADDR PORT\n"
	    "       tcpbench bulk HOST PORT MIB\n"
	    "       tcpbench rtt HOST PORT COUNT\n"
	    "       tcpbench conns HOST PORT COUNT [THOST TPORT]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "bulk") == 0)
		return bulk(argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "rtt") == 0)
		return rtt(argv[2], argv[3], atoi(argv[4]));
	if ((argc == 5 || argc == 7) && strcmp(argv[1], "conns") == 0)
		return conns(argv[2], argv[3], atoi(argv[4]),
		    argc == 7 ? argv[5] : NULL, argc == 7 ? argv[6] : NULL);
	usage();
	return 2;
}
