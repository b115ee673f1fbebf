#!/usr/bin/python3
"""Kafka Connect (connect-runtime, connect-file 4.x) against one sluiced:
runs test_connect.py with the classpaths the set-up resolved.

    SLUICED=build/sluiced /usr/bin/python3 tests/compat/java/run_connect.py"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import run_java  # noqa: E402


def main():
    return run_java.run_script(
        "kafka_connect", "test_connect.py",
        lambda: {"SLUICE_CONNECT_CP": run_java.classpath("connect"),
                 "SLUICE_JAVA_CP": run_java.classpath("clients")},  # kafka-configs, the consumer
        timeout=1500)


if __name__ == "__main__":
    sys.exit(main())
