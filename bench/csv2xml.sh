#!/usr/bin/env bash
#
# bench/csv2xml.sh -- stockcam csv2xml against a plain write of the same size.
#
# Generates a deterministic Yahoo-layout daily-price CSV (bench/gen_prices.py,
# SIZE_MB, default 50), converts it with `stockcam csv2xml --stats IN OUT`
# and, in the same run and the same directory, times a plain write of a file
# of exactly the XML output's size (dd, 64 KiB writes, no fsync: the
# converter does not fsync either).  One untimed warm-up of each, then ROUNDS
# rounds, each timing both (the order alternates from round to round), and
# the medians are compared.  Exit status: 0 PASS, 1 FAIL, 2 could not run
# (missing binary or python3, the conversion failed, bad --stats line, ...).
#
# Environment:
#   BUILDDIR      where the binaries are (default: the repository top)
#   STOCKCAM_BIN  the binary under test (default: $BUILDDIR/stockcam)
#   BENCH_DIR     where the temporary directory goes (default /tmp); the
#                 input, the XML output and the plain-write file all live in
#                 one directory under it, so both writers hit the same
#                 filesystem
#   SIZE_MB       input size in MiB (default 50)
#   ROUNDS        timed rounds (default 5)
#   MAX_RATIO     PASS needs median conversion / median plain write <= this
#                 (default 1.30; the goal is GOAL_RATIO, 1.2)
#   MAX_RSS_MB    PASS needs the peak maxrss_kb of --stats below this, MiB
#                 (default 16)
#   PYTHON3       python interpreter for the generator (default python3)
#
set -euo pipefail
export LC_ALL=C

