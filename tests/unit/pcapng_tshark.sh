#!/bin/bash
# SPDX-License-Identifier: MIT
# pcapng_tshark.sh TEST_CAPTURE: the pcapng blocks common/pcapng.c writes,
# read back by the real tshark: interface names, nanosecond timestamps,
# directions, lengths, the drop count.  77 without tshark.
set -u
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
"$1" "$T/t.pcapng" || { echo "FAIL: writing"; exit 1; }
out=$(tshark -r "$T/t.pcapng" -T fields -E separator=' ' \
	-e frame.interface_name -e frame.time_epoch \
	-e frame.packet_flags_direction -e frame.len -e frame.cap_len \
	-e frame.drop_count 2>"$T/err") || { cat "$T/err"; echo "FAIL: tshark"; exit 1; }
want="tcp:127.0.0.1:40112 1700000000.123456789 0x00000002 100 100 
shm:pid1234 1700000000.123456999 0x00000001 300 61 5"
if [ "$out" != "$want" ]; then
	printf 'FAIL: tshark read\n%s\nwant\n%s\n' "$out" "$want"
	exit 1
fi
capinfos "$T/t.pcapng" | grep -q "Time precision = nanoseconds (9)" ||
	{ echo "FAIL: if_tsresol"; exit 1; }
echo "ok: tshark reads what pcapng.c writes"
