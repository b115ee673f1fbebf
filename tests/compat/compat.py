"""What the compatibility suite's drivers share (tests/compat/*/run_*.py).

A driver starts one sluiced (tests/integration/harness.py's Broker), asks it
which APIs it advertises, runs a client program against it with
SLUICE_BOOTSTRAP and SLUICE_APIS set, relays the program's cmocka lines,
adds `<suite>_broker_alive` and `<suite>_clean_shutdown`, and records every
case's result in BUILD/compat/results/<suite>.json for the README's table
(tests/compat/report.py). A program is stopped by the driver that started
it (process group SIGKILL), also on failure or timeout.

Nothing is downloaded here: the clients come from scripts/setup_compat.sh
(.deps/ under the repository). A missing dependency is a failed case that
says to run the set-up, never a skip.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import harness  # noqa: E402
import kwire  # noqa: E402

DEPS = os.environ.get("SLUICE_DEPS") or os.path.join(REPO, ".deps")
RESULT_RE = re.compile(r"^\[(       OK |  FAILED  | UNSUPPORTED )\] (\S+?)(?::? (.*))?$")


def build_dir():
    """Where drivers put compiled classes and results: the meson build dir
    of the broker under test."""
    sluiced = harness.sluiced_path()
    return os.path.dirname(os.path.abspath(sluiced))


def advertised_apis(bootstrap):
    host, port = bootstrap.rsplit(":", 1)
    with kwire.Conn(host, int(port)) as c:
        err, apis = kwire.parse_api_versions_v0(c.call(kwire.API_API_VERSIONS, 0, b"", 1))
    harness.check(err == 0, f"ApiVersions error {err}")
    return apis


def say(line):
    print(line, flush=True)


class Suite:
    """One driver run: cases it reports itself plus the program's."""

    def __init__(self, name):
        self.name = name
        self.results = []          # (case, status, detail)
        self.ok = True

    def case(self, case, fn):
        """Runs fn() as a case of the driver's own."""
        say(f"[ RUN      ] {case}")
        try:
            fn()
        except harness.TestFailure as e:
            for line in str(e).splitlines():
                say(f"    {line}")
            self.fail(case, str(e).splitlines()[0] if str(e) else "")
            return False
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            import traceback
            for line in traceback.format_exc().splitlines():
                say(f"    {line}")
            self.fail(case, repr(e))
            return False
        say(f"[       OK ] {case}")
        self.results.append((case, "ok", ""))
        return True

    def fail(self, case, detail):
        say(f"[  FAILED  ] {case}")
        self.results.append((case, "failed", detail))
        self.ok = False

    def relay(self, cmd, env, timeout, cwd=None):
        """Runs a program that prints cmocka lines; relays and records them.
        Returns its exit code (-9 when killed at the timeout)."""
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=harness._die_with_parent)
        last_fail = {}

        def pump():
            for raw in iter(proc.stdout.readline, b""):
                line = raw.decode(errors="replace").rstrip("\n")
                say(line)
                m = RESULT_RE.match(line)
                if not m or "test(s)" in line:
                    continue
                status = {"       OK ": "ok", "  FAILED  ": "failed",
                          " UNSUPPORTED ": "unsupported"}[m.group(1)]
                case = m.group(2)
                if status == "failed":
                    if case in last_fail:
                        continue        # the summary lists it again
                    last_fail[case] = True
                    self.ok = False
                self.results.append((case, status, (m.group(3) or "").strip()))

        t = threading.Thread(target=pump, daemon=True)
        t.start()
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            say(f"    {cmd[0]}: killed after {timeout:.0f}s")
            rc = -9
        finally:
            kill_group(proc)
        t.join(timeout=10)
        if rc != 0:
            self.ok = False
        return rc

    def write_results(self, extra=None):
        out = os.path.join(build_dir(), "compat", "results")
        os.makedirs(out, exist_ok=True)
        doc = {"suite": self.name, "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "results": [{"case": c, "status": s, "detail": d} for c, s, d in self.results]}
        doc.update(extra or {})
        with open(os.path.join(out, f"{self.name}.json"), "w") as f:
            json.dump(doc, f, indent=1)


def kill_group(proc):
    """SIGKILLs the program and everything it started (its own session)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass


def run_against_broker(suite_name, program, timeout, sets=None, shards=2, prepare=None,
                       extra_env=None):
    """The whole driver: start a broker, run program (argv list, or a
    callable(env) -> argv), finish with the broker's own cases. Exits."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    suite = Suite(suite_name)
    if prepare is not None and not suite.case(f"{suite_name}_prepare", prepare):
        suite.write_results()
        return 1
    broker = harness.Broker(suite_name, shards=shards, sets=sets or {})
    try:
        if not suite.case(f"{suite_name}_broker_start", broker.start):
            return 1
        apis = advertised_apis(broker.bootstrap)
        env = dict(os.environ, SLUICE_BOOTSTRAP=broker.bootstrap,
                   SLUICE_APIS=",".join(str(k) for k in sorted(apis)))
        env.update(extra_env or {})
        argv = program(env) if callable(program) else program
        rc = suite.relay(argv, env, timeout)
        if rc != 0:
            say(f"    {suite_name}: the program exited with {rc}")
            say(broker.tail())

        def alive():
            harness.check(broker.alive(), f"broker exited with "
                          f"{harness.describe_rc(broker.exit_code())}\n{broker.tail()}")
        suite.case(f"{suite_name}_broker_alive", alive)
        if broker.alive():
            suite.case(f"{suite_name}_clean_shutdown", broker.stop)
    finally:
        broker.cleanup(keep=not suite.ok)
        suite.write_results()
    return 0 if suite.ok else 1


# ---------------------------------------------------------------------------
# Cases run inside a client program (tests/compat/python/test_pypi.py)


class Unsupported(Exception):
    """A broker feature another issue is building; see require_apis."""


def require_apis(waits_on, *apis):
    """Raises Unsupported unless the broker advertises every API
    ("22:InitProducerId"), from SLUICE_APIS (the driver sets it)."""
    have = {int(k) for k in os.environ.get("SLUICE_APIS", "").split(",") if k.strip()}
    missing = [a.split(":", 1)[1] for a in apis if int(a.split(":", 1)[0]) not in have]
    if missing:
        raise Unsupported(f"the broker does not advertise {', '.join(missing)} ({waits_on})")


EOS = "waits on issue 10, exactly-once"
COMPACT = "waits on issue 11, compaction and DeleteRecords"


def run_cases(cases, budget=300):
    """Runs case functions (no argument) with cmocka lines; a case raising
    Unsupported is reported as such. Exits 0 unless a case failed."""
    import traceback
    flt = os.environ.get("SLUICE_IT_FILTER")
    cases = [c for c in cases if not flt or flt in c.__name__]
    failed = []
    say(f"[==========] Running {len(cases)} test(s).")
    for c in cases:
        name = c.__name__.removeprefix("test_")
        say(f"[ RUN      ] {name}")
        t0 = time.monotonic()
        timer = threading.Timer(getattr(c, "timeout", budget), lambda n=name: (
            say(f"    {n}: over its time budget"), say(f"[  FAILED  ] {n}"), os._exit(1)))
        timer.daemon = True
        timer.start()
        try:
            c()
        except Unsupported as e:
            say(f"    {e}")
            say(f"[ UNSUPPORTED ] {name}: {e}")
            continue
        except Exception:  # noqa: BLE001 - reported
            for line in traceback.format_exc().rstrip().splitlines():
                say(f"    {line}")
            say(f"[  FAILED  ] {name} ({time.monotonic() - t0:.1f}s)")
            failed.append(name)
            continue
        finally:
            timer.cancel()
        say(f"[       OK ] {name} ({time.monotonic() - t0:.1f}s)")
    say(f"[==========] {len(cases)} test(s) run.")
    return 1 if failed else 0
