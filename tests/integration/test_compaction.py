#!/usr/bin/python3
"""Log compaction and DeleteRecords against the real broker, with real clients.

test_compact_keyed_topic: 100,000 records over 1,000 keys, produced with
confluent-kafka in five rounds (none, gzip, snappy, lz4, zstd), then
tombstones for 100 keys, then unrelated filler that rolls them out of the
active segment. Once the cleaner has run, a consumer from the beginning sees
exactly one record per key, its latest value, at the offset its delivery
report gave; the tombstoned keys show their tombstone until delete.retention.ms
has passed and then nothing; a fetch at an offset that was cleaned away starts
at the next surviving record; `sluice topics describe` shows the figures.

test_kill_during_clean: 20 rounds of (produce 20,000 acked records over 1,000
keys; SIGKILL the broker at a random moment after a clean starts; restart):
every key's latest acknowledged value is there, offsets only grow, nothing
that was never sent appears.

test_delete_records: `sluice topics delete-records`; the low watermark moves
(ListOffsets earliest, Fetch log_start_offset), reads below it are
OFFSET_OUT_OF_RANGE, and it holds across a SIGKILL right after the answer.

test_aborted_transactions_compacted: 200 keys with committed values, then a
transaction writing every key aborted and one writing a quarter of them
committed (confluent-kafka), then filler: once cleaned, consumers of both
isolation levels see each key's latest committed value and no aborted one
(the cleaner removes aborted data, and it never superseded a committed
value).

test_keyless_refused: a record without a key on a compacted topic is
INVALID_RECORD, as Kafka answers.

test_invalid_configs: bad compaction settings get INVALID_CONFIG with a message
(CreateTopics, AlterConfigs).
"""

import json
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect_eq, fail, log  # noqa: E402

