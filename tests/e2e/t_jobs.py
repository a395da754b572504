#!/usr/bin/env python3
"""E2E: stock jobs against the fixture upstream (tests/upstream): submit
and validation, idempotency, the job future (schema, long-poll), listing
and cursors, converted files, archives, the data directory, concurrency,
expiry, admission, the built-in synthetic source and SIGTERM mid-job."""

import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, Upstream, RawConn, request, request_json,  # noqa: E402
                     json_of, media_type, is_int, check_problem,
                     check_binary, check_upstream, start_watchdog, scaled,
                     forbidden_log_lines, stop_clean, SANITIZER_LOG, post_job, get_job, wait_job, poll,
                     job_issues, symbol_map, csv_records, xml_records,
                     tgz_entries, files_under, all_files_under, JOB_DONE)

t = TAP()

ROWS = 300          # rows per CSV from the upstream (keeps the suite quick)
MAX_SYMBOLS = 50
MAX_BODY = 8192


def q(sym):
    return urllib.parse.quote(sym, safe="")


def file_path(jid, sym):
    return "/api/jobs/%s/files/%s.xml" % (jid, q(sym))


def log_clean(srv, name):
    lines = srv.log_lines()
    bad = forbidden_log_lines(lines) + [l for l in lines if any(w in l for w in SANITIZER_LOG)]
    t.ok(not bad, "%s: server stderr has no ERROR / sanitizer lines" % name,
         "\n".join(bad[:20]))


def submit(srv, symbols, name, **extra):
    """POST a job that must be accepted; returns its id or None."""
    st, hd, body, j = post_job(srv, symbols, **extra)
    ok = st == 202 and isinstance(j, dict) and is_int(j.get("id"))
    t.ok(ok, "%s: POST /api/jobs (%d symbols) -> 202 with a job id" % (name, len(symbols)),
         "status=%r body=%r" % (st, body[:400]))
    return j["id"] if ok else None


def run_job(srv, symbols, name, timeout=20.0, want="succeeded"):
    """Submit, wait for the end; returns the final job JSON or None."""
    jid = submit(srv, symbols, name)
    if jid is None:
        return None
    j = wait_job(srv, jid, timeout=timeout)
    t.ok(j is not None and j.get("state") == want,
         "%s: job %s ends %s" % (name, jid, want),
         "last seen: %s" % json.dumps(j)[:1500])
    return j


class Book:
    """What one server should hold: {(jid, symbol)} of succeeded symbols."""

    def __init__(self):
        self.good = set()

    def add(self, j):
        if not isinstance(j, dict):
            return
        for s in j.get("symbols") or []:
            if isinstance(s, dict) and s.get("state") == "succeeded":
                self.good.add((j["id"], s.get("symbol")))


# -- validation -------------------------------------------------------------------

def test_validation(srv):
    def bad(name, raw, want, field=None, ctype="application/json"):
        hdrs = {"Content-Type": ctype} if ctype else {}
        st, hd, body = request(srv, "POST", "/api/jobs", body=raw, headers=hdrs)
        check_problem(t, "POST /api/jobs %s" % name, st, hd, body, want)
        if field is not None:
            d = (json_of(body) or {}).get("detail") if isinstance(json_of(body), dict) else None
            t.ok(isinstance(d, str) and field in d,
                 "POST /api/jobs %s: detail names %r" % (name, field), "detail=%r" % (d,))

    bad("not JSON", b"{\"symbols\": [", 400)
    bad("JSON array", b"[\"AAPL\"]", 400)
    bad("JSON null", b"null", 400)
    bad("empty object", b"{}", 400, "symbols")
    bad("symbols a string", b"{\"symbols\": \"AAPL\"}", 400, "symbols")
    bad("symbols empty", b"{\"symbols\": []}", 400, "symbols")
    over = json.dumps({"symbols": ["S%d" % i for i in range(MAX_SYMBOLS + 1)]}).encode()
    bad("%d symbols (> --max-symbols %d)" % (MAX_SYMBOLS + 1, MAX_SYMBOLS), over, 400, "symbols")
    bad("symbol not a string", b"{\"symbols\": [\"AAPL\", 5]}", 400, "symbols")
    for s in ["", "-AAPL", ".AAPL", "=X", "A" * 33, "A B", "A/B", "A%2FB",
              "\u00c4PPL", "A\u0000B", "AAPL;rm"]:
        bad("symbol %r" % s, json.dumps({"symbols": ["MSFT", s]}).encode(), 400, "symbols")
    bad("duplicate symbols", b"{\"symbols\": [\"AAPL\", \"MSFT\", \"AAPL\"]}", 400, "symbols")
    bad("unknown field", b"{\"symbols\": [\"AAPL\"], \"colour\": 1}", 400, "colour")
    bad("unknown type", b"{\"symbols\": [\"AAPL\"], \"type\": \"bond\"}", 400, "type")
    bad("Content-Type text/plain", b"{\"symbols\": [\"AAPL\"]}", 415, ctype="text/plain")
    bad("Content-Type application/x-www-form-urlencoded", b"symbols=AAPL", 415,
        ctype="application/x-www-form-urlencoded")
    big = json.dumps({"symbols": ["S%d" % i for i in range(2000)]}).encode()
    assert len(big) > MAX_BODY
    bad("body of %d bytes (> --max-body-size %d)" % (len(big), MAX_BODY), big, 413)

    # accepted variants
    for name, raw, hdrs in [
            ("with type stock", b"{\"type\": \"stock\", \"symbols\": [\"VAL1\"]}",
             {"Content-Type": "application/json"}),
            ("with charset parameter", b"{\"symbols\": [\"VAL2\"]}",
             {"Content-Type": "application/json; charset=utf-8"}),
            ("without Content-Type", b"{\"symbols\": [\"VAL3\"]}", {}),
            ("32-char symbol and every allowed character",
             json.dumps({"symbols": ["A" * 32, "a.b_c^d=e-f9"]}).encode(),
             {"Content-Type": "application/json"}),
            ("exactly --max-symbols symbols",
             json.dumps({"symbols": ["MX%02d" % i for i in range(MAX_SYMBOLS)]}).encode(),
             {"Content-Type": "application/json"})]:
        st, hd, body = request(srv, "POST", "/api/jobs", body=raw, headers=hdrs)
        t.is_(st, 202, "POST /api/jobs %s -> 202" % name, "body=%r" % body[:300])
        j = json_of(body)
        if st == 202 and isinstance(j, dict):
            srv.jobs_seen.append(j.get("id"))
    st, _, _ = request(srv, "GET", "/api/health")
    t.is_(st, 200, "server still serves GET /api/health after the validation cases")


