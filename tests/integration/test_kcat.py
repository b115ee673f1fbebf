#!/usr/bin/python3
"""kcat against sluiced: metadata, and 100,000 keyed messages with headers per
compression codec, produced with `kcat -P -K:` and read back byte-identical,
partition by partition, with `kcat -C -e -o beginning -f ...`."""

import os
import random
import socket
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect_eq, fail, kcat, kcat_metadata, log  # noqa: E402

N = int(os.environ.get("SLUICE_IT_KCAT_N", "100000"))
PARTITIONS = 4
CODECS = ["none", "lz4", "gzip", "snappy", "zstd"]
HEADERS = [("trace-id", "4bf92f3577b34da6"), ("origin", "kcat=test,x")]
# %K/%S (lengths) make the format unambiguous for binary keys and values.
FORMAT = "@@%p|%o|%K|%S|%k%s|%h\\n"
WORDS = [b"alpha", b"bravo", b"charlie", b"delta", b"echo", b"foxtrot"]


def messages(seed):
    """N (key, value) pairs: unique keys without ':' or newline; values of
    1..~300 bytes (every 997th is 20 KB), compressible text plus a tail of
    arbitrary bytes (NUL, high bytes, tabs; never a newline)."""
    rng = random.Random(seed)
    out = []
    for i in range(N):
        key = b"key-%06d-%d" % (i, rng.randrange(1000))
        tail = bytes(b if b != 0x0A else 0x0B for b in rng.randbytes(i % 61))
        if i % 997 == 0:
            body = b"".join(rng.choice(WORDS) for _ in range(3500))[:20000]
        else:
            body = b" ".join(rng.choice(WORDS) for _ in range(i % 40))
        out.append((key, b"v%d|" % i + body + tail))
    return out


def partition_of(key, partitions):
    # librdkafka's default partitioner (consistent_random): CRC-32 of the key.
    return zlib.crc32(key) % partitions


def expected_streams(msgs, partitions):
    hdrs = ",".join(f"{k}={v}" for k, v in HEADERS).encode()
    streams = [[] for _ in range(partitions)]
    for key, value in msgs:
        p = partition_of(key, partitions)
        off = len(streams[p])
        streams[p].append(b"@@%d|%d|%d|%d|%s%s|%s\n" % (p, off, len(key), len(value), key,
                                                       value, hdrs))
    return [b"".join(s) for s in streams], [len(s) for s in streams]


def first_difference(got, exp):
    n = min(len(got), len(exp))
    i = next((j for j in range(n) if got[j] != exp[j]), n)
    start = max(0, got.rfind(b"@@", 0, i + 1))
    estart = max(0, exp.rfind(b"@@", 0, i + 1))
    return (f"first difference at byte {i} (got {len(got)} bytes, expected {len(exp)}):\n"
            f"      expected record: {exp[estart:estart + 160]!r}\n"
            f"      got record:      {got[start:start + 160]!r}")


def test_kcat_metadata(ctx):
    b = ctx.broker
    md = kcat_metadata(b.bootstrap)
    brokers = sorted(md["brokers"], key=lambda x: x["id"])
    log(f"brokers: {brokers}")
    expect_eq(len(brokers), b.ready_shards, "number of brokers in Metadata (one per shard)")
    expect_eq([x["id"] for x in brokers], list(range(b.ready_shards)),
              "broker node ids (shard i is node i)")
    addrs = [x["name"] for x in brokers]
    expect_eq(addrs[0].rsplit(":", 1)[1], b.bootstrap.rsplit(":", 1)[1],
              "node 0's advertised port (the bootstrap's)")
    expect_eq(len(set(addrs)), len(addrs), "distinct advertised addresses")
    for a in addrs:
        host, port = a.rsplit(":", 1)
        ips = {ai[4][0] for ai in socket.getaddrinfo(host, int(port), socket.AF_INET)}
        check("127.0.0.1" in ips, f"advertised host {host} does not resolve to 127.0.0.1 "
                                  f"(the --listen address): {ips}")
        if host != "127.0.0.1":
            log(f"note: advertised host is {host!r}, not the --listen host 127.0.0.1")
    # every shard must answer Metadata itself, with the same brokers
    for a in addrs[1:]:
        md2 = kcat_metadata(a)
        expect_eq(sorted((x["id"], x["name"]) for x in md2["brokers"]),
                  sorted((x["id"], x["name"]) for x in brokers), f"brokers as seen from {a}")


def make_codec_test(codec):
    def test(ctx):
        b = ctx.broker
        topic = f"kcat-{codec}"
        msgs = messages(seed=CODECS.index(codec) + 1)
        payload = b"".join(k + b":" + v + b"\n" for k, v in msgs)
        args = ["-P", "-t", topic, "-K:", "-z", codec, "-X", "acks=all"]
        for k, v in HEADERS:
            args += ["-H", f"{k}={v}"]
        p = kcat(b.bootstrap, args, input=payload, timeout=240)
        err = p.stderr.decode(errors="replace")
        check("fail" not in err.lower() and "error" not in err.lower(),
              f"kcat -P reported problems:\n{err[-3000:]}")

        md = kcat_metadata(b.bootstrap, topic)
        tmd = [t for t in md["topics"] if t["topic"] == topic]
        expect_eq(len(tmd), 1, f"topic {topic} in Metadata")
        check("error" not in tmd[0], f"Metadata error for {topic}: {tmd[0].get('error')}")
        parts = sorted(tmd[0]["partitions"], key=lambda x: x["partition"])
        expect_eq([x["partition"] for x in parts], list(range(PARTITIONS)),
                  f"partitions of auto-created {topic} (num.partitions={PARTITIONS})")
        ids = {x["id"] for x in md["brokers"]}
        for x in parts:
            check(x["leader"] in ids, f"partition {x['partition']} leader {x['leader']} "
                                      f"is not an advertised broker {sorted(ids)}")

        streams, counts = expected_streams(msgs, PARTITIONS)
        log(f"{topic}: {N} messages, {len(payload)} bytes, per partition {counts}")
        for part in range(PARTITIONS):
            c = kcat(b.bootstrap, ["-C", "-t", topic, "-p", str(part), "-e", "-o", "beginning",
                                   "-q", "-f", FORMAT], timeout=240)
            got = c.stdout
            if got != streams[part]:
                fail(f"{topic} partition {part}: consumed bytes differ from produced; "
                     f"{got.count(b'@@')} records read, {counts[part]} expected; "
                     + first_difference(got, streams[part]))
    test.__name__ = f"test_kcat_roundtrip_{codec}"
    return test


def test_kcat_list_topics(ctx):
    md = kcat_metadata(ctx.broker.bootstrap)
    names = {t["topic"]: len(t["partitions"]) for t in md["topics"]}
    for codec in CODECS:
        expect_eq(names.get(f"kcat-{codec}"), PARTITIONS,
                  f"partition count of kcat-{codec} in the all-topics Metadata")


if __name__ == "__main__":
    harness.main([test_kcat_metadata] + [make_codec_test(c) for c in CODECS]
                 + [test_kcat_list_topics],
                 sets={"num.partitions": PARTITIONS})
