# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# lib.sh: sourced by every mount case script (and, through
# tests/fault/lib_fault.sh, the fault cases); the shared parts (timeout,
# $T, cleanup trap, ready line, server start/stop) are tests/lib/lib.sh.
#
#   . "$(dirname "$0")/lib.sh" "$@"
#
# Arguments (from tests/mount/meson.build):
#   TRANSPORT RINGFSD RINGFS POSIX_CHECK MT_IO MOUNT_HELPER
#
# Gives each case: a hard timeout on the whole script (timeout(1), seconds
# in RFS_CASE_TIMEOUT), a fresh temp dir $T (0755) with $EXPORT, $REF and
# $MNT, a server started on port 0 whose port is read from its ready line
# (through a FIFO with a bounded read, no sleeps), mounts, and one cleanup
# trap that always unmounts, stops the server and removes $T.
# Exit 77 = skip (with the reason printed).

RFS_CASE=$(basename "$0" .sh)
# shellcheck disable=SC2034 # the lib's SKIP/FAIL lines name the case
RFS_TAG="$RFS_CASE/${1:-?}"
# shellcheck source=tests/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"

if [ $# -lt 6 ]; then
	echo "usage: $0 TRANSPORT RINGFSD RINGFS POSIX_CHECK MT_IO MOUNT_HELPER" >&2
	exit 2
fi
RFS_TRANSPORT=$1
RINGFSD=$2
RINGFS=$3
POSIX_CHECK=$4
MT_IO=$5
MOUNT_HELPER=$6
# The address the server listens on and the client mounts from: loopback
# unless RFS_TEST_ADDR names another (rdma needs an address on an RDMA
# netdev, e.g. $VMRUN_IP in tests/rdma/run-in-vm.sh).
RFS_ADDR=${RFS_TEST_ADDR:-127.0.0.1}
# meson passes paths relative to the build directory: make them absolute
# so that cases may cd.
RINGFSD=$(rfs_abspath "$RINGFSD")
RINGFS=$(rfs_abspath "$RINGFS")
POSIX_CHECK=$(rfs_abspath "$POSIX_CHECK")
MT_IO=$(rfs_abspath "$MT_IO")
MOUNT_HELPER=$(rfs_abspath "$MOUNT_HELPER")

# The hard timeout on the whole script
rfs_under_timeout "${RFS_CASE_TIMEOUT:-300}" 30 "$0" "$@"

[ "$(id -u)" = 0 ] || skip "needs root (FUSE mounts, uid switching)"
[ -c /dev/fuse ] || skip "/dev/fuse missing"
command -v fusermount3 >/dev/null || skip "fusermount3 not installed"
for exe in "$RINGFSD" "$RINGFS"; do
	[ -x "$exe" ] || skip "$exe not built"
done

rfs_tmpdir "mt-$RFS_CASE-$RFS_TRANSPORT"
EXPORT=$T/export
REF=$T/ref
MNT=$T/mnt
mkdir -m 0755 "$EXPORT" "$REF" "$MNT"

RFS_MOUNTS=()
RFS_PORT=
RFS_SERVER_PID=

# RFS_TLS=1 (meson's *-tls cases): the case runs over TLS.  Every server
# gets a key (TLS accepted with a PSK derived from it) and --tls=required,
# so a clear connection would be refused; every mount gets
# -o tls,key_file.  RFS_TLS_KEY: that key.
RFS_TLS_KEY=
if [ "${RFS_TLS:-0}" = 1 ]; then
	case $RFS_TRANSPORT in tcp | uring) ;; *)
		skip "TLS is for the byte streams (tcp, uring)" ;;
	esac
	"$RINGFS" --version | grep -q 'tls yes' || skip "built without TLS"
	RFS_TLS_KEY=$T/tls.key
	(umask 077 && head -c 32 /dev/urandom >"$RFS_TLS_KEY") ||
		fail "cannot write $RFS_TLS_KEY"
