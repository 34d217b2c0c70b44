#!/bin/bash
# SPDX-License-Identifier: MIT
# passthrough: the kernel's FUSE passthrough over shm (client/
# passthrough.c).  The server passes each regular file it opens to the
# client, which registers it with the kernel: reads, writes and maps of
# that file then skip both daemons.  Checked end to end:
#  - the mount says so (ringfsctl mounts), and the counters show it: the
#    client's passthrough_opens and the server's files_passed grow, while
#    no READ or WRITE reaches either daemon for those files;
#  - data: buffered, O_DIRECT, appends and a shared mapping through the
#    mount are the export's bytes, both ways;
#  - two opens of one file (read-only, then read-write) share the one
#    backing file the kernel allows per inode;
#  - a set-user-id file is opened through the daemons (kept exact), and
#    a write through passthrough by an unprivileged user still clears
#    the bit set after the file was opened (the registered file has no
#    CAP_FSETID);
#  - -o passthrough=off: the same reads cross the daemons again;
#  - a read-only export gets no files passed (a passed file could be
#    re-opened for writing through /proc/self/fd): its reads cross the
#    daemons although the mount negotiated passthrough with the kernel.
# Skipped (77) where the kernel or the caller cannot: no FUSE passthrough
# in the kernel (Linux < 6.9), no CAP_SYS_ADMIN.
. "$(dirname "$0")/lib.sh" "$@"
[ "$RFS_TRANSPORT" = shm ] || skip "passthrough needs shm (same host)"
CTL=$(dirname "$RINGFS")/ringfsctl
[ -x "$CTL" ] || skip "ringfsctl not built next to $RINGFS"
command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
command -v python3 >/dev/null || skip "python3 missing"

rfs_start_server "$EXPORT" --export "ro=$EXPORT,ro,no_root_squash"
SRV=$RFS_SERVER_PID
rfs_mount "$MNT" allow_other # an unprivileged writer below
CPID=$(pgrep -f -- " $MNT( |\$)" | head -n 1)
[ -n "$CPID" ] || fail "no ringfs process for $MNT"
st=$(grep '^passthrough=' "/run/ringfs/client.$CPID" 2>/dev/null)
case $st in
passthrough=on) ;;
*"kernel does not offer"* | *CAP_SYS_ADMIN*)
	skip "FUSE passthrough unavailable here: ${st#passthrough=}" ;;
*) fail "mount's passthrough state: '$st', want on" ;;
esac
row=$("$CTL" mounts | awk -v m="$MNT" '$1 == m')
# shellcheck disable=SC2086 # the row is words
set -- $row
[ "$5" = on ] || fail "ringfsctl mounts: PASSTHRU '$5', want on ($row)"

# counter NAME of a ringfsctl stats target (0 when absent)
ctr() {
	"$CTL" stats "$1" >"$T/stats" 2>&1 || fail "ringfsctl stats $1: $(cat "$T/stats")"
	awk -v k="$2" '$1 == k ":" { v = $2 } END { print v + 0 }' "$T/stats"
}
# requests of opcode OP a daemon counted (its latency table)
ops() {
	"$CTL" stats "$1" >"$T/stats" 2>&1 || fail "ringfsctl stats $1"
	awk -v op="$2" '$1 == op && $2 ~ /^[0-9]+$/ { n = $2 } END { print n + 0 }' "$T/stats"
}

# 1. reads and writes skip both daemons
head -c $((8 << 20)) /dev/urandom >"$EXPORT/big" || fail "test data"
p0=$(ctr "$MNT" client.shm.passthrough_opens)
r0=$(ops "$MNT" read)
w0=$(ops "$MNT" write)
sr0=$(ops "ringfsd:$SRV" read)
cmp "$EXPORT/big" "$MNT/big" || fail "buffered read: wrong data"
dd if="$MNT/big" of="$T/d" bs=4096 iflag=direct status=none ||
	fail "O_DIRECT read through $MNT"
cmp "$EXPORT/big" "$T/d" || fail "O_DIRECT read: wrong data"
dd if=/dev/urandom of="$MNT/w" bs=4096 count=256 oflag=direct status=none ||
	fail "O_DIRECT write through $MNT"
head -c 100000 /dev/urandom >"$MNT/w2" || fail "buffered write"
echo tail >>"$MNT/w2" || fail "append"
cmp "$MNT/w" "$EXPORT/w" || fail "written data differs in the export"
cmp "$MNT/w2" "$EXPORT/w2" || fail "appended data differs in the export"
[ "$(tail -c 5 "$EXPORT/w2")" = tail ] || fail "append not at the end"
[ "$(stat -c %s "$MNT/w2")" = "$(stat -c %s "$EXPORT/w2")" ] ||
	fail "size through the mount differs from the export's"
# a shared mapping: written through the mount, read in the export
python3 - "$MNT/w" "$EXPORT/w" <<'EOF' || fail "shared mapping through $MNT"
import mmap, sys
with open(sys.argv[1], "r+b") as f:
    m = mmap.mmap(f.fileno(), 8192)
    m[100:105] = b"MMAP!"
    m.flush()
    m.close()
