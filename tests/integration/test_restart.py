#!/usr/bin/python3
"""Durability across a crash and a clean restart.

test_kill_during_produce: a confluent-kafka producer (acks=all, not idempotent)
sends up to 200,000 messages; when the KILL_AFTER-th successful delivery report
arrives the broker gets SIGKILL. Every acknowledged message is recorded with its
(partition, offset). The broker restarts on the same data dir; reading every
partition from the beginning must show offsets 0,1,2,... and each acknowledged
offset must hold exactly the acknowledged message. Messages that were not
acknowledged may or may not be there, but whatever is there must be a message
that was sent. Producing after the restart appends after the recovered tail.

test_clean_restart: SIGTERM, restart, and the whole topic reads back identical.

test_kill_during_produce_rolling: the first over 8 partitions on one shard
(one journal: every commit covers many partitions) with 128 KiB segments,
so the kill lands amid rolls, segment naming and seals on the shard's
helper thread.
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect_eq, fail, log  # noqa: E402

N = int(os.environ.get("SLUICE_IT_RESTART_N", "200000"))
KILL_AFTER = int(os.environ.get("SLUICE_IT_RESTART_KILL_AFTER", str(N * 2 // 5)))
PARTITIONS = 4
TOPIC = "restart-acks-all"


def key_of(i):
    return b"k%d" % i


def value_of(i):
    return b"restart-%d-" % i + b"0123456789abcdef"[: i % 17] * (1 + i % 7)


def index_of(key):
    check(key is not None and key.startswith(b"k") and key[1:].isdigit(), f"unexpected key {key!r}")
    return int(key[1:])


def read_all(bootstrap, topic, partitions, timeout=180):
    """Every record of every partition, from the beginning up to the high
    watermark at the time of the call: {partition: [(offset, key, value)]},
    {partition: high watermark}. Nothing is ever deleted here: every low
    watermark is 0, and only the record at high - 1 ends a partition (an
    early end of partition would be lost data)."""
    out, marks = harness.read_partitions(bootstrap, topic, partitions, timeout=timeout,
                                         group="restart-reader-no-membership")
    for p, (lo, _) in marks.items():
        expect_eq(lo, 0, f"{topic} partition {p}: low watermark")
    return out, {p: hi for p, (_, hi) in marks.items()}


def check_log(records):
    """Offsets 0,1,2,... per partition; every record is a message that was sent."""
    for p, recs in records.items():
        offs = [o for o, _, _ in recs]
        if offs != list(range(len(offs))):
            bad = next(j for j, o in enumerate(offs) if o != j)
            fail(f"partition {p}: offsets not 0,1,2,... : position {bad} holds offset {offs[bad]} "
                 f"(neighbours {offs[max(0, bad - 3):bad + 3]})")
        for o, k, v in recs:
            i = index_of(k)
            if v != value_of(i):
                fail(f"partition {p} offset {o}: key {k!r} with value {v[:80]!r}, "
                     f"expected {value_of(i)[:80]!r}")


def test_kill_during_produce(ctx):
    ctx.restart_broker = kill_during_produce(ctx, "restart", TOPIC, PARTITIONS, {}, N, KILL_AFTER)


def test_kill_during_produce_rolling(ctx):
    """The same over 8 partitions of one shard's journal with 128 KiB
    segments: the kill lands amid rolls (a segment taken but not yet named,
    a seal not yet done) and journal commits covering many partitions."""
    n = N // 8
    b = kill_during_produce(ctx, "restart-rolling", "restart-rolling", 8,
                            {"log.segment.bytes": 131072}, n, n * 2 // 5, shards=1)
    b.stop()


def kill_during_produce(ctx, name, topic, partitions, sets, n, kill_after, shards=None):
    from confluent_kafka import Producer
    PARTITIONS, TOPIC, N, KILL_AFTER = partitions, topic, n, kill_after  # noqa: N806
    kw = {"shards": shards} if shards else {}
    b = ctx.new_broker(name, sets=dict(sets, **{"num.partitions": PARTITIONS}), **kw)
    acked = {}    # i -> (partition, offset)
    failed = {}   # i -> error
    state = {"killed_at": None, "sent": 0, "sent_at_kill": 0}

    def on_delivery(err, msg):
        i = index_of(msg.key())
        if err is not None:
            failed[i] = err
            return
        acked[i] = (msg.partition(), msg.offset())
        if len(acked) == KILL_AFTER and state["killed_at"] is None:
            state["killed_at"] = time.monotonic()
            state["sent_at_kill"] = state["sent"]
            b.kill()

    prod = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 2,
                     "enable.idempotence": False, "message.timeout.ms": 10000,
                     "retry.backoff.ms": 200, "reconnect.backoff.max.ms": 1000,
                     "queue.buffering.max.messages": 50000})
    t0 = time.monotonic()
    sent = 0
    for i in range(N):
        if state["killed_at"] is not None:
            break
        for _ in range(100000):
            try:
                prod.produce(TOPIC, key=key_of(i), value=value_of(i), on_delivery=on_delivery)
                break
            except BufferError:
                prod.poll(0.05)
                if state["killed_at"] is not None:
                    break
        else:
            fail("producer queue stayed full")
        if state["killed_at"] is not None:
            break
        sent = state["sent"] = i + 1
        prod.poll(0)  # serve delivery reports promptly, so the kill lands mid-stream
    left = prod.flush(60)
    log(f"sent {sent} of {N} in {time.monotonic() - t0:.1f}s; killed at the {KILL_AFTER}th "
        f"ack with {state['sent_at_kill'] - KILL_AFTER} messages unacknowledged; in the end "
        f"acked {len(acked)}, failed {len(failed)}, unreported {left}")
    check(state["killed_at"] is not None,
          f"only {len(acked)} deliveries succeeded (of {sent} sent), the kill at "
          f"{KILL_AFTER} never happened; failures: {list(failed.items())[:5]}")
    expect_eq(b.exit_code(), -signal.SIGKILL, "broker exit status after SIGKILL")
    expect_eq(left, 0, "messages without a delivery report after flush")
    check(len(acked) >= KILL_AFTER, "acked count")

    b.start()
    records, high = read_all(b.bootstrap, TOPIC, PARTITIONS)
    check_log(records)
    for p in range(PARTITIONS):
        expect_eq(len(records[p]), high[p], f"partition {p}: records read vs high watermark")
    lost = []
    for i, (p, o) in sorted(acked.items()):
        if o >= len(records[p]):
            lost.append(f"message {i} acked at partition {p} offset {o}, but the partition "
                        f"now ends at {len(records[p])}")
        elif records[p][o][1] != key_of(i):
            lost.append(f"message {i} acked at partition {p} offset {o}, which now holds "
                        f"{records[p][o][1]!r}")
        if len(lost) >= 10:
            break
    if lost:
        fail("acknowledged messages lost or moved after SIGKILL + restart:\n  "
             + "\n  ".join(lost))
    present = {index_of(k) for p in records for _, k, _ in records[p]}
    unacked_present = len(present - set(acked))
    log(f"after restart: {sum(high.values())} records {high}; all {len(acked)} acked present; "
        f"{unacked_present} unacknowledged present too")

    # appends continue after the recovered tail
    extra = {}
    prod = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 2,
                     "enable.idempotence": False, "message.timeout.ms": 30000})
    base = N + 1000000
    for j in range(2000):
        prod.produce(TOPIC, key=key_of(base + j), value=value_of(base + j),
                     on_delivery=lambda err, msg: extra.__setitem__(
                         index_of(msg.key()), (err, msg.partition(), msg.offset())))
    expect_eq(prod.flush(60), 0, "post-restart messages without a delivery report")
    errs = [(i, e) for i, (e, _, _) in extra.items() if e is not None]
    expect_eq(errs[:5], [], "post-restart delivery errors")
    for p in range(PARTITIONS):
        offs = sorted(o for _, (e, pp, o) in extra.items() if pp == p)
        expect_eq(offs, list(range(high[p], high[p] + len(offs))),
                  f"partition {p}: offsets of the post-restart appends")
    records2, high2 = read_all(b.bootstrap, TOPIC, PARTITIONS)
    check_log(records2)
    for p in range(PARTITIONS):
        expect_eq(records2[p][:high[p]], records[p], f"partition {p}: pre-existing records")
    for i, (e, p, o) in extra.items():
        expect_eq(records2[p][o][1], key_of(i), f"post-restart message at partition {p} offset {o}")
    return b


def test_clean_restart(ctx):
    b = getattr(ctx, "restart_broker", None)
    if b is None or not b.alive():
        b = ctx.new_broker("clean-restart", sets={"num.partitions": PARTITIONS})
        from confluent_kafka import Producer
        prod = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 2})
        for i in range(20000):
            prod.produce(TOPIC, key=key_of(i), value=value_of(i))
            if i % 1000 == 0:
                prod.poll(0)
        expect_eq(prod.flush(60), 0, "messages without a delivery report")
    before, high = read_all(b.bootstrap, TOPIC, PARTITIONS)
    check(sum(high.values()) > 0, "nothing to compare")
    b.stop()
    b.start()
    after, high2 = read_all(b.bootstrap, TOPIC, PARTITIONS)
    expect_eq(high2, high, "high watermarks after a clean restart")
    for p in range(PARTITIONS):
        if after[p] != before[p]:
            j = next((j for j, (x, y) in enumerate(zip(after[p], before[p])) if x != y),
                     min(len(after[p]), len(before[p])))
            fail(f"partition {p} differs after a clean restart at position {j}: "
                 f"before {before[p][j:j + 1]}, after {after[p][j:j + 1]}")
    log(f"{sum(high.values())} records identical after SIGTERM + restart")


if __name__ == "__main__":
    harness.main([test_kill_during_produce, test_clean_restart, test_kill_during_produce_rolling])
