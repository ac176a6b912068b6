"""Seed 001's discovery service shape on runtrack, and last_successful_run() through the HTTP API.

    svc = runtrack.DiscoveryService("sam_discovery.py")
    last = svc.last_successful_run()
    svc.start_run(all_naics, posted_from=last.completed_at if last else None)
    try:
        ...
        svc.complete_run({"found": 120, "new": 30, "updated": 10, "unchanged": 80,
                          "api_calls": 42})
    except Exception as e:
        svc.fail_run(str(e))
        raise

Runs have kind "discovery", so runtrack-consumer keeps seed 001's discovery_runs table (status,
NAICS codes, posted_from/posted_to dates, counts, errors). A datetime given as posted_from or
posted_to (seed 001 passes last_run.completed_at) fills the DATE column with its date.
"""
from __future__ import annotations

import json
import logging
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, Optional

from ._run import Run, never_raise

log = logging.getLogger("runtrack")

# Seed 001's results keys -> runtrack counters (discovery_runs columns).
_RESULT_COUNTERS = {"found": "found", "new": "new", "updated": "updated",
                    "unchanged": "unchanged", "api_calls": "api_calls",
                    "evaluations_created": "evaluations_created", "evaluations": "evaluations_created"}


def api_url() -> str:
    """The runtrack HTTP API: RUNTRACK_API (as the CLI's query commands), else
    http://127.0.0.1:8080."""
    return os.environ.get("RUNTRACK_API") or "http://127.0.0.1:8080"


def api_key() -> Optional[str]:
    """The API key as the CLI's query commands find it: the first line of RUNTRACK_API_KEY_FILE,
    else RUNTRACK_API_KEY, else the older RUNTRACK_API_TOKEN. Never logged."""
    path = os.environ.get("RUNTRACK_API_KEY_FILE")
    if path:
        with open(path, encoding="utf-8") as fh:
            key = fh.readline().strip()
        if key:
            return key
    return os.environ.get("RUNTRACK_API_KEY") or os.environ.get("RUNTRACK_API_TOKEN") or None


def parse_time(s: Optional[str]) -> Optional[datetime]:
    """An API time ("2026-11-25T11:15:48.123456Z") as a naive UTC datetime, like seed 001's
    DateTime columns (datetime.utcnow())."""
    if not s:
        return None
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc).replace(tzinfo=None)
    return t


@dataclass
class LastRun:
    """The last completed run of a job, as /api/jobs/{job}/last-success reports it."""
    run_id: str
    job: str
    completed_at: Optional[datetime]
    started_at: Optional[datetime]
    status: str = "completed"
    counters: Dict[str, Any] = field(default_factory=dict)
    params: Optional[Dict[str, Any]] = None


@never_raise(None)
def last_successful_run(job: str, api: Optional[str] = None,
                        timeout: float = 10.0) -> Optional[LastRun]:
    """The job's last completed run from the HTTP API (None when it never succeeded). A failing
    API is logged on the "runtrack" logger and also gives None: start from scratch."""
    base = (api or api_url()).rstrip("/")
    req = urllib.request.Request(base + "/api/jobs/%s/last-success" % urllib.parse.quote(job, ""))
    token = api_key()
    if token:
        req.add_header("Authorization", "Bearer " + token)
    ca = os.environ.get("RUNTRACK_API_CA")
    ctx = ssl.create_default_context(cafile=ca) if ca and base.startswith("https:") else None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:
            body = json.loads(resp.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError, ssl.SSLError) as e:
        log.error("runtrack: last successful run of %s: %s: %s", job, base, e)
        return None
    ls = body.get("last_success")
    if not ls:
        return None
    return LastRun(run_id=ls["run_id"], job=ls.get("job", job),
                   completed_at=parse_time(body.get("completed_at") or ls.get("completed_at")),
                   started_at=parse_time(ls.get("started_at")), status=ls.get("status", "completed"),
                   counters=ls.get("counters") or {}, params=ls.get("params"))


class DiscoveryService:
    """Seed 001's DiscoveryService for one job; the database session and run object of the seed
    are replaced by this service's current run."""

    def __init__(self, job: str = "discovery", api: Optional[str] = None) -> None:
        self.job = job
        self.api = api
        self.run: Optional[Run] = None

    @never_raise(None)
    def start_run(self, naics_codes: Optional[Iterable[Any]] = None, posted_from: Any = None,
                  posted_to: Any = None, run_id: Any = None) -> Optional[Run]:
        """Starts a discovery run (status running); returns it, or None if it is not tracked."""
        params: Dict[str, Any] = {}
        if naics_codes is not None:
            params["naics_codes"] = list(naics_codes)
        if posted_from is not None:
            params["posted_from"] = posted_from
        if posted_to is not None:
            params["posted_to"] = posted_to
        r = Run(self.job, "discovery")
        self.run = r
        return r if r.start(params=params or None, run_id=run_id) else None

    @never_raise(False)
    def complete_run(self, results: Optional[Dict[str, Any]] = None, status: str = "completed",
                     error: Any = None, details: Any = None) -> bool:
        """Finishes the run as completed (or status="partial" with error/details) with seed
        001's results: found, new, updated, unchanged, api_calls (evaluations_created)."""
        counters = {_RESULT_COUNTERS[k]: v for k, v in (results or {}).items()
                    if k in _RESULT_COUNTERS}
        for k in (results or {}):
            if k not in _RESULT_COUNTERS:
                log.warning("runtrack: complete_run: result %r is not a discovery count; "
                            "left out", k)
        return self._finish(status, counters=counters, error_message=error, error_details=details)

    @never_raise(False)
    def fail_run(self, error: Any, details: Any = None) -> bool:
        """Finishes the run as failed with the error message and details (a dict)."""
        return self._finish("failed", error_message=error, error_details=details)

    def _finish(self, status: str, **kw: Any) -> bool:
        if self.run is None:
            log.error("runtrack: %s: no run started", self.job)
            return False
        return self.run.finish(status, **kw)

    def last_successful_run(self) -> Optional[LastRun]:
        """The job's last completed run (through the HTTP API), None if there is none."""
        return last_successful_run(self.job, self.api)

    # Seed 001's name for the same query.
    get_last_successful_run = last_successful_run
