# tests/lib/common.sh — helpers for shell integration tests. Source it:
#   . "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
#
#   rt_die MSG...               print "FAIL: MSG" to stderr and exit 1
#   rt_wait_for CMD TIMEOUT     eval CMD every 0.1 s until it succeeds; fail (return 1) after
#                               TIMEOUT seconds (not a timing assertion: a bound against hangs)
#   rt_psql_value SQL           psql -XAtq against $RUNTRACK_PG_DSN, stops on error
#   rt_psql SQL                 same, output as is, for statements
#   rt_on_exit CMD              run CMD (eval) when the script exits, latest first
#   rt_tmpdir VAR               make a temp dir, store its path in VAR, remove it on exit
#                               (not `$(rt_tmpdir)`: the subshell's exit would remove it)
#   rt_private_broker DIR [ARGS...]
#                               start a private dev broker in DIR (for fault injection), export
#                               its RUNTRACK_BROKERS / RUNTRACK_DEVBROKER_CTL, stop it on exit
#   rt_ctl COMMAND...           send a control command to $RUNTRACK_DEVBROKER_CTL
#   rt_devbroker_bin            print the path of runtrack-devbroker
#   rt_migrate                  apply schemas/sql to $RUNTRACK_PG_DSN (runtrack-consumer migrate
#                               when it is built, else the .sql files in order with psql)
#
# Cleanup runs on EXIT, and INT/TERM are turned into an exit so it also runs on ^C and on
# ctest's timeout kill.

_rt_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${RUNTRACK_SOURCE_DIR:=$(cd "$_rt_lib_dir/../.." && pwd)}"
export RUNTRACK_SOURCE_DIR
# shellcheck source=deploy/lib.sh
. "$_rt_lib_dir/../../deploy/lib.sh"

rt_die() {
    echo "FAIL: $*" >&2
    exit 1
}

rt_wait_for() {
    local cmd=$1 timeout=${2:-30} deadline
    deadline=$((SECONDS + timeout))
    while ! eval "$cmd" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

rt_psql_value() {
    [ -n "${RUNTRACK_PG_DSN:-}" ] || rt_die "rt_psql_value: RUNTRACK_PG_DSN is not set"
    psql -XAtq -v ON_ERROR_STOP=1 -d "$RUNTRACK_PG_DSN" -c "$1"
}

rt_psql() {
    [ -n "${RUNTRACK_PG_DSN:-}" ] || rt_die "rt_psql: RUNTRACK_PG_DSN is not set"
    psql -Xq -v ON_ERROR_STOP=1 -d "$RUNTRACK_PG_DSN" -c "$1"
}

_rt_cleanups=()

_rt_run_cleanups() {
    local rc=$? i
    trap - EXIT INT TERM
    for ((i = ${#_rt_cleanups[@]} - 1; i >= 0; i--)); do
        eval "${_rt_cleanups[$i]}" || true
    done
    _rt_cleanups=()
    exit "$rc"
}

rt_on_exit() {
    _rt_cleanups+=("$1")
    trap _rt_run_cleanups EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

rt_tmpdir() {
    local _d
    [ $# -eq 1 ] || rt_die "usage: rt_tmpdir VAR"
    _d=$(mktemp -d "${TMPDIR:-/tmp}/rt-test.XXXXXXXX") || rt_die "mktemp failed"
    # Traversable, so a server run as the postgres OS user (deploy/pg.sh as root) can live inside.
    chmod 755 "$_d"
    rt_on_exit "rm -rf -- '$_d'"
    printf -v "$1" '%s' "$_d"
}

rt_devbroker_bin() {
    rt_find_devbroker "$RUNTRACK_SOURCE_DIR" ||
        rt_die "runtrack-devbroker not found (set RUNTRACK_BUILD_DIR or RUNTRACK_DEVBROKER)"
}

rt_ctl() {
    [ -n "${RUNTRACK_DEVBROKER_CTL:-}" ] || rt_die "rt_ctl: RUNTRACK_DEVBROKER_CTL is not set"
    "$(rt_devbroker_bin)" ctl "$RUNTRACK_DEVBROKER_CTL" "$@"
}

# Registers the stop before starting, so a broker that half-started is still cleaned up.
# Note: call it directly (not in $(...)), or the exports and the trap are lost in a subshell.
rt_private_broker() {
    local dir=$1
    shift
    RUNTRACK_DEVBROKER=$(rt_devbroker_bin)
    export RUNTRACK_DEVBROKER
    rt_on_exit "'$RUNTRACK_SOURCE_DIR/deploy/devbroker.sh' stop '$dir' >/dev/null"
    "$RUNTRACK_SOURCE_DIR/deploy/devbroker.sh" start "$dir" "$@" >/dev/null ||
        rt_die "could not start a private dev broker in $dir"
    # shellcheck disable=SC1091
    . "$dir/broker.env"
}

rt_migrate() {
    local consumer=${RUNTRACK_BUILD_DIR:-$RUNTRACK_SOURCE_DIR/build}/consumer/runtrack-consumer f
    [ -n "${RUNTRACK_PG_DSN:-}" ] || rt_die "rt_migrate: RUNTRACK_PG_DSN is not set"
    if [ -x "$consumer" ]; then
        "$consumer" migrate >/dev/null || rt_die "runtrack-consumer migrate failed"
        return 0
    fi
    for f in "$RUNTRACK_SOURCE_DIR"/schemas/sql/*.sql; do
        psql -Xq -v ON_ERROR_STOP=1 -d "$RUNTRACK_PG_DSN" -f "$f" >/dev/null || rt_die "migration $f failed"
    done
}
