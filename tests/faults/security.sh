#!/usr/bin/env bash
# Security checks (issue 8 "Security"), one row in the fault table (failed checks count as
# errors):
#  - TLS/SASL settings reach librdkafka: a consumer and the runtrack CLI configured for
#    SASL_PLAINTEXT against the dev broker (which speaks no SASL) fail with a SASL/handshake
#    error instead of working as if the settings had been ignored; a TLS property pointing to a
#    missing CA file is refused by name.
#  - Secrets never appear: a password configured as a Kafka property and in the PostgreSQL DSN
#    is absent from --help, config-sample, the start-up log and every error line (both
#    programs). Also for spellings a pattern would miss, each in its own consumer run whose
#    /readyz body is checked too: a DSN password after a tab or a newline, a percent-encoded
#    key in a URI (pass%77ord=), a DSN libpq refuses, sasl.oauthbearer.config; with the
#    database down /readyz shows a reason code, not libpq's text (host, port).
#  - API keys: the server secret (RUNTRACK_AUTH_SECRET) is logged as ****; a created key and the
#    secret are absent from the log, /metrics, 401 answers, the audit trail and the tables; the
#    least-privilege role creates keys and writes the audit trail over the API. The dashboard
#    login as that role: the session id and the CSRF token are absent from the same places.
#  - Least privilege: deploy/sql/runtrack_role.sql's role (only those grants) runs the consumer
#    on a stream with a dead letter: the tables equal the owner's clean replay; the role cannot
#    create tables, truncate, or delete offsets.
set -uo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
. "$RUNTRACK_SOURCE_DIR/tests/faults/lib.sh"
rt_tmpdir T
CLI=$RUNTRACK_BUILD_DIR/producer/runtrack
SECRET="S3cr3t-$(date +%s%N)-pw"
checks=0
failed=0
ok() { checks=$((checks + 1)); echo "ok   $*"; }
bad() { checks=$((checks + 1)); failed=$((failed + 1)); echo "FAIL $*" >&2; }
no_secret() { # FILE WHAT
    if grep -aqF "$SECRET" "$1"; then bad "$2: the password appears"; grep -aF "$SECRET" "$1" | head -3 >&2; else ok "$2: no password"; fi
}

# --- SASL passes through (consumer) ---
(
    export RUNTRACK_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT RUNTRACK_KAFKA_SASL_MECHANISMS=PLAIN
    export RUNTRACK_KAFKA_SASL_USERNAME=runtrack RUNTRACK_KAFKA_SASL_PASSWORD=$SECRET
    export RUNTRACK_PG_DSN="$RUNTRACK_PG_DSN?password=$SECRET" RUNTRACK_MIGRATE_ON_START=false
    timeout -s INT 8 "$CT_BIN" >"$T/sasl.out" 2>&1
    "$CT_BIN" --help >"$T/help.out" 2>&1
    "$CT_BIN" config-sample >>"$T/help.out" 2>&1
)
grep -av 'msg="setting"' "$T/sasl.out" >"$T/sasl.err"
if grep -aqE 'SASL Handshake|SASL authentication' "$T/sasl.err" && ! grep -q 'partitions assigned' "$T/sasl.out"; then
    ok "consumer: SASL settings reach librdkafka ($(grep -aoE 'Failed to initialize SASL[^"(]*' "$T/sasl.err" | head -1))"
else
    bad "consumer: no SASL error against a broker without SASL"
fi
grep -aq 'sasl.password.*\*\*\*\*' "$T/sasl.out" && ok "consumer: sasl.password logged as ****" || bad "consumer: sasl.password not shown masked"
no_secret "$T/sasl.out" "consumer log (Kafka password + DSN password)"
no_secret "$T/help.out" "consumer --help / config-sample"

