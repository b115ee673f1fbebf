/* ingest.c - native produce over UDP: sequence checks, zero-copy appends,
 * ACKs and NAKs (see ingest.h for the rules).
 *
 * Per partition (struct ingest_part):
 *   - a ring of the datagrams appended and not yet durable, in log order:
 *       [head, written)  written to the file, buffer released, waiting to
 *                        be durable (then its producer's ACK is due)
 *       [written, tail)  appended, buffer still held by the log's queue
 *   - its producers: a dense array whose slots never move (ring entries
 *     name them by index) and an open-addressing index pid -> slot, with
 *     backward-shift deletion so that evicting an idle producer leaves no
 *     tombstones behind.
 * Partitions with ring entries or ACKs due are on the active list, the
 * only ones ingest_do_work visits. */
#include "dataplane/dpdk/ingest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kerr.h"

#define PARTS_BUCKETS 1024

struct pending {
    void *buf;               /* NULL once written */
    uint64_t rx_ns;          /* when it arrived, for the append latency */
    int64_t last_offset;
    int32_t last_seq;
    int16_t epoch;
    uint16_t producer;       /* slot */
};

struct ingest_producer {
    int64_t pid;             /* -1: a free slot */
    int16_t epoch;
    bool fresh;              /* nothing accepted in this epoch yet */
    bool ack_due;
    int32_t next_seq;
    int32_t durable_seq;     /* -1: none yet */
    int64_t durable_offset;
    struct ingest_peer peer;
    int32_t nak_seq;         /* the last NAK sent, and when */
    int16_t nak_error;
    uint64_t nak_ns;
    uint32_t inflight;       /* ring entries naming this slot */
    uint64_t last_ns;
};

struct ingest_part {
    struct ingest_part *hnext;   /* hash chain by cookie */
    struct ingest_part *anext;   /* active list */
    bool active;
    void *cookie;
    struct log *log;
    char *topic;
    uint16_t topic_len;
    int32_t partition;
    struct pending *ring;
    uint32_t head, written, tail, mask;
    struct ingest_producer *producers;
    int32_t *index;              /* 2 * producers_max slots: -1 or a slot */
    uint32_t index_mask;
    uint32_t nproducers;
    uint16_t *due;               /* slots with ack_due, in order */
    uint32_t ndue;
    int32_t last_slot;           /* the producer seen last: most datagrams */
};

struct ingest {
    struct ingest_config cfg;
    struct ingest_ops ops;
    void *ctx;
    struct ingest_part *buckets[PARTS_BUCKETS];
    struct ingest_part *active;
    struct ingest_stats stats;
};

void ingest_config_defaults(struct ingest_config *cfg)
{
    cfg->pending_max = 16384; /* appended, not yet durable: a slow fdatasync */
    cfg->producers_max = 256;
    cfg->nak_interval_ns = 1000000; /* 1 ms */
    cfg->append_latency = NULL;
}

static bool pow2(uint32_t v)
{
    return v && (v & (v - 1)) == 0;
}

int ingest_create(struct ingest **out, const struct ingest_config *cfg,
                  const struct ingest_ops *ops, void *ctx)
{
    if (!pow2(cfg->pending_max) || !pow2(cfg->producers_max) || cfg->producers_max > 32768)
        return -EINVAL;
    struct ingest *in = calloc(1, sizeof(*in));
    if (!in)
        return -ENOMEM;
    in->cfg = *cfg;
    in->ops = *ops;
    in->ctx = ctx;
    *out = in;
    return 0;
}

static void part_free(struct ingest_part *p)
{
    free(p->ring);
    free(p->producers);
    free(p->index);
    free(p->due);
    free(p->topic);
    free(p);
}

void ingest_destroy(struct ingest *in)
{
    if (!in)
        return;
    for (int b = 0; b < PARTS_BUCKETS; b++) {
        while (in->buckets[b]) {
            struct ingest_part *p = in->buckets[b];
            in->buckets[b] = p->hnext;
            for (uint32_t i = p->head; i != p->tail; i++)
                if (p->ring[i & p->mask].buf)
                    in->ops.release(in->ctx, p->ring[i & p->mask].buf);
            part_free(p);
        }
    }
    free(in);
}

