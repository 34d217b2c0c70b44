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
#     readpush readpull (READ replies pushed with RDMA WRITE, and not)
#   mount suite over rdma (tests/mount/CASE.sh rdma, RFS_TEST_ADDR=ip):
#     every case (see MOUNT_CASES below)
#   capture workload (tests/capture/capture.sh): ringfsctl capture on
#     both ends, decoded by tshark with contrib/wireshark/ringfs.lua
#   listenport (tests/rdma/listenport.sh): ringfsd --listen-rdma ip:PORT,
#     one shared rdma_cm listener for two concurrent mounts, a refused
#     bad token, a second ringfsd on the same ADDR:PORT refused
#   ktls-tcp, ktls-uring (tests/mount/tls.sh, RFS_TLS_KERNEL=1): the TLS
#     cases where the kernel has the tls module, checking kernel TLS
#   asan: the same xprt cases from an ASan build, if RFS_ASAN_BUILD names
#     one (built on the host beforehand)
#
# The cases that need the rdma test hooks (badtoken, readpull, evil; the
# wrong-token part of listenport) skip in a build without
# -Dtest_hooks=true.  Prints "N passed, M failed, K skipped"; exits 1 on
# any failure, 77 when there is no RDMA device at all.
set -u
export LC_ALL=C

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
B=$(cd "$1" && pwd) || exit 2
ASAN_B=${RFS_ASAN_BUILD:-}
pass=0
failn=0
skipn=0
T=$(mktemp -d /tmp/rfs-rdma.XXXXXX) || exit 1
# the mount cases switch to uid 1000/1001 below it (posix, multiuser)
chmod 0755 "$T" || exit 1

cleanup() {
	# each mount case cleans up after itself; only the scratch fs here
	if [ -n "${SCRATCH:-}" ] && grep -q " $SCRATCH " /proc/self/mounts
	then
		umount -l "$SCRATCH"
	fi
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
	elif [ "$2" = 77 ]; then
		# e.g. the test-hook cases of a build without -Dtest_hooks=true
		echo "SKIP: $1: $(grep -m1 '^SKIP' "$3")"
		skipn=$((skipn + 1))
	else
		echo "FAIL: $1 (exit $2)"
		tail -n 40 "$3" | sed 's/^/    /'
		failn=$((failn + 1))
	fi
}

xprt_cases() { # build-dir label
	local c st
	for c in pingpong large inflight peerdeath drain registry refused \
		badtoken readpush readpull evil; do
		st=0
		RFS_TEST_ADDR=$ip timeout 300 "$1/tests/xprt/xprt_test" \
			rdma rdma "$c" >"$T/$2-$c.log" 2>&1 || st=$?
		result "$2 rdma-rdma-$c" "$st" "$T/$2-$c.log"
		grep -h "frames out\|peerdeath:\|drain:" "$T/$2-$c.log" |
			sed 's/^/# /'
	done
	# pushed replies through remote-write memory regions, as on a
	# device without memory windows (a test hook: test builds only)
	st=0
	RINGFS_RDMA_TEST_NO_MW=1 RFS_TEST_ADDR=$ip timeout 300 \
		"$1/tests/xprt/xprt_test" rdma rdma readpush \
		>"$T/$2-readpush-nomw.log" 2>&1 || st=$?
	result "$2 rdma-rdma-readpush-nomw" "$st" "$T/$2-readpush-nomw.log"
}

# ---- xprt ---------------------------------------------------------------
xprt_cases "$B" xprt

# ---- mount suite ------------------------------------------------------
# tests/mount/CASE.sh over rdma: lib.sh starts ringfsd with --listen
# $ip:0 --listen-rdma $ip --insecure (export option privport=any) and
# mounts $ip:PORT:/data with -o transport=rdma (RFS_TEST_ADDR).  Under
# TCG everything runs 10-30x slower; "case:seconds" is lib.sh's hard
# timeout.
# Every case of the mount suite.  ringfsd runs requests over rdma on
# an exec thread (server/exec.c, split mode): its credential switching
# (setfsuid/setfsgid/setgroups per request) would otherwise make the
# kernel refuse the thread's verbs and rdma_cm write()s
# (ib_safe_file_access), so posix (uid 1000 permission cases) and
# multiuser are the cases that prove that split.
# NAME:TIMEOUT[:VAR=VALUE]: bigdir and workload are cut down for TCG
# (10,000 entries and /usr/include take 10+ and 20+ minutes there);
# obs (ringfsctl conns and stats) needs the ringfsctl under test.
MOUNT_CASES="posix:900 multiuser:200 errors:300 mounthelper:200
	bigfile:300 evict:500 sqlite:300 concurrent:600
	bigdir:400:RFS_BIGDIR_N=1000 workload:600:RFS_WORKLOAD_SRC=/usr/include/linux
	obs:300:RINGFSCTL=$B/client/ringfsctl"
