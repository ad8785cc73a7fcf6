/*
 * Route grammar: hops joined by '+', read left to right, each hop started
 * from the one before it.  '+' is legal in a shell word and in the HOST of
 * an rsync or scp target, which is why it was chosen over '/', ':' or '@'.
 *
 *	route	= hop *( "+" hop )
 *	hop	= "local"
 *
 * ssh ([user@]host), sudo[=user], su=user and doas=user come next.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
	snprintf(why, whylen, "unknown hop '%s' (this version knows: local)",
	    word);
	return -1;
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
