/*
 * The ssh(1) command line, as OpenSSH 9.x reads it, so that whatever runs
 * `ssh` (rsync, scp, sftp, git, scripts) gets the same reading from the
 * shim as from the real client:
 *
 *	ssh [options] destination [options] [--] [command [argument ...]]
 *
 * Options are getopt(3) style without permutation (OpenSSH brings its own
 * BSD getopt): bundles such as -nqT, arguments glued (-p22) or apart
 * (-p 22), "--" ends them.  After the destination, one more run of options
 * is read if the next word starts with '-'; everything after that run is
 * the command, whatever it looks like.
 *
 * Precedence follows ssh.c rather than intuition: the FIRST user wins
 * among -l, -oUser and user@host, in command-line order.  ssh.c sets
 * options.user from -l or -oUser only while it is still NULL, and takes
 * the user of user@host (or of an ssh:// URI) only if neither came
 * before the destination; so "ssh -l a b@h" logs in as a, "ssh b@h -l a"
 * as b.  The port works the same way (-p, -oPort, the URI port), and so
 * do -oRequestTTY and -oRemoteCommand against later -o of the same key;
 * -t and -T always win.  -F and -E keep the last one, -i and
 * -oIdentityFile add up.
 *
 * Known differences: -p and -oPort take numbers only (a service name
 * would need NSS); -i files are not checked for existence; the
 * destination is refused only for a leading '-', blanks and control
 * characters (ssh 9.6+ also refuses ',' and shell metacharacters, but
 * inline routes use ','); "-l -- host -p 2" reads -p (ssh takes the
 * "--" argument for an end of options).  Forwardings -L -R -D and their
 * -o keywords are parsed (lib/fwdspec.c) into `fwds`, which
 * ClearAllForwardings clears as in ssh, -W into `stdio` (it implies -N
 * -T, ExitOnForwardFailure and ClearAllForwardings unless those are
 * given); the first forwarding of any kind, -w and Tunnel included, is
 * named in `forward` (the shim refuses the tunnel devices).  -g always
 * wins; of GatewayPorts and ExitOnForwardFailure the first value does,
 * as ssh_config's do.  Options that only make sense for a real client
 * (-A, -X, -J, -Q, -G, -O ...) are accepted unchecked and listed in
 * `ignored`.  SendEnv and SetEnv are kept as ssh_config keeps them
 * (patterns add up, "-PATTERN" drops those it matches; the first SetEnv
 * wins, and in it the first of a name).
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fakessh.h"

#define SSHARGS_FLAGS	"1246AaCfGgKkMNnqsTtVvXxYy"
#define SSHARGS_WITHARG	"BbcDEeFIiJLlmOoPpQRSWw"
#define SSHARGS_BLANK	" \t\r\n"

/* OpenSSH's session_type: -s, -N and -oSessionType may not disagree. */
enum sshargs_session {
	SESSION_UNSET,
	SESSION_SHELL,
	SESSION_NONE,
	SESSION_SUBSYSTEM
};

struct sshargs_state {
	struct sshargs		*sa;
	char			*err;
	size_t			 errlen;
	size_t			 nidentities;
	size_t			 nopts;
	size_t			 ncommand;
	size_t			 nignored;
	size_t			 nsendenv;
	int			 setenv_set;
	int			 tty_set;
	int			 stdin_set;
	enum sshargs_session	 session;
	char			*remote;	/* 1st RemoteCommand */
	int			 ended;		/* at a "--" */
	const char		*forward;	/* 1st -L -R -D -w or -o kind */
	int			 stdio_forward;	/* -W */
	int			 clear_forwards; /* -1 unset, else 1st value */
	int			 gateway_ports;	/* -1 unset, else 1st value */
	int			 exit_on_fail;	/* likewise */
};

static const char sshargs_usage_text[] =
    "usage: ssh [-46AaCfGgKkMNnqsTtVvXxYy] [-B bind_interface] "
    "[-b bind_address]\n"
    "           [-c cipher_spec] [-D [bind_address:]port] [-E log_file]\n"
    "           [-e escape_char] [-F configfile] [-I pkcs11] "
    "[-i identity_file]\n"
    "           [-J destination] [-L address] [-l login_name] "
    "[-m mac_spec]\n"
    "           [-O ctl_cmd] [-o option] [-P tag] [-p port] [-R address]\n"
    "           [-S ctl_path] [-W host:port] "
    "[-w local_tun[:remote_tun]]\n"
    "           destination [command [argument ...]]\n"
    "       ssh [-Q query_option]";

