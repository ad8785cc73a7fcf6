/*
 * The program's exports and the library's side of a CALL.  The table is
 * the linker section SPN_EXPORT() fills; a call names an export and the
 * letters of its arguments, never an address.  export_run() is what the
 * agent's workers (agent/svc-call.c) run for each CALL in agent mode:
 * decode, look up, check, run the function, encode its answer.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"

/* Weak: a program without exports has no such section. */
extern const struct spn_export __start_spn_exports[] __attribute__((weak));
extern const struct spn_export __stop_spn_exports[] __attribute__((weak));

struct spn_call {
	struct agent_call		*ac;
	const struct spn_export		*ex;
	char				 caller[32];
	struct spn_error		 err;
};

static __thread const char	*export_current;
static __thread int		 export_inline;	/* on the loop thread */
static struct spn		*export_spn;

const struct spn_export *
export_find(const char *name)
{
	const struct spn_export *e;

	if (name == NULL || __start_spn_exports == NULL)
		return NULL;
	for (e = __start_spn_exports; e < __stop_spn_exports; e++) {
		if (e->name != NULL && strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

/* Past commas and blanks; NUL also at "->" (the RESULTS part). */
static const char *
export_sig_skip(const char *s)
{
	while (*s == ',' || *s == ' ')
		s++;
	return s[0] == '-' && s[1] == '>' ? s + strlen(s) : s;
}

/* Past one element: a letter, "aX", or a bracketed group. */
static const char *
export_sig_elem(const char *s)
{
	int depth = 0;

	do {
		if (*s == '[' || *s == '{')
			depth++;
		else if (*s == ']' || *s == '}')
			depth--;
		else if (*s == 'a' && s[1] != '\0')
			s++;
		if (*s != '\0')
			s++;
	} while (depth > 0 && *s != '\0');
	return s;
}

/*
 * Two lists of elements, up to their end or close (a group's bracket):
 * equal letter for letter, where 'v' (any value) fits any one element
 * either way, a group or "aX" too; the called context checks the values
 * themselves.
 */
static int
export_sig_seq(const char **wp, const char **hp)
{
	const char *w = *wp, *h = *hp;

	for (;;) {
		w = export_sig_skip(w);
		h = export_sig_skip(h);
		if (*w == '\0' || *w == ']' || *w == '}' || *h == '\0' ||
		    *h == ']' || *h == '}')
			break;
		if (*w == 'v' || *h == 'v') {
			w = export_sig_elem(w);
			h = export_sig_elem(h);
			continue;
		}
		if (*w != *h)
			return SPN_ESIG;
		if (*w == '[' || *w == '{') {
			w++;
			h++;
			if (export_sig_seq(&w, &h) != SPN_OK || *w == '\0')
				return SPN_ESIG;
			w++;
			h++;
			continue;
		}
		if (*w == 'a' && w[1] != h[1])
			return SPN_ESIG;
		w = export_sig_elem(w);
		h = export_sig_elem(h);
	}
	*wp = w;
	*hp = h;
	return *w == *h ? SPN_OK : SPN_ESIG;
}

/* The call's letters against the ARGS part of the export's
 * "ARGS->RESULTS". */
int
export_sig_check(const struct spn_export *e, const char *call)
{
	const char *want = e->sig != NULL ? e->sig : "", *have;

	have = call != NULL ? call : "";
	if (export_sig_seq(&want, &have) != SPN_OK || *want != '\0')
		return SPN_ESIG;
	return SPN_OK;
}

/* How many values the RESULTS part of "ARGS->RESULTS" takes: a group,
 * "[si]" or "{ss}", is one, as is "aX". */
static size_t
export_nresults(const char *sig)
{
	const char *s;
	size_t n = 0;

	if (sig == NULL || (s = strstr(sig, "->")) == NULL)
		return 0;
	for (s = export_sig_skip(s + 2); *s != '\0';
	    s = export_sig_skip(export_sig_elem(s)))
		n++;
	return n;
}

const char *
export_running(void)
{
	return export_current;
}

void
export_set_spn(struct spn *spn)
{
	export_spn = spn;
}

int
spn_cancelled(const struct spn_call *call)
{
	return call != NULL && agent_call_cancelled(call->ac);
}

struct spn *
spn_call_spn(const struct spn_call *call)
{
	(void)call;
	return export_spn;
}

const char *
spn_call_caller(const struct spn_call *call)
{
	return call->caller;
}

/* Our context's name: an agent's route, or the master (whose CALL
 * service runs exports for its children, lib/api.c). */
static const char *
export_self(void)
{
	return agent_router() != NULL ? rt_name(agent_router()) : "master";
}

int
spn_fail_at(struct spn_call *call, const char *file, int line,
    const char *func, int errnum, const char *fmt, ...)
{
	struct spn_error *err = &call->err;
	const char *base = strrchr(file, '/');
	va_list ap;

	memset(err, 0, sizeof *err);
	err->code = SPN_ECALL;
	err->sys_errno = errnum;
	snprintf(err->context, sizeof err->context, "%s", export_self());
	snprintf(err->where, sizeof err->where, "%s:%d %s",
	    base != NULL ? base + 1 : file, line, func);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return SPN_ECALL;
}

/* A failure of ours (not the function's): code and text. */
static void
export_error(struct spn_call *call, int code, const char *fmt, ...)
    SPN_PRINTF(3, 4);
static void
export_error(struct spn_call *call, int code, const char *fmt, ...)
{
	va_list ap;

	memset(&call->err, 0, sizeof call->err);
	call->err.code = code;
	snprintf(call->err.context, sizeof call->err.context, "%s",
	    export_self());
	va_start(ap, fmt);
	vsnprintf(call->err.message, sizeof call->err.message, fmt, ap);
	va_end(ap);
}

/* Its results are what its signature promised, in number (the caller
 * reads them by position, so a missing one would read as 0 or NULL). */
static int
export_results_check(struct spn_call *call, const char *fn,
    const struct spn_vbuf *res)
{
	size_t n, want = export_nresults(call->ex->sig);

	if (vbuf_values(res, &n, NULL) != 0) {
		export_error(call, SPN_ESIG, "%s returned with an array or map "
		    "still short of values", fn);
		return SPN_ESIG;
	}
	if (n != want) {
		export_error(call, SPN_ESIG, "%s returned %zu value%s, its "
		    "signature \"%s\" says %zu", fn, n, n == 1 ? "" : "s",
		    call->ex->sig, want);
		return SPN_ESIG;
	}
	return SPN_OK;
}

/*
 * The library's own calls.  EXPORT_END: the context ends as when its
 * parent goes (agent/run.c's SIGTERM handler: commands, then children,
 * then itself); spn_ctx_unref of a context started by spn_connect_from
 * sends it, the link to it being another context's.
 */
static int
export_builtin(struct spn_call *call, const struct callmsg *c)
{
	if (strcmp(c->fn, EXPORT_END) != 0 || agent_router() == NULL) {
		export_error(call, SPN_ENOFUNC, "no export %s", c->fn);
		return SPN_ENOFUNC;
	}
	if (!call->ac->ancestor) {
		export_error(call, SPN_EREFUSED, "%s may be called by "
		    "ancestors only, not by %s", c->fn, call->caller);
		return SPN_EREFUSED;
	}
	kill(getpid(), SIGTERM);
	return SPN_OK;
}

/* Run it, unless something says no: SPN_OK with the results in res, or
 * the error in call->err. */
static int
export_call(struct spn_call *call, const struct callmsg *c,
    struct spn_vbuf *res)
{
	char why[256];
	int rc;

	if (strncmp(c->fn, "spn:", 4) == 0)
		return export_builtin(call, c);
	if ((call->ex = export_find(c->fn)) == NULL) {
		export_error(call, SPN_ENOFUNC, "no export %s", c->fn);
		return SPN_ENOFUNC;
	}
	if (!call->ac->ancestor && !(call->ex->flags & SPN_ALLOW_ANY)) {
		export_error(call, SPN_EREFUSED, "%s may be called by "
		    "ancestors only, not by %s", c->fn, call->caller);
		return SPN_EREFUSED;
	}
	if (export_sig_check(call->ex, c->sig) != SPN_OK ||
	    value_sig_match(c->args, call->ex->sig, why, sizeof why) != 0) {
		export_error(call, SPN_ESIG, "%s takes \"%s\": %s", c->fn,
		    call->ex->sig, export_sig_check(call->ex, c->sig) ==
		    SPN_OK ? why : "the call's signature differs");
		return SPN_ESIG;
	}
	/* Its caller gave up already: do not start what nobody waits for. */
	if (agent_call_cancelled(call->ac) || (c->deadline_ms != 0 &&
	    now_usec() - call->ac->arrived >= c->deadline_ms * 1000ULL)) {
		export_error(call, SPN_ETIMEDOUT, "%s not started: its caller "
		    "gave up", c->fn);
		return SPN_ETIMEDOUT;
	}
	export_current = call->ex->name;
	rc = call->ex->fn(call, c->args, res);
	export_current = NULL;
	/* A last line printed without its newline would wait in stdio's
	 * buffer until the copy ends, and be lost then.  Not on the loop
	 * thread: it reads that pipe, so a full one would never drain. */
	if (!export_inline)
		fflush(stdout);
	if (rc != SPN_OK && call->err.code == SPN_OK)
		export_error(call, rc, "%s returned %d (%s)", c->fn, rc,
		    spn_strerror(rc));
	if (rc == SPN_OK)
		rc = export_results_check(call, c->fn, res);
	return rc;
}

/* A blocking spn_* function called from an SPN_INLINE export would
 * wait for the loop it holds. */
int
export_on_loop(void)
{
	return export_inline;
}

/* Run the decoded call and encode its answer into reply. */
static void
export_answer(struct agent_call *ac, const struct callmsg *c,
    struct agent_reply *reply)
{
	struct spn_call call = { .ac = ac };
	struct spn_vbuf *res, *out;
	const uint8_t *data;
	int rc;

	if (ac->caller == SPN_CTX_MASTER)
		snprintf(call.caller, sizeof call.caller, "master");
	else
		snprintf(call.caller, sizeof call.caller, "context %u",
		    ac->caller);
	res = vbuf_new();
	out = vbuf_new();
	rc = export_call(&call, c, res);
	if (rc == SPN_OK)
		rc = reply_pack_ok(out, res);
	else
		rc = reply_pack_err(out, &call.err);
	if (rc != 0) {
		reply->dead = SPN_D_FAILED;
		reply->text = xprintf("%s: cannot encode its answer", c->fn);
	} else {
		data = vbuf_data(out, &reply->len);
		reply->data = xmalloc(reply->len > 0 ? reply->len : 1);
		memcpy(reply->data, data, reply->len);
	}
	vbuf_free(out);
	vbuf_free(res);
}

/* A worker's: every call that was not SPN_INLINE. */
void
export_run(struct agent_call *ac, struct agent_reply *reply)
{
	struct spn_msg *m;
	struct callmsg c;
	char why[256];

	if (callmsg_unpack(ac->data, ac->len, &m, &c, why, sizeof why) != 0) {
		reply->dead = SPN_D_FAILED;
		reply->text = xprintf("malformed call: %s", why);
		return;
	}
	export_answer(ac, &c, reply);
	spn_msg_free(m);
}

/* Does any export run inline?  Then each CALL is decoded on the loop to
 * see; otherwise never. */
static int
export_any_inline(void)
{
	static int any = -1;
	const struct spn_export *e;

	if (any != -1)
		return any;
	any = 0;
	for (e = __start_spn_exports; e != NULL && e < __stop_spn_exports;
	    e++)
		any |= (e->flags & SPN_INLINE) != 0;
	return any;
}

/* The loop's, as a CALL arrives: 1 when it was an SPN_INLINE export's
 * and is answered (malformed calls are left to a worker to say so). */
int
export_run_inline(struct agent_call *ac, struct agent_reply *reply)
{
	const struct spn_export *e;
	struct spn_msg *m;
	struct callmsg c;
	char why[256];

	if (!export_any_inline() ||
	    callmsg_unpack(ac->data, ac->len, &m, &c, why, sizeof why) != 0)
		return 0;
	if ((e = export_find(c.fn)) == NULL || !(e->flags & SPN_INLINE)) {
		spn_msg_free(m);
		return 0;
	}
	export_inline = 1;
	export_answer(ac, &c, reply);
	export_inline = 0;
	spn_msg_free(m);
	return 1;
}