# --- hostile spellings of secrets (one consumer run each, /readyz fetched meanwhile) ---
hostile() { # NAME DSN [VAR=VALUE...]
    local name=$1 dsn=$2 port="" pid
    shift 2
    (
        export RUNTRACK_PG_DSN="$dsn" RUNTRACK_MIGRATE_ON_START=false RUNTRACK_HTTP_PORT=0 "$@"
        timeout -s INT 6 "$CT_BIN" >"$T/$name.out" 2>&1 &
        pid=$!
        for _ in $(seq 50); do
            port=$(grep -ao 'msg="HTTP API listening".* port=[0-9]*' "$T/$name.out" | grep -o '[0-9]*$')
            [ -n "$port" ] && break
            sleep 0.1
        done
        if [ -n "$port" ]; then
            sleep 1 # the pipeline's first connection attempt, so /readyz has something to say
            curl -s -H "Host: 127.0.0.1:$port" "http://127.0.0.1:$port/readyz" >"$T/$name.readyz"
        else
            echo "no HTTP API" >"$T/$name.readyz"
        fi
        wait "$pid"
        "$CT_BIN" --help >>"$T/$name.help" 2>&1
        "$CT_BIN" config-sample >>"$T/$name.help" 2>&1
    )
    no_secret "$T/$name.out" "consumer log ($name)"
    no_secret "$T/$name.help" "consumer --help / config-sample ($name)"
    no_secret "$T/$name.readyz" "/readyz body ($name)"
}
PGKV="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=$PGUSER"
hostile dsn_tab "$PGKV"$'\t'"password=$SECRET"
hostile dsn_newline "$PGKV"$'\n'"password=$SECRET"
hostile dsn_uri_pctkey "$RUNTRACK_PG_DSN?pass%77ord=$SECRET"
hostile dsn_unparseable "$PGKV password='$SECRET"
hostile kafka_oauthbearer "$RUNTRACK_PG_DSN" \
    "RUNTRACK_KAFKA_SASL_OAUTHBEARER_CONFIG=principal=runtrack secret=$SECRET"
# The API key server secret from the environment, keys required: masked, in no output.
hostile auth_secret "$RUNTRACK_PG_DSN" RUNTRACK_AUTH=required "RUNTRACK_AUTH_SECRET=$SECRET"
grep -aq 'name=auth_secret value="\*\*\*\*"' "$T/auth_secret.out" &&
    ok "auth_secret logged as ****" || bad "auth_secret not shown masked"
for n in dsn_tab dsn_newline dsn_uri_pctkey; do
    grep -aq 'name=pg_dsn value=".*password=\*\*\*\*' "$T/$n.out" &&
        ok "$n: DSN logged with password=****" || bad "$n: DSN not logged masked"
done
grep -aqF 'name=pg_dsn value="<unparseable DSN, not shown>"' "$T/dsn_unparseable.out" &&
    ok "dsn_unparseable: logged as a placeholder" || bad "dsn_unparseable: no placeholder logged"
grep -aq 'name=kafka.sasl.oauthbearer.config value="\*\*\*\*"' "$T/kafka_oauthbearer.out" &&
    ok "sasl.oauthbearer.config logged as ****" || bad "sasl.oauthbearer.config not shown masked"
# The database down: /readyz names a reason code, and libpq's text (which names the host and
# port) stays in the log.
DOWN_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
hostile db_down "postgresql://$PGUSER@127.0.0.1:$DOWN_PORT/none?connect_timeout=2"
if grep -q '"reason":"database_unreachable"' "$T/db_down.readyz" && ! grep -q "$DOWN_PORT" "$T/db_down.readyz"; then
    ok "/readyz with the database down: a reason code only ($(cat "$T/db_down.readyz"))"
else
    bad "/readyz with the database down: $(cat "$T/db_down.readyz")"
fi

# --- TLS passes through: a missing CA file is refused by name ---
RUNTRACK_KAFKA_SECURITY_PROTOCOL=SSL RUNTRACK_KAFKA_SSL_CA_LOCATION=/nonexistent/ca.pem \
    timeout -s INT 8 "$CT_BIN" >"$T/tls.out" 2>&1
