/* log_clean.c - a log's side of compaction: when it is due, the snapshot
 * a clean job starts from, and taking the cleaned segments back (Kafka's
 * LogCleanerManager and Log.replaceSegments). The job's work is in
 * cleaner.c; everything here runs on the thread that owns the log and is
 * short: no file is read or written but the cleaner checkpoint.
 *
 * The cleanable part of a log is its leading run of sealed, synced
 * segments (never the active one, nor one whose seal is in flight), cut
 * before the first segment holding a record younger than
 * min.compaction.lag.ms. Below the cleaner checkpoint (first_dirty) it was
 * cleaned before; the dirty ratio is the share of the cleanable bytes at
 * or above it, counted by whole segments as Kafka does.
 *
 * Transactions: the cleanable part also ends at the segment holding the
 * last stable offset (Kafka's firstUncleanableDirtyOffset takes the first
 * unstable offset): a record of a transaction still open must not replace
 * an older value of its key before the transaction's outcome is known. A
 * job gets the aborted transactions of every segment's .txnindex that
 * began below its end: the cleaner removes their data, keeps their markers
 * (and .txnindex entries) while such data may still be held by a consumer,
 * then drops the markers after delete.retention.ms (cleaner_txn.h).
 * A swap also drops log_read_upto's cached LSO position (positions moved)
 * and the producer snapshots named by segments merged away. */
#include "storage/cleaner.h"
#include "storage/log_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLEAN_RETRY_MS 15000   /* Kafka's log.cleaner.backoff.ms */

void log_clean_load(struct log *log)
{
    int64_t off = 0;
    if (checkpoint_read(log->dir, LOG_CLEANER_CHECKPOINT, &off) < 0)
        off = 0; /* absent or unreadable: all dirty, which is always safe */
    log->clean.first_dirty = off;
    log->clean.next_horizon_ms = INT64_MAX;
    log->clean.info.last_clean_ms = -1;
}

/* How many leading segments are cleanable. */
static int cleanable_count(const struct log *log, int64_t now_ms)
{
    int64_t lag = log->cfg.min_compaction_lag_ms;
    int64_t lso = producer_state_stable_end(&log->producers, log_durable_end(log));
    int k = 0;
    while (k < log->nsegs - 1) {
        const struct segment *seg = log->segs[k];
        if (seg == log->seal.seg || seg->durable_size < seg->size)
            break;
        if (log->segs[k + 1]->base_offset > lso)
            break; /* holds the first offset of an unfinished transaction */
        if (lag > 0 && seg->max_timestamp > now_ms - lag)
            break;
        k++;
    }
    return k;
}

static int64_t first_dirty(const struct log *log)
{
    int64_t start = log_start_offset(log);
    return log->clean.first_dirty > start ? log->clean.first_dirty : start;
}

/* Clean and dirty bytes of the first k segments. */
static void count_bytes(const struct log *log, int k, uint64_t *clean, uint64_t *dirty)
{
    int64_t fd = first_dirty(log);
    *clean = *dirty = 0;
    for (int i = 0; i < k; i++) {
        if (log->segs[i + 1]->base_offset <= fd)
            *clean += log->segs[i]->size;
        else
            *dirty += log->segs[i]->size;
    }
}

void log_clean_info(const struct log *log, struct log_clean_info *out)
{
    *out = log->clean.info;
    int k = 0;
    while (k < log->nsegs - 1 && log->segs[k] != log->seal.seg)
        k++;
    count_bytes(log, k, &out->clean_bytes, &out->dirty_bytes);
    uint64_t total = out->clean_bytes + out->dirty_bytes;
    out->dirty_ratio = total ? (double)out->dirty_bytes / (double)total : 0.0;
    out->first_dirty = first_dirty(log);
    out->busy = log->clean.job != NULL;
}

bool log_clean_needed(const struct log *log, int64_t now_ms)
{
    const struct log_config *cfg = &log->cfg;
    if (!cfg->cleanup_compact || log->clean.job || now_ms < log->clean.retry_ms ||
        log_offline(log))
        return false;
    int k = cleanable_count(log, now_ms);
    if (k == 0)
        return false;
    uint64_t clean, dirty;
    count_bytes(log, k, &clean, &dirty);
    if (now_ms >= log->clean.next_horizon_ms)
        return true; /* tombstones whose delete.retention.ms is over */
    if (dirty == 0)
        return false;
    if ((double)dirty / (double)(clean + dirty) >= cfg->min_cleanable_ratio)
        return true;
    /* max.compaction.lag.ms: the oldest dirty segment must not wait longer. */
    int64_t fd = first_dirty(log);
    for (int i = 0; i < k; i++) {
        const struct segment *seg = log->segs[i];
        if (log->segs[i + 1]->base_offset <= fd)
            continue;
        int64_t ts = seg->max_timestamp >= 0 ? seg->max_timestamp : seg->created_ms;
        return cfg->max_compaction_lag_ms < INT64_MAX && now_ms - ts > cfg->max_compaction_lag_ms;
    }
    return false;
}

/* The aborted transactions whose data may lie below end: every entry of
 * every segment's .txnindex that began below it (its marker, and so its
 * entry, may be in any later segment), sorted by first offset. */
