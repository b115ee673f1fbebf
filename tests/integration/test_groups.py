#!/usr/bin/python3
"""Consumer groups, end to end, with real clients as subprocesses.

    SLUICED=build/sluiced GROUP_CONSUMER=build/tests/integration/group_consumer \
        /usr/bin/python3 tests/integration/test_groups.py

The broker runs with --set group.initial.rebalance.delay.ms=0. Consumers are
subprocesses (group_worker.py for confluent-kafka and kafka-python,
group_consumer.c for librdkafka with cooperative-sticky) that print what
they process and commit (REC / COMMITTED / ASSIGNED lines); the tests wait
on those events, never on sleeps, and every wait has a timeout.

Properties (the consumer-groups issue):
  * three consumers in one group on a 6-partition topic: every partition is
    owned by exactly one member; one closes, another is SIGKILLed: every
    partition is owned again, and each partition resumes exactly at its last
    committed offset (no committed record skipped) - for confluent-kafka,
    kafka-python and librdkafka/cooperative-sticky;
  * two groups on one topic each receive every record (pub-sub);
  * at-least-once (process, then commit) under random SIGKILLs: the union of
    processed records is everything;
  * at-most-once (commit, then process) under random SIGKILLs: nothing is
    processed twice, and at most one record per kill is lost;
  * committed offsets survive a broker SIGKILL + restart;
  * raw group requests with a bad generation, an unknown member, or a wrong
    protocol type get Kafka's errors, and the coordinator serves other groups.

Every case is SKIPPED while the broker's ApiVersions lacks the group APIs.

SLUICE_IT_GROUPS_MOCK=1 runs the client-side cases against librdkafka's mock
cluster instead (a helper process hosts it; its brokers listen on loopback,
so the worker processes can reach it): that checks the test logic itself
before the broker has groups. The restart and raw-wire cases need sluiced.
SLUICE_IT_SEED fixes the random kill points."""

import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect_eq, fail, log  # noqa: E402
import kwire  # noqa: E402
import skipping  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
MOCK = os.environ.get("SLUICE_IT_GROUPS_MOCK") == "1"
SEED = int(os.environ.get("SLUICE_IT_SEED") or random.randrange(1 << 30))
RNG = random.Random(SEED)
# The kill rounds' members use 3 s sessions (Kafka's floor is 6 s) so that
# each SIGKILLed one expires sooner: 10 of them per pass.
SETS = {"group.initial.rebalance.delay.ms": "0", "group.min.session.timeout.ms": "3000"}
WAIT = 90  # seconds for any one group event (a SIGKILLed member expires after 6 s)
KILL_SESSION_MS = 3000


def group_consumer_path():
    p = os.environ.get("GROUP_CONSUMER") or os.path.join(
        harness.REPO, "build", "tests", "integration", "group_consumer")
    if not os.access(p, os.X_OK):
        fail(f"group_consumer not found: {p} (set GROUP_CONSUMER)")
    return p


# ---------------------------------------------------------------------------
# The cluster: sluiced (default) or librdkafka's mock cluster

class MockCluster(harness.Broker):
    """harness.Broker's interface over `group_consumer --mock`, a process
    hosting librdkafka's mock cluster (its brokers listen on loopback)."""

    def argv(self):
        return [group_consumer_path(), "--mock"]

    def start(self, timeout=harness.READY_TIMEOUT):
        self.starts += 1
        self._ready = self._eof = False
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=harness._die_with_parent)
        self._reader = threading.Thread(target=self._read_stderr, args=(self.proc,), daemon=True)
        self._reader.start()
        with self._cv:
            self._cv.wait_for(lambda: self._ready or self._eof, timeout=timeout)
        if not self._ready:
            self.kill()
            fail(f"mock cluster did not start\n{self.tail()}")
        log(f"mock cluster at {self.bootstrap}")
        return self

    def create(self, topic, partitions):
        self.proc.stdin.write(f"topic {topic} {partitions}\n".encode())
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().decode().strip()
        expect_eq(line, f"ok {topic}", f"mock topic {topic}")

    def stop(self, timeout=30):
        self.proc.stdin.close()
        if self._wait_exit(timeout) is None:
            self.kill()


