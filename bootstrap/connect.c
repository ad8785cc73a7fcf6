/*
 * Starting a child context from this one.  The same code runs in the
 * master (first hop) and in every agent (the CONNECT service), so any
 * context can start children with its own image.
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootstrap.h"

#define ERR_FIRST	4	/* the first lines a hop printed, kept ... */
#define ERR_LINES	8	/* ... and its newest ones, this many in all */
#define ERR_LINE_MAX	300	/* longer lines are cut */
#define ERR_BUF_MAX	8192	/* a longer one is cut before its end */
#define EXIT_WAIT_MS	300
#define KILL_WAIT_S	2

enum child_state { CHILD_BOOTING, CHILD_UP, CHILD_DOWN };

struct child {
	struct rt		*rt;
	uint32_t		 id;
	char			*label;
	enum child_state	 state;
	struct spawn		 sp;
	struct link		*link;
	struct event		*errev;
	struct evbuffer		*errbuf;
	char			*errlines[ERR_LINES];
	int			 errskipped;	/* lines between first and newest */
	struct event		*timer;
	uint32_t		 hello;
	char			*arch;
	pid_t			 agent_pid;
	int			 exited;
	int			 eof;
	int			 freeing;
	int			 keepalive;
	int			 timeout;
	const struct boot_method *method;
	char			*password;
	int			 prompted;
	struct event		*ttyev;
	struct evbuffer		*ttybuf;
	char			*fail;		/* our own verdict, if any */
	int			 status;
	boot_done_fn		*done;
	void			*arg;
};

static void	child_maybe_free(struct child *);
static void	child_err_cb(evutil_socket_t, short, void *);
static void	child_tty_close(struct child *);
static void	child_tty_lines(struct child *);
static void	child_keep_line(struct child *, char *);

pid_t
child_pid(struct child *c)
{
	return c->agent_pid;
}

/* The local process behind the link (ssh, sudo, or the agent itself). */
pid_t
child_proc(struct child *c)
{
	return c->sp.pid;
}

const char *
child_arch(struct child *c)
{
	return c->arch;
}

static void
child_report(struct child *c, const char *err)
{
	boot_done_fn *done = c->done;

	c->done = NULL;
	if (done != NULL)
		done(c, err, c->arg);
}

/* The newest line kept from its stderr (or pty), or NULL. */
static char *
child_last_line(struct child *c)
{
	for (int i = ERR_LINES - 1; i >= 0; i--) {
		if (c->errlines[i] != NULL)
			return c->errlines[i];
	}
	return NULL;
}

/* "ssh killed by signal 9 (Killed)": the status of the process we
 * started, named when it is not the agent itself. */
static char *
child_proc_status(struct child *c)
{
	char *status = proc_status_text(c->status), *text;

	if (c->method->what == NULL)
		return status;
	text = xprintf("%s %s", c->method->what, status);
	free(status);
	return text;
}

/*
 * Why a child that was up went away.  The process we started is the
 * agent itself (local), or passes the agent's status on (sudo, su and
 * doas; sudo dies of the agent's signal too, so a signal is either's),
 * or is ssh: ssh dies of a signal only when it is itself killed, and
 * exits 255 when the connection dropped (also when the agent was killed
 * on the far end: sshd passes no status for a signal); any other status
 * of ssh's is the agent's.  The agent's last line on stderr since HELLO
 * follows (a program's agent names the function that crashed there:
 * "spindle: crash in fn: SIGSEGV ...").
 */
static char *
child_exit_text(struct child *c)
{
	char *status = proc_status_text(c->status), *text;
	const char *last = child_last_line(c);
	int sig = WIFSIGNALED(c->status);

	if (c->method->status == BOOT_STATUS_SSH && sig)
		text = xprintf("ssh %s", status);
	else if (c->method->status == BOOT_STATUS_SSH &&
	    WIFEXITED(c->status) && WEXITSTATUS(c->status) == 255) {
		/* ssh's own word on it ("Connection to H closed by
		 * remote host."), unless its LogLevel hid it. */
		if (last != NULL)
			text = xprintf("connection dropped: %s", last);
		else
			text = xprintf("connection dropped (ssh %s)", status);
	} else if (c->method->status == BOOT_STATUS_RELAY && sig)
		text = xprintf("%s (or the agent under it) %s%s%s",
		    c->method->what, status, last != NULL ? ": " : "",
		    last != NULL ? last : "");
	else
		text = xprintf("agent %s%s%s", status, last != NULL ? ": " : "",
		    last != NULL ? last : "");
	free(status);
	return text;
}

