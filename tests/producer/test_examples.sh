#!/usr/bin/env bash
# The adoption examples work end to end against the dev broker and emit valid events:
# examples/c_scraper (C library), examples/shell_scraper.sh (CLI), examples/python/example.py
# (seed 000 RunResultsTracker from the runtrack package). Run under tests/lib/with_services.sh.
set -uo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/producer/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset RUNTRACK_RUN_ID RUNTRACK_JOB RUNTRACK_KIND
# Generous delivery waits: a loaded 2-core machine running ASan builds is slow, not broken.
export RUNTRACK_TIMEOUT=30 RUNTRACK_PY_FLUSH_TIMEOUT_MS=30000

CID=$("$RUNTRACK_BUILD_DIR/examples/c_scraper" 15 1 2>"$tmp/c.err") && ok "c_scraper" ||
    fail "c_scraper exited $?: $(cat "$tmp/c.err")"
RUNTRACK_CLI=$RT "$RUNTRACK_SOURCE_DIR/examples/shell_scraper.sh" >"$tmp/sh.out" 2>&1 &&
    ok "shell_scraper.sh" || fail "shell_scraper.sh exited $?: $(cat "$tmp/sh.out")"
SID=$(sed -n 's/^run //p' "$tmp/sh.out")
LIB=$RUNTRACK_BUILD_DIR/producer/libruntrack.so.0
pyenv=()
if ldd "$LIB" 2>/dev/null | grep libasan >/dev/null; then  # no -q: with pipefail, SIGPIPE to ldd would read as "no"
    # A sanitizer build (build-asan): the ASan runtime must come first in python3 too, and
    # python's own allocations are not ours to leak-check.
    pyenv=(LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
        ASAN_OPTIONS=detect_leaks=0)
fi
PID=$(env "${pyenv[@]}" RUNTRACK_LIB="$LIB" \
    /usr/bin/python3 "$RUNTRACK_SOURCE_DIR/examples/python/example.py" 2>"$tmp/py.err") &&
    ok "python example" || fail "python example exited $?: $(tail -c 2000 "$tmp/py.err")"

read_topic "$tmp/events"
cat >"$tmp/expect.json" <<JSON
{"runs": {
 "$CID": {"lifecycle": ["run.started", "run.phase", "run.finished"], "status": "partial",
          "logs": 6, "finished": {"end_counts": {"events": 1039, "urls": 513}},
          "counters": {"sites_completed": 13, "sites_failed": 2, "batch_current": 2}},
 "$SID": {"lifecycle": ["run.started", "run.phase", "run.finished"], "status": "completed",
          "logs": 4, "finished": {"end_counts": {"events": 1009, "urls": 503}},
          "counters": {"found": 9}},
 "$PID": {"lifecycle": ["run.started", "run.phase", "run.finished"], "status": "completed",
          "logs": 3, "finished": {"end_counts": {"events": 13, "urls": 3}},
          "counters": {"sites_completed": 3}}
}}
JSON
/usr/bin/python3 "$CHECK" "$SCHEMA" "$tmp/events" "$tmp/expect.json" && ok "events" || fail "event checks"
[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "examples passed"