# -- one job, end to end ----------------------------------------------------------------

def test_job(srv, up, book):
    syms = ["AAPL", "000001.sz", "BRK-B", "a.b_c^d=e-f7", "^GSPC", "Z" * 32]
    st, hd, body, j = post_job(srv, syms)
    t.is_(st, 202, "POST /api/jobs -> 202", "body=%r" % body[:400])
    t.is_(media_type(hd.get("content-type")), "application/json",
          "POST /api/jobs reply is application/json")
    issues = job_issues(j, syms)
    t.ok(not issues, "POST /api/jobs body is a job (schema, symbols in request order)",
         issues + ["body=%r" % body[:800]])
    if not isinstance(j, dict) or not is_int(j.get("id")):
        return None
    jid = j["id"]
    srv.jobs_seen.append(jid)
    loc = hd.get("location")
    t.ok(loc is not None and (loc == "/api/jobs/%d" % jid or loc.endswith("/api/jobs/%d" % jid)),
         "POST /api/jobs: Location: /api/jobs/%d" % jid, "Location=%r" % loc)
    t.ok(j.get("state") in ("queued", "running", "succeeded"),
         "new job state is queued or running", "state=%r" % j.get("state"))
    for s in j.get("symbols") or []:
        if s.get("state") not in ("queued", "fetching", "converting", "archiving", "succeeded"):
            t.ok(False, "new job's symbols are queued or in progress", repr(s))
            break
    v0 = j.get("version")

    fin = wait_job(srv, jid, timeout=20)
    t.ok(fin is not None and fin.get("state") == "succeeded",
         "job %d ends succeeded" % jid, "last: %s" % json.dumps(fin)[:1500])
    if fin is None:
        return None
    book.add(fin)
    issues = job_issues(fin, syms)
    t.ok(not issues, "finished job JSON is well formed", issues)
    t.ok(is_int(fin.get("version")) and is_int(v0) and fin["version"] > v0,
         "job version grew (%r -> %r)" % (v0, fin.get("version")))
    ts = [fin.get("created_at"), fin.get("started_at"), fin.get("finished_at")]
    t.ok(all(isinstance(x, str) for x in ts) and ts[0] <= ts[1] <= ts[2],
         "created_at <= started_at <= finished_at, all set", "times=%r" % ts)
    t.is_(fin.get("progress"), {"total": len(syms), "queued": 0, "running": 0, "archiving": 0,
                                "succeeded": len(syms),
                                "failed": 0, "canceled": 0}, "progress of the finished job")
    counts = up.stats()["requests"]
    sm = symbol_map(fin)
    for sym in syms:
        s = sm.get(sym, {})
        t.is_(counts.get(sym), 1, "upstream got exactly 1 request for %s" % sym)
        csvb = up.csv(sym)
        nrows = len(csv_records(csvb))
        got = {k: s.get(k) for k in ("state", "attempts", "http_status", "bytes", "rows", "error")}
        want = {"state": "succeeded", "attempts": 1, "http_status": 200, "bytes": len(csvb),
                "rows": nrows, "error": None}
        t.is_(got, want, "symbol %s: succeeded, 1 attempt, HTTP 200, bytes and rows" % sym)
        t.ok(isinstance(s.get("archive"), str) and s["archive"].endswith(".tgz"),
             "symbol %s: archive names a .tgz" % sym, "archive=%r" % s.get("archive"))
        # the converted file
        st, hd, body = request(srv, "GET", file_path(jid, sym))
        t.is_(st, 200, "GET %s -> 200" % file_path(jid, sym))
        t.is_(media_type(hd.get("content-type")), "application/xml",
              "GET %s is application/xml" % file_path(jid, sym))
        try:
            same = xml_records(body) == csv_records(csvb)
            why = ""
        except ValueError as e:
            same, why = False, str(e)
        t.ok(same, "XML of %s has the upstream CSV's rows, value by value" % sym,
             why or "xml head=%r" % body[:300])

    st, hd, body, j = get_job(srv, jid)
    t.ok(st == 200 and isinstance(j, dict) and j.get("id") == jid and not job_issues(j, syms),
         "GET /api/jobs/%d -> 200, the same job" % jid, "status=%r body=%r" % (st, body[:300]))
    for path in ["/api/jobs/987654321", "/api/jobs/%d/files/NOPE.xml" % jid,
                 "/api/jobs/987654321/files/AAPL.xml"]:
        st, hd, body = request(srv, "GET", path)
        check_problem(t, "GET %s" % path, st, hd, body, 404)
    # This job's files (named PREFIX-ID-SYMBOL): the validation's jobs
    # may still run; main() checks the whole directory once all ended.
    leftovers = [f for f in files_under(srv.data_dir, (".xml", ".csv"))
                 if "-%d-" % jid in os.path.basename(f)]
    t.ok(not leftovers, "no *.xml or *.csv of the job left in the data dir after it",
         "\n".join(leftovers[:20]))
    return jid


