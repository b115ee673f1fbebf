/* log.h - one partition's log: the public face of the storage engine.
 *
 * A log is a directory DIR/<topic>-<partition>/ of segments laid out as
 * Kafka lays them out (<20-digit base offset>.log/.index/.timeindex),
 * holding RecordBatch v2 byte for byte as producers sent it.
 *
 * Life of an append (single-threaded: one shard owns a log, no locks):
 *   log_append()        validate, assign offsets, queue the caller's bytes
 *   log_flush_submit()  one pwritev per log per loop turn, then one
 *                       fdatasync at a time on the caller's io_uring, per
 *                       flush policy (see flush.c for why the write itself
 *                       is not on the ring)
 *   completion          durable_end advances; the caller answers acks=all
 *                       for offsets below log_durable_end()
 *
 * Zero copy: log_append keeps a pointer to the caller's batch; the bytes
 * must stay valid and unchanged until log_written_end() passes the
 * append's last offset. Appends are refused with -EAGAIN while the queue of
 * unsubmitted batches is full (the caller stops reading: backpressure).
 *
 * Invariants:
 *   1. An offset is below log_durable_end() only after its bytes were
 *      written and, with flush "always", fdatasync'ed.
 *   2. A failed write or fdatasync makes the log fail for good (sticky
 *      -EIO): nothing is ever acknowledged as durable after a failure.
 *   3. Recovery at open truncates everything after the last valid batch;
 *      it never removes a batch whose CRC is intact in a synced segment.
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <liburing.h>

enum flush_policy {
    FLUSH_ALWAYS,   /* fdatasync before an append counts as durable (default) */
    FLUSH_INTERVAL, /* Kafka's flush.messages / flush.ms */
    FLUSH_OS,       /* leave it to the page cache */
};

/* Per-log settings, named after Kafka's topic configs. */
struct log_config {
    uint64_t segment_bytes;         /* segment.bytes (1 GiB) */
    int64_t segment_ms;             /* segment.ms (7 days) */
    uint32_t index_interval_bytes;  /* index.interval.bytes (4096) */
    int64_t retention_ms;           /* retention.ms (7 days; -1 none) */
    int64_t retention_bytes;        /* retention.bytes (-1 none) */
    enum flush_policy flush;        /* (always) */
    int64_t flush_messages;         /* flush.messages, for FLUSH_INTERVAL */
    int64_t flush_ms;               /* flush.ms, for FLUSH_INTERVAL */
    uint32_t max_message_bytes;     /* max.message.bytes (1048588) */
    bool log_append_time;           /* message.timestamp.type=LogAppendTime */
    int32_t leader_epoch;           /* stamped into partitionLeaderEpoch */
    uint32_t max_pending;           /* batches queued per flush (1024) */
    bool compress_lz4;              /* compression.type=lz4: uncompressed
                                       producer batches are stored as LZ4 */
    /* cleanup.policy and compaction (Kafka's names; see cleaner.h) */
    bool cleanup_delete;            /* "delete" in cleanup.policy (true) */
    bool cleanup_compact;           /* "compact" in cleanup.policy (false) */
    double min_cleanable_ratio;     /* min.cleanable.dirty.ratio (0.5) */
    int64_t min_compaction_lag_ms;  /* min.compaction.lag.ms (0) */
    int64_t max_compaction_lag_ms;  /* max.compaction.lag.ms (INT64_MAX) */
    int64_t delete_retention_ms;    /* delete.retention.ms (1 day) */
};

void log_config_defaults(struct log_config *cfg);

struct log;

/* A piece of a segment file, ready for splice/sendfile. */
struct log_range {
    int fd;
    uint64_t pos;
    uint32_t len;
};

struct log_append_result {
    int64_t base_offset;
    int64_t last_offset;
    int64_t log_append_time;    /* -1 unless the topic uses LogAppendTime */
    bool duplicate;             /* a producer's retry: the original offsets,
                                   nothing appended (producer_state.h) */
};

