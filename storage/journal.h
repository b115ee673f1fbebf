/* journal.h - one write-ahead journal per shard: a single fdatasync per
 * loop turn makes that turn's appends to every partition of the shard
 * durable.
 *
 * Why (measured, README "Latency"): each partition log is a file that
 * grows, and on this ext4 an fdatasync of a growing file writes its inode
 * and block maps synchronously before the cache flush: 0.6-3 ms at p50
 * here, where a 4 KiB O_DIRECT overwrite of a file whose blocks are
 * already written syncs in 75-100 us. With one fdatasync per log per turn,
 * N partitions cost N such syncs in io-wq per turn, all on the ack path.
 * The journal is a fixed-size file, written once with zeros when created,
 * then overwritten in a circle with O_DIRECT (no page cache, no metadata
 * change), so its fdatasync is the device's cache flush alone.
 *
 * The partition logs stay Kafka's format and stay what fetches read
 * (zero-copy from the page cache): they are written as before, behind the
 * journal, and synced lazily (at a seal, a close, and a checkpoint that
 * lets the journal reuse its space). Recovery replays the journal into
 * them (journal_replay_dir) before anything opens them.
 *
 * Life of a unit of a log with flush "always" (flush.c, journal.c):
 *   log_flush_submit  the log's writev of its queued batches on the ring,
 *                     and the same bytes copied into the journal's filling
 *                     buffer as one record (or, when the journal has no
 *                     room, the log's own fdatasync linked after the write)
 *   journal_submit    once per turn: the filling buffer is padded to 4 KiB
 *                     and written (O_DIRECT) with one fdatasync linked after
 *                     it; one commit in flight at a time
 *   completion        every log of the commit counts its unit synced; it is
 *                     durable (acks=all, the high watermark) once its own
 *                     segment write completed too
 *
 * On disk (all integers big-endian): two 4 KiB header slots (the valid
 * one with the higher sequence wins: a torn slot write loses nothing),
 * then a region of `size` bytes used as a circular byte stream: LSN l is
 * at offset 8192 + l % size. A commit is one contiguous write of whole
 * 4 KiB blocks ending in a padding record; one that would cross the end
 * of the region is preceded by a padding record up to it. Records are
 * 8-byte aligned and never cross the end. A record: magic, CRC32C of
 * everything after the CRC, its
 * own LSN, length, kind, the partition directory's name, the log's id
 * (storage/log.h: log.id, so a deleted and recreated partition never
 * gets the old one's records), the offset range and the RecordBatch
 * bytes exactly as the log stores them.
 *
 * Invariants:
 *   1. A unit counts as synced only after the fdatasync of a commit that
 *      holds its record completed (or the log's own fdatasync).
 *   2. The tail (oldest LSN recovery reads) moves past a record only after
 *      every log with records below it had its segment files fdatasync'ed
 *      after those records' bytes were written to them (a checkpoint), and
 *      the header slot saying so is synced.
 *   3. Recovery reads records from the tail while each is valid (magic,
 *      bounds, CRC, LSN equal to its position) and stops at the first that
 *      is not: a record of an earlier lap, a torn or lost block.
 *   4. After any failed journal write or sync, the journal is failed for
 *      good: the logs of that commit fail, later units use the logs' own
 *      fdatasync.
 */
#ifndef SLUICE_JOURNAL_H
#define SLUICE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <liburing.h>

#define JOURNAL_DIR "__journal"
#define JOURNAL_HEADER_BYTES 8192
#define JOURNAL_BLOCK 4096
#define JOURNAL_BUFFER_BYTES (1u << 20)   /* one commit at most (less in a
                                             journal under 4 MiB: a quarter of it) */
#define JOURNAL_MIN_BYTES (64u << 10)

struct journal;

/* Opens (creating and zero-filling if new or of another size) the journal
 * DATA_DIR/__journal/<index>.jnl with a region of size bytes (a multiple
 * of JOURNAL_BLOCK, at least JOURNAL_MIN_BYTES). journal_replay_dir() must have
 * run first: what the journal holds is discarded. 0 or negative errno. */
int journal_open(struct journal **out, const char *data_dir, int index, uint64_t size);

/* Once per loop turn, after every log's log_flush_submit: submits the
 * turn's commit if none is in flight, and moves a checkpoint on. Returns
 * the number of SQEs queued, or a negative errno (-EBUSY: SQ full). */
int journal_submit(struct journal *j, struct io_uring *ring);

/* Commits are timed into m (the shard's: the same fsync and group-commit
 * histograms the logs' own fdatasyncs feed), or not with NULL. */
struct flush_metrics;
void journal_set_metrics(struct journal *j, struct flush_metrics *m);

/* True while a commit or checkpoint operation is in flight on the ring. */
bool journal_busy(const struct journal *j);

/* True when records wait for journal_submit. */
bool journal_pending(const struct journal *j);

/* Frees the journal; nothing may be in flight (detach every log first:
 * log_set_journal(log, NULL) or log_close). */
void journal_close(struct journal *j);

struct journal_stats {
    uint64_t commits;          /* journal fdatasyncs completed */
    uint64_t records;          /* log units committed through the journal */
    uint64_t bytes;            /* bytes written, padding included */
    uint64_t full;             /* units that found no room and used the log's own fdatasync */
    uint64_t checkpoints;      /* tail moves */
};
void journal_get_stats(const struct journal *j, struct journal_stats *out);

/* At startup, before any log of data_dir is opened: every journal under
 * DATA_DIR/__journal is read from its tail and each record whose
 * partition directory still exists with the same log id, and whose
 * offsets lie beyond the log's recovered end, is appended to that log,
 * which is then synced and closed. Returns the number of batches replayed
 * or a negative errno (a journal that cannot be read is reported and
 * left). */
int journal_replay_dir(const char *data_dir);

/* One record as found by journal_scan (views into the scanned buffer). */
struct journal_record {
    uint64_t lsn;
    uint16_t kind;
    const char *name;          /* the partition directory's name, not NUL-terminated */
    uint16_t name_len;
    uint64_t log_id;
    int64_t base_offset, end_offset;
    const uint8_t *batches;
    uint32_t batches_len;
};

/* Reads records from region (the journal's region, size bytes, as a
 * circle) starting at LSN tail, calling fn for each (kinds other than
 * batches are skipped), until the first invalid one (invariant 3). Never
 * reads outside region. Returns the LSN where it stopped (the head). For
 * recovery and for the fuzz target. */
uint64_t journal_scan(const uint8_t *region, uint64_t size, uint64_t tail,
                      void (*fn)(void *ctx, const struct journal_record *r), void *ctx);

#endif