rc=$?
if [ "$rc" != 0 ] && grep -aq 'ssl.ca.location\|ca.pem\|SSL' "$T/tls.out"; then
    ok "consumer: TLS setting reaches librdkafka (exit $rc: $(grep -a 'ssl\|SSL' "$T/tls.out" | tail -1 | cut -c1-140))"
else
    bad "consumer: ssl.ca.location=/nonexistent was not refused (exit $rc)"
fi

# --- SASL passes through (runtrack CLI / libruntrack) ---
(
    export RUNTRACK_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT RUNTRACK_KAFKA_SASL_MECHANISMS=PLAIN
    export RUNTRACK_KAFKA_SASL_USERNAME=runtrack RUNTRACK_KAFKA_SASL_PASSWORD=$SECRET
    timeout 30 "$CLI" start --job sec.py --timeout 3 --no-spool >"$T/cli.out" 2>&1
    echo "exit=$?" >>"$T/cli.out"
    "$CLI" --help >"$T/clihelp.out" 2>&1
    "$CLI" start --help >>"$T/clihelp.out" 2>&1
)
# Control: the same command without the SASL settings works against the same broker.
if grep -q 'exit=0' "$T/cli.out"; then
    bad "runtrack start succeeded through a broker without SASL"
elif ! timeout 30 "$CLI" start --job sec.py --timeout 10 >/dev/null 2>&1; then
    bad "runtrack start fails even without SASL (control)"
else
    ok "runtrack CLI: SASL settings applied, start fails; works without them ($(grep -v '^exit=' "$T/cli.out" | head -1 | cut -c1-140))"
fi
no_secret "$T/cli.out" "runtrack CLI output"
no_secret "$T/clihelp.out" "runtrack --help"

# --- least-privilege role ---
ROLE="rt_lp_$(printf '%s' "$RUNTRACK_TOPIC" | md5sum | cut -c1-10)"
ADMIN="postgresql://$PGUSER@$PGHOST:$PGPORT/postgres"
rt_on_exit "psql -XAtq -d '$RUNTRACK_PG_DSN' -c 'DROP OWNED BY $ROLE' >/dev/null 2>&1; psql -XAtq -d '$ADMIN' -c 'DROP ROLE IF EXISTS $ROLE' >/dev/null 2>&1"
rt_migrate
psql -Xq -v ON_ERROR_STOP=1 -d "$RUNTRACK_PG_DSN" -v role="$ROLE" \
    -f "$RUNTRACK_SOURCE_DIR/deploy/sql/runtrack_role.sql" >"$T/role.out" 2>&1 ||
    bad "deploy/sql/runtrack_role.sql failed: $(tail -2 "$T/role.out")"
LP_DSN="postgresql://$ROLE@$PGHOST:$PGPORT/$PGDATABASE"
ct_new_topic TOPIC lp 4
python3 "$RUNTRACK_SOURCE_DIR/tests/consumer/gen_events.py" fleet --runs 60 --events-per-run 50 --seed 9 >"$T/ev.txt" 2>/dev/null
printf '%s\t%s\n' 019a16a0-5ebb-7312-8643-8b2a38836cff '{"v":1,"not":"an event"}' >>"$T/ev.txt"
RUNTRACK_TOPIC=$TOPIC ct_produce_bulk "$T/ev.txt"
total=$(wc -l <"$T/ev.txt")
RUNTRACK_TOPIC=$TOPIC RUNTRACK_PG_DSN=$LP_DSN RUNTRACK_MIGRATE_ON_START=false RUNTRACK_HTTP_PORT=0 \
    timeout 120 "$CT_BIN" --exit-when-idle 2500 2>"$T/lp.log"
rc=$?
applied=$(ct_offsets_sum)
if [ "$rc" = 0 ] && [ "$applied" = "$total" ]; then
    ok "consumer as $ROLE (runtrack_role.sql grants only): $applied records applied"
