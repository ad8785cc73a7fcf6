/*
 * Errors: one struct spn_error says what failed, where and why, whole,
 * whichever side of a route it happened on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

static const char *const error_names[] = {
	[SPN_OK] = "success",
	[SPN_ECALL] = "the remote function or service failed",
	[SPN_ETIMEDOUT] = "timed out",
	[SPN_ECANCELLED] = "cancelled",
	[SPN_ELOST] = "context lost",
	[SPN_ENOROUTE] = "no route to the context",
	[SPN_EREFUSED] = "refused by the context",
	[SPN_ENOFUNC] = "no such function",
	[SPN_ESIG] = "values do not match the signature",
	[SPN_ETOOLARGE] = "message too large",
	[SPN_EPROTO] = "malformed message",
	[SPN_ECONNECT] = "cannot connect",
	[SPN_EAUTH] = "password refused",
	[SPN_EARCH] = "architecture mismatch",
	[SPN_ENOTSTATIC] = "this program is not a static image",
	[SPN_ESHUTDOWN] = "shut down",
	[SPN_ECLOSED] = "receiver closed, or the channel ended",
	[SPN_ECRASH] = "the remote function crashed",
	[SPN_EDEADLK] = "blocking call on the library's loop thread",
	[SPN_EBUSY] = "already initialised",
	[SPN_EINVAL] = "invalid argument",
	[SPN_ENOMEM] = "out of memory",
	[SPN_ESYS] = "system call failed",
};

const char *
spn_strerror(int code)
{
	if (code < 0 || (size_t)code >= sizeof error_names /
	    sizeof error_names[0] || error_names[code] == NULL)
		return "unknown error";
	return error_names[code];
}

int
spn_error_format(const struct spn_error *err, char *buf, size_t len)
{
	const char *msg;
	char errbuf[128] = "";
	size_t n = 0;
	int rv;

	if (len > 0)
		*buf = '\0';
	if (err == NULL)
		return snprintf(buf, len, "%s", spn_strerror(SPN_EINVAL));
	msg = *err->message != '\0' ? err->message : spn_strerror(err->code);
	if (err->sys_errno != 0)
		snprintf(errbuf, sizeof errbuf, " (%s)",
		    strerror(err->sys_errno));
	/* Each part is counted even when the buffer is full, as snprintf
	 * counts: the caller may size a second try. */
	/* A hop's label ("hop 2 (bastion+web)") says what it is. */
	if (*err->context != '\0') {
		rv = snprintf(buf, len, "%s%s: ", strncmp(err->context, "hop ",
		    4) == 0 ? "" : "context ", err->context);
		n += rv;
	}
	if (*err->where != '\0') {
		rv = snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0,
		    "%s: ", err->where);
		n += rv;
	}
	rv = snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0,
	    "%s%s", msg, errbuf);
	/* Most of an error is a far end's words, and this is what goes to
	 * a terminal: whatever path filled it, no escapes. */
	if (len > 0)
		str_clean(buf);
	return (int)(n + rv);
}

void
spn_error_print(const struct spn_error *err)
{
	char buf[1024];

	spn_error_format(err, buf, sizeof buf);
	fprintf(stderr, "%s: %s\n", program_invocation_short_name, buf);
}

void
error_set(struct spn_error *err, int code, const char *ctx, const char *fmt,
    ...)
{
	va_list ap;

	if (err == NULL)
		return;
	memset(err, 0, sizeof *err);
	err->code = code;
	if (ctx != NULL)
		snprintf(err->context, sizeof err->context, "%s", ctx);
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
}

/* A password prompt answered wrong, as bootstrap/connect.c words it
 * ("sudo: incorrect password for alice", "ssh: incorrect password") or
 * the tool itself does ("sudo: 1 incorrect password attempt"). */
int
error_is_auth(const char *text)
{
	return strstr(text, "incorrect password") != NULL;
}

/*
 * A DEAD letter's reason and text as an error of the context it came
 * for; returns the code.  The text already names the hop for LOST and
 * FAILED ("hop 2 (bastion+web): agent killed by signal 9 (Killed)").
 */
int
error_from_dead(struct spn_error *err, uint32_t reason, const char *text,
    const char *ctx)
{
	int code;

	if (text == NULL || *text == '\0')
		text = wire_dead_name(reason);
	switch (reason) {
	case SPN_D_NO_ROUTE:
		code = SPN_ENOROUTE;
		break;
	case SPN_D_TOO_LARGE:
		code = SPN_ETOOLARGE;
		break;
	case SPN_D_REFUSED:
		code = SPN_EREFUSED;
		break;
	case SPN_D_NO_HANDLE:
		/* The context answers, but not calls: the stock agent. */
		error_set(err, SPN_ENOFUNC, ctx, "context %s runs the stock "
		    "spindle agent, which has no functions (%s)",
		    ctx != NULL ? ctx : "?", text);
		return SPN_ENOFUNC;
	case SPN_D_LOST:
		code = error_is_auth(text) ? SPN_EAUTH : SPN_ELOST;
		break;
	case SPN_D_FAILED:
		code = error_is_auth(text) ? SPN_EAUTH : SPN_ECALL;
		break;
	default:
		code = SPN_EPROTO;
		break;
	}
	error_set(err, code, ctx, "%s", text);
	return code;
}
