#!/usr/bin/env python3
"""Fleet event stream for the benchmarks, as kcat input lines "run_id<TAB>json".

  gen_fleet.py EVENTS [RUNS] [SEED] [MIX]

RUNS runs (default 2,000; kinds scrape/discovery/pipeline in turn), each: run.started, three
run.phase, progress and log lines interleaved at 4 progress : 1 log (the issue's fleet mix),
run.finished. MIX "logs" makes every body event a run.log line (the log-ingest stream that is
compared with PostgreSQL's COPY of the same rows). Runs are interleaved in time (round-robin) as a live fleet would send them.
Strings are formatted by hand (json.dumps per event made 1M events take a minute).
Prints {"events": n, "runs": r, "logs": l, "progress": p} on stderr.
"""
import random
import sys

BASE_S = 1764000000  # 2025-11-24T16:00:00Z
JOBS = {"scrape": "fb_v2.py", "discovery": "discover_opportunities.py",
        "pipeline": "zapply_pipeline.py"}
KINDS = ["scrape", "discovery", "pipeline"]
PHASES = ["scraping", "matching", "applying", "reporting"]
LEVELS = ["info", "success", "warning", "error"]


def ts(us):
    import time
    s, f = divmod(us, 1000000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%06dZ" % f


def main():
    events = int(sys.argv[1])
    nruns = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    logs_only = len(sys.argv) > 4 and sys.argv[4] == "logs"
    per = max(7, events // nruns)
    body = per - 6  # started + 4 phases + finished
    runs = []
    for idx in range(nruns):
        kind = KINDS[idx % 3]
        rid = "%08x-%04x-4%03x-8%03x-%012x" % (rng.getrandbits(32), rng.getrandbits(16),
                                               rng.getrandbits(12), rng.getrandbits(12),
                                               rng.getrandbits(48))
        head = '{"v":1,"run_id":"%s","job":"%s#%d","kind":"%s","producer":{"host":"bench",' \
               '"pid":%d,"lib":"0.1.0"}' % (rid, JOBS[kind], idx % 7, kind, 1000 + idx)
        runs.append([rid, head, kind, idx])
    out = sys.stdout
    n = logs = prog = 0
    eid = rng.getrandbits(64)
    t0 = BASE_S * 1000000
    steps = per
    for step in range(steps):
        lines = []
        for rid, head, kind, idx in runs:
            seq = step + 1
            t = t0 + idx * 1000 + step * 10000000
            if step == 0:
                data = '{"start_counts":{"events":%d,"urls":%d},"planned":{"sites_total":15}' % (
                    1000 + idx, 500 + idx)
                if kind == "discovery":
                    data += ',"params":{"naics_codes":["541511"],"posted_from":"2025-10-01",' \
                            '"posted_to":"2025-10-24"}'
                typ, data = "run.started", data + "}"
            elif step == steps - 1:
                st = ("completed", "failed", "partial")[idx % 3]
                data = '{"status":"%s","end_counts":{"events":%d,"urls":%d},"counters":' \
                       '{"found":120,"new":30,"updated":10,"unchanged":80,"api_calls":42,' \
                       '"evaluations_created":3}' % (st, 1100 + idx, 520 + idx)
                if st != "completed":
                    data += ',"error_message":"HTTP 503 from api.sam.gov"'
                typ, data = "run.finished", data + "}"
            elif step * 4 // steps != (step - 1) * 4 // steps:
                typ, data = "run.phase", '{"phase":"%s"}' % PHASES[step * 4 // steps]
            elif logs_only or step % 5 == 1:
                logs += 1
                typ = "run.log"
                data = '{"level":"%s","message":"site s%d: %d listings scraped","phase":"%s",' \
                       '"fields":{"site":"s%d","n":%d}}' % (LEVELS[step % 4], step % 15, step,
                                                           PHASES[step * 4 // steps], step % 15,
                                                           step)
            else:
                prog += 1
                typ = "run.progress"
                data = '{"counters":{"sites_total":15,"sites_completed":%d,"api_calls":%d,' \
                       '"found":%d},"memory_percent":%.1f,"cpu_percent":%.1f}' % (
                           step % 16, step, step * 2, (step % 100) * 0.7, (step % 50) * 1.3)
            eid += 1
            e = "%016x" % (eid & 0xFFFFFFFFFFFFFFFF)
            lines.append('%s\t%s,"event_id":"%s-%s-7%s-8%s-%s","seq":%d,"ts":"%s","type":"%s",'
                         '"data":%s}\n' % (rid, head, e[:8], e[8:12], e[12:15], e[13:16],
                                           rid[-12:], seq, ts(t), typ, data))
            n += 1
        out.write("".join(lines))
    sys.stderr.write('{"events": %d, "runs": %d, "logs": %d, "progress": %d}\n'
                     % (n, nruns, logs, prog))


main()
