/* native_latency.c - the broker's own latency, without a client library in
 * the way: open-loop Produce v7 on raw sockets, acks and deliveries timed
 * from each message's intended send time. The contract is kafka_bench
 * --mode latency's (loadgen.h); librdkafka's thread hand-offs cost ~100 us
 * per message at low rates, which hides the broker, and this does not.
 *
 *   native_latency --mode latency --target H:P --topic T --partitions N
 *                  --size S --rate R --seconds D [--warmup W]
 *                  [--acks 1|all] [--depth 512] [--in-flight N] [--hist-out PREFIX]
 *
 * Setup: the topic is created with N partitions (nw_create_topic), its
 * leaders found (nw_discover, loopback only), then per leader one produce
 * and one fetch connection; a ListOffsets (latest) on each fetch
 * connection gives every partition's log end before the first send, and
 * the fetcher tails from there, so nothing sent can be missed.
 *
 * --in-flight N: at most N messages unacknowledged, one per request (1: a
 * synchronous producer, Java's send().get()): --depth N, N per wake-up.
 *
 * Three threads:
 *   sender (main)  lg_pace_wait(); at each wake-up it takes every due
 *                  message (at most SEND_MSGS_MAX / SEND_BYTES_MAX),
 *                  stamps it (lg_stamp: intended time, sequence number),
 *                  puts message seq into partition seq % N's RecordBatch
 *                  (preallocated buffers, storage/batch_build.h), and
 *                  writes one Produce request per leader carrying all of
 *                  that leader's batches, without waiting for the answer.
 *                  The request is first put in its connection's in-flight
 *                  ring: the wake-up's sequence range [begin, end). The
 *                  ring holds --depth requests (default 512, what the
 *                  broker takes in flight per connection: more would only
 *                  queue in the socket); a full ring is waited out until
 *                  the run's deadline, and counted (inflight_full=); the
 *                  next wake-up then carries everything that fell due.
 *   acker          poll() over the produce connections; answers come in
 *                  order, each is matched to its ring entry (correlation
 *                  id), every partition's error code checked, and each
 *                  message acked is recorded: ack = now - intended.
 *   fetcher        one Fetch v11 long-poll per leader for all its
 *                  partitions (max_wait FETCH_MAX_WAIT_MS, min_bytes 1);
 *                  the batches and records are walked (varint framing),
 *                  the stamp is the first 16 bytes of the value: e2e = now
 *                  - intended, and per partition the sequence numbers must
 *                  come in order without gaps (errors= otherwise).
 *
 * Histograms skip the first --warmup seconds: ack, e2e, and lag (actual
 * send - intended). After the last intended time the run waits at most
 * LG_DRAIN_GRACE_S for every ack and delivery: kept_up=1 if all came. The
 * RESULT line is kafka_bench's latency one (system=native, plus acks= and
 * inflight_full=). Every wait is bounded (poll timeouts, deadlines). Exit
 * status 0 if there was no error (kept_up=0 is not one), 1 otherwise, 2
 * for bad options.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "storage/batch.h"
#include "storage/batch_build.h"
#include "loadgen.h"
#include "native_wire.h"

#define CLIENT_ID "native_latency"
#define PRODUCE_KEY 0
#define PRODUCE_VERSION 7
#define FETCH_KEY 1
#define FETCH_VERSION 11
#define LIST_OFFSETS_KEY 2
#define LIST_OFFSETS_VERSION 2
#define LATEST_TIMESTAMP (-1)
#define PRODUCE_TIMEOUT_MS 30000
#define FETCH_MAX_WAIT_MS 500
#define FETCH_PARTITION_BYTES (1 << 20)
#define FETCH_MAX_BYTES (8 << 20)
#define FETCH_FRAME_SLACK (1 << 20)  /* response overhead, one large batch */
#define SEND_MSGS_MAX 4096           /* most messages per wake-up */
#define SEND_BYTES_MAX (512 * 1024)  /* and their bytes: one batch stays
                                        under message.max.bytes (1 MB) */
#define RECORD_FRAMING_MAX 40        /* a record's bytes around its value */
#define HDR_MAX 512                  /* a request up to its partitions */
#define DEFAULT_DEPTH 512            /* requests in flight per connection */
#define MAX_DEPTH 65536
#define INFLIGHT_WAIT_NS 20000       /* re-check a full ring this often */
#define ACK_RX_BYTES (256 * 1024)    /* produce answers: ~34 B a partition */
#define IO_POLL_MS 100               /* threads look at `stop` this often */
#define SETUP_TIMEOUT_NS 5000000000ull
#define DRAIN_CHECK_NS 200000
#define CREATE_TIMEOUT_S 15.0
#define DISCOVER_TIMEOUT_S 20.0
#define MAX_ERRORS_SHOWN 5

struct latency_opts {
    struct lg_opts lg;
    int16_t acks;              /* 1 or -1 (all) */
    int depth;                 /* requests in flight per connection */
};

/* One partition leader (a shard) and the partitions it leads. */
struct leader {
    int32_t node;
    const char *host;
    int port;
    int32_t *parts;            /* ascending */
    int nparts;
};

/* A Produce request in flight: the messages of one wake-up [begin, end)
 * whose partitions this connection's leader leads (msgs of them). */
struct inflight {
    uint64_t begin, end;
    uint64_t msgs;
};

struct produce_conn {
    int fd;
    const struct leader *ld;
    struct inflight *ring;     /* --depth entries */
    _Atomic uint64_t head;     /* requests written: the sender's */
    _Atomic uint64_t tail;     /* answers taken: the acker's */
    uint8_t *rx;               /* the acker's receive buffer */
    size_t rx_len;
    bool dead;                 /* the acker's: closed or out of sync */
};

/* One partition's batch of the current wake-up; the 8 bytes before the
 * batch are its partition id and length as the request carries them. */
struct part_batch {
    uint8_t *buf;
    size_t cap;
    struct batch_builder b;
};

#define PART_PREFIX 8

struct fetch_conn {
    int fd;
    const struct leader *ld;
    int32_t corr;
    uint8_t *req;
    size_t req_cap;
    uint8_t *buf;              /* one response frame */
    size_t cap, have, need;    /* need: 4, then 4 + frame size */
    bool dead;
};

