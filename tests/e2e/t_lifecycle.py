#!/usr/bin/env python3
"""E2E: command line handling and clean shutdown on SIGTERM / SIGINT."""

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, RawConn, run_cli, check_binary,  # noqa: E402
                     start_watchdog, forbidden_log_lines, request)

t = TAP()


def test_version():
    rc, out, err = run_cli(["--version"], data_dir=False)
    t.is_(rc, 0, "--version exits 0", "stderr=%r" % err[-500:])
    first = out.splitlines()[0] if out.splitlines() else ""
    t.ok(re.fullmatch(r"stockcam \d+\.\d+\.\d+", first.strip()) is not None,
         "--version prints 'stockcam X.Y.Z' on stdout", "stdout=%r" % out[:300])


def test_help():
    rc, out, err = run_cli(["--help"], data_dir=False)
    t.is_(rc, 0, "--help exits 0", "stderr=%r" % err[-500:])
    t.ok("--listen" in out, "--help prints usage mentioning --listen on stdout",
         "stdout=%r" % out[:500])


def test_bogus():
    rc, out, err = run_cli(["--bogus"])
    t.is_(rc, 2, "--bogus exits with status 2", "stdout=%r stderr=%r" % (out[:300], err[-500:]))
    t.ok("--listen" in err or "usage" in err.lower(), "--bogus prints usage on stderr",
         "stderr=%r" % err[-500:])


def bad_value(args, name):
    rc, out, err = run_cli(["--listen", "127.0.0.1:0", *args] if "--listen" not in args
                           else list(args), timeout=3.0)
    t.ok(rc is not None and rc > 0, "%s exits with a non-zero status" % name,
         "rc=%r (None = still running after timeout, killed) stderr=%r" % (rc, err[-500:]))
    t.ok(err.strip() != "" and "listening on" not in err,
         "%s prints an error message on stderr (and does not start)" % name,
         "stderr=%r" % err[-500:])


def shutdown(sig, signame):
    with Server() as srv:
        c1 = RawConn(srv)
        c2 = RawConn(srv)
        c3 = RawConn(srv)
        try:
            c1.send("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            r = c1.read_response()
            t.is_(r.status, 200, "%s: keep-alive request served before shutdown" % signame)
            c2.send("GET /api/hea")          # half a request line
            # c3 sent nothing
            time.sleep(0.2)
            t0 = time.monotonic()
            rc = srv.stop(sig, timeout=5.0)
            el = time.monotonic() - t0
            t.is_(rc, 0, "%s with 3 idle connections: exit status 0 within 5 s" % signame,
                  "took %.2fs (None = had to be killed)\nlog tail:\n%s"
                  % (el, "\n".join(srv.log_lines()[-15:])))
            bad = forbidden_log_lines(srv.log_lines())
            t.ok(not bad, "%s: stderr has no ERROR / sanitizer lines" % signame,
                 "\n".join(bad[:20]))
            errs = [l for l in srv.log_lines() if re.match(r"\S+ error ", l)]
            if errs:  # informational only: the contract names upper-case ERROR
                t.diag("%s: error-level lines on stderr:\n%s" % (signame, "\n".join(errs[:10])))
            state, _ = c1.wait_closed(1.0)
            t.ok(state in ("eof", "reset"), "%s: served keep-alive connection is closed" % signame,
                 "state=%s" % state)
        finally:
            for c in (c1, c2, c3):
                c.close()


def shutdown_after_traffic():
    """Errors, 404s and a few requests, then SIGTERM: still a clean exit."""
    with Server() as srv:
        for path in ("/api/health", "/api/stats", "/", "/nope"):
            request(srv, "GET", path)
        c = RawConn(srv)
        try:
            c.send("GARBAGE\r\n\r\n")
            c.read_response()
        finally:
            c.close()
        rc = srv.stop(signal.SIGTERM, timeout=5.0)
        t.is_(rc, 0, "SIGTERM after mixed traffic: exit status 0",
              "log tail:\n" + "\n".join(srv.log_lines()[-15:]))
        bad = forbidden_log_lines(srv.log_lines())
        t.ok(not bad, "SIGTERM after mixed traffic: no ERROR / sanitizer lines",
             "\n".join(bad[:20]))


def main():
    check_binary()
    start_watchdog(60)
    t.group("--version", test_version)
    t.group("--help", test_help)
    t.group("--bogus", test_bogus)
    t.group("--listen nonsense", bad_value, ["--listen", "nonsense"], "--listen nonsense")
    t.group("--max-connections 0", bad_value, ["--max-connections", "0"], "--max-connections 0")
    t.group("--max-connections -5", bad_value, ["--max-connections", "-5"], "--max-connections -5")
    t.group("SIGTERM", shutdown, signal.SIGTERM, "SIGTERM")
    t.group("SIGINT", shutdown, signal.SIGINT, "SIGINT")
    t.group("SIGTERM after traffic", shutdown_after_traffic)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
