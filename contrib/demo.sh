#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ringfs demo: build, serve a directory, mount it, show it working.
#
#   bash contrib/demo.sh          start (or show again, if already running)
#   bash contrib/demo.sh stop     unmount and stop the server
#
# Run as root on Debian 12 from anywhere in the source tree.  Missing build
# dependencies are installed with apt-get.  Everything the demo creates
# lives in /tmp/ringfs-demo; the build goes to ./build.
#
# Environment:
#   RINGFS_DEMO_PORT       TCP port of the server (default 7070)
#   RINGFS_DEMO_TRANSPORT  uring or tcp (default: uring, tcp when io_uring
#                          is disabled on this kernel)
set -Eeuo pipefail

PKGS=(meson ninja-build pkg-config gcc libfuse3-dev fuse3 liburing-dev libsodium-dev
      libxxhash-dev)
DEMO=/tmp/ringfs-demo
EXPORT=$DEMO/export
MNT=$DEMO/mnt
LOG=$DEMO/ringfsd.log
PIDFILE=$DEMO/ringfsd.pid
HOST=127.0.0.1
PORT=${RINGFS_DEMO_PORT:-7070}

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$SRC/build
RINGFSD=$BUILD/server/ringfsd
RINGFS=$BUILD/client/ringfs
RINGFSCTL=$BUILD/client/ringfsctl

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }
trap 'die "command failed (line $LINENO): $BASH_COMMAND"' ERR

port_open() { bash -c "</dev/tcp/$HOST/$PORT" 2>/dev/null; }
is_mounted() { grep -qs " $MNT fuse" /proc/mounts; }

# The pid in $PIDFILE, if that process is alive and is our ringfsd.
server_pid()
{
	local pid
	[[ -r $PIDFILE ]] || return 1
	pid=$(<"$PIDFILE")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ $(cat "/proc/$pid/comm" 2>/dev/null) == ringfsd ]] || return 1
	echo "$pid"
}

unmount()
{
	is_mounted || return 0
	say "unmounting $MNT"
	fusermount3 -u "$MNT" 2>/dev/null || umount "$MNT" ||
		die "cannot unmount $MNT (busy? see: fuser -vm $MNT)"
}

stop_server()
{
	local pid i
	pid=$(server_pid) || { rm -f "$PIDFILE"; return 0; }
	say "stopping ringfsd (pid $pid)"
	kill -TERM "$pid"
	# bounded wait for the clean shutdown SIGTERM asks for
	for ((i = 0; i < 50; i++)); do
		[[ -d /proc/$pid ]] || break
		sleep 0.1
	done
	if [[ -d /proc/$pid ]]; then
		echo "demo: ringfsd did not exit within 5 s, killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$PIDFILE"
}

do_stop()
{
	if ! is_mounted && ! server_pid >/dev/null; then
		rm -f "$PIDFILE"
		echo "demo: nothing to stop"
		return 0
	fi
	unmount
	stop_server
	say "stopped; the demo files are still in $EXPORT (rm -rf $DEMO)"
}

install_deps()
{
	local p missing=()
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	say "installing ${missing[*]}"
	apt-get update -qq || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" ||
		die "apt-get install ${missing[*]} failed"
}

# Run a build step quietly; on failure show the end of its output.
quiet()
{
	if ! "$@" >"$DEMO/build.log" 2>&1; then
		tail -n 30 "$DEMO/build.log" >&2
		die "build step failed: $* (full output: $DEMO/build.log)"
	fi
}

build()
{
	mkdir -p "$DEMO"
	if [[ ! -f $BUILD/build.ninja ]]; then
		say "configuring $BUILD"
		# --wipe: a directory left by an interrupted setup
		if [[ -d $BUILD/meson-private ]]; then
			quiet meson setup --wipe "$BUILD" "$SRC"
		else
			quiet meson setup "$BUILD" "$SRC"
		fi
	fi
	say "building"
	quiet ninja -C "$BUILD"
	[[ -x $RINGFSD ]] || die "$RINGFSD was not built"
	[[ -x $RINGFS ]] || die "$RINGFS was not built (is libfuse3-dev installed?)"
}

pick_transport()
{
	if [[ -n ${RINGFS_DEMO_TRANSPORT:-} ]]; then
		TRANSPORT=$RINGFS_DEMO_TRANSPORT
	elif [[ $(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0) != 0 ]]; then
		echo "demo: io_uring is disabled on this kernel, using tcp"
		TRANSPORT=tcp
	else
		TRANSPORT=uring
	fi
	[[ $TRANSPORT == uring || $TRANSPORT == tcp ]] ||
		die "RINGFS_DEMO_TRANSPORT must be uring or tcp"
}

