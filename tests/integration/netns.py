"""Clusters of sluice nodes on one machine, each node in a network namespace
of its own, joined by veth pairs to a bridge in a hub namespace.

    with NetnsCluster(3) as cl:        # namespaces, links, addresses
        cl.enter_hub()                 # this process now lives in the hub
        n = cl.node(0, sets={...})     # a harness.Broker run in node 0's netns
        n.start()
        cl.link_down(1); cl.link_up(1) # cut node 1 off and back
        cl.loss(2, 30)                 # drop 30% of node 2's packets

Addresses: the hub's bridge is 10.237.0.1/24 and node i is 10.237.0.(11+i)/24.
They exist only inside namespaces this module creates (named sl<pid>-hub,
sl<pid>-n<i>), so two runs at once never meet, and no packet leaves them:
the test's clients run in the hub (enter_hub) or in a node's namespace
(node_cmd). Nothing here touches the machine's own interfaces.

Teardown (close, also on an exception, at interpreter exit, and for
namespaces left by an earlier run whose process is gone): every broker
killed, every namespace deleted (which deletes its veths).

Needs root (ip netns). Standard library only.
"""

import atexit
import ctypes
import os
import re
import subprocess

import harness

PREFIX = "sl"
SUBNET = "10.237.0"
HUB_ADDR = f"{SUBNET}.1"
CLONE_NEWNET = 0x40000000
_NS_RE = re.compile(rf"^{PREFIX}(\d+)-(hub|n\d+)$")


def _ip(*args, check=True):
    return harness.run(["ip", *args], timeout=30, check_rc=check)


def namespaces():
    p = _ip("netns", "list", check=False)
    return [line.split()[0] for line in p.stdout.decode().splitlines() if line.strip()]


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def reap_stale():
    """Deletes namespaces of runs whose process no longer exists."""
    for ns in namespaces():
        m = _NS_RE.match(ns)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            _ip("netns", "del", ns, check=False)


def node_addr(i):
    return f"{SUBNET}.{11 + i}"


RAFT_PORT = 9190          # raft's transport on every node (controller.quorum.voters)
KAFKA_PORT = 9092


def voters(n, port=RAFT_PORT):
    """controller.quorum.voters for nodes 0..n-1, each a voter."""
    return ",".join(f"{i}@{node_addr(i)}:{port}" for i in range(n))


def bootstrap(i, port=KAFKA_PORT):
    return f"{node_addr(i)}:{port}"


def all_bootstrap(n, skip=()):
    return ",".join(bootstrap(i) for i in range(n) if i not in skip)


def start_all(nodes):
    """Starts nodes at once (none is ready before a quorum is up), from
    this thread, then waits for each."""
    for b in nodes:
        b.spawn()
    for b in nodes:
        b.wait_ready(90)


class NodeBroker(harness.Broker):
    """A harness.Broker whose process runs inside a node's namespace and
    listens on the node's address (the ready line names it)."""

    def __init__(self, cluster, index, port=9092, **kw):
        super().__init__(name=f"node{index}", **kw)
        self.cluster = cluster
        self.index = index
        self.port = port

    def argv(self):
        a = super().argv()
        i = a.index("--listen")
        a[i + 1] = f"{node_addr(self.index)}:{self.port}"
        return ["ip", "netns", "exec", self.cluster.ns(self.index)] + a


class NetnsCluster:
    def __init__(self, n):
        self.n = n
        self.pid = os.getpid()
        self.hub = f"{PREFIX}{self.pid}-hub"
        self.nodes = []
        self.made = []
        self.closed = False
        self._hub_fd = None
        self._root_fd = None

    def ns(self, i):
        return f"{PREFIX}{self.pid}-n{i}"

    # -- set-up and teardown --------------------------------------------------
    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def open(self):
        reap_stale()
        atexit.register(self.close)
        try:
            self._make(self.hub)
            _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.hub, "addr", "add", f"{HUB_ADDR}/24", "dev", "br0")
            _ip("-n", self.hub, "link", "set", "br0", "up")
            for i in range(self.n):
                ns = self.ns(i)
                self._make(ns)
                # The veth is born in the node's namespace; its peer moves to
                # the hub and joins the bridge.
                _ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", f"n{i}")
                _ip("-n", ns, "link", "set", f"n{i}", "netns", self.hub)
                _ip("-n", ns, "addr", "add", f"{node_addr(i)}/24", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
                _ip("-n", self.hub, "link", "set", f"n{i}", "master", "br0")
                _ip("-n", self.hub, "link", "set", f"n{i}", "up")
        except BaseException:
            self.close()
            raise
        return self

    def _make(self, ns):
        _ip("netns", "add", ns)
        self.made.append(ns)
        _ip("-n", ns, "link", "set", "lo", "up")

    def close(self):
        if self.closed:
            return
        self.closed = True
        for b in self.nodes:
            b.kill()
        self.leave_hub()
        for ns in reversed(self.made):
            _ip("netns", "del", ns, check=False)

    # -- this process's namespace ---------------------------------------------
    def enter_hub(self):
        """Moves this (still single-threaded) process into the hub, so that
        in-process clients (kafka-python) reach every node. Call before any
        thread is started; leave_hub() goes back."""
        libc = ctypes.CDLL(None, use_errno=True)
        if self._root_fd is None:
            self._root_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open(f"/run/netns/{self.hub}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the hub")
        finally:
            os.close(fd)

    def leave_hub(self):
        if self._root_fd is None:
            return
        libc = ctypes.CDLL(None, use_errno=True)
        libc.setns(self._root_fd, CLONE_NEWNET)
        os.close(self._root_fd)
        self._root_fd = None

    # -- nodes and links ----------------------------------------------------------
    def node(self, i, **kw):
        b = NodeBroker(self, i, **kw)
        self.nodes.append(b)
        return b

    def start_voters(self, shards, sets=None):
        """Nodes 0..n-1, every one a voter (node.id i, broker.rack rack-i,
        sets on top), started at once; returns them when all are ready."""
        nodes = [self.node(i, shards=shards, sets={
            "node.id": str(i), "controller.quorum.voters": voters(self.n),
            "broker.rack": f"rack-{i}", **(sets or {})}) for i in range(self.n)]
        start_all(nodes)
        return nodes

    def node_cmd(self, i, cmd, **kw):
        """Runs a command inside node i's namespace (harness.run)."""
        return harness.run(["ip", "netns", "exec", self.ns(i)] + list(cmd), **kw)

    def hub_cmd(self, cmd, **kw):
        return harness.run(["ip", "netns", "exec", self.hub] + list(cmd), **kw)

    def link_down(self, i):
        _ip("-n", self.hub, "link", "set", f"n{i}", "down")

    def link_up(self, i):
        _ip("-n", self.hub, "link", "set", f"n{i}", "up")

    def loss(self, i, percent):
        """Drops percent% of the packets node i sends and receives (0
        removes the rule). nftables' numgen in the node's namespace, not tc
        netem: this machine's kernel is built without sch_netem."""
        ns = self.ns(i)
        harness.run(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "slloss"],
                    timeout=30, check_rc=False)
        if percent <= 0:
            return
        rules = "table inet slloss {\n"
        drop = "drop" if percent >= 100 else f"numgen random mod 100 < {int(percent)} drop"
        for hook, dev in (("input", "iifname"), ("output", "oifname")):
            rules += (f"  chain {hook} {{ type filter hook {hook} priority 0; "
                      f"meta {dev} lo accept; {drop}; }}\n")
        rules += "}\n"
        harness.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules.encode(),
                    timeout=30)
