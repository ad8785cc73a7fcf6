/*
 * Unit tests for the ssh command-line parser of the fakessh shim
 * (sshargs.c).  The command lines are the ones rsync, scp, sftp and git
 * really run, plus the corners of OpenSSH's grammar: bundles, options
 * after the destination, "--", ssh:// URIs and who wins between -l,
 * -oUser and user@host (the first one, as ssh.c does it).
 *
 * Each argv is copied before parsing and freed right after, so a parser
 * that kept pointers into argv would be caught by valgrind or ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../fakessh/fakessh.h"

static char err[1024];

static int
parse_v(struct sshargs *sa, const char **words)
{
	char **argv;
	int argc, rc;

	for (argc = 0; words[argc] != NULL; argc++)
		;
	argv = xcalloc(argc + 1, sizeof *argv);
	for (int i = 0; i < argc; i++)
		argv[i] = xstrdup(words[i]);
	memset(err, 'x', sizeof err);
	rc = sshargs_parse(argc, argv, sa, err, sizeof err);
	strv_free(argv);
	return rc;
}

/* PARSE(&sa, "-p", "22", "host"): argv[0] is "ssh". */
#define PARSE(sa, ...) \
	parse_v((sa), (const char *[]){ "ssh", __VA_ARGS__, NULL })
#define WORDS(...)	((const char *[]){ __VA_ARGS__, NULL })
#define NONE		((const char *[]){ NULL })

static void
assert_strv(char **v, const char **want)
{
	size_t i;

	assert_non_null(v);
	for (i = 0; want[i] != NULL; i++) {
		if (v[i] == NULL)
			fail_msg("missing word %zu \"%s\"", i, want[i]);
		assert_string_equal(v[i], want[i]);
	}
	if (v[i] != NULL)
		fail_msg("extra word %zu \"%s\"", i, v[i]);
}

static void
assert_ok(int rc)
{
	if (rc != 0)
		fail_msg("parse failed: %s", err);
}

/* A failed parse reports err and leaves nothing behind. */
static void
assert_fails(struct sshargs *sa, int rc, const char *want)
{
	if (rc == 0)
		fail_msg("parse succeeded, wanted \"%s\"", want);
	assert_int_equal(rc, -1);
	assert_string_equal(err, want);
	assert_null(sa->host);
	assert_null(sa->opts);
	assert_null(sa->command);
	sshargs_free(sa);	/* harmless */
}

static void
test_simple(void **state)
{
	struct sshargs sa;
	char *cmd;

	(void)state;
	assert_ok(PARSE(&sa, "host", "cmd", "args"));
	assert_string_equal(sa.dest, "host");
	assert_string_equal(sa.host, "host");
	assert_null(sa.user);
	assert_null(sa.port);
	assert_null(sa.config);
	assert_null(sa.logfile);
	assert_strv(sa.identities, NONE);
	assert_strv(sa.opts, NONE);
	assert_strv(sa.ignored, NONE);
	assert_null(sa.forward);
	assert_strv(sa.command, WORDS("cmd", "args"));
	assert_int_equal(sa.tty, 0);
	assert_int_equal(sa.no_stdin, 0);
	assert_int_equal(sa.subsystem, 0);
	assert_int_equal(sa.no_command, 0);
	assert_int_equal(sa.verbose, 0);
	cmd = sshargs_command(&sa);
	assert_string_equal(cmd, "cmd args");
	free(cmd);
	sshargs_free(&sa);

	/* No command: a shell, and no command line. */
	assert_ok(PARSE(&sa, "host"));
	assert_strv(sa.command, NONE);
	assert_null(sshargs_command(&sa));
	sshargs_free(&sa);
}

static void
test_user_at_host(void **state)
{
	struct sshargs sa;

	(void)state;
	assert_ok(PARSE(&sa, "alice@example.org", "id"));
	assert_string_equal(sa.user, "alice");
	assert_string_equal(sa.host, "example.org");
	assert_string_equal(sa.dest, "alice@example.org");
	sshargs_free(&sa);

	/* The last '@' splits, as in ssh. */
	assert_ok(PARSE(&sa, "a@b@h"));
	assert_string_equal(sa.user, "a@b");
	assert_string_equal(sa.host, "h");
	sshargs_free(&sa);

	/* An inline route: dest keeps what user/host cannot. */
	assert_ok(PARSE(&sa, "alice@h1+bob@h2", "true"));
	assert_string_equal(sa.dest, "alice@h1+bob@h2");
	assert_string_equal(sa.user, "alice@h1+bob");
	assert_string_equal(sa.host, "h2");
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "bob@h,port=2222+sudo=root"));
	assert_string_equal(sa.user, "bob");
	assert_string_equal(sa.host, "h,port=2222+sudo=root");
	sshargs_free(&sa);
}

/*
 * ssh.c (OpenSSH 9.x) sets options.user from -l only "if (options.user
 * == NULL)", -oUser likewise (ssh_config: first value wins), and after
 * the getopt run takes user@host's user only "if (options.user ==
 * NULL)".  So the first one on the command line wins: -l before
 * user@host beats it, -l after it does not.
 */