with open(sys.argv[2], "rb") as f:
    f.seek(100)
    assert f.read(5) == b"MMAP!", "mapping's write not in the export"
EOF
p1=$(ctr "$MNT" client.shm.passthrough_opens)
[ $((p1 - p0)) -ge 6 ] || fail "passthrough_opens grew by $((p1 - p0)), want >= 6"
[ "$(ops "$MNT" read)" = "$r0" ] ||
	fail "READ requests reached the client daemon ($r0 -> $(ops "$MNT" read))"
[ "$(ops "$MNT" write)" = "$w0" ] ||
	fail "WRITE requests reached the client daemon ($w0 -> $(ops "$MNT" write))"
[ "$(ops "ringfsd:$SRV" read)" = "$sr0" ] || fail "READ requests reached ringfsd"
fp=$(ctr "ringfsd:$SRV" server.shm.files_passed)
[ "$fp" -ge 6 ] || fail "ringfsd's files_passed is $fp, want >= 6"
note "passthrough opens $((p1 - p0)), files passed $fp, no READ/WRITE requests"

# 2. two opens of one file at once: one backing file serves both
exec 7<"$MNT/w2" || fail "open read-only"
exec 8<>"$MNT/w2" || fail "open read-write while open read-only"
printf 'XY' >&8 || fail "write through the second open"
head -c 2 <&7 >"$T/two" || fail "read through the first open"
[ "$(cat "$T/two")" = XY ] || fail "first open reads '$(cat "$T/two")', want XY"
exec 7<&- 8>&-

# 3. set-user-id: through the daemons; and the bit set on a file open
#    through passthrough is cleared by an unprivileged writer
echo x >"$EXPORT/suid" && chmod 4777 "$EXPORT/suid" || fail "suid file"
p0=$(ctr "$MNT" client.shm.passthrough_opens)
cat "$MNT/suid" >/dev/null || fail "read a set-user-id file"
[ "$(ctr "$MNT" client.shm.passthrough_opens)" = "$p0" ] ||
	fail "a set-user-id file was opened through passthrough"
echo y >"$EXPORT/late" && chmod 0666 "$EXPORT/late" || fail "late file"
mkfifo -m 0666 "$T/ready" "$T/go" || fail "mkfifo"
# the writer says when its file is open (or that it failed), then waits
setpriv --reuid=65534 --regid=65534 --clear-groups bash -c \
	'if exec 3>>"$1"; then echo open >"$2"; else echo failed >"$2"; exit 1; fi
	read -r _ <"$3"; echo more >&3' _ "$MNT/late" "$T/ready" "$T/go" &
wpid=$!
read -r said <"$T/ready"
[ "$said" = open ] || fail "the unprivileged writer could not open $MNT/late"
chmod 4777 "$MNT/late" || fail "chmod 4777 through the mount"
echo go >"$T/go"
wait "$wpid" || fail "the unprivileged writer failed"
mode=$(stat -c %a "$EXPORT/late")
[ "$mode" = 777 ] || fail "mode after an unprivileged write: $mode, want 777 (S_ISUID cleared)"

# 4. -o passthrough=off: the same reads cross the daemons
rfs_umount "$MNT"
rfs_mount "$MNT" passthrough=off
CPID=$(pgrep -f -- " $MNT( |\$)" | head -n 1)
grep -q '^passthrough=off' "/run/ringfs/client.$CPID" ||
	fail "passthrough=off: status says $(grep '^passthrough=' "/run/ringfs/client.$CPID")"
r0=$(ops "$MNT" read)
cmp "$EXPORT/big" "$MNT/big" || fail "passthrough=off: wrong data"
[ "$(ops "$MNT" read)" -gt "$r0" ] || fail "passthrough=off: no READ request"
[ "$(ctr "$MNT" client.shm.passthrough_opens)" = 0 ] ||
	fail "passthrough=off: passthrough_opens is not 0"
rfs_umount "$MNT"

# 5. a read-only export: no files passed, the reads cross the daemons
RO=$T/ro
mkdir "$RO" || fail "mkdir $RO"
RFS_MOUNTS+=("$RO")
timeout 60 "$RINGFS" "unix:$T/ringfsd.sock:/ro" "$RO" -o transport=shm \
	>>"$T/client.log" 2>&1 </dev/null || fail "mount of the ro export"
fp=$(ctr "ringfsd:$SRV" server.shm.files_passed)
r0=$(ops "$RO" read)
cmp "$EXPORT/big" "$RO/big" || fail "ro export: wrong data"
[ "$(ops "$RO" read)" -gt "$r0" ] || fail "ro export: no READ request"
[ "$(ctr "ringfsd:$SRV" server.shm.files_passed)" = "$fp" ] ||
	fail "ro export: ringfsd passed a file"
[ "$(ctr "$RO" client.shm.passthrough_opens)" = 0 ] ||
	fail "ro export: passthrough_opens is not 0"
rfs_umount "$RO"
rfs_stop_server
echo "PASS passthrough-$RFS_TRANSPORT"
