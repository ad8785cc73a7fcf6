/*
 * Forwarding specs as OpenSSH 9.2 reads them (readconf.c parse_forward):
 * up to four fields separated by ':', a '/' making a field a UNIX socket
 * path (the old '/' separator is gone since OpenSSH 6.7), a field in
 * [brackets] taken literally (IPv6 addresses), a backslash escaping the
 * next character, ${VAR} expanded from the environment first.  The
 * number of fields and which of them are paths say what was meant:
 *
 *	1	port | path			(-D, -R dynamic, -W: none)
 *	2	bind:port | path:path | port:path | host:port (-W)
 *	3	port:host:hostport | path:host:hostport | bind:port:path
 *	4	bind:port:host:hostport
 *
 * The error texts are ssh.c's, so the shim fails as ssh does.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

#define FWD_FIELDS	4
#define FWD_PATH_MAX	sizeof(((struct sockaddr_un *)0)->sun_path)

struct fwd_field {
	char	*arg;
	int	 ispath;
};

/* ssh's dollar_expand: ${NAME} from the environment; NULL if unset. */
static char *
fwd_expand(const char *s)
{
	char *out = xstrdup(""), *name, *t;
	const char *end, *val;

	while (*s != '\0') {
		if (s[0] != '$' || s[1] != '{') {
			end = strstr(s, "${");
			if (end == NULL)
				end = s + strlen(s);
			t = xprintf("%s%.*s", out, (int)(end - s), s);
			free(out);
			out = t;
			s = end;
			continue;
		}
		if ((end = strchr(s + 2, '}')) == NULL)
			goto fail;
		name = xstrndup(s + 2, end - (s + 2));
		val = *name != '\0' ? getenv(name) : NULL;
		free(name);
		if (val == NULL)
			goto fail;
		t = xprintf("%s%s", out, val);
		free(out);
		out = t;
		s = end + 1;
	}
	return out;
fail:
	free(out);
	return NULL;
}

/* The next field at *p, which moves past its ':'; -1 at the end. */
static int
fwd_field(char **p, struct fwd_field *f)
{
	char *cp = *p, *ep;
	int ispath = 0;

	if (cp == NULL || *cp == '\0') {
		*p = NULL;
		return -1;
	}
	if (*cp == '[') {
		for (ep = cp + 1; *ep != ']' && *ep != '\0'; ep++) {
			if (*ep == '/')
				ispath = 1;
		}
		if (ep[0] != ']' || (ep[1] != ':' && ep[1] != '\0'))
			return -1;
		*ep++ = '\0';
		if (*ep != '\0')
			*ep++ = '\0';
		f->arg = cp + 1;
		f->ispath = ispath;
		*p = ep;
		return 0;
	}
	for (; *cp != '\0'; cp++) {
		if (*cp == '\\') {
			memmove(cp, cp + 1, strlen(cp + 1) + 1);
			if (*cp == '\0')
				return -1;
		} else if (*cp == '/')
			ispath = 1;
		else if (*cp == ':') {
			*cp++ = '\0';
			break;
		}
	}
	f->arg = *p;
	f->ispath = ispath;
	*p = cp;
	return 0;
}

/*
 * ssh's a2port: 0..65535 or a service name; -2 if neither (-1 marks a
 * path here).
 */
static int
fwd_port(const char *s)
{
	struct servent *se;
	const char *cp;
	long n = 0;

	for (cp = s; *cp != '\0' && isdigit((unsigned char)*cp); cp++) {
		if ((n = n * 10 + (*cp - '0')) > 65535)
			return -2;
	}
	if (*s != '\0' && *cp == '\0')
		return n;
	if (*s != '\0' && (se = getservbyname(s, "tcp")) != NULL)
		return ntohs(se->s_port);
	return -2;
}

/*
 * parse_forward's reading of n fields: the listening side into bind and
 * bind_port, the target into host and port ("socks": the dynamic kinds).
 */
static int
fwd_fields(struct fwd_field *a, int n, struct fwd_spec *fs)
{
	switch (n) {
	case 1:
		if (a[0].ispath) {
			fs->bind = xstrdup(a[0].arg);
			fs->bind_port = -1;
		} else
			fs->bind_port = fwd_port(a[0].arg);
		break;
	case 2:
		if (a[0].ispath && a[1].ispath) {
			fs->bind = xstrdup(a[0].arg);
			fs->bind_port = -1;
			fs->host = xstrdup(a[1].arg);
			fs->port = -1;
		} else if (a[1].ispath) {
			fs->bind_port = fwd_port(a[0].arg);
			fs->host = xstrdup(a[1].arg);
			fs->port = -1;
		} else {
			fs->bind = xstrdup(a[0].arg);
			fs->bind_port = fwd_port(a[1].arg);
		}
		break;
	case 3:
		if (a[0].ispath) {
			fs->bind = xstrdup(a[0].arg);
			fs->bind_port = -1;
			fs->host = xstrdup(a[1].arg);
			fs->port = fwd_port(a[2].arg);
		} else if (a[2].ispath) {
			fs->bind = xstrdup(a[0].arg);
			fs->bind_port = fwd_port(a[1].arg);
			fs->host = xstrdup(a[2].arg);
			fs->port = -1;
		} else {
			fs->bind_port = fwd_port(a[0].arg);
			fs->host = xstrdup(a[1].arg);
			fs->port = fwd_port(a[2].arg);
		}
		break;
	case 4:
		fs->bind = xstrdup(a[0].arg);
		fs->bind_port = fwd_port(a[1].arg);
		fs->host = xstrdup(a[2].arg);
		fs->port = fwd_port(a[3].arg);
		break;
	default:
		return -1;
	}
	return 0;
}

