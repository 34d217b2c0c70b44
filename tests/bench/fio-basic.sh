#!/bin/bash
# SPDX-License-Identifier: MIT
#
# fio-basic.sh [BUILD_DIR]: a first latency/throughput benchmark.  NOT a
# test (not registered with meson): run it by hand, as root.
#
# In ONE run, interleaved (each measurement goes round all targets before
# the next one starts, so drift hits every row alike), for the backing
# directory and for a ringfs mount per built transport (tcp, uring):
#   - 4 KiB random read, QD1, O_DIRECT (ioengine=psync, direct=1), 256 MiB
#     file, RUNTIME s (default 10): p50 and p99 completion latency
#   - 1 MiB sequential read, O_DIRECT, RUNTIME s: MB/s
#   - 1 MiB sequential read, buffered, one pass over the file after
#     dropping the page cache (echo 3 > /proc/sys/vm/drop_caches): MB/s
# and prints a Markdown table.  Needs fio and python3 (JSON parsing).
#
# Environment: RUNTIME (s), SIZE (fio size, default 256M), TRANSPORTS
# (default "tcp uring"), BENCH_DIR (where to put the temp export; default
# /tmp, must not be tmpfs for O_DIRECT).
# the ready-line reader (the helpers below are this script's own)
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"

BUILD=${1:-$(dirname "$0")/../../build}
RINGFSD=$BUILD/server/ringfsd
RINGFS=$BUILD/client/ringfs
RUNTIME=${RUNTIME:-10}
SIZE=${SIZE:-256M}
TRANSPORTS=${TRANSPORTS:-tcp uring}

die() { echo "fio-basic: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (mounts, drop_caches)"
command -v fio >/dev/null || die "fio not installed"
command -v python3 >/dev/null || die "python3 not installed"
[ -x "$RINGFSD" ] && [ -x "$RINGFS" ] || die "no ringfsd/ringfs in $BUILD"

T=$(mktemp -d "${BENCH_DIR:-/tmp}/ringfs-bench.XXXXXX") || exit 1
chmod 0755 "$T"
mkdir "$T/export"
MOUNTS=()
SERVERS=()
cleanup() {
	local m p
	trap - EXIT INT TERM
	for m in "${MOUNTS[@]}"; do
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -u -z "$m"
	done
	for p in "${SERVERS[@]}"; do
		kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	if grep -q " $T/" /proc/self/mountinfo; then
		echo "fio-basic: a mount under $T remains; not removing it" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server TRANSPORT: prints the port (read from the ready line through
# a FIFO with a bounded read).
start_server() {
	local t=$1 fifo=$T/srv-$1.fifo port=''
	mkfifo "$fifo"
	"$RINGFSD" --listen 127.0.0.1:0 --transport "$t" \
		--export "data=$T/export,no_root_squash" 2>"$fifo" </dev/null &
	SERVERS+=($!)
	rfs_ready_line "$fifo" "$RFS_READY_GLOB" "$T/server-$t.log" &&
		port=$(rfs_ready_port "$READY_LINE")
	[ -n "$port" ] || die "ringfsd ($t) did not start"
	PORT=$port
}

declare -A DIR
NAMES=(backing)
DIR[backing]=$T/export/backing
mkdir "${DIR[backing]}"
for t in $TRANSPORTS; do
	start_server "$t"
	mkdir "$T/mnt-$t"
	MOUNTS+=("$T/mnt-$t")
	timeout 60 "$RINGFS" "127.0.0.1:$PORT:/data" "$T/mnt-$t" \
		-o "transport=$t" || die "mount ($t) failed"
	mkdir "$T/mnt-$t/$t"
	NAMES+=("$t")
	DIR[$t]=$T/mnt-$t/$t
done

# run NAME JOB EXTRA-ARGS...: JSON to $T/NAME-JOB.json; "" on failure.
run() {
	local n=$1 job=$2
	shift 2
	fio --name="$job" --directory="${DIR[$n]}" --filename=bench.dat \
		--size="$SIZE" --ioengine=psync --iodepth=1 \
		--output-format=json --output="$T/$n-$job.json" "$@" \
		>"$T/$n-$job.err" 2>&1 ||
		{ echo "fio-basic: $n $job failed: $(tail -n 2 "$T/$n-$job.err")" >&2
		  rm -f "$T/$n-$job.json"; }
}

echo "# laying out $SIZE files" >&2
for n in "${NAMES[@]}"; do
	run "$n" layout --rw=write --bs=1M --direct=0 --end_fsync=1
done
echo "# 4k randread QD1 direct, ${RUNTIME}s each" >&2
for n in "${NAMES[@]}"; do
	run "$n" rand4k --rw=randread --bs=4k --direct=1 --time_based \
		--runtime="$RUNTIME"
done
echo "# 1M seqread direct, ${RUNTIME}s each" >&2
for n in "${NAMES[@]}"; do
	run "$n" seq1m --rw=read --bs=1M --direct=1 --time_based \
		--runtime="$RUNTIME"
done
echo "# 1M seqread buffered, cold cache, one pass" >&2
for n in "${NAMES[@]}"; do
	sync
	echo 3 >/proc/sys/vm/drop_caches
	run "$n" seq1m-buf --rw=read --bs=1M --direct=0
done

python3 - "$T" "${NAMES[@]}" <<'EOF'
import json, sys
t, names = sys.argv[1], sys.argv[2:]
label = {"backing": "backing dir"}

def job(n, j):
    try:
        with open(f"{t}/{n}-{j}.json") as f:
            return json.load(f)["jobs"][0]["read"]
    except (OSError, ValueError, KeyError, IndexError):
        return None

def pct(r, p):
    if not r or not r["clat_ns"].get("percentile"):
        return "n/a"
    return f'{r["clat_ns"]["percentile"][p] / 1000:.1f}'

def mbs(r):
    return f'{r["bw_bytes"] / 1e6:.0f}' if r else "n/a"

print("| target | 4K QD1 p50 µs | 4K QD1 p99 µs | 1M seq read MB/s (direct)"
      " | 1M seq read MB/s (buffered, cold) |")
print("|---|---:|---:|---:|---:|")
for n in names:
    r = job(n, "rand4k")
    print(f"| {label.get(n, 'ringfs ' + n)} | {pct(r, '50.000000')} | "
          f"{pct(r, '99.000000')} | {mbs(job(n, 'seq1m'))} | "
          f"{mbs(job(n, 'seq1m-buf'))} |")
EOF
