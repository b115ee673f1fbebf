/* flush.c - writing and syncing a log: the group commit (see log.h).
 *
 * Everything appended during one loop turn leaves in one writev on the
 * caller's io_uring, and one fdatasync at a time is in flight on it,
 * linked after the write (IOSQE_IO_LINK) so it covers every byte written
 * before it. Nothing here blocks the caller's thread.
 *
 * Why the write is on the ring (measured, README "Latency"): a plain
 * pwritev from the shard copies 3-5x faster than io_uring's io-wq
 * workers do (buffered writes on ext4 cannot be issued without blocking,
 * pwritev2(RWF_NOWAIT) gives EOPNOTSUPP, so io_uring always punts them),
 * but it blocks the shard for milliseconds whenever writeback holds the
 * inode's i_data_sem (ext4_da_get_block_prep / ext4_da_write_end waiting
 * in rwsem_down_write_slowpath behind an fdatasync or the flusher's block
 * allocation): 10-45 ms stalls of the whole loop turn at 100k msgs/s,
 * seen with sched_switch stacks. A write on the ring costs one hand-off
 * per log per turn (never per message) and never stalls the loop.
 *
 * With the shard's journal (journal.h), a unit's record in the journal's
 * commit is its sync; a unit the journal has no room for syncs its own
 * file, and the log journals again only once that sync covered it, so
 * journal records always continue a durable prefix (a record never makes
 * durable the bytes of an earlier unit it does not hold). synced_end
 * only ever grows, whichever kind of sync completes first.
 *
 * One write in flight per log: what is appended meanwhile waits in the
 * queue for the next one (the queue and the in-flight write swap their
 * arrays). Index entries are not written on the way: recovery rebuilds
 * the indexes of every segment it does not trust, so they are written
 * only when a segment is sealed and when the log is closed.
 *
 * Invariants:
 *   1. synced_end only moves after a successful fdatasync submitted after
 *      every byte below it was written, on the file that holds them: with
 *      flush "always" a segment is rolled only once fully synced.
 *   2. After any failed write or sync the log is failed for good
 *      (log->error): an fsync error may have dropped dirty pages, so
 *      nothing may be reported durable again (PostgreSQL's fsyncgate).
 *   3. A sealed segment is synced, with its indexes, before the recovery
 *      point moves past it.
 *   4. With every policy, synced_end is exact: an fdatasync of the active
 *      segment is not started while a sealed one still waits for its own
 *      (so no offset counts as synced while an older one is not), and a
 *      seal moves it to the sealed segment's end.
 *   5. written_end only moves when a whole write completed: a short write
 *      is finished by another write before anything counts as written.
 *
 * Cancelled: io_uring answers -ECANCELED for a punted operation it never
 * ran when io-wq could not start a worker for it (io_wq_enqueue cancels
 * pending work when creating the first worker fails), which a busy
 * machine does now and then (integration-dpdk-tap failed a log that way).
 * Nothing was written or synced, so an unlinked write or sync that comes
 * back cancelled is simply issued again, up to RING_CANCEL_RETRIES times
 * in a row; a linked sync cancelled by its write's short count is covered
 * by a later one.
 */
#include "storage/journal_private.h"
#include "storage/sys.h"
#include "metrics/shard_metrics.h"
#include "slog/slog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RING_CANCEL_RETRIES 8

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void log_set_metrics(struct log *log, struct flush_metrics *m)
{
    log->metrics = m;
}

/* The unit f's sync covers is durable: the high watermark moves. */
static void sync_apply(struct log *log, struct log_flush *f)
{
    /* Never backwards: a journal commit may have made more durable since
     * this fdatasync was submitted. */
    if (f->sync_end > log->synced_end)
        log->synced_end = f->sync_end;
    if (f->sync_end > log->file_synced_end)
        log->file_synced_end = f->sync_end; /* the segment's own fdatasync */
    log->last_sync_ms = f->sync_ms;
    log->unsynced_messages -= f->sync_messages;
    if (log->cfg.flush == FLUSH_ALWAYS && f->seg->durable_size < f->end_pos)
        f->seg->durable_size = f->end_pos;
}

