/* net.c - Ethernet, ARP, IPv4, ICMP echo, UDP and IGMPv2 for a DPDK port
 * (see net.h).
 *
 * Headers are DPDK's (rte_ether.h, rte_ip.h, rte_arp.h, rte_icmp.h,
 * rte_udp.h) and so are the checksum helpers (rte_raw_cksum,
 * rte_ipv4_cksum, rte_ipv4_udptcp_cksum). Every length a frame claims is
 * checked against the bytes the mbuf holds before anything behind it is
 * read; a reply is written over the request in place. Never allocates. */
#include "dataplane/dpdk/net.h"

#include <errno.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_udp.h>

#define IGMP_QUERY 0x11
#define IGMP_V2_REPORT 0x16
#define IPPROTO_IGMP_ 2
#define MIN_FRAME 60              /* without the FCS */

void net_iface_init(struct net_iface *ifc, const struct rte_ether_addr *mac, uint32_t ip,
                    uint32_t netmask)
{
    memset(ifc, 0, sizeof(*ifc));
    ifc->mac = *mac;
    ifc->ip = ip;
    ifc->netmask = netmask;
}

static bool is_multicast(uint32_t ip_be)
{
    return (rte_be_to_cpu_32(ip_be) & 0xf0000000u) == 0xe0000000u;
}

static void multicast_mac(uint32_t group_be, struct rte_ether_addr *mac)
{
    uint32_t g = rte_be_to_cpu_32(group_be);
    *mac = (struct rte_ether_addr){ { 0x01, 0x00, 0x5e, (uint8_t)((g >> 16) & 0x7f),
                                      (uint8_t)(g >> 8), (uint8_t)g } };
}

bool net_joined(const struct net_iface *ifc, uint32_t group)
{
    for (int i = 0; i < ifc->ngroups; i++)
        if (ifc->groups[i] == group)
            return true;
    return false;
}

int net_join(struct net_iface *ifc, uint32_t group)
{
    if (net_joined(ifc, group))
        return 0;
    if (ifc->ngroups == NET_GROUPS_MAX)
        return -ENOSPC;
    ifc->groups[ifc->ngroups++] = group;
    return 0;
}

static bool on_subnet(const struct net_iface *ifc, uint32_t ip)
{
    return ip != 0 && ((ip ^ ifc->ip) & ifc->netmask) == 0;
}

bool net_arp_lookup(const struct net_iface *ifc, uint32_t ip, struct rte_ether_addr *mac)
{
    for (int i = 0; i < NET_ARP_ENTRIES; i++) {
        if (ifc->arp[i].ip == ip) {
            *mac = ifc->arp[i].mac;
            return true;
        }
    }
    return false;
}

static void arp_learn(struct net_iface *ifc, uint32_t ip, const struct rte_ether_addr *mac)
{
    if (!on_subnet(ifc, ip) || ip == ifc->ip)
        return;
    for (int i = 0; i < NET_ARP_ENTRIES; i++) {
        if (ifc->arp[i].ip == ip) {
            ifc->arp[i].mac = *mac;
            return;
        }
    }
    ifc->arp[ifc->arp_next++ % NET_ARP_ENTRIES] = (struct net_arp_entry){ ip, *mac };
}

static enum net_verdict arp_rx(struct net_iface *ifc, struct rte_mbuf *m,
                               struct rte_ether_hdr *eth, uint16_t len)
{
    if (len < RTE_ETHER_HDR_LEN + sizeof(struct rte_arp_hdr)) {
        ifc->stats.bad_frame++;
        return NET_DROP;
    }
    struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
    if (a->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
        a->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || a->arp_hlen != 6 ||
        a->arp_plen != 4) {
        ifc->stats.foreign++;
        return NET_DROP;
    }
    struct rte_arp_ipv4 *d = &a->arp_data;
    arp_learn(ifc, d->arp_sip, &d->arp_sha);
    if (a->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) || d->arp_tip != ifc->ip) {
        if (a->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REQUEST))
            ifc->stats.foreign++;
        return NET_DROP;
    }
    a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
    d->arp_tha = d->arp_sha;
    d->arp_tip = d->arp_sip;
    d->arp_sha = ifc->mac;
    d->arp_sip = ifc->ip;
    eth->dst_addr = eth->src_addr;
    eth->src_addr = ifc->mac;
    m->ol_flags = 0;
    ifc->stats.arp_replies++;
    return NET_REPLY;
}

/* 0xffff when the ones' complement sum over the bytes (checksum included)
 * is all ones: the checksum is right. */
static bool cksum_ok(const void *p, size_t len)
{
    return rte_raw_cksum(p, len) == 0xffff;
}

