/* Small helpers shared by every room. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "router.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		fatal("out of memory (%zu bytes)", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		fatal("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n == 0 ? 1 : n);
	if (p == NULL)
		fatal("out of memory (%zu bytes)", n);
	return p;
}

char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

char *
xprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		fatal("out of memory");
	va_end(ap);
	return s;
}

int
fd_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	return fcntl(fd, F_SETFL, fl);
}

/*
 * epoll refuses regular files and some character devices (/dev/null):
 * such fds are always ready, so callers read or write them directly.
 */
int
fd_pollable(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return 0;
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
		return 0;
	if (S_ISCHR(st.st_mode) && !isatty(fd))
		return 0;
	return 1;
}

/* A bigger pipe means fewer wakeups per megabyte; failing is harmless. */
void
fd_grow_pipe(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
		fcntl(fd, F_SETPIPE_SZ, 1024 * 1024);
}

uint64_t
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * strerror() in OpenSSH's words, where the messages copy ssh's or
 * sshd's: theirs are glibc's, and the agent and the static spindle have
 * musl, which says "Address in use".
 */
const char *
ssh_strerror(int e)
{
	return e == EADDRINUSE ? "Address already in use" : strerror(e);
}

/*
 * Field `field` (0 name ... 6 shell) of uid's /etc/passwd line, without
 * NSS: a static agent must never load NSS modules.  NULL if not found.
 */
static char *
passwd_field(uid_t uid, int field)
{
	FILE *f = fopen("/etc/passwd", "re");
	char line[1024], *v[7], *p;
	int n;

	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		for (n = 0, p = line; n < 7 && p != NULL; n++) {
			v[n] = p;
			if ((p = strchr(p, ':')) != NULL)
				*p++ = '\0';
		}
		if (n == 7 && strtoul(v[2], NULL, 10) == (unsigned long)uid) {
			fclose(f);
			return xstrdup(v[field]);
		}
	}
	if (f != NULL)
		fclose(f);
	return NULL;
}

/* User name for a uid, falling back to the number. */
char *
passwd_name(uid_t uid)
{
	char *name = passwd_field(uid, 0);

	return name != NULL ? name : xprintf("%lu", (unsigned long)uid);
}

/* Field n of uid's passwd line, or def when it is missing or empty. */
static char *
passwd_field_or(uid_t uid, int n, const char *def)
{
	char *v = passwd_field(uid, n);

	if (v == NULL || *v == '\0') {
		free(v);
		v = xstrdup(def);
	}
	return v;
}

/* Login shell for a uid, falling back to /bin/sh as login(1) does. */
char *
passwd_shell(uid_t uid)
{
	return passwd_field_or(uid, 6, "/bin/sh");
}

/* Home directory for a uid, falling back to / as sshd does. */
char *
passwd_home(uid_t uid)
{
	return passwd_field_or(uid, 5, "/");
}

/*
 * A line from an evbuffer, in our own malloc'd memory (evbuffer_readln's
 * result belongs to libevent's allocator).  CR before LF is dropped.
 */
char *
evbuf_readline(struct evbuffer *b, size_t *len)
{
	struct evbuffer_ptr p;
	size_t eol;
	char *line;

	p = evbuffer_search_eol(b, NULL, &eol, EVBUFFER_EOL_LF);
	if (p.pos < 0)
		return NULL;
	line = xmalloc(p.pos + 1);
	evbuffer_remove(b, line, p.pos);
	evbuffer_drain(b, eol);
	if (p.pos > 0 && line[p.pos - 1] == '\r')
		p.pos--;
	line[p.pos] = '\0';
	*len = p.pos;
	return line;
}

/* All of an evbuffer, as a string in our own memory. */
char *
evbuf_take(struct evbuffer *b)
{
	size_t len = evbuffer_get_length(b);
	char *s = xmalloc(len + 1);

	evbuffer_remove(b, s, len);
	s[len] = '\0';
	return s;
}

/*
 * Text from a far end (its log records, its reasons, a remote program's
 * stderr) reaches terminals and log files: control characters become
 * '?', so none can move a cursor or forge a line.  C1 controls too (CSI
 * is 0x9b): encoded as UTF-8 (c2 80 to c2 9f), which UTF-8 terminals
 * obey, and as lone bytes, which Latin-1 ones do; the bytes of other
 * UTF-8 characters stay.
 */
char *
str_clean(char *s)
{
	unsigned char *p;
	int follow = 0;		/* continuation bytes still due */

	for (p = (unsigned char *)s; p != NULL && *p; p++) {
		if (*p >= 0x80 && *p <= 0xbf && follow > 0) {
			follow--;
			continue;
		}
		follow = 0;
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			*p++ = '?';
			*p = '?';
		} else if (*p >= 0xc2 && *p <= 0xf4)
			follow = *p >= 0xf0 ? 3 : *p >= 0xe0 ? 2 : 1;
		else if ((*p < 0x20 && *p != '\t') || (*p >= 0x7f &&
		    *p <= 0x9f))
			*p = '?';
	}
	return s;
}
