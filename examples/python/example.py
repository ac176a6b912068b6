#!/usr/bin/env python3
"""A seed-000 style scraper using the runtrack package (the only change: the import line).

Its "own database" is a throw-away SQLite file with events/urls tables, so that
get_database_counts has something real to count. Needs RUNTRACK_BROKERS; RUNTRACK_LIB if
libruntrack.so.0 is not on the loader path. Prints the run id; exits 1 if not delivered.

Install the package first (`pip install ./clients/python`, offline); run from the source tree
without installing, it is taken from clients/python/src."""
import os
import sqlite3
import sys
import tempfile
from datetime import datetime

try:
    from runtrack import RunResultsTracker, get_database_counts
except ImportError:  # not installed: use the source tree's copy
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "clients", "python", "src"))
    from runtrack import RunResultsTracker, get_database_counts


def main():
    with tempfile.TemporaryDirectory() as d:
        db = sqlite3.connect(os.path.join(d, "scraper.db"))
        db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("CREATE TABLE urls (id INTEGER PRIMARY KEY, url TEXT)")
        db.executemany("INSERT INTO events (name) VALUES (?)", [(f"e{i}",) for i in range(10)])
        db.commit()

        tracker = RunResultsTracker("example.py", db)
        events_count, urls_count = get_database_counts(db)
        tracker.initialize(events_count, urls_count)
        print(tracker.run_id)
        start_time = datetime.now()
        try:
            tracker.phase("scraping")
            for i in range(3):
                db.execute("INSERT INTO urls (url) VALUES (?)", (f"https://example.invalid/{i}",))
                db.execute("INSERT INTO events (name) VALUES (?)", (f"new{i}",))
                tracker.progress(sites_completed=i + 1, sites_total=3)
                tracker.log(f"site {i} scraped", level="success", site=i, at=datetime.now())
            db.commit()
        finally:
            events_count, urls_count = get_database_counts(db)
            tracker.finalize(events_count, urls_count)
            elapsed_time = str(datetime.now() - start_time)
            ok = tracker.write_results(elapsed_time)
        summary = tracker.get_summary()
        assert summary["new_events_in_db"] == 3 and summary["new_urls_in_db"] == 3, summary
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
