/*
 * lib room: the root context (routes, chains, the master) and
 * libspindle's implementation.  include/spindle.h is its only public
 * header; this one is private to the tree.  Prototypes are grouped by
 * file.
 */
#ifndef SPN_LIB_H
#define SPN_LIB_H

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <signal.h>
#include <stdarg.h>

#include "../agent/agent.h"
#include "../include/spindle.h"
#include "spn-ctl.h"

/* route.c */
struct hop {
	char		*method;
	char		**args;
	char		*name;		/* route up to and including this hop */
	int		 prompts;	/* takes a password: sudo, su, doas, and
					 * an ssh hop marked ,password */
	char		*password_file;	/* its own source, else the route's */
	char		*password_command;
};
struct route {
	struct hop	*hops;
	size_t		 nhops;
};
int		 route_parse(const char *, const char *, struct route *, char *,
		     size_t);
void		 route_direct(const char *, const char *, char *const *,
		     const char *, struct route *);
void		 route_free(struct route *);
int		 route_hop_source(struct hop *, const char *, const char *);
int		 route_dest_ok(const char *, char *, size_t);

/* routes-file.c */
struct route_opts {
	int		 keepalive;	/* -1: not set */
	int		 timeout;
	char		*ssh_config;
	char		*ssh_args;
	char		*password_file;
	char		*password_command;
	int		 persist;	/* PERSIST_*, or seconds idle */
	int		 password_timeout;
};
struct routes_hop {
	char		*password_file;	/* hop N password-file FILE */
	char		*password_command;
};
struct fwd_spec;
struct routes_entry {
	char		*name;
	char		*route;
	struct route_opts opts;		/* the global ones, then its own */
	size_t		 nhops;
	struct routes_hop *hops;	/* its hops' own password sources */
	struct fwd_spec	*forwards;	/* forward L|D|R SPEC lines, held by
					 * the daemon while the route is up */
	size_t		 nforwards;
};
/*
 * The gateway's global options (spindle-gateway; docs/spindle.1 "The
 * SSH gateway"): gateway-listen ADDR:PORT (127.0.0.1, [::1] or
 * localhost only; at most two lines), gateway-max-connections N,
 * gateway-max-startups N (unauthenticated at once),
 * gateway-max-channels N (per connection), gateway-login-grace SECS,
 * gateway-idle SECS (no input at all: closed).  0 / NULL: not set.
 * listen[] as known_hosts names it: "[127.0.0.1]:2222", "[::1]:2222"
 * (gateway_listen_parse gives the address).
 */
#define GATEWAY_LISTEN_MAX	2
struct gateway_opts {
	char		*listen[GATEWAY_LISTEN_MAX];
	int		 max_connections;
	int		 max_startups;
	int		 max_channels;
	int		 login_grace;
	int		 idle;
};
struct routes_file {
	struct route_opts global;
	struct gateway_opts gateway;
	struct routes_entry *v;
	size_t		 n;
};
#define PERSIST_UNSET	(-2)
#define PERSIST_NEVER	(-1)	/* open until down */
#define PERSIST_DEFAULT	600	/* routes nobody `up`'d */
#define PERSIST_MAX	(366 * 86400)
char		*routes_file_path(void);
int		 gateway_listen_parse(const char *, struct sockaddr_storage *,
		     socklen_t *, char **, char *, size_t);
/* $XDG_CONFIG_HOME/spindle/NAME, else ~/.config/spindle/NAME (NULL
 * without either): the gateway's host key, known_hosts,
 * authorized_keys and ssh_config live there. */
char		*config_path(const char *);
char		*routes_path_arg(const char *);
int		 routes_file_load(const char *, struct routes_file *, char *,
		     size_t);
const struct routes_entry *routes_file_find(const struct routes_file *,
		     const char *);
void		 routes_file_free(struct routes_file *);
int		 routes_known(const char *);
void		 route_opts_init(struct route_opts *);
void		 route_opts_free(struct route_opts *);
int		 routes_persist(const char *, int *);

