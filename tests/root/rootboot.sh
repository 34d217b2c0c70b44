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
#     "socat -lf /dev/null - TCP:127.0.0.1:PORT" (its messages off the stream) per connection;
#   - the root is a busybox tree built here; its /sbin/init records its
#     uptime (boot time to init over ringfs), `ps` and /proc/mounts into
#     /marker, syncs and powers off.
#
# rootboot.sh --installed SRCDIR: the same busybox boot (case (a) only:
# one VM) from the installed Debian packages, as tests/pkg/debpkg.sh runs
# it while they are installed: the initramfs is built by
# `update-initramfs -c -k KVER` through the standard configuration
# (/etc/initramfs-tools, the packaged hook and boot script under
# /usr/share/initramfs-tools, /usr/bin/ringfs), the ringfs settings in
# /etc/initramfs-tools/conf.d/ringfs where a user puts them; the server is
# /usr/sbin/ringfsd.  Everything update-initramfs writes (/boot,
# /etc/initramfs-tools/conf.d) lives in a private mount namespace; the test
# fails if /boot, /etc/initramfs-tools, /var/lib/initramfs-tools or
# /lib/modules differ afterwards.
#
# Passes when the VM powers off by itself and the export holds /marker
# written by the guest's init, with @ringfs in its ps and the root mounted
# fuse.ringfs.  Exit 77 (with the reason) where no VM can start.
set -u
USAGE="usage: rootboot.sh SRCDIR BUILDDIR | rootboot.sh --installed SRCDIR"
INSTALLED=0
if [ "${1:-}" = --installed ]; then
	INSTALLED=1
	shift
fi
SRC=$(cd "${1:?$USAGE}" && pwd)
if [ "$INSTALLED" = 1 ]; then
	RINGFS=/usr/bin/ringfs
	RINGFSD=/usr/sbin/ringfsd
	HOOK=/usr/share/initramfs-tools/hooks/ringfs
	BOOTSCRIPT=/usr/share/initramfs-tools/scripts/ringfs
else
	BUILD=$(cd "${2:?$USAGE}" && pwd)
	RINGFS=$BUILD/client/ringfs
	RINGFSD=$BUILD/server/ringfsd
	HOOK=$SRC/contrib/initramfs-tools/hooks/ringfs
	BOOTSCRIPT=$SRC/contrib/initramfs-tools/scripts/ringfs
fi
VM_TIMEOUT=${RFS_ROOT_VM_TIMEOUT:-600}

note() { echo "rootboot: $*"; }
skip() {
	echo "SKIP: rootboot: $*"
	exit 77
}
T=
MADE_DIRS=
MOUNTS=
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
	for m in $MOUNTS; do umount "$m" || umount -l "$m"; done
	[ -n "$T" ] && rm -rf --one-file-system "$T"
	for d in $MADE_DIRS; do rmdir "$d"; done
}
trap cleanup EXIT
[ -n "${RFS_KEEP:-}" ] && trap - EXIT

[ "$(id -u)" = 0 ] || skip "needs root (mkinitramfs with the VM kernel's modules in a private mount namespace)"
if [ "$INSTALLED" = 1 ]; then
	[ -x "$RINGFS" ] && [ -x "$RINGFSD" ] && [ -x "$HOOK" ] && [ -f "$BOOTSCRIPT" ] ||
		skip "the ringfs and ringfs-server packages are not installed (tests/pkg/debpkg.sh runs --installed while they are)"
	command -v update-initramfs >/dev/null ||
		skip "update-initramfs not installed (initramfs-tools; tests/run-all installs it)"
else
	[ -x "$RINGFS" ] && [ -x "$RINGFSD" ] || skip "ringfs or ringfsd not built"
