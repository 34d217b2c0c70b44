#!/bin/bash
# SPDX-License-Identifier: MIT
# server_restart: the verifier runs on a hard mount while the server is
# kill -9'd and restarted RFS_RESTARTS times (default 10) on the same port
# with the same --state-dir.  The client must re-open its files in the new
# session and carry on: no failed operation, no wrong byte.
. "$(dirname "$0")/lib_fault.sh" "$@"
RESTARTS=${RFS_RESTARTS:-10}
rfs_start_server "$EXPORT" --state-dir "$T/state"
PORT=$RFS_PORT
rfs_mount_fg "$MNT" "loops=2"
# -R: no RENAME_EXCHANGE: a rename that ran just before the crash would run
# again (the new server has no duplicate-request cache; doc/semantics.md)
fsx_start -R
restarts=0
while [ "$restarts" -lt "$RESTARTS" ]; do
	fsx_progressed "after $restarts restarts"
	kill -KILL "$RFS_SERVER_PID"
	wait "$RFS_SERVER_PID" 2>/dev/null
	rfs_start_server "$EXPORT" --state-dir "$T/state" \
		--listen 127.0.0.1:"$PORT"
	restarts=$((restarts + 1))
	kill -0 "$FSXPID" 2>/dev/null || break
done
fsx_progressed "at the end"
fsx_stop
re=$(grep -c "restarted: new session" "$T/client.log" || true)
note "faults injected: $restarts server kill -9 + restart; new sessions: $re"
[ "$FSX_ST" = 0 ] || fail "fsx failed (exit $FSX_ST) under a hard mount"
[ "$restarts" -ge "$RESTARTS" ] || fail "only $restarts restarts"
[ "${re:-0}" -gt 0 ] || fail "the client never opened a new session"
fsx_totals server_restart "$restarts"
rfs_umount "$MNT"
echo "PASS server_restart-$RFS_TRANSPORT"
