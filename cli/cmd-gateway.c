/*
 * spindle gateway connect|status|known-hosts|authorize|rekey, and
 * spindle ssh-config [--install]: the user's side of spindle-gateway
 * (cli/dgateway.c starts it).  Only the gateway links libssh: what needs
 * the host key asks `spindle-gateway key ...`.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "cli.h"

#define GWC_RELAY_BUF	(64 * 1024)
#define GWC_KEYFILE_MAX	(16 * 1024)	/* an authorize FILE.pub */
#define GWC_OUT_MAX	(64 * 1024)	/* what spindle-gateway key prints */
#define GWC_ALIAS	"spindle-gateway"	/* HostKeyAlias */

static int	cmd_gateway_exec(struct cmd_args *);
static int	cmd_ssh_config_exec(struct cmd_args *);

const struct cmd_entry cmd_gateway_entry = {
	.name = "gateway",
	.usage = "connect NAME | status | known-hosts | authorize FILE.pub | "
	    "rekey",
	.summary = "the SSH gateway: any ssh client reaches a route as "
	    "NAME.spindle",
	.words = "connect|status|known-hosts|authorize|rekey [ARG]",
	.lower = 1,
	.upper = 2,
	.exec = cmd_gateway_exec
};

#define OPT_INSTALL	700

static const struct cmd_opt ssh_config_opts[] = {
	{ OPT_INSTALL, "install", NULL,
	    "write it to ~/.config/spindle/ssh_config, with the\n"
	    "gateway's known_hosts, and Include it first in\n"
	    "~/.ssh/config" },
	{ 0, NULL, NULL, NULL }
};

const struct cmd_entry cmd_ssh_config_entry = {
	.name = "ssh-config",
	.usage = "[--install]",
	.summary = "print the ssh_config block for NAME.spindle",
	.opts = ssh_config_opts,
	.lower = 0,
	.upper = 0,
	.exec = cmd_ssh_config_exec
};

/*
 * `spindle-gateway key VERB`: its exit status, what it printed (up to
 * GWC_OUT_MAX) in *out; its stderr is ours.  -1: there is none.
 */
