#!/usr/bin/python3
"""sluice's web console (on the sluice.http.listen listener) in headless
Chromium, through playwright-core (console_check.js), against the Admin API.

    SLUICED=build/sluiced /usr/bin/python3 tests/integration/test_console.py

A topic of three partitions with known record counts and a topic config, a
group that committed offsets, and a live group member are set up with
confluent-kafka; then every view must load without a console error, a
failed request or an HTTP error, and show what the Admin API says: shards
and their ports (Metadata), partitions' high watermarks (ListOffsets), the
topic's configs (DescribeConfigs), the group's members (DescribeGroups) and
committed offsets with their lag (OffsetFetch). The live tail must show a
record produced while the page is open, as text and as hex. Screenshots
of each view go to $SLUICE_IT_OUTDIR (meson: build/tests/integration/out)."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect_eq, log  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = shutil.which("node") or "/usr/bin/node"
TOPIC = "console-t"
COUNTS = [30, 20, 10]
COMMITTED = [5, 7, 0]


def setup_data(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, len(COUNTS), 1,
                                  config={"retention.ms": "3600000"})])[TOPIC].result(30)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for part, n in enumerate(COUNTS):
        for i in range(n):
            p.produce(TOPIC, key=b"k%d" % i, value=b"p%d-%d" % (part, i), partition=part,
                      headers=[("source", b"setup")])
    expect_eq(p.flush(30), 0, "unflushed setup messages")
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "console-committed",
                  "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(TOPIC, i, off) for i, off in enumerate(COMMITTED)
                      if off > 0], asynchronous=False)
    c.close()
    return admin


class LiveMember(threading.Thread):
    """A subscribed consumer polling until stopped: a group with a member."""

    def __init__(self, bootstrap):
        super().__init__(daemon=True)
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": "console-live",
                           "client.id": "console-live-client", "auto.offset.reset": "earliest"})
        self.assigned = threading.Event()
        self.stop = threading.Event()
        self.c.subscribe([TOPIC], on_assign=lambda c, ps: ps and self.assigned.set())

    def run(self):
        deadline = time.monotonic() + 300
        while not self.stop.is_set() and time.monotonic() < deadline:
            self.c.poll(0.2)
        self.c.close()


def admin_view(bootstrap, admin):
    md = admin.list_topics(timeout=20)
    brokers = {b.id: b.port for b in md.brokers.values()}
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "console-committed",
                  "enable.auto.commit": False})
    hw = [c.get_watermark_offsets(TopicPartition(TOPIC, i), timeout=20)[1]
          for i in range(len(COUNTS))]
    committed = {tp.partition: tp.offset for tp in
                 c.committed([TopicPartition(TOPIC, i) for i in range(len(COUNTS))], timeout=20)}
    c.close()
    res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC)
    configs = {k: v.value for k, v in admin.describe_configs([res])[res].result(20).items()}
    groups = {g.id: g for g in admin.list_groups(timeout=20)}
    return brokers, hw, committed, configs, groups


def run_browser(b, member, outdir, producer):
    proc = subprocess.Popen([NODE, os.path.join(HERE, "console_check.js"), f"http://{b.http}",
                             outdir, TOPIC], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=HERE, text=True,
                            preexec_fn=harness._die_with_parent)
    result, live = None, "live-%d" % time.time_ns()
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line == "tail-ready":
                producer.produce(TOPIC, value=live.encode(), partition=0,
                                 headers=[("h-live", b"yes")])
                expect_eq(producer.flush(30), 0, "unflushed live message")
                log(f"produced {live!r} with the tail open")
                proc.stdin.write(live + "\n")
                proc.stdin.flush()
            elif line.startswith("result "):
                result = json.loads(line[7:])
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()
    check(result is not None, f"console_check.js printed no result (rc {proc.returncode})\n{err[-3000:]}")
    check("fatal" not in result, f"console_check.js: {result.get('fatal')}\n{err[-3000:]}")
    return result, live


@harness.timeout(240)
def test_console_pages(ctx):
    if not os.path.exists(os.path.join(HERE, "node_modules", "playwright-core")):
        harness.fail("playwright-core missing from tests/integration/node_modules "
                     "(scripts/setup.sh installs it)")
    b = ctx.new_broker("console", sets={"sluice.http.listen": "127.0.0.1:0"})
    admin = setup_data(b.bootstrap)
    member = LiveMember(b.bootstrap)
    member.start()
    check(member.assigned.wait(60), "the live group member got no assignment")
    outdir = os.environ.get("SLUICE_IT_OUTDIR") or os.path.join(b.workdir, "out")
    os.makedirs(outdir, exist_ok=True)
    producer = Producer({"bootstrap.servers": b.bootstrap})
    try:
        result, live = run_browser(b, member, outdir, producer)
        brokers, hw, committed, configs, groups = admin_view(b.bootstrap, admin)
    finally:
        member.stop.set()
        member.join(30)
    v = result["views"]
    expect_eq(result["errors"], [], "console errors, failed requests or HTTP errors")

    # Cluster: one row per shard, its port the one Metadata advertises.
    shards = {int(r[0]): int(r[2]) for r in v["cluster"]["shards"]}
    expect_eq(shards, brokers, "shards and ports (console vs Metadata)")
    # Topics: partitions' high watermarks (before the live record) and configs.
    parts = {int(r[0]): int(r[4]) for r in v["topics"]["partitions"]}
    expect_eq(parts, {i: n for i, n in enumerate(COUNTS)}, "high watermarks shown")
    expect_eq([h - (1 if i == 0 else 0) for i, h in enumerate(hw)], COUNTS,
              "Admin API watermarks (the live record is on partition 0)")
    shown_cfg = {r[0]: r[1] for r in v["topics"]["configs"]}
    for k in ("retention.ms", "segment.bytes", "cleanup.policy"):
        expect_eq(shown_cfg.get(k), configs.get(k), f"config {k} (console vs DescribeConfigs)")
    expect_eq(shown_cfg.get("retention.ms"), "3600000", "the topic's own retention.ms")
    topic_row = [r for r in v["topics"]["topics"] if r[0] == TOPIC]
    check(topic_row and int(topic_row[0][1]) == len(COUNTS), f"topic row {topic_row}")
    # Groups: committed offsets and lag, and the live member's assignment.
    lag = {int(r[2]): (int(r[3]), int(r[5])) for r in v["groups"]["lag"]
           if r[0] == "console-committed" and r[1] == TOPIC}
    want = {i: (committed[i], COUNTS[i] - committed[i]) for i in range(len(COUNTS))
            if committed[i] >= 0}
    expect_eq(lag, want, "committed offsets and lag (console vs OffsetFetch)")
    live_group = [g for g in v["groups"]["groups"] if g["group"] == "console-live"]
    check(live_group, f"group console-live not shown: {v['groups']['groups']}")
    expect_eq(len(live_group[0]["members"]), len(groups["console-live"].members),
              "members of console-live (console vs DescribeGroups)")
    m = live_group[0]["members"][0]
    expect_eq(m[1], "console-live-client", "member's client id")
    expect_eq(m[3], f"{TOPIC}: 0,1,2", "member's assignment")
    check("Stable" in live_group[0]["title"], f"group state: {live_group[0]['title']}")
    # Tail: the record produced while the page was open, with its header.
    tail = [r for r in v["tail"]["rows"] if r[3] == live]
    check(tail, f"live record not in the tail: {v['tail']['rows'][:3]}")
    expect_eq(int(tail[0][0]), COUNTS[0], "offset of the live record")
    check("h-live=yes" in tail[0][4], f"headers shown: {tail[0][4]}")
    # Charts: uPlot drew both.
    check(v["charts"]["canvases"] >= 2, f"charts: {v['charts']}")
    for name, view in v.items():
        check(os.path.getsize(view["screenshot"]) > 10000, f"screenshot of {name}")
    log(f"screenshots in {outdir}")


if __name__ == "__main__":
    harness.main([test_console_pages])
