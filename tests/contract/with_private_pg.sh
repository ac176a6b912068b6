#!/usr/bin/env bash
# Runs COMMAND with RUNTRACK_PG_DSN pointing at a private throw-away PostgreSQL (deploy/pg.sh),
# stopped on every exit path. Used by contract tests when the shared services fixture
# (tests/lib/with_services.sh) is not available.
#   with_private_pg.sh SOURCE_DIR -- COMMAND ARGS...
set -euo pipefail
src=$1; shift
[ "${1:-}" = "--" ] && shift
dir=$(mktemp -d /tmp/rt-contract-pg.XXXXXX)
rmdir "$dir" # pg.sh start wants a new or empty directory it marks itself
trap '"$src/deploy/pg.sh" stop "$dir" >/dev/null 2>&1 || true' EXIT INT TERM
"$src/deploy/pg.sh" start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/pg.env"
"$@"
