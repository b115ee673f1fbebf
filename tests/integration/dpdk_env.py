"""What the DPDK integration tests share: a network namespace of their own,
brokers with a DPDK port (net_tap, net_pcap, net_memif), the broker's
per-shard DPDK counters, the `sluice` CLI, and native UDP datagrams built
by hand (docs/udp-protocol.md) for the bad-packet cases.

The test process moves itself into a fresh network namespace before
anything starts (setns through libc, Debian's python 3.11 has no
os.setns), so the broker, its tap device, kcat and every sender live
there, 127.0.0.1 included, and nothing reaches another network. The
namespace is deleted at exit; a tap device goes with the broker process
that made it.

Busy polling on 2 shared cores: the broker's shard spins on core 0 (the
first core hwloc hands out), so senders run on core 1 (taskset), and every
wait is bounded."""

import atexit
import ctypes
import os
import re
import shutil
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CLONE_NEWNET = 0x40000000
EAL_BASE = "--no-huge -m 256 --no-shconf --no-telemetry --no-pci --log-level=error"
BROKER_IP = "10.77.0.2"
PEER_IP = "10.77.0.1"
NATIVE_PORT = 9092
SENDER_CORE = "1"

STATS_RE = re.compile(r"^shard (\d+): dpdk: (rx_packets=.*)$", re.M)
PORT_RE = re.compile(r"^sluiced: DPDK: port .* mac (\S+) ip ", re.M)


def ip(*args, check=True):
    return harness.run(["ip", *args], timeout=30, check_rc=check)


def enter_netns(prefix):
    """Creates a namespace and moves this process's main thread (and so
    every child it starts) into it. Returns its name."""
    name = f"{prefix}-{os.getpid()}"
    ip("netns", "add", name)
    atexit.register(lambda: ip("netns", "del", name, check=False))
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        harness.fail(f"setns into {name}: errno {ctypes.get_errno()}")
    os.close(fd)
    ip("link", "set", "lo", "up")
    return name


def cli_path():
    path = os.environ.get("SLUICE_CLI") or os.path.join(harness.REPO, "build", "cli", "sluice")
    if not os.access(path, os.X_OK):
        harness.fail(f"CLI binary not found or not executable: {path} (set SLUICE_CLI)")
    return path


def eal_args(vdev, lcore="1", prefix=None):
    a = f"-l {lcore} {EAL_BASE} --vdev {vdev}"
    return a + (f" --file-prefix {prefix}" if prefix else "")


def dpdk_sets(vdev, extra=None, ip_cidr=f"{BROKER_IP}/24"):
    s = {"sluice.dpdk.enable": "true", "sluice.dpdk.eal.args": eal_args(vdev),
         "sluice.dpdk.ip": ip_cidr}
    s.update(extra or {})
    return s


def tap_broker(ctx, name, iface, shards=1, sets=None):
    """A broker whose DPDK port is a net_tap device iface in our namespace,
    with PEER_IP on the kernel's side of it. A broker an earlier test left
    running (it failed before stopping it) is killed first: its tap device
    would still route BROKER_IP."""
    for old in ctx.brokers:
        old.kill()
    b = ctx.new_broker(name, shards=shards,
                       sets=dpdk_sets(f"net_tap0,iface={iface}", sets))
    ip("addr", "add", f"{PEER_IP}/24", "dev", iface)
    ip("link", "set", iface, "up")
    return b


