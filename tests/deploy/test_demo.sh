#!/usr/bin/env bash
# deploy.demo: `make demo`'s script with the binaries of this build (DEMO_SKIP_BUILD=1: the
# suite already built them; the install/build steps are the ones `make build` runs).
#   exit:      DEMO_EXIT=1: it finishes, prints a non-empty answer to every seed's question, and
#              leaves no process (consumer, fleet, PostgreSQL, broker) and no temp directory.
#   interrupt: without DEMO_EXIT it keeps the dashboard up; SIGINT (Ctrl-C) stops and removes
#              everything too.
# Usage: test_demo.sh BUILD_DIR exit|interrupt   (needs no suite services: the demo starts its own)
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$1
MODE=${2:-exit}
. "$SRC/tests/lib/common.sh"
rt_tmpdir T
export RUNTRACK_BUILD_DIR=$BUILD DEMO_SKIP_BUILD=1
# The crashed scraper must still be reported stale when the answers are printed; on a loaded
# machine (a sanitizer build beside other suites) the fleet can take longer than the demo's
# 30 s close-after, and the maintenance pass would already have closed it as failed.
export DEMO_STALE_CLOSE_AFTER_S=600

leftovers() { # OUT -- the temp dir and every pid the demo printed must be gone
    local out=$1 dir pids p
    dir=$(sed -n 's/^temp dir: //p' "$out")
    [ -n "$dir" ] || rt_die "no temp dir line in the output"
    [ ! -e "$dir" ] || rt_die "temp dir $dir left behind"
    pids=$(sed -n 's/.*pid \([0-9][0-9]*\).*/\1/p' "$out")
    [ "$(printf '%s\n' "$pids" | grep -c .)" -ge 9 ] || rt_die "expected the consumer + 8 fleet pids, got: $pids"
    for p in $pids; do
        if kill -0 "$p" 2>/dev/null && grep -qs "$dir\|runtrack\|fleet\|scraper" "/proc/$p/cmdline"; then
            rt_die "process $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) left behind"
        fi
    done
    if pgrep -f "$dir" >/dev/null; then
        pgrep -af "$dir" >&2
        rt_die "processes using $dir left behind"
    fi
    echo "no leftovers from $dir"
}
section() { # OUT TITLE -> the lines after the title up to the next bold title
    awk -v t="$2" 'index($0, t) == 1 { on = 1; next } on && /^[A-Z][a-z].*\(/ { exit } on' "$1"
}

if [ "$MODE" = exit ]; then
echo "== DEMO_EXIT=1"
rc=0
DEMO_EXIT=1 timeout 150 "$SRC/deploy/demo.sh" >"$T/out" 2>&1 </dev/null || rc=$?
cat "$T/out"
[ "$rc" -eq 0 ] || rt_die "demo exited $rc"
# seed 000: runs per job with counts
section "$T/out" "Runs per job" | grep -Eq '^ daily_events\.py +\| +3 +\| +[0-9]+ +\| +[0-9]+ +\| +[0-9.]+' ||
    rt_die "seed 000 summary: no daily_events.py row with 3 runs"
section "$T/out" "Runs per job" | grep -Eq '^ multisite_events\.sh +\| +1 ' || rt_die "seed 000 summary: multisite row"
# seed 001: the last successful discovery run and its completed_at (also from the API)
section "$T/out" "Last successful discovery run" |
    grep -Eq '^ [0-9a-f-]{36} \| 20[0-9-]+ [0-9:.]+ \| \{541511' || rt_die "seed 001: no last successful run"
grep -Eq 'last-success -> completed_at 20[0-9-]+T' "$T/out" || rt_die "seed 001: API last-success empty"
for s in completed partial failed; do
    section "$T/out" "Last successful discovery run" | grep -Eq "^ $s +\|" || rt_die "seed 001: no $s discovery run"
done
# seed 002: health with an overall status and per-job lines
grep -Eq '^  overall: (healthy|warning|critical), success rate [0-9.]+% ' "$T/out" || rt_die "seed 002: no overall health"
grep -Eq '^  flaky_venues\.py +critical' "$T/out" || rt_die "seed 002: the crashed job is not critical"
# seeds 003/004: batches, pause/resume, every log level
grep -Eq '^ partial +\| saving +\| 3/3 +\| 10 +\| 2 +\| t +\| t ' "$T/out" || rt_die "seeds 003/004: multi-site run row"
grep -Eq 'logs by level: error=[1-9][0-9]* info=[1-9][0-9]* success=[1-9][0-9]* warning=[1-9]' "$T/out" ||
    rt_die "seeds 003/004: not every log level"
# the crashed run is reported stale; the wrapped job completed with its output as logs
grep -Eq '^  flaky_venues\.py run [0-9a-f-]{36}: no event since .*\(stale\)' "$T/out" || rt_die "no stale run"
grep -Eq '^ completed +\| 4 +\| +[1-9]' "$T/out" || rt_die "wrapped job row"
grep -Eq '^== dashboard: http://127\.0\.0\.1:[0-9]+/' "$T/out" || rt_die "no dashboard URL"
grep -Eq '^API key: +rtk_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$' "$T/out" || rt_die "no admin API key printed"
grep -q '0 member(s) failed' "$T/out" || rt_die "a fleet member failed"
leftovers "$T/out"
echo PASS
exit 0
fi

[ "$MODE" = interrupt ] || rt_die "mode must be exit or interrupt"
echo "== Ctrl-C"
# Job control on: the demo gets its own process group and, unlike a plain background job of a
# script, does not start with SIGINT ignored (a terminal's Ctrl-C reaches it like this).
set -m
"$SRC/deploy/demo.sh" >"$T/out2" 2>&1 </dev/null &
pid=$!
set +m
rt_on_exit "kill -TERM -- -$pid 2>/dev/null || true"
rt_wait_for "grep -q 'press Ctrl-C' '$T/out2'" 120 || { cat "$T/out2"; rt_die "the demo did not reach its wait"; }
url=$(sed -n 's/^== dashboard: \(http[^ ]*\)/\1/p' "$T/out2")
curl -fsS "$url" | grep -qi '<html' || rt_die "dashboard $url does not answer while waiting"
# Keys are required: the printed admin key reads the API, no key is refused.
key=$(sed -n 's/^API key: *\(rtk_[^ ]*\)$/\1/p' "$T/out2")
[ "$(curl -s -o /dev/null -w '%{http_code}' "${url}api/runs")" = 401 ] || rt_die "the demo API answers without a key"
curl -fsS -H "Authorization: Bearer $key" "${url}api/runs" | grep -q '"runs"' || rt_die "the printed key does not read /api/runs"
kill -INT "$pid"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    cat "$T/out2"
    rt_die "the demo did not stop within 30 s of SIGINT"
fi
rc=0
wait "$pid" || rc=$?
tail -5 "$T/out2"
[ "$rc" -eq 130 ] || rt_die "Ctrl-C: exit $rc, expected 130"
leftovers "$T/out2"
echo PASS
