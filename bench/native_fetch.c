/* native_fetch.c - the broker's fetch rate without a client's overhead:
 * raw Fetch requests, responses read and their batch headers walked, no
 * record decoded. What is left is the broker's fetch path (file range to
 * socket) and the kernel's loopback, the same work loopback_bw measures.
 *
 * The partition leaders come from a Metadata request (native_wire.h); then
 * one TCP connection per partition to its leader, each with one Fetch v11
 * (librdkafka's version) in flight for that partition alone, from offset 0,
 * --partition-bytes at most, max_wait 100 ms. With --multi, as every Kafka
 * client does it: one connection per leader, one Fetch in flight on it
 * holding all of that leader's partitions (--partition-bytes each,
 * fetch.max.bytes = --partition-bytes x partitions, at most 64 MiB). The default, 1 MiB, is the
 * Kafka clients' max.partition.fetch.bytes, and keeps the response buffer
 * in cache like loopback_bw's 1 MiB receive buffer (16 MiB fetches ran
 * ~25% slower here: the client's copy then misses the cache). Each
 * response is read whole into one buffer (one copy, like any client),
 * then checked:
 * correlation id, topic, partition, error code 0, and the batches in it
 * contiguous from the offset asked (a trailing partial batch, which a
 * broker may send at the size limit, is left for the next fetch). With
 * --check-crc every batch's CRC32C is verified too.
 *
 * Stops after --count records in total, or at --seconds. Timed from the
 * first request to the response that completed the count. Rates: msgs/s,
 * MB/s of record values (records x --size, 10^6 bytes) like the other
 * tools, and wire MB/s (response bytes on the socket). The topic must
 * exist; its own partition count is used and reported (--partitions is
 * not used, nor --window: one fetch per partition is in flight).
 *
 *   native_fetch --mode consume --target H:P --topic T --size 1024 --count 1M
 *                [--partition-bytes 1M] [--check-crc] [--multi]
 *   native_fetch --selftest F.req   re-encode a client's Fetch v11 frame
 *
 * Options and the RESULT line are loadgen.h's (system=native mode=consume,
 * plus wire_mb_s= gaps= crc_errors= empty_fetches=); --mode must be
 * consume.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "storage/batch.h"
#include "loadgen.h"
#include "native_wire.h"

#define CLIENT_ID "native_fetch"
#define FETCH_KEY 1
#define FETCH_VERSION 11
#define MAX_WAIT_MS 100
#define REQ_MAX 65536            /* a Fetch of every partition of a leader */
#define MULTI_MAX_BYTES (64 << 20)
#define FRAME_SLACK (1 << 20)  /* response overhead and one oversized batch */
#define MAX_ERRORS_SHOWN 5
#define DISCOVER_TIMEOUT_S 20.0
#define STALL_TIMEOUT_S 30.0
#define MB 1e6

struct fetch_opts {
    struct lg_opts lg;         /* target, topic, size, count, seconds */
    int32_t partition_bytes;
    bool check_crc;
    bool multi;                /* one connection and Fetch per leader */
    const char *selftest;
};

struct conn {
    int fd;
    int nparts;                /* partitions this connection fetches */
    int32_t *partitions;
    int64_t *offsets;          /* next to fetch, per partition */
    int32_t max_bytes;         /* of one Fetch */
    int32_t corr;
    uint8_t req[REQ_MAX];
    size_t req_len, req_off;   /* request being written */
    bool in_flight;
    uint8_t *buf;              /* one response frame */
    size_t cap, have, need;    /* need: 4, then 4 + frame size */
};

struct fetcher {
    const struct fetch_opts *o;
    struct conn *conns;
    int nconns;
    int ep;
    uint64_t records;
    uint64_t wire_bytes;
    uint64_t errors, gaps, crc_errors, empty;
    double t_done;
};

/* ---- encoding ---------------------------------------------------------- */