fi
for p in qemu-system-x86_64 mkinitramfs lsinitramfs unmkinitramfs socat unshare; do
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
# the workload while the host kills and restarts ringfsd: write, rename,
# read back, until /stop appears (at most 1200 rounds)
n=0 errs=0
while [ ! -e /stop ] && [ $n -lt 1200 ]; do
	f=/data.$((n % 4))
	$B seq "$n" $((n + 3000)) >"$f.tmp" && $B mv "$f.tmp" "$f" ||
		{ errs=$((errs + 1)); echo "write $n failed" >>/errors; }
	$B seq "$n" $((n + 3000)) | $B cmp -s - "$f" ||
		{ errs=$((errs + 1)); echo "read back $n differs" >>/errors; }
	n=$((n + 1))
	echo "$n" >/progress.tmp && $B mv /progress.tmp /progress
done
echo "rounds $n errors $errs" >/done
$B sync
echo "ROOTBOOT: init done at $up s" >/dev/console
$B poweroff -f
EOF
chmod 755 "$R/sbin/init"

# ---- the real userspace: this host's root, read-only, under an overlay --
# whose upper layer is a tmpfs here: what the guest writes lands in the
# export (the merged directory), the host's files stay as they are
H=$T/host
mkdir -p "$H/rw" "$H/merged" || fail "mkdir $H"
mount -t tmpfs -o size=512m,mode=0755 ringfs-rootboot "$H/rw" || fail "mount tmpfs on $H/rw"
MOUNTS="$H/rw"
mkdir -p "$H/rw/upper" "$H/rw/work" || fail "mkdir $H/rw/upper"
mount -t overlay -o "lowerdir=/,upperdir=$H/rw/upper,workdir=$H/rw/work" ringfs-rootboot "$H/merged" ||
	fail "mount overlay (lower /) on $H/merged"
MOUNTS="$H/merged $MOUNTS"
HM=$H/merged
V=$HM/ringfs-vmtest
mkdir -p "$V" || fail "mkdir $V"
# a container's marks (this host may be one) would make the guest's
# systemd believe it runs in a container: hidden in the overlay only
rm -f "$HM/.dockerenv" "$HM/run/.containerenv" || fail "hide the container marks"
# systemd runs this as kernel-command-line.service (systemd.run=) and
# powers off when it ends: a report and a file written
cat >"$V/run.sh" <<'RUN'
#!/bin/bash
V=/ringfs-vmtest
read -r up _ </proc/uptime
{
	echo "uptime-at-run $up"
	echo "--- ps"
	ps -eo pid,comm,args | grep -v ' \[.*\]$'
	echo "--- mounts"
	cat /proc/mounts
} >$V/report.tmp 2>&1
mv $V/report.tmp $V/report
echo "written by the guest" >$V/written
sync
exit 0
RUN
chmod 755 "$V/run.sh" || fail "chmod run.sh"

