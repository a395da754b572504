#!/bin/sh
# quickstart.sh - set up, build and run stockcam, or run its test suite.
#
#   scripts/quickstart.sh run [OPTION]...   install what is missing, build,
#                                           start the server (defaults)
#   scripts/quickstart.sh test              install, build, run every test:
#                                           plain, ASan+UBSan, TSan, valgrind,
#                                           a short fuzzing run and distcheck
#   scripts/quickstart.sh deps              only install missing packages
#                                           (and the browser test's node
#                                           modules in tests/browser, and
#                                           nginx for the benchmarks)
#
# Builds go to build/ (and build-asan/, build-tsan/); the source tree
# stays clean. QUICK=1 limits `test` to the plain build.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

PACKAGES="gcc make autoconf automake pkg-config \
libevent-dev libjansson-dev libcurl4-openssl-dev libxml2-dev \
libarchive-dev libturbojpeg0-dev libsqlite3-dev libcrypt-dev libssl-dev \
libdeflate-dev libpq-dev python3"
TEST_PACKAGES="valgrind libxml2-utils clang libclang-rt-14-dev chromium \
python3-jsonschema systemd openssl curl wrk libarchive-tools postgresql"

say() { printf '== %s\n' "$*" >&2; }

# find_sudo WHAT: $sudo is how to run a command as root, for WHAT.
find_sudo() {
	if [ "$(id -u)" -eq 0 ]; then
		sudo=""
	elif command -v sudo >/dev/null 2>&1; then
		sudo="sudo"
	else
		echo "quickstart: need root (or sudo) to $1" >&2
		exit 1
	fi
}

install_missing() {
	missing=""
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed'; then
			missing="$missing $p"
		fi
	done
	[ -z "$missing" ] && return 0
	say "installing:$missing"
	find_sudo "install:$missing"
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
	    --no-install-recommends $missing >/dev/null
}

# The browser test's node modules (playwright-core, axe-core), from the
# lock file: Debian's node and npm when there is no node at all, and
# `npm ci` when node_modules is missing or older than the lock file.
browser_deps() {
	if ! command -v node >/dev/null 2>&1; then
		install_missing nodejs npm
	fi
	b="$top/tests/browser"
	if [ ! -d "$b/node_modules" ] ||
	    [ "$b/package-lock.json" -nt "$b/node_modules" ]; then
		say "npm ci in tests/browser"
		(cd "$b" && npm ci --no-audit --no-fund >/dev/null)
		touch "$b/node_modules"
	fi
}

# unpack_tool PACKAGE PATH: PATH (/usr/bin/x) of Debian's PACKAGE into
# tests/tools/bin, the package itself not installed (no service of it
# starts on the machine). Nothing to do when it is there already.
unpack_tool() {
	dest="$top/tests/tools/bin/${2##*/}"
	[ -x "$dest" ] && return 0
	say "unpacking ${2##*/} (Debian's $1) into tests/tools"
	tmp=$(mktemp -d)
	# No package lists yet (a fresh image): fetch them once.
	if ! (cd "$tmp" && apt-get download "$1" >/dev/null 2>&1); then
		find_sudo "update the package lists"
		$sudo apt-get update -qq
	fi
	if ! (cd "$tmp" && apt-get download "$1" >/dev/null 2>&1); then
		rm -rf "$tmp"
		echo "quickstart: cannot download Debian's $1 package" \
		    "(for ${2##*/})" >&2
		exit 1
	fi
	dpkg-deb -x "$tmp/$1"_*.deb "$tmp/x"
	mkdir -p "$top/tests/tools/bin"
	cp "$tmp/x$2" "$dest"
	rm -rf "$tmp"
}

# promtool, for the metrics test: Debian's prometheus package holds it,
# but installing that package would also start a Prometheus server on
# the machine, so only its promtool is unpacked.
promtool_dep() {
	command -v promtool >/dev/null 2>&1 ||
	    unpack_tool prometheus /usr/bin/promtool
	# For every suite, distcheck's copy of the tree too.
	STOCKCAM_PROMTOOL=$(command -v promtool 2>/dev/null ||
	    echo "$top/tests/tools/bin/promtool")
	export STOCKCAM_PROMTOOL
}

# nginx, the upstream of bench/jobs.sh: unpacked like promtool, as the
# package would start a web server on port 80.
nginx_dep() {
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] ||
	    unpack_tool nginx /usr/sbin/nginx
}

bootstrap() {
	if [ ! -x configure ] || [ configure.ac -nt configure ] ||
	    [ Makefile.am -nt configure ] || [ m4/sc_macros.m4 -nt configure ]; then
		say "autoreconf"
		autoreconf -fi
	fi
}

# build DIR [CONFIGURE-ARG]...: configure (once) and build out of tree.
build() {
	dir=$1
	shift
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ] || [ configure -nt "$dir/Makefile" ]; then
		say "configure $dir $*"
		(cd "$dir" && "$top/configure" -q "$@")
	fi
	say "make -C $dir"
	make -s -C "$dir" -j"$jobs"
}

