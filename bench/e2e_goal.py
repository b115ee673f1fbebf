"""bench/e2e_goal.py - the produce->consume goal of issue 17 in bench/run,
printed beside the measured figure, never asserted.

e2e-goal  open loop at 100k msgs/s of 100 B, durable (sluice
          flush.policy=always, acks=all; Redis appendfsync always), on 1
          partition and over 8: produce->consume p99 from each message's
          intended send time to its receipt by the tailing consumer of the
          same process (native_latency and librdkafka's kafka_bench for
          sluice, hiredis' redis_bench for Redis, the comparison of the same
          run). Goals: p99 < 1 ms on 1 partition, < 2 ms on 8.

Called by bench/run's Suite.run() with the suite, its Sluice and Redis
classes (Redis None when not in --systems).
"""
import os

RATE = 100000
GOALS_US = {1: 1000, 8: 2000}


def log(msg):
    print(msg, flush=True)


def run_on(suite, server, pairs):
    if not suite.start_or_record(server):
        return
    secs = 1.0 if suite.quick else 5.0
    warm = 0.3 if suite.quick else 1.0
    try:
        for parts in sorted(GOALS_US):
            for client, tool in pairs:
                name = f"{server.name}-{client}-e2e-goal-100b-p{parts}"
                argv = suite.common(server, f"e2e-{client}-p{parts}", parts, 100) + \
                    ["--mode", "latency", "--rate", RATE, "--seconds", secs + warm,
                     "--warmup", warm, "--hist-out", os.path.join(suite.out, "hist", name)] + \
                    suite.extra(server, client, "latency")
                row = suite.drive(server, tool, client, "e2e-goal", 100, parts, argv,
                                  secs + warm + 60, rate=RATE)
                row["goal_e2e_p99_us"] = GOALS_US[parts]
                if row["ok"] and row.get("e2e_p99_us") is not None:
                    log(f"   goal: produce->consume p99 < {GOALS_US[parts]} us on {parts} "
                        f"partition(s): measured {row['e2e_p99_us']:.0f} us "
                        f"({'met' if row['e2e_p99_us'] < GOALS_US[parts] and row.get('kept_up') else 'missed'})")
    finally:
        server.stop()


def run(suite, sluice_cls, redis_cls):
    log(f"== produce->consume goal: {RATE // 1000}k msgs/s, 100 B, durable")
    srv = sluice_cls("durable", suite.scratch, suite.build)
    srv.dir = os.path.join(suite.scratch, "sluice-e2e-goal")
    srv.log = srv.dir + ".log"
    run_on(suite, srv, [("native", "native_latency"), ("librdkafka", "kafka_bench")])
    if redis_cls:
        r = redis_cls("durable", suite.scratch)
        r.dir = os.path.join(suite.scratch, "redis-e2e-goal")
        r.log = r.dir + ".log"
        run_on(suite, r, [("hiredis", "redis_bench")])


def summary(rows):
    got = [r for r in rows if r.get("workload") == "e2e-goal"]
    if not got:
        return []
    out = ["", f"## Produce→consume at {RATE // 1000}k msgs/s, 100 B, durable: the goal "
           "beside the measure (never asserted)", "",
           "| partitions | system (client) | goal p99 | produce→consume p50 / p99 / p99.9 (us) "
           "| ack p99 (us) | kept up | p99 ÷ goal | p99 ÷ Redis |", "|---|---|---|---|---|---|---|---|"]
    for parts in sorted(GOALS_US):
        redis = next((r for r in got if r["system"] == "redis" and r["partitions"] == parts
                      and r.get("ok")), None)
        for r in got:
            if r["partitions"] != parts:
                continue
            who = f"{r['system']} ({r['client']})"
            if not r.get("ok"):
                out.append(f"| {parts} | {who} | < {GOALS_US[parts]} us | failed | | | | |")
                continue
            p99 = r.get("e2e_p99_us", 0)
            vs = f"{p99 / redis['e2e_p99_us']:.2f}" if redis and redis.get("e2e_p99_us") \
                and r["system"] != "redis" else ""
            out.append(f"| {parts} | {who} | < {GOALS_US[parts]} us | "
                       f"{r.get('e2e_p50_us', 0):.0f} / {p99:.0f} / {r.get('e2e_p999_us', 0):.0f} "
                       f"| {r.get('ack_p99_us', 0):.0f} | {'yes' if r.get('kept_up') else 'no'} "
                       f"| {p99 / GOALS_US[parts]:.2f} | {vs} |")
    return out
