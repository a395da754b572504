#!/usr/bin/env python3
"""E2E: GET /api/events (Server-Sent Events) and the job views the
dashboard reads: events of a job's life with only the changed symbols,
ids and resuming with Last-Event-ID, reset beyond the backlog or across a
restart, the stats tick, the heartbeat, a client that does not read
(dropped), the connection limit, archives, the camera, expiry; then
/api/config, ?view=summary, /api/jobs/{id}/symbols and /api/jobs?q=."""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, Upstream, EventStream, request,  # noqa: E402
                     request_json, post_job, wait_job, poll, check_binary,
                     check_upstream, start_watchdog, scaled, still_serving,
                     stop_clean, check_problem, JOB_DONE)

t = TAP()
ID_RE = re.compile(r"^([0-9a-f]+)-([0-9]+)$")


def seq_of(ev):
    m = ID_RE.match(ev["id"] or "")
    return int(m.group(2)) if m else None


def job_events(es, jid, until="job.finished", timeout=20.0):
    """The events of job jid up to (and with) the first `until` one."""
    out = []
    while True:
        ev = es.next_event(lambda e: e["event"].startswith("job.") and
                           isinstance(e["data"], dict) and
                           e["data"].get("id") == jid, timeout=timeout)
        out.append(ev)
        if ev["event"] == until:
            return out


def test_life(up):
    syms = ["AAA", "BBB", "e404-CCC", "DDD"]
    with Server("--source-url", up.source_url, "--batch-size", "2") as srv, \
            EventStream(srv) as es:
        t.is_(es.status, 200, "events: 200")
        t.ok(es.headers.get("content-type", "").startswith(
            "text/event-stream"), "events: Content-Type text/event-stream",
            es.headers)
        t.is_(es.headers.get("cache-control"), "no-store",
              "events: Cache-Control no-store")
        st, hd, body, j = post_job(srv, syms)
        jid = j["id"]
        evs = job_events(es, jid)
        kinds = [e["event"] for e in evs]
        t.is_(kinds[0], "job.created", "life: the first event of a job is "
              "job.created", kinds)
        t.is_(kinds[-1], "job.finished", "life: the last is job.finished")
        t.ok(all(k in ("job.created", "job.changed", "job.finished")
                 for k in kinds), "life: only created/changed/finished",
             kinds)
        seqs = [seq_of(e) for e in evs]
        t.ok(all(s is not None for s in seqs) and seqs == sorted(seqs) and
             len(set(seqs)) == len(seqs),
             "life: ids are RUN-SEQ, rising", [e["id"] for e in evs])
        versions = [e["data"]["version"] for e in evs]
        t.ok(versions == sorted(versions), "life: job versions rise "
             "from event to event", versions)
        last = {}
        sizes = []
        for e in evs:
            d = e["data"]
            t_ok = "symbols" not in d or all("index" in s for s in d["symbols"])
            if not t_ok:
                break
            for s in d.get("symbols", []):
                last[s["symbol"]] = s
            sizes.append(len(d.get("symbols", [])))
        t.ok(t_ok, "life: changed symbols carry their index")
        t.is_(sorted(last), sorted(syms), "life: every symbol was told "
              "at least once")
        t.ok(sum(sizes) <= 5 * len(syms), "life: symbols are told when "
             "they change, not with every event", sizes)
        fin = evs[-1]["data"]
        t.is_(fin.get("state"), "failed", "life: the job ends failed (one "
              "symbol 404s)")
        t.is_(last["e404-CCC"].get("state"), "failed",
              "life: the 404 symbol's last change says failed")
        t.ok((last["e404-CCC"].get("error") or {}).get("code"),
             "life: ... with its error code", last["e404-CCC"])
        t.is_(last["AAA"].get("state"), "succeeded",
              "life: a good symbol's last change says succeeded")
        t.ok(all(isinstance(last[s].get("archive"), str) for s in
                 ("AAA", "BBB", "DDD")), "life: ... with its archive")
        # The full job agrees with what the events told.
        st, hd, body, full = request_json(srv, "GET", "/api/jobs/%d" % jid)
        told = {s: (v["state"], v["attempts"], v["archive"])
                for s, v in last.items()}
        real = {s["symbol"]: (s["state"], s["attempts"], s["archive"])
                for s in full["symbols"]}
        t.is_(told, real, "life: the events add up to the job's symbols")
        # Archives: two of two files, then one (a flush at the end).
        arch = []
        while len(arch) < 2:
            arch.append(es.next_event(lambda e: e["event"] == "archive",
                                      timeout=10)["data"])
        st, hd, body, listing = request_json(srv, "GET", "/api/archives")
        names = {a["name"]: a for a in listing["archives"]}
        t.ok(all(a["name"] in names and a["bytes"] == names[a["name"]]["bytes"]
                 and a["entries"] == names[a["name"]]["entries"]
                 for a in arch), "archive: events name the archives "
             "written, with their size and entries", (arch, listing))
        t.ok(all(isinstance(a.get("mtime"), str) and
                 a["mtime"].endswith("Z") for a in listing["archives"]),
             "archive: the listing has each archive's mtime", listing)
        t.is_(sum(a["entries"] for a in arch), 3, "archive: 3 files packed "
              "(the 404 has none)")
        # The stats tick.
        tick = es.next_event(lambda e: e["event"] == "stats", timeout=5)
        d = tick["data"]
        t.ok(tick["id"] is None, "stats: no id (not replayed)")
        t.ok(isinstance(d, dict) and "pools" in d and "camera" in d and
             d["jobs"].get("created") == 1 and
             d["events"].get("clients") == 1,
             "stats: the figures, the camera, jobs created, event clients",
             d)
        t1 = es.next_event(lambda e: e["event"] == "stats", timeout=5)
        gap = t1["data"]["uptime_s"] - d["uptime_s"]
        t.ok(0.5 < gap < 3.0, "stats: about once a second (%.2f s)" % gap)
        t.is_(es.retry, 2000, "events: retry: 2000 tells browsers when to "
              "reconnect")
        def history():
            with EventStream(srv) as es2:
                return es2.next_event(timeout=5)

        # A row is taken once a second: on a loaded machine the last one
        # may come from before the job's last symbols were counted, so
        # look again until a row has them (or the deadline).
        h, _ = poll(lambda: (lambda h: h if isinstance(h["data"], dict) and
                             (h["data"].get("samples") or [[0, 0, 0]])[-1][2]
                             == 4 else None)(history()), timeout=10,
                    interval=0.5)
        h = h or history()
        d = h["data"]
        rows = d.get("samples") if isinstance(d, dict) else None
        t.ok(h["event"] == "history" and h["id"] is None and
             d.get("columns", [None])[0] == "uptime_s" and rows and
             all(len(r) == 6 for r in rows) and
             [r[0] for r in rows] == sorted(r[0] for r in rows) and
             rows[-1][1] == 1 and rows[-1][2] == 4,
             "history: a new client first gets the chart figures so far "
             "(one row a second: jobs created, symbols done, queues)", d)
        stop_clean(t, srv, "life")


