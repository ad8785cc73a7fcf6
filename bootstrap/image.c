/* gzip helpers for the agent image (zlib, gzip framing for gzip -dc). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bootstrap.h"

int
boot_image_inflate(const uint8_t *in, size_t n, uint8_t **out, size_t *outn)
{
	z_stream z;
	size_t cap = n * 4 + 4096;
	uint8_t *buf = xmalloc(cap);
	int rc;

	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 31) != Z_OK) {
		free(buf);
		return -1;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = n;
	do {
		if (z.total_out == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		z.next_out = buf + z.total_out;
		z.avail_out = cap - z.total_out;
		rc = inflate(&z, Z_NO_FLUSH);
	} while (rc == Z_OK);
	*outn = z.total_out;
	inflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

int
boot_image_deflate(const uint8_t *in, size_t n, uint8_t **out, size_t *outn)
{
	z_stream z;
	size_t cap;
	uint8_t *buf;
	int rc;

	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return -1;
	cap = deflateBound(&z, n) + 64;
	buf = xmalloc(cap);
	z.next_in = (Bytef *)in;
	z.avail_in = n;
	z.next_out = buf;
	z.avail_out = cap;
	rc = deflate(&z, Z_FINISH);
	*outn = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}