/* master.c */
struct master_opts {
	int		 keepalive;	/* -1: not set (a command line's) */
	int		 timeout;
	int		 timings;
	char		*password;	/* for prompting hops; zeroed after use */
	char		*password_file;	/* else from there, when connecting */
	char		*password_command; /* (wins over the file) */
	int		 password_secs;	/* the command's time limit */
	char		*agent;		/* SSH_AUTH_SOCK for hop 1, if not ours */
	int		 ask_pass;	/* --ask-pass: ask per prompting hop */
	char		**hop_passwords; /* what it got, one a hop ("": none) */
};
#define MASTER_TIMEOUT_DEFAULT	30
#define PASSWORD_COMMAND_SECS	60
/* A command line's: nothing set yet. */
#define MASTER_OPTS_UNSET	{ -1, -1, 0, NULL, NULL, NULL, -1, NULL, 0, NULL }

struct master;
typedef void master_up_fn(struct master *, const char *, void *);
struct master	*master_new(struct event_base *,
		     const struct master_opts *);
void		 master_free(struct master *);
struct rt	*master_rt(struct master *);
struct event_base *master_base(struct master *);
void		 master_connect(struct master *, const struct route *,
		     master_up_fn *, void *);
uint32_t	 master_ctx(struct master *, size_t);
struct chain	*master_chain(struct master *);
void		 master_timing(struct master *, const char *, uint64_t);
void		 master_teardown(struct master *);
uint32_t	 master_new_id(struct master *);
void		 master_name(struct master *, uint32_t, const char *);
void		 master_on_lost(struct master *,
		     void (*)(uint32_t, const char *, void *), void *);

/* chain.c */
struct chain;
typedef void chain_up_fn(struct chain *, const char *, void *);
struct chain	*chain_new(struct master *, const struct route *,
		     const struct master_opts *);
void		 chain_via(struct chain *, uint32_t, size_t);
void		 chain_connect(struct chain *, chain_up_fn *, void *);
uint32_t	 chain_ctx(struct chain *, size_t);
uint32_t	 chain_last(struct chain *);
size_t		 chain_hops(struct chain *);
const char	*chain_label(struct chain *, size_t);
int		 chain_find(struct chain *, uint32_t);
#define CHAIN_PW_NONE	0	/* the hop that failed had no password */
#define CHAIN_PW_SOURCE	1	/* ... one of a file or command */
#define CHAIN_PW_HOP	2	/* ... the one given for it */
#define CHAIN_PW_ROUTE	3	/* ... the one given for the route */
int		 chain_failed_pw(struct chain *, size_t *);
void		 chain_close(struct chain *);
void		 chain_free(struct chain *);

/* ctl.c */
struct ctl_msg {
	uint32_t	 type;
	uint32_t	 id;
	const uint8_t	*body;
	size_t		 len;
};
struct ctl_buf {
	uint8_t		*data;
	size_t		 len;
	size_t		 cap;
	size_t		 used;	/* by messages already parsed */
};
/* The route a request names. */
struct ctl_spec {
	char		*route;		/* name, inline route, or host */
	int		 direct;	/* CTL_SPEC_* */
	char		*user;		/* direct: ssh's -l */
	char		**sshargs;	/* direct: ssh's other options */
	char		*sshenv;	/* the client's $SPINDLE_SSH_ARGS */
	char		*password;
	int		 keepalive;	/* -1: the route's or default */
	int		 timeout;
	char		*agent;		/* the client's $SSH_AUTH_SOCK (daemon) */
	char		**hop_passwords; /* --ask-pass's, one a hop ("": none) */
};
#define CTL_SPEC_ROUTE	0	/* a name, else an inline route */
#define CTL_SPEC_SSH	1	/* a name, else ssh to that host (the shim) */
#define CTL_SPEC_DEST	2	/* an inline route the shim was given as its
				 * destination: another program's words */
char		*ctl_dir_path(void);
#define CTL_DIR_ABSENT		1	/* none, so no daemon */
#define CTL_DIR_UNUSABLE	(-2)	/* another user's, a link, mode... */
int		 ctl_dir(int, char **, char *, size_t);
int		 ctl_sockaddr(const char *, struct sockaddr_un *);
int		 ctl_send(int, uint32_t, uint32_t, const struct pk *,
		     const int *, int);
ssize_t		 ctl_sendmsg(int, struct iovec *, int, const int *, int);
int		 ctl_write_rest(int, struct iovec *, size_t);
int		 ctl_parse(const uint8_t *, size_t, struct ctl_msg *);
int		 ctl_recv(int, struct ctl_buf *, struct ctl_msg *, int *,
		     int *);
