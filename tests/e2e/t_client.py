#!/usr/bin/env python3
"""E2E: the command-line client (stockcam submit, armstrong, jobs, get,
cancel, watch, fetch, health) against the real server and the fixture
upstream: submit and wait (success, a failed symbol, Ctrl-C cancels,
--detach leaves it), symbols from arguments, stdin and a file, the jobs
table, fetch writing readable archives and XML, a server that is down,
refusals with the server's detail, usage errors, replies without the
members the client reads (no crash), and the progress line on
a pseudo-terminal (redrawn in place) and on a pipe (plain lines)."""

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, Upstream, request_json, wait_job, poll,  # noqa: E402
                     check_binary, check_upstream, start_watchdog, scaled,
                     command_prefix, server_env, stop_clean, tgz_names, HOST,
                     STOCKCAM_BIN, SERVER_BIN, WRAPPER)

t = TAP()


def client_env(srv):
    env = server_env()
    if srv is not None:
        env["STOCKCAM_SERVER"] = "http://%s:%d" % (HOST, srv.port)
    return env


def cli(srv, *args, stdin=None, timeout=30.0):
    """Runs a client command: (rc, stdout, stderr)."""
    p = subprocess.run([*command_prefix(), *args], input=stdin,
                       capture_output=True, env=client_env(srv),
                       timeout=scaled(timeout))
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def start(srv, *args):
    return subprocess.Popen([*command_prefix(), *args], env=client_env(srv),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def job(srv, jid):
    return request_json(srv, "GET", "/api/jobs/%s" % jid)[3]


def test_submit(srv):
    rc, out, err = cli(srv, "health")
    t.ok(rc == 0 and ": ok, version" in out, "health: exit 0 and the "
         "server's status", (rc, out, err))
    rc, out, err = cli(srv, "submit", "--wait", "AAPL", "MSFT")
    jid = out.strip()
    t.is_(rc, 0, "submit --wait: a job that succeeds exits 0", err)
    t.ok(jid.isdigit() and job(srv, jid)["state"] == "succeeded",
         "submit --wait: prints the job id; the job succeeded", out)
    t.ok("\r" not in err and "100%" in err and "2/2" in err,
         "submit --wait on a pipe: plain progress lines, the last at 100%",
         err)
    rc, out, err = cli(srv, "submit", "--wait", "GOOD1", "e404-BAD")
    t.is_(rc, 1, "submit --wait: a failed symbol exits 1", err)
    t.ok("e404-BAD" in err and "http_404" in err and "failed" in err,
         "submit --wait: names the failed symbol, its code and message",
         err)
    rc, out, err = cli(srv, "submit", "-", stdin=b"S1\nS2,S3 S4\n\n,S5\n")
    t.ok(rc == 0 and [s["symbol"] for s in job(srv, out.strip())["symbols"]]
         == ["S1", "S2", "S3", "S4", "S5"], "submit -: symbols from stdin, "
         "by lines, commas and spaces", (rc, out, err))
    d = tempfile.mkdtemp(prefix="stockcam-cli-")
    try:
        with open(os.path.join(d, "list"), "w") as f:
            f.write("F1, F2\nF3\n")
        rc, out, err = cli(srv, "submit", "--file", os.path.join(d, "list"),
                           "F0")
        t.ok(rc == 0 and sorted(s["symbol"] for s in
                                job(srv, out.strip())["symbols"]) ==
             ["F0", "F1", "F2", "F3"], "submit --file: symbols from a file "
             "(and arguments)", (rc, out, err))
    finally:
        shutil.rmtree(d)
    rc, out, err = cli(srv, "submit", "--json", "J1")
    try:
        j = json.loads(out)
    except ValueError:
        j = {}
    t.ok(rc == 0 and j.get("symbols", [{}])[0].get("symbol") == "J1",
         "submit --json: the job's JSON", out)
    rc, out, err = cli(srv, "submit", "--idempotency-key", "k-1", "K1")
    rc2, out2, err2 = cli(srv, "submit", "--idempotency-key", "k-1", "K1")
    t.ok(rc == 0 and rc2 == 0 and out == out2, "submit --idempotency-key: "
         "the same job twice", (out, out2, err2))
    rc, out, err = cli(srv, "submit", "GOOD", ".bad")
    t.ok(rc == 3 and "not a symbol" in err and err.count("\n") == 1,
         "submit: a refused job exits 3 with the server's detail on one "
         "line", (rc, err))
    rc, out, err = cli(srv, "armstrong", "--wait", "0", "100000")
    t.is_(rc, 0, "armstrong --wait: exits 0", err)
    t.ok(job(srv, out.strip())["result"][:4] == [0, 1, 2, 3],
         "armstrong: the search ran", out)


def test_listing(srv):
    rc, out, err = cli(srv, "jobs")
    lines = out.splitlines()
    t.ok(rc == 0 and lines and lines[0].split() == ["ID", "TYPE", "STATE",
                                                    "PROGRESS", "AGE"],
         "jobs: a table with a header", out)
    api = request_json(srv, "GET", "/api/jobs")[3]["jobs"]
    t.is_([ln.split()[0] for ln in lines[1:]], [str(j["id"]) for j in api],
          "jobs: one row per job, newest first")
    t.ok(any("(1 failed)" in ln and " failed " in ln for ln in lines),
         "jobs: progress shows the failed count", out)
    rc, out, err = cli(srv, "jobs", "--state", "failed", "--limit", "5")
    rows = out.splitlines()[1:]
    t.ok(rc == 0 and rows and all(r.split()[2] == "failed" for r in rows),
         "jobs --state failed: only failed jobs", out)
    rc, out, err = cli(srv, "jobs", "--state", "bogus")
    t.ok(rc == 2 and "queued, running" in err, "jobs --state bogus: a "
         "usage error naming the states, exit 2", (rc, err))
    first = api[-1]["id"]
    rc, out, err = cli(srv, "get", str(first))
    t.ok(rc == 0 and "state        succeeded" in out and "2/2" in out,
         "get: the job's summary", out)
    rc, out, err = cli(srv, "get", str(first), "--symbols")
    t.ok(rc == 0 and "AAPL" in out and "MSFT" in out and "SYMBOL" in out,
         "get --symbols: a table of its symbols", out)
    rc, out, err = cli(srv, "get", "99999")
    t.ok(rc == 3 and "no job 99999" in err, "get: an unknown job exits 3 "
         "with the server's detail", (rc, err))
    rc, out, err = cli(srv, "watch", str(first))
    t.ok(rc == 0 and "100%" in err, "watch: a finished job returns at once",
         (rc, err))


def test_fetch(srv):
    rc, out, err = cli(srv, "submit", "--wait", *["T%d" % i for i in
                                                 range(5)])
    jid = out.strip()
    d = tempfile.mkdtemp(prefix="stockcam-fetch-")
    try:
        rc, out, err = cli(srv, "fetch", jid, "--out", os.path.join(d, "a"))
        paths = out.split()
        names = set()
        for p in paths:
            names |= set(tgz_names(p))
        t.ok(rc == 0 and paths and names == {"%s/T%d.xml" % (jid, i)
                                             for i in range(5)},
             "fetch: writes the job's archives, readable, with its files",
             (rc, out, err, names))
        t.ok(not [f for f in os.listdir(os.path.join(d, "a"))
                  if f.endswith(".part")], "fetch: no partial files left")
        rc, out, err = cli(srv, "fetch", jid, "--xml", "--out",
                           os.path.join(d, "x"))
        files = sorted(os.listdir(os.path.join(d, "x")))
        with open(os.path.join(d, "x", "T0.xml"), "rb") as f:
            head = f.read(200)
        t.ok(rc == 0 and files == ["T%d.xml" % i for i in range(5)] and
             head.startswith(b"<?xml") and b"<Data>" in head,
             "fetch --xml: each symbol's XML file", (rc, files, err))
    finally:
        shutil.rmtree(d)


def test_interrupt(srv):
    slow = ["slow-3000-C%d" % i for i in range(40)]
    p = start(srv, "submit", "--wait", *slow)
    jid = p.stdout.readline().decode().strip()
    poll(lambda: job(srv, jid)["state"] == "running", timeout=10)
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=scaled(20))
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    t.is_(p.returncode, 130, "Ctrl-C: submit --wait exits 130",
          err.decode())
    j = wait_job(srv, jid, timeout=30)
    t.is_(j["state"], "canceled", "Ctrl-C: ... after asking the server to "
          "cancel the job")
    p = start(srv, "submit", "--wait", "--detach", *slow)
    jid = p.stdout.readline().decode().strip()
    poll(lambda: job(srv, jid)["state"] == "running", timeout=10)
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=scaled(20))
    t.is_(p.returncode, 130, "--detach: Ctrl-C exits 130")
    t.is_(job(srv, jid)["state"], "running", "--detach: ... and leaves the "
          "job running")
    rc, out, err = cli(srv, "cancel", jid)
    t.ok(rc == 0 and "canceled" in out and wait_job(srv, jid)["state"] ==
         "canceled", "cancel: cancels a running job", (rc, out, err))


