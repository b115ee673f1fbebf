"""dpdk_suite.py - bench/run's DPDK ingest runs (issue 14's benchmark),
beside the machine's own limit measured the same way in the same run.

  dpdk-raw      the memif link's raw receive rate: dpdk_bench --mode sink (a
                DPDK process that receives bursts and frees them) fed by
                dpdk_bench --mode send, 64 B and 1 KiB records, one per
                datagram
  dpdk-ingest   the same sender into sluiced (memif server, one shard),
                native UDP produce, every datagram acknowledged once durable:
                flush os and always; the ratio to dpdk-raw (goal >= 0.7, or
                >= 0.9 of the disk where the disk binds)
  dpdk-latency  a fixed rate (flush os): the broker's own arrival-to-written
                time per datagram (p50/p99/p99.9, from its shutdown report;
                goal p99 < 20 us) and the sender's send-to-ACK time
  capture       a MoldUDP64 feed replayed from a pcap (net_pcap) at the
                replay's full rate into a capture topic: messages/s (from the
                broker's first to last received burst) and the gaps planted
                in it that it detected (goal 100%)

Placement on 2 cores: the broker's shard (or the sink) on core 0, the
sender on core 1 (EAL -l). Each broker starts with a fresh data dir and
stops with SIGTERM. Rows go into bench/run's results like the others.
"""
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "integration"))
import dpdk_env  # noqa: E402  (MoldUDP64 packets, frames, pcap files)

EAL = "--no-huge -m 256 --no-shconf --no-telemetry --no-pci --log-level=error"
BROKER_IP, SENDER_IP = "10.88.0.2", "10.88.0.1"
READY = re.compile(r"^sluiced: ready bootstrap=(\S+)")
STATS = re.compile(r"^shard 0: dpdk: (rx_packets=.*)$", re.M)
APPEND = re.compile(r"native append latency .* p50=([\d.]+)us p99=([\d.]+)us "
                    r"p99.9=([\d.]+)us max=([\d.]+)us")


def tools_missing(build):
    need = ["sluiced", "cli/sluice", "bench/dpdk_bench"]
    return [t for t in need if not os.access(os.path.join(build, t), os.X_OK)]