# Known failures (run, reported as XFAIL/XPASS, not counted): none.
MOUNT_XFAIL=

mount_scratch() {
	# Debian 6.1's tmpfs has no user.* xattrs, so posix' xattr cases
	# would fail on the guest's /tmp: an ext4 scratch file system
	# instead (the VM only: natively the host's /tmp is used).
	[ -n "${VMRUN_GUEST:-}" ] || return 0
	modprobe loop 2>/dev/null
	modprobe ext4 2>/dev/null
	truncate -s 16G "$T/scratch.img" &&
		mkfs.ext4 -q -F "$T/scratch.img" &&
		mkdir "$T/scratch" &&
		mount -o loop "$T/scratch.img" "$T/scratch" || {
		echo "# ext4 scratch failed: mount cases use /tmp (tmpfs)"
		return 0; }
	SCRATCH=$T/scratch
	chmod 0755 "$SCRATCH"
}

mount_case() { # name timeout xfail [VAR=VALUE]
	local st=0 s=$SECONDS log=$T/mount-$1.log
	env ${4:+"$4"} RFS_TEST_ADDR=$ip RFS_CASE_TIMEOUT=$2 TMPDIR=${SCRATCH:-/tmp} \
		bash "$S/tests/mount/$1.sh" rdma "$B/server/ringfsd" \
		"$B/client/ringfs" "$B/tests/mount/posix_check" \
		"$B/tests/mount/mt_io" "$B/client/mount.ringfs" \
		>"$log" 2>&1 </dev/null || st=$?
	echo "# mount $1-rdma: exit $st after $((SECONDS - s)) s"
	if [ "$3" = xfail ]; then
		if [ "$st" = 0 ]; then
			echo "XPASS: mount $1-rdma (listed as a known failure)"
		else
			echo "XFAIL: mount $1-rdma (exit $st, known, not counted)"
			tail -n 15 "$log" | sed 's/^/    /'
		fi
		return
	fi
	[ "$st" = 77 ] && { echo "SKIP: mount $1-rdma: $(tail -n1 "$log")"
		return; }
	result "mount $1-rdma" "$st" "$log"
	grep -h "^not ok\|passed, .* failed" "$log" | head -n 20 |
		sed 's/^/# /'
}

capture_case() { # case timeout
	local st=0 s=$SECONDS log=$T/capture-$1.log
	env CAP_CASE="$1" RFS_TEST_ADDR=$ip RFS_CASE_TIMEOUT=$2 \
		TMPDIR=${SCRATCH:-/tmp} \
		bash "$S/tests/capture/capture.sh" rdma "$B/server/ringfsd" \
		"$B/client/ringfs" "$B/tests/mount/posix_check" \
		"$B/tests/mount/mt_io" "$B/client/mount.ringfs" \
		>"$log" 2>&1 </dev/null || st=$?
	echo "# capture $1-rdma: exit $st after $((SECONDS - s)) s"
	[ "$st" = 77 ] && { echo "SKIP: capture $1-rdma: $(tail -n1 "$log")"
		return; }
	result "capture $1-rdma" "$st" "$log"
}

S=$(cd "$(dirname "$0")/../.." && pwd)
SCRATCH=
if [ ! -x "$B/client/ringfs" ] || [ ! -x "$B/tests/mount/mt_io" ] ||
	! command -v fusermount3 >/dev/null; then
	echo "# mount suite over rdma: not run (client or mount tests not" \
		"built, or no fusermount3)"
