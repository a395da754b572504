"""Every JSON response the end-to-end tests receive, checked against the
OpenAPI document the server embeds (web/api/openapi.json), so the two
cannot drift apart.

The harness hands each response here (observe); TAP.done() then adds one
check per test script: every JSON response matched the schema of its
operation and status. A status the document does not list for the
operation is a mismatch too. Paths no operation matches (a 404 for
nothing, a malformed request) must still carry a Problem.

OpenAPI 3.1 schemas are JSON Schema 2020-12: Debian's python3-jsonschema
validates them. "#/components/..." references resolve because each
schema is checked inside a wrapper that holds the document's components.
"""

import json
import os
import re
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
DOC_PATH = os.environ.get("STOCKCAM_OPENAPI") or os.path.normpath(
    os.path.join(HERE, "..", "..", "web", "api", "openapi.json"))

JSON_TYPES = ("application/json", "application/problem+json")
MAX_REPORTED = 20
MAX_PENDING_BYTES = 256 << 20   # kept for the end, at most


class ApiCheck:
    def __init__(self, path=DOC_PATH):
        self.path = path
        self.doc = None
        self.error = None
        self.ops = []           # (method, regex, template, operation)
        self.validators = {}
        self.checked = 0
        self.seen = set()       # replies already taken
        self.pending = []       # taken, validated at report()
        self.pending_bytes = 0
        self.lock = threading.Lock()    # tests observe from threads
        self.bad = []
        self.nbad = 0

    def _load(self):
        if self.doc is not None or self.error is not None:
            return self.doc is not None
        try:
            import jsonschema       # noqa: F401 (Debian python3-jsonschema)
            with open(self.path, encoding="utf-8") as f:
                self.doc = json.load(f)
        except (ImportError, OSError, ValueError) as e:
            self.error = "%s: %s" % (type(e).__name__, e)
            return False
        for template, item in self.doc.get("paths", {}).items():
            segs = template.strip("/").split("/") if template != "/" \
                else []
            for method, op in item.items():
                if method in ("get", "put", "post", "delete", "options",
                              "head", "patch"):
                    self.ops.append((method.upper(), segs, template, op))
        # Literal paths before templated ones ("/api/jobs/x" vs {id}).
        self.ops.sort(key=lambda o: o[2].count("{"))
        return True

    def _deref(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            node = self.doc
            for part in obj["$ref"].lstrip("#/").split("/"):
                node = node[part]
            obj = node
        return obj

    def _validator(self, schema):
        key = json.dumps(schema, sort_keys=True)
        v = self.validators.get(key)
        if v is None:
            import jsonschema
            wrapper = {"$schema": "https://json-schema.org/draft/2020-12/"
                       "schema", "components": self.doc.get("components", {}),
                       "allOf": [schema]}
            v = jsonschema.Draft202012Validator(wrapper)
            self.validators[key] = v
        return v

    def _schema_for(self, method, path, status, ctype):
        """(schema, where) for a response, or (None, why not)."""
        if method == "HEAD":
            method = "GET"
        # As the router does: split the raw path, then decode each segment
        # ("%2F" stays inside its segment).
        segs = [urllib.parse.unquote(s) for s in path.strip("/").split("/")] \
            if path != "/" else []
        for m, tsegs, template, op in self.ops:
            if m != method or len(tsegs) != len(segs) or not all(
                    (t.startswith("{") and s != "") or t == s
                    for t, s in zip(tsegs, segs)):
                continue
            where = "%s %s %d" % (method, template, status)
            responses = op.get("responses", {})
            resp = responses.get(str(status)) or \
                responses.get("%dXX" % (status // 100)) or \
                responses.get("default")
            if resp is None:
                return None, "%s: status not in the document" % where
            content = self._deref(resp).get("content", {})
            media = content.get(ctype)
            if media is None:
                return None, "%s: %s not in the document (has %s)" % (
                    where, ctype, sorted(content))
            return self._deref(media).get("schema", {}), where
        # No operation: a 404, 405 or a malformed request; a Problem.
        problem = self.doc.get("components", {}).get("schemas", {}).get(
            "Problem")
        if ctype == "application/problem+json" and problem is not None:
            return {"$ref": "#/components/schemas/Problem"}, \
                "%s %s %d (no operation)" % (method, path, status)
        return None, "%s %s %d: no operation for this path" % (
            method, path, status)

    def observe(self, method, target, status, ctype, body):
        """One response as the test received it: kept, and validated at
        the end. Validating as they come costs the test's own CPU (and
        GIL) more than the server spends on them, and would skew the
        timings tests take meanwhile; the same bytes (long-polls) are
        kept once."""
        ctype = (ctype or "").split(";")[0].strip().lower()
        if ctype not in JSON_TYPES or not body or method is None:
            return
        if not self._load():
            return
        # The absolute form (a proxy's) is routed on its path.
        path = re.sub(r"^https?://[^/?]*", "", target).split("?", 1)[0] \
            or "/"
        key = (method, path, status, ctype, len(body), hash(body))
        with self.lock:
            self.checked += 1
            if key in self.seen:
                return
            self.seen.add(key)
            self.pending.append((method, path, status, ctype, bytes(body)))
            self.pending_bytes += len(body)
            if self.pending_bytes <= MAX_PENDING_BYTES:
                return
        self._validate_pending()

    def _validate_pending(self):
        with self.lock:
            pending, self.pending, self.pending_bytes = self.pending, [], 0
        for method, path, status, ctype, body in pending:
            self._validate(method, path, status, ctype, body)

    def _validate(self, method, path, status, ctype, body):
        try:
            obj = json.loads(body)
        except ValueError as e:
            self._mismatch("%s %s %d: not JSON: %s" % (method, path, status,
                                                       e))
            return
        schema, where = self._schema_for(method, path, status, ctype)
        if schema is None:
            self._mismatch(where)
            return
        errors = sorted(self._validator(schema).iter_errors(obj),
                        key=lambda e: list(e.absolute_path))
        if errors:
            e = errors[0]
            self._mismatch("%s: at /%s: %s; body %s" % (
                where, "/".join(str(p) for p in e.absolute_path),
                e.message[:300], body[:300]))

    def _mismatch(self, what):
        self.nbad += 1
        if len(self.bad) < MAX_REPORTED:
            self.bad.append(what)

    def report(self, tap):
        """The script's one check, if it received any JSON."""
        if self.error is not None:
            tap.skip("JSON responses match the OpenAPI document",
                     "cannot load %s: %s" % (self.path, self.error))
            return
        if self.checked == 0:
            return
        self._validate_pending()
        tap.ok(self.nbad == 0, "all %d JSON responses match the OpenAPI "
               "document" % self.checked,
               ["%d of %d do not:" % (self.nbad, self.checked)] + self.bad)


CHECK = ApiCheck()
