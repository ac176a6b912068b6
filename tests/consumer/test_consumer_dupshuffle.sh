#!/usr/bin/env bash
# Duplicated and shuffled (within a run) event streams give identical tables: a fleet of runs
# is consumed once in order (database A), and once with 30% of the events re-sent and every
# run's events in random order, in small batches (database B). Checksums over all tables must
# match, and nothing may be dead-lettered.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
rt_tmpdir T
GEN="$RUNTRACK_SOURCE_DIR/tests/consumer/gen_events.py"

python3 "$GEN" fleet --runs 150 --events-per-run 40 --seed 7 >"$T/plain.txt" 2>"$T/plain.sum"
python3 "$GEN" fleet --runs 150 --events-per-run 40 --seed 7 --dup 0.3 --shuffle >"$T/mixed.txt" 2>/dev/null
[ "$(wc -l <"$T/mixed.txt")" -gt "$(wc -l <"$T/plain.txt")" ] || rt_die "generator did not duplicate"

ct_produce "$T/plain.txt"
ct_consumer --exit-when-idle 1500 || rt_die "consumer failed (plain)"
A=$(ct_checksum)

ct_new_topic TOPIC_B mixed
ct_new_db DSN_B mixed
ct_produce "$T/mixed.txt" "$TOPIC_B"
RUNTRACK_TOPIC=$TOPIC_B RUNTRACK_PG_DSN=$DSN_B RUNTRACK_BATCH_MAX_EVENTS=97 \
    ct_consumer --exit-when-idle 1500 || rt_die "consumer failed (mixed)"
B=$(RUNTRACK_PG_DSN=$DSN_B ct_checksum)

echo "$A"
ct_same_tables "$A" "$B" "duplicated/shuffled stream gave different tables"
ct_assert_counts "$A" "$T/plain.sum"
echo "dupshuffle: ok"
