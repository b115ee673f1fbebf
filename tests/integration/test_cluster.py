#!/usr/bin/python3
"""Three sluice nodes, one cluster: the metadata quorum across network
namespaces (netns.py), as Kafka clients see it.

Every node is a voter (controller.quorum.voters lists the three, each on
its own namespace address, port 9190); each has two shards, so the cluster
has six brokers: 0, 1, 1000, 1001, 2000, 2001.

test_one_cluster: every node's Metadata lists the six brokers and the same
controller; a topic created through librdkafka's admin API (which sends it
to the controller) shows on every node with its partitions spread over the
three nodes; kcat produces to and reads back every partition through
whichever node leads it; CreateTopics sent to a node that is not the
controller gets NOT_CONTROLLER.

test_controller_failover: SIGKILL of the controller leader: the two others
elect a new one (Metadata names it), a topic created after that shows on
both, and the new leader fences the dead node (at once: its controller
port refuses connections; its brokers leave Metadata, its partitions show
no leader); the old
controller restarts, registers again, catches up, and all three nodes then
report the same brokers, topics, partitions and leaders.

test_controller_cut_off: the controller's link goes down: the other two
elect a new one and create a topic; the old one, alone, stops calling itself
controller; the link back, it learns the topic and all three agree.

test_follower_cut_off: a node that is not the controller loses its link: the
controller fences it after broker.session.timeout.ms (a cut link answers no
probe, so only the session timeout fences it); back, it registers
again and every node lists the six brokers.

test_whole_cluster_restart: SIGTERM to every node, all started again: the
same topics, partitions and leaders on every node, and every record written
in test_one_cluster reads back.

Partitions have one replica each for now (replication is the next step).
Needs root (ip netns).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import netns  # noqa: E402
from harness import check, expect_eq, fail, log  # noqa: E402
import kwire  # noqa: E402

NODES = 3
SHARDS = 2
CL = None


bootstrap = netns.bootstrap
start_all = netns.start_all


def all_bootstrap(skip=()):
    return netns.all_bootstrap(NODES, skip)


def cluster(ctx):
    if not CL.nodes:
        ctx.brokers.extend(CL.start_voters(SHARDS))
    return CL


def metadata(i):
    return harness.kcat_metadata(bootstrap(i))


def brokers_of(md):
    return sorted(b["id"] for b in md["brokers"])


ALL_BROKERS = sorted(n * 1000 + s for n in range(NODES) for s in range(SHARDS))


def wait_registered(nodes):
    def ok():
        return all(brokers_of(metadata(i)) == ALL_BROKERS for i in nodes)
    harness.wait_until(ok, 60, "every node to list the six brokers")


def topic_view(md, name):
    t = next((t for t in md["topics"] if t["topic"] == name), None)
    if t is None:
        return None
    return sorted((p["partition"], p["leader"]) for p in t["partitions"])


def create_topic(bootstrap_list, name, partitions):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": bootstrap_list})
    fut = a.create_topics([NewTopic(name, partitions, 1)], request_timeout=30)
    fut[name].result(timeout=60)


def test_one_cluster(ctx):
    cluster(ctx)
    wait_registered(range(NODES))
    md = [metadata(i) for i in range(NODES)]
    ctrl = {m["controllerid"] for m in md}
    check(len(ctrl) == 1 and ctrl.pop() in (0, 1000, 2000),
          f"controllers as the nodes report them: {[m['controllerid'] for m in md]}")
    create_topic(all_bootstrap(), "spread", 6)
    harness.wait_until(lambda: all(topic_view(metadata(i), "spread") and
                                   len(topic_view(metadata(i), "spread")) == 6
                                   for i in range(NODES)),
                       30, "the topic on every node")
    views = [topic_view(metadata(i), "spread") for i in range(NODES)]
    expect_eq(views[1], views[0], "node 1's view of the topic")
    expect_eq(views[2], views[0], "node 2's view of the topic")
    leader_nodes = {leader // 1000 for _, leader in views[0]}
    expect_eq(leader_nodes, set(range(NODES)), "nodes leading the topic's partitions")
    # Every partition takes writes and reads through its own leader.
    lines = [f"k{i}:v{i}" for i in range(600)]
    for p in range(6):
        part = [ln for i, ln in enumerate(lines) if i % 6 == p]
        harness.kcat(all_bootstrap(), ["-P", "-t", "spread", "-p", str(p), "-K:",
                                       "-X", "acks=all"],
                     input=("\n".join(part) + "\n").encode(), timeout=90)
        got = harness.kcat(all_bootstrap(), ["-C", "-t", "spread", "-p", str(p), "-e",
                                             "-o", "beginning", "-q", "-f", "%k:%s\\n"],
                           timeout=90).stdout.decode().splitlines()
        expect_eq(got, part, f"partition {p} read back")
    # A node that does not lead the quorum refuses to change metadata.
    leader = md[0]["controllerid"] // 1000
    other = (leader + 1) % NODES
    err = kwire.create_topic_error(netns.node_addr(other), 9092, "refused", 1)
    expect_eq(err, 41, "CreateTopics at a node that is not the controller")


def controller(i):
    return metadata(i)["controllerid"]


@harness.timeout(240)
def test_controller_failover(ctx):
    cl = cluster(ctx)
    wait_registered(range(NODES))
    old = controller(0) // 1000
    survivors = [i for i in range(NODES) if i != old]
    t0 = time.monotonic()
    cl.nodes[old].kill()
    harness.wait_until(lambda: all(controller(i) not in (-1, old * 1000)
                                   for i in survivors),
                       30, "a new controller on the surviving nodes")
    log(f"controller {old} killed; node {controller(survivors[0]) // 1000} leads "
        f"after {time.monotonic() - t0:.1f}s")
    create_topic(all_bootstrap(skip=(old,)), "after-failover", 4)
    harness.wait_until(lambda: all(topic_view(metadata(i), "after-failover")
                                   for i in survivors),
                       30, "the new topic on the surviving nodes")
    # The new leader fences the dead node: its brokers leave Metadata and
    # its partitions (one replica each, for now) have no leader.
    alive = sorted(b for b in ALL_BROKERS if b // 1000 != old)
    harness.wait_until(lambda: all(brokers_of(metadata(i)) == alive for i in survivors),
                       40, f"node {old} fenced on the surviving nodes")
    dead = [p for p, leader in topic_view(metadata(survivors[0]), "spread")
            if leader == -1]
    expect_eq(len(dead), 2, f"partitions of 'spread' without a leader ({dead})")
    cl.nodes[old].start(timeout=90)
    wait_registered(range(NODES))
    for name in ("spread", "after-failover"):
        harness.wait_until(lambda: topic_view(metadata(old), name), 30,
                           f"{name} on the restarted node")
    views = []
    for i in range(NODES):
        md = metadata(i)
        views.append({t["topic"]: topic_view(md, t["topic"]) for t in md["topics"]})
    expect_eq(views[1], views[0], "node 1's topics against node 0's")
    expect_eq(views[2], views[0], "node 2's topics against node 0's")
    expect_eq({controller(i) for i in range(NODES)}, {controller(0)},
              "the controller every node names")


@harness.timeout(240)
def test_controller_cut_off(ctx):
    cl = cluster(ctx)
    wait_registered(range(NODES))
    old = controller(0) // 1000
    survivors = [i for i in range(NODES) if i != old]
    cl.link_down(old)
    try:
        harness.wait_until(lambda: all(controller(i) not in (-1, old * 1000)
                                       for i in survivors),
                           30, "a new controller while the old one is cut off")
        create_topic(all_bootstrap(skip=(old,)), "during-cut", 2)
        harness.wait_until(lambda: all(topic_view(metadata(i), "during-cut")
                                       for i in survivors),
                           30, "the new topic on the connected nodes")
        # Alone, the old leader steps down (it hears no majority): asked
        # from inside its namespace, it names no controller of its own.
        def own_view():
            p = cl.node_cmd(old, [harness.KCAT, "-b", bootstrap(old), "-m", "10",
                                  "-L", "-J"], timeout=60, check_rc=False)
            return p.returncode == 0 and b'"controllerid":%d' % (old * 1000) not in \
                p.stdout.replace(b" ", b"")
        harness.wait_until(own_view, 30, f"node {old} to stop calling itself controller")
    finally:
        cl.link_up(old)
    harness.wait_until(lambda: topic_view(metadata(old), "during-cut"), 60,
                       f"the topic created during the cut on node {old}")
    wait_registered(range(NODES))
    views = [{t["topic"]: topic_view(md, t["topic"]) for t in md["topics"]}
             for md in (metadata(i) for i in range(NODES))]
    expect_eq(views[1], views[0], "node 1's topics against node 0's after the cut")
    expect_eq(views[2], views[0], "node 2's topics against node 0's after the cut")


@harness.timeout(240)
def test_follower_cut_off(ctx):
    cl = cluster(ctx)
    wait_registered(range(NODES))
    leader = controller(0) // 1000
    f = (leader + 1) % NODES
    others = [i for i in range(NODES) if i != f]
    alive = sorted(b for b in ALL_BROKERS if b // 1000 != f)
    cl.link_down(f)
    try:
        harness.wait_until(lambda: all(brokers_of(metadata(i)) == alive for i in others),
                           40, f"node {f} fenced while cut off")
    finally:
        cl.link_up(f)
    # Back, it learns it was fenced and registers again.
    wait_registered(range(NODES))
    log(f"node {f} fenced while cut off and back after its link returned")


@harness.timeout(240)
def test_whole_cluster_restart(ctx):
    cl = cluster(ctx)
    wait_registered(range(NODES))
    before = [{t["topic"]: topic_view(md, t["topic"]) for t in md["topics"]}
              for md in (metadata(i) for i in range(NODES))]
    for b in cl.nodes:
        b.stop()
    start_all(cl.nodes)
    wait_registered(range(NODES))
    for i in range(NODES):
        md = metadata(i)
        after = {t["topic"]: topic_view(md, t["topic"]) for t in md["topics"]}
        expect_eq(after, before[0], f"node {i}'s topics after restarting every node")
    for p in range(6):
        got = harness.kcat(all_bootstrap(), ["-C", "-t", "spread", "-p", str(p), "-e",
                                             "-o", "beginning", "-q", "-f", "%k:%s\\n"],
                           timeout=90).stdout.decode().splitlines()
        expect_eq(got, [f"k{i}:v{i}" for i in range(600) if i % 6 == p],
                  f"partition {p} after restarting every node")


if __name__ == "__main__":
    if os.geteuid() != 0:
        fail("needs root for ip netns")
    CL = netns.NetnsCluster(NODES).open()
    CL.enter_hub()
    harness.main([test_one_cluster, test_controller_failover, test_controller_cut_off,
                  test_follower_cut_off, test_whole_cluster_restart])
