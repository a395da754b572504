#!/usr/bin/env python3
"""E2E: `stockcam csv2xml` -- the corpus in tests/data/csv (every good file
file->file and stdin->stdout, checked byte for byte and value for value
against Python's csv module; every bad file refused with one well-formed
message, nothing left behind, an existing OUT untouched), the
--max-columns and --max-field-size limits (with peak RSS), usage errors,
--stats, I/O errors and a 20 MB Yahoo-layout file in flat memory."""

import csv
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import (rss_skip_reason, TAP, check_binary, start_watchdog, scaled, front_prefix,  # noqa: E402
                     server_env, WRAPPER, STOCKCAM_BIN)

sys.dont_write_bytecode = True          # do not leave bench/__pycache__ behind
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..", "bench")))
import gen_prices  # noqa: E402

t = TAP()

CORPUS = os.path.normpath(os.path.join(HERE, "..", "data", "csv"))
BAD_DIR = os.path.join(CORPUS, "bad")
BOM = b"\xef\xbb\xbf"
DECL = b'<?xml version="1.0" encoding="UTF-8"?>\n'
PROG = "stockcam csv2xml"
XMLLINT_PKG = "libxml2-utils"

# One conversion-error line:  stockcam csv2xml: NAME: line L[, column C]: MESSAGE
MSG_RE = re.compile(r"^stockcam csv2xml: (?P<name>.+?): line (?P<line>[0-9]+)"
                    r"(?:, column (?P<col>[0-9]+))?: (?P<msg>\S.*)$")
STATS_RE = re.compile(r"^rows=(?P<rows>[0-9]+) bytes_in=(?P<bytes_in>[0-9]+) "
                      r"bytes_out=(?P<bytes_out>[0-9]+) "
                      r"seconds=(?P<seconds>[0-9]+(?:\.[0-9]+)?) "
                      r"maxrss_kb=(?P<maxrss_kb>[0-9]+)$")

# Where each bad file must fail: (line, column, message regex).
#   line None:    any line number is accepted
#   column None:  the column may be absent; if present its value is not checked
#   message None: any text
# Columns are 1-based byte offsets within the physical line; for invalid
# UTF-8 the column is the first byte of the invalid sequence.
BAD = {
    "long_row.csv":                    (3, None, None),  # 4 fields, header has 3
    "bad_utf8.csv":                    (2, 15, None),    # Latin-1 e-acute 0xE9 then 's'
    "bad_utf8_header.csv":             (1, 8, None),     # 0xFF in a header name
    "nul.csv":                         (2, 14, None),    # NUL byte
    "control_char.csv":                (3, 13, None),    # ESC 0x1B
    "control_in_header.csv":           (1, 8, None),     # 0x01 in a header name
    "control_in_quoted_multiline.csv": (3, 5, None),     # BEL on the 2nd line of a quoted field
    "unclosed_quote.csv":              (3, None, None),  # quote opened on the last line, no newline
    "unclosed_quote_multiline.csv":    (3, None, None),  # quote opened on line 3, input ends on line 5
    "junk_after_quote.csv":            (2, 17, None),    # "abc"x
    "junk_after_quote_space.csv":      (3, 17, None),    # "abc" then a space
    "junk_after_multiline_quote.csv":  (3, 4, None),     # "a<LF>bc"x: junk on the field's 2nd line
    "control_char_crlf.csv":           (3, 13, None),    # 0x01, CRLF line ends
    "control_after_blank_lines.csv":   (5, 12, None),    # 0x02; blank lines count as lines
    "empty.csv":                       (None, None, r"no header row"),
    "only_bom.csv":                    (None, None, r"no header row"),
    "only_blank_lines.csv":            (None, None, r"no header row"),
    "overlong_utf8.csv":               (2, 13, None),    # C0 AF (overlong '/')
    "surrogate_utf8.csv":              (2, 13, None),    # ED A0 80 (U+D800)
    "codepoint_too_big.csv":           (2, 13, None),    # F4 90 80 80 (U+110000)
    "truncated_utf8_eof.csv":          (2, 13, None),    # E4 BB then end of input
}

# Bad files also run stdin->stdout (the message must then say "stdin").
BAD_STDIN = ("long_row.csv", "bad_utf8.csv", "nul.csv", "junk_after_quote.csv",
             "unclosed_quote.csv", "empty.csv", "control_in_quoted_multiline.csv")

HELPER = r'''
import os, sys
fd = int(sys.argv[1])
argv = sys.argv[2:]
pid = os.fork()
if pid == 0:
    try:
        os.close(fd)
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, ("cannot run %s: %s\n" % (argv[0], e)).encode())
    os._exit(127)
for f in (0, 1, 2):
    os.close(f)
os.write(fd, b"%d\n" % pid)
while True:
    try:
        _, st, ru = os.wait4(pid, 0)
        break
    except InterruptedError:
        pass
os.write(fd, b"%d %d\n" % (os.waitstatus_to_exitcode(st), ru.ru_maxrss))
'''


# -- running the CLI ----------------------------------------------------------------

class Result:
    def __init__(self, rc, out, err, seconds, maxrss_kb):
        self.rc = rc                # None: killed after the timeout
        self.out = out              # bytes
        self.err = err              # bytes
        self.seconds = seconds
        self.maxrss_kb = maxrss_kb  # None unless measured

    def errtext(self):
        return self.err.decode("utf-8", "replace")

    def __repr__(self):
        return "rc=%r stdout=%r stderr=%r (%.2fs)" % (
            self.rc, self.out[:200], self.err[:600], self.seconds)


