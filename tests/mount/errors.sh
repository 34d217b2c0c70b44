#!/bin/bash
# SPDX-License-Identifier: MIT
# errors: ringfs must exit non-zero with a clear message, and leave nothing
# mounted, for an unreachable server, a missing export, a missing mount
# point, a mount point that is a file, an unknown -o option and an unknown
# transport; ringfsd must exit non-zero for a missing export directory.
. "$(dirname "$0")/lib.sh" "$@"

# expect_fail NAME REGEX CMD...: CMD exits non-zero within 60 s, says
# something matching REGEX (case-insensitive) on stdout/stderr.
expect_fail() {
	local name=$1 re=$2 st=0 out
	shift 2
	out=$T/err-$name.out
	timeout 60 "$@" >"$out" 2>&1 </dev/null || st=$?
	[ "$st" != 0 ] || fail "$name: exited 0"
	[ "$st" != 124 ] || fail "$name: still running after 60 s"
	grep -Eiq -- "$re" "$out" ||
		fail "$name: exit $st, message '$(head -c 300 "$out")' does not match /$re/"
	note "$name: exit $st: $(head -n 1 "$out")"
}
not_mounted() {
	rfs_is_mounted "$1" && fail "$2: $1 got mounted anyway"
	return 0
}

port=$("$MT_IO" freeport) || fail "freeport"
RFS_MOUNTS+=("$MNT")
expect_fail unreachable 'refused|connect|unreach|reach' \
	"$RINGFS" "$RFS_ADDR:$port:/data" "$MNT" -o "transport=$RFS_TRANSPORT"
not_mounted "$MNT" unreachable

rfs_start_server "$EXPORT"
expect_fail missing-export 'nope|export|no such|not found|ENOENT' \
	"$RINGFS" "$RFS_ADDR:$RFS_PORT:/nope" "$MNT" -o "transport=$RFS_TRANSPORT"
not_mounted "$MNT" missing-export
expect_fail missing-mountpoint 'no such|not exist|mount ?point|ENOENT|missing' \
	"$RINGFS" "$RFS_ADDR:$RFS_PORT:/data" "$T/nonexistent" \
	-o "transport=$RFS_TRANSPORT"
touch "$T/afile"
RFS_MOUNTS+=("$T/afile")
expect_fail file-mountpoint 'directory|ENOTDIR|mount ?point' \
	"$RINGFS" "$RFS_ADDR:$RFS_PORT:/data" "$T/afile" \
	-o "transport=$RFS_TRANSPORT"
not_mounted "$T/afile" file-mountpoint
expect_fail unknown-option 'bogus_option_xyz' \
	"$RINGFS" "$RFS_ADDR:$RFS_PORT:/data" "$MNT" \
	-o "transport=$RFS_TRANSPORT,bogus_option_xyz"
not_mounted "$MNT" unknown-option
expect_fail unknown-transport 'carrierpigeon|transport' \
	"$RINGFS" "$RFS_ADDR:$RFS_PORT:/data" "$MNT" -o transport=carrierpigeon
not_mounted "$MNT" unknown-transport
expect_fail bad-address 'address|host|invalid|usage|parse|source|expected' \
	"$RINGFS" "not-a-valid-spec" "$MNT" -o "transport=$RFS_TRANSPORT"
not_mounted "$MNT" bad-address

# The server kept serving through all that: a real mount still works.
rfs_mount "$MNT"
echo ok >"$MNT/still-works" || fail "server unusable after bad clients"
rfs_umount "$MNT"
rfs_stop_server

# ringfsd's --transport names its byte-stream transport (rdma clients
# set up over it)
srv_t=$RFS_TRANSPORT
[ "$srv_t" = rdma ] && srv_t=uring
expect_fail ringfsd-missing-dir 'missing|no such|export|ENOENT' \
	"$RINGFSD" --listen 127.0.0.1:0 --transport "$srv_t" \
	--export "data=$T/missing-dir,no_root_squash"
expect_fail ringfsd-bad-listen 'listen|address|invalid|parse' \
	"$RINGFSD" --listen 999.1.2.3:0 --transport "$srv_t" \
	--export "data=$EXPORT,no_root_squash"
echo "PASS errors-$RFS_TRANSPORT"
