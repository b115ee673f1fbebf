"""bench/replication.py - the replication rows of bench/run (never asserted).

Three sluice nodes on this machine, each in a network namespace of its own
(tests/integration/netns.py: veth pairs to a bridge, so every replica fetch
crosses a real TCP link), two shards each, flush policy always. In the same
run, for a topic of one partition with one replica (RF=1) and with three
(RF=3, every ISR member fsyncs before the high watermark passes a record):

rf_produce   kafka_bench --mode produce (librdkafka, acks=all, 100 B): the
             maximum acknowledged rate; ratio = RF=3 / RF=1.
rf_latency   kafka_bench --mode latency at a fixed rate (acks=all): ack
             p50/p99; rise = RF=3 p99 / RF=1 p99.
failover     librdkafka produces to an RF=3 partition (acks=all,
             min.insync.replicas=2) at a steady pace; its leader's node is
             SIGKILLed: the time from the kill to the first acknowledgement
             of a record sent after it (what a client sees: the controller
             fencing the node - at once when its port refuses a connection
             after sluice.fence.probe.ms of silence, else after
             broker.session.timeout.ms, 3 s here -, the election, the
             client's metadata refresh: librdkafka re-asks for a partition
             whose leader is down on a timer of its own, once a second).
             Several kills, each of the leader at the time (the node that
             died restarts and catches up in between): median, min, max,
             each marked "c" when the node was the controller's too (a new
             metadata leader is elected first: raft's election timeout).

Called by bench/run's Suite.run() with the suite (its tool runner, rows,
build dir, quick flag). Needs root (ip netns); without it the rows are
skipped with a line saying so. The box is shared while this phase lasts:
figures are noisy, the ratios in one run are what to read.
"""
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

NODES, SHARDS = 3, 2
SESSION_MS = 3000
RATE = 2000


def log(msg):
    print(msg, flush=True)


def start_cluster(suite):
    import netns  # tests/integration/netns.py
    os.environ["SLUICED"] = os.path.join(suite.build, "sluiced")
    cl = netns.NetnsCluster(NODES).open()
    try:
        cl.enter_hub()
        cl.start_voters(SHARDS, {"broker.session.timeout.ms": str(SESSION_MS),
                                 "sluice.flush.policy": "always"})
        wait_registered(netns.bootstrap(0))
    except BaseException:
        cl.close()
        raise
    return cl, netns


def wait_registered(bootstrap):
    """Until Metadata lists every node's brokers and a controller: the nodes
    say ready before they have all registered."""
    from confluent_kafka.admin import AdminClient
    a = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            md = a.list_topics(timeout=10)
            if len(md.brokers) == NODES * SHARDS and md.controller_id >= 0:
                return
        except Exception:  # noqa: BLE001 - not up yet: ask again
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the {NODES} nodes did not all register within 60 s")


def create_topic(bootstrap, name, rf, configs=None):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": bootstrap})
    a.create_topics([NewTopic(name, 1, rf, config=configs or {})],
                    request_timeout=30)[name].result(timeout=60)
    return leader_of(bootstrap, name, rf)


def row_of(suite, rf, workload, rate, rc, res, logpath):
    row = {"system": "sluice", "durability": "durable", "config": f"3 nodes, RF={rf}",
           "client": "librdkafka", "workload": workload, "size": 100, "partitions": 1,
           "rate": rate or "", "rf": rf, "ok": int(rc == 0 and res is not None),
           "log": os.path.relpath(logpath, suite.out)}
    if res:
        row.update({k: v for k, v in res.items()
                    if k not in ("system", "mode", "size", "partitions", "rate")})
    suite.rows.append(row)
    return row