/* Every line kept, "; "-joined, with "..." where some were dropped. */
static char *
child_all_lines(struct child *c)
{
	char *text = NULL, *next;

	for (int i = 0; i < ERR_LINES && c->errlines[i] != NULL; i++) {
		if (text == NULL)
			next = xstrdup(c->errlines[i]);
		else
			next = xprintf("%s; %s%s", text, i == ERR_FIRST &&
			    c->errskipped > 0 ? "...; " : "", c->errlines[i]);
		free(text);
		text = next;
	}
	return text;
}

/*
 * What the tool said that explains its failure: its first line that is
 * no mere warning (sudo: "unknown user", then "error initializing audit
 * plugin"; su: PAM's "Your account has expired", then "Authentication
 * failure"), or with ssh its last one.  When none is known to be the
 * reason (no tool in between, or only chatter), all of them.
 */
static char *
child_reason(struct child *c)
{
	const struct boot_method *m = c->method;
	const char *pick = NULL;

	for (int i = 0; i < ERR_LINES && c->errlines[i] != NULL; i++) {
		if (boot_method_chatter(m, c->errlines[i]))
			continue;
		pick = c->errlines[i];
		if (m->verdict == BOOT_VERDICT_FIRST)
			break;
	}
	if (pick == NULL || m->verdict == BOOT_VERDICT_ALL)
		return child_all_lines(c);
	return xstrdup(pick);
}

/* Some line it printed contains s. */
static int
child_said(struct child *c, const char *s)
{
	for (int i = 0; i < ERR_LINES && c->errlines[i] != NULL; i++) {
		if (strstr(c->errlines[i], s) != NULL)
			return 1;
	}
	return 0;
}

/* Why a child that never said HELLO went away, in the user's words. */
static char *
child_boot_error(struct child *c, const char *why)
{
	char *status = NULL, *text, *reason;

	if (c->fail != NULL)
		return xstrdup(c->fail);
	child_tty_lines(c);
	reason = child_reason(c);
	if (c->exited)
		status = child_proc_status(c);
	if (c->exited && WIFEXITED(c->status) &&
	    WEXITSTATUS(c->status) == 99)
		text = xprintf("agent image arrived truncated");
	else if (reason != NULL && child_said(c, "/bin/sh") &&
	    c->exited && WIFEXITED(c->status) &&
	    (WEXITSTATUS(c->status) == 126 || WEXITSTATUS(c->status) == 127))
		text = xprintf("no usable /bin/sh there (%s)", reason);
	else if (reason != NULL && c->method->prompt != NULL &&
	    strstr(reason, "password is required") != NULL)
		text = xprintf("%s (give it with " CONNECT_PW_HINT ")", reason);
	else if (reason != NULL)
		text = xstrdup(reason);
	else if (status != NULL)
		text = xprintf("bootstrap failed: %s", status);
	else
		text = xstrdup(why);
	free(reason);
	free(status);
	return text;
}

/* Keep the first lines of stderr and of text before stage 0 (nologin
 * and friends speak on stdout), and the newest: the reason for a
 * failure is among them.  Far-end text: cleaned, and cut. */
static void
child_keep_line(struct child *c, char *line)
{
	size_t n;
	int i = 0;

	str_clean(line);
	if ((n = strlen(line)) > ERR_LINE_MAX) {
		/* Not in the middle of a UTF-8 character. */
		n = ERR_LINE_MAX - 3;
		while (n > 0 && ((unsigned char)line[n] & 0xc0) == 0x80)
			n--;
		memcpy(line + n, "...", 4);
	}
	while (i < ERR_LINES && c->errlines[i] != NULL)
		i++;
	if (i == ERR_LINES) {
		free(c->errlines[ERR_FIRST]);
		memmove(c->errlines + ERR_FIRST, c->errlines + ERR_FIRST + 1,
		    (ERR_LINES - ERR_FIRST - 1) * sizeof *c->errlines);
		c->errskipped++;
		i = ERR_LINES - 1;
	}
	c->errlines[i] = line;
}