# ---- the server ---------------------------------------------------------
head -c 32 /dev/urandom >"$T/key" && chmod 600 "$T/key" || fail "key file"
start_server() { # LISTEN NREADY: start ringfsd, wait for ready line NREADY+1, set PORT
	"$RINGFSD" --listen "$1" --key-file "$T/key" --state-dir "$T/state" \
		--export "root=$R,no_root_squash" --export "host=$HM,no_root_squash" \
		>>"$T/server.log" 2>&1 &
	SPID=$!
	local i
	PORT=
	for i in $(seq 100); do
		if [ "$(grep -c '^ringfsd: listening on' "$T/server.log")" -gt "$2" ]; then
			PORT=$(sed -n 's/^ringfsd: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/server.log" | tail -n 1)
			break
		fi
		kill -0 "$SPID" 2>/dev/null || fail "ringfsd did not start"
		sleep 0.1
	done
	[ -n "$PORT" ] || fail "ringfsd printed no ready line"
}
start_server 127.0.0.1:0 0
note "ringfsd on 127.0.0.1:$PORT exports root=$R (busybox) and host=$HM (this host's root under an overlay)"

# ---- the initramfs ------------------------------------------------------
# mkinitramfs takes modules from /lib/modules/KVER only: show it the VM
# kernel's there, in a mount namespace of its own (the host is untouched;
# a container may lack /lib/modules: made, and removed again at the end),
# and the kernel's config in /boot (a tmpfs there: update-initramfs writes
# its image into it)
MODS=$(readlink -f /lib/modules)
for d in "$MODS" /boot; do
	if [ ! -d "$d" ]; then
		mkdir "$d" || fail "mkdir $d"
		MADE_DIRS="$d $MADE_DIRS"
	fi
done
export MODS KVER KDIR T
# in_kernel_ns CMD: run the shell command CMD in a private mount namespace
# where /lib/modules/$KVER and /boot are the VM kernel's
in_kernel_ns() {
	unshare -m --propagation private sh -c '
		set -e
		mount -t tmpfs tmpfs "$MODS" && mkdir "$MODS/$KVER"
		mount -t tmpfs tmpfs /boot && cp "$KDIR/boot/config-$KVER" /boot/
		mount --bind "$KDIR/lib/modules/$KVER" "$MODS/$KVER"
		'"$1" </dev/null
}
# host_state: what the packaged route must leave as it found it
host_state() {
	local d
	for d in /boot /etc/initramfs-tools /var/lib/initramfs-tools /lib/modules; do
		if [ -e "$d" ]; then
			find "$d" -xdev \( -type f -printf '%p %y %m %s %T@\n' \) -o \( ! -type f -printf '%p %y %m\n' \)
		else
			echo "$d absent"
		fi
	done | sort
}
t0=$(date +%s.%N)
if [ "$INSTALLED" = 0 ]; then
	# mkinitramfs with the source tree's hook and script, in a private
	# configuration directory
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
	cp "$HOOK" "$C/hooks/ringfs" && cp "$BOOTSCRIPT" "$C/scripts/ringfs" &&
		chmod 755 "$C/hooks/ringfs" || fail "copy the hook and script"
	in_kernel_ns 'mkinitramfs -d "$T/conf" -o "$T/initrd.img" "$KVER"' \
		>"$T/mkinitramfs.log" 2>&1 || fail "mkinitramfs failed"
	how=mkinitramfs
else
	# update-initramfs through the standard configuration, as on a user's
	# machine: /etc/initramfs-tools (this host's initramfs.conf and
	# modules, plus /etc/initramfs-tools/conf.d/ringfs as
	# doc/root-and-swap.md says), the packaged hook and boot script, the
	# packaged client.  /etc/initramfs-tools shows through an overlay whose
	# upper layer is a tmpfs in the namespace: the host's files stay as
	# they are.
	cat >"$T/conf.d-ringfs" <<EOF
# /etc/initramfs-tools/conf.d/ringfs (doc/root-and-swap.md)
RINGFS_INITRAMFS=yes
RINGFS_KEY_FILE=$T/key
# a diskless client: the network drivers, no block devices
MODULES=netboot
# the image holds the key: readable by root only
UMASK=0077
EOF
	host_state >"$T/host-before" || fail "cannot list the host's initramfs state"
	in_kernel_ns '
		mkdir -p "$T/ns" && mount -t tmpfs tmpfs "$T/ns" && mkdir "$T/ns/upper" "$T/ns/work"
		mount -t overlay -o "lowerdir=/etc/initramfs-tools,upperdir=$T/ns/upper,workdir=$T/ns/work" \
			ringfs-rootboot /etc/initramfs-tools
		mkdir -p /etc/initramfs-tools/conf.d
		cp "$T/conf.d-ringfs" /etc/initramfs-tools/conf.d/ringfs
		update-initramfs -c -k "$KVER"
		cp "/boot/initrd.img-$KVER" "$T/initrd.img"' \
		>"$T/mkinitramfs.log" 2>&1 || fail "update-initramfs -c -k $KVER failed"
	grep -q "^update-initramfs: Generating /boot/initrd.img-$KVER\$" "$T/mkinitramfs.log" ||
		fail "update-initramfs did not say it generated /boot/initrd.img-$KVER"
	host_state >"$T/host-after" || fail "cannot list the host's initramfs state"
	diff "$T/host-before" "$T/host-after" >"$T/host.diff" ||
		fail "update-initramfs in its namespace changed this host: $(head -n 10 "$T/host.diff")"
	how="update-initramfs -c -k $KVER (the installed hook)"
fi
t1=$(date +%s.%N)
note "$how: $(du -k "$T/initrd.img" | cut -f1) KiB in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
# the image holds what the hook promised: the client, the boot script,
# fuse, virtio_net, the key, libgcc_s; the client, script and key are
# byte for byte the ones the hook was given (the package's with
# --installed)
lsinitramfs "$T/initrd.img" >"$T/initrd.list" 2>/dev/null || fail "lsinitramfs"
for f in sbin/ringfs scripts/ringfs etc/ringfs/root.key "lib/modules/$KVER/kernel/fs/fuse/fuse.ko"; do
	grep -qx "$f" "$T/initrd.list" || grep -qx "usr/$f" "$T/initrd.list" ||
		fail "the initramfs has no $f"
done
grep -q 'libgcc_s.so.1$' "$T/initrd.list" || fail "the initramfs has no libgcc_s.so.1"
grep -q '/virtio_net\.ko$' "$T/initrd.list" || fail "the initramfs has no virtio_net.ko"
mkdir "$T/unpacked" && unmkinitramfs "$T/initrd.img" "$T/unpacked" >/dev/null 2>&1 ||
	fail "unmkinitramfs $T/initrd.img"
U=$T/unpacked
[ -d "$U/main" ] && U=$U/main # after early microcode, the main archive
for pair in "sbin/ringfs $RINGFS" "scripts/ringfs $BOOTSCRIPT" "etc/ringfs/root.key $T/key"; do
	set -- $pair
	f=$U/$1
	[ -e "$f" ] || f=$U/usr/$1
	cmp -s "$f" "$2" || fail "the initramfs's $1 is not $2"
done
rm -rf "$T/unpacked"

# ---- boot ---------------------------------------------------------------
CPU=max
[ "$ACCEL" = kvm ] && CPU=host
BASE="console=ttyS0 panic=-1 oops=panic mitigations=off i8042.noaux i8042.nokbd i8042.nopnp"
[ "$ACCEL" = tcg ] && BASE+=" tsc=reliable"
BASE+=" rw net.ifnames=0 ip=10.0.2.15::10.0.2.2:255.255.255.0:ringfsroot:eth0:off"
start_vm() { # NAME CMDLINE: boot in the background, console in $T/NAME.console
	local qargs
	qargs=(qemu-system-x86_64 -name "ringfs-$1" -machine pc -accel "$ACCEL" -cpu "$CPU"
		-smp 2 -m 1G -nodefaults -no-user-config -display none -no-reboot
		-kernel "$KIMG" -initrd "$T/initrd.img" -append "$BASE $2"
		-chardev "socket,id=ser0,path=$T/serial.sock,server=on,wait=off,logfile=$T/$1.console"
		-serial chardev:ser0 -monitor "unix:$T/monitor.sock,server=on,wait=off"
		-nic "user,model=virtio-net-pci,restrict=on,guestfwd=tcp:10.0.2.100:7070-cmd:socat -lf /dev/null - TCP:127.0.0.1:$PORT")
	[ -r /usr/share/qemu/qboot.rom ] && qargs+=(-bios /usr/share/qemu/qboot.rom)
	note "booting $1 ($ACCEL, kernel $KVER): $2"
	ln -sfn "$1.console" "$T/console.log" # what fail shows
	VM_T0=$(date +%s.%N)
	setpriv --pdeathsig KILL "${qargs[@]}" </dev/null >"$T/qemu.log" 2>&1 &
	QPID=$!
	VM_DEADLINE=$((SECONDS + VM_TIMEOUT))
}
wait_vm() { # NAME: wait (bounded) for the VM to power off by itself
	while kill -0 "$QPID" 2>/dev/null && [ $SECONDS -lt $VM_DEADLINE ]; do
		sleep 0.5
	done
	kill -0 "$QPID" 2>/dev/null && fail "$1: the VM did not power off within ${VM_TIMEOUT} s"
	wait "$QPID"
	local qrc=$?
	QPID=
	note "$1: VM ran $(awk -v a="$VM_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s (qemu exit $qrc)"
	grep -q 'Kernel panic' "$T/$1.console" && fail "$1: kernel panic in the guest"
	grep -q 'blocked for more than' "$T/$1.console" && fail "$1: hung task in the guest"
	return 0
}
# vm_sysrq KEY: a magic SysRq key to the guest, over its serial line (a
# break from QEMU's monitor, then KEY): w = blocked tasks, t = all tasks
vm_sysrq() {
	echo "chardev-send-break ser0" | socat - "UNIX-CONNECT:$T/monitor.sock" >/dev/null 2>&1 &&
		printf %s "$1" | socat - "UNIX-CONNECT:$T/serial.sock" >/dev/null 2>&1
}
console_size() { stat -c %s "$T/$1.console" 2>/dev/null || echo 0; }
# vm_stacks NAME: when the guest hangs, what its tasks wait in (SysRq w and
# t); prints the stacks of PID 1 and of the ringfs daemon
vm_stacks() {
	local size=-1 now
	vm_sysrq w && vm_sysrq t || { note "no SysRq: the QEMU monitor or serial socket did not answer"; return; }
	# the dump is done when the console stops growing (bounded)
	for _ in $(seq 60); do
		now=$(console_size "$1")
		[ "$now" = "$size" ] && grep -q 'sysrq: Show State' "$T/$1.console" && break
		size=$now
		sleep 0.5
	done
	echo "--- guest tasks (SysRq t): PID 1 and the ringfs daemon"
	awk '/task:/ { show = ($0 ~ /task:(systemd|@ringfs| *init)/ || $0 ~ / pid:1 /) }
		show && !/^\[ *[0-9.]+\] +\? / { print; if (/<\/TASK>/) show = 0 }' "$T/$1.console" | cut -c1-120 | head -n 150
}
# wait_for SECONDS WHAT CMD...: poll CMD until it succeeds (bounded)
wait_for() {
	local limit=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		kill -0 "$QPID" 2>/dev/null || fail "the VM stopped while waiting for $what"
		[ $SECONDS -lt $limit ] || fail "timed out waiting for $what"
		sleep 0.5
	done
}
progress() { cat "$R/progress" 2>/dev/null || echo 0; }
progress_at_least() { [ "$(progress)" -ge "$1" ] 2>/dev/null; }

# ---- (a) busybox root: init reports, runs a workload while ringfsd is ---
# killed and restarted, syncs, powers off
start_vm busybox "boot=ringfs ringfsroot=10.0.2.100:7070:/root"
wait_for "$VM_TIMEOUT" "the guest's init (/marker)" test -s "$R/marker"
wait_for 300 "the guest's workload to start" progress_at_least 3
p0=$(progress)
kill -9 "$SPID"
wait "$SPID" 2>/dev/null
note "(a) ringfsd killed (SIGKILL) at workload round $p0; restarting it on 127.0.0.1:$PORT"
start_server "127.0.0.1:$PORT" "$(grep -c '^ringfsd: listening on' "$T/server.log")"
wait_for 300 "the workload to go on after the restart" progress_at_least $((p0 + 5))
note "(a) the workload carried on: round $(progress)"
: >"$R/stop" || fail "touch $R/stop"
wait_vm busybox
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
[ -s "$R/done" ] || fail "(a) the workload did not finish (no /done)"
note "(a) workload: $(cat "$R/done")"
[ -e "$R/errors" ] && fail "(a) the workload saw errors: $(head -n 5 "$R/errors")"
grep -q 'errors 0$' "$R/done" || fail "(a) the workload counted errors: $(cat "$R/done")"
note "(a) busybox: boot to init over ringfs: $(sed -n 's/^uptime-at-init //p' "$R/marker") s of guest uptime"

# ---- (b) this host's userspace under systemd: boot, report, shut down ---
if [ "$INSTALLED" = 1 ]; then
	# one boot for the packages' initramfs; the systemd case runs in
	# suite root from the source tree's (the same hook and script)
	echo "PASS: rootboot --installed (busybox root from the initramfs update-initramfs built with the packages' hook)"
	exit 0
fi
if [ ! -x "$HM/lib/systemd/systemd" ]; then
	note "(b) not run: this host has no systemd to boot"
	echo "PASS: rootboot (busybox root only)"
	exit 0
fi
# systemd-tmpfiles would walk (and clean) this host's /tmp and /var/tmp
# over the network under emulation: minutes, and nothing this test needs
MASK="systemd.mask=systemd-tmpfiles-setup.service systemd.mask=systemd-tmpfiles-setup-dev.service systemd.mask=systemd-tmpfiles-clean.timer"
start_vm systemd "boot=ringfs ringfsroot=10.0.2.100:7070:/host systemd.run=/ringfs-vmtest/run.sh systemd.run_success_action=poweroff systemd.run_failure_action=poweroff systemd.show_status=1 $MASK"
wait_for "$VM_TIMEOUT" "the guest's file (systemd running run.sh)" test -s "$V/written"
# the shutdown that follows: systemd stops every unit, then
# systemd-shutdown sends SIGTERM and SIGKILL to every process except the
# root storage daemons (argv[0][0] == '@')
spree() { grep -q 'systemd-shutdown\[1\]: Sending SIGKILL to remaining processes' "$T/systemd.console"; }
wait_for 600 "systemd-shutdown's killing spree" spree
# then unmounts what it can, remounts / read-only, syncs and powers off;
# @ringfs must keep answering until then (systemd's SIGSTOP/SIGCONT
# around each spree stops it too: doc/root-and-swap.md)
# guest seconds from the SIGKILL spree to the power-off (console stamps)
power_down_after() {
	awk -F'[][]' '/Sending SIGKILL to remaining processes/ && !a { a = $2 }
		/reboot: Power down/ { b = $2 } END { if (a != "" && b != "") printf "%.1f", b - a; else print "?" }' \
		"$T/systemd.console"
}
POWEROFF_WAIT=${RFS_ROOT_POWEROFF_WAIT:-300}
limit=$((SECONDS + POWEROFF_WAIT))
while kill -0 "$QPID" 2>/dev/null && [ $SECONDS -lt $limit ]; do
	sleep 0.5
done
if kill -0 "$QPID" 2>/dev/null; then
	note "(b) no power-off ${POWEROFF_WAIT} s after systemd-shutdown's SIGKILL spree; console tail:"
	tail -n 5 "$T/systemd.console" | cut -c1-160
	vm_stacks systemd
	fail "(b) the guest did not power off after systemd-shutdown's killing spree"
fi
wait_vm systemd
echo "--- report (written by the guest's run.sh under systemd)"
cat "$V/report"
echo "---"
grep -Eq '^ *1 +systemd ' "$V/report" || fail "(b) PID 1 in the guest is not systemd"
grep -Eq '^ *[0-9]+ +@ringfs ' "$V/report" || fail "(b) ps in the guest shows no @ringfs"
grep -Eq '^10\.0\.2\.100:7070:/host / fuse\.ringfs ' "$V/report" ||
	fail "(b) the guest's root is not the ringfs mount"
[ -s "$V/written" ] || fail "(b) the file the guest wrote is not in the export"
grep -Ei 'Sending SIG(TERM|KILL) to PID [0-9]+ \(@?ringfs\)' "$T/systemd.console" &&
	fail "(b) systemd's shutdown killed the ringfs daemon"
grep -E 'ringfs\[[0-9]+\]: .*(signal [0-9]+: unmounting|lost \(loop)' "$T/systemd.console" &&
	fail "(b) the ringfs daemon was signalled or lost its server during the shutdown"
grep -q 'blocked for more than' "$T/systemd.console" && fail "(b) hung task in the guest"
grep -q 'reboot: Power down' "$T/systemd.console" || fail "(b) the guest did not power off cleanly"
note "(b) systemd: run.sh at $(sed -n 's/^uptime-at-run //p' "$V/report") s of guest uptime; @ringfs spared by the killing spree; power-off $(power_down_after) s after the SIGKILL spree"
echo "PASS: rootboot"
exit 0
