/* dpdk_bench.c - the DPDK ingest benchmark's two ends, each a DPDK
 * process of its own on a net_memif port (the broker, or the sink, is the
 * memif server; this sender the client).
 *
 *   dpdk_bench --mode sink --eal "ARGS" --ip A.B.C.D/N --seconds S
 *       the machine's raw receive rate over the same memif link: bursts
 *       received and freed, ARP answered, nothing else; it waits up to S
 *       for the sender and ends a second after the sender's last datagram
 *   dpdk_bench --mode send --eal "ARGS" --ip A.B.C.D/N --to A.B.C.D:PORT
 *              --topic T --size B --seconds S [--rate R] [--window W] [--acks]
 *       native UDP produce datagrams (docs/udp-protocol.md) of one record
 *       of B bytes each, numbered 0, 1, 2... by one producer, as fast as the
 *       link takes them or paced at R per second; with --acks (a broker at
 *       the other end) at most W unacknowledged, and the time from each
 *       datagram's send to the ACK covering it is measured
 *
 * Datagrams are built from one template per run (the sequence, the CRC
 * and the UDP checksum change per datagram): the sender does per datagram
 * what any native sender must, no more. memif does not drop: when the
 * receiver falls behind, the sender's TX ring fills and it waits, so the
 * rate measured is the receiver's. Ends with a RESULT line (bench/run).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dataplane/dpdk/eal.h"
#include "dataplane/dpdk/net.h"
#include "dataplane/dpdk/udp_wire.h"
#include "hist.h"
#include "storage/batch.h"
#include "storage/batch_build.h"
#include "storage/crc32c.h"

#define BURST 32
#define RTO_MIN_NS 20000000ull    /* 20 ms */
#define RTO_MAX_NS 1000000000ull  /* 1 s */
#define POOL 16383
#define PID 4242

struct opts {
    const char *mode, *eal, *port, *ip, *to, *topic;
    size_t size;
    double seconds, rate, warmup;
    uint32_t window;
    bool acks;
};

struct port {
    uint16_t id;
    struct rte_mempool *pool;
    struct net_iface ifc;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int usage(void)
{
    fprintf(stderr, "usage: dpdk_bench --mode sink|send --eal \"ARGS\" --ip A.B.C.D/N\n"
                    "       [--to A.B.C.D:PORT --topic T --size B] [--seconds S] [--rate R]\n"
                    "       [--window W] [--warmup S] [--acks] [--port P]\n");
    return 2;
}

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        { "mode", 1, NULL, 'm' }, { "eal", 1, NULL, 'e' }, { "port", 1, NULL, 'p' },
        { "ip", 1, NULL, 'i' }, { "to", 1, NULL, 't' }, { "topic", 1, NULL, 'T' },
        { "size", 1, NULL, 's' }, { "seconds", 1, NULL, 'S' }, { "rate", 1, NULL, 'r' },
        { "window", 1, NULL, 'w' }, { "warmup", 1, NULL, 'W' }, { "acks", 0, NULL, 'a' },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct opts){ .port = "0", .topic = "dpdk-bench", .size = 64, .seconds = 5,
                        .window = 4096 };
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o->mode = optarg; break;
        case 'e': o->eal = optarg; break;
        case 'p': o->port = optarg; break;
        case 'i': o->ip = optarg; break;
        case 't': o->to = optarg; break;
        case 'T': o->topic = optarg; break;
        case 's': o->size = strtoul(optarg, NULL, 10); break;
        case 'S': o->seconds = strtod(optarg, NULL); break;
        case 'r': o->rate = strtod(optarg, NULL); break;
        case 'w': o->window = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'W': o->warmup = strtod(optarg, NULL); break;
        case 'a': o->acks = true; break;
        default: return -1;
        }
    }
    if (!o->mode || !o->eal || !o->ip || (strcmp(o->mode, "sink") && strcmp(o->mode, "send")) ||
        (!strcmp(o->mode, "send") && !o->to) || o->window == 0 || o->size > 1400)
        return -1;
    return 0;
}

