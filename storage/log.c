/* log.c - a partition log: open, append, read, offsets (see log.h).
 *
 * Owns the list of segments and offset assignment. Writing and syncing
 * live in flush.c, crash recovery in recover.c, retention in retention.c.
 * Single-threaded by design: the shard that owns a log is its only user. */
#include "storage/log_private.h"
#include "storage/batch_compress.h"
#include "storage/cleaner.h"
#include "storage/kerr.h"
#include "storage/sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void log_config_defaults(struct log_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->segment_bytes = 1ull << 30;
    cfg->segment_ms = 7ll * 24 * 3600 * 1000;
    cfg->index_interval_bytes = 4096;
    cfg->retention_ms = 7ll * 24 * 3600 * 1000;
    cfg->retention_bytes = -1;
    cfg->flush = FLUSH_ALWAYS;
    cfg->flush_messages = INT64_MAX;
    cfg->flush_ms = INT64_MAX;
    cfg->max_message_bytes = 1048588;
    cfg->log_append_time = false;
    cfg->leader_epoch = 0;
    cfg->max_pending = 1024;
    cfg->cleanup_delete = true;
    cfg->cleanup_compact = false;
    cfg->min_cleanable_ratio = 0.5;
    cfg->min_compaction_lag_ms = 0;
    cfg->max_compaction_lag_ms = INT64_MAX;
    cfg->delete_retention_ms = 24ll * 3600 * 1000;
}

void log_set_config(struct log *log, const struct log_config *cfg)
{
    uint32_t max_pending = log->cfg.max_pending;
    int32_t leader_epoch = log->cfg.leader_epoch;
    log->cfg = *cfg;
    log->cfg.max_pending = max_pending; /* the queue was sized with it */
    log->cfg.leader_epoch = leader_epoch; /* log_set_leader_epoch's */
    if (log->cfg.segment_bytes > INT32_MAX)
        log->cfg.segment_bytes = INT32_MAX;
}

int log_add_segment(struct log *log, struct segment *seg)
{
    if (log->nsegs == log->segcap) {
        int ncap = log->segcap ? log->segcap * 2 : 8;
        struct segment **p = realloc(log->segs, (size_t)ncap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        log->segs = p;
        log->segcap = ncap;
    }
    log->segs[log->nsegs++] = seg;
    return 0;
}

void log_retire_fd(struct log *log, struct segment *seg)
{
    if (log->nretired == log->retiredcap) {
        int ncap = log->retiredcap ? log->retiredcap * 2 : 16;
        int *p = realloc(log->retired, (size_t)ncap * sizeof(*p));
        if (!p)
            return; /* no room to wait: a queued answer may read a closed fd */
        log->retired = p;
        log->retiredcap = ncap;
    }
    log->retired[log->nretired++] = seg->fd;
    seg->fd = -1;
}

void log_retire_segment(struct log *log, struct segment *seg, int unlink_files)
{
    log_retire_fd(log, seg);
    segment_destroy(seg, unlink_files);
}

int log_take_retired(struct log *log, int *fds, int max)
{
    int n = log->nretired < max ? log->nretired : max;
    if (n == 0)
        return 0;
    memcpy(fds, log->retired, (size_t)n * sizeof(*fds));
    memmove(log->retired, log->retired + n, (size_t)(log->nretired - n) * sizeof(*fds));
    log->nretired -= n;
    return n;
}

static void log_free_retired(struct log *log)
{
    codec_buf_free(&log->key_scratch);
    for (int i = 0; i < log->nretired; i++)
        storage_sys.close(log->retired[i]);
    free(log->retired);
}

int64_t log_active_base(const struct log *log)
{
    return log_active(log)->base_offset;
}

const struct log_config *log_config_of(const struct log *log)
{
    return &log->cfg;
}

const char *log_dir(const struct log *log)
{
    return log->dir;
}

void log_remove_oldest(struct log *log)
{
    struct segment *seg = log->segs[0];
    log_retire_fd(log, seg);                /* closed once no answer refers to it */
    log_post_job(log, LOG_JOB_RETIRE, seg); /* its unlinks, off the loop */
    memmove(log->segs, log->segs + 1, (size_t)(log->nsegs - 1) * sizeof(*log->segs));
    log->nsegs--;
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = storage_mkdir(tmp, 0755);
        if (rc < 0)
            return rc;
        *p = '/';
    }
    return storage_mkdir(tmp, 0755);
}