def read_until_quiet(es, quiet=1.0):
    """Every event with an id until none comes for `quiet` seconds."""
    out = []
    while True:
        try:
            ev = es.next_event(lambda e: e["id"] is not None, timeout=quiet)
        except socket.timeout:
            return out
        out.append(ev)


def test_resume(up):
    with Server("--source-url", up.source_url) as srv:
        with EventStream(srv) as es:
            jid = post_job(srv, ["R1", "R2"])[3]["id"]
            seen = job_events(es, jid)
        last_id = seen[-1]["id"]
        # Missed while away: another job.
        jid2 = post_job(srv, ["R3"])[3]["id"]
        wait_job(srv, jid2)
        time.sleep(0.3)         # its coalesced events are out
        with EventStream(srv, headers={"Last-Event-ID": last_id}) as es:
            got = read_until_quiet(es)
        seqs = [seq_of(e) for e in got]
        t.ok(got and seqs[0] == seq_of(seen[-1]) + 1,
             "resume: Last-Event-ID resumes right after it",
             (last_id, [e["id"] for e in got]))
        t.ok(seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs
             else False, "resume: nothing missed, nothing twice", seqs)
        t.ok(any(e["event"] == "job.finished" and e["data"]["id"] == jid2
                 for e in got), "resume: the missed job's end is replayed")
        with EventStream(srv, "/api/events?last_event_id=" + last_id) as es:
            got2 = read_until_quiet(es)
        t.is_([e["id"] for e in got2], [e["id"] for e in got],
              "resume: ?last_event_id= works as the header")
        cur = got[-1]["id"]
        with EventStream(srv, headers={"Last-Event-ID": cur}) as es:
            got3 = read_until_quiet(es, quiet=0.7)
        t.is_(got3, [], "resume: up to date: nothing replayed")
        run = ID_RE.match(cur).group(1)
        for bad, what in (("zz-1", "another run's id"),
                          ("%s-%d" % (run, seq_of(got[-1]) + 50), "an id "
                           "from the future"), ("garbage", "garbage")):
            with EventStream(srv, headers={"Last-Event-ID": bad}) as es:
                ev = es.next_event(lambda e: e["id"] is not None, timeout=5)
            t.ok(ev["event"] == "reset" and ev["id"] == cur and
                 isinstance(ev["data"], dict) and ev["data"].get("reason"),
                 "resume: %s gets a reset with the current id" % what, ev)
        # Beyond the backlog (1024 events): reset.
        before = seen[0]["id"]
        n = 0
        deadline = time.monotonic() + scaled(60)
        while time.monotonic() < deadline:
            got = [post_job(srv, ["B%d" % (n * 10 + k)])[3]["id"]
                   for k in range(10)]
            n += 1
            wait_job(srv, got[-1])
            if n * 10 * 2 > 1100:
                break
        time.sleep(0.3)
        with EventStream(srv, headers={"Last-Event-ID": before}) as es:
            ev = es.next_event(lambda e: e["id"] is not None, timeout=5)
        t.is_(ev["event"], "reset", "resume: an id older than the backlog "
              "gets a reset")
        stop_clean(t, srv, "resume")
    # A restart: the ids of the run before mean nothing to the new one.
    srv = Server("--source-url", up.source_url)
    with srv:
        with EventStream(srv, headers={"Last-Event-ID": cur}) as es:
            ev = es.next_event(lambda e: e["id"] is not None, timeout=5)
        t.is_(ev["event"], "reset", "restart: a page that reconnects to the "
              "new run is told to reload")