struct run {
    const struct latency_opts *o;
    struct nw_topic topic;
    int nparts;
    struct leader *leaders;
    int nleaders;
    int *leader_of;            /* partition -> leader index */
    struct produce_conn *pconns;
    struct fetch_conn *fconns;  /* both by leader index */
    struct lg_pace sched;      /* start and interval: read by every thread */
    uint64_t deadline_ns;      /* last intended time + the grace */
    atomic_bool stop;

    /* the sender's */
    struct lg_pace pace;
    struct part_batch *batches;
    uint8_t *payload;
    struct iovec *iov;
    uint64_t *leader_msgs;
    uint64_t max_due;
    struct lg_lat lag;
    uint64_t sent, send_errors, inflight_full, last_send_ns;

    /* the acker's */
    pthread_t acker;
    bool acker_started;
    struct lg_lat ack;
    _Atomic uint64_t acked, ack_errors;

    /* the fetcher's */
    pthread_t fetcher;
    bool fetcher_started;
    struct lg_lat e2e;
    int64_t *next_offset;      /* by partition */
    uint64_t *next_seq;        /* by partition: the sequence due next */
    uint8_t *seen;             /* one bit per sequence number */
    _Atomic uint64_t consumed, fetch_errors;
    uint64_t dups, foreign;

    bool kept_up;
    double cpu_s;
};

/* ---- small helpers ----------------------------------------------------- */

/* The first sequence number >= begin that goes to partition p. */
static uint64_t first_seq_of(uint64_t begin, int p, int n)
{
    uint64_t r = begin % (uint64_t)n;
    return begin + ((uint64_t)p + (uint64_t)n - r) % (uint64_t)n;
}

/* How many of the messages [begin, end) go to partition p. */
static uint64_t msgs_of(uint64_t begin, uint64_t end, int p, int n)
{
    uint64_t first = first_seq_of(begin, p, n);
    return first < end ? (end - first - 1) / (uint64_t)n + 1 : 0;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool topic_is(const struct run *r, const char *name, int len)
{
    return len == (int)strlen(r->o->lg.topic) &&
           memcmp(name, r->o->lg.topic, (size_t)len) == 0;
}

/* Waits until fd is ready for `events`, at most until deadline_ns.
 * Returns 0, -ETIMEDOUT or a negative errno. */
static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
    for (;;) {
        uint64_t now = lg_now_ns();
        if (now >= deadline_ns)
            return -ETIMEDOUT;
        uint64_t left_ms = (deadline_ns - now) / 1000000 + 1;
        struct pollfd pfd = { .fd = fd, .events = events };
        int n = poll(&pfd, 1, left_ms > IO_POLL_MS ? IO_POLL_MS : (int)left_ms);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0)
            return 0;
    }
}

/* Writes all of iov[0..n) to the non-blocking socket fd (iov is
 * consumed; no SIGPIPE if the broker closed it). Returns 0, -ETIMEDOUT or
 * a negative errno. */
static int write_all(int fd, struct iovec *iov, int n, uint64_t deadline_ns)
{
    while (n > 0) {
        struct msghdr m = { .msg_iov = iov,
                            .msg_iovlen = (size_t)(n < IOV_MAX ? n : IOV_MAX) };
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return -errno;
            int rc = wait_fd(fd, POLLOUT, deadline_ns);
            if (rc)
                return rc;
            continue;
        }
        size_t left = (size_t)w;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

/* Reads one whole response frame (without its size) into buf, blocking
 * until deadline_ns: setup only. Returns its length or a negative errno. */
static ssize_t read_frame(int fd, uint8_t *buf, size_t cap, uint64_t deadline_ns)
{
    size_t have = 0, need = 4;
    while (have < need) {
        ssize_t n = read(fd, buf + have, need - have);
        if (n == 0)
            return -EPIPE;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return -errno;
            int rc = wait_fd(fd, POLLIN, deadline_ns);
            if (rc)
                return rc;
            continue;
        }
        have += (size_t)n;
        if (have == 4 && need == 4) {
            uint32_t fl = nw_be32(buf);
            if (fl < 4 || fl > cap)
                return -EPROTO;
            have = 0;
            need = fl;
        }
    }
    return (ssize_t)need;
}

/* ---- setup: leaders, connections, start offsets ------------------------ */

static int leader_index(const struct run *r, int32_t node)
{
    for (int i = 0; i < r->nleaders; i++)
        if (r->leaders[i].node == node)
            return i;
    return -1;
}

/* Groups the partitions by leader. */
static int group_leaders(struct run *r)
{
    const struct nw_topic *t = &r->topic;
    r->leaders = calloc((size_t)t->n, sizeof(*r->leaders));
    r->leader_of = calloc((size_t)t->n, sizeof(*r->leader_of));
    if (!r->leaders || !r->leader_of)
        return -ENOMEM;
    for (int p = 0; p < t->n; p++) {
        int li = leader_index(r, t->parts[p].leader);
        if (li < 0) {
            li = r->nleaders++;
            struct leader *ld = &r->leaders[li];
            ld->node = t->parts[p].leader;
            ld->host = t->parts[p].host;
            ld->port = t->parts[p].port;
            ld->parts = calloc((size_t)t->n, sizeof(*ld->parts));
            if (!ld->parts)
                return -ENOMEM;
        }
        r->leaders[li].parts[r->leaders[li].nparts++] = p;
        r->leader_of[p] = li;
    }
    return 0;
}

static int connect_leader(const struct leader *ld)
{
    int fd = nw_connect(ld->host, ld->port, true);
    if (fd < 0)
        fprintf(stderr, "native_latency: connect %s:%d (node %d): %s\n",
                ld->host, ld->port, ld->node, strerror(-fd));
    return fd;
}

static int open_produce_conn(struct produce_conn *c, const struct leader *ld,
                             int depth)
{
    c->ld = ld;
    c->ring = calloc((size_t)depth, sizeof(*c->ring));
    c->rx = malloc(ACK_RX_BYTES);
    if (!c->ring || !c->rx)
        return -ENOMEM;
    c->fd = connect_leader(ld);
    return c->fd < 0 ? c->fd : 0;
}

static int open_fetch_conn(struct fetch_conn *c, const struct leader *ld)
{
    c->ld = ld;
    c->req_cap = HDR_MAX + (size_t)ld->nparts * 32;
    c->req = malloc(c->req_cap);
    c->cap = FETCH_MAX_BYTES + FETCH_FRAME_SLACK;
    c->buf = malloc(c->cap);
    if (!c->req || !c->buf)
        return -ENOMEM;
    c->fd = connect_leader(ld);
    return c->fd < 0 ? c->fd : 0;
}

