/* loopback_bw.c - the machine's loopback TCP bandwidth, the limit a
 * consumer fetching from a broker on the same host is compared with.
 *
 * A sender thread writes 1 MiB buffers over one TCP connection on
 * 127.0.0.1 to a receiver thread that reads them into a 1 MiB buffer and
 * throws them away: the same path as a broker's fetch response reaching a
 * client (socket buffers at their defaults, kernel autotuning on, the
 * scheduler free to place the two threads). Timed at the receiver from the
 * first byte to the last. Each repetition sends for --seconds (or --bytes),
 * on a fresh connection; the figure is the median over --reps.
 *
 * Every loop is bounded: the sender stops at the byte count or the time
 * limit, and a receive that sees nothing for STALL_TIMEOUT_S fails.
 *
 * The last line printed is machine-readable:
 *   RESULT loopback_mb_s=... loopback_gb_s=... min_mb_s=... max_mb_s=... reps=...
 * (MB = 10^6 bytes, GB = 10^9.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_BYTES (1u << 20)
#define MAX_REPS 16
#define STALL_TIMEOUT_S 10.0
#define MB 1e6

struct opts {
    double seconds;
    uint64_t bytes;            /* 0: no byte limit */
    int reps;
};

struct sender {
    int fd;
    double seconds;
    uint64_t bytes;
    uint64_t sent;
    int err;                   /* positive errno */
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    uint8_t *buf = malloc(BUF_BYTES);
    if (!buf) {
        s->err = ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < BUF_BYTES; i++)
        buf[i] = (uint8_t)(i * 2654435761u >> 24);
    double deadline = mono_s() + s->seconds;
    while (s->bytes == 0 || s->sent < s->bytes) {
        size_t len = BUF_BYTES;
        if (s->bytes && s->bytes - s->sent < len)
            len = (size_t)(s->bytes - s->sent);
        ssize_t w = send(s->fd, buf, len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            s->err = errno;
            break;
        }
        s->sent += (uint64_t)w;
        if (mono_s() >= deadline)
            break;
    }
out:
    shutdown(s->fd, SHUT_WR);
    free(buf);
    return NULL;
}

/* One connection's worth: returns MB/s, or a negative errno. */
static double run_once(const struct opts *o, uint64_t *received)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t alen = sizeof(a);
    int lfd = -1, cfd = -1, rfd = -1;
    uint8_t *buf = NULL;
    double rc = -EIO;
    pthread_t th;
    bool started = false;
    struct sender s = { .fd = -1, .seconds = o->seconds, .bytes = o->bytes };

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
        goto sys_err;
    cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (cfd < 0 || connect(cfd, (struct sockaddr *)&a, sizeof(a)) != 0)
        goto sys_err;
    rfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (rfd < 0)
        goto sys_err;
    buf = malloc(BUF_BYTES);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    s.fd = cfd;
    if (pthread_create(&th, NULL, sender_main, &s) != 0) {
        rc = -EAGAIN;
        goto out;
    }
    started = true;

    uint64_t got = 0;
    double t_first = 0, t_last = 0;
    for (;;) {
        struct pollfd pfd = { .fd = rfd, .events = POLLIN };
        int pr = poll(&pfd, 1, (int)(STALL_TIMEOUT_S * 1000));
        if (pr == 0) {
            fprintf(stderr, "loopback_bw: nothing received for %.0f s\n",
                    STALL_TIMEOUT_S);
            rc = -ETIMEDOUT;
            goto out;
        }
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            goto sys_err;
        }
        ssize_t r = recv(rfd, buf, BUF_BYTES, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            goto sys_err;
        }
        if (r == 0)
            break;
        if (got == 0)
            t_first = mono_s();
        got += (uint64_t)r;
        t_last = mono_s();
    }
    pthread_join(th, NULL);
    started = false;
    if (s.err) {
        fprintf(stderr, "loopback_bw: send: %s\n", strerror(s.err));
        goto out;
    }
    if (got != s.sent) {
        fprintf(stderr, "loopback_bw: sent %" PRIu64 " received %" PRIu64 "\n",
                s.sent, got);
        goto out;
    }
    *received = got;
    /* The first read's bytes arrived before t_first: leave them out. */
    rc = t_last > t_first ? (double)got / (t_last - t_first) / MB : 0;
    goto out;

sys_err:
    rc = -errno;
    fprintf(stderr, "loopback_bw: %s\n", strerror(errno));
out:
    if (started) {
        shutdown(rfd, SHUT_RDWR);
        pthread_join(th, NULL);
    }
    free(buf);
    if (rfd >= 0)
        close(rfd);
    if (cfd >= 0)
        close(cfd);
    if (lfd >= 0)
        close(lfd);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: loopback_bw [options]\n"
        "  --seconds S   per repetition (default 2.5)\n"
        "  --bytes N     stop each repetition after N MiB instead\n"
        "  --reps N      repetitions, median reported (default 3, max %d)\n"
        "  --quick       0.5 s, one repetition\n", MAX_REPS);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "seconds", required_argument, NULL, 's' },
        { "bytes", required_argument, NULL, 'b' },
        { "reps", required_argument, NULL, 'r' },
        { "quick", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct opts o = { .seconds = 2.5, .bytes = 0, .reps = 3 };
    double mbs[MAX_REPS];
    char *end;
    int c;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            o.seconds = strtod(optarg, &end);
            if (*end || !(o.seconds > 0) || o.seconds > 600)
                goto bad;
            break;
        case 'b': {
            unsigned long long mib = strtoull(optarg, &end, 10);
            if (*end || mib == 0 || mib > (1ull << 24))
                goto bad;
            o.bytes = mib << 20;
            o.seconds = 600;           /* the byte count decides */
            break;
        }
        case 'r':
            o.reps = (int)strtol(optarg, &end, 10);
            if (*end || o.reps < 1 || o.reps > MAX_REPS)
                goto bad;
            break;
        case 'q':
            o.seconds = 0.5;
            o.reps = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            goto bad;
        }
    }
    if (optind != argc)
        goto bad;

    printf("loopback_bw: TCP over 127.0.0.1, %u KiB writes, %d x %s\n",
           BUF_BYTES >> 10, o.reps, o.bytes ? "a byte count" : "a time limit");
    for (int r = 0; r < o.reps; r++) {
        uint64_t got = 0;
        double t0 = mono_s();
        mbs[r] = run_once(&o, &got);
        if (mbs[r] < 0)
            return 1;
        printf("  %8.1f MB/s  (%.0f MB in %.2f s)\n", mbs[r], (double)got / MB,
               mono_s() - t0);
        fflush(stdout);
    }
    qsort(mbs, (size_t)o.reps, sizeof(*mbs), cmp_double);
    double med = o.reps % 2 ? mbs[o.reps / 2]
                            : (mbs[o.reps / 2 - 1] + mbs[o.reps / 2]) / 2;
    printf("RESULT loopback_mb_s=%.1f loopback_gb_s=%.3f min_mb_s=%.1f "
           "max_mb_s=%.1f reps=%d\n", med, med / 1000, mbs[0],
           mbs[o.reps - 1], o.reps);
    return 0;
bad:
    usage(stderr);
    return 2;
}
