#!/bin/bash
# SPDX-License-Identifier: MIT
# enospc: the export is a small tmpfs.  Filling it through the mount must
# give the application ENOSPC, and data written (and fsync'd) before must
# stay intact.
. "$(dirname "$0")/lib_fault.sh" "$@"
mount -t tmpfs -o size=8m rfs-enospc "$EXPORT" || skip "cannot mount tmpfs"
RFS_EXTRA_CLEANUP+=("umount '$EXPORT' 2>/dev/null")
rfs_start_server "$EXPORT" --state-dir "$T/state"
rfs_mount_fg "$MNT"
head -c 3145728 /dev/urandom >"$T/a.ref"
dd if="$T/a.ref" of="$MNT/a" bs=64k conv=fsync status=none ||
	fail "writing the first 3 MiB failed"
out=$(dd if=/dev/zero of="$MNT/b" bs=64k count=1000 conv=fsync 2>&1) &&
	fail "filling the export succeeded (want ENOSPC)"
case $out in
*"No space left on device"*) note "the application saw ENOSPC" ;;
*) fail "filling the export: want ENOSPC, got: $out" ;;
esac
cmp "$T/a.ref" "$MNT/a" || fail "the first file changed through the mount"
cmp "$T/a.ref" "$EXPORT/a" || fail "the first file changed in the export"
# truncate, not rm: the server's node cache keeps an O_PATH fd of an
# unlinked file until the node is evicted, so rm frees no space at once
truncate -s 0 "$MNT/b" || fail "truncate after ENOSPC"
dd if=/dev/zero of="$MNT/c" bs=64k count=16 conv=fsync status=none ||
	fail "writing after freeing space failed"
cmp "$T/a.ref" "$MNT/a" || fail "the first file changed after the refill"
rm -f "$MNT/b" "$MNT/c" || fail "rm"
rfs_umount "$MNT"
echo "PASS enospc-$RFS_TRANSPORT"
