/* offset_map.c - key hash -> latest offset (see offset_map.h). XXH3's
 * 128-bit hash from libxxhash; the slot comes from the high word by a
 * multiply-shift (any table size, no modulo), probing walks forward. The
 * table starts small and doubles up to its memory limit: a log with few
 * keys keeps a map that fits the caches (measured: with the whole 64 MiB
 * from the start, lookups missing the cache took 40% of a clean). */
#include "storage/offset_map.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <xxhash.h>

#define HUGE_PAGE (2u << 20)

/* A table of n entries. One of 2 MiB or more is asked to live in huge
 * pages: every lookup lands on a random page, and with 4 KiB pages the
 * misses were TLB misses first (measured: the prefetch of a slot stalled
 * on its page walk, more so under a hypervisor's nested paging). */
static struct offset_map_entry *table_alloc(size_t n)
{
    size_t bytes = n * sizeof(struct offset_map_entry);
    if (bytes < HUGE_PAGE)
        return malloc(bytes);
    bytes = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    void *p = aligned_alloc(HUGE_PAGE, bytes);
    if (p)
        madvise(p, bytes, MADV_HUGEPAGE); /* a hint: without it, 4 KiB pages */
    return p;
}

static int map_alloc(struct offset_map *m, size_t n)
{
    struct offset_map_entry *v = table_alloc(n);
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i].offset = -1;
    m->slots = v;
    m->nslots = n;
    m->max_count = n - n / 4;
    return 0;
}

int offset_map_init(struct offset_map *m, size_t memory_bytes)
{
    size_t n = memory_bytes / sizeof(struct offset_map_entry);
    if (n < 4)
        n = 4; /* a quarter of the slots always stays empty: probes end */
    m->limit = n;
    m->count = 0;
    m->latest = -1;
    return map_alloc(m, n < OFFSET_MAP_FIRST_SLOTS ? n : OFFSET_MAP_FIRST_SLOTS);
}

static struct offset_map_entry *probe(const struct offset_map *m, uint64_t h1, uint64_t h2);

/* Doubles the table (up to the memory limit) and re-inserts every entry.
 * 0, or -ENOSPC when it is at its limit already or memory is short. */
static int map_grow(struct offset_map *m)
{
    if (m->nslots >= m->limit)
        return -ENOSPC;
    struct offset_map old = *m;
    size_t n = m->nslots * 2 < m->limit ? m->nslots * 2 : m->limit;
    if (map_alloc(m, n) < 0) {
        *m = old;
        return -ENOSPC;
    }
    for (size_t i = 0; i < old.nslots; i++)
        if (old.slots[i].offset >= 0)
            *probe(m, old.slots[i].h1, old.slots[i].h2) = old.slots[i];
    free(old.slots);
    return 0;
}

void offset_map_close(struct offset_map *m)
{
    free(m->slots);
    m->slots = NULL;
    m->nslots = m->count = m->max_count = 0;
}

size_t offset_map_capacity(const struct offset_map *m)
{
    size_t n = m->limit;
    return n - n / 4;
}

void offset_map_clear(struct offset_map *m)
{
    for (size_t i = 0; i < m->nslots; i++)
        m->slots[i].offset = -1;
    m->count = 0;
    m->latest = -1;
}

/* The slot holding the hash, or the empty one where it would go. */
static struct offset_map_entry *probe(const struct offset_map *m, uint64_t h1, uint64_t h2)
{
    size_t i = offset_map_slot(m, h1);
    for (;;) {
        struct offset_map_entry *e = &m->slots[i];
        if (e->offset < 0 || (e->h1 == h1 && e->h2 == h2))
            return e;
        if (++i == m->nslots)
            i = 0;
    }
}

struct offset_key offset_map_hash(const void *key, size_t len)
{
    XXH128_hash_t h = XXH3_128bits(key, len);
    return (struct offset_key){ h.high64, h.low64 };
}

int offset_map_put_key(struct offset_map *m, struct offset_key k, int64_t offset,
                       int64_t *superseded)
{
    struct offset_map_entry *e = probe(m, k.h1, k.h2);
    int64_t old = -1;
    if (e->offset < 0) {
        if (m->count >= m->max_count) {
            int rc = map_grow(m);
            if (rc < 0)
                return rc;
            e = probe(m, k.h1, k.h2);
        }
        e->h1 = k.h1;
        e->h2 = k.h2;
        e->offset = offset;
        m->count++;
    } else if (offset > e->offset) {
        old = e->offset;
        e->offset = offset;
    } else if (offset < e->offset) {
        old = offset;
    }
    if (offset > m->latest)
        m->latest = offset;
    if (superseded)
        *superseded = old;
    return 0;
}

int64_t offset_map_get_key(const struct offset_map *m, struct offset_key k)
{
    return m->count == 0 ? -1 : probe(m, k.h1, k.h2)->offset;
}

int offset_map_put(struct offset_map *m, const void *key, size_t len, int64_t offset)
{
    return offset_map_put_key(m, offset_map_hash(key, len), offset, NULL);
}

int64_t offset_map_get(const struct offset_map *m, const void *key, size_t len)
{
    return m->count == 0 ? -1 : offset_map_get_key(m, offset_map_hash(key, len));
}
