"""Helpers for the tests of sluice's HTTP listener: fetching a URL, parsing
the Prometheus text /metrics serves, and running a real Prometheus (Debian's
/usr/bin/prometheus) on loopback that scrapes the broker."""

import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import harness

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
PROMETHEUS = "/usr/bin/prometheus"


def http_get(url, timeout=10):
    """(status, content type, body bytes); HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def parse_metrics(text):
    """{(name, frozenset(labels.items())): float}, checking every line is a
    comment or a well-formed sample, and that TYPE comes before samples."""
    out, typed = {}, set()
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        harness.check(m, f"malformed metrics line: {line!r}")
        name = m.group(1)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        harness.check(name in typed or base in typed, f"sample before its TYPE: {line!r}")
        labels = frozenset(LABEL_RE.findall(m.group(2) or ""))
        out[(name, labels)] = float(m.group(3))
    return out


def scrape(broker):
    status, ctype, body = http_get(f"http://{broker.http}/metrics")
    harness.expect_eq(status, 200, "GET /metrics status")
    harness.check(ctype.startswith("text/plain; version=0.0.4"), f"content type {ctype}")
    return parse_metrics(body.decode())


def value(samples, name, **labels):
    want = {(k, str(v)) for k, v in labels.items()}
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def free_port():
    """A port free right now on 127.0.0.1, for a server that cannot take
    port 0 and tell us (Prometheus); the caller retries on a clash."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A real Prometheus scraping targets every second, its TSDB in workdir."""

    def __init__(self, workdir, targets, interval="1s"):
        self.workdir = workdir
        self.targets = targets
        self.interval = interval
        self.proc = None
        self.base = None
        self.log_path = os.path.join(workdir, "prometheus.log")

    def start(self, timeout=60):
        if not os.access(PROMETHEUS, os.X_OK):
            harness.fail(f"{PROMETHEUS} missing (scripts/setup.sh installs Debian's prometheus)")
        cfg = os.path.join(self.workdir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: %s\n  evaluation_interval: %s\n"
                    "scrape_configs:\n  - job_name: sluice\n    scrape_interval: %s\n"
                    "    scrape_timeout: %s\n    static_configs:\n      - targets: [%s]\n"
                    % (self.interval, self.interval, self.interval, self.interval,
                       ", ".join(f"'{t}'" for t in self.targets)))
        for attempt in range(5):
            port = free_port()
            argv = [PROMETHEUS, f"--config.file={cfg}",
                    f"--storage.tsdb.path={os.path.join(self.workdir, 'tsdb')}",
                    f"--web.listen-address=127.0.0.1:{port}", "--log.level=info"]
            logf = open(self.log_path, "ab")
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT,
                                         preexec_fn=harness._die_with_parent)
            logf.close()
            self.base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    st, _, _ = http_get(self.base + "/-/ready", timeout=2)
                    if st == 200:
                        harness.log(f"prometheus ready at {self.base}")
                        return self
                except OSError:
                    pass
                time.sleep(0.1)
            self.stop()
            if "address already in use" not in self.log_tail():
                break
        harness.fail(f"prometheus did not become ready\n{self.log_tail()}")

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "\n".join(f.read().splitlines()[-n:])
        except OSError:
            return "(no prometheus log)"

    def query(self, expr, at=None):
        """The instant vector of expr: [(labels dict, float)]."""
        q = {"query": expr}
        if at is not None:
            q["time"] = f"{at:.3f}"
        st, _, body = http_get(self.base + "/api/v1/query?" + urllib.parse.urlencode(q))
        harness.expect_eq(st, 200, f"prometheus query {expr} status ({body[:300]!r})")
        doc = json.loads(body)
        harness.expect_eq(doc.get("status"), "success", f"query {expr}")
        return [(r["metric"], float(r["value"][1])) for r in doc["data"]["result"]]

    def scalar(self, expr, at=None):
        """expr's single value, or None when it has none."""
        res = self.query(expr, at)
        return res[0][1] if len(res) == 1 else None

    def targets_up(self):
        st, _, body = http_get(self.base + "/api/v1/targets")
        doc = json.loads(body)
        return [t for t in doc["data"]["activeTargets"] if t.get("health") == "up"]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
