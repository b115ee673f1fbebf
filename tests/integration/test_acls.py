"""ACLs (issue 16): Kafka's StandardAuthorizer semantics with real clients
over SASL_PLAINTEXT and SASL_SSL. A super user (User:admin) grants and
revokes with kafka-python's admin client (Debian's confluent-kafka 1.7.0
predates its ACL API); a user without rights is refused with Kafka's error
by confluent-kafka (produce, consume with a group, create a topic,
transactions), kcat and kafka-python, and Metadata hides what it may not
describe; after a grant the same client succeeds; a DENY beats an ALLOW;
under mutual TLS the principal is the certificate's subject; `sluice acls`;
the ACLs survive a restart; a bad filter is INVALID_REQUEST; the broker
keeps serving everyone else throughout."""

import atexit
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect_eq, fail, log  # noqa: E402
import certs  # noqa: E402
import kwire  # noqa: E402
import scram_admin  # noqa: E402

LISTENERS = "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0"
USERS = {"admin": "admin-secret", "alice": "alice-secret", "mallory": "mallory-secret"}
AUTHORIZER = {"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
              "super.users": "User:admin"}
TOPIC = "acl-orders"
TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED = 29, 30
CLUSTER_AUTHORIZATION_FAILED, TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 31, 53
INVALID_REQUEST = 42

_state = {}


def pki():
    if "pki" not in _state:
        d = tempfile.mkdtemp(prefix="sluice-it-acl-pki-")
        atexit.register(shutil.rmtree, d, True)
        p = certs.Pki(d)
        _state["pki"], _state["keystore"] = p, p.server()
    return _state["pki"]


def broker(ctx):
    """Credentials are made before the authorizer is on (as Kafka's are with
    kafka-storage --add-scram), then the broker restarts with it."""
    if "b" not in _state:
        p = pki()
        b = ctx.new_broker("acls", sets={"listeners": LISTENERS,
                                         "sluice.http.listen": "127.0.0.1:0",
                                         **certs.tls_sets(p, _state["keystore"])})
        got = scram_admin.alter(b.listeners["PLAINTEXT"], upserts=[
            (u, "SCRAM-SHA-256", pw, 4096) for u, pw in USERS.items()])
        expect_eq(got, {u: (0, None) for u in USERS}, "AlterUserScramCredentials")
        b.stop()
        b.sets.update(AUTHORIZER)
        b.start()
        _state["b"] = b
    return _state["b"]


def sasl_conf(b, user, listener="SASL_PLAINTEXT"):
    conf = {"bootstrap.servers": b.listeners[listener], "security.protocol": listener.lower(),
            "sasl.mechanisms": "SCRAM-SHA-256", "sasl.username": user,
            "sasl.password": USERS[user]}
    if listener == "SASL_SSL":
        conf["ssl.ca.location"] = pki().ca
    return conf


def admin(b, user="admin", listener="SASL_PLAINTEXT"):
    from kafka.admin import KafkaAdminClient
    kw = {}
    if listener == "SASL_SSL":
        kw["ssl_cafile"] = pki().ca
    return KafkaAdminClient(bootstrap_servers=b.listeners[listener],
                            security_protocol=listener, sasl_mechanism="SCRAM-SHA-256",
                            sasl_plain_username=user, sasl_plain_password=USERS[user], **kw)


def acl(principal, op, perm="ALLOW", rtype="TOPIC", name=TOPIC, pattern="LITERAL"):
    from kafka.admin import (ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                             ResourcePattern, ResourceType)
    return ACL(principal=principal, host="*", operation=getattr(ACLOperation, op),
               permission_type=getattr(ACLPermissionType, perm),
               resource_pattern=ResourcePattern(getattr(ResourceType, rtype), name,
                                                getattr(ACLResourcePatternType, pattern)))


def any_filter(principal=None):
    from kafka.admin import (ACLFilter, ACLOperation, ACLPermissionType,
                             ACLResourcePatternType, ResourcePatternFilter, ResourceType)
    return ACLFilter(principal=principal, host=None, operation=ACLOperation.ANY,
                     permission_type=ACLPermissionType.ANY,
                     resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                            ACLResourcePatternType.ANY))


# --- raw DescribeAcls v1 on every shard: the event the tests wait for -----------

def shard_addrs(b):
    """Every shard's PLAINTEXT address (Metadata's brokers)."""
    import json
    out = harness.kcat(b.listeners["PLAINTEXT"], ["-L", "-J"]).stdout
    return [br["name"] for br in json.loads(out)["brokers"]]


