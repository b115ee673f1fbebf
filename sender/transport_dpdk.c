/* transport_dpdk.c - libsluice-send over a DPDK port of the sending
 * process (see transport.h): its own EAL, one RX/TX queue, ARP to find the
 * broker, frames built and parsed by dataplane/dpdk/net.c. Sends are
 * gathered into bursts and leave on flush; waiting spins on the RX queue
 * (a DPDK sender owns its core). */
#include "sender/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dataplane/dpdk/eal.h"
#include "dataplane/dpdk/net.h"

#define BURST 32
#define POOL 8191

struct dpdk_transport {
    struct send_transport t;
    uint16_t port;
    struct rte_mempool *pool;
    struct net_iface ifc;
    uint32_t dst_ip;            /* network order */
    uint16_t dst_port, src_port;
    struct rte_ether_addr dst_mac;
    struct rte_mbuf *tx[BURST];
    uint16_t ntx;
    struct rte_mbuf *rx[BURST];
    uint16_t nrx, rx_next;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void dpdk_flush(struct send_transport *t)
{
    struct dpdk_transport *d = (struct dpdk_transport *)t;
    uint16_t sent = 0;
    for (int tries = 0; tries < 1000 && sent < d->ntx; tries++)
        sent += rte_eth_tx_burst(d->port, 0, d->tx + sent, (uint16_t)(d->ntx - sent));
    for (uint16_t i = sent; i < d->ntx; i++)
        rte_pktmbuf_free(d->tx[i]); /* the protocol re-sends */
    d->ntx = 0;
}

static void tx_queue(struct dpdk_transport *d, struct rte_mbuf *m)
{
    if (d->ntx == BURST)
        dpdk_flush(&d->t);
    d->tx[d->ntx++] = m;
}

static int dpdk_send(struct send_transport *t, const uint8_t *p, size_t len)
{
    struct dpdk_transport *d = (struct dpdk_transport *)t;
    struct rte_mbuf *m = rte_pktmbuf_alloc(d->pool);
    if (!m)
        return -EAGAIN;
    if (net_put_udp(&d->ifc, m, &d->dst_mac, d->dst_ip, rte_cpu_to_be_16(d->src_port),
                    rte_cpu_to_be_16(d->dst_port), p, (uint16_t)len) < 0) {
        rte_pktmbuf_free(m);
        return -EMSGSIZE;
    }
    tx_queue(d, m);
    return 0;
}

/* The next frame that is a UDP datagram for us; ARP and ICMP answered on
 * the way. */
static int dpdk_recv(struct send_transport *t, uint8_t *buf, size_t cap, uint16_t *src_port)
{
    struct dpdk_transport *d = (struct dpdk_transport *)t;
    for (;;) {
        if (d->rx_next == d->nrx) {
            d->nrx = rte_eth_rx_burst(d->port, 0, d->rx, BURST);
            d->rx_next = 0;
            if (d->nrx == 0)
                return 0;
        }
        struct rte_mbuf *m = d->rx[d->rx_next++];
        struct net_udp u;
        enum net_verdict v = net_rx(&d->ifc, m, &u);
        if (v == NET_REPLY) {
            tx_queue(d, m);
            continue;
        }
        if (v == NET_UDP && u.src_ip == d->dst_ip && u.len <= cap) {
            memcpy(buf, u.payload, u.len);
            *src_port = rte_be_to_cpu_16(u.src_port);
            rte_pktmbuf_free(m);
            return u.len;
        }
        rte_pktmbuf_free(m);
    }
}

static void dpdk_wait(struct send_transport *t, int timeout_ms)
{
    struct dpdk_transport *d = (struct dpdk_transport *)t;
    uint64_t end = mono_ms() + (uint64_t)timeout_ms;
    dpdk_flush(t);
    while (d->rx_next == d->nrx && mono_ms() < end) {
        d->nrx = rte_eth_rx_burst(d->port, 0, d->rx, BURST);
        d->rx_next = 0;
        if (d->nrx == 0)
            sched_yield();
    }
}

static void dpdk_set_port(struct send_transport *t, uint16_t port)
{
    ((struct dpdk_transport *)t)->dst_port = port;
}

static void dpdk_destroy(struct send_transport *t)
{
    struct dpdk_transport *d = (struct dpdk_transport *)t;
    dpdk_flush(t);
    for (uint16_t i = d->rx_next; i < d->nrx; i++)
        rte_pktmbuf_free(d->rx[i]);
    rte_eth_dev_stop(d->port);
    rte_eth_dev_close(d->port);
    rte_mempool_free(d->pool);
    free(d);
    rte_eal_cleanup();
}

static int port_start(struct dpdk_transport *d, const char *spec, char *err, size_t errlen)
{
    char *end;
    unsigned long id = strtoul(spec, &end, 10);
    if (*spec && !*end)
        d->port = (uint16_t)id;
    else if (rte_eth_dev_get_port_by_name(spec, &d->port) != 0)
        d->port = RTE_MAX_ETHPORTS;
    if (!rte_eth_dev_is_valid_port(d->port)) {
        snprintf(err, errlen, "no DPDK port %s", spec);
        return -ENODEV;
    }
    d->pool = rte_pktmbuf_pool_create("sluice_send", POOL, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                      (int)rte_socket_id());
    struct rte_eth_conf conf = { 0 };
    struct rte_eth_dev_info info;
    rte_eth_dev_info_get(d->port, &info);
    uint64_t tx = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    if ((info.tx_offload_capa & tx) == tx)
        conf.txmode.offloads = tx;
    if (!d->pool || rte_eth_dev_configure(d->port, 1, 1, &conf) != 0 ||
        rte_eth_rx_queue_setup(d->port, 0, 1024, rte_eth_dev_socket_id(d->port), NULL, d->pool) ||
        rte_eth_tx_queue_setup(d->port, 0, 1024, rte_eth_dev_socket_id(d->port), NULL) ||
        rte_eth_dev_start(d->port) != 0) {
        snprintf(err, errlen, "DPDK port %s: cannot start: %s", spec, rte_strerror(rte_errno));
        return -EIO;
    }
    d->ifc.tx_ip_cksum = d->ifc.tx_udp_cksum = conf.txmode.offloads != 0;
    return 0;
}

/* Link up (memif: the broker accepted us), then the broker's MAC. */
static int resolve(struct dpdk_transport *d, char *err, size_t errlen)
{
    uint64_t end = mono_ms() + 10000, next_arp = 0;
    struct rte_eth_link link;
    for (;;) {
        rte_eth_link_get_nowait(d->port, &link);
        if (link.link_status || mono_ms() >= end)
            break;
        sched_yield();
    }
    if (!link.link_status) {
        snprintf(err, errlen, "DPDK port: no link after 10 s");
        return -ENOTCONN;
    }
    while (!net_arp_lookup(&d->ifc, d->dst_ip, &d->dst_mac)) {
        uint64_t now = mono_ms();
        if (now >= end) {
            snprintf(err, errlen, "no ARP reply from the broker");
            return -EHOSTUNREACH;
        }
        if (now >= next_arp) {
            struct rte_mbuf *m = rte_pktmbuf_alloc(d->pool);
            if (m && net_put_arp_request(&d->ifc, m, d->dst_ip) == 0)
                tx_queue(d, m);
            else if (m)
                rte_pktmbuf_free(m);
            dpdk_flush(&d->t);
            next_arp = now + 100;
        }
        uint8_t scratch[64];
        uint16_t port;
        dpdk_recv(&d->t, scratch, 0, &port);
    }
    return 0;
}

int send_transport_dpdk(struct send_transport **out, const struct sluice_send_config *cfg,
                        uint32_t ip, uint16_t port, char *err, size_t errlen)
{
    char local[64];
    struct in_addr a;
    snprintf(local, sizeof(local), "%s", cfg->local_ip ? cfg->local_ip : "");
    char *slash = strchr(local, '/');
    int prefix = slash ? atoi(slash + 1) : 24;
    if (slash)
        *slash = '\0';
    if (inet_pton(AF_INET, local, &a) != 1 || prefix < 1 || prefix > 32) {
        snprintf(err, errlen, "the DPDK sender needs its own address (A.B.C.D/N), got '%s'",
                 cfg->local_ip ? cfg->local_ip : "");
        return -EINVAL;
    }
    int rc = dpdk_eal_start("sluice-send", cfg->eal_args, true, err, errlen);
    if (rc < 0)
        return rc;
    struct dpdk_transport *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->t = (struct send_transport){ dpdk_send, dpdk_flush, dpdk_recv, dpdk_wait, dpdk_set_port,
                                    dpdk_destroy };
    d->dst_ip = htonl(ip);
    d->dst_port = port;
    d->src_port = (uint16_t)(40000 + (getpid() % 20000));
    if ((rc = port_start(d, cfg->dpdk_port ? cfg->dpdk_port : "0", err, errlen)) < 0) {
        free(d);
        rte_eal_cleanup();
        return rc;
    }
    struct rte_ether_addr mac;
    rte_eth_macaddr_get(d->port, &mac);
    bool txo = d->ifc.tx_ip_cksum;
    uint32_t mask = prefix == 32 ? UINT32_MAX : ~(UINT32_MAX >> prefix);
    net_iface_init(&d->ifc, &mac, a.s_addr, htonl(mask));
    d->ifc.tx_ip_cksum = d->ifc.tx_udp_cksum = txo;
    if ((rc = resolve(d, err, errlen)) < 0) {
        dpdk_destroy(&d->t);
        return rc;
    }
    *out = &d->t;
    return 0;
}
