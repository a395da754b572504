#!/usr/bin/env python3
"""E2E: the data directory when the disk fills, and after a crash.

A free-space reserve (--min-free-space) refuses stock jobs with 507
before the disk is full; a symbol that meets a full disk all the same
fails as disk_full (not bad_csv, which blames the upstream) and leaves
nothing half-written. Converted files wait while there is no room for
their archive and are archived by themselves once room returns, also
across a stop and start. Start-up removes every temporary file the server
owns: partial downloads in csv/ (hidden or not) and partial conversions
(.NAME.tmp-XXXXXX) in xml/, and says how many it removed. The full-disk
cases mount a small tmpfs of their own (root only)."""

import errno
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, Upstream, check_binary,  # noqa: E402
                     check_upstream, start_watchdog, post_job, wait_job,
                     check_problem, all_files_under, request_json,
                     request, poll, Tmpfs, tgz_names)

t = TAP()


def test_startup_cleanup():
    dd = tempfile.mkdtemp(prefix="stockcam-e2e-diskfull-")
    try:
        for sub in ("csv", "xml", "archives"):
            os.makedirs(os.path.join(dd, sub))
        temps = [
            os.path.join(dd, "csv", ".1a2b-7-AAPL.csv.tmp-Ab12Cd"),
            os.path.join(dd, "xml", ".1a2b-7-AAPL.xml.tmp-Zz99Yy"),
            os.path.join(dd, "xml", ".1a2b-7-MSFT.xml.tmp-Qq11Ww"),
        ]
        for p in temps:
            with open(p, "wb") as f:
                f.write(b"x" * 4096)
        with Server("--data-dir", dd) as srv:
            line = srv.wait_for_log(
                lambda l: "temporary files left by an earlier run" in l,
                timeout=10.0)
            t.ok(line is not None, "start-up logs how many temps it removed",
                 diag="\n".join(srv.log_lines()[-10:]))
            t.ok(line is not None and "removed 3 " in line,
                 "the count covers csv/ and xml/ temps", diag=repr(line))
            left = [p for p in temps if os.path.exists(p)]
            t.ok(not left, "no temp file is left", diag=repr(left))
            srv.stop()
    finally:
        shutil.rmtree(dd, ignore_errors=True)


def with_tmpfs(name, size, fn):
    if os.geteuid() != 0:
        t.skip(name, "needs root to mount a tmpfs")
        return
    fs = Tmpfs(size)
    try:
        if not fs.mounted:
            t.skip(name, "cannot mount a tmpfs here")
            return
        fn(fs.dir)
    finally:
        fs.close()


def ballast(path, nbytes):
    with open(path, "wb") as f:
        chunk = b"\0" * 65536
        while nbytes > 0:
            f.write(chunk[:min(nbytes, len(chunk))])
            nbytes -= len(chunk)


def test_min_free_space(dd):
    with Server("--data-dir", dd, "--min-free-space", 8 << 20) as srv:
        st, hd, body, j = post_job(srv, ["ROOM1"])
        t.is_(st, 202, "min-free-space: 16 MiB free, 8 kept: accepted")
        if st == 202:
            wait_job(srv, j["id"])
        fill = os.path.join(dd, "ballast")
        ballast(fill, 10 << 20)
        st, hd, body, _ = post_job(srv, ["NOROOM"])
        check_problem(t, "min-free-space: under the reserve", st, hd, body,
                      507)
        t.ok("retry-after" in hd, "min-free-space: 507 has Retry-After",
             repr(hd))
        st, _, body, _ = request_json(srv, "POST", "/api/jobs", {
            "type": "armstrong", "from": 1, "to": 1000})
        t.is_(st, 202, "min-free-space: a search (no files) still runs")
        os.unlink(fill)
        st, _, _, j = post_job(srv, ["ROOM2"])
        t.is_(st, 202, "min-free-space: space back, accepted again")
        if st == 202:
            final = wait_job(srv, j["id"])
            t.is_(final and final.get("state"), "succeeded",
                  "min-free-space: and it succeeds")


