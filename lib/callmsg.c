/*
 * callmsg.c: the CALL and REPLY payloads of the CALL service (handle
 * SPN_H_CALL), the only place that encodes or decodes them.  Layouts in
 * docs/protocol.md, "Calls (libspindle)":
 *
 *	CALL	[fn:str, sig:str, args:array, flags:u32, deadline_ms:u32]
 *	REPLY	[0, results:array]
 *		[1, {code, errno, context, where, message}]
 *
 * Later versions may append elements to either array and keys to the
 * error map; decoders ignore what they do not know.
 */
#include <stdio.h>
#include <string.h>

#include "lib.h"

#define REPLY_OK	0
#define REPLY_ERR	1

/* Append [values...] from a vbuf (NULL: an empty array). */
static int
callmsg_array(struct spn_vbuf *vb, const struct spn_vbuf *from)
{
	size_t	 n = 0;
	int	 depth = 0, rc;

	if (from != NULL && vbuf_values(from, &n, &depth) != 0)
		return SPN_EINVAL;
	if ((rc = spn_vbuf_array(vb, n)) != SPN_OK || from == NULL)
		return rc;
	return vbuf_cat(vb, from);
}

int
callmsg_pack(struct spn_vbuf *vb, const char *fn, const char *sig,
    const struct spn_vbuf *args, uint32_t flags, uint32_t deadline_ms)
{
	int	 rc;

	if (fn == NULL || sig == NULL)
		return SPN_EINVAL;
	if ((rc = spn_vbuf_array(vb, 5)) != SPN_OK ||
	    (rc = spn_vbuf_put(vb, "ss", fn, sig)) != SPN_OK ||
	    (rc = callmsg_array(vb, args)) != SPN_OK)
		return rc;
	return spn_vbuf_put(vb, "uu", (uint64_t)flags, (uint64_t)deadline_ms);
}

/* A string without NULs inside, as a C string. */
static const char *
callmsg_cstr(const struct spn_value *v)
{
	const char	*s;
	size_t		 len;

	if ((s = spn_value_str(v, &len)) == NULL || strlen(s) != len)
		return NULL;
	return s;
}

static int
callmsg_u32(const struct spn_value *v, uint32_t *x)
{
	uint64_t	 u;

	if (spn_value_uint(v, &u) != SPN_OK || u > UINT32_MAX)
		return -1;
	*x = (uint32_t)u;
	return 0;
}

int
callmsg_unpack(const void *buf, size_t len, struct spn_msg **mp,
    struct callmsg *c, char *why, size_t whylen)
{
	const struct spn_value	*a;

	memset(c, 0, sizeof *c);
	if (value_decode(buf, len, mp, why, whylen) != 0)
		return -1;
	a = spn_msg_value(*mp);
	if (spn_value_type(a) != SPN_T_ARRAY || spn_value_len(a) < 5) {
		snprintf(why, whylen, "a call is not an array of 5");
		goto bad;
	}
	if ((c->fn = callmsg_cstr(spn_value_at(a, 0))) == NULL ||
	    (c->sig = callmsg_cstr(spn_value_at(a, 1))) == NULL) {
		snprintf(why, whylen, "a call's function or signature is "
		    "not a string");
		goto bad;
	}
	c->args = spn_value_at(a, 2);
	if (spn_value_type(c->args) != SPN_T_ARRAY) {
		snprintf(why, whylen, "a call's arguments are not an array");
		goto bad;
	}
	if (callmsg_u32(spn_value_at(a, 3), &c->flags) != 0 ||
	    callmsg_u32(spn_value_at(a, 4), &c->deadline_ms) != 0) {
		snprintf(why, whylen, "a call's flags or deadline is not a "
		    "u32");
		goto bad;
	}
	value_msg_root(*mp, c->args);
	return 0;

bad:
	spn_msg_free(*mp);
	*mp = NULL;
	memset(c, 0, sizeof *c);
	return -1;
}

int
reply_pack_ok(struct spn_vbuf *vb, const struct spn_vbuf *results)
{
	int	 rc;

	if ((rc = spn_vbuf_array(vb, 2)) != SPN_OK ||
	    (rc = spn_vbuf_put(vb, "i", (int64_t)REPLY_OK)) != SPN_OK)
		return rc;
	return callmsg_array(vb, results);
}

