# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# lib.sh: sourced by tests/ctl/ctl_test.sh; the shared parts (timeout,
# $T, cleanup trap, ready line, server start/stop) are tests/lib/lib.sh.
#
# Gives the case: a hard timeout on the whole script (timeout(1)), a
# fresh temp dir $T with an export, real ringfsd servers started on port
# 0 (ctl_start_server), test peers that are no ringfsd (ctl_peer),
# ringfsctl runs under their own timeout with stdout, stderr, exit status
# and duration recorded (run_ctl, expect_*), and the cleanup trap.
# Exit 77 = skip (with the reason printed).

CTL_CASE=${1:-}
# shellcheck disable=SC2034 # the lib's SKIP/FAIL lines name the case
RFS_TAG="ctl/$CTL_CASE"
# shellcheck source=tests/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"

if [ $# -lt 3 ]; then
	echo "usage: $0 CASE RINGFSD RINGFSCTL" >&2
	exit 2
fi
RINGFSD=$(rfs_abspath "$2")
RINGFSCTL=$(rfs_abspath "$3")

# The hard timeout on the whole script
rfs_under_timeout "${CTL_CASE_TIMEOUT:-100}" 10 "$0" "$@"

[ "$(id -u)" = 0 ] || skip "needs root (ringfsd serves an export as root, as in CI)"
for exe in "$RINGFSD" "$RINGFSCTL"; do
	[ -x "$exe" ] || skip "$exe not built"
done
command -v python3 >/dev/null || skip "python3 not installed (JSON checks, test peers)"

rfs_tmpdir "ctl-$CTL_CASE"
EXPORT=$T/export
mkdir -m 0755 "$EXPORT" "$T/state"
RFS_LOG_EXTRA+=("$T/out" "$T/err")
CTL_NFIFO=0

# ctl_start_server [ringfsd args...]: a real ringfsd on 127.0.0.1, port
# 0, exporting $EXPORT as "data", with a Unix socket at $T/ringfsd.sock.
# Sets SRV_PORT and SRV_PID.
ctl_start_server() {
	CTL_NFIFO=$((CTL_NFIFO + 1))
	rfs_ringfsd_start "server$CTL_NFIFO" --listen 127.0.0.1:0 \
		--listen-unix "$T/ringfsd.sock" --export "data=$EXPORT" \
		--state-dir "$T/state" "$@"
	SRV_PID=$RFS_SERVER_PID
	SRV_PORT=$RFS_PORT
	note "ringfsd pid $SRV_PID on port $SRV_PORT"
}

# ctl_stop_server: SIGTERM must give a clean exit 0.
ctl_stop_server() {
	rfs_ringfsd_stop "$SRV_PID"
}

# ctl_peer MODE: a TCP peer on 127.0.0.1 that is no ringfsd.
#   bound   a socket bound to a port but not listening: connecting is
#           refused, and nobody else can take the port meanwhile
#   silent  listening, never accepting nor answering: the kernel
#           completes the handshake, then nothing
# Sets PEER_PORT.
ctl_peer() {
	local fifo
	CTL_NFIFO=$((CTL_NFIFO + 1))
	fifo=$T/peer$CTL_NFIFO.fifo
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
	RFS_PIDS+=("$!")
	rfs_ready_line "$fifo" 'port *' "$T/peer$CTL_NFIFO.log" ||
		fail "test peer did not start"
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
