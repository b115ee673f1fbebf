"""Integration-test harness: runs the real `sluiced` binary and real Kafka clients.

Standard library only. Run the tests with Debian's /usr/bin/python3 (it has
python3-kafka and python3-confluent-kafka; a pyenv python3 does not).

The broker contract used here:
    sluiced --data-dir DIR --listen 127.0.0.1:0 [--shards N] [--set key=value ...]
prints on stderr, once ready,  `sluiced: ready bootstrap=127.0.0.1:<port> shards=<n>`;
SIGTERM is a clean shutdown that exits 0.

Rules kept everywhere: every wait has a timeout, every loop is bounded, and
nothing sleeps to synchronise (we wait on the ready line, on process exit, on
client events; `wait_until` polls a condition only where no event exists).

The runner prints cmocka-compatible lines ([ RUN      ] / [       OK ] /
[  FAILED  ]) that scripts/count_tests.py counts, and exits 1 on any failure.

Environment:
    SLUICED            path of the broker binary (meson sets it); default
                       <repo>/build/sluiced
    SLUICE_IT_KEEP=1   keep every temporary data dir (failed ones are always kept)
    SLUICE_IT_FILTER   only run tests whose name contains this substring
"""

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Extra " key=value" fields after shards= are tolerated.
READY_RE = re.compile(r"^sluiced: ready bootstrap=(\S+) shards=(\d+)(?:\s.*)?$")
# The same lines with sluice.log.format=logfmt.
READY_LOGFMT_RE = re.compile(r'^ts=\S+ level=info comp=sluiced msg="ready" bootstrap=(\S+) '
                             r'shards=(\d+)(?:\s.*)?$')
HTTP_LOGFMT_RE = re.compile(r'^ts=\S+ level=info comp=sluiced msg="http listening on (\S+)" '
                            r'port=(\d+)')
# Printed before the ready line when sluice.http.listen is set.
HTTP_RE = re.compile(r"^sluiced: http listening on (\S+) port=(\d+)")
# One per listener, before the ready line: its name, protocol and shard 0's address.
LISTENER_RE = re.compile(r"^sluiced: listener name=(\S+) protocol=(\S+) bootstrap=(\S+)")
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
DEFAULT_SHARDS = 2
LOG_TAIL_LINES = 60


class TestFailure(AssertionError):
    pass


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def expect_eq(got, expected, what):
    if got != expected:
        raise TestFailure(f"{what}: expected {_short(expected)}, got {_short(got)}")


def _short(v, limit=300):
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + f"... ({len(s)} chars)"


def describe_rc(rc):
    """-11 -> '-11 (SIGSEGV)'."""
    if rc is not None and rc < 0:
        try:
            return f"{rc} ({signal.Signals(-rc).name})"
        except ValueError:
            pass
    return str(rc)


def log(msg):
    print(f"    {msg}", flush=True)


def wait_until(cond, timeout, what, interval=0.05):
    """Polls cond() until it returns a truthy value (returned) or timeout (fails).
    Only for conditions that offer no event to wait on."""
    deadline = time.monotonic() + timeout
    max_rounds = int(timeout / interval) + 2
    for _ in range(max_rounds):
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    fail(f"timed out after {timeout:.0f}s waiting for {what}")


# ---------------------------------------------------------------------------
# Child processes die with us (PR_SET_PDEATHSIG), so a harness killed by a
# meson timeout never leaves a broker or a kcat behind.

_libc = None


def _die_with_parent():
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def run(cmd, input=None, timeout=120, check_rc=True, env=None, cwd=None):
    """Runs a command, returns CompletedProcess (bytes). Fails on timeout or,
    with check_rc, on a non-zero exit, showing the command's stderr."""
    try:
        p = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, env=env, cwd=cwd, preexec_fn=_die_with_parent)
    except subprocess.TimeoutExpired as e:
        err = (e.stderr or b"")[-3000:].decode(errors="replace")
        fail(f"command timed out after {timeout}s: {' '.join(map(str, cmd))}\n{err}")
    if check_rc and p.returncode != 0:
        fail(f"command exited {p.returncode}: {' '.join(map(str, cmd))}\n"
             f"{p.stderr[-3000:].decode(errors='replace')}")
    return p


# ---------------------------------------------------------------------------
# The broker


KEEP_DATA_MAX = 64 << 20


