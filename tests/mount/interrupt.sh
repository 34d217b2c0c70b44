#!/bin/bash
# SPDX-License-Identifier: MIT
# interrupt: a signal ends a call the client waits on.  A process waits
# in F_SETLKW for a range another process holds through the same mount;
# a SIGALRM makes the kernel send INTERRUPT, and the client must end the
# call with EINTR (client/call.c), the holder keeping its lock.  Over the
# mount's FUSE path (the ring where the kernel has it) and again with
# fuse_ring=off (/dev/fuse).
#
# Then, with test hooks (RFS_TEST_HOOKS=1) and the ring: the client holds
# the SETLKW back (RINGFS_TEST_RING_HOLD=SETLKW) until the INTERRUPT has
# come over /dev/fuse and another request (a stat) was given to libfuse,
# so the INTERRUPT overtakes its ring request every time.  libfuse alone
# answers such an INTERRUPT EAGAIN at the next request and the kernel,
# which cannot find a ring request among /dev/fuse's, drops it: the
# waiter would hang.  The client parks it and gives it to libfuse right
# after its request (client/fuse_ring.c).
. "$(dirname "$0")/lib.sh" "$@"

command -v python3 >/dev/null || skip "python3 not installed"
rfs_start_server "$EXPORT"
: >"$EXPORT/lk" || fail "create lk"

# holder: takes bytes 0-99 of lk through the mount, says "held", keeps
# them until its stdin closes
holder() {
	python3 -c '
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 100, 0)
print("held", flush=True)
sys.stdin.read()
' "$MNT/lk"
}

# waiter: F_SETLKW on the same range, SIGALRM after 0.5 s; prints what
# ended the wait
WAITER='
import fcntl, os, signal, sys, time
class Alarm(Exception):
    pass
def alarm(sig, frame):
    raise Alarm()
signal.signal(signal.SIGALRM, alarm)
fd = os.open(sys.argv[1], os.O_RDWR)
signal.setitimer(signal.ITIMER_REAL, 0.5)
t0 = time.monotonic()
try:
    fcntl.lockf(fd, fcntl.LOCK_EX, 100, 0)
    print("granted", flush=True)
except Alarm:
    print("EINTR after %.2f s" % (time.monotonic() - t0), flush=True)
'

# one round on the mount at $MNT: $1 = what to do while the waiter waits
# ("" or "stat": stat the mount every 50 ms, bounded)
round() {
	local what=$1 out st=0 i
	coproc H { holder; }
	read -r -t 20 line <&"${H[0]}" || fail "holder: no answer"
	[ "$line" = held ] || fail "holder: $line"
	timeout -s KILL 20 python3 -c "$WAITER" "$MNT/lk" >"$T/waiter.out" 2>&1 &
	local wp=$!
	if [ "$what" = stat ]; then
		for ((i = 0; i < 400; i++)); do
			kill -0 "$wp" 2>/dev/null || break
			stat "$MNT" >/dev/null || fail "stat $MNT"
			sleep 0.05
		done
	fi
	wait "$wp" || st=$?
	out=$(cat "$T/waiter.out")
	[ "$st" != 137 ] ||
		fail "the signal did not end the wait for the lock within 20 s (the INTERRUPT was lost)"
	[ "$st" = 0 ] || fail "waiter exited $st: $out"
	case $out in
	"EINTR after "*) ;;
	*) fail "waiter: '$out', want EINTR" ;;
	esac
	# the holder still holds: a non-blocking try fails
	python3 -c '
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 100, 0)
except OSError:
    sys.exit(0)
sys.exit(1)
' "$MNT/lk" || fail "the range was free after the interrupted wait"
	exec {H[1]}>&-
	wait "$H_PID" 2>/dev/null
	note "$RFS_TRANSPORT ${2:-}: $out"
}

ring=no
[ "$(cat /sys/module/fuse/parameters/enable_uring 2>/dev/null)" = Y ] && ring=yes

rfs_mount_log "$T/c1.log"
round "" "default FUSE path (ring: $ring)"
rfs_umount_log "$T/c1.log"

rfs_mount_log "$T/c2.log" fuse_ring=off
round "" "fuse_ring=off"
rfs_umount_log "$T/c2.log"

if [ "${RFS_TEST_HOOKS:-0}" = 1 ] && [ "$ring" = yes ]; then
	export RINGFS_TEST_RING_HOLD=SETLKW
	rfs_mount_log "$T/c3.log" loops=1,attr_timeout=0
	unset RINGFS_TEST_RING_HOLD
	grep -q "FUSE over io_uring: [0-9]* queues" "$T/c3.log" ||
		fail "the mount did not take the FUSE ring: $(cat "$T/c3.log")"
	round stat "the INTERRUPT before its ring request"
	grep -q "test hook: SETLKW [0-9]* dispatched after an INTERRUPT and another request" \
		"$T/c3.log" ||
		fail "the hook did not hold the SETLKW past the INTERRUPT: $(cat "$T/c3.log")"
	rfs_umount_log "$T/c3.log"
else
	note "the overtaking INTERRUPT is not forced: needs test hooks (RFS_TEST_HOOKS=1) and the FUSE ring"
fi
echo "PASS interrupt-$RFS_TRANSPORT"