prog=${0##*/}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

BUILDDIR=${BUILDDIR:-$top}
STOCKCAM_BIN=${STOCKCAM_BIN:-$BUILDDIR/stockcam}
BENCH_DIR=${BENCH_DIR:-/tmp}
SIZE_MB=${SIZE_MB:-50}
ROUNDS=${ROUNDS:-5}
MAX_RATIO=${MAX_RATIO:-1.30}
GOAL_RATIO=${GOAL_RATIO:-1.2}
MAX_RSS_MB=${MAX_RSS_MB:-16}
PYTHON3=${PYTHON3:-python3}
GEN=$top/bench/gen_prices.py
SEED=1
CHUNK=65536

die() {
	echo "$prog: $*" >&2
	exit 2
}

[[ $SIZE_MB =~ ^[1-9][0-9]{0,4}$ ]] ||
	die "SIZE_MB must be a whole number of MiB (1-99999): $SIZE_MB"
[[ $ROUNDS =~ ^[1-9][0-9]{0,2}$ ]] ||
	die "ROUNDS must be a whole number (1-999): $ROUNDS"
for v in MAX_RATIO GOAL_RATIO MAX_RSS_MB; do
	[[ ${!v} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$v must be a number: ${!v}"
done
[[ -x $STOCKCAM_BIN ]] ||
	die "$STOCKCAM_BIN: not found or not executable (run make first)"
[[ -f $GEN ]] || die "$GEN: not found"
command -v "$PYTHON3" >/dev/null 2>&1 ||
	die "$PYTHON3 not found (needed to generate the input)"
[[ -d $BENCH_DIR && -w $BENCH_DIR ]] ||
	die "BENCH_DIR $BENCH_DIR: not a writable directory"

tmp=$(mktemp -d "$BENCH_DIR/stockcam-csv2xml.XXXXXX")

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	local rc=$?

	trap - EXIT INT TERM
	rm -rf -- "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in=$tmp/prices.csv
out=$tmp/prices.xml
plain=$tmp/plain.out
err=$tmp/stats.err

# Does the binary have the subcommand at all?
if ! printf 'Date,Close\n2026-11-20,15.37\n' |
    "$STOCKCAM_BIN" csv2xml >"$tmp/probe.xml" 2>"$err"; then
	echo "$prog: '$STOCKCAM_BIN csv2xml' failed on a 2-line CSV; its stderr:" >&2
	sed 's/^/  /' "$err" >&2
	exit 2
fi
rm -f -- "$tmp/probe.xml"

echo "generating ${SIZE_MB} MiB Yahoo-layout CSV (seed $SEED) ..."
"$PYTHON3" "$GEN" "${SIZE_MB}M" "$in" "$SEED" 2>"$err" || {
	echo "$prog: the generator failed:" >&2
	sed 's/^/  /' "$err" >&2
	exit 2
}
in_bytes=$(stat -c %s "$in")
in_rows=$(($(wc -l <"$in") - 1))
cat -- "$in" >/dev/null # into the page cache

# convert: one timed conversion; sets $conv_s, $rss_kb, $out_bytes,
# $stat_s.  Any failure ends the benchmark (exit 2).
convert() {
	local t0 t1 line

	rm -f -- "$out"
	t0=${EPOCHREALTIME/./}
	if ! "$STOCKCAM_BIN" csv2xml --stats "$in" "$out" 2>"$err"; then
		echo "$prog: the conversion failed; its stderr:" >&2
		sed 's/^/  /' "$err" >&2
		exit 2
	fi
	t1=${EPOCHREALTIME/./}
	conv_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e6 }')
	line=$(cat "$err")
	if [[ $(wc -l <"$err") -ne 1 ||
	    ! $line =~ ^rows=([0-9]+)\ bytes_in=([0-9]+)\ bytes_out=([0-9]+)\ seconds=([0-9]+(\.[0-9]+)?)\ maxrss_kb=([0-9]+)$ ]]; then
		echo "$prog: expected one --stats line on stderr, got:" >&2
		sed 's/^/  /' "$err" >&2
		exit 2
	fi
	local rows=${BASH_REMATCH[1]} bin=${BASH_REMATCH[2]} bout=${BASH_REMATCH[3]}
	stat_s=${BASH_REMATCH[4]}
	rss_kb=${BASH_REMATCH[6]}
	out_bytes=$(stat -c %s "$out")
	((rows == in_rows)) ||
		die "--stats says rows=$rows, the input has $in_rows rows"
	((bin == in_bytes)) ||
		die "--stats says bytes_in=$bin, the input has $in_bytes bytes"
	((bout == out_bytes)) ||
		die "--stats says bytes_out=$bout, the output has $out_bytes bytes"
	[[ -z ${want_out_bytes:-} || $out_bytes -eq $want_out_bytes ]] ||
		die "output size changed between rounds: $want_out_bytes -> $out_bytes"
}

# plainwrite: write $out_bytes zero bytes to $plain in 64 KiB write()s;
# sets $plain_s.
plainwrite() {
	local t0 t1

	rm -f -- "$plain"
	t0=${EPOCHREALTIME/./}
	dd if=/dev/zero of="$plain" bs=$CHUNK count="$want_out_bytes" \
	    iflag=count_bytes status=none
	t1=${EPOCHREALTIME/./}
	plain_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e6 }')
	[[ $(stat -c %s "$plain") -eq $want_out_bytes ]] ||
		die "dd wrote $(stat -c %s "$plain") bytes, want $want_out_bytes"
}

# prewrite: the same write into a file whose blocks fallocate(1)
# reserved first, as the converter reserves its output's (timed
# together); sets $pre_s.  Shown beside the plain write, so the part of
# the ratio that comes from a cheaper write, not from converting, is
# seen.  Empty when fallocate is missing or refused.
prewrite() {
	local t0 t1

	pre_s=
	rm -f -- "$plain"
	t0=${EPOCHREALTIME/./}
	fallocate -l "$want_out_bytes" "$plain" 2>/dev/null || return 0
	dd if=/dev/zero of="$plain" bs=$CHUNK count="$want_out_bytes" \
	    iflag=count_bytes conv=notrunc status=none
	t1=${EPOCHREALTIME/./}
	pre_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e6 }')
}

# Warm-up (untimed): fixes the output size the plain write must match.
want_out_bytes=
convert
want_out_bytes=$out_bytes
plainwrite
rm -f -- "$out" "$plain"

