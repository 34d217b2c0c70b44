# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# lib_gluster.sh: a private GlusterFS for one test case, on loopback.
# Sourced after tests/lib/lib.sh (it needs $T, skip, fail, note,
# RFS_CLEANUP_HOOKS).
#
#   gl_start          glusterd with its working directory in $T, a
#                     distributed volume of two bricks in $T ("force": the
#                     bricks are on the root file system), started, and
#                     its bricks online (bounded waits); sets GL_VOL,
#                     GL_HOST and GL_URL (gluster://GL_HOST/GL_VOL)
#   gl_fuse_mount DIR the volume through gluster's own FUSE client
#                     (no attribute or entry caching), unmounted at cleanup
#
# glusterd has fixed places: its CLI socket /var/run/glusterd.socket and
# port 24007, which its bricks call back on.  So one case at a time (the
# meson tests that use this are not parallel), and a glusterd already
# running that this case did not start is a skip, never touched.  The
# brick host is this machine's hostname: glusterd refuses the literal
# 127.0.0.1, and the test only runs when the name resolves to loopback.
# Cleanup stops the volume, kills the bricks and the glusterd it started
# (by their pid files) and nothing else.

GL_SOCK=/var/run/glusterd.socket
GL_PIDS=()
GL_FUSE=()

gl_cli() {
	timeout 60 gluster --mode=script --glusterd-sock="$GL_SOCK" "$@"
}

gl_cleanup() {
	local m p f
	for m in "${GL_FUSE[@]}"; do
		umount -l "$m" 2>/dev/null
	done
	[ -n "${GL_DIR:-}" ] || return 0
	if [ -n "${GL_VOL:-}" ]; then
		gl_cli volume stop "$GL_VOL" force >/dev/null 2>&1
	fi
	# bricks and self-heal daemons this glusterd started: their pid
	# files are under our run directory
	while IFS= read -r f; do
		p=$(cat "$f" 2>/dev/null)
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done < <(find "$GL_DIR/run" -name '*.pid' 2>/dev/null)
	for p in "${GL_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		gl_poll 100 50 ! kill -0 "$p" 2>/dev/null ||
			kill -9 "$p" 2>/dev/null
	done
	return 0
}

# gl_poll TRIES MS CMD...: run CMD until it succeeds, at most TRIES
# times, MS milliseconds apart (a bounded wait on a condition)
gl_poll() {
	local tries=$1 ms=$2 i
	shift 2
	for ((i = 0; i < tries; i++)); do
		"$@" && return 0
		sleep "$(printf '0.%03d' "$ms")"
	done
	return 1
}

gl_pool_up() {
	gl_cli pool list >/dev/null 2>&1
}

gl_bricks_online() {
	local n
	n=$(gl_cli volume status "$GL_VOL" detail 2>/dev/null |
		grep -c '^Online.*: Y')
	[ "$n" = 2 ]
}

