/*
 * The daemon's routes: named ones (from `spindle up` or the routes file)
 * and the inline and direct-ssh ones clients name on the fly, each with
 * its chain when connected.  A route connects on first use, and again on
 * the next use after a hop died, and closes when it has been idle for its
 * persist time (as ssh's ControlPersist).  What a request's route is, and
 * with which options, is resolve.c's, as for spindle alone: asked again
 * at every connect, so that an edited routes file (and the password
 * sources it names) counts from the next connect on.
 *
 * Nothing of a password sticks: the daemon holds only what a command
 * line gave (for the route, or one a hop), the newest request's replacing
 * it; a hop that fails with a held password makes the daemon forget that
 * password, so that a wrong one is never tried again (a user can lock
 * their account); an edit of the route in the routes file, or down,
 * forgets all.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum dr_state { DR_DOWN, DR_CONNECTING, DR_UP };
static const char *dr_state_names[] = { "down", "connecting", "up" };

struct dr_wait {
	struct droute		*dr;
	dr_ready_fn		*fn;
	void			*arg;
	TAILQ_ENTRY(dr_wait)	 entry;
};

struct droute {
	uint32_t		 serial;	/* replies find us by it */
	char			*key;	/* name, or the spec as given */
	int			 defined;	/* by up */
	struct ctl_spec		 spec;	/* as asked for, without passwords */
	struct route_conf	 conf;	/* route, options, password sources */
	char			*pw;	/* held for the route (secret_keep) */
	char			**hop_pw; /* ... for each hop ("": none) */
	char			*agent;		/* SSH_AUTH_SOCK of its last user */
	enum dr_state		 state;
	char			*error;	/* why it last went down */
	struct chain		*chain;
	uint64_t		 t_up;
	uint64_t		 rtt;	/* usec, of the last round trip */
	uint32_t		*pids;
	int			 npids;
	int			 uses;
	int			 forget;	/* taken down while in use */
	int			 persist;	/* secs idle, or PERSIST_NEVER */
	uint64_t		 t_idle;	/* when its last use ended */
	struct event		*idle_ev;	/* closes it */
	TAILQ_HEAD(, dr_wait)	 waits;
	TAILQ_ENTRY(droute)	 entry;
};

static TAILQ_HEAD(, droute) dr_all = TAILQ_HEAD_INITIALIZER(dr_all);
static uint32_t		 dr_serial;
static struct master	*dr_master;
/*
 * The context ids of the last chains made, with their route's name: a
 * hop's last words (its stderr, "finished") come after its chain is gone,
 * and the log still names the route.  Ids are never reused.
 */
#define DR_CHAINS_KEPT	64
static struct {
	uint32_t		 lo, hi;
	char			*key;
} dr_ids[DR_CHAINS_KEPT];
static size_t		 dr_ids_next;

static void	dr_lost(uint32_t, const char *, void *);
static void	dr_free(struct droute *);

/* A record about the route: the daemon's log names it on the line. */
static void
dr_log(struct droute *dr, int level, const char *fmt, ...)
{
	char *old = dlog_route(dr->key);
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
	dlog_route_end(old);
}

void
dr_init(struct master *m)
{
	dr_master = m;
	master_on_lost(m, dr_lost, NULL);
}

static struct droute *
dr_lookup(const char *key)
{
	struct droute *dr;

	TAILQ_FOREACH(dr, &dr_all, entry) {
		if (strcmp(dr->key, key) == 0)
			return dr;
	}
	return NULL;
}

/* Something to close, or a failure to show: an idle clock runs. */
static int
dr_live(const struct droute *dr)
{
	return dr->state != DR_DOWN || dr->error != NULL;
}

static void
dr_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct droute *dr = arg;

	(void)fd;
	(void)what;
	dr_log(dr, SPN_LOG_INFO, "idle for %d s, closed", dr->persist);
	dr_free(dr);	/* nobody holds it, nobody waits for it */
}

/*
 * Every change of its uses or state: a route that nothing holds (no
 * command, forward or call) is idle from now, and goes when it has been
 * idle for its persist time; a failed one leaves ls after as long.
 */
static void
dr_idle(struct droute *dr)
{
	struct timeval tv = { 0, 0 };

	evtimer_del(dr->idle_ev);
	if (dr->uses > 0)
		return;
	dr->t_idle = now_usec();
	if (dr->persist == PERSIST_NEVER || !dr_live(dr))
		return;
	tv.tv_sec = dr->persist;
	evtimer_add(dr->idle_ev, &tv);
}

