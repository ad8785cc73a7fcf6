/*
 * The shim directory `spindle fakessh-bin` prints: `ssh`, a link to this
 * binary, with wrappers of scp and sftp.  There is one per binary (its
 * name is keyed by the binary's path) in the runtime directory, so two
 * installed spindles, or one that moved, each put their own shim first
 * in PATH.  It appears whole or not at all (made under a temporary name,
 * then renamed), nothing in it is followed if it is not what we made,
 * and any number of us may make or mend it at once.
 *
 * `make install` puts one more, made by the built binary from the same
 * text (fakessh_make): $(pkglibexecdir)/fakessh-bin, whose ssh links to
 * the installed spindle.  That one is printed instead when it is intact,
 * its ssh is this very binary and only root or we can change it: a path
 * that stays the same across upgrades, for a PATH set once in a profile.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/*
 * scp and sftp run /usr/bin/ssh whatever PATH says: the directory has
 * wrappers of them that pass -S with the shim next to them (and find the
 * real ones in PATH, past this directory).
 */
static const char shimdir_wrapper[] =
    "#!/bin/sh\n"
    "# spindle fakessh: %s through the ssh shim next to this file\n"
    "d=$(cd \"$(dirname \"$0\")\" && pwd)\n"
    "IFS=:\n"
    "for p in $PATH; do\n"
    "\t[ \"$p\" != \"$d\" ] && [ -x \"$p/%s\" ] &&\n"
    "\t    exec \"$p/%s\" -S \"$d/ssh\" \"$@\"\n"
    "done\n"
    "echo \"spindle: no %s in PATH\" >&2\n"
    "exit 127\n";

static const char *shimdir_tools[] = { "scp", "sftp" };

/* The wrapper of shimdir_tools[i]. */
static char *
shimdir_text(size_t i)
{
	const char *t = shimdir_tools[i];

	return xprintf(shimdir_wrapper, t, t, t, t);
}

/* FNV-1a: a name per binary path, not a defence (the directory is ours). */
static char *
shimdir_name(const char *exe)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)exe; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return xprintf("%s.%016llx", SHIMDIR_PREFIX, (unsigned long long)h);
}

/* Is name in dfd the link or the file we want? */
static int
shimdir_has(int dfd, const char *name, const char *link, const char *text)
{
	char cur[4096];
	ssize_t n;
	int fd;

	if (link != NULL) {
		n = readlinkat(dfd, name, cur, sizeof cur - 1);
		return n > 0 && (cur[n] = '\0', strcmp(cur, link) == 0);
	}
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, cur, sizeof cur - 1);
	close(fd);
	return n >= 0 && (cur[n] = '\0', strcmp(cur, text) == 0);
}

/* Put a link to `link`, or a script `text`, at name in dfd unless it is
 * there: made under a temporary name of our own, then renamed. */
static int
shimdir_put(int dfd, const char *name, const char *link, const char *text)
{
	char *tmp;
	size_t len;
	int fd, rc = 0, e;

	if (shimdir_has(dfd, name, link, text))
		return 0;
	tmp = xprintf(".%s.%ld", name, (long)getpid());
	unlinkat(dfd, tmp, 0);	/* a dead process of our pid left it */
	if (link != NULL)
		rc = symlinkat(link, dfd, tmp);
	else if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0755)) < 0)
		rc = -1;
	else {
		len = strlen(text);
		if (write(fd, text, len) != (ssize_t)len || fchmod(fd, 0755) != 0)
			rc = -1;
		if (close(fd) != 0)
			rc = -1;
	}
	if (rc == 0)
		rc = renameat(dfd, tmp, dfd, name);
	if (rc != 0) {
		e = errno;
		unlinkat(dfd, tmp, 0);
		errno = e;
	}
	free(tmp);
	return rc;
}

/* Fill a directory; the name of what failed, or NULL. */
static const char *
shimdir_fill(int dfd, const char *exe)
{
	char *text;
	int rc;

	if (shimdir_put(dfd, "ssh", exe, NULL) != 0)
		return "ssh";
	for (size_t i = 0; i < 2; i++) {
		text = shimdir_text(i);
		rc = shimdir_put(dfd, shimdir_tools[i], NULL, text);
		free(text);
		if (rc != 0)
			return shimdir_tools[i];
	}
	return NULL;
}

/* Remove a temporary directory of ours (files only, no links followed). */
static void
shimdir_remove(int rfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = openat(rfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) >= 0 && (d = fdopendir(fd)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				unlinkat(fd, de->d_name, 0);
		}
		closedir(d);
	} else if (fd >= 0)
		close(fd);
	unlinkat(rfd, name, AT_REMOVEDIR);
}

/*
 * None yet: make it whole under a temporary name, then rename it into
 * place.  One made meanwhile by another of us wins; ours goes.
 */
