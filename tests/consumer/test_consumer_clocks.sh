#!/usr/bin/env bash
# Producer clocks: a live runtrack-consumer with maintenance every second, stale closing after
# 600 s, retention of 1 day and max_clock_skew_s=3600 (settings of this test, not defaults):
#   (a) a running run whose events are stamped 1970 and keep arriving is neither closed as
#       stale nor deleted by retention (passes judge a run by when its events were received);
#   (b) a run stamped two hours in the past that keeps sending is not closed as stale;
#   (c) a finished run stamped year 9999: /api/health and /api/jobs answer 200 with sane
#       figures (no "no runs"/"no success" alert, last run not in 9999), and retention deletes
#       it once its received_at is older than retention_days;
#   (d) the skewed runs are flagged (runs.clock_skew_s) and a run stamped 1970 at start and
#       right at its end gets a clamped duration, not 56 years.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
rt_tmpdir T

A=$(python3 -c 'import uuid; print(uuid.uuid4())')
B=$(python3 -c 'import uuid; print(uuid.uuid4())')
C=$(python3 -c 'import uuid; print(uuid.uuid4())')
D=$(python3 -c 'import uuid; print(uuid.uuid4())')
N=$(python3 -c 'import uuid; print(uuid.uuid4())')

# gen KIND SEQ: kcat lines. first: the starts, C's whole life, D's start, a normal run N of
# C's job; more SEQ: one progress event of A (1970) and B (two hours ago) each; finish: D ends
# now (its start said 1970).
gen() {
    python3 - "$1" "$2" "$A" "$B" "$C" "$D" "$N" <<'PY'
import datetime, json, sys, uuid
what, seq, a, b, c, d, n = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
now = datetime.datetime.now(datetime.timezone.utc)
f = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
def ev(rid, seq, ts, typ, job, data):
    print(rid + "\t" + json.dumps({"v": 1, "event_id": str(uuid.uuid4()), "run_id": rid,
          "seq": seq, "ts": ts, "type": typ, "job": job, "kind": "pipeline",
          "producer": {"host": "skewed", "pid": 7, "lib": "test"}, "data": data}))
epoch = lambda s: f(datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
                    + datetime.timedelta(seconds=s))
two_h = now - datetime.timedelta(hours=2)
if what == "first":
    ev(a, 1, epoch(1), "run.started", "epoch.py", {})
    ev(b, 1, f(two_h), "run.started", "behind.py", {})
    ev(n, 1, f(now - datetime.timedelta(minutes=30)), "run.started", "future.py", {})
    ev(n, 2, f(now - datetime.timedelta(minutes=20)), "run.finished", "future.py",
       {"status": "completed"})
    ev(c, 1, "9999-12-31T23:00:00.000000Z", "run.started", "future.py",
       {"start_counts": {"events": 1}})
    ev(c, 2, "9999-12-31T23:59:59.999999Z", "run.finished", "future.py",
       {"status": "completed", "end_counts": {"events": 5}})
    ev(d, 1, epoch(5), "run.started", "jump.py", {})
elif what == "more":
    ev(a, seq, epoch(seq), "run.progress", "epoch.py", {"counters": {"i": seq}})
    ev(b, seq, f(two_h + datetime.timedelta(seconds=seq)), "run.progress", "behind.py",
       {"counters": {"i": seq}})
else:
    ev(d, 2, f(now), "run.finished", "jump.py", {"status": "completed"})
PY
}

pid=
rt_on_exit '[ -n "$pid" ] && kill -9 $pid 2>/dev/null'
RUNTRACK_HTTP_PORT=0 RUNTRACK_MAINTENANCE_INTERVAL_S=1 RUNTRACK_STALE_AFTER_S=60 \
    RUNTRACK_STALE_CLOSE_AFTER_S=600 RUNTRACK_RETENTION_DAYS=1 RUNTRACK_HTTP_CACHE_MS=0 \
    RUNTRACK_MAX_CLOCK_SKEW_S=3600 "$CT_BIN" 2>"$T/c.log" &
pid=$!
rt_wait_for "grep -q 'HTTP API listening' '$T/c.log'" 30 || rt_die "API never listened: $(tail -5 "$T/c.log")"
port=$(sed -n 's/.*HTTP API listening.*port=\([0-9]*\).*/\1/p' "$T/c.log" | head -1)
URL="http://127.0.0.1:$port"

gen first 1 >"$T/first.txt"
ct_produce "$T/first.txt"
rt_wait_for "[ \"\$(rt_psql_value 'SELECT count(*) FROM runs')\" -ge 5 ]" 30 ||
    rt_die "runs never stored: $(tail -5 "$T/c.log")"
gen finish 2 >"$T/finish.txt"
ct_produce "$T/finish.txt"

# (a), (b): A and B keep sending for 6 s, through at least four maintenance passes.
for seq in $(seq 2 13); do
    gen more "$seq" >"$T/more.txt"
    ct_produce "$T/more.txt"
    sleep 0.5
done
rt_wait_for "[ \"\$(rt_psql_value \"SELECT last_seq FROM runs WHERE run_id = '$A'\")\" = 13 ]" 20 ||
    rt_die "run A's events not all stored: $(rt_psql_value "SELECT status, last_seq FROM runs WHERE run_id = '$A'")"
