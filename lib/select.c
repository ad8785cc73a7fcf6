/*
 * Selects: waiting on many receivers at once (Mitogen's Select).  A
 * select's members are receivers and other selects; its ready list holds
 * those with a message waiting, ordered by the arrival of their first
 * message (a global sequence recv.c stamps), so that spn_select_get gives
 * messages in arrival order across receivers and nesting: the first
 * ready member of the first ready member, down to a receiver.
 *
 * Everything here is under api_lock.  A change at a receiver (a message
 * came first in its queue, was taken, it was closed) reorders its
 * select and those above (sel_changed); a select that becomes ready
 * wakes its waiters and makes its eventfd readable, one that empties
 * drains it.  Nothing grows from what a peer sends: members and ready
 * entries are the program's adds, each embedded in its receiver or
 * select; receivers bound their own queues.
 *
 * A select's references: the program's (until spn_select_free) and one
 * per thread waiting in spn_select_get.  A receiver holds none of its
 * select, nor the select of its receivers: closing either takes it out.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include "api.h"

struct spn_select {
	struct api_node	 node;		/* api_spn.selects */
	unsigned	 flags;		/* SPN_SELECT_* */
	unsigned	 refs;
	int		 freed;		/* spn_select_free was called */
	pthread_cond_t	 cond;
	int		 efd;		/* -1 until spn_select_fd */
	int		 signalled;	/* efd is readable */
	size_t		 nrecv;		/* receivers in it, nested ones too */
	struct api_node	 members;	/* struct sel_member, by node */
	struct api_node	 ready;		/* struct sel_member, by ready */
	struct sel_member sel;		/* its place in another */
};

#define SEL_MEMBER(n)	((struct sel_member *)(n))
#define SEL_READY(n)	((struct sel_member *)((char *)(n) - \
	offsetof(struct sel_member, ready)))

static struct sel_member *
sel_first(const struct spn_select *s)
{
	if (s->ready.next == &s->ready)
		return NULL;
	return SEL_READY(s->ready.next);
}

static int
sel_member_ready(const struct sel_member *m)
{
	if (m->recv != NULL)
		return recv_ready(m->recv);
	return sel_first(m->sel) != NULL;
}

/* The arrival of the member's first message; it is ready. */
static uint64_t
sel_member_seq(const struct sel_member *m)
{
	while (m->sel != NULL)
		m = sel_first(m->sel);
	return recv_head_seq(m->recv);
}

/* Keys are unique: each is one message's. */
static void
sel_ready_insert(struct spn_select *s, struct sel_member *m)
{
	struct api_node *n;
	uint64_t seq = sel_member_seq(m);

	/* Mostly the newest: from the tail. */
	for (n = s->ready.prev; n != &s->ready; n = n->prev) {
		if (sel_member_seq(SEL_READY(n)) < seq)
			break;
	}
	api_list_add(n->next, &m->ready);
}

/* The eventfd and the waiters follow the ready list. */
static void
sel_signal(struct spn_select *s)
{
	uint64_t v = 1;
	int ready = sel_first(s) != NULL;

	if (ready && !s->signalled) {
		s->signalled = 1;
		/* Only a full counter fails: readable still. */
		if (s->efd != -1 && write(s->efd, &v, sizeof v) == -1)
			v = 0;
		pthread_cond_broadcast(&s->cond);
	} else if (!ready && s->signalled) {
		s->signalled = 0;
		/* Only an empty counter fails: drained already. */
		if (s->efd != -1 && read(s->efd, &v, sizeof v) == -1)
			v = 0;
	}
}

/* Out of its owner, the counts above it less its receivers. */
static void
sel_detach(struct sel_member *m)
{
	struct spn_select *s = m->owner, *x;
	size_t n = m->recv != NULL ? 1 : m->sel->nrecv;

	api_list_del(&m->node);
	api_list_del(&m->ready);
	m->owner = NULL;
	for (x = s; x != NULL; x = x->sel.owner) {
		x->nrecv -= n;
		/* Its waiters learn that nothing is left. */
		if (x->nrecv == 0)
			pthread_cond_broadcast(&x->cond);
	}
	sel_changed(&s->sel);
	sel_signal(s);
}

