#!/usr/bin/env bash
# What the real producer (the runtrack CLI over libruntrack) puts on Kafka is what the contract
# says: drives runs that emit every event type, including awkward text, through the shared dev
# broker, reads the topic back and validates every record against the JSON Schema.
#   producer_conforms.sh RUNTRACK_CLI TOPIC_DUMP SOURCE_DIR   (under tests/lib/with_services.sh)
set -euo pipefail
cli=$1 dump=$2 src=$3
: "${RUNTRACK_BROKERS:?run under with_services.sh}" "${RUNTRACK_TOPIC:?}"
export RUNTRACK_TIMEOUT=20

# 1. A discovery run through every lifecycle step, ending failed with details.
eval "$("$cli" start --job discover_opportunities.py --kind discovery --export \
    --params-json '{"naics_codes":["541511","541512"],"posted_from":"2025-10-01","posted_to":"2025-10-24"}')"
"$cli" phase scraping
"$cli" progress --memory 5.2 --cpu 12.3 api_calls=3 found=10
"$cli" log --level warning --fields-json '{"page":7,"nested":{"a":[1,null,true]}}' \
    "slow page:" $'tab\there' '"quoted"' 'back\slash' 'café 東京'
"$cli" pause --reason "operator request"
"$cli" resume
"$cli" heartbeat
"$cli" finish --status failed --error "HTTP 503 from api.sam.gov" \
    --error-details-json '{"page":7}' api_calls=4 found=12 new=2
unset RUNTRACK_RUN_ID RUNTRACK_JOB RUNTRACK_KIND

# 2. A seed-000 style run with start and end counts.
eval "$("$cli" start --job fb_v2.py --count events=1000 --count urls=500 \
    --planned sites_total=15 --param batch_size=10 --export)"
"$cli" log --level info "Scraping 25 pages"
"$cli" finish --status completed --count events=1050 --count urls=525
unset RUNTRACK_RUN_ID RUNTRACK_JOB RUNTRACK_KIND

# 3. A wrapped command: its output lines become logs of every level.
"$cli" run --job wrapped.sh --kind pipeline -- sh -c \
    'echo "plain line"; echo "ERROR: bad thing" >&2; echo "SUCCESS: done"; echo "WARNING: careful"' \
    >/dev/null 2>&1
# 4. Wrapped commands that fail: the wrapper's finish carries the exit code or the signal.
"$cli" run --job wrapped_exit.sh -- sh -c 'exit 3' >/dev/null 2>&1 && exit 1
"$cli" run --job wrapped_signal.sh -- sh -c 'kill -TERM $$' >/dev/null 2>&1 && exit 1

"$dump" "$RUNTRACK_BROKERS" "$RUNTRACK_TOPIC" >"${TMPDIR:-/tmp}/rt-conform-$$.tsv"
trap 'rm -f "${TMPDIR:-/tmp}/rt-conform-$$.tsv"' EXIT
/usr/bin/python3 "$src/tests/contract/validate_stream.py" "$src" --expect-runs 5 \
    --expect-types run.started,run.phase,run.progress,run.log,run.paused,run.resumed,run.heartbeat,run.finished \
    <"${TMPDIR:-/tmp}/rt-conform-$$.tsv"
