/* cli room: the spindle command (and, later, its daemon). */
#ifndef SPN_CLI_H
#define SPN_CLI_H

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <stdio.h>

#include "../agent/agent.h"
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
struct routes_entry {
	char		*name;
	char		*route;
	struct route_opts opts;		/* the global ones, then its own */
	size_t		 nhops;
	struct routes_hop *hops;	/* its hops' own password sources */
};
struct routes_file {
	struct route_opts global;
	struct routes_entry *v;
	size_t		 n;
};
#define PERSIST_UNSET	(-2)
#define PERSIST_NEVER	(-1)	/* open until down */
#define PERSIST_DEFAULT	600	/* routes nobody `up`'d */
#define PERSIST_MAX	(366 * 86400)
char		*routes_file_path(void);
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

/* The options of route-building commands (cmd.c's table entries). */
#define OPT_ASK_PASS		256
#define OPT_PASSWORD_FILE	257
#define OPT_PASSWORD_FD		258
#define OPT_TIMEOUT		259
#define OPT_KEEPALIVE		260
#define OPT_TIMINGS		261
#define OPT_NO_DAEMON		262
#define CMD_OPTS_ROUTE \
	{ OPT_TIMEOUT, "timeout", "SECS", \
	    "give up on a hop that has not answered in SECS [30]" }, \
	{ OPT_KEEPALIVE, "keepalive", "SECS", \
	    "declare a link dead after SECS silent [15]; 0: off" }, \
	{ OPT_ASK_PASS, "ask-pass", NULL, \
	    "ask, on the terminal, for the password of each hop\n" \
	    "that takes one (sudo, su, doas, ssh,password)" }, \
	{ OPT_PASSWORD_FILE, "password-file", "FILE", \
	    "... or read one for them from FILE's first line" }, \
	{ OPT_PASSWORD_FD, "password-fd", "N", \
	    "... or from file descriptor N" }
/* CMD_OPTS_ROUTE as a usage line shows them (in two parts: up puts
 * --persist between). */
#define CMD_USAGE_ROUTE_TIMES	"[--timeout SECS] [--keepalive SECS] "
#define CMD_USAGE_ROUTE_PASS \
	"[--ask-pass | --password-file FILE | --password-fd N] "
#define CMD_USAGE_ROUTE		CMD_USAGE_ROUTE_TIMES CMD_USAGE_ROUTE_PASS
#define CMD_OPT_TIMINGS \
	{ OPT_TIMINGS, "timings", NULL, \
	    "time each step (then never through the daemon)" }
#define CMD_OPT_NO_DAEMON \
	{ OPT_NO_DAEMON, "no-daemon", NULL, "never go through the daemon" }
struct master;
typedef void master_up_fn(struct master *, const char *, void *);
struct master	*master_new(const struct master_opts *);
struct rt	*master_rt(struct master *);
struct event_base *master_base(struct master *);
void		 master_connect(struct master *, const struct route *,
		     master_up_fn *, void *);
uint32_t	 master_ctx(struct master *, size_t);
struct chain	*master_chain(struct master *);
void		 master_on_signal(struct master *, void (*)(int, void *),
		     void *);
void		 master_timing(struct master *, const char *, uint64_t);
void		 master_teardown(struct master *);
uint32_t	 master_new_id(struct master *);
void		 master_on_lost(struct master *,
		     void (*)(uint32_t, const char *, void *), void *);

/* chain.c */
struct chain;
typedef void chain_up_fn(struct chain *, const char *, void *);
struct chain	*chain_new(struct master *, const struct route *,
		     const struct master_opts *);
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
int		 ctl_write_rest(int, struct iovec *, size_t);
int		 ctl_parse(const uint8_t *, size_t, struct ctl_msg *);
int		 ctl_recv(int, struct ctl_buf *, struct ctl_msg *, int *,
		     int *);
int		 ctl_fill(int, struct ctl_buf *, int *, int *, int);
ssize_t		 ctl_read(int, void *, size_t, int *, int *, int);
void		 ctl_take_fds(struct msghdr *, int *, int *, int);
int		 ctl_pending(const struct ctl_buf *);
void		 ctl_buf_consume(struct ctl_buf *);
void		 ctl_buf_free(struct ctl_buf *);
void		 ctl_spec_init(struct ctl_spec *, const char *,
		     const struct master_opts *);
void		 ctl_spec_pack(struct pk *, const struct ctl_spec *);
int		 ctl_spec_unpack(struct upk *, struct ctl_spec *);
void		 ctl_spec_free(struct ctl_spec *);

/* client.c */
extern int	 client_ssh_status;
extern int	 client_quiet;
char		*client_self_exe(void);
int		 client_connect(int, int, char *, size_t);
int		 client_call(int, uint32_t, struct pk *, char **);
int		 client_for_route(const char *, int);
int		 client_run(int, const struct ctl_spec *,
		     const struct exec_req *);

/* droute.c */
struct droute;
struct dr_wait;
typedef void dr_ready_fn(struct droute *, const char *, void *);
void		 dr_init(struct master *);
struct droute	*dr_resolve(const struct ctl_spec *, char *, size_t);
struct droute	*dr_define(const char *, const struct ctl_spec *, int,
		     char *, size_t);
