#!/usr/bin/python3
"""Security: listeners of every protocol side by side, TLS with kcat,
confluent-kafka and kafka-python, mutual TLS required and refused, bad
certificates refused while the broker keeps serving; SASL PLAIN and
SCRAM-SHA-256/512 over SASL_PLAINTEXT and SASL_SSL with credentials made
through AlterUserScramCredentials, wrong passwords refused. Certificates are made
by the test with openssl (certs.py); everything runs on 127.0.0.1.

    SLUICED=build/sluiced /usr/bin/python3 tests/integration/test_security.py"""

import os
import ssl
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect_eq, fail, log  # noqa: E402
import certs  # noqa: E402
import scram_admin  # noqa: E402

N = int(os.environ.get("SLUICE_IT_SEC_N", "20000"))
LISTENERS = "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0"

_pki = {}


def pki():
    """One CA and server keystore for the whole run."""
    if not _pki:
        d = tempfile.mkdtemp(prefix="sluice-it-pki-")
        p = certs.Pki(d)
        _pki["pki"] = p
        _pki["keystore"] = p.server()
        _pki["other"] = certs.Pki(os.path.join(d, "other"), name="not-the-ca")
    return _pki["pki"]


def tls_broker(ctx, name, client_auth=None, extra=None):
    p = pki()
    sets = {"listeners": LISTENERS, **certs.tls_sets(p, _pki["keystore"], client_auth)}
    sets.update(extra or {})
    return ctx.new_broker(name, sets=sets)


def kcat_ssl(b, args, cert=None, input=None, check_rc=True, timeout=120):
    x = ["-X", "security.protocol=ssl", "-X", f"ssl.ca.location={pki().ca}"]
    if cert:
        x += ["-X", f"ssl.key.location={cert[0]}", "-X", f"ssl.certificate.location={cert[1]}"]
    return harness.kcat(b.listeners["SSL"], x + list(args), input=input, check_rc=check_rc,
                        timeout=timeout)


def metadata_ports(out):
    import json
    return sorted(int(br["name"].rsplit(":", 1)[1]) for br in json.loads(out)["brokers"])


def shared(ctx):
    if "b" not in _pki:
        _pki["b"] = tls_broker(ctx, "tls")
    return _pki["b"]


def test_listeners_advertise_their_own_ports(ctx):
    b = shared(ctx)
    check(set(b.listeners) == {"PLAINTEXT", "SSL"}, f"listeners logged: {b.listeners}")
    plain = metadata_ports(harness.kcat(b.listeners["PLAINTEXT"], ["-L", "-J"]).stdout)
    tls = metadata_ports(kcat_ssl(b, ["-L", "-J"]).stdout)
    expect_eq(len(tls), 2, "brokers in Metadata over SSL")
    check(not set(plain) & set(tls), f"plaintext ports {plain} and TLS ports {tls} overlap")
    ssl_port = int(b.listeners["SSL"].rsplit(":", 1)[1])
    check(ssl_port in tls, f"shard 0's SSL port {ssl_port} not in Metadata over SSL: {tls}")
    plain_port = int(b.listeners["PLAINTEXT"].rsplit(":", 1)[1])
    check(plain_port in plain, f"shard 0's port {plain_port} not in Metadata: {plain}")
    # a TLS client on the plaintext port and a plaintext one on the TLS port fail,
    # and the broker keeps serving both listeners
    err = certs.handshake(b.listeners["PLAINTEXT"], pki().ca)
    check(err is not None, "a TLS handshake on the PLAINTEXT port succeeded")
    p = harness.kcat(b.listeners["SSL"], ["-L", "-m", "3"], check_rc=False, timeout=60)
    check(p.returncode != 0, "kcat without TLS on the SSL port succeeded")
    harness.wait_until(lambda: "not a TLS handshake on SSL listener SSL" in b.log_text(), 20,
                       "the broker's log line naming a plaintext client on the SSL port")
    harness.kcat_roundtrip(b.listeners["PLAINTEXT"], "plain-beside-tls", n=200)
    kcat_ssl(b, ["-L", "-m", "10"])


