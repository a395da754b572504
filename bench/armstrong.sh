#!/usr/bin/env bash
#
# bench/armstrong.sh -- the Armstrong search: scan throughput and scaling,
# wall time of whole searches, and GET /api/health latency while
# whole-range jobs run.
#
# 1. Builds bench/armstrong (make, or gcc when the Makefile does not know
#    it yet) and runs it: numbers/s of armstrong_scan on 1, 2 and N
#    threads, wall time of [20000000, 30000000) and [0, 2^63-1) as the
#    server plans and runs them (medians of ROUNDS).
# 2. Starts stockcam on 127.0.0.1 (kernel-chosen port, throwaway data
#    dir) and, HTTP_ROUNDS times, runs wrk against /api/health on the idle
#    server, then again while whole-range jobs are submitted back to back.
#
# Exit status: 0 PASS, 1 FAIL, 2 could not run (no wrk, build failed,
# server did not start, a search gave wrong results, a job failed, ...).
#
# Environment (see bench/README):
#   BUILDDIR       where stockcam is built (default: the repository top)
#   STOCKCAM_BIN   server under test (default: $BUILDDIR/stockcam)
#   ARMSTRONG_BIN  in-process benchmark; when set, nothing is built
#   ROUNDS         rounds of each in-process measurement (5)
#   THREADS        N, "all cores" (default: nproc)
#   SCAN_COUNT     numbers in the scan block (200000000)
#   SCAN_START     first number of the scan block (1000000000000)
#   DURATION       seconds per wrk run (6)
#   HTTP_ROUNDS    idle + loaded wrk pairs (3)
#   POLL_MS        job poll interval, ms (20)
#   JOB_TIMEOUT    seconds one job may take (60)
#   MIN_SCALING    PASS needs 2-thread scan scaling >= this (1.8)
#   MAX_WHOLE_S    PASS needs whole-range median wall < this, s (10)
#   MAX_SMALL_MS   PASS needs [2e7,3e7) median wall < this, ms (100)
#   MAX_P99_MS     PASS needs health p99 under load (median) < this, ms (5)
#
set -euo pipefail
export LC_ALL=C

prog=${0##*/}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

BUILDDIR=${BUILDDIR:-$top}
STOCKCAM_BIN=${STOCKCAM_BIN:-$BUILDDIR/stockcam}
ARMSTRONG_BIN=${ARMSTRONG_BIN:-}
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-$(nproc)}
SCAN_COUNT=${SCAN_COUNT:-200000000}
SCAN_START=${SCAN_START:-1000000000000}
DURATION=${DURATION:-6}
HTTP_ROUNDS=${HTTP_ROUNDS:-3}
POLL_MS=${POLL_MS:-20}
JOB_TIMEOUT=${JOB_TIMEOUT:-60}
MIN_SCALING=${MIN_SCALING:-1.8}
MAX_WHOLE_S=${MAX_WHOLE_S:-10}
MAX_SMALL_MS=${MAX_SMALL_MS:-100}
MAX_P99_MS=${MAX_P99_MS:-5}

WRK_THREADS=1
WRK_CONNS=8
WARMUP=1
PATH_HEALTH=/api/health
WHOLE_TO=9223372036854775807
WHOLE_FOUND=51
JOB_BODY="{\"type\":\"armstrong\",\"from\":0,\"to\":$WHOLE_TO}"

die() {
	echo "$prog: $*" >&2
	exit 2
}

num='^[0-9]+(\.[0-9]+)?$'
[[ $ROUNDS =~ ^[1-9][0-9]{0,2}$ ]] || die "ROUNDS must be 1-999: $ROUNDS"
[[ $THREADS =~ ^[1-9][0-9]{0,3}$ ]] || die "THREADS must be 1-1024: $THREADS"
[[ $SCAN_COUNT =~ ^[1-9][0-9]{3,18}$ ]] ||
	die "SCAN_COUNT must be a whole number >= 1000: $SCAN_COUNT"
[[ $SCAN_START =~ ^[0-9]{1,19}$ ]] ||
	die "SCAN_START must be a whole number: $SCAN_START"
