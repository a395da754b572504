#!/usr/bin/env python3
"""E2E: GET /metrics after real work (stock jobs with retried and failed
downloads, an Armstrong job, a camera stream and snapshot, a long-poll in
flight): promtool accepts it, its histograms are well formed, its labels
are route patterns (never ids), and its figures agree with /api/stats and
/api/camera read on the same connection a moment before."""

import http.client
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, Upstream, request, get_job, post_job,  # noqa: E402
                     request_json, wait_job, check_binary, check_upstream,
                     start_watchdog, stop_clean, scaled, media_type, HOST)
from camlib import Stream  # noqa: E402

t = TAP()
HERE = os.path.dirname(os.path.abspath(__file__))

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def promtool():
    """$STOCKCAM_PROMTOOL, promtool from PATH, or the one
    scripts/quickstart.sh deps unpacks into tests/tools."""
    p = os.environ.get("STOCKCAM_PROMTOOL")
    if p and os.access(p, os.X_OK):
        return p
    p = shutil.which("promtool")
    if p:
        return p
    p = os.path.normpath(os.path.join(HERE, "..", "tools", "bin", "promtool"))
    return p if os.access(p, os.X_OK) else None


class Metrics:
    """The exposition, parsed: families' types, and samples by name."""

    def __init__(self, text):
        self.text = text
        self.types = {}
        self.samples = []       # (name, {labels}, value)
        self.bad = []
        for ln in text.splitlines():
            if ln.startswith("# TYPE "):
                _, _, name, typ = ln.split(" ", 3)
                self.types[name] = typ
                continue
            if ln.startswith("#") or not ln:
                continue
            m = SAMPLE_RE.match(ln)
            if not m:
                self.bad.append(ln)
                continue
            labels = dict(LABEL_RE.findall(m.group(3) or ""))
            try:
                v = float(m.group(4))
            except ValueError:
                self.bad.append(ln)
                continue
            self.samples.append((m.group(1), labels, v))

    def get(self, name, **labels):
        """The one sample of name with (at least) these labels, or None."""
        found = [v for n, lb, v in self.samples if n == name and
                 all(lb.get(k) == w for k, w in labels.items())]
        return found[0] if len(found) == 1 else None

    def all(self, name):
        return [(lb, v) for n, lb, v in self.samples if n == name]

    def family_of(self, name):
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and \
                    self.types.get(name[:-len(suffix)]) == "histogram":
                return name[:-len(suffix)]
        return name


def fetch_pair(srv):
    """/api/stats, /api/camera, then /metrics on one keep-alive connection:
    nothing else runs in between, so the figures must agree."""
    c = http.client.HTTPConnection(HOST, srv.port, timeout=scaled(10))
    try:
        c.request("GET", "/api/stats")
        r = c.getresponse()
        stats = json.loads(r.read())
        c.request("GET", "/api/camera")
        r = c.getresponse()
        cam = json.loads(r.read())
        c.request("GET", "/metrics")
        r = c.getresponse()
        body = r.read()
        return stats, cam, r.status, r.getheader("Content-Type"), body
    finally:
        c.close()