_cluster = {}


def cluster(ctx):
    """The shared cluster for the client-side cases; skips without groups."""
    if MOCK:
        if "mock" not in _cluster:
            m = MockCluster("groups-mock", shards=None)
            ctx.brokers.append(m)
            _cluster["mock"] = m.start()
        return _cluster["mock"]
    b = ctx.broker
    skipping.require_apis(b.bootstrap)
    return b


def need_sluiced():
    if MOCK:
        raise skipping.Skip("needs sluiced (SLUICE_IT_GROUPS_MOCK=1 runs the mock cluster)")


# ---------------------------------------------------------------------------
# Topics and records

def create_topic(b, topic, partitions):
    if isinstance(b, MockCluster):
        return b.create(topic, partitions)
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": b.bootstrap})
    fut = a.create_topics([NewTopic(topic, partitions, 1)], request_timeout=30)[topic]
    fut.result(timeout=60)


def produce(bootstrap, topic, partitions, start, n):
    """Values f"{topic}-{i}" for i in [start, start+n), record i on partition
    i % partitions. Returns {value: partition}. Fails on any delivery error."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    errs = []
    out = {}
    for i in range(start, start + n):
        v = f"{topic}-{i}"
        out[v] = i % partitions
        p.produce(topic, v.encode(), partition=i % partitions,
                  on_delivery=lambda e, m: e and errs.append(e))
        p.poll(0)
    left = p.flush(60)
    check(left == 0 and not errs, f"produce to {topic}: {left} undelivered, errors {errs[:3]}")
    return out


# ---------------------------------------------------------------------------
# Worker subprocesses and their events

EVT = threading.Condition()
_seq = [0]


class Worker:
    def __init__(self, client, bootstrap, topic, group, mode="alo", name="w", session_ms=None):
        self.name = f"{client}:{name}"
        if client == "c":
            cmd = [group_consumer_path(), bootstrap, topic, group, mode]
        else:
            cmd = [PY, os.path.join(HERE, "group_worker.py"), "--client", client,
                   "--bootstrap", bootstrap, "--topic", topic, "--group", group,
                   "--mode", mode, "--name", name]
            if session_ms:
                cmd += ["--session-ms", str(session_ms)]
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, preexec_fn=harness._die_with_parent)
        self.ready = self.closed = self.eof = False
        self.assignment = None  # set of partitions, None before the first ASSIGNED
        self.assigned_seq = -1  # sequence number of the last ASSIGNED event
        self.recs = []  # (seq, partition, offset, value)
        self.commits = []  # (seq, partition, next offset)
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            with EVT:
                _seq[0] += 1
                s = _seq[0]
                self.lines.append(line)
                w = line.split(" ", 3)
                if w[0] == "READY":
                    self.ready = True
                elif w[0] == "ASSIGNED":
                    self.assignment = set() if w[1] == "-" else {int(x) for x in w[1].split(",")}
                    self.assigned_seq = s
                elif w[0] == "REC":
                    self.recs.append((s, int(w[1]), int(w[2]), w[3] if len(w) > 3 else ""))
                elif w[0] == "COMMITTED":
                    self.commits.append((s, int(w[1]), int(w[2])))
                elif w[0] == "CLOSED":
                    self.closed = True
                EVT.notify_all()
        with EVT:
            self.eof = True
            EVT.notify_all()

    def alive(self):
        return not self.eof

    def close(self, timeout=WAIT):
        try:
            self.proc.stdin.write(b"close\n")
            self.proc.stdin.flush()
        except OSError:
            pass
        wait_for(lambda: self.closed or self.eof, timeout, f"{self.name} to close")
        check(self.closed, f"{self.name} exited without closing\n{self.diag()}")
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail(f"{self.name} did not exit after CLOSED")
        expect_eq(rc, 0, f"{self.name} exit code")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        wait_for(lambda: self.eof, 30, f"{self.name} output to end")

    def diag(self):
        self.err.seek(0)
        err = self.err.read()[-3000:].decode(errors="replace")
        return (f"--- {self.name}: last stdout lines ---\n" + "\n".join(self.lines[-20:])
                + f"\n--- {self.name}: stderr tail ---\n{err}")

    def values(self):
        return {r[3] for r in self.recs}


def wait_for(cond, timeout, what, workers=()):
    with EVT:
        ok = EVT.wait_for(cond, timeout=timeout)
    if not ok:
        fail(f"timed out after {timeout}s waiting for {what}\n"
             + "\n".join(w.diag() for w in workers))


def stop_all(workers):
    for w in workers:
        if w.alive():
            w.proc.kill()
            try:
                w.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass


def exact_cover(workers, partitions):
    """Every partition in exactly one live member's assignment."""
    owned = [p for w in workers if w.alive() and w.assignment for p in w.assignment]
    return sorted(owned) == list(range(partitions))