[[ $DURATION =~ ^[1-9][0-9]{0,3}$ ]] ||
	die "DURATION must be a whole number of seconds (1-9999): $DURATION"
[[ $HTTP_ROUNDS =~ ^[1-9][0-9]{0,2}$ ]] ||
	die "HTTP_ROUNDS must be 1-999: $HTTP_ROUNDS"
[[ $POLL_MS =~ ^[1-9][0-9]{0,4}$ ]] || die "POLL_MS must be 1-99999: $POLL_MS"
[[ $JOB_TIMEOUT =~ ^[1-9][0-9]{0,4}$ ]] ||
	die "JOB_TIMEOUT must be a whole number of seconds: $JOB_TIMEOUT"
for v in MIN_SCALING MAX_WHOLE_S MAX_SMALL_MS MAX_P99_MS; do
	[[ ${!v} =~ $num ]] || die "$v must be a number: ${!v}"
done
((THREADS >= 2)) ||
	die "THREADS is $THREADS: the 1 -> 2 thread scaling needs at least 2"
((BASH_VERSINFO[0] >= 5)) || die "needs bash 5 (EPOCHREALTIME)"

if ! command -v wrk >/dev/null 2>&1; then
	echo "$prog: wrk not found; install it with: apt-get install wrk" >&2
	exit 2
fi
[[ -x $STOCKCAM_BIN ]] ||
	die "$STOCKCAM_BIN: not found or not executable (run make first)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/stockcam-bench.XXXXXX")
pids=()

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	local rc=$? pid i

	trap - EXIT INT TERM
	: >"$tmp/stop" 2>/dev/null || true
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	# Give them 5 s to exit cleanly, then SIGKILL.
	for pid in "${pids[@]}"; do
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
# 1. The in-process benchmark.

if [[ -z $ARMSTRONG_BIN ]]; then
	# shellcheck disable=SC2016  # a literal $(EXEEXT)
	if [[ -f $BUILDDIR/Makefile ]] &&
	    grep -q '^bench/armstrong\$(EXEEXT):' "$BUILDDIR/Makefile"; then
		echo "building: make -C $BUILDDIR bench/armstrong"
		make -s -C "$BUILDDIR" bench/armstrong >"$tmp/build.log" 2>&1 || {
			sed 's/^/  /' "$tmp/build.log" >&2
			die "make bench/armstrong failed"
		}
		ARMSTRONG_BIN=$BUILDDIR/bench/armstrong
	else
		# Not in Makefile.am yet: build it by hand against the
		# current libstockcam.a.
		[[ -f $BUILDDIR/config.h && -f $BUILDDIR/Makefile ]] ||
			die "$BUILDDIR has no config.h/Makefile (configure first)"
		echo "building: make -C $BUILDDIR libstockcam.a, then gcc" \
		    "(bench/armstrong is not in the Makefile)"
		make -s -C "$BUILDDIR" libstockcam.a >"$tmp/build.log" 2>&1 || {
			sed 's/^/  /' "$tmp/build.log" >&2
			die "make libstockcam.a failed"
		}
		libs=$(pkg-config --libs libevent libevent_pthreads jansson \
		    libcurl libxml-2.0 libarchive libturbojpeg) ||
			die "pkg-config failed"
		# shellcheck disable=SC2086  # $libs is a list of flags
		gcc -std=gnu11 -O2 -Wall -Wextra -I"$top/src" -I"$BUILDDIR" \
		    -include config.h -o "$tmp/armstrong" \
		    "$top/bench/armstrong.c" "$BUILDDIR/libstockcam.a" \
		    $libs -lm -pthread >"$tmp/build.log" 2>&1 || {
			sed 's/^/  /' "$tmp/build.log" >&2
			die "gcc bench/armstrong.c failed"
		}
		ARMSTRONG_BIN=$tmp/armstrong
	fi
fi
[[ -x $ARMSTRONG_BIN ]] || die "$ARMSTRONG_BIN: not found or not executable"

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
rc=0
"$ARMSTRONG_BIN" -r "$ROUNDS" -t "$THREADS" -n "$SCAN_COUNT" \
    -s "$SCAN_START" >"$tmp/armstrong.out" || rc=$?
