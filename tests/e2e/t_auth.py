#!/usr/bin/env python3
"""E2E: --auth. Every route against no credentials, a wrong password, an
unknown user, a viewer, an operator and a Bearer token, with yescrypt,
SHA-512 and SHA-256 crypt hashes; 401 with WWW-Authenticate as
problem+json, 403 for a viewer that writes; failed logins answered late
and, past the limit, refused from that address; --auth-open; CORS; the
warning for a public address without --auth; users files refused with a
clear message."""

import base64
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, request, check_binary, start_watchdog,  # noqa: E402
                     stop_clean, check_problem, scaled, command_prefix,
                     server_env, media_type, HOST)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt     # the system's crypt(3), as the server's

t = TAP()

USERS = {
    "vera": ("viewer-secret", "viewer", "$y$j9T$abcdefghijklmnop$"),
    "otto": ("operator-secret", "operator", "$6$saltsaltsalt$"),
    "ci-bot": ("Zm9vYmFyYmF6cXV4LTEyMzQ1Njc4OTA", "operator", "$5$tokensalt$"),
}


def users_file(extra=""):
    fd, path = tempfile.mkstemp(prefix="stockcam-users-")
    with os.fdopen(fd, "w") as f:
        f.write("# name:hash:role\n\n")
        for name, (pw, role, salt) in USERS.items():
            f.write("%s:%s:%s\n" % (name, crypt.crypt(pw, salt), role))
        f.write(extra)
    return path


def basic(name, pw):
    return {"Authorization": "Basic " +
            base64.b64encode(("%s:%s" % (name, pw)).encode()).decode()}


def bearer(name, pw):
    return {"Authorization": "Bearer %s.%s" % (name, pw)}


JOB = b'{"symbols": ["AAA"]}'
JSON = {"Content-Type": "application/json"}

# (method, path, body, needs operator)
ROUTES = [
    ("GET", "/", None, False),
    ("GET", "/app.js", None, False),
    ("GET", "/api/health", None, False),
    ("GET", "/api/stats", None, False),
    ("GET", "/api/config", None, False),
    ("GET", "/metrics", None, False),
    ("GET", "/api/jobs", None, False),
    ("GET", "/api/jobs/1", None, False),
    ("GET", "/api/jobs/1/symbols", None, False),
    ("GET", "/api/archives", None, False),
    ("GET", "/api/camera", None, False),
    ("HEAD", "/stream.mjpg", None, False),
    ("GET", "/snapshot.jpg", None, False),
    ("HEAD", "/api/events", None, False),
    ("POST", "/api/jobs", JOB, True),
    ("DELETE", "/api/jobs/1", None, True),
]


def call(srv, method, path, body, creds):
    hd = dict(creds or {})
    if body is not None:
        hd.update(JSON)
    return request(srv, method, path, body, hd, timeout=15)


def test_matrix(srv):
    # A job to read, as the operator.
    st, _, body = call(srv, "POST", "/api/jobs", JOB, basic("otto",
                       "operator-secret"))
    t.is_(st, 202, "operator submits job 1", body[:200])
    who = {
        "nobody": None,
        "vera (viewer, yescrypt)": basic("vera", "viewer-secret"),
        "otto (operator, SHA-512)": basic("otto", "operator-secret"),
        "ci-bot (operator token, SHA-256)": bearer("ci-bot",
                                                   USERS["ci-bot"][0]),
    }
    wrong = []
    for method, path, body, op in ROUTES:
        for name, creds in who.items():
            st, hd, data = call(srv, method, path, body, creds)
            if creds is None:
                want = 401
            elif op and name.startswith("vera"):
                want = 403
            else:
                want = None     # anything but 401/403
            if want is None:
                if st in (401, 403):
                    wrong.append((name, method, path, st))
            elif st != want:
                wrong.append((name, method, path, st, "want", want))
            elif want == 401 and (
                    "basic realm=" not in hd.get("www-authenticate", "")
                    .lower() or media_type(hd.get("content-type")) !=
                    "application/problem+json"):
                wrong.append((name, method, path, "401 without a Basic "
                              "challenge or problem+json", hd))
    t.is_(wrong, [], "auth matrix: %d routes x %d callers" % (
        len(ROUTES), len(who)))
    st, hd, body = call(srv, "GET", "/api/jobs", None, None)
    check_problem(t, "401 without credentials", st, hd, body, 401)
    t.ok("bearer" in hd.get("www-authenticate", "").lower(),
         "the 401 offers Bearer too", hd.get("www-authenticate"))
    st, hd, body = call(srv, "POST", "/api/jobs", JOB,
                        basic("vera", "viewer-secret"))
    check_problem(t, "403 for a viewer's POST", st, hd, body, 403)
    # Lowercase scheme, and a token is not a password's Basic twin.
    st, _, _ = call(srv, "GET", "/api/jobs", None, {
        "Authorization": "basic " + base64.b64encode(
            b"vera:viewer-secret").decode()})
    t.is_(st, 200, "the scheme's case does not matter")
    for name, creds in [
            ("a malformed header", {"Authorization": "Basic !!!"}),
            ("another scheme", {"Authorization": "Digest x"}),
            ("a Basic value without a colon",
             {"Authorization": "Basic " + base64.b64encode(
                 b"vera").decode()})]:
        st, hd, body = call(srv, "GET", "/api/jobs", None, creds)
        check_problem(t, "401 for %s" % name, st, hd, body, 401)