# ---------------------------------------------------------------------------
# The cases

def rebalance_case(ctx, client):
    b = cluster(ctx)
    topic, group, P = f"grp-rebal-{client}", f"g-rebal-{client}", 6
    create_topic(b, topic, P)
    ws = [Worker(client, b.bootstrap, topic, group, name=f"m{i}") for i in range(3)]
    try:
        wait_for(lambda: all(w.ready for w in ws) and exact_cover(ws, P) and
                 all(w.assignment for w in ws), WAIT,
                 "three members owning every partition exactly once", ws)
        log("assignment: " + "; ".join(f"{w.name} {sorted(w.assignment)}" for w in ws))
        # produced once the group is stable, so every member has work (one
        # member alone first would otherwise drain the topic before the rest join)
        want = produce(b.bootstrap, topic, P, 0, 300)
        wait_for(lambda: all(w.recs for w in ws), WAIT, "every member processing", ws)
        closer, victim, survivor = ws
        closer.close()
        victim.kill()
        log(f"closed {closer.name}, SIGKILLed {victim.name}")
        wait_for(lambda: survivor.assignment == set(range(P)), WAIT,
                 f"{survivor.name} to own all {P} partitions", ws)
        final_seq = survivor.assigned_seq
        want.update(produce(b.bootstrap, topic, P, 300, 300))
        wait_for(lambda: set(want) <= set().union(*(w.values() for w in ws)), WAIT,
                 "every record processed by someone", ws)
        # no committed record skipped: after the last rebalance every partition
        # restarts at its committed offset, which lies between the last commit
        # a member reported and one past the last record processed before it
        # (a SIGKILL can land between a commit and its COMMITTED line; commits
        # follow processing, so nothing past the processed records is committed)
        for p in range(P):
            reported = max((n for w in ws for (s, q, n) in w.commits if q == p and s < final_seq),
                           default=0)
            processed = max((o + 1 for w in ws for (s, q, o, v) in w.recs
                             if q == p and s < final_seq), default=0)
            after = [o for (s, q, o, v) in survivor.recs if q == p and s > final_seq]
            check(after, f"partition {p}: nothing processed after the rebalance")
            check(reported <= after[0] <= processed,
                  f"partition {p}: resumed at {after[0]}, outside [last reported commit "
                  f"{reported}, last processed + 1 {processed}]")
            expect_eq(after, list(range(after[0], after[0] + len(after))),
                      f"partition {p}: offsets in order after the rebalance")
        survivor.close()
    finally:
        stop_all(ws)


@harness.timeout(240)
def test_rebalance_confluent(ctx):
    rebalance_case(ctx, "confluent")


@harness.timeout(240)
def test_rebalance_kafka_python(ctx):
    rebalance_case(ctx, "kafka-python")


