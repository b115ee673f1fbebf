/*
 * fuzz_net.c - libFuzzer target for the DPDK port's L2/L3 receive path
 * (dataplane/dpdk/net.c, net_rx): every frame a NIC queue hands a shard,
 * before anything of sluice's own protocol is parsed.
 *
 * Input: byte 0 sets the checksum flags the port reports in the mbuf
 * (bits 0-1: IP unknown/bad/good/none, bits 2-3: L4 likewise), the rest is
 * the Ethernet frame, in a buffer exactly its size (ASan sees any read
 * past it). The interface is 10.0.0.2/24 and has joined 239.1.1.1.
 * Checks: a datagram handed back lies inside the frame; a reply (ARP,
 * ICMP echo) is rewritten in place and stays inside the buffer.
 * Seeds: tests/fuzz/corpus/fuzz_net, written by net_seeds.py (an ARP
 * request, an ICMP echo, UDP datagrams to the interface and the group,
 * an IGMP query).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "dataplane/dpdk/net.h"

static const uint64_t ip_flags[4] = {
	RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN, RTE_MBUF_F_RX_IP_CKSUM_BAD,
	RTE_MBUF_F_RX_IP_CKSUM_GOOD, RTE_MBUF_F_RX_IP_CKSUM_NONE,
};
static const uint64_t l4_flags[4] = {
	RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN, RTE_MBUF_F_RX_L4_CKSUM_BAD,
	RTE_MBUF_F_RX_L4_CKSUM_GOOD, RTE_MBUF_F_RX_L4_CKSUM_NONE,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > UINT16_MAX)
		return 0;
	size_t len = size - 1;
	uint8_t *frame = malloc(len ? len : 1);
	if (!frame)
		return 0;
	memcpy(frame, data + 1, len);

	struct rte_mbuf m;
	memset(&m, 0, sizeof(m));
	m.buf_addr = frame;
	m.buf_len = (uint16_t)len;
	m.data_off = 0;
	m.data_len = (uint16_t)len;
	m.pkt_len = (uint32_t)len;
	m.nb_segs = 1;
	m.ol_flags = ip_flags[data[0] & 3] | l4_flags[(data[0] >> 2) & 3];

	static const struct rte_ether_addr mac = { { 0x02, 0, 0, 0, 0, 0x02 } };
	struct net_iface ifc;
	net_iface_init(&ifc, &mac, htonl(0x0a000002), htonl(0xffffff00));
	if (net_join(&ifc, htonl(0xef010101)) != 0)
		abort();

	struct net_udp u;
	enum net_verdict v = net_rx(&ifc, &m, &u);
	if (v == NET_UDP) {
		if (u.payload < frame || u.payload + u.len > frame + len)
			abort();
	} else if (v == NET_REPLY) {
		if (m.data_off != 0 || m.data_len > len || m.data_len < RTE_ETHER_HDR_LEN)
			abort();
	} else if (v != NET_DROP && v != NET_IGMP_QUERY) {
		abort();
	}
	free(frame);
	return 0;
}
