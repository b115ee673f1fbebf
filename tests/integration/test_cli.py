#!/usr/bin/python3
"""The `sluice` admin CLI (cli/) against a real broker.

    SLUICED=build/sluiced SLUICE_CLI=build/cli/sluice /usr/bin/python3 tests/integration/test_cli.py

topics create/list/describe/alter/delete (tables and --json), the broker's
error names and exit codes, a produce + consume round trip through the CLI,
and groups list/describe/delete once the broker has consumer groups
(SKIPPED while its ApiVersions lacks the group APIs)."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect_eq, log  # noqa: E402
import skipping  # noqa: E402


def cli_path():
    path = os.environ.get("SLUICE_CLI") or os.path.join(harness.REPO, "build", "cli", "sluice")
    if not os.access(path, os.X_OK):
        harness.fail(f"CLI binary not found or not executable: {path} (set SLUICE_CLI)")
    return path


def sluice(ctx, *args, input=None, rc=0, timeout=60):
    """Runs the CLI against the shared broker; checks the exit code."""
    p = harness.run([cli_path(), "-b", ctx.bootstrap, *args], input=input, timeout=timeout,
                    check_rc=False)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    if rc is not None and p.returncode != rc:
        harness.fail(f"sluice {' '.join(args)}: exit {p.returncode}, expected {rc}\n"
                     f"stdout: {out[-2000:]}\nstderr: {err[-2000:]}")
    return out, err


def sluice_json(ctx, *args, **kw):
    out, _ = sluice(ctx, "--json", *args, **kw)
    try:
        return json.loads(out)
    except ValueError as e:
        harness.fail(f"sluice --json {' '.join(args)}: not JSON ({e}): {out[:2000]}")


def test_cli_usage(ctx):
    _, err = sluice(ctx, "frobnicate", rc=2)
    check("unknown command" in err, f"usage error message: {err}")
    sluice(ctx, "topics", "create", rc=2)
    sluice(ctx, "topics", "create", "x", "--partitions", "zero", rc=2)
    sluice(ctx, "consume", rc=2)
    out, _ = sluice(ctx, "--help")
    check("topics create" in out and "groups describe" in out, "help text")


def test_cli_topics_create_list(ctx):
    out, _ = sluice(ctx, "topics", "create", "cli-a", "--partitions", "3")
    check("cli-a" in out, f"create output: {out}")
    got = sluice_json(ctx, "topics", "create", "cli-b", "--partitions", "2",
                      "--config", "retention.ms=3600000")
    expect_eq(got, {"created": "cli-b", "partitions": 2}, "create --json")
    _, err = sluice(ctx, "topics", "create", "cli-a", "--partitions", "3", rc=1)
    check("TOPIC_ALREADY_EXISTS" in err, f"duplicate create error: {err}")
    listed = {t["name"]: t for t in sluice_json(ctx, "topics", "list")["topics"]}
    expect_eq(listed["cli-a"]["partitions"], 3, "cli-a partitions in list --json")
    expect_eq(listed["cli-b"]["partitions"], 2, "cli-b partitions in list --json")
    out, _ = sluice(ctx, "topics", "list")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    expect_eq(out.splitlines()[0].split(), ["TOPIC", "PARTITIONS", "REPLICATION"], "list header")
    expect_eq(rows.get("cli-a", [None])[0], "3", "cli-a row of the table")


def test_cli_produce_consume(ctx):
    sluice(ctx, "topics", "create", "cli-io", "--partitions", "3")
    n = 500
    lines = [f"k{i}:value {i} \"quoted\" \\ tab\there" for i in range(n)]
    out, _ = sluice(ctx, "produce", "cli-io", "-K:", input=("\n".join(lines) + "\n").encode())
    check(f"Produced {n} record" in out, f"produce output: {out}")
    got = sluice_json(ctx, "produce", "cli-io", input=b"plain-1\nplain-2\n")
    expect_eq(got, {"topic": "cli-io", "produced": 2, "failed": 0}, "produce --json")

    out, _ = sluice(ctx, "consume", "cli-io", "--from-beginning", "-e", "-K:")
    got = out.splitlines()
    expect_eq(sorted(got), sorted(lines + [":plain-1", ":plain-2"]), "consume -e -K: lines")

    out, _ = sluice(ctx, "--json", "consume", "cli-io", "--from-beginning", "-e")
    recs = [json.loads(x) for x in out.splitlines()]
    expect_eq(len(recs), n + 2, "consume --json records")
    by_key = {r["key"]: r for r in recs}
    expect_eq(by_key["k7"]["value"], 'value 7 "quoted" \\ tab\there', "value of k7 via json")
    expect_eq(sum(r["key"] is None for r in recs), 2, "records without a key")
    per_part = {}
    for r in recs:
        per_part.setdefault(r["partition"], []).append(r["offset"])
    for p, offs in per_part.items():
        expect_eq(offs, list(range(len(offs))), f"offsets of partition {p} in order")

    out, _ = sluice(ctx, "consume", "cli-io", "--from-beginning", "-n", "5")
    expect_eq(len(out.splitlines()), 5, "consume -n 5")
    out, _ = sluice(ctx, "consume", "cli-io", "--from-beginning", "-e", "-p", "1")
    expect_eq(len(out.splitlines()), len(per_part.get(1, [])), "consume -p 1 count")


def test_cli_topics_describe(ctx):
    sluice(ctx, "topics", "create", "cli-d", "--partitions", "4", "--config", "retention.ms=7200000")
    sluice(ctx, "produce", "cli-d", "-p", "2", input=b"a\nb\nc\n")
    d = sluice_json(ctx, "topics", "describe", "cli-d")
    expect_eq(d["topic"], "cli-d", "describe topic name")
    expect_eq([p["partition"] for p in d["partitions"]], [0, 1, 2, 3], "partitions")
    for p in d["partitions"]:
        expect_eq(p["earliest"], 0, f"partition {p['partition']} earliest")
        expect_eq(p["latest"], 3 if p["partition"] == 2 else 0, f"partition {p['partition']} latest")
        check(p["leader"] >= 0, f"partition {p['partition']} has a leader")
    expect_eq(d["configs"]["retention.ms"]["value"], "7200000", "retention.ms config")
    expect_eq(d["configs"]["retention.ms"]["source"], "topic", "retention.ms source")
    out, _ = sluice(ctx, "topics", "describe", "cli-d")
    check("PARTITION" in out and "LATEST" in out and "retention.ms" in out, f"describe table: {out}")
    _, err = sluice(ctx, "topics", "describe", "cli-nosuch", rc=1)
    check("UNKNOWN_TOPIC_OR_PART" in err, f"describe of a missing topic: {err}")
    names = {t["name"] for t in sluice_json(ctx, "topics", "list")["topics"]}
    check("cli-nosuch" not in names, "describe must not auto-create the topic")


def test_cli_topics_alter(ctx):
    sluice(ctx, "topics", "create", "cli-alt", "--partitions", "1", "--config", "retention.ms=3600000")
    got = sluice_json(ctx, "topics", "alter", "cli-alt", "--config", "segment.ms=600000")
    expect_eq(got["set"], {"segment.ms": "600000"}, "alter --json set")
    cfg = sluice_json(ctx, "topics", "describe", "cli-alt")["configs"]
    expect_eq(cfg["segment.ms"]["value"], "600000", "segment.ms after alter")
    # AlterConfigs replaces the whole set: the CLI must carry the others over
    expect_eq(cfg["retention.ms"]["value"], "3600000", "retention.ms kept across alter")
    sluice(ctx, "topics", "alter", "cli-alt", "--delete-config", "retention.ms")
    cfg = sluice_json(ctx, "topics", "describe", "cli-alt")["configs"]
    check(cfg["retention.ms"]["source"] != "topic", f"retention.ms back to default: {cfg['retention.ms']}")
    expect_eq(cfg["segment.ms"]["value"], "600000", "segment.ms kept across delete-config")
    _, err = sluice(ctx, "topics", "alter", "cli-alt", "--config", "no.such.key=1", rc=1)
    check("INVALID_CONFIG" in err, f"alter with an unknown key: {err}")
    _, err = sluice(ctx, "topics", "alter", "cli-nosuch-alt", "--config", "retention.ms=1", rc=1)
    check("UNKNOWN_TOPIC_OR_PART" in err, f"alter of a missing topic: {err}")


def test_cli_topics_delete(ctx):
    sluice(ctx, "topics", "create", "cli-del1", "--partitions", "1")
    sluice(ctx, "topics", "create", "cli-del2", "--partitions", "1")
    got = sluice_json(ctx, "topics", "delete", "cli-del1", "cli-del2")
    expect_eq(sorted(got["deleted"]), ["cli-del1", "cli-del2"], "delete --json")
    names = {t["name"] for t in sluice_json(ctx, "topics", "list")["topics"]}
    check(not names & {"cli-del1", "cli-del2"}, f"deleted topics still listed: {names}")
    _, err = sluice(ctx, "topics", "delete", "cli-del1", rc=1)
    check("UNKNOWN_TOPIC_OR_PART" in err, f"deleting a missing topic: {err}")


def test_cli_unreachable(ctx):
    p = harness.run([cli_path(), "-b", "127.0.0.1:1", "--timeout", "2000", "topics", "list"],
                    timeout=60, check_rc=False)
    expect_eq(p.returncode, 1, "exit code with no broker")
    check(b"_TRANSPORT" in p.stderr or b"_TIMED_OUT" in p.stderr,
          f"error names the failure: {p.stderr[-500:]}")


def test_cli_groups(ctx):
    skipping.require_apis(ctx.bootstrap, {**skipping.GROUP_APIS, **skipping.ADMIN_GROUP_APIS})
    sluice(ctx, "topics", "create", "cli-grp", "--partitions", "3")
    for p in range(3):  # explicit partitions: keyless records are sticky-partitioned
        sluice(ctx, "produce", "cli-grp", "-p", str(p),
               input=("".join(f"m{i}\n" for i in range(p * 10, p * 10 + 10))).encode())
    # a group consumer reads 30 records and commits them as it closes
    out, _ = sluice(ctx, "consume", "cli-grp", "-g", "cli-g1", "--from-beginning", "-n", "30",
                    timeout=120)
    expect_eq(sorted(out.splitlines()), sorted(f"m{i}" for i in range(30)), "group consume")
    sluice(ctx, "produce", "cli-grp", "-p", "0", input=b"late-1\n")
    sluice(ctx, "produce", "cli-grp", "-p", "2", input=b"late-2\n")

    groups = {g["group"]: g for g in sluice_json(ctx, "groups", "list")["groups"]}
    check("cli-g1" in groups, f"groups list: {groups}")
    check(not groups["cli-g1"]["simple"], "cli-g1 is a consumer group")
    out, _ = sluice(ctx, "groups", "list")
    check("cli-g1" in out, f"groups list table: {out}")

    d = sluice_json(ctx, "groups", "describe", "cli-g1")
    expect_eq(d["group"], "cli-g1", "describe group name")
    expect_eq(d["members"], [], "no members once the consumer left")
    offs = {(o["topic"], o["partition"]): o for o in d["offsets"]}
    expect_eq(sorted(offs), [("cli-grp", p) for p in range(3)], "partitions with offsets")
    expect_eq([offs[("cli-grp", p)]["committed"] for p in range(3)], [10, 10, 10],
              "committed offsets")
    expect_eq([offs[("cli-grp", p)]["log_end"] for p in range(3)], [11, 10, 11], "log end offsets")
    expect_eq([offs[("cli-grp", p)]["lag"] for p in range(3)], [1, 0, 1], "lag per partition")
    for o in offs.values():
        expect_eq(o["lag"], o["log_end"] - o["committed"], f"lag of {o['partition']}")
    out, _ = sluice(ctx, "groups", "describe", "cli-g1")
    check("COMMITTED" in out and "LAG" in out, f"describe table: {out}")

    _, err = sluice(ctx, "groups", "describe", "cli-no-such-group", rc=1)
    check("GROUP_ID_NOT_FOUND" in err or "does not exist" in err, f"missing group: {err}")
    got = sluice_json(ctx, "groups", "delete", "cli-g1")
    expect_eq(got["deleted"], ["cli-g1"], "groups delete --json")
    groups = {g["group"] for g in sluice_json(ctx, "groups", "list")["groups"]}
    check("cli-g1" not in groups, f"deleted group still listed: {groups}")
    log("groups list/describe/delete verified")


if __name__ == "__main__":
    skipping.main([test_cli_usage, test_cli_topics_create_list, test_cli_produce_consume,
                   test_cli_topics_describe, test_cli_topics_alter, test_cli_topics_delete,
                   test_cli_unreachable, test_cli_groups])