@harness.timeout(240)
def test_rebalance_librdkafka_cooperative(ctx):
    group_consumer_path()
    rebalance_case(ctx, "c")


@harness.timeout(180)
def test_pubsub_two_groups(ctx):
    b = cluster(ctx)
    topic, P = "grp-pubsub", 6
    create_topic(b, topic, P)
    want = set(produce(b.bootstrap, topic, P, 0, 240))
    ws = [Worker("confluent", b.bootstrap, topic, "g-pub-a", name="a"),
          Worker("c" if os.access(os.environ.get("GROUP_CONSUMER", "/nonexistent"), os.X_OK)
                 else "kafka-python", b.bootstrap, topic, "g-pub-b", name="b")]
    try:
        wait_for(lambda: all(want <= w.values() for w in ws), WAIT,
                 "both groups to receive every record", ws)
        for w in ws:
            w.close()
    finally:
        stop_all(ws)


def kill_rounds(ctx, mode, topic, group, kills):
    b = cluster(ctx)
    P, N = 3, 300
    create_topic(b, topic, P)
    want = produce(b.bootstrap, topic, P, 0, N)
    ends = {p: sum(1 for q in want.values() if q == p) for p in range(P)}
    log(f"seed {SEED} (SLUICE_IT_SEED replays the kill points)")
    done = []
    try:
        for r in range(kills):
            w = Worker("confluent", b.bootstrap, topic, group, mode=mode, name=f"r{r}",
                       session_ms=KILL_SESSION_MS)
            done.append(w)
            k = RNG.randint(1, 40)
            wait_for(lambda: len(w.recs) >= k or w.eof, WAIT, f"round {r}: {k} records", [w])
            w.kill()
            log(f"round {r}: SIGKILL after {len(w.recs)} records")
        w = Worker("confluent", b.bootstrap, topic, group, mode=mode, name="last",
                   session_ms=KILL_SESSION_MS)
        done.append(w)

        def finished():
            nxt = {}
            for x in done:
                for (s, p, n) in x.commits:
                    nxt[p] = max(nxt.get(p, 0), n)
            return all(nxt.get(p, 0) >= ends[p] for p in range(P))

        # A worker SIGKILLed between a commit and its report of it leaves
        # the workers' stdout short of the truth, and the last worker then
        # has nothing to read on that partition: ask the coordinator too.
        from confluent_kafka import Consumer, TopicPartition
        probe = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group,
                          "enable.auto.commit": False})
        try:
            def broker_done():
                got = probe.committed([TopicPartition(topic, p) for p in range(P)], timeout=10)
                return all(tp.offset >= ends[tp.partition] for tp in got)
            deadline = time.monotonic() + WAIT * 2
            while True:
                with EVT:
                    if EVT.wait_for(finished, timeout=1.0):
                        break
                if broker_done():
                    break
                if time.monotonic() > deadline:
                    fail(f"timed out after {WAIT * 2}s waiting for the group to commit the end "
                         f"of every partition\n" + w.diag())
        finally:
            probe.close()
        w.close()
    finally:
        stop_all(done)
    return want, done


@harness.timeout(400)
def test_at_least_once_under_sigkill(ctx):
    want, ws = kill_rounds(ctx, "alo", "grp-alo", "g-alo", 5)
    got = [r[3] for w in ws for r in w.recs]
    missing = set(want) - set(got)
    check(not missing, f"at-least-once: {len(missing)} records never processed, e.g. "
          f"{sorted(missing)[:5]}")
    log(f"{len(got)} processed for {len(want)} records ({len(got) - len(set(got))} duplicates)")


@harness.timeout(400)
def test_at_most_once_under_sigkill(ctx):
    kills = 5
    want, ws = kill_rounds(ctx, "amo", "grp-amo", "g-amo", kills)
    got = [r[3] for w in ws for r in w.recs]
    dups = {v for v in got if got.count(v) > 1}
    check(not dups, f"at-most-once: records processed twice: {sorted(dups)[:5]}")
    lost = set(want) - set(got)
    # a kill between a commit and the processing loses that one record
    check(len(lost) <= kills, f"at-most-once lost {len(lost)} records in {kills} kills")
    log(f"{len(got)} processed, {len(lost)} lost in {kills} kills")


