#!/usr/bin/env python3
"""E2E: durable jobs. An accepted job survives kill -9 and restarts on the
same data directory: a 1000-symbol job killed at random moments finishes
with its id, every symbol in exactly one archive that tar and Python's
tarfile read; an Armstrong search killed mid-way gives the full result;
finished jobs come back byte for byte; ids never repeat; idempotency keys
hold across a restart; a corrupt, a locked and a future-version store
stop start-up with a clear message; a full disk refuses submissions with
503 and heals by itself; --store memory keeps nothing."""

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, request, request_json, post_job,  # noqa: E402
                     get_job, wait_job, check_binary, check_problem,
                     command_prefix, server_env, start_watchdog, scaled,
                     stop_clean, tgz_names, WRAPPER)

t = TAP()
ROUNDS = 20 if not WRAPPER else 3
NSYM = 1000 if not WRAPPER else 100


def skip(name, why):
    t.n += 1
    print("ok %d - %s # SKIP %s" % (t.n, name, why), flush=True)


# The store: each data directory's own SQLite file, unless t_pgstore.py
# sets this to a function giving a data directory its --store arguments.
STORE = None


def server(dd, *args):
    return Server("--data-dir", dd, *(STORE(dd) if STORE else ()), *args)


def kill9(srv):
    srv.proc.kill()
    srv.proc.wait()


def archive_entries(dd):
    """{entry: [archive, ...]} over every archive, read by tgz_names;
    and the archives a reader refused."""
    seen, bad = {}, []
    adir = os.path.join(dd, "archives")
    for name in sorted(os.listdir(adir)):
        if not name.endswith(".tgz") or name.startswith("."):
            continue
        path = os.path.join(adir, name)
        try:
            names = tgz_names(path)
        except Exception:   # noqa: BLE001 - any reader's refusal counts
            bad.append(name)
            continue
        for m in names:
            seen.setdefault(m, []).append(name)
    return seen, bad


def start_fails(dd, *args):
    """Start the server expecting a refusal: (exit status, stderr)."""
    argv = [*command_prefix(), "--listen", "127.0.0.1:0", "--data-dir", dd,
            *args]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, env=server_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=scaled(20))
    return p.returncode, p.stderr.decode("utf-8", "replace")


def test_kill_stock():
    dd = tempfile.mkdtemp(prefix="stockcam-e2e-durable-")
    rng = random.Random(11)
    symbols = ["S%04d" % i for i in range(NSYM)]
    try:
        srv = server(dd)
        st, _, _, j = post_job(srv, symbols)
        t.is_(st, 202, "a %d-symbol job accepted" % NSYM)
        jid = j["id"]
        accepted = []
        for r in range(ROUNDS):
            time.sleep(scaled(rng.uniform(0.05, 0.6)))
            if r % 5 == 2:      # now and then a small job too
                st, _, _, k = post_job(srv, ["K%d" % r])
                if st == 202:
                    accepted.append(k["id"])
            kill9(srv)
            srv.close()
            srv = server(dd)
        j = wait_job(srv, jid, timeout=180)
        t.ok(j is not None and j.get("state") == "succeeded" and
             j.get("id") == jid,
             "after %d kill -9s the job finished, succeeded, same id"
             % ROUNDS, "last: %r" % (j and {k: j[k] for k in
                                           ("state", "progress")}))
        others = [wait_job(srv, k, timeout=60) for k in accepted]
        t.ok(all(o is not None and o.get("state") == "succeeded"
                 for o in others),
             "%d small jobs accepted between kills all finished"
             % len(accepted))
        st, _, _, n = post_job(srv, ["NEW"])
        t.ok(st == 202 and n["id"] > max([jid] + accepted),
             "a new job's id is above every earlier one",
             "new %r" % (n and n.get("id")))
        wait_job(srv, n["id"], timeout=30)
        stop_clean(t, srv, "server after the kills")
        srv.close()
        seen, bad = archive_entries(dd)
        want = ["%d/%s.xml" % (jid, s) for s in symbols]
        missing = [e for e in want if e not in seen]
        twice = {e: a for e, a in seen.items() if len(a) > 1}
        t.ok(not missing, "every symbol is in an archive",
             "missing %d, e.g. %r" % (len(missing), missing[:5]))
        t.ok(not twice, "no entry is in two archives",
             "e.g. %r" % list(twice.items())[:5])
        t.ok(not bad, "tar -tzf reads every archive", "refused: %r" % bad)
        left = os.listdir(os.path.join(dd, "xml"))
        t.ok(not left, "no XML file is left behind", "%r" % left[:5])
    finally:
        shutil.rmtree(dd, ignore_errors=True)