/* Opens (creating if needed) DIR/<topic>-<partition> and recovers it.
 * Returns 0 or a negative errno. */
int log_open(struct log **out, const char *dir, const char *topic,
             int32_t partition, const struct log_config *cfg, int64_t now_ms);

/* Removes DIR/<topic>-<partition> and everything in it, durably (its
 * directory synced); the log must not be open. 0 when done or absent, or a
 * negative errno. */
int log_remove(const char *dir, const char *topic, int32_t partition);

/* Writes and syncs whatever is queued (blocking), writes the indexes and a
 * clean-shutdown marker, and frees the log. Nothing may be in flight on a
 * ring: reap until !log_flush_pending() (!log_busy() for a failed log)
 * first (else -EBUSY, log kept). */
int log_close(struct log *log);

/* Slow file-system work a log needs now and then (pre-creating its next
 * segment, naming the segment it rolled onto, writing a sealed segment's
 * indexes and recovery point, unlinking segments retention dropped) is a
 * job. By default the log runs a job at once, blocking its caller. With a
 * runner, it hands each job to post(ctx, job) instead, and the runner must
 * call log_job_run(job) on any thread (it blocks; it touches only what the
 * job owns and files of the log's directory), then log_job_finish(job) on
 * the log's own thread, the jobs of one log in the order posted. The log
 * may not be closed while a job is out (log_busy). */
struct log_job;
typedef void (*log_job_post)(void *ctx, struct log_job *job);
void log_set_job_runner(struct log *log, log_job_post post, void *ctx);
void log_job_run(struct log_job *job);
void log_job_finish(struct log_job *job);

/* Attaches the log to its shard's journal (storage/journal.h), or
 * detaches it (NULL): with flush "always", each unit's fdatasync is then
 * the journal's commit (when it has room). The log must have nothing in
 * flight to be detached (!log_busy()); log_close detaches it. */
struct journal;
void log_set_journal(struct log *log, struct journal *j);

/* Applies changed topic configs to an open log (retention, segment size
 * and age, flush policy, limits, timestamp type). max_pending keeps the
 * value the log was opened with. */
void log_set_config(struct log *log, const struct log_config *cfg);

/* Where the group commit counts its writes and fdatasyncs (latency,
 * records per sync): the owner's struct, written only from the thread
 * that drives the log; NULL (the default) counts nothing. */
struct flush_metrics;
void log_set_metrics(struct log *log, struct flush_metrics *m);

/* Appends a record set (one or more batches). Returns 0, a positive Kafka
 * error code for a rejected set (the log is untouched), -EAGAIN when the
 * queue is full, or the log's sticky negative errno. A batch with a
 * producer id is checked against the partition's producer state first
 * (storage/producer_state.h: sequences, epochs, transactions; such a set
 * must be that one batch): a retry of one of the producer's last five
 * batches returns 0 with res->duplicate and its original offsets. */
int log_append(struct log *log, uint8_t *records, size_t len, int64_t now_ms,
               struct log_append_result *res);

/* A follower's append (Kafka's appendAsFollower): the leader's batches as
 * fetched, their offsets and leader epochs kept, zero copy as log_append.
 * The first batch must start at log_end_offset() and each follow the one
 * before (-EINVAL otherwise: the follower truncates or fetches again);
 * the leader already applied max.message.bytes. Same returns as
 * log_append. */
int log_append_replica(struct log *log, uint8_t *records, size_t len, int64_t now_ms,
                       struct log_append_result *res);

/* Writes what was appended since the last call (one pwritev) and queues on
 * ring an fdatasync when the policy asks for one and none is in flight.
 * Returns the number of SQEs queued (0: nothing to do now) or a negative
 * errno (-EBUSY: the ring's SQ is full). The caller submits the ring and
 * dispatches completions with io_op_dispatch. */
int log_flush_submit(struct log *log, struct io_uring *ring, int64_t now_ms);

/* True while a flush or seal is in flight, or work waits that
 * log_flush_submit can start now. (With FLUSH_INTERVAL an fdatasync that
 * is due by time is started by calling log_flush_submit from a timer.) */
