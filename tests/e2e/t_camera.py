#!/usr/bin/env python3
"""E2E: the live camera: snapshot, the MJPEG stream parsed part by part
(every JPEG decoded with TurboJPEG, of the right size, the frame number
drawn into the picture advancing, fresh capture timestamps, the frame
rate), the viewer cap, a slow reader that neither grows the server nor
slows the others, a stalled one dropped after --write-timeout,
/api/camera, shutdown with viewers connected."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (rss_skip_reason, TAP, Server, request, json_of, check_problem,  # noqa: E402
                     check_binary, start_watchdog, scaled, stop_clean)
from camlib import Stream, Decoder, jpeg_size  # noqa: E402

t = TAP()
DEC = None


def test_snapshot(srv):
    st, hd, body = request(srv, "GET", "/snapshot.jpg")
    t.is_(st, 200, "GET /snapshot.jpg -> 200")
    t.is_(hd.get("content-type"), "image/jpeg", "snapshot is image/jpeg")
    t.is_(jpeg_size(body), (640, 480), "snapshot is a 640x480 JPEG")
    d = DEC.decode(body)
    t.ok(d[:3] == (640, 480, "420") and d[3] >= 0, "snapshot decodes "
         "(TurboJPEG), its frame number readable", "%r" % (d,))
    st, hd, body = request(srv, "HEAD", "/stream.mjpg")
    t.is_(st, 200, "HEAD /stream.mjpg -> 200")


def test_stream(srv):
    v = Stream(srv)
    head = v.headers()
    t.ok(head.startswith("HTTP/1.1 200") and
         "multipart/x-mixed-replace" in head, "stream: 200 multipart",
         head)
    frames, drawn, bad, stale = [], [], [], 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.0:
        first, hd, jpg = v.part()
        d = DEC.decode(jpg)
        if first != "--stockcamframe" or d[:3] != (640, 480, "420") or \
                hd.get("content-type") != "image/jpeg":
            bad.append((first, hd.get("content-type"), d))
        frames.append(int(hd.get("x-frame", "-1")))
        drawn.append(d[3] if d[0] != "bad" else -1)
        if abs(time.time() - float(hd.get("x-timestamp", "0"))) > 1.0:
            stale += 1
    el = time.monotonic() - t0
    v.close()
    t.is_(len(bad), 0, "stream: every part decodes (TurboJPEG) as a "
          "640x480 4:2:0 JPEG (%d parts)" % len(frames), "%r" % bad[:3])
    t.ok(all(b > a for a, b in zip(frames, frames[1:])),
         "stream: X-Frame advances", "frames=%r" % frames[:40])
    t.ok(all(b > a for a, b in zip(drawn, drawn[1:])) and drawn[0] >= 0,
         "stream: the frame number drawn in the pictures advances",
         "drawn=%r" % drawn[:40])
    t.is_(stale, 0, "stream: capture timestamps within 1 s of now")
    fps = len(frames) / el
    made = frames[-1] - frames[0] + 1 if frames else 0
    # On a loaded machine the camera itself makes fewer than 30 a second:
    # then the viewer must still get nearly every frame it made.
    t.ok(fps > (20 if not os.environ.get("STOCKCAM_WRAPPER") else 1) or
         (len(frames) >= 0.8 * made and made / el > 3),
         "stream: %.1f frames/s (30 wanted), %d of the %d made" % (
             fps, len(frames), made))


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
    first_frame = int(fast.part()[1].get("x-frame", "-1"))
    r0 = rss_kb(srv)
    n, t0 = 0, time.monotonic()
    last_frame = first_frame
    while time.monotonic() - t0 < 5.0:    # the slow one reads nothing
        last_frame = int(fast.part()[1].get("x-frame", "-1"))
        n += 1
    r1 = rss_kb(srv)
    el = time.monotonic() - t0
    made = last_frame - first_frame
    t.ok(n / el > (20 if not os.environ.get("STOCKCAM_WRAPPER") else 1) or
         (n >= 0.8 * made and made / el > 3),
         "a stalled viewer does not slow another (%.1f fps, %d of the %d "
         "made)" % (n / el, n, made))
    if r0 is not None and r1 is not None and rss_skip_reason() is None:
        t.ok(r1 - r0 < 8192, "server memory flat with a stalled viewer "
             "(%+d KiB)" % (r1 - r0))
    # Skipping starts once the kernel's buffers for the stalled socket are
    # full: megabytes on loopback, so on a slow (or sanitized, or loaded)
    # server it can take longer than the 5 s above. Keep the fast viewer
    # reading and look until it shows, with a generous deadline.
    deadline = time.monotonic() + scaled(30)
    while True:
        st, hd, body = request(srv, "GET", "/api/camera")
        j = json_of(body) or {}
        pv = j.get("per_viewer") or []
        if any(p.get("skipped", 0) > 0 for p in pv) or \
                time.monotonic() > deadline:
            break
        for _ in range(5):
            fast.part()
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
    global DEC
    check_binary()
    DEC = Decoder()
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
    DEC.close()
    t.done()


if __name__ == "__main__":
    main()