/* Durable up to end (position end_pos of seg): the high watermark moves. */
static void durable_apply(struct log *log, int64_t end, uint64_t end_pos, struct segment *seg)
{
    if (end > log->synced_end)
        log->synced_end = end;
    if (seg->durable_size < end_pos)
        seg->durable_size = end_pos;
}

/* A journaled unit is durable once its journal commit is synced and its
 * segment write completed, in either order: only then is it readable at
 * the high watermark too. Writes complete in order and so do commits,
 * and a log's next write starts only after the last one completed, so at
 * most one synced unit waits for its write. */
void log_journal_synced(struct log *log, int64_t end, uint64_t end_pos, struct segment *seg,
                        int res)
{
    log->jnl_outstanding--;
    if (res < 0) {
        /* a disk fault blames the journal's file; a full disk fails as usual */
        log_fault_raise(log, res, log->journal ? log->journal->path : NULL, "journal commit");
        log_fail(log, res);
        return;
    }
    if (log->error)
        return;
    if (log->written_end >= end) {
        durable_apply(log, end, end_pos, seg);
        return;
    }
    log->jnl_pending.valid = true;
    log->jnl_pending.end = end;
    log->jnl_pending.end_pos = end_pos;
    log->jnl_pending.seg = seg;
}

static void on_sync_done(struct io_op *op, int res, uint32_t flags)
{
    struct log_flush *f = (struct log_flush *)((char *)op - offsetof(struct log_flush, sync_op));
    struct log *log = f->log;
    (void)flags;
    f->inflight = false;
    if (res == -ECANCELED && (f->chained || !log->error)) {
        /* Its write came back short, which breaks the link (the write is
         * finished on its own), or io-wq never ran it: a later sync
         * covers it (see "Cancelled"). */
        return;
    }
    if (log->metrics) {
        hist_record(&log->metrics->fsync_ns, (uint64_t)(mono_ns() - f->submit_ns));
        if (res < 0)
            log->metrics->fsync_errors++;
        else if (f->sync_end > log->synced_end) /* the journal may have been first */
            hist_record(&log->metrics->commit_records,
                        (uint64_t)(f->sync_end - log->synced_end));
    }
    if (res < 0 || log->error) {
        log_fail_op(log, res, "fdatasync"); /* or its write failed: nothing new is durable */
        return;
    }
    sync_apply(log, f);
}

/* The sealed segment's indexes: written and synced, then the recovery
 * point moves past it. Small files, once per segment, in a job
 * (log_jobs.c): never on the owner's loop when it has a job runner. */
int log_seal_files(struct log *log, struct segment *seg)
{
    /* The .log too: with a journal its data may be synced only there
     * (cheap when the file is synced already). */
    if (segment_flush_indexes(seg) < 0 || storage_sys.fdatasync(seg->fd) < 0 ||
        storage_sys.fdatasync(seg->index.fd) < 0 || storage_sys.fdatasync(seg->timeindex.fd) < 0 ||
        segment_sync_txnindex(seg, log->dir) < 0 || log_producers_snapshot_store(log, seg) < 0)
        return -EIO;
    return log_write_recovery_point(log, seg->next_offset);
}

static void on_seal_done(struct io_op *op, int res, uint32_t flags)
{
    struct log_seal *s = (struct log_seal *)((char *)op - offsetof(struct log_seal, op));
    struct log *log = s->log;
    (void)flags;
    s->inflight = 0;
    if (res == -ECANCELED && !log->error)
        return; /* never ran: log_flush_submit issues it again */
    if (res < 0) {
        log_fail(log, res);
        return;
    }
    s->synced = true;
    log_post_job(log, LOG_JOB_SEAL, s->seg);
}

static void on_write_done(struct io_op *op, int res, uint32_t flags);

