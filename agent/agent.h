/*
 * agent room: the services every context offers, and the caller's side of
 * them (used by the master, the daemon and libspindle alike).
 */
#ifndef SPN_AGENT_H
#define SPN_AGENT_H

#include "../router/router.h"
#include "../bootstrap/bootstrap.h"

/* run.c: the agent, for the stock binary and libspindle's agent mode */
struct agent_call;
struct agent_reply;
struct agent_ops {
	/* Once, on the main thread, before the loop starts (stdio moved,
	 * signals reset). */
	void	(*start)(void);
	/* On a worker thread, before its first call (a sigaltstack). */
	void	(*worker_start)(void);
	/* On a worker thread: answer one CALL payload (svc-call.c). */
	void	(*run)(struct agent_call *, struct agent_reply *);
	/* On the loop thread, as the CALL arrives: 1 when it answered the
	 * call itself (a function that never blocks), 0 to queue it for a
	 * worker.  May be NULL. */
	int	(*run_inline)(struct agent_call *, struct agent_reply *);
	int	 workers;		/* at most this many; 0: 4 */
	/* Output and spn_log records as STDIO streams (svc-stdio.c), once
	 * the master asks, rather than stdout lines as log records. */
	int	 stdio;
};
void		 agent_run(int, char **, const struct agent_ops *)
		     __attribute__((noreturn));
/* The fd of the stderr the agent was started with (its parent reads
 * it): for a line that must reach the parent when all else failed. */
int		 agent_stderr(void);
struct rt	*agent_router(void);
struct broker	*agent_broker(void);
/* The write end of spn_log's record pipe, or -1 (not a program's copy). */
int		 agent_log_fd(void);

/* svc-call.c: CALL (handle SPN_H_CALL), transport only */
struct agent_call {
	const uint8_t	*data;		/* the CALL payload */
	size_t		 len;
	uint32_t	 caller;	/* context id */
	int		 ancestor;	/* the caller is one of ours */
	uint64_t	 arrived;	/* now_usec() when it came */
	int		 cancelled;	/* read with agent_call_cancelled() */
};
struct agent_reply {
	uint8_t		*data;		/* REPLY payload (malloc'd), or */
	size_t		 len;
	uint32_t	 dead;		/* SPN_D_* for a DEAD instead */
	char		*text;		/* (malloc'd) */
};
void		 svc_call_init(struct rt *, struct broker *,
		     const struct agent_ops *);
int		 agent_call_cancelled(const struct agent_call *);
void		 svc_call_gone(uint32_t);
void		 svc_call_stop(void);

/* svc-stdio.c: STDIO (handle SPN_H_STDIO), libspindle's agent mode */
void		 svc_stdio_init(struct rt *, int, int, int);

/* svc-basic.c */
void		 svc_basic_init(struct rt *);

/* svc-exec.c */
void		 svc_exec_init(struct rt *);
void		 svc_exec_killall(void);

/* svc-file.c: FILE (handle SPN_H_FILE), and the temporary file a put
 * writes, the master's too */
struct ftmp {
	int		 dirfd;		/* the destination's directory */
	int		 fd;		/* the temporary file */
	char		*base;		/* the destination's name in dirfd */
	char		*tmp;		/* the temporary file's, or NULL while
					 * it has none (O_TMPFILE) */
};
void		 ftmp_init(struct ftmp *, int);
int		 ftmp_open(struct ftmp *, const char *);
int		 ftmp_commit(struct ftmp *, mode_t, const char **);
void		 ftmp_abort(struct ftmp *);
void		 svc_file_init(struct rt *);
void		 svc_file_abort_all(void);

/* call.c: one request, replies on a private handle */
typedef int call_fn(struct rt *, const struct rt_msg *, void *);
uint32_t	 call_start(struct rt *, uint32_t, uint32_t, struct pk *,
		     call_fn *, void *);
void		 call_cancel(struct rt *, uint32_t);
char		*call_dead_text(const struct rt_msg *);

/* exec-client.c */
struct exec_req {
	uint32_t	 ctx;
	uint32_t	 flags;
	char		**argv;
	char		**env;
	const char	*cwd;
	int		 fd_in;		/* -1: /dev/null remotely */
	int		 fd_out;
	int		 fd_err;
	uint32_t	 rows;		/* with SPN_EXEC_PTY */
	uint32_t	 cols;
	const char	*term;		/* TERM for the pty, or NULL */
};
struct xcl;
/* code: exit status as a shell reports it (128+N for signal N), or -1
 * when the context failed; err then says why. */
