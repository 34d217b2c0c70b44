#!/bin/bash
# SPDX-License-Identifier: MIT
# upcall: gluster's upcalls turned into FUSE invalidations.  Two gateways
# on one volume; three clients of gateway A (uring, tcp and shm: every
# stream and same-host transport carries the notifications) mounted with
# long caches (attr_timeout=60, entry_timeout=60), and a client of
# gateway B that makes the changes.
#
#   1. features.cache-invalidation off (the volume's default): a size
#      change, an unlink and a rename made through B stay unseen through
#      A, which answers from its caches (so the checks of part 2 can fail)
#   2. still without upcalls: the same changes made through another
#      client of gateway A (tcp) are seen through its other clients
#      (uring, shm): the gateway notifies its own sessions
#   3. features.cache-invalidation on: an append (size and data), a
#      chmod, an unlink, a rename and a new file made through B are seen
#      through every client of A within a few seconds (polled with a
#      bound, far below the 60 s timeouts)
#
# The 4th and 5th arguments are unused (the mount suite's slots).
. "$(dirname "$0")/../mount/lib.sh" "$@"

[ "$RFS_BACKEND" = gluster ] || skip "run with RFS_BACKEND=gluster"

LONG=attr_timeout=60,entry_timeout=60,negative_timeout=0

# the two gateways (one secret), A with a Unix socket for shm
gl_gateway_states
rfs_start_server "$EXPORT" --state-dir "$T/state-a" \
	--listen-unix "$T/a.sock"
PORT_A=$RFS_PORT
PID_A=$RFS_SERVER_PID
LOG_A=$RFS_SERVER_LOG
rfs_start_server "$EXPORT" --state-dir "$T/state-b"
PORT_B=$RFS_PORT

A_MNTS=("$MNT" "$T/mnt-tcp" "$T/mnt-shm")
MNT_B=$T/mnt-b
mkdir "$T/mnt-tcp" "$T/mnt-shm" "$MNT_B" || fail "mkdir mount points"
RFS_PORT=$PORT_A rfs_mount "$MNT" "$LONG"
RFS_PORT=$PORT_A rfs_mount "$T/mnt-tcp" "$LONG,transport=tcp"
RFS_MOUNTS+=("$T/mnt-shm")
timeout 60 "$RINGFS" "unix:$T/a.sock:/data" "$T/mnt-shm" \
	-o "transport=shm,$LONG" >>"$T/client.log" 2>&1 </dev/null ||
	fail "ringfs shm mount through gateway A"
rfs_is_mounted "$T/mnt-shm" || fail "shm mount not there"
RFS_PORT=$PORT_B rfs_mount "$MNT_B" attr_timeout=0,entry_timeout=0,negative_timeout=0

# prepare N: through B a file, a directory with two files; every client
# of A then has them in its caches (attributes, names, data)
prepare() {
	local n=$1 m
	printf 1234 >"$MNT_B/f$n" || fail "write f$n through B"
	mkdir "$MNT_B/d$n" || fail "mkdir d$n through B"
	: >"$MNT_B/d$n/u" || fail "create d$n/u through B"
	: >"$MNT_B/d$n/r" || fail "create d$n/r through B"
	for m in "${A_MNTS[@]}"; do
		[ "$(stat -c %s "$m/f$n")" = 4 ] || fail "$m/f$n: size"
		[ "$(cat "$m/f$n")" = 1234 ] || fail "$m/f$n: data"
		[ -e "$m/d$n/u" ] || fail "$m/d$n/u: not there"
		[ -e "$m/d$n/r" ] || fail "$m/d$n/r: not there"
		ls "$m/d$n" >/dev/null || fail "ls $m/d$n"
	done
}

# wait_all WHAT CMD...: CMD (with @ for each client's mount point) true
# through every client in WAIT_MNTS within 5 s; notes how long it took
WAIT_MNTS=("${A_MNTS[@]}")
wait_all() {
	local what=$1 m t0 ms
	shift
	t0=$(date +%s%N)
	for m in "${WAIT_MNTS[@]}"; do
		gl_poll 50 100 check_at "$m" "$@" ||
			fail "$what not seen through $m within 5 s (60 s caches)"
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	note "$what seen through ${#WAIT_MNTS[@]} clients of A after $ms ms"
}
check_at() {
	local m=$1
	shift
	"${@//@/$m}"
}
size_is() { [ "$(stat -c %s "$1")" = "$2" ]; }
data_is() { [ "$(cat "$1")" = "$2" ]; }
mode_is() { [ "$(stat -c %a "$1")" = "$2" ]; }
gone() { [ ! -e "$1" ]; }
renamed() { [ ! -e "$1" ] && [ -e "$2" ]; }
# name $2 in a listing (readdir) of directory $1
listed() {
	local e
	for e in "$1"/*; do
		[ "${e##*/}" = "$2" ] && return 0
	done
	return 1
}

