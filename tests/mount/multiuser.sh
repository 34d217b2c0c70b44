#!/bin/bash
# SPDX-License-Identifier: MIT
# multiuser: allow_other mount; two uids create files in a 1777 directory;
# each file belongs to its creator, seen through the mount AND in the
# export (the server runs each op as the caller, no_root_squash export).
. "$(dirname "$0")/lib.sh" "$@"

command -v setpriv >/dev/null || skip "setpriv not installed"
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
rfs_start_server "$EXPORT"
rfs_mount "$MNT" allow_other
mkdir -m 1777 "$MNT/shared" || fail "mkdir"
chmod 1777 "$MNT/shared" || fail "chmod"
for u in 1000 1001; do
	as "$u" sh -c "echo hello-$u > '$MNT/shared/f$u'" ||
		fail "uid $u cannot create a file"
	as "$u" mkdir "$MNT/shared/d$u" || fail "uid $u cannot mkdir"
done
for u in 1000 1001; do
	for f in "f$u" "d$u"; do
		o=$(stat -c %u:%g "$MNT/shared/$f")
		[ "$o" = "$u:$u" ] || fail "mount: $f owned by $o, want $u:$u"
		o=$(stat -c %u:%g "$EXPORT/shared/$f")
		[ "$o" = "$u:$u" ] || fail "export: $f owned by $o, want $u:$u"
	done
done
# Each can read the other's 0644 file, neither can remove it (sticky).
[ "$(as 1000 cat "$MNT/shared/f1001")" = hello-1001 ] ||
	fail "uid 1000 cannot read uid 1001's file"
if as 1000 rm -f "$MNT/shared/f1001" 2>/dev/null; then
	fail "uid 1000 removed uid 1001's file in a sticky dir"
fi
if as 1001 sh -c "echo x >> '$MNT/shared/f1000'" 2>/dev/null; then
	fail "uid 1001 wrote to uid 1000's 0644 file"
fi
as 1001 rm "$MNT/shared/f1001" || fail "uid 1001 cannot remove its own file"
# Split mode (--exec-thread, and always for rdma): requests run on
# "ringfsd-exec" threads, and the "ringfsd-conn" threads that drive the
# transport never change credentials (rdma's verbs and rdma_cm files
# refuse a thread that did).  Right after uid 1001's last request, an
# exec thread still has fsuid 1001 and no conn thread has anything but 0.
fsuid() { awk '$1 == "Uid:" { print $5 }' "$1/status"; }
case " ${RFS_SERVER_EXTRA:-} $RFS_TRANSPORT " in
*" --exec-thread "* | *" rdma "*)
	n_exec=0 seen1001=0
	for task in /proc/"$RFS_SERVER_PID"/task/*; do
		comm=$(cat "$task/comm" 2>/dev/null) || continue
		case $comm in
		ringfsd-conn)
			u=$(fsuid "$task")
			[ "$u" = 0 ] || fail "connection thread $(basename \
				"$task") switched to fsuid $u: split mode broken"
			;;
		ringfsd-exec)
			n_exec=$((n_exec + 1))
			[ "$(fsuid "$task")" = 1001 ] && seen1001=1
			;;
		esac
	done
	[ "$n_exec" -gt 0 ] || fail "no ringfsd-exec thread in split mode"
	[ "$seen1001" = 1 ] || fail "no exec thread ran uid 1001's request"
	note "split mode: $n_exec exec threads; connection threads kept fsuid 0"
	;;
esac
# Root (no_root_squash) sees and owns what it creates.
touch "$MNT/shared/root" || fail "root create"
[ "$(stat -c %u:%g "$EXPORT/shared/root")" = 0:0 ] || fail "root file owner"
rm -rf "${MNT:?}/shared" || fail "rm -rf"
rfs_expect_empty "$EXPORT"
rfs_umount "$MNT"
rfs_stop_server
echo "PASS multiuser-$RFS_TRANSPORT"
