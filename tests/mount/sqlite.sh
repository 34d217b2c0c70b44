#!/bin/bash
# SPDX-License-Identifier: MIT
# sqlite: a WAL-mode database on the mount (needs shared mmap of the -shm
# file and POSIX locks): 1000 rows in 10 transactions, integrity_check,
# count, and again after a remount.
. "$(dirname "$0")/lib.sh" "$@"

command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
DB=$MNT/test.db
rfs_start_server "$EXPORT"
rfs_mount "$MNT"
mode=$(sqlite3 "$DB" 'PRAGMA journal_mode=WAL;') || fail "open db"
[ "$mode" = wal ] || fail "journal_mode is '$mode', want wal"
sqlite3 "$DB" 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n INT);' ||
	fail "create table"
{
	for ((tx = 0; tx < 10; tx++)); do
		echo "BEGIN;"
		for ((i = 0; i < 100; i++)); do
			echo "INSERT INTO t (v, n) VALUES (hex(randomblob(40)), $((tx * 100 + i)));"
		done
		echo "COMMIT;"
	done
} | sqlite3 "$DB" || fail "inserts"
mode=$(sqlite3 "$DB" 'PRAGMA journal_mode;')
[ "$mode" = wal ] || fail "journal_mode '$mode' after reopen, want wal"
check() {
	local ic cnt sum
	ic=$(sqlite3 "$DB" 'PRAGMA integrity_check;') || fail "integrity_check"
	[ "$ic" = ok ] || fail "integrity_check: $ic"
	cnt=$(sqlite3 "$DB" 'SELECT count(*) FROM t;') || fail "count"
	[ "$cnt" = 1000 ] || fail "count $cnt, want 1000"
	sum=$(sqlite3 "$DB" 'SELECT sum(n) FROM t;')
	[ "$sum" = 499500 ] || fail "sum $sum, want 499500"
}
check
# WAL snapshot isolation across processes (the -shm file is shared
# through mmap on the mount): a reader inside a transaction keeps seeing
# 1000 rows while another process commits 10 more.
coproc READER { sqlite3 "$DB"; }
RFS_EXTRA_CLEANUP+=("kill $READER_PID 2>/dev/null")
ask() {
	local line
	printf '%s\n' "$1" >&"${READER[1]}"
	IFS= read -r -t 30 -u "${READER[0]}" line || fail "reader: no answer to $1"
	printf '%s\n' "$line"
}
[ "$(ask 'BEGIN; SELECT count(*) FROM t;')" = 1000 ] || fail "reader count"
for ((i = 0; i < 10; i++)); do
	echo "INSERT INTO t (v, n) VALUES ('late', 0);"
done | sqlite3 "$DB" || fail "insert while a reader is open"
[ "$(ask 'SELECT count(*) FROM t;')" = 1000 ] ||
	fail "reader's snapshot changed under it"
[ "$(ask 'COMMIT; SELECT count(*) FROM t;')" = 1010 ] ||
	fail "reader does not see the commit after its transaction"
printf '.quit\n' >&"${READER[1]}"
wait "$READER_PID" || fail "reader exited non-zero"
sqlite3 "$DB" "DELETE FROM t WHERE v = 'late';" || fail "delete"
sqlite3 "$DB" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null ||
	fail "checkpoint"
rfs_umount "$MNT"
rfs_mount "$MNT"
check
sqlite3 "$EXPORT/test.db" 'PRAGMA integrity_check;' | grep -qx ok ||
	fail "integrity_check in the export"
rfs_umount "$MNT"
rfs_stop_server
echo "PASS sqlite-$RFS_TRANSPORT"
