/* log_private.h - the inside of struct log, shared by the files that make
 * up the partition log: log.c (open, append, read), flush.c (writes and
 * syncs), recover.c (open-time recovery), retention.c. Nothing outside
 * storage/ includes this. */
#ifndef SLUICE_LOG_PRIVATE_H
#define SLUICE_LOG_PRIVATE_H

#include <limits.h>
#include <sys/uio.h>

#include "storage/batch_codec.h"
#include "storage/epoch.h"
#include "storage/io.h"
#include "storage/log.h"
#include "storage/producer_state.h"
#include "storage/segment.h"

struct flush_metrics;

#define LOG_CLEAN_MARKER "clean-shutdown"
#define LOG_RECOVERY_POINT "recovery-point"
#define LOG_START_CHECKPOINT "log-start-offset-checkpoint"
#define LOG_CLEANER_CHECKPOINT "cleaner-offset-checkpoint"
#define LOG_HW_CHECKPOINT "replication-offset-checkpoint"

/* Appended batches waiting for the next flush's writev. */
struct log_batchq {
    struct iovec *iov;
    uint8_t **owned;       /* per iov: a buffer the log made (to free) */
    uint32_t count;
    uint64_t bytes;
    struct segment *seg;   /* the segment they go to */
    uint64_t pos;          /* file position of the first */
    int64_t end_offset;    /* one past the last offset they carry */
};

/* The write in flight on the ring, if any: the batches of a queue whose
 * arrays it took over (flush.c). */
struct log_write {
    struct io_op op;
    struct log *log;
    struct io_uring *ring;  /* for finishing a short write */
    struct log_batchq q;
    uint32_t first;         /* first iovec not fully written */
    uint64_t done;          /* bytes of q written so far */
    bool inflight;
    int cancels;            /* in a row: see flush.c's "Cancelled" */
};

/* The fdatasync in flight, if any, and what it will make durable. */
struct log_flush {
    struct io_op sync_op;
    struct log *log;
    bool inflight;
    bool chained;          /* linked after a write (cancelled if it was short) */
    struct segment *seg;   /* the segment it syncs */
    uint64_t end_pos;      /* durable_size of seg once it completes */
    int64_t sync_end;      /* synced_end once it completes */
    int64_t sync_ms;
    int64_t sync_messages;
    int64_t submit_ns;     /* CLOCK_MONOTONIC, for the latency metric */
};

/* fdatasync of a sealed segment, submitted after a roll. */
struct log_seal {
    struct io_op op;
    struct log *log;
    struct segment *seg;   /* being sealed, until the seal job finished */
    int inflight;          /* its .log fdatasync is on the ring */
    bool synced;           /* its data is synced: the seal job is posted */
};

/* Slow file-system work of a log, run through its job runner (log.h,
 * log_jobs.c): off the owner's thread when it has one. */
enum log_job_kind {
    LOG_JOB_PRECREATE,     /* create the next segment's files (.next.*) */
    LOG_JOB_NAME,          /* rename the segment rolled onto to <base>.* */
    LOG_JOB_SEAL,          /* a sealed segment's indexes and recovery point */
    LOG_JOB_RETIRE,        /* close and unlink a segment retention dropped */
};

struct log_job {
    struct log *log;
    enum log_job_kind kind;
    struct segment *seg;
    int result;            /* of the run: 0 or negative errno */
    bool heap;             /* freed by log_job_finish */
};

/* Compaction state (log_clean.c). */
struct log_clean {
    struct clean_job *job;      /* out on a cleaner, or NULL */
    int64_t first_dirty;        /* the cleaner checkpoint */
    int64_t next_horizon_ms;    /* a kept tombstone may go then */
    int64_t retry_ms;           /* after a failed job */
    struct log_clean_info info;
};