bool log_flush_pending(const struct log *log);

/* True while an operation of the log is in flight on a ring (a write or
 * fdatasync) or a job is out, failed log or not: it may not be closed
 * before. */
bool log_busy(const struct log *log);

/* Offsets: [start, end) exists; below written_end it is in the files;
 * below durable_end it is durable per the flush policy (the high
 * watermark). */
int64_t log_start_offset(const struct log *log);
int64_t log_end_offset(const struct log *log);
int64_t log_written_end(const struct log *log);
int64_t log_durable_end(const struct log *log);
/* Below it every offset was fdatasync'ed, whatever the flush policy: it
 * survives a power cut (log_durable_end is what acks=all waits for). */
int64_t log_synced_end(const struct log *log);
int log_error(const struct log *log);
uint64_t log_size_bytes(const struct log *log);
int log_segment_count(const struct log *log);

/* Fills ranges with the file bytes to send for a fetch at offset: starting
 * at the batch that contains offset, at most max_bytes (but always one whole
 * batch first, as Kafka does), never past the high watermark. Returns the
 * number of ranges (0 at the high watermark) or -ERANGE when offset is
 * outside [start, high watermark]. */
int log_read(struct log *log, int64_t offset, uint32_t max_bytes,
             struct log_range *ranges, int max_ranges);

/* log_read for replication: the bytes of [offset, end) where end may be
 * past the high watermark, up to the written end (a follower fetches what
 * the leader wrote; consumers of a replicated partition read to the
 * replicated high watermark). -ERANGE when offset is outside [start, log
 * end]; 0 ranges when offset >= end. */
int log_read_bounded(struct log *log, int64_t offset, int64_t end, uint32_t max_bytes,
                     struct log_range *ranges, int max_ranges);

/* ---- replication (log_replica.c) ---- */

/* The epoch stamped into the batches log_append assigns (a leader's). */
void log_set_leader_epoch(struct log *log, int32_t epoch);
/* The newest leader epoch the log holds batches of (-1: none). */
int32_t log_latest_epoch(const struct log *log);
/* OffsetForLeaderEpoch (storage/epoch.h's rule): the largest epoch <=
 * epoch this log knows and the offset where it ended here. */
void log_epoch_end_offset(const struct log *log, int32_t epoch, int32_t *out_epoch,
                          int64_t *out_end);
/* Cuts the log at offset: the batch holding it and everything after go
 * (a follower's divergent tail), durably, epochs too. 0, -EBUSY while a
 * write, sync, seal or clean is out (try again once idle), or the log's
 * sticky error. */
int log_truncate(struct log *log, int64_t offset, int64_t now_ms);
/* Empties the log and starts it again at offset (a follower behind its
 * leader's log start). Same returns. */
int log_truncate_fully(struct log *log, int64_t offset, int64_t now_ms);
/* The replicated high watermark, kept beside the log for a restart (not
 * synced: losing it only starts the watermark lower). The read is at
 * most the log end, 0 when there is none. */
int log_hw_checkpoint_write(struct log *log, int64_t hw);
int64_t log_hw_checkpoint_read(const struct log *log);

/* ListOffsets by timestamp: the first offset whose record timestamp is
 * >= ts, and that timestamp. Returns 0, or -ENOENT when there is none. */
int log_offset_for_timestamp(struct log *log, int64_t ts, int64_t *offset,
                             int64_t *timestamp);
/* ListOffsets MAX_TIMESTAMP: the first record with the largest timestamp
 * in the log, its offset and timestamp. 0, or -ENOENT when empty. */
int log_max_timestamp(struct log *log, int64_t *offset, int64_t *timestamp);

/* Deletes whole segments beyond retention.ms / retention.bytes, never the
 * active one, when cleanup.policy has "delete" (and no clean is out),
 * each with its producer snapshot. Returns the number deleted or a
 * negative errno. */
int log_enforce_retention(struct log *log, int64_t now_ms);

