/* log_jobs.c - a log's slow file-system work, as jobs its owner may run on
 * another thread (see log.h): no loop turn waits for a segment to be
 * created, named, sealed or deleted.
 *
 * A roll (log.c) takes the pre-created segment, whose files exist under
 * temporary names with their names synced, so it makes no system call;
 * then it posts, in this order:
 *   NAME      rename the new segment's files to <base>.* and sync the
 *             directory (until then a crash leaves .next.log holding
 *             batches, which recovery names by its first batch:
 *             segment_adopt_next)
 *   SEAL      (once the old segment's data is synced) write its indexes
 *             (.txnindex too) and the producer snapshot the roll encoded,
 *             fdatasync them, move the recovery point past it
 *   PRECREATE the next .next.* files, after NAME moved the old ones away
 * and retention posts RETIRE for each segment it drops (close, unlink).
 *
 * What a job touches on the other thread: the segment it carries (which
 * the owner no longer writes: a sealed or pre-created or dropped one; the
 * owner may still read a sealed segment's in-memory entries and file),
 * and files of the log's directory. Everything else of the log is the
 * owner's, updated in log_job_finish.
 *
 * Invariants:
 *   1. A segment is rolled onto only once its files and their names are
 *      durable (PRECREATE syncs the directory), so a crash never loses
 *      the name of a file that holds acknowledged data.
 *   2. PRECREATE never truncates a segment in use: it runs after the NAME
 *      of the segment rolled onto (one runner, jobs in order), and a
 *      failed NAME fails the log for good.
 *   3. The recovery point moves past a segment only in its SEAL, after
 *      its data was synced.
 */
#include "storage/log_private.h"
#include "storage/sys.h"
#include "slog/slog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void log_fail(struct log *log, int res)
{
    log_fail_op(log, res, "write");
}

void log_fail_op(struct log *log, int res, const char *op)
{
    if (log_errno_is_fault(res)) {
        log_fault_raise(log, res, NULL, op); /* offline too (log_fault.c) */
        return;
    }
    if (!log->error) {
        log->error = res < 0 ? res : -EIO;
        slog(SLOG_ERROR, "storage", "log failed for good dir=%s error=\"%s\"", log->dir,
             strerror(-log->error));
    }
}

void log_set_job_runner(struct log *log, log_job_post post, void *ctx)
{
    log->job_post = post;
    log->job_ctx = ctx;
}

void log_post_job(struct log *log, enum log_job_kind kind, struct segment *seg)
{
    struct log_job local = { .log = log, .kind = kind, .seg = seg };
    struct log_job *job = log->job_post ? malloc(sizeof(*job)) : NULL;
    log->jobs_inflight++;
    if (!job) {
        /* Inline (no runner, or no memory for a job): blocking, now. */
        log_job_run(&local);
        log_job_finish(&local);
        return;
    }
    *job = local;
    job->heap = true;
    log->job_post(log->job_ctx, job);
}

bool log_want_next_segment(struct log *log)
{
    if (!log->next_seg && !log->precreating && !log->error) {
        log->precreating = true;
        log_post_job(log, LOG_JOB_PRECREATE, NULL);
    }
    return log->next_seg != NULL;
}

void log_job_run(struct log_job *job)
{
    struct log *log = job->log;
    switch (job->kind) {
    case LOG_JOB_PRECREATE:
        job->result = segment_precreate(&job->seg, log->dir, true);
        break;
    case LOG_JOB_NAME:
        job->result = segment_rename(job->seg, log->dir);
        break;
    case LOG_JOB_SEAL:
        job->result = log_seal_files(log, job->seg);
        break;
    case LOG_JOB_RETIRE:
        /* Synced before the next job: a later deletion may not outlive
         * this one (retention.c's invariant). Its producer snapshot goes
         * with it (log start moved past it). */
        log_producers_remove_snapshot(log, job->seg->base_offset);
        segment_destroy(job->seg, 1);
        job->seg = NULL;
        job->result = storage_sync_dir(log->dir);
        break;
    }
}

void log_job_finish(struct log_job *job)
{
    struct log *log = job->log;
    log->jobs_inflight--;
    switch (job->kind) {
    case LOG_JOB_PRECREATE:
        log->precreating = false;
        if (job->result == 0)
            log->next_seg = job->seg; /* the next roll is posted a retry */
        else
            slog(SLOG_WARN, "storage", "cannot pre-create the next segment dir=%s error=\"%s\"",
                 log->dir, strerror(-job->result));
        break;
    case LOG_JOB_NAME:
        if (job->result < 0)
            log_fail(log, job->result); /* invariant 2 */
        break;
    case LOG_JOB_SEAL:
        if (job->result < 0) {
            log_fail(log, job->result);
            break;
        }
        job->seg->durable_size = job->seg->size;
        if (log->synced_end < job->seg->next_offset)
            log->synced_end = job->seg->next_offset; /* flush os/interval: now synced */
        log->seal.seg = NULL;
        log->seal.synced = false;
        break;
    case LOG_JOB_RETIRE:
        if (job->result < 0)
            log_fail(log, job->result); /* the directory's state is unknown */
        break;
    }
    if (job->heap)
        free(job); /* the runner must not touch it after this */
}