static char *
dr_dup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* The request's route and options, kept to resolve it again. */
static void
dr_spec_copy(struct ctl_spec *to, const struct ctl_spec *s)
{
	size_t n = 0;

	memset(to, 0, sizeof *to);
	to->route = xstrdup(s->route);
	to->direct = s->direct;
	to->user = dr_dup(s->user);
	to->sshenv = dr_dup(s->sshenv);
	to->keepalive = s->keepalive;
	to->timeout = s->timeout;
	to->sshargs = xcalloc(1, sizeof *to->sshargs);
	for (char **a = s->sshargs; a != NULL && *a != NULL; a++)
		strv_push(&to->sshargs, &n, xstrdup(*a));
}

static void
dr_pw_forget(struct droute *dr)
{
	secret_drop(dr->pw);
	dr->pw = NULL;
	resolve_hop_passwords_free(dr->hop_pw);
	dr->hop_pw = NULL;
}

/* A password a request brings replaces all the route held: a command
 * line's is used for the connect it asks for (both kept copies). */
static void
dr_pw_set(struct droute *dr, char *pw, char **hop_pw)
{
	if (pw == NULL && hop_pw == NULL)
		return;
	dr_pw_forget(dr);
	dr->pw = pw;
	dr->hop_pw = hop_pw;
}

/* The passwords of a request for an existing route, one a hop as many
 * as the route has. */
static void
dr_pw_request(struct droute *dr, const struct ctl_spec *s)
{
	dr_pw_set(dr, s->password != NULL && *s->password != '\0' ?
	    secret_keep(s->password) : NULL,
	    resolve_hop_passwords(s, dr->conf.route.nhops));
}

/* A new route, as resolve.c has it from the request and the routes file. */
static struct droute *
dr_make(const char *key, const struct ctl_spec *s,
    const struct routes_file *rf, char *why, size_t whylen)
{
	struct droute *dr = xcalloc(1, sizeof *dr);

	if (resolve_route(s, rf, &dr->conf, why, whylen) != 0) {
		free(dr);
		return NULL;
	}
	dr_spec_copy(&dr->spec, s);
	/* What the daemon holds is the route's, not its conf's. */
	dr_pw_set(dr, dr->conf.mo.password, dr->conf.mo.hop_passwords);
	dr->conf.mo.password = NULL;
	dr->conf.mo.hop_passwords = NULL;
	dr->serial = ++dr_serial;
	dr->idle_ev = evtimer_new(master_base(dr_master), dr_expire_cb, dr);
	dr->key = xstrdup(key);
	dr->persist = dr->conf.persist;
	TAILQ_INIT(&dr->waits);
	TAILQ_INSERT_TAIL(&dr_all, dr, entry);
	return dr;
}

static void
dr_free(struct droute *dr)
{
	struct chain *c = dr->chain;

	dlis_close(dr);
	TAILQ_REMOVE(&dr_all, dr, entry);
	dr->chain = NULL;
	chain_free(c);
	event_free(dr->idle_ev);
	resolve_free(&dr->conf);
	ctl_spec_free(&dr->spec);
	dr_pw_forget(dr);
	free(dr->agent);
	free(dr->key);
	free(dr->error);
	free(dr->pids);
	free(dr);
}

/* The ssh agent of whoever used the route last: a daemon started from a
 * shell without one still reaches the user's agent. */
static void
dr_set_agent(struct droute *dr, const struct ctl_spec *s)
{
	if (dr == NULL || s->agent == NULL || *s->agent == '\0')
		return;
	free(dr->agent);
	dr->agent = xstrdup(s->agent);
}

/*
 * The routes file, parsed again only when it changed: every request that
 * names no known route looks in it (the shim's direct routes included).
 * NULL with why set when it is broken.
 */