/* Reads a small decimal file; -1 when absent or unreadable. */
static int64_t read_offset_file(const char *dir, const char *name)
{
    char path[PATH_MAX], buf[32] = { 0 };
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    int64_t v = -1;
    if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%" SCNd64, &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

int log_open(struct log **out, const char *dir, const char *topic,
             int32_t partition, const struct log_config *cfg, int64_t now_ms)
{
    struct log *log = calloc(1, sizeof(*log));
    if (!log)
        return -ENOMEM;
    log->cfg = *cfg;
    if (log->cfg.segment_bytes > INT32_MAX)
        log->cfg.segment_bytes = INT32_MAX; /* positions are 32-bit, as in Kafka */
    int n = snprintf(log->dir, sizeof(log->dir), "%s/%s-%" PRId32, dir, topic,
                     partition);
    int rc = (n < 0 || (size_t)n >= sizeof(log->dir)) ? -ENAMETOOLONG : 0;
    if (rc == 0)
        rc = mkdir_p(log->dir);
    if (rc == 0)
        rc = log_flush_init(log);
    producer_state_init(&log->producers);
    log->recover_from = INT64_MAX;
    log->limit_offset = -1;
    char marker[PATH_MAX];
    snprintf(marker, sizeof(marker), "%s/%s", log->dir, LOG_CLEAN_MARKER);
    int clean = access(marker, F_OK) == 0;
    if (rc == 0)
        rc = log_load_id(log, !clean);
    if (rc < 0)
        goto err;
    int64_t recovery_point = read_offset_file(log->dir, LOG_RECOVERY_POINT);
    bool swapped = false;
    rc = log_recover_swaps(log->dir, &swapped);
    if (rc < 0)
        goto err;
    if (swapped) {
        clean = 0; /* a completed swap: rebuild every index */
        recovery_point = -1;
    }
    rc = log_recover(log, clean, recovery_point, now_ms);
    if (rc == 0)
        rc = log_producers_load(log, clean, now_ms);
    if (rc == 0)
        rc = log_start_load(log);
    if (rc == 0)
        rc = log_epochs_open(log);
    if (rc < 0)
        goto err;
    log_clean_load(log);
    /* From here on a crash is unclean: the marker must be gone for good. */
    if (clean && storage_sys.unlink(marker) < 0) {
        rc = -errno;
        goto err;
    }
    /* What recovery relied on is made durable before anything is appended:
     * the marker's removal (else a power cut brings it back, and the next
     * start trusts segments it should check), and after a crash the names
     * of files and of the directory itself, which a killed process may
     * have made without syncing them. */
    /* The next segment is pre-created first when the active one is
     * filling already (log_jobs.c): this sync makes its names durable
     * too. */
    if (log_segment_filling(log, 0, now_ms) &&
        (rc = segment_precreate(&log->next_seg, log->dir, false)) < 0)
        goto err;
    if ((rc = storage_sync_dir(log->dir)) < 0 || (!clean && (rc = storage_sync_dir(dir)) < 0))
        goto err;
    log->last_sync_ms = now_ms;
    *out = log;
    return 0;
err:
    log_flush_free(log);
    producer_state_free(&log->producers);
    segment_destroy(log->next_seg, 0);
    for (int i = 0; i < log->nsegs; i++)
        segment_destroy(log->segs[i], 0);
    free(log->segs);
    log_free_retired(log);
    epoch_cache_close(&log->epochs);
    free(log);
    return rc;
}

int log_remove(const char *dir, const char *topic, int32_t partition)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s-%" PRId32, dir, topic, partition);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    return storage_remove_dir(path);
}

