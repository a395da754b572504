#!/usr/bin/env bash
#
# bench/store.sh -- how fast POST /api/jobs is accepted with each job store.
#
# Starts three stockcam servers on 127.0.0.1 (kernel-chosen ports, each with
# a fresh --data-dir): --store memory, --store sqlite:DIR/stockcam.db
# --sync normal and the same with --sync full.  All three fetch from a
# "black hole" upstream started here (it accepts connections and never
# answers), so the pipeline never finishes a symbol and every accepted job
# stays queued: the window measures admission (parse, commit, 202), not
# processing.  Each server gets a 1 s warm-up, then wrk -t 2 -c 64
# -d DURATION --latency POSTs one-symbol jobs to them in turn, ROUNDS times.
# Only 202s count as accepted.  Prints every round, the medians, the ratios
# to memory, each server's VmHWM at the end and a verdict line.
# Exit status: 0 PASS, 1 FAIL, 2 could not run (no wrk or python3, binary
# missing, a server or the upstream did not start, wrk failed, ...).
#
# Environment:
#   BUILDDIR        where stockcam is (default: the repository top)
#   STOCKCAM_BIN    server under test (default: $BUILDDIR/stockcam)
#   DURATION        seconds per wrk run (default 10)
#   ROUNDS          wrk runs per server (default 3)
#   MIN_RATIO       PASS needs median normal/memory accepted/s >= this (0.5)
#   MIN_NORMAL_RATE PASS needs median sqlite-normal accepted/s >= this (2000)
#   MAX_P99_MS      PASS needs median sqlite-normal p99 < this, ms (20)
#   MIN_FULL_RATE   PASS needs median sqlite-full accepted/s >= this (1000)
#   BENCH_DIR       where the temporary directory (and the databases) go
#                   (default /tmp; put it on the disk you want to measure)
#   PYTHON3         interpreter for the black-hole upstream (default python3)
#
set -euo pipefail
export LC_ALL=C

