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
  add_test(NAME ${name}
    COMMAND ${PROJECT_SOURCE_DIR}/tests/lib/with_services.sh ${name} --
            ${PROJECT_SOURCE_DIR}/tests/consumer/${script})
  set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED services LABELS "${labels}"
                       TIMEOUT ${timeout})
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

# pg_out against the real PostgreSQL on both write paths: the offsets fence refuses a zombie's
# batch, a run stored under another job, derive only where a batch can change the derived rows.
add_executable(test_consumer_pg test_consumer_pg.c)
target_link_libraries(test_consumer_pg PRIVATE rt_consumer)
target_include_directories(test_consumer_pg PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
add_test(NAME consumer.pg_fence
  COMMAND ${PROJECT_SOURCE_DIR}/tests/lib/with_services.sh consumer.pg_fence --
          $<TARGET_FILE:test_consumer_pg>)
set_tests_properties(consumer.pg_fence PROPERTIES FIXTURES_REQUIRED services
                     LABELS integration TIMEOUT 60)
# /readyz follows the brokers and the assignment (private broker); stale runs closed by the
# maintenance thread with a short interval.
rt_consumer_itest(consumer.readyz test_consumer_readyz.sh 120 integration)

# The tree-less decoder against the jansson decoder it replaced (kept in tests/decode_ref.c as
# the reference): examples + deterministic mutations, same verdicts and fields.
add_executable(test_decode_diff test_decode_diff.c decode_ref.c)
target_link_libraries(test_decode_diff PRIVATE rt_consumer)
target_include_directories(test_decode_diff PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(test_decode_diff PRIVATE SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_test(NAME unit.consumer.decode_diff COMMAND test_decode_diff ${PROJECT_SOURCE_DIR} 20000)
set_tests_properties(unit.consumer.decode_diff PROPERTIES LABELS unit TIMEOUT 120)
