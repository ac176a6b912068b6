#!/usr/bin/env bash
# make bench: every benchmark of issue 7 on private local services, one table of figures next to
# their baseline or limit measured in the same run, written to $BENCH_OUT/results.md with plots.
#
#   RUNTRACK_BUILD_DIR=build bench/run.sh       (make bench does this; ~10-15 min on 2 cores)
#   BENCH_QUICK=1 bench/run.sh                  smaller sizes, ~2 min (ctest bench.smoke)
#   BENCH_OUT=DIR                               where results.md, *.png, raw data go (default:
#                                               bench/ in the source tree; quick mode: a temp dir)
#   BENCH_ONLY="producer consumer ..."          run only some sections (producer consumer
#                                               fresh replay scale memory api)
#   BENCH_REPEATS=N                             runs per figure of section 2 (default 3; the
#                                               table shows the median and the range)
#
# Starts its own PostgreSQL + dev broker (deploy/services.sh) in a temp dir and stops them, and
# every consumer it started, on every exit path; section 2 also starts (and stops) a second
# PostgreSQL with default durability (deploy/pg.sh, RUNTRACK_PG_DURABLE=1) in $T/pgdur.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${RUNTRACK_BUILD_DIR:-$SRC/build}" && pwd)
QUICK=${BENCH_QUICK:-0}
ONLY=${BENCH_ONLY:-producer consumer fresh replay scale memory api}
REPEATS=${BENCH_REPEATS:-3}
case "$REPEATS" in '' | *[!0-9]* | 0) echo "run.sh: BENCH_REPEATS must be a number >= 1" >&2; exit 2 ;; esac
T=$(mktemp -d /tmp/rt-bench.XXXXXX)
chmod 755 "$T" # PostgreSQL runs as the postgres OS user and must reach $T/svc/pg
if [ "$QUICK" = 1 ]; then OUT=${BENCH_OUT:-$T/out}; else OUT=${BENCH_OUT:-$SRC/bench}; fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RES=$T/results.txt # "key value" lines, read by bench/report.py
: >"$RES"
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    "$SRC/deploy/services.sh" stop "$T/svc" >/dev/null 2>&1 || true
    "$SRC/deploy/pg.sh" stop "$T/pgdur" >/dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
res() { echo "$1 $2" >>"$RES"; }
want() { [[ " $ONLY " == *" $1 "* ]]; }
now() { date +%s.%N; }
q() { [ "$QUICK" = 1 ] && echo "$1" || echo "$2"; }

# Sizes: full / quick.
FLEET=$(q 40000 200000)      # (2) consumer end to end, 2,000 runs
SEEDS=$(q 4000 20000)        # (2a) seeds' pattern: the same run shape, fewer runs
REPLAY=$(q 100000 1000000)   # (4) replay, and the top of (6)'s size scale
SCALE=$(q 20000 100000)      # (6) partitions x consumers
PCALLS=$(q 50000 200000)     # (1) calls per thread
FRESH_S=$(q 3 10)            # (3) seconds of steady load per setting

say "building benchmark targets in $BUILD"
make -C "$BUILD" -j2 --no-print-directory runtrack-consumer runtrack-devbroker bench_producer \
    bench_seeds bench_fresh bench_queue >"$T/build.log" 2>&1 || { cat "$T/build.log" >&2; exit 1; }
CONSUMER=$BUILD/consumer/runtrack-consumer
export RUNTRACK_DEVBROKER=$BUILD/deploy/devbroker/runtrack-devbroker

say "starting PostgreSQL + dev broker in $T/svc"
"$SRC/deploy/services.sh" start "$T/svc" >"$T/services.log" 2>&1 || { cat "$T/services.log" >&2; exit 1; }
. "$T/svc/services.env"
export RUNTRACK_HTTP_PORT=-1 RUNTRACK_STALE_CLOSE_AFTER_S=0 RUNTRACK_RETENTION_DAYS=36500

res cores "$(nproc)"
res date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
res quick "$QUICK"
res cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//; s/ /_/g')"

