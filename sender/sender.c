/* sender.c - libsluice-send's protocol: records packed into idempotent
 * RecordBatches, one per datagram, a window of unacknowledged datagrams,
 * ACKs, NAKs, retransmission (see sluice_send.h and
 * docs/udp-protocol.md).
 *
 * The window is a ring of datagram slots, allocated once:
 *   [head, sent)   sent, waiting for an ACK
 *   sent           the slot being filled (open), if any
 * A slot keeps the whole datagram, so a retransmission is the same bytes
 * (or, after a new epoch, the same records renumbered). Transports only
 * carry bytes; no allocation after sluice_sender_create. */
#include "sender/sluice_send.h"
#include "sender/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/dpdk/udp_wire.h"
#include "storage/batch.h"
#include "storage/batch_build.h"
#include "storage/crc32c.h"
#include "storage/kerr.h"

#define RTO_MIN_NS 20000000ull    /* 20 ms */
#define RTO_MAX_NS 1000000000ull  /* 1 s */

struct slot {
    uint8_t *buf;
    uint32_t len;
    int32_t base_seq, last_seq;
    int32_t records;
    uint64_t sent_ns;
};

struct sluice_sender {
    struct sluice_send_config cfg;
    char topic[UDP_WIRE_TOPIC_MAX + 1];
    size_t topic_len;
    struct send_transport *t;
    struct slot *slots;
    uint8_t *mem;
    uint32_t mask;                /* slots - 1 */
    uint32_t head, sent;          /* see the top of the file */
    bool open;                    /* slots[sent] is being filled */
    struct batch_builder b;
    size_t hdr_len;               /* datagram header before the batch */
    int32_t next_seq;             /* base sequence of the next datagram */
    int64_t pid;
    int16_t epoch;
    uint64_t unacked_records;
    uint64_t rto_ns;
    int32_t resent_from;          /* the last go-back-N, and when */
    uint64_t resent_ns;
    uint64_t first_tx;            /* first transmissions, for test_*_every */
    int error;
    char errmsg[256];
    struct sluice_send_stats stats;
    uint8_t rx[2048];
};

void sluice_send_config_defaults(struct sluice_send_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->transport = SLUICE_SEND_UDP;
    cfg->producer_id = -1;
    cfg->window = 1024;
    cfg->max_datagram = 1472;
    cfg->dpdk_port = "0";
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fail(struct sluice_sender *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct sluice_sender *s, int rc, const char *fmt, ...)
{
    if (!s->error) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
        va_end(ap);
        s->error = rc;
    }
    return s->error;
}

static int parse_addr(const char *str, uint32_t *ip, uint16_t *port)
{
    char buf[64];
    const char *colon = str ? strrchr(str, ':') : NULL;
    struct in_addr a;
    char *end;
    if (!colon || (size_t)(colon - str) >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, str, (size_t)(colon - str));
    buf[colon - str] = '\0';
    long p = strtol(colon + 1, &end, 10);
    if (inet_pton(AF_INET, buf, &a) != 1 || *end || p <= 0 || p > 65535)
        return -EINVAL;
    *ip = ntohl(a.s_addr);
    *port = (uint16_t)p;
    return 0;
}

static int64_t random_pid(void)
{
    uint64_t v = now_ns() ^ ((uint64_t)getpid() << 32);
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&v, sizeof(v), 1, f) != 1)
            v ^= (uint64_t)clock();
        fclose(f);
    }
    return (int64_t)((v & ((1ull << 62) - 1)) | (1ull << 62));
}

