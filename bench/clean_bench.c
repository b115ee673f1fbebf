/* clean_bench.c - how fast the compacting cleaner rewrites a log, against
 * the disk's own sequential read+write rate measured in the same run.
 *
 *   clean_bench --dir D [--mb M] [--keys K] [--size S] [--reps R]
 *
 * Builds a compacted log of M MB in D (16 MiB segments; batches of 100
 * records of S-byte values over K random keys, codecs none and lz4
 * alternating, as producers send them), syncs it and drops it from the
 * page cache. Then, R times, alternating:
 *   clean  one clean job over every sealed segment, run as the cleaner
 *          thread runs it (steps to completion, each fsync done inline):
 *          MB/s of segment bytes read;
 *   copy   the same segment files read and written to new files (1 MiB
 *          chunks, fdatasync at the end), the disk's sequential
 *          read+write rate: MB/s of bytes read;
 * with the page cache dropped (fadvise DONTNEED) before each. The ratio is
 * the median clean rate over the median copy rate (goal >= 0.5);
 * clean_cpu_mb_s is the rate per second of CPU the clean took (less
 * sensitive than wall-clock time to a busy machine). Every loop is bounded
 * by M. The last line is the RESULT line (loadgen.h):
 *   RESULT system=sluice mode=clean ... clean_mb_s= disk_rw_mb_s= ratio=
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loadgen.h"
#include "storage/batch.h"
#include "storage/batch_build.h"
#include "storage/batch_compress.h"
#include "storage/cleaner.h"
#include "storage/io.h"
#include "storage/log.h"

#define RECORDS_PER_BATCH 100
#define SEGMENT_BYTES (16u << 20)
#define MAX_REPS 9
#define NOW_MS 1700000000000ll
#define COPY_CHUNK (1u << 20)

struct opts {
    const char *dir;
    uint64_t mb;
    unsigned keys;
    size_t size;
    int reps;
};

static int drain(struct log *log, struct io_uring *ring)
{
    for (int i = 0; i < 1000000 && log_flush_pending(log); i++) {
        int rc = log_flush_submit(log, ring, NOW_MS);
        if (rc < 0)
            return rc;
        if (log_flush_pending(log) && (rc = io_ring_run_once(ring)) < 0)
            return rc;
    }
    return log_error(log);
}

/* One producer batch of RECORDS_PER_BATCH records; lz4 every other one. */
static size_t make_batch(uint8_t *buf, size_t cap, const struct opts *o, uint64_t *seed, int i,
                         uint8_t **owned)
{
    struct batch_builder b;
    char key[32], value[65536];
    memset(value, 'v', o->size < sizeof(value) ? o->size : sizeof(value));
    batch_builder_init(&b, buf, cap, NOW_MS);
    for (int r = 0; r < RECORDS_PER_BATCH; r++) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        int kl = snprintf(key, sizeof(key), "key-%08u", (unsigned)((*seed >> 33) % o->keys));
        snprintf(value, sizeof(value), "%d-%d", i, r);
        if (batch_builder_add(&b, NOW_MS + r, key, (size_t)kl, value, o->size, NULL, 0) < 0)
            return 0;
    }
    size_t len = batch_builder_finish(&b, 0);
    *owned = NULL;
    if (i % 2 == 0)
        return len;
    size_t out;
    if (batch_compress_lz4(buf, len, owned, &out) < 0)
        return 0;
    return out;
}

static int build_log(const struct opts *o, struct io_uring *ring, struct log **out)
{
    struct log_config cfg;
    log_config_defaults(&cfg);
    cfg.segment_bytes = SEGMENT_BYTES;
    cfg.flush = FLUSH_OS;
    cfg.cleanup_compact = true;
    cfg.cleanup_delete = false;
    cfg.min_cleanable_ratio = 0;
    int rc = log_open(out, o->dir, "clean-bench", 0, &cfg, NOW_MS);
    if (rc < 0)
        return rc;
    size_t cap = RECORDS_PER_BATCH * (o->size + 64) + 4096;
    uint8_t *buf = malloc(cap);
    uint64_t seed = 42, bytes = 0;
    for (int i = 0; buf && bytes < o->mb * 1000000; i++) {
        uint8_t *owned;
        size_t len = make_batch(buf, cap, o, &seed, i, &owned);
        struct log_append_result res;
        if (len == 0 || (rc = log_append(*out, owned ? owned : buf, len, NOW_MS, &res)) == -EAGAIN)
            rc = drain(*out, ring) ?: log_append(*out, owned ? owned : buf, len, NOW_MS, &res);
        if (rc == 0)
            rc = drain(*out, ring);
        free(owned);
        if (rc != 0)
            break;
        bytes += len;
    }
    free(buf);
    return rc;
}

