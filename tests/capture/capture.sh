# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# capture.sh TRANSPORT RINGFSD RINGFS POSIX_CHECK MT_IO MOUNT_HELPER, with
# CAP_CASE, RINGFSCTL and RFS_LUA (contrib/wireshark/ringfs.lua) in the
# environment: ringfsctl capture and the Wireshark dissector against a
# real ringfsd and a real mount, decoded by the real tshark.
#
#   workload  ringfsctl capture on the server and on the mount while a
#             known workload runs (mkdir, rmdir of a non-empty directory:
#             ENOTEMPTY, lookup of a missing name: ENOENT, a 4 KiB write
#             and an O_DIRECT read): tshark + ringfs.lua find those frames
#             with their opcodes, ids, sizes and errnos, every checksum
#             good, every reply matched; interface names and directions;
#             the client's pairs are the server's pairs
#   tcpdump   the same workload (and a 200 KiB write, reassembled across
#             TCP segments) captured by tcpdump -w on lo, decoded by the
#             heuristic TCP dissector
#   drops     a capturer stopped (SIGSTOP) while 8 MiB are written through
#             a 64 KiB ring: frames are dropped and counted, pcapng's ISBs
#             and EPBs record them, the data reads back intact
#   bad       an unprivileged capture is refused and says why; malformed
#             capture requests (and malformed frames on the control
#             socket) get errors; a second capture is "busy"; the server
#             serves and captures afterwards
. "$(dirname "$0")/../mount/lib.sh" "$@"

# every READ and WRITE of the workloads must be a frame on the transport:
# not served by the kernel's FUSE passthrough (shm)
RFS_MOUNT_EXTRA=passthrough=off

# defaults: next to the client under test, and this source tree's
RINGFSCTL=$(rfs_abspath "${RINGFSCTL:-$(dirname "$RINGFS")/ringfsctl}")
RFS_LUA=$(rfs_abspath "${RFS_LUA:-$(dirname "$0")/../../contrib/wireshark/ringfs.lua}")
CHECK="python3 $(dirname "$0")/check.py"
command -v tshark >/dev/null || skip "tshark not installed (apt-get install tshark)"
[ -x "$RINGFSCTL" ] || skip "$RINGFSCTL not built"

# start_capture NAME TARGET [ringfsctl capture options]: until its
# "capturing" line (20 s at most); sets CAP_PID
start_capture() {
	local name=$1 target=$2
	shift 2
	mkfifo "$T/$name.fifo"
	"$RINGFSCTL" capture -w "$T/$name.pcapng" "$@" "$target" \
		2>"$T/$name.fifo" &
	CAP_PID=$!
	RFS_PIDS+=("$CAP_PID")
	rfs_ready_line "$T/$name.fifo" 'ringfsctl: capturing from*' \
		"$T/$name.log" || fail "ringfsctl capture $target did not start"
	# the cat that copies the rest of its stderr into the log
	CAP_DRAIN[$CAP_PID]=$!
}
declare -A CAP_DRAIN

# stop_capture PID: SIGINT ends it with exit 0; its log is complete
# once the copy of its stderr ended too
stop_capture() {
	local st=0
	kill -INT "$1"
	wait "$1" || st=$?
	wait "${CAP_DRAIN[$1]}" 2>/dev/null
	[ "$st" = 0 ] || fail "ringfsctl capture exited $st on SIGINT"
}

workload() {
	head -c 4096 /dev/urandom >"$T/ref4k"
	mkdir "$MNT/capdir" || fail "mkdir"
	touch "$MNT/capdir/inner" || fail "touch"
	! rmdir "$MNT/capdir" 2>/dev/null || fail "rmdir of a non-empty dir"
	! stat "$MNT/capmissing" 2>/dev/null || fail "stat of a missing name"
	dd if="$T/ref4k" of="$MNT/capfile" bs=4096 count=1 conv=fsync \
		status=none || fail "write"
	dd if="$MNT/capfile" of="$T/back4k" bs=4096 count=1 iflag=direct \
		status=none || fail "O_DIRECT read"
	cmp "$T/ref4k" "$T/back4k" || fail "4 KiB read back differs"
}

