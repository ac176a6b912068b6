#!/usr/bin/env bash
# Two consumers in one group with a rebalance in the middle: consumer A starts alone on a
# 100,000-event load; once it has applied part of it, consumer B joins the group (A's
# partitions are revoked and split). Final tables must equal a clean pass (replay into an empty
# database), every record applied once (stored offsets = records). Then SIGTERM: a consumer
# that owns partitions leaves and exits 0 within the shutdown bound.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
rt_tmpdir T
GEN="$RUNTRACK_SOURCE_DIR/tests/consumer/gen_events.py"

ct_new_topic TOPIC rb 8
export RUNTRACK_TOPIC=$TOPIC
python3 "$GEN" fleet --runs 1000 --events-per-run 100 --seed 3 >"$T/ev.txt" 2>/dev/null
total=$(wc -l <"$T/ev.txt")
ct_produce_bulk "$T/ev.txt"

pids=()
rt_on_exit 'for p in "${pids[@]}"; do kill -9 $p 2>/dev/null; done'
# Small batches so that A is still busy when B arrives.
RUNTRACK_BATCH_MAX_EVENTS=500 "$CT_BIN" --exit-when-idle 3000 2>"$T/a.log" &
A=$!
pids+=("$A")
rt_wait_for "[ \$(ct_offsets_sum) -gt 0 ]" 60 || rt_die "consumer A applied nothing"
RUNTRACK_BATCH_MAX_EVENTS=500 "$CT_BIN" --exit-when-idle 3000 2>"$T/b.log" &
B=$!
pids+=("$B")
wait "$A" || rt_die "consumer A failed: $(tail -5 "$T/a.log")"
wait "$B" || rt_die "consumer B failed: $(tail -5 "$T/b.log")"
pids=()
grep -q "partitions revoked" "$T/a.log" || rt_die "A saw no rebalance"
grep -q "partitions assigned" "$T/b.log" || rt_die "B never got partitions"
echo "A: $(grep -c 'batch committed' "$T/a.log") batches, B: $(grep -c 'batch committed' "$T/b.log") batches"
grep -q "batch committed" "$T/b.log" || rt_die "B applied nothing after the rebalance"
ct_assert_offsets "$total"

ct_assert_clean_pass "$T" "two consumers with a rebalance gave different tables than a clean pass"
echo "$CT_CHECKSUM" | grep -qx "dead_letters|0|.*" || rt_die "dead letters appeared"

# SIGTERM: leave the group and exit 0 (bounded by timeout; the consumer's own bound is 10 s).
"$CT_BIN" 2>"$T/c.log" &
C=$!
pids+=("$C")
rt_wait_for "grep -q 'partitions assigned' '$T/c.log'" 60 || rt_die "consumer C got no partitions"
kill -TERM "$C"
rc=0
timeout 15 tail --pid="$C" -f /dev/null || rt_die "consumer did not exit within 15 s of SIGTERM"
wait "$C" || rc=$?
pids=()
[ "$rc" = 0 ] || rt_die "consumer exited $rc after SIGTERM"
grep -q "left the consumer group" "$T/c.log" || rt_die "consumer did not leave the group"
echo "rebalance: ok"