int sluice_sender_create(struct sluice_sender **out, const struct sluice_send_config *cfg,
                         char *err, size_t errlen)
{
    uint32_t ip;
    uint16_t port;
    size_t tl = cfg->topic ? strlen(cfg->topic) : 0;
    if (parse_addr(cfg->broker, &ip, &port) < 0) {
        snprintf(err, errlen, "broker address '%s': expected A.B.C.D:PORT",
                 cfg->broker ? cfg->broker : "");
        return -EINVAL;
    }
    if (tl == 0 || tl > UDP_WIRE_TOPIC_MAX || cfg->partition < 0 || cfg->window == 0 ||
        cfg->max_datagram > 65507 ||
        cfg->max_datagram < UDP_WIRE_FIXED + tl + UDP_WIRE_PRODUCE_BODY + BATCH_HEADER_SIZE + 8) {
        snprintf(err, errlen, "bad topic, partition, window or datagram size");
        return -EINVAL;
    }
    struct sluice_sender *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->cfg = *cfg;
    memcpy(s->topic, cfg->topic, tl);
    s->topic_len = tl;
    s->cfg.topic = s->topic;
    uint32_t n = 1;
    while (n < cfg->window)
        n <<= 1;
    s->mask = n - 1;
    s->slots = calloc(n, sizeof(*s->slots));
    s->mem = malloc((size_t)n * cfg->max_datagram);
    if (!s->slots || !s->mem) {
        sluice_sender_destroy(s);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++)
        s->slots[i].buf = s->mem + (size_t)i * cfg->max_datagram;
    s->hdr_len = UDP_WIRE_FIXED + tl + UDP_WIRE_PRODUCE_BODY;
    s->pid = cfg->producer_id >= 0 ? cfg->producer_id : random_pid();
    s->epoch = cfg->producer_epoch;
    s->rto_ns = RTO_MIN_NS;
    s->resent_from = -1;
    s->stats.last_offset = -1;
    int rc = cfg->transport == SLUICE_SEND_DPDK
                 ? send_transport_dpdk(&s->t, cfg, ip, port, err, errlen)
                 : send_transport_udp(&s->t, cfg, ip, port, err, errlen);
    if (rc < 0) {
        sluice_sender_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

void sluice_sender_destroy(struct sluice_sender *s)
{
    if (!s)
        return;
    if (s->t)
        s->t->destroy(s->t);
    free(s->slots);
    free(s->mem);
    free(s);
}

/* --- datagrams -------------------------------------------------------------- */

static uint32_t in_flight(const struct sluice_sender *s)
{
    return s->sent - s->head;
}

static void transmit(struct sluice_sender *s, struct slot *sl, bool first)
{
    sl->sent_ns = now_ns();
    if (first) {
        uint64_t k = ++s->first_tx;
        s->stats.datagrams++;
        s->stats.bytes += sl->len;
        if (s->cfg.test_drop_every && k % s->cfg.test_drop_every == 0)
            return;
        if (s->cfg.test_dup_every && k % s->cfg.test_dup_every == 0)
            s->t->send(s->t, sl->buf, sl->len);
    } else {
        s->stats.retransmits++;
    }
    s->t->send(s->t, sl->buf, sl->len);
}

/* The datagram header for the slot's records from sequence seq (the
 * batch already says the same). */
static void stamp_header(struct sluice_sender *s, struct slot *sl, int32_t seq)
{
    udp_wire_put_produce_header(sl->buf, s->hdr_len, s->topic, s->topic_len,
                                s->cfg.partition, s->pid, s->epoch, seq);
    sl->base_seq = seq;
    sl->last_seq = udp_wire_seq_add(seq, sl->records - 1);
}

/* Renumbers a slot: the batch's producer fields, the CRC they are under,
 * and the header. */
static void restamp(struct sluice_sender *s, struct slot *sl, int32_t seq)
{
    uint8_t *batch = sl->buf + s->hdr_len;
    be16_store(batch + BATCH_OFF_PRODUCER_EPOCH, (uint16_t)s->epoch);
    be32_store(batch + BATCH_OFF_BASE_SEQUENCE, (uint32_t)seq);
    size_t blen = sl->len - s->hdr_len;
    be32_store(batch + BATCH_OFF_CRC,
               crc32c(batch + BATCH_OFF_ATTRIBUTES, blen - BATCH_OFF_ATTRIBUTES));
    stamp_header(s, sl, seq);
}

/* Closes the open slot and sends it. */
static void close_slot(struct sluice_sender *s)
{
    struct slot *sl = &s->slots[s->sent & s->mask];
    batch_builder_set_producer(&s->b, s->pid, s->epoch, s->next_seq);
    size_t blen = batch_builder_finish(&s->b, 0);
    s->open = false;
    if (blen == 0)
        return;
    sl->len = (uint32_t)(s->hdr_len + blen);
    sl->records = s->b.count;
    stamp_header(s, sl, s->next_seq);
    s->next_seq = udp_wire_seq_add(sl->last_seq, 1);
    s->sent++;
    transmit(s, sl, true);
}

int sluice_sender_send(struct sluice_sender *s, const void *key, size_t key_len,
                       const void *value, size_t value_len, int64_t ts_ms)
{
    if (s->error)
        return s->error;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!s->open) {
            if (in_flight(s) > s->mask || in_flight(s) >= s->cfg.window)
                return -EAGAIN;
            struct slot *sl = &s->slots[s->sent & s->mask];
            batch_builder_init(&s->b, sl->buf + s->hdr_len, s->cfg.max_datagram - s->hdr_len,
                               ts_ms);
            s->open = true;
        }
        int rc = batch_builder_add(&s->b, ts_ms, key, key_len, value, value_len, NULL, 0);
        if (rc == 0) {
            s->stats.records++;
            s->unacked_records++;
            if (s->cfg.records_per_datagram && (uint32_t)s->b.count >= s->cfg.records_per_datagram)
                close_slot(s);
            return 0;
        }
        if (rc != -ENOSPC || s->b.count == 0)
            return -EMSGSIZE;
        close_slot(s); /* full: send it, start the next */
    }
    return -EMSGSIZE;
}

