#!/usr/bin/env bash
# GET /readyz of a live runtrack-consumer follows the broker and the group (private dev broker):
# 503 while it has no partitions (brokers down from the start), 200 once assigned, 503 "all
# brokers down" after `down -1`, 200 again after `up -1`. Also: maintenance_interval_s=1 with
# stale_close_after_s=2 closes a silent run as failed within seconds (what `make demo` shows).
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
rt_tmpdir T

rt_private_broker "$T/broker" --partitions 2
rt_ctl topic "$RUNTRACK_TOPIC" 2 >/dev/null
rt_ctl down -1 >/dev/null || rt_die "could not take the brokers down"

pid=
rt_on_exit '[ -n "$pid" ] && kill -9 $pid 2>/dev/null'
# Port 0: a free port, read from the log. Short reconnect back-off so the test stays short.
RUNTRACK_HTTP_PORT=0 RUNTRACK_MAINTENANCE_INTERVAL_S=1 RUNTRACK_STALE_AFTER_S=1 \
    RUNTRACK_STALE_CLOSE_AFTER_S=2 RUNTRACK_KAFKA_RECONNECT_BACKOFF_MAX_MS=1000 \
    "$CT_BIN" 2>"$T/c.log" &
pid=$!
rt_wait_for "grep -q 'HTTP API listening' '$T/c.log'" 30 || rt_die "API never listened: $(tail -5 "$T/c.log")"
port=$(sed -n 's/.*HTTP API listening.*port=\([0-9]*\).*/\1/p' "$T/c.log" | head -1)
[ -n "$port" ] || rt_die "no port in the log"
URL="http://127.0.0.1:$port"

code() { curl -s -o "$T/body" -w '%{http_code}' "$URL/readyz"; }

# 1. Brokers down from the start: never assigned, so never ready (the database is fine).
rt_wait_for "[ \"\$(code)\" = 503 ] && grep -q 'consumer not ready' '$T/body'" 30 ||
    rt_die "/readyz not 503 before assignment: $(cat "$T/body")"
for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ "$(code)" = 503 ] || rt_die "/readyz ready without brokers: $(cat "$T/body")"
    sleep 0.3
done
echo "before assignment: $(cat "$T/body")"

# 2. Brokers up: the consumer joins, gets both partitions, turns ready.
rt_ctl up -1 >/dev/null || rt_die "could not bring the brokers up"
rt_wait_for "[ \"\$(code)\" = 200 ]" 45 || rt_die "/readyz never ready after up: $(cat "$T/body")"
grep -q '"ready"' "$T/body" || rt_die "/readyz body: $(cat "$T/body")"
echo "assigned: $(cat "$T/body")"

# 3. A run that goes silent is closed as failed by the maintenance thread within seconds.
run_id=$(python3 -c 'import uuid; print(uuid.uuid4())')
python3 - "$run_id" >"$T/ev.txt" <<'EOF'
import datetime, json, sys, uuid
rid = sys.argv[1]
ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
ev = {"v": 1, "event_id": str(uuid.uuid4()), "run_id": rid, "seq": 1, "ts": ts,
      "type": "run.started", "job": "readyz_stale.py", "kind": "pipeline",
      "producer": {"host": "test", "pid": 1, "lib": "test"}, "data": {}}
print(rid + "\t" + json.dumps(ev))
EOF
ct_produce "$T/ev.txt"
rt_wait_for "[ \"\$(rt_psql_value \"SELECT status FROM runs WHERE run_id = '$run_id'\")\" = failed ]" 20 ||
    rt_die "silent run not closed as failed: $(rt_psql_value "SELECT status, status_reason FROM runs WHERE run_id = '$run_id'")"
reason=$(rt_psql_value "SELECT status_reason FROM runs WHERE run_id = '$run_id'")
[ -n "$reason" ] || rt_die "stale-closed run has no status_reason"
echo "stale run closed: $reason"

# 4. All brokers down: not ready, with the reason (librdkafka notices within its timeouts).
rt_ctl down -1 >/dev/null || rt_die "could not take the brokers down"
rt_wait_for "[ \"\$(code)\" = 503 ]" 45 || rt_die "/readyz still ready with the brokers down"
echo "brokers down: $(cat "$T/body")"
grep -Eq '"reason":"(brokers_down|no_partitions)"' "$T/body" || rt_die "/readyz reason: $(cat "$T/body")"

# 5. Brokers back: ready again.
rt_ctl up -1 >/dev/null || rt_die "could not bring the brokers back"
rt_wait_for "[ \"\$(code)\" = 200 ]" 60 || rt_die "/readyz not ready again after up: $(cat "$T/body")"
echo "brokers back: $(cat "$T/body")"

kill -TERM "$pid"
wait "$pid" || rt_die "consumer exited with an error: $(tail -5 "$T/c.log")"
pid=
echo "readyz: ok"
