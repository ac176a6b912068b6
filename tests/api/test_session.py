#!/usr/bin/python3
"""The dashboard login over real HTTP (docs/api.md, Sessions).

Run by ctest through tests/lib/with_services.sh (fresh database in RUNTRACK_PG_DSN):
    test_session.py rt_api_serve runtrack-consumer
- POST /api/session (JSON and form) answers a session cookie (HttpOnly, SameSite=Strict, Path=/,
  Secure only under HTTPS or http_cookie_secure = true) and a CSRF token; GET /api/session says
  who; the cookie authenticates like the key it came from;
- a state-changing request with the cookie needs the CSRF token (missing, wrong, another
  Origin or Sec-Fetch-Site -> 403 csrf_failed, nothing changed); Bearer requests need none;
- logout ends the session (the cookie gets 401 afterwards); a session of a revoked key, an
  expired one and an idle one are refused;
- failed logins from one address are limited (429 with Retry-After), bad bodies are not counted;
- login and logout are audited; no session id or CSRF token in the log, the audit trail, the
  tables or /metrics.
"""
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid

from apitest import CHECKS, DSN, FAILURES, SERVE, ServeProcess, check, psql  # noqa: F401
from rtcheck import verdict

CONSUMER = sys.argv[2]
SECRET = "test-secret-" + uuid.uuid4().hex
LOG = tempfile.NamedTemporaryFile(prefix="rt_session_", suffix=".log", delete=False)
TMP = tempfile.mkdtemp(prefix="rt_session_")
KEYS = {}  # name -> (id, key)
SEEN = []  # every session id and CSRF token handed out: none may show up anywhere


class Server(ServeProcess):
    def __init__(self, *args, tls=False):
        self.proc = subprocess.Popen([SERVE, "--maintenance-interval", "0", *args],
                                     stdout=subprocess.PIPE, stderr=LOG,
                                     env=dict(os.environ, RUNTRACK_PG_DSN=DSN), text=True)
        m = re.match(r"listening [0-9.]+:(\d+)", self.proc.stdout.readline())
        if not m:
            self.proc.kill()
            raise RuntimeError("rt_api_serve did not start")
        self.base = "%s://127.0.0.1:%s" % ("https" if tls else "http", m.group(1))
        self.ctx = ssl._create_unverified_context() if tls else None

    def req(self, path, method="GET", body=None, headers=None, cookie=None, key=None,
            form=False):
        h = dict(headers or {})
        if cookie:
            h["Cookie"] = "runtrack_session=" + cookie
        if key:
            h["Authorization"] = "Bearer " + key
        data = None
        if body is not None and form:
            data = body.encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        r = urllib.request.Request(self.base + path, method=method, data=data, headers=h)
        try:
            with urllib.request.urlopen(r, timeout=30, context=self.ctx) as resp:
                return resp.status, resp.headers, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def login(self, name, **kw):
        """(status, session id or None, csrf token or None, Set-Cookie, body)."""
        st, headers, body = self.req("/api/session", "POST", {"key": KEYS[name][1]}, **kw)
        cookie = headers.get("Set-Cookie", "")
        m = re.match(r"runtrack_session=([A-Za-z0-9_-]{43});", cookie)
        csrf = json.loads(body).get("csrf_token") if st == 200 else None
        if m:
            SEEN.append(m.group(1))
        if csrf:
            SEEN.append(csrf)
        return st, m.group(1) if m else None, csrf, cookie, body

    def stop(self):
        super().stop()
        check(self.proc.returncode == 0, "rt_api_serve exited with %s" % self.proc.returncode)


def create_key(name, scope):
    env = dict(os.environ, RUNTRACK_PG_DSN=DSN, RUNTRACK_AUTH_SECRET=SECRET)
    p = subprocess.run([CONSUMER, "keys", "create", "--name", name, "--scope", scope],
                       capture_output=True, text=True, env=env, timeout=60)
    m = re.search(r"created API key (\d+)", p.stderr)
    check(p.returncode == 0 and m, "keys create %s: %s" % (name, p.stderr))
    KEYS[name] = (int(m.group(1)) if m else 0, p.stdout.strip())


def nkeys():
    return int(psql("SELECT count(*) FROM api_keys"))