/* ListOffsets v2 (latest) for every partition of the leader. */
static size_t encode_list_offsets(const struct run *r, const struct leader *ld,
                                  uint8_t *buf, size_t cap)
{
    struct nw_wr w = { buf, buf + cap, false };
    nw_put_i32(&w, 0);                 /* size, below */
    nw_put_i16(&w, LIST_OFFSETS_KEY);
    nw_put_i16(&w, LIST_OFFSETS_VERSION);
    nw_put_i32(&w, 0);                 /* correlation id */
    nw_put_str(&w, CLIENT_ID);
    nw_put_i32(&w, -1);                /* replica_id */
    nw_put_i8(&w, 0);                  /* isolation: read uncommitted */
    nw_put_i32(&w, 1);                 /* topics */
    nw_put_str(&w, r->o->lg.topic);
    nw_put_i32(&w, ld->nparts);
    for (int i = 0; i < ld->nparts; i++) {
        nw_put_i32(&w, ld->parts[i]);
        nw_put_i64(&w, LATEST_TIMESTAMP);
    }
    if (w.overflow)
        return 0;
    size_t len = (size_t)(w.p - buf);
    nw_store_be32(buf, (uint32_t)(len - 4));
    return len;
}

/* Takes a ListOffsets v2 answer: next_offset of each partition. */
static int take_list_offsets(struct run *r, const struct leader *ld,
                             const uint8_t *p, size_t len)
{
    struct nw_rd rd = { p, p + len, false };
    const char *name;
    int nlen, taken = 0;
    int32_t corr = nw_get_i32(&rd);
    nw_get_i32(&rd);                   /* throttle_time_ms */
    int32_t ntopics = nw_get_i32(&rd);
    nw_get_str(&rd, &name, &nlen);
    int32_t n = nw_get_i32(&rd);
    if (rd.err || corr != 0 || ntopics != 1 || !topic_is(r, name, nlen) ||
        n != ld->nparts)
        return -EPROTO;
    for (int32_t i = 0; i < n; i++) {
        int32_t part = nw_get_i32(&rd);
        int16_t err = nw_get_i16(&rd);
        nw_get_i64(&rd);               /* timestamp */
        int64_t offset = nw_get_i64(&rd);
        if (rd.err || part < 0 || part >= r->nparts ||
            r->leader_of[part] != (int)(ld - r->leaders))
            return -EPROTO;
        if (err || offset < 0) {
            fprintf(stderr, "native_latency: ListOffsets %s [%d]: %s\n",
                    r->o->lg.topic, part, nw_err_name(err));
            return -EPROTO;
        }
        r->next_offset[part] = offset;
        taken++;
    }
    return rd.p == rd.end && taken == ld->nparts ? 0 : -EPROTO;
}

/* Every partition's log end, asked on the fetch connections before the
 * first message is sent. */
static int query_start_offsets(struct run *r)
{
    for (int li = 0; li < r->nleaders; li++) {
        struct fetch_conn *c = &r->fconns[li];
        uint64_t deadline = lg_now_ns() + SETUP_TIMEOUT_NS;
        size_t len = encode_list_offsets(r, c->ld, c->buf, c->cap);
        struct iovec iov = { c->buf, len };
        int rc = len ? write_all(c->fd, &iov, 1, deadline) : -EINVAL;
        ssize_t fl = rc ? rc : read_frame(c->fd, c->buf, c->cap, deadline);
        rc = fl < 0 ? (int)fl : take_list_offsets(r, c->ld, c->buf, (size_t)fl);
        if (rc) {
            fprintf(stderr, "native_latency: ListOffsets on %s:%d: %s\n",
                    c->ld->host, c->ld->port, strerror(-rc));
            return rc;
        }
    }
    return 0;
}

/* ---- the sender -------------------------------------------------------- */

/* Most messages per wake-up, and each partition's batch buffer sized for
 * its share of them. */
static int alloc_batches(struct run *r)
{
    size_t size = r->o->lg.size;
    uint64_t by_bytes = SEND_BYTES_MAX / (size + RECORD_FRAMING_MAX);
    r->max_due = by_bytes < 1 ? 1 : by_bytes > SEND_MSGS_MAX ? SEND_MSGS_MAX : by_bytes;
    if (r->o->lg.in_flight)
        r->max_due = r->o->lg.in_flight; /* a synchronous client: one message per request */
    uint64_t per_part = (r->max_due + (uint64_t)r->nparts - 1) / (uint64_t)r->nparts;
    r->batches = calloc((size_t)r->nparts, sizeof(*r->batches));
    r->payload = malloc(size);
    r->iov = calloc((size_t)r->nparts + 1, sizeof(*r->iov));
    r->leader_msgs = calloc((size_t)r->nleaders, sizeof(*r->leader_msgs));
    if (!r->batches || !r->payload || !r->iov || !r->leader_msgs)
        return -ENOMEM;
    for (size_t i = 0; i < size; i++)
        r->payload[i] = (uint8_t)(i * 131 + 7);
    for (int p = 0; p < r->nparts; p++) {
        struct part_batch *pb = &r->batches[p];
        pb->cap = PART_PREFIX + BATCH_HEADER_SIZE +
                  per_part * (size + RECORD_FRAMING_MAX);
        pb->buf = malloc(pb->cap);
        if (!pb->buf)
            return -ENOMEM;
    }
    return 0;
}

/* Stamps the messages [begin, end) into their partitions' batches and
 * counts them per leader. Returns 0, or -1 if one did not fit (a bug). */
static int build_batches(struct run *r, uint64_t begin, uint64_t end)
{
    int n = r->nparts;
    int64_t now_ms = wall_ms();
    uint64_t touched = end - begin < (uint64_t)n ? end - begin : (uint64_t)n;

    for (uint64_t k = 0; k < touched; k++) {
        struct part_batch *pb = &r->batches[(begin + k) % (uint64_t)n];
        batch_builder_init(&pb->b, pb->buf + PART_PREFIX, pb->cap - PART_PREFIX,
                           now_ms);
    }
    memset(r->leader_msgs, 0, (size_t)r->nleaders * sizeof(*r->leader_msgs));
    for (uint64_t seq = begin; seq < end; seq++) {
        int p = (int)(seq % (uint64_t)n);
        lg_stamp(r->payload, lg_pace_intended(&r->sched, seq), seq);
        if (batch_builder_add(&r->batches[p].b, now_ms, NULL, 0, r->payload,
                              r->o->lg.size, NULL, 0) != 0)
            return -1;
        r->leader_msgs[r->leader_of[p]]++;
    }
    return 0;
}

