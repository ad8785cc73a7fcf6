/* cli room: the spindle command (and, later, its daemon). */
#ifndef SPN_CLI_H
#define SPN_CLI_H

#include <stdio.h>

#include "../lib/lib.h"
#include "../fakessh/fakessh.h"

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
void		 dr_json_str(struct evbuffer *, const char *);
char		*dr_forwards(struct droute *);

/* dforward.c: TCP forwards over a route (FORWARD requests, and the
 * routes file's forward L|D lines, whose listeners the daemon holds) */
struct dfwd_req {
	uint32_t	 mode;		/* SPN_FWD_* */
	uint32_t	 flags;		/* SPN_FWD_F_* */
	char		*host;		/* "": SOCKS, not read yet */
	uint32_t	 port;
};
struct dfwd;
struct dfwd_cb {
	void	(*connected)(struct dfwd *, void *);	/* or NULL */
	void	(*done)(struct dfwd *, void *);	/* once: free it later */
};
void		 dfwd_init(struct master *);
int		 dfwd_unpack(struct upk *, struct dfwd_req *, int);
uint32_t	 dfwd_fd_mask(const struct dfwd_req *);
struct dfwd	*dfwd_new(struct rt *, const char *, const char *,
		     const struct dfwd_req *, int, int, const struct dfwd_cb *,
		     void *);
void		 dfwd_go(struct dfwd *, uint32_t);
void		 dfwd_abort(struct dfwd *, const char *);
int		 dfwd_connected(const struct dfwd *);
const char	*dfwd_peer(const struct dfwd *);
const char	*dfwd_target(const struct dfwd *);
const char	*dfwd_why(const struct dfwd *);
uint64_t	 dfwd_bytes_in(struct dfwd *);
uint64_t	 dfwd_bytes_out(struct dfwd *);
void		 dfwd_free(struct dfwd *, const char *);
void		 dfwd_shutdown(void);
char		*dlis_open(struct droute *, const struct fwd_spec *, size_t);
void		 dlis_close(struct droute *);
void		 dlis_list(struct droute *, struct evbuffer *, int);

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

/* dlog.c */
void		 dlog_open(const char *);
const char	*dlog_path(void);
char		*dlog_route(const char *);
void		 dlog_route_end(char *);
int		 dlog_print(int);

/* daemon.c */
int		 daemon_serve(int);
void		 daemon_stop(void);
size_t		 dconn_count(void);
struct dconn;
void		 dconn_send(struct dconn *, uint32_t, uint32_t, struct pk *);
int		 dconn_send_fd(struct dconn *, uint32_t, uint32_t, struct pk *,
		     int);
void		 dconn_hold(struct dconn *, void (*)(void *), void *);
int		 dconn_take_fd(struct dconn *);
pid_t		 dconn_pid(const struct dconn *);
size_t		 dconn_unsent(const struct dconn *);
void		 dconn_reply_ok(struct dconn *, uint32_t);

/* daccept.c: ACCEPT, the shim's -L and -D listeners held by the daemon */
void		 daccept_init(struct master *);
void		 daccept_request(struct dconn *, const struct ctl_msg *,
		     struct upk *);
void		 daccept_shutdown(void);

/* dgateway.c: GATEWAY, the daemon's side of spindle-gateway: started
 * on the first GATEWAY (or with the daemon when the routes file has
 * gateway-listen), restarted when it dies, each client socket handed
 * to it over its link.  gateway_path: the binary (next to ours in a
 * build tree, else in SPN_LIBEXECDIR), NULL when there is none
 * (gateway_none: why). */
void		 dgw_init(struct master *);
void		 dgw_request(struct dconn *, const struct ctl_msg *,
		     struct upk *);
void		 dgw_shutdown(void);
char		*gateway_path(void);
const char	*gateway_none(void);

/* dremote.c: LISTEN, ssh -R */
void		 dremote_init(struct master *);
void		 dremote_listen(struct dconn *, const struct ctl_msg *,
		     struct upk *);
struct drem;
struct drem	*dremote_route(struct droute *, const struct fwd_spec *,
		     void (*)(const char *, void *), void *, char *, size_t);
void		 dremote_stop(struct drem *);
int		 dremote_bound(const struct drem *);
size_t		 dconn_max(void);

/* cmd.c: the options of route-building commands */
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
extern const struct cmd_entry cmd_forward_entry;
extern const struct cmd_entry cmd_gateway_entry;	/* cmd-gateway.c */
extern const struct cmd_entry cmd_ssh_config_entry;
extern const struct cmd_entry cmd_doctor_entry;	/* cmd-doctor.c */
int		 daemon_stop_wait(void);

/*
 * How this spindle is built, as doctor and --version say it
 * (--enable-static-cli defines SPN_STATIC_CLI); and where its agent
 * image comes from (boot_image_own): embedded gzip'd in both builds
 * (docs/architecture.md, "One static file": why the static one is
 * not its own agent).
 */
#ifdef SPN_STATIC_CLI
#define CLI_BUILD	"static musl"
#define CLI_VERSION_TAIL	" (" CLI_BUILD ")"
#else
#define CLI_BUILD	"dynamic"
#define CLI_VERSION_TAIL	""
#endif
#define CLI_IMAGE	"embedded in this binary"

/* sig.c */
struct master	*sig_master_new(const struct master_opts *);
void		 sig_on_signal(void (*)(int, void *), void *);

/* shimdir.c */
#define SHIMDIR_PREFIX	"fakessh-bin"
char		*fakessh_dir(char *, size_t);
int		 fakessh_make(const char *, const char *, char *, size_t);

/* askpass.c */
char		*password_ask(const char *, char *, size_t);
int		 password_ask_route(const char *, struct master_opts *);

/* spindle.c */
int		 cli_parse_master_opt(int, const char *, struct master_opts *);

#endif