def test_kcat_over_tls(ctx):
    b = shared(ctx)
    lines = [f"k{i}:{'v' * (i % 300)}{i}" for i in range(N)]
    body = ("\n".join(lines) + "\n").encode()
    for codec in ("none", "lz4"):
        topic = f"tls-kcat-{codec}"
        kcat_ssl(b, ["-P", "-t", topic, "-K:", "-z", codec, "-X", "acks=all"], input=body)
        got = kcat_ssl(b, ["-C", "-t", topic, "-e", "-q", "-f", "%k:%s\\n"]).stdout
        expect_eq(sorted(got.decode().splitlines()), sorted(lines), f"{topic} read back")
    # the same records over the plaintext listener (the zero-copy path)
    got = harness.kcat(b.listeners["PLAINTEXT"], ["-C", "-t", "tls-kcat-none", "-e", "-q",
                                                  "-f", "%k:%s\\n"]).stdout
    expect_eq(len(got.decode().splitlines()), N, "records read back over PLAINTEXT")


def test_confluent_kafka_over_tls(ctx):
    from confluent_kafka import Consumer, Producer, TopicPartition
    b = shared(ctx)
    conf = {"bootstrap.servers": b.listeners["SSL"], "security.protocol": "ssl",
            "ssl.ca.location": pki().ca}
    p = Producer({**conf, "linger.ms": 5, "compression.type": "lz4"})
    errors = []
    n = N // 2
    for i in range(n):
        p.produce("tls-ck", key=f"{i}".encode(), value=f"value-{i}".encode() * 20,
                  on_delivery=lambda e, m: e and errors.append(e))
        if i % 5000 == 0:
            p.poll(0)
    left = p.flush(60)
    expect_eq((left, errors[:3]), (0, []), "undelivered and failed messages")
    c = Consumer({**conf, "group.id": "tls-ck", "enable.auto.commit": False})
    c.assign([TopicPartition("tls-ck", 0, 0)])
    got = 0
    for _ in range(2000):
        msgs = c.consume(1000, timeout=1)
        for m in msgs:
            check(m.error() is None, f"consume error {m.error()}")
            expect_eq(m.value(), f"value-{m.key().decode()}".encode() * 20, "value")
            got += 1
        if got >= n:
            break
    c.close()
    expect_eq(got, n, "messages consumed over TLS")


def test_kafka_python_over_tls(ctx):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    b = shared(ctx)
    conf = dict(bootstrap_servers=b.listeners["SSL"], security_protocol="SSL",
                ssl_cafile=pki().ca)
    prod = KafkaProducer(**conf, acks="all")
    n = 2000
    futs = [prod.send("tls-kp", key=b"%d" % i, value=b"kp-%d" % i) for i in range(n)]
    prod.flush(60)
    for f in futs:
        f.get(timeout=30)
    prod.close()
    cons = KafkaConsumer(**conf, consumer_timeout_ms=15000)
    tp = TopicPartition("tls-kp", 0)
    cons.assign([tp])
    cons.seek_to_beginning(tp)
    got = []
    for m in cons:
        got.append(m.value)
        if len(got) == n:
            break
    cons.close()
    expect_eq(sorted(got), sorted(b"kp-%d" % i for i in range(n)), "kafka-python read back")


def test_mutual_tls_required(ctx):
    p = pki()
    b = tls_broker(ctx, "mtls", client_auth="required")
    alice = p.client("alice")
    err = certs.handshake(b.listeners["SSL"], p.ca, *alice)
    check(err is None, f"a client certificate from the CA was refused: {err}")
    # refused with the TLS alert that says why (sent before the broker closes)
    err = certs.handshake(b.listeners["SSL"], p.ca)
    check(err is not None and "CERTIFICATE_REQUIRED" in err.upper(),
          f"a client without a certificate under ssl.client.auth=required: {err}")
    log(f"no certificate: {err}")
    mallory = _pki["other"].client("mallory")
    err = certs.handshake(b.listeners["SSL"], p.ca, *mallory)
    check(err is not None and "UNKNOWN_CA" in err.upper().replace(" ", "_"),
          f"a certificate from another CA: {err}")
    log(f"another CA's certificate: {err}")
    harness.wait_until(lambda: "peer did not return a certificate" in b.log_text(), 20,
                       "the broker's log line for a missing client certificate")
    r = kcat_ssl(b, ["-L", "-m", "5"], check_rc=False, timeout=60)
    check(r.returncode != 0, "kcat without a client certificate got metadata")
    # the broker keeps serving: a good client round-trips, plaintext too
    lines = [f"m{i}" for i in range(500)]
    kcat_ssl(b, ["-P", "-t", "mtls", "-X", "acks=all"], cert=alice,
             input=("\n".join(lines) + "\n").encode())
    got = kcat_ssl(b, ["-C", "-t", "mtls", "-e", "-q"], cert=alice).stdout.decode().split()
    expect_eq(got, lines, "records over mutual TLS")
    harness.kcat_roundtrip(b.listeners["PLAINTEXT"], "after-refusals", n=100)


