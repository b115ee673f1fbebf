#!/usr/bin/python3
"""The Java clients' cases (kafka-clients 4.x) against one sluiced.

    SLUICED=build/sluiced /usr/bin/python3 tests/compat/java/run_java.py

Compiles tests/compat/java/src with javac against the classpath the set-up
wrote (.deps/java/clients.classpath, from tests/compat/java/pom.xml) into
BUILD/compat/java/classes, then runs sluice.compat.Main with every case.
SLUICE_IT_FILTER=substr runs only matching cases."""

import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import compat  # noqa: E402
import harness  # noqa: E402

SRC = os.path.join(compat.HERE, "java", "src")


def classpath(name):
    path = os.path.join(compat.DEPS, "java", f"{name}.classpath")
    if not os.path.exists(path):
        harness.fail(f"{path} is missing: run scripts/setup.sh (it resolves the Java "
                     f"dependencies with Maven into {compat.DEPS})")
    with open(path) as f:
        cp = f.read().strip()
    for jar in cp.split(":"):
        harness.check(os.path.exists(jar), f"{jar} is missing: run scripts/setup.sh")
    return cp


def compile_sources(cp, out):
    """javac, only when a source is newer than the last build."""
    sources = sorted(glob.glob(os.path.join(SRC, "**", "*.java"), recursive=True))
    stamp = os.path.join(out, ".stamp")
    newest = max(os.path.getmtime(s) for s in sources + [os.path.abspath(__file__)])
    if os.path.exists(stamp) and os.path.getmtime(stamp) >= newest:
        return
    os.makedirs(out, exist_ok=True)
    harness.run(["javac", "-nowarn", "-encoding", "UTF-8", "-d", out, "-cp", cp] + sources,
                timeout=300)
    with open(stamp, "w"):
        pass


def run_script(name, script, prepare_env, timeout):
    """Runs the Python test tests/compat/java/<script> against one sluiced
    as the cases named name, with the environment prepare_env() returns
    (the classpaths the set-up resolved) added to its own."""
    env = {}

    def prepare():
        env.update(prepare_env())

    def program(e):
        e.update(env)
        return [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), script)]

    return compat.run_against_broker(name, program, timeout=timeout, prepare=prepare)


def main():
    out = os.path.join(compat.build_dir(), "compat", "java", "classes")
    state = {}

    def prepare():
        state["cp"] = classpath("clients")
        compile_sources(state["cp"], out)

    def program(env):
        return ["java", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dlog4j2.configurationFile=" + os.path.join(compat.HERE, "java", "log4j2.xml"),
                "-cp", state["cp"] + ":" + out, "sluice.compat.Main"]

    return compat.run_against_broker("java_clients", program, timeout=1200, prepare=prepare)


if __name__ == "__main__":
    sys.exit(main())
