#!/usr/bin/env python3
"""Shared helpers for the stockcam end-to-end tests (Python 3 stdlib only).

Environment:
  STOCKCAM_BIN      absolute path of the stockcam command
                    (default: ../../stockcam relative to this directory)
  STOCKCAM_SERVER_BIN  the server binary it runs (default: stockcam-server
                    beside STOCKCAM_BIN); servers and client commands are
                    started from it directly, so a wrapper such as
                    valgrind sees the process that does the work
  STOCKCAM_WRAPPER  optional command prefix (e.g. valgrind ...); when set,
                    every timeout is multiplied by 10.

Every test script prints TAP on stdout and exits 0 even when tests fail;
it exits non-zero only when the harness itself crashes.
"""

import http.client
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import weakref

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apicheck import CHECK as API_CHECK  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STOCKCAM_BIN = os.environ.get("STOCKCAM_BIN") or os.path.normpath(
    os.path.join(HERE, "..", "..", "stockcam"))
SERVER_BIN = os.environ.get("STOCKCAM_SERVER_BIN") or os.path.join(
    os.path.dirname(STOCKCAM_BIN), "stockcam-server")
WRAPPER = shlex.split(os.environ.get("STOCKCAM_WRAPPER", "") or "")
SCALE = 10.0 if WRAPPER else 1.0
HOST = "127.0.0.1"

LISTEN_RE = re.compile(r"listening on (https?)://([0-9.]+):([0-9]+)/")

# Lines that indicate a crash / sanitizer report / error in the server log.
FORBIDDEN_LOG = ("ERROR", "AddressSanitizer", "runtime error", "LeakSanitizer")
# valgrind's own summary line contains "ERROR" even when everything is fine.
_VALGRIND_OK_RE = re.compile(r"^==\d+== ERROR SUMMARY: 0 errors")


def scaled(seconds):
    """A timeout, multiplied by 10 when running under a wrapper."""
    return seconds * SCALE


class ServerError(Exception):
    """The server could not be started / behaved unexpectedly at process level."""


class ProtocolError(Exception):
    """An HTTP response could not be parsed or was truncated."""


# Exceptions that mean "the server misbehaved" (a failed test), as opposed to
# a bug in the test code (which must crash the script -> TAP ERROR).
TEST_FAILURE_EXCEPTIONS = (OSError, http.client.HTTPException, ServerError,
                           ProtocolError, ValueError,
                           subprocess.TimeoutExpired)

_live_servers = weakref.WeakSet()


def command_prefix():
    """The server binary, under the wrapper: servers and client commands."""
    return [*WRAPPER, SERVER_BIN]


def front_prefix():
    """The stockcam command itself, under the wrapper (csv2xml)."""
    return [*WRAPPER, STOCKCAM_BIN]


def server_env():
    """The environment for the server: ours minus STOCKCAM_* variables, which
    the server reads as option defaults (e.g. STOCKCAM_MAX_CONNECTIONS) and
    which would make the tests depend on the caller's environment."""
    return {k: v for k, v in os.environ.items() if not k.startswith("STOCKCAM_")}


def check_binary():
    """Bail out (harness error) when the binary does not exist."""
    for b in (STOCKCAM_BIN, SERVER_BIN):
        if not (os.path.isfile(b) and os.access(b, os.X_OK)):
            print("Bail out! binary not found or not executable: %s" % b,
                  flush=True)
            sys.exit(1)


def built_with(feature):
    """Whether the binary has an optional part ("tls", "sqlite"), from the
    features line of its --version."""
    r = subprocess.run([SERVER_BIN, "--version"], capture_output=True,
                       text=True, timeout=30)
    for ln in r.stdout.splitlines():
        if ln.startswith("features:"):
            return feature in ln.split()[1:]
    return False


def start_watchdog(seconds):
    """Abort the whole script (harness error) if it runs longer than
    `seconds` (scaled).  Kills every server still alive."""
    def fire():
        print("Bail out! watchdog: test script exceeded %.0f s" % scaled(seconds),
              flush=True)
        for s in list(_live_servers):
            try:
                s.proc.kill()
            except Exception:
                pass
        os._exit(3)
    t = threading.Timer(scaled(seconds), fire)
    t.daemon = True
    t.start()
    return t


def forbidden_log_lines(lines):
    bad = []
    for ln in lines:
        if _VALGRIND_OK_RE.search(ln):
            continue
        if any(w in ln for w in FORBIDDEN_LOG):
            bad.append(ln)
    return bad


