#!/bin/bash
# SPDX-License-Identifier: MIT
# harden: -o swap / -o harden (client/harden.c).  Where the process may do
# every step (CAP_SYS_RESOURCE, CAP_IPC_LOCK: the VM, a real root), the
# mount's daemon has its memory locked, oom_score_adj -1000 and serves
# direct I/O; where it may not (a container without CAP_SYS_RESOURCE),
# the mount fails with the step and the fix named, and nothing is
# mounted.  swap refuses soft either way.
. "$(dirname "$0")/lib.sh" "$@"

rfs_start_server "$EXPORT"
src="$RFS_ADDR:$RFS_PORT:/data"
[ "$RFS_TRANSPORT" = shm ] && src="unix:$T/ringfsd.sock:/data"

# swap and soft conflict: refused before anything happens
st=0
out=$("$RINGFS" "$src" "$MNT" -o "transport=$RFS_TRANSPORT,swap,soft" 2>&1) ||
	st=$?
[ "$st" = 1 ] || fail "-o swap,soft exited $st, want 1"
case $out in *"swap and soft conflict"*) ;; *)
	fail "-o swap,soft: '$out'" ;;
esac
! rfs_is_mounted "$MNT" || fail "-o swap,soft mounted"

cap_eff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
# CAP_SYS_RESOURCE is bit 24
if (((0x$cap_eff >> 24) & 1)); then
	rfs_mount "$MNT" swap
	pid=$(pgrep -n -x ringfs) || fail "no ringfs process"
	lck=$(awk '/^VmLck:/ { print $2 }' "/proc/$pid/status")
	[ "${lck:-0}" -gt 0 ] || fail "ringfs -o swap: VmLck ${lck:-?} kB"
	adj=$(cat "/proc/$pid/oom_score_adj")
	[ "$adj" = -1000 ] || fail "ringfs -o swap: oom_score_adj $adj"
	note "ringfs -o swap: VmLck $lck kB, oom_score_adj $adj"
	dd if=/dev/urandom of="$T/ref" bs=64k count=64 status=none ||
		fail "make reference data"
	dd if="$T/ref" of="$MNT/f" bs=64k oflag=direct status=none ||
		fail "O_DIRECT write through the hardened mount"
	cmp "$T/ref" "$EXPORT/f" || fail "data differs in the export"
	rfs_umount "$MNT"
else
	st=0
	out=$("$RINGFS" "$src" "$MNT" -o "transport=$RFS_TRANSPORT,swap" 2>&1) ||
		st=$?
	[ "$st" = 1 ] || fail "-o swap without CAP_SYS_RESOURCE exited $st"
	case $out in *"PR_SET_IO_FLUSHER"*"CAP_SYS_RESOURCE"*"oom_score_adj"*) ;;
	*) fail "-o swap without CAP_SYS_RESOURCE said '$out'" ;;
	esac
	! rfs_is_mounted "$MNT" || fail "-o swap mounted although refused"
	note "no CAP_SYS_RESOURCE: -o swap refused with the reason (checked)"
fi
echo "PASS harden-$RFS_TRANSPORT"
