#!/usr/bin/python3
"""The CLI's query commands against a real runtrack-consumer (its in-process HTTP API on a free
port), the suite's PostgreSQL and dev broker: runs created with `runtrack start/log/finish`, then
`runtrack runs/show/logs/last-success/health`, as tables and as --json, `logs --follow` ending
when the run finishes, colours only on a terminal, and the exit codes (66, 69, 64, 65).
Run by ctest through tests/lib/with_services.sh:
    test_cliq.py RUNTRACK_CLI RUNTRACK_CONSUMER
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from rtcheck import check, step, verdict  # noqa: E402

CLI, CONSUMER = sys.argv[1:3]


def rt(*args, code=0, env=None):
    """Runs the CLI; checks its exit code; returns (stdout, stderr)."""
    out = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, env=env)
    check(out.returncode == code, "runtrack %s: exit %d, expected %d: %s" %
          (" ".join(args), out.returncode, code, out.stderr.strip()))
    return out.stdout, out.stderr


def produce(*args):
    out, _ = rt(*args)
    return out.strip()


def table(text):
    """Header + rows of an aligned table, split at the header's column starts."""
    lines = [l for l in text.splitlines() if l.strip()]
    head = lines[0]
    starts = [m.start() for m in re.finditer(r"(?:(?<=  )|^)\S", head)]
    names = [head[s:e].strip() for s, e in zip(starts, starts[1:] + [None])]
    rows = []
    for l in lines[1:]:
        # Aligned: every column boundary is preceded by two spaces (or the cell ran to it).
        for s in starts[1:]:
            check(l[s - 2:s] == "  " or l[s - 1] != " ",
                  "column at %d not aligned in %r" % (s, l))
        rows.append({n: l[s:e].strip() for n, s, e in zip(names, starts, starts[1:] + [None])})
    return names, rows


def main():
    topic = os.environ["RUNTRACK_TOPIC"]
    os.environ["RUNTRACK_GROUP"] = "cliq-" + topic
    os.environ["RUNTRACK_KAFKA_SESSION_TIMEOUT_MS"] = "6000"
    os.environ["RUNTRACK_HTTP_PORT"] = "0"
    os.environ["TZ"] = "UTC"  # tables show local times; keep them predictable
    # libcurl honours proxy variables, and a loopback API must not go through a proxy.
    for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        os.environ.pop(k, None)
    for k in ("RUNTRACK_RUN_ID", "RUNTRACK_JOB", "RUNTRACK_KIND", "RUNTRACK_API_TOKEN",
              "RUNTRACK_API_KEY", "RUNTRACK_API_KEY_FILE", "RUNTRACK_API_CA", "NO_COLOR"):
        os.environ.pop(k, None)

    # Runs reported through the producer CLI.
    a = produce("start", "--job", "cliq.py", "--count", "events=100", "--count", "urls=10",
                "--planned", "sites_total=4")
    produce("phase", "--run", a, "--job", "cliq.py", "scraping")
    produce("progress", "--run", a, "--job", "cliq.py", "sites_total=4", "sites_completed=1")
    produce("log", "--run", a, "--job", "cliq.py", "--level", "warning", "page 7 slow")
    produce("log", "--run", a, "--job", "cliq.py", "--fields-json", '{"page":8}', "page 8 ok")
    produce("finish", "--run", a, "--job", "cliq.py", "--status", "completed", "--count",
            "events=150", "--count", "urls=12", "found=5", "new=2")
    b = produce("start", "--job", "cliq.py")
    produce("finish", "--run", b, "--job", "cliq.py", "--status", "failed", "--error", "boom")
    odd = "team/odd job.py"  # a '/' and a space: escaped in the URL path
    c = produce("start", "--job", odd, "--kind", "discovery")
    produce("finish", "--run", c, "--job", odd, "--kind", "discovery", "--status", "completed")
    d = produce("start", "--job", "live.py")
    produce("phase", "--run", d, "--job", "live.py", "matching")
    produce("progress", "--run", d, "--job", "live.py", "sites_total=4", "sites_completed=1")
    produce("log", "--run", d, "--job", "live.py", "early line")
    step("events sent")

    log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "cliq-consumer-%s.log" % topic),
               "w+")
    cons = subprocess.Popen([CONSUMER, "run"], stderr=log, stdout=subprocess.DEVNULL)
    try:
        port = None
        deadline = time.time() + 30
        while time.time() < deadline and port is None and cons.poll() is None:
            log.seek(0)
            m = re.search(r'msg="HTTP API listening".* port=(\d+)', log.read())
            port = m.group(1) if m else None
            time.sleep(0.1)
        if port is None:
            log.seek(0)
            raise RuntimeError("consumer HTTP API did not start: %s" % log.read()[-2000:])
        api = "http://127.0.0.1:%s" % port
        os.environ["RUNTRACK_API"] = api
        deadline = time.time() + 60
        seen = set()
        while time.time() < deadline:
            out = subprocess.run([CLI, "runs", "--json"], capture_output=True, text=True)
            if out.returncode == 0:
                seen = {r["run_id"] for r in json.loads(out.stdout)["runs"]}
                if seen >= {a, b, c, d}:
                    break
            time.sleep(0.2)
        check(seen >= {a, b, c, d}, "all four runs consumed: %r" % seen)
        step("consumed; API at " + api)
        queries(api, a, b, c, d, odd)
    finally:
        cons.send_signal(signal.SIGTERM)
        try:
            rc = cons.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cons.kill()
            rc = cons.wait()
        check(rc == 0, "consumer exit %d" % rc)
        log.close()
        os.unlink(log.name)
    # With the consumer gone, nothing listens on the port any more.
    _, err = rt("runs", code=69)
    check("API unreachable at %s" % os.environ["RUNTRACK_API"] in err, "unreachable message %r"
          % err)
    return verdict("test_cliq")


