#!/usr/bin/env python3
"""E2E: many long-polls on one changing job. Each version of the job is
rendered once and the same bytes go to every waiter (the stats count
renderings and shared replies); /api/health stays quick meanwhile."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, Upstream, request, json_of,  # noqa: E402
                     check_binary, check_upstream, start_watchdog, scaled,
                     post_job, get_job, wait_job, JOB_DONE)

t = TAP()
check_binary()
check_upstream()
start_watchdog(240)

POLLERS = 60
SYMBOLS = 120


def stats(srv):
    st, _, body = request(srv, "GET", "/api/stats")
    j = json_of(body)
    return j if st == 200 and isinstance(j, dict) else None


def poller(srv, jid, out):
    """Long-polls by version until the job ends; records every reply."""
    version = None
    deadline = time.monotonic() + scaled(120)
    while time.monotonic() < deadline:
        try:
            st, _, body, j = get_job(srv, jid, wait=60, version=version)
        except OSError as e:
            out.append(("error", repr(e)))
            return
        if st != 200 or not isinstance(j, dict):
            out.append(("error", "status %r" % st))
            return
        out.append((j["version"], body))
        version = j["version"]
        if j.get("state") in JOB_DONE:
            return


def health_probe(srv, stop, lat):
    while not stop.is_set():
        t0 = time.monotonic()
        st, _, _ = request(srv, "GET", "/api/health", timeout=30)
        lat.append((time.monotonic() - t0, st))
        time.sleep(0.05)


with Upstream("--rows", "200") as up, \
        Server("--source-url", up.source_url, "--max-symbols", "1000",
               "--fetch-workers", "4") as srv:
    s0 = stats(srv)
    t.ok(s0 is not None and isinstance(s0.get("renders"), dict) and
         all(isinstance(s0["renders"].get(k), int)
             for k in ("jobs", "bytes", "shared")),
         "long-poll render: /api/stats has renders {jobs, bytes, shared}",
         repr(s0 and s0.get("renders")))
    syms = ["slow-30-LP%03d" % i for i in range(SYMBOLS)]
    st, _, body, j = post_job(srv, syms)
    jid = j.get("id") if isinstance(j, dict) else None
    t.ok(st == 202 and jid is not None, "long-poll render: job accepted",
         "status=%r body=%r" % (st, body[:300]))
    results = [[] for _ in range(POLLERS)]
    threads = [threading.Thread(target=poller, args=(srv, jid, results[i]),
                                daemon=True) for i in range(POLLERS)]
    stop = threading.Event()
    lat = []
    hp = threading.Thread(target=health_probe, args=(srv, stop, lat),
                          daemon=True)
    s1 = stats(srv)
    for th in threads:
        th.start()
    hp.start()
    for th in threads:
        th.join(scaled(150))
    stop.set()
    hp.join(scaled(30))
    s2 = stats(srv)
    final = wait_job(srv, jid, timeout=60)
    t.ok(final is not None and final.get("state") == "succeeded",
         "long-poll render: the job succeeds under %d long-polls" % POLLERS,
         repr(final and final.get("progress")))
    errors = [r for res in results for r in res if r[0] == "error"]
    t.ok(not errors and all(res for res in results),
         "long-poll render: every poller got replies to the end",
         repr(errors[:5]))
    replies = [r for res in results for r in res if r[0] != "error"]
    # The same version reaches every waiter as the same bytes.
    by_version = {}
    for v, body in replies:
        by_version.setdefault(v, set()).add(body)
    mixed = {v: len(b) for v, b in by_version.items() if len(b) > 1}
    t.ok(not mixed, "long-poll render: one body per version",
         "versions with several bodies: %r" % mixed)
    r1, r2 = s1["renders"], s2["renders"]
    renders = r2["jobs"] - r1["jobs"]
    shared = r2["shared"] - r1["shared"]
    nver = len(by_version)
    t.diag("%d replies over %d versions: %d renderings (%d bytes), %d shared"
           % (len(replies), nver, renders, r2["bytes"] - r1["bytes"], shared))
    # Without sharing every reply is a rendering (renders == replies).
    # A rendering unused for a second is dropped, so a very late re-poll
    # may render a version again: a little slack over one per version.
    t.ok(renders <= nver + nver // 4 + 5 and renders < len(replies) // 3,
         "long-poll render: each version rendered once (%d renderings, "
         "%d versions, %d replies)" % (renders, nver, len(replies)))
    worst = max((d for d, _ in lat), default=None)
    bad = [s for _, s in lat if s != 200]
    lat_sorted = sorted(d for d, _ in lat)
    p99 = lat_sorted[int(len(lat_sorted) * 0.99)] if lat_sorted else None
    t.diag("health during the polls: %d probes, p99 %.1f ms, worst %.1f ms"
           % (len(lat), (p99 or 0) * 1e3, (worst or 0) * 1e3))
    # HEAD takes the same shared path and sends no body.
    st, hd, body = request(srv, "GET", "/api/jobs/%d" % jid)
    sth, hdh, bodyh = request(srv, "HEAD", "/api/jobs/%d" % jid)
    t.ok(st == 200 and sth == 200 and bodyh == b"" and
         hdh.get("content-length") == str(len(body)),
         "long-poll render: HEAD of the job has GET's length and no body",
         "GET %r %d bytes, HEAD %r %r" % (st, len(body), sth, hdh))
    t.ok(lat and not bad and p99 < scaled(1.0),
         "long-poll render: /api/health answers 200 quickly throughout",
         "probes=%d bad=%r p99=%r" % (len(lat), bad[:5], p99))

t.done()
