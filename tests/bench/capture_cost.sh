#!/bin/bash
# SPDX-License-Identifier: MIT
#
# capture_cost.sh BUILD_DIR [TRANSPORT] [ROUNDS]: what an attached
# ringfsctl capture costs on 4 KiB O_DIRECT reads at QD1 through a ringfs
# mount.  One ringfsd and one mount (TRANSPORT: tcp, uring or shm; default
# shm); ringfs-bench --mount (20,000 reads, exact syscall counts of the
# reading thread, the client daemon and ringfsd) alternately without and
# with two captures attached (one to the client, one to ringfsd, both
# written to /dev/null), ROUNDS times (default 3).  Rows start with "off"
# or "on ".  Needs root, /dev/fuse, perf events.  Not a test: numbers
# need a quiet machine.
set -eu
B=$(cd "${1:?usage: $0 BUILD_DIR [TRANSPORT] [ROUNDS]}" && pwd)
TR=${2:-shm}
R=${3:-3}
D=$(mktemp -d "${BENCH_DIR:-/var/tmp}/ringfs-capcost.XXXXXX")
SP=

cleanup() {
	fusermount3 -u "$D/mnt" 2>/dev/null || true
	[ -n "$SP" ] && kill "$SP" 2>/dev/null && wait "$SP" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
mkdir "$D/exp" "$D/mnt"
mkfifo "$D/srv.fifo"
"$B/server/ringfsd" --listen 127.0.0.1:0 --listen-unix "$D/s.sock" \
	--export "data=$D/exp,no_root_squash" 2>"$D/srv.fifo" &
SP=$!
exec {sfd}<"$D/srv.fifo"
line=
while [[ $line != *"listening on"* ]]; do
	read -r -t 20 -u "$sfd" line ||
		{ echo "ringfsd: no ready line" >&2; exit 1; }
done
cat <&"$sfd" >"$D/srv.log" &
PORT=$(printf '%s\n' "$line" | sed -n 's/.*listening on 127.0.0.1:\([0-9]*\) .*/\1/p')
SRC=127.0.0.1:$PORT:/data
[ "$TR" = shm ] && SRC=unix:$D/s.sock:/data
"$B/client/ringfs" "$SRC" "$D/mnt" -o "transport=$TR"
CP=$(pgrep -f -- " $D/mnt( |\$)" | head -n1)
run() {
	"$B/tests/bench/ringfs-bench" --transports none --mount "$D/mnt" \
		--mount-pid "$CP" --server-pid "$SP" --workloads read4k \
		--qd 1 --ops 20000 2>&1 | grep '^fuse/.*|' | sed "s/^/$1 /"
}
"$B/tests/bench/ringfs-bench" --transports none --mount "$D/mnt" \
	--mount-pid "$CP" --server-pid "$SP" --workloads read4k --qd 1 \
	--ops 20000 2>&1 | grep -B1 '^ *|  client' | head -n 2 | sed 's/^/    /'
run warmup >/dev/null
for _ in $(seq "$R"); do
	run "off"
	pids=()
	fds=()
	for t in "ringfsd:$SP" "$D/mnt"; do
		rm -f "$D/cap.fifo"
		mkfifo "$D/cap.fifo"
		"$B/client/ringfsctl" capture -w /dev/null "$t" 2>"$D/cap.fifo" &
		pids+=($!)
		exec {fd}<"$D/cap.fifo"
		fds+=("$fd")
		# attached once it says so
		read -r -t 20 -u "$fd" line ||
			{ echo "capture of $t did not start" >&2; exit 1; }
	done
	run "on "
	kill -INT "${pids[@]}"
	wait "${pids[@]}" || true
	for fd in "${fds[@]}"; do exec {fd}<&-; done
done
