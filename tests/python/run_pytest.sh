#!/usr/bin/env bash
# The Python package (clients/python) under pytest against the suite's dev broker and PostgreSQL:
#   run_pytest.sh RUNTRACK_CONSUMER [PYTEST ARGS...]
# Run under tests/lib/with_services.sh (own database and topic). Debian's python3 (it has pytest:
# python3-pytest); the package is imported from clients/python/src, except by the fresh-venv test,
# which installs it offline into a new virtual environment.
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: $0 RUNTRACK_CONSUMER [PYTEST ARGS...]" >&2; exit 64; }
export RT_CONSUMER=$1
shift
# RUNTRACK_PYTEST_LIB: test the package against another build of libruntrack.
LIB=${RUNTRACK_PYTEST_LIB:-$RUNTRACK_BUILD_DIR/producer/libruntrack.so.0}
export RUNTRACK_LIB=$LIB RUNTRACK_PY_FLUSH_TIMEOUT_MS=20000
if ldd "$LIB" 2>/dev/null | grep libasan >/dev/null; then  # as in tests/producer/test_examples.sh
    export LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
    export ASAN_OPTIONS=detect_leaks=0
fi
"$RT_CONSUMER" migrate >/dev/null || { echo "FAIL: runtrack-consumer migrate" >&2; exit 1; }
# The whole suite is bounded: a hang anywhere fails here, not at ctest's timeout.
cd "$RUNTRACK_SOURCE_DIR/tests/python" &&
    exec timeout 100 /usr/bin/python3 -m pytest -q -p no:cacheprovider "$@"