static int
gwc_key(const char *verb, char **out)
{
	char *path = gateway_path(), *buf;
	size_t len = 0;
	ssize_t n;
	int p[2], status;
	pid_t pid;

	*out = NULL;
	if (path == NULL) {
		fprintf(stderr, "spindle: %s\n", gateway_none());
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) != 0 || (pid = fork()) < 0) {
		fprintf(stderr, "spindle: %s\n", strerror(errno));
		free(path);
		return -1;
	}
	if (pid == 0) {
		if (dup2(p[1], 1) < 0)
			_exit(127);
		execl(path, "spindle-gateway", "key", verb, (char *)NULL);
		fprintf(stderr, "spindle: %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	free(path);
	buf = xmalloc(GWC_OUT_MAX + 1);
	while (len < GWC_OUT_MAX && ((n = read(p[0], buf + len,
	    GWC_OUT_MAX - len)) > 0 || (n < 0 && errno == EINTR)))
		len += n > 0 ? n : 0;
	close(p[0]);
	buf[len] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*out = buf;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* The host key's public line, without its comment: "ssh-ed25519 AAA...".
 * NULL: said why. */
static char *
gwc_pubkey(void)
{
	char *out, *sp;

	if (gwc_key("print", &out) != 0) {
		free(out);
		return NULL;
	}
	out[strcspn(out, "\n")] = '\0';
	if ((sp = strchr(out, ' ')) != NULL && (sp = strchr(sp + 1, ' ')) !=
	    NULL)
		*sp = '\0';
	return out;
}

/* Pass fd to ssh on our stdout, as ProxyUseFdpass expects: one byte
 * with it, as OpenSSH's mm_send_fd. */
static int
gwc_pass_fd(int out, int fd)
{
	union {
		struct cmsghdr	 c;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cm;
	char ch = '\0';
	struct iovec iov = { &ch, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cm.buf, .msg_controllen = sizeof cm.buf };
	ssize_t n;

	memset(&cm, 0, sizeof cm);
	cm.c.cmsg_level = SOL_SOCKET;
	cm.c.cmsg_type = SCM_RIGHTS;
	cm.c.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&cm.c), &fd, sizeof fd);
	while ((n = sendmsg(out, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return n == 1 ? 0 : -1;
}

/* One direction of the relay: a buffer, and whether its source ended. */
struct gwc_dir {
	int		 from;
	int		 to;
	char		*buf;
	size_t		 len;
	size_t		 off;
	int		 eof;
	int		 done;
};

/* Copy what is there; at the source's EOF and an empty buffer, end the
 * direction (half-close a socket, close a pipe).  -1: broken. */
static int
gwc_dir_step(struct gwc_dir *d, short rev)
{
	ssize_t n;

	if (d->len == 0 && !d->eof && (rev & (POLLIN | POLLHUP | POLLERR))) {
		n = read(d->from, d->buf, GWC_RELAY_BUF);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return 0;
		if (n <= 0)
			d->eof = 1;
		else {
			d->len = n;
			d->off = 0;
		}
	} else if (d->len > 0 && (rev & (POLLOUT | POLLERR | POLLHUP))) {
		n = write(d->to, d->buf + d->off, d->len - d->off);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return 0;
		if (n < 0)
			return -1;
		d->off += n;
		if (d->off == d->len)
			d->len = d->off = 0;
	}
	if (d->eof && d->len == 0 && !d->done) {
		d->done = 1;
		if (shutdown(d->to, SHUT_WR) != 0)
			close(d->to);
	}
	return 0;
}

/* stdio <-> sock until both ways ended: ProxyCommand without fd
 * passing. */
static int
gwc_relay(int sock)
{
	struct gwc_dir d[2] = {
	    { .from = 0, .to = sock }, { .from = sock, .to = 1 } };
	struct pollfd pfd[2];
	int rc = 0;

	signal(SIGPIPE, SIG_IGN);
	d[0].buf = xmalloc(GWC_RELAY_BUF);
	d[1].buf = xmalloc(GWC_RELAY_BUF);
	while (rc == 0 && !(d[0].done && d[1].done)) {
		for (int i = 0; i < 2; i++) {
			pfd[i].fd = d[i].done ? -1 : d[i].len > 0 ? d[i].to :
			    d[i].from;
			pfd[i].events = d[i].len > 0 ? POLLOUT : POLLIN;
		}
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		for (int i = 0; i < 2 && rc == 0; i++) {
			if (pfd[i].fd >= 0 && pfd[i].revents != 0)
				rc = gwc_dir_step(&d[i], pfd[i].revents);
		}
	}
	free(d[0].buf);
	free(d[1].buf);
	return rc == 0 ? 0 : 255;
}

/*
 * GATEWAY with fd (or none: the status question); the daemon's answer
 * in *text.  0: OK; else its status, 255 with no daemon to ask.
 */
static int
gwc_ask(const char *name, int fd, int start, char **text)
{
	struct ctl_buf b = { 0 };
	struct ctl_msg m;
	struct upk u;
	struct pk pk;
	char why[512];
	int cfd, rc = 255;

	if ((cfd = client_connect(start, 1, cli_verbose, why,
	    sizeof why)) < 0) {
		*text = xstrdup(why);
		return 255;
	}
	pk_init(&pk);
	pk_str(&pk, name);
	if (ctl_send(cfd, SPN_CTL_GATEWAY, 1, &pk, fd >= 0 ? &fd : NULL,
	    fd >= 0) != 0)
		*text = xprintf("cannot reach the daemon: %s",
		    strerror(errno));
	else if (ctl_recv(cfd, &b, &m, NULL, NULL) != 1)
		*text = xstrdup("the daemon hung up (see 'spindle daemon "
		    "log')");
	else {
		upk_init(&u, m.body, m.len);
		*text = upk_str(&u);
		if (m.type == SPN_CTL_OK)
			rc = 0;
		else if (m.type == SPN_CTL_ERROR)
			rc = upk_u32(&u);
		if (*text == NULL)
			*text = xstrdup("malformed answer");
	}
	pk_free(&pk);
	ctl_buf_free(&b);
	close(cfd);
	return rc;
}

/* ProxyCommand: a socket to the gateway, for ssh. */
static int
gwc_connect(const char *name)
{
	struct stat st;
	char *text;
	int sp[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
		fprintf(stderr, "spindle: socketpair: %s\n", strerror(errno));
		return 255;
	}
	rc = gwc_ask(name, sp[1], 1, &text);
	close(sp[1]);
	if (rc != 0) {
		fprintf(stderr, "spindle: %s\n", text);
		free(text);
		close(sp[0]);
		return 255;
	}
	free(text);
	if (fstat(1, &st) == 0 && S_ISSOCK(st.st_mode)) {
		if (gwc_pass_fd(1, sp[0]) == 0)
			return 0;
		fprintf(stderr, "spindle: cannot pass the gateway's socket on "
		    "stdout (%s): relaying instead\n", strerror(errno));
	}
	rc = gwc_relay(sp[0]);
	close(sp[0]);
	return rc;
}

/* The listeners of the routes file: "127.0.0.1:2222" ... NULL-ended. */
static char **
gwc_listeners(void)
{
	struct routes_file rf;
	char why[512], *path = routes_file_path(), **v = NULL;
	size_t n = 0;

	if (routes_file_load(path, &rf, why, sizeof why) == 0) {
		for (int i = 0; i < GATEWAY_LISTEN_MAX; i++) {
			if (rf.gateway.listen[i] != NULL)
				strv_push(&v, &n, xstrdup(rf.gateway.listen[i]));
		}
		routes_file_free(&rf);
	}
	free(path);
	strv_push(&v, &n, NULL);
	return v;
}

/* "127.0.0.1:2222" as known_hosts names it: "[127.0.0.1]:2222". */
static char *
gwc_kh_host(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	size_t hlen;

	if (colon == NULL)
		return xstrdup(addr);
	hlen = colon - addr;
	if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
		addr++;
		hlen -= 2;
	}
	if (strcmp(colon + 1, "22") == 0)
		return xprintf("%.*s", (int)hlen, addr);
	return xprintf("[%.*s]:%s", (int)hlen, addr, colon + 1);
}

/* known_hosts' lines: the alias, and the TCP listeners.  NULL: said
 * why. */
static char *
gwc_known_hosts(void)
{
	char *key = gwc_pubkey(), **ls, *text, *host, *more;

	if (key == NULL)
		return NULL;
	text = xprintf("%s %s\n", GWC_ALIAS, key);
	ls = gwc_listeners();
	for (char **l = ls; *l != NULL; l++) {
		host = gwc_kh_host(*l);
		more = xprintf("%s%s %s\n", text, host, key);
		free(host);
		free(text);
		text = more;
	}
	strv_free(ls);
	free(key);
	return text;
}

static int
gwc_status(void)
{
	char *text, *fp, *kp, **ls;
	int rc, krc;

	rc = gwc_ask("", -1, 0, &text);
	printf("gateway: %s\n", rc == 0 ? text : rc == 255 && strstr(text,
	    "no daemon") != NULL ? "not running (no daemon)" : text);
	free(text);
	ls = gwc_listeners();
	if (ls[0] == NULL)
		printf("listener: none (gateway-listen in the routes file)\n");
	for (char **l = ls; *l != NULL; l++)
		printf("listener: %s\n", *l);
	strv_free(ls);
	if ((kp = hostkey_path()) != NULL)
		printf("host key: %s\n", kp);
	free(kp);
	fflush(stdout);
	krc = gwc_key("fingerprint", &fp);
	if (krc == 0)
		printf("fingerprint: %s", fp);
	free(fp);
	return rc == 0 && krc == 0 ? 0 : 1;
}

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 into out (big enough: 3/4 of len); its length or -1. */
static ssize_t
gwc_b64_decode(const char *in, uint8_t *out)
{
	size_t len = strlen(in), n = 0;
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	const char *p;

	if (len == 0 || len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '=') {
			if (++pad > 2 || i < len - 2)
				return -1;
			continue;
		}
		if (pad > 0 || (p = strchr(b64_chars, in[i])) == NULL)
			return -1;
		acc = acc << 6 | (uint32_t)(p - b64_chars);
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[n++] = acc >> bits;
		}
	}
	return n;
}

/* An OpenSSH public key line: "TYPE BASE64 [COMMENT]", the blob's own
 * type TYPE.  The line (a comment made of name if it had none), or
 * NULL and why. */
static char *
gwc_key_line(char *line, const char *name, char *why, size_t whylen)
{
	static const char *types[] = { "ssh-ed25519", "ssh-rsa",
	    "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
	    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
	    "sk-ecdsa-sha2-nistp256@openssh.com", NULL };
	char *type = strtok(line, " \t"), *b64 = strtok(NULL, " \t");
	char *comment = strtok(NULL, "");
	uint8_t *blob;
	ssize_t n;
	size_t i, tlen;

	for (i = 0; type != NULL && types[i] != NULL; i++) {
		if (strcmp(type, types[i]) == 0)
			break;
	}
	if (type == NULL || types[i] == NULL || b64 == NULL) {
		snprintf(why, whylen, "not an OpenSSH public key line (TYPE "
		    "BASE64 [COMMENT], TYPE ssh-ed25519, ecdsa-sha2-*, "
		    "ssh-rsa or sk-*)");
		return NULL;
	}
	blob = xmalloc(strlen(b64));
	n = gwc_b64_decode(b64, blob);
	tlen = strlen(type);
	if (n < 4 + (ssize_t)tlen || be32_get(blob) != tlen ||
	    memcmp(blob + 4, type, tlen) != 0) {
		snprintf(why, whylen, "the key's base64 is not a %s key",
		    type);
		free(blob);
		return NULL;
	}
	free(blob);
	if (comment != NULL)
		comment += strspn(comment, " \t");
	return xprintf("%s %s %s", type, b64, comment != NULL &&
	    *comment != '\0' ? comment : name);
}

/* FILE.pub's one key, validated; NULL and why. */
static char *
gwc_read_pub(const char *file, char *why, size_t whylen)
{
	char *buf, *line, *key = NULL, *save = NULL, *p;
	int fd, nkeys = 0;
	ssize_t n;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		snprintf(why, whylen, "%s: %s", file, strerror(errno));
		return NULL;
	}
	buf = xmalloc(GWC_KEYFILE_MAX + 1);
	n = read(fd, buf, GWC_KEYFILE_MAX + 1);
	close(fd);
	if (n < 0 || n > GWC_KEYFILE_MAX) {
		snprintf(why, whylen, "%s: %s", file, n < 0 ? strerror(errno) :
		    "too big for a public key");
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "\r")] = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if (nkeys++ > 0 || (key = gwc_key_line(p, file, why,
		    whylen)) == NULL)
			break;
	}
	free(buf);
	if (nkeys > 1) {
		snprintf(why, whylen, "%s: one key per file, please", file);
		free(key);
		return NULL;
	}
	if (nkeys == 0)
		snprintf(why, whylen, "%s: no key in it", file);
	return key;
}