void
sel_changed(struct sel_member *m)
{
	struct spn_select *s;
	struct sel_member *first;

	for (; (s = m->owner) != NULL; m = &s->sel) {
		if (m->recv != NULL && recv_spent(m->recv) &&
		    (s->flags & SPN_SELECT_ONESHOT)) {
			sel_detach(m);
			return;
		}
		first = sel_first(s);
		api_list_del(&m->ready);
		if (sel_member_ready(m))
			sel_ready_insert(s, m);
		sel_signal(s);
		/* The selects above see s's first message, unchanged if its
		 * first member is another than before and m. */
		if (sel_first(s) == first && first != m)
			break;
	}
}

void
sel_leave(struct sel_member *m)
{
	if (m->owner != NULL)
		sel_detach(m);
}

static void
sel_attach(struct spn_select *s, struct sel_member *m)
{
	struct spn_select *x;
	size_t n = m->recv != NULL ? 1 : m->sel->nrecv;

	m->owner = s;
	api_list_add(&s->members, &m->node);
	for (x = s; x != NULL; x = x->sel.owner)
		x->nrecv += n;
	sel_changed(m);
}

int
spn_select_new(unsigned flags, struct spn_select **out)
{
	struct spn_select *s;
	int rv;

	if (out == NULL || (flags & ~SPN_SELECT_ONESHOT) != 0)
		return SPN_EINVAL;
	*out = NULL;
	if ((rv = api_enter(NULL)) != SPN_OK)
		return rv;
	s = xcalloc(1, sizeof *s);
	s->flags = flags;
	s->refs = 1;
	s->efd = -1;
	api_cond_init(&s->cond);
	api_list_init(&s->members);
	api_list_init(&s->ready);
	s->sel.sel = s;
	pthread_mutex_lock(&api_lock);
	api_list_add(&api_spn.selects, &s->node);
	pthread_mutex_unlock(&api_lock);
	*out = s;
	api_leave();
	return SPN_OK;
}

/* Under api_lock: m (a receiver's or a select's) into s. */
static int
sel_add(struct spn_select *s, struct sel_member *m)
{
	struct spn_select *x = NULL;

	/* A select may not go below itself. */
	if (m->sel != NULL)
		for (x = s; x != NULL && x != m->sel; x = x->sel.owner)
			;
	if (m->owner != NULL)
		return SPN_EBUSY;
	if (s->freed || x != NULL)
		return SPN_EINVAL;
	/* A spent receiver would leave a ONESHOT select at once. */
	if (m->recv == NULL || !recv_spent(m->recv) ||
	    !(s->flags & SPN_SELECT_ONESHOT))
		sel_attach(s, m);
	return SPN_OK;
}

static int
sel_remove(struct spn_select *s, struct sel_member *m)
{
	if (m->owner != s)
		return SPN_EINVAL;
	sel_detach(m);
	return SPN_OK;
}

/* fn(s, m) under api_lock, for a public entry. */
static int
sel_locked(struct spn_select *s, struct sel_member *m,
    int (*fn)(struct spn_select *, struct sel_member *))
{
	int rv;

	if ((rv = api_enter(NULL)) != SPN_OK)
		return rv;
	pthread_mutex_lock(&api_lock);
	rv = fn(s, m);
	pthread_mutex_unlock(&api_lock);
	api_leave();
	return rv;
}

int
spn_select_add(struct spn_select *s, struct spn_recv *r)
{
	if (s == NULL || r == NULL)
		return SPN_EINVAL;
	return sel_locked(s, recv_member(r), sel_add);
}

int
spn_select_add_select(struct spn_select *s, struct spn_select *sub)
{
	if (s == NULL || sub == NULL)
		return SPN_EINVAL;
	return sel_locked(s, &sub->sel, sel_add);
}

int
spn_select_remove(struct spn_select *s, struct spn_recv *r)
{
	if (s == NULL || r == NULL)
		return SPN_EINVAL;
	return sel_locked(s, recv_member(r), sel_remove);
}

/* Under api_lock, which it releases. */
static void
sel_release_unlock(struct spn_select *s)
{
	int last = --s->refs == 0;

	if (last)
		api_list_del(&s->node);
	pthread_mutex_unlock(&api_lock);
	if (last) {
		pthread_cond_destroy(&s->cond);
		free(s);
	}
}

