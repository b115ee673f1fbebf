"""The newest confluent-kafka and kafka-python from PyPI against sluiced,
run by run_python.py in the virtual environment the set-up made
(.deps/venv; Debian's older ones are tests/integration's): each at its
defaults (confluent-kafka/librdkafka: acks=all, not idempotent;
kafka-python 3: idempotent, acks=all), idempotent and transactional where
the client has it, a consumer group, and the admin clients."""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import compat  # noqa: E402
from compat import EOS, require_apis  # noqa: E402
from harness import check, expect_eq, log, wait_until  # noqa: E402

BOOT = os.environ.get("SLUICE_BOOTSTRAP", "")


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- confluent-kafka (librdkafka, bundled in the wheel) ---------------------

def ck_admin():
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": BOOT})


def ck_topic(prefix, partitions, configs=None):
    from confluent_kafka.admin import NewTopic
    name = unique(prefix)
    a = ck_admin()          # alive until its futures are done
    a.create_topics([NewTopic(name, partitions, 1, config=configs or {})])[name].result(30)
    return name


def ck_produce(topic, n, conf=None):
    """n keyed values; every delivery report must be OK. Returns
    {value: (partition, offset)}."""
    from confluent_kafka import Producer
    p = Producer(dict({"bootstrap.servers": BOOT}, **(conf or {})))
    got, errs = {}, []

    def report(err, msg):
        if err:
            errs.append(err)
        else:
            got[msg.value().decode()] = (msg.partition(), msg.offset())
    for i in range(n):
        p.produce(topic, key=f"k{i}", value=f"v{i}", on_delivery=report)
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(60)
    check(left == 0 and not errs, f"produce: {left} undelivered, errors {errs[:3]}")
    expect_eq(len(got), n, "delivery reports")
    return got


