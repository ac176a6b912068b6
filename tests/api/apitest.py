"""Shared pieces of the API tests run by ctest (tests/api/test_*.py): the failure list and
check() (counted in CHECKS), psql against the test database, and an rt_api_serve process on a free port.

The server binary is argv[1] and the database RUNTRACK_PG_DSN, as tests/api.cmake passes them."""
import os
import re
import subprocess
import sys

SERVE = sys.argv[1]
DSN = os.environ["RUNTRACK_PG_DSN"]
FAILURES = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, file=sys.stderr)


def psql(sql):
    out = subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", DSN, "-f", "-"],
                         input=sql, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("psql failed: " + out.stderr)
    return out.stdout.strip()


class ServeProcess:
    """rt_api_serve with maintenance off; base is its http://host:port."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([SERVE, "--maintenance-interval", "0", *args],
                                     stdout=subprocess.PIPE, text=True)
        m = re.match(r"listening (\S+)", self.proc.stdout.readline())
        if not m:
            self.proc.kill()
            raise RuntimeError("rt_api_serve did not start")
        self.base = "http://" + m.group(1)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
