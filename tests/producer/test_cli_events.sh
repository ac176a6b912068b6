#!/usr/bin/env bash
# The CLI end to end against the dev broker: every subcommand's event arrives and validates
# against schemas/events.schema.json (read back by kcat); `runtrack run` forwards output lines
# as logs, finishes failed with the exit code and exits with the child's status; the child can
# report progress into the same run; an unreachable broker gives exit 69.
# Run under tests/lib/with_services.sh (RUNTRACK_BROKERS, RUNTRACK_TOPIC, RUNTRACK_BUILD_DIR...).
set -uo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/producer/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset RUNTRACK_RUN_ID RUNTRACK_JOB RUNTRACK_KIND

# 1. A shell-driven run through every subcommand.
ID=$("$RT" start --job cli_test.sh --count events=1000 --count urls=500 --planned sites_total=15 \
    --param mode=full retries=3) || fail "start exited $?"
export RUNTRACK_RUN_ID=$ID RUNTRACK_JOB=cli_test.sh
"$RT" phase scraping || fail "phase"
"$RT" progress sites_completed=5 sites_total=15 --memory 5.2 --cpu 12.3 || fail "progress"
"$RT" log --level success 'quote " backslash \ tab	newline' || fail "log"
"$RT" log --fields-json '{"site":"x"}' plain line || fail "log with fields"
"$RT" log "$(head -c 70000 /dev/zero | tr '\0' x)" || fail "long log"   # cut to 65536 bytes
"$RT" log $'bad \xff byte' || fail "log with invalid UTF-8"              # becomes U+FFFD
"$RT" pause --reason "operator request" || fail "pause"
"$RT" resume --reason "queue drained" || fail "resume"
"$RT" heartbeat || fail "heartbeat"
"$RT" finish --status partial --count events=1050 --count urls=525 --error "2 sites failed" \
    --error-details-json '{"sites":["a","b"]}' found=120 new=30 || fail "finish"
"$RT" log hi after finish && : # a new process cannot know the run finished: accepted, documented

# 2. Discovery run with typed params, started with --export.
eval "$("$RT" start --export --job discovery.py --kind discovery \
    --params-json '{"naics_codes":["541511","541512"],"posted_from":"2025-10-01","posted_to":"2025-10-24"}')" ||
    fail "start --export"
DID=$RUNTRACK_RUN_ID
"$RT" finish --status completed api_calls=42 found=120 || fail "discovery finish"
expect_exit 65 "discovery params with a bad date" "$RT" start --job d --kind discovery --param posted_from=yesterday

# 3. The wrapper: failing child, output forwarded, child reports progress into the same run.
unset RUNTRACK_RUN_ID RUNTRACK_JOB RUNTRACK_KIND
"$RT" run --job wrapped.sh -- sh -c 'echo hi; echo "ERROR: disk full" >&2; echo plain-err >&2;
    runtrack_bin="$0"; exit 3' >"$tmp/run.out" 2>"$tmp/run.err"
rc=$?
[ "$rc" = 3 ] && ok "run exits with the child's status 3" || fail "run exit $rc, expected 3"
grep -qx hi "$tmp/run.out" && ok "child stdout passed through" || fail "child stdout not passed through"
grep -q "ERROR: disk full" "$tmp/run.err" && ok "child stderr passed through" || fail "stderr not passed through"
"$RT" run --job wrapped_ok.sh -- sh -c '"$0" progress sites_completed=7 && echo "$RUNTRACK_RUN_ID" >"$1"' \
    "$RT" "$tmp/child_id" >/dev/null
rc=$?
[ "$rc" = 0 ] && ok "run exits 0 for a successful child" || fail "run exit $rc, expected 0"
WID=$(cat "$tmp/child_id" 2>/dev/null)
"$RT" run --job killed.sh -- sh -c 'kill -TERM $$' >/dev/null 2>&1
rc=$?
[ "$rc" = 143 ] && ok "run exits 128+15 when the child dies of SIGTERM" || fail "run exit $rc, expected 143"

# SIGTERM sent to the wrapper (as systemd or timeout(1) would) reaches the child.
"$RT" run --job forwarded.sh -- sh -c 'echo started; exec sleep 30' >"$tmp/fwd.out" 2>&1 &
wpid=$!
for _ in $(seq 1 100); do grep -q started "$tmp/fwd.out" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$wpid"
wait "$wpid"
rc=$?
[ "$rc" = 143 ] && ok "SIGTERM to the wrapper is passed to the child (exit 143)" ||
    fail "wrapper exit $rc after SIGTERM, expected 143"

