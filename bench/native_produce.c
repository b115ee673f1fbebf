/* native_produce.c - the broker's produce ceiling without a client's
 * overhead: pre-encoded Produce requests, pipelined on raw sockets.
 *
 * The partition leaders come from a Metadata request (librdkafka's metadata
 * API, see native_wire.h); then one TCP connection per partition to its
 * leader (the shard that owns it), each carrying Produce v7 requests of one
 * topic, one partition and one RecordBatch v2 of ~--batch-bytes (64 KiB) of
 * --size byte records, built once with storage/batch_build.h and sent again
 * and again (the broker rewrites baseOffset in its own copy; the CRC does
 * not cover it). Only the correlation id changes between requests: each
 * request is a small per-slot header plus the shared batch, sent with
 * writev, --depth (64) requests in flight per connection, all connections
 * driven by one thread on epoll.
 *
 * Every response is checked: its correlation id (in order), topic and
 * partition, error code 0, and base offsets advancing by exactly the
 * records of each batch. Timed from the first request to the last
 * response. Rates: msgs/s, and MB/s of record values (10^6 bytes) like
 * kafka_bench; the wire rate is printed too.
 *
 * Bounded by --count messages and --seconds; outstanding requests then get
 * DRAIN_TIMEOUT_S, and no progress for STALL_TIMEOUT_S fails the run.
 *
 * The topic: against a broker it is created with --partitions partitions
 * (replication 1, nw_create_topic: librdkafka's Admin API) unless it
 * exists; the partition count it really has is used and reported. With
 * --mock, librdkafka's mock cluster gets it with --partitions partitions.
 *
 *   native_produce --target H:P --topic T --partitions N --size 100
 *                  --count 10M [--acks 1|all] [--depth 64] [--batch-bytes B]
 *   native_produce --mock ...        against librdkafka's mock cluster
 *   native_produce --selftest F.req  re-encode a client's Produce v7 frame
 *                                    and compare byte for byte
 *
 * Options and the RESULT line are loadgen.h's (system=native mode=produce,
 * plus wire_mb_s= requests= offset_errors= acks=); --mode must be produce,
 * --window is not used (--depth is the pipelining, in requests).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "storage/batch.h"
#include "storage/batch_build.h"
#include "loadgen.h"
#include "native_wire.h"

#define CLIENT_ID "native_produce"
#define PRODUCE_KEY 0
#define PRODUCE_VERSION 7
#define TIMEOUT_MS 30000
#define HDR_MAX 512            /* request header up to the records length */
#define RX_BYTES (256 * 1024)
#define MAX_FRAME (1 << 20)    /* a Produce response is ~60 bytes */
#define IOV_REQS 32            /* requests per writev */
#define MAX_DEPTH 1024
#define MAX_ERRORS 100         /* stop sending after this many */
#define MAX_ERRORS_SHOWN 5
#define DISCOVER_TIMEOUT_S 20.0
#define DRAIN_TIMEOUT_S 60.0
#define CREATE_TIMEOUT_S 15.0
#define STALL_TIMEOUT_S 30.0
#define MB 1e6

struct produce_opts {
    struct lg_opts lg;         /* target, topic, partitions, size, count, seconds */
    int16_t acks;
    int depth;
    size_t batch_bytes;
    bool mock;
    const char *selftest;
};

struct conn {
    int fd;
    int32_t partition;
    uint64_t limit;            /* requests this connection sends */
    uint64_t sent;             /* requests written completely */
    size_t send_off;           /* bytes written of request `sent` */
    uint64_t acked;            /* responses received */
    uint64_t ok;               /* of which error code 0 */
    int64_t next_base;         /* expected base offset, -1: not known yet */
    bool want_out;             /* EPOLLOUT registered */
    uint8_t *hdrs;             /* depth slots of hdr_len bytes */
    uint8_t *rx;
    size_t rx_len;
};

struct gen {
    const struct produce_opts *o;
    struct conn *conns;
    int nconns;
    int ep;
    const uint8_t *batch;
    size_t batch_len;
    int32_t records;           /* per batch */
    size_t hdr_len;
    uint64_t errors;           /* error codes, bad answers */
    uint64_t offset_errors;
    uint64_t bytes_in, bytes_out;
    double t_last_ack;
};

/* ---- encoding ---------------------------------------------------------- */