/* Under api_lock, with a reference: the receiver whose message came
 * first, or what the wait ended with. */
static int
sel_wait(struct spn_select *s, int timeout_ms, struct spn_recv **r,
    struct spn_error *err)
{
	uint64_t deadline = api_deadline(timeout_ms);
	struct sel_member *m;
	int timedout = 0;

	for (;;) {
		if (s->freed || api_spn.state != API_UP)
			break;
		if ((m = sel_first(s)) != NULL) {
			while (m->sel != NULL)
				m = sel_first(m->sel);
			*r = m->recv;
			return SPN_OK;
		}
		if (s->nrecv == 0 || timedout)
			break;
		if (timeout_ms == 0 ||
		    api_wait(&s->cond, deadline) == ETIMEDOUT)
			timedout = 1;
	}
	if (s->freed) {
		error_set(err, SPN_ECLOSED, NULL, "the select was freed");
		return SPN_ECLOSED;
	}
	if (api_spn.state != API_UP) {
		error_set(err, SPN_ESHUTDOWN, NULL, "spn_shutdown() was "
		    "called");
		return SPN_ESHUTDOWN;
	}
	if (s->nrecv == 0) {
		error_set(err, SPN_ECLOSED, NULL, "no receiver is left in "
		    "the select");
		return SPN_ECLOSED;
	}
	error_set(err, SPN_ETIMEDOUT, NULL, "no message within %d ms",
	    timeout_ms);
	return SPN_ETIMEDOUT;
}

int
spn_select_get(struct spn_select *s, int timeout_ms, struct spn_recv **rp,
    struct spn_msg **msg, struct spn_error *err)
{
	struct spn_recv *r = NULL;
	int rv;

	if (rp != NULL)
		*rp = NULL;
	if (msg != NULL)
		*msg = NULL;
	if ((rv = api_enter_wait(s != NULL, "spn_select_get()", err)) !=
	    SPN_OK)
		return rv;
	pthread_mutex_lock(&api_lock);
	s->refs++;
	if ((rv = sel_wait(s, timeout_ms, &r, err)) == SPN_OK) {
		/* Its own reference while it is decoded unlocked. */
		recv_ref_locked(r);
		rv = recv_give_head(r, msg, err);
		sel_release_unlock(s);
		recv_unref(r);
	} else
		sel_release_unlock(s);
	if (rp != NULL)
		*rp = r;
	api_leave();
	return rv;
}

int
spn_select_fd(struct spn_select *s)
{
	int fd = -1;

	if (s == NULL || api_enter(NULL) != SPN_OK)
		return -1;
	pthread_mutex_lock(&api_lock);
	if (!s->freed && s->efd == -1) {
		s->efd = eventfd(s->signalled, EFD_NONBLOCK | EFD_CLOEXEC);
	}
	fd = s->efd;
	pthread_mutex_unlock(&api_lock);
	api_leave();
	return fd;
}

/* Under api_lock: out of its select, its members out of it. */
static void
sel_disband(struct spn_select *s)
{
	struct api_node *n;

	sel_leave(&s->sel);
	while ((n = s->members.next) != &s->members)
		sel_detach(SEL_MEMBER(n));
	s->freed = 1;
	if (s->efd != -1)
		close(s->efd);
	s->efd = -1;
	pthread_cond_broadcast(&s->cond);
}

void
spn_select_free(struct spn_select *s)
{
	if (s == NULL || api_enter(NULL) != SPN_OK)
		return;
	pthread_mutex_lock(&api_lock);
	if (s->freed) {
		pthread_mutex_unlock(&api_lock);
		api_leave();
		return;
	}
	sel_disband(s);
	sel_release_unlock(s);		/* the program's */
	api_leave();
}

/* The loop has stopped and nobody waits: what is left goes. */
void
select_free_all(struct spn *spn)
{
	struct api_node *n;
	struct spn_select *s;

	while ((n = spn->selects.next) != &spn->selects) {
		api_list_del(n);
		s = (struct spn_select *)n;
		if (s->efd != -1)
			close(s->efd);
		pthread_cond_destroy(&s->cond);
		free(s);
	}
}
