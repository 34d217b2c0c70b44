# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# ctl_test.sh CASE RINGFSD RINGFSCTL: ringfsctl against a real ringfsd.
#
#   ping-tcp, ping-uring, ping-shm   ping -c 5 over the transport: five
#                     reply lines, a summary, exit 0; the largest and an
#                     empty payload; -q
#   stats             the counters grow across a ping; --json parses;
#                     the text form names every counter
#   errors            refused port, a peer that never answers (-W),
#                     unknown export, missing export, no socket, the
#                     server dying during a ping run, usage errors
#   auth              ringfsd --key-file: the right key, a wrong one,
#                     none, an unsafe key file; a key against a keyless
#                     server
. "$(dirname "$0")/lib.sh" "$@"

# ping_ok N: the output of a successful ping -c N
ping_ok() {
	local n=$1 lines
	expect_rc 0
	lines=$(grep -Ec "^[0-9]+ bytes from .*: seq=[0-9]+ time=[0-9.]+ " "$T/out")
	[ "$lines" = "$n" ] || fail "$lines reply lines, want $n"
	expect_in out "^$n sent, $n received, 0 lost \(0\.0%\)" "summary"
	expect_in out "^rtt min/avg/p50/p99/max = [0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ " "rtt line"
	expect_in out "^transport [a-z]+: [0-9.]+ syscalls per ping" "syscall line"
}

# json_load FILE ARRAY: check ringfsctl stats --json output (one JSON
# object, every counter a non-negative integer) and fill the associative
# ARRAY (declare -A) with its fields, in one python run.
json_load() {
	local -n arr=$2
	local k v
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
for k in ("uptime_ns", "sessions", "connections", "requests", "errors",
          "bytes_in", "bytes_out", "nodes"):
    assert isinstance(d[k], int) and d[k] >= 0, k
for k in ("server", "export", "transport"):
    assert isinstance(d[k], str) and "\n" not in d[k], k
for k, v in d.items():
    print(k, v)' "$1" >"$T/json.kv" || fail "stats --json output is not the expected JSON"
	while read -r k v; do
		# shellcheck disable=SC2034,SC2004 # a nameref to an associative array
		arr[$k]=$v
	done <"$T/json.kv"
}

# ping_bg ARGS...: ringfsctl ping ARGS in the background, its stdout
# through a FIFO; returns once two reply lines came (so the run is under
# way), with BG_PID and BG_FD set.
ping_bg() {
	local fifo=$T/ping$RANDOM.fifo line n=0
	mkfifo "$fifo" || fail mkfifo
	timeout 60 "$RINGFSCTL" ping "$@" >"$fifo" 2>"$T/err" </dev/null &
	BG_PID=$!
	RFS_PIDS+=("$BG_PID")
	exec {BG_FD}<"$fifo"
	: >"$T/out"
	while IFS= read -r -t 20 -u "$BG_FD" line; do
		printf '%s\n' "$line" >>"$T/out"
		case $line in *" bytes from "*) n=$((n + 1)) ;; esac
		[ "$n" -lt 2 ] || break
	done
	[ "$n" = 2 ] || fail "ringfsctl ping $*: no two replies within 20 s"
}

# ping_bg_end: collect the rest of its output and its exit status (RC)
ping_bg_end() {
	cat <&"$BG_FD" >>"$T/out"
	exec {BG_FD}<&-
	RC=0
	wait "$BG_PID" || RC=$?
	printf '$ ringfsctl ping (background)  -> exit %s\n' "$RC"
	sed 's/^/  | /' "$T/out" "$T/err"
	[ "$RC" != 124 ] || fail "ringfsctl ping hung (killed after 60 s)"
}

