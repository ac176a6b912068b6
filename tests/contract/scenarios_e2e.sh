#!/usr/bin/env bash
# The contract's examples through the real consumer: every scenario's events and every invalid
# example go onto a fresh topic; runtrack-consumer migrates and replays it; PostgreSQL must then
# hold exactly the scenarios' "expect" rows and one dead letter (right reason, raw bytes) per
# invalid example. A second replay must leave every table identical (idempotence).
#   scenarios_e2e.sh RUNTRACK_CONSUMER TOPIC_PRODUCE SOURCE_DIR   (under with_services.sh)
set -euo pipefail
consumer=$1 produce=$2 src=$3
: "${RUNTRACK_BROKERS:?run under with_services.sh}" "${RUNTRACK_TOPIC:?}" "${RUNTRACK_PG_DSN:?}"
py=/usr/bin/python3
tool=$src/tests/contract/scenarios_db.py

"$py" "$tool" emit "$src" | "$produce" "$RUNTRACK_BROKERS" "$RUNTRACK_TOPIC"
"$consumer" migrate
"$consumer" replay --to-end
"$py" "$tool" check "$src"
first=$("$py" "$tool" digest)
"$consumer" replay --to-end
second=$("$py" "$tool" digest)
if [ "$first" != "$second" ]; then
    echo "FAIL a second replay changed the tables:"
    diff <(echo "$first") <(echo "$second") || true
    exit 1
fi
echo "second replay left every table identical"
