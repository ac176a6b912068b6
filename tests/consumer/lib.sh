# Helpers for the consumer integration tests (source after tests/lib/common.sh).
#   ct_consumer ARGS...       run runtrack-consumer (stderr to $CT_LOG) in the foreground
#   ct_produce FILE [TOPIC]   produce "key<TAB>value" lines with kcat (keyed, in file order)
#   ct_checksum               one line per table: name, row count, md5 over the rows (surrogate
#                             keys, received_at and consumer_offsets excluded)
#   ct_scenario_lines FILE    schemas/examples scenario → "run_id<TAB>json" lines
export PGTZ=UTC
CT_BIN=${RUNTRACK_BUILD_DIR:?}/consumer/runtrack-consumer
CT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CT_LOG:=/dev/stderr}"

ct_consumer() {
    "$CT_BIN" "$@" 2>>"$CT_LOG"
}

ct_produce() {
    local file=$1 topic=${2:-$RUNTRACK_TOPIC}
    kcat -P -b "$RUNTRACK_BROKERS" -t "$topic" -K $'\t' -X message.max.bytes=4000000 \
        -X linger.ms=20 -l "$file" || rt_die "kcat could not produce $file"
}

ct_checksum() {
    psql -XAtq -v ON_ERROR_STOP=1 -d "$RUNTRACK_PG_DSN" -f "$CT_HERE/checksum.sql"
}

ct_scenario_lines() {
    python3 -c '
import json, sys
for e in json.load(open(sys.argv[1]))["events"]:
    print(e["run_id"] + "\t" + json.dumps(e, separators=(",", ":"), ensure_ascii=False))
' "$1"
}
