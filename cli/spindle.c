/* spindle: the command line.  One table of commands, one file each. */
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "cli.h"

int	cli_verbose;

struct cmd {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*summary;
};

static const struct cmd cmds[] = {
	{ "run", cmd_run, "run a command at the end of a route" },
	{ "ping", cmd_ping, "measure round trips to the end of a route" },
	{ "info", cmd_info, "show pid, user, host and kernel of every hop" },
	{ "bootstrap-size", cmd_bootstrap_size,
	    "print the bytes sent to start an agent" },
	{ "up", cmd_up, "connect a named route now (via the daemon)" },
	{ "down", cmd_down, "close a route the daemon holds" },
	{ "ls", cmd_ls, "list the daemon's routes [--json]" },
	{ "check", cmd_check, "connect if need be, and time a round trip" },
	{ "daemon", cmd_daemon,
	    "start, stop or show the per-user daemon, or its log" },
	{ "fakessh-bin", cmd_fakessh_bin,
	    "print a directory whose ssh rides spindle routes" },
	{ "exec", cmd_exec, "run a local command with that ssh first in PATH" },
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: spindle [-qv] COMMAND [ARGS...]\n"
	    "       spindle --version | --help\n\n"
	    "Run commands through chains of contexts (ssh, sudo, ... hops)\n"
	    "set up once, with nothing installed on the remote machines.\n\n"
	    "Commands:\n");
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		fprintf(f, "  %-16s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f,
	    "\nROUTE is hops joined by '+', each started from the one before:\n"
	    "  local                  a new context on the same machine\n"
	    "  [USER@]HOST[,OPT=VAL]  ssh to HOST (an ssh_config alias works);\n"
	    "                         OPT: port identity config timeout hostkey o\n"
	    "  sudo[=USER][,OPT]      sudo to USER (default root);\n"
	    "                         OPT: group=G login preserve-env nohome\n"
	    "  su=USER, doas=USER     su or doas to USER\n"
	    "  e.g. bastion+web+sudo=webapp, local+local+local\n\n"
	    "Options:\n"
	    "  -v, --verbose          more messages (twice: debug)\n"
	    "  -q, --quiet            errors only\n"
	    "  --timings              (run, ping, info) time each step\n"
	    "  --timeout SECS         (run, ping, info) per-hop connect "
	    "timeout [30]\n"
	    "  --keepalive SECS       (run, ping, info) declare a silent hop "
	    "dead after SECS [15]\n"
	    "  --ask-pass             (run, ping, info) ask once for the "
	    "password of\n"
	    "                         ssh, sudo, su and doas hops\n"
	    "  --password-file FILE   ... or read it from FILE's first line\n"
	    "  --password-fd N        ... or from file descriptor N\n\n"
	    "  --no-daemon            (run, ping, info) never go through the "
	    "daemon\n"
	    "  --persist SECS|no      (up) close the route after SECS idle "
	    "[no]\n\n"
	    "run, ping and info go through the per-user daemon when one is\n"
	    "running (or ROUTE names a route of the routes file): its routes\n"
	    "stay up between commands, and close after 10 minutes idle (routes\n"
	    "file: persist SECS|no) unless defined with spindle up.  An option\n"
	    "is the command line's, else the route's in the routes file, else\n"
	    "the file's global one, else the default shown.\n\n"
	    "Environment:\n"
	    "  SPINDLE_SSH_ARGS       extra arguments for the ssh hops started "
	    "here\n"
	    "                         (not those behind another ssh hop), "
	    "e.g. \"-F FILE\"\n"
	    "  SPINDLE_ROUTES         the routes file "
	    "[~/.config/spindle/routes]\n"
	    "  SPINDLE_RUNTIME_DIR    the daemon's directory "
	    "[$XDG_RUNTIME_DIR/spindle\n"
	    "                         or /tmp/spindle-UID]\n\n"
	    "Exit status: that of the command (128+N if killed by signal N),\n"
	    "or 255 when a hop fails; the message names the hop.\n"
	    "See spindle(1).\n");
}

