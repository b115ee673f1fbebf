"""Kafka Connect 4.x (connect-runtime, connect-file) against sluiced, run
by run_connect.py (which starts the broker and sets SLUICE_CONNECT_CP).

A worker is configured as Kafka's own config/connect-*.properties ship
(JSON converters, replication factor 1 for the internal topics, offsets
flushed every 10 s); nothing else is changed from the defaults. The cases:

- standalone: a FileStreamSource and a FileStreamSink connector from
  properties files; the sink file ends up with every source line.
- distributed: the worker creates its config, offset and status topics
  (compacted: Connect checks cleanup.policy and refuses to start
  otherwise; checked here again with kafka-configs), the two connectors are
  created through the REST API, the worker is SIGKILLed while lines are
  being appended and restarted; the connectors come back from the config
  topic and the sink file holds every source line (at-least-once).
- distributed with exactly.once.source.support=enabled: the same kill and
  restart, and the topic then holds every source line exactly once
  (read_committed).
"""

import json
import os
import sys
import tempfile
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import compat  # noqa: E402
from compat import EOS, require_apis  # noqa: E402
from harness import check, expect_eq, wait_until  # noqa: E402
from jvm import Jvm, kill_all, sigkill  # noqa: E402
import test_tools  # noqa: E402

BOOT = os.environ.get("SLUICE_BOOTSTRAP", "")
CP = os.environ.get("SLUICE_CONNECT_CP", "")
LOG4J = os.path.join(HERE, "connect", "log4j2.xml")
SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
WORK = tempfile.mkdtemp(prefix="sluice-connect-")
START_TIMEOUT = 180


def write_props(path, props):
    with open(path, "w") as f:
        for k, v in props.items():
            f.write(f"{k}={v}\n")
    return path


def worker_props(extra):
    """What Kafka's config/connect-{standalone,distributed}.properties set."""
    p = {"bootstrap.servers": BOOT,
         "key.converter": "org.apache.kafka.connect.json.JsonConverter",
         "value.converter": "org.apache.kafka.connect.json.JsonConverter",
         "key.converter.schemas.enable": "true",
         "value.converter.schemas.enable": "true",
         "offset.flush.interval.ms": "10000",
         "listeners": "http://127.0.0.1:0"}
    p.update(extra)
    return p


def append_lines(path, first, n):
    lines = [f"line-{i:06d}" for i in range(first, first + n)]
    with open(path, "a") as f:
        f.write("".join(x + "\n" for x in lines))
        f.flush()
        os.fsync(f.fileno())
    return lines


def sink_lines(path):
    try:
        with open(path) as f:
            return [x for x in f.read().split("\n") if x]
    except FileNotFoundError:
        return []


def wait_sink(path, want, timeout, what):
    want = set(want)
    wait_until(lambda: want <= set(sink_lines(path)), timeout,
               f"{what}: the sink file to hold {len(want)} source lines "
               f"(has {len(set(sink_lines(path)) & want)})", interval=0.25)