# dsn NAME: database NAME on the server at $PGPORT (the services' one unless a caller sets PGPORT)
dsn() { echo "postgresql://$PGUSER@$PGHOST:$PGPORT/$1"; }
newdb() { # NAME: empty migrated database
    PGOPTIONS="-c client_min_messages=warning" psql -XAtq -d "$(dsn postgres)" \
        -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
    RUNTRACK_PG_DSN=$(dsn "$1") "$CONSUMER" migrate >"$T/migrate_$1.log" 2>&1 ||
        { cat "$T/migrate_$1.log" >&2; exit 1; }
}
val() { psql -XAtq -d "$(dsn "$1")" -c "$2"; }
topic() { "$RUNTRACK_DEVBROKER" ctl "$RUNTRACK_DEVBROKER_CTL" topic "$1" "$2" >/dev/null; }
produce() { # FILE TOPIC: as fast as kcat goes, lz4 like libruntrack (fits the mock's retention)
    kcat -P -b "$RUNTRACK_BROKERS" -t "$2" -K $'\t' -z lz4 -X linger.ms=50 \
        -X batch.num.messages=10000 -X batch.size=4000000 -X queue.buffering.max.kbytes=1048576 -l "$1"
}
gen() { python3 "$SRC/bench/gen_fleet.py" "$@" 2>/dev/null; }
# consume NAME DB TOPIC [extra env...]: one group member until idle; RSS (KiB) in $T/NAME.rss,
# log in $T/NAME.log.
consume() {
    local name=$1 db=$2 tp=$3
    shift 3
    env RUNTRACK_PG_DSN="$(dsn "$db")" RUNTRACK_TOPIC="$tp" RUNTRACK_GROUP="g_$name" \
        RUNTRACK_KAFKA_SESSION_TIMEOUT_MS=6000 "$@" \
        /usr/bin/time -f %M -o "$T/$name.rss" "$CONSUMER" --exit-when-idle 2000 2>"$T/$name.log" ||
        { tail -5 "$T/$name.log" >&2; return 1; }
}
# copy_seconds DB TABLE FILE: seconds PostgreSQL's COPY takes to load FILE into TABLE.
copy_seconds() {
    local t0
    t0=$(now)
    psql -XAtq -d "$(dsn "$1")" -c "\\copy $2 FROM '$3'" >/dev/null
    echo "$(now) - $t0" | bc -l
}
# batches LOG...: "records seconds" from the first batch's start to the last commit.
batches() { python3 "$SRC/bench/report.py" batches "$@"; }

# ---- 1 producer -----------------------------------------------------------------------------
if want producer; then
    say "(1) producer: $PCALLS calls per thread, 1 and 2 threads, next to raw rd_kafka_producev"
    topic bench_prod 4
    RUNTRACK_TOPIC=bench_prod "$BUILD/bench/bench_producer" "$PCALLS" >"$T/producer.txt"
    cp "$T/producer.txt" "$OUT/producer.txt"
    grep '^RESULT' "$T/producer.txt" | cut -d' ' -f2- >>"$RES"
fi

