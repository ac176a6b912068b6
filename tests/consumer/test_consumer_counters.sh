#!/usr/bin/env bash
# Partial counter maps merge (docs/events.md, Counters), live and in a replay:
#   (a) a discovery run made with the CLI: `progress api_calls=42 found=100`, then
#       `finish --status completed found=120 new=5` keeps api_calls (runs.counters and
#       discovery_runs.api_calls_made = 42);
#   (b) `progress --memory 7.5 --cpu 20 sites_total=15 sites_completed=11`, then
#       `progress sites_completed=12`: sites_total stays, memory and cpu keep their values, and
#       the API still has an ETA;
#   (c) seq1 {a:1,b:1}, seq3 {a:3}, seq2 {b:2} and seq1 again, sent in that order with kcat:
#       per counter the newest seq wins (a=3, b=2), in one batch (run C, the batch fold) and
#       with every record in a batch of its own (run D, the upsert's merge against the stored
#       row);
#   (d) a replay of the topic into an empty database gives the same tables and values.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
RT="$RUNTRACK_BUILD_DIR/producer/runtrack"
[ -x "$RT" ] || { echo "SKIP: $RT not built"; exit 77; }
rt_tmpdir T

pid=
rt_on_exit '[ -n "$pid" ] && kill $pid 2>/dev/null; [ -n "$pid" ] && wait $pid 2>/dev/null'
RUNTRACK_HTTP_PORT=0 RUNTRACK_HTTP_CACHE_MS=0 RUNTRACK_BATCH_MAX_MS=50 "$CT_BIN" 2>"$T/c.log" &
pid=$!
rt_wait_for "grep -q 'HTTP API listening' '$T/c.log'" 30 || rt_die "API never listened: $(tail -5 "$T/c.log")"
port=$(sed -n 's/.*HTTP API listening.*port=\([0-9]*\).*/\1/p' "$T/c.log" | head -1)

# stored SQL: waits until the query returns "t" (the consumer stored what it needs).
stored() {
    rt_wait_for "[ \"\$(rt_psql_value \"$1\")\" = t ]" 30 || rt_die "never stored: $1"
}

# (a) Each call in its own batch: the finish merges against the stored row.
A=$("$RT" start --job disc.py --kind discovery)
"$RT" progress --run "$A" --job disc.py --kind discovery api_calls=42 found=100
stored "SELECT counters ? 'api_calls' FROM runs WHERE run_id = '$A'"
"$RT" finish --run "$A" --job disc.py --kind discovery --status completed found=120 new=5
stored "SELECT status = 'completed' FROM runs WHERE run_id = '$A'"

# (b)
B=$("$RT" start --job sites.sh)
"$RT" progress --run "$B" --job sites.sh --memory 7.5 --cpu 20 sites_total=15 sites_completed=11
stored "SELECT counters ? 'sites_total' FROM runs WHERE run_id = '$B'"
"$RT" progress --run "$B" --job sites.sh sites_completed=12
stored "SELECT (counters->>'sites_completed')::int = 12 FROM runs WHERE run_id = '$B'"

# (c) kcat records: run C's four at once, run D's one at a time, each stored before the next.
C=$(python3 -c 'import uuid; print(uuid.uuid4())')
D=$(python3 -c 'import uuid; print(uuid.uuid4())')
ev() { # RUN SEQ TYPE DATA
    python3 - "$@" <<'PY'
import json, sys, uuid
run, seq, typ, data = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
print(run + "\t" + json.dumps({"v": 1, "event_id": str(uuid.uuid4()), "run_id": run, "seq": seq,
      "ts": "2026-11-25T11:15:%02d.000000Z" % seq, "type": typ, "job": "shuffled.py",
      "kind": "scrape", "producer": {"host": "h", "pid": 1, "lib": "test"}, "data": data}))
PY
}
# (No run.started: a run may begin with any event, and seq 1 is the first progress here.)
for r in "$C" "$D"; do
    ev "$r" 1 run.progress '{"counters": {"a": 1, "b": 1}}' >"$T/$r.1"
    ev "$r" 3 run.progress '{"counters": {"a": 3}}' >"$T/$r.2"
    ev "$r" 2 run.progress '{"counters": {"b": 2}}' >"$T/$r.3"
    cp "$T/$r.1" "$T/$r.4" # the first progress, re-delivered
done
cat "$T/$C".[1-4] >"$T/c.txt"
ct_produce "$T/c.txt"
# 6 CLI events (3 of A, 3 of B) and C's 4: the stored offsets say when a record is applied.
applied() {
    rt_wait_for "[ \"\$(ct_offsets_sum)\" -ge $1 ]" 30 ||
        rt_die "only $(ct_offsets_sum) of $1 records applied: $(tail -3 "$T/c.log")"
}
applied 10
for i in 1 2 3 4; do
    ct_produce "$T/$D.$i"
    applied $((10 + i))
done

# check DSN WHAT: the merged values in the database DSN.
check() {
    local got
    got=$(RUNTRACK_PG_DSN=$1 rt_psql_value "SELECT string_agg(x, ' ' ORDER BY o) FROM (
        SELECT 1 o, counters::text || '|' || coalesce(memory_percent::text, '-') || '|' ||
               coalesce(cpu_percent::text, '-') x FROM runs WHERE run_id = '$A'
        UNION ALL SELECT 2, api_calls_made || '|' || opportunities_found FROM discovery_runs
         WHERE id = '$A'
        UNION ALL SELECT 3, counters::text || '|' || memory_percent || '|' || cpu_percent
          FROM runs WHERE run_id = '$B'
        UNION ALL SELECT 4, counters::text FROM runs WHERE run_id = '$C'
        UNION ALL SELECT 5, counters::text FROM runs WHERE run_id = '$D') t")
    local want='{"new": 5, "found": 120, "api_calls": 42}|-|- 42|120'
    want+=' {"sites_total": 15, "sites_completed": 12}|7.5|20'
    want+=' {"a": 3, "b": 2} {"a": 3, "b": 2}'
    [ "$got" = "$want" ] || rt_die "$2: got '$got', expected '$want'"
}
check "$RUNTRACK_PG_DSN" "live"
[ "$(rt_psql_value "SELECT count(*) FROM dead_letters")" = 0 ] ||
    rt_die "dead letters: $(rt_psql_value "SELECT reason || ' ' || detail FROM dead_letters")"
curl -sf "http://127.0.0.1:$port/api/runs/$B" >"$T/b.json" || rt_die "GET /api/runs/$B failed"
python3 - "$T/b.json" <<'PY' || rt_die "run B's progress in the API: $(cat "$T/b.json")"
import json, sys
p = json.load(open(sys.argv[1]))["progress"]
sys.exit(0 if (p["unit"], p["done"], p["total"]) == ("sites", 12, 15)
         and p["estimated_remaining_seconds"] is not None else 1)
PY
echo "live: counters merged, discovery_runs.api_calls_made 42, memory/cpu kept, ETA"
kill $pid
wait $pid || true
pid=

# (d) a replay of the topic (other batches: here every run's events fold in one) gives the same.
ct_assert_clean_pass "$T" "a replay of the topic gives other tables" >/dev/null
ct_new_db R again
RUNTRACK_PG_DSN=$R CT_LOG="$T/replay2.log" ct_consumer replay --to-end || rt_die "replay failed"
check "$R" "replay"
echo "replay: same tables, same values"
