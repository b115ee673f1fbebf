"""Apache Kafka's own command-line tools (kafka-tools 4.x: what
kafka-topics.sh, kafka-console-producer.sh, kafka-console-consumer.sh,
kafka-consumer-groups.sh, kafka-producer-perf-test.sh,
kafka-consumer-perf-test.sh, kafka-get-offsets.sh and kafka-configs.sh run)
against sluiced, each output checked. Run by run_tools.py, which starts
the broker; every tool is a JVM of its own, started and reaped here (a
tool that hangs is killed at its time limit)."""

import os
import re
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import compat  # noqa: E402
from compat import EOS, require_apis  # noqa: E402
from harness import check, expect_eq, run, wait_until  # noqa: E402

BOOT = os.environ.get("SLUICE_BOOTSTRAP", "")
CP = os.environ.get("SLUICE_JAVA_CP", "")
LOG4J = os.path.join(os.path.dirname(os.path.abspath(__file__)), "log4j2.xml")
TOOLS = {
    "topics": "org.apache.kafka.tools.TopicCommand",
    "console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "producer-perf": "org.apache.kafka.tools.ProducerPerformance",
    "consumer-perf": "org.apache.kafka.tools.ConsumerPerformance",
    "get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "configs": "org.apache.kafka.tools.ConfigCommand",
}
STATE = {}


def tool(name, *args, input=None, timeout=180):
    """Runs one tool as its .sh script would; returns its stdout (text)."""
    cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
           f"-Dlog4j2.configurationFile={LOG4J}", "-cp", CP, TOOLS[name]] + list(args)
    p = run(cmd, input=input.encode() if input is not None else None, timeout=timeout,
            check_rc=False)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    check(p.returncode == 0, f"kafka-{name} {' '.join(args)} exited {p.returncode}:\n"
          f"{out[-2000:]}\n{err[-3000:]}")
    return out


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def topic_rows(text, topic):
    """kafka-topics --describe: the summary fields and one dict per partition."""
    head, parts = None, []
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w+): ?(\S*)", line))
        if fields.get("Topic") != topic:
            continue
        if "PartitionCount" in fields:
            head = fields
        elif "Partition" in fields:
            parts.append(fields)
    check(head is not None, f"no summary line for {topic} in:\n{text}")
    return head, parts


def group_rows(text, topic):
    """kafka-consumer-groups --describe: {partition: row}."""
    rows, cols = {}, None
    for line in text.splitlines():
        f = line.split()
        if f[:1] == ["GROUP"]:
            cols = f
        elif cols and len(f) >= len(cols) - 3 and topic in f:
            row = dict(zip(cols, f))
            rows[int(row["PARTITION"])] = row
    return rows


def test_tools_topics():
    t = unique("tools-topics")
    out = tool("topics", "--bootstrap-server", BOOT, "--create", "--topic", t,
               "--partitions", "3", "--replication-factor", "1", "--config", "retention.ms=3600000")
    check(f"Created topic {t}." in out, f"--create said: {out}")
    check(t in tool("topics", "--bootstrap-server", BOOT, "--list").split(), "--list lacks it")
    head, parts = topic_rows(tool("topics", "--bootstrap-server", BOOT, "--describe", "--topic", t), t)
    expect_eq(head["PartitionCount"], "3", "PartitionCount")
    expect_eq(head["ReplicationFactor"], "1", "ReplicationFactor")
    check(len(head.get("TopicId", "")) == 22, f"TopicId {head.get('TopicId')}")
    check("retention.ms=3600000" in head.get("Configs", ""), f"Configs {head}")
    expect_eq(sorted(int(p["Partition"]) for p in parts), [0, 1, 2], "partitions described")
    for p in parts:
        check(p["Leader"] in ("0", "1") and p["Replicas"] == p["Leader"] == p["Isr"],
              f"partition row {p}")
    tool("topics", "--bootstrap-server", BOOT, "--alter", "--topic", t, "--partitions", "5")
    head, parts = topic_rows(tool("topics", "--bootstrap-server", BOOT, "--describe", "--topic", t), t)
    expect_eq(head["PartitionCount"], "5", "PartitionCount after --alter")
    expect_eq(len(parts), 5, "partition rows after --alter")
    tool("topics", "--bootstrap-server", BOOT, "--delete", "--topic", t)
    wait_until(lambda: t not in tool("topics", "--bootstrap-server", BOOT, "--list").split(), 60,
               f"{t} gone from --list")


