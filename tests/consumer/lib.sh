# Helpers for the consumer integration tests (source after tests/lib/common.sh).
#   ct_consumer ARGS...       run runtrack-consumer (stderr to $CT_LOG) in the foreground
#   ct_produce FILE [TOPIC]   produce "key<TAB>value" lines with kcat (keyed, in file order)
#   ct_checksum               one line per table: name, row count, md5 over the rows (surrogate
#                             keys, received_at and consumer_offsets excluded)
#   ct_scenario_lines FILE    schemas/examples scenario → "run_id<TAB>json" lines
export PGTZ=UTC
# A group of its own per test: the shared broker's group coordinator would otherwise rebalance
# every test's consumers together (and wait for all of them to rejoin).
export RUNTRACK_GROUP=${RUNTRACK_GROUP:-g_${RUNTRACK_TOPIC:?}}
# The dev broker forgets a member only at its session timeout (even after a clean leave), so a
# restarted consumer waits that long for its partitions: keep it short in tests.
# No HTTP API unless a test asks for one (parallel tests would fight over the port).
export RUNTRACK_HTTP_PORT=${RUNTRACK_HTTP_PORT:--1}
export RUNTRACK_KAFKA_SESSION_TIMEOUT_MS=${RUNTRACK_KAFKA_SESSION_TIMEOUT_MS:-4000}
export RUNTRACK_KAFKA_HEARTBEAT_INTERVAL_MS=${RUNTRACK_KAFKA_HEARTBEAT_INTERVAL_MS:-400}
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

# ct_produce_bulk FILE [TOPIC]: like ct_produce, lz4-compressed in large batches, so that big
# streams fit the dev broker's per-partition retention (5 MiB).
ct_produce_bulk() {
    local file=$1 topic=${2:-$RUNTRACK_TOPIC}
    kcat -P -b "$RUNTRACK_BROKERS" -t "$topic" -K $'\t' -z lz4 -X linger.ms=50 \
        -X batch.num.messages=10000 -X batch.size=4000000 -l "$file" ||
        rt_die "kcat could not produce $file"
}

# ct_offsets_sum: sum of the stored next offsets of this test's group (records applied).
ct_offsets_sum() {
    psql -XAtq -d "$RUNTRACK_PG_DSN" \
        -c "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE group_id = '$RUNTRACK_GROUP'" 2>/dev/null ||
        echo 0
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

# ct_new_db VAR SUFFIX: (re)creates database "${PGDATABASE}_SUFFIX" (dropped on exit) and stores
# its DSN in VAR. Not $(ct_new_db): a subshell's exit would run the test's cleanups.
ct_new_db() {
    local db="${PGDATABASE}_$2"
    psql -XAtq -v ON_ERROR_STOP=1 -d "postgresql://$PGUSER@$PGHOST:$PGPORT/postgres" \
        -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" -c "CREATE DATABASE \"$db\"" >/dev/null 2>&1 ||
        rt_die "cannot create database $db"
    rt_on_exit "psql -XAtq -d 'postgresql://$PGUSER@$PGHOST:$PGPORT/postgres' -c 'DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)' >/dev/null 2>&1"
    printf -v "$1" '%s' "postgresql://$PGUSER@$PGHOST:$PGPORT/$db"
}

# ct_new_topic VAR SUFFIX [PARTITIONS]: creates topic "${RUNTRACK_TOPIC}_SUFFIX", name in VAR.
ct_new_topic() {
    local t="${RUNTRACK_TOPIC}_$2"
    "$RUNTRACK_DEVBROKER" ctl "$RUNTRACK_DEVBROKER_CTL" topic "$t" "${3:-4}" >/dev/null ||
        rt_die "cannot create topic $t"
    printf -v "$1" '%s' "$t"
}
