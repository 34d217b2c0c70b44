#!/bin/bash
# SPDX-License-Identifier: MIT
#
# rootboot.sh SRCDIR BUILDDIR: boot a VM whose root filesystem is a ringfs
# export, the way a real machine would (issue 14, "Root over ringfs"):
#
#   - Debian's kernel (tests/vm/vmrun's cache) with an initramfs built by
#     initramfs-tools' mkinitramfs from this host's files, with
#     contrib/initramfs-tools/hooks/ringfs and scripts/ringfs in a private
#     configuration directory (mkinitramfs -d), the key file included;
#   - kernel command line boot=ringfs ringfsroot=10.0.2.100:7070:/root
#     ip=...: the initramfs brings the network up, mounts the root with
#     ringfs -o rootfs and switches to it;
#   - the server is a ringfsd on this host's loopback (--key-file), reached
#     through QEMU user networking with restrict=on (the guest reaches
#     nothing) and one guestfwd: 10.0.2.100:7070 in the guest runs
#     "socat - TCP:127.0.0.1:PORT" per connection;
#   - the root is a busybox tree built here; its /sbin/init records its
#     uptime (boot time to init over ringfs), `ps` and /proc/mounts into
#     /marker, syncs and powers off.
#
# Passes when the VM powers off by itself and the export holds /marker
# written by the guest's init, with @ringfs in its ps and the root mounted
# fuse.ringfs.  Exit 77 (with the reason) where no VM can start.
set -u
SRC=$(cd "${1:?usage: rootboot.sh SRCDIR BUILDDIR}" && pwd)
BUILD=$(cd "${2:?usage: rootboot.sh SRCDIR BUILDDIR}" && pwd)
RINGFS=$BUILD/client/ringfs
RINGFSD=$BUILD/server/ringfsd
VM_TIMEOUT=${RFS_ROOT_VM_TIMEOUT:-600}

