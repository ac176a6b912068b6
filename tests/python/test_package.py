"""The Python package (clients/python, import name runtrack) against the dev broker, a real
runtrack-consumer and PostgreSQL: installable offline, seed 000 unchanged, seed 001's service,
no tracking call ever raising, runtrack.run(), the logging handler, client-supplied run ids."""
import asyncio
import datetime as dt
import decimal
import json
import logging
import os
import subprocess
import sys
import uuid

import pytest

from conftest import SRC, db_wait, logs_of, plain_env, psql, run_row

import runtrack
from runtrack import _native

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(SRC)


def test_fresh_venv_offline_install_seed000(tmp_path, consumer, job):
    """pip install ./clients/python in a fresh venv without network; a seed-000 scraper whose
    only change is its import fills run_results."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=60,
                   env=plain_env())
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-index",
                          "--no-build-isolation", "--disable-pip-version-check", PKG],
                         capture_output=True, text=True, timeout=60, env=plain_env())
    assert pip.returncode == 0, pip.stdout + pip.stderr
    site = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import runtrack, os; print(os.path.dirname(runtrack.__file__))"],
                          capture_output=True, text=True, timeout=30, cwd=str(tmp_path),
                          env=plain_env())
    assert str(venv) in site.stdout, site.stdout + site.stderr
    assert os.path.exists(os.path.join(site.stdout.strip(), "py.typed"))
    out = subprocess.run([str(venv / "bin" / "python"), os.path.join(HERE, "seed000_scraper.py"),
                          job], capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    row = psql_json_wait("SELECT row_to_json(r) FROM run_results r WHERE file_name = '%s'" % job)
    assert (row["events_count_start"], row["urls_count_start"]) == (10, 5)
    assert (row["events_count_end"], row["urls_count_end"]) == (14, 7)
    assert (row["new_events_in_db"], row["new_urls_in_db"]) == (4, 2)


def psql_json_wait(sql):
    return json.loads(db_wait(sql))


class Odd:
    def __str__(self):
        return "odd thing"


def test_values_never_raise(consumer, job, caplog):
    """Dates, datetimes, Decimal, UUID, sets, NaN, cycles and arbitrary objects in params, log
    fields and error details: no call raises, everything arrives as JSON."""
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    cyc = {"a": 1}
    cyc["self"] = cyc
    t = runtrack.RunResultsTracker(job, params={"posted_from": dt.date(2025, 10, 1),
                                                "price": decimal.Decimal("1.50"), "id": u,
                                                "tags": {"b", "a"}, dt.date(2025, 1, 2): "k",
                                                "odd": Odd(), "nan": float("nan")})
    t.initialize(1, 2)
    assert t.run_id
    now = dt.datetime(2026, 1, 2, 3, 4, 5, 678900)
    with caplog.at_level(logging.WARNING, logger="runtrack"):
        assert t.log("m", at=now, when=dt.time(1, 2), d=decimal.Decimal("2"), u=u, c=cyc,
                     o=Odd(), tz=now.replace(tzinfo=dt.timezone.utc))
        assert t.log("bad level", level="loud")
        assert t.progress(found="3", new=decimal.Decimal(2), bogus="x")
    assert "odd thing" in caplog.text
    t.finalize(3, 4)
    assert t.write_results(error_details={"at": now}) is True
    assert t.run_id  # kept after write_results
    r = run_row(t.run_id)
    assert r["params"]["posted_from"] == "2025-10-01"
    assert r["params"]["price"] == "1.50" and r["params"]["id"] == str(u)
    assert r["params"]["tags"] == ["a", "b"] and r["params"]["2025-01-02"] == "k"
    assert r["params"]["odd"] == "odd thing" and r["params"]["nan"] == "nan"
    assert r["counters"]["found"] == 3 and r["counters"]["new"] == 2
    logs = logs_of(t.run_id, 2)
    f = logs[0]["fields"]
    assert f["at"] == "2026-01-02T03:04:05.678900" and f["when"] == "01:02:00"
    assert f["d"] == "2" and f["u"] == str(u) and f["c"] == {"a": 1, "self": "<cycle>"}
    assert f["tz"] == "2026-01-02T03:04:05.678900+00:00" and f["o"] == "odd thing"
    assert logs[1] == {"level": "info", "message": "bad level", "fields": None}


def test_discovery_datetime_posted_from(consumer, job):
    """Seed 001's own code passes posted_from = last_run.completed_at (a datetime): the DATE
    column gets its date; the service shape start/complete/fail and last_successful_run."""
    svc = runtrack.DiscoveryService(job, api=consumer)
    assert svc.last_successful_run() is None  # never succeeded: start from scratch
    first = svc.start_run(["541511", 541512], posted_from=dt.datetime(2025, 10, 1, 13, 45, 7),
                          posted_to=dt.date(2025, 10, 24))
    assert first is not None and first.run_id
    assert svc.complete_run({"found": 120, "new": 30, "updated": 10, "unchanged": 80,
                             "api_calls": 42})
    d = psql_json_wait("SELECT row_to_json(d) FROM discovery_runs d WHERE id = '%s' "
                       "AND status = 'completed'" % first.run_id)
    assert d["posted_from"] == "2025-10-01" and d["posted_to"] == "2025-10-24"
    assert d["naics_codes"] == ["541511", "541512"]
    assert (d["opportunities_found"], d["opportunities_new"], d["opportunities_updated"],
            d["opportunities_unchanged"], d["api_calls_made"]) == (120, 30, 10, 80, 42)

    last = svc.last_successful_run()
    assert last is not None and last.run_id == first.run_id
    assert isinstance(last.completed_at, dt.datetime) and last.completed_at.tzinfo is None
    second = svc.start_run(["541511"], posted_from=last.completed_at)
    assert second is not None
    assert svc.fail_run("SAM.gov API rate limit exceeded", {"http_status": 429,
                                                            "retry_after": dt.timedelta(hours=1)})
    d = psql_json_wait("SELECT row_to_json(d) FROM discovery_runs d WHERE id = '%s' "
                       "AND status = 'failed'" % second.run_id)
    assert d["posted_from"] == last.completed_at.date().isoformat()
    assert d["error_message"] == "SAM.gov API rate limit exceeded"
    assert d["error_details"]["http_status"] == 429
    assert d["error_details"]["retry_after"] == "1:00:00"
    # An API that does not answer is None (logged), never an exception.
    assert runtrack.last_successful_run(job, api="http://127.0.0.1:1", timeout=2) is None


def test_run_context_manager(consumer, job):
    """with runtrack.run(): completed; an exception finishes it failed with message and
    traceback; KeyboardInterrupt is failed "interrupted"; the exception is never swallowed."""
    with runtrack.run(job, params={"when": dt.datetime(2026, 1, 1)}) as ok:
        ok.phase("scraping")
        ok.log("page 1")
    assert ok.finished and ok.run_id
    with pytest.raises(ValueError):
        with runtrack.run(job) as bad:
            raise ValueError("page 3: HTTP 500")
    with pytest.raises(KeyboardInterrupt):
        with runtrack.run(job) as intr:
            raise KeyboardInterrupt
    assert run_row(ok.run_id)["status"] == "completed"
    b = run_row(bad.run_id)
    assert b["status"] == "failed" and b["error_message"] == "page 3: HTTP 500"
    assert b["error_details"]["exception"] == "ValueError"
    assert 'raise ValueError("page 3: HTTP 500")' in b["error_details"]["traceback"]
    i = run_row(intr.run_id)
    assert i["status"] == "failed" and i["error_message"] == "interrupted"


def test_async_run_and_tracker(consumer, job):
    """async with runtrack.run() and write_results_async wait for delivery off the loop."""
    async def main():
        async with runtrack.run(job) as r:
            r.log("async page")
        t = runtrack.RunResultsTracker(job)
        t.initialize(1, 1)
        t.finalize(2, 2)
        return r, await t.write_results_async()
    r, ok = asyncio.run(main())
    assert ok and run_row(r.run_id)["status"] == "completed"


def test_logging_handler(consumer, job):
    """A scraper's logging calls become run log lines with mapped levels."""
    lg = logging.getLogger("scraper_" + job)
    lg.setLevel(logging.DEBUG)
    lg.propagate = False
    h = runtrack.LogHandler()
    lg.addHandler(h)
    try:
        lg.info("outside any run")  # no current run: dropped
        with runtrack.run(job) as r:
            lg.debug("debug is below the handler's level")
            lg.info("fetched %d pages", 3)
            lg.warning("slow page")
            lg.error("page failed")
            try:
                1 / 0
            except ZeroDivisionError:
                lg.exception("crashed")
            lg.log(25, "custom level 25")
            logging.getLogger("runtrack").warning("the package's own records are not sent")
    finally:
        lg.removeHandler(h)
    logs = logs_of(r.run_id, 5)
    assert [(x["level"], x["message"]) for x in logs] == [
        ("info", "fetched 3 pages"), ("warning", "slow page"), ("error", "page failed"),
        ("error", "crashed"), ("info", "custom level 25")]
    assert logs[0]["fields"] == {"logger": lg.name}
    assert "ZeroDivisionError" in logs[3]["fields"]["exception"]
    # A tracker as the target (seed 000 scrapers keep their tracker).
    t = runtrack.RunResultsTracker(job)
    t.initialize(0, 0)
    h2 = runtrack.LogHandler(t)
    lg.addHandler(h2)
    lg.warning("into the tracker's run")
    lg.removeHandler(h2)
    t.finalize(0, 0)
    assert t.write_results()
    assert logs_of(t.run_id, 1)[0]["message"] == "into the tracker's run"