static int	sshargs_error(struct sshargs_state *, const char *, ...)
		    SPN_PRINTF(2, 3);

static int
sshargs_error(struct sshargs_state *st, const char *fmt, ...)
{
	va_list ap;

	if (st->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(st->err, st->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A port as a2port() reads it, service names aside; NULL if bad. */
static char *
sshargs_port(const char *s)
{
	unsigned long n = 0;

	if (*s == '\0')
		return NULL;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s) || (n = n * 10 + *s - '0') >
		    65535)
			return NULL;
	}
	if (n == 0)
		return NULL;
	return xprintf("%lu", n);
}

/*
 * A value split into words as ssh_config splits them: blanks separate,
 * quotes group, a backslash escapes a quote, a backslash or (unquoted) a
 * space, and an unquoted '#' starting a word ends the line.  -1 if a
 * quote is left open.
 */
static int
sshargs_words(const char *s, char ***wordsp)
{
	char **v = xcalloc(1, sizeof *v), *w = xmalloc(strlen(s) + 1);
	size_t n = 0, j;
	char quote;

	for (;;) {
		s += strspn(s, SSHARGS_BLANK);
		if (*s == '\0' || *s == '#')
			break;
		for (j = 0, quote = 0; *s != '\0'; s++) {
			if (quote == 0 && strchr(SSHARGS_BLANK, *s) != NULL)
				break;
			if (*s == '\\' && s[1] != '\0' &&
			    (strchr("'\"\\", s[1]) != NULL ||
			    (quote == 0 && s[1] == ' ')))
				w[j++] = *++s;
			else if (quote == 0 && (*s == '"' || *s == '\''))
				quote = *s;
			else if (quote != 0 && *s == quote)
				quote = 0;
			else
				w[j++] = *s;
		}
		if (quote != 0) {
			free(w);
			strv_free(v);
			return -1;
		}
		strv_push(&v, &n, xstrndup(w, j));
	}
	free(w);
	*wordsp = v;
	return 0;
}

/* The single word of a keyword's value, or NULL with the error set. */
static char *
sshargs_word(struct sshargs_state *st, const char *key, const char *value)
{
	char **v, *w;

	if (sshargs_words(value, &v) != 0) {
		sshargs_error(st, "command-line line 0: invalid quotes");
		return NULL;
	}
	if (v[0] == NULL || v[1] != NULL) {
		if (v[0] == NULL)
			sshargs_error(st, "command-line line 0: no argument "
			    "after keyword \"%s\"", key);
		else
			sshargs_error(st, "command-line line 0: keyword %s "
			    "extra arguments at end of line", key);
		strv_free(v);
		return NULL;
	}
	w = v[0];
	free(v);
	return w;
}

/* ssh_config's yes/no words; -1 if it is neither. */
static int
sshargs_yesno(const char *s)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0)
		return 1;
	if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0)
		return 0;
	return -1;
}

static int
sshargs_unsupported(struct sshargs_state *st, char *word)
{
	sshargs_error(st, "command-line line 0: unsupported option \"%s\".",
	    word);
	free(word);
	return -1;
}

static int
sshargs_kw_user(struct sshargs_state *st, const char *key, const char *value)
{
	char *w;

	if ((w = sshargs_word(st, key, value)) == NULL)
		return -1;
	if (st->sa->user == NULL)
		st->sa->user = w;
	else
		free(w);
	return 0;
}

static int
sshargs_kw_port(struct sshargs_state *st, const char *key, const char *value)
{
	char *w, *port;

	if ((w = sshargs_word(st, key, value)) == NULL)
		return -1;
	port = sshargs_port(w);
	free(w);
	if (port == NULL)
		return sshargs_error(st,
		    "command-line line 0: Badly formatted port number.");
	if (st->sa->port == NULL)
		st->sa->port = port;
	else
		free(port);
	return 0;
}

static int
sshargs_kw_identity(struct sshargs_state *st, const char *key,
    const char *value)
{
	char *w;

	if ((w = sshargs_word(st, key, value)) == NULL)
		return -1;
	strv_push(&st->sa->identities, &st->nidentities, w);
	return 0;
}

