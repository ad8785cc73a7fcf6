/*
 * The daemon's log, daemon.log in the runtime directory: one line per
 * record, with the time (UTC, ms), the daemon's pid and the route it is
 * about, so that a daemon left running for weeks can be read back; it
 * moves to daemon.log.1 past DLOG_MAX, so that it cannot fill the disk.
 * Its readers: `spindle daemon log [-f]`, and -v on a client, which shows
 * the lines about its route written while its request ran
 * (lib/dlog-read.c).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define DLOG_MAX	(4 * 1024 * 1024)	/* then it becomes .1 */
#define DLOG_FOLLOW_MS	250

static char		*dlog_file;
static off_t		 dlog_size;
static char		*dlog_cur;	/* the route being worked on */

const char *
dlog_path(void)
{
	return dlog_file != NULL ? dlog_file : "";
}

/*
 * Records are about `key`'s route until dlog_route_end(what this
 * returns) puts the previous one back.  A copy: what runs meanwhile may
 * free the route.
 */
char *
dlog_route(const char *key)
{
	char *old = dlog_cur;

	dlog_cur = key != NULL ? xstrdup(key) : NULL;
	return old;
}

void
dlog_route_end(char *old)
{
	free(dlog_cur);
	dlog_cur = old;
}

/* The log at our stdout and stderr (children that write there too go to
 * the current one). */
static int
dlog_reopen(void)
{
	struct stat st;
	int fd;

	fd = open(dlog_file, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	dlog_size = fstat(fd, &st) == 0 ? st.st_size : 0;
	close(fd);
	return 0;
}

/* Past its limit the log becomes daemon.log.1 (one older generation). */
static void
dlog_rotate(void)
{
	char *old = xprintf("%s.1", dlog_file);

	if (rename(dlog_file, old) != 0 || dlog_reopen() != 0)
		dlog_size = 0;	/* keep writing where we were; retry later */
	free(old);
}

static void
dlog_output(int level, uint32_t about, const char *ctx, const char *text,
    void *arg)
{
	const char *route = dlog_cur != NULL ? dlog_cur : dr_key_of(about);
	char line[4096], stamp[32];
	struct timespec ts;
	struct tm tm;
	int n;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof line, "%s.%03ldZ spindle[%ld]: %s%s%s"
	    "%s%s%s%s: %s\n", stamp, ts.tv_nsec / 1000000, (long)getpid(),
	    route != NULL ? "route " : "", route != NULL ? route : "",
	    route != NULL ? ": " : "", ctx != NULL ? "[" : "",
	    ctx != NULL ? ctx : "", ctx != NULL ? "] " : "",
	    log_level_name(level), text);
	if (n > (int)sizeof line - 1)
		n = sizeof line - 1;
	line[n - 1] = '\0';
	str_clean(line);	/* a far end's text: no escapes, no lines */
	line[n - 1] = '\n';
	if (write(STDERR_FILENO, line, n) > 0)
		dlog_size += n;
	if (dlog_size > DLOG_MAX)
		dlog_rotate();
}

/* The daemon's stdout and stderr go to its log, and its records too. */
void
dlog_open(const char *dir)
{
	dlog_file = dlog_name(dir);
	if (dlog_reopen() == 0)
		log_set_output(dlog_output, NULL);
}

/* Copy fd from where it is to its end onto stdout; -1 if stdout fails. */
static int
dlog_copy(int fd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof buf)) > 0) {
		if (fwrite(buf, 1, n, stdout) != (size_t)n)
			return -1;
	}
	return fflush(stdout) == 0 ? 0 : -1;
}

/*
 * Follow the log as tail -F does: what is appended, the new file once
 * the daemon moved the old one to .1 (or a new daemon made it anew), the
 * start again once it was truncated.
 */
static int
dlog_follow(const char *path, int fd)
{
	struct stat cur, st;
	int nfd;

	for (;;) {
		if (fd >= 0 && dlog_copy(fd) != 0)
			return 1;
		poll(NULL, 0, DLOG_FOLLOW_MS);
		if (stat(path, &st) != 0)
			continue;
		if (fd >= 0 && fstat(fd, &cur) == 0 &&
		    cur.st_ino == st.st_ino && cur.st_dev == st.st_dev) {
			if (st.st_size < lseek(fd, 0, SEEK_CUR))
				lseek(fd, 0, SEEK_SET);
			continue;
		}
		if ((nfd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if (fd >= 0) {
			dlog_copy(fd);	/* the end of the old one first */
			close(fd);
		}
		fd = nfd;
	}
}

/* spindle daemon log [-f]: the older generation first, then the log. */
int
dlog_print(int follow)
{
	char why[512], *dir, *path, *old;
	int fd, rc;

	if ((rc = ctl_dir(follow, &dir, why, sizeof why)) != 0) {
		fprintf(stderr, "spindle: %s\n", rc == CTL_DIR_ABSENT ?
		    "no daemon log: no daemon ever ran" : why);
		return rc == CTL_DIR_ABSENT ? 1 : 255;
	}
	path = dlog_name(dir);
	old = xprintf("%s.1", path);
	if ((fd = open(old, O_RDONLY | O_CLOEXEC)) >= 0) {
		dlog_copy(fd);
		close(fd);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	rc = 0;
	if (follow)
		rc = dlog_follow(path, fd);
	else if (fd < 0) {
		fprintf(stderr, "spindle: %s: %s\n", path, strerror(errno));
		rc = 1;
	} else
		rc = dlog_copy(fd) != 0;
	if (fd >= 0 && !follow)
		close(fd);
	free(old);
	free(path);
	free(dir);
	return rc;
}
