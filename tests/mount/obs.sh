#!/bin/bash
# SPDX-License-Identifier: MIT
# obs: ringfsctl conns and stats against a live mount and its live
# server after a known workload (5 MKDIR, 8 WRITE of 4 KiB, 3 UNLINK):
# the per-opcode counts on both sides, bytes, connections, in text, JSON
# (python3 json) and Prometheus (tests/lib/promcheck.py, a strict parser
# of the exposition format).  Then: a stopped client (SIGSTOP) still
# shows its counters, read from its counters file; malformed requests on
# both control sockets get an error reply and the daemons keep serving;
# an unprivileged caller reads counters (files 0644, socket 0666); the
# refusal of a privileged command (RFS_CTL_PRIV) to another uid is
# tests/unit/test_ctlsock.c.
#
# RINGFSCTL (environment): the ringfsctl under test.
. "$(dirname "$0")/lib.sh" "$@"

RINGFSCTL=$(rfs_abspath "${RINGFSCTL:?RINGFSCTL not set}")
[ -x "$RINGFSCTL" ] || skip "$RINGFSCTL not built"
command -v python3 >/dev/null || skip "python3 not installed"
PROMCHECK=$(dirname "$0")/../lib/promcheck.py
RFS_LOG_EXTRA+=("$T/out" "$T/err")

rfs_start_server "$EXPORT"
SRV=$RFS_SERVER_PID
# the WRITEs must reach the server: not the kernel's passthrough
# (tests/mount/passthrough.sh counts what that path does)
RFS_MOUNT_EXTRA=passthrough=off
M=$T/mnt
rfs_mount "$M"
CPID=$(pgrep -f -- " $M( |\$)" | head -n 1)
[ -n "$CPID" ] || fail "no ringfs process for $M"
note "client pid $CPID"

ctl() { # ctl ARGS...: ringfsctl, stdout to $T/out; fails on non-zero
	local rc=0
	timeout 20 "$RINGFSCTL" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	printf '$ ringfsctl %s -> %s\n' "$*" "$rc"
	head -n 40 "$T/out" | sed 's/^/  | /'
	sed 's/^/  ! /' "$T/err"
	[ "$rc" = 0 ] || fail "ringfsctl $* exited $rc"
}

# --- the workload -----------------------------------------------------
for i in 1 2 3 4 5; do mkdir "$M/d$i" || fail "mkdir d$i"; done
dd if=/dev/urandom of="$M/f" bs=4096 count=8 status=none ||
	fail "dd to the mount"
for i in 1 2 3; do : >"$M/u$i" || fail "create u$i"; done
for i in 1 2 3; do rm "$M/u$i" || fail "unlink u$i"; done
sync "$M/f" || true

# jcheck SIDE FILE: the JSON of stats --json, checked with python
jcheck() {
	python3 - "$1" "$2" <<'EOF' || fail "stats --json of the $1: wrong values (above)"
import json, sys
side, path = sys.argv[1], sys.argv[2]
d = json.load(open(path))
assert d["side"] == side, d["side"]
lat = d["latency"]
def count(op):
    return lat.get(op, {}).get("count", 0)
for op, n in (("mkdir", 5), ("write", 8), ("unlink", 3)):
    assert count(op) == n, "%s: %s %s requests, want %d" % (side, op, count(op), n)
w = lat["write"]
assert w["p50_ns"] > 0 and w["p50_ns"] <= w["p99_ns"] <= w["p999_ns"], w
assert sum(c for _, c in w["buckets"]) == 8, w["buckets"]
assert w["sum_ns"] > 0
x = d["transports"]
assert len(x) == 1, x
t = list(x.values())[0]
if side == "client":
    assert t["requests_sent"] == t["replies_received"] >= 16, t
    assert t["bytes_out"] >= 8 * 4096, t
    assert t["connections"] >= 1
else:
    # FORGET and BYE have no reply
    assert t["requests_received"] >= t["replies_sent"] >= 16, t
    assert t["bytes_in"] >= 8 * 4096, t
assert t["errors"] >= 0 and t["csum_failures"] == 0, t
print("%s: mkdir 5, write 8, unlink 3; %s" % (side, sorted(x)))
EOF
}

