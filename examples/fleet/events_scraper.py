#!/usr/bin/env python3
"""Fleet member (seed 000): a scraper that records run_results counts through runtrack.

usage: events_scraper.py JOB RUNS [SECONDS_PER_RUN]
Runs JOB RUNS times in a row. Each run counts the rows of its own "database" (an in-memory
SQLite with events/urls tables) before and after scraping, exactly like seed 000's
RunResultsTracker, whose API the runtrack package keeps: the only change to a seed-000 scraper
is its import line. Needs RUNTRACK_BROKERS (and RUNTRACK_LIB when libruntrack.so.0 is not on
the loader path). Exits 1 if a run's events were not delivered."""
import os
import random
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients",
                                "python", "src"))  # used when runtrack is not installed
from runtrack import RunResultsTracker, get_database_counts  # noqa: E402


def one_run(job, seconds, rnd, db):
    tracker = RunResultsTracker(job, db)
    tracker.initialize(*get_database_counts(db))
    tracker.phase("scraping")
    pages = 5
    for page in range(1, pages + 1):
        time.sleep(seconds / pages)
        new_events = rnd.randint(0, 12)
        db.executemany("INSERT INTO events (name) VALUES (?)",
                       [(f"{job}-{page}-{i}",) for i in range(new_events)])
        db.executemany("INSERT INTO urls (url) VALUES (?)",
                       [(f"https://example.invalid/{job}/{page}/{i}",) for i in range(new_events // 2)])
        tracker.progress(pages_done=page, pages_total=pages, events=get_database_counts(db)[0])
        tracker.log(f"page {page}: {new_events} new events", level="info", page=page)
    db.commit()
    tracker.log("scrape finished", level="success")
    tracker.finalize(*get_database_counts(db))
    return tracker.write_results()


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 64
    job, runs = sys.argv[1], int(sys.argv[2])
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    rnd = random.Random(job)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("CREATE TABLE urls (id INTEGER PRIMARY KEY, url TEXT)")
    db.executemany("INSERT INTO events (name) VALUES (?)", [(f"old{i}",) for i in range(100)])
    ok = all([one_run(job, seconds, rnd, db) for _ in range(runs)])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
