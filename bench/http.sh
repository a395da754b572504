#!/usr/bin/env bash
#
# bench/http.sh -- stockcam GET /api/health against a bare evhttp baseline,
# and stockcam over HTTPS against itself over plain HTTP.
#
# Starts bench/hello_evhttp, stockcam, and stockcam with --tls-cert and
# --tls-key (a certificate made here with openssl) on 127.0.0.1
# (kernel-chosen ports), warms each up for 1 s, then runs wrk against them
# in turn, ROUNDS times each, and compares the medians; then runs
# bench/metrics.py (a /metrics scrape with 1000 finished jobs).  Exit
# status: 0 PASS, 1 FAIL, 2 could not run (missing wrk, openssl or
# binaries, server did not start, ...).
#
# Environment:
#   BUILDDIR      where the binaries are (default: the repository top)
#   STOCKCAM_BIN  server under test (default: $BUILDDIR/stockcam); if its
#                 name is hello_evhttp it is started like the baseline,
#                 which is handy for testing this script
#   BASELINE_BIN  baseline (default: $BUILDDIR/bench/hello_evhttp)
#   DURATION      seconds per wrk run (default 5)
#   ROUNDS        wrk runs per server (default 5)
#   MIN_RATIO     PASS needs median req/s stockcam/baseline >= this (0.90)
#   MAX_P99_MS    PASS needs stockcam median p99 latency < this, ms (5)
#   MIN_TLS_RATIO PASS needs median req/s HTTPS/HTTP >= this (0.70)
#   METRICS       1: also run bench/metrics.py (default 1)
#
set -euo pipefail
export LC_ALL=C

prog=${0##*/}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

BUILDDIR=${BUILDDIR:-$top}
STOCKCAM_BIN=${STOCKCAM_BIN:-$BUILDDIR/stockcam}
BASELINE_BIN=${BASELINE_BIN:-$BUILDDIR/bench/hello_evhttp}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-5}
MIN_RATIO=${MIN_RATIO:-0.90}
MAX_P99_MS=${MAX_P99_MS:-5}
MIN_TLS_RATIO=${MIN_TLS_RATIO:-0.70}
METRICS=${METRICS:-1}

WRK_THREADS=1
WRK_CONNS=64
WARMUP=1
PATH_HEALTH=/api/health

die() {
	echo "$prog: $*" >&2
	exit 2
}

[[ $DURATION =~ ^[1-9][0-9]{0,3}$ ]] ||
	die "DURATION must be a whole number of seconds (1-9999): $DURATION"
[[ $ROUNDS =~ ^[1-9][0-9]{0,2}$ ]] ||
	die "ROUNDS must be a whole number (1-999): $ROUNDS"
