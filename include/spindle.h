/*
 * spindle.h: libspindle, a library for writing distributed
 * self-replicating programs.
 *
 * A program links libspindle (statically, with musl: spindle-cc), calls
 * spn_init() first thing in main(), connects to routes such as
 * "admin@bastion+web+sudo=webapp" and calls its own exported functions
 * there.  The copy of the program that runs in each remote context is the
 * program's own static image, sent over the route and run from memory; in
 * that copy spn_init() becomes the context's agent and never returns.
 *
 * Every function returns an int status: SPN_OK (0) or an SPN_E* code,
 * with the details in a struct spn_error where the function takes one.
 * Output pointers (a context, message or receiver) are set only on
 * SPN_OK; what they point to is the caller's to release.
 * man 3 spindle documents each function, its errors and thread rules.
 *
 * Threads: every spn_* function may be called from any thread.  Blocking
 * functions called on the library's own loop thread return SPN_EDEADLK
 * at once instead of hanging.  Contexts are reference counted and
 * immutable; received values are immutable and may be read from any
 * thread until their message is freed; a struct spn_vbuf belongs to one
 * thread.
 */
#ifndef SPINDLE_H
#define SPINDLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPN_API_VERSION		1

#if defined(__GNUC__)
#define SPN_FMT(a, b)	__attribute__((format(printf, a, b)))
#else
#define SPN_FMT(a, b)
#endif

/* Status codes.  Numbers are part of the API: never renumbered. */
enum spn_status {
	SPN_OK = 0,
	SPN_ECALL = 1,		/* the remote function (or service: a file
				 * transfer) failed: see the error */
	SPN_ETIMEDOUT = 2,	/* no answer in time; the context may live on */
	SPN_ECANCELLED = 3,	/* spn_recv_cancel() */
	SPN_ELOST = 4,		/* the context (or a hop below it) went away */
	SPN_ENOROUTE = 5,	/* no route to the context */
	SPN_EREFUSED = 6,	/* the context refused: policy */
	SPN_ENOFUNC = 7,	/* no such export, or the stock agent runs there */
	SPN_ESIG = 8,		/* arguments (or results) do not fit the signature */
	SPN_ETOOLARGE = 9,	/* a message over the route's frame limit */
	SPN_EPROTO = 10,	/* a malformed value or message */
	SPN_ECONNECT = 11,	/* a hop could not be started */
	SPN_EAUTH = 12,		/* a hop refused the password */
	SPN_EARCH = 13,		/* the remote machine's architecture differs */
	SPN_ENOTSTATIC = 14,	/* this program is not a static image */
	SPN_ESHUTDOWN = 15,	/* spn_shutdown() was called */
	SPN_ECLOSED = 16,	/* the receiver was closed, or its channel's
				 * sender ended it */
	SPN_ECRASH = 17,	/* the remote function crashed (isolated) */
	SPN_EDEADLK = 18,	/* a blocking call on the loop thread */
	SPN_EBUSY = 19,		/* spn_init() twice */
	SPN_EINVAL = 20,	/* a bad argument */
	SPN_ENOMEM = 21,
	SPN_ESYS = 22,		/* a local system call failed: sys_errno */
};

struct spn_error {
	int		 code;		/* enum spn_status */
	int		 sys_errno;	/* the far side's errno, or 0 */
	char		 context[64];	/* "web", "hop 2 (bastion+web)" */
	char		 where[128];	/* "install-app.c:42 install_app" */
	char		 message[512];
};
const char	*spn_strerror(int);
/* "context web: install-app.c:42 install_app: no /srv (No such file or
 * directory)"; returns what snprintf would. */
int		 spn_error_format(const struct spn_error *, char *, size_t);
/* The same, as one line on stderr, prefixed with the program's name. */
void		 spn_error_print(const struct spn_error *);

/* Lifecycle. */
struct spn;
struct spn_opts {
	int		 log_level;	/* 0: warnings and errors (SPN_LOG_*) */
	int		 workers;	/* per context, for exports; 0: 4 */
	/* The path of a static build of this same program (spindle-cc,
	 * from the same source: calls go by its export names), sent to
	 * contexts instead of this program's image: for builds that cannot
	 * be static, such as sanitizer builds.  NULL: our own image. */
	const char	*image;
};
#define SPN_LOG_ERROR	1
#define SPN_LOG_WARN	2
#define SPN_LOG_INFO	3
#define SPN_LOG_DEBUG	4
/*
 * First thing in main().  In a copy started by spindle this becomes that
 * context's agent and never returns.  Otherwise it starts the library's
 * loop thread and returns SPN_OK, SPN_EBUSY (called twice), SPN_ESYS, or
 * for opts->image SPN_ESYS (unreadable) or SPN_EINVAL (no static image),
 * the reason logged on stderr.
 */
