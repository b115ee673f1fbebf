#!/usr/bin/python3
"""Transactions with real clients (confluent-kafka on librdkafka) and raw
requests.

test_ctp_killed: a consume-transform-produce worker (txn_worker.py) copies
an input topic to an output topic in transactions, input offsets committed
in the same transaction. It is SIGKILLed at random points six times and the
broker twice (and restarted on its port); a new worker with the same
transactional.id fences the old one and aborts its open transaction. In the
end the output read with read_committed holds every input record exactly
once, in order; read with read_uncommitted it also holds what the aborted
transactions wrote.

test_abort_visibility: committed, aborted, committed: read_committed sees
the two committed transactions, read_uncommitted all three.

test_timeout_abort: a producer that begins and never commits is aborted by
the broker after transaction.timeout.ms, and is fenced when it tries to
commit afterwards.

test_fencing: a second producer with the same transactional.id fences the
first; only the second's transaction is visible.

test_bad_input: producer ids, epochs and sequences that lie, markers sent
by a client, transactional writes to a partition not in the transaction,
EndTxn with the wrong producer: each gets Kafka's error code and the broker
keeps serving.

test_pipelined_first_writes: a transaction's first writes to a partition in
four produce requests pipelined on one connection, each verified with the
coordinator before the first lands: all taken, in order.

test_cli_hanging_txn: `sluice txn list|describe|abort` and `sluice
producers` on a transaction whose producer died with it open.
"""

import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import kwire  # noqa: E402
from harness import check, expect_eq, fail, log  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
N_IN = int(os.environ.get("SLUICE_IT_TXN_N", "4000"))
WORKER_KILLS = int(os.environ.get("SLUICE_IT_TXN_WORKER_KILLS", "6"))
BROKER_KILLS = int(os.environ.get("SLUICE_IT_TXN_BROKER_KILLS", "2"))
SEED = int(os.environ.get("SLUICE_IT_SEED", str(int(time.time()))))
PY = "/usr/bin/python3"


def create_topics(bootstrap, names, partitions):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": bootstrap})
    fs = a.create_topics([NewTopic(n, partitions, 1) for n in names])
    for f in fs.values():
        f.result(30)


def read_values(bootstrap, topic, partitions, isolation):
    return harness.consume_values(bootstrap, topic, partitions, isolation)


