#!/bin/bash
# SPDX-License-Identifier: MIT
# nbd: ringfsd's NBD export (server/nbd.c) with real userspace NBD clients
# (libnbd's nbdinfo, qemu-img and qemu-io from qemu-utils): the export's
# size and flags, a 3 MiB image written and read back byte for byte
# through NBD and compared with the file in the export, TRIM and FLUSH,
# a read-only export refusing writes, an export whose net= excludes us
# refused; then nbd_hostile.py (malformed and random input, a stalled
# handshake), after which a real client still gets its data: the server
# served everyone throughout.  Also the configuration errors: nbd= with
# no --nbd-listen, a missing file, a path outside the export.
#
# With RINGFS_NBD (client/ringfs-nbd), its handshake too (-n: negotiate,
# attach nothing): the size and read-only flag it reports, and its
# errors for an unknown export, a net= refusal and a malformed target.
#
#   nbd.sh RINGFSD [RINGFS_NBD]
# shellcheck disable=SC2034 # the lib's SKIP/FAIL lines name the case
RFS_TAG=nbd
# shellcheck source=tests/lib/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
[ $# -ge 1 ] || { echo "usage: $0 RINGFSD" >&2; exit 2; }
RINGFSD=$(rfs_abspath "$1")
RINGFS_NBD=${2:+$(rfs_abspath "$2")}
HERE=$(cd "$(dirname "$0")" && pwd)
rfs_under_timeout "${RFS_CASE_TIMEOUT:-100}" 10 "$0" "$@"

[ -x "$RINGFSD" ] || skip "$RINGFSD not built"
for p in nbdinfo qemu-img qemu-io python3; do
	command -v "$p" >/dev/null ||
		skip "$p not installed (apt-get install libnbd-bin qemu-utils python3)"
done

rfs_tmpdir nbd
mkdir -p "$T/rw" "$T/ro" "$T/deny" "$T/state"
fallocate -l 16M "$T/rw/disk.img" || fail "fallocate"
fallocate -l 1M "$T/ro/disk.img" || fail "fallocate"
fallocate -l 1M "$T/deny/disk.img" || fail "fallocate"
head -c 4096 /dev/urandom >"$T/ro/pattern" || fail "random data"
dd if="$T/ro/pattern" of="$T/ro/disk.img" conv=notrunc status=none ||
	fail "fill the ro image"

# configuration errors: refused at start with the reason
out=$("$RINGFSD" -l 127.0.0.1:0 -s "$T/state" \
	-e "rw=$T/rw,nbd=disk.img" 2>&1) && fail "nbd= without --nbd-listen started"
case $out in *"no --nbd-listen"*) ;; *) fail "nbd= alone: '$out'" ;; esac
out=$("$RINGFSD" -l 127.0.0.1:0 --nbd-listen 127.0.0.1:0 -s "$T/state" \
	-e "rw=$T/rw,nbd=missing.img" 2>&1) && fail "a missing nbd= file started"
case $out in *"missing.img"*"No such file"*) ;; *) fail "missing: '$out'" ;; esac
out=$("$RINGFSD" -l 127.0.0.1:0 --nbd-listen 127.0.0.1:0 -s "$T/state" \
	-e "rw=$T/rw,nbd=../ro/disk.img" 2>&1) && fail "nbd=../ started"
case $out in *"inside the export"*) ;; *) fail "escape: '$out'" ;; esac
out=$("$RINGFSD" -l 127.0.0.1:0 --nbd-listen 192.0.2.1:0 -s "$T/state" \
	-e "rw=$T/rw,nbd=disk.img" 2>&1) && fail "a non-loopback nbd-listen started"
case $out in *"NBD has no authentication"*) ;; *) fail "exposed: '$out'" ;; esac
note "configuration errors refused with their reasons"

rfs_ringfsd_start server --listen 127.0.0.1:0 --nbd-listen 127.0.0.1:0 \
	--setup-timeout 2 -s "$T/state" \
	-e "rw=$T/rw,nbd=disk.img" -e "ro=$T/ro,ro,nbd=disk.img" \
	-e "deny=$T/deny,net=192.0.2.0/24,nbd=disk.img"
NBD_PORT=$(sed -n 's/.*ringfsd: nbd: listening on [^ ]*:\([0-9][0-9]*\),.*/\1/p' \
	"$RFS_SERVER_LOG")
[ -n "$NBD_PORT" ] || fail "no nbd ready line"
URI=nbd://127.0.0.1:$NBD_PORT
note "ringfsd $RFS_SERVER_PID, NBD on port $NBD_PORT"

# size and flags as a real client sees them
info=$(nbdinfo --json "$URI/rw") || fail "nbdinfo $URI/rw"
for want in '"export-size": 16777216' '"can_flush": true' '"can_fua": true' \
	'"can_trim": true' '"is_read_only": false'; do
	grep -q "$want" <<<"$info" || fail "nbdinfo rw: no $want in $info"
