#!/bin/bash
# SPDX-License-Identifier: MIT
# posix: posix_check compares every operation on the mount against the same
# operation in a local reference directory ($REF, a sibling of the export
# on the same file system), then removes its tree through the mount and
# checks that the export is empty.  allow_other: the permission cases run
# as uid 1000, some with supplementary groups (posix_cred.c).
. "$(dirname "$0")/lib.sh" "$@"

rfs_start_server "$EXPORT"
rfs_mount "$MNT" allow_other
st=0
# RFS_POSIX_CASES: only these cases (a backend's list, tests/gluster)
# shellcheck disable=SC2086
"$POSIX_CHECK" "$MNT" "$REF" ${RFS_POSIX_CASES:-} || st=$?
[ "$st" = 0 ] || fail "posix_check: $st (see the 'not ok' lines above)"
rm -rf "$MNT"/pc-* || fail "rm -rf through the mount failed"
rfs_expect_empty "$EXPORT"
rfs_umount "$MNT"
rfs_stop_server
echo "PASS posix-$RFS_TRANSPORT"
