#!/usr/bin/python3
"""Raw feed capture through DPDK: every datagram to a capture topic's port or
multicast group becomes a record.

    SLUICED=build/sluiced SLUICE_CLI=build/cli/sluice /usr/bin/python3 tests/integration/test_dpdk_capture.py

- a pcap replay (net_pcap) of two feeds at the full rate of the replay: a
  MoldUDP64 feed to a multicast group, LZ4-compressed, with a planted gap, a
  duplicate, heartbeats and an end of session, and a feed with a 4-byte
  sequence field, unicast. Checked: every datagram stored once as a record
  (key = source, value = payload byte for byte, read with librdkafka and
  kcat), the nanosecond receive timestamps equal to the capture file's and in
  order, the gap and duplicate marked in record headers and counted by the
  broker and by `sluice capture status`, the IGMP join written out.
- a live MoldUDP64 feed over net_tap with a gap filled from a re-request
  server (Python, on the kernel's side): the broker asks for the missing
  messages, holds what follows, and stores the fill in sequence order.
All in a network namespace of the test's own (dpdk_env.py)."""

import json
import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dpdk_env as env  # noqa: E402
import harness  # noqa: E402
from harness import check, expect_eq, log  # noqa: E402

NPKT = int(os.environ.get("SLUICE_IT_CAPTURE_N", "3000"))
SESSION = "SLUICETEST"
GROUP = "239.1.1.1"
FEED_SRC = ("10.77.0.9", 5000)
T0_US = 1700000000000000


