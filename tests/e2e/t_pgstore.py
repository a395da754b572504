#!/usr/bin/env python3
"""E2E: the PostgreSQL job store (--store postgresql://...) against a real
throwaway PostgreSQL cluster: the durable-jobs tests of t_durable.py
(restart byte for byte, idempotency across a restart, kill -9 during a
stock job and during a search) with the jobs in PostgreSQL; the schema is
made on first start and a newer one is refused; a database of something
else, a second instance on the same database and an unreachable server
stop start-up with a clear message. Skipped, and counted, where
PostgreSQL is not installed or the build has no PostgreSQL store."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, PgCluster, pg_bindir, request,  # noqa: E402
                     check_binary, start_watchdog, built_with, WRAPPER)
import t_durable  # noqa: E402

t = TAP()
t_durable.t = t
t_durable.ROUNDS = 8 if not WRAPPER else 2
NAMES = ["schema", "restart", "kill -9 during a stock job",
         "kill -9 during a search"]


class Databases:
    """A database of its own for each data directory."""

    def __init__(self, pg):
        self.pg = pg
        self.by_dir = {}
        self.made = 0

    def new(self):
        self.made += 1
        name = "t%d" % self.made
        self.pg.psql("CREATE DATABASE %s" % name)
        return name

    def __call__(self, dd):
        if dd not in self.by_dir:
            self.by_dir[dd] = self.new()
        return ["--store", self.pg.uri(self.by_dir[dd])]


def test_schema(pg, dbs):
    dd = "schema"      # a key only: each server gets a new data dir
    args = dbs(dd)
    with _server(args) as srv:
        t.is_(request(srv, "GET", "/api/health")[0], 200,
              "a server on an empty database serves")
        db = dbs.by_dir[dd]
        t.is_(pg.psql("SELECT version FROM stockcam_schema", db), ["1"],
              "it made the schema, version 1")
        t.is_(sorted(pg.psql("SELECT tablename FROM pg_tables WHERE "
                             "schemaname = 'public'", db)),
              ["items", "jobs", "stockcam_schema"], "jobs and items")
        rc, err = _start_fails(args)
        t.ok(rc == 1 and "in use" in err,
             "a second stockcam on the same database: exit 1, in use",
             "rc=%r %r" % (rc, err[-300:]))
        t.is_(request(srv, "GET", "/api/health")[0], 200,
              "the first goes on serving")
        t_durable.stop_clean(t, srv, "server on PostgreSQL")
    pg.psql("UPDATE stockcam_schema SET version = 99", db)
    rc, err = _start_fails(args)
    t.ok(rc == 1 and "99" in err and "newer" in err,
         "a database of a newer schema stops start-up, naming its version",
         "rc=%r %r" % (rc, err[-300:]))
    other = dbs.new()
    pg.psql("CREATE TABLE jobs (x int)", other)
    rc, err = _start_fails(["--store", pg.uri(other)])
    t.ok(rc == 1 and "something else" in err,
         "a database with someone else's jobs table stops start-up",
         "rc=%r %r" % (rc, err[-300:]))
    rc, err = _start_fails(["--store", pg.uri("nosuchdb")])
    t.ok(rc == 1 and "cannot connect" in err and "nosuchdb" in err,
         "a database that is not there: exit 1, libpq's reason",
         "rc=%r %r" % (rc, err[-300:]))
    rc, err = _start_fails(["--store", "postgresql://u:secret@127.0.0.1:1/x"])
    t.ok(rc == 1 and "secret" not in err and "u:***@" in err,
         "a refused connection's message does not show the password",
         "rc=%r %r" % (rc, err[-300:]))


def _server(args):
    return Server("--data-dir", tempfile.mkdtemp(prefix="stockcam-e2e-pg-"),
                  *args)


def _start_fails(args):
    return t_durable.start_fails(
        tempfile.mkdtemp(prefix="stockcam-e2e-pg-"), *args)


def main():
    check_binary()
    start_watchdog(900)
    why = None
    if not built_with("postgresql"):
        why = "built without PostgreSQL (--without-postgresql)"
    elif pg_bindir() is None:
        why = "PostgreSQL is not installed (apt-get install postgresql)"
    if why:
        for n in NAMES:
            t_durable.skip("PostgreSQL store: " + n, why)
        return t.done()
    with PgCluster() as pg:
        dbs = Databases(pg)
        t_durable.STORE = dbs
        t.group("schema", test_schema, pg, dbs)
        t.group("restart", t_durable.test_restart)
        t.group("kill -9 during a stock job", t_durable.test_kill_stock)
        t.group("kill -9 during a search", t_durable.test_kill_search)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
