#!/usr/bin/env bash
# /metrics lag gauges follow the assignment.
# 1. Consumer a alone holds both partitions of a topic and reports the lag of both; consumer b
#    joins the group and takes one. Then a must report exactly the partition it still owns (the
#    revoked one leaves its gauges), b exactly the other.
# 2. Consumer c (max.poll.interval.ms 5 s) holds a partition; a lock on runs holds its batch, so
#    it does not poll for longer than that and librdkafka gives the partition up: c must stop
#    reporting its lag then (and /readyz say no_partitions), not only once the lock is gone;
#    afterwards it rejoins, reports the lag again and writes the held event.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
rt_tmpdir T
ct_new_topic TOPIC two 2
export RUNTRACK_TOPIC=$TOPIC RUNTRACK_GROUP=g_$TOPIC

pids=()
rt_on_exit 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done'
# start NAME: a consumer with its API on a free port; its URL in URL_NAME.
start() {
    RUNTRACK_HTTP_PORT=0 "$CT_BIN" 2>"$T/$1.log" &
    pids+=($!)
    rt_wait_for "grep -q 'HTTP API listening' '$T/$1.log'" 30 || rt_die "$1: API never listened"
    local port
    port=$(sed -n 's/.*HTTP API listening.*port=\([0-9]*\).*/\1/p' "$T/$1.log" | head -1)
    printf -v "URL_$1" 'http://127.0.0.1:%s' "$port"
}
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/readyz")" = 200 ]; }
# The partitions a consumer reports a lag for, sorted, space-separated.
lag_parts() {
    curl -s "$1/metrics" | sed -n 's/^runtrack_consumer_lag_messages{.*partition="\([0-9]*\)"}.*/\1/p' |
        sort | tr '\n' ' '
}
# The partitions a consumer was last assigned, from its log.
owned() { grep 'partition start' "$T/$1.log" | tail -"$2" | sed -n 's/.* partition=\([0-9]*\).*/\1/p' | sort | tr '\n' ' '; }

start a
rt_wait_for "ready $URL_a && [ \"\$(lag_parts $URL_a)\" = '0 1 ' ]" 30 ||
    rt_die "a alone: lag for '$(lag_parts "$URL_a")', expected both partitions"
echo "a alone: lag for partitions $(lag_parts "$URL_a")"

start b
rt_wait_for "ready $URL_b && ready $URL_a && [ \$(grep -c 'partition start' '$T/a.log') -ge 3 ]" 60 ||
    rt_die "the group never settled: a $(curl -s "$URL_a/readyz"), b $(curl -s "$URL_b/readyz")"
sleep 3 # a few lag refreshes after the rebalance
pa=$(owned a 1) pb=$(owned b 1)
[ -n "$pa" ] && [ -n "$pb" ] && [ "$pa" != "$pb" ] || rt_die "assignment: a '$pa', b '$pb'"
[ "$(lag_parts "$URL_a")" = "$pa" ] ||
    rt_die "a owns partition $pa but reports lag for '$(lag_parts "$URL_a")'"
[ "$(lag_parts "$URL_b")" = "$pb" ] ||
    rt_die "b owns partition $pb but reports lag for '$(lag_parts "$URL_b")'"
echo "after b joined: a owns $pa and reports $(lag_parts "$URL_a"); b owns $pb and reports $(lag_parts "$URL_b")"

# 2. Partitions lost while the main loop is held by PostgreSQL.
ct_new_topic TOPIC2 lost 1
export RUNTRACK_TOPIC=$TOPIC2 RUNTRACK_GROUP=g_$TOPIC2
RUNTRACK_KAFKA_MAX_POLL_INTERVAL_MS=5000 RUNTRACK_PG_LOCK_TIMEOUT_MS=500 start c
rt_wait_for "ready $URL_c && [ \"\$(lag_parts $URL_c)\" = '0 ' ]" 30 ||
    rt_die "c: lag for '$(lag_parts "$URL_c")', expected partition 0"
psql -XAtq -d "$RUNTRACK_PG_DSN" -c "BEGIN" -c "LOCK TABLE runs IN ACCESS EXCLUSIVE MODE" \
    -c "SELECT pg_sleep(14)" -c "COMMIT" >/dev/null 2>&1 &
locker=$!
rt_on_exit "kill $locker 2>/dev/null"
rt_wait_for "[ \"\$(rt_psql_value \"SELECT count(*) FROM pg_locks WHERE relation = 'runs'::regclass AND mode = 'AccessExclusiveLock' AND granted\")\" = 1 ]" 10 ||
    rt_die "the lock was not taken"
rid=$(python3 -c 'import uuid; print(uuid.uuid4())')
python3 - "$rid" >"$T/ev.txt" <<'EOF2'
import datetime, json, sys, uuid
rid = sys.argv[1]
ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
ev = {"v": 1, "event_id": str(uuid.uuid4()), "run_id": rid, "seq": 1, "ts": ts,
      "type": "run.started", "job": "lost.py", "kind": "scrape",
      "producer": {"host": "test", "pid": 1, "lib": "test"}, "data": {}}
print(rid + "\t" + json.dumps(ev))
EOF2
ct_produce "$T/ev.txt"
rt_wait_for "grep -q 'maximum poll interval' '$T/c.log'" 12 ||
    rt_die "librdkafka never gave the partition up: $(tail -3 "$T/c.log")"
sleep 2 # two lag refreshes
[ -z "$(lag_parts "$URL_c")" ] ||
    rt_die "c lost its partition but still reports lag for '$(lag_parts "$URL_c")'"
curl -s "$URL_c/readyz" | grep -q no_partitions || rt_die "c lost its partition: $(curl -s "$URL_c/readyz")"
echo "c lost its partition: no lag reported, /readyz no_partitions"
wait "$locker" 2>/dev/null || true
rt_wait_for "ready $URL_c && [ \"\$(lag_parts $URL_c)\" = '0 ' ]" 40 ||
    rt_die "c did not come back: lag for '$(lag_parts "$URL_c")', $(curl -s "$URL_c/readyz")"
rt_wait_for "[ \"\$(rt_psql_value \"SELECT count(*) FROM runs WHERE run_id = '$rid'\")\" = 1 ]" 20 ||
    rt_die "the event held by the lock never landed"
echo "c back: lag for $(lag_parts "$URL_c")"
echo "lag gauges follow the assignment: ok"