done
info=$(nbdinfo --json "$URI/ro") || fail "nbdinfo $URI/ro"
grep -q '"is_read_only": true' <<<"$info" || fail "ro export not read-only"
list=$(nbdinfo --list --json "$URI") || fail "nbdinfo --list"
grep -q '"export-name": "rw"' <<<"$list" || fail "list misses rw: $list"
grep -q '"export-name": "ro"' <<<"$list" || fail "list misses ro: $list"
! grep -q '"export-name": "deny"' <<<"$list" || fail "list shows the denied export"
nbdinfo "$URI/deny" >/dev/null 2>"$T/deny.err" && fail "net= did not refuse NBD"
grep -q "refused on export deny" "$RFS_SERVER_LOG" ||
	fail "deny: no refusal logged ($(cat "$T/deny.err"))"
note "nbdinfo: size, flags, list, ro and net= as configured"

# ringfs-nbd's own handshake (the swap route's attach daemon)
if [ -n "$RINGFS_NBD" ]; then
	out=$("$RINGFS_NBD" -n "127.0.0.1:$NBD_PORT/rw" 2>&1) ||
		fail "ringfs-nbd -n rw: $out"
	case $out in *" 16777216 bytes"*) ;; *) fail "ringfs-nbd -n rw: '$out'" ;; esac
	case $out in *read-only*) fail "ringfs-nbd -n rw: read-only? '$out'" ;; esac
	out=$("$RINGFS_NBD" -n "127.0.0.1:$NBD_PORT/ro" 2>&1) ||
		fail "ringfs-nbd -n ro: $out"
	case $out in *" 1048576 bytes"*"(read-only)"*) ;; *) fail "ringfs-nbd -n ro: '$out'" ;; esac
	out=$("$RINGFS_NBD" -n "127.0.0.1:$NBD_PORT/nosuch" 2>&1) &&
		fail "ringfs-nbd -n: an unknown export accepted: $out"
	case $out in *"no NBD export 'nosuch'"*) ;; *) fail "ringfs-nbd unknown: '$out'" ;; esac
	out=$("$RINGFS_NBD" -n "127.0.0.1:$NBD_PORT/deny" 2>&1) &&
		fail "ringfs-nbd -n: net= did not refuse: $out"
	case $out in *"refused export 'deny'"*"net="*) ;; *) fail "ringfs-nbd deny: '$out'" ;; esac
	out=$("$RINGFS_NBD" -n "127.0.0.1/rw" 2>&1) && fail "ringfs-nbd: no port accepted"
	case $out in *"no port"*) ;; *) fail "ringfs-nbd no port: '$out'" ;; esac
	note "ringfs-nbd -n: size, read-only, unknown export, net= refusal, bad target"
fi

# data through a real client, compared with the export's file
head -c 3M /dev/urandom >"$T/ref" || fail "random data"
qemu-img convert -n -f raw -O raw "$T/ref" "$URI/rw" ||
	fail "qemu-img convert to NBD"
cmp -n 3145728 "$T/ref" "$T/rw/disk.img" || fail "written data differs in the export"
qemu-img convert -f raw -O raw "$URI/rw" "$T/back" || fail "qemu-img from NBD"
cmp -n 3145728 "$T/ref" "$T/back" || fail "data read back through NBD differs"
[ "$(stat -c %s "$T/back")" = 16777216 ] || fail "image size read back"
qemu-io -f raw -c "write -f -P 0x5a 1M 64k" -c "discard 2M 64k" -c flush \
	-c "read -P 0x5a 1M 64k" -c "read -P 0 2M 64k" "$URI/rw" \
	>"$T/qemu-io.log" 2>&1 || fail "qemu-io: $(cat "$T/qemu-io.log")"
! grep -qi "fail\|error\|mismatch" "$T/qemu-io.log" ||
	fail "qemu-io: $(cat "$T/qemu-io.log")"
qemu-io -f raw -c "write 0 4k" "$URI/ro" >"$T/ro-write.log" 2>&1 || true
grep -qi "not permitted\|read-only\|permission" "$T/ro-write.log" ||
	fail "write to the ro export: $(cat "$T/ro-write.log")"
note "qemu-img/qemu-io: 3 MiB written and read back, FUA, TRIM, FLUSH, ro refused"

# hostile input; then a real client must still be served
python3 "$HERE/nbd_hostile.py" 127.0.0.1 "$NBD_PORT" rw ro deny "${RFS_SEED:-$RANDOM}" \
	>"$T/hostile.log" 2>&1 || fail "nbd_hostile.py: $(grep -v '^ok' "$T/hostile.log")"
grep -c '^ok' "$T/hostile.log" | sed 's/^/# hostile cases passed: /'
kill -0 "$RFS_SERVER_PID" || fail "ringfsd died under hostile input"
qemu-img convert -f raw -O raw "$URI/ro" "$T/ro-back" || fail "after hostile: read ro"
cmp -n 4096 "$T/ro/pattern" "$T/ro-back" || fail "after hostile: ro data differs"
note "after hostile input: a real client is served"

rfs_ringfsd_stop
echo "PASS nbd"
