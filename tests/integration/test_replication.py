#!/usr/bin/python3
"""Replicated partitions across three sluice nodes, each in a network
namespace of its own (netns.py), as Kafka clients use them.

Every node is a voter and has two shards: six brokers 0, 1, 1000, 1001, 2000,
2001. Topics have three replicas, one per node.

test_rf3_roundtrip: a topic of six partitions and three replicas created
through librdkafka's admin API: every partition lists three replicas on three
nodes, all in sync, leaders spread over the six brokers; records produced with
librdkafka (acks=all) read back in order, at the offsets acked, with
librdkafka; kafka-python (acks=all) produces and reads back through the same
cluster; replication factor 4 is refused (INVALID_REPLICATION_FACTOR: three
nodes); min.insync.replicas above the replica count answers acks=all with
NOT_ENOUGH_REPLICAS (and acks=1 is still taken).

test_leader_killed_under_load: librdkafka produces unique values with
acks=all (min.insync.replicas=2) to a partition whose leader node is then
SIGKILLed mid-stream: the controller fences it at once, by the fast path
(its log says the dead node's controller port refused a connection after
sluice.fence.probe.ms of silence; broker.session.timeout.ms is Kafka's 9 s
here, so a fence by the session timeout would come far later), a follower
from the ISR leads and acknowledges records sent after the kill, the
producer carries on; afterwards every acknowledged record is read back from
the new leader at the offset it was acknowledged with (the time from the
kill to the first new ack is logged; bench/ measures it). The killed
node restarts, truncates what it must and catches up: it is back in the ISR
and its copy of the partition is byte for byte the leader's; once in sync
it leads again (its replica is the preferred one: auto.leader.rebalance),
and every acknowledged record still reads back. While it is down,
ElectLeaders (raw v0/v1) to the controller answers a preferred election of
that partition PREFERRED_LEADER_NOT_AVAILABLE, an unclean one
ELECTION_NOT_NEEDED, one of every partition only those it tried; other
nodes answer NOT_CONTROLLER.

test_controller_leader_killed_under_load: the same when the node killed
also leads the metadata quorum: a new controller is elected first, then it
fences the dead node (by the fast path too) and moves its partitions.

test_stalled_node_not_fenced: a node stopped (SIGSTOP) is silent but its
kernel still completes connections to its port: the controller logs that
the port answers and does not fence it; resumed (SIGCONT), it serves
Metadata again, none of its brokers ever left, and the controller's log has
no fencing of it: a node that merely had a slow moment does not flap.

test_follower_cut_off: a follower's link goes down while librdkafka
produces with acks=all: the leader drops it from the ISR (or the controller
fences it) and the records are acknowledged by the two left; the link back,
the follower registers again, catches up, returns to the ISR, and its copy
is the leader's.

test_reassignment: a topic of two replicas on three nodes holds records
acknowledged with acks=all; AlterPartitionReassignments and
ListPartitionReassignments (raw v0, to the controller). Bad targets are
refused as Kafka does (two shards of one node, a broker that does not
exist: INVALID_REPLICA_ASSIGNMENT; cancelling nothing:
NO_REASSIGNMENT_IN_PROGRESS; an unknown partition; another node:
NOT_CONTROLLER). A move of one replica to the third node completes: once
the new replica has caught up, the replica set is the target on every node,
in sync; the node that left deletes its copy; the new copy is byte for byte
the leader's. The leader's replica then moves to the node left free while
that node is stopped (SIGSTOP): it cannot catch up, so the listing shows
the move in progress (the target then the replica leaving; adding,
removing); cancelled (null replicas) it is gone and the replicas are as
before. The node resumed, the same move completes and the leadership moves
with it; every acknowledged record reads back and records produced after
the moves are acknowledged.

test_whole_cluster_restart: SIGTERM to every node, all started again: the
replicated topics come back with the same replicas, every partition in sync
again, and every record test_rf3_roundtrip acknowledged reads back.

Needs root (ip netns).
"""

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import kwire  # noqa: E402
import netns  # noqa: E402
from harness import check, expect_eq, fail, log  # noqa: E402

NODES = 3
SHARDS = 2
CL = None
SESSION_MS = 9000             # Kafka's default: only the fast path fences sooner
LAG_MS = 3000
FAST_FENCE = "node {} silent for {} ms and its controller port refuses connections"
PORT_ANSWERS = "node {} silent for {} ms but its controller port answers"


