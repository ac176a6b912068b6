#!/usr/bin/env python3
"""The fault table: reads the rows the fault tests appended (tests/faults/lib.sh fl_row) and
prints them as one table; exits 1 when any anomaly count is not 0 (or a row says FAIL), 2 when
there is no row at all.

  report.py [--markdown] FILE...
Row (tab-separated): test, fault, count, produced, delivered, undeliverable, applied, lost,
duplicated, non_monotonic, inconsistent_offsets, blocked, crashes, peak_mem_mb, result. "-" = not
measured here. Rows written before the undeliverable column (14 fields) read as "-" there.
"""
import sys

COLS = ["test", "fault injected", "count", "produced", "delivered", "reported undeliverable",
        "applied", "lost",
        "duplicated", "non-monotonic", "inconsistent offsets", "blocked calls", "crashes/errors",
        "peak MB", "result"]
# lost, duplicated, non-monotonic, inconsistent offsets, blocked calls, crashes/errors
ANOMALY = [7, 8, 9, 10, 11, 12]


def bad(row):
    if row[14] != "ok":
        return True
    for i in ANOMALY:
        v = row[i]
        if v not in ("-", "0"):
            return True
    return False


def main():
    args = sys.argv[1:]
    md = False
    if args and args[0] == "--markdown":
        md, args = True, args[1:]
    rows = []
    for path in args:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    parts = line.rstrip("\n").split("\t")
                    if len(parts) == len(COLS) - 1:
                        parts.insert(5, "-")
                    if len(parts) == len(COLS):
                        rows.append(parts)
        except OSError:
            pass
    if not rows:
        print("fault report: no rows")
        return 2
    nbad = sum(1 for r in rows if bad(r))
    if md:
        print("| " + " | ".join(COLS) + " |")
        print("|" + "|".join("---" for _ in COLS) + "|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        w = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLS)]
        line = lambda r: "  ".join(v.ljust(w[i]) for i, v in enumerate(r)).rstrip()
        print(line(COLS))
        print(line(["-" * x for x in w]))
        for r in rows:
            print(line(r))
    tot = lambda i: sum(int(r[i]) for r in rows if r[i].isdigit())
    print(f"{len(rows)} fault tests, {tot(2)} faults injected, {tot(5)} reported undeliverable, "
          f"{tot(7)} lost, {tot(8)} duplicated, "
          f"{tot(9)} non-monotonic, {tot(10)} inconsistent offsets, {tot(11)} blocked calls, "
          f"{tot(12)} crashes/errors; "
          f"{nbad} failing row(s)")
    return 1 if nbad else 0


if __name__ == "__main__":
    sys.exit(main())
