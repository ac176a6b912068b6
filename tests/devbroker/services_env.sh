#!/usr/bin/env bash
# tests/lib/with_services.sh gives a test what it promises: the exported variables, its own
# database (recreated empty on every run, name sanitized) and its own 4-partition topic.
# Runs under with_services.sh itself (NAME services_env).
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"

for v in RUNTRACK_PG_DSN PGHOST PGPORT PGUSER PGDATABASE RUNTRACK_TOPIC RUNTRACK_BROKERS \
    RUNTRACK_DEVBROKER_CTL RUNTRACK_BUILD_DIR RUNTRACK_SOURCE_DIR; do
    [ -n "${!v:-}" ] || rt_die "$v is not exported"
done
[ "$PGDATABASE" = t_services_env ] || rt_die "PGDATABASE=$PGDATABASE, want t_services_env"
[ "$(rt_psql_value 'SELECT current_database()')" = t_services_env ] || rt_die "DSN reaches another database"
[ "$(psql -XAtq -c 'SELECT current_database()')" = t_services_env ] || rt_die "PG* reach another database"
case "$RUNTRACK_TOPIC" in t_services_env_*) ;; *) rt_die "topic name $RUNTRACK_TOPIC" ;; esac
kcat -b "$RUNTRACK_BROKERS" -L -t "$RUNTRACK_TOPIC" -m 10 | grep -q "with 4 partitions" ||
    rt_die "topic $RUNTRACK_TOPIC does not exist with 4 partitions"
[ "$(rt_ctl ping)" = ok ] || rt_die "control socket does not answer"

# Leave a mark; the next run under the same NAME must start from an empty database and get
# another topic. A messy NAME is sanitized into a valid database name.
rt_psql 'CREATE TABLE leftover (x int)' >/dev/null
ws=$RUNTRACK_SOURCE_DIR/tests/lib/with_services.sh
first_topic=$RUNTRACK_TOPIC
"$ws" services_env -- bash -c '
    [ "$(psql -XAtq -c "SELECT count(*) FROM pg_tables WHERE tablename = '"'leftover'"'")" = 0 ] || exit 3
    [ "$RUNTRACK_TOPIC" != "'"$first_topic"'" ] || exit 4' ||
    rt_die "a rerun did not get a fresh database and topic (rc $?)"
"$ws" 'Weird-Name.x' -- bash -c '[ "$PGDATABASE" = t_weird_name_x ] && psql -XAtq -c "SELECT 1" >/dev/null' ||
    rt_die "NAME was not sanitized into t_weird_name_x"
# rt_migrate gives the test database the agreed tables.
rt_migrate
for t in run_results discovery_runs runs run_logs dead_letters consumer_offsets; do
    [ "$(rt_psql_value "SELECT to_regclass('public.$t') IS NOT NULL")" = t ] || rt_die "rt_migrate: no table $t"
done
if "$ws" x -- 2>/dev/null; then rt_die "with_services.sh accepted a missing command"; fi
echo "ok: with_services.sh isolation"
