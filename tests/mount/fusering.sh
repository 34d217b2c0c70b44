#!/bin/bash
# SPDX-License-Identifier: MIT
# fusering: FUSE over io_uring end to end.  Where the kernel offers it
# (Linux >= 6.14, /sys/module/fuse/parameters/enable_uring=Y), a mount
# negotiates it and the kernel's requests (lookups, O_DIRECT reads and
# writes, a listing) are served through the loops' rings: the client's
# own count of ring requests must cover them, and the data must be right.
# Then -o fuse_ring=off on the same kernel: everything through /dev/fuse,
# with no ring request at all.  The client runs in the foreground so its
# log (ring setup, per-loop counts at exit) is the test's to read.
. "$(dirname "$0")/lib.sh" "$@"
# the reads and writes must cross the daemons: not the kernel's passthrough
RFS_MOUNT_EXTRA=passthrough=off

P=/sys/module/fuse/parameters/enable_uring
[ -e "$P" ] || skip "this kernel has no FUSE over io_uring (Linux >= 6.14)"
[ "$(cat "$P")" = Y ] ||
	skip "$P is N (tests/run-all sets it to Y when run as root)"
command -v dd >/dev/null || skip "dd missing"

CTL=$(dirname "$RINGFS")/ringfsctl
[ -x "$CTL" ] || skip "ringfsctl not built next to $RINGFS"
N=300
head -c $((N * 4096)) /dev/urandom >"$EXPORT/f" || fail "test data"
rfs_start_server "$EXPORT"

work() {
	local got
	got=$(dd if="$MNT/f" bs=4096 count=$N iflag=direct 2>/dev/null |
		md5sum | cut -d' ' -f1)
	[ "$got" = "$(md5sum <"$EXPORT/f" | cut -d' ' -f1)" ] ||
		fail "O_DIRECT read of $N blocks through $MNT: wrong data"
	dd if="$EXPORT/f" of="$MNT/g" bs=4096 count=64 oflag=direct \
		2>/dev/null || fail "O_DIRECT write through $MNT"
	cmp -n $((64 * 4096)) "$EXPORT/f" "$EXPORT/g" ||
		fail "written data differs in the export"
	ls -l "$MNT" >/dev/null || fail "ls -l $MNT"
	rm "$MNT/g" || fail "rm through $MNT"
}

# ringfsctl mounts: MNT's row must name the FUSE path and transport
ctl_says() {
	local want=$1 row
	row=$("$CTL" mounts | awk -v m="$MNT" '$1 == m')
	[ -n "$row" ] || fail "ringfsctl mounts does not list $MNT: $("$CTL" mounts)"
	# shellcheck disable=SC2086 # the row is words
	set -- $row
	[ "$3" = "$RFS_TRANSPORT" ] ||
		fail "ringfsctl mounts: transport $3, want $RFS_TRANSPORT ($row)"
	[ "$4" = "$want" ] || fail "ringfsctl mounts: FUSE path $4, want $want ($row)"
}

# ring requests counted by the client's loops at exit
ring_count() {
	awk '/requests through the FUSE ring/ {
		for (i = 1; i <= NF; i++) if ($i == "requests") s += $(i - 1)
	} END { print s + 0 }' "$1"
}

log1="$T/ring.log"
rfs_mount_log "$log1"
work
ctl_says io_uring
rfs_umount_log "$log1"
grep -q "FUSE over io_uring: [0-9]* queues" "$log1" ||
	fail "the mount did not take the FUSE ring: $(cat "$log1")"
grep -q "FUSE path: io_uring" "$log1" ||
	fail "the loops did not report the io_uring path: $(cat "$log1")"
n=$(ring_count "$log1")
[ "$n" -ge "$N" ] ||
	fail "only $n requests came through the ring, want >= $N reads"
note "$n requests through the FUSE ring"

log2="$T/dev.log"
rfs_mount_log "$log2" fuse_ring=off
work
ctl_says /dev/fuse
rfs_umount_log "$log2"
! grep -q "FUSE over io_uring: [0-9]* queues" "$log2" ||
	fail "fuse_ring=off still set up the ring: $(cat "$log2")"
n=$(ring_count "$log2")
[ "$n" = 0 ] || fail "fuse_ring=off: $n requests through the ring"
! "$CTL" mounts | awk -v m="$MNT" '$1 == m { f = 1 } END { exit !f }' ||
	fail "ringfsctl mounts still lists $MNT after the unmount"
rfs_stop_server
echo "PASS fusering-$RFS_TRANSPORT"
