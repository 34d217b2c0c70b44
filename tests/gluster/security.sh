#!/bin/bash
# SPDX-License-Identifier: MIT
# security: the security suite's escape case (sec_test escape: hostile
# names, symlinks out of the export, forged handles with every byte
# flipped, another export's handles and nodes, links and renames across
# exports, stale handles, another server key) against two gluster-backed
# exports that are directories of one volume (gluster://HOST/VOL/DIR/a
# and .../b), with the volume's files made through gluster's own client.
# Arguments as the mount cases; the 4th is sec_test.
. "$(dirname "$0")/../mount/lib.sh" "$@"
SEC_TEST=$POSIX_CHECK

[ "$RFS_BACKEND" = gluster ] || skip "run with RFS_BACKEND=gluster"
st=0
RFS_SEC_GLUSTER_URL=$GL_URL RFS_SEC_GLUSTER_DIR=$EXPORT \
	"$SEC_TEST" "$RINGFSD" escape || st=$?
[ "$st" = 0 ] || fail "sec_test escape over gluster: exit $st"
echo "PASS security-$RFS_TRANSPORT"