/* The request header up to its partitions array's count. */
static size_t encode_produce_header(const struct run *r, uint8_t *buf, size_t cap,
                                    int32_t corr, int32_t nparts)
{
    struct nw_wr w = { buf, buf + cap, false };
    nw_put_i32(&w, 0);                 /* size, by the caller */
    nw_put_i16(&w, PRODUCE_KEY);
    nw_put_i16(&w, PRODUCE_VERSION);
    nw_put_i32(&w, corr);
    nw_put_str(&w, CLIENT_ID);
    nw_put_str(&w, NULL);              /* transactional_id */
    nw_put_i16(&w, r->o->acks);
    nw_put_i32(&w, PRODUCE_TIMEOUT_MS);
    nw_put_i32(&w, 1);                 /* topics */
    nw_put_str(&w, r->o->lg.topic);
    nw_put_i32(&w, nparts);
    return w.overflow ? 0 : (size_t)(w.p - buf);
}

/* Finishes partition p's batch and lays it out as r->iov[n]. */
static size_t gather_partition(struct run *r, int p, int n)
{
    struct part_batch *pb = &r->batches[p];
    size_t len = batch_builder_finish(&pb->b, 0);
    nw_store_be32(pb->buf, (uint32_t)p);
    nw_store_be32(pb->buf + 4, (uint32_t)len);
    r->iov[n].iov_base = pb->buf;
    r->iov[n].iov_len = PART_PREFIX + len;
    return PART_PREFIX + len;
}

/* Finishes the leader's (li) batches that hold messages of [begin, end)
 * and lays them out after hdr in r->iov. Fewer messages than partitions
 * (low rates): each message is a partition of its own, found from the
 * messages rather than by looking at every partition. Returns the iov
 * count. */
static int gather_request(struct run *r, int li, uint64_t begin, uint64_t end,
                          uint8_t *hdr, size_t *total)
{
    const struct leader *ld = &r->leaders[li];
    int n = 1;
    *total = 0;
    if (end - begin < (uint64_t)r->nparts) {
        for (uint64_t seq = begin; seq < end; seq++) {
            int p = (int)(seq % (uint64_t)r->nparts);
            if (r->leader_of[p] == li)
                *total += gather_partition(r, p, n++);
        }
    } else {
        for (int i = 0; i < ld->nparts; i++)
            *total += gather_partition(r, ld->parts[i], n++);
    }
    r->iov[0].iov_base = hdr;
    return n;
}

/* Waits for room in the connection's in-flight ring, until the deadline.
 * Returns 0 or -ETIMEDOUT. */
static int wait_ring_room(struct run *r, struct produce_conn *c, uint64_t head)
{
    bool counted = false;
    while (head - atomic_load_explicit(&c->tail, memory_order_acquire) >=
           (uint64_t)r->o->depth) {
        if (!counted) {
            r->inflight_full++;
            counted = true;
        }
        uint64_t now = lg_now_ns();
        if (now >= r->deadline_ns)
            return -ETIMEDOUT;
        lg_sleep_until_ns(now + INFLIGHT_WAIT_NS);
    }
    return 0;
}

/* One Produce request with the leader's messages of [begin, end): put in
 * the ring first (its answer may come before writev returns), then
 * written. Returns 0 or a negative errno. */
static int send_request(struct run *r, int li, uint64_t begin, uint64_t end)
{
    struct produce_conn *c = &r->pconns[li];
    uint64_t head = atomic_load_explicit(&c->head, memory_order_relaxed);
    uint8_t hdr[HDR_MAX];
    size_t body;

    int rc = wait_ring_room(r, c, head);
    if (rc)
        return rc;
    int niov = gather_request(r, li, begin, end, hdr, &body);
    size_t hl = encode_produce_header(r, hdr, sizeof(hdr), (int32_t)(uint32_t)head,
                                      niov - 1);
    if (hl == 0)
        return -EINVAL;
    nw_store_be32(hdr, (uint32_t)(hl - 4 + body));
    r->iov[0].iov_len = hl;
    c->ring[head % (uint64_t)r->o->depth] = (struct inflight){ begin, end,
                                                      r->leader_msgs[li] };
    atomic_store_explicit(&c->head, head + 1, memory_order_release);
    return write_all(c->fd, r->iov, niov, r->deadline_ns);
}

/* Sends the messages [begin, end) (one wake-up): a request per leader. */
static int send_wakeup(struct run *r, uint64_t begin, uint64_t end)
{
    if (build_batches(r, begin, end)) {
        fprintf(stderr, "native_latency: a record did not fit its batch\n");
        r->send_errors += end - begin;
        return -EINVAL;
    }
    uint64_t now = lg_now_ns();
    for (uint64_t seq = begin; seq < end; seq++)
        lg_lat_record(&r->lag, lg_pace_intended(&r->sched, seq), now);
    for (int li = 0; li < r->nleaders; li++) {
        if (r->leader_msgs[li] == 0)
            continue;
        int rc = send_request(r, li, begin, end);
        if (rc) {
            fprintf(stderr, "native_latency: produce to %s:%d: %s\n",
                    r->leaders[li].host, r->leaders[li].port,
                    rc == -ETIMEDOUT ? "no room before the deadline" : strerror(-rc));
            if (rc != -ETIMEDOUT)
                r->send_errors += r->leader_msgs[li];
            return rc;
        }
        r->sent += r->leader_msgs[li];
    }
    r->last_send_ns = now;
    return 0;
}

/* Sends every message when it is due (late ones at once), until all are
 * sent, the deadline passes or a send fails. lg_pace_wait() can return 0
 * before the end (a wake-up exactly at a due time), so the end is
 * lg_pace_done(). */
static void send_paced(struct run *r)
{
    while (!lg_pace_done(&r->pace)) {
        uint64_t due = lg_pace_wait(&r->pace, r->max_due);
        if (due == 0)
            continue;
        if (lg_now_ns() >= r->deadline_ns)
            return;
        uint64_t begin = r->pace.next;
        if (send_wakeup(r, begin, begin + due))
            return;
        lg_pace_sent(&r->pace, due);
    }
}

