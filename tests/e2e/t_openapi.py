#!/usr/bin/env python3
"""E2E: GET /api/openapi.json. The server embeds web/api/openapi.json
byte for byte; the document passes an OpenAPI 3.1 validator (npm's
@seriousme/openapi-schema-validator, from tests/browser's lock file);
every route the source registers is described, and every description
is routed. (Each e2e script also checks the JSON it receives against
it: apicheck.py.)

Environment: STOCKCAM_NODE_MODULES as for t_dashboard.py."""

import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Server, request, check_binary, start_watchdog,  # noqa: E402
                     stop_clean, media_type)
from apicheck import DOC_PATH  # noqa: E402

t = TAP()
HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.normpath(os.path.join(HERE, "..", ".."))
SCRIPT = os.path.join(SRCDIR, "tests", "browser", "openapi.mjs")
ROUTE_RE = re.compile(r'router_add\(r, ([A-Z_ |]+), "([^"]+)"')
METHODS = {"HTTP_GET": "get", "HTTP_POST": "post", "HTTP_DELETE": "delete",
           "HTTP_PUT": "put", "HTTP_PATCH": "patch"}


def node_modules():
    return os.environ.get("STOCKCAM_NODE_MODULES") or os.path.join(
        SRCDIR, "tests", "browser", "node_modules")


def source_routes():
    """(method, pattern) of every literal router_add in src/api."""
    found = set()
    api = os.path.join(SRCDIR, "src", "api")
    for name in sorted(os.listdir(api)):
        if not name.endswith(".c"):
            continue
        with open(os.path.join(api, name), encoding="utf-8") as f:
            text = f.read()
        for methods, pattern in ROUTE_RE.findall(text):
            for m in methods.split("|"):
                found.add((METHODS[m.strip()], pattern))
    return found


def test_served(srv, doc_bytes):
    st, hd, body = request(srv, "GET", "/api/openapi.json")
    t.is_(st, 200, "GET /api/openapi.json -> 200")
    t.is_(media_type(hd.get("content-type")), "application/json",
          "... as application/json")
    t.ok(body == doc_bytes, "the served document is web/api/openapi.json "
         "byte for byte (%d bytes)" % len(body))
    t.ok(hd.get("etag"), "with an ETag, for caches")


def test_validator():
    if shutil.which("node") is None:
        t.skip("OpenAPI validator", "node is not installed")
        return
    mod = os.path.join(node_modules(), "@seriousme",
                       "openapi-schema-validator")
    if not os.path.isdir(mod):
        t.skip("OpenAPI validator", "%s missing (npm ci in tests/browser)"
               % mod)
        return
    p = subprocess.run(["node", SCRIPT, DOC_PATH, node_modules()],
                       capture_output=True, text=True, timeout=120)
    t.ok(p.returncode == 0 and p.stdout.startswith("valid 3.1"),
         "the document is valid OpenAPI 3.1 "
         "(@seriousme/openapi-schema-validator)",
         (p.stdout + p.stderr)[-3000:])


def test_coverage(doc, srv):
    routes = source_routes()
    t.ok(len(routes) >= 15, "routes found in src/api (%d)" % len(routes))
    described = {(m, p) for p, item in doc["paths"].items() for m in item
                 if m in METHODS.values()}
    missing = sorted(r for r in routes if r not in described and
                     r[1] != "/")
    t.is_(missing, [], "every route of src/api is in the document")
    # Each described operation is routed: after a request to each (HEAD
    # for GET: streams send their headers and end), /metrics counts it
    # under its own pattern, not under "none".
    for path, item in doc["paths"].items():
        for m in item:
            if m in ("get", "delete"):
                request(srv, "HEAD" if m == "get" else "DELETE",
                        "/app.js" if path == "/{asset}" else
                        re.sub(r"\{[^}]+\}", "x", path))
    st, _, body = request(srv, "GET", "/metrics")
    counted = set(re.findall(r'stockcam_http_requests_total\{method="'
                             r'([A-Z]+)",route="([^"]*)"', body.decode()))
    unrouted = sorted(
        (m, path) for path, item in doc["paths"].items() for m in item
        if m in ("get", "delete") and
        ("HEAD" if m == "get" else "DELETE",
         "/app.js" if path == "/{asset}" else path) not in counted)
    t.is_(unrouted, [], "every GET and DELETE described is routed under "
          "its pattern")
    ops = [op.get("operationId") for item in doc["paths"].values()
           for m, op in item.items() if m in METHODS.values()]
    t.ok(all(ops) and len(set(ops)) == len(ops),
         "operationIds are there and distinct (%d)" % len(ops))


def main():
    check_binary()
    start_watchdog(180)
    with open(DOC_PATH, "rb") as f:
        doc_bytes = f.read()
    doc = json.loads(doc_bytes)
    t.is_(doc.get("openapi"), "3.1.0", "the document says OpenAPI 3.1.0")
    with Server() as srv:
        t.group("served", test_served, srv, doc_bytes)
        st, _, body = request(srv, "GET", "/api/health")
        t.is_(doc["info"].get("version"), json.loads(body).get("version"),
              "info.version is the server's version")
        t.group("coverage", test_coverage, doc, srv)
        stop_clean(t, srv, "server")
    test_validator()
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