static const struct routes_file *
dr_routes(char *why, size_t whylen)
{
	static struct routes_file rf;
	static struct stat cur;
	static char *cpath, *cerr;
	static int loaded;
	char *path = routes_file_path();
	struct stat st;

	if (path == NULL || stat(path, &st) != 0)
		memset(&st, 0, sizeof st);
	if (loaded && (path == NULL) == (cpath == NULL) &&
	    (path == NULL || strcmp(path, cpath) == 0) &&
	    st.st_ino == cur.st_ino && st.st_dev == cur.st_dev &&
	    st.st_size == cur.st_size &&
	    st.st_mtim.tv_sec == cur.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == cur.st_mtim.tv_nsec) {
		free(path);
	} else {
		routes_file_free(&rf);
		free(cpath);
		free(cerr);
		cerr = NULL;
		if (routes_file_load(path, &rf, why, whylen) != 0)
			cerr = xstrdup(why);
		cpath = path;
		cur = st;
		loaded = 1;
	}
	if (cerr != NULL) {
		snprintf(why, whylen, "%s", cerr);
		return NULL;
	}
	return &rf;
}

/*
 * The route a request names: one defined by `up`, else one of the routes
 * file, else the spec itself as an inline (or direct-ssh) route, made on
 * first use and kept for the next ones.  One the daemon made itself is
 * made again when it is down and unused: a route connects with the
 * options of the request that connects it, and the file as it is then.
 */
struct droute *
dr_resolve(const struct ctl_spec *s, char *why, size_t whylen)
{
	const struct routes_file *rf;
	struct droute *dr = dr_lookup(s->route);
	char *key;

	*why = '\0';
	if (dr == NULL || !dr->defined) {
		if ((rf = dr_routes(why, whylen)) == NULL)
			return NULL;
		if (routes_file_find(rf, s->route) == NULL &&
		    s->direct == CTL_SPEC_SSH)
			key = resolve_direct_name(s);
		else
			key = xstrdup(s->route);
		dr = dr_lookup(key);
		if (dr != NULL && !dr->defined && dr->state == DR_DOWN &&
		    dr->uses == 0) {
			dr_free(dr);
			dr = NULL;
		}
		if (dr == NULL)
			dr = dr_make(key, s, rf, why, whylen);
		else
			dr_pw_request(dr, s);
		free(key);
	} else
		dr_pw_request(dr, s);
	dr_set_agent(dr, s);
	return dr;
}

/* The exit status of a request dr_resolve or dr_define refused: 255 when
 * the routes file is broken (as spindle alone has it, and ssh of a bad
 * ssh_config), 2 for the route itself. */
int
dr_refused_code(void)
{
	char why[512];

	return dr_routes(why, sizeof why) == NULL ? 255 : 2;
}

/* spindle up NAME ROUTE: (re)define a named route; it stays until down
 * unless given a persist time. */
struct droute *
dr_define(const char *name, const struct ctl_spec *s, int persist,
    char *why, size_t whylen)
{
	struct droute *dr = dr_lookup(name);
	const struct routes_file *rf;

	if (dr != NULL && dr->state != DR_DOWN &&
	    strcmp(dr->spec.route, s->route) == 0) {
		dr->persist = persist;
		dr_pw_request(dr, s);
		return dr;
	}
	if (dr != NULL && dr->uses > 0) {
		snprintf(why, whylen, "route %s is in use by %d commands; "
		    "take it down first", name, dr->uses);
		return NULL;
	}
	if ((rf = dr_routes(why, whylen)) == NULL)
		return NULL;
	if (dr != NULL)
		dr_free(dr);
	if ((dr = dr_make(name, s, rf, why, whylen)) != NULL) {
		dr->defined = 1;
		dr->persist = persist;
	}
	dr_set_agent(dr, s);
	return dr;
}

static void
dr_wake(struct droute *dr, const char *err)
{
	struct dr_wait *w;

	while ((w = TAILQ_FIRST(&dr->waits)) != NULL) {
		TAILQ_REMOVE(&dr->waits, w, entry);
		w->fn(dr, err, w->arg);
		free(w);
	}
}

static void
dr_set_down(struct droute *dr, const char *why)
{
	dr->state = DR_DOWN;
	free(dr->error);
	dr->error = why != NULL ? xstrdup(why) : NULL;
	free(dr->pids);
	dr->pids = NULL;
	dr->npids = 0;
	dr_idle(dr);
}

