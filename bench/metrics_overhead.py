"""bench/metrics_overhead.py - what /metrics costs the data path (never
asserted).

metrics_overhead  librdkafka produce (100 B, acks=all, page cache) on one
                  broker with sluice.http.listen set, once with nobody
                  scraping and once with /metrics fetched every 50 ms (20x
                  Prometheus' usual 1 s) through the run, same run, same
                  topic layout: ratio = scraped msg/s / unscraped msg/s.
                  The counters themselves are always on (plain per-shard
                  fields); a scrape costs one CTL_STATS round through every
                  shard's ring.

Called by bench/run's Suite.run() with the suite and its Sluice class.
"""
import os
import re
import threading
import time
import urllib.request

HTTP_RE = r"^sluiced: http listening on (\S+) port=(\d+)"
PERIOD_S = 0.05


def log(msg):
    print(msg, flush=True)


def scraper(url, stop, count):
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                r.read()
            count[0] += 1
        except OSError:
            count[1] += 1
        stop.wait(PERIOD_S)


def run(suite, sluice_cls):
    class Broker(sluice_cls):
        def command(self):
            cmd, ready = super().command()
            return cmd + ["--set", "sluice.http.listen=127.0.0.1:0"], ready

    srv = Broker("page-cache", suite.scratch, suite.build)
    srv.dir = os.path.join(suite.scratch, "metrics-overhead")
    srv.log = srv.dir + ".log"
    try:
        srv.start()
    except RuntimeError as e:
        log(f"   metrics_overhead: {e}")
        return
    try:
        with open(srv.log, errors="replace") as f:
            m = re.search(HTTP_RE, f.read(), re.M)
        if not m:
            log("   metrics_overhead: no http line in the broker's log")
            return
        url = f"http://{m.group(1).rsplit(':', 1)[0]}:{m.group(2)}/metrics"
        got = {}
        for name in ("unscraped", "scraped"):
            srv.config = f"flush.policy=os, acks=all, /metrics {name}"
            stop, count = threading.Event(), [0, 0]
            th = threading.Thread(target=scraper, args=(url, stop, count), daemon=True)
            if name == "scraped":
                th.start()
            n = suite.counts("sluice", "librdkafka", 100)
            argv = suite.common(srv, f"metrics-{name}", 1, 100) + \
                ["--mode", "produce", "--count", n, "--seconds", suite.bound_s(), "--acks", "all"]
            t0 = time.monotonic()
            row = suite.drive(srv, "kafka_bench", f"librdkafka-{name}", "produce", 100, 1, argv,
                              suite.bound_s() + 60)
            stop.set()
            if th.is_alive():
                th.join(10)
            row["scrapes"], row["scrape_errors"] = count
            row["scrapes_per_s"] = round(count[0] / max(time.monotonic() - t0, 1e-9), 1)
            got[name] = row.get("msgs_s", 0) if row["ok"] else 0
        if got.get("unscraped") and got.get("scraped"):
            log(f"   metrics_overhead: {got['scraped']:.0f} msg/s scraped every "
                f"{PERIOD_S * 1000:.0f} ms, {got['unscraped']:.0f} unscraped: ratio "
                f"{got['scraped'] / got['unscraped']:.2f}")
    finally:
        srv.stop()
