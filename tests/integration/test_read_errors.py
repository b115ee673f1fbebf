#!/usr/bin/python3
"""A disk that fails reads under a running broker (issue 12's "read error
during fetch"): the broker's data dir is on faultfs (tests/lib/faultfs, a
FUSE passthrough that answers the reads of the files a rule matches with
EIO, the page cache out of the way).

- test_read_error_takes_partition_offline: two topics with data; the reads
  of one partition's segment start failing. kcat's fetch of it gets
  KAFKA_STORAGE_ERROR (kcat -L and confluent-kafka's metadata show it
  after); Produce and Metadata
  for it answer KAFKA_STORAGE_ERROR (Metadata: no leader); the broker log,
  `sluice topics describe` and /metrics say which partition, file, errno
  and operation; the other topic keeps producing and consuming. Restarted
  with the disk still failing, the broker starts, the partition stays
  offline (op=open) and recovery cuts nothing; disarmed and restarted, the
  partition serves every acked record again and takes appends.
- test_splice_error_mid_answer: only the segment's bytes past its first
  pages fail, so the fetch's batch lookup reads and the zero-copy splice of
  the answer is what hits EIO: that connection is closed (its answer was
  partly sent: logged), the client sees the disconnect, the partition goes
  offline and Metadata tells the client so.
- test_tls_read_error: the same under an SSL listener, whose connections
  read file ranges into memory to encrypt them (op=tls-read).

Needs FUSE (/dev/fuse, root) and the faultfs binary (SLUICE_FAULTFS, set
by meson when libfuse3-dev is installed): without them the tests fail and
say so; they never skip.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certs  # noqa: E402
import harness  # noqa: E402
import kwire  # noqa: E402
from harness import check, expect_eq, fail, kcat, log  # noqa: E402
from metrics_util import http_get, parse_metrics  # noqa: E402
from test_damage import consume as consume_pairs, produce  # noqa: E402  (kcat, CRC-checked)

N = 2000
STORAGE_ERROR = 56
# The broker's line for a fetch answer whose file range could not be read.
CLOSED_RE = re.compile(r"connection closed .*could not be read \(Input/output error, "
                       r"partition taken offline\); the answer was partly sent")
STORAGE_ERROR_TEXT = "Disk error when trying to access log file on disk"  # librdkafka's words


class FaultFS:
    """faultfs mounted over mount, passing through to backing."""

    def __init__(self, workdir, mount):
        exe = os.environ.get("SLUICE_FAULTFS", "")
        if not exe or not os.access(exe, os.X_OK):
            fail(f"faultfs binary not found ({exe!r}): install libfuse3-dev and fuse3 "
                 f"(scripts/setup.sh) and rebuild; the read-error tests need it")
        if not os.path.exists("/dev/fuse"):
            fail("no /dev/fuse on this machine: the read-error tests need FUSE")
        self.mount = mount
        self.backing = os.path.join(workdir, "backing")
        self.sock = os.path.join(workdir, "faultfs.sock")
        os.makedirs(self.backing, exist_ok=True)
        self.proc = subprocess.Popen([exe, self.backing, mount, self.sock],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=harness._die_with_parent)
        ready = {}

        def read_ready():
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode(errors="replace").rstrip()
                log(f"faultfs: {line}")
                if line.startswith("faultfs ready"):
                    ready["ok"] = True
                    return

        t = threading.Thread(target=read_ready, daemon=True)
        t.start()
        t.join(30)
        if not ready:
            self.proc.kill()
            fail("faultfs did not mount within 30 s (see its lines above)")
        check(self.is_mounted(), f"faultfs says ready but {mount} is not a mount point")

    def is_mounted(self):
        with open("/proc/self/mounts") as f:
            return any(ln.split()[1] == os.path.realpath(self.mount) for ln in f)

    def ctl(self, line):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            s.connect(self.sock)
            s.sendall(line.encode() + b"\n")
            answer = s.makefile().readline().strip()
        check(answer.startswith("ok"), f"faultfs {line!r} answered {answer!r}")
        return answer

    def stats(self):
        return {k: int(v) for k, v in (w.split("=") for w in self.ctl("stats").split()[1:])}

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.is_mounted():
            subprocess.run(["umount", "-l", self.mount], check=False)


@contextlib.contextmanager
def faulted_broker(ctx, name, sets=None):
    """broker_on_faultfs with N records in each topic: (broker, faultfs,
    bad's records, good's records); the broker and faultfs go at the end."""
    b, fs = broker_on_faultfs(ctx, name, sets)
    try:
        yield b, fs, produce(b, "bad", 0, N), produce(b, "good", 0, N)
    finally:
        b.kill()
        fs.close()


def broker_on_faultfs(ctx, name, sets=None):
    """A broker whose data dir is a faultfs mount (its /metrics on too)."""
    b = ctx.new_broker(name, start=False,
                       sets={"num.partitions": 1, "sluice.http.listen": "127.0.0.1:0",
                             **(sets or {})})
    fs = FaultFS(b.workdir, b.data_dir)
    b.start()
    for t in ("bad", "good"):
        expect_eq(kwire.create_topic_error(*b.host_port(), t, 1), 0, f"create {t}")
    return b, fs


def consume(b, topic):
    return [kv for _, kv in consume_pairs(b, topic)]


def confluent_fetch_error(b, topic, seconds=30):
    """What a confluent-kafka consumer of topic/0 from the start sees: the
    errors it surfaces (message errors, error_cb, its fetch log lines) and
    how many records it got, within seconds."""
    from confluent_kafka import Consumer, TopicPartition
    seen, lines = [], []

    class Logger:
        def log(self, level, fmt, *args):
            lines.append(fmt % args if args else fmt)

    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": f"g-{topic}-{time.time()}",
                  "enable.auto.commit": False, "debug": "fetch",
                  "error_cb": lambda e: seen.append(str(e)), "logger": Logger()})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error():
                seen.append(f"{m.error().name()}: {m.error().str()}")
            elif m is not None:
                got += 1
            if any(STORAGE_ERROR_TEXT in s or "Disconnected" in s for s in seen + lines):
                break
    finally:
        c.close()
    return seen, [ln for ln in lines if STORAGE_ERROR_TEXT in ln or "STORAGE" in ln], got


def confluent_metadata_error(b, topic):
    """The error confluent-kafka's list_topics reports for topic/0."""
    from confluent_kafka.admin import AdminClient
    md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(topic, timeout=30)
    err = md.topics[topic].partitions[0].error
    return err.name() if err else None


