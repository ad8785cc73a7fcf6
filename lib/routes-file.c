/*
 * The routes file, ~/.config/spindle/routes: named routes and options, in
 * the manner of ssh_config.  Options before the first `route` line are
 * global; indented lines after a `route` line are that route's own.
 *
 *	keepalive 15
 *	ssh-config /etc/spindle/ssh_config
 *	route web alice@web1,port=2222+sudo=webapp
 *	    password-file ~/.config/spindle/web.pw
 *	    hop 2 password-command pass show web/alice
 *
 * Options: keepalive, timeout, persist, ssh-config, ssh-args,
 * password-file, password-command (the first line it prints; it wins
 * over a file) and password-timeout (how long that command may take).
 * `hop N password-file|password-command ARG` gives hop N of the route a
 * source of its own (an ssh hop then logs in with a password).  How they
 * combine with a command line's is resolve.c's.  `forward L [bind:]port
 * host:hostport`, `forward D [bind:]port` and `forward R [bind:]port
 * host:hostport` are a route's forwards, which the daemon holds while
 * the route is (cli/dforward.c).  gateway-* are global options of
 * spindle-gateway (fakessh/gateway.h), nothing else reads them.
 */
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

char *
routes_file_path(void)
{
	const char *env = getenv("SPINDLE_ROUTES");

	if (env != NULL && *env != '\0')
		return xstrdup(env);
	return config_path("routes");
}

char *
config_path(const char *name)
{
	const char *env = getenv("XDG_CONFIG_HOME"), *home;

	if (env != NULL && *env == '/')
		return xprintf("%s/spindle/%s", env, name);
	if ((home = getenv("HOME")) == NULL || *home == '\0')
		return NULL;
	return xprintf("%s/.config/spindle/%s", home, name);
}

/* "~/x" is relative to $HOME, as in ssh_config. */
char *
routes_path_arg(const char *arg)
{
	const char *home = getenv("HOME");

	if (strncmp(arg, "~/", 2) == 0 && home != NULL)
		return xprintf("%s/%s", home, arg + 2);
	return xstrdup(arg);
}

static int
routes_secs(const char *arg, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || v < 0 || v > 86400)
		return -1;
	*out = v;
	return 0;
}

/* persist SECS|no: how long an idle route stays open (no: for ever). */
int
routes_persist(const char *arg, int *out)
{
	char *end;
	long v;

	if (strcmp(arg, "no") == 0) {
		*out = PERSIST_NEVER;
		return 0;
	}
	v = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || v < 0 || v > PERSIST_MAX)
		return -1;
	*out = v;
	return 0;
}

static void
routes_opts_set(char **field, char *value)
{
	free(*field);
	*field = value;
}

static int
routes_option(struct route_opts *o, const char *key, const char *arg)
{
	if (strcmp(key, "keepalive") == 0)
		return routes_secs(arg, &o->keepalive);
	if (strcmp(key, "timeout") == 0)
		return routes_secs(arg, &o->timeout);
	if (strcmp(key, "persist") == 0)
		return routes_persist(arg, &o->persist);
	if (strcmp(key, "password-timeout") == 0)
		return routes_secs(arg, &o->password_timeout);
	if (strcmp(key, "ssh-config") == 0)
		routes_opts_set(&o->ssh_config, routes_path_arg(arg));
	else if (strcmp(key, "ssh-args") == 0)
		routes_opts_set(&o->ssh_args, xstrdup(arg));
	else if (strcmp(key, "password-file") == 0)
		routes_opts_set(&o->password_file, routes_path_arg(arg));
	else if (strcmp(key, "password-command") == 0)
		routes_opts_set(&o->password_command, xstrdup(arg));
	else
		return -2;
	return 0;
}