def consume(bootstrap, topic, n):
    """The first n records of partition 0: (offset, key, value, ms, headers)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-capture",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, 0, 0)])
    out = []
    try:
        for _ in range(n * 10 + 100):
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    if len(out) >= n:
                        break
                    continue
                harness.fail(f"consume {topic}: {m.error()}")
            out.append((m.offset(), m.key(), m.value(), m.timestamp()[1],
                        dict(m.headers() or [])))
            if len(out) >= n:
                break
    finally:
        c.close()
    expect_eq(len(out), n, f"records read back from {topic}")
    return out


def stored(b, topic):
    p = harness.kcat(b.bootstrap, ["-C", "-t", topic, "-e", "-q", "-o", "beginning",
                                   "-f", "%o\\n"], timeout=60)
    return len(p.stdout.splitlines())


def mold_feed():
    """[(seq, payload)] of the MoldUDP64 feed, as sent, and the gap and the
    duplicate planted in it."""
    pkts, seq = [], 1
    for i in range(NPKT):
        if i % 250 == 249:
            pkts.append((seq, env.mold_packet(SESSION, seq, [])))  # a heartbeat
            continue
        msgs = env.mold_messages(seq, 1 + i % 4)
        pkts.append((seq, env.mold_packet(SESSION, seq, msgs)))
        seq += len(msgs)
    gap_at, dup_at = NPKT // 3, NPKT // 2
    gap_seq = pkts[gap_at][0]
    gap_n = pkts[gap_at + 1][0] - gap_seq
    feed = pkts[:gap_at] + pkts[gap_at + 1:]
    dup = feed[dup_at]
    feed.insert(dup_at + 3, dup)  # a late copy
    eos = env.mold_packet(SESSION, seq, [])
    feed.append((seq, eos[:18] + b"\xff\xff"))  # end of session
    return feed, (gap_seq, gap_n), dup


def test_pcap_replay_two_feeds(ctx):
    b = ctx.new_broker("pcap", start=False, shards=1)
    b.start()
    env.create_topic(b.bootstrap, "mold", configs=[
        "sluice.capture.port=30001", f"sluice.capture.group={GROUP}",
        "sluice.capture.sequence=moldudp64", "compression.type=lz4"])
    env.create_topic(b.bootstrap, "ticks", configs=[
        "sluice.capture.port=30002", "sluice.capture.sequence=0:4:be"])
    b.stop()

    mold, (gap_seq, gap_n), dup = mold_feed()
    ticks = [struct.pack("!I", 1000 + i) + b"tick-%d" % i for i in range(NPKT // 2)]
    ticks.insert(100, ticks[99])                 # a duplicate
    del ticks[200]                               # a gap of one
    me = bytes.fromhex("020000000009")
    frames, us = [], T0_US
    for i in range(max(len(mold), len(ticks))):  # the two feeds interleaved
        if i < len(mold):
            frames.append((us, env.udp_frame(env.multicast_mac(GROUP), me, FEED_SRC[0], GROUP,
                                             FEED_SRC[1], 30001, mold[i][1])))
            us += 3
        if i < len(ticks):
            frames.append((us, env.udp_frame(bytes(6), me, FEED_SRC[0], env.BROKER_IP,
                                             FEED_SRC[1], 30002, ticks[i])))
            us += 2
    pcap = os.path.join(b.workdir, "feed.pcap")
    tx = os.path.join(b.workdir, "tx.pcap")
    env.write_pcap(pcap, frames)
    b.sets.update(env.dpdk_sets(f"net_pcap0,rx_pcap={pcap},tx_pcap={tx}"))
    b.start()
    harness.wait_until(lambda: stored(b, "mold") >= len(mold) and
                       stored(b, "ticks") >= len(ticks), 120, "the replay to be stored",
                       interval=0.2)

    # Every datagram once, in order, as it was in the file.
    recs = consume(b.bootstrap, "mold", len(mold))
    sent_us = [f[0] for f in frames if f[1][:6] == env.multicast_mac(GROUP)]
    prev = 0
    for k, ((off, key, value, ms, h), (seq, payload)) in enumerate(zip(recs, mold)):
        expect_eq((off, key, value), (k, b"%s:%d" % (FEED_SRC[0].encode(), FEED_SRC[1]),
                                      payload), f"mold record {k}")
        ns = struct.unpack("!Q", h["sluice.ts.ns"])[0]
        expect_eq(ns, sent_us[k] * 1000, f"record {k}: the capture file's timestamp, in ns")
        expect_eq(ms, ns // 1000000, f"record {k}: Kafka timestamp (ms)")
        check(ns >= prev, f"record {k}: timestamps in order")
        prev = ns
        expect_eq(h["sluice.session"], SESSION.encode(), f"record {k}: session")
        expect_eq(struct.unpack("!Q", h["sluice.seq"])[0], seq, f"record {k}: sequence")
    gaps = [(k, h["sluice.gap"]) for k, (_o, _k, _v, _m, h) in enumerate(recs)
            if "sluice.gap" in h]
    expect_eq([struct.unpack("!QQ", g) for _, g in gaps], [(gap_seq, gap_n)], "gap headers")
    dups = [(k, h["sluice.dup"]) for k, (_o, _k, _v, _m, h) in enumerate(recs)
            if "sluice.dup" in h]
    expect_eq(len(dups), 1, "one duplicate marked")
    expect_eq(recs[dups[0][0]][2], dup[1], "the duplicate is the repeated packet")

    trecs = consume(b.bootstrap, "ticks", len(ticks))
    expect_eq([r[2] for r in trecs], ticks, "the ticks feed, byte for byte")
    tgaps = [struct.unpack("!QQ", r[4]["sluice.gap"]) for r in trecs if "sluice.gap" in r[4]]
    expect_eq(tgaps, [(1199, 1)], "the ticks feed's gap")
    expect_eq(sum("sluice.dup" in r[4] for r in trecs), 1, "the ticks feed's duplicate")

    # The CLI's account of the stored feed.
    out, _ = env.sluice(b.bootstrap, "--json", "capture", "status", "mold")
    st = json.loads(out)
    expect_eq(len(st["sessions"]), 1, "sessions")
    s = st["sessions"][0]
    expect_eq((s["session"], s["first"], s["duplicates"], s["missing"]),
              (SESSION, 1, 1, gap_n), "capture status")
    expect_eq([(g["from"], g["count"]) for g in s["gaps"]], [(gap_seq, gap_n)], "status gaps")
    out, _ = env.sluice(b.bootstrap, "capture", "status", "mold")
    check(SESSION in out and str(gap_seq) in out, f"capture status table: {out}")
    # kcat reads the LZ4 batches too.
    expect_eq(stored(b, "mold"), len(mold), "records kcat reads")
    b.stop()

    st = env.dpdk_stats(b)
    log(f"counters: { {k: v for k, v in st[0].items() if k.startswith('capture.')} }")
    expect_eq(env.total(st, "capture.datagrams"), len(mold) + len(ticks), "datagrams captured")
    expect_eq(env.total(st, "capture.gaps"), 2, "gaps detected (one per feed)")
    expect_eq(env.total(st, "capture.gap_messages"), gap_n + 1, "messages missing")
    expect_eq(env.total(st, "capture.duplicates"), 2, "duplicates detected")
    expect_eq(env.total(st, "capture.dropped"), 0, "datagrams dropped")
    # The broker joined the group: an IGMPv2 report for it went out.
    igmp = [f for _, f in env.read_pcap(tx) if f[12:14] == b"\x08\x00" and f[23] == 2]
    check(any(f[14 + 24] == 0x16 and f[14 + 24 + 4:14 + 24 + 8] == env.ip4(GROUP)
              for f in igmp), f"an IGMPv2 report for {GROUP} in {tx}")


class RerequestServer:
    """A MoldUDP64 re-request server on the kernel's side: answers each
    request (session, sequence, count) with the messages asked for."""

    def __init__(self, packets):
        self.msgs = {}
        for seq, msgs in packets:
            for i, m in enumerate(msgs):
                self.msgs[seq + i] = m
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((env.PEER_IP, 30004))
        self.sock.settimeout(0.2)
        self.requests = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                d, peer = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            session, seq, count = d[:10].decode(), *struct.unpack("!QH", d[10:20])
            self.requests.append((session, seq, count))
            msgs = [self.msgs[s] for s in range(seq, seq + count) if s in self.msgs]
            self.sock.sendto(env.mold_packet(session, seq, msgs), peer)

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.sock.close()


def test_live_gap_filled_in_order(ctx):
    b = env.tap_broker(ctx, "live", "sltap9")
    env.create_topic(b.bootstrap, "live", configs=[
        "sluice.capture.port=30003", "sluice.capture.sequence=moldudp64",
        f"sluice.capture.retransmit={env.PEER_IP}:30004", "sluice.capture.hold.ms=3000"])
    packets, seq = [], 1
    for i in range(400):
        msgs = env.mold_messages(seq, 1 + i % 3)
        packets.append((seq, msgs))
        seq += len(msgs)
    # The broker's MAC set by hand: the kernel sends nothing before its
    # ARP resolves, and drops the oldest packets it queued meanwhile, which
    # would be more gaps than the one planted. The broker, for its part,
    # must ARP for the re-request server on its own.
    mac = ":".join(f"{x:02x}" for x in env.broker_mac(b))
    env.ip("neigh", "replace", env.BROKER_IP, "lladdr", mac, "dev", "sltap9", "nud", "permanent")
    server = RerequestServer(packets)
    try:
        feed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        feed.bind((env.PEER_IP, 5555))
        lost = packets[150]
        for seq, msgs in packets:
            if (seq, msgs) != lost:
                feed.sendto(env.mold_packet(SESSION, seq, msgs), (env.BROKER_IP, 30003))
        harness.wait_until(lambda: stored(b, "live") >= len(packets), 60,
                           "the feed and its fill to be stored", interval=0.2)
    finally:
        server.close()
    expect_eq(server.requests, [(SESSION, lost[0], len(lost[1]))], "re-requests")
    recs = consume(b.bootstrap, "live", len(packets))
    seqs = [struct.unpack("!Q", r[4]["sluice.seq"])[0] for r in recs]
    expect_eq(seqs, [p[0] for p in packets], "stored in sequence order, the fill in its place")
    k = seqs.index(lost[0])
    check("sluice.fill" in recs[k][4], "the fill is marked")
    check("sluice.gap" in recs[k + 1][4], "the datagram after the gap is marked")
    out, _ = env.sluice(b.bootstrap, "--json", "capture", "status", "live")
    s = json.loads(out)["sessions"][0]
    expect_eq((s["missing"], s["fill_messages"], len(s["gaps"])), (0, len(lost[1]), 1),
              "status: the gap is filled")
    b.stop()
    st = env.dpdk_stats(b)
    expect_eq((env.total(st, "capture.retransmit_requests"), env.total(st, "capture.holds"),
               env.total(st, "capture.hold_timeouts")), (1, 1, 0), "re-requests and holds")
    check(env.total(st, "net.arp_requests") >= 1, "the broker asked for the server's MAC")


if __name__ == "__main__":
    env.enter_netns("sl-cap")
    harness.main([test_pcap_replay_two_feeds, test_live_gap_filled_in_order], shards=1)
