#!/usr/bin/python3
"""End to end: runs reported with the producer CLI (`runtrack start/phase/progress/log/pause/
resume/finish`) go through the dev broker and runtrack-consumer into PostgreSQL, and the HTTP API
serves them. Run by ctest through tests/lib/with_services.sh:
    test_e2e.py RUNTRACK_CLI RUNTRACK_CONSUMER RT_API_SERVE
"""
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from rtcheck import check, psql, step, verdict  # noqa: E402

CLI, CONSUMER, SERVE = sys.argv[1:4]


def cli(*args):
    out = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("runtrack %s: exit %d: %s" % (args[0], out.returncode, out.stderr))
    return out.stdout.strip()


def main():
    os.environ["RUNTRACK_GROUP"] = "api-e2e-" + os.environ["RUNTRACK_TOPIC"]
    # Every CLI event carries the envelope's job and kind.
    os.environ["RUNTRACK_JOB"] = "e2e.py"
    os.environ["RUNTRACK_KIND"] = "discovery"
    ok = cli("start", "--job", "e2e.py", "--kind", "discovery", "--count", "events=1000",
             "--count", "urls=500", "--planned", "sites_total=15", "--param",
             'naics_codes=["541511","541512"]')
    check(re.fullmatch(r"[0-9a-f-]{36}", ok) is not None, "start prints the run id: %r" % ok)
    cli("phase", "--run", ok, "scraping")
    cli("progress", "--run", ok, "--memory", "5.2", "--cpu", "12.3", "sites_total=15",
        "sites_completed=5", "batches_total=2", "batch_current=1")
    cli("log", "--run", ok, "--level", "warning", "page", "7", "slow")
    cli("pause", "--run", ok, "--reason", "operator")
    cli("resume", "--run", ok)
    cli("finish", "--run", ok, "--status", "completed", "--count", "events=1050", "--count",
        "urls=525", "found=120", "new=30", "api_calls=42")
    bad = cli("start", "--job", "e2e.py", "--kind", "discovery")
    cli("finish", "--run", bad, "--status", "failed", "--error", "HTTP 503 from api.sam.gov")
    live = cli("start", "--job", "e2e.py", "--kind", "discovery")
    # A run whose producer "crashes": started, then silent until the maintenance closes it.
    crash = cli("start", "--job", "crashy.py", "--kind", "discovery", "--count", "events=7")

    step("events sent")
    c = subprocess.run([CONSUMER, "run", "--exit-when-idle", "3000"], capture_output=True,
                       text=True, timeout=90)
    step("consumed")
    check(c.returncode == 0, "consumer exit %d: %s" % (c.returncode, c.stderr[-2000:]))

    srv = subprocess.Popen([SERVE, "--maintenance-interval", "0"], stdout=subprocess.PIPE,
                           text=True)
    try:
        m = re.match(r"listening ([0-9.]+:\d+)", srv.stdout.readline())
        base = "http://" + m.group(1)

        def get(path):
            with urllib.request.urlopen(base + path, timeout=30) as r:
                return json.loads(r.read().decode())

        runs = {r["run_id"]: r for r in get("/api/runs?job=e2e.py")["runs"]}
        check(set(runs) == {ok, bad, live}, "three runs listed: %r" % list(runs))
        check(runs.get(live, {}).get("status") == "running", "third run running")
        d = get("/api/runs/" + ok)
        check(d["status"] == "completed" and d["kind"] == "discovery", "completed run")
        check(d["phase"] == "scraping", "phase")
        check(d["counters"].get("found") == 120 and d["counters"].get("api_calls") == 42,
              "final counters %r" % d["counters"])
        check(d["start_counts"] == {"events": 1000, "urls": 500} and
              d["end_counts"] == {"events": 1050, "urls": 525}, "start/end counts")
        check(d["paused"] is False and d["paused_at"] and d["resumed_at"], "pause state")
        check([l["message"] for l in d["logs"]] == ["page 7 slow"] and
              d["logs"][0]["level"] == "warning", "logs %r" % d["logs"])
        check(d["params"] == {"naics_codes": ["541511", "541512"]}, "params")
        e = get("/api/runs/" + bad)
        check(e["status"] == "failed" and e["error_message"] == "HTTP 503 from api.sam.gov",
              "failed run")
        ls = get("/api/jobs/e2e.py/last-success")
        check(ls["last_success"] and ls["last_success"]["run_id"] == ok and
              ls["completed_at"] == d["finished_at"], "last success")
        jobs = {j["job"]: j for j in get("/api/jobs")["jobs"]}
        j = jobs.get("e2e.py", {})
        check(j.get("runs") == 3 and j.get("completed") == 1 and j.get("failed") == 1 and
              j.get("running") == 1, "job counts %r" % j)
        check(j.get("events_added") == 50 and j.get("urls_added") == 25, "events/urls added")
        h = get("/api/health?job=e2e.py&window=24")
        w = h["windows"][0]
        check(w["total"] == 3 and w["completed"] == 1 and w["failed"] == 1 and
              w["success_rate"] == 50 and h["overall"]["status"] == "critical",
              "health of the job %r" % w)
        logs = get("/api/runs/%s/logs?after_seq=0" % ok)
        check(len(logs["logs"]) == 1, "logs endpoint")
    finally:
        srv.terminate()
        srv.wait(timeout=30)
    stale_close_then_real_finish(crash)
    return verdict("test_e2e")


