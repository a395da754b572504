#!/usr/bin/env python3
"""E2E: stock jobs against a misbehaving upstream (tests/upstream): one
job with every fault the fixture knows plus good symbols, each symbol's
outcome, error code, attempts (matched against the upstream's request
counts); and cancellation (queued symbols never start, a running download
aborts, archived symbols stay)."""

import json
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, Upstream, request, json_of, is_int,  # noqa: E402
                     check_problem, check_binary, check_upstream, start_watchdog,
                     scaled, stop_clean, post_job, get_job, wait_job, poll,
                     job_issues, symbol_map, csv_records, xml_records, files_under,
                     JOB_DONE)

t = TAP()

ROWS = 300
ATTEMPTS = 3
MAX_DOWNLOAD = 1048576


def file_path(jid, sym):
    return "/api/jobs/%s/files/%s.xml" % (jid, urllib.parse.quote(sym, safe=""))


def submit(srv, symbols, name):
    st, hd, body, j = post_job(srv, symbols)
    ok = st == 202 and isinstance(j, dict) and is_int(j.get("id"))
    t.ok(ok, "%s: POST /api/jobs -> 202" % name, "status=%r body=%r" % (st, body[:400]))
    return j["id"] if ok else None


# symbol -> (state, code or None, attempts check, http_status or None)
#   attempts check: an int (exact), or a string ">=N"
GOOD = ["GOOD1", "GOOD2", "000002.sz", "BRK-A"]
FAULTS = {
    "e429-a":          ("succeeded", None, 2, 200),
    "e500-a":          ("succeeded", None, 2, 200),
    "ratelimit-a":     ("succeeded", None, 2, 200),
    "e404-a":          ("failed", "http_404", None, 404),
    "e503always-a":    ("failed", "upstream_error", ATTEMPTS, 503),
    "html-a":          ("failed", "not_csv_html", None, 200),
    "htmlcsv-a":       ("failed", "not_csv_html", None, 200),
    "json-a":          ("failed", "not_csv_json", None, 200),
    "jsoncsv-a":       ("failed", "not_csv_json", None, 200),
    "empty-a":         ("failed", "empty", None, 200),
    "hdronly-a":       ("failed", "header_only", None, 200),
    "notcsv-a":        ("failed", "not_csv", None, 200),
    "badcsv-a":        ("failed", "bad_csv", None, 200),
    "http09-a":        ("failed", "bad_response", 1, None),
    "trunc-a":         ("failed", "truncated", ">=1", None),
    "reset-a":         ("failed", "connection", ">=2", None),
    "endless-a":       ("failed", "too_large", None, None),
    "big-a":           ("failed", "too_large", None, None),
    "stall-a":         ("failed", "timeout", None, None),
    "slow-5000-a":     ("failed", "timeout", None, None),
}


