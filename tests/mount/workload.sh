#!/bin/bash
# SPDX-License-Identifier: MIT
# workload: unpack a source tree (/usr/include, thousands of files) through
# the mount with tar, check every file with sha256sum -c and every name,
# type, mode and link target with find, then rm -rf it and check the
# export is empty.
. "$(dirname "$0")/lib.sh" "$@"

SRC=${RFS_WORKLOAD_SRC:-/usr/include}
[ -d "$SRC" ] || skip "$SRC missing"
base=$(basename "$SRC")
rfs_start_server "$EXPORT"
rfs_mount "$MNT"

tar -C "$(dirname "$SRC")" -cf "$T/tree.tar" "$base" 2>/dev/null ||
	fail "tar of $SRC"
(cd "$SRC" && find . -type f -print0 | xargs -0 sha256sum) >"$T/sums" ||
	fail "checksums of $SRC"
note "$(wc -l <"$T/sums") files, $(du -sh "$T/tree.tar" | cut -f1) tar"
tar -C "$MNT" -xf "$T/tree.tar" || fail "tar -x into the mount"
(cd "$MNT/$base" && sha256sum -c --quiet "$T/sums") ||
	fail "sha256sum -c through the mount"
meta() { (cd "$1" && find . -printf '%P %y %m %l\n' | LC_ALL=C sort); }
meta "$SRC" >"$T/meta-src"
meta "$MNT/$base" >"$T/meta-mnt"
cmp -s "$T/meta-src" "$T/meta-mnt" ||
	fail "tree metadata differs: $(diff "$T/meta-src" "$T/meta-mnt" | head -5)"
meta "$EXPORT/$base" >"$T/meta-exp"
cmp -s "$T/meta-src" "$T/meta-exp" || fail "export tree metadata differs"
(cd "$EXPORT/$base" && sha256sum -c --quiet "$T/sums") ||
	fail "sha256sum -c in the export"
rm -rf "${MNT:?}/$base" || fail "rm -rf through the mount"
[ -z "$(ls -A "$MNT")" ] || fail "mount not empty after rm -rf"
rfs_expect_empty "$EXPORT"
rfs_umount "$MNT"
rfs_stop_server
echo "PASS workload-$RFS_TRANSPORT"
