#!/usr/bin/env bash
# kill -9 at random moments: 200,000 events (2,000 runs) are consumed by a consumer that is
# SIGKILLed 10 times while it works (each time at a random moment after it got its
# partitions), then a last consumer finishes. The tables must equal the ground truth: the
# generator's counts, every record applied once (stored offsets = records), no dead letter,
# and the checksum of a clean single pass (replay into an empty database).
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
rt_tmpdir T
GEN="$RUNTRACK_SOURCE_DIR/tests/consumer/gen_events.py"
KILLS=${KILLS:-10}

ct_new_topic TOPIC kill 8
export RUNTRACK_TOPIC=$TOPIC
python3 "$GEN" fleet --runs 2000 --events-per-run 100 --seed 11 >"$T/ev.txt" 2>"$T/sum.json"
total=$(wc -l <"$T/ev.txt")
ct_produce_bulk "$T/ev.txt"

pid=
rt_on_exit '[ -n "$pid" ] && kill -9 $pid 2>/dev/null'
mid=0
for i in $(seq 1 "$KILLS"); do
    log="$T/consumer.$i.log"
    "$CT_BIN" 2>"$log" &
    pid=$!
    rt_wait_for "grep -q 'partitions assigned' '$log'" 60 || rt_die "consumer $i got no partitions"
    sleep "$(python3 -c 'import random; print(round(random.uniform(0.05, 0.7), 3))')"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    done_now=$(ct_offsets_sum)
    echo "kill $i: $done_now of $total records applied"
    if [ "$done_now" -gt 0 ] && [ "$done_now" -lt "$total" ]; then mid=$((mid + 1)); fi
done
[ "$mid" -gt 0 ] || rt_die "no kill happened in the middle of the load"

CT_LOG="$T/final.log" ct_consumer --exit-when-idle 2000 || rt_die "final consumer failed"
ct_assert_offsets "$total"

ct_assert_clean_pass "$T" "tables after $KILLS kills differ from a clean pass"
ct_assert_counts "$CT_CHECKSUM" "$T/sum.json"
echo "kill9: ok ($KILLS kills, $mid mid-load)"
