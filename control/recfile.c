/* recfile.c - a control-thread log of CRC-framed records (see recfile.h). */
#include "control/recfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/crc32c.h"
#include "storage/sys.h"

uint8_t *recfile_put(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++, v >>= 8)
        p[i] = (uint8_t)v;
    return p + n;
}

uint64_t recfile_get(const uint8_t *p, int n)
{
    uint64_t v = 0;
    while (n-- > 0)
        v = v << 8 | p[n];
    return v;
}

size_t recfile_next(const uint8_t *p, size_t n, const uint8_t **payload, size_t *len)
{
    if (n < RECFILE_FRAME)
        return 0;
    size_t l = (size_t)recfile_get(p + 4, 4);
    if (l == 0 || l > RECFILE_RECORD_MAX || l > n - RECFILE_FRAME ||
        crc32c(p + 4, l + 4) != (uint32_t)recfile_get(p, 4))
        return 0;
    *payload = p + RECFILE_FRAME;
    *len = l;
    return l + RECFILE_FRAME;
}

static void make_header(const struct recfile *f, uint8_t h[RECFILE_HEADER])
{
    memcpy(h, f->magic, 8);
    recfile_put(h + 8, f->version, 4);
    recfile_put(h + 12, crc32c(h, 12), 4);
}

/* A new file at path: the header, then p[0..n), fdatasync'ed. */
static int create_file(const struct recfile *f, const char *path, const uint8_t *p, size_t n)
{
    uint8_t h[RECFILE_HEADER];
    int fd = storage_sys.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    make_header(f, h);
    int rc = storage_pwrite_all(fd, h, sizeof(h), 0);
    if (rc == 0)
        rc = storage_pwrite_all(fd, p, n, RECFILE_HEADER);
    if (rc == 0 && storage_sys.fdatasync(fd) < 0)
        rc = -errno;
    if (storage_sys.close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

static int slurp(int fd, uint8_t **out, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    size_t size = (size_t)st.st_size, got = 0;
    uint8_t *p = malloc(size + 1);
    if (!p)
        return -ENOMEM;
    while (got < size) {
        ssize_t k = pread(fd, p + got, size - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            free(p);
            return k < 0 ? -errno : -EIO;
        }
        got += (size_t)k;
    }
    *out = p;
    *len = size;
    return 0;
}

static char *join(const char *dir, const char *name, const char *ext)
{
    size_t n = strlen(dir) + strlen(name) + strlen(ext) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s%s", dir, name, ext);
    return s;
}

/* Replays text[0..len) (header checked); returns the bytes that hold. */
static size_t replay(const uint8_t *text, size_t len, recfile_apply_fn apply, void *ctx, int *rc)
{
    size_t at = RECFILE_HEADER, k, plen;
    const uint8_t *payload;
    *rc = 0;
    while ((k = recfile_next(text + at, len - at, &payload, &plen)) > 0) {
        if ((*rc = apply(ctx, payload, plen)) < 0)
            break;
        at += k;
    }
    return at;
}

int recfile_open(struct recfile *f, const char *dir, const char *name, const char magic[8],
                 uint32_t version, recfile_apply_fn apply, void *ctx, char *err, size_t errlen)
{
    uint8_t h[RECFILE_HEADER], *text = NULL;
    size_t len = 0;
    int rc;

    memset(f, 0, sizeof(*f));
    f->fd = -1;
    memcpy(f->magic, magic, 8);
    f->version = version;
    f->dir = strdup(dir);
    f->path = join(dir, name, "");
    f->tmp_path = join(dir, name, ".tmp");
    if (!f->dir || !f->path || !f->tmp_path) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if ((rc = storage_mkdir(dir, 0755)) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
        return rc;
    }
    storage_sys.unlink(f->tmp_path); /* a rewrite a crash interrupted */
    make_header(f, h);
    f->fd = storage_sys.open(f->path, O_RDWR | O_CLOEXEC, 0);
    if (f->fd >= 0 && (rc = slurp(f->fd, &text, &len)) < 0) {
        snprintf(err, errlen, "cannot read %s: %s", f->path, strerror(-rc));
        return rc;
    }
    if (f->fd < 0 || (len < RECFILE_HEADER && memcmp(text, h, len) == 0)) {
        /* Absent, or created and cut short by a crash before its header
         * was synced: start it again. */
        if (f->fd >= 0)
            storage_sys.close(f->fd);
        free(text);
        if ((rc = create_file(f, f->path, NULL, 0)) < 0 || (rc = storage_sync_dir(dir)) < 0 ||
            (f->fd = storage_sys.open(f->path, O_RDWR | O_CLOEXEC, 0)) < 0) {
            rc = rc < 0 ? rc : -errno;
            snprintf(err, errlen, "cannot create %s: %s", f->path, strerror(-rc));
            return rc;
        }
        f->file_bytes = RECFILE_HEADER;
        return 0;
    }
    if (memcmp(text, h, RECFILE_HEADER) != 0) {
        free(text);
        snprintf(err, errlen, "%s: not a sluice %.8s log (bad header)", f->path, magic);
        return -EINVAL;
    }
    size_t good = replay(text, len, apply, ctx, &rc);
    free(text);
    if (rc < 0) {
        snprintf(err, errlen, "cannot load %s: %s", f->path, strerror(-rc));
        return rc;
    }
    if (good < len) {
        fprintf(stderr, "sluice control: %s: cut a torn tail of %zu bytes at %zu\n", f->path,
                len - good, good);
        if (storage_sys.ftruncate(f->fd, (off_t)good) < 0 || storage_sys.fdatasync(f->fd) < 0) {
            rc = -errno;
            snprintf(err, errlen, "cannot truncate %s: %s", f->path, strerror(-rc));
            return rc;
        }
    }
    f->file_bytes = (int64_t)good;
    return 0;
}

void recfile_close(struct recfile *f)
{
    if (f->fd >= 0)
        storage_sys.close(f->fd);
    free(f->buf);
    free(f->dir);
    free(f->path);
    free(f->tmp_path);
    memset(f, 0, sizeof(*f));
    f->fd = -1;
}

uint8_t *recfile_begin(struct recfile *f, size_t len)
{
    if (len == 0 || len > RECFILE_RECORD_MAX)
        return NULL;
    size_t need = f->buf_len + RECFILE_FRAME + len;
    if (need > f->buf_cap) {
        size_t cap = f->buf_cap ? f->buf_cap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *b = realloc(f->buf, cap);
        if (!b)
            return NULL;
        f->buf = b;
        f->buf_cap = cap;
    }
    f->open_at = f->buf_len;
    recfile_put(f->buf + f->buf_len + 4, len, 4);
    f->buf_len = need;
    return f->buf + f->open_at + RECFILE_FRAME;
}

void recfile_end(struct recfile *f)
{
    uint8_t *r = f->buf + f->open_at;
    size_t len = (size_t)recfile_get(r + 4, 4);
    recfile_put(r, crc32c(r + 4, len + 4), 4);
}

int recfile_flush(struct recfile *f)
{
    int rc = 0;
    if (f->buf_len == 0)
        return f->failed ? -EIO : 0;
    if (f->failed) {
        rc = -EIO;
    } else if ((rc = storage_pwrite_all(f->fd, f->buf, f->buf_len, (off_t)f->file_bytes)) < 0) {
        if (storage_sys.ftruncate(f->fd, (off_t)f->file_bytes) < 0)
            f->failed = true;
    } else if (storage_sys.fdatasync(f->fd) < 0) {
        rc = -errno;
        f->failed = true;
    }
    if (rc < 0) {
        fprintf(stderr, "sluice control: %s: %s%s\n", f->path, strerror(-rc),
                f->failed ? "; read-only until restart" : "");
        f->buf_len = 0;
        return rc;
    }
    f->file_bytes += (int64_t)f->buf_len;
    f->buf_len = 0;
    return 0;
}

int recfile_rewrite(struct recfile *f, int (*fill)(void *ctx, struct recfile *out), void *ctx)
{
    struct recfile out = { .fd = -1 };
    int rc;
    if (f->failed)
        return -EIO;
    if ((rc = recfile_flush(f)) < 0)
        return rc;
    if ((rc = fill(ctx, &out)) < 0 || (rc = create_file(f, f->tmp_path, out.buf, out.buf_len)) < 0)
        goto fail;
    if (storage_sys.rename(f->tmp_path, f->path) < 0) {
        rc = -errno;
        goto fail;
    }
    /* From here the new file is the log; the old fd is of an unlinked one. */
    int fd = -1;
    if ((rc = storage_sync_dir(f->dir)) < 0 ||
        (fd = storage_sys.open(f->path, O_RDWR | O_CLOEXEC, 0)) < 0) {
        rc = rc < 0 ? rc : -errno;
        fprintf(stderr, "sluice control: %s: rewrite: %s; read-only\n", f->path, strerror(-rc));
        f->failed = true;
        free(out.buf);
        return rc;
    }
    storage_sys.close(f->fd);
    f->fd = fd;
    f->file_bytes = RECFILE_HEADER + (int64_t)out.buf_len;
    free(out.buf);
    return 0;
fail:
    free(out.buf);
    storage_sys.unlink(f->tmp_path);
    fprintf(stderr, "sluice control: %s: rewrite failed: %s (the log stays as it was)\n",
            f->path, strerror(-rc));
    return rc;
}
