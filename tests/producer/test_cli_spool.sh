#!/usr/bin/env bash
# The CLI's spool (docs/producer.md, "The spool"), end to end through runtrack-consumer into
# PostgreSQL, on a private dev broker this test takes down:
#   scraper N   all brokers down: a shell scraper (start, phase, N progress and N log calls,
#               finish) exits 0 at every call (warning: spooled); `runtrack run` exits with its
#               command's status (0, 3); a run whose calls pass spool.max.bytes loses log lines
#               (counted). Brokers up, ONE more CLI call (another run's start) delivers it all:
#               the run is completed with its counters, every log line exactly once (and with
#               its phase), every event exactly once in the topic, dropped_logs reported.
#   kill9       a CLI is SIGKILLed half-way through appending its record: `spool status` still
#               reads the spool (torn bytes skipped), the next append cuts the torn record,
#               a deliverer's leftover sending.spool goes out first, `spool flush` sends the
#               rest once, and the half record is never sent.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
mode=${1:?usage: test_cli_spool.sh scraper N | kill9}
RT=${RUNTRACK_CLI:-$RUNTRACK_BUILD_DIR/producer/runtrack} # RUNTRACK_CLI: another build's CLI
[ -x "$RT" ] || rt_die "$RT not built"
rt_tmpdir T
rt_private_broker "$T/broker"
rt_ctl topic "$RUNTRACK_TOPIC" 4 >/dev/null || rt_die "cannot create the topic"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
CT_LOG=$T/consumer.log
export RUNTRACK_SPOOL_DIR=$T/spool RUNTRACK_HEARTBEAT_INTERVAL_MS=0
unset RUNTRACK_RUN_ID RUNTRACK_JOB RUNTRACK_KIND
down() { rt_ctl down -1 >/dev/null || rt_die "cannot take the brokers down"; }
up() { rt_ctl up -1 >/dev/null || rt_die "cannot bring the brokers up"; }

# rt_cli EXPECTED_EXIT ARGS...: one CLI call that must exit EXPECTED_EXIT.
rt_cli() {
    local want=$1 rc=0
    shift
    "$RT" "$@" >>"$T/cli.out" 2>>"$T/cli.err" || rc=$?
    [ "$rc" = "$want" ] || rt_die "runtrack $*: exit $rc, expected $want: $(tail -3 "$T/cli.err")"
}

# The topic's events as "type<TAB>run_id<TAB>event_id<TAB>message" lines.
topic_events() {
    timeout 60 kcat -C -b "$RUNTRACK_BROKERS" -t "$RUNTRACK_TOPIC" -e -q -f '%s\n' |
        python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        e = json.loads(line)  # a half-sent record would not parse
        print("\t".join([e["type"], e["run_id"], e["event_id"], e["data"].get("message", "")]))'
}

consume() {
    ct_consumer --exit-when-idle 2000 || rt_die "consumer failed: $(tail -5 "$CT_LOG")"
    [ "$(rt_psql_value "SELECT count(*) FROM dead_letters")" = 0 ] ||
        rt_die "dead letters: $(rt_psql_value "SELECT reason, detail FROM dead_letters")"
}

