/*
 * Route grammar: hops joined by '+', read left to right, each hop started
 * from the one before it.  '+' is legal in a shell word and in the HOST of
 * an rsync or scp target, which is why it was chosen over '/', ':' or '@'.
 *
 *	route	= hop *( "+" hop )
 *	hop	= "local" | "sudo" [ "=" user ] | "su=" user | "doas=" user
 *		| [ user "@" ] host
 *
 * A host is anything ssh accepts, an ssh_config alias included.  Extra
 * ssh arguments for every ssh hop come from $SPINDLE_SSH_ARGS.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int
route_name_ok(const char *s)
{
	if (*s == '\0' || *s == '-')
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("._-", *s) == NULL)
			return 0;
	}
	return 1;
}

/* $SPINDLE_SSH_ARGS, split on blanks (no quoting: keep it simple). */
static void
route_ssh_args(char ***argsp, size_t *np)
{
	const char *env = getenv("SPINDLE_SSH_ARGS");
	char *copy, *word, *save = NULL;

	if (env == NULL)
		return;
	copy = xstrdup(env);
	for (word = strtok_r(copy, " \t\n", &save); word != NULL;
	    word = strtok_r(NULL, " \t\n", &save)) {
		*argsp = xrealloc(*argsp, (*np + 2) * sizeof **argsp);
		(*argsp)[(*np)++] = xstrdup(word);
		(*argsp)[*np] = NULL;
	}
	free(copy);
}

static int
route_ssh_hop(const char *word, struct hop *h, char *why, size_t whylen)
{
	const char *at = strchr(word, '@');
	char *user = xstrdup(word), *host;
	size_t n = 2;

	if (at != NULL) {
		user[at - word] = '\0';
		host = xstrdup(at + 1);
	} else {
		user[0] = '\0';
		host = xstrdup(word);
	}
	if (!route_name_ok(host) || (at != NULL && !route_name_ok(user))) {
		snprintf(why, whylen, "bad hop '%s' (want local, sudo[=USER], "
		    "su=USER, doas=USER or [USER@]HOST)", word);
		free(user);
		free(host);
		return -1;
	}
	h->method = xstrdup("ssh");
	h->args = xcalloc(3, sizeof *h->args);
	h->args[0] = host;
	h->args[1] = user;
	route_ssh_args(&h->args, &n);
	return 0;
}

static int
route_hop(const char *word, struct hop *h, char *why, size_t whylen)
{
	if (*word == '\0') {
		snprintf(why, whylen, "empty hop (two '+' in a row?)");
		return -1;
	}
	if (strcmp(word, "local") == 0) {
		h->method = xstrdup("local");
		h->args = xcalloc(1, sizeof *h->args);
		return 0;
	}
	if (strcmp(word, "sudo") == 0 || strncmp(word, "sudo=", 5) == 0) {
		if (word[4] == '=' && !route_name_ok(word + 5)) {
			snprintf(why, whylen, "bad user in hop '%s'", word);
			return -1;
		}
		h->method = xstrdup("sudo");
		h->args = xcalloc(2, sizeof *h->args);
		h->args[0] = xstrdup(word[4] == '=' ? word + 5 : "root");
		return 0;
	}
	if (strncmp(word, "su=", 3) == 0 || strncmp(word, "doas=", 5) == 0) {
		const char *user = strchr(word, '=') + 1;

		if (!route_name_ok(user)) {
			snprintf(why, whylen, "bad user in hop '%s'", word);
			return -1;
		}
		h->method = xstrndup(word, user - 1 - word);
		h->args = xcalloc(2, sizeof *h->args);
		h->args[0] = xstrdup(user);
		return 0;
	}
	return route_ssh_hop(word, h, why, whylen);
}

int
route_parse(const char *text, struct route *r, char *why, size_t whylen)
{
	char *copy = xstrdup(text), *word, *next;
	size_t namelen = 0;

	memset(r, 0, sizeof *r);
	for (word = copy; word != NULL; word = next) {
		if ((next = strchr(word, '+')) != NULL)
			*next++ = '\0';
		r->hops = xrealloc(r->hops, (r->nhops + 1) * sizeof *r->hops);
		memset(&r->hops[r->nhops], 0, sizeof *r->hops);
		if (route_hop(word, &r->hops[r->nhops], why, whylen) != 0) {
			route_free(r);
			free(copy);
			return -1;
		}
		namelen += strlen(word) + (r->nhops > 0);
		r->hops[r->nhops].name = xstrdup(text);
		r->hops[r->nhops].name[namelen] = '\0';
		r->nhops++;
	}
	free(copy);
	return 0;
}

void
route_free(struct route *r)
{
	for (size_t i = 0; i < r->nhops; i++) {
		free(r->hops[i].method);
		strv_free(r->hops[i].args);
		free(r->hops[i].name);
	}
	free(r->hops);
	memset(r, 0, sizeof *r);
}
