# runtrack-consumer tests. Unit: decoder (against schemas/examples), aggregation, settings.
# Integration (shared services fixture, fresh database + topic each): tests/consumer/*.sh.
add_executable(test_consumer_unit test_consumer_unit.c)
target_link_libraries(test_consumer_unit PRIVATE rt_consumer)
target_include_directories(test_consumer_unit PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(test_consumer_unit PRIVATE SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_test(NAME unit.consumer COMMAND test_consumer_unit)
set_tests_properties(unit.consumer PROPERTIES LABELS unit WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})

# Integration tests: shell scripts run through tests/lib/with_services.sh (fresh database and
# topic each, shared PostgreSQL + dev broker).
function(rt_consumer_itest name script timeout labels)
  rt_service_test(${name} LABELS ${labels} TIMEOUT ${timeout}
                  COMMAND ${PROJECT_SOURCE_DIR}/tests/consumer/${script})
endfunction()
rt_consumer_itest(consumer.scenario test_consumer_scenario.sh 240 integration)
rt_consumer_itest(consumer.dupshuffle test_consumer_dupshuffle.sh 240 integration)
rt_consumer_itest(consumer.kill9 test_consumer_kill9.sh 600 "integration;fault")
rt_consumer_itest(consumer.deadletter test_consumer_deadletter.sh 240 integration)
rt_consumer_itest(consumer.identity test_consumer_identity.sh 240 integration)
rt_consumer_itest(consumer.replay test_consumer_replay.sh 240 integration)
rt_consumer_itest(consumer.rebalance test_consumer_rebalance.sh 360 integration)
rt_consumer_itest(consumer.pgrestart test_consumer_pgrestart.sh 300 "integration;fault")
add_test(NAME unit.consumer.cli
  COMMAND ${PROJECT_SOURCE_DIR}/tests/consumer/test_consumer_cli.sh $<TARGET_FILE:runtrack-consumer>
          ${PROJECT_SOURCE_DIR})
set_tests_properties(unit.consumer.cli PROPERTIES LABELS unit TIMEOUT 30)
rt_consumer_itest(consumer.producer test_consumer_producer.sh 240 integration)
set_tests_properties(consumer.producer PROPERTIES SKIP_RETURN_CODE 77)
rt_consumer_itest(consumer.brokerdown test_consumer_brokerdown.sh 240 "integration;fault")
rt_consumer_itest(consumer.wrapexit test_consumer_wrapexit.sh 240 integration)
set_tests_properties(consumer.wrapexit PROPERTIES SKIP_RETURN_CODE 77)
# Client-supplied run ids: a repeated start is idempotent, another job's is a dead letter.
rt_consumer_itest(consumer.clientid test_consumer_clientid.sh 120 integration)
set_tests_properties(consumer.clientid PROPERTIES SKIP_RETURN_CODE 77)
# /metrics lag gauges of a consumer that lost its partitions to another member.
rt_consumer_itest(consumer.lagrevoke test_consumer_lagrevoke.sh 120 integration)
# Poison isolation: values PostgreSQL refuses stopped by the decoder, a refusal only PostgreSQL
# knows isolated by bisection (O(log n) transactions); the dead-letter payload cap per day.
rt_consumer_itest(consumer.poison test_consumer_poison.sh 300 integration)
rt_consumer_itest(consumer.deadcap test_consumer_deadcap.sh 240 integration)

# pg_out against the real PostgreSQL on both write paths: the offsets fence refuses a zombie's
# batch, a run stored under another job, derive only where a batch can change the derived rows.
add_executable(test_consumer_pg test_consumer_pg.c)
target_link_libraries(test_consumer_pg PRIVATE rt_consumer)
target_include_directories(test_consumer_pg PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
rt_service_test(consumer.pg_fence LABELS integration TIMEOUT 60
                COMMAND $<TARGET_FILE:test_consumer_pg>)
# /readyz follows the brokers and the assignment (private broker); stale runs closed by the
# maintenance thread with a short interval.
rt_consumer_itest(consumer.readyz test_consumer_readyz.sh 120 integration)
# Producer clocks: runs stamped 1970, two hours ago and 9999 against maintenance (staleness and
# retention by receive time), the reports, the skew flag and clamped durations.
rt_consumer_itest(consumer.clocks test_consumer_clocks.sh 120 integration)
# HTTPS with a certificate made in the test: refused settings, the CLI with and without the CA,
# plain HTTP to the TLS port, SIGHUP reloading the certificate while ingest goes on.
rt_consumer_itest(consumer.tls test_consumer_tls.sh 120 integration)
# Partial counter maps merge per counter (CLI progress/finish, out-of-order re-delivery), live
# and in a replay.
rt_consumer_itest(consumer.counters test_consumer_counters.sh 120 integration)
set_tests_properties(consumer.counters PROPERTIES SKIP_RETURN_CODE 77)

# The tree-less decoder against the jansson decoder it replaced (kept in tests/decode_ref.c as
# the reference): examples + deterministic mutations, same verdicts and fields.
add_executable(test_decode_diff test_decode_diff.c decode_ref.c)
target_link_libraries(test_decode_diff PRIVATE rt_consumer)
target_include_directories(test_decode_diff PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(test_decode_diff PRIVATE SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_test(NAME unit.consumer.decode_diff COMMAND test_decode_diff ${PROJECT_SOURCE_DIR} 20000)
set_tests_properties(unit.consumer.decode_diff PROPERTIES LABELS unit TIMEOUT 120)
# Two finishes of a wrapped run: the one that wins on status keeps the other's end counts.
rt_consumer_itest(consumer.endcounts test_consumer_endcounts.sh 240 integration)
set_tests_properties(consumer.endcounts PROPERTIES SKIP_RETURN_CODE 77)
