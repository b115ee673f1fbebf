/* offset_map.c - key hash -> latest offset (see offset_map.h). XXH3's
 * 128-bit hash from libxxhash; the slot comes from the high word by a
 * multiply-shift (any table size, no modulo), probing walks forward. */
#include "storage/offset_map.h"

#include <errno.h>
#include <stdlib.h>
#include <xxhash.h>

int offset_map_init(struct offset_map *m, size_t memory_bytes)
{
    size_t n = memory_bytes / sizeof(struct offset_map_entry);
    if (n < 4)
        n = 4; /* a quarter of the slots always stays empty: probes end */
    m->slots = malloc(n * sizeof(*m->slots));
    if (!m->slots)
        return -ENOMEM;
    m->nslots = n;
    m->max_count = n - n / 4;
    offset_map_clear(m);
    return 0;
}

void offset_map_close(struct offset_map *m)
{
    free(m->slots);
    m->slots = NULL;
    m->nslots = m->count = m->max_count = 0;
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
static struct offset_map_entry *probe(const struct offset_map *m, XXH128_hash_t h)
{
    size_t i = slot_of(m, h.high64);
    for (;;) {
        struct offset_map_entry *e = &m->slots[i];
        if (e->offset < 0 || (e->h1 == h.high64 && e->h2 == h.low64))
            return e;
        if (++i == m->nslots)
            i = 0;
    }
}

int offset_map_put(struct offset_map *m, const void *key, size_t len, int64_t offset)
{
    XXH128_hash_t h = XXH3_128bits(key, len);
    struct offset_map_entry *e = probe(m, h);
    if (e->offset < 0) {
        if (m->count >= m->max_count)
            return -ENOSPC;
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
    return probe(m, XXH3_128bits(key, len))->offset;
}