def run(args, stdin_path=None, feed=None, timeout=10.0, measure=False, stdout_path=None):
    """Run `stockcam csv2xml ARGS`.  stdin: the file stdin_path, or the
    chunks of the iterable `feed` (written from a thread; the CLI may stop
    reading early), else /dev/null.  stdout_path: stdout goes to that file
    (opened for writing) instead of a pipe.  measure=True runs it through a small
    Python helper that forks it and reports its own wait4() ru_maxrss: a
    child's ru_maxrss includes the RSS of whatever process forked it, so it
    cannot be forked from this (big) test process."""
    argv = [*front_prefix(), "csv2xml", *[str(a) for a in args]]
    stdin_f = None
    if stdin_path is not None:
        stdin_f = open(stdin_path, "rb")
        stdin = stdin_f
    elif feed is not None:
        stdin = subprocess.PIPE
    else:
        stdin = subprocess.DEVNULL
    rfd = wfd = None
    stdout_f = open(stdout_path, "wb") if stdout_path is not None else None
    stdout = stdout_f if stdout_f is not None else subprocess.PIPE
    try:
        t0 = time.monotonic()
        if measure:
            rfd, wfd = os.pipe()
            p = subprocess.Popen([sys.executable, "-I", "-S", "-c", HELPER, str(wfd), *argv],
                                 pass_fds=(wfd,), stdin=stdin, stdout=stdout,
                                 stderr=subprocess.PIPE, env=server_env())
            os.close(wfd)
            wfd = None
        else:
            p = subprocess.Popen(argv, stdin=stdin, stdout=stdout,
                                 stderr=subprocess.PIPE, env=server_env())
    finally:
        if stdin_f is not None:
            stdin_f.close()
        if stdout_f is not None:
            stdout_f.close()
        if wfd is not None:
            os.close(wfd)

    bufs = {"out": [], "err": []}

    def reader(f, key):
        for chunk in iter(lambda: f.read(65536), b""):
            bufs[key].append(chunk)

    def writer():
        try:
            for chunk in feed:
                p.stdin.write(chunk)
        except (BrokenPipeError, ConnectionResetError, ValueError, OSError):
            pass
        finally:
            try:
                p.stdin.close()
            except OSError:
                pass

    threads = [threading.Thread(target=reader, args=(p.stderr, "err"), daemon=True)]
    if p.stdout is not None:
        threads.append(threading.Thread(target=reader, args=(p.stdout, "out"), daemon=True))
    if feed is not None:
        threads.append(threading.Thread(target=writer, daemon=True))
    for th in threads:
        th.start()

    report = b""
    child = None
    if measure:
        with os.fdopen(rfd, "rb") as rf:
            first = rf.readline()
            if first.strip().isdigit():
                child = int(first)
            killed = _wait(p, child, timeout)
            report = rf.read()
    else:
        killed = _wait(p, None, timeout)
    seconds = time.monotonic() - t0
    for th in threads:
        th.join(scaled(10))
    out, err = b"".join(bufs["out"]), b"".join(bufs["err"])
    rc, maxrss = p.returncode, None
    if measure:
        parts = report.split()
        if len(parts) == 2:
            rc, maxrss = int(parts[0]), int(parts[1])
        else:
            rc = "helper failed (report %r, helper exit %r)" % (report, p.returncode)
    if killed:
        rc = None
    return Result(rc, out, err, seconds, maxrss)


def _wait(p, child, timeout):
    """Wait for p; on timeout kill the CLI (and the helper).  True if killed."""
    try:
        p.wait(timeout=scaled(timeout))
        return False
    except subprocess.TimeoutExpired:
        for pid in ([child] if child else []):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=scaled(5))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        return True


RSS_SKIP = None


def skip(name, reason):
    t.n += 1
    print("ok %d - %s # SKIP %s" % (t.n, t._clean(name), t._clean(reason)), flush=True)


def check_rss(name, res, limit_mb):
    if RSS_SKIP:
        skip(name, RSS_SKIP)
        return
    t.ok(res.maxrss_kb is not None and res.maxrss_kb < limit_mb * 1024, name,
         "peak RSS %s KiB (limit %d MiB = %d KiB); %r"
         % (res.maxrss_kb, limit_mb, limit_mb * 1024, res))


# -- what the output must be ------------------------------------------------------------

_NAME_START = ((0x3A, 0x3A), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A), (0xC0, 0xD6),
               (0xD8, 0xF6), (0xF8, 0x2FF), (0x370, 0x37D), (0x37F, 0x1FFF),
               (0x200C, 0x200D), (0x2070, 0x218F), (0x2C00, 0x2FEF), (0x3001, 0xD7FF),
               (0xF900, 0xFDCF), (0xFDF0, 0xFFFD), (0x10000, 0xEFFFF))
_NAME_MORE = ((0x2D, 0x2E), (0x30, 0x39), (0xB7, 0xB7), (0x300, 0x36F), (0x203F, 0x2040))


def _in(ch, ranges):
    c = ord(ch)
    return any(lo <= c <= hi for lo, hi in ranges)


def is_name_start(ch):
    return _in(ch, _NAME_START)


def is_name_char(ch):
    return _in(ch, _NAME_START) or _in(ch, _NAME_MORE)