def describe_raw(addr, rtype=1, pattern=1):
    """DescribeAcls v1, any binding: (error, [(type, name, pattern, principal, op, perm)])."""
    host, port = addr.rsplit(":", 1)
    body = (kwire.i8(rtype) + kwire.string(None) + kwire.i8(pattern) + kwire.string(None) +
            kwire.string(None) + kwire.i8(1) + kwire.i8(1))
    with kwire.Conn(host, int(port)) as c:
        r = c.call(29, 1, body, corr=11)
    r.i32()
    err = r.i16()
    r.string()
    out = []
    for _ in range(r.i32()):
        t, n, pt = r.i8(), r.string(), r.i8()
        for _ in range(r.i32()):
            pr, _h, op, pm = r.string(), r.string(), r.i8(), r.i8()
            out.append((t, n, pt, pr, op, pm))
    return err, out


def wait_everywhere(b, want):
    """Until every shard's snapshot holds exactly as many bindings as want()
    says (ACL changes reach each shard through its ring)."""
    addrs = shard_addrs(b)

    def seen():
        return all(len(describe_raw(a)[1]) == want for a in addrs)
    harness.wait_until(seen, 20, f"{want} ACL binding(s) on every shard")


# --- clients -------------------------------------------------------------------------

def produce(conf, topic, n=10):
    """Delivery error codes (none: []) of n messages."""
    from confluent_kafka import Producer
    errors = []
    p = Producer({**conf, "message.timeout.ms": 15000})
    for i in range(n):
        p.produce(topic, value=b"v%d" % i,
                  on_delivery=lambda e, m: e and errors.append(e.code()))
    left = p.flush(30)
    check(left == 0, f"{left} messages neither delivered nor failed")
    return errors