typedef void exec_done_fn(struct xcl *, int, const char *, void *);
struct xcl	*exec_start(struct rt *, const struct exec_req *,
		     exec_done_fn *, void *);
void		 exec_signal(struct xcl *, int);
void		 exec_winch(struct xcl *, uint32_t, uint32_t);
void		 exec_free(struct xcl *);
uint64_t	 exec_bytes(struct xcl *);
int		 exec_killed_by(struct xcl *);

/* svc-tcp.c: TCP (handle SPN_H_TCP), in every agent */
void		 svc_tcp_init(struct rt *);
void		 svc_tcp_stop(void);

/* svc-listen.c: LISTEN (handle SPN_H_LISTEN), in every agent */
void		 svc_listen_init(struct rt *);
void		 svc_listen_stop(void);

/*
 * tcp-client.c: a TCP connection made by a context (names resolved
 * there), joined to fds here: bytes read from fd_in go out on the far
 * socket, bytes from it are written to fd_out.  EOF on fd_in becomes the
 * far socket's shutdown(SHUT_WR); the far side's FIN becomes
 * shutdown(fd_out, SHUT_WR) on a socket, close on anything else.  The
 * fds are the tcl's from tcp_start on (fd_in may equal fd_out).  No
 * byte of fd_out is written before the open callback has returned.
 */
struct tcp_req {
	uint32_t	 ctx;
	uint32_t	 flags;		/* SPN_TCP_F_* */
	const char	*host;		/* a name, an address or a path */
	uint32_t	 port;
	uint32_t	 timeout_ms;	/* 0: SPN_TCP_TIMEOUT_DEFAULT */
	int		 fd_in;
	int		 fd_out;
};
struct tcl;
/* Once: err 0 and text the far end's peer ("10.0.0.5:5432"), or an
 * errno and the far side's words ("connect to db:5432: Connection
 * refused") or ours (the context lost).  After a failure, done follows
 * (so a caller may free in either). */
typedef void	 tcp_open_fn(struct tcl *, int, const char *, void *);
/* Once, at the end: why is NULL when both ways ended cleanly, else
 * what cut it (the context lost, a reset). */
typedef void	 tcp_done_fn(struct tcl *, const char *, void *);
struct tcl	*tcp_start(struct rt *, const struct tcp_req *, tcp_open_fn *,
		     tcp_done_fn *, void *);
/* A connection the far side made already (LISTEN's, far_sink its sink
 * there): carried as tcp_start's are; *sink gets our sink's handle, for
 * the far side. */
struct tcl	*tcp_join(struct rt *, uint32_t, int, int, uint32_t,
		     tcp_done_fn *, void *, uint32_t *);
void		 tcp_free(struct tcl *);
uint64_t	 tcp_bytes_in(struct tcl *);	/* from the far socket */
uint64_t	 tcp_bytes_out(struct tcl *);	/* to it */

/*
 * listen-client.c: a listener at a context (ssh -R).  Each connection it
 * accepts is offered to the conn callback, which attaches fds to it
 * (now or later: the far side holds it) or refuses it.  rlisten_free closes
 * the listener; connections already attached live on.
 */
struct rlis;
/* Once: port the one bound (>0; 0 for a UNIX socket), or -1 and why;
 * after a port, once more with -1 and why if the listener is lost (its
 * context gone). */
typedef void	 rlisten_up_fn(struct rlis *, int, const char *, void *);
/* conn: the far side's number for it; peer: its address there. */
typedef void	 rlisten_conn_fn(struct rlis *, uint32_t, const char *,
		     void *);
/* (rt, ctx, flags SPN_TCP_F_UNIX: bind is a path, bind "": loopback,
 * port 0: any, up, conn, arg) */
struct rlis	*rlisten_start(struct rt *, uint32_t, uint32_t, const char *,
		     uint32_t, rlisten_up_fn *, rlisten_conn_fn *, void *);
struct tcl	*rlisten_attach(struct rlis *, uint32_t, int, int,
		     tcp_done_fn *, void *);
void		 rlisten_refuse(struct rlis *, uint32_t);
void		 rlisten_free(struct rlis *);

#endif
