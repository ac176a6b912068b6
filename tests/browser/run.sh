#!/usr/bin/env bash
# tests/browser/run.sh RUNTRACK_CLI RUNTRACK_CONSUMER — the dashboard browser test (ctest
# browser.dashboard, under tests/lib/with_services.sh). Installs playwright-core from the
# committed lockfile into $RUNTRACK_BUILD_DIR/browser (npm ci, only when missing or when the
# lockfile changed; never downloads browsers) and drives Debian's /usr/bin/chromium.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${RUNTRACK_BUILD_DIR:?run under tests/lib/with_services.sh}"
[ -x /usr/bin/chromium ] || { echo "run.sh: /usr/bin/chromium missing: run deploy/install-deps.sh" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null ||
    { echo "run.sh: node/npm missing: run deploy/install-deps.sh" >&2; exit 1; }

"$here/npm_install.sh" "$RUNTRACK_BUILD_DIR/browser"
export RUNTRACK_BROWSER_MODULES=$RUNTRACK_BUILD_DIR/browser
exec node "$here/dashboard.test.mjs" "$@"
