/* spindle: the command line.  One table of commands, one file each. */
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "cli.h"

/* The commands, in the order --help shows them. */
static const struct cmd_entry *cmds[] = {
	&cmd_run_entry,
	&cmd_ping_entry,
	&cmd_info_entry,
	&cmd_bootstrap_size_entry,
	&cmd_up_entry,
	&cmd_down_entry,
	&cmd_ls_entry,
	&cmd_check_entry,
	&cmd_forward_entry,
	&cmd_daemon_entry,
	&cmd_fakessh_bin_entry,
	&cmd_exec_entry,
	&cmd_gateway_entry,
	&cmd_ssh_config_entry,
	&cmd_doctor_entry,
};

#define OPT_VERSION	512

/* spindle's own: what comes before the command. */
static const struct cmd_opt spindle_opts[] = {
	{ OPT_VERSION, "version", NULL, "print spindle's version" },
	{ 0, NULL, NULL, NULL }
};
static const struct cmd_entry spindle_entry = {
	.name = NULL,
	.usage = "[-qv] COMMAND [ARG...]",
	.opts = spindle_opts,
	.flags = CMD_COMMAND | CMD_NOCOMMAND,	/* --version */
};

static void
usage(FILE *f)
{
	cmd_print_usage(f, "usage: ", &spindle_entry);
	fprintf(f,
	    "       spindle --version | --help\n"
	    "       spindle COMMAND --help\n\n"
	    "Run commands through chains of contexts (ssh, sudo, ... hops)\n"
	    "set up once, with nothing installed on the remote machines.\n\n"
	    "Commands (spindle COMMAND --help: what its options do):\n");
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		cmd_print_usage(f, "  ", cmds[i]);
		fprintf(f, "      %s\n", cmds[i]->summary);
	}
	fprintf(f,
	    "\nROUTE is hops joined by '+', each started from the one before:\n"
	    "  local                  a new context on the same machine\n"
	    "  [USER@]HOST[,OPT=VAL]  ssh to HOST (an ssh_config alias works);\n"
	    "                         OPT: port identity config timeout hostkey o\n"
	    "                         password (log in with one) password-file\n"
	    "  sudo[=USER][,OPT]      sudo to USER (default root);\n"
	    "                         OPT: group=G login preserve-env nohome\n"
	    "                         password-file=FILE (this hop's)\n"
	    "  su=USER, doas=USER     su or doas to USER [,password-file=FILE]\n"
	    "  e.g. bastion+web+sudo=webapp, local+local+local\n\n"
	    "Options:\n");
	cmd_print_options(f, &spindle_entry);
	fprintf(f,
	    "\n-v, -q and -h go among a command's options too.  Those go\n"
	    "anywhere before \"--\" and the COMMAND that run or exec runs:\n"
	    "in spindle run web ls -l, -l is ls's.\n\n"
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
	    "Exit status: that of the command (128+N if killed by signal N);\n"
	    "127 command not found, 126 cannot run it, 125 cannot set it up\n"
	    "(e.g. -C DIR cannot be entered), 130 interrupted, 2 usage error,\n"
	    "255 a hop failed (the message names it) or the routes file is\n"
	    "broken (the message names its line).\n"
	    "See spindle(1).\n");
}

/* Options every route-building command takes. */
int
cli_parse_master_opt(int ch, const char *arg, struct master_opts *mo)
{
	char *end, why[512];
	long v;

	switch (ch) {
	case OPT_TIMINGS:
		mo->timings = 1;
		return 0;
	case OPT_ASK_PASS:
	case OPT_PASSWORD_FILE:
	case OPT_PASSWORD_FD:
		if (mo->password != NULL || mo->ask_pass)
			usage_error("give the password only once");
		/* Asked per hop once the route is known (password.c). */
		if (ch == OPT_ASK_PASS) {
			mo->ask_pass = 1;
			return 0;
		}
		if (ch == OPT_PASSWORD_FILE)
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
	case OPT_TIMEOUT:
	case OPT_KEEPALIVE:
		v = strtol(arg, &end, 10);
		if (*end != '\0' || v < 0 || v > 86400)
			usage_error("bad number of seconds '%s'", arg);
		if (ch == OPT_TIMEOUT)
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

static const struct cmd_entry *
cmd_find(const char *name)
{
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(name, cmds[i]->name) == 0)
			return cmds[i];
	}
	fprintf(stderr, "spindle: unknown command '%s' (try spindle --help)\n",
	    name);
	exit(2);
}

int
main(int argc, char **argv)
{
	const struct cmd_entry *e;
	struct cmd_args a, ca;
	const char *base;
	int rc;

	ensure_stdio();
	mem_init();
	path_drop_shim();
	base = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 :
	    argv[0];
	if (strcmp(base, "ssh") == 0) {
		signal(SIGPIPE, SIG_IGN);
		return shim_main(argc, argv);
	}
	cmd_parse(&spindle_entry, argc, argv, &a);
	if (a.help || a.nopts > 0) {	/* --help, --version */
		if (a.help)
			usage(stdout);
		else
			printf("spindle %s%s\n", PACKAGE_VERSION,
			    CLI_VERSION_TAIL);
		cmd_args_free(&a);
		return 0;
	}
	if (a.argc == 0)
		cmd_usage_error("no COMMAND given");
	e = cmd_find(a.argv[0]);
	cmd_parse(e, a.argc, a.argv, &ca);
	log_set_level(cli_log_level);
	if (ca.help) {
		cmd_help(stdout, e);
		rc = 0;
	} else
		rc = e->exec(&ca);
	cmd_args_free(&ca);
	cmd_args_free(&a);
	return rc;
}
