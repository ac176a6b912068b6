#!/usr/bin/env python3
"""A seed-000 scraper as the seed's docs write it, with one change: the import line.

usage: seed000_scraper.py FILE_NAME   (RUNTRACK_BROKERS/RUNTRACK_TOPIC/RUNTRACK_LIB set)
Its db_handler is the seed's shape (execute_query) over an SQLite file with events and urls;
the scrape adds 4 events and 2 urls to 10 events and 5 urls. Exits 0 when write_results()
returned True."""
import asyncio
import os
import sqlite3
import sys
import tempfile
from datetime import datetime

from runtrack import RunResultsTracker, get_database_counts


class DatabaseHandler:
    def __init__(self, path):
        self.conn = sqlite3.connect(path)
        self.conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, name TEXT)")
        self.conn.execute("CREATE TABLE urls (id INTEGER PRIMARY KEY, url TEXT)")
        self.conn.executemany("INSERT INTO events (name) VALUES (?)", [("e%d" % i,) for i in range(10)])
        self.conn.executemany("INSERT INTO urls (url) VALUES (?)", [("u%d" % i,) for i in range(5)])
        self.conn.commit()

    def execute_query(self, sql):
        return self.conn.execute(sql).fetchall()


class MyScraperClass:
    def __init__(self, db_handler, file_name):
        self.db_handler = db_handler

        # Initialize run tracking
        self.run_results_tracker = RunResultsTracker(file_name, db_handler)

        # Get initial database counts
        events_count, urls_count = get_database_counts(db_handler)
        self.run_results_tracker.initialize(events_count, urls_count)

    async def scrape(self):
        for i in range(4):
            self.db_handler.conn.execute("INSERT INTO events (name) VALUES (?)", ("new%d" % i,))
        for i in range(2):
            self.db_handler.conn.execute("INSERT INTO urls (url) VALUES (?)", ("n%d" % i,))
        self.db_handler.conn.commit()

    async def main(self):
        start_time = datetime.now()

        try:
            # Your scraping logic here
            await self.scrape()
        finally:
            # Finalize tracking at the end
            events_count, urls_count = get_database_counts(self.db_handler)
            self.run_results_tracker.finalize(events_count, urls_count)

            # Calculate and write results
            elapsed_time = str(datetime.now() - start_time)
            return self.run_results_tracker.write_results(elapsed_time)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        scraper = MyScraperClass(DatabaseHandler(os.path.join(d, "db.sqlite")), sys.argv[1])
        ok = asyncio.run(scraper.main())
        print(scraper.run_results_tracker.get_summary())
        sys.exit(0 if ok else 1)