static int parse_ip(const char *s, uint32_t *ip, int *extra, char sep)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", s);
    char *x = strchr(buf, sep);
    *extra = -1;
    if (x) {
        *x = '\0';
        *extra = atoi(x + 1);
    }
    struct in_addr a;
    if (inet_pton(AF_INET, buf, &a) != 1)
        return -1;
    *ip = a.s_addr;
    return 0;
}

/* EAL (its -l pins this thread to that core: the benchmark's placement),
 * one queue pair. */
static int port_open(struct port *p, const struct opts *o)
{
    char err[512];
    if (dpdk_eal_start("dpdk_bench", o->eal, false, err, sizeof(err)) < 0) {
        fprintf(stderr, "dpdk_bench: %s\n", err);
        return -1;
    }
    p->id = (uint16_t)atoi(o->port);
    p->pool = rte_pktmbuf_pool_create("bench", POOL, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                      (int)rte_socket_id());
    struct rte_eth_conf conf = { 0 };
    if (!p->pool || rte_eth_dev_configure(p->id, 1, 1, &conf) != 0 ||
        rte_eth_rx_queue_setup(p->id, 0, 1024, rte_eth_dev_socket_id(p->id), NULL, p->pool) ||
        rte_eth_tx_queue_setup(p->id, 0, 1024, rte_eth_dev_socket_id(p->id), NULL) ||
        rte_eth_dev_start(p->id) != 0) {
        fprintf(stderr, "dpdk_bench: port %s: %s\n", o->port, rte_strerror(rte_errno));
        return -1;
    }
    uint32_t ip;
    int prefix;
    if (parse_ip(o->ip, &ip, &prefix, '/') < 0)
        return -1;
    if (prefix < 1)
        prefix = 24;
    struct rte_ether_addr mac;
    rte_eth_macaddr_get(p->id, &mac);
    net_iface_init(&p->ifc, &mac, ip, htonl(prefix == 32 ? UINT32_MAX : ~(UINT32_MAX >> prefix)));
    return 0;
}

static void port_close(struct port *p)
{
    rte_eth_dev_stop(p->id);
    rte_eth_dev_close(p->id);
    rte_eal_cleanup();
}

/* --- sink --------------------------------------------------------------------- */

static int run_sink(const struct opts *o)
{
    struct port p;
    if (port_open(&p, o) < 0)
        return 1;
    printf("sink: ready\n"); /* a memif server listens from here on */
    fflush(stdout);
    struct rte_mbuf *pkts[BURST];
    uint64_t n = 0, bytes = 0, first = 0, last = 0, start = now_ns();
    uint64_t limit = (uint64_t)(o->seconds * 1e9);
    for (;;) {
        uint16_t k = rte_eth_rx_burst(p.id, 0, pkts, BURST);
        uint64_t t = k ? now_ns() : 0;
        for (uint16_t i = 0; i < k; i++) {
            struct net_udp u;
            enum net_verdict v = net_rx(&p.ifc, pkts[i], &u);
            if (v == NET_REPLY) {
                if (rte_eth_tx_burst(p.id, 0, &pkts[i], 1) != 1)
                    rte_pktmbuf_free(pkts[i]);
                continue;
            }
            if (v == NET_UDP) {
                n++;
                bytes += u.len;
            }
            rte_pktmbuf_free(pkts[i]);
        }
        if (k && n && !first)
            first = t;
        if (k)
            last = t;
        uint64_t now = k ? t : now_ns();
        /* Over once the sender has stopped (a second without traffic);
         * --seconds bounds the wait for it to start. */
        if ((first && now - last > 1000000000ull) || (!first && now - start > limit))
            break;
    }
    double secs = first && last > first ? (double)(last - first) / 1e9 : 0;
    printf("sink: %" PRIu64 " datagrams, %" PRIu64 " bytes in %.3f s\n", n, bytes, secs);
    printf("RESULT system=memif mode=sink msgs=%" PRIu64 " msgs_s=%.0f mb_s=%.1f seconds=%.3f\n",
           n, secs > 0 ? (double)n / secs : 0, secs > 0 ? (double)bytes / secs / 1e6 : 0, secs);
    port_close(&p);
    return n ? 0 : 1;
}