def consume_group(conf, topic, group, want):
    """Consumes want messages with a group, or returns the first error code."""
    from confluent_kafka import Consumer, KafkaError
    c = Consumer({**conf, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.partition.eof": False})
    c.subscribe([topic])
    got = 0
    try:
        for _ in range(120):
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() in (KafkaError._PARTITION_EOF,):
                    continue
                return m.error().code()
            got += 1
            if got == want:
                c.commit(asynchronous=False)
                return 0
    finally:
        c.close()
    fail(f"consumed {got} of {want} messages in 60 s")


def topics_seen(conf):
    from confluent_kafka.admin import AdminClient
    return set(AdminClient(conf).list_topics(timeout=20).topics)


# --- tests -----------------------------------------------------------------------------

def test_refused_without_rights(ctx):
    from confluent_kafka import KafkaError, KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    b = broker(ctx)
    # the super user may do anything, on either SASL listener
    harness.kcat(b.listeners["SASL_SSL"], ["-X", "security.protocol=sasl_ssl", "-X",
                 f"ssl.ca.location={pki().ca}", "-X", "sasl.mechanisms=SCRAM-SHA-256",
                 "-X", "sasl.username=admin", "-X", f"sasl.password={USERS['admin']}",
                 "-P", "-t", TOPIC], input=b"".join(b"a%d\n" % i for i in range(20)))
    alice = sasl_conf(b, "alice")
    expect_eq(set(produce(alice, TOPIC)), {KafkaError.TOPIC_AUTHORIZATION_FAILED},
              "produce without WRITE")
    check(TOPIC not in topics_seen(alice), "Metadata showed a topic alice may not DESCRIBE")
    check(TOPIC in topics_seen(sasl_conf(b, "admin")), "the super user does not see the topic")
    ac = AdminClient(alice)     # kept: its futures die with it
    fs = ac.create_topics([NewTopic("acl-new", 1, 1)])
    try:
        fs["acl-new"].result(20)
        fail("CreateTopics without CREATE succeeded")
    except KafkaException as e:
        expect_eq(e.args[0].code(), KafkaError.TOPIC_AUTHORIZATION_FAILED, "CreateTopics")
    p = Producer({**alice, "transactional.id": "tx-alice"})
    try:
        p.init_transactions(20)
        fail("init_transactions without WRITE on the transactional id succeeded")
    except KafkaException as e:
        expect_eq(e.args[0].code(), KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                  "InitProducerId")
    del p                       # a fatal producer: gone before the broker stops
    # the ACL APIs themselves: ALTER/DESCRIBE on the cluster
    from kafka.errors import ClusterAuthorizationFailedError
    a = admin(b, "alice")
    try:
        got = a.create_acls([acl("User:alice", "ALL")])
        check(not got["succeeded"] and len(got["failed"]) == 1,
              f"CreateAcls by alice: {got}")
        err = got["failed"][0][1]
        check(err is ClusterAuthorizationFailedError or
              isinstance(err, ClusterAuthorizationFailedError), f"CreateAcls by alice: {err!r}")
        try:
            a.describe_acls(any_filter())
            fail("DescribeAcls without DESCRIBE on the cluster succeeded")
        except ClusterAuthorizationFailedError:
            pass
    finally:
        a.close()
    harness.wait_until(lambda: "authorization denied" in b.log_text(), 20,
                       "the denial's log line")
    import metrics_util
    denied = metrics_util.value(metrics_util.scrape(b), "sluice_authorization_denied_total")
    check(denied >= 5, f"sluice_authorization_denied_total {denied} after five refusals")


def test_grant_then_succeed(ctx):
    from confluent_kafka import KafkaError, Producer
    b = broker(ctx)
    a = admin(b)
    try:
        got = a.create_acls([
            acl("User:alice", "WRITE"), acl("User:alice", "READ"),
            acl("User:alice", "READ", rtype="GROUP", name="grp-", pattern="PREFIXED"),
            acl("User:alice", "WRITE", rtype="TRANSACTIONAL_ID", name="tx-alice"),
            acl("User:ANONYMOUS", "DESCRIBE", rtype="CLUSTER", name="kafka-cluster")])
        expect_eq(len(got["failed"]), 0, f"CreateAcls by the super user failed: {got}")
    finally:
        a.close()
    wait_everywhere(b, 5)
    alice = sasl_conf(b, "alice")
    expect_eq(produce(alice, TOPIC), [], "produce with WRITE")
    check(TOPIC in topics_seen(alice), "READ/WRITE imply DESCRIBE: the topic is listed")
    expect_eq(consume_group(alice, TOPIC, "grp-a", 30), 0, "consume with READ on group grp-*")
    expect_eq(consume_group(alice, TOPIC, "other-group", 1),
              KafkaError.GROUP_AUTHORIZATION_FAILED, "a group outside the prefix")
    p = Producer({**alice, "transactional.id": "tx-alice"})
    p.init_transactions(20)
    p.begin_transaction()
    p.produce(TOPIC, value=b"in-txn")
    p.commit_transaction(20)
    del p
    # over SASL_SSL too, and with kcat
    got = harness.kcat(b.listeners["SASL_SSL"], [
        "-X", "security.protocol=sasl_ssl", "-X", f"ssl.ca.location={pki().ca}",
        "-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=alice",
        "-X", f"sasl.password={USERS['alice']}", "-C", "-t", TOPIC, "-e", "-q"]).stdout.split()
    expect_eq(len(got), 31, "records alice reads over SASL_SSL with kcat (20 + 10 + 1 in a txn)")


def test_kcat_and_kafka_python_refused(ctx):
    b = broker(ctx)
    r = harness.kcat(b.listeners["SASL_PLAINTEXT"], [
        "-X", "security.protocol=sasl_plaintext", "-X", "sasl.mechanisms=SCRAM-SHA-256",
        "-X", "sasl.username=mallory", "-X", f"sasl.password={USERS['mallory']}",
        "-C", "-t", TOPIC, "-e", "-q"], check_rc=False)
    out = (r.stdout + r.stderr).decode(errors="replace")
    check(r.returncode != 0 and "authorization failed" in out.lower(),
          f"kcat -C as mallory: rc={r.returncode} {out[-300:]}")
    # kafka-python's admin client (its producer retries a one-topic Metadata
    # error until max_block_ms, against Kafka too: no error to check there)
    from kafka.admin import NewTopic
    from kafka.errors import TopicAuthorizationFailedError
    a = admin(b, "mallory")
    try:
        a.create_topics([NewTopic("acl-mallory", 1, 1)])
        fail("kafka-python CreateTopics as mallory succeeded")
    except TopicAuthorizationFailedError as e:
        check("error_code=29" in str(e), f"kafka-python CreateTopics as mallory: {e}")
    finally:
        a.close()
    # PLAINTEXT clients are User:ANONYMOUS: nothing of the topic is theirs to see
    out = harness.kcat(b.listeners["PLAINTEXT"], ["-L", "-t", TOPIC]).stdout.decode()
    check("authorization failed" in out.lower(), f"kcat -L as ANONYMOUS: {out}")


def test_deny_beats_allow(ctx):
    from confluent_kafka import KafkaError
    b = broker(ctx)
    a = admin(b, listener="SASL_SSL")
    try:
        a.create_acls([acl("User:alice", "READ", perm="DENY", name="acl-", pattern="PREFIXED")])
        wait_everywhere(b, 6)
        alice = sasl_conf(b, "alice")
        expect_eq(consume_group(alice, TOPIC, "grp-deny", 1), KafkaError.TOPIC_AUTHORIZATION_FAILED,
                  "consume under a prefixed DENY beside a literal ALLOW")
        expect_eq(produce(alice, TOPIC, 3), [], "the DENY is for READ only: WRITE still works")
        got = a.delete_acls([any_filter("User:alice")])
        removed = sum(len(matches) for _f, matches, _err in got)
        expect_eq(removed, 5, "DeleteAcls: alice's bindings removed")
        wait_everywhere(b, 1)
        expect_eq(set(produce(alice, TOPIC, 3)), {KafkaError.TOPIC_AUTHORIZATION_FAILED},
                  "produce after the grant was deleted")
        a.create_acls([acl("User:alice", "ALL")])
        wait_everywhere(b, 2)
    finally:
        a.close()


def test_bad_filter_is_invalid_request(ctx):
    b = broker(ctx)
    err, _ = describe_raw(b.listeners["PLAINTEXT"], pattern=0)   # UNKNOWN pattern type
    expect_eq(err, INVALID_REQUEST, "DescribeAcls with an UNKNOWN pattern type")
    err, _ = describe_raw(b.listeners["PLAINTEXT"], rtype=0)
    expect_eq(err, INVALID_REQUEST, "DescribeAcls with an UNKNOWN resource type")
    # the broker still serves everyone
    expect_eq(produce(sasl_conf(b, "admin"), TOPIC, 5), [], "the super user produces")


def test_acls_survive_restart(ctx):
    b = broker(ctx)
    before = sorted(describe_raw(b.listeners["PLAINTEXT"])[1])
    b.kill()                      # SIGKILL: what was answered was durable
    b.start()
    after = sorted(describe_raw(b.listeners["PLAINTEXT"])[1])
    expect_eq(after, before, "ACLs after a SIGKILL and a restart")
    expect_eq(produce(sasl_conf(b, "alice"), TOPIC, 3), [], "alice's ALL survives the restart")
    expect_eq(set(produce(sasl_conf(b, "mallory"), TOPIC, 3)),
              {__import__("confluent_kafka").KafkaError.TOPIC_AUTHORIZATION_FAILED},
              "mallory is still refused after the restart")


def sluice_cli(b, user, *args, rc=0, conn=None, input=None):
    """The `sluice` CLI as user over SASL_PLAINTEXT (or conn: the listener
    and -X properties): its JSON output."""
    import json
    exe = os.path.join(os.environ.get("SLUICE_BUILD_DIR", os.path.join(harness.REPO, "build")),
                       "cli", "sluice")
    conn = conn or [b.listeners["SASL_PLAINTEXT"], "-X", "security.protocol=sasl_plaintext",
                    "-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", f"sasl.username={user}",
                    "-X", f"sasl.password={USERS[user]}"]
    p = harness.run([exe, "-b", *conn, "--json", *args], check_rc=False, timeout=60,
                    input=input)
    expect_eq(p.returncode, rc, f"sluice {' '.join(args)} exit code ({p.stderr[-500:]!r})")
    return json.loads(p.stdout) if rc == 0 else p.stderr.decode(errors="replace")


def test_cli_acls(ctx):
    """sluice acls add/list/remove (librdkafka's Admin API)."""
    b = broker(ctx)
    got = sluice_cli(b, "admin", "acls", "add", "--allow", "User:carol", "--operation", "read",
                     "--operation", "DESCRIBE", "--topic", "cli-", "--prefixed")
    expect_eq(got, {"added": 2}, "sluice acls add")
    got = sluice_cli(b, "admin", "acls", "list", "--principal", "User:carol")["acls"]
    expect_eq(sorted((a["resource_type"], a["name"], a["pattern_type"], a["operation"],
                      a["permission"]) for a in got),
              [("TOPIC", "cli-", "PREFIXED", "DESCRIBE", "ALLOW"),
               ("TOPIC", "cli-", "PREFIXED", "READ", "ALLOW")], "sluice acls list")
    err = sluice_cli(b, "mallory", "acls", "add", "--allow", "User:mallory", "--operation",
                     "ALL", "--cluster", rc=1)
    check("CLUSTER_AUTHORIZATION_FAILED" in err, f"sluice acls add as mallory: {err}")
    got = sluice_cli(b, "admin", "acls", "remove", "--principal", "User:carol")["removed"]
    expect_eq(len(got), 2, "sluice acls remove: bindings removed")
    expect_eq(sluice_cli(b, "admin", "acls", "list", "--principal", "User:carol")["acls"], [],
              "carol's ACLs after remove")
    # sluice users: plain requests on the PLAINTEXT listener (User:ANONYMOUS)
    plain = [b.listeners["PLAINTEXT"]]
    err = sluice_cli(b, None, "users", "set", "carol", "--password", "c-pw", rc=1, conn=plain)
    check("CLUSTER_AUTHORIZATION_FAILED" in err, f"sluice users set without ALTER: {err}")
    sluice_cli(b, "admin", "acls", "add", "--allow", "User:ANONYMOUS", "--operation", "ALTER",
               "--cluster")
    wait_everywhere(b, 3)
    expect_eq(sluice_cli(b, None, "users", "set", "carol", "--password", "-", "--mechanism",
                         "SCRAM-SHA-512", "--iterations", "8192", conn=plain, input=b"c-pw\n"),
              {"set": "carol", "mechanism": "SCRAM-SHA-512"}, "sluice users set")
    expect_eq(sluice_cli(b, None, "users", "list", "carol", conn=plain),
              {"users": [{"user": "carol", "mechanism": "SCRAM-SHA-512", "iterations": 8192}]},
              "sluice users list")
    sasl = ["-X", "security.protocol=sasl_plaintext", "-X", "sasl.mechanisms=SCRAM-SHA-512",
            "-X", "sasl.username=carol", "-X", "sasl.password=c-pw", "-L", "-m", "10"]
    harness.kcat(b.listeners["SASL_PLAINTEXT"], sasl)       # carol authenticates
    sluice_cli(b, None, "users", "delete", "carol", "--mechanism", "SCRAM-SHA-512", conn=plain)
    r = harness.kcat(b.listeners["SASL_PLAINTEXT"], sasl[:-1] + ["2"], check_rc=False)
    check(r.returncode != 0, "a deleted credential still authenticates")
    sluice_cli(b, "admin", "acls", "remove", "--principal", "User:ANONYMOUS", "--operation",
               "ALTER", "--cluster")


def test_mutual_tls_principal(ctx):
    """Under mutual TLS the principal is the certificate's subject (RFC 2253):
    User:CN=alice,OU=clients; the super user is a certificate too."""
    p = pki()
    b = ctx.new_broker("acl-mtls", sets={
        "listeners": "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
        **certs.tls_sets(p, _state["keystore"], "required"),
        **AUTHORIZER, "super.users": "User:CN=admin,OU=clients"})
    certs_of = {u: p.client(u) for u in ("admin", "alice")}

    def ssl_x(u):
        key, cert = certs_of[u]
        return ["-X", "security.protocol=ssl", "-X", f"ssl.ca.location={p.ca}",
                "-X", f"ssl.key.location={key}", "-X", f"ssl.certificate.location={cert}"]

    def kcat_as(u, args, **kw):
        return harness.kcat(b.listeners["SSL"], ssl_x(u) + args, **kw)
    kcat_as("admin", ["-P", "-t", "mtls-t"], input=b"a\nb\n")
    r = kcat_as("alice", ["-P", "-t", "mtls-t"], input=b"c\n", check_rc=False)
    out = (r.stdout + r.stderr).decode(errors="replace").lower()
    check("authorization failed" in out, f"alice's produce without an ACL: {out[-300:]}")
    conn = [b.listeners["SSL"], *ssl_x("admin")]
    expect_eq(sluice_cli(b, None, "acls", "add", "--allow", "User:CN=alice,OU=clients",
                         "--operation", "WRITE", "--operation", "READ", "--topic", "mtls-t",
                         conn=conn), {"added": 2}, "sluice acls add over mutual TLS")
    expect_eq(sluice_cli(b, None, "acls", "add", "--allow", "User:ANONYMOUS", "--operation",
                         "DESCRIBE", "--cluster", conn=conn), {"added": 1}, "ANONYMOUS DESCRIBE")
    wait_everywhere(b, 3)
    kcat_as("alice", ["-P", "-t", "mtls-t"], input=b"c\n")
    got = kcat_as("alice", ["-C", "-t", "mtls-t", "-e", "-q"]).stdout.split()
    expect_eq(got, [b"a", b"b", b"c"], "alice reads over mutual TLS once granted")


if __name__ == "__main__":
    harness.main([
        test_refused_without_rights,
        test_grant_then_succeed,
        test_kcat_and_kafka_python_refused,
        test_deny_beats_allow,
        test_bad_filter_is_invalid_request,
        test_cli_acls,
        test_acls_survive_restart,
        test_mutual_tls_principal,
    ])