int sluice_sender_flush(struct sluice_sender *s)
{
    if (s->error)
        return s->error;
    if (s->open)
        close_slot(s);
    s->t->flush(s->t);
    return 0;
}

/* --- replies ---------------------------------------------------------------- */

static void on_ack(struct sluice_sender *s, const struct udp_reply *r)
{
    uint64_t now = now_ns();
    bool progress = false;
    while (s->head != s->sent) {
        struct slot *sl = &s->slots[s->head & s->mask];
        if (udp_wire_seq_diff(sl->last_seq, r->sequence) > 0)
            break;
        s->stats.acked_records += (uint64_t)sl->records;
        s->unacked_records -= (uint64_t)sl->records;
        s->stats.rtt_ns_last = now - sl->sent_ns;
        s->head++;
        progress = true;
    }
    if (progress) {
        s->stats.last_offset = r->offset;
        s->rto_ns = RTO_MIN_NS;
    }
}

/* Sends again every unacknowledged datagram from slot index i on. */
static void resend_from(struct sluice_sender *s, uint32_t i)
{
    for (; i != s->sent; i++)
        transmit(s, &s->slots[i & s->mask], false);
    s->t->flush(s->t);
}

/* The broker lost (or never had) this producer: a new epoch, and what is
 * unacknowledged numbered from 0 again. */
static void new_epoch(struct sluice_sender *s)
{
    s->epoch++;
    s->stats.epochs++;
    int32_t seq = 0;
    for (uint32_t i = s->head; i != s->sent; i++) {
        struct slot *sl = &s->slots[i & s->mask];
        restamp(s, sl, seq);
        seq = udp_wire_seq_add(sl->last_seq, 1);
    }
    s->next_seq = seq;
    s->resent_from = -1;
    resend_from(s, s->head);
}

