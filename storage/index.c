/* index.c - the .index and .timeindex files of one segment (see index.h).
 *
 * Owns the in-memory entry arrays and their files; knows nothing of the
 * log's batches. Entries only ever grow at the end, except when recovery
 * truncates. A file's descriptor is open only while its segment writes it
 * (segment.c releases and reopens it): the entries live in memory. */
#include "storage/index.h"
#include "storage/batch.h"
#include "storage/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int grow(void **arr, uint32_t *cap, size_t elem)
{
    uint32_t ncap = *cap ? *cap * 2 : 256;
    void *p = realloc(*arr, (size_t)ncap * elem);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

static int open_file(const char *path)
{
    int fd = storage_sys.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

/* Reads the whole file into a fresh buffer; *len gets its size. */
static int read_file(int fd, uint8_t **out, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    *len = (size_t)st.st_size;
    *out = NULL;
    if (*len == 0)
        return 0;
    uint8_t *buf = malloc(*len);
    if (!buf)
        return -ENOMEM;
    size_t got = 0;
    while (got < *len) {
        ssize_t n = pread(fd, buf + got, *len - got, (off_t)got);
        if (n <= 0) {
            free(buf);
            return n < 0 ? -errno : -EIO;
        }
        got += (size_t)n;
    }
    *out = buf;
    return 0;
}

int offset_index_open(struct offset_index *ix, const char *path, int load)
{
    memset(ix, 0, sizeof(*ix));
    ix->fd = open_file(path);
    if (ix->fd < 0)
        return ix->fd;
    if (!load)
        return storage_sys.ftruncate(ix->fd, 0) < 0 ? -errno : 0;

    uint8_t *buf;
    size_t len;
    int rc = read_file(ix->fd, &buf, &len);
    if (rc < 0)
        return rc;
    size_t n = len / INDEX_ENTRY_SIZE;
    for (size_t i = 0; i < n; i++) {
        uint32_t rel = be32_load(buf + i * INDEX_ENTRY_SIZE);
        uint32_t pos = be32_load(buf + i * INDEX_ENTRY_SIZE + 4);
        if (pos == 0 || (ix->count > 0 &&
                         (rel <= ix->entries[ix->count - 1].rel_offset ||
                          pos <= ix->entries[ix->count - 1].position)))
            break; /* torn or garbled: keep the increasing prefix */
        rc = offset_index_append(ix, rel, pos);
        if (rc < 0)
            break;
    }
    free(buf);
    ix->written = ix->count;
    if (rc == 0 && (size_t)ix->count * INDEX_ENTRY_SIZE != len &&
        storage_sys.ftruncate(ix->fd, (off_t)ix->count * INDEX_ENTRY_SIZE) < 0)
        rc = -errno;
    return rc;
}

int offset_index_reserve(struct offset_index *ix, uint32_t n)
{
    while (ix->cap - ix->count < n) {
        int rc = grow((void **)&ix->entries, &ix->cap, sizeof(*ix->entries));
        if (rc < 0)
            return rc;
    }
    return 0;
}

int time_index_reserve(struct time_index *ti, uint32_t n)
{
    while (ti->cap - ti->count < n) {
        int rc = grow((void **)&ti->entries, &ti->cap, sizeof(*ti->entries));
        if (rc < 0)
            return rc;
    }
    return 0;
}

int offset_index_append(struct offset_index *ix, uint32_t rel_offset,
                        uint32_t position)
{
    if (ix->count == ix->cap) {
        int rc = grow((void **)&ix->entries, &ix->cap, sizeof(*ix->entries));
        if (rc < 0)
            return rc;
    }
    ix->entries[ix->count].rel_offset = rel_offset;
    ix->entries[ix->count].position = position;
    ix->count++;
    return 0;
}

uint32_t offset_index_lookup(const struct offset_index *ix, uint32_t rel)
{
    uint32_t lo = 0, hi = ix->count; /* first entry with rel_offset > rel */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ix->entries[mid].rel_offset <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : ix->entries[lo - 1].position;
}

int offset_index_truncate_position(struct offset_index *ix, uint32_t position)
{
    while (ix->count > 0 && ix->entries[ix->count - 1].position >= position)
        ix->count--;
    if (ix->written > ix->count) {
        ix->written = ix->count;
        if (storage_sys.ftruncate(ix->fd, (off_t)ix->count * INDEX_ENTRY_SIZE) < 0)
            return -errno;
    }
    return 0;
}

int offset_index_flush(struct offset_index *ix)
{
    uint8_t buf[4096];
    while (ix->written < ix->count) {
        uint32_t n = ix->count - ix->written;
        if (n > sizeof(buf) / INDEX_ENTRY_SIZE)
            n = sizeof(buf) / INDEX_ENTRY_SIZE;
        for (uint32_t i = 0; i < n; i++) {
            const struct index_entry *e = &ix->entries[ix->written + i];
            be32_store(buf + i * INDEX_ENTRY_SIZE, e->rel_offset);
            be32_store(buf + i * INDEX_ENTRY_SIZE + 4, e->position);
        }
        int rc = storage_pwrite_all(ix->fd, buf, (size_t)n * INDEX_ENTRY_SIZE,
                           (off_t)ix->written * INDEX_ENTRY_SIZE);
        if (rc < 0)
            return rc;
        ix->written += n;
    }
    return 0;
}

int offset_index_reopen(struct offset_index *ix, const char *path)
{
    if (ix->fd >= 0)
        return 0;
    int fd = open_file(path);
    if (fd < 0)
        return fd;
    ix->fd = fd;
    return 0;
}

void offset_index_release(struct offset_index *ix)
{
    if (ix->fd >= 0)
        storage_sys.close(ix->fd);
    ix->fd = -1;
}

void offset_index_close(struct offset_index *ix)
{
    if (ix->fd >= 0)
        storage_sys.close(ix->fd);
    free(ix->entries);
    memset(ix, 0, sizeof(*ix));
    ix->fd = -1;
}

int time_index_open(struct time_index *ti, const char *path, int load)
{
    memset(ti, 0, sizeof(*ti));
    ti->fd = open_file(path);
    if (ti->fd < 0)
        return ti->fd;
    if (!load)
        return storage_sys.ftruncate(ti->fd, 0) < 0 ? -errno : 0;

    uint8_t *buf;
    size_t len;
    int rc = read_file(ti->fd, &buf, &len);
    if (rc < 0)
        return rc;
    size_t n = len / TIMEINDEX_ENTRY_SIZE;
    for (size_t i = 0; i < n; i++) {
        int64_t ts = (int64_t)be64_load(buf + i * TIMEINDEX_ENTRY_SIZE);
        uint32_t rel = be32_load(buf + i * TIMEINDEX_ENTRY_SIZE + 8);
        if (ti->count > 0 && (ts <= ti->entries[ti->count - 1].timestamp ||
                              rel < ti->entries[ti->count - 1].rel_offset))
            break;
        rc = time_index_append(ti, ts, rel);
        if (rc < 0)
            break;
    }
    free(buf);
    ti->written = ti->count;
    if (rc == 0 && (size_t)ti->count * TIMEINDEX_ENTRY_SIZE != len &&
        storage_sys.ftruncate(ti->fd, (off_t)ti->count * TIMEINDEX_ENTRY_SIZE) < 0)
        rc = -errno;
    return rc;
}

int time_index_append(struct time_index *ti, int64_t timestamp,
                      uint32_t rel_offset)
{
    if (ti->count == ti->cap) {
        int rc = grow((void **)&ti->entries, &ti->cap, sizeof(*ti->entries));
        if (rc < 0)
            return rc;
    }
    ti->entries[ti->count].timestamp = timestamp;
    ti->entries[ti->count].rel_offset = rel_offset;
    ti->count++;
    return 0;
}

uint32_t time_index_lookup(const struct time_index *ti, int64_t ts)
{
    uint32_t lo = 0, hi = ti->count; /* first entry with timestamp >= ts */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ti->entries[mid].timestamp < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : ti->entries[lo - 1].rel_offset;
}

int time_index_truncate_offset(struct time_index *ti, uint32_t rel_offset)
{
    while (ti->count > 0 && ti->entries[ti->count - 1].rel_offset >= rel_offset)
        ti->count--;
    if (ti->written > ti->count) {
        ti->written = ti->count;
        if (storage_sys.ftruncate(ti->fd, (off_t)ti->count * TIMEINDEX_ENTRY_SIZE) < 0)
            return -errno;
    }
    return 0;
}

int time_index_flush(struct time_index *ti)
{
    uint8_t buf[4096 - 4096 % TIMEINDEX_ENTRY_SIZE];
    while (ti->written < ti->count) {
        uint32_t n = ti->count - ti->written;
        if (n > sizeof(buf) / TIMEINDEX_ENTRY_SIZE)
            n = sizeof(buf) / TIMEINDEX_ENTRY_SIZE;
        for (uint32_t i = 0; i < n; i++) {
            const struct time_entry *e = &ti->entries[ti->written + i];
            be64_store(buf + i * TIMEINDEX_ENTRY_SIZE, (uint64_t)e->timestamp);
            be32_store(buf + i * TIMEINDEX_ENTRY_SIZE + 8, e->rel_offset);
        }
        int rc = storage_pwrite_all(ti->fd, buf, (size_t)n * TIMEINDEX_ENTRY_SIZE,
                           (off_t)ti->written * TIMEINDEX_ENTRY_SIZE);
        if (rc < 0)
            return rc;
        ti->written += n;
    }
    return 0;
}

int time_index_reopen(struct time_index *ti, const char *path)
{
    if (ti->fd >= 0)
        return 0;
    int fd = open_file(path);
    if (fd < 0)
        return fd;
    ti->fd = fd;
    return 0;
}

void time_index_release(struct time_index *ti)
{
    if (ti->fd >= 0)
        storage_sys.close(ti->fd);
    ti->fd = -1;
}

void time_index_close(struct time_index *ti)
{
    if (ti->fd >= 0)
        storage_sys.close(ti->fd);
    free(ti->entries);
    memset(ti, 0, sizeof(*ti));
    ti->fd = -1;
}