def rate_rows(suite, bootstrap):
    rows = {}
    count = 100000 if suite.quick else 1000000
    secs, warm = (3.0, 1.0) if suite.quick else (15.0, 2.0)
    for rf in (1, 3):
        topic = f"rf{rf}"
        create_topic(bootstrap, topic, rf)
        rc, res, lp = suite.tool("kafka_bench", [
            "--mode", "produce", "--target", bootstrap, "--topic", topic, "--partitions", 1,
            "--count", count, "--size", 100, "--acks", "all"], 600)
        p = row_of(suite, rf, "rf_produce", None, rc, res, lp)
        rc, res, lp = suite.tool("kafka_bench", [
            "--mode", "latency", "--target", bootstrap, "--topic", topic, "--partitions", 1,
            "--size", 100, "--rate", RATE, "--seconds", secs + warm, "--warmup", warm,
            "--acks", "all"], secs + warm + 90)
        lat = row_of(suite, rf, "rf_latency", RATE, rc, res, lp)
        rows[rf] = (p, lat)
        log(f"   RF={rf}: produce {p.get('msgs_s', 0):10.0f} msg/s; at {RATE}/s ack p50/p99 "
            f"{lat.get('ack_p50_us', '?')}/{lat.get('ack_p99_us', '?')} us")
    (p1, l1), (p3, l3) = rows[1], rows[3]
    if p1.get("msgs_s") and p3.get("msgs_s"):
        p3["ratio"] = round(p3["msgs_s"] / p1["msgs_s"], 3)
        log(f"   RF=3 / RF=1 produce rate: {p3['ratio']:.2f}")
    if l1.get("ack_p99_us") and l3.get("ack_p99_us"):
        l3["p99_rise"] = round(l3["ack_p99_us"] / l1["ack_p99_us"] - 1, 3)
        log(f"   RF=3 ack p99 {l3['p99_rise'] * 100:+.0f}% vs RF=1")
    return [p1, l1, p3, l3]


def leader_of(bootstrap, name, rf, with_controller=False):
    """The leader of name's partition 0 once rf replicas are in sync (and
    the controller's broker id then, with_controller)."""
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-unused"})
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                md = c.list_topics(name, timeout=10)
                p = md.topics[name].partitions.get(0)
            except Exception:  # noqa: BLE001 - a node of the bootstrap list is down
                p = None
            if p and p.leader >= 0 and len(p.isrs) == rf:
                return (p.leader, md.controller_id) if with_controller else p.leader
            time.sleep(0.1)
    finally:
        c.close()
    raise RuntimeError(f"{name}: no leader with {rf} replicas in sync within 90 s")


def failover_once(cl, bootstrap, victim, phase):
    """SIGKILL of victim's node while librdkafka produces to fo-0 (~1000/s,
    acks=all), phase seconds (0-1) after its acks flow: seconds from the kill
    to the first ack of a record sent after it, None when none came within
    60 s. librdkafka looks again for the leader of a partition whose broker
    is down on a timer of its own, once a second from its start: the phase
    spreads the kills over that second as real failures fall."""
    from confluent_kafka import Producer
    acks = []           # (index, monotonic time) of every acknowledged record
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 1,
                  "enable.idempotence": False})

    def report(err, msg):
        if err is None:
            acks.append((int(msg.value()), time.monotonic()))
    i, killed_at, sent_at_kill, flowing = 0, None, None, None
    t0 = time.monotonic()
    deadline = t0 + 60
    while time.monotonic() < deadline and i < 1000000:
        p.produce("fo", value=b"%d" % i, partition=0, on_delivery=report)
        i += 1
        p.poll(0.001)   # ~1000 records/s
        now = time.monotonic()
        # In a steady state: the client has the partition's leader and
        # its acks flow (a client just started learns its topics on that
        # timer too, which would be measured with it).
        if flowing is None and len(acks) >= 200:
            flowing = now
        if killed_at is None and flowing is not None and now - flowing >= phase:
            killed_at, sent_at_kill = now, i
            cl.nodes[victim].kill()
        if sent_at_kill is not None and any(k >= sent_at_kill for k, _ in acks[-50:]):
            break
    p.flush(30)
    after = [t for k, t in acks if sent_at_kill is not None and k >= sent_at_kill]
    return round(min(after) - killed_at, 3) if after else None