static void
child_text(struct link *l, const char *line, void *arg)
{
	struct child *c = arg;

	(void)l;
	log_about(c->id, SPN_LOG_INFO, "%s: %s", c->label, line);
	if (*line != '\0')
		child_keep_line(c, xstrdup(line));
}

static int
child_preamble(struct link *l, const char *arch, void *arg)
{
	struct child *c = arg;

	/* Stage 0 exits 97 right after this line if the arch is wrong. */
	(void)l;
	free(c->arch);
	c->arch = xstrdup(arch);
	return 0;
}

static void
child_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	(void)fd;
	(void)what;
	/* Its whole group: ssh's ProxyCommand, say. */
	if (!c->exited) {
		kill(-c->sp.pid, SIGKILL);
		kill(c->sp.pid, SIGKILL);
	}
}

static void
child_eof_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	(void)fd;
	(void)what;
	if (c->link != NULL)
		link_close(c->link, "connection closed");
}

static void
child_close_exited(struct child *c)
{
	char *text = child_exit_text(c);

	link_close(c->link, "%s", text);
	free(text);
}

/* Input ended: wait briefly for the exit status so the reason is exact. */
static void
child_eof(struct link *l, void *arg)
{
	struct child *c = arg;
	struct timeval tv = { 0, EXIT_WAIT_MS * 1000 };

	(void)l;
	c->eof = 1;
	if (c->exited) {
		child_close_exited(c);
		return;
	}
	event_del(c->timer);
	event_assign(c->timer, rt_base(c->rt), -1, 0, child_eof_timeout, c);
	evtimer_add(c->timer, &tv);
}

static void
child_closed(struct link *l, const char *why, void *arg)
{
	struct child *c = arg;
	struct timeval tv = { KILL_WAIT_S, 0 };
	char *text;

	c->link = NULL;
	rt_handle_del(c->rt, c->hello);
	if (c->state == CHILD_BOOTING) {
		/* What it sent says more than how its process ended. */
		text = link_violated(l) ? xstrdup(why) :
		    child_boot_error(c, why);
		if (c->arch != NULL && c->exited && WIFEXITED(c->status) &&
		    WEXITSTATUS(c->status) == 97) {
			free(text);
			text = xprintf("remote is %s, this spindle carries %s "
			    "only", c->arch, boot_arch());
		}
		c->state = CHILD_DOWN;
		child_report(c, text);
		free(text);
	} else {
		c->state = CHILD_DOWN;
		log_about(c->id, SPN_LOG_INFO, "%s: %s", c->label, why);
	}
	child_tty_close(c);
	/* A stuck process (ssh under SIGSTOP, say) is killed after a grace. */
	if (!c->exited) {
		event_del(c->timer);
		event_assign(c->timer, rt_base(c->rt), -1, 0, child_kill_cb, c);
		evtimer_add(c->timer, &tv);
	}
	child_maybe_free(c);
}

static void
child_exit(pid_t pid, int status, void *arg)
{
	struct child *c = arg;

	(void)pid;
	c->exited = 1;
	c->status = status;
	/* Drain stderr first: its last line is usually the reason. */
	if (c->errev != NULL)
		child_err_cb(c->sp.err, EV_READ, c);
	if (c->link != NULL && c->eof) {
		event_del(c->timer);
		child_close_exited(c);
	}
	child_maybe_free(c);
}

static void
child_err_lines(struct child *c)
{
	char *line;
	size_t n;

	while ((line = evbuf_readline(c->errbuf, &n)) != NULL ||
	    evbuffer_get_length(c->errbuf) > ERR_BUF_MAX) {
		/* A line with no end in sight is taken as it is. */
		if (line == NULL)
			line = evbuf_take(c->errbuf);
		if (*line == '\0') {
			free(line);
			continue;
		}
		child_keep_line(c, line);
		log_about(c->id, SPN_LOG_INFO, "%s: stderr: %s", c->label,
		    line);
	}
}

static void
child_err_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	int r, reads = 0;

	(void)what;
	/* A flood of it waits for the next pass of the loop. */
	while ((r = evbuffer_read(c->errbuf, fd, 65536)) > 0) {
		child_err_lines(c);
		if (++reads == 16)
			return;
	}
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		event_free(c->errev);
		c->errev = NULL;
		close(c->sp.err);
		c->sp.err = -1;
		child_maybe_free(c);
	}
}

