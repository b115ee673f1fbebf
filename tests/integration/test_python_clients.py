#!/usr/bin/python3
"""kafka-python 2.0.2 and confluent-kafka 1.7 (librdkafka 2.0.2) against sluiced:
admin create/describe/delete/list, and a produce/consume round trip with each
client, the consumers using assign() (no group membership)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect_eq, fail, log, wait_until  # noqa: E402

KP_N = int(os.environ.get("SLUICE_IT_KP_N", "10000"))
CK_N = int(os.environ.get("SLUICE_IT_CK_N", "50000"))
RETENTION = "123456789"


def value_of(prefix, i):
    return b"%s-value-%d-" % (prefix, i) + bytes((i * 7 + j) & 0xFF for j in range(i % 300))


def key_of(prefix, i):
    return b"%s-key-%d" % (prefix, i)


def check_readback(topic, delivered, records):
    """delivered: {index: (partition, offset)}; records: list of
    (partition, offset, key, value, headers) in the order each partition was
    read. Every partition must come back in offset order from 0, with exactly
    the produced messages."""
    by_pos = {po: i for i, po in delivered.items()}
    expect_eq(len(by_pos), len(delivered), f"{topic}: distinct (partition, offset) of deliveries")
    next_off = {}
    for (p, o, k, v, h) in records:
        expect_eq(o, next_off.get(p, 0), f"{topic} partition {p}: next offset read")
        next_off[p] = o + 1
        i = by_pos.get((p, o))
        if i is None:
            fail(f"{topic}: read partition {p} offset {o}, which no delivery report named")
        prefix = topic.encode()
        expect_eq(k, key_of(prefix, i), f"{topic} p{p} o{o} key")
        expect_eq(v, value_of(prefix, i), f"{topic} p{p} o{o} value")
        expect_eq(list(h), [("idx", str(i).encode())], f"{topic} p{p} o{o} headers")
    expect_eq(len(records), len(delivered), f"{topic}: messages read back")


def check_deliveries(topic, delivered, n):
    expect_eq(len(delivered), n, f"{topic}: successful deliveries")
    per = {}
    for i in range(n):
        p, o = delivered[i]
        if p in per:
            check(o > per[p], f"{topic} partition {p}: message {i} got offset {o} after {per[p]}")
        per[p] = o
    return per


# ---------------------------------------------------------------------------
# kafka-python

def test_describe_configs_of_many_topics(ctx):
    """Every topic's configs in one DescribeConfigs (what sarama's ListTopics
    sends): the answer outgrows a request's pooled arena and must still come."""
    from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
    n = 120
    names = [f"kp-many-{i:03d}" for i in range(n)]
    admin = kp_admin(ctx)
    try:
        r = admin.create_topics([NewTopic(t, 1, 1, topic_configs={"retention.ms": str(1000 + i)})
                                 for i, t in enumerate(names)], timeout_ms=60000)
        expect_eq(sorted((t, e) for t, e, *rest in r.topic_errors), [(t, 0) for t in names],
                  "create_topics error codes")
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in names])
        got = {}
        for resp in res:
            for err, msg, rtype, rname, entries in (x[:5] for x in resp.resources):
                expect_eq(err, 0, f"describe_configs of {rname}")
                got[rname] = {e[0]: e[1] for e in entries}
        expect_eq(sorted(got), names, "every topic described")
        for i, t in enumerate(names):
            expect_eq(got[t].get("retention.ms"), str(1000 + i), f"{t}: retention.ms")
        log(f"{n} topics described in one request, {sum(map(len, got.values()))} entries")
        r = admin.delete_topics(names, timeout_ms=60000)
        expect_eq(sorted(tuple(x[:2]) for x in r.topic_error_codes), [(t, 0) for t in names],
                  "delete_topics error codes")
    finally:
        admin.close()


def kp_admin(ctx):
    from kafka import KafkaAdminClient
    return KafkaAdminClient(bootstrap_servers=ctx.bootstrap, request_timeout_ms=30000,
                            client_id="it-kafka-python-admin")


def test_kafka_python_admin(ctx):
    from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
    topic = "kp-admin"
    admin = kp_admin(ctx)
    try:
        r = admin.create_topics([NewTopic(topic, 3, 1, topic_configs={"retention.ms": RETENTION})],
                                timeout_ms=30000)
        errs = [(t, e) for t, e, *rest in r.topic_errors]
        expect_eq(errs, [(topic, 0)], "create_topics error codes")
        topics = wait_until(lambda: topic in admin.list_topics() and admin.list_topics(), 30,
                            f"{topic} in list_topics()")
        log(f"topics: {sorted(topics)}")

        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        resources = [x for resp in res for x in resp.resources]
        expect_eq(len(resources), 1, "describe_configs resources")
        err, msg, rtype, rname, entries = resources[0][:5]
        expect_eq((err, rname), (0, topic), "describe_configs error and resource name")
        cfg = {e[0]: e[1] for e in entries}
        log(f"{len(cfg)} configs, e.g. {dict(list(sorted(cfg.items()))[:6])}")
        expect_eq(cfg.get("retention.ms"), RETENTION, "retention.ms set at creation")
        check("cleanup.policy" in cfg, f"cleanup.policy missing from {sorted(cfg)}")

        # kafka-python raises on a per-topic error code
        from kafka.errors import TopicAlreadyExistsError
        try:
            r = admin.create_topics([NewTopic(topic, 3, 1)], timeout_ms=30000)
            fail(f"creating {topic} again succeeded: {r}")
        except TopicAlreadyExistsError as e:
            log(f"creating it again: {type(e).__name__} (36), as expected")

        r = admin.delete_topics([topic], timeout_ms=30000)
        expect_eq([tuple(x[:2]) for x in r.topic_error_codes], [(topic, 0)],
                  "delete_topics error codes")
        wait_until(lambda: topic not in admin.list_topics(), 30, f"{topic} gone from list_topics()")
    finally:
        admin.close()


