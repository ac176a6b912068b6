"""Seed 000's RunResultsTracker and get_database_counts, unchanged in use:

    # from run_results_tracker import RunResultsTracker, get_database_counts
    from runtrack import RunResultsTracker, get_database_counts

initialize() starts the run (run.started with the baseline counts), finalize() keeps the final
counts, write_results() finishes it (run.finished) and waits for delivery, returning True when
delivered and False otherwise (the seed's "database error"); runtrack-consumer fills run_results
(and runs, run_logs) from the events. Beyond the seed: phase(), progress(), log(), fail(),
run_id (kept after write_results) and a caller's run_id.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Tuple

from ._run import Run, _current, never_raise

log = logging.getLogger("runtrack")


def _count(v: Any, what: str) -> Optional[int]:
    if v is None:
        return None
    try:
        return int(v)
    except (TypeError, ValueError, OverflowError):
        log.warning("runtrack: %s = %.40r is not an integer; left out", what, v)
        return None


class RunResultsTracker:
    """Tracks one scraper execution (seed 000 API). Thread-safe like libruntrack itself."""

    def __init__(self, file_name: str, db_handler: Any = None, kind: str = "scrape",
                 params: Optional[Dict[str, Any]] = None, run_id: Any = None) -> None:
        self.file_name = file_name
        self.db_handler = db_handler
        self.kind = kind
        self.params = params
        self.requested_run_id = run_id
        self.start_time: Optional[datetime] = None
        self.events_count_start: Optional[int] = None
        self.urls_count_start: Optional[int] = None
        self.events_count_end: Optional[int] = None
        self.urls_count_end: Optional[int] = None
        self._run = Run(file_name, kind)

    # -- seed 000 API --------------------------------------------------------------------
    @never_raise(None)
    def initialize(self, events_count: int, urls_count: int) -> None:
        """Records the baseline counts and starts the run (run.started)."""
        self.events_count_start = _count(events_count, "events_count")
        self.urls_count_start = _count(urls_count, "urls_count")
        self.start_time = datetime.now(timezone.utc).replace(tzinfo=None)
        if self._run.start(params=self.params, run_id=self.requested_run_id,
                           start_counts={"events": self.events_count_start,
                                         "urls": self.urls_count_start}):
            # runtrack.LogHandler without a run logs into the scraper's current run.
            self._run._token = _current.set(self._run)

    @never_raise(None)
    def finalize(self, events_count: int, urls_count: int) -> None:
        """Records the final counts (sent by write_results)."""
        self.events_count_end = _count(events_count, "events_count")
        self.urls_count_end = _count(urls_count, "urls_count")

    @never_raise(False)
    def write_results(self, elapsed_time: Any = None, status: str = "completed",
                      error_message: Any = None, error_details: Any = None) -> bool:
        """Finishes the run (run.finished) and waits for delivery. elapsed_time is accepted for
        compatibility; the consumer computes it from the events' times. True when the events
        were delivered, False otherwise (like the seed's database error). Inside a running
        asyncio event loop it does not wait (see write_results_async)."""
        if not self._run.started:
            log.error("runtrack: run not initialized (or runtrack unavailable): %s",
                      self._run.last_error or "initialize() was not called")
            return False
        return self._run.finish(status, end_counts=self._end_counts(),
                                error_message=error_message, error_details=error_details)

    async def write_results_async(self, elapsed_time: Any = None, status: str = "completed",
                                  error_message: Any = None, error_details: Any = None) -> bool:
        """write_results() for asyncio code: waits for delivery without blocking the loop."""
        if not self._run.started:
            return self.write_results(elapsed_time, status, error_message, error_details)
        return await self._run.afinish(status, end_counts=self._end_counts(),
                                       error_message=error_message, error_details=error_details)

    def _end_counts(self) -> Dict[str, Optional[int]]:
        return {"events": self.events_count_end, "urls": self.urls_count_end}

    @never_raise({})
    def get_summary(self) -> Dict[str, Any]:
        def diff(a: Optional[int], b: Optional[int]) -> Optional[int]:
            return b - a if a is not None and b is not None else None

        return {
            "file_name": self.file_name,
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "events_count_start": self.events_count_start,
            "urls_count_start": self.urls_count_start,
            "events_count_end": self.events_count_end,
            "urls_count_end": self.urls_count_end,
            "new_events_in_db": diff(self.events_count_start, self.events_count_end),
            "new_urls_in_db": diff(self.urls_count_start, self.urls_count_end),
        }

    # -- beyond the seed -----------------------------------------------------------------
    @property
    def run_id(self) -> Optional[str]:
        """The run's id from initialize() on, kept after write_results(); None if not tracked."""
        return self._run.run_id

    @property
    def run(self) -> Run:
        return self._run

    @property
    def last_error(self) -> Optional[str]:
        return self._run.last_error

    def phase(self, name: str) -> bool:
        return self._run.phase(name)

    def progress(self, memory_percent: Optional[float] = None,
                 cpu_percent: Optional[float] = None, **counters: Any) -> bool:
        """Absolute counters, e.g. progress(sites_completed=5, sites_total=15)."""
        return self._run.progress(memory_percent, cpu_percent, **counters)

    def log(self, message: Any, level: Any = "info", **fields: Any) -> bool:
        return self._run.log(message, level, **fields)

    def fail(self, error_message: Any, error_details: Any = None) -> bool:
        """Finishes the run as failed (instead of write_results)."""
        return self.write_results(status="failed", error_message=error_message,
                                  error_details=error_details)


def get_database_counts(db_handler: Any, events_table: str = "events",
                        urls_table: str = "urls") -> Tuple[int, int]:
    """(events_count, urls_count) from the scraper's own database; (0, 0) if the query fails.

    Works with a db_handler offering execute_query(sql) (the seed's DatabaseHandler), a DB-API
    connection (cursor()), get_db_connection() returning either, or a SQLAlchemy engine."""
    def count(table: str) -> int:
        sql = "SELECT COUNT(*) FROM %s" % table
        h = db_handler
        if hasattr(h, "execute_query"):
            rows = h.execute_query(sql)
            return int(rows[0][0])
        if hasattr(h, "get_db_connection"):
            h = h.get_db_connection()
        if hasattr(h, "cursor"):
            cur = h.cursor()
            try:
                cur.execute(sql)
                return int(cur.fetchone()[0])
            finally:
                cur.close()
        with h.connect() as conn:  # SQLAlchemy engine
            from sqlalchemy import text  # noqa: import only when needed
            return int(conn.execute(text(sql)).scalar())

    if db_handler is None:
        log.error("Database handler not configured")
        return 0, 0
    try:
        return count(events_table), count(urls_table)
    except Exception as e:  # noqa: BLE001 - the seed's contract: (0, 0) on any failure
        log.error("get_database_counts failed: %s", e)
        return 0, 0