int log_close(struct log *log)
{
    if (log->clean.job)
        return -EBUSY; /* the caller takes its clean job back first */
    int rc = log_flush_blocking(log);
    if (rc == -EBUSY)
        return rc; /* a sync is in flight: the caller reaps it first */
    log_set_journal(log, NULL);
    /* Only the sealed segments count as recovered: the active one is
     * trusted at the next start by the clean-shutdown marker alone. After
     * a restart it is rolled, and until that seal is synced its index
     * files are not what the point would vouch for. */
    if (rc == 0)
        rc = log_producers_snapshot(log, true);
    if (rc == 0)
        rc = log_write_recovery_point(log, log_active(log)->base_offset);
    if (rc == 0) {
        char marker[PATH_MAX];
        snprintf(marker, sizeof(marker), "%s/%s", log->dir, LOG_CLEAN_MARKER);
        int fd = storage_sys.open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || storage_sys.close(fd) < 0)
            rc = -errno;
    }
    log_flush_free(log);
    producer_state_free(&log->producers);
    segment_destroy(log->next_seg, 0); /* its files are truncated at the next open */
    for (int i = 0; i < log->nsegs; i++)
        segment_destroy(log->segs[i], 0);
    free(log->segs);
    log_free_retired(log);
    epoch_cache_close(&log->epochs);
    free(log);
    return rc;
}

/* Rolls onto the pre-created segment: no system call here (log_jobs.c
 * names the new one and seals the old one; the next is pre-created once
 * the new one fills). -EAGAIN while the next segment is still being
 * created. */
static int log_roll(struct log *log, int64_t now_ms)
{
    struct segment *old = log_active(log);
    if (!log_want_next_segment(log))
        return -EAGAIN;
    /* The new segment's producer snapshot: encoded now (memory only),
     * written and synced by the old segment's SEAL job (log_jobs.c). */
    int rc = log_producers_snapshot_take(log, old);
    if (rc < 0)
        return rc;
    /* Kafka appends a last time index entry when a segment goes inactive,
     * so the segment's max timestamp is known without a scan. */
    rc = segment_end_timeindex(old);
    if (rc < 0)
        return rc;
    struct segment *seg = log->next_seg;
    segment_begin(seg, log->next_offset, now_ms);
    if ((rc = log_add_segment(log, seg)) < 0)
        return rc;
    log->next_seg = NULL;
    log->roll_wanted = 0;
    log_post_job(log, LOG_JOB_NAME, seg);
    return log_seal_now(log, old);
}

/* Assigns the broker-owned fields of the batch at b and accounts for it
 * in seg; returns its size. */
/* log_account's lat for a follower's batches: offsets and epochs kept. */
#define LOG_KEEP_OFFSETS INT64_MIN

static size_t log_account(struct log *log, struct segment *seg, uint8_t *b, int64_t lat)
{
    struct batch_header h;
    if (lat != LOG_KEEP_OFFSETS)
        batch_assign(b, log->next_offset, log->cfg.leader_epoch, lat);
    batch_header_decode(b, &h);
    if (h.producer_id >= 0 && lat == LOG_KEEP_OFFSETS)
        log_producers_replicate(log, seg, b); /* a follower's: markers too */
    else if (h.producer_id >= 0)
        log_producers_apply(log, b);
    segment_note_batch(seg, &h, seg->size, log->cfg.index_interval_bytes);
    seg->size += batch_size(&h);
    log->next_offset = batch_last_offset(&h) + 1;
    return batch_size(&h);
}

static void log_queue_start(struct log *log, struct segment *seg)
{
    struct log_batchq *q = &log->queue;
    if (q->count == 0) {
        q->seg = seg;
        q->pos = seg->size;
        q->bytes = 0;
    }
}

static void log_queue_push(struct log_batchq *q, uint8_t *p, size_t len, uint8_t *owned,
                           int64_t end_offset)
{
    q->iov[q->count].iov_base = p;
    q->iov[q->count].iov_len = len;
    q->owned[q->count] = owned;
    q->count++;
    q->bytes += len;
    q->end_offset = end_offset;
}

/* compression.type=lz4: each uncompressed, non-control batch is stored
 * re-encoded as LZ4 (a copy the log owns until written); the others go
 * as they came. */
