/* offset_map.h - the compacting cleaner's map from a record key to the
 * latest offset seen for it (Kafka's SkimpyOffsetMap).
 *
 * Keys are not stored: each is reduced to its 128-bit XXH3 hash (Kafka
 * keeps a 16-byte MD5), so an entry is 24 bytes whatever the key's size
 * and memory is fixed up front (log.cleaner.dedupe.buffer.size). Two keys
 * sharing a 128-bit hash would be taken for one; at 2^-128 per pair this
 * is as unlikely as Kafka's MD5 collision, which it accepts the same way.
 *
 * Open addressing with linear probing over a flat array. The map refuses
 * new keys past 75% occupancy (Kafka fills to 90% with its probing; linear
 * probing degrades faster, and the cleaner simply makes another pass when
 * the map is full). Never allocates after offset_map_init. */
#ifndef SLUICE_OFFSET_MAP_H
#define SLUICE_OFFSET_MAP_H

#include <stddef.h>
#include <stdint.h>

#define OFFSET_MAP_ENTRY_SIZE 24

struct offset_map_entry {
    uint64_t h1, h2;
    int64_t offset;            /* -1: empty slot */
};

struct offset_map {
    struct offset_map_entry *slots;
    size_t nslots;
    size_t count;
    size_t max_count;          /* 75% of nslots */
    int64_t latest;            /* highest offset put, -1 when empty */
};

/* Sizes the map to memory_bytes (at least one slot). 0 or -ENOMEM. */
int offset_map_init(struct offset_map *m, size_t memory_bytes);
void offset_map_close(struct offset_map *m);
void offset_map_clear(struct offset_map *m);

/* Records offset as the latest for key (a later put of the same key with
 * a larger offset wins; a smaller one is ignored). Returns 0, or -ENOSPC
 * when key is new and the map is full (nothing changed). */
int offset_map_put(struct offset_map *m, const void *key, size_t len, int64_t offset);

/* The latest offset put for key, or -1. */
int64_t offset_map_get(const struct offset_map *m, const void *key, size_t len);

/* How many distinct keys the map can hold. */
static inline size_t offset_map_capacity(const struct offset_map *m)
{
    return m->max_count;
}

#endif
