"""Fixtures for the Python package's tests (run by run_pytest.sh under with_services.sh).

One runtrack-consumer runs for the whole session on the test's topic and database, with its HTTP
API on a free port; tests send runs with the package and poll PostgreSQL until the consumer has
written them (db_wait). Each test uses job names of its own, so tests do not see each other."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python",
                                   "src"))
sys.path.insert(0, SRC)

WAIT_S = 30


def plain_env():
    """The environment without the ASan preload (an ASan build's run_pytest.sh sets it for the
    Python processes that load libruntrack; psql, pip and the consumer do not need it)."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


def psql(sql):
    out = subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d",
                          os.environ["RUNTRACK_PG_DSN"], "-f", "-"],
                         input=sql, capture_output=True, text=True, timeout=30, env=plain_env())
    if out.returncode != 0:
        raise RuntimeError("psql failed: " + out.stderr)
    return out.stdout.strip()


def db_wait(sql, timeout=WAIT_S):
    """Polls sql until it returns a non-empty result; that result (fails after timeout)."""
    end = time.monotonic() + timeout
    while True:
        out = psql(sql)
        if out:
            return out
        if time.monotonic() > end:
            pytest.fail("no result within %d s: %s" % (timeout, sql))
        time.sleep(0.2)


def run_row(run_id, timeout=WAIT_S):
    """The runs row of a finished run, as a dict."""
    return json.loads(db_wait(
        "SELECT row_to_json(r) FROM runs r WHERE run_id = '%s' AND status <> 'running'" % run_id,
        timeout))


def logs_of(run_id, n, timeout=WAIT_S):
    """The run's n log lines (level, message, fields), in seq order, once all n arrived."""
    db_wait("SELECT 1 FROM run_logs WHERE run_id = '%s' HAVING count(*) >= %d" % (run_id, n),
            timeout)
    out = psql("SELECT json_agg(json_build_object('level', level, 'message', message, "
               "'fields', fields) ORDER BY seq) FROM run_logs WHERE run_id = '%s'" % run_id)
    return json.loads(out)


@pytest.fixture(scope="session")
def consumer():
    """A runtrack-consumer for the session; yields its HTTP API's base URL."""
    env = dict(plain_env(), RUNTRACK_GROUP="py_" + os.environ["RUNTRACK_TOPIC"],
               RUNTRACK_HTTP_PORT="0", RUNTRACK_KAFKA_SESSION_TIMEOUT_MS="4000",
               RUNTRACK_KAFKA_HEARTBEAT_INTERVAL_MS="400")
    logf = tempfile.NamedTemporaryFile("w+", prefix="rt-py-consumer", suffix=".log", delete=False)
    p = subprocess.Popen([os.environ["RT_CONSUMER"], "run"], stdout=subprocess.DEVNULL,
                         stderr=logf, env=env)
    try:
        port = None
        end = time.monotonic() + WAIT_S
        while port is None and time.monotonic() < end:
            m = re.search(r"HTTP API listening.* port=(\d+)", open(logf.name).read())
            port = m and m.group(1)
            if p.poll() is not None:
                pytest.fail("consumer exited: " + open(logf.name).read()[-2000:])
            time.sleep(0.1)
        if not port:
            pytest.fail("the consumer's HTTP API did not start")
        yield "http://127.0.0.1:%s" % port
    finally:
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
        os.unlink(logf.name)


@pytest.fixture
def job(request):
    """A job name of this test's own."""
    return "py_%s_%s.py" % (request.node.name[:40], uuid.uuid4().hex[:6])