def _tree_size(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def sluiced_path():
    path = os.environ.get("SLUICED") or os.path.join(REPO, "build", "sluiced")
    if not os.access(path, os.X_OK):
        fail(f"broker binary not found or not executable: {path} (set SLUICED)")
    return path


class Broker:
    """One sluiced process (restartable) over one data dir."""

    def __init__(self, name="broker", shards=DEFAULT_SHARDS, sets=None, config=None,
                 extra_args=None, port=0):
        self.name = name
        self.port = port  # fixed: clients that stay up across a restart find it again
        self.shards = shards
        self.sets = dict(sets or {})
        self.config = config
        self.extra_args = list(extra_args or [])
        self.workdir = tempfile.mkdtemp(prefix=f"sluice-it-{name}-")
        self.data_dir = os.path.join(self.workdir, "data")
        os.makedirs(self.data_dir)
        self.log_path = os.path.join(self.workdir, "broker.log")
        self.proc = None
        self.bootstrap = None
        self.http = None          # "127.0.0.1:PORT" when sluice.http.listen is set
        self.listeners = {}       # listener name -> shard 0's "127.0.0.1:PORT"
        self.ready_shards = None
        self.starts = 0
        self._cv = threading.Condition()
        self._ready = False
        self._eof = False
        self._reader = None

    # -- lifecycle ----------------------------------------------------------
    def argv(self):
        a = [sluiced_path(), "--data-dir", self.data_dir]
        if "listeners" not in self.sets:  # --listen would replace them
            a += ["--listen", f"127.0.0.1:{self.port}"]
        if self.shards is not None:
            a += ["--shards", str(self.shards)]
        if self.config:
            a += ["--config", self.config]
        for k, v in self.sets.items():
            a += ["--set", f"{k}={v}"]
        return a + self.extra_args

    def start(self, timeout=READY_TIMEOUT, spawn_only=False):
        if self.alive():
            fail("broker already running")
        argv = self.argv()
        self.starts += 1
        with open(self.log_path, "ab") as f:
            f.write(f"=== harness: start #{self.starts}: {' '.join(argv)}\n".encode())
        self._ready = False
        self._eof = False
        self.bootstrap = None
        t0 = time.monotonic()
        # meson sets MALLOC_PERTURB_ to a random byte for every test. It stays on
        # for the broker on purpose: it is what exposed a use-after-free here once.
        # SLUICE_IT_PERTURB=N fixes the byte to replay a failure.
        env = dict(os.environ)
        if os.environ.get("SLUICE_IT_PERTURB"):
            env["MALLOC_PERTURB_"] = os.environ["SLUICE_IT_PERTURB"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env,
                                     preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read_stderr, args=(self.proc,),
                                        daemon=True)
        self._reader.start()
        self._t0 = t0
        if spawn_only:
            return self
        return self.wait_ready(timeout)

    def spawn(self):
        """Starts the process without waiting for its ready line (call
        wait_ready next). Call it from the main thread: children die with
        the thread that started them (PR_SET_PDEATHSIG)."""
        return self.start(spawn_only=True)

    def wait_ready(self, timeout=READY_TIMEOUT):
        t0 = self._t0
        with self._cv:
            self._cv.wait_for(lambda: self._ready or self._eof, timeout=timeout)
            ready, eof = self._ready, self._eof
        if not ready:
            if eof:
                rc = self._wait_exit(5)
                fail(f"broker exited (rc={describe_rc(rc)}) before printing its ready line\n{self.tail()}")
            self.kill()
            fail(f"broker printed no ready line within {timeout:.0f}s\n{self.tail()}")
        log(f"broker ready at {self.bootstrap} shards={self.ready_shards} "
            f"({time.monotonic() - t0:.2f}s, data {self.data_dir})")
        if self.shards is not None and self.ready_shards != self.shards:
            fail(f"ready line says shards={self.ready_shards}, expected {self.shards}")
        return self

    def _read_stderr(self, proc):
        with open(self.log_path, "ab") as f:
            for raw in iter(proc.stderr.readline, b""):
                f.write(raw)
                f.flush()
                if not self._ready:
                    text = raw.decode(errors="replace")
                    m = HTTP_RE.match(text) or HTTP_LOGFMT_RE.match(text)
                    if m:
                        self.http = f"{m.group(1).rsplit(':', 1)[0]}:{m.group(2)}"
                    m = LISTENER_RE.match(text)
                    if m:
                        self.listeners[m.group(1)] = m.group(3)
                    m = READY_RE.match(text) or READY_LOGFMT_RE.match(text)
                    if m:
                        with self._cv:
                            self.bootstrap = m.group(1)
                            self.ready_shards = int(m.group(2))
                            self._ready = True
                            self._cv.notify_all()
        with self._cv:
            self._eof = True
            self._cv.notify_all()

    def _wait_exit(self, timeout):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if self._reader is not None:
            self._reader.join(timeout=5)
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self):
        return None if self.proc is None else self.proc.poll()

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait, and require exit code 0."""
        if not self.alive():
            fail(f"broker is not running (exit code {describe_rc(self.exit_code())})\n{self.tail()}")
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        rc = self._wait_exit(timeout)
        if rc is None:
            self.kill()
            fail(f"broker did not exit within {timeout:.0f}s of SIGTERM\n{self.tail()}")
        log(f"broker stopped by SIGTERM in {time.monotonic() - t0:.2f}s, rc={rc}")
        if rc != 0:
            fail(f"broker exited {describe_rc(rc)} after SIGTERM, expected 0\n{self.tail()}")

    def kill(self):
        """SIGKILL and reap."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.kill()
        rc = self._wait_exit(30)
        log(f"broker killed (SIGKILL), rc={rc}")

    def restart(self, timeout=READY_TIMEOUT):
        """Starts again on the same data dir (after stop() or kill())."""
        if self.alive():
            self.stop()
        return self.start(timeout)

    def cleanup(self, keep=False):
        """Removes the temp dir; after a failure keeps it (the log always, the
        data only when under KEEP_DATA_MAX bytes) and prints where."""
        self.kill()
        if os.environ.get("SLUICE_IT_KEEP"):
            log(f"kept {self.workdir}")
        elif keep:
            size = _tree_size(self.data_dir)
            if size > KEEP_DATA_MAX:
                shutil.rmtree(self.data_dir, ignore_errors=True)
                log(f"kept {self.log_path} (data dir of {size >> 20} MiB removed; "
                    f"SLUICE_IT_KEEP=1 keeps it)")
            else:
                log(f"kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- introspection --------------------------------------------------------
    def host_port(self):
        host, port = self.bootstrap.rsplit(":", 1)
        return host, int(port)

    def tail(self, n=LOG_TAIL_LINES):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
        except OSError as e:
            return f"(no broker log: {e})"
        head = f"--- broker log {self.log_path}: last {min(n, len(lines))} of {len(lines)} lines ---"
        return "\n".join([head] + lines[-n:] + ["--- end of broker log ---"])

    def log_mtime(self):
        try:
            return os.stat(self.log_path).st_mtime
        except OSError:
            return 0

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""


def free_ports(n, tries=50):
    """A port P with P..P+n-1 free on 127.0.0.1 now (a broker with n shards
    listens on them), for tests whose clients must find a restarted broker
    where it was."""
    import random
    import socket
    # Below the ephemeral range: a client's outgoing connection must not
    # take a port the restarted broker needs.
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    lo = 10000 if low > 12000 else 1024
    for _ in range(tries):
        held = []
        try:
            port = random.randrange(lo, low - n)
            for i in range(n):
                s = socket.socket()
                s.bind(("127.0.0.1", port + i))
                held.append(s)
            return port
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    fail(f"no {n} consecutive free ports found")


# ---------------------------------------------------------------------------
# kcat helpers

KCAT = shutil.which("kcat") or "/usr/bin/kcat"


def kcat(bootstrap, args, input=None, timeout=120, check_rc=True):
    return run([KCAT, "-b", bootstrap, "-m", "30"] + list(args), input=input, timeout=timeout,
               check_rc=check_rc)


def kcat_metadata(bootstrap, topic=None):
    import json
    args = ["-L", "-J"] + (["-t", topic] if topic else [])
    return json.loads(kcat(bootstrap, args, timeout=60).stdout)


def kcat_roundtrip(bootstrap, topic, n=100, extra_produce_args=()):
    """Produces n keyed messages with kcat and reads them back with kcat; fails
    on any difference. Used as a health check."""
    lines = [f"rt-key-{i}:rt-value-{i}-{'x' * (i % 17)}" for i in range(n)]
    p = kcat(bootstrap, ["-P", "-t", topic, "-K:", "-X", "acks=all", *extra_produce_args],
             input=("\n".join(lines) + "\n").encode(), timeout=90)
    err = p.stderr.decode(errors="replace")
    check("fail" not in err.lower(), f"kcat produce to {topic} reported: {err[-2000:]}")
    c = kcat(bootstrap, ["-C", "-t", topic, "-e", "-o", "beginning", "-q",
                         "-f", "%k:%s\\n"], timeout=90)
    got = sorted(c.stdout.decode(errors="replace").splitlines())
    expect_eq(len(got), n, f"round trip on {topic}: number of messages read back")
    expect_eq(got, sorted(lines), f"round trip on {topic}: messages read back")


def consume_values(bootstrap, topic, partitions, isolation="read_committed", timeout=120):
    """Every value of every partition of topic from the beginning to the end
    a consumer of that isolation level sees (confluent-kafka, assign(), no
    group membership): {partition: [value, ...]}."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-reader-" + isolation,
                  "isolation.level": isolation, "enable.auto.commit": False,
                  "enable.partition.eof": True})
    try:
        out = {p: [] for p in range(partitions)}
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        eof = set()
        deadline = time.monotonic() + timeout
        while len(eof) < partitions and time.monotonic() < deadline:
            for m in c.consume(num_messages=10000, timeout=1):
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        fail(f"consumer error: {m.error()}")
                    eof.add(m.partition())
                    continue
                out[m.partition()].append(m.value())
        check(len(eof) == partitions, f"{topic} not read to its end within {timeout}s "
                                      f"(partitions at their end: {sorted(eof)})")
        return out
    finally:
        c.close()


# ---------------------------------------------------------------------------
# Reading partitions back (confluent-kafka)


def read_partitions(bootstrap, topic, partitions, start=None, timeout=180, eof_ends=False,
                    group="harness-reader-no-membership"):
    """Every record of each partition from start[p] (default: the beginning)
    up to its high watermark at the time of the call, with assigned
    partitions (no group membership): ({partition: [(offset, key, value)]},
    {partition: (low, high)}). A partition is done once its record at
    high - 1 arrives; with eof_ends also at its end of partition (a
    compacted log may end with a gap). Fails if one is not done in time."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False, "enable.auto.offset.store": False,
                  "enable.partition.eof": True, "fetch.wait.max.ms": 100})
    try:
        marks = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=15)
                 for p in range(partitions)}
        high = {p: marks[p][1] for p in marks}
        out = {p: [] for p in range(partitions)}
        todo = {p for p in range(partitions) if high[p] > 0}
        if todo:
            c.assign([TopicPartition(topic, p, (start or {}).get(p, OFFSET_BEGINNING))
                      for p in sorted(todo)])
        deadline = time.monotonic() + timeout
        while todo and time.monotonic() < deadline:
            for m in c.consume(num_messages=10000, timeout=1):
                p = m.partition()
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        fail(f"consumer error: {m.error()}")
                    if eof_ends:
                        todo.discard(p)
                    continue
                if m.offset() < high[p]:
                    out[p].append((m.offset(), m.key(), m.value()))
                if m.offset() >= high[p] - 1:
                    todo.discard(p)
        check(not todo, f"partitions {sorted(todo)} of {topic} not read up to their high "
                        f"watermarks { {p: high[p] for p in todo} } within {timeout}s; read "
                        f"{ {p: len(out[p]) for p in todo} }")
        return out, marks
    finally:
        c.close()


