/* checkpoint.c - Kafka's checkpoint files, as the log start offset
 * (log-start-offset-checkpoint) and the cleaner's first dirty offset
 * (cleaner-offset-checkpoint) are kept:
 *
 *     0                      version
 *     1                      number of entries
 *     <topic> <partition> <offset>
 *
 * Kafka keeps one such file per log directory listing every partition;
 * sluice keeps one per partition directory, so a partition moves or goes
 * with its files, and the entry names the partition its directory is.
 *
 * The parser is strict and bounded (a fuzz target feeds it garbage): any
 * deviation is -EINVAL and the caller falls back to the safe default. A
 * write goes to a temporary file renamed over the old one; "durable"
 * writes fsync the file before the rename and the directory after it. */
#include "storage/log_private.h"
#include "storage/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECKPOINT_MAX 4096

/* Reads a decimal int64 at *p (no sign unless allowed), moving *p. */
static int parse_i64(const char **p, const char *end, int64_t *v, bool sign)
{
    bool neg = false;
    uint64_t x = 0;
    const char *s = *p;
    if (sign && s < end && *s == '-') {
        neg = true;
        s++;
    }
    const char *digits = s;
    while (s < end && *s >= '0' && *s <= '9') {
        if (x > (uint64_t)INT64_MAX / 10)
            return -EINVAL;
        x = x * 10 + (uint64_t)(*s++ - '0');
        if (x > (uint64_t)INT64_MAX)
            return -EINVAL;
    }
    if (s == digits || s - digits > 19)
        return -EINVAL;
    *v = neg ? -(int64_t)x : (int64_t)x;
    *p = s;
    return 0;
}

static int expect_eol(const char **p, const char *end)
{
    if (*p >= end || **p != '\n')
        return -EINVAL;
    (*p)++;
    return 0;
}

int checkpoint_parse(const char *buf, size_t len, int64_t *offset)
{
    const char *p = buf, *end = buf + len;
    int64_t version, count, partition, off;
    if (parse_i64(&p, end, &version, false) < 0 || version != 0 || expect_eol(&p, end) < 0 ||
        parse_i64(&p, end, &count, false) < 0 || count != 1 || expect_eol(&p, end) < 0)
        return -EINVAL;
    const char *topic = p;
    while (p < end && *p != ' ' && *p != '\n')
        p++;
    if (p == topic || p >= end || *p != ' ')
        return -EINVAL;
    p++;
    if (parse_i64(&p, end, &partition, false) < 0 || p >= end || *p != ' ')
        return -EINVAL;
    p++;
    if (parse_i64(&p, end, &off, true) < 0 || expect_eol(&p, end) < 0 || p != end || off < 0)
        return -EINVAL;
    *offset = off;
    return 0;
}

int checkpoint_read(const char *dir, const char *name, int64_t *offset)
{
    char path[PATH_MAX], buf[CHECKPOINT_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n < 0)
        return -EIO;
    return checkpoint_parse(buf, (size_t)n, offset);
}

/* "<topic> <partition>" from DIR/<topic>-<partition>. */
static int entry_name(const char *dir, char *out, size_t len)
{
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    const char *dash = strrchr(base, '-');
    if (!dash || dash == base)
        return -EINVAL;
    int n = snprintf(out, len, "%.*s %s", (int)(dash - base), base, dash + 1);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int checkpoint_write(const char *dir, const char *name, int64_t offset, bool durable)
{
    char path[PATH_MAX], tmp[PATH_MAX], entry[512], buf[CHECKPOINT_MAX];
    int rc = entry_name(dir, entry, sizeof(entry));
    if (rc < 0)
        return rc;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
    int n = snprintf(buf, sizeof(buf), "0\n1\n%s %" PRId64 "\n", entry, offset);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -ENAMETOOLONG;
    int fd = storage_sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    rc = storage_pwrite_all(fd, buf, (size_t)n, 0);
    if (rc == 0 && durable && storage_sys.fdatasync(fd) < 0)
        rc = -errno;
    if (storage_sys.close(fd) < 0 && rc == 0)
        rc = -EIO;
    if (rc == 0 && storage_sys.rename(tmp, path) < 0)
        rc = -errno;
    if (rc == 0 && durable)
        rc = storage_sync_dir(dir);
    if (rc < 0)
        storage_sys.unlink(tmp);
    return rc;
}
