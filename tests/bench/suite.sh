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
#   libfuse's passthrough_ll example (built now from libfuse3-dev's copy)
#   with -o cache=never, with -o cache=auto (its default), and with
#   cache=never but without forwarding O_DIRECT to the backing file (pt-nd:
#   like ringfsd, which does not forward it either)
# and runs, for R rounds, every workload on every target, interleaved
# (each workload goes round all targets, in an order rotated each round):
#   4 KiB random read QD1 O_DIRECT (psync), 4 KiB random write QD1 O_DIRECT,
#   4 KiB random read QD32 O_DIRECT (libaio), 1 MiB sequential read and
#   write O_DIRECT (psync), create/stat/unlink of N files, ls -l of them,
#   tar -x of a header tree and rm -rf of it, and (FUSE targets) syscalls
#   and context switches per 4 KiB read of the application thread, the
#   FUSE daemon and ringfsd, counted by ringfs-bench --mount.
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
	TARGETS+=" pt-never pt-nd pt-auto"
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
EXP=$T/export
mkdir "$EXP" "$T/bin" "$T/state"

MOUNTS=()
PIDS=()
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
declare -A DIR DPID SPID LABEL
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

add_target() {
	local t=$1 m=$T/mnt-$1 src opts
	case $t in
	backing)
		DIR[$t]=$EXP
		LABEL[$t]="backing dir ($FSTYPE)"
		return 0 ;;
	tcp|uring|shm|rdma)
		[ -n "$SERVER_PID" ] || start_server
		mkdir "$m"
		src=127.0.0.1:$PORT:/data
		[ "$t" = shm ] && src=unix:$T/ringfsd.sock:/data
		opts=transport=$t${MOUNT_OPTS:+,$MOUNT_OPTS}
		MOUNTS+=("$m")
		timeout 60 "$RINGFS" "$src" "$m" -o "$opts" ||
			die "mount ringfs $t failed"
		wait_mounted "$m" || die "ringfs $t: no mount"
		DPID[$t]=$(find_pid "$m" ringfs) || die "no ringfs pid ($t)"
		SPID[$t]=$SERVER_PID
		LABEL[$t]="ringfs $t" ;;
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
: >"$RAW/skipped.txt"
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

wl_sys() {
	local t=$1 r=$2
	case $t in backing) return ;; esac
	[ -x "$RBENCH" ] || return
	timeout 300 "$RBENCH" --transports none --mount "${DIR[$t]}" \
		--mount-pid "${DPID[$t]}" --server-pid "${SPID[$t]}" \
		--workloads read4k --qd 1 --ops "$SYSOPS" \
		--json "$RAW/r$r-$t-sys.json" >"$RAW/r$r-$t-sys.txt" 2>&1 ||
		fail "ringfs-bench on $t: $(grep -m 2 -i error \
			"$RAW/r$r-$t-sys.txt")"
}

WORKLOADS="rr4k rw4k rr4kq32 sr1m sw1m meta tree sys"

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