static void
routes_opts_copy(struct route_opts *to, const struct route_opts *from)
{
	to->keepalive = from->keepalive;
	to->timeout = from->timeout;
	to->persist = from->persist;
	to->password_timeout = from->password_timeout;
	to->ssh_config = from->ssh_config ? xstrdup(from->ssh_config) : NULL;
	to->ssh_args = from->ssh_args ? xstrdup(from->ssh_args) : NULL;
	to->password_file = from->password_file ?
	    xstrdup(from->password_file) : NULL;
	to->password_command = from->password_command ?
	    xstrdup(from->password_command) : NULL;
}

void
route_opts_free(struct route_opts *o)
{
	free(o->ssh_config);
	free(o->ssh_args);
	free(o->password_file);
	free(o->password_command);
	route_opts_init(o);
}

void
route_opts_init(struct route_opts *o)
{
	memset(o, 0, sizeof *o);
	o->keepalive = o->timeout = o->password_timeout = -1;
	o->persist = PERSIST_UNSET;
}

static int
routes_add(struct routes_file *rf, const char *name, const char *text,
    char *why, size_t whylen)
{
	struct route r;
	struct routes_entry *e;

	if (routes_file_find(rf, name) != NULL) {
		snprintf(why, whylen, "route '%s' defined twice", name);
		return -1;
	}
	if (route_parse(text, NULL, &r, why, whylen) != 0)
		return -1;
	rf->v = xrealloc(rf->v, (rf->n + 1) * sizeof *rf->v);
	e = &rf->v[rf->n++];
	e->name = xstrdup(name);
	e->route = xstrdup(text);
	routes_opts_copy(&e->opts, &rf->global);
	e->nhops = r.nhops;
	e->hops = xcalloc(r.nhops, sizeof *e->hops);
	e->forwards = NULL;
	e->nforwards = 0;
	route_free(&r);
	return 0;
}

/* hop N password-file|password-command ARG, in a route. */
static int
routes_hop_line(struct routes_entry *e, char *arg, char *why, size_t whylen)
{
	char *n = arg, *key, *end, **field;
	long hop;

	arg += strcspn(arg, " \t");
	if (*arg != '\0')
		*arg++ = '\0';
	key = arg + strspn(arg, " \t");
	arg = key + strcspn(key, " \t");
	if (*arg != '\0')
		*arg++ = '\0';
	arg += strspn(arg, " \t");
	hop = strtol(n, &end, 10);
	if (*n == '\0' || *end != '\0' || hop < 1 || (size_t)hop > e->nhops) {
		snprintf(why, whylen, "bad hop '%s' (route %s has hops 1 to "
		    "%zu)", n, e->name, e->nhops);
		return -1;
	}
	if (strcmp(key, "password-file") == 0)
		field = &e->hops[hop - 1].password_file;
	else if (strcmp(key, "password-command") == 0)
		field = &e->hops[hop - 1].password_command;
	else {
		snprintf(why, whylen, "want 'hop N password-file FILE' or "
		    "'hop N password-command COMMAND'");
		return -1;
	}
	if (*arg == '\0') {
		snprintf(why, whylen, "'hop %ld %s' wants a value", hop, key);
		return -1;
	}
	routes_opts_set(field, strcmp(key, "password-file") == 0 ?
	    routes_path_arg(arg) : xstrdup(arg));
	return 0;
}

/*
 * forward L|D|R SPEC [TARGET], in a route: ssh_config's LocalForward,
 * DynamicForward and RemoteForward, whose two words ssh joins with ':'
 * before it parses them as -L, -D and -R take them.
 */
