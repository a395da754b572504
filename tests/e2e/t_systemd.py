#!/usr/bin/env python3
"""E2E: running under systemd. Socket activation with systemd's own
systemd-socket-activate (the server serves the socket it is handed, not
--listen), readiness and stopping told over NOTIFY_SOCKET, LISTEN_FDS for
another process ignored, and `make install DESTDIR=...` putting the
binary, the man page and the units where they belong (the units checked
by systemd-analyze verify)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, request, check_binary, start_watchdog,  # noqa: E402
                     stop_clean, scaled, STOCKCAM_BIN, HOST)

t = TAP()
ACTIVATE = shutil.which("systemd-socket-activate")
ANALYZE = shutil.which("systemd-analyze")


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Notifications:
    """A datagram socket standing in for the service manager's."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="stockcam-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.got = []

    def wait_for(self, what, timeout):
        deadline = time.monotonic() + scaled(timeout)
        while not any(what in m for m in self.got):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                self.got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                return False
        return True

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class ActivatedServer(Server):
    """The server started by systemd-socket-activate on `port`, which
    execs it at the first connection: a client knocks while it starts."""

    def __init__(self, port, notify, *args):
        self.launch = [ACTIVATE, "-l", "%s:%d" % (HOST, port),
                       "-E", "NOTIFY_SOCKET=%s" % notify.path]
        self.activate_port = port
        self.first = {}
        super().__init__(*args)

    def _knock(self):
        deadline = time.monotonic() + scaled(10)
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.activate_port),
                                              timeout=scaled(10)) as s:
                    s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n"
                              b"Connection: close\r\n\r\n")
                    data = b""
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    self.first["reply"] = data
                    return
            except OSError:
                time.sleep(0.05)

    def _start(self, timeout):
        self.argv = self.launch + self.argv
        knock = threading.Thread(target=self._knock, daemon=True)
        knock.start()
        super()._start(timeout)
        knock.join(scaled(10))


def test_activation():
    notify = Notifications()
    port = free_port()
    try:
        srv = ActivatedServer(port, notify, "--log-level", "info")
    except Exception:
        notify.close()
        raise
    try:
        reply = srv.first.get("reply", b"")
        t.ok(reply.startswith(b"HTTP/1.1 200"), "the connection that woke "
             "the service is served on the socket systemd held",
             repr(reply[:300]))
        t.is_(srv.port, port, "it listens on the passed socket, not on "
              "--listen's port")
        t.ok(any("socket from systemd" in ln for ln in srv.log_lines()),
             "the log says where the socket came from")
        st, _, body = request(srv, "GET", "/api/health")
        t.is_(st, 200, "GET /api/health on the activated socket")
        t.ok(notify.wait_for("READY=1", 10), "READY=1 sent to "
             "NOTIFY_SOCKET", repr(notify.got))
        # A job's synthetic source is the port it was given, too.
        st, hd, body = request(srv, "POST", "/api/jobs",
                               b'{"symbols": ["AAA"]}',
                               {"Content-Type": "application/json"})
        t.is_(st, 202, "a job is accepted")
        deadline = time.monotonic() + scaled(20)
        state = None
        while time.monotonic() < deadline and state not in (
                "succeeded", "failed"):
            st, _, body = request(srv, "GET", "/api/jobs/1")
            state = json.loads(body).get("state")
            time.sleep(0.1)
        t.is_(state, "succeeded", "its built-in synthetic source works on "
              "the activated socket")
        stop_clean(t, srv, "activated server")
        t.ok(notify.wait_for("STOPPING=1", 5), "STOPPING=1 sent on "
             "SIGTERM", repr(notify.got))
    finally:
        srv.close()
        notify.close()


def test_other_pid():
    # LISTEN_FDS meant for another process: ignored, --listen is used.
    with Server(env={"LISTEN_FDS": "1", "LISTEN_PID": "1"}) as srv:
        st, _, _ = request(srv, "GET", "/api/health")
        t.is_(st, 200, "LISTEN_FDS for another pid is ignored: --listen "
              "serves")
        stop_clean(t, srv, "server with foreign LISTEN_FDS")


