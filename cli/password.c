/*
 * Passwords for prompting hops: asked once per route, read from a file or
 * an fd for scripts (a command's: pwcmd.c), never taken from argv or the
 * environment, and zeroed when done.
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
password_read_line(int fd, const char *from, char *why, size_t whylen)
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

/* Prompt on the terminal with echo off. */
char *
password_ask(const char *prompt, char *why, size_t whylen)
{
	struct termios old, raw;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC), ok;
	char *pw;

	if (fd < 0) {
		snprintf(why, whylen, "--ask-pass needs a terminal: %s",
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
	pw = password_read_line(fd, "the terminal", why, whylen);
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

/*
 * Whose password hop i wants, and what for: "hops@inner (sudo to
 * hweb)"; NULL when it wants none (root's sudo or su).  The user of an
 * ssh hop that names none is the one it starts from, as ssh has it
 * unless a config says otherwise.
 */
static char *
password_hop_label(const struct route *r, size_t i)
{
	char host[256], *user = passwd_name(getuid()), *out = NULL;
	const char *at = host, *m, *to;

	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	for (size_t k = 0; k <= i; k++) {
		m = r->hops[k].method;
		to = r->hops[k].args[0];
		if (strcmp(m, "local") == 0)
			continue;
		if (strcmp(m, "ssh") == 0) {
			at = to;
			to = *r->hops[k].args[1] != '\0' ? r->hops[k].args[1] :
			    user;
			if (k == i)
				out = xprintf("%s@%s (ssh login)", to, at);
		} else if (k == i && strcmp(m, "su") == 0) {
			if (strcmp(user, "root") != 0)
				out = xprintf("%s@%s (su to %s)", to, at, to);
		} else if (k == i && (strcmp(m, "doas") == 0 ||
		    strcmp(user, "root") != 0))
			out = xprintf("%s@%s (%s to %s)", user, at, m, to);
		if (to != user) {
			free(user);
			user = xstrdup(to);
		}
	}
	free(user);
	return out;
}

/*
 * --ask-pass: before connecting, ask for each hop that may prompt and
 * has no source of its own, naming whose password and which hop.  0, or
 * the exit status after saying why not.
 */
int
password_ask_route(const char *route, struct master_opts *mo)
{
	struct route_conf rc;
	const struct hop *h;
	char why[512], *label, *prompt;
	size_t n;
	int rv, asked = 0;

	if (!mo->ask_pass)
		return 0;
	if ((rv = resolve_local(route, mo, &rc, why, sizeof why)) != 0) {
		fprintf(stderr, "spindle: %s\n", why);
		return rv;
	}
	n = rc.route.nhops < SPN_CTL_HOPS_MAX ? rc.route.nhops :
	    SPN_CTL_HOPS_MAX;
	mo->hop_passwords = xcalloc(n + 1, sizeof *mo->hop_passwords);
	for (size_t i = 0; i < n; i++) {
		h = &rc.route.hops[i];
		label = NULL;
		if (h->prompts && h->password_file == NULL &&
		    h->password_command == NULL)
			label = password_hop_label(&rc.route, i);
		if (label == NULL) {
			mo->hop_passwords[i] = xstrdup("");
			continue;
		}
		prompt = xprintf("spindle: password for %s: ", label);
		mo->hop_passwords[i] = password_ask(prompt, why, sizeof why);
		free(prompt);
		free(label);
		if (mo->hop_passwords[i] == NULL) {
			fprintf(stderr, "spindle: %s\n", why);
			resolve_free(&rc);
			password_opts_free(mo);	/* those asked already */
			return 255;
		}
		asked++;
	}
	rv = 0;
	if (asked == 0 && !rc.from_file && strpbrk(route, "+,@=") == NULL) {
		/* Maybe a name only the daemon knows (up): one for the
		 * route, for whichever of its hops take one. */
		prompt = xprintf("spindle: password for %s: ", route);
		if ((mo->password = password_ask(prompt, why,
		    sizeof why)) == NULL) {
			fprintf(stderr, "spindle: %s\n", why);
			rv = 255;
		}
		free(prompt);
	} else if (asked == 0)
		fprintf(stderr, "spindle: --ask-pass: no hop of %s takes a "
		    "password (an ssh hop logs in with one only when marked "
		    "so: HOST,password)\n", route);
	if (rv != 0)
		password_opts_free(mo);
	resolve_free(&rc);
	return rv;
}
