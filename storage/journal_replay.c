/* journal_replay.c - recovery from the shards' journals, at startup before
 * any log is opened (see journal.h), and the log id that ties a record to
 * one incarnation of a partition directory.
 *
 * Each partition log is first recovered from its own segments as always
 * (recover.c: a torn or unsynced tail is cut); then the journal's records
 * for it, in LSN order, put back whatever the journal made durable and
 * the segments lost: a batch below the log's end is already there and
 * skipped, one at its end is appended byte for byte (log_append_replica:
 * offsets, epochs and timestamps as first stored), and one beyond it is a hole that cannot be
 * (invariant 2 of journal.h) and is reported; the partition's replay stops
 * there. The log is then synced and closed cleanly. Replaying twice does
 * nothing the second time, so a crash during replay is harmless.
 *
 * Never: creates a partition directory (a record of a deleted partition,
 * or of an earlier incarnation under the same name, is dropped), or reads
 * outside the region it loaded. */
#include "storage/journal_private.h"
#include "slog/slog.h"
#include "storage/crc32c.h"
#include "storage/sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t journal_scan(const uint8_t *region, uint64_t size, uint64_t tail,
                      void (*fn)(void *ctx, const struct journal_record *r), void *ctx)
{
    uint64_t p = tail;
    for (uint64_t seen = 0; seen < size;) {
        uint64_t off = p % size;
        if (size - off < JREC_HEADER)
            break;
        const uint8_t *r = region + off;
        uint32_t len = be32_load(r + JREC_OFF_LEN);
        if (be32_load(r + JREC_OFF_MAGIC) != JREC_MAGIC || len < JREC_HEADER || len % 8 ||
            len > size - off || be64_load(r + JREC_OFF_LSN) != p)
            break;
        uint16_t kind = be16_load(r + JREC_OFF_KIND);
        uint32_t covered = kind == JREC_PAD ? JREC_HEADER : len;
        if (be32_load(r + JREC_OFF_CRC) != crc32c(r + JREC_OFF_LSN, covered - JREC_OFF_LSN))
            break;
        if (kind == JREC_BATCHES) {
            struct journal_record rec = {
                .lsn = p, .kind = kind, .name = (const char *)r + JREC_HEADER,
                .name_len = be16_load(r + JREC_OFF_NAME_LEN),
                .log_id = be64_load(r + JREC_OFF_LOG_ID),
                .base_offset = (int64_t)be64_load(r + JREC_OFF_BASE),
                .end_offset = (int64_t)be64_load(r + JREC_OFF_END),
                .batches_len = be32_load(r + JREC_OFF_BATCHES_LEN),
            };
            if ((uint64_t)JREC_HEADER + rec.name_len + rec.batches_len > len)
                break;
            rec.batches = r + JREC_HEADER + rec.name_len;
            if (fn)
                fn(ctx, &rec);
        } else if (kind != JREC_PAD) {
            break;
        }
        p += len;
        seen += len;
    }
    return p;
}

int jregion_read(int fd, uint8_t *buf, uint64_t size)
{
    uint64_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)(JOURNAL_HEADER_BYTES + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        got += (uint64_t)n;
    }
    return 0;
}

/* --- the log id --------------------------------------------------------- */

#define LOG_ID_FILE "log.id"

/* With sync (after a crash) the id read is fdatasync'ed: a process killed
 * right after writing it leaves it in the page cache only, and journal
 * records tied to it would be dropped after a later power cut took it. */
