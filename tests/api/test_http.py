#!/usr/bin/python3
"""Integration test of the HTTP API over real HTTP against a real PostgreSQL.

Run by ctest through tests/lib/with_services.sh (fresh database in RUNTRACK_PG_DSN):
    test_http.py PATH/TO/rt_api_serve
Seeds runs into the tables with SQL fixtures, starts rt_api_serve (which applies the migrations)
and checks every endpoint, filter, pagination, health thresholds at their boundaries, stale
detection and closing, retention, /metrics (parsed by prometheus_client) and the error answers.
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from prometheus_client.parser import text_string_to_metric_families

from apitest import CHECKS, DSN, FAILURES, SERVE, check, psql


class Server:
    def __init__(self, *args, dsn=DSN, stderr=None):
        env = dict(os.environ, RUNTRACK_PG_DSN=dsn)
        self.proc = subprocess.Popen([SERVE, *args], stdout=subprocess.PIPE, env=env, text=True,
                                     stderr=stderr)
        line = self.proc.stdout.readline()
        m = re.match(r"listening ([0-9.]+):(\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError("rt_api_serve did not start: %r" % line)
        self.base = "http://%s:%s" % (m.group(1), m.group(2))
        self.host, self.port = m.group(1), int(m.group(2))

    def get(self, path, method="GET", data=None, headers=None):
        req = urllib.request.Request(self.base + path, method=method, data=data,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def json(self, path, expect=200):
        status, headers, body = self.get(path)
        check(status == expect, "%s: status %s, expected %s: %s" % (path, status, expect, body[:300]))
        check(headers.get("Content-Type", "").startswith("application/json"),
              "%s: content type %s" % (path, headers.get("Content-Type")))
        return json.loads(body)

    def stop(self):
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = -1
        check(rc == 0, "rt_api_serve exited with %s" % rc)


def q(s):
    return "NULL" if s is None else "'" + str(s).replace("'", "''") + "'"


def run_row(run_id, job, kind="scrape", status="completed", started="now() - interval '1 hour'",
            finished=None, last_event=None, counters="{}", phase=None, paused=False,
            paused_at="NULL", resumed_at="NULL", start_counts="NULL", end_counts="NULL",
            params="NULL", error=None):
    if finished is None:
        finished = "NULL" if status == "running" else "(%s) + interval '10 minutes'" % started
    if last_event is None:
        last_event = finished if status != "running" else "now()"
    # As a consumer that received every event when it was sent: received_at (staleness,
    # retention) at the last event, first_received_at at the start.
    return ("INSERT INTO runs (run_id, job, kind, status, phase, has_started, started_at,"
            " finished_at, last_event_at, last_seq, counters, paused, paused_at, resumed_at,"
            " start_counts, end_counts, params, error_message, producer_host, producer_pid,"
            " producer_lib, received_at, first_received_at) VALUES (%s, %s, %s, %s, %s, true,"
            " %s, %s, %s, 10, %s, %s, %s, %s, %s, %s, %s, %s, 'h1', 42, '0.1.0', %s, %s);\n"
            % (q(run_id), q(job), q(kind), q(status), q(phase), started, finished, last_event,
               q(counters), "true" if paused else "false", paused_at, resumed_at,
               start_counts if start_counts == "NULL" else q(start_counts),
               end_counts if end_counts == "NULL" else q(end_counts),
               params if params == "NULL" else q(params), q(error), last_event, started))


def new_id():
    return str(uuid.uuid4())


# ------------------------------------------------------------------ fixtures

FIX = {}
# The paginated runs start on one UTC day 20 days ago (inside the 90-day retention).
PAGE_DAY = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 20 * 86400))
NEXT_DAY = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 19 * 86400))


def seed():
    sql = []
    # Pagination: 137 runs, groups of 3 sharing one started_at so the run_id tie-break matters.
    page = []
    for i in range(137):
        rid = new_id()
        started = "timestamptz '%sT00:00:00Z' + interval '%d minutes'" % (PAGE_DAY, i // 3)
        status = ["completed", "failed", "partial"][i % 3]
        phase = ["scraping", "matching"][i % 2]
        sql.append(run_row(rid, "page.py", kind="pager", status=status, started=started,
                           phase=phase))
        page.append((i // 3, rid, status, phase))
    FIX["page"] = page

    # Detail: a running run with sites progress, paused and resumed, and 60 log lines.
    det = new_id()
    FIX["detail"] = det
    sql.append(run_row(det, "detail.py", status="running", started="now() - interval '120 seconds'",
                       counters=json.dumps({"sites_total": 15, "sites_completed": 5,
                                            "batches_total": 2, "batch_current": 1}),
                       phase="scraping", paused=False,
                       paused_at="now() - interval '60 seconds'",
                       resumed_at="now() - interval '30 seconds'",
                       start_counts='{"events": 1000, "urls": 500}',
                       params='{"naics_codes": ["541511"]}'))
    for s in range(1, 61):
        level = ["info", "success", "warning", "error"][s % 4]
        phase = "scraping" if s <= 30 else "matching"
        sql.append("INSERT INTO run_logs VALUES (%s, %d, now() - interval '%d seconds', %s, %s,"
                   " %s, %s, %s);\n" % (q(det), s, 100 - s, q(level), q(phase),
                                       q("line %d \"quoted\" é" % s),
                                       q(json.dumps({"n": s})), q(new_id())))

    # Jobs / run_results: two finished runs of jobs.py plus one legacy row.
    for n, (ev0, ev1, el) in enumerate([(1000, 1050, "0 days 00:30:00.000000"),
                                        (1050, 1060, "0 days 00:10:00.000000")]):
        rid = new_id()
        sql.append(run_row(rid, "jobs.py", status="completed",
                           started="now() - interval '%d hours'" % (n + 2),
                           start_counts='{"events": %d, "urls": 10}' % ev0,
                           end_counts='{"events": %d, "urls": 12}' % ev1))
        sql.append("INSERT INTO run_results (run_id, file_name, start_time_df, events_count_start,"
                   " urls_count_start, events_count_end, urls_count_end, new_events_in_db,"
                   " new_urls_in_db, time_stamp, elapsed_time) VALUES (%s, 'jobs.py', 'x', %d, 10,"
                   " %d, 12, %d, 2, now() AT TIME ZONE 'UTC', %s);\n"
                   % (q(rid), ev0, ev1, ev1 - ev0, q(el)))

    # Rollup: four finished runs two days ago (10, 20, 30, 40 s) and one today.
    base = "date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '2 days'"
    for i, d in enumerate([10, 20, 30, 40]):
        st = "%s + interval '%d hours'" % (base, i + 1)
        sql.append(run_row(new_id(), "roll.py", status="completed" if i < 3 else "failed",
                           started=st, finished="(%s) + interval '%d seconds'" % (st, d),
                           start_counts='{"events": 10, "urls": 1}',
                           end_counts='{"events": 15, "urls": 3}'))

    # Last success: two completed runs (the newer one wins) and a later failure.
    old_ok, new_ok = new_id(), new_id()
    FIX["last_ok"] = new_ok
    sql.append(run_row(old_ok, "inc.py", status="completed", started="now() - interval '5 hours'"))
    sql.append(run_row(new_ok, "inc.py", status="completed", started="now() - interval '3 hours'"))
    sql.append(run_row(new_id(), "inc.py", status="failed", started="now() - interval '1 hour'"))
    sql.append(run_row(new_id(), "never.py", status="failed", started="now() - interval '1 hour'"))

    # Health at the success-rate boundaries: 20 runs each, 30 min apart, newest completed 5 min
    # ago (freshness 100 %), so only the success rate decides.
    for job, ok in [("h85.py", 17), ("h80.py", 16), ("h70.py", 14), ("h65.py", 13)]:
        for i in range(20):
            st = "now() - interval '%d minutes'" % (15 + 30 * i)
            status = "completed" if i < ok else "failed"
            sql.append(run_row(new_id(), job, kind="health", status=status, started=st,
                               finished="(%s) + interval '10 minutes'" % st))
    # Freshness boundaries with a configured 1000 s interval: one completed run each.
    for job, age in [("f71.py", 1400), ("f69.py", 1450), ("f51.py", 1960), ("f48.py", 2100)]:
        st = "now() - interval '%d seconds'" % (age + 10)
        sql.append(run_row(new_id(), job, kind="fresh", status="completed", started=st,
                           finished="now() - interval '%d seconds'" % age))
    # Alerts: six failures in 24 h and never a success.
    for i in range(6):
        sql.append(run_row(new_id(), "failing.py", kind="alerting", status="failed",
                           started="now() - interval '%d hours'" % (i + 1)))

    # Stale: one running run quiet for 120 s (stale, not closed), one quiet for 1000 s (closed by
    # maintenance), one fresh.
    stale, dead, live = new_id(), new_id(), new_id()
    FIX.update(stale=stale, dead=dead, live=live)
    sql.append(run_row(stale, "stale.py", kind="staleness", status="running",
                       started="now() - interval '10 minutes'",
                       last_event="now() - interval '120 seconds'"))
    sql.append(run_row(live, "stale.py", kind="staleness", status="running",
                       started="now() - interval '5 minutes'", last_event="now()"))
    sql.append(run_row(dead, "dead.py", kind="discovery", status="running",
                       started="now() - interval '2 hours'",
                       last_event="now() - interval '1000 seconds'",
                       counters='{"api_calls": 7, "found": 3}',
                       start_counts='{"events": 5, "urls": 6}',
                       params='{"naics_codes": ["541511", "541512"]}'))
    sql.append("INSERT INTO discovery_runs (id, started_at, status, created_at) VALUES"
               " (%s, (now() - interval '2 hours') AT TIME ZONE 'UTC', 'running',"
               " (now() - interval '2 hours') AT TIME ZONE 'UTC');\n" % q(dead))
    psql("BEGIN;\n" + "".join(sql) + "COMMIT;\n")
    seed_legacy()


# Seed 000's RunResultsTracker.write_results: its columns, no run id (the old tracker has none);
# time_stamp is when the row was written (inside the server's 90-day retention).
SEED_INSERT = ("INSERT INTO run_results (file_name, start_time_df, events_count_start,"
               " urls_count_start, events_count_end, urls_count_end, new_events_in_db,"
               " new_urls_in_db, time_stamp, elapsed_time) VALUES (%s, %s, %d, %d, %d, %d, %d, %d,"
               " %s, %s);\n")


def seed_legacy():
    """tracker.py: one run the consumer wrote (10 minutes, its run_results row) and two rows an
    old tracker inserted as seed 000 does (30 minutes; an elapsed_time that is no duration);
    legacy.py: only an old tracker's row."""
    rid = new_id()
    psql(run_row(rid, "tracker.py", started="now() - interval '3 hours'") +
         "INSERT INTO run_results (run_id, file_name, start_time_df, events_count_start,"
         " urls_count_start, events_count_end, urls_count_end, new_events_in_db, new_urls_in_db,"
         " time_stamp, elapsed_time) VALUES (%s, 'tracker.py', 'x', 0, 0, 5, 1, 5, 1,"
         " now() AT TIME ZONE 'UTC', '0 days 00:10:00.000000');\n" % q(rid))
    psql(SEED_INSERT % ("'tracker.py'", "'2025-10-24T14:30:00.123456'", 1000, 500, 1050, 525, 50,
                        25, "(now() - interval '2 days') AT TIME ZONE 'UTC'", "'0:30:00'"))
    psql(SEED_INSERT % ("'tracker.py'", "'2025-10-25T14:30:00.000000'", 1050, 525, 1060, 530, 10,
                        5, "(now() - interval '1 day') AT TIME ZONE 'UTC'", "'n/a'"))
    psql(SEED_INSERT % ("'legacy.py'", "'2025-10-24T14:30:00.123456'", 7, 3, 9, 4, 2, 1,
                        "LOCALTIMESTAMP", "'0 days 00:01:00.000000'"))


