#!/usr/bin/python3
"""The connection limits, each crossed on raw sockets (Kafka's names):

- max.connections: the broker holds that many client connections across its
  shards; one more is closed as it is accepted (logged), the others keep
  being served, and a slot freed is usable again;
- max.connections.per.ip: the same per client address (127.0.0.1 and
  127.0.0.2 counted apart);
- each refusal is counted in /metrics (sluice_connections_refused_total);
- queued.max.requests: a client that pipelines requests and never reads the
  answers is not read past that many: its sends stall, the broker's memory
  stays flat, other clients are served, and every answer comes in order once
  it reads;
- socket.request.max.bytes: a frame announcing more is closed at once
  (logged), one just under is answered.
"""

import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import kwire  # noqa: E402
import metrics_util  # noqa: E402
from harness import check, expect_eq, fail, kcat_roundtrip, wait_until  # noqa: E402
from kwire import Conn, Reader  # noqa: E402


def shard_ports(b):
    """Every shard's (host, port), from Metadata."""
    host, port = b.host_port()
    with Conn(host, port) as c:
        brokers, _ = kwire.parse_metadata_v4(
            c.call(kwire.API_METADATA, 4, kwire.metadata_v4_body([]), 1))
    return sorted(brokers.values())


def served(conn, corr=5):
    """True when conn answers ApiVersions v0 (False: closed or reset)."""
    try:
        err, apis = kwire.parse_api_versions_v0(
            conn.call(kwire.API_API_VERSIONS, 0, b"", corr, timeout=15))
    except (kwire.Closed, ConnectionError, OSError):
        return False
    expect_eq(err, 0, "ApiVersions error")
    check(kwire.API_PRODUCE in apis, f"ApiVersions lacks Produce: {apis}")
    return True


def open_conn(host, port, source=None):
    c = Conn.__new__(Conn)
    c.sock = socket.create_connection((host, port), timeout=15,
                                      source_address=(source, 0) if source else None)
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.timeout = 15.0
    c.buf = b""
    return c


def admitted_soon(host, port, source=None, what="a connection"):
    """A connection that is served, retried while the broker has not yet
    seen the closes that make room for it."""
    got = []

    def one_admitted():
        c = open_conn(host, port, source)
        if served(c):
            got.append(c)
            return True
        c.close()
        return False
    wait_until(one_admitted, 20, f"{what} admitted", interval=0.2)
    return got[0]


def log_has(b, text):
    with open(b.log_path, errors="replace") as f:
        return text in f.read()


def refused(conn, what):
    closed, data = conn.wait_closed(15)
    check(closed, f"{what}: the broker kept the connection open (received {data[:64]!r})")
    check(not data, f"{what}: the broker answered before closing: {data[:64]!r}")


HTTP = {"sluice.http.listen": "127.0.0.1:0"}


def refusals(b):
    return metrics_util.value(metrics_util.scrape(b), "sluice_connections_refused_total")


def test_max_connections(ctx):
    limit = 6
    b = ctx.new_broker("maxconn", sets={"max.connections": limit, **HTTP})
    ports = shard_ports(b)
    check(len(ports) == 2, f"two shards expected, Metadata lists {ports}")
    held = []
    try:
        # Spread over both shards: the limit is the broker's, not a shard's.
        for i in range(limit):
            c = open_conn(*ports[i % 2])
            held.append(c)
            check(served(c), f"connection {i + 1} of {limit} was not served")
        extra = open_conn(*ports[1])
        refused(extra, f"connection {limit + 1} with max.connections={limit}")
        extra.close()
        wait_until(lambda: log_has(b, "(max.connections)"), 10,
                   "the log line saying why the connection was refused")
        expect_eq(refusals(b), 1, "sluice_connections_refused_total")
        for i, c in enumerate(held):
            check(served(c, corr=10 + i), f"connection {i + 1} stopped being served")
        # A slot freed is usable again (once the broker has seen the close).
        held.pop(0).close()
        held.append(admitted_soon(*ports[0], what="a connection after one closed"))
    finally:
        for c in held:
            c.close()
    b.stop()