static int
sshargs_kw_tty(struct sshargs_state *st, const char *key, const char *value)
{
	char *w;
	int tty;

	if ((w = sshargs_word(st, key, value)) == NULL)
		return -1;
	if (strcasecmp(w, "force") == 0)
		tty = 2;
	else if (strcasecmp(w, "auto") == 0)
		tty = 0;
	else if ((tty = sshargs_yesno(w)) == -1)
		return sshargs_unsupported(st, w);
	else if (tty == 0)
		tty = -1;
	free(w);
	if (!st->tty_set) {
		st->sa->tty = tty;
		st->tty_set = 1;
	}
	return 0;
}

/* Taken raw, not split into words: it is a shell command line. */
static int
sshargs_kw_remote(struct sshargs_state *st, const char *key,
    const char *value)
{
	(void)key;
	if (st->remote == NULL)
		st->remote = xstrdup(value);
	return 0;
}

static int
sshargs_kw_session(struct sshargs_state *st, const char *key,
    const char *value)
{
	enum sshargs_session session;
	char *w;

	if ((w = sshargs_word(st, key, value)) == NULL)
		return -1;
	if (strcasecmp(w, "none") == 0)
		session = SESSION_NONE;
	else if (strcasecmp(w, "subsystem") == 0)
		session = SESSION_SUBSYSTEM;
	else if (strcasecmp(w, "default") == 0)
		session = SESSION_SHELL;
	else
		return sshargs_unsupported(st, w);
	free(w);
	if (st->session == SESSION_UNSET)
		st->session = session;
	return 0;
}

/* A yes/no keyword's value: 1 or 0, or -1 with the error set. */
static int
sshargs_kw_yesno(struct sshargs_state *st, const char *key,
    const char *value)
{
	char *w;
	int on;

	if ((w = sshargs_word(st, key, value)) == NULL)
		return -1;
	if ((on = sshargs_yesno(w)) == -1)
		return sshargs_unsupported(st, w);
	free(w);
	return on;
}

static int
sshargs_kw_stdin(struct sshargs_state *st, const char *key,
    const char *value)
{
	int on;

	if ((on = sshargs_kw_yesno(st, key, value)) == -1)
		return -1;
	if (!st->stdin_set) {
		st->sa->no_stdin = on;
		st->stdin_set = 1;
	}
	return 0;
}

/* Tunnel and the forwards: the first one is named, as ssh's
 * documentation spells it. */
static void
sshargs_forward_kind(struct sshargs_state *st, const char *key)
{
	static const char *kinds[] = { "LocalForward", "RemoteForward",
	    "DynamicForward", "Tunnel" };

	for (size_t i = 0; st->forward == NULL && i < 4; i++) {
		if (strcasecmp(key, kinds[i]) == 0)
			st->forward = kinds[i];
	}
}

static void
sshargs_add_forward(struct sshargs_state *st, const struct fwd_spec *fs)
{
	struct sshargs *sa = st->sa;

	sa->fwds = xrealloc(sa->fwds, (sa->nfwds + 1) * sizeof *sa->fwds);
	sa->fwds[sa->nfwds++] = *fs;
}

/*
 * LocalForward, RemoteForward, DynamicForward as ssh_config has them:
 * "[bind:]port host:hostport" in two words (RemoteForward with one word
 * is a dynamic one), read as ssh joins them for parse_forward.
 */
static int
sshargs_kw_forward(struct sshargs_state *st, const char *key,
    const char *value)
{
	struct fwd_spec fs;
	char **v, *spec, e[8];
	int kind, rc;

	if (sshargs_words(value, &v) != 0)
		return sshargs_error(st, "command-line line 0: invalid quotes");
	kind = strcasecmp(key, "LocalForward") == 0 ? FWD_LOCAL :
	    strcasecmp(key, "RemoteForward") == 0 ? FWD_REMOTE : FWD_DYNAMIC;
	rc = -1;
	if (v[0] == NULL)
		sshargs_error(st, "command-line line 0: Missing argument.");
	else if (kind == FWD_LOCAL && v[1] == NULL)
		sshargs_error(st, "command-line line 0: Missing target "
		    "argument.");
	else if (v[1] != NULL && (kind == FWD_DYNAMIC || v[2] != NULL))
		sshargs_error(st, "command-line line 0: keyword %s extra "
		    "arguments at end of line", key);
	else {
		spec = v[1] != NULL ? xprintf("%s:%s", v[0], v[1]) :
		    xstrdup(v[0]);
		if (fwd_spec_parse(kind, spec, &fs, e, sizeof e) != 0)
			sshargs_error(st, "command-line line 0: Bad "
			    "forwarding specification.");
		else {
			sshargs_add_forward(st, &fs);
			sshargs_forward_kind(st, key);
			rc = 0;
		}
		free(spec);
	}
	strv_free(v);
	return rc;
}

