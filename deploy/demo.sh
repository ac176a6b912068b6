#!/usr/bin/env bash
# deploy/demo.sh — `make demo`: runtrack end to end on this machine, in about a minute.
#
#  1. install missing packages (deploy/install-deps.sh), 2. build,
#  3. start PostgreSQL + the in-memory dev broker in a temp dir under /tmp,
#  4. migrate, create an admin API key (keys are required here, as anywhere in production) and
#     start runtrack-consumer (HTTP API + dashboard on a free port, printed with the key),
#  5. run a fleet of example scrapers (examples/fleet/) in parallel while the terminal shows
#     live progress read from PostgreSQL,
#  6. print the answers the seeds ask for: runs per job (seed 000's summary query), the last
#     successful discovery run (seed 001), fleet health (seed 002, /api/health), the batched
#     multi-site run (seeds 003/004), the stale run — and the dashboard URL,
#  7. keep everything up until Ctrl-C; DEMO_EXIT=1 exits on its own.
# Every exit path stops what it started and removes the temp dir.
#
# Environment: DEMO_EXIT=1 (exit after the answers), DEMO_PORT (HTTP port; default: a free one),
# DEMO_SKIP_BUILD=1 (use the binaries already in RUNTRACK_BUILD_DIR; no install, no build),
# DEMO_STALE_AFTER_S (default 5), DEMO_STALE_CLOSE_AFTER_S (default 30), RUNTRACK_BUILD_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${RUNTRACK_BUILD_DIR:-$ROOT/build}
TOPIC=runtrack.events
STALE_AFTER_S=${DEMO_STALE_AFTER_S:-5}
STALE_CLOSE_AFTER_S=${DEMO_STALE_CLOSE_AFTER_S:-30}
FLEET=$ROOT/examples/fleet

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m' TTY=1; else B="" N="" TTY=0; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
die() { echo "demo: $*" >&2; exit 1; }

DIR=""
SLEEP_PID=""
CONSUMER_PID=""
FLEET_PIDS=()
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    [ -z "$SLEEP_PID" ] || kill "$SLEEP_PID" 2>/dev/null || true
    # Fleet members run in their own process groups (setsid): stop each group, children too.
    for p in "${FLEET_PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
    if [ -n "$CONSUMER_PID" ] && kill -0 "$CONSUMER_PID" 2>/dev/null; then
        step "stopping runtrack-consumer (pid $CONSUMER_PID)"
        kill -TERM "$CONSUMER_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$CONSUMER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$CONSUMER_PID" 2>/dev/null || true
        wait "$CONSUMER_PID" 2>/dev/null || true
    fi
    for p in "${FLEET_PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
    if [ -n "$DIR" ]; then
        step "stopping services and removing $DIR"
        "$ROOT/deploy/services.sh" stop "$DIR/services" || true
        rm -rf -- "$DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "${DEMO_SKIP_BUILD:-0}" != 1 ]; then
    step "1. dependencies (deploy/install-deps.sh)"
    "$ROOT/deploy/install-deps.sh"

    step "2. build ($BUILD)"
    log=$(mktemp "${TMPDIR:-/tmp}/runtrack-demo-build.XXXXXX")
    if ! { cmake --preset default -S "$ROOT" -B "$BUILD" && cmake --build "$BUILD" -j2; } \
        >"$log" 2>&1; then
        tail -40 "$log" >&2
        rm -f "$log"
        die "build failed"
    fi
    rm -f "$log"
    echo "built."
fi
export RUNTRACK_DEVBROKER=$BUILD/deploy/devbroker/runtrack-devbroker
CONSUMER=$BUILD/consumer/runtrack-consumer
for f in "$RUNTRACK_DEVBROKER" "$CONSUMER" "$BUILD/producer/runtrack" \
    "$BUILD/producer/libruntrack.so.0" "$BUILD/examples/c_scraper"; do
    [ -x "$f" ] || [ -f "$f" ] || die "$f missing: build first (make build)"
done
export PATH=$BUILD/producer:$PATH                       # runtrack CLI for the shell scrapers
export RUNTRACK_LIB=$BUILD/producer/libruntrack.so.0     # libruntrack for the Python ones
PY=(python3)
if ldd "$RUNTRACK_LIB" 2>/dev/null | grep libasan >/dev/null; then
    # A sanitizer build (build-asan): python3 must load the ASan runtime first to dlopen it.
    PY=(env "LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
        ASAN_OPTIONS=detect_leaks=0 python3)