def element_name(header, index):
    """Header -> element name, rules 1-5 of the contract (XML 1.0 5th ed.)."""
    s = "".join(ch for ch in header if ch not in " \t\r\n")                   # (1)
    s = "".join("_" if ch == ":" or not is_name_char(ch) else ch for ch in s)   # (2)
    if s and not is_name_start(s[0]):                                        # (3)
        s = "_" + s
    if s[:3].lower() == "xml":                                               # (4)
        s = "_" + s
    return s or "Column%d" % index                                           # (5)


def element_names(headers):
    """All element names, with rule 6 (duplicates get _2, _3, ...)."""
    used, names = set(), []
    for i, h in enumerate(headers, 1):
        n = element_name(h, i)
        if n in used:
            k = 2
            while "%s_%d" % (n, k) in used:
                k += 1
            n = "%s_%d" % (n, k)
        used.add(n)
        names.append(n)
    return names


def csv_records(data):
    """Records of a good CSV file, as Python's csv module reads it (BOM
    stripped, empty lines skipped)."""
    if data.startswith(BOM):
        data = data[len(BOM):]
    text = data.decode("utf-8")
    return [r for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]


def expected_table(data):
    """(element names, rows of values padded to the header width)."""
    recs = csv_records(data)
    names = element_names(recs[0])
    rows = []
    for r in recs[1:]:
        if len(r) > len(names):
            raise AssertionError("corpus bug: record %r longer than the header" % (r,))
        rows.append(r + [""] * (len(names) - len(r)))
    return names, rows


def escape(v):
    return (v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def xml_chunks(names, rows):
    """The exact expected output, as a sequence of str pieces."""
    yield DECL.decode()
    yield "<Data>\n"
    for row in rows:
        parts = ["\t<Row>\n"]
        for n, v in zip(names, row):
            if v == "":
                parts.append("\t\t<%s/>\n" % n)
            else:
                parts.append("\t\t<%s>%s</%s>\n" % (n, escape(v), n))
        parts.append("\t</Row>\n")
        yield "".join(parts)
    yield "</Data>\n"


def expected_xml(names, rows):
    return "".join(xml_chunks(names, rows)).encode("utf-8")


def first_difference(got, want):
    n = min(len(got), len(want))
    i = next((k for k in range(n) if got[k] != want[k]), n)
    lo = max(0, i - 60)
    return ("first difference at byte %d (got %d bytes, want %d)\n"
            "got:  %r\nwant: %r" % (i, len(got), len(want), got[lo:i + 60], want[lo:i + 60]))


def parsed_issues(xml_bytes, names, rows):
    """Parse with xml.etree and compare value by value; list of problems."""
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError as e:
        return ["xml.etree cannot parse the output: %s" % e]
    issues = []
    if root.tag != "Data" or root.attrib:
        issues.append("root element %r %r, want <Data> without attributes"
                      % (root.tag, root.attrib))
    got_rows = list(root)
    if len(got_rows) != len(rows):
        issues.append("%d <Row> elements, want %d" % (len(got_rows), len(rows)))
    for i, (el, want) in enumerate(zip(got_rows, rows), 1):
        got = [(c.tag, c.text or "") for c in el]
        exp = list(zip(names, want))
        if el.tag != "Row" or got != exp or (el.text or "").strip():
            issues.append("row %d: got %r %r\n          want Row %r" % (i, el.tag, got, exp))
            if len(issues) > 5:
                break
    return issues


# -- checks shared by the cases ------------------------------------------------------------

XMLLINT = shutil.which("xmllint")


def check_xmllint(name, path, stream=False):
    if not XMLLINT:
        return
    argv = [XMLLINT, "--noout"] + (["--stream"] if stream else []) + [path]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=scaled(120))
    t.ok(p.returncode == 0 and not p.stderr, "%s: xmllint --noout accepts the output" % name,
         "xmllint exit %d: %s" % (p.returncode, p.stderr.decode("utf-8", "replace")[:1000]))


def dir_listing(d):
    return sorted(os.listdir(d))


def check_error(name, res, in_name, line, col, msg_re):
    """exit 1 and exactly one well-formed message line naming in_name, line
    and column."""
    t.is_(res.rc, 1, "%s: exit status 1" % name, repr(res))
    err = res.errtext()
    lines = err.split("\n")
    one = err.endswith("\n") and len(lines) == 2
    t.ok(one, "%s: exactly one line on stderr" % name, "stderr=%r" % err[:1000])
    m = MSG_RE.match(lines[0]) if lines else None
    issues = []
    if not m:
        issues.append("does not match 'stockcam csv2xml: NAME: line L[, column C]: MESSAGE'")
    else:
        if m.group("name") != in_name:
            issues.append("names %r, want %r" % (m.group("name"), in_name))
        if line is not None and int(m.group("line")) != line:
            issues.append("line %s, want %d" % (m.group("line"), line))
        if col is not None:
            if m.group("col") is None:
                issues.append("no column, want column %d" % col)
            elif int(m.group("col")) != col:
                issues.append("column %s, want %d" % (m.group("col"), col))
        if msg_re and not re.search(msg_re, m.group("msg"), re.I):
            issues.append("message %r does not match /%s/i" % (m.group("msg"), msg_re))
    where = "line %s" % (line if line is not None else "any")
    if col is not None:
        where += ", column %d" % col
    t.ok(not issues, "%s: message names %s, %s%s" % (
        name, "stdin" if in_name == "stdin" else "the input", where,
        " and says %s" % msg_re if msg_re else ""), issues + ["stderr=%r" % err[:1000]])
    return m


# -- good corpus -------------------------------------------------------------------------

