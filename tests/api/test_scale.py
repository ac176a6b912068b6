#!/usr/bin/python3
"""Integration test: /api/health and /api/runs stay index probes on a larger runs table.

Run by ctest through tests/lib/with_services.sh (fresh database in RUNTRACK_PG_DSN):
    test_scale.py PATH/TO/rt_api_serve
Loads 30,000 runs of 30 jobs over ~35 days (the shape of tests/api/perf_fixture.sql, no logs),
then checks that
  * /api/health's per-job and per-window figures equal a plain aggregate over all runs (the
    definition in docs/api.md), with and without the job/kind filters;
  * one /api/health and one /api/runs page read no runs row by a sequential scan and fetch far
    fewer rows than the table holds (PostgreSQL's per-table counters, read after the server's
    sessions ended so their statistics are flushed): their cost grows with jobs and recent runs,
    not with the whole history.
"""
import json
import math
import sys
import time
import urllib.request

from apitest import FAILURES, ServeProcess, check, psql

RUNS = 30000


class Server(ServeProcess):
    def json(self, path):
        with urllib.request.urlopen(self.base + path, timeout=60) as r:
            check(r.status == 200, "%s: status %s" % (path, r.status))
            return json.loads(r.read())


FIXTURE = """
INSERT INTO runs (run_id, job, kind, status, has_started, started_at, finished_at,
                  last_event_at, last_seq, first_received_at, received_at)
SELECT gen_random_uuid(), 'job' || (i %% 30) || '.py',
       CASE WHEN i %% 10 = 0 THEN 'discovery' ELSE 'scrape' END, s.status, true,
       t.st,
       CASE WHEN s.status = 'running' THEN NULL
            ELSE t.st + (60 + i %% 600) * interval '1 second' END,
       t.st + (60 + i %% 600) * interval '1 second', 10,
       -- received as a consumer would have: when the events were sent
       t.st, t.st + (60 + i %% 600) * interval '1 second'
FROM generate_series(1, %d) AS i
-- irregular gaps between a job's starts, so the median interval is not trivial
CROSS JOIN LATERAL (SELECT now() - i * interval '100 seconds'
                           - (i * i %% 97) * interval '1.000123 second' AS st) t
CROSS JOIN LATERAL (SELECT CASE WHEN i %% 1000 = 0 OR i IN (3, 7) THEN 'running'
                                WHEN i %% 13 = 0 THEN 'failed'
                                WHEN i %% 17 = 0 THEN 'partial' ELSE 'completed' END AS status) s;
-- job29.py never succeeded; job28.py's newest success is a partial run.
UPDATE runs SET status = 'failed' WHERE job = 'job29.py' AND status <> 'running';
UPDATE runs SET status = 'completed' WHERE job = 'job28.py' AND status = 'partial';
UPDATE runs SET status = 'partial'
 WHERE run_id = (SELECT run_id FROM runs WHERE job = 'job28.py' AND status = 'completed'
                 ORDER BY finished_at DESC LIMIT 1);
VACUUM ANALYZE runs;
""" % RUNS

TS = "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

# The definition, as one aggregate over every run (what /api/health computed before 0101).
REFERENCE = """
SELECT json_agg(json_build_object('job', job, 'last_run_at', %s, 'last_success_at', %s,
                                  'runs_24h', runs_24h, 'failures_24h', failures_24h,
                                  'median', (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x.gap)
                                    FROM (SELECT extract(epoch FROM s.started_at
                                                 - lag(s.started_at) OVER (ORDER BY s.started_at))::float8 AS gap
                                          FROM (SELECT started_at FROM runs WHERE runs.job = j.job
                                                ORDER BY started_at DESC LIMIT 21) s) x
                                    WHERE x.gap IS NOT NULL))
                ORDER BY job COLLATE "C")
FROM (SELECT job, max(started_at) AS lr,
             max(finished_at) FILTER (WHERE status IN ('completed', 'partial')) AS ls,
             count(*) FILTER (WHERE started_at >= now() - interval '24 hours') AS runs_24h,
             count(*) FILTER (WHERE status = 'failed'
                              AND started_at >= now() - interval '24 hours') AS failures_24h
      FROM runs WHERE %%s GROUP BY job) j
""" % (TS % "lr", TS % "ls")

def windows_reference(where, windows):
    # {"job|window": [total, completed, partial, failed, running + stale]}
    raw = psql("""
        SELECT coalesce(json_object_agg(job || '|' || w, json_build_array(n, c, p, f, r)), '{}')
        FROM (SELECT r.job, w, count(*) AS n, count(*) FILTER (WHERE status = 'completed') AS c,
                     count(*) FILTER (WHERE status = 'partial') AS p,
                     count(*) FILTER (WHERE status = 'failed') AS f,
                     count(*) FILTER (WHERE status = 'running') AS r
              FROM unnest(ARRAY[%s]) w
              JOIN runs r ON r.started_at >= now() - make_interval(hours => w)
              WHERE %s GROUP BY r.job, w) x""" % (",".join(map(str, windows)), where))
    return json.loads(raw)


