#!/bin/bash
# SPDX-License-Identifier: MIT
#
# listenport.sh TRANSPORT RINGFSD RINGFS POSIX_CHECK MT_IO MOUNT_HELPER
# (the mount cases' arguments, tests/mount/lib.sh; TRANSPORT must be rdma,
# RFS_TEST_ADDR an IP of an RDMA netdev): ringfsd --listen-rdma ADDR:PORT,
# one rdma_cm listener shared by every rdma connection of the server.
#
#   - ringfsd starts with --listen-rdma $ip:PORT (a fixed port) and says
#     so in its ready line;
#   - a second ringfsd with the same --listen-rdma ADDR:PORT fails to
#     start, with a message that names the port and says it is in use;
#   - two clients mount concurrently with -o transport=rdma; each has its
#     own RDMA connection to ADDR:PORT (rdma res show cm_id: two client
#     cm ids connected to it) and the server has ONE listener there;
#   - a few MiB written through each mount read back through the other
#     and from the export match;
#   - a client with a wrong session token (RINGFS_RDMA_TEST_BAD_TOKEN, a
#     test hook: skipped in a build without -Dtest_hooks=true) is
#     refused by the shared listener, which logs it with the peer;
#   - a raw setup request gets the fixed port in its reply; a client that
#     then never rdma_connects is given up on when it closes its control
#     connection, or at the setup timeout;
#   - unmount, SIGTERM, exit 0.
# Run by tests/rdma/run-in-vm.sh.  Exit 77 = skip.

. "$(dirname "$0")/../mount/lib.sh" "$@"

[ "$RFS_TRANSPORT" = rdma ] || skip "rdma only (got $RFS_TRANSPORT)"
[ -n "$(ls /sys/class/infiniband 2>/dev/null)" ] || skip "no RDMA device"
[ -x "$MT_IO" ] || skip "$MT_IO not built"

# Wait (bounded, 10 s) until the server log has a line matching $1: the
# log is filled asynchronously by lib.sh's cat.
wait_log() {
	wait_log_n "$1" 0
}
# ... until it has more than $2 such lines
wait_log_n() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c -- "$1" "$RFS_SERVER_LOG")" -gt "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# rdma_cm ports are their own port space; a free TCP port on a fresh host
# is as good a pick as any, and a clash shows as a failed start below.
P=$("$MT_IO" freeport) || fail "mt_io freeport"
LA=$RFS_ADDR:$P
rfs_start_server "$EXPORT" --listen-rdma "$LA"
grep -q "rdma $LA (one listener)" "$RFS_SERVER_LOG" ||
	fail "ready line does not name the shared listener $LA"
note "shared rdma listener on $LA"

# ---- a second server on the same ADDR:PORT must not start -------------
st=0
timeout 30 "$RINGFSD" --listen "$RFS_ADDR:0" --listen-rdma "$LA" \
	--insecure --export "data=$EXPORT,no_root_squash" \
	>"$T/server-dup.log" 2>&1 </dev/null || st=$?
sed 's/^/# dup: /' "$T/server-dup.log"
[ "$st" != 0 ] && [ "$st" != 124 ] ||
	fail "a second ringfsd on --listen-rdma $LA exited $st (want a failure)"
grep -q "listen-rdma $LA: rdma_bind_addr on $RFS_ADDR port $P: .*in use" \
	"$T/server-dup.log" || fail "second ringfsd: no clear 'in use' message"
grep -q "listening on" "$T/server-dup.log" &&
	fail "second ringfsd printed a ready line"
note "second ringfsd on $LA refused to start (exit $st)"

# ---- two concurrent rdma mounts through the one listener ----------------
M1=$MNT
M2=$T/mnt2
mkdir -m 0755 "$M2"
RFS_MOUNTS+=("$M1" "$M2")
src="$RFS_ADDR:$RFS_PORT:/data"
timeout 90 "$RINGFS" "$src" "$M1" -o transport=rdma \
	>>"$T/client1.log" 2>&1 </dev/null &