echo "stockcam: $STOCKCAM_BIN csv2xml --stats"
echo "input:    $in_bytes bytes, $in_rows rows ($in)"
echo "output:   $want_out_bytes bytes, plain write: dd bs=$CHUNK, no fsync"
echo "$ROUNDS rounds, order alternating, after one warm-up of each"
echo

results=$tmp/results
: >"$results"
printf '%-6s  %12s  %12s  %7s  %10s  %12s  %12s\n' \
    round convert_s plain_s ratio maxrss_kb stats_seconds prealloc_s
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then
		convert
		plainwrite
		prewrite
	else
		prewrite
		plainwrite
		convert
	fi
	rm -f -- "$out" "$plain"
	ratio=$(awk -v c="$conv_s" -v p="$plain_s" \
	    'BEGIN { if (p > 0) printf "%.3f\n", c / p; else print "inf" }')
	printf '%-6d  %12.4f  %12.4f  %7s  %10d  %12s  %12s\n' \
	    "$r" "$conv_s" "$plain_s" "$ratio" "$rss_kb" "$stat_s" "${pre_s:--}"
	echo "$conv_s $plain_s $rss_kb $stat_s ${pre_s:-0}" >>"$results"
done

# median FIELD: median of one column of $results.
median() {
	awk -v f="$1" '{ print $f }' "$results" |
	    sort -g |
	    awk '{ v[NR] = $1 }
		END {
			if (NR == 0) exit 1
			if (NR % 2) m = v[(NR + 1) / 2]
			else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.6f\n", m
		}'
}

conv_med=$(median 1)
plain_med=$(median 2)
stat_med=$(median 4)
pre_med=$(median 5)
rss_max=$(awk '$3 > m { m = $3 } END { print m + 0 }' "$results")
rss_mb=$(awk -v k="$rss_max" 'BEGIN { printf "%.2f\n", k / 1024 }')
ratio=$(awk -v c="$conv_med" -v p="$plain_med" \
    'BEGIN { if (p > 0) printf "%.2f\n", c / p; else print "999.99" }')
mbps=$(awk -v b="$in_bytes" -v s="$conv_med" \
    'BEGIN { if (s > 0) printf "%.1f\n", b / 1e6 / s; else print "inf" }')
out_mbps=$(awk -v b="$want_out_bytes" -v s="$plain_med" \
    'BEGIN { if (s > 0) printf "%.1f\n", b / 1e6 / s; else print "inf" }')

echo
printf 'input throughput:           %s MB/s (%d bytes / median conversion)\n' \
    "$mbps" "$in_bytes"
printf 'peak RSS (--stats):         %s MB (%d KiB, max over rounds)\n' \
    "$rss_mb" "$rss_max"
printf 'median conversion wall:     %.4f s (its own --stats seconds: %.4f s)\n' \
    "$conv_med" "$stat_med"
printf 'median plain write wall:    %.4f s (%s MB/s)\n' "$plain_med" "$out_mbps"
printf 'ratio conversion/plain:     %s\n' "$ratio"
if awk -v p="$pre_med" 'BEGIN { exit !(p > 0) }'; then
	printf 'median preallocated write:  %.4f s (fallocate, then dd)\n' "$pre_med"
	printf 'ratio conversion/prealloc:  %s (for information)\n' \
	    "$(awk -v c="$conv_med" -v p="$pre_med" 'BEGIN { printf "%.2f\n", c / p }')"
fi
echo

ok_ratio=$(awk -v r="$ratio" -v m="$MAX_RATIO" 'BEGIN { print (r <= m) }')
ok_rss=$(awk -v k="$rss_max" -v m="$MAX_RSS_MB" 'BEGIN { print (k < m * 1024) }')
why="ratio $ratio $( ((ok_ratio)) && echo '<=' || echo '>') $MAX_RATIO (goal $GOAL_RATIO)"
why+=", peak RSS $rss_mb MB $( ((ok_rss)) && echo '<' || echo '>=') $MAX_RSS_MB MB"

if ((ok_ratio && ok_rss)); then
	echo "PASS: $why"
	exit 0
fi
echo "FAIL: $why"
exit 1