# ---------------------------------------------------------------------------
# The runner


class Context:
    """What a test function receives. ctx.broker starts a shared broker on
    first use; a test that needs its own uses ctx.new_broker()."""

    def __init__(self, shards, sets):
        self.shards = shards
        self.sets = sets
        self._broker = None
        self._start_failures = 0
        self.brokers = []

    @property
    def broker(self):
        if self._start_failures >= 2:
            fail("the shared broker failed to start twice already (see above); not trying again")
        dead = self.take_dead_shared()
        if dead is not None:
            # it died after the last check (e.g. after the previous test ended):
            # say so here rather than silently starting another one
            fail(f"the shared broker had died (exit code {describe_rc(dead.exit_code())}); the next "
                 f"access will start a new one\n{dead.tail()}")
        if self._broker is None:
            try:
                self._broker = self.new_broker("shared")
            except TestFailure:
                self._start_failures += 1
                raise
        return self._broker

    def take_dead_shared(self):
        """The shared broker if it has exited (then forgotten), else None."""
        b = self._broker
        if b is not None and b.proc is not None and not b.alive():
            self._broker = None
            return b
        return None

    def new_broker(self, name="broker", start=True, shards=None, sets=None, **kw):
        s = dict(self.sets)
        s.update(sets or {})
        b = Broker(name, shards=self.shards if shards is None else shards, sets=s, **kw)
        self.brokers.append(b)
        if start:
            b.start()
        return b

    @property
    def bootstrap(self):
        return self.broker.bootstrap