def test_faults(up):
    with Server("--source-url", up.source_url, "--max-download-size", MAX_DOWNLOAD,
                "--fetch-timeout", "2", "--fetch-attempts", ATTEMPTS,
                "--batch-size", "1000") as srv:
        syms = GOOD[:2] + list(FAULTS) + GOOD[2:]
        up.reset()
        jid = submit(srv, syms, "fault job (%d symbols)" % len(syms))
        if jid is None:
            return
        t0 = time.monotonic()
        j = wait_job(srv, jid, timeout=40)
        el = time.monotonic() - t0
        t.ok(j is not None and j.get("state") == "failed",
             "job with failing symbols ends failed (%.1fs)" % el, json.dumps(j)[:2000])
        if j is None:
            return
        issues = job_issues(j, syms)
        t.ok(not issues, "fault job JSON is well formed", issues)
        nfail = sum(1 for v in FAULTS.values() if v[0] == "failed")
        want_prog = {"total": len(syms), "queued": 0, "running": 0, "archiving": 0,
                     "succeeded": len(syms) - nfail, "failed": nfail, "canceled": 0}
        t.is_(j.get("progress"), want_prog, "fault job progress")
        sm = symbol_map(j)
        stats = up.stats()
        counts = stats["requests"]
        for sym in syms:
            s = sm.get(sym, {})
            want_state, code, att, hs = FAULTS.get(sym, ("succeeded", None, 1, 200))
            err = s.get("error")
            got_code = err.get("code") if isinstance(err, dict) else None
            t.ok(s.get("state") == want_state and got_code == code,
                 "%s: %s%s" % (sym, want_state, " with code %s" % code if code else ""),
                 "got state=%r error=%r attempts=%r http_status=%r"
                 % (s.get("state"), err, s.get("attempts"), s.get("http_status")))
            a = s.get("attempts")
            if isinstance(att, int):
                t.is_(a, att, "%s: attempts == %d" % (sym, att))
            elif isinstance(att, str):
                t.ok(is_int(a) and a >= int(att[2:]), "%s: attempts %s" % (sym, att),
                     "attempts=%r" % (a,))
            t.ok(is_int(a) and counts.get(sym, 0) == a,
                 "%s: upstream request count equals attempts (%r)" % (sym, a),
                 "upstream saw %r request(s), job says attempts=%r" % (counts.get(sym, 0), a))
            if hs is not None:
                t.is_(s.get("http_status"), hs, "%s: http_status %d" % (sym, hs))
            if want_state == "failed":
                msg = err.get("message") if isinstance(err, dict) else None
                t.ok(isinstance(msg, str) and msg.strip(), "%s: error has a message" % sym,
                     "error=%r" % (err,))
                t.is_(s.get("archive"), None, "%s: failed symbol has no archive" % sym)
                st, hd, body = request(srv, "GET", file_path(jid, sym))
                t.is_(st, 404, "%s: no file for a failed symbol (404)" % sym)
            else:
                t.ok(isinstance(s.get("archive"), str), "%s: archived" % sym,
                     "archive=%r" % s.get("archive"))
        # details
        msg = ((sm.get("badcsv-a") or {}).get("error") or {}).get("message") or ""
        t.ok(re.search(r"\bline\b\D{0,3}2\b", msg, re.I),
             "badcsv-a: the message names line 2", "message=%r" % msg)
        for sym in ("endless-a", "big-a"):
            b = (sm.get(sym) or {}).get("bytes")
            t.ok(is_int(b) and b <= MAX_DOWNLOAD + 256 * 1024,
                 "%s: stopped downloading near --max-download-size (bytes=%r)" % (sym, b))
        # the good ones: right rows and bytes (fetched after the counts)
        for sym in GOOD + ["e429-a", "e500-a", "ratelimit-a"]:
            s = sm.get(sym, {})
            csvb = up.csv(sym)
            st, hd, body = request(srv, "GET", file_path(jid, sym))
            try:
                same = st == 200 and xml_records(body) == csv_records(csvb)
            except ValueError:
                same = False
            t.ok(same and s.get("rows") == ROWS and s.get("bytes") == len(csvb),
                 "%s: file -> 200 equal to the upstream CSV; rows and bytes right" % sym,
                 "status=%r rows=%r bytes=%r (csv %d bytes)"
                 % (st, s.get("rows"), s.get("bytes"), len(csvb)))
        ok, v, sec = up.wait_open(lambda v: v == 0, timeout=2)
        t.ok(ok, "no upstream connection left open after the job", "csv_open=%r" % v)
        left = files_under(srv.data_dir, (".xml", ".csv"))
        t.ok(not left, "no *.xml / *.csv left in the data dir", repr(left[:20]))
        t.ok(srv.alive(), "server alive after the fault job")
        stop_clean(t, srv, "fault job")


# -- cancellation ---------------------------------------------------------------------------

def delete(srv, jid, name):
    t0 = time.monotonic()
    st, hd, body = request(srv, "DELETE", "/api/jobs/%d" % jid)
    el = time.monotonic() - t0
    j = json_of(body)
    t.ok(st == 200 and isinstance(j, dict) and j.get("id") == jid and not job_issues(j),
         "%s: DELETE /api/jobs/%d -> 200 with the job" % (name, jid),
         "status=%r body=%r" % (st, body[:400]))
    return t0, el


def wait_canceled(srv, jid, t0, name, within=1.0):
    def done():
        st, _, _, j = get_job(srv, jid)
        return j if st == 200 and isinstance(j, dict) and j.get("state") in JOB_DONE else None
    j, _ = poll(done, timeout=scaled(within) + 2)
    el = time.monotonic() - t0
    t.ok(j is not None and j.get("state") == "canceled" and el <= scaled(within),
         "%s: job canceled within %.1f s of DELETE (%.2fs)" % (name, within, el),
         "last=%s" % json.dumps(j)[:800])
    return j


def test_cancel_queued(up):
    with Server("--source-url", up.source_url, "--fetch-workers", "1",
                "--per-host-connections", "1") as srv:
        up.reset()
        queued = ["cq%d" % i for i in range(1, 6)]
        syms = ["slow-1500-cq0"] + queued
        jid = submit(srv, syms, "cancel queued")
        if jid is None:
            return
        ok, _, _ = up.wait_open(lambda v: v is not None and v >= 1, timeout=5)
        t.ok(ok, "cancel queued: the first (slow) download reached the upstream")
        t0, _ = delete(srv, jid, "cancel queued")
        j = wait_canceled(srv, jid, t0, "cancel queued")
        ok, v, sec = up.wait_open(lambda v: v == 0, timeout=1)
        t.ok(ok, "cancel queued: the running download's connection closed (%.2fs)" % sec,
             "csv_open=%r" % v)
        time.sleep(2.0)  # longer than the slow symbol would have taken
        counts = up.stats()["requests"]
        started = {s: counts[s] for s in queued if counts.get(s)}
        t.ok(not started, "cancel queued: queued symbols were never requested upstream",
             "requested: %r" % started)
        j = get_job(srv, jid)[3]
        sm = symbol_map(j)
        t.is_([sm.get(s, {}).get("state") for s in syms], ["canceled"] * len(syms),
              "cancel queued: every symbol canceled")
        t.is_((j or {}).get("progress", {}).get("canceled"), len(syms),
              "cancel queued: progress.canceled == %d" % len(syms))
        t.is_([sm.get(s, {}).get("attempts") for s in queued], [0] * len(queued),
              "cancel queued: queued symbols have 0 attempts")
        left = files_under(srv.data_dir, (".xml", ".csv"))
        t.ok(not left, "cancel queued: no *.xml / *.csv left", repr(left[:10]))
        stop_clean(t, srv, "cancel queued")