def test_client_auth_requested(ctx):
    p = pki()
    b = tls_broker(ctx, "mtls-req", client_auth="requested")
    check(certs.handshake(b.listeners["SSL"], p.ca) is None, "no certificate was refused")
    check(certs.handshake(b.listeners["SSL"], p.ca, *p.client("bob")) is None,
          "a good certificate was refused")
    err = certs.handshake(b.listeners["SSL"], p.ca, *_pki["other"].client("eve"))
    check(err is not None, "a certificate from another CA was accepted under 'requested'")


def test_protocols_and_key_password(ctx):
    p = pki()
    d = os.path.join(p.dir, "enc")
    os.makedirs(d, exist_ok=True)
    store = p.server(key_password="s3cret", name="server-enc")
    b = ctx.new_broker("tls13", sets={
        "listeners": LISTENERS, **certs.tls_sets(p, store, key_password="s3cret"),
        "ssl.enabled.protocols": "TLSv1.3"})
    check(certs.handshake(b.listeners["SSL"], p.ca) is None, "TLS 1.3 refused")
    err = certs.handshake(b.listeners["SSL"], p.ca, max_version=ssl.TLSVersion.TLSv1_2)
    check(err is not None, "TLS 1.2 accepted with ssl.enabled.protocols=TLSv1.3")
    harness.kcat_roundtrip(b.listeners["PLAINTEXT"], "tls13", n=50)
    b.stop()
    # a wrong key password, a missing keystore: the broker refuses to start
    for bad, why in (({"ssl.key.password": "wrong"}, "wrong key password"),
                     ({"ssl.keystore.location": os.path.join(d, "missing.pem")}, "no keystore"),
                     ({"ssl.keystore.type": "JKS"}, "JKS keystore")):
        sets = {"listeners": LISTENERS, **certs.tls_sets(p, store, key_password="s3cret"), **bad}
        r = harness.run([harness.sluiced_path(), "--check-config", "/dev/null"] +
                        sum((["--set", f"{k}={v}"] for k, v in sets.items()), []),
                        check_rc=False)
        out = r.stdout.decode() + r.stderr.decode()
        expect_eq(r.returncode, 1, f"--check-config with a {why}: {out}")
        log(f"{why}: {out.strip().splitlines()[0]}")


def test_unknown_listener_protocol(ctx):
    r = harness.run([harness.sluiced_path(), "--check-config", "/dev/null", "--set",
                     "listeners=PLAINTEXT://:0,CLIENT://:0"], check_rc=False)
    out = r.stdout.decode() + r.stderr.decode()
    expect_eq(r.returncode, 1, f"a listener missing from the protocol map: {out}")
    check("listener.security.protocol.map" in out, out)
    r = harness.run([harness.sluiced_path(), "--check-config", "/dev/null", "--set",
                     "listeners=PLAINTEXT://:0,CLIENT://:0", "--set",
                     "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CLIENT:PLAINTEXT"],
                    check_rc=False)
    expect_eq(r.returncode, 0, r.stdout.decode() + r.stderr.decode())


SASL_LISTENERS = "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0"
USERS = {"alice": "alice-secret", "bob": "b0b,=pass word"}


