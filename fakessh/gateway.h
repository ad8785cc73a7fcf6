/*
 * spindle-gateway: an SSH server (libssh 0.10 in server mode, driven from
 * a libevent loop, one thread) in front of the daemon's routes, so that
 * any SSH client reaches a route.  Its own process, a child of the daemon
 * (cli/dgateway.c); the spindle binary and the shim never link libssh.
 * Every SSH channel becomes a daemon request with passed fds: a session
 * a RUN, a direct-tcpip a FORWARD, a tcpip-forward a LISTEN with
 * SPN_FWD_F_PASS.  GATEWAY.md §3 (rules R1-R10) is how the loop drives
 * libssh; docs/architecture.md "The SSH gateway" says what we chose.
 */
#ifndef SPN_GATEWAY_H
#define SPN_GATEWAY_H

#include <sys/queue.h>

#include <stdio.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <libssh/server.h>
#include <libssh/callbacks.h>

#include "../lib/lib.h"

/* Defaults of the routes file's gateway-* options (lib.h gateway_opts). */
#define GW_MAX_CONNECTIONS	32
#define GW_MAX_STARTUPS		10	/* not yet authenticated, at once */
#define GW_MAX_CHANNELS		64	/* per connection */
#define GW_LOGIN_GRACE		20	/* seconds to authenticate */
#define GW_IDLE			45	/* seconds without a byte: closed */
#define GW_KEEPALIVE		15	/* seconds idle: keepalive@openssh.com */
#define GW_AUTH_TRIES		6
#define GW_STAGING_MAX		(256 * 1024 * 1024) /* all channels' buffers:
					 * past it, new channels are refused */

/*
 * gw-main.c: the process.  `spindle-gateway serve FD`: FD is the daemon's
 * link, on which GATEWAY messages (lib/spn-ctl.h) bring client sockets;
 * its EOF ends us.  `spindle-gateway key ...` is gw_key_main.  The
 * daemon makes our stderr its log; lines go through router/log.c.
 */
struct gw_limits {
	int		 max_connections;
	int		 max_startups;
	int		 max_channels;
	int		 login_grace;
	int		 idle;
};
extern struct gw_limits gw_limits;	/* the defaults, or the routes file's */
struct event_base *gw_base(void);
ssh_bind	 gw_bind(void);		/* holds the host key */

/*
 * gw-conn.c: one SSH connection: key exchange, authentication (none on
 * a trusted socket, publickey from the allowlist on TCP), the R1-R10
 * loop, its channels, limits, keepalive.  Callbacks from libssh only
 * record and schedule; frees happen from the loop (R8).
 */
struct gw_conn;
/* fd: a connected socket, now ours.  name: what ssh was given
 * ("web.spindle", "spindle") on the daemon's path, NULL on TCP.
 * trusted: it came through the daemon's uid-checked socket, so auth
 * "none" is allowed on it (and only on it).  NULL: over a limit, fd
 * closed. */
struct gw_conn	*gw_conn_new(int, const char *, int);
/* Ends it (its channels, its requests at the daemon) from the loop. */
void		 gw_conn_kill(struct gw_conn *, const char *);
/* The route this connection reaches: NAME of NAME.spindle, else the SSH
 * user name ("admin@bastion+web+sudo=webapp"); a route name, an inline
 * route or a host, as the shim takes ssh's destination.  -1 and why. */
int		 gw_conn_spec(struct gw_conn *, struct ctl_spec *, char *,
		     size_t);
ssh_session	 gw_conn_session(struct gw_conn *);
/* After writing into libssh from outside its callbacks: run the
 * after-pass soon (R1 EV_WRITE, R4 window scan, deferred frees). */
void		 gw_conn_kick(struct gw_conn *);
/* A new channel fits the per-connection and staging limits. */
int		 gw_conn_chan_ok(struct gw_conn *);
size_t		 gw_conn_count(void);
void		 gw_conn_shutdown(void);

/*
 * gw-chan.c: an SSH channel pumped to and from local fds with bounded
 * memory (R4-R7): the client's data goes to `in`; what `out` gives is
 * channel data, what `err` gives extended data (stderr).  in == out: one
 * socket, half-closed each way (direct-tcpip).
 */
struct gw_chan;
typedef void gw_chan_fn(struct gw_chan *, void *);
/* Takes over ch (its data, EOF and close callbacks); gone runs once,
 * from the loop, when the channel is closed by either side or the
 * connection ends: the owner then lets go of what it holds.  (Closed
 * both ways: after it libssh calls none of the channel's callbacks,
 * and ch and the ssh_channel are freed.) */