int		 spn_init(int *, char ***, const struct spn_opts *,
		     struct spn **);
/* Wakes every waiter with SPN_ESHUTDOWN, ends every context below within
 * 5 s, frees everything.  Later calls return SPN_ESHUTDOWN. */
void		 spn_shutdown(struct spn *);
/* SPN_MAIN(fn); at file scope, like SPN_EXPORT: main() runs spn_init,
 * then int fn(struct spn *, int argc, char **argv), then spn_shutdown.
 * The declaration at its end takes the semicolon, which -pedantic
 * refuses after a function body. */
#define SPN_MAIN(fn)							\
int main(int argc, char **argv)						\
{									\
	struct spn *spn_main_;						\
	int spn_rc_;							\
	if (spn_init(&argc, &argv, NULL, &spn_main_) != SPN_OK)		\
		return 1;						\
	spn_rc_ = (fn)(spn_main_, argc, argv);				\
	spn_shutdown(spn_main_);					\
	return spn_rc_;							\
}									\
extern int spn_main_semicolon_

/* Contexts. */
struct spn_ctx;
struct spn_connect_opts {
	int		 timeout;	/* seconds per hop; 0: 30 */
	int		 keepalive;	/* seconds; 0: 15, -1: off */
	const char	*password;	/* for hops that take one; copied */
	const char	*password_file;	/* ... or its first line */
	int		 stdio;		/* SPN_STDIO_*: the context's output */
};
#define SPN_STDIO_FORWARD	0	/* lines to the log handler (default) */
#define SPN_STDIO_DISCARD	1	/* to /dev/null in the context */
/* route: the spindle command's grammar, e.g. "a@bastion+web+sudo=app",
 * "local", "local+sudo=www-data".  Blocks until every hop is up.
 * *ctx: one reference, the caller's; dropping the last one
 * (spn_ctx_unref) closes the route, as spn_ctx_shutdown does. */
int		 spn_connect(struct spn *, const char *,
		     const struct spn_connect_opts *, struct spn_ctx **,
		     struct spn_error *);
/* The context that started this one (agent mode), or NULL; no new
 * reference: it lives as long as the copy. */
struct spn_ctx	*spn_parent(struct spn *);
/* The route up to the context's hop, "a@bastion+web"; valid while a
 * reference is held. */
const char	*spn_ctx_name(const struct spn_ctx *);
uint32_t	 spn_ctx_id(const struct spn_ctx *);
struct spn_ctx	*spn_ctx_ref(struct spn_ctx *);
void		 spn_ctx_unref(struct spn_ctx *);
/* Ends the context (and what is below it); calls in flight get
 * SPN_ELOST.  grace_ms: how long its functions may run on. */
int		 spn_ctx_shutdown(struct spn_ctx *, int);

/* Starts a context from an existing one: route is the grammar's rest,
 * "web", "web+sudo=app", whose first hop the context via runs (so its
 * image and every argument cross the links above via once: a bastion).
 * The new context lives while via does and a reference is held. */
int		 spn_connect_from(struct spn_ctx *, const char *,
		     const struct spn_connect_opts *, struct spn_ctx **,
		     struct spn_error *);
/* n routes in parallel, at most window bootstraps in flight (0: 8);
 * ctxs[i] is set (else NULL) and errs[i] filled for each; errs may be
 * NULL.  Returns the number of routes that failed (0: all up), or a
 * negative status for a bad argument or shutdown.  Raises the soft
 * RLIMIT_NOFILE toward the hard one as contexts need it. */
int		 spn_connect_many(struct spn *, const char *const *, size_t,
		     unsigned, const struct spn_connect_opts *,
		     struct spn_ctx **, struct spn_error *);

