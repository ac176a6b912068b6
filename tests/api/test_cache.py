#!/usr/bin/python3
"""Integration test: the report cache of /api/health and /api/jobs (docs/api.md#report-cache).

Run by ctest through tests/lib/with_services.sh (fresh database in RUNTRACK_PG_DSN):
    test_cache.py PATH/TO/rt_api_serve
Checks, against the real PostgreSQL, that
  * a second request within the TTL gets the same answer (same generated_at, Age header) and
    does not touch PostgreSQL: it answers while another session holds an exclusive lock on
    runs, which makes an uncached report time out;
  * 16 clients that miss at once share one computation (one generated_at);
  * answers are kept per query string, errors are not kept;
  * past twice the TTL a request computes a new answer that shows rows written in between;
  * a report in demand is recomputed ahead of time: past half its TTL a hit asks for a
    refresh, and while that refresh waits (on the lock) clients still get the previous answer
    promptly, past the TTL; once the lock is gone the new answer replaces it;
  * --cache-ttl-ms 0 turns it off (every request computes).
"""
import concurrent.futures
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

from apitest import DSN, FAILURES, ServeProcess, check, psql


class Server(ServeProcess):
    def get(self, path):
        """(status, headers, parsed body)"""
        try:
            with urllib.request.urlopen(self.base + path, timeout=60) as r:
                return r.status, r.headers, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, e.headers, json.loads(e.read())