# ---- 2 consumer end to end + baselines (a) seeds' pattern and (b) COPY; 5 consumer RSS ----------
# Each figure of (2), (2a), (2b) and (2c) is measured REPEATS times, every time into a freshly
# created database and, for consumer runs, as a new consumer group on the same topic (consume's
# group is g_NAME, and NAME carries the run number). Keys get a ".rN" suffix; report.py shows
# the median with the min-max range and compares medians.
res_run() { # KEY RUN VALUE: one run's figure, as "KEY.rRUN VALUE"
    res "$1.r$2" "$3"
}
seeds_run() { # FILE RUN DB [KEY_PREFIX]: the seeds' pattern into a fresh DB (server at $PGPORT)
    newdb "$3"
    RUNTRACK_PG_DSN=$(dsn "$3") "$BUILD/bench/bench_seeds" "$1" >"$T/${3}_r$2.out"
    grep '^RESULT' "$T/${3}_r$2.out" | cut -d' ' -f2- | sed "s/^\([^ ]*\)/${4:-}\1.r$2/" >>"$RES"
}
if want consumer; then
    say "(2) consumer end to end: $FLEET events of 2,000 runs already in the topic"
    gen "$FLEET" 2000 >"$T/fleet.txt"
    topic bench_fleet 8
    produce "$T/fleet.txt" bench_fleet
    # The Kafka-read limit: librdkafka alone (kcat, librdkafka's default fetch and queue
    # settings) reading the same topic from the dev broker to the end, discarding; includes
    # connecting (~0.1 s). Not the consumer's own settings: with its small queue
    # (queued.max.messages.kbytes=2048) librdkafka 2.0.2 parks the fetchers whenever the queue is
    # full and wakes them only on a 1 s timer; the consumer has a fetch waker thread for that,
    # kcat has none, so kcat would read many times slower than the consumer ingests. The fastest
    # of REPEATS reads is kept (report.py): a limit is a best case.
    for r in $(seq 1 "$REPEATS"); do
        t0=$(now)
        kread=$(kcat -C -b "$RUNTRACK_BROKERS" -t bench_fleet -o beginning -e -q -f 'x\n' | wc -l)
        t1=$(now)
        res_run fleet_kafka_only_events "$r" "$kread"
        res_run fleet_kafka_only_seconds "$r" "$(echo "$t1 - $t0" | bc -l)"
    done
    for r in $(seq 1 "$REPEATS"); do
        say "(2) consumer end to end, run $r of $REPEATS: fresh database, new group"
        newdb b_fleet
        consume "fleet_r$r" b_fleet bench_fleet
        read -r recs secs < <(batches "$T/fleet_r$r.log")
        res_run fleet_events "$r" "$recs"
        res_run fleet_seconds "$r" "$secs"
        res_run fleet_rss_kib "$r" "$(cat "$T/fleet_r$r.rss")"
        res_run fleet_rows "$r" "$(val b_fleet "SELECT (SELECT count(*) FROM runs) +
            (SELECT count(*) FROM run_logs) + (SELECT count(*) FROM run_results) +
            (SELECT count(*) FROM discovery_runs)")"
        res_run fleet_log_rows "$r" "$(val b_fleet 'SELECT count(*) FROM run_logs')"
        res_run fleet_run_rows "$r" "$(val b_fleet 'SELECT count(*) FROM runs')"
    done

    say "(2) the same stream with low-latency consumer settings (batch 1000 events / 20 ms)"
    topic bench_fleet_ll 8
    produce "$T/fleet.txt" bench_fleet_ll
    newdb b_fleet_ll
    consume fleet_ll b_fleet_ll bench_fleet_ll RUNTRACK_BATCH_MAX_EVENTS=1000 RUNTRACK_BATCH_MAX_MS=20
    read -r recs secs < <(batches "$T/fleet_ll.log")
    res fleet_ll_seconds "$secs"

    say "(2a) seeds' pattern: one autocommit INSERT/UPDATE per event ($SEEDS events, same run shape), $REPEATS runs"
    gen "$SEEDS" $((SEEDS / 100)) >"$T/seeds.txt"
    for r in $(seq 1 "$REPEATS"); do
        seeds_run "$T/seeds.txt" "$r" b_seeds
    done

    say "(2b) PostgreSQL COPY of the same final log and run rows (the last run's), $REPEATS runs"
    psql -XAtq -d "$(dsn b_fleet)" -c "\\copy run_logs TO '$T/logs.copy'" \
        -c "\\copy runs TO '$T/runs.copy'"
    res copy_log_rows "$(wc -l <"$T/logs.copy")" # text format: one line per row
    res copy_run_rows "$(wc -l <"$T/runs.copy")"
    for r in $(seq 1 "$REPEATS"); do
        newdb b_copy
        res_run copy_log_seconds "$r" "$(copy_seconds b_copy run_logs "$T/logs.copy")"
        res_run copy_run_seconds "$r" "$(copy_seconds b_copy runs "$T/runs.copy")"
    done
    rm -f "$T/logs.copy" "$T/runs.copy"

    say "(2c) log-row ingest: $FLEET events of 2,000 runs, every body event a run.log, $REPEATS runs"
    gen "$FLEET" 2000 1 logs >"$T/logs.txt"
    topic bench_logs 8
    produce "$T/logs.txt" bench_logs
    for r in $(seq 1 "$REPEATS"); do
        newdb b_logs
        consume "logs_r$r" b_logs bench_logs
        read -r recs secs < <(batches "$T/logs_r$r.log")
        res_run logs_only_events "$r" "$recs"
        res_run logs_only_seconds "$r" "$secs"
        res_run logs_only_log_rows "$r" "$(val b_logs 'SELECT count(*) FROM run_logs')"
    done
    psql -XAtq -d "$(dsn b_logs)" -c "\\copy run_logs TO '$T/logs_only.copy'"
    res copy_logs_only_rows "$(wc -l <"$T/logs_only.copy")"
    for r in $(seq 1 "$REPEATS"); do
        newdb b_logs_copy
        res_run copy_logs_only_seconds "$r" "$(copy_seconds b_logs_copy run_logs "$T/logs_only.copy")"
    done
    rm -f "$T/logs.txt" "$T/logs_only.copy"

    # (2d) The server above trades durability for speed (deploy/pg.sh: fsync=off), which flatters
    # the seeds' pattern most: on the production servers the Python trackers wrote to, every
    # autocommit statement waits for its WAL flush. A second server with PostgreSQL's default
    # durability runs the same seeds file and the same fleet topic (new groups); information
    # rows, the targets stay on the fsync=off server. Stopped right after, and in cleanup.
    say "(2d) a second PostgreSQL with PostgreSQL's default durability (fsync on) in $T/pgdur"
    case $(stat -f -c %T "$T") in
        tmpfs | ramfs) say "warning: $T is on $(stat -f -c %T "$T"): fsync costs nothing there" ;;
    esac
    RUNTRACK_PG_DURABLE=1 "$SRC/deploy/pg.sh" start "$T/pgdur" >"$T/pgdur.log" 2>&1 ||
        { cat "$T/pgdur.log" >&2; exit 1; }
    # shellcheck source=/dev/null # written by pg.sh start just above
    DURPORT=$(. "$T/pgdur/pg.env" && echo "$PGPORT")
    # PGPORT=... before a helper: dsn (and so newdb, val, consume, seeds_run) uses that server.
    res pg_fsync "$(val postgres 'SHOW fsync')"
    res durable_fsync "$(PGPORT=$DURPORT val postgres 'SHOW fsync')"
    res durable_full_page_writes "$(PGPORT=$DURPORT val postgres 'SHOW full_page_writes')"
    res durable_fs "$(stat -f -c %T "$T/pgdur")"
    say "(2d) seeds' pattern on the durable server ($SEEDS events), $REPEATS runs"
    for r in $(seq 1 "$REPEATS"); do
        PGPORT=$DURPORT seeds_run "$T/seeds.txt" "$r" b_seeds_dur durable_
    done
    for r in $(seq 1 "$REPEATS"); do
        say "(2d) consumer end to end on the durable server, run $r of $REPEATS"
        PGPORT=$DURPORT newdb b_fleet_dur
        PGPORT=$DURPORT consume "fleet_dur_r$r" b_fleet_dur bench_fleet
        read -r recs secs < <(batches "$T/fleet_dur_r$r.log")
        res_run durable_fleet_events "$r" "$recs"
        res_run durable_fleet_seconds "$r" "$secs"
    done
    "$SRC/deploy/pg.sh" stop "$T/pgdur"
    rm -f "$T/seeds.txt"
