#!/usr/bin/env bash
# An environment error is not bad input, and a stall is visible. Each mode breaks PostgreSQL's
# side for a while under valid traffic, then mends it, and writes one row of the fault table:
#
#   envstall.sh privilege   the consumer's role (deploy/sql/runtrack_role.sql) loses INSERT on
#                           run_logs: while it lacks it, no dead letter, no run_logs row, the
#                           offsets stay before the log lines, /metrics db errors grow, /readyz
#                           503 database_error; GRANT again: everything lands exactly once
#   envstall.sh readonly    a private PostgreSQL turned read-only (ALTER SYSTEM
#                           default_transaction_read_only + reload) under the live session: the
#                           consumer waits (does not exit), dead-letters nothing, recovers
#   envstall.sh lock        LOCK TABLE runs IN ACCESS EXCLUSIVE MODE held in a psql session
#                           past ready_stall_s while events arrive: /readyz 503 ingest_stalled,
#                           runtrack_ingest_stalled_seconds grows, the lag gauges show the
#                           backlog, db errors grow (lock_timeout); released: all lands once,
#                           /readyz 200, gauge back to 0
#
# Every row: tables = a clean replay of the topic (tests/faults/anomalies.py), 0 lost (valid
# events dead-lettered count as lost), 0 duplicated, offsets = records, consumer exit 0.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
. "$RUNTRACK_SOURCE_DIR/tests/faults/lib.sh"
rt_tmpdir T
MODE=${1:?mode: privilege, readonly or lock}

pid=
rt_on_exit '[ -n "$pid" ] && kill -9 $pid 2>/dev/null'

