#!/usr/bin/python3
"""Validates a dump of real Kafka records (topic_dump's "partition<TAB>key<TAB>value" lines on
stdin) against schemas/events.schema.json and the record-level rules of docs/events.md:
every value is a schema-valid event, the key is the event's run_id, one run stays on one
partition, and per run the seq strictly increases in partition (send) order with distinct
event_ids.
    validate_stream.py SOURCE_DIR [--expect-types T,T,...] [--expect-runs N] < dump
Exit 0 when all hold, else one line per problem and 1."""
import json
import os
import sys

from jsonschema import Draft202012Validator


def main():
    src = sys.argv[1]
    want_types, want_runs = set(), None
    args = sys.argv[2:]
    while args:
        if args[0] == "--expect-types":
            want_types = set(args[1].split(","))
        elif args[0] == "--expect-runs":
            want_runs = int(args[1])
        else:
            print(f"usage error: {args[0]}")
            return 2
        args = args[2:]
    with open(os.path.join(src, "schemas", "events.schema.json"), encoding="utf-8") as f:
        validator = Draft202012Validator(json.load(f))
    problems, runs, types, n = [], {}, set(), 0
    for lineno, line in enumerate(sys.stdin, 1):
        line = line.rstrip("\n")
        part, key, value = line.split("\t", 2)
        n += 1
        try:
            ev = json.loads(value)
        except ValueError as e:
            problems.append(f"record {lineno}: not JSON ({e}): {value[:200]}")
            continue
        errs = sorted(validator.iter_errors(ev), key=lambda e: list(e.absolute_path))
        for e in errs:
            where = "#" + "".join("/" + str(p) for p in e.absolute_path)
            problems.append(f"record {lineno}: {e.validator} at {where}: {e.message[:200]}")
        if errs or not isinstance(ev, dict):
            continue
        types.add(ev["type"])
        if key != ev["run_id"]:
            problems.append(f"record {lineno}: key {key!r} is not the run_id {ev['run_id']}")
        r = runs.setdefault(ev["run_id"], {"part": part, "seq": 0, "ids": set()})
        if r["part"] != part:
            problems.append(f"record {lineno}: run {ev['run_id']} on partitions {r['part']} and {part}")
        if ev["seq"] <= r["seq"]:
            problems.append(f"record {lineno}: run {ev['run_id']} seq {ev['seq']} after {r['seq']}")
        r["seq"] = max(r["seq"], ev["seq"])
        if ev["event_id"] in r["ids"]:
            problems.append(f"record {lineno}: event_id {ev['event_id']} repeated")
        r["ids"].add(ev["event_id"])
    for t in sorted(want_types - types):
        problems.append(f"no {t} event in the stream")
    if want_runs is not None and len(runs) != want_runs:
        problems.append(f"{len(runs)} runs in the stream, expected {want_runs}")
    for p in problems:
        print("FAIL " + p)
    print(f"{n} records, {len(runs)} runs, types {sorted(types)}, {len(problems)} problem(s)")
    return 1 if problems or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
