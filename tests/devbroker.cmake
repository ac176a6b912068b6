# Dev broker and service-script tests (infra). All talk to real servers over TCP.
add_executable(test_devbroker test_devbroker.c)
target_link_libraries(test_devbroker PRIVATE PkgConfig::RDKAFKA)

set(_ws ${PROJECT_SOURCE_DIR}/tests/lib/with_services.sh)

# librdkafka consumer group + idempotent producer + offset commit/fetch against the shared broker.
add_test(NAME integration.devbroker.group COMMAND ${_ws} devbroker_group -- $<TARGET_FILE:test_devbroker>)
# kcat produce + kcat -G balanced consumer round trip.
add_test(NAME integration.devbroker.kcat
  COMMAND ${_ws} devbroker_kcat -- ${CMAKE_CURRENT_SOURCE_DIR}/devbroker/kcat_roundtrip.sh)
# with_services.sh itself: exported env, fresh database per run, own topic.
add_test(NAME integration.services.env
  COMMAND ${_ws} services_env -- ${CMAKE_CURRENT_SOURCE_DIR}/devbroker/services_env.sh)
set_tests_properties(integration.devbroker.group integration.devbroker.kcat integration.services.env PROPERTIES
  FIXTURES_REQUIRED services LABELS integration TIMEOUT 120)

# Fault injection on a private broker (needs only the binary, not the shared services).
add_test(NAME fault.devbroker.control COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/devbroker/faults.sh)
set_tests_properties(fault.devbroker.control PROPERTIES
  LABELS "integration;fault" TIMEOUT 120
  ENVIRONMENT "RUNTRACK_DEVBROKER=$<TARGET_FILE:runtrack-devbroker>;RUNTRACK_BUILD_DIR=${CMAKE_BINARY_DIR}")

# deploy/pg.sh start/stop leaves no process and no directory.
add_test(NAME integration.pg.lifecycle COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/devbroker/pg_lifecycle.sh)
set_tests_properties(integration.pg.lifecycle PROPERTIES LABELS integration TIMEOUT 120)

# Command line of runtrack-devbroker (no servers needed).
add_test(NAME unit.devbroker.cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/devbroker/cli.sh)
set_tests_properties(unit.devbroker.cli PROPERTIES LABELS unit TIMEOUT 60
  ENVIRONMENT "RUNTRACK_DEVBROKER=$<TARGET_FILE:runtrack-devbroker>")
