#!/usr/bin/env bash
# deploy/devbroker.sh — run runtrack-devbroker (in-memory Kafka-protocol broker for tests/demo;
# production uses Apache Kafka) in the background.
#
#   deploy/devbroker.sh start DIR [runtrack-devbroker args...]
#       start it with --bootstrap-file DIR/bootstrap --control DIR/ctl.sock, wait until it
#       listens, write DIR/broker.env (RUNTRACK_BROKERS, RUNTRACK_DEVBROKER_CTL,
#       RUNTRACK_DEVBROKER_PID). Log in DIR/devbroker.log.
#   deploy/devbroker.sh stop DIR
#       SIGTERM, wait up to 10 s, then SIGKILL; remove DIR. Idempotent.
#
# The binary: $RUNTRACK_DEVBROKER, else $RUNTRACK_BUILD_DIR/deploy/devbroker/runtrack-devbroker,
# else <source>/build/deploy/devbroker/runtrack-devbroker, else runtrack-devbroker on PATH.
set -euo pipefail

PROG=devbroker.sh
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "$PROG: $*" >&2; exit 1; }
# shellcheck source=deploy/lib.sh
. "$ROOT/deploy/lib.sh"

usage() {
    cat <<EOF
usage: $0 start DIR [runtrack-devbroker args...] | stop DIR
EOF
}

# The build's binary (deploy/lib.sh), else runtrack-devbroker on PATH.
find_binary() {
    local c
    c=$(rt_find_devbroker "$ROOT") || c=$(command -v runtrack-devbroker 2>/dev/null) || true
    [ -n "$c" ] || die "runtrack-devbroker not found (build it: make build; or set RUNTRACK_DEVBROKER)"
    echo "$c"
}

# True if PID is alive, not a zombie, and is a runtrack-devbroker.
is_ours() {
    rt_pid_alive "$1" || return 1
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q runtrack-devbroker
}

cmd_start() {
    local dir=$1 bin pid sock i
    shift
    mkdir -p "$dir" || die "cannot create $dir"
    dir=$(rt_abspath "$dir")
    if [ -f "$dir/devbroker.pid" ] && is_ours "$(cat "$dir/devbroker.pid")"; then
        die "a devbroker already runs in $dir (use '$0 stop $dir' first)"
    fi
    rt_service_owned "$dir" .runtrack-devbroker ||
        die "$dir is not empty and was not made by '$0 start'; give a new or empty DIR"
    rm -f "$dir/bootstrap" "$dir/broker.env"
    : >"$dir/.runtrack-devbroker"
    bin=$(find_binary)

    # Unix socket paths are limited to ~107 bytes; long DIRs get a socket under /tmp.
    sock="$dir/ctl.sock"
    if [ ${#sock} -gt 100 ]; then
        sock=$(mktemp -u "${TMPDIR:-/tmp}/rt-devbroker.XXXXXXXX.sock")
        echo "$sock" >"$dir/ctl.sock.path"
    fi

    # stdio goes to a file so callers that wait for pipes to close (ctest) do not hang.
    setsid "$bin" --bootstrap-file "$dir/bootstrap" --control "$sock" "$@" \
        </dev/null >"$dir/devbroker.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/devbroker.pid"

    for i in $(seq 1 150); do
        [ -s "$dir/bootstrap" ] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$dir/devbroker.log" >&2 || true
            die "runtrack-devbroker exited during startup (log above)"
        fi
        sleep 0.1
    done
    if [ ! -s "$dir/bootstrap" ]; then
        kill -KILL "$pid" 2>/dev/null || true
        cat "$dir/devbroker.log" >&2 || true
        die "runtrack-devbroker did not write $dir/bootstrap within 15 s"
    fi

    cat >"$dir/broker.env.tmp" <<EOF
# written by deploy/devbroker.sh start — in-memory development broker, not Kafka
export RUNTRACK_BROKERS='$(cat "$dir/bootstrap")'
export RUNTRACK_DEVBROKER_CTL='$sock'
export RUNTRACK_DEVBROKER_PID='$pid'
export RUNTRACK_DEVBROKER='$bin'
EOF
    mv -f "$dir/broker.env.tmp" "$dir/broker.env"
    echo "$PROG: devbroker $(cat "$dir/bootstrap") (pid $pid), env in $dir/broker.env"
}

cmd_stop() {
    local dir=$1 pid="" sock=""
    [ -e "$dir" ] || return 0
    dir=$(rt_abspath "$dir")
    rt_service_owned "$dir" .runtrack-devbroker ||
        die "$dir was not created by '$0 start' (no .runtrack-devbroker marker); refusing to delete it"
    [ -f "$dir/devbroker.pid" ] && pid=$(cat "$dir/devbroker.pid")
    [ -f "$dir/ctl.sock.path" ] && sock=$(cat "$dir/ctl.sock.path")
    if is_ours "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! rt_wait_while 100 is_ours "$pid"; then
            echo "$PROG: devbroker $pid ignored SIGTERM for 10 s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            rt_wait_while 50 is_ours "$pid" || true
        fi
    fi
    [ -z "$sock" ] || rm -f -- "$sock"
    rm -rf -- "$dir"
    [ ! -e "$dir" ] || die "could not remove $dir"
}

rt_service_main more "$@"