def seed_retention():
    """Rows past the 90-day retention, and their young or running neighbours that must stay."""
    sql = []
    old, young, running_old = new_id(), new_id(), new_id()
    FIX.update(ret_old=old, ret_young=young, ret_running=running_old)
    sql.append(run_row(old, "ret.py", status="completed", started="now() - interval '100 days'"))
    sql.append(run_row(young, "ret.py", status="completed", started="now() - interval '10 days'"))
    sql.append(run_row(running_old, "ret.py", status="running",
                       started="now() - interval '100 days'", last_event="now()"))
    for rid in (old, young, running_old):
        age = "10 days" if rid == young else "100 days"
        for s in range(1, 21):
            sql.append("INSERT INTO run_logs VALUES (%s, %d, now() - interval '%s', 'info', NULL,"
                       " 'x', NULL, %s);\n" % (q(rid), s, age, q(new_id())))
    for age in ("100 days", "10 days"):
        sql.append("INSERT INTO run_results (run_id, file_name, time_stamp) VALUES (%s, 'ret.py',"
                   " (now() - interval '%s') AT TIME ZONE 'UTC');\n" % (q(new_id()), age))
        sql.append("INSERT INTO discovery_runs (id, status, created_at) VALUES (%s, 'completed',"
                   " (now() - interval '%s') AT TIME ZONE 'UTC');\n" % (q(new_id()), age))
        for k in range(10):
            sql.append("INSERT INTO dead_letters (topic, partition, \"offset\", payload_size,"
                       " reason, received_at) VALUES ('t', 0, %d, 1, 'schema',"
                       " now() - interval '%s');\n" % (k + (0 if age == "10 days" else 100), age))
    sql.append("INSERT INTO discovery_runs (id, status, created_at) VALUES (%s, 'running',"
               " (now() - interval '100 days') AT TIME ZONE 'UTC');\n" % q(new_id()))
    psql("BEGIN;\n" + "".join(sql) + "COMMIT;\n")


