#!/usr/bin/env bash
# Bad CLI input exits non-zero with a one-line message, before touching any broker.
# usage: test_cli_usage.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
export RUNTRACK_BUILD_DIR=$1 RUNTRACK_SOURCE_DIR=$2
. "$RUNTRACK_SOURCE_DIR/tests/producer/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset RUNTRACK_RUN_ID RUNTRACK_JOB RUNTRACK_KIND
# A broker nobody listens on: nothing here may get as far as needing one.
export RUNTRACK_BROKERS=127.0.0.1:1
ID=01a21278-3a10-7f27-92ad-9472173ff316

expect_exit 64 "no command" "$RT"
expect_exit 64 "unknown subcommand" "$RT" frobnicate
expect_exit 64 "unknown option" "$RT" log --run "$ID" --job j --bogus x
expect_exit 64 "option of another command" "$RT" phase --run "$ID" --job j --status completed x
expect_exit 64 "missing run id" "$RT" log --job j hello
expect_exit 64 "missing job" "$RT" log --run "$ID" hello
expect_exit 64 "start without job" "$RT" start
expect_exit 64 "phase without name" "$RT" phase --run "$ID" --job j
expect_exit 64 "finish without status" "$RT" finish --run "$ID" --job j
expect_exit 64 "run without command" "$RT" run --job j
expect_exit 65 "non-numeric counter" "$RT" progress --run "$ID" --job j sites_completed=abc
expect_exit 65 "counter with trailing junk" "$RT" progress --run "$ID" --job j sites_completed=5x
expect_exit 65 "negative counter" "$RT" progress --run "$ID" --job j found=-1
expect_exit 65 "counter overflow" "$RT" progress --run "$ID" --job j found=9223372036854775808
expect_exit 65 "counter without =" "$RT" progress --run "$ID" --job j found
expect_exit 65 "bad counter name" "$RT" progress --run "$ID" --job j Sites=1
expect_exit 65 "bad status" "$RT" finish --run "$ID" --job j --status done
expect_exit 65 "bad level" "$RT" log --run "$ID" --job j --level fatal hi
expect_exit 65 "bad memory percent" "$RT" progress --run "$ID" --job j --memory 140
expect_exit 65 "bad params json" "$RT" start --job j --params-json '{"a":'
expect_exit 65 "positional param without =" "$RT" start --job j nonsense
expect_exit 65 "params json not an object" "$RT" start --job j --params-json '[1]'
expect_exit 65 "bad error details" "$RT" finish --run "$ID" --job j --status failed --error-details-json 'x'
expect_exit 65 "bad fields json" "$RT" log --run "$ID" --job j --fields-json '[]' hi
expect_exit 65 "run id not a uuid" "$RT" log --run not-a-uuid --job j hi
# start --run ID: the caller's id must be a UUID (any version), not the nil one
expect_exit 65 "start with a run id not a uuid" "$RT" start --run not-a-uuid --job j
expect_exit 65 "start with the nil run id" "$RT" start --run 00000000-0000-0000-0000-000000000000 --job j
expect_exit 78 "bad config key" "$RT" log --run "$ID" --job j --set nosuch=1 hi
expect_exit 78 "bad kafka property" "$RT" log --run "$ID" --job j --set kafka.nosuch.prop=1 hi
expect_exit 78 "bad env number" env RUNTRACK_LOG_QUEUE_MAX=lots "$RT" log --run "$ID" --job j hi
expect_exit 64 "bad timeout" "$RT" log --run "$ID" --job j --timeout soon hi
expect_exit 0 "global help" "$RT" --help
expect_exit 0 "subcommand help" "$RT" finish --help
grep -q -- '--status' "$tmp/out" || fail "finish --help does not mention --status"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all CLI usage checks passed"