static uint32_t ptr_hash(const void *p)
{
    uint64_t v = (uint64_t)(uintptr_t)p;
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    v ^= v >> 33;
    return (uint32_t)v;
}

static uint32_t pid_hash(int64_t pid)
{
    return ptr_hash((const void *)(uintptr_t)pid);
}

struct ingest_part *ingest_part_get(struct ingest *in, void *cookie, struct log *log,
                                    const char *topic, size_t topic_len, int32_t partition)
{
    uint32_t b = ptr_hash(cookie) & (PARTS_BUCKETS - 1);
    for (struct ingest_part *p = in->buckets[b]; p; p = p->hnext)
        if (p->cookie == cookie)
            return p;
    struct ingest_part *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    uint32_t np = in->cfg.producers_max;
    p->ring = calloc(in->cfg.pending_max, sizeof(*p->ring));
    p->producers = calloc(np, sizeof(*p->producers));
    p->index = malloc(2 * (size_t)np * sizeof(*p->index));
    p->due = calloc(np, sizeof(*p->due));
    p->topic = malloc(topic_len + 1);
    if (!p->ring || !p->producers || !p->index || !p->due || !p->topic) {
        part_free(p);
        return NULL;
    }
    memcpy(p->topic, topic, topic_len);
    p->topic[topic_len] = '\0';
    p->topic_len = (uint16_t)topic_len;
    p->partition = partition;
    p->cookie = cookie;
    p->log = log;
    p->mask = in->cfg.pending_max - 1;
    p->index_mask = 2 * np - 1;
    for (uint32_t i = 0; i < 2 * np; i++)
        p->index[i] = -1;
    for (uint32_t i = 0; i < np; i++)
        p->producers[i].pid = -1;
    p->last_slot = -1;
    p->hnext = in->buckets[b];
    in->buckets[b] = p;
    return p;
}

static void part_activate(struct ingest *in, struct ingest_part *p)
{
    if (p->active)
        return;
    p->active = true;
    p->anext = in->active;
    in->active = p;
}

void ingest_part_close(struct ingest *in, void *cookie)
{
    struct ingest_part **pp = &in->buckets[ptr_hash(cookie) & (PARTS_BUCKETS - 1)];
    while (*pp && (*pp)->cookie != cookie)
        pp = &(*pp)->hnext;
    struct ingest_part *p = *pp;
    if (!p)
        return;
    *pp = p->hnext;
    for (struct ingest_part **ap = &in->active; *ap; ap = &(*ap)->anext) {
        if (*ap == p) {
            *ap = p->anext;
            break;
        }
    }
    for (uint32_t i = p->head; i != p->tail; i++)
        if (p->ring[i & p->mask].buf)
            in->ops.release(in->ctx, p->ring[i & p->mask].buf);
    part_free(p);
}

/* --- producers ------------------------------------------------------------ */

static int32_t producer_find(const struct ingest_part *p, int64_t pid)
{
    if (p->last_slot >= 0 && p->producers[p->last_slot].pid == pid)
        return p->last_slot;
    for (uint32_t i = pid_hash(pid) & p->index_mask;; i = (i + 1) & p->index_mask) {
        int32_t s = p->index[i];
        if (s < 0)
            return -1;
        if (p->producers[s].pid == pid)
            return s;
    }
}

/* Removes slot s from the index (Knuth's algorithm R: the entries after it
 * in its probe run move back, so no tombstone is needed). */
static void index_remove(struct ingest_part *p, int32_t s)
{
    uint32_t i = pid_hash(p->producers[s].pid) & p->index_mask;
    while (p->index[i] != s)
        i = (i + 1) & p->index_mask;
    for (uint32_t j = i;;) {
        p->index[i] = -1;
        for (;;) {
            j = (j + 1) & p->index_mask;
            if (p->index[j] < 0)
                return;
            uint32_t home = pid_hash(p->producers[p->index[j]].pid) & p->index_mask;
            /* j's entry may fill the hole at i unless its home lies
             * cyclically in (i, j] */
            if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
                break;
        }
        p->index[i] = p->index[j];
        i = j;
    }
}