else
	mount_scratch
	for c in $MOUNT_CASES; do
		IFS=: read -r name tmo var <<<"$c"
		mount_case "$name" "$tmo" "" "$var"
	done
	# ringfsctl capture on both ends of an rdma mount, decoded by tshark
	# and contrib/wireshark/ringfs.lua (tests/capture/capture.sh)
	capture_case workload 300
	for c in $MOUNT_XFAIL; do
		IFS=: read -r name tmo var <<<"$c"
		mount_case "$name" "$tmo" xfail "$var"
	done
	if [ -n "$SCRATCH" ]; then
		umount "$SCRATCH" || echo "# cannot unmount $SCRATCH"
		SCRATCH=
	fi
fi

# ---- kernel TLS (tests/mount/tls.sh over tcp and uring) ------------------
# Not rdma, but this VM is where a kernel with the tls module runs (the
# host's has none): the TLS cases again with RFS_TLS_KERNEL=1, which makes
# tls.sh check that both ends handed their keys to the kernel (TCP_ULP
# "tls") and that the workload still matches byte for byte.
if [ ! -x "$B/client/ringfs" ] || ! command -v fusermount3 >/dev/null ||
	! "$B/client/ringfs" --version | grep -q 'tls yes'; then
	echo "# ktls: not run (client not built, no fusermount3, or no TLS)"
elif ! modprobe tls 2>/dev/null; then
	echo "SKIP: ktls: this kernel has no tls module"
	skipn=$((skipn + 1))
else
	for t in tcp uring; do
		kt_st=0
		kt_s=$SECONDS
		RFS_TLS_KERNEL=1 RFS_TLS_QUICK=1 RFS_TLS_SETUP_TIMEOUT=30 \
			RFS_CASE_TIMEOUT=300 TMPDIR=/tmp \
			bash "$S/tests/mount/tls.sh" "$t" "$B/server/ringfsd" \
			"$B/client/ringfs" "$B/tests/mount/posix_check" \
			"$B/tests/mount/mt_io" "$B/client/mount.ringfs" \
			>"$T/ktls-$t.log" 2>&1 </dev/null || kt_st=$?
		echo "# ktls-$t: exit $kt_st after $((SECONDS - kt_s)) s"
		result "ktls-$t" "$kt_st" "$T/ktls-$t.log"
		grep -h "^# kernel TLS\|^# workload" "$T/ktls-$t.log" |
			sed 's/^/# /'
	done
fi

# ---- shared rdma listener (--listen-rdma ADDR:PORT) -----------------------
# tests/rdma/listenport.sh, with the mount cases' arguments (it sources
# tests/mount/lib.sh): one rdma_cm listener on a fixed port takes every
# rdma connection of the server.
if [ ! -x "$B/client/ringfs" ] || [ ! -x "$B/tests/mount/mt_io" ] ||
	! command -v fusermount3 >/dev/null; then
	echo "# listenport over rdma: not run (client or mount tests not" \
		"built, or no fusermount3)"
else
	lp_st=0
	lp_s=$SECONDS
	RFS_TEST_ADDR=$ip RFS_CASE_TIMEOUT=300 TMPDIR=/tmp \
		bash "$S/tests/rdma/listenport.sh" rdma "$B/server/ringfsd" \
		"$B/client/ringfs" "$B/tests/mount/posix_check" \
		"$B/tests/mount/mt_io" "$B/client/mount.ringfs" \
		>"$T/listenport.log" 2>&1 </dev/null || lp_st=$?
	echo "# listenport-rdma: exit $lp_st after $((SECONDS - lp_s)) s"
	if [ "$lp_st" = 77 ]; then
		echo "SKIP: listenport-rdma: $(tail -n1 "$T/listenport.log")"
	else
		result "listenport-rdma" "$lp_st" "$T/listenport.log"
		grep -h "^# one listener\|^# second ringfsd\|^# wrong token" \
			"$T/listenport.log" | sed 's/^/# /'
	fi
fi

# ---- ASan ---------------------------------------------------------------
if [ -n "$ASAN_B" ]; then
	if [ -x "$ASAN_B/tests/xprt/xprt_test" ]; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
			xprt_cases "$(cd "$ASAN_B" && pwd)" asan
	else
		echo "# RFS_ASAN_BUILD=$ASAN_B has no xprt_test: not run"
	fi
fi

echo "$pass passed, $failn failed, $skipn skipped"
[ "$failn" = 0 ]
