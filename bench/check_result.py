#!/usr/bin/env python3
"""Runs a benchmark in its quick mode for CI and checks that it completed and
that its last line is a well-formed `RESULT key=value ...` line. Asserts
nothing about speed: CI only keeps the benchmarks from rotting."""
import re
import subprocess
import sys

RESULT = re.compile(r"^RESULT( [a-z0-9_]+=\S+)+$")


def main(argv):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stdout.write(proc.stdout)
    lines = [l for l in proc.stdout.splitlines() if l.strip()]
    if proc.returncode != 0:
        print(f"check_result: {argv[0]} exited {proc.returncode}")
        return 1
    if not lines or not RESULT.match(lines[-1]):
        print(f"check_result: last line is not a RESULT line: {lines[-1] if lines else '(none)'}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