fi

rfs_fstype() {
	awk -v m="$1" '$5 == m { for (i = 7; i <= NF; i++)
		if ($i == "-") { print $(i + 1); exit } }' /proc/self/mountinfo
}

# Unmount one FUSE mount; escalate if the plain unmount fails.
rfs_unmount() {
	local m=$1 pid
	rfs_is_mounted "$m" || return 0
	fusermount3 -u "$m" 2>/dev/null && return 0
	umount "$m" 2>/dev/null && return 0
	echo "# cleanup: $m busy or hung, detaching it" >&2
	# The daemon we started for this mount point (matched by its own
	# command line): killing it aborts the FUSE connection.
	for pid in $(pgrep -f -- " $m( |\$)"); do
		kill -KILL "$pid" 2>/dev/null
	done
	fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	! rfs_is_mounted "$m"
}

# the cleanup trap unmounts first, newest mount first
rfs_unmount_all() {
	local i rc=0
	for ((i = ${#RFS_MOUNTS[@]} - 1; i >= 0; i--)); do
		rfs_unmount "${RFS_MOUNTS[i]}" || rc=1
	done
	return "$rc"
}
RFS_CLEANUP_HOOKS+=(rfs_unmount_all)

# rfs_start_server EXPORT_DIR [extra ringfsd args...]
# Sets RFS_PORT, RFS_SERVER_PID and RFS_SERVER_LOG (the lib's
# rfs_ringfsd_start: ready line through a FIFO, no sleeps).
RFS_NSERVERS=0
rfs_start_server() {
	local dir=$1
	shift
	RFS_NSERVERS=$((RFS_NSERVERS + 1))
	local stream=$RFS_TRANSPORT extra=()
	# shm is reached through the server's Unix socket; its TCP
	# listener then runs the default stream transport
	if [ "$RFS_TRANSPORT" = shm ]; then
		stream=uring
		extra=(--listen-unix "$T/ringfsd.sock")
	fi
	# rdma: setup goes through the TCP listener (default stream
	# transport), each connection then moves to its own rdma_cm port
	if [ "$RFS_TRANSPORT" = rdma ]; then
		stream=
		extra=(--listen-rdma "$RFS_ADDR")
	fi
	# a non-loopback listener wants a key; tests run in a closed world,
	# where the (root) client's privileged source port may stand for
	# root from another address too (ringfsd(8), TRUST)
	local eopt=
	case $RFS_ADDR in 127.*) ;; *)
		extra+=(--insecure)
		eopt=,privport=any
		;;
	esac
	# RFS_SERVER_EXTRA: more ringfsd options for every server of the
	# case (meson's *-exec tests: --exec-thread)
	# shellcheck disable=SC2206
	[ -n "${RFS_SERVER_EXTRA:-}" ] && extra+=($RFS_SERVER_EXTRA)
	# the gluster backend serves the volume behind $EXPORT
	[ "$RFS_BACKEND" = gluster ] && [ "$dir" = "$EXPORT" ] && dir=$GL_URL
	[ -n "$RFS_TLS_KEY" ] && extra+=(--key-file "$RFS_TLS_KEY" --tls=required)
	rfs_ringfsd_start "server$RFS_NSERVERS" --listen "$RFS_ADDR:0" \
		--export "data=$dir,no_root_squash$eopt" \
		${stream:+--transport "$stream"} "${extra[@]}" "$@"
	note "ringfsd pid $RFS_SERVER_PID on port $RFS_PORT ($RFS_TRANSPORT)"
}

# rfs_stop_server [PID]: SIGTERM must give a clean exit 0.
rfs_stop_server() {
	rfs_ringfsd_stop "$@"
}

# rfs_mount MOUNTPOINT [extra -o options]: mount the export with ringfs.
# RFS_MOUNT_EXTRA: options every mount of the case gets (a variant's).
rfs_mount() {
	local m=$1 opts="transport=$RFS_TRANSPORT${2:+,$2}" st=0
	opts+=${RFS_MOUNT_EXTRA:+,$RFS_MOUNT_EXTRA}
	[ -n "$RFS_TLS_KEY" ] && opts+=",tls,key_file=$RFS_TLS_KEY"
	RFS_MOUNTS+=("$m")
	local src="$RFS_ADDR:$RFS_PORT:/data"
	[ "$RFS_TRANSPORT" = shm ] && src="unix:$T/ringfsd.sock:/data"
	timeout 60 "$RINGFS" "$src" "$m" -o "$opts" \
		>>"$T/client.log" 2>&1 </dev/null || st=$?
	[ "$st" = 0 ] || fail "ringfs $m -o $opts exited $st"
	rfs_is_mounted "$m" || fail "ringfs returned 0 but $m is not mounted"
	case $(rfs_fstype "$m") in
	fuse*) ;;
	*) fail "$m has type $(rfs_fstype "$m"), want fuse*" ;;
	esac
	note "mounted $m ($opts)"
}

