#!/usr/bin/env python3
"""The layering rules of src/, checked on every `make check`.

Layers, lowest first (doc/HACKING.md):
  lib < http < stock, camera, armstrong < jobs < api, cmd < src/ itself
A file may include headers of its own folder and of lower layers only;
folders on the same layer do not include each other; and no two modules
(a .c with its .h) include each other, directly or round a longer loop.

Usage: t_layers.py [SRCDIR]   (default: ../src beside this file)
Prints TAP. With SRCDIR it checks that tree alone; without, it also
proves on throwaway copies that a forbidden include and an include
circle are caught (so the check itself can fail).
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
        p = with_copy(src, lambda d: append_include(d, "lib/pool.c", "log.h"))
        t.ok(any("not a path under src/" in x for x in p),
             "an include without its folder is caught", p)
    print("1..%d" % t.n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
