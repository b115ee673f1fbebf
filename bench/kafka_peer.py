"""Apache Kafka as a peer in bench/run: one KRaft broker+controller on
loopback, started from the jars scripts/setup_compat.sh resolved
(bench/kafka/pom.xml, pinned with bench/kafka/deps.lock; classpath in
.deps/java/kafka.classpath), with a fresh data dir it formats first; and
Kafka's own ProducerPerformance, the tool Kafka users run first, driven
against any broker of the suite.

Durability classes like with like: `durable` is Kafka with
log.flush.interval.messages=1 (an fsync per append before the ack)
beside sluice flush.policy=always; `page-cache` is Kafka's default (the
OS flushes) beside sluice os. Everything else is what Kafka's
config/server.properties ships for one node (offsets and transaction
topics with one replica, no initial rebalance delay).

Owns nothing of bench/run's flow: bench/run calls kafka_server(Server)
for the Server class and producer_perf() for a row."""

import base64
import os
import re
import subprocess
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPS = os.environ.get("SLUICE_DEPS") or os.path.join(ROOT, ".deps")
CLASSPATH_FILE = os.path.join(DEPS, "java", "kafka.classpath")
LOG4J = os.path.join(ROOT, "bench", "kafka", "log4j2.xml")
# Kafka's own launch flags (kafka-run-class.sh), the heap for this machine
# (24 GiB: Kafka's guidance is a 6 GiB heap and the rest for page cache;
# the quick run in CI uses 1 GiB).
JVM_GC = ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
          "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true"]


def classpath():
    """The resolved classpath, or None (run scripts/setup.sh)."""
    try:
        with open(CLASSPATH_FILE) as f:
            cp = f.read().strip()
    except OSError:
        return None
    return cp if all(os.path.exists(j) for j in cp.split(":")) else None


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kafka_server(Server, quick):
    """The Kafka Server class for bench/run (Server is bench/run's base)."""

    class Kafka(Server):
        start_timeout_s = 180   # a JVM with a heap to touch, on a busy box

        def __init__(self, durability, workdir):
            flush = "log.flush.interval.messages=1" if durability == "durable" else \
                "flush by the OS (default)"
            super().__init__("kafka", durability, f"KRaft 1 node, {flush}, acks=all", workdir)
            self.heap = "1g" if quick else "6g"

        def properties(self, port, cport):
            p = {"process.roles": "broker,controller", "node.id": "1",
                 "controller.quorum.voters": f"1@127.0.0.1:{cport}",
                 "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
                 "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
                 "controller.listener.names": "CONTROLLER",
                 "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                 "log.dirs": os.path.join(self.dir, "data"),
                 "num.partitions": "1",
                 "offsets.topic.replication.factor": "1",
                 "share.coordinator.state.topic.replication.factor": "1",
                 "share.coordinator.state.topic.min.isr": "1",
                 "transaction.state.log.replication.factor": "1",
                 "transaction.state.log.min.isr": "1",
                 "group.initial.rebalance.delay.ms": "0"}
            if self.durability == "durable":
                p["log.flush.interval.messages"] = "1"
            return p

        def command(self):
            if getattr(self, "launch", None):
                return self.launch  # a restart: the same storage, ports and config
            cp = classpath()
            if not cp:
                raise RuntimeError(f"{CLASSPATH_FILE} is missing: run scripts/setup.sh")
            os.makedirs(self.dir, exist_ok=True)
            port, cport = free_port(), free_port()
            self.target = f"127.0.0.1:{port}"
            conf = os.path.join(self.dir, "server.properties")
            with open(conf, "w") as f:
                f.writelines(f"{k}={v}\n" for k, v in self.properties(port, cport).items())
            java = ["java", f"-Xmx{self.heap}", f"-Xms{self.heap}"] + JVM_GC + \
                [f"-Dlog4j2.configurationFile={LOG4J}", "-cp", cp]
            cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            fmt = subprocess.run(java[:1] + ["-Xmx256m"] + java[3:] +
                                 ["kafka.tools.StorageTool", "format", "-t", cluster,
                                  "-c", conf],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 timeout=120)
            with open(self.log + ".format", "w") as f:
                f.write(fmt.stdout)
            if fmt.returncode != 0:
                raise RuntimeError(f"kafka-storage format failed: {fmt.stdout[-800:]}")
            self.launch = java + ["kafka.Kafka", conf], r"Kafka Server started"
            return self.launch

    return Kafka


# ProducerPerformance's producer: acks=all (its default) with idempotence
# off on both brokers, while sluice lacks InitProducerId (issue 10); at its
# full defaults once that lands.
PERF_PROPS = ["acks=all", "enable.idempotence=false"]

PERF_RE = re.compile(r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), "
                     r"([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, "
                     r"(\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th", re.M)


def producer_perf(target, topic, n, size, props, timeout, logpath):
    """Kafka's ProducerPerformance (kafka-producer-perf-test) against
    target; returns (rc, result dict or None)."""
    cp = classpath()
    if not cp:
        with open(logpath, "w") as f:
            f.write(f"{CLASSPATH_FILE} is missing: run scripts/setup.sh\n")
        return 1, None
    cmd = ["java", "-Xmx512m", f"-Dlog4j2.configurationFile={LOG4J}", "-cp", cp,
           "org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
           "--num-records", str(n), "--record-size", str(size), "--throughput", "-1",
           "--producer-props", f"bootstrap.servers={target}"] + props
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout, errors="replace")
        rc, text = p.returncode, p.stdout
    except subprocess.TimeoutExpired as e:
        rc, text = -1, (e.stdout or b"").decode(errors="replace") + "\ntimed out\n"
    with open(logpath, "w") as f:
        f.write(" ".join(cmd) + "\n" + text)
    m = PERF_RE.search(text)
    if rc != 0 or not m:
        return rc or 1, None
    msgs, rate, mb = int(m.group(1)), float(m.group(2)), float(m.group(3))
    return 0, {"msgs": msgs, "msgs_s": rate, "mb_s": mb,
               "ack_p50_us": int(m.group(6)) * 1000, "ack_p99_us": int(m.group(8)) * 1000,
               "ack_p999_us": int(m.group(9)) * 1000, "ack_max_us": float(m.group(5)) * 1000,
               "client_cpu_s": 0.0}