def test_kill_search():
    dd = tempfile.mkdtemp(prefix="stockcam-e2e-durable-")
    rng = random.Random(5)
    body = {"type": "armstrong", "from": 0, "to": 2 ** 63 - 1}
    try:
        with Server("--store", "memory") as ref:
            st, _, _, j = request_json(ref, "POST", "/api/jobs", body)
            want = wait_job(ref, j["id"], timeout=120)["result"]
        srv = server(dd)
        st, _, _, j = request_json(srv, "POST", "/api/jobs", body)
        jid = j["id"]
        for r in range(max(3, ROUNDS // 4)):
            time.sleep(scaled(rng.uniform(0.02, 0.2)))
            kill9(srv)
            srv.close()
            srv = server(dd)
        j = wait_job(srv, jid, timeout=180)
        t.ok(j is not None and j.get("state") == "succeeded" and
             j.get("result") == want and len(want) == 51,
             "a whole-range search killed mid-way gives all 51 numbers",
             "state %r, %r numbers" % (j and j.get("state"),
                                       j and len(j.get("result") or [])))
        t.ok(j["progress"]["chunks_done"] == j["progress"]["chunks"],
             "every chunk is done once")
        stop_clean(t, srv, "search server")
        srv.close()
    finally:
        shutil.rmtree(dd, ignore_errors=True)


def test_restart():
    dd = tempfile.mkdtemp(prefix="stockcam-e2e-durable-")
    try:
        with server(dd) as srv:
            _, _, _, a = post_job(srv, ["AAPL", "MSFT", "^GSPC"])
            _, _, _, b = request_json(srv, "POST", "/api/jobs", {
                "type": "armstrong", "from": 1, "to": 100000})
            _, _, _, c = post_job(srv, ["IDEM"],
                                  headers={"Idempotency-Key": "k-1"})
            for x in (a, b, c):
                wait_job(srv, x["id"])
            before = {x["id"]: get_job(srv, x["id"])[2] for x in (a, b, c)}
            listed = request(srv, "GET", "/api/jobs")[2]
            stop_clean(t, srv, "first server")
        with server(dd) as srv:
            after = {i: get_job(srv, i)[2] for i in before}
            t.ok(after == before, "a restart keeps finished jobs' JSON "
                 "byte for byte", "%r\n%r" % (before, after))
            t.is_(request(srv, "GET", "/api/jobs")[2], listed,
                  "and the list the same")
            st, _, _, j = post_job(srv, ["IDEM"],
                                   headers={"Idempotency-Key": "k-1"})
            t.ok(st == 200 and j["id"] == c["id"],
                 "the same Idempotency-Key after a restart: the same job",
                 "%d %r" % (st, j))
            st, hd, body, _ = post_job(srv, ["OTHER"],
                                       headers={"Idempotency-Key": "k-1"})
            check_problem(t, "another body with that key", st, hd, body, 422)
            st, _, _, n = post_job(srv, ["NEW"])
            t.ok(st == 202 and n["id"] > max(before),
                 "ids go on above the old ones", "%r" % n.get("id"))
            stop_clean(t, srv, "second server")
    finally:
        shutil.rmtree(dd, ignore_errors=True)


def test_refusals():
    dd = tempfile.mkdtemp(prefix="stockcam-e2e-durable-")
    try:
        db = os.path.join(dd, "stockcam.db")
        with open(db, "wb") as f:
            f.write(b"this is no database, " * 200)
        rc, err = start_fails(dd)
        t.ok(rc == 1 and "--store" in err and "stockcam.db" in err,
             "a corrupt store stops start-up: exit 1, naming it",
             "rc=%r %r" % (rc, err[-300:]))
        os.unlink(db)
        con = sqlite3.connect(db)
        con.execute("PRAGMA user_version = 99")
        con.commit()
        con.close()
        rc, err = start_fails(dd)
        t.ok(rc == 1 and "99" in err,
             "a store of a newer schema stops start-up: exit 1, naming "
             "its version", "rc=%r %r" % (rc, err[-300:]))
        os.unlink(db)
        with server(dd) as srv:
            rc, err = start_fails(dd)
            t.ok(rc == 1 and "in use" in err,
                 "a second stockcam on the same store: exit 1, in use",
                 "rc=%r %r" % (rc, err[-300:]))
            t.is_(request(srv, "GET", "/api/health")[0], 200,
                  "the first goes on serving")
        rc, err = start_fails(dd, "--store", "nosuch:x")
        t.ok(rc == 2 and "--store" in err, "an unknown --store: exit 2",
             "rc=%r %r" % (rc, err[-300:]))
        rc, err = start_fails(dd, "--sync", "sometimes")
        t.ok(rc == 2 and "--sync" in err, "a bad --sync: exit 2",
             "rc=%r %r" % (rc, err[-300:]))
    finally:
        shutil.rmtree(dd, ignore_errors=True)


def test_memory():
    dd = tempfile.mkdtemp(prefix="stockcam-e2e-durable-")
    try:
        with server(dd, "--store", "memory") as srv:
            _, _, _, a = post_job(srv, ["AAPL"])
            wait_job(srv, a["id"])
            stop_clean(t, srv, "memory server")
        t.ok(not os.path.exists(os.path.join(dd, "stockcam.db")),
             "--store memory writes no database")
        with server(dd, "--store", "memory") as srv:
            t.is_(get_job(srv, a["id"])[0], 404,
                  "--store memory: a restart forgets the jobs")
    finally:
        shutil.rmtree(dd, ignore_errors=True)


def test_full_disk():
    if os.geteuid() != 0:
        skip("a full disk", "needs root to mount a tmpfs")
        return
    top = tempfile.mkdtemp(prefix="stockcam-e2e-durable-")
    dd = os.path.join(top, "dd")
    os.mkdir(dd)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs",
                       dd], stderr=subprocess.DEVNULL).returncode != 0:
        skip("a full disk", "cannot mount a tmpfs here")
        shutil.rmtree(top, ignore_errors=True)
        return
    try:
        # No free-space reserve: this is the store's own full disk.
        with server(dd, "--min-free-space", "0") as srv:
            _, _, _, a = post_job(srv, ["AAPL"])
            wait_job(srv, a["id"])
            filler = os.path.join(dd, "filler")
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while True:     # unbuffered: ENOSPC shows here
                    os.write(fd, b"\0" * 65536)
            except OSError:
                pass
            finally:
                os.close(fd)
            st, hd, body, _ = post_job(srv, ["FULL"])
            check_problem(t, "a submission on a full disk", st, hd, body,
                          503)
            t.ok("retry-after" in hd, "with Retry-After", "%r" % hd)
            t.is_(get_job(srv, a["id"])[0], 200, "reads go on")
            os.unlink(filler)
            deadline = time.monotonic() + scaled(10)
            st = None
            while time.monotonic() < deadline:
                st, _, _, b = post_job(srv, ["BACK"])
                if st == 202:
                    break
                time.sleep(0.2)
            t.is_(st, 202, "space back: submissions are accepted again")
            if st == 202:
                wait_job(srv, b["id"])
            stop_clean(t, srv, "full-disk server")
        with server(dd) as srv:
            t.ok(get_job(srv, a["id"])[0] == 200 and
                 (st != 202 or get_job(srv, b["id"])[0] == 200),
                 "after a restart every accepted job is there")
    finally:
        subprocess.run(["umount", dd], stderr=subprocess.DEVNULL)
        shutil.rmtree(top, ignore_errors=True)


def main():
    check_binary()
    start_watchdog(900)
    t.group("restart", test_restart)
    t.group("refusals", test_refusals)
    t.group("memory store", test_memory)
    t.group("kill -9 during a stock job", test_kill_stock)
    t.group("kill -9 during a search", test_kill_search)
    t.group("full disk", test_full_disk)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
