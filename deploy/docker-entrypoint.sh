#!/bin/sh
# deploy/docker-entrypoint.sh — what the runtrack-consumer container runs (deploy/Dockerfile):
# apply pending schema migrations, then consume. Configuration comes from the environment only
# (RUNTRACK_PG_DSN, RUNTRACK_BROKERS, RUNTRACK_TOPIC, RUNTRACK_HTTP_ADDR, ... — see
# docs/consumer.md "Settings"); no config file is needed.
#
#   RUNTRACK_MIGRATE_PG_DSN  optional: run the migrations with this (owner) DSN and consume with
#                            RUNTRACK_PG_DSN, a least-privilege role (deploy/sql/runtrack_role.sql)
#   RUNTRACK_CONSUMER        optional: the binary (default: runtrack-consumer on PATH)
#   RUNTRACK_AUTH_SECRET_FILE the server secret keying stored API keys (the image sets
#                            /var/lib/runtrack/auth_secret): made here, 32 random bytes, when
#                            it does not exist yet and RUNTRACK_AUTH_SECRET is not given
#
# Arguments replace the default command `run` (e.g. `replay --from-beginning --to-end`); the
# subcommands migrate, config-sample, config-doc and --help/--version skip the migrate step.
set -eu
BIN=${RUNTRACK_CONSUMER:-runtrack-consumer}
[ $# -gt 0 ] || set -- run
if [ -n "${RUNTRACK_AUTH_SECRET_FILE:-}" ] && [ -z "${RUNTRACK_AUTH_SECRET:-}" ] &&
    [ ! -e "$RUNTRACK_AUTH_SECRET_FILE" ]; then
    # First start: a secret only this volume holds (keys stored in PostgreSQL are useless
    # without it). Never printed. Before any command: every one that reads the settings
    # (migrate, keys, run) checks that keys required have their secret.
    (umask 077 && head -c 32 /dev/urandom | base64 >"$RUNTRACK_AUTH_SECRET_FILE")
    echo "runtrack-entrypoint: made the API key server secret $RUNTRACK_AUTH_SECRET_FILE;" \
        "create the first key with: runtrack-consumer keys create --name admin --scope admin" >&2
fi
case $1 in
migrate | config-sample | config-doc | scopes-doc | --help | -h | --version) exec "$BIN" "$@" ;;
esac
if [ -n "${RUNTRACK_MIGRATE_PG_DSN:-}" ]; then
    RUNTRACK_PG_DSN=$RUNTRACK_MIGRATE_PG_DSN "$BIN" migrate
else
    "$BIN" migrate
fi
# The migrations are applied; `run` need not try again (its role may lack the rights to).
RUNTRACK_MIGRATE_ON_START=${RUNTRACK_MIGRATE_ON_START:-false}
export RUNTRACK_MIGRATE_ON_START
exec "$BIN" "$@"
