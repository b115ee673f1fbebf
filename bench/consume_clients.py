"""bench/consume_clients.py - "consume as clients do it" (issue 17) in
bench/run, never asserted: one librdkafka consumer assigned every partition
of a topic (1, 8, 32), which puts all of a broker's partitions in one Fetch
as every Kafka client does, read at librdkafka's own defaults, beside the
suite's other consume rows of the same backlog (sluice and Kafka alike):

  librdkafka          kafka_bench's tuned consumer (queued.min.messages=1M,
                      50 MB fetches): the client's best
  librdkafka-defaults kafka_bench --client-defaults: what an application
                      gets; librdkafka 2.0.2 stops fetching a partition for
                      fetch.error.backoff.ms (500 ms) once more than
                      queued.min.messages (100k) records wait in its queue,
                      which one answer of 16 partitions x 1 MB reaches
  librdkafka-noflow   the defaults with that flow control lifted
                      (queued.min.messages=10M): defaults-noflow minus
                      defaults is the client's own flow control; both
                      count its pauses (kafka_bench --flow-pauses: the
                      fetcher's "queued.min.messages exceeded" debug lines,
                      each a fetch.error.backoff.ms wait)
  native-multi        (sluice) native_fetch --multi, one Fetch of all a
                      shard's partitions on one connection, no client:
                      the broker's figure; native (one connection per
                      partition) beside it

Called by bench/run's produce_and_consume for each librdkafka backlog of
the page-cache class; summary() is the table with the ratios.
"""

NOFLOW_PROPS = ["--prop", "queued.min.messages=10000000"]


def variants(suite, server, topic, parts, size, count):
    """The two client-default consumes of a backlog already read once."""
    for client, extra in (("librdkafka-defaults", []),
                          ("librdkafka-noflow", NOFLOW_PROPS)):
        argv = suite.common(server, topic, parts, size) + \
            ["--mode", "consume", "--count", count, "--seconds", suite.bound_s(),
             "--no-create", "--client-defaults", "--flow-pauses"] + extra
        suite.drive(server, "kafka_bench", client, "consume", size, parts, argv,
                    suite.bound_s() + 60)


CLIENTS = ["librdkafka-defaults", "librdkafka-noflow", "librdkafka", "native", "native-multi"]


def summary(rows, limits):
    def mb(system, client, size, parts, key="mb_s"):
        for r in rows:
            if (r.get("system"), r.get("client"), r.get("workload"), r.get("size"),
                    r.get("partitions")) == (system, client, "consume", size, parts) \
                    and r.get("ok"):
                return r.get(key)
        return None

    combos = sorted({(r["size"], r["partitions"]) for r in rows
                     if r.get("client") == "librdkafka-defaults" and r.get("workload") == "consume"})
    if not combos:
        return []
    loop = limits.get("loopback", {}).get("loopback_mb_s")

    def f(v):
        return f"{v:.0f}" if v else "-"

    def q(a, b):
        return f"{a / b:.2f}" if a and b else "-"

    out = ["", "## Consume as clients do it: one consumer, every partition in one Fetch "
           "(MB/s of values)", "",
           "| size | partitions | system | " + " | ".join(CLIENTS) +
           " | client flow-control pauses at defaults | client flow control: defaults ÷ noflow "
           "| broker: native one Fetch ÷ loopback | sluice ÷ Kafka (defaults) |",
           "|---" * (3 + len(CLIENTS) + 4) + "|"]
    for size, parts in combos:
        for system in ("sluice", "kafka"):
            got = {c: mb(system, c, size, parts) for c in CLIENTS}
            if not any(got.values()):
                continue
            vs = q(got["librdkafka-defaults"], mb("kafka", "librdkafka-defaults", size, parts)) \
                if system == "sluice" else ""
            out.append(f"| {size} B | {parts} | {system} | " +
                       " | ".join(f(got[c]) for c in CLIENTS) +
                       f" | {mb(system, 'librdkafka-defaults', size, parts, 'flow_pauses')} "
                       f"| {q(got['librdkafka-defaults'], got['librdkafka-noflow'])} "
                       f"| {q(got['native-multi'], loop) if system == 'sluice' else ''} | {vs} |")
    out += ["", "Which figure is whose: the client's flow control is librdkafka's "
            "(queued.min.messages=100k, fetch.error.backoff.ms=500 in 2.0.2): it stops "
            "fetching a partition for 500 ms whenever more than 100k of its records wait "
            "in the queue; `pauses` counts those stops (its fetcher's debug lines) and "
            "`defaults ÷ noflow` below 1 is the rate they cost. The broker's figure is "
            "native one Fetch (no client library), against loopback TCP. A run that "
            "starts on an empty partition also waits fetch.wait.max.ms (500 ms) for it "
            "in its first Fetch (librdkafka's partitioner leaves partitions empty), "
            "which weighs on the short --quick backlogs."]
    return out
