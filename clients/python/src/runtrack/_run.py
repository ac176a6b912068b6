"""Run: one tracked run on libruntrack, and runtrack.run(), the context manager around it.

Every public method keeps the package's one rule: tracking never raises into the scraper. A
failure of tracking (library missing, broker unreachable, a value libruntrack refuses, a bug
here) is logged on the "runtrack" logger and the call returns False or None. Only calling a
method with the wrong signature still raises TypeError, as any Python function does.
"""
from __future__ import annotations

import contextvars
import ctypes
import functools
import logging
import sys
import traceback
import uuid
from types import TracebackType
from typing import Any, Callable, Dict, Optional, Type, TypeVar

from . import _jsonsafe, _native

log = logging.getLogger("runtrack")

F = TypeVar("F", bound=Callable[..., Any])

_LEVELS = {"info": _native.INFO, "success": _native.SUCCESS, "warning": _native.WARNING,
           "warn": _native.WARNING, "error": _native.ERROR, "debug": _native.INFO,
           "critical": _native.ERROR, "fatal": _native.ERROR, "exception": _native.ERROR}

# The run a `with runtrack.run(...)` block (or an initialized RunResultsTracker) is in: where
# runtrack.LogHandler sends records that name no run. A ContextVar, so threads and asyncio
# tasks each see their own.
_current: contextvars.ContextVar[Optional["Run"]] = contextvars.ContextVar("runtrack_current_run",
                                                                           default=None)


def current_run() -> Optional["Run"]:
    """The unfinished run of the innermost `with runtrack.run(...)` (or the last initialized
    RunResultsTracker) in this thread or task, if any."""
    r = _current.get()
    return r if r is not None and not r.finished else None


