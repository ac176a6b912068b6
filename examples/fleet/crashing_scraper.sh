#!/usr/bin/env bash
# Fleet member: a scraper that dies without finishing its run (think OOM killer or kill -9).
# It starts a run, reports a little progress and exits: no run.finished and no heartbeats, so
# the consumer flags the run stale after stale_after_s and closes it as failed after
# stale_close_after_s (docs/api.md "Stale runs").
set -uo pipefail
RT=${RUNTRACK_CLI:-runtrack}
eval "$("$RT" start --export --job flaky_venues.py --count events=800 --count urls=300)" || exit 1
"$RT" phase scraping
"$RT" log "fetching venue pages"
"$RT" progress pages_done=1 pages_total=10
sleep "${1:-0.5}"
"$RT" log --level warning "memory at 97%"
"$RT" progress --memory 97 pages_done=2 pages_total=10
echo "crashing_scraper: crashing (run $RUNTRACK_RUN_ID is left running)" >&2
exit 137 # as if killed by SIGKILL: nothing after this point is reported