def timed_wrong(srv, creds, out, i):
    t0 = time.monotonic()
    st, _, _ = call(srv, "GET", "/api/jobs", None, creds)
    out[i] = (st, time.monotonic() - t0)


def test_bruteforce(srv):
    # A wrong password and an unknown user: both late, both 401.
    for name, creds in [("wrong password", basic("otto", "guess")),
                        ("unknown user", basic("mallory", "guess"))]:
        out = {}
        timed_wrong(srv, creds, out, 0)
        st, el = out[0]
        t.ok(st == 401 and el >= 0.9, "%s: 401 after the failure delay "
             "(%.2f s)" % (name, el))
    # While a guess waits, the server serves others at once.
    th = threading.Thread(target=timed_wrong, args=(
        srv, basic("otto", "guess2"), {}, 0))
    th.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    st, _, _ = call(srv, "GET", "/api/jobs", None,
                    basic("vera", "viewer-secret"))
    t.ok(st == 200 and time.monotonic() - t0 < scaled(0.8),
         "a good login is served while a bad one waits (%.3f s)" % (
             time.monotonic() - t0))
    th.join()
    # Past ten failures from this address: 429, without a check. Three
    # so far; a failure counts once its check is done, so seven guesses
    # at once are all checked (each arrives with at most nine counted),
    # however their checks and arrivals interleave.
    out = {}
    ths = [threading.Thread(target=timed_wrong, args=(
        srv, basic("otto", "guess-%d" % i), out, i)) for i in range(7)]
    for x in ths:
        x.start()
    for x in ths:
        x.join()
    t.ok(all(st == 401 for st, _ in out.values()), "7 guesses at once: "
         "each a late 401", repr(out))
    st, hd, body = call(srv, "GET", "/api/jobs", None,
                        basic("otto", "guess-again"))
    check_problem(t, "the 11th try after 10 failures gets 429", st, hd,
                  body, 429)
    t.ok(hd.get("retry-after", "").isdigit(), "... with Retry-After",
         hd.get("retry-after"))
    st, _, _ = call(srv, "GET", "/api/jobs", None,
                    basic("vera", "viewer-secret"))
    t.is_(st, 200, "a credential checked before still works from there "
          "(remembered, no new check)")
    st, _, _ = call(srv, "GET", "/api/jobs", None,
                    basic("ci-bot", USERS["ci-bot"][0]))
    t.is_(st, 429, "a new check from that address waits for the window")


def test_open_paths():
    path = users_file()
    try:
        with Server("--auth", path, "--auth-open", "health,metrics") as srv:
            for p in ("/api/health", "/metrics"):
                st, _, _ = request(srv, "GET", p)
                t.is_(st, 200, "--auth-open: %s without credentials" % p)
            st, _, _ = request(srv, "GET", "/api/stats")
            t.is_(st, 401, "--auth-open: other routes still need a login")
            stop_clean(t, srv, "--auth-open server")
        with Server("--auth", path) as srv:
            st, _, _ = request(srv, "GET", "/api/health")
            t.is_(st, 401, "without --auth-open, /api/health needs a "
                  "login too")
            stop_clean(t, srv, "strict server")
    finally:
        os.unlink(path)


