/* Running an event loop from cmocka tests: for a while, or until. */
#ifndef SPN_TEST_LOOP_H
#define SPN_TEST_LOOP_H

#include <event2/event.h>

#include "router.h"

static inline void
loop_run_for(struct event_base *b, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(b, &tv);
	event_base_dispatch(b);
}

/* Run the loop until cond holds or ms pass; evaluates to cond. */
#define LOOP_RUN_UNTIL(b, cond, ms) __extension__ ({			\
	uint64_t _dl = now_usec() + (uint64_t)(ms) * 1000;		\
	while (!(cond) && now_usec() < _dl)				\
		loop_run_for((b), 2);					\
	(cond);								\
})

#endif
