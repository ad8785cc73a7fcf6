/*
 * value.c: libspindle's values, MessagePack on the wire.
 *
 * Encoding: msgpack-c's packer writes into a growable buffer (struct
 * spn_vbuf) that counts complete values, so that a CALL or REPLY can wrap
 * what a function appended in an array header later (callmsg.c).
 *
 * Decoding does not use msgpack-c's unpacker: it preallocates from the
 * counts a peer declares (1 GiB mapped for the 5 bytes dd 02 00 00 00,
 * LIBRARY.md finding 6), makes one zone allocation per chunk, leaves
 * strings unterminated and builds 24-byte objects.  Instead one walker
 * runs twice over the payload.  The first run is the bounded pre-scan:
 * it allocates nothing, rejects any array, map, string, bytes or
 * extension that claims more than the bytes left, nesting deeper than
 * VALUE_DEPTH_MAX, more nodes than bytes and trailing bytes, and counts
 * the nodes and the text.  Only then one allocation, sized from what the
 * pre-scan counted (at most about 18 bytes per payload byte), takes the
 * message, its 16-byte nodes and a copy of every string and bytes value
 * (each NUL-terminated); the second run fills them.  A single code path
 * for both runs means the fuzzed checks are the ones the builder relies
 * on.
 */
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack/pack.h>

#include "api.h"

#define VALUE_STR_(x)	#x
#define VALUE_STR(x)	VALUE_STR_(x)
/* Nothing larger ever fits in a frame. */
#define VALUE_LEN_MAX	SPN_MAX_FRAME_HARD
/* A small result needs no second allocation. */
#define VBUF_INLINE	200
/* A context's name in a value (its route), at most. */
#define VALUE_CTX_NAME_MAX	1024
/* The letters 'a' takes. */
#define VALUE_ARRAY_LETTERS	"biudsC"
/* What a sender's extension holds. */
#define VALUE_SENDER_LEN	12

struct spn_vbuf {
	uint8_t		*data;
	size_t		 len;
	size_t		 cap;
	size_t		 n;		/* complete top-level values */
	int		 err;		/* why the last write failed */
	int		 depth;		/* containers still open */
	int		 maxdepth;	/* deepest nesting written */
	uint32_t	 left[VALUE_DEPTH_MAX]; /* values each one awaits */
	msgpack_packer	 pk;
	uint8_t		 inl[VBUF_INLINE];
};

struct spn_value {
	uint8_t		 type;		/* enum spn_type */
	uint32_t	 n;		/* str/bytes length, elements, pairs */
	union {
		int		 b;
		int64_t		 i;
		uint64_t	 u;
		double		 d;
		const char	*s;	/* str and bytes, NUL-terminated; a
					 * context's name (n: its id) */
		struct spn_value *kids;	/* array; map: key, value, ... */
	} v;
};

struct spn_msg {
	const struct spn_value *root;
	int		 cached;	/* from mem_get */
	struct spn_value nodes[];	/* then the text arena */
};

static int
vbuf_grow(struct spn_vbuf *vb, size_t add)
{
	size_t	 cap = vb->cap;
	uint8_t	*p;

	if (add > VALUE_LEN_MAX - vb->len) {
		vb->err = SPN_ETOOLARGE;
		return -1;
	}
	while (cap - vb->len < add)
		cap *= 2;
	if (cap > VALUE_LEN_MAX)
		cap = VALUE_LEN_MAX;
	if (vb->data == vb->inl) {
		if ((p = malloc(cap)) != NULL)
			memcpy(p, vb->data, vb->len);
	} else
		p = realloc(vb->data, cap);
	if (p == NULL) {
		vb->err = SPN_ENOMEM;
		return -1;
	}
	vb->data = p;
	vb->cap = cap;
	return 0;
}

/*
 * Most copies are a few bytes (headers, small strings), where musl's
 * memcpy (rep movs) costs more than the rest of the encoding: fixed sizes
 * become plain moves.
 */
static void
value_copy(void *dst, const void *src, size_t len)
{
	switch (len) {
	case 0:
		break;
	case 1:
		*(uint8_t *)dst = *(const uint8_t *)src;
		break;
	case 2:
		__builtin_memcpy(dst, src, 2);
		break;
	case 3:
		__builtin_memcpy(dst, src, 3);
		break;
	case 4:
		__builtin_memcpy(dst, src, 4);
		break;
	case 5:
		__builtin_memcpy(dst, src, 5);
		break;
	case 9:
		__builtin_memcpy(dst, src, 9);
		break;
	default:
		memcpy(dst, src, len);
	}
}

static int
vbuf_write(void *arg, const char *buf, size_t len)
{
	struct spn_vbuf	*vb = arg;

	if (len > vb->cap - vb->len && vbuf_grow(vb, len) != 0)
		return -1;
	value_copy(vb->data + vb->len, buf, len);
	vb->len += len;
	return 0;
}

struct spn_vbuf *
vbuf_new(void)
{
	struct spn_vbuf	*vb;

	if ((vb = malloc(sizeof *vb)) == NULL)
		return NULL;
	vb->data = vb->inl;
	vb->len = 0;
	vb->cap = sizeof vb->inl;
	vb->n = 0;
	vb->err = 0;
	vb->depth = 0;
	vb->maxdepth = 0;
	msgpack_packer_init(&vb->pk, vb, vbuf_write);
	return vb;
}