/* Add FILE.pub's key to spindle's own authorized_keys, once (the same
 * TYPE and BASE64 there: nothing to do). */
static int
gwc_authorize(const char *file)
{
	char why[512], *key, *path = config_path("authorized_keys"), *cur = NULL;
	size_t cap = 0, klen;
	ssize_t n = 0;
	struct stat st;
	FILE *f;
	int fd, have = 0, nl = 1;

	if ((key = gwc_read_pub(file, why, sizeof why)) == NULL ||
	    path == NULL || hostkey_mkdir(path, why, sizeof why) != 0) {
		fprintf(stderr, "spindle: %s\n", key == NULL || path != NULL ?
		    why : "no HOME or XDG_CONFIG_HOME");
		free(key);
		free(path);
		return 1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_uid != getuid() ||
	    fchmod(fd, 0600) != 0 || (f = fdopen(fd, "r+")) == NULL) {
		fprintf(stderr, "spindle: %s: %s\n", path, fd >= 0 &&
		    st.st_uid != getuid() ? "not yours" : strerror(errno));
		if (fd >= 0)
			close(fd);
		free(key);
		free(path);
		return 1;
	}
	/* TYPE BASE64: the key itself, its comment aside. */
	klen = strcspn(key, " ");
	klen += 1 + strcspn(key + klen + 1, " ");
	while (!have && (n = getline(&cur, &cap, f)) != -1) {
		nl = cur[n - 1] == '\n';
		have = strncmp(cur, key, klen) == 0 && (cur[klen] == ' ' ||
		    cur[klen] == '\n' || cur[klen] == '\0');
	}
	free(cur);
	if (!have && (fprintf(f, "%s%s\n", nl ? "" : "\n", key) < 0 ||
	    fflush(f) != 0)) {
		fprintf(stderr, "spindle: %s: %s\n", path, strerror(errno));
		have = -1;
	} else
		printf("%s: %s\n", path, have ? "has that key already" :
		    "key added");
	fclose(f);
	free(key);
	free(path);
	return have < 0;
}

