# Helpers for the fault tests (source after tests/lib/common.sh and tests/consumer/lib.sh).
#   fl_row FAULT COUNT PRODUCED DELIVERED [UNDELIVERABLE] APPLIED LOST DUP NONMONO INCONS BLOCKED
#          CRASHES PEAK_MB
#       appends this test's row to the fault table ($RUNTRACK_FAULTS_REPORT, default
#       $RUNTRACK_BUILD_DIR/faults/report.tsv), prints it, and fails the test when an anomaly
#       count is not 0. "-" = not measured by this test. UNDELIVERABLE (events the producer
#       reported as not delivered: allowed, never silent) may be left out (12 fields: "-").
#   fl_peak_kb PID          peak resident memory (VmHWM, kB) of a live process, 0 if gone
#   fl_anomalies TEST_DSN TRUTH_DSN GROUP TOTAL LOG...   → sets FL_LOST FL_DUP FL_NONMONO FL_INCONS
#       FL_APPLIED from tests/faults/anomalies.py (and prints its JSON)
FL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${RUNTRACK_FAULTS_REPORT:=$RUNTRACK_BUILD_DIR/faults/report.tsv}"
FL_NAME=${FL_NAME:-${RUNTRACK_TEST_NAME:-$(basename "$0" .sh)}}

fl_row() {
    local result=ok f
    [ $# -eq 12 ] && set -- "${@:1:4}" - "${@:5}"
    [ $# -eq 13 ] || rt_die "fl_row: 12 or 13 fields expected, got $#"
    for f in "$7" "$8" "$9" "${10}" "${11}" "${12}"; do
        [ "$f" = - ] || [ "$f" = 0 ] || result=FAIL
    done
    mkdir -p "$(dirname "$RUNTRACK_FAULTS_REPORT")"
    local row
    row=$(printf '%s\t' "$FL_NAME" "$@")
    row="$row$result"
    # One write per row (O_APPEND): parallel tests do not interleave.
    printf '%s\n' "$row" >>"$RUNTRACK_FAULTS_REPORT"
    printf '%s\n' "$row" >"${TMPDIR:-/tmp}/fl_row.$$"
    python3 "$FL_HERE/report.py" "${TMPDIR:-/tmp}/fl_row.$$" || true
    rm -f "${TMPDIR:-/tmp}/fl_row.$$"
    [ "$result" = ok ] || rt_die "$FL_NAME: anomalies found (see the row above)"
}

fl_peak_kb() {
    awk '/^VmHWM:/ {print $2; f=1} END {if (!f) print 0}' "/proc/$1/status" 2>/dev/null || echo 0
}

fl_anomalies() {
    local js
    js=$(python3 "$FL_HERE/anomalies.py" "$@") || rt_die "anomalies.py failed"
    echo "anomalies: $js"
    read -r FL_LOST FL_DUP FL_NONMONO FL_INCONS FL_APPLIED < <(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print(d["lost"], d["duplicated"], d["non_monotonic"], d["inconsistent_offsets"], d.get("applied", "-"))' "$js")
}