/* --- send --------------------------------------------------------------------- */

struct sender {
    const struct opts *o;
    struct port p;
    struct rte_ether_addr dst_mac;
    uint32_t dst_ip;
    uint16_t dst_port;
    uint8_t tmpl[1600];
    size_t len, hdr_len;
    uint64_t sent, acked;       /* datagrams; acked: every seq below it */
    uint64_t high;              /* the highest sent (sent goes back on a NAK) */
    uint64_t last_ack_ns;
    uint64_t *sent_ns;          /* by seq & mask, for the ACK latency */
    uint64_t mask;
    struct hist lat;
    uint64_t record_from_ns;
    uint64_t naks, resent, tx_lost, timeouts;
    uint64_t rto_ns;            /* silence before going back (libsluice-send's) */
    struct rte_mbuf *tx[BURST];
    uint16_t ntx;
};

/* memif: a full ring is the receiver's pace, so wait for room; a
 * receiver that takes nothing for a second is gone (what is left is
 * dropped and counted). */
static void tx_flush(struct sender *s)
{
    uint16_t done = 0;
    uint64_t stuck = 0;
    while (done < s->ntx) {
        uint16_t n = rte_eth_tx_burst(s->p.id, 0, s->tx + done, (uint16_t)(s->ntx - done));
        done += n;
        if (n) {
            stuck = 0;
        } else if (!stuck) {
            stuck = now_ns();
        } else if (now_ns() - stuck > 1000000000ull) {
            for (uint16_t i = done; i < s->ntx; i++)
                rte_pktmbuf_free(s->tx[i]);
            s->tx_lost += s->ntx - done;
            break;
        }
    }
    s->ntx = 0;
}

static void rx_replies(struct sender *s)
{
    struct rte_mbuf *pkts[BURST];
    uint16_t k = rte_eth_rx_burst(s->p.id, 0, pkts, BURST);
    uint64_t t = k ? now_ns() : 0;
    for (uint16_t i = 0; i < k; i++) {
        struct net_udp u;
        struct udp_reply r;
        enum net_verdict v = net_rx(&s->p.ifc, pkts[i], &u);
        if (v == NET_REPLY) {
            s->tx[s->ntx++] = pkts[i];
            if (s->ntx == BURST)
                tx_flush(s);
            continue;
        }
        if (v == NET_UDP && udp_wire_parse_reply(u.payload, u.len, &r) == UDP_WIRE_OK) {
            if (r.type == UDP_WIRE_NAK) {
                /* A gap (the broker had no room: a segment roll, a slow
                 * fdatasync): go back to what it expects, as any sender. */
                s->naks++;
                if (r.error == UDP_WIRE_OUT_OF_ORDER_SEQUENCE && r.sequence >= 0 &&
                    (uint64_t)r.sequence >= s->acked && (uint64_t)r.sequence < s->sent) {
                    s->resent += s->sent - (uint64_t)r.sequence;
                    s->sent = (uint64_t)r.sequence;
                }
            } else if ((uint64_t)r.sequence + 1 > s->acked && (uint64_t)r.sequence < s->sent) {
                /* Every datagram the ACK covers: each waited until now. */
                s->last_ack_ns = t;
                s->rto_ns = RTO_MIN_NS;
                for (; s->acked <= (uint64_t)r.sequence; s->acked++) {
                    uint64_t sent_at = s->sent_ns[s->acked & s->mask];
                    if (sent_at >= s->record_from_ns)
                        hist_record(&s->lat, t - sent_at);
                }
                s->dst_port = ntohs(u.src_port); /* the owning shard's port */
            }
        }
        rte_pktmbuf_free(pkts[i]);
    }
}

