/* storage_bench.c - the storage engine's append rate against the raw disk.
 *
 * Appends real RecordBatch v2 batches of ~64 KiB (records of 1 KiB and of
 * 100 bytes) to a partition log through the public API (log.h) on one
 * io_uring, and in the same run writes the same bytes to a plain file with
 * the same flush policy, so the two rates come from the same disk in the
 * same minute. The target is a log at >= 90% of the raw rate.
 *
 * What is timed, for both sides: from the first write to "all of it is on
 * disk", i.e. every batch durable per the policy plus one final sync.
 *   log  log_append/log_flush_submit until the byte or time limit, drain
 *        until log_durable_end() == log_end_offset() and no flush or seal
 *        is pending (log_flush_pending()), log_close(), syncfs()
 *        (the log's files are not ours to fdatasync, syncfs covers them).
 *   raw  pwrite/pwritev of the same batch buffers, fdatasync per policy,
 *        one final fdatasync.
 *
 * Baselines per policy:
 *   always  raw/batch  one 64 KiB pwrite + fdatasync per batch (the naive
 *                      producer-at-a-time broker; shown for reference, run
 *                      in the first two repetitions only: it is slow)
 *           raw/group  pwritev of as many batches per fdatasync as the log
 *                      averaged in the run just before it: the same group
 *                      commit granularity, done with plain syscalls. This is
 *                      the fair (stricter) baseline the ratio uses.
 *   os      raw        64 KiB pwrites, no fdatasync but the final one.
 *
 * Runs are interleaved (raw, log, raw, log, ...) so that a noisy disk hurts
 * both sides alike (this VM's disk swings 2x from one run to the next, hence
 * five repetitions); each figure is the median over the repetitions and the
 * ratio is the median of the per-repetition ratios (each ratio compares
 * runs made back to back). MB means 10^6 bytes.
 *
 * Buffers: log_append keeps a pointer to the caller's bytes until
 * log_written_end() passes the append's last offset, so a pool of prebuilt
 * batches (--pool, 64) is reused round-robin and a slot is refilled only
 * once the log says its previous append was written. The pool is the
 * producers' concurrency: it bounds how much one group commit can carry.
 *
 * Every loop is bounded: each run stops at --bytes or --seconds, the final
 * drain gives up after DRAIN_TIMEOUT_S, and a ring that yields no completion
 * for STALL_TIMEOUT_S fails the run.
 *
 * The last line printed is machine-readable:
 *   RESULT append_mb_s=... raw_mb_s=... ratio=... always_1k_ratio=... ...
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "storage/batch_build.h"
#include "storage/io.h"
#include "storage/log.h"

#define BATCH_TARGET_BYTES (64 * 1024)
#define RING_ENTRIES 256
#define MAX_REPS 16
#define RAW_BATCH_REPS 2          /* runs of the per-batch fdatasync reference */
#define MAX_GROUP 1024            /* IOV_MAX */
#define DRAIN_TIMEOUT_S 120.0
#define STALL_TIMEOUT_S 30.0
#define TARGET_RATIO 0.90
#define LOG_SUBDIR "storage-bench-log"
#define RAW_FILE "storage-bench-raw.bin"
#define MB 1e6

struct opts {
    const char *dir;
    uint64_t bytes;
    double seconds;
    int reps;
    int pool;
    bool want_always;
    bool want_os;
};

/* One prebuilt batch; busy while the log may still read it. */
struct slot {
    uint8_t *buf;
    size_t len;
    bool busy;
    int64_t last_offset;       /* of its latest append */
};

struct pool {
    struct slot *slots;
    int n;
    size_t batch_len;          /* every batch has the same size */
    int32_t records;           /* records per batch */
    size_t value_len;
};

struct run_stats {
    uint64_t bytes;            /* batch bytes made durable */
    uint64_t records;
    double secs;               /* first write to all durable + final sync */
    double close_secs;         /* of which: drain, close and final sync */
    uint64_t flushes;          /* log: log_flush_submit() calls that queued */
    uint64_t syncs;            /* raw: fdatasync calls */
    bool time_limited;
};

