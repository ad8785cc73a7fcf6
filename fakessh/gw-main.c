/*
 * spindle-gateway's process: one thread, one libevent loop (R10).  The
 * daemon starts it as `spindle-gateway serve FD` and hands it client
 * sockets over FD (GATEWAY messages, lib/spn-ctl.h); the link's EOF
 * ends it.  Its stderr is the daemon's log, so every line says
 * "gateway: ".  The routes file gives the limits and the optional TCP
 * listener; the host key comes from gw-key.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "gateway.h"

#define MAIN_FDS_MAX	16	/* passed sockets waiting for their message */

struct gw_limits gw_limits = {
	GW_MAX_CONNECTIONS, GW_MAX_STARTUPS, GW_MAX_CHANNELS, GW_LOGIN_GRACE,
	GW_IDLE
};

static struct event_base *main_base;
static ssh_bind		 main_bind;
static struct ctl_buf	 main_buf;
static int		 main_fds[MAIN_FDS_MAX];
static int		 main_nfds;

struct event_base *
gw_base(void)
{
	return main_base;
}

ssh_bind
gw_bind(void)
{
	return main_bind;
}

static void
main_usage(FILE *f)
{
	fprintf(f,
	    "usage: spindle-gateway serve FD\n"
	    "       spindle-gateway key print|fingerprint|rekey\n"
	    "       spindle-gateway --version | --help\n"
	    "The SSH gateway of spindle(1): the daemon starts it and hands it\n"
	    "client connections over FD; see `spindle ssh-config`.\n");
}

static void
main_log(int level, uint32_t about, const char *ctx, const char *text,
    void *arg)
{
	char line[4096];
	int n;

	(void)about, (void)ctx, (void)arg;
	n = snprintf(line, sizeof line, "gateway: %s: %s",
	    log_level_name(level), text);
	if (n >= (int)sizeof line - 1)
		n = sizeof line - 2;
	str_clean(line);
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

static void
main_limit(int *limit, int set)
{
	if (set > 0)
		*limit = set;
}

/* The routes file's gateway-* options; a broken file leaves defaults. */
static int
main_config(void)
{
	struct routes_file rf;
	char *path = routes_file_path(), why[512];
	int rc = 0;

	if (routes_file_load(path, &rf, why, sizeof why) != 0) {
		log_warn("%s (the gateway's defaults apply)", why);
		free(path);
		return 0;
	}
	free(path);
	main_limit(&gw_limits.max_connections, rf.gateway.max_connections);
	main_limit(&gw_limits.max_startups, rf.gateway.max_startups);
	main_limit(&gw_limits.max_channels, rf.gateway.max_channels);
	main_limit(&gw_limits.login_grace, rf.gateway.login_grace);
	main_limit(&gw_limits.idle, rf.gateway.idle);
	if (rf.gateway.listen[0] != NULL &&
	    gw_tcp_listen(&rf.gateway, why, sizeof why) != 0) {
		log_error("%s", why);
		rc = -1;
	}
	routes_file_free(&rf);
	return rc;
}

static int
main_bind_new(void)
{
	char why[512];
	ssh_key key;
	bool no = false;
	int quiet = SSH_LOG_NOLOG;

	if ((key = gw_key_load(why, sizeof why)) == NULL) {
		log_error("host key: %s", why);
		return -1;
	}
	if ((main_bind = ssh_bind_new()) == NULL)
		fatal("ssh_bind_new");
	/* Not /etc/ssh/libssh_server_config: only what is said here. */
	if (ssh_bind_options_set(main_bind, SSH_BIND_OPTIONS_PROCESS_CONFIG,
	    &no) != SSH_OK ||
	    ssh_bind_options_set(main_bind, SSH_BIND_OPTIONS_LOG_VERBOSITY,
	    &quiet) != SSH_OK ||
	    ssh_bind_options_set(main_bind,
	    SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, "ssh-ed25519") != SSH_OK ||
	    ssh_bind_options_set(main_bind, SSH_BIND_OPTIONS_IMPORT_KEY,
	    key) != SSH_OK) {
		log_error("ssh_bind: %s", ssh_get_error(main_bind));
		return -1;
	}
	/* The bind owns the key now. */
	return 0;
}

/* A GATEWAY message: its socket is the first one queued. */
static void
main_gateway(const struct ctl_msg *m)
{
	struct upk u;
	char *name;
	int fd;

	upk_init(&u, m->body, m->len);
	name = upk_str(&u);
	if (u.err || main_nfds == 0) {
		log_warn("daemon link: a GATEWAY without %s",
		    u.err ? "a name" : "a socket");
		free(name);
		return;
	}
	fd = main_fds[0];
	memmove(main_fds, main_fds + 1, --main_nfds * sizeof *main_fds);
	gw_conn_new(fd, *name != '\0' ? name : NULL, 1);
	free(name);
}

static void
main_stop(const char *why)
{
	log_info("stopping: %s", why);
	event_base_loopbreak(main_base);
}

static void
main_link(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_msg m;
	int fds[8], nfds = 0, rc;

	(void)what, (void)arg;
	rc = ctl_fill(fd, &main_buf, fds, &nfds, 8);
	for (int i = 0; i < nfds; i++) {
		if (main_nfds < MAIN_FDS_MAX)
			main_fds[main_nfds++] = fds[i];
		else
			close(fds[i]);
	}
	if (rc == 0 || (rc < 0 && errno != EAGAIN && errno != EINTR)) {
		main_stop(rc == 0 ? "the daemon left" : strerror(errno));
		return;
	}
	for (;;) {
		if (main_buf.used > 0)
			ctl_buf_consume(&main_buf);
		if ((rc = ctl_parse(main_buf.data, main_buf.len, &m)) < 0) {
			main_stop("the daemon broke the protocol");
			return;
		}
		if (rc == 0)
			break;
		main_buf.used = 4 + 8 + m.len;
		if (m.type == SPN_CTL_GATEWAY)
			main_gateway(&m);
		else if (m.type != SPN_CTL_HELLO)
			log_warn("daemon link: message %u ignored", m.type);
	}
}

static void
main_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what, (void)arg;
	main_stop(strsignal(sig));
}

