#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run-in-vm.sh SOURCE_DIR BUILD_DIR: swap over ringfs under real memory
# pressure, in the VM (tests/vm/vmrun, which swap-test.sh boots once for
# all the cases; it refuses to run anywhere else: it swaps the machine).
#
# The guest has little RAM (vmrun --mem) and nothing to swap to but the
# device under test.  Where ringfsd runs:
#
#   on the host (the default cases; swap-test.sh starts it, the export on
#   a host directory, and boots the VM with vmrun --guestfwd): the guest
#   reaches 10.0.2.100:7070 (ringfs) and 10.0.2.100:10809 (NBD) through
#   QEMU user networking restricted to those two forwards (each
#   connection a socat to 127.0.0.1 on the host).  This is the
#   configuration swap over the network is built for: the server is not
#   on the machine that pages.
#   in the guest (the self-* cases, not in the default set): ringfsd
#   --harden in the VM, exporting an ext4 file system on a virtio disk
#   (VMRUN_DISK, a file of the build directory; mounted lazytime).
#
# Cases (RFS_SWAP_CASES, in order, one VM; default "nbd cg-loop
# cg-loop-restart cg-nbd-restart", the cases that hold), named
# [self-][cg-]ROUTE[-restart]:
#
#   nbd           ringfs-swap on nbd (ringfs-nbd: the kernel's netlink
#                 NBD interface, mkswap, swapon) to the host's ringfsd
#   loop          ringfs -o swap mount of the host's export over the
#                 forward, ringfs-swap on loop FILE (losetup
#                 --direct-io=on, mkswap, swapon)
#   cg-ROUTE      the pressure of a memory cgroup instead of the whole
#                 guest's: stress-ng runs in a cgroup whose memory.max is
#                 RFS_SWAP_CG_MB (12) MiB, sized RFS_SWAP_CG_PCT (125) per
#                 cent of it; the rest of the guest (ringfs, its TCP
#                 stack) has free memory.  Without cg-, stress-ng is sized
#                 RFS_SWAP_OVER_PCT (5) per cent beyond the guest's
#                 MemAvailable: the whole guest at its min watermark,
#                 where the loop route livelocks (doc/root-and-swap.md)
#   ROUTE-restart the host's ringfsd killed (SIGKILL) and restarted on the
#                 same ports and state directory while the guest swaps
#                 (swap-test.sh does it once the guest says the case
#                 started and ringfsd has written 8 MiB more): the loop
#                 route's client reconnects and replays; for nbd, the
#                 kernel requeues the requests in flight once they time
#                 out (ringfs-nbd -t, 10 s), holds new ones, and ringfs-nbd
#                 reconnects and hands it the new socket
#   self-*        ringfsd in the guest (they fail: doc/root-and-swap.md)
#
# Each runs stress-ng --vm with --verify sized beyond the guest's RAM.
# A case passes when stress-ng exits 0 (its verification passed, nothing
# OOM-killed), pswpout and pswpin in /proc/vmstat grew, the kernel
# reported no hung task (kernel.hung_task_panic=1 and a 120 s
# hung_task_timeout_secs: a deadlock panics the VM and fails the run
# rather than hanging it), and for a restart case, ringfsd was restarted
# during the run.  The cases without a restart report swap-out and
# swap-in pages/s and the syscalls per swapped page of ringfs (in the
# guest) and of ringfsd (tests/swap/syscount: perf_event_open on
# raw_syscalls:sys_enter for every thread; on the host, swap-test.sh
# counts ringfsd's and the forwards' socat's).
#
# With ringfsd on the host, the guest and swap-test.sh talk through files
# in RFS_SWAP_CTL (a directory of the build tree, shared read-write):
# the guest writes NAME.start before stress-ng and NAME.end after it; the
# host answers NAME.counting (its syscount attached), NAME.restarted
# (ringfsd killed and restarted) and NAME.hostsc (its counts).
#
# Prints "N passed, M failed, K skipped"; exits 1 on a failure, 77 when
# a tool it needs is missing.
set -u
export LC_ALL=C