struct log {
    char dir[PATH_MAX - 64];
    struct log_config cfg;
    struct segment **segs;      /* by base offset; the last one is active */
    int nsegs;
    int segcap;
    int64_t next_offset;        /* log end offset */
    int64_t written_end;
    int64_t synced_end;
    int error;                  /* sticky negative errno */
    struct log_batchq queue;    /* appended, not yet submitted */
    struct log_write write;
    struct log_flush flush;
    struct log_seal seal;
    int64_t unsynced_messages;  /* FLUSH_INTERVAL bookkeeping */
    int64_t last_sync_ms;
    int roll_wanted;
    int64_t start_offset;       /* DeleteRecords: reads below are refused */
    struct log_clean clean;
    struct codec_buf key_scratch; /* compacted topics: records checked for keys */
    int *retired;               /* .log fds of segments that left the log */
    int nretired, retiredcap;
    struct flush_metrics *metrics; /* the owner's, or NULL (log_set_metrics) */
    struct epoch_cache epochs;  /* leader epochs (log_replica.c) */
    struct producer_state producers;  /* producer_state.h */
    int64_t recover_from;       /* base of the first segment recovery re-read
                                   (INT64_MAX: none); producer_recover.c */
    int64_t limit_offset;       /* log_read_upto's cached position of an */
    int64_t limit_seg_base;     /* offset limit (an LSO), -1: none; */
    uint64_t limit_pos;         /* whoever rewrites a segment in place
                                   (compaction's swap) sets limit_offset
                                   to -1 */
    uint64_t next_guard;        /* log_txn_verify_begin */
    struct segment *next_seg;   /* pre-created, ready for the next roll */
    bool precreating;           /* its job is posted */
    int jobs_inflight;          /* posted, not yet finished */
    log_job_post job_post;      /* NULL: jobs run at once, inline */
    void *job_ctx;
    uint64_t id;                /* log.id: ties journal records to this directory */
    /* the shard's journal (journal.c), when flush is "always" */
    struct journal *journal;
    int64_t jnl_end;            /* end of the last unit handed to the journal */
    int jnl_outstanding;        /* its records not yet committed */
    int64_t direct_end;         /* a unit up to here syncs its own file */
    int64_t file_synced_end;    /* below it the segment files themselves are
                                   synced (not only the journal): a roll
                                   waits for it to reach written_end */
    struct {                    /* journal-synced, its segment write not done */
        bool valid;
        int64_t end;
        uint64_t end_pos;
        struct segment *seg;
    } jnl_pending;
    bool jnl_listed;            /* in the journal's list of logs with records */
    struct log *jnl_next;
    struct log *cp_next;        /* in the checkpoint's list */
    bool cp_wait;               /* the checkpoint waits for this log's fdatasync */
    bool cp_inflight;           /* ... which is on the ring */
    int64_t cp_end;             /* the segments must be synced up to here */
    struct io_op cp_op;
    struct log_fault fault;     /* the disk fault that took it offline */
    log_fault_fn fault_fn;      /* log_set_fault_handler */
    void *fault_ctx;
};

static inline struct segment *log_active(const struct log *log)
{
    return log->segs[log->nsegs - 1];
}

int log_add_segment(struct log *log, struct segment *seg);
void log_remove_oldest(struct log *log);
/* Frees seg (its files unlinked when asked) but keeps its .log fd open
 * among the retired ones (log_take_retired). */
void log_retire_segment(struct log *log, struct segment *seg, int unlink_files);
/* Only the first half of it: the .log descriptor joins the retired ones. */
void log_retire_fd(struct log *log, struct segment *seg);

/* log_replica.c */
int log_epochs_open(struct log *log);
/* A batch of epoch epoch starts at offset: the epoch is recorded first
 * (durably) when it is newer than the log's latest. 0 or negative errno. */
int log_epoch_note(struct log *log, int32_t epoch, int64_t offset);
/* Bytes of seg already in its file (the rest is queued). */
uint64_t log_written_size(const struct log *log, const struct segment *seg);

/* log_start.c */
int log_start_load(struct log *log);
void log_start_apply(struct log *log);

/* log_clean.c */
void log_clean_load(struct log *log);

/* cleaner_recover.c: deletes .cleaned/.deleted files and completes every
 * committed .swap; *swapped says one was completed (then every segment is
 * recovered untrusted: its indexes are rebuilt). */
int log_recover_swaps(const char *dir, bool *swapped);

