#!/usr/bin/env python3
"""E2E: HTTPS (--tls-cert, --tls-key) against a certificate the test makes.

Python's ssl and curl verify the server; TLS 1.2 and 1.3 are served, 1.1
refused, ALPN says http/1.1; keep-alive; a stock job whose synthetic
source is this same server over HTTPS (trusted by its pinned key), its
archive read back; the limits under TLS (header and body size, request
and handshake deadlines, the connection cap); the MJPEG stream to several
viewers; SIGHUP reloads the certificate without dropping the connections
and streams already open, and a broken one is refused with the old one
kept; the TLS figures in /metrics; the command-line client with
--cacert; bad option combinations."""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, RawConn, request, request_json,  # noqa: E402
                     post_job, wait_job, tgz_entries, make_cert, tls_context,
                     check_binary, start_watchdog, stop_clean, scaled, poll,
                     command_prefix, server_env, built_with, HOST)
from camlib import Stream, jpeg_size  # noqa: E402

t = TAP()
TMP = tempfile.mkdtemp(prefix="stockcam-tls-")


def der_of(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def tls_connect(srv, ctx=None, alpn=None):
    """A TLS socket to srv (verified against its certificate)."""
    ctx = ctx or tls_context(srv.cafile)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection((HOST, srv.port), timeout=scaled(5))
    try:
        return ctx.wrap_socket(raw, server_hostname=HOST)
    except BaseException:
        raw.close()
        raise


def metric(srv, name, labels=""):
    """A sample of /metrics; None if the scrape failed (say, refused at
    the connection cap while a slow server still counts closed ones)."""
    try:
        st, _, body = request(srv, "GET", "/metrics")
    except (ssl.SSLError, OSError):
        return None
    if st != 200:
        return None
    want = name + ("{%s}" % labels if labels else "")
    for ln in body.decode().splitlines():
        key, _, val = ln.rpartition(" ")
        if key == want:
            return float(val)
    return None


def test_basics(srv, cert):
    t.ok(srv.url.startswith("https://"), "the listening line says https",
         srv.url)
    st, hd, body = request(srv, "GET", "/api/health")
    t.is_(st, 200, "Python ssl, verifying the test's certificate: "
          "GET /api/health -> 200")
    s = tls_connect(srv, alpn=["h2", "http/1.1"])
    try:
        t.ok(s.version() in ("TLSv1.2", "TLSv1.3"),
             "protocol TLS 1.2 or later", s.version())
        t.is_(s.selected_alpn_protocol(), "http/1.1",
              "ALPN: http/1.1 chosen over h2")
        t.is_(s.getpeercert(binary_form=True), der_of(cert),
              "the certificate served is the one given")
    finally:
        s.close()

    ctx = tls_context(srv.cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    s = tls_connect(srv, ctx)
    t.is_(s.version(), "TLSv1.2", "a TLS 1.2-only client is served")
    s.close()

    # TLS 1.1: the client must be let to try (seclevel 0), the server
    # must refuse; its log names why.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    refused = None
    try:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        s = tls_connect(srv, ctx)
        refused = "served " + s.version()
        s.close()
    except ssl.SSLError as e:
        refused = str(e)
    except ValueError as e:
        refused = None
        t.skip("TLS 1.1 refused", "this Python cannot offer it: %s" % e)
    if refused is not None:
        got = srv.wait_for_log(lambda ln: "TLS:" in ln and
                               "protocol" in ln, timeout=3)
        t.ok(not refused.startswith("served") and got is not None,
             "TLS 1.1 refused by the server, which logs why",
             "client: %s; server log: %r" % (refused, got))

    # curl, verifying against the same certificate.
    r = subprocess.run(["curl", "-sS", "--cacert", cert, "-o", "-",
                        "-w", "\n%{http_code} %{ssl_verify_result}",
                        srv.url + "api/health"], capture_output=True,
                       text=True, timeout=scaled(20))
    t.ok(r.returncode == 0 and r.stdout.endswith("\n200 0"),
         "curl --cacert: GET /api/health -> 200, verified",
         "rc=%d out=%r err=%r" % (r.returncode, r.stdout[-200:], r.stderr))

    # Keep-alive: several requests, one connection, one handshake.
    before = metric(srv, "stockcam_tls_handshakes_total", 'result="ok"')
    c = RawConn(srv)
    try:
        oks = 0
        for i in range(5):
            c.send("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            oks += c.read_response().status == 200
        t.is_(oks, 5, "keep-alive: 5 requests on one TLS connection")
    finally:
        c.close()
    after = metric(srv, "stockcam_tls_handshakes_total", 'result="ok"')
    t.ok(before is not None and after is not None and after - before == 2,
         "one handshake for the keep-alive connection (and one for the "
         "scrape)", "before %r after %r" % (before, after))

    # Plain HTTP at the HTTPS port: no HTTP reply, counted, still serving.
    failed = metric(srv, "stockcam_tls_handshakes_total", 'result="failed"')
    raw = socket.create_connection((HOST, srv.port), timeout=scaled(5))
    try:
        raw.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            d = raw.recv(4096)
            if not d:
                break
            data += d
    except OSError:
        pass
    finally:
        raw.close()
    t.ok(not data.startswith(b"HTTP/"), "plain HTTP to the HTTPS port: no "
         "HTTP reply (a TLS alert at most)", repr(data[:80]))
    now, _ = poll(lambda: (metric(srv, "stockcam_tls_handshakes_total",
                                  'result="failed"') or 0) > (failed or 0),
                  timeout=3)
    t.ok(now, "... counted as a failed handshake")
    st, _, _ = request(srv, "GET", "/api/health")
    t.is_(st, 200, "... and the server serves on")


def test_job(srv):
    st, _, _, j = post_job(srv, ["AAPL", "MSFT"])
    t.is_(st, 202, "POST /api/jobs over HTTPS -> 202")
    if st != 202:
        return
    j = wait_job(srv, j["id"], timeout=30)
    t.ok(j is not None and j.get("state") == "succeeded",
         "the job succeeds: its synthetic source is this server over "
         "HTTPS, trusted by its pinned key", repr(j)[:400])
    if not j or j.get("state") != "succeeded":
        return
    src = [ln for ln in srv.log_lines() if "source:" in ln]
    t.ok(src and "https://" in src[-1], "the source is https",
         repr(src[-1:]))
    name = j["symbols"][0]["archive"]
    st, _, data = request(srv, "GET", "/archives/" + name, timeout=20)
    try:
        entries = tgz_entries(data)
    except Exception as e:   # noqa: BLE001 - any read error fails this
        entries = {"error": str(e)}
    want = ["%d/AAPL.xml" % j["id"], "%d/MSFT.xml" % j["id"]]
    t.ok(st == 200 and sorted(entries) == want,
         "its archive, downloaded over HTTPS, reads back with both files",
         "status %r entries %r" % (st, sorted(entries)[:5]))


def test_limits(cert, key):
    with Server("--tls-cert", cert, "--tls-key", key, "--max-header-size",
                "1024", "--max-body-size", "256", "--request-timeout", "1",
                "--max-connections", "4", "--log-level", "debug",
                cafile=cert) as srv:
        c = RawConn(srv)
        c.send("GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n"
               % ("a" * 2000))
        t.is_(c.read_response().status, 431, "TLS: a head over "
              "--max-header-size -> 431")
        c.close()
        st, _, _ = request(srv, "POST", "/api/jobs", body=b"x" * 300,
                           headers={"Content-Type": "application/json"})
        t.is_(st, 413, "TLS: a body over --max-body-size -> 413")

        # A head that never ends: 408 within the request deadline.
        c = RawConn(srv)
        c.send("GET /api/health HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        r = c.read_response(timeout=10)
        t.ok(r.status == 408 and time.monotonic() - t0 < scaled(8),
             "TLS: a slow head -> 408 after --request-timeout",
             "%r after %.1f s" % (r, time.monotonic() - t0))
        c.close()

        # A TCP connection that never says ClientHello is closed too.
        raw = socket.create_connection((HOST, srv.port), timeout=scaled(10))
        t0 = time.monotonic()
        try:
            closed = raw.recv(1) == b""
        except (socket.timeout, OSError) as e:
            closed = isinstance(e, ConnectionResetError)
        finally:
            raw.close()
        t.ok(closed and time.monotonic() - t0 < scaled(8),
             "TLS: no handshake -> closed after --request-timeout",
             "closed %r after %.1f s" % (closed, time.monotonic() - t0))

        # The connection cap: 4 open mid-request (not idle: cannot be
        # evicted), a fifth is closed without a handshake, counted.
        refused = metric(srv, "stockcam_http_connections_refused_total")
        held = []
        try:
            for _ in range(4):
                c = RawConn(srv)
                c.send("GET /api/health HTTP/1.1\r\n")
                held.append(c)
            time.sleep(0.2)
            fifth = None
            try:
                fifth = tls_connect(srv)
                fifth.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
                got = fifth.recv(100)
            except (ssl.SSLError, OSError) as e:
                got = e
            finally:
                if fifth is not None:
                    fifth.close()
            t.ok(not (isinstance(got, bytes) and got.startswith(b"HTTP/")),
                 "TLS: over --max-connections the newcomer is closed",
                 repr(got))
        finally:
            for c in held:
                c.close()
        now, _ = poll(lambda: (metric(
            srv, "stockcam_http_connections_refused_total") or 0) >
            (refused or 0), timeout=5)
        t.ok(now, "... and counted as refused")

        def served():
            try:
                return request(srv, "GET", "/api/health")[0] == 200
            except (ssl.SSLError, OSError):
                return False
        # The server sees the four close in its own time (valgrind).
        t.ok(poll(served, timeout=10)[0], "room again once they close")
        stop_clean(t, srv, "limits server")


def test_stream(srv):
    viewers = [Stream(srv) for _ in range(3)]
    try:
        heads = [v.headers() for v in viewers]
        t.ok(all(h.startswith("HTTP/1.1 200") and "multipart/x-mixed-replace"
                 in h for h in heads), "3 MJPEG viewers over TLS: 200, "
             "multipart", heads[0][:200])
        good = 0
        for v in viewers:
            for _ in range(5):
                _, hd, jpeg = v.part(timeout=10)
                good += jpeg_size(jpeg) is not None
        t.is_(good, 15, "each gets 5 whole JPEG frames")
    finally:
        for v in viewers:
            v.close()
    st, hd, body = request(srv, "GET", "/snapshot.jpg")
    t.ok(st == 200 and jpeg_size(body) is not None,
         "a snapshot over TLS is a whole JPEG", "status %r" % st)


def test_reload(srv, cert, key):
    keep = RawConn(srv)                # a keep-alive connection, old cert
    keep.send("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    keep.read_response()
    viewer = Stream(srv)
    viewer.headers()
    viewer.part(timeout=10)
    old = der_of(cert)

    new_cert, new_key = make_cert(TMP, name="new", cn="stockcam-new")
    shutil.copy(new_cert, cert)
    shutil.copy(new_key, key)
    srv.proc.send_signal(signal.SIGHUP)
    got = srv.wait_for_log(lambda ln: "TLS certificate and key reloaded"
                           in ln, timeout=5)
    t.ok(got is not None, "SIGHUP: the server says it reloaded")
    s = tls_connect(srv)
    try:
        served = s.getpeercert(binary_form=True)
    finally:
        s.close()
    t.ok(served == der_of(new_cert) and served != old,
         "new connections get the new certificate")
    keep.send("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    t.is_(keep.read_response().status, 200,
          "a keep-alive connection from before still serves")
    keep.close()
    frames = 0
    try:
        for _ in range(3):
            frames += jpeg_size(viewer.part(timeout=10)[2]) is not None
    finally:
        viewer.close()
    t.is_(frames, 3, "a stream from before keeps streaming")
    st, _, _, j = post_job(srv, ["IBM"])
    j = wait_job(srv, j["id"], timeout=30) if st == 202 else None
    t.ok(j is not None and j.get("state") == "succeeded",
         "a job after the reload: the synthetic source trusts the new key",
         repr(j)[:300])

    with open(key, "w") as f:
        f.write("not a key\n")
    srv.proc.send_signal(signal.SIGHUP)
    got = srv.wait_for_log(lambda ln: "TLS not reloaded" in ln, timeout=5)
    t.ok(got is not None and key in got,
         "SIGHUP with a broken key: refused, the log names the file", got)
    s = tls_connect(srv)
    try:
        served = s.getpeercert(binary_form=True)
    finally:
        s.close()
    t.is_(served, der_of(new_cert), "... and the last good one is served")
    t.is_(metric(srv, "stockcam_tls_reloads_total", 'result="ok"'), 1.0,
          "/metrics: one reload ok")
    t.is_(metric(srv, "stockcam_tls_reloads_total", 'result="failed"'), 1.0,
          "/metrics: one reload failed")
    shutil.copy(new_key, key)


def test_metrics(srv, cert):
    out = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in",
                          cert], capture_output=True, text=True, timeout=30)
    end = out.stdout.strip().partition("=")[2]
    want = ssl.cert_time_to_seconds(end) if end else None
    got = metric(srv, "stockcam_tls_certificate_expiry_timestamp_seconds")
    t.ok(want is not None and got == want,
         "/metrics: the certificate's expiry", "got %r want %r (%s)"
         % (got, want, end))


def test_client(srv, cert):
    """The command-line client against the HTTPS server."""
    def run(*args, env_extra=None):
        env = server_env()
        env.pop("STOCKCAM_CACERT", None)
        env.update(env_extra or {})
        r = subprocess.run([*command_prefix(), *args], capture_output=True,
                           text=True, env=env, timeout=scaled(60))
        return r.returncode, r.stdout, r.stderr
    url = srv.url.rstrip("/")
    rc, out, err = run("health", "--server", url, "--cacert", cert)
    t.ok(rc == 0 and "ok" in out, "stockcam health --cacert CERT over "
         "https:// -> 0", "rc=%d out=%r err=%r" % (rc, out, err))
    rc, out, err = run("submit", "--server", url, "--wait", "IBM",
                       env_extra={"STOCKCAM_CACERT": cert})
    t.ok(rc == 0, "stockcam submit --wait with STOCKCAM_CACERT -> 0",
         "rc=%d out=%r err=%r" % (rc, out[-300:], err[-300:]))
    rc, out, err = run("health", "--server", url)
    t.ok(rc == 3 and "certificate" in err.lower(), "without --cacert the "
         "self-made certificate is not trusted: exit 3, saying why",
         "rc=%d err=%r" % (rc, err))
    rc, out, err = run("health", "--server", url, "--cacert",
                       os.path.join(TMP, "none.pem"))
    t.ok(rc == 2 and "none.pem" in err and "No such file" in err,
         "--cacert of a missing file: exit 2 naming it",
         "rc=%d err=%r" % (rc, err))


def test_options(cert, key):
    def run(*args):
        r = subprocess.run([*command_prefix(), "--listen", "127.0.0.1:0",
                            "--data-dir", os.path.join(TMP, "d"), *args],
                           capture_output=True, text=True, env=server_env(),
                           timeout=scaled(30))
        return r.returncode, r.stderr
    rc, err = run("--tls-cert", cert)
    t.ok(rc == 2 and "--tls-key" in err, "--tls-cert without --tls-key: "
         "exit 2, saying so", err[-200:])
    rc, err = run("--tls-cert", os.path.join(TMP, "none.pem"), "--tls-key",
                  key)
    t.ok(rc == 2 and "none.pem" in err and "No such file" in err,
         "a missing certificate: exit 2 naming it", err[-200:])
    other_cert, other_key = make_cert(TMP, name="other")
    rc, err = run("--tls-cert", cert, "--tls-key", other_key)
    t.ok(rc == 2 and "mismatch" in err, "a key of another certificate: "
         "exit 2", err[-200:])


def main():
    check_binary()
    if not built_with("tls"):
        # Still check that the options are refused, not ignored.
        r = subprocess.run([*command_prefix(), "--tls-cert", "c.pem",
                            "--tls-key", "k.pem"], capture_output=True,
                           text=True, env=server_env(), timeout=scaled(30))
        t.ok(r.returncode == 2 and "without TLS" in r.stderr,
             "a build without TLS refuses --tls-cert: exit 2, saying why",
             r.stderr[-200:])
        t.skip("HTTPS", "this stockcam was built without TLS "
               "(configure --without-tls)")
        shutil.rmtree(TMP, ignore_errors=True)
        return t.done()
    start_watchdog(400)
    try:
        cert, key = make_cert(TMP)
        with Server("--tls-cert", cert, "--tls-key", key, "--log-level",
                    "debug", cafile=cert) as srv:
            t.group("basics", test_basics, srv, cert)
            t.group("job", test_job, srv)
            t.group("stream", test_stream, srv)
            t.group("metrics", test_metrics, srv, cert)
            t.group("client", test_client, srv, cert)
            t.group("reload", test_reload, srv, cert, key)
            t.ok(srv.alive(), "server alive after the TLS tests")
            stop_clean(t, srv, "TLS server")
        t.group("limits", test_limits, cert, key)
        t.group("options", test_options, cert, key)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
