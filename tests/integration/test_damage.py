#!/usr/bin/python3
"""Log files damaged behind the broker's back, while it runs and at start:

- test_garbled_under_running_broker: a segment of one topic is overwritten
  with garbage in its middle and its offset index removed while the broker
  runs (without the shard journal: sluice.journal.bytes=0). The broker
  keeps serving (another topic's round trip), and after a SIGKILL it
  recovers: the damaged partition reads back, CRC-checked, as an unbroken
  prefix of what was produced (up to the damage), another topic whole, and
  appends go on after the recovered end;
- test_garbled_journal_puts_back: the same with the journal (the default):
  recovery cuts the segment at the damage and the journal's replay puts
  every acknowledged record after the cut back, so all of it reads back;
- test_indexes_removed_at_start: every .index and .timeindex removed between
  a SIGKILL and the start: rebuilt, every record reads back, a lookup by
  time finds the right offset.
"""

import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import kwire  # noqa: E402
from harness import check, expect_eq, kcat, kcat_roundtrip, log  # noqa: E402

N = 2000


def produce(b, topic, start, n):
    lines = [f"k{i}:value-{i}-{'x' * (i % 50)}" for i in range(start, start + n)]
    # Batches of 20: a damaged batch costs only what follows it.
    p = kcat(b.bootstrap, ["-P", "-t", topic, "-p", "0", "-K:", "-X", "acks=all",
                           "-X", "batch.num.messages=20"],
             input=("\n".join(lines) + "\n").encode(), timeout=90)
    check("fail" not in p.stderr.decode(errors="replace").lower(),
          f"kcat produce to {topic}: {p.stderr[-2000:]!r}")
    return lines


def consume(b, topic):
    c = kcat(b.bootstrap, ["-C", "-t", topic, "-p", "0", "-e", "-o", "beginning", "-q",
                           "-X", "check.crcs=true", "-f", "%o %k:%s\\n"], timeout=90)
    out = []
    for ln in c.stdout.decode(errors="replace").splitlines():
        off, kv = ln.split(" ", 1)
        out.append((int(off), kv))
    return out


def segment_files(b, topic, ext):
    return sorted(glob.glob(os.path.join(b.data_dir, f"{topic}-0", f"*.{ext}")))


def test_garbled_under_running_broker(ctx):
    garble(ctx, "garble", {"sluice.journal.bytes": 0}, journal=False)


def test_garbled_journal_puts_back(ctx):
    garble(ctx, "garble-jnl", {}, journal=True)


def garble(ctx, name, sets, journal):
    b = ctx.new_broker(name, sets=dict(sets, **{"num.partitions": 1}))
    for t in ("dmg", "ok"):
        expect_eq(kwire.create_topic_error(*b.host_port(), t, 1), 0, f"create {t}")
    sent = produce(b, "dmg", 0, N)
    ok = produce(b, "ok", 0, N)
    seg = segment_files(b, "dmg", "log")
    check(seg, "no segment of dmg")
    size = os.path.getsize(seg[0])
    at = size // 2
    with open(seg[0], "r+b") as f:
        f.seek(at)
        f.write(b"\xde\xad\xbe\xef" * 256)
    for idx in segment_files(b, "dmg", "index"):
        os.unlink(idx)
    log(f"garbled {os.path.basename(seg[0])} at {at} of {size} bytes, its index removed")
    kcat_roundtrip(b.bootstrap, "alive-after-garble", n=50)
    check(b.alive(), "the broker died after its files were damaged")
    b.kill()
    b.start()
    got = consume(b, "dmg")
    if journal:
        check("journal replay put batches back" in open(b.log_path, errors="replace").read(),
              "the broker log says the journal put batches back")
        expect_eq(len(got), N, "dmg after recovery: every record (the journal held the rest)")
    else:
        check(0 < len(got) < N, f"dmg after recovery: {len(got)} records of {N} (the damage "
                                f"is in the middle of the only segment)")
    expect_eq(got, list(enumerate(sent[:len(got)])), "dmg: an unbroken prefix of what was sent")
    expect_eq([kv for _, kv in consume(b, "ok")], ok, "ok: every record after recovery")
    more = produce(b, "dmg", N, 10)
    after = consume(b, "dmg")
    expect_eq([kv for _, kv in after[len(got):]], more, "dmg: appends after the recovered end")
    expect_eq([o for o, _ in after], list(range(len(after))), "dmg: offsets after recovery")
    log(f"dmg kept {len(got)} of {N} records; appends continue at offset {len(got)}")
    b.stop()


def test_indexes_removed_at_start(ctx):
    b = ctx.new_broker("noindex", sets={"num.partitions": 1, "log.segment.bytes": 65536})
    expect_eq(kwire.create_topic_error(*b.host_port(), "idx", 1), 0, "create idx")
    # Two producer runs, so that timestamps differ across the log.
    sent = produce(b, "idx", 0, N // 2) + produce(b, "idx", N // 2, N // 2)
    b.kill()
    removed = segment_files(b, "idx", "index") + segment_files(b, "idx", "timeindex")
    check(len(removed) >= 4, f"expected several segments' indexes, found {removed}")
    for f in removed:
        os.unlink(f)
    b.start()
    expect_eq([kv for _, kv in consume(b, "idx")], sent, "idx: every record after the indexes went")
    # A lookup by time (kcat -o s@TS: ListOffsets by timestamp) goes
    # through the rebuilt time index: the first offset at or after TS.
    c = kcat(b.bootstrap, ["-C", "-t", "idx", "-p", "0", "-o", "beginning", "-e", "-q",
                           "-f", "%o %T\\n"], timeout=60)
    times = [tuple(map(int, ln.split())) for ln in c.stdout.decode().splitlines()]
    expect_eq(len(times), N, "records with timestamps")
    mid_ts = times[N // 2][1]
    want = min(o for o, t in times if t >= mid_ts)
    c = kcat(b.bootstrap, ["-C", "-t", "idx", "-p", "0", "-o", f"s@{mid_ts}", "-c", "1", "-e",
                           "-q", "-f", "%o\\n"], timeout=60)
    got = c.stdout.decode().split()
    expect_eq(int(got[0]) if got else None, want, f"offset for time {mid_ts}")
    log(f"{len(removed)} index files rebuilt; time {mid_ts} -> offset {want}")
    b.stop()


if __name__ == "__main__":
    harness.main([test_garbled_under_running_broker, test_garbled_journal_puts_back,
                  test_indexes_removed_at_start])
