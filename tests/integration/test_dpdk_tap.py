#!/usr/bin/python3
"""Native UDP produce through DPDK (net_tap), from kernel UDP senders.

    SLUICED=build/sluiced SLUICE_CLI=build/cli/sluice /usr/bin/python3 tests/integration/test_dpdk_tap.py

The test moves itself into a network namespace of its own (dpdk_env.py); the
broker's DPDK port is a net_tap device there, 10.77.0.2 on the DPDK side and
10.77.0.1 on the kernel's. `sluice send` (libsluice-send over a kernel UDP
socket) produces with the native protocol: ACKs checked, datagrams dropped on
purpose re-sent after the broker's NAKs, duplicates dropped by sequence, and
kcat reads back exactly what was sent. Hand-crafted frames and datagrams
(truncated headers, wrong checksums, lengths past the frame, unknown topics,
a RecordBatch with a wrong CRC) are counted and dropped while the broker
keeps serving, over UDP and over Kafka's TCP path beside it."""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dpdk_env as env  # noqa: E402
import harness  # noqa: E402
import metrics_util as mu  # noqa: E402
from harness import check, expect_eq, log  # noqa: E402

N = int(os.environ.get("SLUICE_IT_DPDK_N", "20000"))


def lines(prefix, n):
    return [f"k{i % 97}:{prefix}-{i}-{'v' * (i % 41)}" for i in range(n)]


def send(b, topic, recs, *extra, partition=0, port=env.NATIVE_PORT):
    out, _ = env.sluice(b.bootstrap, "--json", "--timeout", "60000", "send", topic,
                        "--to", f"{env.BROKER_IP}:{port}", "-K:", "-p", str(partition),
                        *extra, input=("\n".join(recs) + "\n").encode(), core=env.SENDER_CORE)
    r = json.loads(out)
    expect_eq(r["acked"], len(recs), "records acknowledged")
    expect_eq(r["records"], len(recs), "records sent")
    return r


def read_back(b, topic, partition=0):
    p = harness.kcat(b.bootstrap, ["-C", "-t", topic, "-p", str(partition), "-e", "-q",
                                   "-o", "beginning", "-f", "%k:%s\\n"], timeout=120)
    return p.stdout.decode().splitlines()


def test_arp_and_icmp_echo(ctx):
    b = env.tap_broker(ctx, "icmp", "sltap0")
    for i in range(3):
        payload = b"sluice-%d" % i
        expect_eq(env.ping(payload), (0, payload), "ICMP echo reply type and payload")
    neigh = env.ip("neigh", "show", env.BROKER_IP).stdout.decode()
    mac = ":".join(f"{x:02x}" for x in env.broker_mac(b))
    check(mac in neigh.lower(), f"the kernel learned the broker's MAC by ARP: {neigh}")
    b.stop()
    st = env.dpdk_stats(b)
    check(env.total(st, "net.arp_replies") >= 1, f"ARP replies: {st}")
    expect_eq(env.total(st, "net.icmp_replies"), 3, "ICMP echo replies")


def test_produce_acked_and_read_back(ctx):
    b = env.tap_broker(ctx, "produce", "sltap1")
    env.create_topic(b.bootstrap, "feed")
    recs = lines("a", N)
    r = send(b, "feed", recs)
    expect_eq(r["last_offset"], N - 1, "the last offset acknowledged")
    check(r["acks"] >= 1, f"ACKs: {r}")
    expect_eq(read_back(b, "feed"), recs, "records read back with kcat")
    # Another sender (a new producer id) appends after them.
    more = lines("b", 500)
    r = send(b, "feed", more, "--batch", "1")
    expect_eq(r["datagrams"], 500, "one datagram per record with --batch 1")
    expect_eq(r["last_offset"], N + 499, "the last offset of the second sender")
    expect_eq(read_back(b, "feed"), recs + more, "both senders' records, in order")
    # The TCP path serves beside the DPDK one.
    harness.kcat_roundtrip(b.bootstrap, "tcp-beside", n=200)
    b.stop()
    st = env.dpdk_stats(b)
    # The tap's queue may overflow under a burst (the kernel drops): then
    # NAKs and re-sends mend it, and still nothing is stored twice.
    expect_eq(env.total(st, "native.records"), N + 500, "records appended by the native path")