/* The request up to and including the records' length prefix; the batch
 * bytes follow it on the wire. Returns its length, or 0 if it did not fit. */
static size_t encode_header(uint8_t *buf, size_t cap, const char *client_id,
                            int32_t corr, int16_t acks, int32_t timeout_ms,
                            const char *topic, int32_t partition,
                            size_t batch_len)
{
    struct nw_wr w = { buf, buf + cap, false };
    nw_put_i32(&w, 0);                 /* size, below */
    nw_put_i16(&w, PRODUCE_KEY);
    nw_put_i16(&w, PRODUCE_VERSION);
    nw_put_i32(&w, corr);
    nw_put_str(&w, client_id);
    nw_put_str(&w, NULL);              /* transactional_id */
    nw_put_i16(&w, acks);
    nw_put_i32(&w, timeout_ms);
    nw_put_i32(&w, 1);                 /* topics */
    nw_put_str(&w, topic);
    nw_put_i32(&w, 1);                 /* partitions */
    nw_put_i32(&w, partition);
    nw_put_i32(&w, (int32_t)batch_len);
    if (w.overflow)
        return 0;
    size_t len = (size_t)(w.p - buf);
    nw_store_be32(buf, (uint32_t)(len + batch_len - 4));
    return len;
}

#define CORR_OFFSET 8          /* size(4) api_key(2) api_version(2) */

/* One batch of records of size bytes, as many as fit in cap. */
static int build_batch(uint8_t *buf, size_t cap, size_t size, size_t *len,
                       int32_t *records)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    uint8_t *value = malloc(size ? size : 1);
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ size;
    struct batch_builder b;

    if (!value)
        return -ENOMEM;
    for (size_t i = 0; i < size; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        value[i] = (uint8_t)seed;
    }
    batch_builder_init(&b, buf, cap, now_ms);
    while (batch_builder_add(&b, now_ms, NULL, 0, value, size, NULL, 0) == 0)
        ;
    free(value);
    *len = batch_builder_finish(&b, 0);
    *records = b.count;
    if (*len == 0)
        return -EINVAL;
    int kerr = batch_validate(buf, *len, 0);
    if (kerr) {
        fprintf(stderr, "native_produce: built batch fails validation: %s\n",
                nw_err_name(kerr));
        return -EINVAL;
    }
    return 0;
}

/* Decodes a client's Produce v7 frame (one topic, one partition), encodes
 * the same request with encode_header and compares the bytes. */
static int selftest(const char *path)
{
    static uint8_t frame[1 << 20], mine[HDR_MAX];
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "native_produce: %s: %s\n", path, strerror(errno));
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
    nw_get_str(&r, &s, &slen);
    bool txn_null = slen < 0;
    int16_t acks = nw_get_i16(&r);
    int32_t timeout = nw_get_i32(&r);
    int32_t ntopics = nw_get_i32(&r);
    nw_get_str(&r, &s, &slen);
    snprintf(topic, sizeof(topic), "%.*s", slen < 0 ? 0 : slen, s);
    int32_t nparts = nw_get_i32(&r);
    int32_t partition = nw_get_i32(&r);
    int32_t rec_len = nw_get_i32(&r);
    if (r.err || size + 4 != n || key != PRODUCE_KEY || ver != PRODUCE_VERSION ||
        !txn_null || ntopics != 1 || nparts != 1 || rec_len < 0 ||
        (size_t)(r.end - r.p) != (size_t)rec_len) {
        fprintf(stderr, "native_produce: %s is not a one-partition, "
                "non-transactional Produce v7 frame\n", path);
        return 1;
    }
    size_t hl = encode_header(mine, sizeof(mine), client_id, corr, acks,
                              timeout, topic, partition, (size_t)rec_len);
    size_t theirs = (size_t)(r.p - frame);
    printf("selftest %s: client_id=%s corr=%d acks=%d timeout=%d topic=%s "
           "partition=%d records=%d B\n", path, client_id, corr, acks,
           timeout, topic, partition, rec_len);
    if (hl != theirs || memcmp(mine, frame, hl)) {
        printf("  header MISMATCH (ours %zu B, theirs %zu B)\n", hl, theirs);
        for (size_t i = 0; i < hl && i < theirs; i++)
            if (mine[i] != frame[i]) {
                printf("  first difference at byte %zu: %02x vs %02x\n", i,
                       mine[i], frame[i]);
                break;
            }
        return 1;
    }
    int kerr = batch_validate(r.p, (size_t)rec_len, 0);
    printf("  header identical (%zu B); their batch: %s\n", hl,
           kerr ? nw_err_name(kerr) : "valid");
    return kerr ? 1 : 0;
}