def ck_read(topic, n, conf=None):
    """Reads the topic from the start (assign, no group) until n records."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer(dict({"bootstrap.servers": BOOT, "group.id": unique("unused")}, **(conf or {})))
    try:
        md = c.list_topics(topic, timeout=30)
        c.assign([TopicPartition(topic, p, -2) for p in md.topics[topic].partitions])
        got = {}
        deadline = time.monotonic() + 60
        while len(got) < n:
            check(time.monotonic() < deadline, f"read {len(got)} of {n} from {topic}")
            for m in c.consume(1000, 0.5):
                check(m.error() is None, f"consume: {m.error()}")
                got[m.value().decode()] = (m.partition(), m.offset())
        return got
    finally:
        c.close()


def ck_round_trip(prefix, conf=None):
    topic = ck_topic(prefix, 3)
    sent = ck_produce(topic, 3000, conf)
    expect_eq(ck_read(topic, len(sent)), sent, "records read back at their offsets")


def test_py_confluent_produce_defaults():
    ck_round_trip("ck-default")


def test_py_confluent_idempotent():
    require_apis(EOS, "22:InitProducerId")
    ck_round_trip("ck-idem", {"enable.idempotence": True})


def test_py_confluent_transactions():
    require_apis(EOS, "22:InitProducerId", "24:AddPartitionsToTxn", "26:EndTxn")
    from confluent_kafka import Producer
    topic = ck_topic("ck-txn", 2)
    p = Producer({"bootstrap.servers": BOOT, "transactional.id": unique("txn")})
    p.init_transactions(30)
    committed = []
    for t in range(3):
        p.begin_transaction()
        for i in range(50):
            p.produce(topic, value=f"t{t}-{i}")
            if t != 1:
                committed.append(f"t{t}-{i}")
        if t == 1:
            p.abort_transaction(30)
        else:
            p.commit_transaction(30)
    got = ck_read(topic, len(committed), {"isolation.level": "read_committed"})
    expect_eq(sorted(got), sorted(committed), "read_committed")


def test_py_confluent_group():
    from confluent_kafka import Consumer, TopicPartition
    topic = ck_topic("ck-group", 4)
    group = unique("g")
    members = [Consumer({"bootstrap.servers": BOOT, "group.id": group,
                         "auto.offset.reset": "earliest"}) for _ in range(2)]
    got = {}
    try:
        for m in members:
            m.subscribe([topic])

        def stable():                   # as in the kafka-python case
            for m in members:
                check(m.poll(0.1) is None, "a record before any was produced")
            owned = [{tp.partition for tp in m.assignment()} for m in members]
            return all(len(o) == 2 for o in owned) and len(owned[0] | owned[1]) == 4
        wait_until(stable, 90, "both members with two partitions each", interval=0.01)
        sent = ck_produce(topic, 2000)
        deadline = time.monotonic() + 90
        while len(got) < len(sent):
            check(time.monotonic() < deadline, f"consumed {len(got)} of {len(sent)}")
            for i, m in enumerate(members):
                for msg in m.consume(500, 0.2):
                    check(msg.error() is None, f"consume: {msg.error()}")
                    check(msg.value() not in got, f"{msg.value()} consumed twice")
                    got[msg.value()] = i
        for m in members:
            m.commit(asynchronous=False)
        expect_eq(len(set(got.values())), 2, "members that consumed")
    finally:
        for m in members:
            m.close()
    from confluent_kafka import ConsumerGroupTopicPartitions
    a = ck_admin()
    res = a.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
    tps = res[group].result(30).topic_partitions
    expect_eq(sum(tp.offset for tp in tps), len(sent), "committed offsets, summed")


def test_py_confluent_cooperative_topic_deleted():
    """A cooperative-sticky member subscribed to two topics, one deleted
    under it: it keeps consuming the other and close() returns. Debian's
    librdkafka 2.0.2 hangs in close() here for as long as one waits, and
    does the same against Apache Kafka 4.4 (a client bug, see README)."""
    import threading
    from confluent_kafka import Consumer
    keep, gone = ck_topic("ck-coop-keep", 2), ck_topic("ck-coop-gone", 2)
    c = Consumer({"bootstrap.servers": BOOT, "group.id": unique("g"),
                  "auto.offset.reset": "earliest",
                  "partition.assignment.strategy": "cooperative-sticky"})
    got = set()

    def consume_until(want, what):
        deadline = time.monotonic() + 60
        while not want <= got:
            check(time.monotonic() < deadline, f"{what}: consumed {len(got & want)} of {len(want)}")
            for m in c.consume(500, 0.2):
                if m.error() is None:
                    got.add((m.topic(), m.value().decode()))
    closed = threading.Event()
    try:
        c.subscribe([keep, gone])
        first = {(t, v) for t in (keep, gone) for v in ck_produce(t, 100)}
        consume_until(first, "both topics")
        a = ck_admin()          # alive until its futures are done
        a.delete_topics([gone])[gone].result(30)
        later = {(keep, v) for v in ck_produce(keep, 100)}  # same values: new offsets
        got.clear()
        consume_until(later, f"{keep} after {gone} was deleted")
    finally:
        started = time.monotonic()
        t = threading.Thread(target=lambda: (c.close(), closed.set()), daemon=True)
        t.start()
        t.join(30)
    check(closed.is_set(), "close() still running 30 s after the topic deletion")
    log(f"close() returned in {time.monotonic() - started:.2f}s")


def test_py_confluent_admin():
    from confluent_kafka import TopicCollection, TopicPartition
    from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource,
                                       NewPartitions, OffsetSpec)
    a = ck_admin()
    cl = a.describe_cluster(request_timeout=30).result(30)
    expect_eq(len(cl.nodes), 2, "brokers (one per shard)")
    topic = ck_topic("ck-admin", 2, {"retention.ms": "3600000"})
    d = a.describe_topics(TopicCollection([topic]), request_timeout=30)[topic].result(30)
    expect_eq(len(d.partitions), 2, "describe_topics: partitions")
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)

    def value(key):
        return a.describe_configs([res])[res].result(30)[key].value
    expect_eq(value("retention.ms"), "3600000", "retention.ms")
    a.incremental_alter_configs([ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET)])])[res].result(30)
    expect_eq(value("retention.ms"), "7200000", "retention.ms after the change")
    a.create_partitions([NewPartitions(topic, 3)])[topic].result(30)
    wait_until(lambda: len(a.list_topics(topic, timeout=10).topics[topic].partitions) == 3, 30,
               "3 partitions")
    ck_produce(topic, 90)
    tps = {TopicPartition(topic, p): OffsetSpec.latest() for p in range(3)}
    ends = {tp.partition: r.result(30).offset for tp, r in a.list_offsets(tps).items()}
    expect_eq(sum(ends.values()), 90, "latest offsets, summed")
    mx = a.list_offsets({TopicPartition(topic, 0): OffsetSpec.max_timestamp()})
    check(list(mx.values())[0].result(30).offset >= 0, "max-timestamp offset")
    a.delete_topics([topic])[topic].result(30)
    wait_until(lambda: topic not in a.list_topics(timeout=10).topics, 30, f"{topic} gone")


# --- kafka-python 3 -----------------------------------------------------------

def kp_topic(prefix, partitions):
    from kafka.admin import KafkaAdminClient, NewTopic
    name = unique(prefix)
    a = KafkaAdminClient(bootstrap_servers=BOOT)
    try:
        a.create_topics([NewTopic(name, partitions, 1)])
    finally:
        a.close()
    return name


def kp_produce(topic, n, **conf):
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=BOOT, **conf)
    try:
        fs = [p.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode()) for i in range(n)]
        p.flush(60)
        return {f"v{i}": (f.get(30).partition, f.get(30).offset) for i, f in enumerate(fs)}
    finally:
        p.close()


def kp_read(topic, n):
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=BOOT, auto_offset_reset="earliest")
    try:
        parts = wait_until(lambda: c.partitions_for_topic(topic), 30, f"partitions of {topic}")
        c.assign([TopicPartition(topic, p) for p in parts])
        got = {}
        deadline = time.monotonic() + 60
        while len(got) < n:
            check(time.monotonic() < deadline, f"read {len(got)} of {n} from {topic}")
            for tp, msgs in c.poll(500).items():
                for m in msgs:
                    got[m.value.decode()] = (m.partition, m.offset)
        return got
    finally:
        c.close()


def test_py_kafka_python_produce_defaults():
    require_apis(EOS, "22:InitProducerId")      # 3.x is idempotent by default
    topic = kp_topic("kp-default", 3)
    sent = kp_produce(topic, 2000)
    expect_eq(kp_read(topic, len(sent)), sent, "records read back at their offsets")


def test_py_kafka_python_produce_not_idempotent():
    topic = kp_topic("kp-noidem", 3)
    sent = kp_produce(topic, 2000, enable_idempotence=False)
    expect_eq(kp_read(topic, len(sent)), sent, "records read back at their offsets")


def test_py_kafka_python_group():
    """Two kafka-python consumers of one group, each polled by a thread of
    its own as applications run them (a KafkaConsumer is not thread-safe),
    with poll timeouts longer than a rebalance: kafka-python 3.0.12 polled
    with short timeouts from one thread replaces a JoinGroup that completed
    between two polls by a new one, and a group of two then rebalances for
    ever - against Apache Kafka 4.4 just the same (measured)."""
    import threading
    from kafka import KafkaConsumer
    from kafka.admin import KafkaAdminClient
    topic = kp_topic("kp-group", 4)
    group = unique("g")
    members = [KafkaConsumer(topic, bootstrap_servers=BOOT, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False)
               for _ in range(2)]
    got, lock, stop, errors = {}, threading.Lock(), threading.Event(), []

    def poll_loop(i, m):
        try:
            while not stop.is_set():
                for msgs in m.poll(timeout_ms=5000).values():
                    with lock:
                        for r in msgs:
                            if r.value in got:
                                errors.append(f"{r.value} consumed twice")
                            got[r.value] = i
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(f"member {i}: {e!r}")
    threads = [threading.Thread(target=poll_loop, args=(i, m), daemon=True)
               for i, m in enumerate(members)]
    try:
        for t in threads:
            t.start()

        def stable():
            owned = [{tp.partition for tp in m.assignment()} for m in members]
            return all(len(o) == 2 for o in owned) and len(owned[0] | owned[1]) == 4
        wait_until(stable, 90, "both members with two partitions each", interval=0.05)
        check(not got, "a record before any was produced")
        sent = kp_produce(topic, 1000, enable_idempotence=False)
        wait_until(lambda: len(got) >= len(sent) or errors, 90,
                   f"{len(sent)} records consumed by the group", interval=0.05)
        expect_eq(errors, [], "consumer errors")
        expect_eq(sorted(got), sorted(v.encode() for v in sent), "records consumed")
        expect_eq(len(set(got.values())), 2, "members that consumed")
        stop.set()
        for t in threads:
            t.join(30)
        for m in members:
            m.commit()
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        for m in members:
            m.close()
    a = KafkaAdminClient(bootstrap_servers=BOOT)
    try:
        offs = a.list_group_offsets(group)[group]
        expect_eq(sum(o.offset for o in offs.values()), len(sent), "committed offsets, summed")
    finally:
        a.close()


def test_py_kafka_python_admin():
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions
    topic = kp_topic("kp-admin", 2)
    a = KafkaAdminClient(bootstrap_servers=BOOT)
    try:
        check(topic in a.list_topics(), "list_topics")
        d = a.describe_topics([topic])
        expect_eq(len(d[0]["partitions"]), 2, "describe_topics: partitions")
        a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                        configs={"retention.ms": "7200000"})])
        r = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic, ["retention.ms"])])
        text = repr(r)
        check("7200000" in text, f"retention.ms after alter_configs: {text[:400]}")
        a.create_partitions({topic: NewPartitions(3)})
        wait_until(lambda: len(a.describe_topics([topic])[0]["partitions"]) == 3, 30,
                   "3 partitions")
        cl = a.describe_cluster()
        expect_eq(len(cl["brokers"]), 2, "brokers")
        a.delete_topics([topic])
        wait_until(lambda: topic not in a.list_topics(), 30, f"{topic} gone")
    finally:
        a.close()


def test_py_kafka_python_transactions():
    require_apis(EOS, "22:InitProducerId", "24:AddPartitionsToTxn", "26:EndTxn")
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    topic = kp_topic("kp-txn", 2)
    p = KafkaProducer(bootstrap_servers=BOOT, transactional_id=unique("txn"))
    committed = []
    try:
        p.init_transactions()
        for t in range(3):
            p.begin_transaction()
            for i in range(50):
                p.send(topic, value=f"t{t}-{i}".encode())
                if t != 1:
                    committed.append(f"t{t}-{i}")
            if t == 1:
                p.abort_transaction()
            else:
                p.commit_transaction()
    finally:
        p.close()
    c = KafkaConsumer(bootstrap_servers=BOOT, auto_offset_reset="earliest",
                      isolation_level="read_committed")
    try:
        c.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        got = []
        deadline = time.monotonic() + 60
        while len(got) < len(committed):
            check(time.monotonic() < deadline, f"read {len(got)} of {len(committed)}")
            for msgs in c.poll(500).values():
                got += [m.value.decode() for m in msgs]
        expect_eq(sorted(got), sorted(committed), "read_committed")
    finally:
        c.close()


def compacted(produce, read):
    """Four rounds of the same 50 keys (segment.ms 100) and one record to
    roll: once cleaned, reading from the start gives each key once, with
    its last value."""
    last = {}
    for r in range(4):
        batch = [(f"key{k}", f"r{r}-{k}") for k in range(50)]
        produce(batch)
        last.update(batch)
        time.sleep(0.15)
    produce([("roll", "x")])
    last["roll"] = "x"

    def done():
        recs = read()
        seen = dict(recs)
        expect_eq(seen, last, "the last value of every key")
        return len(recs) == len(last)
    wait_until(done, 180, "the topic compacted to one record per key", interval=0.5)


COMPACT_CONFIGS = {"cleanup.policy": "compact", "segment.ms": "100",
                   "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "100"}


def test_py_confluent_compaction():
    require_apis(compat.COMPACT, "21:DeleteRecords")
    from confluent_kafka import Consumer, Producer, TopicPartition
    topic = ck_topic("ck-compact", 1, COMPACT_CONFIGS)

    def produce(batch):
        p = Producer({"bootstrap.servers": BOOT})
        for k, v in batch:
            p.produce(topic, key=k, value=v)
        check(p.flush(30) == 0, "produce")

    def read():
        c = Consumer({"bootstrap.servers": BOOT, "group.id": unique("unused"),
                      "enable.partition.eof": True})
        try:
            c.assign([TopicPartition(topic, 0, -2)])
            out = []
            while True:
                m = c.poll(10)
                check(m is not None, "no end of partition within 10 s")
                if m.error():
                    return out
                out.append((m.key().decode(), m.value().decode()))
        finally:
            c.close()
    compacted(produce, read)


def test_py_kafka_python_compaction():
    require_apis(compat.COMPACT, "21:DeleteRecords")
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    topic = unique("kp-compact")
    a = KafkaAdminClient(bootstrap_servers=BOOT)
    try:
        a.create_topics([NewTopic(topic, 1, 1, topic_configs=COMPACT_CONFIGS)])
    finally:
        a.close()

    def produce(batch):
        p = KafkaProducer(bootstrap_servers=BOOT, enable_idempotence=False)
        try:
            for f in [p.send(topic, key=k.encode(), value=v.encode()) for k, v in batch]:
                f.get(30)
        finally:
            p.close()

    def read():
        c = KafkaConsumer(bootstrap_servers=BOOT, auto_offset_reset="earliest")
        try:
            tp = TopicPartition(topic, 0)
            c.assign([tp])
            end = c.end_offsets([tp])[tp]
            out = []
            deadline = time.monotonic() + 30
            while c.position(tp) < end:
                check(time.monotonic() < deadline, "reading the compacted topic")
                for msgs in c.poll(500).values():
                    out += [(m.key.decode(), m.value.decode()) for m in msgs]
            return out
        finally:
            c.close()
    compacted(produce, read)


if __name__ == "__main__":
    sys.exit(compat.run_cases([f for n, f in list(globals().items()) if n.startswith("test_")]))
