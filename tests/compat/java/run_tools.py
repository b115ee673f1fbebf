#!/usr/bin/python3
"""Kafka's own command-line tools (kafka-tools 4.x) against one sluiced:
runs test_tools.py with the classpath the set-up resolved.

    SLUICED=build/sluiced /usr/bin/python3 tests/compat/java/run_tools.py"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import run_java  # noqa: E402


def main():
    return run_java.run_script(
        "kafka_tools", "test_tools.py",
        lambda: {"SLUICE_JAVA_CP": run_java.classpath("clients")}, timeout=1500)


if __name__ == "__main__":
    sys.exit(main())
