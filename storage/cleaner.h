/* cleaner.h - log compaction: what survives in a batch, and a clean job
 * that rewrites a log's sealed segments keeping the latest record per key.
 *
 * A job is made by the thread that owns the log (log_clean_begin in
 * log.h) from a snapshot of the log's sealed segments, and can then run on
 * any thread: it only reads sealed, immutable segment files (through its
 * own descriptors) and writes new files, so the shard that owns the log
 * keeps appending and serving reads meanwhile. While a job is out, the
 * log deletes none of the segments it covers (retention, DeleteRecords
 * wait). The finished job goes back to the owning thread, which swaps the
 * cleaned segments into the log in memory (log_clean_finish).
 *
 * What a job does (Kafka's Cleaner.clean):
 *   1. map    offset map of the latest offset per key over the dirty part,
 *             [first_dirty, end), and live bits (live_bits.h: which dirty
 *             records are still the latest of their key); when the map
 *             fills, the pass stops at a batch boundary (map_end) and the
 *             rest stays dirty for the next pass
 *   2. group  consecutive segments below map_end whose sizes add up to at
 *             most segment.bytes become one cleaned segment
 *   3. clean  per group: each batch filtered (clean_filter_batch) into
 *             <base>.log.cleaned with its indexes, then fsync'ed; a dirty
 *             batch the live bits say is wholly gone or wholly kept is
 *             decided without decompressing it
 *   4. swap   per batch of groups (the crash-safe protocol below); a
 *             group of one segment that came out identical is dropped
 *
 * Swap invariants (recovery: log_recover_swaps in cleaner_recover.c):
 *   S1. <base>.*.cleaned is never trusted: recovery deletes it; the old
 *       segments are untouched until S2.
 *   S2. <base>.*.swap is renamed from .cleaned only after the cleaned files
 *       are fsync'ed, and the directory is fsync'ed right after: from then
 *       on the swap is committed and recovery completes it (deletes every
 *       old segment whose base lies in (base, swap's end), renames .swap).
 *       A batch's groups are committed together by one directory fsync.
 *   S3. The old segments other than the first are unlinked, and the
 *       directory fsync'ed, before .swap is renamed over the first one; so
 *       after any crash either .swap still exists or no old segment
 *       overlaps the cleaned one.
 *   S4. Offsets never change: a batch keeps its base and last offset even
 *       when records are dropped from it (the gaps are normal), and the
 *       cleaned segment's offsets end where the group's did.
 *
 * Never: touches a struct log, allocates on behalf of another thread, or
 * blocks the owner: fsyncs are handed to the driver (CLEAN_SYNC). */
#ifndef SLUICE_CLEANER_H
#define SLUICE_CLEANER_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/batch_codec.h"
#include "storage/live_bits.h"
#include "storage/offset_map.h"

struct segment;

#define CLEAN_MAX_BATCH (64u << 20)  /* decompressed records bound */

/* Kafka's attribute bit 6 (KIP-534): baseTimestamp holds the delete
 * horizon, the time after which the batch's tombstones (and markers) go. */
#define BATCH_ATTR_DELETE_HORIZON 0x40

/* Producer ids and the offset of their last batch in the cleaned range:
 * a batch emptied by compaction is kept (as a header with no records)
 * when it is its producer's last, so the producer's sequence survives. */
struct pid_table {
    int64_t *pids;
    int64_t *last;
    size_t n, cap;
};

/* What decides a record's fate. */
struct clean_policy {
    const struct offset_map *map;
    const struct live_bits *live;  /* the map pass's bits; NULL: the map decides */
    const struct pid_table *pids;  /* NULL: never keep empty batches */
    int64_t map_end;               /* records at or past it are kept as they are */
    int64_t now_ms;
    int64_t delete_retention_ms;
};

struct clean_stats {
    uint64_t bytes_read;
    uint64_t bytes_written;
    int64_t records_read;
    int64_t records_removed;
    int64_t batches_unreadable;    /* kept verbatim: corrupt or oversized */
    int64_t batches_changed;       /* rebuilt or dropped */
    int64_t batches_by_bits;       /* decided by the live bits, records unread */
    int64_t groups_unchanged;      /* rewritten identical: not swapped */
    int64_t next_horizon_ms;       /* earliest tombstone delete horizon kept;
                                      INT64_MAX: none */
};

/* Reusable buffers of the filter. */
struct clean_scratch {
    struct codec_buf raw;          /* decompressed records */
    struct codec_buf kept;         /* surviving records */
    struct codec_buf keep;         /* a flag per record: does it survive */
};

void clean_scratch_free(struct clean_scratch *s);