def test_failed_job_files(srv, up, book):
    """A job with a failed symbol ends failed, its good symbol is archived,
    the failed one has no file."""
    j = run_job(srv, ["GOODF", "e404-f"], "job with one 404 symbol", want="failed")
    if j is None:
        return
    srv.jobs_seen.append(j["id"])
    srv.failed_job = j["id"]
    book.add(j)
    sm = symbol_map(j)
    t.is_(sm.get("GOODF", {}).get("state"), "succeeded", "good symbol of a failed job succeeded")
    t.ok(isinstance(sm.get("GOODF", {}).get("archive"), str),
         "good symbol of a failed job has an archive", repr(sm.get("GOODF")))
    err = sm.get("e404-f", {}).get("error") or {}
    t.is_(err.get("code"), "http_404", "404 symbol failed with code http_404", repr(sm.get("e404-f")))
    st, _, _ = request(srv, "GET", file_path(j["id"], "GOODF"))
    t.is_(st, 200, "file of the good symbol of a failed job -> 200")
    st, hd, body = request(srv, "GET", file_path(j["id"], "e404-f"))
    check_problem(t, "GET the file of a failed symbol", st, hd, body, 404)


def test_file_on_disk(srv, up, book):
    """With a big batch, a converted file waits on disk while another symbol
    is still downloading; the file endpoint serves it from there, and from
    the archive once the job is done."""
    jid = submit(srv, ["DISK1", "slow-2500-disk"], "file on disk")
    if jid is None:
        return
    srv.jobs_seen.append(jid)

    def converted(j):
        s = symbol_map(j).get("DISK1", {})
        return j.get("state") in JOB_DONE or s.get("state") in ("archiving", "succeeded")
    j = wait_job(srv, jid, timeout=10, pred=converted)
    s = symbol_map(j).get("DISK1", {}) if j else {}
    on_disk = (j is not None and j.get("state") not in JOB_DONE and s.get("archive") is None)
    xmls = files_under(srv.data_dir, (".xml",))
    t.diag("while the job runs: DISK1 state=%r archive=%r, xml files on disk: %r"
           % (s.get("state"), s.get("archive"), xmls))
    csvb = up.csv("DISK1")
    st, hd, body = request(srv, "GET", file_path(jid, "DISK1"))
    try:
        same = st == 200 and xml_records(body) == csv_records(csvb)
    except ValueError:
        same = False
    t.ok(same, "GET the file of a converted symbol while the job runs%s -> 200, right rows"
         % (" (not archived yet)" if on_disk else ""),
         "status=%r head=%r" % (st, body[:200]))
    if not on_disk:
        t.diag("note: DISK1 was archived before the job ended; the on-disk path was "
               "not observed")
    fin = wait_job(srv, jid, timeout=15)
    t.ok(fin is not None and fin.get("state") == "succeeded", "file-on-disk job ends succeeded",
         json.dumps(fin)[:800])
    book.add(fin)
    st, hd, body2 = request(srv, "GET", file_path(jid, "DISK1"))
    t.ok(st == 200 and body2 == body, "same file after the job ended (from its archive)",
         "status=%r len %d vs %d" % (st, len(body2), len(body)))


# -- idempotency ---------------------------------------------------------------------------

def test_idempotency(srv, up, book):
    key = "e2e-" + uuid.uuid4().hex
    body_a = b"{\"symbols\": [\"IDEM1\", \"IDEM2\"]}"
    body_b = b"{\"symbols\": [\"IDEM1\", \"IDEM3\"]}"
    h = {"Content-Type": "application/json", "Idempotency-Key": key}
    st1, _, b1 = request(srv, "POST", "/api/jobs", body=body_a, headers=h)
    j1 = json_of(b1)
    t.is_(st1, 202, "POST with Idempotency-Key -> 202")
    st2, _, b2 = request(srv, "POST", "/api/jobs", body=body_a, headers=h)
    j2 = json_of(b2)
    t.ok(st2 in (200, 202) and isinstance(j1, dict) and isinstance(j2, dict)
         and j1.get("id") == j2.get("id"),
         "same key, same body -> 200/202 with the same job id",
         "status=%r first=%r second=%r" % (st2, b1[:200], b2[:200]))
    st3, hd3, b3 = request(srv, "POST", "/api/jobs", body=body_b, headers=h)
    check_problem(t, "same Idempotency-Key, different body", st3, hd3, b3, 422)
    st4, _, b4 = request(srv, "POST", "/api/jobs", body=body_a,
                         headers={"Content-Type": "application/json",
                                  "Idempotency-Key": key + "-other"})
    j4 = json_of(b4)
    t.ok(st4 == 202 and isinstance(j4, dict) and isinstance(j1, dict)
         and j4.get("id") != j1.get("id"),
         "another key, same body -> 202, a new job", "status=%r body=%r" % (st4, b4[:200]))
    for j in (j1, j4):
        if isinstance(j, dict) and is_int(j.get("id")):
            srv.jobs_seen.append(j["id"])
            book.add(wait_job(srv, j["id"], timeout=15))


