#!/bin/bash
# SPDX-License-Identifier: MIT
#
# suite.sh [BUILD_DIR] [--quick|--smoke] [--rounds N] [--out DIR]
#          [--targets LIST]
#
# The ringfs benchmark suite: one command, run as root.  NOT a test (only
# --smoke is, in suite 'bench-selftest').  See tests/bench/README.md.
#
# Over ONE backing directory (on a disk file system, for O_DIRECT) it
# mounts, side by side:
#   ringfs over tcp, uring and shm (one ringfsd, --listen + --listen-unix),
#   ringfs over tcp and uring with TLS 1.3 (tls-tcp, tls-uring: a second
#   ringfsd with a key and --tls=required; kernel TLS where the kernel
#   has it, else GnuTLS in user space),
#   libfuse's passthrough_ll example (built now from libfuse3-dev's copy)
#   with -o cache=never, with -o cache=auto (its default), and with
#   cache=never but without forwarding O_DIRECT to the backing file (pt-nd;
#   ringfsd and pt-never forward it), and sshfs over
#   127.0.0.1 to a private sshd (its own config, host key, client key and
#   port, all in the run's temporary directory; Debian's sshfs and
#   openssh-server are installed with apt-get when the sshfs target is
#   selected and they are missing)
# and runs, for R rounds, every workload on every target, interleaved
# (each workload goes round all targets, in an order rotated each round):
#   4 KiB random read QD1 O_DIRECT (psync), 4 KiB random write QD1 O_DIRECT,
#   4 KiB random read QD32 O_DIRECT (libaio), 1 MiB sequential read and
#   write O_DIRECT (psync), create/stat/unlink of N files, ls -l of them,
#   tar -x of a header tree and rm -rf of it, and (FUSE targets) syscalls
#   and context switches per 4 KiB read of the application thread, the
#   FUSE daemon and ringfsd (sshfs: sshfs + its ssh, and every process of
#   the private sshd's tree, sftp-server included), counted by
#   ringfs-bench --mount.
# Medians over the rounds; ratios against passthrough_ll cache=never of the
# same run.  Results: OUT/results.md (Markdown tables), OUT/results.json,
# raw fio/ringfs-bench output in OUT/raw/.
#
# Environment: BENCH_DIR (where the temporary export goes, default
# /var/tmp), MOUNT_OPTS (extra -o options for the ringfs mounts, e.g.
# nocsum), RUNTIME, SIZE, NFILES, SYSOPS, BUDGET (override the mode's
# defaults; BUDGET = seconds after which no new round starts).
SRC=$(cd "$(dirname "$0")" && pwd)
# the ready-line reader (the helpers below are this script's own)
# shellcheck source=tests/lib/lib.sh
. "$SRC/../lib/lib.sh"
CMDLINE="$0 $*"
BUILD=
MODE=default
ROUNDS=
OUT=
TARGETS_ARG=

usage() {
	sed -n '4,5p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--quick) MODE=quick ;;
	--smoke) MODE=smoke ;;
	--rounds) ROUNDS=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	--targets) TARGETS_ARG=${2:?}; shift ;;
	-h|--help) usage ;;
	-*) echo "suite: unknown option $1" >&2; usage ;;
	*) BUILD=$1 ;;
	esac
	shift
done
BUILD=${BUILD:-$SRC/../../build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || {
	echo "suite: no build directory $BUILD" >&2; exit 1; }

# mode defaults (seconds, sizes, counts)
case $MODE in
default) d_rounds=3 d_runtime=5 d_ramp=1 d_size=1G d_nfiles=10000
	 d_sysops=20000 d_tree=full d_budget=1080 ;;
quick)   d_rounds=1 d_runtime=2 d_ramp=1 d_size=256M d_nfiles=2000
	 d_sysops=5000 d_tree=small d_budget=240 ;;
smoke)   d_rounds=1 d_runtime=1 d_ramp=0 d_size=16M d_nfiles=200
	 d_sysops=300 d_tree=tiny d_budget=40 ;;
esac
ROUNDS=${ROUNDS:-$d_rounds}
RUNTIME=${RUNTIME:-$d_runtime}
RAMP=$d_ramp
SIZE=${SIZE:-$d_size}
NFILES=${NFILES:-$d_nfiles}
SYSOPS=${SYSOPS:-$d_sysops}
# seconds of measurement after which no further round is started (a
# round is never cut short: the interleaving would be lost)
BUDGET=${BUDGET:-$d_budget}
WSIZE=256M
[ "$MODE" = smoke ] && WSIZE=16M

RINGFSD=$BUILD/server/ringfsd
RINGFS=$BUILD/client/ringfs
RBENCH=$BUILD/tests/bench/ringfs-bench

# smoke mode is run by meson: prerequisites missing = skip (77)
SKIP=1
[ "$MODE" = smoke ] && SKIP=77
die() { echo "suite: $*" >&2; exit 1; }
skip() { echo "suite: $*" >&2; exit "$SKIP"; }
log() { echo "# $(date +%T) $*" >&2; }

