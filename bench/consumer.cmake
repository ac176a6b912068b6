# Consumer benchmark (not in ctest): make bench_consumer, or bench/bench_consumer.sh BUILD [EVENTS]
add_custom_target(bench_consumer
  COMMAND ${PROJECT_SOURCE_DIR}/bench/bench_consumer.sh ${CMAKE_BINARY_DIR}
  DEPENDS runtrack-consumer runtrack-devbroker
  USES_TERMINAL)