class TableLock:
    """Another session holding ACCESS EXCLUSIVE on runs until release()."""

    def __init__(self):
        self.proc = subprocess.Popen(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", DSN],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.proc.stdin.write("BEGIN;\nLOCK TABLE runs IN ACCESS EXCLUSIVE MODE;\n"
                              "SELECT 'locked';\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().strip()
        if line != "locked":
            self.proc.kill()
            raise RuntimeError("could not lock runs: %r" % line)

    def release(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("COMMIT;\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def add_run(job, status="completed"):
    psql("INSERT INTO runs (run_id, job, kind, status, has_started, started_at, finished_at,"
         " last_event_at, last_seq) VALUES ('%s', '%s', 'scrape', '%s', true,"
         " now() - interval '2 hours', now() - interval '1 hour', now() - interval '1 hour', 3)"
         % (uuid.uuid4(), job, status))


def jobs_of(body):
    return sorted(j["job"] for j in body["jobs"])


def test_hits_and_lock(srv):
    s1, h1, b1 = srv.get("/api/health")
    s2, h2, b2 = srv.get("/api/health")
    check(s1 == 200 and s2 == 200, "health answers 200")
    check(b1["generated_at"] == b2["generated_at"] == b1["timestamp"],
          "second request within the TTL: same report (%s, %s)"
          % (b1["generated_at"], b2["generated_at"]))
    check(h1["Cache-Control"] == "max-age=60", "Cache-Control %r" % h1["Cache-Control"])
    check(h1["Age"] is None and h2["Age"] is not None and int(h2["Age"]) >= 0,
          "Age only on a cached answer (%r, %r)" % (h1["Age"], h2["Age"]))
    _, _, j1 = srv.get("/api/jobs")
    add_run("late.py")  # within the TTL: the documented staleness
    _, _, j2 = srv.get("/api/jobs")
    check(j1 == j2 and "late.py" not in jobs_of(j2), "/api/jobs answered from the cache")
    # Per query string: another query is its own report.
    _, _, ba = srv.get("/api/health?job=a.py")
    _, _, bb = srv.get("/api/health?job=b.py")
    check(jobs_of(ba) == ["a.py"] and jobs_of(bb) == ["b.py"], "one answer per query")
    check(srv.get("/api/health?job=a.py")[2] == ba, "job=a.py cached")
    # Errors are not kept, and say no-store.
    st, hd, _ = srv.get("/api/health?window=abc")
    check(st == 400 and hd["Cache-Control"] == "no-store", "a 400 is not cached")
    # No PostgreSQL for a cached answer: it comes back while runs is locked, when a report that
    # is not cached waits for the lock until the statement timeout.
    lock = TableLock()
    try:
        st, _, b3 = srv.get("/api/health")
        check(st == 200 and b3 == b1, "cached report while runs is locked: %s" % st)
        st, _, _ = srv.get("/api/jobs")
        check(st == 200, "cached /api/jobs while runs is locked: %s" % st)
        st, _, e = srv.get("/api/health?windows=14")
        check(st == 503 and e["error"]["code"] == "database_timeout",
              "an uncached report waits for the lock: %s %r" % (st, e))
    finally:
        lock.release()
    st, _, _ = srv.get("/api/health?windows=14")
    check(st == 200, "the timed-out report was not kept: %s" % st)


def test_single_flight(srv):
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        res = list(ex.map(lambda _: srv.get("/api/health?windows=13"), range(16)))
    check(all(r[0] == 200 for r in res), "16 concurrent misses answer 200")
    gens = {r[2]["generated_at"] for r in res}
    check(len(gens) == 1, "16 concurrent misses computed once, got %d reports" % len(gens))


def test_ttl_expiry():
    srv = Server("--cache-ttl-ms", "300")
    try:
        _, _, b1 = srv.get("/api/health?job=fresh.py")
        add_run("fresh.py")
        time.sleep(0.7)  # past twice the TTL: computed anew, not served while refreshed
        _, _, b2 = srv.get("/api/health?job=fresh.py")
        check(b2["generated_at"] > b1["generated_at"], "recomputed past the TTL")
        check(jobs_of(b1) == [] and jobs_of(b2) == ["fresh.py"],
              "the new run shows after the TTL (%r, %r)" % (jobs_of(b1), jobs_of(b2)))
    finally:
        srv.stop()


def test_refresh_ahead():
    # TTL 2 s; the statement timeout (5 s) bounds how long past the TTL an answer being
    # refreshed is still served.
    srv = Server("--cache-ttl-ms", "2000", "--statement-timeout-ms", "5000")
    try:
        _, _, b1 = srv.get("/api/health?job=ahead.py")
        time.sleep(1.1)  # past half the TTL
        add_run("ahead.py")
        lock = TableLock()  # the refresh below waits for this lock
        try:
            st, _, b2 = srv.get("/api/health?job=ahead.py")  # a hit; asks for a refresh
            check(st == 200 and b2 == b1, "hit past half the TTL: the cached answer")
            time.sleep(1.2)  # now past the TTL, the refresh still waiting for the lock
            st, _, b3 = srv.get("/api/health?job=ahead.py")
            check(st == 200 and b3["generated_at"] == b1["generated_at"],
                  "while the refresh waits, the previous answer past its TTL: %s" % st)
        finally:
            lock.release()
        deadline = time.time() + 20
        b4 = b1
        while time.time() < deadline and b4["generated_at"] == b1["generated_at"]:
            time.sleep(0.05)
            b4 = srv.get("/api/health?job=ahead.py")[2]
        check(jobs_of(b4) == ["ahead.py"], "the refreshed answer has the new run: %r"
              % jobs_of(b4))
    finally:
        srv.stop()


def test_off():
    srv = Server("--cache-ttl-ms", "0")
    try:
        s1, h1, b1 = srv.get("/api/health")
        s2, _, b2 = srv.get("/api/health")
        check(b1["generated_at"] != b2["generated_at"], "cache off: every request computes")
        check(h1["Cache-Control"] == "no-store", "cache off: no-store")
        add_run("off.py")
        check("off.py" in jobs_of(srv.get("/api/jobs")[2]), "cache off: writes show at once")
    finally:
        srv.stop()


def main():
    boot = Server("--migrate")
    boot.stop()
    for job in ("a.py", "b.py"):
        add_run(job)
        add_run(job, "failed")
    srv = Server("--cache-ttl-ms", "60000", "--statement-timeout-ms", "500")
    try:
        test_hits_and_lock(srv)
        test_single_flight(srv)
    finally:
        srv.stop()
    test_ttl_expiry()
    test_refresh_ahead()
    test_off()
    print("%d failures" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
