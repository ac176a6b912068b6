# ctest bench.smoke (label bench; `make test` excludes the label): the whole make bench in its
# quick mode (BENCH_QUICK=1: smaller sizes, own services, results in a temp dir), so the
# orchestration and every benchmark program stay runnable. A few minutes; figures not asserted.
add_test(NAME bench.smoke
  COMMAND ${CMAKE_COMMAND} -E env BENCH_QUICK=1 RUNTRACK_BUILD_DIR=${CMAKE_BINARY_DIR}
          ${PROJECT_SOURCE_DIR}/bench/run.sh)
set_tests_properties(bench.smoke PROPERTIES LABELS bench TIMEOUT 1200 RUN_SERIAL TRUE)
