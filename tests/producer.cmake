# libruntrack and the runtrack CLI: unit tests (no broker), integration tests against the shared
# dev broker (events read back by kcat and validated against schemas/events.schema.json), and
# fault tests that start a private dev broker to take it down.
set(_pdir ${CMAKE_CURRENT_LIST_DIR}/producer)

# A libruntrack test program: tests/NAME.c, with tests/lib/producer_test.h and the library's
# internal headers (for the hooks tests use, such as rt_test_inject_fatal).
function(rt_producer_test_exe name)
  add_executable(${name} ${PROJECT_SOURCE_DIR}/tests/${name}.c)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests
                             ${PROJECT_SOURCE_DIR}/tests/lib ${PROJECT_SOURCE_DIR}/producer/src)
  target_link_libraries(${name} PRIVATE runtrack_static)
endfunction()

rt_producer_test_exe(test_producer_unit)
add_test(NAME unit.producer COMMAND test_producer_unit)
set_tests_properties(unit.producer PROPERTIES LABELS unit TIMEOUT 60)

rt_producer_test_exe(test_producer_spool)
add_test(NAME unit.producer_spool COMMAND test_producer_spool)
set_tests_properties(unit.producer_spool PROPERTIES LABELS unit TIMEOUT 60)

add_test(NAME unit.producer_cli_usage
         COMMAND ${_pdir}/test_cli_usage.sh ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(unit.producer_cli_usage PROPERTIES LABELS unit TIMEOUT 60)

rt_service_test(integration.producer_cli AS producer_cli LABELS integration TIMEOUT 120
                COMMAND ${_pdir}/test_cli_events.sh)

# The spool: brokers down (a private dev broker), a shell scraper, brokers up, one more call;
# read back through runtrack-consumer. The 100-call scraper takes over a minute: label fault.
rt_service_test(integration.producer_spool AS producer_spool LABELS integration TIMEOUT 180
                COMMAND ${_pdir}/test_cli_spool.sh scraper 10)
rt_service_test(integration.producer_spool_kill9 AS producer_spool_kill9 LABELS integration
                TIMEOUT 120 COMMAND ${_pdir}/test_cli_spool.sh kill9)
rt_service_test(fault.producer_spool AS producer_spool_full LABELS fault TIMEOUT 400
                COMMAND ${_pdir}/test_cli_spool.sh scraper 100)

rt_producer_test_exe(test_producer_threads)
rt_service_test(integration.producer_threads AS producer_threads LABELS integration TIMEOUT 180
                COMMAND ${_pdir}/run_and_check.sh --log-sample 25
                        $<TARGET_FILE:test_producer_threads>)

rt_producer_test_exe(test_producer_outage)
# Takes its private broker down, so it must not share the suite's broker.
add_test(NAME fault.producer_outage
         COMMAND ${CMAKE_COMMAND} -E env RUNTRACK_BUILD_DIR=${CMAKE_BINARY_DIR}
                 RUNTRACK_SOURCE_DIR=${PROJECT_SOURCE_DIR} RUNTRACK_TOPIC=producer_outage
                 RUNTRACK_DEVBROKER=$<TARGET_FILE:runtrack-devbroker>
                 ${_pdir}/run_and_check.sh --private-broker $<TARGET_FILE:test_producer_outage>)
set_tests_properties(fault.producer_outage PROPERTIES LABELS "fault;integration" TIMEOUT 180)

rt_service_test(integration.producer_examples AS producer_examples LABELS integration TIMEOUT 120
                COMMAND ${_pdir}/test_examples.sh)

rt_producer_test_exe(test_producer_size)
rt_service_test(integration.producer_size AS producer_size LABELS integration TIMEOUT 120
                COMMAND ${_pdir}/run_and_check.sh $<TARGET_FILE:test_producer_size>)

# fork(): the child starts its own librdkafka thread. Under ASan a thread created in the child of
# a multithreaded process runs on a stack ASan still holds poisoned from the parent's dead
# threads and aborts in ASan's own check (a sanitizer limitation, google/sanitizers#255, not a
# library fault), so these two run in the plain build only (make test), not in make test-asan.
if(NOT RUNTRACK_SANITIZE)
  rt_producer_test_exe(test_producer_fork)
  rt_service_test(integration.producer_fork AS producer_fork LABELS integration TIMEOUT 120
                  COMMAND ${_pdir}/run_and_check.sh $<TARGET_FILE:test_producer_fork>)
  rt_service_test(integration.producer_fork_python AS producer_fork_python LABELS integration
                  TIMEOUT 120 COMMAND ${_pdir}/test_fork.sh)
endif()
