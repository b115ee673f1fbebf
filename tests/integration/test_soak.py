#!/usr/bin/python3
"""Soak under churn: one broker, for SLUICE_SOAK_SECONDS (CI: 15 s; `--long`:
600 s), at the same time:

- producers of three kinds (librdkafka through confluent-kafka,
  kafka-python, kafkajs in node) with acks=all to two topics that stay, every record value unique;
- topics created, produced to (by a librdkafka producer that keeps going
  while they go) and deleted again, so produce requests meet DeleteTopics;
- consumers joining and leaving one group (each polls a few seconds and
  closes: a rebalance every time);
- a slowloris client (one byte of a request every 0.3 s), a client that
  pipelines requests and never reads the answers, and connection storms of
  STORM connections past max.connections (set to MAX_CONNS).

Afterwards: every record a producer saw acked is read back from the topics
that stayed; the broker's open descriptors come back to what they were
before the clients (no leak); its peak RSS stays under RSS_MAX_MIB; it
refused connections past max.connections and kept serving; it stops
cleanly (under ASan that includes its leak check). The figures (connections,
records, peak RSS, descriptors) are printed for the README.
"""

import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import kwire  # noqa: E402
from harness import check, expect_eq, fail, log, wait_until  # noqa: E402

LONG = "--long" in sys.argv
SECONDS = float(os.environ.get("SLUICE_SOAK_SECONDS", "600" if LONG else "15"))
MAX_CONNS = 120
STORM = 150
RSS_MAX_MIB = 1536          # the ASan build's broker included
KEEP = ["soak-keep-0", "soak-keep-1"]
PARTITIONS = 4
CK_PRODUCERS, KP_PRODUCERS, CONSUMERS = 6, 3, 3