case_ping() {
	local t=$1 src
	if [ "$t" = shm ]; then
		ctl_start_server
		src=unix:$T/ringfsd.sock:/data
	else
		ctl_start_server --transport "$t"
		src=127.0.0.1:$SRV_PORT:/data
	fi
	run_ctl ping "$src" -t "$t" -c 5 -i 10
	ping_ok 5
	expect_in out "^PING $src over $t: 64 bytes of payload" "header line"
	expect_in out "^transport $t: " "transport named in the summary"
	expect_in out "seq=5 " "fifth reply"

	# the largest payload PING carries, and none at all
	run_ctl ping "$src" -t "$t" -c 2 -i 0 -s 65536
	ping_ok 2
	expect_in out "^65584 bytes from " "64 KiB reply frame"
	run_ctl ping "$src" -t "$t" -c 3 -i 0 -s 0 -q
	expect_rc 0
	grep -q "bytes from" "$T/out" && fail "-q printed reply lines"
	expect_in out "^3 sent, 3 received, 0 lost" "summary with -q"

	# -s beyond what PING carries is a usage error
	run_ctl ping "$src" -t "$t" -c 1 -s 65537
	expect_rc 2
	expect_in err "--size: '65537' is not a number from 0 to 65536"

	if [ "$t" = shm ]; then
		# shm needs the Unix socket: a TCP address is refused
		run_ctl ping "127.0.0.1:$SRV_PORT:/data" -t shm -c 1
		expect_rc 2
		expect_in err "shm works on this host only.*unix:PATH:/EXPORT"
		# and the stream transports work through that socket too
		run_ctl ping "$src" -c 2 -i 0
		ping_ok 2
	fi
}

case_stats() {
	local -A s0 s1
	ctl_start_server
	run_ctl stats "127.0.0.1:$SRV_PORT:/data" --json
	expect_rc 0
	json_load "$T/out" s0
	[ "${s0[export]}" = data ] || fail "export '${s0[export]}' in the JSON"

	run_ctl ping "127.0.0.1:$SRV_PORT:/data" -c 5 -i 0
	ping_ok 5

	# the same counters through another SERVER syntax and transport
	run_ctl stats "127.0.0.1:$SRV_PORT" --export data --json -t tcp
	expect_rc 0
	json_load "$T/out" s1
	note "requests ${s0[requests]} -> ${s1[requests]}," \
		"connections ${s0[connections]} -> ${s1[connections]}"
	# ping's HELLO, 5 PINGs and BYE at least
	[ "${s1[requests]}" -ge $((s0[requests] + 7)) ] ||
		fail "requests went from ${s0[requests]} to ${s1[requests]} across 5 pings"
	[ "${s1[connections]}" -ge $((s0[connections] + 2)) ] ||
		fail "connections went from ${s0[connections]} to ${s1[connections]}"
	[ "${s1[bytes_in]}" -gt "${s0[bytes_in]}" ] || fail "bytes_in did not grow"
	[ "${s1[uptime_ns]}" -gt "${s0[uptime_ns]}" ] || fail "uptime did not grow"
	[ "${s1[sessions]}" -ge 1 ] || fail "no session counted"
	[ "${s1[transport]}" = tcp ] || fail "transport '${s1[transport]}' in the JSON"

	# the text form names every counter
	run_ctl stats "unix:$T/ringfsd.sock:/data"
	expect_rc 0
	for k in uptime sessions connections requests errors "bytes in" \
		"bytes out" nodes; do
		expect_in out "^  $k +[0-9]" "counter '$k'"
	done
	expect_in out "^ringfsd at unix:$T/ringfsd.sock \(export data, over " "title line"

	# --json belongs to stats, -c to ping
	run_ctl ping "127.0.0.1:$SRV_PORT:/data" --json
	expect_rc 2
	expect_in err "--json is an option of stats"
	run_ctl stats "127.0.0.1:$SRV_PORT:/data" -c 3
	expect_rc 2
	expect_in err "--count is an option of ping"
}

