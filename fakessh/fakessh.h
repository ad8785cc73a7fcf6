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
	char	**sendenv;	/* SendEnv patterns in force */
	char	**setenv;	/* the first SetEnv's NAME=VALUE words */
};
int		 sshargs_parse(int, char **, struct sshargs *, char *,
		     size_t);
char		*sshargs_command(const struct sshargs *);
const char	*sshargs_usage(void);
void		 sshargs_free(struct sshargs *);

/* shim.c */
int		 shim_main(int, char **);

#endif
