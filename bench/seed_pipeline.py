#!/usr/bin/env python3
"""seed_pipeline.py -- the pipeline stockcam grew from, in Python 3.

Usage: seed_pipeline.py --source-url URL --out DIR [--fetchers 8]
                        [--converters 4] [--batch 100] SYMBOL...

The program before stockcam was a script of threads and queues: download
threads take symbols from a Queue and fetch each CSV (urllib), converter
threads turn each into pretty-printed XML (csv + xml.etree, tab-indented,
the same <Data><Row><Date>... shape stockcam writes) in DIR, and one
archiver thread packs every BATCH finished files into DIR/seed-N.tgz
with tarfile (mode "w:gz": gzip level 9, tarfile's default), removing
the XML files it packed. This is that program, kept as it was, so that
bench/jobs.sh can run it beside stockcam on the same machine and input.

Prints one line at the end:
    seed: symbols=N archives=A bytes=B xml_bytes=X wall_s=W
and exits 0, or 1 if a symbol failed (its error on stderr).
Python 3 standard library only.
"""

import argparse
import csv
import io
import os
import queue
import sys
import tarfile
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET

_STOP = object()


def element_name(header):
    """A CSV column name as an element name: "Adj Close" -> "AdjClose"."""
    name = "".join(ch for ch in header if ch.isalnum() or ch in "_-.")
    if not name or not (name[0].isalpha() or name[0] == "_"):
        name = "_" + name
    return name


def to_xml(data, path):
    rows = csv.reader(io.StringIO(data.decode("utf-8")))
    names = [element_name(h) for h in next(rows)]
    root = ET.Element("Data")
    for r in rows:
        row = ET.SubElement(root, "Row")
        for name, value in zip(names, r):
            ET.SubElement(row, name).text = value
    ET.indent(root, space="\t")
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)
    return os.path.getsize(path)


def fetcher(url, todo, fetched, errors):
    while True:
        sym = todo.get()
        if sym is _STOP:
            return
        try:
            with urllib.request.urlopen(url.replace("{symbol}", sym),
                                        timeout=60) as r:
                fetched.put((sym, r.read()))
        except Exception as e:  # noqa: BLE001 - any failure is the symbol's
            errors.append("%s: %s" % (sym, e))
            fetched.put((sym, None))


def converter(out, fetched, converted, errors, sizes):
    while True:
        item = fetched.get()
        if item is _STOP:
            return
        sym, data = item
        if data is None:
            converted.put(None)
            continue
        path = os.path.join(out, sym + ".xml")
        try:
            sizes.append(to_xml(data, path))
            converted.put(path)
        except Exception as e:  # noqa: BLE001
            errors.append("%s: %s" % (sym, e))
            converted.put(None)


def archiver(out, batch, total, converted, archives):
    paths, seen = [], 0

    def pack():
        name = os.path.join(out, "seed-%06d.tgz" % (len(archives) + 1))
        with tarfile.open(name, "w:gz") as tf:
            for p in paths:
                tf.add(p, arcname=os.path.basename(p))
        for p in paths:
            os.remove(p)
        archives.append(name)
        paths.clear()

    while seen < total:
        p = converted.get()
        seen += 1
        if p is not None:
            paths.append(p)
        if len(paths) == batch:
            pack()
    if paths:
        pack()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source-url", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fetchers", type=int, default=8)
    ap.add_argument("--converters", type=int, default=4)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("symbols", nargs="+")
    a = ap.parse_args()

    todo, fetched, converted = queue.Queue(), queue.Queue(), queue.Queue()
    errors, sizes, archives = [], [], []
    t0 = time.monotonic()
    fetchers = [threading.Thread(target=fetcher, args=(a.source_url, todo,
                                                       fetched, errors))
                for _ in range(a.fetchers)]
    converters = [threading.Thread(target=converter,
                                   args=(a.out, fetched, converted, errors,
                                         sizes))
                  for _ in range(a.converters)]
    packer = threading.Thread(target=archiver,
                              args=(a.out, a.batch, len(a.symbols),
                                    converted, archives))
    for th in fetchers + converters + [packer]:
        th.start()
    for s in a.symbols:
        todo.put(s)
    for _ in fetchers:
        todo.put(_STOP)
    for th in fetchers:
        th.join()
    for _ in converters:
        fetched.put(_STOP)
    for th in converters:
        th.join()
    packer.join()
    wall = time.monotonic() - t0

    for e in errors:
        print("seed: %s" % e, file=sys.stderr)
    print("seed: symbols=%d archives=%d bytes=%d xml_bytes=%d wall_s=%.3f"
          % (len(a.symbols) - len(errors), len(archives),
             sum(os.path.getsize(p) for p in archives), sum(sizes), wall))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
