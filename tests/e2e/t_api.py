#!/usr/bin/env python3
"""E2E: health, stats, problem+json errors, static files, keep-alive,
pipelining, HTTP/1.0, request log line."""

import http.client
import os
import re
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (still_serving, check_problem, TAP, Server, RawConn, request, json_of, media_type,  # noqa: E402
                     is_int, is_number, problem_issues, check_binary, ProtocolError,
                     start_watchdog, scaled, HOST)

t = TAP()






# -- health -----------------------------------------------------------------------

def test_health(srv):
    st, hd, body = request(srv, "GET", "/api/health")
    t.is_(st, 200, "GET /api/health -> 200")
    t.is_(media_type(hd.get("content-type")), "application/json",
          "GET /api/health Content-Type is application/json",
          "Content-Type: %r" % hd.get("content-type"))
    j = json_of(body)
    t.ok(isinstance(j, dict), "GET /api/health body is a JSON object", "body=%r" % body[:300])
    j = j if isinstance(j, dict) else {}
    t.is_(j.get("status"), "ok", 'health "status" is "ok"')
    t.ok(isinstance(j.get("version"), str) and j.get("version") != "",
         'health "version" is a non-empty string', "version=%r" % (j.get("version"),))
    t.ok(is_number(j.get("uptime_s")) and j.get("uptime_s") >= 0,
         'health "uptime_s" is a non-negative number', "uptime_s=%r" % (j.get("uptime_s"),))
    t.ok(hd.get("content-length") == str(len(body)),
         "GET /api/health Content-Length matches the body",
         "Content-Length=%r body length=%d" % (hd.get("content-length"), len(body)))


