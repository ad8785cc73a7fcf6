/*
 * Passwords for prompting hops: asked once per route, read from a file or
 * an fd for scripts, never taken from argv or the environment, and zeroed
 * when done.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

#define PASSWORD_MAX	SECRET_MAX

/* One line from fd, without its newline. */
static char *
password_read_line(int fd, const char *from)
{
	char *buf = xcalloc(1, PASSWORD_MAX + 1);
	size_t len = 0;
	ssize_t n;
	char c;

	secret_nodump();	/* from now on: we hold a password */
	while (len < PASSWORD_MAX && (n = read(fd, &c, 1)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "spindle: cannot read the password "
			    "from %s: %s\n", from, strerror(errno));
			password_free(buf);
			return NULL;
		}
		if (c == '\n')
			break;
		buf[len++] = c;
	}
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	return buf;
}

char *
password_from_fd(int fd)
{
	char from[32];

	snprintf(from, sizeof from, "fd %d", fd);
	return password_read_line(fd, from);
}

char *
password_from_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *pw;

	if (fd < 0) {
		fprintf(stderr, "spindle: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	pw = password_read_line(fd, path);
	close(fd);
	return pw;
}

/* The first line a command prints (a password manager's, say). */
char *
password_from_command(const char *cmd)
{
	FILE *f = popen(cmd, "re");
	char *pw, *text;
	int status;

	if (f == NULL) {
		fprintf(stderr, "spindle: cannot run '%s': %s\n", cmd,
		    strerror(errno));
		return NULL;
	}
	pw = password_read_line(fileno(f), cmd);
	/* Let it finish writing, whatever it prints after the line. */
	while (pw != NULL && fgetc(f) != EOF)
		;
	status = pclose(f);
	if (pw != NULL && status != 0) {
		text = proc_status_text(status);
		fprintf(stderr, "spindle: password command '%s' %s\n", cmd,
		    text);
		free(text);
		password_free(pw);
		pw = NULL;
	}
	return pw;
}

/*
 * A route's password from the routes file: its password-command, else
 * its password-file; NULL with why empty when it has neither.
 */
char *
password_from_source(const char *file, const char *cmd, char *why,
    size_t whylen)
{
	char *pw = NULL;

	*why = '\0';
	if (cmd != NULL && (pw = password_from_command(cmd)) == NULL)
		snprintf(why, whylen, "cannot get the password from command "
		    "'%s'", cmd);
	else if (cmd == NULL && file != NULL &&
	    (pw = password_from_file(file)) == NULL)
		snprintf(why, whylen, "cannot read password file %s", file);
	return pw;
}

/* Prompt on the terminal with echo off. */
char *
password_ask(const char *prompt)
{
	struct termios old, raw;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC), ok;
	char *pw;

	if (fd < 0) {
		fprintf(stderr, "spindle: --ask-pass needs a terminal: %s\n",
		    strerror(errno));
		return NULL;
	}
	ok = tcgetattr(fd, &old) == 0;
	raw = old;
	raw.c_lflag &= ~(ECHO | ECHONL);
	if (ok)
		tcsetattr(fd, TCSANOW, &raw);
	if (write(fd, prompt, strlen(prompt)) < 0)
		ok = 0;
	pw = password_read_line(fd, "the terminal");
	if (write(fd, "\n", 1) < 0)
		ok = 0;
	tcsetattr(fd, TCSANOW, &old);
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
