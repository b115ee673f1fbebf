/* producer_snapshot.c - Kafka's producer snapshot files (format and life
 * in producer_snapshot.h).
 *
 * Invariants:
 *   1. A snapshot file is either whole with a matching CRC or ignored: it
 *      is written as <name>.tmp and renamed, and a torn one fails its CRC.
 *   2. A snapshot named N never claims state of an offset >= N; recovery
 *      deletes snapshots above the recovered log end before loading one.
 * Writes and syncs go through storage_sys. */
#include "storage/producer_snapshot.h"

#include "storage/batch.h"
#include "storage/crc32c.h"
#include "storage/sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNAPSHOT_MAX_BYTES (256u << 20)

size_t producer_snapshot_size(const struct producer_state *ps)
{
    return PRODUCER_SNAPSHOT_HEADER + (size_t)ps->count * PRODUCER_SNAPSHOT_ENTRY;
}

struct enc {
    uint8_t *p;
};

static void enc_entry(void *ctx, const struct producer_entry *e)
{
    struct enc *w = ctx;
    const struct producer_batch *b = producer_entry_last(e);
    uint8_t *p = w->p;
    be64_store(p, (uint64_t)e->pid);
    be16_store(p + 8, (uint16_t)e->epoch);
    be32_store(p + 10, (uint32_t)(b ? b->last_seq : PRODUCER_NO_SEQUENCE));
    be64_store(p + 14, (uint64_t)(b ? b->last_offset : -1));
    be32_store(p + 22, (uint32_t)(b ? b->last_offset - b->first_offset : 0));
    be64_store(p + 26, (uint64_t)e->last_timestamp);
    be32_store(p + 34, (uint32_t)e->coordinator_epoch);
    be64_store(p + 38, (uint64_t)e->txn_first_offset);
    w->p = p + PRODUCER_SNAPSHOT_ENTRY;
}

void producer_snapshot_encode(const struct producer_state *ps, uint8_t *buf)
{
    struct enc w = { buf + PRODUCER_SNAPSHOT_HEADER };
    size_t len = producer_snapshot_size(ps);
    be16_store(buf, PRODUCER_SNAPSHOT_VERSION);
    be32_store(buf + 6, ps->count);
    producer_state_each(ps, enc_entry, &w);
    be32_store(buf + 2, crc32c(buf + 6, len - 6));
}

/* Kafka's DefaultRecordBatch.decrementSequence. */
static int32_t seq_minus(int32_t seq, int32_t n)
{
    if (seq < n)
        return INT32_MAX - (n - seq) + 1;
    return seq - n;
}

