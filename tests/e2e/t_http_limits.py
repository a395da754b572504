#!/usr/bin/env python3
"""E2E: one client cannot hold every connection slot
(--max-connections-per-client, counted per peer address, the host's own
127.0.0.1 not counted), and at --max-connections idle keep-alive
connections are closed to make room for a newcomer; out of file
descriptors (a low ulimit -n), every connection still gets an answer,
and --max-connections is lowered at startup to fit the limit.

Other clients are played by binding the client socket to 127.0.0.2,
127.0.0.3 (Linux routes all of 127/8 on lo); the server listens on
127.0.0.1."""

import os
import resource
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (check_problem, TAP, Server, RawConn, json_of,  # noqa: E402
                     check_binary, start_watchdog, scaled, ProtocolError,
                     still_serving, LowFdServer)

t = TAP()

GET_HEALTH = "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"


class FromConn(RawConn):
    """A RawConn whose socket is bound to a given source address."""

    def __init__(self, server, source, timeout=5.0):
        self.sock = socket.create_connection(
            (server.host, server.port), timeout=scaled(timeout),
            source_address=(source, 0))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False


def served(c):
    """Sends a health request; the status, or a string for no answer."""
    try:
        c.send(GET_HEALTH)
        return c.read_response(timeout=5.0).status
    except (OSError, ProtocolError) as e:
        return repr(e)


def close_all(conns):
    for c in conns:
        c.close()


def test_per_client(srv):
    conns = []
    try:
        statuses = []
        for i in range(8):
            c = FromConn(srv, "127.0.0.2")
            conns.append(c)
            statuses.append(served(c))
        t.is_(statuses, [200] * 8,
              "--max-connections-per-client 8: 8 connections from "
              "127.0.0.2 served")
        extra = []
        for i in range(12):
            c = FromConn(srv, "127.0.0.2")
            extra.append(c)
            t0 = time.monotonic()
            try:
                c.send(GET_HEALTH)
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                r = c.read_response(timeout=3.0)
            except (OSError, ProtocolError) as e:
                t.ok(False, "connection %d from 127.0.0.2 -> 503" % (9 + i),
                     "no response: %r" % e)
                continue
            if i == 0:
                check_problem(t, "9th connection from 127.0.0.2", r.status,
                              r.headers, r.body, 503)
                t.ok((r.headers.get("retry-after") or "").strip() != "",
                     "the 503 has Retry-After", repr(r.headers))
                t.ok(time.monotonic() - t0 < scaled(2.0),
                     "the 503 comes promptly")
                state, rest = c.wait_closed(3.0)
                t.ok(state in ("eof", "reset") and rest == b"",
                     "connection closed after the 503",
                     "state=%s rest=%r" % (state, rest[:100]))
            elif r.status != 503:
                t.ok(False, "connection %d from 127.0.0.2 -> 503" % (9 + i),
                     repr(r))
        t.ok(True, "connections 10..20 from 127.0.0.2 also refused")
        close_all(extra)

        c = FromConn(srv, "127.0.0.3")
        conns.append(c)
        t.is_(served(c), 200, "another address (127.0.0.3) is still served")
        local = []
        for i in range(12):
            local.append(RawConn(srv))
        st = [served(c) for c in local]
        close_all(local)
        t.is_(st, [200] * 12, "127.0.0.1 is not counted: 12 connections "
              "served")
        t.is_([served(c) for c in conns[:8]], [200] * 8,
              "the 8 connections of 127.0.0.2 are still served")

        conns[0].close()
        got = None
        deadline = time.monotonic() + scaled(5.0)
        while time.monotonic() < deadline:
            c = FromConn(srv, "127.0.0.2")
            got = served(c)
            if got == 200:
                conns.append(c)
                break
            c.close()
            time.sleep(0.1)
        t.is_(got, 200, "once one of them closes, 127.0.0.2 gets a slot again")
    finally:
        close_all(conns)


def test_per_client_off(srv):
    conns = []
    try:
        for i in range(20):
            conns.append(FromConn(srv, "127.0.0.2"))
        st = [served(c) for c in conns]
        t.is_(st, [200] * 20, "--max-connections-per-client 0: 20 "
              "connections from 127.0.0.2 all served")
    finally:
        close_all(conns)


