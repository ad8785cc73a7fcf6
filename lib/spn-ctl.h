/*
 * The control protocol between spindle clients (the CLI, the ssh shim) and
 * the per-user daemon, over a UNIX stream socket.  docs/protocol.md
 * ("Control protocol") is the reference; keep the two in step.
 *
 * Message numbers are never reused: retire a number, do not recycle it.
 * Every message is
 *
 *	u32 len		bytes that follow (type, id and body), at most
 *			SPN_CTL_MAX
 *	u32 type	SPN_CTL_*
 *	u32 id		request id, chosen by the client; replies echo it
 *	body		u32s and strings packed as in router/pack.c
 */
#ifndef SPN_CTL_H
#define SPN_CTL_H

#define SPN_CTL_VERSION		2
#define SPN_CTL_MAX		(1024 * 1024)
#define SPN_CTL_HDR		12
#define SPN_CTL_SAY		8	/* RUN fd mask: tell failures yourself */
#define SPN_CTL_HOPS_MAX	256	/* hop passwords a spec may carry */

enum {
	/* Both ways, first: u32 version; the daemon adds u32 pid, str
	 * version of spindle, str its binary (readlink /proc/self/exe)
	 * and str that binary's "DEV:INO" in hex. */
	SPN_CTL_HELLO = 1,
	/* Daemon: str message, u32 exit status the client should use. */
	SPN_CTL_ERROR = 2,
	/* Daemon: str text (may be empty). */
	SPN_CTL_OK = 3,
	/* Client: run a command; SCM_RIGHTS carries the fds named in the
	 * mask (1 stdin, 2 stdout, 4 stderr), in that order; mask bit
	 * SPN_CTL_SAY: the daemon may tell a failed route on that stderr
	 * itself.  See client_run(). */
	SPN_CTL_RUN = 4,
	/* Daemon: u32 status (as a shell has it), str error or "", u32
	 * signal that killed the command or 0, u32 1 if the error was
	 * written to the client's stderr already. */
	SPN_CTL_EXIT = 5,
	/* Client, during RUN: u32 signal number. */
	SPN_CTL_SIGNAL = 6,
	/* Client, during RUN: u32 rows, u32 cols. */
	SPN_CTL_WINCH = 7,
	/* Client: str name, then the route spec (ctl_spec_pack). */
	SPN_CTL_UP = 8,
	/* Client: str name. */
	SPN_CTL_DOWN = 9,
	/* Client: u32 json (0/1).  Reply OK with the table. */
	SPN_CTL_LS = 10,
	/* Client: route spec.  Reply OK "rtt-usec" or ERROR. */
	SPN_CTL_CHECK = 11,
	/* Client: stop the daemon (reply OK first).  Accepted before
	 * HELLO too, so that any client can stop any daemon. */
	SPN_CTL_STOP = 12,
	/* Client: reply OK "pid N, M routes". */
	SPN_CTL_STATUS = 13,
	/* Daemon, during RUN: the route is up and the command started. */
	SPN_CTL_STARTED = 14,
	/* Client: route spec.  Reply OK with spindle info's lines, or
	 * ERROR. */
	SPN_CTL_INFO = 15,
	/* Client: route spec, u32 count, u32 size.  Reply OK with spindle
	 * ping's line, or ERROR. */
	SPN_CTL_PING = 16,
	/* Client: route spec, u32 mode (SPN_FWD_*), u32 flags
	 * (SPN_FWD_F_*), str host, u32 port (SOCKS: "", 0).  SCM_RIGHTS:
	 * one socket (DIRECT, SOCKS) or two fds, in then out (STDIO); the
	 * client closes its copies.  One FORWARD per control connection;
	 * it lasts until both ways are done or the client hangs up.
	 * Replies: CONNECTED, or ERROR (str, u32 status 255); then DONE. */
	SPN_CTL_FORWARD = 17,
	/* Client: route spec, u32 mode (DIRECT: connect to the target
	 * here; SOCKS: a remote dynamic forward), u32 flags, str bind at
	 * the far end ("": loopback), u32 port (0: any), str target host,
	 * u32 target port.  Reply LISTENING or ERROR; the listener lasts
	 * as long as the control connection. */
	SPN_CTL_LISTEN = 18,
	/* Daemon, during FORWARD: str the far end's peer address
	 * ("10.0.0.5:5432"), str the target asked ("db:5432"). */
	SPN_CTL_CONNECTED = 19,
	/* Daemon, during LISTEN: u32 the port bound at the far end. */
	SPN_CTL_LISTENING = 20,
	/* Daemon, the end of a FORWARD: u32 bytes in hi, lo, u32 bytes
	 * out hi, lo, str why it ended ("" when both sides closed). */
	SPN_CTL_DONE = 21,
	/* Client: route spec, u32 mode (DIRECT, SOCKS), u32 flags
	 * (SPN_FWD_F_UNIX, _TELL), str host, u32 port (SOCKS: "", 0), u32
	 * the first channel number.  SCM_RIGHTS: one listening socket,
	 * the daemon accepts on it as long as the control connection lasts,
	 * each connection a forward of its own.  Reply OK or ERROR; after
	 * OK, notices about a connection, each body starting with u32 its
	 * channel number then a FORWARD reply's body: ERROR (its open
	 * failed), and with _TELL CONNECTED and DONE. */
	SPN_CTL_ACCEPT = 22,
	/* Client (`spindle gateway connect`): str the name ssh was given
	 * (ProxyCommand's %n: "web.spindle", or "spindle" when the route
	 * is the SSH user name).  SCM_RIGHTS: one connected socket, the
	 * client's end of an SSH connection; the daemon hands it to
	 * spindle-gateway (starting it) with this same message over the
	 * gateway's own link, where auth "none" is then allowed.  Reply OK
	 * once handed over, or ERROR (str, u32 status 255). */
	SPN_CTL_GATEWAY = 23,
	/* Daemon, during a LISTEN with SPN_FWD_F_PASS: u32 connection
	 * number, str the far peer ("10.0.0.5:40312").  SCM_RIGHTS: one
	 * socket joined to that far connection; the client owns it. */
	SPN_CTL_ACCEPTED = 24,
};

/* FORWARD and LISTEN modes. */
#define SPN_FWD_DIRECT		1	/* to host:port */
#define SPN_FWD_SOCKS		2	/* the daemon reads a SOCKS4/4a/5
					 * request on the socket first */
#define SPN_FWD_STDIO		3	/* ssh -W: in and out are two fds */
/* FORWARD and LISTEN flags. */
#define SPN_FWD_F_UNIX		0x1	/* host is a UNIX socket path at the
					 * far end (LISTEN: bind is) */
#define SPN_FWD_F_TARGET_UNIX	0x2	/* LISTEN: the target is a UNIX
					 * socket path here */
#define SPN_FWD_F_TELL		0x4	/* ACCEPT: tell every connection's
					 * CONNECTED and DONE too */
#define SPN_FWD_F_PASS		0x8	/* LISTEN: no target here; each far
					 * connection is passed to the client
					 * (ACCEPTED), as the gateway's
					 * tcpip-forward needs */

#endif
