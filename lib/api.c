/*
 * libspindle's lifecycle: spn_init() and spn_shutdown(), the loop thread,
 * and the rules every blocking call follows (shutdown wakes it, the loop
 * thread may not block).
 *
 * In the master, the router, its chains and the broker run on one private
 * thread with every asynchronous signal blocked: the program keeps its
 * own handlers and signals go to its own threads.  The program's threads
 * never touch router state; they queue jobs through the broker and wait
 * on condition variables (CLOCK_MONOTONIC) for the loop's answer.
 */
#include <sys/auxv.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/thread.h>

#include "api.h"

/* One per process: a static, so that a call racing with spn_shutdown()
 * (or made after it) still finds the state that says so. */
struct spn		 api_spn;
pthread_mutex_t		 api_lock = PTHREAD_MUTEX_INITIALIZER;

#define API_BROKER_RING	1024
#define API_TREE_WAIT_MS 5000	/* for every context below to go */

void
api_list_init(struct api_node *head)
{
	head->next = head->prev = head;
}

void
api_list_add(struct api_node *head, struct api_node *n)
{
	n->next = head;
	n->prev = head->prev;
	head->prev->next = n;
	head->prev = n;
}

void
api_list_del(struct api_node *n)
{
	if (n->next == NULL)
		return;
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = NULL;
}

void
api_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
}

/* An absolute deadline in usec of CLOCK_MONOTONIC (now_usec()'s clock);
 * 0 for none (-1 ms). */
uint64_t
api_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return 0;
	return now_usec() + (uint64_t)timeout_ms * 1000 + 1;
}

int
api_wait(pthread_cond_t *cond, uint64_t deadline)
{
	struct api_wait w = { .cond = cond };
	struct timespec ts;
	int rv = 0;

	if (api_spn.state != API_UP)
		return 0;
	api_list_add(&api_spn.waits, &w.node);
	if (deadline == 0)
		pthread_cond_wait(cond, &api_lock);
	else {
		ts.tv_sec = deadline / 1000000;
		ts.tv_nsec = (deadline % 1000000) * 1000;
		rv = pthread_cond_timedwait(cond, &api_lock, &ts);
	}
	api_list_del(&w.node);
	return rv == ETIMEDOUT ? ETIMEDOUT : 0;
}

/* The loop thread may not wait for itself. */
int
api_on_loop(void)
{
	return export_on_loop() || (__atomic_load_n(&api_spn.loop_started,
	    __ATOMIC_ACQUIRE) &&
	    pthread_equal(pthread_self(), api_spn.loop));
}

/*
 * Every public call that touches a context or a receiver starts here:
 * SPN_ESHUTDOWN once spn_shutdown() began, SPN_EDEADLK on the loop
 * thread.  Blocking functions pass err; the others may pass NULL.
 */
int
api_enter(struct spn_error *err)
{
	int rv;

	pthread_mutex_lock(&api_lock);
	if (api_spn.state == API_NONE)
		api_agent_bind(&api_spn);
	if (api_spn.state != API_UP) {
		rv = api_spn.state == API_NONE ? SPN_EINVAL : SPN_ESHUTDOWN;
		pthread_mutex_unlock(&api_lock);
		error_set(err, rv, NULL, "%s", rv == SPN_EINVAL ?
		    "spn_init() was not called" : "spn_shutdown() was called");
		return rv;
	}
	api_spn.active++;
	pthread_mutex_unlock(&api_lock);
	return SPN_OK;
}

/* api_enter for a function that waits: SPN_EINVAL without its object
 * (ok 0), SPN_EDEADLK on the loop thread. */
int
api_enter_wait(int ok, const char *fn, struct spn_error *err)
{
	int rv;

	if ((rv = api_enter(err)) != SPN_OK)
		return rv;
	if (ok && !api_on_loop())
		return SPN_OK;
	rv = !ok ? SPN_EINVAL : SPN_EDEADLK;
	if (!ok)
		error_set(err, rv, NULL, "%s: no object", fn);
	else
		error_set(err, rv, NULL, "%s" API_LOOP_TEXT, fn);
	api_leave();
	return rv;
}

void
api_leave(void)
{
	pthread_mutex_lock(&api_lock);
	if (--api_spn.active == 0 && api_spn.state == API_DOWN)
		pthread_cond_broadcast(&api_spn.idle);
	pthread_mutex_unlock(&api_lock);
}

/*
 * In agent mode the loop, router and broker are agent_run()'s (the loop
 * on the main thread); a function calling out (its parent, with
 * SPN_ALLOW_ANY there) goes through them.  Bound on first use, by a
 * worker: BOOT came before any call, and nothing writes what is read
 * here after it.  Under api_lock.
 */
