#!/usr/bin/env bash
# deploy/pg.sh — a throw-away PostgreSQL server for tests and the demo.
#
#   deploy/pg.sh start DIR   initdb in DIR/data, listen on 127.0.0.1:<free port> and on a unix
#                            socket in DIR, create database "runtrack", write DIR/pg.env
#   deploy/pg.sh stop DIR    stop the server (fast, then SIGKILL) and remove DIR; idempotent
#
# DIR/pg.env holds shell `export` lines: RUNTRACK_PG_DSN, PGHOST, PGPORT, PGUSER, PGDATABASE
# (and RUNTRACK_PG_SOCKET_DIR). Source it, then `psql` / libpq clients just work.
#
# Authentication: the cluster is initialised with `trust` for every local and loopback connection
# and the superuser is `postgres`; clients connect as `postgres` whatever their OS user. This is a
# test cluster bound to 127.0.0.1 only — never use these settings for a real server.
#
# Speed over durability: fsync and full_page_writes are off, so a crash of the MACHINE can
# corrupt this cluster (fine: it is deleted on stop). A crash of the SERVER alone loses nothing
# committed: synchronous_commit stays on (cheap without fsync).
#
# RUNTRACK_PG_DURABLE=1 at start keeps PostgreSQL's default durability instead (fsync and
# full_page_writes on; every other setting the same), so each commit waits for its WAL flush as
# on a production server. make bench uses it for the durable-server comparison (bench/run.sh).
#
# When run as root the server runs as the `postgres` OS user (PostgreSQL refuses to run as root):
# DIR is chowned to postgres and initdb/pg_ctl run via `runuser -u postgres --`.
set -euo pipefail

PROG=pg.sh
die() { echo "$PROG: $*" >&2; exit 1; }
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<EOF
usage: $0 start DIR | stop DIR
  start DIR  start a test PostgreSQL (data in DIR/data, socket in DIR, 127.0.0.1:free port),
             create database 'runtrack', write DIR/pg.env
  stop DIR   stop it and remove DIR (no-op when DIR does not exist)
env RUNTRACK_PG_DURABLE=1 (start): keep fsync and full_page_writes on (PostgreSQL's defaults)
EOF
}

