#!/usr/bin/env bash
# deploy/demo.sh — `make demo`: see runtrack's plumbing work end to end on this machine.
#
# 1. install missing packages, 2. build, 3. start PostgreSQL + the in-memory dev broker in a
# temp dir under /tmp, 4. apply the schema migrations, 5. send an example event
# (schemas/examples/started.json) keyed by its run_id, 6. read it back from the broker,
# 7. if the consumer is built, let it aggregate the event into PostgreSQL and show the row.
# Then wait for Ctrl-C (or exit at once with DEMO_EXIT=1); everything is stopped and removed
# on every exit path.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${RUNTRACK_BUILD_DIR:-$ROOT/build}
TOPIC=runtrack.events
EXAMPLE=$ROOT/schemas/examples/started.json

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B="" N=""; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
die() { echo "demo: $*" >&2; exit 1; }

DIR=""
SLEEP_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -z "$SLEEP_PID" ] || kill "$SLEEP_PID" 2>/dev/null || true
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

step "1. dependencies (deploy/install-deps.sh)"
"$ROOT/deploy/install-deps.sh"

step "2. build ($BUILD)"
cmake --preset default -S "$ROOT" -B "$BUILD" >/dev/null
cmake --build "$BUILD" -j2 >"${TMPDIR:-/tmp}/runtrack-demo-build.$$.log" 2>&1 || {
    tail -40 "${TMPDIR:-/tmp}/runtrack-demo-build.$$.log" >&2
    rm -f "${TMPDIR:-/tmp}/runtrack-demo-build.$$.log"
    die "build failed"
}
rm -f "${TMPDIR:-/tmp}/runtrack-demo-build.$$.log"
echo "built."
export RUNTRACK_DEVBROKER=$BUILD/deploy/devbroker/runtrack-devbroker
CONSUMER=$BUILD/consumer/runtrack-consumer

step "3. services: PostgreSQL + runtrack-devbroker (in-memory, development only)"
DIR=$(mktemp -d /tmp/runtrack-demo.XXXXXX)
chmod 755 "$DIR" # the postgres OS user must reach its data dir inside
"$ROOT/deploy/services.sh" start "$DIR/services" --topic "$TOPIC"
# shellcheck disable=SC1091
. "$DIR/services/services.env"
export RUNTRACK_TOPIC=$TOPIC
echo "RUNTRACK_BROKERS=$RUNTRACK_BROKERS"
echo "RUNTRACK_PG_DSN=$RUNTRACK_PG_DSN"

step "4. schema migrations"
if [ -x "$CONSUMER" ] && "$CONSUMER" --help 2>&1 | grep -q '^ *migrate'; then
    "$CONSUMER" migrate
else
    for f in "$ROOT"/schemas/sql/*.sql; do
        echo "applying $(basename "$f")"
        psql -Xq -v ON_ERROR_STOP=1 -d "$RUNTRACK_PG_DSN" -f "$f" >/dev/null
    done
fi
echo "tables: $(psql -XAtq -d "$RUNTRACK_PG_DSN" -c "SELECT string_agg(tablename, ', ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")"

step "5. send $(basename "$EXAMPLE") to $TOPIC (key = run_id)"
[ -f "$EXAMPLE" ] || die "$EXAMPLE not found"
line=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":"), ensure_ascii=False))' "$EXAMPLE")
run_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$EXAMPLE")
# kcat -P reads one message per line; the key is everything before the first tab.
printf '%s\t%s\n' "$run_id" "$line" | kcat -b "$RUNTRACK_BROKERS" -P -t "$TOPIC" -K $'\t'
echo "sent run.started for run $run_id"

step "6. read it back from the broker"
timeout 30 kcat -b "$RUNTRACK_BROKERS" -C -t "$TOPIC" -e -q \
    -f 'partition %p, offset %o, key %k\n%s\n' | python3 -c '
import json, sys
head = sys.stdin.readline().rstrip("\n")
print(head)
print(json.dumps(json.loads(sys.stdin.read()), indent=2, ensure_ascii=False))'

if [ -x "$CONSUMER" ]; then
    step "7. runtrack-consumer aggregates it into PostgreSQL"
    if "$CONSUMER" run --exit-when-idle 3000 >"$DIR/consumer.log" 2>&1; then
        psql -X -d "$RUNTRACK_PG_DSN" -c \
            "SELECT run_id, job, kind, status, started_at, last_seq FROM runs ORDER BY started_at"
    else
        tail -20 "$DIR/consumer.log" >&2
        echo "demo: the consumer did not finish cleanly (log above); the broker part worked." >&2
    fi
else
    echo "(runtrack-consumer not built yet: skipping the PostgreSQL step)"
fi

step "done"
cat <<EOF
What happened: an event in the runtrack contract (docs/events.md) went through the Kafka
protocol (here the in-memory dev broker; production uses Apache Kafka) and back, and the
schema is in PostgreSQL (with the run row, once the consumer is built). To poke at it:
    . $DIR/services/services.env
    kcat -b "\$RUNTRACK_BROKERS" -C -t $TOPIC -e
    psql "\$RUNTRACK_PG_DSN"
EOF
if [ "${DEMO_EXIT:-0}" = 1 ]; then
    exit 0
fi
echo "Services keep running; press Ctrl-C to stop everything."
while :; do
    sleep 3600 &
    SLEEP_PID=$!
    wait "$SLEEP_PID" || true
done
