/* live_bits.h - what a clean's map pass learnt about each offset of the
 * dirty range, so that the rewrite pass decides most batches without
 * decompressing them or looking their keys up again.
 *
 * Two bits per offset from `first` on: live (the record at this offset is
 * the latest for its key so far: set when the map pass puts it, cleared
 * when a later record of the same key supersedes it) and tombstone (that
 * record has a null value). A record without a key, an offset no record
 * holds (a gap) and a superseded record are all "not live": such a record
 * never survives. So after the map pass, over the covered offsets:
 *   - no live bit in a batch's range: every record of it goes;
 *   - as many live bits as the batch has records and no live tombstone:
 *     the batch stays exactly as it is;
 * and only the batches in between are decompressed and rewritten, each
 * record decided by its bit instead of an offset map lookup (a memory
 * miss: the map is larger than the caches, 24 bytes a key, where the
 * bits are 2 a record and read in order).
 *
 * Coverage: the bits cover [first, end); they stop growing at their
 * memory limit (end stays where it was; offsets past it are decided by
 * the offset map as before). Batches the map pass could not read are
 * listed: their bits mean nothing and they are kept as they are.
 *
 * Allocates only while the map pass grows it (the cleaner's thread). */
#ifndef SLUICE_LIVE_BITS_H
#define SLUICE_LIVE_BITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct live_bits {
    int64_t first;             /* offset of bit 0 */
    int64_t end;               /* covered: [first, end) */
    uint64_t *words;           /* per 64 offsets: live word, then tombstone word */
    size_t nblocks;            /* 64-offset blocks allocated */
    size_t limit;              /* most blocks the memory allows */
    bool full;                 /* reached the limit: end moves no more */
    int64_t *unreadable;       /* base offsets, ascending */
    size_t nunreadable, capunreadable;
};

/* Empty bits from offset first, at most memory_bytes (16 bytes per 64
 * offsets). Never fails: memory is taken as offsets come. */
void live_bits_init(struct live_bits *lb, int64_t first, size_t memory_bytes);
void live_bits_close(struct live_bits *lb);

/* The map pass, offsets ascending: it has read every record up to off
 * (a batch's last offset), so coverage reaches it. Past the memory limit
 * (or short of memory) the bits stop where they were. */
void live_bits_reach(struct live_bits *lb, int64_t off);
/* The map pass put the record at off (offsets ascending): it is live, a
 * tombstone or not; coverage reaches off. */
void live_bits_set(struct live_bits *lb, int64_t off, bool tombstone);
/* The record at off was superseded (nothing when off is not covered). */
void live_bits_clear(struct live_bits *lb, int64_t off);
/* The batch at base could not be read: its bits are not to be trusted.
 * 0 or -ENOMEM. */
int live_bits_note_unreadable(struct live_bits *lb, int64_t base);
/* Coverage ends at end at the latest (the map pass stopped there). */
void live_bits_cut(struct live_bits *lb, int64_t end);

static inline bool live_bits_covers(const struct live_bits *lb, int64_t lo, int64_t hi)
{
    return lo >= lb->first && lo <= hi && hi < lb->end;
}

/* With off covered: is the record at off live. */
static inline bool live_bits_test(const struct live_bits *lb, int64_t off)
{
    uint64_t i = (uint64_t)(off - lb->first);
    return lb->words[2 * (i >> 6)] >> (i & 63) & 1;
}

/* Over [lo, hi], covered: live records, and live tombstones. */
void live_bits_count(const struct live_bits *lb, int64_t lo, int64_t hi, int64_t *live,
                     int64_t *tombstones);

/* Was the batch at base listed unreadable. */
bool live_bits_unreadable(const struct live_bits *lb, int64_t base);

#endif