static enum net_verdict icmp_rx(struct net_iface *ifc, struct rte_mbuf *m,
                                struct rte_ether_hdr *eth, struct rte_ipv4_hdr *ip,
                                uint16_t ihl, uint16_t tot)
{
    if (tot < ihl + sizeof(struct rte_icmp_hdr)) {
        ifc->stats.bad_icmp++;
        return NET_DROP;
    }
    struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)((uint8_t *)ip + ihl);
    uint16_t len = (uint16_t)(tot - ihl);
    if (!cksum_ok(icmp, len)) {
        ifc->stats.bad_icmp++;
        return NET_DROP;
    }
    if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0) {
        ifc->stats.foreign++;
        return NET_DROP;
    }
    icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    icmp->icmp_cksum = 0;
    icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, len);
    ip->dst_addr = ip->src_addr;
    ip->src_addr = ifc->ip;
    ip->time_to_live = 64;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    eth->dst_addr = eth->src_addr;
    eth->src_addr = ifc->mac;
    rte_pktmbuf_trim(m, (uint16_t)(m->data_len - RTE_ETHER_HDR_LEN - tot));
    m->ol_flags = 0;
    ifc->stats.icmp_replies++;
    return NET_REPLY;
}

static enum net_verdict udp_rx(struct net_iface *ifc, struct rte_mbuf *m,
                               struct rte_ether_hdr *eth, struct rte_ipv4_hdr *ip,
                               uint16_t ihl, uint16_t tot, struct net_udp *out)
{
    if (tot < ihl + sizeof(struct rte_udp_hdr)) {
        ifc->stats.bad_frame++;
        return NET_DROP;
    }
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)((uint8_t *)ip + ihl);
    uint16_t ulen = rte_be_to_cpu_16(udp->dgram_len);
    if (ulen < sizeof(*udp) || ulen != tot - ihl) {
        ifc->stats.bad_length++;
        return NET_DROP;
    }
    uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    if (l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD ||
        (l4 != RTE_MBUF_F_RX_L4_CKSUM_GOOD && udp->dgram_cksum != 0 &&
         rte_ipv4_udptcp_cksum_verify(ip, udp) != 0)) {
        ifc->stats.bad_udp_cksum++;
        return NET_DROP;
    }
    /* Verified once: a shard this mbuf is handed to need not again. */
    m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_RX_L4_CKSUM_MASK) | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    out->src_mac = eth->src_addr;
    out->src_ip = ip->src_addr;
    out->dst_ip = ip->dst_addr;
    out->src_port = udp->src_port;
    out->dst_port = udp->dst_port;
    out->payload = (uint8_t *)(udp + 1);
    out->len = (uint16_t)(ulen - sizeof(*udp));
    return NET_UDP;
}

enum net_verdict net_rx(struct net_iface *ifc, struct rte_mbuf *m, struct net_udp *out)
{
    uint16_t len = m->data_len;
    if (m->nb_segs != 1 || len < RTE_ETHER_HDR_LEN) {
        ifc->stats.bad_frame++;
        return NET_DROP;
    }
    struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
        return arp_rx(ifc, m, eth, len);
    if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
        ifc->stats.foreign++;
        return NET_DROP;
    }
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
    if (len < RTE_ETHER_HDR_LEN + sizeof(*ip)) { /* before reading the header */
        ifc->stats.bad_frame++;
        return NET_DROP;
    }
    uint16_t ihl = (uint16_t)((ip->version_ihl & 0x0f) * 4);
    if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(*ip) || RTE_ETHER_HDR_LEN + ihl > len) {
        ifc->stats.bad_frame++;
        return NET_DROP;
    }
    uint16_t tot = rte_be_to_cpu_16(ip->total_length);
    if (tot < ihl || RTE_ETHER_HDR_LEN + tot > len) {
        ifc->stats.bad_length++;
        return NET_DROP;
    }
    bool multicast = is_multicast(ip->dst_addr);
    if (ip->dst_addr != ifc->ip && !(multicast && (net_joined(ifc, ip->dst_addr) ||
                                                   ip->next_proto_id == IPPROTO_IGMP_))) {
        ifc->stats.foreign++;
        return NET_DROP;
    }
    uint64_t l3 = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
    if (l3 == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
        (l3 != RTE_MBUF_F_RX_IP_CKSUM_GOOD && !cksum_ok(ip, ihl))) {
        ifc->stats.bad_ip_cksum++;
        return NET_DROP;
    }
    m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_RX_IP_CKSUM_MASK) | RTE_MBUF_F_RX_IP_CKSUM_GOOD;
    if (rte_be_to_cpu_16(ip->fragment_offset) & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
        ifc->stats.fragments++;
        return NET_DROP;
    }
    switch (ip->next_proto_id) {
    case IPPROTO_UDP:
        return udp_rx(ifc, m, eth, ip, ihl, tot, out);
    case IPPROTO_ICMP:
        if (!multicast)
            return icmp_rx(ifc, m, eth, ip, ihl, tot);
        break;
    case IPPROTO_IGMP_: {
        const uint8_t *igmp = (const uint8_t *)ip + ihl;
        if (tot >= ihl + 8 && igmp[0] == IGMP_QUERY && cksum_ok(igmp, (size_t)(tot - ihl))) {
            ifc->stats.igmp_queries++;
            return NET_IGMP_QUERY;
        }
        break;
    }
    default:
        break;
    }
    ifc->stats.foreign++;
    return NET_DROP;
}

