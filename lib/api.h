/*
 * The state behind the public API (api.c, ctx.c, call.c): one struct spn
 * a process, its loop thread, its contexts and receivers.
 *
 * Locking: one mutex, api_lock, guards everything here that two threads
 * may touch (states, lists, reference counts); router state is touched on
 * the loop thread only, through broker jobs.  Every public entry that may
 * touch a context or a receiver runs between api_enter() and api_leave(),
 * so that spn_shutdown() frees nothing a caller still holds.
 */
#ifndef SPN_API_H
#define SPN_API_H

#include <pthread.h>

#include "lib.h"

enum api_state {
	API_NONE,		/* spn_init() not called */
	API_UP,
	API_DOWN,		/* spn_shutdown() called (or running) */
};

/* A doubly linked list node; lists are circular with a head node. */
struct api_node {
	struct api_node	*next;
	struct api_node	*prev;
};

struct spn {
	int		 state;		/* enum api_state */
	int		 agent;		/* agent mode: the loop is the caller's */
	int		 is_static;	/* our own image can be an agent */
	unsigned	 active;	/* callers between enter and leave */
	pthread_cond_t	 idle;		/* active fell to 0 */
	struct event_base *base;
	struct rt	*rt;
	struct master	*master;	/* NULL in agent mode */
	struct broker	*broker;
	pthread_t	 loop;
	int		 loop_started;
	int		 loop_stop;	/* the loop thread ends its next pass */
	struct event	*down_ev;	/* shutdown: waits for the children */
	uint64_t	 down_by;	/* ... until then (usec) */
	uint32_t	 max_frame;	/* rt_max_frame(), read once */
	struct spn_ctx	*parent;	/* agent mode */
	struct api_node	 ctxs;		/* struct spn_ctx */
	struct api_node	 recvs;		/* struct spn_recv */
	struct api_node	 selects;	/* struct spn_select */
	struct api_node	 conns;		/* struct conn (ctx.c) */
	struct api_node	 waits;		/* struct api_wait: blocked callers */
};

/* A caller blocked on a condition variable, woken by shutdown. */
struct api_wait {
	struct api_node	 node;
	pthread_cond_t	*cond;
};

struct spn_ctx {
	struct api_node	 node;
	struct spn	*spn;
	unsigned	 refs;
	uint32_t	 id;
	char		*name;
	struct conn	*conn;		/* the chain it ends, or NULL */
};

extern struct spn	 api_spn;
extern pthread_mutex_t	 api_lock;

/* api.c */
int		 api_enter(struct spn_error *);
int		 api_enter_wait(int, const char *, struct spn_error *);
void		 api_agent_bind(struct spn *);
void		 api_leave(void);
int		 api_on_loop(void);
#define API_LOOP_TEXT	" on the library's loop thread, where it would wait " \
	"for itself (an SPN_INLINE export must not block)"
void		 api_cond_init(pthread_cond_t *);
/* Wait on cond under api_lock until the absolute CLOCK_MONOTONIC
 * deadline in usec (0: none); ETIMEDOUT or 0.  Shutdown wakes it. */
int		 api_wait(pthread_cond_t *, uint64_t);
uint64_t	 api_deadline(int);
void		 api_list_init(struct api_node *);
void		 api_list_add(struct api_node *, struct api_node *);
void		 api_list_del(struct api_node *);
int		 api_submit(broker_fn *, void *);

/* error.c */
int		 error_is_auth(const char *);

/* ctx.c */
struct spn_ctx	*ctx_new(struct spn *, uint32_t, const char *, struct conn *);
void		 ctx_close_all(struct spn *);
/* Under api_lock. */
int		 ctx_closing(const struct spn_ctx *);
/* On the loop, around each call in flight (spn_ctx_shutdown's grace). */
void		 ctx_call_begin(struct spn_ctx *);
void		 ctx_call_end(struct spn_ctx *);
void		 ctx_free_all(struct spn *);

/*
 * recv.c: the receiver core, the interface for calls (call.c) and
 * channels (channel.c).  A receiver queues the messages (SPN_K_REPLY,
 * DATA, EOF, DEAD: raw payloads) its kind pushes on the loop thread, and
 * hands each out once, in order, to spn_recv_get (or a select), which
 * decodes it on the taker's thread.  Hooks run without api_lock, on the
 * thread named, with a reference held; NULL ones are skipped.
 */
