#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check.py: decode captures with the real tshark and ringfs.lua, and check
them against the workload of capture.sh.

  check.py frames LUA FILE SIDE IFACE_RE     one capture (SIDE client or
                                             server): the workload's frames
  check.py same LUA CLIENT_FILE SERVER_FILE  every request/reply pair the
                                             client captured, the server
                                             captured too, mirrored
  check.py stream LUA FILE                   a tcpdump capture (heuristic
                                             dissector): the workload's
                                             frames
  check.py drops LUA FILE DROPS              drop counts: the ISBs say
                                             DROPS, EPBs carry some

Exit 0 when it holds, 1 with the reason otherwise.
"""
import json
import re
import struct
import subprocess
import sys

def fail(msg):
    print("check.py: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def first(d, key):
    """the first value of key in d or its subtrees (depth first)"""
    if not isinstance(d, dict):
        return None
    if key in d:
        v = d[key]
        return v[0] if isinstance(v, list) else v
    for v in d.values():
        for x in (v if isinstance(v, list) else [v]):
            r = first(x, key)
            if r is not None:
                return r
    return None


def decode(lua, path):
    """one row per ringfs PDU (a TCP segment can hold several)"""
    # heuristics first: a client binds a privileged source port, which
    # may be another protocol's (639 MSDP, 564 9P...), whose port-based
    # dissector would otherwise claim the stream
    cmd = ["tshark", "-n", "-o", "tcp.try_heuristic_first:TRUE",
           "-X", "lua_script:" + lua, "-r", path,
           "-Y", "ringfs", "-T", "json", "--no-duplicate-keys"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        fail("tshark on %s exited %d: %s" % (path, p.returncode,
                                              p.stderr.strip()))
    errs = [l for l in p.stderr.splitlines() if "Lua" in l or "rror" in l]
    if errs:
        fail("tshark/Lua said: " + " | ".join(errs[:5]))
    rows = []
    for pkt in json.loads(p.stdout or "[]"):
        layers = pkt["_source"]["layers"]
        fr = layers["frame"]
        pdus = layers["ringfs"]
        for pdu in (pdus if isinstance(pdus, list) else [pdus]):
            # the connection: a TCP stream (tcpdump), or a capture
            # interface (ringfsctl: one per connection); request ids are
            # per connection, as in the dissector's matching
            tcp = layers.get("tcp") or {}
            r = {"conn": (first(tcp, "tcp.stream") or "",
                          first(fr, "frame.interface_id") or ""),
                 "frame.number": fr["frame.number"],
                 "frame.interface_name": first(fr, "frame.interface_name")
                 or "",
                 "frame.packet_flags_direction":
                 first(fr, "frame.packet_flags_direction") or "",
                 "frame.drop_count": first(fr, "frame.drop_count") or "0"}
            for k in ("ringfs.errno", "ringfs.csum.status",
                      "ringfs.response_to", "ringfs.time"):
                r[k] = pdu.get(k, "")
            for k in ("ringfs.name", "ringfs.size", "ringfs.written"):
                r[k] = first(pdu, k) or ""
            r["reply"] = pdu["ringfs.reply"] in ("1", "True")
            r["len"] = int(pdu["ringfs.len"])
            r["status"] = int(pdu.get("ringfs.status", 0))
            r["reqid"] = int(pdu["ringfs.reqid"])
            r["op"] = pdu["ringfs.opcode"]
            rows.append(r)
    if not rows:
        fail("%s: tshark decoded no ringfs frame" % path)
    return rows


def pairs(rows):
    """(connection, reqid) -> (request, reply) for complete pairs"""
    req, out = {}, {}
    for r in rows:
        k = (r["conn"], r["reqid"])
        if not r["reply"]:
            req[k] = r
        elif k in req:
            out[k] = (req[k], r)
    return out


def check_csums(rows, path):
    bad = [r for r in rows if r["ringfs.csum.status"] != "good"]
    if bad:
        fail("%s: %d frames without a good checksum, first: frame %s %s "
             "(%s)" % (path, len(bad), bad[0]["frame.number"], bad[0]["op"],
                       bad[0]["ringfs.csum.status"]))


def find(pr, op, name=None, status=None, what=""):
    for q, a in pr.values():
        if q["op"] == op and (name is None or q["ringfs.name"] == name) \
                and (status is None or a["status"] == status):
            return q, a
    fail("no %s%s reply%s in the capture %s" % (
        op, " '%s'" % name if name else "",
        " with status %d" % status if status is not None else "", what))


def workload(rows, path):
    """the frames capture.sh's workload must have produced"""
    check_csums(rows, path)
    pr = pairs(rows)
    if len(pr) < 10:
        fail("%s: only %d request/reply pairs" % (path, len(pr)))
    for q, a in pr.values():
        if q["op"] != a["op"]:
            fail("%s: reply %s to request %s (id %d)" % (path, a["op"],
                                                         q["op"], q["reqid"]))
        if a["ringfs.response_to"] != q["frame.number"]:
            fail("%s: reply frame %s: response_to %r, want %s" % (
                path, a["frame.number"], a["ringfs.response_to"],
                q["frame.number"]))
        if not a["ringfs.time"]:
            fail("%s: reply frame %s has no response time" %
                 (path, a["frame.number"]))
    find(pr, "MKDIR", "capdir", 0)
    q, a = find(pr, "RMDIR", "capdir")
    if a["status"] != -39 or a["ringfs.errno"] != "ENOTEMPTY":
        fail("RMDIR of a non-empty directory: status %d %s, want -39 "
             "ENOTEMPTY" % (a["status"], a["ringfs.errno"]))
    q, a = find(pr, "LOOKUP", "capmissing")
    if a["status"] != -2 or a["ringfs.errno"] != "ENOENT" or a["len"]:
        fail("LOOKUP of a missing name: status %d %s len %d, want -2 "
             "ENOENT 0" % (a["status"], a["ringfs.errno"], a["len"]))
    q, a = find(pr, "WRITE", None, 0)
    if q["len"] != 40 + 4096 or q["ringfs.size"] != "4096" or \
            a["len"] != 8 or a["ringfs.written"] != "4096":
        fail("WRITE: request len %d size %s, reply len %d written %s; want "
             "4136 4096 8 4096" % (q["len"], q["ringfs.size"], a["len"],
                                   a["ringfs.written"]))
    q, a = find(pr, "READ", None, 0)
    if q["len"] != 40 or q["ringfs.size"] != "4096" or a["len"] != 4096:
        fail("READ: request len %d size %s, reply len %d; want 40 4096 4096"
             % (q["len"], q["ringfs.size"], a["len"]))
    return pr