/* ---- connections ------------------------------------------------------- */

static void set_out(struct gen *g, struct conn *c, bool want)
{
    if (c->want_out == want)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0),
                              .data.ptr = c };
    epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

/* Writes what the window allows: requests sent..min(acked+depth, limit).
 * Returns 0 or a negative errno. */
static int conn_send(struct gen *g, struct conn *c)
{
    struct iovec iov[2 * IOV_REQS];
    size_t req_len = g->hdr_len + g->batch_len;

    for (;;) {
        uint64_t end = c->acked + (uint64_t)g->o->depth;
        if (end > c->limit)
            end = c->limit;
        if (c->sent >= end) {
            set_out(g, c, false);
            return 0;
        }
        int n = 0;
        size_t off = c->send_off;
        for (uint64_t k = c->sent; k < end && n < 2 * IOV_REQS; k++) {
            uint8_t *h = c->hdrs + (k % (uint64_t)g->o->depth) * g->hdr_len;
            nw_store_be32(h + CORR_OFFSET, (uint32_t)k);
            if (off < g->hdr_len) {
                iov[n].iov_base = h + off;
                iov[n++].iov_len = g->hdr_len - off;
                off = g->hdr_len;
            }
            iov[n].iov_base = (uint8_t *)g->batch + (off - g->hdr_len);
            iov[n++].iov_len = req_len - off;
            off = 0;
        }
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                set_out(g, c, true);
                return 0;
            }
            return -errno;
        }
        g->bytes_out += (uint64_t)w;
        size_t done = c->send_off + (size_t)w;
        c->sent += done / req_len;
        c->send_off = done % req_len;
    }
}

/* Checks one Produce v7 response frame (without its size prefix). */
static void on_response(struct gen *g, struct conn *c, const uint8_t *p,
                        size_t len)
{
    struct nw_rd r = { p, p + len, false };
    const char *name;
    int nlen;
    int32_t corr = nw_get_i32(&r);
    int32_t ntopics = nw_get_i32(&r);
    nw_get_str(&r, &name, &nlen);
    int32_t nparts = nw_get_i32(&r);
    int32_t part = nw_get_i32(&r);
    int16_t err = nw_get_i16(&r);
    int64_t base = nw_get_i64(&r);
    nw_get_i64(&r);                        /* log_append_time_ms */
    nw_get_i64(&r);                        /* log_start_offset */
    nw_get_i32(&r);                        /* throttle_time_ms */
    const char *what = NULL;

    if (r.err || r.p != r.end)
        what = "malformed (not a Produce v7 response of one partition)";
    else if ((uint32_t)corr != (uint32_t)c->acked)
        what = "correlation id out of order";
    else if (ntopics != 1 || nparts != 1 || part != c->partition ||
             nlen != (int)strlen(g->o->lg.topic) ||
             memcmp(name, g->o->lg.topic, (size_t)nlen))
        what = "for another topic or partition";
    else if (err)
        what = nw_err_name(err);
    c->acked++;
    if (what) {
        if (g->errors < MAX_ERRORS_SHOWN)
            fprintf(stderr, "native_produce: partition %d request %" PRIu64
                    ": %s (corr %d, error code %d, %zu B)\n", c->partition,
                    c->acked - 1, what, corr, err, len);
        g->errors++;
        return;
    }
    if (c->next_base >= 0 && base != c->next_base) {
        if (g->offset_errors < MAX_ERRORS_SHOWN)
            fprintf(stderr, "native_produce: partition %d: base offset %"
                    PRId64 ", expected %" PRId64 "\n", c->partition, base,
                    c->next_base);
        g->offset_errors++;
    }
    c->next_base = base + g->records;
    c->ok++;
    g->t_last_ack = nw_mono_s();
}

/* Reads what is there and checks every complete response. Returns 0 or a
 * negative errno (-EPIPE: the broker closed the connection). */
