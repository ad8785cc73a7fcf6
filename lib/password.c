/*
 * Passwords for prompting hops: asked once per route, read from a file or
 * an fd for scripts (a command's: pwcmd.c), never taken from argv or the
 * environment, and zeroed when done.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "lib.h"

#define PASSWORD_MAX	SECRET_MAX

static volatile sig_atomic_t password_sig;	/* one that stops a prompt */

static void
password_catch(int sig)
{
	password_sig = sig;
}

/* One line from fd, without its newline. */
static char *
password_read_line(int fd, const char *from, char *why, size_t whylen)
{
	char *buf = xcalloc(1, PASSWORD_MAX + 1);
	size_t len = 0;
	ssize_t n;
	char c;

	secret_nodump();	/* from now on: we hold a password */
	while (len < PASSWORD_MAX && (n = read(fd, &c, 1)) != 0) {
		if (n < 0 && errno == EINTR && !password_sig)
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
	return password_read_line(fd, from, why, whylen);
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
	pw = password_read_line(fd, path, why, whylen);
	close(fd);
	return pw;
}

/*
 * Prompt on the terminal with echo off.  A Ctrl-C there (or SIGTERM,
 * SIGHUP) gives the terminal its echo back before it stops us, as it
 * stops spindle anywhere before the command runs.
 */
char *
password_ask(const char *prompt, char *why, size_t whylen)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa, was[3];
	struct termios old, raw;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC), ok, sig;
	char *pw, *text;

	if (fd < 0) {
		snprintf(why, whylen, "--ask-pass needs a terminal: %s",
		    strerror(errno));
		return NULL;
	}
	ok = tcgetattr(fd, &old) == 0;
	raw = old;
	raw.c_lflag &= ~(ECHO | ECHONL);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = password_catch;	/* no SA_RESTART: read returns */
	sigemptyset(&sa.sa_mask);
	password_sig = 0;
	for (size_t i = 0; i < 3; i++) {
		sigaction(sigs[i], NULL, &was[i]);
		if (was[i].sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
	}
	if (ok)
		tcsetattr(fd, TCSANOW, &raw);
	if (write(fd, prompt, strlen(prompt)) < 0)
		ok = 0;
	pw = password_read_line(fd, "the terminal", why, whylen);
	if (write(fd, "\n", 1) < 0)
		ok = 0;
	tcsetattr(fd, TCSANOW, &old);
	close(fd);
	for (size_t i = 0; i < 3; i++)
		sigaction(sigs[i], &was[i], NULL);
	if ((sig = password_sig) != 0) {
		password_free(pw);
		text = proc_stop_text(sig);
		fprintf(stderr, "spindle: %s\n", text);
		free(text);
		signal(sig, SIG_DFL);
		raise(sig);
		_exit(128 + sig);
	}
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