fi

# ---- 3 freshness at a steady 2,000 events/s ---------------------------------------------------
fresh() { # NAME "CONSUMER_ENV" "PRODUCER_ENV": consumer in the background, steady progress load
    local name=$1 cenv=$2 penv=$3 cpid
    topic "bench_$name" 4
    # shellcheck disable=SC2086 # word splitting of the VAR=value lists is wanted
    env RUNTRACK_PG_DSN="$(dsn b_fresh)" RUNTRACK_TOPIC="bench_$name" RUNTRACK_GROUP="g_$name" \
        $cenv "$CONSUMER" 2>"$T/$name.log" &
    cpid=$!
    PIDS+=("$cpid")
    # shellcheck disable=SC2086
    env RUNTRACK_PG_DSN="$(dsn b_fresh)" RUNTRACK_TOPIC="bench_$name" $penv \
        "$BUILD/bench/bench_fresh" 2000 "$FRESH_S" 20 "$T/latency_$name.txt" >"$T/$name.out" ||
        { cat "$T/$name.out" >&2; tail -5 "$T/$name.log" >&2; }
    kill "$cpid" 2>/dev/null || true
    wait "$cpid" 2>/dev/null || true
    grep '^RESULT' "$T/$name.out" | sed "s/^RESULT fresh_/${name}_/" >>"$RES" || true
}
if want fresh; then
    newdb b_fresh
    say "(3) freshness, 2,000 progress events/s over 20 runs for $FRESH_S s: defaults"
    fresh fresh_default "" ""
    say "(3) freshness with producer linger.ms=50"
    fresh fresh_linger50 "" "RUNTRACK_KAFKA_LINGER_MS=50"
    say "(3) freshness with consumer batch_max_ms=20"
    fresh fresh_batch20 "RUNTRACK_BATCH_MAX_MS=20" ""
    say "(3) freshness with consumer batch_max_ms=500"
    fresh fresh_batch500 "RUNTRACK_BATCH_MAX_MS=500" ""
    say "(3) freshness with consumer fetch.wait.max.ms=20 (librdkafka default 500)"
    fresh fresh_fetch20 "RUNTRACK_KAFKA_FETCH_WAIT_MAX_MS=20" ""
