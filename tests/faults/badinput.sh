#!/usr/bin/env bash
# Hostile input corpus (tests/faults/badinput.py) sent with kcat, one file per record (so NULs,
# invalid UTF-8 and newlines go through untouched; the 10 MB record with message.max.bytes
# raised), to one running consumer. Each hostile record must become a dead letter with a clear
# reason, every valid neighbour must land, valid-but-odd streams (seq backwards, finish before
# start, unknown run, SQL-looking strings) must be applied correctly, and the consumer must keep
# running (it is still alive at the end and exits 0 on SIGTERM). One row in the fault table.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
. "$RUNTRACK_SOURCE_DIR/tests/faults/lib.sh"
rt_tmpdir T
PY="$RUNTRACK_SOURCE_DIR/tests/faults/badinput.py"
python3 "$PY" gen "$T/c"
total=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"])' "$T/c/cases.json")

# The dev broker keeps at most 5 MiB per partition (older batches go as soon as a partition
# holds more), so the 10 MB record goes alone to a one-partition topic of its own and is read
# from there by a replay into the same database; the rest goes to the test's topic, read by a
# group member.
ct_new_topic BIGT big 1
kcat -P -b "$RUNTRACK_BROKERS" -t "$BIGT" -k big -X message.max.bytes=20000000 "$T/c/000.msg" ||
    rt_die "kcat could not produce the 10 MB record"
RUNTRACK_TOPIC=$BIGT CT_LOG="$T/big.log" ct_consumer replay --to-end || rt_die "replay of the 10 MB record failed"
mv "$T/c/000.msg" "$T/c/000.big"

pid=
rt_on_exit '[ -n "$pid" ] && kill -9 $pid 2>/dev/null'
"$CT_BIN" 2>"$T/consumer.log" &
pid=$!

# Consecutive records of one key go out in one kcat run (in order: one partition per key).
send() {
    [ $# -gt 0 ] || return 0
    kcat -P -b "$RUNTRACK_BROKERS" -t "$RUNTRACK_TOPIC" -k "$key" -X linger.ms=5 "$@" ||
        rt_die "kcat failed"
}
key=
files=()
for m in "$T"/c/*.msg; do
    k=$(cat "${m%.msg}.key")
    if [ "$k" != "$key" ]; then
        send "${files[@]}"
        key=$k
        files=()
    fi
    files+=("$m")
done
send "${files[@]}"
total=$((total - 1))
rt_wait_for "[ \$(ct_offsets_sum) = $total ]" 60 || {
    grep -v setting "$T/consumer.log" | tail -20 >&2
    rt_die "consumer did not get through the corpus ($(ct_offsets_sum) of $total)"
}
alive=1
kill -0 "$pid" 2>/dev/null || alive=0
peak=$(fl_peak_kb "$pid")
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
crashes=0
[ "$alive" = 1 ] && [ "$rc" = 0 ] || crashes=1
crashes=$((crashes + $(grep -cE 'AddressSanitizer|runtime error:' "$T/consumer.log" || true)))
out=$(python3 "$PY" check "$T/c" "$RUNTRACK_PG_DSN") || true
echo "$out"
read -r cases hostile lost dup nonmono bad < <(echo "$out" | tail -1 | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
print(d["cases"], d["hostile"], d["lost"], d["duplicated"], d["non_monotonic"], d["bad"])')
[ "$bad" = 0 ] || lost=$((lost + bad - lost - nonmono))
fl_row "hostile records via kcat ($cases cases)" "$hostile" "$((total + 1))" "$((total + 1))" "$(($(ct_offsets_sum) + 1))" \
    "$lost" "$dup" "$nonmono" 0 - "$crashes" $(((peak + 1023) / 1024))
echo "badinput: ok"