# changes DIR N HOW: an append, a chmod, an unlink and a rename of
# prepare N's files through the mount at DIR, each seen through every
# client in WAIT_MNTS within 5 s
changes() {
	local c=$1 n=$2 how=$3
	printf more >>"$c/f$n" || fail "append $how"
	wait_all "an append (size) $how" size_is "@/f$n" 8
	wait_all "an append (data) $how" data_is "@/f$n" 1234more
	chmod 0600 "$c/f$n" || fail "chmod $how"
	wait_all "a chmod $how" mode_is "@/f$n" 600
	rm "$c/d$n/u" || fail "unlink $how"
	wait_all "an unlink $how" gone "@/d$n/u"
	mv "$c/d$n/r" "$c/d$n/r2" || fail "rename $how"
	wait_all "a rename $how" renamed "@/d$n/r" "@/d$n/r2"
}

gl_cli volume get "$GL_VOL" features.cache-invalidation |
	grep -q 'cache-invalidation *off' ||
	fail "features.cache-invalidation is not off by default"

# ---- 1: no upcalls: A's caches stay stale --------------------------------
prepare 1
printf more >>"$MNT_B/f1" || fail "append through B"
rm "$MNT_B/d1/u" || fail "unlink through B"
mv "$MNT_B/d1/r" "$MNT_B/d1/r2" || fail "rename through B"
# the volume has them (gluster's own client, no caching)
if ! size_is "$EXPORT/f1" 8 || ! gone "$EXPORT/d1/u" ||
	! renamed "$EXPORT/d1/r" "$EXPORT/d1/r2"; then
	fail "the volume does not have B's changes"
fi
for m in "${A_MNTS[@]}"; do
	size_is "$m/f1" 4 || fail "$m sees the new size without upcalls"
	[ -e "$m/d1/u" ] || fail "$m sees the unlink without upcalls"
	[ -e "$m/d1/r" ] || fail "$m sees the rename without upcalls"
done
note "without upcalls the clients of A keep the stale view (as they should)"

# ---- 2: another client of the same gateway -------------------------------
prepare 2
C=$T/mnt-tcp
WAIT_MNTS=("$MNT" "$T/mnt-shm")
changes "$C" 2 "through A (tcp)"
WAIT_MNTS=("${A_MNTS[@]}")

# ---- 3: upcalls on -------------------------------------------------------
gl_cli volume set "$GL_VOL" features.cache-invalidation on >/dev/null ||
	fail "gluster volume set features.cache-invalidation on"
gl_cli volume set "$GL_VOL" features.cache-invalidation-timeout 600 \
	>/dev/null || fail "gluster volume set cache-invalidation-timeout"
# the bricks take the option over: wait (bounded) until a change through
# B to a file A looked up reaches A's first client
n=0
probe_seen() {
	n=$((n + 1))
	: >"$MNT_B/probe$n" || return 1
	[ "$(stat -c %s "$MNT/probe$n")" = 0 ] || return 1
	printf x >>"$MNT_B/probe$n" || return 1
	gl_poll 5 100 size_is "$MNT/probe$n" 1
}
gl_poll 20 0 probe_seen ||
	fail "upcalls never reached gateway A in 20 tries (see $LOG_A)"
note "upcalls live after $n probe(s)"
rm -f "$MNT_B"/probe* || fail "rm probes"

prepare 3
changes "$MNT_B" 3 "through B"
printf new >"$MNT_B/d3/new" || fail "create through B"
wait_all "a new file" listed @/d3 new
for m in "${A_MNTS[@]}"; do
	data_is "$m/d3/new" new || fail "$m/d3/new: data"
done

rm -r "$MNT_B"/f? "$MNT_B"/d? || fail "clean up through B"
rfs_umount "$MNT_B"
for m in "${A_MNTS[@]}"; do
	rfs_umount "$m"
done
rfs_stop_server
rfs_stop_server "$PID_A"
echo "PASS upcall-$RFS_TRANSPORT"