/* The .log files of the bench partition, names into *names. */
static int list_logs(const char *pdir, char names[][64], int max)
{
    DIR *d = opendir(pdir);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d)) && n < max) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".log") == 0 && l < 64)
            strcpy(names[n++], de->d_name);
    }
    if (d)
        closedir(d);
    return n;
}

/* Everything written reaches the disk, then leaves the page cache: both
 * measurements start cold. */
static void drop_cache(const char *pdir)
{
    DIR *d = opendir(pdir);
    struct dirent *de;
    sync();
    while (d && (de = readdir(d))) {
        char path[8192];
        snprintf(path, sizeof(path), "%.4000s/%.255s", pdir, de->d_name);
        int fd = open(path, O_RDONLY);
        if (fd >= 0) {
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
    }
    if (d)
        closedir(d);
}

/* Reads every segment file and writes it to a new one, fdatasync at the
 * end of each: seconds, and *bytes read. */
static double copy_files(const char *pdir, char names[][64], int n, uint64_t *bytes)
{
    uint8_t *buf = malloc(COPY_CHUNK);
    double t0 = lg_now_s();
    *bytes = 0;
    for (int i = 0; buf && i < n; i++) {
        char src[8192], dst[8192];
        if (snprintf(src, sizeof(src), "%.4000s/%.63s", pdir, names[i]) < 0 ||
            snprintf(dst, sizeof(dst), "%.4000s/copy-%d.tmp", pdir, i) < 0)
            break;
        int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ssize_t got;
        while (in >= 0 && out >= 0 && (got = read(in, buf, COPY_CHUNK)) > 0) {
            if (write(out, buf, (size_t)got) != got)
                break;
            *bytes += (uint64_t)got;
        }
        if (out >= 0) {
            fdatasync(out);
            close(out);
        }
        if (in >= 0)
            close(in);
    }
    double secs = lg_now_s() - t0;
    for (int i = 0; i < n; i++) {
        char dst[8192];
        snprintf(dst, sizeof(dst), "%.4000s/copy-%d.tmp", pdir, i);
        unlink(dst);
    }
    free(buf);
    return secs;
}

/* Seconds this thread has waited for a CPU while runnable
 * (/proc/self/schedstat's second field): on a shared machine the part of
 * a wall-clock time that other work took. 0 where the kernel has none. */
static double run_delay_s(void)
{
    unsigned long long on_cpu = 0, waited = 0;
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &on_cpu, &waited) != 2)
            waited = 0;
        fclose(f);
    }
    return (double)waited / 1e9;
}

/* One clean job over every sealed segment, as the cleaner thread runs it:
 * *secs of wall-clock time, *cpu of CPU time (user + system), *waited
 * of it runnable but not running. */
