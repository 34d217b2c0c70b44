#!/bin/bash
# SPDX-License-Identifier: MIT
# flush: close() costs no round trip where no POSIX lock was ever asked
# for.  On the server FLUSH only drops the closing owner's POSIX locks, so
# the client answers the FLUSH of a node nobody locked itself
# (client/locks.c); once a process asks for a POSIX lock on a node, that
# node's FLUSHes go to the server, and closing any descriptor of the file
# drops the process's locks there, as POSIX wants.  The client's own
# per-opcode counts (ringfsctl stats) show which FLUSHes were sent.
. "$(dirname "$0")/lib.sh" "$@"

command -v python3 >/dev/null || skip "python3 not installed"
CTL=$(dirname "$RINGFS")/ringfsctl
[ -x "$CTL" ] || skip "ringfsctl not built next to $RINGFS"
rfs_start_server "$EXPORT"
echo data >"$EXPORT/plain" || fail "create plain"
echo data >"$EXPORT/locked" || fail "create locked"
rfs_mount "$MNT"

# FLUSH requests the client sent (0 when none)
flushes() {
	"$CTL" stats "$MNT" 2>/dev/null | awk '$1 == "flush" { n = $2 } END { print n + 0 }'
}
closes() { # FILE N: N opens and closes
	local i
	for ((i = 0; i < $2; i++)); do
		exec {fd}<"$1" || fail "open $1"
		exec {fd}<&-
	done
}

f0=$(flushes)
closes "$MNT/plain" 50
f1=$(flushes)
[ "$f1" = "$f0" ] ||
	fail "50 closes of a file nobody locked sent $((f1 - f0)) FLUSH requests, want 0"
note "50 closes without a lock: $((f1 - f0)) FLUSH requests"

# a POSIX lock, then a close of another descriptor of the same file: the
# lock is gone (a child asks F_GETLK), and that close went to the server
python3 - "$MNT/locked" <<-'EOF' || fail "closing another descriptor did not drop the process's POSIX lock"
	import fcntl, os, struct, sys
	p = sys.argv[1]
	fd = os.open(p, os.O_RDWR)
	fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
	def held_by_other():
	    # F_GETLK from a child: F_UNLCK when nobody holds [0,10)
	    r, w = os.pipe()
	    pid = os.fork()
	    if pid == 0:
	        c = os.open(p, os.O_RDWR)
	        fl = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 10, 0)
	        got = fcntl.fcntl(c, fcntl.F_GETLK, fl)
	        os.write(w, b"u" if struct.unpack("hhqqi4x", got)[0] == fcntl.F_UNLCK else b"l")
	        os._exit(0)
	    os.close(w)
	    v = os.read(r, 1)
	    os.waitpid(pid, 0)
	    return v == b"l"
	assert held_by_other(), "the lock is not seen by another process"
	fd2 = os.open(p, os.O_RDONLY)
	os.close(fd2)
	sys.exit(1 if held_by_other() else 0)
EOF
f2=$(flushes)
[ "$f2" -gt "$f1" ] ||
	fail "closes of a file with a POSIX lock sent no FLUSH (the server would keep the lock)"
note "closes after the lock: $((f2 - f1)) FLUSH requests"

# the other node still answers its FLUSHes in the client
closes "$MNT/plain" 20
f3=$(flushes)
[ "$f3" = "$f2" ] ||
	fail "closes of the unlocked file sent $((f3 - f2)) FLUSH requests after another file was locked"
rfs_umount "$MNT"
echo "PASS flush-$RFS_TRANSPORT"
