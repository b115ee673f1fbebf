"""Kafka Streams 4.x (StreamsApp.java: a word count and per-minute word
counts) against sluiced, run by run_streams.py (which starts the broker,
compiles the app and sets SLUICE_JAVA_CP/SLUICE_STREAMS_CLASSES).

- exactly_once_v2: the input arrives in rounds while the application is
  SIGKILLed 5 times mid-stream and restarted; once it has consumed every
  line, both output topics read with read_committed are exactly what one
  failure-free run writes (the app emits every update: per key the counts
  1, 2, ..., n, each once, in order). Its state stores' changelogs are
  compacted, and Streams purges its repartition topics with DeleteRecords
  (their log start moves).
- at_least_once (Streams' default): killed once; every count reaches at
  least its exact value.
"""

import collections
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import compat  # noqa: E402
from compat import COMPACT, EOS, require_apis  # noqa: E402
from harness import check, expect_eq, wait_until  # noqa: E402
from jvm import Jvm, kill_all, sigkill  # noqa: E402
import test_tools  # noqa: E402
from test_tools import tool, unique  # noqa: E402

BOOT = os.environ.get("SLUICE_BOOTSTRAP", "")
CP = os.environ.get("SLUICE_JAVA_CP", "") + ":" + os.environ.get("SLUICE_STREAMS_CLASSES", "")
LOG4J = os.path.join(HERE, "log4j2.xml")
WORK = tempfile.mkdtemp(prefix="sluice-streams-")
WORDS = [f"w{i:02d}" for i in range(23)]
START_TIMEOUT = 180


def make_lines(first, n):
    """Line i: at second 60 + i/7 (a minute holds 420 lines), 1-4 words."""
    out = []
    for i in range(first, first + n):
        ws = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(1 + i % 4)]
        out.append(f"T{60 + i // 7} " + " ".join(ws))
    return out


def expected(lines):
    counts, windowed = collections.Counter(), collections.Counter()
    for line in lines:
        t, *ws = line.split(" ")
        minute = int(t[1:]) // 60 * 60
        for w in ws:
            counts[w] += 1
            windowed[f"{w}@{minute}"] += 1
    return counts, windowed


def load(topic, lines):
    """The input, with acks=1 (the loader is not what is tested here)."""
    tool("console-producer", "--bootstrap-server", BOOT, "--topic", topic,
         "--producer-property", "acks=1", input="\n".join(lines) + "\n")


def read(topic, n, committed=True):
    out = tool("console-consumer", "--bootstrap-server", BOOT, "--topic", topic,
               "--from-beginning", "--max-messages", str(n), "--timeout-ms", "15000",
               "--property", "print.key=true", "--property", "key.separator=|",
               "--isolation-level", "read_committed" if committed else "read_uncommitted",
               timeout=240)
    rows = [line.split("|", 1) for line in out.splitlines() if "|" in line]
    per_key = collections.defaultdict(list)
    for k, v in rows:
        per_key[k].append(int(v))
    return per_key, len(rows)


class Probe:
    """Offsets polled while the application runs, through Debian's
    confluent-kafka (librdkafka: no JVM start per poll). committed() reads
    the application's group offsets without joining the group."""

    def __init__(self, app_id):
        from confluent_kafka import Consumer
        self.c = Consumer({"bootstrap.servers": BOOT, "group.id": app_id,
                           "enable.auto.commit": False})

    def _tps(self, topic):
        from confluent_kafka import TopicPartition
        return [TopicPartition(topic, p) for p in range(2)]

    def end(self, topic, low=False):
        return sum(self.c.get_watermark_offsets(tp, timeout=30)[0 if low else 1]
                   for tp in self._tps(topic))

    def committed(self, topic):
        return sum(max(tp.offset, 0) for tp in self.c.committed(self._tps(topic), timeout=30))

    def close(self):
        self.c.close()


def caught_up(probe, topic, n):
    """The application's group has committed every input line."""
    return probe.committed(topic) == n


def start_app(app):
    app.start()
    app.wait_log(r"^STATE RUNNING", START_TIMEOUT, "the application RUNNING")


def streams_app(name, guarantee):
    app_id = unique(f"streams-{name}")
    topic = unique(f"streams-{name}-in")
    for t in (topic, f"{topic}-counts", f"{topic}-windowed"):
        tool("topics", "--bootstrap-server", BOOT, "--create", "--topic", t, "--partitions", "2")
    d = tempfile.mkdtemp(prefix=name + "-", dir=WORK)
    app = Jvm(app_id, "sluice.compat.StreamsApp",
              [BOOT, app_id, os.path.join(d, "state"), guarantee, topic], CP, d, log4j=LOG4J)
    return app_id, topic, app, Probe(app_id)