def sasl_broker(ctx):
    if "sasl" not in _pki:
        p = pki()
        b = ctx.new_broker("sasl", sets={"listeners": SASL_LISTENERS,
                                         **certs.tls_sets(p, _pki["keystore"])})
        got = scram_admin.alter(b.listeners["PLAINTEXT"], upserts=[
            ("alice", "SCRAM-SHA-256", USERS["alice"], 4096),
            ("alice", "SCRAM-SHA-512", USERS["alice"], 8192),
            ("bob", "SCRAM-SHA-512", USERS["bob"], 4096)])
        expect_eq(got, {"alice": (0, None), "bob": (0, None)}, "AlterUserScramCredentials")
        _pki["sasl"] = b
    return _pki["sasl"]


def kcat_sasl(b, listener, mech, user, password, args, input=None, check_rc=True):
    x = ["-X", f"security.protocol={listener.lower()}", "-X", f"sasl.mechanisms={mech}",
         "-X", f"sasl.username={user}", "-X", f"sasl.password={password}"]
    if listener == "SASL_SSL":
        x += ["-X", f"ssl.ca.location={pki().ca}"]
    return harness.kcat(b.listeners[listener], x + list(args), input=input, check_rc=check_rc,
                        timeout=90)


def test_scram_credentials_api(ctx):
    b = sasl_broker(ctx)
    addr = b.listeners["PLAINTEXT"]
    err, users = scram_admin.describe(addr)
    expect_eq((err, users), (0, {"alice": (0, {1: 4096, 2: 8192}), "bob": (0, {2: 4096})}),
              "every user described")
    err, users = scram_admin.describe(addr, ["bob", "nobody"])
    expect_eq(users["bob"], (0, {2: 4096}), "bob described")
    expect_eq(users["nobody"][0], 91, "an unknown user: RESOURCE_NOT_FOUND")
    got = scram_admin.alter(addr, upserts=[("carol", "SCRAM-SHA-256", "pw", 100),
                                           ("dave", 3, "pw", 4096)],
                            deletes=[("erin", "SCRAM-SHA-256")])
    expect_eq({u: e for u, (e, _) in got.items()}, {"carol": 93, "dave": 33, "erin": 91},
              "too few iterations, an unknown mechanism, deleting what is not there")
    got = scram_admin.alter(addr, upserts=[("frank", "SCRAM-SHA-256", "a", 4096),
                                           ("frank", "SCRAM-SHA-256", "b", 4096)])
    expect_eq(got["frank"][0], 92, "one credential altered twice: DUPLICATE_RESOURCE")
    check("frank" not in scram_admin.describe(addr)[1], "a refused alteration was applied")


def test_kcat_sasl(ctx):
    b = sasl_broker(ctx)
    lines = [f"s{i}" for i in range(2000)]
    body = ("\n".join(lines) + "\n").encode()
    kcat_sasl(b, "SASL_SSL", "SCRAM-SHA-256", "alice", USERS["alice"],
              ["-P", "-t", "sasl-kcat", "-X", "acks=all"], input=body)
    for listener, mech, user in (("SASL_SSL", "SCRAM-SHA-512", "alice"),
                                 ("SASL_PLAINTEXT", "SCRAM-SHA-512", "bob"),
                                 ("SASL_PLAINTEXT", "PLAIN", "bob"),
                                 ("SASL_SSL", "PLAIN", "alice")):
        got = kcat_sasl(b, listener, mech, user, USERS[user],
                        ["-C", "-t", "sasl-kcat", "-e", "-q"]).stdout.decode().split()
        expect_eq(got, lines, f"read back over {listener} {mech} as {user}")


