#!/usr/bin/env bash
# deploy.container: the exact commands the runtrack-consumer image runs (deploy/Dockerfile:
# ENTRYPOINT deploy/docker-entrypoint.sh = migrate then run; HEALTHCHECK deploy/healthcheck.sh),
# natively against the suite's PostgreSQL and dev broker, configured by environment only.
#   A. one owner DSN: entrypoint with no arguments, /healthz via the healthcheck script, /readyz,
#      a run sent with the CLI lands in runs + run_results; SIGTERM -> exit 0.
#   B. least privilege: deploy/sql/runtrack_role.sql creates the role, the entrypoint migrates
#      with RUNTRACK_MIGRATE_PG_DSN (owner) and consumes as the role: runs, logs, run_results,
#      discovery_runs and a dead letter land, no database error; the role cannot create tables.
# Run through tests/lib/with_services.sh.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
SRC=$RUNTRACK_SOURCE_DIR
BIN=$RUNTRACK_BUILD_DIR/consumer
CLI=$RUNTRACK_BUILD_DIR/producer/runtrack
ENTRY=$SRC/deploy/docker-entrypoint.sh
CHECK=$SRC/deploy/healthcheck.sh

# The test must run what the image runs: the Dockerfile copies these two scripts and uses them.
grep -qx 'COPY deploy/docker-entrypoint.sh /usr/local/bin/runtrack-entrypoint' "$SRC/deploy/Dockerfile" ||
    rt_die "Dockerfile no longer installs deploy/docker-entrypoint.sh"
grep -qx 'ENTRYPOINT \["/usr/local/bin/runtrack-entrypoint"\]' "$SRC/deploy/Dockerfile" ||
    rt_die "Dockerfile ENTRYPOINT changed"
grep -qx 'CMD \["run"\]' "$SRC/deploy/Dockerfile" || rt_die "Dockerfile CMD changed"
grep -q 'CMD \["/usr/local/bin/runtrack-healthcheck", "/healthz"\]' "$SRC/deploy/Dockerfile" ||
    rt_die "Dockerfile HEALTHCHECK changed"

rt_tmpdir T
OWNER_DSN=$RUNTRACK_PG_DSN
ROLE=rt_deploy_$(printf '%s' "$PGDATABASE" | tr -c 'a-z0-9_' '_' | cut -c1-30)
PID=""
stop_consumer() {
    [ -n "$PID" ] || return 0
    kill -TERM "$PID" 2>/dev/null || true
    local rc=0
    wait "$PID" || rc=$?
    PID=""
    return $rc
}
drop_role() {
    psql -XAtq -d "$OWNER_DSN" -c "DROP OWNED BY $ROLE" >/dev/null 2>&1 || true
    psql -XAtq -d "$OWNER_DSN" -c "DROP ROLE IF EXISTS $ROLE" >/dev/null 2>&1 || true
}
rt_on_exit 'stop_consumer || true; drop_role'

# A container's environment: nothing but what the Dockerfile/compose set (env -i), so no stray
# RUNTRACK_* or PG* variable and no config file helps.
container_env() { # LOG GROUP DSN [MIGRATE_DSN] -- starts the entrypoint in the background
    local log=$1 group=$2 dsn=$3 mdsn=${4:-}
    env -i PATH="$BIN:/usr/bin:/bin" HOME=/nonexistent \
        RUNTRACK_HTTP_ADDR=127.0.0.1 RUNTRACK_HTTP_PORT=0 \
        RUNTRACK_BROKERS="$RUNTRACK_BROKERS" RUNTRACK_TOPIC="$RUNTRACK_TOPIC" \
        RUNTRACK_PG_DSN="$dsn" ${mdsn:+RUNTRACK_MIGRATE_PG_DSN="$mdsn"} \
        RUNTRACK_GROUP="$group" RUNTRACK_KAFKA_SESSION_TIMEOUT_MS=6000 \
        "$ENTRY" >"$log" 2>&1 &
    PID=$!
}
http_port() { # LOG -> the port the consumer chose (RUNTRACK_HTTP_PORT=0)
    local p=""
    for _ in $(seq 150); do
        p=$(sed -n 's/.*HTTP API listening.* port=\([0-9]*\).*/\1/p' "$1" | head -1)
        [ -z "$p" ] || { echo "$p"; return 0; }
        kill -0 "$PID" 2>/dev/null || { cat "$1" >&2; rt_die "consumer exited early"; }
        sleep 0.2
    done
    cat "$1" >&2
    rt_die "consumer did not start its HTTP API"
}
send_run() { # JOB KIND STATUS [start args...] -- a whole run with the CLI, prints the run id
    local job=$1 kind=$2 status=$3 id
    shift 3
    id=$("$CLI" start --job "$job" --kind "$kind" --count events=10 --count urls=4 "$@")
    "$CLI" log --run "$id" --job "$job" --kind "$kind" --level warning "a warning" >/dev/null
    "$CLI" progress --run "$id" --job "$job" --kind "$kind" found=7 api_calls=2 >/dev/null
    "$CLI" finish --run "$id" --job "$job" --kind "$kind" --status "$status" --count events=17 \
        --count urls=6 >/dev/null
    echo "$id"
}