else
    bad "consumer as $ROLE: exit $rc, $applied of $total applied: $(grep -a 'level=error\|level=warn' "$T/lp.log" | head -3)"
fi
got=$(ct_checksum)
ct_new_db GT truth
RUNTRACK_TOPIC=$TOPIC RUNTRACK_PG_DSN=$GT CT_LOG="$T/replay.out" ct_consumer replay --to-end >/dev/null
want=$(RUNTRACK_PG_DSN=$GT ct_checksum)
[ "$got" = "$want" ] && ok "least-privilege tables = owner's clean replay" || bad "least-privilege tables differ from the owner's replay"
echo "$got" | grep -q '^dead_letters|1|' && ok "dead letter written by the role" || bad "no dead letter as the role"
for stmt in "CREATE TABLE rt_evil (x int)" "TRUNCATE runs" "DELETE FROM consumer_offsets" "DROP TABLE run_logs"; do
    if psql -XAtq -d "$LP_DSN" -c "$stmt" >/dev/null 2>&1; then bad "role may: $stmt"; else ok "role may not: $stmt"; fi
done

# --- API keys: the least-privilege role serves them; no key or secret in log, /metrics, errors
# or the audit trail ---
no_key() { # FILE WHAT
    if grep -aqF -e "$KEY" -e "${KEY:13}" -e "$SECRET" "$1"; then bad "$2: a key or the secret appears"; else ok "$2: no key, no secret"; fi
}
KEY=$(RUNTRACK_AUTH_SECRET=$SECRET "$CT_BIN" keys create --name sec-admin --scope admin 2>"$T/keys.err")
[ -n "$KEY" ] && ok "keys create printed a key" || bad "keys create: $(cat "$T/keys.err")"
no_key "$T/keys.err" "keys create's message"
(
    export RUNTRACK_TOPIC=$TOPIC RUNTRACK_PG_DSN=$LP_DSN RUNTRACK_MIGRATE_ON_START=false
    export RUNTRACK_HTTP_PORT=0 RUNTRACK_AUTH=required RUNTRACK_AUTH_SECRET=$SECRET RUNTRACK_METRICS_AUTH=true
    timeout -s INT 20 "$CT_BIN" >"$T/keys_api.out" 2>&1 &
    pid=$!
    port=""
    for _ in $(seq 100); do
        port=$(grep -ao 'msg="HTTP API listening".* port=[0-9]*' "$T/keys_api.out" | grep -o '[0-9]*$')
        [ -n "$port" ] && break
        sleep 0.1
    done
    u="http://127.0.0.1:$port"
    c() { curl -s -H "Host: 127.0.0.1:$port" "$@"; }
    c -H "Authorization: Bearer $KEY" "$u/metrics" >"$T/keys_metrics"
    c -H "Authorization: Bearer ${KEY%????}AAAA" "$u/api/runs" >"$T/keys_errors"
    c -H "Authorization: Bearer $KEY" -X POST -H 'Content-Type: application/json' \
        -d '{"name":"made-by-role","scope":"read"}' "$u/api/keys" >"$T/keys_created"
    c -X POST -d '{}' "$u/api/keys" >>"$T/keys_errors"
    # The dashboard login as the role (grants on api_sessions): the session id and the CSRF
    # token are secrets like the key.
    c -D "$T/login_headers" -X POST -H 'Content-Type: application/json' -d "{\"key\":\"$KEY\"}" \
        "$u/api/session" >"$T/login_answer"
    sed -n 's/^Set-Cookie: runtrack_session=\([A-Za-z0-9_-]*\);.*/\1/p' "$T/login_headers" | tr -d '\r' >"$T/sid"
    grep -o '"csrf_token":"[0-9a-f]*"' "$T/login_answer" | cut -d'"' -f4 >"$T/csrf"
    ck() { c -H "Cookie: runtrack_session=$(cat "$T/sid")" "$@"; }
    ck "$u/api/runs" >"$T/session_runs"
    ck -X POST -H "X-CSRF-Token: 0000" -H 'Content-Type: application/json' \
        -d '{"name":"csrf-refused","scope":"read"}' "$u/api/keys" >>"$T/keys_errors"
    ck -X POST -H "X-CSRF-Token: $(cat "$T/csrf")" -H 'Content-Type: application/json' \
        -d '{"name":"made-by-session","scope":"read"}' "$u/api/keys" >"$T/session_created"
    ck -X POST -H "X-CSRF-Token: $(cat "$T/csrf")" "$u/api/session/logout" >"$T/session_logout"
    ck "$u/api/runs" >>"$T/keys_errors"
    c -H "Authorization: Bearer $KEY" "$u/metrics" >>"$T/keys_metrics"
    c -H "Authorization: Bearer $KEY" "$u/api/audit" >"$T/keys_audit"
    c -H "Authorization: Bearer $KEY" "$u/api/keys" >>"$T/keys_audit"
    kill -INT "$pid"
    wait "$pid"
)
grep -q '^# TYPE' "$T/keys_metrics" && ok "/metrics with a read key (metrics_auth)" || bad "/metrics with a key: $(head -c 200 "$T/keys_metrics")"
grep -q '"key":"rtk_' "$T/keys_created" && ok "the least-privilege role creates a key over the API (grants)" ||
    bad "POST /api/keys as the role: $(head -c 300 "$T/keys_created")"
