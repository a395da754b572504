#!/usr/bin/env python3
"""E2E: the data directory when the disk fills, and after a crash.

A free-space reserve (--min-free-space) refuses stock jobs with 507
before the disk is full; a symbol that meets a full disk all the same
fails as disk_full (not bad_csv, which blames the upstream) and leaves
nothing half-written. Start-up removes every temporary file the server
owns: partial downloads in csv/ (hidden or not) and partial conversions
(.NAME.tmp-XXXXXX) in xml/, and says how many it removed. The full-disk
cases mount a small tmpfs of their own (root only)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, Upstream, check_binary,  # noqa: E402
                     check_upstream, start_watchdog, post_job, wait_job,
                     check_problem, all_files_under, request_json)

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


class Tmpfs:
    """A tmpfs of `size` mounted on a private directory, or None."""

    def __init__(self, size):
        self.top = tempfile.mkdtemp(prefix="stockcam-e2e-tmpfs-")
        self.dir = os.path.join(self.top, "dd")
        os.mkdir(self.dir)
        self.mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs",
             self.dir], stderr=subprocess.DEVNULL).returncode == 0

    def close(self):
        if self.mounted:
            subprocess.run(["umount", self.dir], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.top, ignore_errors=True)


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
             "state=%r codes=%r" % (final and final.get("state"), codes))
        left = [p for p in all_files_under(os.path.join(dd, "xml")) +
                all_files_under(os.path.join(dd, "csv"))
                if os.path.basename(p).startswith(".") or
                p.endswith(".csv")]
        t.ok(not left, "disk full: nothing half-written is left",
             repr(left[:5]))
        io = [ln for ln in srv.log_lines() if "I/O error" in ln]
        t.ok(not io, "disk full: no raw libxml2 I/O error on stderr",
             "\n".join(io[:5]))


def main():
    check_binary()
    check_upstream()
    start_watchdog(300)
    t.group("start-up cleanup", test_startup_cleanup)
    with_tmpfs("min-free-space", "16m", test_min_free_space)
    with_tmpfs("disk full", "6m", test_disk_full_code)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