static int log_append_lz4(struct log *log, uint8_t *records, int nbatches,
                          int64_t nrecords, int64_t now_ms, struct log_append_result *res)
{
    struct log_batchq *q = &log->queue;
    struct segment *seg = log_active(log);
    uint8_t *made[64];
    size_t made_len[64];
    if ((uint32_t)nbatches > log->cfg.max_pending - q->count || nbatches > 64)
        return q->count > 0 ? -EAGAIN : KERR_INVALID_RECORD;
    /* Compress first, so a failure leaves the log untouched. */
    size_t off = 0;
    for (int i = 0; i < nbatches; i++) {
        struct batch_header h;
        batch_header_decode(records + off, &h);
        made[i] = NULL;
        made_len[i] = batch_size(&h);
        if ((h.attributes & (BATCH_ATTR_CODEC_MASK | BATCH_ATTR_CONTROL)) == 0 &&
            batch_compress_lz4(records + off, batch_size(&h), &made[i], &made_len[i]) < 0) {
            while (i-- > 0)
                free(made[i]);
            return -ENOMEM;
        }
        off += batch_size(&h);
    }
    int64_t lat = log->cfg.log_append_time ? now_ms : -1;
    log_queue_start(log, seg);
    res->base_offset = log->next_offset;
    res->log_append_time = lat;
    off = 0;
    for (int i = 0; i < nbatches; i++) {
        uint8_t *b = made[i] ? made[i] : records + off;
        off += made[i] ? be32_load(records + off + BATCH_OFF_LENGTH) + BATCH_LOG_OVERHEAD
                       : made_len[i];
        log_account(log, seg, b, lat);
        log_queue_push(q, b, made_len[i], made[i], log->next_offset);
    }
    log->unsynced_messages += nrecords;
    res->last_offset = log->next_offset - 1;
    return 0;
}

static bool log_should_roll(const struct log *log, size_t len, int64_t now_ms)
{
    const struct segment *seg = log_active(log);
    if (seg->size == 0)
        return false;
    return seg->size + len > log->cfg.segment_bytes ||
           now_ms - seg->created_ms >= log->cfg.segment_ms;
}

/* Rolls before an append of len bytes when the active segment is due.
 * A writev goes to one file: the old segment must be written (and synced,
 * with "always") before the log moves to a new one, else -EAGAIN. */
static int log_roll_if_due(struct log *log, size_t len, int64_t now_ms)
{
    if (!log_should_roll(log, len, now_ms)) {
        log_precreate_if_filling(log, len, now_ms);
        return 0;
    }
    if (!log_roll_ready(log)) {
        log->roll_wanted = 1;
        return -EAGAIN;
    }
    return log_roll(log, now_ms);
}

int log_append(struct log *log, uint8_t *records, size_t len, int64_t now_ms,
               struct log_append_result *res)
{
    int nbatches;
    int64_t nrecords;
    if (log->error)
        return log->error;
    if (log->queue.count >= log->cfg.max_pending)
        return -EAGAIN;
    int kerr = batch_validate_set(records, len, log->cfg.max_message_bytes,
                                  &nbatches, &nrecords);
    if (kerr == KERR_NONE && log->cfg.cleanup_compact)
        kerr = clean_check_keys(records, len, &log->key_scratch);
    if (kerr != KERR_NONE)
        return kerr;
    bool dup = false;
    if ((kerr = log_producers_check(log, records, nbatches, res, &dup)) != 0 || dup)
        return kerr;
    int rc = log_roll_if_due(log, len, now_ms);
    if (rc < 0)
        return rc;

    struct segment *seg = log_active(log);
    rc = segment_reserve(seg, nbatches);
    if (rc < 0)
        return rc; /* nothing changed yet */
    if ((rc = log_epoch_note(log, log->cfg.leader_epoch, log->next_offset)) < 0)
        return rc;
    if (log->cfg.compress_lz4)
        return log_append_lz4(log, records, nbatches, nrecords, now_ms, res);

