/*
 * remote-fn: ./remote-fn [-P pwfile] admin@bastion+web+sudo=webapp
 * connects to the route's first hop, its first two, ..., and calls its
 * own whoami() in each.  Each copy there is this program's static image,
 * run from memory: /proc/self/exe is "/memfd:spindle (deleted)" (without
 * perl and python3 there, a file unlinked before it ran) and argv[0]
 * "spindle:USER@HOST:PID" of its parent.
 */
#include <sys/utsname.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spindle.h>

static int
whoami(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	char exe[256], argv0[256];
	struct passwd *pw = getpwuid(getuid());
	struct utsname un;
	ssize_t n;
	int fd;

	(void)args;
	if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) < 0)
		return spn_fail(call, errno, "readlink /proc/self/exe");
	exe[n] = '\0';
	/* /proc/self/cmdline: argv[0] ends at the first NUL. */
	if ((fd = open("/proc/self/cmdline", O_RDONLY)) < 0)
		return spn_fail(call, errno, "open /proc/self/cmdline");
	n = read(fd, argv0, sizeof argv0 - 1);
	close(fd);
	argv0[n > 0 ? n : 0] = '\0';
	uname(&un);
	return spn_vbuf_put(res, "issss", (int64_t)getpid(),
	    pw != NULL ? pw->pw_name : "?", un.nodename, argv0, exe);
}
SPN_EXPORT(whoami, "->issss");

/* Ran from memory: a memfd, or a file unlinked before anything ran. */
static int
from_memory(const char *exe)
{
	size_t len = strlen(exe), dl = strlen(" (deleted)");

	return strcmp(exe, "/memfd:spindle (deleted)") == 0 ||
	    (len > dl && strcmp(exe + len - dl, " (deleted)") == 0);
}

/* Call whoami() over one route and print what it says. */
static int
show(struct spn *spn, const struct spn_connect_opts *o, int hop,
    const char *route)
{
	struct spn_ctx *ctx;
	struct spn_msg *m;
	struct spn_error err;
	const struct spn_value *v;
	const char *exe, *argv0;
	int ok;

	if (spn_connect(spn, route, o, &ctx, &err) != SPN_OK ||
	    spn_call(ctx, "whoami", 30000, &m, &err, "") != SPN_OK) {
		spn_error_print(&err);
		return 0;
	}
	v = spn_msg_value(m);
	argv0 = spn_arg_str(v, 3);
	exe = spn_arg_str(v, 4);
	printf("hop %d (%s): pid %lld user %s host %s argv0 %s exe %s\n",
	    hop, route, (long long)spn_arg_int(v, 0), spn_arg_str(v, 1),
	    spn_arg_str(v, 2), argv0, exe);
	ok = spn_arg_int(v, 0) != getpid() &&
	    strncmp(argv0, "spindle:", 8) == 0 && from_memory(exe);
	if (!ok)
		fprintf(stderr, "remote-fn: hop %d did not run from memory\n",
		    hop);
	spn_msg_free(m);
	spn_ctx_shutdown(ctx, 1000);
	spn_ctx_unref(ctx);
	return ok;
}

int
main(int argc, char **argv)
{
	struct spn *spn;
	struct spn_connect_opts o = { 0 };
	char *route, *plus;
	int c, hop = 1, ok = 1;

	/* Copies of this program in remote contexts never pass this line. */
	if (spn_init(&argc, &argv, NULL, &spn) != SPN_OK) {
		fprintf(stderr, "remote-fn: spn_init failed\n");
		return 1;
	}
	while ((c = getopt(argc, argv, "P:")) != -1) {
		if (c != 'P')
			goto usage;
		o.password_file = optarg;	/* for hops that take one */
	}
	if (argc - optind != 1)
		goto usage;
	/* Each prefix of the route: hop 1, hops 1-2, ... */
	if ((route = strdup(argv[optind])) == NULL)
		return 1;
	plus = route;
	do {
		plus = strchr(plus, '+');
		if (plus != NULL)
			*plus = '\0';
		ok &= show(spn, &o, hop++, route);
		if (plus != NULL)
			*plus++ = '+';
	} while (plus != NULL);
	free(route);
	spn_shutdown(spn);
	return ok ? 0 : 1;
usage:
	fprintf(stderr, "usage: remote-fn [-P password-file] ROUTE\n");
	return 2;
}
