#!/usr/bin/env bash
# The Python package (clients/python) across fork (tests/producer/test_fork.py), then its events read back with kcat
# and checked. Run under tests/lib/with_services.sh.
set -uo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/producer/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export RUNTRACK_PY_FLUSH_TIMEOUT_MS=20000
LIB=$RUNTRACK_BUILD_DIR/producer/libruntrack.so.0
pyenv=()
if ldd "$LIB" 2>/dev/null | grep libasan >/dev/null; then  # as in test_examples.sh
    pyenv=(LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
        ASAN_OPTIONS=detect_leaks=0)
fi
# The whole scenario is bounded too: a hang anywhere fails here, not at ctest's timeout.
env "${pyenv[@]}" RUNTRACK_LIB="$LIB" timeout 90 /usr/bin/python3 \
    "$RUNTRACK_SOURCE_DIR/tests/producer/test_fork.py" "$tmp/expect.json" ||
    { echo "FAIL: test_fork.py exited $?"; exit 1; }
read_topic "$tmp/events"
/usr/bin/python3 "$CHECK" "$SCHEMA" "$tmp/events" "$tmp/expect.json" || exit 1
echo "python fork passed"
