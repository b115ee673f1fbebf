/* flush.c - writing and syncing a log: the group commit (see log.h).
 *
 * Everything appended during one loop turn leaves in one writev, linked to
 * one fdatasync when the policy asks for it, submitted on the caller's
 * io_uring. Completions advance written_end and synced_end, which is what
 * acks wait on.
 *
 * Invariants:
 *   1. synced_end only moves after a successful fdatasync that was issued
 *      after the write of every byte below it completed.
 *   2. After any failed write or sync the log is failed for good
 *      (log->error): an fsync error may have dropped dirty pages, so
 *      nothing may be reported durable again (see PostgreSQL's fsyncgate).
 *   3. A sealed segment is synced, with its indexes, once its last write
 *      completed; only then does the recovery point move past it.
 */
#include "storage/log_private.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void log_fail(struct log *log, int res)
{
    if (!log->error)
        log->error = res < 0 ? res : -EIO;
}

/* Bytes and offsets of f->q are durable per policy now. */
static void flush_mark_durable(struct log_flush *f)
{
    if (f->end_seg && f->end_seg->durable_size < f->end_pos)
        f->end_seg->durable_size = f->end_pos;
}

static void on_write_done(struct io_op *op, int res, uint32_t flags)
{
    (void)flags;
    struct log_flush *f = (struct log_flush *)((char *)op - offsetof(struct log_flush, write_op));
    struct log *log = f->log;
    f->inflight--;
    if (res < 0) {
        log_fail(log, res);
        return;
    }
    f->done += (uint64_t)res;
    if (f->done < f->q.bytes) {
        if (res == 0)
            log_fail(log, -EIO);
        return; /* short write: log_flush_submit writes the rest */
    }
    log->written_end = f->q.end_offset;
    if (log->cfg.flush != FLUSH_ALWAYS)
        flush_mark_durable(f);
}

static void on_sync_done(struct io_op *op, int res, uint32_t flags)
{
    (void)flags;
    struct log_flush *f = (struct log_flush *)((char *)op - offsetof(struct log_flush, sync_op));
    struct log *log = f->log;
    f->inflight--;
    if (res == -ECANCELED && !log->error && f->done < f->q.bytes)
        return; /* the linked write was short; it is retried with its sync */
    if (res < 0) {
        log_fail(log, res);
        return;
    }
    log->synced_end = f->sync_end;
    log->last_sync_ms = f->sync_ms;
    log->unsynced_messages -= f->sync_messages;
    flush_mark_durable(f);
}

static void on_seal_done(struct io_op *op, int res, uint32_t flags)
{
    (void)flags;
    struct log_seal *s = (struct log_seal *)((char *)op - offsetof(struct log_seal, op));
    struct log *log = s->log;
    struct segment *seg = s->seg;
    s->inflight = 0;
    if (res < 0) {
        log_fail(log, res);
        return;
    }
    /* The indexes are small: syncing them here costs well under a
     * millisecond once per segment. */
    if (segment_flush_indexes(seg) < 0 || fdatasync(seg->index.fd) < 0 ||
        fdatasync(seg->timeindex.fd) < 0) {
        log_fail(log, -EIO);
        return;
    }
    s->seg = NULL;
    if (log_write_recovery_point(log, seg->next_offset) < 0)
        log_fail(log, -EIO);
}

int log_flush_init(struct log *log)
{
    uint32_t n = log->cfg.max_pending ? log->cfg.max_pending : 1;
    if (n > IOV_MAX)
        n = IOV_MAX;
    log->cfg.max_pending = n;
    log->queue.iov = calloc(n, sizeof(struct iovec));
    log->flush.q.iov = calloc(n, sizeof(struct iovec));
    if (!log->queue.iov || !log->flush.q.iov)
        return -ENOMEM;
    log->flush.log = log;
    log->flush.write_op.complete = on_write_done;
    log->flush.sync_op.complete = on_sync_done;
    log->seal.log = log;
    log->seal.op.complete = on_seal_done;
    return 0;
}

void log_flush_free(struct log *log)
{
    free(log->queue.iov);
    free(log->flush.q.iov);
}

/* Drops the first n written bytes from f->q after a short write. */
static void flush_advance(struct log_flush *f)
{
    uint64_t n = f->done;
    struct log_batchq *q = &f->q;
    uint32_t i = 0;
    while (i < q->count && n >= q->iov[i].iov_len)
        n -= q->iov[i++].iov_len;
    memmove(q->iov, q->iov + i, (q->count - i) * sizeof(*q->iov));
    q->count -= i;
    q->iov[0].iov_base = (char *)q->iov[0].iov_base + n;
    q->iov[0].iov_len -= n;
    q->pos += f->done;
    q->bytes -= f->done;
    f->done = 0;
}