/* ---- the acker --------------------------------------------------------- */

static void count_ack_errors(struct run *r, uint64_t n, const char *what,
                             int32_t part)
{
    if (atomic_fetch_add(&r->ack_errors, n) < MAX_ERRORS_SHOWN)
        fprintf(stderr, "native_latency: produce answer (partition %d): %s\n",
                part, what);
}

/* Records the ack of partition p's messages in [begin, end). */
static uint64_t ack_partition(struct run *r, int p, uint64_t begin, uint64_t end,
                              uint64_t now)
{
    uint64_t n = 0;
    for (uint64_t seq = first_seq_of(begin, p, r->nparts); seq < end;
         seq += (uint64_t)r->nparts, n++)
        lg_lat_record(&r->ack, lg_pace_intended(&r->sched, seq), now);
    return n;
}

/* Checks one Produce v7 answer against its ring entry; every message of
 * the entry ends up acked or counted as an error. */
static void on_produce_answer(struct run *r, struct produce_conn *c,
                              const uint8_t *p, size_t len, uint64_t now)
{
    uint64_t tail = atomic_load_explicit(&c->tail, memory_order_relaxed);
    const struct inflight e = c->ring[tail % (uint64_t)r->o->depth];
    uint64_t done = 0;
    struct nw_rd rd = { p, p + len, false };
    const char *name;
    int nlen;
    int32_t corr = nw_get_i32(&rd);
    int32_t ntopics = nw_get_i32(&rd);
    nw_get_str(&rd, &name, &nlen);
    int32_t n = nw_get_i32(&rd);
    if (rd.err || (uint32_t)corr != (uint32_t)tail || ntopics != 1 ||
        !topic_is(r, name, nlen))
        n = 0;                              /* all of it an error, below */
    for (int32_t i = 0; i < n && !rd.err; i++) {
        int32_t part = nw_get_i32(&rd);
        int16_t err = nw_get_i16(&rd);
        nw_skip(&rd, 3 * 8);                /* base offset, append time, start */
        if (rd.err || part < 0 || part >= r->nparts ||
            r->leader_of[part] != (int)(c->ld - r->leaders))
            break;
        uint64_t m = msgs_of(e.begin, e.end, part, r->nparts);
        if (err) {
            count_ack_errors(r, m, nw_err_name(err), part);
        } else {
            m = ack_partition(r, part, e.begin, e.end, now);
            atomic_fetch_add_explicit(&r->acked, m, memory_order_relaxed);
        }
        done += m;
    }
    if (done < e.msgs)
        count_ack_errors(r, e.msgs - done, "malformed, out of order or "
                         "missing partitions", -1);
    atomic_store_explicit(&c->tail, tail + 1, memory_order_release);
}

/* Reads what is there and takes every complete answer. Returns 0 or a
 * negative errno (-EPIPE: closed, -EPROTO: an answer nobody asked for). */
static int read_answers(struct run *r, struct produce_conn *c)
{
    for (;;) {
        ssize_t n = read(c->fd, c->rx + c->rx_len, ACK_RX_BYTES - c->rx_len);
        if (n < 0)
            return errno == EINTR || errno == EAGAIN ? 0 : -errno;
        if (n == 0)
            return -EPIPE;
        uint64_t now = lg_now_ns();
        c->rx_len += (size_t)n;
        size_t pos = 0;
        while (c->rx_len - pos >= 4) {
            uint32_t fl = nw_be32(c->rx + pos);
            if (fl + 4 > ACK_RX_BYTES)
                return -EPROTO;
            if (c->rx_len - pos < 4 + (size_t)fl)
                break;
            uint64_t tail = atomic_load_explicit(&c->tail, memory_order_relaxed);
            if (tail == atomic_load_explicit(&c->head, memory_order_acquire))
                return -EPROTO;
            on_produce_answer(r, c, c->rx + pos + 4, fl, now);
            pos += 4 + fl;
        }
        memmove(c->rx, c->rx + pos, c->rx_len - pos);
        c->rx_len -= pos;
    }
}

/* A produce connection that failed: what is in flight on it is lost. */
static void produce_conn_failed(struct run *r, struct produce_conn *c, int rc)
{
    uint64_t tail = atomic_load(&c->tail), head = atomic_load(&c->head);
    fprintf(stderr, "native_latency: produce connection to %s:%d: %s (%" PRIu64
            " requests in flight)\n", c->ld->host, c->ld->port,
            rc == -EPIPE ? "closed by the broker" : strerror(-rc), head - tail);
    atomic_fetch_add(&r->ack_errors, 1);
    c->dead = true;
}

static void *ack_loop(void *arg)
{
    struct run *r = arg;
    struct pollfd *fds = calloc((size_t)r->nleaders, sizeof(*fds));

    if (!fds) {
        atomic_fetch_add(&r->ack_errors, 1);
        return NULL;
    }
    while (!atomic_load(&r->stop)) {
        for (int i = 0; i < r->nleaders; i++)
            fds[i] = (struct pollfd){ .fd = r->pconns[i].dead ? -1 : r->pconns[i].fd,
                                      .events = POLLIN };
        if (poll(fds, (nfds_t)r->nleaders, IO_POLL_MS) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < r->nleaders; i++) {
            if (!fds[i].revents || atomic_load(&r->stop))
                continue;
            int rc = read_answers(r, &r->pconns[i]);
            if (rc)
                produce_conn_failed(r, &r->pconns[i], rc);
        }
    }
    free(fds);
    return NULL;
}

/* ---- the fetcher ------------------------------------------------------- */

