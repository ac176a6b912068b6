#!/usr/bin/python3
"""Checks schemas/events.schema.json and schemas/examples/ with an independent validator.

Run with Debian's python3 (python3-jsonschema, Draft 2020-12):
    /usr/bin/python3 tests/contract/check_examples.py SOURCE_DIR

1. The schema is itself a valid 2020-12 schema (check_schema).
2. Its vocabulary (types, levels, statuses) is the one in common/rt_event.h.
3. Every schemas/examples/*.json is valid: a single event, or a scenario
   {"description", "events": [...], "expect": {...}} whose events form one well-ordered run
   and whose "expect" rows equal what the rules of docs/events.md / docs/decisions.md derive
   from the events (a reference implementation of the consumer's mapping, so the expected rows
   the consumer's tests use are checked too).
4. Every schemas/examples/invalid/*.json is listed in REASONS.tsv and fails validation, and
   every error it produces is at the listed instance path with the listed keyword (it fails for
   its stated reason and no other). The fifth column, the dead_letters.reason the consumer must
   record, is checked here only for its vocabulary (the consumer's own tests use it).
Exit status 0 when all hold; otherwise one line per problem and status 1.
"""
import datetime
import decimal
import json
import os
import re
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator
except ImportError:  # pragma: no cover - environment problem, say so clearly
    sys.stderr.write("check_examples: python3-jsonschema is missing (apt-get install python3-jsonschema)\n")
    sys.exit(2)

problems = []

# The consumer's dead_letters.reason codes for records that parse (docs/events.md).
DEAD_REASONS = ("invalid_json", "schema", "unknown_type", "unsupported_version", "oversize", "rule",
                "key_mismatch", "nil_run_id", "run_removed")


def problem(msg):
    problems.append(msg)


def pointer(path):
    """jsonschema's deque path -> JSON Pointer in URI-fragment form ("#", "#/data/level")."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "#" + "".join("/" + p for p in parts)


def leaf_errors(validator, instance):
    """All errors, descending into anyOf/oneOf contexts so each error names its real cause."""
    out = []
    stack = list(validator.iter_errors(instance))
    while stack:
        e = stack.pop()
        if e.context:
            stack.extend(e.context)
        else:
            out.append(e)
    return out


# ---------------------------------------------------------------- vocabulary vs rt_event.h

def header_names(src, macro):
    text = open(os.path.join(src, "common", "rt_event.h"), encoding="utf-8").read()
    m = re.search(r"#define " + macro + r"\(X\)(.*?)\n\n", text, re.S)
    if not m:
        problem(f"rt_event.h: {macro} not found")
        return []
    return re.findall(r'X\(\w+,\s*"([^"]+)"\)', m.group(1))


def check_vocabulary(src, schema):
    types = header_names(src, "RT_EVENT_TYPES")
    if types != schema["properties"]["type"]["enum"]:
        problem(f"schema type enum {schema['properties']['type']['enum']} != rt_event.h {types}")
    levels = header_names(src, "RT_LOG_LEVELS")
    if levels != schema["$defs"]["log_data"]["properties"]["level"]["enum"]:
        problem("schema log levels differ from rt_event.h RT_LOG_LEVELS")
    statuses = [s for s in header_names(src, "RT_RUN_STATUSES") if s != "running"]
    if statuses != schema["$defs"]["finished_data"]["properties"]["status"]["enum"]:
        problem("schema finished statuses differ from rt_event.h RT_RUN_STATUSES minus running")
    for c in header_names(src, "RT_STD_COUNTERS"):
        if not re.match(schema["$defs"]["counters"]["propertyNames"]["pattern"], c):
            problem(f"standard counter {c} does not match the counter-name pattern")


# ---------------------------------------------------------------- reference mapping

def ts_us(ts):
    """RFC 3339 '...Z' with 6 digits -> microseconds since the epoch (exact integers)."""
    d = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    delta = d - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds


def pg_timestamp(ts):
    """How PostgreSQL prints a TIMESTAMP holding the UTC time ts: trailing fraction zeros cut."""
    s = ts[:-1].replace("T", " ")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def pandas_elapsed(us):
    """Microseconds -> pandas Timedelta str: "D days HH:MM:SS.ffffff" (negative: "-1 days +...")."""
    days, rem = divmod(us, 86400 * 1000000)  # floor division, as pandas normalizes
    secs, frac = divmod(rem, 1000000)
    h, secs = divmod(secs, 3600)
    m, s = divmod(secs, 60)
    sign = "+" if days < 0 else ""
    return f"{days} days {sign}{h:02d}:{m:02d}:{s:02d}.{frac:06d}"


def round2_seconds(us):
    """round(us / 1e6, 2), exactly, half away from zero (PostgreSQL numeric round)."""
    q = decimal.Decimal(us) / decimal.Decimal(1000000)
    return str(q.quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_UP))


def finish_rank(data):
    """Precedence of a run.finished: 2 a wrapper's failure, 1 the run's own, 0 a wrapper's success."""
    if data.get("source") != "wrapper":
        return 1
    return 0 if data["status"] == "completed" else 2


