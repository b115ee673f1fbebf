"""DescribeUserScramCredentials (50) and AlterUserScramCredentials (51) by
hand over kwire: the Debian clients (librdkafka 2.0.2, kafka-python 2.0.2)
predate these APIs. Flexible v0 both: request header v2, response header v1."""

import hashlib
import os

import kwire
from kwire import i8, i32, uvarint, compact_string

MECHS = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}
_HASH = {1: "sha256", 2: "sha512"}


def _compact_bytes(b):
    return uvarint(len(b) + 1) + b


def _compact_array(items):
    return uvarint(len(items) + 1) + b"".join(items)


class _R(kwire.Reader):
    def uvarint(self):
        v = shift = 0
        while True:
            b = self.i8() & 0xFF
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    def cstring(self):
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode()

    def carray(self, fn):
        n = self.uvarint() - 1
        return None if n < 0 else [fn(self) for _ in range(n)]

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def _call(addr, key, body, corr=7):
    host, port = addr.rsplit(":", 1)
    with kwire.Conn(host, int(port)) as c:
        c.send(kwire.request(key, 0, corr, body, header_version=2))
        r = _R(c.recv_frame())
    got = r.i32()
    if got != corr:
        raise ValueError(f"correlation id {got}, expected {corr}")
    r.tags()
    return r


def salted(mech, password, salt, iterations):
    return hashlib.pbkdf2_hmac(_HASH[mech], password.encode(), salt, iterations)


def alter(addr, upserts=(), deletes=()):
    """upserts: (user, mechanism name or number, password, iterations);
    deletes: (user, mechanism). Returns {user: (error_code, message)}."""
    def mech(m):
        return MECHS.get(m, m) if isinstance(m, str) else m
    dels = [compact_string(u) + i8(mech(m)) + b"\0" for u, m in deletes]
    ups = []
    for u, m, pw, it in upserts:
        m = mech(m)
        salt = os.urandom(16)
        sp = salted(m, pw, salt, it) if m in _HASH else b"x" * 32
        ups.append(compact_string(u) + i8(m) + i32(it) + _compact_bytes(salt) +
                   _compact_bytes(sp) + b"\0")
    r = _call(addr, 51, _compact_array(dels) + _compact_array(ups) + b"\0")
    r.i32()  # throttle

    def result(r):
        v = (r.cstring(), r.i16(), r.cstring())
        r.tags()
        return v
    return {u: (e, m) for u, e, m in r.carray(result)}


def describe(addr, users=None):
    """Returns (error_code, {user: (error_code, {mechanism: iterations})})."""
    body = (uvarint(0) if users is None else
            _compact_array([compact_string(u) + b"\0" for u in users])) + b"\0"
    r = _call(addr, 50, body)
    r.i32()
    err = r.i16()
    r.cstring()

    def info(r):
        v = (r.i8(), r.i32())
        r.tags()
        return v

    def result(r):
        u, e, _ = r.cstring(), r.i16(), r.cstring()
        infos = dict(r.carray(info))
        r.tags()
        return u, (e, infos)
    return err, dict(r.carray(result))