static int read_log_id(const char *dir, uint64_t *id, bool sync)
{
    char path[PATH_MAX], buf[32] = { 0 };
    if (snprintf(path, sizeof(path), "%s/" LOG_ID_FILE, dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    int fd = sync ? storage_sys.open(path, O_RDONLY | O_CLOEXEC, 0)
                  : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    char *end;
    int rc = 0;
    if (n <= 0 || (*id = strtoull(buf, &end, 16), end == buf || *end != '\n'))
        rc = -EBADMSG;
    else if (sync && storage_sys.fdatasync(fd) < 0)
        rc = -errno;
    if (sync)
        storage_sys.close(fd);
    else
        close(fd);
    return rc;
}

/* Writes id to path, synced. */
static int write_log_id(const char *path, uint64_t id)
{
    char text[32];
    int len = snprintf(text, sizeof(text), "%016" PRIx64 "\n", id);
    int fd = storage_sys.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = storage_pwrite_all(fd, text, (size_t)len, 0);
    if (rc == 0 && storage_sys.fdatasync(fd) < 0)
        rc = -errno;
    if (storage_sys.close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

int log_load_id(struct log *log, bool crashed)
{
    int rc = read_log_id(log->dir, &log->id, crashed);
    if (rc == 0 || (rc != -EBADMSG && rc != -ENOENT))
        return rc;
    /* A new directory (or a damaged id: then its journal records are
     * dropped, never applied to the wrong log). */
    if (getrandom(&log->id, sizeof(log->id), 0) != sizeof(log->id))
        return -errno;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/" LOG_ID_FILE, log->dir);
    rc = write_log_id(path, log->id);
    return rc == 0 ? storage_sync_dir(log->dir) : rc;
}

int log_renew_id(struct log *log)
{
    uint64_t id;
    if (getrandom(&id, sizeof(id), 0) != sizeof(id))
        return -errno;
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof(path), "%s/" LOG_ID_FILE, log->dir);
    snprintf(tmp, sizeof(tmp), "%s/" LOG_ID_FILE ".tmp", log->dir);
    /* Atomic: after a crash the directory has the old id or the new one,
     * never a torn one. */
    int rc = write_log_id(tmp, id);
    if (rc == 0 && storage_sys.rename(tmp, path) < 0)
        rc = -errno;
    if (rc == 0)
        rc = storage_sync_dir(log->dir);
    if (rc == 0)
        log->id = id;
    return rc;
}

/* --- replay ------------------------------------------------------------- */

struct replay_ref {
    struct journal_record r;
};

struct replay {
    struct replay_ref *refs;
    size_t n, cap;
    int err;
};

static void collect(void *ctx, const struct journal_record *r)
{
    struct replay *rp = ctx;
    if (rp->n == rp->cap) {
        size_t cap = rp->cap ? rp->cap * 2 : 1024;
        struct replay_ref *p = realloc(rp->refs, cap * sizeof(*p));
        if (!p) {
            rp->err = -ENOMEM;
            return;
        }
        rp->refs = p;
        rp->cap = cap;
    }
    rp->refs[rp->n++].r = *r;
}

static bool same_name(const struct journal_record *x, const struct journal_record *y)
{
    return x->name_len == y->name_len && memcmp(x->name, y->name, x->name_len) == 0;
}

static int cmp_ref(const void *a, const void *b)
{
    const struct journal_record *x = &((const struct replay_ref *)a)->r;
    const struct journal_record *y = &((const struct replay_ref *)b)->r;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c == 0)
        c = (x->name_len > y->name_len) - (x->name_len < y->name_len);
    if (c == 0)
        c = (x->lsn > y->lsn) - (x->lsn < y->lsn);
    return c;
}

/* Appends what of one record lies at or beyond the log's end. Returns the
 * batches appended, or -ERANGE for a hole. */
static int replay_record(struct log *log, const struct journal_record *r)
{
    int appended = 0;
    uint32_t off = 0;
    while (off + BATCH_HEADER_SIZE <= r->batches_len) {
        struct batch_header h;
        batch_header_decode(r->batches + off, &h);
        uint32_t size = batch_size(&h);
        if (size < BATCH_HEADER_SIZE || size > r->batches_len - off)
            return -EBADMSG;
        if (batch_last_offset(&h) >= log_end_offset(log)) {
            if (h.base_offset != log_end_offset(log))
                return -ERANGE;
            /* As a follower appends a leader's batches: offsets, epochs and
             * timestamps kept, continuity checked. */
            struct log_append_result res;
            int rc;
            while ((rc = log_append_replica(log, (uint8_t *)r->batches + off, size, 0, &res)) ==
                   -EAGAIN)
                if ((rc = log_flush_blocking(log)) < 0)
                    return rc;
            if (rc != 0)
                return rc < 0 ? rc : -EBADMSG;
            appended++;
        }
        off += size;
    }
    return appended;
}

/* Replays the records refs[0..n) of one partition directory. */
static int replay_partition(const char *data_dir, const struct replay_ref *refs, size_t n)
{
    char name[PATH_MAX], dir[PATH_MAX];
    int len = refs[0].r.name_len;
    snprintf(name, sizeof(name), "%.*s", len, refs[0].r.name);
    char *dash = strrchr(name, '-');
    char *end;
    if (!dash || dash == name)
        return 0;
    long partition = strtol(dash + 1, &end, 10);
    if (*end || partition < 0 || partition > INT32_MAX)
        return 0;
    if (snprintf(dir, sizeof(dir), "%s/%s", data_dir, name) >= (int)sizeof(dir))
        return 0;
    uint64_t id = 0;
    struct stat st;
    if (stat(dir, &st) < 0 || read_log_id(dir, &id, false) < 0)
        return 0; /* deleted since (or never created whole): nothing to do */
    *dash = '\0';
    struct log_config cfg;
    log_config_defaults(&cfg);
    struct log *log;
    int rc = log_open(&log, data_dir, name, (int32_t)partition, &cfg, 0);
    if (rc < 0) {
        slog(SLOG_ERROR, "storage", "journal replay cannot open dir=%s error=\"%s\"", dir,
             strerror(-rc));
        return rc;
    }
    int total = 0;
    for (size_t i = 0; i < n; i++) {
        if (refs[i].r.log_id != id || refs[i].r.end_offset <= log_end_offset(log))
            continue;
        rc = replay_record(log, &refs[i].r);
        if (rc < 0) {
            slog(SLOG_WARN, "storage",
                 "journal replay: a record does not follow the log's end dir=%s "
                 "records=%" PRId64 "..%" PRId64 " log_end=%" PRId64 " error=\"%s\"", dir,
                 refs[i].r.base_offset, refs[i].r.end_offset, log_end_offset(log),
                 strerror(-rc));
            break;
        }
        total += rc;
    }
    if (total > 0)
        slog(SLOG_INFO, "storage", "journal replay put batches back dir=%s batches=%d "
             "log_end=%" PRId64, dir, total, log_end_offset(log));
    rc = log_close(log);
    return rc < 0 ? rc : total;
}

/* Replays one journal file. */
static int replay_file(const char *data_dir, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    uint8_t slot[JOURNAL_BLOCK];
    uint64_t seq = 0, tail = 0, size = 0;
    int found = 0;
    for (int i = 0; i < 2; i++) {
        uint64_t s, t, z;
        if (pread(fd, slot, sizeof(slot), (off_t)i * JOURNAL_BLOCK) == (ssize_t)sizeof(slot) &&
            jhdr_get(slot, &s, &t, &z) == 0 && (!found || s > seq)) {
            seq = s;
            tail = t;
            size = z;
            found = 1;
        }
    }
    struct stat st;
    if (!found || fstat(fd, &st) < 0 || size == 0 || size % JOURNAL_BLOCK ||
        (uint64_t)st.st_size < JOURNAL_HEADER_BYTES + size) {
        close(fd);
        return 0; /* never written whole: holds nothing acknowledged */
    }
    uint8_t *region = malloc(size);
    struct replay rp = { 0 };
    int rc = region ? jregion_read(fd, region, size) : -ENOMEM;
    close(fd);
    if (rc == 0)
        journal_scan(region, size, tail, collect, &rp);
    if (rc == 0)
        rc = rp.err;
    int total = 0;
    if (rc == 0 && rp.n > 0) {
        qsort(rp.refs, rp.n, sizeof(*rp.refs), cmp_ref);
        for (size_t i = 0, j; rc >= 0 && i < rp.n; i = j) {
            for (j = i + 1; j < rp.n && same_name(&rp.refs[i].r, &rp.refs[j].r); j++)
                ;
            rc = replay_partition(data_dir, rp.refs + i, j - i);
            if (rc > 0)
                total += rc;
        }
    }
    free(rp.refs);
    free(region);
    return rc < 0 ? rc : total;
}

int journal_replay_dir(const char *data_dir)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof(dir), "%s/" JOURNAL_DIR, data_dir) >= (int)sizeof(dir))
        return -ENAMETOOLONG;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    int total = 0, rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".jnl") != 0)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
            continue;
        int r = replay_file(data_dir, path);
        if (r < 0) {
            slog(SLOG_ERROR, "storage", "journal replay failed file=%s error=\"%s\"", path,
                 strerror(-r));
            rc = r;
        } else {
            total += r;
        }
    }
    closedir(d);
    return rc < 0 ? rc : total;
}
