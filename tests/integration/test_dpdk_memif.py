#!/usr/bin/python3
"""Native UDP produce from a DPDK sender: `sluice send --dpdk` (libsluice-send
over its own DPDK port) to the broker over net_memif, kernel bypass at both
ends.

    SLUICED=build/sluiced SLUICE_CLI=build/cli/sluice /usr/bin/python3 tests/integration/test_dpdk_memif.py

The broker is the memif server (started first), each sender a memif client
in a process of its own with its own EAL (--no-shconf: two primary
processes). The sender finds the broker by ARP, sends, and exits 0 only
once every record is acknowledged; kcat reads them back byte-identical.
Two senders one after the other (two producers, two memif connections)
append in order."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dpdk_env as env  # noqa: E402
import harness  # noqa: E402
from harness import check, expect_eq  # noqa: E402

N = int(os.environ.get("SLUICE_IT_MEMIF_N", "20000"))


def test_dpdk_sender_over_memif(ctx):
    b = ctx.new_broker("memif", start=False, shards=1)
    sock = os.path.join(b.workdir, "memif.sock")
    b.sets.update(env.dpdk_sets(f"net_memif0,role=server,socket={sock}"))
    b.start()
    env.create_topic(b.bootstrap, "bypass")
    want = []
    for k, batch in enumerate(("10", "1")):
        recs = [f"k{i % 31}:m{k}-{i}-{'z' * (i % 57)}" for i in range(N if k == 0 else N // 10)]
        eal = env.eal_args(f"net_memif0,role=client,socket={sock}")
        out, _ = env.sluice(b.bootstrap, "--json", "--timeout", "60000", "send", "bypass",
                            "--to", f"{env.BROKER_IP}:{env.NATIVE_PORT}", "-K:",
                            "--batch", batch, "--dpdk", eal, "--local-ip", f"{env.PEER_IP}/24",
                            input=("\n".join(recs) + "\n").encode(), core=env.SENDER_CORE)
        r = json.loads(out)
        expect_eq((r["records"], r["acked"]), (len(recs), len(recs)),
                  f"sender {k}: records sent and acknowledged")
        want += recs
        expect_eq(r["last_offset"], len(want) - 1, f"sender {k}: the last offset acked")
    p = harness.kcat(b.bootstrap, ["-C", "-t", "bypass", "-e", "-q", "-o", "beginning",
                                   "-f", "%k:%s\\n"], timeout=120)
    expect_eq(p.stdout.decode().splitlines(), want, "records read back with kcat")
    b.stop()
    st = env.dpdk_stats(b)
    expect_eq(env.total(st, "native.records"), len(want), "records appended")
    check(env.total(st, "net.arp_replies") >= 2, f"each sender found the broker by ARP: {st}")


if __name__ == "__main__":
    env.enter_netns("sl-memif")
    harness.main([test_dpdk_sender_over_memif], shards=1)
