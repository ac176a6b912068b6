#!/usr/bin/env bash
# /metrics lag gauges follow the assignment. Consumer a alone holds both partitions of a topic
# and reports the lag of both; consumer b joins the group and takes one. Then a must report
# exactly the partition it still owns (the revoked one leaves its gauges), b exactly the other,
# and neither a partition it does not own.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
rt_tmpdir T
ct_new_topic TOPIC two 2
export RUNTRACK_TOPIC=$TOPIC RUNTRACK_GROUP=g_$TOPIC

pids=()
rt_on_exit 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done'
# start NAME: a consumer with its API on a free port; its URL in URL_NAME.
start() {
    RUNTRACK_HTTP_PORT=0 "$CT_BIN" 2>"$T/$1.log" &
    pids+=($!)
    rt_wait_for "grep -q 'HTTP API listening' '$T/$1.log'" 30 || rt_die "$1: API never listened"
    local port
    port=$(sed -n 's/.*HTTP API listening.*port=\([0-9]*\).*/\1/p' "$T/$1.log" | head -1)
    printf -v "URL_$1" 'http://127.0.0.1:%s' "$port"
}
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/readyz")" = 200 ]; }
# The partitions a consumer reports a lag for, sorted, space-separated.
lag_parts() {
    curl -s "$1/metrics" | sed -n 's/^runtrack_consumer_lag_messages{.*partition="\([0-9]*\)"}.*/\1/p' |
        sort | tr '\n' ' '
}
# The partitions a consumer was last assigned, from its log.
owned() { grep 'partition start' "$T/$1.log" | tail -"$2" | sed -n 's/.* partition=\([0-9]*\).*/\1/p' | sort | tr '\n' ' '; }

start a
rt_wait_for "ready $URL_a && [ \"\$(lag_parts $URL_a)\" = '0 1 ' ]" 30 ||
    rt_die "a alone: lag for '$(lag_parts "$URL_a")', expected both partitions"
echo "a alone: lag for partitions $(lag_parts "$URL_a")"

start b
rt_wait_for "ready $URL_b && ready $URL_a && [ \$(grep -c 'partition start' '$T/a.log') -ge 3 ]" 60 ||
    rt_die "the group never settled: a $(curl -s "$URL_a/readyz"), b $(curl -s "$URL_b/readyz")"
sleep 3 # a few lag refreshes after the rebalance
pa=$(owned a 1) pb=$(owned b 1)
[ -n "$pa" ] && [ -n "$pb" ] && [ "$pa" != "$pb" ] || rt_die "assignment: a '$pa', b '$pb'"
[ "$(lag_parts "$URL_a")" = "$pa" ] ||
    rt_die "a owns partition $pa but reports lag for '$(lag_parts "$URL_a")'"
[ "$(lag_parts "$URL_b")" = "$pb" ] ||
    rt_die "b owns partition $pb but reports lag for '$(lag_parts "$URL_b")'"
echo "after b joined: a owns $pa and reports $(lag_parts "$URL_a"); b owns $pb and reports $(lag_parts "$URL_b")"
echo "lag gauges follow the assignment: ok"