def test_tty(srv):
    """The progress line on a terminal: redrawn in place."""
    master, slave = pty.openpty()
    p = subprocess.Popen([*command_prefix(), "submit", "--wait",
                          *["slow-150-P%d" % i for i in range(30)]],
                         env=client_env(srv), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    data = b""
    deadline = time.monotonic() + scaled(60)
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        elif p.poll() is not None:
            break
    p.wait(timeout=scaled(10))
    os.close(master)
    text = data.decode("utf-8", "replace")
    t.is_(p.returncode, 0, "tty: the job succeeds")
    t.ok(text.count("\r\x1b[K") >= 3, "tty: the line is redrawn in place "
         "(carriage return, clear line), not scrolled",
         repr(text[-300:]))
    t.ok(text.rstrip("\r\n").count("\n") == 0 and text.endswith("\n") and
         "100%" in text.split("\r\x1b[K")[-1], "tty: one line in the end, "
         "at 100%, then a newline", repr(text[-200:]))
    t.ok("#" in text and ("-]" in text or "#]" in text), "tty: with a bar")


def test_restart(up):
    """submit --wait rides out a server killed and started again."""
    data = tempfile.mkdtemp(prefix="stockcam-cli-restart-")
    common = ("--source-url", up.source_url, "--data-dir", data,
              "--per-host-connections", "2")
    srv = Server(*common)
    port = srv.port
    again = None
    try:
        p = start(srv, "submit", "--wait", *["slow-700-W%d" % i
                                             for i in range(12)])
        jid = p.stdout.readline().decode().strip()
        poll(lambda: job(srv, jid)["progress"]["succeeded"] >= 2,
             timeout=30)
        srv.stop(signal.SIGKILL)
        time.sleep(1.5)
        again = Server(*common, "--listen", "%s:%d" % (HOST, port))
        try:
            out, err = p.communicate(timeout=scaled(90))
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        t.is_(p.returncode, 0, "restart: submit --wait follows the job "
              "through a kill -9 and a restart, to its end", err.decode())
        t.is_(job(again, jid)["state"], "succeeded", "restart: the job "
              "succeeded on the new server")
    finally:
        srv.close()
        if again is not None:
            again.close()
        shutil.rmtree(data, ignore_errors=True)


def test_completion():
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                          "..", "contrib", "stockcam.bash")
    if not shutil.which("bash"):
        t.ok(True, "completion # SKIP no bash")
        return
    probe = ('source "$1"; '
             'COMP_WORDS=(stockcam su); COMP_CWORD=1; _stockcam; '
             'echo "${COMPREPLY[*]}"; '
             'COMP_WORDS=(stockcam jobs --state f); COMP_CWORD=3; _stockcam; '
             'echo "${COMPREPLY[*]}"; '
             'COMP_WORDS=(stockcam submit --w); COMP_CWORD=2; _stockcam; '
             'echo "${COMPREPLY[*]}"')
    p = subprocess.run(["bash", "-c", probe, "bash", script],
                       capture_output=True, timeout=30)
    t.is_(p.stdout.decode().splitlines(), ["submit", "failed", "--wait"],
          "completion: commands, states and options", p.stderr)


