#!/usr/bin/env bash
#
# bench/jobs.sh -- one stock job of 200 symbols x 6000 rows, end to end,
# beside the seed's pipeline and the floor.
#
# Makes SYMBOLS CSVs of ROWS rows with the fixture (tests/upstream --rows
# ROWS, built here with make if need be) and serves them with nginx
# (UPSTREAM=nginx, the default when nginx is installed) or with the
# fixture itself (UPSTREAM=fixture).  For each of ROUNDS rounds it starts a
# fresh stockcam with a fresh --data-dir whose --source-url points at it.  bench/jobs_poll.py then
# POSTs one job of SYMBOLS symbols (S0001, S0002, ...) and polls
# GET /api/jobs/{id} every POLL_MS over one keep-alive connection until the
# job ends, timing each poll and reading /proc for the server's CPU time,
# VmRSS (at every poll) and VmHWM (at the end), and for the upstream's CPU
# time.  Each round must end with the job succeeded and every symbol
# succeeded; every archive is then read back by gzip -t, GNU tar, bsdtar
# (libarchive, when installed) and Python's tarfile.  With PEERS=1 (the
# default) each round also runs, on the same CSVs:
#   - the seed: bench/seed_pipeline.py, the threads + Queue + tarfile
#     program this project grew from;
#   - the floor: every CSV converted alone (stockcam csv2xml, one process
#     per core) plus the tar of the XML compressed by bench/gzfloor
#     (libdeflate at the server's level, in the archiver's slices, on
#     every core), the two times added.
# Prints every round, the per-thread CPU of the server, the medians, the
# ratios seed/stockcam and stockcam/floor, and a verdict line.  Exit status: 0 PASS, 1 FAIL, 2 could not
# run (binaries missing, a server did not start, the job did not succeed).
#
# Environment:
#   BUILDDIR       where the binaries are (default: the repository top)
#   STOCKCAM_BIN   server under test (default: $BUILDDIR/stockcam)
#   UPSTREAM_BIN   fixture upstream (default: $BUILDDIR/tests/upstream,
#                  made with `make -C $BUILDDIR tests/upstream`)
#   ROUNDS         runs, each with a fresh server and data dir (default 3)
#   SYMBOLS        symbols in the job (default 200)
#   ROWS           rows of each upstream CSV (default 6000)
#   UPSTREAM       nginx or fixture (default nginx if installed)
#   NGINX_BIN      nginx (default: on the PATH, /usr/sbin/nginx, or
#                  tests/tools/bin/nginx from scripts/quickstart.sh deps)
#   PEERS          1: also run the seed and the floor each round (default 1)
#   POLL_MS        poll interval, ms (default 50, i.e. 20 a second)
#   JOB_TIMEOUT    seconds one job may take before giving up (default 600)
#   MAX_RSS_MB     PASS needs the peak RSS (VmHWM, or a larger VmRSS sampled
#                  during the run) <= this, MiB (default 32)
#   MIN_CPU_UTIL   PASS needs median server CPU / (wall x cores) >= this
#                  (default 0.90)
#   MIN_SEED_RATIO PASS needs median seed wall / stockcam wall >= this (20)
#   MAX_FLOOR_RATIO PASS needs median stockcam wall / floor <= this (1.5)
#   MAX_P99_MS     PASS needs median p99 poll latency <= this, ms (default 20)
#   TIMELINE       1: also print each round's per-second CPU per thread group
#   BENCH_DIR      where the temporary directory goes (default /tmp)
#   PYTHON3        interpreter for jobs_poll.py (default python3)
#   STOCKCAM_ARGS  extra server options, split on white space and appended
#                  to its command line (e.g. '--store memory'; default none)
#
set -euo pipefail
export LC_ALL=C

