#!/bin/bash
# SPDX-License-Identifier: MIT
# durable: a WRITE the gateway acknowledged survives a kill -9 of the
# gateway, as a vfs export's survives a kill of ringfsd (it is in the
# server's page cache).  libgfapi's write-behind, on in every volume by
# default, answers a write before sending it to the bricks: ringfsd
# turns it off in its own graph (pass-through), whatever the volume says.
#
# To make the window wide and the outcome certain, the bricks are
# stopped (SIGSTOP) between a writer's open and its write: nothing can
# reach them, so a write that returns was answered by the gateway alone.
# Once the write is out (the writer returned, or the client has it in
# flight), the gateway is killed (-9), the bricks resumed and the
# gateway started again on its port; the client reconnects and replays
# what was not answered.  The writer must return its full count and the
# volume (through gluster's own client) must hold its bytes.  The
# volume is left with performance.write-behind on (the default) on
# purpose: with ringfsd's pass-through removed this case fails.
. "$(dirname "$0")/../mount/lib.sh" "$@"
RINGFSCTL=$(rfs_abspath "${RINGFSCTL:?RINGFSCTL not set}")

[ "$RFS_BACKEND" = gluster ] || skip "run with RFS_BACKEND=gluster"
command -v python3 >/dev/null || skip "python3 not installed"

mkdir -m 0700 "$T/state" || fail "mkdir $T/state"
rfs_start_server "$EXPORT" --state-dir "$T/state"
PORT=$RFS_PORT
rfs_mount "$MNT"

head -c 262144 /dev/urandom >"$T/data" || fail "random data"
: >"$MNT/f" || fail "create f through the mount"

# the bricks this case's glusterd started (their pid files are in its
# run directory), resumed by the cleanup whatever happens
BRICKS=()
while IFS= read -r f; do
	p=$(cat "$f" 2>/dev/null)
	[ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = glusterfsd ] &&
		BRICKS+=("$p")
done < <(find "$GL_DIR/run" -name '*.pid')
[ "${#BRICKS[@]}" = 2 ] || fail "found ${#BRICKS[@]} brick processes, want 2"
resume() {
	kill -CONT "${BRICKS[@]}" 2>/dev/null
	return 0
}
# first of the cleanup hooks: the unmounts need the bricks
RFS_CLEANUP_HOOKS=(resume "${RFS_CLEANUP_HOOKS[@]}")

# the writer: opened, then when told four 64 KiB writes one after the
# other.  Buffered, as most programs write: a mount without
# writeback_cache sends each write(2) on and returns with its reply.
# (An O_DIRECT open would hide the defect: gluster's write-behind lets
# O_DIRECT writes through.)  Write-behind would answer each at once,
# send the first and hold the next ones in the gateway while it is in
# transit: those are what a kill loses.
coproc W {
	python3 - "$MNT/f" "$T/data" <<-'EOF'
		import os, sys
		fd = os.open(sys.argv[1], os.O_WRONLY)
		data = open(sys.argv[2], "rb").read()
		# a first write while the bricks run: the kernel checks the
		# file's security.capability (GETXATTR) before the first
		# write only
		os.pwrite(fd, data[:65536], 0)
		print("open", flush=True)
		sys.stdin.readline()
		n = 0
		for i in range(4):
		    n += os.pwrite(fd, data[i * 65536:(i + 1) * 65536], i * 65536)
		print("wrote", n, flush=True)
		os.close(fd)
	EOF
}
# shellcheck disable=SC2153 # W_PID: set by coproc
WPID=$W_PID
# bash drops W when the coproc exits: keep its pipes
exec {WR}<&"${W[0]}" {WW}>&"${W[1]}"
read -r -t 30 line <&"$WR" || fail "writer: no answer after its open"
[ "$line" = open ] || fail "writer: $line"

kill -STOP "${BRICKS[@]}" || fail "kill -STOP the bricks"
note "bricks ${BRICKS[*]} stopped"
echo go >&"$WW"

# until the writes are out: the writer returned (the gateway answered
# them with the bricks stopped), or the client has had a request in
# flight at two polls in a row, 50 ms apart (a gateway that answers
# without the bricks does so in microseconds: a sample that fell in
# between is not enough)
inflight() {
	"$RINGFSCTL" conns "$MNT" 2>/dev/null | grep -q 'inflight:[1-9]'
}
answered=no
seen=0
for ((i = 0; i < 600; i++)); do
	if ! kill -0 "$WPID" 2>/dev/null; then
		answered=yes
		break
	fi
	if inflight; then
		seen=$((seen + 1))
		[ "$seen" -ge 2 ] && break
	else
		seen=0
	fi
	sleep 0.05
done
[ "$i" -lt 600 ] || fail "the writes neither returned nor went out in 30 s"
note "write out; answered with the bricks stopped: $answered"

kill -KILL "$RFS_SERVER_PID"
wait "$RFS_SERVER_PID" 2>/dev/null
resume
note "gateway killed, bricks resumed"
rfs_start_server "$EXPORT" --state-dir "$T/state" --listen "127.0.0.1:$PORT"

# the writer returns (at once, or after the client's replay)
out=
read -r -t 60 out <&"$WR" || true
wait "$WPID"
st=$?
[ "$st" = 0 ] || fail "writer exited $st ($out)"
[ "$out" = "wrote 262144" ] || fail "writer: '$out', want 'wrote 262144'"
cmp "$T/data" "$EXPORT/f" ||
	fail "the volume lost a write the gateway acknowledged (answered with the bricks stopped: $answered)"
[ "$answered" = no ] ||
	fail "the gateway answered a write with the bricks stopped: write-behind is on"
rfs_umount "$MNT"
echo "PASS durable-$RFS_TRANSPORT"
