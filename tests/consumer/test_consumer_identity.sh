#!/usr/bin/env bash
# A run's identity (docs/decisions.md, "A run's identity"), through kcat → Kafka → consumer →
# PostgreSQL, with the keys and the order chosen here:
#   A  a log line of another job arrives (and is committed) ahead of the run's run.started: the
#      run.started takes the run (job/kind of the run.started, identity_conflict set), its four
#      genuine events all land, and the other job's line after the run.started is a rule dead
#      letter;
#   B  records whose Kafka key differs from the body's run_id, is empty, or is missing, and one
#      with the nil run id: dead letters key_mismatch / nil_run_id while B's neighbours land;
#   D  a finished run that retention deletes (the maintenance thread) and then one late log
#      line of it: a run_removed dead letter, no phantom running run.
# Before retention, a replay of the topic into an empty database gives identical tables.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
rt_tmpdir T

python3 - "$T" <<'PY'
import datetime, json, sys
T = sys.argv[1]
A = "019a16a0-5ebb-7312-8643-0000000000a1"
B = "019a16a0-5ebb-7312-8643-0000000000b1"
C = "019a16a0-5ebb-7312-8643-0000000000c1"
D = "019a16a0-5ebb-7312-8643-0000000000d1"
NIL = "00000000-0000-0000-0000-000000000000"
# A and B happen now (retention must leave them alone), D long ago.
now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=5)
old = datetime.datetime(2020, 1, 1, 12, 0, 0)
n = [0]
def ev(run, seq, typ, data, job="fb_v2.py", kind="scrape", base=now):
    n[0] += 1
    ts = (base + datetime.timedelta(seconds=seq)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps({"v": 1, "event_id": "019a16a0-5ebb-793f-8852-%012d" % n[0], "run_id": run,
                       "seq": seq, "ts": ts, "type": typ, "job": job, "kind": kind,
                       "producer": {"host": "h", "pid": 1, "lib": "0.1.0"}, "data": data},
                      separators=(",", ":"))
log = lambda run, seq, msg, **kw: ev(run, seq, "run.log", {"level": "info", "message": msg}, **kw)
fin = lambda run, seq, **kw: ev(run, seq, "run.finished", {"status": "completed",
                                "end_counts": {"events": 3, "urls": 2}}, **kw)
start = lambda run, **kw: ev(run, 1, "run.started", {"start_counts": {"events": 1, "urls": 1}}, **kw)
def write(name, lines):
    open(T + "/" + name, "w").write("".join(k + "\t" + v + "\n" for k, v in lines))
# A's impostor goes first, alone, and is committed before the rest is sent.
write("p1.txt", [(A, log(A, 50, "impostor first", job="impostor.py", kind="discovery"))])
write("p2.txt", [
    (A, start(A)), (A, log(A, 2, "genuine 2")), (A, log(A, 3, "genuine 3")), (A, fin(A, 4)),
    (A, log(A, 60, "impostor after the start", job="impostor.py", kind="discovery")),
    (B, start(B)),
    (C, log(B, 20, "keyed by another run")),
    (B, log(B, 2, "neighbour 2")),
    ("", log(B, 21, "empty key")),
    (B, log(B, 3, "neighbour 3")),
    (NIL, log(NIL, 22, "nil run id")),
    (B, fin(B, 4)),
    (D, start(D, base=old)), (D, fin(D, 4, base=old)),
])
# Without any key (kcat without -K).
open(T + "/nokey.json", "w").write(log(B, 23, "no key") + "\n")
write("late.txt", [(D, log(D, 9, "late line after retention"))])
PY

export RUNTRACK_MAINTENANCE_INTERVAL_S=0 RUNTRACK_STALE_CLOSE_AFTER_S=0
ct_produce "$T/p1.txt"
ct_consumer --exit-when-idle 1500 || rt_die "consumer failed"
A=019a16a0-5ebb-7312-8643-0000000000a1
B=019a16a0-5ebb-7312-8643-0000000000b1
D=019a16a0-5ebb-7312-8643-0000000000d1
[ "$(rt_psql_value "SELECT job || ' ' || has_started::text FROM runs WHERE run_id = '$A'")" = "impostor.py false" ] ||
    rt_die "the impostor's line did not make a provisional run"

ct_produce "$T/p2.txt"
kcat -P -b "$RUNTRACK_BROKERS" -t "$RUNTRACK_TOPIC" -l "$T/nokey.json" || rt_die "kcat (no key) failed"
ct_consumer --exit-when-idle 1500 || rt_die "consumer failed"

check() { # check WHAT SQL WANT
    local got
    got=$(rt_psql_value "$2")
    [ "$got" = "$3" ] || rt_die "$1: got '$got', want '$3'"
    echo "$1: ok"
}
check "run A belongs to its run.started's job, flagged" \
    "SELECT job || ' ' || kind || ' ' || has_started::text || ' ' || identity_conflict::text || ' ' || status
       FROM runs WHERE run_id = '$A'" "fb_v2.py scrape true true completed"
check "A's genuine log lines landed" \
    "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM run_logs WHERE run_id = '$A'" "2,3,50"
check "A's run_results row names the started job" \
    "SELECT file_name || ' ' || new_events_in_db FROM run_results WHERE run_id = '$A'" "fb_v2.py 2"
check "A's provisional discovery_runs row is gone" "SELECT count(*) FROM discovery_runs" "0"
check "only the impostor after the run.started is a rule dead letter" \
    "SELECT count(*) || ' ' || bool_and(payload_size > 0 AND convert_from(payload, 'UTF8') LIKE
       '%impostor after the start%')::text FROM dead_letters WHERE reason = 'rule'" "1 true"
