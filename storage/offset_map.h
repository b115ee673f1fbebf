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
 * the map is full). Allocates only when it grows (the cleaner's thread). */
#ifndef SLUICE_OFFSET_MAP_H
#define SLUICE_OFFSET_MAP_H

#include <stddef.h>
#include <stdint.h>

#define OFFSET_MAP_ENTRY_SIZE 24

struct offset_map_entry {
    uint64_t h1, h2;
    int64_t offset;            /* -1: empty slot */
};

#define OFFSET_MAP_FIRST_SLOTS 65536

struct offset_map {
    struct offset_map_entry *slots;
    size_t nslots;
    size_t limit;              /* most slots the memory allows */
    size_t count;
    size_t max_count;          /* 75% of nslots */
    int64_t latest;            /* highest offset put, -1 when empty */
};

/* A map of at most memory_bytes (at least 4 slots); it starts with
 * OFFSET_MAP_FIRST_SLOTS and doubles as keys come. 0 or -ENOMEM. */
int offset_map_init(struct offset_map *m, size_t memory_bytes);
void offset_map_close(struct offset_map *m);
void offset_map_clear(struct offset_map *m);

/* A key reduced to its hash: computed once, then used to prefetch the
 * slot and to put or get. */
struct offset_key {
    uint64_t h1, h2;
};

struct offset_key offset_map_hash(const void *key, size_t len);

/* Starts loading the slot where k lives or would go. The map is larger
 * than the caches, so each lookup is a memory miss: the cleaner hashes a
 * run of records, prefetches all their slots, then looks them up, and
 * the misses overlap instead of following one another. A hint only. */
static inline size_t offset_map_slot(const struct offset_map *m, uint64_t h1)
{
    return (size_t)(((unsigned __int128)h1 * m->nslots) >> 64); /* multiply-shift */
}

static inline void offset_map_prefetch(const struct offset_map *m, struct offset_key k)
{
    __builtin_prefetch(&m->slots[offset_map_slot(m, k.h1)], 1, 3);
}

/* Records offset as the latest for k (a later put of the same key with a
 * larger offset wins; a smaller one is ignored). *superseded (may be
 * NULL) is the offset that is no longer the latest for the key (the old
 * one, or offset itself when it is older), -1 for a new key. Returns 0,
 * or -ENOSPC when the key is new and the map is full at its memory limit
 * (nothing changed). */
int offset_map_put_key(struct offset_map *m, struct offset_key k, int64_t offset,
                       int64_t *superseded);

/* The latest offset put for k, or -1. */
int64_t offset_map_get_key(const struct offset_map *m, struct offset_key k);

/* The same, hashing key first. */
int offset_map_put(struct offset_map *m, const void *key, size_t len, int64_t offset);
int64_t offset_map_get(const struct offset_map *m, const void *key, size_t len);

/* How many distinct keys the map can hold at its memory limit. */
size_t offset_map_capacity(const struct offset_map *m);

#endif
