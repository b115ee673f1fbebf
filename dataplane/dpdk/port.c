/* port.c - the DPDK port: EAL start-up from the broker's configuration,
 * the device with one RX/TX queue pair per shard, its mempool, flow rules,
 * the hand-off rings between shards, and the end of it all (see dpdk.h).
 *
 * Runs on sluiced's main thread before the shards start and after they
 * stop; never on the data path. What it learns about the device
 * (offloads, steering, timestamps) is written once into struct dpdk_port
 * for the queues to read. */
#include "dataplane/dpdk/dpdk.h"
#include "dataplane/dpdk/eal.h"
#include "dataplane/dpdk/port_private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#define RX_DESC 1024
#define TX_DESC 1024
#define POOL_CACHE 256

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

static int find_port(const char *spec, uint16_t *port_id)
{
    char *end;
    unsigned long v = strtoul(spec, &end, 10);
    if (*spec && !*end && v < RTE_MAX_ETHPORTS && rte_eth_dev_is_valid_port((uint16_t)v)) {
        *port_id = (uint16_t)v;
        return 0;
    }
    return rte_eth_dev_get_port_by_name(spec, port_id) == 0 ? 0 : -ENODEV;
}

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The device's clock against CLOCK_REALTIME, over 10 ms. */
static int device_clock_calibrate(struct dpdk_port *p)
{
    uint64_t t0, t1;
    if (rte_eth_read_clock(p->port_id, &t0) != 0)
        return -ENOTSUP;
    int64_t n0 = realtime_ns();
    struct timespec pause = { 0, 10000000 };
    nanosleep(&pause, NULL);
    if (rte_eth_read_clock(p->port_id, &t1) != 0 || t1 <= t0)
        return -ENOTSUP;
    int64_t n1 = realtime_ns();
    p->dev_ns_per_tick = (double)(n1 - n0) / (double)(t1 - t0);
    p->dev_ticks0 = t1;
    p->dev_ns0 = n1;
    return 0;
}

/* ETH / IPV4 dst ip / UDP dst port -> queue, for every shard's port; all
 * or none (a device that cannot steer gets the software hand-off). */
static bool install_flows(struct dpdk_port *p)
{
    for (int q = 0; q < p->nqueues; q++) {
        struct rte_flow_attr attr = { .ingress = 1 };
        struct rte_flow_item_ipv4 ip_spec = { .hdr.dst_addr = p->ip };
        struct rte_flow_item_ipv4 ip_mask = { .hdr.dst_addr = UINT32_MAX };
        struct rte_flow_item_udp udp_spec = { .hdr.dst_port =
                                                  rte_cpu_to_be_16((uint16_t)(p->udp_base + q)) };
        struct rte_flow_item_udp udp_mask = { .hdr.dst_port = UINT16_MAX };
        struct rte_flow_item pattern[] = {
            { .type = RTE_FLOW_ITEM_TYPE_ETH },
            { .type = RTE_FLOW_ITEM_TYPE_IPV4, .spec = &ip_spec, .mask = &ip_mask },
            { .type = RTE_FLOW_ITEM_TYPE_UDP, .spec = &udp_spec, .mask = &udp_mask },
            { .type = RTE_FLOW_ITEM_TYPE_END },
        };
        struct rte_flow_action_queue queue = { .index = (uint16_t)q };
        struct rte_flow_action actions[] = {
            { .type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &queue },
            { .type = RTE_FLOW_ACTION_TYPE_END },
        };
        struct rte_flow_error ferr;
        if (rte_flow_validate(p->port_id, &attr, pattern, actions, &ferr) != 0 ||
            !rte_flow_create(p->port_id, &attr, pattern, actions, &ferr)) {
            rte_flow_flush(p->port_id, &ferr);
            return false;
        }
    }
    return true;
}

static int handoff_create(struct dpdk_port *p)
{
    size_t n = (size_t)p->nqueues * (size_t)p->nqueues;
    p->handoff = aligned_alloc(SPSC_CACHE_LINE, n * sizeof(*p->handoff));
    p->handoff_slots = calloc(n * DPDK_HANDOFF_RING, sizeof(void *));
    if (!p->handoff || !p->handoff_slots)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        spsc_ring_init(&p->handoff[i], p->handoff_slots + i * DPDK_HANDOFF_RING,
                       DPDK_HANDOFF_RING);
    return 0;
}

