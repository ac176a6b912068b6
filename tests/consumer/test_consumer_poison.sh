#!/usr/bin/env bash
# One poison record in a 10,000-record batch costs O(log n) transactions, not one per record.
#   A. Values the contract allows but PostgreSQL's columns refuse (memory_percent 1e-50 underflows
#      real, cpu_percent 7e-46 too, a leap second with a fraction) are dead letters (schema)
#      from the decoder: the batch goes in as it is, not one record per transaction.
#   B. A refusal no pre-check can see (a CHECK constraint this test adds to run_logs against one
#      message) is isolated by bisection: about 1.5 log2(n) transactions, the one record dead-
#      lettered, the 9,999 others landed, the offsets past every record.
# Transactions are counted from the consumer's log: one "batch committed" line per commit, one
# "... rejected by postgresql ..." line per refused attempt. 10,000 records one at a time (the
# old fallback) were ~10,000 transactions and ~30 s.
#   N=2000 test_consumer_poison.sh   a smaller stream (default 10,000)
#   PARTS=B test_consumer_poison.sh  only part B (default "A B")
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
rt_tmpdir T
N=${N:-10000}
PARTS=${PARTS:-A B}

# gen OUT MODE: N valid events of N/100 runs (run.started, run.log/run.progress, run.finished),
# keyed by run (4 partitions), plus the poisons of MODE: "range" (extra records) or "check" (one
# of the log messages is "poison-bisect").
gen() {
    python3 - "$1" "$2" "$N" <<'PY'
import json, sys
out, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs, per = n // 100, 100
def ev(r, seq, typ, data, ts=None):
    rid = "019a16a0-5ebb-7312-8643-%012d" % r
    e = {"v": 1, "event_id": "019a16a0-5ebb-793f-8852-%06d%06d" % (r, seq), "run_id": rid,
         "seq": seq, "ts": ts or "2025-10-24T14:%02d:%02d.%06dZ" % (seq // 60, seq % 60, r),
         "type": typ, "job": "poison.py", "kind": "scrape",
         "producer": {"host": "h", "pid": 1, "lib": "0.1.0"}, "data": data}
    return rid + "\t" + json.dumps(e, separators=(",", ":"))
lines = []
for r in range(runs):
    lines.append(ev(r, 1, "run.started", {"start_counts": {"events": 1, "urls": 1}}))
    for s in range(2, per):
        if s % 10 == 0:
            lines.append(ev(r, s, "run.progress", {"counters": {"pages": s}, "memory_percent": 12.5}))
        else:
            msg = "poison-bisect" if mode == "check" and r == runs // 3 and s == 57 else "line %d" % s
            lines.append(ev(r, s, "run.log", {"level": "info", "message": msg}))
    lines.append(ev(r, per, "run.finished", {"status": "completed", "end_counts": {"events": 3, "urls": 2}}))
if mode == "range":
    bad = [ev(7, 1000, "run.progress", {"counters": {"pages": 1}, "memory_percent": 1e-50}),
           ev(8, 1000, "run.progress", {"counters": {"pages": 1}, "cpu_percent": 7e-46}),
           ev(9, 1000, "run.log", {"level": "info", "message": "leap"}, ts="2016-12-31T23:59:60.500000Z")]
    for k, b in enumerate(bad):
        lines.insert(len(lines) * (k + 1) // 4, b)
open(out, "w").write("\n".join(lines) + "\n")
PY
}

# transactions LOG: commits + refused attempts of the writer.
transactions() {
    echo $(($(grep -c 'msg="batch committed"' "$1" || true) + $(grep -c 'rejected by postgresql' "$1" || true)))
}

# run_consumer LOG: the whole stream, gathered into as few batches as it takes.
run_consumer() {
    RUNTRACK_BATCH_MAX_EVENTS=$N RUNTRACK_BATCH_MAX_MS=3000 RUNTRACK_MAINTENANCE_INTERVAL_S=0 \
        CT_LOG="$1" ct_consumer --exit-when-idle 2000 || { tail -20 "$1" >&2; rt_die "consumer failed"; }
}

logs_per_run=$((100 - 2 - 9)) # seqs 2..99 minus the progress events (10, 20, ..., 90)

# ---- A: pre-checked poisons ----
if [[ " $PARTS " == *" A "* ]]; then
gen "$T/a.txt" range
ct_produce_bulk "$T/a.txt"
t0=$(date +%s%N)
run_consumer "$T/a.log"
ms=$((($(date +%s%N) - t0) / 1000000))
txa=$(transactions "$T/a.log")
batches=$(grep -c 'msg="batch committed"' "$T/a.log" || true)
echo "A: $((N + 3)) records, $batches batch(es), $txa transaction(s), ${ms} ms"
[ "$(rt_psql_value "SELECT count(*) FROM dead_letters WHERE reason = 'schema'
    AND detail LIKE '%out of range for PostgreSQL''s%'")" = 3 ] ||
    rt_die "A: expected 3 schema dead letters: $(rt_psql_value "SELECT reason, detail FROM dead_letters")"
[ "$(rt_psql_value "SELECT count(*) FROM dead_letters")" = 3 ] || rt_die "A: extra dead letters"
[ "$(rt_psql_value "SELECT count(*) FROM run_logs")" = $((N / 100 * logs_per_run)) ] ||
    rt_die "A: lost log lines next to the poisons"
[ "$(rt_psql_value "SELECT count(*) FILTER (WHERE status = 'completed' AND last_seq = 100
    AND counters = '{\"pages\": 90}' AND memory_percent = 12.5) FROM runs")" = $((N / 100)) ] ||
    rt_die "A: run state wrong"
ct_assert_offsets $((N + 3))
grep -q 'rejected by postgresql' "$T/a.log" && rt_die "A: PostgreSQL saw a poison the decoder should have stopped"
[ "$txa" -le 10 ] || rt_die "A: $txa transactions for $batches batch(es)"
fi

# ---- B: a refusal only PostgreSQL knows, isolated by bisection ----
[[ " $PARTS " == *" B "* ]] || { echo "poison: ok"; exit 0; }
ct_new_db dbb poison_b
ct_new_topic tb poison_b
export RUNTRACK_PG_DSN=$dbb RUNTRACK_TOPIC=$tb RUNTRACK_GROUP=${RUNTRACK_GROUP}_b
CT_LOG="$T/migrate.log" ct_consumer migrate || rt_die "migrate failed"
rt_psql_value "ALTER TABLE run_logs ADD CONSTRAINT poison_check CHECK (message <> 'poison-bisect')" >/dev/null
gen "$T/b.txt" check
ct_produce_bulk "$T/b.txt"
t0=$(date +%s%N)
run_consumer "$T/b.log"
ms=$((($(date +%s%N) - t0) / 1000000))
txb=$(transactions "$T/b.log")
batches=$(grep -c 'msg="batch rejected by postgresql' "$T/b.log" || true)
log2=$(python3 -c "import math; print(math.ceil(math.log2($N)))")
echo "B: $N records, $txb transaction(s) (log2 n = $log2), ${ms} ms"
[ "$(rt_psql_value "SELECT count(*) FROM dead_letters WHERE detail LIKE 'database rejected the event:%poison_check%'
    AND convert_from(payload, 'UTF8') LIKE '%poison-bisect%'")" = 1 ] ||
    rt_die "B: the refused record is not the one dead letter: $(rt_psql_value "SELECT reason, detail FROM dead_letters")"
[ "$(rt_psql_value "SELECT count(*) FROM dead_letters")" = 1 ] || rt_die "B: valid records dead-lettered"
[ "$(rt_psql_value "SELECT count(*) FROM run_logs")" = $((N / 100 * logs_per_run - 1)) ] ||
    rt_die "B: lost log lines next to the refused one"
[ "$(rt_psql_value "SELECT count(*) FROM run_results")" = $((N / 100)) ] || rt_die "B: run_results missing"
ct_assert_offsets "$N"
[ "$batches" -ge 1 ] || rt_die "B: the constraint never refused a batch"
# One bisection per refused batch: the first attempt, ~1.5 log2 n halves, the record alone and
# as a dead letter; 2 log2 n + 4 per refused batch is the bound.
[ "$txb" -le $((batches * (2 * log2 + 4) + 5)) ] ||
    rt_die "B: $txb transactions for one refused record in $N (bound $((batches * (2 * log2 + 4) + 5)))"
# Nothing is re-read on restart: every part moved the offsets past its last record.
before=$(ct_checksum)
CT_LOG="$T/b2.log" ct_consumer --exit-when-idle 1000 || rt_die "consumer restart failed"
[ "$(ct_checksum)" = "$before" ] || rt_die "B: a restart changed the tables"
echo "poison: ok"
