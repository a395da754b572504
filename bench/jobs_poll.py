#!/usr/bin/env python3
"""bench/jobs_poll.py -- one timed job run for bench/jobs.sh.

Submits one stock job of N symbols (S0001, S0002, ...) to a running
stockcam with POST /api/jobs, then polls GET /api/jobs/{id} every
--interval seconds over one keep-alive connection until the job is
succeeded, failed or canceled, timing every poll.  Around the run it reads
/proc for the server (utime+stime, VmRSS at every poll, VmHWM at the end,
per-thread CPU of /proc/PID/task/*/stat) and for the upstream (utime+stime).

Prints one line of key=value pairs on stdout (see RESULT_KEYS).  Writes,
when asked, every poll latency (--lat-file: "t_s latency_ms succeeded"),
the per-thread CPU of the run (--threads-file: "cpu_s name", largest
first), a per-second CPU timeline per thread group (--timeline-file) and
the final job JSON (--job-file).

Exit status: 0 the job succeeded with every symbol succeeded; 3 the job
ended otherwise (its state and failed symbols are printed on stderr);
2 the run could not be made (server gone, HTTP error, timeout, ...).

Python 3 standard library only.
"""

import argparse
import http.client
import json
import math
import os
import re
import sys
import time
from datetime import datetime

TERMINAL = ("succeeded", "failed", "canceled")
RESULT_KEYS = (
    "job", "wall_s", "server_s", "cpu_s", "up_cpu_s", "self_cpu_s",
    "box_cpu_s",
    "hwm_kb", "rss_max_kb", "polls", "late", "reconnects",
    "p50_ms", "p99_ms", "max_ms", "json_bytes",
)


class RunError(Exception):
    pass


def proc_cpu_ticks(pid):
    """utime+stime of a process (or task) in clock ticks."""
    with open("/proc/%s/stat" % pid, "rb") as f:
        data = f.read().decode("ascii", "replace")
    # comm may hold spaces and parentheses: split after the last ')'.
    rest = data[data.rindex(")") + 2:].split()
    return int(rest[11]) + int(rest[12])


