#!/bin/bash
# SPDX-License-Identifier: MIT
# usermount: an unprivileged user (nobody) mounts with an ordinary ringfs
# (fusermount3) from the server's TCP address, as README's first example:
#   - transport=auto finds the Unix socket (HELLO over TCP is answered
#     with "identities refused", PATHS still works) and mounts over it:
#     the user acts as itself: its own files, a victim's 0600 file in a
#     0700 directory unreadable;
#   - transport=tcp from its unprivileged port is refused, with a message
#     saying what to do, and the server's log names the connection;
#   - the same on an untrusted=squash export mounts, and everything runs
#     as the export's anonymous user.
# Root's own mounts (multiuser, every other case) act as the caller.
. "$(dirname "$0")/lib.sh" "$@"

command -v setpriv >/dev/null || skip "setpriv not installed"
fm=$(command -v fusermount3)
[ -u "$fm" ] || skip "$fm is not setuid root: no unprivileged FUSE mounts"
NOB=65534
as_nobody() { setpriv --reuid=$NOB --regid=$NOB --clear-groups "$@"; }
as_nobody test -x "$RINGFS" || skip "nobody cannot run $RINGFS"

chmod 1777 "$EXPORT"
mkdir -m 0700 "$EXPORT/vic"
echo victim >"$EXPORT/vic/secret"
chmod 0600 "$EXPORT/vic/secret"
chown -R 1000:1000 "$EXPORT/vic"
echo public >"$EXPORT/pub"
chmod 0644 "$EXPORT/pub"
UM=$T/umnt
mkdir -m 0755 "$UM"
chown $NOB:$NOB "$UM"

export RINGFS_DEBUG=client
# RFS_TRANSPORT shm: the lib's server also listens on $T/ringfsd.sock
[ "$RFS_TRANSPORT" = shm ] || skip "wants shm (got $RFS_TRANSPORT)"
sock=$T/ringfsd.sock
rfs_start_server "$EXPORT" \
	--export "sq=$EXPORT,untrusted=squash,anonuid=2000,anongid=2000"
src=$RFS_ADDR:$RFS_PORT

# umount_nobody: as the user who mounted it
umount_nobody() {
	as_nobody fusermount3 -u "$UM" || fail "fusermount3 -u $UM as nobody"
	! rfs_is_mounted "$UM" || fail "$UM still mounted"
}

# ---- transport=auto: over the Unix socket, as itself ------------------
RFS_MOUNTS+=("$UM")
st=0
as_nobody timeout 60 "$RINGFS" "$src:/data" "$UM" \
	>>"$T/client.log" 2>&1 </dev/null || st=$?
[ "$st" = 0 ] || fail "nobody's ringfs $src:/data (transport=auto) exited $st"
rfs_is_mounted "$UM" || fail "nobody's auto mount is not there"
grep -q "transport auto: shm through unix:$sock" "$T/client.log" ||
	fail "auto did not pick shm: $(grep 'transport auto' "$T/client.log")"
[ "$(as_nobody cat "$UM/pub")" = public ] || fail "nobody cannot read pub"
if as_nobody cat "$UM/vic/secret" >/dev/null 2>&1; then
	fail "nobody read uid 1000's 0600 file through its own mount"
fi
as_nobody sh -c "echo mine > '$UM/mine'" || fail "nobody cannot create"
[ "$(stat -c %u:%g "$EXPORT/mine")" = $NOB:$NOB ] ||
	fail "nobody's file is owned by $(stat -c %u:%g "$EXPORT/mine")"
as_nobody rm "$UM/mine" || fail "nobody cannot remove its file"
umount_nobody
note "nobody's auto mount: itself over the Unix socket"

# ---- transport=tcp, unprivileged source port: refused -----------------
st=0
as_nobody timeout 60 "$RINGFS" "$src:/data" "$UM" -o transport=tcp \
	>"$T/refused.log" 2>&1 </dev/null || st=$?
[ "$st" != 0 ] || fail "nobody's tcp mount was not refused"
! rfs_is_mounted "$UM" || fail "a refused mount is mounted"
grep -q "does not let this client act as its users on export 'data'" \
	"$T/refused.log" || fail "no clear refusal: $(cat "$T/refused.log")"
note "nobody's tcp mount refused: $(head -n 1 "$T/refused.log")"

# ---- transport=tcp, untrusted=squash: everything as anonuid -----------
st=0
as_nobody timeout 60 "$RINGFS" "$src:/sq" "$UM" -o transport=tcp \
	>"$T/squash.log" 2>&1 </dev/null || st=$?
[ "$st" = 0 ] || fail "nobody's tcp mount of sq exited $st"
grep -q "as its anonymous user (untrusted=squash)" "$T/squash.log" ||
	fail "no note about squashing: $(cat "$T/squash.log")"
[ "$(as_nobody cat "$UM/pub")" = public ] || fail "squashed: cannot read pub"
if as_nobody cat "$UM/vic/secret" >/dev/null 2>&1; then
	fail "squashed: read uid 1000's 0600 file"
fi
as_nobody sh -c "echo anon > '$UM/anon'" || fail "squashed: cannot create"
[ "$(stat -c %u:%g "$EXPORT/anon")" = 2000:2000 ] ||
	fail "squashed file owned by $(stat -c %u:%g "$EXPORT/anon")"
umount_nobody

rfs_stop_server
wait # the server log's reader ends with the server
grep -q "HELLO for export data: may not act as its users (no key" \
	"$RFS_SERVER_LOG" || fail "the server did not log the refused peer"
echo "PASS usermount"