def never_raise(default: Any) -> Callable[[F], F]:
    """Decorator: an exception inside the call is logged and `default` returned. A TypeError
    raised by the call itself (wrong arguments: no frame of the function ran) still propagates."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except TypeError as e:
                if e.__traceback__ is not None and e.__traceback__.tb_next is None:
                    raise
                log.error("runtrack: %s failed (tracking only, the scraper goes on)",
                          fn.__qualname__, exc_info=True)
            except Exception:  # noqa: BLE001 - the rule of this package
                log.error("runtrack: %s failed (tracking only, the scraper goes on)",
                          fn.__qualname__, exc_info=True)
            return default
        return inner  # type: ignore[return-value]
    return wrap


def level_code(level: Any) -> int:
    """A run log level from "info"/"success"/"warning"/"error" (and aliases) or a logging level
    number; anything else is info (with a warning)."""
    if isinstance(level, str):
        code = _LEVELS.get(level.lower())
        if code is not None:
            return code
    elif isinstance(level, int) and not isinstance(level, bool):
        return (_native.ERROR if level >= logging.ERROR else
                _native.WARNING if level >= logging.WARNING else _native.INFO)
    log.warning("runtrack: unknown log level %.40r; logged as info", level)
    return _native.INFO


def in_event_loop() -> bool:
    """True when called from a thread that is running an asyncio event loop."""
    aio = sys.modules.get("asyncio")
    if aio is None:
        return False
    try:
        aio.get_running_loop()
        return True
    except RuntimeError:
        return False


def canonical_run_id(run_id: Any) -> str:
    """A client-supplied run id as the canonical 36-character UUID text (ValueError if none)."""
    u = run_id if isinstance(run_id, uuid.UUID) else uuid.UUID(str(run_id))
    return str(u)


class Run:
    """One run. Made started by runtrack.run() / start(); thread-safe like libruntrack."""

    def __init__(self, job: str, kind: str = "scrape") -> None:
        self.job = job
        self.kind = kind
        self.last_error: Optional[str] = None  # why the last refused call was refused
        self._handle: Optional[int] = None
        self._lib: Any = None
        self._run_id: Optional[str] = None
        self._finished = False
        self._token: Optional[contextvars.Token] = None

    # -- starting ------------------------------------------------------------------------
    @never_raise(False)
    def start(self, params: Optional[Dict[str, Any]] = None,
              start_counts: Optional[Dict[str, Any]] = None,
              planned: Optional[Dict[str, Any]] = None, run_id: Any = None) -> bool:
        """Records run.started. run_id: a caller's UUID (str or uuid.UUID): starting the same id
        again is idempotent, under another job it is refused (last_error says why). Returns
        whether the run is tracked."""
        if self._handle:
            return True
        try:
            the_lib, client = _native.client()
        except _native.RuntrackError as e:
            return self._refused("runtrack unavailable: %s" % e)
        want_id = None
        if run_id is not None:
            try:
                want_id = canonical_run_id(run_id)
            except (ValueError, TypeError, AttributeError):
                return self._refused("run_id %.60r is not a UUID" % (run_id,))
            if not hasattr(the_lib, "runtrack_run_start_with_id"):
                return self._refused("this libruntrack (%s) cannot start a run with the "
                                     "caller's run_id (no runtrack_run_start_with_id)"
                                     % the_lib.runtrack_version().decode())
        pj = _jsonsafe.params_json(params)
        handle, err = self._start_native(the_lib, client, want_id, pj, start_counts, planned)
        if not handle and pj is not None:
            # Params libruntrack refuses (too large, a discovery date it cannot read) must not
            # cost the run: start it without them.
            handle, err2 = self._start_native(the_lib, client, want_id, None, start_counts,
                                              planned)
            if handle:
                log.warning("runtrack: %s: params refused (%s); run started without them",
                            self.job, err)
        if not handle:
            return self._refused("cannot start run of %s: %s" % (self.job, err))
        self._lib, self._handle = the_lib, handle
        self._run_id = the_lib.runtrack_run_id(handle).decode()
        return True

    def _start_native(self, the_lib: Any, client: int, want_id: Optional[str],
                      params_json: Optional[str], start_counts: Optional[Dict[str, Any]],
                      planned: Optional[Dict[str, Any]]) -> Any:
        sc, nsc = _native.counters(start_counts, "start counts")
        pl, npl = _native.counters(planned, "planned")
        opts = _native.StartOpts(kind=_native.text(self.kind), start_counts=sc, n_start_counts=nsc,
                                 params_json=_native.text(params_json) if params_json else None,
                                 planned=pl, n_planned=npl)
        err = ctypes.create_string_buffer(_native.ERRSTR_SIZE)
        job = _native.text(self.job)
        if want_id is not None:
            h = the_lib.runtrack_run_start_with_id(client, job, want_id.encode(),
                                                   ctypes.byref(opts), err, len(err))
        else:
            h = the_lib.runtrack_run_start(client, job, ctypes.byref(opts), err, len(err))
        return h, err.value.decode(errors="replace")

    def _refused(self, why: str) -> bool:
        self.last_error = why
        log.error("runtrack: %s", why)
        return False

    # -- state ---------------------------------------------------------------------------
    @property
    def run_id(self) -> Optional[str]:
        """The run's id; kept after the run finished. None if the run never started."""
        return self._run_id

    @property
    def started(self) -> bool:
        return self._run_id is not None

    @property
    def finished(self) -> bool:
        return self._finished

    def _live(self, what: str) -> bool:
        if not self._handle:
            return False
        if self._finished:
            log.warning("runtrack: %s after the run finished: ignored", what)
            return False
        return True

    def _rc(self, what: str, rc: int, err: Any = None) -> bool:
        if rc in (0, _native.ERR_QUEUE_FULL):  # a dropped line is counted and reported by the run
            return True
        detail = err.value.decode(errors="replace") if err is not None and err.value else ""
        return self._refused("%s: %s" % (what, detail or _native.strerror(rc)))

    # -- during the run --------------------------------------------------------------------
    @never_raise(False)
    def phase(self, name: str) -> bool:
        if not self._live("phase"):
            return False
        err = ctypes.create_string_buffer(_native.ERRSTR_SIZE)
        return self._rc("phase", self._lib.runtrack_run_phase(self._handle, _native.text(name),
                                                              err, len(err)), err)

    @never_raise(False)
    def progress(self, memory_percent: Optional[float] = None,
                 cpu_percent: Optional[float] = None, **counters: Any) -> bool:
        """Absolute counters, e.g. progress(sites_completed=5, sites_total=15)."""
        if not self._live("progress"):
            return False
        arr, n = _native.counters(counters, "progress")
        mem = _native.PERCENT_UNSET if memory_percent is None else float(memory_percent)
        cpu = _native.PERCENT_UNSET if cpu_percent is None else float(cpu_percent)
        err = ctypes.create_string_buffer(_native.ERRSTR_SIZE)
        return self._rc("progress", self._lib.runtrack_run_progress(
            self._handle, arr, n, mem, cpu, err, len(err)), err)

    @never_raise(False)
    def log(self, message: Any, level: Any = "info", **fields: Any) -> bool:
        """One run log line; fields are any values (dates as ISO 8601, see _jsonsafe)."""
        if not self._live("log"):
            return False
        fj = _jsonsafe.dumps(fields, "log fields") if fields else None
        return self._rc("log", self._lib.runtrack_run_log(
            self._handle, level_code(level), _native.text(message),
            _native.text(fj) if fj else None))

    # -- finishing -------------------------------------------------------------------------
    @never_raise(False)
    def finish(self, status: str = "completed", end_counts: Optional[Dict[str, Any]] = None,
               counters: Optional[Dict[str, Any]] = None, error_message: Any = None,
               error_details: Any = None, wait: bool = True) -> bool:
        """Records run.finished and (wait=True) waits up to RUNTRACK_PY_FLUSH_TIMEOUT_MS for
        delivery. Returns True when delivered; inside a running asyncio event loop it does not
        wait (that would block the loop) and returns True once recorded: use afinish()."""
        if not self._handle:
            return self._refused("finish: the run was never started")
        if self._finished:
            return self._refused("finish: the run is already finished")
        st = _native.STATUSES.get(status)
        if st is None:
            log.warning("runtrack: unknown status %.40r; finished as failed", status)
            st = _native.FAILED
        ec, nec = _native.counters(end_counts, "end counts")
        fc, nfc = _native.counters(counters, "counters")
        if error_details is not None and not isinstance(error_details, dict):
            error_details = {"details": error_details}
        dj = _jsonsafe.dumps(error_details, "error_details") if error_details else None
        opts = _native.FinishOpts(
            end_counts=ec, n_end_counts=nec, counters=fc, n_counters=nfc,
            error_message=_native.text(error_message) if error_message is not None else None,
            error_details_json=_native.text(dj) if dj else None)
        err = ctypes.create_string_buffer(_native.ERRSTR_SIZE)
        rc = self._lib.runtrack_run_finish(self._handle, st, ctypes.byref(opts), err, len(err))
        if not self._rc("finish", rc, err):
            return False
        self._finished = True
        self._leave_current()
        if not wait or in_event_loop():
            return True
        return self.wait_delivered()

    @never_raise(False)
    def wait_delivered(self, timeout_ms: Optional[int] = None) -> bool:
        """Waits for every event recorded so far (by any run of this process)."""
        left = _native.flush(timeout_ms)
        if left:
            return self._refused("%d events not delivered (broker unreachable?)" % left)
        return True

    async def afinish(self, *args: Any, **kwargs: Any) -> bool:
        """finish() for asyncio code: records at once, waits for delivery in a worker thread."""
        import asyncio
        if not self.finish(*args, wait=False, **kwargs):
            return False
        return await asyncio.get_running_loop().run_in_executor(None, self.wait_delivered)

    def fail(self, error_message: Any, error_details: Any = None) -> bool:
        return self.finish("failed", error_message=error_message, error_details=error_details)

    # -- context manager -------------------------------------------------------------------
    def _enter_current(self) -> None:
        self._token = _current.set(self)

    def _leave_current(self) -> None:
        if self._token is not None:
            try:
                _current.reset(self._token)
            except ValueError:  # finished from another context: leave it to that one
                pass
            self._token = None

    def __enter__(self) -> "Run":
        self._enter_current()
        return self

    def __exit__(self, et: Optional[Type[BaseException]], ev: Optional[BaseException],
                 tb: Optional[TracebackType]) -> bool:
        self._close_on_exit(ev)
        return False  # never swallows the scraper's exception

    async def __aenter__(self) -> "Run":
        return self.__enter__()

    async def __aexit__(self, et: Optional[Type[BaseException]], ev: Optional[BaseException],
                        tb: Optional[TracebackType]) -> bool:
        try:
            if not self._finished and self._handle:
                status, message, details = outcome(ev)
                await self.afinish(status, error_message=message, error_details=details)
            self._leave_current()
        except Exception:  # noqa: BLE001 - the rule of this package
            log.error("runtrack: finishing %s failed (tracking only)", self.job, exc_info=True)
        return False

    @never_raise(None)
    def _close_on_exit(self, ev: Optional[BaseException]) -> None:
        if not self._finished and self._handle:
            status, message, details = outcome(ev)
            self.finish(status, error_message=message, error_details=details)
        self._leave_current()

    def __del__(self) -> None:
        # The handle is released only here, never in finish(): another thread may still be
        # logging into the run, and libruntrack's handles must not race their destroy.
        # After the client is destroyed (at exit) its runs are freed with it: leave them.
        try:
            h, the_lib = self._handle, self._lib
            self._handle = None
            if h and the_lib is not None and _native.has_client():
                the_lib.runtrack_run_destroy(h)
        except Exception:  # noqa: BLE001 - interpreter shutdown tears modules down
            pass