def test_sasl_refusals(ctx):
    b = sasl_broker(ctx)
    for listener, mech in (("SASL_PLAINTEXT", "SCRAM-SHA-256"), ("SASL_SSL", "PLAIN"),
                           ("SASL_PLAINTEXT", "SCRAM-SHA-512")):
        r = kcat_sasl(b, listener, mech, "alice", "wrong", ["-L", "-m", "2"], check_rc=False)
        err = r.stderr.decode(errors="replace")
        check(r.returncode != 0 and "Authentication failed" in err,
              f"a wrong password over {listener} {mech}: rc={r.returncode} {err[-600:]}")
    # bob has no SCRAM-SHA-256 credential
    r = kcat_sasl(b, "SASL_PLAINTEXT", "SCRAM-SHA-256", "bob", USERS["bob"], ["-L", "-m", "2"],
                  check_rc=False)
    check(r.returncode != 0, "SCRAM-SHA-256 without a SHA-256 credential got through")
    harness.wait_until(lambda: "SASL authentication failed" in b.log_text(), 20,
                       "the broker's log line for a failed authentication")
    # a client that skips SASL on a SASL port: its first request closes the connection
    import kwire
    host, port = b.listeners["SASL_PLAINTEXT"].rsplit(":", 1)
    with kwire.Conn(host, int(port)) as c:
        c.send(kwire.request(3, 1, 1, kwire.i32(-1)))  # Metadata v1
        closed, _ = c.wait_closed()
    check(closed, "a Metadata request before SASL authentication was served")
    harness.wait_until(lambda: "before SASL authentication" in b.log_text(), 20,
                       "the broker's log line for a request before authentication")
    # an unknown mechanism: UNSUPPORTED_SASL_MECHANISM with the enabled list
    with kwire.Conn(host, int(port)) as c:
        r = c.call(17, 1, kwire.string("GSSAPI"), 5)
        expect_eq(r.i16(), 33, "SaslHandshake GSSAPI: UNSUPPORTED_SASL_MECHANISM")
        expect_eq(r.array(lambda r: r.string()), ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
                  "mechanisms offered")
    # SaslHandshake on a listener without SASL: ILLEGAL_SASL_STATE
    host, port = b.listeners["PLAINTEXT"].rsplit(":", 1)
    with kwire.Conn(host, int(port)) as c:
        expect_eq(c.call(17, 1, kwire.string("PLAIN"), 6).i16(), 34,
                  "SaslHandshake on PLAINTEXT: ILLEGAL_SASL_STATE")
    # and everyone else is still served
    kcat_sasl(b, "SASL_SSL", "SCRAM-SHA-512", "alice", USERS["alice"], ["-L", "-m", "10"])
    harness.kcat_roundtrip(b.listeners["PLAINTEXT"], "after-sasl-refusals", n=50)


def test_kafka_python_sasl(ctx):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.errors import KafkaError
    b = sasl_broker(ctx)
    # kafka-python: SaslHandshake v0, then raw SASL tokens
    for listener, mech, user in (("SASL_PLAINTEXT", "PLAIN", "bob"),
                                 ("SASL_SSL", "SCRAM-SHA-256", "alice"),
                                 ("SASL_PLAINTEXT", "SCRAM-SHA-512", "bob")):
        conf = dict(bootstrap_servers=b.listeners[listener], security_protocol=listener,
                    sasl_mechanism=mech, sasl_plain_username=user,
                    sasl_plain_password=USERS[user])
        if listener == "SASL_SSL":
            conf["ssl_cafile"] = pki().ca
        topic = f"sasl-kp-{mech.lower()}"
        prod = KafkaProducer(**conf, acks="all")
        for i in range(200):
            prod.send(topic, value=b"kp-%d" % i)
        prod.flush(60)
        prod.close()
        cons = KafkaConsumer(**conf, consumer_timeout_ms=15000)
        tp = TopicPartition(topic, 0)
        cons.assign([tp])
        cons.seek_to_beginning(tp)
        got = [m.value for _, m in zip(range(200), cons)]
        cons.close()
        expect_eq(sorted(got), sorted(b"kp-%d" % i for i in range(200)),
                  f"kafka-python over {listener} {mech}")
    try:
        p = KafkaProducer(bootstrap_servers=b.listeners["SASL_PLAINTEXT"],
                          security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                          sasl_plain_username="bob", sasl_plain_password="nope",
                          max_block_ms=5000)
        p.close()
        fail("kafka-python with a wrong password got a producer")
    except KafkaError as e:
        log(f"kafka-python with a wrong password: {e!r}")