[ $# -ge 2 ] || { echo "usage: $0 SOURCE_DIR BUILD_DIR" >&2; exit 2; }
S=$(cd "$1" && pwd) || exit 2
B=$(cd "$2" && pwd) || exit 2
# the cases that hold (doc/root-and-swap.md); RFS_SWAP_CASES runs others
CASES=${RFS_SWAP_CASES:-nbd cg-loop cg-loop-restart cg-nbd-restart}
STRESS_S=${RFS_SWAP_STRESS_S:-30}
WORKERS=${RFS_SWAP_WORKERS:-4}
CTL=${RFS_SWAP_CTL:-}
# the cg-* cases: stress-ng in a memory cgroup of this limit
CG_MB=${RFS_SWAP_CG_MB:-12}
CG_PCT=${RFS_SWAP_CG_PCT:-125} # stress-ng's size, per cent of the limit
CGDIR=/sys/fs/cgroup/rfs-swap
MIN_PAGES=${RFS_SWAP_MIN_PAGES:-1024}
SELF=0 HOSTSRV=0
for c in $CASES; do
	case $c in self-*) SELF=1 ;; *) HOSTSRV=1 ;; esac
done
# the host's ringfsd, through vmrun --guestfwd
FWD=10.0.2.100
FWD_PORT=7070
FWD_NBD=10809
pass=0
failn=0
skipn=0

[ -n "${VMRUN_GUEST:-}" ] || {
	echo "SKIP: run-in-vm.sh swaps the machine it runs on: only in the" \
		"VM (bash tests/swap/swap-test.sh)"
	exit 77
}
if [ "$HOSTSRV" = 1 ]; then
	[ "${VMRUN_USERNET:-0}" = 1 ] && [ -n "$CTL" ] && [ -d "$CTL" ] || {
		echo "SKIP: the cases with ringfsd on the host need vmrun" \
			"--guestfwd and RFS_SWAP_CTL (bash tests/swap/swap-test.sh)"
		exit 77
	}
fi
for p in stress-ng losetup mkswap mkfs.ext4; do
	command -v "$p" >/dev/null || {
		echo "SKIP: $p not installed (tests/run-all installs" \
			"stress-ng)"
		exit 77
	}
done
RINGFSD=$B/server/ringfsd
RINGFS=$B/client/ringfs
SWAPTOOL=$S/contrib/ringfs-swap
export PATH=$B/client:$PATH # ringfsctl, ringfs-nbd for ringfs-swap
for f in "$RINGFSD" "$RINGFS" "$B/client/ringfsctl" "$B/client/ringfs-nbd"; do
	[ -x "$f" ] || { echo "SKIP: $f not built"; exit 77; }
done

T=$(mktemp -d /tmp/rfs-swap.XXXXXX) || exit 1
DISK=$T/disk
MNT=$T/mnt
SRV_PID=
PORT=0
NBD_PORT=0

cleanup() {
	swapoff -a 2>/dev/null
	for d in /dev/nbd*; do
		[ -e "/run/ringfs-nbd.${d##*/}.pid" ] && ringfs-nbd -d "$d" >/dev/null 2>&1
	done
	losetup -D 2>/dev/null
	grep -q " $MNT " /proc/self/mounts && fusermount3 -u "$MNT"
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null
	grep -q " $DISK " /proc/self/mounts && umount "$DISK"
	rm -rf "$T"
}
trap cleanup EXIT

note() { echo "# $*"; }
result() { # name status reason
	if [ "$2" = 0 ]; then
		echo "ok: $1"
		pass=$((pass + 1))
	else
		echo "FAIL: $1: $3"
		failn=$((failn + 1))
	fi
}

# the kernel messages stamped at or after uptime $1 (a line count would
# shift when the ring buffer wraps)
dmesg_since() {
	dmesg | awk -v t="$1" '{ s = $0; sub(/^\[ */, "", s); sub(/\].*/, "", s)
		if (s + 0 >= t) print }'
}

vmstat_get() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }

# wait_for SECS COMMAND...: until COMMAND succeeds, SECS at most
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2 # polling a condition with a bound, not synchronising
	done
}

# ---- the guest ------------------------------------------------------------
# a deadlock must fail the run, not hang it
sysctl -q -w kernel.hung_task_timeout_secs=120 kernel.hung_task_panic=1 ||
	{ echo "FAIL: cannot set kernel.hung_task_*"; exit 1; }
