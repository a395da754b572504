#!/usr/bin/env python3
"""bench/metrics.py - what a Prometheus scrape of /metrics costs.

Starts stockcam (built-in synthetic source) with JOBS finished stock jobs
in memory (one symbol each, submitted and run to their end first), then
times SAMPLES requests of GET /metrics and as many of GET /api/health on
one keep-alive connection, interleaved, and prints the median and p95 of
each, the bytes of a scrape, and the ratio of the medians. PASS when the
median scrape takes under MAX_MS (default 5 ms). Exit 0 PASS, 1 FAIL,
2 could not run.

Environment: BUILDDIR (default: the repository top), STOCKCAM_BIN, JOBS
(1000), SAMPLES (300), MAX_MS (5), BENCH_DIR (/tmp).
"""

import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(
    __file__)), ".."))
BUILDDIR = os.environ.get("BUILDDIR", TOP)
STOCKCAM = os.environ.get("STOCKCAM_BIN", os.path.join(BUILDDIR, "stockcam"))
JOBS = int(os.environ.get("JOBS", "1000"))
SAMPLES = int(os.environ.get("SAMPLES", "300"))
MAX_MS = float(os.environ.get("MAX_MS", "5"))
BENCH_DIR = os.environ.get("BENCH_DIR", "/tmp")


def die(msg):
    print("metrics.py: %s" % msg, file=sys.stderr)
    sys.exit(2)


def start(data):
    p = subprocess.Popen([STOCKCAM, "--listen", "127.0.0.1:0",
                          "--data-dir", data, "--log-level", "warn",
                          "--max-jobs", str(JOBS + 10)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    line = p.stderr.readline().decode()
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
    if not m:
        p.kill()
        die("stockcam did not start: %r" % line)
    return p, int(m.group(1))


def fill(conn, n):
    """n one-symbol stock jobs, run to their end."""
    ids = []
    i = 0
    while len(ids) < n:
        conn.request("POST", "/api/jobs", json.dumps(
            {"symbols": ["S%05d.SZ" % i]}),
            {"Content-Type": "application/json"})
        r = conn.getresponse()
        body = r.read()
        if r.status == 202:
            ids.append(json.loads(body)["id"])
            i += 1
        elif r.status in (429, 503):
            time.sleep(0.05)        # the backlog is full: let it drain
        else:
            die("POST /api/jobs -> %d %r" % (r.status, body[:200]))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        conn.request("GET", "/api/stats")
        r = conn.getresponse()
        jobs = json.loads(r.read())["jobs"]
        if jobs["succeeded"] + jobs["failed"] >= n:
            return jobs
        time.sleep(0.2)
    die("the jobs did not finish in 300 s")


def timed(conn, path):
    t0 = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    dt = (time.perf_counter() - t0) * 1000
    if r.status != 200:
        die("GET %s -> %d" % (path, r.status))
    return dt, len(body)


def main():
    if not os.access(STOCKCAM, os.X_OK):
        die("%s: not found (run make first)" % STOCKCAM)
    data = tempfile.mkdtemp(prefix="stockcam-metrics-", dir=BENCH_DIR)
    proc, port = start(data)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        jobs = fill(conn, JOBS)
        print("%d jobs in memory (%d succeeded, %d failed)" % (
            JOBS, jobs["succeeded"], jobs["failed"]))
        for _ in range(20):             # warm-up
            timed(conn, "/metrics")
            timed(conn, "/api/health")
        ms, hs = [], []
        size = 0
        for _ in range(SAMPLES):
            dt, size = timed(conn, "/metrics")
            ms.append(dt)
            dt, _ = timed(conn, "/api/health")
            hs.append(dt)
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)

    def p95(v):
        return sorted(v)[int(len(v) * 0.95) - 1]
    m_med, h_med = statistics.median(ms), statistics.median(hs)
    print("%-12s %10s %10s" % ("request", "median_ms", "p95_ms"))
    print("%-12s %10.3f %10.3f   (%d bytes)" % ("/metrics", m_med, p95(ms),
                                               size))
    print("%-12s %10.3f %10.3f" % ("/api/health", h_med, p95(hs)))
    print("ratio /metrics / /api/health (median): %.1f" % (m_med / h_med))
    if m_med < MAX_MS:
        print("PASS: median scrape %.3f ms < %g ms with %d jobs" % (
            m_med, MAX_MS, JOBS))
        return 0
    print("FAIL: median scrape %.3f ms >= %g ms with %d jobs" % (
        m_med, MAX_MS, JOBS))
    return 1


if __name__ == "__main__":
    sys.exit(main())