/* Offloads and queues, then start. */
static int device_start(struct dpdk_port *p, const struct broker_config *cfg, char *err,
                        size_t errlen)
{
    struct rte_eth_dev_info info;
    int rc = rte_eth_dev_info_get(p->port_id, &info);
    if (rc != 0)
        return fail(err, errlen, rc, "port %s: no device info: %s", p->name, rte_strerror(-rc));
    snprintf(p->driver, sizeof(p->driver), "%s", info.driver_name);
    if (info.max_rx_queues < p->nqueues || info.max_tx_queues < p->nqueues)
        return fail(err, errlen, -EINVAL,
                    "port %s (%s) has %u RX / %u TX queues; sluice needs one pair per shard "
                    "(%d): lower sluice.shards",
                    p->name, p->driver, info.max_rx_queues, info.max_tx_queues, p->nqueues);
    struct rte_eth_conf conf = { 0 };
    uint64_t rx_want = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
    uint64_t tx_want = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    conf.rxmode.offloads = info.rx_offload_capa & rx_want;
    if ((info.tx_offload_capa & tx_want) == tx_want)
        conf.txmode.offloads = tx_want;
    if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP)
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
    if (info.max_mtu >= (uint16_t)cfg->dpdk_mtu)
        conf.rxmode.mtu = (uint32_t)cfg->dpdk_mtu;
    p->rx_ip_cksum = conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
    p->rx_udp_cksum = conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
    p->tx_ip_cksum = p->tx_udp_cksum = conf.txmode.offloads != 0;
    rc = rte_eth_dev_configure(p->port_id, (uint16_t)p->nqueues, (uint16_t)p->nqueues, &conf);
    if (rc != 0)
        return fail(err, errlen, rc, "port %s: configure: %s", p->name, rte_strerror(-rc));
    uint16_t nrx = RX_DESC, ntx = TX_DESC;
    rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nrx, &ntx);
    unsigned socket = p->socket < 0 ? (unsigned)SOCKET_ID_ANY : (unsigned)p->socket;
    for (int q = 0; q < p->nqueues; q++) {
        if ((rc = rte_eth_rx_queue_setup(p->port_id, (uint16_t)q, nrx, socket, NULL, p->pool)) ||
            (rc = rte_eth_tx_queue_setup(p->port_id, (uint16_t)q, ntx, socket, NULL)))
            return fail(err, errlen, rc, "port %s: queue %d: %s", p->name, q,
                        rte_strerror(-rc));
    }
    rc = rte_eth_dev_start(p->port_id);
    if (rc != 0)
        return fail(err, errlen, rc, "port %s: start: %s", p->name, rte_strerror(-rc));
    p->started = true;
    rte_eth_macaddr_get(p->port_id, &p->mac);
    rte_eth_allmulticast_enable(p->port_id); /* capture groups; filtered in net.c */
    p->ts_offset = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
    int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);
    p->ts_flag = bit >= 0 ? 1ull << bit : 0;
    if (p->ts_offset >= 0 && p->ts_flag && strcmp(p->driver, "net_pcap") == 0)
        p->ts_source = DPDK_TS_PCAP;
    else if (p->ts_offset >= 0 && p->ts_flag &&
             (conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_TIMESTAMP) &&
             device_clock_calibrate(p) == 0)
        p->ts_source = DPDK_TS_DEVICE;
    p->flow_steering = p->nqueues > 1 && install_flows(p);
    static const struct rte_mbuf_dynfield rx_ns = { .name = "sluice_rx_ns",
                                                    .size = sizeof(int64_t),
                                                    .align = __alignof__(int64_t) };
    p->rx_ns_offset = rte_mbuf_dynfield_register(&rx_ns);
    if (p->rx_ns_offset < 0)
        return fail(err, errlen, -ENOSPC, "no room for an mbuf dynamic field");
    return 0;
}