def stale_close_then_real_finish(crash):
    """The API's maintenance closes a silent run as failed (with run_results and
    discovery_runs); when the producer's real run.finished arrives after all, the consumer's
    merge lets it win over the stale-close."""
    # Two hours of silence, as if the scraper had died right after starting.
    psql("UPDATE runs SET started_at = started_at - interval '2 hours',"
         " last_event_at = last_event_at - interval '2 hours',"
         " received_at = received_at - interval '2 hours',"
         " first_received_at = first_received_at - interval '2 hours' WHERE run_id = '%s'" % crash)
    srv = subprocess.Popen([SERVE, "--maintenance-interval", "1", "--stale-close-after", "600"],
                           stdout=subprocess.PIPE, text=True)
    try:
        srv.stdout.readline()
        deadline = time.time() + 30
        row = ""
        while time.time() < deadline:
            row = psql("SELECT status, status_reason IS NOT NULL FROM runs WHERE run_id = '%s'"
                       % crash)
            if row == "failed|t":
                break
            time.sleep(0.2)
        check(row == "failed|t", "silent run closed as failed by maintenance: %r" % row)
    finally:
        srv.terminate()
        srv.wait(timeout=30)
    check(psql("SELECT events_count_start, events_count_end IS NULL FROM run_results"
               " WHERE run_id = '%s'" % crash) == "7|t", "run_results of the stale-closed run")
    check(psql("SELECT status FROM discovery_runs WHERE id = '%s'" % crash) == "failed",
          "discovery_runs of the stale-closed run")
    step("stale-closed")
    cli("finish", "--run", crash, "--job", "crashy.py", "--kind", "discovery", "--status",
        "completed", "--count", "events=9")
    step("finish sent")
    # replay (no group: a second group join waits out the first member's session on the dev
    # broker) re-applies the topic, which is idempotent, including the late run.finished.
    c = subprocess.run([CONSUMER, "replay", "--to-end"], capture_output=True, text=True,
                       timeout=90)
    step("consumed again")
    check(c.returncode == 0, "consumer replay exit %d: %s" % (c.returncode, c.stderr[-2000:]))
    check(psql("SELECT status, status_reason IS NULL FROM runs WHERE run_id = '%s'" % crash) ==
          "completed|t", "the real finish wins over the stale-close")
    check(psql("SELECT events_count_end, new_events_in_db FROM run_results WHERE run_id = '%s'"
               % crash) == "9|2", "run_results rewritten from the real finish")
    check(psql("SELECT status FROM discovery_runs WHERE id = '%s'" % crash) == "completed",
          "discovery_runs rewritten from the real finish")


if __name__ == "__main__":
    sys.exit(main())
