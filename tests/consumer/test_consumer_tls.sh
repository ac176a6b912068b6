#!/usr/bin/env bash
# HTTPS of the HTTP API with a certificate made here (a CA and a server certificate for
# localhost / 127.0.0.1): refused settings at start (one file only, a missing file, a key of
# another certificate) without the key's contents in the message; then a live consumer serving
# HTTPS: `runtrack runs` with the CA reads the ingested run, without it exits 76 with a clear
# message; curl --cacert works; plain HTTP to the TLS port fails cleanly (69, with a hint);
# after the files are replaced and SIGHUP sent, a new connection sees the new certificate and
# the consumer keeps ingesting; a reload with a broken key keeps the previous certificate and
# counts the failure in /metrics. The key's contents and the API key never appear in the
# consumer's log, /metrics or the CLI's stderr. The CLI refuses to send a key over plain http to
# a non-loopback host (78).
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
rt_tmpdir T
RT="$RUNTRACK_BUILD_DIR/producer/runtrack"
command -v openssl >/dev/null || rt_die "openssl CLI missing (deploy/install-deps.sh)"
API_KEY="rtk_test_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

# ---- certificates: a CA, and two server certificates it signed (the second for the reload)
ossl() { openssl "$@" 2>>"$T/openssl.log" || rt_die "openssl $1 failed: $(tail -3 "$T/openssl.log")"; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 \
    -subj "/CN=runtrack test CA"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$T/san.ext"
server_cert() { # NAME: $T/NAME.key, $T/NAME.pem
    ossl req -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=localhost"
    ossl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
        -out "$T/$1.pem" -days 2 -extfile "$T/san.ext"
}
server_cert one
server_cert two
fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }
FP_ONE=$(fingerprint "$T/one.pem")
FP_TWO=$(fingerprint "$T/two.pem")
mkdir "$T/live"
cp "$T/one.pem" "$T/live/cert.pem"
cp "$T/one.key" "$T/live/key.pem"
chmod 600 "$T/live/key.pem"

# no_secret FILE WHAT: no line of either private key's base64 body, and not the API key.
no_secret() {
    local k line
    for k in "$T/one.key" "$T/two.key"; do
        while IFS= read -r line; do
            case $line in -----*) continue ;; esac
            ! grep -qF -- "$line" "$1" || rt_die "$2 holds a line of the private key $k"
        done <"$k"
    done
    ! grep -qF -- "$API_KEY" "$1" || rt_die "$2 holds the API key"
}

# ---- 1. settings refused at start: exit 2, one line naming the setting, no key contents
refused() { # WHAT PATTERN ENV...
    local what=$1 pat=$2 rc=0
    shift 2
    env RUNTRACK_HTTP_PORT=0 "$@" "$CT_BIN" migrate >"$T/out" 2>"$T/refused.log" || rc=$?
    [ "$rc" = 2 ] || rt_die "$what: exit $rc, expected 2: $(cat "$T/refused.log")"
    grep -q -- "$pat" "$T/refused.log" || rt_die "$what: message: $(cat "$T/refused.log")"
    no_secret "$T/refused.log" "$what message"
    echo "refused ($what): $(head -1 "$T/refused.log")"
}
refused "cert only" "HTTPS needs both" RUNTRACK_HTTP_TLS_CERT_FILE="$T/live/cert.pem"
refused "key only" "HTTPS needs both" RUNTRACK_HTTP_TLS_KEY_FILE="$T/live/key.pem"
refused "missing key file" "cannot read" RUNTRACK_HTTP_TLS_CERT_FILE="$T/live/cert.pem" \
    RUNTRACK_HTTP_TLS_KEY_FILE="$T/nonexistent.key"
refused "key of another certificate" "not a usable pair" \
    RUNTRACK_HTTP_TLS_CERT_FILE="$T/live/cert.pem" RUNTRACK_HTTP_TLS_KEY_FILE="$T/two.key"