void
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("spindle: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (fmt[strlen(fmt) - 1] != '\n')
		fputc('\n', stderr);
	exit(2);
}

/* Options every route-building command takes. */
int
cli_parse_master_opt(int ch, const char *arg, struct master_opts *mo)
{
	char *end, why[512];
	long v;

	switch (ch) {
	case 'T':
		mo->timings = 1;
		return 0;
	case OPT_ASK_PASS:
	case OPT_PASSWORD_FILE:
	case OPT_PASSWORD_FD:
		if (mo->password != NULL)
			usage_error("give the password only once");
		if (ch == OPT_ASK_PASS)
			mo->password = password_ask("spindle: password: ", why,
			    sizeof why);
		else if (ch == OPT_PASSWORD_FILE)
			mo->password = password_from_file(arg, why,
			    sizeof why);
		else {
			v = strtol(arg, &end, 10);
			if (*end != '\0' || v < 0 || v > 65535)
				usage_error("bad file descriptor '%s'", arg);
			mo->password = password_from_fd(v, why, sizeof why);
		}
		if (mo->password == NULL) {
			fprintf(stderr, "spindle: %s\n", why);
			exit(255);
		}
		return 0;
	case 'W':
	case 'K':
		v = strtol(arg, &end, 10);
		if (*end != '\0' || v < 0 || v > 86400)
			usage_error("bad number of seconds '%s'", arg);
		if (ch == 'W')
			mo->timeout = v;
		else
			mo->keepalive = v;
		return 0;
	}
	return -1;
}

/* fds 0-2 must exist, or pipes we create would land on them. */
static void
ensure_stdio(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", O_RDWR) != fd)
			exit(255);
	}
}

/* A shim directory: its ssh is us, or it is one another spindle made (a
 * link named ssh in a directory named as ours are). */
static int
path_is_shim(const char *dir, const struct stat *self)
{
	const char *base = strrchr(dir, '/') != NULL ? strrchr(dir, '/') + 1 :
	    dir;
	char *ssh = xprintf("%s/ssh", *dir != '\0' ? dir : ".");
	struct stat st;
	int shim;

	shim = stat(ssh, &st) == 0 && st.st_ino == self->st_ino &&
	    st.st_dev == self->st_dev;
	if (!shim && strncmp(base, SHIMDIR_PREFIX, strlen(SHIMDIR_PREFIX)) == 0)
		shim = lstat(ssh, &st) == 0 && S_ISLNK(st.st_mode);
	free(ssh);
	return shim;
}

/*
 * Shim directories leave PATH: the ssh hops the daemon starts must find
 * the real ssh, never recurse into a shim (ours, or another spindle's).
 */
static void
path_drop_shim(void)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, *out;
	struct stat self;
	size_t len = 0;

	if (path == NULL || stat("/proc/self/exe", &self) != 0)
		return;
	copy = xstrdup(path);
	out = xcalloc(1, strlen(path) + 1);
	for (dir = strtok_r(copy, ":", &save); dir != NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		if (!path_is_shim(dir, &self))
			len += sprintf(out + len, "%s%s", len ? ":" : "", dir);
	}
	setenv("PATH", out, 1);
	free(out);
	free(copy);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, level = SPN_LOG_WARN;
	const char *base;

	ensure_stdio();
	mem_init();
	path_drop_shim();
	base = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 :
	    argv[0];
	if (strcmp(base, "ssh") == 0) {
		signal(SIGPIPE, SIG_IGN);
		return shim_main(argc, argv);
	}
	while ((ch = getopt_long(argc, argv, "+qvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'v':
			level = level < SPN_LOG_INFO ? SPN_LOG_INFO :
			    SPN_LOG_DEBUG;
			cli_verbose++;
			break;
		case 'q':
			level = SPN_LOG_ERROR;
			break;
		case 'V':
			printf("spindle %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	log_set_level(level);
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(argv[optind], cmds[i].name) == 0)
			return cmds[i].fn(argc - optind, argv + optind);
	}
	fprintf(stderr, "spindle: unknown command '%s' (try spindle --help)\n",
	    argv[optind]);
	return 2;
}