static void
test_user_precedence(void **state)
{
	struct sshargs sa;

	(void)state;
	assert_ok(PARSE(&sa, "-l", "a", "b@h"));
	assert_string_equal(sa.user, "a");
	assert_string_equal(sa.host, "h");
	sshargs_free(&sa);

	assert_ok(PARSE(&sa, "b@h", "-l", "a", "cmd"));
	assert_string_equal(sa.user, "b");
	assert_strv(sa.command, WORDS("cmd"));
	sshargs_free(&sa);

	assert_ok(PARSE(&sa, "-la", "-lb", "h"));
	assert_string_equal(sa.user, "a");
	sshargs_free(&sa);

	assert_ok(PARSE(&sa, "-oUser=c", "-l", "a", "b@h"));
	assert_string_equal(sa.user, "c");
	assert_strv(sa.opts, WORDS("User=c"));
	sshargs_free(&sa);

	assert_ok(PARSE(&sa, "-l", "a", "-o", "User c", "h"));
	assert_string_equal(sa.user, "a");
	sshargs_free(&sa);
}

static void
test_port(void **state)
{
	struct sshargs sa;

	(void)state;
	assert_ok(PARSE(&sa, "-p22", "h"));
	assert_string_equal(sa.port, "22");
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-p", "22", "h"));
	assert_string_equal(sa.port, "22");
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-oPort=22", "h"));
	assert_string_equal(sa.port, "22");
	assert_strv(sa.opts, WORDS("Port=22"));
	assert_strv(sa.ignored, NONE);
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-o", "Port 22", "h"));
	assert_string_equal(sa.port, "22");
	assert_strv(sa.opts, WORDS("Port=22"));
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-o", "port \"2022\"", "h"));
	assert_string_equal(sa.port, "2022");
	sshargs_free(&sa);

	/* First wins, and is made decimal. */
	assert_ok(PARSE(&sa, "-o", "Port=2222", "-p", "022", "h"));
	assert_string_equal(sa.port, "2222");
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-p", "022", "-p", "2222", "h"));
	assert_string_equal(sa.port, "22");
	sshargs_free(&sa);
	/* ssh never reads a -p after the first. */
	assert_ok(PARSE(&sa, "-p", "22", "-p", "bogus", "h"));
	assert_string_equal(sa.port, "22");
	sshargs_free(&sa);

	assert_fails(&sa, PARSE(&sa, "-p", "ssh", "h"), "Bad port 'ssh'");
	assert_fails(&sa, PARSE(&sa, "-p0", "h"), "Bad port '0'");
	assert_fails(&sa, PARSE(&sa, "-p65536", "h"), "Bad port '65536'");
	assert_fails(&sa, PARSE(&sa, "-p", "", "h"), "Bad port ''");
	assert_ok(PARSE(&sa, "-p65535", "h"));
	assert_string_equal(sa.port, "65535");
	sshargs_free(&sa);
	assert_fails(&sa, PARSE(&sa, "-oPort=x", "h"),
	    "command-line line 0: Badly formatted port number.");
}

static void
test_option_forms(void **state)
{
	struct sshargs sa;

	(void)state;
	assert_ok(PARSE(&sa, "-oBatchMode=yes", "-o", "ConnectTimeout=5",
	    "-o", "ServerAliveInterval 15", "-o", "Compression = no",
	    "-o", "  LogLevel\t=\tERROR  ", "-oProxyCommand=ssh -W %h:%p j",
	    "-o", "SetEnv=A=1", "h"));
	assert_strv(sa.opts, WORDS("BatchMode=yes", "ConnectTimeout=5",
	    "ServerAliveInterval=15", "Compression=no", "LogLevel=ERROR",
	    "ProxyCommand=ssh -W %h:%p j", "SetEnv=A=1"));
	assert_strv(sa.ignored, WORDS("-o BatchMode=yes",
	    "-o ConnectTimeout=5", "-o ServerAliveInterval=15",
	    "-o Compression=no", "-o LogLevel=ERROR",
	    "-o ProxyCommand=ssh -W %h:%p j"));
	assert_strv(sa.setenv, WORDS("A=1"));
	sshargs_free(&sa);

	/* As sftp passes it. */
	assert_ok(PARSE(&sa, "-oForwardX11 no", "-oForwardAgent no",
	    "-oPermitLocalCommand no", "-oClearAllForwardings yes",
	    "-oProtocol 2", "-s", "--", "h", "sftp"));
	assert_strv(sa.opts, WORDS("ForwardX11=no", "ForwardAgent=no",
	    "PermitLocalCommand=no", "ClearAllForwardings=yes",
	    "Protocol=2"));
	assert_int_equal(sa.subsystem, 1);
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-o", "ForwardX11 no", "h"));
	assert_strv(sa.opts, WORDS("ForwardX11=no"));
	sshargs_free(&sa);

	/* Blank and comment lines are accepted and dropped, as in a file. */
	assert_ok(PARSE(&sa, "-o", "", "-o", "# nothing", "h"));
	assert_strv(sa.opts, NONE);
	assert_strv(sa.ignored, NONE);
	sshargs_free(&sa);

	assert_fails(&sa, PARSE(&sa, "-o", "BatchMode", "h"),
	    "command-line line 0: no argument after keyword \"BatchMode\"");
	assert_fails(&sa, PARSE(&sa, "-oUser=", "h"),
	    "command-line line 0: no argument after keyword \"User\"");
	assert_fails(&sa, PARSE(&sa, "-oUser=a b", "h"),
	    "command-line line 0: keyword User extra arguments at end of "
	    "line");
	assert_fails(&sa, PARSE(&sa, "-oUser=\"a", "h"),
	    "command-line line 0: invalid quotes");
}

