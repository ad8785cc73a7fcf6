/*
 * fakessh room: the `ssh` shim that sends rsync, scp, sftp, git and
 * scripts over routes held by the daemon.
 */
#ifndef SPN_FAKESSH_H
#define SPN_FAKESSH_H

#include "../lib/lib.h"

/*
 * sshargs.c: OpenSSH 9.x command-line grammar.  Vectors are
 * NULL-terminated and never NULL after a successful parse; a failed parse
 * leaves nothing to free (sshargs_free is harmless on it all the same).
 */
struct sshargs {
	char	 *dest;		/* destination word verbatim */
	char	 *host;		/* dest minus user@, or URI host */
	char	 *user;		/* first of -l, -oUser, user@ */
	char	 *port;		/* first -p, -oPort, URI port */
	char	**identities;	/* -i and -oIdentityFile, in order */
	char	 *config;	/* last -F */
	char	**opts;		/* every -o as "Key=Value" */
	char	 *logfile;	/* last -E */
	int	  tty;		/* 1 -t, 2 -tt, -1 -T/-N, 0 auto */
	int	  no_stdin;	/* -n, -f, -oStdinNull=yes */
	int	  background;	/* -f */
	int	  subsystem;	/* -s, -oSessionType=subsystem */
	int	  quiet;	/* -q */
	int	  verbose;	/* number of -v, at most 3 */
	int	  no_command;	/* -N, -oSessionType=none */
	int	  version;	/* -V: nothing after it was read */
	char	**command;	/* words after dest, or {RemoteCommand} */
	char	 *forward;	/* the first forwarding asked for ("-L",
				 * "-o LocalForward", "-W"), or NULL */
	char	**ignored;	/* "-A", "-J jump", "-o Foo=bar" */
	struct fwd_spec *fwds;	/* -L -R -D and the -o forms, in order */
	size_t	  nfwds;
	struct fwd_spec *stdio;	/* -W host:port, or NULL */
	int	  gateway_ports; /* -g, -oGatewayPorts=yes */
	int	  exit_on_fwd_fail; /* -oExitOnForwardFailure=yes */
	char	**sendenv;	/* SendEnv patterns in force */
	char	**setenv;	/* the first SetEnv's NAME=VALUE words */
};
int		 sshargs_parse(int, char **, struct sshargs *, char *,
		     size_t);
char		*sshargs_command(const struct sshargs *);
const char	*sshargs_usage(void);
void		 sshargs_free(struct sshargs *);

/*
 * forward.c: the forwards of an ssh command line (or `spindle forward`):
 * listeners in this process, each accepted socket passed to the daemon
 * (FORWARD) so that no byte crosses us; -R as LISTEN requests held open.
 * Returns ssh's exit status.
 */
struct fwd_opts {
	int	  gateway_ports;
	int	  exit_on_fail;
	int	  background;	/* -f: once listeners are bound */
	int	  hold;		/* -N: until a signal or the route dies */
	int	  quiet;
	int	  verbose;
};
int		 fwd_main(const struct ctl_spec *, const struct fwd_spec *,
		     size_t, const struct fwd_opts *);
/* The same held by a child while the caller runs a command (ssh's
 * forwards with a command): its pid, or -1 and ssh's status. */
pid_t		 fwd_start(const struct ctl_spec *, const struct fwd_spec *,
		     size_t, const struct fwd_opts *, int *);
void		 fwd_stop(pid_t);

/* shim.c */
int		 shim_main(int, char **);

/* session.c: what the shim and the gateway both do as sshd does */
#define SESSION_ENV_MAX	64	/* variables a session sets (sshd: 1000) */
#define SESSION_ENV_LEN	4096	/* NAME=VALUE */
extern const char session_sftp[];
int		 session_env_accepted(const char *);

/*
 * hostkey.c: the gateway's host key file, checked the same way by the
 * daemon (before it hands spindle-gateway a client) and by the gateway
 * (before it loads it): ours, a regular file, read and written by
 * nobody else, in a directory nobody else may write.
 */
#define HOSTKEY_NAME	"gateway/ssh_host_ed25519_key"
char		*hostkey_path(void);
/* 0 and, with fd, the file open; 1: there is none yet; -1 (the file)
 * or -2 (its directory) and why, naming the file and the fix. */
int		 hostkey_open(const char *, int *, char *, size_t);
/* Make the directories up to the key's, 0700.  -1 and why. */
int		 hostkey_mkdir(const char *, char *, size_t);

#endif