fi

step "3. services: PostgreSQL + runtrack-devbroker (in-memory, development only)"
DIR=$(mktemp -d /tmp/runtrack-demo.XXXXXX)
chmod 755 "$DIR" # the postgres OS user must reach its data dir inside
echo "temp dir: $DIR"
"$ROOT/deploy/services.sh" start "$DIR/services" --topic "$TOPIC:4" >"$DIR/services.log" 2>&1 || {
    cat "$DIR/services.log" >&2
    die "services did not start"
}
# shellcheck disable=SC1091
. "$DIR/services/services.env"
export RUNTRACK_TOPIC=$TOPIC
echo "RUNTRACK_BROKERS=$RUNTRACK_BROKERS"
echo "RUNTRACK_PG_DSN=$RUNTRACK_PG_DSN"
q() { psql -X -q -P pager=off -P footer=off -d "$RUNTRACK_PG_DSN" "$@"; }
qv() { psql -XAtq -d "$RUNTRACK_PG_DSN" -c "$1"; }

step "4. runtrack-consumer: migrate, then run (configured by environment only)"
"$CONSUMER" migrate >"$DIR/migrate.log" 2>&1 || { cat "$DIR/migrate.log" >&2; die "migrate failed"; }
echo "schema at migration $(qv 'SELECT max(version) FROM schema_migrations')"
# API keys on loopback too: the demo shows the real thing. The server secret lives in the temp
# dir (removed at exit); the admin key is printed with the URL.
(umask 077 && head -c 32 /dev/urandom | base64 >"$DIR/auth_secret")
export RUNTRACK_AUTH=required RUNTRACK_AUTH_SECRET_FILE=$DIR/auth_secret
KEY=$("$CONSUMER" keys create --name demo-admin --scope admin 2>"$DIR/keys.log") ||
    { cat "$DIR/keys.log" >&2; die "could not create the admin key"; }
echo "admin API key created (printed again at the end)"
RUNTRACK_HTTP_PORT=${DEMO_PORT:-0} RUNTRACK_STALE_AFTER_S=$STALE_AFTER_S \
    RUNTRACK_STALE_CLOSE_AFTER_S=$STALE_CLOSE_AFTER_S RUNTRACK_GROUP=runtrack-demo \
    RUNTRACK_MAINTENANCE_INTERVAL_S=5 \
    "$CONSUMER" run >"$DIR/consumer.log" 2>&1 &
CONSUMER_PID=$!
PORT=""
for _ in $(seq 300); do # up to 30 s: a sanitizer build on a busy machine starts slowly
    PORT=$(sed -n 's/.*HTTP API listening.* port=\([0-9]*\).*/\1/p' "$DIR/consumer.log" | head -1)
    [ -z "$PORT" ] || break
    kill -0 "$CONSUMER_PID" 2>/dev/null || { cat "$DIR/consumer.log" >&2; die "consumer exited"; }
    sleep 0.1
done
[ -n "$PORT" ] || { tail -20 "$DIR/consumer.log" >&2; die "the consumer's HTTP API did not start"; }
URL=http://127.0.0.1:$PORT
echo "runtrack-consumer pid $CONSUMER_PID, HTTP API and dashboard on $URL (log: $DIR/consumer.log)"
api() { curl -fsS --max-time 10 -H "Authorization: Bearer $KEY" "$URL$1"; }

