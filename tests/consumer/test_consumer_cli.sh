#!/usr/bin/env bash
# runtrack-consumer's command line without services: the sample config is exactly what the
# settings table generates (so it documents every key) and loads; bad arguments and bad config
# give a one-line error and a non-zero exit; secrets never reach the log.
set -euo pipefail
BIN=$1
SRC=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$BIN" config-sample | diff -u "$SRC/deploy/runtrack.conf.sample" - ||
    fail "deploy/runtrack.conf.sample is out of date: regenerate with 'runtrack-consumer config-sample'"
# (to files first: grep -q closing the pipe early would fail the pipeline under pipefail)
"$BIN" --help >"$T/help" || fail "--help exited non-zero"
grep -q RUNTRACK_BATCH_MAX_EVENTS "$T/help" || fail "--help does not list the settings"
"$BIN" --version >"$T/version" || fail "--version exited non-zero"
grep -q "^runtrack-consumer " "$T/version" || fail "--version"

check_err() { # expected-substring args...
    local want=$1 rc=0
    shift
    "$BIN" "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ $rc -ne 0 ] || fail "'$*' succeeded"
    [ "$(wc -l <"$T/err")" -eq 1 ] || fail "'$*' printed more than one line: $(cat "$T/err")"
    grep -q -- "$want" "$T/err" || fail "'$*': expected '$want' in: $(cat "$T/err")"
}
check_err "unknown argument" --bogus
check_err "cannot read file" --config "$T/missing.conf"
printf 'batch_max_events = "many";\n' >"$T/bad.conf"
check_err "batch_max_events" --config "$T/bad.conf"
printf 'topik = "x";\n' >"$T/typo.conf"
check_err "unknown setting" --config "$T/typo.conf"
RUNTRACK_BATCH_MAX_MS=abc check_err "RUNTRACK_BATCH_MAX_MS" migrate
check_err "from-time" replay --from-time yesterday

# Secrets: a DSN password and a Kafka password are masked in the settings log. PostgreSQL is
# unreachable (port 1), so the consumer retries until the SIGTERM.
rc=0
RUNTRACK_PG_DSN="host=127.0.0.1 port=1 user=u password=hunter2" RUNTRACK_KAFKA_SASL_PASSWORD=swordfish \
    timeout -s TERM 3 "$BIN" --config "$SRC/deploy/runtrack.conf.sample" migrate 2>"$T/log" || rc=$?
grep -q "password=\*\*\*\*" "$T/log" || fail "the DSN was not logged masked"
grep -q "sasl.password value=\"\*\*\*\*\"" "$T/log" || fail "the Kafka password was not logged masked"
if grep -q "hunter2\|swordfish" "$T/log"; then fail "a secret was printed"; fi
grep -q "level=warn msg=\"postgresql unreachable, retrying\"" "$T/log" || fail "no retry log line"
echo "cli: ok"