static int
gwc_rekey(void)
{
	char *out, *text;
	int rc;

	if ((rc = gwc_key("rekey", &out)) != 0) {
		free(out);
		return 1;
	}
	printf("new host key: %s", out);
	free(out);
	/* A running gateway is retired: new connections get the new key. */
	rc = gwc_ask("", -1, 0, &text);
	free(text);
	printf("known_hosts still pins the old key: run 'spindle ssh-config "
	    "--install' to pin the new one\n");
	return 0;
}

static int
cmd_gateway_exec(struct cmd_args *a)
{
	const char *verb = a->pos[0];
	char *text;
	int takes = strcmp(verb, "connect") == 0 ||
	    strcmp(verb, "authorize") == 0;

	if (takes != (a->npos == 2))
		usage_error("%s %s", verb, takes ? "takes one argument" :
		    "takes no argument");
	if (strcmp(verb, "connect") == 0)
		return gwc_connect(a->pos[1]);
	if (strcmp(verb, "authorize") == 0)
		return gwc_authorize(a->pos[1]);
	if (strcmp(verb, "status") == 0)
		return gwc_status();
	if (strcmp(verb, "rekey") == 0)
		return gwc_rekey();
	if (strcmp(verb, "known-hosts") == 0) {
		if ((text = gwc_known_hosts()) == NULL)
			return 1;
		fputs(text, stdout);
		free(text);
		return 0;
	}
	usage_error("unknown gateway command '%s'", verb);
}