class Server:
    """A stockcam process listening on 127.0.0.1:<ephemeral port>.

    Usage:
        with Server("--max-body-size", "1024") as srv:
            request(srv, "GET", "/api/health")
    """

    def __init__(self, *extra_args, start_timeout=10.0, log_level="info",
                 env=None, stdin=None, cafile=None, front=False):
        """extra_args come after the default options (the server is expected
        to let a later option override an earlier one, e.g. --log-level).
        The server prints its 'listening on' line at every log level.
        env adds variables to the server's environment; stdin is a file
        object or fd for its standard input (default /dev/null).
        A server that says https is spoken to over TLS by request() and
        RawConn, trusting cafile (e.g. the self-signed certificate it
        serves, see make_cert).  front=True starts it through the stockcam
        command (which execs the server) instead of the server binary."""
        self.extra_args = [str(a) for a in extra_args]
        self.cafile = cafile
        self.tls = False
        self.extra_env = dict(env or {})
        self.stdin = stdin
        self.data_dir = tempfile.mkdtemp(prefix="stockcam-e2e-")
        self.port = None
        self.host = None
        self.url = None
        self.proc = None
        self._lines = []
        self._cond = threading.Condition()
        self._reader = None
        self._eof = False
        self.argv = [*(front_prefix() if front else command_prefix()),
                     "--listen", "%s:0" % HOST,
                     "--data-dir", self.data_dir,
                     "--log-level", log_level,
                     *self.extra_args]
        try:
            self._start(scaled(start_timeout))
        except BaseException:
            self.close()
            raise

    # -- process management -------------------------------------------------
    def _read_stderr(self):
        f = self.proc.stderr
        try:
            for raw in iter(f.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                with self._cond:
                    self._lines.append(line)
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def _start(self, timeout):
        self.proc = subprocess.Popen(self.argv,
                                     stdin=(subprocess.DEVNULL
                                            if self.stdin is None
                                            else self.stdin),
                                     env={**server_env(), **self.extra_env},
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        _live_servers.add(self)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                while seen < len(self._lines):
                    m = LISTEN_RE.search(self._lines[seen])
                    seen += 1
                    if m:
                        self.tls = m.group(1) == "https"
                        self.host = m.group(2)
                        self.port = int(m.group(3))
                        self.url = "%s://%s:%d/" % (m.group(1), self.host,
                                                    self.port)
                        return
                if self._eof:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
        rc = self.proc.poll()
        tail = "\n".join(self.log_lines()[-20:])
        raise ServerError("server did not report 'listening on' (exit=%r) "
                          "argv=%r\nstderr tail:\n%s" % (rc, self.argv, tail))

    def log_lines(self):
        with self._cond:
            return list(self._lines)

    def wait_for_log(self, predicate, timeout=2.0):
        """Wait until a log line satisfies predicate; return it or None."""
        deadline = time.monotonic() + scaled(timeout)
        seen = 0
        with self._cond:
            while True:
                while seen < len(self._lines):
                    ln = self._lines[seen]
                    seen += 1
                    if predicate(ln):
                        return ln
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    return None
                self._cond.wait(min(left, 0.1))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Send `sig`, wait up to `timeout` (scaled) seconds.  Returns the
        exit code (negative for death by signal) or None if the process had to
        be killed because it did not exit in time."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                rc = self.proc.wait(scaled(timeout))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = None
        if self._reader is not None:
            self._reader.join(scaled(2.0))
        return rc

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.kill()
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(scaled(5.0))
            except subprocess.TimeoutExpired:
                pass
            if self._reader is not None:
                self._reader.join(scaled(2.0))
            try:
                self.proc.stderr.close()
            except Exception:
                pass
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def run_cli(args, timeout=5.0, data_dir=True):
    """Run the binary to completion: returns (rc, stdout str, stderr str).
    rc is None when it had to be killed after `timeout` (scaled)."""
    tmp = None
    argv = [*command_prefix(), *args]
    try:
        if data_dir:
            tmp = tempfile.mkdtemp(prefix="stockcam-e2e-cli-")
            argv += ["--data-dir", tmp]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, env=server_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = p.communicate(timeout=scaled(timeout))
            rc = p.returncode
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            rc = None
        return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


# -- HTTP helpers ---------------------------------------------------------------

def _port_of(server):
    return server if isinstance(server, int) else server.port


def tls_context(cafile):
    """A client context that verifies the server against cafile alone."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def client_tls(server):
    """The client TLS context for server, or None for plain HTTP."""
    if isinstance(server, Server) and server.tls:
        return tls_context(server.cafile)
    return None


def make_cert(directory, name="cert", cn="localhost", days=30):
    """A self-signed EC certificate for localhost and 127.0.0.1, made with
    the openssl command: returns (certificate path, key path)."""
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + "-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", str(days),
                    "-subj", "/CN=" + cn, "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=60)
    return cert, key


def request(server, method, path, body=None, headers=None, timeout=5.0):
    """One request on a fresh http.client connection.
    Returns (status, {lowercased header: value}, body bytes)."""
    ctx = client_tls(server)
    if ctx is not None:
        conn = http.client.HTTPSConnection(HOST, _port_of(server),
                                           timeout=scaled(timeout),
                                           context=ctx)
    else:
        conn = http.client.HTTPConnection(HOST, _port_of(server),
                                          timeout=scaled(timeout))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        if isinstance(server, Server):      # not the upstream fixture
            API_CHECK.observe(method, path, resp.status,
                              resp.getheader("Content-Type"), data)
        return resp.status, headers_dict(resp.getheaders()), data
    finally:
        conn.close()


def headers_dict(pairs):
    d = {}
    for k, v in pairs:
        k = k.lower()
        d[k] = (d[k] + ", " + v) if k in d else v
    return d


def json_of(body):
    """Parse a JSON body; None if it is not valid UTF-8 JSON."""
    try:
        if isinstance(body, (bytes, bytearray)):
            body = body.decode("utf-8")
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None


def media_type(ctype):
    """'Application/JSON; charset=utf-8' -> 'application/json'."""
    if ctype is None:
        return None
    return ctype.split(";", 1)[0].strip().lower()


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def problem_issues(status, headers, body, want_status):
    """List of ways a reply deviates from a problem+json error of status
    `want_status` (empty list = conforming)."""
    issues = []
    if status != want_status:
        issues.append("HTTP status %r, want %r" % (status, want_status))
    ct = headers.get("content-type")
    if media_type(ct) != "application/problem+json":
        issues.append("Content-Type %r, want application/problem+json" % ct)
    j = json_of(body)
    if not isinstance(j, dict):
        issues.append("body is not a JSON object: %r" % body[:200])
        return issues
    if not isinstance(j.get("type"), str):
        issues.append("'type' not a string: %r" % (j.get("type"),))
    if not isinstance(j.get("title"), str):
        issues.append("'title' not a string: %r" % (j.get("title"),))
    if not is_int(j.get("status")) or j.get("status") != want_status:
        issues.append("'status' field %r, want integer %d"
                      % (j.get("status"), want_status))
    d = j.get("detail")
    if not isinstance(d, str) or not d.strip():
        issues.append("'detail' not a non-empty string: %r" % (d,))
    return issues


class Response:
    def __init__(self, version, status, reason, header_list, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.header_list = header_list
        self.headers = headers_dict(header_list)
        self.body = body

    def __repr__(self):
        return "<Response HTTP/%s %d %r %r body=%r>" % (
            self.version, self.status, self.reason, self.headers,
            self.body[:200])


_STATUS_RE = re.compile(rb"^HTTP/(\d)\.(\d) (\d{3})(?: (.*))?$")


class RawConn:
    """A raw TCP connection to the server with an incremental HTTP/1.x
    response parser (handles pipelined responses)."""

    # Subclasses that make their own socket may skip __init__: then their
    # replies are not checked against the OpenAPI document.
    sent = None
    checked = False

    def __init__(self, server, timeout=5.0):
        self.sock = socket.create_connection((HOST, _port_of(server)),
                                             timeout=scaled(timeout))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = client_tls(server)
        if ctx is not None:
            try:
                self.sock = ctx.wrap_socket(self.sock, server_hostname=HOST)
            except BaseException:
                self.sock.close()
                raise
        self.buf = b""
        self.eof = False
        self.sent = []          # (method, target) of each request sent
        self.checked = isinstance(server, Server)

    # A request line at the start of the data or after a blank line: the
    # targets of the responses to come, for the OpenAPI check.
    _REQ_RE = re.compile(rb"(?:^|\r?\n\r?\n)(?:\r?\n)*([A-Z]+) (\S+) HTTP/1\.[01]\r?\n")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        if self.sent is None:
            self.sent = []
        self.sent.extend((m.decode("latin-1"), t.decode("latin-1"))
                         for m, t in self._REQ_RE.findall(data))
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Read more bytes into buf. False on EOF. Raises socket.timeout."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out waiting for data")
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ProtocolError("EOF after %d of %d body bytes"
                                    % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_line(self, deadline):
        while b"\r\n" not in self.buf:
            if not self._fill(deadline):
                raise ProtocolError("EOF while reading a line: %r" % self.buf)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_response(self, timeout=5.0, method="GET"):
        """Read exactly one response.  Raises ProtocolError on EOF before a
        complete response, socket.timeout on timeout."""
        deadline = time.monotonic() + scaled(timeout)
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                raise ProtocolError("EOF before end of response head; got %r"
                                    % self.buf[:300])
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        m = _STATUS_RE.match(lines[0])
        if not m:
            raise ProtocolError("bad status line %r" % lines[0])
        version = "%s.%s" % (m.group(1).decode(), m.group(2).decode())
        status = int(m.group(3))
        reason = (m.group(4) or b"").decode("latin-1")
        hl = []
        for ln in lines[1:]:
            if b":" not in ln:
                raise ProtocolError("bad header line %r" % ln)
            k, v = ln.split(b":", 1)
            hl.append((k.decode("latin-1").strip(), v.decode("latin-1").strip()))
        hd = headers_dict(hl)
        if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
            body = b""
        elif "chunked" in hd.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size_line = self._read_line(deadline)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ProtocolError("bad chunk size %r" % size_line)
                if size == 0:
                    while self._read_line(deadline) != b"":
                        pass
                    break
                body += self._read_exact(size, deadline)
                if self._read_exact(2, deadline) != b"\r\n":
                    raise ProtocolError("missing CRLF after chunk")
        elif "content-length" in hd:
            try:
                n = int(hd["content-length"])
            except ValueError:
                raise ProtocolError("bad Content-Length %r" % hd["content-length"])
            body = self._read_exact(n, deadline)
        else:
            while self._fill(deadline):
                pass
            body, self.buf = self.buf, b""
        # A request line the server could not read has no target: its
        # reply must still be a Problem.
        if status >= 200 and self.checked:  # a 100 answers no request
            sent_method, target = self.sent.pop(0) if self.sent else \
                ("-", "-")
            API_CHECK.observe(sent_method, target, status,
                              hd.get("content-type"), body)
        return Response(version, status, reason, hl, body)

    def wait_closed(self, timeout=2.0):
        """Wait for the peer to close.  Returns (state, extra_bytes) with state
        in 'eof', 'reset', 'timeout'.  Bytes already buffered or received
        meanwhile are returned as extra_bytes."""
        deadline = time.monotonic() + scaled(timeout)
        extra = self.buf
        self.buf = b""
        if self.eof:
            return "eof", extra
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout", extra
            try:
                self.sock.settimeout(left)
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return "timeout", extra
            except (ConnectionResetError, BrokenPipeError):
                return "reset", extra
            if not chunk:
                self.eof = True
                return "eof", extra
            extra += chunk

    def readable(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def parse_response_bytes(data, method="GET"):
    """Parse one complete response out of a bytes blob (or raise)."""
    class _Fake(RawConn):
        def __init__(self, data):
            self.buf = data
            self.eof = True
            self.sock = None
    return _Fake(data).read_response(timeout=1.0, method=method)


# -- TAP ------------------------------------------------------------------------

class TAP:
    """Minimal TAP producer.  The plan is printed by plan() up front, or by
    done() at the end (trailing plan) if plan() was never called."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        self.planned = None

    @staticmethod
    def _clean(name):
        return " ".join(str(name).replace("#", "").split())

    def plan(self, n):
        self.planned = n
        print("1..%d" % n, flush=True)

    def diag(self, msg):
        for ln in str(msg).splitlines() or [""]:
            print("# " + ln)
        sys.stdout.flush()

    def ok(self, cond, name, diag=None):
        self.n += 1
        cond = bool(cond)
        if not cond:
            self.failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n,
                              self._clean(name)), flush=True)
        if not cond and diag:
            if isinstance(diag, (list, tuple)):
                diag = "\n".join(str(d) for d in diag)
            self.diag(diag)
        return cond

    def skip(self, name, reason):
        """A check that could not run: counted as skipped, never passed."""
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, self._clean(name),
                                        self._clean(reason)), flush=True)

    def is_(self, got, want, name, diag=None):
        good = got == want
        msg = "got:  %r\nwant: %r" % (got, want)
        if diag:
            msg += "\n" + str(diag)
        return self.ok(good, name, msg)

    def group(self, name, fn, *args, **kw):
        """Run a group of checks; a server-side failure that raises (reset,
        timeout, unparsable reply, server that does not start) becomes one
        'not ok'.  Bugs in the test code (other exceptions) propagate."""
        try:
            fn(*args, **kw)
            return True
        except TEST_FAILURE_EXCEPTIONS as e:
            self.ok(False, "%s: aborted by %s" % (name, type(e).__name__),
                    "%s\n%s" % (e, traceback.format_exc()))
            return False

    def done(self):
        API_CHECK.report(self)
        if self.planned is None:
            print("1..%d" % self.n, flush=True)
        elif self.planned != self.n:
            self.diag("planned %d tests but ran %d" % (self.planned, self.n))
        if self.failed:
            self.diag("%d of %d tests failed" % (self.failed, self.n))
        sys.stdout.flush()
        return 0


