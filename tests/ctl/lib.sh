# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# lib.sh: sourced by tests/ctl/ctl_test.sh.
#
# Gives the case: a hard timeout on the whole script (timeout(1)), a
# fresh temp dir $T with an export, real ringfsd servers started on port
# 0 whose port is read from their ready line through a FIFO with a
# bounded read (no sleeps), ringfsctl runs under their own timeout with
# stdout, stderr, exit status and duration recorded, and one cleanup
# trap that stops every process it started and removes $T.
# Exit 77 = skip (with the reason printed).

set -u
umask 022
export LC_ALL=C

CTL_CASE=${1:-}
skip() { echo "SKIP (ctl/$CTL_CASE): $*"; exit 77; }
note() { echo "# $*"; }
fail() {
	echo "FAIL (ctl/$CTL_CASE): $*" >&2
	ctl_dump_logs
	exit 1
}

if [ $# -lt 3 ]; then
	echo "usage: $0 CASE RINGFSD RINGFSCTL" >&2
	exit 2
fi
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
RINGFSD=$(abspath "$2")
RINGFSCTL=$(abspath "$3")

# The hard timeout: re-run this very script under timeout(1); our trap
# cleans up when it fires, KILL follows if cleanup itself hangs.
if [ -z "${CTL_UNDER_TIMEOUT:-}" ]; then
	export CTL_UNDER_TIMEOUT=1
	exec timeout --kill-after=10 "${CTL_CASE_TIMEOUT:-100}" \
		bash "$0" "$@"
fi

[ "$(id -u)" = 0 ] || skip "needs root (ringfsd serves an export as root, as in CI)"
for exe in "$RINGFSD" "$RINGFSCTL"; do
	[ -x "$exe" ] || skip "$exe not built"
done
command -v python3 >/dev/null || skip "python3 not installed (JSON checks, test peers)"

T=$(mktemp -d "${TMPDIR:-/tmp}/ringfs-ctl-$CTL_CASE.XXXXXX") || exit 1
chmod 0755 "$T"
EXPORT=$T/export
mkdir -m 0755 "$EXPORT" "$T/state"
CTL_PIDS=()
CTL_NFIFO=0

ctl_dump_logs() {
	local f
	for f in "$T"/*.log "$T"/out "$T"/err; do
		[ -s "$f" ] || continue
		echo "---- $(basename "$f") (last 30 lines) ----" >&2
		tail -n 30 "$f" >&2
	done
}

ctl_cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM HUP
	for pid in "${CTL_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	rm -rf "$T"
	exit "$rc"
}
trap ctl_cleanup EXIT
trap 'echo "# ctl/$CTL_CASE: interrupted or timed out" >&2; exit 124' \
	INT TERM HUP

# ctl_ready_line FIFO PATTERN: read lines from FIFO (20 s at most) until
# one matches the glob PATTERN; sets READY_LINE.  The rest of the FIFO is
# then drained into $T/fifoN.log by a cat of its own (it ends when the
# writer does).
ctl_ready_line() {
	local fifo=$1 pat=$2 fd line deadline left log
	CTL_NFIFO=$((CTL_NFIFO + 1))
	log=$T/fifo$CTL_NFIFO.log
	READY_LINE=
	exec {fd}<"$fifo"
	deadline=$((SECONDS + 20))
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

# ctl_start_server [ringfsd args...]: a real ringfsd on 127.0.0.1, port
# 0, exporting $EXPORT as "data", with a Unix socket at $T/ringfsd.sock.
# Sets SRV_PORT and SRV_PID.
ctl_start_server() {
	local fifo line
	fifo=$T/server$((CTL_NFIFO + 1)).fifo
	mkfifo "$fifo" || fail "mkfifo"
	"$RINGFSD" --listen 127.0.0.1:0 --listen-unix "$T/ringfsd.sock" \
		--export "data=$EXPORT" --state-dir "$T/state" "$@" \
		2>"$fifo" </dev/null &
	SRV_PID=$!
	CTL_PIDS+=("$SRV_PID")
	ctl_ready_line "$fifo" '*ringfsd: listening on *' ||
		fail "ringfsd did not print its ready line within 20 s"
	line=$READY_LINE
	SRV_PORT=$(printf '%s\n' "$line" |
		sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\) .*/\1/p')
	case $SRV_PORT in
	'' | 0) fail "no port in ready line: $line" ;;
	esac
	note "ringfsd pid $SRV_PID on port $SRV_PORT"
}

# ctl_stop_server: SIGTERM must give a clean exit 0.
ctl_stop_server() {
	local st=0
	kill -TERM "$SRV_PID" || fail "ringfsd $SRV_PID already gone"
	wait "$SRV_PID" || st=$?
	[ "$st" = 0 ] || fail "ringfsd exited $st on SIGTERM (want 0)"
}

# ctl_peer MODE: a TCP peer on 127.0.0.1 that is no ringfsd.
#   bound   a socket bound to a port but not listening: connecting is
#           refused, and nobody else can take the port meanwhile
#   silent  listening, never accepting nor answering: the kernel
#           completes the handshake, then nothing
# Sets PEER_PORT.
ctl_peer() {
	local fifo=$T/peer$((CTL_NFIFO + 1)).fifo
	mkfifo "$fifo" || fail "mkfifo"
	python3 -c '
import signal, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
if sys.argv[1] == "silent":
    s.listen(16)
print("port %d" % s.getsockname()[1], flush=True)
sys.stdout.close()
signal.pause()
' "$1" >"$fifo" </dev/null &
	CTL_PIDS+=("$!")
	ctl_ready_line "$fifo" 'port *' || fail "test peer did not start"
	# shellcheck disable=SC2034 # used by the case scripts
	PEER_PORT=${READY_LINE#port }
}

# run_ctl ARGS...: ringfsctl ARGS under a 30 s timeout; sets RC and MS
# (wall time in ms), leaves stdout in $T/out and stderr in $T/err.
run_ctl() {
	local t0 t1
	t0=$(date +%s%N)
	RC=0
	timeout 30 "$RINGFSCTL" "$@" >"$T/out" 2>"$T/err" </dev/null || RC=$?
	t1=$(date +%s%N)
	MS=$(((t1 - t0) / 1000000))
	printf '$ ringfsctl %s  -> exit %s in %s ms\n' "$*" "$RC" "$MS"
	sed 's/^/  | /' "$T/out" "$T/err"
	[ "$RC" != 124 ] || fail "ringfsctl $* hung (killed after 30 s)"
}

expect_rc() {
	[ "$RC" = "$1" ] || fail "exit status $RC, want $1"
}
expect_nonzero() {
	[ "$RC" != 0 ] || fail "exit status 0, want a failure"
}
# expect_in out|err REGEX [what]
expect_in() {
	grep -Eq -- "$2" "$T/$1" || fail "${3:-output} lacks /$2/ (in std$1)"
}
expect_fast() {
	[ "$MS" -le "$1" ] || fail "took $MS ms, want at most $1 ms"
}
