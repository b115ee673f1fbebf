/* offset_map.c - key hash -> latest offset (see offset_map.h). XXH3's
 * 128-bit hash from libxxhash; the slot comes from the high word by a
 * multiply-shift (any table size, no modulo), probing walks forward. The
 * table starts small and doubles up to its memory limit: a log with few
 * keys keeps a map that fits the caches (measured: with the whole 64 MiB
 * from the start, lookups missing the cache took 40% of a clean). */
#include "storage/offset_map.h"

#include <errno.h>
#include <stdlib.h>
#include <xxhash.h>

static int map_alloc(struct offset_map *m, size_t n)
{
    struct offset_map_entry *v = malloc(n * sizeof(*v));
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

static size_t slot_of(const struct offset_map *m, uint64_t h)
{
    return (size_t)(((unsigned __int128)h * m->nslots) >> 64);
}

/* The slot holding the hash, or the empty one where it would go. */
static struct offset_map_entry *probe(const struct offset_map *m, uint64_t h1, uint64_t h2)
{
    size_t i = slot_of(m, h1);
    for (;;) {
        struct offset_map_entry *e = &m->slots[i];
        if (e->offset < 0 || (e->h1 == h1 && e->h2 == h2))
            return e;
        if (++i == m->nslots)
            i = 0;
    }
}

int offset_map_put(struct offset_map *m, const void *key, size_t len, int64_t offset)
{
    XXH128_hash_t h = XXH3_128bits(key, len);
    struct offset_map_entry *e = probe(m, h.high64, h.low64);
    if (e->offset < 0) {
        if (m->count >= m->max_count) {
            int rc = map_grow(m);
            if (rc < 0)
                return rc;
            e = probe(m, h.high64, h.low64);
        }
        e->h1 = h.high64;
        e->h2 = h.low64;
        e->offset = offset;
        m->count++;
    } else if (offset > e->offset) {
        e->offset = offset;
    }
    if (offset > m->latest)
        m->latest = offset;
    return 0;
}

int64_t offset_map_get(const struct offset_map *m, const void *key, size_t len)
{
    if (m->count == 0)
        return -1;
    XXH128_hash_t h = XXH3_128bits(key, len);
    return probe(m, h.high64, h.low64)->offset;
}
