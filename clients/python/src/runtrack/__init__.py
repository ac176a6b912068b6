"""runtrack: report scraper runs to runtrack (libruntrack through ctypes).

Seed 000, only the import changes:
    from runtrack import RunResultsTracker, get_database_counts

Pythonic:
    with runtrack.run("fb_v2.py") as run:      # an exception finishes it as failed
        run.log("page 1 done", page=1)
    logging.getLogger().addHandler(runtrack.LogHandler())

Seed 001's service shape: runtrack.DiscoveryService(job).start_run / complete_run / fail_run /
last_successful_run. No call ever raises because of tracking: failures are logged on the
"runtrack" logger and the call returns False or None. See docs/producer.md, "The Python package".
"""
from ._native import RuntrackError, flush, library_path
from ._run import Run, current_run, run
from .discovery import DiscoveryService, LastRun, last_successful_run
from .handler import LogHandler
from .tracker import RunResultsTracker, get_database_counts

__version__ = "0.1.0"

__all__ = ["RunResultsTracker", "get_database_counts", "Run", "run", "current_run", "LogHandler",
           "DiscoveryService", "LastRun", "last_successful_run", "RuntrackError", "flush",
           "library_path", "__version__"]