[ "$(id -u)" = 0 ] || skip "run as root (mounts, perf counters)"
for c in fio python3 fusermount3 tar cc; do
	command -v "$c" >/dev/null || skip "$c not installed"
done
[ -e /dev/fuse ] || skip "no /dev/fuse"
[ -x "$RINGFSD" ] && [ -x "$RINGFS" ] || skip "no ringfsd/ringfs in $BUILD"
[ -x "$RBENCH" ] || log "no $RBENCH: syscall counts not measured"

BUILT=$("$RINGFS" --version 2>/dev/null |
	sed -n 's/.*transports: \([^;)]*\).*/\1/p')
if [ -n "$TARGETS_ARG" ]; then
	TARGETS=${TARGETS_ARG//,/ }
elif [ "$MODE" = smoke ]; then
	TARGETS="tcp pt-never"
else
	TARGETS="backing"
	for t in tcp uring shm; do
		case " $BUILT " in *" $t "*) TARGETS+=" $t" ;; esac
	done
	case " $BUILT " in *" shm "*) TARGETS+=" shm-nopt" ;; esac
	# TLS 1.3 over the byte streams, when built (a second ringfsd, with
	# a key: see add_target)
	if "$RINGFS" --version 2>/dev/null | grep -q 'tls yes'; then
		for t in tcp uring; do
			case " $BUILT " in *" $t "*) TARGETS+=" tls-$t" ;; esac
		done
	fi
	TARGETS+=" pt-never pt-nd pt-auto sshfs"
fi

T=$(mktemp -d "${BENCH_DIR:-/var/tmp}/ringfs-suite.XXXXXX") ||
	die "mktemp in ${BENCH_DIR:-/var/tmp}"
chmod 0755 "$T"
# smoke runs leave nothing behind unless asked to
if [ -z "$OUT" ]; then
	OUT=$T.results
	[ "$MODE" = smoke ] && OUT=$T/results
fi
mkdir -p "$OUT/raw" || die "mkdir $OUT/raw"
: >"$OUT/raw/skipped.txt"
RAW_SKIPPED=$OUT/raw/skipped.txt
EXP=$T/export
mkdir "$EXP" "$T/bin" "$T/state"

MOUNTS=()
PIDS=()
RUN_SSHD_MADE=
cleanup() {
	local m p i
	trap - EXIT INT TERM
	for m in "${MOUNTS[@]}"; do
		grep -q " $m fuse" /proc/mounts || continue
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -u -z "$m" ||
			umount -l "$m"
	done
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || continue
		for i in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
	done
	[ -n "$RUN_SSHD_MADE" ] && rmdir /run/sshd 2>/dev/null
	if grep -q " $T/" /proc/mounts; then
		echo "suite: a mount under $T remains; not removing it" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'echo "suite: interrupted" >&2; exit 130' INT TERM

# ---- build the helpers ------------------------------------------------
log "building metaops and passthrough_ll in $T/bin"
cc -O2 -Wall -std=c17 -D_GNU_SOURCE "$SRC/metaops.c" -o "$T/bin/metaops" ||
	die "cc metaops.c failed"
METAOPS=$T/bin/metaops
PT_OK=1
bash "$SRC/passthrough/build.sh" "$T/bin" || {
	rc=$?
	[ $rc = 77 ] || die "building passthrough_ll failed"
	log "passthrough_ll not built: its targets are left out"
	PT_OK=0
}

# ---- the backing directory and its files ------------------------------
FSTYPE=$(df -T "$EXP" | awk 'NR == 2 { print $2 }')
[ "$FSTYPE" = tmpfs ] && log "WARNING: $EXP is on tmpfs (no real O_DIRECT)"
log "laying out files in $EXP ($FSTYPE): $SIZE read/seq-write, $WSIZE write"
# (on disk before measuring, so that writeback does not run into the
# measurements; smoke runs do not measure anything worth it)
FSYNC=1
[ "$MODE" = smoke ] && FSYNC=0
for f in bench-r.dat:$SIZE bench-sw.dat:$SIZE bench-w.dat:$WSIZE; do
	fio --name=layout --filename="$EXP/${f%%:*}" --size="${f#*:}" \
		--rw=write --bs=1M --ioengine=psync --end_fsync=$FSYNC \
		--output="$T/layout.log" >/dev/null 2>&1 ||
		die "fio layout of $f failed: $(tail -n 3 "$T/layout.log")"
done
# the source tree to unpack: headers (read from the page cache after once)
case $d_tree in
full)  TREE="include/linux include/asm-generic include/x86_64-linux-gnu
	     include/rdma include/sound include/drm include/mtd include/scsi
	     include/netinet include/net include/arpa include/sys" ;;