def run_work(srv, up):
    # Two stock jobs: retried downloads (429, 500 the first time), one
    # that fails (404), and a slow one a long-poll waits on.
    st, _, body, j = post_job(srv, ["AAA", "BBB", "e429-CCC", "e500-DDD",
                                    "e404-EEE"])
    t.is_(st, 202, "stock job accepted", body[:300])
    j1 = wait_job(srv, j["id"], timeout=30) if st == 202 else None
    t.is_(j1 and j1.get("state"), "failed",
          "the job with a 404 symbol ends failed")
    st, _, body, j = request_json(srv, "POST", "/api/jobs",
                                  {"type": "armstrong", "from": 1,
                                   "to": 200000})
    t.is_(st, 202, "armstrong job accepted", body[:300])
    j2 = wait_job(srv, j["id"], timeout=30) if st == 202 else None
    t.is_(j2 and j2.get("state"), "succeeded", "armstrong job succeeds")

    # A long-poll in flight: the slow symbol's download changes nothing
    # for seconds, so a wait on the current version stays open.
    st, _, body, j = post_job(srv, ["slow-3000-ZZZ"])
    t.is_(st, 202, "slow job accepted", body[:300])
    jid = j["id"]
    cur = wait_job(srv, jid, timeout=10, pred=lambda x: any(
        s.get("state") == "fetching" for s in x.get("symbols", [])))
    result = {}

    def poll():
        result["r"] = get_job(srv, jid, wait=20, version=cur["version"])
    th = threading.Thread(target=poll)
    th.start()
    deadline = time.monotonic() + scaled(5)
    inflight = 0
    while time.monotonic() < deadline and not inflight:
        st, _, body = request(srv, "GET", "/metrics")
        inflight = Metrics(body.decode()).get(
            "stockcam_http_requests_in_flight") or 0
        if not inflight:
            time.sleep(0.05)
    t.ok(inflight >= 1, "a long-poll waiting shows in "
         "stockcam_http_requests_in_flight (%r)" % inflight)
    th.join(scaled(30))
    t.ok(not th.is_alive() and result.get("r", (0,))[0] == 200,
         "the long-poll returns once the job moves on")
    wait_job(srv, jid, timeout=20)

    # The camera: a viewer reads some frames, a snapshot.
    v = Stream(srv)
    v.headers()
    for _ in range(5):
        v.part()
    v.close()
    st, _, _ = request(srv, "GET", "/snapshot.jpg")
    t.is_(st, 200, "snapshot taken")
    # Requests of a few kinds to count: a 404, a 405, a job by id.
    request(srv, "GET", "/no/such/path/12345")
    request(srv, "PUT", "/api/jobs")
    request(srv, "GET", "/api/jobs/%d" % jid)
    # Until the camera has stopped (no viewer): its figures stand still.
    deadline = time.monotonic() + scaled(10)
    last = None
    while time.monotonic() < deadline:
        st, _, body = request(srv, "GET", "/api/camera")
        cam = json.loads(body)
        now = (cam.get("viewers"), cam.get("frames_captured"))
        if now == last and now[0] == 0:
            break
        last = now
        time.sleep(0.5)


def check_promtool(body):
    tool = promtool()
    if tool is None:
        t.skip("promtool check metrics", "promtool not found (run "
               "scripts/quickstart.sh deps)")
        return
    p = subprocess.run([tool, "check", "metrics"], input=body,
                       capture_output=True, timeout=60)
    t.ok(p.returncode == 0 and not p.stdout.strip() and
         not p.stderr.strip(), "promtool check metrics: no problem",
         "rc=%r out=%r err=%r" % (p.returncode, p.stdout[:2000],
                                  p.stderr[:2000]))


def check_shape(m):
    t.is_(m.bad, [], "every line is a comment or a well-formed sample")
    untyped = sorted({m.family_of(n) for n, _, _ in m.samples} -
                     set(m.types))
    t.is_(untyped, [], "every sample's family has a TYPE line")
    for name, typ in sorted(m.types.items()):
        if typ == "counter" and not name.endswith("_total"):
            t.ok(False, "counter %s ends in _total" % name)
    # Histograms: cumulative buckets, +Inf equal to _count.
    bad = []
    for name, typ in m.types.items():
        if typ != "histogram":
            continue
        series = {}
        for lb, v in m.all(name + "_bucket"):
            key = tuple(sorted((k, w) for k, w in lb.items() if k != "le"))
            series.setdefault(key, []).append((float(lb["le"]), v))
        for key, buckets in series.items():
            les = [le for le, _ in buckets]
            counts = [c for _, c in buckets]
            cnt = m.get(name + "_count", **dict(key))
            if les != sorted(les) or not math.isinf(les[-1]) or \
                    counts != sorted(counts) or counts[-1] != cnt:
                bad.append((name, key, buckets, cnt))
    t.is_(bad, [], "every histogram's buckets are cumulative and +Inf "
          "equals its _count")
    routes = {lb.get("route") for lb, _ in
              m.all("stockcam_http_requests_total")}
    bad_routes = [r for r in routes if r != "none" and
                  (not r.startswith("/") or re.search(r"/\d", r))]
    t.is_(bad_routes, [], "route labels are patterns, never ids (%d "
          "routes)" % len(routes))
    t.ok("/api/jobs/{id}" in routes, "a job read by id is counted under "
         "/api/jobs/{id}", sorted(routes))
    t.ok(m.get("stockcam_http_requests_total", method="GET", route="none",
               code="404"), "a 404 for no route is counted under none")
    t.ok(m.get("stockcam_http_requests_total", method="PUT",
               route="/api/jobs", code="405"),
         "a 405 is counted under the route's pattern")
    # Each route's duration count is the sum of its requests.
    diff = []
    for r in routes:
        total = sum(v for lb, v in m.all("stockcam_http_requests_total")
                    if lb.get("route") == r)
        n = m.get("stockcam_http_request_duration_seconds_count", route=r)
        if r != "none" and n != total:
            diff.append((r, total, n))
    t.is_(diff, [], "each route's duration histogram counts its requests")


