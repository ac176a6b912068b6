#!/usr/bin/env python3
"""Compares producer_lib_faults' ledger (what the program asked libruntrack to record, what the
library refused at the call, what its failure callback reported) with the topic read back by
kcat (one JSON event per line). Prints one JSON object:

  produced       lifecycle calls + log calls + progress calls the program made
  delivered      distinct events of those runs in the topic (heartbeats left out)
  undeliverable  reported, never silent: log lines refused at the call (QUEUE_FULL) + log lines
                 the failure callback gave up (will_retry 0) that are not in the topic
  coalesced      progress calls merged into a later progress event (by design, not a loss)
  lost           silent losses: lifecycle events missing, log lines accepted but neither in the
                 topic nor reported, runs whose last progress values never arrived, a finished
                 event whose dropped_logs differs from the lines refused, any event in the topic
                 the program did not make
  duplicated     records beyond one per event_id + log lines sent twice under new event ids
  blocked, max_call_us, peak_mb, errors (program errors + failure reports we could not match)

usage: producer_lib_check.py LEDGER EVENTS
"""
import json
import sys

LIFECYCLE = ["run.started", "run.phase", "run.paused", "run.resumed", "run.finished"]


def main():
    ledger = json.load(open(sys.argv[1]))
    records = []
    bad_json = 0
    for line in open(sys.argv[2], errors="replace"):
        line = line.strip()
        if not line:
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            bad_json += 1
    runs = {r["run_id"]: r for r in ledger["runs"]}
    copies = {}
    events = {}
    for e in records:
        copies[e["event_id"]] = copies.get(e["event_id"], 0) + 1
        events[e["event_id"]] = e
    dup = sum(n - 1 for n in copies.values())
    problems = []
    lost = 0
    phantom = 0
    delivered = 0
    undeliverable = 0
    produced = 0
    coalesced = 0
    gave_up = {}  # run_id -> set of seqs the callback gave up (log lines, progress, heartbeats)
    for run_id, typ, seq, will_retry in ledger["failures"]:
        if not will_retry:
            gave_up.setdefault((run_id, typ), set()).add(seq)
    per_run = {rid: {"types": {}, "log_msgs": set(), "log_seqs": set(), "log_events": 0,
                     "last": None} for rid in runs}
    for e in events.values():
        rid = e["run_id"]
        if rid not in per_run:
            phantom += 1
            continue
        pr = per_run[rid]
        t = e["type"]
        pr["types"][t] = pr["types"].get(t, 0) + 1
        if t == "run.log":
            pr["log_events"] += 1
            pr["log_msgs"].add(e["data"]["message"])
            pr["log_seqs"].add(e["seq"])
        if t in ("run.progress", "run.finished") and "counters" in e["data"]:
            if pr["last"] is None or e["seq"] > pr["last"]["seq"]:
                pr["last"] = e
    for rid, r in runs.items():
        pr = per_run[rid]
        # lifecycle: every call's event, exactly; none may be given up
        for t in LIFECYCLE:
            want, got = r["lifecycle"][t], pr["types"].get(t, 0)
            produced += want
            delivered += min(want, got)
            if got < want:
                lost += want - got
                problems.append(f"{rid}: {t} {got} of {want}")
            elif got > want:
                phantom += got - want
                problems.append(f"{rid}: {t} {got}, only {want} recorded")
        # log lines
        calls = r["logs_ok"] + r["logs_full"] + r["logs_other"]
        produced += calls
        undeliverable += r["logs_full"] + r["logs_other"]
        dup += pr["log_events"] - len(pr["log_msgs"])
        got = len(pr["log_msgs"])
        delivered += got
        gave = gave_up.get((rid, "run.log"), set()) - pr["log_seqs"]
        undeliverable += len(gave)
        missing = r["logs_ok"] - got - len(gave)
        if missing > 0:
            lost += missing
            problems.append(f"{rid}: {missing} log lines neither delivered nor reported")
        elif missing < 0:
            phantom += -missing
            problems.append(f"{rid}: {-missing} more log lines than accepted")
        # progress: coalesced by design; the newest values must arrive
        pcalls = r["progress_calls"]
        produced += pcalls
        pgot = pr["types"].get("run.progress", 0)
        delivered += pgot
        coalesced += max(0, pcalls - pgot)
        last = pr["last"]
        want_c = {k: v for k, v in ledger["final_counters"].items()}
        have_c = last["data"]["counters"] if last else {}
        for k, v in want_c.items():
            if have_c.get(k) != v and v >= 24:  # a thread that never reached progress has none
                lost += 1
                problems.append(f"{rid}: newest counter {k}={have_c.get(k)}, expected {v}")
        # run.finished's dropped_logs = the lines refused at the call
        fin = [e for e in events.values() if e["run_id"] == rid and e["type"] == "run.finished"]
        if fin and fin[0]["data"].get("dropped_logs", 0) != r["logs_full"]:
            lost += 1
            problems.append(f"{rid}: finished dropped_logs {fin[0]['data'].get('dropped_logs')}"
                            f" != {r['logs_full']} refused")
    errors = ledger["errors"] + bad_json + phantom
    # Lifecycle events are re-sent forever: a final give-up would be a bug.
    lc_gave = sum(len(s) for (rid, t), s in gave_up.items() if t in LIFECYCLE)
    if lc_gave:
        lost += lc_gave
        problems.append(f"{lc_gave} lifecycle events given up by the library")
    print(json.dumps({
        "scenario": ledger["scenario"], "faults": ledger["faults"], "produced": produced,
        "delivered": delivered, "undeliverable": undeliverable, "coalesced": coalesced,
        "lost": lost, "duplicated": dup, "blocked": ledger["blocked"],
        "max_call_us": ledger["max_call_us"], "calls": ledger["calls"],
        "peak_mb": round(ledger["vmhwm_kb"] / 1024),
        "errors": errors, "records": len(records), "heartbeats": sum(
            p["types"].get("run.heartbeat", 0) for p in per_run.values()),
        "refused_at_call": sum(r["logs_full"] for r in runs.values()),
        "given_up_by_callback": undeliverable - sum(r["logs_full"] + r["logs_other"]
                                                    for r in runs.values()),
        "lifecycle_retries": ledger["stats"]["retried"], "flush": ledger["flush"],
        "problems": problems[:20]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
