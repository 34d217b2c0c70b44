#!/bin/bash
# SPDX-License-Identifier: MIT
#
# swap-test.sh SOURCE_DIR BUILD_DIR [TIMEOUT_S]: meson's 'swap' test.
# One VM boot (tests/vm/vmrun, little RAM: RFS_SWAP_MEM, default 384M)
# runs the cases of run-in-vm.sh (RFS_SWAP_CASES, default "nbd"; loop,
# nbd-restart and loop-restart on demand): swap on ringfsd's NBD export or a ringfs loop file under
# stress-ng; nbd-restart and loop-restart kill and restart ringfsd
# mid-run.  Where no VM can start, exit 77 with the reason.
# The figures (pages/s, syscalls per page) are left in
# BUILD_DIR/swap-vm-figures.txt.
set -u
[ $# -ge 2 ] || { echo "usage: $0 SOURCE_DIR BUILD_DIR [TIMEOUT_S]" >&2
	exit 2; }
S=$(cd "$1" && pwd) || exit 2
B=$(cd "$2" && pwd) || exit 2
tmo=${3:-1200}

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (the VM, FUSE, swap)"; exit 77; }
if ! out=$(bash "$S/tests/vm/vmrun" --prepare 2>&1); then
	printf '%s\n' "$out" | tail -n 15
	echo "SKIP: the VM cannot be prepared (see above: qemu," \
		"busybox-static, kernel download)"
	exit 77
fi
envs=()
for v in RFS_SWAP_CASES RFS_SWAP_STRESS_S RFS_SWAP_OVER_PCT RFS_SWAP_MB; do
	[ -n "${!v:-}" ] && envs+=(--env "$v=${!v}")
done
cd "$S" || exit 2
con=$B/swap-vm-console.log
rm -f "$con"
# the guest's disk for ringfsd's export (sparse; removed afterwards)
disk=$B/swap-vm-disk.img
rm -f "$disk"
truncate -s 1G "$disk" || { echo "FAIL: truncate $disk"; exit 1; }
st=0
VMRUN_DISK=$disk bash "$S/tests/vm/vmrun" --mem "${RFS_SWAP_MEM:-384M}" --cpus 2 --rdma none \
	--timeout "$tmo" --console "$con" "${envs[@]}" -- \
	bash tests/swap/run-in-vm.sh "$S" "$B" 2>&1 || st=$?
rm -f "$B/swap-vm-disk.img"
# a hung task (hung_task_panic=1) or any panic ends the VM: a failure
if grep -q "blocked for more than\|Kernel panic\|sysrq: Show Blocked" "$con" 2>/dev/null; then
	echo "FAIL: the guest panicked, reported a hung task or the watchdog fired:"
	grep -A60 -m1 "blocked for more than\|sysrq: Show Blocked\|Kernel panic" "$con"
	exit 1
fi
case $st in
0) exit 0 ;;
77) exit 77 ;;
124) echo "FAIL: the VM run timed out after $tmo s (a hung swap path?)"
	tail -n 30 "$con"
	exit 1 ;;
125) echo "SKIP: the VM could not start (vmrun exit 125, see above)"
	exit 77 ;;
*) exit 1 ;;
esac