/* GatewayPorts and ExitOnForwardFailure: the first value wins. */
static int
sshargs_kw_fwdopt(struct sshargs_state *st, const char *key,
    const char *value)
{
	int on, *p;

	if ((on = sshargs_kw_yesno(st, key, value)) == -1)
		return -1;
	p = strcasecmp(key, "GatewayPorts") == 0 ? &st->gateway_ports :
	    &st->exit_on_fail;
	if (*p == -1)
		*p = on;
	return 0;
}

static int
sshargs_kw_tunnel(struct sshargs_state *st, const char *key,
    const char *value)
{
	char *w;

	if ((w = sshargs_word(st, key, value)) == NULL)
		return -1;
	if (strcasecmp(w, "no") == 0) {
		free(w);
		return 0;
	}
	if (strcasecmp(w, "point-to-point") != 0 &&
	    strcasecmp(w, "ethernet") != 0 && sshargs_yesno(w) != 1)
		return sshargs_unsupported(st, w);
	free(w);
	sshargs_forward_kind(st, key);
	return 0;
}

static int
sshargs_kw_clear(struct sshargs_state *st, const char *key,
    const char *value)
{
	int on;

	if ((on = sshargs_kw_yesno(st, key, value)) == -1)
		return -1;
	if (st->clear_forwards == -1)
		st->clear_forwards = on;
	return 0;
}

static int
sshargs_kw_sendenv(struct sshargs_state *st, const char *key,
    const char *value)
{
	struct sshargs *sa = st->sa;
	char **v;
	size_t i, j;

	(void)key;
	if (sshargs_words(value, &v) != 0)
		return sshargs_error(st, "command-line line 0: invalid quotes");
	for (i = 0; v[i] != NULL; i++) {
		if (*v[i] == '\0' || strchr(v[i], '=') != NULL) {
			strv_free(v);
			return sshargs_error(st, "command-line line 0: "
			    "Invalid environment name.");
		}
	}
	for (i = 0; v[i] != NULL; i++) {
		if (*v[i] != '-') {
			strv_push(&sa->sendenv, &st->nsendenv, v[i]);
			continue;
		}
		for (j = 0; j < st->nsendenv; ) {
			if (fnmatch(v[i] + 1, sa->sendenv[j], 0) != 0) {
				j++;
				continue;
			}
			free(sa->sendenv[j]);
			memmove(sa->sendenv + j, sa->sendenv + j + 1,
			    (st->nsendenv - j) * sizeof *sa->sendenv);
			st->nsendenv--;
		}
		free(v[i]);
	}
	free(v);
	return 0;
}

/* The first SetEnv's words are checked and taken, later ones checked. */
static int
sshargs_kw_setenv(struct sshargs_state *st, const char *key,
    const char *value)
{
	struct sshargs *sa = st->sa;
	size_t i, j, n = 0, len;
	char **v;

	(void)key;
	if (sshargs_words(value, &v) != 0)
		return sshargs_error(st, "command-line line 0: invalid quotes");
	for (i = 0; v[i] != NULL; i++) {
		if (strchr(v[i], '=') == NULL) {
			strv_free(v);
			return sshargs_error(st, "command-line line 0: "
			    "Invalid SetEnv.");
		}
	}
	if (st->setenv_set++) {
		strv_free(v);
		return 0;
	}
	for (i = 0; v[i] != NULL; i++) {
		len = strcspn(v[i], "=") + 1;
		for (j = 0; j < n; j++) {
			if (strncmp(sa->setenv[j], v[i], len) == 0)
				break;
		}
		if (j == n)
			strv_push(&sa->setenv, &n, v[i]);
		else
			free(v[i]);
	}
	free(v);
	return 0;
}

