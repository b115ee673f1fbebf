#!/usr/bin/python3
"""Operating the broker: `sluiced --check-config`, SIGHUP reloading the
dynamic settings, and the packaged layout (`meson install` + the Debian
package built by scripts/build-deb.sh, installed into a fresh root and
started from there).

    SLUICED=build/sluiced /usr/bin/python3 tests/integration/test_ops.py"""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect_eq, log  # noqa: E402
import metrics_util as mu  # noqa: E402

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402


def check_config(path, *extra):
    p = harness.run([harness.sluiced_path(), "--check-config", path, *extra], check_rc=False)
    return p.returncode, p.stdout.decode() + p.stderr.decode()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_check_config(ctx):
    d = ctx.broker.workdir
    good = os.path.join(d, "good.properties")
    write(good, "num.partitions=3\nlog.retention.hours=24\nsluice.http.listen=127.0.0.1:9644\n")
    rc, out = check_config(good)
    expect_eq(rc, 0, f"exit code for a valid file ({out})")
    check("configuration is valid" in out, out)
    rc, out = check_config(os.path.join(harness.REPO, "config", "server.properties"))
    expect_eq(rc, 0, f"the shipped server.properties ({out})")
    bad = os.path.join(d, "bad.properties")
    write(bad, "num.partitions=3\nlog.retention.hourz=24\n")
    rc, out = check_config(bad)
    expect_eq(rc, 1, "exit code for an unknown key")
    check(f"{bad}:2: unknown config key log.retention.hourz" in out, out)
    write(bad, "num.partitions=zero\n")
    rc, out = check_config(bad)
    expect_eq(rc, 1, "exit code for a bad value")
    check(f"{bad}:1: num.partitions" in out, out)
    write(bad, "sluice.http.listen=localhost\n")
    rc, out = check_config(bad)
    expect_eq(rc, 1, "exit code for a bad HTTP address")
    rc, out = check_config(good, "--set", "listeners=nonsense")
    expect_eq(rc, 1, f"a bad --set ({out})")
    rc, out = check_config(os.path.join(d, "missing.properties"))
    expect_eq(rc, 1, "a missing file")


def describe(admin, rtype, name):
    res = ConfigResource(rtype, name)
    return {k: v.value for k, v in admin.describe_configs([res])[res].result(20).items()}


def wait_log(b, text, timeout=30):
    harness.wait_until(lambda: text in b.log_text(), timeout, f"broker log line {text!r}")


def test_sighup_reload(ctx):
    b = ctx.new_broker("reload", start=False, sets={"sluice.http.listen": "127.0.0.1:0"})
    cfg = os.path.join(b.workdir, "server.properties")
    write(cfg, "log.retention.ms=3600000\nlog.segment.bytes=1073741824\nsluice.shards=2\n")
    b.config = cfg
    b.shards = None   # sluice.shards from the file, not --shards
    b.start()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic("inherits", 1, 1),
                         NewTopic("own", 1, 1, config={"retention.ms": "120000"})])
    harness.wait_until(lambda: {"inherits", "own"} <= set(admin.list_topics(timeout=10).topics),
                       30, "topics to exist")
    T = ConfigResource.Type.TOPIC
    expect_eq(describe(admin, T, "inherits")["retention.ms"], "3600000", "inherited before")
    # The new file: retention and segment size change (dynamic), the shard
    # count too (not dynamic: it must keep running with 2).
    write(cfg, "log.retention.ms=7200000\nlog.segment.bytes=16384\nsluice.shards=3\n")
    b.proc.send_signal(signal.SIGHUP)
    wait_log(b, "reload: 2 setting(s) applied, 1 need a restart, 2 topic(s) reconfigured")
    check("sluice.shards changed to '3'; it takes effect at the next restart" in b.log_text(),
          "the non-dynamic change is reported")
    expect_eq(describe(admin, T, "inherits")["retention.ms"], "7200000", "inherited after")
    expect_eq(describe(admin, T, "own")["retention.ms"], "120000", "a topic's own value stays")
    expect_eq(describe(admin, T, "inherits")["segment.bytes"], "16384", "segment.bytes after")
    # The shards really use it: 20 batches of 10 KiB roll 16 KiB segments.
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
    for i in range(200):
        p.produce("inherits", value=b"x" * 1000, partition=0)
        if i % 10 == 9:
            expect_eq(p.flush(30), 0, "unflushed")
    segs = mu.value(mu.scrape(b), "sluice_partition_segments", topic="inherits")
    check(segs >= 5, f"segments after the reload: {segs}")
    expect_eq(len(admin.list_topics(timeout=10).brokers), 2, "still 2 shards")
    # A broken file changes nothing and the broker keeps serving.
    write(cfg, "log.retention.ms=soon\n")
    b.proc.send_signal(signal.SIGHUP)
    wait_log(b, "reload failed; every setting keeps its running value")
    expect_eq(describe(admin, T, "inherits")["retention.ms"], "7200000", "after a bad reload")
    harness.kcat_roundtrip(b.bootstrap, "after-reload", n=10)


