/* offsets_file.c - the log of committed offsets,
 * DATA/__sluice/offsets/offsets.log: Kafka's __consumer_offsets, as a
 * small file of our own records.
 *
 * Why not RecordBatch v2 through storage/log.c: that engine is built for
 * a shard's io_uring loop, segments, indexes and fetches by offset; the
 * control thread needs none of that, only "append a few hundred bytes,
 * fdatasync, replay everything at start, rewrite when mostly dead". A
 * flat file of self-checking records does exactly that in one write and
 * one fdatasync per turn, and nobody ever fetches it over the wire.
 *
 * Format (little-endian):
 *   header   "SLUICEOF" u32 version(1) u32 crc32c(of the 12 bytes before)
 *   record   u32 crc32c(of the next 4 + len bytes) u32 len  payload[len]
 *   payload  u8 type  u16 glen group
 *            type 1 (commit):  u8 tlen topic i32 partition i64 offset
 *                              i32 leader_epoch i64 commit_ms i64 expire_ms
 *                              i32 mlen (-1 null) metadata
 *            type 2 (delete):  u8 tlen topic i32 partition
 *            type 3 (delete the whole group): nothing more
 *            type 4 (a commit pending in a transaction): as type 1,
 *                              then i64 producer id
 *            type 5 (a transaction ended): i64 producer id u8 commit
 *                              (group empty)
 *
 * Invariants:
 *   1. A commit is answered only after the write holding its record was
 *      fdatasync'ed (offsets_flush: one write + one fdatasync per turn).
 *   2. The map changes only by applying records, in file order, after they
 *      are durable; replaying the file rebuilds exactly the same map.
 *   3. At open, the first record that does not check out (short, too long,
 *      bad CRC or type) and everything after it is cut off (ftruncate +
 *      fsync) before anything is appended: a torn tail of a crash. What is
 *      kept is fdatasync'ed (with its directory) before it is served.
 *   4. Compaction writes offsets.log.tmp with one commit record per live
 *      entry, fsyncs it, renames it over offsets.log and fsyncs the
 *      directory: a crash leaves the old log or the new one, both whole.
 *   5. A failed write is undone with ftruncate; a failed fdatasync (or a
 *      failed undo) makes the log read-only until restart: its page cache
 *      may no longer match the disk, so nothing more is acknowledged.
 * Every write, sync, truncation, rename and unlink goes through storage_sys
 * (storage/sys.h), so tests can fail them or simulate a power cut. */
#include "control/offsets_private.h"
#include "slog/slog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/crc32c.h"
#include "storage/sys.h"

#define OFF_MAGIC "SLUICEOF"
#define OFF_VERSION 1
#define OFF_HEADER 16
#define OFF_REC_MAX (1u << 20)

/* --- records ---------------------------------------------------------------- */

size_t orec_size(const struct orec *r)
{
    size_t n = 8 + 1 + 2 + r->glen;

    if (r->type == OREC_GROUP_DELETE)
        return n;
    if (r->type == OREC_TXN_END)
        return n + 8 + 1;
    n += 1 + r->tlen + 4;
    if (r->type == OREC_DELETE)
        return n;
    n += 8 + 4 + 8 + 8 + 4 + (r->mlen > 0 ? (size_t)r->mlen : 0);
    return r->type == OREC_TXN_COMMIT ? n + 8 : n;
}