static void
test_flags(void **state)
{
	struct sshargs sa;

	(void)state;
	assert_ok(PARSE(&sa, "-nqT", "h", "true"));
	assert_int_equal(sa.no_stdin, 1);
	assert_int_equal(sa.quiet, 1);
	assert_int_equal(sa.tty, -1);
	assert_strv(sa.ignored, NONE);
	sshargs_free(&sa);

	assert_ok(PARSE(&sa, "-vvv", "h"));
	assert_int_equal(sa.verbose, 3);
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-v", "-vvv", "h"));
	assert_int_equal(sa.verbose, 3);
	sshargs_free(&sa);

	assert_ok(PARSE(&sa, "-f", "h", "sleep", "1"));
	assert_int_equal(sa.background, 1);
	assert_int_equal(sa.no_stdin, 1);
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-fN", "h"));
	assert_int_equal(sa.no_command, 1);
	sshargs_free(&sa);
	assert_fails(&sa, PARSE(&sa, "-f", "h"),
	    "Cannot fork into background without a command to execute.");

	assert_ok(PARSE(&sa, "-N", "h"));
	assert_int_equal(sa.no_command, 1);
	assert_int_equal(sa.tty, -1);
	sshargs_free(&sa);

	assert_ok(PARSE(&sa, "-oStdinNull=yes", "-n", "h"));
	assert_int_equal(sa.no_stdin, 1);
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-oStdinNull=no", "h"));
	assert_int_equal(sa.no_stdin, 0);
	sshargs_free(&sa);

	/* Effect-free flags are listed, one per letter. */
	assert_ok(PARSE(&sa, "-4AxC", "-6", "-2", "h"));
	assert_strv(sa.ignored, WORDS("-4", "-A", "-x", "-C", "-6", "-2"));
	sshargs_free(&sa);
}

static void
test_tty(void **state)
{
	static const struct {
		const char	*args[4];
		int		 tty;
	} cases[] = {
		{ { "-t" }, 1 },
		{ { "-tt" }, 2 },
		{ { "-t", "-t" }, 2 },
		{ { "-ttt" }, 1 },		/* ssh toggles yes/force */
		{ { "-T" }, -1 },
		{ { "-tT" }, -1 },
		{ { "-Tt" }, 1 },
		{ { "-oRequestTTY=force" }, 2 },
		{ { "-oRequestTTY=yes" }, 1 },
		{ { "-oRequestTTY=no" }, -1 },
		{ { "-oRequestTTY=auto" }, 0 },
		{ { "-oRequestTTY=yes", "-t" }, 2 },
		{ { "-oRequestTTY=no", "-oRequestTTY=yes" }, -1 },
		{ { "-t", "-oRequestTTY=no" }, 1 },
		{ { "-oRequestTTY=no", "-t" }, 1 },
	};
	struct sshargs sa;
	const char *words[8];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		size_t n = 0;

		words[n++] = "ssh";
		for (size_t j = 0; cases[i].args[j] != NULL; j++)
			words[n++] = cases[i].args[j];
		words[n++] = "h";
		words[n] = NULL;
		assert_ok(parse_v(&sa, words));
		if (sa.tty != cases[i].tty) {
			fail_msg("case %zu (%s ...): tty %d, wanted %d", i,
			    cases[i].args[0], sa.tty, cases[i].tty);
		}
		sshargs_free(&sa);
	}
	assert_fails(&sa, PARSE(&sa, "-oRequestTTY=maybe", "h"),
	    "command-line line 0: unsupported option \"maybe\".");
}

static void
test_subsystem(void **state)
{
	struct sshargs sa;

	(void)state;
	assert_ok(PARSE(&sa, "-s", "h", "sftp"));
	assert_int_equal(sa.subsystem, 1);
	assert_strv(sa.command, WORDS("sftp"));
	sshargs_free(&sa);

	assert_ok(PARSE(&sa, "-oSessionType=subsystem", "h", "sftp"));
	assert_int_equal(sa.subsystem, 1);
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-oSessionType=none", "h"));
	assert_int_equal(sa.no_command, 1);
	sshargs_free(&sa);

	assert_fails(&sa, PARSE(&sa, "-s", "h"),
	    "You must specify a subsystem to invoke.");
	assert_fails(&sa, PARSE(&sa, "-s", "-N", "h", "sftp"),
	    "Cannot specify -N with -s/SessionType");
	assert_fails(&sa, PARSE(&sa, "-N", "h", "-s", "sftp"),
	    "Cannot specify -s with -N/SessionType");
	assert_fails(&sa, PARSE(&sa, "-oSessionType=default", "-s", "h",
	    "sftp"), "Cannot specify -s with -N/SessionType");
}