    struct log_batchq *q = &log->queue;
    int64_t lat = log->cfg.log_append_time ? now_ms : -1;
    log_queue_start(log, seg);
    res->base_offset = log->next_offset;
    res->log_append_time = lat;
    for (size_t off = 0; off < len;)
        off += log_account(log, seg, records + off, lat);
    log_queue_push(q, records, len, NULL, log->next_offset);
    log->unsynced_messages += nrecords;
    res->last_offset = log->next_offset - 1;
    res->duplicate = false;
    return 0;
}

int log_append_owned(struct log *log, uint8_t *batch, size_t len, int64_t now_ms,
                     struct log_append_result *res)
{
    if (log->error)
        return log->error;
    if (log->queue.count >= log->cfg.max_pending)
        return -EAGAIN;
    int rc = log_roll_if_due(log, len, now_ms);
    if (rc < 0)
        return rc;
    struct segment *seg = log_active(log);
    rc = segment_reserve(seg, 1);
    if (rc < 0)
        return rc;
    int64_t lat = log->cfg.log_append_time ? now_ms : -1;
    log_queue_start(log, seg);
    res->base_offset = log->next_offset;
    res->log_append_time = lat;
    res->duplicate = false;
    log_account(log, seg, batch, lat);
    log_queue_push(&log->queue, batch, len, batch, log->next_offset);
    log->unsynced_messages += 1;
    res->last_offset = log->next_offset - 1;
    return 0;
}

/* The follower's batches must continue this log exactly: the first one
 * at the log end, each after the one before. */
static int replica_check(const struct log *log, const uint8_t *records, size_t len)
{
    int64_t next = log->next_offset;
    for (size_t off = 0; off < len;) {
        struct batch_header h;
        batch_header_decode(records + off, &h);
        if (h.base_offset != next)
            return -EINVAL;
        next = batch_last_offset(&h) + 1;
        off += batch_size(&h);
    }
    return 0;
}

int log_append_replica(struct log *log, uint8_t *records, size_t len, int64_t now_ms,
                       struct log_append_result *res)
{
    int nbatches;
    int64_t nrecords;
    if (log->error)
        return log->error;
    if (log->queue.count >= log->cfg.max_pending)
        return -EAGAIN;
    int kerr = batch_validate_set(records, len, UINT32_MAX, &nbatches, &nrecords);
    if (kerr != KERR_NONE)
        return kerr;
    if (replica_check(log, records, len) < 0)
        return -EINVAL;
    if (log_should_roll(log, len, now_ms)) {
        if (!log_roll_ready(log)) {
            log->roll_wanted = 1;
            return -EAGAIN;
        }
        int rc = log_roll(log, now_ms);
        if (rc < 0)
            return rc;
    } else {
        log_precreate_if_filling(log, len, now_ms);
    }
    struct segment *seg = log_active(log);
    int rc = segment_reserve(seg, nbatches);
    if (rc < 0)
        return rc;
    /* The leader's epochs as its batches carry them (Kafka's follower
     * assigns them as it appends). */
    for (size_t off = 0; off < len;) {
        struct batch_header h;
        batch_header_decode(records + off, &h);
        if ((rc = log_epoch_note(log, h.leader_epoch, h.base_offset)) < 0)
            return rc;
        off += batch_size(&h);
    }
    log_queue_start(log, seg);
    res->base_offset = log->next_offset;
    res->log_append_time = -1;
    for (size_t off = 0; off < len;)
        off += log_account(log, seg, records + off, LOG_KEEP_OFFSETS);
    log_queue_push(&log->queue, records, len, NULL, log->next_offset);
    log->unsynced_messages += nrecords;
    res->last_offset = log->next_offset - 1;
    return 0;
}

int64_t log_start_offset(const struct log *log)
{
    int64_t base = log->segs[0]->base_offset;
    return log->start_offset > base ? log->start_offset : base;
}

int64_t log_end_offset(const struct log *log)
{
    return log->next_offset;
}

int64_t log_written_end(const struct log *log)
{
    return log->written_end;
}

int64_t log_durable_end(const struct log *log)
{
    return log->cfg.flush == FLUSH_ALWAYS ? log->synced_end : log->written_end;
}

int64_t log_synced_end(const struct log *log)
{
    return log->synced_end;
}

int log_error(const struct log *log)
{
    return log->error;
}

