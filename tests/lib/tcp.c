/*
 * tcp: TCP connections made by a context (spn_tcp_connect), steps in
 * order on one route:
 *
 *	tcp ROUTE STEP [-- STEP]...
 *
 *	pipe HOST PORT		stdin to the connection, then its FIN;
 *				the connection to stdout until its EOF
 *	send HOST PORT TEXT	TEXT to the connection, then its FIN; what
 *				comes back to stdout, and a newline
 *	connect HOST PORT [MS]	connect, and close at once
 *	many HOST PORT N	N connections at once (a thread each), each
 *				sends its number and a newline, reads the
 *				echo back, closes
 *	hold HOST PORT N	N connections; "held" on stdout, then wait
 *				until they all end: "ended at MS" (realtime)
 *	pause FILE		"paused" on stderr, wait until FILE exists
 *	bg HOST PORT		connect on a thread of its own while the
 *				next steps run: "bg ... in N ms" at its end
 *	join			wait for bg's end
 *	sleep MS		wait MS milliseconds
 *	shutdown HOST PORT	connect, spn_shutdown: the socket reads its
 *				end (the last step)
 *
 * HOST starting with '/' (and PORT 0) is a UNIX socket there.  Each step
 * says on stderr "ok STEP ... in N ms" or "error STEP CODE errno N:
 * TEXT"; the exit status is 1 if one failed.  tests/integration/
 * lib-tcp.sh runs it.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

static struct spn	*spn;
static struct spn_ctx	*ctx;

static int
tcp_open(const char *step, const char *host, const char *port, int ms)
{
	struct spn_error err = { 0 };
	int fd;

	if ((fd = spn_tcp_connect(ctx, host, atoi(port), ms, &err)) < 0)
		step_error(step, err.code, &err);
	return fd;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

struct pump {
	int		 from;
	int		 to;
	int		 shut;	/* shutdown(to, SHUT_WR) at EOF, not close */
	uint64_t	 bytes;
	int		 err;
};

static void *
pump_main(void *arg)
{
	struct pump *p = arg;
	char buf[65536];
	ssize_t n;

	for (;;) {
		if ((n = read(p->from, buf, sizeof buf)) < 0 && errno == EINTR)
			continue;
		if (n < 0)
			p->err = errno;
		if (n <= 0)
			break;
		if (write_all(p->to, buf, n) != 0) {
			p->err = errno;
			break;
		}
		p->bytes += n;
	}
	if (p->shut)
		shutdown(p->to, SHUT_WR);
	return NULL;
}

static int
step_pipe(char **av, int ac)
{
	struct pump up = { 0, -1, 1, 0, 0 }, down = { -1, 1, 0, 0, 0 };
	uint64_t t0 = now_ms();
	pthread_t th;
	int fd;

	if (ac != 3)
		return 2;
	if ((fd = tcp_open("pipe", av[1], av[2], 0)) < 0)
		return 1;
	up.to = down.from = fd;
	pthread_create(&th, NULL, pump_main, &up);
	pump_main(&down);
	pthread_join(th, NULL);
	close(fd);
	if (up.err != 0 || down.err != 0) {
		fprintf(stderr, "error pipe: %s\n", strerror(up.err != 0 ?
		    up.err : down.err));
		return 1;
	}
	fprintf(stderr, "ok pipe %llu bytes up, %llu down in %llu ms\n",
	    (unsigned long long)up.bytes, (unsigned long long)down.bytes,
	    (unsigned long long)(now_ms() - t0));
	return 0;
}

