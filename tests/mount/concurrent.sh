#!/bin/bash
# SPDX-License-Identifier: MIT
# concurrent: 6 processes at once write disjoint stripes of one file,
# append records to one O_APPEND file, and create/rename/unlink files in
# one directory; then every byte, every record and every name is checked,
# through the mount and in the export.
. "$(dirname "$0")/lib.sh" "$@"

N=6
rfs_start_server "$EXPORT"
rfs_mount "$MNT"
mkdir "$MNT/churn" || fail "mkdir"

pids=()
for ((w = 0; w < N; w++)); do
	"$MT_IO" stripe "$MNT/striped" "$w" "$N" 12345 40 & pids+=($!)
	"$MT_IO" append "$MNT/appended" "$w" 2000 & pids+=($!)
	"$MT_IO" churn "$MNT/churn" "$w" 300 & pids+=($!)
done
bad=0
for pid in "${pids[@]}"; do
	wait "$pid" || bad=$((bad + 1))
done
[ "$bad" = 0 ] || fail "$bad worker(s) failed"

"$MT_IO" check-stripes "$MNT/striped" "$N" 12345 40 ||
	fail "striped file wrong through the mount"
"$MT_IO" check-append "$MNT/appended" "$N" 2000 ||
	fail "appended file wrong through the mount"
size=$(stat -c %s "$MNT/appended")
[ "$size" = $((N * 2000 * 64)) ] || fail "appended size $size"
[ "$(stat -c %s "$MNT/striped")" = $((N * 40 * 12345)) ] ||
	fail "striped size $(stat -c %s "$MNT/striped")"

want=$(for ((w = 0; w < N; w++)); do
	for ((i = 0; i < 300; i += 2)); do echo "w$w-$i"; done
done | sort)
got=$(ls "$MNT/churn" | sort)
[ "$got" = "$want" ] || fail "churn dir listing differs from expectation"
got=$(ls "$EXPORT/churn" | sort)
[ "$got" = "$want" ] || fail "churn dir in the export differs"

# Reads at queue depth 32 (Linux AIO, O_DIRECT): the server gets them
# together and runs them on its file-I/O ring; two readers at once, and
# one more after the file's last writer closed it.
"$MT_IO" write "$MNT/deep" 0 $((8 << 20)) 777 || fail "write deep"
"$MT_IO" aio-check "$MNT/deep" $((8 << 20)) 777 32 3000 & a1=$!
"$MT_IO" aio-check "$MNT/deep" $((8 << 20)) 777 16 3000 & a2=$!
wait "$a1" || fail "reads at depth 32 returned wrong data"
wait "$a2" || fail "reads at depth 16 returned wrong data"
"$MT_IO" check "$EXPORT/deep" 0 $((8 << 20)) 777 ||
	fail "deep file wrong in the export"

# The export holds the same bytes once the mount is gone (no cached lies).
rfs_umount "$MNT"
"$MT_IO" check-stripes "$EXPORT/striped" "$N" 12345 40 ||
	fail "striped file wrong in the export"
"$MT_IO" check-append "$EXPORT/appended" "$N" 2000 ||
	fail "appended file wrong in the export"
rfs_stop_server
echo "PASS concurrent-$RFS_TRANSPORT"
