#!/usr/bin/env bash
# run_and_check.sh [--private-broker] [--log-sample N] PROGRAM [ARGS...]
# Runs PROGRAM ARGS... EXPECT_FILE (it writes what it expects to EXPECT_FILE and exits 0 when its
# own checks passed), then reads the topic back with kcat and checks the events with
# check_events.py. --private-broker starts a dev broker of its own first (for fault injection:
# RUNTRACK_BROKERS and RUNTRACK_DEVBROKER_CTL point to it) and stops it on every exit path.
# Needs RUNTRACK_BUILD_DIR, RUNTRACK_SOURCE_DIR, RUNTRACK_TOPIC (and RUNTRACK_BROKERS unless private).
set -uo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/producer/lib.sh"
private=0
sample=()
while [ $# -gt 0 ]; do
    case "$1" in
        --private-broker) private=1; shift ;;
        --log-sample) sample=(--log-sample "$2"); shift 2 ;;
        *) break ;;
    esac
done
tmp=$(mktemp -d)
cleanup() {
    [ "$private" = 1 ] && "$RUNTRACK_SOURCE_DIR/deploy/devbroker.sh" stop "$tmp/broker" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
if [ "$private" = 1 ]; then
    "$RUNTRACK_SOURCE_DIR/deploy/devbroker.sh" start "$tmp/broker" --brokers 1 >/dev/null || exit 1
    # shellcheck disable=SC1091
    . "$tmp/broker/broker.env"
fi
"$@" "$tmp/expect.json" || { echo "FAIL: $1 exited $?"; exit 1; }
read_topic "$tmp/events"
/usr/bin/python3 "$CHECK" "${sample[@]}" "$SCHEMA" "$tmp/events" "$tmp/expect.json" || exit 1
echo "events checked"
