#!/bin/bash
# SPDX-License-Identifier: MIT
# negative: a LOOKUP the server answers ENOENT is cached (negative_timeout,
# default entry_timeout), and every change through the mount replaces the
# cached "no such name" at once; negative_timeout=0 asks the server each
# time.  A name created in the export behind the mount's back stays
# hidden until the entry expires: that is the documented rule, checked
# here so it cannot change silently (doc/semantics.md).
. "$(dirname "$0")/lib.sh" "$@"

rfs_start_server "$EXPORT"
M1=$T/m1
M2=$T/m2
mkdir "$M1" "$M2" || fail "mkdir mount points"
rfs_mount "$M1" negative_timeout=60
rfs_mount "$M2" negative_timeout=0

gone() { # path: must not exist
	! stat "$1" >/dev/null 2>&1 || fail "$1 exists, expected ENOENT"
	local err
	err=$(stat "$1" 2>&1 >/dev/null)
	case $err in
	*"No such file or directory"*) ;;
	*) fail "stat $1: '$err', expected ENOENT" ;;
	esac
}

# 1. cached: created behind the mount's back, still absent on M1 (60 s
#    negative entry), present at once on M2 (no negative caching)
gone "$M1/behind"
gone "$M2/behind"
echo x >"$EXPORT/behind" || fail "create in the export"
gone "$M1/behind"
[ "$(cat "$M2/behind")" = x ] ||
	fail "negative_timeout=0: a file created in the export is not seen"

# 2. every change through the mount replaces the negative entry
for n in f d l h r; do gone "$M1/$n"; done
echo y >"$M1/f" || fail "create over a negative entry"
[ "$(cat "$M1/f")" = y ] || fail "created file not seen"
mkdir "$M1/d" || fail "mkdir over a negative entry"
[ -d "$M1/d" ] || fail "new directory not seen"
ln -s f "$M1/l" || fail "symlink over a negative entry"
[ "$(readlink "$M1/l")" = f ] || fail "new symlink not seen"
ln "$M1/f" "$M1/h" || fail "link over a negative entry"
[ "$(stat -c %h "$M1/f")" = 2 ] || fail "link count after link"
echo z >"$M1/src" || fail "create src"
mv "$M1/src" "$M1/r" || fail "rename onto a negative entry"
[ "$(cat "$M1/r")" = z ] || fail "renamed file not seen under its new name"
gone "$M1/src"

# 3. the other direction: removal through the mount is seen at once
rm "$M1/f" || fail "unlink"
gone "$M1/f"
rmdir "$M1/d" || fail "rmdir"
gone "$M1/d"

rfs_umount "$M1"
rfs_umount "$M2"
rfs_stop_server
echo "PASS negative-$RFS_TRANSPORT"