def test_big_replay(up):
    """What a client missed may be kept and still be more than it may
    have unsent (1 MiB): it is told to reload, not replayed and dropped
    half-way (and then again at each reconnect)."""
    with Server("--source-url", up.source_url) as srv:
        with EventStream(srv) as es:
            jid = post_job(srv, ["BR1"])[3]["id"]
            seen = job_events(es, jid)
        last_id = seen[-1]["id"]
        # Each ~130 KB twice: job.created, then job.finished (canceled at
        # once) carry the 1000 symbols.
        codes = []
        for i in range(6):
            j = post_job(srv, ["BIG%dS%03d" % (i, k) for k in range(1000)])
            codes.append(j[0])
            if j[0] == 202:
                request(srv, "DELETE", "/api/jobs/%d" % j[3]["id"])
                wait_job(srv, j[3]["id"], timeout=60)
        t.is_(codes, [202] * 6, "big replay: six 1000-symbol jobs, canceled")
        time.sleep(0.3)
        with EventStream(srv, headers={"Last-Event-ID": last_id},
                         timeout=30) as es:
            ev = es.next_event(lambda e: e["id"] is not None, timeout=10)
            t.ok(ev["event"] == "reset" and "too many" in
                 ev["data"].get("reason", ""),
                 "big replay: over half the client's cap gets a reset",
                 (ev["event"], ev["id"]))
            jid = post_job(srv, ["AFTER"])[3]["id"]
            after = es.next_event(lambda e: e["event"] == "job.finished"
                                  and e["data"]["id"] == jid, timeout=20)
            t.ok(after is not None, "big replay: the stream goes on live "
                 "after the reset")
        st, hd, body = request(srv, "HEAD", "/api/events")
        t.ok(st == 200 and body == b"" and hd.get("content-type", "")
             .startswith("text/event-stream"),
             "HEAD /api/events: the headers, no stream", (st, hd, body[:80]))


def test_heartbeat():
    with Server() as srv, EventStream(srv, timeout=30) as es:
        es.wait_comment(lambda c: c == "ping", timeout=25)
        t.ok(True, "heartbeat: a ': ping' comment within 15 s")
        t.ok(any(c.startswith("stockcam events") for c in es.comments),
             "heartbeat: a hello comment at the start (for curl -N)")