static const struct {
	const char	*name;
	int		(*fn)(struct sshargs_state *, const char *,
			    const char *);
} sshargs_keywords[] = {
	{ "SendEnv", sshargs_kw_sendenv },
	{ "SetEnv", sshargs_kw_setenv },
	{ "User", sshargs_kw_user },
	{ "Port", sshargs_kw_port },
	{ "IdentityFile", sshargs_kw_identity },
	{ "RequestTTY", sshargs_kw_tty },
	{ "RemoteCommand", sshargs_kw_remote },
	{ "SessionType", sshargs_kw_session },
	{ "StdinNull", sshargs_kw_stdin },
	{ "LocalForward", sshargs_kw_forward },
	{ "RemoteForward", sshargs_kw_forward },
	{ "DynamicForward", sshargs_kw_forward },
	{ "Tunnel", sshargs_kw_tunnel },
	{ "ClearAllForwardings", sshargs_kw_clear },
	{ "GatewayPorts", sshargs_kw_fwdopt },
	{ "ExitOnForwardFailure", sshargs_kw_fwdopt },
};

/*
 * -o: one ssh_config line, "Key Value", "Key=Value" or "Key = Value".
 * Every one is kept for a real ssh; the ones the shim cannot act on are
 * also listed as ignored.
 */
static int
sshargs_option(struct sshargs_state *st, const char *line)
{
	struct sshargs *sa = st->sa;
	const char *key, *value;
	char *k, *v;
	size_t klen, vlen, i;
	int rc = 1;

	key = line + strspn(line, SSHARGS_BLANK "\f");
	if (*key == '\0' || *key == '#')
		return 0;	/* a blank or comment line, as in a file */
	klen = strcspn(key, SSHARGS_BLANK "=");
	value = key + klen + strspn(key + klen, SSHARGS_BLANK);
	if (*value == '=')
		value += 1 + strspn(value + 1, SSHARGS_BLANK);
	vlen = strlen(value);
	while (vlen > 0 && strchr(SSHARGS_BLANK "\f", value[vlen - 1]) != NULL)
		vlen--;
	if (klen == 0)
		return sshargs_error(st, "command-line line 0: no keyword");
	k = xstrndup(key, klen);
	if (vlen == 0) {
		sshargs_error(st, "command-line line 0: no argument after "
		    "keyword \"%s\"", k);
		free(k);
		return -1;
	}
	v = xstrndup(value, vlen);
	strv_push(&sa->opts, &st->nopts, xprintf("%s=%s", k, v));
	for (i = 0; i < sizeof sshargs_keywords / sizeof *sshargs_keywords;
	    i++) {
		if (strcasecmp(k, sshargs_keywords[i].name) == 0) {
			rc = sshargs_keywords[i].fn(st, k, v);
			break;
		}
	}
	if (rc == 1) {
		strv_push(&sa->ignored, &st->nignored,
		    xprintf("-o %s=%s", k, v));
		rc = 0;
	}
	free(k);
	free(v);
	return rc;
}

static int
sshargs_set_session(struct sshargs_state *st, enum sshargs_session session)
{
	if (st->session != SESSION_UNSET && st->session != session) {
		return sshargs_error(st, "Cannot specify -%c with "
		    "-%c/SessionType", session == SESSION_NONE ? 'N' : 's',
		    session == SESSION_NONE ? 's' : 'N');
	}
	st->session = session;
	return 0;
}

static int
sshargs_flag(struct sshargs_state *st, int ch)
{
	struct sshargs *sa = st->sa;

	switch (ch) {
	case '1':
		return sshargs_error(st,
		    "SSH protocol v.1 is no longer supported");
	case 'f':
		sa->background = 1;
		/* FALLTHROUGH */
	case 'n':
		sa->no_stdin = 1;
		st->stdin_set = 1;
		break;
	case 'N':
		sa->tty = -1;
		st->tty_set = 1;
		return sshargs_set_session(st, SESSION_NONE);
	case 's':
		return sshargs_set_session(st, SESSION_SUBSYSTEM);
	case 'q':
		sa->quiet = 1;
		break;
	case 'g':
		/* ssh.c sets it outright: -g wins over any GatewayPorts. */
		st->gateway_ports = 1;
		break;
	case 'v':
		if (sa->verbose < 3)
			sa->verbose++;
		break;
	case 'V':
		sa->version = 1;
		break;
	case 'G':
		/* It prints the config and exits: running a shell instead
		 * would answer a script with something else entirely. */
		return sshargs_error(st, "spindle: -G is not supported");
	case 't':
		/* Like ssh: -t, -tt force, and a third -t is back to yes. */
		sa->tty = sa->tty == 1 ? 2 : 1;
		st->tty_set = 1;
		break;
	case 'T':
		sa->tty = -1;
		st->tty_set = 1;
		break;
	default:
		strv_push(&sa->ignored, &st->nignored, xprintf("-%c", ch));
		break;
	}
	return 0;
}

