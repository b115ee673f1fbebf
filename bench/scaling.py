"""bench/scaling.py - partition scaling (issue 13) in bench/run, never
asserted: what sluice and Apache Kafka lose as partitions grow.

scaling-produce  librdkafka (kafka_bench --spread: message i to partition
                 i % N, so every partition is busy through the run, as keyed
                 traffic is) at the maximum rate, 100 B, acks=all, page-cache
                 class, on 1, 100, 1,000 and 10,000 partitions (one topic;
                 10,000 as 1,000 topics x 10, kafka_bench --topics);
scaling-latency  open loop at SCALE_RATE msgs/s spread over the same
                 partitions, a tailing consumer on all of them: ack p99 (and
                 produce->consume);
restart          the broker SIGKILLed with every partition of the ladder on
                 disk, started again on the same data: seconds to its ready
                 line and to the first acknowledged produce (a fresh
                 librdkafka producer, started as soon as the broker listens);
                 full runs also restart before the largest step, so a limit
                 that step finds does not hide the figure below it.

Each step adds its topics to the same broker, so the restart finds the
ladder's sum on disk. A step the broker refuses for want of file
descriptors (its log says "Too many open files") is recorded with
limit=open-files, one that delivers only part of the run within its bound
with limit="not delivered within N s"; either ends the ladder: a limit
found, not a failed run.
--quick: sluice only, 1, 100 and 1,000 partitions, short runs.

Called by bench/run's Suite.run() with the suite, its Sluice class and the
Kafka class (None in --quick).
"""
import os
import signal
import time

SCALE_RATE = 10000
LADDER_FULL = [(1, 1), (100, 1), (1000, 1), (10, 1000)]   # (partitions, topics)
LADDER_QUICK = [(1, 1), (100, 1), (1000, 1)]


def log(msg):
    print(msg, flush=True)


def hit_fd_limit(server):
    try:
        with open(server.log, errors="replace") as f:
            return "Too many open files" in f.read()
    except OSError:
        return False


