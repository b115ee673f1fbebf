/* log_replica.c - what replication needs of a partition log: its leader
 * epochs, truncation, and the high watermark checkpoint (Kafka's
 * UnifiedLog.truncateTo / truncateFullyAndStartAt, LeaderEpochFileCache,
 * replication-offset-checkpoint).
 *
 * Owns: the log's epoch cache (storage/epoch.c) as appends grow it, the
 * cutting of a log's tail (a follower's divergent data) or of all of it
 * (a follower too far behind its leader's log start), and the checkpoint
 * of the replicated high watermark.
 *
 * Invariants:
 *   1. An epoch is in the leader-epoch-checkpoint (fsync'ed) before any
 *      batch of it is queued for the segment file, so after any crash the
 *      file knows every epoch the log holds; entries past the recovered
 *      end are dropped at open (epoch_cache_truncate_end).
 *   2. A truncation is durable before it returns: the files cut and
 *      fdatasync'ed, the later segments unlinked and the directory synced,
 *      the epochs past the new end removed from the checkpoint. Nothing
 *      cut can come back after a crash.
 *   3. A truncation only happens on an idle log (no write, sync or seal in
 *      flight, no clean job out): -EBUSY otherwise, and the caller waits.
 *      Fetch answers already queued keep their file ranges: removed
 *      segments are retired (their descriptors stay open), and a cut
 *      segment's bytes are gone for readers only once it is rewritten.
 *   4. The high watermark checkpoint is never fsync'ed: a stale or lost
 *      one only makes the watermark start lower (it is min'ed with the
 *      log end), which is always safe.
 *
 * Never: touches a socket, a ring or another partition. */
#include "storage/log_private.h"
#include "storage/sys.h"

#include "slog/slog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* --- leader epochs -------------------------------------------------------- */

int log_epochs_open(struct log *log)
{
    int rc = epoch_cache_open(&log->epochs, log->dir);
    if (rc == -EINVAL)
        slog(SLOG_ERROR, "storage", "damaged file=%s/%s", log->dir, EPOCH_FILE);
    if (rc < 0)
        return rc;
    /* Invariant 1: epochs recorded for batches a crash took. */
    return epoch_cache_truncate_end(&log->epochs, log->next_offset);
}

int log_epoch_note(struct log *log, int32_t epoch, int64_t offset)
{
    if (epoch < 0 || epoch <= epoch_cache_latest(&log->epochs))
        return 0;
    int rc = epoch_cache_assign(&log->epochs, epoch, offset);
    if (rc < 0)
        slog(SLOG_ERROR, "storage", "cannot record a leader epoch dir=%s epoch=%d offset=%" PRId64
             " error=\"%s\"",
                log->dir, epoch, offset, strerror(-rc));
    return rc;
}

void log_set_leader_epoch(struct log *log, int32_t epoch)
{
    log->cfg.leader_epoch = epoch;
}

int32_t log_latest_epoch(const struct log *log)
{
    return epoch_cache_latest(&log->epochs);
}

void log_epoch_end_offset(const struct log *log, int32_t epoch, int32_t *out_epoch,
                          int64_t *out_end)
{
    epoch_cache_end_offset(&log->epochs, epoch, log->next_offset, out_epoch, out_end);
}

/* --- reads of what is written ------------------------------------------------ */

uint64_t log_written_size(const struct log *log, const struct segment *seg)
{
    const struct log_batchq *q = &log->queue;
    return q->count > 0 && q->seg == seg ? q->pos : seg->size;
}

/* --- truncation --------------------------------------------------------------- */

static bool log_idle(const struct log *log)
{
    return !log_flush_pending(log) && !log->clean.job && !log->seal.seg &&
           !log->flush.inflight;
}

/* The segment (index) holding offset: the last with base <= offset. */
static int segment_of(const struct log *log, int64_t offset)
{
    int i = log->nsegs - 1;
    while (i > 0 && log->segs[i]->base_offset > offset)
        i--;
    return i;
}