static void on_nak(struct sluice_sender *s, const struct udp_reply *r)
{
    switch (r->error) {
    case UDP_WIRE_OUT_OF_ORDER_SEQUENCE: {
        uint64_t now = now_ns();
        if (r->sequence == s->resent_from && now - s->resent_ns < RTO_MIN_NS / 4)
            return; /* the same NAK again: our re-sends are on their way */
        for (uint32_t i = s->head; i != s->sent; i++) {
            if (s->slots[i & s->mask].base_seq == r->sequence) {
                s->resent_from = r->sequence;
                s->resent_ns = now;
                resend_from(s, i);
                return;
            }
        }
        return; /* acknowledged meanwhile, or not ours to mend */
    }
    case UDP_WIRE_UNKNOWN_PRODUCER_ID:
        /* The broker wants sequence 0 first. Still holding it (the first
         * datagrams were lost): send again from there. Not (it was
         * acknowledged, and the broker has since lost us): a new epoch. */
        if (s->head != s->sent && s->slots[s->head & s->mask].base_seq == 0) {
            resend_from(s, s->head);
            return;
        }
        new_epoch(s);
        return;
    default:
        fail(s, -EPROTO, "the broker refused a datagram of %s-%d: Kafka error %d", s->topic,
             s->cfg.partition, r->error);
        return;
    }
}

static void on_reply(struct sluice_sender *s, const uint8_t *d, size_t len, uint16_t src_port)
{
    struct udp_reply r;
    if (udp_wire_parse_reply(d, len, &r) != UDP_WIRE_OK || r.producer_id != s->pid ||
        r.partition != s->cfg.partition || r.topic_len != s->topic_len ||
        memcmp(r.topic, s->topic, s->topic_len) != 0)
        return;
    /* Replies come from the shard owning the partition: go there. */
    s->t->set_port(s->t, src_port);
    if (r.producer_epoch != s->epoch) {
        if (r.error == UDP_WIRE_INVALID_PRODUCER_EPOCH)
            fail(s, -EPROTO, "producer %lld epoch %d is fenced", (long long)s->pid, s->epoch);
        return; /* about an epoch we left */
    }
    if (r.type == UDP_WIRE_ACK) {
        s->stats.acks++;
        on_ack(s, &r);
    } else {
        s->stats.naks++;
        on_nak(s, &r);
    }
}

static int drain(struct sluice_sender *s)
{
    int n = 0;
    for (;;) {
        uint16_t port;
        int len = s->t->recv(s->t, s->rx, sizeof(s->rx), &port);
        if (len <= 0)
            return n;
        on_reply(s, s->rx, (size_t)len, port);
        n++;
    }
}

static void check_timeout(struct sluice_sender *s)
{
    if (s->head == s->sent)
        return;
    uint64_t now = now_ns();
    if (now - s->slots[s->head & s->mask].sent_ns < s->rto_ns)
        return;
    s->stats.timeouts++;
    s->rto_ns = s->rto_ns * 2 > RTO_MAX_NS ? RTO_MAX_NS : s->rto_ns * 2;
    resend_from(s, s->head);
}

int sluice_sender_poll(struct sluice_sender *s, int timeout_ms)
{
    if (s->error)
        return s->error;
    s->t->flush(s->t);
    int n = drain(s);
    if (n == 0 && timeout_ms > 0 && s->head != s->sent) {
        s->t->wait(s->t, timeout_ms);
        n = drain(s);
    }
    check_timeout(s);
    return s->error ? s->error : n;
}

int sluice_sender_wait(struct sluice_sender *s, int timeout_ms)
{
    int rc = sluice_sender_flush(s);
    if (rc < 0)
        return rc;
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
    while (s->head != s->sent) {
        if (now_ns() >= deadline) {
            snprintf(s->errmsg, sizeof(s->errmsg), "%llu records unacknowledged after %d ms",
                     (unsigned long long)s->unacked_records, timeout_ms);
            return -ETIMEDOUT; /* not for good: waiting longer may do */
        }
        rc = sluice_sender_poll(s, 5);
        if (rc < 0)
            return rc;
    }
    return 0;
}

uint64_t sluice_sender_unacked(const struct sluice_sender *s)
{
    return s->unacked_records;
}

const struct sluice_send_stats *sluice_sender_stats(const struct sluice_sender *s)
{
    return &s->stats;
}

const char *sluice_sender_error(const struct sluice_sender *s)
{
    return s->errmsg;
}
