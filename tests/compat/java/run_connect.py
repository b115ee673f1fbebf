#!/usr/bin/python3
"""Kafka Connect (connect-runtime, connect-file 4.x) against one sluiced:
runs test_connect.py with the classpaths the set-up resolved.

    SLUICED=build/sluiced /usr/bin/python3 tests/compat/java/run_connect.py"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import compat  # noqa: E402
import run_java  # noqa: E402


def main():
    env = {}

    def prepare():
        env["SLUICE_CONNECT_CP"] = run_java.classpath("connect")
        env["SLUICE_JAVA_CP"] = run_java.classpath("clients")   # kafka-configs, the consumer

    def program(e):
        e.update(env)
        return [sys.executable, os.path.join(HERE, "test_connect.py")]

    return compat.run_against_broker("kafka_connect", program, timeout=1500, prepare=prepare)


if __name__ == "__main__":
    sys.exit(main())
