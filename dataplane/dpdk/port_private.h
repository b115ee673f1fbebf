/* port_private.h - the inside of struct dpdk_port, shared by port.c (it
 * opens and closes it) and queue.c (each shard's queue reads it). Nothing
 * outside dataplane/dpdk/ includes it. After dpdk_port_open nothing in it
 * changes until dpdk_port_close, so every shard reads it without locks;
 * the hand-off rings are SPSC, one per ordered pair of shards. */
#ifndef SLUICE_DPDK_PORT_PRIVATE_H
#define SLUICE_DPDK_PORT_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>

#include "numa/ring.h"

#define DPDK_HANDOFF_RING 4096        /* mbufs in flight per pair of shards */

/* Where receive timestamps come from. */
enum dpdk_ts_source {
    DPDK_TS_TSC,              /* the TSC, calibrated against CLOCK_REALTIME */
    DPDK_TS_PCAP,             /* net_pcap: the capture file's, in microseconds */
    DPDK_TS_DEVICE,           /* the device's clock (RX timestamp offload) */
};

struct dpdk_port {
    uint16_t port_id;
    int nqueues;              /* = shards */
    int socket;               /* NUMA node, -1 unknown */
    char driver[32];
    char name[128];
    struct rte_mempool *pool;
    struct rte_ether_addr mac;
    uint32_t ip, netmask;     /* network order */
    uint16_t udp_base;        /* host order: shard i listens on udp_base + i */
    uint16_t mtu;
    bool rx_ip_cksum, rx_udp_cksum, tx_ip_cksum, tx_udp_cksum;
    bool flow_steering;       /* rte_flow rules steer native ports to queues */
    bool found;               /* port_id names the device */
    bool started;
    enum dpdk_ts_source ts_source;
    int ts_offset;            /* mbuf dynfield, when not TSC */
    int rx_ns_offset;         /* our dynfield: receive ns of a handed-off mbuf */
    uint64_t ts_flag;
    /* DPDK_TS_DEVICE: ns = dev_ns0 + (ticks - dev_ticks0) * dev_ns_per_tick */
    uint64_t dev_ticks0;
    int64_t dev_ns0;
    double dev_ns_per_tick;
    struct spsc_ring *handoff;    /* [src * nqueues + dst] */
    void **handoff_slots;
};

static inline struct spsc_ring *dpdk_handoff(const struct dpdk_port *p, int src, int dst)
{
    return &p->handoff[src * p->nqueues + dst];
}

#endif
