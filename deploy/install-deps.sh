#!/usr/bin/env bash
# deploy/install-deps.sh — install runtrack's build/test dependencies (Debian bookworm packages).
# Idempotent and quick when everything is present: it asks dpkg first and only runs apt-get
# (update + install --no-install-recommends) for what is missing. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config
    librdkafka-dev libpq-dev libjansson-dev libconfig-dev libmicrohttpd-dev
    libcurl4-openssl-dev libgnutls28-dev libssl-dev
    postgresql postgresql-client kcat
    python3 python3-jsonschema python3-prometheus-client
    python3-pytest python3-venv python3-setuptools python3-wheel python3-pip
    clang clang-format libclang-rt-14-dev
    procps util-linux
    wrk gnuplot-nox bc curl time openssl
    chromium nodejs
    docker-compose python3-yaml
)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

# npm comes with nodesource's nodejs but is a separate Debian package (browser tests: npm ci).
if ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages present"
    exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo)
else
    echo "install-deps: not root and no passwordless sudo; please run as root:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
