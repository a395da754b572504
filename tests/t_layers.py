#!/usr/bin/env python3
"""The layering and naming rules of src/, checked on every `make check`.

Layers, lowest first (doc/HACKING.md):
  lib < http < stock, camera, armstrong < jobs < api, cmd < src/ itself
A file may include headers of its own folder and of lower layers only;
folders on the same layer do not include each other; and no two modules
(a .c with its .h) include each other, directly or round a longer loop.

Usage: t_layers.py [SRCDIR]   (default: ../src beside this file)
Prints TAP. With SRCDIR it checks that tree alone; without, it also
proves on throwaway copies that a forbidden include and an include
circle are caught (so the check itself can fail).

Names: every function a .c exports starts with its module's name and
an underscore (a file X_Y.c beside X.c is part of module X), but for
the few the conventions name: fatal/fatalx in log.c, the x* allocation
wrappers in xmalloc.c, job_* for one record of the job table in jobs.c.
"""

import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RANK = {"lib": 0, "http": 1, "stock": 2, "camera": 2, "armstrong": 2,
        "jobs": 3, "api": 4, "cmd": 4, "": 5}
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(src):
    for root, _, files in os.walk(src):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.relpath(os.path.join(root, f), src)


def folder(rel):
    d = os.path.dirname(rel)
    return d


def module(rel, known):
    """A .c and its .h are one module; so is a header X_WHAT.h without a
    .c of its own beside X.c (an internal header of module X)."""
    base = os.path.splitext(rel)[0]
    if rel.endswith(".h") and base + ".c" not in known:
        d, name = os.path.split(base)
        parts = name.split("_")
        for i in range(len(parts) - 1, 0, -1):
            owner = os.path.join(d, "_".join(parts[:i]))
            if owner + ".c" in known:
                return owner
    return base


def check(src):
    """Returns a list of problems (strings); empty when the tree is clean."""
    problems = []
    files = list(sources(src))
    known = set(files)
    edges = {}
    for rel in files:
        with open(os.path.join(src, rel), encoding="utf-8") as fh:
            text = fh.read()
        here = folder(rel)
        if here not in RANK:
            problems.append("%s: folder %r is not a known layer" % (rel, here))
            continue
        for inc in INCLUDE_RE.findall(text):
            if inc == "config.h" or inc.startswith("web_assets"):
                continue
            if inc not in known:
                problems.append("%s: includes \"%s\", which is not a path "
                                "under src/ (name the folder)" % (rel, inc))
                continue
            there = folder(inc)
            if there not in RANK:
                continue
            if there != here and RANK[there] >= RANK[here]:
                what = "a higher layer" if RANK[there] > RANK[here] else \
                    "a peer on the same layer"
                problems.append("%s (%s) includes %s (%s): %s" % (
                    rel, here or "src", inc, there or "src", what))
            a, b = module(rel, known), module(inc, known)
            if a != b:
                edges.setdefault(a, set()).add(b)
    problems += ["include circle: " + " -> ".join(c + [c[0]])
                 for c in circles(edges)]
    return problems


EXPORT_EXCEPTIONS = {
    "lib/log.c": re.compile(r"^fatalx?$"),
    "lib/xmalloc.c": re.compile(r"^x[a-z]+$"),
    "jobs/jobs.c": re.compile(r"^job_[a-z_]+$"),
}
DEFINITION_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\(")
RETURN_TYPE_RE = re.compile(r"^(const |struct |enum |unsigned )*[A-Za-z_][A-Za-z0-9_]*( \*+|\*+)?$")


def owner(rel, known):
    """The module a .c belongs to: X for X_Y.c (with no X_Y.h) beside
    X.c, else itself."""
    base = os.path.splitext(rel)[0]
    if base + ".h" in known:
        return base
    d, name = os.path.split(base)
    parts = name.split("_")
    for i in range(len(parts) - 1, 0, -1):
        if os.path.join(d, "_".join(parts[:i])) + ".c" in known:
            return os.path.join(d, "_".join(parts[:i]))
    return base


def check_names(src):
    """Exported functions whose names do not start with their module's."""
    problems = []
    files = list(sources(src))
    known = set(files)
    for rel in files:
        if not rel.endswith(".c"):
            continue
        name_of = os.path.basename(owner(rel, known))
        prefix = name_of + "_"
        allowed = EXPORT_EXCEPTIONS.get(rel)
        with open(os.path.join(src, rel), encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        for prev, line in zip(lines, lines[1:]):
            m = DEFINITION_RE.match(line)
            # KNF: the return type alone on the line before the name.
            if not m or not RETURN_TYPE_RE.match(prev) or \
                    prev.startswith("static"):
                continue
            name = m.group(1)
            if name in ("main", name_of) or name.startswith(prefix) or \
                    (allowed is not None and allowed.match(name)):
                continue
            problems.append("%s exports %s(), not %s*" % (rel, name,
                                                          prefix))
    return problems


def circles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=()):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name))
        if not cond:
            self.failed += 1
            for line in diag:
                print("#   " + line)


def with_copy(src, edit):
    """Problems found in a copy of src after edit(copy) changed it."""
    tmp = tempfile.mkdtemp(prefix="stockcam-layers-")
    try:
        dst = os.path.join(tmp, "src")
        shutil.copytree(src, dst)
        edit(dst)
        return check(dst)
    finally:
        shutil.rmtree(tmp)


def append_include(dst, rel, inc):
    with open(os.path.join(dst, rel), "a", encoding="utf-8") as fh:
        fh.write('\n#include "%s"\n' % inc)


def main(argv):
    src = argv[1] if len(argv) > 1 else os.path.join(HERE, "..", "src")
    src = os.path.normpath(src)
    t = Tap()
    problems = check(src)
    t.ok(not problems, "src/ keeps its layers and has no include circle",
         problems)
    problems = check_names(src)
    t.ok(not problems, "every exported function carries its module's prefix",
         problems)
    if len(argv) == 1:
        # The check can fail: a forbidden include and a circle are caught.
        p = with_copy(src, lambda d: append_include(d, "lib/log.c",
                                                    "http/http.h"))
        t.ok(any("lib/log.c (lib) includes http/http.h" in x for x in p),
             "a lower layer including a higher one is caught", p)
        p = with_copy(src, lambda d: append_include(d, "stock/fetch.c",
                                                    "camera/camsrc.h"))
        t.ok(any("a peer on the same layer" in x for x in p),
             "a domain including another domain is caught", p)

        def circle(d):
            append_include(d, "lib/pool.h", "lib/compq.h")
            append_include(d, "lib/compq.c", "lib/pool.h")
        p = with_copy(src, circle)
        t.ok(any(x.startswith("include circle:") and "lib/compq" in x and
                 "lib/pool" in x for x in p),
             "two modules including each other are caught", p)
        tmp = tempfile.mkdtemp(prefix="stockcam-names-")
        try:
            dst = os.path.join(tmp, "src")
            shutil.copytree(src, dst)
            with open(os.path.join(dst, "lib", "pool.c"), "a") as fh:
                fh.write("\nint\nqueue_length(void)\n{\n\treturn 0;\n}\n")
            p = check_names(dst)
        finally:
            shutil.rmtree(tmp)
        t.ok(any("lib/pool.c exports queue_length()" in x for x in p),
             "an exported function without its module's prefix is caught", p)
        p = with_copy(src, lambda d: append_include(d, "lib/pool.c", "log.h"))
        t.ok(any("not a path under src/" in x for x in p),
             "an include without its folder is caught", p)
    print("1..%d" % t.n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
