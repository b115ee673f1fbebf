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
    out = os.path.join(compat.build_dir(), "compat", "java", "classes")

    def prepare_env():
        cp = run_java.classpath("clients")
        run_java.compile_sources(cp, out)
        return {"SLUICE_JAVA_CP": cp, "SLUICE_STREAMS_CLASSES": out}

    return run_java.run_script("kafka_streams", "test_streams.py", prepare_env, timeout=1800)


if __name__ == "__main__":
    sys.exit(main())