grep -v '^RESULT ' "$tmp/armstrong.out" || true
((rc == 0)) || die "bench/armstrong failed (exit $rc)"
result=$(grep '^RESULT ' "$tmp/armstrong.out") ||
	die "bench/armstrong printed no RESULT line"
declare -A R
for kv in ${result#RESULT }; do
	R[${kv%%=*}]=${kv#*=}
done
for k in scaling2 small_ms whole_s small_method whole_method whole_found; do
	[[ -n ${R[$k]:-} ]] || die "bench/armstrong: no $k in: $result"
done
echo

# ---------------------------------------------------------------------------
# 2. GET /api/health while whole-range jobs run.

mkdir "$tmp/data"
"$STOCKCAM_BIN" --listen 127.0.0.1:0 --data-dir "$tmp/data" --log-level warn \
    >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
pids+=("$server_pid")

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

# A tiny HTTP/1.1 client on bash's /dev/tcp: one keep-alive connection
# and no process per request, so polling costs the machine next to
# nothing (a curl per poll would take CPU from the server being measured).
conn=
http_open() {
	[[ -n $conn ]] && exec {conn}>&-
	exec {conn}<>"/dev/tcp/127.0.0.1/$port"
}

# http_once METHOD PATH [BODY]: sets $status and $body; 1 on a broken
# connection.
http_once() {
	local method=$1 path=$2 data=${3-} line len=0

	if [[ -n $data ]]; then
		printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
		    "$method" "$path" "$port" "${#data}" "$data" >&"$conn" ||
			return 1
	else
		printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n' \
		    "$method" "$path" "$port" >&"$conn" || return 1
	fi
	IFS= read -r -t 10 -u "$conn" line || return 1
	[[ $line =~ ^HTTP/1\.[01]\ ([0-9]{3}) ]] || return 1
	status=${BASH_REMATCH[1]}
	while IFS= read -r -t 10 -u "$conn" line; do
		line=${line%$'\r'}
		[[ -z $line ]] && break
		if [[ ${line,,} =~ ^content-length:[[:space:]]*([0-9]+) ]]; then
			len=${BASH_REMATCH[1]}
		fi
	done
	body=
	if ((len > 0)); then
		IFS= read -r -t 10 -N "$len" -u "$conn" body || return 1
	fi
	return 0
}

# http METHOD PATH [BODY]: as http_once, reconnecting once if needed.
http() {
	http_once "$@" && return 0
	http_open || return 1
	http_once "$@"
}

# now_us: sets $now to $EPOCHREALTIME in whole microseconds (no fork).
now_us() {
	local t=$EPOCHREALTIME

	now=$((10#${t%.*} * 1000000 + 10#${t#*.}))
}

# job_loop: submits whole-range jobs one after another until $tmp/stop
# exists, waiting for each to succeed.  Appends to $tmp/jobs one line a
# job: submitted_us done_us id results method; $tmp/running appears once
# the first job is running.  Any trouble: a message in $tmp/jobs.err and
# exit 1.
job_loop() {
	local sfd id state t0 t1 deadline n json method nap

	# A background subshell inherits the EXIT trap: its exit must not
	# clean up (remove $tmp, stop the server) for the whole script.
	trap - EXIT INT TERM
	exec {sfd}<> <(:)		# read -t on it is a fork-free sleep
	printf -v nap '%d.%03d' $((POLL_MS / 1000)) $((POLL_MS % 1000))
	http_open || { echo "cannot connect" >"$tmp/jobs.err"; exit 1; }
	while [[ ! -e $tmp/stop ]]; do
		now_us
		t0=$now
		if ! http POST /api/jobs "$JOB_BODY" || [[ $status != 202 ]]; then
			echo "POST /api/jobs: HTTP ${status:-?}: ${body:-}" \
			    >"$tmp/jobs.err"
			exit 1
		fi
		[[ $body =~ \"id\"[[:space:]]*:[[:space:]]*([0-9]+) ]] || {
			echo "POST /api/jobs: no id in: $body" >"$tmp/jobs.err"
			exit 1
		}
		id=${BASH_REMATCH[1]}
		deadline=$((t0 + JOB_TIMEOUT * 1000000))
		while :; do
			if ! http GET "/api/jobs/$id" || [[ $status != 200 ]]; then
				echo "GET /api/jobs/$id: HTTP ${status:-?}:" \
				    "${body:-}" >"$tmp/jobs.err"
				exit 1
			fi
			[[ $body =~ \"state\"[[:space:]]*:[[:space:]]*\"([a-z]+)\" ]] ||
				{ echo "no state in: $body" >"$tmp/jobs.err"; exit 1; }
			state=${BASH_REMATCH[1]}
			[[ $state == queued ]] || [[ -e $tmp/running ]] ||
				: >"$tmp/running"
			[[ $state == queued || $state == running ]] || break
			now_us
			if ((now > deadline)); then
				echo "job $id still $state after $JOB_TIMEOUT s" \
				    >"$tmp/jobs.err"
				exit 1
			fi
			read -r -t "$nap" -u "$sfd" || true
		done
		now_us
		t1=$now
		if [[ $state != succeeded ]]; then
			echo "job $id ended $state: $body" >"$tmp/jobs.err"
			exit 1
		fi
		[[ $body =~ \"result\"[[:space:]]*:[[:space:]]*\[([^]]*)\] ]] || {
			echo "job $id: no result in: $body" >"$tmp/jobs.err"
			exit 1
		}
		json=${BASH_REMATCH[1]//[^,0-9]/}
		n=0
		[[ -n $json ]] && n=$(($(tr -cd , <<<"$json" | wc -c) + 1))
		method='?'
		if [[ $body =~ \"method\"[[:space:]]*:[[:space:]]*\"([a-z]+)\" ]]
		then
			method=${BASH_REMATCH[1]}
		fi
		echo "$t0 $t1 $id $n $method" >>"$tmp/jobs"
	done
	exit 0
}

# cpu_ticks: machine busy ticks (/proc/stat) and the server's utime+stime.
cpu_ticks() {
	local a line

	read -r -a a </proc/stat
	machine=$((a[1] + a[2] + a[3] + a[6] + a[7] + a[8]))
	server=0				# gone: runwrk says so
	if { read -r line <"/proc/$server_pid/stat"; } 2>/dev/null; then
		read -r -a a <<<"${line##*) }"	# a[0] is field 3, state
		server=$((a[11] + a[12]))	# utime + stime
	fi
}

# runwrk NAME SECONDS: run wrk; leave the output in $tmp/NAME.wrk and set
# $p99 (ms), $rps, $bad (non-2xx/3xx), $errs (socket errors), $busy (the
# machine's busy share of all CPUs) and $srv_cpu (server CPU-s).
runwrk() {
	local name=$1 secs=$2 out=$tmp/$1.wrk parsed m0 s0 t0 t1 hz

	hz=$(getconf CLK_TCK)
	cpu_ticks
	now_us
	m0=$machine s0=$server t0=$now
	if ! timeout $((secs + 30)) wrk -t "$WRK_THREADS" -c "$WRK_CONNS" \
	    -d "${secs}s" --latency "http://127.0.0.1:$port$PATH_HEALTH" \
	    >"$out" 2>&1; then
		echo "$prog: wrk ($name) failed; its output:" >&2
		sed 's/^/  /' "$out" >&2
		exit 2
	fi
	now_us
	t1=$now
	cpu_ticks
	busy=$(awk -v m=$((machine - m0)) -v hz="$hz" -v us=$((t1 - t0)) \
	    -v n="$(nproc)" 'BEGIN { printf "%.2f", m / hz / (us / 1e6) / n }')
	srv_cpu=$(awk -v s=$((server - s0)) -v hz="$hz" \
	    'BEGIN { printf "%.2f", s / hz }')
	parsed=$(awk '
	function ms(v,	n, u) {
		n = v + 0
		u = v
		sub(/^[0-9.]+/, "", u)
		if (u == "us") return n / 1000
		if (u == "ms") return n
		if (u == "s")  return n * 1000
		if (u == "m")  return n * 60000
		if (u == "h")  return n * 3600000
		return -1
	}
	/^[ \t]*99%[ \t]/	{ p99 = ms($2) }
	/^Requests\/sec:/	{ rps = $2 }
	/Non-2xx or 3xx responses:/ { bad = $NF }
	/Socket errors:/	{
		gsub(/,/, "")
		errs = $4 + $6 + $8 + $10
	}
	END {
		if (rps == "" || p99 == "" || p99 < 0)
			exit 1
		printf "%s %.3f %d %d\n", rps, p99, bad + 0, errs + 0
	}' "$out") || {
		echo "$prog: cannot parse wrk output ($name):" >&2
		sed 's/^/  /' "$out" >&2
		exit 2
	}
	read -r rps p99 bad errs <<<"$parsed"
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "$prog: stockcam died; its stderr:" >&2
		sed 's/^/  /' "$tmp/server.err" >&2
		exit 2
	fi
	wrk_t0=$t0 wrk_t1=$t1
}

echo "stockcam: $STOCKCAM_BIN  http://127.0.0.1:$port$PATH_HEALTH"
echo "wrk -t $WRK_THREADS -c $WRK_CONNS -d ${DURATION}s --latency, idle then" \
    "under load, $HTTP_ROUNDS rounds, after a ${WARMUP}s warm-up"
echo "load: POST /api/jobs $JOB_BODY back to back, polled every ${POLL_MS} ms"
echo

runwrk warmup "$WARMUP"
((bad == 0)) || {
	sed 's/^/  /' "$tmp/warmup.wrk" >&2
	die "$PATH_HEALTH answered non-2xx/3xx during the warm-up"
}

results=$tmp/results
: >"$results"
printf '%-6s  %-6s  %10s  %8s  %6s  %7s  %8s  %7s  %5s  %8s  %7s\n' \
    round load req/s p99_ms non2xx sockerr cpu_busy srv_cpu jobs job_ms \
    covered
total_jobs=0
for ((r = 1; r <= HTTP_ROUNDS; r++)); do
	# Idle.
	runwrk idle "$DURATION"
	printf '%-6d  %-6s  %10.2f  %8.3f  %6d  %7d  %8s  %7s  %5s  %8s  %7s\n' \
	    "$r" idle "$rps" "$p99" "$bad" "$errs" "$busy" "$srv_cpu" - - -
	echo "idle $rps $p99 $bad $errs" >>"$results"

	# Under load: the first job must be running before wrk starts.
	rm -f "$tmp/stop" "$tmp/running" "$tmp/jobs" "$tmp/jobs.err"
	: >"$tmp/jobs"
	job_loop &
	loop_pid=$!
	pids+=("$loop_pid")
	for ((i = 0; i < 100; i++)); do
		[[ -e $tmp/running ]] && break
		kill -0 "$loop_pid" 2>/dev/null || break
		sleep 0.05
	done
	[[ -e $tmp/running ]] || {
		cat "$tmp/jobs.err" >&2 2>/dev/null || true
		die "the first whole-range job did not start within 5 s"
	}
	runwrk loaded "$DURATION"
	: >"$tmp/stop"
	lrc=0
	wait "$loop_pid" || lrc=$?
	unset 'pids[-1]'
	if ((lrc != 0)) || [[ -s $tmp/jobs.err ]]; then
		echo "$prog: the job loop failed: $(cat "$tmp/jobs.err" \
		    2>/dev/null)" >&2
		exit 2
	fi
	# Jobs finished, their median wall (submit to seen succeeded), the
	# share of the wrk run during which a job was in flight, and a check
	# of every job's result.
	read -r njobs job_ms covered wrong <<<"$(awk -v a="$wrk_t0" \
	    -v b="$wrk_t1" -v want="$WHOLE_FOUND" '
	{
		n++
		w[n] = ($2 - $1) / 1000
		lo = $1 > a ? $1 : a
		hi = $2 < b ? $2 : b
		if (hi > lo) cov += hi - lo
		if ($4 != want || $5 != "multisets") bad++
	}
	END {
		if (n == 0) { print 0, 0, 0, 0; exit }
		for (i = 2; i <= n; i++)	# insertion sort; few jobs
			for (j = i; j > 1 && w[j - 1] > w[j]; j--) {
				t = w[j]; w[j] = w[j - 1]; w[j - 1] = t
			}
		m = n % 2 ? w[(n + 1) / 2] : (w[n / 2] + w[n / 2 + 1]) / 2
		printf "%d %.1f %.2f %d\n", n, m, cov / (b - a), bad + 0
	}' "$tmp/jobs")"
	((wrong == 0)) || {
		sed 's/^/  /' "$tmp/jobs" >&2
		die "a whole-range job did not find $WHOLE_FOUND numbers by" \
		    "multisets (lines: submitted_us done_us id found method)"
	}
	((njobs > 0)) || die "no whole-range job finished during the run"
	total_jobs=$((total_jobs + njobs))
	printf '%-6d  %-6s  %10.2f  %8.3f  %6d  %7d  %8s  %7s  %5d  %8s  %7s\n' \
	    "$r" loaded "$rps" "$p99" "$bad" "$errs" "$busy" "$srv_cpu" \
	    "$njobs" "$job_ms" "$covered"
	echo "loaded $rps $p99 $bad $errs" >>"$results"
done

# median NAME FIELD: median of one column (2 = req/s, 3 = p99) of $results.
median() {
	awk -v n="$1" -v f="$2" '$1 == n { print $f }' "$results" |
	    sort -g |
	    awk '{ v[NR] = $1 }
		END {
			if (NR == 0) exit 1
			if (NR % 2) m = v[(NR + 1) / 2]
			else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.3f\n", m
		}'
}
total() {
	awk -v n="$1" -v f="$2" '$1 == n { s += $f } END { print s + 0 }' \
	    "$results"
}

i_rps=$(median idle 2)
i_p99=$(median idle 3)
l_rps=$(median loaded 2)
l_p99=$(median loaded 3)
l_bad=$(($(total loaded 4) + $(total idle 4)))
l_errs=$(($(total loaded 5) + $(total idle 5)))
printf '%-6s  %-6s  %10.2f  %8.3f\n' median idle "$i_rps" "$i_p99"
printf '%-6s  %-6s  %10.2f  %8.3f\n' median loaded "$l_rps" "$l_p99"
echo
echo "health p99: idle $i_p99 ms, under whole-range jobs $l_p99 ms" \
    "(medians of $HTTP_ROUNDS)"
echo "whole-range jobs completed during the loaded runs: $total_jobs"
echo "(cpu_busy: the machine's busy share of its $(nproc) CPUs during the" \
    "run; srv_cpu: stockcam's CPU-s; covered: share of the run with a job" \
    "in flight)"
echo

# ---------------------------------------------------------------------------
# Verdict.

scaling=${R[scaling2]}
whole_s=${R[whole_s]}
small_ms=${R[small_ms]}
fmt() { awk -v v="$1" -v d="$2" 'BEGIN { printf "%.*f", d, v }'; }
ok() { awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; }

pass=1
if ok "$scaling" '>=' "$MIN_SCALING"; then op='>='; else op='<'; pass=0; fi
why="scaling $(fmt "$scaling" 2) $op $MIN_SCALING"
if ok "$whole_s" '<' "$MAX_WHOLE_S"; then op='<'; else op='>='; pass=0; fi
why+=", whole range $(fmt "$whole_s" 3) s $op $MAX_WHOLE_S"
if ok "$small_ms" '<' "$MAX_SMALL_MS"; then op='<'; else op='>='; pass=0; fi
why+=", [2e7,3e7) $(fmt "$small_ms" 3) ms $op $MAX_SMALL_MS"
if ok "$l_p99" '<' "$MAX_P99_MS"; then op='<'; else op='>='; pass=0; fi
why+=", health p99 under load $(fmt "$l_p99" 3) ms $op $MAX_P99_MS"
if ((l_bad + l_errs > 0)); then
	why+=", $l_bad non-2xx/3xx responses and $l_errs socket errors"
	pass=0
fi
if ok "${R[others_a]:-0}" '>' 0.05 || ok "${R[others_b]:-0}" '>' 0.05; then
	echo "warning: other processes were busy during the in-process" \
	    "benchmark (see above); its numbers are suspect"
fi

if ((pass)); then
	echo "PASS: $why"
	exit 0
fi
echo "FAIL: $why"
exit 1