echo "== A: entrypoint (migrate, run) with an owner DSN, environment only"
container_env "$T/a.log" deploy_a "$OWNER_DSN"
PORT=$(http_port "$T/a.log")
grep -q 'msg="runtrack-consumer starting".*command=migrate' "$T/a.log" ||
    { cat "$T/a.log" >&2; rt_die "the entrypoint did not run migrate first"; }
RUNTRACK_HTTP_PORT=$PORT "$CHECK" /healthz || rt_die "healthcheck /healthz failed"
rt_wait_for "RUNTRACK_HTTP_PORT=$PORT '$CHECK' /readyz" 30 || rt_die "/readyz never became ready"
curl -fsS "http://127.0.0.1:$PORT/readyz" | grep -q '"ready"' || rt_die "/readyz body"
[ "$(rt_psql_value 'SELECT count(*) > 0 FROM schema_migrations')" = t ] || rt_die "no migrations"
id=$(send_run deploy_a.py scrape completed)
rt_wait_for "[ \"\$(rt_psql_value \"SELECT count(*) FROM run_results WHERE run_id = '$id' AND new_events_in_db = 7\")\" = 1 ]" 60 ||
    { tail -30 "$T/a.log" >&2; rt_die "run $id did not reach run_results"; }
# A stopped HTTP port makes the healthcheck fail (so Docker would mark the container unhealthy).
stop_consumer || rt_die "consumer did not exit 0 on SIGTERM"
if RUNTRACK_HTTP_PORT=$PORT "$CHECK" /healthz >/dev/null; then rt_die "healthcheck passed with the consumer stopped"; fi
echo "A ok: port $PORT, run $id in run_results, SIGTERM exit 0"

echo "== B: least-privilege role ($ROLE), migrations with the owner's DSN"
drop_role
psql -Xq -v ON_ERROR_STOP=1 -d "$OWNER_DSN" -v role="$ROLE" -f "$SRC/deploy/sql/runtrack_role.sql" >/dev/null
psql -Xq -v ON_ERROR_STOP=1 -d "$OWNER_DSN" -v role="$ROLE" -f "$SRC/deploy/sql/runtrack_role.sql" >/dev/null # idempotent
ROLE_DSN="postgresql://$ROLE@$PGHOST:$PGPORT/$PGDATABASE"
if psql -XAtq -d "$ROLE_DSN" -c "CREATE TABLE rt_should_fail (x int)" >/dev/null 2>&1; then
    rt_die "the consumer role can create tables"
fi
if psql -XAtq -d "$ROLE_DSN" -c "DELETE FROM consumer_offsets" >/dev/null 2>&1; then
    rt_die "the consumer role can delete offsets"
fi
container_env "$T/b.log" deploy_b "$ROLE_DSN" "$OWNER_DSN"
PORT=$(http_port "$T/b.log")
RUNTRACK_HTTP_PORT=$PORT "$CHECK" /healthz || rt_die "B: healthcheck /healthz failed"
rt_wait_for "RUNTRACK_HTTP_PORT=$PORT '$CHECK' /readyz" 30 || rt_die "B: /readyz never became ready"
id2=$(send_run deploy_b.py discovery partial --param naics_codes='["541511"]' \
    --param posted_from=2026-11-01 --param posted_to=2026-11-24)
printf '%s\t%s\n' "$id2" 'not json' | kcat -b "$RUNTRACK_BROKERS" -P -t "$RUNTRACK_TOPIC" -K $'\t'
rt_wait_for "[ \"\$(rt_psql_value \"SELECT (SELECT count(*) FROM discovery_runs WHERE id = '$id2' AND status = 'partial') + (SELECT count(*) FROM dead_letters WHERE reason = 'invalid_json')\")\" = 2 ]" 60 ||
    { tail -30 "$T/b.log" >&2; rt_die "B: discovery run / dead letter did not land"; }
[ "$(rt_psql_value "SELECT count(*) FROM run_logs WHERE run_id = '$id2'")" = 1 ] || rt_die "B: log line missing"
[ "$(rt_psql_value "SELECT count(*) FROM run_results WHERE run_id = '$id2'")" = 1 ] || rt_die "B: run_results row missing"
curl -fsS "http://127.0.0.1:$PORT/api/runs/$id2" | grep -q '"partial"' || rt_die "B: API as the role"
metrics=$(curl -fsS "http://127.0.0.1:$PORT/metrics")
printf '%s\n' "$metrics" | grep -q '^runtrack_api_db_up 1' || rt_die "B: /metrics cannot read the database as the role"
if printf '%s\n' "$metrics" | grep -Eq '^runtrack_db_errors_total [1-9]'; then
    tail -30 "$T/b.log" >&2
    rt_die "B: database errors as the role"
fi
if grep -Ei 'permission denied|must be owner' "$T/b.log"; then rt_die "B: permission errors in the log"; fi
stop_consumer || rt_die "B: consumer did not exit 0 on SIGTERM"
echo "B ok: role $ROLE ingests, serves and stays out of DDL"
echo PASS
