/*
 * ping and info on a route that is up: what spindle alone prints once it
 * has connected the route, and what the daemon answers for one it holds.
 * The text is the same either way.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct probe {
	struct rt	*rt;
	struct probe_req req;
	size_t		 nhops;
	uint32_t	*ids;	/* the chain's, copied: it may go first */
	char		**labels;
	size_t		 hop;	/* info: the hop asked */
	long		 done;	/* ping: replies in */
	uint32_t	*rtts;	/* usec */
	uint64_t	 t0;
	uint32_t	 call;
	struct evbuffer	*out;
	probe_done_fn	*fn;
	void		*arg;
};

static void
probe_free(struct probe *p)
{
	if (p->call != 0)
		call_cancel(p->rt, p->call);
	strv_free(p->labels);
	free(p->ids);
	free(p->rtts);
	evbuffer_free(p->out);
	free(p);
}

/* The end: fn gets the text or the error, then p is gone. */
static void
probe_finish(struct probe *p, const char *err)
{
	char *text = err == NULL ? evbuf_take(p->out) : NULL;

	p->fn(text, err, p->arg);
	free(text);
	probe_free(p);
}

/* A failed call ends the probe. */
static int
probe_dead(struct probe *p, const struct rt_msg *msg)
{
	char *text;

	if (msg->h.kind != SPN_K_DEAD)
		return 0;
	text = call_dead_text(msg);
	probe_finish(p, text);
	free(text);
	return 1;
}

static int
u32cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void	probe_ping(struct probe *);

static int
probe_ping_reply(struct rt *rt, const struct rt_msg *msg, void *arg)
{
	struct probe *p = arg;
	uint64_t usec = now_usec() - p->t0;
	long n = p->req.count;

	(void)rt;
	p->call = 0;
	if (probe_dead(p, msg))
		return 0;
	p->rtts[p->done++] = usec > UINT32_MAX ? UINT32_MAX : usec;
	if (p->done < n) {
		probe_ping(p);
		return 0;
	}
	qsort(p->rtts, n, sizeof *p->rtts, u32cmp);
	evbuffer_add_printf(p->out, "%s: %ld pings of %zu bytes: min %.1f us, "
	    "median %.1f us, max %.1f us\n", p->labels[p->nhops - 1], n,
	    p->req.size, p->rtts[0] / 1.0, p->rtts[n / 2] / 1.0,
	    p->rtts[n - 1] / 1.0);
	probe_finish(p, NULL);
	return 0;
}

static void
probe_ping(struct probe *p)
{
	struct pk pk;

	pk_init(&pk);
	if (p->req.size > 0) {
		pk.buf = xcalloc(1, p->req.size);
		pk.len = pk.cap = p->req.size;
	}
	p->t0 = now_usec();
	p->call = call_start(p->rt, p->ids[p->nhops - 1], SPN_H_PING, &pk,
	    probe_ping_reply, p);
	pk_free(&pk);
}

static void	probe_info(struct probe *);

static int
probe_info_reply(struct rt *rt, const struct rt_msg *msg, void *arg)
{
	struct probe *p = arg;
	struct upk u;
	uint32_t pid, uid, ppid;
	char *user, *host, *arch, *kernel, *name;

	(void)rt;
	p->call = 0;
	if (probe_dead(p, msg))
		return 0;
	upk_init(&u, msg->data, msg->h.len);
	pid = upk_u32(&u);
	uid = upk_u32(&u);
	user = upk_str(&u);
	host = upk_str(&u);
	arch = upk_str(&u);
	kernel = upk_str(&u);
	name = upk_str(&u);
	ppid = upk_u32(&u);
	if (!u.err)
		evbuffer_add_printf(p->out, "%s: pid %u ppid %u uid %u user %s "
		    "host %s arch %s kernel %s\n", p->labels[p->hop], pid,
		    ppid, uid, user, host, arch, kernel);
	free(user);
	free(host);
	free(arch);
	free(kernel);
	free(name);
	if (++p->hop < p->nhops)
		probe_info(p);
	else
		probe_finish(p, NULL);
	return 0;
}

static void
probe_info(struct probe *p)
{
	p->call = call_start(p->rt, p->ids[p->hop], SPN_H_INFO, NULL,
	    probe_info_reply, p);
}

/* Ask the chain, which is up; fn is called once, from the loop. */
struct probe *
probe_start(struct rt *rt, struct chain *c, const struct probe_req *req,
    probe_done_fn *fn, void *arg)
{
	struct probe *p = xcalloc(1, sizeof *p);

	p->rt = rt;
	p->req = *req;
	p->nhops = chain_hops(c);
	p->ids = xcalloc(p->nhops, sizeof *p->ids);
	p->labels = xcalloc(p->nhops + 1, sizeof *p->labels);
	for (size_t i = 0; i < p->nhops; i++) {
		p->ids[i] = chain_ctx(c, i);
		p->labels[i] = xstrdup(chain_label(c, i));
	}
	p->out = evbuffer_new();
	p->fn = fn;
	p->arg = arg;
	if (req->info) {
		probe_info(p);
		return p;
	}
	p->rtts = xcalloc(req->count, sizeof *p->rtts);
	probe_ping(p);
	return p;
}

/* fn is not called. */
void
probe_cancel(struct probe *p)
{
	if (p != NULL)
		probe_free(p);
}
