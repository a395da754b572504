#!/usr/bin/env python3
"""E2E: the live camera: snapshot, the MJPEG stream parsed part by part
(valid JPEGs of the right size, frame numbers advancing, fresh capture
timestamps, the frame rate), the viewer cap, a slow reader that neither
grows the server nor slows the others, /api/camera, shutdown with
viewers connected."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (rss_skip_reason, TAP, Server, request, json_of, check_problem,  # noqa: E402
                     check_binary, start_watchdog, scaled, stop_clean, HOST)

t = TAP()


def jpeg_size(data):
    """(width, height) from a baseline JPEG's SOF0, or None."""
    if not data.startswith(b"\xff\xd8") or not data.endswith(b"\xff\xd9"):
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        seglen = int.from_bytes(data[i + 2:i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            h = int.from_bytes(data[i + 5:i + 7], "big")
            w = int.from_bytes(data[i + 7:i + 9], "big")
            return w, h
        i += 2 + seglen
    return None


class Stream:
    """A raw-socket MJPEG viewer that parses parts as they come."""

    def __init__(self, srv, rcvbuf=None):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:    # before connecting, so the window stays small
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(5)
        self.s.connect((HOST, srv.port))
        self.s.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
        self.buf = b""
        self.head = None

    def _fill(self, deadline):
        self.s.settimeout(max(0.05, deadline - time.monotonic()))
        d = self.s.recv(1 << 16)
        if not d:
            raise EOFError("stream closed")
        self.buf += d

    def headers(self, timeout=3.0):
        deadline = time.monotonic() + scaled(timeout)
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode("latin-1")
        return self.head

    def part(self, timeout=3.0):
        """(headers dict, jpeg bytes) of the next part."""
        deadline = time.monotonic() + scaled(timeout)
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, rest = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        hd = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hd[k.strip().lower()] = v.strip()
        n = int(hd["content-length"])
        while len(rest) < n + 2:
            self.buf = head + b"\r\n\r\n" + rest
            self._fill(deadline)
            head, rest = self.buf.split(b"\r\n\r\n", 1)
        self.buf = rest[n + 2:]
        return lines[0], hd, rest[:n]

    def close(self):
        self.s.close()


def test_snapshot(srv):
    st, hd, body = request(srv, "GET", "/snapshot.jpg")
    t.is_(st, 200, "GET /snapshot.jpg -> 200")
    t.is_(hd.get("content-type"), "image/jpeg", "snapshot is image/jpeg")
    t.is_(jpeg_size(body), (640, 480), "snapshot is a 640x480 JPEG")
    st, hd, body = request(srv, "HEAD", "/stream.mjpg")
    t.is_(st, 200, "HEAD /stream.mjpg -> 200")


def test_stream(srv):
    v = Stream(srv)
    head = v.headers()
    t.ok(head.startswith("HTTP/1.1 200") and
         "multipart/x-mixed-replace" in head, "stream: 200 multipart",
         head)
    frames, bad, stale = [], 0, 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.0:
        first, hd, jpg = v.part()
        if first != "--stockcamframe" or jpeg_size(jpg) != (640, 480) or \
                hd.get("content-type") != "image/jpeg":
            bad += 1
        frames.append(int(hd.get("x-frame", "-1")))
        if abs(time.time() - float(hd.get("x-timestamp", "0"))) > 1.0:
            stale += 1
    el = time.monotonic() - t0
    v.close()
    t.is_(bad, 0, "stream: every part a valid 640x480 JPEG (%d parts)" %
          len(frames))
    t.ok(all(b > a for a, b in zip(frames, frames[1:])),
         "stream: frame numbers advance", "frames=%r" % frames[:40])
    t.is_(stale, 0, "stream: capture timestamps within 1 s of now")
    fps = len(frames) / el
    t.ok(fps > (20 if not os.environ.get("STOCKCAM_WRAPPER") else 1),
         "stream: %.1f frames/s (30 wanted)" % fps)


def rss_kb(srv):
    try:
        with open("/proc/%d/status" % srv.proc.pid) as f:
            for ln in f:
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return None


def test_slow_reader(srv):
    slow = Stream(srv, rcvbuf=4096)
    slow.headers()
    fast = Stream(srv)
    fast.headers()
    fast.part()
    r0 = rss_kb(srv)
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < 5.0:    # the slow one reads nothing
        fast.part()
        n += 1
    r1 = rss_kb(srv)
    el = time.monotonic() - t0
    t.ok(n / el > (20 if not os.environ.get("STOCKCAM_WRAPPER") else 1),
         "a stalled viewer does not slow another (%.1f fps)" % (n / el))
    if r0 is not None and r1 is not None and rss_skip_reason() is None:
        t.ok(r1 - r0 < 8192, "server memory flat with a stalled viewer "
             "(%+d KiB)" % (r1 - r0))
    st, hd, body = request(srv, "GET", "/api/camera")
    j = json_of(body) or {}
    pv = j.get("per_viewer") or []
    t.ok(any(p.get("skipped", 0) > 0 for p in pv),
         "/api/camera shows the stalled viewer skipping frames", "%r" % pv)
    slow.close()
    fast.close()


def test_cap():
    with Server("--max-viewers", "2") as srv:
        a, b = Stream(srv), Stream(srv)
        a.headers()
        b.headers()
        t0 = time.monotonic()
        st, hd, body = request(srv, "GET", "/stream.mjpg")
        el = time.monotonic() - t0
        check_problem(t, "third viewer over --max-viewers 2", st, hd, body,
                      503)
        t.ok("retry-after" in hd, "503 has Retry-After")
        t.ok(el < scaled(1.0), "refused quickly (%.3f s)" % el)
        a.part()
        b.part()
        t.ok(True, "the two viewers still get frames")
        st, hd, body = request(srv, "GET", "/api/camera")
        j = json_of(body) or {}
        t.is_(j.get("viewers"), 2, "/api/camera: 2 viewers")
        a.close()
        b.close()
        stop_clean(t, srv, "camera server with viewers")


def test_stalled_dropped():
    """A viewer that stops reading is dropped after --write-timeout;
    another keeps its frames meanwhile."""
    with Server("--write-timeout", "1.5") as srv:
        slow = Stream(srv, rcvbuf=4096)
        slow.headers()
        fast = Stream(srv)
        fast.headers()
        t0 = time.monotonic()
        n = 0
        viewers = 2
        while time.monotonic() - t0 < scaled(8) and viewers > 1:
            fast.part()
            n += 1
            if n % 10 == 0:
                st, hd, body = request(srv, "GET", "/api/camera")
                viewers = (json_of(body) or {}).get("viewers")
        el = time.monotonic() - t0
        t.is_(viewers, 1, "a viewer that stops reading is dropped (after "
              "%.1f s, --write-timeout 1.5)" % el)
        t.ok(el > 1.4, "not before the timeout (%.1f s)" % el)
        fast.part()
        t.ok(True, "the other viewer still gets frames")
        slow.s.settimeout(scaled(5))
        got, closed = 0, False
        try:
            while True:
                d = slow.s.recv(1 << 16)
                if not d:
                    closed = True
                    break
                got += len(d)
        except ConnectionResetError:
            closed = True
        t.ok(closed, "the dropped viewer's connection is closed (%d bytes "
             "were still buffered)" % got)
        slow.close()
        fast.close()
        stop_clean(t, srv, "camera server after a drop")


def test_info(srv):
    st, hd, body = request(srv, "GET", "/api/camera")
    j = json_of(body) or {}
    t.is_(st, 200, "GET /api/camera -> 200")
    for k in ("source", "width", "height", "fps_wanted", "fps_delivered",
              "quality", "viewers", "viewers_total", "frames_captured",
              "frames_encoded", "frames_dropped", "encode_ms", "per_viewer"):
        t.ok(k in j, "/api/camera has %s" % k)
    t.is_(j.get("quality"), 40, "default quality 40")
    t.ok(j.get("frames_encoded", 0) == j.get("frames_captured", -1),
         "one encode per captured frame")


def main():
    check_binary()
    start_watchdog(120)
    with Server() as srv:
        for fn in (test_snapshot, test_stream, test_slow_reader, test_info):
            try:
                fn(srv)
            except Exception as e:
                t.ok(False, "%s: aborted by %r" % (fn.__name__, e))
        stop_clean(t, srv, "camera server")
    for fn in (test_cap, test_stalled_dropped):
        try:
            fn()
        except Exception as e:
            t.ok(False, "%s: aborted by %r" % (fn.__name__, e))
    t.done()


if __name__ == "__main__":
    main()