static size_t encode_fetch(uint8_t *buf, size_t cap, const char *client_id,
                           int32_t corr, int32_t max_wait, int32_t max_bytes,
                           int8_t isolation, const char *topic, int nparts,
                           const int32_t *partitions, const int64_t *offsets,
                           int32_t partition_bytes)
{
    struct nw_wr w = { buf, buf + cap, false };
    nw_put_i32(&w, 0);                 /* size, below */
    nw_put_i16(&w, FETCH_KEY);
    nw_put_i16(&w, FETCH_VERSION);
    nw_put_i32(&w, corr);
    nw_put_str(&w, client_id);
    nw_put_i32(&w, -1);                /* replica_id */
    nw_put_i32(&w, max_wait);
    nw_put_i32(&w, 1);                 /* min_bytes */
    nw_put_i32(&w, max_bytes);
    nw_put_i8(&w, isolation);
    nw_put_i32(&w, 0);                 /* session_id: no session */
    nw_put_i32(&w, -1);                /* session_epoch: full fetch */
    nw_put_i32(&w, 1);                 /* topics */
    nw_put_str(&w, topic);
    nw_put_i32(&w, nparts);            /* partitions */
    for (int i = 0; i < nparts; i++) {
        nw_put_i32(&w, partitions[i]);
        nw_put_i32(&w, -1);            /* current_leader_epoch */
        nw_put_i64(&w, offsets[i]);
        nw_put_i64(&w, -1);            /* log_start_offset */
        nw_put_i32(&w, partition_bytes);
    }
    nw_put_i32(&w, 0);                 /* forgotten_topics_data */
    nw_put_str(&w, "");                /* rack_id */
    if (w.overflow)
        return 0;
    size_t len = (size_t)(w.p - buf);
    nw_store_be32(buf, (uint32_t)(len - 4));
    return len;
}

/* Decodes a client's one-partition Fetch v11 frame, encodes the same
 * request and compares the bytes. */
static int selftest(const char *path)
{
    static uint8_t frame[1 << 16], mine[REQ_MAX];
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "native_fetch: %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t n = fread(frame, 1, sizeof(frame), f);
    fclose(f);

    struct nw_rd r = { frame, frame + n, false };
    char client_id[256], topic[NW_NAME_MAX];
    const char *s;
    int slen;
    uint32_t size = (uint32_t)nw_get_i32(&r);
    int16_t key = nw_get_i16(&r), ver = nw_get_i16(&r);
    int32_t corr = nw_get_i32(&r);
    nw_get_str(&r, &s, &slen);
    snprintf(client_id, sizeof(client_id), "%.*s", slen < 0 ? 0 : slen, s);
    int32_t replica = nw_get_i32(&r);
    int32_t max_wait = nw_get_i32(&r);
    int32_t min_bytes = nw_get_i32(&r);
    int32_t max_bytes = nw_get_i32(&r);
    int8_t isolation = nw_get_i8(&r);
    int32_t session = nw_get_i32(&r), epoch = nw_get_i32(&r);
    int32_t ntopics = nw_get_i32(&r);
    nw_get_str(&r, &s, &slen);
    snprintf(topic, sizeof(topic), "%.*s", slen < 0 ? 0 : slen, s);
    int32_t nparts = nw_get_i32(&r);
    int32_t partition = nw_get_i32(&r);
    int32_t leader_epoch = nw_get_i32(&r);
    int64_t offset = nw_get_i64(&r);
    int64_t log_start = nw_get_i64(&r);
    int32_t part_bytes = nw_get_i32(&r);
    if (r.err || size + 4 != n || key != FETCH_KEY || ver != FETCH_VERSION ||
        replica != -1 || min_bytes != 1 || session != 0 || epoch != -1 ||
        ntopics != 1 || nparts != 1 || leader_epoch != -1 || log_start != -1) {
        fprintf(stderr, "native_fetch: %s is not a one-partition, "
                "sessionless Fetch v11 frame\n", path);
        return 1;
    }
    size_t ml = encode_fetch(mine, sizeof(mine), client_id, corr, max_wait,
                             max_bytes, isolation, topic, 1, &partition, &offset,
                             part_bytes);
    printf("selftest %s: client_id=%s corr=%d max_wait=%d max_bytes=%d "
           "isolation=%d topic=%s partition=%d offset=%" PRId64
           " partition_max_bytes=%d\n", path, client_id, corr, max_wait,
           max_bytes, isolation, topic, partition, offset, part_bytes);
    if (ml != n || memcmp(mine, frame, n)) {
        printf("  MISMATCH (ours %zu B, theirs %zu B)\n", ml, n);
        for (size_t i = 0; i < ml && i < n; i++)
            if (mine[i] != frame[i]) {
                printf("  first difference at byte %zu: %02x vs %02x\n", i,
                       mine[i], frame[i]);
                break;
            }
        return 1;
    }
    printf("  identical (%zu B)\n", n);
    return 0;
}