static void
test_options_after_host(void **state)
{
	struct sshargs sa;
	char *cmd;

	(void)state;
	assert_ok(PARSE(&sa, "host", "-l", "user", "-p", "22", "cmd", "-x"));
	assert_string_equal(sa.user, "user");
	assert_string_equal(sa.port, "22");
	assert_strv(sa.command, WORDS("cmd", "-x"));
	sshargs_free(&sa);

	/* Only one run after the host: the command may look like options. */
	assert_ok(PARSE(&sa, "-v", "host", "-n", "ls", "-l", "-n", "--",
	    "-q"));
	assert_int_equal(sa.no_stdin, 1);
	assert_int_equal(sa.quiet, 0);
	assert_strv(sa.command, WORDS("ls", "-l", "-n", "--", "-q"));
	cmd = sshargs_command(&sa);
	assert_string_equal(cmd, "ls -l -n -- -q");
	free(cmd);
	sshargs_free(&sa);

	/* "--" after the host ends that run and is eaten. */
	assert_ok(PARSE(&sa, "host", "-t", "--", "-x", "y"));
	assert_int_equal(sa.tty, 1);
	assert_strv(sa.command, WORDS("-x", "y"));
	sshargs_free(&sa);

	assert_ok(PARSE(&sa, "host", "--"));
	assert_strv(sa.command, NONE);
	sshargs_free(&sa);
}

static void
test_double_dash(void **state)
{
	struct sshargs sa;

	(void)state;
	/* After "--" before the host, nothing more is an option. */
	assert_ok(PARSE(&sa, "--", "host", "-l", "u"));
	assert_null(sa.user);
	assert_strv(sa.command, WORDS("-l", "u"));
	sshargs_free(&sa);

	assert_ok(PARSE(&sa, "-l", "u", "--", "host", "cmd"));
	assert_string_equal(sa.user, "u");
	assert_strv(sa.command, WORDS("cmd"));
	sshargs_free(&sa);

	/* An argument that is "--" is just an argument. */
	assert_ok(PARSE(&sa, "-l", "--", "host"));
	assert_string_equal(sa.user, "--");
	sshargs_free(&sa);

	/* A lone "-" is not an option but the destination, a bad one. */
	assert_fails(&sa, PARSE(&sa, "-"),
	    "hostname contains invalid characters");
	assert_fails(&sa, PARSE(&sa, "--", "-oProxyCommand=touch"),
	    "hostname contains invalid characters");
	assert_fails(&sa, PARSE(&sa, "user@-h"),
	    "hostname contains invalid characters");
	assert_fails(&sa, PARSE(&sa, "a b"),
	    "hostname contains invalid characters");
}

static void
test_uri(void **state)
{
	struct sshargs sa;
	const char *usage = sshargs_usage();

	(void)state;
	assert_ok(PARSE(&sa, "ssh://user@host:2222", "ls"));
	assert_string_equal(sa.dest, "ssh://user@host:2222");
	assert_string_equal(sa.user, "user");
	assert_string_equal(sa.host, "host");
	assert_string_equal(sa.port, "2222");
	assert_strv(sa.command, WORDS("ls"));
	sshargs_free(&sa);

	assert_ok(PARSE(&sa, "ssh://host/"));
	assert_null(sa.user);
	assert_null(sa.port);
	assert_string_equal(sa.host, "host");
	sshargs_free(&sa);

	/* -p and -l before it win, as in ssh. */
	assert_ok(PARSE(&sa, "-p", "22", "-l", "x", "ssh://u@h:2222"));
	assert_string_equal(sa.port, "22");
	assert_string_equal(sa.user, "x");
	sshargs_free(&sa);

	/* A url-encoded user; connection parameters are dropped. */
	assert_ok(PARSE(&sa, "ssh://a%40b;fingerprint=SHA256-x@[::1]:22"));
	assert_string_equal(sa.user, "a@b");
	assert_string_equal(sa.host, "::1");
	assert_string_equal(sa.port, "22");
	sshargs_free(&sa);

	assert_fails(&sa, PARSE(&sa, "ssh://host/path"), usage);
	assert_fails(&sa, PARSE(&sa, "ssh://@host"), usage);
	assert_fails(&sa, PARSE(&sa, "ssh://host:0"), usage);
	assert_fails(&sa, PARSE(&sa, "ssh://host:x"), usage);
	assert_fails(&sa, PARSE(&sa, "ssh://"), usage);
	assert_fails(&sa, PARSE(&sa, "ssh://%zz@h"), usage);
	assert_fails(&sa, PARSE(&sa, "ssh://[::1"), usage);
}

static void
test_rsync(void **state)
{
	struct sshargs sa;
	char *cmd;

	(void)state;
	assert_ok(PARSE(&sa, "-l", "user", "host", "rsync", "--server",
	    "-vlogDtpre.iLsfxCIvu", ".", "/dst"));
	assert_string_equal(sa.user, "user");
	assert_string_equal(sa.host, "host");
	assert_int_equal(sa.verbose, 0);
	assert_strv(sa.command, WORDS("rsync", "--server",
	    "-vlogDtpre.iLsfxCIvu", ".", "/dst"));
	cmd = sshargs_command(&sa);
	assert_string_equal(cmd, "rsync --server -vlogDtpre.iLsfxCIvu . /dst");
	free(cmd);
	sshargs_free(&sa);
}

