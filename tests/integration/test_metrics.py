#!/usr/bin/python3
"""/metrics on sluice's HTTP listener (sluice.http.listen), read directly and
through a real Prometheus from Debian on loopback.

    SLUICED=build/sluiced /usr/bin/python3 tests/integration/test_metrics.py

- the text parses as Prometheus exposition, and the per-partition counters
  and offsets equal what the test produced, the per-API counters and the
  produce, fetch, fdatasync and loop-turn histograms move;
- Prometheus scrapes the broker every second while confluent-kafka produces
  at a paced rate; its query API then gives the exact total, a rate near the
  paced one, and the lag of a group that committed part of the topic;
- anything but GET is refused, an unknown path is 404, and the broker keeps
  serving Kafka clients and scrapes after both."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect_eq, log  # noqa: E402
import metrics_util as mu  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

HTTP = {"sluice.http.listen": "127.0.0.1:0"}
RATE = int(os.environ.get("SLUICE_IT_METRICS_RATE", "500"))
SECONDS = int(os.environ.get("SLUICE_IT_METRICS_SECONDS", "8"))


def create_topic(bootstrap, name, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(name, partitions, 1)])[name]
    fut.result(30)


def produce(bootstrap, topic, per_partition, partitions, pace=None):
    """per_partition messages to each partition (explicitly), all acked;
    with pace (msgs/s) spread evenly in time. Returns (t_first, t_last)."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all"})
    errors = []
    total = per_partition * partitions
    t0 = time.time()
    for i in range(total):
        if pace:
            due = t0 + i / pace
            while time.time() < due:
                p.poll(max(0.0, min(0.01, due - time.time())))
        p.produce(topic, value=b"v%07d" % i, partition=i % partitions,
                  on_delivery=lambda err, msg: err and errors.append(err))
        p.poll(0)
    t1 = time.time()
    left = p.flush(60)
    expect_eq(left, 0, "messages still unacknowledged after flush")
    expect_eq(errors, [], "delivery errors")
    return t0, t1


def test_metrics_text(ctx):
    b = ctx.new_broker("text", sets=HTTP)
    check(b.http, "the broker printed no 'http listening' line")
    create_topic(b.bootstrap, "m-text", 4)
    produce(b.bootstrap, "m-text", 250, 4)
    harness.kcat_roundtrip(b.bootstrap, "m-text-kcat", n=100)
    s = mu.scrape(b)
    for part in range(4):
        expect_eq(mu.value(s, "sluice_partition_records_appended_total", topic="m-text",
                           partition=part), 250.0, f"records appended to partition {part}")
        expect_eq(mu.value(s, "sluice_partition_log_end_offset", topic="m-text",
                           partition=part), 250.0, f"log end of partition {part}")
        expect_eq(mu.value(s, "sluice_partition_high_watermark", topic="m-text",
                           partition=part), 250.0, f"high watermark of partition {part}")
        check(mu.value(s, "sluice_partition_segments", topic="m-text", partition=part) == 1,
              "one segment per partition")
        check(mu.value(s, "sluice_partition_size_bytes", topic="m-text", partition=part) > 250 * 8,
              "partition size covers its records")
    check(mu.value(s, "sluice_partition_bytes_out_total", topic="m-text-kcat") > 0,
          "kcat's fetch counted as bytes out")
    check(mu.value(s, "sluice_requests_total", api="Produce") >= 1, "Produce requests counted")
    check(mu.value(s, "sluice_requests_total", api="Metadata") >= 1, "Metadata requests counted")
    check(mu.value(s, "sluice_request_bytes_total", api="Produce") > 1000 * 8,
          "produce request bytes")
    check(mu.value(s, "sluice_response_bytes_total", api="Fetch") > 100,
          "fetch response bytes")
    check(mu.value(s, "sluice_request_duration_seconds_count", api="Produce") >= 1,
          "produce latency histogram")
    check(mu.value(s, "sluice_request_duration_seconds_count", api="Fetch") >= 1,
          "fetch latency histogram")
    expect_eq(mu.value(s, "sluice_request_duration_seconds_bucket", api="Produce", le="+Inf"),
              mu.value(s, "sluice_request_duration_seconds_count", api="Produce"),
              "+Inf bucket equals the count")
    check(mu.value(s, "sluice_fsync_duration_seconds_count") >= 1, "fdatasyncs timed")
    expect_eq(mu.value(s, "sluice_group_commit_records_sum"), 1100.0,
              "records made durable by the group commits (flush always)")
    check(mu.value(s, "sluice_loop_turn_duration_seconds_count") > 0, "loop turns timed")
    expect_eq(mu.value(s, "sluice_up"), 1.0, "sluice_up")
    check(("sluice_ring_capacity", frozenset({("shard", "0")})) in s, "ring capacity per shard")
    check(mu.value(s, "sluice_connections_accepted_total") >= 2, "connections accepted")


