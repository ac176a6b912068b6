"""Shared pieces of the API tests run by ctest (tests/api/test_*.py): the failure list, check()
(counted in CHECKS) and psql against the test database from tests/lib/rtcheck.py, and an
rt_api_serve process on a free port.

The server binary is argv[1] and the database RUNTRACK_PG_DSN, as tests/api.cmake passes them."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from rtcheck import CHECKS, FAILURES, check, psql  # noqa: F401 (the tests import them here)

SERVE = sys.argv[1]
DSN = os.environ["RUNTRACK_PG_DSN"]


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