def outcome(ev: Optional[BaseException]) -> tuple:
    """(status, error_message, error_details) for how a `with` block ended."""
    if ev is None:
        return "completed", None, None
    if isinstance(ev, KeyboardInterrupt):
        return "failed", "interrupted", {"exception": "KeyboardInterrupt"}
    if isinstance(ev, SystemExit):
        code = ev.code
        if code in (None, 0):
            return "completed", None, None
        return "failed", "exit status %s" % (code,), {"exception": "SystemExit", "code": code}
    name = type(ev).__qualname__
    mod = type(ev).__module__
    if mod not in ("builtins", None):
        name = "%s.%s" % (mod, name)
    tb = "".join(traceback.format_exception(type(ev), ev, ev.__traceback__))
    message = str(ev) or name
    return "failed", message, {"exception": name, "traceback": tb}


def run(job: str, kind: str = "scrape", params: Optional[Dict[str, Any]] = None,
        start_counts: Optional[Dict[str, Any]] = None, planned: Optional[Dict[str, Any]] = None,
        run_id: Any = None) -> Run:
    """Starts a run for a `with` (or `async with`) block:

        with runtrack.run("fb_v2.py", params={"site": "x"}) as r:
            r.log("page 1 done")

    The block's end finishes the run: completed, or failed when an exception leaves it (its
    message, and the type and traceback in error_details); KeyboardInterrupt is failed
    "interrupted". The exception is never swallowed. If tracking is unavailable the block still
    runs and every call on r is a no-op returning False."""
    r = Run(job, kind)
    r.start(params=params, start_counts=start_counts, planned=planned, run_id=run_id)
    return r