def still_serving(t, srv, after):
    """A fresh GET /api/health must answer 200 after an error case."""
    st, hd, body = request(srv, "GET", "/api/health")
    j = json_of(body)
    t.ok(st == 200 and isinstance(j, dict) and j.get("status") == "ok",
         "server still serves GET /api/health after %s" % after,
         "status=%r body=%r" % (st, body[:200]))


def check_problem(t, name, st, hd, body, want):
    """The reply must be `want` with a complete problem+json body."""
    t.is_(st, want, "%s -> %d" % (name, want), "headers=%r body=%r" % (hd, body[:300]))
    issues = problem_issues(st, hd, body, want)
    t.ok(not issues, "%s -> application/problem+json body" % name,
         issues + ["headers=%r" % hd, "body=%r" % body[:300]])


# -- stock jobs: the fixture upstream and job helpers ---------------------------
#
# Used by t_jobs.py and t_faults.py.  The upstream is tests/upstream.c, a
# small libevent server that plays a CSV provider with a fault chosen by
# the symbol's prefix (see the comment at the top of upstream.c).
#
#   STOCKCAM_UPSTREAM  path of the upstream binary (default: tests/upstream
#                      next to the server binary)

import csv as _csv
import io as _io
import tarfile as _tarfile
import xml.etree.ElementTree as _ET

