/* queue.c - one shard's RX/TX queue pair on the DPDK port: receive bursts,
 * classify (net.c), native datagrams to ingest.c (capture datagrams to
 * queue_capture.c), hand-offs to and from other shards, replies out (see
 * dpdk.h).
 *
 * Everything here runs on the owning shard's thread; the only memory
 * another thread touches is an mbuf handed off (its pointer travels on an
 * SPSC ring, and the receiving shard owns it from then on) and the
 * mempool, which DPDK makes safe for that. No allocation on the data path:
 * replies take mbufs from the pool, nothing else is made per packet. */
#include "dataplane/dpdk/queue_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "storage/kerr.h"

/* --- sending ---------------------------------------------------------------- */

void dpdk_tx_flush(struct dpdk_queue *q)
{
    uint16_t sent = 0;
    for (int tries = 0; tries < 4 && sent < q->ntx; tries++)
        sent += rte_eth_tx_burst(q->port_id, q->qid, q->tx + sent, (uint16_t)(q->ntx - sent));
    q->stats.tx_packets += sent;
    for (uint16_t i = sent; i < q->ntx; i++) {
        rte_pktmbuf_free(q->tx[i]);
        q->stats.tx_dropped++;
    }
    q->ntx = 0;
}

void dpdk_tx_queue(struct dpdk_queue *q, struct rte_mbuf *m)
{
    if (q->ntx == TX_MAX)
        dpdk_tx_flush(q);
    q->tx[q->ntx++] = m;
}

/* An ACK or NAK from this shard's native port to the sender. */
static void on_reply(void *ctx, const struct ingest_peer *to, const uint8_t *dgram, size_t len)
{
    struct dpdk_queue *q = ctx;
    struct rte_mbuf *m = rte_pktmbuf_alloc(q->port->pool);
    if (!m) {
        q->stats.no_mbuf++;
        return;
    }
    struct rte_ether_addr mac;
    memcpy(mac.addr_bytes, to->mac, sizeof(mac.addr_bytes));
    uint16_t port = rte_cpu_to_be_16((uint16_t)(q->port->udp_base + q->shard));
    if (net_put_udp(&q->ifc, m, &mac, to->ip, port, to->port, dgram, (uint16_t)len) < 0) {
        rte_pktmbuf_free(m);
        q->stats.no_mbuf++;
        return;
    }
    dpdk_tx_queue(q, m);
}

static void on_release(void *ctx, void *buf)
{
    (void)ctx;
    rte_pktmbuf_free(buf);
}

static void on_dirty(void *ctx, void *cookie)
{
    struct dpdk_queue *q = ctx;
    q->ops.mark_dirty(q->ctx, cookie);
}

static const struct ingest_ops ingest_ops = { on_reply, on_release, on_dirty };

/* --- receiving -------------------------------------------------------------- */

void dpdk_handoff_to(struct dpdk_queue *q, int owner, struct rte_mbuf *m)
{
    if (spsc_ring_enqueue(dpdk_handoff(q->port, q->shard, owner), m) != 0) {
        q->stats.handoff_dropped++;
        rte_pktmbuf_free(m);
        return;
    }
    q->stats.handoff_out++;
}

/* The shard owning d's partition (DPDK_ROUTE_* when none), through the
 * one-entry cache. */
static int route(struct dpdk_queue *q, const struct udp_produce *d, struct log **log,
                 void **cookie)
{
    struct route_cache *c = &q->route;
    if (c->valid && c->partition == d->partition && c->topic_len == d->topic_len &&
        memcmp(c->topic, d->topic, d->topic_len) == 0) {
        *log = c->log;
        *cookie = c->cookie;
        return c->owner;
    }
    int owner = q->ops.route(q->ctx, d->topic, d->topic_len, d->partition, log, cookie);
    if (owner >= 0) {
        *c = (struct route_cache){ .valid = true, .topic_len = d->topic_len,
                                   .partition = d->partition, .owner = owner, .log = *log,
                                   .cookie = *cookie };
        memcpy(c->topic, d->topic, d->topic_len);
    }
    return owner;
}

void dpdk_route_forget(struct dpdk_queue *q)
{
    q->route.valid = false;
}