case_errors() {
	# nothing listens: refused at once, with a hint
	ctl_peer bound
	run_ctl ping "127.0.0.1:$PEER_PORT:/data" -c 1
	expect_rc 1
	expect_in err "^ringfsctl: connect 127\.0\.0\.1:$PEER_PORT over [a-z]+: Connection refused \(is ringfsd running\? see its --listen\)$"
	expect_fast 5000
	run_ctl stats "127.0.0.1:$PEER_PORT:/data"
	expect_rc 1
	expect_in err "Connection refused"

	# a peer that accepts the handshake and then says nothing: -W
	ctl_peer silent
	run_ctl ping "127.0.0.1:$PEER_PORT:/data" -c 1 -W 500
	expect_rc 1
	expect_in err "^ringfsctl: HELLO to 127\.0\.0\.1:$PEER_PORT: no reply within 500 ms"
	expect_fast 5000

	ctl_start_server
	# unknown export: the server says so, and so do we
	run_ctl ping "127.0.0.1:$SRV_PORT:/nope" -c 1
	expect_rc 1
	expect_in err "^ringfsctl: export 'nope' not found on 127\.0\.0\.1:$SRV_PORT$"
	expect_fast 5000
	# no export at all: a usage error, before connecting
	run_ctl ping "127.0.0.1:$SRV_PORT" -c 1
	expect_rc 2
	expect_in err "which export\?.*--export NAME"
	run_ctl ping "127.0.0.1:$SRV_PORT:/data" --export other -c 1
	expect_rc 2
	expect_in err "SERVER names export 'data' but --export says 'other'"
	# no such socket
	run_ctl ping "unix:$T/nothere.sock:/data" -c 1
	expect_rc 1
	expect_in err "No such file or directory \(no such socket"

	# Ctrl-C: the summary, and exit 0 when every ping was answered
	ping_bg "127.0.0.1:$SRV_PORT:/data" -i 20
	kill -INT "$BG_PID"
	ping_bg_end
	expect_rc 0
	expect_in out "^[0-9]+ sent, [0-9]+ received, 0 lost .*\(interrupted\)$" "summary after Ctrl-C"
	expect_in out "^rtt min/avg/p50/p99/max" "rtt line after Ctrl-C"

	# the server goes away during a run: a clear error, exit 1
	ping_bg "127.0.0.1:$SRV_PORT:/data" -i 20
	ctl_stop_server
	ping_bg_end
	expect_rc 1
	expect_in err "^ringfsctl: connection to 127\.0\.0\.1:$SRV_PORT lost"
	expect_in out "^[0-9]+ sent, [0-9]+ received" "summary after the loss"

	# usage
	run_ctl frobnicate x:/y
	expect_rc 2
	expect_in err "unknown command 'frobnicate'"
	run_ctl ping
	expect_rc 2
	expect_in err "which server\?"
	run_ctl ping x:/y -t carrier-pigeon
	expect_rc 2
	expect_in err "transport 'carrier-pigeon' is not available \(built: tcp"
	run_ctl --help
	expect_rc 0
	expect_in out "^usage: ringfsctl ping SERVER"
	run_ctl --version
	expect_rc 0
	expect_in out "^ringfsctl [0-9]+\.[0-9]+\.[0-9]+ \(protocol 1\.[0-9]+, transports: tcp"
}

case_auth() {
	local k1=$T/k1 k2=$T/k2 k3=$T/k3 k
	local -A st
	for k in "$k1" "$k2" "$k3"; do
		head -c 32 /dev/urandom >"$k" || fail "making key $k"
	done
	chmod 600 "$k1" "$k2" || fail chmod
	chmod 644 "$k3" || fail chmod
	ctl_start_server --key-file "$k1"
	local src=127.0.0.1:$SRV_PORT:/data

	run_ctl ping "$src" -c 3 -i 0 --key-file "$k1"
	ping_ok 3
	run_ctl stats "$src" -k "$k1" --json
	expect_rc 0
	json_load "$T/out" st
	[ "${st[requests]}" -ge 5 ] || fail "stats after an authenticated ping: ${st[requests]} requests"

	run_ctl ping "$src" -c 1 --key-file "$k2"
	expect_rc 1
	expect_in err "^ringfsctl: authentication with 127\.0\.0\.1:$SRV_PORT failed: wrong key"
	expect_fast 5000

	run_ctl ping "$src" -c 1
	expect_rc 1
	expect_in err "refused: the server requires authentication: give --key-file"

	# a key file others can read is refused before connecting
	run_ctl ping "$src" -c 1 -k "$k3"
	expect_rc 2
	expect_in err "^ringfsctl: .*$k3"
	run_ctl ping "$src" -c 1 -k "$T/missing"
	expect_rc 2
	expect_in err "No such file or directory"

	# a key against a server without one: refused by us, said why
	ctl_stop_server
	ctl_start_server
	run_ctl ping "127.0.0.1:$SRV_PORT:/data" -c 1 -k "$k1"
	expect_rc 1
	expect_in err "the server has no key configured"
}

case $CTL_CASE in
ping-tcp) case_ping tcp ;;
ping-uring) case_ping uring ;;
ping-shm) case_ping shm ;;
stats) case_stats ;;
errors) case_errors ;;
auth) case_auth ;;
*) fail "unknown case '$CTL_CASE'" ;;
esac
echo "PASS (ctl/$CTL_CASE)"