static int
step_send(char **av, int ac)
{
	char buf[4096];
	ssize_t n;
	int fd;

	if (ac != 4)
		return 2;
	if ((fd = tcp_open("send", av[1], av[2], 0)) < 0)
		return 1;
	if (write_all(fd, av[3], strlen(av[3])) != 0 ||
	    shutdown(fd, SHUT_WR) != 0) {
		fprintf(stderr, "error send: %s\n", strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0)
		fwrite(buf, 1, n, stdout);
	putchar('\n');
	fflush(stdout);
	close(fd);
	if (n < 0) {
		fprintf(stderr, "error send: %s\n", strerror(errno));
		return 1;
	}
	fprintf(stderr, "ok send\n");
	return 0;
}

static int
step_connect(char **av, int ac)
{
	uint64_t t0 = now_ms();
	int fd;

	if (ac != 3 && ac != 4)
		return 2;
	fd = tcp_open("connect", av[1], av[2], ac == 4 ? atoi(av[3]) : 0);
	if (fd < 0) {
		fprintf(stderr, "connect failed in %llu ms\n",
		    (unsigned long long)(now_ms() - t0));
		return 1;
	}
	close(fd);
	fprintf(stderr, "ok connect in %llu ms\n",
	    (unsigned long long)(now_ms() - t0));
	return 0;
}

struct one {
	pthread_t	 th;
	const char	*host;
	const char	*port;
	int		 n;
	int		 fd;
	int		 ok;
};

static pthread_mutex_t	 many_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 many_cond = PTHREAD_COND_INITIALIZER;
static int		 many_open, many_go;

/* Connect, wait until all are open, then one line each way. */
static void *
one_main(void *arg)
{
	struct one *o = arg;
	char line[32], back[32];
	size_t len, got = 0;
	ssize_t n;

	o->fd = tcp_open("many", o->host, o->port, 0);
	pthread_mutex_lock(&many_lock);
	many_open++;
	pthread_cond_broadcast(&many_cond);
	while (!many_go)
		pthread_cond_wait(&many_cond, &many_lock);
	pthread_mutex_unlock(&many_lock);
	if (o->fd < 0)
		return NULL;
	len = snprintf(line, sizeof line, "%d\n", o->n);
	if (write_all(o->fd, line, len) != 0)
		return NULL;
	while (got < len && (n = read(o->fd, back + got, len - got)) > 0)
		got += n;
	o->ok = got == len && memcmp(line, back, len) == 0;
	close(o->fd);
	return NULL;
}

static int
step_many(char **av, int ac)
{
	uint64_t t0 = now_ms(), t1;
	struct one *o;
	int n, ok = 0;
	pthread_attr_t attr;

	if (ac != 4 || (n = atoi(av[3])) <= 0)
		return 2;
	o = calloc(n, sizeof *o);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	many_open = many_go = 0;
	for (int i = 0; i < n; i++) {
		o[i].host = av[1];
		o[i].port = av[2];
		o[i].n = i;
		pthread_create(&o[i].th, &attr, one_main, &o[i]);
	}
	pthread_mutex_lock(&many_lock);
	while (many_open < n)
		pthread_cond_wait(&many_cond, &many_lock);
	t1 = now_ms();
	many_go = 1;
	pthread_cond_broadcast(&many_cond);
	pthread_mutex_unlock(&many_lock);
	for (int i = 0; i < n; i++) {
		pthread_join(o[i].th, NULL);
		ok += o[i].ok;
	}
	free(o);
	if (ok != n) {
		fprintf(stderr, "error many: %d of %d round trips\n", ok, n);
		return 1;
	}
	fprintf(stderr, "ok many %d open at once in %llu ms, all echoed in "
	    "%llu ms\n", n, (unsigned long long)(t1 - t0),
	    (unsigned long long)(now_ms() - t0));
	return 0;
}

static uint64_t
realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
step_hold(char **av, int ac)
{
	struct pollfd *p;
	char buf[4096];
	int n, left;

	if (ac != 4 || (n = atoi(av[3])) <= 0)
		return 2;
	p = calloc(n, sizeof *p);
	for (int i = 0; i < n; i++) {
		if ((p[i].fd = tcp_open("hold", av[1], av[2], 0)) < 0)
			return 1;
		p[i].events = POLLIN;
	}
	printf("held\n");
	fflush(stdout);
	for (left = n; left > 0;) {
		if (poll(p, n, -1) < 0)
			return 1;
		for (int i = 0; i < n; i++) {
			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			if (read(p[i].fd, buf, sizeof buf) > 0)
				continue;
			close(p[i].fd);
			p[i].fd = -1;
			left--;
		}
	}
	printf("ended at %llu\n", (unsigned long long)realtime_ms());
	fflush(stdout);
	free(p);
	fprintf(stderr, "ok hold %d\n", n);
	return 0;
}

static int
step_pause(char **av, int ac)
{
	if (ac != 2)
		return 2;
	fprintf(stderr, "paused\n");
	while (access(av[1], F_OK) != 0)
		usleep(20000);
	return 0;
}

static pthread_t	 bg_th;
static char		*bg_av[3];
static int		 bg_on;

/* A connect the other steps must not wait for (a slow name, say). */
static void *
bg_main(void *arg)
{
	uint64_t t0 = now_ms();
	int fd;

	(void)arg;
	fd = tcp_open("bg", bg_av[1], bg_av[2], 0);
	if (fd >= 0)
		close(fd);
	fprintf(stderr, "bg %s in %llu ms\n", fd >= 0 ? "ok" : "failed",
	    (unsigned long long)(now_ms() - t0));
	return NULL;
}

static int
step_bg(char **av, int ac)
{
	if (ac != 3 || bg_on)
		return 2;
	memcpy(bg_av, av, sizeof bg_av);
	if (pthread_create(&bg_th, NULL, bg_main, NULL) != 0)
		return 1;
	bg_on = 1;
	return 0;
}

static int
step_sleep(char **av, int ac)
{
	if (ac != 2)
		return 2;
	usleep(atoi(av[1]) * 1000);
	return 0;
}

static int
step_join(char **av, int ac)
{
	(void)av;
	if (ac != 1 || !bg_on)
		return 2;
	pthread_join(bg_th, NULL);
	bg_on = 0;
	return 0;
}

static int
step_shutdown(char **av, int ac)
{
	struct pollfd p;
	char c;
	int fd;

	if (ac != 3)
		return 2;
	if ((fd = tcp_open("shutdown", av[1], av[2], 0)) < 0)
		return 1;
	spn_ctx_unref(ctx);
	ctx = NULL;
	spn_shutdown(spn);
	p.fd = fd;
	p.events = POLLIN;
	if (poll(&p, 1, 5000) != 1 || read(fd, &c, 1) > 0) {
		fprintf(stderr, "error shutdown: the socket lives on\n");
		return 1;
	}
	fprintf(stderr, "ok shutdown\n");
	return 0;
}

static int
step(char **av, int ac)
{
	static const struct {
		const char	*name;
		int		(*fn)(char **, int);
	} steps[] = {
		{ "pipe", step_pipe }, { "send", step_send },
		{ "connect", step_connect },
		{ "many", step_many }, { "hold", step_hold },
		{ "pause", step_pause }, { "shutdown", step_shutdown },
		{ "bg", step_bg }, { "join", step_join },
		{ "sleep", step_sleep },
	};

	for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
		if (strcmp(av[0], steps[i].name) == 0)
			return steps[i].fn(av, ac);
	}
	fprintf(stderr, "%s: no step %s\n", prog, av[0]);
	return 2;
}

int
main(int argc, char **argv)
{
	struct spn_error err;
	int i, j, rc, failed = 0;

	prog = "tcp";
	if (spn_init(&argc, &argv, NULL, &spn) != SPN_OK)
		return 1;
	if (argc < 3)
		return 2;
	if (spn_connect(spn, argv[1], NULL, &ctx, &err) != SPN_OK) {
		spn_error_print(&err);
		return 1;
	}
	for (i = 2; i < argc; i = j + 1) {
		for (j = i; j < argc && strcmp(argv[j], "--") != 0; j++)
			;
		if ((rc = step(argv + i, j - i)) == 2)
			return 2;
		failed |= rc;
		if (ctx == NULL)
			return failed;	/* shut down */
	}
	spn_ctx_unref(ctx);
	spn_shutdown(spn);
	return failed;
}
