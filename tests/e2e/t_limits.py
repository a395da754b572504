#!/usr/bin/env python3
"""E2E: body/header size limits, connection cap, slow headers (request
timeout), idle and keep-alive timeouts."""

import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (still_serving, check_problem, TAP, Server, RawConn, request, json_of, is_int,  # noqa: E402
                     problem_issues, parse_response_bytes, check_binary,
                     start_watchdog, scaled, ProtocolError)

t = TAP()

GET_HEALTH = "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"






# -- sizes ---------------------------------------------------------------------------

def test_body_too_large(srv):
    st, hd, body = request(srv, "POST", "/api/health", body=b"x" * 4096,
                           headers={"Content-Type": "application/octet-stream"})
    check_problem(t, "POST 4096-byte body with --max-body-size 1024", st, hd, body, 413)
    still_serving(t, srv, "413")


def test_body_limit_boundary(srv):
    st, hd, body = request(srv, "POST", "/api/health", body=b"x" * 1024,
                           headers={"Content-Type": "application/octet-stream"})
    t.is_(st, 405, "POST body of exactly --max-body-size (1024) to /api/health -> 405, not 413",
          "body=%r" % body[:300])
    st, hd, body = request(srv, "POST", "/api/health", body=b"x" * 1025,
                           headers={"Content-Type": "application/octet-stream"})
    t.is_(st, 413, "POST body of 1025 bytes (limit 1024) -> 413", "body=%r" % body[:300])
    still_serving(t, srv, "body size boundary")


def test_expect_100(srv):
    with RawConn(srv) as c:
        t0 = time.monotonic()
        c.send("POST /api/health HTTP/1.1\r\nHost: x\r\n"
               "Content-Type: application/octet-stream\r\n"
               "Content-Length: 4096\r\nExpect: 100-continue\r\n\r\n")
        r = c.read_response(timeout=3.0)
        el = time.monotonic() - t0
        t.ok(r.status != 100, "Expect: 100-continue with oversized body: no 100 Continue",
             repr(r))
        check_problem(t, "Expect: 100-continue, Content-Length 4096 (body never sent)",
                r.status, r.headers, r.body, 413)
        t.ok(el < scaled(1.5), "413 for Expect: 100-continue arrives promptly",
             "took %.2fs" % el)
    still_serving(t, srv, "413 with Expect: 100-continue")


def test_header_too_large(srv):
    st, hd, body = request(srv, "GET", "/api/health", headers={"X-Big": "a" * 4000})
    check_problem(t, "GET with a 4000-byte header, --max-header-size 2048", st, hd, body, 431)
    still_serving(t, srv, "431")
    st, hd, body = request(srv, "GET", "/api/health", headers={"X-Medium": "a" * 1000})
    t.is_(st, 200, "GET with a 1000-byte header (under the 2048 limit) -> 200")


# -- connection cap ----------------------------------------------------------------------

def read_rejection(c, name, send_request):
    t0 = c.t0
    if send_request:
        try:
            c.send(GET_HEALTH)
        except (BrokenPipeError, ConnectionResetError):
            pass  # server may already have closed; the 503 can still be read
    try:
        r = c.read_response(timeout=2.0)
    except (OSError, ProtocolError) as e:
        t.ok(False, "%s -> 503" % name, "no complete response within 2 s: %r" % e)
        return
    el = time.monotonic() - t0
    check_problem(t, name, r.status, r.headers, r.body, 503)
    ra = r.headers.get("retry-after")
    t.ok(ra is not None and ra.strip() != "", "%s: has a Retry-After header" % name,
         "headers=%r" % r.headers)
    t.ok(el < scaled(1.0), "%s: 503 arrives within 1 s" % name, "took %.3fs" % el)
    state, extra = c.wait_closed(2.0)
    t.ok(state in ("eof", "reset") and extra == b"",
         "%s: connection closed after the 503" % name,
         "state=%s extra=%r" % (state, extra[:200]))