def run_with_kills(app, probe, topic, kills, rounds_of):
    """Loads a round of input, lets the application get into it, SIGKILLs
    it and restarts it, kills times; then the last round. Returns the lines."""
    sent = []
    start_app(app)
    for k in range(kills + 1):
        before = probe.end(f"{topic}-counts")
        lines = make_lines(len(sent), rounds_of)
        load(topic, lines)
        sent += lines
        if k == kills:
            break
        wait_until(lambda b=before: probe.end(f"{topic}-counts") > b, 120,
                   f"round {k}: output beyond {before} records", interval=0.25)
        sigkill(app)
        start_app(app)
    return sent


def check_sequences(per_key, want, what):
    """Exactly one failure-free run's output: 1..n per key, once each."""
    expect_eq(sorted(per_key), sorted(want), f"{what}: the keys")
    for k, n in want.items():
        if per_key[k] != list(range(1, n + 1)):
            check(False, f"{what}: key {k} got {per_key[k][:12]}... ({len(per_key[k])} "
                         f"values), a failure-free run gives 1..{n}")


def test_streams_exactly_once_v2():
    require_apis(EOS, "22:InitProducerId", "24:AddPartitionsToTxn", "26:EndTxn",
                 "25:AddOffsetsToTxn", "28:TxnOffsetCommit")
    app_id, topic, app, probe = streams_app("eos", "exactly_once_v2")
    try:
        sent = run_with_kills(app, probe, topic, kills=5, rounds_of=600)
        wait_until(lambda: caught_up(probe, topic, len(sent)), 300,
                   f"{app_id} to commit all {len(sent)} input lines")
        counts, windowed = expected(sent)
        total = sum(counts.values())
        got, n = read(f"{topic}-counts", total + 1)
        expect_eq(n, total, "records in the counts topic (read_committed)")
        check_sequences(got, counts, "counts")
        got, n = read(f"{topic}-windowed", total + 1)
        expect_eq(n, total, "records in the windowed topic (read_committed)")
        check_sequences(got, windowed, "per-minute counts")
        compat.say(f"    {len(sent)} lines, {total} words, 5 SIGKILLs: output exact")
        check_internal_topics(app_id, probe)
    finally:
        kill_all([app])
        probe.close()


def check_internal_topics(app_id, probe):
    listed = tool("topics", "--bootstrap-server", BOOT, "--list").split()
    changelogs = [t for t in listed if t.startswith(app_id) and t.endswith("-changelog")]
    repartitions = [t for t in listed if t.startswith(app_id) and t.endswith("-repartition")]
    check(len(changelogs) == 2 and len(repartitions) == 2,
          f"internal topics of {app_id}: {changelogs} {repartitions}")
    for t in changelogs:
        out = tool("configs", "--bootstrap-server", BOOT, "--entity-type", "topics",
                   "--entity-name", t, "--describe", "--all")
        check(re.search(r"cleanup\.policy=compact", out), f"{t} is not compacted:\n{out[:1500]}")
    require_apis(COMPACT, "21:DeleteRecords")
    for t in repartitions:
        wait_until(lambda x=t: probe.end(x, low=True) > 0, 120,
                   f"Streams to purge {t} (DeleteRecords: its log start above 0)", interval=1)


def advertised(api):
    return str(api) in os.environ.get("SLUICE_APIS", "").split(",")


def test_streams_at_least_once():
    app_id, topic, app, probe = streams_app("alos", "at_least_once")
    if not advertised(22):
        # Streams' producers are idempotent at its defaults: without
        # InitProducerId the application must fail with Kafka's clear error
        # (not hang, not lose data quietly); then the case waits on issue 10.
        try:
            start_app(app)
            load(topic, make_lines(0, 100))
            app.wait_log(r"UnsupportedVersionException: The node does not support "
                         r"INIT_PRODUCER_ID", 120, "the client's UnsupportedVersionException")
        finally:
            kill_all([app])
            probe.close()
        require_apis(EOS, "22:InitProducerId")
    try:
        sent = run_with_kills(app, probe, topic, kills=1, rounds_of=600)
        wait_until(lambda: caught_up(probe, topic, len(sent)), 300,
                   f"{app_id} to commit all {len(sent)} input lines")
        counts, _ = expected(sent)
        got, n = read(f"{topic}-counts", probe.end(f"{topic}-counts"), committed=False)
        for k, want in counts.items():
            vals = got.get(k, [])
            check(vals and max(vals) >= want, f"count of {k}: {vals[-3:]} < {want}")
        compat.say(f"    {len(sent)} lines, 1 SIGKILL: every count reached")
    finally:
        kill_all([app])
        probe.close()


if __name__ == "__main__":
    sys.exit(compat.run_cases([test_streams_at_least_once, test_streams_exactly_once_v2],
                              budget=900))
