/*
 * spindle wire protocol constants.  docs/protocol.md explains them.
 *
 * Numbers in this file are part of the wire format: never renumber or
 * reuse one.  Retire a value by commenting it out with its old meaning.
 */
#ifndef SPN_PROTO_H
#define SPN_PROTO_H

#include <stdint.h>

#define SPN_MAGIC		0x534e	/* "SN" */
#define SPN_VERSION		1
#define SPN_HDR_LEN		24

/* Default and hard limits.  A frame's payload may never exceed max_frame. */
#define SPN_MAX_FRAME_DEFAULT	(1024 * 1024)
#define SPN_MAX_FRAME_HARD	(16 * 1024 * 1024)
#define SPN_WINDOW_DEFAULT	(1024 * 1024)
#define SPN_CHUNK_DEFAULT	(128 * 1024)
#define SPN_KEEPALIVE_DEFAULT	15	/* seconds */

/* Context ids.  0 is "none", the master is always 1. */
#define SPN_CTX_NONE		0
#define SPN_CTX_MASTER		1

/* Frame kinds (header byte 3). */
enum spn_kind {
	SPN_K_CALL = 1,		/* request to a service handle */
	SPN_K_REPLY = 2,	/* answer to a CALL's reply_to */
	SPN_K_DEAD = 3,		/* dead letter: u32 reason, str text */
	SPN_K_DATA = 4,		/* stream bytes; reply_to = credit handle */
	SPN_K_EOF = 5,		/* end of stream */
	SPN_K_CREDIT = 6,	/* u32 bytes granted to a stream source */
	SPN_K_CANCEL = 7,	/* u32 signal: stop what the handle runs */
	SPN_K_ROUTE_ADD = 8,	/* u32 ctx: ctx now lies behind sender */
	SPN_K_ROUTE_DEL = 9,	/* u32 ctx, str reason */
	SPN_K_LOG = 10,		/* u32 level, str context name, str text */
	SPN_K_BOOT = 11,	/* parent -> new agent: its identity */
	SPN_K_HELLO = 12,	/* new agent -> parent: ready */
	SPN_K_KEEPALIVE = 13,	/* link liveness probe, no payload */
	SPN_K_KEEPALIVE_ACK = 14,
	SPN_K_WINCH = 15,	/* u32 rows, u32 cols: a pty's new size */
	SPN_K_GONE = 16,	/* u32 ctx, str reason: a context this one
				 * talked to has gone (siblings hear of it) */
};
#define SPN_K_MAX		16

/* Well-known handles.  Dynamic handles start at SPN_H_DYNAMIC. */
enum spn_handle {
	SPN_H_ROUTER = 0,	/* link control: BOOT HELLO ROUTE_* KEEPALIVE */
	SPN_H_PING = 1,		/* echo the payload back */
	SPN_H_INFO = 2,		/* pid, uid, user, host, arch, kernel */
	SPN_H_EXEC = 3,		/* run a process with stdio streams */
	SPN_H_CONNECT = 4,	/* start a child context from here */
	SPN_H_LOG = 5,		/* log sink (in the master) */
	SPN_H_CALL = 6,		/* libspindle: run an export (MessagePack) */
	SPN_H_STDIO = 7,	/* libspindle: stdout, stderr, logs as streams */
	SPN_H_FILE = 8,		/* libspindle: put and get files */
	SPN_H_TCP = 9,		/* connect host:port (or a UNIX socket)
				 * here, the socket as two streams */
	SPN_H_LISTEN = 10,	/* listen here (ssh -R), each accepted
				 * socket as two streams */
};
#define SPN_H_DYNAMIC		1024

/* MessagePack extension types in libspindle values (docs/protocol.md,
 * "Calls").  Decoders take CONTEXT and SENDER, reject the others. */
#define SPN_EXT_ERROR		1
#define SPN_EXT_CONTEXT		2	/* u32 id, str name */
#define SPN_EXT_SENDER		3	/* u32 context, u32 handle, u32 window */
#define SPN_EXT_SECRET		4	/* bytes masked in logs */

