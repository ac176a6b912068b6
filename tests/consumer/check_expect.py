#!/usr/bin/env python3
"""check_expect.py SCENARIO.json: compares the rows the consumer wrote (psql, $RUNTRACK_PG_DSN)
with the scenario's "expect" block, column by column. Times are compared as instants (the
expectation writes timestamptz as ...Z and TIMESTAMP as 'YYYY-MM-DD HH:MM:SS[.f]'); text columns
such as start_time_df and elapsed_time are compared exactly."""
import datetime
import decimal
import json
import os
import re
import subprocess
import sys

TS = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
EXACT_TEXT = {"start_time_df", "elapsed_time"}
KEYS = {"runs": "run_id", "run_results": "run_id", "discovery_runs": "id"}


def query(sql):
    out = subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", os.environ["RUNTRACK_PG_DSN"],
                          "-c", sql], check=True, capture_output=True, text=True).stdout
    return out.strip()


def instant(s):
    s = s.replace(" ", "T").replace("Z", "+00:00")
    d = datetime.datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d


def same(col, want, got):
    if want is None or got is None:
        return want is None and got is None
    if isinstance(want, str) and col not in EXACT_TEXT and TS.match(want) and isinstance(got, str):
        return instant(want) == instant(got)
    if isinstance(want, str) and isinstance(got, (int, float)):
        return decimal.Decimal(want) == decimal.Decimal(str(got))
    if isinstance(want, (int, float)) and isinstance(got, (int, float)) and not isinstance(want, bool):
        return abs(want - got) < 1e-6
    return want == got


def main():
    spec = json.load(open(sys.argv[1]))
    fails = 0
    for table, want in spec["expect"].items():
        if table == "run_logs":
            run = spec["events"][0]["run_id"]
            got = int(query("SELECT count(*) FROM run_logs WHERE run_id = '%s'" % run))
            if got != want:
                print("FAIL %s: run_logs count %d, expected %d" % (sys.argv[1], got, want))
                fails += 1
            continue
        key = KEYS[table]
        rows = query("SELECT row_to_json(t) FROM %s t WHERE %s = '%s'" % (table, key, want[key]))
        if not rows:
            print("FAIL %s: no %s row for %s" % (sys.argv[1], table, want[key]))
            fails += 1
            continue
        got = json.loads(rows.splitlines()[0])
        for col, v in want.items():
            if col not in got:
                print("FAIL %s: %s has no column %s" % (sys.argv[1], table, col))
                fails += 1
            elif not same(col, v, got[col]):
                print("FAIL %s: %s.%s = %r, expected %r" % (sys.argv[1], table, col, got[col], v))
                fails += 1
    print("%s: %s" % (os.path.basename(sys.argv[1]), "ok" if not fails else "%d mismatches" % fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