def _run_py(code, **env):
    e = dict(os.environ, PYTHONPATH=SRC, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=e)


def test_no_library_never_raises():
    """libruntrack missing: every call returns False/None, the scraper runs on."""
    out = _run_py("""
import runtrack, logging
logging.basicConfig()
t = runtrack.RunResultsTracker("x.py", params={"d": 1})
t.initialize(1, 2)
assert t.run_id is None and "cannot load libruntrack" in t.last_error, t.last_error
assert t.log("m") is False and t.phase("p") is False and t.progress(a=1) is False
t.finalize(2, 3)
assert t.write_results("0:00:01") is False
assert t.get_summary()["new_events_in_db"] == 1
with runtrack.run("y.py") as r:
    r.log("x")
assert not r.started
svc = runtrack.DiscoveryService("z.py")
assert svc.start_run(["1"]) is None and svc.complete_run({"found": 1}) is False
print("survived")
""", RUNTRACK_LIB="/nonexistent/libruntrack.so.0")
    assert out.returncode == 0 and "survived" in out.stdout, out.stdout + out.stderr


def test_threads_and_asyncio_never_blocked():
    """With the broker unreachable, write_results in one thread waits (bounded) while another
    thread's calls return at once; inside an event loop write_results does not wait at all, and
    write_results_async lets the loop run while it waits."""
    out = _run_py("""
import asyncio, threading, time, runtrack
t = runtrack.RunResultsTracker("blocked.py")
t.initialize(1, 1)
done = threading.Event()
def writer():
    t.write_results()
    done.set()
th = threading.Thread(target=writer)
th.start()
time.sleep(0.3)
other = runtrack.RunResultsTracker("other.py")
t0 = time.monotonic()
other.initialize(1, 1)
for i in range(1000):
    other.log("line %d" % i)
assert time.monotonic() - t0 < 1.0, "calls blocked behind another thread's flush"
assert not done.is_set()
async def main():
    ticks = 0
    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1
    task = asyncio.ensure_future(ticker())
    a = runtrack.RunResultsTracker("in_loop.py")
    a.initialize(0, 0)
    t0 = time.monotonic()
    assert a.write_results() is True           # recorded; delivery goes on in the background
    assert time.monotonic() - t0 < 0.5, "write_results blocked the event loop"
    b = runtrack.RunResultsTracker("awaited.py")
    b.initialize(0, 0)
    assert await b.write_results_async() is False   # undeliverable, but the loop ran meanwhile
    task.cancel()
    return ticks
ticks = asyncio.run(main())
assert ticks >= 10, ticks
th.join()
print("never blocked", ticks)
""", RUNTRACK_BROKERS="127.0.0.1:1", RUNTRACK_PY_FLUSH_TIMEOUT_MS="1500")
    assert out.returncode == 0 and "never blocked" in out.stdout, out.stdout + out.stderr