struct dr_wait	*dr_use(struct droute *, dr_ready_fn *, void *);
void		 dr_unwait(struct dr_wait *);
uint32_t	 dr_ctx(struct droute *);
struct chain	*dr_chain(struct droute *);
const char	*dr_key(struct droute *);
const char	*dr_key_of(uint32_t);
void		 dr_hold(struct droute *, int);
int		 dr_down(const char *, char *, size_t);
void		 dr_shutdown(void);
size_t		 dr_count(int);
void		 dr_set_rtt(struct droute *, uint64_t);
char		*dr_list(int, char *, size_t);
int		 dr_refused_code(void);

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

/* probe.c */
struct probe_req {
	int		 info;		/* else ping */
	long		 count;
	size_t		 size;
};
#define PROBE_COUNT_MAX	10000000
#define PROBE_SIZE_MAX	(512 * 1024)
struct probe;
typedef void probe_done_fn(const char *, const char *, void *);
struct probe	*probe_start(struct rt *, struct chain *,
		     const struct probe_req *, probe_done_fn *, void *);
void		 probe_cancel(struct probe *);

/* pwcmd.c */
struct pwcmd;
typedef void pwcmd_done_fn(char *, const char *, void *);
struct pwcmd	*pwcmd_start(struct event_base *, const char *, int,
		     pwcmd_done_fn *, void *);
void		 pwcmd_cancel(struct pwcmd *);

/* dlog.c */
struct dlog_mark {
	int		 fd;	/* the log as it was, or -1 */
};
void		 dlog_open(const char *);
const char	*dlog_path(void);
char		*dlog_route(const char *);
void		 dlog_route_end(char *);
int		 dlog_print(int);
void		 dlog_mark(struct dlog_mark *);
void		 dlog_replay(struct dlog_mark *, const char *, const char *);

/* daemon.c */
int		 daemon_serve(int);
void		 daemon_stop(void);
size_t		 dconn_count(void);

/* cmd.c: one entry per command, as tmux has them. */
struct cmd_opt {
	int		 ch;		/* a short option's letter, or >= 256 */
	const char	*name;		/* the long option, or NULL */
	const char	*arg;		/* its argument, or NULL: none */
	const char	*help;		/* NULL: internal, not shown */
};
struct cmd_args;
struct cmd_entry {
	const char	*name;
	const char	*usage;		/* after "spindle NAME " */
	const char	*summary;
	const struct cmd_opt *opts;	/* up to a zero ch */
	const char	*words;		/* the positional words, named */
	int		 lower;		/* how many it wants */
	int		 upper;
	int		 flags;
#define CMD_COMMAND	0x1	/* then COMMAND [ARG...] */
#define CMD_NOCOMMAND	0x2	/* ... or none at all */
	int		(*exec)(struct cmd_args *);
};
struct cmd_optval {
	int		 ch;
	char		*arg;
};
struct cmd_args {
	const struct cmd_entry *entry;
	struct cmd_optval *opts;	/* in command line order */
	size_t		 nopts;
	char		**pos;		/* the positional words */
	int		 npos;
	char		**argv;		/* CMD_COMMAND: the command, or NULL */
	int		 argc;
	int		 help;		/* -h or --help was given */
};
extern int	 cli_verbose;
extern int	 cli_log_level;
void		 cmd_parse(const struct cmd_entry *, int, char **,
		     struct cmd_args *);
void		 cmd_args_free(struct cmd_args *);
void		 cmd_print_usage(FILE *, const char *,
		     const struct cmd_entry *);
void		 cmd_print_options(FILE *, const struct cmd_entry *);
void		 cmd_help(FILE *, const struct cmd_entry *);
void		 usage_error(const char *, ...) SPN_PRINTF(1, 2)
		     __attribute__((noreturn));
void		 cmd_usage_error(const char *, ...) SPN_PRINTF(1, 2)
		     __attribute__((noreturn));

/* cmd-*.c */
extern const struct cmd_entry cmd_run_entry;
extern const struct cmd_entry cmd_ping_entry;
extern const struct cmd_entry cmd_info_entry;
extern const struct cmd_entry cmd_bootstrap_size_entry;
extern const struct cmd_entry cmd_up_entry;
extern const struct cmd_entry cmd_down_entry;
extern const struct cmd_entry cmd_ls_entry;
extern const struct cmd_entry cmd_check_entry;
extern const struct cmd_entry cmd_daemon_entry;
extern const struct cmd_entry cmd_fakessh_bin_entry;
extern const struct cmd_entry cmd_exec_entry;
int		 daemon_stop_wait(void);

/* shimdir.c */
#define SHIMDIR_PREFIX	"fakessh-bin"
char		*fakessh_dir(char *, size_t);

/* fakessh/shim.c */
int		 shim_main(int, char **);

/* tty.c */
void		 tty_setup(struct exec_req *);
void		 tty_restore(void);

/* password.c */
char		*password_ask(const char *, char *, size_t);
char		*password_from_fd(int, char *, size_t);
char		*password_from_file(const char *, char *, size_t);
void		 password_free(char *);
void		 password_strv_free(char **);
int		 password_ask_route(const char *, struct master_opts *);
void		 password_opts_free(struct master_opts *);

/* spindle.c */
int		 cli_parse_master_opt(int, const char *, struct master_opts *);

#endif