def test_head_health(srv):
    with RawConn(srv) as c:
        c.send("HEAD /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response(method="HEAD")
        t.is_(r.status, 200, "HEAD /api/health -> 200")
        cl = r.headers.get("content-length")
        t.ok(cl is not None and cl.isdigit() and int(cl) > 0,
             "HEAD /api/health has a positive Content-Length", "headers=%r" % r.headers)
        # No body may follow: the next bytes on the connection must be the
        # status line of the next response.
        c.send("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            r2 = c.read_response()
            good = r2.status == 200 and json_of(r2.body) is not None
            diag = repr(r2)
        except ProtocolError as e:  # parse failure = leftover body bytes
            good, diag = False, "next response unparsable (HEAD sent a body?): %s" % e
        t.ok(good, "HEAD /api/health sends no body (next response on the connection parses)",
             diag)


# -- stats ------------------------------------------------------------------------

def stats_issues(j):
    issues = []
    if not isinstance(j, dict):
        return ["not a JSON object: %r" % (j,)]
    if not is_number(j.get("uptime_s")):
        issues.append("uptime_s=%r" % (j.get("uptime_s"),))
    conns = j.get("connections")
    if not isinstance(conns, dict):
        issues.append("connections=%r" % (conns,))
    else:
        for k in ("now", "total", "rejected"):
            if not is_int(conns.get(k)) or conns.get(k) < 0:
                issues.append("connections.%s=%r" % (k, conns.get(k)))
        if is_int(conns.get("now")) and conns["now"] < 1:
            issues.append("connections.now=%r, want >= 1" % conns["now"])
        if is_int(conns.get("total")) and conns["total"] < 1:
            issues.append("connections.total=%r, want >= 1" % conns["total"])
    reqs = j.get("requests")
    if not isinstance(reqs, dict):
        issues.append("requests=%r" % (reqs,))
    else:
        for k in ("total", "1xx", "2xx", "3xx", "4xx", "5xx"):
            if not is_int(reqs.get(k)) or reqs.get(k) < 0:
                issues.append("requests.%s=%r" % (k, reqs.get(k)))
    pools = j.get("pools")
    if not isinstance(pools, dict):
        issues.append("pools=%r" % (pools,))
    else:
        for p in ("fetch", "convert", "cpu"):
            pv = pools.get(p)
            if not isinstance(pv, dict):
                issues.append("pools.%s=%r" % (p, pv))
                continue
            for k in ("threads", "busy", "queued", "completed", "queue_depth"):
                if not is_int(pv.get(k)) or pv.get(k) < 0:
                    issues.append("pools.%s.%s=%r" % (p, k, pv.get(k)))
            if is_int(pv.get("threads")) and pv["threads"] < 1:
                issues.append("pools.%s.threads=%r, want >= 1" % (p, pv["threads"]))
    return issues


def test_stats(srv):
    st, hd, body = request(srv, "GET", "/api/stats")
    t.is_(st, 200, "GET /api/stats -> 200")
    t.is_(media_type(hd.get("content-type")), "application/json",
          "GET /api/stats Content-Type is application/json")
    j1 = json_of(body)
    issues = stats_issues(j1)
    t.ok(not issues, "GET /api/stats has all fields with the right types",
         issues + ["body=%r" % body[:1000]])

    st404, _, _ = request(srv, "GET", "/api/no-such-endpoint-for-stats")
    t.is_(st404, 404, "GET /api/no-such-endpoint-for-stats -> 404 (for the stats delta)")
    st, hd, body = request(srv, "GET", "/api/stats")
    j2 = json_of(body)
    t.ok(st == 200 and not stats_issues(j2), "second GET /api/stats -> 200 and well formed",
         "status=%r body=%r" % (st, body[:500]))
    try:
        a4, b4 = j1["requests"]["4xx"], j2["requests"]["4xx"]
        at, bt = j1["requests"]["total"], j2["requests"]["total"]
        ac, bc = j1["connections"]["total"], j2["connections"]["total"]
    except (TypeError, KeyError):
        t.ok(False, "stats counters grow after a 404", "unusable stats JSON")
        return
    t.ok(is_int(a4) and is_int(b4) and b4 >= a4 + 1,
         "stats requests.4xx grew by >= 1 after a 404", "before=%r after=%r" % (a4, b4))
    t.ok(is_int(at) and is_int(bt) and bt >= at + 1,
         "stats requests.total grew after more requests", "before=%r after=%r" % (at, bt))
    t.ok(is_int(ac) and is_int(bc) and bc >= ac + 2,
         "stats connections.total grew by >= 2 after two new connections",
         "before=%r after=%r" % (ac, bc))


# -- problem+json error cases ---------------------------------------------------------

def test_404(srv):
    st, hd, body = request(srv, "GET", "/definitely/not/here")
    check_problem(t, "GET /definitely/not/here", st, hd, body, 404)
    still_serving(t, srv, "404")


def test_405(srv):
    st, hd, body = request(srv, "POST", "/api/health", body=b"{}",
                           headers={"Content-Type": "application/json"})
    check_problem(t, "POST /api/health", st, hd, body, 405)
    allow = hd.get("allow")
    methods = {m.strip().upper() for m in (allow or "").split(",")}
    t.ok(allow is not None and "GET" in methods and "HEAD" in methods,
         "405 reply has an Allow header with GET and HEAD", "Allow: %r" % allow)
    still_serving(t, srv, "405")


def raw_error(srv, name, payload, want):
    with RawConn(srv) as c:
        c.send(payload)
        r = c.read_response()
        check_problem(t, name, r.status, r.headers, r.body, want)
    still_serving(t, srv, name)


def test_400(srv):
    raw_error(srv, "malformed request line GARBAGE", "GARBAGE\r\n\r\n", 400)


def test_505(srv):
    raw_error(srv, "GET /api/health HTTP/2.0",
              "GET /api/health HTTP/2.0\r\nHost: x\r\n\r\n", 505)


def test_411(srv):
    raw_error(srv, "POST with Transfer-Encoding: chunked",
              "POST /api/health HTTP/1.1\r\nHost: x\r\n"
              "Content-Type: application/json\r\n"
              "Transfer-Encoding: chunked\r\n\r\n"
              "2\r\n{}\r\n0\r\n\r\n", 411)


# -- static files --------------------------------------------------------------------

def test_static(srv):
    st, hd, body = request(srv, "GET", "/")
    t.is_(st, 200, "GET / -> 200")
    t.is_(media_type(hd.get("content-type")), "text/html", "GET / Content-Type is text/html",
          "Content-Type: %r" % hd.get("content-type"))
    etag = hd.get("etag")
    t.ok(bool(etag), "GET / has an ETag", "headers=%r" % hd)
    t.ok(bool(hd.get("cache-control")), "GET / has a Cache-Control header", "headers=%r" % hd)
    t.ok(b"stockcam" in body.lower(), "GET / HTML mentions stockcam", "body=%r" % body[:300])
    if etag:
        st2, hd2, body2 = request(srv, "GET", "/", headers={"If-None-Match": etag})
        t.is_(st2, 304, "GET / with If-None-Match: <etag> -> 304", "headers=%r" % hd2)
        t.is_(body2, b"", "304 reply has no body")
    else:
        t.ok(False, "GET / with If-None-Match: <etag> -> 304", "no ETag to test with")
    st3, hd3, body3 = request(srv, "GET", "/", headers={"If-None-Match": '"not-the-etag"'})
    t.is_(st3, 200, "GET / with a non-matching If-None-Match -> 200")

    st, hd, body = request(srv, "GET", "/app.js")
    t.is_(st, 200, "GET /app.js -> 200")
    t.ok("javascript" in (hd.get("content-type") or "").lower(),
         "GET /app.js Content-Type contains javascript", "Content-Type: %r" % hd.get("content-type"))
    t.ok(len(body) > 0, "GET /app.js has a body")

    st, hd, body = request(srv, "GET", "/app.css")
    t.is_(st, 200, "GET /app.css -> 200")
    t.is_(media_type(hd.get("content-type")), "text/css", "GET /app.css Content-Type is text/css",
          "Content-Type: %r" % hd.get("content-type"))


# -- connection handling ------------------------------------------------------------------

def test_keepalive(srv):
    conn = http.client.HTTPConnection(HOST, srv.port, timeout=scaled(5))
    try:
        first_sock = None
        results = []
        same = True
        for i, path in enumerate(["/api/health", "/api/stats", "/api/health",
                                  "/nope-404", "/api/health"]):
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            results.append((path, r.status))
            if i == 0:
                first_sock = conn.sock
            elif conn.sock is not first_sock or first_sock is None:
                same = False
            if conn.sock is None:
                same = False
        t.is_(results, [("/api/health", 200), ("/api/stats", 200), ("/api/health", 200),
                        ("/nope-404", 404), ("/api/health", 200)],
              "5 requests on one keep-alive connection get the right statuses")
        t.ok(same, "all 5 requests used the same TCP connection (no close by the server)")
    finally:
        conn.close()


def test_pipelining(srv):
    with RawConn(srv) as c:
        c.send("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /api/stats HTTP/1.1\r\nHost: x\r\n\r\n")
        r1 = c.read_response()
        r2 = c.read_response()
        j1, j2 = json_of(r1.body), json_of(r2.body)
        t.ok(r1.status == 200 and isinstance(j1, dict) and j1.get("status") == "ok",
             "pipelined response 1 is the /api/health reply", repr(r1))
        t.ok(r2.status == 200 and isinstance(j2, dict) and "pools" in j2,
             "pipelined response 2 is the /api/stats reply", repr(r2))
        # the connection must still be usable afterwards
        c.send("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        r3 = c.read_response()
        t.is_(r3.status, 200, "connection still usable after pipelined requests")


def test_http10(srv):
    with RawConn(srv) as c:
        t0 = time.monotonic()
        c.send("GET /api/health HTTP/1.0\r\n\r\n")
        r = c.read_response()
        t.ok(r.status == 200 and isinstance(json_of(r.body), dict),
             "HTTP/1.0 GET /api/health -> 200 JSON", repr(r))
        t.ok(r.version in ("1.0", "1.1"), "HTTP/1.0 reply has an HTTP/1.x status line",
             "version=%r" % r.version)
        state, extra = c.wait_closed(2.0)
        t.ok(state in ("eof", "reset") and extra == b"",
             "server closes the HTTP/1.0 connection after the reply",
             "state=%s extra=%r after %.2fs" % (state, extra[:200], time.monotonic() - t0))


def test_log_line(srv):
    probe = "/e2e-log-probe-%s" % uuid.uuid4().hex[:12]
    st, _, _ = request(srv, "GET", probe)
    t.is_(st, 404, "GET %s -> 404" % probe)
    ln = srv.wait_for_log(lambda l: probe in l and "GET" in l and re.search(r"\b404\b", l))
    t.ok(ln is not None, "info log has a line with GET, the path and 404",
         "log tail:\n" + "\n".join(srv.log_lines()[-10:]))
    st, _, _ = request(srv, "GET", "/api/health")
    ln = srv.wait_for_log(lambda l: "/api/health" in l and "GET" in l and re.search(r"\b200\b", l))
    t.ok(ln is not None, "info log has a line with GET /api/health and 200",
         "log tail:\n" + "\n".join(srv.log_lines()[-10:]))


def test_log_warn():
    # The 'listening on' line may legitimately be an info message, so the
    # port may have to be found through /proc.
    with Server("--log-level", "warn") as srv:
        for _ in range(3):
            st, _, _ = request(srv, "GET", "/api/health")
        t.is_(st, 200, "--log-level warn server answers GET /api/health")
        time.sleep(0.5)
        lines = [l for l in srv.log_lines() if "/api/health" in l]
        t.ok(not lines, "--log-level warn: no request log line for GET /api/health",
             "\n".join(lines[:5]))


def main():
    check_binary()
    start_watchdog(60)
    with Server() as srv:
        for name, fn in [("health", test_health), ("HEAD health", test_head_health),
                         ("stats", test_stats), ("404", test_404), ("405", test_405),
                         ("400", test_400), ("505", test_505), ("411", test_411),
                         ("static", test_static), ("keep-alive", test_keepalive),
                         ("pipelining", test_pipelining), ("HTTP/1.0", test_http10),
                         ("log line", test_log_line)]:
            t.group(name, fn, srv)
        t.ok(srv.alive(), "server process still alive after all API tests",
             "exit=%r\n%s" % (srv.proc.poll(), "\n".join(srv.log_lines()[-20:])))
    t.group("log level warn", test_log_warn)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
