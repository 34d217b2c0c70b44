#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run-in-vm.sh BUILD_DIR: every rdma test, in one go, where an RDMA device
# exists: inside the VM (tests/vm/vmrun, soft-RoCE on dummy0 at
# $VMRUN_IP) or natively on a host with rxe or hardware (the address is
# $RFS_RDMA_IP, or the first IPv4 address of a netdev with an RDMA link).
#
#   xprt cases over rdma (tests/xprt/xprt_test rdma rdma CASE):
#     pingpong large inflight peerdeath drain registry refused badtoken
#   mount: ringfsd --listen-rdma, ringfs -o transport=rdma; a multi-MiB
#     file written, read back and compared, ls, rm, unmount
#   asan: the same xprt cases from an ASan build, if RFS_ASAN_BUILD names
#     one (built on the host beforehand)
#
# Prints "N passed, M failed"; exits 1 on any failure, 77 when there is
# no RDMA device at all.
set -u
export LC_ALL=C

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
B=$(cd "$1" && pwd) || exit 2
ASAN_B=${RFS_ASAN_BUILD:-}
pass=0
failn=0
T=$(mktemp -d /tmp/rfs-rdma.XXXXXX) || exit 1

cleanup() {
	if [ -n "${MNT:-}" ] && grep -q " $MNT " /proc/self/mounts; then
		fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	[ -n "${SRV_PID:-}" ] && kill "$SRV_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

if [ -z "$(ls /sys/class/infiniband 2>/dev/null)" ]; then
	echo "SKIP: no RDMA device (/sys/class/infiniband is empty)"
	exit 77
fi
ip=${VMRUN_IP:-${RFS_RDMA_IP:-}}
if [ -z "$ip" ]; then
	# "link rxe0/1 state ACTIVE physical_state LINK_UP netdev eth0"
	nd=$(rdma link show 2>/dev/null |
		sed -n 's/.*state ACTIVE.* netdev \([^ ]*\).*/\1/p' | head -n1)
	[ -n "$nd" ] && ip=$(ip -4 -o addr show dev "$nd" |
		sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p' | head -n1)
fi
[ -n "$ip" ] || { echo "SKIP: no IPv4 address on an RDMA netdev" \
	"(set RFS_RDMA_IP)"; exit 77; }
echo "# rdma tests on $ip ($(ls /sys/class/infiniband | tr '\n' ' '))"

result() { # name status logfile
	if [ "$2" = 0 ]; then
		echo "ok: $1"
		pass=$((pass + 1))
	else
		echo "FAIL: $1 (exit $2)"
		tail -n 40 "$3" | sed 's/^/    /'
		failn=$((failn + 1))
	fi
}

xprt_cases() { # build-dir label
	local c st
	for c in pingpong large inflight peerdeath drain registry refused \
		badtoken; do
		st=0
		RFS_TEST_ADDR=$ip timeout 300 "$1/tests/xprt/xprt_test" \
			rdma rdma "$c" >"$T/$2-$c.log" 2>&1 || st=$?
		result "$2 rdma-rdma-$c" "$st" "$T/$2-$c.log"
		grep -h "frames out\|peerdeath:\|drain:" "$T/$2-$c.log" |
			sed 's/^/# /'
	done
}

# ---- xprt ---------------------------------------------------------------
xprt_cases "$B" xprt

# ---- mount --------------------------------------------------------------
mount_test() {
	local port="" line i size=$((8 << 20))
	EXP=$T/export
	MNT=$T/mnt
	mkdir -p "$EXP" "$MNT" "$T/state" || return 1
	local sec=()
	# a non-loopback listener wants a key; the VM is a closed world
	"$B/server/ringfsd" --help 2>&1 | grep -q -- --insecure &&
		sec=(--insecure)
	"$B/server/ringfsd" --listen "$ip:0" --listen-rdma "$ip" "${sec[@]}" \
		--export "data=$EXP,no_root_squash" --state-dir "$T/state" \
		2>"$T/server.log" </dev/null &
	SRV_PID=$!
	# the ready line names the port (bounded wait, no fixed sleep)
	for i in $(seq 1 300); do
		line=$(grep -m1 "listening on" "$T/server.log")
		[ -n "$line" ] && break
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	port=$(printf '%s\n' "$line" |
		sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\) .*/\1/p')
	[ -n "$port" ] || { echo "no ready line from ringfsd"; return 1; }
	echo "# $line"
	case $line in *"rdma $ip"*) ;; *) echo "ready line lacks rdma"
		return 1 ;; esac
	# -f: librdmacm's device state does not survive fork() (the
	# kernel refuses the inherited rdma_cm fd with EACCES), and ringfs
	# probes the server before daemonizing; in the foreground it works.
	"$B/client/ringfs" "$ip:$port:/data" "$MNT" \
		-o transport=rdma,loops=1 -f >"$T/client.log" 2>&1 &
	CLI_PID=$!
	for i in $(seq 1 600); do
		grep -q " $MNT fuse" /proc/self/mounts && break
		kill -0 "$CLI_PID" 2>/dev/null || break
		sleep 0.1
	done
	grep -q " $MNT fuse" /proc/self/mounts || { echo "not mounted"
		cat "$T/client.log"; return 1; }
	echo "# $(grep -m1 mounted "$T/client.log")"
	head -c "$size" /dev/urandom >"$T/src" || return 1
	cp "$T/src" "$MNT/big" || { echo "write failed"; return 1; }
	cmp "$T/src" "$EXP/big" || { echo "server copy differs"; return 1; }
	# drop the page cache so the read really crosses the transport
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
	cmp "$T/src" "$MNT/big" || { echo "read back differs"; return 1; }
	mkdir "$MNT/dir" && echo hello >"$MNT/dir/small" || return 1
	[ "$(cat "$MNT/dir/small")" = hello ] || return 1
	ls -l "$MNT" "$MNT/dir" || return 1
	[ "$(ls "$MNT" | tr '\n' ' ')" = "big dir " ] || {
		echo "ls: $(ls "$MNT")"; return 1; }
	rm -r "$MNT/big" "$MNT/dir" || return 1
	[ -z "$(ls -A "$EXP")" ] || { echo "rm did not reach the server"
		return 1; }
	fusermount3 -u "$MNT" || return 1
	MNT=
	wait "$CLI_PID" || { echo "ringfs exited $? after unmount"
		cat "$T/client.log"; return 1; }
	kill -TERM "$SRV_PID" && wait "$SRV_PID" || {
		echo "ringfsd did not exit cleanly"; return 1; }
	SRV_PID=
	grep -i "error\|leak" "$T/server.log" | sed 's/^/# server: /'
	return 0
}
st=0
if [ ! -x "$B/client/ringfs" ] || ! command -v fusermount3 >/dev/null; then
	echo "# mount over rdma: not run (no client built or no fusermount3)"
elif mount_test >"$T/mount.log" 2>&1; then :; else st=$?; fi
[ -e "$T/mount.log" ] || : >"$T/mount.log"

grep "^#" "$T/mount.log"
[ -x "$B/client/ringfs" ] &&
	result "mount over rdma (8 MiB write/read/cmp, ls, rm)" "$st" \
		"$T/mount.log"
[ "$st" = 0 ] || cat "$T/server.log" | tail -n 20 | sed 's/^/    server: /'

# ---- ASan ---------------------------------------------------------------
if [ -n "$ASAN_B" ]; then
	if [ -x "$ASAN_B/tests/xprt/xprt_test" ]; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
			xprt_cases "$(cd "$ASAN_B" && pwd)" asan
	else
		echo "# RFS_ASAN_BUILD=$ASAN_B has no xprt_test: not run"
	fi
fi

echo "$pass passed, $failn failed"
[ "$failn" = 0 ]
