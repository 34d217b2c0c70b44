#!/bin/bash
# RDMA smoke test, meant to run inside the VM:
#   tests/vm/vmrun --rdma rxe -- tests/vm/selftest.sh
# Uses only packaged tools (rdmacm-utils, ibverbs-utils, perftest) and only
# the guest's own address ($VMRUN_IP on dummy0; nothing leaves the VM).
set -u
ip=${VMRUN_IP:?run this inside vmrun}
dev=${VMRUN_RDMA_DEV:?run vmrun with --rdma rxe}
fails=0
pass=0
check() { # name cmd...
	local name=$1
	shift
	if "$@"; then
		echo "ok: $name"
		pass=$((pass + 1))
	else
		echo "FAIL: $name"
		fails=$((fails + 1))
	fi
}
pair() { # server-cmd... -- client-cmd... : run both, succeed if both do
	local srv=() cli=() s c
	while [ "$1" != -- ]; do srv+=("$1"); shift; done
	shift
	cli=("$@")
	timeout 120 "${srv[@]}" >/tmp/selftest-server.log 2>&1 &
	s=$!
	sleep 1
	timeout 120 "${cli[@]}"
	c=$?
	wait "$s"
	s=$?
	[ "$s" = 0 ] || { echo "server failed ($s):"; cat /tmp/selftest-server.log; }
	[ "$c" = 0 ] && [ "$s" = 0 ]
}

check "ibv_devices lists $dev" sh -c "ibv_devices | grep -qw $dev"
check "port active" sh -c "ibv_devinfo -d $dev | grep -q PORT_ACTIVE"
check "rping (rdma_cm, RDMA read/write)" pair rping -s -a "$ip" -C 3 -- rping -c -a "$ip" -C 3 -v
check "ibv_rc_pingpong (verbs RC send/recv)" pair ibv_rc_pingpong -d "$dev" -g 1 -n 100 -- \
	ibv_rc_pingpong -d "$dev" -g 1 -n 100 "$ip"
check "ib_send_lat (perftest)" pair ib_send_lat -d "$dev" -x 1 -n 1000 -s 64 -- \
	ib_send_lat -d "$dev" -x 1 -n 1000 -s 64 "$ip"
check "ib_write_lat -R (perftest over rdma_cm)" pair ib_write_lat -d "$dev" -R -n 1000 -s 64 -- \
	ib_write_lat -d "$dev" -R -n 1000 -s 64 "$ip"
check "/dev/fuse and fusermount3" sh -c "test -c /dev/fuse && fusermount3 -V"
echo "$pass passed, $fails failed"
[ "$fails" = 0 ]