static int
dr_info_reply(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct droute *dr;
	struct upk u;
	int hop;

	(void)rt;
	/* The route may be gone, or down and up again: find it anew. */
	TAILQ_FOREACH(dr, &dr_all, entry) {
		if (dr->serial == (uint32_t)(uintptr_t)arg)
			break;
	}
	if (dr == NULL || dr->chain == NULL ||
	    (hop = chain_find(dr->chain, m->h.src)) < 0)
		return 0;
	if (m->h.kind == SPN_K_REPLY && hop < dr->npids) {
		upk_init(&u, m->data, m->h.len);
		dr->pids[hop] = upk_u32(&u);
		/* The last hop's answer is a first round-trip time. */
		if (hop == dr->npids - 1 && dr->rtt == 0)
			dr->rtt = now_usec() - dr->t_up;
	}
	return 0;
}

/* Each hop's pid, for ls. */
static void
dr_ask_pids(struct droute *dr)
{
	size_t n = chain_hops(dr->chain);

	dr->npids = n;
	dr->pids = xcalloc(n, sizeof *dr->pids);
	for (size_t i = 0; i < n; i++)
		call_start(master_rt(dr_master), chain_ctx(dr->chain, i),
		    SPN_H_INFO, NULL, dr_info_reply,
		    (void *)(uintptr_t)dr->serial);
}

static void
dr_close_cb(evutil_socket_t fd, short what, void *arg)
{
	struct chain *c = arg;

	(void)fd;
	(void)what;
	chain_free(c);
}

/* Free a chain from the loop, not from inside its own callbacks or the
 * router's. */
static void
dr_dispose(struct chain *c)
{
	struct timeval tv = { 0, 0 };

	event_base_once(master_base(dr_master), -1, EV_TIMEOUT, dr_close_cb,
	    c, &tv);
}

/* A hop failed with a password the route held: forget it, lest the
 * next use try it again. */
static void
dr_pw_failed(struct droute *dr, struct chain *c)
{
	size_t hop;
	int from = chain_failed_pw(c, &hop);

	if (from == CHAIN_PW_ROUTE) {
		secret_drop(dr->pw);
		dr->pw = NULL;
	} else if (from == CHAIN_PW_HOP && dr->hop_pw != NULL &&
	    hop < dr->conf.route.nhops) {
		secret_drop(dr->hop_pw[hop]);
		dr->hop_pw[hop] = secret_keep("");
	} else
		return;
	dr_log(dr, SPN_LOG_INFO, "hop %zu failed: the password it was given "
	    "is forgotten", hop + 1);
}

static void
dr_chain_up(struct chain *c, const char *err, void *arg)
{
	struct droute *dr = arg;

	if (err != NULL) {
		dr_pw_failed(dr, c);
		dr_log(dr, SPN_LOG_WARN, "%s", err);
		dr_set_down(dr, err);
		dr_dispose(dr->chain);
		dr->chain = NULL;
	} else {
		dr_log(dr, SPN_LOG_INFO, "up");
		free(dr_forwards(dr));
		dr->state = DR_UP;
		dr->t_up = now_usec();
		dr->rtt = 0;
		free(dr->error);
		dr->error = NULL;
		dr_ask_pids(dr);
		dr_idle(dr);
	}
	dr_wake(dr, err);
}

/*
 * The routes file's forwards of the route listen (those that do not
 * yet): from the first time it is up until it goes (down, closed idle,
 * dropped); a loss keeps them, and their next connection brings the
 * route up again.  Returns what failed, or NULL.
 */
char *
dr_forwards(struct droute *dr)
{
	const struct routes_file *rf;
	const struct routes_entry *e = NULL;
	char why[512];

	if (dr->conf.from_file && (rf = dr_routes(why, sizeof why)) != NULL)
		e = routes_file_find(rf, dr->spec.route);
	if (e == NULL)
		return dlis_open(dr, NULL, 0);
	return dlis_open(dr, e->forwards, e->nforwards);
}

static void
dr_keep_ids(struct droute *dr)
{
	size_t i = dr_ids_next++ % DR_CHAINS_KEPT;

	free(dr_ids[i].key);
	dr_ids[i].lo = chain_ctx(dr->chain, 0);
	dr_ids[i].hi = chain_last(dr->chain);
	dr_ids[i].key = xstrdup(dr->key);
}