void
vbuf_free(struct spn_vbuf *vb)
{
	if (vb == NULL)
		return;
	if (vb->data != vb->inl)
		free(vb->data);
	free(vb);
}

void
vbuf_reset(struct spn_vbuf *vb)
{
	vb->len = 0;
	vb->n = 0;
	vb->err = 0;
	vb->depth = 0;
	vb->maxdepth = 0;
}

const uint8_t *
vbuf_data(const struct spn_vbuf *vb, size_t *len)
{
	*len = vb->len;
	return vb->data;
}

int
vbuf_values(const struct spn_vbuf *vb, size_t *n, int *depth)
{
	if (vb->depth != 0)
		return -1;
	*n = vb->n;
	if (depth != NULL)
		*depth = vb->maxdepth;
	return 0;
}

/* One value is complete: it fills a slot of the innermost open container,
 * which may complete that one in turn. */
static void
vbuf_count(struct spn_vbuf *vb)
{
	while (vb->depth > 0) {
		if (--vb->left[vb->depth - 1] != 0)
			return;
		vb->depth--;
	}
	vb->n++;
}

static int
vbuf_open(struct spn_vbuf *vb, size_t n, int map)
{
	int	 rc;

	if (vb->depth == VALUE_DEPTH_MAX)
		return SPN_EINVAL;
	if (n > VALUE_LEN_MAX)
		return SPN_ETOOLARGE;
	rc = map ? msgpack_pack_map(&vb->pk, n) : msgpack_pack_array(&vb->pk,
	    n);
	if (rc != 0)
		return vb->err;
	if (vb->depth + 1 > vb->maxdepth)
		vb->maxdepth = vb->depth + 1;
	if (n == 0)
		vbuf_count(vb);
	else
		vb->left[vb->depth++] = map ? 2 * n : n;
	return SPN_OK;
}

int
spn_vbuf_array(struct spn_vbuf *vb, size_t n)
{
	return vb != NULL ? vbuf_open(vb, n, 0) : SPN_EINVAL;
}

int
spn_vbuf_map(struct spn_vbuf *vb, size_t npairs)
{
	return vb != NULL ? vbuf_open(vb, npairs, 1) : SPN_EINVAL;
}

int
vbuf_cat(struct spn_vbuf *vb, const struct spn_vbuf *from)
{
	if (from->depth != 0)
		return SPN_EINVAL;
	if (vb->depth + from->maxdepth > VALUE_DEPTH_MAX)
		return SPN_EINVAL;
	if (vbuf_write(vb, (const char *)from->data, from->len) != 0)
		return vb->err;
	if (vb->depth + from->maxdepth > vb->maxdepth)
		vb->maxdepth = vb->depth + from->maxdepth;
	for (size_t i = 0; i < from->n; i++)
		vbuf_count(vb);
	return SPN_OK;
}

/*
 * A context (the letter C): extension SPN_EXT_CONTEXT, whose body is its
 * id (u32, big-endian) and then its name, to the body's end.
 */
static int
vbuf_put_ctx(struct spn_vbuf *vb, uint32_t id, const char *name)
{
	size_t	 len = strlen(name);
	uint8_t	 be[4] = { id >> 24, id >> 16, id >> 8, id };

	if (len > VALUE_CTX_NAME_MAX) {
		vb->err = SPN_EINVAL;
		return -1;
	}
	if (msgpack_pack_ext(&vb->pk, 4 + len, SPN_EXT_CONTEXT) != 0 ||
	    msgpack_pack_ext_body(&vb->pk, be, sizeof be) != 0 ||
	    msgpack_pack_ext_body(&vb->pk, name, len) != 0)
		return -1;
	return 0;
}

/* A sender: ext SPN_EXT_SENDER, u32 context, u32 handle, u32 window. */
static int
value_put_sender(struct spn_vbuf *vb, uint32_t ctx, uint32_t handle,
    uint32_t window)
{
	uint8_t	 b[VALUE_SENDER_LEN];

	be32_put(b, ctx);
	be32_put(b + 4, handle);
	be32_put(b + 8, window);
	return msgpack_pack_ext_with_body(&vb->pk, b, sizeof b,
	    SPN_EXT_SENDER);
}

/* A decoded value, again (the letter v). */
static int
vbuf_put_value(struct spn_vbuf *vb, const struct spn_value *v)
{
	msgpack_packer	*pk = &vb->pk;
	size_t		 i, n;
	int		 rc;

	switch (v->type) {
	case SPN_T_NIL:
		rc = msgpack_pack_nil(pk);
		break;
	case SPN_T_BOOL:
		rc = v->v.b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
		break;
	case SPN_T_INT:
		rc = msgpack_pack_int64(pk, v->v.i);
		break;
	case SPN_T_UINT:
		rc = msgpack_pack_uint64(pk, v->v.u);
		break;
	case SPN_T_DOUBLE:
		rc = msgpack_pack_double(pk, v->v.d);
		break;
	case SPN_T_STR:
		rc = msgpack_pack_str_with_body(pk, v->v.s, v->n);
		break;
	case SPN_T_BYTES:
		rc = msgpack_pack_bin_with_body(pk, v->v.s, v->n);
		break;
	case SPN_T_CTX:
		rc = vbuf_put_ctx(vb, v->n, v->v.s);
		break;
	case SPN_T_SENDER:
		rc = value_put_sender(vb, v->n, (uint32_t)(v->v.u >> 32),
		    (uint32_t)v->v.u);
		break;
	case SPN_T_ARRAY:
	case SPN_T_MAP:
		n = v->type == SPN_T_MAP ? 2 * (size_t)v->n : v->n;
		if ((rc = vbuf_open(vb, v->n, v->type == SPN_T_MAP)) != 0)
			return rc;
		for (i = 0; i < n; i++) {
			if ((rc = vbuf_put_value(vb, &v->v.kids[i])) != 0)
				return rc;
		}
		return SPN_OK;
	default:
		return SPN_EINVAL;
	}
	if (rc != 0)
		return vb->err;
	vbuf_count(vb);
	return SPN_OK;
}