grep -q '"action":"keys.create","target":"key [0-9]*","result":201' "$T/keys_audit" &&
    ok "audit trail written by the role" || bad "no audit row: $(head -c 300 "$T/keys_audit")"
psql -XAtq -d "$RUNTRACK_PG_DSN" -c "SELECT t::text FROM api_keys t UNION ALL SELECT t::text FROM audit_log t UNION ALL SELECT t::text FROM api_sessions t" >"$T/keys_rows"
no_key "$T/keys_api.out" "consumer log (API keys)"
no_key "$T/keys_metrics" "/metrics (API keys)"
no_key "$T/keys_errors" "401 answers"
no_key "$T/keys_audit" "audit trail and key list answers"
no_key "$T/keys_rows" "api_keys, audit_log and api_sessions rows"
SID=$(cat "$T/sid") CSRF=$(cat "$T/csrf")
[ ${#SID} = 43 ] && [ ${#CSRF} = 64 ] && ok "dashboard login as the role: a session cookie and a CSRF token" ||
    bad "dashboard login: $(head -c 300 "$T/login_answer")"
grep -q '"runs"' "$T/session_runs" && grep -q '"key":"rtk_' "$T/session_created" &&
    grep -q '"logged_out":true' "$T/session_logout" && ok "the session reads, creates a key with its CSRF token, logs out" ||
    bad "session use: $(head -c 200 "$T/session_runs") $(head -c 200 "$T/session_created") $(cat "$T/session_logout")"
grep -q '"code":"csrf_failed"' "$T/keys_errors" && ok "a wrong CSRF token is refused (403)" || bad "no csrf_failed answer"
no_session() { # FILE WHAT
    if [ -n "$SID" ] && grep -aqF -e "$SID" -e "$CSRF" "$1"; then bad "$2: a session id or CSRF token appears"; else ok "$2: no session id, no CSRF token"; fi
}
for f in keys_api.out:"consumer log" keys_metrics:/metrics keys_errors:"401/403 answers" \
         keys_audit:"audit trail answer" keys_rows:"api_keys, audit_log and api_sessions rows"; do
    no_session "$T/${f%%:*}" "${f#*:} (sessions)"
done

echo "security: $checks checks, $failed failed"
fl_row "security: SASL/TLS pass-through, secrets, least-privilege role" "$checks" - - - - - - - - \
    "$failed" -