def derive(events):
    by_seq = sorted(events, key=lambda e: e["seq"])
    started = next((e for e in by_seq if e["type"] == "run.started"), None)
    finished = [e for e in by_seq if e["type"] == "run.finished"]
    # The winning run.finished (docs/consumer.md, merge rules): a wrapper's failed/partial over
    # the run's own finish over a wrapper's completed; then the earliest ts, then the lowest seq.
    order = lambda e: (-finish_rank(e["data"]), ts_us(e["ts"]), e["seq"])  # noqa: E731
    # end_counts: of the first finish in that order among those that carry them, whichever
    # finish won on status (docs/decisions.md 61).
    with_counts = min((e for e in finished if "end_counts" in e["data"]), key=order, default=None)
    end_counts = with_counts["data"]["end_counts"] if with_counts else None
    finished = min(finished, key=order, default=None)
    first = by_seq[0]
    rows = {}

    runs = {"run_id": first["run_id"], "job": first["job"], "kind": first["kind"],
            "status": finished["data"]["status"] if finished else "running",
            "phase": None, "phase_seq": 0, "has_started": started is not None,
            "started_at": started["ts"] if started else min((e["ts"] for e in by_seq), key=ts_us),
            "finished_at": finished["ts"] if finished else None,
            "last_event_at": max((e["ts"] for e in by_seq), key=ts_us),
            "last_seq": by_seq[-1]["seq"], "counters": {}, "counters_seq": 0,
            "memory_percent": None, "cpu_percent": None,
            "start_counts": started["data"].get("start_counts") if started else None,
            "end_counts": end_counts,
            "params": started["data"].get("params") if started else None,
            "planned": started["data"].get("planned") if started else None,
            "paused": False, "pause_seq": 0, "paused_at": None, "resumed_at": None,
            "error_message": finished["data"].get("error_message") if finished else None,
            "error_details": finished["data"].get("error_details") if finished else None,
            "finished_by_wrapper": finished is not None and finished["data"].get("source") == "wrapper",
            "dropped_logs": 0, "producer_host": by_seq[-1]["producer"]["host"],
            "producer_pid": by_seq[-1]["producer"]["pid"], "producer_lib": by_seq[-1]["producer"]["lib"]}
    for e in by_seq:
        d = e["data"]
        if e["type"] == "run.phase":
            runs["phase"], runs["phase_seq"] = d["phase"], e["seq"]
        # Counter maps merge per counter, the newest seq winning (by_seq order); memory and cpu
        # each keep their last value (docs/events.md, Counters).
        if e["type"] in ("run.progress", "run.finished") and d.get("counters"):
            runs["counters"] = {**runs["counters"], **d["counters"]}
            runs["counters_seq"] = e["seq"]
        if e["type"] == "run.progress":
            for k in ("memory_percent", "cpu_percent"):
                if k in d:
                    runs[k] = d[k]
        if e["type"] == "run.paused":
            runs["paused"], runs["pause_seq"], runs["paused_at"] = True, e["seq"], e["ts"]
        if e["type"] == "run.resumed":
            runs["paused"], runs["pause_seq"], runs["resumed_at"] = False, e["seq"], e["ts"]
        if "dropped_logs" in d and e["type"] in ("run.heartbeat", "run.finished"):
            runs["dropped_logs"] = max(runs["dropped_logs"], d["dropped_logs"])
    rows["runs"] = runs
    rows["run_logs"] = sum(1 for e in by_seq if e["type"] == "run.log")

    if started and finished:
        sc = started["data"].get("start_counts") or {}
        ec = end_counts or {}

        def diff(k):
            return ec[k] - sc[k] if k in ec and k in sc else None
        elapsed = ts_us(finished["ts"]) - ts_us(started["ts"])
        rows["run_results"] = {
            "run_id": first["run_id"], "file_name": first["job"],
            "start_time_df": started["ts"][:-1],
            "events_count_start": sc.get("events"), "urls_count_start": sc.get("urls"),
            "events_count_end": ec.get("events"), "urls_count_end": ec.get("urls"),
            "new_events_in_db": diff("events"), "new_urls_in_db": diff("urls"),
            "time_stamp": pg_timestamp(finished["ts"]),
            "elapsed_time": pandas_elapsed(elapsed)}
        if first["kind"] == "discovery":
            p = started["data"].get("params") or {}
            c = runs["counters"]
            rows["discovery_runs"] = {
                "id": first["run_id"], "started_at": pg_timestamp(started["ts"]),
                "completed_at": pg_timestamp(finished["ts"]),
                "duration_seconds": round2_seconds(elapsed), "status": finished["data"]["status"],
                "naics_codes": p.get("naics_codes"), "posted_from": p.get("posted_from"),
                "posted_to": p.get("posted_to"),
                "api_calls_made": c.get("api_calls", 0), "opportunities_found": c.get("found", 0),
                "opportunities_new": c.get("new", 0), "opportunities_updated": c.get("updated", 0),
                "opportunities_unchanged": c.get("unchanged", 0),
                "evaluations_created": c.get("evaluations_created", 0),
                "error_message": finished["data"].get("error_message"),
                "error_details": finished["data"].get("error_details"),
                "created_at": pg_timestamp(started["ts"])}
    return rows


