#!/usr/bin/python3
"""API keys, scopes and the audit trail over real HTTP (docs/api.md, Authentication).

Run by ctest through tests/lib/with_services.sh (fresh database in RUNTRACK_PG_DSN):
    test_auth.py rt_api_serve runtrack-consumer SOURCE_DIR
- docs/api.md's scope table is exactly what the route table prints (runtrack-consumer
  scopes-doc), and every row of it is walked without a key and with a read, control and admin
  key: allowed at or above its scope, 401 (no/bad key) or 403 (scope too low) below;
- revoked and expired keys are refused (within auth_cache_ms), a job-glob key outside its glob;
- the keys command (create/list/revoke, exit codes), safe defaults (auth required off loopback,
  refused without a secret, off refused there without auth_insecure, which warns);
- the audit trail records state-changing requests, allowed or refused, and no key or secret
  shows up in it, in responses, in the server's log or in api_keys.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

from apitest import CHECKS, DSN, FAILURES, SERVE, ServeProcess, check, psql  # noqa: F401

CONSUMER = sys.argv[2]
SOURCE = sys.argv[3]
SECRET = "test-secret-" + uuid.uuid4().hex
LEVEL = {"open": 0, "read": 1, "control": 2, "admin": 3}
CACHE_MS = 300
LOG = tempfile.NamedTemporaryFile(prefix="rt_auth_", suffix=".log", delete=False)
KEYS = {}  # name -> (id, key)


class Server(ServeProcess):
    """rt_api_serve with its log in LOG; expect_fail: it must refuse to start (rc kept)."""

    def __init__(self, *args, expect_fail=False):
        self.proc = subprocess.Popen([SERVE, "--maintenance-interval", "0", *args],
                                     stdout=subprocess.PIPE, stderr=LOG,
                                     env=dict(os.environ, RUNTRACK_PG_DSN=DSN), text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening [0-9.]+:(\d+)", line)
        if expect_fail:
            self.rc = self.proc.wait(timeout=30) if not m else None
            if m:
                ServeProcess.stop(self)
            return
        if not m:
            self.proc.kill()
            raise RuntimeError("rt_api_serve did not start: %r" % line)
        self.base = "http://127.0.0.1:%s" % m.group(1)

    def req(self, path, method="GET", key=None, body=None, auth=None):
        headers = {}
        if key:
            headers["Authorization"] = "Bearer " + key
        if auth:
            headers["Authorization"] = auth
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        r = urllib.request.Request(self.base + path, method=method, data=data, headers=headers)
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                return resp.status, resp.headers, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()


    def stop(self):
        super().stop()
        check(self.proc.returncode == 0, "rt_api_serve exited with %s (see its log: a sanitizer "
              "report?)" % self.proc.returncode)


def keys_cmd(*args, secret=SECRET, env_extra=None):
    env = dict(os.environ, RUNTRACK_PG_DSN=DSN)
    env.pop("RUNTRACK_AUTH_SECRET", None)
    if secret:
        env["RUNTRACK_AUTH_SECRET"] = secret
    env.update(env_extra or {})
    p = subprocess.run([CONSUMER, "keys", *args], capture_output=True, text=True, env=env,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def create_key(name, scope, *extra):
    rc, out, err = keys_cmd("create", "--name", name, "--scope", scope, *extra)
    check(rc == 0, "keys create %s: exit %s: %s" % (name, rc, err))
    key = out.strip()
    check(re.fullmatch(r"rtk_[a-z0-9]{8}_[A-Za-z0-9_-]{43}", key) is not None,
          "keys create prints the key alone: %r" % out)
    m = re.search(r"created API key (\d+)", err)
    check(m is not None, "keys create says the id: %r" % err)
    KEYS[name] = (int(m.group(1)) if m else 0, key)
    return key


def scope_table():
    """The scope table of docs/api.md: its lines, as written there."""
    text = open(os.path.join(SOURCE, "docs", "api.md")).read()
    start = text.index("| method | path | scope | audited as |")
    lines = []
    for line in text[start:].splitlines():
        if not line.startswith("|"):
            break
        lines.append(line)
    return lines


def test_table_matches_code():
    doc = scope_table()
    out = subprocess.run([CONSUMER, "scopes-doc"], capture_output=True, text=True).stdout
    code = out.strip().splitlines()
    check(doc == code, "docs/api.md scope table differs from the route table "
          "(regenerate with runtrack-consumer scopes-doc):\n%s\n---\n%s" %
          ("\n".join(doc), "\n".join(code)))
    return doc


def rows(lines):
    """(method, [concrete paths], scope, needs job glob, audited) per row."""
    out = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        method = cells[0].strip("`")
        paths = re.findall(r"`([^`]+)`", cells[1])
        scope = cells[2].split()[0].rstrip(",")
        out.append((method, paths, scope, "metrics_auth" in cells[2], cells[3] != ""))
    return out


def concrete(path, admin):
    if "{id}" in path:  # a throwaway key to revoke
        st, _, body = admin.req("/api/keys", "POST", KEYS["admin"][1],
                                {"name": "throwaway", "scope": "read"})
        check(st == 201, "POST /api/keys (throwaway): %s %s" % (st, body[:200]))
        return path.replace("{id}", str(json.loads(body)["id"]) if st == 201 else "1")
    return (path.replace("{run_id}", str(uuid.uuid4())).replace("{job}", "team_a/x.py")
            .replace("{file}", "app.js"))


def test_walk(srv, table):
    """Every row, without a key and with each scope's key: allowed or refused as the row says."""
    for method, paths, scope, _, _ in rows(table):
        for path in paths:
            for who in (None, "read", "control", "admin"):
                p = concrete(path, srv)
                body = {"name": "walk", "scope": "read"} if method == "POST" else None
                key = KEYS[who][1] if who else None
                st, headers, text = srv.req(p, method, key, body)
                have = LEVEL[who] if who else 0
                what = "%s %s as %s -> %s %s" % (method, p, who or "no key", st, text[:160])
                if scope == "open" or have >= LEVEL[scope]:
                    check(st not in (401, 403) and st < 500, "allowed: " + what)
                elif who is None:
                    check(st == 401 and json.loads(text)["error"]["code"] == "unauthorized"
                          and headers.get("WWW-Authenticate", "").startswith("Bearer"),
                          "401 expected: " + what)
                else:
                    check(st == 403 and json.loads(text)["error"]["code"] == "forbidden",
                          "403 expected: " + what)


