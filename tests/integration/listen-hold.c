/*
 * A LISTEN client for the forward-remote tests, as the shim's -R is:
 *
 *	listen-hold ROUTE BIND PORT HOST HOSTPORT
 *
 * asks the daemon for a listener at ROUTE's far end on BIND:PORT ("-":
 * no address given, the loopback; a PORT of -1: BIND is a UNIX socket
 * path) joined to HOST:HOSTPORT here (a HOSTPORT of -1: HOST is a UNIX
 * socket path; a HOST of "-": none, a remote dynamic forward), prints
 * "port N" once it listens, then holds it until stdin ends (exit 0) or the daemon ends it
 * ("lost: why" on stderr, exit 1).  A refused request: its message on
 * stderr, exit 255.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/lib.h"

int
main(int argc, char **argv)
{
	struct fwd_spec f = { .kind = FWD_REMOTE };
	struct ctl_spec s;
	struct ctl_buf b = { 0 };
	struct ctl_msg m;
	struct pollfd pfd[2];
	struct upk u;
	char why[1024], *text;
	int fd, port;

	if (argc != 6) {
		fprintf(stderr, "usage: listen-hold ROUTE BIND PORT HOST "
		    "HOSTPORT\n");
		return 2;
	}
	f.bind = strcmp(argv[2], "-") == 0 ? NULL : argv[2];
	f.bind_port = atoi(argv[3]);
	f.host = strcmp(argv[4], "-") == 0 ? NULL : argv[4];
	f.port = atoi(argv[5]);
	ctl_spec_init(&s, argv[1], NULL);
	if ((fd = ctl_listen(&s, &f, &port, why, sizeof why)) < 0) {
		fprintf(stderr, "%s\n", why);
		return 255;
	}
	printf("port %d\n", port);
	fflush(stdout);
	pfd[0].fd = 0;
	pfd[0].events = POLLIN;
	pfd[1].fd = fd;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[0].revents != 0) {
			char c[256];

			if (read(0, c, sizeof c) <= 0)
				return 0;
		}
		if (pfd[1].revents != 0) {
			if (ctl_recv(fd, &b, &m, NULL, NULL) == 1 &&
			    m.type == SPN_CTL_ERROR) {
				upk_init(&u, m.body, m.len);
				text = upk_str(&u);
				fprintf(stderr, "lost: %s\n", text ? text : "?");
				free(text);
			} else
				fprintf(stderr, "lost: connection closed\n");
			ctl_buf_free(&b);
			return 1;
		}
	}
}