static size_t encode_fetch(const struct run *r, struct fetch_conn *c)
{
    const struct leader *ld = c->ld;
    struct nw_wr w = { c->req, c->req + c->req_cap, false };
    nw_put_i32(&w, 0);                 /* size, below */
    nw_put_i16(&w, FETCH_KEY);
    nw_put_i16(&w, FETCH_VERSION);
    nw_put_i32(&w, c->corr);
    nw_put_str(&w, CLIENT_ID);
    nw_put_i32(&w, -1);                /* replica_id */
    nw_put_i32(&w, FETCH_MAX_WAIT_MS);
    nw_put_i32(&w, 1);                 /* min_bytes */
    nw_put_i32(&w, FETCH_MAX_BYTES);
    nw_put_i8(&w, 0);                  /* isolation: read uncommitted */
    nw_put_i32(&w, 0);                 /* session_id: no session */
    nw_put_i32(&w, -1);                /* session_epoch: full fetch */
    nw_put_i32(&w, 1);                 /* topics */
    nw_put_str(&w, r->o->lg.topic);
    nw_put_i32(&w, ld->nparts);
    for (int i = 0; i < ld->nparts; i++) {
        nw_put_i32(&w, ld->parts[i]);
        nw_put_i32(&w, -1);            /* current_leader_epoch */
        nw_put_i64(&w, r->next_offset[ld->parts[i]]);
        nw_put_i64(&w, -1);            /* log_start_offset */
        nw_put_i32(&w, FETCH_PARTITION_BYTES);
    }
    nw_put_i32(&w, 0);                 /* forgotten_topics_data */
    nw_put_str(&w, "");                /* rack_id */
    if (w.overflow)
        return 0;
    size_t len = (size_t)(w.p - c->req);
    nw_store_be32(c->req, (uint32_t)(len - 4));
    return len;
}

/* Sends the next long-poll of the connection's partitions. */
static int send_fetch(struct run *r, struct fetch_conn *c)
{
    c->corr++;
    size_t len = encode_fetch(r, c);
    if (len == 0)
        return -EINVAL;
    c->have = 0;
    c->need = 4;
    struct iovec iov = { c->req, len };
    return write_all(c->fd, &iov, 1, lg_now_ns() + SETUP_TIMEOUT_NS);
}

static void count_fetch_error(struct run *r, int32_t part, const char *what)
{
    if (atomic_fetch_add(&r->fetch_errors, 1) < MAX_ERRORS_SHOWN)
        fprintf(stderr, "native_latency: fetch (partition %d): %s\n", part, what);
}

/* A Kafka varint (zigzag) of up to 64 bits. */
static bool get_varlong(const uint8_t **p, const uint8_t *end, int64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return true;
        }
    }
    return false;
}

/* One delivered value of partition p: ours (our size, a sequence number
 * of this run, of this partition) in order, or not. */
static void take_value(struct run *r, int p, const uint8_t *v, int64_t len,
                       uint64_t now)
{
    if (len != (int64_t)r->o->lg.size || lg_stamp_seq(v) >= r->sched.total ||
        lg_stamp_seq(v) % (uint64_t)r->nparts != (uint64_t)p) {
        r->foreign++;
        return;
    }
    uint64_t seq = lg_stamp_seq(v);
    uint8_t bit = (uint8_t)(1u << (seq % 8));
    if (r->seen[seq / 8] & bit) {
        r->dups++;
        return;
    }
    r->seen[seq / 8] |= bit;
    if (seq != r->next_seq[p]) {
        char what[96];
        snprintf(what, sizeof(what), "sequence %" PRIu64 ", expected %" PRIu64,
                 seq, r->next_seq[p]);
        count_fetch_error(r, p, what);
    }
    r->next_seq[p] = seq + (uint64_t)r->nparts;
    lg_lat_record(&r->e2e, lg_stamp_time(v), now);
    atomic_fetch_add_explicit(&r->consumed, 1, memory_order_relaxed);
}

/* Walks the records of one uncompressed batch from next_offset on.
 * Returns 0 or -1 (malformed). */
static int take_batch(struct run *r, int p, const uint8_t *b, size_t len,
                      const struct batch_header *h, uint64_t now)
{
    const uint8_t *q = b + BATCH_HEADER_SIZE, *end = b + len;
    for (int32_t i = 0; i < h->records_count; i++) {
        int64_t rec_len, ts_delta, off_delta, key_len, val_len;
        if (!get_varlong(&q, end, &rec_len) || rec_len < 1 || end - q < rec_len)
            return -1;
        const uint8_t *rec_end = q + rec_len;
        q++;                                /* attributes */
        if (!get_varlong(&q, rec_end, &ts_delta) ||
            !get_varlong(&q, rec_end, &off_delta) ||
            !get_varlong(&q, rec_end, &key_len) || key_len > rec_end - q)
            return -1;
        q += key_len > 0 ? key_len : 0;
        if (!get_varlong(&q, rec_end, &val_len) || val_len > rec_end - q)
            return -1;
        if (h->base_offset + off_delta >= r->next_offset[p] &&
            val_len >= LG_STAMP_BYTES)
            take_value(r, p, q, val_len, now);
        else if (h->base_offset + off_delta >= r->next_offset[p])
            r->foreign++;
        q = rec_end;
    }
    return 0;
}

/* The batches of partition p in a fetch answer (a partial one at the end,
 * cut by the size limit, is fetched again). */
static void take_records(struct run *r, int p, const uint8_t *d, size_t len,
                         uint64_t now)
{
    size_t pos = 0;
    while (len - pos >= BATCH_HEADER_SIZE) {
        struct batch_header h;
        batch_header_decode(d + pos, &h);
        if (h.length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD) {
            count_fetch_error(r, p, "a batch shorter than its header");
            return;
        }
        size_t bsz = batch_size(&h);
        if (len - pos < bsz)
            return;
        if (batch_last_offset(&h) >= r->next_offset[p]) {
            bool plain = h.magic == BATCH_MAGIC &&
                         !(h.attributes & (BATCH_ATTR_CODEC_MASK | BATCH_ATTR_CONTROL));
            if (!plain || take_batch(r, p, d + pos, bsz, &h, now) != 0)
                count_fetch_error(r, p, "a batch not as sent");
            r->next_offset[p] = batch_last_offset(&h) + 1;
        }
        pos += bsz;
    }
}

/* Checks one Fetch v11 answer and takes its records. Returns 0 or -1
 * (then the connection stops: the run has failed anyway). */
