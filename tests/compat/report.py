#!/usr/bin/python3
"""The compatibility table: client x version x feature, from the results
the suite's drivers wrote (BUILD/compat/results/*.json).

    report.py [--build DIR] [--readme README.md] [--check]

Prints the table (markdown) and writes BUILD/compat/table.md; --readme
replaces the table between the README's compat-table markers. A cell is
the result of the cases that test that feature with that client: "ok",
"FAILED", "unsupported (why)" for a broker feature another issue is
building, "no such feature" where the client has none, and "not run"
where its case did not report (a failed driver, a filter). Exits 1 if any
case failed or a mapped case did not run, so the meson test compat-report
fails with the suite."""

import argparse
import glob
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

FEATURES = ["default produce", "idempotent", "transactions", "groups", "admin", "compaction"]
NONE = "no such feature"

# client, where its version comes from, and each feature's cases (or NONE)
CLIENTS = [
    ("Java kafka-clients", ("pom", "tests/compat/java/pom.xml", "kafka.version"), {
        "default produce": ["java_producer_defaults", "java_producer_acks1"],
        "idempotent": ["java_producer_defaults"],
        "transactions": ["java_producer_transactional"],
        "groups": ["java_group_range", "java_group_cooperative_sticky", "java_admin_group_offsets"],
        "admin": ["java_admin_topics", "java_admin_cluster", "java_admin_list_offsets",
                  "java_admin_delete_records", "java_admin_broker_configs",
                  "java_admin_replica_assignment"],
        "compaction": ["java_compaction"]}),
    ("Kafka's CLI tools (kafka-tools)", ("pom", "tests/compat/java/pom.xml", "kafka.version"), {
        "default produce": ["tools_console_and_groups", "tools_producer_perf_defaults",
                            "tools_console_not_idempotent", "tools_perf_and_offsets"],
        "idempotent": ["tools_console_and_groups", "tools_producer_perf_defaults"],
        "transactions": NONE,
        "groups": ["tools_console_and_groups", "tools_console_not_idempotent"],
        "admin": ["tools_topics", "tools_configs", "tools_perf_and_offsets"],
        "compaction": NONE}),
    ("Kafka Connect (connect-runtime, connect-file)",
     ("pom", "tests/compat/java/connect/pom.xml", "connect.version"), {
        "default produce": ["connect_standalone", "connect_distributed"],
        "idempotent": "not tested with this client",
        "transactions": ["connect_distributed_exactly_once"],
        "groups": ["connect_distributed"],             # the workers' group
        "admin": ["connect_distributed"],              # it creates its topics
        "compaction": ["connect_distributed"]}),       # ... compacted, checked
    ("Kafka Streams", ("pom", "tests/compat/java/pom.xml", "kafka.version"), {
        "default produce": ["streams_at_least_once"],
        "idempotent": ["streams_at_least_once"],       # its producers, at defaults
        "transactions": ["streams_exactly_once_v2"],
        "groups": ["streams_at_least_once"],
        "admin": ["streams_at_least_once"],            # its internal topics
        "compaction": ["streams_exactly_once_v2"]}),   # changelogs, DeleteRecords
    ("franz-go (kgo, kadm)", ("gomod", "github.com/twmb/franz-go"), {
        "default produce": ["go_franz_produce_defaults", "go_franz_produce_leader_acks"],
        "idempotent": ["go_franz_produce_defaults"],
        "transactions": ["go_franz_transactions"],
        "groups": ["go_franz_group"],
        "admin": ["go_franz_admin"],
        "compaction": ["go_franz_compaction"]}),
    ("IBM/sarama", ("gomod", "github.com/IBM/sarama"), {
        "default produce": ["go_sarama_sync_producer", "go_sarama_async_producer"],
        "idempotent": ["go_sarama_idempotent"],
        "transactions": ["go_sarama_transactions"],
        "groups": ["go_sarama_consumer_group"],
        "admin": ["go_sarama_admin"],
        "compaction": "not tested with this client"}),
    ("segmentio/kafka-go", ("gomod", "github.com/segmentio/kafka-go"), {
        "default produce": ["go_kafka_go_writer_defaults", "go_kafka_go_writer_acks_all"],
        "idempotent": NONE,
        "transactions": NONE,
        "groups": ["go_kafka_go_group"],
        "admin": ["go_kafka_go_admin"],
        "compaction": "not tested with this client"}),
    ("confluent-kafka (PyPI)", ("pip", "confluent-kafka"), {
        "default produce": ["py_confluent_produce_defaults"],
        "idempotent": ["py_confluent_idempotent"],
        "transactions": ["py_confluent_transactions"],
        "groups": ["py_confluent_group", "py_confluent_cooperative_topic_deleted"],
        "admin": ["py_confluent_admin"],
        "compaction": ["py_confluent_compaction"]}),
    ("kafka-python (PyPI)", ("pip", "kafka-python"), {
        "default produce": ["py_kafka_python_produce_defaults",
                            "py_kafka_python_produce_not_idempotent"],
        "idempotent": ["py_kafka_python_produce_defaults"],
        "transactions": ["py_kafka_python_transactions"],
        "groups": ["py_kafka_python_group"],
        "admin": ["py_kafka_python_admin"],
        "compaction": ["py_kafka_python_compaction"]}),
]