def failover_row(suite, cl, bootstrap):
    """Several kills (3 in --quick, 10 in full runs, SLUICE_BENCH_FAILOVER_ROUNDS),
    each of the partition's leader at the time (the killed node restarts and
    catches up before the next): the distribution of failover_once."""
    import netns
    rounds = int(os.environ.get("SLUICE_BENCH_FAILOVER_ROUNDS", 3 if suite.quick else 10))
    create_topic(bootstrap, "fo", 3, {"min.insync.replicas": "2"})
    times = []
    marks = []          # each kill's time, "c" after those of the controller's node
    for r in range(rounds):
        leader, ctrl = leader_of(bootstrap, "fo", 3, with_controller=True)
        victim, of_ctrl = leader // 1000, leader // 1000 == ctrl // 1000
        t = failover_once(cl, netns.all_bootstrap(cl.n), victim, random.Random(r).random())
        what = " (the controller's node: a metadata leader is elected first)" if of_ctrl else ""
        log(f"   failover {r + 1}/{rounds}: " + (f"{t:.2f} s from SIGKILL of node {victim}{what} "
            "to the first ack of a record sent after it" if t is not None else
            "no record sent after the kill was acknowledged within 60 s"))
        if t is None:
            break
        times.append(t)
        marks.append(f"{t}{'c' if of_ctrl else ''}")
        cl.nodes[victim].start(timeout=90)
    ok = len(times) == rounds
    row = {"system": "sluice", "durability": "durable", "config": "3 nodes, RF=3",
           "client": "librdkafka", "workload": "failover", "size": 8, "partitions": 1,
           "rate": "", "rf": 3, "ok": int(ok), "session_timeout_ms": SESSION_MS,
           "rounds": len(times), "log": ""}
    if times:
        ts = sorted(times)
        row.update({"failover_s": ts[len(ts) // 2], "failover_min_s": ts[0],
                    "failover_max_s": ts[-1], "failover_all_s": " ".join(marks)})
        log(f"   failover over {len(ts)} kills: median {row['failover_s']:.2f} s, "
            f"min {ts[0]:.2f}, max {ts[-1]:.2f} (broker.session.timeout.ms={SESSION_MS})")
    suite.rows.append(row)
    return row


def run(suite):
    log("== replication (sluice, 3 nodes in network namespaces)")
    if os.geteuid() != 0:
        log("   skipped: needs root (ip netns)")
        return []
    cl = None
    try:
        cl, netns = start_cluster(suite)
        bootstrap = netns.bootstrap(0)     # the tools' --target is one address
        rows = rate_rows(suite, bootstrap)
        rows.append(failover_row(suite, cl, bootstrap))
    except Exception as e:  # noqa: BLE001 - a failed row, and the suite goes on
        log(f"   replication FAILED: {e}")
        rows = [{"system": "sluice", "durability": "durable", "config": "3 nodes",
                 "client": "librdkafka", "workload": "replication", "size": 100,
                 "partitions": 1, "rate": "", "ok": 0, "log": "", "error": str(e)}]
        suite.rows.extend(rows)
    finally:
        if cl:
            cl.close()
            for b in cl.nodes:
                b.cleanup()
    with open(os.path.join(suite.out, "replication.md"), "w") as f:
        f.write(summary(rows))
    return rows


def summary(rows):
    out = ["## Replication (3 nodes in network namespaces, flush always, acks=all, 100 B)", "",
           "| RF | produce msg/s | ratio | ack p50 us | ack p99 us | p99 rise |",
           "|---|---|---|---|---|---|"]
    for rf in (1, 3):
        p = next((r for r in rows if r["workload"] == "rf_produce" and r["rf"] == rf), {})
        lat = next((r for r in rows if r["workload"] == "rf_latency" and r["rf"] == rf), {})
        rise = lat.get("p99_rise")
        out.append(f"| {rf} | {p.get('msgs_s', '-')} | {p.get('ratio', '-')} | "
                   f"{lat.get('ack_p50_us', '-')} | {lat.get('ack_p99_us', '-')} | "
                   f"{'-' if rise is None else f'{rise * 100:+.0f}%'} |")
    fo = next((r for r in rows if r["workload"] == "failover"), {})
    out += ["", f"- failover (SIGKILL of the leader's node to the first ack of a record sent "
            f"after it), {fo.get('rounds', 0)} kills: median {fo.get('failover_s', '-')} s, "
            f"min {fo.get('failover_min_s', '-')}, max {fo.get('failover_max_s', '-')} "
            f"(each, c: the controller's node: {fo.get('failover_all_s', '-')}) with "
            f"broker.session.timeout.ms="
            f"{SESSION_MS}"]
    return "\n".join(out) + "\n"