/* Dead-letter reasons (first u32 of a DEAD payload). */
enum spn_dead {
	SPN_D_NO_ROUTE = 1,
	SPN_D_TOO_LARGE = 2,
	SPN_D_REFUSED = 3,
	SPN_D_NO_HANDLE = 4,
	SPN_D_LOST = 5,		/* the context went away */
	SPN_D_FAILED = 6,	/* the service ran and failed; text says why */
};

/* Log levels (macros, as include/spindle.h has the same ones). */
#define SPN_LOG_ERROR		1
#define SPN_LOG_WARN		2
#define SPN_LOG_INFO		3
#define SPN_LOG_DEBUG		4

/* STDIO requests (first u32 of a CALL to SPN_H_STDIO). */
#define SPN_STDIO_OP_START	1	/* u32 window, u32 sinks: stdout,
					 * stderr, log (0: discard) */
#define SPN_STDIO_OP_SYNC	2	/* REPLY once what the pipes held
					 * has been sent */

/* EXEC call flags. */
#define SPN_EXEC_SHELL		0x1	/* argv[0] is a shell command string */
#define SPN_EXEC_CLEARENV	0x2	/* start from an empty environment */
#define SPN_EXEC_NOSTDIN	0x4	/* stdin is /dev/null */
#define SPN_EXEC_USERSHELL	0x10	/* argv[0] is a string for the user's
					 * login shell, as sshd runs commands */
#define SPN_EXEC_PTY		0x8	/* stdio on a new pty; u32 rows, u32 cols,
					 * str TERM follow the request's other
					 * fields */
#define SPN_EXEC_LOGIN		0x20	/* as sshd does: HOME, USER, LOGNAME,
					 * SHELL set, cwd the home directory;
					 * alone, the user's login shell runs
					 * (argv unused: ssh with no command) */
#define SPN_EXEC_HOME		0x40	/* start in the home directory (a
					 * relative cwd from there), as sshd */

/* EXEC reply tags (first u32 of a REPLY on the exec reply handle). */
#define SPN_EXEC_STARTED	1	/* u32 pid, u32 stdin, u32 control */
#define SPN_EXEC_EXITED		2	/* u32 exit status, u32 signal */
#define SPN_EXEC_FAILED		3	/* u32 exit status, str message */

/* FILE requests (first u32 of a CALL to SPN_H_FILE): u32 op, str path,
 * u32 mode (PUT), u32 sink handle (GET). */
#define SPN_FILE_PUT		1	/* write path from a stream */
#define SPN_FILE_GET		2	/* stream path to the sink */

/* FILE reply tags (first u32 of a REPLY on the request's reply handle). */
#define SPN_FILE_READY		1	/* PUT: u32 sink, u32 control */
#define SPN_FILE_INFO		2	/* GET: u32 size hi, u32 lo, u32 mode,
					 * u32 control; the stream follows */
#define SPN_FILE_DONE		3	/* u32 bytes hi, u32 lo: the end */
#define SPN_FILE_FAILED		4	/* u32 errno, str what failed: the end */

/* TCP: a CALL to SPN_H_TCP connects; its payload, the reply tags and
 * the stream pair are in docs/protocol.md ("Tunnels").  Flags: */
#define SPN_TCP_F_UNIX		0x1	/* host is a UNIX socket's path */
/* TCP reply tags (first u32 of a REPLY on the request's reply handle). */
#define SPN_TCP_CONNECTED	1	/* the socket is up; streams follow */
#define SPN_TCP_FAILED		2	/* u32 errno, str the far side's words */
#define SPN_TCP_CLOSED		3	/* both ways done: the end */

/* LISTEN reply tags, and what each accepted connection sends. */
#define SPN_LISTEN_BOUND	1	/* u32 the port bound */
#define SPN_LISTEN_FAILED	2	/* u32 errno, str the far side's words */
#define SPN_LISTEN_ACCEPTED	3	/* a connection came (docs/protocol.md) */
#define SPN_TCP_TIMEOUT_DEFAULT	10000	/* ms to connect, when not given */

/* FAILED's status when the command never started for a reason of ours
 * (cwd, pty, fds), as env(1) does: not 126 or 127, which are the
 * command's. */
#define SPN_EXEC_CANNOT		125
#define SPN_EXEC_TERM_MAX	255	/* longest TERM a pty request carries */

#endif