/* ---- the run ----------------------------------------------------------- */

static void conn_queue_fetch(struct fetcher *f, struct conn *c)
{
    c->corr++;
    c->req_len = encode_fetch(c->req, sizeof(c->req), CLIENT_ID, c->corr,
                              MAX_WAIT_MS, c->max_bytes, 0, f->o->lg.topic,
                              c->nparts, c->partitions, c->offsets,
                              f->o->partition_bytes);
    c->req_off = 0;
    c->in_flight = true;
    c->have = 0;
    c->need = 4;
}

/* Writes the rest of the request (~100 bytes: one write in practice). */
static int conn_send(struct conn *c)
{
    while (c->req_off < c->req_len) {
        ssize_t w = write(c->fd, c->req + c->req_off, c->req_len - c->req_off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return -errno;
        }
        c->req_off += (size_t)w;
    }
    return 0;
}

/* Walks the records of c's partition k: contiguous batches from its offset.
 * Returns the records taken. */
static uint64_t take_records(struct fetcher *f, struct conn *c, int k,
                             const uint8_t *p, size_t len)
{
    int64_t *offset = &c->offsets[k];
    uint64_t n = 0;
    size_t pos = 0;
    while (len - pos >= BATCH_HEADER_SIZE) {
        struct batch_header h;
        batch_header_decode(p + pos, &h);
        if (h.length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD)
            break;
        size_t bsz = batch_size(&h);
        if (len - pos < bsz)
            break;                      /* partial: fetched again next time */
        if (batch_last_offset(&h) < *offset) {
            pos += bsz;                 /* starts before the offset asked */
            continue;
        }
        if (h.base_offset > *offset) {
            if (f->gaps < MAX_ERRORS_SHOWN)
                fprintf(stderr, "native_fetch: partition %d: batch at %"
                        PRId64 ", expected %" PRId64 "\n", c->partitions[k],
                        h.base_offset, *offset);
            f->gaps += (uint64_t)(h.base_offset - *offset);
        }
        if (f->o->check_crc && !batch_crc_ok(p + pos, bsz))
            f->crc_errors++;
        int64_t first = h.base_offset > *offset ? h.base_offset : *offset;
        n += (uint64_t)(batch_last_offset(&h) - first + 1);
        *offset = batch_last_offset(&h) + 1;
        pos += bsz;
    }
    return n;
}

/* Which of c's partitions id is, or -1. */
static int conn_part(const struct conn *c, int32_t id)
{
    for (int k = 0; k < c->nparts; k++)
        if (c->partitions[k] == id)
            return k;
    return -1;
}

static int response_error(struct fetcher *f, struct conn *c, const char *what, int32_t corr,
                          int16_t top_err, int16_t err, size_t len)
{
    if (f->errors < MAX_ERRORS_SHOWN)
        fprintf(stderr, "native_fetch: partitions %d.. offset %" PRId64
                ": %s (corr %d, error %d/%d, %zu B)\n", c->partitions[0],
                c->offsets[0], what, corr, top_err, err, len);
    f->errors++;
    return -EPROTO;
}

/* Checks one Fetch v11 response (without its size prefix): one topic,
 * each of the connection's partitions at most once. */
