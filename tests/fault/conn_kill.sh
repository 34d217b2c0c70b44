#!/bin/bash
# SPDX-License-Identifier: MIT
# conn_kill: the verifier runs on a hard mount while every client
# connection is killed (ss -K) RFS_KILLS times (default 100), each time
# after the verifier made progress.  No operation may fail, no byte may be
# wrong; the client must log its reconnects.
. "$(dirname "$0")/lib_fault.sh" "$@"
command -v ss >/dev/null || skip "ss (iproute2) missing"
KILLS=${RFS_KILLS:-100}
rfs_start_server "$EXPORT" --state-dir "$T/state" --session-grace 60
rfs_mount_fg "$MNT" "loops=2"
# does this kernel destroy sockets (CONFIG_INET_DIAG_DESTROY)?
before=$(ss -Htn state established dst 127.0.0.1 dport = :"$RFS_PORT" | wc -l)
[ "$before" -gt 0 ] || fail "no client connection found"

fsx_start
kills=0
while [ "$kills" -lt "$KILLS" ]; do
	fsx_progressed "after $kills kills"
	n=$(ss -K -Htn dst 127.0.0.1 dport = :"$RFS_PORT" 2>/dev/null |
		grep -c ESTAB)
	[ "$n" -gt 0 ] && kills=$((kills + 1))
	kill -0 "$FSXPID" 2>/dev/null || break
done
fsx_stop
reco=$(grep -c "reconnected to" "$T/client.log" || true)
note "faults injected: $kills connection kills; reconnects logged: $reco"
[ "$FSX_ST" = 0 ] || fail "fsx failed (exit $FSX_ST) under a hard mount"
[ "$kills" -ge "$KILLS" ] || fail "only $kills of $KILLS kills injected"
[ "${reco:-0}" -gt 0 ] || fail "the client logged no reconnect"
grep -q "mismatches 0, failed 0" "$T/fsx.out" || fail "fsx reported errors"
fsx_totals conn_kill "$kills"
rfs_umount "$MNT"
echo "PASS conn_kill-$RFS_TRANSPORT"
