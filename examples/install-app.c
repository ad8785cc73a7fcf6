/*
 * install-app: ./install-app [-P pwfile] admin@web+sudo=webapp ./my_app /srv/app
 * packs ./my_app with tar here and sends the archive as an argument of
 * install_app(), which unpacks it in /srv/app there, as webapp, with tar
 * reading a memfd, and returns tar's exit status and output.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* memfd_create, pipe2 */
#endif
#include <sys/mman.h>
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
	size_t len, outlen;
	const void *tgz = spn_arg_bytes(args, 1, &len);
	char *out;
	int fd, st;

	if ((fd = memfd_create("app.tar.gz", MFD_CLOEXEC)) < 0)
		return spn_fail(call, errno, "memfd_create");
	if (write(fd, tgz, len) != (ssize_t)len) {
		close(fd);
		return spn_fail(call, errno, "write the archive");
	}
	lseek(fd, 0, SEEK_SET);
	st = run((char *[]){ "tar", "-xzvf", "-", "-C", (char *)dest, NULL },
	    fd, 1, &out, &outlen);
	close(fd);
	if (st < 0)
		return spn_fail(call, errno, "cannot run tar");
	st = spn_vbuf_put(res, "iy", (int64_t)st, out, outlen);
	free(out);
	return st;
}
SPN_EXPORT(install_app, "s,y->i,y");

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
	char *tgz;
	size_t len, outlen;
	int c, st;

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
	if (run((char *[]){ "tar", "-czf", "-", "-C", argv[optind + 1], ".",
	    NULL }, 0, 0, &tgz, &len) != 0) {
		fprintf(stderr, "install-app: cannot pack %s\n", argv[optind + 1]);
		return 1;
	}
	if (spn_connect(spn, argv[optind], &o, &web, &err) != SPN_OK ||
	    spn_call(web, "install_app", 60000, &m, &err, "sy",
	    argv[optind + 2], tgz, len) != SPN_OK) {
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
	spn_shutdown(spn);
	return st != 0;
usage:
	fprintf(stderr, "usage: install-app [-P password-file] ROUTE SRC DEST\n");
	return 2;
}