def test_evict_idle(srv):
    conns = []
    try:
        for i in range(4):
            c = RawConn(srv)
            conns.append(c)
        st = [served(c) for c in conns]
        t.is_(st, [200] * 4, "--max-connections 4: 4 keep-alive connections")
        newc = RawConn(srv)
        t.is_(served(newc), 200, "at the cap with 4 idle keep-alive "
              "connections, a new health probe is served")
        closed = 0
        for c in conns:
            state, _ = c.wait_closed(0.2 if closed else 3.0)
            if state in ("eof", "reset"):
                closed += 1
        t.is_(closed, 1, "exactly one idle connection was closed for it")
        conns.append(newc)
        newc.send("GET /api/stats HTTP/1.1\r\nHost: x\r\n\r\n")
        j = json_of(newc.read_response().body) or {}
        t.is_((j.get("connections") or {}).get("rejected"), 0,
              "nothing was rejected")

        # Busy connections (a request under way) are not closed.
        close_all(conns)
        conns = []
        deadline = time.monotonic() + scaled(5.0)
        while len(conns) < 4 and time.monotonic() < deadline:
            c = RawConn(srv)
            if served(c) == 200:
                conns.append(c)
            else:
                c.close()
                time.sleep(0.1)
        for c in conns:
            c.send("GET /api/health HTTP/1.1\r\n")
        time.sleep(0.3)
        late = RawConn(srv)
        conns.append(late)
        r = late.read_response(timeout=3.0)
        t.is_(r.status, 503, "4 connections with requests under way: a 5th "
              "gets 503")
        st = []
        for c in conns[:4]:
            c.send("Host: x\r\n\r\n")
            st.append(c.read_response().status)
        t.is_(st, [200] * 4, "and none of the 4 busy ones was closed")
    finally:
        close_all(conns)
    still_serving(t, srv, "eviction")


def test_out_of_fds(srv):
    lowered = srv.wait_for_log(
        lambda ln: "--max-connections lowered from 1024 to" in ln, 2.0)
    t.ok(lowered, "startup warns that --max-connections is lowered to fit "
         "ulimit -n 200", "\n".join(srv.log_lines()[-10:]))

    # More connections than fds: the first ones are held open (never sent a
    # request), the rest must each get a 503 at once, not hang.
    n = 400
    socks = []
    try:
        for i in range(n):
            s = socket.create_connection((srv.host, srv.port),
                                         timeout=scaled(5.0))
            socks.append(s)
        buf = {s: b"" for s in socks}
        done = set()
        deadline = time.monotonic() + scaled(10.0)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and len(done) < n:
            waiting = [s for s in socks if s not in done]
            r, _, _ = select.select(waiting, [], [], 0.2)
            if r:
                quiet_since = time.monotonic()
            for s in r:
                try:
                    chunk = s.recv(65536)
                except OSError:
                    chunk = b""
                buf[s] += chunk
                if not chunk:
                    done.add(s)
            # The ones still silent: accepted and waiting for a request.
            if time.monotonic() - quiet_since > scaled(1.0):
                break
        answered = [s for s in socks if buf[s]]
        got503 = [s for s in answered
                  if buf[s].startswith(b"HTTP/1.1 503 ")]
        t.is_(len(got503), len(answered),
              "every connection answered during the flood got 503")
        silent = [s for s in socks if not buf[s]]
        t.ok(len(got503) >= n - 200,
             "%d connections, fds for fewer than 200: at least %d get 503 "
             "(got %d)" % (n, n - 200, len(got503)))
        # The silent ones are real connections: each is served.
        st = []
        for s in silent:
            try:
                s.sendall(GET_HEALTH.encode())
            except OSError as e:
                st.append(repr(e))
                continue
        deadline = time.monotonic() + scaled(10.0)
        hung = 0
        for s in silent:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data.startswith(b"HTTP/1.1 "):
                hung += 1
            st.append(data[:12])
        t.is_(hung, 0, "the %d connections held open all answer a request"
              % len(silent), repr(st[:5]))
    finally:
        for s in socks:
            s.close()
    # The fds kept for the work stop connections first; the spare fd
    # answers if the fds run out all the same.
    t.ok(srv.wait_for_log(lambda ln: "503 with the spare fd" in ln or
                          "out of fds for connections" in ln, 2.0),
         "the server logged answering 503 for want of fds")
    # Once the flood is gone, the server serves again.
    got = None
    deadline = time.monotonic() + scaled(10.0)
    while time.monotonic() < deadline:
        with RawConn(srv) as c:
            got = served(c)
        if got == 200:
            break
        time.sleep(0.2)
    t.is_(got, 200, "GET /api/health answers after the flood is closed")


def main():
    check_binary()
    start_watchdog(90)
    with Server("--max-connections-per-client", "8") as srv:
        t.group("per-client cap", test_per_client, srv)
        t.ok(srv.alive(), "server still alive")
    with Server("--max-connections-per-client", "0") as srv:
        t.group("per-client cap off", test_per_client_off, srv)
    with Server("--max-connections", "4") as srv:
        t.group("idle connections evicted at the cap", test_evict_idle, srv)
        t.ok(srv.alive(), "server still alive")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 1000:
        t.skip("out of fds", "this test needs 1000 fds, ulimit -n is %d"
               % soft)
    else:
        # Held connections send nothing until the end: a slow run (a
        # sanitizer) must not see them cut by the request timeout.
        with LowFdServer("--request-timeout", "600", nofile=200) as srv:
            t.group("out of file descriptors", test_out_of_fds, srv)
            t.ok(srv.alive(), "server still alive")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