def compare(srv, query, where, windows=(12, 24, 48, 72)):
    got = srv.json("/api/health" + query)
    want = json.loads(psql(REFERENCE % where) or "[]") or []
    jobs = [{k: j[k] for k in ("job", "last_run_at", "last_success_at", "runs_24h",
                               "failures_24h")} for j in got["jobs"]]
    for j, w in zip(got["jobs"], want):
        # the median gap of the last 21 starts, rounded to ms as the API does (C round())
        m = w.pop("median")
        want_iv = None if m is None else math.floor(m * 1000 + 0.5) / 1000
        check(j["expected_interval_seconds"] == want_iv,
              "health%s: %s interval %r, expected %r" % (query, j["job"],
                                                         j["expected_interval_seconds"], want_iv))
    check(jobs == want, "health%s: per-job figures differ from the aggregate:\n got %r\nwant %r"
          % (query, jobs[:3], want[:3]))
    wref = windows_reference(where, windows)
    for j in got["jobs"]:
        check([w["window_hours"] for w in j["windows"]] == list(windows),
              "health%s: %s windows" % (query, j["job"]))
        for w in j["windows"]:
            n = wref.get("%s|%d" % (j["job"], w["window_hours"]), [0, 0, 0, 0, 0])
            have = [w["total"], w["completed"], w["partial"], w["failed"],
                    w["running"] + w["stale"]]
            check(have == n, "health%s: %s %d h counts %r, expected %r"
                  % (query, j["job"], w["window_hours"], have, n))
    return got


def table_reads():
    # Per-table counters of runs (flushed by the sessions that have ended).
    row = psql("SELECT coalesce(seq_scan, 0), coalesce(seq_tup_read, 0),"
               " coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables WHERE relname = 'runs'")
    return [int(x) for x in row.split("|")]


def reads_of(path):
    """Rows of runs one request to PATH read: (sequential scans, rows read by them, rows fetched
    by index scans). A fresh server, stopped before reading, so its sessions flushed their
    statistics when they ended."""
    srv = Server("--pool", "1")
    try:
        srv.json(path)  # warm up: the first request may read the catalogs' statistics
        srv.stop()
        wait_sessions_gone()
        before = table_reads()
        srv = Server("--pool", "1")
        srv.json(path)
    finally:
        srv.stop()
    wait_sessions_gone()
    after = table_reads()
    return [a - b for a, b in zip(after, before)]


def wait_sessions_gone():
    deadline = time.time() + 10
    while time.time() < deadline:
        n = psql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                 " AND pid <> pg_backend_pid()")
        if n == "0":
            return
        time.sleep(0.05)


def main():
    boot = Server("--migrate")
    boot.stop()
    psql(FIXTURE)
    srv = Server()
    try:
        b = compare(srv, "", "true")
        check(len(b["jobs"]) == 30, "30 jobs, got %d" % len(b["jobs"]))
        j29 = [j for j in b["jobs"] if j["job"] == "job29.py"][0]
        check(j29["last_success_at"] is None and j29["seconds_since_last_success"] is None,
              "job29.py never succeeded")
        check(any(a["code"] == "no_success" and a["job"] == "job29.py" for a in b["alerts"]),
              "no_success alert for job29.py")
        check(sum(w["stale"] for w in b["windows"]) > 0, "stale runs counted")
        compare(srv, "?job=job28.py", "job = 'job28.py'")
        compare(srv, "?job=nope.py", "job = 'nope.py'")
        b = compare(srv, "?kind=discovery", "kind = 'discovery'")
        check(len(b["jobs"]) == 3, "kind=discovery: 3 jobs, got %d" % len(b["jobs"]))
        compare(srv, "?kind=scrape&windows=1,500", "kind = 'scrape'", (1, 500))
    finally:
        srv.stop()
    for path, fetch_max in (("/api/health", RUNS // 5), ("/api/runs", 200),
                            ("/api/runs?status=stale", 200)):
        seq, seq_rows, fetched = reads_of(path)
        print("%s: %d sequential scans (%d rows), %d rows fetched by index"
              % (path, seq, seq_rows, fetched))
        check(seq == 0, "%s: %d sequential scans of runs (%d rows)" % (path, seq, seq_rows))
        check(fetched <= fetch_max, "%s: %d rows of runs fetched, expected at most %d"
              % (path, fetched, fetch_max))
    print("%d failures" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
