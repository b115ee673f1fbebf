#!/usr/bin/env python3
"""Counts the test cases in meson test logs and prints 'N passed, N failed'.

A cmocka program counts once per test case ([       OK ] / [  FAILED  ]
lines in its output); any other test (integration scripts that print no
such lines) counts once by its meson result. A program that failed without
printing a failed case (a crash, a sanitizer report) counts one failure more.
A compat case reported "[ UNSUPPORTED ] name: why" (a broker feature
another issue is building; tests/compat/README.md) is neither: the line
before the last lists them, so that they are never silent."""
import json
import re
import sys

OK = re.compile(r"^\[       OK \] (\S+)", re.M)
# cmocka lists each failed case twice (when it fails and in the summary).
FAILED = re.compile(r"^\[  FAILED  \] (?!\d+ test)(\S+)", re.M)
UNSUPPORTED = re.compile(r"^\[ UNSUPPORTED \] (\S+?):", re.M)


def main(paths):
    passed = failed = 0
    unsupported = []
    for path in paths:
        try:
            lines = open(path).read().splitlines()
        except OSError as e:
            print(f"count_tests: {path}: {e}", file=sys.stderr)
            failed += 1
            continue
        for line in lines:
            t = json.loads(line)
            out = t.get("stdout") or ""
            ok = len(set(OK.findall(out)))
            bad = len(set(FAILED.findall(out)))
            unsupported += sorted(set(UNSUPPORTED.findall(out)))
            good_run = t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
            if ok + bad == 0:
                passed += good_run
                failed += not good_run
                continue
            passed += ok
            failed += bad
            if not good_run and bad == 0:
                failed += 1
    if unsupported:
        print(f"{len(unsupported)} unsupported (waiting on a broker feature, not counted): "
              f"{', '.join(unsupported)}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