class Broker:
    """sluiced with a DPDK port, one shard, a fresh data dir."""

    def __init__(self, suite, name, vdev, policy="os"):
        self.suite, self.name = suite, name
        self.dir = os.path.join(suite.scratch, f"dpdk-{name}")
        self.log = os.path.join(suite.out, "logs", f"dpdk-{name}-broker.log")
        self.vdev, self.policy = vdev, policy
        self.proc = self.target = None

    def start(self, dpdk=True):
        os.makedirs(self.dir, exist_ok=True)
        with open(self.log, "a") as f:
            skip = f.tell()  # a restart: only this start's ready line counts
        cmd = [os.path.join(self.suite.build, "sluiced"), "--data-dir", self.dir,
               "--listen", "127.0.0.1:0", "--shards", "1",
               "--set", f"sluice.flush.policy={self.policy}"]
        if dpdk:
            cmd += ["--set", "sluice.dpdk.enable=true",
                    "--set", f"sluice.dpdk.eal.args=-l 0 {EAL} --vdev {self.vdev}",
                    "--set", f"sluice.dpdk.ip={BROKER_IP}/24"]
        with open(self.log, "a") as f:
            self.proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            with open(self.log, errors="replace") as f:
                f.seek(skip)
                m = [READY.match(line) for line in f]
            m = [x for x in m if x]
            if m:
                self.target = m[-1].group(1)
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sluiced did not start: see {self.log}")

    def cli(self, *args, timeout=60):
        p = subprocess.run([os.path.join(self.suite.build, "cli", "sluice"), "-b", self.target,
                            *args], capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"sluice {' '.join(args)}: {p.stderr.strip()}")
        return p.stdout

    def stop(self):
        """SIGTERM; returns the shutdown report (counters, append latency)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        with open(self.log, errors="replace") as f:
            text = f.read()
        stats = {}
        m = list(STATS.finditer(text))
        if m:
            stats = {k: int(v) for k, v in (kv.split("=", 1) for kv in m[-1].group(1).split())}
        lat = list(APPEND.finditer(text))
        return stats, (tuple(float(x) for x in lat[-1].groups()) if lat else None)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def memif(role, sock):
    return f"net_memif0,role={role},socket={sock}"


def sender(suite, sock, size, secs, acks, rate=None, warmup=0):
    argv = ["--mode", "send", "--eal", f"-l 1 {EAL} --vdev {memif('client', sock)}",
            "--ip", f"{SENDER_IP}/24", "--to", f"{BROKER_IP}:9092", "--size", size,
            "--seconds", secs]
    if acks:
        argv.append("--acks")
    if rate:
        argv += ["--rate", rate, "--warmup", warmup]
    return suite.tool("dpdk_bench", argv, secs + 60)


def row(suite, system, durability, workload, size, rc, res, logpath, **extra):
    r = {"system": system, "durability": durability, "config": "memif, 1 shard",
         "client": "dpdk_bench", "workload": workload, "size": size, "partitions": 1,
         "rate": extra.pop("rate", ""), "ok": int(rc == 0 and res is not None),
         "log": os.path.relpath(logpath, suite.out)}
    r.update(res or {})
    r.update(extra)
    suite.rows.append(r)
    shown = {k: r[k] for k in ("msgs_s", "mb_s", "ratio_raw", "append_p99_us", "gaps_detected")
             if k in r}
    print(f"   {system:<10} {durability:<10} {workload:<13} {size:>5}B "
          f"{'ok' if r['ok'] else 'FAILED'} {shown}", flush=True)
    return r


def raw_rate(suite, size, secs):
    sock = os.path.join(suite.scratch, "memif-raw.sock")
    logpath = os.path.join(suite.out, "logs", f"dpdk-sink-{size}.log")
    with open(logpath, "w") as f:
        sink = subprocess.Popen([os.path.join(suite.bench, "dpdk_bench"), "--mode", "sink",
                                 "--eal", f"-l 0 {EAL} --vdev {memif('server', sock)}",
                                 "--ip", f"{BROKER_IP}/24", "--seconds", "30"],
                                stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    # The server's socket first: a memif client that finds none never connects.
    if not WAIT_FOR_LINE(logpath, r"^sink: ready$", sink, 60):
        os.killpg(sink.pid, signal.SIGKILL)
        sink.wait()
        row(suite, "memif", "raw", "dpdk-raw", size, 1, None, logpath)
        return None
    rc, sres, slog = sender(suite, sock, size, secs, acks=False)
    try:
        sink.wait(secs + 30)
    except subprocess.TimeoutExpired:
        os.killpg(sink.pid, signal.SIGKILL)
        sink.wait()
    with open(logpath, errors="replace") as f:
        res = PARSE(f.read())
    r = row(suite, "memif", "raw", "dpdk-raw", size, rc or sink.returncode, res, logpath,
            sent_msgs_s=(sres or {}).get("msgs_s"))
    return r.get("msgs_s") if r["ok"] else None


def ingest(suite, size, policy, secs, raw):
    sock = os.path.join(suite.scratch, f"memif-{policy}-{size}.sock")
    b = Broker(suite, f"ingest-{policy}-{size}", memif("server", sock), policy)
    try:
        b.start()
        b.cli("topics", "create", "dpdk-bench")
        cpu0 = suite_cpu(b)
        rc, res, logpath = sender(suite, sock, size, secs, acks=True)
        cpu1 = suite_cpu(b)
    finally:
        stats, lat = b.stop()
        b.remove()
    durability = "durable" if policy == "always" else "page-cache"
    extra = {"ratio_raw": round(res["msgs_s"] / raw, 3) if res and raw else None,
             "server_cpu_s": round(cpu1 - cpu0, 3) if cpu0 is not None and cpu1 else None,
             "broker_records": stats.get("native.records")}
    if lat:
        extra.update(append_p50_us=lat[0], append_p99_us=lat[1], append_p999_us=lat[2])
    row(suite, "sluice", durability, "dpdk-ingest", size, rc, res, logpath, **extra)


def suite_cpu(b):
    try:
        with open(f"/proc/{b.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, IndexError, ValueError):
        return None


def latency(suite, rate, secs):
    sock = os.path.join(suite.scratch, "memif-lat.sock")
    b = Broker(suite, f"latency-{rate}", memif("server", sock), "os")
    try:
        b.start()
        b.cli("topics", "create", "dpdk-bench")
        rc, res, logpath = sender(suite, sock, 64, secs, acks=True, rate=rate, warmup=0.5)
    finally:
        _stats, lat = b.stop()
        b.remove()
    extra = {"rate": rate}
    if lat:
        extra.update(append_p50_us=lat[0], append_p99_us=lat[1], append_p999_us=lat[2],
                     append_max_us=lat[3])
    row(suite, "sluice", "page-cache", "dpdk-latency", 64, rc if lat else 1, res, logpath,
        **extra)


def capture(suite, npkt, every):
    """A MoldUDP64 feed of npkt packets (3 messages each) with one packet in
    `every` left out (a gap each), replayed from a pcap at full speed."""
    pcap = os.path.join(suite.scratch, "capture.pcap")
    frames, seq, planted = [], 1, 0
    me, dst = bytes.fromhex("020000000009"), dpdk_env.multicast_mac("239.2.2.2")
    for i in range(npkt):
        msgs = [b"%010d" % (seq + k) for k in range(3)]
        if i % every == every // 2:  # never the last: a gap shows by what follows it
            planted += 1
        else:
            pkt = dpdk_env.mold_packet("SLUICEBNCH", seq, msgs)
            frames.append((1700000000000000 + i, dpdk_env.udp_frame(
                dst, me, "10.88.0.9", "239.2.2.2", 5000, 26400, pkt)))
        seq += 3
    dpdk_env.write_pcap(pcap, frames)
    b = Broker(suite, "capture", f"net_pcap0,rx_pcap={pcap},tx_pcap=/dev/null")
    logpath = b.log
    try:
        b.start(dpdk=False)  # the topic first: the replay starts with the port
        b.cli("topics", "create", "feed", "--config", "sluice.capture.port=26400",
              "--config", "sluice.capture.group=239.2.2.2",
              "--config", "sluice.capture.sequence=moldudp64")
        b.stop()
        b.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            out = b.cli("--json", "topics", "describe", "feed")
            m = re.search(r'"latest"\s*:\s*(\d+)', out) or re.search(r'"end[^"]*"\s*:\s*(\d+)', out)
            if m and int(m.group(1)) >= len(frames):
                break
            time.sleep(0.2)
    finally:
        stats, _ = b.stop()
        b.remove()
        os.unlink(pcap)
    span = (stats.get("last_rx_ns", 0) - stats.get("first_rx_ns", 0)) / 1e9
    msgs = stats.get("capture.messages", 0)
    res = {"msgs": msgs, "msgs_s": round(msgs / span) if span > 0 else 0,
           "datagrams_s": round(stats.get("capture.datagrams", 0) / span) if span > 0 else 0,
           "gaps_planted": planted, "gaps_detected": stats.get("capture.gaps", 0),
           "stored": stats.get("capture.datagrams", 0) - stats.get("capture.dropped", 0)}
    ok = res["stored"] == len(frames) and res["gaps_detected"] == planted
    row(suite, "sluice", "page-cache", "capture", 0, 0 if ok else 1, res, logpath,
        gaps_detected_ratio=round(res["gaps_detected"] / planted, 3) if planted else None)


PARSE = None
WAIT_FOR_LINE = None


def run(suite, parse_result, wait_for_line):
    """The runs; parse_result reads a tool's RESULT line, wait_for_line
    waits for a line in a tool's log (both bench/run's)."""
    global PARSE, WAIT_FOR_LINE
    PARSE, WAIT_FOR_LINE = parse_result, wait_for_line
    missing = tools_missing(suite.build)
    if missing:
        print(f"== dpdk: skipped, not built: {', '.join(missing)}", flush=True)
        return
    print("== dpdk (memif, 1 shard; sender on core 1)", flush=True)
    quick = suite.quick
    secs = 1.5 if quick else 5
    for size in ([64] if quick else [64, 1024]):
        raw = raw_rate(suite, size, secs)
        for policy in (["os"] if quick else ["os", "always"]):
            ingest(suite, size, policy, secs, raw)
    latency(suite, 10000 if quick else 100000, 2 if quick else 10)
    capture(suite, 30000 if quick else 1000000, 1000)


def summary(rows):
    """The summary's DPDK section (markdown lines)."""
    raw = {r["size"]: r for r in rows if r.get("workload") == "dpdk-raw" and r.get("ok")}
    ing = [r for r in rows if r.get("workload") == "dpdk-ingest"]
    lat = [r for r in rows if r.get("workload") == "dpdk-latency"]
    cap = [r for r in rows if r.get("workload") == "capture"]
    if not (raw or ing or lat or cap):
        return []
    out = ["", "## DPDK ingest (memif, 1 shard, native UDP produce)", "",
           "| record | flush | raw memif msgs/s | ingest msgs/s | ingest MB/s | ingest ÷ raw "
           "| append p99 (µs) |", "|---|---|---|---|---|---|---|"]
    for r in ing:
        rr = raw.get(r["size"], {})
        out.append(f"| {r['size']} B | {'always' if r['durability'] == 'durable' else 'os'} "
                   f"| {rr.get('msgs_s', '-')} | {r.get('msgs_s', '-')} | {r.get('mb_s', '-')} "
                   f"| {r.get('ratio_raw', '-')} | {r.get('append_p99_us', '-')} |")
    for r in lat:
        out.append("")
        out.append(f"Latency at {r.get('rate')} datagrams/s (64 B, flush os): arrival to "
                   f"written p50 {r.get('append_p50_us')} / p99 {r.get('append_p99_us')} / "
                   f"p99.9 {r.get('append_p999_us')} µs (broker); send to ACK p50 "
                   f"{r.get('ack_p50_us')} / p99 {r.get('ack_p99_us')} µs (sender).")
    for r in cap:
        out.append("")
        out.append(f"Capture of a MoldUDP64 pcap at the replay's full rate: "
                   f"{r.get('msgs_s')} messages/s ({r.get('datagrams_s')} datagrams/s), "
                   f"gaps detected {r.get('gaps_detected')} of {r.get('gaps_planted')} planted.")
    return out