/* An idle producer (nothing in flight, no ACK due) seen longest ago. */
static int32_t producer_evictable(const struct ingest_part *p, uint32_t np)
{
    int32_t best = -1;
    for (uint32_t s = 0; s < np; s++) {
        const struct ingest_producer *q = &p->producers[s];
        if (q->pid >= 0 && q->inflight == 0 && !q->ack_due &&
            (best < 0 || q->last_ns < p->producers[best].last_ns))
            best = (int32_t)s;
    }
    return best;
}

static int32_t producer_add(struct ingest *in, struct ingest_part *p, int64_t pid,
                            int16_t epoch)
{
    uint32_t np = in->cfg.producers_max;
    int32_t s = -1;
    if (p->nproducers == np) {
        s = producer_evictable(p, np);
        if (s < 0)
            return -1;
        index_remove(p, s);
        p->producers[s].pid = -1;
        p->nproducers--;
    } else {
        for (uint32_t k = 0; k < np; k++) {
            if (p->producers[k].pid < 0) {
                s = (int32_t)k;
                break;
            }
        }
    }
    struct ingest_producer *q = &p->producers[s];
    *q = (struct ingest_producer){ .pid = pid, .epoch = epoch, .fresh = true,
                                   .durable_seq = -1, .durable_offset = -1, .nak_seq = -1 };
    uint32_t i = pid_hash(pid) & p->index_mask;
    while (p->index[i] >= 0)
        i = (i + 1) & p->index_mask;
    p->index[i] = s;
    p->nproducers++;
    return s;
}

/* --- replies ---------------------------------------------------------------- */

static void send_reply(struct ingest *in, struct ingest_part *p, const struct ingest_producer *q,
                       enum udp_wire_type type, int16_t error, int32_t seq, int64_t offset)
{
    uint8_t buf[UDP_WIRE_REPLY_MAX];
    struct udp_reply r = { .type = type, .topic = p->topic, .topic_len = p->topic_len,
                           .partition = p->partition, .producer_id = q->pid,
                           .producer_epoch = q->epoch, .error = error, .sequence = seq,
                           .offset = offset };
    size_t n = udp_wire_put_reply(buf, sizeof(buf), &r);
    if (n == 0)
        return;
    in->ops.reply(in->ctx, &q->peer, buf, n);
    if (type == UDP_WIRE_ACK)
        in->stats.acks++;
    else
        in->stats.naks++;
}

/* A NAK naming seq, unless the same one went out less than an interval
 * ago (a burst after one lost datagram asks once). */
static void send_nak(struct ingest *in, struct ingest_part *p, struct ingest_producer *q,
                     int16_t error, int32_t seq, uint64_t now_ns)
{
    if (q->nak_seq == seq && q->nak_error == error && now_ns - q->nak_ns < in->cfg.nak_interval_ns)
        return;
    q->nak_seq = seq;
    q->nak_error = error;
    q->nak_ns = now_ns;
    send_reply(in, p, q, UDP_WIRE_NAK, error, seq, -1);
}

/* A NAK for a producer with no slot here (none could be made). */
static void send_nak_stateless(struct ingest *in, struct ingest_part *p,
                               const struct udp_produce *d, const struct ingest_peer *from,
                               int16_t error, int32_t seq)
{
    struct ingest_producer tmp = { .pid = d->producer_id, .epoch = d->producer_epoch,
                                   .peer = *from };
    send_reply(in, p, &tmp, UDP_WIRE_NAK, error, seq, -1);
}

void ingest_reject(struct ingest *in, const struct udp_produce *d, void *buf,
                   const struct ingest_peer *from, int16_t error)
{
    struct ingest_part p = { .topic = (char *)d->topic, .topic_len = d->topic_len,
                             .partition = d->partition };
    send_nak_stateless(in, &p, d, from, error, -1);
    in->ops.release(in->ctx, buf);
}

