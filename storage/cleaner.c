/* cleaner.c - one clean job, run in steps (see cleaner.h for the phases
 * and the swap invariants S1-S4).
 *
 * A job is a small state machine so that one code path serves both ways
 * of running it: to completion on a cleaner thread, or in time-bounded
 * slices on the shard that owns the log. It never blocks on an fsync
 * itself: it returns CLEAN_SYNC and the driver syncs (a plain fsync on a
 * thread, an io_uring fsync on a shard). Reads go through its own
 * descriptors of the sealed files, sequentially, 1 MiB at a time. */
#include "storage/cleaner.h"
#include "storage/batch.h"
#include "storage/segment.h"
#include "storage/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (1u << 20)
#define WRITE_CHUNK (1u << 20)

enum phase {
    PH_START,
    PH_MAP,
    PH_GROUP,          /* the next group: its .cleaned, or the batch's swap */
    PH_CLEAN,          /* filter the group's sources into it */
    PH_SYNC_FILES,     /* fsync every .log/.index/.timeindex of the batch (S2) */
    PH_TO_SWAP,        /* renamed .cleaned -> .swap; fsync dir: committed */
    PH_UNLINK_OLD,     /* unlinked the groups' other sources; fsync dir (S3) */
    PH_TO_FINAL,       /* renamed .swap over the first sources; fsync dir */
    PH_DONE,
};

/* Groups are swapped in batches: their files fsync'ed together and one
 * directory fsync per step for the whole batch instead of per group (a
 * log of small segments has hundreds of groups). Bounded so the open
 * descriptors stay few (3 per group). */
#define SWAP_BATCH 32

struct seg_reader {
    int fd;
    uint64_t size;
    uint64_t pos;            /* file position of buf[0] */
    uint8_t *buf;
    size_t cap, len, off;
};

