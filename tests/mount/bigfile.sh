#!/bin/bash
# SPDX-License-Identifier: MIT
# bigfile: a sparse file with data across the 4 GiB boundary and at 5 GiB:
# sizes and contents through the mount, in the export, and again after a
# remount (cold caches); holes read as zeros.
. "$(dirname "$0")/lib.sh" "$@"

G=$((1 << 30))
F=$MNT/big
rfs_start_server "$EXPORT"
rfs_mount "$MNT"
"$MT_IO" write "$F" $((4 * G - 100000)) 300000 7 || fail "write at 4 GiB"
"$MT_IO" write "$F" $((5 * G)) 1048577 9 || fail "write at 5 GiB"
want=$((5 * G + 1048577))
[ "$(stat -c %s "$F")" = "$want" ] || fail "size $(stat -c %s "$F") want $want"
"$MT_IO" check "$F" $((4 * G - 100000)) 300000 7 || fail "read at 4 GiB"
"$MT_IO" check "$F" $((5 * G)) 1048577 9 || fail "read at 5 GiB"
"$MT_IO" check "$F" $((4 * G + 200000)) 1000000 0 || fail "hole not zeros"
"$MT_IO" check "$F" 0 65536 0 || fail "leading hole not zeros"
[ "$(stat -c %s "$EXPORT/big")" = "$want" ] || fail "export size"
"$MT_IO" check "$EXPORT/big" $((5 * G)) 1048577 9 || fail "export content"

rfs_umount "$MNT"
rfs_mount "$MNT"
[ "$(stat -c %s "$F")" = "$want" ] || fail "size after remount"
"$MT_IO" check "$F" $((4 * G - 100000)) 300000 7 || fail "4 GiB after remount"
"$MT_IO" check "$F" $((5 * G)) 1048577 9 || fail "5 GiB after remount"
truncate -s $((6 * G)) "$F" || fail "truncate to 6 GiB"
[ "$(stat -c %s "$EXPORT/big")" = $((6 * G)) ] || fail "6 GiB not in export"
"$MT_IO" check "$F" $((6 * G - 4096)) 4096 0 || fail "tail not zeros"
rm "$F" || fail "rm"
rfs_expect_empty "$EXPORT"
rfs_umount "$MNT"
rfs_stop_server
echo "PASS bigfile-$RFS_TRANSPORT"
