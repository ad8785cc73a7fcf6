/*
 * --ask-pass: which hops of a route take a password, and whose, asked for
 * by name on the terminal before connecting (for a name up gave the
 * daemon, the daemon tells the route).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t password_sig;	/* one that stops a prompt */

static void
password_catch(int sig)
{
	password_sig = sig;
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
	pw = password_read_line(fd, "the terminal", &password_sig, why,
	    whylen);
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
 * The route the daemon holds under NAME (one defined by up), from its
 * ls --json, or NULL: a name alone says nothing of the hops to ask for.
 */
static char *
password_daemon_route(const char *name)
{
	struct pk pk;
	char why[256], *text = NULL, *needle, *p, *out = NULL;
	size_t n = 0;
	int fd;

	if (strpbrk(name, "\"\\") != NULL ||
	    (fd = client_connect(0, 1, cli_verbose, why, sizeof why)) < 0)
		return NULL;
	pk_init(&pk);
	pk_u32(&pk, 1);
	if (client_call(fd, SPN_CTL_LS, &pk, &text) != 0 || text == NULL)
		goto done;
	needle = xprintf("{\"name\":\"%s\",\"route\":\"", name);
	if ((p = strstr(text, needle)) != NULL) {
		p += strlen(needle);
		out = xmalloc(strlen(p) + 1);
		for (; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && (*++p == '\0' || *p == 'u'))
				break;	/* a control character: no route */
			out[n++] = *p;
		}
		out[n] = '\0';
		if (*p != '"') {
			free(out);
			out = NULL;
		}
	}
	free(needle);
done:
	free(text);
	pk_free(&pk);
	close(fd);
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
	const char *route_name = NULL;
	char why[512], *label, *prompt, *held;
	size_t n;
	int rv, asked = 0;

	if (!mo->ask_pass)
		return 0;
	if ((rv = resolve_local(route, mo, &rc, why, sizeof why)) != 0) {
		fprintf(stderr, "spindle: %s\n", why);
		return rv;
	}
	if (!rc.from_file && strpbrk(route, "+,@=") == NULL &&
	    (held = password_daemon_route(route)) != NULL) {
		/* A name up gave the daemon: ask for its hops by name. */
		resolve_free(&rc);
		rv = resolve_local(held, mo, &rc, why, sizeof why);
		free(held);
		if (rv != 0) {
			fprintf(stderr, "spindle: %s\n", why);
			return rv;
		}
		route_name = route;
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
	if (asked == 0 && route_name == NULL && !rc.from_file &&
	    strpbrk(route, "+,@=") == NULL) {
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