def test_refusals(srv):
    st, _, body = srv.req("/api/runs", auth="Bearer not-a-key")
    check(st == 401 and "rtk_" in body, "malformed key -> 401: %s %s" % (st, body))
    st, _, _ = srv.req("/api/runs", auth="Basic YWRtaW46YWRtaW4=")
    check(st == 401, "Basic auth -> 401: %s" % st)
    forged = KEYS["read"][1][:-4] + "AAAA"
    st, _, body = srv.req("/api/runs", key=forged)
    check(st == 401 and "unknown" in body, "a known prefix with a wrong secret part -> 401: %s" % body)
    # Job glob: inside and outside.
    glob = KEYS["glob"][1]
    st, _, body = srv.req("/api/jobs/team_a/x.py/last-success", key=glob)
    check(st not in (401, 403), "glob key inside team_a/*: %s %s" % (st, body[:100]))
    st, _, body = srv.req("/api/jobs/team_b/x.py/last-success", key=glob)
    check(st == 403 and "team_a/*" in body, "glob key outside its glob -> 403: %s %s" % (st, body))
    st, _, body = srv.req("/api/jobs/team_b/x.py/rollup", key=glob)
    check(st == 403, "glob key outside its glob (rollup) -> 403: %s" % st)
    # Revoked over the API: refused once the cache entry is older than auth_cache_ms.
    victim = KEYS["victim"]
    st, _, _ = srv.req("/api/runs", key=victim[1])
    check(st == 200, "victim key works before revocation: %s" % st)
    st, _, body = srv.req("/api/keys/%d" % victim[0], "DELETE", KEYS["admin"][1])
    check(st == 200 and json.loads(body)["revoked"] is True, "DELETE /api/keys/{id}: %s %s" % (st, body))
    time.sleep(CACHE_MS / 1000 + 0.2)
    st, _, body = srv.req("/api/runs", key=victim[1])
    check(st == 401 and "revoked" in body, "revoked key -> 401: %s %s" % (st, body))
    st, _, _ = srv.req("/api/keys/999999", "DELETE", KEYS["admin"][1])
    check(st == 404, "DELETE of no such key -> 404: %s" % st)
    # Revoked with the command.
    victim2 = KEYS["victim2"]
    rc, out, err = keys_cmd("revoke", "rtk_" + victim2[1][4:12], secret=None)
    check(rc == 0 and "revoked key %d" % victim2[0] in out, "keys revoke PREFIX: %s %s %s" % (rc, out, err))
    time.sleep(CACHE_MS / 1000 + 0.2)
    st, _, _ = srv.req("/api/runs", key=victim2[1])
    check(st == 401, "key revoked by the command -> 401: %s" % st)
    # Expired.
    exp = KEYS["expiring"]
    st, _, _ = srv.req("/api/runs", key=exp[1])
    check(st == 200, "expiring key works before its time: %s" % st)
    psql("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = %d" % exp[0])
    time.sleep(CACHE_MS / 1000 + 0.2)
    st, _, body = srv.req("/api/runs", key=exp[1])
    check(st == 401 and "expired" in body, "expired key -> 401: %s %s" % (st, body))
    # Behind keys, cached reports are private; a new key's answer is never stored.
    st, headers, _ = srv.req("/api/health", key=KEYS["read"][1])
    check(st == 200 and headers.get("Cache-Control", "").startswith("private, max-age="),
          "/api/health behind a key: Cache-Control %r" % headers.get("Cache-Control"))
    st, headers, _ = srv.req("/api/keys", "POST", KEYS["admin"][1], {"name": "n", "scope": "read"})
    check(st == 201 and headers.get("Cache-Control") == "no-store",
          "a created key's answer: %s Cache-Control %r" % (st, headers.get("Cache-Control")))
    # Bad create bodies are 400s, and audited too.
    for bad in ({"name": "x", "scope": "root"}, {"name": "", "scope": "read"}, {"scope": "read"},
                {"name": "x", "scope": "read", "extra": 1}):
        st, _, _ = srv.req("/api/keys", "POST", KEYS["admin"][1], bad)
        check(st == 400, "POST /api/keys %r -> 400: %s" % (bad, st))