def check_scenario(name, scen, validator):
    events = scen.get("events")
    if not isinstance(events, list) or not events or not isinstance(scen.get("description"), str):
        problem(f"{name}: a scenario needs a description and a non-empty events array")
        return
    for i, ev in enumerate(events):
        for e in leaf_errors(validator, ev):
            problem(f"{name}: events[{i}] invalid at {pointer(e.absolute_path)}: {e.message[:200]}")
    if problems:
        return
    first = events[0]
    if first["type"] != "run.started" or first["seq"] != 1:
        problem(f"{name}: a run starts with run.started at seq 1")
    if events[-1]["type"] != "run.finished":
        problem(f"{name}: the scenario should end with run.finished")
    ids = set()
    for i, ev in enumerate(events):
        for k in ("run_id", "job", "kind"):
            if ev[k] != first[k]:
                problem(f"{name}: events[{i}].{k} differs from the run's")
        if ev["seq"] != i + 1:
            problem(f"{name}: events[{i}].seq is {ev['seq']}, expected {i + 1} (strictly increasing)")
        if i and ts_us(ev["ts"]) < ts_us(events[i - 1]["ts"]):
            problem(f"{name}: events[{i}].ts goes backwards")
        if ev["event_id"].lower() in ids:
            problem(f"{name}: events[{i}].event_id repeats")
        ids.add(ev["event_id"].lower())
    got = derive(events)
    for table, want in scen.get("expect", {}).items():
        have = got.get(table)
        if have is None:
            problem(f"{name}: expect.{table} but the events produce no such row")
            continue
        if isinstance(want, dict):
            for col, v in want.items():
                if have.get(col, "<absent>") != v:
                    problem(f"{name}: expect.{table}.{col} = {v!r} but the rules give {have.get(col, '<absent>')!r}")
        elif have != want:
            problem(f"{name}: expect.{table} = {want!r} but the rules give {have!r}")