# --- the client: stats and conns, text, JSON, Prometheus ---------------
ctl stats "$M"
grep -Eq "^client\.$RFS_TRANSPORT\.requests_sent: [0-9]+$" "$T/out" ||
	fail "text stats lacks client.$RFS_TRANSPORT.requests_sent"
grep -Eq '^  write +8 ' "$T/out" || fail "text stats: no 'write 8' latency row"
ctl stats "$M" --json
jcheck client "$T/out"
ctl conns "$M"
n=$(grep -c " $RFS_TRANSPORT .* ESTAB .* data " "$T/out")
[ "$n" -ge 1 ] || fail "conns: no ESTAB $RFS_TRANSPORT connection on export data"
grep -q 'rtt:[0-9.]*/[0-9.]* minrtt:' "$T/out" || fail "conns: no rtt"
ctl conns "$M" --json
python3 - "$T/out" "$RFS_TRANSPORT" <<'EOF' || fail "conns --json: wrong"
import json, sys
d = json.load(open(sys.argv[1]))
cs = d["connections"]
assert cs and all(c["transport"] == sys.argv[2] and c["state"] == "ESTAB"
                  and c["export"] == "data" for c in cs), cs
busy = [c for c in cs if c["requests_sent"]]
assert sum(c["requests_sent"] for c in cs) >= 16
assert all(c["srtt_ns"] > 0 and c["minrtt_ns"] > 0 and
           c["minrtt_ns"] <= c["srtt_ns"] + c["rttvar_ns"] * 4 for c in busy), busy
assert all(c["age_s"] >= 0 for c in cs)
print("conns --json: %d connections" % len(cs))
EOF
ctl stats "$M" --prometheus
cp "$T/out" "$T/client.prom"
python3 "$PROMCHECK" "$T/client.prom" >"$T/client.samples" ||
	fail "stats --prometheus is not valid exposition format"
grep -q "^ringfs_request_duration_seconds_count{op=\"mkdir\",pid=\"$CPID\",side=\"client\",what=\"$M\"} 5$" \
	"$T/client.samples" || fail "prometheus: client mkdir count is not 5"
grep -q "^ringfs_request_duration_seconds_bucket{le=\"+Inf\",op=\"write\",pid=\"$CPID\",side=\"client\",what=\"$M\"} 8$" \
	"$T/client.samples" || fail "prometheus: client write +Inf bucket is not 8"

# --- the server ---------------------------------------------------------
ctl stats "ringfsd:$SRV" --json
jcheck server "$T/out"
ctl conns "ringfsd:$SRV"
grep -Eq " $RFS_TRANSPORT .* ESTAB .* data " "$T/out" ||
	fail "server conns: no ESTAB connection on export data"
ctl stats "ringfsd:$SRV" --prometheus
python3 "$PROMCHECK" "$T/out" >"$T/server.samples" ||
	fail "server stats --prometheus is not valid exposition format"
grep -q "^ringfs_request_duration_seconds_count{op=\"write\",pid=\"$SRV\",side=\"server\",.*} 8$" \
	"$T/server.samples" || fail "prometheus: server write count is not 8"
# every daemon of the host in one exposition (the textfile collector's
# file): each family once, our client's and server's series in it
ctl stats --prometheus
python3 "$PROMCHECK" "$T/out" >"$T/all.samples" ||
	fail "stats --prometheus of every daemon is not valid exposition format"
grep -q "^ringfs_connections{pid=\"$CPID\",side=\"client\"," "$T/all.samples" ||
	fail "all-daemon exposition lacks our client"
grep -q "^ringfs_connections{pid=\"$SRV\",side=\"server\"," "$T/all.samples" ||
	fail "all-daemon exposition lacks our server"
ctl stats --socket "ringfsd:$SRV" --json
jcheck server "$T/out"

