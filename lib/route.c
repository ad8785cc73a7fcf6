/*
 * Route grammar: hops joined by '+', read left to right, each hop started
 * from the one before it.  '+' is legal in a shell word and in the HOST of
 * an rsync or scp target, which is why it was chosen over '/', ':' or '@'.
 *
 *	route	= hop *( "+" hop )
 *	hop	= "local" | "sudo" [ "=" user ] *( "," sudo-option )
 *		| "su=" user [ pw ] | "doas=" user [ pw ]
 *		| [ user "@" ] host *( "," option "=" value | ",password" )
 *	pw	= ",password-file=" file
 *
 * A password is for the hop it is given to: sudo, su and doas hops take
 * the route's (or their own, password-file=); an ssh hop logs in with one
 * only when marked so (,password or its own password-file=), and runs
 * with password login off otherwise, so that a password meant for a sudo
 * further on is never typed into an sshd on the way.
 *
 * A host is anything ssh accepts, an ssh_config alias included.  Extra
 * ssh arguments that name local files ($SPINDLE_SSH_ARGS, the routes
 * file's ssh-config and ssh-args) go to the ssh hops this machine starts,
 * after the hop's own options: up to the first ssh hop, every hop runs
 * here.  An ssh beyond it runs on another host, as another user, where
 * a local path means nothing; its own options (`,config=`) set it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

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

/* Local ssh arguments, split on blanks (no quoting: keep it simple). */
static void
route_ssh_local(char ***argsp, size_t *np, const char *local)
{
	char *copy, *word, *save = NULL;

	if (local == NULL)
		return;
	copy = xstrdup(local);
	for (word = strtok_r(copy, " \t\n", &save); word != NULL;
	    word = strtok_r(NULL, " \t\n", &save))
		strv_push(argsp, np, xstrdup(word));
	free(copy);
}

/* A password source of the hop's own; it then takes a password. */
int
route_hop_source(struct hop *h, const char *key, const char *value)
{
	char **field;

	if (strcmp(key, "password-file") == 0)
		field = &h->password_file;
	else if (strcmp(key, "password-command") == 0)
		field = &h->password_command;
	else
		return -1;
	free(*field);
	*field = strcmp(key, "password-file") == 0 ? routes_path_arg(value) :
	    xstrdup(value);
	h->prompts = 1;
	return 0;
}

/* ,password-file=FILE, the option every prompting hop takes; 1: not it. */
static int
route_pw_opt(struct hop *h, const char *opt)
{
	if (strncmp(opt, "password-file=", 14) != 0 || opt[14] == '\0')
		return 1;
	return route_hop_source(h, "password-file", opt + 14);
}

/*
 * Per-hop ssh options, after the host: ,port=N ,identity=FILE
 * ,config=FILE ,timeout=SECS ,hostkey=yes|no|accept-new|ask ,o=KEY=VALUE
 * ,password ,password-file=FILE
 */
static int
route_ssh_opt(struct hop *h, const char *opt, char ***argsp, size_t *np,
    char *why, size_t whylen)
{
	static const struct {
		const char	*name;
		const char	*fmt;
	} opts[] = {
		{ "port", "-p%s" }, { "identity", "-i%s" },
		{ "config", "-F%s" }, { "timeout", "-oConnectTimeout=%s" },
		{ "hostkey", "-oStrictHostKeyChecking=%s" }, { "o", "-o%s" },
	};
	const char *eq = strchr(opt, '=');

	if (strcmp(opt, "password") == 0) {
		h->prompts = 1;
		return 0;
	}
	if (route_pw_opt(h, opt) == 0)
		return 0;
	for (size_t i = 0; eq != NULL && i < sizeof opts / sizeof *opts; i++) {
		if (strlen(opts[i].name) == (size_t)(eq - opt) &&
		    strncmp(opt, opts[i].name, eq - opt) == 0 && eq[1] != '\0') {
			strv_push(argsp, np, xprintf(opts[i].fmt, eq + 1));
			return 0;
		}
	}
	snprintf(why, whylen, "unknown ssh hop option '%s' (want port=, "
	    "identity=, config=, timeout=, hostkey=, o=KEY=VALUE, password "
	    "or password-file=)", opt);
	return -1;
}

