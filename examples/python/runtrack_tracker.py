"""Seed 000's RunResultsTracker API on top of libruntrack (ctypes).

Switching a scraper is a one-line import change:

    # from run_results_tracker import RunResultsTracker, get_database_counts
    from runtrack_tracker import RunResultsTracker, get_database_counts

Nothing else changes: initialize() / finalize() / write_results() / get_summary() behave as
before, but instead of an INSERT into run_results the run is reported as events (run.started at
initialize, run.finished at write_results) to Kafka, and runtrack-consumer fills run_results
(and runs, run_logs) from them. The scraper's db_handler is still used, only for
get_database_counts().

Beyond the seed API, a tracker also offers phase(), progress(), log() and fail() for the
richer seeds (phases, batch/site counters, log lines with levels).

Configuration is libruntrack's environment: RUNTRACK_BROKERS, RUNTRACK_TOPIC, RUNTRACK_KAFKA_*
(see docs/producer.md). RUNTRACK_LIB names the shared library if it is not on the loader path.
Calls never block on Kafka; write_results() waits at most RUNTRACK_PY_FLUSH_TIMEOUT_MS
(default 10000) for delivery and returns False if the events could not be delivered.

fork (os.fork, multiprocessing with the "fork" start method, pre-forking servers): a child can
keep using the trackers it inherited and start its own; libruntrack gives the child its own
connection and sends what the child records. What the child has not delivered yet is flushed
when it exits: through atexit after a normal exit, and through multiprocessing's finalizers in
a multiprocessing child (which leaves with os._exit). A child killed by a signal (for example by
Pool.terminate(), which `with Pool()` calls) loses what it had not delivered: close() and join()
a pool, or call write_results() in the task.
"""
import atexit
import ctypes
import ctypes.util
import json
import logging
import os
import sys
import threading
from datetime import datetime, timezone

__all__ = ["RunResultsTracker", "get_database_counts", "RuntrackError"]

log = logging.getLogger(__name__)

INFO, SUCCESS, WARNING, ERROR = 0, 1, 2, 3
COMPLETED, FAILED, PARTIAL = 1, 2, 3
_LEVELS = {"info": INFO, "success": SUCCESS, "warning": WARNING, "error": ERROR}
_PERCENT_UNSET = -1.0
_QUEUE_FULL = 7  # RUNTRACK_ERR_QUEUE_FULL: the line is dropped and counted, reported by the run


class RuntrackError(RuntimeError):
    pass


class _Counter(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("value", ctypes.c_int64)]


class _StartOpts(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_char_p),
        ("start_counts", ctypes.POINTER(_Counter)),
        ("n_start_counts", ctypes.c_size_t),
        ("params_json", ctypes.c_char_p),
        ("planned", ctypes.POINTER(_Counter)),
        ("n_planned", ctypes.c_size_t),
    ]


class _FinishOpts(ctypes.Structure):
    _fields_ = [
        ("end_counts", ctypes.POINTER(_Counter)),
        ("n_end_counts", ctypes.c_size_t),
        ("counters", ctypes.POINTER(_Counter)),
        ("n_counters", ctypes.c_size_t),
        ("error_message", ctypes.c_char_p),
        ("error_details_json", ctypes.c_char_p),
    ]


def _load():
    path = os.environ.get("RUNTRACK_LIB") or ctypes.util.find_library("runtrack") or "libruntrack.so.0"
    lib = ctypes.CDLL(path)
    vp, cp, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
    lib.runtrack_version.restype = cp
    lib.runtrack_strerror.restype = cp
    lib.runtrack_strerror.argtypes = [ctypes.c_int]
    lib.runtrack_new.restype = vp
    lib.runtrack_new.argtypes = [vp, cp, sz]
    lib.runtrack_flush.argtypes = [vp, ctypes.c_int, ctypes.POINTER(ctypes.c_uint64)]
    lib.runtrack_destroy.argtypes = [vp, ctypes.c_int, ctypes.POINTER(ctypes.c_uint64)]
    lib.runtrack_run_start.restype = vp
    lib.runtrack_run_start.argtypes = [vp, cp, ctypes.POINTER(_StartOpts), cp, sz]
    lib.runtrack_run_id.restype = cp
    lib.runtrack_run_id.argtypes = [vp]
    lib.runtrack_run_phase.argtypes = [vp, cp, cp, sz]
    lib.runtrack_run_progress.argtypes = [vp, ctypes.POINTER(_Counter), sz, ctypes.c_double,
                                          ctypes.c_double, cp, sz]
    lib.runtrack_run_log.argtypes = [vp, ctypes.c_int, cp, cp]
    lib.runtrack_run_finish.argtypes = [vp, ctypes.c_int, ctypes.POINTER(_FinishOpts), cp, sz]
    lib.runtrack_run_destroy.argtypes = [vp]
    return lib