int log_flush_init(struct log *log)
{
    uint32_t n = log->cfg.max_pending ? log->cfg.max_pending : 1;
    if (n > IOV_MAX)
        n = IOV_MAX;
    log->cfg.max_pending = n;
    log->queue.iov = calloc(n, sizeof(struct iovec));
    log->queue.owned = calloc(n, sizeof(uint8_t *));
    log->write.q.iov = calloc(n, sizeof(struct iovec));
    log->write.q.owned = calloc(n, sizeof(uint8_t *));
    if (!log->queue.iov || !log->queue.owned || !log->write.q.iov || !log->write.q.owned)
        return -ENOMEM;
    log->flush.log = log;
    log->flush.sync_op.complete = on_sync_done;
    log->write.log = log;
    log->write.op.complete = on_write_done;
    log->seal.log = log;
    log->seal.op.complete = on_seal_done;
    return 0;
}

static void queue_release(struct log_batchq *q)
{
    for (uint32_t i = 0; q->owned && i < q->count; i++) {
        free(q->owned[i]);
        q->owned[i] = NULL;
    }
    q->count = 0;
    q->bytes = 0;
}

void log_flush_free(struct log *log)
{
    queue_release(&log->queue);
    queue_release(&log->write.q);
    free(log->queue.iov);
    free(log->queue.owned);
    free(log->write.q.iov);
    free(log->write.q.owned);
}

