#!/usr/bin/env bash
# tests/faults/http_abuse.sh RT_API_SERVE SLOW_CONNECTIONS SLOW_SECONDS: runs http_abuse.py and
# writes its row of the fault table.
set -uo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/faults/lib.sh"
out=$(python3 "$RUNTRACK_SOURCE_DIR/tests/faults/http_abuse.py" "$@")
rc=$?
echo "$out"
read -r n slow fails peak < <(echo "$out" | tail -1 | python3 -c '
import json, sys
try:
    d = json.loads(sys.stdin.read()); print(d["requests"], d["slow"], d["failures"], d["peak_mb"])
except Exception:
    print("0 0 1 0")')
[ "$rc" = 0 ] || [ "$fails" != 0 ] || fails=1
fl_row "HTTP abuse: $n hostile requests + slowloris x$slow" "$((n + slow))" - - - - - - - - \
    "$fails" "$peak"