static void
test_scp_sftp_mode(void **state)
{
	struct sshargs sa;

	(void)state;
	assert_ok(PARSE(&sa, "-x", "-oPermitLocalCommand=no",
	    "-oClearAllForwardings=yes", "-oRemoteCommand=none",
	    "-oRequestTTY=no", "-oForwardAgent=no", "-l", "user", "-s", "--",
	    "host", "sftp"));
	assert_string_equal(sa.user, "user");
	assert_string_equal(sa.host, "host");
	assert_int_equal(sa.subsystem, 1);
	assert_int_equal(sa.tty, -1);
	assert_strv(sa.command, WORDS("sftp"));
	assert_strv(sa.opts, WORDS("PermitLocalCommand=no",
	    "ClearAllForwardings=yes", "RemoteCommand=none", "RequestTTY=no",
	    "ForwardAgent=no"));
	assert_strv(sa.ignored, WORDS("-x", "-o PermitLocalCommand=no",
	    "-o ForwardAgent=no"));
	assert_null(sa.forward);
	sshargs_free(&sa);

	/* Legacy scp: the command follows "--" and the host. */
	assert_ok(PARSE(&sa, "-x", "-oPermitLocalCommand=no",
	    "-oClearAllForwardings=yes", "-oRemoteCommand=none",
	    "-oRequestTTY=no", "-oForwardAgent=no", "-p", "2222", "--",
	    "u@host", "scp -f /etc/hostname"));
	assert_int_equal(sa.subsystem, 0);
	assert_string_equal(sa.port, "2222");
	assert_strv(sa.command, WORDS("scp -f /etc/hostname"));
	sshargs_free(&sa);
}

static void
test_git(void **state)
{
	struct sshargs sa;
	char *cmd;

	(void)state;
	assert_ok(PARSE(&sa, "-o", "SendEnv=GIT_PROTOCOL", "host",
	    "git-upload-pack '/x'"));
	assert_string_equal(sa.host, "host");
	assert_strv(sa.opts, WORDS("SendEnv=GIT_PROTOCOL"));
	assert_strv(sa.command, WORDS("git-upload-pack '/x'"));
	cmd = sshargs_command(&sa);
	assert_string_equal(cmd, "git-upload-pack '/x'");
	free(cmd);
	sshargs_free(&sa);

	assert_ok(PARSE(&sa, "-o", "SendEnv=GIT_PROTOCOL", "-p", "2222",
	    "git@host", "git-receive-pack '/r.git'"));
	assert_string_equal(sa.user, "git");
	assert_string_equal(sa.port, "2222");
	sshargs_free(&sa);
}

/* SendEnv adds up and "-PAT" drops; the first SetEnv wins, as in
 * ssh_config, and in it the first of a name. */
static void
test_env(void **state)
{
	struct sshargs sa;

	(void)state;
	assert_ok(PARSE(&sa, "-o", "SendEnv=LANG LC_*", "-oSendEnv XY",
	    "-o", "SendEnv=-L*", "-o", "SetEnv=A=1 \"B=two words\" A=3",
	    "-o", "SetEnv=C=4", "h"));
	assert_strv(sa.sendenv, WORDS("XY"));
	assert_strv(sa.setenv, WORDS("A=1", "B=two words"));
	assert_strv(sa.ignored, NONE);
	sshargs_free(&sa);

	assert_fails(&sa, PARSE(&sa, "-o", "SetEnv=A", "h"),
	    "command-line line 0: Invalid SetEnv.");
	assert_fails(&sa, PARSE(&sa, "-o", "SendEnv=A=1", "h"),
	    "command-line line 0: Invalid environment name.");
}

static void
test_remote_command(void **state)
{
	struct sshargs sa;
	char *cmd;

	(void)state;
	assert_ok(PARSE(&sa, "-oRemoteCommand=ls", "host"));
	assert_strv(sa.command, WORDS("ls"));
	assert_strv(sa.opts, WORDS("RemoteCommand=ls"));
	assert_strv(sa.ignored, NONE);
	sshargs_free(&sa);

	/* Kept raw: it is a shell command line, quotes and all. */
	assert_ok(PARSE(&sa, "-o", "RemoteCommand = cd /tmp && ls \"a b\"",
	    "host"));
	cmd = sshargs_command(&sa);
	assert_string_equal(cmd, "cd /tmp && ls \"a b\"");
	free(cmd);
	sshargs_free(&sa);

	/* First wins, "none" included. */
	assert_ok(PARSE(&sa, "-oRemoteCommand=none", "-oRemoteCommand=ls",
	    "host"));
	assert_strv(sa.command, NONE);
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-oRemoteCommand=NONE", "host", "pwd"));
	assert_strv(sa.command, WORDS("pwd"));
	sshargs_free(&sa);

	assert_fails(&sa, PARSE(&sa, "-oRemoteCommand=ls", "host", "pwd"),
	    "Cannot execute command-line and remote command.");
}