UPSTREAM_BIN = os.environ.get("STOCKCAM_UPSTREAM") or os.path.join(
    os.path.dirname(STOCKCAM_BIN), "tests", "upstream")

JOB_STATES = ("queued", "running", "succeeded", "failed", "canceled")
JOB_DONE = ("succeeded", "failed", "canceled")
SYMBOL_STATES = ("queued", "fetching", "converting", "archiving",
                 "succeeded", "failed", "canceled")
RFC3339_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")


def check_upstream():
    """Bail out (harness error) when the upstream fixture is missing."""
    if not (os.path.isfile(UPSTREAM_BIN) and os.access(UPSTREAM_BIN, os.X_OK)):
        print("Bail out! upstream fixture not found or not executable: %s "
              "(build tests/upstream, or set STOCKCAM_UPSTREAM)" % UPSTREAM_BIN,
              flush=True)
        sys.exit(1)


class Upstream:
    """The fixture upstream (tests/upstream) on 127.0.0.1:<ephemeral port>.

        with Upstream("--rows", "300") as up:
            Server("--source-url", up.source_url)
    """

    def __init__(self, *extra_args, start_timeout=5.0):
        self.argv = [UPSTREAM_BIN, "--listen", "%s:0" % HOST,
                     *[str(a) for a in extra_args]]
        self.port = None
        self.url = None
        self.source_url = None
        self._lines = []
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        _live_servers.add(self)
        try:
            self._start(scaled(start_timeout))
        except BaseException:
            self.close()
            raise

    def _start(self, timeout):
        # The upstream prints one line, then nothing more: a blocking
        # readline under select() is enough.
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stderr.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
        line = buf.decode("utf-8", "replace").split("\n", 1)[0]
        self._lines.append(line)
        m = LISTEN_RE.search(line)
        if not m:
            raise ServerError("upstream did not report 'listening on' "
                              "(exit=%r) argv=%r stderr=%r"
                              % (self.proc.poll(), self.argv, buf[:500]))
        self.port = int(m.group(3))
        self.url = "http://%s:%d/" % (HOST, self.port)
        self.source_url = "http://%s:%d/csv/{symbol}" % (HOST, self.port)
        # Keep reading stderr so the fixture can never block on a full pipe.
        threading.Thread(target=self._drain, args=(fd,), daemon=True).start()

    def _drain(self, fd):
        try:
            while True:
                chunk = os.read(fd, 4096)
                if not chunk:
                    return
                self._lines.extend(chunk.decode("utf-8", "replace").splitlines())
        except (OSError, ValueError):
            return

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stats(self):
        """{'requests': {symbol: count}, 'total': N, 'open': N, 'csv_open': N}"""
        st, _, body = request(self.port, "GET", "/stats")
        j = json_of(body)
        if st != 200 or not isinstance(j, dict):
            raise ServerError("upstream /stats: %r %r" % (st, body[:200]))
        return j

    def count(self, symbol):
        return self.stats()["requests"].get(symbol, 0)

    def reset(self):
        st, _, body = request(self.port, "POST", "/reset")
        if st != 200:
            raise ServerError("upstream /reset: %r %r" % (st, body[:200]))

    def csv(self, symbol, rows=None):
        """The CSV bytes the upstream serves for a plain symbol (this counts
        as a request in /stats)."""
        path = "/csv/%s" % symbol
        if rows is not None:
            path += "?rows=%d" % rows
        st, _, body = request(self.port, "GET", path, timeout=20.0)
        if st != 200:
            raise ServerError("upstream GET %s: %r" % (path, st))
        return body

    def wait_open(self, pred, timeout=2.0, key="csv_open"):
        """Poll /stats until pred(stats[key]); returns (ok, value, seconds)."""
        t0 = time.monotonic()
        deadline = t0 + scaled(timeout)
        while True:
            v = self.stats().get(key)
            if pred(v):
                return True, v, time.monotonic() - t0
            if time.monotonic() >= deadline:
                return False, v, time.monotonic() - t0
            time.sleep(0.02)

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                rc = self.proc.wait(scaled(timeout))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = None
        return rc

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.kill()
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(scaled(5.0))
            except subprocess.TimeoutExpired:
                pass
            try:
                self.proc.stderr.close()
            except Exception:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def request_json(server, method, path, obj=None, headers=None, timeout=5.0,
                 raw=None):
    """A request with a JSON body (obj, or raw bytes/str as they are).
    Returns (status, headers, body bytes, parsed JSON or None)."""
    hdrs = {}
    body = None
    if raw is not None:
        body = raw.encode("utf-8") if isinstance(raw, str) else raw
        hdrs["Content-Type"] = "application/json"
    elif obj is not None:
        body = json.dumps(obj).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    hdrs = {k: v for k, v in hdrs.items() if v is not None}
    st, hd, data = request(server, method, path, body=body, headers=hdrs,
                           timeout=timeout)
    return st, hd, data, json_of(data)