def check_work(m):
    g = m.get
    step = "stockcam_symbol_step_duration_seconds_count"
    # 6 downloads (5 + the slow one), 5 conversions and archives (the
    # 404 ends at its download).
    t.is_((g(step, step="fetch"), g(step, step="convert"),
           g(step, step="archive")), (6.0, 5.0, 5.0),
          "symbol step histograms: 6 downloads, 5 conversions, 5 archived")
    t.ok((g("stockcam_fetch_retries_total", reason="rate_limited") or 0) >= 1
         and (g("stockcam_fetch_retries_total", reason="upstream_error") or
              0) >= 1, "fetch retries counted by reason (429, 500)")
    t.is_((g("stockcam_jobs_finished_total", type="stock",
             outcome="failed"),
           g("stockcam_jobs_finished_total", type="stock",
             outcome="succeeded"),
           g("stockcam_jobs_finished_total", type="armstrong",
             outcome="succeeded")), (1.0, 1.0, 1.0),
          "jobs finished by type and outcome")
    t.is_((g("stockcam_job_duration_seconds_count", type="stock"),
           g("stockcam_job_duration_seconds_count", type="armstrong")),
          (2.0, 1.0), "job durations observed by type")
    t.is_(g("stockcam_jobs_submitted_total", type="stock"), 2.0,
          "stock jobs submitted")
    cpu = g("stockcam_pool_queue_wait_seconds_count", pool="cpu") or 0
    t.ok(cpu >= 1, "the cpu pool's queue waits are observed (%r)" % cpu)
    t.ok((g("stockcam_camera_encode_duration_seconds_count") or 0) >= 5,
         "frame encodings observed")
    t.ok((g("stockcam_camera_frames_sent_total") or 0) >= 5,
         "frames sent to the viewer counted")
    t.ok((g("stockcam_store_commits_total") or 0) >= 1 and
         (g("stockcam_store_commit_duration_seconds_count") or 0) >= 1,
         "store commits and their latency")
    t.is_(len(m.all("stockcam_build_info")), 1, "one stockcam_build_info")