static bool seg_busy(const struct log *log, const struct segment *seg)
{
    const struct log_flush *f = &log->flush;
    return (log->queue.count > 0 && log->queue.seg == seg) ||
           ((f->inflight > 0 || f->done < f->q.bytes) && f->q.seg == seg);
}

static int submit_seal(struct log *log, struct io_uring *ring)
{
    struct log_seal *s = &log->seal;
    if (!s->seg || s->inflight || seg_busy(log, s->seg))
        return 0;
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_fsync(sqe, s->seg->fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data(sqe, &s->op);
    s->inflight = 1;
    return 1;
}

static bool sync_wanted(const struct log *log, int64_t now_ms)
{
    int64_t end = log->queue.count ? log->queue.end_offset : log->written_end;
    if (end <= log->synced_end)
        return false;
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

int log_flush_submit(struct log *log, struct io_uring *ring, int64_t now_ms)
{
    struct log_flush *f = &log->flush;
    if (log->error)
        return log->error;
    int n = submit_seal(log, ring);
    if (n < 0 || f->inflight > 0)
        return n;

    int retry = f->done < f->q.bytes; /* a short write left a remainder */
    if (retry)
        flush_advance(f);
    int with_sync = sync_wanted(log, now_ms);
    if (!retry && log->queue.count == 0 && !with_sync)
        return n;
    if (io_uring_sq_space_left(ring) < 2u)
        return n > 0 ? n : -EBUSY;

    if (!retry) {
        /* Swap the queue into the flush: new appends go to a fresh one. */
        struct iovec *spare = f->q.iov;
        f->q = log->queue;
        f->done = 0;
        log->queue.iov = spare;
        log->queue.count = 0;
        log->queue.bytes = 0;
        f->end_seg = f->q.count > 0 ? f->q.seg : NULL;
        f->end_pos = f->q.pos + f->q.bytes;
        if (f->q.count > 0 && segment_flush_indexes(f->q.seg) < 0) {
            log_fail(log, -EIO);
            return log->error;
        }
    }
    if (f->q.count > 0) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        io_uring_prep_writev(sqe, f->q.seg->fd, f->q.iov, f->q.count, f->q.pos);
        io_uring_sqe_set_data(sqe, &f->write_op);
        if (with_sync)
            sqe->flags |= IOSQE_IO_LINK;
        f->inflight++;
        n++;
    }
    f->with_sync = with_sync;
    if (with_sync) {
        struct segment *seg = f->q.count > 0 ? f->q.seg : log_active(log);
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        io_uring_prep_fsync(sqe, seg->fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_data(sqe, &f->sync_op);
        f->sync_end = f->q.count > 0 ? f->q.end_offset : log->written_end;
        f->sync_ms = now_ms;
        f->sync_messages = log->unsynced_messages;
        f->inflight++;
        n++;
    }
    return n;
}

bool log_flush_pending(const struct log *log)
{
    const struct log_flush *f = &log->flush;
    return log->queue.count > 0 || f->inflight > 0 || f->done < f->q.bytes ||
           log->seal.seg != NULL ||
           (log->cfg.flush == FLUSH_ALWAYS && log->synced_end < log->written_end);
}

static int pwritev_all(int fd, struct iovec *iov, uint32_t count, uint64_t pos)
{
    while (count > 0) {
        ssize_t n = pwritev(fd, iov, (int)count, (off_t)pos);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
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

/* Writes and syncs everything, without the ring (close). Nothing may be
 * in flight on a ring. */
int log_flush_blocking(struct log *log)
{
    struct log_flush *f = &log->flush;
    if (log->error)
        return log->error;
    if (f->inflight > 0 || log->seal.inflight)
        return -EBUSY;
    int rc = 0;
    if (f->done < f->q.bytes) {
        flush_advance(f);
        rc = pwritev_all(f->q.seg->fd, f->q.iov, f->q.count, f->q.pos);
        f->q.bytes = 0;
    }
    if (rc == 0 && log->queue.count > 0) {
        struct log_batchq *q = &log->queue;
        rc = pwritev_all(q->seg->fd, q->iov, q->count, q->pos);
        q->count = 0;
        q->bytes = 0;
    }
    for (int i = 0; rc == 0 && i < log->nsegs; i++) {
        struct segment *seg = log->segs[i];
        if (seg == log_active(log) || seg == log->seal.seg) {
            if (segment_flush_indexes(seg) < 0 || fdatasync(seg->fd) < 0 ||
                fdatasync(seg->index.fd) < 0 || fdatasync(seg->timeindex.fd) < 0)
                rc = -EIO;
            seg->durable_size = seg->size;
        }
    }
    if (rc < 0) {
        log_fail(log, rc);
        return rc;
    }
    log->seal.seg = NULL;
    log->written_end = log->synced_end = log->next_offset;
    return 0;
}