N = int(os.environ.get("SLUICE_IT_COMPACT_N", "100000"))
KEYS = 1000
DELETED = 100
ROUNDS = int(os.environ.get("SLUICE_IT_COMPACT_KILL_ROUNDS", "20"))
SEED = int(os.environ.get("SLUICE_IT_SEED", str(int(time.time()))))
SETS = {"log.cleaner.backoff.ms": 100}
TXN_KEYS = 200
TOPIC_CONFIG = {"cleanup.policy": "compact", "segment.bytes": "131072",
                "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "4000"}


def cli():
    return os.environ.get("SLUICE_CLI") or os.path.join(harness.REPO, "build", "cli", "sluice")


def create_topic(bootstrap, topic, partitions, config):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": bootstrap})
    fs = a.create_topics([NewTopic(topic, partitions, 1, config=config)], request_timeout=30)
    fs[topic].result(timeout=30)


def produce(bootstrap, topic, items, codec="none"):
    """items: [(key bytes, value bytes or None)]; returns [(partition, offset)]
    in the same order; every one must be acknowledged."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                  "compression.type": codec, "enable.idempotence": False,
                  "message.timeout.ms": 60000, "queue.buffering.max.messages": 200000})
    out = [None] * len(items)
    errors = []

    def cb(i):
        def on(err, msg):
            if err is not None:
                errors.append(err)
            else:
                out[i] = (msg.partition(), msg.offset())
        return on
    for i, (k, v) in enumerate(items):
        for _ in range(10000):
            try:
                p.produce(topic, key=k, value=v, on_delivery=cb(i))
                break
            except BufferError:
                p.poll(0.05)
        if i % 1000 == 0:
            p.poll(0)
    expect_eq(p.flush(120), 0, "messages without a delivery report")
    expect_eq(errors[:3], [], "delivery errors")
    return out


def read_all(bootstrap, topic, partitions, start=None, timeout=120,
             isolation="read_committed"):
    """{partition: [(offset, key, value)]} from the beginning (or start
    offsets) up to the high watermarks at the time of the call; the end of
    a partition ends it (a compacted log may end with a gap)."""
    return harness.read_partitions(bootstrap, topic, partitions, start=start, timeout=timeout,
                                   eof_ends=True, group="compaction-reader",
                                   isolation=isolation)[0]


def increasing(records):
    for p, recs in records.items():
        offs = [o for o, _, _ in recs]
        check(offs == sorted(set(offs)), f"partition {p}: offsets not increasing")


def cleans(b):
    return b.log_text().count(" cleaned ")


def test_compact_keyed_topic(ctx):
    b = ctx.new_broker("compact", sets=SETS)
    topic = "table"
    create_topic(b.bootstrap, topic, 2, TOPIC_CONFIG)
    latest = {}         # key -> (value, partition, offset)
    per_round = N // 5
    for r, codec in enumerate(["none", "gzip", "snappy", "lz4", "zstd"]):
        items = [(b"k%d" % (i % KEYS), b"v%d-%s" % (i, codec.encode()))
                 for i in range(r * per_round, (r + 1) * per_round)]
        for (k, v), (p, o) in zip(items, produce(b.bootstrap, topic, items, codec)):
            latest[k] = (v, p, o)
    tomb = [(b"k%d" % i, None) for i in range(DELETED)]
    for (k, v), (p, o) in zip(tomb, produce(b.bootstrap, topic, tomb, "lz4")):
        latest[k] = (None, p, o)
    filler = [(b"f%d" % i, b"x" * 200) for i in range(3000)]
    for (k, v), (p, o) in zip(filler, produce(b.bootstrap, topic, filler, "snappy")):
        latest[k] = (v, p, o)
    log(f"produced {N} + {DELETED} tombstones + {len(filler)} filler; {cleans(b)} cleans so far")

    def compacted(expect_tombstones):
        recs = read_all(b.bootstrap, topic, 2)
        seen = {}
        for p, rs in recs.items():
            for o, k, v in rs:
                if k in seen:
                    return None  # not cleaned yet
                seen[k] = (v, p, o)
        for k, want in latest.items():
            if want[0] is None and not expect_tombstones:
                if k in seen:
                    return None
            elif seen.get(k) != want:
                return None
        return recs, seen
    got = harness.wait_until(lambda: compacted(True), 120, "one record per key (tombstones kept)",
                             interval=0.5)
    recs, seen = got
    increasing(recs)
    live = sum(1 for k, v in latest.items() if k.startswith(b"k") and v[0] is not None)
    expect_eq(sum(1 for k in seen if k.startswith(b"k")), KEYS, "keys seen")
    log(f"compacted: {sum(len(r) for r in recs.values())} records left, {live} live keys, "
        f"{DELETED} tombstones; {cleans(b)} cleans")
    # A fetch at an offset cleaned away starts at the next survivor.
    p0 = [(-1, None, None)] + recs[0]
    gap = next((i for i in range(1, len(p0)) if p0[i][0] > p0[i - 1][0] + 1), None)
    check(gap is not None, "partition 0 has no gap after compaction")
    removed = (p0[gap - 1][0] + 1 + p0[gap][0]) // 2
    after = read_all(b.bootstrap, topic, 2, start={0: removed, 1: 0})
    expect_eq(after[0][0][0], p0[gap][0], f"first offset of a fetch at {removed}, cleaned away")
    # The figures.
    out = harness.run([cli(), "--bootstrap", b.bootstrap, "--json", "topics", "describe", topic])
    d = json.loads(out.stdout)
    comp = {c["partition"]: c for c in d.get("compaction", [])}
    expect_eq(sorted(comp), [0, 1], "partitions with compaction figures")
    for c in comp.values():
        check(c["cleans"] >= 1 and c["records_removed"] > 0 and c["bytes_cleaned"] > 0,
              f"figures of a cleaned partition: {c}")
    # Past delete.retention.ms the tombstones go.
    got = harness.wait_until(lambda: compacted(False), 60, "the tombstones gone", interval=0.5)
    recs, seen = got
    increasing(recs)
    for i in range(DELETED):
        check(b"k%d" % i not in seen, f"k{i} still there after delete.retention.ms")
    log(f"after delete.retention.ms: {sum(len(r) for r in recs.values())} records, "
        f"{cleans(b)} cleans")


def test_aborted_transactions_compacted(ctx):
    b = ctx.new_broker("compact-txn", sets=SETS)
    topic = "txn-table"
    create_topic(b.bootstrap, topic, 1, TOPIC_CONFIG)
    committed = {b"k%d" % i: b"c%d" % i for i in range(TXN_KEYS)}
    produce(b.bootstrap, topic, list(committed.items()))
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "compact-txn",
                  "linger.ms": 5})
    p.init_transactions(30)
    for name, commit, keys in ((b"a", False, TXN_KEYS), (b"t", True, TXN_KEYS // 4)):
        p.begin_transaction()
        for i in range(keys):
            p.produce(topic, key=b"k%d" % i, value=name + b"%d" % i)
        expect_eq(p.flush(60), 0, "transactional messages not sent")
        if commit:
            p.commit_transaction(60)
            committed.update({b"k%d" % i: name + b"%d" % i for i in range(keys)})
        else:
            p.abort_transaction(60)
    filler = [(b"f%d" % i, b"x" * 200) for i in range(3000)]
    produce(b.bootstrap, topic, filler, "snappy")
    committed.update(filler)

    def compacted(isolation):
        recs = read_all(b.bootstrap, topic, 1, isolation=isolation)[0]
        seen = {}
        for o, k, v in recs:
            if k in seen or v.startswith(b"a"):
                return None  # not cleaned yet (or aborted data still there)
            seen[k] = v
        return seen if all(seen.get(k) == v for k, v in committed.items()
                           if k.startswith(b"k")) else None
    # Once cleaned, even a read_uncommitted consumer sees no aborted value,
    # and the aborted writes superseded no committed value of their keys.
    seen = harness.wait_until(lambda: compacted("read_uncommitted"), 120,
                              "one committed record per key, the aborted data gone",
                              interval=0.5)
    expect_eq(sum(1 for k in seen if k.startswith(b"k")), TXN_KEYS, "keys seen")
    expect_eq(compacted("read_committed"), seen, "read_committed after the clean")
    log(f"{TXN_KEYS} keys: committed values kept, aborted ones gone; {cleans(b)} cleans")


def clean_started(b, starts, timeout):
    """True once the broker logged more clean starts than starts (polled:
    a log line is the only event), False after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b.log_text().count(": cleaning ") > starts:
            return True
        time.sleep(0.05)
    return False


def test_kill_during_clean(ctx):
    rnd = random.Random(SEED)
    log(f"seed {SEED} (SLUICE_IT_SEED replays it)")
    b = ctx.new_broker("compact-kill", sets=SETS, shards=1)
    topic = "crash"
    create_topic(b.bootstrap, topic, 1, TOPIC_CONFIG)
    latest = {}
    mid_clean = 0
    for r in range(ROUNDS):
        codec = ["none", "gzip", "snappy", "lz4", "zstd"][r % 5]
        items = [(b"k%d" % rnd.randrange(KEYS), b"r%d-%d" % (r, i)) for i in range(20000)]
        starts = b.log_text().count(": cleaning ")
        for (k, v), (p, o) in zip(items, produce(b.bootstrap, topic, items, codec)):
            latest[k] = (v, o)
        # A round's records may all fit the active segment (zstd packs 20k
        # of them in ~90 KiB): then nothing new is sealed and no clean can
        # start. Fill on, uncompressed, until one does.
        for extra in range(20):
            if clean_started(b, starts, 10):
                break
            more = [(b"k%d" % rnd.randrange(KEYS), b"r%d-x%d-%d" % (r, extra, i))
                    for i in range(2000)]
            for (k, v), (p, o) in zip(more, produce(b.bootstrap, topic, more)):
                latest[k] = (v, o)
        else:
            fail(f"round {r}: no clean started though more was produced")
        time.sleep(rnd.uniform(0, 0.25))  # a random point of it: the kill, not a sync
        text = b.log_text()
        mid_clean += text.rstrip().splitlines()[-1].find(": cleaning ") >= 0
        b.kill()
        expect_eq(b.exit_code(), -signal.SIGKILL, "exit status after SIGKILL")
        b.start()
        recs = read_all(b.bootstrap, topic, 1)
        increasing(recs)
        last = {}
        for o, k, v in recs[0]:
            check(v.startswith(b"r"), f"offset {o}: a value never sent: {v[:40]!r}")
            last[k] = (v, o)
        for k, want in latest.items():
            if last.get(k) != want:
                fail(f"round {r}: key {k!r}: latest acknowledged {want}, after the restart "
                     f"{last.get(k)}")
    log(f"{ROUNDS} kills, {mid_clean} while the last word of the log was a clean starting; "
        f"{cleans(b)} cleans finished in the last run")


def test_delete_records(ctx):
    b = ctx.new_broker("delete-records")
    topic = "purge"
    create_topic(b.bootstrap, topic, 2, {})
    acks = produce(b.bootstrap, topic, [(b"k%d" % i, b"v%d" % i) for i in range(20000)])
    hw = {p: 1 + max(o for pp, o in acks if pp == p) for p in (0, 1)}
    harness.run([cli(), "--bootstrap", b.bootstrap, "topics", "delete-records", topic,
                 "--partition", "0", "--offset", "1234"])
    out = harness.run([cli(), "--bootstrap", b.bootstrap, "--json", "topics", "delete-records",
                       topic, "--partition", "1", "--offset", "-1"])
    expect_eq(json.loads(out.stdout)["partitions"][0]["low_watermark"], hw[1],
              "partition 1 low watermark after DeleteRecords at the high watermark")
    b.kill()  # right after the answers: they must hold
    b.start()
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "dr",
                  "enable.auto.commit": False, "auto.offset.reset": "error"})
    try:
        expect_eq(c.get_watermark_offsets(TopicPartition(topic, 0), timeout=15), (1234, hw[0]),
                  "partition 0 watermarks after SIGKILL")
        expect_eq(c.get_watermark_offsets(TopicPartition(topic, 1), timeout=15), (hw[1], hw[1]),
                  "partition 1 watermarks after SIGKILL")
        c.assign([TopicPartition(topic, 0, 1000)])
        err = None
        for _ in range(50):
            m = c.poll(1)
            if m is not None:
                check(m.error() is not None, f"read offset {m.offset()} below the log start")
                err = m.error()
                break
        check(err is not None and err.code() == KafkaError._AUTO_OFFSET_RESET,
              f"fetch below the log start: {err}")
    finally:
        c.close()
    recs = read_all(b.bootstrap, topic, 2)
    expect_eq(recs[0][0][0], 1234, "first offset read from the beginning")
    expect_eq(len(recs[1]), 0, "records left in partition 1")
    # A bad offset: past the high watermark.
    out = harness.run([cli(), "--bootstrap", b.bootstrap, "topics", "delete-records", topic,
                       "--partition", "0", "--offset", str(hw[0] + 10)], check_rc=False)
    check(out.returncode != 0 and b"OFFSET_OUT_OF_RANGE" in out.stderr.upper().replace(b" ", b"_")
          or b"out of range" in out.stderr.lower(), f"past the high watermark: {out.stderr!r}")