def test_disk_full_code(dd):
    with Upstream("--rows", "40000") as up, \
            Server("--data-dir", dd, "--source-url", up.source_url,
                   "--min-free-space", "0") as srv:
        st, _, _, j = post_job(srv, ["BIG%d" % i for i in range(6)])
        final = wait_job(srv, j["id"], timeout=120) if st == 202 else None
        syms = (final or {}).get("symbols", [])
        codes = sorted(set((s.get("error") or {}).get("code")
                           for s in syms if s["state"] == "failed"))
        t.ok(final is not None and final.get("state") == "failed" and
             codes == ["disk_full"],
             "disk full: the symbols that meet it fail as disk_full",
             "state=%r codes=%r\n%s" % (final and final.get("state"), codes,
                                       "\n".join(srv.log_lines()[-12:])))
        left = [p for p in all_files_under(os.path.join(dd, "xml")) +
                all_files_under(os.path.join(dd, "csv"))
                if os.path.basename(p).startswith(".") or
                p.endswith(".csv")]
        t.ok(not left, "disk full: nothing half-written is left",
             repr(left[:5]))
        io = [ln for ln in srv.log_lines() if "I/O error" in ln]
        t.ok(not io, "disk full: no raw libxml2 I/O error on stderr",
             "\n".join(io[:5]))


