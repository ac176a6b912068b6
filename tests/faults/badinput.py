#!/usr/bin/env python3
"""Hostile input corpus for the consumer (issue 8 "Bad input").

  badinput.py gen DIR    writes DIR/NNN.msg (one Kafka record each, in produce order),
                         DIR/NNN.key and DIR/cases.json (name, expected outcome)
  badinput.py check DIR DSN   compares the tables with the expectations; prints one line per
                         case and a JSON summary {"cases", "bad", "lost", "duplicated",
                         "non_monotonic"} on the last line; exit 1 on any mismatch

Bad records sit between valid events of the same run (same key: same partition, in order), so
a lost neighbour shows. Expected outcomes: a dead letter with one of the listed reasons, or
"applied" with an SQL check.
"""
import json
import os
import subprocess
import sys

R1 = "019a16a0-5ebb-7312-8643-8b2a38836c01"  # valid lifecycle with bad records between
R2 = "019a16a0-5ebb-7312-8643-8b2a38836c02"  # finish before start
R3 = "019a16a0-5ebb-7312-8643-8b2a38836c03"  # events for a run never started
R4 = "019a16a0-5ebb-7312-8643-8b2a38836c04"  # SQL-looking strings
SQLISH = "x'); DROP TABLE runs; -- \" ; SELECT pg_sleep(10); $$ \\' OR 1=1"