note() { echo "rootboot: $*"; }
skip() {
	echo "SKIP: rootboot: $*"
	exit 77
}
T=
MADE_DIRS=
SPID=
QPID=
fail() {
	echo "FAIL: rootboot: $*"
	if [ -n "$T" ]; then
		[ -s "$T/console.log" ] && { echo "--- guest console (last 60 lines)"; tail -n 60 "$T/console.log"; }
		[ -s "$T/qemu.log" ] && { echo "--- qemu"; tail -n 20 "$T/qemu.log"; }
		[ -s "$T/server.log" ] && { echo "--- ringfsd"; tail -n 30 "$T/server.log"; }
		[ -s "$T/mkinitramfs.log" ] && { echo "--- mkinitramfs"; tail -n 20 "$T/mkinitramfs.log"; }
	fi
	exit 1
}
cleanup() {
	[ -n "$QPID" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	[ -n "$T" ] && rm -rf "$T"
	for d in $MADE_DIRS; do rmdir "$d"; done
}
trap cleanup EXIT
[ -n "${RFS_KEEP:-}" ] && trap - EXIT

[ "$(id -u)" = 0 ] || skip "needs root (mkinitramfs with the VM kernel's modules in a private mount namespace)"
[ -x "$RINGFS" ] && [ -x "$RINGFSD" ] || skip "ringfs or ringfsd not built"
for p in qemu-system-x86_64 mkinitramfs socat unshare; do
	command -v "$p" >/dev/null || skip "$p not installed (tests/run-all installs qemu-system-x86, initramfs-tools-core, socat)"
done
[ -x /bin/busybox ] || skip "/bin/busybox missing (busybox-static)"

# ---- the kernel: tests/vm/vmrun's cache ---------------------------------
prep=$(bash "$SRC/tests/vm/vmrun" --prepare 2>&1) || skip "no VM: vmrun --prepare failed: $(echo "$prep" | tail -n 3)"
ready=$(echo "$prep" | grep 'vmrun: ready:' | tail -n 1)
KVER=$(echo "$ready" | sed -n 's/.*ready: kernel \([^ ]*\) (\(.*\)), initramfs .*, accel \(.*\)$/\1/p')
KDIR=$(echo "$ready" | sed -n 's/.*ready: kernel \([^ ]*\) (\(.*\)), initramfs .*, accel \(.*\)$/\2/p')
ACCEL=$(echo "$ready" | sed -n 's/.*ready: kernel \([^ ]*\) (\(.*\)), initramfs .*, accel \(.*\)$/\3/p')
[ -n "$KVER" ] && [ -d "$KDIR/lib/modules/$KVER" ] || skip "no VM kernel: cannot read vmrun --prepare's answer: $ready"
KIMG=$KDIR/boot/vmlinux-$KVER # PVH entry: no in-guest decompression
[ -s "$KIMG" ] || KIMG=$KDIR/boot/vmlinuz-$KVER

T=$(mktemp -d /tmp/ringfs-rootboot.XXXXXX) || fail "mktemp"
chmod 755 "$T"

# ---- the root tree: static busybox and an init that reports -------------
R=$T/root
mkdir -p "$R"/{bin,sbin,etc,proc,sys,dev,run,tmp,root} || fail "mkdir $R"
cp /bin/busybox "$R/bin/busybox" || fail "cp busybox"
ln -s busybox "$R/bin/sh"
cat >"$R/sbin/init" <<'EOF'
#!/bin/busybox sh
# PID 1 on the ringfs root: report, sync, power off
B=/bin/busybox
read -r up _ </proc/uptime
{
	echo "uptime-at-init $up"
	echo "--- ps"
	$B ps -o pid,comm,args
	echo "--- mounts"
	$B cat /proc/mounts
	echo "--- the daemon"
	for p in /proc/[0-9]*; do
		read -r c <$p/comm
		[ "$c" = @ringfs ] || continue
		echo "oom_score_adj $(cat $p/oom_score_adj)"
		$B grep -E '^VmLck' $p/status
		break
	done
	echo "--- kmsg"
	$B dmesg | $B grep -i ringfs
} >/marker.tmp 2>&1
$B mv /marker.tmp /marker
$B sync
echo "ROOTBOOT: init done at $up s" >/dev/console
$B poweroff -f
EOF
chmod 755 "$R/sbin/init"

# ---- the server ---------------------------------------------------------
head -c 32 /dev/urandom >"$T/key" && chmod 600 "$T/key" || fail "key file"
"$RINGFSD" --listen 127.0.0.1:0 --key-file "$T/key" --state-dir "$T/state" \
	--export "root=$R,no_root_squash" >"$T/server.log" 2>&1 &
SPID=$!
PORT=
for _ in $(seq 100); do
	PORT=$(sed -n 's/^ringfsd: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/server.log")
	[ -n "$PORT" ] && break
	kill -0 "$SPID" 2>/dev/null || fail "ringfsd did not start"
	sleep 0.1
done
[ -n "$PORT" ] || fail "ringfsd printed no ready line"
note "ringfsd on 127.0.0.1:$PORT exports $R"

# ---- the initramfs: mkinitramfs with the hook, in a private conf dir ----
C=$T/conf
mkdir -p "$C/hooks" "$C/scripts" "$C/conf.d" || fail "mkdir $C"
cat >"$C/initramfs.conf" <<'EOF'
MODULES=list
BUSYBOX=y
COMPRESS=gzip
COMPRESSLEVEL=1
EOF
printf '%s\n' virtio_pci virtio_net >"$C/modules"
cat >"$C/conf.d/ringfs" <<EOF
RINGFS_INITRAMFS=yes
RINGFS_CLIENT=$RINGFS
RINGFS_KEY_FILE=$T/key
EOF
cp "$SRC/contrib/initramfs-tools/hooks/ringfs" "$C/hooks/ringfs" &&
	cp "$SRC/contrib/initramfs-tools/scripts/ringfs" "$C/scripts/ringfs" &&
	chmod 755 "$C/hooks/ringfs" || fail "copy the hook and script"
# mkinitramfs takes modules from /lib/modules/KVER only: show it the VM
# kernel's there, in a mount namespace of its own (the host is untouched;
# a container may lack /lib/modules: made, and removed again at the end)
# (and reads the kernel's config from /boot)
MODS=$(readlink -f /lib/modules)
for d in "$MODS" /boot; do
	if [ ! -d "$d" ]; then
		mkdir "$d" || fail "mkdir $d"
		MADE_DIRS="$d $MADE_DIRS"
	fi
done
t0=$(date +%s.%N)
unshare -m --propagation private sh -c '
	mount -t tmpfs tmpfs "$5" && mkdir "$5/$3" &&
	mount -t tmpfs tmpfs /boot && cp "$2/boot/config-$3" /boot/ &&
	mount --bind "$2/lib/modules/$3" "$5/$3" &&
	mkinitramfs -d "$1" -o "$4" "$3"' sh "$C" "$KDIR" "$KVER" "$T/initrd.img" "$MODS" \
	>"$T/mkinitramfs.log" 2>&1 || fail "mkinitramfs failed"
t1=$(date +%s.%N)
note "mkinitramfs: $(du -k "$T/initrd.img" | cut -f1) KiB in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
# the image holds what the hook promised
lsinitramfs "$T/initrd.img" >"$T/initrd.list" 2>/dev/null || fail "lsinitramfs"
for f in sbin/ringfs scripts/ringfs etc/ringfs/root.key "lib/modules/$KVER/kernel/fs/fuse/fuse.ko"; do
	grep -qx "$f" "$T/initrd.list" || grep -qx "usr/$f" "$T/initrd.list" ||
		fail "the initramfs has no $f"
done
grep -q 'libgcc_s.so.1$' "$T/initrd.list" || fail "the initramfs has no libgcc_s.so.1"

# ---- boot ---------------------------------------------------------------
CPU=max
[ "$ACCEL" = kvm ] && CPU=host
CMDLINE="console=ttyS0 panic=-1 oops=panic mitigations=off i8042.noaux i8042.nokbd i8042.nopnp"
[ "$ACCEL" = tcg ] && CMDLINE+=" tsc=reliable"
CMDLINE+=" boot=ringfs ringfsroot=10.0.2.100:7070:/root rw net.ifnames=0"
CMDLINE+=" ip=10.0.2.15::10.0.2.2:255.255.255.0:ringfsroot:eth0:off"
QARGS=(qemu-system-x86_64 -name ringfs-root -machine pc -accel "$ACCEL" -cpu "$CPU"
	-smp 2 -m 1G -nodefaults -no-user-config -display none -no-reboot
	-kernel "$KIMG" -initrd "$T/initrd.img" -append "$CMDLINE"
	-serial "file:$T/console.log"
	-nic "user,model=virtio-net-pci,restrict=on,guestfwd=tcp:10.0.2.100:7070-cmd:socat - TCP:127.0.0.1:$PORT")
[ -r /usr/share/qemu/qboot.rom ] && QARGS+=(-bios /usr/share/qemu/qboot.rom)
note "booting ($ACCEL, kernel $KVER): ${CMDLINE#*mitigations=off }"
t0=$(date +%s.%N)
setpriv --pdeathsig KILL "${QARGS[@]}" </dev/null >"$T/qemu.log" 2>&1 &
QPID=$!
deadline=$((SECONDS + VM_TIMEOUT))
while kill -0 "$QPID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
	sleep 0.5
done
kill -0 "$QPID" 2>/dev/null && fail "the VM did not power off within ${VM_TIMEOUT} s"
wait "$QPID"
qrc=$?
QPID=
t1=$(date +%s.%N)
note "VM ran $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s (qemu exit $qrc)"
grep -q 'Kernel panic' "$T/console.log" && fail "kernel panic in the guest"
[ -s "$R/marker" ] || fail "no /marker in the export: the guest's init did not run on the ringfs root"
echo "--- /marker (written by the guest's init; kernel threads left out)"
grep -v ' \[.*\]$' "$R/marker"
echo "---"
grep -q '^uptime-at-init ' "$R/marker" || fail "marker has no uptime"
grep -Eq '^ *[0-9]+ +@ringfs ' "$R/marker" || fail "ps in the guest shows no @ringfs"
grep -Eq '^10\.0\.2\.100:7070:/root / fuse\.ringfs ' "$R/marker" ||
	fail "the guest's root is not the ringfs mount"
grep -qx 'oom_score_adj -1000' "$R/marker" || fail "the daemon's oom_score_adj is not -1000"
grep -Eq '^VmLck:[[:space:]]+[1-9][0-9]* kB' "$R/marker" || fail "the daemon has no locked memory (mlockall)"
note "boot to init over ringfs: $(sed -n 's/^uptime-at-init //p' "$R/marker") s of guest uptime"
echo "PASS: rootboot"
exit 0
