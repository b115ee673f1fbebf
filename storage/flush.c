/* flush.c - writing and syncing a log: the group commit (see log.h).
 *
 * Everything appended during one loop turn leaves in one pwritev from the
 * caller's thread, and one fdatasync at a time is in flight on the
 * caller's io_uring, covering everything written before it was submitted.
 * Measured here (bench/storage_bench.c, DESIGN.md's facts): buffered
 * writes submitted through io_uring are punted to io-wq workers on this
 * ext4 and copy into the page cache 3-5x slower than a plain pwritev from
 * the shard, while the fdatasync is what takes long and is what must not
 * block the shard. So the write is a syscall per log per turn (never per
 * message) and only the sync goes through the ring.
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
 */
#include "storage/log_private.h"
#include "storage/producer_snapshot.h"
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

static void log_fail(struct log *log, int res)
{
    if (!log->error) {
        log->error = res < 0 ? res : -EIO;
        slog(SLOG_ERROR, "storage", "log failed for good dir=%s error=\"%s\"", log->dir,
             strerror(-log->error));
    }
}

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

static void on_sync_done(struct io_op *op, int res, uint32_t flags)
{
    struct log_flush *f = (struct log_flush *)((char *)op - offsetof(struct log_flush, sync_op));
    struct log *log = f->log;
    (void)flags;
    f->inflight = false;
    if (log->metrics) {
        hist_record(&log->metrics->fsync_ns, (uint64_t)(mono_ns() - f->submit_ns));
        if (res < 0)
            log->metrics->fsync_errors++;
        else
            hist_record(&log->metrics->commit_records,
                        (uint64_t)(f->sync_end - log->synced_end));
    }
    if (res < 0) {
        log_fail(log, res);
        return;
    }
    if (log->synced_end < f->sync_end)
        log->synced_end = f->sync_end; /* a seal may have passed it */
    log->last_sync_ms = f->sync_ms;
    log->unsynced_messages -= f->sync_messages;
    if (log->cfg.flush == FLUSH_ALWAYS && f->seg->durable_size < f->end_pos)
        f->seg->durable_size = f->end_pos;
}

/* The sealed segment's indexes: written and synced, then the recovery
 * point moves past it. Small files, once per segment. */
static int seal_finish(struct log *log, struct segment *seg)
{
    if (segment_flush_indexes(seg) < 0 || storage_sys.fdatasync(seg->index.fd) < 0 ||
        storage_sys.fdatasync(seg->timeindex.fd) < 0 || segment_sync_txnindex(seg, log->dir) < 0 ||
        producer_snapshot_sync(log->dir, seg->next_offset) < 0)
        return -EIO;
    seg->durable_size = seg->size;
    if (log->synced_end < seg->next_offset)
        log->synced_end = seg->next_offset;
    return log_write_recovery_point(log, seg->next_offset);
}

static void on_seal_done(struct io_op *op, int res, uint32_t flags)
{
    struct log_seal *s = (struct log_seal *)((char *)op - offsetof(struct log_seal, op));
    struct log *log = s->log;
    (void)flags;
    s->inflight = 0;
    if (res < 0 || seal_finish(log, s->seg) < 0) {
        log_fail(log, res < 0 ? res : -EIO);
        return;
    }
    s->seg = NULL;
}

int log_flush_init(struct log *log)
{
    uint32_t n = log->cfg.max_pending ? log->cfg.max_pending : 1;
    if (n > IOV_MAX)
        n = IOV_MAX;
    log->cfg.max_pending = n;
    log->queue.iov = calloc(n, sizeof(struct iovec));
    log->queue.owned = calloc(n, sizeof(uint8_t *));
    if (!log->queue.iov || !log->queue.owned)
        return -ENOMEM;
    log->flush.log = log;
    log->flush.sync_op.complete = on_sync_done;
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
    free(log->queue.iov);
    free(log->queue.owned);
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

/* Writes the queue to its segment. */
static int flush_write(struct log *log)
{
    struct log_batchq *q = &log->queue;
    if (q->count == 0)
        return 0;
    int rc = pwritev_all(q->seg->fd, q->iov, q->count, q->pos);
    if (log->metrics) {
        log->metrics->writes++;
        log->metrics->write_bytes += q->bytes;
    }
    if (rc < 0 || (rc = segment_flush_indexes(q->seg)) < 0) {
        log_fail(log, rc);
        return rc;
    }
    log->written_end = q->end_offset;
    if (log->cfg.flush != FLUSH_ALWAYS)
        q->seg->durable_size = q->pos + q->bytes;
    queue_release(q);
    return 0;
}

static bool sync_wanted(const struct log *log, int64_t now_ms)
{
    if (log->written_end <= log->synced_end)
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

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe && io_uring_submit(ring) >= 0)
        sqe = io_uring_get_sqe(ring);
    return sqe;
}

int log_flush_submit(struct log *log, struct io_uring *ring, int64_t now_ms)
{
    struct log_flush *f = &log->flush;
    struct log_seal *s = &log->seal;
    int n = 0;
    if (log->error)
        return log->error;
    if (flush_write(log) < 0)
        return log->error;
    if (s->seg && !s->inflight) {
        struct io_uring_sqe *sqe = get_sqe(ring);
        if (!sqe)
            return -EBUSY;
        storage_sys.prep_fdatasync(sqe, s->seg->fd, &s->op);
        s->inflight = 1;
        n++;
    }
    if (!f->inflight && !s->seg && sync_wanted(log, now_ms)) {
        struct segment *seg = log_active(log);
        struct io_uring_sqe *sqe = get_sqe(ring);
        if (!sqe)
            return n > 0 ? n : -EBUSY;
        storage_sys.prep_fdatasync(sqe, seg->fd, &f->sync_op);
        f->inflight = true;
        f->seg = seg;
        f->end_pos = seg->size;
        f->sync_end = log->written_end;
        f->sync_ms = now_ms;
        f->sync_messages = log->unsynced_messages;
        f->submit_ns = log->metrics ? mono_ns() : 0;
        n++;
    }
    return n;
}

bool log_flush_pending(const struct log *log)
{
    return log->queue.count > 0 || log->flush.inflight || log->seal.seg != NULL ||
           (log->cfg.flush == FLUSH_ALWAYS && log->synced_end < log->written_end);
}

bool log_roll_ready(const struct log *log)
{
    if (log->queue.count > 0 || log->seal.seg)
        return false;
    /* With "always" the old segment is fully synced before it is left:
     * then one fdatasync on the active file covers every durable byte. */
    return log->cfg.flush != FLUSH_ALWAYS ||
           (!log->flush.inflight && log->synced_end == log->written_end);
}

int log_seal_now(struct log *log, struct segment *seg)
{
    if (log->cfg.flush == FLUSH_ALWAYS)
        return seal_finish(log, seg); /* its data is synced already */
    log->seal.seg = seg; /* log_flush_submit syncs it */
    return 0;
}

/* Writes and syncs everything, without the ring (close). Nothing may be
 * in flight on a ring. */
int log_flush_blocking(struct log *log)
{
    if (log->error)
        return log->error;
    if (log->flush.inflight || log->seal.inflight)
        return -EBUSY;
    int rc = flush_write(log);
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
    log->written_end = log->synced_end = log->next_offset;
    return 0;
}
