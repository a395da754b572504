#!/usr/bin/env python3
"""E2E: Armstrong-number jobs over HTTP: results against the published
list (OEIS A005188, with 0) for many ranges, the whole 64-bit range,
progress, cancel, and bad parameters (400 naming the field)."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, request_json, wait_job, get_job,  # noqa: E402
                     check_problem, check_binary, start_watchdog, scaled,
                     stop_clean, still_serving, check_upstream, Upstream,
                     post_job)

t = TAP()

MAX63 = 2 ** 63 - 1
# A005188, the terms below 2^63, and 0 (0^1 = 0).
KNOWN = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 153, 370, 371, 407, 1634, 8208, 9474,
    54748, 92727, 93084, 548834, 1741725, 4210818, 9800817, 9926315,
    24678050, 24678051, 88593477, 146511208, 472335975, 534494836, 912985153,
    4679307774, 32164049650, 32164049651, 40028394225, 42678290603,
    44708635679, 49388550606, 82693916578, 94204591914, 28116440335967,
    4338281769391370, 4338281769391371, 21897142587612075,
    35641594208964132, 35875699062250035, 1517841543307505039,
    3289582984443187032, 4498128791164624869, 4929273885928088826,
]


def post(srv, obj=None, raw=None):
    return request_json(srv, "POST", "/api/jobs", obj, raw=raw)


def run(srv, lo, hi, timeout=20.0):
    st, hd, body, j = post(srv, {"type": "armstrong", "from": lo, "to": hi})
    if st != 202 or not isinstance(j, dict):
        return st, None
    return st, wait_job(srv, j["id"], timeout=timeout)


def test_ranges(srv):
    ranges = [
        (0, 1), (0, 10), (1, 10), (9, 10), (10, 153), (153, 154), (154, 155),
        (100, 1000), (999, 1000), (1000, 10000), (9474, 9475), (0, 100000),
        (20000000, 30000000), (24678050, 24678051), (24678051, 24678052),
        (99999999, 100000000), (10 ** 9, 10 ** 10), (4679307774, 4679307775),
        (10 ** 13, 10 ** 14), (10 ** 18, MAX63), (MAX63 - 1, MAX63),
        (4929273885928088826, 4929273885928088827),
    ]
    for lo, hi in ranges:
        st, j = run(srv, lo, hi)
        want = [x for x in KNOWN if lo <= x < hi]
        ok = (st == 202 and j is not None and j.get("state") == "succeeded"
              and j.get("result") == want)
        t.ok(ok, "[%d, %d): %d numbers, as published" % (lo, hi, len(want)),
             "status=%r job=%r" % (st, json.dumps(j)[:600] if j else None))
        if j is not None:
            p = j.get("progress") or {}
            t.ok(p.get("total") == hi - lo and p.get("examined") == hi - lo,
                 "[%d, %d): progress counts every number" % (lo, hi),
                 "progress=%r" % p)


def test_whole_range(srv):
    t0 = time.monotonic()
    st, j = run(srv, 0, MAX63, timeout=180)
    el = time.monotonic() - t0
    t.ok(st == 202 and j is not None and j.get("result") == KNOWN,
         "whole range [0, 2^63 - 1): all %d published numbers" % len(KNOWN),
         "job=%r" % (json.dumps(j)[:800] if j else None))
    # A scan of 2^63 numbers would take centuries: a minute is a bar a
    # loaded machine meets (2 s quiet, 22 s under ASan beside two hogs)
    # and no scan does.
    t.ok(el < scaled(60), "whole range in %.2f s (< 60 s)" % el)
    t.is_(j and j.get("method"), "multisets",
          "whole range: the planner does not visit every number")
    st, j = run(srv, 20000000, 30000000)
    t.ok(j is not None and j.get("finished_at") is not None,
         "[2e7, 3e7) finishes")


def test_scan_chosen(srv):
    st, j = run(srv, 1000000, 1100000)
    t.is_(j and j.get("method"), "scan", "a small range is scanned")
    t.is_(j and j.get("result"), [], "[1e6, 1.1e6) has none")


def test_cancel(srv):
    st, hd, body, j = post(srv, {"type": "armstrong", "from": 0, "to": MAX63})
    t.is_(st, 202, "whole-range job accepted for cancelling")
    if st != 202:
        return
    t0 = time.monotonic()
    st, _, _, c = request_json(srv, "DELETE", "/api/jobs/%d" % j["id"])
    t.is_(st, 200, "DELETE -> 200")
    fin = wait_job(srv, j["id"], timeout=5)
    el = time.monotonic() - t0
    t.ok(fin is not None and fin.get("state") in ("canceled", "succeeded"),
         "cancelled job ends", "job=%r" % fin)
    t.ok(el < scaled(0.5), "cancel settles every chunk in %.3f s" % el)
    if fin is not None and fin.get("state") == "succeeded":
        t.diag("the search finished before the cancel arrived")


def test_bad(srv):
    cases = [
        ("from missing", {"type": "armstrong", "to": 10}, "from"),
        ("to missing", {"type": "armstrong", "from": 1}, "to"),
        ("from negative", {"type": "armstrong", "from": -1, "to": 10}, "from"),
        ("from a string", {"type": "armstrong", "from": "1", "to": 10}, "from"),
        ("from a real", {"type": "armstrong", "from": 1.0, "to": 10}, "from"),
        ("to a real", {"type": "armstrong", "from": 1, "to": 1e3}, "to"),
        ("to null", {"type": "armstrong", "from": 1, "to": None}, "to"),
        ("from == to", {"type": "armstrong", "from": 5, "to": 5}, "to"),
        ("from > to", {"type": "armstrong", "from": 6, "to": 5}, "to"),
        ("unknown field", {"type": "armstrong", "from": 1, "to": 5,
                           "step": 2}, "step"),
        ("symbols in an armstrong job", {"type": "armstrong", "from": 1,
                                          "to": 5, "symbols": ["A"]}, "symbols"),
        ("unknown type", {"type": "armstrong2", "from": 1, "to": 5}, "type"),
    ]
    for name, obj, field in cases:
        st, hd, body, j = post(srv, obj)
        check_problem(t, name, st, hd, body, 400)
        t.ok(isinstance(j, dict) and field in str(j.get("detail", "")),
             "%s: detail names '%s'" % (name, field), "body=%r" % body[:300])
    st, hd, body, j = post(srv, raw='{"type": "armstrong", "from": 0, '
                           '"to": 9223372036854775808}')
    check_problem(t, "to = 2^63", st, hd, body, 400)
    t.ok(isinstance(j, dict) and "to" in str(j.get("detail", "")),
         "to = 2^63: detail names 'to'", "body=%r" % body[:300])
    still_serving(t, srv, "bad armstrong jobs")


def test_stock_backlog(up):
    """Only stock jobs count against --max-pending-symbols: a full stock
    backlog refuses more symbols, not an Armstrong job."""
    slow = ["slow-30000-a", "slow-30000-b"]
    with Server("--source-url", up.source_url, "--max-pending-symbols", 2,
                "--fetch-timeout", 60) as srv:
        st, hd, body, j = post_job(srv, slow)
        t.is_(st, 202, "2 slow symbols fill --max-pending-symbols 2", body[:300])
        st, hd, body, _ = post_job(srv, ["GOOD1"])
        t.is_(st, 429, "the stock backlog is full: one more symbol -> 429",
              body[:300])
        for i in range(3):
            st, hd, body, a = post(srv, {"type": "armstrong", "from": 0,
                                         "to": 1000})
            t.is_(st, 202, "armstrong job %d with the stock backlog full -> 202"
                  % (i + 1), body[:300])
            if st == 202 and isinstance(a, dict):
                aj = wait_job(srv, a["id"], timeout=20)
                t.ok(aj is not None and aj.get("state") == "succeeded",
                     "armstrong job %d succeeds" % (i + 1), repr(aj)[:300])
        if isinstance(j, dict) and "id" in j:
            request_json(srv, "DELETE", "/api/jobs/%s" % j["id"])


def main():
    check_binary()
    check_upstream()
    start_watchdog(120)
    with Upstream() as up:
        try:
            test_stock_backlog(up)
        except Exception as e:   # a server fault: fail, go on
            t.ok(False, "test_stock_backlog: aborted by %r" % e)
    with Server() as srv:
        for fn in (test_ranges, test_whole_range, test_scan_chosen,
                   test_cancel, test_bad):
            try:
                fn(srv)
            except Exception as e:   # a server fault: fail, go on
                t.ok(False, "%s: aborted by %r" % (fn.__name__, e))
        stop_clean(t, srv, "armstrong server")
    t.done()


if __name__ == "__main__":
    main()
