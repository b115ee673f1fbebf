#!/usr/bin/python3
"""One group consumer as a subprocess of test_groups.py, so that it can be
SIGKILLed. Reports on stdout, one event per line, flushed at once:

    READY                       subscribed
    ASSIGNED 0,1,5 | ASSIGNED - its whole current assignment, after every change
    REC <partition> <offset> <value>        processed a record
    COMMITTED <partition> <next offset>     a synchronous commit succeeded
    COMMITFAIL <partition> <next offset> <error>
    CLOSED                      after `close` on stdin: left the group, exiting 0

    group_worker.py --client confluent|kafka-python --bootstrap B --topic T
                    --group G --mode alo|amo [--session-ms 6000]

alo (at-least-once): process, then commit. amo (at-most-once): commit, then
process. Commits are per record and synchronous: simple to reason about."""

import argparse
import sys
import threading


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fmt_assignment(parts):
    return "ASSIGNED " + (",".join(str(p) for p in sorted(set(parts))) or "-")


def watch_stdin(flag):
    for line in sys.stdin:
        if line.strip() == "close":
            break
    flag.set()  # close requested, or the test went away (EOF)


def run_confluent(a, closing):
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    c = Consumer({
        "bootstrap.servers": a.bootstrap, "group.id": a.group,
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "session.timeout.ms": a.session_ms, "heartbeat.interval.ms": 500,
        "client.id": f"worker-{a.name}",
    })
    state = set()

    def on_assign(consumer, parts):
        state.clear()
        state.update(p.partition for p in parts)
        emit(fmt_assignment(state))

    def on_revoke(consumer, parts):
        state.difference_update(p.partition for p in parts)
        emit(fmt_assignment(state))

    c.subscribe([a.topic], on_assign=on_assign, on_revoke=on_revoke)
    emit("READY")

    def commit(p, nxt):
        try:
            c.commit(offsets=[TopicPartition(a.topic, p, nxt)], asynchronous=False)
            emit(f"COMMITTED {p} {nxt}")
            return True
        except KafkaException as e:
            emit(f"COMMITFAIL {p} {nxt} {e.args[0].name()}")
            return False

    while not closing.is_set():
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            emit(f"ERROR {m.error().name()}")
            continue
        value = m.value().decode()
        if a.mode == "amo":
            if commit(m.partition(), m.offset() + 1):
                emit(f"REC {m.partition()} {m.offset()} {value}")
        else:
            emit(f"REC {m.partition()} {m.offset()} {value}")
            commit(m.partition(), m.offset() + 1)
    c.close()
    emit("CLOSED")


def run_kafka_python(a, closing):
    from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError
    from kafka.structs import OffsetAndMetadata
    c = KafkaConsumer(bootstrap_servers=a.bootstrap, group_id=a.group,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      session_timeout_ms=a.session_ms, heartbeat_interval_ms=500,
                      client_id=f"worker-{a.name}")
    state = set()

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            state.difference_update(tp.partition for tp in revoked)
            emit(fmt_assignment(state))

        def on_partitions_assigned(self, assigned):
            state.clear()
            state.update(tp.partition for tp in assigned)
            emit(fmt_assignment(state))

    c.subscribe([a.topic], listener=Listener())
    emit("READY")

    def commit(p, nxt):
        try:
            c.commit({TopicPartition(a.topic, p): OffsetAndMetadata(nxt, "")})
            emit(f"COMMITTED {p} {nxt}")
            return True
        except KafkaError as e:
            emit(f"COMMITFAIL {p} {nxt} {type(e).__name__}")
            return False

    while not closing.is_set():
        batches = c.poll(timeout_ms=200)
        for tp, records in sorted(batches.items()):
            for r in records:
                if closing.is_set() or tp.partition not in state:
                    break
                value = r.value.decode()
                if a.mode == "amo":
                    if commit(tp.partition, r.offset + 1):
                        emit(f"REC {tp.partition} {r.offset} {value}")
                else:
                    emit(f"REC {tp.partition} {r.offset} {value}")
                    if not commit(tp.partition, r.offset + 1):
                        # the position is past this batch already: fetch the
                        # rest again rather than silently drop it
                        try:
                            c.seek(tp, r.offset + 1)
                        except Exception:
                            pass
                        break
    c.close()
    emit("CLOSED")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", choices=["confluent", "kafka-python"], required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--mode", choices=["alo", "amo"], default="alo")
    ap.add_argument("--session-ms", type=int, default=6000)
    ap.add_argument("--name", default="w")
    a = ap.parse_args()
    closing = threading.Event()
    threading.Thread(target=watch_stdin, args=(closing,), daemon=True).start()
    (run_confluent if a.client == "confluent" else run_kafka_python)(a, closing)


if __name__ == "__main__":
    main()