static int on_fetch_answer(struct run *r, struct fetch_conn *c, const uint8_t *p,
                           size_t len, uint64_t now)
{
    struct nw_rd rd = { p, p + len, false };
    const char *name;
    int nlen;
    int32_t corr = nw_get_i32(&rd);
    nw_get_i32(&rd);                        /* throttle_time_ms */
    int16_t top_err = nw_get_i16(&rd);
    nw_get_i32(&rd);                        /* session_id */
    int32_t ntopics = nw_get_i32(&rd);
    nw_get_str(&rd, &name, &nlen);
    int32_t n = nw_get_i32(&rd);
    if (rd.err || corr != c->corr || top_err || ntopics != 1 ||
        !topic_is(r, name, nlen) || n != c->ld->nparts) {
        count_fetch_error(r, -1, top_err ? nw_err_name(top_err)
                                         : "malformed or for something else");
        return -1;
    }
    for (int32_t i = 0; i < n; i++) {
        int32_t part = nw_get_i32(&rd);
        int16_t err = nw_get_i16(&rd);
        nw_skip(&rd, 3 * 8);                /* hw, lso, log start */
        int32_t naborted = nw_get_i32(&rd);
        if (naborted > 0)
            nw_skip(&rd, (size_t)naborted * 16);
        nw_get_i32(&rd);                    /* preferred_read_replica */
        int32_t rlen = nw_get_i32(&rd);
        if (rd.err || part < 0 || part >= r->nparts ||
            r->leader_of[part] != (int)(c->ld - r->leaders) ||
            (rlen > 0 && rd.end - rd.p < rlen)) {
            count_fetch_error(r, part, "malformed");
            return -1;
        }
        if (err) {
            count_fetch_error(r, part, nw_err_name(err));
            return -1;
        }
        if (rlen > 0) {
            take_records(r, part, rd.p, (size_t)rlen, now);
            rd.p += rlen;
        }
    }
    return 0;
}

/* Reads what is there; on a complete answer takes it and asks again.
 * Returns 0 or a negative errno. */
static int read_fetch(struct run *r, struct fetch_conn *c)
{
    for (;;) {
        ssize_t n = read(c->fd, c->buf + c->have, c->need - c->have);
        if (n < 0)
            return errno == EINTR || errno == EAGAIN ? 0 : -errno;
        if (n == 0)
            return -EPIPE;
        c->have += (size_t)n;
        if (c->have < c->need)
            continue;
        if (c->need == 4) {
            uint32_t fl = nw_be32(c->buf);
            if (fl < 4 || fl + 4 > c->cap)
                return -EPROTO;
            c->need = 4 + fl;
            continue;
        }
        if (on_fetch_answer(r, c, c->buf + 4, c->need - 4, lg_now_ns()))
            return -EPROTO;
        return send_fetch(r, c);
    }
}

static void *fetch_loop(void *arg)
{
    struct run *r = arg;
    struct pollfd *fds = calloc((size_t)r->nleaders, sizeof(*fds));

    if (!fds) {
        atomic_fetch_add(&r->fetch_errors, 1);
        return NULL;
    }
    for (int i = 0; i < r->nleaders; i++) {
        int rc = send_fetch(r, &r->fconns[i]);
        if (rc) {
            count_fetch_error(r, -1, strerror(-rc));
            r->fconns[i].dead = true;
        }
    }
    while (!atomic_load(&r->stop)) {
        for (int i = 0; i < r->nleaders; i++)
            fds[i] = (struct pollfd){ .fd = r->fconns[i].dead ? -1 : r->fconns[i].fd,
                                      .events = POLLIN };
        if (poll(fds, (nfds_t)r->nleaders, IO_POLL_MS) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < r->nleaders; i++) {
            if (!fds[i].revents || atomic_load(&r->stop))
                continue;
            int rc = read_fetch(r, &r->fconns[i]);
            if (rc) {
                if (rc != -EPROTO)  /* EPROTO: counted where it was found */
                    count_fetch_error(r, -1, rc == -EPIPE ? "closed by the broker"
                                                          : strerror(-rc));
                r->fconns[i].dead = true;
            }
        }
    }
    free(fds);
    return NULL;
}

/* ---- the run ----------------------------------------------------------- */

static int open_connections(struct run *r)
{
    r->pconns = calloc((size_t)r->nleaders, sizeof(*r->pconns));
    r->fconns = calloc((size_t)r->nleaders, sizeof(*r->fconns));
    if (!r->pconns || !r->fconns)
        return -ENOMEM;
    for (int li = 0; li < r->nleaders; li++)
        r->pconns[li].fd = r->fconns[li].fd = -1;
    for (int li = 0; li < r->nleaders; li++) {
        int rc = open_produce_conn(&r->pconns[li], &r->leaders[li], r->o->depth);
        if (rc == 0)
            rc = open_fetch_conn(&r->fconns[li], &r->leaders[li]);
        if (rc)
            return rc;
    }
    return 0;
}

/* The topic, its leaders, the connections, the start offsets, the
 * schedule. Returns 0 or -1. */
static int setup(struct run *r)
{
    const struct lg_opts *o = &r->o->lg;

    if (nw_create_topic(o->target, o->topic, o->partitions, CREATE_TIMEOUT_S) ||
        nw_discover(o->target, o->topic, DISCOVER_TIMEOUT_S, &r->topic))
        return -1;
    r->nparts = r->topic.n;
    if (r->nparts != o->partitions)
        printf("  topic %s exists with %d partitions (not %d): using %d\n",
               o->topic, r->nparts, o->partitions, r->nparts);
    /* The schedule's length first (a provisional start): it sizes the
     * bitmap of sequence numbers seen. */
    lg_pace_init(&r->sched, o->rate, o->seconds, 0);
    r->next_offset = calloc((size_t)r->nparts, sizeof(*r->next_offset));
    r->next_seq = calloc((size_t)r->nparts, sizeof(*r->next_seq));
    r->seen = calloc((size_t)(r->sched.total / 8 + 1), 1);
    if (!r->next_offset || !r->next_seq || !r->seen)
        return -1;
    for (int p = 0; p < r->nparts; p++)
        r->next_seq[p] = (uint64_t)p;
    if (group_leaders(r) || open_connections(r) || alloc_batches(r) ||
        query_start_offsets(r))
        return -1;
    printf("  %d partitions over %d leaders, at most %" PRIu64 " messages per "
           "wake-up, Produce v%d / Fetch v%d\n", r->nparts, r->nleaders,
           r->max_due, PRODUCE_VERSION, FETCH_VERSION);
    fflush(stdout);

    r->deadline_ns = lg_latency_start(o, &r->sched, &r->ack, &r->e2e, &r->lag);
    r->pace = r->sched;
    return 0;
}

static int start_threads(struct run *r)
{
    int err = pthread_create(&r->acker, NULL, ack_loop, r);
    r->acker_started = err == 0;
    if (!err) {
        err = pthread_create(&r->fetcher, NULL, fetch_loop, r);
        r->fetcher_started = err == 0;
    }
    if (err)
        fprintf(stderr, "native_latency: pthread_create: %s\n", strerror(err));
    return err ? -1 : 0;
}