struct case_result {
    const char *policy;        /* "always" / "os" */
    const char *rec;           /* "1k" / "100b" */
    int reps;
    double log_mb_s[MAX_REPS];
    double raw_mb_s[MAX_REPS];      /* the baseline of the ratio */
    double raw_batch_mb_s[MAX_REPS]; /* always: fdatasync per batch */
    int raw_batch_reps;
    double ratio[MAX_REPS];
    double msgs_s[MAX_REPS];
    double bytes_per_flush[MAX_REPS];
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double median(const double *v, int n)
{
    double s[MAX_REPS];
    memcpy(s, v, (size_t)n * sizeof(*s));
    for (int i = 1; i < n; i++) {
        double x = s[i];
        int j = i - 1;
        while (j >= 0 && s[j] > x) {
            s[j + 1] = s[j];
            j--;
        }
        s[j + 1] = x;
    }
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
}

/* ---- the batch pool ---------------------------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void pool_free(struct pool *p)
{
    if (p->slots)
        for (int i = 0; i < p->n; i++)
            free(p->slots[i].buf);
    free(p->slots);
    memset(p, 0, sizeof(*p));
}

/* Builds n distinct batches of records of value_len bytes, each as large
 * as fits in BATCH_TARGET_BYTES. */
static int pool_build(struct pool *p, int n, size_t value_len)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ value_len;
    uint8_t *value = malloc(value_len);

    memset(p, 0, sizeof(*p));
    p->slots = calloc((size_t)n, sizeof(*p->slots));
    if (!value || !p->slots)
        goto err;
    p->n = n;
    p->value_len = value_len;
    int64_t ts = wall_ms();
    for (int i = 0; i < n; i++) {
        struct slot *s = &p->slots[i];
        struct batch_builder b;

        s->buf = aligned_alloc(4096, BATCH_TARGET_BYTES);
        if (!s->buf)
            goto err;
        batch_builder_init(&b, s->buf, BATCH_TARGET_BYTES, ts);
        for (;;) {
            for (size_t k = 0; k < value_len; k += 8) {
                uint64_t r = xorshift(&seed);
                memcpy(value + k, &r, value_len - k < 8 ? value_len - k : 8);
            }
            if (batch_builder_add(&b, ts, NULL, 0, value, value_len, NULL, 0))
                break;
        }
        s->len = batch_builder_finish(&b, 0);
        if (s->len == 0 || b.overflow == 0) {
            fprintf(stderr, "storage_bench: batch_builder made a batch of "
                    "%zu bytes (overflow %d)\n", s->len, b.overflow);
            goto err;
        }
        if (i == 0) {
            p->batch_len = s->len;
            p->records = b.count;
        } else if (s->len != p->batch_len || b.count != p->records) {
            fprintf(stderr, "storage_bench: batches differ in size "
                    "(%zu/%d vs %zu/%d)\n", s->len, b.count, p->batch_len,
                    p->records);
            goto err;
        }
    }
    free(value);
    return 0;
err:
    free(value);
    pool_free(p);
    return -ENOMEM;
}

static void pool_reset(struct pool *p)
{
    for (int i = 0; i < p->n; i++) {
        p->slots[i].busy = false;
        p->slots[i].last_offset = -1;
    }
}

/* ---- files ------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT)
        fprintf(stderr, "storage_bench: cannot remove %s: %s\n", path,
                strerror(errno));
    return 0;
}

static void rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0)
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Starts each run from a file system with nothing dirty from the last. */
static void settle(int dirfd)
{
    if (syncfs(dirfd) != 0)
        fprintf(stderr, "storage_bench: syncfs: %s\n", strerror(errno));
}

/* ---- io_uring ---------------------------------------------------------- */

