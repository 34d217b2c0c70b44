#!/bin/bash
# SPDX-License-Identifier: MIT
# mounthelper: mount -t ringfs / umount through mount.ringfs.  mount(8)
# looks for /sbin/mount.ringfs; we place a temporary symlink to the built
# helper there (removed by the cleanup trap) or skip if one already exists.
. "$(dirname "$0")/lib.sh" "$@"

[ -x "$MOUNT_HELPER" ] || skip "mount.ringfs not built ($MOUNT_HELPER)"
LINK=/sbin/mount.ringfs
if [ -e "$LINK" ] || [ -L "$LINK" ]; then
	skip "$LINK already exists; not replacing it"
fi
ln -s "$(realpath "$MOUNT_HELPER")" "$LINK" ||
	skip "cannot create $LINK"
RFS_EXTRA_CLEANUP+=("[ \"\$(readlink $LINK)\" = \"$(realpath "$MOUNT_HELPER")\" ] && rm -f $LINK")

rfs_start_server "$EXPORT"
RFS_MOUNTS+=("$MNT")
timeout 60 mount -t ringfs "$RFS_ADDR:$RFS_PORT:/data" "$MNT" \
	-o "transport=$RFS_TRANSPORT" >"$T/client.log" 2>&1 ||
	fail "mount -t ringfs failed"
rfs_is_mounted "$MNT" || fail "mount -t ringfs returned 0, nothing mounted"
echo via-helper >"$MNT/f" || fail "write"
[ "$(cat "$EXPORT/f")" = via-helper ] || fail "data not in export"
timeout 60 umount "$MNT" || fail "umount"
! rfs_is_mounted "$MNT" || fail "still mounted after umount"

# Options as /etc/fstab would pass them (mount adds rw etc.).
timeout 60 mount -t ringfs "$RFS_ADDR:$RFS_PORT:/data" "$MNT" \
	-o "rw,nosuid,nodev,_netdev,transport=$RFS_TRANSPORT" \
	>>"$T/client.log" 2>&1 || fail "mount with fstab-style options"
[ "$(cat "$MNT/f")" = via-helper ] || fail "read back"
timeout 60 umount "$MNT" || fail "umount 2"
rfs_stop_server
echo "PASS mounthelper-$RFS_TRANSPORT"
