#!/usr/bin/python3
"""The newest confluent-kafka and kafka-python (PyPI, tests/compat/python/
requirements.txt, in .deps/venv) against one sluiced: runs test_pypi.py in
the virtual environment scripts/setup_compat.sh made.

    SLUICED=build/sluiced /usr/bin/python3 tests/compat/python/run_python.py"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import compat  # noqa: E402
import harness  # noqa: E402


def main():
    py = os.path.join(compat.DEPS, "venv", "bin", "python")

    def prepare():
        harness.check(os.path.exists(os.path.join(compat.DEPS, "venv", ".ready")),
                      f"{compat.DEPS}/venv is missing: run scripts/setup.sh")

    argv = [py, os.path.join(compat.HERE, "python", "test_pypi.py")]
    return compat.run_against_broker("py_clients", argv, timeout=900, prepare=prepare)


if __name__ == "__main__":
    sys.exit(main())
