"""bench/compaction.py - the compaction rows of bench/run (never asserted).

clean_rate     bench/clean_bench: the cleaner rewriting a compacted log of
               keyed batches, MB/s of segment bytes read, against the disk's
               sequential read+write rate (the same files copied) in the same
               run: ratio = clean / copy (goal >= 0.5).
clean_latency  produce->ack p99 at a fixed rate (kafka_bench --mode latency,
               librdkafka, acks=all, flush always) on a one-shard broker whose
               cleaner is idle (log.cleaner.enable=false) or busy on the same
               shard compacting a keyed backlog that a background writer keeps
               dirty, with the cleaner on its thread (sluice.cleaner.mode=
               thread) or in slices on the shard (=slices). The rise of p99
               against idle is the figure (goal < 20%); busy_frac says how much
               of the window a clean was running, and the shard's loop-turn
               histogram (printed at its exit) how long its turns were.

Called by bench/run's Suite.run() with the suite (its tool runner, rows,
scratch dir, quick flag) and its Sluice server class.
"""
import os
import re
import subprocess
import threading
import time

BACKLOG_QUICK, BACKLOG_FULL = 150000, 1500000   # keyed records of 100 B
RATE = 10000
CLEANED_RE = re.compile(r"backlog-0: cleaned (\d+) bytes .* ([\d.]+) ms")


def log(msg):
    print(msg, flush=True)


def rate_row(suite):
    mb, reps = (64, 1) if suite.quick else (512, 3)
    rc, res, logpath = suite.tool("clean_bench", ["--dir", suite.scratch, "--mb", mb,
                                                  "--keys", 100000, "--reps", reps], 900)
    row = {"system": "sluice", "durability": "durable", "config": "cleaner", "client": "storage",
           "workload": "clean_rate", "size": 100, "partitions": 1, "rate": "",
           "ok": int(rc == 0 and res is not None), "log": os.path.relpath(logpath, suite.out)}
    if res:
        row.update({k: v for k, v in res.items() if k not in ("system", "mode", "size")})
    suite.rows.append(row)
    if row["ok"]:
        log(f"   clean rate {row['clean_mb_s']:.0f} MB/s, disk read+write {row['disk_rw_mb_s']:.0f}"
            f" MB/s: ratio {row['ratio']:.2f} (goal >= 0.5)")
    else:
        log(f"   clean_bench FAILED (see {row['log']})")
    return row


def admin(suite, bootstrap, topic, config):
    cmd = [os.path.join(suite.build, "cli", "sluice"), "--bootstrap", bootstrap,
           "topics", "create", topic]
    for k, v in config.items():
        cmd += ["--config", f"{k}={v}"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=60)


def fill(bootstrap, n):
    """n unique keys into the compacted backlog (kcat, lz4): nothing in it
    is removable, so every clean rewrites all of it."""
    p = subprocess.Popen(["kcat", "-b", bootstrap, "-P", "-t", "backlog", "-K", ":", "-z", "lz4",
                          "-X", "linger.ms=20"], stdin=subprocess.PIPE)
    v = b"x" * 100
    chunk = 10000
    for i in range(0, n, chunk):
        p.stdin.write(b"".join(b"key-%09d:%s\n" % (j, v) for j in range(i, min(n, i + chunk))))
    p.stdin.close()
    p.wait(300)


def writer(bootstrap, stop):
    """A trickle of keyed updates (~500/s) to the backlog: with segment.ms=100
    its active segment rolls every 100 ms, so the backlog is always dirty."""
    p = subprocess.Popen(["kcat", "-b", bootstrap, "-P", "-t", "backlog", "-K", ":",
                          "-X", "linger.ms=5"], stdin=subprocess.PIPE)
    i = 0
    try:
        while not stop.is_set() and i < 10000000:
            p.stdin.write(b"key-%09d:%s\n" % (i % 1000, b"u" * 100))
            p.stdin.flush()
            i += 1
            time.sleep(0.002)
    finally:
        p.stdin.close()
        p.wait(60)


