#!/usr/bin/python3
"""Answers that grow with the partition count (found by bench/scaling.py):

- Metadata of every topic, and of one topic of ~1,200 partitions: each used
  to outgrow the request's pooled 64 KiB arena (~960 partitions) and the
  connection was closed ("cannot answer API key 3: error -12"), which took
  every client of a broker with about a thousand partitions down;
- a Fetch of every partition a shard leads in one request, as librdkafka
  sends it (hundreds of partitions): closed the same way ("cannot encode a
  fetch response"); here librdkafka (confluent-kafka) produces to and reads
  back every partition, each its own message;
- the broker says at start what its open files limit is (it raises the soft
  limit to the hard one: every partition holds six files open).
"""

import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import kwire  # noqa: E402
from harness import check, expect_eq, fail, wait_until  # noqa: E402
from kwire import Conn  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

PARTITIONS = 1200     # more than the pooled arena held (~960)
FDS_PER_PARTITION = 6  # segment + pre-created next segment: .log, .index, .timeindex


def create(bootstrap, name, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)], request_timeout=60)[name].result(90)


def metadata(b, topics):
    host, port = b.host_port()
    with Conn(host, port, timeout=30) as c:
        return kwire.parse_metadata_v4(
            c.call(kwire.API_METADATA, 4, kwire.metadata_v4_body(topics, auto_create=False), 3))


def test_metadata_of_many_partitions(ctx):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = PARTITIONS * FDS_PER_PARTITION + 1000
    if hard != resource.RLIM_INFINITY and hard < need:
        fail(f"RLIMIT_NOFILE hard limit {hard} < {need}: this test needs "
             f"{PARTITIONS} partitions' files open")
    b = ctx.broker
    create(b.bootstrap, "wide", PARTITIONS)
    for t in range(4):
        create(b.bootstrap, f"narrow-{t}", 4)
    for asked in (None, ["wide"]):
        brokers, topics = metadata(b, asked)
        check("wide" in topics, f"Metadata({asked}) lacks the topic: {sorted(topics)[:10]}")
        err, parts = topics["wide"]
        expect_eq(err, 0, f"Metadata({asked}) topic error")
        expect_eq(sorted(parts), list(range(PARTITIONS)), f"Metadata({asked}) partitions")
        bad = [p for p, (e, leader) in parts.items() if e or leader not in brokers]
        expect_eq(bad[:5], [], f"Metadata({asked}) partitions without a leader")
        if asked is None:
            expect_eq(sorted(t for t in topics if t.startswith("narrow-")),
                      [f"narrow-{t}" for t in range(4)], "Metadata(all) topics")


def test_fetch_of_every_partition(ctx):
    b = ctx.broker
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 5})
    errors = []
    for i in range(PARTITIONS):
        p.produce("wide", value=f"v-{i}".encode(), partition=i,
                  on_delivery=lambda err, msg: errors.append(err) if err else None)
    left = p.flush(60)
    expect_eq((left, errors[:3]), (0, []), "produce to every partition: unsent, errors")
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "many-partitions",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 100})
    c.assign([TopicPartition("wide", i, 0) for i in range(PARTITIONS)])
    got = {}

    def read_all():
        for m in c.consume(1000, 1.0):
            check(not m.error(), f"consume error: {m.error()}")
            got[m.partition()] = m.value().decode()
        return len(got) == PARTITIONS

    try:
        wait_until(read_all, 90, f"{PARTITIONS} partitions read back")
    finally:
        c.close()
    bad = [i for i in range(PARTITIONS) if got.get(i) != f"v-{i}"]
    expect_eq(bad[:5], [], "partitions read back wrong")
    with open(b.log_path, errors="replace") as f:
        text = f.read()
    check("cannot encode" not in text and "cannot answer" not in text,
          "the broker closed a connection on a wide answer:\n" +
          "\n".join(line for line in text.splitlines() if "cannot" in line)[-2000:])


def test_open_files_limit_logged(ctx):
    b = ctx.broker
    with open(b.log_path, errors="replace") as f:
        lines = [line for line in f if "open files limit" in line]
    check(lines, "no 'open files limit' line in the broker's log")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        check(f"open files limit {hard} " in lines[0],
              f"soft limit not raised to the hard one ({hard}): {lines[0].strip()}")


if __name__ == "__main__":
    harness.main([test_metadata_of_many_partitions, test_fetch_of_every_partition,
                  test_open_files_limit_logged], test_timeout=240)