/* checkpoint.c: Kafka's checkpoint files (version 0, a count, then
 * "topic partition offset" lines), one entry per partition here. */
int checkpoint_parse(const char *buf, size_t len, int64_t *offset);
int checkpoint_read(const char *dir, const char *name, int64_t *offset);
int checkpoint_write(const char *dir, const char *name, int64_t offset, bool durable);

/* flush.c: the journal commit holding the unit of log that ends at end
 * (position end_pos of seg) completed with res. */
void log_journal_synced(struct log *log, int64_t end, uint64_t end_pos, struct segment *seg,
                        int res);

/* journal_replay.c: reads DIR/log.id, or makes one for a new directory. */
int log_load_id(struct log *log);
/* A new id for the same directory, durably (a truncation: the journal's
 * records of the cut tail belong to the old one and are never replayed). */
int log_renew_id(struct log *log);

/* recover.c */
int log_recover(struct log *log, int clean, int64_t recovery_point,
                int64_t now_ms);
int log_write_recovery_point(struct log *log, int64_t offset);

/* log.c, for log_txn.c: queues a batch the log made (freed once written) */
int log_append_owned(struct log *log, uint8_t *batch, size_t len, int64_t now_ms,
                     struct log_append_result *res);

/* log_txn.c, for log.c: the producer checks of a record set before it is
 * appended (0 to append, with *dup set for a retry; else a Kafka code or
 * -ENOMEM), and the state update once its offsets are assigned. */
int log_producers_check(struct log *log, const uint8_t *records, int nbatches,
                        struct log_append_result *dup, bool *is_dup);
void log_producers_apply(struct log *log, const uint8_t *batch);
/* The same for a batch copied from the leader (log_append_replica), which
 * no check saw: data batches, and markers, which end their transaction
 * (an abort into seg's .txnindex) as log_append_marker does on the
 * leader. A follower whose state cannot follow for memory fails. */
void log_producers_replicate(struct log *log, struct segment *seg, const uint8_t *batch);

/* producer_recover.c */
int log_producers_load(struct log *log, bool clean, int64_t now_ms);
/* After a truncation (log_replica.c): the producer state as of the new log
 * end (Kafka's truncateAndReload), or none for an emptied log; snapshots
 * past the end are unlinked (the caller syncs the directory). */
int log_producers_truncated(struct log *log, bool emptied);
int log_producers_snapshot(struct log *log, bool sync);
/* At a roll, on the owner: the state at log->next_offset encoded into
 * seg (the segment rolled off), no system call. In seg's SEAL job, on
 * any thread: that encoding written as <next_offset>.snapshot, synced
 * (before the recovery point moves past seg). 0 or negative errno. */
int log_producers_snapshot_take(struct log *log, struct segment *seg);
int log_producers_snapshot_store(struct log *log, struct segment *seg);
void log_producers_remove_snapshot(struct log *log, int64_t base_offset);

/* log_jobs.c */
void log_post_job(struct log *log, enum log_job_kind kind, struct segment *seg);
/* Posts the pre-creation of the next segment unless it exists or is on
 * its way; false while there is none to roll onto. */
bool log_want_next_segment(struct log *log);
void log_fail(struct log *log, int res);
/* The same, naming the operation that failed ("fdatasync", ...). */
void log_fail_op(struct log *log, int res, const char *op);

/* log_fault.c: takes the log offline for a disk fault err (a negative
 * errno; nothing happens unless log_errno_is_fault) met doing op on file
 * (NULL: the log's directory), or on seg's .log. The first fault wins. */
void log_fault_raise(struct log *log, int err, const char *file, const char *op);
void log_fault_raise_seg(struct log *log, int err, const struct segment *seg, const char *op);

/* flush.c */
int log_flush_init(struct log *log);
void log_flush_free(struct log *log);
int log_flush_blocking(struct log *log);
bool log_roll_ready(const struct log *log);
int log_seal_now(struct log *log, struct segment *seg);
/* The sealed segment's indexes and the recovery point (a LOG_JOB_SEAL). */
int log_seal_files(struct log *log, struct segment *seg);

#endif