uint64_t log_size_bytes(const struct log *log)
{
    uint64_t total = 0;
    for (int i = 0; i < log->nsegs; i++)
        total += log->segs[i]->size;
    return total;
}

int log_segment_count(const struct log *log)
{
    return log->nsegs;
}

/* Index of the segment holding offset (the last with base <= offset). */
static int log_find_segment(const struct log *log, int64_t offset)
{
    int lo = 0, hi = log->nsegs;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

/* The file position where limit starts in segment i (the end of what
 * may be read there): bytes, the segment's readable size, when limit is
 * past it. One lookup per new limit, cached (tailing read_committed
 * consumers ask for the same LSO over and over, followers for the same
 * written end); whoever rewrites or cuts a segment in place (compaction's
 * swap, a truncation) sets limit_offset to -1. */
static int limit_position(struct log *log, int i, int64_t limit, uint64_t bytes, bool written,
                          uint64_t *end)
{
    struct segment *seg = log->segs[i];
    int64_t next = i + 1 < log->nsegs ? log->segs[i + 1]->base_offset : log->next_offset;
    struct batch_header h;
    uint64_t pos;
    *end = bytes;
    if (limit >= next || limit >= (written ? log->written_end : log_durable_end(log)))
        return 0;
    if (log->limit_offset == limit && log->limit_seg_base == seg->base_offset) {
        *end = log->limit_pos < bytes ? log->limit_pos : bytes;
        return 0;
    }
    int rc = segment_find_offset(seg, limit, bytes, &pos, &h);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    log->limit_offset = limit;
    log->limit_seg_base = seg->base_offset;
    log->limit_pos = *end = pos;
    return 0;
}

/* An offset at or past the end of the batch holding position pos of
 * segment i, from the sparse index (no read): one past the last offset of
 * the first indexed batch starting at or after pos, else the segment's
 * end. Kafka bounds a fetch's aborted transactions the same way. */
static int64_t offset_after(const struct log *log, int i, uint64_t pos)
{
    const struct segment *seg = log->segs[i];
    const struct offset_index *ix = &seg->index;
    uint32_t lo = 0, hi = ix->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ix->entries[mid].position < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < ix->count)
        return seg->base_offset + ix->entries[lo].rel_offset + 1;
    return i + 1 < log->nsegs ? log->segs[i + 1]->base_offset : log->next_offset;
}

/* The ranges for [offset, limit): limit is at most the durable end, or
 * the written end when written is set (a follower's fetch). */
static int log_read_ranges(struct log *log, int64_t offset, uint32_t max_bytes, int64_t limit,
                           bool written, struct log_range *ranges, int max_ranges,
                           int64_t *upper)
{
    if (upper)
        *upper = offset > limit ? offset : limit;
    int n = 0;
    uint64_t budget = max_bytes;
    for (int i = log_find_segment(log, offset); i < log->nsegs && n < max_ranges; i++) {
        struct segment *seg = log->segs[i];
        uint64_t bytes = written ? log_written_size(log, seg) : seg->durable_size;
        uint64_t pos, end;
        struct batch_header h;
        if (offset >= limit)
            break;
        if (bytes == 0) {
            if (i + 1 >= log->nsegs)
                break;
            /* emptied by compaction, or a crash took its unsynced data */
            offset = log->segs[i + 1]->base_offset;
            continue;
        }
        int rc = limit_position(log, i, limit, bytes, written, &end);
        if (rc == 0)
            rc = segment_find_offset(seg, offset, end, &pos, &h);
        if (rc == -ENOENT)
            continue;
        if (rc < 0) {
            log_fault_raise_seg(log, rc, seg, "read"); /* a disk fault: offline */
            return rc;
        }
        uint64_t len = end - pos;
        uint64_t want = budget;
        if (n == 0 && want < batch_size(&h))
            want = batch_size(&h); /* KIP-74: at least one whole batch */
        if (len > want)
            len = want;
        if (len == 0)
            break;
        ranges[n].fd = seg->fd;
        ranges[n].pos = pos;
        ranges[n].len = (uint32_t)len;
        n++;
        budget = budget > len ? budget - len : 0;
        if (upper && pos + len < end) {
            /* Cut short by max_bytes: the data ends within the batch at
             * the cut or at the next one. */
            int64_t at = offset_after(log, i, pos + len);
            *upper = at < limit ? at : limit;
        }
        if (budget == 0 || i + 1 >= log->nsegs || end < bytes)
            break;
        offset = log->segs[i + 1]->base_offset;
    }
    return n;
}

