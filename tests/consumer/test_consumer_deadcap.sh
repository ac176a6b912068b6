#!/usr/bin/env bash
# The dead-letter payload cap per day (dead_letters_max_kib_per_day): with a 1 KiB cap and bad
# records of 300 bytes, the first three keep their payload; every later one keeps reason, key,
# position, size and a detail saying "payload dropped: daily cap", and is counted (the
# dead_letter_days row, the consumer's counter). The cap holds across a restart (the day's total
# is in PostgreSQL, not in the process), and the valid neighbours all land.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
rt_tmpdir T
export RUNTRACK_DEAD_LETTERS_MAX_KIB_PER_DAY=1 RUNTRACK_MAINTENANCE_INTERVAL_S=0

# gen OUT FIRST COUNT: COUNT pairs (valid run.log, bad record of exactly 300 bytes) of one run,
# seqs from FIRST; same key, so one partition in order.
gen() {
    python3 - "$@" <<'PY'
import json, sys
out, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
R = "019a16a0-5ebb-7312-8643-8b2a38836cfd"
lines = []
for i in range(count):
    seq = first + i
    e = {"v": 1, "event_id": "019a16a0-5ebb-793f-8852-%012d" % seq, "run_id": R, "seq": seq,
         "ts": "2025-10-24T14:30:%02d.000000Z" % (seq % 60), "type": "run.log", "job": "cap.py",
         "kind": "scrape", "producer": {"host": "h", "pid": 1, "lib": "0.1.0"},
         "data": {"level": "info", "message": "line %d" % seq}}
    lines.append(R + "\t" + json.dumps(e, separators=(",", ":")))
    bad = '{"v":1,"run_id":"%s","bad":%d,"pad":"' % (R, seq)
    bad += "x" * (300 - len(bad) - 1) + '"'  # no closing brace: invalid JSON
    assert len(bad) == 300
    lines.append(R + "\t" + bad)
open(out, "w").write("\n".join(lines) + "\n")
PY
}

gen "$T/one.txt" 1 10
ct_produce "$T/one.txt"
CT_LOG="$T/one.log" ct_consumer --exit-when-idle 1500 || rt_die "consumer failed"
q() { rt_psql_value "$1"; }
[ "$(q "SELECT count(*) FROM dead_letters")" = 10 ] || rt_die "expected 10 dead letters"
[ "$(q "SELECT count(*) FROM dead_letters WHERE payload IS NOT NULL AND length(payload) = 300")" = 3 ] ||
    rt_die "the first 3 dead letters should keep their payload: $(q "SELECT \"offset\", payload IS NULL FROM dead_letters ORDER BY 1")"
# The first ones by offset keep it.
[ "$(q "SELECT bool_and(payload IS NOT NULL) FROM (SELECT payload FROM dead_letters ORDER BY \"offset\" LIMIT 3) d")" = t ] ||
    rt_die "payloads kept out of order"
[ "$(q "SELECT count(*) FROM dead_letters WHERE payload IS NULL AND payload_size = 300
    AND reason = 'invalid_json' AND msg_key = convert_to('019a16a0-5ebb-7312-8643-8b2a38836cfd', 'UTF8')
    AND detail LIKE 'payload dropped: daily cap; %' AND \"offset\" >= 0")" = 7 ] ||
    rt_die "dropped dead letters lost their reason/key/size/detail: $(q "SELECT reason, payload_size, detail FROM dead_letters WHERE payload IS NULL")"
[ "$(q "SELECT payload_bytes || ' ' || payload_dropped FROM dead_letter_days")" = "900 7" ] ||
    rt_die "day total wrong: $(q "SELECT * FROM dead_letter_days")"
grep -q 'dead.payload_dropped=7' "$T/one.log" || rt_die "the consumer did not count the dropped payloads"
[ "$(q "SELECT count(*) FROM run_logs")" = 10 ] || rt_die "valid neighbours lost"

# A restart (another process, same day): the cap is already spent.
gen "$T/two.txt" 11 5
ct_produce "$T/two.txt"
CT_LOG="$T/two.log" ct_consumer --exit-when-idle 1500 || rt_die "consumer restart failed"
[ "$(q "SELECT count(*) FROM dead_letters WHERE payload IS NOT NULL")" = 3 ] ||
    rt_die "a restart reset the daily cap"
[ "$(q "SELECT payload_bytes || ' ' || payload_dropped FROM dead_letter_days")" = "900 12" ] ||
    rt_die "day total wrong after restart: $(q "SELECT * FROM dead_letter_days")"
grep -q 'dead.payload_dropped=5' "$T/two.log" || rt_die "the restarted consumer did not count"
[ "$(q "SELECT count(*) FROM run_logs")" = 15 ] || rt_die "valid neighbours lost after restart"
ct_assert_offsets 30

# 0 = no cap: everything keeps its payload again.
gen "$T/three.txt" 16 2
ct_produce "$T/three.txt"
RUNTRACK_DEAD_LETTERS_MAX_KIB_PER_DAY=0 CT_LOG="$T/three.log" ct_consumer --exit-when-idle 1500 ||
    rt_die "uncapped consumer failed"
[ "$(q "SELECT count(*) FROM dead_letters WHERE payload IS NOT NULL")" = 5 ] || rt_die "0 should mean no cap"
echo "deadcap: ok"