int dpdk_port_open(struct dpdk_port **out, const struct broker_config *cfg, int nshards,
                   char *err, size_t errlen)
{
    uint32_t ip;
    int prefix;
    if (config_parse_ipv4_cidr(cfg->dpdk_ip, &ip, &prefix) < 0)
        return fail(err, errlen, -EINVAL,
                    "sluice.dpdk.enable needs sluice.dpdk.ip (the port's A.B.C.D/N)");
    if ((long)cfg->dpdk_udp_port + nshards - 1 > 65535)
        return fail(err, errlen, -EINVAL, "sluice.dpdk.udp.port + shards passes 65535");
    int rc = dpdk_eal_start("sluiced", cfg->dpdk_eal_args, true, err, errlen);
    if (rc < 0)
        return rc;
    struct dpdk_port *p = calloc(1, sizeof(*p));
    if (!p)
        return fail(err, errlen, -ENOMEM, "out of memory");
    p->nqueues = nshards;
    p->ip = rte_cpu_to_be_32(ip);
    p->netmask = rte_cpu_to_be_32(prefix == 32 ? UINT32_MAX : ~(UINT32_MAX >> prefix));
    p->udp_base = (uint16_t)cfg->dpdk_udp_port;
    p->mtu = (uint16_t)cfg->dpdk_mtu;
    snprintf(p->name, sizeof(p->name), "%s", cfg->dpdk_port);
    if (find_port(cfg->dpdk_port, &p->port_id) < 0) {
        rc = fail(err, errlen, -ENODEV, "sluice.dpdk.port %s: no such DPDK port (%u found)",
                  cfg->dpdk_port, rte_eth_dev_count_avail());
        goto err;
    }
    p->found = true;
    p->socket = rte_eth_dev_socket_id(p->port_id);
    uint32_t room = RTE_PKTMBUF_HEADROOM + p->mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 8;
    if (room < RTE_MBUF_DEFAULT_BUF_SIZE)
        room = RTE_MBUF_DEFAULT_BUF_SIZE;
    p->pool = rte_pktmbuf_pool_create("sluice_mbufs", (unsigned)cfg->dpdk_mempool_size,
                                      POOL_CACHE, 0, (uint16_t)room,
                                      p->socket < 0 ? SOCKET_ID_ANY : p->socket);
    if (!p->pool) {
        rc = fail(err, errlen, -ENOMEM, "DPDK mempool of %d mbufs: %s",
                  cfg->dpdk_mempool_size, rte_strerror(rte_errno));
        goto err;
    }
    if ((rc = handoff_create(p)) < 0) {
        fail(err, errlen, rc, "out of memory");
        goto err;
    }
    if ((rc = device_start(p, cfg, err, errlen)) < 0)
        goto err;
    *out = p;
    return 0;
err:
    dpdk_port_close(p);
    return rc;
}

void dpdk_port_close(struct dpdk_port *p)
{
    if (!p)
        return;
    if (p->started) {
        struct rte_flow_error ferr;
        rte_flow_flush(p->port_id, &ferr);
        rte_eth_dev_stop(p->port_id);
    }
    if (p->found)
        rte_eth_dev_close(p->port_id);
    /* Mbufs still on the hand-off rings go back before the pool goes. */
    for (int i = 0; p->handoff && i < p->nqueues * p->nqueues; i++) {
        void *m;
        while (spsc_ring_dequeue(&p->handoff[i], &m) == 0)
            rte_pktmbuf_free(m);
    }
    rte_mempool_free(p->pool);
    free(p->handoff);
    free(p->handoff_slots);
    free(p);
    rte_eal_cleanup();
}

int dpdk_port_numa_node(const struct dpdk_port *p)
{
    return p->socket;
}

void dpdk_port_describe(const struct dpdk_port *p, char *buf, size_t len)
{
    char mac[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_format_addr(mac, sizeof(mac), &p->mac);
    uint32_t ip = rte_be_to_cpu_32(p->ip);
    snprintf(buf, len,
             "port %s (%s) mac %s ip %u.%u.%u.%u, %d queue(s), native UDP %u-%u, NUMA node %d, "
             "checksums rx %s tx %s, steering %s, timestamps %s",
             p->name, p->driver, mac, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255,
             p->nqueues, p->udp_base, p->udp_base + p->nqueues - 1, p->socket,
             p->rx_ip_cksum || p->rx_udp_cksum ? "offloaded" : "software",
             p->tx_ip_cksum ? "offloaded" : "software",
             p->flow_steering ? "rte_flow" : "software hand-off",
             p->ts_source == DPDK_TS_PCAP     ? "pcap file"
             : p->ts_source == DPDK_TS_DEVICE ? "device"
                                              : "tsc");
}