/* Waits until every sent message is acked (or failed) and consumed, at
 * most until the deadline. Returns whether all of it arrived in time. */
static bool wait_drained(struct run *r)
{
    for (;;) {
        uint64_t acked = atomic_load(&r->acked);
        uint64_t failed = atomic_load(&r->ack_errors);
        uint64_t consumed = atomic_load(&r->consumed);
        if (acked + failed >= r->sent && consumed >= acked)
            return r->sent == r->sched.total && acked == r->sent &&
                   consumed == r->sent;
        if (lg_now_ns() >= r->deadline_ns)
            return false;
        lg_sleep_until_ns(lg_now_ns() + DRAIN_CHECK_NS);
    }
}

static void stop_threads(struct run *r)
{
    atomic_store(&r->stop, true);
    if (r->acker_started)
        pthread_join(r->acker, NULL);
    if (r->fetcher_started)
        pthread_join(r->fetcher, NULL);
}

static void run_free(struct run *r)
{
    for (int li = 0; r->pconns && li < r->nleaders; li++) {
        if (r->pconns[li].fd >= 0)
            close(r->pconns[li].fd);
        free(r->pconns[li].ring);
        free(r->pconns[li].rx);
    }
    for (int li = 0; r->fconns && li < r->nleaders; li++) {
        if (r->fconns[li].fd >= 0)
            close(r->fconns[li].fd);
        free(r->fconns[li].req);
        free(r->fconns[li].buf);
    }
    for (int li = 0; r->leaders && li < r->nleaders; li++)
        free(r->leaders[li].parts);
    for (int p = 0; r->batches && p < r->nparts; p++)
        free(r->batches[p].buf);
    free(r->pconns);
    free(r->fconns);
    free(r->leaders);
    free(r->leader_of);
    free(r->batches);
    free(r->payload);
    free(r->iov);
    free(r->leader_msgs);
    free(r->next_offset);
    free(r->next_seq);
    free(r->seen);
    nw_topic_free(&r->topic);
}

/* ---- options ----------------------------------------------------------- */

enum { OPT_ACKS = 256, OPT_DEPTH };

static const struct option latency_longopts[] = {
    { "acks", required_argument, NULL, OPT_ACKS },
    { "depth", required_argument, NULL, OPT_DEPTH },
    { NULL, 0, NULL, 0 },
};

static const char latency_usage[] =
    "  --acks 1|all       (default 1)\n"
    "  --depth D          Produce requests in flight per connection (default 512)\n";

static int take_latency_opt(int code, const char *arg, void *ctx)
{
    struct latency_opts *lo = ctx;
    uint64_t v;

    switch (code) {
    case OPT_ACKS:
        return nw_parse_acks(arg, &lo->acks);
    case OPT_DEPTH:
        if (lg_parse_count(arg, &v) || v < 1 || v > MAX_DEPTH)
            return -1;
        lo->depth = (int)v;
        return 0;
    default:
        return -1;
    }
}

static int parse_opts(int argc, char **argv, struct latency_opts *lo)
{
    const struct lg_extra extra = { latency_longopts, take_latency_opt, lo,
                                    latency_usage };

    *lo = (struct latency_opts){ .acks = 1, .depth = DEFAULT_DEPTH };
    if (lg_opts_parse("native_latency", argc, argv, &lo->lg, &extra))
        return -1;
    if (lo->lg.in_flight)
        lo->depth = (int)lo->lg.in_flight; /* one message per request then */
    if (strcmp(lo->lg.mode, "latency")) {
        fprintf(stderr, "native_latency: --mode latency only\n");
        return -1;
    }
    return 0;
}

/* ---- main -------------------------------------------------------------- */

static uint64_t run_errors(const struct run *r)
{
    return r->send_errors + atomic_load(&r->ack_errors) +
           atomic_load(&r->fetch_errors);
}

static void report(const struct run *r)
{
    struct lg_opts o = r->o->lg;
    struct lg_lat_summary s = {
        .scheduled = r->sched.total,
        .sent = r->sent,
        .acked = atomic_load(&r->acked),
        .consumed = atomic_load(&r->consumed),
        .errors = run_errors(r),
        .dups = r->dups,
        .foreign = r->foreign,
        .kept_up = r->kept_up,
        .achieved_rate = lg_achieved_rate(&r->sched, r->sent, r->sched.start_ns,
                                          r->last_send_ns),
        .client_cpu_s = r->cpu_s,
        .ack = &r->ack.h,
        .e2e = &r->e2e.h,
        .lag = &r->lag.h,
    };

    o.partitions = r->nparts;
    if (r->inflight_full)
        printf("  the in-flight ring was full %" PRIu64 " times\n",
               r->inflight_full);
    lg_lat_summary_print(&s);
    lg_report_begin("native", &o);
    lg_report_latency(&s);
    lg_report_str("acks", r->o->acks == 1 ? "1" : "all");
    lg_report_u64("inflight_full", r->inflight_full);
    lg_report_end();
}

int main(int argc, char **argv)
{
    struct latency_opts lo;
    struct run *r;
    int rc = 1;

    if (parse_opts(argc, argv, &lo))
        return 2;
    printf("native_latency: %.0f msgs/s x %zu B for %.1f s (warm-up %.1f s), "
           "topic %s, %s, acks=%s\n", lo.lg.rate, lo.lg.size, lo.lg.seconds,
           lo.lg.warmup, lo.lg.topic, lo.lg.target, lo.acks == 1 ? "1" : "all");
    fflush(stdout);
    r = calloc(1, sizeof(*r));
    if (!r)
        return 1;
    r->o = &lo;
    if (setup(r) == 0 && start_threads(r) == 0) {
        double cpu0 = lg_cpu_s();
        send_paced(r);
        r->kept_up = wait_drained(r);
        r->cpu_s = lg_cpu_s() - cpu0;
        stop_threads(r);
        report(r);
        rc = run_errors(r) || r->dups ? 1 : 0;
        if (lg_write_hist(&lo.lg, "ack", &r->ack.h) ||
            lg_write_hist(&lo.lg, "e2e", &r->e2e.h))
            rc = 1;
    } else {
        stop_threads(r);
    }
    run_free(r);
    free(r);
    return rc;
}
