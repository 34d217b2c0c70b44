#!/bin/bash
# SPDX-License-Identifier: MIT
# server_restart: the verifier runs on a hard mount while the server is
# kill -9'd and restarted RFS_RESTARTS times (default 10) on the same port
# with the same --state-dir.  The verifier (fsx) writes, reads, appends
# through O_APPEND, swaps names (RENAME_EXCHANGE), makes, moves and
# removes hard links, makes and removes directories, creates files
# O_EXCL, and compares the whole namespace with its model.  The client
# must open a new session, RESUME the old one (the server kept the
# replies of those operations) and carry on: no operation may fail (one
# that ran twice fails: EEXIST, ENOENT), no byte may be wrong (an append
# that ran twice or not at all shows), no name may be missing or extra.
#
# With test hooks built (meson -Dtest_hooks=true: RFS_TEST_HOOKS=1), as
# many more restarts follow in which the server kills itself (SIGKILL) in
# the middle of one of those operations (RINGFSD_TEST_KILL): right after
# logging what it will change, right after the change, right after
# logging the reply.
. "$(dirname "$0")/lib_fault.sh" "$@"
RESTARTS=${RFS_RESTARTS:-10}
rfs_start_server "$EXPORT" --state-dir "$T/state"
PORT=$RFS_PORT
rfs_mount_fg "$MNT" "loops=2"

restart() {
	rfs_start_server "$EXPORT" --state-dir "$T/state" \
		--listen 127.0.0.1:"$PORT"
}

fsx_start
restarts=0
while [ "$restarts" -lt "$RESTARTS" ]; do
	fsx_progressed "after $restarts restarts"
	kill -KILL "$RFS_SERVER_PID"
	wait "$RFS_SERVER_PID" 2>/dev/null
	restart
	restarts=$((restarts + 1))
	kill -0 "$FSXPID" 2>/dev/null || break
done

midrun=0
if [ "${RFS_TEST_HOOKS:-0}" = 1 ]; then
	specs=(link:result mkdir:intent rename:result write:result
		create:reply unlink:result rmdir:result write:intent
		link:intent create:result)
	fsx_progressed "after $restarts restarts"
	kill -KILL "$RFS_SERVER_PID"
	wait "$RFS_SERVER_PID" 2>/dev/null
	for spec in "${specs[@]}"; do
		RINGFSD_TEST_KILL=$spec restart
		died_at "$RFS_SERVER_PID" "$RFS_SERVER_LOG" "the server" \
			"$spec" || break
		midrun=$((midrun + 1))
	done
	alive "$RFS_SERVER_PID" || restart
fi
alive "$FSXPID" && fsx_progressed "at the end"
fsx_stop
re=$(grep -c "restarted: new session" "$T/client.log" || true)
kept=$(grep -c "replies of the old session kept" "$T/client.log" || true)
nokept=$(grep -c "no replies of the old session kept" "$T/client.log" ||
	true)
note "faults injected: $restarts server kill -9 + restart, $midrun kills" \
	"mid-operation; new sessions: $re, RESUMEd: $((kept - nokept))"
[ "$FSX_ST" = 0 ] || fail "fsx failed (exit $FSX_ST) under a hard mount"
[ "$restarts" -ge "$RESTARTS" ] || fail "only $restarts restarts"
[ "${re:-0}" -gt 0 ] || fail "the client never opened a new session"
[ "${nokept:-0}" = 0 ] || fail "a new session did not get the old one's replies"
grep -q "mismatches 0, failed 0, appends [1-9]" "$T/fsx.out" ||
	fail "fsx reported errors, or made no appends"
grep -q "namespace ops [1-9]" "$T/fsx.out" ||
	fail "fsx changed no names"
fsx_totals server_restart "$((restarts + midrun))"
rfs_umount "$MNT"
echo "PASS server_restart-$RFS_TRANSPORT"