# -- listing -------------------------------------------------------------------------------

def list_jobs(srv, query=""):
    st, hd, body, j = request_json(srv, "GET", "/api/jobs" + query)
    return st, hd, body, j


def test_listing(srv, up, book):
    ids = []
    for i in range(5):
        j = run_job(srv, ["LIST%d" % i], "listing job %d" % i)
        if j:
            ids.append(j["id"])
            book.add(j)
            srv.jobs_seen.append(j["id"])
    st, hd, body, j = list_jobs(srv, "?limit=100")
    t.is_(st, 200, "GET /api/jobs?limit=100 -> 200")
    jobs = (j or {}).get("jobs") if isinstance(j, dict) else None
    t.ok(isinstance(jobs, list) and isinstance(j, dict) and "next_cursor" in j,
         "GET /api/jobs has 'jobs' (list) and 'next_cursor'", "body=%r" % body[:300])
    if not isinstance(jobs, list):
        return
    all_ids = [x.get("id") for x in jobs if isinstance(x, dict)]
    bad = [x for x in jobs if not isinstance(x, dict) or "symbols" in x or job_issues(x)]
    t.ok(not bad, "every listed job is a summary without 'symbols'",
         [job_issues(x) for x in bad[:3]] + [json.dumps(bad[:2])[:600]])
    t.ok(all_ids == sorted(all_ids, reverse=True), "listing is newest first (ids descending)",
         "ids=%r" % all_ids[:30])
    t.ok(set(srv.jobs_seen) <= set(all_ids),
         "listing holds every job made on this server (%d)" % len(set(srv.jobs_seen)),
         "missing=%r" % sorted(set(srv.jobs_seen) - set(all_ids)))
    t.is_(j.get("next_cursor"), None, "next_cursor is null when everything fit")
    st, _, body, jd = list_jobs(srv)
    n_default = len((jd or {}).get("jobs") or []) if isinstance(jd, dict) else -1
    t.is_(n_default, min(20, len(all_ids)), "GET /api/jobs without limit returns min(20, all) jobs")

    # pages of 2
    seen, cursor, pages, good = [], None, 0, True
    while pages < 60:
        qs = "?limit=2" + ("&cursor=" + urllib.parse.quote(cursor, safe="") if cursor else "")
        st, _, body, jp = list_jobs(srv, qs)
        pages += 1
        if st != 200 or not isinstance(jp, dict) or not isinstance(jp.get("jobs"), list):
            good = False
            t.ok(False, "GET /api/jobs%s -> 200 page" % qs, "status=%r body=%r" % (st, body[:300]))
            break
        if len(jp["jobs"]) > 2:
            good = False
        seen += [x.get("id") for x in jp["jobs"]]
        cursor = jp.get("next_cursor")
        if cursor is None:
            break
        if not isinstance(cursor, str):
            good = False
            break
    t.ok(good and seen == all_ids, "pages of ?limit=2 following next_cursor give the same list",
         "pages=%d paged=%r\nfull=%r" % (pages, seen[:40], all_ids[:40]))

    st, _, body, js = list_jobs(srv, "?state=succeeded&limit=100")
    lst = (js or {}).get("jobs") if isinstance(js, dict) else None
    t.ok(st == 200 and isinstance(lst, list) and lst
         and all(x.get("state") == "succeeded" for x in lst) and set(ids) <= {x.get("id") for x in lst},
         "?state=succeeded lists only succeeded jobs, ours included", "body=%r" % body[:400])
    if getattr(srv, "failed_job", None) is not None:
        st, _, body, jf = list_jobs(srv, "?state=failed")
        lst = (jf or {}).get("jobs") if isinstance(jf, dict) else None
        t.ok(st == 200 and isinstance(lst, list) and [x.get("id") for x in lst] == [srv.failed_job],
             "?state=failed lists exactly the failed job", "body=%r" % body[:400])
    for qs in ["?state=bogus", "?state=", "?limit=0", "?limit=101", "?limit=abc", "?limit=-1",
               "?limit=2x"]:
        st, hd, body, _ = list_jobs(srv, qs)
        check_problem(t, "GET /api/jobs%s" % qs, st, hd, body, 400)


# -- long-poll -----------------------------------------------------------------------------

def conns_now(srv):
    st, _, body = request(srv, "GET", "/api/stats")
    j = json_of(body)
    try:
        return j["connections"]["now"]
    except (TypeError, KeyError):
        return None