/* A field of struct spn_error up to its first NUL or its end. */
static int
reply_put_field(struct spn_vbuf *vb, const char *key, const char *s,
    size_t size)
{
	char	 buf[sizeof ((struct spn_error *)0)->message + 1];
	size_t	 len = strnlen(s, size < sizeof buf ? size : sizeof buf - 1);

	memcpy(buf, s, len);
	buf[len] = '\0';
	return spn_vbuf_put(vb, "ss", key, buf);
}

int
reply_pack_err(struct spn_vbuf *vb, const struct spn_error *e)
{
	int	 rc;

	if ((rc = spn_vbuf_array(vb, 2)) != SPN_OK ||
	    (rc = spn_vbuf_put(vb, "i", (int64_t)REPLY_ERR)) != SPN_OK ||
	    (rc = spn_vbuf_map(vb, 5)) != SPN_OK ||
	    (rc = spn_vbuf_put(vb, "sisi", "code", (int64_t)e->code, "errno",
	    (int64_t)e->sys_errno)) != SPN_OK ||
	    (rc = reply_put_field(vb, "context", e->context,
	    sizeof e->context)) != SPN_OK ||
	    (rc = reply_put_field(vb, "where", e->where,
	    sizeof e->where)) != SPN_OK)
		return rc;
	return reply_put_field(vb, "message", e->message, sizeof e->message);
}

/*
 * Copy a string the far end sent into a fixed field: cut at a character
 * boundary (UTF-8) if too long, control characters made visible.
 */
static void
reply_copy(char *dst, size_t size, const struct spn_value *v)
{
	const char	*s;
	size_t		 len;

	if ((s = spn_value_str(v, &len)) == NULL)
		len = 0;
	if (len >= size) {
		len = size - 1;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(dst, s != NULL ? s : "", len);
	dst[len] = '\0';
	str_clean(dst);
}

static int
reply_error(const struct spn_value *map, struct spn_error *e)
{
	int64_t	 code, num;

	if (spn_value_type(map) != SPN_T_MAP ||
	    spn_value_int(spn_value_get(map, "code"), &code) != SPN_OK)
		return -1;
	/* A code this version does not know is still an error. */
	if (code <= SPN_OK || code > SPN_ESYS)
		code = SPN_EPROTO;
	if (spn_value_int(spn_value_get(map, "errno"), &num) != SPN_OK ||
	    num < 0 || num > 4095)
		num = 0;
	e->code = (int)code;
	e->sys_errno = (int)num;
	reply_copy(e->context, sizeof e->context, spn_value_get(map,
	    "context"));
	reply_copy(e->where, sizeof e->where, spn_value_get(map, "where"));
	reply_copy(e->message, sizeof e->message, spn_value_get(map,
	    "message"));
	return 0;
}

static int
reply_bad(struct spn_error *e, const char *why)
{
	if (e != NULL) {
		memset(e, 0, sizeof *e);
		e->code = SPN_EPROTO;
		snprintf(e->message, sizeof e->message, "malformed reply: %s",
		    why);
	}
	return SPN_EPROTO;
}

int
reply_unpack(const void *buf, size_t len, struct spn_msg **mp,
    struct spn_error *e)
{
	const struct spn_value	*a, *body;
	struct spn_msg		*m;
	struct spn_error	 tmp;
	char			 why[256];
	int64_t			 kind;

	*mp = NULL;
	if (value_decode(buf, len, &m, why, sizeof why) != 0)
		return reply_bad(e, why);
	a = spn_msg_value(m);
	body = spn_value_at(a, 1);
	if (spn_value_type(a) != SPN_T_ARRAY || spn_value_len(a) < 2 ||
	    spn_value_int(spn_value_at(a, 0), &kind) != SPN_OK ||
	    (kind != REPLY_OK && kind != REPLY_ERR)) {
		spn_msg_free(m);
		return reply_bad(e, "not [0, results] or [1, error]");
	}
	if (kind == REPLY_OK) {
		if (spn_value_type(body) != SPN_T_ARRAY) {
			spn_msg_free(m);
			return reply_bad(e, "results are not an array");
		}
		value_msg_root(m, body);
		*mp = m;
		return SPN_OK;
	}
	memset(&tmp, 0, sizeof tmp);
	if (reply_error(body, &tmp) != 0) {
		spn_msg_free(m);
		return reply_bad(e, "an error is not a map with a code");
	}
	spn_msg_free(m);
	if (e != NULL)
		*e = tmp;
	return tmp.code;
}