prog=${0##*/}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

BUILDDIR=${BUILDDIR:-$top}
STOCKCAM_BIN=${STOCKCAM_BIN:-$BUILDDIR/stockcam}
UPSTREAM_BIN=${UPSTREAM_BIN:-}
ROUNDS=${ROUNDS:-3}
SYMBOLS=${SYMBOLS:-200}
ROWS=${ROWS:-6000}
# nginx: on the PATH, Debian's, or unpacked by scripts/quickstart.sh deps.
NGINX_BIN=${NGINX_BIN:-$(command -v nginx 2>/dev/null || true)}
for n in /usr/sbin/nginx "$top/tests/tools/bin/nginx"; do
	[[ -z $NGINX_BIN && -x $n ]] && NGINX_BIN=$n
done
if [[ -z ${UPSTREAM:-} ]]; then
	UPSTREAM=fixture
	[[ -n $NGINX_BIN ]] && UPSTREAM=nginx
fi
PEERS=${PEERS:-1}
POLL_MS=${POLL_MS:-50}
JOB_TIMEOUT=${JOB_TIMEOUT:-600}
MAX_RSS_MB=${MAX_RSS_MB:-32}
MIN_CPU_UTIL=${MIN_CPU_UTIL:-0.90}
MIN_SEED_RATIO=${MIN_SEED_RATIO:-20}
MAX_FLOOR_RATIO=${MAX_FLOOR_RATIO:-1.5}
MAX_P99_MS=${MAX_P99_MS:-20}
TIMELINE=${TIMELINE:-0}
BENCH_DIR=${BENCH_DIR:-/tmp}
PYTHON3=${PYTHON3:-python3}
read -r -a stockcam_args <<<"${STOCKCAM_ARGS:-}"
POLLER=$top/bench/jobs_poll.py

die() {
	echo "$prog: $*" >&2
	exit 2
}

[[ $ROUNDS =~ ^[1-9][0-9]{0,2}$ ]] ||
	die "ROUNDS must be a whole number (1-999): $ROUNDS"
[[ $SYMBOLS =~ ^[1-9][0-9]{0,3}$ ]] ||
	die "SYMBOLS must be a whole number (1-9999): $SYMBOLS"
[[ $ROWS =~ ^[0-9]{1,7}$ ]] ||
	die "ROWS must be a whole number (0-9999999): $ROWS"
[[ $POLL_MS =~ ^[1-9][0-9]{0,4}$ ]] ||
	die "POLL_MS must be a whole number of ms (1-99999): $POLL_MS"
[[ $JOB_TIMEOUT =~ ^[1-9][0-9]{0,5}$ ]] ||
	die "JOB_TIMEOUT must be a whole number of seconds: $JOB_TIMEOUT"
[[ $UPSTREAM == nginx || $UPSTREAM == fixture ]] ||
	die "UPSTREAM must be nginx or fixture: $UPSTREAM"
[[ $PEERS == 0 || $PEERS == 1 ]] || die "PEERS must be 0 or 1: $PEERS"
for v in MAX_RSS_MB MIN_CPU_UTIL MAX_P99_MS MIN_SEED_RATIO MAX_FLOOR_RATIO; do
	[[ ${!v} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$v must be a number: ${!v}"
done
[[ -d $BENCH_DIR && -w $BENCH_DIR ]] ||
	die "BENCH_DIR $BENCH_DIR: not a writable directory"
command -v "$PYTHON3" >/dev/null 2>&1 ||
	die "$PYTHON3 not found (needed for bench/jobs_poll.py)"
[[ -f $POLLER ]] || die "$POLLER: not found"
[[ -x $STOCKCAM_BIN ]] ||
	die "$STOCKCAM_BIN: not found or not executable (run make first)"
# Captured, not piped: grep -q quitting early would make --help's second
# write fail with SIGPIPE, and pipefail would take that for a failure.
help=$("$STOCKCAM_BIN" --help 2>/dev/null || true)
[[ $help == *--source-url* ]] ||
	die "$STOCKCAM_BIN has no --source-url: it does not run jobs"

cores=$(nproc)
clk_tck=$(getconf CLK_TCK)
[[ $cores =~ ^[1-9][0-9]*$ ]] || die "nproc said: $cores"
[[ $clk_tck =~ ^[1-9][0-9]*$ ]] || die "getconf CLK_TCK said: $clk_tck"

tmp=$(mktemp -d "$BENCH_DIR/stockcam-jobs.XXXXXX")
upstream_pid=
server_pid=
poller_pid=

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
	local rc=$?

	trap - EXIT INT TERM
	if [[ -n $poller_pid ]]; then
		kill -TERM "$poller_pid" 2>/dev/null || true
		wait "$poller_pid" 2>/dev/null || true
	fi
	[[ -n $server_pid ]] && stop "$server_pid"
	[[ -n $upstream_pid ]] && stop "$upstream_pid"
	rm -rf -- "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z $UPSTREAM_BIN ]]; then
	UPSTREAM_BIN=$BUILDDIR/tests/upstream
	# A check program: `make` alone does not build it.
	if ! make -C "$BUILDDIR" tests/upstream >"$tmp/make.out" 2>&1; then
		echo "$prog: make -C $BUILDDIR tests/upstream failed:" >&2
		sed 's/^/  /' "$tmp/make.out" >&2
		exit 2
	fi
fi
[[ -x $UPSTREAM_BIN ]] || die "$UPSTREAM_BIN: not found or not executable"

# waitport NAME PID ERRFILE: wait up to 10 s for "listening on
# http://127.0.0.1:PORT/" in ERRFILE; sets $port.
waitport() {
	local name=$1 pid=$2 err=$3 line i

	line=
	for ((i = 0; i < 100; i++)); do
		line=$(grep -o -m 1 'listening on http://127\.0\.0\.1:[0-9]*/' \
		    "$err" || true)
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
	port=${line##*:}
	port=${port%/}
	[[ $port =~ ^[0-9]+$ && $port -gt 0 && $port -lt 65536 ]] ||
		die "$name: bad port in: $line"
}

: >"$tmp/upstream.err" # exists before waitport greps it
"$UPSTREAM_BIN" --listen 127.0.0.1:0 --rows "$ROWS" \
    >"$tmp/upstream.out" 2>"$tmp/upstream.err" &
upstream_pid=$!
waitport upstream "$upstream_pid" "$tmp/upstream.err"
upstream_port=$port
source_url="http://127.0.0.1:$upstream_port/csv/{symbol}"

# Size of one CSV, for the record.
csv_bytes=$("$PYTHON3" -c '
import sys, urllib.request
print(len(urllib.request.urlopen(sys.argv[1], timeout=10).read()))' \
    "http://127.0.0.1:$upstream_port/csv/S0001") ||
	die "the upstream did not serve /csv/S0001"
upstream_desc="$UPSTREAM_BIN --rows $ROWS  $source_url"

# The CSVs as files, for nginx and the floor: the fixture's very bytes.
www=$tmp/www
if [[ $UPSTREAM == nginx || $PEERS == 1 ]]; then
	mkdir -p "$www/csv"
	"$PYTHON3" -c '
import sys, urllib.request
url, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(1, n + 1):
    sym = "S%04d" % i
    with urllib.request.urlopen(url + sym, timeout=30) as r, \
            open("%s/%s" % (out, sym), "wb") as f:
        f.write(r.read())' "http://127.0.0.1:$upstream_port/csv/" \
	    "$www/csv" "$SYMBOLS" || die "cannot copy the CSVs from the fixture"
fi

if [[ $UPSTREAM == nginx ]]; then
	stop "$upstream_pid"
	upstream_pid=
	[[ -x $NGINX_BIN ]] || die "UPSTREAM=nginx, but no nginx found" \
	    "(scripts/quickstart.sh deps unpacks one)"
	nginx=$NGINX_BIN
	# A free port: nginx cannot take port 0 and say which it got.
	upstream_port=$("$PYTHON3" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
	mkdir -p "$tmp/nginx"
	cat >"$tmp/nginx/nginx.conf" <<-EOF
	daemon off;
	master_process off;
	worker_processes 1;
	pid $tmp/nginx/nginx.pid;
	error_log $tmp/nginx/error.log warn;
	events { worker_connections 1024; }
	http {
		access_log off;
		client_body_temp_path $tmp/nginx/body;
		proxy_temp_path $tmp/nginx/proxy;
		fastcgi_temp_path $tmp/nginx/fastcgi;
		uwsgi_temp_path $tmp/nginx/uwsgi;
		scgi_temp_path $tmp/nginx/scgi;
		sendfile on;
		keepalive_requests 100000;
		server {
			listen 127.0.0.1:$upstream_port;
			location /csv/ { root $www; default_type text/csv; }
		}
	}
	EOF
	"$nginx" -p "$tmp/nginx" -e "$tmp/nginx/error.log" \
	    -c "$tmp/nginx/nginx.conf" >"$tmp/nginx/out" 2>&1 &
	upstream_pid=$!
	source_url="http://127.0.0.1:$upstream_port/csv/{symbol}"
	for ((i = 0; i < 100; i++)); do
		"$PYTHON3" -c '
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2).read()' \
		    "http://127.0.0.1:$upstream_port/csv/S0001" \
		    2>/dev/null && break
		kill -0 "$upstream_pid" 2>/dev/null || {
			echo "$prog: nginx exited:" >&2
			sed 's/^/  /' "$tmp/nginx/out" "$tmp/nginx/error.log" >&2
			exit 2
		}
		sleep 0.1
	done
	((i < 100)) || die "nginx did not serve /csv/S0001 within 10 s"
	upstream_desc="nginx $("$nginx" -v 2>&1 | sed 's/.*: //')"
	upstream_desc+=" serving the fixture's CSVs as files  $source_url"
fi

# The server's gzip level, for the floor: as given, else its default.
level=
for ((i = 0; i < ${#stockcam_args[@]}; i++)); do
	[[ ${stockcam_args[i]} == --gzip-level ]] &&
		level=${stockcam_args[i + 1]:-}
	[[ ${stockcam_args[i]} == --gzip-level=* ]] &&
		level=${stockcam_args[i]#*=}
done
[[ -z $level ]] && level=${STOCKCAM_GZIP_LEVEL:-}
[[ -z $level ]] && level=$(sed -n 's/.*--gzip-level .*(\([0-9]*\))$/\1/p' \
    <<<"$help")
GZFLOOR_BIN=${GZFLOOR_BIN:-$BUILDDIR/bench/gzfloor}
SEED=$top/bench/seed_pipeline.py
if [[ $PEERS == 1 ]]; then
	[[ $level =~ ^[0-9]+$ ]] || die "cannot tell the server's gzip level"
	[[ -x $GZFLOOR_BIN ]] || die "$GZFLOOR_BIN: not found (stockcam" \
	    "built without libdeflate? PEERS=0 skips the floor)"
	[[ -f $SEED ]] || die "$SEED: not found"
fi

interval=$(awk -v m="$POLL_MS" 'BEGIN { printf "%.3f\n", m / 1000 }')

echo "stockcam: $STOCKCAM_BIN (built $(date -r "$STOCKCAM_BIN" "+%F %T"))"
echo "upstream: $upstream_desc ($csv_bytes bytes per symbol)"
echo "job:      $SYMBOLS symbols (S0001...), polled every $POLL_MS ms" \
    "over one keep-alive connection"
echo "machine:  $cores cores (nproc), CLK_TCK $clk_tck; $ROUNDS rounds," \
    "each with a fresh server and data dir"
echo "note:     the upstream and the poller run on the same cores as the" \
    "server; their CPU is shown apart (up_cpu, poll_cpu)"
echo

results=$tmp/results
: >"$results"

# What jobs_poll.py reports, one variable per key (set by round()).
result_keys="job wall_s server_s cpu_s up_cpu_s self_cpu_s box_cpu_s hwm_kb
    rss_max_kb polls late reconnects p50_ms p99_ms max_ms json_bytes"
v_job='' v_wall_s='' v_server_s='' v_cpu_s='' v_up_cpu_s='' v_self_cpu_s=''
v_box_cpu_s=''
v_hwm_kb='' v_rss_max_kb='' v_polls='' v_late='' v_reconnects='' v_p50_ms=''
v_p99_ms='' v_max_ms='' v_json_bytes=''

# verify_archives WHO DIR N: every .tgz in DIR reads back whole with
# gzip -t, GNU tar, bsdtar (if installed) and Python's tarfile, and they
# hold N files in all; exits 2 otherwise.
verify_archives() {
	local who=$1 dir=$2 want=$3 f n total=0

	for f in "$dir"/*.tgz; do
		[[ -f $f ]] || continue
		gzip -t "$f" 2>"$tmp/verify.err" &&
		    n=$(tar -tzf "$f" 2>>"$tmp/verify.err" | grep -vc '/$') &&
		    { ! command -v bsdtar >/dev/null ||
		    [[ $(bsdtar -tzf "$f" 2>>"$tmp/verify.err" |
		    grep -vc '/$') == "$n" ]]; } &&
		    [[ $("$PYTHON3" -c '
import sys, tarfile
with tarfile.open(sys.argv[1], "r:gz") as tf:
    print(sum(1 for m in tf if m.isfile() and tf.extractfile(m).read() is not None))' \
		    "$f" 2>>"$tmp/verify.err") == "$n" ]] || {
			echo "$prog: $who's ${f##*/} does not read back:" >&2
			sed 's/^/  /' "$tmp/verify.err" >&2
			exit 2
		}
		total=$((total + n))
	done
	((total == want)) ||
		die "$who's archives hold $total files, not $want"
}

# run_seed R: the seed's pipeline on the same upstream; sets seed_s and
# seed_bytes.
run_seed() {
	local dir=$tmp/seed.$1 line

	mkdir "$dir"
	# shellcheck disable=SC2046  # the symbols, one word each
	line=$("$PYTHON3" "$SEED" --source-url "$source_url" --out "$dir" \
	    $(seq -f 'S%04g' 1 "$SYMBOLS") 2>"$tmp/seed.err" | tail -n 1) || {
		echo "$prog: the seed's pipeline failed:" >&2
		sed 's/^/  /' "$tmp/seed.err" >&2
		exit 2
	}
	seed_s=$(sed -n 's/.* wall_s=\([0-9.]*\).*/\1/p' <<<"$line")
	seed_bytes=$(sed -n 's/.* bytes=\([0-9]*\) .*/\1/p' <<<"$line")
	[[ -n $seed_s && -n $seed_bytes ]] || die "the seed said: $line"
	verify_archives "the seed" "$dir" "$SYMBOLS"
	rm -rf -- "$dir"
}

# run_floor R: every CSV converted alone (one process per core) and the
# tar of the XML compressed by gzfloor on every core; sets conv_s, gz_s,
# floor_s.
run_floor() {
	local dir=$tmp/floor.$1 t0 t1 per

	mkdir -p "$dir/xml"
	per=$(((SYMBOLS + cores - 1) / cores))
	t0=$(date +%s.%N)
	printf '%s\n' "$www"/csv/* | xargs -P "$cores" -n "$per" \
	    "$STOCKCAM_BIN" csv2xml --out-dir "$dir/xml" ||
		die "stockcam csv2xml failed on the floor's CSVs"
	t1=$(date +%s.%N)
	conv_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }')
	tar -cf "$dir/xml.tar" -C "$dir/xml" . ||
		die "cannot tar the floor's XML"
	rm -rf -- "$dir/xml"
	gz_s=$("$GZFLOOR_BIN" -l "$level" -t "$cores" -r 3 "$dir/xml.tar" |
	    awk '$1 == "gzfloor:" { print $6 }')
	[[ -n $gz_s ]] || die "$GZFLOOR_BIN failed"
	floor_s=$(awk -v a="$conv_s" -v b="$gz_s" \
	    'BEGIN { printf "%.3f\n", a + b }')
	rm -rf -- "$dir"
}

# round R: one fresh server, one job; appends a line to $results.
round() {
	local r=$1 data=$tmp/data.$1 err=$tmp/server.$1.err line rc

	mkdir "$data"
	: >"$err"
	"$STOCKCAM_BIN" --listen 127.0.0.1:0 --data-dir "$data" \
	    --log-level warn --source-url "$source_url" \
	    --max-symbols "$SYMBOLS" ${stockcam_args[@]+"${stockcam_args[@]}"} \
	    >"$tmp/server.$r.out" 2>"$err" &
	server_pid=$!
	waitport stockcam "$server_pid" "$err"

	# In the background, so that a signal to this script is acted on at
	# once (bash runs traps only between foreground commands).
	rc=0
	"$PYTHON3" "$POLLER" --port "$port" \
	    --server-pid "$server_pid" --upstream-pid "$upstream_pid" \
	    --symbols "$SYMBOLS" --interval "$interval" \
	    --timeout "$JOB_TIMEOUT" --clk-tck "$clk_tck" \
	    --lat-file "$tmp/lat.$r" --threads-file "$tmp/threads.$r" \
	    --timeline-file "$tmp/timeline.$r" --job-file "$tmp/job.$r" \
	    >"$tmp/poll.$r.out" 2>"$tmp/poll.$r.err" &
	poller_pid=$!
	wait "$poller_pid" || rc=$?
	poller_pid=
	line=$(cat "$tmp/poll.$r.out")
	if ((rc != 0)); then
		if ((rc == 3)); then
			echo "$prog: round $r: the job did not succeed:" >&2
		else
			echo "$prog: round $r: the run failed:" >&2
		fi
		sed 's/^/  /' "$tmp/poll.$r.err" >&2
		if [[ -s $err ]]; then
			echo "$prog: the server's stderr:" >&2
			tail -n 20 "$err" | sed 's/^/  /' >&2
		fi
		kill -0 "$server_pid" 2>/dev/null ||
			echo "$prog: the server is no longer running" >&2
		exit 2
	fi

	stop "$server_pid"
	server_pid=
	verify_archives "stockcam" "$data/archives" "$SYMBOLS"
	arch_bytes=$(cat "$data"/archives/*.tgz | wc -c)
	rm -rf -- "$data"
	if [[ $PEERS == 1 ]]; then
		run_seed "$r"
		run_floor "$r"
	fi

	# Turn "k=v k=v ..." into the shell variables v_k.
	local kv k v
	for k in $result_keys; do
		printf -v "v_$k" '%s' ""
	done
	for kv in $line; do
		k=${kv%%=*}
		v=${kv#*=}
		[[ " $result_keys " == *[[:space:]]"$k"[[:space:]]* &&
		    $v =~ ^[-0-9.a-z]+$ ]] ||
			die "round $r: bad result field from the poller: $kv"
		printf -v "v_$k" '%s' "$v"
	done
	for k in $result_keys; do
		v=v_$k
		[[ -n ${!v} ]] || die "round $r: the poller gave no $k: $line"
	done
}

printf '%-5s  %7s  %6s  %6s  %6s  %6s  %5s  %6s  %6s  %6s  %5s  %6s  %6s  %6s\n' \
    round wall_s sym/s hwm_MB rss_MB cpu_s util up_cpu poll_c others \
    polls p50_ms p99_ms max_ms
for ((r = 1; r <= ROUNDS; r++)); do
	round "$r"
	# others: CPU the rest of the machine used meanwhile (all busy CPU
	# time in /proc/stat less the server, the upstream and the poller).
	read -r sps util hwm_mb rss_mb others <<<"$(awk -v n="$SYMBOLS" \
	    -v w="$v_wall_s" -v c="$v_cpu_s" -v k="$cores" -v h="$v_hwm_kb" \
	    -v m="$v_rss_max_kb" -v b="$v_box_cpu_s" -v u="$v_up_cpu_s" \
	    -v p="$v_self_cpu_s" 'BEGIN {
		o = b - c - u - p
		if (o < 0) o = 0
		printf "%.1f %.3f %.2f %.2f %.2f\n", n / w, c / (w * k),
		    h / 1024, m / 1024, o }')"
	printf '%-5d  %7.3f  %6.1f  %6.2f  %6.2f  %6.2f  %5.3f  %6.2f  %6.2f' \
	    "$r" "$v_wall_s" "$sps" "$hwm_mb" "$rss_mb" "$v_cpu_s" "$util" \
	    "$v_up_cpu_s" "$v_self_cpu_s"
	printf '  %6.2f  %5d  %6.2f  %6.2f  %6.2f\n' \
	    "$others" "$v_polls" "$v_p50_ms" "$v_p99_ms" "$v_max_ms"
	# Where the server's CPU went, by thread name (fetch-0, fetch-1, ...
	# as fetch-*): CPU seconds and, in brackets, how many threads.
	awk '$1 >= 0.01 {
		n = $0
		sub(/^[^ ]+ [^ ]+ /, "", n)
		s = s (s == "" ? "" : ", ") sprintf("%s %.2f", n, $1)
		if ($2 > 0) s = s " [" $2 "]"
	    } END { print "       server CPU by thread (s): " s }' \
	    "$tmp/threads.$r" | fold -s -w 100 | sed '2,$s/^/         /'
	# The slowest polls, with the time into the run they were sent at.
	sort -k2,2gr "$tmp/lat.$r" |
	    awk 'NR <= 3 { s = s (s == "" ? "" : ", ") sprintf("%.1f ms at %.2f s (%d done)", $2, $1, $3) }
		END { print "       slowest polls: " s }'
	echo "       job $v_job; the last GET /api/jobs/$v_job reply was" \
	    "$v_json_bytes bytes"
	if [[ $v_late != 0 || $v_reconnects != 0 ]]; then
		echo "       poller: $v_late slots skipped (behind schedule)," \
		    "$v_reconnects reconnects"
	fi
	if [[ $TIMELINE == 1 ]]; then
		echo "       timeline (t_s: % of one core per thread group):"
		sed 's/^/         /' "$tmp/timeline.$r"
	fi
	if [[ $PEERS == 1 ]]; then
		read -r seed_ratio floor_ratio <<<"$(awk -v w="$v_wall_s" \
		    -v s="$seed_s" -v f="$floor_s" \
		    'BEGIN { printf "%.2f %.3f\n", s / w, w / f }')"
		printf '       seed: %.2f s, %s bytes of archives (stockcam: %s)' \
		    "$seed_s" "$seed_bytes" "$arch_bytes"
		printf '; seed/stockcam %s\n' "$seed_ratio"
		printf '       floor: convert %.3f s + gzip -%s %.3f s = %.3f s;' \
		    "$conv_s" "$level" "$gz_s" "$floor_s"
		printf ' stockcam/floor %s\n' "$floor_ratio"
	else
		seed_ratio=0 floor_ratio=0 seed_s=0 floor_s=0
	fi
	echo "$r $v_wall_s $sps $v_hwm_kb $v_rss_max_kb $v_cpu_s $util" \
	    "$v_up_cpu_s $v_self_cpu_s $v_polls $v_p50_ms $v_p99_ms" \
	    "$v_max_ms $v_server_s $others $seed_ratio $floor_ratio" \
	    "$seed_s $floor_s $arch_bytes" >>"$results"
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

wall_med=$(median 2)
sps_med=$(median 3)
hwm_med=$(median 4)
cpu_med=$(median 6)
util_med=$(median 7)
up_med=$(median 8)
poll_cpu_med=$(median 9)
p50_med=$(median 11)
p99_med=$(median 12)
max_med=$(median 13)
server_med=$(median 14)
others_med=$(median 15)
seed_ratio_med=$(median 16)
floor_ratio_med=$(median 17)
seed_med=$(median 18)
floor_med=$(median 19)
hwm_max=$(awk '$4 > m { m = $4 } END { print m + 0 }' "$results")
rss_max=$(awk '$5 > m { m = $5 } END { print m + 0 }' "$results")
# The kernel folds per-thread RSS counts into VmHWM lazily, so a sampled
# VmRSS can be a little above the VmHWM read at the end: take the larger.
peak_kb=$((hwm_max > rss_max ? hwm_max : rss_max))
peak_mb=$(awk -v k="$peak_kb" 'BEGIN { printf "%.2f\n", k / 1024 }')
util=$(awk -v u="$util_med" 'BEGIN { printf "%.3f\n", u }')
p99=$(awk -v p="$p99_med" 'BEGIN { printf "%.2f\n", p }')

echo
printf 'median wall time:        %.3f s (POST to the poll that saw the end;' \
    "$wall_med"
printf ' the job'"'"'s own started..finished: %.3f s)\n' "$server_med"
printf 'median throughput:       %.1f symbols/s (%d symbols x %d rows)\n' \
    "$sps_med" "$SYMBOLS" "$ROWS"
printf 'peak RSS:                %s MB (the larger of the largest VmHWM,' \
    "$peak_mb"
printf ' %.2f MB, and the largest VmRSS sampled at a poll, %.2f MB;' \
    "$(awk -v k="$hwm_max" 'BEGIN { print k / 1024 }')" \
    "$(awk -v k="$rss_max" 'BEGIN { print k / 1024 }')"
printf ' median VmHWM %.2f MB)\n' \
    "$(awk -v k="$hwm_med" 'BEGIN { print k / 1024 }')"
printf 'median server CPU:       %.2f s; utilisation %s of %d cores\n' \
    "$cpu_med" "$util" "$cores"
printf 'median upstream CPU:     %.2f s (%.3f of the cores; not counted' \
    "$up_med" "$(awk -v c="$up_med" -v w="$wall_med" -v k="$cores" \
    'BEGIN { print c / (w * k) }')"
printf ' above)\n'
printf 'median poller CPU:       %.2f s (python3, also on these cores)\n' \
    "$poll_cpu_med"
printf 'median other CPU:        %.2f s (%.3f of the cores: the rest of the' \
    "$others_med" "$(awk -v c="$others_med" -v w="$wall_med" -v k="$cores" \
    'BEGIN { print c / (w * k) }')"
printf ' machine; much more than 0 means the rounds were disturbed)\n'
printf 'median poll latency:     p50 %.2f ms, p99 %s ms, max %.2f ms\n' \
    "$p50_med" "$p99" "$max_med"
if [[ $PEERS == 1 ]]; then
	printf 'median seed pipeline:    %.2f s; seed/stockcam %.2f (median of' \
	    "$seed_med" "$seed_ratio_med"
	printf ' the rounds'"'"' ratios)\n'
	printf 'median floor:            %.3f s (csv2xml on %d cores + libdeflate' \
	    "$floor_med" "$cores"
	printf ' -%s on %d cores); stockcam/floor %.3f\n' "$level" "$cores" \
	    "$floor_ratio_med"
fi
echo

ok_rss=$(awk -v k="$peak_kb" -v m="$MAX_RSS_MB" 'BEGIN { print (k <= m * 1024) }')
ok_util=$(awk -v u="$util" -v m="$MIN_CPU_UTIL" 'BEGIN { print (u >= m) }')
ok_p99=$(awk -v p="$p99" -v m="$MAX_P99_MS" 'BEGIN { print (p <= m) }')
why="peak RSS $peak_mb MB $( ((ok_rss)) && echo '<=' || echo '>') $MAX_RSS_MB"
why+=", CPU utilisation $util $( ((ok_util)) && echo '>=' || echo '<') $MIN_CPU_UTIL"
why+=", p99 poll $p99 ms $( ((ok_p99)) && echo '<=' || echo '>') $MAX_P99_MS"

pass=$((ok_rss && ok_util && ok_p99))
if [[ $PEERS == 1 ]]; then
	ok_seed=$(awk -v r="$seed_ratio_med" -v m="$MIN_SEED_RATIO" \
	    'BEGIN { print (r >= m) }')
	ok_floor=$(awk -v r="$floor_ratio_med" -v m="$MAX_FLOOR_RATIO" \
	    'BEGIN { print (r <= m) }')
	why+=", seed/stockcam $(printf %.2f "$seed_ratio_med")"
	why+=" $( ((ok_seed)) && echo '>=' || echo '<') $MIN_SEED_RATIO"
	why+=", stockcam/floor $(printf %.3f "$floor_ratio_med")"
	why+=" $( ((ok_floor)) && echo '<=' || echo '>') $MAX_FLOOR_RATIO"
	pass=$((pass && ok_seed && ok_floor))
fi
if ((pass)); then
	echo "PASS: $why"
	exit 0
fi
echo "FAIL: $why"
exit 1
