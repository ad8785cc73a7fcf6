/*
 * Logging.  Records go to a sink: the master prints them, an agent
 * forwards them to the master tagged with its context name.  A record
 * may say which context it is about (the one a hop starts, the one that
 * forwarded it): a program with an output of its own (the daemon's log)
 * can tell the route from it.
 *
 * Any thread may log.  The level is read without a lock; records are
 * printed (or handed to the output hook) one at a time under a lock.  A
 * sink sends frames, which only the loop thread may do: it is called on
 * the thread that installed it, and records from other threads go to the
 * post hook (broker_log_post queues them to the loop), or, with none, are
 * printed here as if there were no sink.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router.h"

static int		 log_level = SPN_LOG_WARN;
static pthread_mutex_t	 log_lock = PTHREAD_MUTEX_INITIALIZER;
static log_sink_fn	*log_sink;
static void		*log_sink_arg;
static pthread_t	 log_sink_thread;
static log_post_fn	*log_post;
static void		*log_post_arg;
static log_output_fn	*log_output;
static void		*log_output_arg;
static int		 log_fd = STDERR_FILENO;
static __thread int	 log_printing;	/* the output hook logs too */

void
log_set_level(int level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

int
log_get_level(void)
{
	return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

/* Call it on the loop thread: fn runs there only. */
void
log_set_sink(log_sink_fn *fn, void *arg)
{
	pthread_mutex_lock(&log_lock);
	log_sink = fn;
	log_sink_arg = arg;
	log_sink_thread = pthread_self();
	pthread_mutex_unlock(&log_lock);
}

/* Printed records go to fd rather than stderr (an agent's stderr is a
 * pipe it forwards; its parent reads the one it started with). */
void
log_set_fd(int fd)
{
	log_fd = fd;
}

/* Records other threads log while there is a sink go to fn, which must
 * copy the text and get it to the sink's thread. */
void
log_set_post(log_post_fn *fn, void *arg)
{
	pthread_mutex_lock(&log_lock);
	log_post = fn;
	log_post_arg = arg;
	pthread_mutex_unlock(&log_lock);
}

/* Printed records go to fn rather than stderr; fn is called under the
 * lock, one record at a time. */
void
log_set_output(log_output_fn *fn, void *arg)
{
	pthread_mutex_lock(&log_lock);
	log_output = fn;
	log_output_arg = arg;
	pthread_mutex_unlock(&log_lock);
}

const char *
log_level_name(int level)
{
	switch (level) {
	case SPN_LOG_ERROR:
		return "error";
	case SPN_LOG_WARN:
		return "warning";
	case SPN_LOG_INFO:
		return "info";
	}
	return "debug";
}

/* One record on stderr in one write, so lines never interleave. */
static void
log_print(int level, const char *ctx, const char *text)
{
	char line[4096];
	int n;

	n = snprintf(line, sizeof line, "spindle%s%s%s: %s: %s\n",
	    ctx != NULL ? " [" : "", ctx != NULL ? ctx : "",
	    ctx != NULL ? "]" : "", log_level_name(level), text);
	if (n > (int)sizeof line - 1)
		n = sizeof line - 1;
	line[n - 1] = '\0';
	str_clean(line);
	line[n - 1] = '\n';
	if (write(log_fd, line, n) < 0)
		return;
}

/* Print a record here, whatever the sink: on stderr or to the output. */
void
log_emit_about(int level, uint32_t about, const char *ctx, const char *text)
{
	if (level > log_get_level())
		return;
	/* A record the output hook logs goes out in the same turn. */
	if (log_printing++ == 0)
		pthread_mutex_lock(&log_lock);
	if (log_output != NULL)
		log_output(level, about, ctx, text, log_output_arg);
	else
		log_print(level, ctx, text);
	if (--log_printing == 0)
		pthread_mutex_unlock(&log_lock);
}

void
log_emit(int level, const char *ctx, const char *text)
{
	log_emit_about(level, 0, ctx, text);
}

/*
 * To the sink if this is its thread; from another, to the post hook if
 * post_ok; else printed here.
 */
static void
log_route(int level, uint32_t about, const char *text, int post_ok)
{
	log_sink_fn *sink;
	log_post_fn *post;
	void *sink_arg, *post_arg;
	int mine;

	pthread_mutex_lock(&log_lock);
	sink = log_sink;
	sink_arg = log_sink_arg;
	mine = sink != NULL && pthread_equal(log_sink_thread, pthread_self());
	post = post_ok && sink != NULL ? log_post : NULL;
	post_arg = log_post_arg;
	pthread_mutex_unlock(&log_lock);
	if (mine)
		sink(level, NULL, text, sink_arg);
	else if (post == NULL || post(level, about, text, post_arg) != 0)
		log_emit_about(level, about, NULL, text);
}

/* A record another thread posted, on the loop: never posted again. */
void
log_deliver(int level, uint32_t about, const char *text)
{
	log_route(level, about, text, 0);
}

static void
log_vmsg_about(int level, uint32_t about, const char *fmt, va_list ap)
{
	char text[2048];

	if (level > log_get_level())
		return;
	vsnprintf(text, sizeof text, fmt, ap);
	log_route(level, about, text, 1);
}

void
log_vmsg(int level, const char *fmt, va_list ap)
{
	log_vmsg_about(level, 0, fmt, ap);
}

/* A record about context `about` (0: none in particular). */
void
log_about(uint32_t about, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg_about(level, about, fmt, ap);
	va_end(ap);
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/*
 * Out of memory, or a broken invariant: say so and abort.  Never exit():
 * the program that links us has its own atexit handlers and threads, and
 * abort leaves a core to look at.  Errors a caller can meet are returned.
 */
void
fatal(const char *fmt, ...)
{
	va_list ap;
	char text[1024];

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	log_emit(SPN_LOG_ERROR, NULL, text);
	abort();
}