def kcat_fetch_error(b, topic, seconds=30):
    """kcat's view of topic/0: the fetch debug line with the disk error (kcat
    keeps retrying a partition with no leader, so it is stopped once that
    line came, or after seconds), and its metadata listing."""
    p = subprocess.Popen([harness.KCAT, "-b", b.bootstrap, "-C", "-t", topic, "-p", "0",
                          "-o", "beginning", "-q", "-d", "fetch"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, preexec_fn=harness._die_with_parent)
    found = []

    def read():
        for raw in iter(p.stderr.readline, b""):
            line = raw.decode(errors="replace")
            if STORAGE_ERROR_TEXT in line:
                found.append(line.strip())
                return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(seconds)
    p.kill()
    p.wait(10)
    md = kcat(b.bootstrap, ["-L", "-t", topic], timeout=60, check_rc=False)
    return found, md.stdout.decode(errors="replace")


def produce_error(b, topic):
    batch = kwire.record_batch([(b"k", b"after-fault", ())])
    host, port = b.host_port()
    with kwire.Conn(host, port) as c:
        _, topics = kwire.parse_metadata_v4(c.call(3, 4, kwire.metadata_v4_body([topic], False), 3))
    perr, leader = topics[topic][1][0]
    # the shard that owns it: Metadata has no leader now, so ask every shard
    errs = []
    for shard_port in shard_ports(b):
        with kwire.Conn(host, shard_port) as c:
            r = kwire.parse_produce_v7(c.call(0, 7, kwire.produce_v7_body(topic, 0, batch), 5))
            errs.append(r[(topic, 0)]["error"])
    return perr, leader, errs


def shard_ports(b):
    host, port = b.host_port()
    with kwire.Conn(host, port) as c:
        brokers, _ = kwire.parse_metadata_v4(c.call(3, 4, kwire.metadata_v4_body([], False), 4))
    return [p for _, (_, p) in sorted(brokers.items())]


def cli(b, *args):
    exe = os.environ.get("SLUICE_CLI") or os.path.join(
        os.environ.get("SLUICE_BUILD_DIR", os.path.join(harness.REPO, "build")), "cli", "sluice")
    p = subprocess.run([exe, "-b", b.bootstrap] + list(args), capture_output=True,
                       timeout=60)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def shard_sum(b, family):
    """family summed over the shards, from /metrics."""
    status, _, body = http_get(f"http://{b.http}/metrics")
    expect_eq(status, 200, "/metrics status")
    m = parse_metrics(body.decode())
    return sum(v for (name, _), v in m.items() if name == family)


def offline_gauge(b):
    return shard_sum(b, "sluice_partitions_offline")


def check_offline(b, fs, op):
    """Everything an operator and a client see of bad-0 offline, good-0 fine."""
    text = b.log_text()
    line = next((ln for ln in text.splitlines()
                 if "partition offline" in ln and "bad-0" in ln and "shard=" in ln), None)
    check(line is not None, "the broker log has a 'partition offline' line for bad-0")
    for want in ("bad-0/00000000000000000000.log", f"op={op}", "errno=5"):
        check(want in line, f"the offline line names {want}: {line}")
    perr, leader, errs = produce_error(b, "bad")
    expect_eq((perr, leader), (STORAGE_ERROR, -1), "Metadata of bad/0: error, leader")
    check(STORAGE_ERROR in errs, f"Produce to bad/0 answers KAFKA_STORAGE_ERROR ({errs})")
    rc, out, err = cli(b, "topics", "describe", "bad")
    check("Offline" in out and "partition 0: file=" in out and "bad-0/00000000000000000000.log"
          in out and f"op={op}" in out and "errno=5" in out,
          f"sluice topics describe bad shows it offline and why:\n{out}\n{err}")
    rc, out, err = cli(b, "--json", "topics", "describe", "bad")
    doc = json.loads(out)
    expect_eq([o["partition"] for o in doc.get("offline", [])], [0], "describe --json offline")
    expect_eq(doc["partitions"][0].get("error"), "KAFKA_STORAGE_ERROR", "describe --json error")
    expect_eq(offline_gauge(b), 1, "sluice_partitions_offline over the shards")
    expect_eq(shard_sum(b, "sluice_storage_faults_total"), 1, "sluice_storage_faults_total")
    check(fs.stats()["failed_reads"] > 0, "the broker's reads reached faultfs and failed")
    log(f"offline line: {line}")


def restart_still_failing(b, fs):
    """A restart while the disk still fails: the broker starts and serves the
    rest, bad-0 stays offline (its log cannot be opened: op=open), and
    recovery cut nothing of it."""
    seg = os.path.join(fs.backing, "bad-0", "00000000000000000000.log")
    size = os.path.getsize(seg)
    b.stop()
    b.start()
    text = b.log_text().split("=== harness: start #")[-1]
    check(re.search(r"partition offline shard=\d+ partition=bad-0 file=\S+/bad-0 op=open "
                    r"errno=5", text), "the restarted broker logs bad-0 offline at open")
    host, port = b.host_port()
    with kwire.Conn(host, port) as c:
        _, topics = kwire.parse_metadata_v4(c.call(3, 4, kwire.metadata_v4_body(["bad"], False),
                                                   6))
    expect_eq(topics["bad"][1][0], (STORAGE_ERROR, -1), "Metadata of bad/0 after the restart")
    rc, out, err = cli(b, "topics", "describe", "bad")
    check("partition 0: file=" in out and "op=open" in out,
          f"describe after a restart on the failing disk:\n{out}\n{err}")
    expect_eq(os.path.getsize(seg), size, "bad's segment after a restart on the failing disk")
    expect_eq(shard_sum(b, "sluice_storage_faults_total"), 1, "faults counted at open")


def serve_on_and_restart(b, fs, bad, good):
    """The other topic keeps serving both ways while bad-0 is offline; then
    the disk reads again, a restart, and bad-0 serves every acked record."""
    good = good + produce(b, "good", N, 200)
    expect_eq(consume(b, "good"), good, "good while bad is offline")
    fs.ctl("disarm")
    b.stop()
    b.start()
    check_back(b, bad, good)
    b.stop()


def check_back(b, bad, good):
    """After a restart with the disk reading: bad-0 serves again."""
    expect_eq(consume(b, "bad"), bad, "bad after the restart: every acked record")
    more = produce(b, "bad", N, 10)
    expect_eq(consume(b, "bad"), bad + more, "bad: appends after the restart")
    expect_eq(consume(b, "good"), good, "good after the restart")
    expect_eq(offline_gauge(b), 0, "no partition offline after the restart")
    rc, out, err = cli(b, "topics", "describe", "bad")
    check("Offline" not in out, f"describe after the restart shows nothing offline:\n{out}")


def test_read_error_takes_partition_offline(ctx):
    with faulted_broker(ctx, "eio") as (b, fs, bad, good):
        log(fs.ctl("arm read EIO bad-0/*.log"))
        # The first client to fetch it gets KAFKA_STORAGE_ERROR in the Fetch
        # answer (librdkafka logs it and backs off); from then on Metadata
        # has no leader for it, with the same error, which every client sees.
        kfetch, kmd = kcat_fetch_error(b, "bad")
        check(kfetch, "kcat's fetch of bad/0 gets the disk error")
        log(f"kcat: {kfetch[0]}")
        check(STORAGE_ERROR_TEXT in kmd, f"kcat -L shows bad/0's disk error:\n{kmd}")
        expect_eq(confluent_metadata_error(b, "bad"), "KAFKA_STORAGE_ERROR",
                  "confluent-kafka's metadata of bad/0")
        check_offline(b, fs, "read")
        restart_still_failing(b, fs)
        serve_on_and_restart(b, fs, bad, good)


def test_splice_error_mid_answer(ctx):
    with faulted_broker(ctx, "splice") as (b, fs, bad, good):
        seg = os.path.join(fs.backing, "bad-0", "00000000000000000000.log")
        size = os.path.getsize(seg)
        check(size > 64 * 1024, f"bad's segment is {size} bytes: more than the tail-copy size")
        # The first pages read (the batch lookup at position 0), the rest fails.
        log(fs.ctl("arm read EIO bad-0/*.log from=16384"))
        # The first consumer to fetch it has its connection closed mid-answer
        # (librdkafka reports the disconnect); then Metadata has no leader
        # for it and says why.
        seen, lines, got = confluent_fetch_error(b, "bad")
        check(any("Disconnected" in s for s in seen),
              f"confluent-kafka reports its fetch connection closed (errors {seen})")
        expect_eq(confluent_metadata_error(b, "bad"), "KAFKA_STORAGE_ERROR",
                  "confluent-kafka's metadata of bad/0 after the failed splice")
        check(CLOSED_RE.search(b.log_text()),
              "the broker log says the fetch's splice failed and the connection was closed")
        check_offline(b, fs, "splice")
        serve_on_and_restart(b, fs, bad, good)


def test_tls_read_error(ctx):
    """An SSL listener reads file ranges into memory to encrypt them
    (dataplane/conn_tls.c): a read failing there takes the partition
    offline the same way and closes that connection."""
    pki = certs.Pki(os.path.join(harness.tempfile.gettempdir(), f"sluice-it-pki-{os.getpid()}"))
    sets = {"listeners": "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
            **certs.tls_sets(pki, pki.server())}
    with faulted_broker(ctx, "tls", sets) as (b, fs, bad, good):
        log(fs.ctl("arm read EIO bad-0/*.log from=16384"))
        tls = ["-X", "security.protocol=ssl", "-X", f"ssl.ca.location={pki.ca}"]
        # kcat keeps retrying a partition it cannot finish: stopped once the
        # broker logged the closed connection.
        p = subprocess.Popen([harness.KCAT, "-b", b.listeners["SSL"]] + tls +
                             ["-C", "-t", "bad", "-p", "0", "-o", "beginning", "-q"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, preexec_fn=harness._die_with_parent)
        try:
            harness.wait_until(lambda: CLOSED_RE.search(b.log_text()), 60,
                               "the broker logging that the TLS connection's read failed and "
                               "it was closed")
        finally:
            p.kill()
            p.wait(10)
        check_offline(b, fs, "tls-read")
        got = kcat(b.listeners["SSL"], tls + ["-C", "-t", "good", "-p", "0", "-o", "beginning",
                                              "-e", "-q", "-f", "%k:%s\\n"], timeout=90)
        expect_eq(got.stdout.decode(errors="replace").splitlines(), good,
                  "good over TLS while bad is offline")
        b.stop()
    shutil.rmtree(pki.dir, ignore_errors=True)


if __name__ == "__main__":
    harness.main([test_read_error_takes_partition_offline, test_splice_error_mid_answer,
                  test_tls_read_error])
