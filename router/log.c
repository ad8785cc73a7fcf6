/*
 * Logging.  Records go to a sink: the master prints them, an agent
 * forwards them to the master tagged with its context name.  A record
 * may say which context it is about (the one a hop starts, the one that
 * forwarded it): a program with an output of its own (the daemon's log)
 * can tell the route from it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router.h"

static int		 log_level = SPN_LOG_WARN;
static log_sink_fn	*log_sink;
static void		*log_sink_arg;
static log_output_fn	*log_output;
static void		*log_output_arg;
static int		 log_fd = STDERR_FILENO;

void
log_set_level(int level)
{
	log_level = level;
}

int
log_get_level(void)
{
	return log_level;
}

void
log_set_sink(log_sink_fn *fn, void *arg)
{
	log_sink = fn;
	log_sink_arg = arg;
}

/* Printed records go to fd rather than stderr (an agent's stderr is a
 * pipe it forwards; its parent reads the one it started with). */
void
log_set_fd(int fd)
{
	log_fd = fd;
}

/* Printed records go to fn rather than stderr. */
void
log_set_output(log_output_fn *fn, void *arg)
{
	log_output = fn;
	log_output_arg = arg;
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

/* Print one record on stderr in one write, so lines never interleave. */
void
log_emit_about(int level, uint32_t about, const char *ctx, const char *text)
{
	char line[4096];
	int n;

	if (level > log_level)
		return;
	if (log_output != NULL) {
		log_output(level, about, ctx, text, log_output_arg);
		return;
	}
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

void
log_emit(int level, const char *ctx, const char *text)
{
	log_emit_about(level, 0, ctx, text);
}

static void
log_vmsg_about(int level, uint32_t about, const char *fmt, va_list ap)
{
	char text[2048];

	if (level > log_level)
		return;
	vsnprintf(text, sizeof text, fmt, ap);
	if (log_sink != NULL)
		log_sink(level, NULL, text, log_sink_arg);
	else
		log_emit_about(level, about, NULL, text);
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

void
fatal(const char *fmt, ...)
{
	va_list ap;
	char text[1024];

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	log_emit(SPN_LOG_ERROR, NULL, text);
	_exit(255);
}
