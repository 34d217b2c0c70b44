#!/bin/bash
# SPDX-License-Identifier: MIT
# evict: the server may forget any node (bounded cache, restart); the
# client must then re-bind it with RESOLVE and its MAC'd handle and resend
# the request.  Run a tree copy, verify and removal with a node cache of
# 16 entries, so nearly every request finds its node evicted, and check
# the server really did re-bind nodes (its "resolve" debug lines).
. "$(dirname "$0")/lib.sh" "$@"

SRC=/usr/include/linux
[ -d "$SRC" ] || skip "$SRC missing"
export RINGFS_DEBUG=server
rfs_start_server "$EXPORT" --max-nodes 16
rfs_mount "$MNT"

cp -r "$SRC" "$MNT/tree" || fail "cp -r into the mount"
diff -r "$SRC" "$MNT/tree" >/dev/null || fail "diff -r through the mount"
diff -r "$SRC" "$EXPORT/tree" >/dev/null || fail "diff -r in the export"
# stat every file again: their nodes are long gone from the server
n=$(find "$MNT/tree" -type f | wc -l)
m=$(find "$SRC" -type f | wc -l)
[ "$n" = "$m" ] || fail "find through the mount: $n files, want $m"
rm -rf "${MNT:?}/tree" || fail "rm -rf through the mount"
rfs_expect_empty "$EXPORT"
rfs_umount "$MNT"
rfs_stop_server
r=$(grep -c "resolve" "$RFS_SERVER_LOG" || true)
[ "${r:-0}" -gt 0 ] || fail "the server never re-bound a node (no RESOLVE seen)"
note "$r nodes re-bound with RESOLVE"
echo "PASS evict-$RFS_TRANSPORT"
