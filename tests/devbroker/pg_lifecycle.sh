#!/usr/bin/env bash
# deploy/pg.sh start/stop in a temp dir: the server answers with the DSN from pg.env, the
# database "runtrack" exists, and stop leaves no process and no directory behind (twice:
# stop is idempotent).
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"

rt_tmpdir base
dir="$base/pg"
rt_on_exit "'$RUNTRACK_SOURCE_DIR/deploy/pg.sh' stop '$dir' >/dev/null 2>&1"

"$RUNTRACK_SOURCE_DIR/deploy/pg.sh" start "$dir" >/dev/null || rt_die "pg.sh start failed"
[ -f "$dir/pg.env" ] || rt_die "no pg.env"
(
    . "$dir/pg.env"
    for v in RUNTRACK_PG_DSN PGHOST PGPORT PGUSER PGDATABASE; do
        [ -n "${!v:-}" ] || rt_die "pg.env does not set $v"
    done
    [ "$(rt_psql_value 'SELECT current_database()')" = runtrack ] || rt_die "DSN does not reach database runtrack"
    [ "$(psql -XAtq -c 'SELECT 1')" = 1 ] || rt_die "PG* variables do not reach the server"
    [ "$(rt_psql_value 'SHOW fsync')" = off ] || rt_die "test cluster should run with fsync=off"
) || exit 1
pgrep -f -- "$dir/data" >/dev/null || rt_die "no server process for $dir"

# A committed row survives a server crash (immediate stop, no shutdown checkpoint): restart
# tests of the consumer depend on it, and it breaks if synchronous_commit is turned off.
(
    . "$dir/pg.env"
    [ "$(rt_psql_value 'SHOW synchronous_commit')" = on ] || rt_die "synchronous_commit must stay on"
    rt_psql_value 'CREATE TABLE crash_probe (x int); INSERT INTO crash_probe VALUES (42)' >/dev/null
    bin=$(dirname "$(readlink -f "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1)")")
    as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || rt_die "immediate stop failed"
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 -o "-p $PGPORT" start >/dev/null ||
        rt_die "restart after immediate stop failed"
    [ "$(rt_psql_value 'SELECT x FROM crash_probe')" = 42 ] || rt_die "a committed row was lost in a server crash"
) || exit 1

# A second start on a running dir refuses cleanly.
if "$RUNTRACK_SOURCE_DIR/deploy/pg.sh" start "$dir" >/dev/null 2>&1; then rt_die "second start succeeded"; fi

"$RUNTRACK_SOURCE_DIR/deploy/pg.sh" stop "$dir" || rt_die "pg.sh stop failed"
[ ! -e "$dir" ] || rt_die "$dir still exists after stop"
if pgrep -f -- "$dir/data" >/dev/null; then rt_die "server processes left behind: $(pgrep -af -- "$dir/data")"; fi
"$RUNTRACK_SOURCE_DIR/deploy/pg.sh" stop "$dir" || rt_die "second stop is not idempotent"

# Usage errors are clear and non-zero.
if "$RUNTRACK_SOURCE_DIR/deploy/pg.sh" bogus 2>/dev/null; then rt_die "bogus subcommand accepted"; fi
echo "ok: pg.sh start/stop leaves nothing behind"
