/*
 * libFuzzer target for libspindle's values (lib/value.c, lib/callmsg.c),
 * what a context reads from any peer in a CALL or REPLY:
 *
 *  1. value_decode (the bounded pre-scan, then the tree): whatever it
 *     accepts is encoded again (the letter v) and must decode to the same
 *     bytes once more; whatever it refuses says why;
 *  2. value_sig_match against a signature the input's last bytes choose;
 *  3. callmsg_unpack and reply_unpack, whose error fields must come back
 *     NUL-terminated within their sizes.
 *
 * Run with -malloc_limit_mb=1 (tools/fuzz does): inputs are at most 4 KiB
 * and a decoded message takes at most about 18 times its payload, while a
 * decoder that trusted a declared count would allocate far more.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/lib.h"

static struct spn_vbuf	*enc;

/* Encode v again; the bytes must decode, and encode the same. */
static void
fuzz_reencode(const struct spn_value *v)
{
	struct spn_vbuf	*again;
	struct spn_msg	*m;
	const uint8_t	*a, *b;
	size_t		 alen, blen;
	char		 why[256];

	vbuf_reset(enc);
	if (spn_vbuf_put(enc, "v", v) != SPN_OK)
		abort();
	a = vbuf_data(enc, &alen);
	if (value_decode(a, alen, &m, why, sizeof why) != 0)
		abort();
	if ((again = vbuf_new()) == NULL)
		abort();
	if (spn_vbuf_put(again, "v", spn_msg_value(m)) != SPN_OK)
		abort();
	b = vbuf_data(again, &blen);
	if (alen != blen || memcmp(a, b, alen) != 0)
		abort();
	vbuf_free(again);
	spn_msg_free(m);
}

static void
fuzz_sig(const struct spn_value *v, const uint8_t *d, size_t n)
{
	static const char	 letters[] = "biudsynvCSa[]{},";
	char			 sig[17], why[256];
	size_t			 i, k = n < 16 ? n : 16;

	for (i = 0; i < k; i++)
		sig[i] = letters[d[n - k + i] % (sizeof letters - 1)];
	sig[k] = '\0';
	why[0] = '\0';
	if (value_sig_match(v, sig, why, sizeof why) != 0 && why[0] == '\0')
		abort();
}

static void
fuzz_error(const struct spn_error *e)
{
	if (strnlen(e->context, sizeof e->context) == sizeof e->context ||
	    strnlen(e->where, sizeof e->where) == sizeof e->where ||
	    strnlen(e->message, sizeof e->message) == sizeof e->message)
		abort();
	if (e->code <= SPN_OK || e->code > SPN_ESYS)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spn_msg		*m;
	struct callmsg		 c;
	struct spn_error	 e;
	char			 why[256];
	int			 rc;

	if (enc == NULL && (enc = vbuf_new()) == NULL)
		abort();

	why[0] = '\0';
	if (value_decode(data, size, &m, why, sizeof why) == 0) {
		fuzz_reencode(spn_msg_value(m));
		fuzz_sig(spn_msg_value(m), data, size);
		spn_msg_free(m);
	} else if (why[0] == '\0' || m != NULL)
		abort();

	why[0] = '\0';
	if (callmsg_unpack(data, size, &m, &c, why, sizeof why) == 0) {
		if (c.fn == NULL || c.sig == NULL ||
		    spn_value_type(c.args) != SPN_T_ARRAY ||
		    spn_msg_value(m) != c.args)
			abort();
		fuzz_sig(c.args, (const uint8_t *)c.sig, strlen(c.sig));
		spn_msg_free(m);
	} else if (why[0] == '\0' || m != NULL)
		abort();

	memset(&e, 0xff, sizeof e);
	rc = reply_unpack(data, size, &m, &e);
	if (rc == SPN_OK) {
		if (spn_value_type(spn_msg_value(m)) != SPN_T_ARRAY)
			abort();
		spn_msg_free(m);
	} else {
		if (m != NULL || rc != e.code)
			abort();
		fuzz_error(&e);
	}
	return 0;
}
