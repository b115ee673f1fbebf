/* live_bits.c - per-offset facts of a clean's map pass (see live_bits.h):
 * a flat array of 64-offset blocks, two words each (live, tombstone),
 * grown by doubling as the map pass moves on, up to its memory limit. */
#include "storage/live_bits.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_BYTES (2 * sizeof(uint64_t))

void live_bits_init(struct live_bits *lb, int64_t first, size_t memory_bytes)
{
    memset(lb, 0, sizeof(*lb));
    lb->first = lb->end = first;
    lb->limit = memory_bytes / BLOCK_BYTES;
}

void live_bits_close(struct live_bits *lb)
{
    free(lb->words);
    free(lb->unreadable);
    memset(lb, 0, sizeof(*lb));
}

/* Room for block b: false when the limit or memory says no. */
static bool reserve(struct live_bits *lb, size_t b)
{
    if (b < lb->nblocks)
        return true;
    if (b >= lb->limit)
        return false;
    size_t n = lb->nblocks ? lb->nblocks * 2 : 1024;
    if (n <= b)
        n = b + 1;
    if (n > lb->limit)
        n = lb->limit;
    uint64_t *w = realloc(lb->words, n * BLOCK_BYTES);
    if (!w)
        return false;
    memset(w + 2 * lb->nblocks, 0, (n - lb->nblocks) * BLOCK_BYTES);
    lb->words = w;
    lb->nblocks = n;
    return true;
}

void live_bits_reach(struct live_bits *lb, int64_t off)
{
    if (lb->full || off < lb->end || off < lb->first)
        return;
    if (!reserve(lb, (size_t)((uint64_t)(off - lb->first) >> 6))) {
        lb->full = true;
        return;
    }
    lb->end = off + 1;
}

void live_bits_set(struct live_bits *lb, int64_t off, bool tombstone)
{
    if (off < lb->first)
        return;
    live_bits_reach(lb, off);
    if (off >= lb->end)
        return;
    uint64_t i = (uint64_t)(off - lb->first), bit = 1ull << (i & 63);
    lb->words[2 * (i >> 6)] |= bit;
    if (tombstone)
        lb->words[2 * (i >> 6) + 1] |= bit;
    else
        lb->words[2 * (i >> 6) + 1] &= ~bit;
}

void live_bits_clear(struct live_bits *lb, int64_t off)
{
    if (off < lb->first || off >= lb->end)
        return;
    uint64_t i = (uint64_t)(off - lb->first);
    lb->words[2 * (i >> 6)] &= ~(1ull << (i & 63));
}

void live_bits_cut(struct live_bits *lb, int64_t end)
{
    if (end < lb->end)
        lb->end = end > lb->first ? end : lb->first;
    lb->full = true;
}

int live_bits_note_unreadable(struct live_bits *lb, int64_t base)
{
    if (lb->nunreadable == lb->capunreadable) {
        size_t cap = lb->capunreadable ? lb->capunreadable * 2 : 16;
        int64_t *u = realloc(lb->unreadable, cap * sizeof(*u));
        if (!u)
            return -ENOMEM;
        lb->unreadable = u;
        lb->capunreadable = cap;
    }
    lb->unreadable[lb->nunreadable++] = base;
    return 0;
}

bool live_bits_unreadable(const struct live_bits *lb, int64_t base)
{
    size_t lo = 0, hi = lb->nunreadable;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lb->unreadable[mid] < base)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < lb->nunreadable && lb->unreadable[lo] == base;
}

void live_bits_count(const struct live_bits *lb, int64_t lo, int64_t hi, int64_t *live,
                     int64_t *tombstones)
{
    uint64_t a = (uint64_t)(lo - lb->first), z = (uint64_t)(hi - lb->first);
    *live = *tombstones = 0;
    for (uint64_t blk = a >> 6; blk <= z >> 6; blk++) {
        uint64_t mask = ~0ull;
        if (blk == a >> 6)
            mask &= ~0ull << (a & 63);
        if (blk == z >> 6 && (z & 63) != 63)
            mask &= (1ull << ((z & 63) + 1)) - 1;
        uint64_t l = lb->words[2 * blk] & mask;
        *live += __builtin_popcountll(l);
        *tombstones += __builtin_popcountll(l & lb->words[2 * blk + 1]);
    }
}