static int on_response(struct fetcher *f, struct conn *c, const uint8_t *p,
                       size_t len)
{
    struct nw_rd r = { p, p + len, false };
    const char *name;
    int nlen;
    int32_t corr = nw_get_i32(&r);
    nw_get_i32(&r);                          /* throttle_time_ms */
    int16_t top_err = nw_get_i16(&r);
    nw_get_i32(&r);                          /* session_id */
    int32_t ntopics = nw_get_i32(&r);
    nw_get_str(&r, &name, &nlen);
    int32_t nparts = nw_get_i32(&r);
    if (r.err || corr != c->corr || top_err || ntopics != 1 || nparts < 1 ||
        nparts > c->nparts || nlen != (int)strlen(f->o->lg.topic) ||
        memcmp(name, f->o->lg.topic, (size_t)nlen))
        return response_error(f, c, r.err ? "malformed" : corr != c->corr
                                  ? "correlation id mismatch" : top_err
                                  ? nw_err_name(top_err) : "for another topic",
                              corr, top_err, 0, len);
    uint64_t total = 0;
    for (int32_t i = 0; i < nparts; i++) {
        int32_t part = nw_get_i32(&r);
        int16_t err = nw_get_i16(&r);
        nw_skip(&r, 3 * 8);                  /* hw, lso, log start */
        int32_t naborted = nw_get_i32(&r);
        if (naborted > 0)
            nw_skip(&r, (size_t)naborted * 16);
        nw_get_i32(&r);                      /* preferred_read_replica */
        int32_t rlen = nw_get_i32(&r);
        int k = conn_part(c, part);
        if (r.err || (rlen > 0 && r.end - r.p < rlen) || k < 0 || err)
            return response_error(f, c, r.err || rlen > r.end - r.p ? "malformed"
                                  : k < 0 ? "for another partition" : nw_err_name(err),
                                  corr, 0, err, len);
        if (rlen > 0) {
            total += take_records(f, c, k, r.p, (size_t)rlen);
            r.p += rlen;
        }
    }
    if (r.p != r.end)
        return response_error(f, c, "trailing bytes", corr, 0, 0, len);
    if (total == 0)
        f->empty++;
    f->records += total;
    return 0;
}

/* Reads what is there; on a complete frame checks it and asks for more. */
static int conn_recv(struct fetcher *f, struct conn *c)
{
    for (;;) {
        ssize_t r = read(c->fd, c->buf + c->have, c->need - c->have);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return -errno;
        }
        if (r == 0)
            return -EPIPE;
        c->have += (size_t)r;
        f->wire_bytes += (uint64_t)r;
        if (c->have < c->need)
            continue;
        if (c->need == 4) {
            uint32_t fl = nw_be32(c->buf);
            if (fl + 4 > c->cap || fl < 4) {
                fprintf(stderr, "native_fetch: partition %d: a %u-byte "
                        "response frame\n", c->partitions[0], fl);
                return -EPROTO;
            }
            c->need = 4 + fl;
            continue;
        }
        if (!c->in_flight)
            return -EPROTO;             /* an answer nobody asked for */
        c->in_flight = false;
        int rc = on_response(f, c, c->buf + 4, c->need - 4);
        if (rc)
            return rc;
        if (f->records >= f->o->lg.count) {
            if (f->t_done == 0)
                f->t_done = nw_mono_s();
            return 0;
        }
        conn_queue_fetch(f, c);
        return conn_send(c);
    }
}

/* The index in t->parts of c's first partition. */
static int conn_first(const struct conn *c, const struct nw_topic *t)
{
    for (int i = 0; i < t->n; i++)
        if (t->parts[i].id == c->partitions[0])
            return i;
    return 0;
}

