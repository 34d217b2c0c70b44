#!/bin/bash
# SPDX-License-Identifier: MIT
#
# swap-test.sh SOURCE_DIR BUILD_DIR [TIMEOUT_S]: meson's 'swap' test.
#
# ringfsd runs here, on the host, exporting a directory of the build tree
# (the host's disk) with an NBD file in it; one VM boot (tests/vm/vmrun,
# little RAM: RFS_SWAP_MEM, default 384M) reaches it only through QEMU
# user networking restricted to two forwards (vmrun --guestfwd:
# 10.0.2.100:7070 -> ringfsd, 10.0.2.100:10809 -> its NBD listener) and
# runs the cases of run-in-vm.sh (RFS_SWAP_CASES, default "nbd cg-loop
# cg-loop-restart cg-nbd-restart"): swap on the NBD export or on a ringfs loop file under
# stress-ng.  While the VM runs, this script answers the guest through
# files in BUILD_DIR/swap-ctl: it counts ringfsd's (and the forwards'
# socat's) syscalls during a measured case, and for a restart case kills
# ringfsd with SIGKILL once it has written 8 MiB of the guest's pages and
# starts it again on the same ports and state directory.  The self-*
# cases (ringfsd in the guest) get a virtio disk for their export.
# Where no VM can start, exit 77 with the reason.  The figures (pages/s,
# syscalls per page) are left in BUILD_DIR/swap-vm-figures.txt.
set -u
[ $# -ge 2 ] || { echo "usage: $0 SOURCE_DIR BUILD_DIR [TIMEOUT_S]" >&2
	exit 2; }
S=$(cd "$1" && pwd) || exit 2
B=$(cd "$2" && pwd) || exit 2
tmo=${3:-600}
CASES=${RFS_SWAP_CASES:-nbd cg-loop cg-loop-restart cg-nbd-restart}
SWAP_MB=${RFS_SWAP_MB:-256}

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (the VM, FUSE, swap)"; exit 77; }
command -v socat >/dev/null ||
	{ echo "SKIP: socat not installed (the guest's forward to ringfsd)"; exit 77; }
if ! out=$(bash "$S/tests/vm/vmrun" --prepare 2>&1); then
	printf '%s\n' "$out" | tail -n 15
	echo "SKIP: the VM cannot be prepared (see above: qemu," \
		"busybox-static, kernel download)"
	exit 77
fi
RINGFSD=$B/server/ringfsd
SYSCOUNT=$B/tests/swap/syscount
for f in "$RINGFSD" "$SYSCOUNT"; do
	[ -x "$f" ] || { echo "SKIP: $f not built"; exit 77; }
done

T=$(mktemp -d "$B/swap-host.XXXXXX") || exit 1
CTL=$B/swap-ctl
EXP=$T/export
SRV_PID=
PORT=0
NBD_PORT=0
cleanup() {
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null
	[ -n "${CPID:-}" ] && kill "$CPID" 2>/dev/null && wait "$CPID" 2>/dev/null
	[ -s "$CTL/srv.pid" ] && kill "$(cat "$CTL/srv.pid")" 2>/dev/null
	rm -rf "$T" "$CTL" "$B/swap-vm-disk.img"
}
trap cleanup EXIT
rm -rf "$CTL"
mkdir -p "$CTL" "$EXP" "$T/state" || exit 1

# the guest's connections come from socat's ports here: the ringfs
# client proves the key (the NBD route cannot: loopback listener)
KEY=$T/key
head -c 32 /dev/urandom >"$KEY" && chmod 600 "$KEY" || { echo "FAIL: key file"; exit 1; }

# the swap files, written in full (a hole or an unwritten extent would be
# allocated or converted by a swap-out)
for f in nbd loop; do
	dd if=/dev/zero of="$EXP/$f.img" bs=1M count="$SWAP_MB" conv=fsync \
		status=none || { echo "FAIL: write $EXP/$f.img"; exit 1; }
done

# srv_start [PORT NBD_PORT]: ringfsd here, its ports from its ready lines
srv_start() {
	local log=$T/ringfsd.log n0
	n0=$(grep -c '^ringfsd: listening on' "$log" 2>/dev/null)
	"$RINGFSD" --listen "127.0.0.1:${1:-0}" --nbd-listen "127.0.0.1:${2:-0}" \
		--key-file "$KEY" -s "$T/state" -e "sw=$EXP,no_root_squash,nbd=nbd.img" \
		>>"$log" 2>&1 </dev/null &
	SRV_PID=$!
	disown "$SRV_PID" # killed by the coordinator: no job report
	echo "$SRV_PID" >"$CTL/srv.pid"
	for _ in $(seq 300); do
		if [ "$(grep -c '^ringfsd: listening on' "$log")" -gt "${n0:-0}" ]; then
			PORT=$(sed -n 's/^ringfsd: listening on [^ ]*:\([0-9]*\) .*/\1/p' "$log" | tail -n 1)
			NBD_PORT=$(sed -n 's/.*nbd: listening on [^ ]*:\([0-9]*\),.*/\1/p' "$log" | tail -n 1)
			[ -n "$PORT" ] && [ -n "$NBD_PORT" ] && return 0
		fi
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1 # polling the ready line, bounded
	done
	echo "FAIL: ringfsd did not start: $(tail -n 5 "$log")"
	return 1
}
srv_start || exit 1
echo "# host: ringfsd $SRV_PID on 127.0.0.1:$PORT, NBD on 127.0.0.1:$NBD_PORT, export $EXP"