refused "key given as certificate" "not a PEM certificate" \
    RUNTRACK_HTTP_TLS_CERT_FILE="$T/one.key" RUNTRACK_HTTP_TLS_KEY_FILE="$T/one.key"

# ---- 2. a live consumer serving HTTPS
pid=
rt_on_exit '[ -n "$pid" ] && kill -9 $pid 2>/dev/null'
RUNTRACK_HTTP_PORT=0 RUNTRACK_HTTP_TLS_CERT_FILE="$T/live/cert.pem" \
    RUNTRACK_HTTP_TLS_KEY_FILE="$T/live/key.pem" "$CT_BIN" 2>"$T/c.log" &
pid=$!
rt_wait_for "grep -q 'HTTP API listening' '$T/c.log'" 30 || rt_die "API never listened: $(tail -5 "$T/c.log")"
port=$(sed -n 's/.*HTTP API listening.*port=\([0-9]*\).*scheme=https.*/\1/p' "$T/c.log" | head -1)
[ -n "$port" ] || rt_die "no https port in the log: $(grep 'HTTP API' "$T/c.log")"
grep -q "HTTPS certificate loaded.*sha256=$FP_ONE" "$T/c.log" || rt_die "start log lacks the certificate's fingerprint"
URL="https://localhost:$port"

# emit_run JOB: one finished run of JOB, produced through the dev broker.
emit_run() {
    python3 - "$1" >"$T/ev.txt" <<'PY'
import datetime, json, sys, uuid
rid, now = str(uuid.uuid4()), datetime.datetime.now(datetime.timezone.utc)
def ev(seq, typ, data):
    ts = (now + datetime.timedelta(seconds=seq)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"v": 1, "event_id": str(uuid.uuid4()), "run_id": rid, "seq": seq, "ts": ts,
            "type": typ, "job": sys.argv[1], "kind": "pipeline",
            "producer": {"host": "test", "pid": 1, "lib": "test"}, "data": data}
for e in (ev(1, "run.started", {}), ev(2, "run.finished", {"status": "completed"})):
    print(rid + "\t" + json.dumps(e))
PY
    ct_produce "$T/ev.txt"
}
runs() { RUNTRACK_API_KEY=$API_KEY "$RT" runs --api "$URL" "$@" 2>>"$T/cli.err"; }

emit_run tls_before.py
rt_wait_for "runs --cacert '$T/ca.pem' --json | grep -q tls_before.py" 60 ||
    rt_die "runtrack runs --cacert never listed the run: $(tail -3 "$T/cli.err")"
RUNTRACK_API_CA="$T/ca.pem" runs --job tls_before.py >"$T/table" || rt_die "runs with RUNTRACK_API_CA failed"
grep -q "tls_before.py" "$T/table" || rt_die "table: $(cat "$T/table")"
echo "runs over https with the CA: ok"

# Without the CA: the certificate cannot be verified -> 76, a message naming the way out.
rc=0
RUNTRACK_API_KEY=$API_KEY "$RT" runs --api "$URL" >/dev/null 2>"$T/noca.err" || rc=$?
[ "$rc" = 76 ] || rt_die "runs without the CA: exit $rc, expected 76: $(cat "$T/noca.err")"
grep -q "cannot verify the API's TLS certificate.*--cacert" "$T/noca.err" || rt_die "message: $(cat "$T/noca.err")"
echo "without the CA: $(cat "$T/noca.err")"
cat "$T/noca.err" >>"$T/cli.err"

curl -fsS --cacert "$T/ca.pem" "$URL/api/runs?job=tls_before.py" | grep -q tls_before.py ||
    rt_die "curl --cacert failed"
rc=0
curl -sS "$URL/healthz" >/dev/null 2>&1 || rc=$?
[ "$rc" = 60 ] || rt_die "curl without the CA: exit $rc, expected 60 (certificate not verified)"

# The container's HEALTHCHECK speaks HTTPS when the consumer does.
RUNTRACK_HTTP_PORT=$port RUNTRACK_HTTP_TLS_CERT_FILE="$T/live/cert.pem" \
    "$RUNTRACK_SOURCE_DIR/deploy/healthcheck.sh" || rt_die "deploy/healthcheck.sh failed over HTTPS"

