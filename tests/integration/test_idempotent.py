#!/usr/bin/python3
"""Idempotent producers against a broker that crashes.

test_idempotent_kill_restart: a librdkafka producer (confluent-kafka,
enable.idempotence=true, its defaults otherwise: acks=all, 5 in flight)
sends N sequenced messages round-robin over 3 partitions while the broker
is SIGKILLed and restarted twice (at a third and two thirds of the
delivery reports, on a fixed port so the producer finds it again). Every
message must be reported delivered, and each partition must hold exactly
the messages sent to it, each once, in send order: retries after the
crashes are answered from the producer state the broker rebuilt (snapshot
+ replay) instead of being appended again. Small segments make it roll
often, so snapshots are taken and loaded.

test_idempotent_clean_restart: the same over a SIGTERM (the snapshot
written at close is what the restart loads).

test_kcat_idempotence: kcat -X enable.idempotence=true, the first thing a
new user tries.
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect_eq, fail, log  # noqa: E402

N = int(os.environ.get("SLUICE_IT_IDEM_N", "200000"))
PARTITIONS = 3


def value_of(i):
    return b"idem-%09d-" % i + b"x" * (i % 23)


def read_partitions(bootstrap, topic, partitions):
    """{partition: [value, ...]}, read_committed (librdkafka's default)."""
    return harness.consume_values(bootstrap, topic, partitions, timeout=180)


def check_exactly_once(records, n):
    """Partition p holds exactly i = p, p+3, p+6, ... < n, in order."""
    for p in range(PARTITIONS):
        want = [value_of(i) for i in range(p, n, PARTITIONS)]
        got = records[p]
        if got == want:
            continue
        seen, dups = set(), []
        for v in got:
            if v in seen:
                dups.append(v)
            seen.add(v)
        missing = [v for v in want if v not in seen]
        first = next((j for j, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        fail(f"partition {p}: {len(got)} records, expected {len(want)}; {len(dups)} duplicated "
             f"(e.g. {dups[:3]}), {len(missing)} missing (e.g. {missing[:3]}); first "
             f"difference at position {first}: {got[first:first + 2]} vs {want[first:first + 2]}")


def produce_with_crashes(b, topic, n, crash):
    """Sends n messages; calls crash() at a third and two thirds of the
    delivery reports (from the poll loop). Returns (delivered, errors)."""
    from confluent_kafka import Producer
    delivered, errors = [0], []
    marks = [n // 3, 2 * n // 3]

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered[0] += 1

    prod = Producer({"bootstrap.servers": b.bootstrap, "enable.idempotence": True,
                     "linger.ms": 5, "message.timeout.ms": 180000,
                     "retry.backoff.ms": 100, "reconnect.backoff.max.ms": 500,
                     "queue.buffering.max.messages": 20000})

    def serve():
        prod.poll(0)
        while marks and delivered[0] >= marks[0]:
            marks.pop(0)
            crash()

    t0 = time.monotonic()
    for i in range(n):
        for _ in range(1000000):
            try:
                prod.produce(topic, value=value_of(i), partition=i % PARTITIONS,
                             on_delivery=on_delivery)
                break
            except BufferError:
                prod.poll(0.05)
                serve()
        else:
            fail("the producer's queue stayed full")
        serve()
    for _ in range(600):
        left = prod.flush(1)
        serve()  # a mark reached only now (small N) still crashes the broker
        if left == 0 and not marks:
            break
    left = prod.flush(60)
    log(f"{n} messages in {time.monotonic() - t0:.1f}s: {delivered[0]} delivered, "
        f"{len(errors)} errors, {left} unreported")
    expect_eq(left, 0, "messages without a delivery report")
    return delivered[0], errors


def new_topic(b, topic):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": b.bootstrap})
    f = a.create_topics([NewTopic(topic, PARTITIONS, 1)])
    f[topic].result(30)


def test_idempotent_kill_restart(ctx):
    b = ctx.new_broker("idem-kill", port=harness.free_ports(2),
                       sets={"log.segment.bytes": 1 << 20})
    topic = "idem-kill"
    new_topic(b, topic)
    kills = []

    def crash():
        b.kill()
        expect_eq(b.exit_code(), -signal.SIGKILL, "broker exit status after SIGKILL")
        kills.append(time.monotonic())
        b.start()

    delivered, errors = produce_with_crashes(b, topic, N, crash)
    expect_eq(len(kills), 2, "SIGKILLs during the produce")
    expect_eq(errors[:5], [], "delivery errors")
    expect_eq(delivered, N, "messages reported delivered")
    check_exactly_once(read_partitions(b.bootstrap, topic, PARTITIONS), N)
    text = b.log_text()
    check("producer state:" in text, "the broker never rebuilt producer state after a crash")
    # a third restart, clean this time: the state at close is the snapshot
    b.stop()
    b.start()
    check_exactly_once(read_partitions(b.bootstrap, topic, PARTITIONS), N)


def test_idempotent_clean_restart(ctx):
    n = max(N // 10, 300)
    b = ctx.new_broker("idem-term", port=harness.free_ports(2))
    topic = "idem-term"
    new_topic(b, topic)

    def restart():
        b.stop()
        b.start()

    delivered, errors = produce_with_crashes(b, topic, n, restart)
    expect_eq(errors[:5], [], "delivery errors")
    expect_eq(delivered, n, "messages reported delivered")
    check_exactly_once(read_partitions(b.bootstrap, topic, PARTITIONS), n)
    snaps = [f for d in os.listdir(b.data_dir) if d.startswith(topic)
             for f in os.listdir(os.path.join(b.data_dir, d)) if f.endswith(".snapshot")]
    check(snaps, "no producer snapshot was written at the clean stops")


def test_kcat_idempotence(ctx):
    lines = [f"kcat-idem-{i}" for i in range(2000)]
    p = harness.kcat(ctx.bootstrap, ["-P", "-t", "kcat-idem", "-X", "enable.idempotence=true"],
                     input=("\n".join(lines) + "\n").encode())
    err = p.stderr.decode(errors="replace")
    check("fail" not in err.lower() and "purged" not in err.lower(), f"kcat reported: {err[-2000:]}")
    c = harness.kcat(ctx.bootstrap, ["-C", "-t", "kcat-idem", "-e", "-o", "beginning", "-q"])
    expect_eq(c.stdout.decode().splitlines(), lines, "messages read back")


if __name__ == "__main__":
    harness.main([test_idempotent_kill_restart, test_idempotent_clean_restart,
                  test_kcat_idempotence], test_timeout=600)
