#!/usr/bin/python3
"""Kafka Streams 4.x against one sluiced: compiles StreamsApp.java (with
the rest of tests/compat/java/src) and runs test_streams.py.

    SLUICED=build/sluiced /usr/bin/python3 tests/compat/java/run_streams.py"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import compat  # noqa: E402
import run_java  # noqa: E402


def main():
    env = {}
    out = os.path.join(compat.build_dir(), "compat", "java", "classes")

    def prepare():
        env["SLUICE_JAVA_CP"] = run_java.classpath("clients")
        run_java.compile_sources(env["SLUICE_JAVA_CP"], out)
        env["SLUICE_STREAMS_CLASSES"] = out

    def program(e):
        e.update(env)
        return [sys.executable, os.path.join(HERE, "test_streams.py")]

    return compat.run_against_broker("kafka_streams", program, timeout=1800, prepare=prepare)


if __name__ == "__main__":
    sys.exit(main())