LOGFMT_RE = __import__("re").compile(
    r'^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(debug|info|warn|error) '
    r'comp=([a-z]+) msg="((?:[^"\\]|\\.)*)"((?: [a-z0-9_.-]+=(?:"(?:[^"\\]|\\.)*"|\S*))*)$')


def logfmt_lines(b):
    out = []
    for line in b.log_text().splitlines():
        if line.startswith("=== harness"):
            continue
        m = LOGFMT_RE.match(line)
        check(m, f"not a logfmt line: {line!r}")
        out.append((m.group(1), m.group(2), m.group(3), m.group(4)))
    return out


def test_structured_logs(ctx):
    b = ctx.new_broker("logfmt", sets={"sluice.log.format": "logfmt"})
    harness.kcat_roundtrip(b.bootstrap, "logged", n=10)
    # A request that closes its connection: a warning with its fields.
    import socket
    host, port = b.host_port()
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"\x7f\xff\xff\xff")       # a 2 GiB frame
        s.settimeout(10)
        check(s.recv(1) == b"", "the connection was not closed")
    harness.wait_until(lambda: "connection closed" in b.log_text(), 30, "the close logged")
    lines = logfmt_lines(b)
    ready = [l for l in lines if l[2] == "ready"]
    check(ready and f"bootstrap={b.bootstrap} shards=2" in ready[0][3], f"ready line: {ready}")
    warn = [l for l in lines if l[0] == "warn" and l[1] == "shard"]
    check(warn and "reason=\"frame of" in warn[0][3] and " conn=" in warn[0][3],
          f"the close as a warning with fields: {warn}")
    b.stop()
    lines = logfmt_lines(b)
    check(any(l[2] == "stopped cleanly" for l in lines), "the last line")
    # sluice.log.level drops what is below it.
    q = ctx.new_broker("quiet", sets={"sluice.log.format": "logfmt", "sluice.log.level": "error"},
                       start=False)
    q.proc = subprocess.Popen(q.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, preexec_fn=harness._die_with_parent)
    try:
        _, err = q.proc.communicate(timeout=3)
    except subprocess.TimeoutExpired:
        q.proc.terminate()
        _, err = q.proc.communicate(timeout=30)
    expect_eq(q.proc.returncode, 0, "a quiet broker stops cleanly")
    expect_eq(err.decode(), "", "nothing below error is logged")


class InstalledBroker(harness.Broker):
    """The broker as the package installed it, from ROOT, with its own
    server.properties (only the addresses and the data dir overridden)."""

    def __init__(self, root, **kw):
        super().__init__("installed", shards=2, **kw)
        self.root = root

    def argv(self):
        return [os.path.join(self.root, "usr/bin/sluiced"),
                "--config", os.path.join(self.root, "etc/sluice/server.properties"),
                "--shards", "2",
                "--set", "listeners=PLAINTEXT://127.0.0.1:0",
                "--set", "sluice.http.listen=127.0.0.1:0",
                "--set", "log.dirs=" + os.path.join(self.root, "var/lib/sluice")]


def build_dir():
    return os.environ.get("SLUICE_BUILD_DIR") or os.path.dirname(harness.sluiced_path())


