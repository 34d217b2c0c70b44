#!/bin/bash
# SPDX-License-Identifier: MIT
#
# debpkg.sh SRCDIR: the Debian packages, end to end, on this machine.
#
#   1. copy the source tree (no build directories, no .git) to a scratch
#      directory and build there with dpkg-buildpackage -us -uc -b: the
#      build trees and binaries the other tests use are never touched;
#   2. lintian: no error or warning (remaining tags are justified in
#      debian/*.lintian-overrides);
#   3. install ringfs and ringfs-server with dpkg -i: the files are where
#      Debian puts them, /etc/ringfs/exports.conf is a conffile, the
#      state directory is root's only;
#   4. the demo from the installed files: /usr/sbin/ringfsd serves a
#      scratch export on loopback (port 0), mount -t ringfs mounts it (so
#      /usr/sbin/mount.ringfs and /usr/bin/ringfs), a file written
#      through the mount is read back and is in the export, ringfsctl
#      ping and ringfsctl mounts answer, unmount;
#   5. root over ringfs from the installed files (issue 14):
#      tests/root/rootboot.sh --installed builds the initramfs with
#      `update-initramfs -c -k KVER` for the VM's Debian kernel, through
#      /etc/initramfs-tools with the packaged hook, boot script and client
#      (in a private mount namespace: /boot and conf.d/ringfs are the
#      namespace's), and boots the VM from it, root served by the packaged
#      ringfsd: init runs on the ringfs root, @ringfs in ps, power-off;
#   6. dpkg --purge: every file the packages installed is gone, and so
#      are /etc/ringfs and /var/lib/ringfsd; /boot, /etc/initramfs-tools
#      and /var/lib/initramfs-tools hold what they held before step 3.
# The packages are purged whatever happens (trap).  Skipped (77) without
# root, dpkg-buildpackage, debhelper or lintian, or if ringfs packages
# are installed already (this test would replace and purge them); when
# only step 5 cannot run (no VM, no update-initramfs), the other steps
# run and the test exits 77 with step 5's reason.
set -u
SRC=$(cd "${1:?usage: debpkg.sh SRCDIR}" && pwd)
PKGS=(ringfs ringfs-server)

note() { echo "debpkg: $*"; }
skip() {
	echo "SKIP: debpkg: $*"
	exit 77
}
T=
SPID=
MNT=
INSTALLED=0
fail() {
	echo "FAIL: debpkg: $*"
	[ -n "$T" ] && [ -s "$T/server.log" ] && { echo "--- ringfsd"; tail -n 20 "$T/server.log"; }
	exit 1
}
installed() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed; }
cleanup() {
	local p
	if [ -n "$MNT" ] && grep -q " $MNT " /proc/mounts; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	if [ "$INSTALLED" = 1 ]; then
		for p in "${PKGS[@]}"; do
			if dpkg-query -W "$p" >/dev/null 2>&1; then
				dpkg --purge "$p" >/dev/null 2>&1 || echo "debpkg: WARNING: dpkg --purge $p failed"
			fi
		done
	fi
	# a state directory that was here before (another ringfsd's, run
	# with the default --state-dir) is put back as it was
	if [ -n "$T" ] && [ -d "$T/varlib-ringfsd" ] && [ ! -e /var/lib/ringfsd ]; then
		cp -a "$T/varlib-ringfsd" /var/lib/ringfsd || echo "debpkg: WARNING: cannot restore /var/lib/ringfsd from $T/varlib-ringfsd"
	fi
	[ -n "$T" ] && rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

[ "$(id -u)" = 0 ] || skip "needs root (installs the packages)"
for c in dpkg-buildpackage dh lintian fakeroot; do
	command -v "$c" >/dev/null || skip "$c not installed (tests/run-all installs dpkg-dev, debhelper, lintian, fakeroot)"
done
[ -e /dev/fuse ] || skip "no /dev/fuse"
for p in "${PKGS[@]}"; do
	dpkg-query -W "$p" >/dev/null 2>&1 &&
		skip "package $p is on this machine already; this test would replace and purge it"
done

T=$(mktemp -d /tmp/ringfs-debpkg.XXXXXX) || fail "mktemp"
chmod 755 "$T"
VER=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version) || fail "cannot read debian/changelog"
B=$T/ringfs-$VER
mkdir "$B" || fail "mkdir $B"
# the source as a release tarball would have it
tar -C "$SRC" --exclude=./.git --exclude='./build*' --exclude='./obj-*' \
	--exclude=./debian/.debhelper --exclude=./debian/tmp --exclude=./debian/files \
	--exclude=./debian/ringfs --exclude=./debian/ringfs-server \
	--exclude='./debian/*.substvars' --exclude='./debian/*debhelper.log' \
	--exclude='./debian/ringfs*-dbgsym' -cf - . | tar -C "$B" -xf - || fail "copy the source tree"

