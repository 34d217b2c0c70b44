# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# lib.sh: the shell test library.  Sourced by each shell suite's own
# library (tests/mount/lib.sh, and through it tests/fault/lib_fault.sh;
# tests/ctl/lib.sh) and by scripts that start a ringfsd (netns.sh, the
# benchmark scripts):
#
#   RFS_TAG=name    # the case in SKIP/FAIL lines (default: the script)
#   . "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
#
# Gives:
#   skip, fail, note        exit 77 with the reason; exit 1 after the
#                           logs in $T; a comment line
#   rfs_abspath PATH        meson passes paths relative to the build dir
#   rfs_under_timeout SECS KILL_AFTER SCRIPT ARGS...
#                           a hard timeout on the whole script
#   rfs_tmpdir NAME         a fresh $T (0755) and the cleanup trap: it
#                           runs RFS_CLEANUP_HOOKS (functions; mount:
#                           unmount), stops RFS_PIDS (TERM, wait), runs
#                           RFS_EXTRA_CLEANUP (commands), removes $T
#                           (never across a mount still there)
#   rfs_ready_line FIFO GLOB LOG [SECS]
#                           the first line matching GLOB, read from FIFO
#                           with a bounded read (no sleeps); the rest is
#                           drained into LOG
#   rfs_ready_port LINE     the port of ringfsd's ready line (the one
#                           shell parser of it; tlib's t_ready_parse is
#                           the C one)
#   rfs_ringfsd_start NAME ARGS...   a real ringfsd on a port of its
#                           choosing; RFS_SERVER_PID, RFS_PORT,
#                           RFS_SERVER_LOG
#   rfs_ringfsd_stop [PID]  SIGTERM must give a clean exit 0

set -u
umask 022
export LC_ALL=C

RFS_TAG=${RFS_TAG:-$(basename "$0" .sh)}
T=${T:-}
RFS_PIDS=()
RFS_CLEANUP_HOOKS=()
RFS_EXTRA_CLEANUP=()
RFS_LOG_EXTRA=()

skip() { echo "SKIP ($RFS_TAG): $*"; exit 77; }
fail() {
	echo "FAIL ($RFS_TAG): $*" >&2
	rfs_dump_logs
	exit 1
}
note() { echo "# $*"; }

# the tail of every log in $T (and of RFS_LOG_EXTRA), on stderr
rfs_dump_logs() {
	local f
	[ -n "$T" ] || return 0
	for f in "$T"/*.log "${RFS_LOG_EXTRA[@]}"; do
		[ -s "$f" ] || continue
		echo "---- $(basename "$f") (last 40 lines) ----" >&2
		tail -n 40 "$f" >&2
	done
}

rfs_abspath() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$PWD/$1" ;;
	esac
}

# rfs_under_timeout SECS KILL_AFTER "$0" "$@": re-run the calling script
# under timeout(1), once.  timeout signals the whole process group, the
# trap then cleans up; KILL follows if the cleanup itself hangs.
rfs_under_timeout() {
	local secs=$1 kill_after=$2
	shift 2
	[ -z "${RFS_UNDER_TIMEOUT:-}" ] || return 0
	export RFS_UNDER_TIMEOUT=1
	exec timeout --kill-after="$kill_after" "$secs" bash "$@"
}

# Is $1 a mount point right now?  Reads mountinfo only: never touches the
# (possibly hung) file system itself.
rfs_is_mounted() {
	awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' \
		/proc/self/mountinfo
}

rfs_cleanup() {
	local rc=$? pid cmd
	trap - EXIT INT TERM HUP
	for cmd in "${RFS_CLEANUP_HOOKS[@]}"; do
		"$cmd" || rc=1
	done
	for pid in "${RFS_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	for cmd in "${RFS_EXTRA_CLEANUP[@]}"; do
		eval "$cmd"
	done
	if [ -n "$T" ]; then
		# Never rm -rf across a mount that is still there.
		if awk -v t="$T/" 'index($5, t) == 1 { f = 1 } END { exit !f }' \
			/proc/self/mountinfo; then
			echo "# cleanup: a mount under $T remains; leaving $T" >&2
			rc=1
		else
			rm -rf "$T"
		fi
	fi
	exit "$rc"
}

# rfs_tmpdir NAME: $T, and the trap that cleans up after the case
rfs_tmpdir() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/ringfs-$1.XXXXXX") || exit 1
	chmod 0755 "$T"
	trap rfs_cleanup EXIT
	trap 'echo "# $RFS_TAG: interrupted or timed out" >&2; exit 124' \
		INT TERM HUP
}

# rfs_ready_line FIFO GLOB LOG [SECS]: read lines from FIFO (SECS, default
# 20, at most) into LOG until one matches the glob GLOB; sets READY_LINE.
# The rest of the FIFO is then drained into LOG by a cat of its own (it
# ends when the writer does).
rfs_ready_line() {
	local fifo=$1 pat=$2 log=$3 fd line deadline left
	READY_LINE=
	exec {fd}<"$fifo"
	deadline=$((SECONDS + ${4:-20}))
	while :; do
		left=$((deadline - SECONDS))
		[ "$left" -gt 0 ] || break
		IFS= read -r -t "$left" -u "$fd" line || break
		printf '%s\n' "$line" >>"$log"
		# shellcheck disable=SC2053
		if [[ $line == $pat ]]; then
			cat <&"$fd" >>"$log" &
			exec {fd}<&-
			READY_LINE=$line
			return 0
		fi
	done
	exec {fd}<&-
	return 1
}

# ringfsd's ready line: "ringfsd: listening on HOST:PORT[ and unix:PATH]
# (transport ...), exports: ..."
RFS_READY_GLOB='*ringfsd: listening on * (transport *'
rfs_ready_port() {
	printf '%s\n' "$1" |
		sed -n 's/.*ringfsd: listening on [^ ]*:\([0-9][0-9]*\) .*/\1/p'
}

# rfs_ringfsd_start NAME [ringfsd args...]: "$RINGFSD" ARGS, its stderr
# through $T/NAME.fifo until the ready line (20 s at most), then into
# $T/NAME.log.  Sets RFS_SERVER_PID, RFS_PORT and RFS_SERVER_LOG; the
# cleanup trap stops it.
rfs_ringfsd_start() {
	local name=$1 fifo
	shift
	fifo=$T/$name.fifo
	RFS_SERVER_LOG=$T/$name.log
	mkfifo "$fifo" || fail "mkfifo $fifo"
	"$RINGFSD" "$@" 2>"$fifo" </dev/null &
	RFS_SERVER_PID=$!
	RFS_PIDS+=("$RFS_SERVER_PID")
	rfs_ready_line "$fifo" "$RFS_READY_GLOB" "$RFS_SERVER_LOG" ||
		fail "ringfsd did not print its ready line within 20 s"
	RFS_PORT=$(rfs_ready_port "$READY_LINE")
	case $RFS_PORT in
	'' | 0) fail "no port in the ready line: $READY_LINE" ;;
	esac
}

# rfs_ringfsd_stop [PID]: SIGTERM must give a clean exit 0.
rfs_ringfsd_stop() {
	local pid=${1:-$RFS_SERVER_PID} st=0 i
	kill -TERM "$pid" || fail "ringfsd $pid already gone"
	wait "$pid" || st=$?
	for i in "${!RFS_PIDS[@]}"; do
		[ "${RFS_PIDS[i]}" = "$pid" ] && unset 'RFS_PIDS[i]'
	done
	[ "$st" = 0 ] || fail "ringfsd exited $st on SIGTERM (want 0)"
}
