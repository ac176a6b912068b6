#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS [TARGET...]
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined) in a CMake
# build of their own ($RUNTRACK_BUILD_DIR/fuzz, or build-fuzz/ in the source tree) and runs each
# for SECONDS on a corpus seeded from schemas/examples (valid + invalid + every scenario event)
# and tests/fuzz/seeds. Prints executions and crashes per target and adds one row per target to
# the fault table (tests/faults/lib.sh). Fails on any crash, leak, timeout or sanitizer report.
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
SECS=${1:?seconds}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_decode fuzz_config fuzz_producer_conf)
: "${RUNTRACK_BUILD_DIR:=$RUNTRACK_SOURCE_DIR/build-fuzz-host}"
export RUNTRACK_BUILD_DIR
. "$RUNTRACK_SOURCE_DIR/tests/faults/lib.sh"
B=${RUNTRACK_FUZZ_BUILD:-$RUNTRACK_BUILD_DIR/fuzz}
command -v clang >/dev/null || rt_die "clang is not installed (deploy/install-deps.sh installs it)"
CC=clang cmake -S "$RUNTRACK_SOURCE_DIR/tests/fuzz" -B "$B" >/dev/null || rt_die "fuzz configure failed"
cmake --build "$B" -j2 -- -s >/dev/null || rt_die "fuzz build failed"

# Seed corpora (rebuilt each time; the fuzzer's finds go to a work dir that persists in $B).
S=$B/seeds
rm -rf "$S"
mkdir -p "$S/fuzz_decode" "$S/fuzz_config" "$S/fuzz_producer_conf"
cp "$RUNTRACK_SOURCE_DIR"/schemas/examples/*.json "$RUNTRACK_SOURCE_DIR"/schemas/examples/invalid/*.json \
    "$S/fuzz_decode/"
python3 - "$RUNTRACK_SOURCE_DIR/schemas/examples" "$S/fuzz_decode" <<'PY'
import glob, json, os, sys
for f in glob.glob(os.path.join(sys.argv[1], "scenario_*.json")):
    for i, e in enumerate(json.load(open(f)).get("events", [])):
        with open(os.path.join(sys.argv[2], "%s.%d.json" % (os.path.basename(f), i)), "w") as o:
            json.dump(e, o, separators=(",", ":"), ensure_ascii=False)
PY
cp "$RUNTRACK_SOURCE_DIR"/tests/fuzz/seeds/config/* "$RUNTRACK_SOURCE_DIR"/deploy/runtrack.conf.sample "$S/fuzz_config/"
cp "$RUNTRACK_SOURCE_DIR"/tests/fuzz/seeds/producer_conf/* "$S/fuzz_producer_conf/"

fail=0
for t in "${targets[@]}"; do
    W=$B/work/$t
    rm -rf "$W/artifacts"
    mkdir -p "$W/corpus" "$W/artifacts"
    log=$B/$t.log
    rc=0
    # -rss_limit_mb bounds memory; -timeout catches hangs (a decode taking over 10 s).
    (cd "$W" && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$RUNTRACK_SOURCE_DIR/tests/fuzz/lsan.supp "$B/$t" -max_total_time="$SECS" -timeout=10 \
        -rss_limit_mb=1024 -max_len=65536 -print_final_stats=1 -artifact_prefix="$W/artifacts/" \
        "$W/corpus" "$S/$t") >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    peak=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    crashes=$(find "$W/artifacts" -type f | wc -l)
    if [ "$rc" != 0 ] && [ "$crashes" = 0 ]; then crashes=1; fi
    echo "$t: ${execs:-0} executions in ${SECS}s, $crashes crashes (exit $rc), corpus $(find "$W/corpus" -type f | wc -l) files"
    if [ "$crashes" != 0 ]; then
        grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -5 >&2
        find "$W/artifacts" -type f >&2
        fail=1
    fi
    (FL_NAME=fuzz.$t fl_row "libFuzzer $t ${SECS}s (executions)" "${execs:-0}" - - - - - - - - \
        "$crashes" "${peak:-0}") || fail=1
done
[ "$fail" = 0 ] || rt_die "fuzzing found crashes"
