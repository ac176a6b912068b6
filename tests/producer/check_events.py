#!/usr/bin/python3
"""Independent reader-side checks of events a producer test emitted.

usage: check_events.py SCHEMA EVENTS EXPECT [--log-sample N]

EVENTS is kcat output, one record per line: "<partition>\t<key>\t<value>" (kcat -f '%p\t%k\t%s\n').
Every record must: parse as JSON, validate against SCHEMA (run.log events: every Nth one when
--log-sample N is given, to keep big runs fast), have key == run_id, a unique event_id, and per
run a strictly increasing seq in the order read (Kafka keeps a partition's order), all on one
partition.

EXPECT is a JSON file {"runs": {RUN_ID: {...}}} with, per run, any of:
  "lifecycle": ["run.started", "run.phase", ..., "run.finished"]  exact order of lifecycle events
  "logs": N                     exact number of run.log events
  "min_logs": N                 at least N run.log events
  "log_messages": ["hi", ...]   messages that must appear (with "log_levels" alongside, optional)
  "status": "failed"            run.finished status
  "dropped_logs": N             run.finished dropped_logs
  "finished": {...}             members run.finished data must have with these values
  "counters": {...}             run.finished counters must include these values
  "started_params": {...}       run.started params must equal this
  "min_heartbeats": N
  "lifecycle_counts": {"run.phase": 8, ...}   exact number of events of these types
  "allow_resends": true         the run may contain re-sent copies (same event_id, e.g. after a
                                handle recreation purged in-flight messages that had in fact
                                arrived); checks apply to the first copy of each event_id
Runs in EVENTS but not in EXPECT are only checked generically. Prints one line per problem and
exits 1 if there is any.
"""
import json
import sys

import jsonschema

LIFECYCLE = {"run.started", "run.phase", "run.paused", "run.resumed", "run.finished"}


def main():
    args = sys.argv[1:]
    sample = 1
    if "--log-sample" in args:
        i = args.index("--log-sample")
        sample = int(args[i + 1])
        del args[i:i + 2]
    schema_path, events_path, expect_path = args
    with open(schema_path) as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(schema)
    with open(expect_path) as f:
        expect = json.load(f)["runs"]

    problems = []
    runs = {}
    seen_ids = set()
    nlog = 0
    total = 0
    with open(events_path, encoding="utf-8", errors="strict") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            total += 1
            try:
                part, key, value = line.split("\t", 2)
                ev = json.loads(value)
            except Exception as e:  # noqa: BLE001 - any parse problem is a finding
                problems.append(f"line {lineno}: not a record with JSON value: {e}")
                continue
            is_log = ev.get("type") == "run.log"
            if is_log:
                nlog += 1
            if not is_log or sample <= 1 or nlog % sample == 1:
                errs = sorted(validator.iter_errors(ev), key=lambda e: e.path)
                if errs:
                    problems.append(f"line {lineno}: schema: {errs[0].message} in {value[:300]}")
            rid = ev.get("run_id")
            if key != rid:
                problems.append(f"line {lineno}: key {key!r} != run_id {rid!r}")
            eid = ev.get("event_id")
            r = runs.setdefault(rid, {"events": [], "parts": set()})
            r["parts"].add(part)
            if eid in seen_ids:
                if expect.get(rid, {}).get("allow_resends"):
                    r["resends"] = r.get("resends", 0) + 1
                    continue
                problems.append(f"line {lineno}: duplicate event_id {eid}")
            seen_ids.add(eid)
            r["events"].append(ev)

    for rid, r in runs.items():
        if len(r["parts"]) != 1:
            problems.append(f"run {rid}: events on several partitions {sorted(r['parts'])}")
        last = 0
        for ev in r["events"]:
            if not isinstance(ev.get("seq"), int) or ev["seq"] <= last:
                problems.append(f"run {rid}: seq {ev.get('seq')} after {last} ({ev.get('type')})")
                break
            last = ev["seq"]

    for rid, exp in expect.items():
        evs = runs.get(rid, {"events": []})["events"]
        types = [e["type"] for e in evs]
        if "lifecycle" in exp:
            got = [t for t in types if t in LIFECYCLE]
            if got != exp["lifecycle"]:
                problems.append(f"run {rid}: lifecycle {got} != expected {exp['lifecycle']}")
        for t, n in exp.get("lifecycle_counts", {}).items():
            if types.count(t) != n:
                problems.append(f"run {rid}: {types.count(t)} {t} events, expected {n}")
            if t == "run.started" and n == 1 and types and types[0] != t:
                problems.append(f"run {rid}: first event is {types[0]}, not run.started")
            if t == "run.finished" and n == 1 and types and types[-1] != t:
                problems.append(f"run {rid}: last event is {types[-1]}, not run.finished")
        logs = [e for e in evs if e["type"] == "run.log"]
        if "logs" in exp and len(logs) != exp["logs"]:
            problems.append(f"run {rid}: {len(logs)} run.log events, expected {exp['logs']}")
        if "min_logs" in exp and len(logs) < exp["min_logs"]:
            problems.append(f"run {rid}: {len(logs)} run.log events, expected >= {exp['min_logs']}")
        msgs = [(e["data"]["message"], e["data"]["level"]) for e in logs]
        for i, m in enumerate(exp.get("log_messages", [])):
            lv = exp.get("log_levels", [None] * 1000)[i]
            if not any(mm == m and (lv is None or ll == lv) for mm, ll in msgs):
                problems.append(f"run {rid}: log message {m!r} (level {lv}) missing; got {msgs[:10]}")
        if "started_params" in exp:
            st = [e for e in evs if e["type"] == "run.started"]
            got = st[0]["data"].get("params") if st else None
            if got != exp["started_params"]:
                problems.append(f"run {rid}: started params {got!r} != {exp['started_params']!r}")
        hbs = types.count("run.heartbeat")
        if hbs < exp.get("min_heartbeats", 0):
            problems.append(f"run {rid}: {hbs} heartbeats, expected >= {exp['min_heartbeats']}")
        fin = [e for e in evs if e["type"] == "run.finished"]
        fdata = fin[-1]["data"] if fin else None
        if "status" in exp and (not fdata or fdata.get("status") != exp["status"]):
            problems.append(f"run {rid}: finished status {fdata and fdata.get('status')} != {exp['status']}")
        if "dropped_logs" in exp and (not fdata or fdata.get("dropped_logs") != exp["dropped_logs"]):
            problems.append(f"run {rid}: finished dropped_logs {fdata and fdata.get('dropped_logs')} "
                            f"!= {exp['dropped_logs']}")
        for k, v in exp.get("finished", {}).items():
            if not fdata or fdata.get(k) != v:
                problems.append(f"run {rid}: finished {k} = {fdata and fdata.get(k)!r}, expected {v!r}")
        for k, v in exp.get("counters", {}).items():
            if not fdata or fdata.get("counters", {}).get(k) != v:
                problems.append(f"run {rid}: finished counter {k} != {v}")

    for p in problems[:50]:
        print(p)
    resends = sum(r.get("resends", 0) for r in runs.values())
    print(f"check_events: {total} records ({resends} re-sent copies), {len(runs)} runs, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