# wait_ctl FILE: until the guest wrote FILE, while the VM runs
wait_ctl() {
	until [ -e "$CTL/$1" ]; do
		kill -0 "$VM_PID" 2>/dev/null || return 1
		sleep 0.2 # polling a file the guest writes, bounded by the VM
	done
}
written() { awk '$1 == "wchar:" { print $2 }' "/proc/$SRV_PID/io" 2>/dev/null || echo 0; }
# the socat processes of this VM's forwards
socats() {
	local p
	for p in $(pgrep -x socat); do
		case " $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" in
		*" TCP:127.0.0.1:$PORT "* | *" TCP:127.0.0.1:$NBD_PORT "*) echo "$p" ;;
		esac
	done
}
# count_start NAME PID...: a syscount on PID..., attached when this returns
count_start() {
	local f=$T/$1.count
	shift
	"$SYSCOUNT" "$@" >"$f" 2>&1 &
	COUNT_PID=$!
	for _ in $(seq 300); do
		grep -q '^ready$' "$f" && return 0
		kill -0 "$COUNT_PID" 2>/dev/null || break
		sleep 0.1 # polling its ready line, bounded
	done
	echo "# host: syscount $*: $(cat "$f")"
}
# count_end NAME PID: stop it, print its count (called in $(...): the
# count is awaited in its file, the process is not this subshell's child)
count_end() {
	local _
	kill -TERM "$2" 2>/dev/null
	for _ in $(seq 300); do
		grep -q '^syscalls ' "$T/$1.count" && break
		sleep 0.1 # polling its last line, bounded
	done
	sed -n 's/^syscalls \([0-9]*\)$/\1/p' "$T/$1.count"
}

# coordinator: answers the guest's NAME.start / NAME.end, case by case
coordinate() {
	local c sc_r sc_s w0 n r s COUNT_PID
	for c in $CASES; do
		case $c in self-*) continue ;; esac
		wait_ctl "$c.start" || return 0
		case $c in
		*-restart)
			w0=$(written)
			for n in $(seq 1200); do
				[ $(($(written) - w0)) -ge $((8 << 20)) ] && break
				kill -0 "$VM_PID" 2>/dev/null || return 0
				sleep 0.1 # polling ringfsd's progress, bounded
			done
			n=$((($(written) - w0) >> 20))
			kill -KILL "$SRV_PID"
			# not this subshell's child: wait until it has exited
			for s in $(seq 100); do
				case $(awk '{ print $3 }' "/proc/$SRV_PID/stat" 2>/dev/null) in
				"" | Z) break ;;
				esac
				sleep 0.1 # polling its exit, bounded
			done
			if srv_start "$PORT" "$NBD_PORT"; then
				echo "ringfsd killed (SIGKILL) after writing $n MiB of the run; restarted as $SRV_PID on the same ports" \
					>"$CTL/$c.restarted"
				echo "# host: $c: ringfsd killed after $n MiB, restarted as $SRV_PID"
			fi
			wait_ctl "$c.end" || return 0
			;;
		*)
			count_start "$c.ringfsd" "$SRV_PID"
			sc_r=$COUNT_PID
			s=$(socats | tr '\n' ' ')
			# shellcheck disable=SC2086 # the pids, one word each
			count_start "$c.socat" $s
			sc_s=$COUNT_PID
			: >"$CTL/$c.counting"
			wait_ctl "$c.end"
			n=$(count_end "$c.ringfsd" "$sc_r")
			r=$(count_end "$c.socat" "$sc_s")
			echo "ringfsd ${n:--} socat ${r:--}" >"$CTL/$c.hostsc"
			echo "# host: $c: syscalls: ringfsd ${n:-?}, socat ${r:-?} (pids $s)"
			;;
		esac
	done
}

envs=(--env "RFS_SWAP_CASES=$CASES" --env "RFS_SWAP_CTL=$CTL" --env "RFS_SWAP_KEY=$KEY" --env "RFS_SWAP_MB=$SWAP_MB")
for v in RFS_SWAP_STRESS_S RFS_SWAP_OVER_PCT RFS_SWAP_STACK_KB RFS_SWAP_CG_MB RFS_SWAP_CG_PCT RFS_SWAP_MIN_PAGES RFS_SWAP_WORKERS; do
	[ -n "${!v:-}" ] && envs+=(--env "$v=${!v}")
done
vmargs=(--guestfwd "7070=$PORT" --guestfwd "10809=$NBD_PORT")
# the build tree (the control files, the figures) read-write in the guest
case $B/ in "$S"/*) ;; *) vmargs+=(--rw "$B") ;; esac
# the self-* cases: the in-guest ringfsd's disk (sparse, removed afterwards)
case " $CASES " in
*" self-"*)
	truncate -s 1G "$B/swap-vm-disk.img" || { echo "FAIL: truncate the VM disk"; exit 1; }
	export VMRUN_DISK=$B/swap-vm-disk.img ;;
esac
con=$B/swap-vm-console.log
rm -f "$con" "$B/swap-vm-figures.txt"
cd "$S" || exit 2
st=0
bash "$S/tests/vm/vmrun" --mem "${RFS_SWAP_MEM:-384M}" --cpus 2 --rdma none \
	--timeout "$tmo" --console "$con" "${vmargs[@]}" "${envs[@]}" -- \
	bash tests/swap/run-in-vm.sh "$S" "$B" 2>&1 &
VM_PID=$!
coordinate &
CPID=$!
wait "$VM_PID" || st=$?
wait "$CPID"
CPID=
[ -s "$CTL/srv.pid" ] && SRV_PID=$(cat "$CTL/srv.pid")
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