class Rest:
    """The worker's REST API (the URL it logged)."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read().decode()
                return r.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def running(self, name):
        code, st = self.call("GET", f"/connectors/{name}/status")
        if code != 200:
            return False
        tasks = st.get("tasks", [])
        bad = [t for t in tasks if t.get("state") == "FAILED"]
        check(st["connector"]["state"] != "FAILED" and not bad,
              f"connector {name} failed: {json.dumps(st)[:3000]}")
        return st["connector"]["state"] == "RUNNING" and tasks and \
            all(t["state"] == "RUNNING" for t in tasks)


def start_distributed(w):
    w.start()
    m = w.wait_log(r"REST server listening at (http://[^\s,]+)", START_TIMEOUT,
                   "the REST server")
    w.wait_log(r"Kafka Connect started", START_TIMEOUT, "'Kafka Connect started'")
    return Rest(m.group(1))


def create_connectors(rest, src_file, sink_file, topic):
    for name, cfg in (("src", {"connector.class": SOURCE, "tasks.max": "1",
                               "file": src_file, "topic": topic}),
                      ("sink", {"connector.class": SINK, "tasks.max": "1",
                                "file": sink_file, "topics": topic})):
        code, body = rest.call("POST", "/connectors", {"name": name, "config": cfg})
        check(code == 201, f"POST /connectors {name}: {code} {body}")
    for name in ("src", "sink"):
        wait_until(lambda n=name: rest.running(n), START_TIMEOUT,
                   f"connector {name} and its task RUNNING", interval=0.25)


def check_compacted(topics):
    for t in topics:
        out = test_tools.tool("configs", "--bootstrap-server", BOOT, "--entity-type", "topics",
                              "--entity-name", t, "--describe", "--all")
        check("cleanup.policy=compact" in out, f"{t} is not compacted:\n{out[:2000]}")


def kill_and_restart(w, rest_start, src, first, n):
    """Appends lines and SIGKILLs the worker while its source task reads
    them, appends more while it is down, restarts it."""
    lines = append_lines(src, first, n)
    sigkill(w)
    lines += append_lines(src, first + n, n)
    return rest_start(w), lines


def distributed_case(name, extra):
    group = test_tools.unique(f"connect-{name}")
    topic = test_tools.unique(f"connect-{name}-data")
    internal = [f"{group}-configs", f"{group}-offsets", f"{group}-status"]
    props = worker_props({"group.id": group,
                          "config.storage.topic": internal[0],
                          "offset.storage.topic": internal[1],
                          "status.storage.topic": internal[2],
                          "config.storage.replication.factor": "1",
                          "offset.storage.replication.factor": "1",
                          "status.storage.replication.factor": "1"})
    props.update(extra)
    d = tempfile.mkdtemp(prefix=name + "-", dir=WORK)
    src, sink = os.path.join(d, "source.txt"), os.path.join(d, "sink.txt")
    w = Jvm(f"connect-{name}", "org.apache.kafka.connect.cli.ConnectDistributed",
            [write_props(os.path.join(d, "worker.properties"), props)], CP, d, log4j=LOG4J)
    try:
        rest = start_distributed(w)
        check_compacted(internal)
        sent = append_lines(src, 0, 300)
        create_connectors(rest, src, sink, topic)
        wait_sink(sink, sent, 120, "before the kill")
        rest, more = kill_and_restart(w, start_distributed, src, 300, 300)
        sent += more
        for c in ("src", "sink"):
            wait_until(lambda n=c: rest.running(n), START_TIMEOUT,
                       f"connector {c} RUNNING again after the restart", interval=0.25)
        sent += append_lines(src, 900, 300)
        wait_sink(sink, sent, 180, "after the restart")
        got = sink_lines(sink)
        check(set(got) == set(sent), f"the sink holds lines no source wrote: "
              f"{sorted(set(got) - set(sent))[:5]}")
        compat.say(f"    {len(sent)} source lines, {len(got)} sink lines "
                   f"({len(got) - len(set(got))} duplicates after the SIGKILL)")
        return topic, sent
    finally:
        kill_all([w])


def test_connect_standalone():
    d = tempfile.mkdtemp(prefix="standalone-", dir=WORK)
    topic = test_tools.unique("connect-standalone")
    src, sink = os.path.join(d, "source.txt"), os.path.join(d, "sink.txt")
    sent = append_lines(src, 0, 500)
    worker = write_props(os.path.join(d, "worker.properties"), worker_props(
        {"offset.storage.file.filename": os.path.join(d, "offsets")}))
    s = write_props(os.path.join(d, "source.properties"),
                    {"name": "src", "connector.class": SOURCE, "tasks.max": "1",
                     "file": src, "topic": topic})
    k = write_props(os.path.join(d, "sink.properties"),
                    {"name": "sink", "connector.class": SINK, "tasks.max": "1",
                     "file": sink, "topics": topic})
    w = Jvm("connect-standalone", "org.apache.kafka.connect.cli.ConnectStandalone",
            [worker, s, k], CP, d, log4j=LOG4J)
    try:
        w.start()
        w.wait_log(r"Kafka Connect started", START_TIMEOUT, "'Kafka Connect started'")
        wait_sink(sink, sent, 120, "standalone")
        sent += append_lines(src, 500, 500)
        wait_sink(sink, sent, 120, "standalone, lines appended while it runs")
        expect_eq(sorted(sink_lines(sink)), sorted(sent), "the sink file (no restart: no duplicates)")
    finally:
        kill_all([w])


def test_connect_distributed():
    distributed_case("dist", {})


def test_connect_distributed_exactly_once():
    require_apis(EOS, "22:InitProducerId", "24:AddPartitionsToTxn", "26:EndTxn")
    topic, sent = distributed_case("eos", {"exactly.once.source.support": "enabled"})
    out = test_tools.tool("console-consumer", "--bootstrap-server", BOOT, "--topic", topic,
                          "--from-beginning", "--max-messages", str(len(sent)),
                          "--timeout-ms", "60000", "--isolation-level", "read_committed")
    got = [json.loads(x)["payload"] for x in out.splitlines() if x.startswith("{")]
    expect_eq(sorted(got), sorted(sent), "the topic read with read_committed: each line once")


if __name__ == "__main__":
    sys.exit(compat.run_cases([test_connect_standalone, test_connect_distributed,
                               test_connect_distributed_exactly_once], budget=600))