def test_tools_console_and_groups():
    t = unique("tools-console")
    g = unique("tools-group")
    n = 500
    tool("topics", "--bootstrap-server", BOOT, "--create", "--topic", t, "--partitions", "2")
    lines = [f"k{i}:value-{i}" for i in range(n)]
    # the console producer at its defaults (idempotent) needs InitProducerId
    require_apis(EOS, "22:InitProducerId")
    tool("console-producer", "--bootstrap-server", BOOT, "--topic", t,
         "--property", "parse.key=true", "--property", "key.separator=:",
         input="\n".join(lines) + "\n")
    STATE["console"] = (t, g, n, lines)
    console_consume_and_groups(t, g, n, lines)


def console_consume_and_groups(t, g, n, lines):
    out = tool("console-consumer", "--bootstrap-server", BOOT, "--topic", t, "--from-beginning",
               "--max-messages", str(n), "--property", "print.key=true",
               "--property", "key.separator=:", "--group", g)
    got = [line for line in out.splitlines() if line.startswith("k")]
    expect_eq(sorted(got), sorted(lines), "what the console consumer printed")
    rows = group_rows(tool("consumer-groups", "--bootstrap-server", BOOT, "--describe",
                           "--group", g), t)
    expect_eq(sorted(rows), [0, 1], "partitions --describe lists")
    expect_eq(sum(int(r["CURRENT-OFFSET"]) for r in rows.values()), n, "CURRENT-OFFSET, summed")
    for r in rows.values():
        expect_eq(r["LAG"], "0", f"LAG of partition {r['PARTITION']}")
        expect_eq(r["CURRENT-OFFSET"], r["LOG-END-OFFSET"], "committed = log end")
    out = tool("consumer-groups", "--bootstrap-server", BOOT, "--reset-offsets", "--group", g,
               "--topic", t, "--to-earliest", "--execute")
    reset = group_rows(out.replace("NEW-OFFSET", "NEW-OFFSET"), t)
    check(reset and all(r.get("NEW-OFFSET") == "0" for r in reset.values()),
          f"--reset-offsets --to-earliest said:\n{out}")
    rows = group_rows(tool("consumer-groups", "--bootstrap-server", BOOT, "--describe",
                           "--group", g), t)
    expect_eq(sum(int(r["CURRENT-OFFSET"]) for r in rows.values()), 0, "offsets after the reset")
    expect_eq(sum(int(r["LAG"]) for r in rows.values()), n, "lag after the reset")
    check(g in tool("consumer-groups", "--bootstrap-server", BOOT, "--list").split(),
          "--list lacks the group")


def test_tools_console_not_idempotent():
    """The console producer with acks=1, which turns idempotence off (the
    KIP-679 rule for a conflicting acks setting)."""
    t = unique("tools-console1")
    g = unique("tools-group1")
    n = 500
    tool("topics", "--bootstrap-server", BOOT, "--create", "--topic", t, "--partitions", "2")
    lines = [f"k{i}:value-{i}" for i in range(n)]
    tool("console-producer", "--bootstrap-server", BOOT, "--topic", t,
         "--producer-property", "acks=1",
         "--property", "parse.key=true", "--property", "key.separator=:",
         input="\n".join(lines) + "\n")
    wait_until(lambda: end_offsets(t) == n, 30, "the end offsets to cover the acks=1 records")
    console_consume_and_groups(t, g, n, lines)


def end_offsets(topic, time="-1"):
    out = tool("get-offsets", "--bootstrap-server", BOOT, "--topic", topic, "--time", time)
    rows = [line.split(":") for line in out.splitlines() if line.startswith(topic + ":")]
    check(rows, f"kafka-get-offsets printed nothing for {topic}:\n{out}")
    return sum(int(r[2]) for r in rows)