static const char *
vbuf_errstr(int rc)
{
	switch (rc) {
	case SPN_ETOOLARGE:
		return "values too large";
	case SPN_ENOMEM:
		return "out of memory";
	}
	return "values nested deeper than " VALUE_STR(VALUE_DEPTH_MAX);
}

static const char *
sig_skip(const char *s)
{
	while (*s == ',' || *s == ' ')
		s++;
	return s;
}

/*
 * The elements of the group whose opening bracket s follows: their count,
 * and in *end where its closing bracket is.  -1 if unbalanced.
 */
static int
sig_group(const char *s, char close, int depth, size_t *n, const char **end)
{
	size_t	 count = 0;

	if (depth > VALUE_DEPTH_MAX)
		return -1;
	for (s = sig_skip(s); *s != close; s = sig_skip(s)) {
		switch (*s) {
		case '[':
			if (sig_group(s + 1, ']', depth + 1, NULL, &s) != 0)
				return -1;
			break;
		case '{':
			if (sig_group(s + 1, '}', depth + 1, NULL, &s) != 0)
				return -1;
			break;
		case 'a':
			/* aX: one element; X is checked where it is used. */
			if (s[1] == '\0')
				return -1;
			s++;
			break;
		case '\0':
		case ']':
		case '}':
			return -1;
		}
		s++;
		count++;
	}
	if (close == '}' && count % 2 != 0)
		return -1;
	if (n != NULL)
		*n = count;
	*end = s;
	return 0;
}

/*
 * One scalar of letter c, which p points to (an element of an 'a' array,
 * or the variable argument put_one read).
 */
static int
put_item(struct spn_vbuf *vb, char c, const void *p, char *why,
    size_t whylen)
{
	msgpack_packer		*pk = &vb->pk;
	const struct spn_ctx	*ctx;
	const char		*str;
	int			 rc;

	switch (c) {
	case 'b':
		rc = *(const int *)p ? msgpack_pack_true(pk) :
		    msgpack_pack_false(pk);
		break;
	case 'i':
		rc = msgpack_pack_int64(pk, *(const int64_t *)p);
		break;
	case 'u':
		rc = msgpack_pack_uint64(pk, *(const uint64_t *)p);
		break;
	case 'd':
		rc = msgpack_pack_double(pk, *(const double *)p);
		break;
	case 's':
		if ((str = *(const char *const *)p) == NULL) {
			snprintf(why, whylen, "NULL for s");
			return SPN_EINVAL;
		}
		rc = msgpack_pack_str_with_body(pk, str, strlen(str));
		break;
	case 'C':
		/* Its id and name are set at creation and never change:
		 * read without the lock. */
		if ((ctx = *(struct spn_ctx *const *)p) == NULL) {
			snprintf(why, whylen, "NULL for C");
			return SPN_EINVAL;
		}
		if ((rc = vbuf_put_ctx(vb, ctx->id, ctx->name)) != 0 &&
		    vb->err == SPN_EINVAL) {
			snprintf(why, whylen, "a context name over "
			    VALUE_STR(VALUE_CTX_NAME_MAX) " bytes");
			return SPN_EINVAL;
		}
		break;
	default:
		snprintf(why, whylen, "bad type letter '%c' in signature", c);
		return SPN_EINVAL;
	}
	if (rc != 0) {
		snprintf(why, whylen, "%s", vbuf_errstr(vb->err));
		return vb->err;
	}
	vbuf_count(vb);
	return SPN_OK;
}

/* 'aX': size_t n, then a pointer to n of what X reads. */
static int
put_array(struct spn_vbuf *vb, char c, va_list *ap, char *why,
    size_t whylen)
{
	static const size_t	 size[] = { sizeof(int), sizeof(int64_t),
	    sizeof(uint64_t), sizeof(double), sizeof(char *),
	    sizeof(struct spn_ctx *) };
	const char		*k;
	const uint8_t		*p;
	size_t			 n, i;
	int			 rc;

	if (c == '\0' || (k = strchr(VALUE_ARRAY_LETTERS, c)) == NULL) {
		snprintf(why, whylen, "'a' takes one of "
		    VALUE_ARRAY_LETTERS ", not '%c'", c != '\0' ? c : ' ');
		return SPN_EINVAL;
	}
	n = va_arg(*ap, size_t);
	p = va_arg(*ap, const void *);
	if (p == NULL && n != 0) {
		snprintf(why, whylen, "NULL for a%c", c);
		return SPN_EINVAL;
	}
	if ((rc = vbuf_open(vb, n, 0)) != 0) {
		snprintf(why, whylen, "%s", vbuf_errstr(rc));
		return rc;
	}
	for (i = 0; i < n; i++) {
		if ((rc = put_item(vb, c, p + i * size[k - VALUE_ARRAY_LETTERS],
		    why, whylen)) != 0)
			return rc;
	}
	return SPN_OK;
}

