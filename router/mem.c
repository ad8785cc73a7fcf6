/*
 * libevent's buffer memory.  Both glibc and musl hand big blocks to mmap
 * and give them back on free, so a stream that allocates and frees a
 * 256 KiB buffer chain per read pays an mmap, page faults and a munmap
 * every time.  Keep a few freed big blocks per size class instead.
 *
 * libevent calls these from every thread that touches a buffer (the
 * library's callers encode and free on their own threads): the lists
 * have a lock, held for a few loads and stores, never across malloc.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

#define MEM_MIN_CLASS	12	/* 4 KiB: smaller blocks go to malloc */
#define MEM_MAX_CLASS	22	/* 4 MiB */
#define MEM_KEEP	4	/* blocks kept per class at least, ... */
#define MEM_KEEP_CLASS	(1024 * 1024)	/* ... more up to this much, ... */
#define MEM_KEEP_BYTES	(4 * 1024 * 1024)	/* ... and in all */

struct mem_hdr {
	size_t		 size;	/* usable bytes */
	int		 cls;	/* size class, or 0 for a plain malloc block */
	void		*next;	/* free-list link while cached */
} __attribute__((aligned(16)));	/* keep malloc's alignment for the user */

static struct mem_hdr	*mem_free_list[MEM_MAX_CLASS + 1];
static int		 mem_free_count[MEM_MAX_CLASS + 1];
static size_t		 mem_kept;
static pthread_mutex_t	 mem_lock = PTHREAD_MUTEX_INITIALIZER;

static int
mem_class(size_t n)
{
	int c = MEM_MIN_CLASS;

	while (c <= MEM_MAX_CLASS && ((size_t)1 << c) < n)
		c++;
	return c;
}

static void *
mem_malloc(size_t n)
{
	struct mem_hdr *h;
	int c = mem_class(n);

	if (n < ((size_t)1 << MEM_MIN_CLASS) / 2 || c > MEM_MAX_CLASS) {
		if ((h = malloc(sizeof *h + n)) == NULL)
			return NULL;
		h->size = n;
		h->cls = 0;
		return h + 1;
	}
	pthread_mutex_lock(&mem_lock);
	if ((h = mem_free_list[c]) != NULL) {
		mem_free_list[c] = h->next;
		mem_free_count[c]--;
		mem_kept -= h->size;
	}
	pthread_mutex_unlock(&mem_lock);
	if (h != NULL)
		return h + 1;
	if ((h = malloc(sizeof *h + ((size_t)1 << c))) == NULL)
		return NULL;
	h->size = (size_t)1 << c;
	h->cls = c;
	return h + 1;
}

static void
mem_free(void *p)
{
	struct mem_hdr *h;
	int c;

	if (p == NULL)
		return;
	h = (struct mem_hdr *)p - 1;
	if ((c = h->cls) == 0) {
		free(h);
		return;
	}
	pthread_mutex_lock(&mem_lock);
	if ((mem_free_count[c] < MEM_KEEP ||
	    (mem_free_count[c] + 1) * h->size <= MEM_KEEP_CLASS) &&
	    mem_kept + h->size <= MEM_KEEP_BYTES) {
		h->next = mem_free_list[c];
		mem_free_list[c] = h;
		mem_free_count[c]++;
		mem_kept += h->size;
		h = NULL;
	}
	pthread_mutex_unlock(&mem_lock);
	free(h);
}

static void *
mem_realloc(void *p, size_t n)
{
	struct mem_hdr *h;
	void *q;

	if (p == NULL)
		return mem_malloc(n);
	h = (struct mem_hdr *)p - 1;
	if (h->cls == 0 && n < ((size_t)1 << MEM_MIN_CLASS) / 2) {
		if ((h = realloc(h, sizeof *h + n)) == NULL)
			return NULL;
		h->size = n;
		return h + 1;
	}
	if (h->cls != 0 && h->size >= n)
		return p;
	if ((q = mem_malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, h->size < n ? h->size : n);
	mem_free(p);
	return q;
}

/*
 * The same cache for libspindle's own big blocks (messages queued and
 * decoded): musl gives a freed block of a few pages back at once
 * (munmap, MADV_FREE), which costs a TLB shootdown across every thread
 * of the process, per message.  NULL when out of memory.
 */
void *
mem_get(size_t n)
{
	return mem_malloc(n);
}

void
mem_put(void *p)
{
	mem_free(p);
}

/* libevent's internal errors exit() unless told otherwise: not ours to do
 * in a program that links us. */
static void
mem_event_fatal(int err)
{
	fatal("libevent: fatal error %d", err);
}

/*
 * libevent's process-wide setup: its big blocks from the cache above,
 * its fatal errors ending in abort.  Call before any libevent object
 * exists (libevent's rule), once.
 */
void
mem_init(void)
{
	event_set_mem_functions(mem_malloc, mem_realloc, mem_free);
	event_set_fatal_callback(mem_event_fatal);
}