@harness.timeout(300)
def test_offsets_survive_broker_sigkill(ctx):
    need_sluiced()
    b = ctx.new_broker("groups-restart", sets=SETS)
    skipping.require_apis(b.bootstrap)
    topic, group, P, N = "grp-restart", "g-restart", 3, 600
    create_topic(b, topic, P)
    want = produce(b.bootstrap, topic, P, 0, N)
    w = Worker("confluent", b.bootstrap, topic, group, name="before")
    try:
        wait_for(lambda: len({p for (s, p, n) in w.commits}) == P or w.eof, WAIT,
                 "commits on every partition before the crash", [w])
        w.close()
    finally:
        stop_all([w])
    committed = {}
    for (s, p, n) in w.commits:
        committed[p] = max(committed.get(p, 0), n)
    log(f"committed before the crash: {committed}")
    b.kill()
    b.start()
    w2 = Worker("confluent", b.bootstrap, topic, group, name="after")
    try:
        wait_for(lambda: set(want) <= (w.values() | w2.values()), WAIT,
                 "every record processed across the restart", [w2])
        for p in range(P):
            offs = [o for (s, q, o, v) in w2.recs if q == p]
            if committed.get(p, 0) < sum(1 for q in want.values() if q == p):
                check(offs, f"partition {p}: nothing read after the restart")
                expect_eq(offs[0], committed.get(p, 0),
                          f"partition {p}: resumed at the committed offset")
            else:
                expect_eq(offs, [], f"partition {p}: fully committed, nothing re-read")
        w2.close()
    finally:
        stop_all([w2])


# ---- raw wire -----------------------------------------------------------------

I16, I32 = kwire.i16, kwire.i32
S = kwire.string
NONE, ILLEGAL_GENERATION, INCONSISTENT_GROUP_PROTOCOL = 0, 22, 23
UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS = 25, 27


class RawGroup:
    """JoinGroup v1, SyncGroup v0, Heartbeat v0, LeaveGroup v0, OffsetCommit v2
    on one connection to the group's coordinator."""

    def __init__(self, bootstrap, group):
        host, port = bootstrap.rsplit(":", 1)
        with kwire.Conn(host, int(port)) as c:
            r = c.call(10, 0, S(group), 1)  # FindCoordinator v0
            err = r.i16()
            r.i32()  # node id
            chost, cport = r.string(), r.i32()
        expect_eq(err, NONE, f"FindCoordinator({group}) error")
        self.conn = kwire.Conn(chost, cport, timeout=30)
        self.group = group
        self.corr = 100

    def call(self, key, ver, body):
        self.corr += 1
        return self.conn.call(key, ver, body, self.corr, timeout=30)

    def join(self, member="", ptype="consumer", session_ms=30000):
        meta = I16(0) + kwire.array([S("grp-raw")]) + I32(-1)  # ConsumerProtocolSubscription v0
        body = (S(self.group) + I32(session_ms) + I32(session_ms) + S(member) + S(ptype)
                + kwire.array([S("range") + kwire.bytes_(meta)]))
        r = self.call(11, 1, body)
        err, gen = r.i16(), r.i32()
        r.string()  # protocol name
        leader, mid = r.string(), r.string()
        members = r.array(lambda x: (x.string(), x.i32() and None))
        return err, gen, mid, leader, members

    def sync(self, gen, member, assignments=()):
        body = S(self.group) + I32(gen) + S(member) + kwire.array(
            [S(m) + kwire.bytes_(a) for m, a in assignments])
        r = self.call(14, 0, body)
        return r.i16()

    def heartbeat(self, gen, member):
        return self.call(12, 0, S(self.group) + I32(gen) + S(member)).i16()

    def leave(self, member):
        return self.call(13, 0, S(self.group) + S(member)).i16()

    def commit(self, gen, member, topic, partition, offset):
        body = (S(self.group) + I32(gen) + S(member) + kwire.i64(-1) + kwire.array(
            [S(topic) + kwire.array([I32(partition) + kwire.i64(offset) + S("")])]))
        r = self.call(8, 2, body)
        res = r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i16()))))
        return res[0][1][0][1]

    def close(self):
        self.conn.close()