static void ack_due(struct ingest *in, struct ingest_part *p, int32_t s)
{
    struct ingest_producer *q = &p->producers[s];
    if (q->ack_due || q->durable_seq < 0)
        return;
    q->ack_due = true;
    p->due[p->ndue++] = (uint16_t)s;
    part_activate(in, p);
}

/* --- datagrams ------------------------------------------------------------ */

static enum ingest_outcome drop(struct ingest *in, void *buf, enum ingest_outcome why,
                                uint64_t *counter)
{
    (*counter)++;
    in->ops.release(in->ctx, buf);
    return why;
}

/* The producer's slot for d, fresh or reset as its epoch says; -1 when it
 * is fenced (*fenced) or no slot can be had. */
static int32_t producer_for(struct ingest *in, struct ingest_part *p,
                            const struct udp_produce *d, bool *fenced)
{
    *fenced = false;
    int32_t s = producer_find(p, d->producer_id);
    if (s < 0)
        return producer_add(in, p, d->producer_id, d->producer_epoch);
    struct ingest_producer *q = &p->producers[s];
    if (d->producer_epoch < q->epoch) {
        *fenced = true;
        return s;
    }
    if (d->producer_epoch > q->epoch) {
        q->epoch = d->producer_epoch;
        q->fresh = true;
        q->next_seq = 0;
        q->durable_seq = -1;
        q->durable_offset = -1;
        q->nak_seq = -1;
    }
    return s;
}

enum ingest_outcome ingest_on_produce(struct ingest *in, struct ingest_part *p,
                                      const struct udp_produce *d, void *buf,
                                      const struct ingest_peer *from, int64_t now_ms,
                                      uint64_t now_ns)
{
    bool fenced;
    int32_t s = producer_for(in, p, d, &fenced);
    if (s < 0) {
        send_nak_stateless(in, p, d, from, KERR_KAFKA_STORAGE_ERROR, -1);
        return drop(in, buf, INGEST_BACKLOG, &in->stats.backlog);
    }
    struct ingest_producer *q = &p->producers[s];
    p->last_slot = s;
    q->last_ns = now_ns;
    if (fenced) {
        send_nak_stateless(in, p, d, from, UDP_WIRE_INVALID_PRODUCER_EPOCH, -1);
        return drop(in, buf, INGEST_FENCED, &in->stats.fenced);
    }
    q->peer = *from;
    if (q->fresh && d->base_sequence != 0) {
        send_nak(in, p, q, UDP_WIRE_UNKNOWN_PRODUCER_ID, 0, now_ns);
        return drop(in, buf, INGEST_UNKNOWN_PRODUCER, &in->stats.unknown_producer);
    }
    int32_t ahead = udp_wire_seq_diff(d->base_sequence, q->next_seq);
    if (ahead > 0) {
        send_nak(in, p, q, UDP_WIRE_OUT_OF_ORDER_SEQUENCE, q->next_seq, now_ns);
        return drop(in, buf, INGEST_GAP, &in->stats.gaps);
    }
    if (ahead < 0 && !q->fresh) {
        if (udp_wire_seq_diff(d->last_sequence, q->next_seq) < 0) {
            ack_due(in, p, s); /* its ACK may have been lost: repeat it */
            return drop(in, buf, INGEST_DUPLICATE, &in->stats.duplicates);
        }
        send_nak(in, p, q, UDP_WIRE_OUT_OF_ORDER_SEQUENCE, q->next_seq, now_ns);
        return drop(in, buf, INGEST_OVERLAP, &in->stats.overlaps);
    }
    if (p->tail - p->head > p->mask) {
        in->ops.mark_dirty(in->ctx, p->cookie);
        return drop(in, buf, INGEST_BACKLOG, &in->stats.backlog);
    }
    struct log_append_result res;
    int rc = log_append(p->log, d->batch, d->batch_len, now_ms, &res);
    if (rc == -EAGAIN) {
        in->ops.mark_dirty(in->ctx, p->cookie);
        return drop(in, buf, INGEST_BACKLOG, &in->stats.backlog);
    }
    if (rc != 0) {
        send_nak(in, p, q, rc > 0 ? (int16_t)rc : KERR_KAFKA_STORAGE_ERROR, q->next_seq, now_ns);
        return drop(in, buf, INGEST_REFUSED, &in->stats.refused);
    }
    p->ring[p->tail++ & p->mask] = (struct pending){ .buf = buf, .rx_ns = now_ns,
                                                     .last_offset = res.last_offset,
                                                     .last_seq = d->last_sequence,
                                                     .epoch = q->epoch, .producer = (uint16_t)s };
    q->inflight++;
    q->fresh = false;
    q->next_seq = udp_wire_seq_add(d->last_sequence, 1);
    in->stats.appended++;
    in->stats.records += (uint64_t)d->records;
    in->stats.bytes += d->batch_len;
    in->ops.mark_dirty(in->ctx, p->cookie);
    part_activate(in, p);
    return INGEST_APPENDED;
}