rfs_umount() {
	local m=$1
	fusermount3 -u "$m" || fail "fusermount3 -u $m failed"
	! rfs_is_mounted "$m" || fail "$m still mounted after fusermount3 -u"
}

# rfs_mount_log LOG [opts]: ringfs -f on $MNT in the background, its log
# in LOG; back when it says it is mounted (RFS_FG_PID: the client)
rfs_mount_log() {
	local log=$1 fifo="$T/fg.fifo" src="$RFS_ADDR:$RFS_PORT:/data"
	local opts="transport=$RFS_TRANSPORT${2:+,$2}"
	opts+=${RFS_MOUNT_EXTRA:+,$RFS_MOUNT_EXTRA}
	[ "$RFS_TRANSPORT" = shm ] && src="unix:$T/ringfsd.sock:/data"
	rm -f "$fifo"
	mkfifo "$fifo" || fail "mkfifo"
	"$RINGFS" "$src" "$MNT" -f -o "$opts" 2>"$fifo" </dev/null &
	RFS_FG_PID=$!
	RFS_MOUNTS+=("$MNT")
	rfs_ready_line "$fifo" "*mounted on*" "$log" 30
	RFS_FG_DRAIN=$! # the cat that drains the rest of the log
	[ -n "$READY_LINE" ] || fail "ringfs -f -o $opts did not mount: $(cat "$log")"
	rfs_is_mounted "$MNT" || fail "$MNT not mounted after: $READY_LINE"
}

# rfs_umount_log LOG: unmount $MNT; the client of rfs_mount_log exits 0,
# its log complete in LOG
rfs_umount_log() {
	local log=$1 st=0
	rfs_umount "$MNT"
	wait "$RFS_FG_PID" || st=$?
	[ "$st" = 0 ] || fail "ringfs -f exited $st: $(cat "$log")"
	# the log's drain ends with the writer
	wait "$RFS_FG_DRAIN"
}

# The export must be empty (cleanup through the mount reached the server).
rfs_expect_empty() {
	local left
	left=$(find "$1" -mindepth 1 | head -n 5)
	[ -z "$left" ] || fail "$1 not empty: $left"
}

# RFS_BACKEND=gluster (tests/gluster/meson.build): the export is a private
# GlusterFS volume (tests/gluster/lib_gluster.sh) served through
# ringfsd's gluster backend, and $EXPORT is the same volume through
# gluster's own FUSE client, so every check "in the export" looks at the
# volume.  Registered after rfs_unmount_all: the ringfs mounts go first.
RFS_BACKEND=${RFS_BACKEND:-vfs}
if [ "$RFS_BACKEND" = gluster ]; then
	# shellcheck source=tests/gluster/lib_gluster.sh
	. "$(dirname "${BASH_SOURCE[0]}")/../gluster/lib_gluster.sh"
	gl_start
	gl_fuse_mount "$EXPORT"
fi
