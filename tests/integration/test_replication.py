#!/usr/bin/python3
"""Replicated partitions across three sluice nodes, each in a network
namespace of its own (netns.py), as Kafka clients use them.

Every node is a voter and has two shards: six brokers 0, 1, 1000, 1001, 2000,
2001. Topics have three replicas, one per node.

test_rf3_roundtrip: a topic of six partitions and three replicas created
through librdkafka's admin API: every partition lists three replicas on three
nodes, all in sync, leaders spread over the six brokers; records produced with
librdkafka (acks=all) read back in order, at the offsets acked, with
librdkafka; kafka-python (acks=all) produces and reads back through the same
cluster; replication factor 4 is refused (INVALID_REPLICATION_FACTOR: three
nodes); min.insync.replicas above the replica count answers acks=all with
NOT_ENOUGH_REPLICAS (and acks=1 is still taken).

test_leader_killed_under_load: librdkafka produces unique values with
acks=all (min.insync.replicas=2) to a partition whose leader node is then
SIGKILLed mid-stream: the controller fences it, a follower from the ISR
leads, the producer carries on; afterwards every acknowledged record is read
back from the new leader at the offset it was acknowledged with. The killed
node restarts, truncates what it must and catches up: it is back in the ISR
and its copy of the partition is byte for byte the leader's.

Needs root (ip netns).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import netns  # noqa: E402
from harness import check, expect_eq, fail, log  # noqa: E402

NODES = 3
SHARDS = 2
CL = None
SESSION_MS = 3000
LAG_MS = 3000


bootstrap = netns.bootstrap


def all_bootstrap(skip=()):
    return netns.all_bootstrap(NODES, skip)


def cluster(ctx):
    if not CL.nodes:
        ctx.brokers.extend(CL.start_voters(SHARDS, {
            "broker.session.timeout.ms": str(SESSION_MS),
            "replica.lag.time.max.ms": str(LAG_MS)}))
        wait_registered(range(NODES))
    return CL


ALL_BROKERS = sorted(n * 1000 + s for n in range(NODES) for s in range(SHARDS))


def metadata(i, topic=None):
    return harness.kcat_metadata(bootstrap(i), topic)


def wait_registered(nodes):
    def ok():
        return all(sorted(b["id"] for b in metadata(i)["brokers"]) == ALL_BROKERS
                   for i in nodes)
    harness.wait_until(ok, 60, "every node to list the six brokers")


def partitions(md, name):
    t = next((t for t in md["topics"] if t["topic"] == name), None)
    return None if t is None else sorted(t["partitions"], key=lambda p: p["partition"])


def create_topic(name, partitions_n, rf, configs=None, bootstrap_list=None):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": bootstrap_list or all_bootstrap()})
    fut = a.create_topics([NewTopic(name, partitions_n, rf, config=configs or {})],
                          request_timeout=30)
    fut[name].result(timeout=60)


def wait_in_sync(name, n, nodes=range(NODES), rf=3):
    def ok():
        for i in nodes:
            ps = partitions(metadata(i, name), name)
            if not ps or len(ps) != n:
                return False
            for p in ps:
                if p["leader"] < 0 or len(p["replicas"]) != rf or len(p["isrs"]) != rf:
                    return False
        return True
    harness.wait_until(ok, 60, f"{name}: every partition with {rf} replicas in sync")


def produce_rdkafka(name, partition, values):
    from confluent_kafka import Producer
    acked = []
    errors = []

    def report(err, msg):
        if err is None:
            acked.append((msg.value().decode(), msg.offset()))
        else:
            errors.append(str(err))
    p = Producer({"bootstrap.servers": all_bootstrap(), "acks": "all",
                  "linger.ms": 5, "enable.idempotence": False})
    for v in values:
        p.produce(name, value=v.encode(), partition=partition, on_delivery=report)
        p.poll(0)
    check(p.flush(60) == 0, "librdkafka producer did not deliver within 60 s")
    check(not errors, f"delivery errors: {errors[:5]}")
    return acked


def consume_rdkafka(name, partition, n):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": all_bootstrap(), "group.id": "unused",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(name, partition, 0)])
    got = []
    deadline = time.monotonic() + 60
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        got.append((m.value().decode(), m.offset()))
    c.close()
    return got


def produce_kafka_python(name, partition, values):
    from kafka import KafkaProducer
    prod = KafkaProducer(bootstrap_servers=all_bootstrap(), acks="all", linger_ms=5,
                         request_timeout_ms=30000, retries=0)
    futs = [prod.send(name, value=v.encode(), partition=partition) for v in values]
    offsets = [f.get(timeout=60).offset for f in futs]
    prod.close(timeout=30)
    return offsets


def consume_kafka_python(name, partition, n):
    from kafka import KafkaConsumer, TopicPartition
    cons = KafkaConsumer(bootstrap_servers=all_bootstrap(), group_id=None,
                         enable_auto_commit=False, request_timeout_ms=40000)
    tp = TopicPartition(name, partition)
    cons.assign([tp])
    cons.seek(tp, 0)
    got = []
    deadline = time.monotonic() + 60
    while len(got) < n and time.monotonic() < deadline:
        for recs in cons.poll(timeout_ms=500).values():
            got.extend((r.value.decode(), r.offset) for r in recs)
    cons.close()
    return got


def create_topic_error(name, partitions_n, rf, configs=None):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": all_bootstrap()})
    fut = a.create_topics([NewTopic(name, partitions_n, rf, config=configs or {})],
                          request_timeout=30)
    try:
        fut[name].result(timeout=60)
    except Exception as e:  # noqa: BLE001 - the KafkaException carries the code
        return e.args[0].code()
    return None


def produce_one_error(name, acks):
    """The error librdkafka reports for one record sent without retries."""
    from confluent_kafka import Producer
    out = []
    p = Producer({"bootstrap.servers": all_bootstrap(), "acks": acks, "retries": 0,
                  "enable.idempotence": False, "message.timeout.ms": 30000})
    p.produce(name, value=b"x", partition=0,
              on_delivery=lambda err, msg: out.append(err))
    check(p.flush(60) == 0, "the record was not answered within 60 s")
    return out[0]


def test_rf3_roundtrip(ctx):
    from confluent_kafka import KafkaError
    cluster(ctx)
    create_topic("rep", 6, 3)
    wait_in_sync("rep", 6)
    ps = partitions(metadata(0, "rep"), "rep")
    leaders = sorted(p["leader"] for p in ps)
    expect_eq(leaders, ALL_BROKERS, "leaders of the six partitions")
    for p in ps:
        nodes = sorted(r["id"] // 1000 for r in p["replicas"])
        expect_eq(nodes, [0, 1, 2], f"nodes of partition {p['partition']}'s replicas")
    for part in range(6):
        values = [f"rd-{part}-{i}" for i in range(500)]
        acked = produce_rdkafka("rep", part, values)
        expect_eq([v for v, _ in acked], values, f"partition {part}: acked in order")
        expect_eq([o for _, o in acked], list(range(500)), f"partition {part}: offsets")
        got = consume_rdkafka("rep", part, 500)
        expect_eq(got, acked, f"partition {part} read back with librdkafka")
    values = [f"kp-{i}" for i in range(300)]
    offsets = produce_kafka_python("rep", 1, values)
    expect_eq(offsets, list(range(500, 800)), "kafka-python's acked offsets")
    got = consume_kafka_python("rep", 1, 800)
    expect_eq(got[500:], list(zip(values, offsets)), "kafka-python's records read back")
    expect_eq(create_topic_error("rf4", 1, 4), KafkaError.INVALID_REPLICATION_FACTOR,
              "replication factor 4 on three nodes")
    create_topic("strict", 1, 3, {"min.insync.replicas": "4"})
    wait_in_sync("strict", 1)
    err = produce_one_error("strict", "all")
    check(err is not None and err.code() == KafkaError.NOT_ENOUGH_REPLICAS,
          f"acks=all below min.insync.replicas: expected NOT_ENOUGH_REPLICAS, got {err}")
    expect_eq(produce_one_error("strict", "1"), None, "acks=1 below min.insync.replicas")


def log_files(node, name, partition):
    d = os.path.join(node.data_dir, f"{name}-{partition}")
    out = {}
    for f in sorted(os.listdir(d)):
        if f.endswith(".log"):
            with open(os.path.join(d, f), "rb") as fh:
                out[f] = fh.read()
    return out


FAILOVER_N = 20000


@harness.timeout(300)
def test_leader_killed_under_load(ctx):
    from confluent_kafka import Producer
    cl = cluster(ctx)
    create_topic("failover", 3, 3, {"min.insync.replicas": "2"})
    wait_in_sync("failover", 3)
    ctrl = metadata(0)["controllerid"] // 1000
    ps = partitions(metadata(0, "failover"), "failover")
    target = next(p for p in ps if p["leader"] // 1000 != ctrl)
    part, victim = target["partition"], target["leader"] // 1000
    log(f"partition {part} led by node {victim} (the controller is node {ctrl})")

    acked, errors, times = [], [], []

    def report(err, msg):
        if err is None:
            acked.append((msg.value().decode(), msg.offset()))
            times.append(time.monotonic())
        else:
            errors.append(str(err))
    p = Producer({"bootstrap.servers": all_bootstrap(), "acks": "all", "linger.ms": 2,
                  "enable.idempotence": False, "queue.buffering.max.messages": 1000})
    killed_at = None
    for i in range(FAILOVER_N):
        while True:
            try:
                p.produce("failover", value=f"f-{i}".encode(), partition=part,
                          on_delivery=report)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
        if killed_at is None and len(acked) >= FAILOVER_N // 4:
            killed_at = time.monotonic()
            acked_at_kill = len(acked)
            cl.nodes[victim].kill()
    check(p.flush(120) == 0, "the producer did not deliver everything within 120 s")
    check(killed_at is not None, "the leader was never killed")
    check(not errors, f"delivery errors: {errors[:5]}")
    after = [t for t in times[acked_at_kill:] if t > killed_at]
    check(after, "no acknowledgement after the kill")
    log(f"{len(acked)} acked; the first ack after the kill came "
        f"{after[0] - killed_at:.2f}s after it")
    new = partitions(metadata((victim + 1) % NODES, "failover"), "failover")[part]
    check(new["leader"] >= 0 and new["leader"] // 1000 != victim,
          f"partition {part}'s leader after the kill: {new['leader']}")
    got = consume_rdkafka("failover", part, len(acked))
    at = dict((o, v) for v, o in got)
    lost = [(v, o) for v, o in acked if at.get(o) != v]
    check(not lost, f"{len(lost)} acknowledged records not where they were acked, "
                    f"e.g. {lost[:5]}")
    check({v for v, _ in acked} == {f"f-{i}" for i in range(FAILOVER_N)},
          "every value acknowledged")

    cl.nodes[victim].start(timeout=90)
    wait_registered(range(NODES))
    wait_in_sync("failover", 3)
    leader = partitions(metadata(0, "failover"), "failover")[part]["leader"] // 1000
    harness.wait_until(lambda: log_files(cl.nodes[victim], "failover", part) ==
                       log_files(cl.nodes[leader], "failover", part),
                       60, f"node {victim}'s copy of failover-{part} equal to the leader's")
    log(f"node {victim} back in the ISR with the leader's copy of the partition")


if __name__ == "__main__":
    if os.geteuid() != 0:
        fail("needs root for ip netns")
    CL = netns.NetnsCluster(NODES).open()
    CL.enter_hub()
    harness.main([test_rf3_roundtrip, test_leader_killed_under_load])
