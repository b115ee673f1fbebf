"""A long-running JVM a compat case starts, waits on and kills (a Kafka
Connect worker, a Kafka Streams application): its own session, its output
in a log file the case reads for events, SIGKILLed with everything it
started when the case is done or fails. Short tools use test_tools.tool().

Never sleeps to synchronise: waits are on lines the JVM logs (wait_log)
or on answers (the caller's wait_until)."""

import os
import re
import signal
import subprocess
import time

import compat
from harness import _die_with_parent, check, fail

JVM_FLAGS = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k"]


class Jvm:
    def __init__(self, name, main_class, args, classpath, log_dir, heap="384m",
                 log4j=None, props=None):
        self.name = name
        self.argv = (["java", f"-Xmx{heap}"] + JVM_FLAGS +
                     [f"-D{k}={v}" for k, v in (props or {}).items()] +
                     ([f"-Dlog4j2.configurationFile={log4j}"] if log4j else []) +
                     ["-cp", classpath, main_class] + list(args))
        self.log_dir = log_dir
        self.proc = None
        self.log_path = None
        self.starts = 0

    def start(self):
        check(self.proc is None or self.proc.poll() is not None, f"{self.name} already runs")
        self.starts += 1
        self.log_path = os.path.join(self.log_dir, f"{self.name}.{self.starts}.log")
        out = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        out.close()
        return self

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout, what=None):
        """Waits for a line matching pattern in this run's log; returns the
        match. Fails at once if the JVM exits first."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        pos, buf = 0, ""
        with open(self.log_path, errors="replace") as f:
            for _ in range(int(timeout / 0.1) + 2):
                chunk = f.read()
                if chunk:
                    buf += chunk
                    m = rx.search(buf, max(0, pos - 4096))
                    if m:
                        return m
                    pos = len(buf)
                elif self.proc.poll() is not None:
                    fail(f"{self.name} exited {self.proc.returncode} before "
                         f"{what or pattern}:\n{self.tail()}")
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.1)
        fail(f"{self.name}: no {what or pattern} within {timeout:.0f}s:\n{self.tail()}")

    def tail(self, n=40):
        try:
            lines = self.text().splitlines()
        except OSError:
            return ""
        return "\n".join("    | " + line for line in lines[-n:])

    def kill(self):
        """SIGKILL to the JVM and everything it started; reaps it."""
        if self.proc is not None:
            compat.kill_group(self.proc)

    def exit_code(self):
        return None if self.proc is None else self.proc.poll()


def free_port():
    """A loopback port to pass to a JVM that cannot report the one it bound."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_all(jvms):
    for j in jvms:
        j.kill()


def sigkill(jvm):
    """The failure under test: SIGKILL, no shutdown hook runs."""
    check(jvm.proc is not None and jvm.proc.poll() is None, f"{jvm.name} is not running")
    os.killpg(jvm.proc.pid, signal.SIGKILL)
    jvm.proc.wait(timeout=30)
