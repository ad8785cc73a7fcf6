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
void		 ctx_free_all(struct spn *);

/* call.c */
void		 api_call_service(struct spn *, int);
void		 call_free_all(struct spn *);

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