step "5. the fleet: example scrapers in parallel (examples/fleet/, logs in $DIR/fleet/)"
mkdir -p "$DIR/fleet"
NAMES=()
launch() { # NAME COMMAND... — own process group, so cleanup can stop it with its children
    local name=$1
    shift
    setsid "$@" >"$DIR/fleet/$name.log" 2>&1 </dev/null &
    FLEET_PIDS+=($!)
    NAMES+=("$name")
    printf '  %-22s pid %-7s %s\n' "$name" "$!" "$*" | sed "s#$ROOT/##g; s#$BUILD/##g"
}
launch daily_events.py "${PY[@]}" "$FLEET/events_scraper.py" daily_events.py 3 0.8
launch venue_sync.py "${PY[@]}" "$FLEET/events_scraper.py" venue_sync.py 2 1.5
launch sam_discovery.py "${PY[@]}" "$FLEET/discovery.py" 1.0
launch multisite_events.sh "$FLEET/multisite.sh" 12 0.2
launch c_scraper "$BUILD/examples/c_scraper" 25 80
launch nightly_export.sh runtrack run --job nightly_export.sh -- "$FLEET/export_job.sh"
launch flaky_venues.py "$FLEET/crashing_scraper.sh" 1
launch shell_scraper.sh "$ROOT/examples/shell_scraper.sh"

LIVE_SQL="SELECT job, CASE WHEN status = 'running' AND last_event_at < now() - interval '$STALE_AFTER_S seconds'
    THEN 'STALE' WHEN paused THEN 'paused' ELSE status END AS status, coalesce(phase, '') AS phase,
  left(coalesce((SELECT string_agg(key || '=' || value, ' ' ORDER BY key) FROM jsonb_each_text(counters)
    WHERE key IN ('sites_completed', 'sites_total', 'batch_current', 'batches_total', 'pages_done',
                  'pages_total', 'found', 'api_calls', 'tables_done', 'sites_failed')), ''), 48) AS progress,
  (SELECT count(*) FROM run_logs l WHERE l.run_id = r.run_id) AS logs
FROM runs r ORDER BY started_at DESC LIMIT 14"
alive() { local p; for p in "${FLEET_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
prev=0
t0=$SECONDS
while alive; do
    if [ "$TTY" = 1 ]; then
        out=$(q -c "$LIVE_SQL" 2>/dev/null || true)
        [ "$prev" -eq 0 ] || printf '\033[%dA\033[J' "$prev"
        printf '%s\n' "-- live, $((SECONDS - t0)) s (runs table, newest first) --" "$out"
        prev=$(($(printf '%s\n' "$out" | wc -l) + 1))
    else
        echo "  t=$((SECONDS - t0))s runs by status: $(qv "SELECT coalesce(string_agg(status || '=' || n, ' '), 'none yet') FROM (SELECT status, count(*) n FROM runs GROUP BY 1 ORDER BY 1) s" 2>/dev/null || true)"
    fi
    sleep 1
done
failed_members=0
for i in "${!FLEET_PIDS[@]}"; do
    rc=0
    wait "${FLEET_PIDS[$i]}" || rc=$?
    if [ "${NAMES[$i]}" = flaky_venues.py ]; then
        continue # crashes on purpose
    elif [ "$rc" -ne 0 ]; then
        failed_members=$((failed_members + 1))
        echo "demo: fleet member ${NAMES[$i]} exited $rc:" >&2
        tail -5 "$DIR/fleet/${NAMES[$i]}.log" >&2
    fi
done
FLEET_PIDS=()
echo "fleet done in $((SECONDS - t0)) s ($failed_members member(s) failed)"

# Wait until the consumer has applied everything: every run but the crashed one finished, and
# the crashed one reported stale by the API (no event for STALE_AFTER_S).
for _ in $(seq 120); do
    open=$(qv "SELECT count(*) FROM runs WHERE status = 'running' AND job <> 'flaky_venues.py'")
    stale=$(api "/api/runs?status=stale" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))' 2>/dev/null || echo 0)
    [ "$open" != 0 ] || [ "$stale" = 0 ] || break
    sleep 0.5
done
[ "$TTY" = 0 ] || q -c "$LIVE_SQL"

step "6. the answers"
echo "${B}Runs per job${N} (seed 000's summary query over run_results):"
q -c "SELECT
        file_name,
        COUNT(*) as num_runs,
        SUM(new_events_in_db) as total_events_added,
        SUM(new_urls_in_db) as total_urls_added,
        AVG(EXTRACT(EPOCH FROM elapsed_time::interval)) as avg_duration_seconds
    FROM run_results
    GROUP BY file_name
    ORDER BY num_runs DESC"

echo "${B}Last successful discovery run${N} (seed 001; fetch incrementally from completed_at):"
q -c "SELECT id, completed_at, naics_codes, opportunities_found AS found, opportunities_new AS new,
              api_calls_made AS api_calls
       FROM discovery_runs WHERE status = 'completed' ORDER BY completed_at DESC LIMIT 1"
