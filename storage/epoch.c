/* epoch.c - a partition's leader epochs and their checkpoint file (see
 * epoch.h for the format and the invariants).
 *
 * Owns: the sorted entries in memory, Kafka's OffsetForLeaderEpoch rule,
 * and writing the file atomically through storage_sys.
 *
 * Never: touches a segment, a socket or the control thread. */
#include "storage/epoch.h"
#include "storage/sys.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EPOCH_VERSION 0
#define EPOCH_MAX_ENTRIES (1 << 20)  /* a sanity bound on a file's count */

static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);

    if (p) {
        memcpy(p, a, la);
        p[la] = '/';
        memcpy(p + la + 1, b, lb + 1);
    }
    return p;
}

/* --- parsing ------------------------------------------------------------------- */

/* A decimal number at *p (a leading '-' only when neg_ok), up to a space
 * or newline; advances *p. */
static int number(const char **p, const char *end, bool neg_ok, int64_t lo,
                  int64_t hi, int64_t *out)
{
    const char *s = *p;
    bool neg = false;
    int64_t v = 0;

    if (s < end && *s == '-' && neg_ok) {
        neg = true;
        s++;
    }
    if (s >= end || *s < '0' || *s > '9')
        return -EINVAL;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (v > (INT64_MAX - (*s - '0')) / 10)
            return -EINVAL;
        v = v * 10 + (*s - '0');
    }
    v = neg ? -v : v;
    if (v < lo || v > hi)
        return -EINVAL;
    *p = s;
    *out = v;
    return 0;
}

static int expect_char(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return -EINVAL;
    (*p)++;
    return 0;
}

int epoch_parse(const char *text, size_t len, struct epoch_entry **out,
                int *n)
{
    const char *p = text, *end = text + len;
    int64_t version, count, epoch, offset;
    struct epoch_entry *v = NULL;

    *out = NULL;
    *n = 0;
    if (number(&p, end, false, 0, EPOCH_VERSION, &version) < 0 ||
        expect_char(&p, end, '\n') < 0 ||
        number(&p, end, false, 0, EPOCH_MAX_ENTRIES, &count) < 0 ||
        expect_char(&p, end, '\n') < 0)
        return -EINVAL;
    if (count > 0 && !(v = calloc((size_t)count, sizeof *v)))
        return -ENOMEM;
    for (int64_t i = 0; i < count; i++) {
        if (number(&p, end, false, 0, INT32_MAX, &epoch) < 0 ||
            expect_char(&p, end, ' ') < 0 ||
            number(&p, end, false, 0, INT64_MAX, &offset) < 0 ||
            expect_char(&p, end, '\n') < 0 ||
            (i > 0 && (epoch <= v[i - 1].epoch ||
                       offset <= v[i - 1].start_offset))) {
            free(v);
            return -EINVAL;
        }
        v[i] = (struct epoch_entry){.epoch = (int32_t)epoch,
                                    .start_offset = offset};
    }
    if (p != end) {
        free(v);
        return -EINVAL;
    }
    *out = v;
    *n = (int)count;
    return 0;
}

int epoch_cache_open(struct epoch_cache *c, const char *dir)
{
    struct stat st;
    char *text = NULL;
    int fd, rc = 0;
    size_t got = 0;

    memset(c, 0, sizeof *c);
    c->dir = strdup(dir);
    c->path = path_join(dir, EPOCH_FILE);
    if (!c->dir || !c->path) {
        rc = -ENOMEM;
        goto err;
    }
    if ((fd = open(c->path, O_RDONLY | O_CLOEXEC)) < 0) {
        if (errno == ENOENT)
            return 0;
        rc = -errno;
        goto err;
    }
    if (fstat(fd, &st) < 0 || st.st_size > (64 << 20)) {
        rc = fstat(fd, &st) < 0 ? -errno : -EINVAL;
        close(fd);
        goto err;
    }
    if (!(text = malloc((size_t)st.st_size + 1))) {
        close(fd);
        rc = -ENOMEM;
        goto err;
    }
    while (got < (size_t)st.st_size) {
        ssize_t k = pread(fd, text + got, (size_t)st.st_size - got, (off_t)got);
        if (k <= 0) {
            rc = k < 0 ? -errno : -EIO;
            break;
        }
        got += (size_t)k;
    }
    close(fd);
    if (rc == 0)
        rc = epoch_parse(text, got, &c->v, &c->n);
    free(text);
    if (rc < 0)
        goto err;
    c->cap = c->n;
    return 0;
err:
    epoch_cache_close(c);
    return rc;
}

void epoch_cache_close(struct epoch_cache *c)
{
    free(c->v);
    free(c->path);
    free(c->dir);
    memset(c, 0, sizeof *c);
}

/* --- writing --------------------------------------------------------------------- */