static void
test_errors(void **state)
{
	struct sshargs sa;
	const char *usage = sshargs_usage();

	(void)state;
	assert_true(strncmp(usage, "usage: ssh ", 11) == 0);
	assert_fails(&sa, PARSE(&sa, "host", "-p"),
	    "option requires an argument -- p");
	assert_fails(&sa, PARSE(&sa, "-l"),
	    "option requires an argument -- l");
	assert_fails(&sa, PARSE(&sa, "-vo"),
	    "option requires an argument -- o");
	assert_fails(&sa, PARSE(&sa, "-Z", "host"), "unknown option -- Z");
	assert_fails(&sa, PARSE(&sa, "-vZ", "host"), "unknown option -- Z");
	assert_fails(&sa, PARSE(&sa, "host", "-Z", "cmd"),
	    "unknown option -- Z");
	assert_fails(&sa, PARSE(&sa, "--verbose", "host"),
	    "unknown option -- -");
	assert_fails(&sa, PARSE(&sa, "-1", "host"),
	    "SSH protocol v.1 is no longer supported");
	assert_fails(&sa, parse_v(&sa, WORDS("ssh")), usage);
	assert_fails(&sa, PARSE(&sa, "-v", "-l", "u"), usage);
	assert_fails(&sa, PARSE(&sa, "--"), usage);
	assert_fails(&sa, PARSE(&sa, "@host"), usage);
	assert_fails(&sa, PARSE(&sa, "user@"),
	    "hostname contains invalid characters");

	/* No room for a message is not a crash. */
	assert_int_equal(sshargs_parse(2, (char *[]){ "ssh", "-Z", NULL },
	    &sa, NULL, 0), -1);
	assert_int_equal(sshargs_parse(0, (char *[]){ NULL }, &sa, err, 1),
	    -1);
	assert_string_equal(err, "");
}

static void
test_version(void **state)
{
	struct sshargs sa;

	(void)state;
	/* ssh prints its version and exits at -V: nothing else counts. */
	assert_ok(PARSE(&sa, "-V"));
	assert_int_equal(sa.version, 1);
	assert_null(sa.host);
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-qV", "-Z"));
	assert_int_equal(sa.version, 1);
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "host", "-V", "-s"));
	assert_int_equal(sa.version, 1);
	sshargs_free(&sa);
	assert_fails(&sa, PARSE(&sa, "-Z", "-V"), "unknown option -- Z");
}

static void
test_ignored(void **state)
{
	struct sshargs sa;

	(void)state;
	assert_ok(PARSE(&sa, "-A", "-Jjump", "-C",
	    "-o", "ForwardAgent=no", "-b",
	    "127.0.0.1", "-c", "aes128-ctr", "-e", "none", "-m",
	    "hmac-sha2-256", "-S", "/tmp/ctl",
	    "-I", "pkcs", "-B", "lo", "-P", "tag", "-Q",
	    "cipher", "-g", "-K", "-k", "-M", "-X", "-Y", "-y", "-a",
	    "host"));
	assert_strv(sa.ignored, WORDS("-A", "-J jump", "-C",
	    "-o ForwardAgent=no", "-b 127.0.0.1",
	    "-c aes128-ctr", "-e none", "-m hmac-sha2-256", "-S /tmp/ctl",
	    "-I pkcs", "-B lo", "-P tag",
	    "-Q cipher", "-K", "-k", "-M", "-X", "-Y", "-y",
	    "-a"));
	assert_null(sa.forward);
	assert_string_equal(sa.host, "host");
	assert_strv(sa.command, NONE);
	sshargs_free(&sa);
	/* Not ignored: each would run a shell where none was asked for. */
	assert_fails(&sa, PARSE(&sa, "-O", "check", "host"),
	    "spindle: -O check is not supported: the daemon holds the "
	    "connection (spindle ls, spindle down)");
	assert_fails(&sa, PARSE(&sa, "-Oexit", "host"),
	    "spindle: -O exit is not supported: the daemon holds the "
	    "connection (spindle ls, spindle down)");
	assert_fails(&sa, PARSE(&sa, "-O", "bogus", "host"),
	    "Invalid multiplex command.");
	assert_fails(&sa, PARSE(&sa, "-G", "host"),
	    "spindle: -G is not supported");
}

/* parse_forward(WANT, args...): parses, and forward is WANT (or NULL). */
static void
parse_forward(const char *want, const char **words)
{
	struct sshargs sa;

	assert_ok(parse_v(&sa, words));
	if (want == NULL && sa.forward != NULL)
		fail_msg("forward \"%s\", wanted none", sa.forward);
	if (want != NULL) {
		assert_non_null(sa.forward);
		assert_string_equal(sa.forward, want);
	}
	/* Read, not ignored: -v lists none of them. */
	for (char **i = sa.ignored; *i != NULL; i++) {
		if (strchr("LRDWw", (*i)[1]) != NULL ||
		    strstr(*i, "LocalForward") != NULL ||
		    strstr(*i, "RemoteForward") != NULL ||
		    strstr(*i, "DynamicForward") != NULL ||
		    strstr(*i, "Tunnel") != NULL ||
		    strstr(*i, "ClearAllForwardings") != NULL)
			fail_msg("\"%s\" listed as ignored", *i);
	}
	sshargs_free(&sa);
}
#define FORWARD(want, ...) \
	parse_forward((want), (const char *[]){ "ssh", __VA_ARGS__, NULL })

