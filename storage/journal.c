/* journal.c - the shard's write-ahead journal at run time (see journal.h):
 * records, commits, checkpoints. Recovery is journal_replay.c. */
#include "storage/journal_private.h"
#include "storage/crc32c.h"
#include "storage/sys.h"
#include "metrics/shard_metrics.h"
#include "slog/slog.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ALIGN8(n) (((n) + 7u) & ~(size_t)7u)
#define ALIGN_BLOCK(n) (((n) + JOURNAL_BLOCK - 1) & ~(uint64_t)(JOURNAL_BLOCK - 1))
/* Room a commit keeps for its closing padding record. */
#define PAD_SLACK (JOURNAL_BLOCK + JREC_HEADER)
#define JOURNAL_CANCEL_RETRIES 8   /* as flush.c's RING_CANCEL_RETRIES */

static void journal_fail(struct journal *j, int res)
{
    if (!j->error) {
        j->error = res < 0 ? res : -EIO;
        slog(SLOG_ERROR, "storage", "journal failed for good file=%s error=\"%s\"", j->path,
             strerror(-j->error));
    }
}

/* --- records ----------------------------------------------------------- */

void jrec_put_header(uint8_t *p, uint32_t len, uint16_t kind, uint16_t name_len,
                     uint64_t log_id, int64_t base, int64_t end, uint32_t batches_len)
{
    memset(p, 0, JREC_HEADER);
    be32_store(p + JREC_OFF_MAGIC, JREC_MAGIC);
    be32_store(p + JREC_OFF_LEN, len);
    be16_store(p + JREC_OFF_KIND, kind);
    be16_store(p + JREC_OFF_NAME_LEN, name_len);
    be64_store(p + JREC_OFF_LOG_ID, log_id);
    be64_store(p + JREC_OFF_BASE, (uint64_t)base);
    be64_store(p + JREC_OFF_END, (uint64_t)end);
    be32_store(p + JREC_OFF_BATCHES_LEN, batches_len);
}

/* Stamps a record's LSN and CRC (a padding record's CRC covers its header
 * only: the bytes it skips are never written). */
void jrec_seal(uint8_t *p, uint64_t lsn)
{
    be64_store(p + JREC_OFF_LSN, lsn);
    uint32_t len = be32_load(p + JREC_OFF_LEN);
    uint32_t covered = be16_load(p + JREC_OFF_KIND) == JREC_PAD ? JREC_HEADER : len;
    be32_store(p + JREC_OFF_CRC, crc32c(p + JREC_OFF_LSN, covered - JREC_OFF_LSN));
}

/* A padding record of len bytes at p (its header only). */
static void jrec_pad(uint8_t *p, uint32_t len)
{
    jrec_put_header(p, len, JREC_PAD, 0, 0, 0, 0, 0);
}

/* --- the header slots -------------------------------------------------- */

void jhdr_put(uint8_t *p, uint64_t seq, uint64_t tail, uint64_t size)
{
    memset(p, 0, JOURNAL_BLOCK);
    be32_store(p, JHDR_MAGIC);
    be32_store(p + 8, JHDR_VERSION);
    be64_store(p + 16, seq);
    be64_store(p + 24, tail);
    be64_store(p + 32, size);
    be32_store(p + 4, crc32c(p + 8, JHDR_USED - 8));
}

int jhdr_get(const uint8_t *p, uint64_t *seq, uint64_t *tail, uint64_t *size)
{
    if (be32_load(p) != JHDR_MAGIC || be32_load(p + 8) != JHDR_VERSION ||
        be32_load(p + 4) != crc32c(p + 8, JHDR_USED - 8))
        return -EBADMSG;
    *seq = be64_load(p + 16);
    *tail = be64_load(p + 24);
    *size = be64_load(p + 32);
    return 0;
}

/* --- open and close ---------------------------------------------------- */

static void on_pad_write(struct io_op *op, int res, uint32_t flags);
static void on_commit_write(struct io_op *op, int res, uint32_t flags);
static void on_commit_sync(struct io_op *op, int res, uint32_t flags);
static void on_header_write(struct io_op *op, int res, uint32_t flags);
static void on_header_sync(struct io_op *op, int res, uint32_t flags);

static int commit_init(struct jcommit *c, uint64_t bytes)
{
    if (posix_memalign((void **)&c->buf, JOURNAL_BLOCK, bytes) != 0)
        return -ENOMEM;
    c->caplogs = 64;
    c->logs = malloc(c->caplogs * sizeof(*c->logs));
    return c->logs ? 0 : -ENOMEM;
}

