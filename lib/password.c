/*
 * Passwords for prompting hops: read from a file or an fd for scripts (a
 * command's: pwcmd.c; the terminal's: cli/askpass.c), never taken from
 * argv or the environment, and zeroed when done.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"

#define PASSWORD_MAX	SECRET_MAX

/* One line from fd, without its newline.  A read a signal broke off is
 * taken up again, unless stop (if any) says the signal stops it. */
char *
password_read_line(int fd, const char *from,
    const volatile sig_atomic_t *stop, char *why, size_t whylen)
{
	char *buf = xcalloc(1, PASSWORD_MAX + 1);
	size_t len = 0;
	ssize_t n;
	char c;

	secret_nodump();	/* from now on: we hold a password */
	while (len < PASSWORD_MAX && (n = read(fd, &c, 1)) != 0) {
		if (n < 0 && errno == EINTR && (stop == NULL || !*stop))
			continue;
		if (n < 0) {
			snprintf(why, whylen, "cannot read the password from "
			    "%s: %s", from, strerror(errno));
			password_free(buf);
			return NULL;
		}
		/* A NUL ends it too: what followed would outlive
		 * password_free, which wipes up to the first. */
		if (c == '\n' || c == '\0')
			break;
		buf[len++] = c;
	}
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	return buf;
}

char *
password_from_fd(int fd, char *why, size_t whylen)
{
	char from[32];

	snprintf(from, sizeof from, "fd %d", fd);
	return password_read_line(fd, from, NULL, why, whylen);
}

char *
password_from_file(const char *path, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *pw;

	if (fd < 0) {
		snprintf(why, whylen, "cannot read password file %s: %s",
		    path, strerror(errno));
		return NULL;
	}
	pw = password_read_line(fd, path, NULL, why, whylen);
	close(fd);
	return pw;
}

void
password_free(char *pw)
{
	if (pw == NULL)
		return;
	explicit_bzero(pw, strlen(pw));
	free(pw);
}

/* A vector of passwords, one a hop ("" for none), each wiped. */
void
password_strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		password_free(v[i]);
	free(v);
}

/* What a command line's options hold of passwords. */
void
password_opts_free(struct master_opts *mo)
{
	password_free(mo->password);
	password_strv_free(mo->hop_passwords);
	mo->password = NULL;
	mo->hop_passwords = NULL;
}
