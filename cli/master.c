/*
 * The master context: context 1, the root of the tree.  It brings a route
 * up one hop at a time, each new hop started by the one before it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

struct master {
	struct event_base	*base;
	struct rt		*rt;
	struct master_opts	 opts;
	const struct route	*route;
	size_t			 next;
	uint32_t		*ids;
	char			**labels;
	pid_t			 first_pid;
	uint64_t		 t_hop;
	master_up_fn		*up;
	void			*arg;
	struct event		*sigev[3];
	void			(*sigfn)(int, void *);
	int			 nsignals;
	void			*sigarg;
};

static void	master_next_hop(struct master *);

static void
master_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct master *m = arg;

	(void)what;
	/* The first signal goes to the command; a second one, or one before
	 * anything runs, stops spindle itself. */
	if (m->sigfn != NULL && m->nsignals++ == 0) {
		m->sigfn(sig, m->sigarg);
		return;
	}
	log_warn("stopped by signal %d", (int)sig);
	master_teardown(m);
	exit(128 + sig);	/* atexit restores a raw terminal (run -t) */
}

struct master *
master_new(const struct master_opts *opts)
{
	static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };
	struct master *m = xcalloc(1, sizeof *m);

	signal(SIGPIPE, SIG_IGN);
	m->opts = *opts;
	if ((m->base = event_base_new()) == NULL)
		fatal("cannot create an event loop");
	proc_init(m->base);
	m->rt = rt_new(m->base, SPN_CTX_MASTER, "master");
	rt_handle_add(m->rt, SPN_H_LOG, RT_ALLOW_DESCENDANTS, 0, rt_log_print,
	    NULL);
	svc_basic_init(m->rt);
	for (int i = 0; i < 3; i++) {
		m->sigev[i] = evsignal_new(m->base, sigs[i], master_signal_cb,
		    m);
		event_add(m->sigev[i], NULL);
	}
	return m;
}

struct rt *
master_rt(struct master *m)
{
	return m->rt;
}

struct event_base *
master_base(struct master *m)
{
	return m->base;
}

uint32_t
master_ctx(struct master *m, size_t hop)
{
	return m->ids[hop];
}

const char *
master_label(struct master *m, size_t hop)
{
	return m->labels[hop];
}

void
master_on_signal(struct master *m, void (*fn)(int, void *), void *arg)
{
	m->sigfn = fn;
	m->sigarg = arg;
}

void
master_timing(struct master *m, const char *what, uint64_t usec)
{
	if (m->opts.timings)
		fprintf(stderr, "spindle: %-40s %8.2f ms\n", what,
		    usec / 1000.0);
}

static void
master_failed(struct master *m, const char *err)
{
	master_up_fn *up = m->up;

	m->up = NULL;
	if (up != NULL)
		up(m, err, m->arg);
}

static void
master_hop_up(struct master *m)
{
	char *what = xprintf("%s up", m->labels[m->next]);

	master_timing(m, what, now_usec() - m->t_hop);
	free(what);
	m->next++;
	master_next_hop(m);
}

static void
master_first_done(struct child *c, const char *err, void *arg)
{
	struct master *m = arg;
	char *text;

	if (err != NULL) {
		text = xprintf("%s: %s", m->labels[0], err);
		master_failed(m, text);
		free(text);
		return;
	}
	m->first_pid = child_proc(c);
	master_hop_up(m);
}

static int
master_connect_reply(struct rt *rt, const struct rt_msg *msg, void *arg)
{
	struct master *m = arg;
	struct upk u;
	char *text, *err;

	(void)rt;
	if (msg->h.kind == SPN_K_DEAD) {
		/* A failed hop is named by us; a lost one names itself. */
		upk_init(&u, msg->data, msg->h.len);
		text = call_dead_text(msg);
		if (upk_u32(&u) == SPN_D_FAILED)
			err = xprintf("%s: %s", m->labels[m->next], text);
		else
			err = xstrdup(text);
		master_failed(m, err);
		free(err);
		free(text);
		return 0;
	}
	master_hop_up(m);
	return 0;
}

static void
master_req(struct master *m, struct boot_req *req)
{
	const struct hop *h = &m->route->hops[m->next];

	memset(req, 0, sizeof *req);
	req->id = m->ids[m->next];
	req->name = h->name;
	req->method = h->method;
	req->args = h->args;
	req->keepalive = m->opts.keepalive;
	req->timeout = m->opts.timeout;
	req->level = log_get_level();
	req->password = m->opts.password;
}

/* What crossed the first link to bring the whole route up: each hop
 * sends its own image onward, so about one image, however long the route. */
static void
master_link_bytes(struct master *m)
{
	struct link *l = rt_route_lookup(m->rt, m->ids[0]);

	if (m->opts.timings && l != NULL)
		fprintf(stderr, "spindle: first link carried %llu bytes out, "
		    "%llu in, to bring up %zu hops\n",
		    (unsigned long long)link_bytes_out(l),
		    (unsigned long long)link_bytes_in(l), m->route->nhops);
}

static void
master_next_hop(struct master *m)
{
	struct boot_req req;
	struct pk pk;
	char why[512], *text;

	if (m->next == m->route->nhops) {
		master_link_bytes(m);
		if (m->up != NULL)
			m->up(m, NULL, m->arg);
		return;
	}
	m->t_hop = now_usec();
	master_req(m, &req);
	if (m->next == 0) {
		if (boot_connect(m->rt, &req, master_first_done, m, why,
		    sizeof why) == NULL) {
			text = xprintf("%s: %s", m->labels[0], why);
			master_failed(m, text);
			free(text);
		}
		return;
	}
	pk_init(&pk);
	boot_req_pack(&pk, &req);
	call_start(m->rt, m->ids[m->next - 1], SPN_H_CONNECT, &pk,
	    master_connect_reply, m);
	pk_free(&pk);
}

/* Bring the route up; `up` is called once, with NULL or the error. */
void
master_connect(struct master *m, const struct route *r, master_up_fn *up,
    void *arg)
{
	m->route = r;
	m->up = up;
	m->arg = arg;
	m->next = 0;
	m->ids = xcalloc(r->nhops, sizeof *m->ids);
	m->labels = xcalloc(r->nhops + 1, sizeof *m->labels);
	for (size_t i = 0; i < r->nhops; i++) {
		m->ids[i] = SPN_CTX_MASTER + 1 + i;
		m->labels[i] = xprintf("hop %zu (%s)", i + 1, r->hops[i].name);
	}
	master_next_hop(m);
}

/*
 * Close the first hop and wait for it: each agent waits for its own
 * children before exiting, so when it is gone the whole tree is.
 */
void
master_teardown(struct master *m)
{
	struct link *l;

	if (m->ids != NULL && m->route->nhops > 0 &&
	    (l = rt_route_lookup(m->rt, m->ids[0])) != NULL)
		link_close(l, "finished");
	proc_wait_all(3000);
}
