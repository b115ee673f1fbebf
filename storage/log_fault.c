/* log_fault.c - a partition log that hit a disk fault goes offline (see
 * log.h, "disk faults").
 *
 * Kafka's answer to an I/O error on a log directory is to take what lives
 * there offline and keep the rest of the broker serving; a restart brings
 * it back once the disk reads again. A log here is its own "directory":
 *
 *   serving  --read or write fault-->  offline (sticky, until the process
 *                                      exits; log_fault() says why)
 *
 *   - A read fault: an unexpected errno (EIO, or anything but the answers
 *     that describe the data or the caller, log_errno_is_fault) from a
 *     read of one of the log's segment files - the batch headers log_read
 *     looks up, a ListOffsets scan, the cleaner's reads, or a fetch's
 *     splice/TLS read in the dataplane (log_read_failed).
 *   - A write fault: log_fail with such an errno (a failed pwrite or
 *     fdatasync of the log or of the shard's journal, a failed seal).
 *     ENOSPC and EDQUOT are not faults: a full disk keeps the log readable
 *     up to its durable end and refuses appends (log.h, invariant 2).
 *
 * Going offline is also log_fail: the log refuses appends and never
 * reports anything durable again (invariant 2), so nothing is written
 * after a fault, and log_close leaves no clean-shutdown marker - the next
 * open re-reads every segment the crash way and either serves it again
 * (the disk reads) or fails to open. Reads are refused by the owner (the
 * shard answers KAFKA_STORAGE_ERROR), told through the fault handler.
 *
 * Never: retries, or takes a log back online; runs off the log's own
 * thread (jobs and cleaner runs hand their results back first). */
#include "storage/log_private.h"
#include "slog/slog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool log_errno_is_fault(int err)
{
    switch (err) {
    case 0:
    case -ENOSPC:     /* a full disk: read-only, not offline */
    case -EDQUOT:
    case -ENOMEM:     /* ours, not the disk's */
    case -EAGAIN:
    case -EINTR:
    case -ECANCELED:
    case -EBUSY:
    case -EBADMSG:    /* bytes that are not a batch: the data, not the disk */
    case -ERANGE:
    case -ENOENT:
    case -ENODATA:
    case -EINVAL:
        return false;
    default:
        return err < 0;
    }
}

void log_set_fault_handler(struct log *log, log_fault_fn fn, void *ctx)
{
    log->fault_fn = fn;
    log->fault_ctx = ctx;
}

const struct log_fault *log_fault(const struct log *log)
{
    return log->fault.err ? &log->fault : NULL;
}

bool log_offline(const struct log *log)
{
    return log->fault.err != 0;
}

void log_fault_raise(struct log *log, int err, const char *file, const char *op)
{
    if (log->fault.err || !log_errno_is_fault(err))
        return;
    struct log_fault *f = &log->fault;
    f->err = err;
    snprintf(f->op, sizeof(f->op), "%s", op);
    snprintf(f->file, sizeof(f->file), "%s", file ? file : log->dir);
    if (!log->error)
        log->error = err; /* log_fail's sticky state, without its line */
    if (log->fault_fn) {
        log->fault_fn(log->fault_ctx, log); /* the owner says it, naming the partition */
        return;
    }
    slog(SLOG_ERROR, "storage",
         "partition offline dir=%s file=%s op=%s errno=%d error=\"%s\" "
         "(a disk fault: produce, fetch and list offsets answer KAFKA_STORAGE_ERROR "
         "until a restart reads it cleanly)",
         log->dir, f->file, f->op, -err, strerror(-err));
}

void log_fault_raise_seg(struct log *log, int err, const struct segment *seg, const char *op)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s.log%s", seg->base_path, seg->suffix);
    log_fault_raise(log, err, path, op);
}

bool log_read_failed(struct log *log, int fd, int err, const char *op)
{
    for (int i = 0; i < log->nsegs; i++)
        if (log->segs[i]->fd == fd) {
            log_fault_raise_seg(log, err, log->segs[i], op);
            return true;
        }
    for (int i = 0; i < log->nretired; i++)
        if (log->retired[i] == fd) {
            log_fault_raise(log, err, NULL, op); /* a segment that left the log */
            return true;
        }
    return false;
}
