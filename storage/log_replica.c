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
 *   2. A truncation is durable before it returns: first what is kept is
 *      synced in the segment files and the log gets a new log.id (the
 *      journal's records of the old id are never replayed), then the files
 *      are cut and fdatasync'ed, the later segments unlinked and the
 *      directory synced, the epochs past the new end removed from the
 *      checkpoint. The recovery point goes below the cut before anything
 *      is cut. Nothing cut can
 *      come back after a crash, through the segments or the journal. All
 *      of it goes through storage_sys (the power-cut simulation sees it).
 *      It runs on the owner's thread: a leader change's rare blocking
 *      work, not a per-message cost.
 *   3. A truncation only happens on an idle log (nothing queued, no write,
 *      sync or seal in flight, no job on the worker, no journal record
 *      not yet committed, no journal checkpoint waiting for it, no clean
 *      job out): -EBUSY otherwise, and the caller waits.
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

/* Invariant 3: nothing of the log is queued, on the ring, on a worker
 * (jobs: naming, sealing, pre-creating, retiring), in a journal commit not
 * yet synced, or waited for by the journal's checkpoint; no clean job. */
static bool log_idle(const struct log *log)
{
    return !log_flush_pending(log) && !log_busy(log) && !log->clean.job && !log->seal.seg &&
           !log->cp_wait && !log->jnl_pending.valid && !log->precreating;
}

/* The segment (index) holding offset: the last with base <= offset. */
static int segment_of(const struct log *log, int64_t offset)
{
    int i = log->nsegs - 1;
    while (i > 0 && log->segs[i]->base_offset > offset)
        i--;
    return i;
}

static int segment_sync(struct segment *seg)
{
    if (storage_sys.fdatasync(seg->fd) < 0 || segment_sync_indexes(seg) < 0 ||
        (seg->txnindex.fd >= 0 && storage_sys.fdatasync(seg->txnindex.fd) < 0))
        return -errno;
    return 0;
}

/* The largest timestamp of a cut segment: the time index's last entry
 * left covers the batches up to the last offset index entry's; the few
 * after it (under index.interval.bytes) are read again. A roll then ends
 * the time index with it, so lookups by time find the kept batches. */
static int segment_rescan_tail(struct segment *seg)
{
    const struct offset_index *ix = &seg->index;
    const struct time_index *ti = &seg->timeindex;
    uint64_t pos = ix->count > 0 ? ix->entries[ix->count - 1].position : 0;
    seg->max_timestamp = ti->count > 0 ? ti->entries[ti->count - 1].timestamp : -1;
    seg->max_timestamp_offset = ti->count > 0 ? seg->base_offset + ti->entries[ti->count - 1].rel_offset
                                              : seg->base_offset;
    seg->bytes_since_index = 0;
    while (pos < seg->size) {
        struct batch_header h;
        int rc = segment_read_header(seg, pos, seg->size, &h);
        if (rc < 0)
            return rc;
        if (h.max_timestamp > seg->max_timestamp) {
            seg->max_timestamp = h.max_timestamp;
            seg->max_timestamp_offset = batch_last_offset(&h);
        }
        if (ix->count == 0 || pos > ix->entries[ix->count - 1].position)
            seg->bytes_since_index += batch_size(&h);
        pos += batch_size(&h);
    }
    return 0;
}

/* Where seg is cut for offset: at the first batch whose last offset is
 * >= offset (the batch holding it goes whole), or at its end. *end is
 * one past the last batch kept (its base when none is): a cut never
 * leaves offsets past the data, which a restart would not find (the
 * last segment's end is its last batch's). The offset index finds a kept
 * batch to read from. */
static int segment_cut_point(const struct segment *seg, int64_t offset, uint64_t *pos,
                             int64_t *end)
{
    uint64_t p = offset > seg->base_offset
                     ? offset_index_lookup(&seg->index, (uint32_t)(offset - 1 - seg->base_offset))
                     : 0;
    *end = seg->base_offset;
    for (;;) {
        struct batch_header h;
        int rc = segment_read_header(seg, p, seg->size, &h);
        if (rc == -ENODATA)
            break;
        if (rc < 0)
            return rc;
        if (batch_last_offset(&h) >= offset)
            break;
        *end = batch_last_offset(&h) + 1;
        p += batch_size(&h);
    }
    *pos = p;
    return 0;
}

/* Cuts seg for offset (segment_cut_point); its new end offset in *end. */
static int segment_cut(struct segment *seg, int64_t offset, int64_t *end)
{
    uint64_t pos;
    int rc = segment_cut_point(seg, offset, &pos, end);
    if (rc < 0)
        return rc;
    seg->next_offset = *end;
    if ((rc = segment_truncate(seg, pos)) < 0)
        return rc;
    if (seg->durable_size > pos)
        seg->durable_size = pos;
    if ((rc = segment_rescan_tail(seg)) < 0)
        return rc;
    /* Invariant 2: the cut is on disk, the indexes with it. */
    return segment_sync(seg);
}

/* Before anything is cut: what the log keeps is in its segment files,
 * synced (the journal may have been all that made it durable), and the
 * log gets a new id, so that no journal record of the old tail is ever
 * replayed onto what follows the cut (journal_replay.c appends a record
 * that starts at the recovered end). The pre-created next segment goes
 * too; the appends make another once the active segment fills
 * (log_precreate_if_filling). */
static int cut_prepare(struct log *log, int64_t recovery_point)
{
    /* Sealed segments were synced by their seal (no job is out). */
    int rc = segment_sync(log_active(log));
    if (rc == 0)
        log->file_synced_end = log->written_end;
    if (rc == 0)
        rc = log_renew_id(log);
    /* The recovery point first goes below whatever is cut, durably: a cut
     * segment, or one a crash in the middle leaves behind, is read again
     * at the next start, never trusted by a point above it (its time
     * index, for one, would not end with its largest timestamp). */
    if (rc == 0)
        rc = log_write_recovery_point(log, recovery_point);
    if (rc == 0)
        rc = storage_sync_dir(log->dir);
    if (rc == 0 && log->next_seg) {
        segment_destroy(log->next_seg, 1);
        log->next_seg = NULL;
    }
    return rc;
}

/* After the cut: every end the log tracks is at most end; the producer
 * state is what the log holds now (Kafka's truncateAndReload: snapshots
 * past the end removed, durably, the rest replayed from the newest left;
 * emptied: none at all). */
static int cut_finish(struct log *log, int64_t end, bool emptied)
{
    int rc = storage_sync_dir(log->dir);
    if (rc == 0)
        rc = epoch_cache_truncate_end(&log->epochs, end);
    if (rc == 0) {
        log->next_offset = end;
        rc = log_producers_truncated(log, emptied);
    }
    if (rc == 0)
        rc = storage_sync_dir(log->dir);
    if (rc < 0) {
        log_fail(log, rc);
        return log->error;
    }
    log->limit_offset = -1; /* log_read_upto's cached position */
    log->next_offset = log->written_end = end;
    if (log->synced_end > end)
        log->synced_end = end;
    if (log->file_synced_end > end)
        log->file_synced_end = end;
    if (log->jnl_end > end)
        log->jnl_end = end;
    if (log->direct_end > end)
        log->direct_end = end;
    if (log->cp_end > end)
        log->cp_end = end;
    if (log->clean.first_dirty > end)
        log->clean.first_dirty = end;
    log->roll_wanted = 0;
    return 0;
}

/* Removes the segments after segs[keep] (all of them for -1), the newest
 * first, each unlink durable before the next and before anything is cut:
 * a crash in the middle leaves a prefix of the segments, never a hole - a
 * cut segment followed by one that outlived its removal, which a restart
 * would take for the log (a gap the crash made) while the producer
 * snapshots after the cut still describe the data that was in the hole
 * (test_powercut_eos's truncations found it: a wrong LSO). */
static int retire_after(struct log *log, int keep)
{
    int rc = 0;
    while (rc == 0 && log->nsegs - 1 > keep) {
        log_retire_segment(log, log->segs[log->nsegs - 1], 1);
        log->nsegs--;
        rc = storage_sync_dir(log->dir);
    }
    return rc;
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
    int rc = cut_prepare(log, log->segs[i]->base_offset);
    if (rc < 0) {
        log_fail(log, rc);
        return log->error;
    }
    if ((rc = retire_after(log, i)) < 0) {
        log_fail(log, rc);
        return log->error;
    }
    int64_t end = offset;
    if ((rc = segment_cut(log->segs[i], offset, &end)) < 0) {
        log_fail(log, rc);
        return log->error;
    }
    return cut_finish(log, end, false);
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
    int rc = cut_prepare(log, 0);
    /* The old segments go first (and their names durably): a new segment
     * whose name exists already (the log starts at offset and is emptied)
     * is the old one cut to nothing. */
    if (rc == 0)
        rc = retire_after(log, -1);
    if (rc == 0)
        rc = segment_create(&seg, log->dir, offset, now_ms);
    if (rc == 0 && (rc = log_add_segment(log, seg)) < 0)
        segment_destroy(seg, 1);
    if (rc == 0)
        rc = epoch_cache_truncate_end(&log->epochs, 0);
    if (rc < 0) {
        log_fail(log, rc);
        return log->error;
    }
    log->start_offset = offset;
    if ((rc = cut_finish(log, offset, true)) < 0)
        return rc;
    log->synced_end = log->file_synced_end = offset;
    log->clean.first_dirty = offset;
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
