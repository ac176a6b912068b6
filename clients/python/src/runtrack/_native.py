"""libruntrack through ctypes: loading, the process's one client, fork and exit.

The library is found through RUNTRACK_LIB (a path), else the loader's search
(ctypes.util.find_library("runtrack"): ldconfig's cache, LD_LIBRARY_PATH), else
"libruntrack.so.0" by name. Nothing here waits on Kafka except flush() and the exit flush, and
ctypes releases the GIL around every call, so other threads run meanwhile.

fork (os.fork, multiprocessing's "fork" start method, pre-forking servers): libruntrack gives a
child its own Kafka handle on its first call; here the child gets a fresh module lock (another
thread may have held this one at the fork) and, in a multiprocessing child (which leaves through
os._exit and so skips atexit), a finalizer that flushes like atexit does.
"""
from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import logging
import os
import sys
import threading
from typing import Any, Dict, Iterable, Optional, Tuple

log = logging.getLogger("runtrack")

INFO, SUCCESS, WARNING, ERROR = 0, 1, 2, 3
COMPLETED, FAILED, PARTIAL = 1, 2, 3
STATUSES = {"completed": COMPLETED, "failed": FAILED, "partial": PARTIAL}
PERCENT_UNSET = -1.0
ERR_QUEUE_FULL = 7  # the line is dropped and counted; the run reports it (dropped_logs)
ERRSTR_SIZE = 512


class RuntrackError(RuntimeError):
    """libruntrack could not be loaded or its client could not be created."""


class Counter(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("value", ctypes.c_int64)]


class StartOpts(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_char_p),
        ("start_counts", ctypes.POINTER(Counter)),
        ("n_start_counts", ctypes.c_size_t),
        ("params_json", ctypes.c_char_p),
        ("planned", ctypes.POINTER(Counter)),
        ("n_planned", ctypes.c_size_t),
    ]


class FinishOpts(ctypes.Structure):
    _fields_ = [
        ("end_counts", ctypes.POINTER(Counter)),
        ("n_end_counts", ctypes.c_size_t),
        ("counters", ctypes.POINTER(Counter)),
        ("n_counters", ctypes.c_size_t),
        ("error_message", ctypes.c_char_p),
        ("error_details_json", ctypes.c_char_p),
    ]


class Stats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "recorded", "produced", "delivered", "failed", "retried", "dropped_logs",
        "coalesced_progress", "queued", "recreations")] + [("reserved", ctypes.c_uint64 * 7)]


def _declare(lib: Any) -> Any:
    vp, cp, sz, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int
    u64p = ctypes.POINTER(ctypes.c_uint64)
    lib.runtrack_version.restype = cp
    lib.runtrack_strerror.restype = cp
    lib.runtrack_strerror.argtypes = [i]
    lib.runtrack_new.restype = vp
    lib.runtrack_new.argtypes = [vp, cp, sz]
    lib.runtrack_flush.argtypes = [vp, i, u64p]
    lib.runtrack_destroy.argtypes = [vp, i, u64p]
    lib.runtrack_run_start.restype = vp
    lib.runtrack_run_start.argtypes = [vp, cp, ctypes.POINTER(StartOpts), cp, sz]
    if hasattr(lib, "runtrack_run_start_with_id"):  # client-supplied run ids (newer libraries)
        lib.runtrack_run_start_with_id.restype = vp
        lib.runtrack_run_start_with_id.argtypes = [vp, cp, cp, ctypes.POINTER(StartOpts), cp, sz]
    lib.runtrack_run_id.restype = cp
    lib.runtrack_run_id.argtypes = [vp]
    lib.runtrack_run_phase.argtypes = [vp, cp, cp, sz]
    lib.runtrack_run_progress.argtypes = [vp, ctypes.POINTER(Counter), sz, ctypes.c_double,
                                          ctypes.c_double, cp, sz]
    lib.runtrack_run_log.argtypes = [vp, i, cp, cp]
    lib.runtrack_run_finish.argtypes = [vp, i, ctypes.POINTER(FinishOpts), cp, sz]
    lib.runtrack_run_destroy.argtypes = [vp]
    lib.runtrack_stats.argtypes = [vp, ctypes.POINTER(Stats)]
    return lib


def library_path() -> str:
    return (os.environ.get("RUNTRACK_LIB") or ctypes.util.find_library("runtrack")
            or "libruntrack.so.0")


_lock = threading.Lock()
_lib: Any = None
_client: Optional[int] = None


def lib() -> Any:
    """The loaded library (RuntrackError if it cannot be loaded)."""
    global _lib
    with _lock:
        if _lib is None:
            path = library_path()
            try:
                _lib = _declare(ctypes.CDLL(path))
            except (OSError, AttributeError) as e:
                raise RuntrackError("cannot load libruntrack (%s): %s; set RUNTRACK_LIB to its "
                                    "path" % (path, e)) from None
        return _lib