# gen FILE RUNS LOGS SEED: RUNS runs of run.started, LOGS run.log lines and run.finished each,
# as "run_id<TAB>json" lines (run by run, so a run's log lines follow its start in its partition).
gen() {
    python3 - "$2" "$3" "$4" >"$1" <<'EOF'
import datetime, json, random, sys, uuid
runs, logs, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
t0 = datetime.datetime(2026, 1, 5, 10, 0, tzinfo=datetime.timezone.utc)
for r in range(runs):
    rid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    def ev(seq, typ, data):
        ts = (t0 + datetime.timedelta(minutes=r, milliseconds=10 * seq)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        e = {"v": 1, "event_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)), "run_id": rid,
             "seq": seq, "ts": ts, "type": typ, "job": "envstall_%d.py" % (r % 3), "kind": "pipeline",
             "producer": {"host": "envstall", "pid": 4242, "lib": "test"}, "data": data}
        print(rid + "\t" + json.dumps(e, separators=(",", ":")))
    ev(1, "run.started", {})
    for i in range(logs):
        ev(2 + i, "run.log", {"level": "info", "message": "line %d of run %d" % (i, r)})
    ev(2 + logs, "run.finished", {"status": "completed"})
EOF
}

# start_consumer LOG [VAR=VALUE...]: the live consumer with its HTTP API on a free port; sets pid
# and URL.
start_consumer() {
    local log=$1
    shift
    env RUNTRACK_HTTP_PORT=0 RUNTRACK_RETRY_MIN_MS=100 RUNTRACK_RETRY_MAX_MS=500 "$@" \
        "$CT_BIN" 2>"$log" &
    pid=$!
    rt_wait_for "grep -q 'HTTP API listening' '$log'" 30 || rt_die "API never listened: $(tail -5 "$log")"
    URL="http://127.0.0.1:$(sed -n 's/.*HTTP API listening.*port=\([0-9]*\).*/\1/p' "$log" | head -1)"
}

readyz() { curl -s -o "$T/readyz" -w '%{http_code}' "$URL/readyz"; }
# metric NAME: the sum of every sample of NAME in /metrics (0 when absent).
metric() {
    curl -s "$URL/metrics" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.3f\n", s + 0}'
}
int() { printf '%.0f\n' "$1"; }
sql() { rt_psql_value "$1"; }
alive() { kill -0 "$pid" 2>/dev/null || rt_die "the consumer exited: $(tail -5 "$1")"; }

# finish FAULT COUNT TOTAL LOG: SIGTERM, exit 0, then the anomalies against a clean replay.
finish() {
    local fault=$1 count=$2 total=$3 log=$4 crashes=0
    kill -TERM "$pid"
    wait "$pid" || crashes=1
    pid=
    [ "$crashes" = 0 ] || echo "consumer exited non-zero: $(tail -3 "$log")" >&2
    ct_new_db GT truth
    RUNTRACK_PG_DSN=$GT CT_LOG="$T/replay.out" ct_consumer replay --to-end ||
        rt_die "ground-truth replay failed"
    [ "$(RUNTRACK_PG_DSN=$GT ct_checksum | grep -c '^dead_letters|0|')" = 1 ] ||
        rt_die "the truth itself has dead letters"
    fl_anomalies "$RUNTRACK_PG_DSN" "$GT" "$RUNTRACK_GROUP" "$total" "$log"
    fl_row "$fault" "$count" "$total" - "$FL_APPLIED" "$FL_LOST" "$FL_DUP" "$FL_NONMONO" \
        "$FL_INCONS" - "$crashes" -
}

case "$MODE" in
privilege)
    # The role exactly as deploy/sql/runtrack_role.sql makes it (tests/faults/security.sh), then
    # the upgrade that forgot to re-run it: no INSERT on run_logs.
    ROLE="rt_env_$(printf '%s' "$RUNTRACK_TOPIC" | md5sum | cut -c1-10)"
    ADMIN="postgresql://$PGUSER@$PGHOST:$PGPORT/postgres"
    rt_on_exit "psql -XAtq -d '$RUNTRACK_PG_DSN' -c 'DROP OWNED BY $ROLE' >/dev/null 2>&1; psql -XAtq -d '$ADMIN' -c 'DROP ROLE IF EXISTS $ROLE' >/dev/null 2>&1"
    rt_migrate
    psql -Xq -v ON_ERROR_STOP=1 -d "$RUNTRACK_PG_DSN" -v role="$ROLE" \
        -f "$RUNTRACK_SOURCE_DIR/deploy/sql/runtrack_role.sql" >"$T/role.out" 2>&1 ||
        rt_die "deploy/sql/runtrack_role.sql failed: $(tail -2 "$T/role.out")"
    rt_psql "REVOKE INSERT ON run_logs FROM $ROLE" >/dev/null
    ct_new_topic TOPIC priv 4
    export RUNTRACK_TOPIC=$TOPIC
    gen "$T/ev.txt" 4 50 11 # 200 log lines, 8 lifecycle events
    total=$(wc -l <"$T/ev.txt")
    ct_produce "$T/ev.txt"
    start_consumer "$T/c.log" RUNTRACK_PG_DSN="postgresql://$ROLE@$PGHOST:$PGPORT/$PGDATABASE" \
        RUNTRACK_MIGRATE_ON_START=false
    rt_wait_for "[ \$(int \$(metric runtrack_db_errors_total)) -ge 4 ]" 60 ||
        rt_die "no retried database errors: $(grep -a 'level=warn\|level=error' "$T/c.log" | tail -3)"
    sleep 1
    alive "$T/c.log"
    [ "$(sql 'SELECT count(*) FROM dead_letters')" = 0 ] ||
        rt_die "valid events dead-lettered: $(sql 'SELECT reason, detail FROM dead_letters LIMIT 2')"
    [ "$(sql 'SELECT count(*) FROM run_logs')" = 0 ] || rt_die "run_logs rows without INSERT?"
    held=$(ct_offsets_sum)
    # At most each partition's run.started before its first log line may commit.
    [ "$held" -le 4 ] || rt_die "offsets moved past log lines that were not stored ($held)"
    [ "$(readyz)" = 503 ] && grep -q database_error "$T/readyz" ||
        rt_die "/readyz while ingest fails: $(cat "$T/readyz")"
    errors=$(int "$(metric runtrack_db_errors_total)")
    echo "INSERT revoked: db_errors=$errors offsets=$held dead_letters=0 readyz=$(cat "$T/readyz")"
    rt_psql "GRANT INSERT ON run_logs TO $ROLE" >/dev/null
    rt_wait_for "[ \$(ct_offsets_sum) = $total ]" 60 || rt_die "not applied after GRANT: $(ct_offsets_sum)/$total"
    rt_wait_for "[ \"\$(readyz)\" = 200 ]" 20 || rt_die "/readyz after GRANT: $(cat "$T/readyz")"
    [ "$(sql 'SELECT count(*) FROM run_logs')" = 200 ] || rt_die "run_logs: $(sql 'SELECT count(*) FROM run_logs') of 200"
    finish "INSERT on run_logs revoked from the consumer's role, then granted ($errors retries)" 1 "$total" "$T/c.log"
    ;;
