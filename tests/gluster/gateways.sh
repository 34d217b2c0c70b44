#!/bin/bash
# SPDX-License-Identifier: MIT
# gateways: two ringfsd gateways on one gluster volume (one secret, so
# handles are valid on both), a mount through each with no attribute or
# entry caching: a file written and closed through A reads the same
# through B (close-to-open), a rename and an unlink through one are seen
# through the other, a file made through A is the same node (inode,
# contents) through B, gluster's own client agrees, and a POSIX lock
# taken through A holds against B until A releases it.  The 5th argument
# is tests/fault's lockhold.
. "$(dirname "$0")/../mount/lib.sh" "$@"
LOCKHOLD=$MT_IO

[ "$RFS_BACKEND" = gluster ] || skip "run with RFS_BACKEND=gluster"
gl_two_gateways # PORT_A, PID_A, PORT_B (and RFS_PORT, RFS_SERVER_PID: B)
MNT_B=$T/mnt-b
mkdir "$MNT_B" || fail "mkdir $MNT_B"
RFS_PORT=$PORT_A rfs_mount "$MNT" attr_timeout=0,entry_timeout=0,negative_timeout=0
RFS_PORT=$PORT_B rfs_mount "$MNT_B" attr_timeout=0,entry_timeout=0,negative_timeout=0

# close-to-open: write through A, read through B
head -c 3000000 /dev/urandom >"$T/data" || fail "random data"
cp "$T/data" "$MNT/f" || fail "write through A"
cmp "$T/data" "$MNT_B/f" || fail "B reads other data than A wrote"
cmp "$T/data" "$EXPORT/f" || fail "the volume holds other data"
# rewritten in place through B, read through A
printf 'changed' | dd of="$MNT_B/f" bs=1 seek=1000 conv=notrunc status=none ||
	fail "write through B"
[ "$(dd if="$MNT/f" bs=1 skip=1000 count=7 status=none)" = changed ] ||
	fail "A does not see B's write after B's close"
# the same node through both gateways
[ "$(stat -c %i "$MNT/f")" = "$(stat -c %i "$MNT_B/f")" ] ||
	fail "inode numbers differ between the gateways"
# rename through A, seen through B
mkdir "$MNT/d" || fail "mkdir through A"
mv "$MNT/f" "$MNT/d/g" || fail "rename through A"
[ ! -e "$MNT_B/f" ] || fail "B still sees the old name"
cmp -s "$T/data" "$MNT_B/d/g" && fail "B reads the data from before its own write"
[ "$(dd if="$MNT_B/d/g" bs=1 skip=1000 count=7 status=none)" = changed ] ||
	fail "B does not see the renamed file's data"
# unlink through B, seen through A
rm "$MNT_B/d/g" || fail "unlink through B"
[ ! -e "$MNT/d/g" ] || fail "A still sees the unlinked name"
rmdir "$MNT/d" || fail "rmdir through A"
[ ! -e "$MNT_B/d" ] || fail "B still sees the removed directory"

# a POSIX lock through A, seen and honoured through B (lockhold's flock
# part works on local files: BSD locks stay per client on gluster)
: >"$MNT/lk" || fail "create lk"
: >"$T/flock-a" || fail "create $T/flock-a"
: >"$T/flock-b" || fail "create $T/flock-b"
coproc LH { "$LOCKHOLD" hold "$MNT/lk" 0 100 "$T/flock-a"; }
read -r -t 20 line <&"${LH[0]}" || fail "lockhold hold: no answer"
[ "$line" = held ] || fail "lockhold hold through A: $line"
got=$("$LOCKHOLD" check "$MNT_B/lk" 0 100 "$T/flock-b") ||
	fail "lockhold check through B"
[ "${got%% *}" = posix=held ] || fail "B does not see A's lock: $got"
got=$("$LOCKHOLD" take "$MNT_B/lk" 50 10 "$T/flock-b" </dev/null) ||
	fail "lockhold take through B"
[ "$got" = busy ] || fail "B took a range A holds: $got"
echo release >&"${LH[1]}"
read -r -t 20 line <&"${LH[0]}" || fail "lockhold release: no answer"
[ "$line" = released ] || fail "lockhold release: $line"
got=$("$LOCKHOLD" check "$MNT_B/lk" 0 100 "$T/flock-b") ||
	fail "lockhold check through B"
[ "${got%% *}" = posix=free ] || fail "A's released lock still held: $got"
echo quit >&"${LH[1]}"
wait "$LH_PID" || fail "lockhold hold exited non-zero"
rm "$MNT/lk" || fail "rm lk"

rfs_expect_empty "$EXPORT"
rfs_umount "$MNT_B"
rfs_umount "$MNT"
rfs_stop_server
rfs_stop_server "$PID_A"
echo "PASS gateways-$RFS_TRANSPORT"