def post_job(server, symbols, headers=None, **extra):
    """POST /api/jobs {"symbols": symbols, **extra}.
    Returns (status, headers, body, json)."""
    obj = {"symbols": list(symbols)}
    obj.update(extra)
    return request_json(server, "POST", "/api/jobs", obj, headers=headers)


def get_job(server, jid, wait=None, version=None, timeout=None):
    path = "/api/jobs/%s" % jid
    q = []
    if wait is not None:
        q.append("wait=%s" % wait)
    if version is not None:
        q.append("version=%s" % version)
    if q:
        path += "?" + "&".join(q)
    if timeout is None:
        timeout = 5.0 + (float(wait) if isinstance(wait, (int, float)) else 0)
    return request_json(server, "GET", path, timeout=timeout)


def wait_job(server, jid, timeout=20.0, pred=None):
    """Long-poll a job until it is finished (or pred(job) is true).
    Returns the last job JSON seen (None if never got one)."""
    if pred is None:
        def pred(j):
            return j.get("state") in JOB_DONE
    deadline = time.monotonic() + scaled(timeout)
    last = None
    version = None
    first = True
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return last
        w = max(1, min(5, int(left)))
        t0 = time.monotonic()
        if first:   # look first: pred may hold already
            st, _, _, j = get_job(server, jid)
            first = False
        else:
            st, _, _, j = get_job(server, jid, wait=w, version=version)
        if st != 200 or not isinstance(j, dict):
            return last
        last = j
        if pred(j):
            return j
        if j.get("version") == version and time.monotonic() - t0 < 0.05:
            time.sleep(0.05)   # a server that does not wait: do not spin
        version = j.get("version")


def poll(fn, timeout=2.0, interval=0.02):
    """Call fn() until it returns a true value or `timeout` (scaled) passes.
    Returns (value, seconds)."""
    t0 = time.monotonic()
    deadline = t0 + scaled(timeout)
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v, time.monotonic() - t0
        time.sleep(interval)


