# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# lib_fault.sh: the mount suite's lib.sh (hard timeout, cleanup, server
# start) plus helpers for fault injection.  Arguments from meson.build:
#   TRANSPORT RINGFSD RINGFS FSX STATS_TOOL MOUNT_HELPER
. "$(dirname "$0")/../mount/lib.sh" "$@"
FSX=$POSIX_CHECK

# wait_progress FILE MIN SECONDS: until FILE holds a number >= MIN
# (bounded; polls the condition, never sleeps blindly).
wait_progress() {
	local f=$1 min=$2 deadline=$((SECONDS + $3)) v
	while [ $SECONDS -lt "$deadline" ]; do
		v=$(cat "$f" 2>/dev/null || echo 0)
		[ "${v:-0}" -ge "$min" ] && return 0
		sleep 0.05
	done
	return 1
}

# progress FILE: the number in FILE (0 if none yet)
progress() { cat "$1" 2>/dev/null || echo 0; }

# The client in the foreground (its log is ours), mounted at $1.
rfs_mount_fg() {
	local m=$1 opts="transport=$RFS_TRANSPORT${2:+,$2}" i
	[ -n "$RFS_TLS_KEY" ] && opts+=",tls,key_file=$RFS_TLS_KEY"
	RFS_MOUNTS+=("$m")
	"$RINGFS" "127.0.0.1:$RFS_PORT:/data" "$m" -f -o "$opts" \
		>>"$T/client.log" 2>&1 </dev/null &
	RFS_CLIENT_PID=$!
	for ((i = 0; i < 400; i++)); do
		rfs_is_mounted "$m" && break
		kill -0 "$RFS_CLIENT_PID" 2>/dev/null ||
			fail "ringfs exited before mounting"
		sleep 0.05
	done
	rfs_is_mounted "$m" || fail "$m not mounted within 20 s"
	note "mounted $m ($opts), client pid $RFS_CLIENT_PID"
}

# fsx_start [fsx options]: the verifier on $MNT in the background (FSXPID;
# killed by the cleanup trap), counting its operations in $T/progress and
# stopping when $T/stop appears.
fsx_start() {
	"$FSX" "$MNT" -n 1000000000 -t 600 -z 262144 -s "$RANDOM" "$@" \
		-p "$T/progress" -S "$T/stop" >"$T/fsx.out" 2>&1 &
	FSXPID=$!
	RFS_EXTRA_CLEANUP+=("kill $FSXPID 2>/dev/null")
}

# fsx_progressed WHEN: the verifier did 64 more operations within 60 s
fsx_progressed() {
	local p
	p=$(progress "$T/progress")
	wait_progress "$T/progress" $((p + 64)) 60 ||
		fail "no progress $1 (at $p ops)"
}

# fsx_going WHEN: as fsx_progressed, but 1 (no failure) as soon as the
# verifier has ended: for a case whose verifier may stop on the error it
# exists to catch
fsx_going() {
	local p deadline=$((SECONDS + 60))
	p=$(progress "$T/progress")
	while [ "$(progress "$T/progress")" -lt $((p + 64)) ]; do
		alive "$FSXPID" || return 1
		[ $SECONDS -lt "$deadline" ] || fail "no progress $1 (at $p ops)"
		sleep 0.05
	done
	return 0
}

# fsx_stop: ask the verifier to stop, print its output; FSX_ST is its exit
# status.
# shellcheck disable=SC2034 # FSX_ST: for the case scripts
fsx_stop() {
	touch "$T/stop"
	FSX_ST=0
	wait "$FSXPID" || FSX_ST=$?
	cat "$T/fsx.out"
}

# fsx_totals NAME FAULTS: the line CI collects
fsx_totals() {
	echo "TOTALS $1-$RFS_TRANSPORT: faults $2, $(grep '^fsx: ops' "$T/fsx.out" | sed 's/^fsx: //')"
}

# alive PID: running (a zombie is not)
alive() {
	local st
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ]
}

# wait_dead PID SECS: until PID (a server being killed) died (bounded;
# polls); 2: the verifier (FSXPID) ended first (it failed: its output
# says why)
wait_dead() {
	local deadline=$((SECONDS + $2))
	while alive "$1"; do
		alive "$FSXPID" || return 2
		[ $SECONDS -lt "$deadline" ] || return 1
		sleep 0.05
	done
	wait "$1" 2>/dev/null
	return 0
}

# died_at PID LOG WHO SPEC: the server PID (a ringfsd started with
# RINGFSD_TEST_KILL=SPEC, logging to LOG) died within 120 s, and by its
# hook at SPEC; 2: the verifier (FSXPID) ended first
died_at() {
	local st=0
	wait_dead "$1" 120 || st=$?
	[ "$st" = 2 ] && return 2
	[ "$st" = 0 ] || fail "$3 did not die at $4 within 120 s"
	grep -q "RINGFSD_TEST_KILL=$4: killing" "$2" ||
		fail "$3 died, but not at $4"
}