static int
sshargs_arg_forward(struct sshargs_state *st, int ch, const char *arg)
{
	struct fwd_spec fs;

	if (fwd_spec_parse(ch, arg, &fs, st->err, st->errlen) != 0)
		return -1;
	sshargs_add_forward(st, &fs);
	if (st->forward == NULL)
		st->forward = ch == 'L' ? "-L" : ch == 'R' ? "-R" : "-D";
	return 0;
}

/*
 * -O: there is no control master to talk to (the daemon holds the
 * routes), and ignoring it would run the command, or a login shell,
 * where the caller asked only for a check or an exit.
 */
static int
sshargs_ctl_cmd(struct sshargs_state *st, const char *arg)
{
	static const char *cmds[] = { "check", "forward", "cancel", "exit",
	    "stop", "proxy" };

	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(arg, cmds[i]) == 0)
			return sshargs_error(st, "spindle: -O %s is not "
			    "supported: the daemon holds the connection "
			    "(spindle ls, spindle down)", arg);
	}
	return sshargs_error(st, "Invalid multiplex command.");
}

/* -W as ssh.c takes it: no tty, no session (set outright, unchecked). */
static int
sshargs_arg_stdio(struct sshargs_state *st, const char *arg)
{
	struct sshargs *sa = st->sa;

	if (sa->stdio != NULL)
		return sshargs_error(st, "stdio forward already specified");
	sa->stdio = xmalloc(sizeof *sa->stdio);
	if (fwd_spec_parse(FWD_STDIO, arg, sa->stdio, st->err,
	    st->errlen) != 0) {
		free(sa->stdio);
		sa->stdio = NULL;
		return -1;
	}
	st->stdio_forward = 1;
	sa->tty = -1;
	st->tty_set = 1;
	st->session = SESSION_NONE;
	return 0;
}

static int
sshargs_arg(struct sshargs_state *st, int ch, const char *arg)
{
	struct sshargs *sa = st->sa;

	switch (ch) {
	case 'l':
		if (sa->user == NULL)
			sa->user = xstrdup(arg);
		break;
	case 'p':
		/* ssh checks only the -p it takes: later ones are unread. */
		if (sa->port == NULL && (sa->port = sshargs_port(arg)) == NULL)
			return sshargs_error(st, "Bad port '%s'", arg);
		break;
	case 'i':
		strv_push(&sa->identities, &st->nidentities, xstrdup(arg));
		break;
	case 'F':
		free(sa->config);
		sa->config = xstrdup(arg);
		break;
	case 'E':
		free(sa->logfile);
		sa->logfile = xstrdup(arg);
		break;
	case 'o':
		return sshargs_option(st, arg);
	case 'L':
	case 'R':
	case 'D':
		return sshargs_arg_forward(st, ch, arg);
	case 'w':
		if (st->forward == NULL)
			st->forward = "-w";
		break;
	case 'W':
		return sshargs_arg_stdio(st, arg);
	case 'O':
		return sshargs_ctl_cmd(st, arg);
	default:
		strv_push(&sa->ignored, &st->nignored,
		    xprintf("-%c %s", ch, arg));
		break;
	}
	return 0;
}

/*
 * One run of options from argv[i].  Returns the index of the first word
 * that is not an option (after a "--", which is eaten), or -1.
 */
static int
sshargs_scan(struct sshargs_state *st, int argc, char **argv, int i)
{
	const char *w, *arg;

	st->ended = 0;
	while (i < argc && argv[i][0] == '-' && argv[i][1] != '\0') {
		w = argv[i++];
		if (strcmp(w, "--") == 0) {
			st->ended = 1;
			break;
		}
		while (*++w != '\0') {
			if (strchr(SSHARGS_FLAGS, *w) != NULL) {
				if (sshargs_flag(st, *w) != 0)
					return -1;
				if (st->sa->version)
					return i;	/* ssh exits here */
				continue;
			}
			if (strchr(SSHARGS_WITHARG, *w) == NULL)
				return sshargs_error(st,
				    "unknown option -- %c", *w);
			if (w[1] != '\0')
				arg = w + 1;
			else if (i < argc)
				arg = argv[i++];
			else
				return sshargs_error(st,
				    "option requires an argument -- %c", *w);
			if (sshargs_arg(st, *w, arg) != 0)
				return -1;
			break;
		}
	}
	return i;
}