def job_issues(j, symbols=None):
    """Ways a job JSON deviates from the contract (empty list = fine).
    symbols: the request's list, when the job should carry it."""
    issues = []
    if not isinstance(j, dict):
        return ["job is not a JSON object: %r" % (j,)]
    if not is_int(j.get("id")):
        issues.append("id=%r, want an integer" % (j.get("id"),))
    if j.get("type") != "stock":
        issues.append("type=%r, want 'stock'" % (j.get("type"),))
    if j.get("state") not in JOB_STATES:
        issues.append("state=%r" % (j.get("state"),))
    if not is_int(j.get("version")):
        issues.append("version=%r, want an integer" % (j.get("version"),))
    for k in ("created_at", "started_at", "finished_at"):
        v = j.get(k, "MISSING")
        if v is None and k != "created_at":
            continue
        if not isinstance(v, str) or not RFC3339_RE.match(v):
            issues.append("%s=%r, want an RFC 3339 UTC time%s"
                          % (k, v, "" if k == "created_at" else " or null"))
    if j.get("state") in JOB_DONE and j.get("finished_at") is None:
        issues.append("finished job has finished_at=null")
    if j.get("state") not in JOB_DONE and j.get("finished_at") is not None:
        issues.append("unfinished job has finished_at=%r" % j.get("finished_at"))
    pr = j.get("progress")
    if not isinstance(pr, dict):
        issues.append("progress=%r" % (pr,))
    else:
        for k in ("total", "queued", "running", "succeeded", "failed",
                  "canceled"):
            if not is_int(pr.get(k)) or pr.get(k) < 0:
                issues.append("progress.%s=%r" % (k, pr.get(k)))
        if not issues and sum(pr[k] for k in ("queued", "running", "succeeded",
                                              "failed", "canceled")) != pr["total"]:
            issues.append("progress parts do not add up to total: %r" % pr)
        if not is_int(pr.get("archiving")) or not \
                0 <= pr["archiving"] <= pr["running"]:
            issues.append("progress.archiving=%r, want a part of running"
                          % (pr.get("archiving"),))
    if symbols is None:
        return issues
    syms = j.get("symbols")
    if not isinstance(syms, list):
        return issues + ["symbols=%r, want a list" % (syms,)]
    if [s.get("symbol") if isinstance(s, dict) else s for s in syms] != list(symbols):
        issues.append("symbols not in request order: %r"
                      % [s.get("symbol") if isinstance(s, dict) else s for s in syms][:10])
    if isinstance(pr, dict) and pr.get("total") != len(symbols):
        issues.append("progress.total=%r, want %d" % (pr.get("total"), len(symbols)))
    for s in syms:
        if not isinstance(s, dict):
            issues.append("symbol entry %r is not an object" % (s,))
            continue
        name = s.get("symbol")
        if s.get("state") not in SYMBOL_STATES:
            issues.append("%s: state=%r" % (name, s.get("state")))
        for k in ("attempts", "bytes", "rows"):
            if not is_int(s.get(k)) or s.get(k) < 0:
                issues.append("%s: %s=%r" % (name, k, s.get(k)))
        if "http_status" not in s or not (s["http_status"] is None or is_int(s["http_status"])):
            issues.append("%s: http_status=%r" % (name, s.get("http_status", "MISSING")))
        if "archive" not in s or not (s["archive"] is None or isinstance(s["archive"], str)):
            issues.append("%s: archive=%r" % (name, s.get("archive", "MISSING")))
        e = s.get("error", "MISSING")
        if e is not None and not (isinstance(e, dict) and isinstance(e.get("code"), str)
                                  and isinstance(e.get("message"), str)):
            issues.append("%s: error=%r" % (name, e))
        if s.get("state") == "failed" and e is None:
            issues.append("%s: failed with error=null" % name)
        if s.get("state") == "succeeded" and e is not None:
            issues.append("%s: succeeded with error=%r" % (name, e))
    return issues


def symbol_map(j):
    """{symbol: entry} of a job JSON (empty when it has no list)."""
    out = {}
    for s in (j or {}).get("symbols") or []:
        if isinstance(s, dict):
            out[s.get("symbol")] = s
    return out


def csv_records(data):
    """CSV bytes -> list of records, each a list of (element name, value),
    with the header names as the converter renames them (spaces removed)."""
    text = data.decode("utf-8")
    rows = list(_csv.reader(_io.StringIO(text, newline="")))
    rows = [r for r in rows if r]
    if not rows:
        return []
    names = ["".join(h.split()) for h in rows[0]]
    return [list(zip(names, r)) for r in rows[1:]]


def xml_records(data):
    """The converter's XML (<Data><Row><Name>v</Name>...</Row></Data>) ->
    list of records like csv_records().  Raises ValueError when it does not
    parse or has another shape."""
    try:
        root = _ET.fromstring(data)
    except _ET.ParseError as e:
        raise ValueError("XML does not parse: %s" % e)
    if root.tag != "Data":
        raise ValueError("root element is <%s>, want <Data>" % root.tag)
    out = []
    for row in root:
        if row.tag != "Row":
            raise ValueError("child <%s> of <Data>, want <Row>" % row.tag)
        out.append([(el.tag, el.text or "") for el in row])
    return out


class TgzError(Exception):
    """An archive that one of the standard readers refuses."""