/* Writes zeros over the whole file, so that later writes only overwrite
 * written blocks (no extent conversion for fdatasync to persist). */
static int zero_fill(struct journal *j, uint64_t total)
{
    int rc = storage_sys.ftruncate(j->fd, (off_t)total) < 0 ? -errno : 0;
    memset(j->commit[0].buf, 0, j->buf_bytes);
    for (uint64_t off = 0; rc == 0 && off < total; off += j->buf_bytes) {
        uint64_t n = total - off < j->buf_bytes ? total - off : j->buf_bytes;
        rc = storage_pwrite_all(j->fd, j->commit[0].buf, n, (off_t)off);
    }
    if (rc == 0 && storage_sys.fdatasync(j->fd) < 0)
        rc = -errno;
    return rc;
}

/* Reads both header slots: the valid one with the higher sequence. */
static int read_header(struct journal *j, uint64_t *seq, uint64_t *tail, uint64_t *size)
{
    int found = -ENOENT;
    for (int slot = 0; slot < 2; slot++) {
        uint64_t s, t, z;
        if (pread(j->fd, j->hdr_block, JOURNAL_BLOCK, (off_t)slot * JOURNAL_BLOCK) !=
            JOURNAL_BLOCK)
            continue;
        if (jhdr_get(j->hdr_block, &s, &t, &z) == 0 && (found < 0 || s > *seq)) {
            *seq = s;
            *tail = t;
            *size = z;
            found = 0;
        }
    }
    return found;
}

/* Writes header slot seq % 2 saying tail, and syncs it (blocking: at open). */
static int write_header_now(struct journal *j, uint64_t seq, uint64_t tail)
{
    jhdr_put(j->hdr_block, seq, tail, j->size);
    int rc = storage_pwrite_all(j->fd, j->hdr_block, JOURNAL_BLOCK,
                                (off_t)(seq % 2) * JOURNAL_BLOCK);
    if (rc == 0 && storage_sys.fdatasync(j->fd) < 0)
        rc = -errno;
    return rc;
}

int journal_open(struct journal **out, const char *data_dir, int index, uint64_t size)
{
    if (size % JOURNAL_BLOCK || size < JOURNAL_MIN_BYTES)
        return -EINVAL;
    struct journal *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->fd = -1;
    j->size = size;
    j->buf_bytes = size / 4 < JOURNAL_BUFFER_BYTES ? size / 4 : JOURNAL_BUFFER_BYTES;
    j->buf_bytes -= j->buf_bytes % JOURNAL_BLOCK;
    char dir[PATH_MAX];
    int rc = snprintf(dir, sizeof(dir), "%s/" JOURNAL_DIR, data_dir) >= (int)sizeof(dir) ||
             snprintf(j->path, sizeof(j->path), "%s/%d.jnl", dir, index) >= (int)sizeof(j->path)
                 ? -ENAMETOOLONG : 0;
    if (rc == 0)
        rc = storage_mkdir(dir, 0755); /* durable in DATA (it syncs the parent) */
    if (rc == 0 && (rc = commit_init(&j->commit[0], j->buf_bytes)) == 0)
        rc = commit_init(&j->commit[1], j->buf_bytes);
    if (rc == 0 && (posix_memalign((void **)&j->hdr_block, JOURNAL_BLOCK, JOURNAL_BLOCK) != 0 ||
                    posix_memalign((void **)&j->pad_block, JOURNAL_BLOCK, JOURNAL_BLOCK) != 0))
        rc = -ENOMEM;
    if (rc < 0)
        goto err;
    j->fd = storage_sys.open(j->path, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        rc = -errno;
        goto err;
    }
    uint64_t seq = 0, tail = 0, old_size = 0;
    struct stat st;
    if (fstat(j->fd, &st) < 0) {
        rc = -errno;
        goto err;
    }
    if (read_header(j, &seq, &tail, &old_size) < 0 || old_size != size ||
        (uint64_t)st.st_size != JOURNAL_HEADER_BYTES + size) {
        /* New (or resized): zeros everywhere, then a first header. */
        if ((rc = zero_fill(j, JOURNAL_HEADER_BYTES + size)) < 0 ||
            (rc = write_header_now(j, 1, 0)) < 0 || (rc = storage_sync_dir(dir)) < 0) {
            /* A full disk: give its space back, or the partitions that
             * then sync their own files find none (nothing in it was
             * replayed-and-needed: journal_replay_dir ran first). */
            storage_sys.unlink(j->path);
            goto err;
        }
        seq = 1;
        tail = 0;
    } else {
        /* Replayed already (journal_replay_dir): start after what it holds. */
        uint8_t *region = NULL; /* O_DIRECT reads want an aligned buffer */
        if (posix_memalign((void **)&region, JOURNAL_BLOCK, size) != 0) {
            rc = -ENOMEM;
            goto err;
        }
        rc = jregion_read(j->fd, region, size);
        uint64_t head = rc == 0 ? journal_scan(region, size, tail, NULL, NULL) : tail;
        free(region);
        if (rc < 0)
            goto err;
        tail = ALIGN_BLOCK(head);
        if ((rc = write_header_now(j, ++seq, tail)) < 0)
            goto err;
    }
    j->hdr_seq = seq;
    j->head = j->tail = tail;
    j->write_op.complete = on_commit_write;
    j->pad_op.complete = on_pad_write;
    j->sync_op.complete = on_commit_sync;
    j->hdr_write_op.complete = on_header_write;
    j->hdr_sync_op.complete = on_header_sync;
    *out = j;
    return 0;
err:
    journal_close(j);
    return rc;
}

