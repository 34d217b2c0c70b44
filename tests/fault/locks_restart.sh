#!/bin/bash
# SPDX-License-Identifier: MIT
# locks_restart: locks held across a server kill -9 + restart (same port,
# same --state-dir) on a hard mount.
#  1. A process holds an fcntl write lock on a range of f1 and a flock on
#     f2; the server is kill -9'd and restarted; once the client is back,
#     a second process sees both locks still held (F_GETLK reports a
#     conflict, flock LOCK_NB fails) and the holder's I/O works; after the
#     holder releases them the second process can take them.
#  2. Lost lock: the client is stopped (SIGSTOP) while the server restarts
#     and a second client takes the locks first; when the first client
#     comes back it cannot re-take them: it says so in its log and the
#     holder's I/O on those files fails with EIO.
. "$(dirname "$0")/lib_fault.sh" "$@"
LOCKHOLD=$POSIX_CHECK
START=4096
LEN=8192

rfs_start_server "$EXPORT" --state-dir "$T/state"
PORT=$RFS_PORT
rfs_mount_fg "$MNT" "loops=2"
CLIENT1=$RFS_CLIENT_PID
head -c 65536 /dev/zero >"$MNT/f1" || fail "creating f1"
head -c 4096 /dev/zero >"$MNT/f2" || fail "creating f2"

# hold_start NAME: a holder on $MNT with fds 3 (commands) and 4 (answers)
hold_start() {
	rm -f "$T/h.in" "$T/h.out"
	mkfifo "$T/h.in" "$T/h.out" || fail "mkfifo"
	"$LOCKHOLD" hold "$MNT/f1" $START $LEN "$MNT/f2" \
		<"$T/h.in" >"$T/h.out" 2>>"$T/lockhold.err" &
	HOLDER=$!
	RFS_EXTRA_CLEANUP+=("kill -KILL $HOLDER 2>/dev/null")
	exec 3>"$T/h.in" 4<"$T/h.out"
	expect "held"
}

# expect WORDS: the holder's next answer (bounded wait)
expect() {
	local line=
	read -r -t 60 -u 4 line || fail "holder: no answer (wanted '$1')"
	[ "$line" = "$1" ] || fail "holder answered '$line', wanted '$1'"
}

# (the restarted server inherits fds 3 and 4: no EOF, say quit)
hold_stop() {
	echo quit >&3
	exec 3>&- 4<&-
	wait "$HOLDER" || fail "holder failed: $(cat "$T/lockhold.err")"
}

check() { "$LOCKHOLD" check "$1/f1" $START $LEN "$1/f2"; }

# kill -9 the server, restart it on the same port and state
restart_server() {
	kill -KILL "$RFS_SERVER_PID"
	wait "$RFS_SERVER_PID" 2>/dev/null
	rfs_start_server "$EXPORT" --state-dir "$T/state" \
		--listen 127.0.0.1:"$PORT"
}

# wait_log PATTERN COUNT: until the client log has COUNT matching lines
wait_log() {
	local deadline=$((SECONDS + 60)) n
	while [ $SECONDS -lt $deadline ]; do
		n=$(grep -c -- "$1" "$T/client.log" || true)
		[ "${n:-0}" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# ---- 1. locks survive the restart ----
hold_start
r=$(check "$MNT") || fail "check before the restart"
[ "$r" = "posix=held flock=held" ] || fail "before the restart: $r"
restart_server
wait_log "restarted: new session" 1 || fail "the client never reconnected"
timeout 60 stat "$MNT/f1" >/dev/null || fail "stat after the restart"
grep -q "2 locks re-taken, 0 lost" "$T/client.log" ||
	fail "the client did not report re-taking 2 locks"
r=$(check "$MNT") || fail "check after the restart"
[ "$r" = "posix=held flock=held" ] ||
	fail "locks not held after the server restart: $r"
echo io >&3
expect "io ok"
echo release >&3
expect "released"
r=$(check "$MNT") || fail "check after the release"
[ "$r" = "posix=free flock=free" ] || fail "after the release: $r"
hold_stop
note "phase 1: fcntl and flock locks kept across kill -9 + restart"

# ---- 2. a lock taken by another client meanwhile is lost ----
hold_start
kill -STOP "$CLIENT1"
RFS_EXTRA_CLEANUP+=("kill -CONT $CLIENT1 2>/dev/null")
restart_server
mkdir "$T/mnt2" || fail "mkdir mnt2"
rfs_mount_fg "$T/mnt2" "loops=1"
mkfifo "$T/t.in" || fail "mkfifo"
"$LOCKHOLD" take "$T/mnt2/f1" $START $LEN "$T/mnt2/f2" <"$T/t.in" \
	>"$T/take.out" 2>>"$T/lockhold.err" &
TAKER=$!
RFS_EXTRA_CLEANUP+=("kill -KILL $TAKER 2>/dev/null")
exec 5>"$T/t.in"
deadline=$((SECONDS + 60))
until [ -s "$T/take.out" ] || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
[ "$(cat "$T/take.out")" = taken ] ||
	fail "second client could not take the locks: $(cat "$T/take.out")"
kill -CONT "$CLIENT1"
wait_log "lost across the server restart" 1 ||
	fail "client 1 did not report the lost lock"
grep -q "0 locks re-taken, 2 lost" "$T/client.log" ||
	fail "client 1 did not count 2 lost locks"
echo io >&3
expect "io EIO"
echo quit >&5
exec 5>&-
wait "$TAKER" || fail "taker failed: $(cat "$T/lockhold.err")"
hold_stop
note "phase 2: locks lost to another client: I/O fails with EIO"

rfs_umount "$T/mnt2"
rfs_umount "$MNT"
echo "PASS locks_restart-$RFS_TRANSPORT"