small) TREE="include/linux include/asm-generic" ;;
tiny)  TREE="include/linux/netfilter" ;;
esac
TREE_HAVE=
for d in $TREE; do
	[ -d "/usr/$d" ] && TREE_HAVE+=" $d"
done
[ -n "$TREE_HAVE" ] || die "none of $TREE under /usr"
# shellcheck disable=SC2086
tar -C /usr -cf "$T/tree.tar" $TREE_HAVE 2>/dev/null || die "tar -c failed"
TREE_FILES=$(tar -tf "$T/tree.tar" | wc -l)
TREE_MB=$(( $(stat -c %s "$T/tree.tar") / 1000000 ))

# ---- targets ----------------------------------------------------------
declare -A DIR DPID SPID LABEL SYSPARTS
DUMMY_PID=

# find_pid MNT PROG: the pid of the process named PROG* with MNT as one of
# its arguments
find_pid() {
	local p a
	for p in $(pgrep -f -- "$1"); do
		a=$(tr '\0' '\n' 2>/dev/null <"/proc/$p/cmdline") || continue
		case $(head -n 1 <<<"$a") in
		*"$2"*) grep -qxF "$1" <<<"$a" && { echo "$p"; return 0; } ;;
		esac
	done
	return 1
}

wait_mounted() {
	local i
	for i in $(seq 100); do
		grep -q " $1 fuse" /proc/mounts && return 0
		sleep 0.1
	done
	return 1
}

SERVER_PID=
start_server() {
	local port=''
	# ringfsd keeps an O_PATH fd per cached node, up to --max-nodes
	# (default 65536) even after FORGET, but only raises RLIMIT_NOFILE
	# to the hard limit: keep the cache below that, or 10,000 creates
	# per target end in EMFILE.
	local maxn=$(( $(ulimit -Hn) - 4096 ))
	[ "$maxn" -gt 65536 ] && maxn=65536
	[ "$maxn" -lt 1024 ] && maxn=1024
	mkfifo "$T/ringfsd.fifo" || die "mkfifo"
	"$RINGFSD" --listen 127.0.0.1:0 --listen-unix "$T/ringfsd.sock" \
		--state-dir "$T/state" --export "data=$EXP,no_root_squash" \
		--max-nodes "$maxn" \
		</dev/null >"$T/ringfsd.fifo" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	rfs_ready_line "$T/ringfsd.fifo" "$RFS_READY_GLOB" "$T/ringfsd.log" &&
		port=$(rfs_ready_port "$READY_LINE")
	[ -n "$port" ] || die "ringfsd did not start: $(cat "$T/ringfsd.log")"
	PORT=$port
}

# The TLS targets' server: the same export, with a key (TLS with a PSK
# derived from it, --tls=required); its own state directory.  A second
# server, so that the clear targets keep running without a key.
TLS_PID=
TLS_PORT=
start_tls_server() {
	local port=''
	(umask 077 && head -c 32 /dev/urandom >"$T/tls.key") ||
		die "cannot write $T/tls.key"
	mkdir -p "$T/state-tls"
	mkfifo "$T/ringfsd-tls.fifo" || die "mkfifo"
	"$RINGFSD" --listen 127.0.0.1:0 --state-dir "$T/state-tls" \
		--export "data=$EXP,no_root_squash" --key-file "$T/tls.key" \
		--tls=required --max-nodes 16384 \
		</dev/null >"$T/ringfsd-tls.fifo" 2>&1 &
	TLS_PID=$!
	PIDS+=("$TLS_PID")
	rfs_ready_line "$T/ringfsd-tls.fifo" "$RFS_READY_GLOB" \
		"$T/ringfsd-tls.log" && port=$(rfs_ready_port "$READY_LINE")
	[ -n "$port" ] || die "ringfsd (TLS) did not start: $(cat "$T/ringfsd-tls.log")"
	TLS_PORT=$port
}

# ---- sshfs over loopback, to a private sshd ---------------------------
# Nothing here touches the system's sshd, its configuration or host keys,
# or ~/.ssh: the daemon runs from a configuration, host key, client key,
# authorized_keys and known_hosts of its own in $T/sshd, on 127.0.0.1, and
# ssh is started with -F /dev/null (no ~/.ssh/config, and no ~/.ssh
# created).  The one system path used is /run/sshd, sshd's compiled-in
# privilege separation directory: created if missing, removed at exit.
SSHD=/usr/sbin/sshd
SFTP_SERVER=/usr/lib/openssh/sftp-server
SSH_DIR=$T/sshd
SSHD_PID=
SSHD_PORT=
SSHFS_WHY=
# sshfs_no MSG...: why the sshfs target is left out (logged, and in
# results.md)
sshfs_no() {
	SSHFS_WHY="$*"
	log "sshfs: $* -- the sshfs target is skipped, the rest runs"
}