/* Submits what is queued, waits (at most 100 ms) for one completion and
 * dispatches every completion ready. Returns the number dispatched or a
 * negative errno. Bounded, unlike io_ring_run_once: a storage bug that
 * loses a completion fails the run instead of hanging it. */
static int ring_reap(struct io_uring *ring)
{
    struct io_uring_cqe *cqe;
    struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 100000000 };
    unsigned head, n = 0;

    int rc = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
    if (rc < 0 && rc != -ETIME && rc != -EINTR)
        return rc;
    io_uring_for_each_cqe(ring, head, cqe) {
        io_op_dispatch(cqe);
        n++;
    }
    io_uring_cq_advance(ring, n);
    return (int)n;
}

/* ---- the log side ------------------------------------------------------ */

static const char *policy_name(enum flush_policy pol)
{
    return pol == FLUSH_ALWAYS ? "always" : pol == FLUSH_OS ? "os" : "interval";
}

/* Waits for the ring's next completions; fails after STALL_TIMEOUT_S
 * without any. */
static int log_wait(struct log *log, struct io_uring *ring, double *last_cqe)
{
    int rc = ring_reap(ring);
    if (rc < 0) {
        fprintf(stderr, "storage_bench: io_uring wait: %s\n", strerror(-rc));
        return rc;
    }
    double now = mono_s();
    if (rc > 0) {
        *last_cqe = now;
    } else if (now - *last_cqe > STALL_TIMEOUT_S) {
        fprintf(stderr, "storage_bench: no completion for %.0f s (end %"
                PRId64 " written %" PRId64 " durable %" PRId64
                " pending %d error %d)\n", STALL_TIMEOUT_S,
                log_end_offset(log), log_written_end(log),
                log_durable_end(log), log_flush_pending(log), log_error(log));
        return -ETIMEDOUT;
    }
    return 0;
}

static int log_run(const struct opts *o, int dirfd, struct pool *p,
                   enum flush_policy pol, uint64_t target,
                   struct run_stats *st)
{
    char path[PATH_MAX];
    struct log_config cfg;
    struct log *log = NULL;
    struct io_uring ring;
    struct log_append_result res;
    int rc;

    memset(st, 0, sizeof(*st));
    snprintf(path, sizeof(path), "%s/%s", o->dir, LOG_SUBDIR);
    rm_tree(path);
    if (mkdir(path, 0755) != 0) {
        rc = -errno;
        fprintf(stderr, "storage_bench: mkdir %s: %s\n", path, strerror(errno));
        return rc;
    }
    rc = io_uring_queue_init(RING_ENTRIES, &ring, 0);
    if (rc < 0) {
        fprintf(stderr, "storage_bench: io_uring_queue_init: %s\n",
                strerror(-rc));
        goto out_dir;
    }
    log_config_defaults(&cfg);
    cfg.flush = pol;
    rc = log_open(&log, path, "bench", 0, &cfg, wall_ms());
    if (rc != 0) {
        fprintf(stderr, "storage_bench: log_open %s: %s\n", path,
                strerror(-rc));
        goto out_ring;
    }
    pool_reset(p);
    settle(dirfd);

    uint64_t appended = 0, nbatches = 0;
    int next = 0;
    double t0 = mono_s(), deadline = t0 + o->seconds, last_cqe = t0;
    bool stop = false;