bootstrap = netns.bootstrap


def all_bootstrap(skip=()):
    return netns.all_bootstrap(NODES, skip)


def cluster(ctx):
    if not CL.nodes:
        ctx.brokers.extend(CL.start_voters(SHARDS, {
            "broker.session.timeout.ms": str(SESSION_MS),
            "replica.lag.time.max.ms": str(LAG_MS),
            "leader.imbalance.check.interval.seconds": "1"}))
        wait_registered(range(NODES))
    return CL


ALL_BROKERS = sorted(n * 1000 + s for n in range(NODES) for s in range(SHARDS))


def metadata(i, topic=None):
    return harness.kcat_metadata(bootstrap(i), topic)


def wait_registered(nodes):
    def ok():
        return all(sorted(b["id"] for b in metadata(i)["brokers"]) == ALL_BROKERS
                   for i in nodes)
    harness.wait_until(ok, 60, "every node to list the six brokers")


def partitions(md, name):
    t = next((t for t in md["topics"] if t["topic"] == name), None)
    return None if t is None else sorted(t["partitions"], key=lambda p: p["partition"])


def create_topic(name, partitions_n, rf, configs=None, bootstrap_list=None):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": bootstrap_list or all_bootstrap()})
    fut = a.create_topics([NewTopic(name, partitions_n, rf, config=configs or {})],
                          request_timeout=30)
    fut[name].result(timeout=60)


def wait_in_sync(name, n, nodes=range(NODES), rf=3):
    def ok():
        for i in nodes:
            ps = partitions(metadata(i, name), name)
            if not ps or len(ps) != n:
                return False
            for p in ps:
                if p["leader"] < 0 or len(p["replicas"]) != rf or len(p["isrs"]) != rf:
                    return False
        return True
    harness.wait_until(ok, 60, f"{name}: every partition with {rf} replicas in sync")


def produce_rdkafka(name, partition, values):
    from confluent_kafka import Producer
    acked = []
    errors = []

    def report(err, msg):
        if err is None:
            acked.append((msg.value().decode(), msg.offset()))
        else:
            errors.append(str(err))
    p = Producer({"bootstrap.servers": all_bootstrap(), "acks": "all",
                  "linger.ms": 5, "enable.idempotence": False})
    for v in values:
        p.produce(name, value=v.encode(), partition=partition, on_delivery=report)
        p.poll(0)
    check(p.flush(60) == 0, "librdkafka producer did not deliver within 60 s")
    check(not errors, f"delivery errors: {errors[:5]}")
    return acked


def consume_rdkafka(name, partition, n):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": all_bootstrap(), "group.id": "unused",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(name, partition, 0)])
    got = []
    deadline = time.monotonic() + 60
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        got.append((m.value().decode(), m.offset()))
    c.close()
    return got


def produce_kafka_python(name, partition, values):
    from kafka import KafkaProducer
    prod = KafkaProducer(bootstrap_servers=all_bootstrap(), acks="all", linger_ms=5,
                         request_timeout_ms=30000, retries=0)
    futs = [prod.send(name, value=v.encode(), partition=partition) for v in values]
    offsets = [f.get(timeout=60).offset for f in futs]
    prod.close(timeout=30)
    return offsets


def consume_kafka_python(name, partition, n):
    from kafka import KafkaConsumer, TopicPartition
    cons = KafkaConsumer(bootstrap_servers=all_bootstrap(), group_id=None,
                         enable_auto_commit=False, request_timeout_ms=40000)
    tp = TopicPartition(name, partition)
    cons.assign([tp])
    cons.seek(tp, 0)
    got = []
    deadline = time.monotonic() + 60
    while len(got) < n and time.monotonic() < deadline:
        for recs in cons.poll(timeout_ms=500).values():
            got.extend((r.value.decode(), r.offset) for r in recs)
    cons.close()
    return got


def create_topic_error(name, partitions_n, rf, configs=None):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": all_bootstrap()})
    fut = a.create_topics([NewTopic(name, partitions_n, rf, config=configs or {})],
                          request_timeout=30)
    try:
        fut[name].result(timeout=60)
    except Exception as e:  # noqa: BLE001 - the KafkaException carries the code
        return e.args[0].code()
    return None