def test_good(fname):
    path = os.path.join(CORPUS, fname)
    with open(path, "rb") as f:
        data = f.read()
    names, rows = expected_table(data)
    want = expected_xml(names, rows)
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        out = os.path.join(tmp, "out.xml")
        res = run([path, out])
        t.ok(res.rc == 0 and res.err == b"" and res.out == b"",
             "%s: file->file exits 0, nothing on stdout or stderr" % fname, repr(res))
        t.is_(dir_listing(tmp), ["out.xml"],
              "%s: output dir holds exactly OUT (no temporary left)" % fname)
        if not os.path.isfile(out):
            return
        with open(out, "rb") as f:
            got = f.read()
        check_xmllint(fname, out)
        t.ok(got == want, "%s: exact bytes (declaration, tabs, <Name/>, escapes)" % fname,
             first_difference(got, want))
        issues = parsed_issues(got, names, rows)
        t.ok(not issues, "%s: xml.etree values equal Python csv's (%d rows x %d columns)"
             % (fname, len(rows), len(names)), issues)

        res2 = run([], stdin_path=path)
        t.ok(res2.rc == 0 and res2.err == b"" and res2.out == got,
             "%s: stdin->stdout exits 0 with the same bytes as file->file" % fname,
             "%r\n%s" % (res2, first_difference(res2.out, got)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_header_only_exact():
    path = os.path.join(CORPUS, "header_only.csv")
    res = run([path])
    t.is_(res.out, DECL + b"<Data>\n</Data>\n",
          "header_only.csv: output is exactly the declaration, <Data> and </Data>", repr(res))


def test_operand_forms():
    path = os.path.join(CORPUS, "lf.csv")
    with open(path, "rb") as f:
        want = expected_xml(*expected_table(f.read()))
    res = run(["-", "-"], stdin_path=path)
    t.ok(res.rc == 0 and res.out == want and res.err == b"",
         "csv2xml - - (explicit stdin, stdout) converts lf.csv", repr(res))
    res = run([path])
    t.ok(res.rc == 0 and res.out == want and res.err == b"",
         "csv2xml IN (OUT defaults to stdout) converts lf.csv", repr(res))
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        out = os.path.join(tmp, "out.xml")
        res = run(["-", out], stdin_path=path)
        got = open(out, "rb").read() if os.path.isfile(out) else None
        t.ok(res.rc == 0 and got == want and res.out == b"",
             "csv2xml - OUT (stdin to a file) converts lf.csv", repr(res))
        with open(out, "wb") as f:
            f.write(b"old contents\n")
        res = run([path, out])
        got = open(out, "rb").read()
        t.ok(res.rc == 0 and got == want,
             "an existing OUT is replaced on success", "%r\nOUT=%r" % (res, got[:200]))
        t.is_(dir_listing(tmp), ["out.xml"], "replacing OUT leaves no temporary behind")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_out_dir():
    """--out-dir DIR IN...: each input as DIR/NAME.xml, one process; a
    broken file named, the others still converted."""
    good = [os.path.join(CORPUS, n) for n in ("lf.csv", "crlf.csv")]
    bad = os.path.join(CORPUS, "bad", sorted(os.listdir(
        os.path.join(CORPUS, "bad")))[0])
    want = {}
    for p in good:
        with open(p, "rb") as f:
            want[os.path.basename(p)[:-4] + ".xml"] = \
                expected_xml(*expected_table(f.read()))
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        res = run(["--out-dir", tmp, *good])
        got = {n: open(os.path.join(tmp, n), "rb").read()
               for n in dir_listing(tmp)}
        t.ok(res.rc == 0 and got == want and res.err == b"",
             "csv2xml --out-dir DIR A.csv B.csv writes DIR/A.xml, DIR/B.xml",
             "%r\n%r" % (res, sorted(got)))
        shutil.rmtree(tmp)
        os.mkdir(tmp)
        res = run(["--out-dir", tmp, good[0], bad, good[1]])
        err = res.err.decode(errors="replace")
        t.ok(res.rc == 1 and os.path.basename(bad) in err and
             err.count("\n") == 1 and sorted(dir_listing(tmp)) ==
             sorted(want), "a broken file among them: exit 1 naming it, "
             "the others converted", "%r\n%r" % (res, dir_listing(tmp)))
        res = run(["--out-dir", tmp])
        t.is_(res.rc, 2, "--out-dir without inputs: usage error")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- bad corpus ---------------------------------------------------------------------------

SENTINEL = b"pre-existing OUT: must survive a failed conversion\n"


def test_bad(fname):
    path = os.path.join(BAD_DIR, fname)
    line, col, msg_re = BAD[fname]
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        out = os.path.join(tmp, "out.xml")
        res = run([path, out])
        check_error("bad/%s file->file" % fname, res, path, line, col, msg_re)
        t.is_(dir_listing(tmp), [], "bad/%s: no OUT and no temporary left behind" % fname)

        with open(out, "wb") as f:
            f.write(SENTINEL)
        st0 = os.stat(out)
        res = run([path, out])
        t.is_(res.rc, 1, "bad/%s over an existing OUT: exit status 1" % fname, repr(res))
        got = open(out, "rb").read() if os.path.exists(out) else None
        st1 = os.stat(out) if os.path.exists(out) else None
        t.ok(got == SENTINEL and st1 is not None and st1.st_ino == st0.st_ino
             and dir_listing(tmp) == ["out.xml"],
             "bad/%s: existing OUT untouched (same inode and bytes), no temporary" % fname,
             "OUT=%r inode %s -> %s, dir=%r" % (got and got[:200], st0.st_ino,
                                                 st1 and st1.st_ino, dir_listing(tmp)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if fname in BAD_STDIN:
        res = run([], stdin_path=path)
        check_error("bad/%s stdin->stdout" % fname, res, "stdin", line, col, msg_re)


def test_bad_deep():
    """An error after more than 64 KiB of output has been written: still
    no OUT and no temporary, and the line count is right."""
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        src = os.path.join(tmp, "in")
        os.mkdir(src)
        outd = os.path.join(tmp, "out")
        os.mkdir(outd)
        path = os.path.join(src, "deep_nul.csv")
        with open(path, "wb") as f:
            f.write(b"Date,Open,High,Low,Close,Adj Close,Volume\r\n")
            for i in range(5000):
                f.write(b"2026-11-20,15.080000,15.370000,14.950000,15.300000,15.300000,%d\r\n"
                        % (1000000 + i))
            f.write(b"2026-11-21,15.08,15.37,14.95,15.3\x00,15.3,1\r\n")
            f.write(b"2026-11-24,15.08,15.37,14.95,15.3,15.3,1\r\n")
        out = os.path.join(outd, "out.xml")
        res = run([path, out])
        # header is line 1, 5000 rows, the NUL is on line 5002 after "...,15.3"
        check_error("NUL on line 5002 of a 350 KB file", res, path, 5002, 34, None)
        t.is_(dir_listing(outd), [], "error after 64 KiB of output: no OUT, no temporary left")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- limits --------------------------------------------------------------------------------

def names_limit(m, value, option):
    return m is not None and (str(value) in m.group("msg") or option in m.group("msg"))


def test_max_columns():
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        path = os.path.join(tmp, "wide.csv")
        with open(path, "wb") as f:
            for start in range(1, 1000001, 10000):
                f.write(",".join("c%d" % i for i in range(start, start + 10000)).encode())
                f.write(b"," if start + 10000 <= 1000000 else b"\n")
            f.write(b"1,2,3\n")
        out = os.path.join(tmp, "out.xml")
        res = run([path, out], timeout=30, measure=True)
        m = check_error("1,000,000-column header (default --max-columns 1024)", res, path, 1,
                        None, None)
        t.ok(names_limit(m, 1024, "max-columns"),
             "1,000,000-column header: message names the limit (1024 or max-columns)",
             "stderr=%r" % res.err[:500])
        t.ok(res.rc is not None and res.seconds < scaled(3.0),
             "1,000,000-column header refused quickly (< 3 s)", "took %.2f s" % res.seconds)
        t.is_(dir_listing(tmp), ["wide.csv"], "1,000,000-column header: no OUT left")
        if res.maxrss_kb is not None:
            t.diag("1,000,000-column header: peak RSS %d KiB" % res.maxrss_kb)

        ok3 = os.path.join(tmp, "three.csv")
        with open(ok3, "wb") as f:
            f.write(b"a,b,c\n1,2,3\n")
        res = run(["--max-columns", "3", ok3])
        t.ok(res.rc == 0 and res.out == expected_xml(["a", "b", "c"], [["1", "2", "3"]]),
             "--max-columns 3 accepts a 3-column header", repr(res))
        four = os.path.join(tmp, "four.csv")
        with open(four, "wb") as f:
            f.write(b"a,b,c,d\n1,2,3,4\n")
        res = run(["--max-columns", "3", four])
        m = check_error("--max-columns 3 with a 4-column header", res, four, 1, None, None)
        t.ok(names_limit(m, 3, "max-columns"),
             "--max-columns 3: message names the limit", "stderr=%r" % res.err[:500])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def big_field_feed(total):
    yield b"Date,Note\n2026-11-20,\""
    chunk = (b"0123456789abcdef,ABCDEF ghij;" * 2260)[:65536]
    sent = 0
    while sent < total:
        n = min(len(chunk), total - sent)
        yield chunk[:n]
        sent += n
    yield b"\"\n"


def test_max_field_size():
    total = 100 * 1024 * 1024
    res = run([], feed=big_field_feed(total), timeout=60, measure=True)
    m = check_error("100 MB quoted field on stdin (default --max-field-size 1048576)", res,
                    "stdin", 2, None, None)
    t.ok(names_limit(m, 1048576, "max-field-size"),
         "100 MB field: message names the limit (1048576 or max-field-size)",
         "stderr=%r" % res.err[:500])
    check_rss("100 MB field: peak RSS of the CLI under 64 MB", res, 64)
    t.diag("100 MB field: refused after %.2f s, peak RSS %s KiB"
           % (res.seconds, res.maxrss_kb))

    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        ok = os.path.join(tmp, "ten.csv")
        with open(ok, "wb") as f:
            f.write(b"Date,Note\n2026-11-20,0123456789\n")
        res = run(["--max-field-size", "10", ok])
        t.ok(res.rc == 0 and res.out == expected_xml(["Date", "Note"],
                                                     [["2026-11-20", "0123456789"]]),
             "--max-field-size 10 accepts 10-byte fields", repr(res))
        bad = os.path.join(tmp, "eleven.csv")
        with open(bad, "wb") as f:
            f.write(b"Date,Note\n2026-11-20,0123456789\n2026-11-21,01234567890\n")
        res = run(["--max-field-size", "10", bad])
        m = check_error("--max-field-size 10 with an 11-byte field", res, bad, 3, None, None)
        t.ok(names_limit(m, 10, "max-field-size"),
             "--max-field-size 10: message names the limit", "stderr=%r" % res.err[:500])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- usage, I/O errors, --stats --------------------------------------------------------------

def test_usage():
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        lf = os.path.join(CORPUS, "lf.csv")
        out = os.path.join(tmp, "out.xml")
        for args, what in ((["--bogus", lf, out], "unknown option --bogus"),
                           ([lf, out, os.path.join(tmp, "third")], "3 operands"),
                           ([lf, out, "x", "y"], "4 operands"),
                           ([lf, out, "--max-columns"], "--max-columns without a value"),
                           (["--max-columns", "abc", lf, out], "--max-columns abc"),
                           (["--max-field-size", "1x", lf, out], "--max-field-size 1x")):
            res = run(args)
            t.ok(res.rc == 2 and res.err.strip() != b"",
                 "usage error (%s): exit 2 with a message on stderr" % what, repr(res))
            t.is_(dir_listing(tmp), [], "usage error (%s): no file written" % what)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_io_errors():
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        missing = os.path.join(tmp, "no-such-file.csv")
        out = os.path.join(tmp, "out.xml")
        res = run([missing, out])
        t.is_(res.rc, 1, "nonexistent input: exit status 1", repr(res))
        err = res.errtext()
        t.ok(err.endswith("\n") and err.count("\n") == 1
             and err.startswith("%s: %s: " % (PROG, missing)),
             "nonexistent input: one line 'stockcam csv2xml: PATH: ...'", "stderr=%r" % err)
        t.is_(dir_listing(tmp), [], "nonexistent input: no OUT created")

        lf = os.path.join(CORPUS, "lf.csv")
        bad_out = os.path.join(tmp, "no-such-dir", "out.xml")
        res = run([lf, bad_out])
        err = res.errtext()
        t.ok(res.rc == 1 and err.endswith("\n") and err.count("\n") == 1
             and err.startswith(PROG + ": ") and os.path.join(tmp, "no-such-dir") in err,
             "OUT in a nonexistent directory: exit 1, one line naming it", repr(res))

        res = run([tmp, os.path.join(tmp, "out.xml")])
        err = res.errtext()
        t.ok(res.rc == 1 and err.endswith("\n") and err.count("\n") == 1
             and err.startswith("%s: %s: " % (PROG, tmp)),
             "IN is a directory: exit 1, one line naming it", repr(res))
        t.is_(dir_listing(tmp), [], "IN is a directory: no OUT created")

        outdir = os.path.join(tmp, "outdir")
        os.mkdir(outdir)
        res = run([lf, outdir])
        err = res.errtext()
        t.ok(res.rc == 1 and err.endswith("\n") and err.count("\n") == 1
             and err.startswith(PROG + ": "),
             "OUT is an existing directory: exit 1, one message line", repr(res))
        t.ok(dir_listing(tmp) == ["outdir"] and dir_listing(outdir) == [],
             "OUT is an existing directory: it is left alone, no temporary left",
             "%r %r" % (dir_listing(tmp), dir_listing(outdir)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if os.path.exists("/dev/full"):
        path = os.path.join(CORPUS, "yahoo_small.csv")
        res = run([path], stdout_path="/dev/full")
        err = res.errtext()
        t.ok(res.rc == 1 and err.endswith("\n") and err.count("\n") == 1
             and err.startswith(PROG + ": "),
             "stdout is /dev/full (ENOSPC): exit 1 and exactly one message line", repr(res))


def test_output_targets():
    """What stands at OUT is written, never replaced by something else: a
    file keeps its mode, a symlink stays a link (its target gets the XML),
    a FIFO and a device stay what they are (written in place)."""
    src = os.path.join(CORPUS, "yahoo_small.csv")
    want = run([src]).out
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        f = os.path.join(tmp, "kept.xml")
        with open(f, "w") as fh:
            fh.write("old")
        os.chmod(f, 0o600)
        res = run([src, f])
        with open(f, "rb") as fh:
            got = fh.read()
        t.ok(res.rc == 0 and got == want and
             (os.stat(f).st_mode & 0o777) == 0o600,
             "an existing OUT gets the XML and keeps its mode 0600",
             "rc=%d mode=%o" % (res.rc, os.stat(f).st_mode & 0o777))

        target = os.path.join(tmp, "target.xml")
        link = os.path.join(tmp, "link.xml")
        with open(target, "w") as fh:
            fh.write("old")
        os.symlink("target.xml", link)
        res = run([src, link])
        with open(target, "rb") as fh:
            got = fh.read()
        t.ok(res.rc == 0 and os.path.islink(link) and got == want,
             "OUT a symlink: it stays a link and its target gets the XML",
             "rc=%d islink=%s" % (res.rc, os.path.islink(link)))
        t.is_(sorted(dir_listing(tmp)), ["kept.xml", "link.xml", "target.xml"],
              "no temporary left beside them")

        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)
        got = []

        def drain():
            with open(fifo, "rb") as fh:
                got.append(fh.read())
        th = threading.Thread(target=drain, daemon=True)
        th.start()
        res = run([src, fifo], timeout=scaled(20))
        th.join(scaled(20))
        t.ok(res.rc == 0 and got == [want] and
             stat.S_ISFIFO(os.lstat(fifo).st_mode),
             "OUT a FIFO: its reader gets the XML and it stays a FIFO",
             "rc=%d got=%d bytes" % (res.rc, len(got[0]) if got else -1))
        fifo_ok = res.rc == 0 and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # Never as root, where a regression (the old rename) would replace
    # the machine's /dev/null with a file: root checks a private node in
    # test_output_char_device instead. Others cannot harm /dev.
    if fifo_ok and os.geteuid() != 0 and os.path.exists("/dev/null"):
        res = run([src, "/dev/null"])
        t.ok(res.rc == 0 and stat.S_ISCHR(os.stat("/dev/null").st_mode),
             "OUT /dev/null: exit 0 and it is still a character device",
             repr(res))
    elif os.geteuid() == 0:
        t.skip("OUT /dev/null: exit 0 and it is still a character device",
               "root: a private char device is checked instead")


def test_output_char_device():
    """csv2xml to a char device: written in place, still a char device
    afterwards. The device is made with mknod in a private directory
    (numbers 1,3, those of a null device), never a real /dev node."""
    name = "csv2xml to a char device: exit 0 and it stays a char device"
    if os.geteuid() != 0:
        t.skip(name, "not root, cannot mknod a char device")
        return
    src = os.path.join(CORPUS, "yahoo_small.csv")
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        dev = os.path.join(tmp, "null")
        try:
            os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
            with open(dev, "wb") as fh:
                fh.write(b"probe")
        except OSError as e:
            t.skip(name, "mknod or writing the node fails here: %s" % e)
            return
        res = run([src, dev])
        t.ok(res.rc == 0 and stat.S_ISCHR(os.lstat(dev).st_mode) and
             sorted(dir_listing(tmp)) == ["null"],
             name + ", no temporary beside it", repr(res))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_portable_names():
    """Header names with characters only XML 1.0 fifth edition allows in
    names (an emoji, U+FEFF inside a name) after a leading BOM: the
    output must parse with expat (xml.etree), which keeps the fourth
    edition's name tables, and with xmllint."""
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        src = os.path.join(tmp, "names.csv")
        out = os.path.join(tmp, "names.xml")
        with open(src, "wb") as f:
            f.write("\ufeffDate,Price\U0001F600,\U0001F4C8,a\ufeffb,\u4ef7\u683c\n"
                    "2026-11-20,1,2,3,4\n".encode("utf-8"))
        res = run([src, out])
        t.ok(res.rc == 0, "emoji/BOM header: converted", repr(res))
        try:
            root = ET.parse(out).getroot()
            tags = [e.tag for e in root[0]]
            err = ""
        except (ET.ParseError, OSError, IndexError) as e:
            tags, err = None, str(e)
        t.is_(tags, ["Date", "Price_", "_", "a_b", "\u4ef7\u683c"],
              "emoji/BOM header: expat parses it, names made portable " + err)
        check_xmllint("emoji/BOM header", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_disk_full():
    """OUT on a full file system (a 64 KiB tmpfs mounted in a private
    directory): exit 1, one line naming the lack of space, no libxml2
    'I/O error' line, nothing left behind."""
    name = "csv2xml to a full tmpfs"
    if os.geteuid() != 0:
        t.skip(name, "not root, cannot mount a tmpfs")
        return
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    try:
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            t.skip(name, "mount -t tmpfs fails: %s" % p.stderr.decode("utf-8", "replace").strip())
            return
        try:
            src = os.path.join(tmp, "big.csv")
            with open(src, "w") as f:
                f.write("a,b\n")
                for i in range(100000):
                    f.write("%d,xxxxxxxxxxxxxxxx\n" % i)
            res = run([src, os.path.join(mnt, "out.xml")], timeout=scaled(60))
            text = res.errtext()
            t.ok(res.rc == 1 and text.count("\n") == 1 and
                 "No space left on device" in text and "I/O error" not in text,
                 name + ": exit 1, one line naming no space, no libxml2 I/O error",
                 repr(res))
            t.is_(os.listdir(mnt), [], name + ": nothing left behind")
        finally:
            subprocess.run(["umount", mnt])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_bare_cr():
    """Records end with LF or CRLF only: a CR not followed by LF, outside
    quotes, must not end a record.  The contract does not say whether it
    is then kept in the value (written &#13;) or refused, so either is
    accepted; splitting the record in two is not."""
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        path = os.path.join(tmp, "bare_cr.csv")
        with open(path, "wb") as f:
            f.write(b"Date,Note\n2026-11-20,x\ry\n")
        res = run([path])
        kept = expected_xml(["Date", "Note"], [["2026-11-20", "x\ry"]])
        m = MSG_RE.match(res.errtext().split("\n")[0])
        refused = (res.rc == 1 and m is not None and m.group("line") == "2"
                   and res.errtext().count("\n") == 1)
        t.ok((res.rc == 0 and res.out == kept and res.err == b"") or refused,
             "a bare CR inside an unquoted field does not end the record "
             "(kept, written as a character reference, or refused on line 2)",
             "%r\nwant either stdout=%r or exit 1 with a line-2 message" % (res, kept))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def parse_stats(name, res):
    err = res.errtext()
    lines = err.split("\n")
    m = STATS_RE.match(lines[0]) if err.endswith("\n") and len(lines) == 2 else None
    t.ok(res.rc == 0 and m is not None,
         "%s: exit 0 and exactly one --stats line on stderr" % name, repr(res))
    return m


def test_stats():
    path = os.path.join(CORPUS, "yahoo_small.csv")
    with open(path, "rb") as f:
        data = f.read()
    names, rows = expected_table(data)
    want = expected_xml(names, rows)
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        out = os.path.join(tmp, "out.xml")
        res = run(["--stats", path, out])
        m = parse_stats("--stats yahoo_small.csv file->file", res)
        if m:
            got = {k: int(m.group(k)) for k in ("rows", "bytes_in", "bytes_out")}
            size_out = os.path.getsize(out) if os.path.exists(out) else None
            t.is_(got, {"rows": len(rows), "bytes_in": len(data), "bytes_out": size_out},
                  "--stats: rows, bytes_in, bytes_out match the files")
            t.ok(float(m.group("seconds")) < 60 and int(m.group("maxrss_kb")) > 0,
                 "--stats: seconds and maxrss_kb are plausible", res.errtext())
        res = run(["--stats"], stdin_path=path)
        m = parse_stats("--stats yahoo_small.csv stdin->stdout", res)
        if m:
            t.ok(res.out == want and int(m.group("bytes_out")) == len(res.out)
                 and int(m.group("bytes_in")) == len(data) and int(m.group("rows")) == len(rows),
                 "--stats stdin->stdout: counts match, output unchanged", res.errtext())
        bad = os.path.join(BAD_DIR, "nul.csv")
        res = run(["--stats", bad, out])
        check_error("--stats with bad/nul.csv (error line only, no stats)", res, bad, 2, 14,
                    None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- 20 MB Yahoo-layout file -------------------------------------------------------------

def test_large():
    tmp = tempfile.mkdtemp(prefix="stockcam-e2e-csv2xml-")
    try:
        path = os.path.join(tmp, "prices.csv")
        with open(path, "wb") as f:
            nrows, nbytes = gen_prices.generate(f, 20 * 1024 * 1024, seed=7)
        out = os.path.join(tmp, "prices.xml")
        res = run(["--stats", path, out], timeout=120, measure=True)
        m = parse_stats("20 MB Yahoo CSV (%d rows)" % nrows, res)
        check_rss("20 MB Yahoo CSV: peak RSS of the CLI under 16 MB", res, 16)
        t.diag("20 MB Yahoo CSV: %.2f s wall, peak RSS %s KiB; stats: %s"
               % (res.seconds, res.maxrss_kb, res.errtext().strip()))
        if m:
            t.is_(int(m.group("rows")), nrows, "20 MB Yahoo CSV: --stats rows= equals the input's")
        t.is_(dir_listing(tmp), ["prices.csv", "prices.xml"],
              "20 MB Yahoo CSV: no temporary left")
        if not os.path.isfile(out):
            return
        rows = 0
        with open(out, "rb") as f:
            for ln in f:
                if ln == b"\t<Row>\n":
                    rows += 1
        t.is_(rows, nrows, "20 MB Yahoo CSV: <Row> count equals the input's row count")
        check_xmllint("20 MB Yahoo CSV (--stream)", out, stream=True)

        # exact bytes, streamed (the file is too big to build in memory twice)
        with open(path, "rb") as f:
            header = f.readline().decode().rstrip("\n").split(",")
        names = element_names(header)
        diff = None
        with open(path, "r", newline="", encoding="utf-8") as fin, open(out, "rb") as fout:
            rdr = csv.reader(fin, strict=True)
            next(rdr)
            pos = 0
            for piece in xml_chunks(names, (r for r in rdr if r)):
                b = piece.encode("utf-8")
                got = fout.read(len(b))
                if got != b:
                    diff = "at byte %d: got %r, want %r" % (pos, got[:200], b[:200])
                    break
                pos += len(b)
            if diff is None:
                rest = fout.read(100)
                if rest:
                    diff = "extra bytes at %d: %r" % (pos, rest)
        t.ok(diff is None, "20 MB Yahoo CSV: output equals the expected XML byte for byte", diff)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- main ----------------------------------------------------------------------------------

def main():
    global RSS_SKIP
    check_binary()
    start_watchdog(600)
    if not os.path.isdir(CORPUS) or not os.path.isdir(BAD_DIR):
        print("Bail out! corpus not found: %s" % CORPUS, flush=True)
        sys.exit(1)
    RSS_SKIP = rss_skip_reason()
    t.ok(XMLLINT is not None,
         "xmllint is installed (Debian package %s)" % XMLLINT_PKG,
         "xmllint not found in PATH: apt-get install %s; the xmllint checks are skipped"
         % XMLLINT_PKG)

    good = sorted(f for f in os.listdir(CORPUS) if f.endswith(".csv"))
    bad = sorted(f for f in os.listdir(BAD_DIR) if f.endswith(".csv"))
    unknown = sorted(set(bad) - set(BAD))
    t.ok(not unknown, "every bad/*.csv has an expected line in the test", unknown)
    missing = sorted(set(BAD) - set(bad))
    t.ok(not missing, "every expected bad file exists in the corpus", missing)

    for f in good:
        t.group("good %s" % f, test_good, f)
    t.group("header-only exact", test_header_only_exact)
    t.group("operand forms", test_operand_forms)
    t.group("--out-dir", test_out_dir)
    for f in bad:
        if f in BAD:
            t.group("bad %s" % f, test_bad, f)
    t.group("deep error", test_bad_deep)
    t.group("usage errors", test_usage)
    t.group("I/O errors", test_io_errors)
    t.group("output targets", test_output_targets)
    t.group("csv2xml to a char device", test_output_char_device)
    t.group("bare CR", test_bare_cr)
    t.group("portable names", test_portable_names)
    t.group("disk full", test_disk_full)
    t.group("--stats", test_stats)
    t.group("--max-columns", test_max_columns)
    t.group("--max-field-size", test_max_field_size)
    t.group("20 MB file", test_large)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