static int
fwd_is_path(const char *s, int port)
{
	return s != NULL && port == -1;
}

/* parse_forward(fwd, s, dynamic, remote): 0 or -1. */
static int
fwd_try(const char *s, int dynamic, int remote, struct fwd_spec *fs)
{
	struct fwd_field a[FWD_FIELDS];
	char *copy, *cp;
	int n, bad;

	memset(fs, 0, sizeof *fs);
	memset(a, 0, sizeof a);
	if ((copy = fwd_expand(s)) == NULL)
		return -1;
	for (cp = copy; isspace((unsigned char)*cp); cp++)
		;
	for (n = 0; n < FWD_FIELDS; n++) {
		if (fwd_field(&cp, &a[n]) != 0)
			break;
	}
	if (cp != NULL && *cp != '\0')
		n = 0;
	bad = fwd_fields(a, n, fs) != 0;
	free(copy);
	if (bad)
		goto fail;
	if (dynamic) {
		/* A second field that is a path is no dynamic forward. */
		if (n != 1 && n != 2)
			goto fail;
		if (fs->host != NULL)
			goto fail;
	} else {
		if (n != 3 && n != 4 && !fwd_is_path(fs->bind,
		    fs->bind_port) && !fwd_is_path(fs->host, fs->port))
			goto fail;
		if (fs->host == NULL || (fs->port <= 0 && fs->port != -1))
			goto fail;
	}
	if ((fs->bind_port < 0 && fs->bind_port != -1) ||
	    (!remote && fs->bind_port == 0))
		goto fail;
	if (fs->bind_port == -1 && fs->bind == NULL)
		goto fail;
	if (fs->host != NULL && strlen(fs->host) >= (fs->port == -1 ?
	    FWD_PATH_MAX : NI_MAXHOST))
		goto fail;
	if (fs->bind != NULL && strlen(fs->bind) >= (fs->bind_port == -1 ?
	    FWD_PATH_MAX : NI_MAXHOST))
		goto fail;
	return 0;
fail:
	fwd_spec_free(fs);
	return -1;
}

/*
 * A spec of the kind FWD_*, as ssh's -L, -R, -D or -W takes it: 0, or -1
 * and ssh's error line.
 */
int
fwd_spec_parse(int kind, const char *s, struct fwd_spec *fs, char *err,
    size_t errlen)
{
	const char *what;
	int r = -1;

	switch (kind) {
	case FWD_LOCAL:
		what = "local";
		r = fwd_try(s, 0, 0, fs);
		break;
	case FWD_REMOTE:
		what = "remote";
		if ((r = fwd_try(s, 0, 1, fs)) != 0)
			r = fwd_try(s, 1, 1, fs);
		break;
	case FWD_DYNAMIC:
		what = "dynamic";
		r = fwd_try(s, 1, 0, fs);
		break;
	case FWD_STDIO:
		/* ssh reads host:port as a dynamic bind:port. */
		what = "stdio";
		if ((r = fwd_try(s, 1, 0, fs)) == 0) {
			if (fs->bind == NULL || fs->bind_port == -1) {
				fwd_spec_free(fs);
				r = -1;
			} else {
				fs->host = fs->bind;
				fs->port = fs->bind_port;
				fs->bind = NULL;
				fs->bind_port = 0;
			}
		}
		break;
	default:
		what = "";
		memset(fs, 0, sizeof *fs);
		break;
	}
	if (r != 0) {
		if (errlen > 0)
			snprintf(err, errlen, "Bad %s forwarding "
			    "specification '%s'", what, s);
		return -1;
	}
	fs->kind = kind;
	return 0;
}

/* A host or bind address as a field: [v6] bracketed. */
static char *
fwd_text_host(const char *h)
{
	if (strchr(h, ':') != NULL)
		return xprintf("[%s]", h);
	return xstrdup(h);
}

static char *
fwd_text_side(const char *h, int port)
{
	char *t, *s;

	if (port == -1)
		return xstrdup(h);
	if (h == NULL)
		return xprintf("%d", port);
	t = fwd_text_host(h);
	s = xprintf("%s:%d", t, port);
	free(t);
	return s;
}

/* As ssh prints it in messages ("5432:db:5432"). */
char *
fwd_spec_text(const struct fwd_spec *fs)
{
	char *b, *h, *s;

	if (fs->kind == FWD_STDIO)
		return fwd_text_side(fs->host, fs->port);
	b = fwd_text_side(fs->bind, fs->bind_port);
	if (fs->host == NULL)
		return b;
	h = fwd_text_side(fs->host, fs->port);
	s = xprintf("%s:%s", b, h);
	free(b);
	free(h);
	return s;
}

void
fwd_spec_free(struct fwd_spec *fs)
{
	free(fs->bind);
	free(fs->host);
	memset(fs, 0, sizeof *fs);
}