def box_busy_ticks():
    """Busy clock ticks of all CPUs of the machine (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is in user)
    return v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)


def proc_status_kb(pid, field):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RunError("no %s in /proc/%s/status" % (field, pid))


def thread_ticks(pid):
    """{tid: (name, ticks)} for every thread of pid."""
    out = {}
    try:
        tids = os.listdir("/proc/%s/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%s/task/%s/stat" % (pid, tid), "rb") as f:
                data = f.read().decode("ascii", "replace")
        except OSError:
            continue        # the thread ended meanwhile
        name = data[data.index("(") + 1:data.rindex(")")]
        rest = data[data.rindex(")") + 2:].split()
        out[tid] = (name, int(rest[11]) + int(rest[12]))
    return out


def group_of(name):
    """fetch-3 -> fetch-*; other names stay as they are."""
    return re.sub(r"-[0-9]+$", "-*", name)


def group_ticks(threads):
    g = {}
    for name, ticks in threads.values():
        k = group_of(name)
        g[k] = g.get(k, 0) + ticks
    return g


def percentile(sorted_vals, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_vals:
        return float("nan")
    k = max(1, math.ceil(p / 100.0 * len(sorted_vals)))
    return sorted_vals[k - 1]


def parse_ts(s):
    if not s:
        return None
    return datetime.strptime(s.replace("Z", "+0000"),
                             "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--server-pid", type=int, required=True)
    ap.add_argument("--upstream-pid", type=int, required=True)
    ap.add_argument("--symbols", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--clk-tck", type=int, required=True)
    ap.add_argument("--lat-file")
    ap.add_argument("--threads-file")
    ap.add_argument("--timeline-file")
    ap.add_argument("--job-file")
    a = ap.parse_args()

    host = "127.0.0.1"
    tck = float(a.clk_tck)
    spid, upid = a.server_pid, a.upstream_pid
    symbols = ["S%04d" % i for i in range(1, a.symbols + 1)]
    body = json.dumps({"symbols": symbols}).encode()

    # The polling connection is opened before the clock starts, so no
    # poll pays for a TCP handshake (unless the server closes it).
    poll = http.client.HTTPConnection(host, a.port, timeout=10)
    poll.connect()
    post = http.client.HTTPConnection(host, a.port, timeout=30)
    post.connect()

    th0 = thread_ticks(spid)
    up0 = proc_cpu_ticks(upid)
    self0 = os.times()
    box0 = box_busy_ticks()
    cpu0 = proc_cpu_ticks(spid)
    t0 = time.monotonic()
    post.request("POST", "/api/jobs", body,
                 {"Content-Type": "application/json"})
    r = post.getresponse()
    data = r.read()
    post.close()
    if r.status != 202:
        raise RunError("POST /api/jobs answered %d: %s"
                       % (r.status, data[:500].decode("utf-8", "replace")))
    job = json.loads(data)
    jid = job["id"]
    path = "/api/jobs/%d" % jid

    lats = []           # (t since POST, latency s, succeeded so far)
    rss_max = 0
    late = reconnects = 0
    json_bytes = 0
    timeline = []       # (t since POST, {group: ticks})
    next_tl = 1.0
    k = 0
    while True:
        k += 1
        due = t0 + k * a.interval
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        elif now - due >= a.interval:
            # Behind by a whole slot or more: skip to the next slot in the
            # future rather than fire a burst.
            skipped = int((now - due) / a.interval)
            late += skipped
            k += skipped
        if time.monotonic() - t0 > a.timeout:
            raise RunError("job %d not finished after %.0f s (last state %s,"
                           " progress %s)" % (jid, a.timeout, job["state"],
                                              job["progress"]))
        ts = time.monotonic()
        try:
            poll.request("GET", path)
            r = poll.getresponse()
            data = r.read()
        except (http.client.HTTPException, OSError) as e:
            # A closed keep-alive connection: reconnect once, untimed.
            if not os.path.exists("/proc/%d" % spid):
                raise RunError("the server exited during the run")
            reconnects += 1
            poll.close()
            poll = http.client.HTTPConnection(host, a.port, timeout=10)
            try:
                poll.connect()
            except OSError:
                raise RunError("cannot reconnect to the server: %s" % e)
            continue
        te = time.monotonic()
        if r.status != 200:
            raise RunError("GET %s answered %d: %s" % (
                path, r.status, data[:500].decode("utf-8", "replace")))
        if r.getheader("Connection", "").lower() == "close":
            reconnects += 1
            poll.close()
            poll = http.client.HTTPConnection(host, a.port, timeout=10)
            poll.connect()
        job = json.loads(data)
        json_bytes = len(data)
        lats.append((ts - t0, te - ts, job["progress"]["succeeded"]))
        if job["state"] in TERMINAL:
            t_end = te
            cpu1 = proc_cpu_ticks(spid)
            box1 = box_busy_ticks()
            up1 = proc_cpu_ticks(upid)
            self1 = os.times()
            hwm = proc_status_kb(spid, "VmHWM")
            rss_max = max(rss_max, proc_status_kb(spid, "VmRSS"))
            th1 = thread_ticks(spid)
            timeline.append((te - t0, group_ticks(th1)))
            break
        # Untimed bookkeeping between polls.
        rss_max = max(rss_max, proc_status_kb(spid, "VmRSS"))
        if te - t0 >= next_tl:
            timeline.append((te - t0, group_ticks(thread_ticks(spid))))
            next_tl += 1.0
    poll.close()

    wall = t_end - t0
    st, fi = parse_ts(job.get("started_at")), parse_ts(job.get("finished_at"))
    server_s = fi - st if st is not None and fi is not None else float("nan")
    lat_ms = sorted(x[1] * 1000.0 for x in lats)
    res = {
        "job": jid,
        "wall_s": "%.3f" % wall,
        "server_s": "%.3f" % server_s,
        "cpu_s": "%.2f" % ((cpu1 - cpu0) / tck),
        "up_cpu_s": "%.2f" % ((up1 - up0) / tck),
        "self_cpu_s": "%.2f" % ((self1.user + self1.system) -
                                (self0.user + self0.system)),
        "box_cpu_s": "%.2f" % ((box1 - box0) / tck),
        "hwm_kb": hwm,
        "rss_max_kb": rss_max,
        "polls": len(lats),
        "late": late,
        "reconnects": reconnects,
        "p50_ms": "%.3f" % percentile(lat_ms, 50),
        "p99_ms": "%.3f" % percentile(lat_ms, 99),
        "max_ms": "%.3f" % lat_ms[-1],
        "json_bytes": json_bytes,
    }

    if a.lat_file:
        with open(a.lat_file, "w") as f:
            for t, lat, done in lats:
                f.write("%.3f %.3f %d\n" % (t, lat * 1000.0, done))
    if a.threads_file:
        groups = {}     # group: [cpu s, threads]
        acct = 0
        for tid, (name, ticks) in th1.items():
            cpu = (ticks - th0.get(tid, (name, 0))[1]) / tck
            acct += cpu
            g = groups.setdefault(group_of(name), [0.0, 0])
            g[0] += cpu
            g[1] += 1
        # Threads that ended during the run are in the process's total
        # but no longer under /proc/PID/task.
        groups["(ended threads)"] = [(cpu1 - cpu0) / tck - acct, 0]
        rows = sorted(groups.items(), key=lambda x: (-x[1][0], x[0]))
        with open(a.threads_file, "w") as f:
            for name, (cpu, n) in rows:
                f.write("%.2f %d %s\n" % (cpu, n, name))
    if a.timeline_file:
        g0 = group_ticks(th0)
        with open(a.timeline_file, "w") as f:
            prev_t, prev = 0.0, g0
            for t, g in timeline:
                dt = t - prev_t
                if dt <= 0:
                    continue
                parts = []
                for name in sorted(g):
                    pct = (g[name] - prev.get(name, 0)) / tck / dt * 100
                    parts.append("%s=%.0f%%" % (name, pct))
                f.write("%.1f %s\n" % (t, " ".join(parts)))
                prev_t, prev = t, g
    if a.job_file:
        with open(a.job_file, "w") as f:
            json.dump(job, f, indent=1)
            f.write("\n")

    print(" ".join("%s=%s" % (key, res[key]) for key in RESULT_KEYS))
    sys.stdout.flush()

    prog = job["progress"]
    if job["state"] != "succeeded" or prog["succeeded"] != a.symbols:
        sys.stderr.write("job %d ended %s: progress %s\n"
                         % (jid, job["state"], json.dumps(prog)))
        bad = [s for s in job.get("symbols", [])
               if s.get("state") != "succeeded"]
        for s in bad[:20]:
            err = s.get("error") or {}
            sys.stderr.write("  %s: %s attempts=%s http_status=%s %s: %s\n"
                             % (s.get("symbol"), s.get("state"),
                                s.get("attempts"), s.get("http_status"),
                                err.get("code"), err.get("message")))
        if len(bad) > 20:
            sys.stderr.write("  ... and %d more\n" % (len(bad) - 20))
        return 3
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RunError as e:
        sys.stderr.write("jobs_poll.py: %s\n" % e)
        sys.exit(2)
    except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
        sys.stderr.write("jobs_poll.py: %s: %s\n" % (type(e).__name__, e))
        sys.exit(2)