int log_read(struct log *log, int64_t offset, uint32_t max_bytes,
             struct log_range *ranges, int max_ranges)
{
    return log_read_upto(log, offset, max_bytes, INT64_MAX, ranges, max_ranges, NULL);
}

int log_read_upto(struct log *log, int64_t offset, uint32_t max_bytes, int64_t limit,
                  struct log_range *ranges, int max_ranges, int64_t *upper)
{
    int64_t hw = log_durable_end(log);
    if (offset < log_start_offset(log) || offset > hw)
        return -ERANGE;
    return log_read_ranges(log, offset, max_bytes, limit < hw ? limit : hw, false, ranges,
                           max_ranges, upper);
}

int log_read_bounded(struct log *log, int64_t offset, int64_t end, uint32_t max_bytes,
                     struct log_range *ranges, int max_ranges)
{
    if (offset < log_start_offset(log) || offset > log->next_offset)
        return -ERANGE;
    if (end > log->written_end)
        end = log->written_end;
    return log_read_ranges(log, offset, max_bytes, end, end > log_durable_end(log), ranges,
                           max_ranges, NULL);
}

/* Scans seg from the batch holding start for the first record at or after
 * ts, reading whole batches only when their max timestamp qualifies.
 * -ENOENT when there is none, or the negative errno of a failed read. */
static int segment_scan_timestamp(struct segment *seg, int64_t start, int64_t ts,
                                  int64_t *offset, int64_t *timestamp)
{
    uint64_t pos;
    struct batch_header h;
    int rc = segment_find_offset(seg, start, seg->durable_size, &pos, &h);
    for (; rc == 0; rc = segment_read_header(seg, pos, seg->durable_size, &h)) {
        if (h.max_timestamp >= ts) {
            uint8_t *buf = malloc(batch_size(&h));
            if (!buf)
                return -ENOMEM;
            ssize_t got = storage_sys.pread(seg->fd, buf, batch_size(&h), (off_t)pos);
            if (got != (ssize_t)batch_size(&h))
                rc = got < 0 ? -errno : -ENOENT;
            /* batch_find_timestamp's -1 is "none here" (or bytes that are
             * not records), never an errno: not a disk fault. */
            else if (batch_find_timestamp(buf, batch_size(&h), ts, offset, timestamp) < 0)
                rc = -ENOENT;
            else
                rc = 0;
            free(buf);
            if (rc == 0 || log_errno_is_fault(rc))
                return rc;
        }
        pos += batch_size(&h);
    }
    return log_errno_is_fault(rc) ? rc : -ENOENT;
}

int log_offset_for_timestamp(struct log *log, int64_t ts, int64_t *offset,
                             int64_t *timestamp)
{
    for (int i = 0; i < log->nsegs; i++) {
        struct segment *seg = log->segs[i];
        if (seg->max_timestamp < ts || seg->durable_size == 0)
            continue;
        int64_t start = seg->base_offset + time_index_lookup(&seg->timeindex, ts);
        int rc = segment_scan_timestamp(seg, start, ts, offset, timestamp);
        if (rc != -ENOENT) {
            log_fault_raise_seg(log, rc, seg, "read"); /* a disk fault: offline */
            return rc;
        }
    }
    return -ENOENT;
}

int log_max_timestamp(struct log *log, int64_t *offset, int64_t *timestamp)
{
    int64_t max = -1;

    for (int i = 0; i < log->nsegs; i++)
        if (log->segs[i]->durable_size > 0 && log->segs[i]->max_timestamp > max)
            max = log->segs[i]->max_timestamp;
    if (max < 0)
        return -ENOENT;
    /* the first record at or after the largest timestamp is one that has it */
    return log_offset_for_timestamp(log, max, offset, timestamp);
}