def ping(payload, timeout=5):
    """One ICMP echo to the broker's DPDK port, answered: the reply payload.
    The kernel resolves BROKER_IP by ARP on the way, so datagrams sent next
    are not queued behind an unresolved neighbour (whose queue drops the
    oldest when it overflows)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        s.settimeout(timeout)
        h = bytes([8, 0, 0, 0, 0x12, 0x34, 0, len(payload) & 0xff])
        c = inet_cksum(h + payload)
        s.sendto(h[:2] + c.to_bytes(2, "big") + h[4:] + payload, (BROKER_IP, 0))
        r = s.recv(2048)
        return r[20], r[28:]
    finally:
        s.close()


def broker_mac(broker):
    m = PORT_RE.search(broker.log_text())
    harness.check(m is not None, "the broker logged no DPDK port line")
    return bytes(int(x, 16) for x in m.group(1).split(":"))


def dpdk_stats(broker):
    """{shard: {counter: value}} from the lines a broker prints as it stops."""
    out = {}
    for m in STATS_RE.finditer(broker.log_text()):
        out[int(m.group(1))] = {k: int(v) for k, v in
                                (kv.split("=", 1) for kv in m.group(2).split())}
    harness.check(out, "the broker printed no DPDK counters when it stopped")
    return out


def total(stats, key):
    return sum(s.get(key, 0) for s in stats.values())


def sluice(bootstrap, *args, input=None, rc=0, timeout=120, core=None):
    cmd = [cli_path(), "-b", bootstrap, *args]
    if core is not None:
        cmd = [shutil.which("taskset") or "taskset", "-c", core] + cmd
    p = harness.run(cmd, input=input, timeout=timeout, check_rc=False)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    if rc is not None and p.returncode != rc:
        harness.fail(f"sluice {' '.join(args)}: exit {p.returncode}, expected {rc}\n"
                     f"stdout: {out[-2000:]}\nstderr: {err[-2000:]}")
    return out, err


def create_topic(bootstrap, topic, partitions=1, configs=()):
    args = ["topics", "create", topic, "--partitions", str(partitions)]
    for c in configs:
        args += ["--config", c]
    sluice(bootstrap, *args)


# --- hand-made frames and datagrams ----------------------------------------


def inet_cksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def udp_frame(dst_mac, src_mac, src_ip, dst_ip, sport, dport, payload, ip_cksum=None,
              udp_cksum=None, ip_len=None, udp_len=None):
    """An Ethernet/IPv4/UDP frame; the keyword arguments spoil one field."""
    ulen = 8 + len(payload) if udp_len is None else udp_len
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    pseudo = ip4(src_ip) + ip4(dst_ip) + struct.pack("!BBH", 0, 17, 8 + len(payload))
    uc = inet_cksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", uc if udp_cksum is None else udp_cksum) + udp[8:]
    tot = 20 + len(udp) if ip_len is None else ip_len
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, 1, 0x4000, 64, 17, 0, ip4(src_ip),
                      ip4(dst_ip))
    c = inet_cksum(hdr) if ip_cksum is None else ip_cksum
    hdr = hdr[:10] + struct.pack("!H", c) + hdr[12:]
    return dst_mac + src_mac + b"\x08\x00" + hdr + udp


def native_produce(topic, partition, pid, epoch, seq, batch):
    t = topic.encode()
    return (struct.pack("!HBBHH", 0x534C, 1, 1, 0, len(t)) + t +
            struct.pack("!iqhi", partition, pid, epoch, seq) + batch)


def record_batch(values, pid=-1, epoch=-1, seq=-1, crc=0):
    """A RecordBatch v2 of uncompressed records. Its CRC is given (Python's
    standard library has no CRC32C): the broker must refuse it unless crc
    happens to be right, which the callers use on purpose."""
    recs = b""
    for i, v in enumerate(values):
        body = b"\0" + zigzag(0) + zigzag(i) + zigzag(-1) + zigzag(len(v)) + v + zigzag(0)
        recs += zigzag(len(body)) + body
    after_crc = struct.pack("!hiqqqhii", 0, len(values) - 1, 0, 0, pid, epoch, seq,
                            len(values)) + recs
    length = 4 + 1 + 4 + len(after_crc)
    return struct.pack("!qiibI", 0, length, -1, 2, crc) + after_crc


def zigzag(v):
    z = (v << 1) ^ (v >> 63)
    out = b""
    while z >= 0x80:
        out += bytes([(z & 0x7F) | 0x80])
        z >>= 7
    return out + bytes([z])


def parse_reply(d):
    """(type, topic, partition, pid, epoch, error, sequence, offset) of an
    ACK or NAK datagram."""
    magic, ver, typ, _flags, tl = struct.unpack("!HBBHH", d[:8])
    harness.expect_eq((magic, ver), (0x534C, 1), "reply magic and version")
    topic = d[8:8 + tl].decode()
    part, pid, epoch, err, seq, off = struct.unpack("!iqhhiq", d[8 + tl:8 + tl + 28])
    return typ, topic, part, pid, epoch, err, seq, off


# --- MoldUDP64 feeds and pcap files ----------------------------------------


def mold_packet(session, seq, msgs):
    """A MoldUDP64 downstream packet: session (10 bytes), first sequence,
    count, then each message as a 2-byte length and its bytes."""
    s = session.encode().ljust(10)[:10]
    return s + struct.pack("!QH", seq, len(msgs)) + b"".join(
        struct.pack("!H", len(m)) + m for m in msgs)


def mold_messages(seq, n):
    return [b"msg-%d-%s" % (seq + i, b"x" * ((seq + i) % 23)) for i in range(n)]


def write_pcap(path, frames):
    """frames: (microseconds since the epoch, frame bytes). The classic
    microsecond format, the one DPDK's net_pcap reads (its timestamps are
    microseconds)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for us, frame in frames:
            f.write(struct.pack("<IIII", us // 1000000, us % 1000000, len(frame), len(frame)))
            f.write(frame)


def read_pcap(path):
    """[(microseconds, frame)] of a pcap file (microsecond format)."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    off = 24
    while off + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack("<IIII", data[off:off + 16])
        out.append((sec * 1000000 + usec, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def multicast_mac(group):
    g = ip4(group)
    return bytes([0x01, 0x00, 0x5E, g[1] & 0x7F, g[2], g[3]])