_lock = threading.Lock()
_lib = None
_client = None


def _get_client():
    """The process's one libruntrack client, created on first use and flushed at exit."""
    global _lib, _client
    with _lock:
        if _client is None:
            _lib = _lib or _load()
            err = ctypes.create_string_buffer(512)
            _client = _lib.runtrack_new(None, err, len(err))
            if not _client:
                raise RuntrackError("runtrack: " + err.value.decode(errors="replace"))
            atexit.register(_shutdown)
        return _lib, _client


def _shutdown():
    global _client
    with _lock:
        if _client is not None:
            left = ctypes.c_uint64(0)
            if _lib.runtrack_destroy(_client, _flush_timeout_ms(), ctypes.byref(left)) != 0:
                log.warning("runtrack: %d events not delivered at exit", left.value)
            _client = None


class _ForkToken:
    """multiprocessing's after-fork registry holds its objects by weak reference."""


_fork_token = _ForkToken()


def _add_exit_finalizer(_token):
    import multiprocessing.util as mp_util  # loaded already: we run inside it
    mp_util.Finalize(None, _shutdown, exitpriority=0)


def _after_fork_in_child():
    """In a fork child: a fresh module lock (another thread may have held it at the fork), and,
    for a multiprocessing child, which leaves through os._exit and so skips atexit, a finalizer
    that flushes and closes the client like atexit does. The finalizer is added by an
    after-fork hook of multiprocessing because a Process child clears the finalizers it
    inherited after os.register_at_fork hooks ran and before its after-fork hooks run."""
    global _lock
    _lock = threading.Lock()
    mp_util = sys.modules.get("multiprocessing.util")
    if _client is not None and mp_util is not None:
        mp_util.register_after_fork(_fork_token, _add_exit_finalizer)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _warn_rc(what, rc):
    """Tracking must never break the scraper: a refused call is a warning, not an exception."""
    if rc not in (0, _QUEUE_FULL):
        log.warning("runtrack: %s: %s", what, _lib.runtrack_strerror(rc).decode(errors="replace"))


def _flush_timeout_ms():
    try:
        return int(os.environ.get("RUNTRACK_PY_FLUSH_TIMEOUT_MS", "10000"))
    except ValueError:
        return 10000


def _counters(d):
    items = [(k, int(v)) for k, v in (d or {}).items() if v is not None]
    arr = (_Counter * max(len(items), 1))()
    for i, (k, v) in enumerate(items):
        arr[i].name = k.encode()
        arr[i].value = v
    return arr, len(items)


