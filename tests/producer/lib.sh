# Helpers for the producer's shell tests (sourced). Needs RUNTRACK_BUILD_DIR, RUNTRACK_SOURCE_DIR.
RT=${RUNTRACK_BUILD_DIR}/producer/runtrack
SCHEMA=${RUNTRACK_SOURCE_DIR}/schemas/events.schema.json
CHECK=${RUNTRACK_SOURCE_DIR}/tests/producer/check_events.py
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

# read_topic OUT: every record of $RUNTRACK_TOPIC as "partition<TAB>key<TAB>value" lines, read by
# kcat, an independent client.
read_topic() {
    kcat -C -b "$RUNTRACK_BROKERS" -t "$RUNTRACK_TOPIC" -o beginning -e -q \
        -f '%p\t%k\t%s\n' >"$1"
}

# expect_exit CODE DESCRIPTION COMMAND...: runs COMMAND, checks its exit code and that stderr is
# exactly one line.
expect_exit() {
    local want=$1 what=$2 got lines
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err" && got=0 || got=$?
    lines=$(wc -l <"$tmp/err")
    if [ "$got" != "$want" ]; then
        fail "$what: exit $got, expected $want (stderr: $(head -c 300 "$tmp/err"))"
    elif [ "$want" != 0 ] && [ "$lines" != 1 ]; then
        fail "$what: expected a one-line message, got $lines lines: $(head -c 300 "$tmp/err")"
    else
        ok "$what (exit $got${lines:+, $(head -c 120 "$tmp/err" | tr -d '\n')})"
    fi
}