/* A native datagram: parsed, routed to its partition's shard, appended. */
static void on_native(struct dpdk_queue *q, struct rte_mbuf *m, const struct net_udp *u,
                      bool handed)
{
    struct udp_produce d;
    if (udp_wire_type(u->payload, u->len) != UDP_WIRE_PRODUCE ||
        udp_wire_parse_produce(u->payload, u->len, &d) != UDP_WIRE_OK) {
        q->stats.bad_datagram++;
        rte_pktmbuf_free(m);
        return;
    }
    struct ingest_peer peer = { .port = u->src_port, .ip = u->src_ip };
    memcpy(peer.mac, u->src_mac.addr_bytes, sizeof(peer.mac));
    struct log *log = NULL;
    void *cookie = NULL;
    int owner = route(q, &d, &log, &cookie);
    if (owner < 0 || (owner != q->shard && handed)) {
        q->stats.unknown_partition++;
        ingest_reject(q->ingest, &d, m, &peer,
                      owner == DPDK_ROUTE_UNKNOWN ? KERR_UNKNOWN_TOPIC_OR_PARTITION
                                                  : KERR_NOT_LEADER_OR_FOLLOWER);
        return;
    }
    if (owner != q->shard) {
        dpdk_handoff_to(q, owner, m);
        return;
    }
    struct ingest_part *part = ingest_part_get(q->ingest, cookie, log, d.topic, d.topic_len,
                                               d.partition);
    if (!part) {
        ingest_reject(q->ingest, &d, m, &peer, KERR_KAFKA_STORAGE_ERROR);
        return;
    }
    ingest_on_produce(q->ingest, part, &d, m, &peer, q->now_ms, q->now_ns);
}

static void on_udp(struct dpdk_queue *q, struct rte_mbuf *m, const struct net_udp *u, bool handed)
{
    if (dpdk_capture_rx(q, m, u, handed))
        return;
    uint16_t port = rte_be_to_cpu_16(u->dst_port);
    if (u->dst_ip == q->ifc.ip && port >= q->port->udp_base &&
        port < q->port->udp_base + q->port->nqueues) {
        on_native(q, m, u, handed);
        return;
    }
    q->ifc.stats.foreign++;
    rte_pktmbuf_free(m);
}

static void on_frame(struct dpdk_queue *q, struct rte_mbuf *m, bool handed)
{
    struct net_udp u;
    switch (net_rx(&q->ifc, m, &u)) {
    case NET_UDP:
        on_udp(q, m, &u, handed);
        return;
    case NET_REPLY:
        dpdk_tx_queue(q, m);
        return;
    case NET_IGMP_QUERY:
        dpdk_capture_igmp_query(q);
        rte_pktmbuf_free(m);
        return;
    case NET_DROP:
        rte_pktmbuf_free(m);
        return;
    }
}

int dpdk_queue_poll(struct dpdk_queue *q, int64_t now_ms)
{
    struct rte_mbuf *pkts[RX_BURST];
    int work = 0;
    q->now_ms = now_ms;
    uint64_t tsc = rte_rdtsc();
    q->now_ns = (uint64_t)tsc_clock_ns(&q->clock, tsc);
    if (tsc >= q->next_recalibrate) {
        tsc_clock_recalibrate(&q->clock);
        q->next_recalibrate = tsc + rte_get_tsc_hz();
    }
    for (int b = 0; b < RX_BURSTS_PER_POLL; b++) {
        uint16_t n = rte_eth_rx_burst(q->port_id, q->qid, pkts, RX_BURST);
        if (n) {
            if (!q->stats.first_rx_ns)
                q->stats.first_rx_ns = (int64_t)q->now_ns;
            q->stats.last_rx_ns = (int64_t)q->now_ns;
        }
        for (uint16_t i = 0; i < n; i++) {
            q->stats.rx_packets++;
            q->stats.rx_bytes += pkts[i]->pkt_len;
            on_frame(q, pkts[i], false);
        }
        work += n;
        if (n < RX_BURST)
            break;
    }
    for (int src = 0; src < q->port->nqueues; src++) {
        if (src == q->shard)
            continue;
        void *objs[RX_BURST];
        unsigned n = spsc_ring_dequeue_burst(dpdk_handoff(q->port, src, q->shard), objs, RX_BURST);
        for (unsigned i = 0; i < n; i++)
            on_frame(q, objs[i], true);
        q->stats.handoff_in += n;
        work += (int)n;
    }
    /* This turn's capture batches go to the logs before the group commit. */
    work += capture_flush(q->capture, now_ms, (int64_t)q->now_ns);
    if (work == 0)
        q->stats.idle_polls++;
    return work;
}

int dpdk_queue_after_flush(struct dpdk_queue *q, int64_t now_ms)
{
    q->now_ms = now_ms;
    int work = ingest_do_work(q->ingest, (uint64_t)tsc_clock_ns(&q->clock, rte_rdtsc()));
    work += dpdk_capture_after_flush(q);
    work += q->ntx;
    if (q->ntx)
        dpdk_tx_flush(q);
    return work;
}

/* --- life cycle ------------------------------------------------------------- */

