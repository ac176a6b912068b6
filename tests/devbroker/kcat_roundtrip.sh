#!/usr/bin/env bash
# kcat (a stock Kafka client) produces N keyed messages to the dev broker; a balanced consumer
# group (kcat -G) reads them all back with keys intact and per-key order preserved.
# (kcat -P reads stdin line by line; a FILE argument would become ONE message.)
# Runs under tests/lib/with_services.sh (RUNTRACK_BROKERS, RUNTRACK_TOPIC with 4 partitions).
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"

N=500
rt_tmpdir tmp
for i in $(seq 1 $N); do echo "key$((i % 7)):$i"; done >"$tmp/in"

kcat -b "$RUNTRACK_BROKERS" -P -t "$RUNTRACK_TOPIC" -K: -X enable.idempotence=true <"$tmp/in" ||
    rt_die "kcat could not produce"

kcat -b "$RUNTRACK_BROKERS" -L -t "$RUNTRACK_TOPIC" | grep -q "with 4 partitions" ||
    rt_die "topic $RUNTRACK_TOPIC does not have 4 partitions"

# -e: exit at the end of every partition; timeout is only a hang guard.
timeout 60 kcat -b "$RUNTRACK_BROKERS" -G "g_$RUNTRACK_TOPIC" -X auto.offset.reset=earliest \
    -e -q -f '%k:%s\n' "$RUNTRACK_TOPIC" >"$tmp/out" || rt_die "kcat -G failed or hung"

[ "$(wc -l <"$tmp/out")" -eq $N ] || rt_die "read $(wc -l <"$tmp/out") of $N messages"
cmp <(sort "$tmp/in") <(sort "$tmp/out") >/dev/null || rt_die "messages differ from what was produced"
# Per key, values must come back in produce order.
awk -F: '{ if (($1 in last) && $2 <= last[$1]) { print "out of order: " $0; bad = 1 } last[$1] = $2 }
         END { exit bad }' "$tmp/out" || rt_die "per-key order broken"
# Same key always lands in the same partition.
timeout 60 kcat -b "$RUNTRACK_BROKERS" -C -t "$RUNTRACK_TOPIC" -e -q -f '%k %p\n' |
    sort -u | awk '{ n[$1]++ } END { for (k in n) if (n[k] != 1) exit 1 }' ||
    rt_die "a key was spread over several partitions"
echo "ok: $N keyed messages round-tripped through the dev broker"
