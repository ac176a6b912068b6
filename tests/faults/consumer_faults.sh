#!/usr/bin/env bash
# Consumer fault driver: a generated fleet stream (tests/consumer/gen_events.py) is consumed
# while one fault class is injected, then a last consumer finishes and the tables are compared
# with a clean replay of the same topic into an empty database (tests/faults/anomalies.py:
# lost, duplicated, non-monotonic, inconsistent offsets — each must be 0). One row goes to the
# fault table (tests/faults/lib.sh).
#
#   consumer_faults.sh kill9  [KILLS] [RUNS]   kill -9 at random moments (before, during and
#                                               after batches), then finish
#   consumer_faults.sh zombie [RUNS]            two consumers in one group; A is SIGSTOPped past
#                                               its session timeout, B takes its partitions and
#                                               applies everything; SIGCONT A: A's batch must be
#                                               rejected (fence / revoke), A writes nothing
#   consumer_faults.sh pgterm [KILLS] [RUNS]    pg_terminate_backend of the consumer's
#                                               connection mid-batch (idle in transaction, active
#                                               statement) and mid-commit (COMMIT running)
#   consumer_faults.sh resend [RUNS]            the stream plus 40% of it re-sent by other
#                                               producers (a restarted scraper): = sent once
#   consumer_faults.sh coord  [RUNS]            private 3-broker dev broker: group coordinator
#                                               down, coordinator moved, Heartbeat / JoinGroup /
#                                               SyncGroup / OffsetCommit errors while a second
#                                               consumer joins and leaves (rebalances)
# Runs of 100 events each (RUNS=2000 → 200,000 events).
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
. "$RUNTRACK_SOURCE_DIR/tests/faults/lib.sh"
rt_tmpdir T
GEN="$RUNTRACK_SOURCE_DIR/tests/consumer/gen_events.py"
MODE=${1:?mode}
shift
rnd() { python3 -c "import random; print(round(random.uniform($1, $2), 3))"; }

pids=()
rt_on_exit 'for p in "${pids[@]}"; do kill -CONT $p 2>/dev/null; kill -9 $p 2>/dev/null; done'
PEAK_KB=0
CRASHES=0 # consumer exits other than by our signals, "out of memory"/fatal log lines
note_peak() {
    local k
    k=$(fl_peak_kb "$1")
    [ "$k" -le "$PEAK_KB" ] || PEAK_KB=$k
}

# setup RUNS [PARTITIONS]: topic + stream produced; sets TOTAL.
setup() {
    ct_new_topic TOPIC "$MODE" "${2:-8}"
    export RUNTRACK_TOPIC=$TOPIC
    python3 "$GEN" fleet --runs "$1" --events-per-run 100 --seed 17 >"$T/ev.txt" 2>"$T/sum.json"
    TOTAL=$(wc -l <"$T/ev.txt")
    ct_produce_bulk "$T/ev.txt"
}