def step(suite, server, parts, topics):
    """Produce at the maximum rate, then open-loop latency, on parts x
    topics partitions. Returns False once the broker hit a limit."""
    total = parts * topics
    name = f"scale-p{total}"
    shape = ["--topics", topics] if topics > 1 else []
    n = 200000 if suite.quick else 2000000
    argv = suite.common(server, name, parts, 100) + shape + \
        ["--mode", "produce", "--spread", "--count", n, "--seconds", suite.bound_s(),
         "--acks", "all"]
    row = suite.drive(server, "kafka_bench", "librdkafka", "scaling-produce", 100, total, argv,
                      suite.bound_s() + 120 + total // 100)
    row["topics"] = topics
    if not row["ok"]:
        if hit_fd_limit(server):
            row["limit"] = "open-files"
            log(f"   {server.name}: {total} partitions refused: out of file descriptors "
                f"(see {server.log})")
        elif row.get("time_limited") and row.get("msgs"):
            # it served them, too slowly to deliver the run within its bound
            row["limit"] = f"not delivered within {suite.bound_s()} s"
            log(f"   {server.name}: {total} partitions: {row['msgs']} of {n} delivered "
                f"within {suite.bound_s()} s")
        return False
    secs = 1.0 if suite.quick else 5.0
    warm = 0.3 if suite.quick else 1.0
    argv = suite.common(server, name, parts, 100) + shape + \
        ["--mode", "latency", "--rate", SCALE_RATE, "--seconds", secs + warm,
         "--warmup", warm, "--acks", "all", "--no-create"]
    row = suite.drive(server, "kafka_bench", "librdkafka", "scaling-latency", 100, total, argv,
                      secs + warm + 120 + total // 100, rate=SCALE_RATE)
    row["topics"] = topics
    return True


def restart(suite, server, parts, topics, on_disk):
    """SIGKILL, start again on the same data (on_disk partitions), time to
    ready and to the first produce acknowledged (to the last step's topic,
    parts x topics partitions)."""
    total = parts * topics
    topic = "scale-p" + str(total) + ("-0" if topics > 1 else "")
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    server.proc = None
    t0 = time.monotonic()
    row = {"system": server.name, "durability": server.durability, "config": server.config,
           "client": "librdkafka", "workload": "restart", "size": 100, "partitions": on_disk,
           "partitions_on_disk": on_disk, "rate": "", "topics": topics, "ok": 0,
           "log": os.path.relpath(server.log, suite.out)}
    try:
        server.start()
    except RuntimeError as e:
        log(f"   {server.name} restart: {e}")
        suite.rows.append(row)
        return
    ready = time.monotonic() - t0
    argv = ["--target", server.target, "--topic", topic, "--partitions", parts, "--size", 100,
            "--mode", "produce", "--count", 1, "--seconds", 60, "--acks", "all", "--no-create"]
    rc, res, logpath = suite.tool("kafka_bench", argv, 120)
    first = time.monotonic() - t0
    row.update({"ok": int(rc == 0 and res is not None and not res.get("errors")),
                "ready_s": round(ready, 3), "first_produce_s": round(first, 3),
                "log": os.path.relpath(logpath, suite.out)})
    suite.rows.append(row)
    log(f"   {server.name:<10} restart with {on_disk} partitions on disk: ready in {ready:.2f} s, "
        f"first produce acked at {first:.2f} s" if row["ok"] else
        f"   {server.name} restart: FAILED (see {row['log']})")


def run_system(suite, server):
    if not suite.start_or_record(server):
        return
    ladder = LADDER_QUICK if suite.quick else LADDER_FULL
    on_disk = 0
    try:
        for i, (parts, topics) in enumerate(ladder):
            if i == len(ladder) - 1 and not suite.quick and on_disk:
                # the restart with what fits for sure, before the largest
                # step (which may find a limit), and again after it
                restart(suite, server, *ladder[i - 1], on_disk)
            if not step(suite, server, parts, topics):
                break
            on_disk += parts * topics
            if i == len(ladder) - 1:
                restart(suite, server, parts, topics, on_disk)
    finally:
        server.stop()


def run(suite, sluice_cls, kafka_cls):
    log("== partition scaling (librdkafka, 100 B, acks=all, page cache)")
    srv = sluice_cls("page-cache", suite.scratch, suite.build)
    srv.dir = os.path.join(suite.scratch, "sluice-scaling")
    srv.log = srv.dir + ".log"
    run_system(suite, srv)
    if kafka_cls and not suite.quick:
        k = kafka_cls("page-cache", suite.scratch)
        k.dir = os.path.join(suite.scratch, "kafka-scaling")
        k.log = k.dir + ".log"
        run_system(suite, k)


def summary(rows):
    """The scaling table: per partition count, sluice and Kafka side by side."""
    def get(system, workload, total):
        for r in rows:
            if (r.get("system"), r.get("workload"), r.get("partitions")) == \
                    (system, workload, total):
                return r
        return None

    def cell(r, key, fmt):
        if not r:
            return "-"
        if r.get("limit"):
            return f"refused ({r['limit']})"
        if not r.get("ok"):
            return "failed"
        if r.get("workload") == "scaling-latency" and not r.get("kept_up"):
            return f"fell behind ({r.get('acked', 0)} of {r.get('sent', 0)} acked)"
        v = r.get(key)
        return fmt(v) if v is not None else "-"

    totals = sorted({r["partitions"] for r in rows
                     if r.get("workload") in ("scaling-produce", "scaling-latency")})
    if not totals:
        return []
    out = ["", "## Partition scaling (librdkafka, 100 B, acks=all, page cache; produce spread "
           "over every partition)", "",
           f"| partitions | sluice msgs/s | Kafka msgs/s | sluice ÷ Kafka | sluice ÷ its own "
           f"at 1 | sluice ack p99 at {SCALE_RATE // 1000}k/s | Kafka ack p99 | sluice "
           f"produce→consume p99 |", "|---|---|---|---|---|---|---|---|"]
    base = get("sluice", "scaling-produce", 1)
    base = base.get("msgs_s") if base and base.get("ok") else None
    for total in totals:
        sp, kp = get("sluice", "scaling-produce", total), get("kafka", "scaling-produce", total)
        sl, kl = get("sluice", "scaling-latency", total), get("kafka", "scaling-latency", total)
        s_rate = sp.get("msgs_s") if sp and sp.get("ok") else None
        k_rate = kp.get("msgs_s") if kp and kp.get("ok") else None
        shape = "" if not sp or sp.get("topics", 1) == 1 else f" ({sp['topics']} topics)"
        out.append(f"| {total}{shape} | {cell(sp, 'msgs_s', lambda v: f'{v:.0f}')} "
                   f"| {cell(kp, 'msgs_s', lambda v: f'{v:.0f}')} "
                   f"| {f'{s_rate / k_rate:.2f}' if s_rate and k_rate else '-'} "
                   f"| {f'{s_rate / base:.2f}' if s_rate and base else '-'} "
                   f"| {cell(sl, 'ack_p99_us', lambda v: f'{v:.0f} us')} "
                   f"| {cell(kl, 'ack_p99_us', lambda v: f'{v:.0f} us')} "
                   f"| {cell(sl, 'e2e_p99_us', lambda v: f'{v:.0f} us')} |")
    for r in rows:
        if r.get("workload") == "restart":
            out.append("")
            out.append(f"- {r['system']} SIGKILLed with {r.get('partitions_on_disk', '?')} "
                       f"partitions on disk: " +
                       (f"ready {r['ready_s']:.2f} s, first produce acknowledged "
                        f"{r['first_produce_s']:.2f} s after the restart began"
                        if r.get("ok") else f"restart failed ({r.get('log')})"))
    limited = [r for r in rows if r.get("limit")]
    for r in limited:
        out.append(f"- {r['system']}: {r['partitions']} partitions refused ({r['limit']}): "
                   f"see {r.get('log')} and the broker's log")
    return out