def test_longpoll(srv, up, book):
    jid = submit(srv, ["stall-lp"], "long-poll job")
    if jid is None:
        return
    srv.jobs_seen.append(jid)
    ok, _, _ = up.wait_open(lambda v: v is not None and v >= 1, timeout=5)
    t.ok(ok, "the stall-lp download reached the upstream")
    time.sleep(0.3)
    st, _, body, j = get_job(srv, jid)
    v = (j or {}).get("version") if isinstance(j, dict) else None
    t.ok(st == 200 and is_int(v) and j.get("state") == "running",
         "long-poll job is running with an integer version", "body=%r" % body[:300])
    if not is_int(v):
        return

    # bad waits
    for w in ["0", "61", "-1", "abc", "1.5x", ""]:
        st, hd, body = request(srv, "GET", "/api/jobs/%d?wait=%s" % (jid, w))
        check_problem(t, "GET /api/jobs/%d?wait=%s" % (jid, w), st, hd, body, 400)

    # nothing changes: returns after S seconds with the same version
    t0 = time.monotonic()
    st, _, body, j = get_job(srv, jid, wait=1, version=v)
    el = time.monotonic() - t0
    t.ok(st == 200 and isinstance(j, dict) and (
        (j.get("version") == v and 0.9 <= el <= scaled(2.5)) or
        (j.get("version") != v and el < 1.2)),
        "?wait=1&version=V on a quiet job: back after ~1 s with the same version",
        "status=%r elapsed=%.2fs version %r -> %r" % (st, el, v, (j or {}).get("version")))
    v = (j or {}).get("version", v)
    # version differs: at once
    t0 = time.monotonic()
    st, _, body, j = get_job(srv, jid, wait=60, version=v - 1)
    el = time.monotonic() - t0
    t.ok(st == 200 and isinstance(j, dict) and j.get("version") == v and el < scaled(0.5),
         "?wait=60&version=V-1: returns at once with version V",
         "status=%r elapsed=%.2fs body=%r" % (st, el, body[:200]))

    # listing by state while it runs
    st, _, body, jl = list_jobs(srv, "?state=running")
    ids = [x.get("id") for x in (jl or {}).get("jobs", [])] if isinstance(jl, dict) else []
    t.ok(st == 200 and jid in ids and all(x.get("state") == "running" for x in jl["jobs"]),
         "?state=running lists the running job (and only running ones)", "body=%r" % body[:300])

    # clients that go away during a wait
    before = conns_now(srv)
    socks = []
    try:
        for i in range(10):
            c = RawConn(srv)
            socks.append(c)
            c.send("GET /api/jobs/%d?wait=30&version=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (jid, v))
        during, _ = poll(lambda: (conns_now(srv) or 0) >= 11, timeout=2)
        t.ok(during, "10 waiting clients are counted in connections.now",
             "now=%r" % conns_now(srv))
        readable = [c for c in socks if c.readable(0)]
        t.ok(not readable, "waiting clients got no reply yet", "%d replied" % len(readable))
    finally:
        for c in socks:
            c.close()
    dropped, el = poll(lambda: conns_now(srv) == 1, timeout=3)
    t.ok(dropped, "connections.now is back to 1 after 10 waiting clients hung up (%.2fs)" % el,
         "before=%r now=%r" % (before, conns_now(srv)))
    st, _, _ = request(srv, "GET", "/api/health")
    t.is_(st, 200, "server healthy after waiting clients hung up")

    # a change wakes a waiter: cancel from another thread
    def later():
        time.sleep(0.5)
        request(srv, "DELETE", "/api/jobs/%d" % jid)
    th = threading.Thread(target=later, daemon=True)
    th.start()
    t0 = time.monotonic()
    st, _, body, j = get_job(srv, jid, wait=10, version=v)
    el = time.monotonic() - t0
    th.join(5)
    t.ok(st == 200 and isinstance(j, dict) and j.get("version") != v and el < scaled(2.5),
         "a waiting GET returns soon after the job changes (%.2fs)" % el,
         "status=%r body=%r" % (st, body[:300]))
    fin = wait_job(srv, jid, timeout=3)
    t.is_((fin or {}).get("state"), "canceled", "long-poll job ends canceled")
    # a finished job answers a wait at once
    t0 = time.monotonic()
    st, _, body, j = get_job(srv, jid, wait=5)
    el = time.monotonic() - t0
    t.ok(st == 200 and el < scaled(0.5), "?wait=5 on a finished job returns at once",
         "status=%r elapsed=%.2fs" % (st, el))


# -- concurrency ---------------------------------------------------------------------------

def test_concurrency(srv, up, book):
    njobs, nsym = 20, 20
    replies = [None] * njobs
    barrier = threading.Barrier(njobs)

    def worker(i):
        syms = ["CC%02d-%02d" % (i, k) for k in range(nsym)]
        try:
            barrier.wait(5)
            st, hd, body, j = post_job(srv, syms)
            replies[i] = (st, j, body[:200])
        except Exception as e:  # reported below as a failed POST
            replies[i] = ("exception", None, repr(e))
    ths = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(njobs)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(scaled(15))
    ids = [r[1]["id"] for r in replies if r and r[0] == 202 and isinstance(r[1], dict)]
    t.is_(len(ids), njobs, "%d concurrent POST /api/jobs -> 202 each" % njobs,
          "replies=%r" % [r for r in replies if not (r and r[0] == 202)][:3])
    t.is_(len(set(ids)), len(ids), "concurrent jobs got distinct ids")
    finals = {}
    deadline = time.monotonic() + scaled(40)
    for jid in ids:
        finals[jid] = wait_job(srv, jid, timeout=max(1, deadline - time.monotonic()))
        srv.jobs_seen.append(jid)
        book.add(finals[jid])
    states = {jid: (f or {}).get("state") for jid, f in finals.items()}
    t.ok(ids and all(s == "succeeded" for s in states.values()),
         "all %d concurrent jobs end succeeded" % njobs, "states=%r" % states)
    # every symbol's XML: right row count; a sample compared value by value
    bad = []
    lock = threading.Lock()
    todo = [(jid, s) for jid in ids for s in symbol_map(finals.get(jid))]

    def fetcher(chunk):
        for jid, s in chunk:
            st, hd, body = request(srv, "GET", file_path(jid, s), timeout=10)
            try:
                n = len(xml_records(body)) if st == 200 else -1
            except ValueError:
                n = -2
            if n != ROWS:
                with lock:
                    bad.append((jid, s, st, n))
    ths = [threading.Thread(target=fetcher, args=(todo[k::4],), daemon=True) for k in range(4)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(scaled(30))
    t.ok(len(todo) == njobs * nsym and not bad,
         "all %d files of the concurrent jobs -> 200 with %d rows" % (njobs * nsym, ROWS),
         "files=%d bad=%r" % (len(todo), bad[:10]))
    mism = []
    for jid, s in todo[::41]:
        _, _, body = request(srv, "GET", file_path(jid, s))
        try:
            if xml_records(body) != csv_records(up.csv(s)):
                mism.append(s)
        except ValueError:
            mism.append(s)
    t.ok(not mism, "a sample of the concurrent files equals the upstream CSVs", repr(mism))


# -- archives ------------------------------------------------------------------------------

def test_archives(srv, up, book):
    st, hd, body, j = request_json(srv, "GET", "/api/archives")
    arcs = j.get("archives") if isinstance(j, dict) else None
    t.ok(st == 200 and isinstance(arcs, list) and arcs,
         "GET /api/archives -> 200 with a non-empty 'archives' list", "body=%r" % body[:300])
    if not isinstance(arcs, list):
        return
    shape = [a for a in arcs if not (isinstance(a, dict) and isinstance(a.get("name"), str)
                                     and a["name"].endswith(".tgz") and is_int(a.get("bytes"))
                                     and is_int(a.get("entries")))]
    t.ok(not shape, "each archive has name (.tgz), bytes and entries", repr(shape[:3]))
    where = {}
    dup, broken, counts, names_bad = [], [], [], []
    for a in arcs:
        if not isinstance(a, dict) or not isinstance(a.get("name"), str):
            continue
        st, hd, data = request(srv, "GET", "/archives/" + q(a["name"]), timeout=20)
        try:
            ents = tgz_entries(data) if st == 200 else None
        except Exception as e:  # tarfile raises several kinds
            ents, st = None, "%r: %s" % (st, e)
        if ents is None:
            broken.append((a["name"], st))
            continue
        if len(data) != a.get("bytes") or len(ents) != a.get("entries"):
            counts.append((a["name"], a.get("bytes"), len(data), a.get("entries"), len(ents)))
        for name, content in ents.items():
            m = re.match(r"^(\d+)/(.+)\.xml$", name)
            if not m:
                names_bad.append(name)
                continue
            key = (int(m.group(1)), m.group(2))
            if key in where:
                dup.append(name)
            where[key] = (a["name"], content)
    t.ok(not broken, "every archive downloads (GET /archives/NAME -> 200) and opens with tarfile",
         repr(broken[:5]))
    t.ok(not counts, "bytes and entries of /api/archives match the downloads", repr(counts[:5]))
    t.ok(not names_bad, "every entry is named <jobid>/<symbol>.xml", repr(names_bad[:10]))
    t.ok(not dup, "no entry appears twice across archives", repr(dup[:10]))
    missing = sorted(book.good - set(where))
    t.ok(book.good and not missing,
         "every succeeded symbol (%d) is in exactly one archive" % len(book.good),
         "missing=%r" % missing[:20])
    extra = sorted(set(where) - book.good)
    t.ok(not extra, "archives hold no entries for symbols that did not succeed",
         "extra=%r" % extra[:20])
    diff = []
    for (jid, sym) in sorted(book.good & set(where))[::7]:
        st, _, body = request(srv, "GET", file_path(jid, sym))
        if st != 200 or body != where[(jid, sym)][1]:
            diff.append((jid, sym, st))
    t.ok(not diff, "archive entries equal the per-file endpoint's replies (a sample)",
         repr(diff[:10]))

    # names that must never reach outside the data dir
    parent = os.path.dirname(srv.data_dir)
    fd, secret = tempfile.mkstemp(prefix="stockcam-e2e-secret-", suffix=".tgz", dir=parent)
    os.write(fd, b"SECRET-NOT-AN-ARCHIVE")
    os.close(fd)
    sname = os.path.basename(secret)
    try:
        paths = ["/archives/..%2F" + sname, "/archives/..%2F..%2F" + sname,
                 "/archives/../" + sname, "/archives/../../" + sname,
                 "/archives/%2E%2E%2F%2E%2E%2F" + sname, "/archives/..%5C" + sname,
                 "/archives/" + q(secret), "/archives/x%2Fy.tgz", "/archives/..",
                 "/archives/nope.txt", "/archives/nope.tgz", "/archives/.tgz",
                 "/archives/%00.tgz", "/archives/..%2F..%2F..%2Fetc%2Fpasswd"]
        if arcs and isinstance(arcs[0], dict) and isinstance(arcs[0].get("name"), str):
            paths.append("/archives/" + arcs[0]["name"][:-4] + ".xml")
        for p in paths:
            st, hd, body = request(srv, "GET", p)
            t.ok(st in (400, 404) and b"SECRET" not in body and b"root:" not in body,
                 "GET %s -> 400 or 404" % p, "status=%r body=%r" % (st, body[:200]))
    finally:
        os.unlink(secret)


def test_batch_one(up):
    """--batch-size 1: one archive per file; files come out of archives."""
    with Server("--source-url", up.source_url, "--batch-size", "1") as srv:
        srv.jobs_seen = []
        syms = ["B1A", "B1B", "B1C"]
        j = run_job(srv, syms, "--batch-size 1 job")
        if j is None:
            return
        sm = symbol_map(j)
        arcs = [sm.get(s, {}).get("archive") for s in syms]
        t.ok(all(isinstance(a, str) for a in arcs) and len(set(arcs)) == 3,
             "--batch-size 1: each symbol in its own archive", "archives=%r" % arcs)
        st, _, body, jl = request_json(srv, "GET", "/api/archives")
        al = (jl or {}).get("archives") if isinstance(jl, dict) else None
        t.ok(isinstance(al, list) and len(al) == 3 and all(a.get("entries") == 1 for a in al),
             "--batch-size 1: /api/archives lists 3 archives of 1 entry", "body=%r" % body[:400])
        for s in syms:
            st, hd, body = request(srv, "GET", file_path(j["id"], s))
            try:
                same = st == 200 and xml_records(body) == csv_records(up.csv(s))
            except ValueError:
                same = False
            t.ok(same, "--batch-size 1: file %s from its archive -> 200, right rows" % s,
                 "status=%r" % st)
        leftovers = files_under(srv.data_dir, (".xml", ".csv"))
        t.ok(not leftovers, "--batch-size 1: no *.xml / *.csv left", repr(leftovers[:10]))
        stop_clean(t, srv, "--batch-size 1")


# -- expiry and admission --------------------------------------------------------------------

def test_expiry(up):
    with Server("--source-url", up.source_url, "--job-ttl", "1") as srv:
        j = run_job(srv, ["TTL1"], "--job-ttl 1")
        if j is None:
            return
        st, _, _, _ = get_job(srv, j["id"])
        t.is_(st, 200, "--job-ttl 1: the job is there right after it finished")
        gone, el = poll(lambda: get_job(srv, j["id"])[0] == 404, timeout=4, interval=0.1)
        t.ok(gone and el <= scaled(3.0), "--job-ttl 1: the finished job is 404 after ~2 s",
             "gone=%r after %.2fs" % (gone, el))
        stop_clean(t, srv, "--job-ttl 1")
    with Server("--source-url", up.source_url, "--max-jobs", "2") as srv:
        jobs = [run_job(srv, ["MJ%d" % i], "--max-jobs 2, job %d" % i) for i in range(3)]
        if not all(jobs):
            return
        sts = [get_job(srv, jj["id"])[0] for jj in jobs]
        t.is_(sts, [404, 200, 200], "--max-jobs 2: the oldest of 3 finished jobs is gone")
        st, _, body, jl = request_json(srv, "GET", "/api/jobs")
        ids = [x.get("id") for x in (jl or {}).get("jobs", [])] if isinstance(jl, dict) else None
        t.is_(ids, [jobs[2]["id"], jobs[1]["id"]], "--max-jobs 2: the listing holds the 2 newest")
        stop_clean(t, srv, "--max-jobs 2")


def test_admission(up):
    with Server("--source-url", up.source_url, "--max-pending-symbols", "5") as srv:
        syms = ["slow-4000-adm%d" % i for i in range(5)]
        jid = submit(srv, syms, "--max-pending-symbols 5, first job")
        st, hd, body, j = post_job(srv, ["ADM6"])
        check_problem(t, "--max-pending-symbols 5: a 6th pending symbol", st, hd, body, 429)
        ra = hd.get("retry-after")
        t.ok(ra is not None and ra.strip().isdigit(), "429 has Retry-After: <seconds>",
             "Retry-After=%r" % ra)
        if jid is None:
            return
        st, _, body = request(srv, "DELETE", "/api/jobs/%d" % jid)
        t.is_(st, 200, "DELETE the first job -> 200")
        fin = wait_job(srv, jid, timeout=3)
        t.is_((fin or {}).get("state"), "canceled", "first job ends canceled")
        st, hd, body, j = post_job(srv, ["ADM6"])
        t.is_(st, 202, "after the cancel, the same job is admitted (202)", "body=%r" % body[:300])
        if st == 202 and isinstance(j, dict):
            wait_job(srv, j["id"], timeout=10)
        stop_clean(t, srv, "admission")


# -- the built-in synthetic source ---------------------------------------------------------

def test_synthetic():
    with Server() as srv:
        syms = ["SYN1", "SYN2", "000001.sz"]
        j = run_job(srv, syms, "synthetic source")
        if j is None:
            return
        counts = {}
        for s in syms:
            st, hd, body = request(srv, "GET", file_path(j["id"], s))
            try:
                n = len(xml_records(body)) if st == 200 else None
            except ValueError:
                n = None
            counts[s] = n
            t.ok(n is not None and n > 100, "synthetic %s: XML with > 100 rows" % s,
                 "status=%r rows=%r" % (st, n))
            st, hd, csvb = request(srv, "GET", "/synthetic/%s.csv" % q(s))
            try:
                nc = len(csv_records(csvb)) if st == 200 else None
            except UnicodeDecodeError:
                nc = None
            t.ok(st == 200 and nc == n, "GET /synthetic/%s.csv -> 200 with the same rows" % s,
                 "status=%r csv rows=%r xml rows=%r" % (st, nc, n))
        j2 = run_job(srv, syms[:1], "synthetic source, again")
        if j2 is None:
            return
        st, _, body = request(srv, "GET", file_path(j2["id"], syms[0]))
        try:
            n2 = len(xml_records(body)) if st == 200 else None
        except ValueError:
            n2 = None
        t.is_(n2, counts[syms[0]], "synthetic %s: same row count every time" % syms[0])
        stop_clean(t, srv, "synthetic")


# -- SIGTERM mid-job -------------------------------------------------------------------------

# What a half-written archive would be called (a lock file is fine).
TEMP_RE = re.compile(r"(\.tmp|\.part|\.temp|~$|\.tgz.|^\..*tgz|^tmp)", re.I)


def test_sigterm(up):
    d = tempfile.mkdtemp(prefix="stockcam-e2e-term-")
    try:
        n = 200
        syms = ["slow-200-t%03d" % i for i in range(n)]
        with Server("--source-url", up.source_url, "--data-dir", d, "--batch-size", "10") as srv:
            jid = submit(srv, syms, "SIGTERM job")
            if jid is None:
                return
            j = wait_job(srv, jid, timeout=10,
                         pred=lambda j: j.get("state") in JOB_DONE
                         or (j.get("progress") or {}).get("succeeded", 0) >= 20)
            prog = (j or {}).get("progress")
            t.ok(j is not None and j.get("state") == "running",
                 "the 200-symbol job is mid-way when SIGTERM is sent", "progress=%r" % (prog,))
            t0 = time.monotonic()
            rc = srv.stop(signal.SIGTERM, timeout=10)
            el = time.monotonic() - t0
            t.is_(rc, 0, "SIGTERM mid-job: exit status 0 within 10 s (took %.2fs)" % el,
                  "log tail:\n" + "\n".join(srv.log_lines()[-15:]))
            log_clean(srv, "SIGTERM mid-job")
        files = all_files_under(d)
        tgz = [f for f in files if f.endswith(".tgz")]
        t.ok(tgz, "SIGTERM mid-job: archives were written", "files=%r" % files[:20])
        broken, entries = [], {}
        for f in tgz:
            try:
                with open(os.path.join(d, f), "rb") as fh:
                    ents = tgz_entries(fh.read())
                entries[os.path.basename(f)] = ents
            except Exception as e:  # tarfile / zlib / EOF errors
                broken.append("%s: %s" % (f, e))
        t.ok(not broken, "every .tgz in the data dir opens and reads completely",
             "\n".join(broken[:10]))
        names = [e for ents in entries.values() for e in ents]
        t.ok(len(names) == len(set(names)) and all(
            re.match(r"^%d/slow-200-t\d{3}\.xml$" % jid, e) for e in names),
            "archive entries are distinct <jobid>/<symbol>.xml (%d)" % len(names),
            repr(sorted(names)[:10]))
        left = files_under(d, (".xml", ".csv"))
        t.ok(not left, "no *.xml / *.csv left after SIGTERM", repr(left[:10]))
        temp = [f for f in files if TEMP_RE.search(os.path.basename(f))]
        t.ok(not temp, "no temporary archive files left after SIGTERM",
             "temp=%r\nall files=%r" % (temp[:10], files[:40]))

        with Server("--source-url", up.source_url, "--data-dir", d) as srv:
            st, hd, body, jl = request_json(srv, "GET", "/api/archives")
            al = (jl or {}).get("archives") if isinstance(jl, dict) else None
            listed = {a.get("name"): a.get("entries") for a in al or [] if isinstance(a, dict)}
            want = {k: len(v) for k, v in entries.items()}
            t.ok(st == 200 and listed == want,
                 "restarted on the same data dir: /api/archives lists the archives",
                 "status=%r listed=%r\non disk=%r" % (st, sorted(listed.items())[:10],
                                                     sorted(want.items())[:10]))
            if want:
                name = sorted(want)[0]
                st, _, data = request(srv, "GET", "/archives/" + q(name))
                t.ok(st == 200 and data == open(os.path.join(
                    d, [f for f in tgz if os.path.basename(f) == name][0]), "rb").read(),
                    "restarted server serves an old archive", "status=%r" % st)
            j = run_job(srv, ["AFTER1"], "a job after the restart")
            stop_clean(t, srv, "restart")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    check_binary()
    check_upstream()
    start_watchdog(150)
    with Upstream("--rows", ROWS) as up:
        book = Book()
        with Server("--source-url", up.source_url, "--batch-size", "1000",
                    "--max-symbols", MAX_SYMBOLS, "--max-body-size", MAX_BODY) as srv:
            srv.jobs_seen = []
            srv.failed_job = None
            t.group("validation", test_validation, srv)
            t.group("one job end to end", test_job, srv, up, book)
            t.group("failed job files", test_failed_job_files, srv, up, book)
            t.group("file on disk", test_file_on_disk, srv, up, book)
            t.group("idempotency", test_idempotency, srv, up, book)
            t.group("long-poll", test_longpoll, srv, up, book)
            t.group("listing", test_listing, srv, up, book)
            t.group("concurrency", test_concurrency, srv, up, book)
            # the validation's accepted jobs, then everything else
            for jid in list(srv.jobs_seen):
                if is_int(jid):
                    book.add(wait_job(srv, jid, timeout=10))
            t.group("archives", test_archives, srv, up, book)
            leftovers = files_under(srv.data_dir, (".xml", ".csv"))
            t.ok(not leftovers, "no *.xml / *.csv in the data dir once every job finished",
                 repr(leftovers[:20]))
            t.ok(srv.alive(), "server alive after the job tests")
            stop_clean(t, srv, "main server")
        t.group("batch size 1", test_batch_one, up)
        t.group("expiry", test_expiry, up)
        t.group("admission", test_admission, up)
        t.group("SIGTERM mid-job", test_sigterm, up)
        rc = up.stop()
        t.is_(rc, 0, "upstream fixture exits 0 on SIGTERM")
    t.group("synthetic source", test_synthetic)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
