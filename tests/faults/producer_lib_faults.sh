#!/usr/bin/env bash
# producer_lib_faults.sh PROGRAM SCENARIO [key=value...]: runs tests/faults/producer_lib_faults.c
# (libruntrack under a fault: rtt | down | errors) against a private 3-broker dev broker, reads
# the topic back with kcat (an independent client), compares it with the program's ledger
# (producer_lib_check.py) and writes the fault-table row: produced, delivered, reported
# undeliverable, silent losses, duplicates, blocked calls, peak memory.
set -uo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/faults/lib.sh"
[ $# -ge 2 ] || rt_die "usage: producer_lib_faults.sh PROGRAM rtt|down|errors [key=value...]"
prog=$1 scenario=$2
shift 2
rt_tmpdir T
rt_private_broker "$T/broker" --brokers 3 --partitions 4
export RUNTRACK_TOPIC=plf_${scenario}_$$
rt_ctl topic "$RUNTRACK_TOPIC" 4 >/dev/null || rt_die "topic"
"$prog" "$scenario" "$T/ledger.json" "$@" || rt_die "$prog $scenario exited $?"
# Everything was flushed before the program exited; -e stops at the end of each partition.
kcat -C -b "$RUNTRACK_BROKERS" -t "$RUNTRACK_TOPIC" -o beginning -e -q -f '%s\n' \
    >"$T/events.json" 2>"$T/kcat.err" || rt_die "could not read the topic back: $(head -3 "$T/kcat.err")"
js=$(python3 "$FL_HERE/producer_lib_check.py" "$T/ledger.json" "$T/events.json") ||
    rt_die "producer_lib_check.py failed"
echo "check: $js"
# FL_KEEP_DIR=DIR keeps the ledger and the records read back, for a closer look.
[ -z "${FL_KEEP_DIR:-}" ] || { mkdir -p "$FL_KEEP_DIR" && cp "$T/ledger.json" "$T/events.json" "$FL_KEEP_DIR/"; }
read -r faults produced delivered undeliv lost dup blocked errors peak maxus < <(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print(d["faults"], d["produced"], d["delivered"], d["undeliverable"], d["lost"],
      d["duplicated"], d["blocked"], d["errors"], d["peak_mb"], d["max_call_us"])' "$js")
case $scenario in
    rtt) rtt=500,750,1000
        for a in "$@"; do case $a in rtt_ms=*) rtt=${a#rtt_ms=} ;; esac; done
        what="RTT $rtt ms, small queues (libruntrack, threads)" ;;
    down) what="all brokers down > message timeout (libruntrack, threads)" ;;
    errors) what="Produce errors + leader moves (libruntrack, threads)"
        case " $* " in *" transport=1 "*)
            what="Produce errors incl. _TRANSPORT (max.in.flight ${RUNTRACK_KAFKA_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION:-5}) + leader moves (libruntrack, threads)" ;;
        esac ;;
    *) what=$scenario ;;
esac
fl_row "$what; slowest call $maxus us" "$faults" "$produced" "$delivered" "$undeliv" - \
    "$lost" "$dup" - - "$blocked" "$errors" "$peak"