static int
route_ssh_hop(const char *word, const char *local, struct hop *h, char *why,
    size_t whylen)
{
	char *copy = xstrdup(word), *opts = strchr(copy, ','), *at, *opt;
	char *user = "", *host = copy, *save = NULL;
	size_t n = 2;

	if (opts != NULL)
		*opts++ = '\0';
	else
		opts = copy + strlen(copy);
	if ((at = strchr(copy, '@')) != NULL) {
		*at = '\0';
		user = copy;
		host = at + 1;
	}
	if (!route_name_ok(host) || (at != NULL && !route_name_ok(user))) {
		snprintf(why, whylen, "bad hop '%s' (want local, sudo[=USER], "
		    "su=USER, doas=USER or [USER@]HOST[,OPTION=VALUE...])",
		    word);
		free(copy);
		return -1;
	}
	h->method = xstrdup("ssh");
	h->args = xcalloc(3, sizeof *h->args);
	h->args[0] = xstrdup(host);
	h->args[1] = xstrdup(user);
	/* The hop's own options first: for -o, ssh keeps the first value. */
	for (opt = strtok_r(opts, ",", &save); opt != NULL;
	    opt = strtok_r(NULL, ",", &save)) {
		if (route_ssh_opt(h, opt, &h->args, &n, why, whylen) != 0) {
			free(copy);
			return -1;
		}
	}
	route_ssh_local(&h->args, &n, local);
	free(copy);
	return 0;
}

/*
 * sudo[=USER][,group=G][,login][,preserve-env][,nohome][,password-file=F]:
 * sudo's -g, -i and -E; -H (HOME of the target) unless nohome.
 */
static int
route_sudo_hop(const char *word, struct hop *h, char *why, size_t whylen)
{
	char *copy = xstrdup(word), *opts = strchr(copy, ','), *opt;
	char *user = copy[4] == '=' ? copy + 5 : "root", *save = NULL;
	size_t n = 1;
	int home = 1;

	if (opts != NULL)
		*opts++ = '\0';
	else
		opts = copy + strlen(copy);	/* strtok_r wants a string */
	h->method = xstrdup("sudo");
	h->prompts = 1;
	h->args = xcalloc(2, sizeof *h->args);
	h->args[0] = xstrdup(user);
	for (opt = strtok_r(opts, ",", &save); opt != NULL;
	    opt = strtok_r(NULL, ",", &save)) {
		if (strncmp(opt, "group=", 6) == 0 && route_name_ok(opt + 6)) {
			strv_push(&h->args, &n, xstrdup("-g"));
			strv_push(&h->args, &n, xstrdup(opt + 6));
		} else if (strcmp(opt, "login") == 0)
			strv_push(&h->args, &n, xstrdup("-i"));
		else if (strcmp(opt, "preserve-env") == 0)
			strv_push(&h->args, &n, xstrdup("-E"));
		else if (strcmp(opt, "nohome") == 0)
			home = 0;
		else if (route_pw_opt(h, opt) != 0) {
			snprintf(why, whylen, "unknown sudo hop option '%s' (want "
			    "group=G, login, preserve-env, nohome or "
			    "password-file=F)", opt);
			free(copy);
			return -1;
		}
	}
	if (home)
		strv_push(&h->args, &n, xstrdup("-H"));
	if (!route_name_ok(user)) {
		snprintf(why, whylen, "bad user in hop '%s'", word);
		free(copy);
		return -1;
	}
	free(copy);
	return 0;
}

/* su=USER and doas=USER, with ,password-file=F. */
static int
route_su_hop(const char *word, struct hop *h, char *why, size_t whylen)
{
	char *copy = xstrdup(word), *user = strchr(copy, '=') + 1, *opt;
	char *save = NULL;
	int rv = 0;

	if ((opt = strchr(user, ',')) != NULL)
		*opt++ = '\0';
	h->method = xstrndup(copy, user - 1 - copy);
	h->prompts = 1;
	h->args = xcalloc(2, sizeof *h->args);
	h->args[0] = xstrdup(user);
	if (!route_name_ok(user)) {
		snprintf(why, whylen, "bad user in hop '%s'", word);
		rv = -1;
	}
	for (opt = opt != NULL ? strtok_r(opt, ",", &save) : NULL;
	    rv == 0 && opt != NULL; opt = strtok_r(NULL, ",", &save)) {
		if (route_pw_opt(h, opt) != 0) {
			snprintf(why, whylen, "unknown %s hop option '%s' "
			    "(want password-file=F)", h->method, opt);
			rv = -1;
		}
	}
	free(copy);
	return rv;
}