/*
 * path for ssh_config: '%' doubled (ssh expands tokens there); for the
 * ProxyCommand (a shell's words) single-quoted when it needs quoting.
 */
static char *
gwc_cfg_word(const char *path, int shell)
{
	size_t len = strlen(path);
	char *out = xmalloc(4 * len + 3), *o = out;
	int quote = strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789/._+-,:@%") != len;

	if (quote)
		*o++ = shell ? '\'' : '"';
	for (const char *p = path; *p != '\0'; p++) {
		if (*p == '%')
			*o++ = '%';
		if (shell && *p == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
			continue;
		}
		*o++ = *p;
	}
	if (quote)
		*o++ = shell ? '\'' : '"';
	*o = '\0';
	return out;
}

/* GATEWAY.md §2's block, with this binary and spindle's known_hosts. */
static char *
gwc_block(void)
{
	char *exe = client_self_exe(), *kh = config_path("known_hosts");
	char *qexe, *qkh, *text;

	if (exe == NULL || kh == NULL || strchr(exe, '"') != NULL ||
	    strchr(kh, '"') != NULL) {
		fprintf(stderr, "spindle: %s\n", exe == NULL ? "cannot find "
		    "this program's path" : kh == NULL ? "no HOME or "
		    "XDG_CONFIG_HOME" : "a path with a '\"' in it");
		free(exe);
		free(kh);
		return NULL;
	}
	qexe = gwc_cfg_word(exe, 1);
	qkh = gwc_cfg_word(kh, 0);
	text = xprintf("# Written by spindle: any ssh client reaches a route "
	    "as NAME.spindle\n"
	    "Host spindle *.spindle\n"
	    "    ProxyCommand %s gateway connect %%n\n"
	    "    ProxyUseFdpass yes\n"
	    "    HostKeyAlias " GWC_ALIAS "\n"
	    "    UserKnownHostsFile %s\n"
	    "    StrictHostKeyChecking yes\n"
	    "    CheckHostIP no\n", qexe, qkh);
	free(qexe);
	free(qkh);
	free(exe);
	free(kh);
	return text;
}