def test_slow_and_limits(up):
    with Server("--source-url", up.source_url, "--write-timeout", "2",
                "--max-connections", "4") as srv:
        st, hd, body, j0 = request_json(srv, "GET", "/api/stats")
        base = j0["connections"]["now"]
        # A client that reads nothing: its socket fills, then it goes.
        stuck = EventStream(srv, rcvbuf=4096)
        poll(lambda: request_json(srv, "GET", "/api/stats")[3]
             ["connections"]["now"] > base, timeout=5)
        jid = post_job(srv, ["S%03d" % i for i in range(300)])[3]["id"]
        wait_job(srv, jid, timeout=60)
        dropped, _ = poll(lambda: request_json(srv, "GET", "/api/stats")[3]
                          ["connections"]["now"] <= base, timeout=20)
        t.ok(dropped, "slow client: one that does not read is dropped")
        stuck.close()
        still_serving(t, srv, "dropping a slow events client")
        # Streams count as connections: 4 allowed, the 5th gets 503.
        streams = [EventStream(srv) for _ in range(4)]
        t.ok(all(s.status == 200 for s in streams),
             "limit: four streams open under --max-connections 4")
        st, hd, body = request(srv, "GET", "/api/health")
        t.is_(st, 503, "limit: a fifth connection gets 503")
        for s in streams:
            s.close()
        ok, _ = poll(lambda: request(srv, "GET", "/api/health")[0] == 200,
                     timeout=5)
        t.ok(ok, "limit: served again once the streams closed")
        stop_clean(t, srv, "slow")


def test_camera_and_expiry(up):
    with Server("--source-url", up.source_url, "--camera",
                "testpattern:160x120@10", "--job-ttl", "1") as srv, \
            EventStream(srv) as es:
        sock = socket.create_connection(("127.0.0.1", srv.port))
        sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
        ev = es.next_event(lambda e: e["event"] == "camera" and
                           e["data"].get("state") == "live", timeout=10)
        t.ok(ev["id"] is not None and ev["data"].get("width") == 160,
             "camera: a camera event when it goes live", ev["data"])
        sock.close()
        ev = es.next_event(lambda e: e["event"] == "camera" and
                           e["data"].get("state") != "live", timeout=10)
        t.ok(True, "camera: ... and when it stops (%s)" % ev["data"]["state"])
        jid = post_job(srv, ["X1"])[3]["id"]
        ev = es.next_event(lambda e: e["event"] == "job.removed", timeout=15)
        t.is_(ev["data"], {"id": jid}, "expiry: job.removed once a finished "
              "job is forgotten")
        stop_clean(t, srv, "camera")