def test_audit_and_secrets(srv):
    admin = KEYS["admin"]
    st, _, body = srv.req("/api/keys", "POST", None, {"name": "sneaky", "scope": "admin"})
    check(st == 401, "POST /api/keys without a key -> 401: %s" % st)
    st, _, body = srv.req("/api/audit?limit=1000", key=admin[1])
    check(st == 200, "GET /api/audit: %s %s" % (st, body[:200]))
    entries = json.loads(body)["entries"] if st == 200 else []
    by_action = {}
    for e in entries:
        by_action.setdefault(e["action"], []).append(e)
    creates = [e for e in by_action.get("keys.create", []) if e["result"] == 201]
    check(creates and creates[0]["key_id"] == admin[0] and creates[0]["key_name"] == "admin"
          and creates[0]["remote_addr"] == "127.0.0.1" and creates[0]["target"].startswith("key "),
          "audit: key creation by the admin key, with id, name, address, target: %r" % creates[:1])
    refused = [e for e in by_action.get("keys.create", []) if e["result"] == 401]
    check(refused and refused[0]["key_id"] is None, "audit: a refused create, no key: %r" % refused[:1])
    check(any(e["result"] == 403 and e["key_name"] == "read" for e in by_action.get("keys.create", [])),
          "audit: a create refused for scope, by the read key")
    check(any(e["result"] == 200 and e["target"] == "key %d" % KEYS["victim"][0]
              for e in by_action.get("keys.revoke", [])), "audit: the revocation")
    check(any(e["remote_addr"] == "local" for e in by_action.get("keys.create", [])),
          "audit: the command's creations (remote_addr local)")
    st, _, body2 = srv.req("/api/audit?limit=2", key=admin[1])
    page = json.loads(body2)
    check(len(page["entries"]) == 2 and page["next_before"] == page["entries"][1]["id"],
          "audit pages by id: %s" % body2[:200])
    # last_used_at is written.
    st, _, body3 = srv.req("/api/keys", key=admin[1])
    listed = {k["id"]: k for k in json.loads(body3)["keys"]} if st == 200 else {}
    check(listed.get(admin[0], {}).get("last_used_at") is not None, "admin key has last_used_at")
    check(listed.get(KEYS["victim"][0], {}).get("revoked_at") is not None, "revoked_at listed")
    # No key and no secret anywhere.
    LOG.flush()
    log = open(LOG.name, errors="replace").read()
    dump = psql("SELECT string_agg(t::text, ' ') FROM api_keys t") + psql(
        "SELECT coalesce(string_agg(t::text, ' '), '') FROM audit_log t")
    for name, (_, key) in KEYS.items():
        for where, text in (("audit answer", body), ("keys answer", body3), ("server log", log),
                            ("api_keys/audit_log rows", dump)):
            check(key not in text and key[13:] not in text, "%s key appears in %s" % (name, where))
    check(SECRET not in log and SECRET not in dump, "the server secret appears in the log or tables")


