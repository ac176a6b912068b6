#!/usr/bin/env python3
"""Event streams for the consumer tests, as kcat input lines "run_id<TAB>json".

  gen_events.py fleet --runs N --events-per-run M [--seed S] [--dup P] [--shuffle] [--kinds ...]
      a fleet of runs (scrape/discovery/pipeline), each a full lifecycle: started, phases,
      progress, logs of every level, pause/resume, heartbeats, finished (a few stay running).
      --dup P re-sends a fraction P of the events (same event_id, as a producer retry would);
      --shuffle permutes each run's events (so out-of-order arrival within a run).
      Prints a summary JSON on stderr: {"events": n, "runs": r, "logs": l, "finished": f, ...}.
  gen_events.py scenario
      the seeds' scenarios with fixed ids and times (see test_consumer_scenario.sh).
"""
import argparse
import json
import random
import sys
import uuid

BASE_US = 1764000000 * 1000000  # 2025-11-24T16:00:00Z


def ts(us):
    s, f = divmod(us, 1000000)
    import datetime
    d = datetime.datetime.fromtimestamp(s, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % f


def ev(run_id, seq, t, typ, job, kind, data, rng=None, event_id=None):
    return {
        "v": 1,
        "event_id": event_id or str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "run_id": run_id,
        "seq": seq,
        "ts": ts(t),
        "type": typ,
        "job": job,
        "kind": kind,
        "producer": {"host": "gen-host", "pid": 4242, "lib": "0.1.0"},
        "data": data,
    }


def fleet_run(rng, idx, m, kinds):
    kind = kinds[idx % len(kinds)]
    job = {"scrape": "fb_v2.py", "discovery": "discover_opportunities.py",
           "pipeline": "zapply_pipeline.py"}.get(kind, kind + ".py")
    job = "%s#%d" % (job, idx % 7)
    run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    t = BASE_US + idx * 1000003 + rng.randrange(1000000)
    seq = 0
    out = []

    def add(typ, data):
        nonlocal seq, t
        seq += 1
        t += rng.randrange(1, 5000000)
        out.append(ev(run_id, seq, t, typ, job, kind, data, rng))

    start = {"start_counts": {"events": rng.randrange(10000), "urls": rng.randrange(5000)},
             "planned": {"batches_total": 2, "sites_total": 15}}
    if kind == "discovery":
        start["params"] = {"naics_codes": ["541511", "541512"], "posted_from": "2025-10-01",
                           "posted_to": "2025-10-24"}
    add("run.started", start)
    body = max(0, m - 2)
    phases = ["scraping", "matching", "applying", "reporting"]
    levels = ["info", "success", "warning", "error"]
    for i in range(body):
        r = rng.random()
        if r < 0.55:
            add("run.log", {"level": levels[i % 4], "message": "line %d of run %d\tüñí\n\\x" % (i, idx),
                            "phase": phases[i % 4], "fields": {"i": i, "site": "s%d" % (i % 15)}})
        elif r < 0.75:
            add("run.progress", {"counters": {"sites_total": 15, "sites_completed": i % 16,
                                              "api_calls": i, "found": i * 2},
                                 "memory_percent": round(rng.random() * 100, 1),
                                 "cpu_percent": round(rng.random() * 100, 1)})
        elif r < 0.85:
            add("run.phase", {"phase": phases[(i // 3) % 4]})
        elif r < 0.90:
            add("run.paused", {"reason": "operator request"})
        elif r < 0.95:
            add("run.resumed", {})
        else:
            add("run.heartbeat", {"dropped_logs": i // 10})
    if idx % 10 != 9:  # every tenth run is still running
        status = ["completed", "failed", "partial"][idx % 3]
        fin = {"status": status,
               "end_counts": {"events": rng.randrange(10000, 20000),
                              "urls": rng.randrange(5000, 9000)},
               "counters": {"found": 120, "new": 30, "updated": 10, "unchanged": 80,
                            "api_calls": 42, "evaluations_created": 3},
               "dropped_logs": body // 10}
        if status != "completed":
            fin["error_message"] = "HTTP 503 from api.sam.gov"
            fin["error_details"] = {"page": idx}
        add("run.finished", fin)
    return out


def cmd_fleet(a):
    rng = random.Random(a.seed)
    # Duplication and shuffling draw from their own generator so that the runs themselves are
    # the same as without them (the tests compare the tables).
    mix = random.Random(a.seed + 1000003)
    kinds = a.kinds.split(",")
    w = sys.stdout.write
    n = logs = fin = 0
    per_run = max(2, a.events // a.runs) if a.events else a.events_per_run
    for idx in range(a.runs):
        evs = fleet_run(rng, idx, per_run, kinds)
        logs += sum(1 for e in evs if e["type"] == "run.log")
        fin += any(e["type"] == "run.finished" for e in evs)
        lines = [e["run_id"] + "\t" + json.dumps(e, separators=(",", ":"), ensure_ascii=False)
                 for e in evs]
        if a.dup:
            lines += [l for l in lines if mix.random() < a.dup]
        if a.shuffle:
            mix.shuffle(lines)
        elif a.dup:
            lines.sort(key=lambda l: json.loads(l.split("\t", 1)[1])["seq"])
        for l in lines:
            w(l + "\n")
        n += len(lines)
    json.dump({"events": n, "runs": a.runs, "logs": logs, "finished": fin}, sys.stderr)
    sys.stderr.write("\n")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fleet")
    f.add_argument("--runs", type=int, default=100)
    f.add_argument("--events-per-run", type=int, default=50)
    f.add_argument("--events", type=int, default=0, help="total (overrides --events-per-run)")
    f.add_argument("--seed", type=int, default=1)
    f.add_argument("--dup", type=float, default=0.0)
    f.add_argument("--shuffle", action="store_true")
    f.add_argument("--kinds", default="scrape,discovery,pipeline")
    a = p.parse_args()
    if a.cmd == "fleet":
        cmd_fleet(a)


if __name__ == "__main__":
    main()