def test_cors():
    path = users_file()
    try:
        with Server("--auth", path, "--allow-origin",
                    "https://app.example,https://b.example") as srv:
            st, hd, _ = request(srv, "OPTIONS", "/api/jobs", headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, "
                                                  "content-type"})
            t.ok(st == 204 and hd.get("access-control-allow-origin") ==
                 "https://app.example" and "POST" in hd.get(
                     "access-control-allow-methods", "") and
                 "authorization" in hd.get("access-control-allow-headers",
                                           "").lower(),
                 "CORS preflight from an allowed origin: 204, no login",
                 repr((st, hd)))
            st, hd, _ = request(srv, "GET", "/api/jobs", headers={
                "Origin": "https://b.example", **basic("vera",
                                                       "viewer-secret")})
            t.ok(st == 200 and hd.get("access-control-allow-origin") ==
                 "https://b.example" and
                 hd.get("access-control-allow-credentials") == "true",
                 "an allowed origin's request gets its CORS headers")
            st, hd, _ = request(srv, "GET", "/api/jobs", headers={
                "Origin": "https://evil.example", **basic("vera",
                                                          "viewer-secret")})
            t.ok("access-control-allow-origin" not in hd and
                 "Origin" in hd.get("vary", ""), "another origin gets no "
                 "CORS headers (and Vary: Origin)", repr(hd))
            stop_clean(t, srv, "CORS server")
        with Server() as srv:
            st, hd, _ = request(srv, "GET", "/api/health",
                                headers={"Origin": "https://app.example"})
            t.ok("access-control-allow-origin" not in hd,
                 "CORS is off by default")
            stop_clean(t, srv, "default server")
    finally:
        os.unlink(path)


def run_server(args, timeout=10):
    d = tempfile.mkdtemp(prefix="stockcam-e2e-")
    p = subprocess.run([*command_prefix(), "--data-dir", d, *args],
                       capture_output=True, timeout=scaled(timeout),
                       env=server_env())
    return p.returncode, p.stderr.decode(errors="replace")


def test_bad_files():
    cases = [
        ("a line without a role", "eve:%s\n" % crypt.crypt("x", "$6$ab$"),
         "not NAME:HASH:ROLE"),
        ("an unknown role", "eve:%s:admin\n" % crypt.crypt("x", "$6$ab$"),
         "not viewer or operator"),
        ("an MD5 hash", "eve:%s:viewer\n" % crypt.crypt("x", "$1$ab$"),
         "not a crypt(3) hash"),
        ("a plain password", "eve:secret:viewer\n", "not a crypt(3) hash"),
        ("a name listed twice", "vera:%s:viewer\n" % crypt.crypt(
            "x", "$6$ab$"), "listed twice"),
        ("a name with a dot", "e.ve:%s:viewer\n" % crypt.crypt(
            "x", "$6$ab$"), "the name must be"),
    ]
    for name, extra, want in cases:
        path = users_file(extra)
        try:
            rc, err = run_server(["--auth", path, "--listen", "%s:0" % HOST])
        finally:
            os.unlink(path)
        t.ok(rc == 2 and want in err and ":%d:" % (len(USERS) + 3) in err,
             "a users file with %s: exit 2 naming the line" % name,
             "rc=%r err=%r" % (rc, err[-400:]))
    rc, err = run_server(["--auth", "/nonexistent/users"])
    t.ok(rc == 2 and "/nonexistent/users" in err, "a missing users file: "
         "exit 2", err[-300:])


def test_public_warning():
    with Server("--listen", "0.0.0.0:0") as srv:
        t.ok(srv.wait_for_log(lambda ln: "without --auth" in ln and
                              "anyone" in ln, timeout=scaled(3)),
             "a public address without --auth: a warning naming the risk")
        stop_clean(t, srv, "public server")
    path = users_file()
    try:
        with Server("--listen", "0.0.0.0:0", "--auth", path) as srv:
            t.ok(not any("without --auth" in ln for ln in srv.log_lines()),
                 "with --auth: no warning")
            stop_clean(t, srv, "public server with --auth")
    finally:
        os.unlink(path)


def main():
    check_binary()
    start_watchdog(300)
    path = users_file()
    try:
        with Server("--auth", path) as srv:
            t.group("matrix", test_matrix, srv)
            t.group("brute force", test_bruteforce, srv)
            t.ok(srv.alive(), "server alive after the auth tests")
            stop_clean(t, srv, "auth server")
    finally:
        os.unlink(path)
    t.group("open paths", test_open_paths)
    t.group("CORS", test_cors)
    t.group("bad users files", test_bad_files)
    t.group("public address warning", test_public_warning)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