def test_keys_command():
    rc, out, err = keys_cmd("create", "--name", "x")
    check(rc == 2 and "--scope" in err and not out, "create without --scope: exit 2: %s %s" % (rc, err))
    rc, out, err = keys_cmd("create", "--name", "x", "--scope", "read", secret=None)
    check(rc == 1 and "auth_secret_file" in err and not out,
          "create without a secret: exit 1 saying how: %s %s" % (rc, err))
    rc, out, err = keys_cmd("create", "--name", "x", "--scope", "read", "--expires", "0")
    check(rc == 2, "create --expires 0: exit 2: %s" % rc)
    rc, out, err = keys_cmd("revoke", "424242", secret=None)
    check(rc == 3 and "no such key" in err, "revoke unknown: exit 3: %s %s" % (rc, err))
    rc, out, err = keys_cmd("list", secret=None)
    check(rc == 0 and out.startswith("id\tprefix\tname\tscope") and "admin" in out,
          "keys list: %s %s" % (rc, out[:200]))
    for _, key in KEYS.values():
        check(key not in out and key[13:] not in out, "keys list shows a key")
    rc, out, err = keys_cmd("create", "--help", secret=None)
    check(rc == 0 and "keys create --name NAME --scope" in out, "keys create --help: %s" % rc)
    rc, out, err = keys_cmd("frobnicate")
    check(rc == 2, "unknown keys subcommand: exit 2: %s" % rc)


def test_defaults():
    s = Server("--addr", "0.0.0.0", expect_fail=True)
    LOG.flush()
    check(s.rc not in (None, 0) and "no server secret" in open(LOG.name).read(),
          "auth required off loopback without a secret: refused (%s)" % s.rc)
    s = Server("--addr", "0.0.0.0", "--set", "auth=off", "--set", "auth_secret=" + SECRET,
               expect_fail=True)
    LOG.flush()
    check(s.rc not in (None, 0) and "auth_insecure" in open(LOG.name).read(),
          "auth off off loopback without auth_insecure: refused (%s)" % s.rc)
    before = len(open(LOG.name).read())
    s = Server("--addr", "0.0.0.0", "--set", "auth=off", "--set", "auth_insecure=true")
    st, _, _ = s.req("/api/runs")
    s.stop()
    LOG.flush()
    check(st == 200 and "authentication is OFF" in open(LOG.name).read()[before:],
          "auth off + auth_insecure: serves, with a warning at start (%s)" % st)
    # Required by default off loopback: a read route needs a key, /healthz does not.
    s = Server("--addr", "0.0.0.0", "--set", "auth_secret=" + SECRET)
    st1, _, _ = s.req("/api/runs")
    st2, _, _ = s.req("/healthz")
    st3, _, _ = s.req("/readyz")
    st4, _, _ = s.req("/metrics")
    s.stop()
    check((st1, st2, st3, st4) == (401, 200, 200, 200),
          "0.0.0.0 default: /api/runs 401, /healthz /readyz 200, /metrics open: %s" %
          ((st1, st2, st3, st4),))
    # Loopback default: off (existing tools and the quick start keep working).
    s = Server()
    st, _, _ = s.req("/api/runs")
    s.stop()
    check(st == 200, "loopback default: auth off: %s" % st)


def main():
    boot = Server("--migrate")
    boot.stop()
    create_key("admin", "admin")
    create_key("control", "control")
    create_key("read", "read")
    create_key("glob", "read", "--jobs", "team_a/*")
    create_key("victim", "read")
    create_key("victim2", "read")
    create_key("expiring", "read", "--expires", "30")
    table = test_table_matches_code()
    srv = Server("--set", "auth=required", "--set", "auth_secret=" + SECRET, "--set",
                 "auth_cache_ms=%d" % CACHE_MS, "--set", "auth_touch_s=0", "--set",
                 "metrics_auth=true")
    try:
        for t in (lambda: test_walk(srv, table), lambda: test_refusals(srv),
                  lambda: test_audit_and_secrets(srv)):
            try:
                t()
            except Exception as e:  # report and go on
                FAILURES.append("raised %r" % e)
                print("FAIL: raised", repr(e), file=sys.stderr)
    finally:
        srv.stop()
    test_keys_command()
    test_defaults()
    if FAILURES:
        print("server log kept: " + LOG.name)
    else:
        os.unlink(LOG.name)
    print("%d checks, %d failures" % (CHECKS[0], len(FAILURES)))
    print("%d passed, %d failed" % (CHECKS[0] - len(FAILURES), len(FAILURES)))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