echo "  GET /api/jobs/sam_discovery.py/last-success -> completed_at $(api /api/jobs/sam_discovery.py/last-success |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["completed_at"])')"
echo "  all discovery runs:"
q -c "SELECT status, started_at, duration_seconds, api_calls_made, opportunities_found AS found,
              coalesce(error_message, '') AS error_message
       FROM discovery_runs ORDER BY started_at"

echo "${B}Fleet health${N} (seed 002; GET /api/health):"
api /api/health | python3 -c '
import json, sys
h = json.load(sys.stdin)
print("  overall: %(status)s, success rate %(success_rate)s%% over the last %(window_hours)s h "
      "(%(completed)s completed, %(partial)s partial, %(failed)s failed, %(running)s running, "
      "%(stale)s stale)" % h["overall"])
for j in h["jobs"]:
    print("  %(job)-22s %(status)-9s last run %(last_run_at)s, last success %(last_success_at)s" % j)
for a in h["alerts"]:
    print("  alert [%(severity)s] %(message)s" % a)
'
echo "  (freshness compares each job's last success with its usual gap between runs — seconds in"
echo "   this demo — so a job idle for a few seconds already counts as overdue)"
echo "${B}The batched multi-site run${N} (seeds 003/004; GET /api/runs/{id}):"
ms=$(qv "SELECT run_id FROM runs WHERE job = 'multisite_events.sh' ORDER BY started_at DESC LIMIT 1")
q -c "SELECT status, phase, counters->>'batch_current' || '/' || (counters->>'batches_total') AS batch,
              counters->>'sites_completed' AS sites_ok, counters->>'sites_failed' AS sites_failed,
              paused_at IS NOT NULL AS was_paused, resumed_at IS NOT NULL AS resumed, error_message
       FROM runs WHERE run_id = '$ms'"
echo "  logs by level: $(qv "SELECT string_agg(level || '=' || n, ' ' ORDER BY level) FROM (SELECT level, count(*) n FROM run_logs WHERE run_id = '$ms' GROUP BY level) s")"
echo "  $URL/api/runs/$ms"
echo "${B}Stale runs${N} (a scraper killed without finishing; GET /api/runs?status=stale):"
api "/api/runs?status=stale" | python3 -c '
import json, sys
runs = json.load(sys.stdin)["runs"]
for r in runs:
    print("  %(job)s run %(run_id)s: no event since %(last_event_at)s (stale)" % r)
if not runs:
    print("  (none)")
'
echo "  (closed as failed after ${STALE_CLOSE_AFTER_S} s without events, at the next maintenance pass)"
echo "${B}Wrapped job${N} (runtrack run -- examples/fleet/export_job.sh):"
q -c "SELECT status, counters->>'tables_done' AS tables_done, (SELECT count(*) FROM run_logs l WHERE l.run_id = r.run_id) AS log_lines
       FROM runs r WHERE job = 'nightly_export.sh'"

step "dashboard: $URL/"
cat <<EOF
API key:    $KEY
            (scope admin; the dashboard asks for it once per tab; elsewhere send
             Authorization: Bearer KEY. More keys: $CONSUMER keys create --help)
API:        curl -H "Authorization: Bearer \$KEY" $URL/api/runs   (also /api/health, /metrics, /healthz, /readyz)
CLI:        RUNTRACK_API=$URL RUNTRACK_API_TOKEN=\$KEY $BUILD/producer/runtrack runs   (also: show RUN, logs RUN --follow, health)
Database:   psql "$RUNTRACK_PG_DSN"
Broker:     kcat -b $RUNTRACK_BROKERS -C -t $TOPIC -e
More runs:  RUNTRACK_BROKERS=$RUNTRACK_BROKERS $BUILD/producer/runtrack run --job mine.sh -- sleep 3
EOF
if [ "${DEMO_EXIT:-0}" = 1 ]; then
    exit 0
fi
echo "Everything keeps running; press Ctrl-C to stop it all."
while :; do
    sleep 3600 &
    SLEEP_PID=$!
    wait "$SLEEP_PID" || true
done