static int conn_recv(struct gen *g, struct conn *c)
{
    for (;;) {
        ssize_t r = read(c->fd, c->rx + c->rx_len, RX_BYTES - c->rx_len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return -errno;
        }
        if (r == 0)
            return -EPIPE;
        g->bytes_in += (uint64_t)r;
        c->rx_len += (size_t)r;
        size_t pos = 0;
        while (c->rx_len - pos >= 4) {
            uint32_t fl = nw_be32(c->rx + pos);
            if (fl > MAX_FRAME || fl + 4 > RX_BYTES) {
                fprintf(stderr, "native_produce: partition %d: a %u-byte "
                        "response frame\n", c->partition, fl);
                return -EPROTO;
            }
            if (c->rx_len - pos < 4 + (size_t)fl)
                break;
            on_response(g, c, c->rx + pos + 4, fl);
            pos += 4 + fl;
        }
        memmove(c->rx, c->rx + pos, c->rx_len - pos);
        c->rx_len -= pos;
    }
}

/* ---- the run ----------------------------------------------------------- */

static int run(const struct produce_opts *o, const struct nw_topic *t, struct gen *g,
               double *secs, bool *time_limited)
{
    static uint8_t batch[4 << 20];
    uint8_t hdr[HDR_MAX];
    int rc = 0;

    if (o->batch_bytes > sizeof(batch))
        return -EINVAL;
    size_t batch_len;
    rc = build_batch(batch, o->batch_bytes, o->lg.size, &batch_len, &g->records);
    if (rc)
        return rc;
    g->batch = batch;
    g->batch_len = batch_len;
    g->hdr_len = encode_header(hdr, sizeof(hdr), CLIENT_ID, 0, o->acks,
                               TIMEOUT_MS, o->lg.topic, 0, batch_len);
    if (g->hdr_len == 0)
        return -EINVAL;

    uint64_t reqs = (o->lg.count + (uint64_t)g->records - 1) / (uint64_t)g->records;
    g->nconns = t->n;
    g->conns = calloc((size_t)t->n, sizeof(*g->conns));
    g->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!g->conns || g->ep < 0)
        return -ENOMEM;
    for (int i = 0; i < t->n; i++) {
        struct conn *c = &g->conns[i];
        const struct nw_partition *p = &t->parts[i];
        c->fd = -1;
        c->partition = p->id;
        c->limit = reqs / (uint64_t)t->n + ((uint64_t)i < reqs % (uint64_t)t->n);
        c->next_base = -1;
        c->hdrs = malloc((size_t)o->depth * g->hdr_len);
        c->rx = malloc(RX_BYTES);
        if (!c->hdrs || !c->rx)
            return -ENOMEM;
        for (int k = 0; k < o->depth; k++) {
            size_t l = encode_header(c->hdrs + (size_t)k * g->hdr_len,
                                     g->hdr_len, CLIENT_ID, 0, o->acks,
                                     TIMEOUT_MS, o->lg.topic, p->id, batch_len);
            if (l != g->hdr_len)
                return -EINVAL;
        }
        c->fd = nw_connect(p->host, p->port, true);
        if (c->fd < 0) {
            fprintf(stderr, "native_produce: connect %s:%d (partition %d): "
                    "%s\n", p->host, p->port, p->id, strerror(-c->fd));
            return c->fd;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(g->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
            return -errno;
    }
    printf("  %d records/batch, %zu B/batch, %zu B/request, %" PRIu64
           " requests over %d connections (%d leaders), %d in flight each\n",
           g->records, batch_len, g->hdr_len + batch_len, reqs, t->n,
           t->brokers, o->depth);
    fflush(stdout);

    double t0 = nw_mono_s(), deadline = t0 + o->lg.seconds, drain_end = 0;
    double last_progress = t0;
    uint64_t last_bytes = 0;
    g->t_last_ack = t0;
    for (;;) {
        bool done = true;
        for (int i = 0; i < g->nconns; i++) {
            struct conn *c = &g->conns[i];
            if (g->errors >= MAX_ERRORS && c->limit > c->sent + (c->send_off > 0))
                c->limit = c->sent + (c->send_off > 0);
            rc = conn_send(g, c);
            if (rc) {
                fprintf(stderr, "native_produce: partition %d: send: %s\n",
                        c->partition, strerror(-rc));
                return rc;
            }
            done &= c->acked >= c->limit;
        }
        if (done)
            break;
        struct epoll_event evs[64];
        int n = epoll_wait(g->ep, evs, 64, 100);
        if (n < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                rc = conn_recv(g, c);
                if (rc) {
                    fprintf(stderr, "native_produce: partition %d: after %"
                            PRIu64 " responses (%" PRIu64 " requests sent): "
                            "%s\n", c->partition, c->acked, c->sent,
                            rc == -EPIPE ? "the broker closed the connection"
                                         : strerror(-rc));
                    return rc;
                }
            }
        }
        double now = nw_mono_s();
        if (now >= deadline && !*time_limited) {
            /* Finish the request being written, start no other. */
            *time_limited = true;
            for (int i = 0; i < g->nconns; i++) {
                struct conn *c = &g->conns[i];
                uint64_t lim = c->sent + (c->send_off > 0);
                if (lim < c->limit)
                    c->limit = lim;
            }
            drain_end = now + DRAIN_TIMEOUT_S;
        }
        if (drain_end > 0 && now >= drain_end) {
            fprintf(stderr, "native_produce: responses still missing %.0f s "
                    "after the time limit\n", DRAIN_TIMEOUT_S);
            return -ETIMEDOUT;
        }
        if (g->bytes_in + g->bytes_out != last_bytes) {
            last_bytes = g->bytes_in + g->bytes_out;
            last_progress = now;
        } else if (now - last_progress > STALL_TIMEOUT_S) {
            fprintf(stderr, "native_produce: no progress for %.0f s\n",
                    STALL_TIMEOUT_S);
            for (int i = 0; i < g->nconns; i++)
                fprintf(stderr, "  partition %d: sent %" PRIu64 " (+%zu B) "
                        "acked %" PRIu64 " of %" PRIu64 "\n",
                        g->conns[i].partition, g->conns[i].sent,
                        g->conns[i].send_off, g->conns[i].acked,
                        g->conns[i].limit);
            return -ETIMEDOUT;
        }
    }
    *secs = g->t_last_ack - t0;
    return 0;
}

