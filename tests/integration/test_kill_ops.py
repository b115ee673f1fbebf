#!/usr/bin/python3
"""SIGKILL in the middle of the log's slow operations, then a clean recovery,
SLUICE_IT_KILL_ROUNDS rounds each (20 by default), on one broker restarted
after every kill.

test_kill_during_topic_delete: a topic (2 partitions, 64 KiB segments)
with acked records is deleted and the broker SIGKILLed 0-40 ms (mostly
less than 5) after the DeleteTopics request went out. After the restart the topic is
either gone, or (the deletion never committed) holds exactly what was
acked; deleted for good, a new topic of the same name starts empty: no
record of an earlier topic of that name ever comes back. Three names
rotate over the rounds.

test_kill_during_retention: a topic with 64 KiB segments and
retention.bytes of 256 KiB, produced to with acks=all while retention
deletes its oldest segments and new ones roll; the broker is SIGKILLed at
a random delivery report. After the restart the log reads back from its
start offset to its high watermark with every offset present, every acked
record at or above the start holds what was acked, and the start never
moves back past where it was seen before the kill (a deleted segment does
not return)."""

import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect_eq, fail, log  # noqa: E402

ROUNDS = int(os.environ.get("SLUICE_IT_KILL_ROUNDS", "20"))
SEED = int(os.environ.get("SLUICE_IT_SEED", str(int(time.time()))))
SEGMENT = 65536


def admin(b):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": b.bootstrap})


def create(b, topic, partitions, config=None):
    from confluent_kafka.admin import NewTopic
    a = admin(b)  # alive until its future is done
    fs = a.create_topics([NewTopic(topic, partitions, 1, config=config or {})],
                         request_timeout=30)
    fs[topic].result(30)


def delete(b, topic):
    a = admin(b)
    a.delete_topics([topic], operation_timeout=30)[topic].result(30)
    harness.wait_until(lambda: topic not in topics(b), 30, f"{topic} deleted")


def topics(b):
    return set(admin(b).list_topics(timeout=30).topics)


def produce(b, topic, values, on_ack=None):
    """Sends values (bytes) with acks=all; returns {value: (partition,
    offset)} of those acknowledged. on_ack(count) runs after each report;
    when it returns True it killed the broker: what is still queued or in
    flight is purged (not acknowledged, not returned)."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 2,
                  "enable.idempotence": False, "message.timeout.ms": 60000,
                  "reconnect.backoff.max.ms": 500})
    acked, state = {}, {"killed": False}

    def report(err, msg):
        if err is None and not state["killed"]:
            acked[msg.value()] = (msg.partition(), msg.offset())
            state["killed"] = bool(on_ack and on_ack(len(acked)))
    for v in values:
        while not state["killed"]:
            try:
                p.produce(topic, value=v, on_delivery=report)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        if state["killed"]:
            break
    deadline = time.monotonic() + 90
    while len(p) and time.monotonic() < deadline:
        if state["killed"]:  # the kill may come in a report served here
            p.purge()
        p.flush(0.1)
    expect_eq(len(p), 0, "messages without a delivery report")
    return acked


def read(b, topic, partitions):
    return harness.read_partitions(b.bootstrap, topic, partitions, timeout=60, eof_ends=True,
                                   group="kill-ops-reader")


def test_kill_during_topic_delete(ctx):
    rnd = random.Random(SEED)
    b = ctx.new_broker("kill-delete", sets={"log.segment.bytes": SEGMENT})
    survived = 0
    for r in range(ROUNDS):
        name = f"del-{r % 3}"
        create(b, name, 2)
        values = [b"r%d-%d-" % (r, i) + b"x" * 100 for i in range(1000)]
        acked = produce(b, name, values)
        expect_eq(len(acked), len(values), f"round {r}: records acked before the delete")
        a = admin(b)
        a.delete_topics([name], operation_timeout=30)
        time.sleep(rnd.random() ** 3 * 0.04)  # anywhere in the deletion, often early
        b.kill()
        b.start()
        if name in topics(b):
            # The deletion did not commit: the topic holds what was acked.
            survived += 1
            recs, _ = read(b, name, 2)
            got = {v: (p, o) for p, rs in recs.items() for o, _, v in rs}
            expect_eq(got, acked, f"round {r}: {name} after a deletion that did not commit")
            delete(b, name)
        create(b, name, 2)
        recs, marks = read(b, name, 2)
        expect_eq({p: m[1] for p, m in marks.items()}, {0: 0, 1: 0},
                  f"round {r}: high watermarks of {name} created again")
        expect_eq(sum(len(v) for v in recs.values()), 0, f"round {r}: records of the new {name}")
        produce(b, name, [b"fresh"])
        delete(b, name)
    log(f"{ROUNDS} rounds: SIGKILL during topic deletion, recovered; in {survived} the "
        f"deletion had not committed (seed {SEED})")


def test_kill_during_retention(ctx):
    rnd = random.Random(SEED + 1)
    b = ctx.new_broker("kill-retention", sets={"log.retention.check.interval.ms": 50})
    topic = "ret"
    create(b, topic, 1, {"segment.bytes": str(SEGMENT), "retention.bytes": str(4 * SEGMENT)})
    acked_all, start_seen, n = {}, 0, 0
    for r in range(ROUNDS):
        values = [b"%08d-" % (n + i) + b"y" * 400 for i in range(1500)]
        n += len(values)
        kill_at = rnd.randrange(150, 1350)
        state = {"killed": False}

        def on_ack(count):
            if count == kill_at and not state["killed"]:
                state["killed"] = True
                b.kill()
                return True
            return False
        acked = produce(b, topic, values, on_ack)
        check(state["killed"], f"round {r}: only {len(acked)} acked, the kill at {kill_at} "
                               f"never happened")
        expect_eq(b.exit_code(), -signal.SIGKILL, "broker exit status")
        acked_all.update(acked)
        b.start()
        recs, marks = read(b, topic, 1)
        low, high = marks[0]
        check(low >= start_seen, f"round {r}: log start {low} moved back below {start_seen}, "
                                 f"seen before the kill")
        offs = [o for o, _, _ in recs[0]]
        expect_eq(offs, list(range(low, high)), f"round {r}: offsets from start to end")
        at = {o: v for o, _, v in recs[0]}
        lost = [(v, o) for v, (_, o) in acked_all.items() if o >= low and at.get(o) != v]
        expect_eq(lost[:5], [], f"round {r}: acked records at or above the start {low}")
        start_seen = low
        log(f"round {r}: killed at ack {kill_at}; log [{low}, {high}) read back")
    check(start_seen > 0, "retention never deleted a segment")
    log(f"{ROUNDS} rounds: SIGKILL during retention and rolls, recovered; log start "
        f"{start_seen} (seed {SEED})")


if __name__ == "__main__":
    harness.main([test_kill_during_topic_delete, test_kill_during_retention], test_timeout=900)