/* The route as the routes file has it now: 0, or -1 with why set. */
static int
dr_reconf(struct droute *dr, char *why, size_t whylen)
{
	const struct routes_file *rf;
	struct route_conf rc;

	if ((rf = dr_routes(why, whylen)) == NULL ||
	    resolve_route(&dr->spec, rf, &rc, why, whylen) != 0)
		return -1;
	/* Held passwords were given for the route as it was: edited, its
	 * prompting hops may be other users on other hosts. */
	if (strcmp(rc.text, dr->conf.text) != 0 &&
	    (dr->pw != NULL || dr->hop_pw != NULL)) {
		dr_pw_forget(dr);
		dr_log(dr, SPN_LOG_INFO, "route changed to %s: the passwords "
		    "it held are forgotten", rc.text);
	}
	resolve_free(&dr->conf);
	dr->conf = rc;
	if (!dr->defined)
		dr->persist = rc.persist;
	return 0;
}

/* The first hop is spawned with our environment, but the ssh agent of
 * the route's last user. */
static void
dr_connect(struct droute *dr)
{
	struct master_opts mo;
	char why[512], *old;

	if (dr_reconf(dr, why, sizeof why) != 0) {
		dr_log(dr, SPN_LOG_WARN, "%s", why);
		dr_set_down(dr, why);
		dr_wake(dr, why);
		return;
	}
	old = dlog_route(dr->key);
	dr_log(dr, SPN_LOG_INFO, "connecting: %s", dr->conf.text);
	mo = dr->conf.mo;
	dr->state = DR_CONNECTING;
	mo.agent = dr->agent;
	mo.password = dr->pw;
	mo.hop_passwords = dr->hop_pw;
	dr->chain = chain_new(dr_master, &dr->conf.route, &mo);
	dr_keep_ids(dr);
	chain_connect(dr->chain, dr_chain_up, dr);
	dlog_route_end(old);
}

/*
 * Call fn once the route is up (at once if it is), or with the error.
 * Returns a handle to stop waiting, or NULL if fn was called already.
 */
struct dr_wait *
dr_use(struct droute *dr, dr_ready_fn *fn, void *arg)
{
	struct dr_wait *w;

	dr->forget = 0;		/* wanted again after all */
	if (dr->state == DR_UP) {
		fn(dr, NULL, arg);
		return NULL;
	}
	w = xcalloc(1, sizeof *w);
	w->dr = dr;
	w->fn = fn;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&dr->waits, w, entry);
	if (dr->state == DR_DOWN)
		dr_connect(dr);
	/* A failure before anything ran has called fn already. */
	if (dr->state == DR_DOWN)
		return NULL;
	return w;
}

void
dr_unwait(struct dr_wait *w)
{
	if (w == NULL)
		return;
	TAILQ_REMOVE(&w->dr->waits, w, entry);
	free(w);
}

uint32_t
dr_ctx(struct droute *dr)
{
	return chain_last(dr->chain);
}

struct chain *
dr_chain(struct droute *dr)
{
	return dr->chain;
}

const char *
dr_key(struct droute *dr)
{
	return dr->key;
}

/* The route a context is of, or NULL. */
const char *
dr_key_of(uint32_t ctx)
{
	struct droute *dr;

	if (ctx == 0)
		return NULL;
	TAILQ_FOREACH(dr, &dr_all, entry) {
		if (dr->chain != NULL && chain_find(dr->chain, ctx) >= 0)
			return dr->key;
	}
	for (size_t i = 0; i < DR_CHAINS_KEPT; i++) {
		if (dr_ids[i].key != NULL && ctx >= dr_ids[i].lo &&
		    ctx <= dr_ids[i].hi)
			return dr_ids[i].key;
	}
	return NULL;
}

void
dr_hold(struct droute *dr, int delta)
{
	dr->uses += delta;
	if (dr->uses == 0 && dr->forget)
		dr_free(dr);
	else
		dr_idle(dr);
}

/*
 * A context of a route is gone: the route is down, and its chain is
 * closed once the router is done telling everyone (not from inside it).
 */
static void
dr_lost(uint32_t ctx, const char *why, void *arg)
{
	struct droute *dr;

	(void)arg;
	TAILQ_FOREACH(dr, &dr_all, entry) {
		if (dr->state != DR_UP || chain_find(dr->chain, ctx) < 0)
			continue;
		dr_log(dr, SPN_LOG_WARN, "%s", why);
		dr_set_down(dr, why);
		dr_dispose(dr->chain);
		dr->chain = NULL;
	}
}