echo 1 >/proc/sys/kernel/sysrq # the watchdog's dumps (syscount --watchdog)
# the headroom doc/root-and-swap.md recommends for swap over the network
sysctl -q -w vm.min_free_kbytes=16384 vm.watermark_scale_factor=500 ||
	{ echo "FAIL: cannot set vm.min_free_kbytes, vm.watermark_scale_factor"; exit 1; }
swapoff -a 2>/dev/null
# zswap would keep the compressed pages in RAM and pswpout would not move:
# every page must reach the device under test
if [ -w /sys/module/zswap/parameters/enabled ]; then
	echo N >/sys/module/zswap/parameters/enabled ||
		{ echo "FAIL: cannot disable zswap"; exit 1; }
fi
case " $CASES " in
*" cg-"* | *"-cg-"*)
	mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup ||
		{ echo "FAIL: mount cgroup2"; exit 1; }
	echo +memory >/sys/fs/cgroup/cgroup.subtree_control && mkdir -p "$CGDIR" &&
		echo $((CG_MB << 20)) >"$CGDIR/memory.max" ||
		{ echo "FAIL: memory cgroup $CGDIR"; exit 1; }
	;;
esac
modprobe loop 2>/dev/null
modprobe nbd nbds_max=4 2>/dev/null
[ -e /sys/block/nbd0 ] || { echo "SKIP: no nbd module in this kernel"; exit 77; }
mountpoint -q /sys/kernel/tracing ||
	mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
note "guest: $(uname -r), MemTotal $((mem_kb / 1024)) MiB, $(nproc) CPUs"

# the in-guest server's file system (self-* cases): ext4 on the virtio
# disk swap-test.sh gives (VMRUN_DISK, a file in the build directory:
# the host's disk).  Not a file on 9p: 9p allocates large request
# buffers for every I/O, which under memory pressure is itself a way to
# deadlock.
SWAP_MB=${RFS_SWAP_MB:-256}
mkdir -p "$T/state" "$MNT"
if [ "$SELF" = 1 ]; then
	modprobe virtio_blk 2>/dev/null
	wait_for 20 test -b /dev/vda ||
		{ echo "SKIP: no /dev/vda (vmrun without VMRUN_DISK?)"; exit 77; }
	DISKDEV=/dev/vda
	mkfs.ext4 -q -F "$DISKDEV" && mkdir -p "$DISK" &&
		mount -o noatime,lazytime "$DISKDEV" "$DISK" ||
		{ echo "FAIL: ext4 on $DISKDEV"; exit 1; }
	mkdir -p "$DISK/export"
	# written, not just fallocated: the first write to an unwritten
	# extent is a journalled metadata change, in the middle of a swap-out
	dd if=/dev/zero of="$DISK/export/nbd.img" bs=1M count="$SWAP_MB" \
		oflag=direct status=none || { echo "FAIL: write nbd.img"; exit 1; }
fi

srv_start() { # [port nbd_port]: ringfsd, its ports from the ready lines
	local log=$T/ringfsd.log fifo=$T/ringfsd.fifo line
	rm -f "$fifo"
	mkfifo "$fifo"
	"$RINGFSD" --harden --listen "127.0.0.1:${1:-0}" \
		--nbd-listen "127.0.0.1:${2:-0}" -s "$T/state" \
		-e "sw=$DISK/export,no_root_squash,nbd=nbd.img" \
		2>"$fifo" </dev/null &
	SRV_PID=$!
	while IFS= read -r -t 30 line; do
		printf '%s\n' "$line" >>"$log"
		case $line in
		*"nbd: listening on "*)
			NBD_PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\),.*/\1/p' <<<"$line") ;;
		*"ringfsd: listening on "*)
			PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\) .*/\1/p' <<<"$line")
			cat >>"$log" &
			return 0 ;;
		esac
	done <"$fifo"
	echo "FAIL: ringfsd did not start: $(tail -n 5 "$log")"
	return 1
}

# stress-ng beyond RAM: MemAvailable (once the swap device and its
# daemons are up) plus RFS_SWAP_OVER_PCT (default 5) per cent, in all
# (stress-ng divides --vm-bytes among its workers).  10 % was the
# default until the TCG guest, on a day the host was slower, thrashed
# so hard that no worker finished a pass in 30 s (nothing verified) or
# the guest's own monitor did not run for 180 s (the watchdog), with
# the build of the day and the one before alike (doc/root-and-swap.md)
stress_bytes() {
	local avail
	avail=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
	echo "$((avail * (100 + ${RFS_SWAP_OVER_PCT:-5}) / 100))K"
}

