"""The verdict of the Python tests that ctest runs: check() records a failure (every call is
counted in CHECKS) and goes on, step() says how far a test got and when, verdict() prints the
closing line and returns the exit code, and psql() runs SQL in the test's own database
(RUNTRACK_PG_DSN, from tests/lib/with_services.sh).

A test finds this module with
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))"""
import os
import subprocess
import sys
import time

FAILURES = []
CHECKS = [0]
T0 = time.time()


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, file=sys.stderr, flush=True)


def step(what):
    print("%6.1fs %s" % (time.time() - T0, what), flush=True)


def verdict(name):
    print("%s %s (%d failures)" % ("ok  " if not FAILURES else "FAIL", name, len(FAILURES)))
    return 1 if FAILURES else 0


def psql(sql):
    out = subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d",
                          os.environ["RUNTRACK_PG_DSN"], "-f", "-"],
                         input=sql, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("psql failed: " + out.stderr)
    return out.stdout.strip()