struct gw_chan	*gw_chan_new(struct gw_conn *, ssh_channel, gw_chan_fn *,
		     void *);
/* Start pumping; fds non-blocking, now ours; -1: none. */
void		 gw_chan_start(struct gw_chan *, int, int, int);
/* Once out and err reached EOF and all of it was sent: exit-status (or
 * exit-signal "TERM" etc. when the name is not NULL), EOF, close.
 * Status -1 and no name: no exit message (a TCP channel).  in == out
 * closes by itself once both directions reached EOF. */
void		 gw_chan_exit(struct gw_chan *, int, const char *);
/* A line for the client's stderr (extended data), now. */
void		 gw_chan_say(struct gw_chan *, const char *);
/* Close now (refused, failed); gone runs later. */
void		 gw_chan_close(struct gw_chan *);
ssh_channel	 gw_chan_ssh(struct gw_chan *);
struct gw_conn	*gw_chan_conn(struct gw_chan *);
/* Between gw-conn.c and gw-chan.c only: a connection's channels. */
TAILQ_HEAD(gw_chan_list, gw_chan);
struct gw_chan_list *gw_conn_chans(struct gw_conn *);
struct gw_chan	*gw_chan_next(struct gw_chan *);
int		 gw_chan_after(struct gw_chan *);	/* 1: freed */
void		 gw_chan_end(struct gw_chan *);		/* the conn ends */
size_t		 gw_chan_staged(void);
/* Bytes handed to libssh since its output buffer last ran dry: past
 * GW_UNSENT_MAX no channel of the connection reads its fds (§3.5), so
 * a client that takes nothing cannot make libssh hold more. */
#define GW_UNSENT_MAX	(512 * 1024)
void		 gw_conn_sent(struct gw_conn *, size_t);
int		 gw_conn_full(struct gw_conn *);
void		 gw_conn_drained(struct gw_conn *);

/*
 * gw-ctl.c: the gateway as a client of the daemon, on the loop: one
 * control connection per request (RUN, FORWARD, LISTEN); hanging up
 * ends what the request started (the daemon kills the command).
 */
struct gw_ctl;
/* Each message after HELLO, with the fds it carried (the callee closes
 * those it does not keep); m NULL: the daemon hung up or broke the
 * protocol: free it. */
typedef void gw_ctl_fn(struct gw_ctl *, const struct ctl_msg *, int *,
		     int, void *);
/* Connects to the daemon's socket, sends HELLO and the request with its
 * fds (still the caller's: close them after).  NULL and why. */
struct gw_ctl	*gw_ctl_open(uint32_t, struct pk *, const int *, int,
		     gw_ctl_fn *, void *, char *, size_t);
int		 gw_ctl_send(struct gw_ctl *, uint32_t, struct pk *);
void		 gw_ctl_free(struct gw_ctl *);

/* gw-exec.c: session channels: pty-req, env (an allowlist), exec,
 * shell, subsystem sftp (the far side's own sftp-server), signal,
 * window-change; exit status or signal.  As
 * channel_open_request_session_function: NULL refuses. */
ssh_channel	 gw_exec_open(struct gw_conn *);

/* gw-fwd.c: direct-tcpip (FORWARD) and tcpip-forward (LISTEN with
 * SPN_FWD_F_PASS, then forwarded-tcpip channels).  Both answer inside
 * libssh's message callback, as 0.10 requires; they return 0 when they
 * answered, 1 to let libssh give its default reply. */
int		 gw_fwd_open(struct gw_conn *, ssh_message);
int		 gw_fwd_global(struct gw_conn *, ssh_message);
void		 gw_fwd_conn_gone(struct gw_conn *);

/* gw-tcp.c: the optional TCP listener (gateway-listen): loopback only,
 * the peer's uid checked (NETLINK_SOCK_DIAG) before libssh reads a
 * byte; keys from spindle's own authorized_keys.  -1 and why (a bind
 * failed); no key yet is 0: logged, it listens from the first key. */
int		 gw_tcp_listen(const struct gateway_opts *, char *, size_t);
int		 gw_tcp_key_ok(ssh_key);
void		 gw_tcp_stop(void);

/* gw-key.c: the host key, ed25519, made once (0600, its directory
 * 0700; refused when others may read it or it is not ours), at
 * config_path("gateway/ssh_host_ed25519_key").  `spindle-gateway key
 * print|fingerprint|rekey` for the command's `spindle gateway` and
 * `spindle ssh-config`. */
ssh_key		 gw_key_load(char *, size_t);
int		 gw_key_main(int, char **);

#endif