# finish_and_check FAULT COUNT: last consumer, ground truth, anomalies, table row.
finish_and_check() {
    local fault=$1 count=$2
    "$CT_BIN" --exit-when-idle 2500 2>"$T/final.log" &
    pids+=($!)
    local fp=$!
    while kill -0 "$fp" 2>/dev/null; do note_peak "$fp"; sleep 0.2; done
    wait "$fp" || rt_die "final consumer failed: $(tail -3 "$T/final.log")"
    ct_new_db GT truth
    RUNTRACK_PG_DSN=$GT CT_LOG="$T/replay.out" ct_consumer replay --to-end ||
        rt_die "ground-truth replay failed"
    # The truth must itself be the generator's: every run and log line, no dead letter.
    read -r runs logs < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["runs"], d["logs"])' "$T/sum.json")
    local want
    want=$(RUNTRACK_PG_DSN=$GT ct_checksum)
    echo "$want" | grep -qx "runs|$runs|.*" || rt_die "truth: expected $runs runs"
    echo "$want" | grep -qx "run_logs|$logs|.*" || rt_die "truth: expected $logs log rows"
    CRASHES=$((CRASHES + $(cat "$T"/*.log | grep -cE 'AddressSanitizer|runtime error:|exiting" status=[1-9]' || true)))
    fl_anomalies "$RUNTRACK_PG_DSN" "$GT" "$RUNTRACK_GROUP" "$TOTAL" "$T"/*.log
    fl_row "$fault" "$count" "$TOTAL" "-" "$FL_APPLIED" "$FL_LOST" "$FL_DUP" "$FL_NONMONO" \
        "$FL_INCONS" - "$CRASHES" $(((PEAK_KB + 1023) / 1024))
}

case "$MODE" in
kill9)
    KILLS=${1:-10}
    ct_new_topic TOPIC "$MODE" 8
    export RUNTRACK_TOPIC=$TOPIC
    python3 "$GEN" fleet --runs "${2:-2000}" --events-per-run 100 --seed 17 >"$T/ev.txt" 2>"$T/sum.json"
    TOTAL=$(wc -l <"$T/ev.txt")
    # The stream flows while each consumer lives: slice i is produced in steps once consumer i has its partitions, and consumer i is killed at a random moment
    # of it, so kills land between and inside batches while records keep arriving.
    split -n "l/$KILLS" -d -a 4 "$T/ev.txt" "$T/slice."
    export RUNTRACK_BATCH_MAX_EVENTS=${RUNTRACK_BATCH_MAX_EVENTS:-500}
    # A short session (the dev broker refuses less than 3 s) so each restart gets its
    # partitions back quickly.
    export RUNTRACK_KAFKA_SESSION_TIMEOUT_MS=3000 RUNTRACK_KAFKA_HEARTBEAT_INTERVAL_MS=300
    # (kcat reading a pipe is slow here, so a slice goes out as three kcat runs, ~1 s.)
    paced() {
        split -n l/3 -d "$1" "$1.part."
        for p in "$1".part.*; do
            kcat -P -b "$RUNTRACK_BROKERS" -t "$RUNTRACK_TOPIC" -K $'\t' -z lz4 -X linger.ms=5 -l "$p" ||
                return 1
        done
    }
    mid=0
    prev=0
    i=0
    for s in "$T"/slice.*; do
        i=$((i + 1))
        log="$T/c.$i.log"
        "$CT_BIN" 2>"$log" &
        pid=$!
        pids=("$pid")
        if [ $((i % 5)) -ne 0 ]; then
            rt_wait_for "grep -q 'partition start' '$log'" 60 || rt_die "consumer $i got no partitions"
            echo "consumer $i has partitions ($(date +%T.%N | cut -c1-12))"
            paced "$s" &
            kp=$!
            sleep "$(rnd 0.05 0.7)"
        else
            # Every fifth kill at a random moment of start-up (migrations, join, offsets read).
            paced "$s" &
            kp=$!
            sleep "$(rnd 0.0 1.5)"
        fi
        note_peak "$pid"
        kill -9 "$pid"
        wait "$pid" 2>/dev/null || true
        pids=()
        now=$(ct_offsets_sum)
        wait "$kp" || rt_die "producing slice $i failed"
        # A kill "mid-load": this consumer had applied something and records were left.
        if [ "$now" -gt "$prev" ] && [ "$now" -lt "$TOTAL" ]; then mid=$((mid + 1)); fi
        echo "kill $i: $now of $TOTAL records applied ($(date +%T.%N | cut -c1-12))"
        prev=$now
    done
    echo "$mid of $KILLS kills while the consumer was applying the stream"
    [ "$mid" -ge $((KILLS / 2)) ] || rt_die "too few kills in the middle of the stream ($mid)"
    finish_and_check "consumer kill -9 ($mid while applying)" "$KILLS"
    ;;
zombie)
    ct_new_topic TOPIC "$MODE" 8
    export RUNTRACK_TOPIC=$TOPIC
    python3 "$GEN" fleet --runs "${1:-500}" --events-per-run 100 --seed 17 >"$T/ev.txt" 2>"$T/sum.json"
    TOTAL=$(wc -l <"$T/ev.txt")
    half=$((TOTAL / 2))
    head -n "$half" "$T/ev.txt" >"$T/first.txt"
    tail -n +"$((half + 1))" "$T/ev.txt" >"$T/second.txt"
    ct_produce_bulk "$T/first.txt"
    # A collects long batches (5 s): after it committed the first half, the second half is
    # produced and A is SIGSTOPped while it holds part of it in an uncommitted batch.
    RUNTRACK_BATCH_MAX_EVENTS=100000 RUNTRACK_BATCH_MAX_MS=5000 "$CT_BIN" 2>"$T/a.log" &
    A=$!
    pids+=("$A")
    rt_wait_for "[ \$(ct_offsets_sum) = $half ]" 60 || rt_die "A did not apply the first half"
    ct_produce_bulk "$T/second.txt"
    sleep 0.5
    kill -STOP "$A"
    echo "A stopped after $(ct_offsets_sum) of $TOTAL records"
    "$CT_BIN" --exit-when-idle 3000 2>"$T/b.log" &
    B=$!
    pids+=("$B")
    # B gets A's partitions once A's session expired, and applies the rest.
    rt_wait_for "[ \$(ct_offsets_sum) = $TOTAL ]" 120 || rt_die "B did not finish the load"
    wait "$B" || rt_die "B failed: $(tail -3 "$T/b.log")"
    note_peak "$A"
    before=$(wc -l <"$T/a.log")
    kill -CONT "$A"
    # A wakes up holding a batch of partitions it lost: it must be fenced or revoked.
    rt_wait_for "tail -n +$((before + 1)) '$T/a.log' | grep -Eq 'offsets fence failed|partitions revoked'" 30 ||
        rt_die "A neither fenced nor revoked after SIGCONT"
    sleep 2
    kill -TERM "$A"
    wait "$A" || true
    pids=()
    after=$(tail -n +$((before + 1)) "$T/a.log")
    fenced=$(echo "$after" | grep -c 'offsets fence failed' || true)
    # Writes by A after it woke up and before it was given partitions again: the zombie's.
    zombie_writes=$(echo "$after" | awk '/partitions assigned|partition start/ {exit} /batch committed/ {n++} END {print n+0}')
    echo "zombie: fenced=$fenced writes_after_eviction=$zombie_writes"
    echo "$after" | grep -E 'fence|revoked|assigned|committed' | head -5
    [ "$zombie_writes" = 0 ] || rt_die "the zombie wrote $zombie_writes batches after losing its partitions"
    FL_EXTRA_DUP=$zombie_writes
    finish_and_check "zombie consumer (SIGSTOP past session, fenced=$fenced)" 1
    ;;
pgterm)
    KILLS=${1:-5}
    setup "${2:-500}"
    export RUNTRACK_BATCH_MAX_EVENTS=500 RUNTRACK_RETRY_MIN_MS=20 RUNTRACK_RETRY_MAX_MS=200
    "$CT_BIN" 2>"$T/c.log" &
    C=$!
    pids+=("$C")
    rt_wait_for "grep -q 'batch committed' '$T/c.log'" 60 || rt_die "consumer committed nothing"
    # Each round waits (server side, polling pg_stat_activity) for the consumer's backend to
    # be in the wanted state and terminates it: odd rounds mid-batch (inside the transaction),
    # even rounds mid-commit (COMMIT running).
    term=0
    db=$(rt_psql_value "SELECT current_database()")
    for i in $(seq 1 "$KILLS"); do
        if [ $((i % 2)) -eq 1 ]; then
            cond="state IN ('idle in transaction', 'active') AND query NOT ILIKE 'commit%' AND backend_xid IS NOT NULL"
        else
            cond="query ILIKE 'commit%' AND state = 'active'"
        fi
        n=$(psql -XAtq -d "$RUNTRACK_PG_DSN" -c "
DO \$\$
DECLARE t int := 0; deadline timestamptz := clock_timestamp() + interval '8 s';
BEGIN
  WHILE t = 0 AND clock_timestamp() < deadline LOOP
    PERFORM pg_stat_clear_snapshot();
    SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) INTO t FROM pg_stat_activity
     WHERE datname = '$db' AND pid <> pg_backend_pid() AND $cond;
    IF t = 0 THEN PERFORM pg_sleep(0.0005); END IF;
  END LOOP;
  RAISE NOTICE 'terminated=%', t;
END \$\$;" 2>&1 | sed -n 's/.*terminated=\([0-9]*\).*/\1/p')
        echo "round $i ($([ $((i % 2)) -eq 1 ] && echo mid-batch || echo mid-commit)): terminated ${n:-0}, $(ct_offsets_sum) of $TOTAL applied"
        term=$((term + ${n:-0}))
        note_peak "$C"
        [ "$(ct_offsets_sum)" -lt "$TOTAL" ] || break
    done
    [ "$term" -ge 1 ] || rt_die "no backend was terminated"
    rt_wait_for "[ \$(ct_offsets_sum) = $TOTAL ]" 120 || rt_die "consumer did not finish after the terminations"
    kill -TERM "$C"
    wait "$C" || rt_die "consumer exited non-zero after the terminations: $(tail -3 "$T/c.log")"
    pids=()
    grep -q 'postgresql reconnected\|postgresql failed' "$T/c.log" || rt_die "the consumer never saw a failure"
    finish_and_check "pg_terminate_backend mid-batch/mid-commit" "$term"
    ;;
coord)
    rt_private_broker "$T/broker" --brokers 3 --partitions 8
    setup "${1:-500}"
    export RUNTRACK_BATCH_MAX_EVENTS=500
    faults=0
    f() { rt_ctl "$@" >/dev/null || rt_die "ctl $* failed"; faults=$((faults + 1)); echo "fault: $*"; }
    "$CT_BIN" 2>"$T/a.log" &
    A=$!
    pids+=("$A")
    rt_wait_for "grep -q 'batch committed' '$T/a.log'" 60 || rt_die "A committed nothing"
    # Errors on the group's requests while B joins (a rebalance).
    f error 12 REBALANCE_IN_PROGRESS 3    # Heartbeat
    f error 8 REQUEST_TIMED_OUT 3         # OffsetCommit (Kafka's, lag only)
    f error 11 COORDINATOR_LOAD_IN_PROGRESS 2 # JoinGroup
    f error 14 NOT_COORDINATOR 2          # SyncGroup
    "$CT_BIN" 2>"$T/b.log" &
    B=$!
    pids+=("$B")
    sleep 3
    # Coordinator down for a few seconds, then moved to another broker.
    f coordinator group "$RUNTRACK_GROUP" 1
    sleep 1
    f down 1
    sleep 3
    f up 1
    f coordinator group "$RUNTRACK_GROUP" 2
    f error 12 NOT_COORDINATOR 2
    sleep 2
    # B leaves (another rebalance) while heartbeats fail.
    f error 12 UNKNOWN_MEMBER_ID 1
    kill -TERM "$B"
    wait "$B" || true
    note_peak "$A"
    rt_wait_for "[ \$(ct_offsets_sum) = $TOTAL ]" 120 || rt_die "A did not finish the load"
    kill -TERM "$A"
    wait "$A" || true
    pids=()
    for k in 12 8 11 14; do rt_ctl clear $k >/dev/null; done
    finish_and_check "group coordinator down/moved, Heartbeat/JoinGroup/SyncGroup/OffsetCommit errors" "$faults"
    ;;
resend)
    # A scraper that restarts and re-sends: the stream once, then a random 40% of it again
    # from other producer processes (new producer ids, same run ids, seqs and event ids). The
    # truth is a replay of a topic holding the stream exactly once.
    setup "${1:-300}"
    python3 -c '
import random, sys
random.seed(5)
for line in open(sys.argv[1]):
    if random.random() < 0.4:
        sys.stdout.write(line)' "$T/ev.txt" >"$T/again.txt"
    split -n l/3 -d "$T/again.txt" "$T/again."
    for f in "$T"/again.0*; do ct_produce "$f"; done
    resent=$(wc -l <"$T/again.txt")
    TOTAL=$((TOTAL + resent))
    ct_new_topic ONCE once 8
    RUNTRACK_TOPIC=$ONCE ct_produce_bulk "$T/ev.txt"
    "$CT_BIN" --exit-when-idle 2500 2>"$T/c.log" || rt_die "consumer failed"
    ct_new_db GT truth
    RUNTRACK_TOPIC=$ONCE RUNTRACK_PG_DSN=$GT CT_LOG="$T/replay.out" ct_consumer replay --to-end ||
        rt_die "ground-truth replay failed"
    CRASHES=$(grep -cE 'AddressSanitizer|runtime error:|exiting" status=[1-9]' "$T/c.log" || true)
    fl_anomalies "$RUNTRACK_PG_DSN" "$GT" "$RUNTRACK_GROUP" "$TOTAL" "$T/c.log"
    fl_row "scraper restarts and re-sends (3 new producers)" "$resent" "$TOTAL" - "$FL_APPLIED" \
        "$FL_LOST" "$FL_DUP" "$FL_NONMONO" "$FL_INCONS" - "$CRASHES" -
    ;;
*) rt_die "unknown mode $MODE" ;;
esac
