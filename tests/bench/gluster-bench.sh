#!/bin/bash
# SPDX-License-Identifier: MIT
# gluster-bench.sh BUILD_DIR: the cost of the extra hop (doc/scale-out.md).
# One private GlusterFS volume (tests/gluster/lib_gluster.sh: its own
# glusterd, two bricks under $T, loopback) and one ringfsd exporting both
# a local directory on the same disk (vfs) and the volume (gluster); then
# ringfs-bench --mount (4 KiB O_DIRECT read at QD1: p50; 1 MiB read and
# write: MB/s) through three mounts: ringfs of the vfs export, ringfs of the
# gluster export, and gluster's own FUSE client of the same volume.
# Needs root, glusterfs-server, glusterfs-client; prints the three tables.
RFS_TAG=gluster-bench
# shellcheck source=tests/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
B=$(rfs_abspath "${1:?usage: gluster-bench.sh BUILD_DIR}")
RINGFSD=$B/server/ringfsd
RINGFS=$B/client/ringfs
BENCH=$B/tests/bench/ringfs-bench
TRANSPORT=${TRANSPORT:-uring}
DURATION=${DURATION:-5}

rfs_tmpdir gluster-bench
MNTS=()
unmount_all() {
	local m
	for m in "${MNTS[@]}"; do
		fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	return 0
}
RFS_CLEANUP_HOOKS+=(unmount_all)
# shellcheck source=tests/gluster/lib_gluster.sh
. "$(dirname "${BASH_SOURCE[0]}")/../gluster/lib_gluster.sh"
gl_start
mkdir -p "$T/vfs" "$T/m-vfs" "$T/m-gluster" "$T/m-fuse" "$T/state"
GL_FUSE_DIR=$T/m-fuse
gl_fuse_mount "$GL_FUSE_DIR"
rfs_ringfsd_start ringfsd --listen 127.0.0.1:0 --state-dir "$T/state" \
	--export "vfs=$T/vfs,no_root_squash" \
	--export "gl=$GL_URL,no_root_squash" --transport "$TRANSPORT"
for e in vfs gluster; do
	x=$e
	[ "$e" = gluster ] && x=gl
	"$RINGFS" "127.0.0.1:$RFS_PORT:/$x" "$T/m-$e" -o "transport=$TRANSPORT" ||
		fail "mount $e"
	MNTS+=("$T/m-$e")
done
fuse_pid=$(pgrep -f -- "--volfile-id=$GL_VOL .*$GL_FUSE_DIR" | head -1)
for e in vfs gluster; do
	pid=$(pgrep -f -- "ringfs 127.0.0.1:$RFS_PORT:/.* $T/m-$e" | head -1)
	echo "== ringfs, $e backend ($TRANSPORT)"
	"$BENCH" --transports none --workloads read4k,read1m,write1m --qd 1 \
		--duration "$DURATION" --mount "$T/m-$e" --mount-pid "$pid" \
		--server-pid "$RFS_SERVER_PID" 2>&1 | grep -E "read|write|transport"
done
echo "== glusterfs FUSE client (no ringfs)"
"$BENCH" --transports none --workloads read4k,read1m,write1m --qd 1 \
	--duration "$DURATION" --mount "$GL_FUSE_DIR" --mount-pid "$fuse_pid" \
	--server-pid "$RFS_SERVER_PID" 2>&1 | grep -E "read|write|transport"