static void
child_forget_password(struct child *c)
{
	if (c->password != NULL) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
		c->password = NULL;
	}
}

/* The child is gone.  (Not before: closing the master would hang up on
 * the session the agent runs in.) */
static void
child_tty_close(struct child *c)
{
	if (c->ttyev != NULL) {
		event_free(c->ttyev);
		c->ttyev = NULL;
	}
	if (c->sp.tty >= 0) {
		close(c->sp.tty);
		close(c->sp.slave);
		c->sp.tty = c->sp.slave = -1;
	}
	if (c->ttybuf != NULL) {
		evbuffer_free(c->ttybuf);
		c->ttybuf = NULL;
	}
	child_forget_password(c);
}

static void
child_tty_fail(struct child *c, char *text)
{
	free(c->fail);
	c->fail = text;
	child_tty_close(c);	/* hangs up on the child: sudo gives up */
	if (c->link != NULL)
		link_close(c->link, "%s", text);
}

/* Answer the method's exact prompt once; a second prompt or sudo's
 * "Sorry, try again." means the password was wrong: stop at once rather
 * than sit through PAM's delays. */
static void
child_tty_text(struct child *c)
{
	const char *prompt = c->method->prompt, *what = c->method->what;
	size_t len = evbuffer_get_length(c->ttybuf), plen = strlen(prompt);
	char *text = (char *)evbuffer_pullup(c->ttybuf, len), *user;

	if (memmem(text, len, "(yes/no", 7) != NULL) {
		child_tty_fail(c, xprintf("%s asks to accept an unknown host "
		    "key: connect once with ssh, or set StrictHostKeyChecking",
		    what));
		return;
	}
	if (memmem(text, len, "try again", 9) != NULL ||
	    (c->prompted && len >= plen &&
	    memmem(text, len, prompt, plen) != NULL)) {
		user = passwd_name(getuid());
		if (strcmp(what, "ssh") == 0)
			child_tty_fail(c, xprintf("ssh: incorrect password"));
		else
			child_tty_fail(c, xprintf("%s: incorrect password for "
			    "%s", what, user));
		free(user);
		return;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len < plen || memcmp(text + len - plen, prompt, plen) != 0)
		return;
	len = evbuffer_get_length(c->ttybuf);
	if (c->password == NULL) {
		child_tty_fail(c, xprintf("%s asked for a password and none was "
		    "given (use " CONNECT_PW_HINT ")", what));
		return;
	}
	if (write(c->sp.tty, c->password, strlen(c->password)) < 0 ||
	    write(c->sp.tty, "\n", 1) < 0)
		log_about(c->id, SPN_LOG_WARN, "%s: cannot answer the "
		    "prompt: %s", c->label, strerror(errno));
	c->prompted = 1;
	evbuffer_drain(c->ttybuf, len);
}

/* What su and friends said on the pty after the prompt ("su:
 * Authentication failure") explains a failure like stderr does. */
static void
child_tty_lines(struct child *c)
{
	char buf[1024], *line;
	ssize_t n;
	size_t len;

	if (c->ttybuf == NULL)
		return;
	while (c->sp.tty >= 0 && (n = read(c->sp.tty, buf, sizeof buf)) > 0)
		evbuffer_add(c->ttybuf, buf, n);
	while ((line = evbuf_readline(c->ttybuf, &len)) != NULL) {
		if (len > 0)
			child_keep_line(c, line);
		else
			free(line);
	}
}

static void
child_tty_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	char buf[1024];
	ssize_t n;

	(void)what;
	n = read(fd, buf, sizeof buf);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			event_del(c->ttyev);
		return;
	}
	if (c->state != CHILD_BOOTING)
		return;
	evbuffer_add(c->ttybuf, buf, n);
	if (evbuffer_get_length(c->ttybuf) > 8192)
		evbuffer_drain(c->ttybuf, 4096);
	child_tty_text(c);
}