static int
put_one(struct spn_vbuf *vb, const char **sp, va_list *ap, char *why,
    size_t whylen)
{
	msgpack_packer		*pk = &vb->pk;
	const char		*s = *sp, *end;
	const void		*p;
	const struct spn_value	*v;
	const struct sender_ref	*snd;
	size_t			 n;
	int			 rc, map;
	union {
		int		 b;
		int64_t		 i;
		uint64_t	 u;
		double		 d;
		const char	*s;
		struct spn_ctx	*ctx;
	} x;

	switch (*s) {
	case 'b':
		x.b = va_arg(*ap, int);
		break;
	case 'i':
		x.i = va_arg(*ap, int64_t);
		break;
	case 'u':
		x.u = va_arg(*ap, uint64_t);
		break;
	case 'd':
		x.d = va_arg(*ap, double);
		break;
	case 's':
		x.s = va_arg(*ap, const char *);
		break;
	case 'C':
		x.ctx = va_arg(*ap, struct spn_ctx *);
		break;
	case 'a':
		if ((rc = put_array(vb, s[1], ap, why, whylen)) == 0)
			*sp = s + 2;
		return rc;
	case 'y':
		p = va_arg(*ap, const void *);
		n = va_arg(*ap, size_t);
		if (p == NULL && n != 0) {
			snprintf(why, whylen, "NULL for y");
			return SPN_EINVAL;
		}
		if (msgpack_pack_bin_with_body(pk, p, n) != 0)
			goto fail;
		vbuf_count(vb);
		*sp = s + 1;
		return SPN_OK;
	case 'n':
		if (msgpack_pack_nil(pk) != 0)
			goto fail;
		vbuf_count(vb);
		*sp = s + 1;
		return SPN_OK;
	case 'S':
		if ((snd = va_arg(*ap, const struct sender_ref *)) == NULL) {
			snprintf(why, whylen, "NULL for S");
			return SPN_EINVAL;
		}
		if (value_put_sender(vb, snd->ctx, snd->handle,
		    snd->window) != 0)
			goto fail;
		vbuf_count(vb);
		*sp = s + 1;
		return SPN_OK;
	case 'v':
		if ((v = va_arg(*ap, const struct spn_value *)) == NULL) {
			snprintf(why, whylen, "NULL for v");
			return SPN_EINVAL;
		}
		if ((rc = vbuf_put_value(vb, v)) != 0)
			snprintf(why, whylen, "%s", vbuf_errstr(rc));
		*sp = s + 1;
		return rc;
	case '[':
	case '{':
		map = *s == '{';
		if (sig_group(s + 1, map ? '}' : ']', vb->depth + 1, &n,
		    &end) != 0) {
			snprintf(why, whylen, "unbalanced %c in signature",
			    *s);
			return SPN_EINVAL;
		}
		if ((rc = vbuf_open(vb, map ? n / 2 : n, map)) != 0) {
			snprintf(why, whylen, "%s", vbuf_errstr(rc));
			return rc;
		}
		for (s = sig_skip(s + 1); s != end; s = sig_skip(s)) {
			if ((rc = put_one(vb, &s, ap, why, whylen)) != 0)
				return rc;
		}
		*sp = end + 1;
		return SPN_OK;
	default:
		snprintf(why, whylen, "bad type letter '%c' in signature", *s);
		return SPN_EINVAL;
	}
	if ((rc = put_item(vb, *s, &x, why, whylen)) == 0)
		*sp = s + 1;
	return rc;

fail:
	snprintf(why, whylen, "%s", vbuf_errstr(vb->err));
	return vb->err;
}

int
vbuf_putv(struct spn_vbuf *vb, const char *sig, va_list *ap, char *why,
    size_t whylen)
{
	size_t		 len = vb->len, n = vb->n;
	int		 depth = vb->depth, maxdepth = vb->maxdepth, rc = 0;
	uint32_t	 left[VALUE_DEPTH_MAX];

	if (depth > 0)
		memcpy(left, vb->left, depth * sizeof left[0]);
	for (sig = sig_skip(sig); *sig != '\0'; sig = sig_skip(sig)) {
		if ((rc = put_one(vb, &sig, ap, why, whylen)) != 0)
			break;
	}
	if (rc == 0)
		return SPN_OK;
	/* All or nothing: what the signature's first letters wrote goes. */
	vb->len = len;
	vb->n = n;
	vb->depth = depth;
	vb->maxdepth = maxdepth;
	if (depth > 0)
		memcpy(vb->left, left, depth * sizeof left[0]);
	return rc;
}

int
spn_vbuf_put(struct spn_vbuf *vb, const char *sig, ...)
{
	va_list	 ap;
	char	 why[128];
	int	 rc;

	if (vb == NULL || sig == NULL)
		return SPN_EINVAL;
	va_start(ap, sig);
	rc = vbuf_putv(vb, sig, &ap, why, sizeof why);
	va_end(ap);
	return rc;
}

