/*
 * How a request's route is set up: the one way, for spindle alone
 * (run --no-daemon, ping, info) and for the daemon alike.
 *
 * The route a spec names is a route of the routes file, else an inline
 * route (or, for the shim, ssh to a host).  Each option comes from the
 * command line, else the route's entry in the routes file, else the
 * file's global options (which an inline route takes too), else the
 * default.  The routes file merges an entry's own options over the
 * global ones as it reads them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

/* The ssh arguments that name local files: ssh-config and ssh-args of
 * the file, then the client's $SPINDLE_SSH_ARGS. */
static char *
resolve_local_ssh(const struct route_opts *ro, const char *env)
{
	const char *parts[3] = { NULL, NULL, env };
	char *out = xstrdup(""), *t, *f = NULL;

	if (ro != NULL && ro->ssh_config != NULL)
		parts[0] = f = xprintf("-F %s", ro->ssh_config);
	if (ro != NULL)
		parts[1] = ro->ssh_args;
	for (int i = 0; i < 3; i++) {
		if (parts[i] == NULL || *parts[i] == '\0')
			continue;
		t = xprintf("%s%s%s", out, *out ? " " : "", parts[i]);
		free(out);
		out = t;
	}
	free(f);
	return out;
}

/* "alice@web -p 2222 -F x": how a direct-ssh route is known and shown. */
char *
resolve_direct_name(const struct ctl_spec *s)
{
	char *name = s->user != NULL && *s->user != '\0' ?
	    xprintf("%s@%s", s->user, s->route) : xstrdup(s->route), *t;

	for (char **a = s->sshargs; a != NULL && *a != NULL; a++) {
		t = xprintf("%s %s", name, *a);
		free(name);
		name = t;
	}
	return name;
}

/* The first that is set: the command line's, the file's, the default. */
static int
resolve_secs(int cli, int file, int def)
{
	return cli >= 0 ? cli : file >= 0 ? file : def;
}

static char *
resolve_dup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* The routes file's `hop N` sources, over those of the route's text. */
static void
resolve_hop_sources(const struct routes_entry *e, struct route *r)
{
	for (size_t i = 0; e != NULL && i < e->nhops && i < r->nhops; i++) {
		if (e->hops[i].password_file != NULL)
			route_hop_source(&r->hops[i], "password-file",
			    e->hops[i].password_file);
		if (e->hops[i].password_command != NULL)
			route_hop_source(&r->hops[i], "password-command",
			    e->hops[i].password_command);
	}
}

/* --ask-pass's, one a hop, kept ("" for none); NULL: none given. */
char **
resolve_hop_passwords(const struct ctl_spec *s, size_t nhops)
{
	char **v;
	size_t have = 0;

	int any = 0;

	while (s->hop_passwords != NULL && s->hop_passwords[have] != NULL)
		any |= *s->hop_passwords[have++] != '\0';
	if (!any)
		return NULL;
	v = xcalloc(nhops + 1, sizeof *v);
	for (size_t i = 0; i < nhops; i++)
		v[i] = secret_keep(i < have ? s->hop_passwords[i] : "");
	return v;
}

void
resolve_hop_passwords_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		secret_drop(v[i]);
	free(v);
}

/*
 * rf may be NULL (no routes file).  A password given with the request
 * (one for the route, or one a hop) wins over the file's route-wide
 * sources, which are only noted here: they are read when the route
 * connects (chain.c); a hop's own source wins over both.
 */
int
resolve_route(const struct ctl_spec *s, const struct routes_file *rf,
    struct route_conf *rc, char *why, size_t whylen)
{
	const struct routes_entry *e = NULL;
	const struct route_opts *ro = NULL;
	char *local, err[512];
	int rv = 0;

	memset(rc, 0, sizeof *rc);
	if (rf != NULL) {
		e = routes_file_find(rf, s->route);
		ro = e != NULL ? &e->opts : &rf->global;
	}
	local = resolve_local_ssh(ro, s->sshenv);
	if (e != NULL) {
		rc->text = xstrdup(e->route);
		rc->from_file = 1;
		rv = route_parse(e->route, local, &rc->route, err, sizeof err);
		if (rv == 0)
			resolve_hop_sources(e, &rc->route);
	} else if (s->direct == CTL_SPEC_SSH) {
		rc->text = resolve_direct_name(s);
		route_direct(s->route, s->user, s->sshargs, local, &rc->route);
	} else {
		rc->text = xstrdup(s->route);
		if (s->direct == CTL_SPEC_DEST)
			rv = route_dest_ok(s->route, err, sizeof err);
		if (rv == 0)
			rv = route_parse(s->route, local, &rc->route, err,
			    sizeof err);
	}
	free(local);
	if (rv != 0) {
		snprintf(why, whylen, "bad route '%s': %s", s->route, err);
		free(rc->text);
		rc->text = NULL;
		return -1;
	}
	rc->mo.keepalive = resolve_secs(s->keepalive,
	    ro != NULL ? ro->keepalive : -1, SPN_KEEPALIVE_DEFAULT);
	rc->mo.timeout = resolve_secs(s->timeout,
	    ro != NULL ? ro->timeout : -1, MASTER_TIMEOUT_DEFAULT);
	rc->mo.password_secs = resolve_secs(-1,
	    ro != NULL ? ro->password_timeout : -1, PASSWORD_COMMAND_SECS);
	/* The daemon's, for a route nobody up'd (up sets its own). */
	rc->persist = ro != NULL && ro->persist != PERSIST_UNSET ?
	    ro->persist : PERSIST_DEFAULT;
	/* Kept for reconnecting (the daemon's), as long as the route is. */
	rc->mo.hop_passwords = resolve_hop_passwords(s, rc->route.nhops);
	if (s->password != NULL && *s->password != '\0')
		rc->mo.password = secret_keep(s->password);
	else if (ro != NULL && (e != NULL || s->direct != CTL_SPEC_DEST)) {
		/* Not for a host a URL named: its sudo would get it. */
		rc->mo.password_command = resolve_dup(ro->password_command);
		rc->mo.password_file = resolve_dup(ro->password_file);
	}
	return 0;
}

/*
 * For spindle alone: route as the daemon would have it from this command
 * line (mo).  Exit status 255 (the routes file) or 2 (the route) with
 * why set, else 0.
 */
int
resolve_local(const char *route, const struct master_opts *mo,
    struct route_conf *rc, char *why, size_t whylen)
{
	struct routes_file rf;
	struct ctl_spec s;
	char *path = routes_file_path();
	int rv;

	rv = routes_file_load(path, &rf, why, whylen);
	free(path);
	if (rv != 0)
		return 255;
	ctl_spec_init(&s, route, mo);
	rv = resolve_route(&s, &rf, rc, why, whylen);
	routes_file_free(&rf);
	if (rv != 0)
		return 2;
	rc->mo.timings = mo->timings;
	return 0;
}

void
resolve_free(struct route_conf *rc)
{
	route_free(&rc->route);
	free(rc->text);
	secret_drop(rc->mo.password);
	resolve_hop_passwords_free(rc->mo.hop_passwords);
	free(rc->mo.password_file);
	free(rc->mo.password_command);
	memset(rc, 0, sizeof *rc);
}