/* Cuts seg at the batch holding offset; its new end offset in *end. */
static int segment_cut(struct segment *seg, int64_t offset, int64_t *end)
{
    struct batch_header h;
    uint64_t pos = seg->size;
    int rc = segment_find_offset(seg, offset, seg->size, &pos, &h);
    if (rc == 0)
        *end = h.base_offset;
    else if (rc == -ENOENT)
        *end = seg->next_offset < offset ? seg->next_offset : offset;
    else
        return rc;
    if (rc == -ENOENT)
        return 0; /* nothing of it at or after offset */
    seg->next_offset = *end;
    if ((rc = segment_truncate(seg, pos)) < 0)
        return rc;
    if (seg->durable_size > pos)
        seg->durable_size = pos;
    const struct time_index *ti = &seg->timeindex;
    seg->max_timestamp = ti->count > 0 ? ti->entries[ti->count - 1].timestamp : -1;
    seg->max_timestamp_offset = ti->count > 0 ? seg->base_offset + ti->entries[ti->count - 1].rel_offset
                                              : seg->base_offset;
    seg->bytes_since_index = 0;
    /* Invariant 2: the cut is on disk, the indexes with it. */
    if (storage_sys.fdatasync(seg->fd) < 0 || storage_sys.fdatasync(seg->index.fd) < 0 ||
        storage_sys.fdatasync(seg->timeindex.fd) < 0)
        return -errno;
    return 0;
}

static void log_fail_cut(struct log *log, int rc)
{
    if (!log->error) {
        log->error = rc < 0 ? rc : -EIO;
        slog(SLOG_ERROR, "storage", "log failed for good truncating dir=%s error=\"%s\"", log->dir,
                strerror(-log->error));
    }
}

int log_truncate(struct log *log, int64_t offset, int64_t now_ms)
{
    if (log->error)
        return log->error;
    if (!log_idle(log))
        return -EBUSY;
    if (offset >= log->next_offset)
        return 0;
    if (offset <= log->segs[0]->base_offset || offset < log->start_offset)
        return log_truncate_fully(log, offset, now_ms);
    int i = segment_of(log, offset);
    bool removed = log->nsegs - 1 > i;
    while (log->nsegs - 1 > i) {
        log_retire_segment(log, log->segs[log->nsegs - 1], 1);
        log->nsegs--;
    }
    int64_t end = offset;
    int rc = segment_cut(log->segs[i], offset, &end);
    if (rc == 0 && removed)
        rc = storage_sync_dir(log->dir);
    if (rc == 0)
        rc = epoch_cache_truncate_end(&log->epochs, end);
    if (rc < 0) {
        log_fail_cut(log, rc);
        return log->error;
    }
    log->bound_seg = NULL;
    log->next_offset = log->written_end = end;
    if (log->synced_end > end)
        log->synced_end = end;
    if (log->clean.first_dirty > end)
        log->clean.first_dirty = end;
    log->roll_wanted = 0;
    return 0;
}

int log_truncate_fully(struct log *log, int64_t offset, int64_t now_ms)
{
    struct segment *seg;
    if (log->error)
        return log->error;
    if (!log_idle(log))
        return -EBUSY;
    if (offset < 0)
        return -EINVAL;
    /* The new segment first: a name that exists already (the log starts
     * at offset and is emptied) is the old one cut to nothing. */
    while (log->nsegs > 0) {
        log_retire_segment(log, log->segs[log->nsegs - 1], 1);
        log->nsegs--;
    }
    int rc = storage_sync_dir(log->dir);
    if (rc == 0)
        rc = segment_create(&seg, log->dir, offset, now_ms);
    if (rc == 0 && (rc = log_add_segment(log, seg)) < 0)
        segment_destroy(seg, 1);
    if (rc == 0)
        rc = epoch_cache_truncate_end(&log->epochs, 0);
    if (rc < 0) {
        log_fail_cut(log, rc);
        return log->error;
    }
    log->bound_seg = NULL;
    log->next_offset = log->written_end = log->synced_end = offset;
    log->start_offset = offset;
    log->clean.first_dirty = offset;
    log->roll_wanted = 0;
    return 0;
}

/* --- the high watermark checkpoint ------------------------------------------------ */

int log_hw_checkpoint_write(struct log *log, int64_t hw)
{
    return checkpoint_write(log->dir, LOG_HW_CHECKPOINT, hw, false);
}

int64_t log_hw_checkpoint_read(const struct log *log)
{
    int64_t hw = 0;
    if (checkpoint_read(log->dir, LOG_HW_CHECKPOINT, &hw) < 0)
        return 0; /* invariant 4: none or unreadable starts at 0 */
    return hw < log->next_offset ? hw : log->next_offset;
}