def test_conn_cap():
    with Server("--max-connections", "4") as srv:
        conns = []
        try:
            statuses = []
            for i in range(4):
                c = RawConn(srv)
                conns.append(c)
                c.send(GET_HEALTH)
                statuses.append(c.read_response().status)
            t.is_(statuses, [200] * 4, "--max-connections 4: 4 keep-alive connections served")
            # Idle keep-alive connections make room for newcomers (see
            # t_http_limits.py); ones with a request under way do not.
            for c in conns:
                c.send("GET /api/health HTTP/1.1\r\n")
            time.sleep(0.2)

            c5 = RawConn(srv)
            c5.t0 = time.monotonic()
            try:
                read_rejection(c5, "5th connection (no request sent)", False)
            finally:
                c5.close()

            c6 = RawConn(srv)
            c6.t0 = time.monotonic()
            try:
                read_rejection(c6, "5th connection (request sent)", True)
            finally:
                c6.close()

            statuses = []
            for c in conns:
                c.send("Host: x\r\n\r\n")
                statuses.append(c.read_response().status)
            t.is_(statuses, [200] * 4, "the 4 established connections still get 200 at the cap")

            conns[0].close()
            conns[1].close()
            time.sleep(0.2)
            t0 = time.monotonic()
            got, attempts = None, 0
            newc = None
            while time.monotonic() - t0 < scaled(2.0):
                attempts += 1
                newc = RawConn(srv)
                newc.send(GET_HEALTH)
                try:
                    got = newc.read_response().status
                except (ProtocolError, ConnectionResetError) as e:
                    got = repr(e)
                if got == 200:
                    break
                newc.close()
                newc = None
                time.sleep(0.1)
            t.ok(got == 200 and attempts == 1,
                 "after closing 2 of 4 connections (+200 ms) a new connection gets 200",
                 "last=%r attempts=%d (served after %.2fs more)"
                 % (got, attempts, time.monotonic() - t0))
            if newc is not None:
                conns.append(newc)
                newc.send("GET /api/stats HTTP/1.1\r\nHost: x\r\n\r\n")
                r = newc.read_response()
                j = json_of(r.body)
                rej = (j.get("connections") or {}).get("rejected") if isinstance(j, dict) else None
                t.ok(r.status == 200 and is_int(rej) and rej >= 1,
                     "GET /api/stats connections.rejected >= 1 after rejections",
                     "status=%r connections=%r" % (r.status, j.get("connections")
                                                  if isinstance(j, dict) else r.body[:300]))
            else:
                t.ok(False, "GET /api/stats connections.rejected >= 1 after rejections",
                     "no connection could be established")
        finally:
            for c in conns:
                c.close()
        t.ok(srv.alive(), "--max-connections 4 server still alive")


# -- timeouts --------------------------------------------------------------------------

def timeout_close_check(name, state, elapsed, data, lo=0.9, hi=3.0):
    t.ok(state in ("eof", "reset"), "%s: server closes the connection" % name,
         "state=%s after %.2fs data=%r" % (state, elapsed, data[:300]))
    t.ok(state in ("eof", "reset") and lo <= elapsed <= scaled(hi),
         "%s: closed %.1f-%.1f s after the connection opened" % (name, lo, hi),
         "closed after %.2fs (state=%s)" % (elapsed, state))
    if data:
        try:
            r = parse_response_bytes(data)
            issues = problem_issues(r.status, r.headers, r.body, 408)
        except ProtocolError as e:
            issues = ["unparsable bytes before close: %s" % e]
        t.ok(not issues, "%s: bytes sent before closing are a 408 problem+json" % name,
             issues + ["data=%r" % data[:300]])
    else:
        t.ok(state in ("eof", "reset"), "%s: closed without a response (allowed)" % name,
             "not closed (state=%s)" % state)