def produce_one_error(name, acks):
    """The error librdkafka reports for one record sent without retries."""
    from confluent_kafka import Producer
    out = []
    p = Producer({"bootstrap.servers": all_bootstrap(), "acks": acks, "retries": 0,
                  "enable.idempotence": False, "message.timeout.ms": 30000})
    p.produce(name, value=b"x", partition=0,
              on_delivery=lambda err, msg: out.append(err))
    check(p.flush(60) == 0, "the record was not answered within 60 s")
    return out[0]


ROUNDTRIP = {}                 # partition of "rep": (value, offset) acked


def replica_view(md):
    return {t["topic"]: sorted((p["partition"], tuple(r["id"] for r in p["replicas"]))
                               for p in t["partitions"]) for t in md["topics"]}


def test_rf3_roundtrip(ctx):
    from confluent_kafka import KafkaError
    cluster(ctx)
    create_topic("rep", 6, 3)
    wait_in_sync("rep", 6)
    ps = partitions(metadata(0, "rep"), "rep")
    leaders = sorted(p["leader"] for p in ps)
    expect_eq(leaders, ALL_BROKERS, "leaders of the six partitions")
    for p in ps:
        nodes = sorted(r["id"] // 1000 for r in p["replicas"])
        expect_eq(nodes, [0, 1, 2], f"nodes of partition {p['partition']}'s replicas")
    for part in range(6):
        values = [f"rd-{part}-{i}" for i in range(500)]
        acked = produce_rdkafka("rep", part, values)
        expect_eq([v for v, _ in acked], values, f"partition {part}: acked in order")
        expect_eq([o for _, o in acked], list(range(500)), f"partition {part}: offsets")
        got = consume_rdkafka("rep", part, 500)
        expect_eq(got, acked, f"partition {part} read back with librdkafka")
    values = [f"kp-{i}" for i in range(300)]
    offsets = produce_kafka_python("rep", 1, values)
    expect_eq(offsets, list(range(500, 800)), "kafka-python's acked offsets")
    got = consume_kafka_python("rep", 1, 800)
    expect_eq(got[500:], list(zip(values, offsets)), "kafka-python's records read back")
    ROUNDTRIP.update({part: [(f"rd-{part}-{i}", i) for i in range(500)] for part in range(6)})
    ROUNDTRIP[1] += list(zip(values, offsets))
    expect_eq(create_topic_error("rf4", 1, 4), KafkaError.INVALID_REPLICATION_FACTOR,
              "replication factor 4 on three nodes")
    create_topic("strict", 1, 3, {"min.insync.replicas": "4"})
    wait_in_sync("strict", 1)
    err = produce_one_error("strict", "all")
    check(err is not None and err.code() == KafkaError.NOT_ENOUGH_REPLICAS,
          f"acks=all below min.insync.replicas: expected NOT_ENOUGH_REPLICAS, got {err}")
    expect_eq(produce_one_error("strict", "1"), None, "acks=1 below min.insync.replicas")


def log_files(node, name, partition):
    d = os.path.join(node.data_dir, f"{name}-{partition}")
    out = {}
    for f in sorted(os.listdir(d)):
        if f.endswith(".log"):
            with open(os.path.join(d, f), "rb") as fh:
                out[f] = fh.read()
    return out


FAILOVER_N = 20000


def leader_killed_under_load(ctx, name, controller):
    """SIGKILL of the node leading one of name's partitions (the controller
    leader's node too, or not) while librdkafka produces to it."""
    from confluent_kafka import Producer
    cl = cluster(ctx)
    create_topic(name, 6, 3, {"min.insync.replicas": "2"})
    wait_in_sync(name, 6)
    ctrl = metadata(0)["controllerid"] // 1000
    ps = partitions(metadata(0, name), name)
    target = next(p for p in ps if (p["leader"] // 1000 == ctrl) == controller)
    part, victim = target["partition"], target["leader"] // 1000
    log(f"{name}-{part} led by node {victim} (the controller is node {ctrl})")

    acked, errors, times = [], [], []

    def report(err, msg):
        if err is None:
            acked.append((msg.value().decode(), msg.offset()))
            times.append(time.monotonic())
        else:
            errors.append(str(err))
    p = Producer({"bootstrap.servers": all_bootstrap(), "acks": "all", "linger.ms": 2,
                  "enable.idempotence": False, "queue.buffering.max.messages": 1000})
    killed_at = None
    for i in range(FAILOVER_N):
        while True:
            try:
                p.produce(name, value=f"f-{i}".encode(), partition=part,
                          on_delivery=report)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
        if killed_at is None and len(acked) >= FAILOVER_N // 4:
            marks = log_marks(cl)
            killed_at = time.monotonic()
            produced_at_kill = i + 1
            cl.nodes[victim].kill()
    check(p.flush(120) == 0, "the producer did not deliver everything within 120 s")
    check(killed_at is not None, "the leader was never killed")
    check(not errors, f"delivery errors: {errors[:5]}")
    # The first record sent after the kill can only be acked by a new leader.
    after = [t for (v, _), t in zip(acked, times) if int(v[2:]) >= produced_at_kill]
    check(after, "no acknowledgement of a record sent after the kill")
    log(f"{len(acked)} acked; the first record sent after the kill was acked "
        f"{min(after) - killed_at:.2f}s after it")
    fenced_by = wait_logged(cl, marks, FAST_FENCE.format(victim, r"\d+"),
                            [i for i in range(NODES) if i != victim], 30,
                            f"a controller fencing node {victim} by the fast path")
    log(f"node {victim} fenced by node {fenced_by}'s fast path")
    new = partitions(metadata((victim + 1) % NODES, name), name)[part]
    check(new["leader"] >= 0 and new["leader"] // 1000 != victim,
          f"partition {part}'s leader after the kill: {new['leader']}")
    # Offsets are dense: everything up to the last acked one (retries
    # without idempotence may have written some records twice).
    got = consume_rdkafka(name, part, max(o for _, o in acked) + 1)
    at = dict((o, v) for v, o in got)
    lost = [(v, o) for v, o in acked if at.get(o) != v]
    check(not lost, f"{len(lost)} acknowledged records not where they were acked, "
                    f"e.g. {lost[:5]}")
    check({v for v, _ in acked} == {f"f-{i}" for i in range(FAILOVER_N)},
          "every value acknowledged")

    elect_while_down(name, part, victim)

    interim = new["leader"] // 1000
    cl.nodes[victim].start(timeout=90)
    wait_registered(range(NODES))
    wait_in_sync(name, 6)
    # In sync again, the preferred replica (the first, the killed node's)
    # leads again (auto.leader.rebalance.enable): a handover between live
    # nodes, with nothing acknowledged lost in it.
    pref = target["replicas"][0]["id"]
    harness.wait_until(lambda: all(partitions(metadata(i, name), name)[part]["leader"] == pref
                                   for i in range(NODES)),
                       30, f"{name}-{part} led by its preferred replica {pref} again")
    got = consume_rdkafka(name, part, max(o for _, o in acked) + 1)
    at = dict((o, v) for v, o in got)
    check(all(at.get(o) == v for v, o in acked),
          "acknowledged records after the leadership came back")
    wait_copies_equal(cl, name, part, victim, interim)
    log(f"node {victim} back in the ISR with the leader's copy, and leading again")


def log_marks(cl):
    """Where each node's log ends now (wait_logged looks after it)."""
    return [len(b.log_text()) for b in cl.nodes]


def logged(cl, marks, pattern, nodes):
    """Those of nodes whose log has a line matching pattern after its mark."""
    return [i for i in nodes if re.search(pattern, cl.nodes[i].log_text()[marks[i]:])]


def wait_logged(cl, marks, pattern, nodes, timeout, what):
    """The first of nodes to log a line matching pattern after its mark."""
    return harness.wait_until(lambda: logged(cl, marks, pattern, nodes), timeout, what)[0]


UNKNOWN_TOPIC_OR_PARTITION, NOT_CONTROLLER = 3, 41
PREFERRED_LEADER_NOT_AVAILABLE, ELECTION_NOT_NEEDED = 80, 84


def elect_while_down(name, part, victim):
    """ElectLeaders (raw, v0 and v1) while partition part's preferred
    replica, on node victim, is down and another leads it: the controller
    answers each election type as Kafka does; other nodes NOT_CONTROLLER."""
    live = [i for i in range(NODES) if i != victim]
    ctrl = metadata(live[0])["controllerid"] // 1000
    other = next(i for i in live if i != ctrl)
    host = netns.node_addr(ctrl)
    err, res = kwire.elect_leaders(host, netns.KAFKA_PORT, 0, {name: [part, 99]})
    expect_eq((err, res), (0, {(name, part): PREFERRED_LEADER_NOT_AVAILABLE,
                               (name, 99): UNKNOWN_TOPIC_OR_PARTITION}),
              "a preferred election with the preferred replica down")
    err, res = kwire.elect_leaders(host, netns.KAFKA_PORT, 1, {name: [part]})
    expect_eq((err, res), (0, {(name, part): ELECTION_NOT_NEEDED}),
              "an unclean election of a partition that has a leader")
    # Every partition: only those an election was tried on are answered
    # (any other led by a live preferred replica not yet back is elected).
    err, res = kwire.elect_leaders(host, netns.KAFKA_PORT, 0, None)
    check(err == 0 and res.get((name, part)) == PREFERRED_LEADER_NOT_AVAILABLE and
          all(e in (0, PREFERRED_LEADER_NOT_AVAILABLE) for e in res.values()),
          f"a preferred election of every partition answered {err}, {res}")
    err, _ = kwire.elect_leaders(netns.node_addr(other), netns.KAFKA_PORT, 0, {name: [part]})
    expect_eq(err, NOT_CONTROLLER, "ElectLeaders v1 to a node that is not the controller")
    _, res = kwire.elect_leaders(netns.node_addr(other), netns.KAFKA_PORT, 0, {name: [part]},
                                 version=0)
    expect_eq(res, {(name, part): NOT_CONTROLLER}, "ElectLeaders v0 to it")
    log(f"ElectLeaders with node {victim} down: answered by the controller (node {ctrl})")


@harness.timeout(300)
def test_leader_killed_under_load(ctx):
    leader_killed_under_load(ctx, "failover", controller=False)


@harness.timeout(300)
def test_controller_leader_killed_under_load(ctx):
    leader_killed_under_load(ctx, "failover-ctrl", controller=True)


@harness.timeout(120)
def test_stalled_node_not_fenced(ctx):
    cl = cluster(ctx)
    wait_registered(range(NODES))
    ctrl = metadata(0)["controllerid"] // 1000
    stalled = next(i for i in range(NODES) if i != ctrl)
    marks = log_marks(cl)
    cl.nodes[stalled].proc.send_signal(signal.SIGSTOP)
    try:
        # The event that proves the probe ran while it was silent.
        wait_logged(cl, marks, PORT_ANSWERS.format(stalled, r"\d+"), [ctrl], 30,
                    f"the controller to find node {stalled}'s port answering")
    finally:
        cl.nodes[stalled].proc.send_signal(signal.SIGCONT)
    ids = sorted(b["id"] for b in metadata(stalled)["brokers"])  # it answers again
    expect_eq(ids, ALL_BROKERS, f"the brokers node {stalled} lists after it resumed")
    fenced = logged(cl, marks, rf"node {stalled} [^\n]*: fenced", [ctrl])
    check(not fenced, f"node {stalled} was fenced for a stall:\n{cl.nodes[ctrl].tail()}")
    wait_registered(range(NODES))
    log(f"node {stalled} stopped and resumed: the controller (node {ctrl}) probed its port, "
        "found it answering and did not fence it")


INVALID_REPLICA_ASSIGNMENT, NO_REASSIGNMENT_IN_PROGRESS = 39, 85


def replicas_of(i, name, partition=0):
    ps = partitions(metadata(i, name), name)
    return ps and ([r["id"] for r in ps[partition]["replicas"]],
                   sorted(r["id"] for r in ps[partition]["isrs"]), ps[partition]["leader"])


def reachable(host):
    try:
        kwire.Conn(host, netns.KAFKA_PORT, timeout=5).close()
        return True
    except OSError:
        return False


def move(cl, host, name, target):
    """A reassignment of name-0 to target that completes: the replica set is
    the target on every node, in sync; the node that lost its replica
    deletes its copy; the new replica's copy is the leader's. Returns the
    leader."""
    was = {r // 1000 for r in replicas_of(0, name)[0]}
    expect_eq(kwire.alter_reassignments(host, netns.KAFKA_PORT, {name: {0: target}}),
              (0, {(name, 0): 0}), f"the move of {name}-0 to {target}")
    harness.wait_until(lambda: kwire.list_reassignments(host, netns.KAFKA_PORT) == (0, {}) and
                       all(replicas_of(i, name)[:2] == (target, sorted(target))
                           for i in range(NODES)),
                       60, f"the move to {target} complete on every node")
    leader = replicas_of(0, name)[2]
    check(leader in target, f"the leader after the move: {leader}")
    for n in was - {r // 1000 for r in target}:
        gone = os.path.join(cl.nodes[n].data_dir, f"{name}-0")
        harness.wait_until(lambda: not os.path.exists(gone), 30,
                           f"node {n} deleting its copy of {name}-0")
    for n in {r // 1000 for r in target} - was:
        wait_copies_equal(cl, name, 0, n, leader // 1000)
    return leader


@harness.timeout(240)
def test_reassignment(ctx):
    cl = cluster(ctx)
    wait_registered(range(NODES))
    ctrl = metadata(0)["controllerid"] // 1000
    host = netns.node_addr(ctrl)
    # After a cut link (test_follower_cut_off) the hub may still hold a
    # failed neighbour entry for a node: reachable first.
    harness.wait_until(lambda: all(reachable(netns.node_addr(i)) for i in range(NODES)), 30,
                       "every node's Kafka port reachable from the hub")
    create_topic("move", 1, 2)
    wait_in_sync("move", 1, rf=2)
    acked = produce_rdkafka("move", 0, [f"m-{i}" for i in range(2000)])
    reps = replicas_of(0, "move")[0]
    free = next(i for i in range(NODES) if i not in [r // 1000 for r in reps])

    # Refusals (nothing starts).
    errs = kwire.alter_reassignments(host, netns.KAFKA_PORT, {
        "move": {0: [ctrl * 1000, ctrl * 1000 + 1]}})
    expect_eq(errs, (0, {("move", 0): INVALID_REPLICA_ASSIGNMENT}), "two shards of one node")
    errs = kwire.alter_reassignments(host, netns.KAFKA_PORT, {"move": {0: [7000] + reps[1:]}})
    expect_eq(errs, (0, {("move", 0): INVALID_REPLICA_ASSIGNMENT}), "a broker that is not")
    errs = kwire.alter_reassignments(host, netns.KAFKA_PORT, {"move": {0: None, 5: reps}})
    expect_eq(errs, (0, {("move", 0): NO_REASSIGNMENT_IN_PROGRESS,
                         ("move", 5): UNKNOWN_TOPIC_OR_PARTITION}),
              "cancelling nothing; an unknown partition")
    noctrl = next(i for i in range(NODES) if i != ctrl)
    errs = kwire.alter_reassignments(netns.node_addr(noctrl), netns.KAFKA_PORT,
                                     {"move": {0: reps}})
    expect_eq(errs[0], NOT_CONTROLLER, "AlterPartitionReassignments to another node")
    expect_eq(kwire.list_reassignments(host, netns.KAFKA_PORT), (0, {}), "nothing in progress")

    # A move that completes: the replica of a node that is not the
    # controller's goes to the free node (so the node left free is not it).
    gone = next(r for r in reps if r // 1000 != ctrl)
    target = [free * 1000 + 1 if r == gone else r for r in reps]
    move(cl, host, "move", target)
    free, reps = gone // 1000, target

    # In progress while the new replica's node is stopped, then cancelled.
    leader = replicas_of(0, "move")[2]
    target = [free * 1000 if r == leader else r for r in reps]   # the leader's moves
    cl.nodes[free].proc.send_signal(signal.SIGSTOP)
    try:
        expect_eq(kwire.alter_reassignments(host, netns.KAFKA_PORT, {"move": {0: target}}),
                  (0, {("move", 0): 0}), "the move of the leader's replica")
        expect_eq(kwire.list_reassignments(host, netns.KAFKA_PORT, {"move": [0]}),
                  (0, {("move", 0): (target + [leader], [free * 1000], [leader])}),
                  "the move in progress")
        expect_eq(kwire.alter_reassignments(host, netns.KAFKA_PORT, {"move": {0: None}}),
                  (0, {("move", 0): 0}), "cancelling the move")
        expect_eq(kwire.list_reassignments(host, netns.KAFKA_PORT), (0, {}), "cancelled")
    finally:
        cl.nodes[free].proc.send_signal(signal.SIGCONT)
    # Kafka's revert: the replicas in the order the move listed them, less
    # those it added.
    reps = [r for r in target + [leader] if r != free * 1000]
    harness.wait_until(lambda: all(replicas_of(i, "move")[:2] == (reps, sorted(reps))
                                   for i in range(NODES)),
                       30, f"the replicas as before on every node ({reps}; "
                           f"{[replicas_of(i, 'move') for i in range(NODES)]} now)")

    # The move again, the new replica's node running: the leadership moves.
    new_leader = move(cl, host, "move", target)
    check(new_leader != leader, f"the leader stayed {leader} though its replica moved")
    acked += produce_rdkafka("move", 0, [f"n-{i}" for i in range(500)])
    got = consume_rdkafka("move", 0, len(acked))
    expect_eq(got, acked, "every acknowledged record after the moves")
    log(f"move-0 moved twice (last from node {leader // 1000}, its leader, to node {free}): "
        f"{len(acked)} records intact, the copies left behind deleted")


def isr_nodes(i, name, partition):
    ps = partitions(metadata(i, name), name)
    return sorted(r["id"] // 1000 for r in ps[partition]["isrs"]) if ps else None


def wait_copies_equal(cl, name, partition, node, leader):
    harness.wait_until(lambda: log_files(cl.nodes[node], name, partition) ==
                       log_files(cl.nodes[leader], name, partition),
                       60, f"node {node}'s copy of {name}-{partition} equal to node {leader}'s")


@harness.timeout(240)
def test_follower_cut_off(ctx):
    cl = cluster(ctx)
    create_topic("cut", 1, 3, {"min.insync.replicas": "2"})
    wait_in_sync("cut", 1)
    ctrl = metadata(0)["controllerid"] // 1000
    leader = partitions(metadata(0, "cut"), "cut")[0]["leader"] // 1000
    f = next(i for i in range(NODES) if i not in (leader, ctrl))
    others = [i for i in range(NODES) if i != f]
    log(f"cut-0 led by node {leader}; cutting follower node {f} off")
    cl.link_down(f)
    try:
        values = [f"c-{i}" for i in range(2000)]
        acked = produce_rdkafka("cut", 0, values)
        expect_eq(sorted(v for v, _ in acked), sorted(values), "acked while a follower is cut off")
        harness.wait_until(lambda: all(isr_nodes(i, "cut", 0) == sorted(others) for i in others),
                           30, f"node {f} out of the ISR")
    finally:
        cl.link_up(f)
    wait_registered(range(NODES))
    wait_in_sync("cut", 1)
    got = consume_rdkafka("cut", 0, len(acked))
    expect_eq(sorted(got, key=lambda r: r[1]), sorted(acked, key=lambda r: r[1]),
              "records read back after the follower returned")
    wait_copies_equal(cl, "cut", 0, f, leader)
    log(f"node {f} back in the ISR with the leader's copy")


@harness.timeout(240)
def test_whole_cluster_restart(ctx):
    cl = cluster(ctx)
    check(ROUNDTRIP, "test_rf3_roundtrip left nothing to read back")
    before = replica_view(metadata(0))
    for b in cl.nodes:
        b.stop()
    netns.start_all(cl.nodes)
    wait_registered(range(NODES))
    for i in range(NODES):
        expect_eq(replica_view(metadata(i)), before, f"node {i}'s replicas after the restart")
    wait_in_sync("rep", 6)
    for part, acked in sorted(ROUNDTRIP.items()):
        got = consume_rdkafka("rep", part, len(acked))
        expect_eq(got, acked, f"rep-{part} after restarting every node")


if __name__ == "__main__":
    if os.geteuid() != 0:
        fail("needs root for ip netns")
    CL = netns.NetnsCluster(NODES).open()
    CL.enter_hub()
    harness.main([test_rf3_roundtrip, test_leader_killed_under_load,
                  test_controller_leader_killed_under_load, test_stalled_node_not_fenced,
                  test_follower_cut_off, test_reassignment, test_whole_cluster_restart])