gl_start() {
	command -v glusterd >/dev/null ||
		skip "glusterd not installed (Debian: glusterfs-server)"
	command -v gluster >/dev/null || skip "gluster CLI not installed"
	GL_HOST=$(hostname)
	case $(getent ahostsv4 "$GL_HOST" | awk 'NR == 1 { print $1 }') in
	127.*) ;;
	*) skip "hostname $GL_HOST does not resolve to loopback (the bricks must stay on 127.0.0.1)" ;;
	esac
	if [ -S "$GL_SOCK" ] && gluster --mode=script \
		--glusterd-sock="$GL_SOCK" pool list >/dev/null 2>&1; then
		skip "a glusterd not started by this test is running ($GL_SOCK)"
	fi
	if ss -Hltn 'sport = :24007' | grep -q .; then
		skip "port 24007 (glusterd's) is in use"
	fi
	GL_DIR=$T/gluster
	mkdir -p "$GL_DIR/wd" "$GL_DIR/run" "$GL_DIR/b1" "$GL_DIR/b2" ||
		fail "mkdir $GL_DIR"
	cat >"$GL_DIR/glusterd.vol" <<-EOF
		volume management
		    type mgmt/glusterd
		    option working-directory $GL_DIR/wd
		    option run-directory $GL_DIR/run
		    option transport-type socket
		    option transport.socket.read-fail-log off
		    option ping-timeout 0
		    option event-threads 1
		end-volume
	EOF
	RFS_CLEANUP_HOOKS+=(gl_cleanup)
	glusterd -f "$GL_DIR/glusterd.vol" -p "$GL_DIR/glusterd.pid" \
		-l "$GL_DIR/glusterd.log" ||
		skip "glusterd does not start here (see $GL_DIR/glusterd.log)"
	gl_poll 100 100 test -s "$GL_DIR/glusterd.pid" ||
		skip "glusterd wrote no pid file in 10 s"
	GL_PIDS+=("$(cat "$GL_DIR/glusterd.pid")")
	gl_poll 100 100 gl_pool_up ||
		skip "glusterd does not answer on $GL_SOCK in 10 s (see $GL_DIR/glusterd.log)"
	GL_VOL=rfs$$
	gl_cli volume create "$GL_VOL" "$GL_HOST:$GL_DIR/b1" \
		"$GL_HOST:$GL_DIR/b2" force >/dev/null ||
		fail "gluster volume create $GL_VOL"
	# the settings doc/scale-out.md asks for: files really opened
	# (open-behind off), no metadata cache in each gateway that another
	# gateway's rename or unlink would not reach (stat-prefetch off)
	for o in performance.open-behind performance.stat-prefetch; do
		gl_cli volume set "$GL_VOL" "$o" off >/dev/null ||
			fail "gluster volume set $GL_VOL $o off"
	done
	gl_cli volume start "$GL_VOL" >/dev/null ||
		fail "gluster volume start $GL_VOL (see $GL_DIR/glusterd.log)"
	gl_poll 150 200 gl_bricks_online ||
		fail "bricks of $GL_VOL not online in 30 s"
	# shellcheck disable=SC2034 # for the scripts that source this
	GL_URL=gluster://$GL_HOST/$GL_VOL
	note "gluster volume $GL_VOL on $GL_HOST (bricks in $GL_DIR)"
}

gl_fuse_mount() {
	local m=$1
	command -v glusterfs >/dev/null ||
		skip "glusterfs (FUSE client) not installed"
	glusterfs --volfile-server="$GL_HOST" --volfile-id="$GL_VOL" \
		--attribute-timeout=0 --entry-timeout=0 --negative-timeout=0 \
		--log-file="$GL_DIR/fuse-$(basename "$m").log" "$m" ||
		fail "glusterfs FUSE mount of $GL_VOL on $m"
	GL_FUSE+=("$m")
	gl_poll 100 100 mountpoint -q "$m" ||
		fail "glusterfs mount on $m did not appear in 10 s"
}

# gl_gateway_states: the state directories of gateways a and b
# ($T/state-a, $T/state-b) with one handle secret between them
gl_gateway_states() {
	local g
	for g in a b; do
		mkdir -m 0700 "$T/state-$g" || fail "mkdir $T/state-$g"
	done
	head -c 32 /dev/urandom >"$T/state-a/secret" || fail "secret"
	cp "$T/state-a/secret" "$T/state-b/secret" || fail "copy the secret"
	chmod 0600 "$T"/state-?/secret
}

# gl_two_gateways: two ringfsd on the same volume ($EXPORT), each with a
# state directory of its own and one shared handle secret (a handle made
# by A is valid at B, as after a failover).  Sets PORT_A, PID_A, PORT_B
# (rfs_start_server's RFS_PORT and RFS_SERVER_PID are then B's).
gl_two_gateways() {
	gl_gateway_states
	rfs_start_server "$EXPORT" --state-dir "$T/state-a"
	PORT_A=$RFS_PORT
	PID_A=$RFS_SERVER_PID
	rfs_start_server "$EXPORT" --state-dir "$T/state-b"
	PORT_B=$RFS_PORT
}
