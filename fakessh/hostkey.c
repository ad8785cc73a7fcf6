/*
 * The gateway's host key file, as both programs check it: the daemon
 * (which does not link libssh) before it hands spindle-gateway a client,
 * so that a bad key is refused with a reason the client prints, and the
 * gateway before it loads the key.  A key others can read is a key
 * others can use to pose as the gateway; a key in a directory others can
 * write is one they can replace.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakessh.h"

char *
hostkey_path(void)
{
	return config_path(HOSTKEY_NAME);
}

/* The key's directory (a copy of path up to its last slash). */
static char *
hostkey_dir(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');

	if (slash != NULL && slash != dir)
		*slash = '\0';
	return dir;
}

static int
hostkey_dir_ok(const char *path, char *why, size_t whylen)
{
	char *dir = hostkey_dir(path);
	struct stat st;
	int rc = -1;

	if (lstat(dir, &st) != 0) {
		if (errno == ENOENT)
			rc = 0;		/* made 0700 with the key */
		else
			snprintf(why, whylen, "%s: %s", dir, strerror(errno));
	} else if (!S_ISDIR(st.st_mode))
		snprintf(why, whylen, "%s: not a directory", dir);
	else if (st.st_uid != getuid())
		snprintf(why, whylen, "host key directory %s belongs to uid "
		    "%lu, not to you: remove it (the gateway makes a new key)",
		    dir, (unsigned long)st.st_uid);
	else if (st.st_mode & 022)
		snprintf(why, whylen, "host key directory %s may be written by "
		    "others (mode %04o): chmod 700 %s", dir,
		    (unsigned)st.st_mode & 07777, dir);
	else
		rc = 0;
	free(dir);
	return rc;
}

int
hostkey_open(const char *path, int *fdp, char *why, size_t whylen)
{
	struct stat st;
	int fd;

	if (fdp != NULL)
		*fdp = -1;
	if (hostkey_dir_ok(path, why, whylen) != 0)
		return -2;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC |
	    O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0) {
		snprintf(why, whylen, "host key %s: %s%s", path,
		    strerror(errno), errno == ELOOP ? " (a symbolic link: "
		    "remove it)" : "");
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		snprintf(why, whylen, "host key %s: not a regular file", path);
	else if (st.st_uid != getuid())
		snprintf(why, whylen, "host key %s belongs to uid %lu, not to "
		    "you: remove it and run 'spindle gateway rekey'", path,
		    (unsigned long)st.st_uid);
	else if (st.st_mode & 077)
		snprintf(why, whylen, "host key %s is accessible by others "
		    "(mode %04o), refused: chmod 600 %s (and 'spindle gateway "
		    "rekey' if it may have been read)", path,
		    (unsigned)st.st_mode & 07777, path);
	else {
		if (fdp != NULL)
			*fdp = fd;
		else
			close(fd);
		return 0;
	}
	close(fd);
	return -1;
}

int
hostkey_mkdir(const char *path, char *why, size_t whylen)
{
	char *dir = hostkey_dir(path);
	size_t len = strlen(dir);

	for (size_t i = 1; i <= len; i++) {
		if (dir[i] != '/' && dir[i] != '\0')
			continue;
		dir[i] = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			snprintf(why, whylen, "cannot make %s: %s", dir,
			    strerror(errno));
			free(dir);
			return -1;
		}
		if (i < len)
			dir[i] = '/';
	}
	free(dir);
	return 0;
}
