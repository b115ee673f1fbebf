"""Just enough of the Kafka wire protocol, by hand, to poke a broker with raw
sockets: framing, request headers, ApiVersions, Metadata v4, Produce v7,
RecordBatch v2 (with CRC-32C), CreateTopics v1, ElectLeaders v0-1. Standard
library only."""

import socket
import struct
import time

API_PRODUCE, API_METADATA, API_API_VERSIONS = 0, 3, 18
CORRUPT_MESSAGE = 2
UNSUPPORTED_VERSION = 35


class Closed(Exception):
    pass


# --- CRC-32C (Castagnoli), table driven --------------------------------------
def _crc32c_table():
    t = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_T = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _T[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


# --- primitives ----------------------------------------------------------------
def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)
def u32(v): return struct.pack(">I", v)


def string(s):
    if s is None:
        return i16(-1)
    b = s.encode() if isinstance(s, str) else s
    return i16(len(b)) + b


def bytes_(b):
    return i32(-1) if b is None else i32(len(b)) + b


def array(items):
    return i32(len(items)) + b"".join(items)


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(v):  # zigzag
    return uvarint((v << 1) ^ (v >> 63))


def compact_string(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


class Reader:
    def __init__(self, data):
        self.d = data
        self.o = 0

    def take(self, n):
        if self.o + n > len(self.d):
            raise ValueError(f"response truncated: need {n} bytes at {self.o} of {len(self.d)}")
        v = self.d[self.o:self.o + n]
        self.o += n
        return v

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode(errors="replace")

    def array(self, fn):
        n = self.i32()
        if n < 0:
            return None
        if n > 1000000:
            raise ValueError(f"absurd array length {n}")
        return [fn(self) for _ in range(n)]

    def left(self):
        return len(self.d) - self.o


# --- framing -----------------------------------------------------------------
def request(api_key, version, corr, body, client_id="sluice-it-raw", header_version=1):
    hdr = i16(api_key) + i16(version) + i32(corr) + string(client_id)
    if header_version >= 2:
        hdr += b"\x00"  # empty tagged fields
    msg = hdr + body
    return i32(len(msg)) + msg


class Conn:
    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _recv_some(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer in time")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError("no answer in time")
        except ConnectionResetError:
            raise Closed("connection reset by the broker")
        if not chunk:
            raise Closed("connection closed by the broker")
        self.buf += chunk

    def recv_frame(self, timeout=None):
        """One response frame (bytes after the length prefix)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        for _ in range(100000):
            if len(self.buf) >= 4:
                n = struct.unpack(">i", self.buf[:4])[0]
                if n < 0 or n > 256 << 20:
                    raise ValueError(f"bad response length {n}")
                if len(self.buf) >= 4 + n:
                    frame, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    return frame
            self._recv_some(deadline)
        raise TimeoutError("no complete frame")

    def call(self, api_key, version, body, corr, header_version=1, timeout=None):
        self.send(request(api_key, version, corr, body, header_version=header_version))
        frame = self.recv_frame(timeout)
        r = Reader(frame)
        got = r.i32()
        if got != corr:
            raise ValueError(f"correlation id {got}, expected {corr}")
        return r

    def wait_closed(self, timeout=10.0):
        """Reads until the broker closes the connection. Returns (closed, data)."""
        deadline = time.monotonic() + timeout
        data = b""
        for _ in range(100000):
            try:
                self._recv_some(deadline)
            except Closed:
                return True, data + self.buf
            except TimeoutError:
                return False, data + self.buf
            data += self.buf
            self.buf = b""
        return False, data


# --- ApiVersions -------------------------------------------------------------
def parse_api_versions_v0(r):
    err = r.i16()
    apis = r.array(lambda x: (x.i16(), x.i16(), x.i16()))
    return err, {k: (lo, hi) for k, lo, hi in apis or []}


def api_versions_v3_body():
    return compact_string("sluice-it") + compact_string("1.0") + b"\x00"


# --- Metadata v4 ---------------------------------------------------------------
def metadata_v4_body(topics, auto_create=True):
    t = i32(-1) if topics is None else array([string(x) for x in topics])
    return t + i8(1 if auto_create else 0)


def parse_metadata_v4(r):
    r.i32()  # throttle
    brokers = r.array(lambda x: (x.i32(), x.string(), x.i32(), x.string()))
    r.string()  # cluster id
    r.i32()  # controller
    topics = r.array(lambda x: (x.i16(), x.string(), x.i8(), x.array(
        lambda y: (y.i16(), y.i32(), y.i32(), y.array(Reader.i32), y.array(Reader.i32)))))
    return ({b[0]: (b[1], b[2]) for b in brokers},
            {t[1]: (t[0], {p[1]: (p[0], p[2]) for p in t[3]}) for t in topics})


def leader_of(host, port, topic, partition):
    """(host, port) of the broker leading topic/partition (Metadata v4 asked
    of host:port; the topic must exist)."""
    with Conn(host, port) as c:
        brokers, topics = parse_metadata_v4(c.call(3, 4, metadata_v4_body([topic], False), 31))
    terr, parts = topics.get(topic, (-1, {}))
    perr, leader = parts.get(partition, (-1, -1))
    if terr or perr or leader not in brokers:
        raise ValueError(f"no leader of {topic}/{partition}: {terr} {perr} {leader} {brokers}")
    return brokers[leader]


# --- RecordBatch v2 and Produce v7 ---------------------------------------------
def record(offset_delta, key, value, headers=(), ts_delta=0):
    body = (i8(0) + varint(ts_delta) + varint(offset_delta)
            + (varint(-1) if key is None else varint(len(key)) + key)
            + (varint(-1) if value is None else varint(len(value)) + value)
            + varint(len(headers))
            + b"".join(varint(len(k)) + k + varint(len(v)) + v for k, v in headers))
    return varint(len(body)) + body


ATTR_TRANSACTIONAL = 0x10
ATTR_CONTROL = 0x20


def record_batch(records, base_ts=None, corrupt_crc=False, magic=2, pid=-1, epoch=-1, seq=-1,
                 attributes=0):
    """records: list of (key, value, headers). Uncompressed; a producer's
    batch when pid >= 0 (attributes: ATTR_TRANSACTIONAL, ATTR_CONTROL)."""
    ts = int(time.time() * 1000) if base_ts is None else base_ts
    recs = b"".join(record(i, k, v, h) for i, (k, v, h) in enumerate(records))
    after_crc = (i16(attributes) + i32(len(records) - 1) + i64(ts) + i64(ts) + i64(pid)
                 + i16(epoch) + i32(seq) + i32(len(records)) + recs)
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0x5A5A5A5A
    after_len = i32(0) + i8(magic) + u32(crc) + after_crc  # leader epoch, magic, crc, ...
    return i64(0) + i32(len(after_len)) + after_len


def produce_v7_body(topic, partition, batch, acks=-1, timeout_ms=30000, txn_id=None):
    return (string(txn_id) + i16(acks) + i32(timeout_ms)
            + array([string(topic) + array([i32(partition) + bytes_(batch)])]))


def parse_produce_v7(r):
    topics = r.array(lambda x: (x.string(), x.array(
        lambda y: (y.i32(), y.i16(), y.i64(), y.i64(), y.i64()))))
    r.i32()  # throttle
    return {(t, p[0]): {"error": p[1], "base_offset": p[2], "log_append_time": p[3],
                        "log_start_offset": p[4]} for t, parts in topics for p in parts}


# --- CreateTopics ------------------------------------------------------------
def create_topic_error(host, port, name, partitions, replication=-1, corr=7):
    """CreateTopics v1 of one topic, straight to host:port; its error code."""
    body = (i32(1) + string(name) + i32(partitions) + i16(replication) + i32(0) + i32(0)
            + i32(30000) + i8(0))
    with Conn(host, port, timeout=30) as c:
        r = c.call(19, 1, body, corr)
        topics = r.array(lambda r: (r.string(), r.i16(), r.string()))
    if not topics or len(topics) != 1:
        raise ValueError(f"CreateTopics answered {topics!r}")
    return topics[0][1]


# --- ElectLeaders ------------------------------------------------------------
def elect_leaders(host, port, election_type, topic_partitions, version=1, corr=9):
    """ElectLeaders v0 or v1 straight to host:port (topic_partitions: a dict
    topic -> partitions, or None for every partition). Returns the top-level
    error (0 in v0) and {(topic, partition): error code}."""
    tp = i32(-1) if topic_partitions is None else array(
        [string(t) + array([i32(p) for p in ps]) for t, ps in topic_partitions.items()])
    body = (i8(election_type) if version >= 1 else b"") + tp + i32(30000)
    with Conn(host, port, timeout=30) as c:
        r = c.call(43, version, body, corr)
        r.i32()  # throttle_time_ms
        err = r.i16() if version >= 1 else 0
        res = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16(), r.string()))))
    return err, {(t, p): e for t, ps in res for p, e, _ in ps}


# --- flexible versions (compact forms, tagged fields) ------------------------
TAGS = b"\x00"  # no tagged fields


def compact_array(items):
    """items (encoded), or None for a null array."""
    return uvarint(0) if items is None else uvarint(len(items) + 1) + b"".join(items)


def _r_uvarint(r):
    v, shift = 0, 0
    for _ in range(10):
        b = r.take(1)[0]
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v
        shift += 7
    raise ValueError("varint too long")


def _r_compact_string(r):
    n = _r_uvarint(r) - 1
    return None if n < 0 else r.take(n).decode(errors="replace")


def _r_compact_array(r, fn):
    n = _r_uvarint(r) - 1
    return None if n < 0 else [fn(r) for _ in range(n)]


def _r_tags(r):
    for _ in range(_r_uvarint(r)):
        _r_uvarint(r)
        r.take(_r_uvarint(r))


def _tagged(fn):
    """A reader of one struct: fn's fields, then its tagged fields."""
    def read(r):
        v = fn(r)
        _r_tags(r)
        return v
    return read


def _r_topics(r, part):
    """A compact array of (topic name, [part(r) of each partition])."""
    return _r_compact_array(r, _tagged(
        lambda r: (_r_compact_string(r), _r_compact_array(r, _tagged(part)))))


def flexible_admin_call(host, port, api_key, version, body, corr):
    """A request of a flexible version (header v2) whose response starts
    with throttle_time_ms, error_code and error_message: the error and the
    Reader after them."""
    with Conn(host, port, timeout=30) as c:
        r = c.call(api_key, version, body, corr, header_version=2)
    _r_tags(r)
    r.i32()  # throttle_time_ms
    err = r.i16()
    _r_compact_string(r)
    return err, r


# --- partition reassignment (v0 of both, flexible) --------------------------
def alter_reassignments(host, port, targets, corr=11):
    """AlterPartitionReassignments v0 (targets: {topic: {partition: [broker
    ids] or None to cancel}}). Returns the top-level error and
    {(topic, partition): error code}."""
    body = i32(30000) + compact_array([
        compact_string(t) + compact_array([
            i32(p) + compact_array(None if ids is None else [i32(b) for b in ids]) + TAGS
            for p, ids in parts.items()]) + TAGS
        for t, parts in targets.items()]) + TAGS
    err, r = flexible_admin_call(host, port, 45, 0, body, corr)
    res = _r_topics(r, lambda r: (r.i32(), r.i16(), _r_compact_string(r)))
    return err, {(t, p): e for t, ps in res for p, e, _ in ps}


def list_reassignments(host, port, topics=None, corr=12):
    """ListPartitionReassignments v0 (topics: {topic: [partitions]}, None:
    all). Returns the top-level error and {(topic, partition): (replicas,
    adding, removing)}."""
    body = i32(30000) + compact_array(None if topics is None else [
        compact_string(t) + compact_array([i32(p) for p in ps]) + TAGS
        for t, ps in topics.items()]) + TAGS
    err, r = flexible_admin_call(host, port, 46, 0, body, corr)

    def ids(r):
        return _r_compact_array(r, lambda r: r.i32())
    res = _r_topics(r, lambda r: (r.i32(), ids(r), ids(r), ids(r)))
    return err, {(t, p): (reps, add, rem) for t, ps in res for p, reps, add, rem in ps}


# --- idempotence and transactions (v1 of each: no flexible encoding) ---------
API_INIT_PRODUCER_ID, API_ADD_PARTITIONS_TO_TXN, API_END_TXN = 22, 24, 26


def init_producer_id_v1_body(txn_id=None, timeout_ms=60000):
    return string(txn_id) + i32(timeout_ms)


def parse_init_producer_id_v1(r):
    r.i32()  # throttle
    return r.i16(), r.i64(), r.i16()  # error, producer id, epoch


def add_partitions_v1_body(txn_id, pid, epoch, topic, partitions):
    return (string(txn_id) + i64(pid) + i16(epoch)
            + array([string(topic) + array([i32(p) for p in partitions])]))


def parse_add_partitions_v1(r):
    r.i32()  # throttle
    topics = r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i16()))))
    return {(t, p): e for t, parts in topics for p, e in parts}


def end_txn_v1_body(txn_id, pid, epoch, commit):
    return string(txn_id) + i64(pid) + i16(epoch) + i8(1 if commit else 0)


def parse_end_txn_v1(r):
    r.i32()  # throttle
    return r.i16()