prog=${0##*/}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

BUILDDIR=${BUILDDIR:-$top}
STOCKCAM_BIN=${STOCKCAM_BIN:-$BUILDDIR/stockcam}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
MIN_RATIO=${MIN_RATIO:-0.5}
MIN_NORMAL_RATE=${MIN_NORMAL_RATE:-2000}
MAX_P99_MS=${MAX_P99_MS:-20}
MIN_FULL_RATE=${MIN_FULL_RATE:-1000}
BENCH_DIR=${BENCH_DIR:-/tmp}
PYTHON3=${PYTHON3:-python3}

WRK_THREADS=2
WRK_CONNS=64
WARMUP=1
SERVERS="memory normal full"

die() {
	echo "$prog: $*" >&2
	exit 2
}

[[ $DURATION =~ ^[1-9][0-9]{0,3}$ ]] ||
	die "DURATION must be a whole number of seconds (1-9999): $DURATION"
[[ $ROUNDS =~ ^[1-9][0-9]{0,2}$ ]] ||
	die "ROUNDS must be a whole number (1-999): $ROUNDS"
for v in MIN_RATIO MIN_NORMAL_RATE MAX_P99_MS MIN_FULL_RATE; do
	[[ ${!v} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$v must be a number: ${!v}"
done
[[ -d $BENCH_DIR && -w $BENCH_DIR ]] ||
	die "BENCH_DIR $BENCH_DIR: not a writable directory"
if ! command -v wrk >/dev/null 2>&1; then
	echo "$prog: wrk not found; install it with: apt-get install wrk" >&2
	exit 2
fi
command -v "$PYTHON3" >/dev/null 2>&1 ||
	die "$PYTHON3 not found (needed for the black-hole upstream)"
[[ -x $STOCKCAM_BIN ]] ||
	die "$STOCKCAM_BIN: not found or not executable (run make first)"
# Not `--help | grep -q`: with pipefail, grep quitting early can make the
# pipeline fail on SIGPIPE.
help=$("$STOCKCAM_BIN" --help 2>/dev/null || true)
[[ $help == *--store* && $help == *--source-url* ]] ||
	die "$STOCKCAM_BIN has no --store: it has no job store to measure"

tmp=$(mktemp -d "$BENCH_DIR/stockcam-store.XXXXXX")
upstream_pid=
pids=()
declare -A pid_of port_of

# stop PID: SIGTERM, 10 s to exit, then SIGKILL; reaps it.
stop() {
	local pid=$1 i

	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "$prog: pid $pid ignored SIGTERM for 10 s; SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	local rc=$? pid

	trap - EXIT INT TERM
	# wrk runs in the background (see runwrk); stop it first.
	if [[ -n ${wrk_pid:-} ]]; then
		kill -TERM "$wrk_pid" 2>/dev/null || true
		wait "$wrk_pid" 2>/dev/null || true
	fi
	for pid in ${pids[@]+"${pids[@]}"}; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in ${pids[@]+"${pids[@]}"}; do
		stop "$pid"
	done
	[[ -n $upstream_pid ]] && stop "$upstream_pid"
	rm -rf -- "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# logtail NAME: the last lines of a server's stderr, to our stderr.
logtail() {
	local err=$tmp/$1.err

	if [[ -s $err ]]; then
		echo "$prog: $1's stderr (last 20 lines):" >&2
		tail -n 20 "$err" | sed 's/^/  /' >&2
	fi
	if [[ -n ${pid_of[$1]:-} ]] && ! kill -0 "${pid_of[$1]}" 2>/dev/null; then
		echo "$prog: $1 is no longer running" >&2
	fi
}

# waitport NAME PID ERRFILE PATTERN: wait up to 10 s for PATTERN (an ERE
# ending in the port) in ERRFILE; sets $port.
waitport() {
	local name=$1 pid=$2 err=$3 pat=$4 line i

	line=
	for ((i = 0; i < 100; i++)); do
		line=$(grep -E -o -m 1 "$pat" "$err" || true)
		[[ -n $line ]] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$prog: $name exited; its stderr:" >&2
			sed 's/^/  /' "$err" >&2
			exit 2
		fi
		sleep 0.1
	done
	if [[ -z $line ]]; then
		echo "$prog: $name did not say it was listening within 10 s;" \
		    "its stderr:" >&2
		sed 's/^/  /' "$err" >&2
		exit 2
	fi
	port=${line%/}
	port=${port##*[!0-9]}
	[[ $port =~ ^[0-9]+$ && $port -gt 0 && $port -lt 65536 ]] ||
		die "$name: bad port in: $line"
}

# The black-hole upstream: accepts every connection and holds it open
# without reading or answering, so each download waits for --fetch-timeout.
: >"$tmp/upstream.err"
"$PYTHON3" -u -c '
import signal, socket, sys
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(128)
print("upstream listening on 127.0.0.1:%d" % s.getsockname()[1],
      file=sys.stderr, flush=True)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
' >"$tmp/upstream.out" 2>"$tmp/upstream.err" &
upstream_pid=$!
waitport upstream "$upstream_pid" "$tmp/upstream.err" \
    'upstream listening on 127\.0\.0\.1:[0-9]+'
upstream_port=$port
source_url="http://127.0.0.1:$upstream_port/csv/{symbol}"

# start NAME: start the server for one store on a fresh data dir.
start() {
	local name=$1 data=$tmp/$1.data err=$tmp/$1.err store

	mkdir "$data"
	case $name in
	memory) store=(--store memory) ;;
	normal) store=(--store "sqlite:$data/stockcam.db" --sync normal) ;;
	full) store=(--store "sqlite:$data/stockcam.db" --sync full) ;;
	esac
	: >"$err"
	"$STOCKCAM_BIN" --listen 127.0.0.1:0 --data-dir "$data" \
	    --log-level warn --source-url "$source_url" \
	    --fetch-workers 8 --fetch-timeout 3600 \
	    --max-pending-symbols 10000000 "${store[@]}" \
	    >"$tmp/$name.out" 2>"$err" &
	pid_of[$name]=$!
	pids+=("$!")
	waitport "$name" "$!" "$err" 'listening on http://127\.0\.0\.1:[0-9]+/'
	port_of[$name]=$port
}

# The wrk script: POST {"symbols":["S<n>"]} (n counts per wrk thread, so
# the symbols vary but are cheap to make), tally the statuses and print
# them with the p99 from done().  One line per run:
#   RESULT n202=... n429=... nother=... requests=... duration_us=...
#          p99_us=... errors=...
cat >"$tmp/post.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = {}
local counter = 0

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	n202, n429, nother = 0, 0, 0
	counter = 0
end

function request()
	counter = counter + 1
	return wrk.format(nil, nil, nil,
	    '{"symbols":["S' .. (counter % 1000) .. '"]}')
end

function response(status, headers, body)
	if status == 202 then
		n202 = n202 + 1
	elseif status == 429 then
		n429 = n429 + 1
	else
		nother = nother + 1
	end
end

function done(summary, latency, requests)
	local a, b, c = 0, 0, 0
	for _, t in ipairs(threads) do
		a = a + t:get("n202")
		b = b + t:get("n429")
		c = c + t:get("nother")
	end
	local e = summary.errors
	io.write(string.format(
	    "RESULT n202=%d n429=%d nother=%d requests=%d duration_us=%d " ..
	    "p99_us=%d errors=%d\n", a, b, c, summary.requests,
	    summary.duration, latency:percentile(99),
	    e.connect + e.read + e.write + e.timeout))
end
EOF

# runwrk NAME SECONDS: wrk against one server; leaves its output in
# $tmp/NAME.wrk and sets $rate (202s per second), $p99 (ms), $n202, $bad
# (answers other than 202) and $errs (socket errors).
wrk_pid=
runwrk() {
	local name=$1 secs=$2 out=$tmp/$1.wrk line rc

	# In the background, so that a signal to this script is acted on at
	# once (bash runs traps only between foreground commands).
	rc=0
	timeout $((secs + 30)) wrk -t "$WRK_THREADS" -c "$WRK_CONNS" \
	    -d "${secs}s" --latency -s "$tmp/post.lua" \
	    "http://127.0.0.1:${port_of[$name]}/api/jobs" >"$out" 2>&1 &
	wrk_pid=$!
	wait "$wrk_pid" || rc=$?
	wrk_pid=
	if ((rc != 0)); then
		echo "$prog: wrk against $name failed (status $rc); its output:" >&2
		sed 's/^/  /' "$out" >&2
		logtail "$name"
		exit 2
	fi
	line=$(grep -m 1 '^RESULT ' "$out") || {
		echo "$prog: no RESULT line in wrk's output for $name:" >&2
		sed 's/^/  /' "$out" >&2
		logtail "$name"
		exit 2
	}
	read -r rate p99 n202 bad errs <<<"$(awk '{
		for (i = 2; i <= NF; i++) {
			split($i, kv, "=")
			v[kv[1]] = kv[2]
		}
		if (v["duration_us"] <= 0) exit 1
		printf "%.1f %.3f %d %d %d\n",
		    v["n202"] / (v["duration_us"] / 1e6), v["p99_us"] / 1000,
		    v["n202"], v["n429"] + v["nother"], v["errors"]
	}' <<<"$line")" || die "cannot parse for $name: $line"
	if ! kill -0 "${pid_of[$name]}" 2>/dev/null; then
		echo "$prog: $name died during the benchmark" >&2
		logtail "$name"
		exit 2
	fi
}

for name in $SERVERS; do
	start "$name"
done

fs=$(df -T "$tmp" 2>/dev/null | awk 'NR == 2 { print $2 }')
echo "stockcam: $STOCKCAM_BIN (built $(date -r "$STOCKCAM_BIN" "+%F %T"))"
echo "servers:  memory  --store memory                               :${port_of[memory]}"
echo "          normal  --store sqlite:DIR/stockcam.db --sync normal :${port_of[normal]}"
echo "          full    --store sqlite:DIR/stockcam.db --sync full   :${port_of[full]}"
echo "          each with --fetch-workers 8 --fetch-timeout 3600" \
    "--max-pending-symbols 10000000"
echo "upstream: 127.0.0.1:$upstream_port accepts and never answers, so no" \
    "symbol is ever processed"
echo "data:     $tmp (${fs:-unknown} filesystem)"
echo "wrk -t $WRK_THREADS -c $WRK_CONNS -d ${DURATION}s --latency," \
    "POST /api/jobs {\"symbols\":[\"S<n>\"]}, $ROUNDS rounds each," \
    "alternating, after ${WARMUP}s warm-up each"
echo "machine:  $(nproc) cores; wrk shares them with the servers"
echo

for name in $SERVERS; do
	runwrk "$name" "$WARMUP"
	if ((n202 == 0 || bad > 0)); then
		echo "$prog: $name did not answer every POST with 202 during" \
		    "the warm-up ($n202 202s, $bad others); wrk output:" >&2
		sed 's/^/  /' "$tmp/$name.wrk" >&2
		logtail "$name"
		exit 2
	fi
done

results=$tmp/results
: >"$results"
printf '%-6s  %-7s  %10s  %9s  %9s  %7s  %7s\n' \
    round store accepted/s p99_ms 202s other sockerr
for ((r = 1; r <= ROUNDS; r++)); do
	for name in $SERVERS; do
		runwrk "$name" "$DURATION"
		printf '%-6d  %-7s  %10.1f  %9.3f  %9d  %7d  %7d\n' \
		    "$r" "$name" "$rate" "$p99" "$n202" "$bad" "$errs"
		echo "$name $rate $p99 $bad $errs" >>"$results"
	done
done

# Every accepted symbol is still queued in memory: the peak RSS shows it.
declare -A hwm_of
for name in $SERVERS; do
	hwm_of[$name]=$(awk '/^VmHWM:/ { print $2 }' \
	    "/proc/${pid_of[$name]}/status" 2>/dev/null || true)
	[[ ${hwm_of[$name]} =~ ^[0-9]+$ ]] || {
		logtail "$name"
		die "cannot read VmHWM of $name (pid ${pid_of[$name]})"
	}
done

# What the sqlite stores hold on disk (database, WAL and all), for the record.
declare -A disk_of
for name in $SERVERS; do
	disk_of[$name]=$(du -sk "$tmp/$name.data" 2>/dev/null | awk '{ print $1 }')
done

# median NAME FIELD: median of one column (2 = rate, 3 = p99) of $results.
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

ratio() {
	awk -v a="$1" -v b="$2" \
	    'BEGIN { if (b > 0) printf "%.3f\n", a / b; else print "0.000" }'
}

declare -A rate_of p99_of
echo
for name in $SERVERS; do
	rate_of[$name]=$(median "$name" 2)
	p99_of[$name]=$(median "$name" 3)
	printf '%-6s  %-7s  %10.1f  %9.3f    VmHWM %.1f MB, data dir %.1f MB\n' \
	    median "$name" "${rate_of[$name]}" "${p99_of[$name]}" \
	    "$(awk -v k="${hwm_of[$name]}" 'BEGIN { print k / 1024 }')" \
	    "$(awk -v k="${disk_of[$name]:-0}" 'BEGIN { print k / 1024 }')"
done

r_normal=$(ratio "${rate_of[normal]}" "${rate_of[memory]}")
r_full=$(ratio "${rate_of[full]}" "${rate_of[memory]}")
echo
echo "ratio sqlite-normal/memory (median accepted/s): $r_normal"
echo "ratio sqlite-full/memory   (median accepted/s): $r_full"
printf 'median p99: memory %.3f ms, sqlite-normal %.3f ms, sqlite-full %.3f ms\n' \
    "${p99_of[memory]}" "${p99_of[normal]}" "${p99_of[full]}"
for name in $SERVERS; do
	b=$(total "$name" 4)
	e=$(total "$name" 5)
	if ((b + e > 0)); then
		echo "warning: $name gave $b answers other than 202 and had $e" \
		    "socket errors (only 202s are counted)"
	fi
done
echo

n_rate=$(awk -v r="${rate_of[normal]}" 'BEGIN { printf "%.0f\n", r }')
f_rate=$(awk -v r="${rate_of[full]}" 'BEGIN { printf "%.0f\n", r }')
n_p99=$(awk -v p="${p99_of[normal]}" 'BEGIN { printf "%.2f\n", p }')
ok_ratio=$(awk -v r="$r_normal" -v m="$MIN_RATIO" 'BEGIN { print (r >= m) }')
ok_nrate=$(awk -v r="${rate_of[normal]}" -v m="$MIN_NORMAL_RATE" \
    'BEGIN { print (r >= m) }')
ok_p99=$(awk -v p="${p99_of[normal]}" -v m="$MAX_P99_MS" \
    'BEGIN { print (p < m) }')
ok_frate=$(awk -v r="${rate_of[full]}" -v m="$MIN_FULL_RATE" \
    'BEGIN { print (r >= m) }')
why="normal/memory $r_normal $( ((ok_ratio)) && echo '>=' || echo '<') $MIN_RATIO"
why+=", normal $n_rate jobs/s $( ((ok_nrate)) && echo '>=' || echo '<') $MIN_NORMAL_RATE"
why+=", normal p99 $n_p99 ms $( ((ok_p99)) && echo '<' || echo '>=') $MAX_P99_MS"
why+=", full $f_rate jobs/s $( ((ok_frate)) && echo '>=' || echo '<') $MIN_FULL_RATE"

if ((ok_ratio && ok_nrate && ok_p99 && ok_frate)); then
	echo "PASS: $why"
	exit 0
fi
failed=
((ok_ratio)) || failed+=" normal/memory ratio,"
((ok_nrate)) || failed+=" normal rate,"
((ok_p99)) || failed+=" normal p99,"
((ok_frate)) || failed+=" full rate,"
echo "FAIL: $why (failed:${failed%,})"
exit 1