def test_keyless_refused(ctx):
    """Kafka refuses a record without a key on a compacted topic."""
    from confluent_kafka import KafkaError, Producer
    create_topic(ctx.bootstrap, "keyed-only", 1, {"cleanup.policy": "compact"})
    errs = []
    p = Producer({"bootstrap.servers": ctx.bootstrap, "acks": "all", "retries": 0,
                  "compression.type": "lz4"})
    p.produce("keyed-only", value=b"no key", on_delivery=lambda e, m: errs.append(e))
    expect_eq(p.flush(30), 0, "unreported messages")  # one batch each: Kafka refuses a batch
    p.produce("keyed-only", key=b"k", value=b"keyed", on_delivery=lambda e, m: errs.append(e))
    expect_eq(p.flush(30), 0, "unreported messages")
    expect_eq(sorted(str(e and e.code()) for e in errs),
              sorted(["None", str(KafkaError.INVALID_RECORD)]), "delivery results")


def test_invalid_configs(ctx):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
    a = AdminClient({"bootstrap.servers": ctx.bootstrap})
    bad = {"min.cleanable.dirty.ratio": "1.5", "cleanup.policy": "shred",
           "delete.retention.ms": "-5", "min.compaction.lag.ms": "soon",
           "max.compaction.lag.ms": "0"}
    for k, v in bad.items():
        fs = a.create_topics([NewTopic("bad-" + k.replace(".", "-"), 1, 1, config={k: v})],
                             request_timeout=30)
        try:
            list(fs.values())[0].result(timeout=30)
            fail(f"{k}={v} accepted")
        except KafkaException as e:
            err = e.args[0]
            expect_eq(err.name(), "INVALID_CONFIG", f"error for {k}={v}")
            check(k in err.str(), f"the message names {k}: {err.str()}")
    create_topic(ctx.bootstrap, "good", 1, {"cleanup.policy": "compact,delete"})
    fs = a.alter_configs([ConfigResource("topic", "good", set_config={
        "min.cleanable.dirty.ratio": "7"})], request_timeout=30)
    try:
        list(fs.values())[0].result(timeout=30)
        fail("AlterConfigs min.cleanable.dirty.ratio=7 accepted")
    except KafkaException as e:
        expect_eq(e.args[0].name(), "INVALID_CONFIG", "AlterConfigs error")


if __name__ == "__main__":
    harness.main([test_compact_keyed_topic, test_kill_during_clean, test_delete_records,
                  test_aborted_transactions_compacted,
                  test_keyless_refused, test_invalid_configs], sets=SETS, test_timeout=900)
