#!/bin/bash
# deploy/healthcheck.sh [PATH] — the container's HEALTHCHECK: GET http://127.0.0.1:$PORT/PATH
# (default /healthz) with bash's /dev/tcp, so the runtime image needs no curl or wget.
# PORT = RUNTRACK_HTTP_PORT (default 8080). Exit 0 on an HTTP 200 within 5 s, else 1.
set -u
path=${1:-/healthz}
port=${RUNTRACK_HTTP_PORT:-8080}
{ exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || { echo "healthcheck: port $port closed"; exit 1; }
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
IFS= read -r -t 5 status <&3 || { echo "healthcheck: no answer on port $port"; exit 1; }
exec 3<&-
case $status in
"HTTP/1."[01]" 200"*) exit 0 ;;
*) echo "healthcheck: $path answered: ${status%$'\r'}"; exit 1 ;;
esac