iface_re() { # SIDE: the interface names of that side's capture
	local side=$1 peer=$RFS_TRANSPORT
	case $RFS_TRANSPORT:$side in
	shm:server) echo 'shm:pid[0-9]+' ;;
	shm:client) echo "shm:pid$RFS_SERVER_PID" ;;
	# the device and our QP number (the setup stream is not captured)
	rdma:*) echo 'rdma:[A-Za-z0-9_.-]+/qp[0-9]+' ;;
	*:server) echo "$peer:127\\.0\\.0\\.1:[0-9]+" ;;
	*:client) echo "$peer:127\\.0\\.0\\.1:$RFS_PORT" ;;
	esac
}

case_workload() {
	local spid cpid
	rfs_start_server "$EXPORT"
	start_capture srv "$RFS_ADDR:$RFS_PORT"
	spid=$CAP_PID
	rfs_mount "$MNT"
	start_capture cli "$MNT"
	cpid=$CAP_PID
	workload
	stop_capture "$cpid"
	stop_capture "$spid"
	$CHECK frames "$RFS_LUA" "$T/cli.pcapng" client "$(iface_re client)" ||
		fail "client capture"
	$CHECK frames "$RFS_LUA" "$T/srv.pcapng" server "$(iface_re server)" ||
		fail "server capture"
	$CHECK same "$RFS_LUA" "$T/cli.pcapng" "$T/srv.pcapng" ||
		fail "client and server captures disagree"
	# the shm capture, decoded, for the record (doc: the closing note)
	tshark -n -X "lua_script:$RFS_LUA" -r "$T/cli.pcapng" 2>/dev/null |
		head -n 12
}

case_tcpdump() {
	local tpid
	command -v tcpdump >/dev/null || skip "tcpdump not installed"
	rfs_start_server "$EXPORT"
	mkfifo "$T/tcpdump.fifo"
	# -Z root: write the file as root (in $T); -U: packet by packet
	tcpdump -i lo -n -U -Z root -w "$T/lo.pcap" \
		"tcp port $RFS_PORT" 2>"$T/tcpdump.fifo" &
	tpid=$!
	RFS_PIDS+=("$tpid")
	rfs_ready_line "$T/tcpdump.fifo" '*listening on lo*' \
		"$T/tcpdump.log" || fail "tcpdump did not start"
	rfs_mount "$MNT"
	workload
	head -c 204800 /dev/urandom >"$T/ref200k"
	dd if="$T/ref200k" of="$MNT/big" bs=204800 count=1 conv=fsync \
		status=none || fail "200 KiB write"
	rfs_umount "$MNT"
	# tcpdump drops what it has not written yet when it is stopped: a
	# PING after everything else, and tcpdump stopped once it wrote it
	"$RINGFSCTL" ping -q -c 1 "$RFS_ADDR:$RFS_PORT:/data" >/dev/null ||
		fail "ping"
	python3 - "$T/lo.pcap" <<'EOF' || fail "tcpdump is behind"
import sys, time
end = time.monotonic() + 20
while b"RFNG\x03\x00" not in open(sys.argv[1], "rb").read():
    if time.monotonic() > end:
        sys.exit("tcpdump did not write the PING within 20 s")
    time.sleep(0.05)
EOF
	kill -INT "$tpid"
	wait "$tpid" || fail "tcpdump exited $?"
	$CHECK stream "$RFS_LUA" "$T/lo.pcap" || fail "tcpdump capture"
	# a frame larger than lo's 64 KiB segments: reassembled
	tshark -n -o tcp.try_heuristic_first:TRUE \
		-X "lua_script:$RFS_LUA" -r "$T/lo.pcap" \
		-Y 'ringfs.opcode == "WRITE" && ringfs.len > 65536 && ringfs.csum.status == "good"' \
		2>/dev/null | grep -q WRITE ||
		fail "no reassembled WRITE of more than 64 KiB with a good checksum"
}

case_drops() {
	local cpid drops
	rfs_start_server "$EXPORT"
	rfs_mount "$MNT"
	head -c $((8 << 20)) /dev/urandom >"$T/ref8m"
	start_capture drops "$MNT" -B 64
	cpid=$CAP_PID
	kill -STOP "$cpid"
	dd if="$T/ref8m" of="$MNT/big" bs=1M conv=fsync status=none ||
		fail "8 MiB write while the capturer is stopped"
	kill -CONT "$cpid"
	# reading it back makes frames on every connection again: the EPBs
	# after the gap carry the drop counts
	cmp "$T/ref8m" "$MNT/big" || fail "8 MiB read back differs"
	stop_capture "$cpid"
	drops=$(sed -n 's/.* \([0-9][0-9]*\) dropped by full rings.*/\1/p' \
		"$T/drops.log")
	[ -n "$drops" ] || fail "no drop count in: $(tail -n 2 "$T/drops.log")"
	[ "$drops" -gt 0 ] || fail "a stopped capturer dropped nothing"
	note "$drops frames dropped"
	$CHECK drops "$RFS_LUA" "$T/drops.pcapng" "$drops" ||
		fail "drop counts in the pcapng"
	# and the mount lost nothing: the file, on the server's disk
	cmp "$T/ref8m" "$EXPORT/big" || fail "the server's copy differs"
}