void journal_close(struct journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        storage_sys.close(j->fd);
    for (int i = 0; i < 2; i++) {
        free(j->commit[i].buf);
        free(j->commit[i].logs);
    }
    free(j->hdr_block);
    free(j->pad_block);
    free(j);
}

/* --- adding a log's unit ------------------------------------------------ */

static const char *log_name(const struct log *log, uint16_t *len)
{
    const char *slash = strrchr(log->dir, '/');
    const char *name = slash ? slash + 1 : log->dir;
    *len = (uint16_t)strlen(name);
    return name;
}

/* Bytes the journal holds or has promised: committed or in flight, plus
 * the filling buffer. */
static uint64_t journal_used(const struct journal *j)
{
    return j->head - j->tail + j->commit[j->fill].len;
}

int journal_add(struct journal *j, struct log *log, const struct log_batchq *q)
{
    struct jcommit *c = &j->commit[j->fill];
    uint16_t name_len;
    const char *name = log_name(log, &name_len);
    size_t len = ALIGN8(JREC_HEADER + name_len + q->bytes);
    if (j->error)
        return j->error;
    /* Room in the buffer (and its closing padding), and in the circle
     * (and the padding a lap may need): else the log syncs itself. */
    if (c->len + len + PAD_SLACK > j->buf_bytes ||
        journal_used(j) + len + PAD_SLACK + j->buf_bytes > j->size) {
        j->stats.full++;
        return -ENOSPC;
    }
    if (c->nlogs == c->caplogs) {
        struct jentry *p = realloc(c->logs, 2 * c->caplogs * sizeof(*p));
        if (!p)
            return -ENOMEM;
        c->logs = p;
        c->caplogs *= 2;
    }
    uint8_t *p = c->buf + c->len;
    int64_t base = log->next_offset; /* fixed below from the first batch */
    if (q->count > 0)
        base = (int64_t)be64_load((const uint8_t *)q->iov[0].iov_base + BATCH_OFF_BASE_OFFSET);
    jrec_put_header(p, (uint32_t)len, JREC_BATCHES, name_len, log->id, base, q->end_offset,
                    (uint32_t)q->bytes);
    memcpy(p + JREC_HEADER, name, name_len);
    uint8_t *d = p + JREC_HEADER + name_len;
    for (uint32_t i = 0; i < q->count; i++) {
        memcpy(d, q->iov[i].iov_base, q->iov[i].iov_len);
        d += q->iov[i].iov_len;
    }
    memset(d, 0, (size_t)(p + len - d));
    c->len += len;
    c->logs[c->nlogs++] = (struct jentry){ log, q->end_offset, q->pos + q->bytes, q->seg,
                                           q->end_offset - base };
    log->jnl_end = q->end_offset;
    log->jnl_outstanding++;
    if (!log->jnl_listed) {
        log->jnl_listed = true;
        log->jnl_next = j->listed;
        j->listed = log;
    }
    return 0;
}

