#!/bin/bash
# SPDX-License-Identifier: MIT
#
# rdma-test.sh SOURCE_DIR BUILD_DIR [TIMEOUT_S]: meson's 'rdma' test.
#
# On a host with an RDMA device (rxe or hardware) the tests run natively.
# Otherwise they run in a VM with soft-RoCE (tests/vm/vmrun, one boot for
# all of them).  Where no VM can run (qemu missing and not installable, no
# kernel, guest setup failed) the test is skipped with exit 77 and the
# reason: never silently passed.
set -u
[ $# -ge 2 ] || { echo "usage: $0 SOURCE_DIR BUILD_DIR [TIMEOUT_S]" >&2
	exit 2; }
S=$(cd "$1" && pwd) || exit 2
B=$(cd "$2" && pwd) || exit 2
tmo=${3:-2400}

if [ -n "$(ls /sys/class/infiniband 2>/dev/null)" ]; then
	echo "# RDMA device on this host: running natively"
	exec bash "$S/tests/rdma/run-in-vm.sh" "$B"
fi
if ! out=$(bash "$S/tests/vm/vmrun" --prepare 2>&1); then
	printf '%s\n' "$out" | tail -n 15
	echo "SKIP: no RDMA device here and the VM cannot be prepared" \
		"(see above: qemu, busybox-static, kernel download)"
	exit 77
fi
envs=()
[ -n "${RFS_ASAN_BUILD:-}" ] && envs+=(--env "RFS_ASAN_BUILD=$RFS_ASAN_BUILD")
cd "$S" || exit 2
st=0
bash "$S/tests/vm/vmrun" --timeout "$tmo" "${envs[@]}" -- \
	bash tests/rdma/run-in-vm.sh "$B" || st=$?
case $st in
0) exit 0 ;;
77) exit 77 ;;
124) echo "FAIL: the VM run timed out after $tmo s"; exit 1 ;;
125) echo "SKIP: the VM could not start (vmrun exit 125, see above)"
	exit 77 ;;
*) exit 1 ;;
esac
