#!/usr/bin/env python3
"""gen_prices.py -- a deterministic Yahoo-layout daily price CSV.

Usage: gen_prices.py SIZE [OUT|-] [SEED]

Writes `Date,Open,High,Low,Close,Adj Close,Volume` and then one row per
weekday, dates ascending, until at least SIZE bytes are written (the last
row is always complete, so the file is SIZE plus less than one row).  SIZE
may end in K, M or G (powers of 1024) or be plain bytes.  OUT defaults to
stdout.  The same SIZE and SEED (default 1) always give the same bytes.

Prices follow a random walk and are printed with 6 decimals like Yahoo's
(`74.059998`), Adj Close is Close times a slowly growing dividend factor,
Volume is an integer.  Rows are LF-terminated, nothing is quoted.  A 50 MB
file is about 750,000 rows, i.e. some 2,900 years of trading days: the
dates start early enough (1900 or before) to stay at or below 9999-12-31.

Also importable: generate(out, size, seed) writes to a binary file object
and returns (data_rows, bytes_written).  Python 3 stdlib only.
"""

import datetime
import random
import sys

HEADER = b"Date,Open,High,Low,Close,Adj Close,Volume\n"

# Shortest possible row: "YYYY-MM-DD," + 6 x "0.500000," ... is > 60 bytes;
# used only to pick a start date that leaves room for every row.
_MIN_ROW = 60
_DAYS_PER_YEAR = 366  # weekday rows per year are ~261; be generous


def _start_date(size):
    years = size // (_MIN_ROW * 261) + 2
    year = min(1900, 9999 - years)
    if year < 1:
        raise ValueError("size %d too large: dates would pass 9999" % size)
    d = datetime.date(year, 1, 2)
    while d.weekday() >= 5:
        d += datetime.timedelta(days=1)
    return d


def generate(out, size, seed=1):
    """Write the CSV to the binary file object `out`; return (rows, bytes)."""
    rng = random.Random(seed)
    gauss = rng.gauss
    d = _start_date(size)
    ordinal = d.toordinal()
    weekday = d.weekday()
    close = 20.0 + rng.random() * 80.0
    adj = 0.35
    written = len(HEADER)
    out.write(HEADER)
    rows = 0
    batch = []
    while written < size:
        o = close * (1.0 + gauss(0.0, 0.004))
        c = o * (1.0 + gauss(0.0003, 0.018))
        if c < 0.5:            # reflect at the floor and the ceiling
            c = 1.0 - c
        elif c > 5000.0:
            c = 10000.0 - c
        hi = max(o, c) * (1.0 + abs(gauss(0.0, 0.006)))
        lo = min(o, c) * (1.0 - abs(gauss(0.0, 0.006)))
        adj = min(1.0, adj * 1.00005)
        vol = int(rng.lognormvariate(15.5, 0.6))
        line = "%s,%.6f,%.6f,%.6f,%.6f,%.6f,%d\n" % (
            datetime.date.fromordinal(ordinal).isoformat(),
            o, hi, lo, c, c * adj, vol)
        close = c
        batch.append(line)
        written += len(line)
        rows += 1
        # next weekday
        step = 3 if weekday == 4 else 1
        ordinal += step
        weekday = (weekday + step) % 7
        if len(batch) >= 2048:
            out.write("".join(batch).encode("ascii"))
            batch = []
    if batch:
        out.write("".join(batch).encode("ascii"))
    return rows, written


def parse_size(s):
    s = s.strip()
    mult = 1
    if s and s[-1] in "kKmMgG":
        mult = 1024 ** ("kmg".index(s[-1].lower()) + 1)
        s = s[:-1]
    n = int(s) * mult
    if n <= 0:
        raise ValueError("size must be positive")
    return n


def main(argv):
    if not 2 <= len(argv) <= 4:
        sys.stderr.write("usage: gen_prices.py SIZE [OUT|-] [SEED]\n")
        return 2
    try:
        size = parse_size(argv[1])
        seed = int(argv[3]) if len(argv) > 3 else 1
    except ValueError as e:
        sys.stderr.write("gen_prices.py: %s\n" % e)
        return 2
    out_name = argv[2] if len(argv) > 2 else "-"
    if out_name == "-":
        rows, n = generate(sys.stdout.buffer, size, seed)
        sys.stdout.buffer.flush()
    else:
        with open(out_name, "wb") as f:
            rows, n = generate(f, size, seed)
    sys.stderr.write("gen_prices.py: %d rows, %d bytes\n" % (rows, n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