static int
shimdir_create(int rfd, const char *name, const char *exe, char *why,
    size_t whylen)
{
	char *tmp = xprintf(".%s.%ld", name, (long)getpid());
	const char *bad = NULL;
	int fd, rc = -1;

	shimdir_remove(rfd, tmp);
	if (mkdirat(rfd, tmp, 0700) != 0 ||
	    (fd = openat(rfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "cannot make %s: %s", tmp,
		    strerror(errno));
		free(tmp);
		return -1;
	}
	if ((bad = shimdir_fill(fd, exe)) != NULL)
		snprintf(why, whylen, "cannot make %s/%s: %s", tmp, bad,
		    strerror(errno));
	else if (renameat(rfd, tmp, rfd, name) == 0 || errno == EEXIST ||
	    errno == ENOTEMPTY)
		rc = 0;
	else
		snprintf(why, whylen, "cannot rename %s to %s: %s", tmp, name,
		    strerror(errno));
	close(fd);
	shimdir_remove(rfd, tmp);	/* gone already if renamed */
	free(tmp);
	return rc;
}

/*
 * The directory of name in the runtime directory rfd, made if need be,
 * and checked: a link or a file of that name, or a directory that is not
 * ours alone, is refused, never followed.
 */
static int
shimdir_open(int rfd, const char *path, const char *name, const char *exe,
    char *why, size_t whylen)
{
	struct stat st;
	int fd;

	fd = openat(rfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (shimdir_create(rfd, name, exe, why, whylen) != 0)
			return -1;
		fd = openat(rfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	}
	if (fd < 0) {
		snprintf(why, whylen, "%s: %s%s", path, strerror(errno),
		    errno == ENOTDIR || errno == ELOOP ? " (not a directory: "
		    "remove it)" : "");
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_uid != getuid() ||
	    (st.st_mode & 022) != 0) {
		snprintf(why, whylen, "%s is not yours alone: remove it",
		    path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Is the directory fd as shimdir_fill makes it, with exe as its ssh? */
static int
shimdir_intact(int fd, const char *exe)
{
	struct stat st, self;
	char *text;
	int ok = 1;

	if (fstat(fd, &st) != 0 || (st.st_uid != 0 && st.st_uid != getuid()) ||
	    (st.st_mode & 022) != 0)
		return 0;
	if (stat(exe, &self) != 0 || fstatat(fd, "ssh", &st, 0) != 0 ||
	    st.st_dev != self.st_dev || st.st_ino != self.st_ino)
		return 0;
	for (size_t i = 0; ok && i < 2; i++) {
		text = shimdir_text(i);
		ok = shimdir_has(fd, shimdir_tools[i], NULL, text) &&
		    fstatat(fd, shimdir_tools[i], &st, AT_SYMLINK_NOFOLLOW) ==
		    0 && (st.st_uid == 0 || st.st_uid == getuid()) &&
		    (st.st_mode & 022) == 0;
		free(text);
	}
	return ok;
}

/* The installed directory, if it is intact and its ssh is exe. */
static char *
shimdir_installed(const char *exe)
{
	const char *path = SPN_LIBEXECDIR "/" SHIMDIR_PREFIX;
	int fd, ok;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return NULL;
	ok = shimdir_intact(fd, exe);
	close(fd);
	return ok ? xstrdup(path) : NULL;
}

/*
 * Make (or mend) dir as a shim directory whose ssh is a link to target:
 * for `make install`, which runs the built binary, so that the wrappers'
 * text is written in this file only.
 */
int
fakessh_make(const char *dir, const char *target, char *why, size_t whylen)
{
	const char *bad;
	int fd;

	if ((mkdir(dir, 0755) != 0 && errno != EEXIST) ||
	    (fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if ((bad = shimdir_fill(fd, target)) != NULL)
		snprintf(why, whylen, "cannot make %s/%s: %s", dir, bad,
		    strerror(errno));
	close(fd);
	return bad != NULL ? -1 : 0;
}

/* The directory whose `ssh` is this binary (and scp, sftp: see above). */
char *
fakessh_dir(char *why, size_t whylen)
{
	char *dir, *name, *path = NULL, *exe;
	const char *bad = NULL;
	int rfd, fd = -1;

	if ((exe = client_self_exe()) != NULL &&
	    (path = shimdir_installed(exe)) != NULL) {
		free(exe);
		return path;
	}
	free(exe);
	if (ctl_dir(1, &dir, why, whylen) != 0)
		return NULL;
	if ((exe = client_self_exe()) == NULL) {
		snprintf(why, whylen, "cannot find this binary: %s",
		    strerror(errno));
		free(dir);
		return NULL;
	}
	name = shimdir_name(exe);
	path = xprintf("%s/%s", dir, name);
	/* The file was replaced or removed under us: a link to its name
	 * would run another binary. */
	if (strlen(exe) > 10 &&
	    strcmp(exe + strlen(exe) - 10, " (deleted)") == 0) {
		snprintf(why, whylen, "this binary (%s) was replaced or "
		    "removed since it started", exe);
		free(path);
		path = NULL;
	} else if ((rfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "runtime directory %s: %s", dir,
		    strerror(errno));
		free(path);
		path = NULL;
	} else {
		fd = shimdir_open(rfd, path, name, exe, why, whylen);
		close(rfd);
		/* Mend one another version of us made, or someone broke. */
		if (fd >= 0 && (bad = shimdir_fill(fd, exe)) != NULL)
			snprintf(why, whylen, "cannot make %s/%s: %s", path,
			    bad, strerror(errno));
		if (fd < 0 || bad != NULL) {
			free(path);
			path = NULL;
		}
		if (fd >= 0)
			close(fd);
	}
	free(name);
	free(exe);
	free(dir);
	return path;
}