/* The broker drops a datagram it has no room for without a NAK (a NAK
 * comes only with the next datagram it sees), so a lost tail, or a full
 * window behind a loss, is mended by a timeout: after a silence of rto_ns
 * since the oldest unacknowledged datagram was sent, go back to it, as
 * docs/udp-protocol.md asks of senders (20 ms, doubling up to 1 s). */
static void check_timeout(struct sender *s, uint64_t now)
{
    if (!s->o->acks || s->acked >= s->sent ||
        now - s->sent_ns[s->acked & s->mask] < s->rto_ns)
        return;
    s->timeouts++;
    s->resent += s->sent - s->acked;
    s->sent = s->acked;
    s->rto_ns = s->rto_ns * 2 > RTO_MAX_NS ? RTO_MAX_NS : s->rto_ns * 2;
}

static int resolve(struct sender *s)
{
    uint64_t end = now_ns() + 10000000000ull, next = 0;
    struct rte_eth_link link;
    do {
        rte_eth_link_get_nowait(s->p.id, &link);
    } while (!link.link_status && now_ns() < end);
    while (!net_arp_lookup(&s->p.ifc, s->dst_ip, &s->dst_mac)) {
        if (now_ns() > end) {
            fprintf(stderr, "dpdk_bench: no link or no ARP answer from the receiver\n");
            return -1;
        }
        if (now_ns() > next) {
            struct rte_mbuf *m = rte_pktmbuf_alloc(s->p.pool);
            if (m && net_put_arp_request(&s->p.ifc, m, s->dst_ip) == 0) {
                s->tx[s->ntx++] = m;
                tx_flush(s);
            }
            next = now_ns() + 100000000ull;
        }
        rx_replies(s);
    }
    return 0;
}

/* The datagram for sequence 0; each send patches its sequence. */
static void build_template(struct sender *s)
{
    const struct opts *o = s->o;
    s->hdr_len = udp_wire_put_produce_header(s->tmpl, sizeof(s->tmpl), o->topic,
                                             strlen(o->topic), 0, PID, 0, 0);
    uint8_t value[1500];
    for (size_t i = 0; i < o->size; i++)
        value[i] = (uint8_t)('a' + i % 26);
    struct batch_builder b;
    batch_builder_init(&b, s->tmpl + s->hdr_len, sizeof(s->tmpl) - s->hdr_len, 1700000000000ll);
    batch_builder_set_producer(&b, PID, 0, 0);
    batch_builder_add(&b, 1700000000000ll, NULL, 0, value, o->size, NULL, 0);
    s->len = s->hdr_len + batch_builder_finish(&b, 0);
}

static void send_one(struct sender *s)
{
    uint8_t *batch = s->tmpl + s->hdr_len;
    uint32_t seq = (uint32_t)(s->sent & INT32_MAX);
    be32_store(s->tmpl + s->hdr_len - 4, seq);
    be32_store(batch + BATCH_OFF_BASE_SEQUENCE, seq);
    be32_store(batch + BATCH_OFF_CRC, crc32c(batch + BATCH_OFF_ATTRIBUTES,
                                             s->len - s->hdr_len - BATCH_OFF_ATTRIBUTES));
    struct rte_mbuf *m;
    while (!(m = rte_pktmbuf_alloc(s->p.pool)))
        tx_flush(s);
    net_put_udp(&s->p.ifc, m, &s->dst_mac, s->dst_ip, htons(40000), htons(s->dst_port),
                s->tmpl, (uint16_t)s->len);
    s->sent_ns[s->sent & s->mask] = now_ns();
    s->sent++;
    if (s->sent > s->high)
        s->high = s->sent;
    s->tx[s->ntx++] = m;
    if (s->ntx == BURST)
        tx_flush(s);
}

