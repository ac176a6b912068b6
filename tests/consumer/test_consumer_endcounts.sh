#!/usr/bin/env bash
# Two finishes of one run, one record: the finish that wins on status does not take away the end
# counts the other finish reported (docs/decisions.md 61). A child of `runtrack run` that
# reports completed (or failed) with end counts and then exits non-zero is failed by the
# wrapper's finish, which carries no end counts: runs.end_counts and run_results' end and new
# columns keep the child's. A child that finishes twice keeps the counts of its earlier finish;
# a plain run whose first finish has no counts takes its second's. Then the same events replayed
# in order and reversed, one record per batch and all in one batch, and duplicated and
# shuffled: the tables equal the live ones.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
RT="$RUNTRACK_BUILD_DIR/producer/runtrack"
[ -x "$RT" ] || { echo "SKIP: $RT not built"; exit 77; }
rt_tmpdir T
export PATH="$(dirname "$RT"):$PATH"

# wrapped NAME EXIT SCRIPT: ct_wrapped with start counts events=1000 urls=500.
wrapped() { ct_wrapped "$T" "$1" "$2" "$3" --count events=1000 --count urls=500; }

wrapped exit3.sh 3 'runtrack finish --status completed --count events=1050 --count urls=525; exit 3'
R_EXIT3=$RUN
wrapped fail1.sh 1 'runtrack finish --status failed --count events=1010 --error "HTTP 503" \
    --error-details-json "{\"page\": 7}"; exit 1'
R_FAIL1=$RUN
wrapped twice.sh 2 'runtrack finish --status completed --count events=1100 --count urls=550
    runtrack finish --status completed --count events=1200 --count urls=600; exit 2'
R_TWICE=$RUN
wrapped ok0.sh 0 'runtrack finish --status completed --count events=1001 --count urls=501'
R_OK0=$RUN
eval "$(runtrack start --job plain.sh --count events=10 --export)"
R_PLAIN=$RUNTRACK_RUN_ID
runtrack finish --status completed
runtrack finish --status failed --count events=17
unset RUNTRACK_RUN_ID RUNTRACK_JOB RUNTRACK_KIND

ct_consumer --exit-when-idle 1500 || rt_die "consumer failed"
row() {
    rt_psql_value "SELECT r.status || '|' || coalesce(r.end_counts::text, '') || '|' ||
        coalesce(r.error_message, '') || '|' || coalesce(r.error_details::text, '') || '|' ||
        r.finished_by_wrapper || '|' || coalesce(x.events_count_end::text, '') || '|' ||
        coalesce(x.urls_count_end::text, '') || '|' || coalesce(x.new_events_in_db::text, '') ||
        '|' || coalesce(x.new_urls_in_db::text, '')
        FROM runs r LEFT JOIN run_results x USING (run_id) WHERE r.run_id = '$1'"
}
check() {
    local got
    got=$(row "$1")
    [ "$got" = "$2" ] || rt_die "$3: runs/run_results row is '$got', expected '$2'"
}
check "$R_EXIT3" 'failed|{"urls": 525, "events": 1050}|sh exited with status 3|{"exit_code": 3}|true|1050|525|50|25' \
    "completed with end counts, then exit 3"
check "$R_FAIL1" 'failed|{"events": 1010}|sh exited with status 1|{"exit_code": 1}|true|1010||10|' \
    "failed with end counts and an error, then exit 1"
check "$R_TWICE" 'failed|{"urls": 550, "events": 1100}|sh exited with status 2|{"exit_code": 2}|true|1100|550|100|50' \
    "two own finishes, then exit 2"
check "$R_OK0" 'completed|{"urls": 501, "events": 1001}|||false|1001|501|1|1' \
    "completed with end counts, then exit 0"
check "$R_PLAIN" 'completed|{"events": 17}|||false|17||7|' \
    "two plain finishes, the first without end counts"
[ "$(rt_psql_value "SELECT count(*) FROM dead_letters")" = 0 ] ||
    rt_die "events were dead-lettered: $(rt_psql_value "SELECT reason, detail FROM dead_letters")"
live=$(ct_checksum)

timeout 30 kcat -C -b "$RUNTRACK_BROKERS" -t "$RUNTRACK_TOPIC" -e -q -f '%k\t%s\n' >"$T/events.txt" ||
    rt_die "cannot read the topic back"
[ "$(grep -c '"run.finished"' "$T/events.txt")" = 11 ] || rt_die "expected 11 run.finished events"

# The child's finish first, then the wrapper's: each merged against the stored row.
ct_replay_runs order "$T/events.txt" "$live" ord1 RUNTRACK_BATCH_MAX_EVENTS=1
# The wrapper's finish first: in one batch, and each against the stored row.
ct_replay_runs reverse "$T/events.txt" "$live" rev
ct_replay_runs reverse "$T/events.txt" "$live" rev1 RUNTRACK_BATCH_MAX_EVENTS=1
ct_replay_runs shuffle "$T/events.txt" "$live" dup RUNTRACK_BATCH_MAX_EVENTS=3
echo "endcounts: ok"
