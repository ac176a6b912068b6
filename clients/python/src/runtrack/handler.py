"""runtrack.LogHandler: a scraper's existing `logging` calls become run log lines.

    logging.getLogger().addHandler(runtrack.LogHandler())      # the current run
    logging.getLogger("scraper").addHandler(runtrack.LogHandler(tracker))

Levels map as: ERROR and CRITICAL -> error, WARNING -> warning, a level named SUCCESS -> success,
everything else (INFO; DEBUG when the handler's level lets it through) -> info. The line's fields
carry the logger's name and, for logger.exception(), the traceback. Records of the "runtrack"
logger itself are never sent (no loop through the tracker's own warnings), and emit() never raises.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from ._run import current_run


class LogHandler(logging.Handler):
    """Sends records to `target` (a runtrack Run, RunResultsTracker or DiscoveryService) or, with
    no target, to the run of the innermost `with runtrack.run()` / the initialized tracker of
    this thread or task. Records with no run to go to are dropped. Default level INFO."""

    def __init__(self, target: Any = None, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.target = target

    def _run(self) -> Optional[Any]:
        t = self.target
        if t is None:
            return current_run()
        return getattr(t, "run", t)  # a tracker's or service's run; a Run itself

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.name == "runtrack" or record.name.startswith("runtrack."):
                return
            r = self._run()
            if r is None:
                return
            level = ("error" if record.levelno >= logging.ERROR else
                     "warning" if record.levelno >= logging.WARNING else
                     "success" if record.levelname.upper() == "SUCCESS" else "info")
            fields = {"logger": record.name}
            if record.exc_info:
                fields["exception"] = logging.Formatter().formatException(record.exc_info)
            r.log(record.getMessage(), level, **fields)
        except Exception:  # noqa: BLE001 - logging must never break the scraper either
            pass
