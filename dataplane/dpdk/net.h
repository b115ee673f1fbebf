/* net.h - the little L2/L3 a DPDK port needs to be reachable by ordinary
 * senders on its subnet: Ethernet, ARP (replies, and requests for the
 * few peers the broker itself sends to), IPv4 with header checksums, ICMP
 * echo, UDP with checksums, IGMPv2 membership reports for the multicast
 * groups capture topics listen to.
 *
 * Receive: net_rx classifies one frame. A frame for us is either answered
 * in place (ARP request, ICMP echo: the mbuf is rewritten into the reply,
 * for the caller to send), or is a UDP datagram handed back described by
 * struct net_udp. Everything else is counted by why and dropped: frames
 * too short for their headers, IPv4 lengths past the frame, bad IPv4 or
 * UDP checksums (verified by the port where it offers it, by DPDK's
 * rte_ip helpers otherwise), fragments, frames for other hosts or
 * protocols.
 *
 * Send: net_put_udp and friends write whole frames into fresh mbufs,
 * with checksums offloaded to the port where it can.
 *
 * One struct net_iface per queue (shard): its ARP cache and IP ids are its
 * own, so nothing is shared between cores. */
#ifndef SLUICE_DPDK_NET_H
#define SLUICE_DPDK_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dataplane/dpdk/net_stats.h"

#define NET_ARP_ENTRIES 64
#define NET_GROUPS_MAX 32
#define NET_HDR_LEN (RTE_ETHER_HDR_LEN + 20 + 8)   /* Ethernet, IPv4, UDP */

struct net_arp_entry {
    uint32_t ip;              /* network order; 0: free */
    struct rte_ether_addr mac;
};

struct net_iface {
    struct rte_ether_addr mac;
    uint32_t ip;              /* network order */
    uint32_t netmask;         /* network order */
    bool rx_ip_cksum;         /* the port verifies checksums */
    bool rx_udp_cksum;
    bool tx_ip_cksum;         /* the port computes checksums */
    bool tx_udp_cksum;
    uint16_t ip_id;
    uint32_t groups[NET_GROUPS_MAX]; /* joined multicast groups, network order */
    int ngroups;
    struct net_arp_entry arp[NET_ARP_ENTRIES];
    unsigned arp_next;
    struct net_stats stats;
};

enum net_verdict {
    NET_DROP,                 /* counted; the caller frees the mbuf */
    NET_REPLY,                /* rewritten into a reply: the caller sends it */
    NET_UDP,                  /* a datagram for us: see struct net_udp */
    NET_IGMP_QUERY,           /* the caller reports its groups; then frees */
};

struct net_udp {
    struct rte_ether_addr src_mac;
    uint32_t src_ip, dst_ip;  /* network order */
    uint16_t src_port, dst_port; /* network order */
    uint8_t *payload;         /* inside the mbuf */
    uint16_t len;
};

void net_iface_init(struct net_iface *ifc, const struct rte_ether_addr *mac, uint32_t ip,
                    uint32_t netmask);

/* Classifies one received frame (see the top of this file). */
enum net_verdict net_rx(struct net_iface *ifc, struct rte_mbuf *m, struct net_udp *out);

/* True if group (network order) is joined; net_join adds it (0, or
 * -ENOSPC past NET_GROUPS_MAX). */
bool net_joined(const struct net_iface *ifc, uint32_t group);
int net_join(struct net_iface *ifc, uint32_t group);

/* The MAC of ip from the ARP cache (learned from ARP traffic and from the
 * frames of peers on our subnet): true when known. */
bool net_arp_lookup(const struct net_iface *ifc, uint32_t ip, struct rte_ether_addr *mac);

/* Writes a whole UDP frame into m (a fresh mbuf): from our address and
 * src_port to dst, payload copied. Returns 0 or -ENOSPC. Ports in network
 * order. */
int net_put_udp(struct net_iface *ifc, struct rte_mbuf *m, const struct rte_ether_addr *dst_mac,
                uint32_t dst_ip, uint16_t src_port, uint16_t dst_port, const void *payload,
                uint16_t len);

/* An ARP request for ip (broadcast). */
int net_put_arp_request(struct net_iface *ifc, struct rte_mbuf *m, uint32_t ip);

/* An IGMPv2 membership report for group. */
int net_put_igmp_report(struct net_iface *ifc, struct rte_mbuf *m, uint32_t group);

#endif