# ---- 1. build -----------------------------------------------------------
t0=$SECONDS
(cd "$B" && dpkg-buildpackage -us -uc -b -j2) >"$T/build.log" 2>&1 || {
	tail -n 40 "$T/build.log"
	fail "dpkg-buildpackage -us -uc -b failed"
}
note "dpkg-buildpackage: $((SECONDS - t0)) s"
ARCH=$(dpkg --print-architecture)
for p in "${PKGS[@]}"; do
	[ -s "$T/${p}_${VER}_$ARCH.deb" ] || fail "no $p package built"
done

# ---- 2. lintian ---------------------------------------------------------
lintian --fail-on error,warning "$T/ringfs_${VER}_$ARCH.changes" >"$T/lintian.log" 2>&1 || {
	cat "$T/lintian.log"
	fail "lintian reports errors or warnings"
}
grep -E '^[EW]: ' "$T/lintian.log" && fail "lintian reports errors or warnings"
note "lintian: no errors or warnings"

# ---- 3. install ---------------------------------------------------------
# what installing, update-initramfs and purging must leave as it was (the
# package's dpkg trigger may regenerate an existing initrd: names and
# configuration only)
initramfs_state() {
	local d
	for d in /boot /etc/initramfs-tools /var/lib/initramfs-tools; do
		[ -e "$d" ] || { echo "$d absent"; continue; }
		find "$d" -xdev -printf '%p %y %m\n'
		find "$d" -xdev -type f -path '/etc/*' -exec md5sum {} +
	done | sort
}
initramfs_state >"$T/initramfs-before" || fail "cannot list /boot and /etc/initramfs-tools"
had_state=0
if [ -e /var/lib/ringfsd ]; then
	cp -a /var/lib/ringfsd "$T/varlib-ringfsd" || fail "cannot save /var/lib/ringfsd"
	had_state=1
fi
INSTALLED=1
dpkg -i "$T/ringfs_${VER}_$ARCH.deb" "$T/ringfs-server_${VER}_$ARCH.deb" >"$T/install.log" 2>&1 || {
	cat "$T/install.log"
	fail "dpkg -i failed"
}
for p in "${PKGS[@]}"; do
	installed "$p" || fail "$p is not installed after dpkg -i"
	dpkg -L "$p" >"$T/files-$p" || fail "dpkg -L $p"
done
for f in /usr/bin/ringfs /usr/bin/ringfsctl /usr/sbin/mount.ringfs /usr/sbin/ringfsd; do
	[ -x "$f" ] || fail "$f not installed or not executable"
done
for f in /usr/share/man/man8/{ringfs,mount.ringfs,ringfsctl,ringfsd}.8.gz \
	/usr/share/initramfs-tools/scripts/ringfs /lib/systemd/system/ringfsd.service; do
	[ -f "$f" ] || fail "$f not installed"
done
[ -x /usr/share/initramfs-tools/hooks/ringfs ] || fail "the initramfs hook is not installed executable"
# a new hook or client reaches the initramfs: installing, upgrading and
# removing the package run update-initramfs -u (initramfs-tools' trigger)
dpkg-deb -I "$T/ringfs_${VER}_$ARCH.deb" triggers 2>/dev/null | grep -qx 'activate-noawait update-initramfs' ||
	fail "the ringfs package does not activate the update-initramfs trigger"
if installed initramfs-tools; then
	grep -q '^Processing triggers for initramfs-tools' "$T/install.log" ||
		fail "dpkg -i did not run initramfs-tools' trigger: $(cat "$T/install.log")"
fi
dpkg-query -W -f='${Conffiles}\n' ringfs-server | grep -q '^ /etc/ringfs/exports.conf ' ||
	fail "/etc/ringfs/exports.conf is not a conffile of ringfs-server"
[ "$(stat -c '%a %U' /var/lib/ringfsd)" = "700 root" ] || fail "/var/lib/ringfsd is not root's only: $(stat -c '%a %U' /var/lib/ringfsd)"
grep -q '^ExecStart=/usr/sbin/ringfsd --config /etc/ringfs/exports.conf' /lib/systemd/system/ringfsd.service ||
	fail "the unit does not run the installed ringfsd"
/usr/bin/ringfs --version | grep -q "^ringfs $(echo "$VER" | sed 's/-.*//') " || fail "ringfs --version: $(/usr/bin/ringfs --version)"
note "installed: $(cat "$T"/files-* | wc -l) paths"

# ---- 4. the demo, from the installed files ------------------------------
E=$T/export
MNT=$T/mnt
mkdir -p "$E" "$MNT" "$T/state" || fail "mkdir"
/usr/sbin/ringfsd --listen 127.0.0.1:0 --state-dir "$T/state" \
	--export "data=$E,no_root_squash" >"$T/server.log" 2>&1 &