static int collect_aborted(const struct log *log, int64_t end, struct clean_job *job)
{
    size_t n = 0;
    for (int i = 0; i < log->nsegs; i++)
        for (uint32_t k = 0; k < log->segs[i]->txnindex.count; k++)
            n += log->segs[i]->txnindex.v[k].first_offset < end;
    if (n == 0)
        return 0;
    if (!(job->aborted = malloc(n * sizeof(*job->aborted))))
        return -ENOMEM;
    for (int i = 0; i < log->nsegs; i++)
        for (uint32_t k = 0; k < log->segs[i]->txnindex.count; k++)
            if (log->segs[i]->txnindex.v[k].first_offset < end)
                job->aborted[job->naborted++] = log->segs[i]->txnindex.v[k];
    clean_txns_sort(job->aborted, job->naborted);
    return 0;
}

int log_clean_begin(struct log *log, int64_t now_ms, size_t map_bytes, struct clean_job **out)
{
    if (log->clean.job || !log->cfg.cleanup_compact)
        return -EAGAIN;
    int k = cleanable_count(log, now_ms);
    if (k == 0)
        return -EAGAIN;
    struct clean_job *job = calloc(1, sizeof(*job));
    if (!job || !(job->src = calloc((size_t)k, sizeof(*job->src)))) {
        free(job);
        return -ENOMEM;
    }
    snprintf(job->dir, sizeof(job->dir), "%s", log->dir);
    job->nsrc = k;
    for (int i = 0; i < k; i++)
        job->src[i] = (struct clean_source){ .base_offset = log->segs[i]->base_offset,
                                             .end_offset = log->segs[i + 1]->base_offset,
                                             .size = log->segs[i]->size };
    job->first_dirty = first_dirty(log);
    job->end_offset = log->segs[k]->base_offset;
    if (collect_aborted(log, job->end_offset, job) < 0) {
        free(job->src);
        free(job);
        return -ENOMEM;
    }
    job->now_ms = now_ms;
    job->delete_retention_ms = log->cfg.delete_retention_ms;
    job->segment_bytes = log->cfg.segment_bytes;
    job->index_interval = log->cfg.index_interval_bytes;
    job->map_bytes = map_bytes;
    job->sync_fd = -1;
    atomic_init(&job->abort, false);
    log->clean.job = job;
    fprintf(stderr, "storage: %s: cleaning %d segment(s) below offset %" PRId64
            ", dirty from %" PRId64 "\n", log->dir, k, job->end_offset, job->first_dirty);
    *out = job;
    return 0;
}

/* Replaces segs[at .. at + count) by seg; the old ones' files are already
 * gone or replaced on disk, so they are retired without unlinking. */
static int replace_segments(struct log *log, int64_t base, int count, struct segment *seg)
{
    int at = 0;
    while (at < log->nsegs && log->segs[at]->base_offset != base)
        at++;
    if (at + count >= log->nsegs) /* never the active one */
        return -EINVAL;
    for (int i = 0; i < count; i++) {
        if (i > 0) /* its base names no segment any more */
            log_producers_remove_snapshot(log, log->segs[at + i]->base_offset);
        log_retire_segment(log, log->segs[at + i], 0);
    }
    log->limit_offset = -1; /* log_read_upto's cached position moved */
    log->segs[at] = seg;
    memmove(log->segs + at + 1, log->segs + at + count,
            (size_t)(log->nsegs - at - count) * sizeof(*log->segs));
    log->nsegs -= count - 1;
    return 0;
}

int log_clean_finish(struct log *log, struct clean_job *job, int64_t now_ms)
{
    struct log_clean_info *info = &log->clean.info;
    int rc = job->error;
    for (int g = 0; g < job->ngroups; g++) {
        struct clean_group *grp = &job->groups[g];
        if (!grp->seg || !grp->swapped)
            continue;
        if (replace_segments(log, job->src[grp->first].base_offset, grp->count, grp->seg) == 0)
            grp->seg = NULL;
        else if (rc == 0)
            rc = -EINVAL;
    }
    /* Cleaned segments renamed on disk but not taken (a failure half way
     * through a batch's swap): the files no longer match the segments
     * this log serves, so it fails for good; recovery at the next open
     * completes the swap. */
    for (int g = 0; g < job->ngroups; g++) {
        struct clean_group *grp = &job->groups[g];
        if (grp->seg && !grp->swapped && strcmp(grp->seg->suffix, ".cleaned") != 0 &&
            !log->error) {
            log->error = rc < 0 ? rc : -EIO;
            fprintf(stderr, "storage: %s: failed for good in the middle of a swap: %s\n",
                    log->dir, strerror(-log->error));
        }
    }
    log_fault_raise(log, rc, NULL, "clean"); /* its reads or writes hit a disk fault */
    info->cleans++;
    info->bytes_read += job->stats.bytes_read;
    info->bytes_written += job->stats.bytes_written;
    info->records_removed += job->stats.records_removed;
    info->clean_ns += job->elapsed_ns;
    info->last_error = rc;
    info->last_clean_ms = now_ms;
    if (rc == 0) {
        log->clean.first_dirty = job->map_end;
        log->clean.next_horizon_ms = job->stats.next_horizon_ms;
        /* A hint only: stale, it makes the next clean do more (never less). */
        checkpoint_write(log->dir, LOG_CLEANER_CHECKPOINT, job->map_end, false);
    } else {
        log->clean.retry_ms = now_ms + CLEAN_RETRY_MS;
    }
    fprintf(stderr,
            "storage: %s: cleaned %" PRIu64 " bytes into %" PRIu64 ", %" PRId64
            " of %" PRId64 " records removed, %.1f ms%s%s\n",
            log->dir, job->stats.bytes_read, job->stats.bytes_written,
            job->stats.records_removed, job->stats.records_read, job->elapsed_ns / 1e6,
            rc ? ": " : "", rc ? strerror(-rc) : "");
    log->clean.job = NULL;
    clean_job_destroy(job);
    log_start_apply(log);
    return rc;
}
