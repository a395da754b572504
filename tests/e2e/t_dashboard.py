#!/usr/bin/env python3
"""E2E: the dashboard in a real browser. Starts the fixture upstream and
the server (test-pattern camera, a data dir of its own), runs
tests/browser/dashboard.mjs (playwright-core driving Debian's chromium)
and turns its JSON lines into TAP; kills the server with SIGKILL and
starts it again on the same port and data dir when the script asks.

Environment:
  STOCKCAM_NODE_MODULES  where playwright-core and axe-core are installed
                         (default: tests/browser/node_modules in srcdir)
  STOCKCAM_CHROMIUM      the browser (default: Debian's chromium)

Without node, chromium or the node modules every browser check is
reported as skipped. Screenshots go to $builddir/tests/screenshots/."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, Upstream, check_binary, check_upstream,  # noqa: E402
                     start_watchdog, scaled, stop_clean, forbidden_log_lines,
                     SANITIZER_LOG, SCALE, STOCKCAM_BIN)

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.normpath(os.path.join(HERE, "..", ".."))
SCRIPT = os.path.join(SRCDIR, "tests", "browser", "dashboard.mjs")
WEB = os.path.join(SRCDIR, "web")
MAX_WEIGHT = 60 * 1024
VIEWS = ["jobs", "job", "new", "archives", "camera", "server"]

# What dashboard.mjs reports, in order (its names, exactly).
CHECKS = [
    "the page loads and the connection badge turns live",
    "first contentful paint under 1000 ms",
    "the symbols form flags a bad symbol, a duplicate, too many, and names each",
    "submit 50 symbols through the form: the job's detail opens at once",
    "the 50-symbol job's progress bar reaches 100% with no reload",
    "the symbol the upstream 404s shows its error, failed first",
    "the detail's symbol filter narrows the table",
    "an XML link of the detail serves the converted file",
    "the server's problem detail is shown when it refuses a job",
    "an Armstrong search shows its range, progress and results",
    "cancel a running job from the page",
    "the jobs list shows every job newest first, with states",
    "searching by symbol finds only that job (GET /api/jobs?q=)",
    "the state filter shows only jobs in that state",
    "download an archive from the Archives view: a readable .tgz",
    "the camera image changes over two seconds",
    "the camera figures show state, fps, viewers, encode time, drops",
    "the snapshot button shows a snapshot",
    "leaving the camera view ends its stream (viewers back to 0)",
    "the server view shows health, pools and live charts from stats events",
    "the back button returns to the previous view",
    "keyboard: Tab reaches the navigation, with a visible focus outline",
    *["axe: no serious or critical violations on the %s view" % v for v in VIEWS],
    "dark mode: no serious or critical axe violations on any view",
    *["phone width 375 px: no horizontal scroll on the %s view" % v for v in VIEWS],
    "server killed: the badge shows reconnecting",
    "server restarted on the same port: the badge is live again by itself",
    "after the restart the finished job is still listed",
    "after the restart a job another client submitted is listed (reset reloads the lists)",
    "with over 100 jobs the list shows the newest 100, then older ones on request",
    "no console errors (outside the server-down window)",
    "no failed requests (outside the server-down window)",
]
SERVER_CHECKS = [
    "first server (SIGKILLed): stderr has no ERROR / sanitizer lines",
    "restarted server: SIGTERM -> exit status 0",
    "restarted server: server stderr has no ERROR / sanitizer lines",
    "screenshots of every view at desktop and phone width saved",
]

t = TAP()


def web_weight():
    files = sorted(f for f in os.listdir(WEB)
                   if f.endswith((".html", ".css", ".js")))
    return sum(os.path.getsize(os.path.join(WEB, f)) for f in files), files


def node_modules():
    return os.environ.get("STOCKCAM_NODE_MODULES") or os.path.join(
        SRCDIR, "tests", "browser", "node_modules")


def chromium():
    env = os.environ.get("STOCKCAM_CHROMIUM")
    if env:
        return env
    if os.access("/usr/lib/chromium/chromium", os.X_OK):
        return "/usr/lib/chromium/chromium"
    return shutil.which("chromium")


def skip_reason():
    if shutil.which("node") is None:
        return "node is not installed"
    if not chromium():
        return "chromium is not installed"
    mods = node_modules()
    for m in ("playwright-core", "axe-core"):
        if not os.path.isdir(os.path.join(mods, m)):
            return "%s is not in %s (npm ci in tests/browser)" % (m, mods)
    return None


def run_browser(up, data_dir, shots):
    common = ("--source-url", up.source_url, "--camera", "testpattern:320x240@10",
              "--max-symbols", "60", "--data-dir", data_dir)
    servers = [Server(*common)]
    port = servers[0].port
    argv = ["node", SCRIPT, servers[0].url, node_modules(), chromium(), shots,
            str(SCALE)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, bufsize=1)
    seen = set()
    try:
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                t.diag("dashboard.mjs: " + line.rstrip())
                continue
            if "check" in msg:
                seen.add(msg["check"])
                t.ok(msg["ok"], msg["check"], msg.get("diag"))
            elif msg.get("cmd") == "kill":
                servers[-1].proc.send_signal(signal.SIGKILL)
                servers[-1].proc.wait(scaled(10))
                proc.stdin.write("killed\n")
            elif msg.get("cmd") == "start":
                try:
                    servers.append(Server(*common, "--listen", "127.0.0.1:%d" % port))
                    proc.stdin.write("started\n")
                except Exception as e:  # the script then sees no server
                    t.diag("restart failed: %s" % e)
                    proc.stdin.write("failed\n")
            elif "diag" in msg:
                t.diag(msg["diag"])
        rc = proc.wait(scaled(60))
        if rc != 0:
            t.diag("dashboard.mjs exited %r" % rc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for name in CHECKS:
        if name not in seen:
            t.ok(False, "%s (not run)" % name)

    first = servers[0].log_lines()
    bad = forbidden_log_lines(first) + [l for l in first if any(w in l for w in SANITIZER_LOG)]
    t.ok(not bad, SERVER_CHECKS[0], "\n".join(bad[:20]))
    if len(servers) > 1:
        stop_clean(t, servers[-1], "restarted server")
    else:
        t.ok(False, SERVER_CHECKS[1] + " (never restarted)")
        t.ok(False, SERVER_CHECKS[2] + " (never restarted)")
    for s in servers:
        s.close()
    want = ["%s-%s.png" % (v, w) for v in VIEWS for w in ("desktop", "phone")]
    missing = [f for f in want if not os.path.isfile(os.path.join(shots, f))]
    t.ok(not missing, SERVER_CHECKS[3] + " in " + shots, "missing: %s" % missing)


def main():
    check_binary()
    check_upstream()
    start_watchdog(900)
    weight, files = web_weight()
    t.ok(weight < MAX_WEIGHT, "page weight: web/ HTML, CSS and JS under 60 KB",
         "%d bytes in %s" % (weight, files))
    t.diag("page weight: %d bytes in %d files" % (weight, len(files)))
    reason = skip_reason()
    if reason:
        for name in CHECKS + SERVER_CHECKS:
            t.skip(name, reason)
        return t.done()
    shots = os.path.join(os.path.dirname(os.path.abspath(STOCKCAM_BIN)),
                         "tests", "screenshots")
    shutil.rmtree(shots, ignore_errors=True)
    os.makedirs(shots)
    data_dir = tempfile.mkdtemp(prefix="stockcam-e2e-dash-")
    try:
        with Upstream("--rows", "300") as up:
            run_browser(up, data_dir, shots)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
