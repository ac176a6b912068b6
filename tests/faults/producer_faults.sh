#!/usr/bin/env bash
# Producer faults through the runtrack CLI (libruntrack, idempotent producer) on a private
# 3-broker dev broker: before each group of log lines one fault is injected on the Produce path -
# NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT, _TRANSPORT (3 times each), every partition's
# leader moved, 800 ms RTT on every broker, all brokers down for 3 s. Every command waits for
# delivery (--timeout); the topic is then read back: each event must be there exactly once.
# Row: commands that succeeded (produced), events in the topic (delivered), failed commands
# (reported undeliverable: allowed, never silent), duplicates and silent losses (must be 0).
set -uo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/faults/lib.sh"
rt_tmpdir T
CLI=$RUNTRACK_BUILD_DIR/producer/runtrack
[ -x "$CLI" ] || rt_die "$CLI not built"
rt_private_broker "$T/broker" --brokers 3 --partitions 4
TOPIC=pf_$$
rt_ctl topic "$TOPIC" 4 >/dev/null || rt_die "topic"
export RUNTRACK_TOPIC=$TOPIC RUNTRACK_TIMEOUT=30
faults=0
inj() { rt_ctl "$@" >/dev/null || rt_die "ctl $* failed"; faults=$((faults + 1)); echo "fault: $*"; }
eval "$("$CLI" start --job producer_faults.py --export)" || rt_die "runtrack start failed"
ok=1
failed=0
say() {
    if "$CLI" log "$@" 2>>"$T/cli.err"; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
}
n=0
burst() { for _ in 1 2 3 4 5; do n=$((n + 1)); say "line $n after: $*"; done; }
for e in NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT _TRANSPORT; do
    inj error 0 "$e" 3
    burst "Produce $e x3"
    rt_ctl clear 0 >/dev/null
done
for p in 0 1 2 3; do inj leader "$TOPIC" "$p" $(((p % 3) + 1)); done
burst "leaders moved"
for b in 1 2 3; do inj rtt "$b" 800; done
burst "rtt 800 ms"
for b in 1 2 3; do rt_ctl rtt "$b" 0 >/dev/null; done
inj down -1
( sleep 3; rt_ctl up -1 >/dev/null ) &
up=$!
burst "all brokers down 3 s"
wait "$up"
if "$CLI" finish --status completed 2>>"$T/cli.err"; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
produced=$ok
kcat -C -b "$RUNTRACK_BROKERS" -t "$TOPIC" -e -q -f '%s\n' >"$T/events.json" 2>/dev/null ||
    rt_die "could not read the topic back"
read -r delivered uniq < <(python3 -c '
import json, sys
seen = {}
for line in open(sys.argv[1]):
    if line.strip():
        e = json.loads(line)
        seen[e["event_id"]] = seen.get(e["event_id"], 0) + 1
print(sum(seen.values()), len(seen))' "$T/events.json")
dup=$((delivered - uniq))
lost=$((produced - uniq))
[ "$lost" -ge 0 ] || lost=0
echo "commands ok $produced, failed $failed, events in topic $delivered ($uniq distinct)"
[ "$failed" = 0 ] || head -5 "$T/cli.err"
# Failed commands told the caller (non-zero exit): reported undeliverable, not an anomaly.
fl_row "Produce errors, leader moves, RTT 800 ms, brokers down 3 s (runtrack CLI)" "$faults" \
    "$produced" "$delivered" "$failed" - "$lost" "$dup" - - - 0 -
