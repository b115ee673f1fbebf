#!/usr/bin/python3
"""Writes fuzz_net's seeds: Ethernet frames as a DPDK queue receives them
for the interface of tests/fuzz/fuzz_net.c (10.0.0.2/24, group 239.1.1.1),
built with the DPDK integration tests' frame helpers (dpdk_env.py). Byte 0
of each file is the checksum flags byte (0: the port verified nothing, so
net_rx checks every checksum itself).

    tests/fuzz/net_seeds.py tests/fuzz/corpus/fuzz_net
"""

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from dpdk_env import inet_cksum, ip4, multicast_mac, udp_frame  # noqa: E402

US_MAC, PEER_MAC = bytes([2, 0, 0, 0, 0, 2]), bytes([2, 0, 0, 0, 0, 9])
US, PEER, GROUP = "10.0.0.2", "10.0.0.9", "239.1.1.1"


def ipv4(dst, proto, payload):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                      ip4(PEER), ip4(dst))
    return hdr[:10] + struct.pack("!H", inet_cksum(hdr)) + hdr[12:] + payload


def with_cksum(msg, at):
    return msg[:at] + struct.pack("!H", inet_cksum(msg)) + msg[at + 2:]


def frames():
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, PEER_MAC, ip4(PEER), b"\0" * 6,
                      ip4(US))
    yield "arp-request", b"\xff" * 6 + PEER_MAC + b"\x08\x06" + arp
    icmp = with_cksum(struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"ping" * 8, 2)
    yield "icmp-echo", US_MAC + PEER_MAC + b"\x08\x00" + ipv4(US, 1, icmp)
    yield "udp-unicast", udp_frame(US_MAC, PEER_MAC, PEER, US, 40000, 9093, b"x" * 64)
    yield "udp-multicast", udp_frame(multicast_mac(GROUP), PEER_MAC, PEER, GROUP, 40000, 30001,
                                     b"m" * 40)
    igmp = with_cksum(struct.pack("!BBH4s", 0x11, 100, 0, b"\0" * 4), 2)
    yield "igmp-query", multicast_mac("224.0.0.1") + PEER_MAC + b"\x08\x00" + \
        ipv4("224.0.0.1", 2, igmp)


def main(out):
    os.makedirs(out, exist_ok=True)
    for name, frame in frames():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"\0" + frame)


if __name__ == "__main__":
    main(sys.argv[1])
