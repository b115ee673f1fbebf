/* retention.c - deleting old segments by retention.ms and retention.bytes.
 *
 * Whole segments only, oldest first, never the active one, as Kafka does.
 * A segment goes by time when its newest record is older than retention.ms;
 * by size while the log minus that segment still exceeds retention.bytes.
 * The log start offset moves to the next segment's base. Only with
 * "delete" in cleanup.policy. The producer snapshot named by a deleted
 * segment's base offset goes with it (log_remove_oldest; the newest
 * snapshot is never one of those: it belongs to the active segment or the
 * log end). Producers are not forgotten with their segments (Kafka since
 * KIP-360): producer.id.expiration.ms does that.
 *
 * Invariant: each deletion is durable (the directory synced) before the
 * next one starts. Otherwise a power cut could keep a later deletion and
 * lose an earlier one, leaving a hole of offsets in the middle of the log
 * (the power-cut test found exactly that). The unlinks and the sync are a
 * RETIRE job (log_jobs.c), off the loop with a job runner; a log's jobs
 * run one at a time in order, so each deletion is synced before the next
 * one's unlinks. A failed sync fails the log for good. */
#include "storage/log_private.h"
#include "storage/sys.h"

#include <stdio.h>
#include <string.h>

int log_enforce_retention(struct log *log, int64_t now_ms)
{
    const struct log_config *cfg = &log->cfg;
    int deleted = 0;
    uint64_t total = log_size_bytes(log);

    if (log->error)
        return log->error;
    /* cleanup.policy=compact alone keeps everything; a clean job in
     * flight covers the old segments (log_clean_finish comes back here). */
    if (!cfg->cleanup_delete || log->clean.job)
        return 0;

    while (log->nsegs > 1) {
        struct segment *seg = log->segs[0];
        bool by_size = cfg->retention_bytes >= 0 &&
                       total - seg->size >= (uint64_t)cfg->retention_bytes;
        int64_t newest = seg->max_timestamp >= 0 ? seg->max_timestamp : seg->created_ms;
        bool by_time = cfg->retention_ms >= 0 && now_ms - newest > cfg->retention_ms;
        /* A sealed segment still being synced stays until it is done. */
        if ((!by_size && !by_time) || seg == log->seal.seg)
            break;
        total -= seg->size;
        log_remove_oldest(log); /* its unlinks and directory sync: a RETIRE job */
        deleted++;
    }
    return deleted;
}
