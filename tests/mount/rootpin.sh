#!/bin/bash
# SPDX-License-Identifier: MIT
# rootpin: -o rootfs keeps the kernel's cache of the root directory for
# good (client/rootfs.c), so that a path walk through the mount's root
# to a filesystem mounted on one of its directories (/proc on a real
# root) needs no answer from the daemon while it is stopped, as
# systemd-shutdown stops it (SIGSTOP) around each killing spree.
#
# Mounted with attr_timeout=0,entry_timeout=0: everything else must be
# asked for at once.  With the daemon stopped: stat of the root and of a
# file on a tmpfs mounted on a top-level directory answer; a walk through
# a directory one level down waits in the kernel's FUSE request (it is
# asked for: the daemon is really stopped) and ends after SIGCONT.
. "$(dirname "$0")/lib.sh" "$@"

cap_eff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
# -o rootfs hardens as -o harden does: CAP_SYS_RESOURCE is bit 24
(((0x$cap_eff >> 24) & 1)) || skip "-o rootfs needs CAP_SYS_RESOURCE (PR_SET_IO_FLUSHER, oom_score_adj)"

mkdir -p "$EXPORT/top" "$EXPORT/dir/sub" || fail "mkdir in the export"
echo data >"$EXPORT/dir/sub/f" || fail "write in the export"
rfs_start_server "$EXPORT"
rfs_mount "$MNT" rootfs,attr_timeout=0,entry_timeout=0
dpid=$(pgrep -n -x @ringfs) || fail "no @ringfs process after -o rootfs"
# /proc's part: a tmpfs on a directory of the root
mount -t tmpfs -o size=1m rootpin "$MNT/top" || fail "mount tmpfs on $MNT/top"
RFS_MOUNTS+=("$MNT/top")
echo on-tmpfs >"$MNT/top/x" || fail "write on the tmpfs"
# fill the kernel's cache: the root's attributes, its names
stat "$MNT" "$MNT/top/x" "$MNT/dir/sub/f" >/dev/null || fail "stat through the mount"

stopped=0
cont() { [ "$stopped" = 1 ] && kill -CONT "$dpid" 2>/dev/null; return 0; }
RFS_CLEANUP_HOOKS=(cont "${RFS_CLEANUP_HOOKS[@]}")
# exited_within PID SECONDS (polled; a FUSE request already handed to the
# daemon cannot be killed, so nothing here waits on one unbounded)
exited_within() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}
# pinned CMD...: CMD ends (with 0) while the daemon is stopped
pinned() {
	"$@" >/dev/null &
	local p=$!
	exited_within "$p" 10 || fail "'$*' waited for the stopped daemon"
	wait "$p" || fail "'$*' failed with the daemon stopped"
}
kill -STOP "$dpid" || fail "SIGSTOP to @ringfs ($dpid)"
stopped=1
# no request for these (a wait here is systemd-shutdown's hang)
pinned stat "$MNT"
pinned cat "$MNT/top/x"
pinned stat "$MNT/top/x"
# not pinned: one level down the kernel asks the stopped daemon
stat "$MNT/dir/sub/f" >/dev/null &
q=$!
waiting=
for ((i = 0; i < 100; i++)); do
	kill -0 "$q" 2>/dev/null || break
	case $(cat "/proc/$q/wchan" 2>/dev/null) in
	*request_wait_answer* | *fuse*) waiting=1 && break ;;
	esac
	sleep 0.1
done
[ -n "$waiting" ] || fail "stat of $MNT/dir/sub/f did not wait for the stopped daemon (wchan $(cat "/proc/$q/wchan" 2>/dev/null))"
kill -CONT "$dpid" || fail "SIGCONT to @ringfs ($dpid)"
stopped=0
exited_within "$q" 30 || fail "stat of $MNT/dir/sub/f still waits after SIGCONT"
wait "$q" || fail "stat of $MNT/dir/sub/f failed after SIGCONT"
[ "$(cat "$MNT/dir/sub/f")" = data ] || fail "read after SIGCONT"
# the client's own changes to the root are seen at once
mkdir "$MNT/new" || fail "mkdir in the root"
[ -d "$EXPORT/new" ] || fail "mkdir in the root did not reach the export"
rmdir "$MNT/new" || fail "rmdir in the root"
[ ! -e "$MNT/new" ] || fail "rmdir in the root: the name is still seen"
note "@ringfs stopped: the root and a mount on it answered, a walk below waited"
rfs_unmount "$MNT/top" || fail "umount $MNT/top"
rfs_umount "$MNT"
echo "PASS rootpin-$RFS_TRANSPORT"