/* %XX decoding of a URI user ('+' is a space there, as in ssh). */
static char *
sshargs_urldecode(const char *s, size_t len)
{
	char *out = xmalloc(len + 1), hex[3] = { 0 };
	size_t i, j;

	for (i = j = 0; i < len; i++) {
		if (s[i] == '+')
			out[j++] = ' ';
		else if (s[i] != '%')
			out[j++] = s[i];
		else if (i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2]) &&
		    (s[i + 1] != '0' || s[i + 2] != '0')) {
			memcpy(hex, s + i + 1, 2);
			out[j++] = (char)strtoul(hex, NULL, 16);
			i += 2;
		} else {
			free(out);
			return NULL;
		}
	}
	out[j] = '\0';
	return out;
}

/*
 * ssh://[user[;params]@]host[:port][/]: ssh takes no path, and drops
 * the connection parameters.  The host may be an [address].
 */
static int
sshargs_uri(struct sshargs_state *st, const char *p)
{
	struct sshargs *sa = st->sa;
	char *user = NULL, *host = NULL, *port = NULL, *s;
	const char *at, *end;
	size_t n;

	if ((at = strchr(p, '@')) != NULL) {
		n = strcspn(p, ";@");
		if (n == 0 || (user = sshargs_urldecode(p, n)) == NULL)
			goto bad;
		p = at + 1;
	}
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL)
			goto bad;
		host = xstrndup(p + 1, end - p - 1);
		p = end + 1;
	} else {
		n = strcspn(p, ":/");
		host = xstrndup(p, n);
		p += n;
	}
	if (*host == '\0' || (*p != '\0' && *p != ':' && *p != '/'))
		goto bad;
	if (*p == ':' && *++p != '\0') {
		s = xstrndup(p, strcspn(p, "/"));
		port = sshargs_port(s);
		p += strlen(s);
		free(s);
		if (port == NULL)
			goto bad;
	}
	if (*p == '/')
		p++;
	if (*p != '\0')
		goto bad;
	if (sa->user == NULL) {
		sa->user = user;
		user = NULL;
	}
	if (sa->port == NULL) {
		sa->port = port;
		port = NULL;
	}
	sa->host = host;
	free(user);
	free(port);
	return 0;
bad:
	free(user);
	free(host);
	free(port);
	return sshargs_error(st, "%s", sshargs_usage_text);
}

/* What would start an option, or split a word when a route is rebuilt. */
static int
sshargs_host_ok(const char *s)
{
	if (*s == '\0' || *s == '-')
		return 0;
	for (; *s != '\0'; s++) {
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return 0;
	}
	return 1;
}

/* The destination: [user@]host (the last '@' splits) or an ssh:// URI. */
static int
sshargs_dest(struct sshargs_state *st, const char *dest)
{
	struct sshargs *sa = st->sa;
	const char *at;

	sa->dest = xstrdup(dest);
	if (strncmp(dest, "ssh://", 6) == 0) {
		if (sshargs_uri(st, dest + 6) != 0)
			return -1;
	} else if ((at = strrchr(dest, '@')) != NULL) {
		if (at == dest)
			return sshargs_error(st, "%s", sshargs_usage_text);
		if (sa->user == NULL)
			sa->user = xstrndup(dest, at - dest);
		sa->host = xstrdup(at + 1);
	} else
		sa->host = xstrdup(dest);
	if (!sshargs_host_ok(sa->host)) {
		return sshargs_error(st,
		    "hostname contains invalid characters");
	}
	return 0;
}

static void
sshargs_free_forwards(struct sshargs *sa)
{
	for (size_t i = 0; i < sa->nfwds; i++)
		fwd_spec_free(&sa->fwds[i]);
	free(sa->fwds);
	sa->fwds = NULL;
	sa->nfwds = 0;
}

