/* machine_bw.c - the machine's own limits that broker figures are compared
 * with in the same run: memcpy bandwidth, sequential write bandwidth of the
 * disk under a flush policy, and the latency of one small durable write.
 *
 *   machine_bw memcpy [--seconds S]
 *       copies a 64 MiB buffer into another (larger than the caches), one
 *       thread, until S seconds have passed: MB/s of bytes copied.
 *   machine_bw disk --dir D [--flush os|always] [--block BYTES] [--bytes N]
 *                   [--seconds S]
 *       pwrite()s BLOCK-byte blocks to a new file in D. os: one fdatasync at
 *       the end (in the timing); always: an fdatasync after every block, the
 *       durable write rate at that group-commit size. The file is deleted.
 *   machine_bw fsync --dir D [--count N] [--block BYTES] [--overwrite]
 *       N times: pwrite a BLOCK (default 4 KiB) at the end of a file and
 *       fdatasync it; the latency of each pair (p50/p99/max), the floor
 *       under any durable acknowledgement on this disk. With --overwrite:
 *       the file is written whole and synced first, then each BLOCK is
 *       rewritten in place with O_DIRECT before its fdatasync - what the
 *       shard journal does (storage/journal.h): no inode or block map to
 *       persist, only the device's cache flush.
 *
 * Every loop is bounded by --seconds or --count. The last line printed is
 * machine-readable: "RESULT limit=memcpy|disk|fsync key=value ...".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hist.h"
#include "loadgen.h"

#define MEMCPY_BYTES (64u << 20)
#define MAX_BLOCK (64u << 20)

struct opts {
    const char *what;
    const char *dir;
    bool durable;
    size_t block;
    uint64_t bytes;
    uint64_t count;
    double seconds;
    bool overwrite;
};

static int run_memcpy(const struct opts *o)
{
    char *src = malloc(MEMCPY_BYTES), *dst = malloc(MEMCPY_BYTES);
    uint64_t copied = 0;
    double t0, secs;

    if (!src || !dst) {
        free(src);
        free(dst);
        fprintf(stderr, "machine_bw: out of memory\n");
        return 1;
    }
    memset(src, 0x5a, MEMCPY_BYTES);
    memset(dst, 0, MEMCPY_BYTES);      /* fault every page in before timing */
    t0 = lg_now_s();
    do {
        memcpy(dst, src, MEMCPY_BYTES);
        src[copied % MEMCPY_BYTES] ^= dst[(copied / 7) % MEMCPY_BYTES];
        copied += MEMCPY_BYTES;
        secs = lg_now_s() - t0;
    } while (secs < o->seconds);
    printf("RESULT limit=memcpy mb_s=%.1f bytes=%llu secs=%.3f check=%d\n",
           (double)copied / secs / 1e6, (unsigned long long)copied, secs, dst[12345]);
    free(src);
    free(dst);
    return 0;
}