/* --- commits ------------------------------------------------------------
 *
 * A commit whose write or fdatasync comes back -ECANCELED without a write
 * having failed was never run by io-wq (flush.c, "Cancelled"): nothing of
 * it was reported, so it is issued again, the same bytes at the same
 * place, up to JOURNAL_CANCEL_RETRIES times in a row, before the journal
 * fails for good. */

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe && io_uring_submit(ring) >= 0)
        sqe = io_uring_get_sqe(ring);
    return sqe;
}

static void on_pad_write(struct io_op *op, int res, uint32_t flags)
{
    struct journal *j = (struct journal *)((char *)op - offsetof(struct journal, pad_op));
    (void)flags;
    if (res != JOURNAL_BLOCK && j->write_res == 0)
        j->write_res = res < 0 ? res : -EIO; /* short: the link is broken */
}

static void on_commit_write(struct io_op *op, int res, uint32_t flags)
{
    struct journal *j = (struct journal *)((char *)op - offsetof(struct journal, write_op));
    (void)flags;
    if (res != (int)j->write_iov.iov_len && j->write_res == 0)
        j->write_res = res < 0 ? res : -EIO;
}

void journal_set_metrics(struct journal *j, struct flush_metrics *m)
{
    j->metrics = m;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One commit's fdatasync, as the logs' own are counted (flush.c). */
static void commit_count(struct journal *j, const struct jcommit *c, int res)
{
    struct flush_metrics *m = j->metrics;
    if (!m)
        return;
    hist_record(&m->fsync_ns, (uint64_t)(mono_ns() - j->submit_ns));
    if (res < 0) {
        m->fsync_errors++;
        return;
    }
    int64_t records = 0;
    for (uint32_t i = 0; i < c->nlogs; i++)
        records += c->logs[i].records;
    hist_record(&m->commit_records, (uint64_t)records);
}

/* Every unit of commit c learns its sync result; c is empty again. */
static void commit_done(struct jcommit *c, int res)
{
    for (uint32_t i = 0; i < c->nlogs; i++) {
        struct jentry *e = &c->logs[i];
        log_journal_synced(e->log, e->end, e->end_pos, e->seg, res < 0 ? res : 0);
    }
    c->nlogs = 0;
    c->len = 0;
}

/* The commit in flight is done (res: its fdatasync's result, or the
 * failed write's): every log in it learns its unit's sync result. */
static void on_commit_sync(struct io_op *op, int res, uint32_t flags)
{
    struct journal *j = (struct journal *)((char *)op - offsetof(struct journal, sync_op));
    struct jcommit *c = &j->commit[!j->fill];
    (void)flags;
    if (res >= 0 && j->write_res < 0)
        res = j->write_res;
    j->inflight = false;
    if (res == -ECANCELED && (j->write_res == 0 || j->write_res == -ECANCELED) && !j->error &&
        j->cancels++ < JOURNAL_CANCEL_RETRIES) {
        j->resubmit = true; /* never ran: journal_submit issues it again */
        return;
    }
    j->cancels = 0;
    if (res == -ECANCELED)
        res = -EIO; /* a write of the commit failed, so its sync never ran */
    if (res < 0)
        journal_fail(j, res);
    else {
        j->stats.commits++;
        j->stats.records += c->nlogs;
    }
    commit_count(j, c, res);
    commit_done(c, res);
}

/* A commit of len bytes of records, closed with its padding record. */
static uint64_t commit_padded_len(uint64_t len)
{
    uint64_t end = ALIGN_BLOCK(len);
    return end - len < JREC_HEADER ? end + JOURNAL_BLOCK : end;
}

/* Closes the filling buffer with padding to a whole block, and stamps each
 * record's LSN and CRC from lsn on. */
static void commit_close(struct jcommit *c, uint64_t lsn)
{
    uint64_t end = commit_padded_len(c->len);
    memset(c->buf + c->len, 0, (size_t)(end - c->len));
    jrec_pad(c->buf + c->len, (uint32_t)(end - c->len));
    c->len = end;
    for (size_t off = 0; off < c->len; off += be32_load(c->buf + off + JREC_OFF_LEN))
        jrec_seal(c->buf + off, lsn + off);
}

/* The writes (padding, if any, then the commit) and the fdatasync of the
 * commit in flight, linked. */
static int commit_prep(struct journal *j, struct io_uring *ring)
{
    int n = 0;
    if (j->pad_off >= 0) {
        struct io_uring_sqe *sqe = get_sqe(ring);
        storage_sys.prep_writev(sqe, j->fd, &j->pad_iov, 1, (uint64_t)j->pad_off, &j->pad_op);
        sqe->flags |= IOSQE_IO_LINK;
        n++;
    }
    struct io_uring_sqe *sqe = get_sqe(ring);
    storage_sys.prep_writev(sqe, j->fd, &j->write_iov, 1, j->write_off, &j->write_op);
    sqe->flags |= IOSQE_IO_LINK;
    storage_sys.prep_fdatasync(get_sqe(ring), j->fd, &j->sync_op);
    j->write_res = 0;
    j->inflight = true;
    return n + 2;
}

/* A commit whose operations io-wq never ran (flush.c, "Cancelled"): the
 * same bytes at the same place, again; nothing of it was reported. */
static int commit_resubmit(struct journal *j, struct io_uring *ring)
{
    if (io_uring_sq_space_left(ring) < 3 && io_uring_submit(ring) < 0)
        return -EBUSY;
    j->resubmit = false;
    return commit_prep(j, ring);
}

static int commit_submit(struct journal *j, struct io_uring *ring)
{
    struct jcommit *c = &j->commit[j->fill];
    if (io_uring_sq_space_left(ring) < 3 && io_uring_submit(ring) < 0)
        return -EBUSY;
    uint64_t off = j->head % j->size;
    uint64_t len = commit_padded_len(c->len);
    j->pad_off = -1;
    if (off + len > j->size) {
        /* Would cross the end of the region: pad up to it, start again at 0. */
        memset(j->pad_block, 0, JOURNAL_BLOCK);
        jrec_pad(j->pad_block, (uint32_t)(j->size - off));
        jrec_seal(j->pad_block, j->head);
        j->pad_iov = (struct iovec){ j->pad_block, JOURNAL_BLOCK };
        j->pad_off = (int64_t)(JOURNAL_HEADER_BYTES + off);
        j->head += j->size - off;
        off = 0;
    }
    commit_close(c, j->head);
    j->write_iov = (struct iovec){ c->buf, c->len };
    j->write_off = JOURNAL_HEADER_BYTES + off;
    j->head += c->len;
    j->stats.bytes += c->len;
    j->submit_ns = j->metrics ? mono_ns() : 0;
    j->fill = !j->fill;
    return commit_prep(j, ring);
}

/* --- checkpoints ---------------------------------------------------------
 *
 * When more than half the circle is in use, the tail moves: every log that
 * added records since the last checkpoint began gets its active segment
 * fdatasync'ed once its journaled bytes are written and no seal is under
 * way (a seal syncs the sealed segment: log_seal_files), then a header
 * slot saying the new tail is written and synced (invariant 2). */

static void on_log_checkpoint_sync(struct io_op *op, int res, uint32_t flags)
{
    struct log *log = (struct log *)((char *)op - offsetof(struct log, cp_op));
    struct journal *j = log->journal;
    (void)flags;
    log->cp_inflight = false;
    j->cp_inflight--;
    if (res == -ECANCELED && !log->error)
        return; /* io-wq never ran it (flush.c, "Cancelled"): checkpoint_step again */
    if (res < 0)
        log_fail(log, res);
    log->cp_wait = false;
    j->cp_pending--;
}

static void on_header_write(struct io_op *op, int res, uint32_t flags)
{
    struct journal *j = (struct journal *)((char *)op - offsetof(struct journal, hdr_write_op));
    (void)flags;
    if (res != JOURNAL_BLOCK)
        j->hdr_res = res < 0 ? res : -EIO;
}

static void on_header_sync(struct io_op *op, int res, uint32_t flags)
{
    struct journal *j = (struct journal *)((char *)op - offsetof(struct journal, hdr_sync_op));
    (void)flags;
    if (res >= 0 && j->hdr_res < 0)
        res = j->hdr_res;
    j->cp = CP_IDLE;
    if (res < 0) {
        journal_fail(j, res == -ECANCELED ? -EIO : res);
        return;
    }
    j->tail = j->cp_lsn;
    j->stats.checkpoints++;
}

static void checkpoint_start(struct journal *j)
{
    j->cp_lsn = j->head;
    j->cp_logs = j->listed;
    j->listed = NULL;
    j->cp_pending = 0;
    for (struct log *log = j->cp_logs; log; log = log->jnl_next) {
        log->cp_next = log->jnl_next;
        log->jnl_listed = false;
        log->cp_wait = true;
        log->cp_end = log->jnl_end;
        j->cp_pending++;
    }
    j->cp = CP_SYNCING;
}

/* Unlinks log from the list of logs with records (jnl_next) or from the
 * checkpoint's (cp_next). */
static void list_remove(struct log **head, struct log *log, bool cp)
{
    for (struct log **pp = head; *pp; pp = cp ? &(*pp)->cp_next : &(*pp)->jnl_next) {
        if (*pp == log) {
            *pp = cp ? log->cp_next : log->jnl_next;
            return;
        }
    }
}

static int checkpoint_step(struct journal *j, struct io_uring *ring)
{
    int n = 0;
    if (j->cp == CP_IDLE && !j->error && j->head - j->tail > j->size / 2)
        checkpoint_start(j);
    if (j->cp != CP_SYNCING)
        return 0;
    for (struct log *log = j->cp_logs, *next; log; log = next) {
        next = log->cp_next;
        if (!log->cp_wait) {
            list_remove(&j->cp_logs, log, true);
            continue;
        }
        if (log->cp_inflight)
            continue;
        if (log->error) {
            log->cp_wait = false; /* failed: nothing of it is acknowledged again */
            j->cp_pending--;
            list_remove(&j->cp_logs, log, true);
            continue;
        }
        if (log->write.inflight || log->seal.seg || log->written_end < log->cp_end)
            continue; /* not written yet, or a seal will sync it: next turn */
        struct io_uring_sqe *sqe = get_sqe(ring);
        if (!sqe)
            return n > 0 ? n : -EBUSY;
        storage_sys.prep_fdatasync(sqe, log_active(log)->fd, &log->cp_op);
        log->cp_inflight = true;
        j->cp_inflight++;
        n++;
    }
    if (j->cp_pending == 0 && j->cp_inflight == 0) {
        if (io_uring_sq_space_left(ring) < 2 && io_uring_submit(ring) < 0)
            return n > 0 ? n : -EBUSY;
        jhdr_put(j->hdr_block, ++j->hdr_seq, j->cp_lsn, j->size);
        j->hdr_iov = (struct iovec){ j->hdr_block, JOURNAL_BLOCK };
        j->hdr_res = 0;
        struct io_uring_sqe *sqe = get_sqe(ring);
        storage_sys.prep_writev(sqe, j->fd, &j->hdr_iov, 1,
                                (uint64_t)(j->hdr_seq % 2) * JOURNAL_BLOCK, &j->hdr_write_op);
        sqe->flags |= IOSQE_IO_LINK;
        storage_sys.prep_fdatasync(get_sqe(ring), j->fd, &j->hdr_sync_op);
        j->cp = CP_HEADER;
        n += 2;
    }
    return n;
}

void journal_detach(struct journal *j, struct log *log)
{
    if (log->jnl_listed) {
        list_remove(&j->listed, log, false);
        log->jnl_listed = false;
    }
    list_remove(&j->cp_logs, log, true); /* waiting, or done and not yet unlinked */
    if (log->cp_wait) {
        log->cp_wait = false;
        j->cp_pending--;
    }
    log->journal = NULL;
}

void log_set_journal(struct log *log, struct journal *j)
{
    if (log->journal)
        journal_detach(log->journal, log);
    log->journal = j;
    log->cp_op.complete = on_log_checkpoint_sync;
}

int journal_submit(struct journal *j, struct io_uring *ring)
{
    int n = checkpoint_step(j, ring);
    if (n < 0)
        return n;
    if (!j->inflight && j->commit[j->fill].len > 0 && j->error) {
        /* Failed for good: what waits for a commit never gets one. */
        commit_done(&j->commit[j->fill], j->error);
    } else if (j->resubmit) {
        int rc = commit_resubmit(j, ring);
        if (rc < 0)
            return n > 0 ? n : rc;
        n += rc;
    } else if (!j->inflight && j->commit[j->fill].len > 0) {
        int rc = commit_submit(j, ring);
        if (rc < 0)
            return n > 0 ? n : rc;
        n += rc;
    }
    return n;
}

bool journal_busy(const struct journal *j)
{
    return j->inflight || j->resubmit || j->cp_inflight > 0 || j->cp == CP_HEADER;
}

bool journal_pending(const struct journal *j)
{
    return j->commit[j->fill].len > 0 || j->resubmit || j->cp != CP_IDLE;
}

void journal_get_stats(const struct journal *j, struct journal_stats *out)
{
    *out = j->stats;
}
