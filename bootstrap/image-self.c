/*
 * An agent's image is itself: /proc/self/exe, read once.  Sending it on
 * means each link carries the image once, wherever the master is.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "bootstrap.h"

static int
image_read_self(uint8_t **out, size_t *outn)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	size_t cap = 512 * 1024, len = 0;
	uint8_t *buf;
	ssize_t n;

	if (fd < 0)
		return -1;
	buf = xmalloc(cap);
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += n;
		if (len == cap)
			buf = xrealloc(buf, cap *= 2);
	}
	close(fd);
	if (n < 0 || len == 0) {
		free(buf);
		return -1;
	}
	*out = buf;
	*outn = len;
	return 0;
}

int
boot_image(int compressed, const uint8_t **p, size_t *n)
{
	static uint8_t *raw, *gz;
	static size_t rawlen, gzlen;

	if (raw == NULL && image_read_self(&raw, &rawlen) != 0)
		return -1;
	if (compressed && gz == NULL &&
	    boot_image_deflate(raw, rawlen, &gz, &gzlen) != 0)
		return -1;
	*p = compressed ? gz : raw;
	*n = compressed ? gzlen : rawlen;
	return 0;
}