check "key mismatch (another run, empty, missing) are dead letters" \
    "SELECT count(*) FROM dead_letters WHERE reason = 'key_mismatch'" "3"
check "the missing key is stored as NULL, the empty one as empty" \
    "SELECT count(*) FILTER (WHERE msg_key IS NULL) || ' ' || count(*) FILTER (WHERE msg_key = '')
       FROM dead_letters WHERE reason = 'key_mismatch'" "1 1"
check "the nil run id is a dead letter" "SELECT count(*) FROM dead_letters WHERE reason = 'nil_run_id'" "1"
check "no other dead letters" "SELECT count(*) FROM dead_letters" "5"
check "B's neighbours landed" \
    "SELECT status || ' ' || identity_conflict::text || ' ' || (SELECT string_agg(seq::text, ',' ORDER BY seq)
       FROM run_logs WHERE run_id = '$B') FROM runs WHERE run_id = '$B'" "completed false 2,3"
check "no run for the nil id" "SELECT count(*) FROM runs WHERE run_id = '00000000-0000-0000-0000-000000000000'" "0"
check "D is stored" "SELECT status FROM runs WHERE run_id = '$D'" "completed"

# A replay of the same topic into an empty database (one pass, other batches) gives the same.
ct_assert_clean_pass "$T" "a replay of the topic gives other tables"

# Retention deletes D (the maintenance thread runs beside the API); then one late line of D.
# Retention judges a run by when the consumer received it (runs.received_at, docs/events.md
# "Producer clocks"), so D is made old the way time would: its receive time set back.
rt_psql_value "UPDATE runs SET received_at = now() - interval '400 days',
                               first_received_at = now() - interval '400 days'
                WHERE run_id = '$D'" >/dev/null
RUNTRACK_HTTP_PORT=0 RUNTRACK_MAINTENANCE_INTERVAL_S=1 RUNTRACK_RETENTION_RUNS_DAYS=1 \
    "$CT_BIN" 2>"$T/maint.log" &
pid=$!
rt_on_exit "kill -9 $pid 2>/dev/null"
rt_wait_for "[ \"\$(rt_psql_value \"SELECT count(*) FROM runs_removed WHERE run_id = '$D'\")\" = 1 ]" 30 ||
    rt_die "retention did not delete run D: $(tail -5 "$T/maint.log")"
check "retention deleted only D" "SELECT string_agg(run_id::text, ',' ORDER BY run_id) FROM runs" "$A,$B"
ct_produce "$T/late.txt"
rt_wait_for "[ \"\$(rt_psql_value \"SELECT count(*) FROM dead_letters WHERE reason = 'run_removed'\")\" = 1 ]" 30 ||
    rt_die "the late line of a removed run is not a run_removed dead letter: $(tail -5 "$T/maint.log")"
kill -TERM "$pid"
wait "$pid" || rt_die "consumer exited with $?"
check "no phantom run" "SELECT count(*) FROM runs WHERE run_id = '$D'" "0"
check "the late line is no log row" "SELECT count(*) FROM run_logs WHERE run_id = '$D'" "0"
echo "identity: ok"