struct recv_ops {
	const char	*noun;		/* "answer": "no answer within N ms" */
	int		 spent_rv;	/* a get after the last message was
					 * taken (0: that message's status;
					 * after a cancel: SPN_ECANCELLED) */
	const char	*spent_text;	/* ... its error text */
	/* The taker's thread: the payload into *msg (may be NULL: dropped)
	 * or an error in err (never NULL); the status spn_recv_get returns.
	 * DEAD letters are decoded by recv.c (SPN_ELOST, ...). */
	int	(*decode)(struct spn_recv *, uint8_t, const uint8_t *, size_t,
		    struct spn_msg **, struct spn_error *);
	/* The taker's thread: a message of that kind and length was handed
	 * out (a channel returns its credit); not told of a cancel. */
	void	(*taken)(struct spn_recv *, uint8_t, size_t);
	/* spn_recv_close's thread: the program closed it; ended: its last
	 * message had come (or a cancel), else tell the far side. */
	void	(*closed)(struct spn_recv *, int);
	/* spn_recv_cancel's thread, while nothing ended it: stop the far
	 * side (NULL: closed(r, 0) is called). */
	void	(*cancel)(struct spn_recv *);
	/* The last reference went (any thread): free the kind's own. */
	void	(*destroy)(struct spn_recv *);
};
/* One reference, the program's; state: bytes for the kind, zeroed
 * (recv_state); at most max_n messages and max_bytes payload bytes
 * queued, past which recv_push refuses. */
struct spn_recv	*recv_new(struct spn_ctx *, const struct recv_ops *, size_t,
		     size_t, size_t);
void		*recv_state(struct spn_recv *);
const struct recv_ops *recv_kind(const struct spn_recv *);
void		 recv_ref(struct spn_recv *);
void		 recv_unref(struct spn_recv *);
/* Neither closed nor ended: is a message still wanted? */
int		 recv_open(struct spn_recv *);
/* The loop thread: queue a copy of the payload, wake the waiters and the
 * select; last: nothing comes after it (an answer, EOF, DEAD).  -1 (the
 * payload dropped) when closed, ended, or over the hard bound. */
int		 recv_push(struct spn_recv *, uint8_t, const void *, size_t,
		     int);
void		 recv_free_all(struct spn *);
/* For select.c, under api_lock. */
void		 recv_ref_locked(struct spn_recv *);
struct sel_member *recv_member(struct spn_recv *);
int		 recv_ready(const struct spn_recv *);
uint64_t	 recv_head_seq(const struct spn_recv *);
int		 recv_spent(const struct spn_recv *);
/* Hand out the first message (recv_ready), as spn_recv_get would:
 * api_lock is released while it is decoded; hold a reference. */
int		 recv_give_head(struct spn_recv *, struct spn_msg **,
		     struct spn_error *);

/*
 * select.c: a receiver's or a select's place in a select, under
 * api_lock.  A select's ready list holds the members with a message
 * waiting, in the order their first messages arrived.
 */
struct sel_member {
	struct api_node	 node;		/* the owner's members */
	struct api_node	 ready;		/* the owner's ready list */
	struct spn_select *owner;	/* NULL: in no select */
	struct spn_recv	*recv;		/* the member: a receiver, */
	struct spn_select *sel;		/* or a select */
};
/* Its first message came, went, or changed; reorders the selects above
 * and wakes their waiters (with SPN_SELECT_ONESHOT, a spent receiver
 * leaves). */
void		 sel_changed(struct sel_member *);
/* Out of its select (a receiver closed). */
void		 sel_leave(struct sel_member *);
void		 select_free_all(struct spn *);

/* channel.c */
void		 chan_free_all(struct spn *);
/* tcp.c */
void		 tcp_free_all(void);

/* call.c */
void		 api_call_service(struct spn *, int);

/* output.c: logs and output, the log thread */
int		 output_start(struct spn *);
void		 output_stop(struct spn *);
/* On the loop, once a context of this program is up (every hop of a
 * route): its stdout, stderr (stdio: SPN_STDIO_*) and spn_log records
 * to the log handler. */
void		 output_ctx_up(struct spn *, uint32_t, const char *, int);
/* On the loop: the contexts' pipes sent (ids; NULL: all), then
 * done(arg), within 2 s. */
void		 output_sync(struct spn *, const uint32_t *, size_t,
		     void (*)(void *), void *);

#endif