readonly)
    # ALTER SYSTEM reaches every session of the server: a private one (deploy/pg.sh).
    PGDIR="$T/pg"
    "$RUNTRACK_SOURCE_DIR/deploy/pg.sh" start "$PGDIR" >/dev/null || rt_die "private PostgreSQL did not start"
    rt_on_exit "'$RUNTRACK_SOURCE_DIR/deploy/pg.sh' stop '$PGDIR' >/dev/null 2>&1"
    # shellcheck disable=SC1091
    . "$PGDIR/pg.env"
    ct_new_topic TOPIC ro 4
    export RUNTRACK_TOPIC=$TOPIC
    gen "$T/a.txt" 2 50 21
    gen "$T/b.txt" 4 50 22
    total=$(($(wc -l <"$T/a.txt") + $(wc -l <"$T/b.txt")))
    ct_produce "$T/a.txt"
    start_consumer "$T/c.log"
    rt_wait_for "[ \$(ct_offsets_sum) = $(wc -l <"$T/a.txt") ]" 60 || rt_die "first part not applied"
    rt_psql "ALTER SYSTEM SET default_transaction_read_only = on" >/dev/null
    rt_psql "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
    before=$(int "$(metric runtrack_db_errors_total)")
    ct_produce "$T/b.txt"
    rt_wait_for "[ \$(int \$(metric runtrack_db_errors_total)) -ge $((before + 4)) ]" 60 ||
        rt_die "no retried database errors while read-only: $(tail -3 "$T/c.log")"
    sleep 1
    alive "$T/c.log"
    [ "$(readyz)" = 503 ] && grep -q database_error "$T/readyz" ||
        rt_die "/readyz while read-only: $(cat "$T/readyz")"
    [ "$(sql 'SELECT count(*) FROM dead_letters')" = 0 ] ||
        rt_die "valid events dead-lettered: $(sql 'SELECT reason, detail FROM dead_letters LIMIT 2')"
    errors=$(($(int "$(metric runtrack_db_errors_total)") - before))
    echo "read-only: consumer alive, db_errors +$errors, offsets $(ct_offsets_sum)/$total, readyz=$(cat "$T/readyz")"
    PGOPTIONS="-c default_transaction_read_only=off" rt_psql "ALTER SYSTEM RESET default_transaction_read_only" >/dev/null
    rt_psql "SELECT pg_reload_conf()" >/dev/null
    rt_wait_for "[ \$(ct_offsets_sum) = $total ]" 60 || rt_die "not applied after read-write: $(ct_offsets_sum)/$total"
    rt_wait_for "[ \"\$(readyz)\" = 200 ]" 20 || rt_die "/readyz after read-write: $(cat "$T/readyz")"
    finish "PostgreSQL read-only (default_transaction_read_only) under the live session ($errors retries)" 1 "$total" "$T/c.log"
    ;;