def test_down():
    free = Server()
    port = free.port
    free.stop()
    env = server_env()
    env["STOCKCAM_SERVER"] = "http://%s:%d" % (HOST, port)
    for args in (["health"], ["submit", "AAPL"], ["jobs"], ["watch", "1"]):
        p = subprocess.run([*command_prefix(), *args], capture_output=True,
                           env=env, timeout=scaled(30))
        err = p.stderr.decode()
        t.ok(p.returncode == 3 and err.count("\n") == 1 and
             ("onnect" in err), "server down: %s exits 3 with one line"
             % args[0], (p.returncode, err))
    for args, what in ((["get", "abc"], "a job id that is not one"),
                       (["armstrong", "5"], "armstrong without TO"),
                       (["submit"], "submit without symbols"),
                       (["jobs", "--frob"], "an unknown option"),
                       (["jobs", "--state", "running&limit=1"],
                        "a --state that is no state"),
                       (["jobs", "--limit", "0"], "a --limit of 0"),
                       (["jobs", "--limit", "5x"], "a --limit that is "
                        "not a number"),
                       (["health", "--server", "ftp://x"], "a server URL "
                        "that is not http")):
        p = subprocess.run([*command_prefix(), *args], capture_output=True,
                           env=env, timeout=scaled(30))
        t.ok(p.returncode == 2 and p.stderr, "usage: %s exits 2" % what,
             (p.returncode, p.stderr))


