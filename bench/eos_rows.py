"""eos_rows.py - bench/run's exactly-once rows (issue 10), measured beside
the plain rows of the same run, and their summary table.

Rows (all through librdkafka, kafka_bench; the plain produce rows bench/run
already measures are the comparison):
  produce   client librdkafka-idem: enable.idempotence=true, 100 B and
            1 KiB, 1 and 8 partitions, on sluice and on librdkafka's mock
            (the client's own idempotence cost: librdkafka allows 5
            requests in flight per broker when idempotent, a million
            otherwise)
  txn       client librdkafka-txn: transactions of 100 and of 1000 messages
            of 100 B; msgs/s and commit_transaction() p50/p99 (after the
            transaction's messages are flushed: EndTxn, i.e. the
            coordinator's log and every partition's marker made durable),
            beside the machine's 4 KiB write+fdatasync p99
  consume   clients librdkafka-rc and librdkafka-ru: the transactional
            backlog of 1000-message transactions read back with
            read_committed and with read_uncommitted
"""

TXN_SIZES = [100, 1000]


def counts(quick, size, per_txn=None):
    if per_txn:
        n = 100000 if per_txn <= 100 else 1000000
        return n // 10 if quick else n
    n = 5000000 if size <= 100 else 2000000
    return n // 20 if quick else n


def exactly_once(suite, server):
    """The rows for server (sluice: every class; kafka-mock: produce)."""
    sizes = [100] if suite.quick else [100, 1024]
    parts_list = [1] if suite.quick else [1, 8]
    for size in sizes:
        for parts in parts_list:
            n = counts(suite.quick, size)
            if server.name != "kafka-mock":
                suite.prewarm(n * (size + 64))
            argv = suite.common(server, f"idem-{size}b-p{parts}", parts, size) + \
                ["--mode", "produce", "--count", n, "--seconds", suite.bound_s(), "--idempotent"]
            if server.name == "kafka-mock":
                argv.append("--mock")
            suite.drive(server, "kafka_bench", "librdkafka-idem", "produce", size, parts, argv,
                        suite.bound_s() + 60)
    if server.name == "kafka-mock" or (suite.quick and server.durability != "durable"):
        return  # --quick (CI): transactions and isolation on the durable broker only
    for per_txn in TXN_SIZES:
        for parts in parts_list:
            topic = f"txn{per_txn}-p{parts}"
            n = counts(suite.quick, 100, per_txn)
            argv = suite.common(server, topic, parts, 100) + \
                ["--mode", "produce", "--count", n, "--seconds", suite.bound_s(),
                 "--txn-msgs", per_txn]
            row = suite.drive(server, "kafka_bench", "librdkafka-txn", "txn", 100, parts, argv,
                              suite.bound_s() + 60, rate=per_txn)
            if per_txn != max(TXN_SIZES) or not row["ok"]:
                continue
            for client, iso in (("librdkafka-rc", "read_committed"),
                                ("librdkafka-ru", "read_uncommitted")):
                argv = suite.common(server, topic, parts, 100) + \
                    ["--mode", "consume", "--count", row.get("msgs", 0), "--seconds",
                     suite.bound_s(), "--isolation", iso, "--markers"]
                suite.drive(server, "kafka_bench", client, "consume", 100, parts, argv,
                            suite.bound_s() + 60)


def _get(rows, **want):
    for r in rows:
        if r.get("ok") and all(r.get(k) == v for k, v in want.items()):
            return r
    return None


def _ratio(a, b):
    return f"{a / b:.2f}" if a and b else "-"


def _si(v):
    if not v:
        return "-"
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:.2f}{suffix}"
    return f"{v:.0f}"


def summary(rows, limits):
    """The summary.md section: idempotent ÷ plain, transactions, isolation."""
    out = ["| durability | size | partitions | sluice plain | sluice idempotent | "
           "idempotent ÷ plain | mock plain | mock idempotent | mock idempotent ÷ plain |",
           "|---|---|---|---|---|---|---|---|---|"]
    seen = []
    for r in rows:
        if r.get("client") == "librdkafka-idem" and r.get("system") == "sluice":
            key = (r["durability"], r["size"], r["partitions"])
            if key not in seen:
                seen.append(key)
    for dur, size, parts in seen:
        sp = _get(rows, system="sluice", client="librdkafka", workload="produce",
                  durability=dur, size=size, partitions=parts)
        si = _get(rows, system="sluice", client="librdkafka-idem", workload="produce",
                  durability=dur, size=size, partitions=parts)
        mp = _get(rows, system="kafka-mock", client="librdkafka", workload="produce",
                  size=size, partitions=parts)
        mi = _get(rows, system="kafka-mock", client="librdkafka-idem", workload="produce",
                  size=size, partitions=parts)
        v = [x.get("msgs_s") if x else None for x in (sp, si, mp, mi)]
        out.append(f"| {dur} | {size} B | {parts} | {_si(v[0])} | {_si(v[1])} | "
                   f"{_ratio(v[1], v[0])} | {_si(v[2])} | {_si(v[3])} | {_ratio(v[3], v[2])} |")
    fs = limits.get("fsync", {}).get("p99_us")
    out += ["", "| durability | messages per transaction | partitions | msgs/s | "
            "commit p50 (µs) | commit p99 (µs) | commit p99 ÷ fdatasync p99 |",
            "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("workload") == "txn" and r.get("ok"):
            out.append(f"| {r['durability']} | {r.get('txn_msgs')} | {r['partitions']} | "
                       f"{_si(r.get('msgs_s'))} | {r.get('commit_p50_us', 0):.0f} | "
                       f"{r.get('commit_p99_us', 0):.0f} | {_ratio(r.get('commit_p99_us'), fs)} |")
    out += ["", "| durability | partitions | read_committed MB/s | read_uncommitted MB/s | "
            "committed ÷ uncommitted |", "|---|---|---|---|---|"]
    for r in rows:
        if r.get("client") != "librdkafka-rc" or not r.get("ok"):
            continue
        ru = _get(rows, client="librdkafka-ru", durability=r["durability"],
                  partitions=r["partitions"], system=r["system"])
        out.append(f"| {r['durability']} | {r['partitions']} | {r.get('mb_s', 0):.1f} | "
                   f"{ru.get('mb_s', 0) if ru else 0:.1f} | "
                   f"{_ratio(r.get('mb_s'), ru.get('mb_s') if ru else None)} |")
    return out
