/*
 * spindle doctor: what a first run needs, one line per check, and what
 * to do about each that fails.  It only looks: it starts no daemon and
 * makes no directory, every probe it runs has its time bounded, and it
 * never reads a password file (a hop's secret stays where it is).
 */
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "cli.h"
#include "../bootstrap/bootstrap.h"

#define DOC_PROBE_SECS	5	/* ssh -V, spindle-gateway --version */
#define DOC_RUN_SECS	20	/* spindle run local -- true */
#define DOC_HELLO_MS	3000	/* a live daemon answers in milliseconds */
#define DOC_OUT_MAX	4096	/* what we keep of a probe's output */
#define DOC_FREE_MIN	(1024 * 1024)	/* a socket, a log: less is full */
#define DOC_PID_MAX	4194304L	/* the kernel's PID_MAX_LIMIT */

enum doc_level { DOC_OK, DOC_WARN, DOC_FAIL };

struct doctor {
	int		 failed;
	struct routes_file rf;		/* empty unless it parsed */
	char		**seen;		/* password files looked at */
	size_t		 nseen;
};

#define OPT_QUICK	512

static const struct cmd_opt doctor_opts[] = {
	{ OPT_QUICK, "quick", NULL,
	    "skip the end to end check (spindle run local -- true)" },
	{ 0, NULL, NULL, NULL }
};

static int	cmd_doctor_exec(struct cmd_args *);

const struct cmd_entry cmd_doctor_entry = {
	.name = "doctor",
	.usage = "[-v] [--quick]",
	.summary = "check what spindle needs to run here, say what to fix",
	.opts = doctor_opts,
	.exec = cmd_doctor_exec
};

/*
 * fmt's text, cleaned, then a newline: what a daemon said of itself (its
 * binary's path, its version, why it refused), a route's name and a
 * probe's output reach the terminal, and none may move its cursor.
 */
static void
doc_vput(const char *fmt, va_list ap)
{
	char *line;

	if (vasprintf(&line, fmt, ap) < 0)
		fatal("vasprintf");
	puts(str_clean(line));
	free(line);
}