static void gen_free(struct gen *g)
{
    for (int i = 0; g->conns && i < g->nconns; i++) {
        if (g->conns[i].fd >= 0)
            close(g->conns[i].fd);
        free(g->conns[i].hdrs);
        free(g->conns[i].rx);
    }
    free(g->conns);
    if (g->ep >= 0)
        close(g->ep);
}

/* ---- options ----------------------------------------------------------- */

enum { OPT_ACKS = 256, OPT_DEPTH, OPT_BATCH_BYTES, OPT_MOCK, OPT_SELFTEST };

static const struct option produce_longopts[] = {
    { "acks", required_argument, NULL, OPT_ACKS },
    { "depth", required_argument, NULL, OPT_DEPTH },
    { "batch-bytes", required_argument, NULL, OPT_BATCH_BYTES },
    { "mock", no_argument, NULL, OPT_MOCK },
    { "selftest", required_argument, NULL, OPT_SELFTEST },
    { NULL, 0, NULL, 0 },
};

static const char produce_usage[] =
    "  --acks 1|all       (default 1)\n"
    "  --depth D          requests in flight per connection (default 64)\n"
    "  --batch-bytes B    RecordBatch size (default 65536)\n"
    "  --mock             against librdkafka's mock cluster\n"
    "  --selftest FILE    compare our encoding with a Produce v7 frame\n";

static int take_produce_opt(int code, const char *arg, void *ctx)
{
    struct produce_opts *po = ctx;
    uint64_t v;

    switch (code) {
    case OPT_ACKS:
        return nw_parse_acks(arg, &po->acks);
    case OPT_DEPTH:
        if (lg_parse_count(arg, &v) || v < 1 || v > MAX_DEPTH)
            return -1;
        po->depth = (int)v;
        return 0;
    case OPT_BATCH_BYTES:
        if (lg_parse_count(arg, &v) || v < 256 || v > (4u << 20))
            return -1;
        po->batch_bytes = (size_t)v;
        return 0;
    case OPT_MOCK:
        po->mock = true;
        return 0;
    case OPT_SELFTEST:
        po->selftest = arg;
        return 0;
    default:
        return -1;
    }
}