/* Values.  Type letters of signatures:
 *   b bool  i int64_t  u uint64_t  d double  s string (const char *)
 *   y bytes (const void *, size_t)  n nil  v any (const struct spn_value *)
 *   C a context (struct spn_ctx *)  S a sender (struct spn_sender *)
 *   aX an array of n of letter X (b i u d s C): size_t n, then a
 *      pointer to n of what X reads (const int64_t *, const char *const *,
 *      struct spn_ctx *const *, ...)
 * An export's signature is "ARGS->RESULTS", e.g. "s,i->u" or "s->";
 * commas are optional.  A call's signature is its ARGS part.
 * The variable arguments of spn_call and spn_vbuf_put are read as:
 *   b int  i int64_t  u uint64_t  d double  s const char *
 *   y const void *, size_t (two)  n none  v const struct spn_value *
 *   C struct spn_ctx *  S struct spn_sender *
 *   aX size_t n, then const int64_t * (ai), const char *const * (as),
 *      struct spn_ctx *const * (aC), ... (two)
 * so an integer constant needs a cast: "i", (int64_t)5. */
enum spn_type {
	SPN_T_NIL = 0,
	SPN_T_BOOL,
	SPN_T_INT,
	SPN_T_UINT,
	SPN_T_DOUBLE,
	SPN_T_STR,
	SPN_T_BYTES,
	SPN_T_ARRAY,
	SPN_T_MAP,
	SPN_T_CTX,
	SPN_T_SENDER,
};
struct spn_value;
struct spn_msg;
struct spn_vbuf;
/* A message's value: the array of a call's results, one per result
 * letter (read them with spn_arg_*).  Values, strings and bytes taken
 * from a message are views into it, valid until spn_msg_free. */
const struct spn_value *spn_msg_value(const struct spn_msg *);
void		 spn_msg_free(struct spn_msg *);
int		 spn_value_type(const struct spn_value *);
/* SPN_OK, or SPN_EINVAL when the value is of another type. */
int		 spn_value_bool(const struct spn_value *, int *);
int		 spn_value_int(const struct spn_value *, int64_t *);
int		 spn_value_uint(const struct spn_value *, uint64_t *);
int		 spn_value_double(const struct spn_value *, double *);
/* NUL-terminated (a string may hold NULs: len says); NULL if not one. */
const char	*spn_value_str(const struct spn_value *, size_t *);
const void	*spn_value_bytes(const struct spn_value *, size_t *);
/* Elements of an array or pairs of a map. */
size_t		 spn_value_len(const struct spn_value *);
const struct spn_value *spn_value_at(const struct spn_value *, size_t);
const struct spn_value *spn_value_key(const struct spn_value *, size_t);
const struct spn_value *spn_value_get(const struct spn_value *,
		     const char *);
/* Shorthands on an array (arguments, results): 0 or NULL when absent or
 * of another type. */
const char	*spn_arg_str(const struct spn_value *, size_t);
int64_t		 spn_arg_int(const struct spn_value *, size_t);
uint64_t	 spn_arg_uint(const struct spn_value *, size_t);
int		 spn_arg_bool(const struct spn_value *, size_t);
double		 spn_arg_double(const struct spn_value *, size_t);
const void	*spn_arg_bytes(const struct spn_value *, size_t, size_t *);
/* A context or a sender a message carries, as a new reference/object
 * of the caller's (spn_ctx_unref, spn_sender_close); NULL when absent,
 * of another type, or (a sender) its receiver cannot be reached from
 * here.  Each call makes a new one. */
struct spn_ctx	*spn_value_ctx(const struct spn_value *);
struct spn_ctx	*spn_arg_ctx(const struct spn_value *, size_t);
struct spn_sender;
struct spn_sender *spn_value_sender(const struct spn_value *);
struct spn_sender *spn_arg_sender(const struct spn_value *, size_t);
/* Append values, one per letter of the signature; a group in brackets,
 * "[si]" or "{sisi}" (key, value, ...), is one array or map of what it
 * holds.  All or nothing: SPN_OK, SPN_EINVAL (a bad signature, a NULL
 * string), SPN_ETOOLARGE (over 16 MiB), SPN_ENOMEM. */
int		 spn_vbuf_put(struct spn_vbuf *, const char *, ...);
/* Start an array of n elements, or a map of n pairs: the next n (2n:
 * key, value, ...) values appended are its contents.  Nesting stops at
 * 32 levels (SPN_EINVAL), less what a call's own layout takes (2). */
int		 spn_vbuf_array(struct spn_vbuf *, size_t);
int		 spn_vbuf_map(struct spn_vbuf *, size_t);

/* Exports: the functions a context offers, by name and signature.
 * Return SPN_OK with the results in the vbuf, or spn_fail()'s value. */
struct spn_call;
typedef int spn_fn(struct spn_call *, const struct spn_value *,
		     struct spn_vbuf *);
struct spn_export {
	const char	*name;
	const char	*sig;
	spn_fn		*fn;
	unsigned	 flags;
};
#define SPN_ALLOW_ANY	0x1	/* any context may call it, not only
				 * ancestors (a child calling its parent) */
