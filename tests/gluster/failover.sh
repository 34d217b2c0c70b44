#!/bin/bash
# SPDX-License-Identifier: MIT
# failover: two ringfsd gateways on one gluster volume, exporting its
# directory /data, with one handle secret (a handle from A is valid on
# B) and their reply logs in one shared directory, /replies of the same
# volume through gluster's FUSE client (ringfsd --reply-log-dir: never
# visible through the export).  One client is given both
# (127.0.0.1:A,127.0.0.1:B:/data).  The fsx verifier runs on the mount
# with its non-idempotent operations: appends through O_APPEND, hard
# links made, moved (rename) and removed, directories made and removed,
# files created O_EXCL (not RENAME_EXCHANGE: gluster has none, -X).  The
# gateway the client uses is killed (-9) RFS_FAILOVERS times (default 4)
# mid-run and started again on its port, so the client fails over back
# and forth: each time it opens a new session on the other gateway,
# RESUMEs the old one from the shared log, re-opens its files and
# replays.  An operation that ran twice fails (EEXIST, ENOENT) or leaves
# a wrong size, one that was lost leaves a name missing: fsx must end
# with no failed call, no wrong byte and the namespace as its model says.
#
# With test hooks (meson -Dtest_hooks=true: RFS_TEST_HOOKS=1) as many
# more failovers follow in which the gateway the client moves to kills
# itself (SIGKILL) in the middle of one of those operations
# (RINGFSD_TEST_KILL): after logging what it will change, after the
# change, after logging the reply; the other gateway must answer the
# replay from the shared log (or find that it ran) instead of running
# it again.  Each takeover is first held back by ringfsd's takeover
# fence (--takeover-fence: the dead gateway's operations still in flight
# to the bricks land before the replays are judged).
#
# RFS_SHARED_LOG=0: the same with a reply log per gateway (the old
# setup), expecting the verifier to fail: the case that shows the
# assertion can fail (registered with test hooks, whose mid-operation
# kills make a request that ran get replayed on the other gateway).
#
# Prints "FAILOVER: ops N verified, lost 0, duplicated 0".
. "$(dirname "$0")/../fault/lib_fault.sh" "$@"

[ "$RFS_BACKEND" = gluster ] || skip "run with RFS_BACKEND=gluster"
FAILOVERS=${RFS_FAILOVERS:-4}
SHARED=${RFS_SHARED_LOG:-1}
if [ "$SHARED" = 0 ] && [ "${RFS_NOSHARED_CASE:-0}" != 1 ]; then
	skip "the case without the shared log shows a duplicate, in a form (an error, a data mismatch) and at a point that vary from run to run: run it with RFS_NOSHARED_CASE=1"
fi
if [ "$SHARED" = 0 ] && [ "${RFS_TEST_HOOKS:-0}" != 1 ]; then
	skip "RFS_SHARED_LOG=0 needs test hooks (meson -Dtest_hooks=true)"
fi

# the volume through gluster's FUSE client ($EXPORT): the export's
# directory and the shared reply-log directory beside it
mkdir "$EXPORT/data" || fail "mkdir $EXPORT/data"
mkdir -m 0700 "$EXPORT/replies" || fail "mkdir $EXPORT/replies"
gl_gateway_states

# what the shared directory must do (ringfsd(8) --reply-log-dir): an
# OFD lock through gluster's FUSE client conflicts with another open's,
# and goes with the file's close (the kernel sends no unlock for it:
# gluster drops the locks of a released file)
if [ "$SHARED" = 1 ]; then
	python3 - "$EXPORT/replies/probe" <<-'EOF' || fail "OFD locks on the glusterfs mount do not behave as the shared reply log needs"
		import errno, fcntl, os, struct, sys
		def lock(fd):
		    fl = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
		    try:
		        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, fl)
		        return True
		    except OSError as e:
		        if e.errno in (errno.EAGAIN, errno.EACCES):
		            return False
		        raise
		a = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
		b = os.open(sys.argv[1], os.O_RDWR)
		assert lock(a), "first lock refused"
		assert not lock(b), "second open's lock granted while the first holds it"
		os.close(a)
		# the release reaches gluster after close returns: bounded poll
		import time
		for i in range(200):
		    if lock(b):
		        break
		    time.sleep(0.05)
		else:
		    raise AssertionError("lock not released 10 s after the holder's close")
		os.close(b)
		os.unlink(sys.argv[1])
	EOF
fi

declare -A PORT PID LOG_OF
# gateway G PORT [KILLSPEC]: start gateway G (a or b), on PORT ("": a
# free one), dying at KILLSPEC (RINGFSD_TEST_KILL) if given
gateway() {
	local g=$1 port=$2 shared=()
	[ "$SHARED" = 1 ] && shared=(--reply-log-dir "$EXPORT/replies")
	[ -n "${3:-}" ] && export RINGFSD_TEST_KILL=$3
	rfs_start_server "$GL_URL/data" --state-dir "$T/state-$g" \
		"${shared[@]}" ${port:+--listen "127.0.0.1:$port"}
	unset RINGFSD_TEST_KILL
	PORT[$g]=$RFS_PORT
	PID[$g]=$RFS_SERVER_PID
	LOG_OF[$g]=$RFS_SERVER_LOG
}
gateway a ""
gateway b ""

RFS_MOUNTS+=("$MNT")
"$RINGFS" "127.0.0.1:${PORT[a]},127.0.0.1:${PORT[b]}:/data" "$MNT" -f \
	-o "transport=$RFS_TRANSPORT,loops=2,attr_timeout=0,entry_timeout=0,negative_timeout=0" \
	>>"$T/client.log" 2>&1 </dev/null &
