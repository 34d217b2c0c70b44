#!/bin/bash
# SPDX-License-Identifier: MIT
#
# build.sh OUTDIR: build libfuse's passthrough_ll example (the reference
# FUSE file system of tests/bench/suite.sh) from the copy Debian ships in
# libfuse3-dev, with cc and pkg-config fuse3.  Nothing of libfuse is kept
# in this repository: the source is read at bench time.
#
# Produces:
#   OUTDIR/passthrough_ll      the example as shipped
#   OUTDIR/passthrough_ll_nd   the same with O_DIRECT masked out of the
#                              flags it opens the backing file with, i.e.
#                              the daemon reads the page cache like ringfsd
#                              does (ringfs does not forward O_DIRECT).
#                              Only built if the one-line patch applies.
#
# Environment: FUSE_EXAMPLES (default /usr/share/doc/libfuse3-dev/examples;
# plain or gzipped .c files), CC (default cc).
# Exit: 0 built, 77 prerequisites missing (reason on stderr), 1 failed.
set -u
export LC_ALL=C

OUT=${1:?usage: build.sh OUTDIR}
EX=${FUSE_EXAMPLES:-/usr/share/doc/libfuse3-dev/examples}
CC=${CC:-cc}

skip() { echo "passthrough/build.sh: $*" >&2; exit 77; }
fail() { echo "passthrough/build.sh: $*" >&2; exit 1; }

command -v "$CC" >/dev/null || skip "no C compiler ($CC)"
command -v pkg-config >/dev/null || skip "no pkg-config"
pkg-config --exists fuse3 || skip "pkg-config: no fuse3 (libfuse3-dev)"
mkdir -p "$OUT" || fail "mkdir $OUT"

# fetch NAME: copy EX/NAME (or EX/NAME.gz, unpacked) into OUT
fetch() {
	if [ -f "$EX/$1" ]; then
		cp "$EX/$1" "$OUT/$1" || fail "copy $EX/$1"
	elif [ -f "$EX/$1.gz" ]; then
		gzip -dc "$EX/$1.gz" >"$OUT/$1" || fail "gunzip $EX/$1.gz"
	else
		skip "$EX/$1 not found (install libfuse3-dev)"
	fi
}
fetch passthrough_ll.c
fetch passthrough_helpers.h

# shellcheck disable=SC2046
build() {
	"$CC" -O2 -g -Wall -I"$OUT" $(pkg-config --cflags fuse3) "$1" \
		-o "$2" $(pkg-config --libs fuse3) >"$2.log" 2>&1 ||
		fail "compiling $1: $(tail -n 5 "$2.log")"
}
build "$OUT/passthrough_ll.c" "$OUT/passthrough_ll"

# lo_open: open(buf, fi->flags & ~O_NOFOLLOW) -> also mask O_DIRECT
from='open(buf, fi->flags & ~O_NOFOLLOW)'
to='open(buf, fi->flags \& ~(O_NOFOLLOW | O_DIRECT))'
sed "s/$from/$to/" "$OUT/passthrough_ll.c" >"$OUT/passthrough_ll_nd.c"
if grep -q 'O_NOFOLLOW | O_DIRECT' "$OUT/passthrough_ll_nd.c"; then
	build "$OUT/passthrough_ll_nd.c" "$OUT/passthrough_ll_nd"
else
	echo "passthrough/build.sh: O_DIRECT patch did not apply;" \
		"no passthrough_ll_nd" >&2
fi
exit 0