def test_dropped_datagrams_resent_after_nak(ctx):
    b = env.tap_broker(ctx, "nak", "sltap2")
    env.create_topic(b.bootstrap, "lossy")
    recs = lines("l", N // 2)
    r = send(b, "lossy", recs, "--batch", "4", "--test-drop-every", "50")
    check(r["naks"] >= 1 and r["retransmits"] >= 1, f"NAKs and re-sends: {r}")
    expect_eq(read_back(b, "lossy"), recs, "every record once, in order, despite the losses")
    b.stop()
    st = env.dpdk_stats(b)
    check(env.total(st, "native.gaps") >= 1 and env.total(st, "native.naks") >= 1,
          f"broker gaps/NAKs: {st}")


def test_duplicates_dropped(ctx):
    b = env.tap_broker(ctx, "dup", "sltap3")
    env.create_topic(b.bootstrap, "twice")
    # Every duplicate must reach a broker that knows the producer: a first
    # datagram lost (the kernel's queue behind an unresolved neighbour drops
    # the oldest) makes the next ones UNKNOWN_PRODUCER_ID until the re-send.
    expect_eq(env.ping(b"dup"), (0, b"dup"), "ICMP echo: the neighbour resolved")
    recs = lines("d", N // 2)
    send(b, "twice", recs, "--batch", "3", "--test-dup-every", "5")
    expect_eq(read_back(b, "twice"), recs, "no record stored twice")
    b.stop()
    st = env.dpdk_stats(b)
    expect_eq(env.total(st, "native.unknown_producer"), 0,
              f"datagrams before the producer's first (lost on the way?): {st}")
    # Each duplicate sent is dropped by sequence - unless the kernel's tap
    # queue dropped its original under load: then it is the copy stored,
    # and its successors that came first were counted as a gap (and sent
    # again after the NAK).
    dups, gaps = env.total(st, "native.duplicates"), env.total(st, "native.gaps")
    check(dups + gaps >= len(recs) // 3 // 5 - 1 and dups > 0,
          f"duplicates dropped by sequence: {st}")


def test_handoff_between_shards(ctx):
    """Two shards; every datagram goes to shard 0's port. The partition that
    shard 1 owns is handed over on the SPSC ring (net_tap has no rte_flow
    here), and its ACKs come from shard 1's port, where the sender goes next."""
    b = env.tap_broker(ctx, "handoff", "sltap4", shards=2)
    env.create_topic(b.bootstrap, "spread", partitions=2)
    md = harness.kcat_metadata(b.bootstrap, "spread")
    leaders = {p["partition"]: p["leader"] for p in md["topics"][0]["partitions"]}
    expect_eq(sorted(leaders.values()), [0, 1], "one partition per shard")
    # The kernel spreads flows over the tap's queues by a hash of their
    # addresses: ten senders (ten source ports) per partition make it all
    # but certain that some land on the queue of the shard that does not
    # own their partition.
    for part in (0, 1):
        want = []
        for k in range(10):
            recs = lines(f"h{part}.{k}", 300)
            send(b, "spread", recs, partition=part)
            want += recs
        expect_eq(read_back(b, "spread", part), want, f"partition {part} read back")
    b.stop()
    st = env.dpdk_stats(b)
    check(env.total(st, "handoff_in") >= 1, f"datagrams handed between shards: {st}")
    expect_eq(env.total(st, "handoff_dropped"), 0, "hand-offs dropped")


def test_bad_packets_counted_and_dropped(ctx):
    b = env.tap_broker(ctx, "bad", "sltap5", sets={"sluice.http.listen": "127.0.0.1:0"})
    env.create_topic(b.bootstrap, "good")
    dst = env.broker_mac(b)
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    raw.bind(("sltap5", 0))
    src = raw.getsockname()[4]
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind((env.PEER_IP, 0))
    rx.settimeout(5)
    sport = rx.getsockname()[1]

    def frame(payload, **spoil):
        return env.udp_frame(dst, src, env.PEER_IP, env.BROKER_IP, sport, env.NATIVE_PORT,
                             payload, **spoil)

    batch = env.record_batch([b"x"], 5, 0, 0)  # producer 5, epoch 0, sequence 0
    dgram = env.native_produce("good", 0, 5, 0, 0, batch)
    bad = [
        ("truncated IPv4 header", dst + src + b"\x08\x00" + b"\x45\x00\x00"),
        ("truncated UDP header", frame(dgram, ip_len=24)[:14 + 24]),
        ("IPv4 length past the frame", frame(dgram, ip_len=20 + 8 + len(dgram) + 100)),
        ("UDP length past the frame", frame(dgram, udp_len=8 + len(dgram) + 100)),
        ("IPv4 checksum", frame(dgram, ip_cksum=0x1234)),
        ("UDP checksum", frame(dgram, udp_cksum=0x1234)),
        ("not our magic", frame(b"XX" + dgram[2:])),
        ("truncated native header", frame(dgram[:12])),
        ("topic length past the end", frame(dgram[:6] + b"\x01\x00" + dgram[8:])),
    ]
    for what, f in bad:
        raw.send(f)
    # Well-formed, but for no partition: NAK UNKNOWN_TOPIC_OR_PARTITION.
    raw.send(frame(env.native_produce("no-such-topic", 0, 5, 0, 0, batch)))
    r = env.parse_reply(rx.recv(2048))
    expect_eq((r[0], r[1], r[5]), (3, "no-such-topic", 3), "NAK for an unknown topic")
    # A batch whose CRC is wrong: NAK CORRUPT_MESSAGE, nothing stored.
    raw.send(frame(dgram))  # its CRC field is 0: wrong
    r = env.parse_reply(rx.recv(2048))
    expect_eq((r[0], r[5], r[6]), (3, 2, 0), "NAK CORRUPT_MESSAGE for a bad CRC, expecting 0")
    # The broker keeps serving: a real sender is acknowledged...
    recs = lines("g", 1000)
    send(b, "good", recs)
    expect_eq(read_back(b, "good"), recs, "good records after the bad packets")
    # ...and so is Kafka's TCP path.
    harness.kcat_roundtrip(b.bootstrap, "still-tcp", n=100)
    scraped = mu.scrape(b)    # /metrics exports the same counters (ops/prom.c)
    b.stop()
    st = env.dpdk_stats(b)
    log(f"counters: {st[0]}")
    want = {"net.bad_frame": 2, "net.bad_length": 2, "net.bad_ip_cksum": 1, "net.bad_udp_cksum": 1,
            "bad_datagram": 3, "unknown_partition": 1, "native.refused": 1}
    for k, v in want.items():
        check(env.total(st, k) >= v, f"counter {k}: expected >= {v}, got {env.total(st, k)}")
        name = "sluice_dpdk_" + k.replace(".", "_") + "_total"
        expect_eq(mu.value(scraped, name), float(env.total(st, k)), f"{name} in /metrics")


if __name__ == "__main__":
    env.enter_netns("sl-tap")
    harness.main([test_arp_and_icmp_echo, test_produce_acked_and_read_back,
                  test_dropped_datagrams_resent_after_nak, test_duplicates_dropped,
                  test_handoff_between_shards, test_bad_packets_counted_and_dropped],
                 shards=1)