# --- a stopped client still shows its counters -------------------------
cont_client() { kill -CONT "$CPID" 2>/dev/null || true; }
# before the unmount hook: a stopped daemon cannot unmount
RFS_CLEANUP_HOOKS=(cont_client "${RFS_CLEANUP_HOOKS[@]}")
kill -STOP "$CPID" || fail "SIGSTOP $CPID"
ctl stats "$M" --json
jcheck client "$T/out"
ctl conns "$M"
grep -Eq " ESTAB " "$T/out" || fail "conns of a stopped client: nothing"
# the control socket cannot answer now, and says so within its timeout
rc=0
timeout 20 "$RINGFSCTL" stats --socket "$M" >"$T/out" 2>"$T/err" || rc=$?
cat "$T/err"
[ "$rc" = 1 ] || fail "stats --socket of a stopped client: exit $rc, want 1"
grep -q 'does not answer' "$T/err" || fail "no 'does not answer' message"
kill -CONT "$CPID" || fail "SIGCONT $CPID"
ctl stats --socket "$M" --json
jcheck client "$T/out"

# --- malformed control-socket requests; the daemons keep serving --------
for sock in "/run/ringfs/client-$CPID.sock" "/run/ringfs/ringfsd-$SRV.sock"; do
	[ -S "$sock" ] || fail "$sock: no control socket"
	python3 - "$sock" <<'EOF' || fail "$sock: malformed requests not answered as expected"
import errno, socket, struct, sys
def ask(raw):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sys.argv[1])
    s.sendall(raw)
    h = b""
    while len(h) < 8:
        c = s.recv(8 - len(h))
        assert c, "closed without a reply"
        h += c
    n, st = struct.unpack("<II", h)
    body = b""
    while len(body) < n - 4:
        c = s.recv(n - 4 - len(body))
        assert c, "short reply"
        body += c
    return st, body.decode()
def frame(b):
    return struct.pack("<I", len(b)) + b
for raw, want in ((struct.pack("<I", 0), errno.EINVAL),
                  (struct.pack("<I", 1 << 30), errno.E2BIG),
                  (frame(b"stats"), errno.EINVAL),  # no NUL
                  (frame(b"\0"), errno.EINVAL),
                  (frame(b"x" * 200 + b"\0"), errno.ENOENT),
                  (frame(b"stats\0--bogus\0"), errno.EINVAL),
                  (frame(b"a\0" * 40), errno.E2BIG)):
    st, msg = ask(raw)
    assert st == want, (raw[:16], st, msg)
    assert msg, "empty error message"
    print("%-10s -> %s: %s" % (errno.errorcode[st], st, msg))
# a caller that goes away mid-request
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.send(b"\x10\0"); s.close()
st, msg = ask(frame(b"stats\0--json\0"))
assert st == 0 and msg.startswith("{"), (st, msg[:80])
EOF
done
ctl stats --socket "$M"
ctl conns --socket "ringfsd:$SRV"

# --- an unprivileged caller ---------------------------------------------
if command -v setpriv >/dev/null; then
	rc=0
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		timeout 20 "$RINGFSCTL" stats "ringfsd:$SRV" --json \
		>"$T/out" 2>"$T/err" || rc=$?
	cat "$T/err"
	[ "$rc" = 0 ] || fail "nobody cannot read the server's counters (exit $rc)"
	jcheck server "$T/out"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		timeout 20 "$RINGFSCTL" conns --socket "$M" >"$T/out" 2>&1 ||
		fail "nobody cannot ask the client's control socket"
else
	note "setpriv missing: the unprivileged caller is not checked"
fi

rfs_umount "$M"
# the client exits after the unmount: wait for it (bounded)
timeout 20 tail --pid="$CPID" -f /dev/null ||
	fail "client $CPID still running 20 s after the unmount"
# the client removed its socket and counters file
[ ! -e "/run/ringfs/client-$CPID.sock" ] || fail "client socket left behind"
[ ! -e "/run/ringfs/client-$CPID.stats" ] || fail "client counters file left behind"
echo "PASS ($RFS_TAG)"