/* The base offset of the active segment: offsets below it are in sealed
 * segments (what compaction may rewrite). */
int64_t log_active_base(const struct log *log);

/* The settings the log runs with. */
const struct log_config *log_config_of(const struct log *log);

/* The partition's directory (DIR/<topic>-<partition>). */
const char *log_dir(const struct log *log);

/* Segments that left the log (retention, DeleteRecords, compaction) keep
 * their .log descriptor open: a fetch answer queued earlier may still
 * send a range of it. This hands up to max of those descriptors to the
 * caller, who closes them once no answer can refer to them. Returns how
 * many. log_close closes whatever is left. */
int log_take_retired(struct log *log, int *fds, int max);

/* ---- disk faults (log_fault.c) ----
 * A read or write of the log's files that fails with an unexpected errno
 * (EIO, ...; not ENOSPC) takes the log offline for good: it fails as
 * log_error says (appends refused, nothing more reported durable), and
 * its owner answers reads with KAFKA_STORAGE_ERROR. A restart re-reads
 * its segments (no clean-shutdown marker is left) and serves it again
 * when they read. */

struct log_fault {
    int err;                    /* negative errno */
    char op[24];                /* what failed: "read", "splice", "fdatasync"... */
    char file[PATH_MAX];        /* the file, or the log's directory */
};

/* The fault that took the log offline; NULL while it serves. */
const struct log_fault *log_fault(const struct log *log);
bool log_offline(const struct log *log);

/* Whether err (negative errno) from a read or write of a log file is a
 * disk fault, rather than an answer about the data or the caller
 * (-EBADMSG, -ENOENT, -ENOMEM, -EAGAIN, ...) or a full disk (-ENOSPC). */
bool log_errno_is_fault(int err);

/* Called on the log's own thread, once, when the log goes offline (the
 * fault is log_fault(log)); NULL: nobody is told. */
typedef void (*log_fault_fn)(void *ctx, struct log *log);
void log_set_fault_handler(struct log *log, log_fault_fn fn, void *ctx);

/* Reading a range log_read returned failed with err (a negative errno)
 * outside storage (a fetch's splice, a TLS connection's read): when fd is
 * one of the log's segments (or of those that left it) the log goes
 * offline for a disk fault, blaming op. Returns whether fd is the log's. */
bool log_read_failed(struct log *log, int fd, int err, const char *op);

/* ---- DeleteRecords and the log start offset (log_start.c) ---- */

/* Kafka's DeleteRecords: moves the log start offset up to offset (-1: the
 * high watermark). Segments wholly below it are deleted (after a clean in
 * flight returns); the first one left is trimmed logically: reads below
 * the start are refused. *low_watermark gets the new start. Returns 0 or
 * -ERANGE for an offset past the high watermark. The new start lasts
 * across a crash once log_start_checkpoint_write has run for it. */
int log_delete_records(struct log *log, int64_t offset, int64_t *low_watermark);

/* Writes DIR/log-start-offset-checkpoint (Kafka's checkpoint format) and
 * makes it durable: write, fsync, rename, fsync the directory. Blocking:
 * run it off the shard (the cleaner thread does). No struct log is
 * touched, so any thread may call it. 0 or negative errno. */
int log_start_checkpoint_write(const char *dir, int64_t offset);

/* ---- compaction (log_clean.c; the job itself is cleaner.h) ---- */

struct clean_job;

struct log_clean_info {
    double dirty_ratio;             /* dirty / (clean + dirty) bytes */
    uint64_t clean_bytes;
    uint64_t dirty_bytes;
    int64_t first_dirty;            /* the cleaner checkpoint */
    int64_t last_clean_ms;          /* wall clock; -1: never */
    int64_t cleans;                 /* jobs finished */
    uint64_t bytes_read;            /* totals over every clean */
    uint64_t bytes_written;
    int64_t records_removed;
    int64_t clean_ns;               /* time spent cleaning */
    int last_error;                 /* of the last job, negative errno */
    bool busy;                      /* a job is out */
};