def error_code(body):
    try:
        return json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def test_login(srv):
    st, sid, csrf, cookie, body = srv.login("admin")
    check(st == 200 and sid and csrf and re.fullmatch(r"[0-9a-f]{64}", csrf),
          "login: 200, a session cookie and a CSRF token: %s %r %s" % (st, cookie, body[:200]))
    attrs = [a.strip().lower() for a in cookie.split(";")[1:]]
    check("httponly" in attrs and "samesite=strict" in attrs and "path=/" in attrs
          and "secure" not in attrs, "cookie attributes over plain HTTP: %r" % attrs)
    info = json.loads(body) if st == 200 else {}
    check(info.get("key_name") == "admin" and info.get("scope") == "admin"
          and info.get("via") == "session" and info.get("expires_at"), "login answer: %s" % body)
    check(sid not in body, "the session id is not in the login's JSON answer")
    st, _, body = srv.req("/api/runs", cookie=sid)
    check(st == 200, "the cookie reads /api/runs: %s %s" % (st, body[:200]))
    st, _, body = srv.req("/api/session", cookie=sid)
    who = json.loads(body) if st == 200 else {}
    check(who.get("csrf_token") == csrf and who.get("key_name") == "admin",
          "GET /api/session gives the same CSRF token back: %s" % body)
    st, _, body = srv.req("/api/session", key=KEYS["read"][1])
    who = json.loads(body) if st == 200 else {}
    check(who.get("via") == "key" and who.get("csrf_token") is None and who.get("scope") == "read",
          "GET /api/session with a Bearer key: %s" % body)
    st, _, body = srv.req("/api/session")
    check(st == 401 and error_code(body) == "unauthorized", "GET /api/session alone: 401 JSON")
    # A form login (an HTML form's encoding) works too.
    st, headers, body = srv.req("/api/session", "POST", "key=" + KEYS["read"][1], form=True)
    m = re.match(r"runtrack_session=([A-Za-z0-9_-]{43});", headers.get("Set-Cookie", ""))
    check(st == 200 and m and json.loads(body)["scope"] == "read", "form login: %s %s" % (st, body))
    if m:
        SEEN.append(m.group(1))
        SEEN.append(json.loads(body)["csrf_token"])
        st, _, body = srv.req("/api/keys", cookie=m.group(1))
        check(st == 403 and error_code(body) == "forbidden", "a read session cannot list keys: %s" % st)
    # A login posted from another site is refused (login CSRF).
    st, _, body = srv.req("/api/session", "POST", {"key": KEYS["read"][1]},
                          headers={"Sec-Fetch-Site": "cross-site"})
    check(st == 403 and error_code(body) == "csrf_failed", "cross-site login: %s %s" % (st, body))
    st, _, body = srv.req("/api/session", "POST", {"key": KEYS["read"][1]},
                          headers={"Origin": "http://evil.example"})
    check(st == 403 and error_code(body) == "csrf_failed", "login from another Origin: %s" % st)
    return sid, csrf


