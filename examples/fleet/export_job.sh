#!/usr/bin/env bash
# Fleet member: an existing job that knows nothing about runtrack, wrapped by
#     runtrack run --job nightly_export.sh -- examples/fleet/export_job.sh
# The wrapper starts the run, records every output line as a log (stdout info, stderr warning,
# "ERROR:"/"WARNING:"/"SUCCESS:"/"INFO:" prefixes set the level), heartbeats while the job runs
# and finishes the run from its exit status. Inside, RUNTRACK_RUN_ID is set, so the job may
# report progress itself when runtrack is on PATH (optional).
set -uo pipefail
RT=${RUNTRACK_CLI:-runtrack}
TABLES=(events urls venues organisers)
echo "exporting ${#TABLES[@]} tables"
n=0
for t in "${TABLES[@]}"; do
    sleep "${EXPORT_SECONDS_PER_TABLE:-0.4}"
    n=$((n + 1))
    echo "INFO: exported $t"
    [ "$t" != venues ] || echo "WARNING: venues: 3 rows without coordinates" >&2
    if [ -n "${RUNTRACK_RUN_ID:-}" ] && command -v "$RT" >/dev/null 2>&1; then
        "$RT" progress tables_done=$n tables_total=${#TABLES[@]} >/dev/null 2>&1 || true
    fi
done
echo "SUCCESS: export written"