int		 ctl_fill(int, struct ctl_buf *, int *, int *, int);
ssize_t		 ctl_read(int, void *, size_t, int *, int *, int, int);
void		 ctl_take_fds(struct msghdr *, int *, int *, int);
int		 ctl_pending(const struct ctl_buf *);
void		 ctl_buf_consume(struct ctl_buf *);
void		 ctl_buf_free(struct ctl_buf *);
void		 ctl_spec_init(struct ctl_spec *, const char *,
		     const struct master_opts *);
void		 ctl_spec_dest(struct ctl_spec *, const char *, const char *,
		     const char *);
void		 ctl_spec_pack(struct pk *, const struct ctl_spec *);
void		 ctl_run_pack(struct pk *, const struct ctl_spec *,
		     const struct exec_req *, uint32_t);
int		 ctl_spec_unpack(struct upk *, struct ctl_spec *);
void		 ctl_spec_free(struct ctl_spec *);

/* resolve.c */
struct route_conf {
	char		*text;		/* the route, as ls shows it */
	struct route	 route;
	struct master_opts mo;		/* all its strings ours */
	int		 persist;	/* the daemon's: secs idle, or never */
	int		 from_file;	/* a route of the routes file */
};
int		 resolve_route(const struct ctl_spec *,
		     const struct routes_file *, struct route_conf *, char *,
		     size_t);
int		 resolve_local(const char *, const struct master_opts *,
		     struct route_conf *, char *, size_t);
char		*resolve_direct_name(const struct ctl_spec *);
void		 resolve_free(struct route_conf *);
char		**resolve_hop_passwords(const struct ctl_spec *, size_t);
void		 resolve_hop_passwords_free(char **);

/* pwcmd.c */
struct pwcmd;
typedef void pwcmd_done_fn(char *, const char *, void *);
struct pwcmd	*pwcmd_start(struct event_base *, const char *, int,
		     pwcmd_done_fn *, void *);
void		 pwcmd_cancel(struct pwcmd *);

/* tty.c */
void		 tty_setup(struct exec_req *);
void		 tty_restore(void);

/* password.c */
char		*password_read_line(int, const char *,
		     const volatile sig_atomic_t *, char *, size_t);
char		*password_from_fd(int, char *, size_t);
char		*password_from_file(const char *, char *, size_t);
void		 password_free(char *);
void		 password_strv_free(char **);
void		 password_opts_free(struct master_opts *);

/*
 * fwdspec.c: forwarding specs as ssh -L, -R, -D (and -W) take them
 * (OpenSSH's parse_forward: ':' or '/' separators, [v6] in brackets,
 * UNIX socket paths), and as the routes file's `forward L|R|D SPEC`.
 */
#define FWD_LOCAL	'L'
#define FWD_REMOTE	'R'
#define FWD_DYNAMIC	'D'
#define FWD_STDIO	'W'
struct fwd_spec {
	int		 kind;		/* FWD_* */
	char		*bind;		/* the listen address; NULL: none given
					 * (loopback unless gateway ports), ""
					 * or "*": every address; or a path */
	int		 bind_port;	/* -1: bind is a UNIX socket path */
	char		*host;		/* the target, or a path; NULL for D
					 * (and for R without a target) */
	int		 port;		/* -1: host is a UNIX socket path */
};
int		 fwd_spec_parse(int, const char *, struct fwd_spec *, char *,
		     size_t);
/* As ssh prints it in messages ("5432:db:5432"). */
char		*fwd_spec_text(const struct fwd_spec *);
void		 fwd_spec_free(struct fwd_spec *);

/*
 * socks.c: the request a dynamic forward takes (SOCKS4, 4a and 5;
 * CONNECT only, no authentication), as ssh -D does, bytes fed as they
 * come.  Never allocates.
 */
#define SOCKS_MORE	0	/* answer out (if *outlen), read more */
#define SOCKS_READY	1	/* host and port set: connect, then
				 * socks_reply; in[*used...] is data */
#define SOCKS_ERROR	(-1)	/* answer out (if *outlen), then close */
#define SOCKS_OUT_MAX	32	/* the longest answer either gives */
#define SOCKS_HOST_MAX	255
struct socks {
	int		 state;
	int		 version;	/* 4 or 5, once known */
	uint8_t		 buf[600];	/* the request so far */
	size_t		 len;
	char		 host[SOCKS_HOST_MAX + 1];
	uint16_t	 port;
};
void		 socks_init(struct socks *);
int		 socks_feed(struct socks *, const uint8_t *, size_t, size_t *,
		     uint8_t *, size_t *, char *, size_t);
