# Baseline (a) of make bench: the seeds' one-statement-per-event autocommit writes (not in ctest).
add_executable(bench_seeds EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/bench_seeds.c)
target_link_libraries(bench_seeds PRIVATE rt_common PkgConfig::PQ PkgConfig::JANSSON)
