# Producer benchmark: make bench_producer; RUNTRACK_BROKERS=... ./bench/bench_producer [CALLS]
add_executable(bench_producer EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/bench_producer.c)
target_link_libraries(bench_producer PRIVATE runtrack_static PkgConfig::RDKAFKA Threads::Threads)