def test_tools_perf_and_offsets():
    t = unique("tools-perf")
    n = 20000
    tool("topics", "--bootstrap-server", BOOT, "--create", "--topic", t, "--partitions", "2")
    out = tool("producer-perf", "--topic", t, "--num-records", str(n), "--record-size", "100",
               "--throughput", "-1", "--producer-props", f"bootstrap.servers={BOOT}", "acks=1")
    m = re.search(r"^(\d+) records sent, ([\d.]+) records/sec", out, re.M)
    check(m and int(m.group(1)) == n, f"ProducerPerformance said:\n{out[-1500:]}")
    compat.say(f"    ProducerPerformance: {m.group(0)}")
    wait_until(lambda: end_offsets(t) == n, 30, "end offsets to reach the records sent")
    expect_eq(end_offsets(t, "-2"), 0, "earliest offsets (GetOffsetShell --time -2)")
    out = tool("consumer-perf", "--bootstrap-server", BOOT, "--topic", t, "--messages", str(n),
               "--timeout", "60000")
    data = [line for line in out.splitlines() if re.match(r"^\d{4}-", line)]
    check(data, f"ConsumerPerformance printed no result line:\n{out}")
    fields = [f.strip() for f in data[-1].split(",")]
    check(int(fields[4]) >= n, f"ConsumerPerformance consumed {fields[4]} of {n}: {data[-1]}")
    compat.say(f"    ConsumerPerformance: {data[-1]}")


def test_tools_producer_perf_defaults():
    require_apis(EOS, "22:InitProducerId")      # its producer is idempotent by default
    t = unique("tools-perfd")
    out = tool("producer-perf", "--topic", t, "--num-records", "20000", "--record-size", "100",
               "--throughput", "-1", "--producer-props", f"bootstrap.servers={BOOT}")
    m = re.search(r"^(\d+) records sent", out, re.M)
    check(m and int(m.group(1)) == 20000, f"ProducerPerformance said:\n{out[-1500:]}")


def test_tools_configs():
    out = tool("configs", "--bootstrap-server", BOOT, "--entity-type", "brokers",
               "--entity-default", "--alter", "--add-config", "log.retention.ms=86400000")
    check("Completed updating default config for brokers" in out, f"--alter said: {out}")
    out = tool("configs", "--bootstrap-server", BOOT, "--entity-type", "brokers",
               "--entity-default", "--describe")
    check("log.retention.ms=86400000" in out and "DYNAMIC_DEFAULT_BROKER_CONFIG" in out,
          f"--describe --entity-default said:\n{out}")
    out = tool("configs", "--bootstrap-server", BOOT, "--entity-type", "brokers",
               "--entity-name", "0", "--describe", "--all")
    check(re.search(r"log\.retention\.ms=86400000 .*DYNAMIC_DEFAULT_BROKER_CONFIG", out),
          f"--describe --all of broker 0 lacks the dynamic default:\n{out[:3000]}")
    t = unique("tools-cfg")
    tool("topics", "--bootstrap-server", BOOT, "--create", "--topic", t, "--partitions", "1")
    tool("configs", "--bootstrap-server", BOOT, "--entity-type", "topics", "--entity-name", t,
         "--alter", "--add-config", "retention.ms=1000,cleanup.policy=compact")
    out = tool("configs", "--bootstrap-server", BOOT, "--entity-type", "topics",
               "--entity-name", t, "--describe")
    check("retention.ms=1000" in out and "cleanup.policy=compact" in out,
          f"topic --describe said:\n{out}")
    tool("configs", "--bootstrap-server", BOOT, "--entity-type", "brokers", "--entity-default",
         "--alter", "--delete-config", "log.retention.ms")
    out = tool("configs", "--bootstrap-server", BOOT, "--entity-type", "brokers",
               "--entity-default", "--describe")
    check("log.retention.ms" not in out, f"still set after --delete-config:\n{out}")


if __name__ == "__main__":
    sys.exit(compat.run_cases([test_tools_topics, test_tools_console_and_groups,
                               test_tools_console_not_idempotent, test_tools_perf_and_offsets,
                               test_tools_producer_perf_defaults, test_tools_configs],
                              budget=400))