# ---------------------------------------------------------------- main

def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: check_examples.py SOURCE_DIR\n")
        return 2
    src = sys.argv[1]
    schemas = os.path.join(src, "schemas")
    with open(os.path.join(schemas, "events.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    try:
        Draft202012Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        print(f"FAIL events.schema.json is not a valid 2020-12 schema: {e.message}")
        return 1
    validator = Draft202012Validator(schema)
    check_vocabulary(src, schema)

    exdir = os.path.join(schemas, "examples")
    valid = sorted(n for n in os.listdir(exdir) if n.endswith(".json"))
    types_seen = set()
    for name in valid:
        with open(os.path.join(exdir, name), encoding="utf-8") as f:
            doc = json.load(f)
        if isinstance(doc, dict) and "events" in doc:
            before = len(problems)
            check_scenario(name, doc, validator)
            types_seen.update(e.get("type") for e in doc["events"] if isinstance(e, dict))
            status = "ok" if len(problems) == before else "FAIL"
        else:
            errs = leaf_errors(validator, doc)
            for e in errs:
                problem(f"{name}: invalid at {pointer(e.absolute_path)} ({e.validator}): {e.message[:200]}")
            if isinstance(doc, dict):
                types_seen.add(doc.get("type"))
            status = "FAIL" if errs else "ok"
        print(f"{status:4} valid   {name}")
    for t in schema["properties"]["type"]["enum"]:
        if t not in types_seen:
            problem(f"no valid example of type {t}")

    invdir = os.path.join(exdir, "invalid")
    reasons = {}
    with open(os.path.join(invdir, "REASONS.tsv"), encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != 5 or not all(cols):
                problem(f"REASONS.tsv:{lineno}: want 5 tab-separated columns: file, path, keyword, "
                        "reason, consumer dead-letter reason")
                continue
            if cols[4] not in DEAD_REASONS:
                problem(f"REASONS.tsv:{lineno}: {cols[4]} is not a dead-letter reason {DEAD_REASONS}")
            if cols[0] in reasons:
                problem(f"REASONS.tsv:{lineno}: {cols[0]} listed twice")
            reasons[cols[0]] = (cols[1], cols[2], cols[3])
    files = sorted(n for n in os.listdir(invdir) if n.endswith(".json"))
    for name in sorted(set(reasons) - set(files)):
        problem(f"REASONS.tsv lists {name} but invalid/{name} does not exist")
    for name in files:
        if name not in reasons:
            problem(f"invalid/{name} has no line in REASONS.tsv")
            continue
        path, keyword, reason = reasons[name]
        with open(os.path.join(invdir, name), encoding="utf-8") as f:
            doc = json.load(f)
        errs = leaf_errors(validator, doc)
        before = len(problems)
        if not errs:
            problem(f"invalid/{name} validates, but should fail: {reason}")
        for e in errs:
            where = pointer(e.absolute_path)
            if (where, e.validator) != (path, keyword):
                problem(f"invalid/{name}: unexpected error {e.validator} at {where} "
                        f"(expected only {keyword} at {path}): {e.message[:200]}")
        print(f"{'ok' if len(problems) == before else 'FAIL':4} invalid {name} ({keyword} at {path})")

    for p in problems:
        print("FAIL " + p)
    print(f"{len(valid)} valid and {len(files)} invalid examples, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
