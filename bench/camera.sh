#!/usr/bin/env bash
#
# bench/camera.sh -- the MJPEG camera stream under 1, 50 and 200 viewers.
#
# Starts stockcam on 127.0.0.1 (kernel-chosen port, throwaway data dir)
# with --camera testpattern:640x480@30 --jpeg-quality 40 --max-viewers 300
# and, for each viewer count, ROUNDS times runs bench/camload: that many
# viewers of GET /stream.mjpg on one thread, WARMUP s of warm-up, then a
# MEASURE s window in which it counts each viewer's frames and each
# frame's delay (arrival of its last byte minus its X-Timestamp).  Over
# exactly that window the script reads the server's CPU time from /proc
# (camload says "measuring" at the start and prints its result at the
# end), and /api/camera before and after for the server's encode_ms.
# Then bench/jpegenc times TurboJPEG on the same frames directly, back
# to back and paced at the camera's 30 fps.
# Prints every round, the medians per viewer count, the direct encode
# time against the server's, and a verdict line.  Exit status: 0 PASS,
# 1 FAIL, 2 could not run (binaries missing, build failed, the server
# did not start or died, camload or jpegenc failed).
#
# Environment (see bench/README):
#   BUILDDIR       where stockcam is built (default: the repository top)
#   STOCKCAM_BIN   server under test (default: $BUILDDIR/stockcam)
#   CAMLOAD_BIN    load client (default: $BUILDDIR/bench/camload; built
#                  here with make or gcc when not set)
#   JPEGENC_BIN    direct encode benchmark (default: $BUILDDIR/bench/jpegenc;
#                  built likewise)
#   ROUNDS         camload runs per viewer count, and jpegenc runs (3)
#   WARMUP         seconds between all viewers connected and the window (2)
#   MEASURE        seconds of the measurement window (10)
#   VIEWERS        viewer counts, ascending; the verdict is on the last
#                  ("1 50 200")
#   JPEG_FRAMES    frames per back-to-back jpegenc run (600)
#   JPEG_PACED_FRAMES  frames per jpegenc run paced at 30 fps (150: 5 s)
#   MIN_FPS        PASS needs median fps at the last count >= this (29.5)
#   MIN_FPS_MIN    PASS needs its slowest viewer's fps (median) >= this (28)
#   MAX_CPU_PCT    PASS needs server CPU <= this, % of one core (25)
#   MAX_DELAY_MS   PASS needs median frame delay <= this, ms (10)
#   MAX_ENC_RATIO  PASS needs server encode_ms / direct encode, paced like
#                  the camera, <= this (1.2)
#
set -euo pipefail
export LC_ALL=C

prog=${0##*/}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

BUILDDIR=${BUILDDIR:-$top}
STOCKCAM_BIN=${STOCKCAM_BIN:-$BUILDDIR/stockcam}
CAMLOAD_BIN=${CAMLOAD_BIN:-}
JPEGENC_BIN=${JPEGENC_BIN:-}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2}
MEASURE=${MEASURE:-10}
VIEWERS=${VIEWERS:-1 50 200}
JPEG_FRAMES=${JPEG_FRAMES:-600}
JPEG_PACED_FRAMES=${JPEG_PACED_FRAMES:-150}
MIN_FPS=${MIN_FPS:-29.5}
MIN_FPS_MIN=${MIN_FPS_MIN:-28}
MAX_CPU_PCT=${MAX_CPU_PCT:-25}
MAX_DELAY_MS=${MAX_DELAY_MS:-10}
MAX_ENC_RATIO=${MAX_ENC_RATIO:-1.2}
MAX_OTHERS_PCT=20	# warn when the rest of the machine took more

WIDTH=640
HEIGHT=480
FPS=30
QUALITY=40
MAX_VIEWERS=300
CAMERA=testpattern:${WIDTH}x$HEIGHT@$FPS
CONNECT_S=10		# camload's limit for all response heads

die() {
	echo "$prog: $*" >&2
	exit 2
}

num='^[0-9]+(\.[0-9]+)?$'
[[ $ROUNDS =~ ^[1-9][0-9]{0,2}$ ]] ||
	die "ROUNDS must be a whole number (1-999): $ROUNDS"
[[ $WARMUP =~ ^[0-9]{1,3}$ ]] ||
	die "WARMUP must be a whole number of seconds (0-999): $WARMUP"