static void
child_hello(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct child *c = arg;
	struct upk u;

	(void)rt;
	if (m->h.kind != SPN_K_HELLO || c->state != CHILD_BOOTING)
		return;
	upk_init(&u, m->data, m->h.len);
	c->agent_pid = upk_u32(&u);
	c->state = CHILD_UP;
	child_forget_password(c);
	/* What it said while booting explains nothing from now on. */
	for (int i = 0; i < ERR_LINES; i++) {
		free(c->errlines[i]);
		c->errlines[i] = NULL;
	}
	c->errskipped = 0;
	if (c->link != NULL)
		link_set_keepalive(c->link, c->keepalive);
	event_del(c->timer);
	rt_handle_del(c->rt, c->hello);
	child_report(c, NULL);
}

static void
child_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	(void)fd;
	(void)what;
	free(c->fail);
	c->fail = xprintf("no answer within %d s (connect timeout)",
	    c->timeout);
	if (c->link != NULL)
		link_close(c->link, "%s", c->fail);
	child_kill_cb(-1, 0, c);
}

static void
child_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	(void)fd;
	(void)what;
	event_free(c->timer);
	evbuffer_free(c->errbuf);
	for (int i = 0; i < ERR_LINES; i++)
		free(c->errlines[i]);
	free(c->arch);
	free(c->label);
	free(c->fail);
	free(c);
}

/* Free once link, process and stderr are all gone; on the next pass, so
 * that no caller up the stack holds a freed child. */
static void
child_maybe_free(struct child *c)
{
	struct timeval tv = { 0, 0 };

	if (c->link != NULL || !c->exited || c->errev != NULL || c->freeing)
		return;
	c->freeing = 1;
	event_del(c->timer);
	event_base_once(rt_base(c->rt), -1, EV_TIMEOUT, child_free_cb, c, &tv);
}

static int
child_send_boot(struct child *c, const struct boot_req *req,
    const struct boot_method *m, char *why, size_t whylen)
{
	const uint8_t *img;
	size_t imglen;
	char *argv0, *line;
	struct pk pk;

	if (boot_image(m->compress, &img, &imglen) != 0) {
		snprintf(why, whylen, "cannot read the agent image");
		return -1;
	}
	argv0 = boot_argv0();
	line = boot_stage0(imglen, m->compress, argv0);
	link_write_raw(c->link, line, strlen(line));
	link_write_raw(c->link, img, imglen);
	free(line);
	free(argv0);
	pk_init(&pk);
	rt_boot_pack(c->rt, &pk, req->id, req->name, req->keepalive);
	pk_u32(&pk, req->level);
	rt_send_pk(c->rt, SPN_K_BOOT, req->id, SPN_H_ROUTER, c->hello, &pk);
	pk_free(&pk);
	return 0;
}

static const struct link_cbs child_link_cbs = {
	.text = child_text,
	.preamble = child_preamble,
	.eof = child_eof,
	.closed = child_closed,
};

struct child *
boot_connect(struct rt *rt, const struct boot_req *req, boot_done_fn *done,
    void *arg, char *why, size_t whylen)
{
	const struct boot_method *m = boot_method_find(req->method);
	struct child *c;
	struct link_cbs cbs = child_link_cbs;
	struct timeval tv = { 0, 0 };
	char **argv;

	if (m == NULL) {
		snprintf(why, whylen, "unknown connection method '%s'",
		    req->method);
		return NULL;
	}
	if ((argv = m->argv(req->args, req->password != NULL &&
	    *req->password != '\0', why, whylen)) == NULL)
		return NULL;
	c = xcalloc(1, sizeof *c);
	if (spawn_start(argv, &c->sp, m->mode, why, whylen) != 0) {
		strv_free(argv);
		free(c);
		return NULL;
	}
	strv_free(argv);
	c->rt = rt;
	c->id = req->id;
	c->keepalive = req->keepalive;
	c->timeout = req->timeout > 0 ? req->timeout : 30;
	c->method = m;
	if (req->password != NULL && *req->password != '\0') {
		secret_nodump();
		c->password = xstrdup(req->password);
	}
	if (c->sp.tty >= 0) {
		fd_nonblock(c->sp.tty, 1);
		c->ttybuf = evbuffer_new();
		c->ttyev = event_new(rt_base(rt), c->sp.tty,
		    EV_READ | EV_PERSIST, child_tty_cb, c);
		event_add(c->ttyev, NULL);
	}
	c->label = xprintf("hop %u (%s)", rt_depth(rt) + 1, req->name);
	c->done = done;
	c->arg = arg;
	c->errbuf = evbuffer_new();
	fd_nonblock(c->sp.err, 1);
	c->errev = event_new(rt_base(rt), c->sp.err, EV_READ | EV_PERSIST,
	    child_err_cb, c);
	event_add(c->errev, NULL);
	c->timer = evtimer_new(rt_base(rt), child_timeout, c);
	tv.tv_sec = c->timeout;
	evtimer_add(c->timer, &tv);
	proc_watch(c->sp.pid, child_exit, c);
	c->link = link_new(rt, c->sp.out, c->sp.in, LINK_CHILD, req->id,
	    c->label);
	cbs.arg = c;
	link_set_cbs(c->link, &cbs);
	link_expect_preamble(c->link);
	rt_route_add(rt, req->id, c->link);
	c->hello = rt_handle_add(rt, 0, RT_ALLOW_PEER, req->id, child_hello,
	    c);
	if (child_send_boot(c, req, m, why, whylen) != 0) {
		c->done = NULL;
		link_close(c->link, "%s", why);
		return NULL;
	}
	return c;
}

