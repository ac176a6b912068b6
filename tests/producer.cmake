# libruntrack and the runtrack CLI: unit tests (no broker), integration tests against the shared
# dev broker (events read back by kcat and validated against schemas/events.schema.json), and
# fault tests that start a private dev broker to take it down.
set(_pdir ${CMAKE_CURRENT_LIST_DIR}/producer)

add_executable(test_producer_unit ${CMAKE_CURRENT_LIST_DIR}/test_producer_unit.c)
target_include_directories(test_producer_unit PRIVATE ${CMAKE_CURRENT_LIST_DIR}
                           ${PROJECT_SOURCE_DIR}/producer/src)
target_link_libraries(test_producer_unit PRIVATE runtrack_static)
add_test(NAME unit.producer COMMAND test_producer_unit)
set_tests_properties(unit.producer PROPERTIES LABELS unit TIMEOUT 60)

add_test(NAME unit.producer_cli_usage
         COMMAND ${_pdir}/test_cli_usage.sh ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(unit.producer_cli_usage PROPERTIES LABELS unit TIMEOUT 60)

add_test(NAME integration.producer_cli
         COMMAND ${PROJECT_SOURCE_DIR}/tests/lib/with_services.sh producer_cli --
                 ${_pdir}/test_cli_events.sh)
set_tests_properties(integration.producer_cli PROPERTIES LABELS integration
                     FIXTURES_REQUIRED services TIMEOUT 120)

add_executable(test_producer_threads ${CMAKE_CURRENT_LIST_DIR}/test_producer_threads.c)
target_link_libraries(test_producer_threads PRIVATE runtrack_static)
add_test(NAME integration.producer_threads
         COMMAND ${PROJECT_SOURCE_DIR}/tests/lib/with_services.sh producer_threads --
                 ${_pdir}/run_and_check.sh --log-sample 25 $<TARGET_FILE:test_producer_threads>)
set_tests_properties(integration.producer_threads PROPERTIES LABELS integration
                     FIXTURES_REQUIRED services TIMEOUT 180)

add_executable(test_producer_outage ${CMAKE_CURRENT_LIST_DIR}/test_producer_outage.c)
target_include_directories(test_producer_outage PRIVATE ${PROJECT_SOURCE_DIR}/producer/src
                                                ${PROJECT_SOURCE_DIR}/tests/lib)
target_link_libraries(test_producer_outage PRIVATE runtrack_static)
# Takes its private broker down, so it must not share the suite's broker.
add_test(NAME fault.producer_outage
         COMMAND ${CMAKE_COMMAND} -E env RUNTRACK_BUILD_DIR=${CMAKE_BINARY_DIR}
                 RUNTRACK_SOURCE_DIR=${PROJECT_SOURCE_DIR} RUNTRACK_TOPIC=producer_outage
                 RUNTRACK_DEVBROKER=$<TARGET_FILE:runtrack-devbroker>
                 ${_pdir}/run_and_check.sh --private-broker $<TARGET_FILE:test_producer_outage>)
set_tests_properties(fault.producer_outage PROPERTIES LABELS "fault;integration" TIMEOUT 180)

add_test(NAME integration.producer_examples
         COMMAND ${PROJECT_SOURCE_DIR}/tests/lib/with_services.sh producer_examples --
                 ${_pdir}/test_examples.sh)
set_tests_properties(integration.producer_examples PROPERTIES LABELS integration
                     FIXTURES_REQUIRED services TIMEOUT 120)

add_executable(test_producer_size ${CMAKE_CURRENT_LIST_DIR}/test_producer_size.c)
target_link_libraries(test_producer_size PRIVATE runtrack_static)
add_test(NAME integration.producer_size
         COMMAND ${PROJECT_SOURCE_DIR}/tests/lib/with_services.sh producer_size --
                 ${_pdir}/run_and_check.sh $<TARGET_FILE:test_producer_size>)
set_tests_properties(integration.producer_size PROPERTIES LABELS integration
                     FIXTURES_REQUIRED services TIMEOUT 120)

# fork(): the child starts its own librdkafka thread. Under ASan a thread created in the child of
# a multithreaded process runs on a stack ASan still holds poisoned from the parent's dead
# threads and aborts in ASan's own check (a sanitizer limitation, google/sanitizers#255, not a
# library fault), so these two run in the plain build only (make test), not in make test-asan.
if(NOT RUNTRACK_SANITIZE)
  add_executable(test_producer_fork ${CMAKE_CURRENT_LIST_DIR}/test_producer_fork.c)
  target_link_libraries(test_producer_fork PRIVATE runtrack_static)
  add_test(NAME integration.producer_fork
           COMMAND ${PROJECT_SOURCE_DIR}/tests/lib/with_services.sh producer_fork --
                   ${_pdir}/run_and_check.sh $<TARGET_FILE:test_producer_fork>)
  set_tests_properties(integration.producer_fork PROPERTIES LABELS integration
                       FIXTURES_REQUIRED services TIMEOUT 120)

  add_test(NAME integration.producer_fork_python
           COMMAND ${PROJECT_SOURCE_DIR}/tests/lib/with_services.sh producer_fork_python --
                   ${_pdir}/test_fork.sh)
  set_tests_properties(integration.producer_fork_python PROPERTIES LABELS integration
                       FIXTURES_REQUIRED services TIMEOUT 120)
endif()