fi

# ---- 4 replay of REPLAY events into an empty database, next to live consumption; 6 sizes -------
# 64 partitions + lz4: the dev broker (librdkafka's mock) keeps at most 5 MiB per partition, and
# 1,000,000 events only fit that way (README, "The dev broker").
if want replay; then
    say "(4) replay: $REPLAY events (2,000 runs) in a 64-partition topic"
    gen "$REPLAY" 2000 >"$T/replay.txt"
    topic bench_replay 64
    produce "$T/replay.txt" bench_replay
    res replay_produced "$(wc -l <"$T/replay.txt")"
    rm -f "$T/replay.txt"
    newdb b_replay
    t0=$(now)
    RUNTRACK_PG_DSN=$(dsn b_replay) RUNTRACK_TOPIC=bench_replay /usr/bin/time -f %M -o "$T/replay.rss" \
        "$CONSUMER" replay --from-beginning --to-end 2>"$T/replay.log"
    t1=$(now)
    read -r recs secs < <(batches "$T/replay.log")
    res replay_events "$recs"
    res replay_seconds "$secs"
    res replay_wall_seconds "$(echo "$t1 - $t0" | bc -l)"
    res replay_rss_kib "$(cat "$T/replay.rss")"
    say "(4) live: the same topic consumed by a group member into another empty database"
    newdb b_live
    consume live b_live bench_replay
    read -r recs secs < <(batches "$T/live.log")
    res live_events "$recs"
    res live_seconds "$secs"
    res live_rss_kib "$(cat "$T/live.rss")"
    same=$(psql -XAtq -d "$(dsn b_replay)" -c "SELECT md5(string_agg(run_id::text || status || last_seq, ',' ORDER BY run_id)) FROM runs")
    [ "$same" = "$(psql -XAtq -d "$(dsn b_live)" -c "SELECT md5(string_agg(run_id::text || status || last_seq, ',' ORDER BY run_id)) FROM runs")" ] &&
        res replay_equals_live 1 || res replay_equals_live 0
    for n in $((REPLAY / 10)) $((REPLAY * 3 / 10)); do
        say "(6) size scale: $n events, 64 partitions, one consumer"
        gen "$n" 2000 >"$T/size.txt"
        topic "bench_size_$n" 64
        produce "$T/size.txt" "bench_size_$n"
        newdb "b_size_$n"
        consume "size_$n" "b_size_$n" "bench_size_$n"
        read -r recs secs < <(batches "$T/size_$n.log")
        res "size_${n}_events" "$recs"
        res "size_${n}_seconds" "$secs"
    done
    rm -f "$T/size.txt"
fi

# ---- 6 scale: 1/2/4 partitions x 1/2 consumer processes in one group ---------------------------
if want scale; then
    gen "$SCALE" 2000 >"$T/scale.txt"
    for p in 1 2 4; do
        for c in 1 2; do
            say "(6) scale: $SCALE events, $p partition(s), $c consumer(s)"
            tp=bench_scale_${p}_$c
            topic "$tp" "$p"
            produce "$T/scale.txt" "$tp"
            newdb "b_$tp"
            logs=()
            for i in $(seq 1 "$c"); do
                consume "${tp}_$i" "b_$tp" "$tp" RUNTRACK_GROUP="g_$tp" &
                PIDS+=("$!")
                logs+=("$T/${tp}_$i.log")
            done
            wait "${PIDS[@]: -$c}"
            read -r recs secs < <(batches "${logs[@]}")
            res "scale_${p}_${c}_events" "$recs"
            res "scale_${p}_${c}_seconds" "$secs"
        done
    done
    rm -f "$T/scale.txt"
fi

