#!/usr/bin/env bash
# Producer-fed end to end: the `runtrack` CLI (libruntrack) reports a seed-000 style run and a
# failing discovery run; the consumer must accept every event it sends (no dead letter) and
# write the rows the seeds would have written.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
RT="$RUNTRACK_BUILD_DIR/producer/runtrack"
[ -x "$RT" ] || { echo "SKIP: $RT not built"; exit 77; }

eval "$("$RT" start --job fb_v2.py --count events=1000 --count urls=500 --planned sites_total=2 --export)"
R1=$RUNTRACK_RUN_ID
"$RT" phase scraping
"$RT" progress --memory 5.5 --cpu 12 sites_total=2 sites_completed=1
for level in info success warning error; do "$RT" log --level "$level" "a $level line"; done
"$RT" pause --reason "operator request"
"$RT" resume
"$RT" heartbeat
"$RT" finish --status completed --count events=1050 --count urls=525 found=120 new=30

eval "$("$RT" start --job discover_opportunities.py --kind discovery naics_codes='["541511","541512"]' posted_from=2025-10-01 posted_to=2025-10-24 --export)"
R2=$RUNTRACK_RUN_ID
"$RT" finish --status failed --error "HTTP 503 from api.sam.gov" --error-details-json '{"page":7}' api_calls=7 found=12

ct_consumer --exit-when-idle 1500 || rt_die "consumer failed"
dead=$(rt_psql_value "SELECT count(*) FROM dead_letters")
[ "$dead" = 0 ] || rt_die "events from the producer were dead-lettered: $(rt_psql_value "SELECT reason, detail FROM dead_letters")"
[ "$(rt_psql_value "SELECT status, phase, paused, memory_percent, producer_lib IS NOT NULL FROM runs WHERE run_id = '$R1'")" = "completed|scraping|f|5.5|t" ] ||
    rt_die "runs row of $R1: $(rt_psql_value "SELECT status, phase, paused, memory_percent FROM runs WHERE run_id = '$R1'")"
[ "$(rt_psql_value "SELECT count(*) FROM run_logs WHERE run_id = '$R1'")" = 4 ] || rt_die "expected 4 log rows"
[ "$(rt_psql_value "SELECT file_name, events_count_start, urls_count_end, new_events_in_db, new_urls_in_db, elapsed_time ~ '^0 days [0-9:]{8}[.][0-9]{6}\$' FROM run_results WHERE run_id = '$R1'")" = "fb_v2.py|1000|525|50|25|t" ] ||
    rt_die "run_results row of $R1: $(rt_psql_value "SELECT * FROM run_results WHERE run_id = '$R1'")"
[ "$(rt_psql_value "SELECT status, naics_codes, posted_from, api_calls_made, opportunities_found, error_message, error_details->>'page' FROM discovery_runs WHERE id = '$R2'")" = "failed|{541511,541512}|2025-10-01|7|12|HTTP 503 from api.sam.gov|7" ] ||
    rt_die "discovery_runs row of $R2: $(rt_psql_value "SELECT * FROM discovery_runs WHERE id = '$R2'")"
echo "producer: ok"