def test_csrf(srv, sid, csrf):
    before = nkeys()
    new = {"name": "csrf", "scope": "admin"}
    for what, headers in (("no token", {}), ("a wrong token", {"X-CSRF-Token": "0" * 64}),
                          ("a short token", {"X-CSRF-Token": csrf[:10]}),
                          ("another site's Origin", {"X-CSRF-Token": csrf, "Origin": "http://evil.example"}),
                          ("Sec-Fetch-Site cross-site", {"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}),
                          ("Sec-Fetch-Site same-site", {"X-CSRF-Token": csrf, "Sec-Fetch-Site": "same-site",
                                                        "Origin": srv.base})):
        st, _, body = srv.req("/api/keys", "POST", new, headers=headers, cookie=sid)
        check(st == 403 and error_code(body) == "csrf_failed",
              "POST /api/keys with the cookie and %s -> 403 csrf_failed: %s %s" % (what, st, body))
    # A cross-site HTML form: form-encoded, no header at all.
    st, _, body = srv.req("/api/session/logout", "POST", "x=1", form=True, cookie=sid)
    check(st == 403 and error_code(body) == "csrf_failed", "form POST to logout: %s %s" % (st, body))
    check(nkeys() == before, "no key was created by the refused requests")
    st, _, _ = srv.req("/api/runs", cookie=sid)
    check(st == 200, "the session still works after the refused requests: %s" % st)
    # A browser behind a proxy that rewrites Host: its Sec-Fetch-Site decides, not Origin.
    st, _, body = srv.req("/api/keys", "POST", {"name": "proxied", "scope": "read"}, cookie=sid,
                          headers={"X-CSRF-Token": csrf, "Origin": "https://runtrack.example.com",
                                   "Sec-Fetch-Site": "same-origin"})
    check(st == 201, "same-origin by Sec-Fetch-Site, Origin naming a proxy's host: %s %s" % (st, body[:200]))
    # The right token from the same origin: allowed.
    st, _, body = srv.req("/api/keys", "POST", new, cookie=sid,
                          headers={"X-CSRF-Token": csrf, "Origin": srv.base,
                                   "Sec-Fetch-Site": "same-origin"})
    check(st == 201, "POST /api/keys with the cookie and its token: %s %s" % (st, body[:200]))
    # Bearer needs no CSRF token (no browser sends it by itself).
    st, _, body = srv.req("/api/keys", "POST", {"name": "bearer", "scope": "read"},
                          key=KEYS["admin"][1])
    check(st == 201, "Bearer POST /api/keys without a CSRF token: %s" % st)
    # Another session's token does not fit this one.
    _, sid2, csrf2, _, _ = srv.login("admin")
    st, _, body = srv.req("/api/keys", "POST", new, cookie=sid, headers={"X-CSRF-Token": csrf2})
    check(csrf2 != csrf and st == 403, "another session's CSRF token -> 403: %s" % st)
    return sid2, csrf2


def test_logout(srv, sid, csrf):
    st, headers, body = srv.req("/api/session/logout", "POST", cookie=sid,
                                headers={"X-CSRF-Token": csrf})
    cookie = headers.get("Set-Cookie", "")
    check(st == 200 and json.loads(body)["logged_out"] is True and "Max-Age=0" in cookie,
          "logout: %s %s %r" % (st, body, cookie))
    st, headers, body = srv.req("/api/runs", cookie=sid)
    check(st == 401 and error_code(body) == "unauthorized" and "log in again" in body,
          "the cookie after logout -> 401 JSON: %s %s" % (st, body))
    st, _, _ = srv.req("/api/session/logout", "POST", cookie=sid, headers={"X-CSRF-Token": csrf})
    check(st == 401, "logout again with the ended session -> 401: %s" % st)
    st, _, body = srv.req("/api/session/logout", "POST", key=KEYS["read"][1])
    check(st == 200 and json.loads(body)["logged_out"] is False, "logout with a Bearer key: %s" % body)
    st, _, _ = srv.req("/api/runs", cookie="A" * 43)
    check(st == 401, "an unknown session id -> 401: %s" % st)
    st, _, _ = srv.req("/api/runs", cookie="not a session")
    check(st == 401, "a malformed session id -> 401: %s" % st)


def test_ends(srv):
    # The key revoked: its sessions end at once (no cache between them).
    _, sid, _, _, _ = srv.login("victim")
    st, _, _ = srv.req("/api/runs", cookie=sid)
    check(st == 200, "victim's session works: %s" % st)
    st, _, _ = srv.req("/api/keys/%d" % KEYS["victim"][0], "DELETE", key=KEYS["admin"][1])
    check(st == 200, "revoke victim: %s" % st)
    st, _, body = srv.req("/api/runs", cookie=sid)
    check(st == 401, "the session of a revoked key -> 401: %s %s" % (st, body))
    # Expired (session_max_s) and idle (session_idle_s), moved in time in the table.
    _, sid1, _, _, _ = srv.login("read")
    _, sid2, _, _, _ = srv.login("read")
    st1, _, _ = srv.req("/api/runs", cookie=sid1)
    st2, _, _ = srv.req("/api/runs", cookie=sid2)
    check((st1, st2) == (200, 200), "two read sessions work: %s %s" % (st1, st2))
    ids = psql("SELECT string_agg(id::text, ' ' ORDER BY id) FROM (SELECT id FROM api_sessions "
               "ORDER BY id DESC LIMIT 2) s").split()
    psql("UPDATE api_sessions SET expires_at = now() - interval '1 second' WHERE id = %s" % ids[0])
    psql("UPDATE api_sessions SET last_seen_at = now() - interval '2 hours' WHERE id = %s" % ids[1])
    st1, _, _ = srv.req("/api/runs", cookie=sid1)
    st2, _, _ = srv.req("/api/runs", cookie=sid2)
    check((st1, st2) == (401, 401), "expired and idle sessions -> 401: %s %s" % (st1, st2))
    # The table keeps no session id.
    dump = psql("SELECT string_agg(t::text, ' ') FROM api_sessions t")
    check(all(s not in dump for s in SEEN), "a session id or CSRF token is stored in api_sessions")
    check(psql("SELECT count(*) FROM api_sessions WHERE octet_length(token_hmac) <> 32") == "0",
          "api_sessions keeps 32-byte HMACs")


def test_rate_limit():
    srv = Server("--set", "auth=required", "--set", "auth_secret=" + SECRET, "--set",
                 "login_failures_per_min=3")
    try:
        for _ in range(5):
            st, _, _ = srv.req("/api/session", "POST", {"nokey": 1})
            check(st == 400, "a login without a key field -> 400 (not counted): %s" % st)
        wrong = KEYS["read"][1][:-4] + "AAAA"
        for i in range(3):
            st, _, body = srv.req("/api/session", "POST", {"key": wrong})
            check(st == 401 and error_code(body) == "unauthorized", "failed login %d -> 401: %s" % (i, st))
        st, headers, body = srv.req("/api/session", "POST", {"key": KEYS["read"][1]})
        retry = headers.get("Retry-After", "")
        check(st == 429 and error_code(body) == "too_many_logins" and retry.isdigit()
              and 1 <= int(retry) <= 60, "4th login after 3 failures -> 429 Retry-After: %s %r %s"
              % (st, retry, body))
        st, _, _ = srv.req("/api/runs", key=KEYS["read"][1])
        check(st == 200, "Bearer requests are not limited: %s" % st)
    finally:
        srv.stop()


def test_audit_and_secrets(srv):
    st, _, body = srv.req("/api/audit?limit=1000", key=KEYS["admin"][1])
    entries = json.loads(body)["entries"] if st == 200 else []
    logins = [e for e in entries if e["action"] == "session.login"]
    check(any(e["result"] == 200 and e["key_name"] == "admin" and e["target"] == "key %d" % KEYS["admin"][0]
              and e["remote_addr"] == "127.0.0.1" for e in logins), "audit: admin's login: %r" % logins[:2])
    check(any(e["result"] == 403 and e["key_id"] is None for e in logins), "audit: a refused login")
    logouts = [e for e in entries if e["action"] == "session.logout"]
    check(any(e["result"] == 200 and e["key_name"] == "admin" for e in logouts)
          and any(e["result"] == 403 for e in logouts), "audit: logouts, done and refused: %r" % logouts)
    st, _, metrics = srv.req("/metrics", key=KEYS["read"][1])
    LOG.flush()
    log = open(LOG.name, errors="replace").read()
    audit = psql("SELECT coalesce(string_agg(t::text, ' '), '') FROM audit_log t")
    for s in SEEN:
        for where, text in (("server log", log), ("audit trail", audit), ("audit answer", body),
                            ("/metrics", metrics)):
            check(s not in text, "a session id or CSRF token appears in the %s" % where)
    check(len(SEEN) >= 10, "tokens collected: %d" % len(SEEN))


def test_secure_flag():
    key_file, cert_file = os.path.join(TMP, "key.pem"), os.path.join(TMP, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key_file,
                    "-out", cert_file, "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    common = ("--set", "auth=required", "--set", "auth_secret=" + SECRET)
    for what, args, tls, secure in (
            ("HTTPS, auto", ("--set", "http_tls_cert_file=" + cert_file, "--set",
                             "http_tls_key_file=" + key_file), True, True),
            ("HTTP, http_cookie_secure = true", ("--set", "http_cookie_secure=true"), False, True),
            ("HTTPS, http_cookie_secure = false", ("--set", "http_tls_cert_file=" + cert_file,
                                                   "--set", "http_tls_key_file=" + key_file,
                                                   "--set", "http_cookie_secure=false"), True, False)):
        srv = Server(*common, *args, tls=tls)
        try:
            st, sid, _, cookie, _ = srv.login("admin")
            attrs = [a.strip().lower() for a in cookie.split(";")[1:]]
            check(st == 200 and ("secure" in attrs) == secure, "%s: Secure %s: %r" % (what, secure, cookie))
            st, _, _ = srv.req("/api/runs", cookie=sid)
            check(st == 200, "%s: the cookie works: %s" % (what, st))
        finally:
            srv.stop()
    # Keys off (loopback default): GET /api/session says so, and the dashboard asks for nothing.
    srv = Server()
    try:
        st, _, body = srv.req("/api/session")
        check(st == 200 and json.loads(body)["auth_required"] is False, "auth off: %s %s" % (st, body))
    finally:
        srv.stop()


def main():
    boot = Server("--migrate")
    boot.stop()
    for name, scope in (("admin", "admin"), ("read", "read"), ("victim", "read")):
        create_key(name, scope)
    srv = Server("--set", "auth=required", "--set", "auth_secret=" + SECRET, "--set",
                 "auth_cache_ms=0", "--set", "auth_touch_s=0", "--set", "metrics_auth=true")
    try:
        sid, csrf = test_login(srv)
        sid2, csrf2 = test_csrf(srv, sid, csrf)
        test_logout(srv, sid, csrf)
        test_ends(srv)
        test_audit_and_secrets(srv)
    except Exception as e:  # report and go on
        FAILURES.append("raised %r" % e)
        print("FAIL: raised", repr(e), file=sys.stderr)
    finally:
        srv.stop()
    test_rate_limit()
    test_secure_flag()
    if FAILURES:
        print("server log kept: " + LOG.name)
    else:
        os.unlink(LOG.name)
    print("%d checks" % CHECKS[0])
    return verdict("integration.api.session")


if __name__ == "__main__":
    sys.exit(main())
