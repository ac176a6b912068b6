#!/usr/bin/env bash
# The seeds' scenarios end to end (schemas/examples/scenario_*.json: a run_results run, a
# discovery run that completes and one that fails, a batched run with phases, pause/resume and
# logs of every level): kcat → Kafka → runtrack-consumer → PostgreSQL; every expected column
# value is asserted. Then the same events again, duplicated and shuffled per run: the tables
# must not change (checksum).
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
rt_tmpdir T

for f in "$RUNTRACK_SOURCE_DIR"/schemas/examples/scenario_*.json; do
    ct_scenario_lines "$f" >>"$T/events.txt"
done
ct_produce "$T/events.txt"
ct_consumer --exit-when-idle 1500 || rt_die "consumer failed"

fails=0
for f in "$RUNTRACK_SOURCE_DIR"/schemas/examples/scenario_*.json; do
    python3 "$RUNTRACK_SOURCE_DIR/tests/consumer/check_expect.py" "$f" || fails=$((fails + 1))
done
[ $fails -eq 0 ] || rt_die "$fails scenario(s) differ from the seeds' expected rows"
[ "$(rt_psql_value "SELECT count(*) FROM dead_letters")" = 0 ] || rt_die "valid events were dead-lettered"

# Seed 000's summary query and seed 001's last-successful-run query work on our rows.
rt_psql_value "SELECT file_name, COUNT(*), SUM(new_events_in_db), AVG(EXTRACT(EPOCH FROM elapsed_time::interval)) FROM run_results GROUP BY file_name" >/dev/null
[ -n "$(rt_psql_value "SELECT completed_at FROM discovery_runs WHERE status = 'completed' ORDER BY completed_at DESC LIMIT 1")" ] ||
    rt_die "no last successful discovery run"

before=$(ct_checksum)
# Every event again, twice, each run's events in reverse order.
python3 - "$T/events.txt" >"$T/again.txt" <<'PY'
import sys, collections
runs = collections.OrderedDict()
for line in open(sys.argv[1]):
    runs.setdefault(line.split("\t", 1)[0], []).append(line)
for lines in runs.values():
    sys.stdout.writelines(list(reversed(lines)) * 2)
PY
ct_produce "$T/again.txt"
# This time with the in-process HTTP API on a free port: /metrics counts what this process
# consumed and /api/runs serves the run. The API brings the maintenance thread with it, and the
# scenarios' runs ended longer ago than the default retention: it would delete them (leaving
# tombstones, so the re-sent events would be run_removed dead letters), so it stays off.
total=$(($(wc -l <"$T/events.txt") + $(wc -l <"$T/again.txt")))
RUNTRACK_HTTP_PORT=0 RUNTRACK_MAINTENANCE_INTERVAL_S=0 "$CT_BIN" 2>"$T/c.log" &
pid=$!
rt_on_exit "kill -9 $pid 2>/dev/null"
rt_wait_for "[ \$(ct_offsets_sum) -ge $total ]" 60 || rt_die "re-sent events not consumed"
port=$(sed -n 's/.*msg="HTTP API listening".* port=\([0-9]*\).*/\1/p' "$T/c.log")
[ -n "$port" ] || rt_die "HTTP API did not start: $(grep -i http "$T/c.log")"
# The main thread counts a batch when it next settles with the writer, up to one poll
# (batch_max_ms) after the commit the offsets show.
rt_wait_for "curl -sf 'http://127.0.0.1:$port/metrics' >'$T/metrics.txt' &&
    grep -q '^runtrack_events_consumed_total{.*run.log.*} [1-9]' '$T/metrics.txt'" 10 ||
    rt_die "/metrics does not count consumed events: $(grep events_consumed "$T/metrics.txt")"
run=$(head -1 "$T/events.txt" | cut -f1)
curl -sf "http://127.0.0.1:$port/api/runs/$run" | grep -q "$run" || rt_die "GET /api/runs/$run failed"
kill -TERM "$pid"
wait "$pid" || rt_die "consumer with HTTP API did not exit cleanly"
after=$(ct_checksum)
ct_same_tables "$before" "$after" "duplicated/reordered events changed the tables"
echo "scenario: ok"