/* spindle down: close it and forget all of it, passwords included (a
 * route of the routes file is listed again, down). */
int
dr_down(const char *key, char *why, size_t whylen)
{
	struct droute *dr = dr_lookup(key);
	struct chain *c;

	char ferr[256];

	if (dr == NULL) {
		/* A broken file may be why the name means nothing. */
		if (dr_routes(ferr, sizeof ferr) == NULL)
			snprintf(why, whylen, "no route %s (%s)", key, ferr);
		else
			snprintf(why, whylen, "no route %s", key);
		return -1;
	}
	dr_log(dr, SPN_LOG_INFO, "taken down");
	dlis_close(dr);
	c = dr->chain;
	dr->chain = NULL;
	if (dr->state == DR_CONNECTING)
		dr_wake(dr, "route taken down");
	dr_set_down(dr, NULL);
	chain_free(c);
	dr_pw_forget(dr);
	if (dr->uses == 0)
		dr_free(dr);
	else
		dr->forget = 1;	/* when its last command is done */
	return 0;
}

void
dr_shutdown(void)
{
	struct droute *dr;

	while ((dr = TAILQ_FIRST(&dr_all)) != NULL) {
		dr_wake(dr, "the spindle daemon is stopping");
		dr_free(dr);
	}
}

size_t
dr_count(int up_only)
{
	struct droute *dr;
	size_t n = 0;

	TAILQ_FOREACH(dr, &dr_all, entry) {
		if (!up_only || dr->state == DR_UP)
			n++;
	}
	return n;
}

void
dr_set_rtt(struct droute *dr, uint64_t usec)
{
	dr->rtt = usec;
}

void
dr_json_str(struct evbuffer *b, const char *s)
{
	evbuffer_add(b, "\"", 1);
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			evbuffer_add_printf(b, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			evbuffer_add_printf(b, "\\u%04x", *s);
		else
			evbuffer_add(b, s, 1);
	}
	evbuffer_add(b, "\"", 1);
}

static uint64_t
dr_bytes(struct droute *dr)
{
	struct link *l;

	if (dr->chain == NULL ||
	    (l = rt_route_lookup(master_rt(dr_master),
	    chain_ctx(dr->chain, 0))) == NULL)
		return 0;
	return link_bytes_in(l) + link_bytes_out(l);
}

/* Seconds up, idle and until it closes; -1: not so (busy, never). */
static int64_t
dr_uptime(struct droute *dr)
{
	return dr->state == DR_UP ? (int64_t)(now_usec() - dr->t_up) / 1000000 :
	    -1;
}

static int64_t
dr_idle_secs(struct droute *dr)
{
	return dr->uses == 0 && dr_live(dr) ?
	    (int64_t)(now_usec() - dr->t_idle) / 1000000 : -1;
}

static int64_t
dr_closes_in(struct droute *dr)
{
	int64_t idle = dr_idle_secs(dr);

	if (idle < 0 || dr->persist == PERSIST_NEVER)
		return -1;
	return idle < dr->persist ? dr->persist - idle : 0;
}

static void
dr_json_secs(struct evbuffer *b, const char *key, int64_t secs)
{
	if (secs >= 0)
		evbuffer_add_printf(b, ",\"%s\":%lld", key, (long long)secs);
	else
		evbuffer_add_printf(b, ",\"%s\":null", key);
}

static void
dr_hms(char *buf, size_t len, int64_t s)
{
	if (s < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lld:%02lld:%02lld", (long long)s / 3600,
		    (long long)s / 60 % 60, (long long)s % 60);
}