void
api_agent_bind(struct spn *spn)
{
	struct rt *rt = agent_router();
	struct link *parent;

	if (rt == NULL || agent_broker() == NULL ||
	    (parent = rt_parent(rt)) == NULL)
		return;
	api_list_init(&spn->ctxs);
	api_list_init(&spn->recvs);
	api_list_init(&spn->selects);
	api_list_init(&spn->conns);
	api_list_init(&spn->waits);
	api_cond_init(&spn->idle);
	spn->agent = 1;
	spn->is_static = 1;
	spn->rt = rt;
	spn->base = rt_base(rt);
	spn->broker = agent_broker();
	spn->max_frame = rt_max_frame(rt);
	spn->parent = xcalloc(1, sizeof *spn->parent);
	spn->parent->spn = spn;
	spn->parent->refs = 1;
	spn->parent->id = link_peer(parent);
	spn->parent->name = xstrdup("parent");
	api_list_add(&spn->ctxs, &spn->parent->node);
	spn->state = API_UP;
}

/* -1 once the loop is gone. */
int
api_submit(broker_fn *fn, void *arg)
{
	return broker_submit(api_spn.broker, fn, arg);
}

/*
 * Static images have no program interpreter: the kernel maps no ld.so,
 * so AT_BASE is 0.  Only such a program can be sent to run as its own
 * agent.
 */
static int
api_is_static(void)
{
	return getauxval(AT_BASE) == 0;
}

/*
 * opts->image: a static build of this program goes to the contexts in
 * place of our own image, which lets a dynamic build (a sanitizer's)
 * call its exports there.  Checked and compressed once, here, so that a
 * wrong path fails now rather than at the first connect.
 */
static int
api_set_image(const struct spn_opts *opts)
{
	char why[512];

	if (opts == NULL || opts->image == NULL)
		return SPN_OK;
	if (boot_image_set(opts->image, why, sizeof why) == 0)
		return SPN_OK;
	log_error("spn_init: %s", why);
	return errno == EINVAL ? SPN_EINVAL : SPN_ESYS;
}

/*
 * A write to a dead child's pipe raises SIGPIPE at the writing thread;
 * blocked here it stays pending (the write returns EPIPE, which the link
 * handles).  Take it, so that it is never delivered later.
 */
static void
api_drain_sigpipe(void)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pipe;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	while (sigtimedwait(&pipe, NULL, &zero) == SIGPIPE)
		;
}

/* SIGPIPEs do not queue: one drain now and then takes them all, a
 * system call less on each pass of a busy loop. */
static void *
api_loop(void *arg)
{
	struct spn *spn = arg;
	uint64_t now, drained = 0;

	while (!spn->loop_stop) {
		event_base_loop(spn->base, EVLOOP_ONCE |
		    EVLOOP_NO_EXIT_ON_EMPTY);
		if ((now = now_usec()) - drained >= 100000) {
			api_drain_sigpipe();
			drained = now;
		}
	}
	api_drain_sigpipe();
	return NULL;
}

static void
api_atexit(void)
{
	/* From the loop thread (a log handler's exit()), we cannot join
	 * it: the link's EOF ends the tree as the process goes. */
	if (!api_on_loop())
		spn_shutdown(&api_spn);
}

/*
 * musl's allocator hands a size class's group back to the kernel as soon
 * as its last block is freed.  A call allocates and frees a handful of
 * small blocks on several threads, with none of their classes alive in
 * between, so each call paid mmap, munmap and the TLB shootdown munmap
 * costs in a process with threads.  One block kept in each small class
 * keeps its group.
 */
static void
api_malloc_keep(void)
{
#ifndef __GLIBC__
	static void *keep[64];

	for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
		if (keep[i] == NULL)
			keep[i] = malloc((i + 1) * 16);
	}
#endif
}