def test_cancel_running(up):
    with Server("--source-url", up.source_url) as srv:
        for sym in ("stall-k1", "slow-10000-k2", "endless-k3"):
            up.reset()
            jid = submit(srv, [sym], "cancel running %s" % sym)
            if jid is None:
                continue
            ok, _, _ = up.wait_open(lambda v: v is not None and v >= 1, timeout=5)
            t.ok(ok, "cancel running %s: the download reached the upstream" % sym)
            time.sleep(0.3)
            t0, _ = delete(srv, jid, "cancel running %s" % sym)
            ok, v, sec = up.wait_open(lambda v: v == 0, timeout=2)
            t.ok(ok and sec <= scaled(1.0),
                 "cancel running %s: upstream connection dropped within 1 s (%.2fs)" % (sym, sec),
                 "csv_open=%r" % v)
            if ok and sec > 0.25:
                t.diag("cancel running %s: abort took %.2fs (contract: 100 ms)" % (sym, sec))
            j = wait_canceled(srv, jid, t0, "cancel running %s" % sym)
            t.is_(symbol_map(j).get(sym, {}).get("state"), "canceled",
                  "cancel running %s: the symbol is canceled" % sym)
        st, hd, body = request(srv, "DELETE", "/api/jobs/987654321")
        check_problem(t, "DELETE /api/jobs/987654321 (unknown)", st, hd, body, 404)
        # a finished job stays what it was
        jid = submit(srv, ["DONE1"], "finished job")
        if jid is not None:
            j = wait_job(srv, jid, timeout=10)
            t.is_((j or {}).get("state"), "succeeded", "finished job succeeded")
            st, hd, body = request(srv, "DELETE", "/api/jobs/%d" % jid)
            t.ok(st in (200, 409), "DELETE a finished job -> 200 (or 409)",
                 "status=%r body=%r" % (st, body[:300]))
            j2 = get_job(srv, jid)[3]
            t.is_((j2 or {}).get("state"), "succeeded", "a finished job stays succeeded after DELETE")
        left = files_under(srv.data_dir, (".xml", ".csv"))
        t.ok(not left, "cancel running: no *.xml / *.csv left", repr(left[:10]))
        t.ok(srv.alive(), "server alive after the cancel tests")
        stop_clean(t, srv, "cancel running")


def test_cancel_keeps_archived(up):
    with Server("--source-url", up.source_url, "--batch-size", "1") as srv:
        syms = ["ka1", "ka2", "slow-10000-ka3"]
        jid = submit(srv, syms, "cancel after archiving")
        if jid is None:
            return

        def two_done(j):
            sm = symbol_map(j)
            return j.get("state") in JOB_DONE or all(
                sm.get(s, {}).get("state") == "succeeded" for s in syms[:2])
        j = wait_job(srv, jid, timeout=8, pred=two_done)
        sm = symbol_map(j)
        t.ok(j is not None and j.get("state") == "running" and all(
            isinstance(sm.get(s, {}).get("archive"), str) for s in syms[:2]),
            "cancel after archiving: two symbols archived while the third downloads",
            json.dumps(j)[:800])
        arcs = {s: sm.get(s, {}).get("archive") for s in syms[:2]}
        t0, _ = delete(srv, jid, "cancel after archiving")
        j = wait_canceled(srv, jid, t0, "cancel after archiving")
        sm = symbol_map(j)
        t.is_([sm.get(s, {}).get("state") for s in syms], ["succeeded", "succeeded", "canceled"],
              "cancel after archiving: archived symbols stay succeeded, the other is canceled")
        t.is_({s: sm.get(s, {}).get("archive") for s in syms[:2]}, arcs,
              "cancel after archiving: archived symbols keep their archive")
        p = (j or {}).get("progress") or {}
        t.is_((p.get("succeeded"), p.get("canceled")), (2, 1),
              "cancel after archiving: progress succeeded 2, canceled 1")
        for s in syms[:2]:
            st, hd, body = request(srv, "GET", file_path(jid, s))
            try:
                same = st == 200 and xml_records(body) == csv_records(up.csv(s))
            except ValueError:
                same = False
            t.ok(same, "cancel after archiving: file %s still served, right rows" % s,
                 "status=%r" % st)
        st, _, _ = request(srv, "GET", file_path(jid, syms[2]))
        t.is_(st, 404, "cancel after archiving: no file for the canceled symbol")
        stop_clean(t, srv, "cancel after archiving")


def main():
    check_binary()
    check_upstream()
    start_watchdog(150)
    with Upstream("--rows", ROWS) as up:
        t.group("faults", test_faults, up)
        t.group("cancel queued", test_cancel_queued, up)
        t.group("cancel running", test_cancel_running, up)
        t.group("cancel keeps archived", test_cancel_keeps_archived, up)
        t.ok(up.alive(), "upstream fixture still alive")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