static int run_send(const struct opts *o)
{
    struct sender s = { .o = o, .rto_ns = RTO_MIN_NS };
    int port;
    if (parse_ip(o->to, &s.dst_ip, &port, ':') < 0 || port <= 0 || port_open(&s.p, o) < 0)
        return 1;
    s.dst_port = (uint16_t)port;
    for (s.mask = 1; s.mask < o->window; s.mask <<= 1)
        ;
    s.sent_ns = calloc(s.mask, sizeof(*s.sent_ns));
    s.mask--;
    hist_init(&s.lat);
    build_template(&s);
    if (!s.sent_ns || resolve(&s) < 0)
        return 1;
    uint64_t start = now_ns(), end = start + (uint64_t)(o->seconds * 1e9);
    s.record_from_ns = start + (uint64_t)(o->warmup * 1e9);
    double interval = o->rate > 0 ? 1e9 / o->rate : 0;
    uint64_t now = start;
    while (now < end) {
        uint64_t due = interval > 0 ? (uint64_t)((double)(now - start) / interval) + 1 : UINT64_MAX;
        int n = 0;
        while (s.sent < due && n < BURST && (!o->acks || s.sent - s.acked < o->window)) {
            send_one(&s);
            n++;
        }
        if (s.ntx)
            tx_flush(&s);
        if (o->acks)
            rx_replies(&s);
        now = now_ns();
        check_timeout(&s, now);
    }
    /* The end: what was sent is re-sent where NAKs ask, until all of it is
     * acknowledged (bounded). */
    uint64_t sent_end = now;
    uint64_t drain = now + 10000000000ull;
    while (o->acks && s.acked < s.high && now_ns() < drain) {
        for (int n = 0; s.sent < s.high && n < BURST && s.sent - s.acked < o->window; n++)
            send_one(&s);
        if (s.ntx)
            tx_flush(&s);
        rx_replies(&s);
        check_timeout(&s, now_ns());
    }
    s.sent = s.high;
    uint64_t done = o->acks ? s.acked : s.sent - s.tx_lost;
    /* Acknowledged: up to the last ACK; else up to the last send. */
    uint64_t last = o->acks && s.last_ack_ns > start ? s.last_ack_ns : sent_end;
    double secs = (double)(last - start) / 1e9;
    printf("send: %" PRIu64 " datagrams of %zu bytes (%zu-byte records), %" PRIu64
           " acknowledged, %" PRIu64 " NAKs, %" PRIu64 " timeouts, %" PRIu64
           " re-sent, in %.3f s\n", s.sent, s.len, o->size, s.acked, s.naks, s.timeouts,
           s.resent, secs);
    printf("RESULT system=%s mode=send size=%zu msgs=%" PRIu64 " msgs_s=%.0f mb_s=%.1f "
           "datagram_bytes=%zu acked=%" PRIu64 " naks=%" PRIu64 " resent=%" PRIu64
           " ack_p50_us=%.1f ack_p99_us=%.1f ack_p999_us=%.1f ack_max_us=%.1f seconds=%.3f\n",
           o->acks ? "sluice" : "memif", o->size, done, (double)done / secs,
           (double)done * (double)o->size / secs / 1e6, s.len, s.acked, s.naks, s.resent,
           hist_percentile(&s.lat, 50) / 1e3, hist_percentile(&s.lat, 99) / 1e3,
           hist_percentile(&s.lat, 99.9) / 1e3, hist_percentile(&s.lat, 100) / 1e3, secs);
    port_close(&s.p);
    free(s.sent_ns);
    return (!o->acks || s.acked == s.sent) && s.tx_lost == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o) < 0)
        return usage();
    return strcmp(o.mode, "sink") == 0 ? run_sink(&o) : run_send(&o);
}