/* Fills an IPv4 header (no options) for len payload bytes after it. */
static void ip_fill(struct net_iface *ifc, struct rte_ipv4_hdr *ip, uint8_t ihl_words,
                    uint8_t proto, uint8_t ttl, uint32_t dst, uint16_t payload_len)
{
    ip->version_ihl = (uint8_t)(0x40 | ihl_words);
    ip->type_of_service = 0;
    ip->total_length = rte_cpu_to_be_16((uint16_t)(ihl_words * 4 + payload_len));
    ip->packet_id = rte_cpu_to_be_16(ifc->ip_id++);
    ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    ip->time_to_live = ttl;
    ip->next_proto_id = proto;
    ip->hdr_checksum = 0;
    ip->src_addr = ifc->ip;
    ip->dst_addr = dst;
}

int net_put_udp(struct net_iface *ifc, struct rte_mbuf *m, const struct rte_ether_addr *dst_mac,
                uint32_t dst_ip, uint16_t src_port, uint16_t dst_port, const void *payload,
                uint16_t len)
{
    uint16_t total = (uint16_t)(NET_HDR_LEN + len);
    uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, total < MIN_FRAME ? MIN_FRAME : total);
    if (!p || len > UINT16_MAX - NET_HDR_LEN)
        return -ENOSPC;
    if (total < MIN_FRAME)
        memset(p + total, 0, MIN_FRAME - total);
    struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
    eth->dst_addr = *dst_mac;
    eth->src_addr = ifc->mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    ip_fill(ifc, ip, 5, IPPROTO_UDP, 64, dst_ip, (uint16_t)(sizeof(*udp) + len));
    udp->src_port = src_port;
    udp->dst_port = dst_port;
    udp->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + len));
    udp->dgram_cksum = 0;
    memcpy(udp + 1, payload, len);
    if (ifc->tx_ip_cksum && ifc->tx_udp_cksum) {
        m->l2_len = RTE_ETHER_HDR_LEN;
        m->l3_len = sizeof(*ip);
        m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM;
        udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
    } else {
        m->ol_flags = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
    }
    return 0;
}

int net_put_arp_request(struct net_iface *ifc, struct rte_mbuf *m, uint32_t ip)
{
    uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, MIN_FRAME);
    if (!p)
        return -ENOSPC;
    memset(p, 0, MIN_FRAME);
    struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
    struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
    memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
    eth->src_addr = ifc->mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    a->arp_hlen = 6;
    a->arp_plen = 4;
    a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
    a->arp_data.arp_sha = ifc->mac;
    a->arp_data.arp_sip = ifc->ip;
    a->arp_data.arp_tip = ip;
    m->ol_flags = 0;
    ifc->stats.arp_requests++;
    return 0;
}

int net_put_igmp_report(struct net_iface *ifc, struct rte_mbuf *m, uint32_t group)
{
    /* RFC 2236: IGMPv2 messages carry the IP Router Alert option, TTL 1. */
    const uint16_t ihl = 24;
    uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, MIN_FRAME);
    if (!p)
        return -ENOSPC;
    memset(p, 0, MIN_FRAME);
    struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
    uint8_t *opt = (uint8_t *)(ip + 1), *igmp = (uint8_t *)ip + ihl;
    multicast_mac(group, &eth->dst_addr);
    eth->src_addr = ifc->mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    ip_fill(ifc, ip, (uint8_t)(ihl / 4), IPPROTO_IGMP_, 1, group, 8);
    opt[0] = 0x94; /* Router Alert, copied, length 4, value 0 */
    opt[1] = 4;
    ip->hdr_checksum = (uint16_t)~rte_raw_cksum(ip, ihl);
    igmp[0] = IGMP_V2_REPORT;
    memcpy(igmp + 4, &group, 4);
    uint16_t ck = (uint16_t)~rte_raw_cksum(igmp, 8);
    memcpy(igmp + 2, &ck, 2);
    m->ol_flags = 0;
    ifc->stats.igmp_reports++;
    return 0;
}
