/* queue_private.h - the inside of a shard's DPDK queue, shared by
 * queue.c (life cycle, receive, native produce) and queue_capture.c (feed
 * capture, multicast, re-requests). Nothing outside dataplane/dpdk/
 * includes it; everything in it belongs to the queue's shard thread. */
#ifndef SLUICE_DPDK_QUEUE_PRIVATE_H
#define SLUICE_DPDK_QUEUE_PRIVATE_H

#include "dataplane/dpdk/capture.h"
#include "dataplane/dpdk/dpdk.h"
#include "dataplane/dpdk/net.h"
#include "dataplane/dpdk/port_private.h"
#include "dataplane/dpdk/tsc_clock.h"

#include <rte_mbuf.h>

#define RX_BURST 32
#define RX_BURSTS_PER_POLL 8        /* then let the shard flush */
#define TX_MAX 64
#define CAPTURE_BINDINGS_MAX 64

/* A capture topic, as the metadata says: where its datagrams arrive and
 * which shard owns its partition 0. */
struct capture_binding {
    const char *topic;              /* in the metadata snapshot */
    size_t topic_len;
    uint32_t dst_ip;                /* network order: the group, or ours */
    uint16_t port;                  /* host order */
    int owner;
    uint32_t max_batch;
    struct capture_config cfg;
};

/* A re-request waiting for its server's MAC. */
struct pending_send {
    bool used;
    uint32_t ip;                    /* network order */
    uint16_t port, src_port;        /* host order */
    uint8_t payload[64];
    uint16_t len;
    int64_t next_arp_ns;
    int tries;
};

/* The partition the last native datagram went to: most datagrams in a
 * burst are for the same one. Forgotten when a partition closes or the
 * metadata changes. */
struct route_cache {
    bool valid;
    uint16_t topic_len;
    int32_t partition;
    int owner;
    struct log *log;
    void *cookie;
    char topic[UDP_WIRE_TOPIC_MAX];
};

struct dpdk_queue {
    struct dpdk_port *port;
    uint16_t port_id, qid;
    int shard;
    struct dpdk_route_ops ops;
    void *ctx;
    struct net_iface ifc;
    struct ingest *ingest;
    struct capture *capture;
    struct capture_binding bindings[CAPTURE_BINDINGS_MAX];
    int nbindings;
    struct pending_send pending;
    struct route_cache route;
    struct tsc_clock clock;
    int64_t now_ms;
    uint64_t now_ns;
    uint64_t next_recalibrate;
    struct rte_mbuf *tx[TX_MAX];
    uint16_t ntx;
    struct duty_cycle append_latency;
    struct dpdk_stats stats;        /* its net, native and capture parts stay
                                       zero: ifc, ingest and capture count
                                       those (dpdk_queue_stats gathers) */
};

/* queue.c */
void dpdk_tx_queue(struct dpdk_queue *q, struct rte_mbuf *m);
void dpdk_tx_flush(struct dpdk_queue *q);
void dpdk_handoff_to(struct dpdk_queue *q, int owner, struct rte_mbuf *m);
void dpdk_route_forget(struct dpdk_queue *q);

/* queue_capture.c */
int dpdk_capture_init(struct dpdk_queue *q);
/* A datagram for a capture binding (true), or not one (false: m kept). */
bool dpdk_capture_rx(struct dpdk_queue *q, struct rte_mbuf *m, const struct net_udp *u,
                     bool handed);
void dpdk_capture_igmp_query(struct dpdk_queue *q);
int dpdk_capture_after_flush(struct dpdk_queue *q);

#endif
