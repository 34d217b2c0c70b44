#!/bin/bash
# SPDX-License-Identifier: MIT
# bigdir: 10,000 entries in one directory: ls count and exact names, every
# entry stat'ed through find -printf, then all removed.
. "$(dirname "$0")/lib.sh" "$@"

N=${RFS_BIGDIR_N:-10000}
D=$MNT/d
rfs_start_server "$EXPORT"
rfs_mount "$MNT"
mkdir "$D" || fail "mkdir"
seq -f "$D/entry-with-a-longish-name-%05g" 0 $((N - 1)) | xargs touch ||
	fail "creating $N files"
seq -f "entry-with-a-longish-name-%05g" 0 $((N - 1)) >"$T/want"

[ "$(ls "$D" | wc -l)" = "$N" ] || fail "ls | wc -l = $(ls "$D" | wc -l)"
ls "$D" >"$T/got" || fail "ls"
cmp -s "$T/got" "$T/want" || fail "names differ: $(diff "$T/got" "$T/want" | head -5)"
ls -f "$D" | grep -v '^\.\.\?$' | sort >"$T/got-f"
cmp -s "$T/got-f" "$T/want" || fail "unsorted readdir differs"
# find -printf stats every entry (size, type, mode).
find "$D" -mindepth 1 -printf '%f %s %y %m\n' | sort >"$T/stat" ||
	fail "find"
sed 's/$/ 0 f 644/' "$T/want" >"$T/want-stat"
cmp -s "$T/stat" "$T/want-stat" || fail "find -printf: $(diff "$T/stat" "$T/want-stat" | head -5)"
[ "$(ls "$EXPORT/d" | wc -l)" = "$N" ] || fail "export has $(ls "$EXPORT/d" | wc -l)"

# Cold cache: remount, list again.
rfs_umount "$MNT"
rfs_mount "$MNT"
ls "$D" >"$T/got2" || fail "ls after remount"
cmp -s "$T/got2" "$T/want" || fail "names differ after remount"

find "$D" -mindepth 1 -delete || fail "find -delete"
[ -z "$(ls -A "$D")" ] || fail "directory not empty after removal"
rmdir "$D" || fail "rmdir"
rfs_expect_empty "$EXPORT"
rfs_umount "$MNT"
rfs_stop_server
echo "PASS bigdir-$RFS_TRANSPORT"
