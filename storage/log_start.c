/* log_start.c - the log start offset and DeleteRecords (Kafka's
 * UnifiedLog.maybeIncrementLogStartOffset and deleteOldSegments).
 *
 * The log start offset is the first offset a reader may see: the base of
 * the oldest segment, or higher once DeleteRecords moved it. Segments
 * wholly below it are deleted; the one it falls in stays and is trimmed
 * logically (reads below the start get OFFSET_OUT_OF_RANGE, ListOffsets
 * earliest answers the start).
 *
 * Invariants:
 *   1. start_offset never moves down while the log is open, and never
 *      past the high watermark.
 *   2. A start that was acknowledged (its checkpoint written durably by
 *      log_start_checkpoint_write) holds after any crash: recovery reads
 *      the checkpoint before serving and deletes what lies below it.
 *   3. No segment a clean job covers is deleted while the job is out
 *      (log_start_apply waits for log_clean_finish). */
#include "storage/log_private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void log_start_apply(struct log *log)
{
    if (log->clean.job)
        return;
    while (log->nsegs > 1 && log->segs[1]->base_offset <= log->start_offset &&
           log->segs[0] != log->seal.seg &&
           !(log->flush.inflight && log->flush.seg == log->segs[0]))
        log_remove_oldest(log);
}

int log_start_load(struct log *log)
{
    int64_t start = 0;
    int rc = checkpoint_read(log->dir, LOG_START_CHECKPOINT, &start);
    if (rc == -EINVAL)
        fprintf(stderr, "storage: %s/%s: unreadable, ignored\n", log->dir,
                LOG_START_CHECKPOINT);
    if (rc < 0)
        start = 0;
    if (start > log->next_offset)
        start = log->next_offset; /* a tail was cut: the start cannot pass the end */
    if (start < log->segs[0]->base_offset)
        start = log->segs[0]->base_offset;
    log->start_offset = start;
    log_start_apply(log);
    return 0;
}

int log_delete_records(struct log *log, int64_t offset, int64_t *low_watermark)
{
    int64_t hw = log_durable_end(log);
    if (offset == -1)
        offset = hw;
    if (offset < 0 || offset > hw)
        return -ERANGE;
    if (offset > log->start_offset) {
        log->start_offset = offset;
        log_start_apply(log);
    }
    *low_watermark = log_start_offset(log);
    return 0;
}

int log_start_checkpoint_write(const char *dir, int64_t offset)
{
    return checkpoint_write(dir, LOG_START_CHECKPOINT, offset, true);
}
