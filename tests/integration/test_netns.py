#!/usr/bin/python3
"""The network-namespace harness (netns.py) and the node-id scheme.

test_nodes_in_namespaces: three nodes (node.id 0, 1, 2; two shards each),
each in its own namespace on its own address; from the hub, kcat sees each
node's shards as brokers node.id*1000+shard on the node's address, and a
round trip works on every node; a node reaches another node's broker.

test_link_down_and_loss: cutting node 1's link makes it unreachable while
node 0 still answers; up again, it answers; dropping all of its packets
(nftables, netns.py's loss) does the same, and removing the rule brings it
back.

test_teardown_on_failure: a child that builds a cluster, starts a node and
then raises leaves no namespace and no broker behind; a child killed with
SIGKILL leaves namespaces that the next cluster's set-up reaps.

Needs root (ip netns, nft). Every address lives in namespaces made here.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import netns  # noqa: E402
from harness import check, expect_eq, fail, log  # noqa: E402

NODES = 3
SHARDS = 2
CL = None


def cluster(ctx):
    """The module's cluster, its NODES nodes started on first use."""
    if not CL.nodes:
        for i in range(NODES):
            b = CL.node(i, shards=SHARDS, sets={"node.id": str(i)})
            ctx.brokers.append(b)
            b.start()
    return CL


def bootstrap(i):
    return f"{netns.node_addr(i)}:9092"


def test_nodes_in_namespaces(ctx):
    cl = cluster(ctx)
    for i in range(NODES):
        md = harness.kcat_metadata(bootstrap(i))
        got = sorted((b["id"], b["name"]) for b in md["brokers"])
        want = [(i * 1000 + s, f"{netns.node_addr(i)}:{9092 + s}") for s in range(SHARDS)]
        expect_eq(got, want, f"node {i}: brokers (id, address)")
        expect_eq(md["controllerid"], i * 1000, f"node {i}: controller id")
        harness.kcat_roundtrip(bootstrap(i), f"netns-{i}", n=200)
    # Node to node, as replication will go: kcat inside node 2's namespace.
    p = cl.node_cmd(2, [harness.KCAT, "-b", bootstrap(0), "-m", "30", "-L", "-J"], timeout=60)
    check(b'"id":1,' in p.stdout.replace(b" ", b"") or b'"id":1' in p.stdout,
          f"node 2 does not see node 0's brokers: {p.stdout[:300]!r}")


def reachable(i, timeout_s=3):
    p = harness.run([harness.KCAT, "-b", bootstrap(i), "-m", str(timeout_s), "-L"],
                    timeout=30, check_rc=False)
    return p.returncode == 0


def test_link_down_and_loss(ctx):
    cl = cluster(ctx)
    check(reachable(1), "node 1 unreachable before the cut")
    cl.link_down(1)
    try:
        check(not reachable(1), "node 1 still answers with its link down")
        check(reachable(0), "node 0 stopped answering when node 1's link went down")
    finally:
        cl.link_up(1)
    harness.wait_until(lambda: reachable(1), 30, "node 1 after its link came back")
    cl.loss(1, 100)
    try:
        check(not reachable(1), "node 1 answers through 100% loss")
        check(reachable(0), "node 0 stopped answering when node 1 lost its packets")
    finally:
        cl.loss(1, 0)
    harness.wait_until(lambda: reachable(1), 30, "node 1 after the loss was removed")


CHILD = r"""
import os, signal, sys
sys.path.insert(0, {here!r})
import netns
cl = netns.NetnsCluster(2).open()
b = cl.node(0, shards=1)
b.start()
print("PID", os.getpid(), b.proc.pid, flush=True)
if sys.argv[1] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
with cl:
    raise RuntimeError("a test failing in the middle")
"""


def run_child(mode):
    src = CHILD.format(here=os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, SLUICE_IT_KEEP="")
    p = subprocess.run([sys.executable, "-c", src, mode], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120, env=env)
    line = next((ln for ln in p.stdout.decode().splitlines() if ln.startswith("PID ")), None)
    check(line is not None, f"the child never started its node (rc {p.returncode}):\n"
          f"{p.stderr.decode()[-2000:]}")
    _, pid, broker = line.split()
    return p.returncode, int(pid), int(broker)


def broker_gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


def mine(pid):
    return [ns for ns in netns.namespaces() if ns.startswith(f"{netns.PREFIX}{pid}-")]


def test_teardown_on_failure(ctx):
    rc, pid, broker = run_child("raise")
    check(rc != 0, "the failing child exited 0")
    expect_eq(mine(pid), [], "namespaces left by a child that failed")
    harness.wait_until(lambda: broker_gone(broker), 30, "the failed child's broker to exit")
    rc, pid, broker = run_child("kill")
    expect_eq(rc, -9, "the child's exit status")
    # Its broker dies with it (PR_SET_PDEATHSIG); its namespaces remain
    # until the next cluster is set up.
    harness.wait_until(lambda: broker_gone(broker), 30, "the killed child's broker to exit")
    check(len(mine(pid)) == 3, f"namespaces of the killed child: {mine(pid)}")
    netns.reap_stale()
    expect_eq(mine(pid), [], "namespaces of the killed child after reap_stale")
    log("failed and killed runs leave nothing behind")


if __name__ == "__main__":
    if os.geteuid() != 0:
        fail("needs root for ip netns")
    # Before any thread: this process (kcat, clients) lives in the hub.
    CL = netns.NetnsCluster(NODES).open()
    CL.enter_hub()
    harness.main([test_nodes_in_namespaces, test_link_down_and_loss,
                  test_teardown_on_failure])