def test_slow_headers(srv):
    c = RawConn(srv)
    try:
        t0 = time.monotonic()
        c.send("GET /api/health HTTP/1.1\r\nHost: x\r\n")
        trickle = b"X-Slow-Header: " + b"a" * 200
        idx = 0
        next_send = t0 + 0.2
        limit = t0 + scaled(3.0)
        probe = None
        state, data, closed_at = "timeout", b"", None
        while True:
            now = time.monotonic()
            if now >= limit:
                break
            if probe is None and now >= t0 + 0.5:
                p0 = time.monotonic()
                try:
                    st, _, _ = request(srv, "GET", "/api/health", timeout=2.0)
                except (OSError, ProtocolError) as e:
                    st = repr(e)
                probe = (st, time.monotonic() - p0)
                continue
            wait = max(0.0, min(next_send, limit, t0 + 0.5 if probe is None else limit) - now)
            r, _, _ = select.select([c.sock], [], [], wait)
            if r:
                try:
                    chunk = c.sock.recv(65536)
                except ConnectionResetError:
                    state, closed_at = "reset", time.monotonic()
                    break
                if not chunk:
                    state, closed_at = "eof", time.monotonic()
                    break
                data += chunk
                continue
            if time.monotonic() >= next_send:
                try:
                    c.sock.send(trickle[idx % len(trickle):idx % len(trickle) + 1])
                except (BrokenPipeError, ConnectionResetError):
                    state, closed_at = "reset", time.monotonic()
                    break
                idx += 1
                next_send += 0.2
        elapsed = (closed_at or time.monotonic()) - t0
        t.diag("slow-header client: sent %d trickled bytes, state=%s after %.2fs"
               % (idx, state, elapsed))
        timeout_close_check("slow headers, --request-timeout 1", state, elapsed, data)
        t.ok(probe is not None and probe[0] == 200 and probe[1] < scaled(0.5),
             "another client gets 200 quickly while the slow client trickles",
             "probe=%r" % (probe,))
    finally:
        c.close()


def test_idle_new_connection(srv):
    with RawConn(srv) as c:
        t0 = time.monotonic()
        state, data = c.wait_closed(3.0)
        timeout_close_check("idle new connection sending nothing, --request-timeout 1", state,
                            time.monotonic() - t0, data)


def test_keepalive_idle(srv):
    with RawConn(srv) as c:
        c.send(GET_HEALTH)
        r = c.read_response()
        t.is_(r.status, 200, "keep-alive request served before idling")
        t0 = time.monotonic()
        state, data = c.wait_closed(3.0)
        timeout_close_check("idle keep-alive connection, --keepalive-timeout 1", state,
                            time.monotonic() - t0, data)


def test_timeout_is_per_request(srv):
    """--request-timeout limits one request, not the connection's life."""
    with RawConn(srv) as c:
        statuses = []
        for i in range(5):
            c.send(GET_HEALTH)
            statuses.append(c.read_response().status)
            if i < 4:
                time.sleep(0.4)
        t.is_(statuses, [200] * 5,
              "5 requests 0.4 s apart (2 s > --request-timeout 1) on one connection all 200")


def main():
    check_binary()
    start_watchdog(60)
    with Server("--max-body-size", "1024", "--max-header-size", "2048") as srv:
        t.group("body too large", test_body_too_large, srv)
        t.group("body limit boundary", test_body_limit_boundary, srv)
        t.group("expect 100-continue", test_expect_100, srv)
        t.group("header too large", test_header_too_large, srv)
        t.ok(srv.alive(), "size-limit server still alive")
    t.group("connection cap", test_conn_cap)
    with Server("--request-timeout", "1") as srv:
        t.group("slow headers", test_slow_headers, srv)
        t.group("idle new connection", test_idle_new_connection, srv)
        t.group("timeout per request", test_timeout_is_per_request, srv)
        t.ok(srv.alive(), "--request-timeout 1 server still alive")
    with Server("--keepalive-timeout", "1") as srv:
        t.group("keep-alive idle", test_keepalive_idle, srv)
        t.ok(srv.alive(), "--keepalive-timeout 1 server still alive")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