def test_kafka_python_roundtrip(ctx):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic
    for codec in (None, "gzip"):
        topic = f"kp-roundtrip-{codec or 'none'}"
        prefix = topic.encode()
        admin = kp_admin(ctx)
        try:
            r = admin.create_topics([NewTopic(topic, 3, 1)], timeout_ms=30000)
            expect_eq([(t, e) for t, e, *rest in r.topic_errors], [(topic, 0)], "create_topics")
        finally:
            admin.close()
        prod = KafkaProducer(bootstrap_servers=ctx.bootstrap, acks="all", linger_ms=5,
                             compression_type=codec, request_timeout_ms=30000, retries=0,
                             max_in_flight_requests_per_connection=1)
        t0 = time.monotonic()
        futs = [prod.send(topic, key=key_of(prefix, i), value=value_of(prefix, i),
                          headers=[("idx", str(i).encode())]) for i in range(KP_N)]
        prod.flush(timeout=120)
        delivered = {}
        for i, f in enumerate(futs):
            md = f.get(timeout=60)
            delivered[i] = (md.partition, md.offset)
        prod.close(timeout=30)
        log(f"{topic}: produced {KP_N} in {time.monotonic() - t0:.1f}s")
        per = check_deliveries(topic, delivered, KP_N)
        expect_eq(sorted(per), [0, 1, 2], f"{topic}: partitions used")

        cons = KafkaConsumer(bootstrap_servers=ctx.bootstrap, group_id=None,
                             enable_auto_commit=False, request_timeout_ms=40000,
                             client_id="it-kafka-python-consumer")
        try:
            parts = wait_until(lambda: cons.partitions_for_topic(topic), 30,
                               f"partitions of {topic}")
            expect_eq(sorted(parts), [0, 1, 2], f"{topic}: partitions in metadata")
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            cons.assign(tps)
            cons.seek_to_beginning()
            ends = cons.end_offsets(tps)
            expect_eq({tp.partition: o for tp, o in ends.items()},
                      {p: o + 1 for p, o in per.items()}, f"{topic}: end offsets")
            records = []
            deadline = time.monotonic() + 120
            while len(records) < KP_N and time.monotonic() < deadline:
                for tp, recs in cons.poll(timeout_ms=1000, max_records=5000).items():
                    records += [(r.partition, r.offset, r.key, r.value, r.headers) for r in recs]
        finally:
            cons.close(autocommit=False)
        check_readback(topic, delivered, records)


# ---------------------------------------------------------------------------
# confluent-kafka

def ck_admin(ctx):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": ctx.bootstrap})


def ck_create(admin, topic, partitions, config=None):
    from confluent_kafka.admin import NewTopic
    fs = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1,
                                       config=config or {})], operation_timeout=30,
                             request_timeout=30)
    fs[topic].result(timeout=60)


def test_confluent_admin(ctx):
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import ConfigResource
    topic = "ck-admin"
    admin = ck_admin(ctx)
    ck_create(admin, topic, 5, {"retention.ms": RETENTION})
    md = wait_until(lambda: (lambda m: m if topic in m.topics else None)(admin.list_topics(timeout=10)),
                    30, f"{topic} in list_topics()")
    expect_eq(sorted(md.topics[topic].partitions), list(range(5)), f"{topic}: partitions")
    check(md.topics[topic].error is None, f"{topic}: metadata error {md.topics[topic].error}")
    log(f"brokers {sorted((b.id, f'{b.host}:{b.port}') for b in md.brokers.values())}")

    res = ConfigResource("topic", topic)
    cfg = admin.describe_configs([res], request_timeout=30)[res].result(timeout=60)
    log(f"{len(cfg)} configs")
    check("retention.ms" in cfg, f"retention.ms missing from {sorted(cfg)}")
    expect_eq(cfg["retention.ms"].value, RETENTION, "retention.ms set at creation")
    check("cleanup.policy" in cfg, f"cleanup.policy missing from {sorted(cfg)}")

    try:
        ck_create(admin, topic, 5)
        fail("creating an existing topic succeeded")
    except KafkaException as e:
        expect_eq(e.args[0].code(), KafkaError.TOPIC_ALREADY_EXISTS,
                  f"creating it again ({e.args[0].str()})")

    fs = admin.delete_topics([topic], operation_timeout=30, request_timeout=30)
    fs[topic].result(timeout=60)
    wait_until(lambda: topic not in admin.list_topics(timeout=10).topics, 30,
               f"{topic} gone from list_topics()")


