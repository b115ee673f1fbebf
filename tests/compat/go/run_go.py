#!/usr/bin/python3
"""The Go clients' tests (franz-go, sarama, kafka-go) against one sluiced.

    SLUICED=build/sluiced /usr/bin/python3 tests/compat/go/run_go.py

Runs `go test -json` in tests/compat/go offline (GOFLAGS=-mod=readonly,
GOPROXY=off, the module cache scripts/setup_compat.sh filled in .deps/go)
and turns its events into cmocka lines: a test that passed is OK, one that
failed FAILED, one that stopped with "UNSUPPORTED: ..." (a broker feature
another issue is building) UNSUPPORTED; any other skip is a failure.
SLUICE_IT_FILTER=regexp runs only matching tests (go test -run)."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import compat  # noqa: E402
import harness  # noqa: E402

GO_DIR = os.path.join(compat.HERE, "go")


def case_name(test):
    """TestFranzProduceDefaults -> go_franz_produce_defaults."""
    return "go_" + re.sub(r"(?<!^)(?=[A-Z])", "_", test[len("Test"):]).lower()


def go_env():
    gomod = os.path.join(compat.DEPS, "go", "mod")
    harness.check(os.path.isdir(gomod), f"{gomod} is missing: run scripts/setup.sh")
    return {"GOMODCACHE": gomod, "GOCACHE": os.path.join(compat.DEPS, "go", "cache"),
            "GOFLAGS": "-mod=readonly", "GOPROXY": "off", "GOTOOLCHAIN": "local"}


class GoEvents:
    """Reads go test -json on a pipe, prints cmocka lines."""

    def __init__(self):
        self.unsupported = {}

    def line(self, raw):
        try:
            ev = json.loads(raw)
        except ValueError:
            return f"    {raw}"
        test, action = ev.get("Test"), ev.get("Action")
        if not test or "/" in test:
            out = ev.get("Output", "").rstrip("\n")
            return f"    {out}" if out and action == "output" else None
        name = case_name(test)
        if action == "run":
            return f"[ RUN      ] {name}"
        if action == "output":
            out = ev["Output"].rstrip("\n")
            if "UNSUPPORTED:" in out:
                self.unsupported[test] = out.split("UNSUPPORTED:", 1)[1].strip()
            if out.startswith(("=== RUN", "--- PASS", "--- FAIL", "--- SKIP")):
                return None
            return f"    {out}"
        elapsed = f" ({ev.get('Elapsed', 0):.1f}s)"
        if action == "pass":
            return f"[       OK ] {name}{elapsed}"
        if action == "fail":
            return f"[  FAILED  ] {name}{elapsed}"
        if action == "skip":
            if test in self.unsupported:
                return f"[ UNSUPPORTED ] {name}: {self.unsupported[test]}"
            return f"    skipped without saying UNSUPPORTED: a failure\n[  FAILED  ] {name}"
        return None


def main():
    env_extra = {}

    def prepare():
        env_extra.update(go_env())

    def program(env):
        env.update(env_extra)
        flt = os.environ.get("SLUICE_IT_FILTER")
        cmd = ["go", "test", "-json", "-count=1", "-timeout", "600s", "-p", "1"]
        if flt:
            cmd += ["-run", flt]
        # go test -json | this script's own translator (a child: killed with us)
        return [sys.executable, os.path.abspath(__file__), "--translate", "--"] + cmd

    return compat.run_against_broker("go_clients", program, timeout=900, prepare=prepare)


def translate(cmd):
    """Child mode: runs go test -json in GO_DIR, prints cmocka lines."""
    import subprocess
    p = subprocess.Popen(cmd, cwd=GO_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ev = GoEvents()
    for raw in iter(p.stdout.readline, b""):
        out = ev.line(raw.decode(errors="replace").rstrip("\n"))
        if out is not None:
            print(out, flush=True)
    return p.wait()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--translate":
        sys.exit(translate(sys.argv[3:]))
    sys.exit(main())