def test_install():
    builddir = os.path.dirname(STOCKCAM_BIN)
    dest = tempfile.mkdtemp(prefix="stockcam-destdir-")
    try:
        p = subprocess.run(["make", "-s", "-C", builddir, "install",
                            "DESTDIR=" + dest], capture_output=True,
                           timeout=scaled(300))
        t.is_(p.returncode, 0, "make install DESTDIR=... succeeds",
              p.stderr.decode(errors="replace")[-2000:])
        found = {}
        for root, _, files in os.walk(dest):
            for f in files:
                found.setdefault(f, []).append(os.path.join(root, f))
        binary = [x for x in found.get("stockcam", [])
                  if x.endswith("/bin/stockcam")]
        t.ok(len(binary) == 1 and os.access(binary[0], os.X_OK),
             "the binary is installed in bin/", sorted(found))
        server = [x for x in found.get("stockcam-server", [])
                  if x.endswith("/libexec/stockcam/stockcam-server")]
        t.ok(len(server) == 1 and os.access(server[0], os.X_OK),
             "the server binary is installed in libexec/stockcam/",
             sorted(found))
        if server:
            p = subprocess.run([server[0], "--version"],
                               capture_output=True, timeout=30)
            t.ok(p.returncode == 0 and p.stdout.startswith(b"stockcam "),
                 "the installed server runs", repr(p.stdout))
        if binary:
            # Staged under DESTDIR, the command cannot find the server it
            # names (the real libexec path); csv2xml is its own.
            p = subprocess.run([binary[0], "csv2xml"],
                               input=b"Date,Close\n2026-12-04,1.5\n",
                               capture_output=True, timeout=30)
            t.ok(p.returncode == 0 and b"<Close>1.5</Close>" in p.stdout,
                 "the installed command converts CSV", repr(p.stderr))
        t.ok(any(x.endswith("/man1/stockcam.1")
                 for x in found.get("stockcam.1", [])),
             "the man page is installed in man1/")
        units = found.get("stockcam.service", []) + \
            found.get("stockcam.socket", [])
        t.is_(len(units), 2, "stockcam.service and stockcam.socket are "
              "installed", units)
        t.ok(all("/systemd/system/" in u for u in units),
             "... in a systemd unit directory", units)
        service = [u for u in units if u.endswith(".service")]
        text = open(service[0]).read() if service else ""
        execs = [ln.split("=", 1)[1].split()[0] for ln in text.splitlines()
                 if ln.startswith("ExecStart=")]
        t.ok(len(execs) == 1 and binary and
             binary[0].endswith(execs[0]) and execs[0].startswith("/"),
             "ExecStart names the installed binary", repr(execs))
        for want in ("Type=notify", "DynamicUser=yes",
                     "StateDirectory=stockcam", "ProtectSystem=strict",
                     "NoNewPrivileges=yes",
                     "ExecReload=/bin/kill -HUP $MAINPID"):
            t.ok(want in text.splitlines(), "the service sets %s" % want)
        if ANALYZE is None:
            t.skip("systemd-analyze verify", "systemd-analyze not found")
        elif units and execs and binary:
            # verify checks that ExecStart exists: point it at DESTDIR's.
            tmp = tempfile.mkdtemp(prefix="stockcam-units-")
            for u in units:
                body = open(u).read().replace(execs[0], binary[0])
                with open(os.path.join(tmp, os.path.basename(u)), "w") as f:
                    f.write(body)
            p = subprocess.run([ANALYZE, "verify", "--man=no",
                                os.path.join(tmp, "stockcam.socket"),
                                os.path.join(tmp, "stockcam.service")],
                               capture_output=True, timeout=60,
                               env={**os.environ,
                                    "SYSTEMD_LOG_LEVEL": "notice"})
            t.ok(p.returncode == 0 and not p.stderr.strip(),
                 "systemd-analyze verify accepts both units",
                 p.stderr.decode(errors="replace")[-2000:])
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def main():
    check_binary()
    start_watchdog(600)
    if ACTIVATE is None:
        t.skip("socket activation", "systemd-socket-activate not found "
               "(Debian's systemd package)")
    else:
        t.group("socket activation", test_activation)
    t.group("LISTEN_FDS of another process", test_other_pid)
    t.group("make install", test_install)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
