# Helpers for the consumer integration tests (source after tests/lib/common.sh).
#   ct_consumer ARGS...       run runtrack-consumer (stderr to $CT_LOG) in the foreground
#   ct_produce FILE [TOPIC]   produce "key<TAB>value" lines with kcat (keyed, in file order)
#   ct_checksum               one line per table: name, row count, md5 over the rows (surrogate
#                             keys, received_at and consumer_offsets excluded)
#   ct_scenario_lines FILE    schemas/examples scenario → "run_id<TAB>json" lines
#   ct_same_tables WANT GOT WHAT      two ct_checksum outputs must be equal (diff, then die)
#   ct_assert_clean_pass DIR WHAT     tables = a replay of the topic into an empty database
#   ct_wrapped DIR NAME EXIT SCRIPT [OPTS...]  SCRIPT under `runtrack run --job NAME OPTS`,
#                             which must exit EXIT; the run's id in RUN
#   ct_replay_runs MODE EVENTS LIVE SFX [SETTINGS...]  EVENTS rearranged per run, consumed
#                             into a new database: its tables must equal LIVE (ct_checksum)
#   ct_assert_offsets TOTAL           the group's stored offsets add up to TOTAL records
#   ct_assert_counts CHECKSUM SUMFILE rows per table = gen_events.py's summary, no dead letter
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

ct_same_tables() {
    if [ "$1" != "$2" ]; then
        diff <(echo "$1") <(echo "$2") >&2 || true
        rt_die "$3"
    fi
}

# ct_assert_clean_pass DIR WHAT: the tables of $RUNTRACK_PG_DSN must equal a clean single pass
# (replay --to-end into a fresh database; its log in DIR/replay.log). Prints the checksum and
# leaves it in CT_CHECKSUM; dies with WHAT when they differ.
ct_assert_clean_pass() {
    local gt want
    CT_CHECKSUM=$(ct_checksum)
    ct_new_db gt truth
    RUNTRACK_PG_DSN=$gt CT_LOG="$1/replay.log" ct_consumer replay --to-end ||
        rt_die "ground-truth replay failed"
    want=$(RUNTRACK_PG_DSN=$gt ct_checksum)
    echo "$CT_CHECKSUM"
    ct_same_tables "$want" "$CT_CHECKSUM" "$2"
}

# ct_wrapped DIR NAME EXIT SCRIPT [OPTS...]: runs `sh -c SCRIPT` under `runtrack run --job NAME
# OPTS` (runtrack on PATH; output in DIR/NAME.out); dies unless it exits EXIT. The run's id
# (the script prints it first) goes in RUN.
ct_wrapped() {
    local dir=$1 name=$2 want=$3 script=$4 rc=0
    shift 4
    runtrack run --job "$name" "$@" -- sh -c "echo \"run=\$RUNTRACK_RUN_ID\"; $script" \
        >"$dir/$name.out" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || rt_die "$name: runtrack run exited $rc, expected $want: $(cat "$dir/$name.out")"
    RUN=$(sed -n 's/^run=//p' "$dir/$name.out")
    [ -n "$RUN" ] || rt_die "$name: no run id in $(cat "$dir/$name.out")"
}

# ct_replay_runs MODE EVENTS LIVE SFX [SETTINGS...]: the "key<TAB>json" lines of EVENTS (a
# topic read back with kcat -f '%k\t%s\n') rearranged per run by MODE (order: as they are;
# reverse: each run's events reversed; shuffle: each run's events twice, shuffled) into a new
# topic, consumed into a new database with SETTINGS (VAR=value) in the environment (log:
# EVENTS' directory, SFX.log); dies unless its ct_checksum equals LIVE.
ct_replay_runs() {
    local mode=$1 events=$2 live=$3 sfx=$4 r_topic r_db dir
    shift 4
    dir=$(dirname "$events")
    python3 - "$mode" "$events" >"$dir/$sfx.txt" <<'PY'
import collections, random, sys
runs = collections.OrderedDict()
for line in open(sys.argv[2]):
    runs.setdefault(line.split("\t", 1)[0], []).append(line)
rnd = random.Random(7)
for lines in runs.values():
    if sys.argv[1] == "reverse":
        lines = lines[::-1]
    elif sys.argv[1] == "shuffle":
        lines = lines * 2
        rnd.shuffle(lines)
    sys.stdout.writelines(lines)
PY
    # (not "topic"/"db": ct_new_* have locals of those names)
    ct_new_topic r_topic "$sfx"
    ct_new_db r_db "$sfx"
    ct_produce "$dir/$sfx.txt" "$r_topic"
    env "$@" RUNTRACK_TOPIC="$r_topic" RUNTRACK_GROUP="g_$r_topic" RUNTRACK_PG_DSN="$r_db" \
        "$CT_BIN" --exit-when-idle 1500 2>>"$dir/$sfx.log" || rt_die "consumer of $sfx failed"
    ct_same_tables "$live" "$(RUNTRACK_PG_DSN=$r_db ct_checksum)" \
        "$mode $*: the tables differ from the live ones"
}

ct_assert_offsets() {
    local got
    got=$(ct_offsets_sum)
    [ "$got" = "$1" ] || rt_die "stored offsets $got != $1 records"
}

# ct_assert_counts CHECKSUM SUMFILE: SUMFILE is gen_events.py's summary (stderr, JSON).
ct_assert_counts() {
    local runs logs fin
    read -r runs logs fin < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["runs"], d["logs"], d["finished"])' "$2")
    echo "$1" | grep -qx "runs|$runs|.*" || rt_die "expected $runs runs"
    echo "$1" | grep -qx "run_logs|$logs|.*" || rt_die "expected $logs run_logs rows"
    echo "$1" | grep -qx "run_results|$fin|.*" || rt_die "expected $fin run_results rows"
    echo "$1" | grep -qx "dead_letters|0|.*" || rt_die "dead letters appeared"
}