def ev(run, sq, typ, data, **over):
    e = {"v": 1, "event_id": "019a16a0-5ebb-793f-8852-%04d%08d" % (int(run[-2:]), sq),
         "run_id": run, "seq": sq, "ts": "2025-10-24T14:%02d:%02d.000000Z" % (sq // 60 % 60, sq % 60),
         "type": typ, "job": "hostile.py", "kind": "scrape",
         "producer": {"host": "h", "pid": 1, "lib": "0.1.0"}, "data": data}
    e.update(over)
    return e


def enc(e):
    return json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode()


def log(run, sq, msg, **over):
    return ev(run, sq, "run.log", {"level": "info", "message": msg}, **over)


def gen(d):
    os.makedirs(d, exist_ok=True)
    recs = []  # (key, bytes, case or None)
    cases = []
    # The dev broker keeps at most 5 MiB per partition and a 10 MB record is readable only as
    # its partition's first: it goes first, on a key of its own, and badinput.sh waits until it
    # is applied before sending the rest.
    cases.append({"name": "10 MB message", "expect": "dead", "reasons": ["oversize"], "idx": 0})
    recs.append(("big", enc(log(R1, 910, "x" * (10 * 1024 * 1024)))))

    def bad(name, payload, reasons, key=R1):  # noqa: E306
        cases.append({"name": name, "expect": "dead", "reasons": reasons, "idx": len(recs)})
        recs.append((key, payload))

    def good(e):
        recs.append((e["run_id"], enc(e)))

    good(ev(R1, 1, "run.started", {"start_counts": {"events": 10, "urls": 5}}))
    seq = [2]

    def neighbour():
        good(log(R1, seq[0], "neighbour %d" % seq[0]))
        seq[0] += 1

    valid_log = enc(log(R1, 900, "will be cut"))
    hostile = [
        ("invalid JSON", b'{"v":1,"run_id":"' + R1.encode() + b'",', ["invalid_json"]),
        ("truncated", valid_log[: len(valid_log) // 2], ["invalid_json"]),
        ("wrong types (seq as string)", enc(log(R1, 901, "m", seq="901")), ["schema"]),
        ("wrong types (data an array)", enc(ev(R1, 902, "run.log", [1, 2])), ["schema"]),
        ("missing field (event_id)",
         enc({k: v for k, v in log(R1, 903, "m").items() if k != "event_id"}), ["schema"]),
        ("missing field (data.message)", enc(ev(R1, 904, "run.log", {"level": "info"})), ["schema"]),
        ("unknown type", enc(ev(R1, 905, "run.exploded", {})), ["unknown_type"]),
        ("future schema version", enc(log(R1, 906, "m", v=2)), ["unsupported_version"]),
        ("invalid UTF-8", enc(log(R1, 907, "PLACEHOLDER")).replace(b"PLACEHOLDER", b"\xff\xfe\xc3("),
         ["invalid_json"]),
        ("embedded NUL (escaped)", enc(log(R1, 908, "a\u0000b")), ["invalid_json", "schema"]),
        ("embedded NUL (raw byte)", enc(log(R1, 909, "ab")).replace(b"ab", b"a\x00b"),
         ["invalid_json"]),
        ("10 MB message", enc(log(R1, 910, "x" * (10 * 1024 * 1024))), ["oversize"]),
        ("deeply nested JSON", b'{"v":1,"data":' + b'{"a":' * 100000 + b"1" + b"}" * 100001,
         ["invalid_json"]),
        ("nested fields 5000 deep", enc(ev(R1, 911, "run.log", {"level": "info", "message": "m",
                                                               "fields": {}})).replace(
            b'"fields":{}', b'"fields":' + b'{"a":' * 5000 + b"1" + b"}" * 5000),
         ["invalid_json", "schema"]),
        ("huge string (900 kB message)", enc(log(R1, 912, "y" * 900000)), ["schema"]),
        ("huge job name", enc(log(R1, 913, "m", job="j" * 100000)), ["schema"]),
        ("negative counter", enc(ev(R1, 914, "run.progress", {"counters": {"events": -5}})),
         ["schema"]),
        ("overflowing counter (2^70)",
         enc(ev(R1, 915, "run.progress", {"counters": {"events": 1}})).replace(
             b'"events":1', b'"events":1180591620717411303424'), ["schema", "invalid_json"]),
        ("overflowing seq (2^64)", enc(log(R1, 916, "m")).replace(b'"seq":916',
                                                                 b'"seq":18446744073709551616'),
         ["schema", "invalid_json"]),
        ("JSON null", b"null", ["schema", "invalid_json"]),
        ("duplicate keys", enc(log(R1, 917, "m"))[:-1] + b',"seq":1}', ["invalid_json", "schema"]),
    ]
    for name, payload, reasons in hostile:
        if name == "10 MB message":
            continue  # sent last, alone (see below)
        neighbour()
        bad(name, payload, reasons)
    neighbour()
    # seq going backwards: a valid log line with a lower seq arrives after higher ones.
    good(log(R1, seq[0] + 5, "ahead"))
    cases.append({"name": "seq going backwards", "expect": "applied",
                  "sql": "SELECT count(*) = 1 FROM run_logs WHERE run_id = '%s' AND seq = 1000" % R1})
    good(ev(R1, 1001, "run.finished", {"status": "completed", "end_counts": {"events": 12, "urls": 6}}))
    good(log(R1, 1000, "arrives after the finish with a lower seq"))
    n_good_logs = seq[0] - 2 + 2  # neighbours + "ahead" + the late one
    cases.append({"name": "valid neighbours all landed", "expect": "applied",
                  "sql": "SELECT count(*) = %d FROM run_logs WHERE run_id = '%s'" % (n_good_logs, R1)})
    cases.append({"name": "run state after hostile records", "expect": "applied",
                  "sql": "SELECT status = 'completed' AND last_seq = 1001 AND has_started "
                         "FROM runs WHERE run_id = '%s'" % R1})
    # finish before start
    good(ev(R2, 9, "run.finished", {"status": "completed", "end_counts": {"events": 3, "urls": 2}}))
    good(log(R2, 5, "middle"))
    good(ev(R2, 1, "run.started", {"start_counts": {"events": 1, "urls": 1}}))
    cases.append({"name": "finish before start", "expect": "applied",
                  "sql": "SELECT r.status = 'completed' AND r.has_started AND rr.new_events_in_db = 2 "
                         "AND rr.new_urls_in_db = 1 FROM runs r JOIN run_results rr USING (run_id) "
                         "WHERE run_id = '%s'" % R2})
    # events for an unknown run
    good(log(R3, 7, "orphan line"))
    good(ev(R3, 8, "run.progress", {"counters": {"events": 4}}))
    cases.append({"name": "events for an unknown run", "expect": "applied",
                  "sql": "SELECT status = 'running' AND NOT has_started AND counters->>'events' = '4' "
                         "AND (SELECT count(*) FROM run_logs WHERE run_id = '%s') = 1 FROM runs "
                         "WHERE run_id = '%s'" % (R3, R3)})
    # SQL-looking strings, stored verbatim
    good(ev(R4, 1, "run.started", {"params": {"q": SQLISH}}))
    good(ev(R4, 2, "run.phase", {"phase": "p'; DELETE FROM runs; --"}))
    good(log(R4, 3, SQLISH))
    cases.append({"name": "SQL-looking strings", "expect": "applied",
                  "sql": "SELECT (SELECT message FROM run_logs WHERE run_id = '%s' AND seq = 3) = %s "
                         "AND (SELECT phase FROM runs WHERE run_id = '%s') = 'p''; DELETE FROM runs; --' "
                         "AND (SELECT params->>'q' FROM runs WHERE run_id = '%s') = %s "
                         "AND (SELECT count(*) FROM runs) = 4"
                         % (R4, lit(SQLISH), R4, R4, lit(SQLISH))})
    for i, (key, payload) in enumerate(recs):
        with open(os.path.join(d, "%03d.msg" % i), "wb") as f:
            f.write(payload)
        with open(os.path.join(d, "%03d.key" % i), "w") as f:
            f.write(key)
    json.dump({"records": len(recs), "cases": cases}, open(os.path.join(d, "cases.json"), "w"))


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def psql(dsn, sql):
    return subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def msgsize(d, idx):
    p = os.path.join(d, "%03d.msg" % idx)
    return os.path.getsize(p if os.path.exists(p) else p[:-4] + ".big")


def check(d, dsn):
    spec = json.load(open(os.path.join(d, "cases.json")))
    # offset order = produce order (one partition per key; records of a key in file order)
    rows = psql(dsn, "SELECT partition, \"offset\", reason, left(detail, 100), payload_size "
                     "FROM dead_letters ORDER BY partition, \"offset\"")
    dead = [r.split("|") for r in rows.splitlines() if r]
    bad = lost = dup = nonmono = 0
    dead_cases = [c for c in spec["cases"] if c["expect"] == "dead"]
    # Match dead letters to cases by payload size + reason, in order.
    used = set()
    for c in dead_cases:
        size = msgsize(d, c["idx"])
        hit = None
        for i, r in enumerate(dead):
            if i not in used and int(r[4]) == size:
                hit = i
                break
        if hit is None:
            print("FAIL %-32s no dead letter (expected %s)" % (c["name"], "/".join(c["reasons"])))
            lost += 1
            bad += 1
            continue
        used.add(hit)
        r = dead[hit]
        ok = r[2] in c["reasons"] and r[3].strip() != ""
        print("%s %-32s dead letter %-20s %s" % ("ok  " if ok else "FAIL", c["name"], r[2], r[3]))
        if not ok:
            bad += 1
    dup = len(dead) - len(used)
    for c in spec["cases"]:
        if c["expect"] != "applied":
            continue
        ok = psql(dsn, c["sql"]) == "t"
        print("%s %-32s applied" % ("ok  " if ok else "FAIL", c["name"]))
        if not ok:
            bad += 1
            if "neighbours" in c["name"]:
                lost += 1
            else:
                nonmono += 1
    print(json.dumps({"cases": len(spec["cases"]), "hostile": len(dead_cases),
                      "records": spec["records"], "bad": bad, "lost": lost, "duplicated": dup,
                      "non_monotonic": nonmono}))
    return 1 if bad or dup else 0


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2], sys.argv[3]))