def test_confluent_roundtrip(ctx):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
    for codec in ("none", "lz4", "zstd"):
        topic = f"ck-roundtrip-{codec}"
        prefix = topic.encode()
        ck_create(ck_admin(ctx), topic, 4)
        delivered, failed = {}, []

        def make_cb(i):
            def cb(err, msg):
                if err is not None:
                    failed.append((i, err))
                else:
                    delivered[i] = (msg.partition(), msg.offset())
            return cb

        prod = Producer({"bootstrap.servers": ctx.bootstrap, "acks": "all", "linger.ms": 5,
                         "compression.codec": codec, "enable.idempotence": False,
                         "message.timeout.ms": 60000})
        t0 = time.monotonic()
        for i in range(CK_N):
            for _ in range(10000):
                try:
                    prod.produce(topic, key=key_of(prefix, i), value=value_of(prefix, i),
                                 headers=[("idx", str(i).encode())], on_delivery=make_cb(i))
                    break
                except BufferError:
                    prod.poll(0.1)
            else:
                fail("producer queue stayed full")
            prod.poll(0)
        left = prod.flush(120)
        log(f"{topic}: produced {CK_N} in {time.monotonic() - t0:.1f}s")
        expect_eq(left, 0, f"{topic}: messages still queued after flush")
        expect_eq(failed[:5], [], f"{topic}: failed deliveries")
        per = check_deliveries(topic, delivered, CK_N)

        # confluent-kafka's Consumer refuses to exist without a group.id; it never
        # joins the group here (assign, no subscribe, no commits).
        cons = Consumer({"bootstrap.servers": ctx.bootstrap, "group.id": "ck-no-membership",
                         "enable.auto.commit": False, "enable.auto.offset.store": False,
                         "enable.partition.eof": True})
        try:
            lo_hi = {p: cons.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                     for p in range(4)}
            expect_eq(lo_hi, {p: (0, per.get(p, -1) + 1) for p in range(4)},
                      f"{topic}: watermarks")
            cons.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(4)])
            records = []
            deadline = time.monotonic() + 120
            while len(records) < CK_N and time.monotonic() < deadline:
                for m in cons.consume(num_messages=5000, timeout=1):
                    if m.error():
                        if m.error().code() != KafkaError._PARTITION_EOF:
                            fail(f"{topic}: consumer error {m.error()}")
                        continue
                    records.append((m.partition(), m.offset(), m.key(), m.value(),
                                    m.headers() or []))
        finally:
            cons.close()
        check_readback(topic, delivered, records)


def test_topic_compression_lz4(ctx):
    """compression.type=lz4 on a topic: uncompressed producer batches are stored
    re-encoded as LZ4 (codec 3 in the batch attributes on disk) and read back intact."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
    topic = "ck-topic-lz4"
    ck_create(ck_admin(ctx), topic, 1, {"compression.type": "lz4"})
    n = 5000
    prod = Producer({"bootstrap.servers": ctx.bootstrap, "acks": "all", "linger.ms": 5,
                     "compression.codec": "none", "enable.idempotence": False})
    for i in range(n):
        prod.produce(topic, key=key_of(b"lz", i), value=value_of(b"lz", i))
        prod.poll(0)
    expect_eq(prod.flush(60), 0, "messages still queued after flush")
    seg = os.path.join(ctx.broker.data_dir, f"{topic}-0", "0" * 20 + ".log")
    with open(seg, "rb") as f:
        data = f.read()
    pos, codecs = 0, set()
    while pos + 61 <= len(data):
        length = int.from_bytes(data[pos + 8:pos + 12], "big")
        codecs.add(int.from_bytes(data[pos + 21:pos + 23], "big") & 7)
        pos += 12 + length
    expect_eq(codecs, {3}, f"{topic}: codecs of the stored batches")
    cons = Consumer({"bootstrap.servers": ctx.bootstrap, "group.id": "ck-no-membership",
                     "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        cons.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        got = []
        deadline = time.monotonic() + 60
        while len(got) < n and time.monotonic() < deadline:
            for m in cons.consume(num_messages=5000, timeout=1):
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        fail(f"{topic}: consumer error {m.error()}")
                    continue
                got.append((m.offset(), m.key(), m.value()))
    finally:
        cons.close()
    expect_eq(got, [(i, key_of(b"lz", i), value_of(b"lz", i)) for i in range(n)],
              f"{topic}: records read back")


if __name__ == "__main__":
    harness.main([test_kafka_python_admin, test_describe_configs_of_many_topics,
                  test_kafka_python_roundtrip, test_confluent_admin,
                  test_confluent_roundtrip, test_topic_compression_lz4])