RFS_CLIENT_PID=$!
for ((i = 0; i < 400; i++)); do
	rfs_is_mounted "$MNT" && break
	kill -0 "$RFS_CLIENT_PID" 2>/dev/null || fail "ringfs exited before mounting"
	sleep 0.05
done
rfs_is_mounted "$MNT" || fail "$MNT not mounted within 20 s"

other() { [ "$1" = a ] && echo b || echo a; }

failovers() { grep -c "failing over to" "$T/client.log" || true; }

# wait_failover N SECS: until the client said it failed over N times
# (bounded; polls); 2: the verifier ended first
wait_failover() {
	local deadline=$((SECONDS + $2))
	while [ "$(failovers)" -lt "$1" ]; do
		alive "$FSXPID" || return 2
		[ $SECONDS -lt "$deadline" ] || return 1
		sleep 0.05
	done
	return 0
}

fsx_start -X -f 4
cur=a # the client mounts through the first gateway
kills=0
while [ "$kills" -lt "$FAILOVERS" ]; do
	fsx_progressed "after $kills failovers"
	fo=$(failovers)
	kill -KILL "${PID[$cur]}"
	wait "${PID[$cur]}" 2>/dev/null
	note "gateway $cur (port ${PORT[$cur]}) killed"
	kills=$((kills + 1))
	st=0
	wait_failover $((fo + 1)) 60 || st=$?
	[ "$st" = 2 ] && break
	[ "$st" = 0 ] || fail "the client did not fail over within 60 s"
	# back on its port for the failover after the next
	gateway "$cur" "${PORT[$cur]}"
	cur=$(other "$cur")
done

midrun=0
if [ "${RFS_TEST_HOOKS:-0}" = 1 ] && alive "$FSXPID"; then
	specs=(mkdir:result link:result rename:result create:reply
		unlink:result write:result rmdir:intent create:result)
	for spec in "${specs[@]}"; do
		# the verifier ended (without the shared log: the duplicate
		# it exists to catch; with it, FSX_ST fails the case below)
		fsx_going "before the failover to a gateway dying at $spec" ||
			break
		# the other gateway again, dying at spec; then this one dies
		nxt=$(other "$cur")
		kill -TERM "${PID[$nxt]}"
		wait "${PID[$nxt]}" 2>/dev/null
		gateway "$nxt" "${PORT[$nxt]}" "$spec"
		kill -KILL "${PID[$cur]}"
		wait "${PID[$cur]}" 2>/dev/null
		died_at "${PID[$nxt]}" "${LOG_OF[$nxt]}" "gateway $nxt" "$spec" ||
			break
		midrun=$((midrun + 1))
		# the client goes back to cur, which answers the replay
		gateway "$cur" "${PORT[$cur]}"
		gateway "$nxt" "${PORT[$nxt]}"
	done
fi
alive "$FSXPID" && fsx_progressed "at the end"
fsx_stop
fo=$(failovers)
nokept=$(grep -c "no replies of the old session kept" "$T/client.log" ||
	true)
# takeovers the fence held back (ringfsd --takeover-fence: the dead
# gateway's operations in flight to the bricks land first)
fenced=$(cat "$T"/server*.log 2>/dev/null | grep -c "less than --takeover-fence" ||
	true)
note "faults: $kills gateways killed under the client, $midrun killed" \
	"mid-operation; failovers: $fo, new sessions without the old" \
	"one's replies: $nokept; takeovers held back by the fence: $fenced"
if [ "$SHARED" = 0 ]; then
	# a reply log per gateway: a request that ran on the dead gateway
	# runs again on the other one
	[ "$FSX_ST" != 0 ] ||
		fail "fsx passed without the shared reply log: the case cannot fail"
	grep -q "fsx: op .*\(File exists\|No such file\|bytes, want\|ran twice\)\|mismatches [1-9]" \
		"$T/fsx.out" ||
		fail "fsx failed, but not because an operation ran twice"
	rfs_umount "$MNT"
	echo "PASS failover-noshared-$RFS_TRANSPORT (ran twice without the shared log, as expected)"
	exit 0
fi
[ "$FSX_ST" = 0 ] || fail "fsx failed (exit $FSX_ST) across the failovers"
[ "$kills" -ge "$FAILOVERS" ] || fail "only $kills failovers"
[ "${fo:-0}" -ge "$FAILOVERS" ] ||
	fail "the client failed over $fo times (want $FAILOVERS)"
[ "${nokept:-0}" = 0 ] ||
	fail "a new session did not get the old one's replies"
[ "${fenced:-0}" -ge 1 ] ||
	fail "no takeover was held back by --takeover-fence (want one per failover)"
grep -q "mismatches 0, failed 0, appends [1-9]" "$T/fsx.out" ||
	fail "fsx reported errors, or made no appends"
grep -q "namespace ops [1-9]" "$T/fsx.out" || fail "fsx changed no names"
ops=$(sed -n 's/^fsx: ops \([0-9]*\),.*/\1/p' "$T/fsx.out")
nsops=$(sed -n 's/.*namespace ops \([0-9]*\).*/\1/p' "$T/fsx.out")
fsx_totals failover "$((kills + midrun))"
echo "FAILOVER: ops $ops verified ($nsops namespace ops), $((kills + midrun)) gateway kills, lost 0, duplicated 0"
rfs_umount "$MNT"
echo "PASS failover-$RFS_TRANSPORT"
