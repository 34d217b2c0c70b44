#!/bin/bash
# SPDX-License-Identifier: MIT
# failover: two ringfsd gateways on one gluster volume (one secret: a
# handle from A is valid on B), one client given both
# (127.0.0.1:A,127.0.0.1:B:/data).  The fsx verifier (data: pwrite,
# pread, truncate, fallocate, appends, fsync; no renames or new names:
# -R -N) runs on the mount; gateway A is killed (-9) mid-run and stays
# dead.  The client must fail over to B, open a new session there,
# re-open every open file and carry on: fsx ends with no failed call and
# no wrong byte.  Prints "FAILOVER: ops N verified, lost 0".
. "$(dirname "$0")/../fault/lib_fault.sh" "$@"

[ "$RFS_BACKEND" = gluster ] || skip "run with RFS_BACKEND=gluster"
gl_two_gateways # PORT_A, PID_A, PORT_B (and RFS_PORT, RFS_SERVER_PID: B)

RFS_MOUNTS+=("$MNT")
"$RINGFS" "127.0.0.1:$PORT_A,127.0.0.1:$PORT_B:/data" "$MNT" -f \
	-o "transport=$RFS_TRANSPORT,loops=2" >>"$T/client.log" 2>&1 </dev/null &
RFS_CLIENT_PID=$!
for ((i = 0; i < 400; i++)); do
	rfs_is_mounted "$MNT" && break
	kill -0 "$RFS_CLIENT_PID" 2>/dev/null || fail "ringfs exited before mounting"
	sleep 0.05
done
rfs_is_mounted "$MNT" || fail "$MNT not mounted within 20 s"

fsx_start -R -N -f 4
fsx_progressed "before the failover"
kill -KILL "$PID_A"
wait "$PID_A" 2>/dev/null
note "gateway A (port $PORT_A) killed"
fsx_progressed "after gateway A died"
fsx_progressed "on gateway B"
fsx_stop
[ "$FSX_ST" = 0 ] || fail "fsx failed (exit $FSX_ST) across the failover"
grep -q "failing over to 127.0.0.1:$PORT_B" "$T/client.log" ||
	fail "the client did not say it failed over to B"
grep -q "mismatches 0, failed 0" "$T/fsx.out" || fail "fsx reported errors"
ops=$(sed -n 's/^fsx: ops \([0-9]*\),.*/\1/p' "$T/fsx.out")
echo "FAILOVER: ops $ops verified, lost 0"
rfs_umount "$MNT"
echo "PASS failover-$RFS_TRANSPORT"