def queries(api, a, b, c, d, odd):
    # runs: table (the outputs are printed for the test log)
    out, _ = rt("runs")
    print(out, end="")
    check("\x1b" not in out, "no escapes when stdout is not a terminal")
    names, rows = table(out)
    check(names == ["RUN ID", "JOB", "KIND", "STATUS", "PHASE", "STARTED", "DURATION",
                    "COUNTERS"], "runs header %r" % names)
    by = {r["RUN ID"]: r for r in rows}
    check(set(by) == {a, b, c, d}, "runs rows %r" % list(by))
    ra = by.get(a, {})
    check(ra.get("JOB") == "cliq.py" and ra.get("KIND") == "scrape" and
          ra.get("STATUS") == "completed" and ra.get("PHASE") == "scraping", "row A %r" % ra)
    check(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", ra.get("STARTED", "")),
          "started is a local date-time %r" % ra)
    check(re.fullmatch(r"\d+ms|\d+\.\ds|\d+m \d\ds", ra.get("DURATION", "")), "duration %r" % ra)
    # the finish's counters merged into the progress map (docs/events.md, Counters)
    check(ra.get("COUNTERS") == "found=5 new=2 sites_completed=1 sites_total=4", "counters %r" % ra)
    check(by.get(b, {}).get("STATUS") == "failed" and by.get(d, {}).get("STATUS") == "running",
          "statuses of B and D")
    check(by.get(c, {}).get("JOB") == odd, "odd job name %r" % by.get(c))
    # newest first
    order = [r["RUN ID"] for r in rows]
    check(order == [d, c, b, a], "newest first: %r" % order)

    # runs: JSON is the API's answer
    out, _ = rt("runs", "--json")
    j = json.loads(out)
    check([r["run_id"] for r in j["runs"]] == [d, c, b, a] and j["next_cursor"] is None,
          "runs --json %r" % out[:300])

    # filters
    def ids(*args):
        o, _ = rt("runs", "--json", *args)
        return [r["run_id"] for r in json.loads(o)["runs"]]
    check(ids("--status", "failed") == [b], "--status failed")
    check(ids("--status", "running") == [d], "--status running")
    check(ids("--job", "cliq.py") == [b, a], "--job")
    check(ids("--kind", "discovery") == [c], "--kind")
    check(ids("--phase", "scraping") == [a], "--phase")
    check(ids("--job", "cliq.py", "--status", "completed") == [a], "two filters")
    check(ids("--all") == [d, c, b, a], "--all")
    out, err = rt("runs", "--limit", "1")
    _, rows = table(out)
    check([r["RUN ID"] for r in rows] == [d], "--limit 1 row %r" % rows)
    check("more runs match" in err, "--limit 1 says there is more: %r" % err)
    out, _ = rt("runs", "--job", "nosuch.py")
    check(out.strip() == "No runs.", "empty list %r" % out)
    _, err = rt("runs", "--status", "bogus", code=64)
    check("status" in err and len(err.strip().splitlines()) == 1, "API's 400 message %r" % err)

    # show
    out, _ = rt("show", a)
    kv = {}
    for line in out.split("\n\n")[0].splitlines():
        kv[line[:14].strip()] = line[14:]
    check(kv.get("Run") == a and kv.get("Job") == "cliq.py" and kv.get("Kind") == "scrape",
          "show header %r" % kv)
    check(kv.get("Status") == "completed" and kv.get("Phase") == "scraping", "show status")
    check(kv.get("Counters") == "found=5 new=2 sites_completed=1 sites_total=4",
          "show counters %r" % kv)
    check(kv.get("Start counts") == "events=100 urls=10" and
          kv.get("End counts") == "events=150 urls=12", "show start/end counts %r" % kv)
    check("Finished" in kv and "Elapsed" in kv and "Producer" in kv, "show timing %r" % kv)
    logs = out.split("Newest log lines:\n")[-1].splitlines()
    check(len(logs) == 2 and "warning" in logs[0] and logs[0].endswith("warning  [scraping] page 7 slow")
          and logs[1].endswith('page 8 ok  {"page":8}'), "show logs %r" % logs)
    # Progress and ETA of a running run (seed 004): 1 of 4 sites done.
    out, _ = rt("show", d)
    print(out, end="")
    check(re.search(r"^Progress +1 of 4 sites \(25\.0%\), .+ per site, about .+ left$", out,
                    re.M) and re.search(r"^Status +running$", out, re.M) and
          re.search(r"^Phase +matching$", out, re.M), "show of a running run %r" % out)
    out, _ = rt("show", b)
    check(re.search(r"^Error +boom$", out, re.M) is not None, "show error %r" % out)
    out, _ = rt("show", a, "--json")
    j = json.loads(out)
    check(j["run_id"] == a and j["status"] == "completed" and len(j["logs"]) == 2 and
          j["end_counts"] == {"events": 150, "urls": 12}, "show --json %r" % out[:300])
    out, _ = rt("show", a, "--json", "--limit", "1")
    check([l["message"] for l in json.loads(out)["logs"]] == ["page 8 ok"], "show --limit 1")
    unknown = str(uuid.uuid4())
    out, err = rt("show", unknown, code=66)
    check(err.strip() == "runtrack: no such run: %s" % unknown and out == "", "404 %r" % err)
    rt("show", "not-a-run", code=65)
    rt("show", code=64)

    # logs
    out, _ = rt("logs", a)
    lines = out.splitlines()
    check(len(lines) == 2 and lines[0].endswith("page 7 slow") and
          re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  warning  ", lines[0]) and
          lines[1].endswith('page 8 ok  {"page":8}'), "logs %r" % lines)
    out, _ = rt("logs", a, "--level", "warning")
    check(len(out.splitlines()) == 1 and "page 7 slow" in out, "logs --level %r" % out)
    out, _ = rt("logs", a, "--json")
    objs = [json.loads(l) for l in out.splitlines()]
    check([o["message"] for o in objs] == ["page 7 slow", "page 8 ok"] and
          objs[0]["level"] == "warning" and objs[1]["fields"] == {"page": 8},
          "logs --json %r" % out)
    # CLI log lines carry the phase the run's last `runtrack phase` set (another process).
    check([o.get("phase") for o in objs] == ["scraping", "scraping"], "log phases %r" % out)
    out, _ = rt("logs", a, "--phase", "scraping")
    check(len(out.splitlines()) == 2, "logs --phase of CLI lines %r" % out)
    _, err = rt("logs", b)
    check("no log lines" in err, "run without logs %r" % err)
    rt("logs", unknown, code=66)
    rt("logs", a, "--level", "fatal", code=64)

    # logs --follow: prints what exists, then new lines, and ends when the run finishes.
    f = subprocess.Popen([CLI, "logs", "--follow", d], stdout=subprocess.PIPE, text=True)
    try:
        first = f.stdout.readline()
        check(first.endswith("early line\n"), "follow prints existing lines %r" % first)
        produce("log", "--run", d, "--job", "live.py", "--level", "error", "late line")
        produce("finish", "--run", d, "--job", "live.py", "--status", "partial")
        rest, _ = f.communicate(timeout=60)
        check(f.returncode == 0, "follow exit %d" % f.returncode)
        check(rest.splitlines() and rest.splitlines()[-1].endswith("error    [matching] late line"),
              "follow prints the new line and ends with the run: %r" % rest)
    finally:
        if f.poll() is None:
            f.kill()
            f.wait()
    step("follow done")

    # last-success
    out, _ = rt("last-success", "cliq.py")
    check(re.search(r"^Run +%s$" % a, out, re.M) and re.search(r"^Completed +\d{4}-.* ago\)$",
                                                              out, re.M), "last-success %r" % out)
    out, _ = rt("last-success", "cliq.py", "--json")
    j = json.loads(out)
    check(j["last_success"]["run_id"] == a and j["completed_at"] is not None, "--json %r" % out)
    out, _ = rt("last-success", odd)
    check(re.search(r"^Run +%s$" % c, out, re.M), "last-success of %r: %r" % (odd, out))
    out, _ = rt("last-success", "never.py")
    check(out.strip() == "never.py: no successful run on record", "never %r" % out)
    out, _ = rt("last-success", "never.py", "--json")
    check(json.loads(out) == {"job": "never.py", "last_success": None, "completed_at": None},
          "never --json %r" % out)
    rt("last-success", code=64)

    # health
    out, _ = rt("health", "--window", "24", "--job", "cliq.py")
    print(out, end="")
    check(re.match(r"Health at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: critical", out),
          "health headline %r" % out[:100])
    blocks = out.split("\n\n")
    names, rows = table(blocks[1])
    check(names[:4] == ["WINDOW", "TOTAL", "COMPLETED", "PARTIAL"] and names[-1] == "STATUS",
          "health header %r" % names)
    check(len(rows) == 1 and rows[0]["WINDOW"] == "24h" and rows[0]["TOTAL"] == "2" and
          rows[0]["COMPLETED"] == "1" and rows[0]["FAILED"] == "1" and
          rows[0]["SUCCESS"] == "50.0%" and rows[0]["STATUS"] == "critical",
          "health window %r" % rows)
    names, rows = table(blocks[2])
    check(names[0] == "JOB" and len(rows) == 1 and rows[0]["JOB"] == "cliq.py" and
          rows[0]["RUNS 24H"] == "2" and rows[0]["FAILED 24H"] == "1", "health jobs %r" % rows)
    check("success_rate_low" in blocks[3], "health alerts %r" % blocks[3:])
    out, _ = rt("health", "--json")
    j = json.loads(out)
    check([w["window_hours"] for w in j["windows"]] == [12, 24, 48, 72], "default windows")
    check(j["overall"]["total"] == 4, "overall total %r" % j["overall"])
    rt("health", "--window", "x", code=64)
    rt("health", "extra", code=64)

    # Colours only on a terminal (script(1) gives the CLI a pty).
    p = subprocess.run(["script", "-qec", "%s runs --job cliq.py" % CLI, "/dev/null"],
                       capture_output=True, text=True, timeout=60)
    check("\x1b[32mcompleted\x1b[0m" in p.stdout and "\x1b[31mfailed\x1b[0m" in p.stdout,
          "status coloured on a terminal: %r" % p.stdout)
    env = dict(os.environ, NO_COLOR="1")
    p = subprocess.run(["script", "-qec", "%s runs --job cliq.py" % CLI, "/dev/null"],
                       capture_output=True, text=True, timeout=60, env=env)
    check("\x1b[" not in p.stdout and "completed" in p.stdout, "NO_COLOR %r" % p.stdout)

    # Usage
    rt("runs", "--limit", "0", code=64)
    rt("runs", "--limit", "1", "--all", code=64)
    rt("runs", "--level", "info", code=64)
    rt("show", a, "--bogus", code=64)
    rt("runs", "--api", "ftp://127.0.0.1/", code=64)
    _, err = rt("runs", "--api", "http://127.0.0.1:1", code=69)
    check(err.startswith("runtrack: API unreachable at http://127.0.0.1:1:"), "69 %r" % err)


if __name__ == "__main__":
    sys.exit(main())