static int run(const struct fetch_opts *o, const struct nw_topic *t,
               struct fetcher *f, bool *time_limited)
{
    f->conns = calloc((size_t)t->n, sizeof(*f->conns));
    f->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!f->conns || f->ep < 0)
        return -ENOMEM;
    /* A connection per partition, or (--multi) per leader. */
    for (int i = 0; i < t->n; i++) {
        const struct nw_partition *p = &t->parts[i];
        struct conn *c = NULL;
        for (int j = 0; o->multi && j < f->nconns; j++)
            if (t->parts[conn_first(&f->conns[j], t)].leader == p->leader)
                c = &f->conns[j];
        if (!c) {
            c = &f->conns[f->nconns++];
            c->fd = -1;
            c->partitions = calloc((size_t)t->n, sizeof(*c->partitions));
            c->offsets = calloc((size_t)t->n, sizeof(*c->offsets));
            if (!c->partitions || !c->offsets)
                return -ENOMEM;
        }
        c->partitions[c->nparts++] = p->id;
    }
    for (int j = 0; j < f->nconns; j++) {
        struct conn *c = &f->conns[j];
        const struct nw_partition *p = &t->parts[conn_first(c, t)];
        int64_t want = (int64_t)o->partition_bytes * c->nparts;
        c->max_bytes = (int32_t)(want < MULTI_MAX_BYTES ? want : MULTI_MAX_BYTES);
        c->cap = (size_t)c->max_bytes + (size_t)c->nparts * FRAME_SLACK;
        c->buf = malloc(c->cap);
        if (!c->buf)
            return -ENOMEM;
        c->fd = nw_connect(p->host, p->port, true);
        if (c->fd < 0) {
            fprintf(stderr, "native_fetch: connect %s:%d (partition %d): %s\n",
                    p->host, p->port, p->id, strerror(-c->fd));
            return c->fd;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(f->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
            return -errno;
    }
    printf("  %d connections (%d leaders), one Fetch v%d in flight each, of %s, "
           "%d B per partition\n", f->nconns, t->brokers, FETCH_VERSION,
           o->multi ? "all of the leader's partitions" : "one partition",
           o->partition_bytes);
    fflush(stdout);

    double t0 = nw_mono_s(), deadline = t0 + o->lg.seconds, last_progress = t0;
    uint64_t last_bytes = 0;
    for (int i = 0; i < f->nconns; i++) {
        conn_queue_fetch(f, &f->conns[i]);
        int rc = conn_send(&f->conns[i]);
        if (rc)
            return rc;
    }
    while (f->records < o->lg.count) {
        struct epoll_event evs[64];
        int n = epoll_wait(f->ep, evs, 64, 100);
        if (n < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < n && f->records < o->lg.count; i++) {
            struct conn *c = evs[i].data.ptr;
            int rc = conn_recv(f, c);
            if (rc) {
                fprintf(stderr, "native_fetch: partition %d at offset %" PRId64
                        ": %s\n", c->partitions[0], c->offsets[0],
                        rc == -EPIPE ? "the broker closed the connection"
                                     : strerror(-rc));
                return rc;
            }
        }
        double now = nw_mono_s();
        if (now >= deadline) {
            *time_limited = true;
            break;
        }
        if (f->wire_bytes != last_bytes) {
            last_bytes = f->wire_bytes;
            last_progress = now;
        } else if (now - last_progress > STALL_TIMEOUT_S) {
            fprintf(stderr, "native_fetch: nothing received for %.0f s\n",
                    STALL_TIMEOUT_S);
            return -ETIMEDOUT;
        }
    }
    if (f->t_done == 0)
        f->t_done = nw_mono_s();
    f->t_done -= t0;
    return 0;
}

static void fetcher_free(struct fetcher *f)
{
    for (int i = 0; f->conns && i < f->nconns; i++) {
        if (f->conns[i].fd >= 0)
            close(f->conns[i].fd);
        free(f->conns[i].buf);
        free(f->conns[i].partitions);
        free(f->conns[i].offsets);
    }
    free(f->conns);
    if (f->ep >= 0)
        close(f->ep);
}

/* ---- options ----------------------------------------------------------- */

enum { OPT_PARTITION_BYTES = 256, OPT_CHECK_CRC, OPT_SELFTEST, OPT_MULTI };

static const struct option fetch_longopts[] = {
    { "partition-bytes", required_argument, NULL, OPT_PARTITION_BYTES },
    { "check-crc", no_argument, NULL, OPT_CHECK_CRC },
    { "selftest", required_argument, NULL, OPT_SELFTEST },
    { "multi", no_argument, NULL, OPT_MULTI },
    { NULL, 0, NULL, 0 },
};

static const char fetch_usage[] =
    "  --partition-bytes B    per fetch (default 1M, as Kafka clients)\n"
    "  --check-crc            verify every batch's CRC32C\n"
    "  --selftest FILE        compare our encoding with a Fetch v11 frame\n"
    "  --multi                one Fetch of all of a leader's partitions per\n"
    "                         connection, as Kafka clients fetch\n";

static int take_fetch_opt(int code, const char *arg, void *ctx)
{
    struct fetch_opts *fo = ctx;
    uint64_t v;

    switch (code) {
    case OPT_PARTITION_BYTES:
        if (lg_parse_count(arg, &v) || v < 4096 || v > (256u << 20))
            return -1;
        fo->partition_bytes = (int32_t)v;
        return 0;
    case OPT_CHECK_CRC:
        fo->check_crc = true;
        return 0;
    case OPT_SELFTEST:
        fo->selftest = arg;
        return 0;
    case OPT_MULTI:
        fo->multi = true;
        return 0;
    default:
        return -1;
    }
}

static int parse_opts(int argc, char **argv, struct fetch_opts *fo)
{
    const struct lg_extra extra = { fetch_longopts, take_fetch_opt, fo,
                                    fetch_usage };

    *fo = (struct fetch_opts){ .partition_bytes = 1 << 20 };
    if (lg_opts_parse("native_fetch", argc, argv, &fo->lg, &extra))
        return -1;
    if (!fo->selftest && strcmp(fo->lg.mode, "consume")) {
        fprintf(stderr, "native_fetch: it only reads: --mode consume\n");
        return -1;
    }
    return 0;
}

/* ---- main -------------------------------------------------------------- */

/* Prints the summary and the RESULT line; returns whether the run passed. */
static bool report(struct fetch_opts *fo, const struct fetcher *f,
                   const struct nw_topic *t, bool time_limited, double cpu)
{
    const struct lg_opts *o = &fo->lg;
    double secs = f->t_done;
    uint64_t msgs = f->records < o->count ? f->records : o->count;
    uint64_t bytes = msgs * o->size;
    double msgs_s = secs > 0 ? (double)msgs / secs : 0;
    double mb_s = secs > 0 ? (double)bytes / secs / MB : 0;
    double wire_mb_s = secs > 0 ? (double)f->wire_bytes / secs / MB : 0;

    printf("  %" PRIu64 " msgs, %.1f MB in %.3f s: %.0f msgs/s, %.1f MB/s "
           "(wire %.1f MB/s); %" PRIu64 " errors, %" PRIu64 " gaps, %" PRIu64
           " CRC errors, %" PRIu64 " empty fetches%s; client CPU %.2f s\n",
           msgs, (double)bytes / MB, secs, msgs_s, mb_s, wire_mb_s, f->errors,
           f->gaps, f->crc_errors, f->empty,
           time_limited ? " [time limit]" : "", cpu);
    fo->lg.partitions = t->n;
    lg_report_begin("native", o);
    lg_report_rate(msgs, bytes, secs, f->errors + f->crc_errors, time_limited,
                   cpu);
    lg_report_f("wire_mb_s", wire_mb_s);
    lg_report_u64("gaps", f->gaps);
    lg_report_u64("crc_errors", f->crc_errors);
    lg_report_u64("empty_fetches", f->empty);
    lg_report_u64("connections", (uint64_t)f->nconns);
    lg_report_u64("multi", fo->multi);
    lg_report_end();
    return f->errors == 0 && f->gaps == 0 && f->crc_errors == 0 &&
           msgs == o->count && !time_limited;
}

int main(int argc, char **argv)
{
    struct fetch_opts fo;
    struct nw_topic t;
    struct fetcher f = { .ep = -1 };
    bool time_limited = false, pass = false;

    if (parse_opts(argc, argv, &fo))
        return 2;
    if (fo.selftest)
        return selftest(fo.selftest);
    f.o = &fo;
    printf("native_fetch: %" PRIu64 " records of %zu B from %s on %s%s\n",
           fo.lg.count, fo.lg.size, fo.lg.topic, fo.lg.target,
           fo.check_crc ? ", CRCs checked" : "");
    fflush(stdout);
    if (nw_discover(fo.lg.target, fo.lg.topic, DISCOVER_TIMEOUT_S, &t))
        return 1;
    double cpu0 = lg_cpu_s();
    int rc = run(&fo, &t, &f, &time_limited);
    double cpu = lg_cpu_s() - cpu0;
    if (rc)
        fprintf(stderr, "native_fetch: failed: %s\n", strerror(-rc));
    else
        pass = report(&fo, &f, &t, time_limited, cpu);
    fetcher_free(&f);
    nw_topic_free(&t);
    return pass ? 0 : 1;
}