[[ $MIN_RATIO =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
	die "MIN_RATIO must be a number: $MIN_RATIO"
[[ $MAX_P99_MS =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
	die "MAX_P99_MS must be a number: $MAX_P99_MS"
[[ $MIN_TLS_RATIO =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
	die "MIN_TLS_RATIO must be a number: $MIN_TLS_RATIO"

if ! command -v wrk >/dev/null 2>&1; then
	echo "$prog: wrk not found; install it with: apt-get install wrk" >&2
	exit 2
fi
if ! command -v openssl >/dev/null 2>&1; then
	echo "$prog: openssl not found; install it with: apt-get install openssl" >&2
	exit 2
fi
for bin in "$BASELINE_BIN" "$STOCKCAM_BIN"; do
	[[ -x $bin ]] || die "$bin: not found or not executable (run make first)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/stockcam-bench.XXXXXX")
pids=()
declare -A pid_of

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	local rc=$? pid i

	trap - EXIT INT TERM
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

# start NAME BIN [ARGS...]: start a server on 127.0.0.1:0, set $port to
# its port.
start() {
	local name=$1 bin=$2 err=$tmp/$1.err line i pid

	shift 2
	if [[ ${bin##*/} == hello_evhttp ]]; then
		"$bin" 127.0.0.1 0 >"$tmp/$name.out" 2>"$err" &
	else
		mkdir "$tmp/$name.data"
		"$bin" --listen 127.0.0.1:0 --log-level warn \
		    --data-dir "$tmp/$name.data" "$@" >"$tmp/$name.out" 2>"$err" &
	fi
	pid=$!
	pids+=("$pid")

	# Wait up to 10 s for the "listening on" line.
	line=
	for ((i = 0; i < 100; i++)); do
		line=$(grep -E -o -m 1 \
		    'listening on https?://127\.0\.0\.1:[0-9]*/' "$err" || true)
		[[ -n $line ]] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$prog: $name ($bin) exited; its stderr:" >&2
			sed 's/^/  /' "$err" >&2
			exit 2
		fi
		sleep 0.1
	done
	if [[ -z $line ]]; then
		echo "$prog: $name ($bin) did not say it was listening" \
		    "within 10 s; its stderr:" >&2
		sed 's/^/  /' "$err" >&2
		exit 2
	fi
	port=${line##*:}
	port=${port%/}
	[[ $port =~ ^[0-9]+$ && $port -gt 0 && $port -lt 65536 ]] ||
		die "$name: bad port in: $line"
}

# runwrk NAME PORT SECONDS: run wrk, leave its output in $tmp/NAME.wrk and
# set $rps, $p99 (ms), $bad (non-2xx/3xx responses), $errs (socket errors).
runwrk() {
	local name=$1 port=$2 secs=$3 out=$tmp/$1.wrk parsed scheme=http

	[[ $name == *tls ]] && scheme=https
	if ! timeout $((secs + 30)) wrk -t "$WRK_THREADS" -c "$WRK_CONNS" \
	    -d "${secs}s" --latency "$scheme://127.0.0.1:$port$PATH_HEALTH" \
	    >"$out" 2>&1; then
		echo "$prog: wrk against $name failed; its output:" >&2
		sed 's/^/  /' "$out" >&2
		exit 2
	fi
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
		echo "$prog: cannot parse wrk output for $name:" >&2
		sed 's/^/  /' "$out" >&2
		exit 2
	}
	read -r rps p99 bad errs <<<"$parsed"

	# A dead server gives wrk nothing but errors; say so plainly.
	if [[ $rps == 0.00 ]] && ! kill -0 "${pid_of[$name]}" 2>/dev/null; then
		die "$name died during the benchmark (see above)"
	fi
}

start baseline "$BASELINE_BIN"
baseline_port=$port
pid_of[baseline]=${pids[-1]}
start stockcam "$STOCKCAM_BIN"
stockcam_port=$port
pid_of[stockcam]=${pids[-1]}
servers=(baseline stockcam)
declare -A port_of=([baseline]=$baseline_port [stockcam]=$stockcam_port)
# The same build over HTTPS; hello_evhttp (a test of this script) has none.
if [[ ${STOCKCAM_BIN##*/} != hello_evhttp ]]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 \
	    -subj /CN=localhost >/dev/null 2>&1 ||
		die "openssl could not make a certificate"
	start stockcam_tls "$STOCKCAM_BIN" --tls-cert "$tmp/cert.pem" \
	    --tls-key "$tmp/key.pem"
	port_of[stockcam_tls]=$port
	pid_of[stockcam_tls]=${pids[-1]}
	servers+=(stockcam_tls)
fi

echo "baseline:     $BASELINE_BIN  http://127.0.0.1:$baseline_port$PATH_HEALTH"
echo "stockcam:     $STOCKCAM_BIN  http://127.0.0.1:$stockcam_port$PATH_HEALTH"
[[ -n ${port_of[stockcam_tls]:-} ]] &&
	echo "stockcam_tls: $STOCKCAM_BIN  https://127.0.0.1:${port_of[stockcam_tls]}$PATH_HEALTH (ECDSA P-256, keep-alive)"
echo "wrk -t $WRK_THREADS -c $WRK_CONNS -d ${DURATION}s --latency," \
    "$ROUNDS rounds each, in turn, after ${WARMUP}s warm-up each"
echo

for name in "${servers[@]}"; do
	p=${port_of[$name]}
	runwrk "$name" "$p" "$WARMUP"
	if ((bad > 0)); then
		echo "$prog: $name answered $PATH_HEALTH with non-2xx/3xx" \
		    "during warm-up; wrk output:" >&2
		sed 's/^/  /' "$tmp/$name.wrk" >&2
		exit 2
	fi
done

results=$tmp/results
: >"$results"
printf '%-6s  %-12s  %12s  %10s  %7s  %7s\n' \
    round server req/s p99_ms non2xx sockerr
for ((r = 1; r <= ROUNDS; r++)); do
	for name in "${servers[@]}"; do
		p=${port_of[$name]}
		runwrk "$name" "$p" "$DURATION"
		printf '%-6d  %-12s  %12.2f  %10.3f  %7d  %7d\n' \
		    "$r" "$name" "$rps" "$p99" "$bad" "$errs"
		echo "$name $rps $p99 $bad $errs" >>"$results"
	done
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

# total NAME FIELD: sum of one column of $results.
total() {
	awk -v n="$1" -v f="$2" '$1 == n { s += $f } END { print s + 0 }' \
	    "$results"
}

b_rps=$(median baseline 2)
b_p99=$(median baseline 3)
s_rps=$(median stockcam 2)
s_p99=$(median stockcam 3)
s_bad=$(total stockcam 4)
s_errs=$(total stockcam 5)
b_bad=$(total baseline 4)
b_errs=$(total baseline 5)

echo
printf '%-6s  %-8s  %12.2f  %10.3f\n' median baseline "$b_rps" "$b_p99"
printf '%-6s  %-8s  %12.2f  %10.3f\n' median stockcam "$s_rps" "$s_p99"

ratio=$(awk -v s="$s_rps" -v b="$b_rps" \
    'BEGIN { if (b > 0) printf "%.3f\n", s / b; else print "0.000" }')
echo
echo "ratio stockcam/baseline (median req/s): $ratio"
echo "stockcam median p99: $s_p99 ms"
if ((b_bad + b_errs > 0)); then
	echo "warning: baseline had $b_bad non-2xx/3xx responses and" \
	    "$b_errs socket errors; the comparison is suspect"
fi
echo

ok_ratio=$(awk -v r="$ratio" -v m="$MIN_RATIO" 'BEGIN { print (r >= m) }')
ok_p99=$(awk -v p="$s_p99" -v m="$MAX_P99_MS" 'BEGIN { print (p < m) }')
why="ratio $ratio $( ((ok_ratio)) && echo '>=' || echo '<') $MIN_RATIO"
why+=", p99 $s_p99 ms $( ((ok_p99)) && echo '<' || echo '>=') $MAX_P99_MS ms"
if ((s_bad + s_errs > 0)); then
	why+=", stockcam had $s_bad non-2xx/3xx responses and $s_errs socket errors"
fi
pass=$((ok_ratio && ok_p99 && s_bad + s_errs == 0))

# HTTPS against plain HTTP, the same build.
if [[ -n ${port_of[stockcam_tls]:-} ]]; then
	t_rps=$(median stockcam_tls 2)
	t_p99=$(median stockcam_tls 3)
	t_bad=$(total stockcam_tls 4)
	t_errs=$(total stockcam_tls 5)
	printf '%-6s  %-12s  %12.2f  %10.3f\n' median stockcam_tls "$t_rps" \
	    "$t_p99"
	tls_ratio=$(awk -v t="$t_rps" -v s="$s_rps" \
	    'BEGIN { if (s > 0) printf "%.3f\n", t / s; else print "0.000" }')
	echo "ratio HTTPS/HTTP (median req/s, keep-alive): $tls_ratio"
	echo
	ok_tls=$(awk -v r="$tls_ratio" -v m="$MIN_TLS_RATIO" \
	    'BEGIN { print (r >= m) }')
	why+=", HTTPS/HTTP $tls_ratio $( ((ok_tls)) && echo '>=' || echo '<') $MIN_TLS_RATIO"
	if ((t_bad + t_errs > 0)); then
		why+=", HTTPS had $t_bad non-2xx/3xx responses and $t_errs socket errors"
	fi
	pass=$((pass && ok_tls && t_bad + t_errs == 0))
fi

# What a Prometheus scrape costs, 1000 finished jobs in memory.
if [[ $METRICS == 1 && ${STOCKCAM_BIN##*/} != hello_evhttp ]]; then
	echo "bench/metrics.py:"
	if STOCKCAM_BIN=$STOCKCAM_BIN BENCH_DIR=$tmp \
	    python3 "$top/bench/metrics.py" | sed 's/^/  /'; then
		why+=", /metrics scrape ok"
	else
		why+=", /metrics scrape FAILED (above)"
		pass=0
	fi
	echo
fi

if ((pass)); then
	echo "PASS: $why"
	exit 0
fi
echo "FAIL: $why"
exit 1