# the Debian packages the sshfs target needs, installed if missing (only
# when the target is selected); 1 = cannot, with the reason logged
sshfs_install() {
	local pkgs=() made_policy=
	command -v sshfs >/dev/null || pkgs+=(sshfs)
	[ -x "$SSHD" ] && [ -x "$SFTP_SERVER" ] || pkgs+=(openssh-server)
	command -v ssh >/dev/null && command -v ssh-keygen >/dev/null ||
		pkgs+=(openssh-client)
	[ ${#pkgs[@]} = 0 ] && return 0
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		sshfs_no "${pkgs[*]} missing and cannot be installed" \
			"(needs root and apt-get)"
		return 1
	fi
	log "sshfs: installing ${pkgs[*]} with apt-get (Debian packages," \
		"non-interactive, no recommends)"
	# keep the package's scripts from starting the system sshd
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d &&
			chmod 0755 /usr/sbin/policy-rc.d && made_policy=1
		log "sshfs: /usr/sbin/policy-rc.d (exit 101) for the install," \
			"so that no system sshd is started; removed afterwards"
	fi
	local apt=(env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get
		   -q -y -o Dpkg::Options::=--force-confdef
		   -o Dpkg::Options::=--force-confold install
		   --no-install-recommends "${pkgs[@]}")
	if ! "${apt[@]}" >"$T/apt.log" 2>&1; then
		log "sshfs: apt-get install failed; apt-get update, then again"
		env DEBIAN_FRONTEND=noninteractive timeout 300 apt-get -q \
			update >>"$T/apt.log" 2>&1
		"${apt[@]}" >>"$T/apt.log" 2>&1
	fi
	[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
	if ! command -v sshfs >/dev/null || [ ! -x "$SSHD" ] ||
	   [ ! -x "$SFTP_SERVER" ] || ! command -v ssh >/dev/null; then
		sshfs_no "installing ${pkgs[*]} failed (no network?):" \
			"$(tail -n 2 "$T/apt.log" | tr '\n' ' ')"
		return 1
	fi
	log "sshfs: installed ${pkgs[*]}"
	return 0
}

# is TCP port $1 on 127.0.0.1 free (bind test)
port_free() {
	python3 - "$1" <<'EOF_PY' 2>/dev/null
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF_PY
}

# start the private sshd: SSHD_PID, SSHD_PORT; 1 on failure (logged)
start_sshd() {
	local d=$SSH_DIR cfg=$SSH_DIR/sshd_config p i
	mkdir -m 0700 "$d" || return 1
	ssh-keygen -q -t ed25519 -N '' -C ringfs-suite-host \
		-f "$d/host_ed25519" &&
	ssh-keygen -q -t ed25519 -N '' -C ringfs-suite-client \
		-f "$d/client_ed25519" || { sshfs_no "ssh-keygen failed"; return 1; }
	cp "$d/client_ed25519.pub" "$d/authorized_keys"
	chmod 0600 "$d/authorized_keys"
	if [ ! -d /run/sshd ]; then
		mkdir -m 0755 /run/sshd && RUN_SSHD_MADE=1
	fi
	for p in $(seq 22200 22299); do
		port_free "$p" || continue
		cat >"$cfg" <<EOF_CFG
# private sshd of one tests/bench/suite.sh run
Port $p
ListenAddress 127.0.0.1
AddressFamily inet
HostKey $d/host_ed25519
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
AllowUsers $(id -un)
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
UsePAM no
# \$T is under /var/tmp (mode 1777): StrictModes would refuse the keys
StrictModes no
X11Forwarding no
AllowAgentForwarding no
PrintMotd no
PrintLastLog no
UseDNS no
# Debian's default sftp server, as users get it
Subsystem sftp $SFTP_SERVER
EOF_CFG
		"$SSHD" -t -f "$cfg" >"$d/sshd-t.log" 2>&1 || {
			sshfs_no "sshd -t: $(head -n 3 "$d/sshd-t.log")"
			return 1; }
		"$SSHD" -D -e -f "$cfg" </dev/null >"$d/sshd.log" 2>&1 &
		SSHD_PID=$!
		for i in $(seq 50); do
			grep -q "Server listening on 127.0.0.1 port $p" \
				"$d/sshd.log" && break
			kill -0 "$SSHD_PID" 2>/dev/null || break
			sleep 0.1
		done
		if grep -q "Server listening on 127.0.0.1 port $p" \
			"$d/sshd.log"; then
			PIDS+=("$SSHD_PID")
			SSHD_PORT=$p
			log "sshfs: private sshd pid $SSHD_PID on 127.0.0.1:$p" \
				"(config $cfg)"
			return 0
		fi
		kill "$SSHD_PID" 2>/dev/null
		wait "$SSHD_PID" 2>/dev/null
		SSHD_PID=
		# lost a race for the port: the next one
		grep -q "Address already in use" "$d/sshd.log" && continue
		sshfs_no "sshd did not start: $(tail -n 3 "$d/sshd.log")"
		return 1
	done
	sshfs_no "no free port in 22200-22299"
	return 1
}

# descendants PID: every descendant of PID, parents first
descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}

# sshfs options: what a user gets by default (sshfs 3.7: its own
# attribute/directory cache on, the kernel page cache dropped on open, one
# connection, ssh's default cipher), nothing else; O_DIRECT opens work
# without -o direct_io (see README.md).  SSHFS_OPTS adds options.
SSHFS_OPTS=${SSHFS_OPTS:-}

add_sshfs() {
	local t=$1 m=$2 sshcmd i dp p sp
	sshfs_install || return 1
	[ -n "$SSHD_PID" ] || start_sshd || return 1
	mkdir "$m"
	sshcmd="ssh -F /dev/null -o IdentityFile=$SSH_DIR/client_ed25519"
	sshcmd+=" -o IdentitiesOnly=yes -o BatchMode=yes"
	sshcmd+=" -o UserKnownHostsFile=$SSH_DIR/known_hosts"
	sshcmd+=" -o GlobalKnownHostsFile=/dev/null"
	sshcmd+=" -o StrictHostKeyChecking=no"
	MOUNTS+=("$m")
	# in the foreground (-f), in the background: its pid is ours and ssh
	# is its child
	env -u SSH_AUTH_SOCK sshfs -f -p "$SSHD_PORT" \
		-o "ssh_command=$sshcmd" ${SSHFS_OPTS:+-o "$SSHFS_OPTS"} \
		"$(id -un)@127.0.0.1:$EXP" "$m" </dev/null \
		>"$SSH_DIR/sshfs.log" 2>&1 &
	dp=$!
	PIDS+=("$dp")
	if ! wait_mounted "$m"; then
		sshfs_no "no mount: $(tail -n 3 "$SSH_DIR/sshfs.log")" \
			"$(tail -n 3 "$SSH_DIR/sshd.log")"
		return 1
	fi
	DPID[$t]=$dp
	# one round trip, then find the session: sftp-server and its sshd
	# parents up to the listener (sshd's pre-authentication child, which
	# exits, is not among them, so nothing has to settle)
	ls "$m" >/dev/null 2>&1
	sp=
	for i in $(seq 50); do
		for p in $(descendants "$SSHD_PID"); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sftp-server ] &&
				{ sp=$p; break 2; }
		done
		sleep 0.1
	done
	if [ -z "$sp" ]; then
		sshfs_no "no sftp-server under sshd $SSHD_PID after a listing"
		return 1
	fi
	# the processes counted by the sys workload: sshfs and its ssh
	# (daemon side; sshfs double-forks ssh, so ssh is found by its
	# command line, which names this run's client key), the sshd
	# listener, the session's sshd process(es) and sftp-server (server
	# side)
	SYSPARTS[$t]="dmn:$dp"
	for p in $(pgrep -x ssh); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
			grep -qF "IdentityFile=$SSH_DIR/client_ed25519" || continue
		SYSPARTS[$t]+=" dmn:$p"
		PIDS+=("$p")
	done
	SYSPARTS[$t]+=" srv:$SSHD_PID"
	p=$sp
	while [ -n "$p" ] && [ "$p" != "$SSHD_PID" ] && [ "$p" -gt 1 ]; do
		SYSPARTS[$t]+=" srv:$p"
		PIDS+=("$p")
		p=$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null)
	done
	SPID[$t]=$SSHD_PID
	LABEL[$t]="sshfs (loopback, private sshd)"
	log "sshfs: mounted $m; processes: $(for p in ${SYSPARTS[$t]}; do
		printf '%s=%s(%s) ' "${p%%:*}" "${p#*:}" \
			"$(cat "/proc/${p#*:}/comm" 2>/dev/null)"; done)"
	return 0
}

add_target() {
	local t=$1 m=$T/mnt-$1 src opts
	case $t in
	backing)
		DIR[$t]=$EXP
		LABEL[$t]="backing dir ($FSTYPE)"
		return 0 ;;
	tcp|uring|shm|rdma|shm-nopt)
		# shm-nopt: shm's own data path, through both daemons (no
		# FUSE passthrough: as without CAP_SYS_ADMIN or Linux < 6.9)
		[ -n "$SERVER_PID" ] || start_server
		mkdir "$m"
		src=127.0.0.1:$PORT:/data
		[ "${t%-nopt}" = shm ] && src=unix:$T/ringfsd.sock:/data
		opts=transport=${t%-nopt}${MOUNT_OPTS:+,$MOUNT_OPTS}
		[ "$t" = shm-nopt ] && opts+=,passthrough=off
		MOUNTS+=("$m")
		timeout 60 "$RINGFS" "$src" "$m" -o "$opts" ||
			die "mount ringfs $t failed"
		wait_mounted "$m" || die "ringfs $t: no mount"
		DPID[$t]=$(find_pid "$m" ringfs) || die "no ringfs pid ($t)"
		SPID[$t]=$SERVER_PID
		LABEL[$t]="ringfs $t"
		[ "$t" = shm-nopt ] && LABEL[$t]="ringfs shm, passthrough=off"
		[ "$t" = shm ] &&
			grep -q '^passthrough=on' "/run/ringfs/client.${DPID[$t]}" \
				2>/dev/null &&
			LABEL[$t]="ringfs shm (FUSE passthrough)"
		;;
	tls-tcp|tls-uring)
		[ -n "$TLS_PID" ] || start_tls_server
		mkdir "$m"
		opts=transport=${t#tls-},tls,key_file=$T/tls.key
		opts+=${MOUNT_OPTS:+,$MOUNT_OPTS}
		MOUNTS+=("$m")
		timeout 60 "$RINGFS" "127.0.0.1:$TLS_PORT:/data" "$m" \
			-o "$opts" || die "mount ringfs $t failed"
		wait_mounted "$m" || die "ringfs $t: no mount"
		DPID[$t]=$(find_pid "$m" ringfs) || die "no ringfs pid ($t)"
		SPID[$t]=$TLS_PID
		# kernel TLS or GnuTLS in user space: the server logs which
		if grep -q "TLS1.3 .* kernel" "$T/ringfsd-tls.log"; then
			LABEL[$t]="ringfs ${t#tls-} + TLS 1.3 (kernel TLS)"
		else
			LABEL[$t]="ringfs ${t#tls-} + TLS 1.3 (user space)"
		fi ;;
	pt-never|pt-auto|pt-nd)
		[ $PT_OK = 1 ] || return 1
		local bin=$T/bin/passthrough_ll cache=never
		[ "$t" = pt-auto ] && cache=auto
		if [ "$t" = pt-nd ]; then
			bin=$T/bin/passthrough_ll_nd
			[ -x "$bin" ] || return 1
		fi
		mkdir "$m"
		MOUNTS+=("$m")
		"$bin" -o "source=$EXP,cache=$cache" "$m" ||
			die "passthrough_ll ($t) failed"
		wait_mounted "$m" || die "passthrough_ll $t: no mount"
		DPID[$t]=$(find_pid "$m" passthrough_ll) ||
			die "no passthrough_ll pid ($t)"
		# ringfs-bench wants a server: give it an idle process
		if [ -z "$DUMMY_PID" ]; then
			sleep 100000 >/dev/null 2>&1 &
			DUMMY_PID=$!
			PIDS+=("$DUMMY_PID")
		fi
		SPID[$t]=$DUMMY_PID
		LABEL[$t]="passthrough_ll cache=$cache"
		[ "$t" = pt-nd ] && LABEL[$t]="passthrough_ll cache=never, no O_DIRECT"
		;;
	sshfs)
		add_sshfs "$t" "$m" || {
			echo "sshfs: target left out: $SSHFS_WHY" \
				>>"$RAW_SKIPPED"
			return 1; }
		;;
	*) die "unknown target $t" ;;
	esac
	DIR[$t]=$m
}