scraper() {
    local n=$1 i run wrun3 wrun0 brun
    export RUNTRACK_TIMEOUT=0.3
    down
    run=$("$RT" start --job spool_scraper.sh --count events="$n" 2>>"$T/cli.err") ||
        rt_die "start with the brokers down failed: $(tail -3 "$T/cli.err")"
    grep -q 'warning: broker unreachable: 1 event(s) .* spooled' "$T/cli.err" ||
        rt_die "no spool warning on stderr: $(cat "$T/cli.err")"
    export RUNTRACK_RUN_ID=$run RUNTRACK_JOB=spool_scraper.sh
    rt_cli 0 phase scraping
    for ((i = 1; i <= n; i++)); do
        rt_cli 0 progress sites_completed="$i" sites_total="$n"
        rt_cli 0 log --level info "line $i of $n"
    done
    rt_cli 0 finish --status completed --count events="$n" sites_completed="$n" \
        sites_total="$n" found="$n"
    rt_cli 69 log --no-spool "never recorded"
    unset RUNTRACK_RUN_ID RUNTRACK_JOB
    # The wrapper's status is its command's, whatever happened to its events.
    rt_cli 0 run --job spool_wrap0.sh -- sh -c 'echo "wrun=$RUNTRACK_RUN_ID"; echo inside'
    wrun0=$(sed -n 's/^wrun=//p' "$T/cli.out" | tail -1)
    rt_cli 3 run --job spool_wrap3.sh -- sh -c 'echo "wrun=$RUNTRACK_RUN_ID"; exit 3'
    wrun3=$(sed -n 's/^wrun=//p' "$T/cli.out" | tail -1)
    # A run whose spooled calls pass spool.max.bytes (a spool of its own): its log lines go
    # first, counted.
    local b=(--set "spool.dir=$T/spool2" --set spool.max.bytes=8192) pad
    brun=$("$RT" start --job spool_bound.sh "${b[@]}" 2>>"$T/cli.err") || rt_die "start (bound) failed"
    pad=$(printf 'x%.0s' {1..400})
    for ((i = 1; i <= 30; i++)); do
        rt_cli 0 log --run "$brun" --job spool_bound.sh "${b[@]}" "bound $i $pad"
    done
    rt_cli 0 finish --run "$brun" --job spool_bound.sh "${b[@]}" --status completed
    "$RT" spool status >"$T/status.txt" || rt_die "spool status failed"
    grep -q "^$run  spool_scraper.sh .* $((2 * n + 3)) " "$T/status.txt" ||
        rt_die "spool status does not list the run's $((2 * n + 3)) events: $(cat "$T/status.txt")"

    up
    # One more CLI call, for another run: it reaches the broker, so it sends the spool too.
    RUNTRACK_TIMEOUT=20 rt_cli 0 start --job spool_after.sh
    "$RT" spool status >"$T/status.txt" || rt_die "spool status failed"
    grep -q '^nothing waiting' "$T/status.txt" || rt_die "the spool was not sent: $(cat "$T/status.txt")"
    RUNTRACK_TIMEOUT=20 rt_cli 0 spool flush "${b[@]}"

    topic_events >"$T/events.tsv"
    local dup
    dup=$(cut -f3 "$T/events.tsv" | sort | uniq -d | wc -l)
    [ "$dup" = 0 ] || rt_die "$dup event(s) arrived twice"
    [ "$(grep -c "^run.log	$run	" "$T/events.tsv")" = "$n" ] || rt_die "expected $n log events"
    [ "$(grep -c "^run.progress	$run	" "$T/events.tsv")" = "$n" ] ||
        rt_die "expected $n progress events"
    grep -q 'never recorded' "$T/events.tsv" && rt_die "a --no-spool event was sent after all"

    consume
    local row
    row=$(rt_psql_value "SELECT concat_ws('|', status, phase, counters->>'sites_completed',
        counters->>'sites_total', counters->>'found', end_counts->>'events', dropped_logs)
        FROM runs WHERE run_id = '$run'")
    [ "$row" = "completed|scraping|$n|$n|$n|$n|0" ] || rt_die "run row '$row'"
    row=$(rt_psql_value "SELECT count(*) || '|' || count(DISTINCT message) || '|' ||
        count(*) FILTER (WHERE phase = 'scraping') FROM run_logs WHERE run_id = '$run'")
    [ "$row" = "$n|$n|$n" ] || rt_die "run_logs: count|distinct|with phase = '$row', expected $n each"
    for ((i = 1; i <= n; i++)); do echo "line $i of $n"; done >"$T/want.txt"
    rt_psql_value "SELECT message FROM run_logs WHERE run_id = '$run' ORDER BY seq" >"$T/got.txt"
    diff "$T/want.txt" "$T/got.txt" >&2 || rt_die "log lines differ (or are out of order)"
    row=$(rt_psql_value "SELECT (SELECT status FROM runs WHERE run_id = '$wrun0') || '|' ||
        (SELECT status FROM runs WHERE run_id = '$wrun3') || '|' ||
        (SELECT count(*) FROM run_logs WHERE run_id = '$wrun0' AND message = 'inside')")
    [ "$row" = "completed|failed|1" ] || rt_die "wrapped runs: '$row'"
    local kept dropped
    kept=$(rt_psql_value "SELECT count(*) FROM run_logs WHERE run_id = '$brun'")
    dropped=$(rt_psql_value "SELECT coalesce(dropped_logs, 0) FROM runs WHERE run_id = '$brun'")
    [ "$dropped" -gt 0 ] && [ $((kept + dropped)) = 30 ] ||
        rt_die "bounded run: $kept log lines kept + $dropped dropped, expected 30 in all"
    [ "$(rt_psql_value "SELECT status FROM runs WHERE run_id = '$brun'")" = completed ] ||
        rt_die "the bounded run lost its finish"
    echo "ok: $n progress + $n log calls with the brokers down, delivered exactly once;" \
        "bounded run kept $kept, dropped $dropped"
}

kill9() {
    export RUNTRACK_TIMEOUT=0.3
    down
    local run pid size0 i
    run=$("$RT" start --job spool_kill9.sh 2>>"$T/cli.err") || rt_die "start failed"
    export RUNTRACK_RUN_ID=$run RUNTRACK_JOB=spool_kill9.sh
    rt_cli 0 log before
    size0=$(stat -c %s "$RUNTRACK_SPOOL_DIR/events.spool")
    RUNTRACK_TEST_SPOOL_PAUSE_MS=20000 "$RT" log "torn $(printf 'y%.0s' {1..2000})" 2>/dev/null &
    pid=$!
    for ((i = 0; i < 300; i++)); do
        [ "$(stat -c %s "$RUNTRACK_SPOOL_DIR/events.spool")" -gt "$size0" ] && break
        sleep 0.1
    done
    [ "$(stat -c %s "$RUNTRACK_SPOOL_DIR/events.spool")" -gt "$size0" ] ||
        rt_die "the writer never started its record"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    "$RT" spool status >"$T/status.txt" || rt_die "spool status failed on a torn spool"
    grep -q "torn record" "$T/status.txt" || rt_die "no torn record reported: $(cat "$T/status.txt")"
    grep -q "^$run  spool_kill9.sh .*  2 " "$T/status.txt" ||
        rt_die "status should list the 2 whole events: $(cat "$T/status.txt")"
    rt_cli 0 log after
    rt_cli 0 finish --status completed
    "$RT" spool status >"$T/status.txt" || rt_die "spool status failed"
    grep -q "torn record" "$T/status.txt" && rt_die "the torn record was not cut by the next append"
    # A deliverer killed after taking the spool leaves sending.spool: the next delivery sends it
    # first, then what was appended since.
    mv "$RUNTRACK_SPOOL_DIR/events.spool" "$RUNTRACK_SPOOL_DIR/sending.spool"
    rt_cli 0 log late
    up
    unset RUNTRACK_RUN_ID RUNTRACK_JOB
    RUNTRACK_TIMEOUT=20 "$RT" spool flush >"$T/flush.txt" 2>>"$T/cli.err" ||
        rt_die "spool flush failed: $(tail -3 "$T/cli.err")"
    grep -q '^5 event(s) delivered' "$T/flush.txt" || rt_die "flush: $(cat "$T/flush.txt")"
    RUNTRACK_TIMEOUT=20 "$RT" spool flush >"$T/flush.txt" 2>>"$T/cli.err" ||
        rt_die "second flush failed"
    grep -q '^0 event(s) delivered' "$T/flush.txt" || rt_die "second flush: $(cat "$T/flush.txt")"
    topic_events >"$T/events.tsv"
    [ "$(wc -l <"$T/events.tsv")" = 5 ] || rt_die "expected 5 events: $(cat "$T/events.tsv")"
    [ "$(cut -f3 "$T/events.tsv" | sort -u | wc -l)" = 5 ] || rt_die "an event arrived twice"
    grep -q torn "$T/events.tsv" && rt_die "the torn record was sent"
    consume
    [ "$(rt_psql_value "SELECT status FROM runs WHERE run_id = '$run'")" = completed ] ||
        rt_die "run not completed"
    [ "$(rt_psql_value "SELECT string_agg(message, ',' ORDER BY seq) FROM run_logs WHERE run_id = '$run'")" = before,after,late ] ||
        rt_die "run_logs should be before,after,late"
    echo "ok: torn record skipped and cut, the rest delivered once"
}

case $mode in
scraper) scraper "${2:?N}" ;;
kill9) kill9 ;;
*) rt_die "unknown mode $mode" ;;
esac
