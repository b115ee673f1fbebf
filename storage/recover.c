/* recover.c - bringing a log back at open, after a clean or a crashed stop.
 *
 * The .log files are the truth; indexes are derived and rebuilt whenever
 * they cannot be trusted.
 *   - Clean stop (marker file present): indexes are trusted; the active
 *     segment is re-read from its last index entry to find its end.
 *   - Crash: segments wholly below the recovery point were synced when
 *     they were sealed (flush.c) and are trusted; every later segment is
 *     read in full, each batch checked (lengths, magic, CRC32C, offsets
 *     increasing), its indexes rebuilt, and the first bad batch and
 *     everything after it cut off. A hole in a sealed segment also removes
 *     the segments after it, as Kafka does.
 * Nothing reported durable is lost: durable bytes passed fdatasync, so they
 * read back intact and are kept; only a torn or unsynced tail goes. What
 * recovery keeps of a segment it read is fdatasync'ed before the log
 * opens: the log counts it as synced, and a SIGKILL leaves unsynced bytes
 * in the page cache that a later power cut would drop.
 * A segment rolled onto but not yet named (its files still .next.*, see
 * log_jobs.c) is named first, from its first batch. */
#include "storage/log_private.h"
#include "slog/slog.h"
#include "storage/sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCAN_CHUNK (1u << 20)
#define SCAN_MAX_BATCH (256u << 20)

struct scan_buf {
    uint8_t *data;
    size_t cap;
};