static int
api_start_loop(struct spn *spn)
{
	sigset_t all, old;
	int e;

	/* The thread inherits the mask: every signal that can be blocked
	 * is, so none is delivered to the loop (the program's handlers run
	 * on its own threads).  Children it spawns reset it. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&spn->loop, NULL, api_loop, spn);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0)
		return e;
	__atomic_store_n(&spn->loop_started, 1, __ATOMIC_RELEASE);
	return 0;
}

static void
api_free_state(struct spn *spn)
{
	if (spn->broker != NULL)
		broker_free(spn->broker);
	if (spn->master != NULL)
		master_free(spn->master);
	if (spn->base != NULL)
		event_base_free(spn->base);
	spn->broker = NULL;
	spn->master = NULL;
	spn->rt = NULL;
	spn->base = NULL;
}

int
spn_init(int *argc, char ***argv, const struct spn_opts *opts,
    struct spn **out)
{
	struct spn *spn = &api_spn;
	struct master_opts mo = MASTER_OPTS_UNSET;
	int level, e, rv;

	/* A copy started by spindle becomes that context's agent here and
	 * never comes back; its functions find this struct spn. */
	api_malloc_keep();
	export_set_spn(spn);
	agent_mode_main(argc, argv, opts);

	if (out != NULL)
		*out = NULL;
	pthread_mutex_lock(&api_lock);
	if (spn->state != API_NONE || spn->loop_started) {
		pthread_mutex_unlock(&api_lock);
		return SPN_EBUSY;
	}
	spn->state = API_DOWN;	/* until it is up */
	pthread_mutex_unlock(&api_lock);
	if ((rv = api_set_image(opts)) != SPN_OK) {
		spn->state = API_NONE;
		return rv;
	}

	api_list_init(&spn->ctxs);
	api_list_init(&spn->recvs);
	api_list_init(&spn->selects);
	api_list_init(&spn->conns);
	api_list_init(&spn->waits);
	api_cond_init(&spn->idle);
	spn->is_static = api_is_static() ||
	    (opts != NULL && opts->image != NULL);
	level = opts != NULL && opts->log_level > 0 ? opts->log_level :
	    SPN_LOG_WARN;
	log_set_level(level);

	mem_init();
	if (evthread_use_pthreads() != 0 ||
	    (spn->base = event_base_new()) == NULL)
		return SPN_ESYS;
	spn->master = master_new(spn->base, &mo);
	spn->rt = master_rt(spn->master);
	/* One program's contexts, which may call each other (the router
	 * passes calls between them; each export says who may call it). */
	rt_set_sideways(spn->rt, 1);
	spn->max_frame = rt_max_frame(spn->rt);
	spn->broker = broker_new(spn->base, API_BROKER_RING);
	api_call_service(spn, opts != NULL ? opts->workers : 0);
	if ((e = output_start(spn)) != 0 ||
	    (e = api_start_loop(spn)) != 0) {
		output_stop(spn);
		api_free_state(spn);
		errno = e;
		return SPN_ESYS;
	}
	pthread_mutex_lock(&api_lock);
	spn->state = API_UP;
	pthread_mutex_unlock(&api_lock);
	atexit(api_atexit);
	if (out != NULL)
		*out = spn;
	return SPN_OK;
}

/*
 * On the loop, while the children go: each one's exit is reported to
 * its chain, which frees what it kept of it (a blocking wait would reap
 * them unreported, and leak that).  Then what is left is killed, and the
 * loop stops after this pass (which runs the frees the exits queued).
 */
static void
api_shutdown_wait(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, 10000 };
	struct spn *spn = arg;
	uint64_t now = now_usec();

	(void)fd;
	(void)what;
	if (proc_watching() > 0 && now < spn->down_by) {
		evtimer_add(spn->down_ev, &tv);
		return;
	}
	proc_wait_all(now < spn->down_by ? (spn->down_by - now) / 1000 : 0);
	event_free(spn->down_ev);
	spn->down_ev = NULL;
	spn->loop_stop = 1;
}

/* On the loop, the contexts' last output in: end every chain, wait for
 * the tree, stop the loop. */
static void
api_shutdown_close(void *arg)
{
	struct spn *spn = arg;

	ctx_close_all(spn);
	spn->down_by = now_usec() + API_TREE_WAIT_MS * 1000ULL;
	spn->down_ev = evtimer_new(spn->base, api_shutdown_wait, spn);
	api_shutdown_wait(-1, 0, spn);
}

static void
api_shutdown_job(void *arg)
{
	output_sync(arg, NULL, 0, api_shutdown_close, arg);
}

void
spn_shutdown(struct spn *spn)
{
	struct api_node *n;

	if (spn == NULL)
		spn = &api_spn;
	pthread_mutex_lock(&api_lock);
	if (spn->state != API_UP) {
		pthread_mutex_unlock(&api_lock);
		return;
	}
	/* From here every entry returns SPN_ESHUTDOWN; wake the blocked
	 * ones and wait for everyone inside to leave. */
	spn->state = API_DOWN;
	for (n = spn->waits.next; n != &spn->waits; n = n->next)
		pthread_cond_broadcast(((struct api_wait *)n)->cond);
	while (spn->active != 0)
		pthread_cond_wait(&spn->idle, &api_lock);
	pthread_mutex_unlock(&api_lock);

	if (spn->agent || api_on_loop())
		return;	/* the loop is not ours to stop from here */
	if (api_submit(api_shutdown_job, spn) == 0)
		pthread_join(spn->loop, NULL);
	svc_call_stop();
	__atomic_store_n(&spn->loop_started, 0, __ATOMIC_RELEASE);
	output_stop(spn);
	recv_free_all(spn);
	select_free_all(spn);
	chan_free_all(spn);
	tcp_free_all();
	ctx_free_all(spn);
	api_free_state(spn);
}
