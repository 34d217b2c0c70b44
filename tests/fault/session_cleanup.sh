#!/bin/bash
# SPDX-License-Identifier: MIT
# session_cleanup: a client kill -9'd with files open leaves its session
# behind; after the grace period the server frees it (files closed,
# locks dropped).  RFS_CYCLES cycles (default 20) with --session-grace 1,
# then the server's fd count must come back to its baseline and every
# session must have been freed.
. "$(dirname "$0")/lib_fault.sh" "$@"
CYCLES=${RFS_CYCLES:-20}
rfs_start_server "$EXPORT" --state-dir "$T/state" --session-grace 1
# wait_freed N: until N sessions were freed (bounded)
wait_freed() {
	local deadline=$((SECONDS + 30))
	while :; do
		freed=$(grep -c "grace period over: freed" "$RFS_SERVER_LOG" ||
			true)
		[ "${freed:-0}" -ge "$1" ] && return 0
		[ $SECONDS -lt "$deadline" ] || return 1
		sleep 0.1
	done
}
base=
for ((c = 1; c <= CYCLES; c++)); do
	rm -f "$T/progress"
	rfs_mount_fg "$MNT" "loops=2"
	# -N: no new names, so no new inodes: a killed client sends no
	# FORGET, and the server's node cache would keep their O_PATH fds
	"$FSX" "$MNT" -N -n 1000000000 -t 120 -z 65536 -p "$T/progress" \
		>"$T/fsx.out" 2>&1 &
	fpid=$!
	wait_progress "$T/progress" 64 60 || fail "cycle $c: no progress"
	kill -KILL "$RFS_CLIENT_PID"
	wait "$RFS_CLIENT_PID" 2>/dev/null
	wait "$fpid" 2>/dev/null	# fails: its file system went away
	fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"
	RFS_MOUNTS=()
	if [ -z "$base" ]; then
		# baseline after one cycle: the node cache keeps the files'
		# O_PATH fds, sessions must not add any
		wait_freed 1 || fail "the first session was never freed"
		base=$(ls /proc/"$RFS_SERVER_PID"/fd | wc -l)
	fi
done
deadline=$((SECONDS + 30))
while :; do
	now=$(ls /proc/"$RFS_SERVER_PID"/fd | wc -l)
	freed=$(grep -c "grace period over: freed" "$RFS_SERVER_LOG" || true)
	[ "$now" -le "$base" ] && [ "${freed:-0}" -ge "$CYCLES" ] && break
	[ $SECONDS -lt "$deadline" ] ||
		fail "server fds $now (baseline $base), sessions freed $freed of $CYCLES"
	sleep 0.1
done
note "faults injected: $CYCLES client kill -9; sessions freed: $freed; server fds $now (baseline $base)"
echo "PASS session_cleanup-$RFS_TRANSPORT"