#define SPN_INLINE	0x2	/* runs on the context's loop thread, not a
				 * worker: for functions of microseconds that
				 * never block (a round trip less); a blocking
				 * spn_* call there returns SPN_EDEADLK */
#define SPN_EXPORT_FLAGS(f, s, fl)					\
	static const struct spn_export spn_export_##f			\
	__attribute__((used, retain, section("spn_exports"),		\
	    aligned(sizeof(void *)))) = { #f, s, f, fl }
#define SPN_EXPORT(f, s)	SPN_EXPORT_FLAGS(f, s, 0)

/* Calls: (ctx, fn, timeout_ms, &msg, &err, sig, args...).  timeout_ms:
 * -1 (any negative) forever, else milliseconds: 0 does not wait, and
 * times out at once.  msg may be NULL (results dropped);
 * else free *msg with spn_msg_free. */
struct spn_recv;
int		 spn_call(struct spn_ctx *, const char *, int,
		     struct spn_msg **, struct spn_error *, const char *, ...);
int		 spn_call_async(struct spn_ctx *, const char *,
		     struct spn_recv **, struct spn_error *, const char *,
		     ...);
/* The answer, once.  SPN_ETIMEDOUT leaves the call running: wait again,
 * cancel or close.  Every receiver is closed with spn_recv_close,
 * answered or not. */
int		 spn_recv_get(struct spn_recv *, int, struct spn_msg **,
		     struct spn_error *);
/* The waiter gets SPN_ECANCELLED at once; the remote function sees
 * spn_cancelled(). */
int		 spn_recv_cancel(struct spn_recv *);
/* Frees it; a waiter on another thread gets SPN_ECLOSED. */
void		 spn_recv_close(struct spn_recv *);

/* In an export. */
int		 spn_cancelled(const struct spn_call *);
struct spn	*spn_call_spn(const struct spn_call *);
/* Who called: "master", else "context ID". */
const char	*spn_call_caller(const struct spn_call *);
/* Fills the call's error and returns SPN_ECALL, for the export to
 * return.  errnum: an errno value, or 0. */
int		 spn_fail_at(struct spn_call *, const char *, int,
		     const char *, int, const char *, ...) SPN_FMT(6, 7);
#define spn_fail(call, errnum, ...)					\
	spn_fail_at((call), __FILE__, __LINE__, __func__, (errnum),	\
	    __VA_ARGS__)

/* The context a receiver hears from (no new reference). */
struct spn_ctx	*spn_recv_ctx(const struct spn_recv *);

/* Several receivers at once.  A receiver belongs to at most one select
 * (SPN_EBUSY); a select may hold other selects (nested).  With
 * SPN_SELECT_ONESHOT a call's receiver leaves the select once its
 * answer is taken, a channel's at its end. */
struct spn_select;
#define SPN_SELECT_ONESHOT	0x1
int		 spn_select_new(unsigned, struct spn_select **);
int		 spn_select_add(struct spn_select *, struct spn_recv *);
int		 spn_select_add_select(struct spn_select *,
		     struct spn_select *);
int		 spn_select_remove(struct spn_select *, struct spn_recv *);
/* The next message of any receiver in it, in arrival order: *r is the
 * receiver (of a nested select too), the return value and *msg, *err
 * what spn_recv_get(*r) would give.  SPN_ETIMEDOUT: nothing within
 * timeout_ms; SPN_ECLOSED with *r NULL: no receiver is left. */
int		 spn_select_get(struct spn_select *, int, struct spn_recv **,
		     struct spn_msg **, struct spn_error *);
/* An fd readable while a message waits in the select, for poll, epoll,
 * libevent or GLib loops; spn_select_get drains it.  Owned by the
 * select.  -1 if it cannot be made (errno says why) or after
 * spn_shutdown. */
int		 spn_select_fd(struct spn_select *);
/* Frees the select; its receivers stay open, in no select. */
void		 spn_select_free(struct spn_select *);

/* Channels: a receiver here, a sender passed ('S') to the context peer,
 * which sends values until either side closes.  window: bytes in flight
 * (0: 256 KiB); a sender with no credit left blocks.  spn_recv_get gives
 * each message in order (its value an array, one element per letter),
 * then SPN_ECLOSED once the sender closed, SPN_ELOST if peer died.  The
 * sender (spn_recv_sender) belongs to the receiver: pass it, never
 * close it. */
int		 spn_channel_open(struct spn *, struct spn_ctx *, size_t,
		     struct spn_recv **, struct spn_error *);
struct spn_sender *spn_recv_sender(struct spn_recv *);
/* SPN_OK; SPN_ETIMEDOUT (nothing sent); SPN_ECLOSED (the receiver was
 * closed), SPN_ELOST, SPN_ESIG, SPN_ETOOLARGE, SPN_ESHUTDOWN. */
int		 spn_send(struct spn_sender *, int, const char *, ...);
/* Ends the stream (the receiver sees SPN_ECLOSED after the last
 * message) and frees the sender. */
int		 spn_sender_close(struct spn_sender *);

/* Logs and output.  spn_log in any context and thread reaches the
 * master tagged with the context, if the master's level lets it
 * (spn_opts.log_level, spn_set_log_level); a flood blocks the thread
 * that logs, never grows memory.  A context's stdout and stderr, and
 * those of everything it starts, reach the master line by line.  The
 * handler (default: a line on stderr, "[web] stdout: text") runs on the
 * library's log thread, one record at a time, in order per context; it
 * may block, which holds back the contexts' output, never calls. */
struct spn_log_rec {
	uint32_t	 ctx_id;
	const char	*context;	/* "master", or the context's route */
	int		 level;		/* SPN_LOG_*; SPN_LOG_INFO for output */
	const char	*stream;	/* NULL (spn_log), "stdout", "stderr" */
	const char	*text;		/* one line, no newline, cleaned */
	size_t		 len;
};
typedef void	 spn_log_fn(const struct spn_log_rec *, void *);
void		 spn_log(int, const char *, ...) SPN_FMT(2, 3);
/* NULL: the default lines. */
void		 spn_set_log_handler(struct spn *, spn_log_fn *, void *);
void		 spn_set_log_level(struct spn *, int);

/* Files, over credit-window streams: written to a temporary name in the
 * destination's directory, then renamed; mode: permission bits (-1:
 * 0644 for put, the source's for get).  A failure names the path and
 * the errno: SPN_ECALL (far side, err.context set) or SPN_ESYS (here).
 * The _fd forms stream from an fd to its end, or to an fd.
 *   spn_put_file(ctx, local, remote, mode, &err)
 *   spn_get_file(ctx, remote, local, mode, &err)
 *   spn_put_fd(ctx, fd, remote, mode, &err)
 *   spn_get_fd(ctx, remote, fd, &err) */
int		 spn_put_file(struct spn_ctx *, const char *, const char *,
		     int, struct spn_error *);
int		 spn_get_file(struct spn_ctx *, const char *, const char *,
		     int, struct spn_error *);
int		 spn_put_fd(struct spn_ctx *, int, const char *, int,
		     struct spn_error *);
int		 spn_get_fd(struct spn_ctx *, const char *, int,
		     struct spn_error *);

/* Tunnels: a TCP connection made by ctx to host:port (names resolved
 * there: "localhost" is the far side's loopback), or, host starting with
 * '/' and port 0, to that UNIX socket there.  Returns a local socket
 * carrying it (close it to end; shutdown(fd, SHUT_WR) sends the far side
 * a FIN), or -1 with err set (SPN_ECALL: the far side's words, as
 * "connect to db:5432: Connection refused", err.sys_errno its errno).
 * timeout_ms: to connect (0: 10 s).
 *   fd = spn_tcp_connect(ctx, "db", 5432, 0, &err) */
int		 spn_tcp_connect(struct spn_ctx *, const char *, int, int,
		     struct spn_error *);

/* Fan-out: fn on n contexts, at most window calls in flight (0: 64),
 * each with its own timeout.  out[i] gets each context's status,
 * results (spn_msg_free them) and error.  Returns the number that
 * failed, or a negative status for a bad argument.  For answers as they
 * come: spn_call_async on each and a SPN_SELECT_ONESHOT select. */
struct spn_result {
	int		 code;
	struct spn_msg	*msg;
	struct spn_error err;
};
int		 spn_call_many(struct spn_ctx *const *, size_t, const char *,
		     int, unsigned, struct spn_result *, const char *, ...);

/* Run a command in a context (the EXEC service: what `spindle run`
 * does): (ctx, argv, fd_in, fd_out, fd_err, &status, &err).  fds: -1
 * for /dev/null.  status: as a shell reports it. */
int		 spn_exec(struct spn_ctx *, const char *const *, int, int,
		     int, int *, struct spn_error *);

#ifdef __cplusplus
}
#endif
#endif