# As integration.producer_fork: under ASan a thread created in a fork child of a multithreaded
# process aborts in ASan's own check (google/sanitizers#255), not in the library.
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="fork children under ASan (google/sanitizers#255)")
def test_fork_child_gets_own_client(consumer, job):
    """A child made by os.fork() and a multiprocessing worker after the client exists track
    runs of their own and exit promptly (the full scenario: tests/producer/test_fork.py)."""
    out = _run_py("""
import multiprocessing, os, sys, runtrack
job = sys.argv[1]
p = runtrack.RunResultsTracker(job)
p.initialize(1, 1)
def child_run(tag):
    c = runtrack.RunResultsTracker(job)
    c.initialize(2, 2)
    c.log(tag)
    c.finalize(3, 3)
    return c.run_id if c.write_results() else None
pid = os.fork()
if pid == 0:
    os._exit(0 if child_run("os.fork child") else 1)
_, st = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(st) == 0
with multiprocessing.get_context("fork").Pool(1) as pool:
    assert pool.apply_async(child_run, ("pool child",)).get(30)
p.finalize(2, 2)
assert p.write_results()
print("forked ok")
""".replace("sys.argv[1]", repr(job)))
    assert out.returncode == 0 and "forked ok" in out.stdout, out.stdout + out.stderr
    n = psql_json_wait("SELECT json_build_object('n', count(*)) FROM runs WHERE job = '%s' "
                       "HAVING count(*) FILTER (WHERE status = 'completed') = 3" % job)
    assert n["n"] == 3
    msgs = psql("SELECT string_agg(message, ',' ORDER BY message) FROM run_logs l JOIN runs r "
                "USING (run_id) WHERE r.job = '%s'" % job)
    assert msgs == "os.fork child,pool child"