def test_max_connections_per_ip(ctx):
    limit = 3
    b = ctx.new_broker("perip", sets={"max.connections.per.ip": limit, **HTTP})
    host, port = b.host_port()
    held = []
    try:
        for i in range(limit):
            c = open_conn(host, port, source="127.0.0.1")
            held.append(c)
            check(served(c), f"connection {i + 1} from 127.0.0.1 was not served")
        extra = open_conn(host, port, source="127.0.0.1")
        refused(extra, f"connection {limit + 1} from 127.0.0.1 with max.connections.per.ip={limit}")
        extra.close()
        wait_until(lambda: log_has(b, "(max.connections.per.ip)"), 10,
                   "the log line saying why the connection was refused")
        expect_eq(refusals(b), 1, "sluice_connections_refused_total")
        other = open_conn(host, port, source="127.0.0.2")
        held.append(other)
        check(served(other), "a connection from 127.0.0.2 (another address) was not served")
        for i, c in enumerate(held):
            check(served(c, corr=20 + i), f"connection {i + 1} stopped being served")
    finally:
        for c in held:
            c.close()
    admitted_soon(host, port, "127.0.0.1", "a connection from 127.0.0.1 after the others "
                  "closed").close()
    b.stop()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    fail("no VmRSS")


PUSH_MAX = 64 << 20   # bytes of requests pushed at most before giving up


def test_queued_max_requests(ctx):
    b = ctx.new_broker("queued", sets={"queued.max.requests": 4})
    host, port = b.host_port()
    # Warm the broker up, so its RSS before is not its start-up RSS.
    kcat_roundtrip(b.bootstrap, "warm", n=20)
    rss_before = rss_kib(b.proc.pid)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # answers back up at once
    s.connect((host, port))
    s.setblocking(False)
    reqs = b"".join(kwire.request(kwire.API_API_VERSIONS, 0, corr, b"") for corr in range(1000))
    per_req = len(reqs) // 1000
    pushed = 0
    stalled = False
    t0 = time.monotonic()
    while pushed < PUSH_MAX and time.monotonic() - t0 < 120:
        _, w, _ = select.select([], [s], [], 3.0)
        if not w:
            stalled = True     # 3 s without room: the broker stopped reading
            break
        try:
            pushed += s.send(reqs[pushed % len(reqs):])
        except BlockingIOError:
            continue
    check(stalled, f"{pushed >> 20} MiB of requests pushed and the broker still reads: "
                   f"no backpressure")
    harness.log(f"sends stalled after {pushed} bytes ({pushed // per_req} requests)")
    rss_after = rss_kib(b.proc.pid)
    check(rss_after - rss_before < 64 << 10,
          f"broker RSS grew from {rss_before} to {rss_after} KiB for one client that does not read")
    with Conn(host, port) as other:
        check(served(other), "another client was not served while one did not read")
    # Now read: the answers come, in order, and the broker reads on.
    s.setblocking(True)
    s.settimeout(30)
    r = Conn.__new__(Conn)
    r.sock, r.timeout, r.buf = s, 30.0, b""
    want = 2000
    for i in range(want):
        frame = r.recv_frame()
        expect_eq(Reader(frame).i32(), i % 1000, f"correlation id of answer {i}")
    s.close()
    kcat_roundtrip(b.bootstrap, "after-queued", n=20)
    b.stop()


def test_socket_request_max_bytes(ctx):
    limit = 4096
    b = ctx.new_broker("reqmax", sets={"socket.request.max.bytes": limit})
    host, port = b.host_port()
    with Conn(host, port) as big:
        big.send(kwire.i32(limit + 1) + b"\x00\x12\x00\x00\x00\x00\x00\x01")
        refused(big, f"a frame of {limit + 1} bytes with socket.request.max.bytes={limit}")
    wait_until(lambda: log_has(b, "(socket.request.max.bytes)"), 10,
               "the log line saying why the connection was closed")
    with Conn(host, port) as ok:
        # An ApiVersions whose client id pads the frame to just under the limit.
        frame = kwire.request(kwire.API_API_VERSIONS, 0, 9, b"", client_id="c" * (limit - 20))
        check(len(frame) - 4 <= limit, f"test frame of {len(frame) - 4} bytes is over the limit")
        ok.send(frame)
        expect_eq(Reader(ok.recv_frame()).i32(), 9, "correlation id of the answer")
    kcat_roundtrip(b.bootstrap, "after-reqmax", n=20)
    b.stop()


if __name__ == "__main__":
    harness.main([test_max_connections, test_max_connections_per_ip, test_queued_max_requests,
                  test_socket_request_max_bytes])