def fill_disk(path):
    """Writes path until the file system is full; returns its size."""
    n = 0
    chunk = b"\0" * 65536
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while True:
            try:
                w = os.write(fd, chunk)
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EDQUOT):
                    if len(chunk) == 1:
                        return n
                    chunk = chunk[:len(chunk) // 2]
                    continue
                raise
            n += w
    finally:
        os.close(fd)


def archiver_stats(srv):
    st, _, _, j = request_json(srv, "GET", "/api/stats")
    return (j or {}).get("archiver", {}) if st == 200 else {}


HEAL_SYMBOLS = ["HEAL%02d" % i for i in range(12)]


def stall_archiver(srv, dd, name):
    """Runs a job whose 12 files are converted while a second job's slow
    download keeps them from being packed, fills the disk, then cancels
    the slow job so that the archive is tried with no room. Returns
    (job id, ballast path) once the archiver reports the files waiting,
    or (None, path) after a failed check."""
    fill = os.path.join(dd, "ballast")
    st, _, _, a = post_job(srv, HEAL_SYMBOLS)
    st2, _, _, b = post_job(srv, ["slow-300000-HOLD"])
    if not t.ok(st == 202 and st2 == 202, "%s: both jobs accepted" % name,
                "%r %r" % (st, st2)):
        return None, fill
    ja = wait_job(srv, a["id"], timeout=60, pred=lambda j: j.get(
        "progress", {}).get("archiving") == len(HEAL_SYMBOLS))
    if not t.ok(ja is not None and ja["progress"]["archiving"] ==
                len(HEAL_SYMBOLS), "%s: every file converted, waiting for "
                "its batch" % name, repr(ja and ja.get("progress"))):
        return None, fill
    fill_disk(fill)
    request(srv, "DELETE", "/api/jobs/%d" % b["id"])
    ar, el = poll(lambda: (lambda s: s if s.get("waiting") ==
                           len(HEAL_SYMBOLS) and s.get("retries", 0) >= 2
                           else None)(archiver_stats(srv)), timeout=30)
    t.ok(ar is not None, "%s: with no room the archiver keeps the files "
         "and tries again (%.1f s)" % (name, el), repr(archiver_stats(srv)))
    st, _, _, j = request_json(srv, "GET", "/api/jobs/%d" % a["id"])
    t.ok(st == 200 and j.get("state") == "running" and
         j["progress"]["failed"] == 0 and
         j["progress"]["archiving"] == len(HEAL_SYMBOLS),
         "%s: the job is still running and no symbol failed" % name,
         repr(j and (j.get("state"), j.get("progress"))))
    xml = [p for p in all_files_under(os.path.join(dd, "xml"))
           if p.endswith(".xml")]
    t.is_(len(xml), len(HEAL_SYMBOLS), "%s: the converted XML is kept" % name)
    adir = os.path.join(dd, "archives")
    arch = os.listdir(adir)
    t.ok(not [n for n in arch if n.endswith(".tgz")],
         "%s: no archive is written" % name, repr(arch))
    # A try may be under way at any moment; between tries nothing stays.
    gone, _ = poll(lambda: not [n for n in os.listdir(adir) if ".tmp" in n],
                   timeout=10, interval=0.005)
    t.ok(gone, "%s: a partial archive is removed after its try" % name,
         repr(os.listdir(adir)))
    return a["id"], fill


def check_healed(srv, dd, jid, name):
    fin = wait_job(srv, jid, timeout=60)
    syms = (fin or {}).get("symbols", [])
    t.ok(fin is not None and fin.get("state") == "succeeded" and
         len(syms) == len(HEAL_SYMBOLS) and
         all(s.get("archive") for s in syms),
         "%s: room back, the job succeeds with every symbol archived" % name,
         repr(fin and (fin.get("state"), fin.get("progress"))))
    names = set()
    for a in set(s.get("archive") for s in syms if s.get("archive")):
        names.update(tgz_names(os.path.join(dd, "archives", a)))
    want = set("%d/%s.xml" % (jid, s) for s in HEAL_SYMBOLS)
    t.ok(want <= names, "%s: the archives hold every symbol's XML" % name,
         repr(sorted(want - names)[:5]))
    left = [p for p in all_files_under(os.path.join(dd, "xml"))]
    t.ok(not left, "%s: xml/ is empty afterwards" % name, repr(left[:5]))


def test_disk_heals(dd):
    with Upstream("--rows", "2000") as up, \
            Server("--data-dir", dd, "--source-url", up.source_url,
                   "--min-free-space", "0", "--batch-size", "1000",
                   "--fetch-timeout", "600") as srv:
        jid, fill = stall_archiver(srv, dd, "heals")
        if jid is None:
            return
        os.unlink(fill)
        check_healed(srv, dd, jid, "heals")
        room = srv.wait_for_log(lambda ln: "room again" in ln, timeout=5)
        t.ok(room is not None, "heals: the log says when room returned")


def test_disk_heals_restart(dd):
    with Upstream("--rows", "2000") as up:
        args = ("--data-dir", dd, "--source-url", up.source_url,
                "--min-free-space", "0", "--batch-size", "1000",
                "--fetch-timeout", "600")
        with Server(*args) as srv:
            jid, fill = stall_archiver(srv, dd, "restart")
            if jid is None:
                return
            rc = srv.stop()
            t.is_(rc, 0, "restart: stopped cleanly with no room")
            kept = srv.wait_for_log(lambda ln: "stay for the next start"
                                    in ln, timeout=1)
            t.ok(kept is not None, "restart: the log says the files stay")
        xml = [p for p in all_files_under(os.path.join(dd, "xml"))
               if p.endswith(".xml")]
        t.is_(len(xml), len(HEAL_SYMBOLS), "restart: the XML is still there")
        with Server(*args) as srv:
            st, _, _, j = request_json(srv, "GET", "/api/jobs/%d" % jid)
            t.ok(st == 200 and j.get("state") == "running",
                 "restart: still full, the job is back and waits",
                 repr(j and j.get("state")))
            ar, _ = poll(lambda: archiver_stats(srv).get("waiting") ==
                         len(HEAL_SYMBOLS), timeout=30)
            t.ok(ar, "restart: its files wait for room again",
                 repr(archiver_stats(srv)))
            os.unlink(fill)
            check_healed(srv, dd, jid, "restart")


def test_downloads_wait(dd):
    """Under half of --min-free-space free, no download starts: the
    symbols stay queued, and go on by themselves once there is room."""
    with Upstream("--rows", "50") as up, \
            Server("--data-dir", dd, "--source-url", up.source_url,
                   "--min-free-space", 8 << 20,
                   "--per-host-connections", "1") as srv:
        syms = ["slow-1500-FIRST"] + ["WAIT%d" % i for i in range(5)]
        st, _, _, j = post_job(srv, syms)
        if not t.is_(st, 202, "downloads wait: accepted"):
            return
        fill = os.path.join(dd, "ballast")
        st_ = os.statvfs(dd)
        ballast(fill, st_.f_bavail * st_.f_frsize - (2 << 20))
        paused, el = poll(lambda: archiver_stats(srv).get(
            "downloads_paused"), timeout=30)
        t.ok(paused, "downloads wait: 2 MiB free of 8 kept: downloads "
             "pause (%.1f s)" % el, repr(archiver_stats(srv)))
        time.sleep(1.5)
        st, _, _, cur = request_json(srv, "GET", "/api/jobs/%d" % j["id"])
        prog = (cur or {}).get("progress", {})
        t.ok(cur and cur.get("state") == "running" and
             prog.get("failed") == 0 and prog.get("queued", 0) >= 1,
             "downloads wait: the job runs with symbols queued, none "
             "failed", repr(cur and (cur.get("state"), prog)))
        os.unlink(fill)
        fin = wait_job(srv, j["id"], timeout=60)
        t.is_(fin and fin.get("state"), "succeeded",
              "downloads wait: room back, the job succeeds by itself")
        t.ok(srv.wait_for_log(lambda ln: "downloads go on" in ln,
                              timeout=5) is not None,
             "downloads wait: the log says when they go on")


def main():
    check_binary()
    check_upstream()
    start_watchdog(300)
    t.group("start-up cleanup", test_startup_cleanup)
    with_tmpfs("min-free-space", "16m", test_min_free_space)
    with_tmpfs("disk full", "6m", test_disk_full_code)
    with_tmpfs("downloads wait", "16m", test_downloads_wait)
    with_tmpfs("disk heals", "16m", test_disk_heals)
    with_tmpfs("disk heals across a restart", "16m", test_disk_heals_restart)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