ACTIVE=()
for t in $TARGETS; do
	if add_target "$t"; then
		ACTIVE+=("$t")
	else
		log "target $t left out"
	fi
done
[ ${#ACTIVE[@]} -gt 0 ] || die "no targets"
log "targets: ${ACTIVE[*]}"

# ---- the workloads ----------------------------------------------------
# Each takes TARGET ROUND and leaves its numbers in OUT/raw.
RAW=$OUT/raw
TSV=$RAW/meta.tsv
: >"$TSV"
FAILS=0

fail() {
	echo "suite: $*" >&2
	FAILS=$((FAILS + 1))
	echo "$*" >>"$RAW/failures.txt"
}

# fio_job TARGET ROUND NAME ARGS...
fio_job() {
	local t=$1 r=$2 w=$3 j=$RAW/r$2-$1-$3.json
	shift 3
	timeout $((RUNTIME + RAMP + 120)) fio --name="$w" --direct=1 \
		--time_based --runtime="$RUNTIME" --ramp_time="$RAMP" \
		--output-format=json --output="$j" "$@" \
		>"$j.err" 2>&1 || { fail "fio $w on $t: $(tail -n 2 "$j.err")";
				     rm -f "$j"; }
	rm -f "$j.err"
}

wl_rr4k() {
	fio_job "$1" "$2" rr4k --filename="${DIR[$1]}/bench-r.dat" \
		--size="$SIZE" --rw=randread --bs=4k --ioengine=psync
}
# passthrough_ll opens the backing file with the caller's O_DIRECT and
# writes from libfuse's request buffer, which is not aligned: EINVAL.
no_direct_write() {
	case $1 in
	pt-never|pt-auto)
		[ "$2" = 1 ] && echo "$3 on $1: passthrough_ll forwards" \
			"O_DIRECT and writes from an unaligned buffer (EINVAL)" \
			>>"$RAW/skipped.txt"
		return 0 ;;
	esac
	return 1
}

wl_rw4k() {
	no_direct_write "$1" "$2" rw4k && return
	fio_job "$1" "$2" rw4k --filename="${DIR[$1]}/bench-w.dat" \
		--size="$WSIZE" --rw=randwrite --bs=4k --ioengine=psync
}
wl_rr4kq32() {
	fio_job "$1" "$2" rr4kq32 --filename="${DIR[$1]}/bench-r.dat" \
		--size="$SIZE" --rw=randread --bs=4k --ioengine=libaio \
		--iodepth=32
}
# the wait policy with more readers than CPUs: 4 jobs at QD1 and at QD32
wl_rr4kj4() {
	fio_job "$1" "$2" rr4kj4 --filename="${DIR[$1]}/bench-r.dat" \
		--size="$SIZE" --rw=randread --bs=4k --ioengine=psync \
		--numjobs=4 --group_reporting
}
wl_rr4kq32j4() {
	fio_job "$1" "$2" rr4kq32j4 --filename="${DIR[$1]}/bench-r.dat" \
		--size="$SIZE" --rw=randread --bs=4k --ioengine=libaio \
		--iodepth=32 --numjobs=4 --group_reporting
}
wl_sr1m() {
	fio_job "$1" "$2" sr1m --filename="${DIR[$1]}/bench-r.dat" \
		--size="$SIZE" --rw=read --bs=1M --ioengine=psync
}
wl_sw1m() {
	no_direct_write "$1" "$2" sw1m && return
	fio_job "$1" "$2" sw1m --filename="${DIR[$1]}/bench-sw.dat" \
		--size="$SIZE" --rw=write --bs=1M --ioengine=psync
}

# metaops_step TARGET ROUND METRIC CMD...: "round target metric seconds"
metaops_step() {
	local t=$1 r=$2 m=$3 line
	shift 3
	line=$(timeout 600 "$METAOPS" "$@" 2>"$RAW/metaops.err") || {
		fail "$m on $t: $(tail -n 2 "$RAW/metaops.err")"
		return 1
	}
	echo "$r $t $m $(awk '{ print $3 }' <<<"$line")" >>"$TSV"
}

wl_meta() {
	local t=$1 r=$2 d=${DIR[$1]}/meta-$1-r$2
	mkdir "$d" || { fail "mkdir $d"; return; }
	metaops_step "$t" "$r" create create "$d" "$NFILES" &&
	metaops_step "$t" "$r" stat stat "$d" "$NFILES" &&
	metaops_step "$t" "$r" ls time sh -c "ls -l '$d' >/dev/null" &&
	metaops_step "$t" "$r" unlink unlink "$d" "$NFILES"
	rm -rf "$d"
}

wl_tree() {
	local t=$1 r=$2 d=${DIR[$1]}/tree-$1-r$2
	mkdir "$d" || { fail "mkdir $d"; return; }
	metaops_step "$t" "$r" untar time tar -C "$d" -xf "$T/tree.tar" &&
	metaops_step "$t" "$r" rmtree time rm -rf "$d"
	rm -rf "$d"
}

# sys_parts TARGET ROUND: a target with more processes than ringfs-bench's
# two (--mount-pid, --server-pid) slots (sshfs: sshfs and ssh, the sshd
# processes and sftp-server): the same 4 KiB read loop once per pair of
# processes, r<R>-<T>-sys.json, -sys.1.json, ...; which process each file
# measured as which side is in r<R>-<T>-sys.parts ("file side role pid
# comm"), where suite_report.py sums them up.
proc_name() {
	local c
	c=$(cat "/proc/$1/comm" 2>/dev/null) || c=gone
	if [ "$c" = sshd ]; then
		if [ "$1" = "$SSHD_PID" ]; then c="sshd (listener)"
		else c="sshd (session)"; fi
	fi
	echo "$c"
}

sys_parts() {
	local t=$1 r=$2 parts k=0 a b j f
	read -r -a parts <<<"${SYSPARTS[$t]}"
	if [ -z "$DUMMY_PID" ]; then
		sleep 100000 >/dev/null 2>&1 &
		DUMMY_PID=$!
		PIDS+=("$DUMMY_PID")
	fi
	: >"$RAW/r$r-$t-sys.parts"
	while [ "$k" -lt ${#parts[@]} ]; do
		a=${parts[$k]} b=${parts[$((k + 1))]:-idle:$DUMMY_PID}
		f=r$r-$t-sys.json
		[ "$k" = 0 ] || f=r$r-$t-sys.$((k / 2)).json
		j=$RAW/$f
		if timeout 300 "$RBENCH" --transports none --mount "${DIR[$t]}" \
			--mount-pid "${a#*:}" --server-pid "${b#*:}" \
			--workloads read4k --qd 1 --ops "$SYSOPS" \
			--json "$j" >"${j%.json}.txt" 2>&1; then
			echo "$f daemon ${a%%:*} ${a#*:} $(proc_name "${a#*:}")" \
				>>"$RAW/r$r-$t-sys.parts"
			echo "$f server ${b%%:*} ${b#*:} $(proc_name "${b#*:}")" \
				>>"$RAW/r$r-$t-sys.parts"
		else
			fail "ringfs-bench on $t (pids ${a#*:} ${b#*:}):" \
				"$(grep -m 2 -i error "${j%.json}.txt")"
			rm -f "$RAW/r$r-$t-sys.parts" "$RAW/r$r-$t-sys".*json
			return
		fi
		k=$((k + 2))
	done
}

wl_sys() {
	local t=$1 r=$2
	case $t in backing) return ;; esac
	[ -x "$RBENCH" ] || return
	if [ -n "${SYSPARTS[$t]:-}" ]; then
		sys_parts "$t" "$r"
		return
	fi
	timeout 300 "$RBENCH" --transports none --mount "${DIR[$t]}" \
		--mount-pid "${DPID[$t]}" --server-pid "${SPID[$t]}" \
		--workloads read4k --qd 1 --ops "$SYSOPS" \
		--json "$RAW/r$r-$t-sys.json" >"$RAW/r$r-$t-sys.txt" 2>&1 ||
		fail "ringfs-bench on $t: $(grep -m 2 -i error \
			"$RAW/r$r-$t-sys.txt")"
}

WORKLOADS="rr4k rw4k rr4kq32 rr4kj4 rr4kq32j4 sr1m sw1m meta tree sys"

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_START=$(loadavg)
T_START=$(date +%s)
log "load average at start: $LOAD_START"
: >"$RAW/load.tsv"
n=${#ACTIVE[@]}
DONE=0
for r in $(seq 1 "$ROUNDS"); do
	el=$(( $(date +%s) - T_START ))
	if [ "$r" -gt 1 ] && [ $(( el + el / (r - 1) )) -gt "$BUDGET" ]; then
		log "time budget (${BUDGET}s): stopping after $DONE round(s)"
		break
	fi
	echo "$r $(loadavg)" >>"$RAW/load.tsv"
	for w in $WORKLOADS; do
		log "round $r/$ROUNDS: $w"
		for i in $(seq 0 $((n - 1))); do
			t=${ACTIVE[$(( (i + r - 1) % n ))]}
			"wl_$w" "$t" "$r"
		done
	done
	DONE=$r
done
LOAD_END=$(loadavg)
ELAPSED=$(( $(date +%s) - T_START ))
log "load average at end: $LOAD_END (${ELAPSED}s)"

# ---- the report -------------------------------------------------------
{
	echo "mode=$MODE"
	echo "rounds=$DONE"
	echo "rounds_asked=$ROUNDS"
	echo "budget=$BUDGET"
	echo "runtime=$RUNTIME"
	echo "ramp=$RAMP"
	echo "size=$SIZE"
	echo "wsize=$WSIZE"
	echo "nfiles=$NFILES"
	echo "sysops=$SYSOPS"
	echo "tree_files=$TREE_FILES"
	echo "tree_mb=$TREE_MB"
	echo "fstype=$FSTYPE"
	echo "load_start=$LOAD_START"
	echo "load_end=$LOAD_END"
	echo "elapsed=$ELAPSED"
	echo "kernel=$(uname -r)"
	echo "cpus=$(nproc)"
	echo "fio=$(fio --version)"
	echo "mount_opts=${MOUNT_OPTS:-}"
	echo "rev=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null)$(
		git -C "$SRC" diff --quiet HEAD 2>/dev/null || echo +dirty)"
	echo "command=$CMDLINE"
	for t in "${ACTIVE[@]}"; do
		echo "target=$t|${LABEL[$t]}"
	done
} >"$RAW/params.txt"

python3 "$SRC/suite_report.py" "$OUT" || die "report failed"
cat "$OUT/results.md"
if [ "$MODE" = smoke ]; then
	# every target has its numbers (FUSE targets: syscall counts too)
	python3 - "$OUT/results.json" "$([ -x "$RBENCH" ] && echo 1)" \
		"${ACTIVE[@]}" <<'EOF_PY' || die "smoke: results incomplete"
import json, sys
res, want_sys, targets = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3:]
need = ["rr4k_p50", "rr4kq32_iops", "sr1m_mbs", "meta_ops", "ls_s",
        "untar_s", "rmtree_s"]
bad = [(t, m) for t in targets for m in need
       + (["tot_sys", "tot_cs"] if want_sys and t != "backing" else [])
       if res["medians"].get(t, {}).get(m) is None]
for t, m in bad:
    print(f"suite: smoke: no {m} for {t}", file=sys.stderr)
sys.exit(1 if bad else 0)
EOF_PY
fi
log "results in $OUT (results.md, results.json, raw/)"
[ $FAILS = 0 ] || { echo "suite: $FAILS measurements failed" >&2; exit 1; }
exit 0
