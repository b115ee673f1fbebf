#!/usr/bin/python3
"""A transactional consume-transform-produce worker (confluent-kafka, the
loop Kafka's exactly-once documentation describes), run as a subprocess by
test_transactions.py so that it can be SIGKILLed anywhere.

    txn_worker.py BOOTSTRAP GROUP TXN_ID IN_TOPIC OUT_TOPIC PARTITIONS TOTAL

It reads IN_TOPIC (read_committed, partitions assigned by hand, positions
from the group's committed offsets), and for every batch of records writes
"out:<value>" to the same partition of OUT_TOPIC and commits the input
offsets in the same transaction. It prints "committed N" (N = input records
committed so far, as the committed offsets say) after every commit, and
exits 0 once TOTAL input records are committed. Errors: an abortable one
aborts, rewinds to the committed offsets and goes on; a fatal one (fenced)
exits 3."""

import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition


def committed_positions(c, topic, partitions):
    for _ in range(600):
        try:
            got = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
            return {tp.partition: (tp.offset if tp.offset >= 0 else 0) for tp in got}
        except KafkaException as e:
            # UNSTABLE_OFFSET_COMMIT while an older transaction still ends
            print(f"committed(): {e}; again", file=sys.stderr, flush=True)
            time.sleep(0.1)
    sys.exit(4)


def main():
    bootstrap, group, txn_id, src, dst, nparts, total = sys.argv[1:8]
    nparts, total = int(nparts), int(total)
    prod = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                     "transaction.timeout.ms": 30000, "linger.ms": 5,
                     "message.timeout.ms": 30000})
    prod.init_transactions(60)  # fences the instance killed before us
    cons = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                     "isolation.level": "read_committed", "enable.auto.commit": False,
                     "auto.offset.reset": "earliest"})

    def rewind():
        pos = committed_positions(cons, src, nparts)
        cons.assign([TopicPartition(src, p, pos[p]) for p in range(nparts)])
        return pos

    pos = rewind()
    while sum(pos.values()) < total:
        msgs = [m for m in cons.consume(num_messages=50, timeout=1) if not m.error()]
        if not msgs:
            continue
        try:
            prod.begin_transaction()
            for m in msgs:
                prod.produce(dst, key=m.key(), value=b"out:" + m.value(), partition=m.partition())
                pos[m.partition()] = m.offset() + 1
            prod.send_offsets_to_transaction(
                [TopicPartition(src, p, pos[p]) for p in range(nparts)],
                cons.consumer_group_metadata(), 60)
            prod.commit_transaction(60)
        except KafkaException as e:
            err = e.args[0]
            print(f"transaction failed: {err}", file=sys.stderr, flush=True)
            if err.fatal():
                sys.exit(3)
            if err.txn_requires_abort() or err.retriable():
                try:
                    prod.abort_transaction(60)
                except KafkaException as e2:
                    if e2.args[0].fatal():
                        sys.exit(3)
            pos = rewind()
            continue
        print(f"committed {sum(pos.values())}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
