/*
 * http-get: an HTTP GET to a server that only a context can reach, over
 * a TCP connection that context makes (spn_tcp_connect): the name is
 * resolved there, so "localhost" is that machine's own loopback.
 *
 *	spindle-cc -o http-get http-get.c
 *	./http-get admin@bastion+web localhost 8080 /health
 *
 * The response, headers and body, goes to stdout.  The request ends with
 * our FIN (shutdown(SHUT_WR)), which crosses the route as a FIN: the
 * server's answer still comes back on the half that stays open.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spindle.h>

int
main(int argc, char **argv)
{
	struct spn *spn;
	struct spn_ctx *ctx;
	struct spn_error err;
	char req[1024], buf[65536];
	ssize_t n;
	int fd, len;

	if (spn_init(&argc, &argv, NULL, &spn) != SPN_OK)
		return 1;
	if (argc != 5) {
		fprintf(stderr, "usage: http-get ROUTE HOST PORT PATH\n");
		return 2;
	}
	if (spn_connect(spn, argv[1], NULL, &ctx, &err) != SPN_OK) {
		spn_error_print(&err);
		return 1;
	}
	fd = spn_tcp_connect(ctx, argv[2], atoi(argv[3]), 0, &err);
	if (fd < 0) {
		spn_error_print(&err);
		return 1;
	}
	len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n"
	    "Connection: close\r\n\r\n", argv[4], argv[2]);
	if (len < 0 || (size_t)len >= sizeof req ||
	    write(fd, req, len) != len || shutdown(fd, SHUT_WR) != 0) {
		perror("http-get: request");
		return 1;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0)
		fwrite(buf, 1, n, stdout);
	if (n < 0)
		perror("http-get: response");
	close(fd);
	spn_ctx_unref(ctx);
	spn_shutdown(spn);
	return n < 0;
}