int producer_snapshot_decode(const uint8_t *buf, size_t len,
                             int (*fn)(void *ctx, const struct producer_entry *e), void *ctx)
{
    if (len < PRODUCER_SNAPSHOT_HEADER || be16_load(buf) != PRODUCER_SNAPSHOT_VERSION)
        return -EBADMSG;
    if (crc32c(buf + 6, len - 6) != be32_load(buf + 2))
        return -EBADMSG;
    int32_t n = (int32_t)be32_load(buf + 6);
    if (n < 0 || (size_t)n != (len - PRODUCER_SNAPSHOT_HEADER) / PRODUCER_SNAPSHOT_ENTRY ||
        (len - PRODUCER_SNAPSHOT_HEADER) % PRODUCER_SNAPSHOT_ENTRY != 0)
        return -EBADMSG;
    const uint8_t *p = buf + PRODUCER_SNAPSHOT_HEADER;
    for (int32_t i = 0; i < n; i++, p += PRODUCER_SNAPSHOT_ENTRY) {
        struct producer_entry e;
        memset(&e, 0, sizeof(e));
        e.pid = (int64_t)be64_load(p);
        e.epoch = (int16_t)be16_load(p + 8);
        int32_t last_seq = (int32_t)be32_load(p + 10);
        int64_t last_offset = (int64_t)be64_load(p + 14);
        int32_t delta = (int32_t)be32_load(p + 22);
        e.last_timestamp = (int64_t)be64_load(p + 26);
        e.coordinator_epoch = (int32_t)be32_load(p + 34);
        e.txn_first_offset = (int64_t)be64_load(p + 38);
        if (e.pid < 0 || delta < 0 || (last_offset >= 0 && delta > last_offset))
            return -EBADMSG;
        if (e.txn_first_offset < -1)
            e.txn_first_offset = -1;
        if (last_offset >= 0) {
            e.nbatches = 1;
            e.batches[0] = (struct producer_batch){
                .first_seq = seq_minus(last_seq, delta), .last_seq = last_seq,
                .first_offset = last_offset - delta, .last_offset = last_offset,
                .timestamp = e.last_timestamp };
        }
        int rc = fn(ctx, &e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int snapshot_path(char *out, size_t len, const char *dir, int64_t offset, const char *ext)
{
    int n = snprintf(out, len, "%s/%020" PRId64 "%s%s", dir, offset, PRODUCER_SNAPSHOT_SUFFIX, ext);
    return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int producer_snapshot_write(const char *dir, int64_t offset, const struct producer_state *ps,
                            bool sync)
{
    size_t len = producer_snapshot_size(ps);
    uint8_t *buf = malloc(len);
    if (!buf)
        return -ENOMEM;
    producer_snapshot_encode(ps, buf);
    int rc = producer_snapshot_write_encoded(dir, offset, buf, len, sync);
    free(buf);
    return rc;
}

int producer_snapshot_write_encoded(const char *dir, int64_t offset, const uint8_t *buf,
                                    size_t len, bool sync)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    int rc = snapshot_path(path, sizeof(path), dir, offset, "");
    if (rc == 0)
        rc = snapshot_path(tmp, sizeof(tmp), dir, offset, ".tmp");
    if (rc < 0)
        return rc;
    int fd = storage_sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    rc = storage_pwrite_all(fd, buf, len, 0);
    if (rc == 0 && sync && storage_sys.fdatasync(fd) < 0)
        rc = -errno;
    if (storage_sys.close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && storage_sys.rename(tmp, path) < 0)
        rc = -errno;
    if (rc == 0 && sync)
        rc = storage_sync_dir(dir);
    if (rc < 0)
        storage_sys.unlink(tmp);
    return rc;
}

struct load_ctx {
    struct producer_state *ps;
    bool (*keep)(void *ctx, const struct producer_entry *e);
    void *ctx;
};

static int load_entry(void *ctx, const struct producer_entry *e)
{
    struct load_ctx *l = ctx;
    if (l->keep && !l->keep(l->ctx, e))
        return 0;
    return producer_state_load(l->ps, e);
}

int producer_snapshot_load(const char *dir, int64_t offset, struct producer_state *ps,
                           bool (*keep)(void *ctx, const struct producer_entry *e), void *ctx)
{
    char path[PATH_MAX];
    struct stat st;
    int rc = snapshot_path(path, sizeof(path), dir, offset, "");
    if (rc < 0)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || st.st_size > SNAPSHOT_MAX_BYTES) {
        rc = st.st_size > SNAPSHOT_MAX_BYTES ? -EBADMSG : -errno;
        close(fd);
        return rc;
    }
    size_t len = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    while (got < len) {
        ssize_t k = pread(fd, buf + got, len - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    struct load_ctx l = { ps, keep, ctx };
    rc = got == len ? producer_snapshot_decode(buf, len, load_entry, &l) : -EIO;
    free(buf);
    if (rc < 0)
        producer_state_clear(ps); /* no half-loaded state */
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int producer_snapshot_list(const char *dir, int64_t **out, int *count)
{
    size_t want = 20 + strlen(PRODUCER_SNAPSHOT_SUFFIX);
    DIR *d = opendir(dir);
    *out = NULL;
    *count = 0;
    if (!d)
        return -errno;
    int n = 0, cap = 0;
    int64_t *v = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        if (strlen(de->d_name) != want || strcmp(de->d_name + 20, PRODUCER_SNAPSHOT_SUFFIX) != 0)
            continue;
        int64_t off = strtoll(de->d_name, &end, 10);
        if (end != de->d_name + 20 || off < 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            int64_t *nv = realloc(v, sizeof(*nv) * (size_t)cap);
            if (!nv) {
                free(v);
                closedir(d);
                return -ENOMEM;
            }
            v = nv;
        }
        v[n++] = off;
    }
    closedir(d);
    if (n > 1)
        qsort(v, (size_t)n, sizeof(*v), cmp_i64);
    *out = v;
    *count = n;
    return 0;
}

int producer_snapshot_remove(const char *dir, int64_t offset)
{
    char path[PATH_MAX];
    int rc = snapshot_path(path, sizeof(path), dir, offset, "");
    if (rc < 0)
        return rc;
    if (storage_sys.unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}
