#!/usr/bin/python3
"""Runs tests of librdkafka's own suite against sluiced.

    rdkafka_tests.py --tests 0077 [--quick] [--set key=value ...]
                     [--rf1 0103] [--conf key=value ...] [--serial]

The source is Debian's librdkafka source package of the installed
librdkafka (scripts/setup.sh fetches it into build-deps/librdkafka and runs
its configure for config.h; nothing is downloaded here). A runner is built
from the suite's framework (test.c, rusage.c, sockem.c, and the few
internal files its header uses: rdlist.c, tinycthread*.c), the chosen test
files, and stubs for every other test of the table, linked against the
installed librdkafka. It runs against a fresh broker: test.conf points
bootstrap.servers at it, TEST_KAFKA_VERSION=3.0.0 makes the framework create
topics with `kafka-topics.sh --bootstrap-server`, which KAFKA_PATH points at
tests/integration/kafka_path (a shim over the sluice CLI).

Adaptations to one broker, both opt-in: --rf1 compiles the named tests
with their test_create_topic() calls going through rdkafka_suite_shim.c,
which creates the topic with replication factor 1 (0103_transactions asks
for 3, as librdkafka's CI runs three brokers; one Kafka broker refuses that
factor as sluice does); the test logic is unchanged. --conf adds lines to
test.conf (test.timeout.multiplier=1: the framework's timeouts, which some
tests also wait out, are not stretched); --serial runs the runner with -p1
(the framework otherwise stretches every timeout by concurrency/3).

Each librdkafka test is one case (cmocka-style lines for count_tests.py); it
passes when the runner exits 0. It runs in librdkafka's own quick mode (-Q:
fewer variants, e.g. 0077 without the codec rounds) unless
SLUICE_IT_RDKAFKA_FULL=1.

Environment: SLUICED, SLUICE_CLI (meson sets them), RDKAFKA_SRC (default
<repo>/build-deps/librdkafka), RDKAFKA_RUNNER_DIR (default <repo>/build-deps).
"""

import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, log  # noqa: E402

SRC = os.environ.get("RDKAFKA_SRC", os.path.join(harness.REPO, "build-deps", "librdkafka"))
OUT = os.environ.get("RDKAFKA_RUNNER_DIR", os.path.join(harness.REPO, "build-deps"))
SHIM = os.path.join(harness.HERE, "kafka_path")


def cli():
    return os.path.abspath(os.environ.get("SLUICE_CLI") or
                           os.path.join(harness.REPO, "build", "cli", "sluice"))


def build_runner(tests, rf1=()):
    t = os.path.join(SRC, "tests")
    check(os.path.exists(os.path.join(t, "test.c")) and os.path.exists(os.path.join(SRC, "config.h")),
          f"librdkafka's source is not in {SRC}: run scripts/setup.sh")
    files = []
    for name in tests:
        match = [f for f in os.listdir(t) if f.startswith(name + "-") and f.endswith(".c")]
        check(len(match) == 1, f"librdkafka test {name}: {match}")
        files.append(match[0])
    with open(os.path.join(t, "test.c")) as f:
        decls = re.findall(r"^_TEST_DECL\((\w+)\);", f.read(), re.M)
    wanted = set()  # every main_* the chosen files define (0103 has two)
    for p in files:
        with open(os.path.join(t, p), errors="replace") as f:
            wanted |= set(re.findall(r"^int main_(\w+)\s*\(", f.read(), re.M))
    runner = os.path.abspath(os.path.join(OUT, "rdkafka-runner-" + "-".join(tests)))
    objs = []
    for name, f in zip(tests, files):
        if name in rf1:  # test_create_topic() with replication factor 1
            obj = f"{runner}-{name}.o"
            harness.run(["cc", "-O1", "-w", "-I../src", "-I..", "-c", "-o", obj,
                         "-Dtest_create_topic=sluice_rf1_create_topic", f], timeout=300, cwd=t)
            objs.append(obj)
    if objs:
        files = [f for name, f in zip(tests, files) if name not in rf1]
        objs.append(os.path.join(harness.HERE, "rdkafka_suite_shim.c"))
    stubs = runner + "-stubs.c"
    with open(stubs, "w") as f:
        for d in decls:
            if d not in wanted:
                f.write(f"int main_{d}(int argc, char **argv) {{ (void)argc; (void)argv; "
                        f"return 0; }}\n")
    # Compiled from the tests folder with relative names, as its Makefile
    # does: the tests name their topics after __FILE__.
    cmd = ["cc", "-O1", "-w", "-I../src", "-I..", "-o", runner, "test.c", "rusage.c",
           "sockem.c", stubs, "../src/rdlist.c", "../src/tinycthread.c",
           "../src/tinycthread_extra.c", "-I."] + files + objs + ["-lrdkafka", "-lpthread", "-lm"]
    harness.run(cmd, timeout=300, cwd=t)
    return runner


def make_case(tests, name, a, built):
    quick = a.quick

    def case(ctx):
        if "runner" not in built:
            built["runner"] = build_runner(tests, a.rf1)
        runner = built["runner"]
        b = ctx.broker
        work = os.path.join(b.workdir, "rdkafka-" + name)
        os.makedirs(work, exist_ok=True)
        with open(os.path.join(work, "test.conf"), "w") as f:
            f.write(f"bootstrap.servers={b.bootstrap}\n")
            for kv in a.conf:
                f.write(kv + "\n")
        env = dict(os.environ, TESTS=name, TEST_KAFKA_VERSION="3.0.0", BROKERS=b.bootstrap,
                   KAFKA_PATH=SHIM, SLUICE_CLI=cli(), TEST_LEVEL="2")
        argv = [runner] + (["-Q"] if quick else []) + (["-p1"] if a.serial else [])
        log(f"running librdkafka test {name}{' (quick)' if quick else ''} in {work}")
        p = subprocess.run(argv, cwd=work, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=900, preexec_fn=harness._die_with_parent)
        out = p.stdout.decode(errors="replace")
        with open(os.path.join(work, "runner.log"), "w") as f:
            f.write(out)
        tail = "\n".join(out.splitlines()[-40:])
        check(p.returncode == 0, f"librdkafka test {name} exited {p.returncode}:\n{tail}")
        check(re.search(r"PASSED|passed", out) is not None,
              f"librdkafka test {name}: no PASS in its output:\n{tail}")
        log("\n    ".join(re.sub(r"\x1b\[[0-9;]*m", "", ln) for ln in out.splitlines()
                         if re.search(r"PASS|SKIP|Compaction", ln))[:3000])
    case.__name__ = f"test_rdkafka_{name}"
    return case


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", required=True, help="comma-separated test numbers, e.g. 0077")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--rf1", type=lambda v: v.split(","), default=[],
                    help="tests whose topics get replication factor 1")
    ap.add_argument("--conf", action="append", default=[], help="a test.conf line")
    ap.add_argument("--serial", action="store_true", help="the runner's -p1")
    a = ap.parse_args()
    if os.environ.get("SLUICE_IT_RDKAFKA_FULL") != "1":
        a.quick = True  # CI: librdkafka's quick mode; SLUICE_IT_RDKAFKA_FULL=1 for all
    sets = dict(kv.split("=", 1) for kv in a.set)
    tests = a.tests.split(",")
    built = {}
    harness.main([make_case(tests, t, a, built) for t in tests], sets=sets,
                 test_timeout=900)


if __name__ == "__main__":
    main()
