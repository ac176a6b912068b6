# Producer benchmarks (make bench builds them; not in ctest):
#   bench_producer [CALLS]  calls/s of libruntrack next to raw rd_kafka_producev (RUNTRACK_BROKERS)
#   bench_queue EVENTS      RSS of a producer holding EVENTS log lines while the broker is down
#   bench_fresh RATE S RUNS OUT   progress-to-PostgreSQL latency at a steady rate
add_executable(bench_producer EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/bench_producer.c)
target_link_libraries(bench_producer PRIVATE runtrack_static PkgConfig::RDKAFKA Threads::Threads)
add_executable(bench_queue EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/bench_queue.c)
target_link_libraries(bench_queue PRIVATE runtrack_static)
add_executable(bench_fresh EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/bench_fresh.c)
target_link_libraries(bench_fresh PRIVATE runtrack_static rt_common PkgConfig::PQ Threads::Threads)