def tgz_readers_agree(path, names):
    """Checks the .tgz at path with gzip -t, GNU tar and (when installed)
    libarchive's bsdtar: each must read it to the end and list `names`
    (the regular files Python's tarfile found). Raises TgzError."""
    want = sorted(names)
    cmds = [["gzip", "-t", path], ["tar", "-tzf", path]]
    if shutil.which("bsdtar"):
        cmds.append(["bsdtar", "-tzf", path])
    for cmd in cmds:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise TgzError("%s: exit %d: %s" % (" ".join(cmd[:2]),
                                                r.returncode, r.stderr[-300:]))
        if cmd[0] != "gzip":
            got = sorted(ln for ln in r.stdout.splitlines()
                         if ln and not ln.endswith("/"))
            if got != want:
                raise TgzError("%s lists %r, tarfile %r"
                               % (cmd[0], got[:5], want[:5]))


def tgz_names(path):
    """The regular files of the .tgz at path, as Python's tarfile, GNU tar,
    gzip -t and bsdtar all read it (raises if one of them cannot)."""
    with _tarfile.open(path, "r:gz") as tf:
        names = [m.name for m in tf.getmembers() if m.isfile()]
    tgz_readers_agree(path, names)
    return names


def tgz_entries(data):
    """{entry name: bytes} of a .tgz, read by Python's tarfile and checked
    by the other readers (tgz_readers_agree); raises if broken."""
    out = {}
    with tempfile.NamedTemporaryFile(suffix=".tgz") as tmp:
        tmp.write(data)
        tmp.flush()
        with _tarfile.open(fileobj=_io.BytesIO(data), mode="r:gz") as tf:
            names = [m.name for m in tf.getmembers() if m.isfile()]
        tgz_readers_agree(tmp.name, names)
    with _tarfile.open(fileobj=_io.BytesIO(data), mode="r:gz") as tf:
        for m in tf.getmembers():
            if m.isfile():
                f = tf.extractfile(m)
                out[m.name] = f.read()
            elif not m.isdir():
                out[m.name] = None
    return out


def files_under(top, suffixes):
    """Paths (relative to top) of the regular files below top whose name
    ends with one of `suffixes`."""
    found = []
    for d, _, names in os.walk(top):
        for n in names:
            if n.endswith(tuple(suffixes)):
                found.append(os.path.relpath(os.path.join(d, n), top))
    return sorted(found)


class LowFdServer(Server):
    """A Server run with RLIMIT_NOFILE soft and hard at `nofile` (set it
    on a subclass or the instance before the server starts)."""

    nofile = 256

    def __init__(self, *extra_args, nofile=None, **kw):
        if nofile is not None:
            self.nofile = nofile
        super().__init__(*extra_args, **kw)

    def _start(self, timeout):
        self.argv = [sys.executable, "-c",
                     "import os, resource, sys; "
                     "resource.setrlimit(resource.RLIMIT_NOFILE, (%d, %d)); "
                     "os.execvp(sys.argv[1], sys.argv[1:])"
                     % (self.nofile, self.nofile), *self.argv]
        super()._start(timeout)


