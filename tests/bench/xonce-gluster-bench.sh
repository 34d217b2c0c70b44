#!/bin/bash
# SPDX-License-Identifier: MIT
# xonce-gluster-bench.sh BUILD_DIR: the cost of exactly once across
# gateways (doc/scale-out.md).  One private GlusterFS volume
# (tests/gluster/lib_gluster.sh: its own glusterd, two bricks under $T,
# loopback) exported from its directory /data by one ringfsd gateway,
# started three ways in turn: --reply-log off (no log), the default (the
# log in the gateway's own --state-dir, on local disk), and
# --reply-log-dir on the volume's /replies through gluster's FUSE client
# (the shared log of several gateways).  Through a ringfs mount of each,
# metaops times N O_EXCL creates and N unlinks (each a logged request:
# an INTENT and a RESULT record), in a directory of its own.  Prints, per
# setup, the microseconds per create and per unlink.  Needs root,
# glusterfs-server, glusterfs-client, cc.  N (default 2000).
RFS_TAG=xonce-gluster-bench
# shellcheck source=tests/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
B=$(rfs_abspath "${1:?usage: xonce-gluster-bench.sh BUILD_DIR}")
RINGFSD=$B/server/ringfsd
RINGFS=$B/client/ringfs
TRANSPORT=${TRANSPORT:-uring}
N=${N:-2000}

rfs_tmpdir xonce-gluster-bench
MNT=
unmount_all() {
	[ -n "$MNT" ] && { fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null; }
	return 0
}
RFS_CLEANUP_HOOKS+=(unmount_all)
cc -O2 -o "$T/metaops" "$(dirname "${BASH_SOURCE[0]}")/metaops.c" ||
	fail "cc metaops.c"
# shellcheck source=tests/gluster/lib_gluster.sh
. "$(dirname "${BASH_SOURCE[0]}")/../gluster/lib_gluster.sh"
gl_start
mkdir -p "$T/m-fuse" "$T/m" "$T/state" || fail "mkdir"
gl_fuse_mount "$T/m-fuse"
mkdir -p "$T/m-fuse/data" || fail "mkdir data on the volume"
mkdir -m 0700 -p "$T/m-fuse/replies" || fail "mkdir replies on the volume"

printf '%-34s %10s %10s\n' "reply log" "create us" "unlink us"
for setup in off local shared; do
	case $setup in
	off) opt=(--reply-log off) label="off (--reply-log off)" ;;
	local) opt=() label="local (STATE-DIR/replies)" ;;
	shared) opt=(--reply-log-dir "$T/m-fuse/replies")
		label="shared (--reply-log-dir, glusterfs)" ;;
	esac
	rfs_ringfsd_start "ringfsd-$setup" --listen 127.0.0.1:0 \
		--state-dir "$T/state" --transport "$TRANSPORT" \
		--export "data=$GL_URL/data,no_root_squash" "${opt[@]}"
	MNT=$T/m
	"$RINGFS" "127.0.0.1:$RFS_PORT:/data" "$MNT" -o "transport=$TRANSPORT" ||
		fail "mount ($setup)"
	mkdir "$MNT/$setup" || fail "mkdir $MNT/$setup"
	c=$("$T/metaops" create "$MNT/$setup" "$N") || fail "create ($setup)"
	u=$("$T/metaops" unlink "$MNT/$setup" "$N") || fail "unlink ($setup)"
	# "PHASE COUNT SECONDS OPS_PER_S"
	printf '%-34s %10.0f %10.0f\n' "$label" \
		"$(echo "$c" | awk '{ print $3 / $2 * 1e6 }')" \
		"$(echo "$u" | awk '{ print $3 / $2 * 1e6 }')"
	fusermount3 -u "$MNT" || umount -l "$MNT"
	MNT=
	rfs_ringfsd_stop "$RFS_SERVER_PID"
done