static int scan_buf_fill(struct scan_buf *b, int fd, uint64_t pos, size_t want,
                         size_t *got)
{
    if (want > b->cap) {
        uint8_t *p = realloc(b->data, want);
        if (!p)
            return -ENOMEM;
        b->data = p;
        b->cap = want;
    }
    *got = 0;
    while (*got < want) {
        ssize_t n = pread(fd, b->data + *got, want - *got, (off_t)(pos + *got));
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return 0;
}

/* Reads batches from pos to the end of seg, checking each, accounting for
 * it in the segment (offsets, timestamps, index entries) and stopping at
 * the first bad one. *end gets the position after the last good batch. */
static int scan_segment(struct segment *seg, uint64_t pos, uint32_t interval,
                        uint64_t *end)
{
    struct scan_buf b = { NULL, 0 };
    int rc = 0;
    size_t got, off = 0;
    while (pos < seg->size) {
        size_t want = seg->size - pos < SCAN_CHUNK ? seg->size - pos : SCAN_CHUNK;
        off = 0;
        if ((rc = scan_buf_fill(&b, seg->fd, pos, want, &got)) < 0)
            break;
        while (got - off >= BATCH_HEADER_SIZE) {
            struct batch_header h;
            batch_header_decode(b.data + off, &h);
            if (h.length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD ||
                h.magic != BATCH_MAGIC || h.last_offset_delta < 0 ||
                h.base_offset < seg->next_offset || batch_size(&h) > SCAN_MAX_BATCH)
                goto done;
            if (batch_size(&h) > got - off)
                break; /* read on from this batch */
            if (!batch_crc_ok(b.data + off, batch_size(&h)))
                goto done;
            if ((rc = segment_note_batch(seg, &h, pos + off, interval)) < 0)
                goto done;
            off += batch_size(&h);
        }
        if (off == 0) {
            /* One batch larger than the chunk, or a header cut short. */
            struct batch_header h;
            if (got < BATCH_HEADER_SIZE || got == seg->size - pos)
                break;
            batch_header_decode(b.data, &h);
            if (batch_size(&h) > seg->size - pos ||
                (rc = scan_buf_fill(&b, seg->fd, pos, batch_size(&h), &got)) < 0 ||
                got < batch_size(&h) || !batch_crc_ok(b.data, batch_size(&h)) ||
                (rc = segment_note_batch(seg, &h, pos, interval)) < 0)
                break;
            off = batch_size(&h);
        }
        pos += off;
        off = 0;
    }
done:
    free(b.data);
    *end = pos + off;
    return rc;
}

/* Recovers one segment; *cut is set when it lost a tail. */
static int recover_segment(struct log *log, struct segment *seg, int trusted,
                           int last, int64_t next_base, int *cut)
{
    uint32_t interval = log->cfg.index_interval_bytes;
    uint32_t index_was = seg->index.written, timeindex_was = seg->timeindex.written;
    uint64_t end;
    *cut = 0;
    /* A sealed segment always ends its time index with its largest
     * timestamp (log_roll): without one the index files are not what
     * was synced, so the segment is read again. */
    if (trusted && !last && seg->size > 0 && seg->timeindex.count == 0)
        trusted = 0;
    if (trusted && !last) {
        const struct time_index *ti = &seg->timeindex;
        seg->next_offset = next_base;
        if (ti->count > 0) {
            seg->max_timestamp = ti->entries[ti->count - 1].timestamp;
            seg->max_timestamp_offset = seg->base_offset + ti->entries[ti->count - 1].rel_offset;
        }
        seg->durable_size = seg->size;
        segment_release_indexes(seg); /* read, not changed */
        return 0;
    }
    int rc;
    if (trusted && seg->index.count > 0) {
        /* Clean stop: resume from the last index entry. */
        const struct index_entry *e = &seg->index.entries[seg->index.count - 1];
        struct batch_header h;
        if (segment_read_header(seg, e->position, seg->size, &h) == 0 &&
            batch_last_offset(&h) == seg->base_offset + e->rel_offset) {
            const struct time_index *ti = &seg->timeindex;
            if (ti->count > 0) {
                seg->max_timestamp = ti->entries[ti->count - 1].timestamp;
                seg->max_timestamp_offset = seg->base_offset + ti->entries[ti->count - 1].rel_offset;
            }
            seg->next_offset = h.base_offset;
            seg->bytes_since_index = 0;
            rc = scan_segment(seg, e->position, interval, &end);
            goto scanned;
        }
    }
    /* Rebuild from scratch. */
    seg->index.count = 0;
    seg->timeindex.count = 0;
    if ((rc = offset_index_truncate_position(&seg->index, 0)) < 0 ||
        (rc = time_index_truncate_offset(&seg->timeindex, 0)) < 0)
        return rc;
    seg->next_offset = seg->base_offset;
    seg->max_timestamp = -1;
    seg->bytes_since_index = 0;
    rc = scan_segment(seg, 0, interval, &end);
scanned:
    if (rc < 0)
        return rc;
    if (end < seg->size) {
        slog(SLOG_WARN, "storage", "cutting a torn or corrupt tail file=%s.log bytes=%" PRIu64
             " position=%" PRIu64, seg->base_path, seg->size - end, end);
        *cut = 1;
        if ((rc = segment_truncate(seg, end)) < 0)
            return rc;
    }
    /* After a crash the bytes kept may be in the page cache only (a
     * SIGKILL keeps it): they count as synced from now on, so sync them
     * before a power cut can take them. */
    if ((*cut || !trusted) && storage_sys.fdatasync(seg->fd) < 0)
        return -errno;
    if (!last && seg->next_offset < next_base && !*cut)
        seg->next_offset = next_base; /* a gap left by compaction */
    seg->durable_size = seg->size;
    if ((!last && (rc = segment_end_timeindex(seg)) < 0) || (rc = segment_flush_indexes(seg)) < 0)
        return rc;
    /* Index files recovery changed are synced as a seal would sync them:
     * the recovery point may already cover this segment (a clean stop
     * writes it at the log's end), and then the next start trusts them. */
    bool changed = !trusted || *cut || seg->index.written != index_was ||
                   seg->timeindex.written != timeindex_was;
    if (!changed) {
        segment_release_indexes(seg);
        return 0;
    }
    return segment_sync_indexes(seg);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Base offsets of the *.log files in dir, sorted. */
static int list_segments(const char *dir, int64_t **out, int *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    int n = 0, cap = 0;
    int64_t *bases = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        if (strlen(de->d_name) != 24 || strcmp(de->d_name + 20, ".log") != 0)
            continue;
        int64_t base = strtoll(de->d_name, &end, 10);
        if (end != de->d_name + 20 || base < 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *p = realloc(bases, (size_t)cap * sizeof(*p));
            if (!p) {
                free(bases);
                closedir(d);
                return -ENOMEM;
            }
            bases = p;
        }
        bases[n++] = base;
    }
    closedir(d);
    if (n > 0)
        qsort(bases, (size_t)n, sizeof(*bases), cmp_i64);
    *out = bases;
    *count = n;
    return 0;
}

int log_recover(struct log *log, int clean, int64_t recovery_point,
                int64_t now_ms)
{
    int64_t *bases = NULL;
    int n = 0, rc = segment_adopt_next(log->dir); /* a roll a crash left unnamed */
    if (rc == 0)
        rc = list_segments(log->dir, &bases, &n);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++) {
        int last = i == n - 1;
        int64_t next_base = last ? INT64_MAX : bases[i + 1];
        int trusted = clean || (!last && next_base <= recovery_point);
        struct segment *seg;
        int cut;
        if (!trusted && bases[i] < log->recover_from)
            log->recover_from = bases[i]; /* producer_recover.c rebuilds from here */
        if ((rc = segment_load(&seg, log->dir, bases[i], trusted)) < 0)
            break;
        if ((rc = log_add_segment(log, seg)) < 0) {
            segment_destroy(seg, 0);
            break;
        }
        if ((rc = recover_segment(log, seg, trusted, last, next_base, &cut)) < 0)
            break;
        if (cut && !last) {
            /* Offsets after a hole cannot be served: drop what follows. */
            for (int j = i + 1; j < n; j++) {
                struct segment *later;
                if (segment_load(&later, log->dir, bases[j], 0) == 0)
                    segment_destroy(later, 1);
            }
            break;
        }
    }
    free(bases);
    if (rc < 0)
        return rc;
    if (log->nsegs == 0) {
        struct segment *seg;
        if ((rc = segment_create(&seg, log->dir, 0, now_ms)) < 0)
            return rc;
        if ((rc = log_add_segment(log, seg)) < 0) {
            segment_destroy(seg, 1);
            return rc;
        }
    }
    struct segment *active = log_active(log);
    log->next_offset = active->next_offset;
    log->written_end = log->synced_end = log->file_synced_end = log->next_offset;
    return 0;
}

int log_write_recovery_point(struct log *log, int64_t offset)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", log->dir, LOG_RECOVERY_POINT);
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", log->dir, LOG_RECOVERY_POINT);
    char text[32];
    int len = snprintf(text, sizeof(text), "%" PRId64 "\n", offset);
    int fd = storage_sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = storage_pwrite_all(fd, text, (size_t)len, 0);
    if (storage_sys.close(fd) < 0 && rc == 0)
        rc = -errno;
    /* Not synced on purpose: a stale or lost point only makes the next
     * recovery read more; it never claims more than was synced. */
    if (rc < 0 || storage_sys.rename(tmp, path) < 0)
        return -EIO;
    return 0;
}
