#!/usr/bin/python3
"""The query commands against a scripted HTTP server on loopback, for what the real API never
answers: a non-JSON body, a JSON array, HTTP 500/503/401, a connection cut mid-answer; and what
is hard to arrange for real: paging across several /api/runs pages (--all, --limit N > 500), the
bearer token, terminal escapes in API text. No services needed.
    test_cliq_unit.py RUNTRACK_CLI
"""
import http.server
import json
import os
import signal
import socket
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from rtcheck import check, verdict  # noqa: E402

CLI = sys.argv[1]
RUN = "01a21278-3a10-7f27-92ad-9472173ff316"
LIVE = "01a21278-3a10-7f27-92ad-9472173ff317"  # a run that stays running
LATE = "01a21278-3a10-7f27-92ad-9472173ff318"  # a run stored 1.5 s after it is first asked for
LATE_FIRST = []  # when LATE was first asked for
REQUESTS = []  # (path, query dict, Authorization header)


def run_row(i):
    return {"run_id": "00000000-0000-7000-8000-%012d" % i, "job": "j%d.py" % i,
            "kind": "scrape", "status": "completed", "phase": None,
            "started_at": "2026-11-25T08:00:00.000000Z",
            "finished_at": "2026-11-25T08:10:00.000000Z", "elapsed_seconds": 600.0,
            "stale": False, "paused": False, "counters": {}}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, message):
        self.answer(status, json.dumps({"error": {"code": code, "message": message}}))

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        path = urllib.parse.unquote(u.path)
        REQUESTS.append((path, q, self.headers.get("Authorization")))
        mode = SERVER_MODE[0]
        if mode == "notjson":
            return self.answer(200, "<html>hello</html>", "text/html")
        if mode == "array":
            return self.answer(200, "[1,2]")
        if mode == "500":
            return self.error(500, "internal", "boom")
        if mode == "503":
            return self.error(503, "database_unavailable", "PostgreSQL unreachable")
        if mode == "401":
            return self.error(401, "unauthorized", "bad token")
        if mode == "cut":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"runs": [')
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if path == "/api/runs" and mode == "stuck":
            return self.answer(200, json.dumps({"runs": [run_row(1)], "next_cursor": "same"}))
        if path == "/api/runs":
            # 1200 runs, paged by an integer cursor (the index of the next row).
            start = int(q.get("cursor", "0"))
            limit = int(q.get("limit", "50"))
            rows = [run_row(i) for i in range(start, min(start + limit, 1200))]
            nxt = str(start + limit) if start + limit < 1200 else None
            return self.answer(200, json.dumps({"runs": rows, "next_cursor": nxt}))
        if path.startswith("/api/runs/%s" % LATE):
            if not LATE_FIRST:
                LATE_FIRST.append(time.time())
            if time.time() - LATE_FIRST[0] < 1.5:
                return self.error(404, "not_found", "no such run")
            if path.endswith("/logs"):
                lines = [{"seq": 1, "ts": "2026-11-25T08:00:01Z", "level": "info", "phase": None,
                          "message": "late line", "fields": None}]
                if int(q.get("after_seq", "0")) >= 1:
                    lines = []
                return self.answer(200, json.dumps({"run_id": LATE, "logs": lines,
                                                    "next_after_seq": 1}))
            r = run_row(3)
            r.update({"run_id": LATE, "logs": []})
            return self.answer(200, json.dumps(r))
        if path == "/api/runs/%s" % LIVE:
            r = run_row(2)
            r.update({"run_id": LIVE, "status": "running", "finished_at": None, "logs": []})
            return self.answer(200, json.dumps(r))
        if path == "/api/runs/%s/logs" % LIVE:
            after = int(q.get("after_seq", "0"))
            lines = [{"seq": n, "ts": "2026-11-25T08:00:0%dZ" % n, "level": "info", "phase": None,
                      "message": "line %d" % n, "fields": None} for n in (1, 2) if n > after]
            nxt = max([after] + [l["seq"] for l in lines])
            return self.answer(200, json.dumps({"run_id": LIVE, "logs": lines,
                                                "next_after_seq": nxt}))
        if path == "/api/runs/%s" % RUN:
            r = run_row(1)
            r.update({"run_id": RUN, "job": "evil\x1b[2J.py", "error_message": "line1\nline2",
                      "logs": [{"seq": 1, "ts": "2026-11-25T08:00:00Z", "level": "info",
                                "phase": None, "message": "\x1b]0;owned\x07hi", "fields": None}]})
            return self.answer(200, json.dumps(r))
        if path.startswith("/api/jobs/") and path.endswith("/last-success"):
            return self.answer(200, json.dumps({"job": path[10:-13], "last_success": None,
                                                "completed_at": None}))
        return self.error(404, "not_found", "no such run")


SERVER_MODE = [""]


def rt(*args, code=0, env=None):
    t0 = time.time()
    out = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60,
                         env=env or os.environ)
    if time.time() - t0 > 2:
        print("slow: %s %.1fs" % (args, time.time() - t0))
    check(out.returncode == code, "runtrack %s: exit %d, expected %d: %s" %
          (" ".join(args), out.returncode, code, out.stderr.strip()))
    check(len(out.stderr.strip().splitlines()) <= 1, "one-line stderr: %r" % out.stderr)
    return out.stdout, out.stderr


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % srv.server_address[1]
    os.environ["RUNTRACK_API"] = base + "/"  # a trailing slash is fine
    os.environ["TZ"] = "UTC"
    for k in ("RUNTRACK_API_TOKEN", "RUNTRACK_API_KEY", "RUNTRACK_API_KEY_FILE", "RUNTRACK_API_CA",
              "RUNTRACK_API_ALLOW_HTTP"):
        os.environ.pop(k, None)
    # libcurl honours proxy variables, and a loopback API must not go through a proxy.
    for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        os.environ.pop(k, None)
    try:
        # Paging: --all follows next_cursor to the end; --limit N > 500 takes several pages.
        REQUESTS.clear()
        out, _ = rt("runs", "--all", "--json")
        j = json.loads(out)
        ids = [r["run_id"] for r in j["runs"]]
        check(len(ids) == 1200 and len(set(ids)) == 1200 and j["next_cursor"] is None,
              "--all merges every page: %d rows" % len(ids))
        check([(p, q.get("limit"), q.get("cursor")) for p, q, _ in REQUESTS] ==
              [("/api/runs", "500", None), ("/api/runs", "500", "500"),
               ("/api/runs", "500", "1000")], "pages asked %r" % REQUESTS)
        REQUESTS.clear()
        out, err = rt("runs", "--limit", "700")
        check(len(out.splitlines()) == 701, "--limit 700: header + 700 rows")
        check([q.get("limit") for _, q, _ in REQUESTS] == ["500", "200"], "page sizes %r"
              % [q for _, q, _ in REQUESTS])
        check("more runs match" in err, "more runs: %r" % err)
        out, err = rt("runs", "--limit", "3", "--json")
        check(json.loads(out)["next_cursor"] == "3" and err == "", "one page is the API's JSON")
        out, err = rt("runs", "--all")
        check(len(out.splitlines()) == 1201 and err == "", "--all table")

        # Token: sent as a bearer token when set, not sent otherwise.
        REQUESTS.clear()
        rt("runs", "--limit", "1", env=dict(os.environ, RUNTRACK_API_TOKEN="s3cret"))
        rt("runs", "--limit", "1")
        check([a for _, _, a in REQUESTS] == ["Bearer s3cret", None], "token %r" % REQUESTS)
        # API key: RUNTRACK_API_KEY (before the older RUNTRACK_API_TOKEN), or the first line of
        # --api-key-file / RUNTRACK_API_KEY_FILE (before both); never on stderr.
        REQUESTS.clear()
        kdir = tempfile.mkdtemp()
        kfile = os.path.join(kdir, "key")
        with open(kfile, "w") as f:
            f.write("rtk_fromfile  \nsecond line\n")
        rt("runs", "--limit", "1", env=dict(os.environ, RUNTRACK_API_KEY="rtk_env",
                                            RUNTRACK_API_TOKEN="old"))
        rt("runs", "--limit", "1", "--api-key-file", kfile,
           env=dict(os.environ, RUNTRACK_API_KEY="rtk_env"))
        rt("runs", "--limit", "1", env=dict(os.environ, RUNTRACK_API_KEY_FILE=kfile))
        check([a for _, _, a in REQUESTS] == ["Bearer rtk_env", "Bearer rtk_fromfile",
                                              "Bearer rtk_fromfile"], "key %r" % REQUESTS)
        _, err = rt("runs", "--api-key-file", os.path.join(kdir, "none"), code=78)
        check("cannot read" in err, "missing key file %r" % err)
        open(kfile, "w").close()
        _, err = rt("runs", "--api-key-file", kfile, code=78)
        check("no key" in err, "empty key file %r" % err)
        _, err = rt("runs", "--cacert", os.path.join(kdir, "none"), code=78)
        check("--cacert" in err and "cannot read" in err, "missing CA file %r" % err)
        # A key goes over plain http only to a loopback host (this server), unless allowed;
        # the refusal names the host, never the key. Without a key, plain http is fine.
        REQUESTS.clear()
        for host in ("192.0.2.1", "example.invalid", "127.0.0.2.example.invalid"):
            _, err = rt("runs", "--api", "http://%s:9" % host, code=78,
                        env=dict(os.environ, RUNTRACK_API_KEY="rtk_secret_x"))
            check("refusing to send the API key" in err and "rtk_secret_x" not in err,
                  "key over http to %s: %r" % (host, err))
        check(REQUESTS == [], "nothing was sent")
        rt("runs", "--api", "http://192.0.2.1:9", "--timeout", "0.2", code=69)
        _, err = rt("runs", "--api", "http://192.0.2.1:9", "--timeout", "0.2", "--allow-http",
                    code=69, env=dict(os.environ, RUNTRACK_API_KEY="rtk_secret_x"))
        check("rtk_secret_x" not in err, "key in the error %r" % err)
        rt("runs", "--api", "http://192.0.2.1:9", "--timeout", "0.2", code=69,
           env=dict(os.environ, RUNTRACK_API_KEY="k", RUNTRACK_API_ALLOW_HTTP="1"))
        rt("runs", "--api", "http://localhost:%d" % srv.server_address[1], "--limit", "1",
           env=dict(os.environ, RUNTRACK_API_KEY="k"))
        shutil.rmtree(kdir)

        # Filters and names are escaped into the query string and path.
        REQUESTS.clear()
        rt("runs", "--job", "a b&c=d/é", "--status", "failed", "--limit", "1")
        rt("last-success", "x/y z?.py")
        check(REQUESTS[0][1].get("job") == "a b&c=d/é" and REQUESTS[0][1]["status"] == "failed",
              "query escaping %r" % REQUESTS[0:1])
        check(REQUESTS[1][0] == "/api/jobs/x/y z?.py/last-success", "path escaping %r"
              % REQUESTS[1:2])

        # logs --follow of a live run polls with after_seq and ends with Ctrl-C (exit 0).
        REQUESTS.clear()
        f = subprocess.Popen([CLI, "logs", "--follow", "--json", LIVE], stdout=subprocess.PIPE,
                             text=True)
        got = [json.loads(f.stdout.readline())["message"] for _ in range(2)]
        deadline = time.time() + 20
        while time.time() < deadline and sum(1 for p, q, _ in REQUESTS
                                             if q.get("after_seq") == "2") < 2:
            time.sleep(0.1)
        f.send_signal(signal.SIGINT)
        rest, _ = f.communicate(timeout=20)
        check(got == ["line 1", "line 2"] and rest == "", "follow output %r %r" % (got, rest))
        check(f.returncode == 0, "follow ended by SIGINT exits 0, not %d" % f.returncode)
        polls = [q.get("after_seq") for p, q, _ in REQUESTS if p.endswith("/logs")]
        check(polls[0] == "0" and polls.count("2") >= 2, "follow polls after the last seq %r"
              % polls)

        # logs --follow right after `runtrack start`: the run is not stored yet (404), and is
        # waited for (up to --timeout) instead of being "no such run" at once.
        out, _ = rt("logs", "--follow", "--json", LATE)
        check([json.loads(l)["message"] for l in out.splitlines()] == ["late line"],
              "follow waits for a run not stored yet: %r" % out)
        t0 = time.time()
        _, err = rt("logs", "--follow", "--timeout", "1", "01a21278-3a10-7f27-92ad-9472173ff319",
                    code=66)
        check("no such run" in err and 0.9 < time.time() - t0 < 5,
              "follow of a run that never comes: 66 after --timeout (%.1fs) %r"
              % (time.time() - t0, err))
        rt("logs", "01a21278-3a10-7f27-92ad-9472173ff319", code=66)  # without --follow: at once

        # Text from the API cannot drive the terminal.
        out, _ = rt("show", RUN)
        check("\x1b" not in out and "\x07" not in out, "escapes removed: %r" % out)
        check("evil?[2J.py" in out and "line1 line2" in out and "?]0;owned?hi" in out,
              "control characters shown as '?' / spaces: %r" % out)
        out, _ = rt("show", RUN, "--json")
        check(json.loads(out)["job"] == "evil\x1b[2J.py", "--json keeps the API's text")

        # Answers the real API never gives.
        for mode, code, words in [("notjson", 65, "bad answer"), ("array", 65, "not a JSON object"),
                                  ("500", 65, "HTTP 500: boom"),
                                  ("503", 69, "API unavailable"),
                                  ("401", 77, "RUNTRACK_API_KEY"), ("cut", 69, "unreachable")]:
            SERVER_MODE[0] = mode
            for cmd in (["runs"], ["show", RUN], ["logs", RUN]):
                _, err = rt(*cmd, code=code)
                check(words in err, "%s / %s: %r" % (mode, cmd[0], err))
        SERVER_MODE[0] = "stuck"  # a cursor that never moves cannot make --all loop
        _, err = rt("runs", "--all", code=65)
        check("next_cursor does not move" in err, "stuck cursor %r" % err)
        SERVER_MODE[0] = ""
        # A 404 is "no such run" where a run was asked for, a bad answer elsewhere.
        os.environ["RUNTRACK_API"] = base + "/nothing-here"
        _, err = rt("show", RUN, code=66)
        check(err.strip() == "runtrack: no such run: " + RUN, "404 %r" % err)
        rt("runs", code=65)
        os.environ["RUNTRACK_API"] = base
    finally:
        srv.shutdown()
        srv.server_close()

    # Nothing listening: 69 (the port was just freed by the server above).
    _, err = rt("runs", "--api", base, code=69)
    check("API unreachable at " + base in err, "69: %r" % err)
    rt("health", "--api", base, "--timeout", "0.5", code=69)

    # Usage errors, before any request.
    for args in (["runs", "x"], ["runs", "--limit", "-1"], ["runs", "--limit", "2x"],
                 ["runs", "--limit", "1", "--all"], ["runs", "--follow"], ["runs", "--bogus"],
                 ["runs", "--status"], ["show"], ["show", RUN, RUN], ["show", RUN, "--limit",
                                                                      "1001"],
                 ["logs"], ["logs", RUN, "--level", "loud"], ["logs", RUN, "--window", "3"],
                 ["last-success"], ["last-success", ""], ["health", "--window", "0"],
                 ["health", "--window", "99999"], ["health", "--status", "failed"],
                 ["runs", "--api", "ftp://host/"], ["runs", "--api", "/"],
                 ["runs", "--timeout", "0"]):
        rt(*args, code=64)
    rt("show", "nope", code=65)
    rt("logs", "01a21278-3a10-7f27-92ad-9472173ff31", code=65)
    out, _ = rt("runs", "--help")
    check(out.startswith("usage: runtrack runs") and "--api URL" in out, "runs --help")
    out, _ = rt("help", "health")
    check(out.startswith("usage: runtrack health"), "help health")
    out, _ = rt("--help")
    check("last-success JOB" in out and "logs RUN" in out, "global help lists queries")
    return verdict("test_cliq_unit")


if __name__ == "__main__":
    sys.exit(main())