def test_http_errors(ctx):
    b = ctx.new_broker("errors", sets=HTTP)
    st, _, body = mu.http_get(f"http://{b.http}/no/such/page")
    expect_eq(st, 404, "unknown path")
    import urllib.request
    req = urllib.request.Request(f"http://{b.http}/metrics", data=b"x=1", method="POST")
    try:
        urllib.request.urlopen(req, timeout=10)
        harness.fail("POST /metrics was accepted")
    except urllib.error.HTTPError as e:
        expect_eq(e.code, 405, "POST status")
    harness.kcat_roundtrip(b.bootstrap, "after-errors", n=10)
    expect_eq(mu.value(mu.scrape(b), "sluice_up"), 1.0, "scrape after bad requests")


def consume_and_commit(bootstrap, topic, group, partitions, upto):
    """Consumes each partition up to offset `upto` and commits it (sync)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    seen = {p: 0 for p in range(partitions)}
    deadline = time.monotonic() + 60
    while any(v < upto for v in seen.values()) and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        if m.offset() < upto:
            seen[m.partition()] = max(seen[m.partition()], m.offset() + 1)
    check(all(v >= upto for v in seen.values()), f"consumed {seen}, wanted {upto} each")
    c.commit(offsets=[TopicPartition(topic, p, upto) for p in range(partitions)],
             asynchronous=False)
    c.close()


@harness.timeout(240)
def test_prometheus_rate_and_lag(ctx):
    b = ctx.new_broker("prom", sets=HTTP)
    prom = mu.Prometheus(b.workdir, [b.http]).start()
    try:
        harness.wait_until(lambda: prom.targets_up(), 30, "prometheus to scrape sluice")
        parts = 2
        create_topic(b.bootstrap, "m-rate", parts)
        per_part = RATE * SECONDS // parts
        total = per_part * parts
        t0, t1 = produce(b.bootstrap, "m-rate", per_part, parts, pace=RATE)
        log(f"produced {total} at {total / (t1 - t0):.0f}/s (paced {RATE}/s) "
            f"in {t1 - t0:.1f}s")
        expr = 'sum(sluice_partition_records_appended_total{topic="m-rate"})'
        harness.wait_until(lambda: prom.scalar(expr) == total, 30,
                           f"prometheus to see {total} records")
        # The rate over the middle of the paced window, from Prometheus's own
        # samples (1 s apart): near the pace, whatever the box's noise.
        mid = (t0 + t1) / 2
        window = max(2, int((t1 - t0) / 2))
        r = prom.scalar(f'sum(rate(sluice_partition_records_appended_total'
                        f'{{topic="m-rate"}}[{window}s]))', at=mid + window / 2)
        log(f"prometheus rate over [{mid - window / 2:.1f}, {mid + window / 2:.1f}]: {r}/s")
        check(r is not None and 0.6 * RATE <= r <= 1.4 * RATE,
              f"produce rate {r}/s, paced at {RATE}/s")
        produced_total = prom.scalar('sum(sluice_requests_total{api="Produce"})')
        check(produced_total and produced_total >= 1, "produce requests in prometheus")

        upto = per_part // 4
        consume_and_commit(b.bootstrap, "m-rate", "lag-group", parts, upto)
        lag_expr = 'sum(sluice_consumer_group_lag{group="lag-group",topic="m-rate"})'
        want = float(total - upto * parts)
        harness.wait_until(lambda: prom.scalar(lag_expr) == want, 30,
                           f"prometheus to see lag {want}")
        for p in range(parts):
            got = prom.scalar(f'sluice_consumer_group_committed_offset{{group="lag-group",'
                              f'topic="m-rate",partition="{p}"}}')
            expect_eq(got, float(upto), f"committed offset of partition {p}")
            got = prom.scalar(f'sluice_consumer_group_lag{{group="lag-group",'
                              f'topic="m-rate",partition="{p}"}}')
            expect_eq(got, float(per_part - upto), f"lag of partition {p}")
    finally:
        prom.stop()


if __name__ == "__main__":
    harness.main([test_metrics_text, test_http_errors, test_prometheus_rate_and_lag])
