#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""nbd_hostile: malformed and hostile NBD input against ringfsd's NBD
listener (server/nbd.c), each case asserting the protocol's answer:
option errors (ERR_UNSUP, ERR_INVALID, ERR_UNKNOWN, ERR_POLICY), request
errors (EINVAL, ENOSPC, EPERM) and a closed connection where the protocol
has no way back (bad magic, a WRITE too large to skip); then random
garbage, in the handshake and after GO.  A stalled peer is held open
during all of it and must be closed by the server's --setup-timeout
(nbd.sh gives 2 s).  The caller (nbd.sh) then checks with a real client
that the server still serves everyone.

usage: nbd_hostile.py HOST PORT RW_EXPORT RO_EXPORT DENIED_EXPORT SEED
"""
import random
import socket
import struct
import sys

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPMAGIC = 0x0003E889045565A9
REQMAGIC = 0x25609513
SREPMAGIC = 0x67446698
ERR = 0x80000000
REP_ACK, REP_SERVER, REP_INFO = 1, 2, 3
ERR_UNSUP, ERR_POLICY, ERR_INVALID, ERR_UNKNOWN = ERR + 1, ERR + 2, ERR + 3, ERR + 6
EPERM, EINVAL, ENOSPC = 1, 22, 28

HOST, PORT = sys.argv[1], int(sys.argv[2])
RW, RO, DENIED = sys.argv[3], sys.argv[4], sys.argv[5]
rng = random.Random(int(sys.argv[6]))
failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL: " + msg)


def ok(msg):
    print("ok - " + msg)


def conn():
    s = socket.create_connection((HOST, PORT), timeout=10)
    return s


def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("closed after %d of %d bytes" % (len(b), n))
        b += c
    return b


def closed(s):
    """True when the server closed the connection (EOF or reset)."""
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        return False


def greet(s, cflags=3):
    m, o, hf = struct.unpack(">QQH", recvn(s, 18))
    if m != NBDMAGIC or o != IHAVEOPT or not hf & 1:
        raise ValueError("bad greeting %x %x %x" % (m, o, hf))
    s.sendall(struct.pack(">I", cflags))


def opt(s, o, data=b""):
    s.sendall(struct.pack(">QII", IHAVEOPT, o, len(data)) + data)


def opt_reply(s):
    m, o, t, n = struct.unpack(">QIII", recvn(s, 20))
    if m != REPMAGIC:
        raise ValueError("bad option reply magic %x" % m)
    return o, t, recvn(s, n)


def go_data(name, reqs=()):
    nb = name.encode()
    return struct.pack(">I", len(nb)) + nb + struct.pack(">H", len(reqs)) + b"".join(
        struct.pack(">H", r) for r in reqs)


def go(s, name):
    """GO on name; returns (size, flags) or the error reply type."""
    opt(s, 7, go_data(name))
    size = flags = None
    while True:
        _, t, d = opt_reply(s)
        if t == REP_INFO and struct.unpack(">H", d[:2])[0] == 0:
            size, flags = struct.unpack(">QH", d[2:12])
        elif t == REP_ACK:
            return size, flags
        elif t & ERR:
            return t
        elif t != REP_INFO:
            raise ValueError("unexpected reply %x" % t)


def req(s, typ, off, length, flags=0, cookie=None, payload=b""):
    cookie = cookie if cookie is not None else rng.getrandbits(64)
    s.sendall(struct.pack(">IHHQQI", REQMAGIC, flags, typ, cookie, off, length) + payload)
    return cookie


def simple_reply(s, cookie, datalen=0):
    m, err, c = struct.unpack(">IIQ", recvn(s, 16))
    if m != SREPMAGIC or c != cookie:
        raise ValueError("bad reply magic %x or cookie %x != %x" % (m, c, cookie))
    data = recvn(s, datalen) if err == 0 and datalen else b""
    return err, data


def expect(cond, msg):
    (ok if cond else fail)(msg)


# a stalled peer: half a client-flags word, then nothing, for the whole run
stalled = conn()
recvn(stalled, 18)
stalled.sendall(b"\x00\x00")

# --- handshake -----------------------------------------------------------
s = conn(); greet(s, cflags=0)
expect(closed(s), "client without FIXED_NEWSTYLE: closed")
s = conn(); greet(s, cflags=0x80000001)
expect(closed(s), "unknown client flags: closed")
s = conn(); greet(s)
s.sendall(struct.pack(">QII", 0x1122334455667788, 7, 0))
expect(closed(s), "bad option magic: closed")
s = conn(); greet(s)
s.sendall(struct.pack(">QII", IHAVEOPT, 7, 0xFFFFFFF0))
expect(closed(s), "option length 4 GiB: closed without reading it")

s = conn(); greet(s)
opt(s, 42, b"junk")
o, t, _ = opt_reply(s)
expect(o == 42 and t == ERR_UNSUP, "unknown option: ERR_UNSUP (%x)" % t)
opt(s, 5)  # STARTTLS
_, t, _ = opt_reply(s)
expect(t == ERR_UNSUP, "STARTTLS: ERR_UNSUP, no TLS here (%x)" % t)
opt(s, 3, b"x")  # LIST with data
_, t, _ = opt_reply(s)
expect(t == ERR_INVALID, "LIST with data: ERR_INVALID (%x)" % t)
opt(s, 3)
names = []
while True:
    _, t, d = opt_reply(s)
    if t != REP_SERVER:
        break
    names.append(d[4:4 + struct.unpack(">I", d[:4])[0]].decode())
expect(t == REP_ACK and RW in names and RO in names and DENIED not in names,
       "LIST: %s (the denied export hidden)" % names)
opt(s, 6, struct.pack(">I", 1000) + b"ab")  # name length past the data
_, t, _ = opt_reply(s)
expect(t == ERR_INVALID, "INFO with a name past its data: ERR_INVALID (%x)" % t)
opt(s, 6, go_data(RW) + b"\x00")  # a stray byte after the requests
_, t, _ = opt_reply(s)
expect(t == ERR_INVALID, "INFO with trailing bytes: ERR_INVALID (%x)" % t)
opt(s, 6, go_data("no-such-export"))
_, t, _ = opt_reply(s)
expect(t == ERR_UNKNOWN, "INFO on an unknown export: ERR_UNKNOWN (%x)" % t)
opt(s, 7, go_data(DENIED))
_, t, _ = opt_reply(s)
expect(t == ERR_POLICY, "GO on an export whose net= excludes us: ERR_POLICY (%x)" % t)
opt(s, 6, go_data(RW, (3,)))
infos = set()
while True:
    _, t, d = opt_reply(s)
    if t != REP_INFO:
        break
    infos.add(struct.unpack(">H", d[:2])[0])
expect(t == REP_ACK and infos == {0, 3}, "INFO with BLOCK_SIZE asked: export and block size")
opt(s, 2)
_, t, _ = opt_reply(s)
expect(t == REP_ACK and closed(s), "ABORT: ACK, closed")

s = conn(); greet(s)
opt(s, 1, b"no-such-export")
expect(closed(s), "EXPORT_NAME unknown: closed (the protocol has no error)")
s = conn(); greet(s)
for _ in range(70):
    opt(s, 42)
n = 0
try:
    while True:
        opt_reply(s)
        n += 1
except (EOFError, ConnectionResetError):
    pass
expect(n == 64, "70 options without an export: 64 answered, then closed (%d)" % n)

# --- transmission --------------------------------------------------------
s = conn(); greet(s)
r = go(s, RW)
expect(isinstance(r, tuple) and r[0] and r[1] & 1, "GO %s: size %s flags %s" % (RW, *r))
size = r[0]
c = req(s, 1, 0, 4096, payload=b"\xab" * 4096)
expect(simple_reply(s, c)[0] == 0, "WRITE 4 KiB at 0")
c = req(s, 0, 0, 4096)
err, data = simple_reply(s, c, 4096)
expect(err == 0 and data == b"\xab" * 4096, "READ it back")
c = req(s, 0, size - 512, 1024)
expect(simple_reply(s, c)[0] == EINVAL, "READ past the end: EINVAL")
c = req(s, 0, 2 ** 64 - 512, 1024)
expect(simple_reply(s, c)[0] == EINVAL, "READ with offset + length overflowing: EINVAL")
c = req(s, 0, 0, 0)
expect(simple_reply(s, c)[0] == EINVAL, "READ of 0 bytes: EINVAL")
c = req(s, 0, 0, 64 << 20)
expect(simple_reply(s, c)[0] == EINVAL, "READ of 64 MiB (limit 32): EINVAL")
c = req(s, 1, size - 512, 1024, payload=b"\x01" * 1024)
expect(simple_reply(s, c)[0] == ENOSPC, "WRITE past the end: ENOSPC, payload skipped")
c = req(s, 0, 0, 16)
err, data = simple_reply(s, c, 16)
expect(err == 0 and data == b"\xab" * 16, "the stream is still in step after it")
c = req(s, 77, 0, 0)
expect(simple_reply(s, c)[0] == EINVAL, "unknown command: EINVAL")
c = req(s, 0, 0, 16, flags=0x8000)
expect(simple_reply(s, c)[0] == EINVAL, "unknown command flag: EINVAL")
c = req(s, 4, 0, 4096)
expect(simple_reply(s, c)[0] == 0, "TRIM 4 KiB")
c = req(s, 4, size, 4096)
expect(simple_reply(s, c)[0] == EINVAL, "TRIM past the end: EINVAL")
c = req(s, 3, 0, 0)
expect(simple_reply(s, c)[0] == 0, "FLUSH")
c = req(s, 1, 8192, 512, flags=1, payload=b"\x02" * 512)
expect(simple_reply(s, c)[0] == 0, "WRITE with FUA")
s.sendall(struct.pack(">IHHQQI", 0xDEADBEEF, 0, 0, 1, 0, 16))
expect(closed(s), "bad request magic: closed")

s = conn(); greet(s); go(s, RW)
s.sendall(struct.pack(">IHHQQI", REQMAGIC, 0, 1, 5, 0, 0xFFFFFFFF))
expect(closed(s), "WRITE of 4 GiB: closed without reading it")

s = conn(); greet(s)
r = go(s, RO)
expect(isinstance(r, tuple) and r[1] & 2, "GO on the ro export: READ_ONLY flag")
c = req(s, 1, 0, 512, payload=b"\x03" * 512)
expect(simple_reply(s, c)[0] == EPERM, "WRITE on the ro export: EPERM")
c = req(s, 4, 0, 512)
expect(simple_reply(s, c)[0] == EPERM, "TRIM on the ro export: EPERM")
c = req(s, 0, 0, 512)
expect(simple_reply(s, c, 512)[0] == 0, "READ on the ro export")
req(s, 2, 0, 0)
expect(closed(s), "DISC: closed")

# --- garbage -------------------------------------------------------------
for i in range(200):
    s = conn()
    try:
        recvn(s, 18)
        if i % 2:
            s.sendall(struct.pack(">I", 3))
            go(s, RW)
        blob = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
        s.sendall(blob)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    except (OSError, EOFError, ValueError):
        pass
    s.close()
ok("200 connections of random bytes (handshake and transmission)")

stalled.settimeout(15)
expect(closed(stalled), "the stalled handshake was closed by --setup-timeout")
print("%s: %d failed" % ("PASS" if not failures else "FAIL", failures))
sys.exit(1 if failures else 0)