def assignment_bytes(topic, parts):
    return I16(0) + kwire.array([S(topic) + kwire.array([I32(p) for p in parts])]) + I32(-1)


@harness.timeout(120)
def test_raw_group_errors(ctx):
    need_sluiced()
    b = cluster(ctx)
    create_topic(b, "grp-raw", 2)
    g = RawGroup(b.bootstrap, "g-raw")
    other = RawGroup(b.bootstrap, "g-raw-other")
    try:
        err, gen, mid, leader, members = g.join()
        expect_eq(err, NONE, "JoinGroup error")
        check(mid and leader == mid, f"the only member leads: member {mid!r}, leader {leader!r}")
        expect_eq(g.sync(gen, mid, [(mid, assignment_bytes("grp-raw", [0, 1]))]), NONE, "SyncGroup")
        expect_eq(g.heartbeat(gen, mid), NONE, "Heartbeat, right generation")

        expect_eq(g.heartbeat(gen + 1, mid), ILLEGAL_GENERATION, "Heartbeat, bad generation")
        expect_eq(g.heartbeat(gen, "no-such-member"), UNKNOWN_MEMBER_ID, "Heartbeat, unknown member")
        expect_eq(g.sync(gen + 7, mid), ILLEGAL_GENERATION, "SyncGroup, bad generation")
        expect_eq(g.sync(gen, "no-such-member"), UNKNOWN_MEMBER_ID, "SyncGroup, unknown member")
        expect_eq(g.commit(gen + 1, mid, "grp-raw", 0, 5), ILLEGAL_GENERATION,
                  "OffsetCommit, bad generation")
        expect_eq(g.commit(gen, "no-such-member", "grp-raw", 0, 5), UNKNOWN_MEMBER_ID,
                  "OffsetCommit, unknown member")
        expect_eq(g.join(member="no-such-member")[0], UNKNOWN_MEMBER_ID, "JoinGroup, unknown member")
        expect_eq(g.join(ptype="connect")[0], INCONSISTENT_GROUP_PROTOCOL,
                  "JoinGroup, wrong protocol type for a consumer group")
        expect_eq(g.leave("no-such-member"), UNKNOWN_MEMBER_ID, "LeaveGroup, unknown member")

        # the group and the coordinator are still fine
        expect_eq(g.heartbeat(gen, mid), NONE, "Heartbeat after the bad requests")
        expect_eq(g.commit(gen, mid, "grp-raw", 0, 5), NONE, "OffsetCommit, right member")
        err2, gen2, mid2, _, _ = other.join()
        expect_eq(err2, NONE, "JoinGroup of another group")
        expect_eq(other.sync(gen2, mid2, [(mid2, assignment_bytes("grp-raw", [0]))]), NONE,
                  "SyncGroup of another group")
        expect_eq(other.heartbeat(gen2, mid2), NONE, "Heartbeat of another group")
        expect_eq(other.leave(mid2), NONE, "LeaveGroup of another group")
        expect_eq(g.leave(mid), NONE, "LeaveGroup")
    finally:
        g.close()
        other.close()
    host, port = b.host_port()
    kwire.Conn(host, port).close()  # still accepting


if __name__ == "__main__":
    skipping.main([test_rebalance_confluent, test_rebalance_kafka_python,
                   test_rebalance_librdkafka_cooperative, test_pubsub_two_groups,
                   test_at_least_once_under_sigkill, test_at_most_once_under_sigkill,
                   test_offsets_survive_broker_sigkill, test_raw_group_errors],
                  sets=SETS)
