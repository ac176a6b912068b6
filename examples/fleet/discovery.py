#!/usr/bin/env python3
"""Fleet member (seed 001): opportunity discovery runs that complete, partially complete, fail.

usage: discovery.py [SECONDS_PER_RUN]
Three runs of job "sam_discovery.py" with kind "discovery", so the consumer keeps seed 001's
discovery_runs table (status, NAICS codes, date range, API calls, found/new/updated/unchanged,
evaluations, error message and details). Needs RUNTRACK_BROKERS (RUNTRACK_LIB if needed)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients",
                                "python", "src"))  # used when runtrack is not installed
from runtrack import RunResultsTracker  # noqa: E402

JOB = "sam_discovery.py"


def run(outcome, seconds):
    params = {"naics_codes": ["541511", "541512", "541519"],
              "posted_from": "2026-11-01", "posted_to": "2026-11-24"}
    t = RunResultsTracker(JOB, kind="discovery", params=params)
    t.initialize(0, 0)
    t.phase("searching")
    counters = {"api_calls": 0, "found": 0, "new": 0, "updated": 0, "unchanged": 0,
                "evaluations_created": 0}
    pages = 4
    for page in range(1, pages + 1):
        time.sleep(seconds / pages)
        if outcome == "failed" and page == 3:
            t.log("SAM.gov API: HTTP 429 Too Many Requests, giving up", level="error", page=page)
            t.progress(**counters)
            return t.fail("SAM.gov API rate limit exceeded",
                          {"http_status": 429, "page": page, "retry_after_s": 3600})
        counters["api_calls"] += 1
        if outcome == "partial" and page == 2:
            t.log("page 2: HTTP 500, skipped", level="warning", page=page)
            continue
        counters["found"] += 25
        counters["new"] += 4
        counters["updated"] += 6
        counters["unchanged"] += 15
        t.progress(**counters)
        t.log(f"page {page}: 25 opportunities", page=page)
    t.phase("evaluating")
    counters["evaluations_created"] = counters["new"]
    t.progress(**counters)
    t.finalize(0, 0)
    if outcome == "partial":
        return t.write_results(status="partial", error_message="1 of 4 result pages failed",
                               error_details={"failed_pages": [2]})
    return t.write_results()


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    ok = all([run(o, seconds) for o in ("completed", "partial", "failed", "completed")])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