# ctl_say ARG...: what the server's control socket answers to the
# request ARG... (common/ctlsock.h framing: a length, then argv as
# NUL-terminated strings); "raw:BYTES" sends BYTES as they are instead
ctl_say() {
	python3 - "$CTL" "$@" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
if sys.argv[2].startswith("raw:"):
    s.sendall(sys.argv[2][4:].encode().decode("unicode_escape").encode("latin-1"))
else:
    body = b"".join(a.encode() + b"\0" for a in sys.argv[2:])
    s.sendall(struct.pack("<I", len(body)) + body)
h = b""
while len(h) < 8:
    c = s.recv(8 - len(h))
    if not c:
        print("closed"); sys.exit(0)
    h += c
n, st = struct.unpack("<II", h)
body = b""
while len(body) < n - 4:
    c = s.recv(n - 4 - len(body))
    if not c:
        break
    body += c
print("status %d: %s" % (st, body.decode(errors="replace").strip()))
EOF
}

case_bad() {
	local out cpid st=0
	rfs_start_server "$EXPORT"
	rfs_mount "$MNT"
	CTL=/run/ringfs/ringfsd-$RFS_SERVER_PID.sock
	[ -S "$CTL" ] || fail "no capture socket $CTL"
	# an unprivileged user: refused, and told why
	command -v setpriv >/dev/null || skip "setpriv missing"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$RINGFSCTL" capture -w - "$RFS_ADDR:$RFS_PORT" 2>&1 >/dev/null) ||
		st=$?
	[ "$st" = 1 ] || fail "unprivileged capture exited $st, want 1: $out"
	echo "$out" | grep -q "capture refused by .*: capture is privileged: only root or uid 0 (the daemon's owner) may use it; you are uid 65534" ||
		fail "unclear refusal: $out"
	note "refused: $out"
	# malformed requests: an error each, and the daemon serves on
	out=$(ctl_say capture snaplen=x)
	[[ $out == "status 22: malformed capture argument 'snaplen=x'"* ]] ||
		fail "snaplen=x: $out"
	out=$(ctl_say capture ring_kib=1)
	[[ $out == "status 22: malformed capture argument 'ring_kib=1'"* ]] ||
		fail "ring_kib=1: $out"
	out=$(ctl_say capture bogus)
	[[ $out == "status 22: malformed capture argument 'bogus'"* ]] ||
		fail "bogus: $out"
	out=$(ctl_say 'raw:\xff\xff\xff\xffgarbage')
	[[ $out == "status "[1-9]* ]] || fail "garbage length: $out"
	out=$(ctl_say 'raw:\x05\x00\x00\x00captu')
	[[ $out == "status "[1-9]* ]] || fail "no NUL: $out"
	# one capture at a time
	start_capture one "$RFS_ADDR:$RFS_PORT"
	cpid=$CAP_PID
	out=$("$RINGFSCTL" capture -w "$T/two.pcapng" "$RFS_ADDR:$RFS_PORT" 2>&1) &&
		fail "a second capture attached"
	echo "$out" | grep -q "busy" || fail "second capture: $out"
	stop_capture "$cpid"
	# still serving, and capturing: -c 2 ends by itself
	start_capture after "$RFS_ADDR:$RFS_PORT" -c 2
	cpid=$CAP_PID
	workload
	wait "$cpid" || fail "capture -c 2 exited $?"
	[ "$(tshark -r "$T/after.pcapng" 2>/dev/null | wc -l)" = 2 ] ||
		fail "capture -c 2 did not write 2 frames"
}

case ${CAP_CASE:?} in
workload | tcpdump | drops | bad) "case_$CAP_CASE" ;;
*) fail "unknown CAP_CASE $CAP_CASE" ;;
esac
rfs_unmount_all || fail "unmount"
echo "PASS ($RFS_TAG $CAP_CASE)"