[[ $MEASURE =~ ^[1-9][0-9]{0,3}$ ]] ||
	die "MEASURE must be a whole number of seconds (1-9999): $MEASURE"
[[ $JPEG_FRAMES =~ ^[1-9][0-9]{0,6}$ ]] ||
	die "JPEG_FRAMES must be a whole number (1-9999999): $JPEG_FRAMES"
[[ $JPEG_PACED_FRAMES =~ ^[1-9][0-9]{0,5}$ ]] ||
	die "JPEG_PACED_FRAMES must be a whole number (1-999999):" \
	    "$JPEG_PACED_FRAMES"
read -r -a counts <<<"$VIEWERS"
((${#counts[@]} > 0)) || die "VIEWERS is empty"
prev=0
for v in "${counts[@]}"; do
	if ! [[ $v =~ ^[1-9][0-9]{0,2}$ ]] || ((v > MAX_VIEWERS)); then
		die "VIEWERS must be whole numbers 1-$MAX_VIEWERS: $VIEWERS"
	fi
	((v > prev)) || die "VIEWERS must be ascending, no repeats: $VIEWERS"
	prev=$v
done
last=${counts[-1]}
for v in MIN_FPS MIN_FPS_MIN MAX_CPU_PCT MAX_DELAY_MS MAX_ENC_RATIO; do
	[[ ${!v} =~ $num ]] || die "$v must be a number: ${!v}"
done
((BASH_VERSINFO[0] >= 5)) || die "needs bash 5 (EPOCHREALTIME)"

[[ -x $STOCKCAM_BIN ]] ||
	die "$STOCKCAM_BIN: not found or not executable (run make first)"
"$STOCKCAM_BIN" --help 2>/dev/null | grep -q -- --jpeg-quality ||
	die "$STOCKCAM_BIN has no --jpeg-quality: it has no camera"

cores=$(nproc)
clk_tck=$(getconf CLK_TCK)
[[ $cores =~ ^[1-9][0-9]*$ ]] || die "nproc said: $cores"
[[ $clk_tck =~ ^[1-9][0-9]*$ ]] || die "getconf CLK_TCK said: $clk_tck"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/stockcam-camera.XXXXXX")
server_pid=
cl_pid=

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	local rc=$? pid i

	trap - EXIT INT TERM
	for pid in $cl_pid $server_pid; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	# Give them 5 s to exit cleanly, then SIGKILL.
	for pid in $cl_pid $server_pid; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf -- "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# The two helper programs: given, made by the Makefile, or gcc'd here.

# makefile_has TARGET: the Makefile in $BUILDDIR has a rule for it.
makefile_has() {
	# shellcheck disable=SC2016  # a literal $(EXEEXT)
	[[ -f $BUILDDIR/Makefile ]] &&
	    grep -q "^$1\\\$(EXEEXT):" "$BUILDDIR/Makefile"
}

if [[ -z $CAMLOAD_BIN ]]; then
	if makefile_has bench/camload; then
		echo "building: make -C $BUILDDIR bench/camload"
		make -s -C "$BUILDDIR" bench/camload >"$tmp/build.log" 2>&1 || {
			sed 's/^/  /' "$tmp/build.log" >&2
			die "make bench/camload failed"
		}
		CAMLOAD_BIN=$BUILDDIR/bench/camload
	else
		command -v gcc >/dev/null 2>&1 ||
			die "no gcc to build bench/camload (or set CAMLOAD_BIN)"
		echo "building: gcc bench/camload.c (not in the Makefile)"
		gcc -O2 -Wall -Wextra -o "$tmp/camload" "$top/bench/camload.c" \
		    >"$tmp/build.log" 2>&1 || {
			sed 's/^/  /' "$tmp/build.log" >&2
			die "gcc bench/camload.c failed"
		}
		CAMLOAD_BIN=$tmp/camload
	fi
fi
if [[ -z $JPEGENC_BIN ]]; then
	if makefile_has bench/jpegenc; then
		echo "building: make -C $BUILDDIR bench/jpegenc"
		make -s -C "$BUILDDIR" bench/jpegenc >"$tmp/build.log" 2>&1 || {
			sed 's/^/  /' "$tmp/build.log" >&2
			die "make bench/jpegenc failed"
		}
		JPEGENC_BIN=$BUILDDIR/bench/jpegenc
	else
		[[ -f $BUILDDIR/config.h && -f $BUILDDIR/Makefile ]] ||
			die "$BUILDDIR has no config.h/Makefile (configure" \
			    "first, or set JPEGENC_BIN)"
		command -v gcc >/dev/null 2>&1 ||
			die "no gcc to build bench/jpegenc (or set JPEGENC_BIN)"
		echo "building: make -C $BUILDDIR libstockcam.a, then gcc" \
		    "bench/jpegenc.c (not in the Makefile)"
		make -s -C "$BUILDDIR" libstockcam.a >"$tmp/build.log" 2>&1 || {
			sed 's/^/  /' "$tmp/build.log" >&2
			die "make libstockcam.a failed"
		}
		gcc -O2 -Wall -Wextra -I"$top/src" -I"$BUILDDIR" \
		    -o "$tmp/jpegenc" "$top/bench/jpegenc.c" \
		    "$BUILDDIR/libstockcam.a" -lturbojpeg -lm \
		    >"$tmp/build.log" 2>&1 || {
			sed 's/^/  /' "$tmp/build.log" >&2
			die "gcc bench/jpegenc.c failed"
		}
		JPEGENC_BIN=$tmp/jpegenc
	fi
fi
for bin in "$CAMLOAD_BIN" "$JPEGENC_BIN"; do
	[[ -x $bin ]] || die "$bin: not found or not executable"
done

# ---------------------------------------------------------------------------
# The server.

mkdir "$tmp/data"
: >"$tmp/server.err"
"$STOCKCAM_BIN" --listen 127.0.0.1:0 --data-dir "$tmp/data" --log-level warn \
    --camera "$CAMERA" --jpeg-quality "$QUALITY" \
    --max-viewers "$MAX_VIEWERS" >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!

# Wait up to 10 s for the "listening on" line.
line=
for ((i = 0; i < 100; i++)); do
	line=$(grep -o -m 1 'listening on http://127\.0\.0\.1:[0-9]*/' \
	    "$tmp/server.err" || true)
	[[ -n $line ]] && break
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "$prog: $STOCKCAM_BIN exited; its stderr:" >&2
		sed 's/^/  /' "$tmp/server.err" >&2
		exit 2
	fi
	sleep 0.1
done
if [[ -z $line ]]; then
	echo "$prog: $STOCKCAM_BIN did not say it was listening within 10 s;" \
	    "its stderr:" >&2
	sed 's/^/  /' "$tmp/server.err" >&2
	exit 2
fi
port=${line##*:}
port=${port%/}
[[ $port =~ ^[0-9]+$ && $port -gt 0 && $port -lt 65536 ]] ||
	die "bad port in: $line"

server_alive() {
	kill -0 "$server_pid" 2>/dev/null && return 0
	echo "$prog: stockcam died; its stderr:" >&2
	sed 's/^/  /' "$tmp/server.err" >&2
	exit 2
}

# now_us: sets $now to $EPOCHREALTIME in whole microseconds (no fork).
now_us() {
	local t=$EPOCHREALTIME

	now=$((10#${t%.*} * 1000000 + 10#${t#*.}))
}

# api_camera: GET /api/camera over bash's /dev/tcp (no process, so no CPU
# taken from the server); sets a_enc_ms, a_encoded, a_dropped, a_viewers.
api_camera() {
	local fd line len=0 body

	server_alive
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" ||
		die "cannot connect to 127.0.0.1:$port for /api/camera"
	printf 'GET /api/camera HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' \
	    "$port" >&"$fd"
	IFS= read -r -t 10 -u "$fd" line ||
		die "GET /api/camera: no status line within 10 s"
	[[ $line =~ ^HTTP/1\.[01]\ 200 ]] ||
		die "GET /api/camera: ${line%$'\r'}"
	while IFS= read -r -t 10 -u "$fd" line; do
		line=${line%$'\r'}
		[[ -z $line ]] && break
		if [[ ${line,,} =~ ^content-length:[[:space:]]*([0-9]+) ]]; then
			len=${BASH_REMATCH[1]}
		fi
	done
	body=
	((len > 0)) && IFS= read -r -t 10 -N "$len" -u "$fd" body
	exec {fd}>&-
	local k re
	for k in encode_ms frames_encoded frames_dropped viewers; do
		re="\"$k\":[[:space:]]*([-0-9.eE+]+)"
		[[ $body =~ $re ]] || die "GET /api/camera: no $k in: $body"
		case $k in
		encode_ms)	a_enc_ms=${BASH_REMATCH[1]} ;;
		frames_encoded)	a_encoded=${BASH_REMATCH[1]} ;;
		frames_dropped)	a_dropped=${BASH_REMATCH[1]} ;;
		viewers)	a_viewers=${BASH_REMATCH[1]} ;;
		esac
	done
}

# ticks STATLINE: sets $tk to utime + stime (CLK_TCK ticks) of a
# /proc/.../stat line (no fork); the command name may hold spaces and
# brackets, so split after it.
ticks() {
	local a

	read -r -a a <<<"${1##*) }"	# a[0] is field 3, state
	tk=$((a[11] + a[12]))		# fields 14 and 15
}

# sample: the time (us), the machine's busy ticks, and the ticks of the
# server (whole, its main thread = the event loop, its camera thread).
# Sets s_t s_mach s_srv s_loop s_cam.  Forks nothing, so it is quick and
# takes no CPU from the others.  (camload reports its own CPU.)
sample() {
	local a line t v

	now_us
	s_t=$now
	read -r -a a </proc/stat
	s_mach=$((a[1] + a[2] + a[3] + a[6] + a[7] + a[8]))
	{ read -r line <"/proc/$server_pid/stat"; } 2>/dev/null ||
		server_alive
	ticks "$line"
	s_srv=$tk
	s_loop=0 s_cam=0
	for t in /proc/"$server_pid"/task/*; do
		{ read -r line <"$t/stat"; } 2>/dev/null || continue
		v=${line#*(}
		v=${v%) *}
		if [[ ${t##*/} == "$server_pid" ]]; then
			ticks "$line"
			s_loop=$tk
		elif [[ $v == camera ]]; then
			ticks "$line"
			s_cam=$((s_cam + tk))
		fi
	done
}

