/* cli room: the spindle command (and, later, its daemon). */
#ifndef SPN_CLI_H
#define SPN_CLI_H

#include "../agent/agent.h"

/* route.c */
struct hop {
	char		*method;
	char		**args;
	char		*name;		/* route up to and including this hop */
};
struct route {
	struct hop	*hops;
	size_t		 nhops;
};
int		 route_parse(const char *, struct route *, char *, size_t);
void		 route_free(struct route *);

/* master.c */
struct master_opts {
	int		 keepalive;
	int		 timeout;
	int		 timings;
	char		*password;	/* for sudo hops; zeroed after use */
};
#define MASTER_OPTS_DEFAULT	{ SPN_KEEPALIVE_DEFAULT, 30, 0, NULL }

/* Long options every route-building command takes. */
#define OPT_ASK_PASS		256
#define OPT_PASSWORD_FILE	257
#define OPT_PASSWORD_FD		258
#define MASTER_LONGOPTS \
	{ "timings", no_argument, NULL, 'T' }, \
	{ "timeout", required_argument, NULL, 'W' }, \
	{ "keepalive", required_argument, NULL, 'K' }, \
	{ "ask-pass", no_argument, NULL, OPT_ASK_PASS }, \
	{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE }, \
	{ "password-fd", required_argument, NULL, OPT_PASSWORD_FD }
struct master;
typedef void master_up_fn(struct master *, const char *, void *);
struct master	*master_new(const struct master_opts *);
struct rt	*master_rt(struct master *);
struct event_base *master_base(struct master *);
void		 master_connect(struct master *, const struct route *,
		     master_up_fn *, void *);
uint32_t	 master_ctx(struct master *, size_t);
const char	*master_label(struct master *, size_t);
void		 master_on_signal(struct master *, void (*)(int, void *),
		     void *);
void		 master_timing(struct master *, const char *, uint64_t);
void		 master_teardown(struct master *);

/* cmd-*.c */
int		 cmd_run(int, char **);
int		 cmd_ping(int, char **);
int		 cmd_info(int, char **);
int		 cmd_bootstrap_size(int, char **);

/* password.c */
char		*password_ask(const char *);
char		*password_from_fd(int);
char		*password_from_file(const char *);
void		 password_free(char *);

/* spindle.c */
extern int	 cli_verbose;
int		 cli_parse_master_opt(int, const char *, struct master_opts *);
void		 usage_error(const char *, ...) SPN_PRINTF(1, 2)
		     __attribute__((noreturn));

#endif
