/*
 * An agent's image is itself: /proc/self/exe, read once.  Sending it on
 * means each link carries the image once, wherever the master is.
 */
#include <stdlib.h>

#include "bootstrap.h"

int
boot_image_own(int compressed, const uint8_t **p, size_t *n)
{
	static uint8_t *raw, *gz;
	static size_t rawlen, gzlen;

	if (raw == NULL &&
	    boot_image_read("/proc/self/exe", &raw, &rawlen) != 0)
		return -1;
	if (compressed && gz == NULL &&
	    boot_image_deflate(raw, rawlen, &gz, &gzlen) != 0)
		return -1;
	*p = compressed ? gz : raw;
	*n = compressed ? gzlen : rawlen;
	return 0;
}