SPID=$!
PORT=
for _ in $(seq 100); do
	PORT=$(sed -n 's/^ringfsd: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/server.log")
	[ -n "$PORT" ] && break
	kill -0 "$SPID" 2>/dev/null || fail "the installed ringfsd did not start"
	sleep 0.1
done
[ -n "$PORT" ] || fail "ringfsd printed no ready line"
SRCSPEC=127.0.0.1:$PORT:/data
mount -t ringfs "$SRCSPEC" "$MNT" -o transport=tcp >"$T/mount.log" 2>&1 || {
	cat "$T/mount.log"
	fail "mount -t ringfs $SRCSPEC failed"
}
grep -q "^$SRCSPEC $MNT fuse.ringfs " /proc/mounts || fail "no fuse.ringfs line for $MNT in /proc/mounts"
# the daemon is the installed client, started by the installed helper
pid=$(/usr/bin/ringfsctl mounts | awk -v m="$MNT" '$1 == m { print $NF }')
[[ "$pid" =~ ^[0-9]+$ ]] || pid=
[ -n "$pid" ] || fail "ringfsctl mounts gives no pid for $MNT: $(/usr/bin/ringfsctl mounts)"
[ "$(readlink "/proc/$pid/exe")" = /usr/bin/ringfs ] || fail "the mount is served by $(readlink "/proc/$pid/exe"), not /usr/bin/ringfs"
head -c 100000 /dev/urandom >"$T/data" || fail "random data"
cp "$T/data" "$MNT/file" || fail "write through the mount"
cmp "$T/data" "$MNT/file" || fail "read back through the mount differs"
cmp "$T/data" "$E/file" || fail "the export's file differs from what was written"
ls -l "$MNT" | grep -q ' file$' || fail "ls of the mount has no file"
/usr/bin/ringfsctl ping -c 3 -i 10 "$SRCSPEC" >"$T/ping.log" 2>&1 || {
	cat "$T/ping.log"
	fail "ringfsctl ping failed"
}
grep -q '3 sent, 3 received' "$T/ping.log" || fail "ringfsctl ping: $(tail -n 3 "$T/ping.log")"
umount "$MNT" || fail "umount $MNT"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "ringfs (pid $pid) still runs 10 s after the unmount"
MNT=
kill "$SPID" && wait "$SPID" || fail "ringfsd did not exit 0 on SIGTERM"
SPID=
note "demo from the installed files: mount -t ringfs, write, read back, ringfsctl ping, umount: ok"

# ---- 5. root over ringfs: update-initramfs with the installed hook, VM --
ROOT_SKIP=
bash "$SRC/tests/root/rootboot.sh" --installed "$SRC" 2>&1 | tee "$T/rootboot.log"
rc=${PIPESTATUS[0]}
case $rc in
0) note "root over ringfs from the packages' initramfs (update-initramfs): ok" ;;
77)
	ROOT_SKIP=$(sed -n 's/^SKIP: rootboot: //p' "$T/rootboot.log" | tail -n 1)
	ROOT_SKIP=${ROOT_SKIP:-rootboot.sh --installed exited 77}
	;;
*) fail "root over ringfs from the packages' initramfs: rootboot.sh --installed exited $rc" ;;
esac

# ---- 6. purge -----------------------------------------------------------
dpkg --purge "${PKGS[@]}" >"$T/purge.log" 2>&1 || {
	cat "$T/purge.log"
	fail "dpkg --purge failed"
}
INSTALLED=0
for p in "${PKGS[@]}"; do
	dpkg-query -W "$p" >/dev/null 2>&1 && fail "$p still known to dpkg after purge: $(dpkg-query -W -f='${db:Status-Abbrev}' "$p")"
done
left=$(cat "$T"/files-* | while read -r f; do
	[ -e "$f" ] && [ ! -d "$f" ] && echo "$f"
done)
[ -z "$left" ] || fail "files left after purge: $left"
for d in /etc/ringfs /var/lib/ringfsd /usr/share/doc/ringfs /usr/share/doc/ringfs-server; do
	[ "$d" = /var/lib/ringfsd ] && [ "$had_state" = 1 ] && continue # restored at exit
	[ -e "$d" ] && fail "$d left after purge"
done
initramfs_state >"$T/initramfs-after" || fail "cannot list /boot and /etc/initramfs-tools"
diff "$T/initramfs-before" "$T/initramfs-after" >"$T/initramfs.diff" ||
	fail "/boot, /etc/initramfs-tools or /var/lib/initramfs-tools changed: $(head -n 10 "$T/initramfs.diff")"
note "purged: nothing left; /boot and the initramfs-tools configuration as before"
if [ -n "$ROOT_SKIP" ]; then
	echo "SKIP: debpkg: build, lintian, install, demo and purge passed, but not the root boot from the packages' initramfs: $ROOT_SKIP"
	exit 77
fi
echo "PASS: debpkg"
exit 0