class RunResultsTracker:
    """Tracks one scraper execution (seed 000 API). Thread-safe like libruntrack itself."""

    def __init__(self, file_name, db_handler=None, kind="scrape", params=None):
        self.file_name = file_name
        self.db_handler = db_handler
        self.kind = kind
        self.params = params
        self.start_time = None
        self.events_count_start = None
        self.urls_count_start = None
        self.events_count_end = None
        self.urls_count_end = None
        self._run = None
        self._lib = None

    # -- seed 000 API --------------------------------------------------------------------
    def initialize(self, events_count, urls_count):
        """Records the baseline counts and starts the run (run.started)."""
        self.events_count_start = int(events_count)
        self.urls_count_start = int(urls_count)
        self.start_time = datetime.now(timezone.utc).replace(tzinfo=None)
        try:
            lib, client = _get_client()
            arr, n = _counters({"events": self.events_count_start, "urls": self.urls_count_start})
            opts = _StartOpts(kind=self.kind.encode(), start_counts=arr, n_start_counts=n,
                              params_json=json.dumps(self.params).encode() if self.params else None)
            err = ctypes.create_string_buffer(512)
            run = lib.runtrack_run_start(client, self.file_name.encode(), ctypes.byref(opts), err,
                                         len(err))
            if not run:
                log.error("runtrack: cannot start run: %s", err.value.decode(errors="replace"))
                return
            self._lib, self._run = lib, run
        except (OSError, RuntrackError) as e:  # tracking must never break the scraper
            log.error("runtrack unavailable: %s", e)

    def finalize(self, events_count, urls_count):
        """Records the final counts (sent by write_results)."""
        self.events_count_end = int(events_count)
        self.urls_count_end = int(urls_count)

    def write_results(self, elapsed_time=None, status="completed", error_message=None,
                      error_details=None):
        """Finishes the run (run.finished) and waits for delivery. elapsed_time is accepted for
        compatibility; the consumer computes it from the events' times. Returns True when the
        events were delivered, False otherwise (like the seed's database error)."""
        if not self._run:
            log.error("Run not initialized (or runtrack unavailable)")
            return False
        end = {}
        if self.events_count_end is not None:
            end["events"] = self.events_count_end
        if self.urls_count_end is not None:
            end["urls"] = self.urls_count_end
        arr, n = _counters(end)
        opts = _FinishOpts(end_counts=arr, n_end_counts=n,
                           error_message=error_message.encode() if error_message else None,
                           error_details_json=(json.dumps(error_details).encode()
                                               if error_details else None))
        st = {"completed": COMPLETED, "failed": FAILED, "partial": PARTIAL}[status]
        err = ctypes.create_string_buffer(512)
        rc = self._lib.runtrack_run_finish(self._run, st, ctypes.byref(opts), err, len(err))
        if rc != 0:
            log.error("runtrack: finish: %s", err.value.decode(errors="replace"))
            return False
        self._lib.runtrack_run_destroy(self._run)
        self._run = None
        _, client = _get_client()
        left = ctypes.c_uint64(0)
        if self._lib.runtrack_flush(client, _flush_timeout_ms(), ctypes.byref(left)) != 0:
            log.error("runtrack: %d events not delivered (broker unreachable?)", left.value)
            return False
        return True

    def get_summary(self):
        def diff(a, b):
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
    def run_id(self):
        return self._lib.runtrack_run_id(self._run).decode() if self._run else None

    def phase(self, name):
        if self._run:
            _warn_rc("phase", self._lib.runtrack_run_phase(self._run, name.encode(), None, 0))

    def progress(self, memory_percent=None, cpu_percent=None, **counters):
        """Absolute counters, e.g. progress(sites_completed=5, sites_total=15)."""
        if self._run:
            arr, n = _counters(counters)
            mem = _PERCENT_UNSET if memory_percent is None else float(memory_percent)
            cpu = _PERCENT_UNSET if cpu_percent is None else float(cpu_percent)
            _warn_rc("progress", self._lib.runtrack_run_progress(self._run, arr, n, mem, cpu,
                                                                 None, 0))

    def log(self, message, level="info", **fields):
        if self._run:
            _warn_rc("log", self._lib.runtrack_run_log(
                self._run, _LEVELS[level], str(message).encode(),
                json.dumps(fields).encode() if fields else None))

    def fail(self, error_message, error_details=None):
        """Finishes the run as failed (instead of write_results)."""
        return self.write_results(status="failed", error_message=error_message,
                                  error_details=error_details)


def get_database_counts(db_handler, events_table="events", urls_table="urls"):
    """(events_count, urls_count) from the scraper's own database; (0, 0) if the query fails.

    Works with a db_handler offering execute_query(sql) (the seed's DatabaseHandler), a DB-API
    connection (cursor()), or get_db_connection() returning either."""
    def count(table):
        sql = f"SELECT COUNT(*) FROM {table}"
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