/* Forwardings are read, not ignored: the shim refuses them until it has
 * tunnels.  The first one is named; ClearAllForwardings (first value
 * wins) clears -L -R -D -w and their keywords, not -W, as ssh does. */
static void
test_forwardings(void **state)
{
	(void)state;
	FORWARD("-L", "-L", "8080:x:80", "h");
	FORWARD("-R", "-R5000:y:22", "h", "cmd");
	FORWARD("-D", "-D", "1080", "-N", "h");
	FORWARD("-W", "-W", "x:22", "h");
	FORWARD("-w", "-w", "0:1", "h");
	FORWARD("-L", "h", "-L1:x:2", "-R3:y:4");	/* after the host */
	FORWARD("-D", "-fND1080", "h");			/* in a bundle */
	FORWARD("-o LocalForward", "-oLocalForward=8080 x:80", "h");
	FORWARD("-o RemoteForward", "-o", "remoteforward 5000 y:22", "h");
	FORWARD("-o DynamicForward", "-oDynamicForward=1080", "h");
	FORWARD("-o Tunnel", "-oTunnel=point-to-point", "h");
	FORWARD(NULL, "-oTunnel=no", "h");
	FORWARD(NULL, "-oClearAllForwardings=yes", "-L1:x:2", "-D3", "h");
	FORWARD(NULL, "-L1:x:2", "-oClearAllForwardings=yes", "h");
	FORWARD("-L", "-oClearAllForwardings=no", "-oClearAllForwardings=yes",
	    "-L1:x:2", "h");
	FORWARD("-W", "-oClearAllForwardings=yes", "-W", "x:22", "h");
	FORWARD("-W", "-oClearAllForwardings=yes", "-L1:x:2", "-Wx:22", "h");
	/* What scp and sftp run: no forwarding, even though they clear. */
	FORWARD(NULL, "-x", "-oPermitLocalCommand=no",
	    "-oClearAllForwardings=yes", "-oForwardAgent=no", "-s", "--",
	    "h", "sftp");
}

static void
test_forward_errors(void **state)
{
	struct sshargs sa;

	(void)state;
	assert_fails(&sa, PARSE(&sa, "-oTunnel=sideways", "h"),
	    "command-line line 0: unsupported option \"sideways\".");
	assert_fails(&sa, PARSE(&sa, "-oClearAllForwardings=maybe", "h"),
	    "command-line line 0: unsupported option \"maybe\".");
	assert_fails(&sa, PARSE(&sa, "-L"),
	    "option requires an argument -- L");
}

static void
assert_fwd(const struct fwd_spec *fs, int kind, const char *text)
{
	char *t = fwd_spec_text(fs);

	assert_int_equal(fs->kind, kind);
	assert_string_equal(t, text);
	free(t);
}

