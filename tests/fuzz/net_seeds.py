#!/usr/bin/python3
"""Writes fuzz_net's seeds: Ethernet frames as a DPDK queue receives them
for the interface of tests/fuzz/fuzz_net.c (10.0.0.2/24, group 239.1.1.1).
Byte 0 of each file is the checksum flags byte (0: the port verified
nothing, so net_rx checks every checksum itself).

    tests/fuzz/net_seeds.py tests/fuzz/corpus/fuzz_net
"""

import os
import struct
import sys

US_MAC = bytes([2, 0, 0, 0, 0, 2])
PEER_MAC = bytes([2, 0, 0, 0, 0, 9])
US, PEER, GROUP = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 9]), bytes([239, 1, 1, 1])


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def eth(dst, ethertype, payload):
    return dst + PEER_MAC + struct.pack("!H", ethertype) + payload


def ipv4(dst, proto, payload, src=PEER):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def udp(dst, sport, dport, payload):
    length = 8 + len(payload)
    pseudo = PEER + dst + struct.pack("!BBH", 0, 17, length)
    hdr = struct.pack("!HHHH", sport, dport, length, 0)
    c = csum(pseudo + hdr + payload) or 0xffff
    return struct.pack("!HHHH", sport, dport, length, c) + payload


def frames():
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, PEER_MAC, PEER, b"\0" * 6, US)
    yield "arp-request", eth(b"\xff" * 6, 0x0806, arp)
    icmp = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"ping" * 8
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    yield "icmp-echo", eth(US_MAC, 0x0800, ipv4(US, 1, icmp))
    yield "udp-unicast", eth(US_MAC, 0x0800, ipv4(US, 17, udp(US, 40000, 9093, b"x" * 64)))
    mc_mac = bytes([1, 0, 0x5e, 1, 1, 1])
    yield "udp-multicast", eth(mc_mac, 0x0800, ipv4(GROUP, 17, udp(GROUP, 40000, 30001, b"m" * 40)))
    igmp = struct.pack("!BBH4s", 0x11, 100, 0, b"\0" * 4)
    igmp = igmp[:2] + struct.pack("!H", csum(igmp)) + igmp[4:]
    yield "igmp-query", eth(bytes([1, 0, 0x5e, 0, 0, 1]), 0x0800,
                            ipv4(bytes([224, 0, 0, 1]), 2, igmp))


def main(out):
    os.makedirs(out, exist_ok=True)
    for name, frame in frames():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"\0" + frame)


if __name__ == "__main__":
    main(sys.argv[1])