def client() -> Tuple[Any, int]:
    """(library, client): the process's one libruntrack client, made on first use and flushed at
    exit. RuntrackError if it cannot be made (bad RUNTRACK_* configuration)."""
    global _client
    the_lib = lib()
    with _lock:
        if _client is None:
            err = ctypes.create_string_buffer(ERRSTR_SIZE)
            c = the_lib.runtrack_new(None, err, len(err))
            if not c:
                raise RuntrackError("runtrack: " + err.value.decode(errors="replace"))
            _client = c
            atexit.register(shutdown)
        return the_lib, _client


def has_client() -> bool:
    return _client is not None


def flush_timeout_ms() -> int:
    """RUNTRACK_PY_FLUSH_TIMEOUT_MS (default 10000): how long write_results waits for delivery."""
    try:
        return int(os.environ.get("RUNTRACK_PY_FLUSH_TIMEOUT_MS", "10000"))
    except ValueError:
        return 10000


def flush(timeout_ms: Optional[int] = None) -> int:
    """Waits up to timeout_ms for every recorded event; returns how many are still undelivered."""
    the_lib, c = client()
    left = ctypes.c_uint64(0)
    ms = flush_timeout_ms() if timeout_ms is None else timeout_ms
    if the_lib.runtrack_flush(c, ms, ctypes.byref(left)) != 0:
        return max(int(left.value), 1)
    return 0


def shutdown() -> None:
    """atexit (and a multiprocessing child's finalizer): flush, then destroy the client."""
    global _client
    with _lock:
        if _client is not None:
            left = ctypes.c_uint64(0)
            if _lib.runtrack_destroy(_client, flush_timeout_ms(), ctypes.byref(left)) != 0:
                log.warning("runtrack: %d events not delivered at exit", left.value)
            _client = None


def strerror(rc: int) -> str:
    return lib().runtrack_strerror(rc).decode(errors="replace")


def text(s: Any) -> bytes:
    """A str for C: UTF-8, lone surrogates replaced (libruntrack checks UTF-8 too)."""
    return (s if isinstance(s, str) else str(s)).encode("utf-8", "replace")


def counters(d: Optional[Dict[str, Any]], where: str) -> Tuple[Any, int]:
    """A runtrack_counter_t array from a dict. A value that is not an integer >= 0 (after int())
    is left out with a warning: the other counters are still sent."""
    items = []
    for k, v in (d or {}).items():
        if v is None:
            continue
        try:
            n = int(v)
        except (TypeError, ValueError, OverflowError):
            log.warning("runtrack: %s: counter %r = %.40r is not an integer; left out", where, k, v)
            continue
        if n < 0 or n > 2**63 - 1:
            log.warning("runtrack: %s: counter %r = %d out of range 0..2^63-1; left out", where,
                        k, n)
            continue
        items.append((text(k), n))
    arr = (Counter * max(len(items), 1))()
    for i, (k, n) in enumerate(items):
        arr[i].name = k
        arr[i].value = n
    return arr, len(items)


def names(items: Iterable[str]) -> str:
    return ", ".join(sorted(items))


class _ForkToken:
    """multiprocessing's after-fork registry holds its objects by weak reference."""


_fork_token = _ForkToken()


def _add_exit_finalizer(_token: Any) -> None:
    import multiprocessing.util as mp_util  # loaded already: we run inside it
    mp_util.Finalize(None, shutdown, exitpriority=0)


def fork_flush_ms() -> int:
    """RUNTRACK_PY_FORK_FLUSH_MS (default 500, 0 = off): the bound of the flush before a fork."""
    try:
        return max(0, int(os.environ.get("RUNTRACK_PY_FORK_FLUSH_MS", "500")))
    except ValueError:
        return 500


def _before_fork() -> None:
    """Delivers what is queued before the fork, for at most fork_flush_ms(). A child forked
    while the parent's Kafka handle still had events in flight sometimes could not deliver its
    own events at all (measured: about 1 fork in 20 with libruntrack 0.1.0; none after a
    flush); an idle client forks cleanly. Costs nothing when nothing is queued."""
    c, the_lib = _client, _lib
    ms = fork_flush_ms()
    if c is None or the_lib is None or ms == 0:
        return
    try:
        st = Stats()
        the_lib.runtrack_stats(c, ctypes.byref(st))
        if st.queued:
            the_lib.runtrack_flush(c, ms, None)
    except Exception:  # noqa: BLE001 - a fork must never fail because of tracking
        pass


def _after_fork_in_child() -> None:
    """A fresh module lock, and for a multiprocessing child a finalizer that flushes at its
    exit. The finalizer is added by an after-fork hook of multiprocessing because a Process
    child clears the finalizers it inherited after os.register_at_fork hooks ran and before
    its own after-fork hooks run."""
    global _lock
    _lock = threading.Lock()
    mp_util = sys.modules.get("multiprocessing.util")
    if _client is not None and mp_util is not None:
        mp_util.register_after_fork(_fork_token, _add_exit_finalizer)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
