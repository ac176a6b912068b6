#!/usr/bin/env bash
# One bad record of every class, each between valid events of the same run (same key, so same
# partition and order): invalid_json, schema, unknown_type, unsupported_version, oversize (over
# the configured max_event_bytes) and rule (same run_id under another job). Each must become one
# dead_letters row with its reason, a human detail, the raw key and bytes, topic/partition/
# offset and Kafka timestamp; every valid neighbour must still land.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
rt_tmpdir T

python3 - "$T" <<'PY'
import json, sys
T = sys.argv[1]
R = "019a16a0-5ebb-7312-8643-8b2a38836cfd"
def ev(seq, typ, data, **over):
    e = {"v": 1, "event_id": "019a16a0-5ebb-793f-8852-%012d" % seq, "run_id": R, "seq": seq,
         "ts": "2025-10-24T14:30:%02d.000000Z" % seq, "type": typ, "job": "fb_v2.py",
         "kind": "scrape", "producer": {"host": "h", "pid": 1, "lib": "0.1.0"}, "data": data}
    e.update(over)
    return json.dumps(e, separators=(",", ":"))
log = lambda seq, msg: ev(seq, "run.log", {"level": "info", "message": msg})
good = [ev(1, "run.started", {"start_counts": {"events": 10, "urls": 5}}), log(2, "first"),
        log(3, "second"), log(4, "third"), log(5, "fourth"), log(6, "fifth"), log(7, "sixth"),
        ev(8, "run.finished", {"status": "completed", "end_counts": {"events": 12, "urls": 6}})]
bad = {
    "invalid_json": '{"v":1,"run_id":"' + R + '",',
    "schema": ev(20, "run.log", {"level": "info", "message": "m"}, ts="yesterday"),
    "unknown_type": ev(21, "run.exploded", {}),
    "unsupported_version": ev(22, "run.log", {"level": "info", "message": "m"}, v=2),
    "oversize": log(23, "x" * 5000),
    "rule": ev(24, "run.log", {"level": "info", "message": "m"}, job="other.py"),
}
lines, expect = [], []
for i, g in enumerate(good):
    lines.append(R + "\t" + g)
    if i < len(bad):
        reason, payload = list(bad.items())[i]
        lines.append(R + "\t" + payload)
        expect.append((reason, payload))
open(T + "/events.txt", "w").write("\n".join(lines) + "\n")
with open(T + "/expect.tsv", "w") as f:
    for reason, payload in expect:
        f.write(reason + "\t" + payload.encode().hex() + "\n")
PY

ct_produce "$T/events.txt"
RUNTRACK_MAX_EVENT_BYTES=4096 ct_consumer --exit-when-idle 1500 || rt_die "consumer failed"

fails=0
while IFS=$'\t' read -r reason hex; do
    row=$(rt_psql_value "SELECT count(*), min(detail), bool_and(payload = '\\x$hex'::bytea),
        bool_and(msg_key = convert_to('019a16a0-5ebb-7312-8643-8b2a38836cfd', 'UTF8')),
        bool_and(payload_size = length('\\x$hex'::bytea)), bool_and(kafka_ts IS NOT NULL),
        bool_and(topic = '$RUNTRACK_TOPIC' AND partition >= 0 AND \"offset\" >= 0)
        FROM dead_letters WHERE reason = '$reason'")
    IFS='|' read -r n detail raw key size kts where <<<"$row"
    if [ "$n" = 1 ] && [ -n "$detail" ] && [ "$raw" = t ] && [ "$key" = t ] && [ "$size" = t ] &&
        [ "$kts" = t ] && [ "$where" = t ]; then
        echo "dead letter $reason: ok ($detail)"
    else
        echo "FAIL dead letter $reason: $row" >&2
        fails=$((fails + 1))
    fi
done <"$T/expect.tsv"
[ $fails -eq 0 ] || rt_die "$fails dead-letter class(es) wrong"
[ "$(rt_psql_value "SELECT count(*) FROM dead_letters")" = 6 ] || rt_die "expected exactly 6 dead letters"

# The neighbours all landed.
[ "$(rt_psql_value "SELECT count(*) FROM run_logs")" = 6 ] || rt_die "lost log lines next to bad records"
[ "$(rt_psql_value "SELECT status || ' ' || last_seq || ' ' || job FROM runs")" = "completed 8 fb_v2.py" ] ||
    rt_die "run state wrong: $(rt_psql_value "SELECT status, last_seq, job FROM runs")"
[ "$(rt_psql_value "SELECT new_events_in_db || ' ' || new_urls_in_db FROM run_results")" = "2 1" ] ||
    rt_die "run_results wrong"
# And the dead letters' offsets were consumed: nothing is re-read on restart.
before=$(ct_checksum)
ct_consumer --exit-when-idle 1000 || rt_die "consumer restart failed"
[ "$(ct_checksum)" = "$before" ] || rt_die "a restart changed the tables"
echo "deadletter: ok"