def _print(line):
    print(line, flush=True)


def main(tests, shards=DEFAULT_SHARDS, sets=None, test_timeout=300, clean_shutdown=True):
    """Runs test functions (each takes a Context) with cmocka-style output.
    Ends with a `clean_shutdown` case: every broker still running must exit 0
    on SIGTERM. Exits the process with 0 or 1."""
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))
    flt = os.environ.get("SLUICE_IT_FILTER")
    if flt:
        tests = [t for t in tests if flt in t.__name__]
    ctx = Context(shards, dict(sets or {}))
    failed = []
    n_run = len(tests) + (1 if clean_shutdown else 0)
    _print(f"[==========] Running {n_run} test(s).")
    current = {"name": None}

    def on_timeout():
        name = current["name"]
        _print(f"    test {name} exceeded its {test_timeout}s budget; thread stacks:")
        for tid, frame in sys._current_frames().items():
            _print(f"    -- thread {tid}")
            _print("".join(traceback.format_stack(frame)))
        for b in ctx.brokers:
            _print(b.tail())
        _print(f"[  FAILED  ] {name}")
        _print("[==========] test run aborted by timeout.")
        for b in ctx.brokers:
            try:
                b.kill()
            except Exception:
                pass
        os._exit(1)

    for t in tests:
        name = t.__name__
        current["name"] = name
        _print(f"[ RUN      ] {name}")
        timer = threading.Timer(getattr(t, "timeout", test_timeout), on_timeout)
        timer.daemon = True
        timer.start()
        t0 = time.monotonic()
        t0_wall = time.time() - 1
        err = None
        try:
            t(ctx)
            # only the shared broker dying behind the test's back is an error here;
            # brokers a test stops or kills on purpose are its own business
            dead = ctx.take_dead_shared()
            if dead is not None:
                err = (f"the shared broker died during the test (exit code "
                       f"{describe_rc(dead.exit_code())})")
        except TestFailure as e:
            err = str(e)
        except Exception:
            err = traceback.format_exc()
        finally:
            timer.cancel()
        dt = time.monotonic() - t0
        if err is None:
            _print(f"[       OK ] {name} ({dt:.1f}s)")
        else:
            for line in err.rstrip().splitlines():
                _print(f"    {line}")
            if "--- broker log" not in err:
                for b in ctx.brokers:  # every broker that logged during this test
                    if b.log_mtime() >= t0_wall:
                        _print(b.tail())
            _print(f"[  FAILED  ] {name} ({dt:.1f}s)")
            failed.append(name)

    if clean_shutdown:
        name = "clean_shutdown"
        _print(f"[ RUN      ] {name}")
        errs = []
        for b in ctx.brokers:
            if b.alive():
                try:
                    b.stop()
                except TestFailure as e:
                    errs.append(str(e))
        if errs:
            for e in errs:
                for line in e.splitlines():
                    _print(f"    {line}")
            _print(f"[  FAILED  ] {name}")
            failed.append(name)
        else:
            _print(f"[       OK ] {name}")

    for b in ctx.brokers:
        b.cleanup(keep=bool(failed))
    _print(f"[==========] {n_run} test(s) run.")
    _print(f"[  PASSED  ] {n_run - len(failed)} test(s).")
    if failed:
        _print(f"[  FAILED  ] {len(failed)} test(s), listed below:")
        for name in failed:
            _print(f"[  FAILED  ] {name}")
    sys.exit(1 if failed else 0)


def timeout(seconds):
    """Decorator: a per-test time budget other than main()'s default."""
    def deco(f):
        f.timeout = seconds
        return f
    return deco
