#!/bin/bash
# SPDX-License-Identifier: MIT
# auto: transport=auto (the default) picks shm when the server is on this
# host and has a Unix socket (learned with RFS_OP_PATHS and checked by the
# server's instance id), else the TCP stream transport.  The choice is
# read from the client's debug log, then the mount is used for real.
. "$(dirname "$0")/lib.sh" "$@"

export RINGFS_DEBUG=client
rfs_start_server "$EXPORT" --listen-unix "$T/ringfsd.sock"
RFS_TRANSPORT=auto rfs_mount "$MNT"
grep -q "transport auto: shm through unix:$T/ringfsd.sock" "$T/client.log" ||
	fail "auto did not pick shm: $(grep 'transport auto' "$T/client.log")"
head -c 3000000 /dev/urandom >"$T/blob"
cp "$T/blob" "$MNT/blob" || fail "write through the auto (shm) mount"
cmp -s "$T/blob" "$EXPORT/blob" || fail "export copy differs"
cmp -s "$T/blob" "$MNT/blob" || fail "read back differs"
rm "$MNT/blob" || fail "rm"
rfs_umount "$MNT"
rfs_stop_server

# no Unix socket: the stream transport
: >"$T/client.log"
rfs_start_server "$EXPORT"
RFS_TRANSPORT=auto rfs_mount "$MNT"
grep -q "transport auto: $RFS_TRANSPORT\$" "$T/client.log" ||
	fail "auto without a Unix socket: $(grep 'transport auto' "$T/client.log")"
echo data >"$MNT/f" && [ "$(cat "$EXPORT/f")" = data ] ||
	fail "I/O through the auto (stream) mount"
rm "$MNT/f"
rfs_umount "$MNT"
rfs_stop_server
echo "PASS auto"