struct clean_run {
    enum phase phase;
    bool synced;             /* the sync asked for is done */
    int dir_fd;
    struct offset_map map;
    struct live_bits live;   /* the map pass's facts per dirty offset */
    struct pid_table pids;
    struct clean_txns map_txns;  /* the map pass's walk of the transactions */
    struct clean_txns txns;      /* the rewrite pass's */
    struct clean_scratch scratch;
    struct codec_buf out;    /* cleaned bytes not yet written */
    struct seg_reader rd;
    int src;                 /* source being read */
    int group;               /* group being cleaned */
    struct segment *cseg;
    uint64_t cpos;           /* bytes of cseg written */
    int64_t changed;         /* stats.batches_changed when cseg began */
    int batch[SWAP_BATCH];   /* groups written, waiting for their swap */
    int nbatch;
    int64_t start_ns;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- reading a sealed segment batch by batch ---- */

static void reader_close(struct seg_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

static int reader_open(struct seg_reader *r, const char *dir, const struct clean_source *s)
{
    char path[PATH_MAX];
    reader_close(r);
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", dir, s->base_offset);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return -errno;
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    r->size = s->size;
    r->pos = 0;
    r->len = r->off = 0;
    return 0;
}

/* Makes want bytes from off available in buf. */
static int reader_fill(struct seg_reader *r, size_t want)
{
    if (r->off > 0) {
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->pos += r->off;
        r->len -= r->off;
        r->off = 0;
    }
    size_t cap = want > READ_CHUNK ? want : READ_CHUNK;
    if (cap > r->cap) {
        uint8_t *p = realloc(r->buf, cap);
        if (!p)
            return -ENOMEM;
        r->buf = p;
        r->cap = cap;
    }
    while (r->len < r->cap && r->pos + r->len < r->size) {
        size_t n = r->cap - r->len;
        if (n > r->size - r->pos - r->len)
            n = (size_t)(r->size - r->pos - r->len);
        ssize_t got = pread(r->fd, r->buf + r->len, n, (off_t)(r->pos + r->len));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got < 0 ? -errno : -EIO;
        r->len += (size_t)got;
    }
    return r->len >= want ? 0 : -EBADMSG;
}

/* The next whole batch: 1, 0 at the end, or a negative errno (a sealed
 * segment that does not parse: the job stops, the log stays as it is). */
static int reader_next(struct seg_reader *r, const uint8_t **b, size_t *len)
{
    if (r->pos + r->off >= r->size)
        return 0;
    if (r->len - r->off < BATCH_HEADER_SIZE) {
        int rc = reader_fill(r, BATCH_HEADER_SIZE);
        if (rc < 0)
            return rc;
    }
    struct batch_header h;
    batch_header_decode(r->buf + r->off, &h);
    if (h.length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD || h.magic != BATCH_MAGIC ||
        batch_size(&h) > r->size - r->pos - r->off)
        return -EBADMSG;
    if (r->len - r->off < batch_size(&h)) {
        int rc = reader_fill(r, batch_size(&h));
        if (rc < 0)
            return rc;
    }
    *b = r->buf + r->off;
    *len = batch_size(&h);
    if (!batch_crc_ok(*b, *len))
        return -EBADMSG;
    r->off += *len;
    return 1;
}

/* ---- phases ---- */

static int run_start(struct clean_job *job, struct clean_run *run)
{
    run->dir_fd = storage_sys.open(job->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (run->dir_fd < 0)
        return -errno;
    /* The dedupe buffer: 7/8 for the map, 1/8 for the live bits (2 bits
     * an offset: a pass of 4M keys has bits for 16M offsets). */
    size_t bits_bytes = job->map_bytes / 8;
    int rc = offset_map_init(&run->map, job->map_bytes - bits_bytes);
    if (rc < 0)
        return rc;
    live_bits_init(&run->live, job->first_dirty, bits_bytes);
    clean_txns_init(&run->map_txns, job->aborted, job->naborted);
    clean_txns_init(&run->txns, job->aborted, job->naborted);
    run->src = 0;
    job->map_end = job->end_offset;
    return job->nsrc > 0 ? reader_open(&run->rd, job->dir, &job->src[0]) : 0;
}

/* Scans every source: producer ids everywhere, keys from first_dirty on.
 * Returns 1 when the map is complete, 0 at the deadline. */
static int run_map(struct clean_job *job, struct clean_run *run, int64_t deadline)
{
    const uint8_t *b;
    size_t len;
    while (run->src < job->nsrc) {
        int rc = reader_next(&run->rd, &b, &len);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if (++run->src < job->nsrc &&
                (rc = reader_open(&run->rd, job->dir, &job->src[run->src])) < 0)
                return rc;
            continue;
        }
        struct batch_header h;
        batch_header_decode(b, &h);
        if ((rc = pid_table_note(&run->pids, h.producer_id, batch_last_offset(&h))) < 0)
            return rc;
        enum clean_txn_fate fate;
        const struct aborted_txn *entry;
        if ((rc = clean_txns_on_batch(&run->map_txns, b, len, &h, &fate, &entry)) < 0)
            return rc;
        if (fate == CLEAN_TXN_ABORTED) {
            /* Aborted data supersedes nothing: its keys stay out of the map. */
            if (batch_last_offset(&h) >= job->first_dirty)
                live_bits_reach(&run->live, batch_last_offset(&h));
        } else if (batch_last_offset(&h) >= job->first_dirty) {
            rc = clean_map_batch(b, len, &run->map, &run->live, job->first_dirty,
                                 &run->scratch);
            if (rc == -EBADMSG && (rc = live_bits_note_unreadable(&run->live, h.base_offset)) < 0)
                return rc;
            if (rc == -ENOSPC) {
                job->map_end = h.base_offset; /* the rest waits for the next pass */
                if (job->map_end <= job->first_dirty)
                    return -ENOSPC; /* not one batch's keys fit the map */
                break;
            }
            if (rc == -ENOMEM)
                return rc;
        }
        if (mono_ns() >= deadline)
            return 0;
    }
    reader_close(&run->rd);
    live_bits_cut(&run->live, job->map_end);
    return 1;
}

/* Groups consecutive sources below map_end, at most segment.bytes each
 * and with relative offsets that fit the indexes' 32 bits. */
static int make_groups(struct clean_job *job)
{
    job->groups = calloc((size_t)job->nsrc + 1, sizeof(*job->groups));
    if (!job->groups)
        return -ENOMEM;
    for (int i = 0; i < job->nsrc && job->src[i].base_offset < job->map_end;) {
        struct clean_group *g = &job->groups[job->ngroups++];
        uint64_t bytes = job->src[i].size;
        g->first = i;
        g->count = 1;
        for (int j = i + 1; j < job->nsrc && job->src[j].base_offset < job->map_end; j++) {
            if (bytes + job->src[j].size > job->segment_bytes ||
                job->src[j].end_offset - job->src[i].base_offset > INT32_MAX)
                break;
            bytes += job->src[j].size;
            g->count++;
        }
        i += g->count;
    }
    return 0;
}

static int write_out(struct clean_run *run)
{
    size_t done = 0;
    while (done < run->out.len) {
        ssize_t n = storage_sys.pwrite(run->cseg->fd, run->out.data + done,
                                       run->out.len - done, (off_t)(run->cpos + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        done += (size_t)n;
    }
    run->cpos += done;
    run->out.len = 0;
    return 0;
}

static int start_group(struct clean_job *job, struct clean_run *run)
{
    const struct clean_group *g = &job->groups[run->group];
    int rc = segment_create_suffixed(&run->cseg, job->dir, job->src[g->first].base_offset,
                                     ".cleaned", job->now_ms);
    if (rc < 0)
        return rc;
    /* Its .txnindex gets the entries of the abort markers it keeps
     * (clean_one), as Kafka's cleaner rewrites the index. */
    run->cpos = 0;
    run->out.len = 0;
    run->src = g->first;
    run->changed = job->stats.batches_changed;
    return reader_open(&run->rd, job->dir, &job->src[g->first]);
}

/* Filters one batch into the output, indexing what it appended. */
static int clean_one(struct clean_job *job, struct clean_run *run, const uint8_t *b, size_t len)
{
    struct clean_policy pol = {
        .map = &run->map, .live = &run->live, .pids = &run->pids, .map_end = job->map_end,
        .now_ms = job->now_ms, .delete_retention_ms = job->delete_retention_ms};
    const struct aborted_txn *entry;
    struct batch_header h;
    batch_header_decode(b, &h);
    int rc = clean_txns_on_batch(&run->txns, b, len, &h, &pol.fate, &entry);
    if (rc < 0)
        return rc;
    size_t before = run->out.len;
    rc = clean_filter_batch(b, len, &pol, &run->scratch, &run->out, &job->stats);
    if (rc < 0 || run->out.len == before)
        return rc;
    if (entry && (rc = txn_index_append(&run->cseg->txnindex, entry)) < 0)
        return rc; /* a kept abort marker: its entry (last offsets rise) */
    batch_header_decode(run->out.data + before, &h);
    job->stats.bytes_written += batch_size(&h);
    rc = segment_note_batch(run->cseg, &h, run->cpos + before, job->index_interval);
    if (rc == 0 && run->out.len >= WRITE_CHUNK)
        rc = write_out(run);
    return rc;
}

/* The group's last bytes and indexes, as a roll seals a segment. */
static int finish_group(struct clean_job *job, struct clean_run *run)
{
    const struct clean_group *g = &job->groups[run->group];
    struct segment *seg = run->cseg;
    int rc = write_out(run);
    if (rc < 0)
        return rc;
    struct time_index *ti = &seg->timeindex;
    if (seg->max_timestamp >= 0 &&
        (ti->count == 0 || seg->max_timestamp > ti->entries[ti->count - 1].timestamp) &&
        (rc = time_index_append(ti, seg->max_timestamp,
                                (uint32_t)(seg->max_timestamp_offset - seg->base_offset))) < 0)
        return rc;
    seg->size = seg->durable_size = run->cpos;
    seg->next_offset = job->src[g->first + g->count - 1].end_offset; /* S4 */
    return segment_flush_indexes(seg);
}

/* Returns 1 when the group is written, 0 at the deadline. */
static int run_clean(struct clean_job *job, struct clean_run *run, int64_t deadline)
{
    const struct clean_group *g = &job->groups[run->group];
    const uint8_t *b;
    size_t len;
    while (run->src < g->first + g->count) {
        int rc = reader_next(&run->rd, &b, &len);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if (++run->src < g->first + g->count &&
                (rc = reader_open(&run->rd, job->dir, &job->src[run->src])) < 0)
                return rc;
            continue;
        }
        if ((rc = clean_one(job, run, b, len)) < 0)
            return rc;
        if (mono_ns() >= deadline)
            return 0;
    }
    reader_close(&run->rd);
    int rc = finish_group(job, run);
    return rc < 0 ? rc : 1;
}

static int unlink_source(const struct clean_job *job, const struct clean_source *s)
{
    static const char *const exts[] = { ".log", ".index", ".timeindex", ".txnindex" };
    for (int i = 0; i < 4; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%020" PRId64 "%s", job->dir, s->base_offset, exts[i]);
        if (storage_sys.unlink(path) < 0 && errno != ENOENT)
            return -errno;
    }
    return 0;
}

/* Asks the driver to fsync fds; true while it has not done so yet. */
static bool need_sync(struct clean_job *job, struct clean_run *run, const int *fds, int n)
{
    if (run->synced) {
        run->synced = false;
        return false;
    }
    memcpy(job->sync_fds, fds, (size_t)n * sizeof(*fds));
    job->nsync = n;
    job->sync_fd = fds[0];
    return true;
}

static struct segment *batch_seg(struct clean_job *job, struct clean_run *run, int i)
{
    return job->groups[run->batch[i]].seg;
}

/* Renames every segment of the batch to carry suffix. */
static int batch_rename(struct clean_job *job, struct clean_run *run, const char *suffix)
{
    for (int i = 0; i < run->nbatch; i++) {
        int rc = segment_rename_suffix(batch_seg(job, run, i), suffix);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* One step of the batch's swap (S2, S3); CLEAN_SYNC or CLEAN_MORE. */
static int run_swap(struct clean_job *job, struct clean_run *run)
{
    int fds[4 * SWAP_BATCH], n = 0, rc;
    switch (run->phase) {
    case PH_SYNC_FILES:
        for (int i = 0; i < run->nbatch; i++) {
            struct segment *seg = batch_seg(job, run, i);
            fds[n++] = seg->fd;
            fds[n++] = seg->index.fd;
            fds[n++] = seg->timeindex.fd;
            if (seg->txnindex.fd >= 0)
                fds[n++] = seg->txnindex.fd;
        }
        if (need_sync(job, run, fds, n))
            return CLEAN_SYNC;
        for (int i = 0; i < run->nbatch; i++)
            segment_release_indexes(batch_seg(job, run, i)); /* synced: not needed open */
        if (atomic_load(&job->abort))
            return -ECANCELED; /* before the commit point: nothing changed */
        if ((rc = batch_rename(job, run, ".swap")) < 0)
            return rc;
        run->phase = PH_TO_SWAP;
        return CLEAN_MORE;
    case PH_TO_SWAP:
        if (need_sync(job, run, &run->dir_fd, 1))
            return CLEAN_SYNC; /* S2: committed once this returns */
        for (int i = 0; i < run->nbatch; i++) {
            const struct clean_group *g = &job->groups[run->batch[i]];
            for (int k = 1; k < g->count; k++)
                if ((rc = unlink_source(job, &job->src[g->first + k])) < 0)
                    return rc;
            n += g->count - 1;
        }
        run->phase = n ? PH_UNLINK_OLD : PH_TO_FINAL;
        if (!n && (rc = batch_rename(job, run, "")) < 0)
            return rc;
        return CLEAN_MORE;
    case PH_UNLINK_OLD:
        if (need_sync(job, run, &run->dir_fd, 1))
            return CLEAN_SYNC; /* S3 */
        if ((rc = batch_rename(job, run, "")) < 0)
            return rc;
        run->phase = PH_TO_FINAL;
        return CLEAN_MORE;
    case PH_TO_FINAL:
        if (need_sync(job, run, &run->dir_fd, 1))
            return CLEAN_SYNC;
        for (int i = 0; i < run->nbatch; i++)
            job->groups[run->batch[i]].swapped = true;
        run->nbatch = 0;
        run->phase = PH_GROUP;
        return CLEAN_MORE;
    default:
        return -EINVAL;
    }
}

/* A group done: kept for the batch's swap, or dropped when rewriting it
 * changed nothing (one source, every batch copied as it was). */
static void group_done(struct clean_job *job, struct clean_run *run)
{
    struct clean_group *g = &job->groups[run->group];
    if (g->count == 1 && job->stats.batches_changed == run->changed &&
        run->cseg->size == job->src[g->first].size) {
        segment_destroy(run->cseg, 1); /* a .cleaned, identical to its source */
        job->stats.groups_unchanged++;
    } else {
        g->seg = run->cseg;
        run->batch[run->nbatch++] = run->group;
    }
    run->cseg = NULL;
    run->group++;
}

static int run_phase(struct clean_job *job, struct clean_run *run, int64_t deadline)
{
    int rc;
    switch (run->phase) {
    case PH_START:
        if ((rc = run_start(job, run)) < 0)
            return rc;
        run->phase = PH_MAP;
        return CLEAN_MORE;
    case PH_MAP:
        if ((rc = run_map(job, run, deadline)) <= 0)
            return rc;
        if ((rc = make_groups(job)) < 0)
            return rc;
        run->group = 0;
        run->phase = PH_GROUP;
        return CLEAN_MORE;
    case PH_GROUP:
        if (run->nbatch == SWAP_BATCH || (run->group >= job->ngroups && run->nbatch > 0)) {
            run->phase = PH_SYNC_FILES;
            return CLEAN_MORE;
        }
        if (run->group >= job->ngroups) {
            run->phase = PH_DONE;
            return CLEAN_MORE;
        }
        if (atomic_load(&job->abort))
            return -ECANCELED;
        if ((rc = start_group(job, run)) < 0)
            return rc;
        run->phase = PH_CLEAN;
        return CLEAN_MORE;
    case PH_CLEAN:
        if ((rc = run_clean(job, run, deadline)) <= 0)
            return rc;
        group_done(job, run);
        run->phase = PH_GROUP;
        return CLEAN_MORE;
    default:
        return run_swap(job, run);
    }
}

static void run_free(struct clean_run *run)
{
    if (run->cseg)
        segment_destroy(run->cseg, 1); /* a .cleaned being written (S1) */
    reader_close(&run->rd);
    free(run->rd.buf);
    if (run->dir_fd >= 0)
        storage_sys.close(run->dir_fd);
    offset_map_close(&run->map);
    live_bits_close(&run->live);
    pid_table_free(&run->pids);
    clean_txns_free(&run->map_txns);
    clean_txns_free(&run->txns);
    clean_scratch_free(&run->scratch);
    codec_buf_free(&run->out);
    free(run);
}

enum clean_status clean_job_step(struct clean_job *job, int64_t deadline_ns)
{
    struct clean_run *run = job->run;
    if (!run) {
        if (job->error)
            return CLEAN_DONE;
        run = job->run = calloc(1, sizeof(*run));
        if (!run) {
            job->error = -ENOMEM;
            return CLEAN_DONE;
        }
        run->dir_fd = -1;
        run->rd.fd = -1;
        run->start_ns = mono_ns();
        job->stats.next_horizon_ms = INT64_MAX;
    }
    int64_t t0 = mono_ns();
    int rc = CLEAN_MORE;
    while (rc == CLEAN_MORE && run->phase != PH_DONE) {
        rc = run_phase(job, run, deadline_ns);
        if (rc == 0)
            rc = CLEAN_MORE; /* the deadline passed in the middle of a phase */
        if (rc == CLEAN_MORE && mono_ns() >= deadline_ns)
            break;
    }
    job->elapsed_ns += mono_ns() - t0;
    if (rc < 0 || run->phase == PH_DONE) {
        job->error = rc < 0 ? rc : 0;
        run_free(run);
        job->run = NULL;
        return CLEAN_DONE;
    }
    return rc == CLEAN_SYNC ? CLEAN_SYNC : CLEAN_MORE;
}

int clean_job_sync_all(const struct clean_job *job)
{
    for (int i = 0; i < job->nsync; i++)
        if (storage_sys.fsync(job->sync_fds[i]) < 0)
            return -errno;
    return 0;
}

void clean_job_run(struct clean_job *job)
{
    enum clean_status st;
    while ((st = clean_job_step(job, INT64_MAX)) != CLEAN_DONE)
        if (st == CLEAN_SYNC)
            clean_job_synced(job, clean_job_sync_all(job));
}

void clean_job_synced(struct clean_job *job, int res)
{
    if (!job->run)
        return;
    if (res < 0) {
        /* An fsync failed: stop. A committed swap is completed by the
         * next recovery; an uncommitted one is deleted by it (S1, S2). */
        job->error = res;
        run_free(job->run);
        job->run = NULL;
        return;
    }
    job->run->synced = true;
}

void clean_job_destroy(struct clean_job *job)
{
    if (!job)
        return;
    if (job->run)
        run_free(job->run);
    /* A cleaned segment the log did not take: a .cleaned never committed
     * goes (S1); a .swap or a swapped one stays (recovery completes it, or
     * it is on disk already in place of its sources). */
    for (int i = 0; i < job->ngroups; i++) {
        struct segment *seg = job->groups[i].seg;
        if (seg)
            segment_destroy(seg, !job->groups[i].swapped && strcmp(seg->suffix, ".cleaned") == 0);
    }
    free(job->groups);
    free(job->src);
    free(job->aborted);
    free(job);
}