# ------------------------------------------------------------------ tests

def test_runs_pagination(srv):
    expected = sorted(FIX["page"], key=lambda r: (r[0], r[1]), reverse=True)
    seen, cursor, pages = [], None, 0
    while True:
        path = "/api/runs?job=page.py&limit=10" + ("&cursor=" + cursor if cursor else "")
        body = srv.json(path)
        seen += [r["run_id"] for r in body["runs"]]
        pages += 1
        cursor = body["next_cursor"]
        check(len(body["runs"]) == 10 or cursor is None, "short page with a cursor")
        if not cursor or pages > 20:
            break
    check(pages == 14, "137 runs in pages of 10: %d pages" % pages)
    check(seen == [r[1] for r in expected], "pagination order without gaps or repeats")
    # A filtered walk: status=failed across pages.
    failed = [r[1] for r in expected if r[2] == "failed"]
    seen, cursor = [], None
    for _ in range(20):
        body = srv.json("/api/runs?job=page.py&status=failed&limit=7" +
                        ("&cursor=" + cursor if cursor else ""))
        seen += [r["run_id"] for r in body["runs"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    check(seen == failed, "filtered pagination")
    # Exactly limit rows left: no cursor to an empty page.
    body = srv.json("/api/runs?job=page.py&limit=137")
    check(len(body["runs"]) == 137 and body["next_cursor"] is None, "no cursor after last page")
    body = srv.json("/api/runs")
    check(len(body["runs"]) == 50 and body["next_cursor"], "default limit 50")
    check(len(srv.json("/api/runs?limit=500")["runs"]) <= 500, "max limit 500")


def test_runs_filters(srv):
    def ids(path):
        return {r["run_id"] for r in srv.json(path)["runs"]}
    page = FIX["page"]
    check(ids("/api/runs?job=page.py&phase=matching&limit=500") ==
          {r[1] for r in page if r[3] == "matching"}, "phase filter")
    check(ids("/api/runs?kind=pager&status=partial&limit=500") ==
          {r[1] for r in page if r[2] == "partial"}, "kind + status filter")
    # since/until on started_at: minutes 10..19 of 2026-01-01.
    got = ids("/api/runs?job=page.py&since=%sT00:10:00Z&until=%sT00:20:00Z&limit=500"
              % (PAGE_DAY, PAGE_DAY))
    check(got == {r[1] for r in page if 10 <= r[0] < 20}, "since/until filter")
    check(FIX["stale"] in ids("/api/runs?status=stale"), "status=stale")
    check(FIX["live"] not in ids("/api/runs?status=stale"), "a live run is not stale")
    runs = {r["run_id"]: r for r in srv.json("/api/runs?job=stale.py")["runs"]}
    check(runs[FIX["stale"]]["stale"] is True and runs[FIX["live"]]["stale"] is False,
          "stale flag in the list")
    check(ids("/api/runs?job=no-such-job") == set(), "unknown job: empty list")


def test_run_detail(srv):
    d = srv.json("/api/runs/" + FIX["detail"])
    check(d["run_id"] == FIX["detail"] and d["job"] == "detail.py", "detail identity")
    check(d["status"] == "running" and d["phase"] == "scraping" and d["stale"] is False,
          "detail status/phase/stale")
    check(d["paused"] is False and d["paused_at"].endswith("Z") and d["resumed_at"].endswith("Z"),
          "pause state")
    check(d["counters"]["sites_completed"] == 5, "counters")
    check(d["start_counts"] == {"events": 1000, "urls": 500}, "start_counts")
    check(d["producer"] == {"host": "h1", "pid": 42, "lib": "0.1.0"}, "producer")
    p = d["progress"]
    check(p["unit"] == "sites" and p["done"] == 5 and p["total"] == 15, "progress unit")
    check(abs(p["average_seconds_per_unit"] - d["elapsed_seconds"] / 5) < 0.01,
          "average seconds per site = elapsed / done")
    check(abs(p["estimated_remaining_seconds"] - p["average_seconds_per_unit"] * 10) < 0.05,
          "ETA = average * remaining")
    check(d["batch"] == {"current": 1, "total": 2}, "batch progress")
    check(len(d["logs"]) == 50 and d["logs"][0]["seq"] == 11 and d["logs"][-1]["seq"] == 60,
          "newest 50 log lines, oldest first")
    check(d["logs"][-1]["message"] == 'line 60 "quoted" é' and d["logs"][-1]["fields"] == {"n": 60},
          "log content")
    d = srv.json("/api/runs/%s?log_limit=5" % FIX["detail"])
    check([l["seq"] for l in d["logs"]] == [56, 57, 58, 59, 60], "log_limit")
    d = srv.json("/api/runs/" + FIX["stale"])
    check(d["stale"] is True, "stale flag in detail")
    check(d["progress"]["unit"] is None and d["progress"]["estimated_remaining_seconds"] is None,
          "no progress unit")
    srv.json("/api/runs/" + new_id(), expect=404)
    srv.json("/api/runs/not-a-uuid", expect=400)


def test_run_logs(srv):
    base = "/api/runs/%s/logs" % FIX["detail"]
    b = srv.json(base)
    check([l["seq"] for l in b["logs"]] == list(range(1, 61)) and b["next_after_seq"] == 60,
          "all logs")
    b = srv.json(base + "?after_seq=55")
    check([l["seq"] for l in b["logs"]] == [56, 57, 58, 59, 60], "after_seq")
    b = srv.json(base + "?after_seq=60")
    check(b["logs"] == [] and b["next_after_seq"] == 60, "tail with nothing new")
    b = srv.json(base + "?level=error&phase=matching")
    check(all(l["level"] == "error" and l["phase"] == "matching" for l in b["logs"]) and
          [l["seq"] for l in b["logs"]] == [s for s in range(31, 61) if s % 4 == 3],
          "level + phase")
    b = srv.json(base + "?limit=7&after_seq=3")
    check([l["seq"] for l in b["logs"]] == list(range(4, 11)) and b["next_after_seq"] == 10,
          "limit")
    srv.json(base + "?level=fatal", expect=400)
    srv.json(base + "?after_seq=-1", expect=400)
    srv.json(base + "?limit=1001", expect=400)
    srv.json("/api/runs/%s/logs" % new_id(), expect=404)


def test_jobs(srv):
    jobs = {j["job"]: j for j in srv.json("/api/jobs")["jobs"]}
    j = jobs.get("jobs.py")
    check(j is not None, "jobs.py listed")
    if j:
        check(j["runs"] == 2 and j["completed"] == 2 and j["failed"] == 0, "job counts")
        check(j["events_added"] == 60 and j["urls_added"] == 4, "events/urls added (seed 000)")
        check(j["average_duration_seconds"] == 600, "average duration")
        check(j["last_success"] is not None and j["last_run"] is not None, "last runs")
    # Rows an old tracker inserted (seed 000's INSERT, no run id) count as runs of their job.
    t, lg = jobs.get("tracker.py"), jobs.get("legacy.py")
    check(t is not None and lg is not None, "jobs of imported run_results rows listed")
    if t and lg:
        check(t["runs"] == 3 and t["imported"] == 2 and t["completed"] == 1, "tracker.py counts %r" % t)
        check(t["events_added"] == 65 and t["urls_added"] == 31, "tracker.py events/urls added")
        # (600 s of the run + 1800 s of the one imported row whose elapsed_time is a duration) / 2
        check(float(t["average_duration_seconds"]) == 1200, "tracker.py average %r" % t)
        check(lg["runs"] == 1 and lg["imported"] == 1 and lg["completed"] == 0 and
              lg["last_run"] is None and float(lg["average_duration_seconds"]) == 60,
              "legacy.py %r" % lg)
        check(j is None or j["imported"] == 0, "jobs.py has no imported rows")
    check(psql("SELECT count(*) FROM run_results WHERE imported AND run_id IS NOT NULL"
               " AND file_name IN ('tracker.py', 'legacy.py')") == "3",
          "imported rows have generated run ids")
    p = jobs["page.py"]
    check(p["runs"] == 137 and p["completed"] + p["failed"] + p["partial"] == 137, "page.py counts")
    # Runs come in groups of 3 sharing one started_at (and finished_at): any run of the newest
    # group is a right answer, so compare with every run that ties for first place.
    newest = psql("SELECT string_agg(run_id::text, ' ') FROM runs WHERE job = 'page.py' AND"
                  " started_at = (SELECT max(started_at) FROM runs WHERE job = 'page.py')").split()
    last_ok = psql("SELECT string_agg(run_id::text, ' ') FROM runs WHERE job = 'page.py' AND"
                   " status = 'completed' AND finished_at = (SELECT max(finished_at) FROM runs"
                   " WHERE job = 'page.py' AND status = 'completed')").split()
    check(p["last_run"]["run_id"] in newest and p["last_success"]["run_id"] in last_ok,
          "page.py last run / last success ids %r %r" % (p["last_run"], p["last_success"]))
    s = jobs["stale.py"]
    check(s["running"] == 2 and s["stale"] == 1, "running and stale per job")
    check(jobs["never.py"]["last_success"] is None, "never succeeded")


def test_rollup(srv):
    b = srv.json("/api/jobs/roll.py/rollup")
    check(b["period"] == "day" and len(b["rollup"]) == 1, "one day of roll.py")
    if b["rollup"]:
        r = b["rollup"][0]
        check(r["runs"] == 4 and r["completed"] == 3 and r["failed"] == 1, "rollup outcomes")
        check(r["duration_p50_seconds"] == 25 and r["duration_p90_seconds"] == 37 and
              r["duration_p99_seconds"] == 39.7, "percentiles %r" % r)
        check(r["events_added"] == 20 and r["urls_added"] == 8, "rollup events/urls added")
    w = srv.json("/api/jobs/roll.py/rollup?period=week")
    check(w["period"] == "week" and sum(x["runs"] for x in w["rollup"]) == 4, "weekly rollup")
    check(srv.json("/api/jobs/page.py/rollup?limit=1")["rollup"][0]["period_start"] == PAGE_DAY,
          "rollup limit and date")
    check(srv.json("/api/jobs/page.py/rollup?since=%sT00:00:00Z" % NEXT_DAY)["rollup"] == [],
          "rollup since")
    srv.json("/api/jobs/roll.py/rollup?period=month", expect=400)
    # The views are there for direct SQL too.
    check(psql("SELECT sum(runs) FROM run_rollup_weekly WHERE job = 'roll.py'") == "4",
          "run_rollup_weekly view")


def test_last_success(srv):
    b = srv.json("/api/jobs/inc.py/last-success")
    check(b["last_success"] and b["last_success"]["run_id"] == FIX["last_ok"], "newest completed")
    check(b["completed_at"] == b["last_success"]["completed_at"] and b["completed_at"].endswith("Z"),
          "completed_at")
    b = srv.json("/api/jobs/never.py/last-success")
    check(b == {"job": "never.py", "last_success": None, "completed_at": None}, "never succeeded")
    b = srv.json("/api/jobs/" + urllib.parse.quote("dir/with space.py", safe="") + "/last-success")
    check(b["job"] == "dir/with space.py" and b["last_success"] is None, "job name with / and space")


def test_health(srv):
    def status_of(job):
        b = srv.json("/api/health?job=" + job)
        return b["overall"]["status"], b
    for job, want, rate in [("h85.py", "healthy", 85), ("h80.py", "warning", 80),
                            ("h70.py", "warning", 70), ("h65.py", "critical", 65)]:
        st, b = status_of(job)
        check(st == want, "%s: status %s, expected %s" % (job, st, want))
        w12 = b["windows"][0]
        check(w12["window_hours"] == 12 and w12["total"] == 20 and w12["success_rate"] == rate,
              "%s: 12 h window %r" % (job, w12))
        check(b["jobs"][0]["freshness_rate"] == 100, "%s: fresh" % job)
        alerted = any(a["code"] == "success_rate_low" for a in b["alerts"])
        check(alerted == (rate < 85), "%s: success alert" % job)
    for job, want in [("f71.py", "healthy"), ("f69.py", "warning"), ("f51.py", "warning"),
                      ("f48.py", "critical")]:
        st, b = status_of(job)
        j = b["jobs"][0]
        check(st == want and j["interval_source"] == "configured" and
              j["expected_interval_seconds"] == 1000,
              "%s: status %s (freshness %s), expected %s" % (job, st, j["freshness_rate"], want))
    b = srv.json("/api/health?kind=health")
    check({j["job"] for j in b["jobs"]} == {"h85.py", "h80.py", "h70.py", "h65.py"}, "kind filter")
    check(b["windows"][0]["total"] == 80 and b["windows"][0]["success_rate"] == 75, "overall 12 h")
    check(b["overall"]["status"] == "warning" and b["runs_24h"] == 80, "overall block")
    check(b["jobs"][0]["interval_source"] == "median" and
          b["jobs"][0]["expected_interval_seconds"] == 1800, "median interval")
    b = srv.json("/api/health?window=24&job=h85.py")
    check([w["window_hours"] for w in b["windows"]] == [24], "single window")
    b = srv.json("/api/health?windows=48,12,14,24")
    check([w["window_hours"] for w in b["windows"]] == [12, 14, 24, 48], "custom windows")
    check(b["last_run_at"] and b["runs_24h"] > 0, "last run and runs in 24 h")
    b = srv.json("/api/health?job=stale.py")
    check(b["windows"][0]["stale"] == 1 and b["windows"][0]["running"] == 1, "stale counted")
    b = srv.json("/api/health?kind=alerting")
    codes = {a["code"] for a in b["alerts"]}
    check({"failures_24h", "no_success", "success_rate_low"} <= codes, "alerts %r" % codes)
    check(b["overall"]["status"] == "critical", "failing job is critical")
    b = srv.json("/api/health?job=no-such-job")
    check(b["jobs"] == [] and any(a["code"] == "no_runs" for a in b["alerts"]), "no runs alert")
    for bad in ["window=0", "window=abc", "windows=12,x", "window=12&windows=24",
                "windows=" + ",".join(str(i) for i in range(1, 20)), "bogus=1"]:
        srv.json("/api/health?" + bad, expect=400)


def test_stale_closing(srv):
    deadline = time.time() + 30
    row = ""
    while time.time() < deadline:
        row = psql("SELECT status FROM runs WHERE run_id = %s" % q(FIX["dead"]))
        if row == "failed":
            break
        time.sleep(0.2)
    check(row == "failed", "maintenance closed the dead run")
    d = srv.json("/api/runs/" + FIX["dead"])
    check(d["status"] == "failed" and d["status_reason"].startswith("stale:") and
          "no event since" in d["error_message"], "closed run says why: %r" % d.get("status_reason"))
    check(d["finished_at"] == d["last_event_at"], "finished at its last event")
    rr = psql("SELECT file_name, events_count_start, urls_count_start, events_count_end IS NULL,"
              " elapsed_time FROM run_results WHERE run_id = %s" % q(FIX["dead"]))
    check(re.match(r"^dead\.py\|5\|6\|t\|0 days 01:43:20\.\d{6}$", rr) is not None,
          "run_results row of the closed run: %r" % rr)
    dr = psql("SELECT status, api_calls_made, opportunities_found, completed_at IS NOT NULL"
              " FROM discovery_runs WHERE id = %s" % q(FIX["dead"]))
    check(dr == "failed|7|3|t", "discovery_runs row of the closed run: %r" % dr)
    check(psql("SELECT status FROM runs WHERE run_id = %s" % q(FIX["stale"])) == "running",
          "a stale run below the close threshold stays running")


def test_retention(srv):
    seed_retention()
    deadline = time.time() + 30
    while time.time() < deadline:
        left = psql("SELECT (SELECT count(*) FROM dead_letters WHERE \"offset\" >= 100) +"
                    " (SELECT count(*) FROM run_logs WHERE run_id = %s)" % q(FIX["ret_old"]))
        if left == "0":
            break
        time.sleep(0.2)
    check(psql("SELECT count(*) FROM runs WHERE run_id = %s" % q(FIX["ret_old"])) == "0",
          "old run deleted")
    check(psql("SELECT count(*) FROM run_logs WHERE run_id = %s" % q(FIX["ret_old"])) == "0",
          "old logs deleted")
    check(psql("SELECT count(*) FROM runs WHERE run_id IN (%s, %s)"
               % (q(FIX["ret_young"]), q(FIX["ret_running"]))) == "2", "young and running runs kept")
    check(psql("SELECT count(*) FROM run_logs WHERE run_id IN (%s, %s)"
               % (q(FIX["ret_young"]), q(FIX["ret_running"]))) == "40",
          "logs of young and running runs kept")
    check(psql("SELECT count(*) FROM run_results WHERE file_name = 'ret.py'") == "1",
          "run_results by time_stamp")
    check(psql("SELECT string_agg(status, ',' ORDER BY status) FROM discovery_runs"
               " WHERE created_at < now() - interval '50 days'") == "running",
          "discovery_runs by created_at, running kept")
    check(psql("SELECT count(*) FROM dead_letters") == "10", "dead_letters by received_at")


def test_metrics(srv):
    status, headers, text = srv.get("/metrics")
    check(status == 200 and headers["Content-Type"].startswith("text/plain"), "metrics answer")
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ["runtrack_events_consumed", "runtrack_dead_letters", "runtrack_batch_size_events",
                 "runtrack_batch_latency_seconds", "runtrack_consumer_lag_messages",
                 "runtrack_db_errors", "runtrack_runs_running",
                 "runtrack_job_last_success_age_seconds", "runtrack_api_db_up"]:
        check(name in fams, "metric family %s" % name)

    def value(fam, **labels):
        for s in fams[fam].samples:
            if all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        return None
    check(value("runtrack_events_consumed", type="run.log") == 2, "events by type")
    check(value("runtrack_dead_letters", reason="invalid_json") == 1, "dead letters by reason")
    check(value("runtrack_consumer_lag_messages", topic='we"ird\\topic\n', partition="1") == 3,
          "escaped label parsed")
    check(value("runtrack_consumer_lag_messages", topic="runtrack.events", partition="0") == 5,
          "lag")
    check(value("runtrack_runs_running", job="stale.py") == 1, "running per job (stale excluded)")
    check(value("runtrack_runs_stale", job="stale.py") == 1, "stale per job")
    age = value("runtrack_job_last_success_age_seconds", job="inc.py")
    check(age is not None and 3 * 3600 - 700 < age < 3 * 3600, "seconds since last success %r" % age)
    check(value("runtrack_api_db_up") == 1, "db up")
    hist = [s for s in fams["runtrack_batch_size_events"].samples if s.name.endswith("_count")]
    check(hist and hist[0].value == 1, "histogram count")


def test_errors(srv):
    for method in ("POST", "PUT", "DELETE"):
        status, headers, body = srv.get("/api/runs", method=method, data=b"{}")
        check(status == 405 and json.loads(body)["error"]["code"] == "method_not_allowed" and
              "GET" in headers.get("Allow", ""), "%s -> 405" % method)
    status, _, body = srv.get("/api/nothing")
    check(status == 404 and json.loads(body)["error"]["code"] == "not_found", "unknown route")
    status, _, body = srv.get("/api/runs?limit=abc")
    check(status == 400 and "limit" in json.loads(body)["error"]["message"], "bad limit")
    for bad in ["limit=501", "status=done", "since=yesterday", "until=2026-13-01T00:00:00Z",
                "cursor=xyz", "cursor=" + "A" * 40, "colour=blue", "job=%ff"]:
        status, _, body = srv.get("/api/runs?" + bad)
        check(status == 400 and json.loads(body)["error"]["code"] == "bad_parameter",
              "bad parameter %s -> %s" % (bad, status))
    status, _, body = srv.get("/api/runs?job=" + "x" * 5000)
    check(status in (414, 431) , "long URL -> %s" % status)
    # A large body announced by Content-Length is refused before it is read.
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    s.sendall(b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n")
    resp = s.recv(4096).decode(errors="replace")
    s.close()
    check(resp.startswith("HTTP/1.1 413") and "too_large" in resp, "413 for a large body")
    # HEAD works like GET without a body.
    status, _, body = srv.get("/healthz", method="HEAD")
    check(status == 200 and body == "", "HEAD")
    b = srv.json("/healthz")
    check(b == {"status": "ok"}, "healthz")
    b = srv.json("/readyz")
    check(b["status"] == "ready", "readyz")


def test_concurrency(srv):
    """More simultaneous requests than pooled connections: all answered, none mixed up."""
    results = {}

    def worker(k):
        job = ["h85.py", "h80.py", "h70.py", "h65.py"][k % 4]
        status, _, body = srv.get("/api/runs?job=%s&limit=500" % job)
        results[k] = (job, status, body)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ok = all(st == 200 and len(json.loads(b)["runs"]) == 20 and
             all(r["job"] == job for r in json.loads(b)["runs"])
             for job, st, b in results.values())
    check(len(results) == 32 and ok, "32 concurrent requests on a pool of 4")


def test_statement_timeout():
    """A statement blocked past statement_timeout_ms answers 503 database_timeout in bounded
    time, and the pool recovers once the block is gone."""
    srv = Server("--maintenance-interval", "0", "--statement-timeout-ms", "300")
    locker = subprocess.Popen(["psql", "-XAtq", "-d", DSN], stdin=subprocess.PIPE, text=True)
    try:
        locker.stdin.write("BEGIN; LOCK TABLE runs IN ACCESS EXCLUSIVE MODE;\n")
        locker.stdin.flush()
        deadline = time.time() + 20
        while time.time() < deadline and psql(
                "SELECT count(*) FROM pg_locks WHERE relation = 'runs'::regclass"
                " AND mode = 'AccessExclusiveLock' AND granted") != "1":
            time.sleep(0.05)
        status, _, body = srv.get("/api/runs")
        check(status == 503 and json.loads(body)["error"]["code"] == "database_timeout",
              "blocked query -> 503 database_timeout: %s %s" % (status, body[:200]))
        locker.stdin.write("COMMIT;\n")
        locker.stdin.close()
        locker.wait(30)
        srv.json("/api/runs?limit=1")
    finally:
        if locker.poll() is None:
            locker.kill()
        srv.stop()


def test_not_ready_and_db_down():
    srv = Server("--not-ready", "brokers_down", "--maintenance-interval", "0")
    try:
        b = srv.json("/readyz", expect=503)
        check(b["error"]["code"] == "not_ready" and b.get("reason") == "brokers_down" and
              b.get("status") == "not ready" and "brokers_down" in b["error"]["message"],
              "readyz names the consumer's reason code: %s" % b)
    finally:
        srv.stop()
    # A reason that is not a code (free text may name hosts) is logged, never shown.
    srv = Server("--not-ready", "broker at kafka-7.internal:9093 refused", "--maintenance-interval",
                 "0")
    try:
        status, _, body = srv.get("/readyz")
        check(status == 503 and json.loads(body).get("reason") == "not_ready" and
              "kafka-7" not in body, "readyz hides a free-text reason: %s" % body)
    finally:
        srv.stop()
    # A database nobody listens on: 503 JSON for data, metrics still served; libpq's text
    # (host, port) goes to the log once, never into an answer.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "api_http_dbdown.%d.log" % os.getpid()),
               "w+")
    srv = Server("--maintenance-interval", "0", "--fake-metrics", stderr=log,
                 dsn="postgresql://postgres@127.0.0.1:%d/none?connect_timeout=2" % port)
    try:
        for path in ("/api/runs", "/api/health", "/api/jobs", "/readyz", "/readyz", "/readyz",
                     "/api/runs/%s" % new_id()):
            status, _, body = srv.get(path)
            b = json.loads(body)
            check(status == 503 and b["error"]["code"] == "database_unavailable",
                  "%s: db down code" % path)
            check(str(port) not in body and "127.0.0.1" not in body and "refused" not in body,
                  "%s: no connection detail in the answer: %s" % (path, body))
        b = srv.json("/readyz", expect=503)
        check(b.get("status") == "not ready" and b.get("reason") == "database_unreachable",
              "readyz reason with the database down: %s" % b)
        srv.json("/healthz")
        status, _, text = srv.get("/metrics")
        check(status == 200 and "runtrack_api_db_up 0" in text and
              "runtrack_events_consumed_total" in text, "metrics with the database down")
    finally:
        srv.stop()
        log.seek(0)
        logged = [ln for ln in log.read().splitlines() if "database_unreachable" in ln]
        log.close()
        os.unlink(log.name)
    check(len(logged) == 1 and str(port) in logged[0],
          "the database detail is logged once (on the change): %s" % logged)


def raw_status(srv, request):
    """Sends a raw request to srv; returns (status, body) of the answer."""
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    try:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d+)", head)
    return (int(m.group(1)) if m else None), body.decode(errors="replace")


def test_host_header():
    """Host names the server, or the request is refused (DNS rebinding): loopback bind, a
    configured name, and a server bound to every address."""
    def req(host, version="1.1", path="/healthz"):
        h = b"" if host is None else b"Host: " + host.encode() + b"\r\n"
        return ("GET %s HTTP/%s\r\n" % (path, version)).encode() + h + b"Connection: close\r\n\r\n"

    def expect(srv, host, status, version="1.1", code=None, path="/healthz"):
        st, body = raw_status(srv, req(host, version, path))
        ok = st == status
        if ok and code:
            try:
                ok = json.loads(body)["error"]["code"] == code
            except ValueError:
                ok = False
        check(ok, "bound to %s, Host %r over HTTP/%s -> %s (expected %s %s): %s" %
              (srv.host, host, version, st, status, code or "", body[:200]))

    srv = Server("--maintenance-interval", "0")
    try:
        hp = "127.0.0.1:%d" % srv.port
        expect(srv, "evil.example", 421, code="misdirected_request")
        expect(srv, "evil.example:%d" % srv.port, 421, code="misdirected_request")
        expect(srv, "evil.example", 421, code="misdirected_request", path="/api/runs")
        expect(srv, "evil.example", 421, code="misdirected_request", path="/")
        expect(srv, "evil.example", 421, version="1.0", code="misdirected_request")
        expect(srv, "127.0.0.1.evil.example", 421, code="misdirected_request")
        expect(srv, None, 400, code="bad_request")
        expect(srv, None, 200, version="1.0")
        expect(srv, hp, 200)
        expect(srv, "127.0.0.1", 200)
        expect(srv, "localhost:%d" % srv.port, 200)
        expect(srv, "[::1]:%d" % srv.port, 200)
        st, body = raw_status(srv, b"GET /healthz HTTP/1.1\r\nHost: " + hp.encode() +
                              b"\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        check(st == 400, "two Host headers -> %s %s" % (st, body[:100]))
        # urllib (as a browser does) names the address it connects to: the dashboard works.
        status, _, _ = srv.get("/")
        check(status == 200, "dashboard over 127.0.0.1: %s" % status)
    finally:
        srv.stop()
    srv = Server("--maintenance-interval", "0", "--allowed-hosts", "dash.example,Other.Example")
    try:
        expect(srv, "dash.example", 200)
        expect(srv, "other.example:443", 200)
        expect(srv, "127.0.0.1:%d" % srv.port, 200)
        expect(srv, "dash.example.evil", 421, code="misdirected_request")
        expect(srv, "evil.example", 421, code="misdirected_request")
    finally:
        srv.stop()
    # (Off loopback keys are required, so the server needs a secret; /healthz stays open.)
    srv = Server("--maintenance-interval", "0", "--addr", "0.0.0.0", "--set",
                 "auth_secret=" + "k" * 32, "--allowed-hosts", "runtrack.internal")
    try:
        srv.host = "127.0.0.1"
        expect(srv, "10.20.30.40:%d" % srv.port, 200)
        expect(srv, "[fe80::1]", 200)
        expect(srv, "localhost", 200)
        expect(srv, "runtrack.internal:8080", 200)
        expect(srv, "evil.example", 421, code="misdirected_request")
        expect(srv, "10.20.30.40.nip.io", 421, code="misdirected_request")
    finally:
        srv.stop()
    srv = Server("--maintenance-interval", "0", "--allowed-hosts", "*")
    try:
        expect(srv, "evil.example", 200)
    finally:
        srv.stop()


def main():
    # Migrations first (rt_api_serve --migrate), then fixtures, then the server under test with
    # maintenance every second, a short stale threshold and configured intervals.
    boot = Server("--migrate", "--maintenance-interval", "0")
    boot.stop()
    seed()
    intervals = []
    for job in ("f71.py", "f69.py", "f51.py", "f48.py"):
        intervals += ["--interval", job + "=1000"]
    srv = Server("--stale-after", "60", "--stale-close-after", "600", "--maintenance-interval",
                 "1", "--retention-days", "90", "--retention-batch", "7", "--fake-metrics",
                 *intervals)
    try:
        for t in (test_runs_pagination, test_runs_filters, test_run_detail, test_run_logs,
                  test_jobs, test_rollup, test_last_success, test_health, test_stale_closing,
                  test_retention, test_metrics, test_errors, test_concurrency):
            before = len(FAILURES)
            try:
                t(srv)
            except Exception as e:  # report and go on with the next group
                FAILURES.append("%s raised %r" % (t.__name__, e))
                print("FAIL:", t.__name__, "raised", repr(e), file=sys.stderr)
            print("%s %s" % ("ok  " if len(FAILURES) == before else "FAIL", t.__name__))
    finally:
        srv.stop()
    for t in (test_not_ready_and_db_down, test_host_header, test_statement_timeout):
        before = len(FAILURES)
        try:
            t()
        except Exception as e:
            FAILURES.append("%s raised %r" % (t.__name__, e))
            print("FAIL:", t.__name__, "raised", repr(e), file=sys.stderr)
        print("%s %s" % ("ok  " if len(FAILURES) == before else "FAIL", t.__name__))
    print("%d checks, %d failures" % (CHECKS[0], len(FAILURES)))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