static void
test_forward_specs(void **state)
{
	struct sshargs sa;

	(void)state;
	assert_ok(PARSE(&sa, "-L8080:web:80", "-D", "localhost:1080",
	    "-oLocalForward=9090 [::1]:90", "-R", "0:127.0.0.1:22",
	    "-o", "RemoteForward 1081", "-oDynamicForward=/tmp/s.sock", "-N",
	    "h", "-L", "/tmp/l.sock:/run/pg.sock"));
	assert_int_equal(sa.nfwds, 7);
	assert_fwd(&sa.fwds[0], FWD_LOCAL, "8080:web:80");
	assert_fwd(&sa.fwds[1], FWD_DYNAMIC, "localhost:1080");
	assert_fwd(&sa.fwds[2], FWD_LOCAL, "9090:[::1]:90");
	assert_fwd(&sa.fwds[3], FWD_REMOTE, "0:127.0.0.1:22");
	assert_fwd(&sa.fwds[4], FWD_REMOTE, "1081");
	assert_fwd(&sa.fwds[5], FWD_DYNAMIC, "/tmp/s.sock");
	assert_fwd(&sa.fwds[6], FWD_LOCAL, "/tmp/l.sock:/run/pg.sock");
	assert_null(sa.stdio);
	assert_int_equal(sa.no_command, 1);
	assert_int_equal(sa.gateway_ports, 0);
	assert_int_equal(sa.exit_on_fwd_fail, 0);
	sshargs_free(&sa);

	/* -g always wins; of the -o forms the first value does. */
	assert_ok(PARSE(&sa, "-oGatewayPorts=no", "-g",
	    "-oExitOnForwardFailure=yes", "-oExitOnForwardFailure=no", "h"));
	assert_int_equal(sa.gateway_ports, 1);
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-oGatewayPorts=no", "-oGatewayPorts=yes",
	    "-oExitOnForwardFailure=yes", "-oExitOnForwardFailure=no", "h"));
	assert_int_equal(sa.gateway_ports, 0);
	assert_int_equal(sa.exit_on_fwd_fail, 1);
	assert_strv(sa.ignored, NONE);
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-g", "-oGatewayPorts=no", "-fNL1:x:2", "h"));
	assert_int_equal(sa.gateway_ports, 1);
	assert_int_equal(sa.background, 1);
	assert_int_equal(sa.no_stdin, 1);
	sshargs_free(&sa);

	/* ClearAllForwardings, whenever it comes, clears them all. */
	assert_ok(PARSE(&sa, "-L1:x:2", "-oClearAllForwardings=yes", "-D3",
	    "h"));
	assert_int_equal(sa.nfwds, 0);
	assert_null(sa.fwds);
	sshargs_free(&sa);

	/* -W: -N -T ExitOnForwardFailure ClearAllForwardings, unless set. */
	assert_ok(PARSE(&sa, "-L1:x:2", "-W", "inner:22", "h"));
	assert_non_null(sa.stdio);
	assert_fwd(sa.stdio, FWD_STDIO, "inner:22");
	assert_int_equal(sa.nfwds, 0);
	assert_int_equal(sa.no_command, 1);
	assert_int_equal(sa.tty, -1);
	assert_int_equal(sa.exit_on_fwd_fail, 1);
	sshargs_free(&sa);
	assert_ok(PARSE(&sa, "-oClearAllForwardings=no", "-L1:x:2",
	    "-oExitOnForwardFailure=no", "-W[fd00::1]:22", "h"));
	assert_int_equal(sa.nfwds, 1);
	assert_int_equal(sa.exit_on_fwd_fail, 0);
	assert_fwd(sa.stdio, FWD_STDIO, "[fd00::1]:22");
	sshargs_free(&sa);

	/* What ssh says to bad ones (and exits 255). */
	assert_fails(&sa, PARSE(&sa, "-L", "8080:web", "h"),
	    "Bad local forwarding specification '8080:web'");
	assert_fails(&sa, PARSE(&sa, "-R", "x:y:z", "h"),
	    "Bad remote forwarding specification 'x:y:z'");
	assert_fails(&sa, PARSE(&sa, "-D0", "h"),
	    "Bad dynamic forwarding specification '0'");
	assert_fails(&sa, PARSE(&sa, "-W", "inner", "h"),
	    "Bad stdio forwarding specification 'inner'");
	assert_fails(&sa, PARSE(&sa, "-Wa:1", "-Wb:2", "h"),
	    "stdio forward already specified");
	assert_fails(&sa, PARSE(&sa, "-oLocalForward=8080", "h"),
	    "command-line line 0: Missing target argument.");
	assert_fails(&sa, PARSE(&sa, "-oLocalForward=8080 x", "h"),
	    "command-line line 0: Bad forwarding specification.");
	assert_fails(&sa, PARSE(&sa, "-oDynamicForward=1 2", "h"),
	    "command-line line 0: keyword DynamicForward extra arguments "
	    "at end of line");
	assert_fails(&sa, PARSE(&sa, "-oGatewayPorts=maybe", "h"),
	    "command-line line 0: unsupported option \"maybe\".");
}

static void
test_files(void **state)
{
	struct sshargs sa;

	(void)state;
	assert_ok(PARSE(&sa, "-F", "/c1", "-F/c2", "-E", "/l1", "-E/l2",
	    "-i", "/k1", "-oIdentityFile=/k2", "-i/k3", "-o",
	    "IdentityFile \"/k 4\"", "h"));
	assert_string_equal(sa.config, "/c2");
	assert_string_equal(sa.logfile, "/l2");
	assert_strv(sa.identities, WORDS("/k1", "/k2", "/k3", "/k 4"));
	assert_strv(sa.opts, WORDS("IdentityFile=/k2",
	    "IdentityFile=\"/k 4\""));
	assert_strv(sa.ignored, NONE);
	sshargs_free(&sa);

	/* Keys are matched without case and kept as given. */
	assert_ok(PARSE(&sa, "-oidentityfile=/k", "-oUSER=bob", "h"));
	assert_strv(sa.identities, WORDS("/k"));
	assert_string_equal(sa.user, "bob");
	assert_strv(sa.opts, WORDS("identityfile=/k", "USER=bob"));
	sshargs_free(&sa);
}

static void
test_command_join(void **state)
{
	struct sshargs sa;
	char *cmd;

	(void)state;
	/* ssh quotes nothing: the remote shell splits the line again. */
	assert_ok(PARSE(&sa, "h", "echo", "a b", "", "$HOME", "'q'"));
	assert_strv(sa.command, WORDS("echo", "a b", "", "$HOME", "'q'"));
	cmd = sshargs_command(&sa);
	assert_string_equal(cmd, "echo a b  $HOME 'q'");
	free(cmd);
	sshargs_free(&sa);

	assert_ok(PARSE(&sa, "h", ""));
	cmd = sshargs_command(&sa);
	assert_string_equal(cmd, "");
	free(cmd);
	sshargs_free(&sa);

	memset(&sa, 0, sizeof sa);
	assert_null(sshargs_command(&sa));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_user_at_host),
		cmocka_unit_test(test_user_precedence),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_option_forms),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_tty),
		cmocka_unit_test(test_subsystem),
		cmocka_unit_test(test_options_after_host),
		cmocka_unit_test(test_double_dash),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_rsync),
		cmocka_unit_test(test_scp_sftp_mode),
		cmocka_unit_test(test_git),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_remote_command),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_ignored),
		cmocka_unit_test(test_forwardings),
		cmocka_unit_test(test_forward_errors),
		cmocka_unit_test(test_forward_specs),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_command_join),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
