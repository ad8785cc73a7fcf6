/* Open-addressing hash map from uint32 keys to pointers (linear probing). */
#include <stdlib.h>

#include "router.h"

struct slot {
	uint32_t	 key;
	int		 used;
	void		*val;
};

struct map {
	struct slot	*slots;
	size_t		 cap;	/* power of two */
	size_t		 count;
};

static size_t
map_hash(uint32_t k, size_t cap)
{
	return (k * 2654435761u) & (cap - 1);
}

struct map *
map_new(void)
{
	struct map *m = xcalloc(1, sizeof *m);

	m->cap = 16;
	m->slots = xcalloc(m->cap, sizeof *m->slots);
	return m;
}

void
map_free(struct map *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

static struct slot *
map_find(struct map *m, uint32_t k)
{
	for (size_t i = map_hash(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i].used || m->slots[i].key == k)
			return &m->slots[i];
	}
}

void *
map_get(struct map *m, uint32_t k)
{
	struct slot *s = map_find(m, k);

	return s->used ? s->val : NULL;
}

static void
map_grow(struct map *m)
{
	struct slot *old = m->slots;
	size_t oldcap = m->cap;

	m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof *m->slots);
	m->count = 0;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].used)
			map_put(m, old[i].key, old[i].val);
	}
	free(old);
}

/* Returns 1 if the key was new, 0 if an existing value was replaced. */
int
map_put(struct map *m, uint32_t k, void *v)
{
	struct slot *s;

	if ((m->count + 1) * 4 > m->cap * 3)
		map_grow(m);
	s = map_find(m, k);
	s->val = v;
	if (s->used)
		return 0;
	s->used = 1;
	s->key = k;
	m->count++;
	return 1;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
void *
map_del(struct map *m, uint32_t k)
{
	struct slot *s = map_find(m, k);
	size_t i, j, h;
	void *v;

	if (!s->used)
		return NULL;
	v = s->val;
	i = s - m->slots;
	for (j = (i + 1) & (m->cap - 1); m->slots[j].used;
	    j = (j + 1) & (m->cap - 1)) {
		h = map_hash(m->slots[j].key, m->cap);
		if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].used = 0;
	m->slots[i].val = NULL;
	m->count--;
	return v;
}

size_t
map_count(struct map *m)
{
	return m->count;
}

/* Snapshot the keys first so callbacks may delete entries safely. */
void
map_each(struct map *m, void (*fn)(uint32_t, void *, void *), void *arg)
{
	uint32_t *keys = xcalloc(m->count + 1, sizeof *keys);
	size_t n = 0;
	void *v;

	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i].used)
			keys[n++] = m->slots[i].key;
	}
	for (size_t i = 0; i < n; i++) {
		if ((v = map_get(m, keys[i])) != NULL)
			fn(keys[i], v, arg);
	}
	free(keys);
}