int dpdk_queue_create(struct dpdk_queue **out, struct dpdk_port *p, int shard,
                      const struct dpdk_route_ops *ops, void *ctx)
{
    if (shard < 0 || shard >= p->nqueues)
        return -EINVAL;
    /* An lcore id for this thread: the mempool's per-lcore cache. */
    if (rte_lcore_id() == LCORE_ID_ANY && rte_thread_register() != 0)
        fprintf(stderr, "shard %d: rte_thread_register failed; mempool without cache\n", shard);
    struct dpdk_queue *q = rte_zmalloc_socket("sluice_queue", sizeof(*q), RTE_CACHE_LINE_SIZE,
                                              p->socket < 0 ? SOCKET_ID_ANY : p->socket);
    if (!q)
        return -ENOMEM;
    q->port = p;
    q->port_id = p->port_id;
    q->qid = (uint16_t)shard;
    q->shard = shard;
    q->ops = *ops;
    q->ctx = ctx;
    net_iface_init(&q->ifc, &p->mac, p->ip, p->netmask);
    q->ifc.rx_ip_cksum = p->rx_ip_cksum;
    q->ifc.rx_udp_cksum = p->rx_udp_cksum;
    q->ifc.tx_ip_cksum = p->tx_ip_cksum;
    q->ifc.tx_udp_cksum = p->tx_udp_cksum;
    q->ifc.ip_id = (uint16_t)(shard << 12);
    tsc_clock_init(&q->clock);
    duty_cycle_init(&q->append_latency);
    struct ingest_config icfg;
    ingest_config_defaults(&icfg);
    icfg.append_latency = &q->append_latency;
    int rc = ingest_create(&q->ingest, &icfg, &ingest_ops, q);
    if (rc == 0 && (rc = dpdk_capture_init(q)) < 0)
        ingest_destroy(q->ingest);
    if (rc < 0) {
        rte_free(q);
        return rc;
    }
    *out = q;
    return 0;
}

void dpdk_queue_destroy(struct dpdk_queue *q)
{
    if (!q)
        return;
    if (q->ntx)
        dpdk_tx_flush(q);
    ingest_destroy(q->ingest);
    capture_destroy(q->capture);
    rte_free(q);
}

void dpdk_queue_partition_closed(struct dpdk_queue *q, void *cookie)
{
    dpdk_route_forget(q);
    ingest_part_close(q->ingest, cookie);
    capture_part_close(q->capture, cookie);
}

bool dpdk_queue_busy(const struct dpdk_queue *q)
{
    return ingest_busy(q->ingest) || capture_busy(q->capture);
}

void dpdk_queue_stats(const struct dpdk_queue *q, struct dpdk_stats *out)
{
    *out = q->stats;
    out->net = q->ifc.stats;
    out->native = *ingest_stats(q->ingest);
    out->capture = *capture_stats(q->capture);
}

const struct duty_cycle *dpdk_queue_append_latency(const struct dpdk_queue *q)
{
    return &q->append_latency;
}

#define F(name) { #name, offsetof(struct dpdk_stats, name) }
#define G(group, name) { #group "." #name, offsetof(struct dpdk_stats, group.name) }
static const struct {
    const char *name;
    size_t off;
} stat_fields[] = {
    F(rx_packets), F(rx_bytes), F(tx_packets), F(tx_dropped), F(no_mbuf),
    F(bad_datagram), F(unknown_partition), F(handoff_out), F(handoff_in),
    F(handoff_dropped), F(idle_polls), F(first_rx_ns), F(last_rx_ns),
    G(net, foreign), G(net, bad_frame), G(net, bad_length), G(net, bad_ip_cksum),
    G(net, bad_udp_cksum), G(net, bad_icmp), G(net, fragments), G(net, arp_replies),
    G(net, arp_requests), G(net, icmp_replies), G(net, igmp_queries), G(net, igmp_reports),
    G(native, appended), G(native, records), G(native, bytes), G(native, duplicates),
    G(native, gaps), G(native, overlaps), G(native, unknown_producer), G(native, fenced),
    G(native, refused), G(native, backlog), G(native, acks), G(native, naks),
    G(capture, datagrams), G(capture, bytes), G(capture, batches), G(capture, messages),
    G(capture, unsequenced), G(capture, malformed), G(capture, gaps),
    G(capture, gap_messages), G(capture, duplicates), G(capture, dup_messages),
    G(capture, fills), G(capture, fill_messages), G(capture, retransmit_requests),
    G(capture, holds), G(capture, hold_timeouts), G(capture, dropped),
};
#undef F
#undef G

void dpdk_stats_format(const struct dpdk_stats *st, char *buf, size_t len)
{
    size_t o = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < sizeof(stat_fields) / sizeof(stat_fields[0]) && o < len; i++) {
        uint64_t v;
        memcpy(&v, (const char *)st + stat_fields[i].off, sizeof(v));
        int k = snprintf(buf + o, len - o, "%s%s=%" PRIu64, i ? " " : "", stat_fields[i].name, v);
        if (k < 0)
            break;
        o += (size_t)k;
    }
}
