/* epoch.h - a partition's leader epochs: which leader epoch began at which
 * offset (Kafka's LeaderEpochFileCache and its leader-epoch-checkpoint
 * file in the partition directory).
 *
 * A replica uses it to answer OffsetForLeaderEpoch (where did epoch E end
 * on this log?) and, as a follower coming back, to find where its log
 * diverged from the new leader's so it truncates exactly what the leader
 * does not have. Single-threaded: one shard owns a partition.
 *
 * The file, as Kafka writes it (so Kafka's tools read it):
 *   0                    version
 *   N                    number of entries
 *   <epoch> <offset>     N lines, epochs and offsets increasing
 *
 * Invariants:
 *   1. Epochs strictly increase and so do start offsets; an assignment
 *      that breaks this is refused (-EINVAL), never stored.
 *   2. The file is replaced, never modified: written to a temporary file,
 *      fsync'ed, renamed, the directory fsync'ed, all through storage_sys.
 *   3. A file that does not parse is an error at open (-EINVAL); nothing
 *      in it is dropped silently. */
#ifndef SLUICE_EPOCH_H
#define SLUICE_EPOCH_H

#include <stddef.h>
#include <stdint.h>

#define EPOCH_FILE "leader-epoch-checkpoint"
#define EPOCH_UNDEFINED (-1)

struct epoch_entry {
    int32_t epoch;
    int64_t start_offset;
};

struct epoch_cache {
    char *path;                 /* DIR/leader-epoch-checkpoint */
    char *dir;
    struct epoch_entry *v;
    int n, cap;
};

/* Reads dir's file (none: no epochs yet). 0 or a negative errno. */
int epoch_cache_open(struct epoch_cache *c, const char *dir);
void epoch_cache_close(struct epoch_cache *c);

/* Epoch epoch begins at start_offset (a leader's first append in it, or a
 * follower copying the leader's batches). The same epoch again changes
 * nothing. 0, -EINVAL (invariant 1) or the write's negative errno. */
int epoch_cache_assign(struct epoch_cache *c, int32_t epoch,
                       int64_t start_offset);

/* The newest epoch, EPOCH_UNDEFINED when none. */
int32_t epoch_cache_latest(const struct epoch_cache *c);

/* OffsetForLeaderEpoch, Kafka's rules: for epoch E, the largest epoch
 * <= E this log knows and the offset where E ended here (the start of the
 * next epoch; log_end for the latest). (EPOCH_UNDEFINED, -1) for an epoch
 * newer than all, or EPOCH_UNDEFINED asked. */
void epoch_cache_end_offset(const struct epoch_cache *c, int32_t epoch,
                            int64_t log_end, int32_t *out_epoch,
                            int64_t *out_end);

/* The log was cut at end_offset (truncation): epochs that began at or
 * after it go. 0 or the write's negative errno. */
int epoch_cache_truncate_end(struct epoch_cache *c, int64_t end_offset);

/* Segments before start_offset were deleted (retention): entries wholly
 * before it go, and the one spanning it starts there. 0 or an errno. */
int epoch_cache_truncate_start(struct epoch_cache *c, int64_t start_offset);

/* Parses a checkpoint's text into entries (malloc'ed *out, *n). For the
 * fuzz target and epoch_cache_open. 0 or -EINVAL / -ENOMEM. */
int epoch_parse(const char *text, size_t len, struct epoch_entry **out,
                int *n);

#endif
