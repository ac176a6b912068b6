#!/usr/bin/env bash
# Client-supplied run ids (`runtrack start --run ID`): a UUIDv4 is the run's id; starting it again
# under the same job is idempotent (one run, the first start's counts, counters/phase/status
# kept); starting it under another job is refused by the consumer (one dead letter, reason rule,
# whose detail names both jobs), and the run is left as it was.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
RT="$RUNTRACK_BUILD_DIR/producer/runtrack"
[ -x "$RT" ] || { echo "SKIP: $RT not built"; exit 77; }
unset RUNTRACK_RUN_ID RUNTRACK_JOB RUNTRACK_KIND

R=6f1c2e3a-9b4d-4c5e-8f60-$(printf '%012x' $((RANDOM * 32768 + RANDOM)))
RU=$(echo "$R" | tr a-f A-F)
got=$("$RT" start --run "$RU" --job cid.py --count events=10) || rt_die "start --run refused"
[ "$got" = "$R" ] || rt_die "start --run printed '$got', expected $R"
"$RT" phase --run "$R" --job cid.py scraping
"$RT" progress --run "$R" --job cid.py found=5
# The same id again, same job: a retried start. The run keeps its first start's counts, its
# counters and its phase.
got=$("$RT" start --run "$R" --job cid.py --count events=99) || rt_die "a second start --run failed"
[ "$got" = "$R" ] || rt_die "the second start printed '$got'"
# $RUNTRACK_RUN_ID is not a start's id: a start inside a run is a new run.
other=$(RUNTRACK_RUN_ID=$R "$RT" start --job cid.py) || rt_die "start failed"
[ "$other" != "$R" ] || rt_die "start took \$RUNTRACK_RUN_ID as the new run's id"
# The same id under another job: the consumer refuses it.
"$RT" start --run "$R" --job impostor.py --count events=1 >/dev/null || rt_die "start failed"
"$RT" finish --run "$R" --job cid.py --status completed --count events=12

ct_consumer --exit-when-idle 1500 || rt_die "consumer failed"
row=$(rt_psql_value "SELECT job || '|' || status || '|' || coalesce(phase, '') || '|' ||
    (start_counts->>'events') || '|' || (counters->>'found') || '|' || identity_conflict
    FROM runs WHERE run_id = '$R'")
[ "$row" = 'cid.py|completed|scraping|10|5|false' ] || rt_die "runs row is '$row'"
[ "$(rt_psql_value "SELECT count(*) FROM runs")" = 2 ] || rt_die "expected 2 runs"
[ "$(rt_psql_value "SELECT new_events_in_db FROM run_results WHERE run_id = '$R'")" = 2 ] ||
    rt_die "run_results should hold the run with 12 - 10 new events"
[ "$(rt_psql_value "SELECT imported FROM run_results WHERE run_id = '$R'")" = f ] ||
    rt_die "the consumer's run_results row is marked imported"
dl=$(rt_psql_value "SELECT reason || '|' || detail FROM dead_letters")
[ "$(rt_psql_value "SELECT count(*) FROM dead_letters")" = 1 ] || rt_die "dead letters: $dl"
case "$dl" in
    'rule|run.started as job "impostor.py" kind "scrape" refused: run '"$R"' was started as job "cid.py" kind "scrape" (a run id names one run)') ;;
    *) rt_die "unexpected dead letter: $dl" ;;
esac
echo "client-supplied run ids: ok"