static int run_clean(struct log *log, struct clean_stats *st, double *secs, double *cpu,
                     double *waited)
{
    struct clean_job *job;
    double t0 = lg_now_s(), c0 = lg_cpu_s(), w0 = run_delay_s();
    int rc = log_clean_begin(log, NOW_MS, 64u << 20, &job);
    if (rc < 0)
        return rc;
    clean_job_run(job);
    *st = job->stats;
    rc = log_clean_finish(log, job, NOW_MS);
    *secs = lg_now_s() - t0;
    *cpu = lg_cpu_s() - c0;
    *waited = run_delay_s() - w0;
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        { "dir", required_argument, NULL, 'd' }, { "mb", required_argument, NULL, 'm' },
        { "keys", required_argument, NULL, 'k' }, { "size", required_argument, NULL, 's' },
        { "reps", required_argument, NULL, 'r' }, { NULL, 0, NULL, 0 } };
    int c;
    *o = (struct opts){ .mb = 256, .keys = 100000, .size = 100, .reps = 3 };
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'm': o->mb = strtoull(optarg, NULL, 10); break;
        case 'k': o->keys = (unsigned)strtoul(optarg, NULL, 10); break;
        case 's': o->size = strtoul(optarg, NULL, 10); break;
        case 'r': o->reps = atoi(optarg); break;
        default: return -1;
        }
    }
    if (!o->dir || o->mb == 0 || o->keys == 0 || o->size < 16 || o->size > 60000 ||
        o->reps < 1 || o->reps > MAX_REPS) {
        fprintf(stderr, "usage: clean_bench --dir D [--mb M] [--keys K] [--size 16..60000] "
                        "[--reps 1..%d]\n", MAX_REPS);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct io_uring ring;
    if (parse(argc, argv, &o) < 0 || io_uring_queue_init(64, &ring, 0) < 0)
        return 2;
    double clean_mb_s[MAX_REPS], copy_mb_s[MAX_REPS], cpu_mb_s[MAX_REPS];
    struct clean_stats st = { 0 };
    uint64_t cleaned = 0;
    for (int r = 0; r < o.reps; r++) {
        char pdir[4096], cmd[4200];
        snprintf(pdir, sizeof(pdir), "%.4000s/clean-bench-0", o.dir);
        snprintf(cmd, sizeof(cmd), "rm -rf '%.4096s'", pdir);
        if (system(cmd) != 0)
            return 1;
        struct log *log;
        int rc = build_log(&o, &ring, &log);
        if (rc != 0) {
            fprintf(stderr, "clean_bench: building the log: %d\n", rc);
            return 1;
        }
        char names[4096][64];
        int n = list_logs(pdir, names, 4096);
        drop_cache(pdir);
        uint64_t copied;
        double copy_s = copy_files(pdir, names, n, &copied);
        drop_cache(pdir);
        double clean_s, cpu_s, wait_s;
        if ((rc = run_clean(log, &st, &clean_s, &cpu_s, &wait_s)) != 0) {
            fprintf(stderr, "clean_bench: clean: %s\n", strerror(-rc));
            return 1;
        }
        cleaned = st.bytes_read;
        clean_mb_s[r] = (double)st.bytes_read / 1e6 / clean_s;
        copy_mb_s[r] = (double)copied / 1e6 / copy_s;
        cpu_mb_s[r] = (double)st.bytes_read / 1e6 / cpu_s;
        printf("rep %d: cleaned %.1f MB (%" PRId64 " of %" PRId64 " records removed) at %.0f MB/s "
               "(%.0f ms: %.0f ms on a CPU, %.0f ms waiting for one); copied %.1f MB at %.0f MB/s\n",
               r, st.bytes_read / 1e6, st.records_removed, st.records_read, clean_mb_s[r],
               clean_s * 1e3, cpu_s * 1e3, wait_s * 1e3, copied / 1e6, copy_mb_s[r]);
        log_close(log);
    }
    qsort(clean_mb_s, (size_t)o.reps, sizeof(double), cmp_double);
    qsort(copy_mb_s, (size_t)o.reps, sizeof(double), cmp_double);
    qsort(cpu_mb_s, (size_t)o.reps, sizeof(double), cmp_double);
    double cm = clean_mb_s[o.reps / 2], dm = copy_mb_s[o.reps / 2];
    struct lg_opts lo = { .mode = "clean", .size = o.size, .partitions = 1 };
    lg_report_begin("sluice", &lo);
    lg_report_u64("bytes", cleaned);
    lg_report_u64("keys", o.keys);
    lg_report_u64("records_removed", (uint64_t)st.records_removed);
    lg_report_f("clean_mb_s", cm);
    lg_report_f("disk_rw_mb_s", dm);
    lg_report_f("clean_cpu_mb_s", cpu_mb_s[o.reps / 2]);
    lg_report_f("ratio", dm > 0 ? cm / dm : 0);
    lg_report_end();
    io_uring_queue_exit(&ring);
    return 0;
}
