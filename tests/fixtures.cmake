# Shared ctest fixture `services`: one PostgreSQL + one dev broker for the whole suite, in
# ${CMAKE_BINARY_DIR}/services. Integration tests are declared with rt_service_test (below): they
# require the fixture and run their command through tests/lib/with_services.sh NAME -- ..., which
# gives each test its own database and topic so tests can run in parallel (ctest -j2) against the
# shared servers.
set(RUNTRACK_SERVICES_DIR ${CMAKE_BINARY_DIR}/services)

add_test(NAME fixture.services.start
  COMMAND ${CMAKE_COMMAND} -E env RUNTRACK_DEVBROKER=$<TARGET_FILE:runtrack-devbroker>
          RUNTRACK_BUILD_DIR=${CMAKE_BINARY_DIR}
          ${PROJECT_SOURCE_DIR}/deploy/services.sh start ${RUNTRACK_SERVICES_DIR} --topic runtrack.events)
set_tests_properties(fixture.services.start PROPERTIES
  FIXTURES_SETUP services LABELS fixture TIMEOUT 120)

add_test(NAME fixture.services.stop
  COMMAND ${PROJECT_SOURCE_DIR}/deploy/services.sh stop ${RUNTRACK_SERVICES_DIR})
set_tests_properties(fixture.services.stop PROPERTIES
  FIXTURES_CLEANUP services LABELS fixture TIMEOUT 120)

# rt_service_test(NAME [AS DB] TIMEOUT S LABELS L... [FIXTURES F...] COMMAND CMD [ARGS...]): a
# test on the shared services. CMD runs through with_services.sh, which gives it a fresh
# database and topic named after DB (default: the test's name); the test requires `services`
# and the FIXTURES given.
function(rt_service_test name)
  cmake_parse_arguments(PARSE_ARGV 1 _st "" "AS;TIMEOUT" "LABELS;FIXTURES;COMMAND")
  if(NOT _st_AS)
    set(_st_AS ${name})
  endif()
  add_test(NAME ${name}
           COMMAND ${PROJECT_SOURCE_DIR}/tests/lib/with_services.sh ${_st_AS} -- ${_st_COMMAND})
  set(_fixtures services ${_st_FIXTURES})
  set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${_fixtures}" LABELS "${_st_LABELS}"
                       TIMEOUT ${_st_TIMEOUT})
endfunction()

# At the end of this directory's configuration (after every tests/*.cmake ran), tell each test
# that requires the fixture where the services and the build are, so with_services.sh does not
# have to guess from its working directory.
function(_rt_services_env)
  get_property(_tests DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} PROPERTY TESTS)
  foreach(_t IN LISTS _tests)
    # The CLI spools what it cannot deliver (docs/producer.md): each test gets a spool of its
    # own, never the user's ~/.local/state/runtrack or another test's.
    set_property(TEST ${_t} APPEND PROPERTY ENVIRONMENT
      RUNTRACK_SPOOL_DIR=${CMAKE_BINARY_DIR}/test-spool/${_t})
    get_test_property(${_t} FIXTURES_REQUIRED _req)
    if(_req AND "services" IN_LIST _req)
      set_property(TEST ${_t} APPEND PROPERTY ENVIRONMENT
        RUNTRACK_SERVICES_DIR=${RUNTRACK_SERVICES_DIR}
        RUNTRACK_BUILD_DIR=${CMAKE_BINARY_DIR}
        RUNTRACK_DEVBROKER=$<TARGET_FILE:runtrack-devbroker>)
    endif()
  endforeach()
endfunction()
cmake_language(DEFER CALL _rt_services_env)