/* Filters one batch (len bytes at b, CRC already checked) into out:
 * appends nothing (every record superseded), the batch as it was (nothing
 * to change), or a rebuilt batch (same base and last offset, producer
 * id/epoch/sequence, transactional and control bits; the survivors,
 * recompressed with the batch's own codec; new CRC). Control batches are
 * kept as they are. A batch whose records cannot be read (they do not
 * frame, or their offsets do not rise within the batch) is kept as it is,
 * and counted. Where p->live covers the batch it is decided without
 * reading its records when its bits allow (see live_bits.h); the result
 * is the same as the map's. Returns 0 or -ENOMEM. */
int clean_filter_batch(const uint8_t *b, size_t len, const struct clean_policy *p,
                       struct clean_scratch *s, struct codec_buf *out, struct clean_stats *st);

/* Puts the key of every keyed record of the batch at b (offset >= from)
 * into map, and into live (may be NULL) which records are still the
 * latest of their key. Returns 0, -ENOSPC when the map filled (the
 * batch's keys are then not all in: the caller stops before this batch),
 * -ENOMEM, or -EBADMSG for records that cannot be read (the batch is
 * skipped; the caller notes it in live). */
int clean_map_batch(const uint8_t *b, size_t len, struct offset_map *map, struct live_bits *live,
                    int64_t from, struct clean_scratch *s);

/* Kafka refuses a record without a key on a compacted topic (LogValidator:
 * "Compacted topic cannot accept message without key"): KERR_NONE when
 * every record of the validated set rs[0..len) has a key, else
 * KERR_INVALID_RECORD. Compressed batches are decompressed into scratch
 * (kept for reuse). Control batches carry no keys to check. */
int clean_check_keys(const uint8_t *rs, size_t len, struct codec_buf *scratch);

int pid_table_note(struct pid_table *t, int64_t pid, int64_t last_offset);
int64_t pid_table_last(const struct pid_table *t, int64_t pid);   /* -1: unknown */
void pid_table_free(struct pid_table *t);

/* ---- the job ---- */

/* A sealed segment of the snapshot. */
struct clean_source {
    int64_t base_offset;
    int64_t end_offset;            /* base of the segment after it */
    uint64_t size;
};

/* One cleaned segment replacing sources [first, first + count). */
struct clean_group {
    int first;
    int count;
    struct segment *seg;           /* the cleaned segment, open */
    bool swapped;                  /* on disk in place of its sources: the log takes it */
};

enum clean_status {
    CLEAN_DONE = 0,                /* finished (error says how) */
    CLEAN_MORE = 1,                /* deadline reached: call again */
    CLEAN_SYNC = 2,                /* fsync sync_fds[0..nsync), then clean_job_synced() */
};

struct clean_job {
    /* input, from log_clean_begin */
    char dir[PATH_MAX - 64];
    struct clean_source *src;
    int nsrc;
    int64_t first_dirty;           /* below it was cleaned before */
    int64_t end_offset;            /* first uncleanable offset */
    int64_t now_ms;
    int64_t delete_retention_ms;
    uint64_t segment_bytes;
    uint32_t index_interval;
    size_t map_bytes;
    atomic_bool abort;             /* set by the owner: stop at a safe point */
    /* result */
    int error;                     /* 0, or negative errno (the log is intact) */
    int64_t map_end;               /* the new first dirty offset */
    struct clean_group *groups;
    int ngroups;
    struct clean_stats stats;
    int64_t elapsed_ns;
    int sync_fd;                   /* with CLEAN_SYNC: sync_fds[0] */
    int sync_fds[128];             /* with CLEAN_SYNC: every fd to fsync */
    int nsync;
    /* progress, private to cleaner.c */
    struct clean_run *run;
};

/* Runs the job until it is done, needs an fsync, or the monotonic clock
 * passes deadline_ns (INT64_MAX: never). */
enum clean_status clean_job_step(struct clean_job *job, int64_t deadline_ns);

/* The driver did the fsyncs asked for: res 0 or negative errno. */
void clean_job_synced(struct clean_job *job, int res);

/* For drivers that may block (a thread, tools): fsyncs every descriptor
 * asked for, one after the other. 0 or negative errno. */
int clean_job_sync_all(const struct clean_job *job);

/* For drivers that may block: runs the job to completion, each fsync
 * asked for done at once (clean_job_sync_all). */
void clean_job_run(struct clean_job *job);

/* Frees a job. Cleaned segments the log did not take are closed (their
 * files stay: on disk they already replaced the old ones). */
void clean_job_destroy(struct clean_job *job);

#endif
