/*
 * The agent image a child gets: the binary's own (boot_image_own(), one
 * per binary), or one named at run time (boot_image_set()), and gzip
 * helpers for it (zlib, gzip framing for gzip -dc).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* An image bigger than this is no agent (and would cross every link). */
#define IMAGE_MAX	(64 << 20)

/* The image named by boot_image_set(): set before the loop starts, read
 * only after. */
static uint8_t	*image_raw, *image_gz;
static size_t	 image_rawlen, image_gzlen;

/* A whole file, read once; -1 with errno set. */
int
boot_image_read(const char *path, uint8_t **out, size_t *outn)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;
	size_t cap = 512 * 1024, len = 0;
	uint8_t *buf;
	ssize_t n;

	if (fd < 0)
		return -1;
	buf = xmalloc(cap);
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += n;
		if (len == cap && cap >= IMAGE_MAX) {
			n = -1;
			errno = EFBIG;
			break;
		}
		if (len == cap)
			buf = xrealloc(buf, cap *= 2);
	}
	e = errno;
	close(fd);
	if (n < 0 || len == 0) {
		free(buf);
		errno = n < 0 ? e : ENOEXEC;
		return -1;
	}
	*out = buf;
	*outn = len;
	return 0;
}

/*
 * Only what the kernel runs without a program interpreter can be exec'd
 * from memory on a machine with no libraries of ours: an ELF executable
 * of our class and machine with no PT_INTERP.  NULL, or what it is.
 */
const char *
boot_image_check(const uint8_t *img, size_t len)
{
	ElfW(Ehdr) eh, self;
	ElfW(Phdr) ph;
	size_t i;
	int fd;

	if (len < sizeof eh || memcmp(img, ELFMAG, SELFMAG) != 0)
		return "not an ELF file";
	memcpy(&eh, img, sizeof eh);
	/* Our own header, to compare with (else the exec will tell). */
	if ((fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) >= 0) {
		if (read(fd, &self, sizeof self) == (ssize_t)sizeof self &&
		    (eh.e_ident[EI_CLASS] != self.e_ident[EI_CLASS] ||
		    eh.e_ident[EI_DATA] != self.e_ident[EI_DATA] ||
		    eh.e_machine != self.e_machine)) {
			close(fd);
			return "built for another machine than this program";
		}
		close(fd);
	}
	if (eh.e_phentsize != sizeof ph || eh.e_phoff > len ||
	    (len - eh.e_phoff) / sizeof ph < eh.e_phnum)
		return "a malformed ELF file";
	for (i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, img + eh.e_phoff + i * sizeof ph, sizeof ph);
		if (ph.p_type == PT_INTERP)
			return "dynamically linked (spindle-cc builds it static)";
	}
	if (eh.e_type != ET_EXEC)
		return "not a static executable (spindle-cc builds one)";
	return NULL;
}

/*
 * Send the image at path to children instead of this binary's own, for
 * a program that cannot be static itself (a sanitizer build): read,
 * checked and gzip'd once, here.  -1 with errno set and the reason in
 * why: EINVAL for a file that is no static image.
 */
int
boot_image_set(const char *path, char *why, size_t whylen)
{
	const char *bad;
	uint8_t *raw, *gz;
	size_t rawlen, gzlen;

	if (boot_image_read(path, &raw, &rawlen) != 0) {
		snprintf(why, whylen, "image %s: %s", path, strerror(errno));
		return -1;
	}
	if ((bad = boot_image_check(raw, rawlen)) != NULL) {
		snprintf(why, whylen, "image %s: %s", path, bad);
		free(raw);
		errno = EINVAL;
		return -1;
	}
	if (boot_image_deflate(raw, rawlen, &gz, &gzlen) != 0) {
		snprintf(why, whylen, "image %s: cannot compress it", path);
		free(raw);
		errno = ENOMEM;
		return -1;
	}
	free(image_raw);
	free(image_gz);
	image_raw = raw;
	image_rawlen = rawlen;
	image_gz = gz;
	image_gzlen = gzlen;
	return 0;
}

int
boot_image(int compressed, const uint8_t **p, size_t *n)
{
	if (image_raw == NULL)
		return boot_image_own(compressed, p, n);
	*p = compressed ? image_gz : image_raw;
	*n = compressed ? image_gzlen : image_rawlen;
	return 0;
}
