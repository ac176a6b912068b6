#!/usr/bin/python3
"""Latency of the API endpoints over a large data set (not part of ctest; figures only).

    createdb perf && rt_api_serve --migrate (once) && psql -d perf -f tests/api/perf_fixture.sql
    RUNTRACK_PG_DSN=.../perf tests/api/perf.py PATH/TO/rt_api_serve

Prints the median and max of 7 calls per endpoint (after one warm-up call), measured by the
client over loopback HTTP, and EXPLAIN ANALYZE times of the list and health queries' key scans.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request

SERVE = sys.argv[1]
DSN = os.environ["RUNTRACK_PG_DSN"]


def psql(sql):
    return subprocess.run(["psql", "-XAtq", "-d", DSN, "-c", sql], capture_output=True,
                          text=True, check=True).stdout.strip()


def main():
    srv = subprocess.Popen([SERVE, "--maintenance-interval", "0"], stdout=subprocess.PIPE,
                           text=True)
    base = "http://" + re.match(r"listening (\S+)", srv.stdout.readline()).group(1)
    try:
        def get(path):
            t = time.perf_counter()
            with urllib.request.urlopen(base + path, timeout=60) as r:
                body = r.read()
                status = r.status
            return time.perf_counter() - t, status, body

        runs = psql("SELECT count(*) FROM runs")
        logs = psql("SELECT count(*) FROM run_logs")
        rid = psql("SELECT run_id FROM runs WHERE status = 'running' ORDER BY started_at DESC"
                   " LIMIT 1")
        # A cursor deep into the list: page 100 of 50.
        deep = None
        cur = ""
        for _ in range(100):
            _, _, body = get("/api/runs?limit=50" + ("&cursor=" + cur if cur else ""))
            cur = json.loads(body)["next_cursor"]
        deep = cur
        paths = [
            "/api/runs",
            "/api/runs?limit=500",
            "/api/runs?cursor=" + deep,
            "/api/runs?status=failed",
            "/api/runs?status=running",
            "/api/runs?status=stale",
            "/api/runs?job=job7.py",
            "/api/runs?kind=discovery&phase=matching",
            "/api/runs?since=2026-10-01T00:00:00Z&until=2026-10-02T00:00:00Z",
            "/api/runs/" + rid,
            "/api/runs/%s/logs?after_seq=50" % rid,
            "/api/jobs",
            "/api/jobs/job7.py/rollup",
            "/api/jobs/job7.py/rollup?period=week",
            "/api/jobs/job7.py/last-success",
            "/api/health",
            "/api/health?job=job7.py",
            "/metrics",
        ]
        print("data: %s runs, %s log lines" % (runs, logs))
        print("%-60s %10s %10s" % ("endpoint", "median ms", "max ms"))
        for p in paths:
            get(p)
            times = []
            for _ in range(7):
                dt, status, _ = get(p)
                assert status == 200, (p, status)
                times.append(dt * 1000)
            shown = p if len(p) < 60 else p[:57] + "..."
            print("%-60s %10.1f %10.1f" % (shown, statistics.median(times), max(times)))
    finally:
        srv.terminate()
        srv.wait(30)


if __name__ == "__main__":
    main()