# Plain HTTP to the TLS port: no answer (the TLS library drops it), the CLI says so and hints.
rc=0
curl -sS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 || rc=$?
[ "$rc" = 52 ] || rt_die "plain http to the TLS port: curl exit $rc, expected 52 (empty reply)"
rc=0
"$RT" runs --api "http://127.0.0.1:$port" >/dev/null 2>"$T/plain.err" || rc=$?
[ "$rc" = 69 ] && grep -q "https://" "$T/plain.err" || rt_die "plain http: exit $rc: $(cat "$T/plain.err")"
echo "plain http to the TLS port: $(cat "$T/plain.err")"
curl -fsS --cacert "$T/ca.pem" "$URL/healthz" >/dev/null || rt_die "server hurt by a plain-http client"

# ---- 3. SIGHUP with new files: new connections get the new certificate; ingest goes on.
cp "$T/two.pem" "$T/live/cert.pem"
cp "$T/two.key" "$T/live/key.pem"
kill -HUP "$pid"
rt_wait_for "grep -q 'HTTPS certificate reloaded.*sha256=$FP_TWO' '$T/c.log'" 20 ||
    rt_die "no reload logged: $(tail -3 "$T/c.log")"
served() { openssl s_client -connect "127.0.0.1:$port" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//'; }
got=$(served)
[ "$got" = "$FP_TWO" ] || rt_die "after SIGHUP the server shows $got, expected the new $FP_TWO"
kill -0 "$pid" || rt_die "the consumer died on SIGHUP"
emit_run tls_after.py
rt_wait_for "runs --cacert '$T/ca.pem' --json --job tls_after.py | grep -q tls_after.py" 60 ||
    rt_die "the run produced after SIGHUP was not ingested/served: $(tail -3 "$T/cli.err")"
echo "after SIGHUP: new certificate $got served, ingest goes on"

# A reload with a broken key: refused, logged, counted; the previous certificate stays.
echo "not a key" >"$T/live/key.pem"
kill -HUP "$pid"
rt_wait_for "grep -q 'HTTPS certificate not reloaded' '$T/c.log'" 20 || rt_die "broken reload not logged"
[ "$(served)" = "$FP_TWO" ] || rt_die "a broken reload changed the served certificate"
curl -fsS --cacert "$T/ca.pem" "$URL/metrics" >"$T/metrics" || rt_die "/metrics failed"
grep -qx "runtrack_http_tls_reloads_total 1" "$T/metrics" || rt_die "reloads counter: $(grep tls "$T/metrics")"
grep -qx "runtrack_http_tls_reload_failures_total 1" "$T/metrics" || rt_die "failures counter"
echo "broken reload kept the certificate: $(grep 'not reloaded' "$T/c.log" | sed 's/.*error=//')"

# ---- 4. the key never goes over plain http to another host (refused before any connection)
rc=0
RUNTRACK_API_KEY=$API_KEY "$RT" runs --api "http://192.0.2.1:8080" >/dev/null 2>"$T/http.err" || rc=$?
[ "$rc" = 78 ] && grep -q "refusing to send the API key" "$T/http.err" || rt_die "key over http: exit $rc: $(cat "$T/http.err")"
cat "$T/http.err" >>"$T/cli.err"
rc=0
RUNTRACK_API_KEY=$API_KEY "$RT" runs --api "$URL" --cacert "$T/nonexistent.pem" >/dev/null 2>>"$T/cli.err" || rc=$?
[ "$rc" = 78 ] || rt_die "unreadable --cacert: exit $rc, expected 78"

kill -TERM "$pid"
wait "$pid" || rt_die "consumer exited with an error: $(tail -5 "$T/c.log")"
pid=
no_secret "$T/c.log" "consumer log"
no_secret "$T/metrics" "/metrics"
no_secret "$T/cli.err" "CLI stderr"
echo "tls: ok"