/* The command words, then the checks ssh makes once it has them all. */
static int
sshargs_finish(struct sshargs_state *st, int argc, char **argv, int i)
{
	struct sshargs *sa = st->sa;

	for (; i < argc; i++)
		strv_push(&sa->command, &st->ncommand, xstrdup(argv[i]));
	if (st->ncommand == 0 && st->session == SESSION_SUBSYSTEM) {
		return sshargs_error(st, "You must specify a subsystem to "
		    "invoke.");
	}
	if (st->remote != NULL && strcasecmp(st->remote, "none") != 0) {
		if (st->ncommand != 0) {
			return sshargs_error(st, "Cannot execute command-line "
			    "and remote command.");
		}
		strv_push(&sa->command, &st->ncommand, st->remote);
		st->remote = NULL;
	}
	if (sa->background && st->ncommand == 0 &&
	    st->session != SESSION_NONE) {
		return sshargs_error(st, "Cannot fork into background without "
		    "a command to execute.");
	}
	sa->subsystem = st->session == SESSION_SUBSYSTEM;
	sa->no_command = st->session == SESSION_NONE;
	if (st->forward != NULL && st->clear_forwards != 1)
		sa->forward = xprintf("%s%s", *st->forward == '-' ? "" :
		    "-o ", st->forward);
	else if (st->stdio_forward)
		sa->forward = xstrdup("-W");
	/* ssh's defaults: -W clears the others and fails on failure. */
	if (st->clear_forwards == 1 || (st->clear_forwards == -1 &&
	    st->stdio_forward))
		sshargs_free_forwards(sa);
	sa->exit_on_fwd_fail = st->exit_on_fail != -1 ? st->exit_on_fail :
	    st->stdio_forward;
	sa->gateway_ports = st->gateway_ports == 1;
	return 0;
}

/*
 * argv[0] is the program name.  0 on success; -1 with the message ssh
 * would print in err (the usage text when ssh would show only that).
 */
int
sshargs_parse(int argc, char **argv, struct sshargs *sa, char *err,
    size_t errlen)
{
	struct sshargs_state st;
	int i;

	memset(sa, 0, sizeof *sa);
	sa->identities = xcalloc(1, sizeof *sa->identities);
	sa->opts = xcalloc(1, sizeof *sa->opts);
	sa->command = xcalloc(1, sizeof *sa->command);
	sa->ignored = xcalloc(1, sizeof *sa->ignored);
	sa->sendenv = xcalloc(1, sizeof *sa->sendenv);
	sa->setenv = xcalloc(1, sizeof *sa->setenv);
	memset(&st, 0, sizeof st);
	st.sa = sa;
	st.clear_forwards = -1;
	st.gateway_ports = st.exit_on_fail = -1;
	st.err = err;
	st.errlen = errlen;
	if (errlen > 0)
		*err = '\0';

	if ((i = sshargs_scan(&st, argc, argv, 1)) == -1)
		goto fail;
	if (!sa->version && i < argc) {
		if (sshargs_dest(&st, argv[i++]) != 0)
			goto fail;
		if (i < argc && !st.ended &&
		    (i = sshargs_scan(&st, argc, argv, i)) == -1)
			goto fail;
	}
	if (!sa->version) {
		if (sa->host == NULL) {
			sshargs_error(&st, "%s", sshargs_usage_text);
			goto fail;
		}
		if (sshargs_finish(&st, argc, argv, i) != 0)
			goto fail;
	}
	free(st.remote);
	return 0;
fail:
	free(st.remote);
	sshargs_free(sa);
	return -1;
}

/* The remote command line: words joined by one space, no quoting. */
char *
sshargs_command(const struct sshargs *sa)
{
	size_t len = 0, i;
	char *s, *p;

	if (sa->command == NULL || sa->command[0] == NULL)
		return NULL;
	for (i = 0; sa->command[i] != NULL; i++)
		len += strlen(sa->command[i]) + 1;
	p = s = xmalloc(len);
	for (i = 0; sa->command[i] != NULL; i++) {
		if (i > 0)
			*p++ = ' ';
		p = stpcpy(p, sa->command[i]);
	}
	return s;
}

const char *
sshargs_usage(void)
{
	return sshargs_usage_text;
}

void
sshargs_free(struct sshargs *sa)
{
	free(sa->dest);
	free(sa->host);
	free(sa->user);
	free(sa->port);
	strv_free(sa->identities);
	free(sa->config);
	strv_free(sa->opts);
	free(sa->logfile);
	strv_free(sa->command);
	free(sa->forward);
	sshargs_free_forwards(sa);
	if (sa->stdio != NULL) {
		fwd_spec_free(sa->stdio);
		free(sa->stdio);
	}
	strv_free(sa->ignored);
	strv_free(sa->sendenv);
	strv_free(sa->setenv);
	memset(sa, 0, sizeof *sa);
}