# ---- 5 producer memory holding 100,000 queued events while the broker is down -----------------
if want memory; then
    say "(5) producer RSS with 100,000 log lines queued, all brokers down"
    "$RUNTRACK_DEVBROKER" ctl "$RUNTRACK_DEVBROKER_CTL" down -1 >/dev/null
    RUNTRACK_TOPIC=bench_queue RUNTRACK_LOG_QUEUE_MAX=100000 "$BUILD/bench/bench_queue" 100000 >"$T/q1.out"
    sed -n 's/^RESULT queue_/queue_all_/p' "$T/q1.out" >>"$RES"
    RUNTRACK_TOPIC=bench_queue "$BUILD/bench/bench_queue" 100000 >"$T/q2.out"
    sed -n 's/^RESULT queue_/queue_default_/p' "$T/q2.out" >>"$RES"
    RUNTRACK_TOPIC=bench_queue RUNTRACK_LOG_QUEUE_MAX=10000 "$BUILD/bench/bench_queue" 100000 >"$T/q3.out"
    sed -n 's/^RESULT queue_/queue_10k_/p' "$T/q3.out" >>"$RES"
    "$RUNTRACK_DEVBROKER" ctl "$RUNTRACK_DEVBROKER_CTL" up -1 >/dev/null
fi

# ---- 7 API over 100,000 runs and 10,000,000 log rows, wrk on loopback --------------------------
if want api; then
    newdb b_api
    if [ "$QUICK" = 1 ]; then
        sed 's/generate_series(1, 100000)/generate_series(1, 10000)/; s/generate_series(1, 100) AS g/generate_series(1, 10) AS g/' \
            "$SRC/tests/api/perf_fixture.sql" >"$T/fixture.sql"
    else
        cp "$SRC/tests/api/perf_fixture.sql" "$T/fixture.sql"
    fi
    say "(7) API: loading tests/api/perf_fixture.sql ($(q '10,000 runs, 100,000' '100,000 runs, 10,000,000') log rows)"
    t0=$(now)
    psql -XAtq -v ON_ERROR_STOP=1 -d "$(dsn b_api)" -f "$T/fixture.sql" >/dev/null
    res api_fixture_seconds "$(echo "$(now) - $t0" | bc -l)"
    res api_runs "$(val b_api 'SELECT count(*) FROM runs')"
    res api_logs "$(val b_api 'SELECT count(*) FROM run_logs')"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    topic bench_api 4
    api_start() { # LOG [env...]: the consumer serving the API on $port, in $apid once it answers
        local log=$1
        shift
        env RUNTRACK_PG_DSN="$(dsn b_api)" RUNTRACK_TOPIC=bench_api RUNTRACK_GROUP=g_api \
            RUNTRACK_HTTP_PORT="$port" "$@" "$CONSUMER" 2>"$T/$log" &
        apid=$!
        PIDS+=("$apid")
        for _ in $(seq 100); do
            curl -sf "http://127.0.0.1:$port/api/health" >/dev/null 2>&1 && break
            sleep 0.2
        done
    }
    api_wrk() { # NAME:PATH [label]: wrk on one endpoint, raw output and results lines kept
        local ep=$1
        say "(7) wrk -t2 -c16 -d${d}s ${ep#*:}${2:-}"
        wrk -t2 -c16 -d"${d}s" --latency "http://127.0.0.1:$port${ep#*:}" >"$T/wrk_${ep%%:*}.txt" 2>&1 || true
        cp "$T/wrk_${ep%%:*}.txt" "$OUT/wrk_${ep%%:*}.txt"
        python3 "$SRC/bench/report.py" wrk "api_${ep%%:*}" "$T/wrk_${ep%%:*}.txt" >>"$RES"
    }
    api_stop() {
        kill "$apid" 2>/dev/null || true
        wait "$apid" 2>/dev/null || true
    }
    d=$(q 3 10)
    api_start api.log
    # Each endpoint is asked once before wrk (the readiness loop did that for /api/health), so a
    # report cache's cold first computation is not part of the steady-state figures.
    for ep in runs:/api/runs health:/api/health jobs:/api/jobs floor:/api/nonexistent; do
        curl -s -o /dev/null "http://127.0.0.1:$port${ep#*:}" || true
        api_wrk "$ep"
    done
    api_stop
    # The same two reports computed for every request (cache off): what the cache saves.
    api_start api_nocache.log RUNTRACK_HTTP_CACHE_MS=0
    for ep in health_nocache:/api/health jobs_nocache:/api/jobs; do
        api_wrk "$ep" ", report cache off"
    done
    api_stop
fi

cp "$RES" "$OUT/results.txt"
python3 "$SRC/bench/report.py" table "$RES" "$OUT" "$T"
say "results in $OUT/results.md"
