/*
 * install-app: ./install-app [-P pwfile] admin@web+sudo=webapp ./my_app /srv/app
 * packs ./my_app with tar here, puts the archive there as
 * /srv/app.tar.gz (spn_put_file: written whole or not at all, as
 * webapp), then calls install_app(), which unpacks it in /srv/app and
 * returns tar's exit status and output.  The archive stays, for the
 * next install to be compared with or rolled back to.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* pipe2 */
#endif
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spindle.h>

extern char **environ;

/* Run argv with stdin from fd in; its stdout (and stderr, if merge) is
 * read into *out.  Returns the exit status as a shell reports it, or -1
 * with errno. */
static int
run(char *const *argv, int in, int merge, char **out, size_t *len)
{
	posix_spawn_file_actions_t fa;
	char buf[4096], *p;
	ssize_t n;
	pid_t pid;
	int fd[2], st;

	*out = NULL;
	*len = 0;
	if (pipe2(fd, O_CLOEXEC) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
	if (merge)
		posix_spawn_file_actions_adddup2(&fa, fd[1], 2);
	errno = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fd[1]);
	if (errno != 0) {
		close(fd[0]);
		return -1;
	}
	while ((n = read(fd[0], buf, sizeof buf)) > 0) {
		if ((p = realloc(*out, *len + n)) == NULL)
			continue;	/* read on: tar must not block */
		memcpy(p + *len, buf, n);
		*out = p;
		*len += n;
	}
	close(fd[0]);
	/* Our own child, by its pid: the library reaps only its own. */
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int
install_app(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	const char *dest = spn_arg_str(args, 0);
	const char *tgz = spn_arg_str(args, 1);
	size_t outlen;
	char *out;
	int null, st;

	if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		return spn_fail(call, errno, "/dev/null");
	st = run((char *[]){ "tar", "-xzvf", (char *)tgz, "-C", (char *)dest,
	    NULL }, null, 1, &out, &outlen);
	close(null);
	if (st < 0)
		return spn_fail(call, errno, "cannot run tar");
	st = spn_vbuf_put(res, "iy", (int64_t)st, out, outlen);
	free(out);
	return st;
}
SPN_EXPORT(install_app, "s,s->i,y");

/* dir packed by tar into a temporary file here: its path, or NULL. */
static char *
pack(const char *dir)
{
	char *path, *out;
	size_t len;
	int fd, st;

	if (asprintf(&path, "%s/install-app.XXXXXX", getenv("TMPDIR") ?
	    getenv("TMPDIR") : "/tmp") < 0)
		return NULL;
	if ((fd = mkstemp(path)) < 0) {
		free(path);
		return NULL;
	}
	close(fd);
	st = run((char *[]){ "tar", "-czf", path, "-C", (char *)dir, ".",
	    NULL }, 0, 0, &out, &len);
	free(out);
	if (st != 0) {
		unlink(path);
		free(path);
		return NULL;
	}
	return path;
}

int
main(int argc, char **argv)
{
	struct spn *spn;
	struct spn_ctx *web;
	struct spn_msg *m;
	struct spn_error err;
	struct spn_connect_opts o = { 0 };
	const struct spn_value *v;
	const void *out;
	char *tgz, *remote;
	size_t outlen;
	int c, rc, st;

	/* Copies of this program in remote contexts never pass this line. */
	if (spn_init(&argc, &argv, NULL, &spn) != SPN_OK)
		return 1;
	while ((c = getopt(argc, argv, "P:")) != -1) {
		if (c != 'P')
			goto usage;
		o.password_file = optarg;
	}
	if (argc - optind != 3)
		goto usage;
	if ((tgz = pack(argv[optind + 1])) == NULL) {
		fprintf(stderr, "install-app: cannot pack %s\n", argv[optind + 1]);
		return 1;
	}
	/* /srv/app/ -> /srv/app.tar.gz */
	remote = argv[optind + 2];
	while (strlen(remote) > 1 && remote[strlen(remote) - 1] == '/')
		remote[strlen(remote) - 1] = '\0';
	if (asprintf(&remote, "%s.tar.gz", remote) < 0)
		return 1;
	if ((rc = spn_connect(spn, argv[optind], &o, &web, &err)) == SPN_OK)
		rc = spn_put_file(web, tgz, remote, 0600, &err);
	unlink(tgz);
	if (rc != SPN_OK || spn_call(web, "install_app", 60000, &m, &err, "ss",
	    argv[optind + 2], remote) != SPN_OK) {
		spn_error_print(&err);
		return 1;
	}
	v = spn_msg_value(m);
	st = (int)spn_arg_int(v, 0);
	out = spn_arg_bytes(v, 1, &outlen);
	fwrite(out, 1, outlen, stdout);
	if (st != 0)
		fprintf(stderr, "install-app: tar exited with %d\n", st);
	spn_msg_free(m);
	free(tgz);
	free(remote);
	spn_shutdown(spn);
	return st != 0;
usage:
	fprintf(stderr, "usage: install-app [-P password-file] ROUTE SRC DEST\n");
	return 2;
}
