#!/usr/bin/env python3
"""E2E: HTTP/1.1 conformance of the request parser and router: duplicate
Host, absolute-form targets, empty lines before the request line, encoded
slashes in path segments, the JSON media type, empty Idempotency-Key."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (still_serving, check_problem, TAP, Server, RawConn,  # noqa: E402
                     request, json_of, check_binary, start_watchdog)

t = TAP()


def raw(srv, data):
    with RawConn(srv) as c:
        c.send(data)
        return c.read_response()


def test_two_hosts(srv):
    r = raw(srv, "GET /api/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    check_problem(t, "two Host headers", r.status, r.headers, r.body, 400)
    r = raw(srv, "GET /api/health HTTP/1.1\r\nHost: a\r\n\r\n")
    t.is_(r.status, 200, "one Host header -> 200")
    still_serving(t, srv, "two Host headers")


def test_absolute_form(srv):
    r = raw(srv, "GET http://%s:%d/api/health HTTP/1.1\r\nHost: x\r\n\r\n"
            % (srv.host, srv.port))
    j = json_of(r.body)
    t.ok(r.status == 200 and isinstance(j, dict) and j.get("status") == "ok",
         "absolute-form GET http://host:port/api/health -> 200 health",
         repr(r))
    r = raw(srv, "GET HTTP://x/api/nothing?a=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    check_problem(t, "absolute-form to an unknown path", r.status, r.headers,
                  r.body, 404)
    r = raw(srv, "GET ftp://x/api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    check_problem(t, "target of another scheme", r.status, r.headers,
                  r.body, 400)


def test_leading_empty_lines(srv):
    for prefix, name in (("\r\n", "one CRLF"), ("\r\n\r\n\r\n", "three CRLF"),
                         ("\n\n", "two LF"), ("\r\n\n\r\n", "mixed")):
        r = raw(srv, prefix + "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        t.is_(r.status, 200, "%s before the request line ignored -> 200" % name,
              repr(r))
    # Between two requests on one keep-alive connection, too.
    with RawConn(srv) as c:
        c.send("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n\r\n\r\n"
               "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        a = c.read_response()
        b = c.read_response()
        t.is_([a.status, b.status], [200, 200],
              "empty lines between pipelined requests ignored")
    r = raw(srv, "\r\n" * 100 + "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    check_problem(t, "100 empty lines before the request line", r.status,
                  r.headers, r.body, 400)
    still_serving(t, srv, "empty lines")


def test_encoded_slash(srv):
    st, hd, body = request(srv, "GET", "/api/jobs/abc%2Fdef")
    check_problem(t, "GET /api/jobs/abc%2Fdef", st, hd, body, 404)
    j = json_of(body) or {}
    detail = str(j.get("detail", ""))
    t.ok("no job abc/def" in detail,
         "abc%2Fdef routed as one {id} segment, decoded to abc/def", detail)
    st, hd, body = request(srv, "GET", "/api/jobs/abc/def")
    j = json_of(body) or {}
    t.ok(st == 404 and "no resource" in str(j.get("detail", "")),
         "/api/jobs/abc/def (real slash) has no route", repr(body[:200]))
    st, hd, body = request(srv, "GET", "/api/%68ealth")
    t.is_(st, 200, "an encoded letter in a literal segment still matches")
    st, hd, body = request(srv, "GET", "/api/health%00")
    check_problem(t, "encoded NUL in the path", st, hd, body, 400)


def test_json_media_type(srv):
    def post(ctype, hdrs=None):
        h = {"Content-Type": ctype}
        h.update(hdrs or {})
        return request(srv, "POST", "/api/jobs", body=b"{}", headers=h)
    st, hd, body = post("application/jsonx")
    check_problem(t, "Content-Type application/jsonx", st, hd, body, 415)
    st, hd, body = post("application/json-seq")
    t.is_(st, 415, "Content-Type application/json-seq -> 415")
    for ctype in ("application/json; charset=utf-8", "Application/JSON",
                  "application/json;charset=UTF-8", "application/json"):
        st, hd, body = post(ctype)
        t.ok(st not in (415,) and 400 <= st < 500,
             "Content-Type %r accepted as JSON (body {} rejected otherwise: "
             "%d)" % (ctype, st), repr(body[:200]))
    st, hd, body = post("application/json", {"Idempotency-Key": ""})
    check_problem(t, "empty Idempotency-Key", st, hd, body, 400)
    j = json_of(body) or {}
    t.ok("Idempotency-Key" in str(j.get("detail", "")),
         "the 400 names the empty Idempotency-Key", repr(body[:200]))


def main():
    check_binary()
    start_watchdog(60)
    with Server() as srv:
        t.group("two Host headers", test_two_hosts, srv)
        t.group("absolute-form target", test_absolute_form, srv)
        t.group("empty lines before the request line",
                test_leading_empty_lines, srv)
        t.group("encoded slash", test_encoded_slash, srv)
        t.group("JSON media type and Idempotency-Key", test_json_media_type,
                srv)
        t.ok(srv.alive(), "server still alive")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