def test_views(up):
    syms = ["V%02d" % i for i in range(30)] + ["e404-VX", "e404-VY"]
    with Server("--source-url", up.source_url, "--max-symbols", "40") as srv:
        st, hd, body, cfg = request_json(srv, "GET", "/api/config")
        t.ok(st == 200 and cfg.get("max_symbols") == 40 and
             cfg.get("symbol_max_len") == 32 and
             re.match(cfg.get("symbol_pattern", "x"), "BRK.B") and
             not re.match(cfg["symbol_pattern"], ".BAD") and
             not re.match(cfg["symbol_pattern"], "A" * 33) and
             re.match(cfg["symbol_pattern"], "A" * 32) and
             isinstance(cfg.get("max_body_size"), int),
             "config: the limits and the symbol rule", cfg)
        jid = post_job(srv, syms)[3]["id"]
        other = post_job(srv, ["ZZTOP"])[3]["id"]
        wait_job(srv, jid)
        wait_job(srv, other)
        st, hd, body, s = request_json(srv, "GET",
                                       "/api/jobs/%d?view=summary" % jid)
        t.ok(st == 200 and "symbols" not in s and s["progress"]["total"] ==
             32, "summary: ?view=summary has progress, no symbols", s)
        st, hd, body, f = request_json(srv, "GET", "/api/jobs/%d?view=full" % jid)
        t.ok(st == 200 and len(f["symbols"]) == 32, "summary: ?view=full has "
             "them all")
        st, hd, body, j = request_json(srv, "GET", "/api/jobs/%d?view=x" % jid)
        check_problem(t, "summary: a bad view", st, hd, body, 400)
        # A POST's reply takes the same views.
        doc = {"symbols": ["PVA", "PVB"]}
        st, hd, body, j = request_json(srv, "POST", "/api/jobs?view=summary",
                                       doc)
        t.ok(st == 202 and "symbols" not in j and
             j["progress"]["total"] == 2,
             "summary: POST ?view=summary answers the summary", j)
        if st == 202:
            wait_job(srv, j["id"])
        st, hd, body, j = request_json(srv, "POST", "/api/jobs?view=x", doc)
        check_problem(t, "summary: POST with a bad view", st, hd, body, 400)
        st, hd, body, jobs = request_json(srv, "GET", "/api/jobs?limit=100")
        t.is_(len(jobs.get("jobs", [])), 3, "summary: the refused POST made "
              "no job", jobs)
        st, hd, body, p = request_json(srv, "GET",
                                       "/api/jobs/%d/symbols?limit=10" % jid)
        t.ok(st == 200 and p["total"] == 32 and len(p["symbols"]) == 10 and
             [x["index"] for x in p["symbols"]] == list(range(10)) and
             p["offset"] == 0 and p["limit"] == 10 and p["id"] == jid,
             "symbols: the first page of 10", p)
        pages = []
        for off in range(0, 40, 10):
            pages += request_json(srv, "GET", "/api/jobs/%d/symbols?offset=%d"
                                  "&limit=10" % (jid, off))[3]["symbols"]
        t.is_([x["symbol"] for x in pages], syms, "symbols: the pages cover "
              "the job once, in order")
        st, hd, body, p = request_json(srv, "GET", "/api/jobs/%d/symbols?"
                                       "order=failed&limit=3" % jid)
        t.is_([x["symbol"] for x in p["symbols"]],
              ["e404-VX", "e404-VY", "V00"], "symbols: order=failed puts "
              "the failed first")
        st, hd, body, p = request_json(srv, "GET", "/api/jobs/%d/symbols?"
                                       "state=failed" % jid)
        t.ok(p["total"] == 2 and all(x["state"] == "failed" and x["error"]
                                     for x in p["symbols"]),
             "symbols: state=failed filters", p)
        st, hd, body, p = request_json(srv, "GET", "/api/jobs/%d/symbols?"
                                       "q=v1" % jid)
        t.is_([x["symbol"] for x in p["symbols"]],
              ["V%02d" % i for i in range(10, 20)],
              "symbols: q= searches the names, any case")
        for q, what in (("limit=0", "limit 0"), ("limit=1001", "limit over "
                        "1000"), ("offset=-1", "a negative offset"),
                        ("state=nope", "an unknown state"),
                        ("order=up", "an unknown order")):
            st, hd, body, j = request_json(srv, "GET", "/api/jobs/%d/symbols?%s"
                                           % (jid, q))
            check_problem(t, "symbols: %s" % what, st, hd, body, 400)
        aj = request_json(srv, "POST", "/api/jobs", {"type": "armstrong",
                                                    "from": 1, "to": 1000})[3]
        st, hd, body, j = request_json(srv, "GET", "/api/jobs/%d/symbols" %
                                       aj["id"])
        check_problem(t, "symbols: an armstrong job has none", st, hd, body,
                      404)
        st, hd, body, l = request_json(srv, "GET", "/api/jobs?q=zzt")
        t.is_([x["id"] for x in l["jobs"]], [other], "search: q= finds the "
              "job with the symbol")
        st, hd, body, l = request_json(srv, "GET", "/api/jobs?q=%d" % jid)
        t.is_([x["id"] for x in l["jobs"]], [jid], "search: q= finds a job "
              "by its id")
        st, hd, body, l = request_json(srv, "GET", "/api/jobs?q=v0&limit=1")
        t.ok([x["id"] for x in l["jobs"]] == [jid] and l["next_cursor"] is
             None, "search: no cursor when no other job matches", l)
        st, hd, body, l = request_json(srv, "GET", "/api/jobs?q=nothing")
        t.is_(l["jobs"], [], "search: nothing found, an empty list")
        stop_clean(t, srv, "views")


def main():
    check_binary()
    check_upstream()
    start_watchdog(scaled(600))
    with Upstream("--rows", "200") as up:
        t.group("life", test_life, up)
        t.group("resume", test_resume, up)
        t.group("big replay", test_big_replay, up)
        t.group("heartbeat", test_heartbeat)
        t.group("slow", test_slow_and_limits, up)
        t.group("camera", test_camera_and_expiry, up)
        t.group("views", test_views, up)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