class Tmpfs:
    """A tmpfs of `size` ("16m") mounted on a private directory `dir`;
    `mounted` is False where it cannot be (not root, no mount)."""

    def __init__(self, size):
        self.top = tempfile.mkdtemp(prefix="stockcam-tmpfs-")
        self.dir = os.path.join(self.top, "dd")
        os.mkdir(self.dir)
        self.mounted = os.geteuid() == 0 and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs",
             self.dir], stderr=subprocess.DEVNULL).returncode == 0

    def free(self):
        """Bytes free for an unprivileged writer."""
        st = os.statvfs(self.dir)
        return st.f_bavail * st.f_frsize

    def close(self):
        if self.mounted:
            subprocess.run(["umount", self.dir], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.top, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def all_files_under(top):
    found = []
    for d, _, names in os.walk(top):
        for n in names:
            found.append(os.path.relpath(os.path.join(d, n), top))
    return sorted(found)


SANITIZER_LOG = ("ThreadSanitizer", "MemorySanitizer")


def stop_clean(t, srv, name, timeout=10.0):
    """Stop a server with SIGTERM: it must exit 0 (sanitizers make leaks
    and races a non-zero exit) with nothing alarming on stderr."""
    rc = srv.stop(signal.SIGTERM, timeout=timeout)
    t.is_(rc, 0, "%s: SIGTERM -> exit status 0" % name,
          "None = had to be killed\nlog tail:\n" + "\n".join(srv.log_lines()[-15:]))
    lines = srv.log_lines()
    bad = forbidden_log_lines(lines) + [l for l in lines
                                        if any(w in l for w in SANITIZER_LOG)]
    t.ok(not bad, "%s: server stderr has no ERROR / sanitizer lines" % name,
         "\n".join(bad[:30]))
    return rc


def rss_skip_reason():
    """Why peak RSS cannot be judged for this binary (None if it can)."""
    if WRAPPER:
        return "run under a wrapper (%s)" % " ".join(WRAPPER[:1])
    try:
        with open(SERVER_BIN, "rb") as f:
            data = f.read()
    except OSError as e:
        return "cannot read the binary: %s" % e
    for sym, what in ((b"__asan_init", "AddressSanitizer"), (b"__tsan_init", "ThreadSanitizer"),
                      (b"__msan_init", "MemorySanitizer")):
        if sym in data:
            return "binary built with %s" % what
    return None


class EventStream:
    """A client of GET /api/events on a raw socket: parses Server-Sent
    Events as they come.

        with EventStream(srv) as es:
            ev = es.next_event(lambda e: e["event"] == "job.finished")

    Each event is a dict: event (type), id (or None), data (parsed JSON, or
    the raw text), raw (the block's text). Comments are counted in
    self.comments; the reply head is in self.status and self.headers."""

    def __init__(self, server, path="/api/events", headers=None,
                 timeout=5.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(scaled(timeout))
        self.sock.connect((HOST, _port_of(server)))
        head = "GET %s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n" % path
        for k, v in (headers or {}).items():
            head += "%s: %s\r\n" % (k, v)
        self.sock.sendall((head + "\r\n").encode())
        self.buf = b""
        self.comments = []
        self.retry = None
        self.closed = False
        self.events = []        # every event read so far
        self._queue = []        # read, not yet returned by next_event
        self.status = None
        self.headers = {}
        if rcvbuf is None:
            self._read_head(scaled(timeout))

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no event in time")
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            self.closed = True
            raise ConnectionError("the event stream was closed")
        self.buf += chunk

    def _read_head(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = headers_dict(
            [tuple(x.strip() for x in ln.split(":", 1)) for ln in lines[1:]
             if ":" in ln])

    def _parse_block(self, block):
        ev = {"event": "message", "id": None, "data": None, "raw": block}
        data = []
        for ln in block.split("\n"):
            if ln.startswith(":"):
                self.comments.append(ln[1:].strip())
                continue
            name, _, value = ln.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                ev["event"] = value
            elif name == "id":
                ev["id"] = value
            elif name == "data":
                data.append(value)
            elif name == "retry":
                self.retry = int(value)
        if not data:
            return None
        text = "\n".join(data)
        try:
            ev["data"] = json.loads(text)
        except ValueError:
            ev["data"] = text
        return ev

    def _read_one(self, deadline):
        while b"\n\n" not in self.buf:
            self._fill(deadline)
        block, self.buf = self.buf.split(b"\n\n", 1)
        return self._parse_block(block.decode("utf-8"))

    def next_event(self, pred=None, timeout=5.0):
        """The next event not yet returned (the first matching pred;
        the others stay for later calls)."""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            for i, ev in enumerate(self._queue):
                if pred is None or pred(ev):
                    return self._queue.pop(i)
            ev = self._read_one(deadline)
            if ev is not None:
                self.events.append(ev)
                self._queue.append(ev)

    def wait_comment(self, pred, timeout=5.0):
        deadline = time.monotonic() + scaled(timeout)
        while not any(pred(c) for c in self.comments):
            ev = self._read_one(deadline)
            if ev is not None:
                self.events.append(ev)
                self._queue.append(ev)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- a throwaway PostgreSQL cluster -------------------------------------------
#
# Debian's postgresql package, never its service: initdb into a temporary
# directory and a postmaster on a Unix socket there (no TCP), run as
# `nobody` when the tests run as root (PostgreSQL refuses root), stopped
# and removed afterwards.

import glob as _glob


def pg_bindir():
    """Where initdb and pg_ctl are, or None."""
    for d in sorted(_glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if all(os.access(os.path.join(d, b), os.X_OK)
               for b in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


class PgCluster:
    """`with PgCluster() as pg:` a running server; pg.uri(db) is a libpq
    URI for stockcam's --store, pg.psql(sql) runs SQL in it."""

    def __init__(self):
        self.bindir = pg_bindir()
        if self.bindir is None:
            raise ServerError("PostgreSQL not installed (initdb, pg_ctl)")
        self.dir = tempfile.mkdtemp(prefix="stockcam-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = 5432
        self.prefix = []
        if os.geteuid() == 0:
            self.prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup",
                           "--clear-groups"]
            os.chown(self.dir, 65534, 65534)
        self._run("initdb", "-D", self.data, "-U", "stockcam", "-A", "trust",
                  "-E", "UTF8", "--no-sync", timeout=scaled(120))
        opts = ("-k %s -c listen_addresses='' -p %d -c fsync=off "
                "-c max_connections=50" % (self.dir, self.port))
        self._run("pg_ctl", "-D", self.data, "-o", opts, "-l",
                  os.path.join(self.dir, "log"), "-w", "-t", "60", "start",
                  timeout=scaled(120))

    def _run(self, prog, *args, timeout=60):
        p = subprocess.run([*self.prefix, os.path.join(self.bindir, prog),
                            *args], capture_output=True, timeout=timeout,
                           cwd=self.dir)
        if p.returncode != 0:
            raise ServerError("%s failed: %s" % (
                prog, (p.stdout + p.stderr).decode(errors="replace")[-800:]))
        return p

    def uri(self, db="postgres"):
        return "postgresql:///%s?host=%s&port=%d&user=stockcam" % (
            db, self.dir, self.port)

    def psql(self, sql, db="postgres"):
        """Runs sql; its output rows (unaligned, tuples only)."""
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v",
                            "ON_ERROR_STOP=1", "-h", self.dir, "-p",
                            str(self.port), "-U", "stockcam", "-d", db,
                            "-c", sql], capture_output=True,
                           timeout=scaled(60))
        if p.returncode != 0:
            raise ServerError("psql: %s" % p.stderr.decode(errors="replace"))
        return p.stdout.decode().splitlines()

    def close(self):
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w",
                      "stop", timeout=scaled(60))
        except (ServerError, OSError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