    while (!stop) {
        int64_t now_ms = wall_ms();
        uint64_t turn_start = nbatches;

        /* As many batches as the queue takes and the pool has free. */
        while (appended < target) {
            struct slot *s = &p->slots[next];

            if (mono_s() >= deadline) {
                st->time_limited = true;
                break;
            }
            if (s->busy) {
                if (log_written_end(log) <= s->last_offset)
                    break;    /* the log still points at its bytes */
                s->busy = false;
            }
            rc = log_append(log, s->buf, s->len, now_ms, &res);
            if (rc == -EAGAIN)
                break;
            if (rc != 0) {
                fprintf(stderr, "storage_bench: log_append: %s %d\n",
                        rc > 0 ? "kafka error" : strerror(-rc), rc);
                goto out_close;
            }
            if (res.last_offset - res.base_offset + 1 != p->records) {
                fprintf(stderr, "storage_bench: log_append gave offsets %"
                        PRId64 "..%" PRId64 " for %d records\n",
                        res.base_offset, res.last_offset, p->records);
                rc = -EPROTO;
                goto out_close;
            }
            s->busy = true;
            s->last_offset = res.last_offset;
            next = (next + 1) % p->n;
            appended += s->len;
            nbatches++;
        }
        stop = appended >= target || st->time_limited;

        rc = log_flush_submit(log, &ring, now_ms);
        if (rc > 0) {
            st->flushes++;
        } else if (rc < 0 && rc != -EBUSY) {
            fprintf(stderr, "storage_bench: log_flush_submit: %s\n",
                    strerror(-rc));
            goto out_close;
        }
        if (stop)
            break;
        if (nbatches != turn_start) {
            /* Progress this turn: like a shard, keep appending while the
             * fdatasync runs; only collect what has completed. */
            io_uring_submit(&ring);
            struct io_uring_cqe *cqe;
            unsigned head, n = 0;
            io_uring_for_each_cqe(&ring, head, cqe) {
                io_op_dispatch(cqe);
                n++;
            }
            io_uring_cq_advance(&ring, n);
            if (n > 0)
                last_cqe = mono_s();
            continue;
        }
        if (!log_flush_pending(log) && rc <= 0) {
            /* Nothing in flight, nothing queued, and no batch could be
             * appended: the log would never make progress. */
            fprintf(stderr, "storage_bench: stalled: nothing pending but "
                    "slot %d busy (last offset %" PRId64 ", written %" PRId64
                    ")\n", next, p->slots[next].last_offset,
                    log_written_end(log));
            rc = -EPROTO;
            goto out_close;
        }
        rc = log_wait(log, &ring, &last_cqe);
        if (rc < 0)
            goto out_close;
    }

    /* Drain: everything appended becomes durable, and nothing is left in
     * flight (a sealed segment's fdatasync may still run after the last
     * offset is durable; log_close wants it done). */
    double t_drain = mono_s();
    while (log_durable_end(log) < log_end_offset(log) ||
           log_flush_pending(log)) {
        if (log_error(log)) {
            rc = log_error(log);
            fprintf(stderr, "storage_bench: log failed: %s\n", strerror(-rc));
            goto out_close;
        }
        if (mono_s() - t_drain > DRAIN_TIMEOUT_S) {
            fprintf(stderr, "storage_bench: drain did not finish in %.0f s\n",
                    DRAIN_TIMEOUT_S);
            rc = -ETIMEDOUT;
            goto out_close;
        }
        rc = log_flush_submit(log, &ring, wall_ms());
        if (rc < 0 && rc != -EBUSY) {
            fprintf(stderr, "storage_bench: log_flush_submit: %s\n",
                    strerror(-rc));
            goto out_close;
        }
        if (rc > 0)
            st->flushes++;
        if (!log_flush_pending(log) && rc <= 0) {
            if (log_durable_end(log) >= log_end_offset(log))
                break;
            fprintf(stderr, "storage_bench: drain stalled: end %" PRId64
                    " durable %" PRId64 " and nothing pending\n",
                    log_end_offset(log), log_durable_end(log));
            rc = -EPROTO;
            goto out_close;
        }
        rc = log_wait(log, &ring, &last_cqe);
        if (rc < 0)
            goto out_close;
    }
    if ((uint64_t)log_end_offset(log) != nbatches * (uint64_t)p->records) {
        fprintf(stderr, "storage_bench: log end offset %" PRId64
                ", appended %" PRIu64 " records\n", log_end_offset(log),
                nbatches * (uint64_t)p->records);
        rc = -EPROTO;
        goto out_close;
    }
    if (log_size_bytes(log) != appended)
        fprintf(stderr, "storage_bench: note: log_size_bytes %" PRIu64
                " != appended %" PRIu64 "\n", log_size_bytes(log), appended);
    rc = log_close(log);
    log = NULL;
    if (rc != 0) {
        fprintf(stderr, "storage_bench: log_close: %s\n", strerror(-rc));
        goto out_ring;
    }
    settle(dirfd);
    double t1 = mono_s();

