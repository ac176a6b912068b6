#!/usr/bin/env python3
"""Jepsen-style anomaly counts for a consumer fault test: compares the tables of the database
under test with a ground truth (a clean replay of the same topic into an empty database).

  anomalies.py TEST_DSN TRUTH_DSN GROUP TOTAL_RECORDS [CONSUMER_LOG...]

Prints one JSON object:
  lost           rows of the truth missing under test (runs, run_logs, run_results,
                 discovery_runs by key) + dead letters the truth does not have (a valid event
                 dead-lettered is an event lost)
  duplicated     rows under test that the truth does not have (by key), plus records committed
                 more than once: sum of the consumers' "batch committed records=N" lines beyond
                 TOTAL_RECORDS
  non_monotonic  rows present in both whose content differs (a state that went backwards or
                 stopped short: older phase/counters/status than the last event says)
  inconsistent_offsets  |sum of this group's stored next_offset - TOTAL_RECORDS|
  applied        records committed according to the consumers' logs
"""
import json
import re
import subprocess
import sys

TABLES = {
    # table: (key expression, row expression)
    # received_at / first_received_at: when the consumer stored the run (differs from a replay)
    "runs": ("run_id::text", "(to_jsonb(t) - 'received_at' - 'first_received_at')::text"),
    "run_logs": ("run_id::text || '/' || seq", "t::text"),
    "run_results": ("run_id::text",
                    "(run_id, file_name, start_time_df, events_count_start, urls_count_start, "
                    "events_count_end, urls_count_end, new_events_in_db, new_urls_in_db, "
                    "time_stamp, elapsed_time)::text"),
    "discovery_runs": ("id::text", "t::text"),
    "dead_letters": ("partition || '/' || \"offset\"",
                     "(topic, partition, \"offset\", msg_key, payload, reason, detail)::text"),
}


def psql(dsn, sql):
    out = subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-F", "\t", "-d", dsn,
                          "-c", sql], check=True, capture_output=True, text=True,
                         env={"PGTZ": "UTC", "PATH": "/usr/bin:/bin"}).stdout
    return out


def keyed(dsn, table):
    key, row = TABLES[table]
    rows = {}
    dups = 0
    out = psql(dsn, f"SELECT {key}, md5({row}) FROM {table} t")
    for line in out.splitlines():
        k, h = line.split("\t")
        if k in rows:
            dups += 1
        rows[k] = h
    return rows, dups


def main():
    test_dsn, truth_dsn, group, total = sys.argv[1:5]
    total = int(total)
    res = {"lost": 0, "duplicated": 0, "non_monotonic": 0, "inconsistent_offsets": 0,
           "detail": {}}
    for table in TABLES:
        got, gdup = keyed(test_dsn, table)
        want, _ = keyed(truth_dsn, table)
        missing = sum(1 for k in want if k not in got)
        extra = sum(1 for k in got if k not in want)
        differ = sum(1 for k in want if k in got and got[k] != want[k])
        res["detail"][table] = {"rows": len(got), "truth": len(want), "missing": missing,
                                "extra": extra, "differ": differ}
        if table == "dead_letters":
            res["lost"] += extra  # valid records turned into dead letters
            res["duplicated"] += gdup
            res["non_monotonic"] += differ
            res["lost"] += missing
        else:
            res["lost"] += missing
            res["duplicated"] += extra + gdup
            res["non_monotonic"] += differ
    stored = int(psql(test_dsn, "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets "
                                f"WHERE group_id = '{group}'").strip() or 0)
    res["stored_offsets"] = stored
    res["inconsistent_offsets"] = abs(stored - total)
    applied = 0
    pat = re.compile(r'msg="?batch committed"? records=(\d+)')
    for path in sys.argv[5:]:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    m = pat.search(line)
                    if m:
                        applied += int(m.group(1))
        except OSError:
            pass
    if sys.argv[5:]:
        res["applied"] = applied
        res["duplicated"] += max(0, applied - total)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
