#!/usr/bin/env bash
# End-to-end consumer throughput: a generated fleet stream (default 200,000 events, 2,000 runs)
# is produced to the dev broker, then one runtrack-consumer applies it into PostgreSQL; prints
# events/s from the first to the last committed batch (group join excluded).
#   bench/bench_consumer.sh [BUILD_DIR] [EVENTS]     (not part of ctest)
# Uses the services in $RUNTRACK_SERVICES_DIR if set, else starts private ones in a temp dir.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
EVENTS=${2:-200000}
export RUNTRACK_BUILD_DIR=$BUILD RUNTRACK_SOURCE_DIR=$SRC
T=$(mktemp -d /tmp/rt-bench.XXXXXX)
cleanup() {
    [ -n "${OWN:-}" ] && "$SRC/deploy/services.sh" stop "$T/svc" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
if [ -z "${RUNTRACK_SERVICES_DIR:-}" ]; then
    OWN=1
    RUNTRACK_DEVBROKER=$BUILD/deploy/devbroker/runtrack-devbroker \
        "$SRC/deploy/services.sh" start "$T/svc" >/dev/null
    RUNTRACK_SERVICES_DIR=$T/svc
fi
. "$RUNTRACK_SERVICES_DIR/services.env"
db=bench_consumer_$$
psql -XAtq -d "postgresql://$PGUSER@$PGHOST:$PGPORT/postgres" -c "CREATE DATABASE $db" >/dev/null
export RUNTRACK_PG_DSN="postgresql://$PGUSER@$PGHOST:$PGPORT/$db" PGDATABASE=$db
export RUNTRACK_TOPIC=bench_$$ RUNTRACK_GROUP=bench_$$ RUNTRACK_HTTP_PORT=-1
"$RUNTRACK_DEVBROKER" ctl "$RUNTRACK_DEVBROKER_CTL" topic "$RUNTRACK_TOPIC" 8 >/dev/null
runs=$((EVENTS / 100))
python3 "$SRC/tests/consumer/gen_events.py" fleet --runs "$runs" --events-per-run 100 >"$T/ev.txt" 2>/dev/null
kcat -P -b "$RUNTRACK_BROKERS" -t "$RUNTRACK_TOPIC" -K $'\t' -z lz4 -X linger.ms=50 \
    -X batch.num.messages=10000 -X batch.size=4000000 -l "$T/ev.txt"
"$BUILD/consumer/runtrack-consumer" --exit-when-idle 2000 2>"$T/c.log"
python3 - "$T/c.log" "$(wc -l <"$T/ev.txt")" <<'PY'
import re, sys, datetime
ts = [l for l in open(sys.argv[1]) if 'msg="batch committed"' in l]
t = lambda l: datetime.datetime.fromisoformat(re.search(r"ts=(\S+)Z", l).group(1))
recs = sum(int(re.search(r"records=(\d+)", l).group(1)) for l in ts)
first = t(ts[0]) - datetime.timedelta(milliseconds=int(re.search(r" ms=(\d+)", ts[0]).group(1)))
secs = (t(ts[-1]) - first).total_seconds()
print("bench_consumer: %d records (%s produced) in %d batches, %.2f s -> %.0f events/s"
      % (recs, sys.argv[2], len(ts), secs, recs / secs))
PY
psql -XAtq -d "postgresql://$PGUSER@$PGHOST:$PGPORT/postgres" -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