# The newest installed server version (Debian: /usr/lib/postgresql/<major>/bin).
find_bindir() {
    local d v hi=-1 best=""
    for d in /usr/lib/postgresql/*/bin; do
        v=$(basename "$(dirname "$d")")
        case "$v" in '' | *[!0-9]*) continue ;; esac
        [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] || continue
        if [ "$v" -gt "$hi" ]; then hi=$v; best=$d; fi
    done
    if [ -z "$best" ]; then
        # Not a Debian layout: fall back to pg_ctl on PATH.
        d=$(command -v pg_ctl 2>/dev/null) || true
        [ -n "$d" ] && best=$(dirname "$(readlink -f "$d")")
    fi
    [ -n "$best" ] || die "no PostgreSQL server binaries found (install 'postgresql'; see deploy/install-deps.sh)"
    echo "$best"
}

# Run a server-side command as the OS user that owns the cluster.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# A TCP port on 127.0.0.1 that nobody listens on right now. Racy by nature (another process can
# take it before the postmaster binds), so start() retries with a new port on failure.
free_port() {
    local p i
    p=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null) || p=""
    if [ -n "$p" ]; then
        echo "$p"
        return
    fi
    # No usable python3: probe random ports with bash's /dev/tcp.
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    die "could not find a free TCP port"
}

cmd_start() {
    local dir=$1 bindir port tries socket_dir="" durable=${RUNTRACK_PG_DURABLE:-0} mode
    case "$durable" in 0 | 1) ;; *) die "RUNTRACK_PG_DURABLE must be 0 or 1, not '$durable'" ;; esac
    mkdir -p "$dir" || die "cannot create $dir"
    dir=$(rt_abspath "$dir")
    [ ! -e "$dir/data/postmaster.pid" ] || die "a server already runs in $dir (use '$0 stop $dir' first)"
    rt_service_owned "$dir" .runtrack-pg ||
        die "$dir is not empty and was not made by '$0 start'; give a new or empty DIR"
    if [ -e "$dir/data" ]; then
        rm -rf "$dir/data"
    fi
    bindir=$(find_bindir)
    : >"$dir/.runtrack-pg"

    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' OS user (install the postgresql package)"
        chown -R postgres: "$dir"
        runuser -u postgres -- test -w "$dir" ||
            die "the postgres OS user cannot write $dir (a parent directory is not traversable?)"
    fi
    chmod 755 "$dir"

    # The unix socket path is limited to ~107 bytes; skip the socket for very long DIRs.
    if [ ${#dir} -le 90 ]; then
        socket_dir=$dir
    else
        echo "$PROG: warning: $dir is too long for a unix socket path; TCP only" >&2
    fi

    as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }

    mode="speed over durability"
    [ "$durable" = 0 ] || mode="PostgreSQL's default durability (RUNTRACK_PG_DURABLE=1)"
    {
        cat <<EOF

# --- runtrack test cluster (deploy/pg.sh): $mode, loopback only ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$socket_dir'
EOF
        # The default writes these two lines; RUNTRACK_PG_DURABLE=1 leaves PostgreSQL's defaults.
        [ "$durable" = 1 ] || printf '%s\n' 'fsync = off' 'full_page_writes = off'
        cat <<EOF
# synchronous_commit stays on: with fsync off a commit costs only a write() to the kernel, and
# a committed transaction then survives a server crash (pg_ctl stop -m immediate), which the
# consumer's restart tests rely on. Off, the last ~0.6 s of commits vanish on such a crash.
synchronous_commit = on
max_connections = 200
shared_buffers = 64MB
log_min_messages = warning
log_min_error_statement = error
EOF
    } >>"$dir/data/postgresql.conf"

    for tries in 1 2 3 4 5; do
        port=$(free_port)
        if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
            -o "-p $port" start >"$dir/pg_ctl.log" 2>&1; then
            break
        fi
        if grep -q "could not bind\|already in use" "$dir/postgres.log" 2>/dev/null && [ "$tries" -lt 5 ]; then
            continue # lost the race for the port; pick another
        fi
        cat "$dir/pg_ctl.log" "$dir/postgres.log" >&2 2>/dev/null || true
        die "pg_ctl start failed (log: $dir/postgres.log)"
    done

    psql -XAtq -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c 'CREATE DATABASE runtrack' >/dev/null ||
        die "server started on port $port but CREATE DATABASE runtrack failed"

    local tmp="$dir/pg.env.tmp"
    cat >"$tmp" <<EOF
# written by deploy/pg.sh start — test cluster, trust auth, user postgres
export RUNTRACK_PG_DSN='postgresql://postgres@127.0.0.1:$port/runtrack'
export PGHOST='127.0.0.1'
export PGPORT='$port'
export PGUSER='postgres'
export PGDATABASE='runtrack'
export RUNTRACK_PG_SOCKET_DIR='$socket_dir'
EOF
    mv -f "$tmp" "$dir/pg.env"
    echo "$PROG: PostgreSQL ($(basename "$(dirname "$bindir")")) on 127.0.0.1:$port, env in $dir/pg.env"
}

# The postmaster's pid from its pid file (first line), or nothing.
postmaster_pid() {
    local f=$1/data/postmaster.pid pid
    [ -r "$f" ] || return 0
    pid=$(head -n1 "$f" 2>/dev/null || true)
    case "$pid" in '' | *[!0-9]*) return 0 ;; esac
    echo "$pid"
}

cmd_stop() {
    local dir=$1 bindir pid
    [ -e "$dir" ] || return 0
    dir=$(rt_abspath "$dir")
    [ -d "$dir" ] || die "$dir is not a directory"
    rt_service_owned "$dir" .runtrack-pg ||
        die "$dir was not created by '$0 start' (no .runtrack-pg marker); refusing to delete it"
    pid=$(postmaster_pid "$dir")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        bindir=$(find_bindir)
        as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
        # pg_ctl returns once the pid file is gone; the postmaster exits a moment later.
        if ! rt_wait_while 50 rt_pid_alive "$pid"; then
            echo "$PROG: fast shutdown did not finish; killing postmaster $pid" >&2
            # pg_ctl starts the postmaster in its own session, so its group holds all backends.
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            rt_wait_while 50 rt_pid_alive "$pid" || true
        fi
    fi
    # Backends exit shortly after the postmaster; wait for any process still using DIR.
    rt_wait_while 50 pgrep -f -- "$dir/data" >/dev/null 2>&1 || true
    rm -rf -- "$dir"
    [ ! -e "$dir" ] || die "could not remove $dir"
}

rt_service_main dir "$@"
