# Dev broker and service-script tests (infra). All talk to real servers over TCP.
add_executable(test_devbroker test_devbroker.c)
target_link_libraries(test_devbroker PRIVATE PkgConfig::RDKAFKA)

# librdkafka consumer group + idempotent producer + offset commit/fetch against the shared broker.
rt_service_test(integration.devbroker.group AS devbroker_group LABELS integration TIMEOUT 120
                COMMAND $<TARGET_FILE:test_devbroker>)
# kcat produce + kcat -G balanced consumer round trip.
rt_service_test(integration.devbroker.kcat AS devbroker_kcat LABELS integration TIMEOUT 120
                COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/devbroker/kcat_roundtrip.sh)
# with_services.sh itself: exported env, fresh database per run, own topic.
rt_service_test(integration.services.env AS services_env LABELS integration TIMEOUT 120
                COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/devbroker/services_env.sh)

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