static int
route_hop(const char *word, const char *local, struct hop *h, char *why,
    size_t whylen)
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
	if (strncmp(word, "sudo", 4) == 0 && strchr("=,", word[4]) != NULL)
		return route_sudo_hop(word, h, why, whylen);
	if (strncmp(word, "su=", 3) == 0 || strncmp(word, "doas=", 5) == 0)
		return route_su_hop(word, h, why, whylen);
	return route_ssh_hop(word, local, h, why, whylen);
}

/* `local`: the ssh arguments for the ssh hops started on this machine. */
int
route_parse(const char *text, const char *local, struct route *r, char *why,
    size_t whylen)
{
	char *copy = xstrdup(text), *word, *next;
	size_t namelen = 0;

	memset(r, 0, sizeof *r);
	for (word = copy; word != NULL; word = next) {
		if ((next = strchr(word, '+')) != NULL)
			*next++ = '\0';
		r->hops = xrealloc(r->hops, (r->nhops + 1) * sizeof *r->hops);
		memset(&r->hops[r->nhops], 0, sizeof *r->hops);
		if (route_hop(word, local, &r->hops[r->nhops], why,
		    whylen) != 0) {
			/* What the failed hop had parsed goes too. */
			r->nhops++;
			route_free(r);
			free(copy);
			return -1;
		}
		/* What this hop starts runs on another machine. */
		if (strcmp(r->hops[r->nhops].method, "ssh") == 0)
			local = NULL;
		namelen += strlen(word) + (r->nhops > 0);
		r->hops[r->nhops].name = xstrdup(text);
		r->hops[r->nhops].name[namelen] = '\0';
		r->nhops++;
	}
	free(copy);
	return 0;
}

/*
 * An inline route another program named, as the shim's destination (a
 * git URL, an rsync target): words of whoever wrote that URL.  No hop
 * option that runs or reads something here (o=ProxyCommand=..., identity=,
 * config=) or that sends a password (password, password-file=): those
 * are for routes of the routes file.  Split as route_parse splits.
 */
int
route_dest_ok(const char *text, char *why, size_t whylen)
{
	static const char *const banned[] = { "o", "identity", "config",
	    "password", "password-file", NULL };
	char *copy = xstrdup(text), *word, *next, *opt, *save;
	size_t len;
	int rv = 0;

	for (word = copy; rv == 0 && word != NULL; word = next) {
		if ((next = strchr(word, '+')) != NULL)
			*next++ = '\0';
		if ((opt = strchr(word, ',')) == NULL)
			continue;
		save = NULL;
		for (opt = strtok_r(opt + 1, ",", &save); rv == 0 &&
		    opt != NULL; opt = strtok_r(NULL, ",", &save)) {
			len = strcspn(opt, "=");
			for (size_t k = 0; banned[k] != NULL; k++) {
				if (strlen(banned[k]) != len ||
				    strncmp(opt, banned[k], len) != 0)
					continue;
				snprintf(why, whylen, "hop option '%s' is not "
				    "taken from an ssh destination (it would "
				    "run, read or send something of yours): "
				    "name a route of the routes file", opt);
				rv = -1;
			}
		}
	}
	free(copy);
	return rv;
}

/*
 * One ssh hop built from an ssh command line (the shim's): any host name
 * ssh takes, and its options as they are, then the local ones.
 */
void
route_direct(const char *host, const char *user, char *const *args,
    const char *local, struct route *r)
{
	struct hop *h;
	size_t n = 2;

	memset(r, 0, sizeof *r);
	r->hops = h = xcalloc(1, sizeof *h);
	r->nhops = 1;
	h->method = xstrdup("ssh");
	h->args = xcalloc(3, sizeof *h->args);
	h->args[0] = xstrdup(host);
	h->args[1] = xstrdup(user != NULL ? user : "");
	for (; args != NULL && *args != NULL; args++)
		strv_push(&h->args, &n, xstrdup(*args));
	route_ssh_local(&h->args, &n, local);
	h->name = user != NULL && *user != '\0' ?
	    xprintf("%s@%s", user, host) : xstrdup(host);
}

void
route_free(struct route *r)
{
	for (size_t i = 0; i < r->nhops; i++) {
		free(r->hops[i].method);
		strv_free(r->hops[i].args);
		free(r->hops[i].name);
		free(r->hops[i].password_file);
		free(r->hops[i].password_command);
	}
	free(r->hops);
	memset(r, 0, sizeof *r);
}