sleep 2
for r in "$A" "$B"; do
    got=$(rt_psql_value "SELECT status || '|' || coalesce(status_reason, '') || '|' || last_seq FROM runs WHERE run_id = '$r'")
    [ "$got" = "running||13" ] || rt_die "live skewed run $r closed or deleted by maintenance: '$got'"
done
echo "(a)(b) live runs stamped 1970 and two hours ago: still running after the passes"

# (c) the reports with a run stamped 9999 among them.
code=$(curl -s -o "$T/health" -w '%{http_code}' "$URL/api/health")
[ "$code" = 200 ] || rt_die "/api/health answered $code: $(head -c 500 "$T/health")"
code=$(curl -s -o "$T/jobs" -w '%{http_code}' "$URL/api/jobs")
[ "$code" = 200 ] || rt_die "/api/jobs answered $code: $(head -c 500 "$T/jobs")"
python3 - "$T/health" "$T/jobs" <<'PY' || rt_die "reports distorted by the run stamped 9999"
import json, sys
h, j = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
bad = []
codes = {(a["code"], a["job"]) for a in h["alerts"]}
if ("no_runs", None) in codes:
    bad.append("health says there are no runs: %r" % h["alerts"])
if ("no_success", "future.py") in codes:
    bad.append("health says future.py never succeeded")
if h["last_run_at"] is None or h["last_run_at"] >= "9999":
    bad.append("health last_run_at %r" % h["last_run_at"])
fj = [x for x in h["jobs"] if x["job"] == "future.py"][0]
if (fj["last_run_at"] or "9999") >= "9999" or (fj["last_success_at"] or "9999") >= "9999":
    bad.append("health job last run/success %r %r" % (fj["last_run_at"], fj["last_success_at"]))
if fj["seconds_since_last_success"] is None or fj["seconds_since_last_success"] < 0:
    bad.append("seconds_since_last_success %r" % fj["seconds_since_last_success"])
jj = [x for x in j["jobs"] if x["job"] == "future.py"][0]
if jj["last_run"]["started_at"] >= "9999" or jj["last_success"]["finished_at"] >= "9999":
    bad.append("/api/jobs last run/success %r %r" % (jj["last_run"], jj["last_success"]))
for b in bad:
    print("FAIL", b)
sys.exit(1 if bad else 0)
PY
echo "(c) /api/health and /api/jobs: 200, last run and success at their receive times"

# (d) flags and clamped durations: D lasted (by its stamps) 56 years; it was received within
# seconds, so its duration is at most the receive span + 2 x 3600 s.
flags=$(rt_psql_value "SELECT string_agg(k || '=' || clock_skew_s, ',' ORDER BY k) FROM (SELECT CASE run_id WHEN '$A' THEN 'A' WHEN '$B' THEN 'B' WHEN '$C' THEN 'C' WHEN '$D' THEN 'D' ELSE 'N' END AS k, clock_skew_s FROM runs) x")
[ "$flags" = "A=3600,B=3600,C=3600,D=3600,N=0" ] || rt_die "clock_skew_s flags: $flags"
rt_wait_for "[ -n \"\$(rt_psql_value \"SELECT elapsed_time FROM run_results WHERE run_id = '$D'\")\" ]" 20 ||
    rt_die "run D has no run_results row"
el=$(rt_psql_value "SELECT extract(epoch FROM elapsed_time::interval) <= 7300 FROM run_results WHERE run_id = '$D'")
[ "$el" = t ] || rt_die "run D's run_results.elapsed_time not clamped: $(rt_psql_value "SELECT elapsed_time FROM run_results WHERE run_id = '$D'")"
curl -s "$URL/api/runs/$D" >"$T/d.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if 0 <= d["elapsed_seconds"] <= 7300 else 1)' "$T/d.json" ||
    rt_die "API elapsed_seconds of run D not clamped: $(head -c 400 "$T/d.json")"
echo "(d) skewed runs flagged; run D's duration clamped"

# (c) retention: C received three days ago (simulated) is deleted; the live A stays.
rt_psql_value "UPDATE runs SET received_at = now() - interval '3 days', first_received_at = now() - interval '3 days' WHERE run_id = '$C'" >/dev/null
rt_wait_for "[ \"\$(rt_psql_value \"SELECT count(*) FROM runs WHERE run_id = '$C'\")\" = 0 ]" 20 ||
    rt_die "run stamped 9999 not deleted by retention once received 3 days ago"
[ "$(rt_psql_value "SELECT count(*) FROM runs WHERE run_id IN ('$A', '$B', '$N')")" = 3 ] ||
    rt_die "retention deleted a young run"
echo "(c) retention deleted the finished run stamped 9999 by its receive time"

kill -TERM "$pid"
wait "$pid" || rt_die "consumer exited with an error: $(tail -5 "$T/c.log")"
pid=
grep -q 'dead' <(rt_psql_value "SELECT count(*) FROM dead_letters" | grep -v '^0$' | sed 's/.*/dead/') &&
    rt_die "events of skewed clocks were dead-lettered"
echo "clocks: ok"
