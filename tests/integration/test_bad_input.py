#!/usr/bin/python3
"""Hostile and broken input on raw sockets. After each case the broker process
must still be alive and must still serve a kcat produce/consume round trip.

Expectations beyond survival, all as Apache Kafka behaves:
- a length prefix of 2 GiB or of -1, or an HTTP request (whose first 4 bytes
  read as a ~1.2 GB length): the broker closes the connection (it must not wait
  for, or allocate, the announced size);
- an unknown API key: the broker answers (same correlation id) or closes;
- ApiVersions v99: a v0-format answer (error 35 UNSUPPORTED_VERSION and the API
  list, nothing else), and the connection stays usable;
- pipelined requests are answered in order;
- a Produce whose RecordBatch has a wrong CRC: error 2 CORRUPT_MESSAGE, nothing
  appended; the same batch with the right CRC is accepted and readable.
"""

import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import kwire  # noqa: E402
from harness import check, expect_eq, fail, kcat, kcat_roundtrip, log, wait_until  # noqa: E402
from kwire import Conn, Reader  # noqa: E402

_seq = {"n": 0}


def still_serving(ctx, what):
    """The broker is alive and serves a kcat round trip on a new topic."""
    b = ctx.broker  # fails if the broker has died
    _seq["n"] += 1
    try:
        kcat_roundtrip(b.bootstrap, f"alive-{_seq['n']}", n=50)
    except harness.TestFailure as e:
        if b.proc.poll() is None:
            raise
        ctx.take_dead_shared()
        fail(f"the broker died after {what} (exit code {harness.describe_rc(b.exit_code())}); "
             f"the kcat round trip then failed: {str(e).splitlines()[0]}")
    if b.proc.poll() is not None:
        ctx.take_dead_shared()
        fail(f"the broker died after {what} and a round trip "
             f"(exit code {harness.describe_rc(b.exit_code())})")


def connect(ctx, port=None):
    host, p = ctx.broker.host_port()
    return Conn(host, port or p)


def expect_close(conn, what, timeout=10):
    closed, data = conn.wait_closed(timeout)
    check(closed, f"{what}: the broker kept the connection open for {timeout}s "
                  f"(received {len(data)} bytes: {data[:64]!r})")
    return data


# ---------------------------------------------------------------------------

def test_garbage_http(ctx):
    with connect(ctx) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/7.88\r\n\r\n")
        expect_close(c, "HTTP request (length prefix 'GET ' = 1195725856)")
    still_serving(ctx, "an HTTP request")


def test_garbage_random(ctx):
    rng = random.Random(1234)
    for round_ in range(5):
        with connect(ctx) as c:
            try:
                c.send(rng.randbytes(65536))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the broker may hang up while we write
            c.wait_closed(2)  # either way is fine; then we hang up
    still_serving(ctx, "64 KiB of random bytes (5 connections)")


def test_length_2gib(ctx):
    with connect(ctx) as c:
        c.send(kwire.i32(0x7FFFFFFF) + b"\x00\x12\x00\x00")
        expect_close(c, "length prefix 0x7fffffff")
    still_serving(ctx, "a 2 GiB length prefix")


def test_length_negative(ctx):
    with connect(ctx) as c:
        c.send(kwire.i32(-1) + b"\x00\x12\x00\x00\x00\x00\x00\x01")
        expect_close(c, "length prefix -1")
    still_serving(ctx, "a length prefix of -1")


def test_length_too_short_for_header(ctx):
    with connect(ctx) as c:
        c.send(kwire.i32(3) + b"\x00\x12\x00")
        closed, data = c.wait_closed(3)
        log(f"3-byte request: {'closed' if closed else 'left open'}, {len(data)} bytes back")
    still_serving(ctx, "a request shorter than a request header")