/* The answer once the connect is done: err 0, or the errno it failed
 * with (mapped to SOCKS5's 0x05 refused, 0x04 host unreachable, 0x03
 * network unreachable, 0x01 otherwise; SOCKS4's 0x5a or 0x5b). */
size_t		 socks_reply(const struct socks *, int, uint8_t *);

/* ctl-forward.c: a FORWARD request, the client's side.  Connects to the
 * daemon (starting it), sends the request with its fds and returns the
 * control connection, whose replies ctl_forward_read takes; -1 and why. */
struct fwd_status {
	int		 state;		/* FWD_ST_* */
	char		*text;		/* CONNECTED's peer, ERROR's message,
					 * DONE's why (NULL: clean) */
	char		*target;	/* CONNECTED's target */
	int		 status;	/* ERROR's exit status */
	uint64_t	 in, out;	/* DONE's counts */
};
#define FWD_ST_MORE		0	/* nothing whole yet (EAGAIN) */
#define FWD_ST_CONNECTED	1
#define FWD_ST_ERROR		2
#define FWD_ST_DONE		3
#define FWD_ST_LOST		4	/* the daemon went away */
int		 ctl_forward_send(const struct ctl_spec *, uint32_t, uint32_t,
		     const char *, uint32_t, const int *, int, char *, size_t);
int		 ctl_forward_read(int, struct ctl_buf *, struct fwd_status *);
void		 fwd_status_free(struct fwd_status *);
/* An ACCEPT (the shim's -L, -D): the listening socket handed to the
 * daemon once; blocks until it takes it.  The control connection to
 * hold, or -1 and why.  ctl_accept_read takes its notices, each about
 * the connection of channel *chan. */
#define FWD_ST_OK		5	/* ACCEPT taken */
int		 ctl_accept_send(const struct ctl_spec *, uint32_t, uint32_t,
		     const char *, uint32_t, uint32_t, int, struct ctl_buf *,
		     char *, size_t);
int		 ctl_accept_read(int, struct ctl_buf *, struct fwd_status *,
		     uint32_t *);

/* ctl-listen.c: a LISTEN request (ssh -R), the client's side: blocks
 * until the far end listens; returns the control connection to hold
 * (its EOF: the listener is gone) and the port bound, or -1 and why. */
int		 ctl_listen(const struct ctl_spec *, const struct fwd_spec *,
		     int *, char *, size_t);

/* client.c: the daemon's clients, the command and the shim */
struct client_mode {
	int		 quiet;		/* the shim's -q or -E: the daemon says
					 * nothing */
	int		 ssh_status;	/* the shim's: 255 for a killed command
					 * or none run, as ssh */
	int		 verbose;	/* -v: what the daemon logged about the
					 * route, after */
};
/* What a daemon's HELLO says of it (client_hello). */
struct client_daemon {
	pid_t		 pid;
	char		*version;	/* spindle's */
	char		*exe;		/* its binary, "" if unreadable */
	char		*id;		/* that binary's "DEV:INO" */
	int		 self;		/* it is this binary; -1: unknown */
};
char		*client_self_exe(void);
int		 client_connect(int, int, int, char *, size_t);
int		 client_try(const char *, int);
int		 client_hello(int, int, struct client_daemon *, char *,
		     size_t);
void		 client_daemon_free(struct client_daemon *);
int		 client_daemon_replaced(const struct client_daemon *);
int		 client_call(int, uint32_t, struct pk *, char **);
int		 client_for_route(const char *, int, int);
int		 client_run(int, const struct ctl_spec *,
		     const struct exec_req *, const struct client_mode *);

/* dlog-read.c: the daemon's log, read back for a client's -v */
struct dlog_mark {
	int		 fd;	/* the log as it was, or -1 */
};
char		*dlog_name(const char *);
void		 dlog_mark(struct dlog_mark *, int);
void		 dlog_replay(struct dlog_mark *, const char *, const char *);

/* value.c: MessagePack values (msgpack-c), never trusting a count */
#define VALUE_DEPTH_MAX	32
struct spn_vbuf	*vbuf_new(void);
void		 vbuf_free(struct spn_vbuf *);
void		 vbuf_reset(struct spn_vbuf *);
const uint8_t	*vbuf_data(const struct spn_vbuf *, size_t *);
/* How many complete values it holds, and how deep they nest; -1 while an
 * array or map still awaits elements. */
