# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# lib.sh: sourced by every mount case script.
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

set -u
umask 022
export LC_ALL=C

RFS_CASE=$(basename "$0" .sh)

skip() { echo "SKIP ($RFS_CASE): $*"; exit 77; }
fail() {
	echo "FAIL ($RFS_CASE/${RFS_TRANSPORT:-?}): $*" >&2
	rfs_dump_logs
	exit 1
}
note() { echo "# $*"; }

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
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
RINGFSD=$(abspath "$RINGFSD")
RINGFS=$(abspath "$RINGFS")
POSIX_CHECK=$(abspath "$POSIX_CHECK")
MT_IO=$(abspath "$MT_IO")
MOUNT_HELPER=$(abspath "$MOUNT_HELPER")

# The hard timeout: re-run this very script under timeout(1).  timeout
# signals the whole process group, our trap then cleans up; KILL follows
# if cleanup itself hangs.
if [ -z "${RFS_UNDER_TIMEOUT:-}" ]; then
	export RFS_UNDER_TIMEOUT=1
	exec timeout --kill-after=30 "${RFS_CASE_TIMEOUT:-300}" \
		bash "$0" "$@"
fi

[ "$(id -u)" = 0 ] || skip "needs root (FUSE mounts, uid switching)"
[ -c /dev/fuse ] || skip "/dev/fuse missing"
command -v fusermount3 >/dev/null || skip "fusermount3 not installed"
for exe in "$RINGFSD" "$RINGFS"; do
	[ -x "$exe" ] || skip "$exe not built"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/ringfs-mt-$RFS_CASE-$RFS_TRANSPORT.XXXXXX") ||
	exit 1
chmod 0755 "$T"
EXPORT=$T/export
REF=$T/ref
MNT=$T/mnt
mkdir -m 0755 "$EXPORT" "$REF" "$MNT"

RFS_MOUNTS=()
RFS_SERVERS=()
RFS_EXTRA_CLEANUP=()
RFS_PORT=
RFS_SERVER_PID=

rfs_dump_logs() {
	local f
	for f in "$T"/server*.log "$T"/client*.log; do
		[ -s "$f" ] || continue
		echo "---- $(basename "$f") (last 40 lines) ----" >&2
		tail -n 40 "$f" >&2
	done
}

# Is $1 a mount point right now?  Reads mountinfo only: never touches the
# (possibly hung) file system itself.
rfs_is_mounted() {
	awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' \
		/proc/self/mountinfo
}

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

rfs_cleanup() {
	local rc=$? m pid i
	trap - EXIT INT TERM HUP
	for ((i = ${#RFS_MOUNTS[@]} - 1; i >= 0; i--)); do
		rfs_unmount "${RFS_MOUNTS[i]}" || rc=1
	done
	for pid in "${RFS_SERVERS[@]}"; do
		kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	for cmd in "${RFS_EXTRA_CLEANUP[@]}"; do
		eval "$cmd"
	done
	# Never rm -rf across a mount that is still there.
	if awk -v t="$T/" 'index($5, t) == 1 { f = 1 } END { exit !f }' \
		/proc/self/mountinfo; then
		echo "# cleanup: a mount under $T remains; leaving $T" >&2
		rc=1
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap rfs_cleanup EXIT
trap 'echo "# $RFS_CASE: interrupted or timed out" >&2; exit 124' \
	INT TERM HUP

# rfs_start_server EXPORT_DIR [extra ringfsd args...]
# Sets RFS_PORT and RFS_SERVER_PID.  The ready line is read from a FIFO
# with a bounded read; afterwards a cat keeps draining stderr into a log.
RFS_NSERVERS=0
rfs_start_server() {
	local dir=$1 fifo log line fd deadline left
	shift
	RFS_NSERVERS=$((RFS_NSERVERS + 1))
	fifo=$T/server$RFS_NSERVERS.fifo
	log=$T/server$RFS_NSERVERS.log
	RFS_SERVER_LOG=$log
	mkfifo "$fifo" || fail "mkfifo"
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
	# a non-loopback listener wants a key; tests run in a closed world
	case $RFS_ADDR in 127.*) ;; *) extra+=(--insecure) ;; esac
	# RFS_SERVER_EXTRA: more ringfsd options for every server of the
	# case (meson's *-exec tests: --exec-thread)
	# shellcheck disable=SC2206
	[ -n "${RFS_SERVER_EXTRA:-}" ] && extra+=($RFS_SERVER_EXTRA)
	"$RINGFSD" --listen "$RFS_ADDR:0" --export "data=$dir,no_root_squash" \
		${stream:+--transport "$stream"} "${extra[@]}" "$@" \
		2>"$fifo" </dev/null &
	RFS_SERVER_PID=$!
	RFS_SERVERS+=("$RFS_SERVER_PID")
	exec {fd}<"$fifo"
	RFS_PORT=
	deadline=$((SECONDS + 20))
	while :; do
		left=$((deadline - SECONDS))
		[ "$left" -gt 0 ] || break
		IFS= read -r -t "$left" -u "$fd" line || break
		printf '%s\n' "$line" >>"$log"
		case $line in
		*"ringfsd: listening on "*)
			RFS_PORT=$(printf '%s\n' "$line" |
				sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\) .*/\1/p')
			break
			;;
		esac
	done
	if [ -z "$RFS_PORT" ] || [ "$RFS_PORT" = 0 ]; then
		exec {fd}<&-
		fail "ringfsd did not print its ready line within 20 s"
	fi
	cat <&"$fd" >>"$log" &
	exec {fd}<&-
	note "ringfsd pid $RFS_SERVER_PID on port $RFS_PORT ($RFS_TRANSPORT)"
}

# rfs_stop_server: SIGTERM must give a clean exit 0.
rfs_stop_server() {
	local pid=${1:-$RFS_SERVER_PID} st=0 i
	kill -TERM "$pid" || fail "server $pid already gone"
	wait "$pid" || st=$?
	for i in "${!RFS_SERVERS[@]}"; do
		[ "${RFS_SERVERS[i]}" = "$pid" ] && unset 'RFS_SERVERS[i]'
	done
	[ "$st" = 0 ] || fail "ringfsd exited $st on SIGTERM (want 0)"
}

# rfs_mount MOUNTPOINT [extra -o options]: mount the export with ringfs.
rfs_mount() {
	local m=$1 opts="transport=$RFS_TRANSPORT${2:+,$2}" st=0
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

# The export must be empty (cleanup through the mount reached the server).
rfs_expect_empty() {
	local left
	left=$(find "$1" -mindepth 1 | head -n 5)
	[ -z "$left" ] || fail "$1 not empty: $left"
}