    st->bytes = appended;
    st->records = nbatches * (uint64_t)p->records;
    st->secs = t1 - t0;
    st->close_secs = t1 - t_drain;
    rc = 0;
    goto out_ring;

out_close:
    if (log) {
        /* log_close wants no flush in flight: reap for a bounded while. */
        double t = mono_s();
        while (log_flush_pending(log) && mono_s() - t < 5.0 &&
               ring_reap(&ring) >= 0 && log_error(log) == 0)
            log_flush_submit(log, &ring, wall_ms());
        log_close(log);
    }
out_ring:
    io_uring_queue_exit(&ring);
out_dir:
    rm_tree(path);
    return rc;
}

/* ---- the raw side ------------------------------------------------------ */

static int full_pwritev(int fd, struct iovec *iov, int n, off_t off)
{
    while (n > 0) {
        ssize_t w = pwritev(fd, iov, n, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        off += w;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Writes the pool's batches sequentially to a fresh file, group batches
 * per pwritev, each followed by fdatasync when sync is set; one final
 * fdatasync either way. */
static int raw_run(const struct opts *o, int dirfd, const struct pool *p,
                   int group, bool sync, uint64_t target,
                   struct run_stats *st)
{
    char path[PATH_MAX];
    struct iovec iov[MAX_GROUP];
    int rc = 0;

    memset(st, 0, sizeof(*st));
    if (group < 1)
        group = 1;
    if (group > MAX_GROUP)
        group = MAX_GROUP;
    snprintf(path, sizeof(path), "%s/%s", o->dir, RAW_FILE);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        fprintf(stderr, "storage_bench: open %s: %s\n", path, strerror(errno));
        return rc;
    }
    settle(dirfd);

    uint64_t written = 0, nbatches = 0;
    int next = 0;
    double t0 = mono_s(), deadline = t0 + o->seconds;

    while (written < target) {
        if (mono_s() >= deadline) {
            st->time_limited = true;
            break;
        }
        int n = 0;
        uint64_t chunk = 0;
        while (n < group && written + chunk < target) {
            const struct slot *s = &p->slots[next];
            iov[n].iov_base = s->buf;
            iov[n].iov_len = s->len;
            chunk += s->len;
            n++;
            next = (next + 1) % p->n;
        }
        rc = full_pwritev(fd, iov, n, (off_t)written);
        if (rc < 0) {
            fprintf(stderr, "storage_bench: pwritev: %s\n", strerror(-rc));
            goto out;
        }
        written += chunk;
        nbatches += (uint64_t)n;
        if (sync) {
            if (fdatasync(fd) != 0) {
                rc = -errno;
                fprintf(stderr, "storage_bench: fdatasync: %s\n",
                        strerror(errno));
                goto out;
            }
            st->syncs++;
        }
    }
    double t_final = mono_s();
    if (fdatasync(fd) != 0) {
        rc = -errno;
        fprintf(stderr, "storage_bench: fdatasync: %s\n", strerror(errno));
        goto out;
    }
    st->syncs++;
    double t1 = mono_s();
    st->bytes = written;
    st->records = nbatches * (uint64_t)p->records;
    st->secs = t1 - t0;
    st->close_secs = t1 - t_final;
out:
    close(fd);
    unlink(path);
    return rc;
}

/* ---- one case: a policy and a record size ------------------------------ */

static double mb_s(const struct run_stats *st)
{
    return st->secs > 0 ? (double)st->bytes / st->secs / MB : 0.0;
}

static void print_run(const char *what, const struct run_stats *st)
{
    printf("  %-10s %8.1f MB/s  %7.1f MB in %6.2f s (final sync/close %.3f s)"
           "%s", what, mb_s(st), (double)st->bytes / MB, st->secs,
           st->close_secs, st->time_limited ? " [time limit]" : "");
    if (st->flushes)
        printf("  %" PRIu64 " flushes, %.0f B/flush", st->flushes,
               (double)st->bytes / (double)st->flushes);
    if (st->syncs)
        printf("  %" PRIu64 " fdatasync", st->syncs);
    printf("\n");
    fflush(stdout);
}

/* Later runs of a case write what the first time-limited run managed, so
 * every run of a case moves the same bytes. */
static void shrink_target(uint64_t *target, const struct run_stats *st)
{
    if (st->time_limited && st->bytes > 0 && st->bytes < *target)
        *target = st->bytes;
}

static int run_case(const struct opts *o, int dirfd, struct pool *p,
                    enum flush_policy pol, struct case_result *cr)
{
    uint64_t target = o->bytes;
    struct run_stats raw, lg, raw_b;
    bool always = pol == FLUSH_ALWAYS;
    int rc;

    printf("%s, %zu B records: %d records/batch, %zu B/batch, %d batches "
           "in the pool\n", policy_name(pol), p->value_len, p->records,
           p->batch_len, p->n);
    for (int r = 0; r < o->reps; r++) {
        if (always && r < RAW_BATCH_REPS) {
            /* Reference only (not in the ratio) and slow: two runs. */
            rc = raw_run(o, dirfd, p, 1, true, target, &raw_b);
            if (rc)
                return rc;
            print_run("raw/batch", &raw_b);
            cr->raw_batch_mb_s[r] = mb_s(&raw_b);
            cr->raw_batch_reps = r + 1;
        }
        if (!always) {
            rc = raw_run(o, dirfd, p, 1, false, target, &raw);
            if (rc)
                return rc;
            shrink_target(&target, &raw);
            print_run("raw", &raw);
        }
        rc = log_run(o, dirfd, p, pol, target, &lg);
        if (rc)
            return rc;
        shrink_target(&target, &lg);
        print_run("log", &lg);
        double bpf = lg.flushes ? (double)lg.bytes / (double)lg.flushes : 0;
        if (always) {
            /* The same bytes per fdatasync as the log just averaged. */
            int group = (int)lround(bpf / (double)p->batch_len);
            char what[32];
            rc = raw_run(o, dirfd, p, group, true, target, &raw);
            if (rc)
                return rc;
            shrink_target(&target, &raw);
            snprintf(what, sizeof(what), "raw/group%d",
                     group < 1 ? 1 : group > MAX_GROUP ? MAX_GROUP : group);
            print_run(what, &raw);
        }
        cr->log_mb_s[r] = mb_s(&lg);
        cr->raw_mb_s[r] = mb_s(&raw);
        cr->ratio[r] = cr->raw_mb_s[r] > 0 ? cr->log_mb_s[r] / cr->raw_mb_s[r]
                                           : 0;
        cr->msgs_s[r] = lg.secs > 0 ? (double)lg.records / lg.secs : 0;
        cr->bytes_per_flush[r] = bpf;
        cr->reps = r + 1;
        printf("  ratio      %8.3f\n", cr->ratio[r]);
    }
    return 0;
}

/* ---- main -------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: storage_bench [options]\n"
        "  --dir D          data directory (default ./bench-data; created,\n"
        "                   and what the benchmark writes removed after)\n"
        "  --bytes N        bytes per run, K/M/G suffixes (default 2G)\n"
        "  --seconds S      time limit per run (default 20)\n"
        "  --quick          256M / 5 s, one repetition (CI smoke run)\n"
        "  --flush P        always, os or both (default both)\n"
        "  --reps N         repetitions per case (default 5, max %d)\n"
        "  --pool N         distinct batch buffers (default 64)\n",
        MAX_REPS);
}

static int parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v <= 0)
        return -1;
    switch (*end) {
    case 'k': case 'K': v *= 1024.0; end++; break;
    case 'm': case 'M': v *= 1024.0 * 1024; end++; break;
    case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'B')
        end += *end == 'i' ? (end[1] == 'B' ? 2 : 1) : 1;
    if (*end != '\0' || v < 1.0 || v > 1e15)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "bytes", required_argument, NULL, 'b' },
        { "seconds", required_argument, NULL, 's' },
        { "quick", no_argument, NULL, 'q' },
        { "flush", required_argument, NULL, 'f' },
        { "reps", required_argument, NULL, 'r' },
        { "pool", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool quick = false, set_bytes = false, set_secs = false, set_reps = false;
    int c;

    *o = (struct opts){ .dir = "./bench-data", .bytes = 2ull << 30,
                        .seconds = 20.0, .reps = 5, .pool = 64,
                        .want_always = true, .want_os = true };
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'd':
            o->dir = optarg;
            break;
        case 'b':
            if (parse_bytes(optarg, &o->bytes))
                goto bad;
            set_bytes = true;
            break;
        case 's':
            o->seconds = strtod(optarg, &end);
            if (*end || !(o->seconds > 0))
                goto bad;
            set_secs = true;
            break;
        case 'q':
            quick = true;
            break;
        case 'f':
            o->want_always = !strcmp(optarg, "always") || !strcmp(optarg, "both");
            o->want_os = !strcmp(optarg, "os") || !strcmp(optarg, "both");
            if (!o->want_always && !o->want_os)
                goto bad;
            break;
        case 'r':
            o->reps = (int)strtol(optarg, &end, 10);
            if (*end || o->reps < 1 || o->reps > MAX_REPS)
                goto bad;
            set_reps = true;
            break;
        case 'p':
            o->pool = (int)strtol(optarg, &end, 10);
            if (*end || o->pool < 2 || o->pool > 65536)
                goto bad;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            goto bad;
        }
    }
    if (optind != argc)
        goto bad;
    if (quick) {
        if (!set_bytes)
            o->bytes = 256ull << 20;
        if (!set_secs)
            o->seconds = 5.0;
        if (!set_reps)
            o->reps = 1;
    }
    return 0;
bad:
    usage(stderr);
    return -1;
}

int main(int argc, char **argv)
{
    struct opts o;
    static const struct { const char *name; size_t value_len; } recs[] = {
        { "1k", 1024 },
        { "100b", 100 },
    };
    struct case_result results[4];
    int ncases = 0, rc = 1, dirfd = -1;
    bool created = false;

    if (parse_opts(argc, argv, &o))
        return 2;
    if (mkdir(o.dir, 0755) == 0)
        created = true;
    else if (errno != EEXIST) {
        fprintf(stderr, "storage_bench: mkdir %s: %s\n", o.dir, strerror(errno));
        return 1;
    }
    dirfd = open(o.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        fprintf(stderr, "storage_bench: open %s: %s\n", o.dir, strerror(errno));
        goto out;
    }

    /* Leave room on the disk: never plan to fill more than 80% of it. */
    struct statvfs vfs;
    if (fstatvfs(dirfd, &vfs) == 0) {
        uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        uint64_t cap = avail / 10 * 8;
        if (o.bytes > cap) {
            fprintf(stderr, "storage_bench: only %" PRIu64 " MiB free: runs "
                    "limited to %" PRIu64 " MiB\n", avail >> 20, cap >> 20);
            o.bytes = cap;
        }
    }
    printf("storage_bench: dir %s, %.0f MiB or %g s per run, %d "
           "repetition(s), interleaved raw/log\n", o.dir,
           (double)o.bytes / (1 << 20), o.seconds, o.reps);
    fflush(stdout);

    enum flush_policy pols[2];
    int npols = 0;
    if (o.want_always)
        pols[npols++] = FLUSH_ALWAYS;
    if (o.want_os)
        pols[npols++] = FLUSH_OS;
    for (int i = 0; i < npols; i++) {
        for (size_t j = 0; j < sizeof(recs) / sizeof(recs[0]); j++) {
            struct pool p;
            struct case_result *cr = &results[ncases];

            memset(cr, 0, sizeof(*cr));
            cr->policy = policy_name(pols[i]);
            cr->rec = recs[j].name;
            if (pool_build(&p, o.pool, recs[j].value_len)) {
                fprintf(stderr, "storage_bench: cannot build the batch pool\n");
                goto out;
            }
            int err = run_case(&o, dirfd, &p, pols[i], cr);
            pool_free(&p);
            if (err) {
                fprintf(stderr, "storage_bench: %s/%s failed: %s\n",
                        cr->policy, cr->rec, strerror(err < 0 ? -err : EPROTO));
                goto out;
            }
            ncases++;
        }
    }

    printf("\n%-7s %-6s %10s %10s %7s %12s %12s %14s\n", "policy", "record",
           "log MB/s", "raw MB/s", "ratio", "log msgs/s", "bytes/flush",
           "raw/batch MB/s");
    for (int i = 0; i < ncases; i++) {
        const struct case_result *cr = &results[i];
        bool always = !strcmp(cr->policy, "always");
        char rb[32] = "-";
        if (always)
            snprintf(rb, sizeof(rb), "%.1f", median(cr->raw_batch_mb_s,
                                                     cr->raw_batch_reps));
        printf("%-7s %-6s %10.1f %10.1f %7.3f %12.0f %12.0f %14s\n",
               cr->policy, cr->rec, median(cr->log_mb_s, cr->reps),
               median(cr->raw_mb_s, cr->reps), median(cr->ratio, cr->reps),
               median(cr->msgs_s, cr->reps),
               median(cr->bytes_per_flush, cr->reps), rb);
    }
    printf("(medians over %d repetition(s); raw for always = the same bytes "
           "per fdatasync as the log; ratio = median of paired log/raw; "
           "target %.2f)\n", o.reps, TARGET_RATIO);

    /* The headline: always/1k when it ran, else the first case. */
    const struct case_result *head = &results[0];
    double min_ratio = INFINITY;
    for (int i = 0; i < ncases; i++) {
        double r = median(results[i].ratio, results[i].reps);
        if (r < min_ratio)
            min_ratio = r;
    }
    printf("RESULT append_mb_s=%.1f raw_mb_s=%.1f ratio=%.3f",
           median(head->log_mb_s, head->reps),
           median(head->raw_mb_s, head->reps),
           median(head->ratio, head->reps));
    for (int i = 0; i < ncases; i++) {
        const struct case_result *cr = &results[i];
        printf(" %s_%s_ratio=%.3f", cr->policy, cr->rec,
               median(cr->ratio, cr->reps));
    }
    for (int i = 0; i < ncases; i++) {
        const struct case_result *cr = &results[i];
        printf(" %s_%s_log_mb_s=%.1f %s_%s_raw_mb_s=%.1f %s_%s_msgs_s=%.0f"
               " %s_%s_bytes_per_flush=%.0f",
               cr->policy, cr->rec, median(cr->log_mb_s, cr->reps),
               cr->policy, cr->rec, median(cr->raw_mb_s, cr->reps),
               cr->policy, cr->rec, median(cr->msgs_s, cr->reps),
               cr->policy, cr->rec, median(cr->bytes_per_flush, cr->reps));
    }
    printf(" min_ratio=%.3f target=%.2f pass=%d\n", min_ratio, TARGET_RATIO,
           min_ratio >= TARGET_RATIO);
    rc = 0;
out:
    if (dirfd >= 0)
        close(dirfd);
    if (created)
        rm_tree(o.dir);
    return rc;
}