static int
routes_forward_line(struct routes_entry *e, char *arg, char *why,
    size_t whylen)
{
	char *kind = arg, *spec, *target, *joined;
	struct fwd_spec fs;
	int k, rc;

	arg += strcspn(arg, " \t");
	if (*arg != '\0')
		*arg++ = '\0';
	spec = arg + strspn(arg, " \t");
	arg = spec + strcspn(spec, " \t");
	if (*arg != '\0')
		*arg++ = '\0';
	target = arg + strspn(arg, " \t");
	k = strlen(kind) == 1 ? *kind : 0;
	if ((k != FWD_LOCAL && k != FWD_DYNAMIC && k != FWD_REMOTE) ||
	    *spec == '\0' || strpbrk(target, " \t") != NULL ||
	    (k == FWD_DYNAMIC) != (*target == '\0')) {
		snprintf(why, whylen, "want 'forward L [bind:]port "
		    "host:hostport', 'forward D [bind:]port' or 'forward R "
		    "[bind:]port host:hostport'");
		return -1;
	}
	joined = *target != '\0' ? xprintf("%s:%s", spec, target) :
	    xstrdup(spec);
	rc = fwd_spec_parse(k, joined, &fs, why, whylen);
	free(joined);
	if (rc != 0)
		return -1;
	e->forwards = xrealloc(e->forwards, (e->nforwards + 1) *
	    sizeof *e->forwards);
	e->forwards[e->nforwards++] = fs;
	return 0;
}

/*
 * gateway-listen ADDR:PORT, as ssh -D takes [bind:]port: 127.0.0.1,
 * [::1] or localhost (127.0.0.1) only, since the listener is for this
 * user's own programs (gw-tcp.c checks the peer's uid as well).  The
 * address, when ss is not NULL; the text as known_hosts names the
 * listener ("[127.0.0.1]:2222"), when norm is not NULL.
 */
int
gateway_listen_parse(const char *arg, struct sockaddr_storage *ss,
    socklen_t *sslen, char **norm, char *why, size_t whylen)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct fwd_spec fs;
	const char *host;
	int v6;

	if (fwd_spec_parse(FWD_DYNAMIC, arg, &fs, why, whylen) != 0 ||
	    fs.bind == NULL || fs.bind_port <= 0) {
		fwd_spec_free(&fs);
		snprintf(why, whylen, "gateway-listen: want ADDR:PORT, not "
		    "'%s'", arg);
		return -1;
	}
	if (strcmp(fs.bind, "127.0.0.1") == 0 ||
	    strcmp(fs.bind, "localhost") == 0)
		v6 = 0;
	else if (strcmp(fs.bind, "::1") == 0)
		v6 = 1;
	else {
		fwd_spec_free(&fs);
		snprintf(why, whylen, "gateway-listen: only loopback "
		    "addresses (127.0.0.1, [::1])");
		return -1;
	}
	host = v6 ? "::1" : "127.0.0.1";
	if (ss != NULL) {
		memset(ss, 0, sizeof *ss);
		sin.sin_port = sin6.sin6_port = htons(fs.bind_port);
		inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
		sin6.sin6_addr = in6addr_loopback;
		if (v6)
			memcpy(ss, &sin6, *sslen = sizeof sin6);
		else
			memcpy(ss, &sin, *sslen = sizeof sin);
	}
	if (norm != NULL)
		*norm = xprintf("[%s]:%d", host, fs.bind_port);
	fwd_spec_free(&fs);
	return 0;
}