def main():
    mode = sys.argv[1]
    lua = sys.argv[2]
    if mode == "frames":
        path, side, iface_re = sys.argv[3], sys.argv[4], sys.argv[5]
        rows = decode(lua, path)
        pr = workload(rows, path)
        # requests go out from the client, in at the server
        want_q = "0x00000002" if side == "client" else "0x00000001"
        want_a = "0x00000001" if side == "client" else "0x00000002"
        for q, a in pr.values():
            if q["frame.packet_flags_direction"] != want_q or \
                    a["frame.packet_flags_direction"] != want_a:
                fail("%s: %s id %d: directions %s/%s, want %s/%s" % (
                    path, q["op"], q["reqid"],
                    q["frame.packet_flags_direction"],
                    a["frame.packet_flags_direction"], want_q, want_a))
        names = {r["frame.interface_name"] for r in rows}
        for n in names:
            if not re.fullmatch(iface_re, n):
                fail("%s: interface name %r does not match %r" %
                     (path, n, iface_re))
        print("%s: %d frames, %d pairs, interfaces %s" % (
            path, len(rows), len(pr), " ".join(sorted(names))))
    elif mode == "same":
        crows, srows = decode(lua, sys.argv[3]), decode(lua, sys.argv[4])
        cp = pairs(crows)
        # each side names its connections its own way: match a client
        # pair to the server's by id, opcode and name
        sp = {}
        for sq, sa in pairs(srows).values():
            sp.setdefault((sq["reqid"], sq["op"], sq["ringfs.name"]),
                          (sq, sa))
        for q, a in cp.values():
            rid = q["reqid"]
            if (rid, q["op"], q["ringfs.name"]) not in sp:
                fail("request %s id %d is in the client's capture, not in "
                     "the server's" % (q["op"], rid))
            sq, sa = sp[(rid, q["op"], q["ringfs.name"])]
            for k in ("op", "len", "ringfs.name"):
                if q[k] != sq[k] or (k != "ringfs.name" and a[k] != sa[k]):
                    fail("id %d: %s differs: client %r/%r, server %r/%r" % (
                        rid, k, q[k], a[k], sq[k], sa[k]))
            if a["status"] != sa["status"]:
                fail("id %d: status client %d, server %d" %
                     (rid, a["status"], sa["status"]))
        print("client and server agree on %d request/reply pairs" % len(cp))
    elif mode == "stream":
        path = sys.argv[3]
        rows = decode(lua, path)
        pr = workload(rows, path)
        print("%s: %d frames, %d pairs (heuristic dissector)" % (
            path, len(rows), len(pr)))
    elif mode == "drops":
        path, want = sys.argv[3], int(sys.argv[4])
        isb = isb_drops(path)
        if isb != want:
            fail("%s: the ISBs count %d drops, ringfsctl said %d" %
                 (path, isb, want))
        rows = decode(lua, path)
        epb = sum(int(r["frame.drop_count"] or 0) for r in rows)
        if epb <= 0 or epb > want:
            fail("%s: the EPBs carry %d drops, want 1..%d" % (path, epb,
                                                             want))
        print("%s: %d drops in the ISBs, %d on EPBs" % (path, isb, epb))
    else:
        fail("unknown mode " + mode)


def isb_drops(path):
    """sum of isb_ifdrop over every Interface Statistics Block"""
    data = open(path, "rb").read()
    off, total, seen = 0, 0, 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        if blen < 12 or blen % 4 or off + blen > len(data):
            fail("%s: malformed block at offset %d" % (path, off))
        if struct.unpack_from("<I", data, off + blen - 4)[0] != blen:
            fail("%s: block lengths disagree at offset %d" % (path, off))
        if btype == 5:
            seen += 1
            o, end = off + 20, off + blen - 4
            while o + 4 <= end:
                code, olen = struct.unpack_from("<HH", data, o)
                if code == 0:
                    break
                if code == 5 and olen == 8:
                    total += struct.unpack_from("<Q", data, o + 4)[0]
                o += 4 + (olen + 3) // 4 * 4
        off += blen
    if not seen:
        fail("%s: no Interface Statistics Block" % path)
    return total


if __name__ == "__main__":
    main()
