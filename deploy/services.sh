#!/usr/bin/env bash
# deploy/services.sh — PostgreSQL + dev broker together, for the test suite and the demo.
#
#   deploy/services.sh start DIR [runtrack-devbroker args...]
#       deploy/pg.sh start DIR/pg, deploy/devbroker.sh start DIR/broker, then write
#       DIR/services.env (pg.env + broker.env). Restarts cleanly if DIR holds a previous run.
#   deploy/services.sh stop DIR
#       stop both and remove DIR. Idempotent.
set -euo pipefail

PROG=services.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "$PROG: $*" >&2; exit 1; }

usage() { echo "usage: $0 start DIR [devbroker args...] | stop DIR"; }

cmd_stop() {
    local dir=$1 rc=0
    [ -e "$dir" ] || return 0
    if [ ! -f "$dir/.runtrack-services" ] && [ -n "$(ls -A "$dir")" ]; then
        die "$dir was not created by '$0 start' (no .runtrack-services marker); refusing to delete it"
    fi
    "$HERE/devbroker.sh" stop "$dir/broker" || rc=1
    "$HERE/pg.sh" stop "$dir/pg" || rc=1
    [ $rc -eq 0 ] || die "could not stop everything in $dir"
    rm -rf -- "$dir"
}

cmd_start() {
    local dir=$1
    shift
    # A previous run that was not stopped (crash, ^C) is cleaned up first, so reruns just work.
    if [ -f "$dir/.runtrack-services" ]; then
        echo "$PROG: stopping leftovers of a previous run in $dir" >&2
        cmd_stop "$dir"
    fi
    mkdir -p "$dir" || die "cannot create $dir"
    [ -z "$(ls -A "$dir")" ] || die "$dir is not empty and was not made by '$0 start'"
    : >"$dir/.runtrack-services"
    if ! "$HERE/pg.sh" start "$dir/pg"; then
        cmd_stop "$dir" || true
        die "PostgreSQL did not start"
    fi
    if ! "$HERE/devbroker.sh" start "$dir/broker" "$@"; then
        cmd_stop "$dir" || true
        die "the dev broker did not start"
    fi
    cat "$dir/pg/pg.env" "$dir/broker/broker.env" >"$dir/services.env.tmp"
    echo "export RUNTRACK_SERVICES_DIR='$(cd "$dir" && pwd -P)'" >>"$dir/services.env.tmp"
    mv -f "$dir/services.env.tmp" "$dir/services.env"
    echo "$PROG: services up, env in $dir/services.env"
}

[ $# -ge 2 ] && [ -n "$2" ] || { usage >&2; exit 2; }
case "$1" in
    start)
        shift
        cmd_start "$@"
        ;;
    stop)
        [ $# -eq 2 ] || { usage >&2; exit 2; }
        cmd_stop "$2"
        ;;
    *)
        usage >&2
        exit 2
        ;;
esac