void log_clean_info(const struct log *log, struct log_clean_info *out);

/* True when cleanup.policy has "compact", no job is out, and the log is
 * due: dirty ratio at least min.cleanable.dirty.ratio, a dirty record
 * older than max.compaction.lag.ms, or a kept tombstone's delete horizon
 * passed. */
bool log_clean_needed(const struct log *log, int64_t now_ms);

/* Makes a job over the log's cleanable segments (sealed, synced, older
 * than min.compaction.lag.ms) with map_bytes of offset map. The log
 * keeps it as its job in flight until log_clean_finish. 0, -EAGAIN
 * (nothing to clean, or a job is out) or -ENOMEM. */
int log_clean_begin(struct log *log, int64_t now_ms, size_t map_bytes, struct clean_job **out);

/* Takes a finished job back: the cleaned segments replace the ones they
 * were made from (the old ones are retired), the cleaner checkpoint
 * moves, deletions held back meanwhile are done, and the job is freed.
 * Returns the job's error (0 when it cleaned). */
int log_clean_finish(struct log *log, struct clean_job *job, int64_t now_ms);

/* The same as log_read, never past limit (an offset at a batch boundary,
 * at most the high watermark: the last stable offset for read_committed).
 * offset may be anywhere in [start, high watermark]. When upper is not
 * NULL it gets the offset where the returned bytes end (the base offset
 * of the batch after them, or limit): aborted transactions are looked up
 * below it. */
int log_read_upto(struct log *log, int64_t offset, uint32_t max_bytes, int64_t limit,
                  struct log_range *ranges, int max_ranges, int64_t *upper);

/* ---- producers and transactions (storage/log_txn.c) ---------------------
 * The partition's producer state (producer_state.h) lives in the log:
 * checked and updated by log_append, snapshotted at every roll and at
 * close (producer_snapshot.h), rebuilt at open from the newest snapshot
 * and the batches after it (producer_recover.c). */

struct aborted_txn;
struct producer_entry;

/* Appends a transaction marker (a control batch) for producer pid at
 * epoch, as the coordinator asks: it closes pid's open transaction on
 * this partition; an abort is recorded in the segment's .txnindex.
 * Returns 0 (res: the marker's offset), a positive Kafka code for a
 * fenced marker (INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED),
 * -EAGAIN when the queue is full, or a negative errno. */
int log_append_marker(struct log *log, int64_t pid, int16_t epoch, int32_t coordinator_epoch,
                      bool commit, int64_t now_ms, struct log_append_result *res);

/* The last stable offset: the first offset of the oldest transaction that
 * is open or whose marker is not yet durable; the high watermark when
 * none is. */
int64_t log_last_stable_offset(struct log *log);

/* Aborted transactions overlapping [from, upper), as a read_committed
 * Fetch returns them, at most max. Returns how many. */
int log_aborted_txns(struct log *log, int64_t from, int64_t upper, struct aborted_txn *out,
                     int max);

/* True when pid has a transaction open on this partition at epoch. */
bool log_producer_in_txn(const struct log *log, int64_t pid, int16_t epoch);
/* A transaction verification begins (the shard asks the coordinator
 * whether this partition is in pid's transaction): returns a guard that
 * a marker for pid clears, so an append after a verification that raced
 * with the end of the transaction is refused (Kafka's VerificationGuard).
 * 0 on -ENOMEM. */
uint64_t log_txn_verify_begin(struct log *log, int64_t pid);
bool log_txn_verify_holds(const struct log *log, int64_t pid, uint64_t guard);

/* producer.id.expiration.ms: forgets producers idle that long (never one
 * with an open transaction). Returns how many. */
int log_expire_producers(struct log *log, int64_t now_ms, int64_t expiration_ms);
/* Calls fn for every producer the partition knows (DescribeProducers). */
void log_each_producer(const struct log *log,
                       void (*fn)(void *ctx, const struct producer_entry *e), void *ctx);
int log_producer_count(const struct log *log);

#endif
