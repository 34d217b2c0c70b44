#!/usr/bin/env bash
# A client from a denied network: ringfsd in one network namespace, the
# client in another, joined by a veth pair in 192.0.2.0/24 (TEST-NET-1,
# only inside these namespaces).  Exports allowed for another network
# (and an IPv6-only one) refuse the HELLO with EACCES; the export allowed
# for 192.0.2.0/24 answers.  Also: a non-loopback --listen without a key
# or --insecure is refused at start.
#
# usage: netns.sh RINGFSD SEC_TEST
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
RINGFSD=$1
SEC=$2
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: network namespaces need root"
	exit 77
fi
if ! command -v ip >/dev/null; then
	echo "SKIP: ip (iproute2) not installed"
	exit 77
fi
S=rfs-sec-s-$$
C=rfs-sec-c-$$
VS=rfsv$$
VC=rfsw$$
tmp=$(mktemp -d /tmp/rfs-netns-XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$S" 2>/dev/null
	ip netns del "$C" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
if ! ip netns add "$S" 2>"$tmp/err" || ! ip netns add "$C" 2>>"$tmp/err"; then
	echo "SKIP: cannot create network namespaces: $(cat "$tmp/err")"
	exit 77
fi
if ! ip link add "$VS" type veth peer name "$VC" 2>"$tmp/err"; then
	echo "SKIP: cannot create a veth pair: $(cat "$tmp/err")"
	exit 77
fi
ip link set "$VS" netns "$S" && ip link set "$VC" netns "$C" &&
ip -n "$S" addr add 192.0.2.1/24 dev "$VS" &&
ip -n "$C" addr add 192.0.2.2/24 dev "$VC" &&
ip -n "$S" link set "$VS" up && ip -n "$C" link set "$VC" up &&
ip -n "$S" link set lo up && ip -n "$C" link set lo up || {
	echo "FAIL: network setup"
	exit 1
}
mkdir -p "$tmp/e" "$tmp/st"
fail=0

# the key-required rule
if ip netns exec "$S" "$RINGFSD" --listen 192.0.2.1:7071 --transport tcp \
	--state-dir "$tmp/st" --export "a=$tmp/e" 2>"$tmp/nokey"; then
	echo "FAIL: ringfsd started on 192.0.2.1 without a key"
	fail=1
elif ! grep -q "needs a key" "$tmp/nokey"; then
	echo "FAIL: unclear error without a key: $(cat "$tmp/nokey")"
	fail=1
fi

# its stderr through a FIFO until the ready line, then (a cat) into the log
mkfifo "$tmp/fifo"
ip netns exec "$S" "$RINGFSD" --listen 192.0.2.1:7071 --insecure \
	--transport tcp --state-dir "$tmp/st" \
	--export "denied=$tmp/e,net=198.51.100.0/24:203.0.113.0/24" \
	--export "allowed=$tmp/e,net=198.51.100.0/24:192.0.2.0/24" \
	--export "v6only=$tmp/e,net=2001:db8::/32" \
	--export "host=$tmp/e,net=192.0.2.2" 2>"$tmp/fifo" &
pid=$!
if ! rfs_ready_line "$tmp/fifo" "$RFS_READY_GLOB" "$tmp/log"; then
	echo "FAIL: ringfsd did not start:"
	cat "$tmp/log"
	exit 1
fi

probe() { # export, expected status
	local got
	got=$(ip netns exec "$C" "$SEC" probe 192.0.2.1 7071 "$1")
	if [ "$got" != "$2" ]; then
		echo "FAIL: HELLO for $1 from 192.0.2.2: status $got, want $2"
		fail=1
	else
		echo "ok: HELLO for $1 from 192.0.2.2: $got"
	fi
}
probe denied -13
probe v6only -13
probe allowed 0
probe host 0
# the whole log: the server stopped, its writer (the cat) ended
kill "$pid" && wait "$pid"
pid=
wait
if ! grep -q "192.0.2.2.*network not allowed" "$tmp/log"; then
	echo "FAIL: no log line for the denied peer"
	fail=1
fi
sed 's/^/  [ringfsd] /' "$tmp/log"
exit $fail
