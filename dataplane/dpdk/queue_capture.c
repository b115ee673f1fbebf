/* queue_capture.c - a shard queue's part in feed capture: the capture
 * topics' bindings (port, group, owner) from each metadata snapshot,
 * multicast membership (joined groups, IGMPv2 reports on join and on a
 * router's query), receive timestamps, datagrams handed to capture.c on
 * the owning shard, and the re-requests capture.c sends (ARP first when
 * the server's MAC is not known yet).
 *
 * Runs on the queue's shard thread; the bindings point into the shard's
 * current metadata snapshot, which lives until the next one replaces
 * them. */
#include "dataplane/dpdk/queue_private.h"

#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#define ARP_RETRY_NS 100000000ll  /* 100 ms */
#define ARP_TRIES 20

/* --- sending re-requests ------------------------------------------------------ */

static bool send_now(struct dpdk_queue *q, const struct pending_send *s)
{
    struct rte_ether_addr mac;
    if (!net_arp_lookup(&q->ifc, s->ip, &mac))
        return false;
    struct rte_mbuf *m = rte_pktmbuf_alloc(q->port->pool);
    if (!m || net_put_udp(&q->ifc, m, &mac, s->ip, rte_cpu_to_be_16(s->src_port),
                          rte_cpu_to_be_16(s->port), s->payload, s->len) < 0) {
        rte_pktmbuf_free(m);
        q->stats.no_mbuf++;
        return true; /* dropped: capture.c asks again at the next gap */
    }
    dpdk_tx_queue(q, m);
    return true;
}

static void arp_request(struct dpdk_queue *q, uint32_t ip)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(q->port->pool);
    if (!m || net_put_arp_request(&q->ifc, m, ip) < 0) {
        rte_pktmbuf_free(m);
        q->stats.no_mbuf++;
        return;
    }
    dpdk_tx_queue(q, m);
}

static void cap_send(void *ctx, uint32_t ip, uint16_t port, uint16_t src_port,
                     const uint8_t *payload, size_t len)
{
    struct dpdk_queue *q = ctx;
    struct pending_send s = { .used = true, .ip = rte_cpu_to_be_32(ip), .port = port,
                              .src_port = src_port, .len = (uint16_t)len };
    if (len > sizeof(s.payload))
        return;
    memcpy(s.payload, payload, len);
    if (send_now(q, &s))
        return;
    /* Its MAC first: the request waits (the latest one, if several). */
    s.next_arp_ns = (int64_t)q->now_ns + ARP_RETRY_NS;
    q->pending = s;
    arp_request(q, s.ip);
}

static void cap_dirty(void *ctx, void *cookie)
{
    struct dpdk_queue *q = ctx;
    q->ops.mark_dirty(q->ctx, cookie);
}

static const struct capture_ops capture_ops = { cap_dirty, cap_send };

int dpdk_capture_init(struct dpdk_queue *q)
{
    return capture_create(&q->capture, &capture_ops, q);
}

int dpdk_capture_after_flush(struct dpdk_queue *q)
{
    int work = capture_after_flush(q->capture);
    struct pending_send *s = &q->pending;
    if (s->used && send_now(q, s)) {
        s->used = false;
        work++;
    } else if (s->used && (int64_t)q->now_ns >= s->next_arp_ns) {
        if (++s->tries >= ARP_TRIES) {
            s->used = false; /* no answer: the next gap asks again */
        } else {
            s->next_arp_ns = (int64_t)q->now_ns + ARP_RETRY_NS;
            arp_request(q, s->ip);
        }
    }
    return work;
}

/* --- multicast -------------------------------------------------------------------- */

static void igmp_report(struct dpdk_queue *q, uint32_t group)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(q->port->pool);
    if (!m || net_put_igmp_report(&q->ifc, m, group) < 0) {
        rte_pktmbuf_free(m);
        q->stats.no_mbuf++;
        return;
    }
    dpdk_tx_queue(q, m);
}

void dpdk_capture_igmp_query(struct dpdk_queue *q)
{
    for (int i = 0; i < q->ifc.ngroups; i++)
        igmp_report(q, q->ifc.groups[i]);
}

/* --- bindings ------------------------------------------------------------------- */

static bool native_port(const struct dpdk_queue *q, uint16_t port)
{
    return port >= q->port->udp_base && port < q->port->udp_base + q->port->nqueues;
}