/* Decoding: one walker for the pre-scan (pool NULL) and the build. */
struct walk {
	const uint8_t	*p;
	const uint8_t	*end;
	size_t		 len;		/* of the payload */
	size_t		 nodes;		/* seen */
	size_t		 text;		/* arena bytes needed */
	struct spn_value *pool;		/* building: the nodes */
	size_t		 used;		/* of the pool */
	char		*arena;		/* building: where text goes */
	char		*why;
	size_t		 whylen;
};

static int
walk_bad(struct walk *w, const char *fmt, ...) SPN_PRINTF(2, 3);

static int
walk_bad(struct walk *w, const char *fmt, ...)
{
	va_list	 ap;
	int	 off;

	off = snprintf(w->why, w->whylen, "at byte %zu: ",
	    w->len - (size_t)(w->end - w->p));
	if (off < 0 || (size_t)off >= w->whylen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(w->why + off, w->whylen - off, fmt, ap);
	va_end(ap);
	return -1;
}

/* The next k bytes, or NULL if the payload ends first. */
static const uint8_t *
walk_take(struct walk *w, size_t k)
{
	const uint8_t	*p = w->p;

	if (k > (size_t)(w->end - w->p))
		return NULL;
	w->p += k;
	return p;
}

static uint64_t
walk_be(const uint8_t *p, size_t k)
{
	uint64_t	 x = 0;

	while (k-- > 0)
		x = x << 8 | *p++;
	return x;
}

/* A length or count of k bytes after the type byte. */
static int
walk_count(struct walk *w, size_t k, uint32_t *n)
{
	const uint8_t	*p;

	if ((p = walk_take(w, k)) == NULL)
		return walk_bad(w, "truncated header");
	*n = (uint32_t)walk_be(p, k);
	return 0;
}

static int
walk_text(struct walk *w, struct spn_value *out, int type, uint32_t n)
{
	const uint8_t	*p;

	if ((p = walk_take(w, n)) == NULL)
		return walk_bad(w, "%s of %u bytes, %zu left",
		    type == SPN_T_STR ? "string" : "bytes", n,
		    (size_t)(w->end - w->p));
	if (out == NULL) {
		w->text += (size_t)n + 1;
		return 0;
	}
	out->type = type;
	out->n = n;
	value_copy(w->arena, p, n);
	w->arena[n] = '\0';
	out->v.s = w->arena;
	w->arena += (size_t)n + 1;
	return 0;
}

static int
walk_num(struct walk *w, struct spn_value *out, uint8_t c)
{
	static const uint8_t	 size[] = { 4, 8, 1, 2, 4, 8, 1, 2, 4, 8 };
	const uint8_t		*p;
	uint64_t		 x;
	size_t			 k = size[c - 0xca];
	union {
		uint32_t	 u;
		float		 f;
	} f32;
	union {
		uint64_t	 u;
		double		 d;
	} f64;

	if ((p = walk_take(w, k)) == NULL)
		return walk_bad(w, "truncated number");
	if (out == NULL)
		return 0;
	x = walk_be(p, k);
	if (c == 0xca) {
		f32.u = (uint32_t)x;
		out->type = SPN_T_DOUBLE;
		out->v.d = f32.f;
	} else if (c == 0xcb) {
		f64.u = x;
		out->type = SPN_T_DOUBLE;
		out->v.d = f64.d;
	} else if (c <= 0xcf && x > INT64_MAX) {
		out->type = SPN_T_UINT;
		out->v.u = x;
	} else {
		out->type = SPN_T_INT;
		if (c <= 0xcf)
			out->v.i = (int64_t)x;
		else if (k == 1)
			out->v.i = (int8_t)x;
		else if (k == 2)
			out->v.i = (int16_t)x;
		else if (k == 4)
			out->v.i = (int32_t)x;
		else
			out->v.i = (int64_t)x;
	}
	return 0;
}

static int	walk_one(struct walk *, struct spn_value *, int);

static int
walk_container(struct walk *w, struct spn_value *out, int map, uint32_t n,
    int depth)
{
	size_t			 left = w->end - w->p, k, i;
	struct spn_value	*kids = NULL;

	/* Every element takes at least a byte: the count is checked
	 * against what is left before anything is done for it. */
	k = map ? 2 * (size_t)n : n;
	if (k > left)
		return walk_bad(w, "%s of %u %s in %zu bytes",
		    map ? "map" : "array", n, map ? "pairs" : "elements", left);
	if (depth + 1 > VALUE_DEPTH_MAX)
		return walk_bad(w, "nested deeper than %d", VALUE_DEPTH_MAX);
	if (out != NULL) {
		kids = w->pool + w->used;
		w->used += k;
		out->type = map ? SPN_T_MAP : SPN_T_ARRAY;
		out->n = n;
		out->v.kids = kids;
	}
	for (i = 0; i < k; i++) {
		if (walk_one(w, kids != NULL ? &kids[i] : NULL, depth + 1) != 0)
			return -1;
	}
	return 0;
}

/* A context: u32 id (never 0), then a name of 1 to VALUE_CTX_NAME_MAX
 * bytes without NULs, the body's rest. */
static int
walk_ctx(struct walk *w, struct spn_value *out, const uint8_t *p, uint32_t n)
{
	uint32_t	 id;

	if (n < 5 || n - 4 > VALUE_CTX_NAME_MAX)
		return walk_bad(w, "context of %u bytes", n);
	if ((id = (uint32_t)walk_be(p, 4)) == SPN_CTX_NONE)
		return walk_bad(w, "context 0");
	if (memchr(p + 4, '\0', n - 4) != NULL)
		return walk_bad(w, "context name with a NUL");
	if (out == NULL) {
		w->text += (size_t)n - 4 + 1;
		return 0;
	}
	out->type = SPN_T_CTX;
	out->n = id;
	value_copy(w->arena, p + 4, n - 4);
	w->arena[n - 4] = '\0';
	out->v.s = w->arena;
	w->arena += (size_t)n - 4 + 1;
	return 0;
}

/* A sender names a dynamic handle of a context, and some credit. */
static int
walk_sender(struct walk *w, struct spn_value *out, const uint8_t *p,
    uint32_t n)
{
	uint32_t	 ctx, handle, window;

	if (n != VALUE_SENDER_LEN)
		return walk_bad(w, "sender of %u bytes", n);
	ctx = be32_get(p);
	handle = be32_get(p + 4);
	window = be32_get(p + 8);
	if (ctx == SPN_CTX_NONE || handle < SPN_H_DYNAMIC || window == 0 ||
	    window > CHAN_WINDOW_MAX)
		return walk_bad(w, "sender to %u:%u with a window of %u", ctx,
		    handle, window);
	if (out != NULL) {
		out->type = SPN_T_SENDER;
		out->n = ctx;
		out->v.u = (uint64_t)handle << 32 | window;
	}
	return 0;
}

static int
walk_ext(struct walk *w, struct spn_value *out, uint32_t n)
{
	const uint8_t	*p, *body;
	int8_t		 type;

	if ((p = walk_take(w, 1)) == NULL)
		return walk_bad(w, "truncated extension");
	type = (int8_t)*p;
	if ((body = walk_take(w, n)) == NULL)
		return walk_bad(w, "extension of %u bytes, %zu left", n,
		    (size_t)(w->end - w->p));
	switch (type) {
	case SPN_EXT_CONTEXT:
		return walk_ctx(w, out, body, n);
	case SPN_EXT_SENDER:
		return walk_sender(w, out, body, n);
	case SPN_EXT_ERROR:
	case SPN_EXT_SECRET:
		return walk_bad(w, "extension type %d is not supported yet",
		    type);
	}
	return walk_bad(w, "unknown extension type %d", type);
}

static int
walk_one(struct walk *w, struct spn_value *out, int depth)
{
	const uint8_t	*p;
	uint8_t		 c;
	uint32_t	 n = 0;

	if (++w->nodes > w->len)
		return walk_bad(w, "more values than bytes");
	if ((p = walk_take(w, 1)) == NULL)
		return walk_bad(w, "truncated");
	c = *p;
	if (c <= 0x7f || c >= 0xe0) {
		if (out != NULL) {
			out->type = SPN_T_INT;
			out->v.i = (int8_t)c;
		}
		return 0;
	}
	if (c <= 0x8f)
		return walk_container(w, out, 1, c & 0xf, depth);
	if (c <= 0x9f)
		return walk_container(w, out, 0, c & 0xf, depth);
	if (c <= 0xbf)
		return walk_text(w, out, SPN_T_STR, c & 0x1f);
	switch (c) {
	case 0xc0:
	case 0xc2:
	case 0xc3:
		if (out != NULL) {
			out->type = c == 0xc0 ? SPN_T_NIL : SPN_T_BOOL;
			out->v.b = c == 0xc3;
		}
		return 0;
	case 0xc4:
	case 0xc5:
	case 0xc6:
		if (walk_count(w, 1 << (c - 0xc4), &n) != 0)
			return -1;
		return walk_text(w, out, SPN_T_BYTES, n);
	case 0xc7:
	case 0xc8:
	case 0xc9:
		if (walk_count(w, 1 << (c - 0xc7), &n) != 0)
			return -1;
		return walk_ext(w, out, n);
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		return walk_ext(w, out, 1 << (c - 0xd4));
	case 0xd9:
	case 0xda:
	case 0xdb:
		if (walk_count(w, 1 << (c - 0xd9), &n) != 0)
			return -1;
		return walk_text(w, out, SPN_T_STR, n);
	case 0xdc:
	case 0xdd:
	case 0xde:
	case 0xdf:
		if (walk_count(w, c & 1 ? 4 : 2, &n) != 0)
			return -1;
		return walk_container(w, out, c >= 0xde, n, depth);
	case 0xc1:
		return walk_bad(w, "byte 0xc1");
	}
	return walk_num(w, out, c);
}

int
value_decode(const void *buf, size_t len, struct spn_msg **mp, char *why,
    size_t whylen)
{
	struct walk	 w = { .len = len, .why = why, .whylen = whylen };
	struct spn_msg	*m;
	size_t		 size;
	int		 cached;

	*mp = NULL;
	if (len == 0 || len > VALUE_LEN_MAX) {
		snprintf(why, whylen, "payload of %zu bytes", len);
		return -1;
	}
	w.p = buf;
	w.end = w.p + len;
	if (walk_one(&w, NULL, 0) != 0)
		return -1;
	if (w.p != w.end)
		return walk_bad(&w, "%zu trailing bytes", (size_t)(w.end - w.p));

	/* nodes <= len <= 16 MiB: no overflow. */
	size = offsetof(struct spn_msg, nodes) +
	    w.nodes * sizeof(struct spn_value) + w.text;
	/*
	 * A stream of messages frees as many: from mem.c's cache, whose
	 * blocks round up to a power of two, unless the values are so many
	 * that a block this size would be over 8 times the payload (the
	 * bound above stays about 18 times).
	 */
	cached = size <= 4 * len;
	if ((m = cached ? mem_get(size) : malloc(size)) == NULL) {
		snprintf(why, whylen, "out of memory for %zu bytes", size);
		return -1;
	}
	m->cached = cached;
	w.p = buf;
	w.pool = m->nodes;
	w.used = 1;
	w.arena = (char *)(m->nodes + w.nodes);
	w.nodes = 0;
	if (walk_one(&w, &m->nodes[0], 0) != 0) {
		/* The pre-scan passed the same bytes: cannot happen. */
		spn_msg_free(m);
		return -1;
	}
	m->root = &m->nodes[0];
	*mp = m;
	return 0;
}

void
value_msg_root(struct spn_msg *m, const struct spn_value *v)
{
	m->root = v;
}

const struct spn_value *
spn_msg_value(const struct spn_msg *m)
{
	return m != NULL ? m->root : NULL;
}

void
spn_msg_free(struct spn_msg *m)
{
	if (m != NULL && m->cached)
		mem_put(m);
	else
		free(m);
}

int
spn_value_type(const struct spn_value *v)
{
	return v != NULL ? v->type : -1;
}

int
spn_value_bool(const struct spn_value *v, int *b)
{
	if (v == NULL || v->type != SPN_T_BOOL)
		return SPN_EINVAL;
	*b = v->v.b;
	return SPN_OK;
}

int
spn_value_int(const struct spn_value *v, int64_t *i)
{
	if (v == NULL || v->type != SPN_T_INT)
		return SPN_EINVAL;
	*i = v->v.i;
	return SPN_OK;
}

int
spn_value_uint(const struct spn_value *v, uint64_t *u)
{
	if (v != NULL && v->type == SPN_T_INT && v->v.i >= 0)
		*u = (uint64_t)v->v.i;
	else if (v != NULL && v->type == SPN_T_UINT)
		*u = v->v.u;
	else
		return SPN_EINVAL;
	return SPN_OK;
}

int
spn_value_double(const struct spn_value *v, double *d)
{
	if (v == NULL || v->type != SPN_T_DOUBLE)
		return SPN_EINVAL;
	*d = v->v.d;
	return SPN_OK;
}

const char *
spn_value_str(const struct spn_value *v, size_t *len)
{
	if (v == NULL || v->type != SPN_T_STR)
		return NULL;
	if (len != NULL)
		*len = v->n;
	return v->v.s;
}

const void *
spn_value_bytes(const struct spn_value *v, size_t *len)
{
	if (v == NULL || v->type != SPN_T_BYTES)
		return NULL;
	if (len != NULL)
		*len = v->n;
	return v->v.s;
}

size_t
spn_value_len(const struct spn_value *v)
{
	if (v == NULL || (v->type != SPN_T_ARRAY && v->type != SPN_T_MAP))
		return 0;
	return v->n;
}

const struct spn_value *
spn_value_at(const struct spn_value *v, size_t i)
{
	if (v == NULL || i >= spn_value_len(v))
		return NULL;
	return v->type == SPN_T_MAP ? &v->v.kids[2 * i + 1] : &v->v.kids[i];
}

const struct spn_value *
spn_value_key(const struct spn_value *v, size_t i)
{
	if (v == NULL || v->type != SPN_T_MAP || i >= v->n)
		return NULL;
	return &v->v.kids[2 * i];
}

const struct spn_value *
spn_value_get(const struct spn_value *v, const char *key)
{
	const struct spn_value	*k;
	size_t			 len;

	if (v == NULL || v->type != SPN_T_MAP || key == NULL)
		return NULL;
	len = strlen(key);
	for (size_t i = 0; i < v->n; i++) {
		k = &v->v.kids[2 * i];
		if (k->type == SPN_T_STR && k->n == len &&
		    memcmp(k->v.s, key, len) == 0)
			return &v->v.kids[2 * i + 1];
	}
	return NULL;
}

/* A context's id and name (ctx.c makes a struct spn_ctx of them). */
int
value_ctx(const struct spn_value *v, uint32_t *id, const char **name)
{
	if (v == NULL || v->type != SPN_T_CTX)
		return -1;
	*id = v->n;
	*name = v->v.s;
	return 0;
}

const char *
spn_arg_str(const struct spn_value *a, size_t i)
{
	return spn_value_str(spn_value_at(a, i), NULL);
}

int64_t
spn_arg_int(const struct spn_value *a, size_t i)
{
	int64_t	 x;

	return spn_value_int(spn_value_at(a, i), &x) == SPN_OK ? x : 0;
}

uint64_t
spn_arg_uint(const struct spn_value *a, size_t i)
{
	uint64_t	 x;

	return spn_value_uint(spn_value_at(a, i), &x) == SPN_OK ? x : 0;
}

int
spn_arg_bool(const struct spn_value *a, size_t i)
{
	int	 x;

	return spn_value_bool(spn_value_at(a, i), &x) == SPN_OK ? x : 0;
}

double
spn_arg_double(const struct spn_value *a, size_t i)
{
	double	 x;

	return spn_value_double(spn_value_at(a, i), &x) == SPN_OK ? x : 0;
}

const void *
spn_arg_bytes(const struct spn_value *a, size_t i, size_t *len)
{
	return spn_value_bytes(spn_value_at(a, i), len);
}

static const char *
value_type_name(const struct spn_value *v)
{
	static const char	*names[] = { "nil", "bool", "int", "uint",
	    "double", "string", "bytes", "array", "map", "context",
	    "sender" };

	return names[v->type];
}

static int	match_one(const struct spn_value *, const char **, int, char *,
		    size_t);

/* 'aX': an array whose every element fits X. */
static int
match_array(const struct spn_value *v, const char **sp, int depth, char *why,
    size_t whylen)
{
	const char	*s = *sp, *x;
	char		 sub[96];
	size_t		 i;

	if (s[1] == '\0' || strchr(VALUE_ARRAY_LETTERS, s[1]) == NULL) {
		snprintf(why, whylen, "'a' takes one of " VALUE_ARRAY_LETTERS
		    ", not '%c'", s[1] != '\0' ? s[1] : ' ');
		return -1;
	}
	if (v->type != SPN_T_ARRAY) {
		snprintf(why, whylen, "expected a%c, got %s", s[1],
		    value_type_name(v));
		return -1;
	}
	for (i = 0; i < v->n; i++) {
		x = s + 1;
		if (match_one(&v->v.kids[i], &x, depth + 1, sub,
		    sizeof sub) != 0) {
			snprintf(why, whylen, "a%c element %zu: %s", s[1],
			    i + 1, sub);
			return -1;
		}
	}
	*sp = s + 2;
	return 0;
}

/* Does v fit the element of the signature at *sp? */
static int
match_one(const struct spn_value *v, const char **sp, int depth, char *why,
    size_t whylen)
{
	const char	*s = *sp, *end;
	size_t		 n, i;
	int		 ok, map;

	switch (*s) {
	case 'b':
		ok = v->type == SPN_T_BOOL;
		break;
	case 'i':
		ok = v->type == SPN_T_INT;
		break;
	case 'u':
		ok = v->type == SPN_T_UINT ||
		    (v->type == SPN_T_INT && v->v.i >= 0);
		break;
	case 'd':
		ok = v->type == SPN_T_DOUBLE;
		break;
	case 's':
		ok = v->type == SPN_T_STR;
		break;
	case 'y':
		ok = v->type == SPN_T_BYTES;
		break;
	case 'n':
		ok = v->type == SPN_T_NIL;
		break;
	case 'C':
		ok = v->type == SPN_T_CTX;
		break;
	case 'S':
		ok = v->type == SPN_T_SENDER;
		break;
	case 'v':
		ok = 1;
		break;
	case 'a':
		return match_array(v, sp, depth, why, whylen);
	case '[':
	case '{':
		map = *s == '{';
		if (sig_group(s + 1, map ? '}' : ']', depth + 1, &n,
		    &end) != 0) {
			snprintf(why, whylen, "unbalanced %c in signature",
			    *s);
			return -1;
		}
		if (v->type != (map ? SPN_T_MAP : SPN_T_ARRAY) ||
		    (map ? 2 * (size_t)v->n : v->n) != n) {
			snprintf(why, whylen, "expected %.*s, got %s of %u",
			    (int)(end + 1 - s), s, value_type_name(v), v->n);
			return -1;
		}
		s = sig_skip(s + 1);
		for (i = 0; i < n; i++, s = sig_skip(s)) {
			if (match_one(&v->v.kids[i], &s, depth + 1, why,
			    whylen) != 0)
				return -1;
		}
		*sp = end + 1;
		return 0;
	default:
		snprintf(why, whylen, "bad type letter '%c' in signature", *s);
		return -1;
	}
	if (!ok) {
		snprintf(why, whylen, "expected %c, got %s", *s,
		    value_type_name(v));
		return -1;
	}
	*sp = s + 1;
	return 0;
}

int
value_sig_match(const struct spn_value *a, const char *sig, char *why,
    size_t whylen)
{
	size_t	 i;
	char	 sub[128];

	if (a == NULL || a->type != SPN_T_ARRAY) {
		snprintf(why, whylen, "arguments are not an array");
		return -1;
	}
	sig = sig_skip(sig);
	for (i = 0; *sig != '\0' && strncmp(sig, "->", 2) != 0; i++) {
		if (i == a->n) {
			snprintf(why, whylen, "%u values, the signature "
			    "takes more", a->n);
			return -1;
		}
		if (match_one(&a->v.kids[i], &sig, 0, sub, sizeof sub) != 0) {
			snprintf(why, whylen, "value %zu: %s", i + 1, sub);
			return -1;
		}
		sig = sig_skip(sig);
	}
	if (i != a->n) {
		snprintf(why, whylen, "%u values, signature takes %zu", a->n,
		    i);
		return -1;
	}
	return 0;
}

/* Where a sender value points: SPN_OK, or SPN_EINVAL for another type. */
int
value_sender(const struct spn_value *v, uint32_t *ctx, uint32_t *handle,
    uint32_t *window)
{
	if (v == NULL || v->type != SPN_T_SENDER)
		return SPN_EINVAL;
	*ctx = v->n;
	*handle = (uint32_t)(v->v.u >> 32);
	*window = (uint32_t)v->v.u;
	return SPN_OK;
}