static int parse_opts(int argc, char **argv, struct produce_opts *po)
{
    const struct lg_extra extra = { produce_longopts, take_produce_opt, po,
                                    produce_usage };

    *po = (struct produce_opts){ .acks = 1, .depth = 64, .batch_bytes = 65536 };
    if (lg_opts_parse("native_produce", argc, argv, &po->lg, &extra))
        return -1;
    if (strcmp(po->lg.mode, "produce")) {
        fprintf(stderr, "native_produce: --mode produce only\n");
        return -1;
    }
    return 0;
}

/* ---- the topic --------------------------------------------------------- */

/* The mock (with --mock) or a created topic, then its leaders. */
static int prepare_topic(struct produce_opts *po, void **mock, struct nw_topic *t)
{
    struct lg_opts *o = &po->lg;

    if (po->mock) {
        *mock = nw_mock_start(o->topic, o->partitions, &o->target);
        if (!*mock)
            return -1;
    } else if (nw_create_topic(o->target, o->topic, o->partitions,
                               CREATE_TIMEOUT_S)) {
        return -1;
    }
    if (nw_discover(o->target, o->topic, DISCOVER_TIMEOUT_S, t))
        return -1;
    if (t->n != o->partitions)
        printf("  topic %s exists with %d partitions (not %d): using %d\n",
               o->topic, t->n, o->partitions, t->n);
    o->partitions = t->n;
    return 0;
}

/* ---- main -------------------------------------------------------------- */

/* Prints the summary and the RESULT line; returns whether the run passed. */
static bool report(const struct produce_opts *po, const struct gen *g,
                   double secs, bool time_limited, double cpu)
{
    uint64_t ok = 0, reqs = 0;

    for (int i = 0; i < g->nconns; i++) {
        ok += g->conns[i].ok;
        reqs += g->conns[i].acked;
    }
    uint64_t msgs = ok * (uint64_t)g->records;
    uint64_t bytes = msgs * po->lg.size;
    double msgs_s = secs > 0 ? (double)msgs / secs : 0;
    double mb_s = secs > 0 ? (double)bytes / secs / MB : 0;
    double wire_mb_s = secs > 0 ? (double)g->bytes_out / secs / MB : 0;

    printf("  %" PRIu64 " msgs, %.1f MB in %.3f s: %.0f msgs/s, %.1f MB/s "
           "(wire %.1f MB/s); %" PRIu64 " errors, %" PRIu64 " offset "
           "errors%s; client CPU %.2f s\n", msgs, (double)bytes / MB, secs,
           msgs_s, mb_s, wire_mb_s, g->errors, g->offset_errors,
           time_limited ? " [time limit]" : "", cpu);
    lg_report_begin("native", &po->lg);
    lg_report_rate(msgs, bytes, secs, g->errors, time_limited, cpu);
    lg_report_f("wire_mb_s", wire_mb_s);
    lg_report_u64("requests", reqs);
    lg_report_u64("offset_errors", g->offset_errors);
    lg_report_str("acks", po->acks == 1 ? "1" : "all");
    lg_report_end();
    return g->errors == 0 && g->offset_errors == 0 && msgs > 0;
}

int main(int argc, char **argv)
{
    struct produce_opts po;
    struct nw_topic t = { .parts = NULL };
    struct gen g = { .ep = -1 };
    void *mock = NULL;
    double secs = 0;
    bool time_limited = false, pass = false;

    if (parse_opts(argc, argv, &po))
        return 2;
    if (po.selftest)
        return selftest(po.selftest);
    g.o = &po;
    printf("native_produce: %" PRIu64 " x %zu B to %s on %s, acks=%s, "
           "Produce v%d\n", po.lg.count, po.lg.size, po.lg.topic,
           po.mock ? "the mock cluster" : po.lg.target,
           po.acks == 1 ? "1" : "all", PRODUCE_VERSION);
    fflush(stdout);
    if (prepare_topic(&po, &mock, &t) == 0) {
        double cpu0 = lg_cpu_s();
        int rc = run(&po, &t, &g, &secs, &time_limited);
        double cpu = lg_cpu_s() - cpu0;
        if (rc)
            fprintf(stderr, "native_produce: failed: %s\n", strerror(-rc));
        else
            pass = report(&po, &g, secs, time_limited, cpu);
    }
    gen_free(&g);
    nw_topic_free(&t);
    nw_mock_stop(mock);
    return pass ? 0 : 1;
}
