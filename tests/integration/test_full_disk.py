#!/usr/bin/env python3
"""A full disk: the broker's data dir is a small tmpfs that fills up while a
producer writes. Produce answers KAFKA_STORAGE_ERROR (56) for the partition
that hit ENOSPC, everything acknowledged before stays readable, and the
broker keeps serving (Metadata, other requests) without crashing.
Needs root for the mount (CI runs as root)."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect_eq, fail, kcat_metadata, log, wait_until  # noqa: E402

TMPFS_SIZE = "8m"


def test_full_disk_gets_storage_error(ctx):
    from confluent_kafka import KafkaError, Producer
    b = ctx.new_broker("fulldisk", start=False, sets={"num.partitions": 1})
    mnt = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", b.data_dir],
                         capture_output=True, text=True)
    if mnt.returncode != 0:
        fail(f"cannot mount a tmpfs for the data dir (root needed): {mnt.stderr.strip()}")
    try:
        b.start()
        prod = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 5,
                         "retries": 0, "message.timeout.ms": 30000,
                         "enable.idempotence": False})
        ok, errors = [], []

        def cb(err, msg):
            if err is None:
                ok.append(msg.offset())
            else:
                errors.append(err.code())

        value = b"x" * 1000
        # 8 MiB of tmpfs takes < 8,000 such messages; send up to 20,000.
        for i in range(20000):
            for _ in range(1000):
                try:
                    prod.produce("filler", value=value, on_delivery=cb)
                    break
                except BufferError:
                    prod.poll(0.05)
            prod.poll(0)
            if errors:
                break
        expect_eq(prod.flush(60), 0, "messages still queued after flush")
        log(f"acknowledged {len(ok)} messages before the disk filled; errors {sorted(set(errors))}")
        check(len(ok) > 0, "some messages were acknowledged before the disk filled")
        check(errors, "the full disk produced delivery errors")
        expect_eq(set(errors), {KafkaError.KAFKA_STORAGE_ERROR}, "error codes of the failed deliveries")
        check(b.alive(), "the broker is still running after ENOSPC")
        md = kcat_metadata(b.bootstrap)
        check(any(t["topic"] == "filler" for t in md.get("topics", [])),
              "the broker still answers Metadata")
        # What was acknowledged stays readable.
        out = harness.kcat(b.bootstrap, ["-C", "-t", "filler", "-p", "0", "-o", "beginning",
                                         "-e", "-c", str(len(ok)), "-f", "%o\\n"], timeout=60)
        got = [int(x) for x in out.stdout.decode().split()]
        expect_eq(got, sorted(ok), "offsets read back after the disk filled")
        wait_until(lambda: "failed for good" in open(b.log_path, errors="replace").read(), 10,
                   "the broker's log line saying why the partition failed")
        del prod
        b.stop()
    finally:
        if b.alive():
            b.kill()
        subprocess.run(["umount", "-l", b.data_dir], capture_output=True)


if __name__ == "__main__":
    harness.main([test_full_disk_gets_storage_error], clean_shutdown=False)
