"""bench/tls.py - the TLS rows of bench/run (never asserted).

tls   produce then consume through librdkafka (kafka_bench, 100 B values,
      acks=all, flush.policy=os) on one broker with a PLAINTEXT and an SSL
      listener, each over each listener in the same run: ratio = SSL msg/s /
      PLAINTEXT msg/s. The certificate is made here with openssl (a
      self-signed one for localhost), nothing is fetched.

Called by bench/run's Suite.run() with the suite and its Sluice class.
"""
import os
import re
import subprocess

import compaction  # its admin(): topics made through the sluice CLI

LISTENER_RE = r"^sluiced: listener name=SSL protocol=SSL bootstrap=(\S+)"


def log(msg):
    print(msg, flush=True)


def make_cert(d):
    key, pem = os.path.join(d, "tls-bench.key"), os.path.join(d, "tls-bench.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", pem, "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    store = os.path.join(d, "tls-bench-keystore.pem")
    with open(store, "w") as out:
        for p in (key, pem):
            with open(p) as f:
                out.write(f.read())
    return store, pem


def run(suite, sluice_cls):
    store, ca = make_cert(suite.scratch)

    class Broker(sluice_cls):
        def command(self):
            cmd, ready = super().command()
            i = cmd.index("--listen")
            del cmd[i:i + 2]
            return cmd + ["--set", "listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
                          "--set", "ssl.keystore.type=PEM",
                          "--set", f"ssl.keystore.location={store}"], ready

    srv = Broker("page-cache", suite.scratch, suite.build)
    srv.dir = os.path.join(suite.scratch, "tls")
    srv.log = srv.dir + ".log"
    try:
        srv.start()
    except RuntimeError as e:
        log(f"   tls: {e}")
        return
    try:
        with open(srv.log, errors="replace") as f:
            m = re.search(LISTENER_RE, f.read(), re.M)
        targets = [("plaintext", srv.target, []),
                   ("tls", m.group(1) if m else None,
                    ["--prop", "security.protocol=ssl", "--prop", f"ssl.ca.location={ca}"])]
        got = {}
        for name, target, props in targets:
            if not target:
                log("   tls: no SSL listener line in the broker's log")
                return
            srv.target, srv.config = target, f"flush.policy=os, acks=all, {name}"
            n = suite.counts("sluice", "librdkafka", 100)
            topic = f"tls-bench-{name}"
            compaction.admin(suite, targets[0][1], topic, {})  # over PLAINTEXT
            argv = suite.common(srv, topic, 1, 100) + \
                ["--mode", "produce", "--count", n, "--seconds", suite.bound_s(),
                 "--acks", "all", "--no-create"] + props
            row = suite.drive(srv, "kafka_bench", f"librdkafka-{name}", "produce", 100, 1, argv,
                              suite.bound_s() + 60)
            got[(name, "produce")] = row.get("msgs_s", 0) if row["ok"] else 0
            if not row["ok"]:
                continue
            argv = suite.common(srv, topic, 1, 100) + \
                ["--mode", "consume", "--count", row.get("msgs", 0), "--seconds",
                 suite.bound_s(), "--no-create"] + props
            row = suite.drive(srv, "kafka_bench", f"librdkafka-{name}", "consume", 100, 1, argv,
                              suite.bound_s() + 60)
            got[(name, "consume")] = row.get("msgs_s", 0) if row["ok"] else 0
        for w in ("produce", "consume"):
            plain, tls = got.get(("plaintext", w), 0), got.get(("tls", w), 0)
            if plain and tls:
                log(f"   tls {w}: {tls:.0f} msg/s over SSL, {plain:.0f} over PLAINTEXT: "
                    f"ratio {tls / plain:.2f}")
    finally:
        srv.stop()
