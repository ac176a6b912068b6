#!/usr/bin/env bash
# `runtrack run` and a child that finishes the run itself (it has RUNTRACK_RUN_ID): the exit
# status decides. A child that reports completed and then exits 3 (or is killed) leaves a failed
# run with its exit code; a child that reports failed and exits 0 stays failed; two finishes of
# a plain CLI run keep the earliest. Then the same events, each run's in reverse order and one
# record per batch (every finish merged against the stored row), and again duplicated and
# shuffled: the tables are the same.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
RT="$RUNTRACK_BUILD_DIR/producer/runtrack"
[ -x "$RT" ] || { echo "SKIP: $RT not built"; exit 77; }
rt_tmpdir T
export PATH="$(dirname "$RT"):$PATH"

ct_wrapped "$T" exit3.sh 3 'runtrack finish --status completed --count events=5; exit 3'
R_EXIT3=$RUN
ct_wrapped "$T" killed.sh 143 'runtrack finish --status completed; kill -TERM $$'
R_KILLED=$RUN
ct_wrapped "$T" failed0.sh 0 'runtrack finish --status failed --error "HTTP 503"'
R_FAILED0=$RUN
eval "$(runtrack start --job plain.sh --export)"
R_PLAIN=$RUNTRACK_RUN_ID
runtrack finish --status completed --error first
runtrack finish --status failed --error second
unset RUNTRACK_RUN_ID RUNTRACK_JOB RUNTRACK_KIND

ct_consumer --exit-when-idle 1500 || rt_die "consumer failed"
row() {
    rt_psql_value "SELECT status || '|' || coalesce(error_message, '') || '|' ||
        coalesce(error_details::text, '') || '|' || finished_by_wrapper FROM runs WHERE run_id = '$1'"
}
check() {
    local got
    got=$(row "$1")
    [ "$got" = "$2" ] || rt_die "$3: runs row is '$got', expected '$2'"
}
check "$R_EXIT3" 'failed|sh exited with status 3|{"exit_code": 3}|true' "completed then exit 3"
check "$R_KILLED" 'failed|sh killed by signal 15 (SIGTERM)|{"signal": 15, "signal_name": "SIGTERM"}|true' \
    "completed then SIGTERM"
check "$R_FAILED0" 'failed|HTTP 503||false' "failed then exit 0"
check "$R_PLAIN" 'completed|first||false' "two plain finishes"
[ "$(rt_psql_value "SELECT count(*) FROM run_results WHERE run_id IN ('$R_EXIT3', '$R_KILLED', '$R_FAILED0', '$R_PLAIN')")" = 4 ] ||
    rt_die "run_results should hold the four ended runs"
[ "$(rt_psql_value "SELECT count(*) FROM dead_letters")" = 0 ] ||
    rt_die "events were dead-lettered: $(rt_psql_value "SELECT reason, detail FROM dead_letters")"
live=$(ct_checksum)

timeout 30 kcat -C -b "$RUNTRACK_BROKERS" -t "$RUNTRACK_TOPIC" -e -q -f '%k\t%s\n' >"$T/events.txt" ||
    rt_die "cannot read the topic back"
[ "$(grep -c '"run.finished"' "$T/events.txt")" = 8 ] || rt_die "expected 8 run.finished events"

ct_replay_runs reverse "$T/events.txt" "$live" rev RUNTRACK_BATCH_MAX_EVENTS=1
ct_replay_runs shuffle "$T/events.txt" "$live" dup
echo "wrapexit: ok"