# kv LINE KEYS...: "k=v ..." into c_KEY variables; 1 if a key is missing.
c_fps_median='' c_fps_min='' c_delay_median_ms='' c_delay_p99_ms=''
c_seq_gaps='' c_errors='' c_cpu_pct='' c_jpeg_bytes_mean='' c_encode_ms_median=''
c_encode_ms_mean='' c_draw_ms_mean='' c_bytes_median='' c_cpu_ms_total=''
kv() {
	local line=$1 k v w
	shift
	for k in "$@"; do
		printf -v "c_$k" '%s' ""
	done
	for w in $line; do
		k=${w%%=*}
		v=${w#*=}
		[[ $k =~ ^[a-z_0-9]+$ && $v =~ ^[-0-9.a-z]+$ ]] || continue
		printf -v "c_$k" '%s' "$v"
	done
	for k in "$@"; do
		v=c_$k
		[[ -n ${!v} ]] || return 1
	done
}

mkfifo "$tmp/camload.fifo"

# round V R: one camload run of V viewers; appends a line to $results.
round() {
	local v=$1 r=$2 fd rc line pct
	local t0 m0 srv0 loop0 cam0 e0 n0 d0 vw0

	: >"$tmp/camload.err"
	"$CAMLOAD_BIN" 127.0.0.1 "$port" "$v" "$WARMUP" "$MEASURE" \
	    >"$tmp/camload.fifo" 2>"$tmp/camload.err" &
	cl_pid=$!
	exec {fd}<"$tmp/camload.fifo"

	# The window starts when camload says so: sample at once.
	line=
	IFS= read -r -t $((CONNECT_S + WARMUP + 20)) -u "$fd" line || true
	if [[ $line != measuring ]]; then
		kill -TERM "$cl_pid" 2>/dev/null || true
		wait "$cl_pid" 2>/dev/null || true
		cl_pid=
		echo "$prog: $v viewers, round $r: camload did not start" \
		    "measuring${line:+ (it said: $line)}; its stderr:" >&2
		sed 's/^/  /' "$tmp/camload.err" >&2
		server_alive
		exit 2
	fi
	sample
	t0=$s_t m0=$s_mach srv0=$s_srv loop0=$s_loop cam0=$s_cam
	api_camera
	e0=$a_enc_ms n0=$a_encoded d0=$a_dropped vw0=$a_viewers

	# ... and ends when it prints its result (it then reads on for half
	# a second, so the server is not seeing it hang up yet).
	line=
	IFS= read -r -t $((MEASURE + 20)) -u "$fd" line || true
	sample
	api_camera
	rc=0
	wait "$cl_pid" || rc=$?
	cl_pid=
	exec {fd}<&-
	if ((rc != 0)) || ! kv "$line" fps_median fps_min delay_median_ms \
	    delay_p99_ms frames seq_gaps jpeg_bytes_mean cpu_pct errors; then
		echo "$prog: $v viewers, round $r: camload failed (exit $rc)" \
		    "${line:+, said: $line}; its stderr:" >&2
		sed 's/^/  /' "$tmp/camload.err" >&2
		server_alive
		exit 2
	fi
	if [[ -s $tmp/camload.err ]]; then
		sed "s/^/  [$v viewers, round $r] /" "$tmp/camload.err"
	fi

	# CPU over the window in % of one core; the server's mean encode
	# time over the frames encoded between the two /api/camera reads.
	pct=$(awk -v dt=$((s_t - t0)) -v hz="$clk_tck" \
	    -v srv=$((s_srv - srv0)) -v loop=$((s_loop - loop0)) \
	    -v cam=$((s_cam - cam0)) -v clp="$c_cpu_pct" \
	    -v mach=$((s_mach - m0)) -v e0="$e0" -v n0="$n0" \
	    -v e1="$a_enc_ms" -v n1="$a_encoded" 'BEGIN {
		k = 100 / hz / (dt / 1e6)
		o = mach * k - srv * k - clp
		if (o < 0) o = 0
		enc = n1 > n0 ? (e1 * n1 - e0 * n0) / (n1 - n0) : 0
		printf "%.3f %.2f %.2f %.2f %.2f %.2f %.4f\n", dt / 1e6,
		    srv * k, cam * k, loop * k, clp, o, enc }')
	read -r win cpu camp loopp clp oth enc <<<"$pct"
	printf '%7d  %5d  %7.2f  %7.2f  %7.2f  %7.2f  %7.1f  %7.1f  %6.1f  %7.1f  %7.1f  %6.3f  %5d  %5d  %6d\n' \
	    "$v" "$r" "$c_fps_median" "$c_fps_min" "$c_delay_median_ms" \
	    "$c_delay_p99_ms" "$cpu" "$camp" "$loopp" "$clp" "$oth" "$enc" \
	    "$c_seq_gaps" $((a_dropped - d0)) "$c_errors"
	if [[ $vw0 != "$v" ]]; then
		echo "         note: /api/camera said $vw0 viewers at the" \
		    "start of the window, not $v"
	fi
	if awk -v w="$win" -v m="$MEASURE" 'BEGIN { exit !(w > m * 1.02 ||
	    w < m * 0.98) }'; then
		echo "         note: the CPU samples were $win s apart, not" \
		    "$MEASURE"
	fi
	echo "$v $r $c_fps_median $c_fps_min $c_delay_median_ms" \
	    "$c_delay_p99_ms $cpu $camp $loopp $clp $oth $enc $c_seq_gaps" \
	    "$((a_dropped - d0)) $c_errors $c_jpeg_bytes_mean" >>"$results"
}