p1=$!
timeout 90 "$RINGFS" "$src" "$M2" -o transport=rdma \
	>>"$T/client2.log" 2>&1 </dev/null &
p2=$!
st1=0 st2=0
wait "$p1" || st1=$?
wait "$p2" || st2=$?
[ "$st1" = 0 ] && [ "$st2" = 0 ] ||
	fail "concurrent rdma mounts exited $st1 and $st2"
for m in "$M1" "$M2"; do
	rfs_is_mounted "$m" || fail "$m not mounted"
done
note "mounted $M1 and $M2 concurrently (transport=rdma)"

if command -v rdma >/dev/null; then
	# a client may still be setting up a connection of its own (a
	# second loop's, a reconnect): look again (bounded, 10 s) until no
	# cm id is between states
	for ((i = 0; i < 100; i++)); do
		rdma res show cm_id >"$T/cm_id.txt" 2>&1 ||
			fail "rdma res show cm_id: $(cat "$T/cm_id.txt")"
		grep "state " "$T/cm_id.txt" | grep -qvE "state (LISTEN|CONNECT) " ||
			break
		sleep 0.1
	done
	sed 's/^/# cm_id: /' "$T/cm_id.txt"
	nl=$(grep "state LISTEN" "$T/cm_id.txt" |
		grep -cE "src-addr $LA( |\$)")
	[ "$nl" = 1 ] || fail "$nl rdma_cm listeners on $LA (want 1)"
	# nothing else listens in this closed world: no per-connection ones
	nall=$(grep -c "state LISTEN" "$T/cm_id.txt")
	[ "$nall" = 1 ] || fail "$nall rdma_cm listeners in all (want 1)"
	# each mount holds its own RDMA connection(s) (a ringfs may have
	# more than one); every connection of this world goes through $LA
	nc=$(grep -v "state LISTEN" "$T/cm_id.txt" |
		grep -cE "dst-addr $LA( |\$)")
	ns=$(grep -v "state LISTEN" "$T/cm_id.txt" |
		grep -cE "src-addr $LA( |\$)")
	nconn=$(grep -c "state CONNECT" "$T/cm_id.txt")
	[ "$nc" -ge 2 ] || fail "$nc client cm ids connected to $LA (want 2+)"
	[ "$ns" = "$nc" ] && [ "$nconn" = $((2 * nc)) ] ||
		fail "$nc client and $ns server cm ids on $LA, $nconn connected in all (want equal, and 2x)"
	np=$(grep -v "state LISTEN" "$T/cm_id.txt" |
		grep -E "dst-addr $LA( |\$)" | grep -o "pid [0-9]*" | sort -u |
		wc -l)
	[ "$np" -ge 2 ] || fail "client cm ids on $LA from $np processes (want 2+)"
	note "one listener on $LA; $nc client RDMA connections (from $np processes) through it"
else
	note "no rdma tool: cm_id count not checked"
fi

# ---- data through each mount, read back through the other -----------
for i in 1 2; do
	head -c $((3 * 1024 * 1024 + 4321 * i)) /dev/urandom >"$REF/f$i" ||
		fail "urandom"
done
cp "$REF/f1" "$M1/f1" || fail "write through $M1"
cp "$REF/f2" "$M2/f2" || fail "write through $M2"
for i in 1 2; do
	cmp "$REF/f$i" "$M1/f$i" || fail "f$i differs through $M1"
	cmp "$REF/f$i" "$M2/f$i" || fail "f$i differs through $M2"
	cmp "$REF/f$i" "$EXPORT/f$i" || fail "f$i differs in the export"
done
note "3+ MiB through each mount, compared through both and the export"

# ---- a wrong token is refused by the shared listener ---------------------
# RINGFS_RDMA_TEST_BAD_TOKEN is a test hook: only in a -Dtest_hooks=true
# build (its config.h, next to server/ in the build directory, says).
if grep -q '^#define HAVE_TEST_HOOKS 1' "$(dirname "$RINGFSD")/../config.h" \
	2>/dev/null; then