def test_confluent_kafka_sasl(ctx):
    from confluent_kafka import Consumer, Producer, TopicPartition
    b = sasl_broker(ctx)
    conf = {"bootstrap.servers": b.listeners["SASL_SSL"], "security.protocol": "sasl_ssl",
            "ssl.ca.location": pki().ca, "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": "alice", "sasl.password": USERS["alice"]}
    p = Producer({**conf, "linger.ms": 5})
    errors = []
    for i in range(1000):
        p.produce("sasl-ck", value=b"ck-%d" % i, on_delivery=lambda e, m: e and errors.append(e))
    expect_eq((p.flush(60), errors[:3]), (0, []), "undelivered and failed messages")
    c = Consumer({**conf, "group.id": "sasl-ck"})
    c.assign([TopicPartition("sasl-ck", 0, 0)])
    got = 0
    for _ in range(200):
        for m in c.consume(500, timeout=1):
            check(m.error() is None, f"consume error {m.error()}")
            got += 1
        if got >= 1000:
            break
    c.close()
    expect_eq(got, 1000, "messages consumed over SASL_SSL SCRAM-SHA-512")


def test_credentials_survive_restart(ctx):
    b = sasl_broker(ctx)
    b.restart()
    kcat_sasl(b, "SASL_PLAINTEXT", "SCRAM-SHA-256", "alice", USERS["alice"], ["-L", "-m", "10"])
    got = scram_admin.alter(b.listeners["PLAINTEXT"], deletes=[("alice", "SCRAM-SHA-256")])
    expect_eq(got, {"alice": (0, None)}, "alice's SHA-256 credential deleted")
    r = kcat_sasl(b, "SASL_PLAINTEXT", "SCRAM-SHA-256", "alice", USERS["alice"],
                  ["-L", "-m", "2"], check_rc=False)
    check(r.returncode != 0, "a deleted credential still authenticates")
    kcat_sasl(b, "SASL_PLAINTEXT", "SCRAM-SHA-512", "alice", USERS["alice"], ["-L", "-m", "10"])


def test_acls_security_disabled(ctx):
    """No authorizer configured: the ACL APIs answer SECURITY_DISABLED, as
    Kafka without authorizer.class.name does (kafka-python's admin client;
    ACLs themselves: test_acls.py)."""
    from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType,
                             KafkaAdminClient, ResourcePattern, ResourcePatternFilter,
                             ResourceType, ACLResourcePatternType)
    from kafka.errors import SecurityDisabledError
    def disabled(e):  # kafka-python reports an error class or an instance
        return isinstance(e, SecurityDisabledError) or (
            isinstance(e, type) and issubclass(e, SecurityDisabledError))
    b = shared(ctx)
    admin = KafkaAdminClient(bootstrap_servers=b.listeners["PLAINTEXT"])
    try:
        flt = ACLFilter(principal=None, host="*", operation=ACLOperation.ANY,
                        permission_type=ACLPermissionType.ANY,
                        resource_pattern=ResourcePatternFilter(ResourceType.TOPIC, None,
                                                               ACLResourcePatternType.ANY))
        try:
            admin.describe_acls(flt)
            fail("DescribeAcls without an authorizer succeeded")
        except SecurityDisabledError as e:
            log(f"DescribeAcls: {e!r}")
        acl = ACL(principal="User:alice", host="*", operation=ACLOperation.READ,
                  permission_type=ACLPermissionType.ALLOW,
                  resource_pattern=ResourcePattern(ResourceType.TOPIC, "t"))
        got = admin.create_acls([acl])
        check(not got["succeeded"] and len(got["failed"]) == 1 and
              disabled(got["failed"][0][1]),
              f"CreateAcls without an authorizer: {got}")
        got = admin.delete_acls([flt])
        check(len(got) == 1 and disabled(got[0][2]),
              f"DeleteAcls without an authorizer: {got}")
    finally:
        admin.close()


if __name__ == "__main__":
    harness.main([
        test_listeners_advertise_their_own_ports,
        test_kcat_over_tls,
        test_confluent_kafka_over_tls,
        test_kafka_python_over_tls,
        test_mutual_tls_required,
        test_client_auth_requested,
        test_protocols_and_key_password,
        test_unknown_listener_protocol,
        test_scram_credentials_api,
        test_kcat_sasl,
        test_sasl_refusals,
        test_kafka_python_sasl,
        test_confluent_kafka_sasl,
        test_credentials_survive_restart,
        test_acls_security_disabled,
    ])