def check_agree(stats, cam, m):
    g = m.get
    reqs = sum(v for _, v in m.all("stockcam_http_requests_total"))
    # /api/stats counts itself after it is rendered: /metrics has it, and
    # the /api/camera request, more.
    t.is_(reqs, stats["requests"]["total"] + 2.0,
          "requests: the sum of stockcam_http_requests_total is "
          "/api/stats' total (+ the two requests since)")
    for cls in ("1xx", "2xx", "3xx", "4xx", "5xx"):
        n = sum(v for lb, v in m.all("stockcam_http_requests_total")
                if lb["code"][0] == cls[0])
        t.is_(n, float(stats["requests"][cls] + (2 if cls == "2xx" else 0)),
              "requests %s agree" % cls)
    pairs = [
        ("stockcam_http_connections", {}, stats["connections"]["now"]),
        ("stockcam_http_connections_accepted_total", {},
         stats["connections"]["total"]),
        ("stockcam_http_connections_refused_total", {},
         stats["connections"]["rejected"]),
        ("stockcam_jobs_created_total", {}, stats["jobs"]["created"]),
        ("stockcam_work_pending", {}, stats["symbols"]["pending"]),
        ("stockcam_symbols", {"step": "fetch"}, stats["symbols"]["fetching"]),
        ("stockcam_symbols", {"step": "convert"},
         stats["symbols"]["converting"]),
        ("stockcam_symbols", {"step": "archive"},
         stats["symbols"]["archiving"]),
        ("stockcam_symbols_finished_total", {"outcome": "succeeded"},
         stats["symbols"]["succeeded"]),
        ("stockcam_symbols_finished_total", {"outcome": "failed"},
         stats["symbols"]["failed"]),
        ("stockcam_archives_written_total", {},
         stats["archiver"]["archives"]),
        ("stockcam_archive_files_total", {}, stats["archiver"]["files"]),
        ("stockcam_archive_bytes_total", {}, stats["archiver"]["bytes"]),
        ("stockcam_archive_pending_files", {}, stats["archiver"]["pending"]),
        ("stockcam_archive_waiting_files", {}, stats["archiver"]["waiting"]),
        ("stockcam_archive_retries_total", {}, stats["archiver"]["retries"]),
        ("stockcam_downloads_paused", {},
         int(stats["archiver"]["downloads_paused"])),
        ("stockcam_job_renders_total", {}, stats["renders"]["jobs"]),
        ("stockcam_job_render_bytes_total", {}, stats["renders"]["bytes"]),
        ("stockcam_job_render_shared_total", {}, stats["renders"]["shared"]),
        ("stockcam_camera_viewers", {}, cam["viewers"]),
        ("stockcam_camera_viewers_total", {}, cam["viewers_total"]),
        ("stockcam_camera_frames_captured_total", {},
         cam["frames_captured"]),
        ("stockcam_camera_frames_encoded_total", {}, cam["frames_encoded"]),
        ("stockcam_camera_frames_dropped_total", {}, cam["frames_dropped"]),
        ("stockcam_camera_source_failures_total", {}, cam["failures"]),
        ("stockcam_camera_source_state", {"state": cam["state"]}, 1),
    ]
    for state in ("queued", "running", "succeeded", "failed", "canceled"):
        pairs.append(("stockcam_jobs", {"state": state},
                      stats["jobs"][state]))
    fields = {"threads": "stockcam_pool_threads",
              "busy": "stockcam_pool_busy_threads",
              "queued": "stockcam_pool_queued_tasks",
              "queue_depth": "stockcam_pool_queue_capacity",
              "completed": "stockcam_pool_tasks_completed_total",
              "canceled": "stockcam_pool_tasks_canceled_total",
              "rejected": "stockcam_pool_tasks_rejected_total"}
    for pool, fig in stats["pools"].items():
        for k, name in fields.items():
            pairs.append((name, {"pool": pool}, fig[k]))
    wrong = [(n, lb, g(n, **lb), want) for n, lb, want in pairs
             if g(n, **lb) != float(want)]
    t.is_(wrong, [], "%d figures of /metrics agree with /api/stats and "
          "/api/camera" % len(pairs))
    up = g("stockcam_uptime_seconds")
    t.ok(up is not None and stats["uptime_s"] <= up <= stats["uptime_s"] + 5,
         "uptime agrees (%r vs %r)" % (up, stats["uptime_s"]))


def check_process(m):
    g = m.get
    fds, maxfds = g("process_open_fds"), g("process_max_fds")
    t.ok(fds and maxfds and 3 <= fds <= maxfds,
         "process_open_fds %r within process_max_fds %r" % (fds, maxfds))
    rss = g("process_resident_memory_bytes") or 0
    t.ok(1 << 20 < rss < 1 << 32, "process_resident_memory_bytes %r" % rss)
    start = g("process_start_time_seconds") or 0
    up = g("stockcam_uptime_seconds") or 0
    t.ok(abs(time.time() - up - start) < 60,
         "process_start_time_seconds is the start (%r)" % start)
    t.ok((g("process_cpu_seconds_total") or 0) > 0, "CPU time counted")


def main():
    check_binary()
    check_upstream()
    start_watchdog(240)
    with Upstream("--rows", 200) as up:
        with Server("--source-url", up.source_url, "--batch-size", "2",
                    "--fetch-attempts", "3") as srv:
            t.group("work", run_work, srv, up)
            stats, cam, st, ctype, body = fetch_pair(srv)
            t.is_(st, 200, "GET /metrics -> 200")
            t.is_(ctype, "text/plain; version=0.0.4; charset=utf-8",
                  "Content-Type is the text format 0.0.4")
            st, hd, hbody = request(srv, "HEAD", "/metrics")
            t.ok(st == 200 and hbody == b"" and
                 media_type(hd.get("content-type")) == "text/plain",
                 "HEAD /metrics -> 200, no body")
            check_promtool(body)
            m = Metrics(body.decode("utf-8"))
            check_shape(m)
            check_work(m)
            check_agree(stats, cam, m)
            check_process(m)
            stop_clean(t, srv, "server")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