make_files()
{
	mkdir -p "$EXPORT" "$MNT"
	[[ -e $EXPORT/hello.txt ]] && return 0
	say "creating demo files in $EXPORT"
	echo "Hello from ringfsd, served from $EXPORT." >"$EXPORT/hello.txt"
	mkdir -p "$EXPORT/docs"
	cp "$SRC/README.md" "$EXPORT/docs/" 2>/dev/null || true
	head -c 1048576 /dev/urandom >"$EXPORT/random-1MiB.bin"
	ln -sf hello.txt "$EXPORT/link-to-hello"
	# The export is root-squashed (the default): root on the client
	# acts as nobody on the server, so give nobody a place to write.
	install -d -o 65534 -g 65534 -m 0755 "$EXPORT/inbox"
}

start_server()
{
	local pid i

	if pid=$(server_pid); then
		echo "demo: ringfsd already running (pid $pid)"
		return 0
	fi
	port_open && die "port $HOST:$PORT is in use by another program" \
		"(ss -ltnp 'sport = :$PORT'); set RINGFS_DEMO_PORT"

	say "starting ringfsd on $HOST:$PORT (log: $LOG)"
	setsid "$RINGFSD" --listen "$HOST:$PORT" --transport "$TRANSPORT" \
		--export "demo=$EXPORT" --state-dir "$DEMO/state" \
		</dev/null >"$LOG" 2>&1 &
	pid=$!
	echo "$pid" >"$PIDFILE"

	# Wait, bounded, until it accepts connections or dies.
	for ((i = 0; i < 100; i++)); do
		port_open && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$LOG" >&2
			rm -f "$PIDFILE"
			die "ringfsd exited during startup (log above, $LOG)"
		fi
		sleep 0.1
	done
	tail -n 20 "$LOG" >&2
	stop_server
	die "ringfsd did not accept connections on $HOST:$PORT within 10 s"
}

mount_it()
{
	if is_mounted; then
		if stat "$MNT" >/dev/null 2>&1; then
			echo "demo: $MNT already mounted"
			return 0
		fi
		echo "demo: $MNT is a dead mount, remounting"
		fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	[[ -c /dev/fuse ]] || modprobe fuse 2>/dev/null ||
		die "/dev/fuse is missing and the fuse module cannot be loaded"

	say "mounting $HOST:$PORT:/demo on $MNT (transport=$TRANSPORT)"
	# ringfs returns once the mount is up and keeps serving it in the
	# background, like sshfs.
	if ! "$RINGFS" "$HOST:$PORT:/demo" "$MNT" \
		-o "transport=$TRANSPORT"; then
		tail -n 20 "$LOG" >&2
		die "mount failed (server log above)"
	fi
	is_mounted || die "ringfs returned but $MNT is not in /proc/mounts"
}

show()
{
	local msg

	say "ls -la $MNT"
	ls -la "$MNT"

	say "cat $MNT/hello.txt"
	cat "$MNT/hello.txt"

	msg="written through ringfs at $(date -Iseconds)"
	say "write $MNT/inbox/note.txt, read it back on both sides"
	echo "$msg" >"$MNT/inbox/note.txt"
	echo "client: $(cat "$MNT/inbox/note.txt")"
	echo "server: $(cat "$EXPORT/inbox/note.txt")"
	[[ $(<"$EXPORT/inbox/note.txt") == "$msg" ]] ||
		die "the server's copy differs from what was written"
	echo "owner on the server (root_squash): $(stat -c %U:%G \
		"$EXPORT/inbox/note.txt")"

	say "1 MiB read, compared with the original"
	cmp "$MNT/random-1MiB.bin" "$EXPORT/random-1MiB.bin" ||
		die "the 1 MiB file read through the mount differs"
	echo "identical"

	say "df -h $MNT"
	df -h "$MNT"

	say "/proc/mounts"
	grep " $MNT " /proc/mounts

	say "ringfsctl ping and stats: the server seen from the wire"
	"$RINGFSCTL" ping -c 3 -i 100 "$HOST:$PORT:/demo" ||
		die "ringfsctl ping failed"
	"$RINGFSCTL" stats "$HOST:$PORT:/demo" || die "ringfsctl stats failed"

	echo
	echo "The demo export is mounted on $MNT; try it."
	echo "Server log: $LOG (debug: RINGFS_DEBUG=all, see ringfsd(8))"
	echo "Stop with:  bash contrib/demo.sh stop"
}

do_start()
{
	[[ $(id -u) == 0 ]] || die "run as root (apt-get, /dev/fuse, mount)"
	install_deps
	build
	pick_transport
	make_files
	start_server
	mount_it
	show
}

case ${1:-start} in
start) do_start ;;
stop) do_stop ;;
-h | --help | help)
	sed -n '4,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" ;;
*) die "unknown command '$1' (start, stop)" ;;
esac
