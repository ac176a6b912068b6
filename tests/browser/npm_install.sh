#!/usr/bin/env bash
# tests/browser/npm_install.sh DIR — npm ci of tests/browser's lockfile into DIR (playwright-core
# only; PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD and --ignore-scripts: the tests use Debian's chromium).
# Does nothing when DIR already holds the same lockfile's install. A lock directory keeps
# concurrent callers from installing over each other.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${1:?usage: npm_install.sh DIR}
mkdir -p "$dir"
if cmp -s "$here/package-lock.json" "$dir/.installed-lock" &&
    [ -f "$dir/node_modules/playwright-core/package.json" ]; then
    exit 0
fi
exec 9>"$dir/.install.lock"
flock 9
if ! cmp -s "$here/package-lock.json" "$dir/.installed-lock" ||
    [ ! -f "$dir/node_modules/playwright-core/package.json" ]; then
    cp "$here/package.json" "$here/package-lock.json" "$dir/"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund \
        --loglevel=error)
    cp "$here/package-lock.json" "$dir/.installed-lock"
fi
