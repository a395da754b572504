#!/usr/bin/env python3
"""E2E: the data directory after a crash. Start-up removes every
temporary file the server owns there: partial downloads in csv/ (hidden
or not), partial conversions (.NAME.tmp-XXXXXX) in xml/ and partial
archives (.PREFIX-N.tgz.tmp) in archives/, and says how many it removed."""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TAP, Server, check_binary, start_watchdog  # noqa: E402

t = TAP()


def test_startup_cleanup():
    dd = tempfile.mkdtemp(prefix="stockcam-e2e-diskfull-")
    try:
        for sub in ("csv", "xml", "archives"):
            os.makedirs(os.path.join(dd, sub))
        temps = [
            os.path.join(dd, "csv", ".1a2b-7-AAPL.csv.tmp-Ab12Cd"),
            os.path.join(dd, "xml", ".1a2b-7-AAPL.xml.tmp-Zz99Yy"),
            os.path.join(dd, "xml", ".1a2b-7-MSFT.xml.tmp-Qq11Ww"),
        ]
        for p in temps:
            with open(p, "wb") as f:
                f.write(b"x" * 4096)
        with Server("--data-dir", dd) as srv:
            line = srv.wait_for_log(
                lambda l: "temporary files left by an earlier run" in l,
                timeout=10.0)
            t.ok(line is not None, "start-up logs how many temps it removed",
                 diag="\n".join(srv.log_lines()[-10:]))
            t.ok(line is not None and "removed 3 " in line,
                 "the count covers csv/ and xml/ temps", diag=repr(line))
            left = [p for p in temps if os.path.exists(p)]
            t.ok(not left, "no temp file is left", diag=repr(left))
            srv.stop()
    finally:
        shutil.rmtree(dd, ignore_errors=True)


def main():
    check_binary()
    start_watchdog(300)
    t.group("start-up cleanup", test_startup_cleanup)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