passed=0
failed=0

# tally LOG: adds the automake test summary in LOG to the totals.
tally() {
	p=$(sed -n 's/^# PASS: *\([0-9]*\)/\1/p' "$1" | tail -n 1)
	x=$(sed -n 's/^# XFAIL: *\([0-9]*\)/\1/p' "$1" | tail -n 1)
	f=$(sed -n 's/^# FAIL: *\([0-9]*\)/\1/p' "$1" | tail -n 1)
	xp=$(sed -n 's/^# XPASS: *\([0-9]*\)/\1/p' "$1" | tail -n 1)
	e=$(sed -n 's/^# ERROR: *\([0-9]*\)/\1/p' "$1" | tail -n 1)
	if [ -z "$p" ]; then
		# No summary at all: the suite did not run; count it failed.
		failed=$((failed + 1))
		return
	fi
	passed=$((passed + p + ${x:-0}))
	failed=$((failed + ${f:-0} + ${xp:-0} + ${e:-0}))
}

# suite NAME DIR [MAKE-ARG]...: run `make check` there, tally the result.
suite() {
	name=$1
	dir=$2
	shift 2
	log="$top/build/suite-$name.out"
	say "test suite: $name"
	if make -C "$dir" -j"$jobs" "$@" >"$log" 2>&1; then
		status=ok
	else
		status=failed
	fi
	grep -E '^(FAIL|ERROR|XPASS):' "$log" >&2 || true
	before=$failed
	tally "$log"
	# make failed with every test passing (a build error, distcheck's
	# leftover files): the suite itself counts as one failure.
	if [ "$status" = failed ] && [ "$failed" -eq "$before" ]; then
		failed=$((failed + 1))
		tail -n 20 "$log" >&2
	fi
	say "$name: $status ($(grep -E '^# (PASS|FAIL|ERROR):' "$log" |
	    tr -s ' ' | tr '\n' ' '))"
}

# fuzz DIR: a short libFuzzer run of every harness (`make fuzz` prints
# "== fuzz_NAME" before each); each harness is one test, by name.
fuzz() {
	log="$top/build/suite-fuzz.out"
	say "fuzzing: every harness for ${FUZZ_SECONDS:-15} s each"
	if make -C "$1" fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-15}" >"$log" 2>&1; then
		rc=0
	else
		rc=1
	fi
	# One line a harness: "NAME ok N runs" or "NAME FAILED".
	awk '
	/^== fuzz_/ { if (name != "") print name, "FAILED"; name = $2; next }
	/^Done [0-9]+ runs/ { if (name != "") print name, "ok", $2, "runs";
	    name = "" }
	END { if (name != "") print name, "FAILED" }' "$log" >"$log.sum"
	while read -r name verdict runs _; do
		if [ "$verdict" = ok ]; then
			passed=$((passed + 1))
			say "fuzz: $name ok ($runs runs)"
		else
			failed=$((failed + 1))
			say "fuzz: $name FAILED (see $log)"
		fi
	done <"$log.sum"
	if [ "$rc" -ne 0 ]; then
		# A build or corpus failure before any harness ran.
		if ! grep -q FAILED "$log.sum"; then
			failed=$((failed + 1))
			say "fuzz: FAILED (see $log)"
		fi
		tail -n 30 "$log" >&2
	fi
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
deps)
	install_missing $PACKAGES $TEST_PACKAGES
	browser_deps
	promtool_dep
	nginx_dep
	;;
run)
	install_missing $PACKAGES
	bootstrap
	build build
	say "starting: build/stockcam $*"
	exec build/stockcam "$@"
	;;
test)
	install_missing $PACKAGES $TEST_PACKAGES
	browser_deps
	promtool_dep
	bootstrap
	build build
	suite plain build check
	if [ "${QUICK:-0}" != 1 ]; then
		build build-asan --enable-asan --enable-debug
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		    suite asan build-asan check
		build build-tsan --enable-tsan
		# TSan cannot map its shadow memory under full address
		# randomisation on newer kernels; setarch -R turns it off.
		TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
		STOCKCAM_WRAPPER="setarch $(uname -m) -R" \
		    suite tsan build-tsan check \
		    LOG_COMPILER="setarch $(uname -m) -R"
		STOCKCAM_WRAPPER="valgrind -q --error-exitcode=99 \
--leak-check=full --errors-for-leak-kinds=definite,indirect \
--show-leak-kinds=definite,indirect" \
		    suite valgrind build check TESTS="$(cd build &&
		    make -s print-e2e-tests)"
		build build-fuzz CC=clang --enable-fuzzing
		fuzz build-fuzz
		# The tarball's copy of the tree has no node_modules.
		STOCKCAM_NODE_MODULES="$top/tests/browser/node_modules" \
		    suite distcheck build distcheck
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	;;
*)
	sed -n '2,14s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac
