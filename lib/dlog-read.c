/*
 * The daemon's log (cli/dlog.c writes it) as a client reads it back: with
 * -v, the lines about its route that the daemon wrote while its request
 * ran.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"

#define DLOG_REPLAY_MAX	(1024 * 1024)	/* what -v reads back */

char *
dlog_name(const char *dir)
{
	return xprintf("%s/daemon.log", dir);
}

/* -v on a client: where the log is now, to show what comes after. */
void
dlog_mark(struct dlog_mark *mk, int verbose)
{
	char *dir, *path;

	mk->fd = -1;
	if (!verbose)	/* (every run passes here) */
		return;
	dir = ctl_dir_path();
	path = dlog_name(dir);
	if ((mk->fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0)
		lseek(mk->fd, 0, SEEK_END);
	free(path);
	free(dir);
}

/*
 * A line of the log about route key?  Only our header says so, "TIME
 * spindle[PID]: route KEY: ": a far end's text further on a line about
 * no route may say anything, and is no other route's client's business.
 */
static int
dlog_is_about(const char *line, const char *key)
{
	const char *p = strchr(line, ' ');
	size_t n = strlen(key);

	if (p == NULL || strncmp(p, " spindle[", 9) != 0)
		return 0;
	p += 9 + strspn(p + 9, "0123456789");
	return strncmp(p, "]: route ", 9) == 0 &&
	    strncmp(p + 9, key, n) == 0 && strncmp(p + 9 + n, ": ", 2) == 0;
}

/* Print the lines about route key (or key2) from buf. */
static void
dlog_show(char *buf, const char *key, const char *key2)
{
	char *line, *save = NULL;

	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (dlog_is_about(line, key) ||
		    (key2 != NULL && dlog_is_about(line, key2)))
			fprintf(stderr, "spindle: daemon.log: %s\n", line);
	}
}

/*
 * What the daemon logged about route key (or key2) since the mark: the
 * rest of the file we opened, and if the daemon moved it to .1
 * meanwhile, the new one.
 */
void
dlog_replay(struct dlog_mark *mk, const char *key, const char *key2)
{
	char *dir, *path, *buf;
	struct stat st, cur;
	size_t len = 0;
	ssize_t n;
	int fd;

	if (mk->fd < 0)
		return;
	buf = xcalloc(1, DLOG_REPLAY_MAX + 1);
	while (len < DLOG_REPLAY_MAX && (n = read(mk->fd, buf + len,
	    DLOG_REPLAY_MAX - len)) > 0)
		len += n;
	dir = ctl_dir_path();
	path = dlog_name(dir);
	if (len < DLOG_REPLAY_MAX && stat(path, &st) == 0 &&
	    fstat(mk->fd, &cur) == 0 && st.st_ino != cur.st_ino &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		while (len < DLOG_REPLAY_MAX && (n = read(fd, buf + len,
		    DLOG_REPLAY_MAX - len)) > 0)
			len += n;
		close(fd);
	}
	buf[len] = '\0';
	dlog_show(buf, key, key2);
	close(mk->fd);
	mk->fd = -1;
	free(buf);
	free(path);
	free(dir);
}