/* Invariant 2: DIR/leader-epoch-checkpoint.tmp, fsync, rename, fsync DIR. */
static int epoch_write(const struct epoch_cache *c)
{
    size_t plen = strlen(c->path), cap = 32 + (size_t)c->n * 32, len = 0;
    char *tmp = malloc(plen + 5), *text = malloc(cap);
    int fd = -1, rc = -ENOMEM;

    if (!tmp || !text)
        goto out;
    memcpy(tmp, c->path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    len = (size_t)snprintf(text, cap, "%d\n%d\n", EPOCH_VERSION, c->n);
    for (int i = 0; i < c->n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%" PRId32 " %" PRId64 "\n",
                                c->v[i].epoch, c->v[i].start_offset);
    fd = storage_sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if ((rc = storage_pwrite_all(fd, text, len, 0)) < 0)
        goto out;
    if (storage_sys.fsync(fd) < 0) {
        rc = -errno;
        goto out;
    }
    rc = storage_sys.close(fd) < 0 ? -errno : 0;
    fd = -1;
    if (rc == 0 && storage_sys.rename(tmp, c->path) < 0)
        rc = -errno;
    if (rc == 0)
        rc = storage_sync_dir(c->dir);
out:
    if (fd >= 0)
        storage_sys.close(fd);
    if (rc < 0 && tmp)
        storage_sys.unlink(tmp);
    free(tmp);
    free(text);
    return rc;
}

/* Applies a change made to a copy: written first, then kept. */
static int epoch_commit(struct epoch_cache *c, struct epoch_entry *v, int n,
                        int cap)
{
    struct epoch_cache next = *c;
    int rc;

    next.v = v;
    next.n = n;
    if ((rc = epoch_write(&next)) < 0) {
        if (v != c->v)
            free(v);
        return rc;
    }
    if (v != c->v)
        free(c->v);
    c->v = v;
    c->n = n;
    c->cap = cap;
    return 0;
}

int epoch_cache_assign(struct epoch_cache *c, int32_t epoch,
                       int64_t start_offset)
{
    struct epoch_entry *v;

    if (c->n > 0 && c->v[c->n - 1].epoch == epoch)
        return 0;
    if (epoch < 0 || start_offset < 0 ||
        (c->n > 0 && (epoch < c->v[c->n - 1].epoch ||
                      start_offset <= c->v[c->n - 1].start_offset)))
        return -EINVAL;
    if (!(v = malloc(sizeof *v * (size_t)(c->n + 1))))
        return -ENOMEM;
    if (c->n > 0)
        memcpy(v, c->v, sizeof *v * (size_t)c->n);
    v[c->n] = (struct epoch_entry){.epoch = epoch, .start_offset = start_offset};
    return epoch_commit(c, v, c->n + 1, c->n + 1);
}

int32_t epoch_cache_latest(const struct epoch_cache *c)
{
    return c->n > 0 ? c->v[c->n - 1].epoch : EPOCH_UNDEFINED;
}

void epoch_cache_end_offset(const struct epoch_cache *c, int32_t epoch,
                            int64_t log_end, int32_t *out_epoch,
                            int64_t *out_end)
{
    int higher = -1, floor = -1;

    *out_epoch = EPOCH_UNDEFINED;
    *out_end = -1;
    if (epoch == EPOCH_UNDEFINED || c->n == 0)
        return;
    if (c->v[c->n - 1].epoch == epoch) {
        *out_epoch = epoch;
        *out_end = log_end;
        return;
    }
    for (int i = 0; i < c->n; i++) {
        if (c->v[i].epoch <= epoch)
            floor = i;
        else if (higher < 0)
            higher = i;
    }
    if (higher < 0)
        return;                         /* newer than every epoch here */
    *out_epoch = floor < 0 ? epoch : c->v[floor].epoch;
    *out_end = c->v[higher].start_offset;
}

int epoch_cache_truncate_end(struct epoch_cache *c, int64_t end_offset)
{
    int n = c->n;

    while (n > 0 && c->v[n - 1].start_offset >= end_offset)
        n--;
    if (n == c->n)
        return 0;
    return epoch_commit(c, c->v, n, c->cap);
}

int epoch_cache_truncate_start(struct epoch_cache *c, int64_t start_offset)
{
    int k = 0;
    struct epoch_entry *v;

    while (k + 1 < c->n && c->v[k + 1].start_offset <= start_offset)
        k++;
    if (c->n == 0 || (k == 0 && c->v[0].start_offset >= start_offset))
        return 0;
    if (!(v = malloc(sizeof *v * (size_t)(c->n - k))))
        return -ENOMEM;
    memcpy(v, c->v + k, sizeof *v * (size_t)(c->n - k));
    if (v[0].start_offset < start_offset)
        v[0].start_offset = start_offset;
    return epoch_commit(c, v, c->n - k, c->n - k);
}