def test_half_written_request(ctx):
    frame = kwire.request(kwire.API_METADATA, 4, 7, kwire.metadata_v4_body(None))
    with connect(ctx) as c:
        c.send(frame[: len(frame) // 2])
    # and one that announces 100 bytes, sends 50, and hangs up
    with connect(ctx) as c:
        c.send(kwire.i32(100) + b"\x00\x03\x00\x04" + b"\x00" * 46)
    still_serving(ctx, "half-written requests then close")


def test_unknown_api_key(ctx):
    for key in (999, 32767, -5):
        with connect(ctx) as c:
            c.send(kwire.request(key, 0, 4242, b"\x00" * 8))
            try:
                frame = c.recv_frame(10)
                corr = Reader(frame).i32()
                expect_eq(corr, 4242, f"API key {key}: correlation id of the answer")
                log(f"API key {key}: answered ({len(frame)} bytes)")
            except kwire.Closed:
                log(f"API key {key}: connection closed")
            except TimeoutError:
                fail(f"API key {key}: no answer and no close within 10s")
    still_serving(ctx, "requests with unknown API keys")


def test_api_versions_v99(ctx):
    with connect(ctx) as c:
        c.send(kwire.request(kwire.API_API_VERSIONS, 99, 99001, kwire.api_versions_v3_body(),
                             header_version=2))
        frame = c.recv_frame(10)
        r = Reader(frame)
        expect_eq(r.i32(), 99001, "ApiVersions v99: correlation id")
        err, apis = kwire.parse_api_versions_v0(r)
        expect_eq(err, kwire.UNSUPPORTED_VERSION, "ApiVersions v99: error code")
        expect_eq(r.left(), 0, "ApiVersions v99: bytes after the v0 body (a v0-format answer)")
        check(kwire.API_API_VERSIONS in apis, f"ApiVersions v99: key 18 missing from {apis}")
        lo, hi = apis[kwire.API_API_VERSIONS]
        check(lo == 0 and hi >= 0, f"ApiVersions range {lo}-{hi}")
        for key in (kwire.API_PRODUCE, 1, 2, kwire.API_METADATA):
            check(key in apis, f"API key {key} missing from the list {sorted(apis)}")
        log(f"{len(apis)} APIs advertised: {dict(sorted(apis.items()))}")
        # the connection stays usable, as librdkafka and kafkajs retry on it
        r = c.call(kwire.API_API_VERSIONS, 0, b"", 99002, timeout=10)
        err, apis0 = kwire.parse_api_versions_v0(r)
        expect_eq(err, 0, "ApiVersions v0 on the same connection after v99: error")
        expect_eq(apis0, apis, "ApiVersions v0 list vs the list in the v99 answer")
    still_serving(ctx, "ApiVersions v99")


def test_pipelined_requests(ctx):
    # kafka-python sends ApiVersions v0 and Metadata v0 back to back
    with connect(ctx) as c:
        reqs = [kwire.request(kwire.API_API_VERSIONS, 0, 11, b""),
                kwire.request(kwire.API_METADATA, 0, 12, kwire.array([])),
                kwire.request(kwire.API_API_VERSIONS, 1, 13, b""),
                kwire.request(kwire.API_METADATA, 4, 14, kwire.metadata_v4_body(None))]
        c.send(b"".join(reqs))
        got = [Reader(c.recv_frame(10)).i32() for _ in reqs]
        expect_eq(got, [11, 12, 13, 14], "correlation ids of pipelined answers, in order")
    still_serving(ctx, "pipelined requests")


def test_huge_array_count(ctx):
    # Metadata v4 claiming 2^31-1 topics, with nothing behind the count
    with connect(ctx) as c:
        c.send(kwire.request(kwire.API_METADATA, 4, 21, kwire.i32(0x7FFFFFFF) + b"\x01"))
        closed, data = c.wait_closed(5)
        log(f"huge topic count: {'closed' if closed else 'left open'}, {len(data)} bytes back")
    # Produce v7 with a topic name length far past the frame
    with connect(ctx) as c:
        c.send(kwire.request(kwire.API_PRODUCE, 7, 22, kwire.string(None) + kwire.i16(-1)
                             + kwire.i32(30000) + kwire.i32(1) + kwire.i16(32000) + b"abc"))
        closed, data = c.wait_closed(5)
        log(f"overlong string: {'closed' if closed else 'left open'}, {len(data)} bytes back")
    still_serving(ctx, "requests with lengths past the frame")


def test_many_connections(ctx):
    host, port = ctx.broker.host_port()
    socks = []
    try:
        for _ in range(200):
            socks.append(socket.create_connection((host, port), timeout=10))
        for i, s in enumerate(socks):
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    finally:
        for s in socks:
            s.close()  # half of them with RST
    still_serving(ctx, "200 connections opened and dropped")


# --- Produce with a corrupt CRC -------------------------------------------------

def leader_conn(ctx, topic, partition):
    """Connection to the leader of topic/partition (the topic must exist)."""
    return Conn(*kwire.leader_of(*ctx.broker.host_port(), topic, partition))


def produce(conn, topic, partition, batch, corr):
    r = conn.call(kwire.API_PRODUCE, 7, kwire.produce_v7_body(topic, partition, batch), corr,
                  timeout=30)
    res = kwire.parse_produce_v7(r)
    check((topic, partition) in res, f"Produce answer lacks {topic}/{partition}: {res}")
    return res[(topic, partition)]


def consume_all(ctx, topic):
    c = kcat(ctx.broker.bootstrap, ["-C", "-t", topic, "-p", "0", "-e", "-o", "beginning",
                                    "-q", "-X", "check.crcs=true", "-f", "%o|%k|%s|%h\\n"],
             timeout=90)
    return c.stdout.decode(errors="replace").splitlines()


def test_produce_corrupt_crc(ctx):
    topic = "bad-crc"
    b = ctx.broker
    # create the topic (auto-creation) with one ordinary message in partition 0
    kcat(b.bootstrap, ["-P", "-t", topic, "-p", "0", "-K:", "-X", "acks=all"],
         input=b"seed-key:seed-value\n", timeout=60)
    expect_eq(consume_all(ctx, topic), ["0|seed-key|seed-value|"], "seed message")

    recs = [(b"good-%d" % i, b"value-%d" % i, [(b"h", b"%d" % i)]) for i in range(3)]
    bad = [(b"bad-%d" % i, b"corrupt-%d" % i, []) for i in range(3)]
    with leader_conn(ctx, topic, 0) as c:
        res = produce(c, topic, 0, kwire.record_batch(bad, corrupt_crc=True), 41)
        log(f"corrupt batch -> {res}")
        expect_eq(res["error"], kwire.CORRUPT_MESSAGE,
                  "Produce of a batch with a wrong CRC: error code (2 = CORRUPT_MESSAGE)")
        # the connection and the partition still work: the same kind of batch, right CRC
        res = produce(c, topic, 0, kwire.record_batch(recs), 42)
        log(f"good batch -> {res}")
        expect_eq((res["error"], res["base_offset"]), (0, 1),
                  "Produce of a correct hand-built batch: (error, base offset)")
        # a batch whose records run past its declared length
        trunc = kwire.record_batch(bad)
        trunc = trunc[:-5]
        res = produce(c, topic, 0, trunc, 43)
        log(f"truncated batch -> {res}")
        check(res["error"] != 0, f"Produce of a truncated batch was accepted: {res}")
        # a magic-1 message set is not something this broker stores
        res = produce(c, topic, 0, kwire.record_batch(bad, magic=1), 44)
        log(f"magic-1 batch -> {res}")
        check(res["error"] != 0, f"Produce of a batch with magic 1 was accepted: {res}")
        # two batches for one partition: Produce v3+ allows exactly one
        two = kwire.record_batch(bad[:1]) + kwire.record_batch(bad[1:2])
        res = produce(c, topic, 0, two, 45)
        log(f"two batches -> {res}")
        expect_eq(res["error"], 87, "Produce of two batches in one partition (87 = INVALID_RECORD)")
    got = consume_all(ctx, topic)
    expect_eq(got, ["0|seed-key|seed-value|", "1|good-0|value-0|h=0", "2|good-1|value-1|h=1",
                    "3|good-2|value-2|h=2"], "partition 0 after the bad and good batches")
    still_serving(ctx, "a Produce with a corrupt CRC")


def test_stalled_request_closed_when_idle(ctx):
    """A client that sends half a request and then stalls (slowloris) is closed
    after connections.max.idle.ms; a working client on the same broker is not."""
    b = ctx.new_broker("idle", sets={"connections.max.idle.ms": 1500})
    host, port = b.host_port()
    with Conn(host, port) as stalled:
        stalled.send(kwire.i32(100) + b"\x00\x03\x00\x04")
        t0 = time.monotonic()
        expect_close(stalled, "a stalled half request", timeout=15)
        waited = time.monotonic() - t0
        check(waited >= 1.0, f"closed after {waited:.1f}s, before the idle limit")
    # The harness copies the broker's stderr to its log from another thread.
    wait_until(lambda: "idle for longer than connections.max.idle.ms" in open(b.log_path).read(),
               10, "the broker's log line saying why it closed the connection")
    kcat_roundtrip(b.bootstrap, "after-idle", n=20)
    b.stop()


if __name__ == "__main__":
    harness.main([test_garbage_http, test_garbage_random, test_length_2gib, test_length_negative,
                  test_length_too_short_for_header, test_half_written_request,
                  test_unknown_api_key, test_api_versions_v99, test_pipelined_requests,
                  test_huge_array_count, test_many_connections, test_produce_corrupt_crc,
                  test_stalled_request_closed_when_idle])