/* The whole of a (small) file, or NULL. */
static char *
gwc_slurp(const char *path)
{
	char *buf = NULL;
	size_t cap = 0, len = 0;
	FILE *f = fopen(path, "re");
	int c;

	if (f == NULL)
		return NULL;
	while ((c = getc(f)) != EOF) {
		if (len + 2 > cap)
			buf = xrealloc(buf, cap = cap * 2 + 256);
		buf[len++] = c;
	}
	fclose(f);
	if (buf == NULL)
		buf = xstrdup("");
	else
		buf[len] = '\0';
	return buf;
}

/*
 * Write path whole or not at all: a temporary file beside it, renamed.
 * mode: the file's now if it has one (keep), else this.  A link is
 * followed, so that a managed ~/.ssh/config stays a link.  1: it had
 * that text already; -1: said why.
 */
static int
gwc_write(const char *path, const char *text, mode_t mode)
{
	char *real = realpath(path, NULL), *old, *tmp;
	const char *dst = real != NULL ? real : path;
	struct stat st;
	size_t len = strlen(text);
	int fd, rc = -1;

	if ((old = gwc_slurp(dst)) != NULL && strcmp(old, text) == 0) {
		free(old);
		free(real);
		return 1;
	}
	free(old);
	if (stat(dst, &st) == 0)
		mode = st.st_mode & 07777;
	tmp = xprintf("%s.spindle.%ld", dst, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd >= 0 && write(fd, text, len) == (ssize_t)len &&
	    fchmod(fd, mode) == 0 && fsync(fd) == 0 && close(fd) == 0) {
		fd = -1;
		if (rename(tmp, dst) == 0)
			rc = 0;
	}
	if (rc != 0) {
		fprintf(stderr, "spindle: cannot write %s: %s\n", dst,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	free(tmp);
	free(real);
	return rc;
}

/* A line of ~/.ssh/config that includes file: as we write it, or as a
 * user would (any case, '=' or blanks, "~/", quotes). */
static int
gwc_our_include(const char *line, size_t len, const char *file)
{
	const char *home = getenv("HOME"), *p = line, *end = line + len;
	char *arg;
	int yes;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (end - p < 8 || strncasecmp(p, "include", 7) != 0 ||
	    (p[7] != ' ' && p[7] != '\t' && p[7] != '='))
		return 0;
	for (p += 7; p < end && (*p == ' ' || *p == '\t' || *p == '='); p++)
		;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r' || end[-1] == '\n'))
		end--;
	if (end - p >= 2 && *p == '"' && end[-1] == '"') {
		p++;
		end--;
	}
	if (end - p >= 2 && p[0] == '~' && p[1] == '/' && home != NULL)
		arg = xprintf("%s%.*s", home, (int)(end - p - 1), p + 1);
	else
		arg = xprintf("%.*s", (int)(end - p), p);
	yes = strcmp(arg, file) == 0;
	free(arg);
	return yes;
}

/* ~/.ssh/config with "Include FILE" as its first line. */
static int
gwc_include(const char *file)
{
	const char *home = getenv("HOME");
	char *dir, *path, *old, *inc, *text, *line, *next;
	int rc;

	if (home == NULL || *home != '/') {
		fprintf(stderr, "spindle: no HOME for ~/.ssh/config\n");
		return -1;
	}
	dir = xprintf("%s/.ssh", home);
	path = xprintf("%s/config", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "spindle: cannot make %s: %s\n", dir,
		    strerror(errno));
		free(dir);
		free(path);
		return -1;
	}
	inc = xprintf("Include %s", file);
	if ((old = gwc_slurp(path)) == NULL)
		old = xstrdup("");
	/* First already, or elsewhere (moved: ssh takes the first value). */
	text = xprintf("%s\n", inc);
	for (line = old; *line != '\0'; line = next) {
		next = line + strcspn(line, "\n");
		next += *next == '\n';
		if (gwc_our_include(line, next - line, file))
			continue;
		text = xrealloc(text, strlen(text) + (next - line) + 2);
		strncat(text, line, next - line);
	}
	if (text[strlen(text) - 1] != '\n')
		strcat(text, "\n");
	rc = gwc_write(path, text, 0600);
	if (rc == 1)
		printf("%s: includes %s first already\n", path, file);
	else if (rc == 0)
		printf("%s: '%s' is its first line now\n", path, inc);
	free(inc);
	free(old);
	free(text);
	free(dir);
	free(path);
	return rc < 0 ? -1 : 0;
}

/* known_hosts written (it pins the key), unless only_new and it is
 * there.  -1: said why. */
static int
gwc_pin(int only_new, int say)
{
	char *path = config_path("known_hosts"), *text, why[512];
	struct stat st;
	int rc = -1;

	if (path == NULL)
		return -1;
	if (only_new && lstat(path, &st) == 0) {
		free(path);
		return 0;
	}
	if (hostkey_mkdir(path, why, sizeof why) != 0)
		fprintf(stderr, "spindle: %s\n", why);
	else if ((text = gwc_known_hosts()) != NULL) {
		rc = gwc_write(path, text, 0600);
		if (rc == 0 && say)
			printf("%s: written\n", path);
		else if (rc == 0)
			fprintf(stderr, "spindle: wrote %s (it pins the "
			    "gateway's host key)\n", path);
		else if (rc == 1 && say)
			printf("%s: up to date\n", path);
		free(text);
	}
	free(path);
	return rc < 0 ? -1 : 0;
}

static int
cmd_ssh_config_exec(struct cmd_args *a)
{
	char *block, *path, why[512];
	int install = 0, rc;

	for (size_t i = 0; i < a->nopts; i++)
		install |= a->opts[i].ch == OPT_INSTALL;
	/* A block naming a gateway that is not there would only fail in
	 * ssh, later and less clearly. */
	if ((path = gateway_path()) == NULL) {
		fprintf(stderr, "spindle: %s\n", gateway_none());
		return 1;
	}
	free(path);
	if ((block = gwc_block()) == NULL)
		return 1;
	if (!install) {
		/* Printed for `ssh -F`: the pin it names must be there. */
		rc = gwc_pin(1, 0);
		if (rc == 0)
			fputs(block, stdout);
		free(block);
		return rc == 0 ? 0 : 1;
	}
	path = config_path("ssh_config");
	if (hostkey_mkdir(path, why, sizeof why) != 0) {
		fprintf(stderr, "spindle: %s\n", why);
		rc = -1;
	} else if ((rc = gwc_write(path, block, 0644)) >= 0) {
		printf("%s: %s\n", path, rc == 1 ? "up to date" : "written");
		rc = gwc_pin(0, 1);
	}
	if (rc == 0)
		rc = gwc_include(path);
	free(block);
	free(path);
	return rc == 0 ? 0 : 1;
}