# one line every 10 s while stress-ng runs: is the guest swapping?
monitor() {
	while :; do
		sleep 10 # a progress report, not synchronisation
		echo "#   +$((SECONDS - $1)) s: pswpout $(vmstat_get pswpout)" \
			"pswpin $(vmstat_get pswpin)" \
			"MemFree $(awk '/^MemFree:/ { print $2 }' /proc/meminfo) kB"
	done
}

# ctl_wait SECS FILE: until the host wrote FILE into $CTL (bounded)
ctl_wait() { wait_for "$1" test -e "$CTL/$2"; }

# run_case NAME ROUTE RESTART WHERE (host: the host's ringfsd; guest: one
# started here)
run_case() {
	local name=$1 route=$2 restart=$3 where=$4 cg=$5 st=0 why="" dev out0 in0 out1 in1
	local t0 t1 perf_pid="" pids="" sc="" hsc="" lg=$T/$name line addr nbdaddr file key=""
	mkdir -p "$lg"
	note "---- $name (ringfsd on the $where)"
	local dm0
	dm0=$(awk '{ print $1 }' /proc/uptime) # this case's kernel messages: after it
	if [ "$where" = host ]; then
		addr=$FWD:$FWD_PORT
		nbdaddr=$FWD:$FWD_NBD
		file=$MNT/loop.img # written in full by swap-test.sh
		key=${RFS_SWAP_KEY:-}
	else
		srv_start || { result "$name" 1 "ringfsd"; return; }
		addr=127.0.0.1:$PORT
		nbdaddr=127.0.0.1:$NBD_PORT
		file=$MNT/swap.img
	fi
	if [ "$route" = loop ]; then
		# -o swap locks every mapping (mlockall), each thread's whole
		# stack with it: 1 MiB stacks, not the default 8 MiB
		(ulimit -s "${RFS_SWAP_STACK_KB:-1024}" &&
			exec "$RINGFS" "$addr:/sw" "$MNT" -o "swap,loops=1${key:+,key_file=$key}") >"$lg/ringfs.log" 2>&1 ||
			{ result "$name" 1 "mount -o swap: $(cat "$lg/ringfs.log")"; srv_stop; return; }
		bash "$SWAPTOOL" on loop "$file" --size "${SWAP_MB}M" --mkswap \
			>"$lg/on.log" 2>&1 || st=$?
	else
		bash "$SWAPTOOL" on nbd "$nbdaddr/sw" --mkswap \
			>"$lg/on.log" 2>&1 || st=$?
	fi
	sed 's/^/# /' "$lg/on.log"
	if [ "$st" != 0 ]; then
		result "$name" 1 "ringfs-swap on $route failed"
		teardown "$route" "$where"
		return
	fi
	dev=$(awk 'NR > 1 { print $1 }' /proc/swaps | head -n1)
	note "swap: $(awk 'NR > 1 { print $1, $3 " kB" }' /proc/swaps)"
	[ "$where" = guest ] && pids=$SRV_PID
	if [ "$route" = loop ]; then
		pids="${pids:+$pids,}$(pgrep -d, -x ringfs)"
		note "ringfs $(grep -E 'VmLck|VmRSS' /proc/"$(pgrep -x ringfs)"/status | tr -s ' \n' ' ')"
	fi
	[ "$where" = guest ] &&
		note "ringfsd $(grep -E 'VmLck|VmRSS' /proc/"$SRV_PID"/status | tr -s ' \n' ' ')"
	if [ "$restart" = 0 ] && [ -n "$pids" ]; then
		# shellcheck disable=SC2086 # the pids, one word each
		coproc SC { exec "$B/tests/swap/syscount" ${pids//,/ } 2>&1; }
		perf_pid=$SC_PID
		read -r -t 30 line <&"${SC[0]}" && [ "$line" = ready ] ||
			{ note "syscount: ${line:-no answer}"; perf_pid=; }
	fi
	if [ "$where" = host ]; then
		# tell the host (before the pressure: a small write over 9p)
		: >"$CTL/$name.start" || why="cannot write $CTL/$name.start"
		[ "$restart" = 1 ] || ctl_wait 30 "$name.counting" ||
			note "the host did not attach its syscount in 30 s"
	fi
	out0=$(vmstat_get pswpout)
	in0=$(vmstat_get pswpin)
	t0=$(date +%s.%N)
	local bytes
	# a restart case runs longer: its workers wait out the restart and
	# must still complete passes (each verifies its memory)
	local secs=$((STRESS_S + restart * 15))
	# the workers scan their memory in order: with the whole guest short
	# of memory, more and smaller workers (RFS_SWAP_WORKERS, 4) so that
	# some complete passes while the others wait for their pages
	local nw=$WORKERS
	[ "$cg" = 1 ] && nw=2
	local cmd=(stress-ng --vm "$nw" --vm-keep --verify --vm-method rand-set
		--timeout "${secs}s" --metrics-brief)
	if [ "$cg" = 1 ]; then
		# the pressure of a memory cgroup: stress-ng beyond its limit
		bytes=$((CG_MB * CG_PCT / 100))M
		note "stress-ng --vm $nw --vm-bytes $bytes (in all) for $secs s in a cgroup of memory.max ${CG_MB} MiB"
		cmd=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CGDIR"
			"${cmd[@]}" --vm-bytes "$bytes")
	else
		bytes=$(stress_bytes)
		note "stress-ng --vm $nw --vm-bytes $bytes (in all) for $secs s"
		cmd+=(--vm-bytes "$bytes")
	fi
	# a livelock (no task long enough in D state for the hung-task
	# detector) ends the VM with the blocked tasks on its console
	"$B/tests/swap/syscount" --watchdog $((secs * 4 + 60)) >/dev/null &
	local wpid=$!
	# the outer timeout: stress-ng stops between passes only
	timeout -k 10 $((secs * 8)) "${cmd[@]}" >"$lg/stress.log" 2>&1 &
	local spid=$!
	monitor "$SECONDS" &
	local mpid=$!
	if [ "$restart" = 1 ] && [ "$where" = guest ]; then
		# once the guest is swapping hard: kill -9 and restart ringfsd
		wait_for 120 sh -c "[ \$(awk '\$1 == \"pswpout\" { print \$2 }' /proc/vmstat) -gt $((out0 + 2000)) ]" ||
			note "pswpout did not grow by 2000 pages in 120 s"
		note "killing ringfsd $SRV_PID (SIGKILL) at pswpout +$(($(vmstat_get pswpout) - out0))"
		kill -KILL "$SRV_PID"
		wait "$SRV_PID" 2>/dev/null
		srv_start "$PORT" "$NBD_PORT" || why="restart failed"
		note "ringfsd restarted as $SRV_PID on the same ports"
	fi
	wait "$spid" || st=$?
	t1=$(date +%s.%N)
	kill "$mpid" "$wpid"
	wait "$mpid" "$wpid" 2>/dev/null
	out1=$(vmstat_get pswpout)
	in1=$(vmstat_get pswpin)
	if [ -n "$perf_pid" ]; then
		kill -TERM "$perf_pid"
		read -r -t 30 line <&"${SC[0]}"
		wait "$perf_pid"
		sc=${line#syscalls }
		[[ $sc =~ ^[0-9]+$ ]] || { note "syscount: $line"; sc=; }
	fi
	if [ "$where" = host ]; then
		: >"$CTL/$name.end"
		if [ "$restart" = 1 ]; then
			if [ -s "$CTL/$name.restarted" ]; then
				note "host: $(cat "$CTL/$name.restarted")"
			else
				why="${why:+$why; }the host did not restart ringfsd during the run"
			fi
		elif ctl_wait 30 "$name.hostsc"; then
			# "ringfsd N socat M"
			hsc=$(cat "$CTL/$name.hostsc")
		else
			note "no syscall counts from the host"
		fi
	fi
	sed 's/^/#   /' "$lg/stress.log" | grep -v "^#   *$" | tail -n 8
	if [ "$st" = 124 ] || [ "$st" = 137 ]; then
		why="${why:+$why; }stress-ng did not finish in $((secs * 8)) s"
	elif [ "$st" != 0 ]; then
		why="${why:+$why; }stress-ng exited $st"
	fi
	grep -qi "killed by OOM\|verif.*fail\|fail.*verif" "$lg/stress.log" &&
		why="${why:+$why; }stress-ng: OOM or verification failure"
	# a pass (bogo op) writes and verifies the workers' memory: none, and
	# nothing was verified
	[ "$(awk '$4 == "vm" && $5 ~ /^[0-9]+$/ { print $5 }' "$lg/stress.log")" -gt 0 ] 2>/dev/null ||
		why="${why:+$why; }stress-ng completed no pass (nothing verified)"
	# grew: by a few MiB at least, or the case did not test swapping
	[ "$out1" -ge $((out0 + MIN_PAGES)) ] || why="${why:+$why; }pswpout grew by less than $MIN_PAGES pages"
	[ "$in1" -gt "$in0" ] || why="${why:+$why; }pswpin did not grow"
	dmesg | grep -q "blocked for more than" && why="${why:+$why; }hung task reported"
	# a swap I/O error is a page lost (stress-ng may not touch it again)
	if dmesg_since "$dm0" |
		grep -i "error on swap\|I/O error.*$(basename "$dev")" >"$lg/ioerr"; then
		tail -n 3 "$lg/ioerr" | sed 's/^/# dmesg: /'
		why="${why:+$why; }swap I/O errors on $dev"
	fi
	if [ "$route" = nbd ] && [ "$restart" = 1 ]; then
		# ringfs-nbd's and the kernel's account of the restart
		dmesg_since "$dm0" | grep "ringfs-nbd\|nbd[0-9]*:" |
			grep -v "Adding .* swap" | tail -n 12 | sed 's/^/# dmesg: /'
		dmesg_since "$dm0" | grep -q "ringfs-nbd.*reconnected" ||
			why="${why:+$why; }ringfs-nbd did not reconnect"
	fi
	awk -v o=$((out1 - out0)) -v i=$((in1 - in0)) -v a="$t0" -v b="$t1" \
		-v sc="$sc" -v hsc="$hsc" -v n="$name" -v w="$where" -v r="$route" 'BEGIN {
		d = b - a; p = o + i
		printf "# %s: %.1f s, pswpout %d (%.0f pages/s), pswpin %d (%.0f pages/s)",
			n, d, o, o / d, i, i / d
		if (sc != "" && p > 0)
			printf ", guest syscalls (%s) %d (%.2f per swapped page)",
				(w == "guest" ? (r == "loop" ? "ringfs+ringfsd" : "ringfsd") : "ringfs"),
				sc, sc / p
		if (hsc != "" && p > 0) {
			split(hsc, h, " ")
			printf ", host ringfsd syscalls %d (%.2f per swapped page), host socat %d (%.2f per swapped page)",
				h[2], h[2] / p, h[4], h[4] / p
		}
		printf "\n" }' | tee -a "$T/figures"
	teardown "$route" "$where"
	result "$name" "$([ -z "$why" ] && echo 0 || echo 1)" "$why"
}

teardown() { # ROUTE WHERE
	local d
	for d in $(awk 'NR > 1 { print $1 }' /proc/swaps); do
		bash "$SWAPTOOL" off "$d" 2>&1 | sed 's/^/# /'
	done
	if grep -q " $MNT " /proc/self/mounts; then
		[ "$2" = guest ] && rm -f "$MNT/swap.img"
		fusermount3 -u "$MNT" || umount -l "$MNT"
	fi
	srv_stop
}

srv_stop() {
	[ -n "$SRV_PID" ] || return 0
	kill -TERM "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=
}

for c in $CASES; do
	# [self-][cg-]ROUTE[-restart]
	n=$c where=host cg=0 restart=0
	case $n in self-*) where=guest n=${n#self-} ;; esac
	case $n in cg-*) cg=1 n=${n#cg-} ;; esac
	case $n in *-restart) restart=1 n=${n%-restart} ;; esac
	case $n in
	loop | nbd) run_case "$c" "$n" "$restart" "$where" "$cg" ;;
	*) echo "FAIL: unknown case $c"; failn=$((failn + 1)) ;;
	esac
done
[ -s "$T/figures" ] && cp "$T/figures" "$B/swap-vm-figures.txt"
dmesg | grep -i "hung\|blocked for more\|swap" | tail -n 10 | sed 's/^/# dmesg: /'
echo "$pass passed, $failn failed, $skipn skipped"
[ "$failn" = 0 ]
