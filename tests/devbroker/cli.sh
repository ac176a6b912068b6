#!/usr/bin/env bash
# runtrack-devbroker's command line: --help says plainly what it is, bad options get a one-line
# error and exit 2, `ctl` without a broker fails cleanly.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
bin=$(rt_devbroker_bin)

help=$("$bin" --help)
grep -q "IN-MEMORY DEVELOPMENT BROKER" <<<"$help" || rt_die "--help does not say it is a development broker"
grep -q "Production uses Apache Kafka" <<<"$help" || rt_die "--help does not point to Apache Kafka"
grep -q "retention" <<<"$help" || rt_die "--help does not document the retention cap"
"$bin" --version | grep -q "^runtrack-devbroker .*librdkafka" || rt_die "--version output"

for args in "--brokers 0" "--brokers x" "--partitions 0" "--topic :3" "--topic a:0" "--bogus" "extra"; do
    # shellcheck disable=SC2086
    if err=$("$bin" $args 2>&1 >/dev/null); then rt_die "'$args' accepted"; else rc=$?; fi
    [ "$rc" -eq 2 ] || rt_die "'$args' exit $rc, want 2"
    [ -n "$err" ] || rt_die "'$args' gave no message"
done
if "$bin" ctl /nonexistent/ctl.sock ping 2>/dev/null; then rt_die "ctl to a missing socket succeeded"; fi
echo "ok: devbroker command line"
