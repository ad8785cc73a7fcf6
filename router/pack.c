/*
 * Payload packing: u32 big-endian, strings as u32 length + bytes (no NUL
 * inside), string vectors as u32 count + strings.  Readers never trust a
 * length: every read is bounds-checked and sets err instead of overrunning.
 */
#include <stdlib.h>
#include <string.h>

#include "router.h"

#define UPK_MAX_STRV	65536

void
pk_init(struct pk *pk)
{
	memset(pk, 0, sizeof *pk);
}

/* Zeroed, here and when it grows: a pk may carry a password. */
void
pk_free(struct pk *pk)
{
	if (pk->buf != NULL)
		explicit_bzero(pk->buf, pk->len);
	free(pk->buf);
	pk_init(pk);
}

void
pk_bytes(struct pk *pk, const void *p, size_t n)
{
	if (pk->len + n > pk->cap) {
		pk->cap = (pk->len + n) * 2 + 64;
		pk->buf = xrealloc_wiped(pk->buf, pk->len, pk->cap);
	}
	if (n != 0)
		memcpy(pk->buf + pk->len, p, n);
	pk->len += n;
}

void
pk_u32(struct pk *pk, uint32_t v)
{
	uint8_t b[4];

	be32_put(b, v);
	pk_bytes(pk, b, 4);
}

void
pk_str(struct pk *pk, const char *s)
{
	size_t n = s == NULL ? 0 : strlen(s);

	pk_u32(pk, n);
	pk_bytes(pk, s, n);
}

void
pk_strv(struct pk *pk, char *const *v)
{
	uint32_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	pk_u32(pk, n);
	for (uint32_t i = 0; i < n; i++)
		pk_str(pk, v[i]);
}

void
upk_init(struct upk *u, const void *p, size_t n)
{
	u->p = p;
	u->left = n;
	u->err = 0;
}

uint32_t
upk_u32(struct upk *u)
{
	uint32_t v;

	if (u->err || u->left < 4) {
		u->err = 1;
		return 0;
	}
	v = be32_get(u->p);
	u->p += 4;
	u->left -= 4;
	return v;
}

/* Returns a malloc'd NUL-terminated copy, or NULL with err set. */
char *
upk_str(struct upk *u)
{
	uint32_t n = upk_u32(u);
	char *s;

	if (u->err || n > u->left || memchr(u->p, '\0', n) != NULL) {
		u->err = 1;
		return NULL;
	}
	s = xmalloc((size_t)n + 1);
	memcpy(s, u->p, n);
	s[n] = '\0';
	u->p += n;
	u->left -= n;
	return s;
}

char **
upk_strv(struct upk *u)
{
	uint32_t n = upk_u32(u);
	char **v;

	/* Each string costs at least 4 bytes: reject counts that cannot fit. */
	if (u->err || n > UPK_MAX_STRV || n > u->left / 4) {
		u->err = 1;
		return NULL;
	}
	v = xcalloc((size_t)n + 1, sizeof *v);
	for (uint32_t i = 0; i < n; i++) {
		if ((v[i] = upk_str(u)) == NULL) {
			strv_free(v);
			return NULL;
		}
	}
	return v;
}

/* Append s (ours now) to a NULL-terminated vector of *np entries. */
void
strv_push(char ***vp, size_t *np, char *s)
{
	*vp = xrealloc(*vp, (*np + 2) * sizeof **vp);
	(*vp)[(*np)++] = s;
	(*vp)[*np] = NULL;
}

void
strv_free(char **v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}