M3=$T/mnt3
mkdir -m 0755 "$M3"
RFS_MOUNTS+=("$M3")
st=0
RINGFS_RDMA_TEST_BAD_TOKEN=1 timeout 90 "$RINGFS" "$src" "$M3" \
	-o transport=rdma >>"$T/client3.log" 2>&1 </dev/null || st=$?
wait_log "rdma listener $LA: connection request from .* with an unknown or stale session token: refused" ||
	fail "no refusal logged for a wrong token"
note "wrong token refused ($(grep -m1 "stale session token" "$RFS_SERVER_LOG" |
	sed 's/.*connection request from \([^ ]*\) .*/from \1/'); ringfs exit $st)"
if rfs_is_mounted "$M3"; then
	# the client retried with a good token: fine, it must work too
	cmp "$REF/f1" "$M3/f1" || fail "f1 differs through $M3"
	rfs_umount "$M3"
fi
else
	note "wrong token: not run (SKIP: the build has no test hooks," \
		"-Dtest_hooks=true)"
fi

# ---- setup without the RDMA connection: bounded, unregistered -----------
# A raw setup request (struct rdma_setup_req, common/xprt_rdma_i.h) on
# the TCP port: the reply must name the shared port; then the client
# never rdma_connects.  One closes its control connection at once (the
# server gives up at once), one keeps it open (the server gives up at
# its setup timeout, 15 s, and closes it).  Both unregister their token.
setup_req() { # fd: magic "RDMA", version 1, flags 0, credits 64,
	# inline 4096, max_msg 1 MiB, pad
	printf 'RDMA\x01\x00\x00\x00\x40\x00\x00\x00\x00\x10\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00' >&"$1"
}
rep_port() { # file: the little-endian port at offset 8 of the reply
	od -A n -t u2 -j 8 -N 2 --endian=little "$1" | tr -d ' '
}
exec {s1}<>"/dev/tcp/$RFS_ADDR/$RFS_PORT" || fail "connect to $RFS_PORT"
setup_req "$s1"
timeout 30 head -c 88 <&"$s1" >"$T/rep1" || fail "no setup reply"
[ "$(stat -c %s "$T/rep1")" = 88 ] || fail "short setup reply"
[ "$(rep_port "$T/rep1")" = "$P" ] ||
	fail "setup reply names port $(rep_port "$T/rep1"), want $P"
abort_re="waiting for the RDMA connection: Software caused connection abort"
n0=$(grep -c -- "$abort_re" "$RFS_SERVER_LOG")
exec {s1}<&-
wait_log_n "$abort_re" "$n0" ||
	fail "closing the control connection did not end the wait"
exec {s2}<>"/dev/tcp/$RFS_ADDR/$RFS_PORT" || fail "connect to $RFS_PORT"
setup_req "$s2"
timeout 30 head -c 88 <&"$s2" >"$T/rep2" || fail "no setup reply"
[ "$(rep_port "$T/rep2")" = "$P" ] || fail "second setup reply: bad port"
t0=$SECONDS
st=0
timeout 60 cat <&"$s2" >/dev/null || st=$?
exec {s2}<&-
[ "$st" = 0 ] || fail "the server kept a setup without RDMA connection over 60 s"
wait_log "waiting for the RDMA connection: Connection timed out" ||
	fail "no timeout logged for a setup without RDMA connection"
note "setup replies name port $P; a setup without RDMA connection ends on close and after $((SECONDS - t0)) s (timeout)"
# the mounts still work after that
cmp "$REF/f2" "$M1/f2" || fail "f2 differs through $M1 after the setup checks"

rm -f "$M1/f1" "$M2/f2" || fail "rm"
rfs_umount "$M1"
rfs_umount "$M2"
rfs_expect_empty "$EXPORT"
rfs_stop_server
echo "listenport: ok"