class Soak:
    def __init__(self, b):
        self.b = b
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = {t: set() for t in KEEP}
        self.acked_by = {}        # client kind: records acked
        self.errors = []          # exceptions in workers: the test fails
        self.counts = {"produced": 0, "acked": 0, "topics_created": 0, "topics_deleted": 0,
                       "group_joins": 0, "storm_refused": 0, "storms": 0}
        self.peak_rss = 0
        self.peak_sockets = 0
        self.threads = []

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] += n

    def spawn(self, name, fn, *args):
        def run():
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001 - reported by the test
                with self.lock:
                    self.errors.append(f"{name}: {type(e).__name__}: {e}")
                self.stop.set()
        t = threading.Thread(target=run, name=name, daemon=True)
        t.start()
        self.threads.append(t)

    # --- producers ------------------------------------------------------------
    def ck_producer(self, i):
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": self.b.bootstrap, "acks": "all", "linger.ms": 5,
                      "enable.idempotence": False})
        acked = []

        def on_delivery(err, msg):
            if err is None:
                acked.append((msg.topic(), msg.value()))
        n = 0
        while not self.stop.is_set():
            topic = KEEP[n % 2]
            try:
                p.produce(topic, value=b"ck%d-%d" % (i, n), on_delivery=on_delivery)
                n += 1
            except BufferError:
                p.poll(0.05)
            p.poll(0.001 if n % 50 else 0.01)
        expect_eq(p.flush(60), 0, f"ck producer {i}: records still queued after flush")
        self.take_acks("librdkafka", acked, n)

    def kp_producer(self, i):
        from kafka import KafkaProducer
        p = KafkaProducer(bootstrap_servers=self.b.bootstrap, acks="all", linger_ms=5,
                          api_version=(2, 5, 0))
        acked = []
        n = 0
        while not self.stop.is_set():
            topic = KEEP[n % 2]
            v = b"kp%d-%d" % (i, n)
            p.send(topic, value=v).add_callback(lambda md, t=topic, v=v: acked.append((t, v)))
            n += 1
            if n % 200 == 0:
                time.sleep(0.01)
        p.flush(60)
        p.close(30)
        self.take_acks("kafka-python", acked, n)

    def kafkajs_producer(self):
        """kafkajs in node (soak_kafkajs.js), until its stdin closes."""
        import subprocess
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "soak_kafkajs.js")
        p = subprocess.Popen(["node", script, self.b.bootstrap, KEEP[1]], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stop.wait()
        try:
            out, err = p.communicate(b"", timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            fail("the kafkajs producer did not stop within 120 s")
        check(p.returncode == 0, f"kafkajs producer exited {p.returncode}: {err[-2000:]!r}")
        lines = out.decode().splitlines()
        acked = [(KEEP[1], ln[6:].encode()) for ln in lines if ln.startswith("acked ")]
        done = [int(ln[5:]) for ln in lines if ln.startswith("done ")]
        check(done, f"kafkajs producer said nothing at the end: {err[-2000:]!r}")
        self.take_acks("kafkajs", acked, done[0])

    def take_acks(self, kind, acked, produced):
        with self.lock:
            for t, v in acked:
                self.acked[t].add(v)
            self.counts["produced"] += produced
            self.counts["acked"] += len(acked)
            self.acked_by[kind] = self.acked_by.get(kind, 0) + len(acked)

    # --- topics coming and going ----------------------------------------------
    def churn_topics(self):
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient, NewTopic
        a = AdminClient({"bootstrap.servers": self.b.bootstrap})
        p = Producer({"bootstrap.servers": self.b.bootstrap, "acks": "all", "linger.ms": 1,
                      "message.timeout.ms": 10000})
        k = 0
        while not self.stop.is_set():
            name = f"soak-churn-{k}"
            k += 1
            retrying(lambda: a.create_topics([NewTopic(name, 2, 1)],
                                             request_timeout=30)[name].result(60))
            self.count("topics_created")
            # Produce to it while it is deleted: the answers may be errors,
            # never a hang or a crash.
            t_end = time.monotonic() + random.uniform(0.3, 1.0)
            while time.monotonic() < t_end:
                produce_churn(p, name, b"churn")
                p.poll(0.002)
            fut = a.delete_topics([name], request_timeout=30)[name]
            for _ in range(200):
                produce_churn(p, name, b"late")
                p.poll(0)
            retrying(fut.result, 60,
                     again=lambda: a.delete_topics([name], request_timeout=30)[name].result(60))
            self.count("topics_deleted")
        p.flush(30)

    # --- a group with members coming and going ---------------------------------
    def group_member(self, i):
        from confluent_kafka import Consumer
        while not self.stop.is_set():
            c = Consumer({"bootstrap.servers": self.b.bootstrap, "group.id": "soak-g",
                          "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                          "client.id": f"soak-member-{i}"})
            c.subscribe([KEEP[0]])
            self.count("group_joins")
            t_end = time.monotonic() + random.uniform(1.0, 3.0)
            while time.monotonic() < t_end and not self.stop.is_set():
                c.poll(0.2)
            c.close()

    # --- hostile clients --------------------------------------------------------
    def slowloris(self):
        host, port = self.b.host_port()
        frame = kwire.request(kwire.API_API_VERSIONS, 0, 1, b"")
        while not self.stop.is_set():
            s = socket.create_connection((host, port), timeout=10)
            try:
                for byte in frame:
                    if self.stop.wait(0.3):
                        break
                    s.send(bytes([byte]))
            except OSError:
                pass  # the broker may close it (idle, storms): start again
            s.close()

    def non_reader(self):
        host, port = self.b.host_port()
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((host, port))
        s.setblocking(False)
        reqs = b"".join(kwire.request(kwire.API_METADATA, 4, c, kwire.metadata_v4_body(None))
                        for c in range(200))
        off = 0
        while not self.stop.wait(0.05):
            try:
                off += s.send(reqs[off % len(reqs):])
            except BlockingIOError:
                pass
            except OSError:
                break
        s.close()

    def storms(self):
        host, port = self.b.host_port()
        while not self.stop.wait(random.uniform(2.0, 4.0)):
            socks = []
            for _ in range(STORM):
                try:
                    socks.append(socket.create_connection((host, port), timeout=10))
                except OSError:
                    break
            refused = 0
            for s in socks:  # those past the limit the broker closes at once
                s.settimeout(0.05)
                try:
                    if s.recv(1) == b"":
                        refused += 1
                except (socket.timeout, OSError):
                    pass
                s.close()
            self.count("storms")
            self.count("storm_refused", refused)

    # --- watching the broker ----------------------------------------------------
    def watch(self):
        pid = self.b.proc.pid
        while not self.stop.wait(0.25):
            self.peak_rss = max(self.peak_rss, rss_kib(pid))
            self.peak_sockets = max(self.peak_sockets, sum(1 for f in fds(pid) if "socket:" in f))


def produce_churn(p, topic, value):
    """Produces to a topic that is coming or going: a full queue, or the
    client knowing the topic is gone already (UNKNOWN_TOPIC from produce()
    itself), is what it may answer."""
    from confluent_kafka import KafkaError, KafkaException
    try:
        p.produce(topic, value=value)
    except BufferError:
        pass
    except KafkaException as e:
        if e.args[0].code() not in (KafkaError._UNKNOWN_TOPIC, KafkaError._UNKNOWN_PARTITION):
            raise


def retrying(call, *args, again=None, tries=3):
    """call(*args); a retriable Kafka error (a connection a storm cost the
    admin client, say) is tried again (with again() if given), at most
    tries times in all. UNKNOWN_TOPIC on a retried delete means the first
    one went through."""
    from confluent_kafka import KafkaError, KafkaException
    for n in range(tries):
        try:
            return call(*args) if n == 0 or again is None else again()
        except KafkaException as e:
            err = e.args[0]
            if n > 0 and again is not None and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                return None
            if n == tries - 1 or not (err.retriable() or err.code() in (
                    KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError.REQUEST_TIMED_OUT)):
                raise
            log(f"soak: retrying after {err}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    out = []
    d = f"/proc/{pid}/fd"
    for n in os.listdir(d):
        try:
            out.append(os.readlink(os.path.join(d, n)))
        except OSError:
            pass  # closed meanwhile
    return out


def countable_fds(pid):
    """Descriptors that must come back: all but the segment and index files
    of the topics that stay (their logs may have rolled meanwhile)."""
    return [f for f in fds(pid) if "/soak-keep-" not in f]


def read_back(bootstrap, topic):
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "soak-readback",
                  "enable.auto.commit": False})
    ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in range(PARTITIONS)}
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    got = set()
    pos = {p: 0 for p in ends}
    # Bounded by what there is to read (a --long run holds millions).
    t_end = time.monotonic() + 60 + sum(ends.values()) / 10000
    while any(pos[p] < ends[p] for p in ends) and time.monotonic() < t_end:
        for m in c.consume(1000, 1.0):
            if m.error():
                fail(f"{topic}: read error {m.error()}")
            got.add(m.value())
            pos[m.partition()] = m.offset() + 1
    c.close()
    check(all(pos[p] >= ends[p] for p in ends), f"{topic}: read to {pos}, the ends are {ends}")
    return got


def test_soak(ctx):
    b = ctx.new_broker("soak", sets={"max.connections": MAX_CONNS, "num.partitions": PARTITIONS,
                                     "log.segment.bytes": 4 << 20,
                                     # or a late produce creates a deleted topic again
                                     "auto.create.topics.enable": "false"})
    for t in KEEP:
        expect_eq(kwire.create_topic_error(*b.host_port(), t, PARTITIONS), 0, f"create {t}")
    expect_eq(kwire.create_topic_error(*b.host_port(), "soak-warm", 1), 0, "create soak-warm")
    harness.kcat_roundtrip(b.bootstrap, "soak-warm", n=20)
    pid = b.proc.pid
    before = countable_fds(pid)
    fds_before = len(before)
    s = Soak(b)
    s.spawn("watch", s.watch)
    for i in range(CK_PRODUCERS):
        s.spawn(f"ck-{i}", s.ck_producer, i)
    for i in range(KP_PRODUCERS):
        s.spawn(f"kp-{i}", s.kp_producer, i)
    for i in range(CONSUMERS):
        s.spawn(f"member-{i}", s.group_member, i)
    s.spawn("kafkajs", s.kafkajs_producer)
    s.spawn("churn", s.churn_topics)
    s.spawn("slowloris", s.slowloris)
    s.spawn("non-reader", s.non_reader)
    s.spawn("storms", s.storms)
    t0 = time.monotonic()
    s.stop.wait(SECONDS)
    s.stop.set()
    for t in s.threads:
        t.join(180)
        check(not t.is_alive(), f"worker {t.name} did not finish within 180 s of the stop")
    elapsed = time.monotonic() - t0
    check(not s.errors, "workers failed:\n  " + "\n  ".join(s.errors))
    check(b.alive(), f"the broker died during the soak\n{b.tail()}")
    c = s.counts
    log(f"soak: {elapsed:.0f} s, {c['produced']} records produced, {c['acked']} acked, "
        f"{c['topics_created']} topics created and {c['topics_deleted']} deleted, "
        f"{c['group_joins']} group joins, {c['storms']} storms of {STORM} "
        f"({c['storm_refused']} refused), peak {s.peak_sockets} sockets, "
        f"peak RSS {s.peak_rss >> 10} MiB")
    log(f"soak: acked by client: {s.acked_by}")
    for kind in ("librdkafka", "kafka-python", "kafkajs"):
        check(s.acked_by.get(kind, 0) > 0, f"no record of {kind} acked: {s.acked_by}")
    check(c["topics_deleted"] >= 3, f"only {c['topics_deleted']} topics went through create/delete")
    check(c["storm_refused"] > 0, f"no storm connection was refused with max.connections={MAX_CONNS}")
    check(s.peak_sockets >= 50, f"only {s.peak_sockets} sockets at the peak; 50+ wanted")
    check(s.peak_rss < RSS_MAX_MIB << 10, f"peak RSS {s.peak_rss >> 10} MiB >= {RSS_MAX_MIB} MiB")
    with open(b.log_path, errors="replace") as f:
        check("(max.connections)" in f.read(), "no log line about max.connections")
    for t in KEEP:
        got = read_back(b.bootstrap, t)
        lost = s.acked[t] - got
        check(not lost, f"{t}: {len(lost)} acked records not read back, e.g. {sorted(lost)[:5]}")
    # Every client is gone: the broker's descriptors come back (the group's
    # last members and the read-back consumer close asynchronously).
    # (+1: the offsets log the group's commits opened.)
    try:
        wait_until(lambda: len(countable_fds(pid)) <= fds_before + 1, 30,
                   f"the broker's descriptors back to {fds_before} (+1)")
    except harness.TestFailure:
        extra = list(countable_fds(pid))
        for f in before:
            if f in extra:
                extra.remove(f)
        fail(f"the broker holds {len(extra)} more descriptors than before the clients: "
             f"{extra[:20]}")
    after = countable_fds(pid)
    churned = [f for f in after if "/soak-churn-" in f]
    check(not churned, f"descriptors of deleted topics still open: {churned[:5]}")
    log(f"soak: descriptors {fds_before} before, {len(after)} after")
    b.stop()


if __name__ == "__main__":
    harness.main([test_soak], test_timeout=int(SECONDS) + 400)