per_round=$((WARMUP + MEASURE + 1))
est=$((${#counts[@]} * ROUNDS * per_round + ROUNDS * 2))
echo "stockcam: $STOCKCAM_BIN (built $(date -r "$STOCKCAM_BIN" "+%F %T"))" \
    " http://127.0.0.1:$port/stream.mjpg"
echo "camera:   --camera $CAMERA --jpeg-quality $QUALITY" \
    "--max-viewers $MAX_VIEWERS"
echo "load:     $CAMLOAD_BIN: VIEWERS connections on one thread (epoll)," \
    "${WARMUP} s warm-up, ${MEASURE} s window; $ROUNDS rounds for each of" \
    "$VIEWERS viewers"
echo "machine:  $cores CPUs (nproc), CLK_TCK $clk_tck, load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg); about $est s to run"
echo "note:     camload runs on the same $cores cores as the server: its CPU" \
    "is client%, the rest of the machine others% (loopback softirq not" \
    "charged to a process included); CPU is % of one core"
echo

results=$tmp/results
: >"$results"
printf '%7s  %5s  %7s  %7s  %7s  %7s  %7s  %7s  %6s  %7s  %7s  %6s  %5s  %5s  %6s\n' \
    viewers round fps_med fps_min dly_med dly_p99 srv_cpu camera loop \
    client others enc_ms gaps drop errors
for v in "${counts[@]}"; do
	for ((r = 1; r <= ROUNDS; r++)); do
		round "$v" "$r"
	done
done
echo
echo "(fps_med/fps_min: median and slowest viewer's frames/s in the window;" \
    "dly_*: ms from X-Timestamp to the frame's last byte; srv_cpu: the" \
    "server, of which camera: its capture+encode thread, loop: its event" \
    "loop; enc_ms: mean encode of the frames in the window (/api/camera);" \
    "gaps: frames skipped for a viewer (X-Frame jumps); drop: frames" \
    "replaced before the loop took them)" | fold -s -w 78
echo

# median V FIELD: median over the rounds of V viewers of one column.
median() {
	awk -v n="$1" -v f="$2" '$1 == n { print $f }' "$results" |
	    sort -g |
	    awk '{ v[NR] = $1 }
		END {
			if (NR == 0) exit 1
			if (NR % 2) m = v[(NR + 1) / 2]
			else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.4f\n", m
		}'
}
# worst V FIELD: the smallest value of a column over the rounds of V.
worst() {
	awk -v n="$1" -v f="$2" '$1 == n && (m == "" || $f < m) { m = $f }
	    END { print m + 0 }' "$results"
}

printf 'medians over %d rounds:\n' "$ROUNDS"
printf '%7s  %7s  %7s  %7s  %7s  %7s  %7s  %6s  %7s  %7s  %6s  %7s\n' \
    viewers fps_med fps_min dly_med dly_p99 srv_cpu camera loop client \
    others enc_ms jpeg_B
for v in "${counts[@]}"; do
	printf '%7d  %7.2f  %7.2f  %7.2f  %7.2f  %7.1f  %7.1f  %6.1f  %7.1f  %7.1f  %6.3f  %7.0f\n' \
	    "$v" "$(median "$v" 3)" "$(median "$v" 4)" "$(median "$v" 5)" \
	    "$(median "$v" 6)" "$(median "$v" 7)" "$(median "$v" 8)" \
	    "$(median "$v" 9)" "$(median "$v" 10)" "$(median "$v" 11)" \
	    "$(median "$v" 12)" "$(median "$v" 16)"
done
errors=$(awk '{ s += $15 } END { print s + 0 }' "$results")
echo

# ---------------------------------------------------------------------------
# The same encode without the server.

# Back to back is TurboJPEG at its best (caches warm from the frame
# before); paced at FPS is the same call after 1/FPS s idle, as the
# camera thread makes it. The verdict compares the server with the
# paced figure, like with like; the other ratio is shown beside it.
echo "direct encode: $JPEGENC_BIN $WIDTH $HEIGHT $QUALITY FRAMES [$FPS]," \
    "$ROUNDS runs each way (the server idle: no viewers; others: the rest" \
    "of the machine, % of one core)"
jres=$tmp/jpegenc.results
: >"$jres"
for ((r = 1; r <= ROUNDS; r++)); do
	for mode in b2b paced; do
		if [[ $mode == paced ]]; then
			jargs=("$JPEG_PACED_FRAMES" "$FPS")
		else
			jargs=("$JPEG_FRAMES")
		fi
		read -r -a a </proc/stat
		m0=$((a[1] + a[2] + a[3] + a[6] + a[7] + a[8]))
		now_us
		t0=$now
		rc=0
		line=$("$JPEGENC_BIN" "$WIDTH" "$HEIGHT" "$QUALITY" \
		    "${jargs[@]}" 2>"$tmp/jpegenc.err") || rc=$?
		now_us
		read -r -a a </proc/stat
		if ((rc != 0)) || ! kv "$line" encode_ms_median \
		    encode_ms_mean encode_ms_p99 draw_ms_mean bytes_median \
		    cpu_ms_total; then
			echo "$prog: jpegenc failed (exit $rc)${line:+, said:" \
			    "$line}:" >&2
			sed 's/^/  /' "$tmp/jpegenc.err" >&2
			exit 2
		fi
		# The rest of the machine meanwhile: all busy time less
		# jpegenc's own, in % of one core.
		oth=$(awk -v m=$((a[1] + a[2] + a[3] + a[6] + a[7] + a[8] - m0)) \
		    -v hz="$clk_tck" -v dt=$((now - t0)) -v c="$c_cpu_ms_total" \
		    'BEGIN { o = m / hz - c / 1000
			if (o < 0) o = 0
			printf "%.1f", o / (dt / 1e6) * 100 }')
		printf '  %-6s %s (others %s%%)\n' "$mode" "$line" "$oth"
		echo "$mode $c_encode_ms_median $c_encode_ms_mean" \
		    "$c_draw_ms_mean $c_bytes_median $oth" >>"$jres"
	done
done
jmed() {
	awk -v m="$1" -v f="$2" '$1 == m { print $f }' "$jres" | sort -g |
	    awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.4f\n", m }'
}
d_median=$(jmed b2b 2)
d_mean=$(jmed b2b 3)
d_draw=$(jmed b2b 4)
d_bytes=$(jmed b2b 5)
p_median=$(jmed paced 2)
p_mean=$(jmed paced 3)
s_enc=$(median "$last" 12)
s_bytes=$(median "$last" 16)
ratio=$(awk -v s="$s_enc" -v d="$p_mean" \
    'BEGIN { if (d > 0) printf "%.3f\n", s / d; else print "0" }')
ratio_b2b=$(awk -v s="$s_enc" -v d="$d_mean" \
    'BEGIN { if (d > 0) printf "%.3f\n", s / d; else print "0" }')
echo
printf 'direct encode, back to back: mean %.3f ms, median %.3f ms a frame' \
    "$d_mean" "$d_median"
printf ' (medians of %d runs; drawing the frame %.3f ms more), %.0f bytes\n' \
    "$ROUNDS" "$d_draw" "$d_bytes"
printf 'direct encode, paced at %d fps: mean %.3f ms, median %.3f ms a frame\n' \
    "$FPS" "$p_mean" "$p_median"
printf 'server encode:  mean %.3f ms a frame at %d viewers (median of the' \
    "$s_enc" "$last"
printf ' rounds), %.0f bytes a frame as received\n' "$s_bytes"
printf 'ratio server/direct paced (means): %s   (server/back to back: %s)\n' \
    "$ratio" "$ratio_b2b"
echo

# ---------------------------------------------------------------------------
# Verdict, at the last (largest) viewer count.

fmt() { awk -v v="$1" -v d="$2" 'BEGIN { printf "%.*f", d, v }'; }
ok() { awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; }

fps_med=$(median "$last" 3)
fps_min=$(median "$last" 4)
cpu=$(median "$last" 7)
delay=$(median "$last" 5)
pass=1
if ok "$fps_med" '>=' "$MIN_FPS"; then op='>='; else op='<'; pass=0; fi
why="at $last viewers: fps $(fmt "$fps_med" 2) $op $MIN_FPS"
if ok "$fps_min" '>=' "$MIN_FPS_MIN"; then op='>='; else op='<'; pass=0; fi
why+=", slowest viewer $(fmt "$fps_min" 2) fps $op $MIN_FPS_MIN"
if ok "$cpu" '<=' "$MAX_CPU_PCT"; then op='<='; else op='>'; pass=0; fi
why+=", CPU $(fmt "$cpu" 1)% $op $MAX_CPU_PCT%"
if ok "$delay" '<=' "$MAX_DELAY_MS"; then op='<='; else op='>'; pass=0; fi
why+=", delay $(fmt "$delay" 2) ms $op $MAX_DELAY_MS"
if ok "$ratio" '<=' "$MAX_ENC_RATIO"; then op='<='; else op='>'; pass=0; fi
why+=", encode server/direct (paced) $ratio $op $MAX_ENC_RATIO"
if ((errors > 0)); then
	why+=", $errors viewer connections failed"
	pass=0
fi
# Anything else busy on the machine skews all of it (the cores are few).
busy_oth=$(awk -v m="$MAX_OTHERS_PCT" '$11 > m { n++ } END { print n + 0 }' \
    "$results")
busy_j=$(awk -v m="$MAX_OTHERS_PCT" '$6 > m { n++ } END { print n + 0 }' "$jres")
if ((busy_oth + busy_j > 0)); then
	echo "warning: other processes took more than $MAX_OTHERS_PCT% of a" \
	    "core in $busy_oth of the camload rounds and $busy_j of the" \
	    "jpegenc runs (others, above); the numbers are suspect"
fi
if ok "$(worst "$last" 4)" '<' "$MIN_FPS_MIN"; then
	echo "note: the slowest viewer of one round at $last viewers had" \
	    "$(fmt "$(worst "$last" 4)" 2) fps"
fi

if ((pass)); then
	echo "PASS: $why"
	exit 0
fi
echo "FAIL: $why"
exit 1