static int
main_serve(const char *arg)
{
	struct event *link, *term, *intr;
	char *end;
	long fd;

	fd = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || fd < 0 || fd > 65535 ||
	    fcntl((int)fd, F_GETFD) == -1) {
		fprintf(stderr, "spindle-gateway: bad link '%s'\n", arg);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	secret_nodump();
	log_set_output(main_log, NULL);
	log_set_level(SPN_LOG_INFO);
	if ((main_base = event_base_new()) == NULL)
		fatal("event_base_new");
	if (ssh_init() != SSH_OK)
		fatal("ssh_init");
	if (main_bind_new() != 0 || main_config() != 0)
		return 1;
	fd_nonblock((int)fd, 1);
	link = event_new(main_base, (int)fd, EV_READ|EV_PERSIST, main_link,
	    NULL);
	term = evsignal_new(main_base, SIGTERM, main_signal, NULL);
	intr = evsignal_new(main_base, SIGINT, main_signal, NULL);
	event_add(link, NULL);
	event_add(term, NULL);
	event_add(intr, NULL);
	log_info("ready (pid %ld)", (long)getpid());
	event_base_dispatch(main_base);

	gw_tcp_stop();
	gw_conn_shutdown();
	for (int i = 0; i < main_nfds; i++)
		close(main_fds[i]);
	event_free(link);
	event_free(term);
	event_free(intr);
	ctl_buf_free(&main_buf);
	ssh_bind_free(main_bind);
	ssh_finalize();
	event_base_free(main_base);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "key") == 0)
		return gw_key_main(argc - 1, argv + 1);
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return main_serve(argv[2]);
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("spindle-gateway %s (libssh %s)\n", PACKAGE_VERSION,
		    ssh_version(0));
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		main_usage(stdout);
		return 0;
	}
	main_usage(stderr);
	return 2;
}