/* --- after the flush ------------------------------------------------------ */

/* A failed log will write nothing more: its buffers go back, and its
 * producers hear KAFKA_STORAGE_ERROR. */
static int part_fail(struct ingest *in, struct ingest_part *p, uint64_t now_ns)
{
    int work = 0;
    for (; p->head != p->tail; p->head++) {
        struct pending *e = &p->ring[p->head & p->mask];
        struct ingest_producer *q = &p->producers[e->producer];
        if (e->buf)
            in->ops.release(in->ctx, e->buf);
        q->inflight--;
        send_nak(in, p, q, KERR_KAFKA_STORAGE_ERROR, q->next_seq, now_ns);
        work++;
    }
    p->written = p->tail;
    return work;
}

static int part_do_work(struct ingest *in, struct ingest_part *p, uint64_t now_ns)
{
    if (log_error(p->log))
        return part_fail(in, p, now_ns);
    int work = 0;
    int64_t written = log_written_end(p->log), durable = log_durable_end(p->log);
    for (; p->written != p->tail; p->written++, work++) {
        struct pending *e = &p->ring[p->written & p->mask];
        if (e->last_offset >= written)
            break;
        in->ops.release(in->ctx, e->buf);
        e->buf = NULL;
        if (in->cfg.append_latency && now_ns > e->rx_ns)
            duty_cycle_record(in->cfg.append_latency, now_ns - e->rx_ns);
    }
    for (; p->head != p->written; p->head++) {
        struct pending *e = &p->ring[p->head & p->mask];
        if (e->last_offset >= durable)
            break;
        struct ingest_producer *q = &p->producers[e->producer];
        q->inflight--;
        if (e->epoch == q->epoch) {
            q->durable_seq = e->last_seq;
            q->durable_offset = e->last_offset;
            ack_due(in, p, e->producer);
        }
    }
    for (uint32_t i = 0; i < p->ndue; i++) {
        struct ingest_producer *q = &p->producers[p->due[i]];
        q->ack_due = false;
        if (q->pid >= 0 && q->durable_seq >= 0) {
            send_reply(in, p, q, UDP_WIRE_ACK, 0, q->durable_seq, q->durable_offset);
            work++;
        }
    }
    p->ndue = 0;
    return work;
}

int ingest_do_work(struct ingest *in, uint64_t now_ns)
{
    int work = 0;
    struct ingest_part **pp = &in->active;
    while (*pp) {
        struct ingest_part *p = *pp;
        work += part_do_work(in, p, now_ns);
        if (p->head == p->tail && p->ndue == 0) {
            *pp = p->anext;
            p->active = false;
        } else {
            pp = &p->anext;
        }
    }
    return work;
}

bool ingest_busy(const struct ingest *in)
{
    for (const struct ingest_part *p = in->active; p; p = p->anext)
        if (p->written != p->tail)
            return true;
    return false;
}

const struct ingest_stats *ingest_stats(const struct ingest *in)
{
    return &in->stats;
}