static int open_scratch(const char *dir, char *path, size_t cap)
{
    snprintf(path, cap, "%s/machine_bw.XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0)
        fprintf(stderr, "machine_bw: cannot create a file in %s: %s\n", dir,
                strerror(errno));
    return fd;
}

static int write_block(int fd, const char *buf, size_t len, uint64_t off)
{
    ssize_t n = pwrite(fd, buf, len, (off_t)off);
    if (n != (ssize_t)len) {
        fprintf(stderr, "machine_bw: pwrite: %s\n", n < 0 ? strerror(errno) : "short");
        return -1;
    }
    return 0;
}

static int run_disk(const struct opts *o)
{
    char path[4096], *buf = malloc(o->block);
    uint64_t off = 0;
    double t0, secs;
    int fd, rc = 1;

    if (!buf)
        return 1;
    memset(buf, 0xa5, o->block);
    fd = open_scratch(o->dir, path, sizeof(path));
    if (fd < 0)
        goto out;
    t0 = lg_now_s();
    while (off < o->bytes && lg_now_s() - t0 < o->seconds) {
        if (write_block(fd, buf, o->block, off))
            goto out_close;
        off += o->block;
        if (o->durable && fdatasync(fd)) {
            fprintf(stderr, "machine_bw: fdatasync: %s\n", strerror(errno));
            goto out_close;
        }
    }
    if (fdatasync(fd)) {
        fprintf(stderr, "machine_bw: fdatasync: %s\n", strerror(errno));
        goto out_close;
    }
    secs = lg_now_s() - t0;
    printf("RESULT limit=disk flush=%s block=%zu mb_s=%.1f bytes=%llu secs=%.3f\n",
           o->durable ? "always" : "os", o->block, (double)off / secs / 1e6,
           (unsigned long long)off, secs);
    rc = 0;
out_close:
    close(fd);
    unlink(path);
out:
    free(buf);
    return rc;
}

/* --overwrite: the whole file written and synced, then reopened with
 * O_DIRECT (the buffer is block-aligned). */
static int prepare_overwrite(const struct opts *o, const char *path, int *fd, char *buf)
{
    for (uint64_t i = 0; i < o->count; i++)
        if (write_block(*fd, buf, o->block, i * o->block))
            return -1;
    if (fdatasync(*fd)) {
        fprintf(stderr, "machine_bw: fdatasync: %s\n", strerror(errno));
        return -1;
    }
    close(*fd);
    *fd = open(path, O_RDWR | O_DIRECT);
    if (*fd < 0) {
        fprintf(stderr, "machine_bw: O_DIRECT: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static int run_fsync(const struct opts *o)
{
    static struct hist h;
    char path[4096], *buf = NULL;
    int fd, rc = 1;

    if (posix_memalign((void **)&buf, 4096, o->block) != 0)
        return 1;
    memset(buf, 0x3c, o->block);
    hist_init(&h);
    fd = open_scratch(o->dir, path, sizeof(path));
    if (fd < 0)
        goto out;
    if (o->overwrite && prepare_overwrite(o, path, &fd, buf) < 0)
        goto out_close;
    double t_end = lg_now_s() + o->seconds;
    for (uint64_t i = 0; i < o->count && lg_now_s() < t_end; i++) {
        uint64_t t0 = lg_now_ns();
        if (write_block(fd, buf, o->block, i * o->block))
            goto out_close;
        if (fdatasync(fd)) {
            fprintf(stderr, "machine_bw: fdatasync: %s\n", strerror(errno));
            goto out_close;
        }
        hist_record(&h, lg_now_ns() - t0);
    }
    printf("RESULT limit=fsync block=%zu overwrite=%d count=%llu p50_us=%.1f p99_us=%.1f "
           "max_us=%.1f\n", o->block, o->overwrite, (unsigned long long)h.total,
           hist_percentile(&h, 50) / 1e3,
           hist_percentile(&h, 99) / 1e3, hist_percentile(&h, 100) / 1e3);
    rc = 0;
out_close:
    if (fd >= 0)
        close(fd);
    unlink(path);
out:
    free(buf);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: machine_bw memcpy|disk|fsync [--dir D] [--flush os|always]\n"
               "       [--block BYTES] [--bytes N] [--count N] [--seconds S] [--overwrite]\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "flush", required_argument, NULL, 'f' },
        { "block", required_argument, NULL, 'b' },
        { "bytes", required_argument, NULL, 'n' },
        { "count", required_argument, NULL, 'c' },
        { "seconds", required_argument, NULL, 's' },
        { "overwrite", no_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    uint64_t v;
    int c;

    *o = (struct opts){ .dir = ".", .block = 0, .bytes = 1ull << 30,
                        .count = 1000, .seconds = 5 };
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'f':
            if (strcmp(optarg, "os") && strcmp(optarg, "always"))
                return -1;
            o->durable = !strcmp(optarg, "always");
            break;
        case 'b':
            if (lg_parse_count(optarg, &v) || v < 1 || v > MAX_BLOCK)
                return -1;
            o->block = (size_t)v;
            break;
        case 'n': if (lg_parse_count(optarg, &o->bytes)) return -1; break;
        case 'c': if (lg_parse_count(optarg, &o->count)) return -1; break;
        case 's':
            o->seconds = strtod(optarg, NULL);
            if (!(o->seconds > 0))
                return -1;
            break;
        case 'o': o->overwrite = true; break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (optind + 1 != argc)
        return -1;
    o->what = argv[optind];
    if (!o->block)
        o->block = !strcmp(o->what, "fsync") ? 4096 : 1u << 20;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;

    if (parse_opts(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(o.what, "memcpy"))
        return run_memcpy(&o);
    if (!strcmp(o.what, "disk"))
        return run_disk(&o);
    if (!strcmp(o.what, "fsync"))
        return run_fsync(&o);
    usage(stderr);
    return 2;
}