void dpdk_queue_on_metadata(struct dpdk_queue *q, const struct md_snapshot *md, int32_t node)
{
    dpdk_route_forget(q); /* owners may have moved */
    q->nbindings = 0;
    for (int32_t i = 0; md && i < md->ntopics; i++) {
        const struct md_topic *t = &md->topics[i];
        struct capture_config cc;
        topic_config_to_capture(&t->config, &cc);
        /* Partition 0 is captured where it is led: on another node that
         * node's DPDK port takes the feed. */
        if (cc.port == 0 || t->npartitions < 1 || md_broker_node(t->partitions[0].leader) != node)
            continue;
        if (native_port(q, cc.port) || q->nbindings == CAPTURE_BINDINGS_MAX) {
            if (q->shard == 0)
                fprintf(stderr, "dpdk: capture topic %s: port %u is %s; not captured\n",
                        t->name, cc.port,
                        native_port(q, cc.port) ? "a native produce port" : "one too many");
            continue;
        }
        uint32_t group = rte_cpu_to_be_32(cc.group);
        struct capture_binding *b = &q->bindings[q->nbindings++];
        *b = (struct capture_binding){ .topic = t->name, .topic_len = strlen(t->name),
                                       .dst_ip = cc.group ? group : q->ifc.ip,
                                       .port = cc.port,
                                       .owner = md_broker_shard(t->partitions[0].leader),
                                       .max_batch = (uint32_t)t->config.max_message_bytes,
                                       .cfg = cc };
        if (cc.group && !net_joined(&q->ifc, group) && net_join(&q->ifc, group) == 0 &&
            b->owner == q->shard)
            igmp_report(q, group); /* the owner says so to the network */
    }
}

/* --- datagrams -------------------------------------------------------------------- */

static const struct capture_binding *find_binding(const struct dpdk_queue *q,
                                                  const struct net_udp *u)
{
    uint16_t port = rte_be_to_cpu_16(u->dst_port);
    for (int i = 0; i < q->nbindings; i++) {
        const struct capture_binding *b = &q->bindings[i];
        /* Re-requested packets come back unicast, to our own address. */
        if (b->port == port && (u->dst_ip == b->dst_ip || u->dst_ip == q->ifc.ip))
            return b;
    }
    return NULL;
}

static int64_t *rx_ns_field(const struct dpdk_queue *q, struct rte_mbuf *m)
{
    return RTE_MBUF_DYNFIELD(m, q->port->rx_ns_offset, int64_t *);
}

/* When the frame arrived: the port's own timestamp where it has one. */
static int64_t rx_timestamp(const struct dpdk_queue *q, struct rte_mbuf *m)
{
    const struct dpdk_port *p = q->port;
    if (p->ts_source != DPDK_TS_TSC && (m->ol_flags & p->ts_flag)) {
        uint64_t v = *RTE_MBUF_DYNFIELD(m, p->ts_offset, uint64_t *);
        if (p->ts_source == DPDK_TS_PCAP)
            return (int64_t)v * 1000; /* net_pcap: microseconds */
        return p->dev_ns0 + (int64_t)((double)(int64_t)(v - p->dev_ticks0) * p->dev_ns_per_tick);
    }
    return (int64_t)q->now_ns;
}

bool dpdk_capture_rx(struct dpdk_queue *q, struct rte_mbuf *m, const struct net_udp *u,
                     bool handed)
{
    const struct capture_binding *b = find_binding(q, u);
    if (!b)
        return false;
    int64_t rx_ns = handed ? *rx_ns_field(q, m) : rx_timestamp(q, m);
    if (b->owner != q->shard && !handed) {
        *rx_ns_field(q, m) = rx_ns;
        dpdk_handoff_to(q, b->owner, m);
        return true;
    }
    struct log *log = NULL;
    void *cookie = NULL;
    struct capture_part *part = NULL;
    if (q->ops.route(q->ctx, b->topic, b->topic_len, 0, &log, &cookie) == q->shard)
        part = capture_part_get(q->capture, cookie, log, &b->cfg, b->max_batch);
    if (!part) {
        q->stats.unknown_partition++;
    } else {
        capture_on_datagram(q->capture, part, u->payload, u->len, rte_be_to_cpu_32(u->src_ip),
                            rte_be_to_cpu_16(u->src_port), rx_ns, (int64_t)q->now_ns);
    }
    rte_pktmbuf_free(m);
    return true;
}
