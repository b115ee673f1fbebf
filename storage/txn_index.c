/* txn_index.c - the aborted-transaction index of a segment (see
 * txn_index.h). Writes go through storage_sys. */
#include "storage/txn_index.h"

#include "storage/batch.h"
#include "storage/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TXN_INDEX_MAX_BYTES (64u << 20)

void txn_index_encode(const struct aborted_txn *a, uint8_t out[TXN_INDEX_ENTRY])
{
    be16_store(out, TXN_INDEX_VERSION);
    be64_store(out + 2, (uint64_t)a->pid);
    be64_store(out + 10, (uint64_t)a->first_offset);
    be64_store(out + 18, (uint64_t)a->last_offset);
    be64_store(out + 26, (uint64_t)a->last_stable_offset);
}

bool txn_index_decode(const uint8_t in[TXN_INDEX_ENTRY], struct aborted_txn *a)
{
    if (be16_load(in) != TXN_INDEX_VERSION)
        return false;
    a->pid = (int64_t)be64_load(in + 2);
    a->first_offset = (int64_t)be64_load(in + 10);
    a->last_offset = (int64_t)be64_load(in + 18);
    a->last_stable_offset = (int64_t)be64_load(in + 26);
    return true;
}

int txn_index_reserve(struct txn_index *ti, uint32_t n)
{
    if (ti->count + n <= ti->cap)
        return 0;
    uint32_t cap = ti->cap ? ti->cap : 8;
    while (cap < ti->count + n)
        cap *= 2;
    struct aborted_txn *v = realloc(ti->v, sizeof(*v) * cap);
    if (!v)
        return -ENOMEM;
    ti->v = v;
    ti->cap = cap;
    return 0;
}

int txn_index_append(struct txn_index *ti, const struct aborted_txn *a)
{
    if (a->first_offset > a->last_offset ||
        (ti->count > 0 && a->last_offset <= ti->v[ti->count - 1].last_offset))
        return -EINVAL;
    if (txn_index_reserve(ti, 1) < 0)
        return -ENOMEM;
    ti->v[ti->count++] = *a;
    return 0;
}

uint64_t txn_index_parse(struct txn_index *ti, const uint8_t *buf, uint64_t len)
{
    uint64_t at = 0;
    for (; len - at >= TXN_INDEX_ENTRY; at += TXN_INDEX_ENTRY) {
        struct aborted_txn a;
        if (!txn_index_decode(buf + at, &a) || txn_index_append(ti, &a) < 0)
            break;
    }
    return at;
}

static int load_file(struct txn_index *ti)
{
    struct stat st;
    if (fstat(ti->fd, &st) < 0)
        return -errno;
    uint64_t len = (uint64_t)st.st_size;
    if (len > TXN_INDEX_MAX_BYTES)
        len = TXN_INDEX_MAX_BYTES;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return -ENOMEM;
    uint64_t got = 0;
    while (got < len) {
        ssize_t k = pread(ti->fd, buf + got, len - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (uint64_t)k;
    }
    uint64_t good = txn_index_parse(ti, buf, got);
    free(buf);
    ti->written = ti->count;
    if (good < (uint64_t)st.st_size && storage_sys.ftruncate(ti->fd, (off_t)good) < 0)
        return -errno;
    return 0;
}

int txn_index_open(struct txn_index *ti, const char *path, bool load)
{
    memset(ti, 0, sizeof(*ti));
    ti->fd = storage_sys.open(path, O_RDWR | O_CLOEXEC, 0);
    if (ti->fd < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!load)
        return storage_sys.ftruncate(ti->fd, 0) < 0 ? -errno : 0;
    return load_file(ti);
}

void txn_index_close(struct txn_index *ti)
{
    if (ti->fd >= 0)
        storage_sys.close(ti->fd);
    free(ti->v);
    memset(ti, 0, sizeof(*ti));
    ti->fd = -1;
}

int txn_index_flush(struct txn_index *ti, const char *path)
{
    if (ti->written == ti->count)
        return 0;
    if (ti->fd < 0) {
        /* Its first entry: whatever a file of that name holds is not this
         * segment's (see segment_rename). */
        ti->fd = storage_sys.open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (ti->fd < 0)
            return -errno;
        ti->new_name = true;
    }
    uint32_t n = ti->count - ti->written;
    uint8_t *buf = malloc((size_t)n * TXN_INDEX_ENTRY);
    if (!buf)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        txn_index_encode(&ti->v[ti->written + i], buf + (size_t)i * TXN_INDEX_ENTRY);
    struct iovec iov = { .iov_base = buf, .iov_len = (size_t)n * TXN_INDEX_ENTRY };
    off_t at = (off_t)ti->written * TXN_INDEX_ENTRY;
    ssize_t k = storage_sys.pwritev(ti->fd, &iov, 1, at);
    int rc = k == (ssize_t)iov.iov_len ? 0 : (k < 0 ? -errno : -EIO);
    free(buf);
    if (rc == 0)
        ti->written = ti->count;
    return rc;
}

int txn_index_sync(struct txn_index *ti)
{
    if (ti->fd < 0)
        return 0;
    return storage_sys.fdatasync(ti->fd) < 0 ? -errno : 0;
}

int txn_index_truncate(struct txn_index *ti, int64_t offset)
{
    uint32_t keep = 0;
    while (keep < ti->count && ti->v[keep].last_offset < offset)
        keep++;
    ti->count = keep;
    if (ti->written > keep) {
        ti->written = keep;
        if (ti->fd >= 0 && storage_sys.ftruncate(ti->fd, (off_t)keep * TXN_INDEX_ENTRY) < 0)
            return -errno;
    }
    return 0;
}

bool txn_index_collect(const struct txn_index *ti, int64_t fetch_offset, int64_t upper,
                       struct aborted_txn *out, int max, int *n)
{
    /* Entries are sorted by last offset: skip those that end before the
     * fetch. */
    uint32_t lo = 0, hi = ti->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ti->v[mid].last_offset < fetch_offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (uint32_t i = lo; i < ti->count; i++) {
        const struct aborted_txn *a = &ti->v[i];
        if (a->first_offset < upper && *n < max)
            out[(*n)++] = *a;
        if (a->last_stable_offset >= upper)
            return true;
    }
    return false;
}
