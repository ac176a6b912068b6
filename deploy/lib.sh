# deploy/lib.sh — helpers shared by deploy/pg.sh, deploy/devbroker.sh and tests/lib/common.sh.
# Source it; it defines functions only (no options set, nothing run).
#
#   rt_abspath PATH            absolute, symlink-free PATH (its leaf need not exist)
#   rt_pid_alive PID           true while PID runs (a zombie counts as gone)
#   rt_wait_while TENTHS CMD...   run CMD every 0.1 s while it succeeds, at most TENTHS times;
#                              true when CMD stopped succeeding
#   rt_find_devbroker ROOT     print the runtrack-devbroker binary: $RUNTRACK_DEVBROKER, else
#                              $RUNTRACK_BUILD_DIR/deploy/devbroker/, else ROOT/build/deploy/
#                              devbroker/; false (nothing printed) when none is executable
#   rt_service_owned DIR MARKER   true when DIR is empty or holds MARKER (made by our start), so
#                              start may use it and stop may delete it
#   rt_service_main START_ARGS "$@"   a service script's command line (deploy/pg.sh,
#                              deploy/devbroker.sh): `start DIR` -> cmd_start DIR (more arguments
#                              after DIR only when START_ARGS is "more"), `stop DIR` -> cmd_stop
#                              DIR, help -> usage; anything else -> usage on stderr, exit 2

rt_abspath() {
    local d=$1
    case "$d" in /*) ;; *) d="$PWD/$d" ;; esac
    echo "$(cd "$(dirname "$d")" 2>/dev/null && pwd -P)/$(basename "$d")"
}

rt_pid_alive() {
    local st
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$st" != Z ]
}

rt_wait_while() {
    local n=$1 i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" || return 0
        sleep 0.1
    done
    ! "$@"
}

rt_find_devbroker() {
    local c
    for c in "${RUNTRACK_DEVBROKER:-}" \
        "${RUNTRACK_BUILD_DIR:+$RUNTRACK_BUILD_DIR/deploy/devbroker/runtrack-devbroker}" \
        "$1/build/deploy/devbroker/runtrack-devbroker"; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

rt_service_owned() {
    [ -z "$(ls -A "$1")" ] || [ -f "$1/$2" ]
}

rt_service_main() {
    local start_args=$1
    shift
    case "${1:-}" in
        start)
            if [ $# -lt 2 ] || [ -z "$2" ] || { [ $# -gt 2 ] && [ "$start_args" != more ]; }; then
                usage >&2
                exit 2
            fi
            shift
            cmd_start "$@"
            ;;
        stop)
            [ $# -eq 2 ] && [ -n "$2" ] || { usage >&2; exit 2; }
            cmd_stop "$2"
            ;;
        -h | --help | help) usage ;;
        *)
            usage >&2
            exit 2
            ;;
    esac
}