def watermarks(bootstrap, topic, partition, isolation):
    """(low, high) as a consumer of that isolation sees it: high is the LSO
    for read_committed (ListOffsets v2+ carries the isolation level)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-wm",
                  "isolation.level": isolation})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
    finally:
        c.close()


class Worker:
    """txn_worker.py as a subprocess; its "committed N" lines are events."""

    def __init__(self, b, total):
        self.proc = subprocess.Popen(
            [PY, os.path.join(HERE, "txn_worker.py"), b.bootstrap, "ctp-group", "ctp-txn",
             "ctp-in", "ctp-out", "2", str(total)],
            stdout=subprocess.PIPE, stderr=open(os.path.join(b.workdir, "worker.log"), "ab"),
            preexec_fn=harness._die_with_parent)
        self.committed = 0
        self.done = False
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode().strip()
            with self.cv:
                if line.startswith("committed "):
                    self.committed = int(line.split()[1])
                elif line == "done":
                    self.done = True
                self.cv.notify_all()
        self.proc.wait()
        with self.cv:
            self.cv.notify_all()

    def wait_committed(self, at_least, timeout=120):
        with self.cv:
            ok = self.cv.wait_for(lambda: self.committed >= at_least or self.done or
                                  self.proc.poll() is not None, timeout=timeout)
        check(ok, f"the worker committed only {self.committed} of {at_least} in {timeout}s")
        rc = self.proc.poll()
        check(rc is None or self.done, f"the worker exited with {rc} after {self.committed} "
                                       f"committed (see worker.log in the kept directory)")
        return self.committed

    def kill(self):
        self.proc.kill()
        self.proc.wait(30)

    def finish(self, timeout=180):
        rc = self.proc.wait(timeout)
        expect_eq(rc, 0, "the last worker's exit status")
        check(self.done, "the last worker did not finish")


def test_ctp_killed(ctx):
    rnd = random.Random(SEED)
    log(f"seed {SEED} (SLUICE_IT_SEED replays the kill points)")
    b = ctx.new_broker("ctp", port=harness.free_ports(2))
    create_topics(b.bootstrap, ["ctp-in", "ctp-out"], 2)
    from confluent_kafka import Producer
    prod = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
    for i in range(N_IN):
        prod.produce("ctp-in", key=b"k%d" % i, value=b"v%d" % i, partition=i % 2)
    expect_eq(prod.flush(60), 0, "input records not delivered")
    kills = ["worker"] * WORKER_KILLS + ["broker"] * BROKER_KILLS
    rnd.shuffle(kills)
    progress = 0
    for what in kills:
        w = Worker(b, N_IN)
        # kill somewhere in the next part of the run, mid-transaction or not
        target = progress + rnd.randint(1, max(2, N_IN // (len(kills) + 2)))
        progress = w.wait_committed(target)
        time.sleep(rnd.uniform(0, 0.03))  # a random kill point, not a synchronisation
        if what == "broker":
            b.kill()
            b.start()
            progress = w.wait_committed(progress + 1)
        w.kill()
        log(f"killed the {what} after {progress} input records committed")
    w = Worker(b, N_IN)
    w.finish()
    committed = read_values(b.bootstrap, "ctp-out", 2, "read_committed")
    for p in range(2):
        want = [b"out:v%d" % i for i in range(p, N_IN, 2)]
        if committed[p] != want:
            dups = len(committed[p]) - len(set(committed[p]))
            fail(f"ctp-out partition {p} read_committed: {len(committed[p])} records, "
                 f"expected {len(want)}; {dups} duplicates; first "
                 f"{committed[p][:3]} vs {want[:3]}")
    uncommitted = read_values(b.bootstrap, "ctp-out", 2, "read_uncommitted")
    aborted = sum(len(uncommitted[p]) for p in range(2)) - N_IN
    check(aborted >= 0, "read_uncommitted shows fewer records than read_committed")
    for p in range(2):
        check(set(committed[p]) <= set(uncommitted[p]), f"partition {p}: committed not a subset")
    log(f"every input exactly once in {N_IN} committed outputs; read_uncommitted also sees "
        f"{aborted} records of aborted transactions")


def txn_producer(b, txn_id, **conf):
    from confluent_kafka import Producer
    c = {"bootstrap.servers": b.bootstrap, "transactional.id": txn_id, "linger.ms": 1}
    c.update(conf)
    p = Producer(c)
    p.init_transactions(30)
    return p


def test_abort_visibility(ctx):
    b = ctx.broker
    create_topics(b.bootstrap, ["vis"], 1)
    p = txn_producer(b, "vis-txn")
    for name, commit in (("a", True), ("b", False), ("c", True)):
        p.begin_transaction()
        for i in range(10):
            p.produce("vis", value=b"%s%d" % (name.encode(), i), partition=0)
        expect_eq(p.flush(30), 0, "messages not sent before the end of the transaction")
        if commit:
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)
    rc = read_values(b.bootstrap, "vis", 1, "read_committed")[0]
    ru = read_values(b.bootstrap, "vis", 1, "read_uncommitted")[0]
    expect_eq(rc, [b"a%d" % i for i in range(10)] + [b"c%d" % i for i in range(10)],
              "read_committed")
    expect_eq(ru, [b"%s%d" % (n, i) for n in (b"a", b"b", b"c") for i in range(10)],
              "read_uncommitted")
    # three markers take offsets: the end is 33, and both views agree on it
    expect_eq(watermarks(b.bootstrap, "vis", 0, "read_uncommitted")[1], 33, "high watermark")
    expect_eq(watermarks(b.bootstrap, "vis", 0, "read_committed")[1], 33, "last stable offset")


def test_timeout_abort(ctx):
    from confluent_kafka import KafkaException
    b = ctx.new_broker("txn-timeout",
                       sets={"transaction.abort.timed.out.transaction.cleanup.interval.ms": 200})
    create_topics(b.bootstrap, ["slow"], 1)
    p = txn_producer(b, "slow-txn", **{"transaction.timeout.ms": 2000})
    p.begin_transaction()
    for i in range(5):
        p.produce("slow", value=b"never%d" % i, partition=0)
    expect_eq(p.flush(30), 0, "messages not sent")
    # open: the LSO holds at the transaction's first offset
    expect_eq(watermarks(b.bootstrap, "slow", 0, "read_committed")[1], 0, "LSO of an open txn")
    harness.wait_until(lambda: "timed out after" in b.log_text(), 30,
                       "the broker to abort the timed-out transaction")
    harness.wait_until(lambda: watermarks(b.bootstrap, "slow", 0, "read_committed")[1] == 6, 30,
                       "the abort marker to move the LSO to the end")
    expect_eq(read_values(b.bootstrap, "slow", 1, "read_committed")[0], [], "read_committed")
    expect_eq(len(read_values(b.bootstrap, "slow", 1, "read_uncommitted")[0]), 5,
              "read_uncommitted")
    try:
        p.commit_transaction(10)
        fail("commit of a transaction the broker aborted succeeded")
    except KafkaException as e:
        log(f"the timed-out producer's commit: {e.args[0]}")


def test_fencing(ctx):
    from confluent_kafka import KafkaException
    b = ctx.broker
    create_topics(b.bootstrap, ["fence"], 1)
    first = txn_producer(b, "fence-txn")
    first.begin_transaction()
    first.produce("fence", value=b"zombie", partition=0)
    expect_eq(first.flush(30), 0, "zombie message not sent")
    second = txn_producer(b, "fence-txn")  # fences the first, aborts its transaction
    second.begin_transaction()
    second.produce("fence", value=b"live", partition=0)
    second.commit_transaction(30)
    try:
        first.produce("fence", value=b"zombie2", partition=0)
        first.commit_transaction(10)
        fail("the fenced producer committed")
    except KafkaException as e:
        check(e.args[0].fatal() or "fenc" in str(e).lower(),
              f"the fenced producer's error is not fatal: {e}")
    expect_eq(read_values(b.bootstrap, "fence", 1, "read_committed")[0], [b"live"],
              "read_committed after fencing")


def test_bad_input(ctx):
    b = ctx.broker
    create_topics(b.bootstrap, ["bad-eos"], 2)
    host, port = b.host_port()
    corr = [0]

    def call(c, api, ver, body, parse):
        corr[0] += 1
        return parse(c.call(api, ver, body, corr[0]))

    def produce(c, batch, txn_id=None, partition=0):
        res = call(c, kwire.API_PRODUCE, 7,
                   kwire.produce_v7_body("bad-eos", partition, batch, txn_id=txn_id),
                   kwire.parse_produce_v7)
        return res[("bad-eos", partition)]

    def batch(pid, epoch, seq, n=2, attributes=0):
        return kwire.record_batch([(b"k", b"v%d" % i, ()) for i in range(n)], pid=pid,
                                  epoch=epoch, seq=seq, attributes=attributes)

    with kwire.Conn(host, port) as c:
        err, pid, epoch = call(c, kwire.API_INIT_PRODUCER_ID, 1,
                               kwire.init_producer_id_v1_body(), kwire.parse_init_producer_id_v1)
        expect_eq((err, epoch), (0, 0), "InitProducerId of an idempotent producer")
        r = produce(c, batch(pid, 0, 0))
        expect_eq((r["error"], r["base_offset"]), (0, 0), "first batch")
        r = produce(c, batch(pid, 0, 0))
        expect_eq((r["error"], r["base_offset"]), (0, 0), "a retried batch: its offset again")
        expect_eq(produce(c, batch(pid, 0, 9))["error"], 45, "a sequence gap")
        expect_eq(produce(c, batch(pid, 1, 3))["error"], 45, "a new epoch not at sequence 0")
        expect_eq(produce(c, batch(pid, 1, 0))["error"], 0, "a new epoch at 0")
        expect_eq(produce(c, batch(pid, 0, 2))["error"], 47, "an old epoch")
        expect_eq(produce(c, batch(pid + 1000000, 0, 0))["error"], 59,
                  "a producer id never handed out")
        expect_eq(produce(c, batch(pid, 1, -1))["error"], 87, "a producer batch without sequence")
        expect_eq(produce(c, batch(pid, 1, 2, n=1,
                                   attributes=kwire.ATTR_CONTROL | kwire.ATTR_TRANSACTIONAL))["error"],
                  87, "a marker sent by a client")
        # transactional
        err, tpid, tepoch = call(c, kwire.API_INIT_PRODUCER_ID, 1,
                                 kwire.init_producer_id_v1_body("bad-txn"),
                                 kwire.parse_init_producer_id_v1)
        expect_eq(err, 0, "InitProducerId of a transactional producer")
        txn = batch(tpid, tepoch, 0, attributes=kwire.ATTR_TRANSACTIONAL)
        expect_eq(produce(c, txn, txn_id="bad-txn")["error"], 48,
                  "a transactional write to a partition not in the transaction")
        expect_eq(produce(c, txn)["error"], 48, "a transactional write without its id")
        res = call(c, kwire.API_ADD_PARTITIONS_TO_TXN, 1,
                   kwire.add_partitions_v1_body("bad-txn", tpid, tepoch + 3, "bad-eos", [0]),
                   kwire.parse_add_partitions_v1)
        expect_eq(res[("bad-eos", 0)], 47, "AddPartitionsToTxn v1 with a wrong epoch")
        res = call(c, kwire.API_ADD_PARTITIONS_TO_TXN, 1,
                   kwire.add_partitions_v1_body("bad-txn", tpid, tepoch, "bad-eos", [0]),
                   kwire.parse_add_partitions_v1)
        expect_eq(res[("bad-eos", 0)], 0, "AddPartitionsToTxn")
        expect_eq(produce(c, txn, txn_id="bad-txn")["error"], 0, "a transactional write")
        expect_eq(call(c, kwire.API_END_TXN, 1, kwire.end_txn_v1_body("bad-txn", tpid + 1, tepoch, True),
                       kwire.parse_end_txn_v1), 49, "EndTxn with another producer id")
        expect_eq(call(c, kwire.API_END_TXN, 1, kwire.end_txn_v1_body("nope", tpid, tepoch, True),
                       kwire.parse_end_txn_v1), 49, "EndTxn of an unknown transactional id")
        expect_eq(call(c, kwire.API_END_TXN, 1, kwire.end_txn_v1_body("bad-txn", tpid, tepoch, True),
                       kwire.parse_end_txn_v1), 0, "EndTxn")
    expect_eq(watermarks(b.bootstrap, "bad-eos", 0, "read_committed")[1],
              watermarks(b.bootstrap, "bad-eos", 0, "read_uncommitted")[1],
              "the LSO after the commit")
    harness.kcat_roundtrip(b.bootstrap, "bad-eos-after", n=100)


def test_pipelined_first_writes(ctx):
    """A transaction's first writes to a partition in requests pipelined on
    one connection (a Java producer has up to five in flight; Kafka
    Streams' exactly_once_v2 sends that way): the shard verifies each with
    the coordinator before the first lands, and every one must be taken,
    in order, not the first refused INVALID_TXN_STATE because the second's
    verification voided it."""
    b = ctx.broker
    create_topics(b.bootstrap, ["pipe-eos"], 1)
    host, port = b.host_port()
    with kwire.Conn(host, port) as c, kwire.Conn(*kwire.leader_of(host, port, "pipe-eos", 0)) as d:
        r = c.call(kwire.API_INIT_PRODUCER_ID, 1, kwire.init_producer_id_v1_body("pipe-txn"), 1)
        err, pid, epoch = kwire.parse_init_producer_id_v1(r)
        expect_eq(err, 0, "InitProducerId")
        rounds, per = 3, 4
        for rnd in range(rounds):
            r = c.call(kwire.API_ADD_PARTITIONS_TO_TXN, 1,
                       kwire.add_partitions_v1_body("pipe-txn", pid, epoch, "pipe-eos", [0]), 2)
            expect_eq(kwire.parse_add_partitions_v1(r)[("pipe-eos", 0)], 0, "AddPartitionsToTxn")
            frames = b""
            for k in range(per):
                batch = kwire.record_batch([(b"k", b"r%d-%d-%d" % (rnd, k, i), ()) for i in range(2)],
                                           pid=pid, epoch=epoch, seq=(rnd * per + k) * 2,
                                           attributes=kwire.ATTR_TRANSACTIONAL)
                frames += kwire.request(kwire.API_PRODUCE, 7, 100 + k, kwire.produce_v7_body(
                    "pipe-eos", 0, batch, txn_id="pipe-txn"))
            d.send(frames)  # all in flight before the first is answered
            offsets = []
            for k in range(per):
                r = kwire.Reader(d.recv_frame())
                expect_eq(r.i32(), 100 + k, "the answers in request order")
                res = kwire.parse_produce_v7(r)[("pipe-eos", 0)]
                expect_eq(res["error"], 0, f"round {rnd}: pipelined request {k} of {per}")
                offsets.append(res["base_offset"])
            check(offsets == sorted(offsets) and len(set(offsets)) == per,
                  f"round {rnd}: base offsets {offsets} not increasing")
            r = c.call(kwire.API_END_TXN, 1, kwire.end_txn_v1_body("pipe-txn", pid, epoch, True), 3)
            expect_eq(kwire.parse_end_txn_v1(r), 0, "EndTxn")
    got = read_values(b.bootstrap, "pipe-eos", 1, "read_committed")[0]
    want = [b"r%d-%d-%d" % (rnd, k, i) for rnd in range(rounds) for k in range(per) for i in range(2)]
    expect_eq(got, want, "read_committed after the commits")


def sluice_cli():
    path = os.environ.get("SLUICE_CLI") or os.path.join(
        os.path.dirname(os.path.abspath(harness.sluiced_path())), "cli", "sluice")
    check(os.access(path, os.X_OK), f"the sluice CLI is not at {path} (set SLUICE_CLI)")
    return path


def test_cli_hanging_txn(ctx):
    """A producer that dies inside a transaction with a long timeout: the
    CLI lists and describes it, shows the partition's producers, and its
    abort makes the partition readable past it again."""
    import json
    b = ctx.broker
    create_topics(b.bootstrap, ["hang"], 1)
    script = ("import os, sys\n"
              "from confluent_kafka import Producer\n"
              "p = Producer({'bootstrap.servers': sys.argv[1], 'transactional.id': 'hanging',\n"
              "              'transaction.timeout.ms': 600000})\n"
              "p.init_transactions(30)\n"
              "p.begin_transaction()\n"
              "for i in range(3):\n"
              "    p.produce('hang', value=b'h%d' % i, partition=0)\n"
              "assert p.flush(30) == 0\n"
              "os._exit(0)\n")
    harness.run([PY, "-c", script, b.bootstrap], timeout=60)
    cli = [sluice_cli(), "-b", b.bootstrap, "--json"]
    listed = json.loads(harness.run(cli + ["txn", "list", "--state", "Ongoing"]).stdout)
    check(any(t["transactional_id"] == "hanging" for t in listed["transactions"]),
          f"txn list: {listed}")
    desc = json.loads(harness.run(cli + ["txn", "describe", "hanging"]).stdout)
    t = desc["transactions"][0]
    expect_eq((t["state"], t["partitions"]), ("Ongoing", [{"topic": "hang", "partition": 0}]),
              "txn describe")
    prods = json.loads(harness.run(cli + ["producers", "hang"]).stdout)["producers"]
    expect_eq([(p["producer_id"], p["txn_start_offset"]) for p in prods],
              [(t["producer_id"], 0)], "producers of hang")
    expect_eq(watermarks(b.bootstrap, "hang", 0, "read_committed")[1], 0, "LSO while hanging")
    table = harness.run(cli[:-1] + ["producers", "hang"]).stdout.decode()
    check("TXN START OFFSET" in table, f"producers table: {table}")
    harness.run(cli + ["txn", "abort", "hang", "0"])
    expect_eq(watermarks(b.bootstrap, "hang", 0, "read_committed")[1], 4, "LSO after the abort")
    expect_eq(read_values(b.bootstrap, "hang", 1, "read_committed")[0], [], "read_committed")
    p = harness.run(cli + ["txn", "abort", "hang", "0"], check_rc=False)
    expect_eq(p.returncode, 1, "a second abort (nothing open) exit status")
    p = harness.run(cli + ["txn", "describe", "no-such-txn"], check_rc=False)
    expect_eq(p.returncode, 1, "describe of an unknown id exit status")
    check("TRANSACTIONAL_ID_NOT_FOUND" in p.stdout.decode(), f"describe: {p.stdout[:300]}")


if __name__ == "__main__":
    harness.main([test_ctp_killed, test_abort_visibility, test_timeout_abort, test_fencing,
                  test_bad_input, test_pipelined_first_writes, test_cli_hanging_txn],
                 test_timeout=600)
