/*
 * Passwords in memory.  A process that holds one is not dumpable (no core
 * file, no ptrace or /proc/PID/mem for other processes of its user).
 * Every buffer a password passes through is wiped before it is freed or
 * reused; a copy kept for later (a daemon route's, for reconnecting)
 * lives in pages of their own, locked, left out of core dumps and wiped
 * in children, never in the heap.  Kept copies may be taken and given
 * back from any thread: the areas have a lock.
 */
#include <sys/mman.h>
#include <sys/prctl.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router.h"

#define SECRET_AREA	4096
#define SECRET_UNIT	16
#define SECRET_UNITS	(SECRET_AREA / SECRET_UNIT)

struct secret_area {
	uint8_t			*base;
	size_t			 maplen;
	uint64_t		 used[SECRET_UNITS / 64];	/* unit bitmap */
	int			 nused;
	struct secret_area	*next;
};

static struct secret_area	*secret_areas;
static pthread_mutex_t		 secret_lock = PTHREAD_MUTEX_INITIALIZER;

/* From now on: no core dumps, no reading of our memory by our user. */
void
secret_nodump(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("cannot make this process undumpable: %s",
		    strerror(errno));
}

/* Like xrealloc, but the old block is wiped: it may have held a secret. */
void *
xrealloc_wiped(void *p, size_t oldlen, size_t n)
{
	void *q = xmalloc(n);

	if (p != NULL) {
		memcpy(q, p, oldlen < n ? oldlen : n);
		explicit_bzero(p, oldlen);
		free(p);
	}
	return q;
}

static void
secret_block_free(const void *data, size_t len, void *arg)
{
	(void)arg;
	explicit_bzero((void *)data, len);
	free((void *)data);
}

/* Append a copy of p that is wiped when b lets it go (written, drained,
 * freed): libevent frees its own blocks without wiping them. */
void
evbuf_add_secret(struct evbuffer *b, const void *p, size_t n)
{
	void *copy = memcpy(xmalloc(n == 0 ? 1 : n), p, n);

	if (evbuffer_add_reference(b, copy, n, secret_block_free, NULL) != 0)
		fatal("out of memory");
}

/* Move n bytes from one buffer to another as above; their place in
 * from is wiped before libevent frees or reuses it. */
void
evbuf_move_secret(struct evbuffer *from, struct evbuffer *to, size_t n)
{
	struct evbuffer_iovec *v;
	uint8_t *copy = xmalloc(n == 0 ? 1 : n);
	size_t left = n, k;
	int nv;

	evbuffer_copyout(from, copy, n);
	nv = evbuffer_peek(from, n, NULL, NULL, 0);
	v = xcalloc(nv, sizeof *v);
	nv = evbuffer_peek(from, n, NULL, v, nv);
	for (int i = 0; i < nv && left > 0; i++) {
		k = v[i].iov_len < left ? v[i].iov_len : left;
		explicit_bzero(v[i].iov_base, k);
		left -= k;
	}
	free(v);
	evbuffer_drain(from, n);
	if (evbuffer_add_reference(to, copy, n, secret_block_free, NULL) != 0)
		fatal("out of memory");
}

static struct secret_area *
secret_area_new(void)
{
	struct secret_area *a = xcalloc(1, sizeof *a);
	long pg = sysconf(_SC_PAGESIZE);
	void *p;

	a->maplen = pg > SECRET_AREA ? (size_t)pg : SECRET_AREA;
	p = mmap(NULL, a->maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("cannot map memory for passwords: %s", strerror(errno));
	a->base = p;
	if (madvise(p, a->maplen, MADV_DONTDUMP) != 0)
		log_warn("cannot keep passwords out of core dumps: %s",
		    strerror(errno));
#ifdef MADV_WIPEONFORK
	/* The children we fork (ssh, sudo) start without them. */
	madvise(p, a->maplen, MADV_WIPEONFORK);
#endif
	/* Never in swap; RLIMIT_MEMLOCK may say no (it is 64 KiB or more). */
	if (mlock(p, a->maplen) != 0)
		log_warn("cannot lock memory for passwords: %s (they may be "
		    "swapped out)", strerror(errno));
	a->next = secret_areas;
	secret_areas = a;
	return a;
}

/* The first of k free units in a, or -1. */
static int
secret_area_find(struct secret_area *a, int k)
{
	int run = 0;

	for (int i = 0; i < SECRET_UNITS; i++) {
		if (a->used[i / 64] & ((uint64_t)1 << (i % 64)))
			run = 0;
		else if (++run == k)
			return i - k + 1;
	}
	return -1;
}

static void
secret_area_mark(struct secret_area *a, int first, int k, int on)
{
	for (int i = first; i < first + k; i++) {
		if (on)
			a->used[i / 64] |= (uint64_t)1 << (i % 64);
		else
			a->used[i / 64] &= ~((uint64_t)1 << (i % 64));
	}
	a->nused += on ? k : -k;
}

/* A copy of s (at most SECRET_MAX bytes, else NULL) to keep for a while:
 * in locked memory, out of core dumps.  Give it back with secret_drop. */
char *
secret_keep(const char *s)
{
	size_t n = strlen(s) + 1;
	int k = (n + SECRET_UNIT - 1) / SECRET_UNIT, first = -1;
	struct secret_area *a;

	if (n > SECRET_MAX + 1)
		return NULL;
	pthread_mutex_lock(&secret_lock);
	for (a = secret_areas; a != NULL; a = a->next) {
		if ((first = secret_area_find(a, k)) >= 0)
			break;
	}
	if (a == NULL) {
		a = secret_area_new();
		first = 0;
	}
	secret_area_mark(a, first, k, 1);
	pthread_mutex_unlock(&secret_lock);
	return memcpy(a->base + first * SECRET_UNIT, s, n);
}

/* Wipe a copy from secret_keep (unchanged since) and give back its place. */
void
secret_drop(char *s)
{
	struct secret_area *a, **ap;
	size_t n;
	int first, k;

	if (s == NULL)
		return;
	pthread_mutex_lock(&secret_lock);
	for (ap = &secret_areas; (a = *ap) != NULL; ap = &a->next) {
		if ((uint8_t *)s >= a->base &&
		    (uint8_t *)s < a->base + SECRET_AREA)
			break;
	}
	if (a == NULL)
		fatal("secret_drop: not a kept secret");
	n = strlen(s) + 1;
	first = ((uint8_t *)s - a->base) / SECRET_UNIT;
	k = (n + SECRET_UNIT - 1) / SECRET_UNIT;
	explicit_bzero(s, n);
	secret_area_mark(a, first, k, 0);
	if (a->nused == 0) {
		*ap = a->next;
		munmap(a->base, a->maplen);
		free(a);
	}
	pthread_mutex_unlock(&secret_lock);
}