def latency_row(suite, sluice_cls, mode):
    class Broker(sluice_cls):
        def command(self):
            cmd, ready = super().command()
            extra = ["--shards", "1", "--set", "log.cleaner.backoff.ms=100"]
            extra += ["--set", "log.cleaner.enable=false"] if mode == "idle" else \
                ["--set", f"sluice.cleaner.mode={mode}"]
            return cmd + extra, ready
    srv = Broker("durable", suite.scratch, suite.build)
    srv.name = "sluice"
    srv.config = f"cleaner {mode}"
    srv.dir = os.path.join(suite.scratch, f"clean-{mode}")
    srv.log = srv.dir + ".log"
    row = {"system": "sluice", "durability": "durable", "config": f"cleaner={mode}",
           "client": "librdkafka", "workload": "clean_latency", "size": 100, "partitions": 1,
           "rate": RATE, "ok": 0, "cleaner": mode}
    stop = threading.Event()
    th = None
    try:
        srv.start()
        admin(suite, srv.target, "backlog", {"cleanup.policy": "compact", "segment.ms": "100",
                                      "segment.bytes": str(64 << 20),
                                      "min.cleanable.dirty.ratio": "0"})
        fill(srv.target, BACKLOG_QUICK if suite.quick else BACKLOG_FULL)
        th = threading.Thread(target=writer, args=(srv.target, stop), daemon=True)
        th.start()
        time.sleep(1.5)  # the writer's first rolls: the cleaner has work
        secs, warm = (5.0, 1.0) if suite.quick else (20.0, 2.0)
        with open(srv.log, errors="replace") as f:
            before = len(f.read())
        argv = ["--target", srv.target, "--topic", "lat", "--partitions", 1, "--size", 100,
                "--mode", "latency", "--rate", RATE, "--seconds", secs + warm, "--warmup", warm,
                "--acks", "all"]
        t0 = time.monotonic()
        rc, res, logpath = suite.tool("kafka_bench", argv, secs + warm + 90)
        window = time.monotonic() - t0
        with open(srv.log, errors="replace") as f:
            during = f.read()[before:]
        busy_ms = sum(float(m.group(2)) for m in CLEANED_RE.finditer(during))
        row.update({"ok": int(rc == 0 and res is not None), "log": os.path.relpath(logpath, suite.out),
                    "cleans": len(CLEANED_RE.findall(during)),
                    "busy_frac": round(min(1.0, busy_ms / 1000 / window), 3)})
        if res:
            row.update({k: v for k, v in res.items()
                        if k not in ("system", "mode", "size", "partitions", "rate")})
    except (RuntimeError, OSError, subprocess.SubprocessError, Exception) as e:  # noqa: BLE001
        log(f"   clean_latency {mode}: {e}")
    finally:
        stop.set()
        if th:
            th.join(60)
        if srv.proc:
            srv.proc.terminate()
            try:
                srv.proc.wait(30)
            except subprocess.TimeoutExpired:
                srv.proc.kill()
            t = srv.loop_turns().get(0)
            if t:
                row.update({"turn_p99_us": t["p99_us"], "turn_p9999_us": t["p9999_us"],
                            "turn_max_us": t["max_us"], "turns_over_1ms": t["over_1ms"]})
            srv.proc = None
    suite.rows.append(row)
    log(f"   cleaner {mode:<6} ack p99 {row.get('ack_p99_us', '?')} us, busy {row.get('busy_frac')}"
        f", {row.get('cleans')} cleans, turns max {row.get('turn_max_us')} us, "
        f"{row.get('turns_over_1ms')} over 1 ms")
    return row


def run(suite, sluice_cls):
    log("== compaction (sluice)")
    rows = [rate_row(suite)]
    lat = {m: latency_row(suite, sluice_cls, m) for m in ("idle", "thread", "slices")}
    idle = lat["idle"].get("ack_p99_us")
    for m in ("thread", "slices"):
        p99 = lat[m].get("ack_p99_us")
        if idle and p99:
            lat[m]["p99_rise"] = round(p99 / idle - 1, 3)
            log(f"   cleaner {m}: p99 rise {lat[m]['p99_rise'] * 100:+.0f}% vs idle (goal < +20%)")
    rows += lat.values()
    with open(os.path.join(suite.out, "compaction.md"), "w") as f:
        f.write(summary(rows))
    return rows


def summary(rows):
    out = ["## Compaction", ""]
    for r in rows:
        if r["workload"] == "clean_rate" and r["ok"]:
            out.append(f"- cleaning {r['clean_mb_s']:.0f} MB/s vs disk read+write "
                       f"{r['disk_rw_mb_s']:.0f} MB/s: ratio {r['ratio']:.2f} (goal >= 0.5)")
    out += ["", "| cleaner | ack p50 us | ack p99 us | p99 rise | busy | cleans | turn max us "
            "| turns > 1 ms |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["workload"] == "clean_latency":
            rise = r.get("p99_rise")
            out.append(f"| {r['cleaner']} | {r.get('ack_p50_us', '-')} | {r.get('ack_p99_us', '-')}"
                       f" | {'-' if rise is None else f'{rise * 100:+.0f}%'} | {r.get('busy_frac')}"
                       f" | {r.get('cleans')} | {r.get('turn_max_us')} | {r.get('turns_over_1ms')} |")
    return "\n".join(out) + "\n"
