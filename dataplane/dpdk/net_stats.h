/* net_stats.h - what net.c counts: why frames were dropped, what was
 * answered. Apart from net.h so that it is readable without DPDK's
 * headers (dpdk.h's counters, metrics). */
#ifndef SLUICE_DPDK_NET_STATS_H
#define SLUICE_DPDK_NET_STATS_H

#include <stdint.h>

/* Why frames were dropped, and what was answered. */
struct net_stats {
    uint64_t foreign;         /* not for us: other protocol, host or port */
    uint64_t bad_frame;       /* shorter than its headers, or not one segment */
    uint64_t bad_length;      /* an IPv4 or UDP length past the frame */
    uint64_t bad_ip_cksum;
    uint64_t bad_udp_cksum;
    uint64_t bad_icmp;
    uint64_t fragments;
    uint64_t arp_replies;
    uint64_t arp_requests;
    uint64_t icmp_replies;
    uint64_t igmp_queries;
    uint64_t igmp_reports;
};

#endif