static int pwritev_all(int fd, struct iovec *iov, uint32_t count, uint64_t pos)
{
    while (count > 0) {
        ssize_t n = storage_sys.pwritev(fd, iov, (int)(count > IOV_MAX ? IOV_MAX : count), (off_t)pos);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        pos += (uint64_t)n;
        while (count > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            count--;
        }
        if (count > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* The batches of q are in the file: they count as written. */
static void write_done(struct log *log, struct log_batchq *q)
{
    if (log->metrics) {
        log->metrics->writes++;
        log->metrics->write_bytes += q->bytes;
    }
    log->written_end = q->end_offset;
    if (log->cfg.flush != FLUSH_ALWAYS)
        q->seg->durable_size = q->pos + q->bytes;
    queue_release(q);
    if (log->jnl_pending.valid && log->jnl_pending.end <= log->written_end && !log->error) {
        log->jnl_pending.valid = false;
        durable_apply(log, log->jnl_pending.end, log->jnl_pending.end_pos, log->jnl_pending.seg);
    }
}

static bool sync_wanted(const struct log *log, int64_t written_end, int64_t now_ms)
{
    /* A roll waits for the old segment's file itself to be synced
     * (log_roll_ready), even when the journal made all of it durable. */
    if (log->roll_wanted && log->cfg.flush == FLUSH_ALWAYS && log->file_synced_end < written_end)
        return true;
    if (written_end <= log->synced_end)
        return false; /* durable */
    if (log->journal && written_end <= log->jnl_end && log->synced_end >= log->direct_end)
        return false; /* the journal's records cover all that is not */
    switch (log->cfg.flush) {
    case FLUSH_ALWAYS:
        return true;
    case FLUSH_INTERVAL:
        return log->unsynced_messages >= log->cfg.flush_messages ||
               now_ms - log->last_sync_ms >= log->cfg.flush_ms;
    default:
        return false;
    }
}

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe && io_uring_submit(ring) >= 0)
        sqe = io_uring_get_sqe(ring);
    return sqe;
}

/* Queues the write of what remains of the in-flight batches (from the
 * first byte not yet written). */
static int write_submit(struct log *log, struct io_uring *ring, unsigned sqe_flags)
{
    struct log_write *w = &log->write;
    struct io_uring_sqe *sqe = get_sqe(ring);
    if (!sqe)
        return -EBUSY;
    uint32_t n = w->q.count - w->first;
    storage_sys.prep_writev(sqe, w->q.seg->fd, w->q.iov + w->first, n > IOV_MAX ? IOV_MAX : n,
                            w->q.pos + w->done, &w->op);
    sqe->flags |= sqe_flags;
    w->ring = ring;
    w->inflight = true;
    return 0;
}

/* Drops n written bytes from the front of the in-flight iovecs. */
static void write_advance(struct log_write *w, size_t n)
{
    w->done += n;
    while (w->first < w->q.count && n >= w->q.iov[w->first].iov_len) {
        n -= w->q.iov[w->first].iov_len;
        w->first++;
    }
    if (w->first < w->q.count) {
        w->q.iov[w->first].iov_base = (char *)w->q.iov[w->first].iov_base + n;
        w->q.iov[w->first].iov_len -= n;
    }
}

static void on_write_done(struct io_op *op, int res, uint32_t flags)
{
    struct log_write *w = (struct log_write *)((char *)op - offsetof(struct log_write, op));
    struct log *log = w->log;
    (void)flags;
    w->inflight = false;
    if (res == -ECANCELED && !log->error && w->cancels++ < RING_CANCEL_RETRIES) {
        if (write_submit(log, w->ring, 0) == 0) /* never ran: see "Cancelled" */
            return;
        res = -EIO;
    }
    if (res <= 0) {
        log_fail(log, res == 0 ? -EIO : res);
        queue_release(&w->q);
        return;
    }
    w->cancels = 0;
    write_advance(w, (size_t)res);
    if (w->done < w->q.bytes) {
        /* Short: write the rest (the linked sync, if any, was cancelled). */
        if (log->error || write_submit(log, w->ring, 0) < 0)
            log_fail(log, -EIO);
        return;
    }
    write_done(log, &w->q);
}

/* Starts the write of the queue: its arrays swap with the in-flight ones. */
static void write_start(struct log *log)
{
    struct log_write *w = &log->write;
    struct log_batchq done = w->q;
    w->q = log->queue;
    log->queue = done;
    log->queue.count = 0;
    log->queue.bytes = 0;
    w->first = 0;
    w->done = 0;
}

/* The fdatasync of the active segment, covering everything written up to
 * end (chained: linked after the write that ends there). */
static void sync_note(struct log *log, int64_t end, uint64_t end_pos, bool chained,
                      int64_t now_ms)
{
    struct log_flush *f = &log->flush;
    f->inflight = true;
    f->chained = chained;
    f->seg = log_active(log);
    f->end_pos = end_pos;
    f->sync_end = end;
    f->sync_ms = now_ms;
    f->sync_messages = log->unsynced_messages;
    f->submit_ns = log->metrics ? mono_ns() : 0;
}

static void sync_prep(struct log *log, struct io_uring_sqe *sqe, int64_t end, uint64_t end_pos,
                      bool chained, int64_t now_ms)
{
    storage_sys.prep_fdatasync(sqe, log_active(log)->fd, &log->flush.sync_op);
    sync_note(log, end, end_pos, chained, now_ms);
}

int log_flush_submit(struct log *log, struct io_uring *ring, int64_t now_ms)
{
    struct log_flush *f = &log->flush;
    struct log_seal *s = &log->seal;
    struct log_write *w = &log->write;
    int n = 0;
    if (log->error)
        return log->error;
    if (s->seg && !s->inflight && !s->synced) {
        struct io_uring_sqe *sqe = get_sqe(ring);
        if (!sqe)
            return -EBUSY;
        storage_sys.prep_fdatasync(sqe, s->seg->fd, &s->op);
        s->inflight = 1;
        n++;
    }
    if (!w->inflight && log->queue.count > 0) {
        /* Two SQEs may follow: make sure both fit, so a link is whole. */
        if (io_uring_sq_space_left(ring) < 2 && io_uring_submit(ring) < 0)
            return n > 0 ? n : -EBUSY;
        write_start(log);
        /* With flush "always" and a journal with room, the unit's record in
         * the journal's commit is its fdatasync (journal.h), whatever is in
         * flight; else the log's own, linked after the write. */
        bool journaled = log->journal && log->cfg.flush == FLUSH_ALWAYS &&
                         log->synced_end >= log->direct_end &&
                         journal_add(log->journal, log, &w->q) == 0;
        if (!journaled && log->journal)
            log->direct_end = w->q.end_offset; /* journaled again only once synced */
        bool sync = !journaled && !f->inflight && !s->seg &&
                    sync_wanted(log, w->q.end_offset, now_ms);
        if (write_submit(log, ring, sync ? IOSQE_IO_LINK : 0) < 0)
            return n > 0 ? n : -EBUSY;
        n++;
        if (sync) {
            sync_prep(log, io_uring_get_sqe(ring), w->q.end_offset, w->q.pos + w->q.bytes,
                      true, now_ms);
            n++;
        }
    } else if (!w->inflight && !f->inflight && !s->seg &&
               sync_wanted(log, log->written_end, now_ms)) {
        struct io_uring_sqe *sqe = get_sqe(ring);
        if (!sqe)
            return n > 0 ? n : -EBUSY;
        sync_prep(log, sqe, log->written_end, log_active(log)->size, false, now_ms);
        n++;
    }
    return n;
}

bool log_flush_pending(const struct log *log)
{
    return log->queue.count > 0 || log->write.inflight || log->flush.inflight ||
           log->jnl_outstanding > 0 ||
           log->seal.seg != NULL ||
           (log->cfg.flush == FLUSH_ALWAYS && log->synced_end < log->written_end);
}

bool log_roll_ready(const struct log *log)
{
    if (log->queue.count > 0 || log->write.inflight || log->seal.seg)
        return false;
    /* With "always" the old segment is fully synced before it is left,
     * its file itself and not only the journal: once a later segment
     * exists, recovery takes a hole in an earlier one for a compaction
     * gap, and the journal's records below the next base are never
     * replayed (the power-cut test lost offsets that way). */
    return log->cfg.flush != FLUSH_ALWAYS ||
           (!log->flush.inflight && log->synced_end == log->written_end &&
            log->file_synced_end >= log->written_end);
}

int log_seal_now(struct log *log, struct segment *seg)
{
    log->seal.seg = seg;
    if (log->cfg.flush == FLUSH_ALWAYS) {
        log->seal.synced = true; /* its data is synced already */
        log_post_job(log, LOG_JOB_SEAL, seg);
    }
    /* else log_flush_submit syncs it on the ring first */
    return 0;
}

/* Writes and syncs everything, without the ring (close). Nothing may be
 * in flight on a ring. */
bool log_busy(const struct log *log)
{
    return log->write.inflight || log->flush.inflight || log->seal.inflight ||
           log->jobs_inflight > 0 || log->cp_inflight || log->jnl_outstanding > 0;
}

int log_flush_blocking(struct log *log)
{
    if (log_busy(log))
        return -EBUSY; /* even failed: a completion would find it freed */
    if (log->error)
        return log->error;
    struct log_batchq *q = &log->queue;
    int rc = q->count ? pwritev_all(q->seg->fd, q->iov, q->count, q->pos) : 0;
    if (rc == 0 && q->count)
        write_done(log, q);
    for (int i = 0; rc == 0 && i < log->nsegs; i++) {
        struct segment *seg = log->segs[i];
        if (seg == log_active(log) || seg == log->seal.seg) {
            if (segment_flush_indexes(seg) < 0 || storage_sys.fdatasync(seg->fd) < 0 ||
                storage_sys.fdatasync(seg->index.fd) < 0 ||
                storage_sys.fdatasync(seg->timeindex.fd) < 0 ||
                segment_sync_txnindex(seg, log->dir) < 0)
                rc = -EIO;
            seg->durable_size = seg->size;
        }
    }
    if (rc < 0) {
        log_fail(log, rc);
        return rc;
    }
    log->seal.seg = NULL;
    log->seal.synced = false;
    log->written_end = log->synced_end = log->file_synced_end = log->next_offset;
    return 0;
}