/* One check's line: ok, warn or FAIL, what, and what was found. */
static void SPN_PRINTF(4, 5)
doc_say(struct doctor *d, enum doc_level level, const char *what,
    const char *fmt, ...)
{
	static const char *const names[] = { "ok", "warn", "FAIL" };
	va_list ap;

	if (level == DOC_FAIL)
		d->failed = 1;
	printf("%-4s  %-10s ", names[level], what);
	va_start(ap, fmt);
	doc_vput(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* -v: a detail under the line before. */
static void SPN_PRINTF(1, 2)
doc_detail(const char *fmt, ...)
{
	va_list ap;

	if (!cli_verbose)
		return;
	fputs("                 ", stdout);
	va_start(ap, fmt);
	doc_vput(fmt, ap);
	va_end(ap);
}

/* The first line of s, in place. */
static char *
doc_first_line(char *s)
{
	s[strcspn(s, "\n")] = '\0';
	return s;
}

/* The last non-empty line of s, in place. */
static char *
doc_last_line(char *s)
{
	char *nl;
	size_t len = strlen(s);

	while (len > 0 && s[len - 1] == '\n')
		s[--len] = '\0';
	return (nl = strrchr(s, '\n')) != NULL ? nl + 1 : s;
}

/* Reap pid, killing its process group once deadline has passed. */
static int
doc_reap(pid_t pid, time_t deadline, int *timedout)
{
	int status;
	pid_t rc;

	while ((rc = waitpid(pid, &status, WNOHANG)) == 0 ||
	    (rc < 0 && errno == EINTR)) {
		if (!*timedout && time(NULL) >= deadline) {
			*timedout = 1;
			kill(-pid, SIGKILL);
		}
		poll(NULL, 0, 20);
	}
	return rc == pid ? status : -1;
}

/*
 * Run argv (stdin /dev/null, stdout and stderr into out, at most outlen
 * - 1 bytes kept), for at most secs: 0 when it exited 0, else -1 (it
 * failed, could not start, or was killed when its time was up: out says
 * which).
 */
static int
doc_probe(char *const *argv, int secs, char *out, size_t outlen)
{
	struct pollfd pfd;
	time_t deadline = time(NULL) + secs;
	char sink[512];
	size_t len = 0;
	ssize_t n;
	int p[2], nul, status, timedout = 0;
	pid_t pid;

	*out = '\0';
	if (pipe2(p, O_CLOEXEC) != 0) {
		snprintf(out, outlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == 0) {
		/* A group of its own: what it starts dies with it. */
		setpgid(0, 0);
		if ((nul = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
			dup2(nul, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execvp(argv[0], argv);
		dprintf(2, "%s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		snprintf(out, outlen, "fork: %s", strerror(errno));
		return -1;
	}
	pfd.fd = p[0];
	pfd.events = POLLIN;
	/* Until EOF: what it started may keep the pipe, not the deadline. */
	while (time(NULL) < deadline && poll(&pfd, 1, 200) >= 0) {
		if (pfd.revents == 0)
			continue;
		if (len + 1 < outlen)
			n = read(p[0], out + len, outlen - 1 - len);
		else
			n = read(p[0], sink, sizeof sink);
		if (n <= 0)
			break;
		if (len + 1 < outlen)
			len += n;
	}
	out[len] = '\0';
	close(p[0]);
	status = doc_reap(pid, deadline, &timedout);
	if (timedout) {
		snprintf(out, outlen, "no answer in %d seconds: killed", secs);
		return -1;
	}
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ?
	    0 : -1;
}

/* path ARG (-V, --version): ok and the first line it prints, or FAIL,
 * what it said, and fix. */
static void
doc_probe_version(struct doctor *d, const char *what, char *path,
    char *arg, const char *fix)
{
	char out[DOC_OUT_MAX], *argv[] = { path, arg, NULL };

	if (doc_probe(argv, DOC_PROBE_SECS, out, sizeof out) != 0)
		doc_say(d, DOC_FAIL, what, "%s %s: %s: %s", path, arg,
		    *out ? doc_last_line(out) : "failed", fix);
	else
		doc_say(d, DOC_OK, what, "%s: %s", path, doc_first_line(out));
}

/* name's path in $PATH (as execvp finds it), or NULL. */
static char *
doc_which(const char *name)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, *found = NULL, *p;

	if (path == NULL)
		path = "/usr/bin:/bin";
	copy = xstrdup(path);
	for (dir = strtok_r(copy, ":", &save); dir != NULL && found == NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		p = xprintf("%s/%s", dir, name);
		if (access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	return found;
}

/* "12.3 MiB" and the like, into buf. */
static const char *
doc_size(unsigned long long n, char *buf, size_t len)
{
	if (n >= 10ULL << 30)
		snprintf(buf, len, "%llu GiB", n >> 30);
	else if (n >= 10 << 20)
		snprintf(buf, len, "%llu MiB", n >> 20);
	else
		snprintf(buf, len, "%llu KiB", (n + 1023) >> 10);
	return buf;
}

static void
doc_version(struct doctor *d)
{
	char *exe = client_self_exe();

	doc_say(d, DOC_OK, "spindle", "%s (%s), %s", PACKAGE_VERSION,
	    CLI_BUILD, exe != NULL ? exe : "?");
	free(exe);
}

/*
 * Where the daemon's socket and log go: usable by us alone, on a
 * filesystem it can write, short enough to bind a socket in.  dir: the
 * directory to look at, made or not.
 */
static void
doc_runtime_space(struct doctor *d, const char *dir, const char *at,
    const char *state)
{
	struct sockaddr_un sun;
	struct statvfs sv;
	char *sock, sz[32];
	unsigned long long avail;

	/* The daemon binds sock.PID, then renames it sock. */
	sock = xprintf("%s/sock.%ld", dir, DOC_PID_MAX);
	if (ctl_sockaddr(sock, &sun) != 0) {
		doc_say(d, DOC_FAIL, "runtime", "%s: path too long for a UNIX "
		    "socket (%zu bytes, at most %zu): set SPINDLE_RUNTIME_DIR "
		    "to a shorter one", dir, strlen(dir),
		    sizeof sun.sun_path - 1 - strlen(sock + strlen(dir)));
		free(sock);
		return;
	}
	free(sock);
	if (statvfs(at, &sv) != 0) {
		doc_say(d, DOC_FAIL, "runtime", "%s: %s: set "
		    "SPINDLE_RUNTIME_DIR to a directory of your own", at,
		    strerror(errno));
		return;
	}
	avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	if (sv.f_flag & ST_RDONLY)
		doc_say(d, DOC_FAIL, "runtime", "%s is on a read-only "
		    "filesystem: set SPINDLE_RUNTIME_DIR to a writable "
		    "directory", dir);
	else if (avail < DOC_FREE_MIN || (sv.f_files > 0 && sv.f_favail == 0))
		doc_say(d, DOC_FAIL, "runtime", "%s: its filesystem is full "
		    "(%s free): free some space, or set SPINDLE_RUNTIME_DIR "
		    "elsewhere", dir, doc_size(avail, sz, sizeof sz));
	else
		doc_say(d, DOC_OK, "runtime", "%s: %s, %s free", dir, state,
		    doc_size(avail, sz, sizeof sz));
}

static void
doc_runtime(struct doctor *d)
{
	char why[512], *dir, *parent, *slash;

	switch (ctl_dir(0, &dir, why, sizeof why)) {
	case 0:
		doc_runtime_space(d, dir, dir, "yours, mode 0700");
		free(dir);
		return;
	case CTL_DIR_UNUSABLE:
		doc_say(d, DOC_FAIL, "runtime", "%s", why);
		return;
	}
	/* None yet: the first daemon makes it, in its parent. */
	dir = ctl_dir_path();
	parent = xstrdup(dir);
	if ((slash = strrchr(parent, '/')) != NULL)
		slash[slash == parent] = '\0';
	else
		strcpy(parent, ".");
	if (access(parent, W_OK | X_OK) != 0)
		doc_say(d, DOC_FAIL, "runtime", "%s cannot be made: %s: %s: "
		    "set SPINDLE_RUNTIME_DIR to a directory of your own", dir,
		    parent, strerror(errno));
	else
		doc_runtime_space(d, dir, parent,
		    "none yet, the daemon makes it (mode 0700)");
	free(parent);
	free(dir);
}

/* A file others may write is a file others may make us run. */
static int
doc_file_safe(struct doctor *d, const char *what, const char *path,
    int must)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT && !must)
			return 1;
		doc_say(d, DOC_FAIL, what, "%s: %s", path, strerror(errno));
		return 0;
	}
	if (S_ISLNK(st.st_mode) && stat(path, &st) != 0) {
		doc_say(d, DOC_FAIL, what, "%s: a dangling symbolic link: "
		    "remove it or fix its target", path);
		return 0;
	}
	if (st.st_uid != getuid() && st.st_uid != 0) {
		doc_say(d, DOC_FAIL, what, "%s belongs to uid %lu, not to you: "
		    "chown %lu %s", path, (unsigned long)st.st_uid,
		    (unsigned long)getuid(), path);
		return 0;
	}
	if (st.st_mode & 022) {
		doc_say(d, DOC_FAIL, what, "%s may be written by others (mode "
		    "%04o): chmod go-w %s", path, (unsigned)st.st_mode & 07777,
		    path);
		return 0;
	}
	return 1;
}

/*
 * A route's password file: there, and read by nobody else.  Looked at,
 * never opened: what it holds is a secret.  Once each.
 */
static int
doc_password_file(struct doctor *d, const char *route, const char *path)
{
	struct stat st;

	if (path == NULL)
		return 0;
	for (size_t i = 0; i < d->nseen; i++) {
		if (strcmp(d->seen[i], path) == 0)
			return 0;
	}
	strv_push(&d->seen, &d->nseen, xstrdup(path));
	if (stat(path, &st) != 0) {
		doc_say(d, DOC_FAIL, "routes", "route %s: password-file %s: "
		    "%s: write the password there (one line, chmod 600)",
		    route, path, strerror(errno));
		return 1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) == 0)
		return 0;
	doc_say(d, DOC_WARN, "routes", "route %s: password-file %s may be "
	    "read by others (mode %04o): chmod 600 %s", route, path,
	    (unsigned)st.st_mode & 07777, path);
	return 0;
}

/* Each route resolves as the daemon would have it (ssh-config too). */
static int
doc_routes_each(struct doctor *d, const char *path)
{
	const struct routes_entry *e;
	struct route_conf rc;
	struct ctl_spec s;
	char why[512];
	int bad = 0;

	for (size_t i = 0; i < d->rf.n; i++) {
		e = &d->rf.v[i];
		ctl_spec_init(&s, e->name, NULL);
		if (resolve_route(&s, &d->rf, &rc, why, sizeof why) != 0) {
			doc_say(d, DOC_FAIL, "routes", "%s: route %s: %s: fix "
			    "it in that file", path, e->name, why);
			bad = 1;
			continue;
		}
		doc_detail("%s: %s (%zu hop%s)", e->name, e->route,
		    rc.route.nhops, rc.route.nhops == 1 ? "" : "s");
		bad |= doc_password_file(d, e->name, e->opts.password_file);
		for (size_t k = 0; k < rc.route.nhops; k++)
			bad |= doc_password_file(d, e->name,
			    rc.route.hops[k].password_file);
		resolve_free(&rc);
	}
	return bad;
}

static void
doc_routes(struct doctor *d)
{
	char *path = routes_file_path(), why[512];
	struct stat st;

	if (path == NULL) {
		doc_say(d, DOC_OK, "routes", "none (no HOME): inline routes "
		    "only");
		return;
	}
	if (stat(path, &st) != 0 && errno == ENOENT) {
		doc_say(d, DOC_OK, "routes", "%s: none yet, inline routes "
		    "only (see spindle(1), FILES)", path);
		free(path);
		return;
	}
	if (!doc_file_safe(d, "routes", path, 1)) {
		free(path);
		return;
	}
	/* A named pipe would have us wait for a writer, for ever. */
	if (!S_ISREG(st.st_mode)) {
		doc_say(d, DOC_FAIL, "routes", "%s is not a regular file: "
		    "put the routes there", path);
		free(path);
		return;
	}
	if (routes_file_load(path, &d->rf, why, sizeof why) != 0) {
		doc_say(d, DOC_FAIL, "routes", "%s: fix that line", why);
		free(path);
		return;
	}
	if (!doc_routes_each(d, path))
		doc_say(d, DOC_OK, "routes", "%s: %zu route%s", path, d->rf.n,
		    d->rf.n == 1 ? "" : "s");
	free(path);
}

static void
doc_ssh(struct doctor *d)
{
	char *ssh = doc_which("ssh");

	if (ssh == NULL) {
		doc_say(d, DOC_FAIL, "ssh", "no ssh in PATH (%s): install "
		    "OpenSSH's client (apt install openssh-client); ssh hops "
		    "need it", getenv("PATH") ? getenv("PATH") : "unset");
		return;
	}
	doc_probe_version(d, "ssh", ssh, "-V", "reinstall OpenSSH's client");
	free(ssh);
}

/* sudo, su, doas: what hops of those may start here, for the record. */
static void
doc_hop_tools(struct doctor *d)
{
	static const char *const tools[] = { "sudo", "su", "doas" };
	char line[1024], *p;
	size_t len = 0;

	line[0] = '\0';
	for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
		p = doc_which(tools[i]);
		len += snprintf(line + len, sizeof line - len, "%s%s %s",
		    i > 0 ? ", " : "", tools[i], p != NULL ? p : "(none)");
		free(p);
		if (len >= sizeof line)
			break;
	}
	doc_say(d, DOC_OK, "hop tools", "%s", line);
}

static void
doc_sh(struct doctor *d)
{
	if (access("/bin/sh", X_OK) != 0)
		doc_say(d, DOC_FAIL, "sh", "/bin/sh: %s: the local hop and "
		    "every far end start the agent with it: install a shell "
		    "(dash)", strerror(errno));
	else
		doc_say(d, DOC_OK, "sh", "/bin/sh (it starts the agent, here "
		    "and at the far ends)");
}

/* The agent this binary sends to every hop. */
static void
doc_agent(struct doctor *d)
{
	const uint8_t *raw, *gz;
	const char *bad;
	size_t rawlen, gzlen;
	char a[32], b[32];

	if (boot_image(1, &gz, &gzlen) != 0 || boot_image(0, &raw, &rawlen)
	    != 0) {
		doc_say(d, DOC_FAIL, "agent", "the agent image %s cannot be "
		    "read or decompressed: reinstall spindle (or rebuild it: "
		    "make)", CLI_IMAGE);
		return;
	}
	if ((bad = boot_image_check(raw, rawlen)) != NULL) {
		doc_say(d, DOC_FAIL, "agent", "the agent image %s is %s: "
		    "rebuild spindle (make)", CLI_IMAGE, bad);
		return;
	}
	doc_say(d, DOC_OK, "agent", "image %s: %s (%s gzip'd), a static "
	    "%s executable", CLI_IMAGE, doc_size(rawlen, a, sizeof a),
	    doc_size(gzlen, b, sizeof b), boot_arch());
}

/* No daemon, or a stale socket a dead one left. */
static void
doc_daemon_none(struct doctor *d, const char *why)
{
	char *dir = ctl_dir_path(), *sock = xprintf("%s/sock", dir);
	struct stat st;

	if (lstat(sock, &st) == 0)
		doc_say(d, DOC_WARN, "daemon", "not running, but %s is left "
		    "(a daemon killed or crashed? see %s/daemon.log): harmless, "
		    "the next daemon replaces it; rm %s clears it", sock, dir,
		    sock);
	else
		doc_say(d, DOC_OK, "daemon", "not running (%s; a named route "
		    "starts it)", why);
	free(sock);
	free(dir);
}

static volatile sig_atomic_t doc_alarmed;

static void
doc_alarm(int sig)
{
	(void)sig;
	doc_alarmed = 1;
}

/*
 * client_connect, in bounded time: a connect to a daemon whose backlog
 * is full (stopped, or swamped) waits for room.  The alarm interrupts
 * it (no SA_RESTART); -3 then.
 */
static int
doc_daemon_connect(char *why, size_t whylen)
{
	struct sigaction sa, old;
	int fd;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = doc_alarm;
	sigaction(SIGALRM, &sa, &old);
	doc_alarmed = 0;
	alarm(DOC_HELLO_MS / 1000);
	fd = client_connect(0, 0, 0, why, whylen);
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	return fd == -1 && doc_alarmed ? -3 : fd;
}

static void
doc_daemon(struct doctor *d)
{
	struct client_daemon cd;
	char why[512];
	int fd;

	if ((fd = doc_daemon_connect(why, sizeof why)) == CTL_DIR_UNUSABLE) {
		doc_say(d, DOC_WARN, "daemon", "none can run: see the runtime "
		    "line");
		return;
	}
	if (fd == -3) {
		doc_say(d, DOC_WARN, "daemon", "accepts no connection in %d "
		    "seconds (stopped, or swamped?): see its log, or kill it",
		    DOC_HELLO_MS / 1000);
		return;
	}
	if (fd < 0) {
		doc_daemon_none(d, why);
		return;
	}
	if (client_hello(fd, DOC_HELLO_MS, &cd, why, sizeof why) != 0) {
		close(fd);
		doc_say(d, DOC_WARN, "daemon", "%s: 'spindle daemon stop' (or "
		    "kill it)", why);
		return;
	}
	close(fd);
	if (client_daemon_replaced(&cd))
		doc_say(d, DOC_WARN, "daemon", "pid %ld runs %s, since replaced "
		    "or removed: 'spindle daemon stop', the next command "
		    "starts this one", (long)cd.pid, cd.exe);
	else if (strcmp(cd.version, PACKAGE_VERSION) != 0)
		doc_say(d, DOC_WARN, "daemon", "pid %ld is spindle %s (%s), "
		    "this is %s: 'spindle daemon stop', the next command "
		    "starts this one", (long)cd.pid, cd.version, cd.exe,
		    PACKAGE_VERSION);
	else
		doc_say(d, DOC_OK, "daemon", "running, pid %ld, spindle "
		    "%s%s%s%s", (long)cd.pid, cd.version,
		    *cd.exe != '\0' ? ", " : "", cd.exe, cd.self == 1 ?
		    " (this binary)" : cd.self == 0 ?
		    " (another copy of this version)" : "");
	client_daemon_free(&cd);
}

static void
doc_gateway(struct doctor *d)
{
	char *path = gateway_path();
	/* The routes file's gateway-listen: the daemon starts it always. */
	enum doc_level need = d->rf.gateway.listen[0] != NULL ? DOC_FAIL :
	    DOC_WARN;

	if (path == NULL) {
		doc_say(d, need, "gateway", "%s%s", gateway_none(),
		    need == DOC_FAIL ? ": the routes file's gateway-listen "
		    "needs it" : "");
		return;
	}
	if (access(path, X_OK) != 0) {
		doc_say(d, need, "gateway", "%s: %s: spindle gateway and "
		    "gateway-listen need it: reinstall spindle (make install)",
		    path, strerror(errno));
		free(path);
		return;
	}
	doc_probe_version(d, "gateway", path, "--version", "reinstall "
	    "spindle");
	free(path);
}

static void
doc_hostkey(struct doctor *d)
{
	char *path = hostkey_path(), why[512];

	if (path == NULL) {
		doc_say(d, DOC_OK, "host key", "none (no HOME)");
		return;
	}
	switch (hostkey_open(path, NULL, why, sizeof why)) {
	case 0:
		doc_say(d, DOC_OK, "host key", "%s: yours, mode 0600", path);
		break;
	case 1:
		doc_say(d, DOC_OK, "host key", "%s: none yet (the gateway "
		    "makes one when first used)", path);
		break;
	default:
		doc_say(d, DOC_FAIL, "host key", "%s", why);
	}
	free(path);
}

/* spindle's own config directory, and what the gateway trusts in it. */
static void
doc_config(struct doctor *d)
{
	static const char *const files[] = { "authorized_keys",
	    "known_hosts", "ssh_config" };
	char *dir = config_path(""), *path;
	struct stat st;
	int ok = 1;

	if (dir == NULL) {
		doc_say(d, DOC_OK, "config", "none (no HOME)");
		return;
	}
	dir[strlen(dir) - 1] = '\0';	/* its trailing slash */
	if (lstat(dir, &st) != 0 && errno == ENOENT) {
		doc_say(d, DOC_OK, "config", "%s: none yet", dir);
		free(dir);
		return;
	}
	ok = doc_file_safe(d, "config", dir, 1);
	for (size_t i = 0; ok && i < sizeof files / sizeof files[0]; i++) {
		path = config_path(files[i]);
		ok = doc_file_safe(d, "config", path, 0);
		free(path);
	}
	if (ok)
		doc_say(d, DOC_OK, "config", "%s: yours, written by you alone",
		    dir);
	free(dir);
}

/* The real proof: a route, an agent, a command; no daemon. */
static void
doc_run_local(struct doctor *d)
{
	char *exe = client_self_exe(), out[DOC_OUT_MAX], secs[16];
	char *argv[] = { exe, "run", "--no-daemon", "--timeout", secs,
	    "local", "--", "true", NULL };
	struct timespec t0, t1;
	int rc;

	if (exe == NULL) {
		doc_say(d, DOC_FAIL, "run local", "cannot find this binary "
		    "(/proc/self/exe): is /proc mounted?");
		return;
	}
	snprintf(secs, sizeof secs, "%d", DOC_RUN_SECS / 2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = doc_probe(argv, DOC_RUN_SECS, out, sizeof out);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc != 0)
		doc_say(d, DOC_FAIL, "run local", "spindle run local -- true: "
		    "%s: 'spindle -vv run --no-daemon local -- true' tells "
		    "more", *out ? doc_last_line(out) : "failed");
	else
		doc_say(d, DOC_OK, "run local", "spindle run local -- true "
		    "works (%.2f s)", (double)(t1.tv_sec - t0.tv_sec) +
		    (t1.tv_nsec - t0.tv_nsec) / 1e9);
	free(exe);
}

static int
cmd_doctor_exec(struct cmd_args *a)
{
	struct doctor d;
	int quick = 0;

	for (size_t i = 0; i < a->nopts; i++)
		quick |= a->opts[i].ch == OPT_QUICK;
	memset(&d, 0, sizeof d);
	route_opts_init(&d.rf.global);
	doc_version(&d);
	doc_runtime(&d);
	doc_routes(&d);
	doc_ssh(&d);
	doc_hop_tools(&d);
	doc_sh(&d);
	doc_agent(&d);
	doc_daemon(&d);
	doc_gateway(&d);
	doc_hostkey(&d);
	doc_config(&d);
	if (!quick)
		doc_run_local(&d);
	routes_file_free(&d.rf);
	strv_free(d.seen);
	return d.failed;
}