lock)
    ct_new_topic TOPIC lock 4
    export RUNTRACK_TOPIC=$TOPIC
    gen "$T/a.txt" 2 20 31
    gen "$T/b.txt" 6 50 32
    na=$(wc -l <"$T/a.txt")
    nb=$(wc -l <"$T/b.txt")
    total=$((na + nb))
    ct_produce "$T/a.txt"
    # A test-sized stall setting and lock_timeout; /metrics' own SQL (runs) gives up fast too.
    start_consumer "$T/c.log" RUNTRACK_READY_STALL_S=3 RUNTRACK_PG_LOCK_TIMEOUT_MS=1000 \
        RUNTRACK_HTTP_STATEMENT_TIMEOUT_MS=300
    rt_wait_for "[ \$(ct_offsets_sum) = $na ]" 60 || rt_die "first part not applied"
    rt_wait_for "[ \"\$(readyz)\" = 200 ]" 20 || rt_die "/readyz before the lock: $(cat "$T/readyz")"
    [ "$(int "$(metric runtrack_ingest_stalled_seconds)")" = 0 ] || rt_die "stalled while idle"
    before=$(int "$(metric runtrack_db_errors_total)")
    HOLD=14
    psql -XAtq -d "$RUNTRACK_PG_DSN" -c "BEGIN" -c "LOCK TABLE runs IN ACCESS EXCLUSIVE MODE" \
        -c "SELECT pg_sleep($HOLD)" -c "COMMIT" >/dev/null 2>&1 &
    locker=$!
    rt_on_exit "kill $locker 2>/dev/null"
    rt_wait_for "[ \"\$(sql \"SELECT count(*) FROM pg_locks WHERE relation = 'runs'::regclass AND mode = 'AccessExclusiveLock' AND granted\")\" = 1 ]" 10 ||
        rt_die "the lock was not taken"
    t_lock=$(date +%s)
    ct_produce "$T/b.txt"
    rt_wait_for "[ \"\$(readyz)\" = 503 ] && grep -q ingest_stalled '$T/readyz'" $((HOLD - 2)) ||
        rt_die "/readyz during a ${HOLD}s lock: $(cat "$T/readyz")"
    s1=$(metric runtrack_ingest_stalled_seconds)
    sleep 1.5
    s2=$(metric runtrack_ingest_stalled_seconds)
    lag=$(int "$(metric runtrack_consumer_lag_messages)")
    errors=$(($(int "$(metric runtrack_db_errors_total)") - before))
    echo "lock held: readyz=$(cat "$T/readyz") stalled ${s1}s -> ${s2}s lag=$lag/$nb db_errors +$errors"
    python3 -c "import sys; sys.exit(0 if 3 <= float('$s1') < float('$s2') else 1)" ||
        rt_die "runtrack_ingest_stalled_seconds does not grow past the stall setting: $s1 -> $s2"
    [ "$lag" -ge $((nb * 9 / 10)) ] && [ "$lag" -le "$nb" ] ||
        rt_die "the lag gauges show $lag while $nb records wait"
    [ "$errors" -ge 1 ] || rt_die "db errors did not grow (lock_timeout never fired)"
    [ "$(($(date +%s) - t_lock))" -lt "$HOLD" ] || rt_die "the checks outlived the lock"
    wait "$locker" || true
    rt_wait_for "[ \$(ct_offsets_sum) = $total ]" 60 || rt_die "not applied after the lock: $(ct_offsets_sum)/$total"
    rt_wait_for "[ \"\$(readyz)\" = 200 ]" 20 || rt_die "/readyz after the lock: $(cat "$T/readyz")"
    rt_wait_for "[ \"\$(metric runtrack_ingest_stalled_seconds)\" = 0.000 ]" 10 ||
        rt_die "stalled gauge after the lock: $(metric runtrack_ingest_stalled_seconds)"
    rt_wait_for "[ \"\$(int \$(metric runtrack_consumer_lag_messages))\" = 0 ]" 10 ||
        rt_die "lag after the lock: $(metric runtrack_consumer_lag_messages)"
    [ "$(sql 'SELECT count(*) FROM dead_letters')" = 0 ] || rt_die "dead letters appeared"
    finish "LOCK TABLE runs held ${HOLD}s (stall ${s2}s visible, lag $lag, $errors lock timeouts)" 1 "$total" "$T/c.log"
    ;;
*)
    rt_die "unknown mode $MODE"
    ;;
esac
echo "envstall $MODE: ok"
