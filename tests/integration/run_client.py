#!/usr/bin/python3
"""Runs a client test program (C, node...) against a fresh sluiced.

    run_client.py [--shards N] [--set key=value]... [--timeout S] -- PROGRAM ARGS...

Starts the broker (harness.Broker), runs PROGRAM with SLUICE_BOOTSTRAP set to
the bootstrap address, relays its output (the program prints its own cmocka
lines), then adds two cases of its own: `<name>_broker_alive` and
`<name>_clean_shutdown` (SIGTERM, exit 0). On failure the broker log tail is
printed. Exits 0 only if the program and both cases passed.

SLUICE_CLIENT_DIR, when set, is where PROGRAM is taken from (its file name
kept): the ThreadSanitizer pass runs its broker against the release build's
client programs, since TSan and the programs that load librdkafka do not
mix (scripts/test_robust.sh)."""

import argparse
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", type=int, default=harness.DEFAULT_SHARDS)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--timeout", type=float, default=480)
    ap.add_argument("--name", default=None)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no program given")
    if os.environ.get("SLUICE_CLIENT_DIR") and not cmd[0].endswith("node"):
        cmd[0] = os.path.join(os.environ["SLUICE_CLIENT_DIR"], os.path.basename(cmd[0]))
    name = a.name or os.path.splitext(os.path.basename(cmd[-1] if cmd[0].endswith("node") else cmd[0]))[0]
    sets = dict(kv.split("=", 1) for kv in a.set)
    signal_exit = lambda *_: sys.exit(143)  # noqa: E731
    import signal
    signal.signal(signal.SIGTERM, signal_exit)

    broker = harness.Broker(name, shards=a.shards, sets=sets)
    ok = True
    try:
        try:
            broker.start()
        except harness.TestFailure as e:
            print(f"[ RUN      ] {name}_broker_start\n    {e}\n[  FAILED  ] {name}_broker_start",
                  flush=True)
            return 1
        env = dict(os.environ, SLUICE_BOOTSTRAP=broker.bootstrap)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                preexec_fn=harness._die_with_parent)
        out_lines = []

        def pump():
            for raw in iter(proc.stdout.readline, b""):
                line = raw.decode(errors="replace")
                out_lines.append(line)
                sys.stdout.write(line)
                sys.stdout.flush()

        t = threading.Thread(target=pump, daemon=True)
        t.start()
        try:
            rc = proc.wait(timeout=a.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait(timeout=30)
            print(f"    {name}: killed after {a.timeout:.0f}s", flush=True)
            rc = rc or -9
        t.join(timeout=10)
        if rc != 0:
            ok = False
            print(f"    {name} exited with {rc}", flush=True)
            print(broker.tail(), flush=True)

        print(f"[ RUN      ] {name}_broker_alive", flush=True)
        if broker.alive():
            print(f"[       OK ] {name}_broker_alive", flush=True)
        else:
            ok = False
            print(f"    broker exited with {harness.describe_rc(broker.exit_code())} during the client run\n"
                  f"{broker.tail()}\n[  FAILED  ] {name}_broker_alive", flush=True)

        print(f"[ RUN      ] {name}_clean_shutdown", flush=True)
        if broker.alive():
            try:
                broker.stop()
                print(f"[       OK ] {name}_clean_shutdown", flush=True)
            except harness.TestFailure as e:
                ok = False
                print(f"    {e}\n[  FAILED  ] {name}_clean_shutdown", flush=True)
        else:
            ok = False
            print(f"    broker not running\n[  FAILED  ] {name}_clean_shutdown", flush=True)
    finally:
        broker.cleanup(keep=not ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