int		 vbuf_values(const struct spn_vbuf *, size_t *, int *);
/* Append another vbuf's values; SPN_OK or an SPN_E* code. */
int		 vbuf_cat(struct spn_vbuf *, const struct spn_vbuf *);
/* Append the values va_list holds, one per letter of sig; -1 with why
 * on a bad signature. */
int		 vbuf_putv(struct spn_vbuf *, const char *, va_list *, char *,
		     size_t);
/* Pre-scan (bounded: no allocation from a declared count) then decode;
 * -1 with why.  The message owns a copy of the bytes. */
int		 value_decode(const void *, size_t, struct spn_msg **, char *,
		     size_t);
/* A context value's id and name; -1 if v is not one. */
int		 value_ctx(const struct spn_value *, uint32_t *, const char **);
/* What spn_msg_value() returns from now on (a value inside m). */
void		 value_msg_root(struct spn_msg *, const struct spn_value *);
/* Does the value (an array) match a signature's letters?  -1 with why. */
int		 value_sig_match(const struct spn_value *, const char *, char *,
		     size_t);
/* A sender value's receiver: its context, handle and window. */
int		 value_sender(const struct spn_value *, uint32_t *, uint32_t *,
		     uint32_t *);

/* channel.c: senders and channel receivers (docs/protocol.md, "Channels") */
#define CHAN_WINDOW_DEFAULT	(256 * 1024)
#define CHAN_WINDOW_MAX		(64 * 1024 * 1024)
/* Where a sender sends: the first member of struct spn_sender, what an
 * 'S' letter encodes (value.c reads it without linking channel.c). */
struct sender_ref {
	uint32_t	 ctx;		/* the receiver's context */
	uint32_t	 handle;	/* ... and its handle there */
	uint32_t	 window;
};

/* callmsg.c: the CALL and REPLY payloads, encoded here only */
struct callmsg {
	const char	*fn;
	const char	*sig;		/* the caller's argument letters */
	uint32_t	 flags;
	uint32_t	 deadline_ms;	/* 0: none; from the caller's clock */
	const struct spn_value *args;	/* an array */
};
int		 callmsg_pack(struct spn_vbuf *, const char *, const char *,
		     const struct spn_vbuf *, uint32_t, uint32_t);
/* m owns what c points into. */
int		 callmsg_unpack(const void *, size_t, struct spn_msg **,
		     struct callmsg *, char *, size_t);
int		 reply_pack_ok(struct spn_vbuf *, const struct spn_vbuf *);
int		 reply_pack_err(struct spn_vbuf *, const struct spn_error *);
/* SPN_OK with *result, or the remote error's code with err filled. */
int		 reply_unpack(const void *, size_t, struct spn_msg **,
		     struct spn_error *);

/* export.c: the program's export table (section spn_exports) */
/* The library's own call, no export's (a name no C function has): an
 * ancestor asks the context to end, as if its parent had gone. */
#define EXPORT_END	"spn:end"
const struct spn_export *export_find(const char *);
/* Does a call's argument signature fit the export's?  SPN_OK, SPN_ESIG. */
int		 export_sig_check(const struct spn_export *, const char *);
/* agent_ops.run: one CALL, on a worker thread. */
void		 export_run(struct agent_call *, struct agent_reply *);
/* agent_ops.run_inline: SPN_INLINE exports, on the loop thread. */
int		 export_run_inline(struct agent_call *, struct agent_reply *);
/* Is this thread running an SPN_INLINE export (on the loop)? */
int		 export_on_loop(void);
/* The export running on this thread, or NULL (crash reports). */
const char	*export_running(void);
/* What spn_call_spn() gives a function (agent mode). */
void		 export_set_spn(struct spn *);

/* agentmode.c */
/* In a copy started by spindle: become the context's agent (never
 * returns).  Else 0. */
int		 agent_mode_main(int *, char ***, const struct spn_opts *);

/* error.c */
void		 error_set(struct spn_error *, int, const char *, const char *,
		     ...) SPN_PRINTF(4, 5);
int		 error_from_dead(struct spn_error *, uint32_t, const char *,
		     const char *);

#endif
