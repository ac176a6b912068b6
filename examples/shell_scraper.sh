#!/usr/bin/env bash
# Example: a shell scraper reporting its run through the runtrack CLI.
# Needs RUNTRACK_BROKERS (and optionally RUNTRACK_TOPIC); RUNTRACK_CLI overrides the binary.
# Every runtrack call waits (up to --timeout, default 10 s) until its event is delivered; when
# the broker is unreachable it keeps the event in its spool (a warning on stderr, exit 0) and a
# later call sends it. A call that still fails (bad value, --no-spool, a spool error) does not
# stop the scrape either (tracking must never), but the script says so.
set -uo pipefail
RT=${RUNTRACK_CLI:-runtrack}
track() { "$RT" "$@" || echo "shell_scraper: runtrack $1 failed (exit $?), continuing" >&2; }

count_events() { echo $((1000 + ${1:-0})); } # stand-ins for "SELECT COUNT(*) FROM events"
count_urls() { echo $((500 + ${1:-0})); }

# start prints export lines for RUNTRACK_RUN_ID / RUNTRACK_JOB / RUNTRACK_KIND.
eval "$("$RT" start --export --job shell_scraper.sh --count events="$(count_events)" \
    --count urls="$(count_urls)" --planned sites_total=3 --param source=example)" || {
    echo "shell_scraper: could not start the run; scraping untracked" >&2
}
echo "run $RUNTRACK_RUN_ID"

track phase scraping
n=0
for site in alpha beta gamma; do
    n=$((n + 1))
    track log "scraping $site"
    sleep 0.05
    track progress sites_completed=$n sites_total=3
done
track log --level success "all sites scraped"
track finish --status completed --count events="$(count_events 9)" --count urls="$(count_urls 3)" \
    found=9 new=9
