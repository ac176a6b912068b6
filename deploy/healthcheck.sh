#!/bin/bash
# deploy/healthcheck.sh [PATH] — the container's HEALTHCHECK: GET http://127.0.0.1:$PORT/PATH
# (default /healthz) with bash's /dev/tcp, so the runtime image needs no curl or wget; over
# HTTPS (RUNTRACK_HTTP_TLS_CERT_FILE set) through `openssl s_client`, which does not verify the
# certificate: this asks whether the process serves, not who it is.
# PORT = RUNTRACK_HTTP_PORT (default 8080). Exit 0 on an HTTP 200 within 5 s, else 1.
set -u
path=${1:-/healthz}
port=${RUNTRACK_HTTP_PORT:-8080}
request() { printf 'GET %s HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path"; }
if [ -n "${RUNTRACK_HTTP_TLS_CERT_FILE:-}" ]; then
    status=$(request |
        timeout 5 openssl s_client -quiet -connect "127.0.0.1:$port" 2>/dev/null | head -n 1)
    [ -n "$status" ] || { echo "healthcheck: no HTTPS answer on port $port"; exit 1; }
else
    { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || { echo "healthcheck: port $port closed"; exit 1; }
    request >&3
    IFS= read -r -t 5 status <&3 || { echo "healthcheck: no answer on port $port"; exit 1; }
    exec 3<&-
fi
case $status in
"HTTP/1."[01]" 200"*) exit 0 ;;
*) echo "healthcheck: $path answered: ${status%$'\r'}"; exit 1 ;;
esac
