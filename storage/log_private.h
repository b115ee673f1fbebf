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

/* The fdatasync in flight, if any, and what it will make durable. */
struct log_flush {
    struct io_op sync_op;
    struct log *log;
    bool inflight;
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
    struct segment *seg;
    int inflight;
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
    /* log_read_bounded's last end offset inside a segment, and where it is */
    const struct segment *bound_seg;
    int64_t bound_offset;
    uint64_t bound_pos;
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

/* recover.c */
int log_recover(struct log *log, int clean, int64_t recovery_point,
                int64_t now_ms);
int log_write_recovery_point(struct log *log, int64_t offset);

/* flush.c */
int log_flush_init(struct log *log);
void log_flush_free(struct log *log);
int log_flush_blocking(struct log *log);
bool log_roll_ready(const struct log *log);
int log_seal_now(struct log *log, struct segment *seg);

#endif