static uint8_t *put(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint64_t get(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint8_t *putb(uint8_t *p, const void *s, size_t n)
{
    if (n)
        memcpy(p, s, n);
    return p + n;
}

static void orec_encode(const struct orec *r, uint8_t *out)
{
    size_t len = orec_size(r) - 8;
    uint8_t *p = put(out + 4, len, 4);

    p = put(p, (uint64_t)r->type, 1);
    p = putb(put(p, r->glen, 2), r->group, r->glen);
    if (r->type == OREC_TXN_END) {
        put(put(p, (uint64_t)r->pid, 8), r->commit ? 1 : 0, 1);
    } else if (r->type != OREC_GROUP_DELETE) {
        p = putb(put(p, r->tlen, 1), r->topic, r->tlen);
        p = put(p, (uint32_t)r->partition, 4);
    }
    if (r->type == OREC_COMMIT || r->type == OREC_TXN_COMMIT) {
        p = put(p, (uint64_t)r->offset, 8);
        p = put(p, (uint32_t)r->epoch, 4);
        p = put(p, (uint64_t)r->commit_ms, 8);
        p = put(p, (uint64_t)r->expire_ms, 8);
        p = put(p, (uint32_t)r->mlen, 4);
        p = putb(p, r->meta, r->mlen > 0 ? (size_t)r->mlen : 0);
        if (r->type == OREC_TXN_COMMIT)
            put(p, (uint64_t)r->pid, 8);
    }
    put(out, crc32c(out + 4, len + 4), 4);
}

/* Decodes the record at p (n bytes left). Its size, or 0 if it does not
 * check out. */
static size_t orec_decode(const uint8_t *p, size_t n, struct orec *r)
{
    size_t len, need;
    const uint8_t *q, *end;

    if (n < 8)
        return 0;
    len = get(p + 4, 4);
    if (len > OFF_REC_MAX || len > n - 8 || len < 3 ||
        crc32c(p + 4, len + 4) != (uint32_t)get(p, 4))
        return 0;
    q = p + 8;
    end = q + len;
    memset(r, 0, sizeof *r);
    r->type = q[0];
    r->glen = get(q + 1, 2);
    r->group = (const char *)q + 3;
    q += 3 + r->glen;
    /* Names are written from C strings: a NUL inside one is damage (and
     * would fold two names into one key of the map). */
    if (q > end || r->type < OREC_COMMIT || r->type > OREC_TXN_END ||
        memchr(r->group, '\0', r->glen))
        return 0;
    if (r->type == OREC_TXN_END) {
        if (q + 9 != end)
            return 0;
        r->pid = (int64_t)get(q, 8);
        r->commit = q[8] != 0;
        return len + 8;
    }
    if (r->type != OREC_GROUP_DELETE) {
        if (q + 1 > end || q + 1 + q[0] + 4 > end)
            return 0;
        r->tlen = q[0];
        r->topic = (const char *)q + 1;
        if (memchr(r->topic, '\0', r->tlen))
            return 0;
        q += 1 + r->tlen;
        r->partition = (int32_t)get(q, 4);
        q += 4;
    }
    if (r->type == OREC_COMMIT || r->type == OREC_TXN_COMMIT) {
        if (q + 32 > end)
            return 0;
        r->offset = (int64_t)get(q, 8);
        r->epoch = (int32_t)get(q + 8, 4);
        r->commit_ms = (int64_t)get(q + 12, 8);
        r->expire_ms = (int64_t)get(q + 20, 8);
        r->mlen = (int32_t)get(q + 28, 4);
        q += 32;
        need = r->mlen > 0 ? (size_t)r->mlen : 0;
        if (r->mlen < -1 || need > (size_t)(end - q))
            return 0;
        r->meta = (const char *)q;
        q += need;
        if (r->type == OREC_TXN_COMMIT) {
            if (q + 8 > end)
                return 0;
            r->pid = (int64_t)get(q, 8);
            q += 8;
        }
    }
    return q == end ? len + 8 : 0;
}

int offsets_buf_add(struct offsets *o, const struct orec *r)
{
    size_t n = orec_size(r);

    if (n - 8 > OFF_REC_MAX)
        return -EINVAL;
    if (o->buf_len + n > o->buf_cap) {
        size_t cap = o->buf_cap ? o->buf_cap : 4096;
        while (cap < o->buf_len + n)
            cap *= 2;
        uint8_t *b = realloc(o->buf, cap);
        if (!b)
            return -ENOMEM;
        o->buf = b;
        o->buf_cap = cap;
    }
    orec_encode(r, o->buf + o->buf_len);
    o->buf_len += n;
    return 0;
}

/* Applies every whole record of p[0..n); returns the bytes they cover. */
static size_t apply_all(struct offsets *o, const uint8_t *p, size_t n, int *rc)
{
    size_t at = 0, k;
    struct orec r;

    *rc = 0;
    while ((k = orec_decode(p + at, n - at, &r)) > 0) {
        if ((*rc = offsets_apply(o, &r)) < 0)
            break;
        at += k;
    }
    return at;
}

/* --- the file --------------------------------------------------------------- */

static void header(uint8_t h[OFF_HEADER])
{
    memcpy(h, OFF_MAGIC, 8);
    put(h + 8, OFF_VERSION, 4);
    put(h + 12, crc32c(h, 12), 4);
}

/* A new log at path holding the header and then p[0..n), fsync'ed. */
static int write_new(const char *path, const uint8_t *p, size_t n)
{
    uint8_t h[OFF_HEADER];
    int fd = storage_sys.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc;

    if (fd < 0)
        return -errno;
    header(h);
    if ((rc = storage_pwrite_all(fd, h, sizeof h, 0)) == 0 &&
        (rc = storage_pwrite_all(fd, p, n, OFF_HEADER)) == 0 && storage_sys.fdatasync(fd) < 0)
        rc = -errno;
    if (storage_sys.close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

static int read_file(int fd, uint8_t **out, size_t *len)
{
    struct stat st;
    size_t got = 0;

    if (fstat(fd, &st) < 0)
        return -errno;
    if (!(*out = malloc((size_t)st.st_size + 1)))
        return -ENOMEM;
    while (got < (size_t)st.st_size) {
        ssize_t k = pread(fd, *out + got, (size_t)st.st_size - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        got += (size_t)k;
    }
    *len = got;
    return 0;
}

int offsets_file_open(struct offsets *o, char *err, size_t errlen)
{
    uint8_t h[OFF_HEADER], *text = NULL;
    size_t len = 0, used;
    int rc;

    if ((rc = storage_mkdir(o->dir, 0755)) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", o->dir, strerror(-rc));
        return rc;
    }
    storage_sys.unlink(o->tmp_path);       /* a compaction a crash interrupted */
    o->fd = storage_sys.open(o->path, O_RDWR | O_CLOEXEC, 0);
    if (o->fd < 0 && errno == ENOENT) {
        if ((rc = write_new(o->path, NULL, 0)) < 0 || (rc = storage_sync_dir(o->dir)) < 0) {
            snprintf(err, errlen, "cannot create %s: %s", o->path, strerror(-rc));
            return rc;
        }
        o->fd = storage_sys.open(o->path, O_RDWR | O_CLOEXEC, 0);
    }
    if (o->fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot open %s: %s", o->path, strerror(-rc));
        return rc;
    }
    if ((rc = read_file(o->fd, &text, &len)) < 0) {
        snprintf(err, errlen, "cannot read %s: %s", o->path, strerror(-rc));
        goto out;
    }
    header(h);
    if (len < OFF_HEADER || memcmp(text, h, OFF_HEADER) != 0) {
        if (len < OFF_HEADER && memcmp(text, h, len) == 0) {
            /* Created, then a crash before the header was synced. */
            rc = write_new(o->path, NULL, 0);
            if (rc == 0)
                rc = storage_sync_dir(o->dir);
            if (rc < 0)
                snprintf(err, errlen, "cannot rewrite %s: %s", o->path, strerror(-rc));
            len = OFF_HEADER;
            used = 0;
            goto done;
        }
        snprintf(err, errlen, "%s: not a sluice offsets log (bad header)", o->path);
        rc = -EINVAL;
        goto out;
    }
    used = apply_all(o, text + OFF_HEADER, len - OFF_HEADER, &rc);
    if (rc < 0) {
        snprintf(err, errlen, "cannot load %s: out of memory", o->path);
        goto out;
    }
    if (OFF_HEADER + used < len) {
        slog(SLOG_WARN, "control", "%s: cut a torn tail of %zu bytes at %zu", o->path,
                len - OFF_HEADER - used, OFF_HEADER + used);
        if (storage_sys.ftruncate(o->fd, (off_t)(OFF_HEADER + used)) < 0 ||
            storage_sys.fsync(o->fd) < 0) {
            rc = -errno;
            snprintf(err, errlen, "cannot truncate %s: %s", o->path, strerror(-rc));
            goto out;
        }
    }
    /* Replayed records count as committed from now on: a crash may have
     * left them in the page cache only (written, the fdatasync not done),
     * so they are synced before anyone can read them. */
    if (storage_sys.fdatasync(o->fd) < 0 || (rc = storage_sync_dir(o->dir)) < 0) {
        rc = rc < 0 ? rc : -errno;
        snprintf(err, errlen, "cannot sync %s: %s", o->path, strerror(-rc));
        goto out;
    }
done:
    o->file_bytes = (int64_t)(OFF_HEADER + used);
out:
    free(text);
    if (rc < 0 && o->fd >= 0) {
        storage_sys.close(o->fd);
        o->fd = -1;
    }
    return rc;
}

void offsets_file_close(struct offsets *o)
{
    if (o->fd >= 0)
        storage_sys.close(o->fd);
    o->fd = -1;
}

/* --- flush and compaction ------------------------------------------------------ */

struct live_buf {
    uint8_t *p;
    size_t len, cap;
};

static int add_live(void *ctx, const struct orec *r)
{
    struct live_buf *b = ctx;
    size_t n = orec_size(r);

    if (b->len + n > b->cap)
        return -ENOMEM;
    orec_encode(r, b->p + b->len);
    b->len += n;
    return 0;
}

int offsets_compact(struct offsets *o)
{
    struct live_buf b = {.cap = (size_t)o->live_bytes};
    int fd, rc;

    if (o->failed)
        return -EIO;
    if (o->buf_len > 0 && (rc = offsets_flush(o)) < 0)
        return rc;
    if (!(b.p = malloc(b.cap ? b.cap : 1)))
        return -ENOMEM;
    if ((rc = offsets_each_live(o, add_live, &b)) < 0 ||
        (rc = write_new(o->tmp_path, b.p, b.len)) < 0)
        goto fail;
    if (storage_sys.rename(o->tmp_path, o->path) < 0) {
        rc = -errno;
        goto fail;
    }
    free(b.p);
    /* From here the new file is the log: the old fd is of an unlinked one. */
    if ((rc = storage_sync_dir(o->dir)) < 0 ||
        (fd = storage_sys.open(o->path, O_RDWR | O_CLOEXEC, 0)) < 0) {
        rc = rc < 0 ? rc : -errno;
        slog(SLOG_WARN, "control", "%s: compaction: %s; offsets read-only",
                o->path, strerror(-rc));
        o->failed = true;
        return rc;
    }
    storage_sys.close(o->fd);
    o->fd = fd;
    o->file_bytes = OFF_HEADER + (int64_t)b.len;
    return 0;
fail:
    free(b.p);
    storage_sys.unlink(o->tmp_path);
    slog(SLOG_WARN, "control", "%s: compaction failed: %s (the log stays as it was)",
            o->path, strerror(-rc));
    return rc;
}

int offsets_flush(struct offsets *o)
{
    int rc = 0;

    if (o->buf_len == 0) {
        offsets_answer_held(o, !o->failed);
        return o->failed ? -EIO : 0;
    }
    if (o->failed) {
        rc = -EIO;
    } else if ((rc = storage_pwrite_all(o->fd, o->buf, o->buf_len, (off_t)o->file_bytes)) < 0) {
        if (storage_sys.ftruncate(o->fd, (off_t)o->file_bytes) < 0)
            o->failed = true;
    } else if (storage_sys.fdatasync(o->fd) < 0) {
        rc = -errno;
        o->failed = true;
    }
    if (rc < 0) {
        slog(SLOG_WARN, "control", "%s: %s%s", o->path, strerror(-rc),
                o->failed ? "; offsets read-only until restart" : "");
        o->buf_len = 0;
        offsets_answer_held(o, false);
        return rc;
    }
    o->file_bytes += (int64_t)o->buf_len;
    apply_all(o, o->buf, o->buf_len, &rc);  /* -ENOMEM: a restart has it */
    o->buf_len = 0;
    offsets_answer_held(o, true);
    int64_t ratio = o->opt.compact_ratio > 0 ? o->opt.compact_ratio : 4;
    int64_t min = o->opt.compact_min_bytes > 0 ? o->opt.compact_min_bytes : 1 << 20;
    if (o->file_bytes > min && o->file_bytes - OFF_HEADER > ratio * o->live_bytes)
        offsets_compact(o);
    return 0;
}

/* --- create, destroy ------------------------------------------------------------- */

int offsets_create(struct offsets **out, const char *dir, const struct offsets_options *opt,
                   offsets_answer_fn answer, void *ctx, int64_t now_ms, char *err,
                   size_t errlen)
{
    struct offsets *o = calloc(1, sizeof *o);
    size_t n = strlen(dir);
    int rc = -ENOMEM;

    *out = NULL;
    if (!o)
        return -ENOMEM;
    o->opt = *opt;
    o->answer = answer;
    o->answer_ctx = ctx;
    o->started_ms = now_ms;
    o->fd = -1;
    o->dir = strdup(dir);
    o->path = malloc(n + sizeof "/offsets.log");
    o->tmp_path = malloc(n + sizeof "/offsets.log.tmp");
    if (!o->dir || !o->path || !o->tmp_path) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    sprintf(o->path, "%s/offsets.log", dir);
    sprintf(o->tmp_path, "%s/offsets.log.tmp", dir);
    if ((rc = offsets_file_open(o, err, errlen)) < 0)
        goto err;
    *out = o;
    return 0;
err:
    offsets_destroy(o);
    return rc;
}

void offsets_destroy(struct offsets *o)
{
    if (!o)
        return;
    offsets_file_close(o);
    offsets_map_free(o);
    free(o->buf);
    free(o->held);
    free(o->dir);
    free(o->path);
    free(o->tmp_path);
    free(o);
}

int64_t offsets_file_bytes(const struct offsets *o)
{
    return o->file_bytes;
}

int64_t offsets_live_bytes(const struct offsets *o)
{
    return o->live_bytes;
}