/* N in lo..hi. */
static int
routes_int(const char *key, const char *arg, int lo, int hi, int *out,
    char *why, size_t whylen)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || v < lo || v > hi) {
		snprintf(why, whylen, "bad %s '%s' (want %d to %d)", key, arg,
		    lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

/* gateway-*: the gateway's own, global only.  1: not one of them. */
static int
routes_gateway(struct gateway_opts *g, const char *key, const char *arg,
    char *why, size_t whylen)
{
	static const struct {
		const char	*key;
		size_t		 off;
		int		 max;
	} ints[] = {
		{ "gateway-max-connections",
		    offsetof(struct gateway_opts, max_connections), 1024 },
		{ "gateway-max-startups",
		    offsetof(struct gateway_opts, max_startups), 1024 },
		{ "gateway-max-channels",
		    offsetof(struct gateway_opts, max_channels), 1024 },
		{ "gateway-login-grace",
		    offsetof(struct gateway_opts, login_grace), 3600 },
		{ "gateway-idle", offsetof(struct gateway_opts, idle), 86400 },
	};
	char *norm;
	size_t k;

	for (k = 0; k < sizeof ints / sizeof *ints; k++) {
		if (strcmp(key, ints[k].key) == 0)
			return routes_int(key, arg, 1, ints[k].max,
			    (int *)((char *)g + ints[k].off), why, whylen);
	}
	if (strcmp(key, "gateway-listen") != 0)
		return 1;
	if (gateway_listen_parse(arg, NULL, NULL, &norm, why, whylen) != 0)
		return -1;
	for (k = 0; k < GATEWAY_LISTEN_MAX && g->listen[k] != NULL; k++) {
		if (strcmp(g->listen[k], norm) == 0)
			break;
	}
	if (k == GATEWAY_LISTEN_MAX)
		snprintf(why, whylen, "gateway-listen: at most %d addresses",
		    GATEWAY_LISTEN_MAX);
	else if (g->listen[k] != NULL)
		snprintf(why, whylen, "gateway-listen: %s given twice", norm);
	if (k == GATEWAY_LISTEN_MAX || g->listen[k] != NULL) {
		free(norm);
		return -1;
	}
	g->listen[k] = norm;
	return 0;
}

/* KEY is an option of the file or of a route (hop aside). */
static int
routes_key_known(const char *key)
{
	static const char *const keys[] = { "keepalive", "timeout",
	    "persist", "ssh-config", "ssh-args", "password-file",
	    "password-command", "password-timeout" };

	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		if (strcmp(key, keys[i]) == 0)
			return 1;
	}
	return 0;
}

/* One line, comments and blanks already gone: KEY ARG... */
static int
routes_line(struct routes_file *rf, char *line, int indented, char *why,
    size_t whylen)
{
	char *key = line, *arg = line + strcspn(line, " \t"), *name;
	struct route_opts *o;
	int rc;

	if (*arg != '\0')
		*arg++ = '\0';
	arg += strspn(arg, " \t");
	if (strcmp(key, "route") == 0) {
		name = arg;
		arg += strcspn(arg, " \t");
		if (*arg != '\0')
			*arg++ = '\0';
		arg += strspn(arg, " \t");
		if (*name == '\0' || *arg == '\0' || strchr(arg, ' ')) {
			snprintf(why, whylen, "want 'route NAME ROUTE'");
			return -1;
		}
		return routes_add(rf, name, arg, why, whylen);
	}
	if (indented && rf->n == 0) {
		snprintf(why, whylen, "indented option before any route");
		return -1;
	}
	if (strncmp(key, "gateway-", 8) == 0) {
		if (indented || rf->n > 0) {
			snprintf(why, whylen, "%s is a global option: before "
			    "the first route, not indented", key);
			return -1;
		}
		if (*arg == '\0') {
			snprintf(why, whylen, "'%s' wants a value", key);
			return -1;
		}
		if ((rc = routes_gateway(&rf->gateway, key, arg, why,
		    whylen)) <= 0)
			return rc;
	}
	if (indented && strcmp(key, "hop") == 0)
		return routes_hop_line(&rf->v[rf->n - 1], arg, why, whylen);
	if (indented && strcmp(key, "forward") == 0)
		return routes_forward_line(&rf->v[rf->n - 1], arg, why,
		    whylen);
	/* A typo is a typo wherever it is, not a misplaced option. */
	if (!routes_key_known(key) && ((strcmp(key, "hop") != 0 &&
	    strcmp(key, "forward") != 0) || rf->n == 0)) {
		snprintf(why, whylen, "unknown option '%s' (want keepalive, "
		    "timeout, persist, ssh-config, ssh-args, password-file, "
		    "password-command, password-timeout, gateway-* or, in a "
		    "route, hop or forward)", key);
		return -1;
	}
	o = indented ? &rf->v[rf->n - 1].opts : &rf->global;
	if (!indented && rf->n > 0) {
		snprintf(why, whylen, "global option '%s' after a route "
		    "(indent it to make it the route's)", key);
		return -1;
	}
	if (*arg == '\0') {
		snprintf(why, whylen, "'%s' wants a value", key);
		return -1;
	}
	if ((rc = routes_option(o, key, arg)) != 0 &&
	    strcmp(key, "persist") == 0)
		snprintf(why, whylen, "bad persist '%s' (want seconds or "
		    "'no')", arg);
	else if (rc != 0)
		snprintf(why, whylen, "bad number of seconds '%s'", arg);
	return rc == 0 ? 0 : -1;
}

static char *
routes_trim(char *line, int *indented)
{
	char *end;
	char *hash;

	*indented = (*line == ' ' || *line == '\t');
	line += strspn(line, " \t");
	/* A comment: a whole line, or the rest after a blank and '#'. */
	for (hash = line; (hash = strchr(hash, '#')) != NULL; hash++) {
		if (hash == line || hash[-1] == ' ' || hash[-1] == '\t') {
			*hash = '\0';
			break;
		}
	}
	end = line + strlen(line);
	while (end > line && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return line;
}

/* A missing file is an empty one.  On error, `why` says "FILE:LINE: ...". */
int
routes_file_load(const char *path, struct routes_file *rf, char *why,
    size_t whylen)
{
	FILE *f;
	char *line = NULL, *p, err[256];
	size_t cap = 0;
	int lineno = 0, indented, rc = 0;

	memset(rf, 0, sizeof *rf);
	route_opts_init(&rf->global);
	if (path == NULL || (f = fopen(path, "r")) == NULL) {
		if (path == NULL || errno == ENOENT)
			return 0;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && getline(&line, &cap, f) != -1) {
		lineno++;
		p = routes_trim(line, &indented);
		if (*p == '\0')
			continue;
		if ((rc = routes_line(rf, p, indented, err, sizeof err)) != 0)
			snprintf(why, whylen, "%s:%d: %s", path, lineno, err);
	}
	free(line);
	fclose(f);
	if (rc != 0)
		routes_file_free(rf);
	return rc;
}

const struct routes_entry *
routes_file_find(const struct routes_file *rf, const char *name)
{
	for (size_t i = 0; i < rf->n; i++) {
		if (strcmp(rf->v[i].name, name) == 0)
			return &rf->v[i];
	}
	return NULL;
}

void
routes_file_free(struct routes_file *rf)
{
	for (size_t i = 0; i < rf->n; i++) {
		free(rf->v[i].name);
		free(rf->v[i].route);
		route_opts_free(&rf->v[i].opts);
		for (size_t k = 0; k < rf->v[i].nhops; k++) {
			free(rf->v[i].hops[k].password_file);
			free(rf->v[i].hops[k].password_command);
		}
		free(rf->v[i].hops);
		for (size_t k = 0; k < rf->v[i].nforwards; k++)
			fwd_spec_free(&rf->v[i].forwards[k]);
		free(rf->v[i].forwards);
	}
	free(rf->v);
	route_opts_free(&rf->global);
	for (size_t k = 0; k < GATEWAY_LISTEN_MAX; k++)
		free(rf->gateway.listen[k]);
	memset(&rf->gateway, 0, sizeof rf->gateway);
	rf->v = NULL;
	rf->n = 0;
}

/* NAME is a route of the routes file (a bad file knows no names). */
int
routes_known(const char *name)
{
	struct routes_file rf;
	char *path = routes_file_path(), why[256];
	int found = 0;

	if (routes_file_load(path, &rf, why, sizeof why) == 0) {
		found = routes_file_find(&rf, name) != NULL;
		routes_file_free(&rf);
	}
	free(path);
	return found;
}