HAS_WITH_ID = hasattr(_native.lib(), "runtrack_run_start_with_id")


@pytest.mark.skipif(not HAS_WITH_ID, reason="libruntrack has no runtrack_run_start_with_id")
def test_client_supplied_run_id(consumer, job):
    """A caller's UUID: starting it again is idempotent; under another job it is refused, at the
    call in the process that holds the run, by the consumer (a dead letter saying the id was
    reused) from another process. Either way the run keeps its job and nothing raises."""
    rid = str(uuid.uuid4())
    a = runtrack.RunResultsTracker(job, run_id=rid)
    a.initialize(1, 1)
    assert a.run_id == rid, a.last_error
    again = runtrack.run(job, run_id=uuid.UUID(rid))
    assert again.run_id == rid, again.last_error
    other = runtrack.run(job + "_other", run_id=rid)
    assert other.run_id is None and other.last_error, "another job's start of the same id"
    a.log("one line")
    a.finalize(2, 2)
    assert a.write_results()
    out = _run_py("import runtrack, sys; r = runtrack.run(sys.argv[1], run_id=sys.argv[2]); "
                  "r.log('impostor'); print(r.run_id, r.finish())".replace(
                      "sys.argv[1]", repr(job + "_other")).replace("sys.argv[2]", repr(rid)))
    assert out.returncode == 0, out.stderr
    r = run_row(rid)
    assert r["job"] == job and r["status"] == "completed"
    assert db_wait("SELECT detail FROM dead_letters WHERE convert_from(msg_key, 'UTF8') = '%s'"
                   % rid)
    assert psql("SELECT count(*) FROM runs WHERE run_id = '%s'" % rid) == "1"


def test_bad_run_id_refused_clearly():
    """A run_id that is not a UUID: the run is not started and last_error says why."""
    r = runtrack.run("x.py", run_id="not-a-uuid")
    assert r.run_id is None and "is not a UUID" in r.last_error
    assert r.log("ignored") is False
