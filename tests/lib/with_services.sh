#!/usr/bin/env bash
# tests/lib/with_services.sh NAME -- COMMAND [ARGS...]
#
# Runs COMMAND against the suite's shared services (ctest fixture `services`, started by
# deploy/services.sh in <build>/services), isolated from other tests:
#   * a fresh database "t_<name>" (dropped first if a previous run left it), so
#     RUNTRACK_PG_DSN / PGDATABASE point to it (PGHOST, PGPORT, PGUSER also exported)
#   * a fresh topic "t_<name>_<random>" with 4 partitions in RUNTRACK_TOPIC
#   * RUNTRACK_BROKERS, RUNTRACK_DEVBROKER_CTL, RUNTRACK_DEVBROKER, RUNTRACK_BUILD_DIR,
#     RUNTRACK_SOURCE_DIR, RUNTRACK_SERVICES_DIR exported
# <name> is NAME lower-cased with every character outside [a-z0-9_] turned into '_'.
#
# Finding the services: $RUNTRACK_SERVICES_DIR if set (tests/fixtures.cmake sets it on every
# test that requires the fixture), else <build>/services where <build> is the nearest parent of
# the working directory holding CMakeCache.txt (ctest runs tests inside the build tree).
set -euo pipefail

PROG=with_services.sh
die() { echo "$PROG: $*" >&2; exit 1; }

[ $# -ge 3 ] && [ "$2" = "--" ] || die "usage: $0 NAME -- COMMAND [ARGS...]"
name=$1
shift 2

RUNTRACK_SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export RUNTRACK_SOURCE_DIR

if [ -z "${RUNTRACK_BUILD_DIR:-}" ]; then
    d=$PWD
    while [ "$d" != / ] && [ ! -f "$d/CMakeCache.txt" ]; do d=$(dirname "$d"); done
    [ -f "$d/CMakeCache.txt" ] && RUNTRACK_BUILD_DIR=$d
fi
if [ -z "${RUNTRACK_SERVICES_DIR:-}" ] && [ -n "${RUNTRACK_BUILD_DIR:-}" ]; then
    RUNTRACK_SERVICES_DIR=$RUNTRACK_BUILD_DIR/services
fi
[ -n "${RUNTRACK_SERVICES_DIR:-}" ] ||
    die "cannot find the services dir: set RUNTRACK_SERVICES_DIR or run inside the build tree"
env_file=$RUNTRACK_SERVICES_DIR/services.env
[ -f "$env_file" ] ||
    die "$env_file not found: the 'services' fixture is not running (run via ctest, or deploy/services.sh start $RUNTRACK_SERVICES_DIR)"
# shellcheck disable=SC1090
. "$env_file"
[ -n "${RUNTRACK_BUILD_DIR:-}" ] || RUNTRACK_BUILD_DIR=$(dirname "$RUNTRACK_SERVICES_DIR")
export RUNTRACK_BUILD_DIR RUNTRACK_SERVICES_DIR

safe=$(printf '%s' "$name" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_' '_' | cut -c1-40)
[ -n "$safe" ] || die "empty test NAME"
db="t_$safe"

# Concurrent CREATE DATABASE under ctest -j can briefly collide on template1; retry a little.
admin="postgresql://$PGUSER@$PGHOST:$PGPORT/postgres"
ok=0
for try in 1 2 3 4 5; do
    if psql -XAtq -v ON_ERROR_STOP=1 -d "$admin" \
        -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" \
        -c "CREATE DATABASE \"$db\"" >/dev/null 2>"${TMPDIR:-/tmp}/rt-ws-$$.err"; then
        ok=1
        break
    fi
    sleep "0.$try"
done
if [ $ok -ne 1 ]; then
    cat "${TMPDIR:-/tmp}/rt-ws-$$.err" >&2 || true
    rm -f "${TMPDIR:-/tmp}/rt-ws-$$.err"
    die "could not create database $db"
fi
rm -f "${TMPDIR:-/tmp}/rt-ws-$$.err"

RUNTRACK_PG_DSN="postgresql://$PGUSER@$PGHOST:$PGPORT/$db"
PGDATABASE=$db
export RUNTRACK_PG_DSN PGDATABASE

rand=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
RUNTRACK_TOPIC="t_${safe}_$rand"
export RUNTRACK_TOPIC
"$RUNTRACK_DEVBROKER" ctl "$RUNTRACK_DEVBROKER_CTL" topic "$RUNTRACK_TOPIC" 4 >/dev/null ||
    die "could not create topic $RUNTRACK_TOPIC on the dev broker"

exec "$@"