class OddServer:
    """A server that answers every API call with JSON of the right kind
    but without the members the client reads (another version, a proxy
    in the way): the client must say something and exit, never crash."""

    REPLIES = {
        ("POST", "/api/jobs"): (202, {"id": 1}),
        ("GET", "/api/jobs/1"): (200, {"id": 1, "state": 7,
                                       "symbols": [{}, {"error": {}}]}),
        ("GET", "/api/jobs/1/symbols"): (200, {"symbols": [{}],
                                               "total": 1}),
        ("GET", "/api/jobs"): (200, {"jobs": [{}, {"id": "x"}]}),
        ("GET", "/api/health"): (200, {}),
        ("DELETE", "/api/jobs/1"): (200, {}),
        ("GET", "/api/jobs/2"): (200, {"id": 2, "state": "succeeded",
                                       "symbols": [{"symbol": "A",
                                                    "state": "succeeded",
                                                    "archive": "a.tgz"}]}),
        ("GET", "/archives/a.tgz"): (200, {}),
        ("GET", "/api/jobs/3"): (200, {"id": 3, "state": "succeeded",
                                       "symbols": [{"symbol": "S",
                                                    "state": "succeeded",
                                                    "archive": "slow.tgz"}]}),
    }
    SLOW = "/archives/slow.tgz"     # a byte every 0.1 s, for a minute

    def __init__(self):
        import http.server
        import threading
        replies = self.REPLIES
        seen = self.seen = []   # (method, path, Authorization)

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self):
                seen.append((self.command, self.path.split("?")[0],
                             self.headers.get("Authorization")))
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                if self.path == OddServer.SLOW:
                    self.send_response(200)
                    self.send_header("Content-Length", "600")
                    self.end_headers()
                    try:
                        for _ in range(600):
                            self.wfile.write(b"x")
                            self.wfile.flush()
                            time.sleep(0.1)
                    except OSError:
                        pass    # the client hung up: what we want
                    return
                st, obj = replies.get((self.command,
                                       self.path.split("?")[0]),
                                      (404, {}))
                body = json.dumps(obj).encode()
                self.send_response(st)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = answer

        self.httpd = http.server.ThreadingHTTPServer((HOST, 0), H)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_odd_server():
    odd = OddServer()
    try:
        for args in (["health"], ["jobs"], ["get", "1"],
                     ["get", "1", "--symbols"], ["submit", "AAPL",
                                                 "--detach"],
                     ["cancel", "1"]):
            p = subprocess.run([*command_prefix(), *args],
                               capture_output=True, env=client_env(odd),
                               timeout=scaled(30))
            t.ok(p.returncode is not None and p.returncode >= 0,
                 "odd replies: %s exits %r, no crash" % (
                     " ".join(args), p.returncode),
                 p.stderr.decode("utf-8", "replace")[-300:])
        # STOCKCAM_TOKEN goes with every request: calls, downloads, and
        # the watch's summary (the job is over: no event stream).
        del odd.seen[:]
        env = client_env(odd)
        env["STOCKCAM_TOKEN"] = "t0ken"
        out = tempfile.mkdtemp(prefix="stockcam-e2e-token-")
        try:
            for args in (["get", "2"], ["fetch", "2", "--out", out],
                         ["watch", "2"]):
                subprocess.run([*command_prefix(), *args],
                               capture_output=True, env=env,
                               timeout=scaled(30))
        finally:
            shutil.rmtree(out, ignore_errors=True)
        paths = [p for _, p, _ in odd.seen]
        bare = [(m, p, a) for m, p, a in odd.seen if a != "Bearer t0ken"]
        t.ok(paths.count("/api/jobs/2") >= 3 and "/archives/a.tgz" in paths
             and not bare, "STOCKCAM_TOKEN: every request carries the "
             "bearer token (%d requests)" % len(odd.seen),
             "paths=%r without=%r" % (paths, bare[:5]))
        # Ctrl-C in the middle of a download ends it at once.
        out = tempfile.mkdtemp(prefix="stockcam-e2e-int-")
        try:
            p = subprocess.Popen([*command_prefix(), "fetch", "3", "--out",
                                  out], env=client_env(odd),
                                 stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            poll(lambda: any(pa == OddServer.SLOW for _, pa, _ in odd.seen),
                 timeout=10)
            time.sleep(0.5)
            t0 = time.monotonic()
            p.send_signal(signal.SIGINT)
            try:
                _, err = p.communicate(timeout=scaled(10))
            except subprocess.TimeoutExpired:
                p.kill()
                _, err = p.communicate()
            el = time.monotonic() - t0
            left = os.listdir(out)
            t.ok(p.returncode == 130 and el < scaled(5) and not left,
                 "Ctrl-C during a download: exit 130 in %.1f s, no file "
                 "left" % el, (p.returncode, err.decode()[-200:], left))
        finally:
            shutil.rmtree(out, ignore_errors=True)
    finally:
        odd.close()


def test_front(up):
    """The stockcam command runs stockcam-server for all but csv2xml: the
    same process (PID), arguments, output and exit status."""
    srv = Server("--source-url", up.source_url, front=True)
    with srv:
        st = request_json(srv, "GET", "/api/health")[0]
        t.is_(st, 200, "a server started by the stockcam command serves")
        try:
            exe = os.readlink("/proc/%d/exe" % srv.proc.pid)
        except OSError as e:
            exe = str(e)
        t.ok(WRAPPER or os.path.basename(exe) == "stockcam-server",
             "... as stockcam-server in the process it started (exec)", exe)
        env = client_env(srv)
        a = subprocess.run([STOCKCAM_BIN, "health"], capture_output=True,
                           env=env, timeout=scaled(30))
        b = subprocess.run([SERVER_BIN, "health"], capture_output=True,
                           env=env, timeout=scaled(30))
        t.ok(a.returncode == b.returncode == 0 and
             a.stdout.split(b",")[0] == b.stdout.split(b",")[0],
             "stockcam health runs the client", (a, b))
        stop_clean(t, srv, "server started by the stockcam command")
    for args in (["--version"], ["--no-such-option"], ["submit"]):
        a = subprocess.run([STOCKCAM_BIN, *args], capture_output=True,
                           env=server_env(), timeout=scaled(30))
        b = subprocess.run([SERVER_BIN, *args], capture_output=True,
                           env=server_env(), timeout=scaled(30))
        # The same argv, so getopt's messages name the command run.
        same = b.stderr.replace(SERVER_BIN.encode(), STOCKCAM_BIN.encode())
        t.ok((a.returncode, a.stdout, a.stderr) ==
             (b.returncode, b.stdout, same),
             "stockcam %s: the server's output and exit status %d"
             % (" ".join(args), b.returncode), (a, b))
    alone = tempfile.mkdtemp(prefix="stockcam-front-")
    try:
        shutil.copy(STOCKCAM_BIN, alone)
        cmd = os.path.join(alone, "stockcam")
        p = subprocess.run([cmd, "--version"], capture_output=True,
                           timeout=scaled(30))
        t.ok(p.returncode == 127 and b"cannot run" in p.stderr and
             b"stockcam-server" in p.stderr,
             "without its server binary: exit 127 naming what is missing",
             p)
        p = subprocess.run([cmd, "csv2xml"], input=b"A,B\n1,2\n",
                           capture_output=True, timeout=scaled(30))
        t.ok(p.returncode == 0 and b"<B>2</B>" in p.stdout,
             "... while csv2xml, its own, still works", p)
    finally:
        shutil.rmtree(alone, ignore_errors=True)


def main():
    check_binary()
    check_upstream()
    start_watchdog(scaled(600))
    with Upstream("--rows", "200") as up:
        srv = Server("--source-url", up.source_url)
        with srv:
            t.group("submit", test_submit, srv)
            t.group("listing", test_listing, srv)
            t.group("fetch", test_fetch, srv)
            t.group("interrupt", test_interrupt, srv)
            t.group("tty", test_tty, srv)
            stop_clean(t, srv, "client")
        t.group("restart", test_restart, up)
        t.group("front", test_front, up)
    t.group("down", test_down)
    t.group("odd replies", test_odd_server)
    t.group("completion", test_completion)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