# 4. Unreachable broker: with --no-spool exit 69 within the timeout, one line; by default the
# event is spooled (test_cli_spool.sh delivers such spools) and the call exits 0 with a warning.
expect_exit 69 "unreachable broker" "$RT" log --no-spool --brokers 127.0.0.1:1 --timeout 1 \
    --run "$ID" --job j hi
RUNTRACK_SPOOL_DIR=$tmp/spool4 expect_exit 0 "unreachable broker, spooled" "$RT" log \
    --brokers 127.0.0.1:1 --timeout 1 --run "$ID" --job j hi

read_topic "$tmp/events"
FID=$(grep -F '"job":"wrapped.sh"' "$tmp/events" | head -1 | cut -f2)
KID=$(grep -F '"job":"killed.sh"' "$tmp/events" | head -1 | cut -f2)
GID=$(grep -F '"job":"forwarded.sh"' "$tmp/events" | head -1 | cut -f2)
cat >"$tmp/expect.json" <<JSON
{"runs": {
 "$ID": {"lifecycle": ["run.started", "run.phase", "run.paused", "run.resumed", "run.finished"],
         "logs": 5, "log_messages": ["quote \" backslash \\\\ tab\tnewline", "plain line", "hi after finish",
                                     "$(head -c 65536 /dev/zero | tr '\0' x)", "bad \ufffd byte"],
         "log_levels": ["success", "info", "info", "info", "info"],
         "status": "partial", "min_heartbeats": 1, "started_params": {"mode": "full", "retries": 3},
         "finished": {"end_counts": {"events": 1050, "urls": 525}, "error_message": "2 sites failed",
                      "error_details": {"sites": ["a", "b"]}},
         "counters": {"found": 120, "new": 30}},
 "$DID": {"lifecycle": ["run.started", "run.finished"], "status": "completed",
          "counters": {"api_calls": 42}},
 "$FID": {"lifecycle": ["run.started", "run.finished"], "status": "failed", "logs": 3,
          "log_messages": ["hi", "disk full", "plain-err"], "log_levels": ["info", "error", "warning"],
          "finished": {"error_details": {"exit_code": 3}}},
 "$WID": {"lifecycle": ["run.started", "run.finished"], "status": "completed",
          "counters": {}},
 "$KID": {"lifecycle": ["run.started", "run.finished"], "status": "failed",
          "finished": {"error_details": {"signal": 15, "signal_name": "SIGTERM"}}},
 "$GID": {"lifecycle": ["run.started", "run.finished"], "status": "failed", "log_messages": ["started"],
          "finished": {"error_details": {"signal": 15, "signal_name": "SIGTERM"}}}
}}
JSON
if /usr/bin/python3 "$CHECK" "$SCHEMA" "$tmp/events" "$tmp/expect.json"; then
    ok "events validate and match"
else
    fail "event checks (above)"
fi
# Option values that reach the event body (not covered by check_events.py).
# (No grep -q at the end: it would stop reading early, and SIGPIPE fails the pipe under pipefail.)
ev_has() { grep -F "\"run_id\":\"$ID\"" "$tmp/events" | grep -F "\"type\":\"$1\"" | grep -F "$2" >/dev/null; }
ev_has run.paused '"reason":"operator request"' && ok "pause --reason recorded" || fail "pause reason missing"
ev_has run.resumed '"reason":"queue drained"' && ok "resume --reason recorded" || fail "resume reason missing"
ev_has run.progress '"memory_percent":5.2' && ev_has run.progress '"cpu_percent":12.3' &&
    ok "progress --memory/--cpu recorded" || fail "progress memory/cpu missing"
ev_has run.log '"site":"x"' && ok "log --fields-json recorded" || fail "log fields missing"
# The child's progress went into the wrapper's run.
grep -F "\"run_id\":\"$WID\"" "$tmp/events" | grep '"type":"run.progress".*"sites_completed":7' >/dev/null &&
    ok "child progress recorded in the wrapper's run" || fail "child progress missing from run $WID"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all CLI event checks passed"