void
boot_req_pack(struct pk *pk, const struct boot_req *r)
{
	pk_u32(pk, r->id);
	pk_str(pk, r->name);
	pk_str(pk, r->method);
	pk_strv(pk, r->args);
	pk_u32(pk, r->keepalive);
	pk_u32(pk, r->timeout);
	pk_u32(pk, r->level);
	pk_str(pk, r->password);
}

int
boot_req_unpack(struct upk *u, struct boot_req *r)
{
	memset(r, 0, sizeof *r);
	r->id = upk_u32(u);
	r->name = upk_str(u);
	r->method = upk_str(u);
	r->args = upk_strv(u);
	r->keepalive = upk_u32(u);
	r->timeout = upk_u32(u);
	r->level = upk_u32(u);
	r->password = upk_str(u);
	if (u->err || r->id <= SPN_CTX_MASTER) {
		boot_req_free(r);
		return -1;
	}
	return 0;
}

void
boot_req_free(struct boot_req *r)
{
	free(r->name);
	free(r->method);
	strv_free(r->args);
	if (r->password != NULL) {
		explicit_bzero(r->password, strlen(r->password));
		free(r->password);
	}
	memset(r, 0, sizeof *r);
}

struct connect_call {
	uint32_t	 caller;
	uint32_t	 reply_to;
};

static void
connect_done(struct child *c, const char *err, void *arg)
{
	struct connect_call *cc = arg;
	struct rt *rt = c->rt;
	struct pk pk;

	pk_init(&pk);
	if (err != NULL) {
		pk_u32(&pk, SPN_D_FAILED);
		pk_str(&pk, err);
		rt_send_pk(rt, SPN_K_DEAD, cc->caller, cc->reply_to, 0, &pk);
	} else {
		pk_u32(&pk, child_pid(c));
		pk_str(&pk, child_arch(c));
		rt_send_pk(rt, SPN_K_REPLY, cc->caller, cc->reply_to, 0, &pk);
	}
	pk_free(&pk);
	free(cc);
}

/* CONNECT: start a child of this context on behalf of an ancestor. */
static void
connect_msg(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct boot_req req;
	struct upk u;
	struct connect_call *cc;
	char why[512];

	(void)arg;
	upk_init(&u, m->data, m->h.len);
	if (m->h.kind != SPN_K_CALL || boot_req_unpack(&u, &req) != 0) {
		rt_dead(rt, m, SPN_D_FAILED, "malformed CONNECT request");
		return;
	}
	cc = xcalloc(1, sizeof *cc);
	cc->caller = m->h.src;
	cc->reply_to = m->h.reply_to;
	if (boot_connect(rt, &req, connect_done, cc, why, sizeof why) ==
	    NULL) {
		rt_dead(rt, m, SPN_D_FAILED, "%s", why);
		free(cc);
	}
	boot_req_free(&req);
}

void
connect_service_init(struct rt *rt)
{
	rt_handle_add(rt, SPN_H_CONNECT, RT_ALLOW_ANCESTORS, 0, connect_msg,
	    NULL);
}
