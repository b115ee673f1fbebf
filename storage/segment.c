/* segment.c - the files of one segment (see segment.h).
 *
 * Owns opening, creating, truncating and deleting a segment's three files
 * and the bookkeeping of what it holds. Appended bytes are written by
 * flush.c; this file only accounts for them.
 *
 * Descriptors (issue 13: a broker of 10,000 partitions): a segment keeps
 * its .log open, and its .index and .timeindex only while something writes
 * them. Their entries live in memory; the files are written when a segment
 * is sealed, closed or recovered, so an active or sealed segment holds one
 * descriptor. segment_flush_indexes and segment_truncate open them again
 * by name (through storage_sys); segment_sync_indexes syncs and closes
 * them. Invariant: an index file is closed with unsynced writes only where
 * recovery rebuilds it anyway (a segment past the recovery point). */
#include "storage/segment.h"
#include "slog/slog.h"
#include "storage/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int segment_path(const struct segment *seg, const char *ext,
                        char *out, size_t len)
{
    int n = snprintf(out, len, "%s%s%s", seg->base_path, ext, seg->suffix);
    return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

static int segment_open_files(struct segment *seg, int flags, int load)
{
    char path[PATH_MAX];
    int rc = segment_path(seg, ".log", path, sizeof(path));
    if (rc < 0)
        return rc;
    seg->fd = storage_sys.open(path, O_RDWR | O_CLOEXEC | flags, 0644);
    if (seg->fd < 0)
        return -errno;
    if ((rc = segment_path(seg, ".index", path, sizeof(path))) < 0 ||
        (rc = offset_index_open(&seg->index, path, load)) < 0)
        return rc;
    if ((rc = segment_path(seg, ".timeindex", path, sizeof(path))) < 0 ||
        (rc = time_index_open(&seg->timeindex, path, load)) < 0)
        return rc;
    if ((rc = segment_path(seg, ".txnindex", path, sizeof(path))) < 0 ||
        (rc = txn_index_open(&seg->txnindex, path, load)) < 0)
        return rc;
    return 0;
}

static int segment_reopen_indexes(struct segment *seg)
{
    char path[PATH_MAX];
    int rc = segment_path(seg, ".index", path, sizeof(path));
    if (rc == 0)
        rc = offset_index_reopen(&seg->index, path);
    if (rc == 0)
        rc = segment_path(seg, ".timeindex", path, sizeof(path));
    return rc < 0 ? rc : time_index_reopen(&seg->timeindex, path);
}

void segment_release_indexes(struct segment *seg)
{
    offset_index_release(&seg->index);
    time_index_release(&seg->timeindex);
}

int segment_sync_indexes(struct segment *seg)
{
    if ((seg->index.fd >= 0 && storage_sys.fdatasync(seg->index.fd) < 0) ||
        (seg->timeindex.fd >= 0 && storage_sys.fdatasync(seg->timeindex.fd) < 0))
        return -errno;
    segment_release_indexes(seg);
    return 0;
}

static struct segment *segment_alloc(const char *dir, int64_t base_offset)
{
    struct segment *seg = calloc(1, sizeof(*seg));
    if (!seg)
        return NULL;
    seg->fd = -1;
    seg->index.fd = -1;
    seg->timeindex.fd = -1;
    seg->txnindex.fd = -1;
    seg->base_offset = base_offset;
    seg->next_offset = base_offset;
    seg->max_timestamp = -1;
    seg->max_timestamp_offset = base_offset;
    int n = snprintf(seg->base_path, sizeof(seg->base_path), "%s/%020" PRId64,
                     dir, base_offset);
    if (n < 0 || (size_t)n >= sizeof(seg->base_path)) {
        free(seg);
        return NULL;
    }
    return seg;
}

int segment_create(struct segment **out, const char *dir, int64_t base_offset,
                   int64_t now_ms)
{
    struct segment *seg = segment_alloc(dir, base_offset);
    if (!seg)
        return -ENAMETOOLONG;
    seg->created_ms = now_ms;
    int rc = segment_open_files(seg, O_CREAT | O_TRUNC, 0);
    if (rc == 0)
        rc = storage_sync_dir(dir); /* the new names must survive a crash */
    if (rc < 0) {
        segment_destroy(seg, 1);
        return rc;
    }
    segment_release_indexes(seg); /* empty: opened again when written */
    *out = seg;
    return 0;
}

int segment_create_suffixed(struct segment **out, const char *dir, int64_t base_offset,
                            const char *suffix, int64_t now_ms)
{
    struct segment *seg = segment_alloc(dir, base_offset);
    if (!seg || strlen(suffix) >= sizeof(seg->suffix)) {
        free(seg);
        return -ENAMETOOLONG;
    }
    strcpy(seg->suffix, suffix);
    seg->created_ms = now_ms;
    int rc = segment_open_files(seg, O_CREAT | O_TRUNC, 0);
    if (rc < 0) {
        segment_destroy(seg, 1);
        return rc;
    }
    *out = seg;
    return 0;
}

/* The .txnindex last: it exists only once a transaction aborted in the
 * segment. */
static const char *const segment_exts[] = { ".log", ".index", ".timeindex", ".txnindex" };
#define SEGMENT_NEXTS 4

int segment_rename_suffix(struct segment *seg, const char *suffix)
{
    struct segment to = { .suffix = "" };
    if (strlen(suffix) >= sizeof(to.suffix))
        return -ENAMETOOLONG;
    strcpy(to.base_path, seg->base_path);
    strcpy(to.suffix, suffix);
    for (int i = 0; i < SEGMENT_NEXTS; i++) {
        char from[PATH_MAX], dest[PATH_MAX];
        int rc = segment_path(seg, segment_exts[i], from, sizeof(from));
        if (rc == 0)
            rc = segment_path(&to, segment_exts[i], dest, sizeof(dest));
        if (rc < 0)
            return rc;
        if (i == SEGMENT_NEXTS - 1 && seg->txnindex.fd < 0) {
            /* No aborted transaction: no .txnindex may stay under the new
             * name either (the segment it would describe is replaced). */
            if (storage_sys.unlink(dest) < 0 && errno != ENOENT)
                return -errno;
            continue;
        }
        if (storage_sys.rename(from, dest) < 0)
            return -errno;
    }
    strcpy(seg->suffix, suffix);
    return 0;
}

int segment_sync_all(const struct segment *seg)
{
    if (storage_sys.fsync(seg->fd) < 0 ||
        (seg->index.fd >= 0 && storage_sys.fsync(seg->index.fd) < 0) ||
        (seg->timeindex.fd >= 0 && storage_sys.fsync(seg->timeindex.fd) < 0) ||
        (seg->txnindex.fd >= 0 && storage_sys.fsync(seg->txnindex.fd) < 0))
        return -errno;
    return 0;
}

/* The pre-created segment's files are DIR/.next.log, .next.index and
 * .next.timeindex until the segment is named (segment_rename). */
#define SEGMENT_NEXT ".next"

int segment_precreate(struct segment **out, const char *dir, bool sync_names)
{
    struct segment *seg = segment_alloc(dir, 0);
    if (!seg)
        return -ENAMETOOLONG;
    int n = snprintf(seg->base_path, sizeof(seg->base_path), "%s/" SEGMENT_NEXT, dir);
    int rc = n < 0 || (size_t)n >= sizeof(seg->base_path) ? -ENAMETOOLONG : 0;
    if (rc == 0)
        rc = segment_open_files(seg, O_CREAT | O_TRUNC, 0);
    if (rc == 0 && sync_names)
        rc = storage_sync_dir(dir); /* its names must survive a crash before use */
    if (rc < 0) {
        segment_destroy(seg, 1);
        return rc;
    }
    segment_release_indexes(seg); /* empty: opened again when written */
    *out = seg;
    return 0;
}

void segment_begin(struct segment *seg, int64_t base_offset, int64_t now_ms)
{
    seg->base_offset = base_offset;
    seg->next_offset = base_offset;
    seg->max_timestamp_offset = base_offset;
    seg->created_ms = now_ms;
}

int segment_rename(struct segment *seg, const char *dir)
{
    static const char *const exts[] = { ".log", ".index", ".timeindex" };
    char named[sizeof(seg->base_path)];
    int n = snprintf(named, sizeof(named), "%s/%020" PRId64, dir, seg->base_offset);
    if (n < 0 || (size_t)n >= sizeof(named))
        return -ENAMETOOLONG;
    for (int i = 0; i < 3; i++) {
        char from[PATH_MAX], to[PATH_MAX];
        if (segment_path(seg, exts[i], from, sizeof(from)) < 0 ||
            snprintf(to, sizeof(to), "%s%s", named, exts[i]) >= (int)sizeof(to))
            return -ENAMETOOLONG;
        if (storage_sys.rename(from, to) < 0)
            return -errno;
    }
    /* No .txnindex yet (a pre-created segment has none): none may stay
     * under the new name either - one of an older segment of that base
     * whose unlink a crash lost (a truncation's) would be loaded with it,
     * its aborted transactions taken for this segment's. */
    char stale[PATH_MAX];
    if (seg->txnindex.fd < 0 &&
        snprintf(stale, sizeof(stale), "%s.txnindex", named) < (int)sizeof(stale) &&
        storage_sys.unlink(stale) < 0 && errno != ENOENT)
        return -errno;
    memcpy(seg->base_path, named, sizeof(named));
    return storage_sync_dir(dir);
}

int segment_adopt_next(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/" SEGMENT_NEXT ".log", dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    uint8_t buf[BATCH_HEADER_SIZE];
    ssize_t got = pread(fd, buf, sizeof(buf), 0);
    close(fd);
    if (got != (ssize_t)sizeof(buf))
        return 0; /* empty or torn before one header: nothing was written */
    struct batch_header h;
    batch_header_decode(buf, &h);
    if (h.magic != BATCH_MAGIC || h.base_offset < 0)
        return 0; /* never written whole: precreating it again truncates it */
    struct segment seg = { .base_offset = h.base_offset };
    snprintf(seg.base_path, sizeof(seg.base_path), "%s/" SEGMENT_NEXT, dir);
    char named[PATH_MAX];
    snprintf(named, sizeof(named), "%s/%020" PRId64 ".log", dir, h.base_offset);
    if (access(named, F_OK) == 0)
        return 0; /* already named: this one is a fresh pre-created file */
    slog(SLOG_WARN, "storage", "adopting a segment a crash left unnamed dir=%s base=%" PRId64,
         dir, h.base_offset);
    return segment_rename(&seg, dir);
}

int segment_load(struct segment **out, const char *dir, int64_t base_offset,
                 int load_indexes)
{
    struct segment *seg = segment_alloc(dir, base_offset);
    if (!seg)
        return -ENAMETOOLONG;
    int rc = segment_open_files(seg, O_CREAT, load_indexes);
    struct stat st;
    if (rc == 0 && fstat(seg->fd, &st) < 0)
        rc = -errno;
    if (rc < 0) {
        segment_destroy(seg, 0);
        return rc;
    }
    seg->size = (uint64_t)st.st_size;
    seg->created_ms = (int64_t)st.st_mtim.tv_sec * 1000;
    *out = seg;
    return 0;
}

int segment_reserve(struct segment *seg, int n)
{
    int rc = offset_index_reserve(&seg->index, (uint32_t)n);
    return rc < 0 ? rc : time_index_reserve(&seg->timeindex, (uint32_t)n);
}

int segment_note_batch(struct segment *seg, const struct batch_header *h,
                       uint64_t pos, uint32_t interval)
{
    int64_t last = batch_last_offset(h);
    uint32_t rel = (uint32_t)(last - seg->base_offset);
    int rc = 0;

    if (h->max_timestamp > seg->max_timestamp) {
        seg->max_timestamp = h->max_timestamp;
        seg->max_timestamp_offset = last;
    }
    seg->bytes_since_index += batch_size(h);
    /* Like Kafka: an entry (last offset -> batch start) once more than
     * interval bytes went by; never at position 0, which needs none. */
    const struct offset_index *ix = &seg->index;
    if (seg->bytes_since_index > interval && pos > 0 &&
        (ix->count == 0 || ix->entries[ix->count - 1].position < pos)) {
        rc = offset_index_append(&seg->index, rel, (uint32_t)pos);
        if (rc == 0 && (seg->timeindex.count == 0 ||
                        seg->max_timestamp >
                            seg->timeindex.entries[seg->timeindex.count - 1].timestamp))
            rc = time_index_append(&seg->timeindex, seg->max_timestamp,
                                   (uint32_t)(seg->max_timestamp_offset -
                                              seg->base_offset));
        seg->bytes_since_index = 0;
    }
    seg->next_offset = last + 1;
    return rc;
}

int segment_read_header(const struct segment *seg, uint64_t pos,
                        uint64_t limit, struct batch_header *h)
{
    uint8_t buf[BATCH_HEADER_SIZE];
    if (pos >= limit)
        return -ENODATA;
    if (limit - pos < BATCH_HEADER_SIZE)
        return -EBADMSG;
    ssize_t n = storage_sys.pread(seg->fd, buf, sizeof(buf), (off_t)pos);
    if (n < 0)
        return -errno;
    if (n != (ssize_t)sizeof(buf))
        return -EBADMSG;
    batch_header_decode(buf, h);
    if (h->length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD ||
        h->magic != BATCH_MAGIC || h->last_offset_delta < 0 ||
        batch_size(h) > limit - pos)
        return -EBADMSG;
    return 0;
}

int segment_find_offset(const struct segment *seg, int64_t offset,
                        uint64_t limit, uint64_t *pos, struct batch_header *h)
{
    if (offset < seg->base_offset)
        offset = seg->base_offset;
    uint64_t p = offset_index_lookup(&seg->index,
                                     (uint32_t)(offset - seg->base_offset));
    for (;;) {
        int rc = segment_read_header(seg, p, limit, h);
        if (rc == -ENODATA)
            return -ENOENT;
        if (rc < 0)
            return rc;
        if (batch_last_offset(h) >= offset) {
            *pos = p;
            return 0;
        }
        p += batch_size(h);
    }
}

int segment_end_timeindex(struct segment *seg)
{
    struct time_index *ti = &seg->timeindex;
    if (seg->max_timestamp < 0 ||
        (ti->count > 0 && seg->max_timestamp <= ti->entries[ti->count - 1].timestamp))
        return 0;
    return time_index_append(ti, seg->max_timestamp,
                             (uint32_t)(seg->max_timestamp_offset - seg->base_offset));
}

int segment_flush_indexes(struct segment *seg)
{
    char path[PATH_MAX];
    int rc = 0;
    if (seg->index.written < seg->index.count || seg->timeindex.written < seg->timeindex.count)
        rc = segment_reopen_indexes(seg);
    if (rc == 0)
        rc = offset_index_flush(&seg->index);
    if (rc == 0)
        rc = time_index_flush(&seg->timeindex);
    if (rc == 0 && seg->txnindex.written < seg->txnindex.count &&
        (rc = segment_path(seg, ".txnindex", path, sizeof(path))) == 0)
        rc = txn_index_flush(&seg->txnindex, path);
    return rc;
}

int segment_truncate(struct segment *seg, uint64_t pos)
{
    if (storage_sys.ftruncate(seg->fd, (off_t)pos) < 0)
        return -errno;
    seg->size = pos;
    int rc = segment_reopen_indexes(seg); /* their files may be cut too */
    if (rc < 0)
        return rc;
    rc = offset_index_truncate_position(&seg->index, (uint32_t)pos);
    if (rc < 0)
        return rc;
    rc = time_index_truncate_offset(&seg->timeindex,
                                    (uint32_t)(seg->next_offset - seg->base_offset));
    return rc < 0 ? rc : txn_index_truncate(&seg->txnindex, seg->next_offset);
}

int segment_sync_txnindex(struct segment *seg, const char *dir)
{
    int rc = txn_index_sync(&seg->txnindex);
    if (rc == 0 && seg->txnindex.new_name && (rc = storage_sync_dir(dir)) == 0)
        seg->txnindex.new_name = false;
    return rc;
}

void segment_destroy(struct segment *seg, int unlink_files)
{
    const char *const *exts = segment_exts;
    if (!seg)
        return;
    if (seg->fd >= 0)
        storage_sys.close(seg->fd);
    offset_index_close(&seg->index);
    time_index_close(&seg->timeindex);
    txn_index_close(&seg->txnindex);
    free(seg->snapshot);
    for (int i = 0; unlink_files && i < SEGMENT_NEXTS; i++) {
        char path[PATH_MAX];
        if (segment_path(seg, exts[i], path, sizeof(path)) == 0)
            storage_sys.unlink(path);
    }
    free(seg);
}
