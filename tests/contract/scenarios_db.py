#!/usr/bin/python3
"""End-to-end check of the contract's examples through the real consumer.

    scenarios_db.py emit SOURCE_DIR      print "HEXKEY<TAB>HEXVALUE" lines for topic_produce:
                                         every scenario event (compact JSON, key = run_id) and
                                         every invalid example's exact bytes (key = file name)
    scenarios_db.py check SOURCE_DIR     compare PostgreSQL (psql, RUNTRACK_PG_DSN) with each
                                         scenario's "expect" rows and each invalid example's
                                         dead-letter reason (REASONS.tsv column 5)
    scenarios_db.py digest               print a digest of the consumer's tables (minus the
                                         consumer-clock columns) to compare two replays
"""
import hashlib
import json
import os
import subprocess
import sys


def scenarios(src):
    exdir = os.path.join(src, "schemas", "examples")
    for name in sorted(os.listdir(exdir)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(exdir, name), encoding="utf-8") as f:
            doc = json.load(f)
        if isinstance(doc, dict) and "events" in doc:
            yield name, doc


def invalid(src):
    invdir = os.path.join(src, "schemas", "examples", "invalid")
    with open(os.path.join(invdir, "REASONS.tsv"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            with open(os.path.join(invdir, cols[0]), "rb") as g:
                yield cols[0], g.read(), cols[4], cols[3]


def emit(src):
    for _, doc in scenarios(src):
        for ev in doc["events"]:
            value = json.dumps(ev, separators=(",", ":"), ensure_ascii=False).encode()
            print(ev["run_id"].encode().hex() + "\t" + value.hex())
    for name, raw, _, _ in invalid(src):
        print(("invalid/" + name).encode().hex() + "\t" + raw.hex())
    return 0


def psql(sql):
    dsn = os.environ.get("RUNTRACK_PG_DSN", "")
    # SQL on stdin: an example's hex can exceed the kernel's limit for one argument.
    out = subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", dsn], input=sql,
                         check=True, capture_output=True, text=True).stdout
    return out.rstrip("\n")


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def column_types():
    """{table: {column: data_type}} for the public schema, in one round trip."""
    types = {}
    rows = psql("SELECT table_name || '|' || column_name || '|' || data_type "
                "FROM information_schema.columns WHERE table_schema = 'public'")
    for r in rows.splitlines():
        t, c, d = r.split("|", 2)
        types.setdefault(t, {})[c] = d
    return types


def expr(col, typ):
    q = '"' + col + '"'
    if typ == "timestamp with time zone":
        return f"""to_char({q} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    if typ in ("jsonb", "json", "ARRAY"):
        return f"to_json({q})"
    return f"{q}::text"


def same(want, have, typ):
    if want is None or have is None:
        return want is None and have is None
    if typ in ("jsonb", "json", "ARRAY"):
        return want == have
    if typ in ("integer", "bigint", "smallint"):
        return int(have) == want
    if typ in ("real", "double precision"):
        return abs(float(have) - float(want)) < 1e-4
    if typ == "boolean":
        return have == ("true" if want else "false")
    return str(want) == have


KEYS = {"run_results": "run_id", "discovery_runs": "id", "runs": "run_id"}


def check(src):
    """All the comparisons, with every query in one psql run (one line of output per query)."""
    problems = []
    types = column_types()
    queries, checks = [], []  # checks[i] interprets the output line of queries[i]
    for name, doc in scenarios(src):
        run_id = doc["events"][0]["run_id"]
        for table, want in doc.get("expect", {}).items():
            if table == "run_logs":
                queries.append(f"SELECT count(*) FROM run_logs WHERE run_id = {lit(run_id)}")
                checks.append(("logs", name, table, want))
                continue
            cols = list(want)
            missing = [c for c in cols if c not in types.get(table, {})]
            if missing:
                problems.append(f"{name}: {table} has no column(s) {missing}")
                continue
            sel = ", ".join(expr(c, types[table][c]) for c in cols)
            queries.append(f"SELECT coalesce((SELECT json_build_array({sel}) FROM {table} "
                           f"WHERE {KEYS[table]} = {lit(run_id)})::text, 'null')")
            checks.append(("row", name, table, want))
    queries.append("SELECT coalesce(json_agg(json_build_array(convert_from(msg_key, 'UTF8'), "
                   "reason, payload_size, md5(payload)))::text, '[]') FROM dead_letters "
                   "WHERE msg_key IS NOT NULL")
    lines = psql(";\n".join(queries) + ";").splitlines()
    if len(lines) != len(queries):
        print(f"FAIL psql returned {len(lines)} lines for {len(queries)} queries")
        return 1
    for (kind, name, table, want), line in zip(checks, lines):
        if kind == "logs":
            if int(line) != want:
                problems.append(f"{name}: run_logs has {line} rows, expected {want}")
            continue
        have = json.loads(line)
        if have is None:
            problems.append(f"{name}: no {table} row for the run")
            continue
        for c, h in zip(want, have):
            if not same(want[c], h, types[table][c]):
                problems.append(f"{name}: {table}.{c} = {h!r}, expected {want[c]!r}")
    dead = {k: (r, size, md5) for k, r, size, md5 in json.loads(lines[-1]) or []}
    for fname, raw, reason, why in invalid(src):
        key = "invalid/" + fname
        if key not in dead:
            problems.append(f"{key}: no dead_letters row ({why})")
            continue
        got_reason, size, md5 = dead[key]
        if got_reason != reason:
            problems.append(f"{key}: dead-letter reason {got_reason}, expected {reason} ({why})")
        if size != len(raw) or md5 != hashlib.md5(raw).hexdigest():
            problems.append(f"{key}: dead letter does not hold the raw record ({size} bytes)")
    for p in problems:
        print("FAIL " + p)
    n = sum(1 for _ in scenarios(src))
    print(f"{n} scenarios and the invalid examples checked in PostgreSQL, {len(problems)} problem(s)")
    return 1 if problems else 0


def digest():
    queries = []
    for table, order, drop in (("run_results", "run_id", ""), ("discovery_runs", "id", ""),
                               ("runs", "run_id", " - 'received_at' - 'first_received_at'"), ("run_logs", "run_id, seq", ""),
                               ("dead_letters", "topic, partition, \"offset\"",
                                " - 'received_at' - 'id'")):
        queries.append(f"SELECT '{table} ' || count(*) || ' ' || coalesce(md5(string_agg("
                       f"(to_jsonb(t){drop})::text, '|' ORDER BY {order})), '-') FROM {table} t")
    print(psql(";\n".join(queries) + ";"))
    return 0


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "digest":
        return digest()
    if len(sys.argv) != 3 or sys.argv[1] not in ("emit", "check"):
        sys.stderr.write(__doc__)
        return 2
    return emit(sys.argv[2]) if sys.argv[1] == "emit" else check(sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
