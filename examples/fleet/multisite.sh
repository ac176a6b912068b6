#!/usr/bin/env bash
# Fleet member (seeds 003/004): a batched multi-site scrape reported with the runtrack CLI.
# usage: multisite.sh [SITES] [SECONDS_PER_SITE]
# Phases setup -> scraping -> saving, sites in batches of 4 with the counters the seed-004
# progress view shows (batch_current/batches_total, sites completed/failed/in progress/pending),
# a pause and a resume between batches (seed 003's pause button), and log lines of every level
# (info, success, warning, error). Needs RUNTRACK_BROKERS; RUNTRACK_CLI overrides the binary.
set -uo pipefail
RT=${RUNTRACK_CLI:-runtrack}
SITES=${1:-12}
PER_SITE=${2:-0.3}
BATCH=4
BATCHES=$(((SITES + BATCH - 1) / BATCH))
track() { "$RT" "$@" || echo "multisite: runtrack $1 failed (exit $?), continuing" >&2; }

eval "$("$RT" start --export --job multisite_events.sh --count events=5000 --count urls=2000 \
    --planned sites_total="$SITES" --planned batches_total="$BATCHES" batch_size=$BATCH)" || {
    echo "multisite: could not start the run" >&2
    exit 1
}
track phase setup
track log "loading $SITES sites from the sites table"
sleep "$PER_SITE"
track phase scraping
done_n=0 failed=0 events=5000
for ((b = 1; b <= BATCHES; b++)); do
    in_batch=$((SITES - (b - 1) * BATCH < BATCH ? SITES - (b - 1) * BATCH : BATCH))
    track log "batch $b of $BATCHES started ($in_batch sites)"
    for ((s = 0; s < in_batch; s++)); do
        site=$(((b - 1) * BATCH + s + 1))
        sleep "$PER_SITE"
        if [ $((site % 5)) -eq 0 ]; then
            failed=$((failed + 1))
            track log --level error --fields-json "{\"site\":$site,\"http_status\":503}" \
                "site $site: HTTP 503 three times, giving up"
        else
            done_n=$((done_n + 1))
            events=$((events + 7))
            [ $((site % 3)) -ne 0 ] ||
                track log --level warning "site $site: 2 events without a date, skipped"
        fi
        track progress --memory $((30 + site)) --cpu $((20 + 5 * s)) batch_current=$b \
            batches_total="$BATCHES" sites_total="$SITES" sites_completed=$done_n \
            sites_failed=$failed sites_in_progress=$((in_batch - s - 1)) \
            sites_pending=$((SITES - done_n - failed)) events=$events
    done
    track log --level success "batch $b of $BATCHES done"
    if [ "$b" -eq 1 ] && [ "$BATCHES" -gt 1 ]; then
        track pause --reason "operator paused after batch 1"
        sleep "$PER_SITE"
        track resume --reason "operator resumed"
    fi
done
track phase saving
track log --level success "$done_n sites scraped, $failed failed"
fin=(--status completed)
[ "$failed" -eq 0 ] || fin=(--status partial --error "$failed of $SITES sites failed")
track finish "${fin[@]}" --count events=$events --count urls=$((2000 + done_n))