static void
dr_json_one(struct evbuffer *b, struct droute *dr)
{
	evbuffer_add_printf(b, "{\"name\":");
	dr_json_str(b, dr->key);
	evbuffer_add_printf(b, ",\"route\":");
	dr_json_str(b, dr->conf.text);
	evbuffer_add_printf(b, ",\"state\":\"%s\",\"named\":%s,"
	    "\"pids\":[", dr_state_names[dr->state],
	    dr->defined || dr->conf.from_file ? "true" : "false");
	for (int i = 0; i < dr->npids; i++)
		evbuffer_add_printf(b, "%s%u", i ? "," : "", dr->pids[i]);
	evbuffer_add_printf(b, "],\"uptime\":%lld,\"bytes\":%llu",
	    (long long)(dr_uptime(dr) < 0 ? 0 : dr_uptime(dr)),
	    (unsigned long long)dr_bytes(dr));
	dr_json_secs(b, "idle", dr_idle_secs(dr));
	dr_json_secs(b, "persist", dr->persist);
	dr_json_secs(b, "closes_in", dr_closes_in(dr));
	evbuffer_add_printf(b, ",\"rtt_ms\":");
	if (dr->rtt != 0)
		evbuffer_add_printf(b, "%.3f", dr->rtt / 1000.0);
	else
		evbuffer_add_printf(b, "null");
	evbuffer_add_printf(b, ",\"commands\":%d,\"error\":", dr->uses);
	if (dr->error != NULL)
		dr_json_str(b, dr->error);
	else
		evbuffer_add_printf(b, "null");
	evbuffer_add_printf(b, ",\"forwards\":[");
	dlis_list(dr, b, 1);
	evbuffer_add_printf(b, "]}");
}

static void
dr_text_one(struct evbuffer *b, struct droute *dr, int w)
{
	char pids[128] = "-", up[32], idle[32], closes[32], rtt[32] = "-";
	size_t off = 0;

	for (int i = 0; i < dr->npids && off < sizeof pids - 12; i++)
		off += snprintf(pids + off, sizeof pids - off, "%s%u",
		    i ? "," : "", dr->pids[i]);
	dr_hms(up, sizeof up, dr_uptime(dr));
	dr_hms(idle, sizeof idle, dr_idle_secs(dr));
	if (dr->persist == PERSIST_NEVER)
		snprintf(closes, sizeof closes, "never");
	else
		dr_hms(closes, sizeof closes, dr_closes_in(dr));
	if (dr->rtt != 0)
		snprintf(rtt, sizeof rtt, "%.2fms", dr->rtt / 1000.0);
	evbuffer_add_printf(b, "%-*s %-10s %9s %9s %9s %9s %10llu %3d %-18s "
	    "%s\n", w, dr->key, dr_state_names[dr->state], up, idle, closes,
	    rtt, (unsigned long long)dr_bytes(dr), dr->uses, pids, dr->conf.text);
	if (dr->state == DR_DOWN && dr->error != NULL)
		evbuffer_add_printf(b, "  last error: %s\n", dr->error);
	dlis_list(dr, b, 0);
}

/* Routes of the file not used yet show as down.  -1: it is broken. */
static int
dr_add_file_routes(char *why, size_t whylen)
{
	const struct routes_file *rf;
	struct ctl_spec s;

	if ((rf = dr_routes(why, whylen)) == NULL)
		return -1;
	for (size_t i = 0; i < rf->n; i++) {
		if (dr_lookup(rf->v[i].name) != NULL)
			continue;
		/* Made again by its first use (see dr_resolve). */
		ctl_spec_init(&s, rf->v[i].name, NULL);
		s.sshenv = NULL;
		dr_make(rf->v[i].name, &s, rf, why, whylen);
	}
	return 0;
}

/* The table of `spindle ls`, or NULL (why set) if the routes file is
 * broken: an empty table would say there are no routes. */
char *
dr_list(int json, char *why, size_t whylen)
{
	struct evbuffer *b;
	struct droute *dr;
	char *out;
	int n = 0, w = 16;

	if (dr_add_file_routes(why, whylen) != 0)
		return NULL;
	b = evbuffer_new();
	/* Names as wide as the widest (a direct route's is long). */
	TAILQ_FOREACH(dr, &dr_all, entry) {
		if ((int)strlen(dr->key) > w)
			w = strlen(dr->key);
	}
	if (json)
		evbuffer_add_printf(b, "[");
	else
		evbuffer_add_printf(b, "%-*s %-10s %9s %9s %9s %9s %10s %3s "
		    "%-18s %s\n", w, "NAME", "STATE", "UPTIME", "IDLE",
		    "CLOSE-IN", "RTT", "BYTES", "CMD", "PIDS", "ROUTE");
	TAILQ_FOREACH(dr, &dr_all, entry) {
		if (json) {
			if (n++ > 0)
				evbuffer_add_printf(b, ",");
			dr_json_one(b, dr);
		} else
			dr_text_one(b, dr, w);
	}
	if (json)
		evbuffer_add_printf(b, "]\n");
	out = evbuf_take(b);
	evbuffer_free(b);
	return out;
}