@harness.timeout(180)
def test_debian_package(ctx):
    work = ctx.broker.workdir
    out = harness.run([os.path.join(harness.REPO, "scripts", "build-deb.sh"), build_dir(),
                       os.path.join(work, "deb")], timeout=120).stdout.decode()
    deb = out.strip().splitlines()[-1]
    check(deb.endswith(".deb") and os.path.exists(deb), f"no package: {out}")
    info = harness.run(["dpkg-deb", "-I", deb]).stdout.decode()
    check("Package: sluice" in info and "libmicrohttpd12" in info, f"control: {info}")
    # A fresh root: an empty dpkg database, nothing else. Maintainer scripts
    # run outside it with $DPKG_ROOT (dpkg --force-script-chrootless); the
    # libraries the package depends on are the host's.
    root = os.path.join(work, "root")
    os.makedirs(os.path.join(root, "var/lib/dpkg/info"))
    os.makedirs(os.path.join(root, "var/lib/dpkg/updates"))
    open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
    dpkg = ["dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends",
            "--log=/dev/null"]
    harness.run(dpkg + ["-i", deb], timeout=60)
    listed = harness.run(["dpkg", f"--root={root}", "-L", "sluice"]).stdout.decode().split()
    for f in ("/usr/bin/sluiced", "/usr/bin/sluice", "/usr/lib/systemd/system/sluiced.service",
              "/etc/sluice/server.properties", "/etc/logrotate.d/sluice"):
        check(f in listed, f"{f} not in the package: {listed}")
        check(os.path.exists(root + f), f"{f} not installed")
    for d in ("var/lib/sluice", "var/log/sluice"):
        check(os.path.isdir(os.path.join(root, d)), f"postinst made no /{d}")
    unit = open(os.path.join(root, "usr/lib/systemd/system/sluiced.service")).read()
    for want in ("ExecStart=/usr/bin/sluiced --config /etc/sluice/server.properties",
                 "ExecReload=/bin/kill -HUP $MAINPID", "LimitMEMLOCK=infinity",
                 "LimitNOFILE=1048576"):
        check(want in unit, f"unit lacks {want!r}")
    # systemd's own check of the unit (paths pointed into the root).
    probe = os.path.join(work, "sluiced.service")
    with open(probe, "w") as f:
        f.write(unit.replace("/usr/bin/sluiced", os.path.join(root, "usr/bin/sluiced")))
    p = harness.run(["systemd-analyze", "verify", probe], check_rc=False)
    msg = (p.stdout + p.stderr).decode()
    expect_eq((p.returncode, msg), (0, ""), "systemd-analyze verify sluiced.service")
    p = harness.run(["logrotate", "--debug", "--state", os.path.join(work, "lr.state"),
                     os.path.join(root, "etc/logrotate.d/sluice")], check_rc=False)
    expect_eq(p.returncode, 0, f"logrotate --debug: {p.stderr.decode()[-1000:]}")
    cfg = os.path.join(root, "etc/sluice/server.properties")
    rc, text = check_config(cfg)
    expect_eq(rc, 0, f"the packaged server.properties: {text}")
    check("log.dirs=/var/lib/sluice" in open(cfg).read(), "packaged data directory")
    # Start it from the root and use it.
    b = InstalledBroker(root)
    ctx.brokers.append(b)
    b.start()
    check(b.http, "the installed broker serves HTTP")
    harness.kcat_roundtrip(b.bootstrap, "from-package", n=50)
    expect_eq(mu.value(mu.scrape(b), "sluice_partition_records_appended_total",
                       topic="from-package"), 50.0, "records through the installed broker")
    b.stop()
    check(os.path.isdir(os.path.join(root, "var/lib/sluice/from-package-0")),
          "the log lives under the root's /var/lib/sluice")
    # Removal keeps the conffiles (dpkg's rule) and the data.
    harness.run(dpkg + ["-r", "sluice"], timeout=60)
    check(not os.path.exists(os.path.join(root, "usr/bin/sluiced")), "binary removed")
    check(os.path.exists(cfg), "conffile kept on remove")


if __name__ == "__main__":
    harness.main([test_check_config, test_sighup_reload, test_structured_logs, test_debian_package])
