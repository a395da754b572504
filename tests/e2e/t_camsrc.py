#!/usr/bin/env python3
"""E2E: camera sources other than the built-in pattern, and their failures.

y4m from a generated file (looped, each chroma, odd sizes) and from a
pipe on standard input (then closed); a broken and a missing file that
later appears; a V4L2 device emulated by tests/v4l2shim.so (LD_PRELOAD)
in YUYV (encoded by the server) and MJPEG (passed through unchanged,
told apart by its 4:2:2 subsampling), and that device disappearing
mid-stream and coming back. Every JPEG received is decoded with
TurboJPEG by tests/camtool, which also reads the frame number drawn into
the picture."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, request, json_of, check_problem,  # noqa: E402
                     check_binary, start_watchdog, scaled, stop_clean, WRAPPER,
                     SERVER_BIN)
from camlib import Stream, Decoder  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
from camlib import CAMTOOL  # noqa: E402
SHIM = os.environ.get("STOCKCAM_V4L2SHIM") or os.path.normpath(
    os.path.join(HERE, "..", "v4l2shim.so"))
DEVICE = "/dev/video-stockcam-test"
SLOW = bool(WRAPPER)

t = TAP()


DEC = None


def y4m_file(size, frames, fps=30, chroma="420jpeg"):
    fd, path = tempfile.mkstemp(prefix="stockcam-e2e-", suffix=".y4m")
    with os.fdopen(fd, "wb") as f:
        subprocess.run([CAMTOOL, "y4m", size, str(frames), str(fps), chroma],
                       stdout=f, check=True)
    return path


def camera(srv):
    st, hd, body = request(srv, "GET", "/api/camera")
    return json_of(body) or {}


def watch(srv, seconds, until=None):
    """Reads the stream for up to seconds; returns a list of
    (headers, decoded) per part. Stops early once until(parts) is true."""
    v = Stream(srv)
    v.headers(timeout=10)
    parts = []
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < scaled(seconds):
            first, hd, jpg = v.part(timeout=5)
            parts.append((hd, DEC.decode(jpg)))
            if until is not None and until(parts):
                break
    finally:
        v.close()
    return parts


def first_part(srv, skip=0):
    """Watches until the (skip+1)th part; returns the part line, its
    headers and /api/camera read while still watching."""
    v = Stream(srv)
    try:
        v.headers(timeout=10)
        for _ in range(skip + 1):
            first, hd, jpg = v.part(timeout=5)
        return first, hd, camera(srv)
    finally:
        v.close()


def advancing(counters, modulo=None):
    """Every step moves forward by 1..5 frames (modulo for a looped file;
    more under valgrind, which skips frames for slowness)."""
    most = 60 if SLOW else 5
    for a, b in zip(counters, counters[1:]):
        d = b - a if modulo is None else (b - a) % modulo
        if not 1 <= d <= most:
            return False
    return len(counters) > 1


def test_y4m_file():
    path = y4m_file("320x240", 12, 30)
    try:
        with Server("--camera", "y4m:" + path) as srv:
            parts = watch(srv, 1.5)
            dec = [d for _, d in parts]
            t.ok(len(dec) > 10 and all(d[:3] == (320, 240, "420")
                                       for d in dec),
                 "y4m file: %d parts, every one a 320x240 4:2:0 JPEG" %
                 len(dec), "%r" % dec[:5])
            counters = [d[3] for d in dec if d[0] != "bad"]
            t.ok(advancing(counters, 12), "y4m file: frame numbers advance",
                 "%r" % counters[:40])
            t.ok(any(b < a for a, b in zip(counters, counters[1:])),
                 "y4m file: played to its end and looped")
            j = camera(srv)
            t.is_(j.get("format"), "y4m 4:2:0", "/api/camera: format")
            t.is_((j.get("width"), j.get("height"), j.get("fps_wanted")),
                  (320, 240, 30), "/api/camera: size and rate from the "
                  "y4m header")
            t0 = time.monotonic()
            while j.get("state") != "idle" and \
                    time.monotonic() - t0 < scaled(3):
                time.sleep(0.05)
                j = camera(srv)
            t.is_(j.get("state"), "idle", "/api/camera: idle once nobody "
                  "watches")
            stop_clean(t, srv, "y4m file server")
    finally:
        os.unlink(path)


def test_y4m_chroma():
    for size, chroma, want in (("320x240", "422", "422"),
                               ("320x240", "444", "444"),
                               ("320x240", "mono", "gray"),
                               ("321x241", "420jpeg", "420")):
        path = y4m_file(size, 3, 30, chroma)
        try:
            with Server("--camera", "y4m:" + path) as srv:
                st, hd, body = request(srv, "GET", "/snapshot.jpg")
                d = DEC.decode(body) if st == 200 else ("bad", st)
                w, h = (int(x) for x in size.split("x"))
                t.is_(d[:3], (w, h, want), "y4m %s %s: snapshot decodes as "
                      "%dx%d %s" % (size, chroma, w, h, want))
                t.ok(d[0] != "bad" and 0 <= d[3] < 3,
                     "y4m %s %s: its frame number reads back (%r)" %
                     (size, chroma, d[3:]))
        finally:
            os.unlink(path)


def test_y4m_pipe():
    gen = subprocess.Popen([CAMTOOL, "y4m", "320x240", "0", "25"],
                           stdout=subprocess.PIPE)
    try:
        with Server("--camera", "y4m:-", stdin=gen.stdout) as srv:
            gen.stdout.close()    # the server holds the only read end
            t0 = time.monotonic()
            parts = watch(srv, 2.0)
            el = time.monotonic() - t0
            dec = [d for _, d in parts]
            counters = [d[3] for d in dec if d[0] != "bad"]
            t.ok(len(dec) > 5 and all(d[:3] == (320, 240, "420")
                                      for d in dec),
                 "y4m pipe: %d parts, all 320x240 JPEGs" % len(dec))
            t.ok(advancing(counters), "y4m pipe: frame numbers advance",
                 "%r" % counters[:40])
            if not SLOW:
                t.ok(len(dec) / el > 18, "y4m pipe: %.1f frames/s (25 "
                     "sent)" % (len(dec) / el))

            # The producer goes away: placeholder, error, server alive.
            v = Stream(srv)
            v.headers(timeout=10)
            v.part(timeout=5)
            gen.kill()
            gen.wait()
            t0 = time.monotonic()
            hd = {}
            while "x-placeholder" not in hd and \
                    time.monotonic() - t0 < scaled(5):
                first, hd, jpg = v.part(timeout=5)
            t.ok("x-placeholder" in hd, "pipe closed: the stream shows a "
                 "placeholder frame (after %.2f s)" %
                 (time.monotonic() - t0))
            d = DEC.decode(jpg)
            t.is_(d[:2], (320, 240), "the placeholder is a valid JPEG of "
                  "the stream's size")
            j = camera(srv)
            t.is_(j.get("state"), "failed", "/api/camera: state failed")
            t.ok("end of input" in (j.get("error") or ""),
                 "/api/camera: error says why", "%r" % j.get("error"))
            st, hd2, body = request(srv, "GET", "/snapshot.jpg")
            check_problem(t, "snapshot while the source fails", st, hd2,
                          body, 503)
            st, _, _ = request(srv, "GET", "/api/health")
            t.is_(st, 200, "the server keeps serving")
            v.close()
            stop_clean(t, srv, "y4m pipe server")
    finally:
        gen.kill()
        gen.wait()


def test_y4m_broken_then_fixed():
    d = tempfile.mkdtemp(prefix="stockcam-e2e-")
    path = os.path.join(d, "cam.y4m")
    with open(path, "wb") as f:
        f.write(b"this is not a y4m stream\n")
    with Server("--camera", "y4m:" + path) as srv:
        first, hd, j = first_part(srv)
        t.ok("x-placeholder" in hd, "broken y4m: viewers get the "
             "placeholder")
        t.ok(j.get("state") == "failed" and
             "YUV4MPEG2" in (j.get("error") or ""),
             "broken y4m: failed, with the parser's reason",
             "%r" % ((j.get("state"), j.get("error")),))

        os.unlink(path)
        first, hd, j = first_part(srv, skip=2)
        t.ok("No such file" in (j.get("error") or ""),
             "missing y4m: the error says so", "%r" % j.get("error"))

        # The file appears: the next retry picks it up, same viewer.
        v = Stream(srv)
        v.headers(timeout=10)
        with open(path + ".tmp", "wb") as f:
            subprocess.run([CAMTOOL, "y4m", "320x240", "30", "30"],
                           stdout=f, check=True)
        os.rename(path + ".tmp", path)
        t0 = time.monotonic()
        live = 0
        while time.monotonic() - t0 < scaled(5) and live < 3:
            first, hd, jpg = v.part(timeout=5)
            if "x-placeholder" not in hd:
                live += 1
        v.close()
        t.is_(live, 3, "the file appears: live frames within %.2f s" %
              (time.monotonic() - t0))
        stop_clean(t, srv, "y4m retry server")
    shutil.rmtree(d)


def shim_env(present=None, formats=None, frozen=None):
    env = {"LD_PRELOAD": SHIM, "V4L2SHIM_DEVICE": DEVICE}
    if frozen:
        env["V4L2SHIM_FROZEN"] = frozen
    # The ASan runtime wants to come first; the shim must, to intercept.
    asan = os.environ.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + \
        "verify_asan_link_order=0"
    if present:
        env["V4L2SHIM_PRESENT"] = present
    if formats:
        env["V4L2SHIM_FORMATS"] = formats
    return env


def test_v4l2(fmt, want_samp):
    with Server("--camera", "v4l2:%s:640x480@30:%s" % (DEVICE, fmt),
                env=shim_env()) as srv:
        t0 = time.monotonic()
        parts = watch(srv, 2.0)
        el = time.monotonic() - t0
        dec = [d for _, d in parts]
        t.ok(len(dec) > 5 and all(d[:3] == (640, 480, want_samp)
                                  for d in dec),
             "v4l2 %s: %d parts, all 640x480 %s JPEGs" %
             (fmt, len(dec), want_samp), "%r" % dec[:3])
        counters = [d[3] for d in dec if d[0] != "bad"]
        t.ok(advancing(counters), "v4l2 %s: frame numbers advance" % fmt,
             "%r" % counters[:40])
        if not SLOW:
            t.ok(len(dec) / el > 20, "v4l2 %s: %.1f frames/s (30 asked)" %
                 (fmt, len(dec) / el))
        j = camera(srv)
        t.is_(j.get("format"), fmt, "/api/camera: format %s" % fmt)
        if fmt == "mjpeg":
            t.ok(j.get("frames_passed_through", 0) > 0 and
                 j.get("frames_encoded") == 0,
                 "mjpeg: passed through, never re-encoded",
                 "%r" % j)
        else:
            t.ok(j.get("frames_encoded", 0) > 0 and
                 j.get("frames_passed_through") == 0,
                 "yuyv: encoded by the server")
        stop_clean(t, srv, "v4l2 %s server" % fmt)


def test_v4l2_vanish():
    d = tempfile.mkdtemp(prefix="stockcam-e2e-")
    present = os.path.join(d, "present")
    open(present, "w").close()
    with Server("--camera", "v4l2:%s" % DEVICE,
                env=shim_env(present=present)) as srv:
        v = Stream(srv)
        v.headers(timeout=10)
        for _ in range(5):
            first, hd, jpg = v.part(timeout=5)
        t.ok("x-placeholder" not in hd, "device present: live frames")

        os.unlink(present)            # unplugged mid-stream
        t0 = time.monotonic()
        while "x-placeholder" not in hd and \
                time.monotonic() - t0 < scaled(5):
            first, hd, jpg = v.part(timeout=5)
        t.ok("x-placeholder" in hd, "device gone: placeholder after "
             "%.2f s" % (time.monotonic() - t0))
        t.is_(DEC.decode(jpg)[:2], (640, 480), "placeholder decodes, "
              "640x480")
        j = camera(srv)
        t.ok(j.get("state") == "failed" and j.get("error"),
             "/api/camera: failed, %r" % j.get("error"))
        st, _, _ = request(srv, "GET", "/api/health")
        t.is_(st, 200, "the server keeps serving")

        open(present, "w").close()    # plugged back in
        t0 = time.monotonic()
        live = []
        while len(live) < 5 and time.monotonic() - t0 < scaled(5):
            first, hd, jpg = v.part(timeout=5)
            if "x-placeholder" not in hd:
                live.append(DEC.decode(jpg))
        t.is_(len(live), 5, "device back: the same viewer gets live "
              "frames again (%.2f s)" % (time.monotonic() - t0))
        t.ok(advancing([x[3] for x in live]), "and they advance",
             "%r" % live)
        j = camera(srv)
        t.ok(j.get("state") == "live" and j.get("error") is None and
             j.get("failures") == 1, "/api/camera: live again, one failure",
             "%r" % j)
        v.close()
        stop_clean(t, srv, "v4l2 vanish server")
    shutil.rmtree(d)


def test_v4l2_hang():
    """A device that keeps streaming but sends no frame: placeholder
    after 2 s, reopened after 5 s, live again once it sends."""
    d = tempfile.mkdtemp(prefix="stockcam-e2e-")
    frozen = os.path.join(d, "frozen")
    with Server("--camera", "v4l2:%s" % DEVICE,
                env=shim_env(frozen=frozen)) as srv:
        v = Stream(srv)
        v.headers(timeout=10)
        for _ in range(3):
            first, hd, jpg = v.part(timeout=5)
        open(frozen, "w").close()
        t0 = time.monotonic()
        while "x-placeholder" not in hd and \
                time.monotonic() - t0 < scaled(6):
            first, hd, jpg = v.part(timeout=10)
        el = time.monotonic() - t0
        t.ok("x-placeholder" in hd and 1.5 < el, "hung device: "
             "placeholder after %.2f s" % el)
        j = camera(srv)
        t.ok(j.get("state") == "stalled" and
             "no frame" in (j.get("error") or ""),
             "/api/camera: stalled, %r" % j.get("error"))
        line = srv.wait_for_log(lambda ln: "sent no frame for" in ln,
                                timeout=10)
        el = time.monotonic() - t0
        t.ok(line is not None and el > 4, "after 5 s the device is opened "
             "again (%.1f s): %r" % (el, line))
        t.ok(camera(srv).get("failures", 0) >= 1, "/api/camera counts it "
             "as a failure")
        os.unlink(frozen)
        t0 = time.monotonic()
        live = 0
        while live < 3 and time.monotonic() - t0 < scaled(5):
            first, hd, jpg = v.part(timeout=5)
            if "x-placeholder" not in hd:
                live += 1
        t.is_(live, 3, "frames again once the device sends (%.2f s)" %
              (time.monotonic() - t0))
        v.close()
        stop_clean(t, srv, "v4l2 hang server")
    shutil.rmtree(d)


def test_v4l2_refusals():
    with Server("--camera", "v4l2:%s:mjpeg" % DEVICE,
                env=shim_env(formats="yuyv")) as srv:
        first, hd, j = first_part(srv)
        t.ok("offers no MJPEG" in (j.get("error") or "") and
             "YUYV" in j.get("error"),
             "a format the device lacks: named, with what it has",
             "%r" % j.get("error"))
        stop_clean(t, srv, "v4l2 refusal server")
    with Server("--camera", "v4l2:/nonexistent/video9") as srv:
        first, hd, j = first_part(srv)
        t.ok("No such file" in (j.get("error") or ""),
             "a missing device: the error says so", "%r" % j.get("error"))


def test_bad_specs():
    """Refused before anything happens: no data directory made."""
    for spec in ("bogus", "y4m:", "v4l2:", "v4l2:/dev/video0:wat",
                 "testpattern:641x480", "testpattern:640x480@0"):
        cwd = tempfile.mkdtemp(prefix="stockcam-e2e-")
        p = subprocess.run([*WRAPPER, SERVER_BIN,
                            "--camera", spec, "--listen", "127.0.0.1:0"],
                           capture_output=True, timeout=scaled(10), cwd=cwd)
        t.ok(p.returncode == 2 and b"--camera" in p.stderr,
             "--camera %s: refused at start with a message" % spec,
             p.stderr.decode(errors="replace")[-300:])
        t.is_(os.listdir(cwd), [], "--camera %s: nothing created" % spec)
        shutil.rmtree(cwd)


def main():
    global DEC
    check_binary()
    start_watchdog(300)
    DEC = Decoder()
    for fn, args in ((test_y4m_file, ()), (test_y4m_chroma, ()),
                     (test_y4m_pipe, ()), (test_y4m_broken_then_fixed, ()),
                     (test_v4l2, ("yuyv", "420")),
                     (test_v4l2, ("mjpeg", "422")),
                     (test_v4l2_vanish, ()), (test_v4l2_hang, ()),
                     (test_v4l2_refusals, ()),
                     (test_bad_specs, ())):
        try:
            fn(*args)
        except Exception as e:
            t.ok(False, "%s%r: aborted by %r" % (fn.__name__, args, e))
    DEC.close()
    t.done()


if __name__ == "__main__":
    main()