BEGIN, END = "<!-- compat-table:begin -->", "<!-- compat-table:end -->"


def version(src):
    kind = src[0]
    if kind == "pom":
        text = open(os.path.join(REPO, src[1])).read()
        m = re.search(rf"<{re.escape(src[2])}>([^<]+)<", text)
        return m.group(1) if m else "?"
    if kind == "gomod":
        text = open(os.path.join(REPO, "tests/compat/go/go.mod")).read()
        m = re.search(rf"^\s*{re.escape(src[1])} (v\S+)", text, re.M)
        return m.group(1) if m else "?"
    text = open(os.path.join(REPO, "tests/compat/python/requirements.txt")).read()
    m = re.search(rf"^{re.escape(src[1])}==(\S+)", text, re.M)
    return m.group(1) if m else "?"


def load(build):
    results, when = {}, []
    for path in sorted(glob.glob(os.path.join(build, "compat", "results", "*.json"))):
        doc = json.load(open(path))
        when.append(doc.get("time", "?"))
        for r in doc["results"]:
            results[r["case"]] = (r["status"], r.get("detail", ""))
    return results, max(when) if when else None


def cell(cases, results, bad):
    if isinstance(cases, str):
        return cases
    got = [results.get(c) for c in cases]
    missing = [c for c, g in zip(cases, got) if g is None]
    failed = [c for c, g in zip(cases, got) if g and g[0] == "failed"]
    unsup = [g[1] for g in got if g and g[0] == "unsupported"]
    ok = [c for c, g in zip(cases, got) if g and g[0] == "ok"]
    bad.extend(failed + missing)
    if failed:
        return "**FAILED** (" + ", ".join(failed) + ")"
    if missing:
        return "not run (" + ", ".join(missing) + ")"
    if unsup:
        why = unsup[0]
        m = re.search(r"\((waits on issue \d+)[^)]*\)", why)
        what = re.search(r"advertise ([^(]+)", why)
        text = (f"unsupported: no {what.group(1).strip() if what else 'API'} yet, "
                f"{m.group(1) if m else why}")
        if not ok:
            return text
        later = [c for c, g in zip(cases, got) if g and g[0] == "unsupported"]
        return f"ok: {', '.join(ok)}; {', '.join(later)} {text}"
    return "ok"


def table(build):
    results, when = load(build)
    bad = []
    lines = [f"Last run: {when or 'never'} (`meson test -C build --suite compat`; "
             f"{sum(1 for s, _ in results.values() if s == 'ok')} cases ok, "
             f"{sum(1 for s, _ in results.values() if s == 'unsupported')} unsupported, "
             f"{sum(1 for s, _ in results.values() if s == 'failed')} failed).", "",
             "| client | version | " + " | ".join(FEATURES) + " |",
             "|---|---|" + "---|" * len(FEATURES)]
    for name, src, feats in CLIENTS:
        row = [name, version(src)] + [cell(feats[f], results, bad) for f in FEATURES]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n", bad, bool(results)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("SLUICE_BUILD") or
                    (os.path.dirname(os.environ["SLUICED"]) if os.environ.get("SLUICED")
                     else os.path.join(REPO, "build")))
    ap.add_argument("--readme")
    a = ap.parse_args()
    text, bad, any_results = table(a.build)
    print(text)
    os.makedirs(os.path.join(a.build, "compat"), exist_ok=True)
    with open(os.path.join(a.build, "compat", "table.md"), "w") as f:
        f.write(text)
    if a.readme:
        doc = open(a.readme).read()
        i, j = doc.find(BEGIN), doc.find(END)
        if i < 0 or j < i:
            print(f"report: {a.readme} has no {BEGIN} ... {END} markers", file=sys.stderr)
            return 1
        with open(a.readme, "w") as f:
            f.write(doc[:i + len(BEGIN)] + "\n" + text + doc[j:])
    print("[ RUN      ] compat_table")
    if bad or not any_results:
        print(f"    cases failed or not run: {', '.join(bad) or 'no results at all'}")
        print("[  FAILED  ] compat_table")
        return 1
    print("[       OK ] compat_table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
